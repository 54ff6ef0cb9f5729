/* test-store — the local chunk store and chunk decoding: where and how put()
 * writes, has()/get() round trips, and every way a stored chunk can be bad
 * (wrong size, corrupt, not zstd/xz/gzip, a decompression bomb), zstd, xz
 * and gzip chunks side by side in one store, falling back
 * across several stores, opening stores, and the compression names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <stasync/digest.h>
#include <stasync/store.h>
#include "store.h"
#include "tap.h"
#include "testdata.h"

#define CHUNK_SIZE ((size_t)64 * 1024)
#define BOMB_SIZE ((size_t)8 * 1024 * 1024)

static stasync_codec *codec;

/* ---- helpers ------------------------------------------------------------- */

/* A chunk: `size` bytes of test stream `seed`, and its SHA-512/256 id. */
struct chunk {
	uint8_t *data;
	size_t size;
	stasync_chunk_id id;
	char hex[STASYNC_DIGEST_HEX_SIZE];
};

static struct chunk chunk_make(uint64_t seed, size_t size, enum testdata_kind kind)
{
	struct chunk c;

	c.size = size;
	c.data = tap_xmalloc(size);
	testdata_fill(c.data, size, seed, kind);
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, c.data, size, &c.id);
	stasync_chunk_id_format(&c.id, c.hex);
	return c;
}

/* STORE/<4 hex>/<64 hex>[.cacnk] */
static const char *chunk_file(const char *store, const struct chunk *c, bool suffix)
{
	static char buf[2][4096];
	static unsigned next;
	char *b = buf[next++ % 2];

	snprintf(b, sizeof(buf[0]), "%s/%.4s/%s%s", store, c->hex, c->hex, suffix ? ".cacnk" : "");
	return b;
}

/* Replace a file's bytes (making it writable first, as the store makes
 * its chunks read-only); creates the <4 hex> directory when needed. */
static void overwrite(const char *path, const void *p, size_t n)
{
	char dir[4096];
	char *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		perror(dir);
		exit(99);
	}
	if (chmod(path, 0644) < 0 && errno != ENOENT) {
		perror(path);
		exit(99);
	}
	f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}

static void zstd_bytes(const void *p, size_t n, uint8_t **ret, size_t *ret_size)
{
	size_t bound = ZSTD_compressBound(n);
	uint8_t *z = tap_xmalloc(bound);
	size_t k = ZSTD_compress(z, bound, p, n, 3);

	if (ZSTD_isError(k)) {
		fprintf(stderr, "ZSTD_compress: %s\n", ZSTD_getErrorName(k));
		exit(99);
	}
	*ret = z;
	*ret_size = k;
}

/* n zeros as one zstd frame written by the streaming API: no content
 * size in the frame header, as casync writes its chunks. */
static size_t zstd_stream_zeros(size_t n, uint8_t **ret)
{
	static const uint8_t block[65536];
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = 1 << 20, k;
	ZSTD_outBuffer o = { tap_xmalloc(cap), cap, 0 };
	ZSTD_inBuffer in = { NULL, 0, 0 };

	if (!cc)
		goto fail;
	for (size_t done = 0; done < n; done += in.size) {
		in = (ZSTD_inBuffer){ block, n - done < sizeof(block) ? n - done : sizeof(block), 0 };
		while (in.pos < in.size) {
			k = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_continue);
			if (ZSTD_isError(k))
				goto fail;
		}
	}
	in = (ZSTD_inBuffer){ NULL, 0, 0 };
	do {
		k = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end);
		if (ZSTD_isError(k))
			goto fail;
	} while (k != 0);
	ZSTD_freeCCtx(cc);
	*ret = o.dst;
	return o.pos;
fail:
	fprintf(stderr, "zstd streaming compression failed\n");
	exit(99);
}

static stasync_store *store_open(const char *path, unsigned flags)
{
	stasync_store *s = NULL;
	stasync_error err = { 0, "" };
	int r = stasync_store_open(path, flags, &s, &err);

	if (r < 0) {
		fprintf(stderr, "cannot open store %s: %s\n", path, err.message);
		exit(99);
	}
	return s;
}

/* get() of chunk c of `size` bytes from s; returns the code, the message in *err. */
static int get(stasync_store *s, const struct chunk *c, size_t size, stasync_error *err)
{
	uint8_t *out = tap_xmalloc(size);
	int r;

	stasync_error_clear(err);
	r = stasync_store_get(s, codec, &c->id, STASYNC_DIGEST_SHA512_256, out, size, err);
	if (r == 0 && (size != c->size || memcmp(out, c->data, size) != 0))
		r = -EPROTO; /* success with the wrong bytes: the worst case */
	free(out);
	return r;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- put, has, get ---------------------------------------------------------- */

static void test_put_get(void)
{
	const char *dir = tap_tmp_path("store");
	stasync_store *s = store_open(dir, STASYNC_STORE_WRITABLE);
	struct chunk c = chunk_make(1, CHUNK_SIZE, TESTDATA_MIXED);
	struct chunk other = chunk_make(2, 1000, TESTDATA_RANDOM);
	struct chunk empty = chunk_make(3, 0, TESTDATA_RANDOM);
	stasync_error err = { 0, "" };
	const char *path = chunk_file(dir, &c, true);
	char subdir[4096];
	struct stat st1, st2;
	uint8_t magic[4] = { 0 };
	DIR *d;
	struct dirent *e;
	int r, entries = 0, fd;

	tap_ok(strcmp(stasync_store_locator(s), dir) == 0,
	       "locator is the path it was opened with");
	tap_ok(stasync_store_has(s, &c.id, &err) == 0, "has() of a chunk not there: 0");

	r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
	tap_ok(r == 1, "put() of a new chunk returns 1 (%d %s)", r, r < 0 ? err.message : "");
	tap_ok(stat(path, &st1) == 0 && S_ISREG(st1.st_mode), "chunk file %s exists", path);
	tap_ok((st1.st_mode & 07777) == 0444, "chunk file has mode 0444 (%04o)",
	       (unsigned)(st1.st_mode & 07777));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "\x28\xb5\x2f\xfd", 4) == 0,
	       "chunk file starts with the zstd magic");
	if (fd >= 0)
		close(fd);
	snprintf(subdir, sizeof(subdir), "%s/%.4s", dir, c.hex);
	d = opendir(subdir);
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			entries++;
			if (strncmp(e->d_name, c.hex, 64) || strcmp(e->d_name + 64, ".cacnk"))
				tap_diag("unexpected file %s/%s", subdir, e->d_name);
		}
	if (d)
		closedir(d);
	tap_ok(entries == 1, "only the chunk file in %s, no temporary files (%d entries)", subdir,
	       entries);

	r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
	tap_ok(r == 0, "put() of a chunk already there returns 0 (%d)", r);
	tap_ok(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino &&
	       st1.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
	       st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec,
	       "and leaves the file alone (same inode and mtime)");

	tap_ok(stasync_store_has(s, &c.id, &err) == 1, "has() of a stored chunk: 1");
	tap_ok(stasync_store_has(s, &other.id, &err) == 0, "has() of another chunk: 0");

	r = get(s, &c, c.size, &err);
	tap_ok(r == 0, "get() returns the chunk's bytes (%d %s)", r, err.message);
	r = get(s, &c, c.size - 1, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, c.hex),
	       "get() with a declared size 1 byte short: -EBADMSG (%d \"%s\")", r, err.message);
	r = get(s, &c, c.size + 1, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, c.hex),
	       "get() with a declared size 1 byte long: -EBADMSG (%d \"%s\")", r, err.message);
	r = get(s, &c, 100, &err);
	tap_ok(r == -EBADMSG, "get() with a declared size of 100 bytes: -EBADMSG (%d)", r);

	r = stasync_store_put(s, codec, &empty.id, empty.data, 0, &err);
	tap_ok(r == 1, "put() of the empty chunk (%d %s)", r, r < 0 ? err.message : "");
	r = get(s, &empty, 0, &err);
	tap_ok(r == 0, "get() of the empty chunk (%d %s)", r, err.message);

	r = get(s, &other, other.size, &err);
	tap_ok(r == -ENOENT && strstr(err.message, other.hex),
	       "get() of a missing chunk: -ENOENT naming it (%d \"%s\")", r, err.message);

	stasync_store_free(s);
	free(c.data);
	free(other.data);
	free(empty.data);
}

/* make's store lists its <4 hex> directories once, and has() answers
 * from that list for a directory that was not there. */
static void test_listed_dirs(void)
{
	const char *dir = tap_tmp_path("listed");
	stasync_store *before = store_open(dir, STASYNC_STORE_WRITABLE), *s, *other;
	struct chunk a = chunk_make(21, 5000, TESTDATA_MIXED);
	struct chunk b = chunk_make(22, 5000, TESTDATA_MIXED);
	struct chunk c = chunk_make(23, 5000, TESTDATA_MIXED);
	stasync_error err = { 0, "" };
	struct stat st;
	int r;

	if (memcmp(a.hex, b.hex, 4) == 0 || memcmp(a.hex, c.hex, 4) == 0 ||
	    memcmp(b.hex, c.hex, 4) == 0)
		tap_diag("test chunks share a directory: pick other seeds");
	r = stasync_store_put(before, codec, &a.id, a.data, a.size, &err);
	tap_ok(r == 1, "a chunk stored before make begins (%d %s)", r, err.message);
	stasync_store_free(before);

	s = store_open(dir, STASYNC_STORE_WRITABLE);
	sta_store_expect_flush(s);
	tap_ok(stasync_store_has(s, &a.id, &err) == 1,
	       "after the listing, has() finds the chunk stored before");
	tap_ok(stasync_store_has(s, &b.id, &err) == 0,
	       "and not one whose directory was not there");

	/* another writer stores b after the listing: put() finds it there */
	other = store_open(dir, STASYNC_STORE_WRITABLE);
	r = stasync_store_put(other, codec, &b.id, b.data, b.size, &err);
	tap_ok(r == 1, "another writer stores a chunk in a new directory (%d %s)", r, err.message);
	stasync_store_free(other);
	r = stasync_store_put(s, codec, &b.id, b.data, b.size, &err);
	tap_ok(r == 0, "put() of that chunk then says it was there (%d %s)", r, err.message);
	r = get(s, &b, b.size, &err);
	tap_ok(r == 0, "and the chunk reads back whole (%d %s)", r, err.message);

	r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
	tap_ok(r == 1 && stat(chunk_file(dir, &c, true), &st) == 0,
	       "put() of a new chunk into a new directory (%d %s)", r, err.message);
	tap_ok(stasync_store_has(s, &c.id, &err) == 1, "has() finds what put() stored");
	stasync_store_free(s);
	free(a.data);
	free(b.data);
	free(c.data);
}

/* ---- bad stored chunks ---------------------------------------------------- */

/* Store chunk `seed` properly, then replace its file with p[0..n) and
 * expect get() to fail with `code` and a message holding the chunk id and
 * `needle` (when not NULL). */
static void bad_chunk(stasync_store *s, uint64_t seed, const void *p, size_t n, int code,
		      const char *needle, const char *what)
{
	const char *dir = stasync_store_locator(s);
	struct chunk c = chunk_make(seed, 8192, TESTDATA_MIXED);
	stasync_error err = { 0, "" };
	int r;

	r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
	if (r < 0)
		tap_diag("put: %d %s", r, err.message);
	overwrite(chunk_file(dir, &c, true), p ? p : c.data, p ? n : c.size);
	r = get(s, &c, c.size, &err);
	tap_ok(r == code && err.code == r && strstr(err.message, c.hex) &&
	       (!needle || strstr(err.message, needle)),
	       "%s: %d, message names the chunk (%d \"%s\")", what, code, r, err.message);
	free(c.data);
}

static void test_bad_chunks(void)
{
	const char *dir = tap_tmp_path("bad-store");
	stasync_store *s = store_open(dir, STASYNC_STORE_WRITABLE);
	struct chunk wrong = chunk_make(100, 8192, TESTDATA_MIXED);
	struct chunk zeros = chunk_make(0, CHUNK_SIZE, TESTDATA_ZERO);
	stasync_error err = { 0, "" };
	uint8_t *z, *bomb;
	size_t zn, bomb_n;
	double t;
	int r;

	/* Valid zstd, but of other bytes: the digest does not match. */
	zstd_bytes(wrong.data, wrong.size, &z, &zn);
	bad_chunk(s, 10, z, zn, -EBADMSG, NULL, "zstd of other content");
	free(z);
	/* The right content with one byte of the frame flipped. */
	{
		struct chunk c = chunk_make(11, 8192, TESTDATA_MIXED);
		uint8_t *cz;
		size_t czn;

		zstd_bytes(c.data, c.size, &cz, &czn);
		cz[czn / 2] ^= 0x40;
		bad_chunk(s, 11, cz, czn, -EBADMSG, NULL, "zstd frame with a flipped byte");
		bad_chunk(s, 11, cz, czn / 2, -EBADMSG, NULL, "zstd frame cut in half");
		free(cz);
		free(c.data);
	}
	bad_chunk(s, 12, NULL, 0, -EBADMSG, NULL, "uncompressed bytes under .cacnk");
	bad_chunk(s, 13, "hello, world", 12, -EBADMSG, NULL, "short non-zstd bytes");
	bad_chunk(s, 14, "", 0, -EBADMSG, NULL, "empty file");
	bad_chunk(s, 15, "\x28\xb5\x2f\xfd", 4, -EBADMSG, NULL, "zstd magic alone");
	bad_chunk(s, 16, "\xfd\x37\x7a\x58\x5a\x00\x00\x04\xe6\xd6\xb4\x46", 12, -EBADMSG,
		  "truncated xz data", "xz stream header alone");
	bad_chunk(s, 17, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8, -EBADMSG, "truncated gzip data",
		  "gzip header cut short");

	/* A decompression bomb: 8 MiB of zeros compress to a few hundred
	 * bytes, stored under the id of 64 KiB of zeros. */
	bomb = tap_xmalloc(BOMB_SIZE);
	memset(bomb, 0, BOMB_SIZE);
	zstd_bytes(bomb, BOMB_SIZE, &z, &zn);
	free(bomb);
	overwrite(chunk_file(dir, &zeros, true), z, zn);
	t = now();
	r = get(s, &zeros, CHUNK_SIZE, &err);
	t = now() - t;
	tap_ok(r == -EBADMSG && strstr(err.message, "inflates past") &&
	       strstr(err.message, zeros.hex),
	       "%zu bytes inflating to 8 MiB, declared 64 KiB: -EBADMSG (%d \"%s\")", zn, r,
	       err.message);
	tap_ok(t < 2.0, "and refused quickly (%.3f s)", t);
	free(z);
	/* The same bomb as a stream without content size. */
	bomb_n = zstd_stream_zeros(BOMB_SIZE, &z);
	overwrite(chunk_file(dir, &zeros, true), z, bomb_n);
	t = now();
	r = get(s, &zeros, CHUNK_SIZE, &err);
	t = now() - t;
	tap_ok(r == -EBADMSG && strstr(err.message, "inflates past") && t < 2.0,
	       "streamed bomb (%zu bytes, no content size): -EBADMSG in %.3f s (%d \"%s\")",
	       bomb_n, t, r, err.message);
	free(z);

	/* A file far larger than any zstd frame of the declared size. */
	{
		struct chunk c = chunk_make(18, 1000, TESTDATA_RANDOM);
		uint8_t *big = tap_xmalloc(100000);

		memset(big, 0, 100000);
		memcpy(big, "\x28\xb5\x2f\xfd", 4);
		r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
		overwrite(chunk_file(dir, &c, true), big, 100000);
		r = get(s, &c, c.size, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, c.hex),
		       "100 KB stored for a 1000-byte chunk: -EBADMSG (%d \"%s\")", r, err.message);
		free(big);
		free(c.data);
	}

	/* A directory where the chunk file should be. */
	{
		struct chunk c = chunk_make(19, 1000, TESTDATA_RANDOM);
		const char *p = chunk_file(dir, &c, true);

		overwrite(p, "x", 1);
		unlink(p);
		if (mkdir(p, 0755) < 0) {
			perror(p);
			exit(99);
		}
		r = get(s, &c, c.size, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, c.hex),
		       "a directory in place of the chunk: -EBADMSG (%d \"%s\")", r, err.message);
		free(c.data);
	}

	stasync_store_free(s);
	free(wrong.data);
	free(zeros.data);
}

/* casync reads chunks stored uncompressed, as <64 hex> without suffix. */
static void test_uncompressed(void)
{
	const char *dir = tap_tmp_path("raw-store");
	stasync_store *s = store_open(dir, STASYNC_STORE_WRITABLE);
	struct chunk c = chunk_make(20, 5000, TESTDATA_MIXED);
	struct chunk bad = chunk_make(21, 5000, TESTDATA_MIXED);
	stasync_error err = { 0, "" };
	int r;

	overwrite(chunk_file(dir, &c, false), c.data, c.size);
	tap_ok(stasync_store_has(s, &c.id, &err) == 1, "has() finds an uncompressed chunk");
	r = get(s, &c, c.size, &err);
	tap_ok(r == 0, "get() reads an uncompressed chunk without suffix (%d %s)", r, err.message);
	r = get(s, &c, c.size - 1, &err);
	tap_ok(r == -EBADMSG, "uncompressed chunk of the wrong size: -EBADMSG (%d)", r);
	overwrite(chunk_file(dir, &bad, false), c.data, c.size);
	r = get(s, &bad, bad.size, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, bad.hex),
	       "uncompressed chunk with other content: -EBADMSG (%d \"%s\")", r, err.message);
	stasync_store_free(s);
	free(c.data);
	free(bad.data);
}

/* ---- several stores ---------------------------------------------------------- */

/* stasync_stores_get() of chunk c into out, with a cleared error. */
static int stores_get(stasync_store *const *stores, size_t n, const struct chunk *c, void *out,
		      stasync_error *err)
{
	stasync_error_clear(err);
	memset(out, 0, c->size);
	return stasync_stores_get(stores, n, codec, &c->id, STASYNC_DIGEST_SHA512_256, out, c->size,
				  err);
}

static void test_fallback(void)
{
	const char *dir_a = tap_tmp_path("fb-a"), *dir_b = tap_tmp_path("fb-b"), *dir_c = tap_tmp_path("fb-c");
	stasync_store *a = store_open(dir_a, STASYNC_STORE_WRITABLE);
	stasync_store *b = store_open(dir_b, STASYNC_STORE_WRITABLE);
	stasync_store *c3 = store_open(dir_c, STASYNC_STORE_WRITABLE);
	stasync_store *a_b[] = { a, b }, *a_c[] = { a, c3 }, *all[] = { a, b, c3 };
	struct chunk c = chunk_make(30, 20000, TESTDATA_MIXED);
	struct chunk lost = chunk_make(31, 20000, TESTDATA_MIXED);
	stasync_error err = { 0, "" };
	uint8_t *out = tap_xmalloc(c.size);
	int r;

	stasync_store_put(b, codec, &c.id, c.data, c.size, &err);
	r = stores_get(a_b, 2, &c, out, &err);
	tap_ok(r == 0 && memcmp(out, c.data, c.size) == 0,
	       "first store lacks the chunk, second has it: 0 (%d %s)", r, err.message);

	/* Now the first store holds a corrupt copy. */
	overwrite(chunk_file(dir_a, &c, true), "\x28\xb5\x2f\xfd garbage", 12);
	r = stores_get(a_b, 2, &c, out, &err);
	tap_ok(r == 0 && memcmp(out, c.data, c.size) == 0,
	       "first store has a corrupt copy, second a good one: 0 (%d %s)", r, err.message);
	r = stores_get(a_c, 2, &c, out, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, c.hex) && strstr(err.message, dir_a) &&
	       strstr(err.message, dir_c),
	       "corrupt in one store, missing in the other: -EBADMSG naming the chunk and "
	       "both stores (%d \"%s\")", r, err.message);

	r = stores_get(all, 3, &lost, out, &err);
	tap_ok(r == -ENOENT && strstr(err.message, lost.hex),
	       "missing from all three: -ENOENT naming the chunk (%d \"%s\")", r, err.message);
	r = stores_get(all, 1, &lost, out, &err);
	tap_ok(r == -ENOENT && strstr(err.message, lost.hex),
	       "missing from the only store: -ENOENT naming the chunk (%d \"%s\")", r,
	       err.message);
	r = stores_get(all, 0, &lost, out, &err);
	tap_ok(r == -ENOENT && strstr(err.message, lost.hex),
	       "no stores at all: -ENOENT naming the chunk (%d \"%s\")", r, err.message);

	stasync_store_free(a);
	stasync_store_free(b);
	stasync_store_free(c3);
	free(out);
	free(c.data);
	free(lost.data);
}

/* ---- opening stores -------------------------------------------------------- */

static void test_open(void)
{
	const char *missing = tap_tmp_path("no-such-store");
	const char *nested = tap_tmp_path("new/deeper/store");
	char url[4200];
	stasync_store *s = NULL;
	stasync_error err = { 0, "" };
	struct stat st;
	int r;

	/* casync writes no store for an empty blob: a missing read-only store
	 * opens as an empty one. */
	r = stasync_store_open(missing, 0, &s, &err);
	tap_ok(r == 0, "read-only open of a missing directory: 0, an empty store (%d %s)", r,
	       r ? err.message : "");
	tap_ok(stat(missing, &st) < 0, "and does not create it");
	if (r == 0) {
		struct chunk c = chunk_make(50, 100, TESTDATA_RANDOM);

		tap_ok(stasync_store_has(s, &c.id, &err) == 0, "has() of the missing store: 0");
		r = get(s, &c, c.size, &err);
		tap_ok(r == -ENOENT && strstr(err.message, c.hex),
		       "get() from the missing store: -ENOENT naming the chunk (%d \"%s\")", r,
		       err.message);
		r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
		tap_ok(r < 0 && stat(missing, &st) < 0,
		       "put() into the missing read-only store fails and creates nothing (%d)", r);
		s = stasync_store_free(s);
		free(c.data);
	}

	r = stasync_store_open(nested, STASYNC_STORE_WRITABLE, &s, &err);
	tap_ok(r == 0 && stat(nested, &st) == 0 && S_ISDIR(st.st_mode),
	       "writable open creates the directory and its parents (%d %s)", r, err.message);
	s = stasync_store_free(s);
	tap_ok(s == NULL && stasync_store_free(NULL) == NULL,
	       "store_free() returns NULL, accepts NULL");

	/* Opened without STASYNC_STORE_WRITABLE, an existing store takes no chunks. */
	r = stasync_store_open(nested, 0, &s, &err);
	if (r == 0) {
		struct chunk c = chunk_make(51, 100, TESTDATA_RANDOM);

		stasync_error_clear(&err);
		r = stasync_store_put(s, codec, &c.id, c.data, c.size, &err);
		tap_ok(r < 0 && stat(chunk_file(nested, &c, true), &st) < 0,
		       "put() into a store opened read-only fails and writes nothing (%d %s)",
		       r, err.message);
		s = stasync_store_free(s);
		free(c.data);
	}
	{
		const char *file = tap_tmp_path("a-file");
		FILE *f = fopen(file, "w");

		if (f)
			fclose(f);
		r = stasync_store_open(file, 0, &s, &err);
		tap_ok(r == -ENOTDIR && strstr(err.message, file),
		       "a regular file as store: -ENOTDIR naming it (%d \"%s\")", r, err.message);
		if (r == 0)
			s = stasync_store_free(s);
		r = stasync_store_open(file, STASYNC_STORE_WRITABLE, &s, &err);
		tap_ok(r < 0 && strstr(err.message, file),
		       "a regular file as writable store: an error naming it (%d \"%s\")", r,
		       err.message);
		if (r == 0)
			s = stasync_store_free(s);
	}

	snprintf(url, sizeof(url), "file://%s", nested);
	r = stasync_store_open(url, 0, &s, &err);
	tap_ok(r == 0, "a file:// URL opens the directory (%d %s)", r, err.message);
	stasync_store_free(s);
	s = NULL;

	r = stasync_store_open("gopher://example.org/store", 0, &s, &err);
	tap_ok(r == -EPROTONOSUPPORT && strstr(err.message, "gopher://example.org/store"),
	       "unknown URL scheme: -EPROTONOSUPPORT (%d \"%s\")", r, err.message);
	if (r == 0)
		stasync_store_free(s);
}

/* ---- decoding from memory ------------------------------------------------- */

/* stasync_chunk_decode() with a cleared error, so messages in the test
 * output belong to this call. */
static int decode(const void *p, size_t n, bool compressed, const stasync_chunk_id *id,
		  stasync_digest_type type, void *out, size_t size, const char *what,
		  stasync_error *err)
{
	stasync_error_clear(err);
	return stasync_chunk_decode(codec, p, n, compressed, id, type, out, size, what, err);
}

static void test_decode(void)
{
	const stasync_digest_type sha512 = STASYNC_DIGEST_SHA512_256;
	const stasync_digest_type sha256 = STASYNC_DIGEST_SHA256;
	struct chunk c = chunk_make(40, 30000, TESTDATA_MIXED);
	stasync_chunk_id id256;
	stasync_error err = { 0, "" };
	uint8_t *out = tap_xmalloc(c.size + 1), *z;
	size_t zn;
	int r;

	zstd_bytes(c.data, c.size, &z, &zn);
	stasync_digest_buffer(sha256, c.data, c.size, &id256);

	r = decode(z, zn, true, &c.id, sha512, out, c.size, "mem", &err);
	tap_ok(r == 0 && memcmp(out, c.data, c.size) == 0, "decode() of zstd bytes (%d %s)", r,
	       err.message);
	r = decode(c.data, c.size, false, &c.id, sha512, out, c.size, "mem", &err);
	tap_ok(r == 0 && memcmp(out, c.data, c.size) == 0, "decode() of raw bytes (%d %s)", r,
	       err.message);
	r = decode(z, zn, true, &id256, sha256, out, c.size, "mem", &err);
	tap_ok(r == 0, "decode() with a SHA-256 id (%d %s)", r, err.message);
	r = decode(z, zn, true, &c.id, sha256, out, c.size, "mem", &err);
	tap_ok(r == -EBADMSG, "a SHA-512/256 id checked as SHA-256: -EBADMSG (%d)", r);
	r = decode(z, zn, true, &id256, sha512, out, c.size, "the-source", &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "the-source"),
	       "digest mismatch: -EBADMSG, message names the source (%d \"%s\")", r, err.message);
	r = decode(z, zn, false, &c.id, sha512, out, c.size, "mem", &err);
	tap_ok(r == -EBADMSG, "zstd bytes taken as uncompressed: -EBADMSG (%d)", r);
	r = decode(c.data, c.size, true, &c.id, sha512, out, c.size, "mem", &err);
	tap_ok(r == -EBADMSG, "raw bytes taken as compressed: -EBADMSG (%d)", r);
	r = decode(z, zn, true, &c.id, sha512, out, c.size + 1, "mem", &err);
	tap_ok(r == -EBADMSG, "declared 1 byte more: -EBADMSG (%d \"%s\")", r, err.message);
	r = decode(z, zn, true, &c.id, sha512, out, c.size - 1, "mem", &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "inflates past"),
	       "declared 1 byte less: -EBADMSG (%d \"%s\")", r, err.message);
	/* Two frames that together make the chunk. */
	{
		uint8_t *z1, *z2, *both;
		size_t n1, n2;

		zstd_bytes(c.data, 1000, &z1, &n1);
		zstd_bytes(c.data + 1000, c.size - 1000, &z2, &n2);
		both = tap_xmalloc(n1 + n2);
		memcpy(both, z1, n1);
		memcpy(both + n1, z2, n2);
		r = decode(both, n1 + n2, true, &c.id, sha512, out, c.size, "mem", &err);
		tap_ok(r == 0 && memcmp(out, c.data, c.size) == 0,
		       "two concatenated zstd frames decode as one chunk (%d %s)", r, err.message);
		free(z1);
		free(z2);
		free(both);
	}
	r = decode(z, zn, true, &c.id, sha512, out, c.size, "mem", NULL);
	tap_ok(r == 0, "decode() without an error struct");
	free(z);
	free(out);
	free(c.data);
}

/* All-zero chunks: the codec remembers the id of the last one hashed, so
 * what it answers must be right for every size and digest type, and a
 * wrong id must still be caught. */
static void test_zero_chunks(void)
{
	const stasync_digest_type types[] = { STASYNC_DIGEST_SHA512_256, STASYNC_DIGEST_SHA256 };
	const size_t sizes[] = { 65536, 65536, 1, 65536, 4096 };
	uint8_t *zero = calloc(1, 65536), *out = tap_xmalloc(65536), *z;
	stasync_error err = { 0, "" };
	size_t zn;
	int r;

	for (size_t t = 0; t < 2; t++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			stasync_chunk_id id, other;

			stasync_digest_buffer(types[t], zero, sizes[i], &id);
			zstd_bytes(zero, sizes[i], &z, &zn);
			r = decode(z, zn, true, &id, types[t], out, sizes[i], "zero", &err);
			tap_ok(r == 0, "zero chunk of %zu bytes, %s (%d %s)", sizes[i],
			       stasync_digest_type_name(types[t]), r, err.message);
			stasync_digest_buffer(types[1 - t], zero, sizes[i], &other);
			r = decode(z, zn, true, &other, types[t], out, sizes[i], "zero", &err);
			tap_ok(r == -EBADMSG, "zero chunk of %zu bytes against the other type's id: -EBADMSG (%d)",
			       sizes[i], r);
			free(z);
		}
	/* zeros but for the last byte, after the memo holds 64 KiB of zeros */
	{
		stasync_chunk_id id;

		zero[65535] = 1;
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, zero, 65536, &id);
		zero[65535] = 0;
		zstd_bytes(zero, 65536, &z, &zn);
		r = decode(z, zn, true, &id, STASYNC_DIGEST_SHA512_256, out, 65536, "zero", &err);
		tap_ok(r == -EBADMSG, "zero chunk against the id of a nearly zero one: -EBADMSG (%d)", r);
		free(z);
	}
	free(zero);
	free(out);
}

/* Each compression through a store: the magic it writes, a round trip, and
 * a store holding all three read back by one codec. */
static void test_compressions(void)
{
	static const struct {
		stasync_compression k;
		const char *magic;
		size_t magic_size;
	} kinds[] = {
		{ STASYNC_COMPRESSION_ZSTD, "\x28\xb5\x2f\xfd", 4 },
		{ STASYNC_COMPRESSION_XZ, "\xfd\x37\x7a\x58\x5a\x00", 6 },
		{ STASYNC_COMPRESSION_GZIP, "\x1f\x8b", 2 },
	};
	const char *dir = tap_tmp_path("mixed-store");
	stasync_store *s = store_open(dir, STASYNC_STORE_WRITABLE);
	struct chunk c[3 * 3];
	stasync_error err = { 0, "" };

	for (size_t i = 0; i < 3 * 3; i++) {
		size_t k = i % 3, sizes[] = { 7, 1000, CHUNK_SIZE };
		uint8_t magic[8] = { 0 };
		int r, fd;

		c[i] = chunk_make(200 + i, sizes[i / 3], i < 3 ? TESTDATA_RANDOM : TESTDATA_MIXED);
		stasync_store_set_compression(s, kinds[k].k);
		r = stasync_store_put(s, codec, &c[i].id, c[i].data, c[i].size, &err);
		tap_ok(r == 1, "%s: put of %zu bytes (%d %s)", stasync_compression_name(kinds[k].k),
		       c[i].size, r, r < 0 ? err.message : "");
		fd = open(chunk_file(dir, &c[i], true), O_RDONLY | O_CLOEXEC);
		tap_ok(fd >= 0 && read(fd, magic, kinds[k].magic_size) == (ssize_t)kinds[k].magic_size &&
		       memcmp(magic, kinds[k].magic, kinds[k].magic_size) == 0,
		       "%s: the chunk file starts with its magic", stasync_compression_name(kinds[k].k));
		if (fd >= 0)
			close(fd);
	}
	for (size_t i = 0; i < 3 * 3; i++) {
		uint8_t *out = tap_xmalloc(c[i].size + 1);
		int r = stasync_store_get(s, codec, &c[i].id, STASYNC_DIGEST_SHA512_256, out,
					  c[i].size, &err);

		tap_ok(r == 0 && memcmp(out, c[i].data, c[i].size) == 0,
		       "%s: %zu bytes read back from the mixed store (%d %s)",
		       stasync_compression_name(kinds[i % 3].k), c[i].size, r, r < 0 ? err.message : "");
		r = get(s, &c[i], c[i].size - 1, &err);
		tap_ok(r == -EBADMSG, "%s: declared one byte short: -EBADMSG (%d %s)",
		       stasync_compression_name(kinds[i % 3].k), r, err.message);
		r = get(s, &c[i], c[i].size + 1, &err);
		tap_ok(r == -EBADMSG, "%s: declared one byte long: -EBADMSG (%d %s)",
		       stasync_compression_name(kinds[i % 3].k), r, err.message);
		free(out);
		free(c[i].data);
	}
	stasync_store_free(s);
}

static void test_compression_parse(void)
{
	stasync_error err = { 0, "" };
	int r;

	tap_ok(stasync_compression_parse("zstd", &err) == STASYNC_COMPRESSION_ZSTD,
	       "compression \"zstd\"");
	r = stasync_compression_parse("xz", &err);
	tap_ok(r == STASYNC_COMPRESSION_XZ, "compression \"xz\" (%d)", r);
	r = stasync_compression_parse("gzip", &err);
	tap_ok(r == STASYNC_COMPRESSION_GZIP, "compression \"gzip\" (%d)", r);
	tap_ok(strcmp(stasync_compression_name(STASYNC_COMPRESSION_GZIP), "gzip") == 0,
	       "the name of gzip");
	r = stasync_compression_parse("foo", &err);
	tap_ok(r == -EINVAL && strstr(err.message, "foo"),
	       "compression \"foo\": -EINVAL (%d \"%s\")", r, err.message);
	tap_ok(stasync_compression_parse("", NULL) == -EINVAL, "compression \"\": -EINVAL");
	tap_ok(stasync_compression_parse("ZSTD", NULL) == -EINVAL, "compression \"ZSTD\": -EINVAL");
}

int main(void)
{
	if (stasync_codec_new(&codec) < 0) {
		fprintf(stderr, "stasync_codec_new failed\n");
		return 99;
	}
	test_put_get();
	test_listed_dirs();
	test_bad_chunks();
	test_uncompressed();
	test_fallback();
	test_open();
	test_decode();
	test_zero_chunks();
	test_compressions();
	test_compression_parse();
	stasync_codec_free(codec);
	return tap_done();
}
