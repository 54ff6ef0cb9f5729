/* A ring of bytes that chunks under way take in turn and give back in the
 * same order: the memory is what they hold, not a largest chunk's room for
 * each. The chunk writer's and the chunk reader's. */
#ifndef STASYNC_LIB_BYTE_RING_H
#define STASYNC_LIB_BYTE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sta_byte_ring_room() — where n more bytes fit, contiguous, in a ring of
 * `size` bytes whose chunks under way hold [first, tail), wrapping (none
 * when `empty`), or SIZE_MAX when they do not fit until some go. n is at
 * most size. */
static inline size_t sta_byte_ring_room(size_t size, bool empty, size_t first, size_t tail,
					size_t n)
{
	if (empty)
		return 0;
	if (tail > first) {
		if (tail + n <= size)
			return tail;
		/* no room at the end: from the start, up to the first */
		return n <= first ? 0 : SIZE_MAX;
	}
	/* wrapped: room from tail to first (none when they meet) */
	return tail + n <= first ? tail : SIZE_MAX;
}

#endif
