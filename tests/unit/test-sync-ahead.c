/* test-sync-ahead — the thread that writes a store back early: nothing
 * below SYNC_AHEAD_BYTES, one syncfs() per SYNC_AHEAD_BYTES written (the
 * last one asked for is made before it ends), from several threads. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "sync-ahead.h"
#include "tap.h"

#define THREADS 4
#define ADDS 64

static void *adder(void *arg)
{
	struct sta_sync_ahead *a = arg;

	for (int i = 0; i < ADDS; i++)
		sta_sync_ahead_add(a, SYNC_AHEAD_BYTES / 16);
	return NULL;
}

int main(void)
{
	int fd = open(tap_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct sta_sync_ahead a;
	pthread_t t[THREADS];

	tap_ok(fd >= 0, "a directory to sync");

	sta_sync_ahead_init(&a, fd);
	sta_sync_ahead_add(&a, SYNC_AHEAD_BYTES - 1);
	tap_ok(!a.started, "less than SYNC_AHEAD_BYTES: no thread");
	sta_sync_ahead_done(&a);
	tap_ok(a.syncs == 0, "... and no syncfs");

	sta_sync_ahead_init(&a, fd);
	sta_sync_ahead_add(&a, SYNC_AHEAD_BYTES - 1);
	sta_sync_ahead_add(&a, 1);
	tap_ok(a.started, "SYNC_AHEAD_BYTES in two parts: the thread started");
	sta_sync_ahead_done(&a);
	tap_ok(a.syncs == 1, "... one syncfs, made before it ended (%u)", a.syncs);

	/* 4 x 64 x 1/16: 16 x SYNC_AHEAD_BYTES; requests that come while a
	 * syncfs runs are one */
	sta_sync_ahead_init(&a, fd);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, adder, &a);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	sta_sync_ahead_done(&a);
	tap_ok(a.syncs >= 1 && a.syncs <= 16, "from %d threads: 1 to 16 syncfs (%u)", THREADS,
	       a.syncs);
	tap_ok(a.pending == 0, "... nothing left over");

	close(fd);
	return tap_done();
}
