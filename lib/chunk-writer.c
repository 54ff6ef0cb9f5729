/* Chunking a byte stream into a store and an index. */
#include <inttypes.h>

#include <stasync/chunk-stream.h>
#include "util.h"

/* Bytes gathered before scanning: large enough that per-call overhead
 * vanishes, small enough to stay in cache-friendly territory. */
#define GATHER ((size_t)1 << 20)

struct stasync_chunk_writer {
	stasync_chunk_writer_options o;
	stasync_chunker chunker;
	stasync_codec *codec;
	stasync_index_writer *index;
	stasync_digest *digest;
	stasync_chunk_stats stats;
	uint8_t *buf;      /* the chunk in progress: buf[0..len) */
	size_t len, cap, scanned;
};

int stasync_chunk_writer_new(const stasync_chunk_writer_options *o, int index_fd,
			     const char *index_name, stasync_chunk_writer **ret,
			     stasync_error *err)
{
	stasync_index_header h = {
		.feature_flags = o->feature_flags,
		.chunk_size_min = o->sizes.min,
		.chunk_size_avg = o->sizes.avg,
		.chunk_size_max = o->sizes.max,
	};
	stasync_chunk_writer *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return sta_error(err, -ENOMEM, "out of memory");
	w->o = *o;
	r = stasync_chunker_init(&w->chunker, &o->sizes);
	if (r < 0) {
		free(w);
		return sta_error(err, r, "invalid chunk sizes %zu:%zu:%zu", o->sizes.min,
				 o->sizes.avg, o->sizes.max);
	}
	w->cap = o->sizes.max + GATHER;
	w->buf = malloc(w->cap);
	if (!w->buf) {
		stasync_chunk_writer_free(w);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	if ((r = stasync_codec_new(&w->codec)) < 0 ||
	    (r = stasync_digest_new(o->digest, &w->digest)) < 0) {
		stasync_chunk_writer_free(w);
		return sta_error(err, r, "cannot set up: %s", stasync_strerror(r));
	}
	r = stasync_index_writer_new(index_fd, index_name, &h, &w->index, err);
	if (r < 0) {
		stasync_chunk_writer_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

static int emit(stasync_chunk_writer *w, const uint8_t *p, size_t n, stasync_error *err)
{
	stasync_chunk_id id;
	int r;

	stasync_digest_buffer(w->o.digest, p, n, &id);
	if (w->o.store) {
		r = stasync_store_put(w->o.store, w->codec, &id, p, n, err);
		if (r < 0)
			return r;
		w->stats.chunks_new += (uint64_t)r;
	}
	w->stats.chunks++;
	return stasync_index_writer_add(w->index, n, &id, err);
}

/* Cut as many chunks as the gathered bytes hold; keep the rest. */
static int scan(stasync_chunk_writer *w, stasync_error *err)
{
	size_t start = 0;
	int r;

	while (w->scanned < w->len) {
		size_t cut = stasync_chunker_scan(&w->chunker, w->buf + w->scanned,
						  w->len - w->scanned);
		if (cut == SIZE_MAX) {
			w->scanned = w->len;
			break;
		}
		w->scanned += cut;
		r = emit(w, w->buf + start, w->scanned - start, err);
		if (r < 0)
			return r;
		start = w->scanned;
	}
	if (start > 0) {
		memmove(w->buf, w->buf + start, w->len - start);
		w->len -= start;
		w->scanned -= start;
	}
	return 0;
}

int stasync_chunk_writer_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	stasync_chunk_writer *w = ctx;
	const uint8_t *q = p;
	int r;

	stasync_digest_write(w->digest, p, n);
	w->stats.bytes += n;
	while (n > 0) {
		/* The unfinished chunk is shorter than max, so there is
		 * always at least GATHER bytes of room after a scan. */
		size_t k = MIN(n, w->cap - w->len);

		memcpy(w->buf + w->len, q, k);
		w->len += k;
		q += k;
		n -= k;
		if (w->len == w->cap) {
			r = scan(w, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int stasync_chunk_writer_finish(stasync_chunk_writer *w, stasync_chunk_id *digest,
				stasync_chunk_stats *stats, stasync_error *err)
{
	int r = scan(w, err);

	if (r < 0)
		return r;
	if (w->len > 0) {
		r = emit(w, w->buf, w->len, err);
		if (r < 0)
			return r;
		w->len = w->scanned = 0;
	}
	/* Every chunk stored before the index that names them is complete. */
	if (w->o.store) {
		r = stasync_store_flush(w->o.store, err);
		if (r < 0)
			return r;
		w->stats.chunks_new -= MIN((uint64_t)r, w->stats.chunks_new);
	}
	r = stasync_index_writer_finish(w->index, err);
	if (r < 0)
		return r;
	if (digest)
		stasync_digest_final(w->digest, digest);
	if (stats)
		*stats = w->stats;
	return 0;
}

void stasync_chunk_writer_free(stasync_chunk_writer *w)
{
	if (!w)
		return;
	stasync_index_writer_free(w->index);
	stasync_digest_free(w->digest);
	stasync_codec_free(w->codec);
	free(w->buf);
	free(w);
}
