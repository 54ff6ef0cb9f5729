/* test-store-http — what of HTTP stores needs no server: recognising,
 * normalising and redacting URLs, the option defaults, opening (read-only
 * only), and a store whose server refuses connections: -ECONNREFUSED
 * naming the chunk URL, then "not asked again" at once. Built without
 * libcurl: -EPROTONOSUPPORT saying so. Servers are in tests/cli/t0200. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <stasync/http.h>
#include <stasync/store.h>
#include "http.h"
#include "tap.h"

static void test_urls(void)
{
	static const struct { const char *in, *store, *redacted; } cases[] = {
		{ "http://h/s", "http://h/s", "http://h/s" },
		{ "http://h/s/", "http://h/s", "http://h/s/" },
		{ "http://h/s//", "http://h/s", "http://h/s//" },
		{ "https://h:8443/a/b.castr?sig=x/y", "https://h:8443/a/b.castr", "https://h:8443/a/b.castr?sig=x/y" },
		{ "http://h/s;v=1", "http://h/s", "http://h/s;v=1" },
		{ "http://h/s/?q", "http://h/s", "http://h/s/?q" },
		{ "http://h/s#f", "http://h/s", "http://h/s#f" },
		{ "http://h", "http://h", "http://h" },
		{ "http://h/", "http://h", "http://h/" },
		{ "http://h?x", "http://h", "http://h?x" },
		{ "http://u:pw@h/s/", "http://u:pw@h/s", "http://u:***@h/s/" },
		{ "http://u@h/s", "http://u@h/s", "http://u@h/s" },
		{ "http://u:p@w@h/s", "http://u:p@w@h/s", "http://u:***@h/s" },
		{ "http://h/s?u:p@x", "http://h/s", "http://h/s?u:p@x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = sta_http_store_url(cases[i].in), *r = stasync_url_redact(cases[i].in);

		tap_ok(s && strcmp(s, cases[i].store) == 0, "store URL of %s: %s (got %s)",
		       cases[i].in, cases[i].store, s ? s : "NULL");
		tap_ok(r && strcmp(r, cases[i].redacted) == 0, "redacted %s: %s (got %s)",
		       cases[i].in, cases[i].redacted, r ? r : "NULL");
		free(s);
		free(r);
	}
	tap_ok(stasync_is_http_url("http://x") && stasync_is_http_url("HTTPS://x") &&
	       !stasync_is_http_url("file:///x") && !stasync_is_http_url("/srv/http://x") &&
	       !stasync_is_http_url("httpx://x") && !stasync_is_http_url(NULL),
	       "stasync_is_http_url() knows http:// and https:// only");
}

static void test_options(void)
{
	stasync_http_options o;

	memset(&o, 0xff, sizeof(o));
	stasync_http_options_init(&o);
	tap_ok(!o.cacert && !o.insecure && o.retries == 3 && o.retry_delay_ms == 500 &&
	       o.connect_timeout == 10 && o.stall_timeout == 15 && o.max_redirects == 10,
	       "option defaults: 3 retries from 0.5 s, 10 s to connect, 15 s without progress");
}

/* A port on 127.0.0.1 that refuses connections (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
		perror("socket");
		exit(99);
	}
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_store(void)
{
	stasync_http_options o;
	stasync_error err = { 0, "" };
	stasync_store *s = NULL;
	stasync_codec *c = NULL;
	stasync_chunk_id id;
	char url[128], hex[STASYNC_DIGEST_HEX_SIZE], want[256];
	uint8_t out[16];
	double t0;
	int r;

	stasync_http_options_init(&o);
	o.retries = 1;
	o.retry_delay_ms = 10;
	snprintf(url, sizeof(url), "http://u:secret@127.0.0.1:%d/store/", dead_port());

#ifndef HAVE_CURL
	r = stasync_store_open_with(url, 0, &o, &s, &err);
	tap_ok(r == -EPROTONOSUPPORT && strstr(err.message, "no HTTP support") &&
	       !strstr(err.message, "secret"),
	       "without libcurl: -EPROTONOSUPPORT, \"no HTTP support\" (%d \"%s\")", r, err.message);
	r = stasync_http_fetch_file(url, NULL, 100, &(int){ 0 }, &err);
	tap_ok(r == -EPROTONOSUPPORT, "fetch_file() without libcurl: -EPROTONOSUPPORT (%d)", r);
	return;
#endif

	o.cacert = "/nonexistent/ca.pem";
	r = stasync_store_open_with(url, 0, &o, &s, &err);
	tap_ok(r == -ENOENT && strstr(err.message, "/nonexistent/ca.pem"),
	       "a CA file that does not exist: an error naming it (%d \"%s\")", r, err.message);
	o.cacert = NULL;

	r = stasync_store_open_with(url, 0, &o, &s, &err);
	if (!tap_ok(r == 0, "read-only open (%d %s)", r, err.message))
		return;
	tap_ok(strstr(stasync_store_locator(s), "u:***@127.0.0.1") != NULL,
	       "the locator hides the password (%s)", stasync_store_locator(s));
	if (stasync_codec_new(&c) < 0)
		exit(99);
	memset(&id, 0xab, sizeof(id));
	stasync_chunk_id_format(&id, hex);
	snprintf(want, sizeof(want), "/store/abab/%s.cacnk", hex);

	t0 = now();
	r = stasync_store_get(s, c, &id, STASYNC_DIGEST_SHA512_256, out, sizeof(out), &err);
	tap_ok(r == -ECONNREFUSED && strstr(err.message, want) && strstr(err.message, "2 attempts") &&
	       !strstr(err.message, "secret"),
	       "a refused connection: -ECONNREFUSED naming the chunk URL, 2 attempts (%d \"%s\")", r,
	       err.message);
	tap_ok(now() - t0 >= 0.009, "  with the retry delay in between (%.3f s)", now() - t0);
	stasync_error_clear(&err);
	t0 = now();
	r = stasync_store_has(s, &id, &err);
	tap_ok(r == -ECONNREFUSED && strstr(err.message, "not asked") && now() - t0 < 0.005,
	       "then the server is not asked again (%d \"%s\")", r, err.message);

	r = stasync_store_put(s, c, &id, out, sizeof(out), &err);
	tap_ok(r == -EROFS, "put() into a read-only HTTP store fails (%d)", r);
	stasync_store_free(s);

	/* Uploads go on in the background; flush() reports how they ended. */
	r = stasync_store_open_with(url, STASYNC_STORE_WRITABLE, &o, &s, &err);
	if (!tap_ok(r == 0, "writable open (%d %s)", r, err.message))
		return;
	memset(out, 0, sizeof(out));
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, out, sizeof(out), &id);
	r = stasync_store_put(s, c, &id, out, sizeof(out), &err);
	tap_ok(r == 1, "put() starts the upload and returns at once (%d %s)", r, err.message);
	stasync_error_clear(&err);
	r = stasync_store_flush(s, &err);
	tap_ok(r == -ECONNREFUSED && strstr(err.message, "127.0.0.1") && strstr(err.message, ".cacnk") &&
	       !strstr(err.message, "secret"),
	       "flush() reports the failed upload, naming the chunk URL (%d \"%s\")", r, err.message);
	r = stasync_store_put(s, c, &id, out, sizeof(out), &err);
	tap_ok(r == -ECONNREFUSED, "  and the next put() fails at once (%d)", r);
	stasync_codec_free(c);
	stasync_store_free(s);
}

int main(void)
{
	test_urls();
	test_options();
	test_store();
	return tap_done();
}
