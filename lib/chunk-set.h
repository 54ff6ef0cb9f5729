/* What the library keeps beside each member of a stasync_chunk_set. */
#ifndef STASYNC_LIB_CHUNK_SET_H
#define STASYNC_LIB_CHUNK_SET_H

#include <stasync/maint.h>

/* add with a value of the library's own; 1 when added, 0 when there, -ENOMEM */
int sta_chunk_set_put(stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t size,
		      uint64_t value);
/* a member's size and value; false when not a member */
bool sta_chunk_set_get(const stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t *size,
		       uint64_t *value);

#endif
