/* gc and verify of a store in an S3 bucket: its chunk objects listed (the
 * listing takes the place of walking directories), the bad or unwanted
 * ones deleted in batches. The checking itself is the local store's
 * (store-maint.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/chunker.h>
#include <stasync/http.h>
#include <stasync/maint.h>
#include "s3-bucket.h"
#include "s3.h"
#include "store-maint.h"
#include "store.h"
#include "util.h"

struct bucket {
	sta_http *http;
	char *url;
	sta_s3_store_url s;
	unsigned concurrency;
};

static int bucket_open(struct bucket *b, const char *locator, const stasync_http_options *o,
		       stasync_error *err)
{
	int r;

	*b = (struct bucket){ .concurrency = o ? o->concurrency : STASYNC_HTTP_CONCURRENCY };
	r = sta_s3_http_new(locator, o, &b->http, &b->url, &b->s.bucket_end, err);
	b->s.url = b->url;
	b->s.name = locator;
	return r;
}

static void bucket_close(struct bucket *b)
{
	sta_http_free(b->http);
	free(b->url);
}

/* ---- gc ---------------------------------------------------------------------- */
struct gc {
	const stasync_chunk_set *keep;
	stasync_gc_stats *st;
	char (*names)[80];
	size_t n, cap;
	void (*removed)(const char *name, void *ud);
	void *ud;
};

static int gc_listed(const stasync_chunk_id *id, bool compressed, uint64_t size, const char *name,
		     void *ud)
{
	struct gc *g = ud;

	(void)compressed;
	g->st->chunks++;
	if (stasync_chunk_set_has(g->keep, id))
		return 0;
	if (g->n == g->cap) {
		size_t c = g->cap ? 2 * g->cap : 1024;
		void *t = realloc(g->names, c * sizeof(*g->names));

		if (!t)
			return -ENOMEM;
		g->names = t;
		g->cap = c;
	}
	snprintf(g->names[g->n++], sizeof(*g->names), "%s", name);
	g->st->removed++;
	g->st->bytes_removed += size;
	return 0;
}

static void gc_deleted(const char *name, void *ud)
{
	struct gc *g = ud;

	if (g->removed)
		g->removed(name, g->ud);
}

int stasync_s3_store_gc(const char *locator, const stasync_http_options *http,
			const stasync_chunk_set *keep, bool dry_run,
			void (*removed)(const char *name, void *ud), void *ud,
			stasync_gc_stats *st, stasync_error *err)
{
	struct gc g = { keep, st, NULL, 0, 0, removed, ud };
	const char **names = NULL;
	struct bucket b;
	int r;

	memset(st, 0, sizeof(*st));
	r = bucket_open(&b, locator, http, err);
	if (r == 0) {
		r = sta_s3_list_chunks(b.http, &b.s, 0, gc_listed, &g, NULL, NULL, err);
		if (r == -ENOMEM)
			sta_error(err, r, "out of memory");
	}
	if (r == 0 && dry_run)
		for (size_t i = 0; i < g.n; i++)
			gc_deleted(g.names[i], &g);
	else if (r == 0 && g.n > 0) {
		names = calloc(g.n, sizeof(*names));
		if (!names)
			r = sta_error(err, -ENOMEM, "out of memory");
		for (size_t i = 0; names && i < g.n; i++)
			names[i] = g.names[i];
		if (r == 0)
			r = sta_s3_delete(b.http, &b.s, names, g.n, gc_deleted, &g, err);
	}
	free(names);
	free(g.names);
	bucket_close(&b);
	return r;
}

/* ---- verify ------------------------------------------------------------------ */
struct verify {
	struct bucket b;
	struct sta_chunk_file *files;
	size_t n, cap;
	/* with o->only: what the listing found, as is and compressed */
	stasync_chunk_set *plain, *compressed;
	stasync_error *err;
};

static int verify_listed(const stasync_chunk_id *id, bool compressed, uint64_t size,
			 const char *name, void *ud)
{
	struct verify *v = ud;

	(void)size;
	if (v->plain)
		return stasync_chunk_set_add(compressed ? v->compressed : v->plain, id, 0) < 0 ?
		       -ENOMEM : 0;
	return sta_chunk_files_add(&v->files, &v->n, &v->cap, name, id, compressed, true, 0);
}

/* A chunk an index names: the object holding it, or missing. */
static int verify_wanted(const stasync_chunk_id *id, uint64_t size, void *ud)
{
	struct verify *v = ud;
	bool compressed = !stasync_chunk_set_has(v->plain, id) ||
			  stasync_chunk_set_has(v->compressed, id);
	bool present = compressed ? stasync_chunk_set_has(v->compressed, id) : true;
	char hex[STASYNC_DIGEST_HEX_SIZE], name[80];

	stasync_chunk_id_format(id, hex);
	snprintf(name, sizeof(name), "%.4s/%s%s", hex, hex, compressed ? ".cacnk" : "");
	return sta_chunk_files_add(&v->files, &v->n, &v->cap, name, id, compressed, present, size);
}

struct into {
	uint8_t **buf;
	size_t *have;
	size_t got;
};

static int into_buf(void *ctx, uint64_t offset, const void *p, size_t n)
{
	struct into *in = ctx;

	if (offset + n > *in->have) {
		size_t want = MAX((size_t)(offset + n), *in->have * 2);
		void *t = realloc(*in->buf, want);

		if (!t)
			return -ENOMEM;
		*in->buf = t;
		*in->have = want;
	}
	memcpy(*in->buf + offset, p, n);
	in->got = (size_t)(offset + n);
	return 0;
}

static char *bucket_read(void *ctx, const struct sta_chunk_file *f, uint8_t **buf, size_t *have,
			 size_t *got)
{
	struct verify *v = ctx;
	struct into in = { buf, have, 0 };
	sta_http_result res;
	char *url;
	int r;

	if (asprintf(&url, "%s/%s", v->b.url, f->name) < 0)
		return sta_verify_message("out of memory");
	r = sta_http_run(v->b.http, &(sta_http_request){
		.method = STA_HTTP_GET, .url = url, .name = url,
		.limit = sta_chunk_stored_max(STASYNC_CHUNK_SIZE_LIMIT_MAX),
		.write = into_buf, .ctx = &in,
	}, &res);
	free(url);
	*got = in.got;
	if (r == 0)
		return NULL;
	if (r == -EFBIG)
		return sta_verify_message("larger than any chunk can be");
	return sta_verify_message("cannot fetch: %s", r == -ENOENT ? "gone since it was listed" :
				  res.err.message);
}

static int bucket_remove(void *ctx, struct sta_chunk_file *const *bad, size_t n,
			 stasync_error *err)
{
	struct verify *v = ctx;
	const char **names = calloc(MAX(n, 1), sizeof(*names));
	int r;

	if (!names)
		return sta_error(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		names[i] = bad[i]->name;
	r = sta_s3_delete(v->b.http, &v->b.s, names, n, NULL, NULL, err);
	free(names);
	return r < 0 ? r : (int)MIN(n, (size_t)INT32_MAX);
}

int stasync_s3_store_verify(const char *locator, const stasync_http_options *http,
			    const stasync_verify_options *o, stasync_verify_stats *st,
			    stasync_error *err)
{
	struct verify v = { .err = err };
	struct sta_verify_source src = { bucket_read, bucket_remove, &v, 0 };
	int r;

	memset(st, 0, sizeof(*st));
	r = bucket_open(&v.b, locator, http, err);
	src.threads = v.b.concurrency;
	if (r == 0 && o->only &&
	    (stasync_chunk_set_new(&v.plain) < 0 || stasync_chunk_set_new(&v.compressed) < 0))
		r = sta_error(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = sta_s3_list_chunks(v.b.http, &v.b.s, 0, verify_listed, &v, NULL, NULL, err);
	if (r == 0 && o->only)
		r = stasync_chunk_set_each(o->only, verify_wanted, &v);
	if (r == -ENOMEM)
		sta_error(err, r, "out of memory");
	if (r == 0)
		r = sta_verify_files(v.files, v.n, &src, o, st, err);
	sta_chunk_files_free(v.files, v.n);
	stasync_chunk_set_free(v.plain);
	stasync_chunk_set_free(v.compressed);
	bucket_close(&v.b);
	return r;
}
