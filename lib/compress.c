/* Chunk compression: the codec, zstd, the choice among zstd, xz and gzip
 * (compress-xz.c, compress-gzip.c), and the bounded, verified decode of
 * stored chunks, whatever they were compressed with. */
#include <zstd.h>
#include <zstd_errors.h>

#include <stasync/store.h>
#include "compress.h"
#include "format.h"
#include "util.h"

/* casync writes chunks at zstd level 3. */
#define CHUNK_ZSTD_LEVEL 3

int stasync_codec_new(stasync_codec **ret)
{
	stasync_codec *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx) {
		stasync_codec_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void stasync_codec_free(stasync_codec *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	sta_xz_free(c->xz);
	sta_gzip_free(c->gzip);
	free(c->buf);
	free(c);
}

int sta_codec_reserve(stasync_codec *c, size_t n)
{
	void *p;

	if (c->buf_size >= n)
		return 0;
	p = realloc(c->buf, n);
	if (!p)
		return -ENOMEM;
	c->buf = p;
	c->buf_size = n;
	return 0;
}

static const char *const compression_names[] = {
	[STASYNC_COMPRESSION_ZSTD] = "zstd",
	[STASYNC_COMPRESSION_XZ] = "xz",
	[STASYNC_COMPRESSION_GZIP] = "gzip",
};

int stasync_compression_parse(const char *name, stasync_error *err)
{
	for (size_t i = 0; i < ELEMENTSOF(compression_names); i++)
		if (strcmp(name, compression_names[i]) == 0)
			return (int)i;
	return sta_error(err, -EINVAL, "unknown compression '%s' (choose zstd, xz or gzip)",
			 name);
}

const char *stasync_compression_name(stasync_compression k)
{
	return (size_t)k < ELEMENTSOF(compression_names) ? compression_names[k] : "?";
}

size_t sta_chunk_stored_max(size_t size)
{
	return MAX(MAX(ZSTD_compressBound(size), sta_xz_bound(size)), sta_gzip_bound(size)) +
	       1024;
}

static int zstd_compress(stasync_codec *c, const void *data, size_t n, size_t *ret_size,
			 stasync_error *err)
{
	size_t bound = ZSTD_compressBound(n), k;
	int r;

	r = sta_codec_reserve(c, bound);
	if (r < 0)
		return sta_error(err, r, "out of memory compressing a chunk of %zu bytes", n);
	k = ZSTD_compressCCtx(c->cctx, c->buf, bound, data, n, CHUNK_ZSTD_LEVEL);
	if (ZSTD_isError(k))
		return sta_error(err, -EIO, "zstd compression failed: %s", ZSTD_getErrorName(k));
	*ret_size = k;
	return 0;
}

int sta_chunk_compress(stasync_codec *c, stasync_compression k, const void *data, size_t n,
		       const void **ret, size_t *ret_size, stasync_error *err)
{
	int r;

	switch (k) {
	case STASYNC_COMPRESSION_XZ:
		r = sta_xz_compress(c, data, n, ret_size, err);
		break;
	case STASYNC_COMPRESSION_GZIP:
		r = sta_gzip_compress(c, data, n, ret_size, err);
		break;
	default:
		r = zstd_compress(c, data, n, ret_size, err);
		break;
	}
	*ret = c->buf;
	return r;
}

int sta_inflate_past(const char *what, size_t size, stasync_error *err)
{
	return sta_error(err, -EBADMSG, "%s: inflates past the %zu bytes the index declares", what,
			 size);
}

int sta_inflate_ended(const char *what, const char *kind, size_t left, bool past, size_t filled,
		      size_t size, stasync_error *err)
{
	if (left > 0)
		return sta_error(err, -EBADMSG, "%s: data after the end of its %s stream", what, kind);
	if (past)
		return sta_inflate_past(what, size, err);
	if (filled != size)
		return sta_error(err, -EBADMSG, "%s: holds %zu bytes, the index declares %zu", what,
				 filled, size);
	return 0;
}

static int window_log_for(size_t size)
{
	int log = 23;

	while (log < 27 && ((size_t)1 << log) < size)
		log++;
	return log;
}

/* Inflate one zstd stream into out[0..size) and require that it fills it
 * exactly. One pass straight into `out`: casync writes its frames without
 * a content size, and streaming would then decode through a window buffer
 * and copy every byte out of it. Output that would pass `size` is refused
 * the moment it appears, so a decompression bomb costs nothing more. */
static int zstd_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
			const char *what, stasync_error *err)
{
	size_t k = ZSTD_decompressDCtx(c->dctx, out, size, data, n);

	if (ZSTD_isError(k)) {
		switch (ZSTD_getErrorCode(k)) {
		case ZSTD_error_dstSize_tooSmall:
			return sta_inflate_past(what, size, err);
		case ZSTD_error_srcSize_wrong:
			return sta_error(err, -EBADMSG, "%s: truncated zstd data", what);
		default:
			return sta_error(err, -EBADMSG, "%s: corrupt zstd data: %s", what,
					 ZSTD_getErrorName(k));
		}
	}
	if (k != size)
		return sta_error(err, -EBADMSG, "%s: holds %zu bytes, the index declares %zu",
				 what, k, size);
	return 0;
}

static size_t zstd_count(stasync_codec *c, const void *p, size_t n, size_t limit)
{
	unsigned long long k = ZSTD_getFrameContentSize(p, n);
	ZSTD_inBuffer in = { p, n, 0 };
	uint8_t scratch[16384];
	size_t total = 0;

	if (k != ZSTD_CONTENTSIZE_UNKNOWN && k != ZSTD_CONTENTSIZE_ERROR)
		return (size_t)MIN(k, (unsigned long long)limit + 1);
	ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_only);
	ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax, window_log_for(limit));
	while (in.pos < in.size && total <= limit) {
		ZSTD_outBuffer o = { scratch, sizeof(scratch), 0 };
		size_t r = ZSTD_decompressStream(c->dctx, &o, &in);

		if (ZSTD_isError(r))
			break;
		total += o.pos;
		if (r == 0 && o.pos == 0)
			break;
	}
	return MIN(total, limit + 1);
}

size_t sta_chunk_inflated_size(stasync_codec *c, const void *data, size_t n, size_t limit)
{
	if (n >= 4 && memcmp(data, ZSTD_MAGIC, 4) == 0)
		return zstd_count(c, data, n, limit);
	if (n >= 6 && memcmp(data, XZ_MAGIC, 6) == 0)
		return sta_xz_count(c, data, n, limit);
	if (n >= 2 && memcmp(data, GZIP_MAGIC, 2) == 0)
		return sta_gzip_count(c, data, n, limit);
	return 0;
}

void sta_chunk_digest(stasync_codec *c, stasync_digest_type type, const void *p, size_t n,
		      stasync_chunk_id *ret)
{
	if (!c || !sta_all_zero(p, n)) {
		stasync_digest_buffer(type, p, n, ret);
		return;
	}
	if (!c->zero.valid || c->zero.type != type || c->zero.size != n) {
		stasync_digest_buffer(type, p, n, &c->zero.id);
		c->zero.type = type;
		c->zero.size = n;
		c->zero.valid = true;
	}
	*ret = c->zero.id;
}

int stasync_chunk_decode(stasync_codec *c, const void *data, size_t n, bool compressed,
			 const stasync_chunk_id *id, stasync_digest_type type,
			 void *out, size_t size, const char *what, stasync_error *err)
{
	stasync_chunk_id got;
	int r;

	if (!compressed) {
		if (n != size)
			return sta_error(err, -EBADMSG, "%s: holds %zu bytes, the index declares %zu",
					 what, n, size);
		memcpy(out, data, n);
	} else if (n >= 4 && memcmp(data, ZSTD_MAGIC, 4) == 0) {
		r = zstd_inflate(c, data, n, out, size, what, err);
		if (r < 0)
			return r;
	} else if (n >= 6 && memcmp(data, XZ_MAGIC, 6) == 0) {
		r = sta_xz_inflate(c, data, n, out, size, what, err);
		if (r < 0)
			return r;
	} else if (n >= 2 && memcmp(data, GZIP_MAGIC, 2) == 0) {
		r = sta_gzip_inflate(c, data, n, out, size, what, err);
		if (r < 0)
			return r;
	} else
		return sta_error(err, -EBADMSG, "%s: not zstd, xz or gzip data (bad magic)", what);

	sta_chunk_digest(c, type, out, size, &got);
	if (!stasync_chunk_id_equal(&got, id))
		return sta_error(err, -EBADMSG, "%s: content does not match its id", what);
	return 0;
}
