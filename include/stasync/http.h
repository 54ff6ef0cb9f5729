/* ==== HTTP(S) =======================================================
 * Chunk stores and indexes on a web server, read through libcurl.
 *
 * A store URL names a directory of chunk files: STORE_URL/<4 hex>/<64 hex>.cacnk
 * (a trailing "/" and any "?…", ";…" or "#…" part of STORE_URL are dropped).
 * 404 and 410 mean "missing" (the next store is asked); every other failure
 * is an error naming the URL and the reason (libcurl's text or the HTTP
 * status). Redirects are followed (at most max_redirects, http and https
 * only); proxy environment variables, ~/.netrc and user:password@ in the URL
 * work as with curl. Passwords never appear in messages.
 *
 * Time bounds, per request, with the defaults below:
 * - an attempt fails when connecting (TCP and TLS) takes more than
 *   connect_timeout (10 s), or when nothing arrives for stall_timeout
 *   (15 s), whether before the response or in the middle of its body
 *   (checked about once a second);
 * - connection errors, timeouts, HTTP 5xx, 408 and 429 are retried
 *   `retries` times (3) after retry_delay_ms (500 ms), doubling each time
 *   (at most 30 s); other 4xx, certificate errors and oversized responses
 *   are not retried;
 * - but while the server answers other requests well (one did within
 *   stall_timeout), a failure is taken for the request's own: it is
 *   retried past `retries`, up to 10 attempts (or `retries` + 1 when
 *   more), 100 ms after the failure, doubling (never later than the
 *   delays above);
 * - a GET not answered after 4 × the median time to an answer of recent
 *   requests (300 ms at least), while others were answered meanwhile, is
 *   sent again on a new connection (hedged); the first answer wins, the
 *   other transfer is dropped;
 * so a server that accepts connections and never answers fails after
 * 4 × 15 s + 0.5 + 1 + 2 s ≈ 64 s (plus up to 1 s per attempt), one that
 * drops connection attempts after 4 × 10 s + 3.5 s ≈ 44 s, and a refused
 * connection after ≈ 3.5 s. A server that keeps sending, however slowly, is
 * not cut off by time; the size limit bounds it. A store whose server could
 * not be reached (refused, unresolved or timed out on every attempt) is not
 * asked again during its lifetime: later chunks fail over to the next store
 * at once, so a dead server costs one bounded wait per run, not per chunk.
 *
 * Built without libcurl, every function here that would reach a server
 * returns -EPROTONOSUPPORT ("this build has no HTTP support"). */
#ifndef STASYNC_HTTP_H
#define STASYNC_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/error.h>

#define STASYNC_HTTP_RETRIES 3
#define STASYNC_HTTP_RETRY_DELAY_MS 500
#define STASYNC_HTTP_CONNECT_TIMEOUT 10   /* seconds */
#define STASYNC_HTTP_STALL_TIMEOUT 15     /* seconds */
#define STASYNC_HTTP_MAX_REDIRECTS 10
#define STASYNC_HTTP_CONCURRENCY 16       /* requests in flight per server */
/* The largest index fetched over HTTP: 1 GiB is 26 million chunks. */
#define STASYNC_HTTP_INDEX_MAX ((uint64_t)1 << 30)

/* How requests name an S3 bucket (see stasync_is_s3_url()). */
typedef enum stasync_s3_addressing {
	/* the profile's "s3 = addressing_style" in ~/.aws/config, else auto */
	STASYNC_S3_ADDRESSING_DEFAULT,
	/* virtual-hosted for an endpoint under amazonaws.com when the bucket
	 * name can be a host name (over https: without dots), else path */
	STASYNC_S3_ADDRESSING_AUTO,
	STASYNC_S3_ADDRESSING_PATH,     /* http(s)://ENDPOINT/BUCKET/KEY */
	STASYNC_S3_ADDRESSING_VIRTUAL,  /* http(s)://BUCKET.ENDPOINT/KEY */
} stasync_s3_addressing;

typedef struct stasync_http_options {
	/* CA certificates (PEM file) to verify servers with, instead of the
	 * system's. NULL: $CURL_CA_BUNDLE, else $SSL_CERT_FILE, else the
	 * directory $SSL_CERT_DIR, else libcurl's default. */
	const char *cacert;
	bool insecure;              /* do not verify certificates or host names */
	/* extra attempts after a transient failure when no other request
	 * succeeds (more while others do, see above) */
	unsigned retries;
	unsigned retry_delay_ms;    /* before the first retry; doubles each time */
	unsigned connect_timeout;   /* seconds, > 0 */
	unsigned stall_timeout;     /* seconds without progress, > 0 */
	unsigned max_redirects;
	/* Requests in flight at once per store (> 0): over one connection
	 * when the server speaks HTTP/2, else over up to this many. */
	unsigned concurrency;
	/* Bytes per second all transfers of a store together stay under,
	 * each direction; 0: no limit. */
	uint64_t rate_limit_bps;
	/* How requests to S3 stores and objects name the bucket. */
	stasync_s3_addressing s3_addressing;
} stasync_http_options;

/* stasync_http_options_init() — the defaults above. */
void stasync_http_options_init(stasync_http_options *o);

/* stasync_http_ca_describe() — which CA certificates HTTPS servers will be
 * checked against, and why: "FILE (--cacert)", "FILE (SSL_CERT_FILE)",
 * "DIR/ (found on this system)", … Written into buf (n bytes), returned.
 * For -v. */
const char *stasync_http_ca_describe(const stasync_http_options *o, char *buf, size_t n);

/* stasync_http_version() — what HTTP is built in, for --version: "libcurl
 * 7.88.1 (OpenSSL/3.0.17), HTTP/1.1 and HTTP/2", or "none (built without
 * libcurl)". Written into buf (n bytes), returned. */
const char *stasync_http_version(char *buf, size_t n);

/* stasync_is_http_url() — true for "http://…" and "https://…" (the scheme
 * in any case). */
bool stasync_is_http_url(const char *s);

/* stasync_is_s3_url() — true for "s3+http://…", "s3+https://…" and
 * "s3://…": an object (an index) or a store's prefix in an S3 bucket, which
 * the functions below take as well as http(s):// URLs.
 * s3+http(s)://ENDPOINT/BUCKET/KEY names its endpoint (desync's spelling);
 * s3://BUCKET/KEY (the AWS CLI's) takes it from AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL, else the profile's ~/.aws/config (its services
 * section's s3 endpoint_url, else its endpoint_url), else it is AWS's
 * https://s3.REGION.amazonaws.com. */
bool stasync_is_s3_url(const char *s);

/* stasync_url_redact() — a copy of url fit for messages: a password in it
 * is replaced by "***". NULL when out of memory. Free with free(). */
char *stasync_url_redact(const char *url);

/* stasync_http_fetch_file() — GET url (with retries) into an unlinked
 * temporary file in $TMPDIR (else /tmp), refusing a body of more than
 * max_size bytes as soon as it is announced or has arrived. *ret_fd is
 * positioned at the start; the caller closes it. `o` may be NULL for the
 * defaults. Returns 0, -ENOENT (HTTP 404/410), -EFBIG (too large), or
 * another negative code with a message naming the URL and the reason. */
int stasync_http_fetch_file(const char *url, const stasync_http_options *o, uint64_t max_size,
			    int *ret_fd, stasync_error *err);

/* stasync_http_put_file() — PUT the whole of fd (from offset 0) to url,
 * with retries. Returns 0 or a negative code with a message naming the URL
 * and the reason. */
int stasync_http_put_file(const char *url, const stasync_http_options *o, int fd,
			  stasync_error *err);

/* ---- A response body as a stream --------------------------------------------
 * For what is read once from start to end (a .catar): the body is handed
 * over as it arrives, nothing is kept on disk. */
typedef struct stasync_http_stream stasync_http_stream;

/* stasync_http_stream_open() — start GET url (http(s)://, or an object's
 * s3+http(s):// URL, signed) with retries, as above, in a thread of its own; its body can then be read from
 * stasync_http_stream_fd(). A body of more than max_size bytes ends the
 * transfer (UINT64_MAX: no bound). When a request is retried after part of
 * the body was read, the reader goes on where it stopped: the bytes it
 * already has are skipped. `o` may be NULL for the defaults. Returns 0, or
 * a negative code with a message (-EPROTONOSUPPORT without libcurl). Errors
 * of the transfer itself (404, unreachable server, …) are only known when
 * the stream ends: the fd then reads end-of-file early and
 * stasync_http_stream_close() tells why. */
int stasync_http_stream_open(const char *url, const stasync_http_options *o, uint64_t max_size,
			     stasync_http_stream **ret, stasync_error *err);

/* stasync_http_stream_fd() — the read end of the body; owned by the stream. */
int stasync_http_stream_fd(const stasync_http_stream *s);

/* stasync_http_stream_close() — stop reading (a transfer still running is
 * aborted: it fails with -EPIPE), wait for the thread, free. Accepts NULL.
 * Returns 0 when the whole body was received; -EPIPE when the reader stopped
 * first; else the transfer's error (-ENOENT for HTTP 404/410, …) with a
 * message naming the URL in err (may be NULL). */
int stasync_http_stream_close(stasync_http_stream *s, stasync_error *err);

#endif
