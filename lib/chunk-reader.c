/* Reading the byte stream an index describes, chunk by chunk. */
#include <inttypes.h>

#include <stasync/chunk-stream.h>
#include "util.h"

struct stasync_chunk_reader {
	stasync_index_reader *index;
	stasync_store *const *stores;
	size_t n_stores;
	stasync_digest_type type;
	stasync_codec *codec;
	stasync_chunk_stats stats;
	uint8_t *chunk;       /* the current chunk: chunk[pos..len) unread */
	size_t pos, len;
	bool done;
};

int stasync_chunk_reader_new(stasync_index_reader *index, stasync_store *const *stores,
			     size_t n_stores, stasync_chunk_reader **ret, stasync_error *err)
{
	const stasync_index_header *h = stasync_index_reader_header(index);
	stasync_chunk_reader *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r)
		return sta_error(err, -ENOMEM, "out of memory");
	r->index = index;
	r->stores = stores;
	r->n_stores = n_stores;
	r->type = stasync_index_reader_digest_type(index);
	/* The header bounds every chunk, so one buffer of max bytes does. */
	r->chunk = malloc(h->chunk_size_max);
	e = r->chunk ? stasync_codec_new(&r->codec) : -ENOMEM;
	if (e < 0) {
		stasync_chunk_reader_free(r);
		return sta_error(err, e, "out of memory for chunks of %" PRIu64 " bytes",
				 h->chunk_size_max);
	}
	*ret = r;
	return 0;
}

int stasync_chunk_reader_next(stasync_chunk_reader *r, const void **p, size_t *n,
			      stasync_error *err)
{
	stasync_index_item item;
	int e;

	if (r->done)
		return 0;
	e = stasync_index_reader_next(r->index, &item, err);
	if (e <= 0) {
		r->done = e == 0;
		return e;
	}
	e = stasync_stores_get(r->stores, r->n_stores, r->codec, &item.id, r->type, r->chunk,
			       (size_t)item.size, err);
	if (e < 0)
		return e;
	r->stats.chunks++;
	r->stats.bytes += item.size;
	r->pos = 0;
	r->len = (size_t)item.size;
	*p = r->chunk;
	*n = r->len;
	return 1;
}

ssize_t stasync_chunk_reader_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	stasync_chunk_reader *r = ctx;
	size_t k;

	if (r->pos == r->len) {
		const void *q;
		size_t m;
		int e = stasync_chunk_reader_next(r, &q, &m, err);
		if (e <= 0)
			return e;
	}
	k = MIN(n, r->len - r->pos);
	memcpy(p, r->chunk + r->pos, k);
	r->pos += k;
	return (ssize_t)k;
}

void stasync_chunk_reader_stats(const stasync_chunk_reader *r, stasync_chunk_stats *stats)
{
	*stats = r->stats;
}

void stasync_chunk_reader_free(stasync_chunk_reader *r)
{
	if (!r)
		return;
	stasync_codec_free(r->codec);
	free(r->chunk);
	free(r);
}
