/* fuzz-locator — store and index locators: which kind a string names
 * (stasync_is_http_url(), stasync_is_s3_url(), stasync_is_ssh_remote()),
 * ssh remotes taken apart (sta_ssh_locator_parse()), S3 locators turned
 * into URLs (sta_s3_url()), the HTTP URL helpers (stasync_url_redact(),
 * sta_http_store_url()) and stasync_store_open()'s choice of backend.
 *
 * Input: the locator, up to the first NUL. Checks:
 *   - a string is at most one of an HTTP URL, an S3 locator and an ssh
 *     remote; an S3 locator is one that starts s3://, s3+http:// or
 *     s3+https://;
 *   - an S3 locator's URL, for AWS's endpoint, a configured one and its
 *     own, path-style, virtual-hosted or auto, is the endpoint and the
 *     locator's bucket and key put back together (query, fragment and
 *     trailing slashes dropped), the bucket's root a prefix of it; the
 *     bucket goes into a host name only as lowercase letters, digits, '-'
 *     and '.', and auto does so only for AWS; a refusal is -EINVAL with a
 *     message holding no password of the locator;
 *   - a parsed ssh remote puts back together into the string, with a
 *     non-empty host that ssh cannot take for an option, a port of digits,
 *     a non-empty path (absolute in ssh:// form), and the "host:path"
 *     form only when casync's rules allow it;
 *   - redaction keeps everything but the password, and is idempotent;
 *   - a store URL is the locator up to its query, fragment or ";…", less
 *     trailing slashes after the host;
 *   - stasync_store_open() on HTTP URLs opens a store (no connection is
 *     made before a chunk is asked for) named by the redacted URL; on S3
 *     ones (s3://, s3+http(s)://) opens one so named (AWS variables and
 *     files are set aside first: nothing is read from the machine) or
 *     refuses with a message;
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
#include "s3.h"

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

/* The locator with query, fragment and trailing slashes (after the
 * scheme) cut off, as sta_s3_url() reads it. */
static char *s3_clean(const char *s)
{
	char *u = xstrdup(s);
	size_t start = (size_t)(strstr(u, "://") + 3 - u), n;

	u[strcspn(u, "?#")] = 0;
	n = strlen(u);
	while (n > start && u[n - 1] == '/')
		u[--n] = 0;
	return u;
}

static bool dns_chars(const char *b, size_t n)
{
	return n >= 3 && n <= 63 && strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789-.") >= n;
}

/* A refusal: -EINVAL or -ENOMEM with a message, without the password of
 * the locator (":PASSWORD@" of its user info), unless the redacted locator
 * shows that text anyway (in its path, say). */
static void check_refusal(const char *s, int r, const stasync_error *err, const char *url)
{
	const char *auth = strstr(s, "://"), *at, *colon;
	size_t len;

	if ((r != -EINVAL && r != -ENOMEM) || err->code != r || !err->message[0] || url)
		abort();
	if (!auth)
		return;
	auth += 3;
	len = strcspn(auth, "/?#");
	at = memrchr(auth, '@', len);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon && at > colon + 1) {
		char *pw = strndup(colon, (size_t)(at - colon + 1));   /* ":PASSWORD@" */
		char *red = stasync_url_redact(s);

		if (!pw || !red)
			abort();
		if (!strstr(red, pw) && strstr(err->message, pw))
			abort();
		free(red);
		free(pw);
	}
}

/* sta_s3_url() for one endpoint configuration and addressing. */
static void check_s3_url_with(const char *s, const sta_s3_credentials *c, stasync_s3_addressing a)
{
	stasync_error err = { 0, "" };
	char *url = NULL, *clean = s3_clean(s), *want = NULL;
	const char *ep, *bucket, *key, *host, *rest;
	size_t end = 0, bucket_len, ep_len;
	bool s_short = strncmp(s, "s3://", 5) == 0, virtual;
	int r = sta_s3_url(s, c, a, &url, &end, &err);

	if (r < 0) {
		check_refusal(s, r, &err, url);
		free(clean);
		return;
	}
	if (r != 0 || !url || end > strlen(url) || (url[end] && url[end] != '/'))
		abort();
	/* what the locator holds: the endpoint, the bucket, the key */
	if (s_short) {
		ep = c && c->endpoint ? c->endpoint : NULL;
		ep_len = ep ? strlen(ep) : 0;
		bucket = clean + 5;
	} else {
		ep = clean + 3;
		ep_len = (size_t)(strstr(ep, "://") + 3 - ep);
		ep_len += strcspn(ep + ep_len, "/");
		bucket = ep + ep_len + strspn(ep + ep_len, "/");
	}
	bucket_len = strcspn(bucket, "/");
	key = bucket[bucket_len] ? bucket + bucket_len + 1 : "";
	if (!bucket_len)
		abort();
	if (!ep) {   /* AWS's own endpoint for the region */
		if (asprintf(&want, "https://s3.%s.amazonaws.com", c && c->region ? c->region : "us-east-1") < 0)
			abort();
		ep = want;
		ep_len = strlen(ep);
	}
	while (ep_len > 0 && ep[ep_len - 1] == '/')
		ep_len--;
	host = strstr(ep, "://") + 3;
	/* path-style: ENDPOINT/BUCKET[/KEY] */
	virtual = !(strncasecmp(url, ep, ep_len) == 0 && url[ep_len] == '/' &&
		    strncmp(url + ep_len + 1, bucket, bucket_len) == 0 &&
		    end == ep_len + 1 + bucket_len);
	if (virtual) {
		/* scheme://[USERINFO@]BUCKET.HOST[:PORT][/PATH][/KEY] */
		size_t userinfo = 0;

		for (const char *p = host; p < ep + ep_len && *p != '/'; p++)
			if (*p == '@')
				userinfo = (size_t)(p + 1 - host);
		host += userinfo;
		if (a == STASYNC_S3_ADDRESSING_PATH || !dns_chars(bucket, bucket_len) ||
		    strncmp(url, ep, (size_t)(host - ep)) != 0 ||
		    strncmp(url + (host - ep), bucket, bucket_len) != 0 ||
		    url[(host - ep) + bucket_len] != '.')
			abort();
		rest = url + (host - ep) + bucket_len + 1;
		if (strncmp(rest, host, ep_len - (size_t)(host - ep)) != 0 ||
		    end != (size_t)(rest - url) + ep_len - (size_t)(host - ep))
			abort();
		/* auto goes virtual for AWS only */
		if (a == STASYNC_S3_ADDRESSING_AUTO || (a == STASYNC_S3_ADDRESSING_DEFAULT &&
							(!c || !c->addressing))) {
			size_t hn = strcspn(host, ":/");

			if (hn < 14 || strncasecmp(host + hn - 14, ".amazonaws.com", 14) != 0)
				if (hn < 17 || strncasecmp(host + hn - 17, ".amazonaws.com.cn", 17) != 0)
					abort();
		}
	} else if (a == STASYNC_S3_ADDRESSING_VIRTUAL) {
		abort();
	}
	if (*key ? strcmp(url + end + 1, key) != 0 : url[end] != 0)
		abort();
	free(want);
	free(url);
	free(clean);
}

static void check_s3_url(const char *s)
{
	static const stasync_s3_addressing all[] = {
		STASYNC_S3_ADDRESSING_DEFAULT, STASYNC_S3_ADDRESSING_AUTO,
		STASYNC_S3_ADDRESSING_PATH, STASYNC_S3_ADDRESSING_VIRTUAL,
	};
	const sta_s3_credentials aws = { .region = "eu-west-1" };
	const sta_s3_credentials local = { .region = "us-east-1", .endpoint = "http://localhost:9000/",
					   .endpoint_from = "AWS_ENDPOINT_URL" };
	const sta_s3_credentials under = { .region = "us-east-1", .endpoint = "https://u:p@s3.example.amazonaws.com/base",
					   .endpoint_from = "AWS_ENDPOINT_URL_S3",
					   .addressing = STASYNC_S3_ADDRESSING_VIRTUAL };

	if (!stasync_is_s3_url(s))
		return;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		check_s3_url_with(s, NULL, all[i]);
		check_s3_url_with(s, &aws, all[i]);
		check_s3_url_with(s, &local, all[i]);
		check_s3_url_with(s, &under, all[i]);
	}
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
		if (r < 0 && r != -EPROTONOSUPPORT)
			check_refusal(s, r, &err, NULL);
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

/* Opening an S3 store reads the AWS variables and files: none of this
 * machine's, so that a run depends on its input only. */
static void aws_environment_set_aside(void)
{
	static const char *const names[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	};
	static bool done;

	if (done)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *s = malloc(n + 1);
	bool http, s3, ssh;

	if (!s)
		abort();
	memcpy(s, data, n);
	s[n] = 0;

	aws_environment_set_aside();
	http = stasync_is_http_url(s);
	if (http != (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
		abort();
	s3 = stasync_is_s3_url(s);
	if (s3 != (!strncmp(s, "s3://", 5) || !strncmp(s, "s3+http://", 10) ||
		   !strncmp(s, "s3+https://", 11)))
		abort();
	ssh = stasync_is_ssh_remote(s);
	if ((http && ssh) || (s3 && (http || ssh)))
		abort();
	check_s3_url(s);
	check_ssh(s);
	check_redact(s);
	check_store_url(s);
	check_open(s, http, ssh);
	free(s);
	return 0;
}
