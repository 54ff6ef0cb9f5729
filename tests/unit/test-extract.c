/* test-extract — extraction with worker threads writing the files: a
 * tree of many small files in many directories, a file too large to be
 * handed to a worker, an empty file and a symlink, extracted with
 * file_threads 0 (the decoding thread alone) and 3, into new and into
 * existing targets: each result equals the archive (the comparison
 * covers contents, modes and mtimes, directories' included) and the
 * counts of created, replaced and removed entries agree; a failure in a
 * worker (an owner that cannot be mapped) is the error returned, naming
 * a file, and leaves no temporary file behind. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/catar.h>
#include <stasync/extract.h>
#include "mem-stream.h"
#include "tap.h"

static void put(int dir, const char *name, size_t size, unsigned seed)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640 + (seed % 2) * 4);
	char *b = tap_xmalloc(size ? size : 1);

	for (size_t i = 0; i < size; i++)
		b[i] = (char)('a' + (i * 7 + seed) % 26);
	if (fd < 0 || write(fd, b, size) != (ssize_t)size)
		exit(99);
	free(b);
	close(fd);
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1500000000 + (time_t)seed, 0 } };
	utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* 24 directories of 40 files each, nested 3 deep in places */
static void make_tree(const char *root)
{
	char name[64];
	int dir;

	if (mkdir(root, 0755) < 0 || (dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		exit(99);
	for (unsigned d = 0; d < 24; d++) {
		if (d % 4 == 3)
			snprintf(name, sizeof(name), "d%02u/deep", d - 1);
		else
			snprintf(name, sizeof(name), "d%02u", d);
		if (mkdirat(dir, name, 0750 + (d % 2) * 5) < 0)
			exit(99);
		for (unsigned f = 0; f < 40; f++) {
			char p[96];
			snprintf(p, sizeof(p), "%s/f%02u", name, f);
			put(dir, p, (size_t)(f * 997 + d * 13) % 70000, d * 40 + f);
		}
	}
	put(dir, "empty", 0, 1);
	put(dir, "large", 3u * 1024 * 1024 + 17, 2); /* past what a worker takes */
	if (symlinkat("d00/f01", dir, "link") < 0)
		exit(99);
	/* directories' mtimes last: their entries are made */
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1400000000, 0 } };
	for (unsigned d = 0; d < 24; d++) {
		snprintf(name, sizeof(name), d % 4 == 3 ? "d%02u/deep" : "d%02u", d % 4 == 3 ? d - 1 : d);
		utimensat(dir, name, ts, 0);
	}
	utimensat(dir, ".", ts, 0);
	close(dir);
}

static int extract(struct mem_stream *m, const char *target, int threads, uid_t uid_shift,
		   stasync_extract_stats *st, stasync_error *err)
{
	stasync_catar_decoder *d = NULL;
	stasync_extract_options o;
	int fd, r;

	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		exit(99);
	fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		exit(99);
	m->pos = 0;
	if (stasync_catar_decoder_new(mem_stream_read, m, "tree.catar", &d, err) < 0)
		exit(99);
	stasync_extract_options_init(&o);
	o.file_threads = threads;
	o.uid_shift = uid_shift;
	r = stasync_extract(d, fd, target, &o, st, err);
	stasync_catar_decoder_free(d);
	close(fd);
	return r;
}

static int compare(const char *target, struct mem_stream *m)
{
	stasync_encode_options o = { .feature_flags = STASYNC_FEATURES_DEFAULT };
	stasync_error err = { 0, "" };
	int dir = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (dir < 0)
		return -errno;
	m->pos = 0;
	r = stasync_catar_compare(dir, "tree", &o, mem_stream_read, m, &err);
	if (r < 0)
		tap_diag("compare: %s", err.message);
	close(dir);
	return r;
}

/* count_tmp() — temporary files (".#stasync-…") anywhere under path */
static unsigned count_tmp(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	unsigned n = 0;

	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		char sub[4096];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strncmp(de->d_name, ".#stasync-", 10))
			n++;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR)
			n += count_tmp(sub);
	}
	closedir(dir);
	return n;
}

static bool same_stats(const stasync_extract_stats *a, const stasync_extract_stats *b)
{
	return a->created == b->created && a->replaced == b->replaced && a->removed == b->removed;
}

int main(void)
{
	stasync_extract_stats s0, s3;
	stasync_error err = { 0, "" };
	struct mem_stream m = { 0 };
	const char *root = tap_tmp_path("tree");
	char one[4096], par[4096];
	int r;

	make_tree(root);
	mem_stream_encode(root, &m);
	snprintf(one, sizeof(one), "%s", tap_tmp_path("one"));
	snprintf(par, sizeof(par), "%s", tap_tmp_path("par"));

	r = extract(&m, one, 0, 0, &s0, &err);
	if (!tap_ok(r == 0 && compare(one, &m) == 1, "one thread: the tree equals the archive"))
		tap_diag("%d %s", r, err.message);
	r = extract(&m, par, 3, 0, &s3, &err);
	if (!tap_ok(r == 0 && compare(par, &m) == 1, "three workers: the tree equals the archive"))
		tap_diag("%d %s", r, err.message);
	/* 24 directories, 960 + 2 files, a symlink; the target was made here */
	tap_ok(s3.created == 24 + 962 + 1 && s3.replaced == 0 && s3.removed == 0 && same_stats(&s0, &s3),
	       "the same counts: %llu created", (unsigned long long)s3.created);

	/* again over the tree there, with something to remove */
	if (mkdir(tap_tmp_path("par/extra"), 0755) < 0)
		exit(99);
	put(AT_FDCWD, tap_tmp_path("par/extra/x"), 10, 1);
	r = extract(&m, par, 3, 0, &s3, &err);
	if (!tap_ok(r == 0 && compare(par, &m) == 1, "three workers over an existing tree: equal"))
		tap_diag("%d %s", r, err.message);
	tap_ok(s3.created == 0 && s3.replaced == 962 + 1 && s3.removed == 2,
	       "every file replaced, extra/ and its file removed (%llu, %llu, %llu)",
	       (unsigned long long)s3.created, (unsigned long long)s3.replaced,
	       (unsigned long long)s3.removed);

	/* an owner that cannot be mapped: the first file a worker takes fails */
	char bad[4096];
	snprintf(bad, sizeof(bad), "%s", tap_tmp_path("bad"));
	r = extract(&m, bad, 3, (uid_t)0xffffffffu, NULL, &err);
	if (!tap_ok(r == -ERANGE && strstr(err.message, "uid") && strstr(err.message, "/f"),
		    "a worker's failure is the error, naming its file"))
		tap_diag("%d %s", r, err.message);
	tap_ok(count_tmp(bad) == 0, "no temporary file left behind");

	free(m.p);
	return tap_done();
}
