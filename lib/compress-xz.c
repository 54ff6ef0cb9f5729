/* xz chunks through liblzma: written as casync writes them (the .xz stream
 * encoder at preset 6 with a CRC64 check, so the same bytes come out), read
 * with a memory limit and a bound on the output. */
#include <lzma.h>

#include "compress.h"
#include "util.h"

/* Preset 6 decodes in about 9 MiB; a header asking for a far larger
 * dictionary is refused rather than allocated. */
#define XZ_DECODE_MEMLIMIT (64u << 20)

struct sta_xz {
	lzma_stream enc;
	lzma_stream dec;
};

static struct sta_xz *xz_get(stasync_codec *c)
{
	if (!c->xz) {
		c->xz = calloc(1, sizeof(*c->xz));
		if (c->xz) {
			c->xz->enc = (lzma_stream)LZMA_STREAM_INIT;
			c->xz->dec = (lzma_stream)LZMA_STREAM_INIT;
		}
	}
	return c->xz;
}

void sta_xz_free(struct sta_xz *x)
{
	if (!x)
		return;
	lzma_end(&x->enc);
	lzma_end(&x->dec);
	free(x);
}

size_t sta_xz_bound(size_t n)
{
	return lzma_stream_buffer_bound(n);
}

static const char *xz_reason(lzma_ret r)
{
	switch (r) {
	case LZMA_MEM_ERROR:
		return "out of memory";
	case LZMA_MEMLIMIT_ERROR:
		return "its dictionary needs more memory than a chunk may take";
	case LZMA_FORMAT_ERROR:
		return "not an xz stream";
	case LZMA_OPTIONS_ERROR:
		return "unsupported xz options";
	case LZMA_DATA_ERROR:
		return "corrupt xz data";
	case LZMA_BUF_ERROR:
		return "truncated xz data";
	default:
		return "xz decoder failure";
	}
}

int sta_xz_compress(stasync_codec *c, const void *data, size_t n, size_t *ret_size,
		    stasync_error *err)
{
	struct sta_xz *x = xz_get(c);
	size_t bound = sta_xz_bound(n);
	lzma_ret lr;

	if (!x || sta_codec_reserve(c, bound) < 0)
		return sta_error(err, -ENOMEM, "out of memory compressing a chunk of %zu bytes", n);
	/* Re-initialising a stream with the same filters reuses its memory. */
	lr = lzma_easy_encoder(&x->enc, LZMA_PRESET_DEFAULT, LZMA_CHECK_CRC64);
	if (lr != LZMA_OK)
		return sta_error(err, lr == LZMA_MEM_ERROR ? -ENOMEM : -EIO,
				 "xz compression could not start: %s", xz_reason(lr));
	x->enc.next_in = data;
	x->enc.avail_in = n;
	x->enc.next_out = c->buf;
	x->enc.avail_out = bound;
	do
		lr = lzma_code(&x->enc, LZMA_FINISH);
	while (lr == LZMA_OK && x->enc.avail_out > 0);
	if (lr != LZMA_STREAM_END)
		return sta_error(err, -EIO, "xz compression failed: %s", xz_reason(lr));
	*ret_size = bound - x->enc.avail_out;
	return 0;
}

int sta_xz_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
		   const char *what, stasync_error *err)
{
	struct sta_xz *x = xz_get(c);
	uint8_t probe;
	lzma_ret lr;

	if (!x)
		return sta_error(err, -ENOMEM, "%s: out of memory", what);
	/* One stream, no concatenation: anything after it is refused below. */
	lr = lzma_stream_decoder(&x->dec, XZ_DECODE_MEMLIMIT, 0);
	if (lr != LZMA_OK)
		return sta_error(err, lr == LZMA_MEM_ERROR ? -ENOMEM : -EIO, "%s: %s", what,
				 xz_reason(lr));
	x->dec.next_in = data;
	x->dec.avail_in = n;
	x->dec.next_out = out;
	x->dec.avail_out = size;
	for (;;) {
		lr = lzma_code(&x->dec, LZMA_FINISH);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK)
			return sta_error(err, lr == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG, "%s: %s",
					 what, xz_reason(lr));
		if (x->dec.avail_out == 0) {
			/* Output full: one more byte would be past the size. */
			if (x->dec.next_out == &probe + 1)
				return sta_inflate_past(what, size, err);
			x->dec.next_out = &probe;
			x->dec.avail_out = 1;
		}
	}
	return sta_inflate_ended(what, "xz", x->dec.avail_in, x->dec.next_out == &probe + 1,
				 x->dec.next_out == &probe ? size : size - x->dec.avail_out, size, err);
}

size_t sta_xz_count(stasync_codec *c, const void *data, size_t n, size_t limit)
{
	struct sta_xz *x = xz_get(c);
	uint8_t scratch[16384];
	size_t total = 0;

	if (!x || lzma_stream_decoder(&x->dec, XZ_DECODE_MEMLIMIT, 0) != LZMA_OK)
		return 0;
	x->dec.next_in = data;
	x->dec.avail_in = n;
	while (total <= limit) {
		lzma_ret lr;

		x->dec.next_out = scratch;
		x->dec.avail_out = sizeof(scratch);
		lr = lzma_code(&x->dec, LZMA_FINISH);
		total += sizeof(scratch) - x->dec.avail_out;
		if (lr != LZMA_OK)
			break;  /* the end, or an error the real decode reports */
	}
	return MIN(total, limit + 1);
}
