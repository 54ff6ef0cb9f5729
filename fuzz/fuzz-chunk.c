/* fuzz-chunk — decoding stored chunks (stasync_chunk_decode()).
 *
 * Input: byte 0 picks the mode, bytes 1–3 the size the index declares
 * (little-endian, taken modulo 1 MiB + 1), the rest is the chunk.
 *   bit 0  compressed (detect by magic) rather than taken as it is
 *   bit 1  SHA-256 ids rather than SHA-512/256
 *   bit 2  round trip: the rest is chunk content; compress it with zstd
 *          (level from bits 3–5), or with xz (bit 6; preset from bits 3–5
 *          modulo 2, kept low for speed) or gzip (bit 7; level from bits
 *          3–5), decode it and require the same bytes
 *
 * In the default mode the chunk is decoded against a made-up id. When
 * that fails only because the content does not match the id, the output
 * holds the whole inflated chunk: decoding again against its real digest
 * must then succeed, and with any other declared size must fail. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <stasync/store.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 4
#define SIZE_LIMIT ((size_t)1 << 20)
#define WHAT "fuzz chunk"

static stasync_codec *codec(void)
{
	static stasync_codec *c;

	if (!c && stasync_codec_new(&c) < 0)
		abort();
	return c;
}

static void check_error(int r, const stasync_error *err)
{
	if (r != -EBADMSG || err->code != r || !strstr(err->message, WHAT))
		abort();
}

enum packer { PACK_ZSTD, PACK_XZ, PACK_GZIP };

/* Compress p[0..n) into z (bound bytes); the number of bytes written. */
static size_t pack(enum packer k, int level, const uint8_t *p, size_t n, uint8_t *z, size_t bound)
{
	size_t zn = 0;
	z_stream g = { 0 };

	switch (k) {
	case PACK_XZ:
		if (lzma_easy_buffer_encode((uint32_t)(level & 1), LZMA_CHECK_CRC64, NULL, p, n, z,
					    &zn, bound) != LZMA_OK)
			abort();
		return zn;
	case PACK_GZIP:
		if (deflateInit2(&g, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		g.next_in = (Bytef *)p;
		g.avail_in = (uInt)n;
		g.next_out = z;
		g.avail_out = (uInt)bound;
		if (deflate(&g, Z_FINISH) != Z_STREAM_END)
			abort();
		zn = g.total_out;
		deflateEnd(&g);
		return zn;
	default:
		zn = ZSTD_compress(z, bound, p, n, level);
		if (ZSTD_isError(zn))
			abort();
		return zn;
	}
}

static void round_trip(const uint8_t *p, size_t n, stasync_digest_type type, enum packer k,
		       int level)
{
	size_t bound = ZSTD_compressBound(n) + lzma_stream_buffer_bound(n) + compressBound(n) + 64;
	size_t zn;
	uint8_t *z = malloc(bound), *out = malloc(n + 1);
	stasync_chunk_id id;
	stasync_error err = { 0, "" };
	int r;

	if (!z || !out)
		abort();
	zn = pack(k, level, p, n, z, bound);
	stasync_digest_buffer(type, p, n, &id);

	r = stasync_chunk_decode(codec(), z, zn, true, &id, type, out, n, WHAT, &err);
	if (r != 0 || memcmp(out, p, n) != 0)
		abort();
	r = stasync_chunk_decode(codec(), p, n, false, &id, type, out, n, WHAT, &err);
	if (r != 0 || memcmp(out, p, n) != 0)
		abort();
	/* One byte more or less than the index declares is corrupt. */
	r = stasync_chunk_decode(codec(), z, zn, true, &id, type, out, n + 1, WHAT, &err);
	if (r != -EBADMSG)
		abort();
	if (n > 0) {
		r = stasync_chunk_decode(codec(), z, zn, true, &id, type, out, n - 1, WHAT, &err);
		if (r != -EBADMSG)
			abort();
	}
	free(z);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stasync_error err = { 0, "" };
	stasync_digest_type type;
	stasync_chunk_id id;
	bool compressed;
	size_t want;
	uint8_t *out;
	int r;

	if (size < HEADER)
		return 0;
	compressed = data[0] & 1;
	type = (data[0] & 2) ? STASYNC_DIGEST_SHA256 : STASYNC_DIGEST_SHA512_256;
	if (data[0] & 4) {
		enum packer k = (data[0] & 0x40) ? PACK_XZ : (data[0] & 0x80) ? PACK_GZIP : PACK_ZSTD;

		round_trip(data + HEADER, size - HEADER, type, k, 1 + ((data[0] >> 3) & 7));
		return 0;
	}
	want = ((size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16) % (SIZE_LIMIT + 1);
	data += HEADER;
	size -= HEADER;

	/* Exactly `want` bytes, so ASan sees any write past the end. */
	out = malloc(want ? want : 1);
	if (!out)
		abort();
	memset(&id, 0x5a, sizeof(id));
	r = stasync_chunk_decode(codec(), data, size, compressed, &id, type, out, want, WHAT, &err);
	if (r == 0)
		abort(); /* a chunk that hashes to 5a5a…: not in this universe */
	check_error(r, &err);
	if (strstr(err.message, "does not match")) {
		stasync_digest_buffer(type, out, want, &id);
		r = stasync_chunk_decode(codec(), data, size, compressed, &id, type, out, want,
					 WHAT, &err);
		if (r != 0)
			abort();
		/* The same bytes against a different declared size: refused. */
		if (want > 0) {
			r = stasync_chunk_decode(codec(), data, size, compressed, &id, type, out,
						 want - 1, WHAT, &err);
			if (r != -EBADMSG)
				abort();
		}
	}
	free(out);
	return 0;
}
