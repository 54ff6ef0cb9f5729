/* test-compare — telling an output that is already what extract would
 * leave: stasync_catar_compare() on a directory against its own encoding
 * (equal; then one byte of content, one mtime, a truncated or longer
 * stream, a file .caexclude leaves out: all differ), and
 * stasync_blob_matches() on a file against its index (equal; then one
 * byte changed, a byte more, a byte less: all differ). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <stasync/blob.h>
#include <stasync/catar.h>
#include <stasync/index.h>
#include "mem-stream.h"
#include "tap.h"

static int compare(int dir, struct mem_stream *m)
{
	stasync_encode_options o = { .feature_flags = STASYNC_FEATURES_DEFAULT };
	stasync_error err = { 0, "" };
	int r;

	m->pos = 0;
	r = stasync_catar_compare(dir, "tree", &o, mem_stream_read, m, &err);
	if (r < 0)
		tap_diag("compare: %s", err.message);
	return r;
}

static void put(int dir, const char *name, const char *text)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(99);
	close(fd);
}

static void test_tree(void)
{
	stasync_error err = { 0, "" };
	char root[4096];
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct mem_stream m = { .piece = 1000 }; /* in small pieces, as a chunk reader hands them out */
	int dir;

	snprintf(root, sizeof(root), "%s", tap_tmp_path("tree"));
	if (mkdir(root, 0755) < 0 || (dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		exit(99);
	if (mkdirat(dir, "sub", 0755) < 0)
		exit(99);
	put(dir, "a", "hello");
	utimensat(dir, "a", ts, 0);
	put(dir, "sub/b", "world");
	{
		/* larger than one read of the comparison */
		char *big = tap_xmalloc(200000);
		for (size_t i = 0; i < 199999; i++)
			big[i] = (char)('a' + i % 23);
		big[199999] = 0;
		put(dir, "big", big);
		free(big);
	}
	utimensat(dir, ".", ts, 0);
	mem_stream_encode(root, &m);
	tap_ok(compare(dir, &m) == 1, "a tree equals its own encoding");

	m.n--;
	tap_ok(compare(dir, &m) == 0, "a stream one byte short differs");
	m.n++;
	mem_stream_write(&m, "x", 1, &err);
	tap_ok(compare(dir, &m) == 0, "a stream one byte longer differs");
	m.n--;

	put(dir, "a", "hellO");
	utimensat(dir, "a", ts, 0);
	tap_ok(compare(dir, &m) == 0, "one byte of content differs (same mtime)");
	put(dir, "a", "hello");
	tap_ok(compare(dir, &m) == 0, "content put back, one mtime not: differs");
	utimensat(dir, "a", ts, 0);
	tap_ok(compare(dir, &m) == 1, "mtime put back too: equal");
	tap_ok(compare(dir, &m) == 1, "the same directory descriptor compared twice: equal");
	mem_stream_encode(root, &m);
	tap_ok(compare(dir, &m) == 1, "equal again to its new encoding");

	/* the archive's .caexclude names a file the target also holds */
	put(dir, ".caexclude", "ignored\n");
	utimensat(dir, ".", ts, 0);
	mem_stream_encode(root, &m);
	tap_ok(compare(dir, &m) == 1, "with a .caexclude: equal");
	put(dir, "ignored", "x");
	utimensat(dir, ".", ts, 0);
	tap_ok(compare(dir, &m) == 0, "a file .caexclude leaves out differs (extract removes it)");
	free(m.p);
	close(dir);
}

static int blob_matches(const char *index, const char *file)
{
	stasync_index_reader *idx = NULL;
	stasync_error err = { 0, "" };
	int ifd = open(index, O_RDONLY | O_CLOEXEC), fd = open(file, O_RDONLY | O_CLOEXEC), r;

	if (ifd < 0 || fd < 0)
		exit(99);
	r = stasync_index_reader_open(ifd, index, &idx, &err);
	if (r == 0)
		r = stasync_blob_matches(idx, fd, file, &err);
	if (r < 0)
		tap_diag("matches: %s", err.message);
	stasync_index_reader_free(idx);
	close(fd);
	return r;
}

static void test_blob(void)
{
	stasync_blob_make_options o = { .digest = STASYNC_DIGEST_SHA512_256 };
	const char *file = tap_tmp_path("blob"), *index = tap_tmp_path("blob.caibx");
	stasync_error err = { 0, "" };
	stasync_chunk_stats stats;
	stasync_chunk_id id;
	size_t n = 500000;
	uint8_t *data = tap_xmalloc(n + 1);
	uint32_t x = 1;
	int in, out;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (uint8_t)(x >> 16);
	}
	stasync_chunk_sizes_complete(&o.sizes);
	tap_write_file(file, data, n);
	in = open(file, O_RDONLY | O_CLOEXEC);
	out = open(index, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	tap_ok(stasync_blob_make(in, file, out, index, &o, &id, &stats, &err) == 0, "make: %s",
	       err.message);
	close(in);
	close(out);
	tap_ok(blob_matches(index, file) == 1, "a file matches its own index");
	data[123456] ^= 1;
	tap_write_file(file, data, n);
	tap_ok(blob_matches(index, file) == 0, "one bit flipped: no match");
	data[123456] ^= 1;
	data[n] = 0;
	tap_write_file(file, data, n + 1);
	tap_ok(blob_matches(index, file) == 0, "one byte longer: no match");
	tap_write_file(file, data, n - 1);
	tap_ok(blob_matches(index, file) == 0, "one byte shorter: no match");
	free(data);
}

int main(void)
{
	test_tree();
	test_blob();
	return tap_done();
}
