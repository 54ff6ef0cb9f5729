/* HTTP requests through libcurl's multi interface: one handle runs many
 * requests at once (connections reused, HTTP/2 multiplexed when the server
 * offers it) on a thread of its own, each request with the retry, timeout,
 * size and TLS rules of <stasync/http.h>. Any number of threads may submit
 * requests to one handle at the same time, or run one each and wait for
 * it. Built without libcurl, every request says so. */
#ifndef STASYNC_LIB_HTTP_H
#define STASYNC_LIB_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/http.h>

typedef struct sta_http sta_http;

/* sta_http_new() — a handle with options o (NULL: defaults): at most
 * o->concurrency requests submitted in flight, the others queued (each
 * thread in sta_http_run() has one more of its own). Checks that a CA
 * file given is readable. Returns 0, -EPROTONOSUPPORT without libcurl,
 * -ENOMEM, or -EINVAL/-errno for bad options, with a message. */
int sta_http_new(const stasync_http_options *o, sta_http **ret, stasync_error *err);

/* Requests to an S3 server, signed with AWS Signature Version 4 (by
 * libcurl). A create_only PUT also asks "If-None-Match: *": a server that
 * honours it answers -EEXIST for a key already there, and overwrites
 * nothing. */
typedef struct sta_http_sigv4 {
	const char *region;          /* "us-east-1" */
	const char *access_key;
	const char *secret_key;
	const char *session_token;   /* NULL: none */
	/* where they came from, for messages ("AWS_ACCESS_KEY_ID and
	 * AWS_SECRET_ACCESS_KEY", "profile ci"); NULL: not said */
	const char *key_source;
	const char *token_source;
} sta_http_sigv4;

/* sta_http_set_sigv4() — sign every request of h from now on; before the
 * first one. The body of a failed answer (its first 16 KiB) is then read
 * as an S3 error: its Code, and what to do about it, go into the message
 * (see s3-error.h), never to the write callback. Returns 0, or -ENOMEM/-EPROTONOSUPPORT (a libcurl before
 * 7.75) with a message. */
int sta_http_set_sigv4(sta_http *h, const sta_http_sigv4 *s, stasync_error *err);

/* sta_http_free() — cancels what is still queued or running (each done
 * callback sees -ECANCELED). Accepts NULL, returns NULL. */
sta_http *sta_http_free(sta_http *h);

/* Where a response body goes, piece by piece at increasing offsets. When a
 * request is retried the body starts again at offset 0. Returns 0, or a
 * negative code that aborts the request (and becomes its result). Called
 * on the handle's thread. */
typedef int (*sta_http_write_fn)(void *ctx, uint64_t offset, const void *p, size_t n);

typedef enum sta_http_method {
	STA_HTTP_GET,
	STA_HTTP_HEAD,
	STA_HTTP_PUT,
	STA_HTTP_POST,               /* S3's DeleteObjects */
} sta_http_method;

typedef struct sta_http_request {
	sta_http_method method;
	const char *url;
	const char *name;            /* the URL for messages: pass a redacted form */
	uint64_t limit;              /* GET, POST: more body bytes stop the transfer */
	sta_http_write_fn write;     /* GET, POST: where the body goes (NULL: dropped) */
	void *ctx;
	const void *body;            /* PUT, POST: what is sent; valid until done */
	size_t body_size;
	const char *header;          /* one more header line ("Content-MD5: …"), or NULL */
	bool create_only;            /* PUT, S3: If-None-Match: *, see below */
} sta_http_request;

typedef struct sta_http_result {
	/* 0 (2xx); -ENOENT for 404/410; -EFBIG over the limit; -EACCES for
	 * 401/403; -EEXIST for 412 (an If-None-Match PUT of a key there); -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT (unreachable after
	 * all attempts); -EPROTO (TLS and protocol failures); -ECANCELED; -EIO
	 * (anything else, other HTTP statuses included); or write()'s code. */
	int r;
	uint64_t size;               /* body bytes received */
	/* The server could not be reached at all on any attempt (refused,
	 * not resolved, timed out): asking it again now would only wait. */
	bool unreachable;
	stasync_error err;           /* the message when r < 0 */
	unsigned status;             /* the HTTP status of the last answer, 0 when none */
	char s3_code[64];            /* signed requests: the S3 error's Code, "" when none */
} sta_http_result;

/* Called once per submitted request, on the handle's thread, when it is
 * done for good (after the retries). Must not block for long: every other
 * transfer of the handle waits meanwhile. */
typedef void (*sta_http_done_fn)(void *ctx, const sta_http_result *res);

/* sta_http_submit() — start a request (url and name are copied); done()
 * follows. Waits while 4 × concurrency requests are already submitted and
 * not done, so that a fast producer cannot queue without bound. Returns 0,
 * or -ENOMEM/-EINVAL with a message (done() is then not called). */
int sta_http_submit(sta_http *h, const sta_http_request *req, sta_http_done_fn done, void *ctx,
		    stasync_error *err);

/* sta_http_run() — run req and wait for it: res->r is returned. The
 * calling thread drives it itself, with the handle's rules (retries,
 * hedging, the rate limit), on a connection kept for the next caller:
 * neither waits for the handle's thread. */
int sta_http_run(sta_http *h, const sta_http_request *req, sta_http_result *res);

/* sta_http_get() — GET url into write(ctx, …), at most `limit` body bytes;
 * *ret_size (may be NULL) is the body's size. Returns as sta_http_run(). */
int sta_http_get(sta_http *h, const char *url, const char *name, uint64_t limit,
		 sta_http_write_fn write, void *ctx, uint64_t *ret_size, stasync_error *err);

/* sta_http_store_url() — a store URL normalised as casync does: any
 * "?…", ";…" or "#…" after the host dropped, then trailing "/" dropped.
 * A new string, NULL when out of memory. */
char *sta_http_store_url(const char *locator);

#endif
