/* SipHash-2-4, written from the paper "SipHash: a fast short-input PRF"
 * (Aumasson, Bernstein, 2012): 2 compression rounds per 8-byte word, 4
 * finalization rounds, 64-bit output. */
#include "siphash.h"

static inline uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t sta_siphash24(const void *p, size_t n, const uint8_t key[16])
{
	const uint8_t *in = p;
	const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	struct sip_state s = {
		.v0 = k0 ^ UINT64_C(0x736f6d6570736575), /* "somepseu" */
		.v1 = k1 ^ UINT64_C(0x646f72616e646f6d), /* "dorandom" */
		.v2 = k0 ^ UINT64_C(0x6c7967656e657261), /* "lygenera" */
		.v3 = k1 ^ UINT64_C(0x7465646279746573), /* "tedbytes" */
	};
	size_t left = n;
	uint64_t last;

	for (; left >= 8; left -= 8, in += 8)
		sip_compress(&s, load_le64(in));

	/* The final word: the 0..7 remaining bytes, and the length mod 256 in
	 * the top byte. */
	last = (uint64_t)(n & 0xff) << 56;
	for (size_t i = 0; i < left; i++)
		last |= (uint64_t)in[i] << (8 * i);
	sip_compress(&s, last);

	s.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&s);

	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
