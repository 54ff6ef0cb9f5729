/* A chunk store on a web server: GET STORE_URL/<4 hex>/<64 hex>.cacnk.
 * Read-only for now. One libcurl handle per store, so that its connection
 * is reused from one chunk to the next. */
#include <inttypes.h>
#include <stdio.h>

#include "format.h"
#include "http.h"
#include "store.h"
#include "util.h"

struct http_store {
	struct stasync_store base;
	sta_http *http;
	char *url;           /* normalised store URL, credentials and all */
	char *name;          /* the same with the password hidden: for messages */
	char *chunk_url;     /* url + "/abcd/<64 hex>.cacnk", rewritten per chunk */
	char *chunk_name;
	size_t chunk_url_size, chunk_name_size;
	/* Set once the server could not be reached at all: asking it for
	 * every further chunk would only wait for the same timeouts. */
	int down;
	char down_reason[STASYNC_ERROR_MESSAGE_MAX];
};

static void chunk_urls(struct http_store *h, const stasync_chunk_id *id)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];

	stasync_chunk_id_format(id, hex);
	snprintf(h->chunk_url, h->chunk_url_size, "%s/%.4s/%s" CA_CHUNK_SUFFIX, h->url, hex, hex);
	snprintf(h->chunk_name, h->chunk_name_size, "%s/%.4s/%s" CA_CHUNK_SUFFIX, h->name, hex, hex);
}

/* Fetched bytes go to the codec's buffer, grown geometrically up to the
 * limit the caller set (sta_http_get() never passes more). */
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

/* Remember a failure to reach the server, or report the one remembered. */
static int check_down(struct http_store *h, stasync_error *err)
{
	return sta_error(err, h->down, "%s: not asked, the server could not be reached for an earlier chunk (%s)",
			 h->chunk_name, h->down_reason);
}

static int note_failure(struct http_store *h, int r, const stasync_error *e, stasync_error *err)
{
	if (sta_http_unreachable(h->http)) {
		size_t k = strlen(h->chunk_name);
		const char *why = e->message;

		/* keep the reason without the first chunk's URL in front */
		if (strncmp(why, h->chunk_name, k) == 0 && strncmp(why + k, ": ", 2) == 0)
			why += k + 2;
		h->down = r;
		snprintf(h->down_reason, sizeof(h->down_reason), "%s", why);
	}
	if (err)
		*err = *e;
	return r;
}

static int http_fetch(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      size_t limit, size_t *size, bool *compressed, stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	struct codec_sink sink = { c, limit };
	stasync_error e = { 0, "" };
	uint64_t n = 0;
	int r;

	/* Only compressed chunks are served: casync asks for nothing else. */
	*compressed = true;
	chunk_urls(h, id);
	if (h->down)
		return check_down(h, err);
	r = sta_http_get(h->http, h->chunk_url, h->chunk_name, limit, codec_write, &sink, &n, &e);
	if (r == -EFBIG)
		return sta_error(err, -EBADMSG, "%s: more than %zu bytes, too large for its chunk",
				 h->chunk_name, limit);
	if (r < 0)
		return note_failure(h, r, &e, err);
	*size = (size_t)n;
	return 0;
}

static int http_has(stasync_store *s, const stasync_chunk_id *id, stasync_error *err)
{
	struct http_store *h = (struct http_store *)s;
	stasync_error e = { 0, "" };
	int r;

	chunk_urls(h, id);
	if (h->down)
		return check_down(h, err);
	r = sta_http_head(h->http, h->chunk_url, h->chunk_name, &e);
	if (r < 0)
		return note_failure(h, r, &e, err);
	return r;
}

static int http_put(stasync_store *s, const stasync_chunk_id *id, const void *data, size_t n,
		    stasync_error *err)
{
	return sta_error(err, -EROFS, "store %s: writing over HTTP is not supported yet", s->locator);
}

static void http_free(stasync_store *s)
{
	struct http_store *h = (struct http_store *)s;

	sta_http_free(h->http);
	free(h->url);
	free(h->name);
	free(h->chunk_url);
	free(h->chunk_name);
}

static const struct sta_store_ops http_ops = {
	.kind = "http",
	.fetch = http_fetch,
	.has = http_has,
	.put = http_put,
	.free = http_free,
};

int sta_store_http_open(const char *locator, unsigned flags, const stasync_http_options *o,
			stasync_store **ret, stasync_error *err)
{
	struct http_store *h;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return sta_error(err, -ENOMEM, "out of memory");
	h->base.ops = &http_ops;
	h->base.flags = flags;
	h->base.locator = stasync_url_redact(locator);
	h->url = sta_http_store_url(locator);
	h->name = h->url ? stasync_url_redact(h->url) : NULL;
	if (!h->base.locator || !h->name) {
		stasync_store_free(&h->base);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	h->chunk_url_size = strlen(h->url) + 80;
	h->chunk_name_size = strlen(h->name) + 80;
	h->chunk_url = malloc(h->chunk_url_size);
	h->chunk_name = malloc(h->chunk_name_size);
	if (!h->chunk_url || !h->chunk_name) {
		stasync_store_free(&h->base);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	r = sta_http_new(o, &h->http, err);
	if (r < 0) {
		sta_error_prefix(err, r, "store %s", h->base.locator);
		stasync_store_free(&h->base);
		return r;
	}
	if (flags & STASYNC_STORE_WRITABLE) {
		r = sta_error(err, -EROFS, "store %s: writing over HTTP is not supported yet",
			      h->base.locator);
		stasync_store_free(&h->base);
		return r;
	}
	*ret = &h->base;
	return 0;
}
