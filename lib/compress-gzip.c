/* gzip chunks through zlib: written as casync writes them (deflate at
 * zlib's default level in a gzip wrapper with no name and mtime 0), read
 * with a bound on the output. */
#include <zlib.h>

#include "compress.h"
#include "util.h"

/* windowBits 15 plus 16: a gzip wrapper, not zlib's own */
#define GZIP_WINDOW_BITS (15 + 16)

struct sta_gzip {
	z_stream enc;
	z_stream dec;
	bool enc_ready, dec_ready;
};

static struct sta_gzip *gzip_get(stasync_codec *c)
{
	if (!c->gzip)
		c->gzip = calloc(1, sizeof(*c->gzip));
	return c->gzip;
}

void sta_gzip_free(struct sta_gzip *g)
{
	if (!g)
		return;
	if (g->enc_ready)
		deflateEnd(&g->enc);
	if (g->dec_ready)
		inflateEnd(&g->dec);
	free(g);
}

size_t sta_gzip_bound(size_t n)
{
	/* zlib's compressBound() for a zlib wrapper, plus the gzip header and
	 * trailer's extra 12 bytes */
	return compressBound(n) + 12;
}

int sta_gzip_compress(stasync_codec *c, const void *data, size_t n, size_t *ret_size,
		      stasync_error *err)
{
	struct sta_gzip *g = gzip_get(c);
	size_t bound = sta_gzip_bound(n);
	int zr;

	if (!g || n > UINT_MAX || sta_codec_reserve(c, bound) < 0)
		return sta_error(err, -ENOMEM, "out of memory compressing a chunk of %zu bytes", n);
	if (!g->enc_ready) {
		zr = deflateInit2(&g->enc, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW_BITS, 8,
				  Z_DEFAULT_STRATEGY);
		if (zr != Z_OK)
			return sta_error(err, zr == Z_MEM_ERROR ? -ENOMEM : -EIO,
					 "gzip compression could not start (zlib error %d)", zr);
		g->enc_ready = true;
	} else if (deflateReset(&g->enc) != Z_OK)
		return sta_error(err, -EIO, "gzip compression could not restart");
	g->enc.next_in = (Bytef *)data;
	g->enc.avail_in = (uInt)n;
	g->enc.next_out = c->buf;
	g->enc.avail_out = (uInt)MIN(bound, (size_t)UINT_MAX);
	zr = deflate(&g->enc, Z_FINISH);
	if (zr != Z_STREAM_END)
		return sta_error(err, -EIO, "gzip compression failed (zlib error %d)", zr);
	*ret_size = g->enc.total_out;
	return 0;
}

/* The decoder, made on first use, reset for each chunk after. */
static int gzip_dec_start(struct sta_gzip *g)
{
	int zr;

	if (g->dec_ready)
		return inflateReset(&g->dec);
	zr = inflateInit2(&g->dec, GZIP_WINDOW_BITS);
	g->dec_ready = zr == Z_OK;
	return zr;
}

static int gzip_fail(stasync_error *err, int zr, const z_stream *z, const char *what)
{
	if (zr == Z_MEM_ERROR)
		return sta_error(err, -ENOMEM, "%s: out of memory", what);
	if (zr == Z_BUF_ERROR)
		return sta_error(err, -EBADMSG, "%s: truncated gzip data", what);
	return sta_error(err, -EBADMSG, "%s: corrupt gzip data: %s", what,
			 z->msg ? z->msg : "bad stream");
}

int sta_gzip_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
		     const char *what, stasync_error *err)
{
	struct sta_gzip *g = gzip_get(c);
	uint8_t probe;
	int zr;

	if (!g)
		return sta_error(err, -ENOMEM, "%s: out of memory", what);
	if (n > UINT_MAX || size > UINT_MAX)
		return sta_error(err, -EBADMSG, "%s: too large for a gzip chunk", what);
	zr = gzip_dec_start(g);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? gzip_fail(err, zr, &g->dec, what)
					 : sta_error(err, -EIO, "%s: gzip decoder could not start", what);
	g->dec.next_in = (Bytef *)data;
	g->dec.avail_in = (uInt)n;
	g->dec.next_out = out;
	g->dec.avail_out = (uInt)size;
	for (;;) {
		zr = inflate(&g->dec, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && g->dec.avail_out == 0))
			return gzip_fail(err, zr, &g->dec, what);
		if (g->dec.avail_out == 0) {
			/* Output full: one more byte would be past the size. */
			if (g->dec.next_out == &probe + 1)
				return sta_inflate_past(what, size, err);
			g->dec.next_out = &probe;
			g->dec.avail_out = 1;
		} else if (g->dec.avail_in == 0)
			return sta_error(err, -EBADMSG, "%s: truncated gzip data", what);
	}
	/* One member only: a second one, or anything else, is refused. */
	return sta_inflate_ended(what, "gzip", g->dec.avail_in, g->dec.next_out == &probe + 1,
				 g->dec.next_out == &probe ? size : size - g->dec.avail_out, size, err);
}

size_t sta_gzip_count(stasync_codec *c, const void *data, size_t n, size_t limit)
{
	struct sta_gzip *g = gzip_get(c);
	uint8_t scratch[16384];
	size_t total = 0;

	if (!g || n > UINT_MAX)
		return 0;
	if (gzip_dec_start(g) != Z_OK)
		return 0;
	g->dec.next_in = (Bytef *)data;
	g->dec.avail_in = (uInt)n;
	while (total <= limit) {
		int zr;

		g->dec.next_out = scratch;
		g->dec.avail_out = sizeof(scratch);
		zr = inflate(&g->dec, Z_NO_FLUSH);
		total += sizeof(scratch) - g->dec.avail_out;
		if (zr != Z_OK)
			break;  /* the end, or an error the real decode reports */
	}
	return MIN(total, limit + 1);
}
