/* Fetching one chunk of an index the way every reader does: from the
 * seeds, else the --cache store, else the stores (the chunk then kept in
 * the cache), and counting it in the caller's progress. Shared by the
 * sequential chunk reader and the random-access index view. */
#ifndef STASYNC_LIB_FETCH_H
#define STASYNC_LIB_FETCH_H

#include <stasync/chunk-stream.h>
#include "store.h"

/* Where a chunk was found. */
struct sta_fetch_result {
	bool cached;                 /* in f->cache */
	bool seeded;                 /* in f->seed ... */
	struct sta_seed_origin from; /* ... there, when a file (fd -1 otherwise) */
};

/* sta_fetch_chunk() — the chunk `id` of `size` bytes into out, using codec
 * c (one per thread). 0, or the stores' error (-ENOENT when none has it,
 * -EBADMSG when what they hold is corrupt) with a message naming the
 * chunk; a failure to keep it in the cache is reported too. */
int sta_fetch_chunk(const stasync_fetch *f, stasync_codec *c, stasync_digest_type type,
		    const stasync_chunk_id *id, void *out, size_t size,
		    struct sta_fetch_result *res, stasync_error *err);

/* sta_fetch_count() — advance f->progress (when set) by one chunk of
 * `size` bytes delivered, found as res says. */
void sta_fetch_count(const stasync_fetch *f, size_t size, const struct sta_fetch_result *res);

/* sta_fetch_remote() — whether a store is not a local directory. */
bool sta_fetch_remote(const stasync_fetch *f);

/* sta_fetch_default_threads() — the fetching threads when f->threads is 0:
 * STASYNC_FETCH_THREADS_REMOTE when a store is not local, else one per CPU
 * (at most 4). */
unsigned sta_fetch_default_threads(const stasync_fetch *f);

#endif
