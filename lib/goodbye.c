/* GOODBYE tables: the search table that ends every directory in a catar.
 *
 * Layout (checked byte for byte against casync 2 by tests/unit/test-goodbye.c):
 * the 16-byte header, then one 24-byte item (offset, size, hash) per child,
 * then a 24-byte tail (entry offset, record size, GOODBYE_TAIL_MARKER).
 * The items are sorted by (hash, absolute start of the FILENAME record),
 * both ascending — so between equal hashes the larger relative offset comes
 * first — and then stored as a complete binary search tree in level order:
 * the children of item i are items 2i+1 and 2i+2, and the bottom level is
 * filled from the left. Such a tree is exactly the array positions 0..n-1
 * visited in order (left subtree, node, right subtree), so the k-th sorted
 * item goes to the k-th position of that in-order walk. */
#include <errno.h>
#include <stdlib.h>

#include "format.h"
#include "goodbye.h"
#include "siphash.h"
#include "util.h"

static const uint8_t goodbye_hash_key[16] = {
	0xb3, 0x84, 0x1d, 0x0f, 0x2b, 0x44, 0x74, 0x85,
	0xc1, 0x2e, 0xc2, 0xd1, 0x30, 0xed, 0x36, 0x27,
};

uint64_t sta_goodbye_hash(const char *name, size_t len)
{
	return sta_siphash24(name, len, goodbye_hash_key);
}

static int goodbye_item_compare(const void *a, const void *b)
{
	const struct sta_goodbye_item *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static void goodbye_put_item(uint8_t *out, size_t pos, const struct sta_goodbye_item *it,
			     uint64_t goodbye_start)
{
	uint8_t *p = out + CA_FORMAT_HEADER_SIZE + pos * CA_FORMAT_GOODBYE_ITEM_SIZE;

	le64_put(p, goodbye_start - it->start);
	le64_put(p + 8, it->end - it->start);
	le64_put(p + 16, it->hash);
}

/* Place sorted[*next…] at the positions of the subtree rooted at pos, in
 * order. The depth is log2(n). */
static void goodbye_place(const struct sta_goodbye_item *sorted, size_t n, size_t pos,
			  size_t *next, uint8_t *out, uint64_t goodbye_start)
{
	if (pos >= n)
		return;
	goodbye_place(sorted, n, 2 * pos + 1, next, out, goodbye_start);
	goodbye_put_item(out, pos, &sorted[(*next)++], goodbye_start);
	goodbye_place(sorted, n, 2 * pos + 2, next, out, goodbye_start);
}

int sta_goodbye_serialize(struct sta_goodbye_item *items, size_t n, uint64_t goodbye_start,
			  uint64_t entry_start, uint8_t *out)
{
	uint64_t size = sta_goodbye_size(n);
	uint8_t *tail;
	size_t next = 0;

	/* Every child lies between the directory's ENTRY and its GOODBYE. */
	if (entry_start >= goodbye_start)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (items[i].start <= entry_start || items[i].start >= items[i].end ||
		    items[i].end > goodbye_start)
			return -EINVAL;

	if (n > 1)
		sta_qsort(items, n, sizeof(*items), goodbye_item_compare);

	le64_put(out, size);
	le64_put(out + 8, CA_FORMAT_GOODBYE);
	goodbye_place(items, n, 0, &next, out, goodbye_start);

	tail = out + CA_FORMAT_HEADER_SIZE + n * CA_FORMAT_GOODBYE_ITEM_SIZE;
	le64_put(tail, goodbye_start - entry_start);
	le64_put(tail + 8, size);
	le64_put(tail + 16, CA_FORMAT_GOODBYE_TAIL_MARKER);

	/* Leave items in the order they were written, read back from out. */
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = out + CA_FORMAT_HEADER_SIZE + i * CA_FORMAT_GOODBYE_ITEM_SIZE;

		items[i].start = goodbye_start - le64_get(p);
		items[i].end = items[i].start + le64_get(p + 8);
		items[i].hash = le64_get(p + 16);
	}
	return 0;
}
