/* A chunk store on a web server or in an S3 bucket (requests signed, see
 * s3.h): GET, HEAD and PUT of STORE_URL/<4 hex>/<64 hex>.cacnk. One HTTP
 * handle per store: a thread that fetches a chunk runs its request itself,
 * uploads go to the handle's thread; connections are reused either way.
 * Chunks are put without waiting: each is asked for with HEAD and sent
 * with PUT only when missing, while the caller goes on; flush waits for
 * all of them. */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include <stasync/maint.h>
#include "format.h"
#include "http.h"
#include "s3-bucket.h"
#include "s3.h"
#include "store.h"
#include "util.h"

struct http_store {
	struct stasync_store base;
	sta_http *http;
	char *url;           /* normalised store URL, credentials and all */
	char *name;          /* the same with the password hidden: for messages */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Set once the server could not be reached at all: asking it for
	 * every further chunk would only wait for the same timeouts. */
	int down;
	char down_reason[STASYNC_ERROR_MESSAGE_MAX];
	/* uploads under way, how many were found there already, and the
	 * first failure */
	unsigned uploads;
	uint64_t present;
	stasync_error upload_err;
	/* Chunks already put in this run: a stream repeats some (runs of
	 * zeros), and one HEAD for each is enough. */
	stasync_chunk_set *sent;
	/* S3: the bucket's URL (NULL for a web server), and whether it is
	 * there (0: not asked yet, 1: there, -ENXIO: not) */
	char *bucket_url;
	int bucket;
	size_t bucket_end;
	/* S3, after plan_puts(): the chunks the listing found (NULL: none
	 * made), and whether it covered the whole prefix, so that a chunk
	 * not in it is missing */
	stasync_chunk_set *listed;
	bool listed_all;
};

/* The URL of a chunk, and its name for messages. */
struct chunk_urls {
	char url[4096 + 80];
	char name[4096 + 80];
};

static int chunk_urls(struct http_store *h, const stasync_chunk_id *id, struct chunk_urls *u,
		      stasync_error *err)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	int k;

	stasync_chunk_id_format(id, hex);
	k = snprintf(u->url, sizeof(u->url), "%s/%.4s/%s" CA_CHUNK_SUFFIX, h->url, hex, hex);
	snprintf(u->name, sizeof(u->name), "%s/%.4s/%s" CA_CHUNK_SUFFIX, h->name, hex, hex);
	if (k < 0 || (size_t)k >= sizeof(u->url))
		return sta_error(err, -ENAMETOOLONG, "store %s: URL too long", h->base.locator);
	return 0;
}

/* Report the failure remembered for a server that could not be reached. */
static int check_down(struct http_store *h, const char *name, stasync_error *err)
{
	int r;

	pthread_mutex_lock(&h->lock);
	r = h->down;
	if (r)
		sta_error(err, r, "%s: not asked, the server could not be reached for an earlier chunk (%s)",
			  name, h->down_reason);
	pthread_mutex_unlock(&h->lock);
	return r;
}

/* S3: say what a 403 means, and a missing bucket as such (a 404 of
 * a PUT; of a GET or HEAD when the bucket itself is not there, which
 * `ask` then asks once, not from the handle's own thread). An answer
 * with an S3 error Code says it itself (see s3-error.h). */
static void s3_explain(struct http_store *h, sta_http_result *res, bool put, bool ask)
{
	int bucket;

	if (!h->bucket_url)
		return;
	if (strcmp(res->s3_code, "NoSuchBucket") == 0) {
		pthread_mutex_lock(&h->lock);
		h->bucket = -ENXIO;
		pthread_mutex_unlock(&h->lock);
		res->r = sta_error(&res->err, -ENXIO, "store %s: no such bucket (%s)", h->base.locator,
				   h->bucket_url);
		return;
	}
	if (res->s3_code[0])
		return;
	if (res->r == -EACCES) {
		char what[sizeof(res->err.message)];

		memcpy(what, res->err.message, sizeof(what));
		sta_error(&res->err, -EACCES, "%s (the S3 key and secret, their rights on the bucket, "
			  "or the region)", what);
		return;
	}
	if (res->r != -ENOENT)
		return;
	pthread_mutex_lock(&h->lock);
	bucket = h->bucket;
	pthread_mutex_unlock(&h->lock);
	if (bucket == 0 && (put || ask)) {
		sta_http_result b;

		/* (a PUT is a 404 for no other reason) */
		if (put)
			bucket = -ENXIO;
		else
			bucket = sta_http_run(h->http, &(sta_http_request){
				.method = STA_HTTP_HEAD, .url = h->bucket_url, .name = h->bucket_url,
			}, &b) == -ENOENT ? -ENXIO : 1;
		pthread_mutex_lock(&h->lock);
		h->bucket = bucket;
		pthread_mutex_unlock(&h->lock);
	}
	if (bucket < 0)
		res->r = sta_error(&res->err, -ENXIO, "store %s: no such bucket (%s)", h->base.locator,
				   h->bucket_url);
}

/* An answer to HEAD has no body, so no S3 error Code: a HEAD refused
 * (400, 401, 403, …; not 404 or 412, which say it all) is asked again as
 * a GET, whose answer has one. */
#define PROBE_LIMIT (64 * 1024)

static bool s3_probe_needed(const struct http_store *h, const sta_http_result *res)
{
	return h->bucket_url && res->r < 0 && !res->s3_code[0] && res->status >= 400 &&
	       res->status < 500 && res->status != 404 && res->status != 410 && res->status != 412;
}

static void s3_probe(struct http_store *h, const char *url, const char *name, sta_http_result *res)
{
	sta_http_result g;

	if (!s3_probe_needed(h, res))
		return;
	if (sta_http_run(h->http, &(sta_http_request){
		.method = STA_HTTP_GET, .url = url, .name = name, .limit = PROBE_LIMIT,
	}, &g) < 0 && g.s3_code[0])
		*res = g;
}

/* Pass a failed request's message on, remembering a server out of reach. */
static int note_failure(struct http_store *h, const char *name, sta_http_result *res,
			stasync_error *err)
{
	s3_explain(h, res, false, true);
	if (res->unreachable) {
		size_t k = strlen(name);
		const char *why = res->err.message;

		/* keep the reason without the first chunk's URL in front */
		if (strncmp(why, name, k) == 0 && strncmp(why + k, ": ", 2) == 0)
			why += k + 2;
		pthread_mutex_lock(&h->lock);
		if (!h->down) {
			h->down = res->r;
			snprintf(h->down_reason, sizeof(h->down_reason), "%s", why);
		}
		pthread_mutex_unlock(&h->lock);
	}
	if (err)
		*err = res->err;
	return res->r;
}

/* Fetched bytes go to the codec's buffer, grown geometrically up to the
 * limit the caller set (the request never passes more). */
struct codec_sink {
	stasync_codec *c;
	size_t limit;
};

static int codec_write(void *ctx, uint64_t offset, const void *p, size_t n)
{
	struct codec_sink *s = ctx;
	size_t need = (size_t)offset + n;

	if (need > s->c->buf_size) {
		size_t want = MAX(need, MAX(s->c->buf_size * 2, (size_t)64 * 1024));
		int r = sta_codec_reserve(s->c, MIN(want, MAX(need, s->limit)));
		if (r < 0)
			return r;
	}
	memcpy(s->c->buf + offset, p, n);
	return 0;
}

/* The URLs of a chunk to ask the server for: *ret (free() it), unless the
 * server is known to be out of reach. */
static int chunk_ask(struct http_store *h, const stasync_chunk_id *id, struct chunk_urls **ret,
		     stasync_error *err)
{
	_cleanup_free_ struct chunk_urls *u = malloc(sizeof(*u));
	int r;

	if (!u)
		return sta_error(err, -ENOMEM, "out of memory");
	if ((r = chunk_urls(h, id, u, err)) < 0 || (r = check_down(h, u->name, err)) < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}

static int http_fetch(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      size_t limit, size_t *size, bool *compressed, stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	struct codec_sink sink = { c, limit };
	_cleanup_free_ struct chunk_urls *u = NULL;
	sta_http_result res;
	int r;

	/* Only compressed chunks are served: casync asks for nothing else. */
	*compressed = true;
	if ((r = chunk_ask(h, id, &u, err)) < 0)
		return r;
	r = sta_http_run(h->http, &(sta_http_request){
		.method = STA_HTTP_GET, .url = u->url, .name = u->name, .limit = limit,
		.write = codec_write, .ctx = &sink,
	}, &res);
	if (r == -EFBIG)
		return sta_error(err, -EBADMSG, "%s: more than %zu bytes, too large for its chunk",
				 u->name, limit);
	if (r < 0)
		return note_failure(h, u->name, &res, err);
	*size = (size_t)res.size;
	return 0;
}

static int http_has(stasync_store *s, const stasync_chunk_id *id, stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	_cleanup_free_ struct chunk_urls *u = NULL;
	sta_http_result res;
	int r;

	if ((r = chunk_ask(h, id, &u, err)) < 0)
		return r;
	r = sta_http_run(h->http, &(sta_http_request){
		.method = STA_HTTP_HEAD, .url = u->url, .name = u->name,
	}, &res);
	if (r < 0) {
		s3_probe(h, u->url, u->name, &res);
		r = note_failure(h, u->name, &res, err);
	}
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

/* ---- uploads ------------------------------------------------------------ */

/* One chunk on its way: HEAD, then PUT when missing. */
struct upload {
	struct http_store *h;
	struct chunk_urls u;
	sta_http_result head_res;   /* a refused HEAD, while a GET asks why */
	size_t size;
	uint8_t data[];
};

static void upload_end(struct upload *up, const sta_http_result *res, bool present)
{
	struct http_store *h = up->h;

	pthread_mutex_lock(&h->lock);
	if (res && res->r < 0 && h->upload_err.code == 0) {
		h->upload_err = res->err;
		h->upload_err.code = res->r;
	}
	if (present)
		h->present++;
	h->uploads--;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	free(up);
}

static void on_put(void *ctx, const sta_http_result *done)
{
	struct upload *up = ctx;
	sta_http_result res = *done;

	/* an S3 server honouring If-None-Match: it came in meanwhile */
	if (res.r == -EEXIST) {
		upload_end(up, NULL, true);
		return;
	}
	s3_explain(up->h, &res, true, false);
	upload_end(up, res.r < 0 ? &res : NULL, false);
}

/* The GET asked after a refused HEAD (see s3_probe()): its S3 error, if
 * it has one, says why. */
static void on_probe(void *ctx, const sta_http_result *done)
{
	struct upload *up = ctx;
	sta_http_result res = *done;

	if (res.r >= 0 || !res.s3_code[0])
		res = up->head_res;
	s3_explain(up->h, &res, false, false);
	upload_end(up, &res, false);
}

static void on_head(void *ctx, const sta_http_result *done)
{
	struct upload *up = ctx;
	sta_http_result failed = { 0 }, res = *done;

	if (res.r == 0) {
		upload_end(up, NULL, true);
		return;
	}
	if (s3_probe_needed(up->h, &res)) {
		up->head_res = res;
		failed.r = sta_http_submit(up->h->http, &(sta_http_request){
			.method = STA_HTTP_GET, .url = up->u.url, .name = up->u.name,
			.limit = PROBE_LIMIT,
		}, on_probe, up, &failed.err);
		if (failed.r < 0)
			upload_end(up, &res, false);
		return;
	}
	if (res.r != -ENOENT) {
		s3_explain(up->h, &res, false, false);
		upload_end(up, &res, false);
		return;
	}
	failed.r = sta_http_submit(up->h->http, &(sta_http_request){
		.method = STA_HTTP_PUT, .url = up->u.url, .name = up->u.name,
		.body = up->data, .body_size = up->size, .create_only = true,
	}, on_put, up, &failed.err);
	if (failed.r < 0)
		upload_end(up, &failed, false);
}

static int http_put(stasync_store *s, const stasync_chunk_id *id, const void *data, size_t n,
		    stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	struct upload *up;
	int r;

	/* Stop at the first failure rather than send everything after it. */
	pthread_mutex_lock(&h->lock);
	r = h->upload_err.code;
	if (r < 0 && err)
		*err = h->upload_err;
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		return r;
	pthread_mutex_lock(&h->lock);
	r = stasync_chunk_set_add(h->sent, id, n);
	pthread_mutex_unlock(&h->lock);
	if (r <= 0)
		return r < 0 ? sta_error(err, r, "out of memory") : 0;

	/* listed: there (counted at flush as the HEAD's would be) */
	if (h->listed && stasync_chunk_set_has(h->listed, id)) {
		pthread_mutex_lock(&h->lock);
		h->present++;
		pthread_mutex_unlock(&h->lock);
		return 1;
	}
	up = malloc(sizeof(*up) + n);
	if (!up)
		return sta_error(err, -ENOMEM, "out of memory");
	up->h = h;
	up->size = n;
	memcpy(up->data, data, n);
	if ((r = chunk_urls(h, id, &up->u, err)) < 0) {
		free(up);
		return r;
	}
	pthread_mutex_lock(&h->lock);
	h->uploads++;
	pthread_mutex_unlock(&h->lock);
	if (h->listed_all) {
		/* not in a whole listing: missing, no need to ask */
		on_head(up, &(sta_http_result){ .r = -ENOENT });
		return 1;
	}
	r = sta_http_submit(h->http, &(sta_http_request){
		.method = STA_HTTP_HEAD, .url = up->u.url, .name = up->u.name,
	}, on_head, up, err);
	if (r < 0) {
		upload_end(up, NULL, false);
		return r;
	}
	return 1;
}

static int http_flush(stasync_store *s, stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	int r;

	pthread_mutex_lock(&h->lock);
	while (h->uploads > 0)
		pthread_cond_wait(&h->cond, &h->lock);
	r = h->upload_err.code;
	if (r < 0 && err)
		*err = h->upload_err;
	else if (r == 0) {
		r = (int)MIN(h->present, (uint64_t)INT_MAX);
		h->present -= (uint64_t)r;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

static int add_listed(const stasync_chunk_id *id, bool compressed, uint64_t size,
		      const char *name, void *ud)
{
	(void)size;
	(void)name;
	/* only compressed chunks are asked for, and so only those count */
	return compressed && stasync_chunk_set_add(ud, id, 0) < 0 ? -ENOMEM : 0;
}

/* A page lists a thousand objects; a HEAD asks for one chunk, 16 at a
 * time. Listing is worth it while it takes at most one request for
 * every 16 chunks to put (about the time of asking for them, and less
 * than their price at S3, where a listing costs ten HEADs); not knowing
 * how many, up to 4 pages. */
static unsigned list_budget(uint64_t chunks)
{
	if (chunks == 0)
		return 4;
	return (unsigned)MIN(chunks / 16, (uint64_t)UINT_MAX);
}

static int s3_plan_puts(stasync_store *s, uint64_t chunks, char *how, size_t how_size,
			stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	sta_s3_store_url u = { h->url, h->bucket_end, h->base.locator };
	unsigned budget = list_budget(chunks), pages = 0;
	bool complete = false;
	int r;

	if (h->listed || budget == 0) {
		if (how)
			snprintf(how, how_size, "asking for each chunk (HEAD): too few chunks to list the store first");
		return 0;
	}
	if (stasync_chunk_set_new(&h->listed) < 0)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_s3_list_chunks(h->http, &u, budget, add_listed, h->listed, &complete, &pages, err);
	if (r == -ENOMEM)
		return sta_error(err, r, "out of memory");
	if (r < 0)
		return r;
	h->listed_all = complete;
	if (!how)
		return 0;
	if (complete)
		snprintf(how, how_size, "listed the store (%zu chunks, %u request%s): only the chunks "
			 "it lacks are sent, with no HEAD first", stasync_chunk_set_count(h->listed),
			 pages, pages == 1 ? "" : "s");
	else
		snprintf(how, how_size, "the store holds more than %u page%s of listing (%zu chunks "
			 "seen): asking for each chunk not seen (HEAD)", pages, pages == 1 ? "" : "s",
			 stasync_chunk_set_count(h->listed));
	return 0;
}

static void http_free(stasync_store *s)
{
	struct http_store *h = (struct http_store *)s;

	/* Cancels uploads still under way: their ends run before it returns. */
	sta_http_free(h->http);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->url);
	free(h->name);
	free(h->bucket_url);
	stasync_chunk_set_free(h->sent);
	stasync_chunk_set_free(h->listed);
}

static const struct sta_store_ops http_ops = {
	.kind = "http",
	.put_checks = true,
	.fetch = http_fetch,
	.has = http_has,
	.put = http_put,
	.flush = http_flush,
	.free = http_free,
};

static const struct sta_store_ops s3_ops = {
	.kind = "s3",
	.put_checks = true,
	.fetch = http_fetch,
	.has = http_has,
	.put = http_put,
	.flush = http_flush,
	.plan_puts = s3_plan_puts,
	.free = http_free,
};

/* A store at url (normalised, credentials and all), known as locator,
 * asked through http (taken over, also on failure). */
static int http_store_open(const char *locator, const char *url, unsigned flags, sta_http *http,
			   stasync_store **ret, stasync_error *err)
{
	struct http_store *h;

	h = calloc(1, sizeof(*h));
	if (!h) {
		sta_http_free(http);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->base.ops = &http_ops;
	h->base.flags = flags;
	h->http = http;
	h->base.locator = stasync_url_redact(locator);
	h->url = strdup(url);
	h->name = stasync_url_redact(url);
	if (!h->base.locator || !h->url || !h->name || stasync_chunk_set_new(&h->sent) < 0) {
		stasync_store_free(&h->base);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	*ret = &h->base;
	return 0;
}

int sta_store_http_open(const char *locator, unsigned flags, const stasync_http_options *o,
			stasync_store **ret, stasync_error *err)
{
	_cleanup_free_ char *url = sta_http_store_url(locator);
	_cleanup_free_ char *shown = stasync_url_redact(locator);
	sta_http *http;
	int r;

	if (!url || !shown)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_http_new(o, &http, err);
	if (r < 0)
		return sta_error_prefix(err, r, "store %s", shown);
	return http_store_open(locator, url, flags, http, ret, err);
}

int sta_store_s3_open(const char *locator, unsigned flags, const stasync_http_options *o,
		      stasync_store **ret, stasync_error *err)
{
	_cleanup_free_ char *url = NULL, *shown = stasync_url_redact(locator);
	sta_http *http;
	int r;

	struct http_store *h;
	size_t bucket_end;

	if (!shown)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_s3_http_new(locator, o, &http, &url, &bucket_end, err);
	if (r < 0)
		return sta_error_prefix(err, r, "store %s", shown);
	r = http_store_open(locator, url, flags, http, ret, err);
	if (r < 0)
		return r;
	h = (struct http_store *)*ret;
	h->base.ops = &s3_ops;
	h->bucket_end = bucket_end;
	h->bucket_url = strndup(url, bucket_end);
	if (!h->bucket_url) {
		*ret = stasync_store_free(*ret);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	return 0;
}
