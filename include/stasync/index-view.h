/* ==== Random access to an index's stream ===================================
 * The byte stream an index (.caibx, .caidx) describes, read at any offset:
 * what a FUSE mount needs. Only the chunks a read touches are fetched; they
 * are kept decoded in a cache of bounded size, least recently used dropped
 * first. Reads that follow on from one another make the view fetch the
 * next chunks ahead, in parallel, on a few threads of its own.
 *
 * Memory: the index's items (48 bytes a chunk), the cache (cache_bytes),
 * and one chunk being fetched per thread beyond it when the cache is full
 * of chunks in use. */
#ifndef STASYNC_INDEX_VIEW_H
#define STASYNC_INDEX_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stasync/error.h>
#include <stasync/index.h>
#include <stasync/chunk-stream.h>

typedef struct stasync_index_view stasync_index_view;

#define STASYNC_INDEX_VIEW_CACHE_DEFAULT ((size_t)32 << 20)

typedef struct stasync_index_view_options {
	/* Stores, cache store, seed, progress and threads, as for
	 * stasync_chunk_reader_new(). The struct is copied; what it names
	 * must stay valid until the view is freed. The progress counts each
	 * chunk fetched. */
	const stasync_fetch *fetch;
	/* Decoded chunks kept in memory, at most (at least one chunk is kept
	 * whatever the bound). 0: STASYNC_INDEX_VIEW_CACHE_DEFAULT. */
	size_t cache_bytes;
	/* Chunks fetched ahead once reads are sequential, in parallel on the
	 * view's own threads: fetch->threads of them, or what
	 * stasync_chunk_reader picks when that is 0 (one per CPU, 4 at most,
	 * for local stores; STASYNC_FETCH_THREADS_REMOTE when a store is
	 * remote), 16 at most. 0: 4 per thread, at least 16; 1024 at most. */
	unsigned readahead;
} stasync_index_view_options;

/* stasync_index_view_new() — read every item of `index` (offset, size and
 * id, checked as stasync_index_reader_next() checks them, up to the table
 * tail) and keep them; `index` is not freed and not used afterwards.
 * `name` (copied; NULL: "index") names the view in messages. Starts the view's threads.
 * Returns 0, -EBADMSG for a malformed index, -ENOMEM, or an I/O error. */
int stasync_index_view_new(stasync_index_reader *index, const stasync_index_view_options *o,
			   const char *name, stasync_index_view **ret, stasync_error *err);

/* stasync_index_view_size() — the size of the stream in bytes. */
uint64_t stasync_index_view_size(const stasync_index_view *v);

/* stasync_index_view_chunks() — the number of chunks in the index. */
uint64_t stasync_index_view_chunks(const stasync_index_view *v);

/* stasync_index_view_header() — the index's header (valid while v lives). */
const stasync_index_header *stasync_index_view_header(const stasync_index_view *v);

/* stasync_index_view_pread() — copy n bytes of the stream from `offset`
 * into buf. Returns the bytes copied: n, fewer only where the stream ends,
 * 0 at or past its end. A chunk that cannot be had fails the whole read:
 * -EIO when no store has it, -EBADMSG when what they hold is corrupt
 * (or -ENOMEM, or a store's own error), with a message naming the view,
 * the chunk's id and where it lies. A failed chunk is not remembered: a
 * later read tries it again. Thread-safe: several threads may read at
 * once; a chunk one of them is fetching is waited for, not fetched twice. */
ssize_t stasync_index_view_pread(stasync_index_view *v, void *buf, size_t n, uint64_t offset,
				 stasync_error *err);

/* stasync_index_view_pread_flags() — the same, with flags:
 * STASYNC_INDEX_VIEW_NO_AHEAD: this read neither counts as part of a
 * sequential stream nor fetches ahead (small reads of metadata, say, that
 * happen to follow each other). */
#define STASYNC_INDEX_VIEW_NO_AHEAD (1u << 0)
ssize_t stasync_index_view_pread_flags(stasync_index_view *v, void *buf, size_t n,
				       uint64_t offset, unsigned flags, stasync_error *err);

/* Counters, for tests, -v and benchmarks. */
typedef struct stasync_index_view_stats {
	uint64_t fetched;     /* chunks fetched for a read that needed them */
	uint64_t cache_hits;  /* chunks a read found cached (or on their way) */
	uint64_t prefetched;  /* chunks fetched ahead of reads */
	uint64_t failed;      /* fetches that failed (for a read, or ahead) */
	uint64_t evicted;     /* chunks dropped from the cache to make room */
	uint64_t cached_bytes; /* bytes the cache holds now (and is fetching) */
} stasync_index_view_stats;

/* stasync_index_view_stats_get() — a copy of the counters. */
void stasync_index_view_stats_get(const stasync_index_view *v, stasync_index_view_stats *ret);

/* stasync_index_view_free() — wait for the fetches under way, stop the
 * threads and free everything; accepts NULL. No read may be under way. */
void stasync_index_view_free(stasync_index_view *v);

#endif
