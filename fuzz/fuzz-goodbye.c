/* fuzz-goodbye — GOODBYE tables: sta_goodbye_serialize() and
 * sta_goodbye_hash().
 *
 * The library builds tables (the encoder) and checks them by rebuilding
 * (the decoder); it has no lookup of its own. So this harness builds a
 * table from arbitrary children and looks every child up in it the way a
 * reader of the format does, a binary search tree descent by hash:
 *   - -EINVAL exactly when some child lies outside (entry, goodbye];
 *   - the header, tail and size are right, and `items` comes back in the
 *     order written;
 *   - the table holds exactly the children given (as a multiset);
 *   - positions visited in order are sorted by (hash, start);
 *   - a lookup finds every child with the hash asked for, and only them;
 *     a hash no child has finds nothing.
 *
 * Input: byte 0 the mode, then entry_start and goodbye_start (8 bytes
 * each, little-endian), then 24 bytes per child (at most 512).
 *   bit 0     children placed inside (entry, goodbye] (start, length and
 *             the goodbye offset are taken modulo 2^32 from the bytes)
 *   bits 1–2  hashes: 0 as given, 1 only four values (many equal hashes),
 *             2 sta_goodbye_hash() of the child's 24 bytes cut to a length
 *             from the first byte */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "goodbye.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 17
#define MAX_ITEMS 512

static int cmp_full(const void *a, const void *b)
{
	const struct sta_goodbye_item *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

static uint64_t item_hash(const uint8_t *rec, size_t i)
{
	return le64_get(rec + CA_FORMAT_HEADER_SIZE + i * CA_FORMAT_GOODBYE_ITEM_SIZE + 16);
}

/* Visit positions in order (left, node, right); each must not sort
 * before the previous one. */
static void check_order(const uint8_t *rec, size_t n, size_t pos, uint64_t goodbye_start,
			bool *have_prev, uint64_t *prev_hash, uint64_t *prev_start)
{
	const uint8_t *p;
	uint64_t h, start;

	if (pos >= n)
		return;
	check_order(rec, n, 2 * pos + 1, goodbye_start, have_prev, prev_hash, prev_start);
	p = rec + CA_FORMAT_HEADER_SIZE + pos * CA_FORMAT_GOODBYE_ITEM_SIZE;
	h = le64_get(p + 16);
	start = goodbye_start - le64_get(p);
	if (*have_prev && (h < *prev_hash || (h == *prev_hash && start < *prev_start)))
		abort();
	*have_prev = true;
	*prev_hash = h;
	*prev_start = start;
	check_order(rec, n, 2 * pos + 2, goodbye_start, have_prev, prev_hash, prev_start);
}

/* The reader's lookup: descend by hash; equal hashes may sit on both
 * sides of a match. Found positions go to found[]. */
static void lookup(const uint8_t *rec, size_t n, size_t pos, uint64_t h, size_t *found,
		   size_t *n_found, unsigned *steps)
{
	uint64_t here;

	if (pos >= n)
		return;
	if (++*steps > 4 * MAX_ITEMS)
		abort();
	here = item_hash(rec, pos);
	if (h < here) {
		lookup(rec, n, 2 * pos + 1, h, found, n_found, steps);
	} else if (h > here) {
		lookup(rec, n, 2 * pos + 2, h, found, n_found, steps);
	} else {
		found[(*n_found)++] = pos;
		lookup(rec, n, 2 * pos + 1, h, found, n_found, steps);
		lookup(rec, n, 2 * pos + 2, h, found, n_found, steps);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sta_goodbye_item in[MAX_ITEMS], items[MAX_ITEMS], back[MAX_ITEMS];
	static size_t found[MAX_ITEMS];
	uint64_t entry_start, goodbye_start, last_end;
	uint8_t mode, *rec;
	size_t n, rec_size;
	const uint8_t *tail;
	bool inside, outside, have_prev = false;
	uint64_t prev_hash = 0, prev_start = 0;
	int r;

	if (size < HEADER)
		return 0;
	mode = data[0];
	inside = mode & 1;
	entry_start = le64_get(data + 1);
	goodbye_start = le64_get(data + 9);
	n = (size - HEADER) / CA_FORMAT_GOODBYE_ITEM_SIZE;
	if (n > MAX_ITEMS)
		n = MAX_ITEMS;
	if (inside)
		entry_start &= UINT64_C(0xffffffffffff);
	last_end = entry_start + 1;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = data + HEADER + i * CA_FORMAT_GOODBYE_ITEM_SIZE;
		struct sta_goodbye_item *it = &in[i];

		it->start = le64_get(p);
		it->end = le64_get(p + 8);
		it->hash = le64_get(p + 16);
		if (inside) {
			it->start = entry_start + 1 + (it->start & 0xffffffff);
			it->end = it->start + 1 + (it->end & 0xffffffff);
			if (it->end > last_end)
				last_end = it->end;
		}
		switch ((mode >> 1) & 3) {
		case 1:
			it->hash &= 3;
			break;
		case 2:
			it->hash = sta_goodbye_hash((const char *)p, p[0] % (CA_FORMAT_GOODBYE_ITEM_SIZE + 1));
			break;
		}
	}
	if (inside)
		goodbye_start = last_end + (goodbye_start & 0xffffffff);

	rec_size = (size_t)sta_goodbye_size(n);
	rec = malloc(rec_size);
	if (!rec)
		abort();
	memcpy(items, in, n * sizeof(*in));
	r = sta_goodbye_serialize(items, n, goodbye_start, entry_start, rec);

	outside = entry_start >= goodbye_start;
	for (size_t i = 0; i < n; i++)
		if (in[i].start <= entry_start || in[i].start >= in[i].end ||
		    in[i].end > goodbye_start)
			outside = true;
	if (r == -EINVAL) {
		if (!outside || inside)
			abort();
		free(rec);
		return 0;
	}
	if (r != 0 || outside)
		abort();

	/* Header and tail. */
	if (le64_get(rec) != rec_size || le64_get(rec + 8) != CA_FORMAT_GOODBYE)
		abort();
	tail = rec + rec_size - CA_FORMAT_GOODBYE_ITEM_SIZE;
	if (le64_get(tail) != goodbye_start - entry_start || le64_get(tail + 8) != rec_size ||
	    le64_get(tail + 16) != CA_FORMAT_GOODBYE_TAIL_MARKER)
		abort();

	/* items[] is what was written, position by position. */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = rec + CA_FORMAT_HEADER_SIZE + i * CA_FORMAT_GOODBYE_ITEM_SIZE;

		if (items[i].start != goodbye_start - le64_get(p) ||
		    items[i].end - items[i].start != le64_get(p + 8) || items[i].hash != le64_get(p + 16))
			abort();
	}

	/* The same children, no more, no fewer. */
	memcpy(back, items, n * sizeof(*items));
	qsort(back, n, sizeof(*back), cmp_full);
	memcpy(items, in, n * sizeof(*in));
	qsort(items, n, sizeof(*items), cmp_full);
	if (n && memcmp(back, items, n * sizeof(*items)) != 0)
		abort();

	check_order(rec, n, 0, goodbye_start, &have_prev, &prev_hash, &prev_start);

	/* Every child is found by its hash, with exactly its fellows. */
	for (size_t i = 0; i < n; i++) {
		size_t n_found = 0, want = 0;
		unsigned steps = 0;

		lookup(rec, n, 0, in[i].hash, found, &n_found, &steps);
		for (size_t j = 0; j < n; j++)
			want += in[j].hash == in[i].hash;
		if (n_found != want)
			abort();
		for (size_t k = 0; k < n_found; k++) {
			const uint8_t *p = rec + CA_FORMAT_HEADER_SIZE +
					   found[k] * CA_FORMAT_GOODBYE_ITEM_SIZE;
			struct sta_goodbye_item it = {
				.start = goodbye_start - le64_get(p),
				.hash = le64_get(p + 16),
			};

			/* items[] holds the children sorted. */
			it.end = it.start + le64_get(p + 8);
			if (!bsearch(&it, items, n, sizeof(*items), cmp_full) || it.hash != in[i].hash)
				abort();
		}
	}
	/* A hash next to a child's, not held by any: nothing found. */
	if (n) {
		uint64_t h = in[0].hash + 1;
		size_t n_found = 0;
		unsigned steps = 0;
		bool held = false;

		for (size_t j = 0; j < n; j++)
			held |= in[j].hash == h;
		lookup(rec, n, 0, h, found, &n_found, &steps);
		if (!held && n_found)
			abort();
	}
	free(rec);
	return 0;
}
