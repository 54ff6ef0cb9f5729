/* test-index — .caibx/.caidx files: the writer's exact bytes against the
 * layout in casync-format.md, writer → reader round trips, casync's own
 * index read and rewritten byte for byte, and every kind of malformed
 * index the reader must refuse with -EBADMSG and a message naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/chunker.h>
#include <stasync/digest.h>
#include <stasync/index.h>
#include "tap.h"
#include "util.h"
#include "testdata.h"

#define INDEX_TYPE UINT64_C(0x96824d9c7b129ff9)
#define TABLE_TYPE UINT64_C(0xe75b9e112f17417d)
#define TAIL_MARKER UINT64_C(0x4b4f050e5549ecd1)
#define BLOB_FLAGS UINT64_C(0xb000000000000000)   /* what casync writes in a .caibx */
#define SHA256_FLAGS UINT64_C(0x9000000000000000) /* the same with --digest=sha256 */
#define HEADER_SIZE 48
#define TABLE_HEADER_SIZE 16
#define ITEM_SIZE 40
#define TAIL_SIZE 40
#define HEADERS_SIZE (HEADER_SIZE + TABLE_HEADER_SIZE)

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n_ret)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(99);
	}
	p = tap_xmalloc((size_t)st.st_size);
	if (read(fd, p, (size_t)st.st_size) != st.st_size) {
		perror(path);
		exit(99);
	}
	close(fd);
	*n_ret = (size_t)st.st_size;
	return p;
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		exit(99);
	}
	return fd;
}

/* The test's chunk ids: digests of the item number, all distinct. */
static void item_id(uint64_t i, stasync_chunk_id *id)
{
	uint8_t b[8];

	le64_put(b, i);
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, b, sizeof(b), id);
}

/* An index built by hand, byte by byte from casync-format.md: the
 * reference the writer's output is compared with, and the material the
 * malformed cases are cut from. */
struct image {
	uint8_t *p;
	size_t n;
};

static struct image image_make(uint64_t flags, uint64_t min, uint64_t avg, uint64_t max,
			       const uint64_t *sizes, size_t n_items)
{
	struct image im;
	uint64_t end = 0;
	uint8_t *q;

	im.n = HEADERS_SIZE + n_items * ITEM_SIZE + TAIL_SIZE;
	im.p = q = tap_xmalloc(im.n);
	le64_put(q, HEADER_SIZE);
	le64_put(q + 8, INDEX_TYPE);
	le64_put(q + 16, flags);
	le64_put(q + 24, min);
	le64_put(q + 32, avg);
	le64_put(q + 40, max);
	le64_put(q + 48, UINT64_MAX);
	le64_put(q + 56, TABLE_TYPE);
	q += HEADERS_SIZE;
	for (size_t i = 0; i < n_items; i++, q += ITEM_SIZE) {
		stasync_chunk_id id;

		end += sizes[i];
		le64_put(q, end);
		item_id(i, &id);
		memcpy(q + 8, id.bytes, STASYNC_DIGEST_SIZE);
	}
	le64_put(q, 0);
	le64_put(q + 8, 0);
	le64_put(q + 16, HEADER_SIZE);
	le64_put(q + 24, TABLE_HEADER_SIZE + n_items * ITEM_SIZE + TAIL_SIZE);
	le64_put(q + 32, TAIL_MARKER);
	return im;
}

/* Where item i (or the tail, i == n_items) starts in an image. */
static size_t item_at(size_t i)
{
	return HEADERS_SIZE + i * ITEM_SIZE;
}

/* ---- writer and reader round trips ---------------------------------------- */

static int write_index(const char *path, const stasync_index_header *h, const uint64_t *sizes,
		       size_t n_items)
{
	stasync_index_writer *w = NULL;
	stasync_error err = { 0, "" };
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		exit(99);
	}
	r = stasync_index_writer_new(fd, path, h, &w, &err);
	for (size_t i = 0; r == 0 && i < n_items; i++) {
		stasync_chunk_id id;

		item_id(i, &id);
		r = stasync_index_writer_add(w, sizes[i], &id, &err);
	}
	if (r == 0)
		r = stasync_index_writer_finish(w, &err);
	if (r < 0)
		tap_diag("writing %s: %d %s", path, r, err.message);
	stasync_index_writer_free(w);
	close(fd);
	return r;
}

/* Read an index through the reader and compare every item with `sizes`. */
static bool read_back(int fd, const char *name, const stasync_index_header *h,
		      const uint64_t *sizes, size_t n_items, stasync_digest_type type)
{
	stasync_index_reader *rd = NULL;
	stasync_error err = { 0, "" };
	const stasync_index_header *got;
	stasync_index_item item;
	uint64_t off = 0;
	size_t i;
	int r;

	r = stasync_index_reader_open(fd, name, &rd, &err);
	if (r < 0) {
		tap_diag("%s: open: %d %s", name, r, err.message);
		return false;
	}
	got = stasync_index_reader_header(rd);
	if (got->feature_flags != h->feature_flags || got->chunk_size_min != h->chunk_size_min ||
	    got->chunk_size_avg != h->chunk_size_avg || got->chunk_size_max != h->chunk_size_max) {
		tap_diag("%s: header 0x%" PRIx64 " %" PRIu64 ":%" PRIu64 ":%" PRIu64, name,
			 got->feature_flags, got->chunk_size_min, got->chunk_size_avg,
			 got->chunk_size_max);
		goto fail;
	}
	if (stasync_index_reader_digest_type(rd) != type) {
		tap_diag("%s: digest type %d, expected %d", name,
			 (int)stasync_index_reader_digest_type(rd), (int)type);
		goto fail;
	}
	for (i = 0;; i++) {
		stasync_chunk_id id;

		memset(&item, 0xaa, sizeof(item));
		r = stasync_index_reader_next(rd, &item, &err);
		if (r <= 0)
			break;
		if (i >= n_items) {
			tap_diag("%s: more items than written", name);
			goto fail;
		}
		item_id(i, &id);
		if (item.offset != off || item.size != sizes[i] ||
		    !stasync_chunk_id_equal(&item.id, &id)) {
			tap_diag("%s: item %zu is %" PRIu64 "+%" PRIu64 ", expected %" PRIu64
				 "+%" PRIu64, name, i, item.offset, item.size, off, sizes[i]);
			goto fail;
		}
		off += sizes[i];
	}
	if (r < 0 || i != n_items) {
		tap_diag("%s: %zu of %zu items, then %d %s", name, i, n_items, r, err.message);
		goto fail;
	}
	/* The end stays the end. */
	r = stasync_index_reader_next(rd, &item, &err);
	if (r != 0) {
		tap_diag("%s: next() after the end returned %d", name, r);
		goto fail;
	}
	stasync_index_reader_free(rd);
	return true;
fail:
	stasync_index_reader_free(rd);
	return false;
}

static void test_round_trip(const char *label, uint64_t flags, uint64_t min, uint64_t avg,
			    uint64_t max, const uint64_t *sizes, size_t n_items)
{
	stasync_index_header h = { flags, min, avg, max };
	stasync_digest_type type = (flags & UINT64_C(0x2000000000000000))
		? STASYNC_DIGEST_SHA512_256 : STASYNC_DIGEST_SHA256;
	struct image want = image_make(flags, min, avg, max, sizes, n_items);
	char name[64];
	const char *path;
	uint8_t *got;
	size_t n;
	int r;

	snprintf(name, sizeof(name), "round-%s.caibx", label);
	path = tap_tmp_path(name);
	r = write_index(path, &h, sizes, n_items);
	tap_ok(r == 0, "%s: writer writes %zu items", label, n_items);

	got = read_file(path, &n);
	tap_ok(n == HEADERS_SIZE + n_items * ITEM_SIZE + TAIL_SIZE,
	       "%s: file is 48 + 16 + 40·%zu + 40 bytes (got %zu)", label, n_items, n);
	if (n == want.n) {
		size_t tail = item_at(n_items);
		size_t i;

		tap_ok(memcmp(got, want.p, HEADER_SIZE) == 0,
		       "%s: INDEX header: size 48, type, flags, min, avg, max", label);
		tap_ok(memcmp(got + HEADER_SIZE, want.p + HEADER_SIZE, TABLE_HEADER_SIZE) == 0,
		       "%s: TABLE header: size UINT64_MAX, type", label);
		for (i = 0; i < n_items; i++)
			if (memcmp(got + item_at(i), want.p + item_at(i), ITEM_SIZE) != 0)
				break;
		tap_ok(i == n_items, "%s: items: cumulative end offsets and ids%s", label,
		       i == n_items ? "" : " (differ)");
		if (i < n_items)
			tap_diag("first differing item %zu: end %" PRIu64 ", expected %" PRIu64, i,
				 le64_get(got + item_at(i)), le64_get(want.p + item_at(i)));
		tap_ok(le64_get(got + tail) == 0 && le64_get(got + tail + 8) == 0 &&
		       le64_get(got + tail + 16) == 48 &&
		       le64_get(got + tail + 24) == 16 + 40 * (uint64_t)n_items + 40 &&
		       le64_get(got + tail + 32) == TAIL_MARKER,
		       "%s: tail: 0, 0, 48, %" PRIu64 ", marker", label,
		       16 + 40 * (uint64_t)n_items + 40);
		tap_ok(memcmp(got, want.p, n) == 0, "%s: whole file as casync lays it out", label);
	}
	free(got);
	free(want.p);

	tap_ok(read_back(open_ro(path), path, &h, sizes, n_items, type),
	       "%s: reader returns header, offsets, sizes, ids, then 0", label);
}

/* The reader only read()s: a pipe must work as well as a file. */
static void test_pipe(void)
{
	static const uint64_t sizes[] = { 100, 1, 4096 };
	struct image im = image_make(BLOB_FLAGS, 1, 1024, 4096, sizes, 3);
	stasync_index_header h = { BLOB_FLAGS, 1, 1024, 4096 };
	int p[2];

	if (pipe(p) < 0) {
		perror("pipe");
		exit(99);
	}
	if (write(p[1], im.p, im.n) != (ssize_t)im.n) {
		perror("write");
		exit(99);
	}
	close(p[1]);
	tap_ok(read_back(p[0], "pipe", &h, sizes, 3, STASYNC_DIGEST_SHA512_256),
	       "reader reads an index from a pipe");
	free(im.p);
}

static void test_round_trips(void)
{
	const size_t n_many = 5000; /* 200 KB of items: several reader buffers */
	static const uint64_t one[] = { 12345 };
	static const uint64_t edge[] = { 1, 262144, 7, 262144 }; /* 1 B and exactly max */
	uint64_t *many = tap_xmalloc(n_many * sizeof(*many));
	uint64_t rng = 7;

	for (size_t i = 0; i < n_many; i++)
		many[i] = 1 + testdata_rand(&rng) % 262144;

	test_round_trip("empty", BLOB_FLAGS, 16384, 65536, 262144, NULL, 0);
	test_round_trip("one", BLOB_FLAGS, 16384, 65536, 262144, one, 1);
	test_round_trip("many", BLOB_FLAGS, 16384, 65536, 262144, many, n_many);
	test_round_trip("edge", BLOB_FLAGS, 16384, 65536, 262144, edge, 4);
	test_round_trip("sha256", SHA256_FLAGS, 1024, 4096, 16384, one, 1);
	test_round_trip("archive-flags", UINT64_C(0xb0000001ffeffe26), 1, 1, 1, NULL, 0);
	test_pipe();
	free(many);
}

/* casync's own index (made by `casync make --chunk-size=…` for the fuzz
 * corpus) is read, and writing its items again gives the same bytes. */
static void test_casync_index(void)
{
	const char *src = tap_srcpath("fuzz/corpus/fuzz-index/casync-blob-1k.caibx");
	const char *path = tap_tmp_path("rewritten.caibx");
	stasync_index_reader *rd = NULL;
	stasync_index_writer *w = NULL;
	stasync_error err = { 0, "" };
	stasync_index_item item;
	uint8_t *orig, *copy;
	size_t n_orig, n_copy, n_items = 0;
	int fd, r;

	if (access(src, R_OK) != 0) {
		tap_ok(false, "casync's index %s is there", src);
		return;
	}
	orig = read_file(src, &n_orig);
	r = stasync_index_reader_open(open_ro(src), src, &rd, &err);
	if (!tap_ok(r == 0, "open casync's index %s (%d %s)", src, r, err.message)) {
		free(orig);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		exit(99);
	}
	r = stasync_index_writer_new(fd, path, stasync_index_reader_header(rd), &w, &err);
	while (r == 0 && (r = stasync_index_reader_next(rd, &item, &err)) == 1) {
		n_items++;
		r = stasync_index_writer_add(w, item.size, &item.id, &err);
	}
	tap_ok(r == 0 && n_items > 1, "read all %zu items of casync's index (%d %s)", n_items, r,
	       err.message);
	r = stasync_index_writer_finish(w, &err);
	stasync_index_writer_free(w);
	stasync_index_reader_free(rd);
	close(fd);
	copy = read_file(path, &n_copy);
	tap_ok(r == 0 && n_copy == n_orig && memcmp(orig, copy, n_orig) == 0,
	       "rewriting casync's index gives its bytes back (%zu vs %zu bytes)", n_copy, n_orig);
	free(orig);
	free(copy);
}

/* ---- parsing headers from memory ------------------------------------------ */

static void test_parse_header(void)
{
	static const uint64_t sizes[] = { 10 };
	struct image im = image_make(BLOB_FLAGS, 1024, 4096, 16384, sizes, 1);
	stasync_index_header h = { 0, 0, 0, 0 };
	stasync_error err = { 0, "" };
	uint8_t b[HEADERS_SIZE];
	int r;

	r = stasync_index_parse_header(im.p, im.n, &h, &err);
	tap_ok(r == 0 && h.feature_flags == BLOB_FLAGS && h.chunk_size_min == 1024 &&
	       h.chunk_size_avg == 4096 && h.chunk_size_max == 16384,
	       "parse_header() of a good header (%d)", r);
	r = stasync_index_parse_header(im.p, HEADERS_SIZE, &h, NULL);
	tap_ok(r == 0, "parse_header() needs exactly 64 bytes, and no error struct");

	r = stasync_index_parse_header(im.p, HEADERS_SIZE - 1, &h, &err);
	tap_ok(r == -EBADMSG && err.message[0], "parse_header() of 63 bytes: %d \"%s\"", r,
	       err.message);
	r = stasync_index_parse_header(im.p, 0, &h, NULL);
	tap_ok(r == -EBADMSG, "parse_header() of nothing: %d", r);

	struct {
		size_t at;
		uint64_t v;
		const char *what;
	} bad[] = {
		{ 0, 47, "INDEX size 47" },
		{ 0, 64, "INDEX size 64" },
		{ 8, INDEX_TYPE ^ 1, "INDEX type" },
		{ 16, UINT64_C(0x0000000200000000), "feature bit 33" },
		{ 16, UINT64_C(0x0800000000000000), "feature bit 59" },
		{ 24, 0, "min 0" },
		{ 24, 4097, "min > avg" },
		{ 32, 16385, "avg > max" },
		{ 40, UINT64_C(134217729), "max 128 MiB + 1" },
		{ 40, UINT64_MAX, "max UINT64_MAX" },
		{ 48, 64, "TABLE size not UINT64_MAX" },
		{ 56, TABLE_TYPE ^ (UINT64_C(1) << 63), "TABLE type" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(b, im.p, sizeof(b));
		le64_put(b + bad[i].at, bad[i].v);
		h = (stasync_index_header){ 1, 2, 3, 4 };
		stasync_error_clear(&err);
		r = stasync_index_parse_header(b, sizeof(b), &h, &err);
		tap_ok(r == -EBADMSG && err.code == r && err.message[0] && h.feature_flags == 1 &&
		       h.chunk_size_max == 4,
		       "parse_header() rejects %s: %d \"%s\"", bad[i].what, r, err.message);
	}

	/* The limits themselves are fine. */
	memcpy(b, im.p, sizeof(b));
	le64_put(b + 16, UINT64_C(0xf0000001ffffffff));
	le64_put(b + 24, 1);
	le64_put(b + 32, 1);
	le64_put(b + 40, UINT64_C(134217728));
	r = stasync_index_parse_header(b, sizeof(b), &h, &err);
	tap_ok(r == 0 && h.chunk_size_max == UINT64_C(134217728),
	       "parse_header() accepts all valid flags and sizes 1:1:128MiB (%d %s)", r,
	       r ? err.message : "");
	free(im.p);
}

/* ---- the reader refusing malformed files ---------------------------------- */

/* Write b[0..n) to a file called `name`, read it as an index and expect
 * -EBADMSG, at open() when at_open, else from next() after `good_items`
 * good items, with a message naming the file. */
static void reject(const char *name, const void *b, size_t n, bool at_open, size_t good_items,
		   const char *what)
{
	const char *path = tap_tmp_path(name);
	stasync_index_reader *rd = NULL;
	stasync_error err = { 0, "" };
	stasync_index_item item;
	size_t items = 0;
	int r;

	tap_write_file(path, b, n);
	r = stasync_index_reader_open(open_ro(path), path, &rd, &err);
	if (at_open) {
		tap_ok(r == -EBADMSG && err.code == r && strstr(err.message, path),
		       "%s: open() fails with -EBADMSG naming the file: %d \"%s\"", what, r,
		       err.message);
		if (r == 0)
			stasync_index_reader_free(rd);
		return;
	}
	if (!tap_ok(r == 0, "%s: the header is fine (%d %s)", what, r, err.message))
		return;
	while ((r = stasync_index_reader_next(rd, &item, &err)) == 1)
		items++;
	tap_ok(r == -EBADMSG && err.code == r && items == good_items && strstr(err.message, path),
	       "%s: next() fails with -EBADMSG naming the file after %zu items: %d after %zu "
	       "\"%s\"",
	       what, good_items, r, items, err.message);
	/* Asking again must not crash, and must not turn into a clean end. */
	if (r < 0) {
		r = stasync_index_reader_next(rd, &item, &err);
		tap_ok(r < 0, "%s: next() keeps failing (%d)", what, r);
	}
	stasync_index_reader_free(rd);
}

static void test_reject(void)
{
	static const uint64_t sizes[] = { 1000, 2000, 3000 };
	const uint64_t flags = BLOB_FLAGS, min = 1024, avg = 4096, max = 16384;
	struct image good = image_make(flags, min, avg, max, sizes, 3);
	const size_t tail = item_at(3);
	uint8_t *b = tap_xmalloc(good.n + 64);

#define FRESH() memcpy(b, good.p, good.n)

	/* The unmodified image is accepted (the base for everything below). */
	{
		const char *path = tap_tmp_path("good.caibx");
		stasync_index_header h = { flags, min, avg, max };

		tap_write_file(path, good.p, good.n);
		tap_ok(read_back(open_ro(path), path, &h, sizes, 3, STASYNC_DIGEST_SHA512_256),
		       "the hand-made index is read back");
	}

	/* Truncation */
	reject("empty.caibx", good.p, 0, true, 0, "empty file");
	reject("trunc-header.caibx", good.p, 30, true, 0, "truncated INDEX header");
	reject("trunc-table.caibx", good.p, HEADERS_SIZE - 1, true, 0, "truncated TABLE header");
	reject("trunc-item.caibx", good.p, item_at(1) + 20, false, 1, "truncated in an item");
	reject("no-items.caibx", good.p, HEADERS_SIZE, false, 0, "no items and no tail");
	reject("no-tail.caibx", good.p, tail, false, 3, "missing tail");
	reject("trunc-tail.caibx", good.p, good.n - 1, false, 3, "tail cut short");

	/* Header */
	FRESH();
	le64_put(b + 8, INDEX_TYPE + 1);
	reject("bad-magic.caibx", b, good.n, true, 0, "bad INDEX type");
	FRESH();
	le64_put(b, 40);
	reject("bad-size.caibx", b, good.n, true, 0, "bad INDEX size");
	FRESH();
	memcpy(b, "CATAR\0\0\0", 8);
	reject("not-index.caibx", b, good.n, true, 0, "not an index at all");
	FRESH();
	le64_put(b + 48, 0);
	reject("bad-table-size.caibx", b, good.n, true, 0, "TABLE header size not UINT64_MAX");
	FRESH();
	le64_put(b + 56, TABLE_TYPE - 1);
	reject("bad-table-type.caibx", b, good.n, true, 0, "bad TABLE type");
	FRESH();
	le64_put(b + 16, flags | UINT64_C(0x0000000200000000));
	reject("bad-flags.caibx", b, good.n, true, 0, "unknown feature flag bit 33");
	FRESH();
	le64_put(b + 16, flags | UINT64_C(0x0100000000000000));
	reject("bad-flags2.caibx", b, good.n, true, 0, "unknown feature flag bit 56");
	FRESH();
	le64_put(b + 24, avg + 1);
	reject("min-gt-avg.caibx", b, good.n, true, 0, "min > avg");
	FRESH();
	le64_put(b + 32, max + 1);
	reject("avg-gt-max.caibx", b, good.n, true, 0, "avg > max");
	FRESH();
	le64_put(b + 40, UINT64_C(134217728) + 1);
	reject("max-too-big.caibx", b, good.n, true, 0, "max > 128 MiB");
	FRESH();
	le64_put(b + 24, 0);
	reject("min-zero.caibx", b, good.n, true, 0, "min = 0");
	FRESH();
	le64_put(b + 24, 0);
	le64_put(b + 32, 0);
	le64_put(b + 40, 0);
	reject("all-zero.caibx", b, good.n, true, 0, "sizes 0:0:0");

	/* Items */
	FRESH();
	le64_put(b + item_at(1), 1000);
	reject("offset-equal.caibx", b, good.n, false, 1, "end offset equal to the previous one");
	FRESH();
	le64_put(b + item_at(2), 2999);
	reject("offset-decreasing.caibx", b, good.n, false, 2, "end offset below the previous one");
	FRESH();
	le64_put(b + item_at(2), UINT64_MAX);
	reject("offset-huge.caibx", b, good.n, false, 2, "end offset UINT64_MAX");
	FRESH();
	le64_put(b + item_at(0), max + 1);
	le64_put(b + item_at(1), max + 2);
	le64_put(b + item_at(2), max + 3);
	reject("first-too-big.caibx", b, good.n, false, 0, "first chunk larger than max");
	FRESH();
	le64_put(b + item_at(2), 3000 + max + 1);
	reject("chunk-too-big.caibx", b, good.n, false, 2, "third chunk larger than max");

	/* Tail and what follows it */
	FRESH();
	b[good.n] = 0;
	reject("trailing-byte.caibx", b, good.n + 1, false, 3, "one byte after the tail");
	FRESH();
	memcpy(b + good.n, good.p + tail, TAIL_SIZE);
	reject("two-tails.caibx", b, good.n + TAIL_SIZE, false, 3, "a second tail");
	FRESH();
	le64_put(b + tail + 24, TABLE_HEADER_SIZE + 2 * ITEM_SIZE + TAIL_SIZE);
	reject("tail-size-short.caibx", b, good.n, false, 3, "tail table size for 2 items");
	FRESH();
	le64_put(b + tail + 24, TABLE_HEADER_SIZE + 4 * ITEM_SIZE + TAIL_SIZE);
	reject("tail-size-long.caibx", b, good.n, false, 3, "tail table size for 4 items");
	FRESH();
	le64_put(b + tail + 32, TAIL_MARKER ^ 0x100);
	reject("tail-marker.caibx", b, good.n, false, 3, "wrong tail marker");
	FRESH();
	le64_put(b + tail + 8, 1);
	reject("tail-fill.caibx", b, good.n, false, 3, "non-zero fill in the tail");
	FRESH();
	le64_put(b + tail + 16, 64);
	reject("tail-index-offset.caibx", b, good.n, false, 3, "tail index offset not 48");
	/* A tail where the first item should be, claiming an empty table of
	 * the wrong size. */
	{
		struct image empty = image_make(flags, min, avg, max, NULL, 0);

		le64_put(empty.p + HEADERS_SIZE + 24, TABLE_HEADER_SIZE + ITEM_SIZE + TAIL_SIZE);
		reject("empty-bad-tail.caibx", empty.p, empty.n, false, 0,
		       "empty index whose tail counts one item");
		free(empty.p);
	}
#undef FRESH
	free(b);
	free(good.p);
}

/* An I/O error is reported as such, not as a malformed file. */
static void test_io_error(void)
{
	stasync_index_reader *rd = NULL;
	stasync_error err = { 0, "" };
	int fd = open(tap_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		perror(tap_tmpdir());
		exit(99);
	}
	r = stasync_index_reader_open(fd, "a-directory", &rd, &err);
	tap_ok(r == -EISDIR && strstr(err.message, "a-directory"),
	       "reading a directory fails with -EISDIR naming it: %d \"%s\"", r, err.message);
	if (r == 0)
		stasync_index_reader_free(rd);
	stasync_index_reader_free(NULL);
	stasync_index_writer_free(NULL);
}

int main(void)
{
	test_round_trips();
	test_casync_index();
	test_parse_header();
	test_reject();
	test_io_error();
	return tap_done();
}
