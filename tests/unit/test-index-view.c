/* test-index-view — random access to an index's stream: reads anywhere
 * give the stream's bytes (across chunks, at the ends, past the end), from
 * many threads at once; a missing or corrupt chunk fails the reads that
 * touch it, naming it, and only those, and is tried again later; the cache
 * keeps within its bound and saves fetches; reads that follow on from one
 * another fetch ahead, random ones fetch only what they touch. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/chunk-stream.h>
#include <stasync/index-view.h>
#include "tap.h"
#include "testdata.h"

#define STREAM_SIZE ((size_t)2 << 20)
#define CHUNK_MAX 16384

static uint8_t *stream;
static stasync_store *store;
static int index_fd = -1;
static stasync_index_item *items;
static size_t n_items;

/* Chunk the stream into store "st" and an index in an unlinked file. */
static void make(void)
{
	stasync_chunk_writer_options o = { .digest = STASYNC_DIGEST_SHA512_256, .threads = 2 };
	stasync_error err = { 0, "" };
	stasync_chunk_writer *w = NULL;
	stasync_chunk_stats stats;
	stasync_chunk_id digest;
	int r;

	if (stasync_chunk_sizes_parse("1K:4K:16K", &o.sizes) < 0 ||
	    stasync_store_open(tap_tmp_path("st"), STASYNC_STORE_WRITABLE, &store, &err) < 0)
		exit(99);
	index_fd = open(tap_tmp_path("st.caibx"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (index_fd < 0)
		exit(99);
	o.store = store;
	r = stasync_chunk_writer_new(&o, index_fd, "st.caibx", &w, &err);
	if (r == 0)
		r = stasync_chunk_writer_write(w, stream, STREAM_SIZE, &err);
	if (r == 0)
		r = stasync_chunk_writer_finish(w, &digest, &stats, &err);
	stasync_chunk_writer_free(w);
	if (!tap_ok(r == 0, "a blob of %zu bytes chunked into a store (%s)", STREAM_SIZE, err.message))
		exit(99);
}

static stasync_index_reader *index_open(void)
{
	stasync_index_reader *ir = NULL;
	stasync_error err = { 0, "" };

	if (lseek(index_fd, 0, SEEK_SET) != 0 ||
	    stasync_index_reader_open(dup(index_fd), "st.caibx", &ir, &err) < 0)
		exit(99);
	return ir;
}

/* The index's items, read the plain way, to know where chunks lie. */
static void load_items(void)
{
	stasync_index_reader *ir = index_open();
	stasync_index_item item;
	size_t cap = 0;

	while (stasync_index_reader_next(ir, &item, NULL) > 0) {
		if (n_items == cap) {
			cap = cap ? cap * 2 : 256;
			items = realloc(items, cap * sizeof(*items));
			if (!items)
				exit(99);
		}
		items[n_items++] = item;
	}
	stasync_index_reader_free(ir);
}

static stasync_index_view *view_open(size_t cache, unsigned readahead, stasync_progress *p)
{
	stasync_fetch f = { .stores = &store, .n_stores = 1, .threads = 4, .progress = p };
	stasync_index_view_options o = { .fetch = &f, .cache_bytes = cache, .readahead = readahead };
	stasync_index_reader *ir = index_open();
	stasync_error err = { 0, "" };
	stasync_index_view *v = NULL;

	if (stasync_index_view_new(ir, &o, "st.caibx", &v, &err) < 0) {
		tap_diag("cannot make a view: %s", err.message);
		exit(99);
	}
	stasync_index_reader_free(ir);
	return v;
}

/* pread n bytes at off and compare with the stream: true when the view gave
 * exactly what the stream holds there. */
static bool check_read(stasync_index_view *v, uint64_t off, size_t n, uint8_t *buf)
{
	size_t want = off >= STREAM_SIZE ? 0 : (n < STREAM_SIZE - off ? n : STREAM_SIZE - off);
	stasync_error err = { 0, "" };
	ssize_t k = stasync_index_view_pread(v, buf, n, off, &err);

	if (k != (ssize_t)want) {
		tap_diag("pread(%zu at %llu): %zd, not %zu (%s)", n, (unsigned long long)off, k,
			 want, err.message);
		return false;
	}
	return memcmp(buf, stream + (want ? off : 0), want) == 0;
}

/* The chunks a read of [off, off + n) touches. */
static void touched(uint64_t off, size_t n, size_t *first, size_t *last)
{
	*first = *last = 0;
	for (size_t i = 0; i < n_items; i++) {
		if (items[i].offset + items[i].size <= off)
			continue;
		if (items[i].offset >= off + n)
			break;
		if (*first == 0 && (i == 0 || items[i - 1].offset + items[i - 1].size <= off))
			*first = i;
		*last = i;
	}
}

static void test_random_reads(void)
{
	stasync_index_view *v = view_open(0, 2, NULL);
	uint8_t *buf = tap_xmalloc(STREAM_SIZE + 100);
	uint64_t rng = 7;
	size_t bad = 0;

	tap_ok(stasync_index_view_size(v) == STREAM_SIZE && stasync_index_view_chunks(v) == n_items,
	       "the view's size is the stream's, in %zu chunks", n_items);
	tap_ok(stasync_index_view_header(v)->chunk_size_max == CHUNK_MAX,
	       "the view gives the index's header");
	tap_ok(check_read(v, 0, 1, buf), "one byte at 0");
	tap_ok(check_read(v, 0, STREAM_SIZE, buf), "the whole stream in one read");
	tap_ok(check_read(v, STREAM_SIZE - 10, 100, buf), "a read across the end gives what is left");
	tap_ok(check_read(v, STREAM_SIZE, 100, buf), "a read at the end gives 0");
	tap_ok(check_read(v, STREAM_SIZE + 12345, 100, buf), "a read past the end gives 0");
	tap_ok(check_read(v, 5000, 0, buf), "a read of nothing gives 0");
	tap_ok(check_read(v, items[10].offset + items[10].size - 1, 2, buf),
	       "two bytes across a chunk boundary");
	for (size_t i = 0; i < 2000; i++) {
		uint64_t off = testdata_rand(&rng) % (STREAM_SIZE + 100);
		size_t n = (size_t)(testdata_rand(&rng) % (i % 10 == 0 ? 200000 : 20000));

		bad += !check_read(v, off, n, buf);
	}
	tap_ok(bad == 0, "2000 reads at random offsets and lengths match the stream (%zu differ)", bad);
	free(buf);
	stasync_index_view_free(v);
}

struct reader {
	stasync_index_view *v;
	uint64_t seed;
	size_t bad;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = tap_xmalloc(70000);

	for (size_t i = 0; i < 300; i++) {
		uint64_t off = testdata_rand(&r->seed) % STREAM_SIZE;
		size_t n = (size_t)(testdata_rand(&r->seed) % 70000);

		/* now and then a few reads that follow on, to fetch ahead too */
		for (size_t j = 0; j < (i % 16 == 0 ? 8 : 1); j++, off += n)
			r->bad += !check_read(r->v, off, n, buf);
	}
	free(buf);
	return NULL;
}

static void test_threads(size_t cache)
{
	stasync_index_view *v = view_open(cache, 4, NULL);
	struct reader readers[8];
	pthread_t t[8];
	stasync_index_view_stats st;
	size_t bad = 0;

	for (size_t i = 0; i < 8; i++) {
		readers[i] = (struct reader){ .v = v, .seed = 100 + i };
		if (pthread_create(&t[i], NULL, reader_thread, &readers[i]) != 0)
			exit(99);
	}
	for (size_t i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		bad += readers[i].bad;
	}
	stasync_index_view_stats_get(v, &st);
	tap_ok(bad == 0, "8 threads reading at once with a cache of %zu bytes: all reads match (%zu differ)",
	       cache, bad);
	tap_ok(st.cached_bytes <= cache + 8 * CHUNK_MAX && st.failed == 0,
	       "  the cache holds %llu bytes, within its bound and one chunk a thread; nothing failed",
	       (unsigned long long)st.cached_bytes);
	tap_diag("fetched %llu, hits %llu, ahead %llu, evicted %llu",
		 (unsigned long long)st.fetched, (unsigned long long)st.cache_hits,
		 (unsigned long long)st.prefetched, (unsigned long long)st.evicted);
	stasync_index_view_free(v);
}

static void test_cache(void)
{
	stasync_index_view_stats a, b;
	stasync_index_view *v = view_open(64 << 10, 4, NULL);
	uint8_t *buf = tap_xmalloc(STREAM_SIZE);
	uint64_t rng = 99;
	size_t first, last, bad = 0, over = 0;

	touched(items[50].offset + 100, 10000, &first, &last);
	check_read(v, items[50].offset + 100, 10000, buf);
	stasync_index_view_stats_get(v, &a);
	tap_ok(check_read(v, items[50].offset + 100, 10000, buf), "a small range read again");
	stasync_index_view_stats_get(v, &b);
	tap_ok(a.fetched == last - first + 1 && b.fetched == a.fetched &&
	       b.cache_hits == a.cache_hits + (last - first + 1),
	       "  fetches nothing more: its %zu chunks come from the cache", last - first + 1);

	for (size_t i = 0; i < 500; i++) {
		bad += !check_read(v, testdata_rand(&rng) % STREAM_SIZE,
				   (size_t)(testdata_rand(&rng) % 30000), buf);
		stasync_index_view_stats_get(v, &b);
		over += b.cached_bytes > (64 << 10);
	}
	tap_ok(bad == 0 && over == 0 && b.evicted > 0,
	       "random reads through a 64 KiB cache: right, and never more than 64 KiB kept (%zu, %zu, %llu evicted)",
	       bad, over, (unsigned long long)b.evicted);
	stasync_index_view_free(v);

	/* a cache smaller than a chunk still keeps the chunk being read */
	for (int k = 0; k < 2; k++) {
		size_t cache = k == 0 ? 1 : CHUNK_MAX;

		v = view_open(cache, 4, NULL);
		bad = 0;
		for (uint64_t off = 0; off < STREAM_SIZE; off += 7000)
			bad += !check_read(v, off, 7000, buf);
		for (size_t i = 0; i < 300; i++)
			bad += !check_read(v, testdata_rand(&rng) % STREAM_SIZE,
					   (size_t)(testdata_rand(&rng) % 30000), buf);
		stasync_index_view_stats_get(v, &b);
		tap_ok(bad == 0 && b.cached_bytes <= CHUNK_MAX,
		       "a cache of %zu bytes: reads in order and at random still right (%zu differ), %llu bytes kept",
		       cache, bad, (unsigned long long)b.cached_bytes);
		stasync_index_view_free(v);
	}
	free(buf);
}

static void test_ahead(void)
{
	stasync_progress progress = { 0 };
	stasync_index_view *v = view_open(4 << 20, 4, &progress);
	stasync_index_view_stats st;
	uint8_t *buf = tap_xmalloc(STREAM_SIZE);
	uint64_t rng = 5;
	size_t bad = 0, want = 0;
	bool *seen;

	/* The second read follows on from the first: the chunks after it are
	 * fetched ahead. On a busy machine the reads may outrun the threads
	 * fetching ahead, so wait for them once (5 s at most). */
	bad += !check_read(v, 0, 65536, buf);
	bad += !check_read(v, 65536, 65536, buf);
	for (int i = 0; i < 500; i++) {
		stasync_index_view_stats_get(v, &st);
		if (st.prefetched > 0)
			break;
		usleep(10000);
	}
	for (uint64_t off = 2 * 65536; off < STREAM_SIZE; off += 65536)
		bad += !check_read(v, off, 65536, buf);
	stasync_index_view_stats_get(v, &st);
	tap_ok(bad == 0, "the stream read in order, 64 KiB at a time");
	tap_ok(st.prefetched > 0 && st.fetched + st.prefetched == n_items && st.failed == 0,
	       "  fetched ahead (%llu of %zu chunks), each chunk once",
	       (unsigned long long)st.prefetched, n_items);
	tap_ok(progress.chunks == n_items && progress.bytes == STREAM_SIZE,
	       "  the progress counts every chunk fetched (%llu)", (unsigned long long)progress.chunks);
	stasync_index_view_free(v);

	/* random reads: only the chunks they touch */
	v = view_open(4 << 20, 4, NULL);
	seen = calloc(n_items, sizeof(*seen));
	if (!seen)
		exit(99);
	for (size_t i = 0; i < 40; i++) {
		uint64_t off = testdata_rand(&rng) % STREAM_SIZE;
		size_t n = (size_t)(testdata_rand(&rng) % 10000) + 1, first, last;

		bad += !check_read(v, off, n, buf);
		touched(off, n, &first, &last);
		for (size_t j = first; j <= last; j++) {
			want += !seen[j];
			seen[j] = true;
		}
	}
	stasync_index_view_stats_get(v, &st);
	tap_ok(bad == 0 && st.fetched == want && st.prefetched == 0,
	       "40 random reads fetch the %zu chunks they touch and nothing else (%llu, %llu ahead)",
	       want, (unsigned long long)st.fetched, (unsigned long long)st.prefetched);
	free(seen);
	stasync_index_view_free(v);

	/* reads in order that say STASYNC_INDEX_VIEW_NO_AHEAD: nothing ahead */
	v = view_open(4 << 20, 4, NULL);
	for (uint64_t off = 0; off < 8 * 65536; off += 4096) {
		stasync_error err = { 0, "" };

		bad += stasync_index_view_pread_flags(v, buf, 4096, off, STASYNC_INDEX_VIEW_NO_AHEAD,
						      &err) != 4096 || memcmp(buf, stream + off, 4096);
	}
	usleep(100000);
	stasync_index_view_stats_get(v, &st);
	tap_ok(bad == 0 && st.prefetched == 0 && st.fetched > 0,
	       "reads in order with NO_AHEAD fetch nothing ahead (%llu fetched, %llu ahead)",
	       (unsigned long long)st.fetched, (unsigned long long)st.prefetched);
	free(buf);
	stasync_index_view_free(v);
}

/* Chunk i's file in the store. */
static const char *chunk_path(size_t i, char hex[STASYNC_DIGEST_HEX_SIZE])
{
	static char path[4096];

	stasync_chunk_id_format(&items[i].id, hex);
	snprintf(path, sizeof(path), "%s/%.4s/%s.cacnk", tap_tmp_path("st"), hex, hex);
	return path;
}

/* The first chunk from i on whose id is used nowhere else in the stream. */
static size_t unique_chunk(size_t i)
{
	for (;; i++) {
		size_t uses = 0;

		for (size_t j = 0; j < n_items; j++)
			uses += stasync_chunk_id_equal(&items[j].id, &items[i].id);
		if (uses == 1)
			return i;
	}
}

static void test_bad_chunk(bool corrupt)
{
	const char *what = corrupt ? "corrupt" : "missing";
	size_t bad_i = unique_chunk(corrupt ? 200 : 100), ok_i = bad_i + 20;
	char hex[STASYNC_DIGEST_HEX_SIZE];
	const char *path = chunk_path(bad_i, hex);
	stasync_error err = { 0, "" };
	stasync_index_view_stats st;
	stasync_index_view *v;
	uint8_t *buf = tap_xmalloc(STREAM_SIZE), *saved;
	struct stat sb;
	ssize_t k;
	int fd, want = corrupt ? -EBADMSG : -EIO;

	/* keep the chunk's file, then break it */
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0)
		exit(99);
	saved = tap_xmalloc((size_t)sb.st_size);
	if (pread(fd, saved, (size_t)sb.st_size, 0) != sb.st_size)
		exit(99);
	if (corrupt) {
		uint8_t x = saved[sb.st_size / 2] ^ 0x5a;

		if (pwrite(fd, &x, 1, sb.st_size / 2) != 1)
			exit(99);
	} else if (unlink(path) < 0) {
		exit(99);
	}
	close(fd);

	v = view_open(1 << 20, 4, NULL);
	k = stasync_index_view_pread(v, buf, 2000, items[bad_i].offset - 1000, &err);
	tap_ok(k == want && strstr(err.message, hex) && strstr(err.message, "st.caibx"),
	       "a read touching a %s chunk fails, naming it (%zd: %s)", what, k, err.message);
	tap_ok(check_read(v, items[ok_i].offset, 3000, buf) &&
	       check_read(v, items[bad_i - 20].offset, 3000, buf),
	       "  reads of other chunks still succeed");
	stasync_error_clear(&err);
	k = stasync_index_view_pread(v, buf, 10, items[bad_i].offset + 5, &err);
	stasync_index_view_stats_get(v, &st);
	tap_ok(k == want && strstr(err.message, hex) && st.failed == 2,
	       "  a second read of it fails again: the failure was not kept (%llu failed)",
	       (unsigned long long)st.failed);

	/* in order, with chunks fetched ahead: the read of it fails */
	stasync_error_clear(&err);
	for (uint64_t off = 0; (k = stasync_index_view_pread(v, buf, 32768, off, &err)) > 0; off += (uint64_t)k)
		if (memcmp(buf, stream + off, (size_t)k) != 0)
			break;
	tap_ok(k == want && strstr(err.message, hex),
	       "  reading in order stops at it too (%zd: %s)", k, err.message);

	/* mended, it reads */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, saved, (size_t)sb.st_size) != sb.st_size)
		exit(99);
	close(fd);
	tap_ok(check_read(v, items[bad_i].offset - 1000, 2000, buf),
	       "  once the store holds it again, the same view reads it");
	free(saved);
	free(buf);
	stasync_index_view_free(v);
}

int main(void)
{
	stream = tap_xmalloc(STREAM_SIZE);
	testdata_fill(stream, STREAM_SIZE, 11, TESTDATA_MIXED);
	make();
	load_items();
	tap_ok(n_items > 200, "%zu chunks", n_items);

	test_random_reads();
	test_threads(256 << 10);
	test_threads(32 << 20);
	test_cache();
	test_ahead();
	test_bad_chunk(false);
	test_bad_chunk(true);

	stasync_store_free(store);
	close(index_fd);
	free(items);
	free(stream);
	return tap_done();
}
