/* Chunk compression (zstd) and the bounded, verified decode of stored
 * chunks. */
#include <zstd.h>

#include <stasync/store.h>
#include "format.h"
#include "store.h"
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

int stasync_compression_parse(const char *name, stasync_error *err)
{
	if (strcmp(name, "zstd") == 0)
		return 0;
	if (strcmp(name, "xz") == 0 || strcmp(name, "gzip") == 0)
		return sta_error(err, -EOPNOTSUPP,
				 "compression '%s' is not built into stasync (zstd only)", name);
	return sta_error(err, -EINVAL,
			 "unknown compression '%s' (choose zstd)", name);
}

int sta_chunk_compress(stasync_codec *c, const void *data, size_t n,
		       const void **ret, size_t *ret_size, stasync_error *err)
{
	size_t bound = ZSTD_compressBound(n), k;
	int r;

	r = sta_codec_reserve(c, bound);
	if (r < 0)
		return sta_error(err, r, "out of memory compressing a chunk of %zu bytes", n);
	k = ZSTD_compressCCtx(c->cctx, c->buf, bound, data, n, CHUNK_ZSTD_LEVEL);
	if (ZSTD_isError(k))
		return sta_error(err, -EIO, "zstd compression failed: %s", ZSTD_getErrorName(k));
	*ret = c->buf;
	*ret_size = k;
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
 * exactly: more output is refused the moment it would appear, so a
 * decompression bomb costs at most `size` bytes of memory. */
static int zstd_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
			const char *what, stasync_error *err)
{
	ZSTD_inBuffer in = { data, n, 0 };
	ZSTD_outBuffer o = { out, size, 0 };
	uint8_t probe;

	ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_only);
	/* A frame may declare a window far larger than its content; cap what
	 * a small chunk can make us allocate (8 MiB, or the chunk's size). */
	ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax, window_log_for(size));
	for (;;) {
		size_t k = ZSTD_decompressStream(c->dctx, &o, &in);
		if (ZSTD_isError(k))
			return sta_error(err, -EBADMSG, "%s: corrupt zstd data: %s", what,
					 ZSTD_getErrorName(k));
		if (k == 0 && in.pos == in.size)
			break;
		if (o.pos == o.size) {
			/* Output full: anything more is past the declared size. */
			ZSTD_outBuffer extra = { &probe, 1, 0 };
			k = ZSTD_decompressStream(c->dctx, &extra, &in);
			if (ZSTD_isError(k))
				return sta_error(err, -EBADMSG, "%s: corrupt zstd data: %s", what,
						 ZSTD_getErrorName(k));
			if (extra.pos > 0)
				return sta_error(err, -EBADMSG,
						 "%s: inflates past the %zu bytes the index declares",
						 what, size);
			if (k == 0 && in.pos == in.size)
				break;
			if (in.pos == in.size)
				return sta_error(err, -EBADMSG, "%s: truncated zstd data", what);
			continue;
		}
		if (in.pos == in.size)
			return sta_error(err, -EBADMSG, "%s: truncated zstd data", what);
	}
	if (o.pos != size)
		return sta_error(err, -EBADMSG, "%s: holds %zu bytes, the index declares %zu",
				 what, o.pos, size);
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
	} else if (n >= 6 && memcmp(data, XZ_MAGIC, 6) == 0)
		return sta_error(err, -EOPNOTSUPP,
				 "%s: xz-compressed, which this build does not read (zstd only)", what);
	else if (n >= 2 && memcmp(data, GZIP_MAGIC, 2) == 0)
		return sta_error(err, -EOPNOTSUPP,
				 "%s: gzip-compressed, which this build does not read (zstd only)", what);
	else
		return sta_error(err, -EBADMSG, "%s: not zstd data (bad magic)", what);

	sta_chunk_digest(c, type, out, size, &got);
	if (!stasync_chunk_id_equal(&got, id))
		return sta_error(err, -EBADMSG, "%s: content does not match its id", what);
	return 0;
}
