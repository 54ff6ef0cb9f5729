/* A thread that starts the write-back of a store early (see sync-ahead.h). */
#include "sync-ahead.h"
#include "util.h"

void sta_sync_ahead_init(struct sta_sync_ahead *a, int fd)
{
	*a = (struct sta_sync_ahead){ .fd = fd };
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
}

static void *sync_thread(void *arg)
{
	struct sta_sync_ahead *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->requested && !a->stop)
			pthread_cond_wait(&a->wake, &a->lock);
		if (!a->requested)
			break;
		a->requested = false;
		pthread_mutex_unlock(&a->lock);
		(void)sta_syncfs(a->fd);
		pthread_mutex_lock(&a->lock);
		a->syncs++;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

void sta_sync_ahead_add(struct sta_sync_ahead *a, uint64_t bytes)
{
	bool wake = false;

	pthread_mutex_lock(&a->lock);
	a->pending += bytes;
	if (a->pending >= SYNC_AHEAD_BYTES && !a->stop && !a->failed) {
		a->pending = 0;
		if (!a->started) {
			/* without the thread, all is written back at the end */
			a->failed = sta_thread_start(&a->thread, STA_STACK_WORK, sync_thread, a) < 0;
			a->started = !a->failed;
		}
		a->requested = a->started;
		wake = a->started;
	}
	pthread_mutex_unlock(&a->lock);
	if (wake)
		pthread_cond_signal(&a->wake);
}

void sta_sync_ahead_done(struct sta_sync_ahead *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_mutex_unlock(&a->lock);
	pthread_cond_signal(&a->wake);
	if (a->started)
		pthread_join(a->thread, NULL);
	a->started = false;
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
}
