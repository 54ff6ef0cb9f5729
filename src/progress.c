/* Progress on stderr while make or extract works: a bar on a terminal, or
 * one line of key=value pairs a second for scripts (--progress=plain). A
 * thread of its own reads the library's counters; the work never waits for
 * it. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"


struct cli_progress {
	struct cli *c;
	const char *verb;
	bool make;      /* chunks are made (new/reused), not fetched */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	double start;
	int shown;      /* columns of the bar on screen, to clear */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };

/* the unit n is best shown in */
static unsigned unit_of(uint64_t n)
{
	unsigned u = 0;

	for (double v = (double)n; v >= 1024 && u < 4; v /= 1024)
		u++;
	return u;
}

/* n in unit u, without the unit: "123.4" */
static const char *in_unit(uint64_t n, unsigned u, char buf[static 24])
{
	double v = (double)n;

	for (unsigned i = 0; i < u; i++)
		v /= 1024;
	snprintf(buf, 24, u ? "%.1f" : "%.0f", v);
	return buf;
}

/* "123.4 MiB" */
static const char *human(uint64_t n, char buf[static 24])
{
	char v[24];
	unsigned u = unit_of(n);

	snprintf(buf, 24, "%.15s %s", in_unit(n, u, v), unit[u]);
	return buf;
}

static void plain_line(struct cli_progress *p, const stasync_progress *s, double t)
{
	double rate = t > 0 ? (double)s->bytes / t : 0;

	fprintf(stderr, "progress: verb=%s bytes=%" PRIu64 " total=%" PRIu64, p->verb, s->bytes,
		s->bytes_total);
	if (s->bytes_total)
		fprintf(stderr, " percent=%.1f", 100.0 * (double)MIN(s->bytes, s->bytes_total) /
					       (double)s->bytes_total);
	fprintf(stderr, " chunks=%" PRIu64 " new=%" PRIu64 " reused=%" PRIu64 " fetched=%" PRIu64
		" cached=%" PRIu64 " seeded=%" PRIu64 " rate=%.0f elapsed=%.1f", s->chunks,
		s->chunks_new, p->make ? s->chunks - s->chunks_new : 0,
		p->make ? 0 : s->chunks - s->chunks_cached - s->chunks_seeded, s->chunks_cached,
		s->chunks_seeded, rate, t);
	if (s->bytes_total && rate > 0 && s->bytes <= s->bytes_total)
		fprintf(stderr, " eta=%.0f", (double)(s->bytes_total - s->bytes) / rate);
	fputc('\n', stderr);
}

static void bar_line(struct cli_progress *p, const stasync_progress *s, double t)
{
	char line[160], a[24], b[24], r[24];
	double rate = t > 0 ? (double)s->bytes / t : 0;
	int n;

	human((uint64_t)rate, r);
	if (s->bytes_total) {
		double f = (double)MIN(s->bytes, s->bytes_total) / (double)s->bytes_total;
		unsigned u = unit_of(s->bytes_total);
		char bar[11];
		int fill = (int)(f * 10);

		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(10 - fill));
		bar[10] = 0;
		n = snprintf(line, sizeof(line), "%s %3.0f%% [%s] %s/%s %s %s/s", p->verb, f * 100, bar,
			     in_unit(s->bytes, u, a), in_unit(s->bytes_total, u, b), unit[u], r);
		if (rate > 0 && s->bytes < s->bytes_total) {
			uint64_t eta = (uint64_t)((double)(s->bytes_total - s->bytes) / rate);
			n += snprintf(line + n, sizeof(line) - (size_t)n, " ETA %" PRIu64 ":%02" PRIu64,
				      eta / 60, eta % 60);
		}
	} else
		n = snprintf(line, sizeof(line), "%s %s %s/s", p->verb, human(s->bytes, a), r);
	/* make: chunks new of all; extract: chunks fetched, not found here */
	if (p->make)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %" PRIu64 "/%" PRIu64 " new",
			      s->chunks_new, s->chunks);
	else
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %" PRIu64 " fetched",
			      s->chunks - s->chunks_cached - s->chunks_seeded);
	n = MIN(n, 79);
	line[n] = 0;
	/* over the previous line, then blanks where it was longer */
	fprintf(stderr, "\r%s%*s", line, MAX(p->shown - n, 0), "");
	p->shown = n;
	fflush(stderr);
}

static void show(struct cli_progress *p)
{
	stasync_progress s;

	stasync_progress_snapshot(&p->c->progress, &s);
	if (p->c->progress_mode == PROGRESS_PLAIN)
		plain_line(p, &s, now() - p->start);
	else
		bar_line(p, &s, now() - p->start);
}

static void *progress_thread(void *arg)
{
	struct cli_progress *p = arg;
	double period = p->c->progress_mode == PROGRESS_PLAIN ? 1.0 : 0.25;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		double until;

		clock_gettime(CLOCK_REALTIME, &ts);
		until = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + period;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0 && !p->stop)
			show(p);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void cli_progress_begin(struct cli *c, const char *verb)
{
	struct cli_progress *p;

	c->started = now();
	if (c->progress_mode == PROGRESS_AUTO)
		c->progress_mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_NONE;
	if (c->progress_mode == PROGRESS_NONE || !(p = calloc(1, sizeof(*p))))
		return;
	p->c = c;
	p->verb = verb;
	p->make = strcmp(verb, "make") == 0;
	p->start = c->started;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, progress_thread, p) != 0) {
		free(p);
		return;
	}
	c->progress_state = p;
}

stasync_progress *cli_progress(struct cli *c)
{
	return c->progress_state ? &c->progress : NULL;
}

void cli_progress_bytes(struct cli *c, uint64_t n)
{
	if (c->progress_state)
		__atomic_fetch_add(&c->progress.bytes, n, __ATOMIC_RELAXED);
}

void cli_progress_total(struct cli *c, uint64_t bytes)
{
	__atomic_store_n(&c->progress.bytes_total, bytes, __ATOMIC_RELAXED);
}

void cli_progress_index_total(struct cli *c, stasync_index_reader *r)
{
	uint64_t chunks, bytes;

	if (c->progress_state && stasync_index_reader_totals(r, &chunks, &bytes) == 0)
		cli_progress_total(c, bytes);
}

void cli_progress_end(struct cli *c, bool ok)
{
	struct cli_progress *p = c->progress_state;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (c->progress_mode == PROGRESS_PLAIN) {
		if (ok)
			show(p);   /* the last line says where it ended */
	} else if (p->shown) {
		fprintf(stderr, "\r%*s\r", p->shown, "");
		fflush(stderr);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	c->progress_state = NULL;
}

double cli_elapsed(const struct cli *c)
{
	return c->started > 0 ? now() - c->started : 0;
}

void cli_summary(const struct cli *c, bool made, const stasync_chunk_stats *s)
{
	double t = cli_elapsed(c);
	char rate[24];

	human(t > 0 ? (uint64_t)((double)s->bytes / t) : 0, rate);
	if (made)
		cli_info(c, "%" PRIu64 " bytes in %" PRIu64 " chunks, %" PRIu64 " new in the store, %" PRIu64
			 " there already; %.2f s, %s/s", s->bytes, s->chunks, s->chunks_new,
			 s->chunks - s->chunks_new, t, rate);
	else if (s->bytes_cloned)
		cli_info(c, "%" PRIu64 " bytes from %" PRIu64 " chunks, %" PRIu64
			 " of them from the cache, %" PRIu64 " from the seeds (%" PRIu64
			 " bytes shared with them), %" PRIu64 " already in place; %.2f s, %s/s", s->bytes,
			 s->chunks, s->chunks_cached, s->chunks_seeded, s->bytes_cloned,
			 s->chunks_in_place, t, rate);
	else
		cli_info(c, "%" PRIu64 " bytes from %" PRIu64 " chunks, %" PRIu64
			 " of them from the cache, %" PRIu64 " from the seeds, %" PRIu64
			 " already in place; %.2f s, %s/s", s->bytes, s->chunks, s->chunks_cached,
			 s->chunks_seeded, s->chunks_in_place, t, rate);
}

int cli_report(const struct cli *c, const struct cli_report *r, bool to_stderr)
{
	static const stasync_chunk_stats zero;
	const stasync_chunk_stats *s = r->stats ? r->stats : &zero;
	bool make = strcmp(r->verb, "make") == 0;
	FILE *f = to_stderr ? stderr : stdout;

	if (c->json) {
		uint64_t got = s->chunks_cached + s->chunks_seeded + s->chunks_in_place;

		fprintf(f, "{\"verb\": \"%s\", \"kind\": \"%s\", \"changed\": %s", r->verb,
			cli_what_name(r->what), r->changed ? "true" : "false");
		fprintf(f, ", \"bytes\": %" PRIu64 ", \"chunks\": %" PRIu64
			", \"chunks_new\": %" PRIu64 ", \"chunks_reused\": %" PRIu64
			", \"chunks_fetched\": %" PRIu64 ", \"chunks_from_cache\": %" PRIu64
			", \"chunks_from_seeds\": %" PRIu64 ", \"chunks_in_place\": %" PRIu64
			", \"bytes_cloned\": %" PRIu64 ", \"bytes_written\": %" PRIu64,
			s->bytes, s->chunks, make ? s->chunks_new : 0,
			make ? s->chunks - s->chunks_new : 0,
			!make && s->chunks > got ? s->chunks - got : 0, s->chunks_cached,
			s->chunks_seeded, s->chunks_in_place, s->bytes_cloned, r->bytes_written);
		fprintf(f, ", \"files_created\": %" PRIu64 ", \"files_replaced\": %" PRIu64
			", \"files_removed\": %" PRIu64, r->files.created, r->files.replaced,
			r->files.removed);
		fprintf(f, ", \"elapsed_seconds\": %.3f", cli_elapsed(c));
		if (r->digest) {
			char hex[STASYNC_DIGEST_HEX_SIZE];
			fprintf(f, ", \"digest\": \"%s\"", stasync_chunk_id_format(r->digest, hex));
		}
		fprintf(f, "}\n");
		fflush(f);
	}
	return !r->changed && c->unchanged_exit ? c->unchanged_exit : 0;
}
