/* One chunk of an index, from wherever it can be had. */
#include "fetch.h"
#include "util.h"

static bool store_is_remote(const stasync_store *s)
{
	return strcmp(s->ops->kind, "local") != 0;
}

bool sta_fetch_remote(const stasync_fetch *f)
{
	for (size_t i = 0; i < f->n_stores; i++)
		if (store_is_remote(f->stores[i]))
			return true;
	return false;
}

unsigned sta_fetch_default_threads(const stasync_fetch *f)
{
	return sta_fetch_remote(f) ? STASYNC_FETCH_THREADS_REMOTE : sta_cpu_count(4);
}

int sta_fetch_chunk(const stasync_fetch *f, stasync_codec *c, stasync_digest_type type,
		    const stasync_chunk_id *id, void *out, size_t size,
		    struct sta_fetch_result *res, stasync_error *err)
{
	struct sta_fetched fetched;
	int e;

	res->cached = false;
	res->seeded = false;
	res->from.fd = -1;
	if (f->seed && sta_seed_get(f->seed, c, id, type, out, size, &res->from) == 0) {
		res->seeded = true;
		return 0;
	}
	if (f->cache) {
		e = sta_store_get(f->cache, c, id, type, out, size, &fetched, NULL);
		if (e == 0) {
			res->cached = true;
			return 0;
		}
	}
	e = sta_stores_get(f->stores, f->n_stores, c, id, type, out, size, &fetched, err);
	if (e < 0 || !f->cache)
		return e;
	e = sta_store_keep(f->cache, c, id, out, size, &fetched, err);
	if (e < 0)
		return sta_error_prefix(err, e, "cache");
	return 0;
}

void sta_fetch_count(const stasync_fetch *f, size_t size, const struct sta_fetch_result *res)
{
	if (!f->progress)
		return;
	sta_count(&f->progress->chunks, 1);
	sta_count(&f->progress->bytes, size);
	sta_count(&f->progress->chunks_cached, res->cached);
	sta_count(&f->progress->chunks_seeded, res->seeded);
}
