/* fuzz-locator — store and index locators: which kind a string names
 * (stasync_is_http_url(), stasync_is_ssh_remote()), ssh remotes taken
 * apart (sta_ssh_locator_parse()), the HTTP URL helpers
 * (stasync_url_redact(), sta_http_store_url()) and stasync_store_open()'s
 * choice of backend.
 *
 * Input: the locator, up to the first NUL. Checks:
 *   - a string is at most one of an HTTP URL and an ssh remote;
 *   - a parsed ssh remote puts back together into the string, with a
 *     non-empty host that ssh cannot take for an option, a port of digits,
 *     a non-empty path (absolute in ssh:// form), and the "host:path"
 *     form only when casync's rules allow it;
 *   - redaction keeps everything but the password, and is idempotent;
 *   - a store URL is the locator up to its query, fragment or ";…", less
 *     trailing slashes after the host;
 *   - stasync_store_open() on HTTP URLs opens a store (no connection is
 *     made before a chunk is asked for) named by the redacted URL; on S3
 *     ones (s3+http(s)://) opens one so named or refuses with a message;
 *     on other URLs but file:// fails with -EPROTONOSUPPORT; on a path (or a
 *     file:// URL's path, whatever it holds) without ".." opens
 *     it below a private empty directory (nothing is created: read-only)
 *     as an empty store. ssh remotes are not opened: that starts ssh. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <stasync/http.h>
#include <stasync/remote.h>
#include <stasync/store.h>
#include "http.h"
#include "remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static bool host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == '%';
}

static void check_ssh(const char *s)
{
	struct sta_ssh_locator l;
	char *joined;
	int r = sta_ssh_locator_parse(s, &l);

	if (stasync_is_ssh_remote(s) != (r == 0))
		abort();
	if (r < 0) {
		if (r != -EINVAL)
			abort();
		return;
	}
	if (!l.host || !l.path || !l.host[0] || l.host[0] == '-' || !l.path[0] ||
	    strchr(l.host, '@') != strrchr(l.host, '@'))
		abort();
	/* "user@host": neither part empty. */
	if (l.host[0] == '@' || l.host[strlen(l.host) - 1] == '@')
		abort();
	if (strncmp(s, "ssh://", 6) == 0) {
		if (l.path[0] != '/' || !l.path[1] || strchr(l.host, '/'))
			abort();
		if (l.port && (!l.port[0] || strspn(l.port, "0123456789") != strlen(l.port)))
			abort();
		if (asprintf(&joined, "ssh://%s%s%s%s", l.host, l.port ? ":" : "",
			     l.port ? l.port : "", l.path) < 0)
			abort();
	} else {
		if (l.port || s[0] == '/' || strstr(s, "://") || !strcmp(s, ".") || !strcmp(s, "..") ||
		    !strncmp(s, "./", 2))
			abort();
		for (const char *p = l.host; *p; p++)
			if (!host_char(*p) && *p != '@')
				abort();
		if (asprintf(&joined, "%s:%s", l.host, l.path) < 0)
			abort();
	}
	if (strcmp(joined, s) != 0)
		abort();
	free(joined);
	sta_ssh_locator_done(&l);
}

/* Where the authority of s starts and ends; false without "://". */
static bool authority(const char *s, size_t *start, size_t *end)
{
	const char *p = strstr(s, "://");

	if (!p)
		return false;
	*start = (size_t)(p + 3 - s);
	*end = *start + strcspn(p + 3, "/?#");
	return true;
}

static void check_redact(const char *s)
{
	char *red = stasync_url_redact(s), *again;
	size_t a, e;
	const char *at = NULL, *colon = NULL;

	if (!red)
		abort();
	if (authority(s, &a, &e)) {
		for (size_t i = a; i < e; i++)
			if (s[i] == '@')
				at = s + i;
		if (at)
			colon = memchr(s + a, ':', (size_t)(at - (s + a)));
	}
	if (!colon) {
		if (strcmp(red, s) != 0)
			abort();
	} else {
		size_t head = (size_t)(colon - s);

		if (strncmp(red, s, head) != 0 || strncmp(red + head, ":***", 4) != 0 ||
		    strcmp(red + head + 4, at) != 0)
			abort();
	}
	again = stasync_url_redact(red);
	if (!again || strcmp(again, red) != 0)
		abort();
	free(again);
	free(red);
}

static void check_store_url(const char *s)
{
	char *u = sta_http_store_url(s);
	size_t a, e, n;

	if (!u)
		abort();
	n = strlen(u);
	if (!authority(s, &a, &e)) {
		if (strcmp(u, s) != 0)
			abort();
		free(u);
		return;
	}
	if (strncmp(u, s, n) != 0 || n < e)
		abort();
	if (strcspn(u + e, "?;#") != n - e || (n > e && u[n - 1] == '/'))
		abort();
	/* What was cut: slashes, then nothing or a query/fragment/parameter. */
	{
		size_t k = n + strspn(s + n, "/");

		if (s[k] && !strchr("?;#", s[k]))
			abort();
	}
	free(u);
}

/* A new empty directory for one run, removed after it. */
static char *make_scratch(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];

	snprintf(tmpl, sizeof(tmpl), "%s/fuzz-locator.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl))
		abort();
	return xstrdup(tmpl);
}

static bool has_dotdot(const char *p)
{
	for (const char *q = p; (q = strstr(q, "..")); q++)
		if ((q == p || q[-1] == '/') && (q[2] == 0 || q[2] == '/'))
			return true;
	return false;
}

static void check_open(const char *s, bool http, bool ssh)
{
	stasync_store *st = NULL;
	stasync_error err = { 0, "" };
	const char *path = s;
	char *local = NULL, *scratch, *red;
	bool file_url = strncmp(s, "file://", 7) == 0;
	int r;

	if (ssh)
		return;
	if (stasync_is_s3_url(s)) {
		/* a store in a bucket, or a clear refusal (no bucket named) */
		r = stasync_store_open(s, 0, &st, &err);
		if (r < 0 && (err.code != r || !err.message[0]))
			abort();
		if (r == 0) {
			red = stasync_url_redact(s);
			if (!red || strcmp(stasync_store_locator(st), red) != 0)
				abort();
			free(red);
			stasync_store_free(st);
		}
		return;
	}
	if (http) {
		r = stasync_store_open(s, 0, &st, &err);
		if (r == -EPROTONOSUPPORT && err.code == r)
			return;
		red = stasync_url_redact(s);
		if (r != 0 || !red || strcmp(stasync_store_locator(st), red) != 0)
			abort();
		free(red);
		stasync_store_free(st);
		return;
	}
	/* A file:// URL's path is a path, "://" in it or not. */
	if (file_url)
		path += 7;
	else if (strstr(path, "://")) {
		r = stasync_store_open(s, 0, &st, &err);
		if (r != -EPROTONOSUPPORT || err.code != r || !err.message[0])
			abort();
		return;
	}
	if (!*path) {
		r = stasync_store_open(s, 0, &st, &err);
		if (r != -EINVAL || err.code != r)
			abort();
		return;
	}
	if (has_dotdot(path))
		return;
	scratch = make_scratch();
	if (asprintf(&local, "%s%s/%s", file_url ? "file://" : "", scratch, path) < 0)
		abort();
	/* An absolute path is never an ssh remote nor another URL. */
	if (stasync_is_ssh_remote(local) || stasync_is_http_url(local))
		abort();
	r = stasync_store_open(local, 0, &st, &err);
	if (r == 0) {
		stasync_chunk_id id;

		memset(&id, 0xab, sizeof(id));
		if (strcmp(stasync_store_locator(st), local + (file_url ? 7 : 0)) != 0)
			abort();
		/* The directory is empty: every chunk is missing. */
		if (stasync_store_has(st, &id, &err) != 0)
			abort();
		stasync_store_free(st);
	} else if (err.code != r || !err.message[0] || r == -EINVAL || r == -EPROTONOSUPPORT) {
		abort();
	}
	/* Read-only: nothing was made in it. */
	if (rmdir(scratch) < 0)
		abort();
	free(scratch);
	free(local);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *s = malloc(n + 1);
	bool http, ssh;

	if (!s)
		abort();
	memcpy(s, data, n);
	s[n] = 0;

	http = stasync_is_http_url(s);
	if (http != (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
		abort();
	ssh = stasync_is_ssh_remote(s);
	if (http && ssh)
		abort();
	check_ssh(s);
	check_redact(s);
	check_store_url(s);
	check_open(s, http, ssh);
	free(s);
	return 0;
}
