/* Blobs: chunk a file into a store and an index, and put it back
 * together from an index and stores. */
#include <inttypes.h>
#include <stdio.h>

#include <stasync/blob.h>
#include <stasync/index.h>
#include "format.h"
#include "util.h"

#define READ_SIZE ((size_t)4 << 20)

/* Everything a chunk goes through on make: id, store, index, blob digest. */
struct make_ctx {
	const stasync_blob_make_options *o;
	stasync_codec *codec;
	stasync_index_writer *index;
	stasync_digest *content;
	stasync_blob_stats *stats;
};

static int emit_chunk(struct make_ctx *m, const uint8_t *p, size_t n, stasync_error *err)
{
	stasync_chunk_id id;
	int r;

	stasync_digest_buffer(m->o->digest, p, n, &id);
	stasync_digest_write(m->content, p, n);
	if (m->o->store) {
		r = stasync_store_put(m->o->store, m->codec, &id, p, n, err);
		if (r < 0)
			return r;
		m->stats->chunks_new += (uint64_t)r;
	}
	m->stats->chunks++;
	m->stats->bytes += n;
	return stasync_index_writer_add(m->index, n, &id, err);
}

int stasync_blob_make(int in_fd, const char *input, int index_fd, const char *index_name,
		      const stasync_blob_make_options *o, stasync_chunk_id *content,
		      stasync_blob_stats *stats, stasync_error *err)
{
	stasync_blob_stats st = { 0, 0, 0 };
	struct make_ctx m = { .o = o, .stats = &st };
	stasync_index_header h = {
		.feature_flags = CA_FORMAT_BLOB_INDEX_FLAGS |
				 (o->digest == STASYNC_DIGEST_SHA512_256 ? CA_FORMAT_SHA512_256 : 0),
		.chunk_size_min = o->sizes.min,
		.chunk_size_avg = o->sizes.avg,
		.chunk_size_max = o->sizes.max,
	};
	stasync_chunker chunker;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t cap, start = 0, scanned = 0, filled = 0;
	int r;

	r = stasync_chunker_init(&chunker, &o->sizes);
	if (r < 0)
		return sta_error(err, r, "invalid chunk sizes %zu:%zu:%zu", o->sizes.min,
				 o->sizes.avg, o->sizes.max);
	cap = o->sizes.max + READ_SIZE;
	buf = malloc(cap);
	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	if ((r = stasync_codec_new(&m.codec)) < 0 ||
	    (r = stasync_digest_new(o->digest, &m.content)) < 0) {
		r = sta_error(err, r, "cannot set up: %s", stasync_strerror(r));
		goto out;
	}
	r = stasync_index_writer_new(index_fd, index_name, &h, &m.index, err);
	if (r < 0)
		goto out;

	for (;;) {
		ssize_t k;

		/* Keep the unfinished chunk, make room to read behind it. */
		if (cap - filled < READ_SIZE) {
			memmove(buf, buf + start, filled - start);
			filled -= start;
			scanned -= start;
			start = 0;
		}
		k = sta_read_full(in_fd, buf + filled, cap - filled);
		if (k < 0) {
			r = sta_error(err, (int)k, "%s: cannot read: %s", input,
				      stasync_strerror((int)k));
			goto out;
		}
		if (k == 0)
			break;
		filled += (size_t)k;
		while (scanned < filled) {
			size_t cut = stasync_chunker_scan(&chunker, buf + scanned, filled - scanned);
			if (cut == SIZE_MAX) {
				scanned = filled;
				break;
			}
			scanned += cut;
			r = emit_chunk(&m, buf + start, scanned - start, err);
			if (r < 0)
				goto out;
			start = scanned;
		}
	}
	if (filled > start) {
		r = emit_chunk(&m, buf + start, filled - start, err);
		if (r < 0)
			goto out;
	}
	r = stasync_index_writer_finish(m.index, err);
	if (r < 0)
		goto out;
	if (content)
		stasync_digest_final(m.content, content);
	if (stats)
		*stats = st;
out:
	stasync_index_writer_free(m.index);
	stasync_digest_free(m.content);
	stasync_codec_free(m.codec);
	return r;
}

int stasync_blob_extract(stasync_index_reader *r, stasync_store *const *stores, size_t n_stores,
			 int out_fd, const char *output, stasync_digest_type content_type,
			 stasync_chunk_id *content, stasync_blob_stats *stats, stasync_error *err)
{
	const stasync_index_header *h = stasync_index_reader_header(r);
	stasync_digest_type type = stasync_index_reader_digest_type(r);
	stasync_blob_stats st = { 0, 0, 0 };
	stasync_digest *digest = NULL;
	stasync_codec *codec = NULL;
	_cleanup_free_ uint8_t *chunk = NULL;
	stasync_index_item item;
	int e;

	chunk = malloc(h->chunk_size_max ? h->chunk_size_max : 1);
	if (!chunk)
		return sta_error(err, -ENOMEM, "out of memory for chunks of %" PRIu64 " bytes",
				 h->chunk_size_max);
	if ((e = stasync_codec_new(&codec)) < 0 ||
	    (content && (e = stasync_digest_new(content_type, &digest)) < 0)) {
		e = sta_error(err, e, "cannot set up: %s", stasync_strerror(e));
		goto out;
	}
	while ((e = stasync_index_reader_next(r, &item, err)) > 0) {
		e = stasync_stores_get(stores, n_stores, codec, &item.id, type, chunk,
				       (size_t)item.size, err);
		if (e < 0)
			goto out;
		if (out_fd >= 0) {
			e = sta_write_full(out_fd, chunk, (size_t)item.size);
			if (e < 0) {
				e = sta_error(err, e, "%s: cannot write: %s", output,
					      stasync_strerror(e));
				goto out;
			}
		}
		if (digest)
			stasync_digest_write(digest, chunk, (size_t)item.size);
		st.chunks++;
		st.bytes += item.size;
	}
	if (e < 0)
		goto out;
	if (digest)
		stasync_digest_final(digest, content);
	if (stats)
		*stats = st;
out:
	stasync_digest_free(digest);
	stasync_codec_free(codec);
	return e;
}

int stasync_blob_digest(int fd, const char *input, stasync_digest_type type,
			stasync_chunk_id *ret, stasync_error *err)
{
	_cleanup_free_ uint8_t *buf = malloc(READ_SIZE);
	stasync_digest *d = NULL;
	int r;

	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	r = stasync_digest_new(type, &d);
	if (r < 0)
		return sta_error(err, r, "cannot set up digest: %s", stasync_strerror(r));
	for (;;) {
		ssize_t k = sta_read_full(fd, buf, READ_SIZE);
		if (k < 0) {
			r = sta_error(err, (int)k, "%s: cannot read: %s", input, stasync_strerror((int)k));
			break;
		}
		if (k == 0) {
			stasync_digest_final(d, ret);
			break;
		}
		stasync_digest_write(d, buf, (size_t)k);
	}
	stasync_digest_free(d);
	return r;
}
