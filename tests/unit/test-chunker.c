/* test-chunker — the buzhash chunker against the cut points Debian's casync
 * chose for the same data (tests/data/chunker-vectors.txt), fed in several
 * ways, and the --chunk-size parser. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/chunker.h>
#include "tap.h"
#include "testdata.h"

enum feed {
	FEED_WHOLE,  /* everything in one call */
	FEED_PIECES, /* random pieces of 0 … 100 KB */
	FEED_BYTES,  /* one byte a call for a prefix, then the rest at once */
};

static const char *const feed_names[] = {
	[FEED_WHOLE] = "one call",
	[FEED_PIECES] = "random pieces",
	[FEED_BYTES] = "1-byte prefix",
};

/* Longer than the default max chunk, so whole chunks pass byte by byte. */
#define BYTES_PREFIX ((size_t)300 * 1024)
#define PIECE_MAX ((size_t)100 * 1000)

struct cuts {
	uint64_t *v;
	size_t n, cap;
};

static void cuts_add(struct cuts *c, uint64_t off)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		if (!c->v) {
			perror("realloc");
			exit(99);
		}
	}
	c->v[c->n++] = off;
}

static size_t piece_size(enum feed how, size_t off, size_t left, uint64_t *rng)
{
	size_t k;

	switch (how) {
	case FEED_PIECES:
		/* Now and then an empty call, which must change nothing. */
		if (testdata_rand(rng) % 16 == 0)
			return 0;
		k = 1 + (size_t)(testdata_rand(rng) % PIECE_MAX);
		return k < left ? k : left;
	case FEED_BYTES:
		return off < BYTES_PREFIX ? 1 : left;
	case FEED_WHOLE:
	default:
		return left;
	}
}

/* Chunk p[0..n) as a stream reader would and collect the chunk ends; the
 * remainder after the last cut is the final chunk. Returns 0, or -EPROTO
 * when scan returns something impossible (0 or more than it was given). */
static int chunk_buffer(const stasync_chunk_sizes *s, const uint8_t *p, size_t n,
			enum feed how, uint64_t seed, struct cuts *out)
{
	stasync_chunker c;
	uint64_t rng = seed;
	size_t off = 0, last = 0;

	out->n = 0;
	if (stasync_chunker_init(&c, s) < 0)
		return -EINVAL;
	while (off < n) {
		size_t len = piece_size(how, off, n - off, &rng);
		size_t pos = 0;

		do {
			size_t r = stasync_chunker_scan(&c, p + off + pos, len - pos);

			if (r == SIZE_MAX)
				break;
			if (r == 0 || r > len - pos) {
				tap_diag("scan of %zu bytes at %zu returned %zu", len - pos, off + pos, r);
				return -EPROTO;
			}
			pos += r;
			last = off + pos;
			cuts_add(out, last);
		} while (pos < len);
		off += len;
	}
	if (last < n)
		cuts_add(out, n);
	return 0;
}

static bool same_cuts(const struct testdata_vector *v, const struct cuts *got, const char *what)
{
	size_t i, n = got->n < v->n_cuts ? got->n : v->n_cuts;

	for (i = 0; i < n; i++)
		if (got->v[i] != v->cuts[i])
			break;
	if (i == n && got->n == v->n_cuts)
		return true;
	tap_diag("%s: %zu chunks, casync %zu", what, got->n, v->n_cuts);
	if (i < n)
		tap_diag("%s: first difference at chunk %zu: ends at %" PRIu64 ", casync %" PRIu64
			 " (previous end %" PRIu64 ")",
			 what, i, got->v[i], v->cuts[i], i ? v->cuts[i - 1] : 0);
	else
		tap_diag("%s: all %zu common ends equal", what, n);
	return false;
}

static void test_vector(const struct testdata_vector *v)
{
	stasync_chunk_sizes s = { 0, 0, 0 };
	struct cuts got = { 0 };
	char name[160];
	uint8_t *data;
	int r;
	enum feed how;

	snprintf(name, sizeof(name), "%s seed %" PRIu64 " size %" PRIu64 " --chunk-size=%s",
		 testdata_kind_name(v->kind), v->seed, v->size, v->setting);

	/* "-" is casync without --chunk-size: complete() supplies defaults. */
	if (strcmp(v->setting, "-") == 0)
		r = stasync_chunk_sizes_complete(&s);
	else
		r = stasync_chunk_sizes_parse(v->setting, &s);
	if (!tap_ok(r == 0 && s.min == v->min && s.avg == v->avg && s.max == v->max,
		    "%s: sizes %zu/%zu/%zu as casync's %" PRIu64 "/%" PRIu64 "/%" PRIu64,
		    name, s.min, s.avg, s.max, v->min, v->avg, v->max)) {
		if (r < 0)
			tap_diag("parse returned %d", r);
		/* Chunk with casync's sizes anyway, to test the chunker alone. */
		s.min = v->min;
		s.avg = v->avg;
		s.max = v->max;
	}

	data = malloc(v->size ? v->size : 1);
	if (!data) {
		perror("malloc");
		exit(99);
	}
	testdata_fill(data, v->size, v->seed, v->kind);

	for (how = FEED_WHOLE; how <= FEED_BYTES; how++) {
		char what[200];

		snprintf(what, sizeof(what), "%s, %s", name, feed_names[how]);
		r = chunk_buffer(&s, data, v->size, how, v->seed ^ v->size, &got);
		tap_ok(r == 0 && same_cuts(v, &got, what), "%s: %zu cuts as casync", what, v->n_cuts);
	}

	free(got.v);
	free(data);
}

/* reset() mid-chunk must give the same cuts as a fresh chunker. */
static void test_reset(void)
{
	stasync_chunk_sizes s = { 1024, 4096, 16384 };
	const size_t n = 1 << 20;
	struct cuts fresh = { 0 };
	stasync_chunker c;
	uint8_t *data = malloc(n);
	size_t off = 0, r, i = 0;
	bool ok = true;

	if (!data)
		exit(99);
	testdata_fill(data, n, 42, TESTDATA_MIXED);
	if (chunk_buffer(&s, data, n, FEED_WHOLE, 0, &fresh) < 0)
		ok = false;

	stasync_chunker_init(&c, &s);
	stasync_chunker_scan(&c, data + n / 2, 5000); /* unrelated bytes */
	stasync_chunker_reset(&c);
	while (ok && off < n) {
		r = stasync_chunker_scan(&c, data + off, n - off);
		if (r == SIZE_MAX || r == 0)
			break;
		off += r;
		ok = i < fresh.n && fresh.v[i++] == off;
	}
	tap_ok(ok, "reset() forgets a partial chunk");
	free(fresh.v);
	free(data);
}

static void sizes_ok(const char *text, size_t min, size_t avg, size_t max)
{
	stasync_chunk_sizes s = { 0, 0, 0 };
	int r = stasync_chunk_sizes_parse(text, &s);

	tap_ok(r == 0 && s.min == min && s.avg == avg && s.max == max,
	       "parse \"%s\" = %zu:%zu:%zu (got %d, %zu:%zu:%zu)", text, min, avg, max, r,
	       s.min, s.avg, s.max);
}

static void sizes_bad(const char *text)
{
	stasync_chunk_sizes s = { 7, 7, 7 };
	int r = stasync_chunk_sizes_parse(text, &s);

	tap_ok(r < 0 && s.min == 7 && s.avg == 7 && s.max == 7,
	       "parse \"%s\" fails and leaves the result alone (got %d)", text, r);
}

static void test_parse(void)
{
	stasync_chunk_sizes s;
	int r;

	/* The values casync writes into the index for the same settings. */
	sizes_ok("auto", 16384, 65536, 262144);
	sizes_ok("64", 16, 64, 256);
	sizes_ok("64B", 16, 64, 256);
	sizes_ok("10000", 2500, 10000, 40000);
	sizes_ok("16K", 4096, 16384, 65536);
	sizes_ok("1M", 262144, 1048576, 4194304);
	sizes_ok("16K:64K:256K", 16384, 65536, 262144);
	sizes_ok("1024:4096:16384", 1024, 4096, 16384);
	sizes_ok("777:3333:12345", 777, 3333, 12345);
	sizes_ok("4096:4096:4096", 4096, 4096, 4096);
	sizes_ok("1:1:1", 1, 1, 1);
	sizes_ok("1:1:128M", 1, 1, 134217728);
	sizes_ok("100M", 26214400, 104857600, 134217728); /* max capped */
	sizes_ok("128M", 33554432, 134217728, 134217728);

	sizes_bad("0");
	sizes_bad("1:2");
	sizes_bad("5:4:8");
	sizes_bad("1:2:200M");
	sizes_bad("abc");
	sizes_bad("");
	sizes_bad("64K:");
	sizes_bad(":64K:");
	sizes_bad("1:2:3:4");
	sizes_bad("0:64:0");
	sizes_bad("16:64:0");
	sizes_bad("1:8:4");
	sizes_bad("200M");
	sizes_bad("1G");
	sizes_bad("1024:2048:1G");
	sizes_bad("-1");
	sizes_bad("16X");
	sizes_bad("16 K");
	sizes_bad("18446744073709551617");
	sizes_bad("17179869184K");

	s = (stasync_chunk_sizes){ 0, 0, 0 };
	r = stasync_chunk_sizes_complete(&s);
	tap_ok(r == 0 && s.min == 16384 && s.avg == 65536 && s.max == 262144,
	       "complete() of nothing gives casync's defaults");
	s = (stasync_chunk_sizes){ 0, 4096, 0 };
	r = stasync_chunk_sizes_complete(&s);
	tap_ok(r == 0 && s.min == 1024 && s.avg == 4096 && s.max == 16384,
	       "complete() from avg alone: avg/4, 4·avg");
	s = (stasync_chunk_sizes){ 0, 0, (size_t)256 * 1024 * 1024 };
	tap_ok(stasync_chunk_sizes_complete(&s) < 0, "complete() rejects max > 128 MiB");
}

int main(void)
{
	const char *path = tap_srcpath("tests/data/chunker-vectors.txt");
	struct testdata_vector *v;
	size_t n, i;
	int r;

	test_parse();
	test_reset();

	r = testdata_vectors_load(path, &v, &n);
	if (!tap_ok(r == 0 && n > 0, "load %s", path))
		return tap_done();
	for (i = 0; i < n; i++)
		test_vector(&v[i]);
	testdata_vectors_free(v, n);
	return tap_done();
}
