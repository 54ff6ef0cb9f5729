/* ==== Index files ==========================================================
 * .caibx (blob) and .caidx (archive) indexes: a header with the feature
 * flags and chunk sizes, then one item per chunk (end offset and id). */
#ifndef STASYNC_INDEX_H
#define STASYNC_INDEX_H

#include <stdint.h>
#include <stasync/error.h>
#include <stasync/digest.h>

typedef struct stasync_index_header {
	uint64_t feature_flags;
	uint64_t chunk_size_min, chunk_size_avg, chunk_size_max;
} stasync_index_header;

typedef struct stasync_index_item {
	uint64_t offset;    /* where the chunk starts in the blob/archive */
	uint64_t size;      /* its uncompressed size */
	stasync_chunk_id id;
} stasync_index_item;

/* ---- Reading ------------------------------------------------------------ */
typedef struct stasync_index_reader stasync_index_reader;

/* stasync_index_reader_open() — read an index from fd (which the reader
 * then owns and closes); `name` is used in messages. The header is read and
 * validated at once. Returns 0, -EBADMSG for a malformed header, or an I/O
 * error. */
int stasync_index_reader_open(int fd, const char *name,
			      stasync_index_reader **ret, stasync_error *err);

/* stasync_index_reader_header() — the validated header. */
const stasync_index_header *stasync_index_reader_header(const stasync_index_reader *r);

/* stasync_digest_type of the index's feature flags. */
stasync_digest_type stasync_index_reader_digest_type(const stasync_index_reader *r);

/* stasync_index_reader_next() — 1 and the next item, 0 at a valid end
 * (tail checked, nothing after it), -EBADMSG for corrupt input. */
int stasync_index_reader_next(stasync_index_reader *r, stasync_index_item *item,
			      stasync_error *err);

/* stasync_index_reader_totals() — the number of chunks and the stream size
 * an index file declares, from its size and last entry, without reading
 * it through (the entries are still checked as they are read). -ESPIPE
 * when the index is not a seekable file. */
int stasync_index_reader_totals(stasync_index_reader *r, uint64_t *chunks, uint64_t *bytes);

/* stasync_index_reader_free() — close and free; accepts NULL. */
void stasync_index_reader_free(stasync_index_reader *r);

/* ---- Parsing from memory (fuzzers, tests) -------------------------------- */
/* stasync_index_parse_header() — validate the 64 bytes of INDEX and TABLE
 * headers at p. Returns 0 or -EBADMSG with a message. */
int stasync_index_parse_header(const void *p, size_t n, stasync_index_header *ret,
			       stasync_error *err);

/* ---- Writing ------------------------------------------------------------ */
typedef struct stasync_index_writer stasync_index_writer;

/* stasync_index_writer_new() — start an index written to fd (not owned). */
int stasync_index_writer_new(int fd, const char *name, const stasync_index_header *h,
			     stasync_index_writer **ret, stasync_error *err);
/* stasync_index_writer_add() — append one chunk (sizes > 0, in order). */
int stasync_index_writer_add(stasync_index_writer *w, uint64_t size,
			     const stasync_chunk_id *id, stasync_error *err);
/* stasync_index_writer_finish() — write the tail and flush. */
int stasync_index_writer_finish(stasync_index_writer *w, stasync_error *err);
void stasync_index_writer_free(stasync_index_writer *w);

#endif
