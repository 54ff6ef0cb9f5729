/* sta_byte_ring_room(), where the next chunk goes in a ring of bytes that
 * chunks under way take and give back in order: after the last one while
 * it fits before the end, else from the start up to the first one under
 * way, and nowhere when neither has room. */
#include <stdint.h>

#include "byte-ring.h"
#include "tap.h"

static void room(size_t first, size_t tail, size_t n, size_t want, const char *what)
{
	size_t got = sta_byte_ring_room(100, false, first, tail, n);

	tap_ok(got == want, "ring of 100, under way [%zu, %zu), %zu more: %s (got %lld)", first,
	       tail, n, what, got == SIZE_MAX ? -1LL : (long long)got);
}

int main(void)
{
	tap_ok(sta_byte_ring_room(100, true, 40, 70, 100) == 0,
	       "nothing under way: the whole ring, from its start");
	room(0, 10, 50, 10, "after the last");
	room(0, 10, 90, 10, "up to the end exactly");
	room(0, 10, 91, SIZE_MAX, "no room at the end, none before the first");
	room(60, 90, 20, 0, "no room at the end: from the start");
	room(60, 90, 60, 0, "from the start up to the first exactly");
	room(60, 90, 61, SIZE_MAX, "no room at either end");
	room(60, 30, 30, 30, "wrapped: from the last up to the first");
	room(60, 30, 31, SIZE_MAX, "wrapped: not enough before the first");
	room(60, 60, 1, SIZE_MAX, "wrapped and full");
	room(0, 100, 1, SIZE_MAX, "full from the start to the end");
	return tap_done();
}
