/* What every store does the same way: open by locator, compress on put,
 * verify on get, fall back across several stores. */
#include <inttypes.h>
#include <stdio.h>

#include <stasync/http.h>
#include <stasync/remote.h>
#include "store.h"
#include "util.h"

int stasync_store_open(const char *locator, unsigned flags, stasync_store **ret,
		       stasync_error *err)
{
	return stasync_store_open_with(locator, flags, NULL, ret, err);
}

int stasync_store_open_with(const char *locator, unsigned flags,
			    const struct stasync_http_options *http, stasync_store **ret,
			    stasync_error *err)
{
	if (stasync_is_http_url(locator))
		return sta_store_http_open(locator, flags, http, ret, err);
	if (stasync_is_s3_url(locator))
		return sta_store_s3_open(locator, flags, http, ret, err);
	if (stasync_is_ssh_remote(locator))
		return sta_store_ssh_open(locator, flags, ret, err);
	if (strncmp(locator, "file://", 7) == 0)
		locator += 7;
	else if (strstr(locator, "://"))
		return sta_error(err, -EPROTONOSUPPORT,
				 "store %s: this kind of URL is not supported yet", locator);
	if (!*locator)
		return sta_error(err, -EINVAL, "empty store path");
	return sta_store_local_open(locator, flags, ret, err);
}

stasync_store *stasync_store_free(stasync_store *s)
{
	if (!s)
		return NULL;
	s->ops->free(s);
	free(s->locator);
	free(s);
	return NULL;
}

const char *stasync_store_locator(const stasync_store *s)
{
	return s->locator;
}

void stasync_store_set_compression(stasync_store *s, stasync_compression k)
{
	s->compression = k;
}

int stasync_store_plan_puts(stasync_store *s, uint64_t chunks, char *how, size_t how_size,
			    stasync_error *err)
{
	if (how && how_size)
		how[0] = 0;
	return s->ops->plan_puts ? s->ops->plan_puts(s, chunks, how, how_size, err) : 0;
}

int stasync_store_has(stasync_store *s, const stasync_chunk_id *id, stasync_error *err)
{
	return s->ops->has(s, id, err);
}

int sta_store_get(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		  stasync_digest_type type, void *out, size_t size, struct sta_fetched *f,
		  stasync_error *err)
{
	char hex[STASYNC_DIGEST_HEX_SIZE], what[STASYNC_DIGEST_HEX_SIZE + 4096];
	int r;

	r = s->ops->fetch(s, c, id, sta_chunk_stored_max(size), &f->size, &f->compressed, err);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "chunk %s in %s", stasync_chunk_id_format(id, hex),
		 s->locator);
	return stasync_chunk_decode(c, c->buf, f->size, f->compressed, id, type, out, size, what,
				    err);
}

int stasync_store_get(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      stasync_digest_type type, void *out, size_t size, stasync_error *err)
{
	struct sta_fetched f;

	return sta_store_get(s, c, id, type, out, size, &f, err);
}

int sta_store_keep(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		   const void *out, size_t size, const struct sta_fetched *f, stasync_error *err)
{
	if (!f->compressed)
		return stasync_store_put(s, c, id, out, size, err);
	if (!(s->flags & STASYNC_STORE_WRITABLE))
		return sta_error(err, -EROFS, "store %s was opened read-only", s->locator);
	return s->ops->put(s, id, c->buf, f->size, err);
}

int stasync_store_put(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      const void *data, size_t n, stasync_error *err)
{
	const void *z;
	size_t zn;
	int r;

	if (!(s->flags & STASYNC_STORE_WRITABLE))
		return sta_error(err, -EROFS, "store %s was opened read-only", s->locator);
	if (!s->ops->put_checks) {
		r = s->ops->has(s, id, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	r = sta_chunk_compress(c, s->compression, data, n, &z, &zn, err);
	if (r < 0)
		return r;
	return s->ops->put(s, id, z, zn, err);
}

void sta_store_expect_flush(stasync_store *s)
{
	if (s->ops->expect_flush)
		s->ops->expect_flush(s);
}

int stasync_store_flush(stasync_store *s, stasync_error *err)
{
	return s->ops->flush ? s->ops->flush(s, err) : 0;
}

int stasync_stores_get(stasync_store *const *stores, size_t n_stores, stasync_codec *c,
		       const stasync_chunk_id *id, stasync_digest_type type,
		       void *out, size_t size, stasync_error *err)
{
	struct sta_fetched f;

	return sta_stores_get(stores, n_stores, c, id, type, out, size, &f, err);
}

int sta_stores_get(stasync_store *const *stores, size_t n_stores, stasync_codec *c,
		   const stasync_chunk_id *id, stasync_digest_type type, void *out, size_t size,
		   struct sta_fetched *f, stasync_error *err)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	char reasons[STASYNC_ERROR_MESSAGE_MAX] = "";
	size_t used = 0;
	int r = -ENOENT, first_bad = 0;

	for (size_t i = 0; i < n_stores; i++) {
		stasync_error e = { 0, "" };

		r = sta_store_get(stores[i], c, id, type, out, size, f, &e);
		if (r == 0)
			return 0;
		if (r != -ENOENT && !first_bad)
			first_bad = r;
		/* Collect each store's reason for the final message. */
		if (used < sizeof(reasons)) {
			int k = snprintf(reasons + used, sizeof(reasons) - used, "%s%s",
					 used ? "; " : "", e.message);
			if (k > 0)
				used += (size_t)k;
		}
	}
	stasync_chunk_id_format(id, hex);
	if (n_stores == 0)
		return sta_error(err, -ENOENT, "chunk %s: no store given", hex);
	if (n_stores == 1)
		return sta_error(err, r, "%s", reasons);
	return sta_error(err, first_bad ? first_bad : -ENOENT, "chunk %s not found intact in any store (%s)",
			 hex, reasons);
}
