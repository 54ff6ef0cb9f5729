/* Chunking a byte stream into a store and an index. The caller's thread
 * gathers the stream and finds the cut points; worker threads take the
 * chunks in turn and hash, compress and store each; one more thread
 * digests the whole stream, chunk after chunk; the caller adds the chunks
 * to the index in stream order as they are done. A ring of slots, each
 * holding one chunk, bounds what is under way. */
#include <inttypes.h>
#include <pthread.h>

#include <stasync/chunk-stream.h>
#include "byte-ring.h"
#include "format.h"
#include "store.h"
#include "util.h"

/* Bytes gathered before scanning: large enough that per-call overhead
 * vanishes, small enough to stay in cache-friendly territory. */
#define GATHER ((size_t)1 << 20)
/* What the chunks under way hold at most, together: one ring of bytes
 * they take in turn, so the memory is what they hold, not a largest
 * chunk's room for each. Deep enough that a worker held up in the file
 * system (a journal commit, a directory's lock: milliseconds) does not
 * soon stop the others: make of a 1 GiB blob on two cores left them
 * idle 5% of the run with 16 MiB under way, 8% with 2 MiB. */
#define RING_BYTES ((size_t)16 << 20)
/* at most this many chunks under way (when they are small) */
#define SLOTS_MAX 1024

enum slot_state {
	SLOT_FREE,
	SLOT_QUEUED,    /* waiting for a worker */
	SLOT_BUSY,      /* a worker has it */
	SLOT_DONE,      /* hashed and stored (or failed: r < 0) */
};

struct slot {
	enum slot_state state;
	size_t off;     /* the chunk is ring[off..off+len) */
	size_t len;
	stasync_chunk_id id;
	int r;          /* < 0: failed; else 1 when new in the store */
	stasync_error err;
};

struct stasync_chunk_writer {
	stasync_chunk_writer_options o;
	stasync_chunker chunker;
	stasync_index_writer *index;
	stasync_digest *digest;
	stasync_chunk_stats stats;
	uint8_t *buf;      /* the chunk in progress: buf[0..len) */
	size_t len, cap, scanned;

	struct slot *slots;
	size_t window;     /* slots */
	uint8_t *ring;
	size_t ring_size;
	size_t tail;       /* where the chunk after the last one cut goes */
	pthread_t *threads;
	unsigned n_threads;
	pthread_t digest_thread;
	bool digest_started;
	/* Each wakes one kind of thread, and the caller only when the chunk
	 * it waits for (wait_seq) is stored and digested: on two cores, a
	 * wake-up for each chunk cost two context switches a chunk. */
	pthread_mutex_t lock;
	pthread_cond_t queued;  /* workers: a chunk to work on, or stop */
	pthread_cond_t cut;     /* the digester: a chunk cut, or stop */
	pthread_cond_t done;    /* the caller: chunk wait_seq is ready */
	/* under lock: */
	uint64_t next_seq;      /* the next chunk cut */
	uint64_t next_work;     /* the next chunk for a worker */
	uint64_t head;          /* the next chunk to go into the index */
	uint64_t digested;      /* chunks the stream digest has taken in */
	uint64_t wait_seq;      /* the chunk the caller waits for, if waiting */
	bool waiting;
	bool stop;
};

static void *worker(void *arg)
{
	stasync_chunk_writer *w = arg;
	stasync_codec *c = NULL;
	int codec_r = stasync_codec_new(&c);

	sta_thread_serve();

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s;

		while (!w->stop && w->next_work == w->next_seq)
			pthread_cond_wait(&w->queued, &w->lock);
		if (w->stop)
			break;
		uint64_t seq = w->next_work++;
		s = &w->slots[seq % w->window];
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->lock);

		sta_chunk_digest(c, w->o.digest, w->ring + s->off, s->len, &s->id);
		if (!w->o.store)
			s->r = 0;
		else if (codec_r < 0)
			s->r = sta_error(&s->err, codec_r, "out of memory");
		else
			s->r = stasync_store_put(w->o.store, c, &s->id, w->ring + s->off, s->len,
						 &s->err);

		pthread_mutex_lock(&w->lock);
		s->state = SLOT_DONE;
		if (w->waiting && seq == w->wait_seq && w->digested > seq)
			pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	stasync_codec_free(c);
	return NULL;
}

/* The digest of the whole stream, fed with each chunk in turn. */
static void *digester(void *arg)
{
	stasync_chunk_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s;

		while (!w->stop && w->digested == w->next_seq)
			pthread_cond_wait(&w->cut, &w->lock);
		if (w->stop)
			break;
		s = &w->slots[w->digested % w->window];
		pthread_mutex_unlock(&w->lock);
		stasync_digest_write(w->digest, w->ring + s->off, s->len);
		pthread_mutex_lock(&w->lock);
		w->digested++;
		if (w->waiting && w->digested == w->wait_seq + 1 &&
		    w->slots[w->wait_seq % w->window].state == SLOT_DONE)
			pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Under the lock: whether chunk seq (one under way) is stored and digested. */
static bool ready(const stasync_chunk_writer *w, uint64_t seq)
{
	return w->slots[seq % w->window].state == SLOT_DONE && w->digested > seq;
}

/* Under the lock: wait until chunk `seq` is ready, or the head if `seq` is
 * already (so that the caller can go on); the head is not ready. */
static void wait_ready(stasync_chunk_writer *w, uint64_t seq)
{
	if (ready(w, seq))
		seq = w->head;
	w->wait_seq = seq;
	w->waiting = true;
	while (!ready(w, seq))
		pthread_cond_wait(&w->done, &w->lock);
	w->waiting = false;
}

/* Put the chunks done, in stream order, into the index; with `all`, wait
 * for every chunk cut so far. */
static int commit(stasync_chunk_writer *w, bool all, stasync_error *err)
{
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s = &w->slots[w->head % w->window];
		int r;

		if (w->head == w->next_seq)
			break;
		if (!ready(w, w->head)) {
			if (!all)
				break;
			wait_ready(w, w->next_seq - 1);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		if (s->r < 0) {
			if (err)
				*err = s->err;
			return s->r;
		}
		w->stats.chunks_new += (uint64_t)s->r;
		w->stats.chunks++;
		if (w->o.progress) {
			sta_count(&w->o.progress->chunks, 1);
			sta_count(&w->o.progress->chunks_new, (uint64_t)s->r);
		}
		r = stasync_index_writer_add(w->index, s->len, &s->id, err);
		if (r < 0)
			return r;
		pthread_mutex_lock(&w->lock);
		s->state = SLOT_FREE;
		w->head++;
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/* Under the lock: where in the ring n more bytes fit after the chunks
 * under way, or SIZE_MAX. */
static size_t ring_room(const stasync_chunk_writer *w, size_t n)
{
	return sta_byte_ring_room(w->ring_size, w->head == w->next_seq,
				  w->slots[w->head % w->window].off, w->tail, n);
}

/* Hand one chunk to the workers, once it has a slot and room in the ring. */
static int emit(stasync_chunk_writer *w, const uint8_t *p, size_t n, stasync_error *err)
{
	struct slot *s;
	size_t off;
	int r;

	for (;;) {
		r = commit(w, false, err);
		if (r < 0)
			return r;
		pthread_mutex_lock(&w->lock);
		s = &w->slots[w->next_seq % w->window];
		off = ring_room(w, n);
		if (s->state == SLOT_FREE && off != SIZE_MAX)
			break;
		/* full: wait until half of what is under way can go */
		wait_ready(w, w->head + (w->next_seq - w->head - 1) / 2);
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);

	/* [off, off + n) is no chunk's under way: no lock needed */
	memcpy(w->ring + off, p, n);
	s->off = off;
	s->len = n;
	pthread_mutex_lock(&w->lock);
	s->state = SLOT_QUEUED;
	w->tail = off + n;
	w->next_seq++;
	/* a worker and the digester */
	pthread_cond_signal(&w->queued);
	pthread_cond_signal(&w->cut);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void stop_workers(stasync_chunk_writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->queued);
	pthread_cond_broadcast(&w->cut);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	w->n_threads = 0;
	if (w->digest_started)
		pthread_join(w->digest_thread, NULL);
	w->digest_started = false;
}

int stasync_chunk_writer_new(const stasync_chunk_writer_options *o, int index_fd,
			     const char *index_name, stasync_chunk_writer **ret,
			     stasync_error *err)
{
	stasync_index_header h = {
		/* the header says which digest names the chunks, whatever the
		 * caller's flags say */
		.feature_flags = (o->feature_flags & ~CA_FORMAT_SHA512_256) |
				 (o->digest == STASYNC_DIGEST_SHA512_256 ? CA_FORMAT_SHA512_256 : 0),
		.chunk_size_min = o->sizes.min,
		.chunk_size_avg = o->sizes.avg,
		.chunk_size_max = o->sizes.max,
	};
	unsigned threads = o->threads ? o->threads : sta_cpu_count(8);
	stasync_chunk_writer *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return sta_error(err, -ENOMEM, "out of memory");
	w->o = *o;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->queued, NULL);
	pthread_cond_init(&w->cut, NULL);
	pthread_cond_init(&w->done, NULL);
	r = stasync_chunker_init(&w->chunker, &o->sizes);
	if (r < 0) {
		stasync_chunk_writer_free(w);
		return sta_error(err, r, "invalid chunk sizes %zu:%zu:%zu", o->sizes.min,
				 o->sizes.avg, o->sizes.max);
	}
	w->cap = o->sizes.max + GATHER;
	w->buf = malloc(w->cap);
	/* room for two of the largest chunks at least */
	w->ring_size = MAX(RING_BYTES, 2 * MAX(o->sizes.max, 1));
	w->window = MIN((size_t)SLOTS_MAX, MAX((size_t)2, w->ring_size / MAX(o->sizes.min, 1)));
	threads = (unsigned)MIN((size_t)threads, w->window);
	w->ring = malloc(w->ring_size);
	w->slots = calloc(w->window, sizeof(*w->slots));
	w->threads = calloc(threads, sizeof(*w->threads));
	if (!w->buf || !w->ring || !w->slots || !w->threads) {
		stasync_chunk_writer_free(w);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	if ((r = stasync_digest_new(o->digest, &w->digest)) < 0) {
		stasync_chunk_writer_free(w);
		return sta_error(err, r, "cannot set up: %s", stasync_strerror(r));
	}
	r = stasync_index_writer_new(index_fd, index_name, &h, &w->index, err);
	if (r < 0) {
		stasync_chunk_writer_free(w);
		return r;
	}
	/* finish() flushes the store before the index is complete */
	if (o->store)
		sta_store_expect_flush(o->store);
	for (unsigned i = 0; i < threads; i++) {
		r = sta_thread_start(&w->threads[i], STA_STACK_WORK, worker, w);
		if (r < 0)
			break;
		w->n_threads++;
	}
	if (w->n_threads > 0) {
		r = sta_thread_start(&w->digest_thread, STA_STACK_WORK, digester, w);
		w->digest_started = r == 0;
	}
	if (!w->digest_started) {
		stasync_chunk_writer_free(w);
		return sta_error(err, r, "cannot start a thread: %s", stasync_strerror(r));
	}
	*ret = w;
	return 0;
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

	w->stats.bytes += n;
	if (w->o.progress)
		sta_count(&w->o.progress->bytes, n);
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
	r = commit(w, true, err);
	if (r < 0)
		return r;
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
	stop_workers(w);
	free(w->ring);
	free(w->slots);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->queued);
	pthread_cond_destroy(&w->cut);
	pthread_cond_destroy(&w->done);
	stasync_index_writer_free(w->index);
	stasync_digest_free(w->digest);
	free(w->buf);
	free(w);
}
