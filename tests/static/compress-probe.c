/* compress-probe — xz and gzip through the static liblzma and zlib alone, with
 * casync's settings: the libraries checked apart from stasync's own code.
 *
 *   compress-probe xz|gzip|unxz|gunzip <IN >OUT
 *   compress-probe --versions
 *
 * xz: lzma_easy_encoder(), preset 6, CRC64 check (casync's --compression=xz);
 * gzip: deflateInit2(), default level, window bits 15 + 16 (gzip wrapper),
 * memory level 8, default strategy (casync's --compression=gzip). The whole
 * input is read first and coded at once. --versions prints
 * "liblzma VERSION zlib VERSION". Exits 0, or 1 with a message. Built by
 * tests/static/t0005-compress.sh against the cached prefix of
 * scripts/build-static.sh. */
#include <lzma.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int code)
{
	fprintf(stderr, "compress-probe: %s failed (%d)\n", what, code);
	return 1;
}

int main(int argc, char **argv)
{
	size_t cap = 1 << 20, n = 0, r, ocap, olen;
	unsigned char *in, *out;
	const char *op = argc == 2 ? argv[1] : "";
	int ret, enc, xz;

	if (strcmp(op, "--versions") == 0) {
		printf("liblzma %s zlib %s\n", lzma_version_string(), zlibVersion());
		return 0;
	}
	if (strcmp(op, "xz") != 0 && strcmp(op, "gzip") != 0 && strcmp(op, "unxz") != 0 &&
	    strcmp(op, "gunzip") != 0) {
		fprintf(stderr, "usage: compress-probe xz|gzip|unxz|gunzip <IN >OUT | --versions\n");
		return 2;
	}
	enc = strcmp(op, "xz") == 0 || strcmp(op, "gzip") == 0;
	xz = strstr(op, "xz") != NULL;
	if (!(in = malloc(cap)))
		return fail("malloc", 0);
	while ((r = fread(in + n, 1, cap - n, stdin)) > 0)
		if ((n += r) == cap && !(in = realloc(in, cap *= 2)))
			return fail("realloc", 0);
	ocap = n + n / 2 + 65536; /* grown while decompressing */
	if (!(out = malloc(ocap)))
		return fail("malloc", 0);

	if (xz) {
		lzma_stream s = LZMA_STREAM_INIT;
		ret = enc ? lzma_easy_encoder(&s, 6, LZMA_CHECK_CRC64)
				   : lzma_stream_decoder(&s, UINT64_MAX, 0);
		if (ret != LZMA_OK)
			return fail("lzma init", ret);
		s.next_in = in, s.avail_in = n, s.next_out = out, s.avail_out = ocap;
		while ((ret = lzma_code(&s, LZMA_FINISH)) == LZMA_OK)
			if (s.avail_out == 0) {
				if (!(out = realloc(out, ocap * 2)))
					return fail("realloc", 0);
				s.next_out = out + ocap, s.avail_out = ocap, ocap *= 2;
			}
		if (ret != LZMA_STREAM_END)
			return fail("lzma_code", ret);
		olen = s.total_out;
		lzma_end(&s);
	} else {
		z_stream s;
		memset(&s, 0, sizeof(s));
		ret = enc ? deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
						  Z_DEFAULT_STRATEGY)
				   : inflateInit2(&s, 15 + 16);
		if (ret != Z_OK)
			return fail("zlib init", ret);
		s.next_in = in, s.avail_in = n, s.next_out = out, s.avail_out = ocap;
		for (;;) {
			ret = enc ? deflate(&s, Z_FINISH) : inflate(&s, Z_FINISH);
			if (ret == Z_STREAM_END || (ret != Z_OK && ret != Z_BUF_ERROR) || s.avail_out != 0)
				break;
			if (!(out = realloc(out, ocap * 2)))
				return fail("realloc", 0);
			s.next_out = out + ocap, s.avail_out = ocap, ocap *= 2;
		}
		if (ret != Z_STREAM_END)
			return fail(enc ? "deflate" : "inflate", ret);
		olen = s.total_out;
		if (enc)
			deflateEnd(&s);
		else
			inflateEnd(&s);
	}
	if (fwrite(out, 1, olen, stdout) != olen || fflush(stdout) != 0)
		return fail("write", 0);
	free(in);
	free(out);
	return 0;
}
