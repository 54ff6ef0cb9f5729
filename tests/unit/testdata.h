/* Deterministic test data: the same (kind, seed) always yields the same byte
 * stream, and every byte depends only on (kind, seed, offset), so a stream
 * may be produced in one call or in pieces with identical results. The
 * chunker vectors in tests/data/ were made from these streams by Debian's
 * casync: changing the generator invalidates them (rerun
 * tests/data/make-chunker-vectors.sh). */
#ifndef STASYNC_TESTS_TESTDATA_H
#define STASYNC_TESTS_TESTDATA_H

#include <stddef.h>
#include <stdint.h>

enum testdata_kind {
	TESTDATA_RANDOM, /* uniformly random bytes */
	TESTDATA_ZERO,   /* all zero */
	TESTDATA_MIXED,  /* disk-image-like: random, zero, repeated, text runs */
};

/* testdata_fill() — bytes [0, n) of the stream into buf. */
void testdata_fill(void *buf, size_t n, uint64_t seed, enum testdata_kind kind);

/* testdata_fill_at() — bytes [off, off + n) of the stream into buf. For
 * TESTDATA_MIXED the cost includes a walk over the segments before off. */
void testdata_fill_at(void *buf, uint64_t off, size_t n, uint64_t seed,
		      enum testdata_kind kind);

/* testdata_kind_parse() — "random", "zero", "mixed". Returns 0 or -EINVAL. */
int testdata_kind_parse(const char *name, enum testdata_kind *ret);
const char *testdata_kind_name(enum testdata_kind kind);

/* testdata_rand() — the splitmix64 step, for tests that need a seeded
 * sequence of their own (random piece sizes and the like). */
uint64_t testdata_rand(uint64_t *state);

/* ---- tests/data/chunker-vectors.txt ----------------------------------------
 * One case: the data (kind, seed, size), the --chunk-size setting given to
 * casync ("-" for none), the sizes casync wrote into the index, the digest
 * type and the blob digest `casync make` printed, and the chunk end offsets. */
struct testdata_vector {
	enum testdata_kind kind;
	uint64_t seed, size;
	char setting[64];
	uint64_t min, avg, max;
	char digest_type[16];
	char digest[65];
	size_t n_cuts;
	uint64_t *cuts;
};

/* testdata_vectors_load() — parse the vector file. Returns 0, -errno when
 * it cannot be read, -EBADMSG when it is malformed (a message on stderr). */
int testdata_vectors_load(const char *path, struct testdata_vector **ret, size_t *n_ret);
void testdata_vectors_free(struct testdata_vector *v, size_t n);

#endif
