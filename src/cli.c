#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum what cli_what_of(const struct cli *c, const char *path)
{
	if (c->what != WHAT_AUTO || !path || strcmp(path, "-") == 0)
		return c->what;
	if (has_suffix(path, ".catar"))
		return WHAT_ARCHIVE;
	if (has_suffix(path, ".caidx"))
		return WHAT_ARCHIVE_INDEX;
	if (has_suffix(path, ".caibx"))
		return WHAT_BLOB_INDEX;
	return WHAT_AUTO;
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

/* casync's rule: the store sits beside the index, named default.castr. */
static char *default_store_for(const char *index_path)
{
	const char *slash;
	char *s;

	if (!index_path || strcmp(index_path, "-") == 0)
		return strdup("default.castr");
	slash = strrchr(index_path, '/');
	if (!slash)
		return strdup("default.castr");
	if (asprintf(&s, "%.*s/default.castr", (int)(slash - index_path), index_path) < 0)
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

int cli_stores_open(const struct cli *c, const char *index_path, unsigned flags,
		    stasync_store ***ret, size_t *n)
{
	stasync_store **stores = calloc(1 + c->n_extra_stores, sizeof(*stores));
	stasync_error err = { 0, "" };
	char *derived = NULL;
	const char *primary = c->store;
	size_t k = 0;

	if (!stores)
		return cli_error(c, "out of memory");
	if (!primary)
		primary = getenv("CASYNC_STORE");
	if (!primary || !*primary) {
		derived = default_store_for(index_path);
		if (!derived) {
			free(stores);
			return cli_error(c, "out of memory");
		}
		primary = derived;
	}
	if (stasync_store_open(primary, flags, &stores[k], &err) < 0)
		goto fail;
	k++;
	for (size_t i = 0; i < c->n_extra_stores; i++, k++)
		if (stasync_store_open(c->extra_stores[i], 0, &stores[k], &err) < 0)
			goto fail;
	cli_info(c, "Using store %s", primary);
	free(derived);
	*ret = stores;
	*n = k;
	return 0;
fail:
	free(derived);
	cli_stores_free(stores, k);
	return cli_fail(c, &err);
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
