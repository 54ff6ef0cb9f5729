/* Writing a store's chunks back to disk while more are being written.
 *
 * make ends with one syncfs() so that every chunk is on disk before the
 * index naming them; done only then, the whole write-back (on a fresh
 * ext4, 0.5 s for 1 GiB of chunks) ran alone after the work was done.
 * A thread, started once SYNC_AHEAD_BYTES have been written, calls
 * syncfs() each time another SYNC_AHEAD_BYTES have been, so the kernel
 * writes back while the chunks are still being made, and the last
 * syncfs() has little left. Its errors are not reported: that last
 * syncfs() reports them. Only for a store that will be flushed (make's,
 * not a cache). Every 16 MiB rather than 64: the last syncfs() waits on
 * what came after the one before, with both cores idle (1 GiB blob,
 * fresh ext4: wall ÷ CPU 0.612 every 64 MiB, 0.592 every 16, 0.601
 * every 8; means of 5). */
#ifndef STASYNC_LIB_SYNC_AHEAD_H
#define STASYNC_LIB_SYNC_AHEAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SYNC_AHEAD_BYTES ((uint64_t)16 << 20)

struct sta_sync_ahead {
	int fd;                  /* of a directory of the file system */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	uint64_t pending;        /* bytes written since the last request */
	unsigned syncs;          /* syncfs() calls made */
	bool requested, stop, started, failed;
};

/* sta_sync_ahead_init() — for the file system of fd (kept open by the caller). */
void sta_sync_ahead_init(struct sta_sync_ahead *a, int fd);

/* sta_sync_ahead_add() — `bytes` more were written; from any thread. */
void sta_sync_ahead_add(struct sta_sync_ahead *a, uint64_t bytes);

/* sta_sync_ahead_done() — end the thread, after the syncfs() asked for
 * last (there is one at the end anyway). */
void sta_sync_ahead_done(struct sta_sync_ahead *a);

#endif
