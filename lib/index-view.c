/* Random access to the stream an index describes. The index's items are
 * kept in an array and searched by offset; chunks are fetched into
 * entries of a small hash table keyed by the chunk's place in the index.
 * An entry is first "fetching" (whoever wants it too waits on `done`),
 * then "ready" and on the LRU list, most recently used first. Entries in
 * use by a read hold a reference and are never dropped; a failed fetch
 * leaves the table at once, so the next read tries again.
 *
 * A read that starts where an earlier one ended (one of a few streams)
 * queues the chunks after it; the view's workers fetch them ahead into the
 * same table, but only into room the cache has or can make by dropping
 * chunks already used, never chunks fetched ahead and not yet read. */
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>

#include <stasync/index-view.h>
#include "fetch.h"
#include "util.h"

#define N_STREAMS 4
#define WORKERS_MAX 16u
#define READAHEAD_MAX 1024u
/* chunks fetched ahead by default: at least this many, 4 per thread */
#define READAHEAD_DEFAULT_MIN 16u

enum entry_state {
	ENTRY_FETCHING,
	ENTRY_READY,
	ENTRY_FAILED,   /* out of the table, freed by its last reference */
};

struct entry {
	uint64_t idx;           /* the chunk's place in the index */
	uint8_t *buf;
	size_t len;
	enum entry_state state;
	bool unread;            /* fetched ahead, not used by a read yet */
	unsigned refs;
	int r;                  /* FAILED: why */
	stasync_error *err;     /* ... and the message (NULL: out of memory) */
	struct entry *hnext;
	struct entry *prev, *next;   /* the LRU list, when READY */
};

struct stream {
	uint64_t end;           /* where its last read ended */
	uint64_t used;          /* when, in reads */
	size_t queued;          /* the chunks before this one were queued */
};

struct stasync_index_view {
	char *name;
	stasync_fetch f;
	stasync_digest_type type;
	stasync_index_header header;
	stasync_index_item *items;
	size_t n_items;
	uint64_t size;
	size_t cache_bytes;
	unsigned readahead;

	pthread_t *threads;
	unsigned n_threads;

	pthread_mutex_t lock;
	pthread_cond_t done;    /* an entry stopped fetching */
	pthread_cond_t work;    /* the queue grew, or stop */
	/* under lock: */
	struct entry **buckets;
	size_t n_buckets;       /* a power of two */
	struct entry *lru_head, *lru_tail;
	uint64_t cached;        /* bytes of the entries in the table */
	uint64_t *queue;        /* chunks to fetch ahead, a ring */
	size_t queue_cap, queue_head, queue_len;
	struct stream streams[N_STREAMS];
	uint64_t reads;
	stasync_codec **codecs; /* idle codecs for readers' fetches */
	size_t n_codecs, codecs_cap;
	stasync_index_view_stats stats;
	bool stop;
};

/* ---- the table and the LRU list (under lock) ------------------------------ */

static size_t bucket_of(const stasync_index_view *v, uint64_t idx)
{
	return (size_t)((idx * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (v->n_buckets - 1);
}

static struct entry *lookup(const stasync_index_view *v, uint64_t idx)
{
	struct entry *e = v->buckets[bucket_of(v, idx)];

	while (e && e->idx != idx)
		e = e->hnext;
	return e;
}

static void table_add(stasync_index_view *v, struct entry *e)
{
	size_t b = bucket_of(v, e->idx);

	e->hnext = v->buckets[b];
	v->buckets[b] = e;
	v->cached += e->len;
}

static void table_remove(stasync_index_view *v, struct entry *e)
{
	struct entry **p = &v->buckets[bucket_of(v, e->idx)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	v->cached -= e->len;
}

static void lru_unlink(stasync_index_view *v, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		v->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		v->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(stasync_index_view *v, struct entry *e)
{
	e->prev = NULL;
	e->next = v->lru_head;
	if (v->lru_head)
		v->lru_head->prev = e;
	else
		v->lru_tail = e;
	v->lru_head = e;
}

static void entry_free(struct entry *e)
{
	free(e->buf);
	free(e->err);
	free(e);
}

static void unref(struct entry *e)
{
	if (--e->refs == 0 && e->state == ENTRY_FAILED)
		entry_free(e);
}

static bool evictable(const struct entry *e, bool ahead)
{
	return e->refs == 0 && !(ahead && e->unread);
}

/* Make room for `len` more bytes, dropping the least recently used chunks
 * no read is using. A fetch for a read drops what it can and goes ahead
 * anyway (a chunk always fits); a fetch ahead drops nothing unless that
 * makes enough room, and never a chunk fetched ahead and not read yet.
 * Whether the room is there. */
static bool make_room(stasync_index_view *v, size_t len, bool ahead)
{
	uint64_t need, freeable = 0;

	if (v->cached + len <= v->cache_bytes)
		return true;
	need = v->cached + len - v->cache_bytes;
	if (ahead) {
		for (struct entry *e = v->lru_tail; e && freeable < need; e = e->prev)
			if (evictable(e, true))
				freeable += e->len;
		if (freeable < need)
			return false;
	}
	for (struct entry *e = v->lru_tail, *prev; e && v->cached + len > v->cache_bytes; e = prev) {
		prev = e->prev;
		if (!evictable(e, ahead))
			continue;
		lru_unlink(v, e);
		table_remove(v, e);
		entry_free(e);
		v->stats.evicted++;
	}
	return v->cached + len <= v->cache_bytes;
}

/* A new entry for chunk idx, in the table and fetching, referenced once
 * by its fetcher. */
static struct entry *entry_start(stasync_index_view *v, uint64_t idx, bool ahead)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->idx = idx;
	e->len = (size_t)v->items[idx].size;
	e->state = ENTRY_FETCHING;
	e->unread = ahead;
	e->refs = 1;
	table_add(v, e);
	return e;
}

/* ---- fetching ---------------------------------------------------------------- */

/* Fetch the chunk of entry e (not under lock): 0, or an error whose
 * message names the view and the chunk. */
static int fetch(stasync_index_view *v, stasync_codec *c, struct entry *e, stasync_error *err)
{
	const stasync_index_item *item = &v->items[e->idx];
	char hex[STASYNC_DIGEST_HEX_SIZE];
	struct sta_fetch_result got;
	int r;

	if (!c)
		r = sta_error(err, -ENOMEM, "out of memory");
	else if (!(e->buf = malloc(MAX(e->len, (size_t)1))))
		r = sta_error(err, -ENOMEM, "out of memory for a chunk of %zu bytes", e->len);
	else
		r = sta_fetch_chunk(&v->f, c, v->type, &item->id, e->buf, e->len, &got, err);
	if (r == 0) {
		sta_fetch_count(&v->f, e->len, &got);
		return 0;
	}
	if (r == -ENOENT)
		r = -EIO;
	/* the stores' messages name the chunk, most of them */
	stasync_chunk_id_format(&item->id, hex);
	if (err && strstr(err->message, hex))
		return sta_error_prefix(err, r, "%s, bytes %" PRIu64 "-%" PRIu64, v->name,
					item->offset, item->offset + item->size);
	return sta_error_prefix(err, r, "%s, bytes %" PRIu64 "-%" PRIu64 ", chunk %s", v->name,
				item->offset, item->offset + item->size, hex);
}

/* Under lock again after fetch(): the entry becomes ready, or leaves the
 * table with its error for those waiting. Wakes them. */
static void fetch_done(stasync_index_view *v, struct entry *e, int r, const stasync_error *err)
{
	if (r == 0) {
		e->state = ENTRY_READY;
		lru_push(v, e);
	} else {
		table_remove(v, e);
		e->state = ENTRY_FAILED;
		e->r = r;
		e->err = malloc(sizeof(*e->err));
		if (e->err)
			*e->err = *err;
		free(e->buf);
		e->buf = NULL;
		v->stats.failed++;
	}
	pthread_cond_broadcast(&v->done);
}

static stasync_codec *codec_take(stasync_index_view *v)
{
	stasync_codec *c = NULL;

	pthread_mutex_lock(&v->lock);
	if (v->n_codecs > 0)
		c = v->codecs[--v->n_codecs];
	pthread_mutex_unlock(&v->lock);
	if (!c && stasync_codec_new(&c) < 0)
		return NULL;
	return c;
}

static void codec_give_back(stasync_index_view *v, stasync_codec *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&v->lock);
	if (v->n_codecs == v->codecs_cap) {
		size_t cap = v->codecs_cap ? v->codecs_cap * 2 : 8;
		stasync_codec **p = realloc(v->codecs, cap * sizeof(*p));

		if (p) {
			v->codecs = p;
			v->codecs_cap = cap;
		}
	}
	if (v->n_codecs < v->codecs_cap) {
		v->codecs[v->n_codecs++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&v->lock);
	stasync_codec_free(c);
}

/* Chunk idx for a read, referenced: from the table (waiting while another
 * thread fetches it), else fetched on the caller's thread. */
static int get(stasync_index_view *v, uint64_t idx, struct entry **ret, stasync_error *err)
{
	stasync_error my_err = { 0, "" };
	stasync_codec *c;
	struct entry *e;
	int r;

	pthread_mutex_lock(&v->lock);
	e = lookup(v, idx);
	if (e) {
		e->refs++;
		while (e->state == ENTRY_FETCHING)
			pthread_cond_wait(&v->done, &v->lock);
		if (e->state == ENTRY_FAILED) {
			r = e->r;
			if (e->err && err)
				*err = *e->err;
			else if (!e->err)
				sta_error(err, r, "%s: chunk %" PRIu64 " failed", v->name, idx);
			unref(e);
			pthread_mutex_unlock(&v->lock);
			return r;
		}
		v->stats.cache_hits++;
		e->unread = false;
		lru_unlink(v, e);
		lru_push(v, e);
		pthread_mutex_unlock(&v->lock);
		*ret = e;
		return 0;
	}
	make_room(v, (size_t)v->items[idx].size, false);
	e = entry_start(v, idx, false);
	pthread_mutex_unlock(&v->lock);
	if (!e)
		return sta_error(err, -ENOMEM, "out of memory");

	c = codec_take(v);
	r = fetch(v, c, e, &my_err);
	codec_give_back(v, c);

	pthread_mutex_lock(&v->lock);
	fetch_done(v, e, r, &my_err);
	if (r < 0) {
		unref(e);
		pthread_mutex_unlock(&v->lock);
		if (err)
			*err = my_err;
		return r;
	}
	v->stats.fetched++;
	pthread_mutex_unlock(&v->lock);
	*ret = e;
	return 0;
}

static void put(stasync_index_view *v, struct entry *e)
{
	pthread_mutex_lock(&v->lock);
	unref(e);
	pthread_mutex_unlock(&v->lock);
}

/* ---- fetching ahead ---------------------------------------------------------- */

/* Queue chunk idx to be fetched ahead (under lock), unless it is in the
 * table or queued already. A full queue drops its oldest. */
static void enqueue(stasync_index_view *v, uint64_t idx)
{
	if (lookup(v, idx))
		return;
	for (size_t i = 0; i < v->queue_len; i++)
		if (v->queue[(v->queue_head + i) % v->queue_cap] == idx)
			return;
	if (v->queue_len == v->queue_cap) {
		v->queue_head = (v->queue_head + 1) % v->queue_cap;
		v->queue_len--;
	}
	v->queue[(v->queue_head + v->queue_len) % v->queue_cap] = idx;
	v->queue_len++;
	pthread_cond_signal(&v->work);
}

static void *worker(void *arg)
{
	stasync_index_view *v = arg;
	stasync_codec *c = NULL;

	if (stasync_codec_new(&c) < 0)
		c = NULL;
	pthread_mutex_lock(&v->lock);
	for (;;) {
		stasync_error err = { 0, "" };
		struct entry *e;
		uint64_t idx;
		int r;

		while (!v->stop && v->queue_len == 0)
			pthread_cond_wait(&v->work, &v->lock);
		if (v->stop)
			break;
		idx = v->queue[v->queue_head];
		v->queue_head = (v->queue_head + 1) % v->queue_cap;
		v->queue_len--;
		/* Without a codec this thread fetches nothing: the reads will. */
		if (!c || lookup(v, idx) || !make_room(v, (size_t)v->items[idx].size, true))
			continue;
		e = entry_start(v, idx, true);
		if (!e)
			continue;
		pthread_mutex_unlock(&v->lock);
		r = fetch(v, c, e, &err);
		pthread_mutex_lock(&v->lock);
		fetch_done(v, e, r, &err);
		if (r == 0)
			v->stats.prefetched++;
		unref(e);
	}
	pthread_mutex_unlock(&v->lock);
	stasync_codec_free(c);
	return NULL;
}

/* The stream a read of [offset, end) continues, or NULL when it follows
 * on from no earlier read (under lock); either way it becomes the last
 * read of a stream, the least recently used one when it starts anew. */
static struct stream *sequential(stasync_index_view *v, uint64_t offset, uint64_t end)
{
	struct stream *s = &v->streams[0];
	bool follows = false;

	v->reads++;
	for (size_t i = 0; i < N_STREAMS; i++) {
		if (v->streams[i].used && v->streams[i].end == offset) {
			s = &v->streams[i];
			follows = true;
			break;
		}
		if (v->streams[i].used < s->used)
			s = &v->streams[i];
	}
	if (!follows)
		s->queued = 0;
	s->end = end;
	s->used = v->reads;
	return follows ? s : NULL;
}

/* ---- the interface ----------------------------------------------------------- */

/* The first chunk that ends after `offset` (< v->size). */
static size_t find(const stasync_index_view *v, uint64_t offset)
{
	size_t lo = 0, hi = v->n_items;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->items[mid].offset + v->items[mid].size <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

ssize_t stasync_index_view_pread(stasync_index_view *v, void *buf, size_t n, uint64_t offset,
				 stasync_error *err)
{
	return stasync_index_view_pread_flags(v, buf, n, offset, 0, err);
}

ssize_t stasync_index_view_pread_flags(stasync_index_view *v, void *buf, size_t n,
				       uint64_t offset, unsigned flags, stasync_error *err)
{
	uint8_t *out = buf;
	struct stream *s;
	size_t first, last, done = 0;
	uint64_t end;

	if (offset >= v->size || n == 0)
		return 0;
	n = (size_t)MIN((uint64_t)n, v->size - offset);
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	end = offset + n;
	first = find(v, offset);
	last = find(v, end - 1);

	/* Reads in order: queue the chunks after the first one this read
	 * touches, up to `readahead` past its last, that this stream has not
	 * queued yet. */
	if (!(flags & STASYNC_INDEX_VIEW_NO_AHEAD)) {
		pthread_mutex_lock(&v->lock);
		s = sequential(v, offset, end);
		if (s && v->n_threads > 0) {
			size_t i = MAX(first + 1, s->queued);

			for (; i <= last + v->readahead && i < v->n_items; i++)
				enqueue(v, i);
			s->queued = MAX(s->queued, i);
		}
		pthread_mutex_unlock(&v->lock);
	}

	for (size_t i = first; i <= last; i++) {
		const stasync_index_item *item = &v->items[i];
		uint64_t from = MAX(offset, item->offset);
		uint64_t to = MIN(end, item->offset + item->size);
		struct entry *e;
		int r;

		r = get(v, i, &e, err);
		if (r < 0)
			return r;
		memcpy(out + done, e->buf + (from - item->offset), (size_t)(to - from));
		done += (size_t)(to - from);
		put(v, e);
	}
	return (ssize_t)done;
}

/* Read every item of the index into v->items. */
static int load(stasync_index_view *v, stasync_index_reader *index, stasync_error *err)
{
	uint64_t chunks = 0, bytes;
	size_t cap = 0;
	int r;

	/* The totals are a hint for the first allocation only. */
	if (stasync_index_reader_totals(index, &chunks, &bytes) == 0 && chunks < (1u << 24))
		cap = (size_t)chunks;
	for (;;) {
		stasync_index_item item;

		r = stasync_index_reader_next(index, &item, err);
		if (r < 0)
			return sta_error_prefix(err, r, "%s", v->name);
		if (r == 0)
			break;
		if (v->n_items == cap || !v->items) {
			size_t new_cap = v->items ? cap * 2 : MAX(cap, (size_t)64);
			stasync_index_item *p;

			if (new_cap > SIZE_MAX / sizeof(*p) ||
			    !(p = realloc(v->items, new_cap * sizeof(*p))))
				return sta_error(err, -ENOMEM, "%s: out of memory for %zu chunks",
						 v->name, v->n_items);
			v->items = p;
			cap = new_cap;
		}
		v->items[v->n_items++] = item;
		v->size = item.offset + item.size;
	}
	return 0;
}

int stasync_index_view_new(stasync_index_reader *index, const stasync_index_view_options *o,
			   const char *name, stasync_index_view **ret, stasync_error *err)
{
	stasync_index_view *v;
	size_t entries, buckets = 16;
	unsigned threads;
	int r = 0;

	if (!o || !o->fetch)
		return sta_error(err, -EINVAL, "%s: no stores to read chunks from", name);
	v = calloc(1, sizeof(*v));
	if (!v)
		return sta_error(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->done, NULL);
	pthread_cond_init(&v->work, NULL);
	v->f = *o->fetch;
	v->header = *stasync_index_reader_header(index);
	v->type = stasync_index_reader_digest_type(index);
	v->cache_bytes = o->cache_bytes ? o->cache_bytes : STASYNC_INDEX_VIEW_CACHE_DEFAULT;
	/* as many threads as reading the stream in order uses; fetching ahead
	 * goes deeper than that, so that a large read never waits for all of
	 * its chunks */
	threads = v->f.threads ? v->f.threads : sta_fetch_default_threads(&v->f);
	threads = MAX(MIN(threads, WORKERS_MAX), 1u);
	v->readahead = o->readahead ? o->readahead : MAX(4 * threads, READAHEAD_DEFAULT_MIN);
	v->readahead = MIN(v->readahead, READAHEAD_MAX);
	v->name = strdup(name ? name : "index");
	if (!v->name) {
		stasync_index_view_free(v);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	r = load(v, index, err);
	if (r < 0) {
		stasync_index_view_free(v);
		return r;
	}

	/* About as many buckets as the cache holds chunks, of the index's
	 * average size, and no more than there are chunks. */
	entries = v->n_items ? (size_t)MIN((uint64_t)v->cache_bytes /
					   MAX(v->size / v->n_items, (uint64_t)1),
					   (uint64_t)v->n_items) : 1;
	while (buckets < entries + WORKERS_MAX && buckets < ((size_t)1 << 24))
		buckets *= 2;
	v->n_buckets = buckets;
	v->buckets = calloc(buckets, sizeof(*v->buckets));
	v->queue_cap = (size_t)v->readahead * 2;
	v->queue = calloc(v->queue_cap, sizeof(*v->queue));
	v->threads = calloc(threads, sizeof(*v->threads));
	if (!v->buckets || !v->queue || !v->threads) {
		stasync_index_view_free(v);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < threads; i++) {
		r = sta_thread_start(&v->threads[i], STA_STACK_WORK, worker, v);
		if (r < 0)
			break;
		v->n_threads++;
	}
	if (v->n_threads == 0) {
		stasync_index_view_free(v);
		return sta_error(err, r, "cannot start a thread: %s", stasync_strerror(r));
	}
	*ret = v;
	return 0;
}

uint64_t stasync_index_view_size(const stasync_index_view *v)
{
	return v->size;
}

uint64_t stasync_index_view_chunks(const stasync_index_view *v)
{
	return v->n_items;
}

const stasync_index_header *stasync_index_view_header(const stasync_index_view *v)
{
	return &v->header;
}

void stasync_index_view_stats_get(const stasync_index_view *v, stasync_index_view_stats *ret)
{
	/* the lock is the view's, not part of what const promises */
	pthread_mutex_t *lock = (pthread_mutex_t *)&v->lock;

	pthread_mutex_lock(lock);
	*ret = v->stats;
	ret->cached_bytes = v->cached;
	pthread_mutex_unlock(lock);
}

void stasync_index_view_free(stasync_index_view *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->work);
	pthread_mutex_unlock(&v->lock);
	for (unsigned i = 0; i < v->n_threads; i++)
		pthread_join(v->threads[i], NULL);
	for (size_t b = 0; v->buckets && b < v->n_buckets; b++)
		for (struct entry *e = v->buckets[b], *next; e; e = next) {
			next = e->hnext;
			entry_free(e);
		}
	for (size_t i = 0; i < v->n_codecs; i++)
		stasync_codec_free(v->codecs[i]);
	free(v->codecs);
	free(v->buckets);
	free(v->queue);
	free(v->threads);
	free(v->items);
	free(v->name);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->done);
	pthread_cond_destroy(&v->work);
	free(v);
}
