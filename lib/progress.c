/* Reading the progress counters another thread advances. */
#include <stasync/progress.h>

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

void stasync_progress_snapshot(const stasync_progress *p, stasync_progress *ret)
{
	ret->bytes_total = load(&p->bytes_total);
	ret->bytes = load(&p->bytes);
	ret->chunks = load(&p->chunks);
	ret->chunks_new = load(&p->chunks_new);
	ret->chunks_cached = load(&p->chunks_cached);
	ret->chunks_seeded = load(&p->chunks_seeded);
}
