/* gen-testdata KIND SEED SIZE — write a deterministic test stream to stdout.
 * KIND is random, zero or mixed; SEED a number (0x… allowed); SIZE bytes,
 * optionally with a K/M/G suffix (powers of 1024). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdata.h"

#define BLOCK ((size_t)1 << 20)

static int parse_u64(const char *s, uint64_t *ret, int allow_suffix)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, allow_suffix ? 10 : 0);
	if (errno != 0)
		return -EINVAL;
	if (allow_suffix && *end) {
		unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;

		if (!shift || end[1] || v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
		end++;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum testdata_kind kind;
	uint64_t seed, size, off;
	uint8_t *buf;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: %s random|zero|mixed SEED SIZE\n", argv[0]);
		return 2;
	}
	if (testdata_kind_parse(argv[1], &kind) < 0) {
		fprintf(stderr, "%s: unknown kind '%s' (random, zero or mixed)\n", argv[0], argv[1]);
		return 2;
	}
	if (parse_u64(argv[2], &seed, 0) < 0) {
		fprintf(stderr, "%s: bad seed '%s'\n", argv[0], argv[2]);
		return 2;
	}
	if (parse_u64(argv[3], &size, 1) < 0) {
		fprintf(stderr, "%s: bad size '%s'\n", argv[0], argv[3]);
		return 2;
	}

	buf = malloc(BLOCK);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	/* In blocks, which also exercises testdata_fill_at()'s promise that
	 * pieces give the same stream as one call (test-chunker uses one). */
	for (off = 0; off < size; off += BLOCK) {
		size_t n = size - off < BLOCK ? (size_t)(size - off) : BLOCK;

		testdata_fill_at(buf, off, n, seed, kind);
		r = write_all(STDOUT_FILENO, buf, n);
		if (r < 0) {
			fprintf(stderr, "%s: write: %s\n", argv[0], strerror(-r));
			free(buf);
			return 1;
		}
	}
	free(buf);
	return 0;
}
