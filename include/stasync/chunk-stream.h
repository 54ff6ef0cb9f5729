/* ==== Chunked streams ======================================================
 * The two ends every index-based verb shares: a writer that chunks a byte
 * stream into a store and an index, and a reader that turns an index and
 * stores back into the byte stream. Blobs and catar archives both use them. */
#ifndef STASYNC_CHUNK_STREAM_H
#define STASYNC_CHUNK_STREAM_H

#include <stdint.h>
#include <sys/types.h>

#include <stasync/error.h>
#include <stasync/digest.h>
#include <stasync/chunker.h>
#include <stasync/index.h>
#include <stasync/store.h>
#include <stasync/progress.h>

typedef struct stasync_chunk_stats {
	uint64_t bytes;       /* stream size */
	uint64_t chunks;      /* chunks in the index */
	uint64_t chunks_new;  /* chunks written to the store (writer) */
	uint64_t chunks_cached; /* chunks read from the cache (reader) */
	uint64_t chunks_seeded; /* chunks read from the seeds (reader) */
	uint64_t chunks_in_place; /* found in the output already (blob, in place) */
	uint64_t bytes_cloned;  /* shared with a seed file, not copied (blob, reflink) */
} stasync_chunk_stats;

/* ---- Writing ------------------------------------------------------------- */
typedef struct stasync_chunk_writer stasync_chunk_writer;

typedef struct stasync_chunk_writer_options {
	stasync_chunk_sizes sizes;     /* completed sizes */
	stasync_digest_type digest;    /* chunk ids and the stream digest */
	uint64_t feature_flags;        /* for the index header */
	stasync_store *store;          /* NULL: write only the index */
	/* Threads hashing, compressing and storing chunks while the caller's
	 * thread cuts the next ones. 0: one per CPU (at most 8). */
	unsigned threads;
	stasync_progress *progress;    /* NULL, or advanced per chunk indexed */
} stasync_chunk_writer_options;

/* stasync_chunk_writer_new() — chunks go to o->store, the index to
 * index_fd (not owned), named index_name in messages. */
int stasync_chunk_writer_new(const stasync_chunk_writer_options *o, int index_fd,
			     const char *index_name, stasync_chunk_writer **ret,
			     stasync_error *err);

/* stasync_chunk_writer_write() — append n bytes of the stream. Has the
 * stasync_write_fn signature, so it can be handed to the catar encoder. */
int stasync_chunk_writer_write(void *w, const void *p, size_t n, stasync_error *err);

/* stasync_chunk_writer_finish() — emit the last chunk, write the index tail;
 * *digest receives the digest of the whole stream (what casync prints). */
int stasync_chunk_writer_finish(stasync_chunk_writer *w, stasync_chunk_id *digest,
				stasync_chunk_stats *stats, stasync_error *err);
void stasync_chunk_writer_free(stasync_chunk_writer *w);

/* ---- Reading ------------------------------------------------------------- */
typedef struct stasync_chunk_reader stasync_chunk_reader;

/* Where chunks come from, and how many are fetched at once. */
typedef struct stasync_fetch {
	stasync_store *const *stores;  /* tried in order for each chunk */
	size_t n_stores;
	/* NULL, or a writable store asked first and given every chunk the
	 * others yield (--cache). */
	stasync_store *cache;
	/* Chunks fetched, decompressed and checked at once, each on a thread
	 * of its own. 0: STASYNC_FETCH_THREADS_REMOTE when a store is not
	 * local, else one per CPU (at most 4). Fewer are under way when
	 * the window below is full. */
	unsigned threads;
	stasync_progress *progress;    /* NULL, or advanced per chunk delivered */
	/* NULL, or local data asked before the cache and the stores */
	struct stasync_seed *seed;
} stasync_fetch;

#define STASYNC_FETCH_THREADS_REMOTE 16
/* What the chunks fetched ahead may hold at most, together (or two of
 * the largest, when that is more). */
#define STASYNC_FETCH_WINDOW_BYTES ((size_t)16 << 20)

/* stasync_chunk_reader_new() — read the stream `index` describes from the
 * stores. Chunks are fetched ahead in parallel and handed out in order;
 * a failure is reported when the stream reaches the chunk that failed.
 * Takes ownership of nothing; `f` and what it names must stay valid until
 * the reader is freed. */
int stasync_chunk_reader_new(stasync_index_reader *index, const stasync_fetch *f,
			     stasync_chunk_reader **ret, stasync_error *err);

/* stasync_chunk_reader_new_reread() — the same, for a caller that writes
 * the stream out, byte i at offset reread_base + i of reread_fd (readable;
 * not owned) before it asks for the next chunk: a chunk the index names a
 * second time is read back from there, and checked, rather than fetched
 * again (a blob's runs of zeros and repeated blocks). -1: not written. */
int stasync_chunk_reader_new_reread(stasync_index_reader *index, const stasync_fetch *f,
				    int reread_fd, uint64_t reread_base,
				    stasync_chunk_reader **ret, stasync_error *err);

/* What stasync_chunk_reader_drain() hands each chunk to: 0, or < 0 with
 * err set to stop. */
typedef int (*stasync_chunk_sink_fn)(void *ctx, const void *p, size_t n, stasync_error *err);

/* stasync_chunk_reader_drain() — read the whole stream `index` describes
 * (as a reader would, without one) and hand each chunk to fn, in order,
 * one call at a time but on the fetching threads: fn must not depend on
 * the calling thread. Returns 0 at the end of the stream, or the first
 * failure (a chunk's, in stream order, or fn's), with stats when not
 * NULL. */
int stasync_chunk_reader_drain(stasync_index_reader *index, const stasync_fetch *f,
			       stasync_chunk_sink_fn fn, void *ctx, stasync_chunk_stats *stats,
			       stasync_error *err);

/* stasync_chunk_reader_read() — stasync_read_fn: up to n bytes, 0 at the
 * end of the stream (the index fully read and checked). */
ssize_t stasync_chunk_reader_read(void *r, void *p, size_t n, stasync_error *err);

/* stasync_chunk_reader_take() — up to n bytes of the stream where they lie,
 * without copying: how many (*p valid until the next call), 0 at the end.
 * Mixes with _read(), not with _next(). */
ssize_t stasync_chunk_reader_take(stasync_chunk_reader *r, size_t n, const void **p,
				  stasync_error *err);

/* stasync_chunk_reader_next() — the next whole chunk without copying:
 * 1 with *p and *n valid until the next call, 0 at the end. Do not mix with
 * _read() on the same reader. */
int stasync_chunk_reader_next(stasync_chunk_reader *r, const void **p, size_t *n,
			      stasync_error *err);

/* stasync_chunk_reader_origin() — whether the chunk _next() gave last was
 * read from a seed file, and where: that file's descriptor (the seed's,
 * valid while it lives) and offset. */
bool stasync_chunk_reader_origin(const stasync_chunk_reader *r, int *fd, uint64_t *offset);

void stasync_chunk_reader_stats(const stasync_chunk_reader *r, stasync_chunk_stats *stats);
void stasync_chunk_reader_free(stasync_chunk_reader *r);

#endif
