/* A few threads running jobs in the order handed in (see job-pool.h).
 *
 * The jobs sit in a ring of `slots` entries in the order of their
 * numbers: [head, tail) are handed in and not yet retired, `next` is
 * the oldest not yet taken by a thread. A finished job is marked done;
 * head moves past the done jobs at its front, so head is the lowest
 * number not finished and a slot is reused only once all before it are
 * finished too. One mutex guards it all: a job here is a file to write,
 * thousands of times longer than taking the lock.
 *
 * One thread hands the jobs in and waits for them. It is woken only when
 * what it waits for has come (wake_at), and when every slot is taken it
 * waits until half of them are free: on two cores, waking it for each
 * finished job cost two context switches a file. */
#include <pthread.h>
#include <stdlib.h>

#include "job-pool.h"
#include "util.h"

#define JOB_THREAD_STACK (256u * 1024u)

struct slot {
	void *job;
	bool done;
};

struct worker {
	struct sta_job_pool *pool;
	unsigned index;
	pthread_t thread;
};

struct sta_job_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;     /* a job to take, or stopping */
	pthread_cond_t finished; /* head reached wake_at, or a job failed */
	struct slot *ring;
	unsigned slots;
	uint64_t head, next, tail;
	uint64_t wake_at;        /* the head the waiting thread needs; 0: none waits */
	int error;               /* of the failed job numbered lowest */
	int failed_worker;
	uint64_t failed_seq;
	bool stopping;
	sta_job_run run;
	void *ctx;
	struct worker *workers;
	unsigned n_workers;      /* threads started */
};

static void retire(struct sta_job_pool *p)
{
	while (p->head < p->next && p->ring[p->head % p->slots].done)
		p->head++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sta_job_pool *p = w->pool;

	sta_thread_serve();

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->next == p->tail && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->next == p->tail)
			break;
		uint64_t seq = p->next++;
		struct slot *s = &p->ring[seq % p->slots];
		bool drop = p->error != 0;
		pthread_mutex_unlock(&p->lock);

		int r = p->run(p->ctx, w->index, s->job, drop);

		pthread_mutex_lock(&p->lock);
		/* jobs taken before the first failure still run, and may
		 * fail too: the one numbered lowest is the one to tell */
		if (r < 0 && (p->error == 0 || seq < p->failed_seq)) {
			p->error = r;
			p->failed_worker = (int)w->index;
			p->failed_seq = seq;
		}
		s->job = NULL;
		s->done = true;
		retire(p);
		if (p->wake_at && (p->head >= p->wake_at || p->error))
			pthread_cond_signal(&p->finished);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct sta_job_pool *sta_job_pool_new(unsigned workers, unsigned slots, sta_job_run run, void *ctx,
				      int *ret_error)
{
	struct sta_job_pool *p = calloc(1, sizeof(*p));

	*ret_error = -ENOMEM;
	if (!p)
		return NULL;
	p->ring = calloc(MAX(slots, 1u), sizeof(*p->ring));
	p->workers = calloc(MAX(workers, 1u), sizeof(*p->workers));
	if (!p->ring || !p->workers) {
		free(p->ring);
		free(p->workers);
		free(p);
		return NULL;
	}
	p->slots = MAX(slots, 1u);
	p->run = run;
	p->ctx = ctx;
	p->failed_worker = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->finished, NULL);
	for (unsigned i = 0; i < workers; i++) {
		struct worker *w = &p->workers[p->n_workers];
		w->pool = p;
		w->index = i;
		int r = sta_thread_start(&w->thread, JOB_THREAD_STACK, worker_main, w);
		if (r < 0) {
			*ret_error = r;
			break;
		}
		p->n_workers++;
	}
	if (p->n_workers == 0) {
		sta_job_pool_free(p);
		return NULL;
	}
	*ret_error = 0;
	return p;
}

int64_t sta_job_pool_submit(struct sta_job_pool *p, void *job)
{
	int64_t seq;

	pthread_mutex_lock(&p->lock);
	if (p->error == 0 && p->tail - p->head >= p->slots) {
		p->wake_at = p->tail - p->slots / 2;
		while (p->error == 0 && p->head < p->wake_at)
			pthread_cond_wait(&p->finished, &p->lock);
		p->wake_at = 0;
	}
	if (p->error) {
		seq = p->error;
	} else {
		struct slot *s = &p->ring[p->tail % p->slots];
		s->job = job;
		s->done = false;
		seq = (int64_t)p->tail++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
	return seq;
}

uint64_t sta_job_pool_finished(struct sta_job_pool *p)
{
	uint64_t h;

	pthread_mutex_lock(&p->lock);
	h = p->head;
	pthread_mutex_unlock(&p->lock);
	return h;
}

uint64_t sta_job_pool_submitted(const struct sta_job_pool *p)
{
	/* only the submitting thread changes tail */
	return p->tail;
}

/* wait_until() — until every job numbered below `upto` has finished,
 * or, unless `through_errors`, until one failed. */
static int wait_until(struct sta_job_pool *p, uint64_t upto, bool through_errors)
{
	int r;

	pthread_mutex_lock(&p->lock);
	p->wake_at = upto;
	while ((through_errors || p->error == 0) && p->head < upto)
		pthread_cond_wait(&p->finished, &p->lock);
	p->wake_at = 0;
	r = p->error;
	pthread_mutex_unlock(&p->lock);
	return r;
}

int sta_job_pool_wait(struct sta_job_pool *p, uint64_t upto)
{
	return wait_until(p, upto, false);
}

int sta_job_pool_drain(struct sta_job_pool *p)
{
	/* after a failure the jobs not started are dropped: quick */
	return wait_until(p, p->tail, true);
}

int sta_job_pool_failed_worker(struct sta_job_pool *p)
{
	int w;

	pthread_mutex_lock(&p->lock);
	w = p->failed_worker;
	pthread_mutex_unlock(&p->lock);
	return w;
}

void sta_job_pool_free(struct sta_job_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	if (p->error == 0)
		p->error = -ECANCELED; /* what is still queued is dropped */
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_workers; i++)
		pthread_join(p->workers[i].thread, NULL);
	/* without threads (none started) nothing was ever queued */
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->finished);
	pthread_mutex_destroy(&p->lock);
	free(p->workers);
	free(p->ring);
	free(p);
}
