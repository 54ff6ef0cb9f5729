/* ==== Progress ===============================================================
 * Counters the library advances while it makes or extracts, for another of
 * the caller's threads to show. The library only adds to them, atomically;
 * read them with stasync_progress_snapshot(). */
#ifndef STASYNC_PROGRESS_H
#define STASYNC_PROGRESS_H
#include <stdint.h>

typedef struct stasync_progress {
	uint64_t bytes_total;    /* set by the caller when it knows; 0: unknown */
	uint64_t bytes;          /* of the stream: taken in (make), put back (extract) */
	uint64_t chunks;         /* chunks done */
	uint64_t chunks_new;     /* make: chunks the store did not have */
	uint64_t chunks_cached;  /* extract: chunks read from the --cache store */
	uint64_t chunks_seeded;  /* extract: chunks read from the seeds */
} stasync_progress;

/* stasync_progress_snapshot() — a consistent-enough copy of every counter. */
void stasync_progress_snapshot(const stasync_progress *p, stasync_progress *ret);
#endif
