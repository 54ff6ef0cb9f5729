/* fuzz-chunk-size — the --chunk-size parser and the chunker it configures.
 *
 * The input up to its first NUL is the --chunk-size text; the bytes after
 * the NUL (if any) seed the generated data and how it is fed. When the text
 * parses, the sizes must be complete and within casync's rules, and
 * chunking a generated buffer must give cuts that
 *   - are never longer than max,
 *   - are never shorter than max(min, 48) — the window must fill before
 *     the first test — except the final piece at the end of the data,
 *   - are exactly max when min = avg = max (fixed size),
 *   - do not depend on how the data is split into scan() calls. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/chunker.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DATA_MAX ((size_t)192 * 1024)
#define MAX_CUTS (DATA_MAX + 128)

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Data with random runs, zero runs (a constant hash: only max cuts) and
 * short repeating patterns. */
static void generate(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	size_t i = 0;

	while (i < n) {
		uint64_t r = splitmix(&s);
		size_t run = 1 + (size_t)(r >> 8) % 20000;

		if (run > n - i)
			run = n - i;
		switch (r & 3) {
		case 0:
			memset(p + i, 0, run);
			break;
		case 1:
			for (size_t j = 0; j < run; j++)
				p[i + j] = (uint8_t)"abcabd"[j % 6];
			break;
		default:
			for (size_t j = 0; j < run; j += 8) {
				uint64_t v = splitmix(&s);
				size_t k = run - j < 8 ? run - j : 8;

				memcpy(p + i + j, &v, k);
			}
		}
		i += run;
	}
}

/* Chunk p[0..n) and collect the chunk ends. pieces: split the calls at
 * random points (seeded by seed), else one call. */
static size_t chunk(const stasync_chunk_sizes *s, const uint8_t *p, size_t n, bool pieces,
		    uint64_t seed, size_t *cuts)
{
	stasync_chunker c;
	uint64_t rng = seed;
	size_t off = 0, n_cuts = 0;

	if (stasync_chunker_init(&c, s) != 0)
		abort();
	while (off < n) {
		size_t len = n - off, pos = 0;

		if (pieces) {
			uint64_t r = splitmix(&rng);

			len = (r & 7) == 0 ? 0 : 1 + (size_t)(r >> 8) % 3000;
			if (len > n - off)
				len = n - off;
		}
		while (pos < len) {
			size_t k = stasync_chunker_scan(&c, p + off + pos, len - pos);

			if (k == SIZE_MAX)
				break;
			if (k == 0 || k > len - pos)
				abort();
			pos += k;
			cuts[n_cuts++] = off + pos;
		}
		off += len;
	}
	if (n_cuts == 0 || cuts[n_cuts - 1] != n)
		cuts[n_cuts++] = n;
	return n_cuts;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static size_t cuts_a[MAX_CUTS], cuts_b[MAX_CUTS];
	stasync_chunk_sizes s;
	const uint8_t *nul;
	char *text;
	uint64_t seed = 0;
	size_t n_text, n, na, nb, least, prev;
	bool fixed;
	uint8_t *buf;

	nul = memchr(data, 0, size);
	n_text = nul ? (size_t)(nul - data) : size;
	text = malloc(n_text + 1);
	if (!text)
		abort();
	memcpy(text, data, n_text);
	text[n_text] = 0;
	memset(&s, 0x77, sizeof(s));
	if (stasync_chunk_sizes_parse(text, &s) != 0) {
		free(text);
		return 0;
	}
	free(text);

	fixed = s.min == s.avg && s.avg == s.max;
	if (s.min < STASYNC_CHUNK_SIZE_LIMIT_MIN || s.min > s.avg || s.avg > s.max ||
	    s.max > STASYNC_CHUNK_SIZE_LIMIT_MAX || (s.max < STASYNC_CHUNKER_WINDOW && !fixed))
		abort();

	for (size_t i = n_text + 1; i < size; i++)
		seed = seed * 131 + data[i];
	n = (size_t)(seed % DATA_MAX);
	/* Big enough to hold a few chunks where the sizes are small. */
	if (s.max < DATA_MAX / 4 && n < 4 * s.max)
		n = 4 * s.max + (size_t)(seed % 64);
	buf = malloc(n ? n : 1);
	if (!buf)
		abort();
	generate(buf, n, seed);

	na = chunk(&s, buf, n, false, seed, cuts_a);
	nb = chunk(&s, buf, n, true, seed, cuts_b);
	if (na != nb || memcmp(cuts_a, cuts_b, na * sizeof(*cuts_a)) != 0)
		abort();

	least = s.min > STASYNC_CHUNKER_WINDOW ? s.min : STASYNC_CHUNKER_WINDOW;
	prev = 0;
	for (size_t i = 0; i < na; i++) {
		size_t len = cuts_a[i] - prev;
		bool last = i == na - 1;

		if (cuts_a[i] <= prev && n > 0)
			abort();
		if (len > s.max)
			abort();
		if (!last && (fixed ? len != s.max : len < least))
			abort();
		prev = cuts_a[i];
	}
	if (prev != n)
		abort();
	free(buf);
	return 0;
}
