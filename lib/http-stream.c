/* A response body read as it arrives: a thread runs sta_http_get() and
 * writes the body into a pipe whose other end the caller reads. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include <stasync/http.h>
#include "http.h"
#include "s3.h"
#include "util.h"

struct stasync_http_stream {
	sta_http *http;
	char *url;
	char *name;                 /* the URL, password hidden */
	uint64_t limit;
	int pipe_r, pipe_w;
	uint64_t delivered;         /* body bytes written into the pipe */
	pthread_t thread;
	bool thread_started;
	int r;                      /* the transfer's outcome, once joined */
	stasync_error err;
};

/* Body bytes, in order. A retried request starts again at offset 0: the
 * bytes the reader already has are skipped, so it sees each byte once. */
static int stream_write(void *ctx, uint64_t offset, const void *p, size_t n)
{
	stasync_http_stream *s = ctx;
	const uint8_t *q = p;
	int r;

	if (offset + n <= s->delivered)
		return 0;
	if (offset < s->delivered) {
		q += s->delivered - offset;
		n -= (size_t)(s->delivered - offset);
	} else if (offset > s->delivered)
		return -EIO;   /* a hole: cannot happen with sta_http_get() */
	r = sta_write_full(s->pipe_w, q, n);
	if (r < 0)
		return r;      /* -EPIPE: the reader stopped */
	s->delivered += n;
	return 0;
}

static void *stream_thread(void *ctx)
{
	stasync_http_stream *s = ctx;
	sigset_t ss;

	/* A reader that stops early closes its end: this thread then gets
	 * EPIPE rather than the process a SIGPIPE. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	s->r = sta_http_get(s->http, s->url, s->name, s->limit, stream_write, s, NULL, &s->err);
	close(s->pipe_w);   /* the reader sees the end */
	s->pipe_w = -1;
	return NULL;
}

int stasync_http_stream_open(const char *url, const stasync_http_options *o, uint64_t max_size,
			     stasync_http_stream **ret, stasync_error *err)
{
	stasync_http_stream *s;
	int p[2], r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return sta_error(err, -ENOMEM, "out of memory");
	s->pipe_r = s->pipe_w = -1;
	s->limit = max_size;
	s->url = sta_strdup(url);
	s->name = stasync_url_redact(url);
	if (!s->url || !s->name) {
		r = sta_error(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (stasync_is_s3_url(url)) {
		/* signed, to the object's plain URL */
		free(s->url);
		s->url = NULL;
		r = sta_s3_http_new(url, o, &s->http, &s->url, NULL, err);
	} else
		r = sta_http_new(o, &s->http, err);
	if (r < 0) {
		sta_error_prefix(err, r, "%s", s->name);
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = sta_error(err, -errno, "%s: cannot create a pipe: %s", s->name,
			      stasync_strerror(-errno));
		goto fail;
	}
	s->pipe_r = p[0];
	s->pipe_w = p[1];
	r = sta_thread_start(&s->thread, STA_STACK_WORK, stream_thread, s);
	if (r < 0) {
		sta_error(err, r, "%s: cannot start a thread: %s", s->name, stasync_strerror(r));
		goto fail;
	}
	s->thread_started = true;
	*ret = s;
	return 0;
fail:
	stasync_http_stream_close(s, NULL);
	return r;
}

int stasync_http_stream_fd(const stasync_http_stream *s)
{
	return s->pipe_r;
}

int stasync_http_stream_close(stasync_http_stream *s, stasync_error *err)
{
	int r = 0;

	if (!s)
		return 0;
	if (s->pipe_r >= 0)
		close(s->pipe_r);   /* a transfer still running gets EPIPE */
	if (s->thread_started) {
		pthread_join(s->thread, NULL);
		r = s->r;
		if (r < 0 && err)
			*err = s->err;
	}
	if (s->pipe_w >= 0)
		close(s->pipe_w);
	sta_http_free(s->http);
	free(s->url);
	free(s->name);
	free(s);
	return r;
}
