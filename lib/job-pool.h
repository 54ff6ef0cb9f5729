/* A few threads running jobs in the order they were handed in, and what
 * a caller needs to order its own work after theirs: every job gets a
 * sequence number, and "all jobs before number N are finished" can be
 * asked or waited for. The first job that fails stops the pool: the
 * jobs not started yet are dropped (given to the runner to free), and
 * every later call returns an error: of the failed job numbered lowest,
 * as if they had run one after the other. */
#ifndef STASYNC_LIB_JOB_POOL_H
#define STASYNC_LIB_JOB_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct sta_job_pool;

/* run(ctx, worker, job, drop): do the job on thread number `worker`
 * (0 … workers-1) and free it; with drop, only free it. Returns 0 or a
 * negative code, which stops the pool. */
typedef int (*sta_job_run)(void *ctx, unsigned worker, void *job, bool drop);

/* sta_job_pool_new() — start `workers` threads with at most `slots`
 * jobs handed in and not finished. NULL when out of memory or when no
 * thread could start (errno-style code in *ret_error). */
struct sta_job_pool *sta_job_pool_new(unsigned workers, unsigned slots, sta_job_run run, void *ctx,
				      int *ret_error);

/* sta_job_pool_submit() — hand in a job, waiting while every slot is
 * taken. Returns its number (≥ 0), or the error that stopped the pool,
 * and then the job is not taken: the caller still owns it. */
int64_t sta_job_pool_submit(struct sta_job_pool *p, void *job);

/* sta_job_pool_finished() — every job numbered below this has finished. */
uint64_t sta_job_pool_finished(struct sta_job_pool *p);

/* sta_job_pool_submitted() — the number the next job will get. */
uint64_t sta_job_pool_submitted(const struct sta_job_pool *p);

/* sta_job_pool_wait() — wait until every job numbered below `upto` has
 * finished. Returns 0, or the error that stopped the pool. */
int sta_job_pool_wait(struct sta_job_pool *p, uint64_t upto);

/* sta_job_pool_drain() — wait until every job handed in has finished
 * or, after a failure, was dropped. Returns 0 or the error. */
int sta_job_pool_drain(struct sta_job_pool *p);

/* sta_job_pool_failed_worker() — the worker of the failed job numbered
 * lowest (jobs taken before the first failure still run), or -1. */
int sta_job_pool_failed_worker(struct sta_job_pool *p);

/* sta_job_pool_free() — drop the jobs not started, wait for the ones
 * under way, end the threads. NULL is fine. */
void sta_job_pool_free(struct sta_job_pool *p);

#endif
