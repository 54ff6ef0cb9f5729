/* ==== Chunker ==============================================================
 * casync's buzhash content-defined chunker: the same cut points as casync
 * for any min/avg/max. The state is a plain struct so callers can keep one
 * per stream without allocating. */
#ifndef STASYNC_CHUNKER_H
#define STASYNC_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define STASYNC_CHUNKER_WINDOW 48
#define STASYNC_CHUNK_SIZE_LIMIT_MIN ((size_t)1)
#define STASYNC_CHUNK_SIZE_LIMIT_MAX ((size_t)128 * 1024 * 1024)
#define STASYNC_CHUNK_SIZE_AVG_DEFAULT ((size_t)64 * 1024)

typedef struct stasync_chunk_sizes {
	size_t min, avg, max;
} stasync_chunk_sizes;

typedef struct stasync_chunker {
	stasync_chunk_sizes size;
	uint32_t discriminator;
	uint32_t hash;
	size_t first_test;  /* chunk size at which cuts are first tested */
	size_t chunk_size;  /* bytes seen in the current chunk */
	/* The last STASYNC_CHUNKER_WINDOW bytes seen, oldest first. */
	uint8_t window[STASYNC_CHUNKER_WINDOW];
} stasync_chunker;

/* stasync_chunk_sizes_complete() — fill in the zero members the way casync
 * does: from avg alone min = avg/4 and max = 4·avg; without avg it is
 * derived from min and/or max. Returns 0, -ERANGE when a size lies outside
 * 1 B … 128 MiB, -EINVAL when they are not ordered min ≤ avg ≤ max, or
 * when max is below the 48-byte window without all three being equal. */
int stasync_chunk_sizes_complete(stasync_chunk_sizes *s);

/* stasync_chunk_sizes_parse() — casync's --chunk-size syntax: "AVG" or
 * "MIN:AVG:MAX", each a number with an optional K/M/G suffix (powers of
 * 1024), or "auto". The result is completed as above. */
int stasync_chunk_sizes_parse(const char *text, stasync_chunk_sizes *ret);

/* stasync_chunker_init() — prepare a chunker for completed sizes.
 * Returns 0 or the errors of stasync_chunk_sizes_complete(). */
int stasync_chunker_init(stasync_chunker *c, const stasync_chunk_sizes *s);

/* stasync_chunker_scan() — look for the next cut in p[0..n). Returns the
 * number of bytes of p that end the current chunk (the chunker then starts
 * a new one), or SIZE_MAX when all n bytes belong to the current chunk.
 * Call again with the rest of the buffer after a cut. */
size_t stasync_chunker_scan(stasync_chunker *c, const void *p, size_t n);

/* stasync_chunker_reset() — forget the current chunk (start afresh). */
void stasync_chunker_reset(stasync_chunker *c);

#endif
