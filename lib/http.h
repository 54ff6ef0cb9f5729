/* A small wrapper around one libcurl easy handle: GET and HEAD with the
 * retry, timeout, size and TLS rules of <stasync/http.h>. One handle keeps
 * its connections open between requests (keep-alive, connection reuse);
 * it is not thread-safe: one per thread, or per store for now. */
#ifndef STASYNC_LIB_HTTP_H
#define STASYNC_LIB_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/http.h>

typedef struct sta_http sta_http;

/* sta_http_new() — a handle with options o (NULL: defaults). Checks that a
 * CA file given is readable. Returns 0, -EPROTONOSUPPORT without libcurl,
 * -ENOMEM, or -EINVAL/-errno for bad options, with a message. */
int sta_http_new(const stasync_http_options *o, sta_http **ret, stasync_error *err);

/* sta_http_free() — accepts NULL, returns NULL. */
sta_http *sta_http_free(sta_http *h);

/* Where a response body goes, piece by piece at increasing offsets. When a
 * request is retried the body starts again at offset 0. Returns 0, or a
 * negative code that aborts the request (and is returned by sta_http_get). */
typedef int (*sta_http_write_fn)(void *ctx, uint64_t offset, const void *p, size_t n);

/* sta_http_get() — GET url (shown as `name` in messages: pass a redacted
 * form) and hand the body to write(ctx, …). More than `limit` body bytes
 * stop the transfer at once. *ret_size (may be NULL) is the body's size.
 * Returns 0; -ENOENT for 404/410; -EFBIG over the limit; -EACCES for
 * 401/403; -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT (unreachable after all
 * attempts); -EPROTO (TLS and protocol failures); -EIO (anything else,
 * including other HTTP statuses); or write()'s code. */
int sta_http_get(sta_http *h, const char *url, const char *name, uint64_t limit,
		 sta_http_write_fn write, void *ctx, uint64_t *ret_size, stasync_error *err);

/* sta_http_head() — HEAD url: 1 when it exists (2xx), 0 when 404/410, or a
 * negative code as sta_http_get(). */
int sta_http_head(sta_http *h, const char *url, const char *name, stasync_error *err);

/* sta_http_unreachable() — true when the last failed request could not
 * reach the server at all on any attempt (connection refused, name not
 * resolved, timed out): asking it again now would only wait again. */
bool sta_http_unreachable(const sta_http *h);

/* sta_http_store_url() — a store URL normalised as casync does: any
 * "?…", ";…" or "#…" after the host dropped, then trailing "/" dropped.
 * A new string, NULL when out of memory. */
char *sta_http_store_url(const char *locator);

#endif
