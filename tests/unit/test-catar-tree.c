/* test-catar-tree — random access to catar archives.
 *
 * 1. A tree with every kind of entry (files empty and large, nested and
 *    empty directories, symlinks, a fifo, devices when root, xattrs, names
 *    that need escaping, a directory of 2000 children) is archived by the
 *    library's encoder and by Debian's casync ($CASYNC, skipped when
 *    absent). The tree is walked with list/lookup/entry, reading payloads
 *    through pread, and must give the very transcript the streaming
 *    decoder gives: every path, mode, owner, time, size, target, device,
 *    xattr and content. Lookups of missing names give 0; a lookup in the
 *    big directory reads a handful of items, not the table; listing it
 *    page by page reads the table once; four threads walk one tree.
 * 2. Truncated and corrupted archives (every cut point of a small one,
 *    every byte of a GOODBYE record flipped, items pointing outside, random
 *    damage) give -EBADMSG with a message naming the archive, never a
 *    crash or a success that hides the damage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <stasync/catar.h>
#include <stasync/catar-tree.h>
#include "format.h"
#include "tap.h"
#include "util.h"

#define NAME "test.catar"

/* ---- buffers ---------------------------------------------------------------- */

struct sbuf {
	uint8_t *p;
	size_t n, alloc;
};

static void sbuf_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->alloc) {
		b->alloc = b->alloc * 2 + n + 64;
		b->p = realloc(b->p, b->alloc);
		if (!b->p)
			exit(99);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sbuf_put(b, tmp, (size_t)MIN(k, (int)sizeof(tmp) - 1));
}

static const char *sbuf_str(const struct sbuf *b)
{
	return b->p ? (const char *)b->p : "";
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}
#define FNV_INIT UINT64_C(0xcbf29ce484222325)

/* ---- memory as an archive ------------------------------------------------------ */

struct mem {
	const uint8_t *p;
	size_t n;
	uint64_t calls, bytes;  /* counted without a lock: single-threaded tests */
	bool count;
};

static ssize_t mem_pread(void *ctx, void *p, size_t n, uint64_t off, stasync_error *err)
{
	struct mem *m = ctx;
	size_t k;

	(void)err;
	if (off >= m->n)
		return 0;
	k = MIN(n, m->n - (size_t)off);
	memcpy(p, m->p + off, k);
	if (m->count) {
		m->calls++;
		m->bytes += k;
	}
	return (ssize_t)k;
}

struct rd {
	const uint8_t *p;
	size_t n, pos;
};

static ssize_t mem_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct rd *r = ctx;
	size_t k = MIN(n, r->n - r->pos);

	(void)err;
	memcpy(p, r->p + r->pos, k);
	r->pos += k;
	return (ssize_t)k;
}

static int write_sbuf(void *ctx, const void *p, size_t n, stasync_error *err)
{
	(void)err;
	sbuf_put(ctx, p, n);
	return 0;
}

/* ---- transcripts ------------------------------------------------------------------ */

static void entry_line(struct sbuf *t, const char *path, const stasync_entry *e, uint64_t content)
{
	sbuf_printf(t, "'%s' mode=%" PRIo64 " flags=%" PRIx64 " uid=%" PRIu64 " gid=%" PRIu64
		    " mtime=%" PRIu64 " user=%s group=%s", path, e->mode, e->flags, e->uid, e->gid,
		    e->mtime, e->user ? e->user : "-", e->group ? e->group : "-");
	for (size_t i = 0; i < e->n_xattrs; i++) {
		sbuf_printf(t, " xattr:%s=", e->xattrs[i].name);
		for (size_t j = 0; j < e->xattrs[i].size; j++)
			sbuf_printf(t, "%02x", e->xattrs[i].value[j]);
	}
	if (S_ISREG(e->mode))
		sbuf_printf(t, " size=%" PRIu64 " content=%016" PRIx64, e->size, content);
	if (S_ISLNK(e->mode))
		sbuf_printf(t, " target='%s'", e->symlink);
	if (S_ISBLK(e->mode) || S_ISCHR(e->mode))
		sbuf_printf(t, " dev=%" PRIu64 ":%" PRIu64, e->rdev_major, e->rdev_minor);
	sbuf_printf(t, "\n");
}

/* The streaming decoder's view. */
static int stream_transcript(const uint8_t *p, size_t n, struct sbuf *t)
{
	struct rd rd = { p, n, 0 };
	stasync_catar_decoder *d;
	const stasync_entry *e;
	stasync_error err;
	uint8_t buf[65536];
	int r;

	if (stasync_catar_decoder_new(mem_read, &rd, NAME, &d, &err) < 0)
		exit(99);
	while ((r = stasync_catar_decoder_next(d, &e, &err)) > 0) {
		uint64_t h = FNV_INIT;
		ssize_t k;

		if (r != STASYNC_CATAR_ENTRY)
			continue;
		if (S_ISREG(e->mode))
			while ((k = stasync_catar_decoder_read_payload(d, buf, sizeof(buf), &err)) > 0)
				h = fnv(h, buf, (size_t)k);
		entry_line(t, stasync_catar_decoder_path(d), e, h);
	}
	if (r < 0)
		tap_diag("stream: %s", err.message);
	stasync_catar_decoder_free(d);
	return r;
}

/* The tree's view: a walk with list (in pages), lookup and entry. */
struct walk {
	stasync_catar_tree *t;
	struct mem *m;
	struct sbuf *out;
	size_t page;
	stasync_error *err;
	unsigned steps, max_steps;
	bool skip_contents;     /* damage tests: metadata only */
};

struct kid {
	char name[256];
	stasync_catar_node node;
};

struct page {
	struct kid *kids;
	size_t n, max;
	size_t expect_index;
	bool bad_index;
};

static int collect(void *ctx, const char *name, const stasync_catar_node *child, size_t index)
{
	struct page *pg = ctx;

	if (index != pg->expect_index++)
		pg->bad_index = true;
	snprintf(pg->kids[pg->n].name, sizeof(pg->kids[0].name), "%s", name);
	pg->kids[pg->n].node = *child;
	pg->n++;
	return pg->n == pg->max;
}

static int read_content(struct walk *w, uint64_t off, uint64_t size, uint64_t *h)
{
	uint8_t buf[65536];

	*h = FNV_INIT;
	while (size > 0) {
		size_t k = (size_t)MIN(size, (uint64_t)sizeof(buf));

		if (mem_pread(w->m, buf, k, off, NULL) != (ssize_t)k)
			return -EIO;
		*h = fnv(*h, buf, k);
		off += k;
		size -= k;
	}
	return 0;
}

static int walk_node(struct walk *w, const stasync_catar_node *n, const char *path)
{
	stasync_entry e;
	uint64_t payload = 0, h = FNV_INIT;
	int r;

	if (++w->steps > w->max_steps)
		return 0;
	r = stasync_catar_tree_entry(w->t, n, &e, &payload, w->err);
	if (r < 0)
		return r;
	if (S_ISREG(e.mode) && !w->skip_contents) {
		r = read_content(w, payload, e.size, &h);
		if (r < 0)
			goto out;
	}
	entry_line(w->out, path, &e, h);
	if (S_ISDIR(e.mode)) {
		struct page pg = { .kids = tap_xmalloc(w->page * sizeof(struct kid)), .max = w->page };
		size_t from = 0;

		for (;;) {
			pg.n = 0;
			pg.expect_index = from;
			r = stasync_catar_tree_list(w->t, n, from, collect, &pg, w->err);
			if (r < 0)
				break;
			if ((size_t)r != pg.n || pg.bad_index) {
				tap_diag("list returned %d for %zu children", r, pg.n);
				r = -EPROTO;
				break;
			}
			if (r == 0)
				break;
			for (size_t i = 0; i < pg.n && r >= 0; i++) {
				struct kid *k = &pg.kids[i];
				stasync_catar_node found;
				char *sub;

				r = stasync_catar_tree_lookup(w->t, n, k->name, &found, w->err);
				if (r < 0)
					break;
				if (r != 1 || found.entry_offset != k->node.entry_offset ||
				    found.end_offset != k->node.end_offset) {
					tap_diag("lookup of '%s' in '%s' gave %d", k->name, path, r);
					r = -EPROTO;
					break;
				}
				if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", k->name) < 0)
					exit(99);
				r = walk_node(w, &k->node, sub);
				free(sub);
			}
			if (r < 0)
				break;
			from += pg.n;
		}
		free(pg.kids);
	}
out:
	stasync_entry_clear(&e);
	return r < 0 ? r : 0;
}

/* tree_transcript() — 0 and the transcript, or the first error. With
 * max_steps, at most that many entries and no file contents. */
static int tree_transcript(const uint8_t *p, size_t n, size_t page, struct sbuf *t,
			   stasync_error *err, unsigned max_steps)
{
	struct mem m = { p, n, 0, 0, false };
	stasync_catar_tree *tree;
	stasync_catar_node root;
	struct walk w = { .m = &m, .out = t, .page = page, .err = err,
			  .max_steps = max_steps ? max_steps : UINT32_MAX,
			  .skip_contents = max_steps != 0 };
	int r;

	r = stasync_catar_tree_new(mem_pread, &m, n, NAME, &tree, err);
	if (r < 0)
		return r;
	w.t = tree;
	r = stasync_catar_tree_root(tree, &root, err);
	if (r >= 0)
		r = walk_node(&w, &root, "");
	stasync_catar_tree_free(tree);
	return r;
}

/* ---- the test tree ---------------------------------------------------------------- */

static bool have_xattrs;

static void put_file(const char *path, size_t size, unsigned seed)
{
	uint8_t *p = tap_xmalloc(size ? size : 1);

	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)((i * 2654435761u + seed) >> 7);
	tap_write_file(path, p, size);
	free(p);
}

static void mk(const char *root, const char *rel, char kind)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	switch (kind) {
	case 'd':
		if (mkdir(path, 0755) < 0)
			exit(99);
		break;
	case 'f':
		put_file(path, 100, 1);
		break;
	}
}

static void build_tree(const char *root)
{
	char path[4096];

	mk(root, "a", 'd');
	mk(root, "a/b", 'd');
	mk(root, "a/b/c", 'd');
	mk(root, "a/b/c/deep.txt", 'f');
	mk(root, "empty-dir", 'd');
	snprintf(path, sizeof(path), "%s/empty-file", root);
	put_file(path, 0, 0);
	snprintf(path, sizeof(path), "%s/large", root);
	put_file(path, 3 * 1000 * 1000 + 17, 7);
	snprintf(path, sizeof(path), "%s/a/medium", root);
	put_file(path, 70000, 3);
	mk(root, "sp ace", 'f');
	mk(root, "new\nline", 'f');
	mk(root, "tab\there", 'f');
	mk(root, "\xc3\xa4-umlaut", 'f');
	mk(root, "-dash", 'f');
	mk(root, "back\\slash", 'f');
	snprintf(path, sizeof(path), "%s/link", root);
	if (symlink("a/b/c/deep.txt", path) < 0)
		exit(99);
	snprintf(path, sizeof(path), "%s/dangling", root);
	if (symlink("/nowhere/at all", path) < 0)
		exit(99);
	snprintf(path, sizeof(path), "%s/fifo", root);
	if (mkfifo(path, 0640) < 0)
		exit(99);
	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/null", root);
		mknod(path, S_IFCHR | 0666, makedev(1, 3));
		snprintf(path, sizeof(path), "%s/loop", root);
		mknod(path, S_IFBLK | 0600, makedev(7, 1));
	}
	snprintf(path, sizeof(path), "%s/sp ace", root);
	have_xattrs = setxattr(path, "user.one", "1", 1, 0) == 0 &&
		      setxattr(path, "user.two", "\0\x01zwei", 6, 0) == 0;
	mk(root, "big", 'd');
	for (int i = 0; i < 2000; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "big/n%04d%s", i * 7919 % 2000, i % 3 ? "" : ".x");
		mk(root, rel, i % 50 == 0 ? 'd' : 'f');
	}
	mk(root, "z", 'd');
	mk(root, "z/only", 'f');
}

static int encode_tree(const char *root, struct sbuf *out)
{
	stasync_encode_options o = { 0 };
	stasync_error err;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		exit(99);
	r = stasync_catar_encode(fd, "tree", &o, write_sbuf, out, &err);
	if (r < 0)
		tap_diag("encode: %s", err.message);
	close(fd);
	return r;
}

static const char *casync_path(void)
{
	const char *c = getenv("CASYNC");

	if (c && *c)
		return c;
	return access("/usr/bin/casync", X_OK) == 0 ? "/usr/bin/casync" : NULL;
}

static bool casync_make(const char *archive, const char *dir)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		exit(99);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(casync_path(), "casync", "make", archive, dir, (char *)NULL);
		_exit(127);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	struct sbuf b = { 0 };
	uint8_t tmp[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (fd < 0)
		exit(99);
	while ((k = read(fd, tmp, sizeof(tmp))) > 0)
		sbuf_put(&b, tmp, (size_t)k);
	close(fd);
	*n = b.n;
	return b.p;
}

/* ---- tests ------------------------------------------------------------------------ */

static bool same(const char *what, const struct sbuf *got, const struct sbuf *want)
{
	const char *g = sbuf_str(got), *w = sbuf_str(want);
	size_t i = 0;

	if (tap_ok(strcmp(g, w) == 0, "%s", what))
		return true;
	while (g[i] && g[i] == w[i])
		i++;
	tap_diag("differs at byte %zu: got '%.80s' want '%.80s'", i, g + i, w + i);
	return false;
}

static void check_archive(const char *what, const uint8_t *p, size_t n)
{
	struct sbuf want = { 0 }, got = { 0 }, got1 = { 0 };
	stasync_error err = { 0, "" };
	int r;

	r = stream_transcript(p, n, &want);
	tap_ok(r == 0, "%s: the streaming decoder reads it", what);
	r = tree_transcript(p, n, 7, &got, &err, 0);
	if (!tap_ok(r == 0, "%s: walked with list/lookup/entry", what))
		tap_diag("%s", err.message);
	same("… and the walk gives the streaming decoder's transcript", &got, &want);
	r = tree_transcript(p, n, 1, &got1, &err, 0);
	tap_ok(r == 0 && strcmp(sbuf_str(&got1), sbuf_str(&want)) == 0,
	       "%s: the same listing one child per call", what);
	{
		size_t lines = 0;

		for (const char *c = sbuf_str(&want); *c; c++)
			lines += *c == '\n';
		tap_diag("%s: %zu bytes, %zu entries", what, n, lines);
	}
	free(want.p);
	free(got.p);
	free(got1.p);
}

static int lookup_path(stasync_catar_tree *t, const char *path, stasync_catar_node *ret,
		       stasync_error *err)
{
	char buf[4096], *save = NULL, *c;
	int r;

	snprintf(buf, sizeof(buf), "%s", path);
	r = stasync_catar_tree_root(t, ret, err);
	if (r < 0)
		return r;
	for (c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		r = stasync_catar_tree_lookup(t, ret, c, ret, err);
		if (r <= 0)
			return r;
	}
	return 1;
}

static int count_kids(void *ctx, const char *name, const stasync_catar_node *child, size_t i)
{
	(void)name, (void)child, (void)i;
	(*(size_t *)ctx)++;
	return 0;
}

static int stop_at_third(void *ctx, const char *name, const stasync_catar_node *child, size_t i)
{
	(void)name, (void)child;
	*(size_t *)ctx = i;
	return i >= 2;
}

static void test_lookups(const uint8_t *p, size_t n)
{
	struct mem m = { p, n, 0, 0, false };
	stasync_catar_tree *t;
	stasync_catar_node node, big, file;
	stasync_error err = { 0, "" };
	stasync_entry e;
	uint64_t off = 0;
	size_t count = 0, seen = 0;
	int r;

	if (stasync_catar_tree_new(mem_pread, &m, n, NAME, &t, &err) < 0)
		exit(99);
	tap_ok(lookup_path(t, "a/b/c/deep.txt", &file, &err) == 1, "lookup of a/b/c/deep.txt");
	stasync_entry_init(&e);
	r = stasync_catar_tree_entry(t, &file, &e, &off, &err);
	tap_ok(r == 0 && S_ISREG(e.mode) && e.size == 100 && off + 100 == file.end_offset,
	       "its entry: a 100-byte file whose payload ends the node");
	stasync_entry_clear(&e);
	tap_ok(lookup_path(t, "link", &node, &err) == 1 &&
	       stasync_catar_tree_entry(t, &node, &e, NULL, &err) == 0 && e.symlink &&
	       strcmp(e.symlink, "a/b/c/deep.txt") == 0, "a symlink's target");
	stasync_entry_clear(&e);
	tap_ok(lookup_path(t, "new\nline", &node, &err) == 1, "a name with a newline");
	tap_ok(lookup_path(t, "nope", &node, &err) == 0, "a missing name gives 0");
	tap_ok(lookup_path(t, "a/nope", &node, &err) == 0, "a missing name below gives 0");
	tap_ok(lookup_path(t, "big/n0000.y", &node, &err) == 0, "a near miss in the big dir gives 0");
	tap_ok(stasync_catar_tree_root(t, &node, &err) == 0 &&
	       stasync_catar_tree_lookup(t, &node, "", &node, &err) == 0 &&
	       stasync_catar_tree_lookup(t, &node, ".", &node, &err) == 0 &&
	       stasync_catar_tree_lookup(t, &node, "..", &node, &err) == 0 &&
	       stasync_catar_tree_lookup(t, &node, "a/b", &node, &err) == 0,
	       "'', '.', '..' and 'a/b' are no children");
	r = stasync_catar_tree_lookup(t, &file, "x", &node, &err);
	tap_ok(r == -ENOTDIR, "lookup in a file: -ENOTDIR (%d)", r);
	r = stasync_catar_tree_list(t, &file, 0, count_kids, &count, &err);
	tap_ok(r == -ENOTDIR, "listing a file: -ENOTDIR (%d)", r);

	/* the big directory: a lookup reads O(log n) items */
	tap_ok(lookup_path(t, "big", &big, &err) == 1, "lookup of big");
	m.count = true;
	m.calls = m.bytes = 0;
	r = stasync_catar_tree_lookup(t, &big, "n1234", &node, &err);
	tap_ok(r == 1 && m.calls <= 40 && m.bytes < 4096,
	       "a lookup among 2000 children: %" PRIu64 " reads, %" PRIu64 " bytes", m.calls,
	       m.bytes);
	m.calls = m.bytes = 0;
	count = 0;
	r = stasync_catar_tree_list(t, &big, 0, count_kids, &count, &err);
	tap_ok(r == 2000 && count == 2000, "big lists 2000 children (%d)", r);
	{
		uint64_t first = m.bytes;

		m.calls = m.bytes = 0;
		r = stasync_catar_tree_list(t, &big, 1990, count_kids, &count, &err);
		tap_ok(r == 10 && m.bytes < 10000, "a later page: %d children, %" PRIu64 " bytes read "
		       "(the first listing read %" PRIu64 ")", r, m.bytes, first);
	}
	m.count = false;
	r = stasync_catar_tree_list(t, &big, 2000, count_kids, &count, &err);
	tap_ok(r == 0, "listing from the end gives 0");
	r = stasync_catar_tree_list(t, &big, 5, stop_at_third, &seen, &err);
	tap_ok(r == 1 && seen == 5, "a callback's nonzero stops the listing (%d)", r);
	r = stasync_catar_tree_list(t, &big, 0, stop_at_third, &seen, &err);
	tap_ok(r == 3 && seen == 2, "… counting the child that stopped it (%d)", r);
	node = (stasync_catar_node) { 5, n + 1 };
	r = stasync_catar_tree_entry(t, &node, &e, NULL, &err);
	tap_ok(r == -EINVAL, "a node past the end: -EINVAL (%d)", r);
	stasync_catar_tree_free(t);
}

/* One tree, several threads walking it at once. */
struct shared {
	stasync_catar_tree *t;
	struct mem *m;
	const struct sbuf *want;
	bool ok;
};

static void *shared_walk(void *arg)
{
	struct shared *s = arg;
	struct sbuf got = { 0 };
	stasync_error err;
	stasync_catar_node root;
	struct walk w = { .t = s->t, .m = s->m, .out = &got, .page = 64, .err = &err,
			  .max_steps = UINT32_MAX };

	s->ok = stasync_catar_tree_root(s->t, &root, &err) == 0 && walk_node(&w, &root, "") == 0 &&
		strcmp(sbuf_str(&got), sbuf_str(s->want)) == 0;
	free(got.p);
	return NULL;
}

static void test_threads(const uint8_t *p, size_t n)
{
	struct sbuf want = { 0 };
	struct mem m = { p, n, 0, 0, false };
	struct shared s[4];
	pthread_t th[4];
	stasync_catar_tree *t;
	stasync_error err;
	bool ok = true;

	stream_transcript(p, n, &want);
	if (stasync_catar_tree_new(mem_pread, &m, n, NAME, &t, &err) < 0)
		exit(99);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct shared) { t, &m, &want, false };
		if (pthread_create(&th[i], NULL, shared_walk, &s[i]) != 0)
			exit(99);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok = ok && s[i].ok;
	}
	tap_ok(ok, "four threads walk one tree at once and all see the whole archive");
	stasync_catar_tree_free(t);
	free(want.p);
}

/* A damaged archive: the walk fails with -EBADMSG and a message naming the
 * archive, or (when only contents changed) succeeds. */
static int damaged(const uint8_t *p, size_t n, stasync_error *err, unsigned max_steps)
{
	struct sbuf got = { 0 };
	int r = tree_transcript(p, n, 5, &got, err, max_steps);

	free(got.p);
	if (r < 0 && (err->code != r || strncmp(err->message, NAME ": ", strlen(NAME) + 2) != 0 ||
		      strchr(err->message, '\n')))
		return -EPROTO;
	return r;
}

/* where the root's GOODBYE record starts */
static size_t root_goodbye(const uint8_t *p, size_t n)
{
	return n - (size_t)le64_get(p + n - 16);
}

static void test_damage(const uint8_t *p, size_t n, const uint8_t *big, size_t big_n)
{
	uint8_t *q = tap_xmalloc(MAX(n, big_n));
	stasync_error err = { 0, "" };
	size_t bad = 0, gb = root_goodbye(p, n);
	unsigned seed = 1;
	int r;

	for (size_t cut = 0; cut < n; cut++) {
		memcpy(q, p, cut);
		r = damaged(q, cut, &err, 0);
		if (r != -EBADMSG) {
			if (bad++ < 3)
				tap_diag("cut at %zu: %d %s", cut, r, err.message);
		}
	}
	tap_ok(bad == 0, "every truncation of a %zu-byte archive: -EBADMSG", n);

	bad = 0;
	for (size_t i = gb; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(q, p, n);
			q[i] ^= (uint8_t)(1u << bit);
			r = damaged(q, n, &err, 0);
			if (r != -EBADMSG && bad++ < 3)
				tap_diag("bit %d of byte %zu flipped: %d %s", bit, i, r, err.message);
		}
	}
	tap_ok(bad == 0, "every root GOODBYE byte flipped (3 bits each): -EBADMSG");

	/* an item pointing outside, before the directory, at itself */
	{
		static const uint64_t offs[] = { 0, 1, 24, UINT64_MAX, UINT64_MAX / 2 };

		bad = 0;
		for (size_t k = 0; k < ELEMENTSOF(offs); k++) {
			memcpy(q, p, n);
			le64_put(q + gb + 16, (uint64_t)gb + offs[k]);
			if (damaged(q, n, &err, 0) != -EBADMSG)
				bad++;
			memcpy(q, p, n);
			le64_put(q + gb + 16 + 8, offs[k]);
			if (damaged(q, n, &err, 0) != -EBADMSG)
				bad++;
			memcpy(q, p, n);
			le64_put(q + n - 24, offs[k]);
			if (damaged(q, n, &err, 0) != -EBADMSG)
				bad++;
		}
		tap_ok(bad == 0, "GOODBYE items and tail pointing outside: -EBADMSG");
		tap_diag("e.g. %s", err.message);
	}

	/* random damage anywhere in the big archive: any verdict but a crash;
	 * damage outside payloads is caught */
	bad = 0;
	for (int round = 0; round < 300; round++) {
		size_t at;

		memcpy(q, big, big_n);
		seed = seed * 1103515245u + 12345u;
		at = (seed >> 4) % big_n;
		q[at] ^= (uint8_t)(1 + (seed >> 20) % 255);
		r = damaged(q, big_n, &err, 3000);
		if (r != 0 && r != -EBADMSG && bad++ < 3)
			tap_diag("byte %zu damaged: %d %s", at, r, err.message);
	}
	tap_ok(bad == 0, "300 random damages of the big archive: success or -EBADMSG");
	free(q);
}

int main(void)
{
	const char *root = tap_tmp_path("tree");
	const char *small_root = tap_tmp_path("small");
	struct sbuf ours = { 0 }, small = { 0 };
	char path[4096];

	if (mkdir(root, 0755) < 0 || mkdir(small_root, 0755) < 0)
		exit(99);
	build_tree(root);
	if (!have_xattrs)
		tap_diag("no user xattrs on this file system");
	snprintf(path, sizeof(path), "%s/d", small_root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/d/f", small_root);
	put_file(path, 5, 1);
	snprintf(path, sizeof(path), "%s/e", small_root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/g", small_root);
	put_file(path, 3, 2);
	snprintf(path, sizeof(path), "%s/l", small_root);
	if (symlink("g", path) < 0)
		exit(99);

	if (!tap_ok(encode_tree(root, &ours) == 0, "the library's encoder archives the tree"))
		return tap_done();
	check_archive("our archive", ours.p, ours.n);
	test_lookups(ours.p, ours.n);
	test_threads(ours.p, ours.n);

	if (casync_path()) {
		const char *archive = tap_tmp_path("casync.catar");
		size_t n;
		uint8_t *p;

		if (tap_ok(casync_make(archive, root), "casync makes an archive of the tree")) {
			p = slurp(archive, &n);
			check_archive("casync's archive", p, n);
			free(p);
		}
	} else
		tap_diag("no casync: its archives are not tried");

	if (encode_tree(small_root, &small) < 0)
		exit(99);
	check_archive("a small archive", small.p, small.n);
	test_damage(small.p, small.n, ours.p, ours.n);

	/* a single file as the whole archive */
	{
		const uint8_t *p = small.p;
		struct sbuf want = { 0 }, got = { 0 };
		stasync_error err = { 0, "" };
		struct sbuf one = { 0 };
		struct mem m;
		stasync_catar_tree *t;
		stasync_catar_node node;
		stasync_entry e;

		/* the root's ENTRY, retyped as a 3-byte file */
		sbuf_put(&one, p, CA_FORMAT_ENTRY_SIZE);
		le64_put(one.p + 24, S_IFREG | 0644);
		{
			uint8_t hdr[16];

			le64_put(hdr, 16 + 3);
			le64_put(hdr + 8, CA_FORMAT_PAYLOAD);
			sbuf_put(&one, hdr, 16);
			sbuf_put(&one, "abc", 3);
		}
		m = (struct mem) { one.p, one.n, 0, 0, false };
		if (stream_transcript(one.p, one.n, &want) == 0) {
			tap_ok(tree_transcript(one.p, one.n, 3, &got, &err, 0) == 0 &&
			       strcmp(sbuf_str(&got), sbuf_str(&want)) == 0,
			       "a single-file archive: the root is the file");
			if (stasync_catar_tree_new(mem_pread, &m, one.n, NAME, &t, &err) == 0) {
				stasync_catar_tree_root(t, &node, &err);
				tap_ok(stasync_catar_tree_lookup(t, &node, "x", &node, &err) == -ENOTDIR,
				       "… and no directory");
				node.end_offset--;
				stasync_entry_init(&e);
				tap_ok(stasync_catar_tree_entry(t, &node, &e, NULL, &err) == -EBADMSG,
				       "… which must fill its node: %s", err.message);
				stasync_catar_tree_free(t);
			}
		} else
			tap_diag("crafted single-file archive not accepted by the decoder");
		free(want.p);
		free(got.p);
		free(one.p);
	}
	free(ours.p);
	free(small.p);
	return tap_done();
}
