/* Reading the byte stream an index describes, chunk by chunk. Worker
 * threads take the index's chunks in turn, fetch, decompress and check
 * each into a slot of a ring, and the reader hands the slots out in index
 * order: while one chunk is being used, the next ones are on their way.
 * The chunks under way share one ring of bytes (byte-ring.h), which bounds
 * memory; a worker that would get ahead by more than it holds waits.
 * Given the stream as the caller writes it (a blob's output), a chunk the
 * index names again is read back from there instead of fetched again.
 * An all-zero chunk a worker has met before (a run of zeros in a disk
 * image, cut into chunks of the largest size) is neither: its bytes are
 * known from its id.
 * Drained (stasync_chunk_reader_drain()), there is no reading thread: the
 * worker that makes the head's chunk ready hands it, and each one after
 * it that is ready, to the caller's function, while another worker goes
 * on fetching. Both cores then do both kinds of work, and a worker often
 * hands on the chunk it has just checked, its bytes still in its cache. */
#include <inttypes.h>
#include <pthread.h>

#include <stasync/chunk-stream.h>
#include "byte-ring.h"
#include "chunk-set.h"
#include "fetch.h"
#include "store.h"
#include "util.h"

/* Chunk ids remembered for reading back (the set then takes 7 MiB at
 * most): a 4 GiB stream's worth of distinct chunks of 64 KiB. */
#define REREAD_IDS_MAX ((size_t)1 << 16)

enum slot_state {
	SLOT_FREE,
	SLOT_BUSY,      /* a worker is fetching into it */
	SLOT_READY,     /* fetched (or failed: r < 0) */
};

struct slot {
	enum slot_state state;
	size_t off;     /* the chunk is ring[off..off+len) */
	size_t len;
	struct sta_fetch_result got;  /* where it came from */
	int r;
	stasync_error err;
};

struct stasync_chunk_reader {
	stasync_index_reader *index;
	stasync_fetch f;
	stasync_digest_type type;
	pthread_t *threads;
	unsigned n_threads;
	struct slot *slots;
	size_t window;          /* slots */
	uint8_t *ring;
	size_t ring_size;

	/* Each is signalled only when its waiter can go on, and after the
	 * lock is let go, so that a thread woken does not at once wait
	 * for the lock (futex calls, on two cores, cost system time). */
	pthread_mutex_t lock;
	pthread_cond_t ready;   /* the head's slot became ready, or the index ended */
	pthread_cond_t room;    /* half the slots and bytes are free, or stop */
	pthread_cond_t written; /* the stream has more bytes released, or stop */
	/* under lock: */
	uint64_t next_seq;      /* the next chunk of the index to hand out */
	uint64_t head;          /* the chunk the reader hands out next */
	size_t tail;            /* where the chunk next_seq - 1 ends in the ring */
	size_t held;            /* bytes of the chunks from head to next_seq */
	/* the index's next chunk, read but waiting for room in the ring */
	stasync_index_item pending;
	bool have_pending;
	uint64_t end_seq;       /* how many chunks there are, once known */
	int end_r;              /* how reading the index ended: 0 or an error */
	stasync_error end_err;
	bool stop;
	unsigned room_waiters;  /* workers waiting for a free slot */
	uint64_t released;      /* stream bytes of the chunks handed out and released */
	/* the stream as written, and where each chunk id first is in it */
	int reread_fd;
	uint64_t reread_base;
	stasync_chunk_set *first;

	/* set before the workers start, for _drain() */
	stasync_chunk_sink_fn sink;
	void *sink_ctx;
	/* under lock: */
	bool sinking;           /* a worker is handing chunks to the sink */
	int sink_r;             /* < 0: the sink or a chunk failed */
	stasync_error sink_err;

	/* the reader's own (or the sinking worker's): */
	bool holding;           /* slots[head] is out with the caller */
	size_t pos;             /* of slots[head], for _read() */
	stasync_chunk_stats stats;
};

/* Under the lock: whether item was in the stream before, at *at; then
 * wait until the caller has released it (and so written it out). Else
 * remember where it is, for the next time. */
static bool reread_wait(stasync_chunk_reader *r, const stasync_index_item *item, uint64_t *at)
{
	uint64_t size;

	if (!r->first)
		return false;
	if (!sta_chunk_set_get(r->first, &item->id, &size, at)) {
		if (stasync_chunk_set_count(r->first) < REREAD_IDS_MAX)
			(void)sta_chunk_set_put(r->first, &item->id, item->size, item->offset);
		return false;
	}
	if (size != item->size)
		return false;
	/* Those before it are all taken by workers that fetch, or wait for
	 * earlier ones still: the caller gets there. */
	while (!r->stop && r->released < *at + size)
		pthread_cond_wait(&r->written, &r->lock);
	return !r->stop;
}

/* Read item back from the stream written at `at`, trusting only its hash;
 * -ENOENT when it is not (or no longer) there. */
static int reread(stasync_chunk_reader *r, stasync_codec *c, const stasync_index_item *item,
		  uint64_t at, struct slot *s)
{
	stasync_chunk_id got;
	uint8_t *p = r->ring + s->off;
	ssize_t k = pread(r->reread_fd, p, (size_t)item->size, (off_t)(r->reread_base + at));

	if (k != (ssize_t)item->size)
		return -ENOENT;
	sta_chunk_digest(c, r->type, p, (size_t)item->size, &got);
	if (!stasync_chunk_id_equal(&got, &item->id))
		return -ENOENT;
	/* counted as seeded: the output seeds itself */
	s->got = (struct sta_fetch_result){ .seeded = true, .from.fd = -1 };
	return 0;
}

/* Under the lock: where in the ring n more bytes fit after the chunks
 * under way, or SIZE_MAX. */
static size_t ring_room(const stasync_chunk_reader *r, size_t n)
{
	return sta_byte_ring_room(r->ring_size, r->head == r->next_seq,
				  r->slots[r->head % r->window].off, r->tail, n);
}

/* Whether id is the all-zero chunk of `size` bytes, as far as codec c
 * knows: the last all-zero chunk it hashed (sta_chunk_digest). */
static bool known_zero(const stasync_codec *c, stasync_digest_type type, uint64_t size,
		       const stasync_chunk_id *id)
{
	return c && c->zero.valid && c->zero.type == type && c->zero.size == size &&
	       stasync_chunk_id_equal(&c->zero.id, id);
}

/* Under the lock: the head's chunk is done with; the next is the head.
 * Whether the workers waiting for room should be woken: once half the
 * ring is free, not for each slot (a wake-up a chunk, on two cores, cost
 * two context switches a chunk). */
static bool release_head(stasync_chunk_reader *r)
{
	struct slot *done = &r->slots[r->head % r->window];

	done->state = SLOT_FREE;
	r->released += done->len;
	r->held -= done->len;
	r->head++;
	return r->room_waiters && r->head + r->window - r->next_seq >= MAX(r->window / 2, 1) &&
	       r->held <= r->ring_size / 2;
}

/* The head's chunk goes out: count it. */
static void count_chunk(stasync_chunk_reader *r, const struct slot *s)
{
	r->stats.chunks++;
	r->stats.bytes += s->len;
	r->stats.chunks_cached += s->got.cached;
	r->stats.chunks_seeded += s->got.seeded;
	sta_fetch_count(&r->f, s->len, &s->got);
}

/* Under the lock, by the worker that made the head's chunk ready (with
 * no other worker sinking): hand it to the sink, and each next one that
 * is ready by then. The first failure, a chunk's or the sink's, stops
 * the workers; the caller, waiting in _drain(), is woken at that or at
 * the end. */
static void hand_on(stasync_chunk_reader *r)
{
	r->sinking = true;
	while (!r->stop && r->head < r->next_seq &&
	       r->slots[r->head % r->window].state == SLOT_READY) {
		struct slot *s = &r->slots[r->head % r->window];
		int e = s->r;

		if (e >= 0) {
			pthread_mutex_unlock(&r->lock);
			count_chunk(r, s);
			e = r->sink(r->sink_ctx, r->ring + s->off, s->len, &s->err);
			pthread_mutex_lock(&r->lock);
		}
		if (e < 0) {
			r->sink_r = e;
			r->sink_err = s->err;
			r->stop = true;
			pthread_cond_broadcast(&r->room);
			pthread_cond_broadcast(&r->written);
			break;
		}
		if (release_head(r))
			pthread_cond_broadcast(&r->room);
		if (r->first)
			pthread_cond_broadcast(&r->written);
	}
	r->sinking = false;
	if (r->stop || r->head >= r->end_seq)
		pthread_cond_signal(&r->ready);
}

static void *worker(void *arg)
{
	stasync_chunk_reader *r = arg;
	stasync_codec *c = NULL;
	int codec_r = stasync_codec_new(&c);

	/* below the thread that takes the chunks in order, if there is one */
	if (!r->sink)
		sta_thread_serve();

	pthread_mutex_lock(&r->lock);
	for (;;) {
		stasync_index_item item;
		stasync_error err = { 0, "" };
		struct slot *s;
		uint64_t seq, at = 0;
		size_t off;
		bool again, zero;
		int e;

		/* The index is read in order, one worker at a time; its next
		 * chunk waits in r->pending for a slot and room in the ring. */
		for (;;) {
			if (r->stop || r->next_seq >= r->end_seq)
				goto out;
			if (!r->have_pending) {
				e = stasync_index_reader_next(r->index, &r->pending, &err);
				if (e <= 0) {
					r->end_seq = r->next_seq;
					r->end_r = e;
					r->end_err = err;
					pthread_cond_broadcast(&r->ready);
					pthread_cond_broadcast(&r->room);
					pthread_cond_broadcast(&r->written);
					goto out;
				}
				r->have_pending = true;
			}
			if (r->next_seq < r->head + r->window &&
			    (off = ring_room(r, (size_t)r->pending.size)) != SIZE_MAX)
				break;
			r->room_waiters++;
			pthread_cond_wait(&r->room, &r->lock);
			r->room_waiters--;
		}
		item = r->pending;
		r->have_pending = false;
		seq = r->next_seq++;
		s = &r->slots[seq % r->window];
		s->state = SLOT_BUSY;
		s->off = off;
		s->len = (size_t)item.size;
		r->tail = off + s->len;
		r->held += s->len;
		zero = codec_r >= 0 && known_zero(c, r->type, item.size, &item.id);
		again = !zero && reread_wait(r, &item, &at);
		pthread_mutex_unlock(&r->lock);

		if (codec_r < 0)
			e = sta_error(&s->err, codec_r, "out of memory");
		else if (zero) {
			memset(r->ring + s->off, 0, s->len);
			/* counted as seeded, as a chunk read back is */
			s->got = (struct sta_fetch_result){ .seeded = true, .from.fd = -1 };
			e = 0;
		} else if (again && reread(r, c, &item, at, s) == 0)
			e = 0;
		else
			e = sta_fetch_chunk(&r->f, c, r->type, &item.id, r->ring + s->off, s->len,
					    &s->got, &s->err);
		s->r = e;

		pthread_mutex_lock(&r->lock);
		s->state = SLOT_READY;
		/* the reader waits for the head's slot only */
		if (seq == r->head && r->sink) {
			if (!r->sinking)
				hand_on(r);
		} else if (seq == r->head) {
			pthread_mutex_unlock(&r->lock);
			pthread_cond_signal(&r->ready);
			pthread_mutex_lock(&r->lock);
		}
	}
out:
	pthread_mutex_unlock(&r->lock);
	stasync_codec_free(c);
	return NULL;
}

static void stop_workers(stasync_chunk_reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->room);
	pthread_cond_broadcast(&r->written);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	r->n_threads = 0;
}

int stasync_chunk_reader_new(stasync_index_reader *index, const stasync_fetch *f,
			     stasync_chunk_reader **ret, stasync_error *err)
{
	return stasync_chunk_reader_new_reread(index, f, -1, 0, ret, err);
}

static int reader_new(stasync_index_reader *index, const stasync_fetch *f, int reread_fd,
		      uint64_t reread_base, stasync_chunk_sink_fn sink, void *sink_ctx,
		      stasync_chunk_reader **ret, stasync_error *err)
{
	const stasync_index_header *h = stasync_index_reader_header(index);
	unsigned threads = f->threads ? f->threads : sta_fetch_default_threads(f);
	stasync_chunk_reader *r;
	size_t ahead, chunk_max;
	int e = 0;

	r = calloc(1, sizeof(*r));
	if (!r)
		return sta_error(err, -ENOMEM, "out of memory");
	r->index = index;
	r->f = *f;
	r->type = stasync_index_reader_digest_type(index);
	/* The header bounds every chunk. */
	chunk_max = (size_t)MAX(h->chunk_size_max, 1);
	/* A remote store answers some requests much later than others
	 * (radosgw: 1 ms or 40 ms; nginx beside 16 threads on two cores:
	 * 1 in 100 of the threads' waits for a CPU took 7 ms or more), and
	 * the ring fills up behind a slow one at its head: with twice as
	 * many slots as threads, 13.4 of 16 requests were in flight on
	 * average; with four times, 15.6, and the CPUs idle 5% of an extract
	 * from nginx; with 16 times, 2%. The ring's bytes hold four of the
	 * largest chunks a thread, so the 16 fill only with smaller ones. A
	 * local store has a thread per CPU: eight slots each, so that the
	 * workers, woken when half the ring is free, take a few each. */
	ahead = sta_fetch_remote(f) ? 16 : 8;
	r->window = MAX((size_t)2, (size_t)threads * ahead);
	threads = (unsigned)MIN((size_t)threads, r->window);
	/* room for a largest chunk in every slot, up to the window's bytes
	 * (the product may not fit a 32-bit size_t), and two of the largest
	 * at least */
	r->ring_size = r->window > STASYNC_FETCH_WINDOW_BYTES / chunk_max
			       ? STASYNC_FETCH_WINDOW_BYTES
			       : r->window * chunk_max;
	r->ring_size = MAX(r->ring_size, 2 * chunk_max);
	r->end_seq = UINT64_MAX;
	r->reread_fd = reread_fd;
	r->reread_base = reread_base;
	r->sink = sink;
	r->sink_ctx = sink_ctx;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->ready, NULL);
	pthread_cond_init(&r->room, NULL);
	pthread_cond_init(&r->written, NULL);
	r->slots = calloc(r->window, sizeof(*r->slots));
	r->ring = malloc(r->ring_size);
	r->threads = calloc(threads, sizeof(*r->threads));
	if (!r->slots || !r->ring || !r->threads ||
	    (reread_fd >= 0 && stasync_chunk_set_new(&r->first) < 0)) {
		stasync_chunk_reader_free(r);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < threads; i++) {
		e = sta_thread_start(&r->threads[i], STA_STACK_WORK, worker, r);
		if (e < 0)
			break;
		r->n_threads++;
	}
	if (r->n_threads == 0) {
		stasync_chunk_reader_free(r);
		return sta_error(err, e, "cannot start a thread: %s", stasync_strerror(e));
	}
	*ret = r;
	return 0;
}

int stasync_chunk_reader_new_reread(stasync_index_reader *index, const stasync_fetch *f,
				    int reread_fd, uint64_t reread_base,
				    stasync_chunk_reader **ret, stasync_error *err)
{
	return reader_new(index, f, reread_fd, reread_base, NULL, NULL, ret, err);
}

int stasync_chunk_reader_drain(stasync_index_reader *index, const stasync_fetch *f,
			       stasync_chunk_sink_fn fn, void *ctx, stasync_chunk_stats *stats,
			       stasync_error *err)
{
	stasync_chunk_reader *r;
	int e = reader_new(index, f, -1, 0, fn, ctx, &r, err);

	if (e < 0)
		return e;
	pthread_mutex_lock(&r->lock);
	while (!r->stop && !(r->head >= r->end_seq && !r->sinking))
		pthread_cond_wait(&r->ready, &r->lock);
	if (r->sink_r < 0) {
		e = r->sink_r;
		if (err)
			*err = r->sink_err;
	} else {
		e = r->end_r;
		if (e < 0 && err)
			*err = r->end_err;
	}
	pthread_mutex_unlock(&r->lock);
	if (stats)
		*stats = r->stats;
	stasync_chunk_reader_free(r);
	return e < 0 ? e : 0;
}

bool stasync_chunk_reader_origin(const stasync_chunk_reader *r, int *fd, uint64_t *offset)
{
	const struct slot *s = &r->slots[r->head % r->window];

	if (!r->holding || !s->got.seeded || s->got.from.fd < 0)
		return false;
	*fd = s->got.from.fd;
	*offset = s->got.from.offset;
	return true;
}

int stasync_chunk_reader_next(stasync_chunk_reader *r, const void **p, size_t *n,
			      stasync_error *err)
{
	struct slot *s;
	int e;

	if (r->holding) {
		bool room;

		pthread_mutex_lock(&r->lock);
		room = release_head(r);
		r->holding = false;
		pthread_mutex_unlock(&r->lock);
		if (room)
			pthread_cond_broadcast(&r->room);
		pthread_cond_broadcast(&r->written);
	}
	pthread_mutex_lock(&r->lock);
	for (;;) {
		s = &r->slots[r->head % r->window];
		if (r->head >= r->end_seq || (r->head < r->next_seq && s->state == SLOT_READY))
			break;
		pthread_cond_wait(&r->ready, &r->lock);
	}
	if (r->head >= r->end_seq) {
		e = r->end_r;
		if (e < 0 && err)
			*err = r->end_err;
		pthread_mutex_unlock(&r->lock);
		return e;
	}
	pthread_mutex_unlock(&r->lock);

	if (s->r < 0) {
		if (err)
			*err = s->err;
		return s->r;
	}
	r->holding = true;
	r->pos = 0;
	count_chunk(r, s);
	*p = r->ring + s->off;
	*n = s->len;
	return 1;
}

ssize_t stasync_chunk_reader_take(stasync_chunk_reader *r, size_t n, const void **p,
				  stasync_error *err)
{
	struct slot *s = &r->slots[r->head % r->window];
	size_t k;

	if (!r->holding || r->pos == s->len) {
		const void *q;
		size_t m;
		int e;

		/* An empty chunk would read as the end: skip to a non-empty one. */
		do {
			e = stasync_chunk_reader_next(r, &q, &m, err);
			if (e <= 0)
				return e;
		} while (m == 0);
		s = &r->slots[r->head % r->window];
	}
	k = MIN(n, s->len - r->pos);
	*p = r->ring + s->off + r->pos;
	r->pos += k;
	return (ssize_t)k;
}

ssize_t stasync_chunk_reader_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	const void *q;
	ssize_t k = stasync_chunk_reader_take(ctx, n, &q, err);

	if (k > 0)
		memcpy(p, q, (size_t)k);
	return k;
}

void stasync_chunk_reader_stats(const stasync_chunk_reader *r, stasync_chunk_stats *stats)
{
	*stats = r->stats;
}

void stasync_chunk_reader_free(stasync_chunk_reader *r)
{
	if (!r)
		return;
	stop_workers(r);
	free(r->ring);
	free(r->slots);
	free(r->threads);
	stasync_chunk_set_free(r->first);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->ready);
	pthread_cond_destroy(&r->room);
	pthread_cond_destroy(&r->written);
	free(r);
}
