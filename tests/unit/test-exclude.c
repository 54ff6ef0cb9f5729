/* .caexclude rule sets: parsing, matching, inheritance into
 * subdirectories, the errors, and loading from a directory. The expected
 * answers are what Debian's casync 2 does with the same files (the same
 * cases run against casync itself in tests/cli/t0105-caexclude.sh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exclude.h"
#include "util.h"
#include "tap.h"

/* ---- walking a path through a tree of .caexclude files ------------------------ */

/* .caexclude contents per directory ("" is the root), NULL-terminated. */
struct cx {
	const char *dir;
	const char *text;
	size_t len;   /* 0: strlen(text) */
};

static const struct cx *cx_find(const struct cx *cx, const char *dir)
{
	for (; cx && cx->dir; cx++)
		if (strcmp(cx->dir, dir) == 0)
			return cx;
	return NULL;
}

/* Is `path` ("a/b/c") left out of an archive of the tree? Excluded when an
 * ancestor directory or the entry itself is; -1 on an error. */
static int walk(const struct cx *cx, const char *path, bool is_dir)
{
	struct sta_exclude *set = NULL;
	char dir[256], buf[256];
	char *name, *next;
	int r = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (name = buf;; name = next) {
		const struct cx *f;
		bool last;

		/* The directory holding name: path up to the '/' before it. */
		snprintf(dir, sizeof(dir), "%.*s", name == buf ? 0 : (int)(name - buf - 1), path);
		f = cx_find(cx, dir);
		if (f) {
			struct sta_exclude *s;

			if (sta_exclude_parse(set, f->text, f->len ? f->len : strlen(f->text),
					      ".caexclude", &s, NULL) < 0) {
				r = -1;
				break;
			}
			sta_exclude_unref(set);
			set = s;
		}
		next = strchr(name, '/');
		if (next)
			*next++ = 0;
		last = !next;
		r = sta_exclude_test(set, name, last ? is_dir : true);
		if (r != 0 || last)
			break;
		{
			struct sta_exclude *s;

			if (sta_exclude_descend(set, name, &s) < 0) {
				r = -1;
				break;
			}
			sta_exclude_unref(set);
			set = s;
		}
	}
	sta_exclude_unref(set);
	return r;
}

struct verdict {
	const char *path;   /* a trailing '/' marks a directory */
	int excluded;
};

static void check_rules(const char *label, const struct cx *cx, const struct verdict *v)
{
	for (; v->path; v++) {
		char path[256];
		size_t l;
		bool dir;

		snprintf(path, sizeof(path), "%s", v->path);
		l = strlen(path);
		dir = l > 0 && path[l - 1] == '/';
		if (dir)
			path[l - 1] = 0;
		tap_ok(walk(cx, path, dir) == v->excluded, "%s: %s %s", label, v->path,
		       v->excluded ? "excluded" : "kept");
	}
}

#define ROOT(text) ((const struct cx[]){ { "", text, 0 }, { NULL, NULL, 0 } })

static void test_patterns(void)
{
	check_rules("unanchored name", ROOT("foo\n"), (const struct verdict[]){
		{ "foo", 1 }, { "foo/", 1 }, { "sub/foo", 1 }, { "sub/deep/foo", 1 },
		{ "bar", 0 }, { "foobar", 0 }, { NULL, 0 } });
	check_rules("leading / anchors", ROOT("/foo\n"), (const struct verdict[]){
		{ "foo", 1 }, { "sub/foo", 0 }, { "sub/deep/foo", 0 }, { NULL, 0 } });
	check_rules("trailing / means directories only, and anchors", ROOT("sub/\n"),
		    (const struct verdict[]){
		{ "sub/", 1 }, { "sub", 0 }, { "x/sub/", 0 }, { "sub/anything", 1 }, { NULL, 0 } });
	check_rules("inner / anchors at the file's directory", ROOT("sub/foo\n"),
		    (const struct verdict[]){
		{ "sub/foo", 1 }, { "sub/foo/", 1 }, { "foo", 0 }, { "sub/deep/foo", 0 },
		{ "x/sub/foo", 0 }, { "sub", 0 }, { NULL, 0 } });
	check_rules("three components", ROOT("a/b/c\n"), (const struct verdict[]){
		{ "a/b/c", 1 }, { "a/b", 0 }, { "a/c", 0 }, { "a/b/d", 0 }, { "a/b/b/c", 0 },
		{ NULL, 0 } });
	check_rules("inner components match directories only", ROOT("a/b\n"),
		    (const struct verdict[]){ { "a", 0 }, { NULL, 0 } });
	check_rules("*/foo", ROOT("*/foo\n"), (const struct verdict[]){
		{ "sub/foo", 1 }, { "x/foo", 1 }, { "foo", 0 }, { "sub/deep/foo", 0 },
		{ ".hid/foo", 0 }, { NULL, 0 } });
	check_rules("** is one component", ROOT("**/foo\n"), (const struct verdict[]){
		{ "sub/foo", 1 }, { "foo", 0 }, { "sub/deep/foo", 0 }, { NULL, 0 } });
	check_rules("sub/**", ROOT("sub/**\n"), (const struct verdict[]){
		{ "sub/a", 1 }, { "sub/deep/", 1 }, { "sub/.hid", 0 }, { "sub/", 0 }, { NULL, 0 } });
	check_rules("* skips dot files", ROOT("*\n"), (const struct verdict[]){
		{ "a", 1 }, { ".hid", 0 }, { ".caexclude", 0 }, { "x.y", 1 }, { NULL, 0 } });
	check_rules(".* matches dot files", ROOT(".*\n"), (const struct verdict[]){
		{ ".caexclude", 1 }, { ".hid", 1 }, { "sub/.hid", 1 }, { "a", 0 }, { NULL, 0 } });
	check_rules("?", ROOT("?ar\n"), (const struct verdict[]){
		{ "bar", 1 }, { "car/", 1 }, { "ar", 0 }, { "baar", 0 }, { ".ar", 0 }, { NULL, 0 } });
	check_rules("[a-c]", ROOT("[a-c]*\n"), (const struct verdict[]){
		{ "bar", 1 }, { "c", 1 }, { "d", 0 }, { "foo", 0 }, { "sub/apple", 1 }, { NULL, 0 } });
	check_rules("[!a]", ROOT("[!a]?\n"), (const struct verdict[]){
		{ "ba", 1 }, { "ab", 0 }, { ".b", 0 }, { NULL, 0 } });
	check_rules("negation wins over a positive match", ROOT("foo\n!sub/foo\n"),
		    (const struct verdict[]){
		{ "foo", 1 }, { "sub/foo", 0 }, { "x/foo", 1 }, { "sub/x/foo", 1 }, { NULL, 0 } });
	check_rules("line order does not matter", ROOT("!sub/foo\nfoo\n"),
		    (const struct verdict[]){ { "foo", 1 }, { "sub/foo", 0 }, { NULL, 0 } });
	check_rules("unanchored negation", ROOT("*\n!foo\n"), (const struct verdict[]){
		{ "foo", 0 }, { "bar", 1 }, { NULL, 0 } });
	check_rules("negation of a directory-only pattern", ROOT("!d/\nd\n"),
		    (const struct verdict[]){
		{ "d/", 0 }, { "d", 1 }, { "x/d/", 1 }, { "d/d/", 1 }, { NULL, 0 } });
	check_rules("a negation cannot reach into an excluded directory", ROOT("s\n!s/k\n"),
		    (const struct verdict[]){ { "s/", 1 }, { "s/k", 1 }, { NULL, 0 } });
	check_rules("comments, blank lines, blanks around", ROOT("#foo\n  \n \t bar \t\n # baz\n"),
		    (const struct verdict[]){
		{ "#foo", 0 }, { "foo", 0 }, { "bar", 1 }, { "baz", 0 }, { NULL, 0 } });
	check_rules("backslash escapes", ROOT("\\#x\nba\\r\n\\*\n"), (const struct verdict[]){
		{ "#x", 1 }, { "bar", 1 }, { "*", 1 }, { "y", 0 }, { NULL, 0 } });
	check_rules("runs of slashes", ROOT("sub//foo\n//top\n"), (const struct verdict[]){
		{ "sub/foo", 1 }, { "top", 1 }, { "sub/top", 0 }, { NULL, 0 } });
	check_rules("CR is part of the pattern", ROOT("foo\r\n"), (const struct verdict[]){
		{ "foo", 0 }, { "foo\r", 1 }, { NULL, 0 } });
	check_rules("NUL ends a line", ((const struct cx[]){ { "", "foo\0bar", 7 }, { NULL, NULL, 0 } }),
		    (const struct verdict[]){ { "foo", 1 }, { "bar", 1 }, { NULL, 0 } });
	check_rules("no newline at the end", ROOT("foo"), (const struct verdict[]){
		{ "foo", 1 }, { NULL, 0 } });
	check_rules("empty file", ROOT(""), (const struct verdict[]){ { "foo", 0 }, { NULL, 0 } });
}

static void test_nesting(void)
{
	static const struct cx three[] = {
		{ "", "*.log\n", 0 },
		{ "s1", "!keep.log\n", 0 },
		{ "s1/s2", "*.txt\n/y.tmp\n", 0 },
		{ NULL, NULL, 0 },
	};
	static const struct cx path_rules[] = {
		{ "", "s/x\ns/t/\n", 0 },
		{ "s", "!x\n!t\n", 0 },
		{ NULL, NULL, 0 },
	};
	static const struct cx deep_anchor[] = {
		{ "", "a/b/c/d\n", 0 },
		{ "a/b", "c/e\n", 0 },
		{ NULL, NULL, 0 },
	};

	check_rules("three levels", three, (const struct verdict[]){
		{ "a.log", 1 }, { "keep.log", 1 }, { "x.txt", 0 }, { "y.tmp", 0 },
		{ "s1/a.log", 1 }, { "s1/keep.log", 0 }, { "s1/x.txt", 0 }, { "s1/y.tmp", 0 },
		{ "s1/s2/a.log", 1 }, { "s1/s2/keep.log", 0 }, { "s1/s2/x.txt", 1 },
		{ "s1/s2/y.tmp", 1 },
		{ "s1/s2/s3/a.log", 1 }, { "s1/s2/s3/keep.log", 0 }, { "s1/s2/s3/x.txt", 1 },
		{ "s1/s2/s3/y.tmp", 0 }, { NULL, 0 } });
	check_rules("a subdirectory negates its parent's path rules", path_rules,
		    (const struct verdict[]){
		{ "s/x", 0 }, { "s/t/", 0 }, { "s/y", 0 }, { NULL, 0 } });
	check_rules("anchored rules from two levels meet", deep_anchor, (const struct verdict[]){
		{ "a/b/c/d", 1 }, { "a/b/c/e", 1 }, { "a/b/c/f", 0 }, { "c/e", 0 }, { NULL, 0 } });
}

/* ---- errors -------------------------------------------------------------------- */

static void test_errors(void)
{
	static const char *const bad[] = {
		"!", "/", "!/", "//", "./foo", "foo/.", "sub/../foo", "..", "a/./b", "ok\n!\n",
	};
	struct sta_exclude *s = (struct sta_exclude *)1;
	stasync_error err;
	char *text;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		stasync_error_clear(&err);
		r = sta_exclude_parse(NULL, bad[i], strlen(bad[i]), "d/.caexclude", &s, &err);
		tap_ok(r == -EINVAL && !s && strstr(err.message, "d/.caexclude: line "),
		       "invalid pattern %zu refused: %s", i, err.message);
	}
	r = sta_exclude_parse(NULL, "a\n\n!\n", 5, "x", &s, &err);
	tap_ok(r == -EINVAL && strstr(err.message, "x: line 3:"), "line number in message: %s",
	       err.message);

	/* casync's line limit: 65535 bytes, comments included. */
	text = malloc(STA_EXCLUDE_LINE_MAX + 8);
	memset(text, 'x', STA_EXCLUDE_LINE_MAX);
	memcpy(text + STA_EXCLUDE_LINE_MAX, "\nfoo\n", 5);
	r = sta_exclude_parse(NULL, text, STA_EXCLUDE_LINE_MAX + 5, "f", &s, &err);
	tap_ok(r == 0 && sta_exclude_count(s) == 2, "a line of 65535 bytes is accepted");
	s = sta_exclude_unref(s);
	text[0] = '#';
	memset(text + 1, 'x', STA_EXCLUDE_LINE_MAX);
	memcpy(text + 1 + STA_EXCLUDE_LINE_MAX, "\n", 1);
	r = sta_exclude_parse(NULL, text, STA_EXCLUDE_LINE_MAX + 2, "f", &s, &err);
	tap_ok(r == -ENOBUFS && !s && strstr(err.message, "f: line 1 is longer"),
	       "a comment line of 65536 bytes is refused: %s", err.message);
	r = sta_exclude_parse(NULL, text, STA_EXCLUDE_LINE_MAX + 1, "f", &s, &err);
	tap_ok(r == -ENOBUFS, "a 65536-byte line at the end of the file is refused");
	free(text);
}

/* ---- sharing and inheritance ----------------------------------------------------- */

static void test_sets(void)
{
	struct sta_exclude *a, *b, *c;

	tap_ok(sta_exclude_test(NULL, "x", false) == 0, "the empty set excludes nothing");
	tap_ok(sta_exclude_descend(NULL, "x", &b) == 0 && !b, "the empty set descends to empty");
	tap_ok(!sta_exclude_unref(NULL) && !sta_exclude_ref(NULL), "ref/unref accept NULL");

	sta_exclude_parse(NULL, "# only a comment\n\n", 18, "f", &a, NULL);
	tap_ok(!a, "a file with no patterns gives no set");

	sta_exclude_parse(NULL, "*.o\n!keep.o\n", 12, "f", &a, NULL);
	sta_exclude_descend(a, "sub", &b);
	tap_ok(a && b == a, "unanchored rules only: a subdirectory shares the set");
	sta_exclude_parse(b, "", 0, "f", &c, NULL);
	tap_ok(c == a, "an empty .caexclude below shares the set too");
	sta_exclude_unref(c);
	sta_exclude_unref(b);
	sta_exclude_parse(a, "/x\n", 3, "f", &c, NULL);
	tap_ok(c && c != a && sta_exclude_count(c) == 3, "own rules are added to inherited ones");
	tap_ok(sta_exclude_count(a) == 2, "the inherited set is not changed");
	sta_exclude_descend(c, "sub", &b);
	tap_ok(b == NULL || sta_exclude_count(b) == 2, "anchored rules stay behind");
	tap_ok(b != c, "a set that had anchored rules is not shared");
	sta_exclude_unref(b);
	sta_exclude_unref(c);
	sta_exclude_unref(a);

	sta_exclude_parse(NULL, "a/b\n", 4, "f", &a, NULL);
	sta_exclude_descend(a, "z", &b);
	tap_ok(!b, "an anchored rule that does not match leaves nothing");
	sta_exclude_descend(a, "a", &b);
	tap_ok(b && sta_exclude_count(b) == 1 && sta_exclude_test(b, "b", false) == 1,
	       "an anchored rule moves on by one component");
	sta_exclude_descend(b, "b", &c);
	tap_ok(!c, "and is gone below its last component");
	sta_exclude_unref(b);
	sta_exclude_unref(a);
}

/* ---- loading from a directory ----------------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[512];
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = sta_write_full(fd, data, len);
	close(fd);
	return r;
}

static void test_load(void)
{
	const char *tmp = tap_tmpdir();
	char path[512];
	struct sta_exclude *inh, *s = NULL;
	stasync_error err;
	char *big;
	int dfd, r;

	snprintf(path, sizeof(path), "%s/d", tmp);
	mkdir(path, 0755);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!tap_ok(dfd >= 0, "test directory"))
		return;

	r = sta_exclude_load(NULL, dfd, "top/d", &s, &err);
	tap_ok(r == -ENOENT && !s && strstr(err.message, "top/d/.caexclude: cannot open"),
	       "a missing file is an error: %s", err.message);

	write_file(path, ".caexclude", "foo\n/bar\n", 9);
	sta_exclude_parse(NULL, "up\n", 3, "f", &inh, NULL);
	r = sta_exclude_load(inh, dfd, "top/d", &s, &err);
	tap_ok(r == 0 && sta_exclude_count(s) == 3 && sta_exclude_test(s, "foo", false) == 1 &&
	       sta_exclude_test(s, "up", false) == 1 && sta_exclude_test(s, "baz", false) == 0,
	       "loaded and merged with the inherited rules");
	s = sta_exclude_unref(s);

	write_file(path, ".caexclude", "!\n", 2);
	r = sta_exclude_load(inh, dfd, NULL, &s, &err);
	tap_ok(r == -EINVAL && !s && strncmp(err.message, ".caexclude: line 1", 18) == 0,
	       "the root's file is named .caexclude: %s", err.message);
	sta_exclude_unref(inh);

	big = malloc(STA_EXCLUDE_FILE_MAX + 1);
	memset(big, '#', STA_EXCLUDE_FILE_MAX + 1);
	for (size_t i = 1000; i < STA_EXCLUDE_FILE_MAX + 1; i += 1000)
		big[i] = '\n';
	memcpy(big + STA_EXCLUDE_FILE_MAX - 4, "\nfoo", 4);
	write_file(path, ".caexclude", big, STA_EXCLUDE_FILE_MAX);
	r = sta_exclude_load(NULL, dfd, "d", &s, &err);
	tap_ok(r == 0 && sta_exclude_test(s, "foo", false) == 1, "a file of exactly 1 MiB is read");
	s = sta_exclude_unref(s);
	write_file(path, ".caexclude", big, STA_EXCLUDE_FILE_MAX + 1);
	r = sta_exclude_load(NULL, dfd, "d", &s, &err);
	tap_ok(r == -EFBIG && !s && strstr(err.message, "d/.caexclude: larger than"),
	       "a larger file is refused: %s", err.message);
	free(big);

	snprintf(path, sizeof(path), "%s/d/.caexclude", tmp);
	unlink(path);
	mkdir(path, 0755);
	r = sta_exclude_load(NULL, dfd, "d", &s, &err);
	tap_ok(r == -EISDIR && !s && strstr(err.message, "d/.caexclude: cannot read"),
	       "a directory named .caexclude is an error: %s", err.message);
	rmdir(path);

	snprintf(path, sizeof(path), "%s/d", tmp);
	write_file(path, "target", "foo\n", 4);
	snprintf(path, sizeof(path), "%s/d/.caexclude", tmp);
	if (symlink("target", path) == 0) {
		r = sta_exclude_load(NULL, dfd, "d", &s, &err);
		tap_ok(r == 0 && sta_exclude_test(s, "foo", false) == 1, "a symlink is followed");
		s = sta_exclude_unref(s);
		unlink(path);
	}
	if (mkfifo(path, 0644) == 0) {
		r = sta_exclude_load(NULL, dfd, "d", &s, &err);
		tap_ok(r == 0 && !s, "a FIFO reads as empty instead of blocking");
		unlink(path);
	}
	close(dfd);
}

int main(void)
{
	test_patterns();
	test_nesting();
	test_errors();
	test_sets();
	test_load();
	return tap_done();
}
