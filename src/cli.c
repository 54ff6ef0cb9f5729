#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

int cli_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", c->program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_fail(const struct cli *c, const stasync_error *e)
{
	return cli_error(c, "%s", e->message[0] ? e->message : stasync_strerror(e->code));
}

void cli_info(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_write_full(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t k = write(fd, q, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Where the part of a URL that matters for names ends: before any
 * "?…" or "#…" after the host. The whole string for a path. */
static size_t url_path_end(const char *s)
{
	const char *auth;

	if (!stasync_is_http_url(s))
		return strlen(s);
	auth = strstr(s, "://") + 3;
	auth += strcspn(auth, "/?#");
	return (size_t)(auth - s) + strcspn(auth, "?#");
}

enum what cli_what_of(const struct cli *c, const char *path)
{
	char *p;
	enum what w = WHAT_AUTO;

	if (c->what != WHAT_AUTO || !path || strcmp(path, "-") == 0)
		return c->what;
	p = strndup(path, url_path_end(path));
	if (!p)
		return WHAT_AUTO;
	if (has_suffix(p, ".catar"))
		w = WHAT_ARCHIVE;
	else if (has_suffix(p, ".caidx"))
		w = WHAT_ARCHIVE_INDEX;
	else if (has_suffix(p, ".caibx"))
		w = WHAT_BLOB_INDEX;
	free(p);
	return w;
}

char *cli_seek_normalize(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;

	if (!r)
		return NULL;
	while (*s) {
		size_t n;

		s += strspn(s, "/");
		n = strcspn(s, "/");
		if (!n)
			break;
		if (o != r)
			*o++ = '/';
		memcpy(o, s, n);
		o += n;
		s += n;
	}
	*o = 0;
	return r;
}

const char *cli_what_name(enum what w)
{
	static const char *const names[] = {
		[WHAT_AUTO] = "auto", [WHAT_ARCHIVE] = "archive",
		[WHAT_ARCHIVE_INDEX] = "archive-index", [WHAT_BLOB] = "blob",
		[WHAT_BLOB_INDEX] = "blob-index", [WHAT_DIRECTORY] = "directory",
	};
	return names[w];
}

const char *cli_strip_file_url(const char *s)
{
	if (s && strncmp(s, "file://", 7) == 0)
		return s + 7;
	return s;
}

int cli_url_error(const struct cli *c, const char *url, const char *message)
{
	char *name = stasync_url_redact(url);

	cli_error(c, "%s: %s", name ? name : url, message);
	free(name);
	return 1;
}

/* Under -v, say once which CA certificates check HTTPS servers. */
static void info_https(const struct cli *c, const char *locator)
{
	char buf[1024];

	if (locator && strncasecmp(locator, "s3+", 3) == 0)
		locator += 3;
	/* (an s3:// endpoint is https unless configured otherwise) */
	if (c->verbose && locator && (strncasecmp(locator, "https://", 8) == 0 ||
				      strncasecmp(locator, "s3://", 5) == 0))
		cli_info(c, "HTTPS certificates checked against: %s",
			 stasync_http_ca_describe(&c->http, buf, sizeof(buf)));
}

int cli_index_fd_open(const struct cli *c, const char *path, int *ret_fd, char **ret_name)
{
	stasync_error err = { 0, "" };
	char *name;
	int fd;

	if (!path || strcmp(path, "-") == 0)
		name = strdup("standard input");
	else if (stasync_is_http_url(path) || stasync_is_s3_url(path))
		name = stasync_url_redact(path);
	else
		name = strdup(path);
	if (!name)
		return cli_error(c, "out of memory");
	if (!path || strcmp(path, "-") == 0)
		fd = dup(STDIN_FILENO);
	else if (stasync_is_http_url(path) || stasync_is_s3_url(path)) {
		info_https(c, path);
		if (stasync_http_fetch_file(path, &c->http, STASYNC_HTTP_INDEX_MAX, &fd, &err) < 0) {
			free(name);
			return cli_fail(c, &err);
		}
	} else if (stasync_is_ssh_remote(path)) {
		if (stasync_ssh_fetch_index(path, STASYNC_HTTP_INDEX_MAX, &fd, &err) < 0) {
			free(name);
			return cli_fail(c, &err);
		}
	} else
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cli_error(c, "%s: cannot open: %s", name, strerror(errno));
		free(name);
		return 1;
	}
	*ret_fd = fd;
	*ret_name = name;
	return 0;
}

/* casync's rule: the store sits beside the index, named default.castr
 * (http://h/x/a.caibx?k=v → http://h/x/default.castr). */
static char *default_store_for(const char *index_path)
{
	const char *slash, *auth;
	size_t n;
	char *s;

	if (!index_path || strcmp(index_path, "-") == 0)
		return strdup("default.castr");
	n = url_path_end(index_path);
	slash = memrchr(index_path, '/', n);
	if (stasync_is_http_url(index_path) || stasync_is_s3_url(index_path)) {
		auth = strstr(index_path, "://") + 3;
		if (!slash || slash < auth)   /* http://host: no path at all */
			slash = index_path + n;
	}
	if (!slash && stasync_is_ssh_remote(index_path))   /* host:x.caibx: the remote home */
		slash = strchr(index_path, ':');
	if (!slash)
		return strdup("default.castr");
	if (asprintf(&s, "%.*s%cdefault.castr", (int)(slash - index_path), index_path, *slash) < 0)
		return NULL;
	return s;
}

void cli_stores_free(stasync_store **stores, size_t n)
{
	if (!stores)
		return;
	for (size_t i = 0; i < n; i++)
		stasync_store_free(stores[i]);
	free(stores);
}

const char *cli_primary_store(const struct cli *c, const char *index_path, char **derived)
{
	const char *env = getenv("CASYNC_STORE");

	*derived = NULL;
	if (c->store)
		return c->store;
	if (env && *env)
		return env;
	return *derived = default_store_for(index_path);
}

int cli_stores_open(struct cli *c, const char *index_path, unsigned flags,
		    stasync_store ***ret, size_t *n)
{
	stasync_store **stores = calloc(1 + c->n_extra_stores, sizeof(*stores));
	stasync_error err = { 0, "" };
	char *derived = NULL;
	const char *primary;
	size_t k = 0;

	if (!stores || !(primary = cli_primary_store(c, index_path, &derived))) {
		free(stores);
		return cli_error(c, "out of memory");
	}
	if (stasync_store_open_with(primary, flags, &c->http, &stores[k], &err) < 0)
		goto fail;
	stasync_store_set_compression(stores[k++], c->compression);
	for (size_t i = 0; i < c->n_extra_stores; i++, k++)
		if (stasync_store_open_with(c->extra_stores[i], 0, &c->http, &stores[k], &err) < 0)
			goto fail;
	/* The cache serves reading; casync's --cache of make is another
	 * thing (a cache of unchanged files), not needed for the output. */
	if (c->cache && !c->cache_store && !(flags & STASYNC_STORE_WRITABLE)) {
		if (stasync_store_open(c->cache, STASYNC_STORE_WRITABLE, &c->cache_store, &err) < 0)
			goto fail;
		stasync_store_set_compression(c->cache_store, c->compression);
		cli_info(c, "Using cache %s", c->cache);
	}
	cli_info(c, "Using store %s", stasync_store_locator(stores[0]));
	info_https(c, primary);
	for (size_t i = 0; i < c->n_extra_stores; i++)
		info_https(c, c->extra_stores[i]);
	free(derived);
	*ret = stores;
	*n = k;
	return 0;
fail:
	free(derived);
	cli_stores_free(stores, k);
	return cli_fail(c, &err);
}

int cli_plan_puts(struct cli *c, stasync_store *store, uint64_t bytes)
{
	stasync_error err = { 0, "" };
	char how[512];

	if (stasync_store_plan_puts(store, bytes / MAX(c->sizes.avg, (size_t)1), how, sizeof(how),
				    &err) < 0)
		return cli_fail(c, &err);
	if (how[0])
		cli_info(c, "%s: %s", stasync_store_locator(store), how);
	return 0;
}

stasync_fetch cli_fetch(struct cli *c, stasync_store *const *stores, size_t n)
{
	return (stasync_fetch){
		.stores = stores,
		.n_stores = n,
		.cache = c->cache_store,
		.threads = c->concurrency,
		.progress = cli_progress(c),
		.seed = c->seed,
	};
}

uint64_t cli_feature_flags(const struct cli *c, bool directory)
{
	uint64_t f = c->with ? c->with : (directory ? STASYNC_WITH_ALL : 0);

	f &= ~c->without;
	if (c->exclude_nodump)
		f |= STASYNC_EXCLUDE_NODUMP;
	if (c->exclude_file)
		f |= STASYNC_EXCLUDE_FILE;
	if (c->exclude_submounts)
		f |= STASYNC_EXCLUDE_SUBMOUNTS;
	if (c->digest == STASYNC_DIGEST_SHA512_256)
		f |= STASYNC_SHA512_256;
	return stasync_feature_flags_normalize(f);
}

uint64_t cli_restore_mask(const struct cli *c)
{
	return (c->with ? c->with : STASYNC_WITH_ALL) & ~c->without;
}

stasync_encode_options cli_encode_options(const struct cli *c)
{
	stasync_encode_options o = { .feature_flags = cli_feature_flags(c, true) };

	if (c->uid_shift_apply) {
		o.uid_shift = c->uid_shift;
		o.uid_range = c->uid_range;
	}
	return o;
}
