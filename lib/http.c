/* HTTP(S) through one libcurl easy handle: requests with retries and
 * exponential backoff, bounded bodies, CA selection, and the URL helpers
 * that need no libcurl. Built without libcurl, the requests say so. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "http.h"
#include "util.h"

/* The longest wait between two attempts, whatever the doubling says. */
#define RETRY_DELAY_MAX_MS 30000
/* Bytes of an error page read (and thrown away) before the connection is
 * dropped instead. */
#define ERROR_BODY_MAX (64 * 1024)

void stasync_http_options_init(stasync_http_options *o)
{
	*o = (stasync_http_options){
		.retries = STASYNC_HTTP_RETRIES,
		.retry_delay_ms = STASYNC_HTTP_RETRY_DELAY_MS,
		.connect_timeout = STASYNC_HTTP_CONNECT_TIMEOUT,
		.stall_timeout = STASYNC_HTTP_STALL_TIMEOUT,
		.max_redirects = STASYNC_HTTP_MAX_REDIRECTS,
	};
}

bool stasync_is_http_url(const char *s)
{
	return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

/* Where the authority ("user:pw@host:port") of a URL starts and how long
 * it is; false when s has no "scheme://". */
static bool url_authority(const char *s, const char **ret, size_t *len)
{
	const char *p = strstr(s, "://");

	if (!p)
		return false;
	*ret = p + 3;
	*len = strcspn(p + 3, "/?#");
	return true;
}

char *stasync_url_redact(const char *url)
{
	const char *auth, *at, *colon;
	size_t len;
	char *s;

	if (!url_authority(url, &auth, &len) || !(at = memrchr(auth, '@', len)) ||
	    !(colon = memchr(auth, ':', (size_t)(at - auth))))
		return strdup(url);
	if (asprintf(&s, "%.*s:***%s", (int)(colon - url), url, at) < 0)
		return NULL;
	return s;
}

char *sta_http_store_url(const char *locator)
{
	const char *auth, *path;
	size_t len, n;

	if (!url_authority(locator, &auth, &len))
		return strdup(locator);
	path = auth + len;
	n = (size_t)(path - locator) + strcspn(path, "?;#");
	while (n > (size_t)(path - locator) && locator[n - 1] == '/')
		n--;
	return strndup(locator, n);
}

/* ---- a temporary file for a whole response -------------------------------- */

static int tmpfile_open(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	if (asprintf(&path, "%s/.stasync-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	else
		unlink(path);
	free(path);
	return fd;
}

static int file_write(void *ctx, uint64_t offset, const void *p, size_t n)
{
	return sta_pwrite_full(*(int *)ctx, p, n, offset);
}

#ifdef HAVE_CURL
#include <curl/curl.h>

struct sta_http {
	CURL *curl;
	stasync_http_options o;
	char *cacert;
	bool unreachable;
	char errbuf[CURL_ERROR_SIZE];
	char status[96];           /* "404 Not Found" of the last status line */
	/* the request under way */
	sta_http_write_fn write;
	void *ctx;
	uint64_t limit, received, discarded;
	bool status_checked, status_ok, over_limit, stalled;
	int write_r;
	curl_off_t last_dlnow;     /* body bytes at the last progress call */
	uint64_t last_change_ms;   /* when they last grew */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_r;

static void global_init(void)
{
	global_r = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	sta_http *h = ctx;
	size_t len = n;

	(void)size;   /* always 1 */
	/* A status line starts each response (redirects, 100 Continue): keep
	 * the last one's "CODE REASON". */
	if (len > 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);

		if (sp) {
			size_t k = len - (size_t)(sp + 1 - p);
			while (k > 0 && (sp[k] == '\r' || sp[k] == '\n' || sp[k] == ' '))
				k--;
			snprintf(h->status, sizeof(h->status), "%.*s", (int)k, sp + 1);
		}
	}
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	sta_http *h = ctx;
	int r;

	(void)size;   /* always 1 */
	if (!h->status_checked) {
		long code = 0;

		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
		h->status_ok = code >= 200 && code < 300;
		h->status_checked = true;
	}
	if (!h->status_ok) {
		/* An error page: read a little of it to keep the connection,
		 * never keep it. */
		h->discarded += n;
		return h->discarded > ERROR_BODY_MAX ? 0 : n;
	}
	if (n > h->limit - h->received) {
		h->over_limit = true;
		return 0;
	}
	if (h->write) {
		r = h->write(h->ctx, h->received, p, n);
		if (r < 0) {
			h->write_r = r;
			return 0;
		}
	}
	h->received += n;
	return n;
}

static uint64_t monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A transfer that has started and then stops: libcurl's low-speed check
 * averages over a window of several seconds and would notice late, so
 * count the time since the body last grew here (libcurl calls this about
 * once a second when nothing happens). Before the first body byte, the
 * low-speed check is exact and does the work. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	sta_http *h = ctx;
	uint64_t now = monotonic_ms();

	if (dlnow != h->last_dlnow) {
		h->last_dlnow = dlnow;
		h->last_change_ms = now;
		return 0;
	}
	if (dlnow > 0 && now - h->last_change_ms >= (uint64_t)h->o.stall_timeout * 1000) {
		h->stalled = true;
		return 1;
	}
	return 0;
}

static bool setopt_failed(CURLcode *acc, CURLcode r)
{
	if (r != CURLE_OK && *acc == CURLE_OK)
		*acc = r;
	return r != CURLE_OK;
}

#define SETOPT(h, acc, opt, val) setopt_failed(&(acc), curl_easy_setopt((h)->curl, opt, val))

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* Where the CA certificates come from, in the curl tool's order: the
 * option, then the environment (libcurl itself reads none), then libcurl's
 * own default; a libcurl built without one (the static build) gets the
 * system's, from where the common distributions keep it. `why` says which
 * rule chose it, for -v. */
static void ca_choose(const stasync_http_options *o, CURL *curl, const char **ret_file,
		      const char **ret_dir, const char **why)
{
	static const char *const files[] = {
		"/etc/ssl/certs/ca-certificates.crt",                /* Debian, Ubuntu, Alpine, Arch */
		"/etc/pki/tls/certs/ca-bundle.crt",                  /* Fedora, RHEL */
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", /* RHEL */
		"/etc/ssl/ca-bundle.pem",                            /* openSUSE */
		"/var/lib/ca-certificates/ca-bundle.pem",            /* SUSE */
		"/etc/pki/tls/cacert.pem",                           /* older RHEL */
		"/etc/ssl/cert.pem",                                 /* Alpine, BSDs */
	};
	static const char *const dirs[] = { "/etc/ssl/certs", "/etc/pki/tls/certs" };
	const char *v;

	*ret_file = *ret_dir = NULL;
	if (o->cacert) {
		*ret_file = o->cacert;
		*why = "--cacert";
		return;
	}
	if ((v = env_nonempty("CURL_CA_BUNDLE")) || (v = env_nonempty("SSL_CERT_FILE"))) {
		*ret_file = v;
		*why = env_nonempty("CURL_CA_BUNDLE") ? "CURL_CA_BUNDLE" : "SSL_CERT_FILE";
		return;
	}
	if ((v = env_nonempty("SSL_CERT_DIR"))) {
		*ret_dir = v;
		*why = "SSL_CERT_DIR";
		return;
	}
#if LIBCURL_VERSION_NUM >= 0x075400
	{
		char *file = NULL, *dir = NULL;

		curl_easy_getinfo(curl, CURLINFO_CAINFO, &file);
		curl_easy_getinfo(curl, CURLINFO_CAPATH, &dir);
		if (file || dir) {
			*why = "libcurl's default";
			*ret_file = file;
			*ret_dir = dir;
			return;
		}
	}
#endif
	*why = "found on this system";
	for (size_t i = 0; i < ELEMENTSOF(files); i++)
		if (access(files[i], R_OK) == 0) {
			*ret_file = files[i];
			return;
		}
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (access(dirs[i], R_OK | X_OK) == 0) {
			*ret_dir = dirs[i];
			return;
		}
	*why = "none found";
}

const char *stasync_http_ca_describe(const stasync_http_options *o, char *buf, size_t n)
{
	stasync_http_options defaults;
	const char *file, *dir, *why;
	CURL *curl;

	if (!o) {
		stasync_http_options_init(&defaults);
		o = &defaults;
	}
	if (o->insecure) {
		snprintf(buf, n, "none: certificates are not checked (--insecure)");
		return buf;
	}
	pthread_once(&global_once, global_init);
	curl = global_r == CURLE_OK ? curl_easy_init() : NULL;
	if (!curl) {
		snprintf(buf, n, "unknown (libcurl could not be set up)");
		return buf;
	}
	ca_choose(o, curl, &file, &dir, &why);
	if (file || dir)
		snprintf(buf, n, "%s%s (%s)", file ? file : dir, file ? "" : "/", why);
	else
		snprintf(buf, n, "%s", why);
	curl_easy_cleanup(curl);
	return buf;
}

int sta_http_new(const stasync_http_options *o, sta_http **ret, stasync_error *err)
{
	stasync_http_options defaults;
	const char *ca_file = NULL, *ca_dir = NULL, *why = NULL;
	CURLcode rc = CURLE_OK;
	sta_http *h;

	if (!o) {
		stasync_http_options_init(&defaults);
		o = &defaults;
	}
	if (o->connect_timeout == 0 || o->stall_timeout == 0)
		return sta_error(err, -EINVAL, "HTTP timeouts must be at least 1 second");
	pthread_once(&global_once, global_init);
	if (global_r != CURLE_OK)
		return sta_error(err, -EIO, "cannot initialise libcurl: %s", curl_easy_strerror(global_r));

	h = calloc(1, sizeof(*h));
	if (!h)
		return sta_error(err, -ENOMEM, "out of memory");
	h->o = *o;
	h->o.cacert = NULL;
	h->curl = curl_easy_init();
	if (!h->curl) {
		sta_http_free(h);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	ca_choose(o, h->curl, &ca_file, &ca_dir, &why);
	/* libcurl's own default is left to libcurl */
	if (strcmp(why, "libcurl's default") == 0)
		ca_file = ca_dir = NULL;
	if (ca_file && access(ca_file, R_OK) < 0) {
		int e = -errno;
		sta_http_free(h);
		return sta_error(err, e, "CA certificates %s (from %s): %s", ca_file, why,
				 stasync_strerror(e));
	}
	if (ca_file && !(h->cacert = strdup(ca_file))) {
		sta_http_free(h);
		return sta_error(err, -ENOMEM, "out of memory");
	}

	SETOPT(h, rc, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, rc, CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(h, rc, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h, rc, CURLOPT_WRITEDATA, h);
	SETOPT(h, rc, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, rc, CURLOPT_HEADERDATA, h);
	SETOPT(h, rc, CURLOPT_XFERINFOFUNCTION, on_progress);
	SETOPT(h, rc, CURLOPT_XFERINFODATA, h);
	SETOPT(h, rc, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h, rc, CURLOPT_USERAGENT, "stasync/" PACKAGE_VERSION);
	SETOPT(h, rc, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(h, rc, CURLOPT_MAXREDIRS, (long)o->max_redirects);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, rc, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(h, rc, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, rc, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(h, rc, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, rc, CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout);
	SETOPT(h, rc, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(h, rc, CURLOPT_LOW_SPEED_TIME, (long)o->stall_timeout);
	SETOPT(h, rc, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, rc, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (h->cacert)
		SETOPT(h, rc, CURLOPT_CAINFO, h->cacert);
	if (ca_dir)
		SETOPT(h, rc, CURLOPT_CAPATH, ca_dir);
	if (o->insecure) {
		SETOPT(h, rc, CURLOPT_SSL_VERIFYPEER, 0L);
		SETOPT(h, rc, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (rc != CURLE_OK) {
		sta_http_free(h);
		return sta_error(err, -EINVAL, "cannot set up libcurl: %s", curl_easy_strerror(rc));
	}
	*ret = h;
	return 0;
}

sta_http *sta_http_free(sta_http *h)
{
	if (!h)
		return NULL;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->cacert);
	free(h);
	return NULL;
}

bool sta_http_unreachable(const sta_http *h)
{
	return h->unreachable;
}

enum outcome {
	DONE,        /* 2xx */
	MISSING,     /* 404, 410 */
	TRANSIENT,   /* worth another attempt */
	FAILED,      /* not */
};

static enum outcome status_outcome(long code, int *r)
{
	if (code >= 200 && code < 300)
		return DONE;
	if (code == 404 || code == 410) {
		*r = -ENOENT;
		return MISSING;
	}
	*r = code == 401 || code == 403 ? -EACCES : -EIO;
	if (code >= 500 || code == 408 || code == 429)
		return TRANSIENT;
	return FAILED;
}

/* Failures of the transfer itself that another attempt may not see. */
static enum outcome curl_outcome(CURLcode rc, int *r, bool *unreachable)
{
	*unreachable = false;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*r = -EHOSTUNREACH;
		*unreachable = true;
		return TRANSIENT;
	case CURLE_COULDNT_CONNECT:
		*r = -ECONNREFUSED;
		*unreachable = true;
		return TRANSIENT;
	case CURLE_OPERATION_TIMEDOUT:
		*r = -ETIMEDOUT;
		*unreachable = true;
		return TRANSIENT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
#if LIBCURL_VERSION_NUM >= 0x072600
	case CURLE_HTTP2:
#endif
#if LIBCURL_VERSION_NUM >= 0x073100
	case CURLE_HTTP2_STREAM:
#endif
		*r = -EIO;
		return TRANSIENT;
	case CURLE_SSL_CONNECT_ERROR:
		*r = -EPROTO;
		return TRANSIENT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_WEIRD_SERVER_REPLY:
		*r = -EPROTO;
		return FAILED;
	default:
		*r = -EIO;
		return FAILED;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

/* "HTTP 404 Not Found", or "HTTP 404" when the server sent no reason
 * phrase (HTTP/2 has none). */
static void status_reason(const sta_http *h, long code, char *buf, size_t n)
{
	char *end;

	if (strtol(h->status, &end, 10) == code && *end == ' ' && end[1])
		snprintf(buf, n, "HTTP %s", h->status);
	else
		snprintf(buf, n, "HTTP %ld", code);
}

/* One request, attempted again while it fails in a way that may pass. */
static int request(sta_http *h, const char *url, const char *name, bool head, uint64_t limit,
		   sta_http_write_fn write, void *ctx, uint64_t *ret_size, stasync_error *err)
{
	unsigned delay = h->o.retry_delay_ms, attempt;
	char reason[CURL_ERROR_SIZE + 128];
	enum outcome out = FAILED;
	bool unreachable = false;
	int r = -EIO;

	if (curl_easy_setopt(h->curl, CURLOPT_URL, url) != CURLE_OK)
		return sta_error(err, -EINVAL, "%s: not a URL libcurl accepts", name);
	if (head)
		curl_easy_setopt(h->curl, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
	/* A Content-Length over the limit fails before any byte is read. */
	curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)(limit < INT64_MAX ? limit : INT64_MAX));

	for (attempt = 1;; attempt++) {
		long code = 0;
		CURLcode rc;

		h->write = write;
		h->ctx = ctx;
		h->limit = limit;
		h->received = h->discarded = 0;
		h->status_checked = h->status_ok = h->over_limit = h->stalled = false;
		h->write_r = 0;
		h->last_dlnow = 0;
		h->last_change_ms = monotonic_ms();
		h->errbuf[0] = 0;
		h->status[0] = 0;

		rc = curl_easy_perform(h->curl);
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
		unreachable = false;

		if (h->write_r < 0) {
			r = h->write_r;
			snprintf(reason, sizeof(reason), "cannot keep the response: %s",
				 stasync_strerror(r));
			out = FAILED;
		} else if (h->over_limit || (rc == CURLE_FILESIZE_EXCEEDED && code >= 200 && code < 300)) {
			r = -EFBIG;
			snprintf(reason, sizeof(reason), "response larger than %" PRIu64 " bytes, refused",
				 limit);
			out = FAILED;
		} else if (code >= 300 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR ||
					   rc == CURLE_FILESIZE_EXCEEDED)) {
			/* An HTTP status (a too long error page cut short). */
			out = status_outcome(code, &r);
			status_reason(h, code, reason, sizeof(reason));
		} else if (rc == CURLE_OK) {
			out = status_outcome(code, &r);
			status_reason(h, code, reason, sizeof(reason));
		} else {
			out = curl_outcome(h->stalled ? CURLE_OPERATION_TIMEDOUT : rc, &r, &unreachable);
			if (h->stalled)
				snprintf(reason, sizeof(reason), "stalled: nothing received for %u s",
					 h->o.stall_timeout);
			else if (rc == CURLE_OPERATION_TIMEDOUT && strncmp(h->errbuf, "Operation too slow", 18) == 0)
				/* the low-speed limit: say it in our terms */
				snprintf(reason, sizeof(reason), "stalled: nothing received for %u s",
					 h->o.stall_timeout);
			else if (rc == CURLE_PEER_FAILED_VERIFICATION && !strcasestr(h->errbuf, "certificate"))
				/* some TLS libraries say "cert" */
				snprintf(reason, sizeof(reason), "server certificate not accepted: %s",
					 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
			else
				snprintf(reason, sizeof(reason), "%s",
					 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		}
		if (out != TRANSIENT || attempt > h->o.retries)
			break;
		sleep_ms(delay);
		delay = delay > RETRY_DELAY_MAX_MS / 2 ? RETRY_DELAY_MAX_MS : delay * 2;
	}
	h->unreachable = out == TRANSIENT && unreachable;
	h->write = NULL;
	h->ctx = NULL;

	switch (out) {
	case DONE:
		if (ret_size)
			*ret_size = h->received;
		return 0;
	case MISSING:
		return sta_error(err, -ENOENT, "%s: missing (%s)", name, reason);
	case TRANSIENT:
		if (attempt > 1)
			return sta_error(err, r, "%s: %s (%u attempts)", name, reason, attempt);
		return sta_error(err, r, "%s: %s", name, reason);
	default:
		return sta_error(err, r, "%s: %s", name, reason);
	}
}

int sta_http_get(sta_http *h, const char *url, const char *name, uint64_t limit,
		 sta_http_write_fn write, void *ctx, uint64_t *ret_size, stasync_error *err)
{
	return request(h, url, name, false, limit, write, ctx, ret_size, err);
}

int sta_http_head(sta_http *h, const char *url, const char *name, stasync_error *err)
{
	int r = request(h, url, name, true, UINT64_MAX, NULL, NULL, NULL, err);

	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

#else /* !HAVE_CURL */

struct sta_http {
	int unused;
};

static int no_http(stasync_error *err, const char *name)
{
	return sta_error(err, -EPROTONOSUPPORT, "%s%sthis build has no HTTP support (built without libcurl)",
			 name ? name : "", name ? ": " : "");
}

int sta_http_new(const stasync_http_options *o, sta_http **ret, stasync_error *err)
{
	return no_http(err, NULL);
}

const char *stasync_http_ca_describe(const stasync_http_options *o, char *buf, size_t n)
{
	snprintf(buf, n, "none (this build has no HTTP support)");
	return buf;
}

sta_http *sta_http_free(sta_http *h)
{
	return NULL;
}

bool sta_http_unreachable(const sta_http *h)
{
	return false;
}

int sta_http_get(sta_http *h, const char *url, const char *name, uint64_t limit,
		 sta_http_write_fn write, void *ctx, uint64_t *ret_size, stasync_error *err)
{
	return no_http(err, name);
}

int sta_http_head(sta_http *h, const char *url, const char *name, stasync_error *err)
{
	return no_http(err, name);
}

#endif /* HAVE_CURL */

int stasync_http_fetch_file(const char *url, const stasync_http_options *o, uint64_t max_size,
			    int *ret_fd, stasync_error *err)
{
	_cleanup_free_ char *name = stasync_url_redact(url);
	_cleanup_close_ int fd = -EBADF;
	sta_http *h = NULL;
	uint64_t size = 0;
	int r;

	if (!name)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_http_new(o, &h, err);
	if (r < 0)
		return sta_error_prefix(err, r, "%s", name);
	fd = tmpfile_open();
	if (fd < 0) {
		sta_http_free(h);
		return sta_error(err, fd, "%s: cannot create a temporary file: %s", name,
				 stasync_strerror(fd));
	}
	r = sta_http_get(h, url, name, max_size, file_write, &fd, &size, err);
	sta_http_free(h);
	if (r < 0)
		return r;
	/* A retried transfer may have left a longer first attempt behind. */
	if (ftruncate(fd, (off_t)size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return sta_error(err, -errno, "%s: temporary file: %s", name, stasync_strerror(-errno));
	*ret_fd = TAKE_FD(fd);
	return 0;
}
