/* casync's buzhash content-defined chunker.
 *
 * The rolling hash over the last 48 bytes decides where chunks end. Since
 * it depends only on those 48 bytes, the bytes of a chunk before
 * (first_test − 48) never matter: they are skipped without hashing, which
 * is most of a chunk at the default sizes. */
#include <math.h>

#include <stasync/chunker.h>
#include "util.h"

#define WINDOW STASYNC_CHUNKER_WINDOW

/* The 256 constants of casync's buzhash, needed for identical cut points. */
static const uint32_t buzhash_table[256] = {
	0x458be752, 0xc10748cc, 0xfbbcdbb8, 0x6ded5b68,
	0xb10a82b5, 0x20d75648, 0xdfc5665f, 0xa8428801,
	0x7ebf5191, 0x841135c7, 0x65cc53b3, 0x280a597c,
	0x16f60255, 0xc78cbc3e, 0x294415f5, 0xb938d494,
	0xec85c4e6, 0xb7d33edc, 0xe549b544, 0xfdeda5aa,
	0x882bf287, 0x3116737c, 0x05569956, 0xe8cc1f68,
	0x0806ac5e, 0x22a14443, 0x15297e10, 0x50d090e7,
	0x4ba60f6f, 0xefd9f1a7, 0x5c5c885c, 0x82482f93,
	0x9bfd7c64, 0x0b3e7276, 0xf2688e77, 0x8fad8abc,
	0xb0509568, 0xf1ada29f, 0xa53efdfe, 0xcb2b1d00,
	0xf2a9e986, 0x6463432b, 0x95094051, 0x5a223ad2,
	0x9be8401b, 0x61e579cb, 0x1a556a14, 0x5840fdc2,
	0x9261ddf6, 0xcde002bb, 0x52432bb0, 0xbf17373e,
	0x7b7c222f, 0x2955ed16, 0x9f10ca59, 0xe840c4c9,
	0xccabd806, 0x14543f34, 0x1462417a, 0x0d4a1f9c,
	0x087ed925, 0xd7f8f24c, 0x7338c425, 0xcf86c8f5,
	0xb19165cd, 0x9891c393, 0x325384ac, 0x0308459d,
	0x86141d7e, 0xc922116a, 0xe2ffa6b6, 0x53f52aed,
	0x2cd86197, 0xf5b9f498, 0xbf319c8f, 0xe0411fae,
	0x977eb18c, 0xd8770976, 0x9833466a, 0xc674df7f,
	0x8c297d45, 0x8ca48d26, 0xc49ed8e2, 0x7344f874,
	0x556f79c7, 0x6b25eaed, 0xa03e2b42, 0xf68f66a4,
	0x8e8b09a2, 0xf2e0e62a, 0x0d3a9806, 0x9729e493,
	0x8c72b0fc, 0x160b94f6, 0x450e4d3d, 0x7a320e85,
	0xbef8f0e1, 0x21d73653, 0x4e3d977a, 0x1e7b3929,
	0x1cc6c719, 0xbe478d53, 0x8d752809, 0xe6d8c2c6,
	0x275f0892, 0xc8acc273, 0x4cc21580, 0xecc4a617,
	0xf5f7be70, 0xe795248a, 0x375a2fe9, 0x425570b6,
	0x8898dcf8, 0xdc2d97c4, 0x0106114b, 0x364dc22f,
	0x1e0cad1f, 0xbe63803c, 0x5f69fac2, 0x4d5afa6f,
	0x1bc0dfb5, 0xfb273589, 0x0ea47f7b, 0x3c1c2b50,
	0x21b2a932, 0x6b1223fd, 0x2fe706a8, 0xf9bd6ce2,
	0xa268e64e, 0xe987f486, 0x3eacf563, 0x1ca2018c,
	0x65e18228, 0x2207360a, 0x57cf1715, 0x34c37d2b,
	0x1f8f3cde, 0x93b657cf, 0x31a019fd, 0xe69eb729,
	0x8bca7b9b, 0x4c9d5bed, 0x277ebeaf, 0xe0d8f8ae,
	0xd150821c, 0x31381871, 0xafc3f1b0, 0x927db328,
	0xe95effac, 0x305a47bd, 0x426ba35b, 0x1233af3f,
	0x686a5b83, 0x50e072e5, 0xd9d3bb2a, 0x8befc475,
	0x487f0de6, 0xc88dff89, 0xbd664d5e, 0x971b5d18,
	0x63b14847, 0xd7d3c1ce, 0x7f583cf3, 0x72cbcb09,
	0xc0d0a81c, 0x7fa3429b, 0xe9158a1b, 0x225ea19a,
	0xd8ca9ea3, 0xc763b282, 0xbb0c6341, 0x020b8293,
	0xd4cd299d, 0x58cfa7f8, 0x91b4ee53, 0x37e4d140,
	0x95ec764c, 0x30f76b06, 0x5ee68d24, 0x679c8661,
	0xa41979c2, 0xf2b61284, 0x4fac1475, 0x0adb49f9,
	0x19727a23, 0x15a7e374, 0xc43a18d5, 0x3fb1aa73,
	0x342fc615, 0x924c0793, 0xbee2d7f0, 0x8a279de9,
	0x4aa2d70c, 0xe24dd37f, 0xbe862c0b, 0x177c22c2,
	0x5388e5ee, 0xcd8a7510, 0xf901b4fd, 0xdbc13dbc,
	0x6c0bae5b, 0x64efe8c7, 0x48b02079, 0x80331a49,
	0xca3d8ae6, 0xf3546190, 0xfed7108b, 0xc49b941b,
	0x32baf4a9, 0xeb833a4a, 0x88a3f1a5, 0x3a91ce0a,
	0x3cc27da1, 0x7112e684, 0x4a3096b1, 0x3794574c,
	0xa3c8b6f3, 0x1d213941, 0x6e0a2e00, 0x233479f1,
	0x0f4cd82f, 0x6093edd2, 0x5d7d209e, 0x464fe319,
	0xd4dcac9e, 0x0db845cb, 0xfb5e4bc3, 0xe0256ce1,
	0x09fb4ed1, 0x0914be1e, 0xa5bdb2c3, 0xc6eb57bb,
	0x30320350, 0x3f397e91, 0xa67791bc, 0x86bc0e2c,
	0xefa0a7e2, 0xe9ff7543, 0xe733612c, 0xd185897b,
	0x329e5388, 0x91dd236b, 0x2ecb0d93, 0xf4d82a3d,
	0x35b5c03f, 0xe4e606f0, 0x05b21843, 0x37b45964,
	0x5eff22f4, 0x6027f4cc, 0x77178b3c, 0xae507131,
	0x7bf7cabc, 0xf9c18d66, 0x593ade65, 0xd95ddf11,
};

static inline uint32_t rol32(uint32_t v, unsigned n)
{
	n &= 31;
	return n ? (v << n) | (v >> (32 - n)) : v;
}

int stasync_chunk_sizes_complete(stasync_chunk_sizes *s)
{
	size_t min = s->min, avg = s->avg, max = s->max;

	if (avg == 0) {
		if (min && max)
			avg = (size_t)lrint(pow(2, (log2((double)min) + log2((double)max)) / 2));
		else if (min)
			avg = min * 4;
		else if (max)
			avg = max / 4;
		else
			avg = STASYNC_CHUNK_SIZE_AVG_DEFAULT;
		avg = MAX(avg, STASYNC_CHUNK_SIZE_LIMIT_MIN);
		avg = MIN(avg, STASYNC_CHUNK_SIZE_LIMIT_MAX);
	} else if (avg < STASYNC_CHUNK_SIZE_LIMIT_MIN || avg > STASYNC_CHUNK_SIZE_LIMIT_MAX)
		return -ERANGE;

	if (min == 0)
		min = MAX(avg / 4, STASYNC_CHUNK_SIZE_LIMIT_MIN);
	else if (min > avg)
		return -EINVAL;

	if (max == 0)
		max = MIN(avg * 4, STASYNC_CHUNK_SIZE_LIMIT_MAX);
	else if (max > STASYNC_CHUNK_SIZE_LIMIT_MAX)
		return -ERANGE;
	else if (max < avg)
		return -EINVAL;

	/* casync cannot cut before its 48-byte window is full, and refuses a
	 * maximum below that unless the chunks are of fixed size. */
	if (max < WINDOW && !(min == avg && avg == max))
		return -EINVAL;

	s->min = min;
	s->avg = avg;
	s->max = max;
	return 0;
}

/* One size with an optional binary suffix (K, M, G; "B" or none = bytes). */
static int parse_one_size(const char *p, size_t len, size_t *ret)
{
	char buf[64];
	char *end;
	unsigned long long v;
	uint64_t factor = 1;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, p, len);
	buf[len] = 0;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case 0:
	case 'B':
		break;
	case 'K':
		factor = 1024;
		break;
	case 'M':
		factor = 1024 * 1024;
		break;
	case 'G':
		factor = 1024 * 1024 * 1024;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && !(end[1] == 'B' && !end[2]))
		return -EINVAL;
	if (v > SIZE_MAX / factor)
		return -ERANGE;
	*ret = (size_t)(v * factor);
	return 0;
}

int stasync_chunk_sizes_parse(const char *text, stasync_chunk_sizes *ret)
{
	stasync_chunk_sizes s = { 0, 0, 0 };
	const char *c1, *c2;
	int r;

	if (strcmp(text, "auto") == 0)
		goto done;

	c1 = strchr(text, ':');
	if (!c1) {
		r = parse_one_size(text, strlen(text), &s.avg);
		if (r < 0)
			return r;
		if (s.avg < STASYNC_CHUNK_SIZE_LIMIT_MIN || s.avg > STASYNC_CHUNK_SIZE_LIMIT_MAX)
			return -ERANGE;
		goto done;
	}
	c2 = strchr(c1 + 1, ':');
	if (!c2 || strchr(c2 + 1, ':'))
		return -EINVAL;
	if ((r = parse_one_size(text, (size_t)(c1 - text), &s.min)) < 0 ||
	    (r = parse_one_size(c1 + 1, (size_t)(c2 - c1 - 1), &s.avg)) < 0 ||
	    (r = parse_one_size(c2 + 1, strlen(c2 + 1), &s.max)) < 0)
		return r;
	if (s.min < STASYNC_CHUNK_SIZE_LIMIT_MIN || s.max > STASYNC_CHUNK_SIZE_LIMIT_MAX)
		return -ERANGE;
	if (s.avg < s.min || s.max < s.avg)
		return -EINVAL;
done:
	r = stasync_chunk_sizes_complete(&s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

/* Lemire's fast remainder: h % d with two multiplications instead of a
 * division per byte. Exact for all 32-bit h and d. The high 64 bits of the
 * 96-bit product low * d: one 64x64->128 multiplication where the compiler
 * has 128-bit integers; on 32-bit targets (ARMv7) they come from the two
 * 32-bit halves of low, which cannot overflow 64 bits. */
static inline uint32_t fastmod(uint32_t h, uint64_t m, uint32_t d)
{
	uint64_t low = m * h;
#ifdef __SIZEOF_INT128__
	return (uint32_t)(((__uint128_t)low * d) >> 64);
#else
	uint64_t lo = (low & 0xffffffffu) * d;
	return (uint32_t)(((low >> 32) * d + (lo >> 32)) >> 32);
#endif
}

int stasync_chunker_init(stasync_chunker *c, const stasync_chunk_sizes *s)
{
	stasync_chunk_sizes sz = *s;
	double q;
	size_t d;
	int r;

	r = stasync_chunk_sizes_complete(&sz);
	if (r < 0)
		return r;

	memset(c, 0, sizeof(*c));
	c->size = sz;
	/* casync corrects avg for the skew of the cut test, and keeps the
	 * discriminator within [min, max]. */
	q = (double)sz.avg / (-1.42888852e-7 * (double)sz.avg + 1.33237515);
	/* Past avg ≈ 9.3 MB the correction turns negative; casync's cast then
	 * yields a huge value on x86-64, clamped to max. Say so explicitly
	 * instead of relying on an undefined conversion. */
	d = (q <= 0 || q >= (double)sz.max) ? sz.max : (size_t)q;
	d = MAX(d, sz.min);
	d = MIN(d, sz.max);
	c->discriminator = (uint32_t)d;
	c->first_test = MAX(sz.min, (size_t)WINDOW);
	return 0;
}

void stasync_chunker_reset(stasync_chunker *c)
{
	c->hash = 0;
	c->chunk_size = 0;
}

static size_t cut(stasync_chunker *c, size_t at)
{
	stasync_chunker_reset(c);
	return at;
}

size_t stasync_chunker_scan(stasync_chunker *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	const size_t max = c->size.max;
	const uint32_t d = c->discriminator;
	const uint64_t m = UINT64_MAX / d + 1;
	size_t i = 0, i0 = 0, end;
	uint32_t h;

	if (c->size.min == c->size.max) {
		/* Fixed-size chunks. */
		size_t need = max - c->chunk_size;
		if (n >= need)
			return cut(c, need);
		c->chunk_size += n;
		return SIZE_MAX;
	}

	if (c->chunk_size < c->first_test) {
		const size_t skip_end = c->first_test - WINDOW;
		size_t k;

		if (c->chunk_size < skip_end) {
			k = MIN(n, skip_end - c->chunk_size);
			i += k;
			c->chunk_size += k;
			if (i == n)
				return SIZE_MAX;
		}
		k = MIN(n - i, c->first_test - c->chunk_size);
		memcpy(c->window + (c->chunk_size - skip_end), p + i, k);
		i += k;
		c->chunk_size += k;
		if (c->chunk_size < c->first_test)
			return SIZE_MAX;

		h = 0;
		for (size_t j = 0; j < WINDOW; j++)
			h ^= rol32(buzhash_table[c->window[j]], (unsigned)(WINDOW - 1 - j));
		c->hash = h;
		if (c->chunk_size >= max || fastmod(h, m, d) == d - 1)
			return cut(c, i);
		i0 = i;
	}

	/* Roll byte by byte; the byte leaving the window is 48 bytes back:
	 * near the start of p in the saved window, then in p itself (two
	 * loops, so that the second has no branch for it). */
	h = c->hash;
	end = MIN(n, i + (max - c->chunk_size));
	size_t j = i;
	for (; j < end && j < WINDOW; j++) {
		h = rol32(h, 1) ^ rol32(buzhash_table[c->window[j - i0]], WINDOW) ^ buzhash_table[p[j]];
		if (fastmod(h, m, d) == d - 1)
			return cut(c, j + 1);
	}
	for (; j < end; j++) {
		h = rol32(h, 1) ^ rol32(buzhash_table[p[j - WINDOW]], WINDOW) ^ buzhash_table[p[j]];
		/* (h + 1) % d == 0, the cheap way (one 64-bit product); the exact
		 * test confirms the rare yes (and h + 1 wrapping to 0) */
		if ((uint64_t)(uint32_t)(h + 1) * m <= m - 1 && fastmod(h, m, d) == d - 1)
			return cut(c, j + 1);
	}
	c->chunk_size += end - i;
	if (c->chunk_size >= max)
		return cut(c, end);
	c->hash = h;

	/* No cut: remember the last 48 bytes for the next call. */
	if (n >= WINDOW)
		memcpy(c->window, p + n - WINDOW, WINDOW);
	else {
		size_t fresh = n - i0;
		memmove(c->window, c->window + fresh, WINDOW - fresh);
		memcpy(c->window + WINDOW - fresh, p + i0, fresh);
	}
	return SIZE_MAX;
}
