/* GOODBYE tables: the per-directory search table that ends every directory
 * in a catar archive. */
#ifndef STASYNC_LIB_GOODBYE_H
#define STASYNC_LIB_GOODBYE_H

#include <stddef.h>
#include <stdint.h>

struct sta_goodbye_item {
	uint64_t start;   /* archive offset of the child's FILENAME record */
	uint64_t end;     /* archive offset just past the child's last byte */
	uint64_t hash;    /* sta_goodbye_hash() of the child's name */
};

/* sta_goodbye_hash() — SipHash-2-4 with casync's key over the name bytes
 * (no NUL). */
uint64_t sta_goodbye_hash(const char *name, size_t len);

/* sta_goodbye_size() — the whole GOODBYE record's size for n children:
 * 16 + 24·n + 24. */
static inline uint64_t sta_goodbye_size(size_t n)
{
	return 16 + 24 * (uint64_t)n + 24;
}

/* sta_goodbye_serialize() — write the complete GOODBYE record for n
 * children into out (sta_goodbye_size(n) bytes), laid out exactly as
 * casync does: items sorted and arranged as a search tree, offsets made
 * relative to goodbye_start, the tail pointing back to entry_start (the
 * directory's ENTRY record). `items` is left in the order written.
 * Returns 0, or -EINVAL when a child does not lie within
 * (entry_start, goodbye_start]. */
int sta_goodbye_serialize(struct sta_goodbye_item *items, size_t n, uint64_t goodbye_start,
			  uint64_t entry_start, uint8_t *out);

#endif
