/* test-chunk-stream — the chunk writer and reader on their worker threads:
 * the index and the stream digest do not depend on how many threads hash
 * and store, the stream reads back whole with any number of fetching
 * threads, and a missing chunk is reported in order, after every byte
 * before it. Written out as it comes, a chunk the index names again is
 * read back from the output, and fetched when the bytes there are not it.
 * A stream longer than the writer's ring of chunks under way is cut and
 * hashed right; chunks so large that a few fill the reader's ring of
 * chunks under way read back whole. Drained, the stream comes to the
 * sink whole and in order, one call at a time, and a failure (the sink's
 * or a chunk's) stops it where it happened. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/chunk-stream.h>
#include "tap.h"
#include "testdata.h"

#define STREAM_SIZE ((size_t)3 << 20)

/* the stream the readers compare what they read with */
static uint8_t *stream;
static size_t stream_size;

/* The whole contents of fd from offset 0. */
static uint8_t *slurp(int fd, size_t *n)
{
	struct stat st;
	uint8_t *p;

	if (fstat(fd, &st) < 0)
		exit(99);
	p = tap_xmalloc((size_t)st.st_size);
	if (pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
		exit(99);
	*n = (size_t)st.st_size;
	return p;
}

/* Chunk data[0..size) with `threads` workers, in chunks of `sizes`, into
 * store `dir` (with_store) or none; the index is left in the file
 * `dir`.caibx, returned open. */
static int make_stream(const char *dir, bool with_store, const uint8_t *data, size_t size,
		       const char *sizes, unsigned threads, stasync_chunk_id *digest,
		       stasync_chunk_stats *stats)
{
	char path[4096];
	stasync_chunk_writer_options o = { .digest = STASYNC_DIGEST_SHA512_256, .threads = threads };
	stasync_error err = { 0, "" };
	stasync_chunk_writer *w = NULL;
	stasync_store *s = NULL;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", tap_tmpdir(), dir);
	if (stasync_chunk_sizes_parse(sizes, &o.sizes) < 0 ||
	    (with_store && stasync_store_open(path, STASYNC_STORE_WRITABLE, &s, &err) < 0))
		exit(99);
	snprintf(path, sizeof(path), "%s/%s.caibx", tap_tmpdir(), dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		exit(99);
	o.store = s;
	r = stasync_chunk_writer_new(&o, fd, path, &w, &err);
	/* in uneven pieces, as a pipe would give them */
	for (size_t off = 0, k = 1; r == 0 && off < size; off += k, k = k * 7 % 100003 + 1) {
		k = k < size - off ? k : size - off;
		r = stasync_chunk_writer_write(w, data + off, k, &err);
	}
	if (r == 0)
		r = stasync_chunk_writer_finish(w, digest, stats, &err);
	tap_ok(r == 0, "make with %u worker threads (%d %s)", threads, r, err.message);
	stasync_chunk_writer_free(w);
	stasync_store_free(s);
	return fd;
}

static int make(const char *dir, unsigned threads, stasync_chunk_id *digest,
		stasync_chunk_stats *stats)
{
	return make_stream(dir, true, stream, STREAM_SIZE, "1K:4K:16K", threads, digest, stats);
}

/* A stream longer than the writer's ring of chunks under way (16 MiB) and
 * more chunks than its slots (1024), so both go round more than once:
 * each chunk the index names is the digest of its own bytes. */
static void test_long_stream(void)
{
	const size_t size = (size_t)40 << 20;
	uint8_t *data = tap_xmalloc(size), *index;
	stasync_chunk_id digest, want, id;
	stasync_chunk_stats stats;
	size_t n, items, bad = 0;
	uint64_t start = 0;
	int fd;

	testdata_fill(data, size, 9, TESTDATA_MIXED);
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, data, size, &want);
	fd = make_stream("long", false, data, size, "1K:12K:48K", 2, &digest, &stats);
	index = slurp(fd, &n);
	items = (n - 64 - 40) / 40; /* header and table header; table tail */
	tap_ok(items > 2048 && stats.chunks == items, "%zu chunks", items);
	for (size_t j = 0; j < items; j++) {
		const uint8_t *item = index + 64 + j * 40;
		uint64_t end = 0;

		for (int k = 7; k >= 0; k--)
			end = end << 8 | item[k];
		if (end <= start || end > size) {
			bad++;
			break;
		}
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, data + start, end - start, &id);
		bad += memcmp(&id, item + 8, sizeof(id)) != 0;
		start = end;
	}
	tap_ok(bad == 0 && start == size, "each chunk's id is the digest of its bytes (%zu wrong)",
	       bad);
	tap_ok(memcmp(&digest, &want, sizeof(want)) == 0, "and the stream digest is the stream's");
	close(fd);
	free(index);
	free(data);
}

/* Open store `dir` and index fd afresh, for reading its stream back. */
static void open_stream(int index_fd, const char *dir, stasync_store **s,
			stasync_index_reader **ir, stasync_error *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", tap_tmpdir(), dir);
	if (stasync_store_open(path, 0, s, err) < 0 || lseek(index_fd, 0, SEEK_SET) != 0 ||
	    stasync_index_reader_open(dup(index_fd), "index", ir, err) < 0)
		exit(99);
}

static void close_stream(stasync_chunk_reader *cr, stasync_index_reader *ir, stasync_store *s)
{
	stasync_chunk_reader_free(cr);
	stasync_index_reader_free(ir);
	stasync_store_free(s);
}

/* Read the stream of index fd back from store `dir` with `threads`
 * fetching threads: how many bytes matched before the end or an error.
 * With out_fd >= 0, write each chunk at `base` + its offset of out_fd
 * (which the reader reads repeated chunks back from); once the chunk at
 * stream offset `at` is written, remove the chunk file `gone` (when not
 * NULL), or spoil its first byte in out_fd (or both: `spoil`). */
static int read_written(int index_fd, const char *dir, unsigned threads, int out_fd,
			uint64_t base, uint64_t at, const char *gone, bool spoil, size_t *matched,
			stasync_error *err)
{
	stasync_index_reader *ir = NULL;
	stasync_chunk_reader *cr = NULL;
	stasync_store *s = NULL;
	const void *p;
	size_t n;
	int r;

	open_stream(index_fd, dir, &s, &ir, err);
	if (out_fd >= 0 && ftruncate(out_fd, 0) < 0)
		exit(99);
	stasync_fetch f = { .stores = &s, .n_stores = 1, .threads = threads };
	r = out_fd >= 0 ? stasync_chunk_reader_new_reread(ir, &f, out_fd, base, &cr, err) :
			  stasync_chunk_reader_new(ir, &f, &cr, err);
	*matched = 0;
	while (r == 0 && (r = stasync_chunk_reader_next(cr, &p, &n, err)) > 0) {
		if (*matched + n > stream_size || memcmp(stream + *matched, p, n) != 0) {
			r = -EBADMSG;
			break;
		}
		if (out_fd < 0) {
			*matched += n;
			r = 0;
			continue;
		}
		if (pwrite(out_fd, p, n, (off_t)(base + *matched)) != (ssize_t)n)
			exit(99);
		if (*matched == at && gone && unlink(gone) < 0)
			exit(99);
		if (*matched == at && (!gone || spoil) && pwrite(out_fd, "x", 1, (off_t)(base + at)) != 1)
			exit(99);
		*matched += n;
		r = 0;
	}
	close_stream(cr, ir, s);
	return r;
}

static int read_back(int index_fd, const char *dir, unsigned threads, size_t *matched,
		     stasync_error *err)
{
	return read_written(index_fd, dir, threads, -1, 0, 0, NULL, false, matched, err);
}

/* What the sink of a drain checks and counts. */
struct drained {
	size_t matched;         /* bytes that were the stream's, in order */
	size_t calls;
	size_t fail_at;         /* the call that fails (0: none) */
	int inside;             /* calls under way: never more than one */
	bool overlapped, wrong;
};

static int sink(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct drained *d = ctx;
	int r = 0;

	if (__atomic_add_fetch(&d->inside, 1, __ATOMIC_SEQ_CST) != 1)
		d->overlapped = true;
	d->calls++;
	if (d->fail_at && d->calls == d->fail_at) {
		r = err->code = -EIO;
		snprintf(err->message, sizeof(err->message), "sink failed at call %zu", d->calls);
	} else if (d->matched + n > stream_size || memcmp(stream + d->matched, p, n) != 0)
		d->wrong = true;
	else
		d->matched += n;
	__atomic_sub_fetch(&d->inside, 1, __ATOMIC_SEQ_CST);
	return r;
}

/* Drain the stream of index fd from store `dir` with `threads` fetching
 * threads into sink(): its result, and what the sink saw in d. */
static int drain_back(int index_fd, const char *dir, unsigned threads, struct drained *d,
		      stasync_chunk_stats *stats, stasync_error *err)
{
	stasync_index_reader *ir = NULL;
	stasync_store *s = NULL;
	int r;

	open_stream(index_fd, dir, &s, &ir, err);
	stasync_fetch f = { .stores = &s, .n_stores = 1, .threads = threads };
	r = stasync_chunk_reader_drain(ir, &f, sink, d, stats, err);
	close_stream(NULL, ir, s);
	return r;
}

/* Read the stream of index fd back from store `dir` taking pieces where
 * they lie and copying others out, in turns of varied sizes: how many
 * bytes matched before the end or an error. */
static int take_and_read(int index_fd, const char *dir, size_t *matched, stasync_error *err)
{
	static const size_t sizes[] = { 1, 7, 4096, 100000, 65536 * 5 };
	stasync_index_reader *ir = NULL;
	stasync_chunk_reader *cr = NULL;
	stasync_store *s = NULL;
	uint8_t *buf = tap_xmalloc(65536 * 5);
	size_t turn = 0;
	ssize_t k;

	open_stream(index_fd, dir, &s, &ir, err);
	stasync_fetch f = { .stores = &s, .n_stores = 1, .threads = 3 };
	if (stasync_chunk_reader_new(ir, &f, &cr, err) < 0)
		exit(99);
	*matched = 0;
	for (;; turn++) {
		size_t n = sizes[turn % 5];
		const void *p = buf;

		if (turn / 5 % 2)
			k = stasync_chunk_reader_read(cr, buf, n, err);
		else
			k = stasync_chunk_reader_take(cr, n, &p, err);
		if (k <= 0)
			break;
		if ((size_t)k > n || *matched + (size_t)k > stream_size ||
		    memcmp(stream + *matched, p, (size_t)k) != 0) {
			k = -EBADMSG;
			break;
		}
		*matched += (size_t)k;
	}
	free(buf);
	close_stream(cr, ir, s);
	return (int)k;
}

/* Chunks of up to 8 MiB: the reader's ring (STASYNC_FETCH_WINDOW_BYTES)
 * holds two of the largest, fewer than its threads and slots, so workers
 * wait for room in it and it wraps. */
static void test_large_chunks(void)
{
	const size_t size = (size_t)40 << 20;
	stasync_chunk_stats stats;
	stasync_chunk_id digest;
	stasync_error err = { 0, "" };
	size_t matched;
	int fd, r;

	stream = tap_xmalloc(size);
	stream_size = size;
	testdata_fill(stream, size, 11, TESTDATA_MIXED);
	fd = make_stream("large", true, stream, size, "512K:2M:8M", 2, &digest, &stats);
	tap_ok(stats.chunks >= 8, "%llu chunks of up to 8 MiB", (unsigned long long)stats.chunks);
	r = read_back(fd, "large", 16, &matched, &err);
	tap_ok(r == 0 && matched == size, "read back in order with 16 fetching threads (%d, %zu, %s)",
	       r, matched, err.message);
	{
		struct drained d = { 0 };

		r = drain_back(fd, "large", 16, &d, NULL, &err);
		tap_ok(r == 0 && d.matched == size && !d.wrong && !d.overlapped,
		       "drained in order with 16 fetching threads (%d, %zu, %s)", r, d.matched,
		       err.message);
	}
	close(fd);
	free(stream);
	stream = NULL;
}

int main(void)
{
	static const unsigned writers[] = { 1, 2, 8 }, readers[] = { 1, 3, 16 };
	stasync_chunk_id digests[3], want;
	stasync_chunk_stats stats[3];
	uint8_t *index[3];
	size_t index_n[3], matched;
	char dir[16], hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_error err = { 0, "" };
	int fds[3], r;

	test_long_stream();
	test_large_chunks();
	stream = tap_xmalloc(STREAM_SIZE);
	stream_size = STREAM_SIZE;
	testdata_fill(stream, STREAM_SIZE, 5, TESTDATA_MIXED);
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, stream, STREAM_SIZE, &want);

	for (size_t i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "st%zu", i);
		fds[i] = make(dir, writers[i], &digests[i], &stats[i]);
		index[i] = slurp(fds[i], &index_n[i]);
	}
	tap_ok(stats[0].chunks > 300 && stats[0].chunks_new < stats[0].chunks,
	       "many chunks, some repeated (%llu chunks, %llu new)",
	       (unsigned long long)stats[0].chunks, (unsigned long long)stats[0].chunks_new);
	for (size_t i = 1; i < 3; i++) {
		tap_ok(index_n[i] == index_n[0] && memcmp(index[i], index[0], index_n[0]) == 0,
		       "%u workers write the index 1 worker writes, byte for byte", writers[i]);
		tap_ok(stats[i].chunks == stats[0].chunks && stats[i].bytes == STREAM_SIZE,
		       "  with the same chunk count and size");
	}
	for (size_t i = 0; i < 3; i++)
		tap_ok(memcmp(&digests[i], &want, sizeof(want)) == 0,
		       "the stream digest with %u workers is the digest of the stream", writers[i]);

	for (size_t i = 0; i < 3; i++) {
		r = read_back(fds[0], "st0", readers[i], &matched, &err);
		tap_ok(r == 0 && matched == STREAM_SIZE,
		       "read back in order with %u fetching threads (%d, %zu bytes, %s)", readers[i],
		       r, matched, err.message);
	}

	for (size_t i = 0; i < 3; i++) {
		struct drained d = { 0 };
		stasync_chunk_stats st;

		r = drain_back(fds[0], "st0", readers[i], &d, &st, &err);
		tap_ok(r == 0 && d.matched == STREAM_SIZE && !d.wrong,
		       "drained whole and in order with %u fetching threads (%d, %zu bytes, %s)",
		       readers[i], r, d.matched, err.message);
		tap_ok(!d.overlapped && d.calls == stats[0].chunks && st.chunks == stats[0].chunks &&
			       st.bytes == STREAM_SIZE,
		       "  one call at a time, one a chunk, and counted (%zu calls, %llu chunks)", d.calls,
		       (unsigned long long)st.chunks);
	}
	{
		struct drained d = { .fail_at = 100 };

		stasync_error_clear(&err);
		r = drain_back(fds[0], "st0", 3, &d, NULL, &err);
		tap_ok(r == -EIO && d.calls == 100 && strstr(err.message, "call 100"),
		       "a failing sink stops the drain with its error (%d, %zu calls, %s)", r, d.calls,
		       err.message);
	}

	r = take_and_read(fds[0], "st0", &matched, &err);
	tap_ok(r == 0 && matched == STREAM_SIZE,
	       "pieces taken where they lie and pieces copied out, in turns (%d, %zu bytes, %s)",
	       r, matched, err.message);

	/* The 100th chunk goes missing: every byte before its first use still
	 * comes out. Items: 64 bytes of headers, then (end offset, id) of 40. */
	{
		const uint8_t *victim = index[0] + 64 + 99 * 40 + 8;
		uint64_t end_before = 0;
		char path[4096];

		for (size_t j = 0; memcmp(index[0] + 64 + j * 40 + 8, victim, 32) != 0; j++) {
			end_before = 0;
			for (size_t k = 0; k < 8; k++)
				end_before |= (uint64_t)index[0][64 + j * 40 + k] << (8 * k);
		}
		stasync_chunk_id_format((const stasync_chunk_id *)victim, hex);
		snprintf(path, sizeof(path), "%s/st0/%.4s/%s.cacnk", tap_tmpdir(), hex, hex);
		if (unlink(path) < 0)
			exit(99);
		for (size_t i = 0; i < 3; i++) {
			stasync_error_clear(&err);
			r = read_back(fds[0], "st0", readers[i], &matched, &err);
			tap_ok(r == -ENOENT && matched == end_before && strstr(err.message, hex),
			       "%u threads: a missing chunk fails after the %llu bytes before it, naming it (%d, %zu, %s)",
			       readers[i], (unsigned long long)end_before, r, matched, err.message);
		}
		for (size_t i = 0; i < 3; i++) {
			struct drained d = { 0 };

			stasync_error_clear(&err);
			r = drain_back(fds[0], "st0", readers[i], &d, NULL, &err);
			tap_ok(r == -ENOENT && d.matched == end_before && !d.wrong && strstr(err.message, hex),
			       "%u threads: drained, a missing chunk fails after the bytes before it (%d, %zu, %s)",
			       readers[i], r, d.matched, err.message);
		}
	}

	/* A chunk named twice, far enough apart that the second is not
	 * fetched before the first is written. Its file goes once the first
	 * is written: the second comes from the output. */
	{
		size_t items = (index_n[1] - 64 - 48) / 40, first = 0, again = 0;
		uint64_t at = 0;
		char path[4096];
		int out;

		for (size_t j = 0; j < items && !again; j++)
			for (size_t k = j + 40; k < items && !again; k++)
				if (memcmp(index[1] + 64 + j * 40 + 8, index[1] + 64 + k * 40 + 8, 32) == 0)
					first = j, again = k;
		if (!again)
			exit(99);
		for (size_t k = 0; first > 0 && k < 8; k++)
			at |= (uint64_t)index[1][64 + (first - 1) * 40 + k] << (8 * k);
		stasync_chunk_id_format((const stasync_chunk_id *)(index[1] + 64 + first * 40 + 8), hex);
		snprintf(path, sizeof(path), "%s/out", tap_tmpdir());
		out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			exit(99);
		for (size_t i = 0; i < 3; i++) {
			stasync_error_clear(&err);
			r = read_written(fds[1], "st1", readers[i], out, 100, at, NULL, false, &matched,
					 &err);
			tap_ok(r == 0 && matched == STREAM_SIZE,
			       "%u threads: a repeated chunk spoilt in the output is fetched again (%d, %zu, %s)",
			       readers[i], r, matched, err.message);
		}
		snprintf(path, sizeof(path), "%s/st1/%.4s/%s.cacnk", tap_tmpdir(), hex, hex);
		r = read_written(fds[1], "st1", 16, out, 100, at, path, false, &matched, &err);
		tap_ok(r == 0 && matched == STREAM_SIZE,
		       "chunk %zu, the same as %zu, is read back from the output (%d, %zu, %s)", again,
		       first, r, matched, err.message);
		close(out);
	}

	/* Runs of zeros, cut into all-zero chunks of the largest size: once
	 * a worker has met one, the next ones are neither fetched nor read
	 * back. The first one's file goes once it is written, and its bytes
	 * in the output are spoilt: the ones after it still come out. */
	{
		static uint8_t zeros[16 << 10];
		stasync_chunk_id zero_id;
		stasync_chunk_stats st;
		uint8_t *idx;
		size_t idx_n, items, first = 0, later = 0;
		uint64_t at = 0;
		char path[4096];
		int fd, out;

		memset(stream + ((size_t)1 << 20), 0, (size_t)512 << 10);
		memset(stream + ((size_t)2 << 20), 0, (size_t)256 << 10);
		fd = make("st3", 2, &want, &st);
		idx = slurp(fd, &idx_n);
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, zeros, sizeof(zeros), &zero_id);
		items = (idx_n - 64 - 48) / 40;
		for (size_t j = 0; j < items; j++) {
			if (memcmp(idx + 64 + j * 40 + 8, &zero_id, 32) != 0)
				continue;
			if (!first)
				first = j;
			else
				later++;
		}
		tap_ok(first > 0 && later >= 40, "zeros: chunk %zu is all-zero, and %zu after it",
		       first, later);
		for (size_t k = 0; first > 0 && k < 8; k++)
			at |= (uint64_t)idx[64 + (first - 1) * 40 + k] << (8 * k);
		stasync_chunk_id_format(&zero_id, hex);
		snprintf(path, sizeof(path), "%s/out0", tap_tmpdir());
		out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0)
			exit(99);
		snprintf(path, sizeof(path), "%s/st3/%.4s/%s.cacnk", tap_tmpdir(), hex, hex);
		stasync_error_clear(&err);
		r = read_written(fd, "st3", 1, out, 0, at, path, true, &matched, &err);
		tap_ok(r == 0 && matched == STREAM_SIZE,
		       "zeros: the all-zero chunks after the first come without its file or its bytes (%d, %zu, %s)",
		       r, matched, err.message);
		close(out);
		close(fd);
		free(idx);
	}

	for (size_t i = 0; i < 3; i++) {
		free(index[i]);
		close(fds[i]);
	}
	free(stream);
	return tap_done();
}
