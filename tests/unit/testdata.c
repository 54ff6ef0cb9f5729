#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdata.h"

#define GAMMA UINT64_C(0x9e3779b97f4a7c15)

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t testdata_rand(uint64_t *state)
{
	*state += GAMMA;
	return mix64(*state);
}

/* Word i of the splitmix64 sequence started at key, computed directly so
 * that any offset can be produced without generating what precedes it. */
static uint64_t rand_word(uint64_t key, uint64_t i)
{
	return mix64(key + (i + 1) * GAMMA);
}

/* Bytes [off, off + n) of the random stream `key`, little-endian words. */
static void rand_fill(uint64_t key, uint64_t off, uint8_t *out, size_t n)
{
	while (n > 0) {
		uint64_t v = rand_word(key, off / 8);
		unsigned b;

		for (b = off % 8; b < 8 && n > 0; b++, n--, off++)
			*out++ = (uint8_t)(v >> (8 * b));
	}
}

/* ---- The mixed stream -------------------------------------------------------
 * A sequence of segments whose type and length come from a PRNG seeded by
 * (seed, segment number). Copies refer back to one of the last few random
 * segments, which the walk from offset 0 remembers; that is why
 * testdata_fill_at() always walks from the start. */

enum seg_type {
	SEG_RANDOM,
	SEG_ZERO,
	SEG_COPY,
	SEG_TEXT,
	SEG_SPARSE,
};

struct seg {
	enum seg_type type;
	uint64_t len;
	uint64_t key;   /* random stream of SEG_RANDOM, SEG_COPY, SEG_SPARSE */
	const char *text;
	size_t text_len;
};

#define RECENT 8

struct walk {
	uint64_t base;
	uint64_t next;             /* number of the next segment */
	struct seg recent[RECENT]; /* the last random segments, for copies */
	unsigned n_recent;
};

static const char *const texts[] = {
	"The quick brown fox jumps over the lazy dog. ",
	"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. ",
	"root:x:0:0:root:/root:/bin/bash\n",
	"\xde\xad\xbe\xef", /* shorter than the chunker window */
	"#!/bin/sh\nexec /sbin/init \"$@\"\n",
};

/* A length 1 … 2^maxbits, roughly log-uniform so short segments (and thus
 * boundaries close together) are common. */
static uint64_t seg_len(uint64_t *s, unsigned minbits, unsigned maxbits)
{
	unsigned bits = minbits + (unsigned)(testdata_rand(s) % (maxbits - minbits + 1));

	return 1 + testdata_rand(s) % ((uint64_t)1 << bits);
}

static void seg_next(struct walk *w, struct seg *g)
{
	uint64_t s = mix64(w->base ^ mix64(w->next + 1));
	unsigned r = (unsigned)(testdata_rand(&s) % 100);

	w->next++;
	memset(g, 0, sizeof(*g));
	g->key = testdata_rand(&s);

	if (r >= 58 && r < 76 && w->n_recent > 0) {
		const struct seg *src = &w->recent[testdata_rand(&s) % w->n_recent];

		/* Mostly whole copies (dedup-able chunks), sometimes a prefix. */
		g->type = SEG_COPY;
		g->key = src->key;
		g->len = src->len;
		if (testdata_rand(&s) % 4 == 0)
			g->len = 1 + testdata_rand(&s) % src->len;
	} else if (r >= 38 && r < 58) {
		g->type = SEG_ZERO;
		if (testdata_rand(&s) % 24 == 0) /* larger than the default max chunk */
			g->len = 256 * 1024 + 1 + testdata_rand(&s) % (768 * 1024);
		else
			g->len = seg_len(&s, 2, 16);
	} else if (r >= 76 && r < 88) {
		unsigned t = (unsigned)(testdata_rand(&s) % (sizeof(texts) / sizeof(texts[0])));

		g->type = SEG_TEXT;
		g->text = texts[t];
		g->text_len = strlen(texts[t]);
		g->len = seg_len(&s, 4, 17);
	} else if (r >= 88) {
		g->type = SEG_SPARSE;
		g->len = seg_len(&s, 4, 16);
	} else {
		/* Random, also the fallback for a copy with nothing to copy. */
		g->type = SEG_RANDOM;
		g->len = seg_len(&s, 2, 18);
		if (w->n_recent < RECENT)
			w->recent[w->n_recent++] = *g;
		else
			w->recent[w->next % RECENT] = *g;
	}
}

/* Bytes [off, off + n) of segment g. */
static void seg_fill(const struct seg *g, uint64_t off, uint8_t *out, size_t n)
{
	size_t i;

	switch (g->type) {
	case SEG_RANDOM:
	case SEG_COPY:
		rand_fill(g->key, off, out, n);
		break;
	case SEG_ZERO:
		memset(out, 0, n);
		break;
	case SEG_TEXT:
		for (i = 0; i < n; i++)
			out[i] = (uint8_t)g->text[(off + i) % g->text_len];
		break;
	case SEG_SPARSE:
		/* About one non-zero byte in 64, like metadata blocks. */
		for (i = 0; i < n; i++) {
			uint64_t v = rand_word(g->key, off + i);

			out[i] = (v >> 58) == 0 ? (uint8_t)(v | 1) : 0;
		}
		break;
	}
}

static void mixed_fill(uint8_t *out, uint64_t off, size_t n, uint64_t seed)
{
	struct walk w = { .base = mix64(seed ^ UINT64_C(0x6d69786564)) };
	uint64_t start = 0, end = off + n;
	struct seg g;

	while (start < end) {
		seg_next(&w, &g);
		if (start + g.len > off) {
			uint64_t from = start > off ? start : off;
			uint64_t to = start + g.len < end ? start + g.len : end;

			seg_fill(&g, from - start, out + (from - off), (size_t)(to - from));
		}
		start += g.len;
	}
}

void testdata_fill_at(void *buf, uint64_t off, size_t n, uint64_t seed,
		      enum testdata_kind kind)
{
	switch (kind) {
	case TESTDATA_RANDOM:
		rand_fill(mix64(seed ^ UINT64_C(0x72616e646f6d)), off, buf, n);
		break;
	case TESTDATA_ZERO:
		memset(buf, 0, n);
		break;
	case TESTDATA_MIXED:
		mixed_fill(buf, off, n, seed);
		break;
	}
}

void testdata_fill(void *buf, size_t n, uint64_t seed, enum testdata_kind kind)
{
	testdata_fill_at(buf, 0, n, seed, kind);
}

static const char *const kind_names[] = {
	[TESTDATA_RANDOM] = "random",
	[TESTDATA_ZERO] = "zero",
	[TESTDATA_MIXED] = "mixed",
};

int testdata_kind_parse(const char *name, enum testdata_kind *ret)
{
	size_t i;

	for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*ret = (enum testdata_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *testdata_kind_name(enum testdata_kind kind)
{
	if ((size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]))
		return kind_names[kind];
	return "?";
}

/* ---- The vector file ------------------------------------------------------- */

/* Next whitespace-separated token, skipping "#" comments to end of line.
 * Returns 1, 0 at EOF, -EBADMSG for an overlong token. */
static int next_token(FILE *f, char *tok, size_t size)
{
	size_t n = 0;
	int c;

	for (;;) {
		c = getc(f);
		if (c == EOF)
			return 0;
		if (c == '#') {
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (!isspace(c))
			break;
	}
	do {
		if (n + 1 >= size)
			return -EBADMSG;
		tok[n++] = (char)c;
	} while ((c = getc(f)) != EOF && !isspace(c));
	tok[n] = 0;
	return 1;
}

static int token_u64(FILE *f, uint64_t *ret)
{
	char tok[32], *end;
	int r;

	r = next_token(f, tok, sizeof(tok));
	if (r <= 0)
		return -EBADMSG;
	if (tok[0] < '0' || tok[0] > '9')
		return -EBADMSG;
	errno = 0;
	*ret = strtoull(tok, &end, 10);
	return errno || *end ? -EBADMSG : 0;
}

static int token_str(FILE *f, char *buf, size_t size)
{
	return next_token(f, buf, size) == 1 ? 0 : -EBADMSG;
}

static int parse_case(FILE *f, struct testdata_vector *v)
{
	char tok[64];
	uint64_t n, i, prev = 0;

	if (token_str(f, tok, sizeof(tok)) < 0 || testdata_kind_parse(tok, &v->kind) < 0 ||
	    token_u64(f, &v->seed) < 0 || token_u64(f, &v->size) < 0 ||
	    token_str(f, v->setting, sizeof(v->setting)) < 0 ||
	    token_u64(f, &v->min) < 0 || token_u64(f, &v->avg) < 0 || token_u64(f, &v->max) < 0 ||
	    token_str(f, v->digest_type, sizeof(v->digest_type)) < 0 ||
	    token_str(f, v->digest, sizeof(v->digest)) < 0 || strlen(v->digest) != 64)
		return -EBADMSG;
	if (token_str(f, tok, sizeof(tok)) < 0 || strcmp(tok, "cuts") != 0 || token_u64(f, &n) < 0)
		return -EBADMSG;
	/* A chunk holds at least one byte, so there are at most size cuts. */
	if (n > v->size)
		return -EBADMSG;
	v->cuts = calloc(n ? n : 1, sizeof(*v->cuts));
	if (!v->cuts)
		return -ENOMEM;
	v->n_cuts = n;
	for (i = 0; i < n; i++) {
		if (token_u64(f, &v->cuts[i]) < 0 || v->cuts[i] <= prev || v->cuts[i] > v->size)
			return -EBADMSG;
		prev = v->cuts[i];
	}
	/* Every byte belongs to a chunk: the last one ends at the end. */
	if (prev != v->size)
		return -EBADMSG;
	return 0;
}

int testdata_vectors_load(const char *path, struct testdata_vector **ret, size_t *n_ret)
{
	struct testdata_vector *v = NULL, *nv;
	size_t n = 0;
	char tok[64];
	FILE *f;
	int r;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	while ((r = next_token(f, tok, sizeof(tok))) == 1) {
		if (strcmp(tok, "case") != 0) {
			r = -EBADMSG;
			break;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		memset(&v[n], 0, sizeof(v[n]));
		r = parse_case(f, &v[n++]);
		if (r < 0)
			break;
	}
	fclose(f);
	if (r < 0) {
		fprintf(stderr, "%s: malformed vector file (case %zu): %s\n", path, n, strerror(-r));
		testdata_vectors_free(v, n);
		return r;
	}
	*ret = v;
	*n_ret = n;
	return 0;
}

void testdata_vectors_free(struct testdata_vector *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].cuts);
	free(v);
}
