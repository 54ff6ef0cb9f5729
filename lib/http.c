/* HTTP(S) without libcurl in sight: option defaults, URL helpers, and a
 * whole response fetched into a temporary file (http-request.c makes the
 * requests). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "http.h"
#include "s3.h"
#include "util.h"


void stasync_http_options_init(stasync_http_options *o)
{
	*o = (stasync_http_options){
		.retries = STASYNC_HTTP_RETRIES,
		.retry_delay_ms = STASYNC_HTTP_RETRY_DELAY_MS,
		.connect_timeout = STASYNC_HTTP_CONNECT_TIMEOUT,
		.stall_timeout = STASYNC_HTTP_STALL_TIMEOUT,
		.max_redirects = STASYNC_HTTP_MAX_REDIRECTS,
		.concurrency = STASYNC_HTTP_CONCURRENCY,
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

static int file_write(void *ctx, uint64_t offset, const void *p, size_t n)
{
	return sta_pwrite_full(*(int *)ctx, p, n, offset);
}


/* A handle for url's requests (signed for an s3+ URL) and the URL they go
 * to (*ask: url itself, or the plain one of an S3 object, to free()). */
static int handle_for(const char *url, const char *name, const stasync_http_options *o,
		      sta_http **h, char **ask, stasync_error *err)
{
	int r;

	*ask = NULL;
	if (stasync_is_s3_url(url))
		r = sta_s3_http_new(url, o, h, ask, NULL, err);
	else
		r = sta_http_new(o, h, err);
	return r < 0 ? sta_error_prefix(err, r, "%s", name) : 0;
}

int stasync_http_fetch_file(const char *url, const stasync_http_options *o, uint64_t max_size,
			    int *ret_fd, stasync_error *err)
{
	_cleanup_free_ char *name = stasync_url_redact(url);
	_cleanup_free_ char *ask = NULL;
	_cleanup_close_ int fd = -EBADF;
	sta_http *h = NULL;
	uint64_t size = 0;
	int r;

	if (!name)
		return sta_error(err, -ENOMEM, "out of memory");
	r = handle_for(url, name, o, &h, &ask, err);
	if (r < 0)
		return r;
	fd = sta_tmpfile_open();
	if (fd < 0) {
		sta_http_free(h);
		return sta_error(err, fd, "%s: cannot create a temporary file: %s", name,
				 stasync_strerror(fd));
	}
	r = sta_http_get(h, ask ? ask : url, name, max_size, file_write, &fd, &size, err);
	sta_http_free(h);
	if (r < 0)
		return r;
	/* A retried transfer may have left a longer first attempt behind. */
	if (ftruncate(fd, (off_t)size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return sta_error(err, -errno, "%s: temporary file: %s", name, stasync_strerror(-errno));
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int stasync_http_put_file(const char *url, const stasync_http_options *o, int fd,
			  stasync_error *err)
{
	_cleanup_free_ char *name = stasync_url_redact(url);
	_cleanup_free_ char *ask = NULL;
	sta_http_result res;
	sta_http *h = NULL;
	void *p = NULL;
	struct stat st;
	int r;

	if (!name)
		return sta_error(err, -ENOMEM, "out of memory");
	if (fstat(fd, &st) < 0)
		return sta_error(err, -errno, "%s: temporary file: %s", name, stasync_strerror(-errno));
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return sta_error(err, -errno, "%s: temporary file: %s", name,
					 stasync_strerror(-errno));
	}
	r = handle_for(url, name, o, &h, &ask, err);
	if (r == 0) {
		r = sta_http_run(h, &(sta_http_request){
			.method = STA_HTTP_PUT, .url = ask ? ask : url, .name = name,
			.body = p, .body_size = (size_t)st.st_size,
		}, &res);
		if (r < 0 && err)
			*err = res.err;
	}
	sta_http_free(h);
	if (p)
		munmap(p, (size_t)st.st_size);
	return r;
}
