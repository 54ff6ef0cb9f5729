/* A chunk store on another host, read through ssh with casync's remote
 * protocol: one "pull - - - STORE" conversation, a REQUEST per chunk
 * answered by CHUNK or MISSING. Several threads may read at once: each
 * queues its request and one of them at a time moves the bytes for all,
 * handing each answer to whoever waits for it, so requests overlap on
 * the wire. Read-only: chunks travel to a remote store with the index
 * that names them (stasync_ssh_push()).
 *
 * casync's remote side answers a chunk only once per conversation (its
 * client keeps what it got), so a chunk asked for again - a blob's
 * zero runs repeat the same chunk - comes from a small cache of recent
 * answers, or failing that from a fresh conversation. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>

#include <stasync/remote.h>
#include "remote.h"
#include "store.h"
#include "util.h"

#define RECENT_MAX 256
#define RECENT_BYTES ((size_t)64 << 20)

struct answer {
	stasync_chunk_id id;
	bool missing, compressed;
	uint8_t *data;
	size_t size;
};

/* A thread waiting for the answer about one chunk. */
struct waiter {
	struct waiter *next;
	stasync_chunk_id id;
	stasync_codec *codec;   /* where the bytes go; NULL: has() */
	size_t limit, size;
	bool compressed, done;
	int result;             /* 1 there, 0 missing, < 0 error (in err) */
	stasync_error err;
};

struct ssh_store {
	struct stasync_store base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct waiter *waiters;
	bool leading;           /* a thread moves the bytes */
	unsigned restarting;    /* threads waiting for a fresh conversation */
	int wake[2];            /* a byte here: more to send */
	struct sta_ssh_locator loc;
	struct sta_conn *conn;
	/* Once a conversation went wrong its state is unknown: every later
	 * call gets the first error. */
	stasync_error broken;
	/* Ids asked for in this conversation: an open-addressing set. */
	stasync_chunk_id *asked;
	bool *asked_used;
	size_t asked_n, asked_cap;
	/* The latest answers, oldest first overwritten. */
	struct answer recent[RECENT_MAX];
	size_t recent_next, recent_bytes;
};

static size_t id_hash(const stasync_chunk_id *id, size_t cap)
{
	return (size_t)le64_get(id->bytes) & (cap - 1);
}

/* 1 when id was asked for already, else 0 after noting it; -ENOMEM. */
static int asked_add(struct ssh_store *s, const stasync_chunk_id *id)
{
	size_t i;

	if (2 * (s->asked_n + 1) > s->asked_cap) {
		size_t cap = s->asked_cap ? 2 * s->asked_cap : 1024;
		stasync_chunk_id *ids = calloc(cap, sizeof(*ids));
		bool *used = calloc(cap, sizeof(*used));

		if (!ids || !used) {
			free(ids);
			free(used);
			return -ENOMEM;
		}
		for (size_t j = 0; j < s->asked_cap; j++) {
			if (!s->asked_used[j])
				continue;
			for (i = id_hash(&s->asked[j], cap); used[i]; i = (i + 1) & (cap - 1))
				;
			used[i] = true;
			ids[i] = s->asked[j];
		}
		free(s->asked);
		free(s->asked_used);
		s->asked = ids;
		s->asked_used = used;
		s->asked_cap = cap;
	}
	for (i = id_hash(id, s->asked_cap); s->asked_used[i]; i = (i + 1) & (s->asked_cap - 1))
		if (stasync_chunk_id_equal(&s->asked[i], id))
			return 1;
	s->asked_used[i] = true;
	s->asked[i] = *id;
	s->asked_n++;
	return 0;
}

static struct answer *recent_find(struct ssh_store *s, const stasync_chunk_id *id)
{
	for (size_t i = 0; i < RECENT_MAX; i++)
		if (s->recent[i].data && stasync_chunk_id_equal(&s->recent[i].id, id))
			return &s->recent[i];
	return NULL;
}

static void recent_drop(struct ssh_store *s, struct answer *a)
{
	s->recent_bytes -= a->size;
	free(a->data);
	*a = (struct answer){ 0 };
}

/* Keep a copy of an answer; a failure to is no error, only a cost later. */
static void recent_add(struct ssh_store *s, const stasync_chunk_id *id, bool missing,
		       bool compressed, const void *p, size_t n)
{
	struct answer *a;

	if (n > RECENT_BYTES / 4)
		return;
	for (size_t i = 0; i < RECENT_MAX && s->recent_bytes + n > RECENT_BYTES; i++)
		if (s->recent[i].data)
			recent_drop(s, &s->recent[i]);
	a = &s->recent[s->recent_next];
	s->recent_next = (s->recent_next + 1) % RECENT_MAX;
	if (a->data)
		recent_drop(s, a);
	a->data = malloc(n ? n : 1);
	if (!a->data)
		return;
	if (n)
		memcpy(a->data, p, n);
	a->id = *id;
	a->missing = missing;
	a->compressed = compressed;
	a->size = n;
	s->recent_bytes += n;
}

/* End the conversation and start another. */
static int restart(struct ssh_store *s, stasync_error *err)
{
	uint64_t remote;
	int r;

	if (s->conn && sta_proto_put_empty(sta_conn_out(s->conn), STA_PROTO_GOODBYE) == 0)
		(void)sta_conn_flush(s->conn, NULL);
	sta_conn_close(s->conn);
	s->conn = NULL;
	free(s->asked);
	free(s->asked_used);
	s->asked = NULL;
	s->asked_used = NULL;
	s->asked_n = s->asked_cap = 0;
	r = sta_conn_spawn(&s->loc, "pull", NULL, NULL, s->loc.path, s->base.locator, &s->conn, err);
	if (r == 0)
		r = sta_conn_hello(s->conn, STA_PROTO_PULL_CHUNKS, &remote, err);
	return r;
}

/* Hand an answer to one waiter. */
static void answer(struct waiter *w, bool missing, bool compressed, const void *p, size_t n,
		   const char *locator)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	int r;

	w->done = true;
	w->result = missing ? 0 : 1;
	if (missing || !w->codec)
		return;
	if (n > w->limit) {
		w->result = sta_error(&w->err, -EBADMSG, "chunk %s in %s: %zu bytes, too large for its chunk",
				      stasync_chunk_id_format(&w->id, hex), locator, n);
		return;
	}
	r = sta_codec_reserve(w->codec, n);
	if (r < 0) {
		w->result = sta_error(&w->err, r, "out of memory");
		return;
	}
	memcpy(w->codec->buf, p, n);
	w->size = n;
	w->compressed = compressed;
}

static struct waiter *waiter_find(struct ssh_store *s, const stasync_chunk_id *id)
{
	for (struct waiter *w = s->waiters; w; w = w->next)
		if (!w->done && stasync_chunk_id_equal(&w->id, id))
			return w;
	return NULL;
}

/* The conversation broke: everyone waiting gets its error. */
static void fail_all(struct ssh_store *s, int r)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];

	for (struct waiter *w = s->waiters; w; w = w->next) {
		if (w->done)
			continue;
		w->done = true;
		w->result = r;
		w->err = s->broken;
		sta_error_prefix(&w->err, r, "chunk %s", stasync_chunk_id_format(&w->id, hex));
	}
}

/* Move bytes for everyone until `me` has its answer. Called with the
 * lock held; it is let go only while waiting in poll(). */
static void lead(struct ssh_store *s, struct waiter *me)
{
	struct sta_proto_msg m;
	int r;

	while (!me->done) {
		struct pollfd p[3];
		bool answered = false;
		uint8_t drain[64];
		int in_fd, out_fd;

		while ((r = sta_conn_try_next(s->conn, &m, &s->broken)) != -EAGAIN) {
			if (r == 0)
				r = sta_error(&s->broken, -EPIPE, "%s: the remote side closed the connection",
					      s->base.locator);
			if (r < 0) {
				fail_all(s, r);
				return;
			}
			/* Answers nobody waits for any more are stale: skip them. */
			if (m.type != STA_PROTO_CHUNK && m.type != STA_PROTO_MISSING)
				continue;
			recent_add(s, (const stasync_chunk_id *)m.ids, m.type == STA_PROTO_MISSING,
				   m.flags & STA_PROTO_CHUNK_COMPRESSED, m.data, m.size);
			for (struct waiter *w = s->waiters; w; w = w->next)
				if (!w->done && memcmp(w->id.bytes, m.ids, STA_PROTO_ID_SIZE) == 0) {
					answer(w, m.type == STA_PROTO_MISSING,
					       m.flags & STA_PROTO_CHUNK_COMPRESSED, m.data, m.size,
					       s->base.locator);
					answered = true;
				}
		}
		if (answered)
			pthread_cond_broadcast(&s->cond);
		if (me->done)
			return;
		sta_conn_poll_fds(s->conn, &in_fd, &out_fd);
		p[0] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = out_fd, .events = POLLOUT };
		p[2] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pthread_mutex_unlock(&s->lock);
		while ((r = poll(p, 3, -1)) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&s->lock);
		if (r < 0) {
			r = sta_error(&s->broken, -errno, "%s: poll: %s", s->base.locator,
				      stasync_strerror(-errno));
			fail_all(s, r);
			return;
		}
		while (read(s->wake[0], drain, sizeof(drain)) > 0)
			;
		/* What was queued meanwhile goes out at the next round. */
		r = sta_conn_io(s->conn, p[0].revents != 0, p[1].revents != 0, &s->broken);
		if (r < 0) {
			fail_all(s, r);
			return;
		}
	}
}

/* Ask for one chunk; 1 with its bytes in c->buf (if c), 0 when missing.
 * Called with the lock held. */
static int ask(struct ssh_store *s, stasync_codec *c, const stasync_chunk_id *id, size_t limit,
	       size_t *size, bool *compressed, stasync_error *err)
{
	struct waiter me = { .id = *id, .codec = c, .limit = limit };
	struct answer *a;
	bool wants_restart = false;
	int r;

	for (;;) {
		if (s->broken.code < 0) {
			r = s->broken.code;
			if (err)
				*err = s->broken;
			break;
		}
		a = recent_find(s, id);
		if (a) {
			answer(&me, a->missing, a->compressed, a->data, a->size, s->base.locator);
			r = 0;
			break;
		}
		if (waiter_find(s, id)) {
			r = 0;
			break;   /* on its way already: wait for the same answer */
		}
		/* Someone needs a fresh conversation: let this one drain. */
		if (s->restarting && !wants_restart) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		r = asked_add(s, id);
		if (r == 0)
			r = sta_proto_put_request(sta_conn_out(s->conn), STA_PROTO_REQUEST_HIGH_PRIORITY,
						  id, 1);
		if (r == 0) {
			(void)!write(s->wake[1], "", 1);
			break;
		}
		if (r < 0) {
			sta_error(err, r, "out of memory");
			break;
		}
		/* Asked before and no longer kept: a fresh conversation, once
		 * nobody waits on this one. */
		if (!wants_restart) {
			wants_restart = true;
			s->restarting++;
		}
		if (s->waiters || s->leading) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		r = restart(s, &s->broken);
		if (r < 0) {
			if (err)
				*err = s->broken;
			break;
		}
	}
	if (wants_restart) {
		s->restarting--;
		pthread_cond_broadcast(&s->cond);
	}
	if (r < 0)
		return r;
	me.next = s->waiters;
	s->waiters = &me;
	while (!me.done) {
		if (s->leading) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		s->leading = true;
		lead(s, &me);
		s->leading = false;
		pthread_cond_broadcast(&s->cond);
	}
	for (struct waiter **w = &s->waiters; *w; w = &(*w)->next)
		if (*w == &me) {
			*w = me.next;
			break;
		}
	if (s->waiters == NULL)
		pthread_cond_broadcast(&s->cond);   /* a restart may wait for this */
	if (me.result < 0) {
		if (err)
			*err = me.err;
		return me.result;
	}
	if (me.result > 0 && c) {
		*size = me.size;
		*compressed = me.compressed;
	}
	return me.result;
}

static int ssh_fetch(stasync_store *base, stasync_codec *c, const stasync_chunk_id *id,
		     size_t limit, size_t *size, bool *compressed, stasync_error *err)
{
	struct ssh_store *s = (struct ssh_store *)base;
	char hex[STASYNC_DIGEST_HEX_SIZE];
	int r;

	pthread_mutex_lock(&s->lock);
	r = ask(s, c, id, limit, size, compressed, err);
	pthread_mutex_unlock(&s->lock);
	if (r == 0)
		return sta_error(err, -ENOENT, "chunk %s: missing in %s",
				 stasync_chunk_id_format(id, hex), base->locator);
	return r < 0 ? r : 0;
}

static int ssh_has(stasync_store *base, const stasync_chunk_id *id, stasync_error *err)
{
	struct ssh_store *s = (struct ssh_store *)base;
	int r;

	pthread_mutex_lock(&s->lock);
	r = ask(s, NULL, id, 0, NULL, NULL, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int ssh_put(stasync_store *base, const stasync_chunk_id *id, const void *data, size_t n,
		   stasync_error *err)
{
	(void)id, (void)data, (void)n;
	return sta_error(err, -EROFS, "store %s: read-only over ssh", base->locator);
}

static void ssh_free(stasync_store *base)
{
	struct ssh_store *s = (struct ssh_store *)base;

	/* Leave politely; the remote side also copes with a plain close. */
	if (s->conn && s->broken.code == 0 &&
	    sta_proto_put_empty(sta_conn_out(s->conn), STA_PROTO_GOODBYE) == 0)
		(void)sta_conn_flush(s->conn, NULL);
	sta_conn_close(s->conn);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	pthread_cond_destroy(&s->cond);
	for (size_t i = 0; i < RECENT_MAX; i++)
		free(s->recent[i].data);
	free(s->asked);
	free(s->asked_used);
	sta_ssh_locator_done(&s->loc);
	pthread_mutex_destroy(&s->lock);
}

static const struct sta_store_ops ssh_ops = {
	.kind = "ssh",
	.fetch = ssh_fetch,
	.has = ssh_has,
	.put = ssh_put,
	.free = ssh_free,
};

int sta_store_ssh_open(const char *locator, unsigned flags, stasync_store **ret,
		       stasync_error *err)
{
	struct ssh_store *s;
	int r;

	if (flags & STASYNC_STORE_WRITABLE)
		return sta_error(err, -EROFS,
				 "store %s: chunks go to an ssh store only with their index (make host:path.caibx --store=host:path)",
				 locator);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->base.locator = strdup(locator))) {
		free(s);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	s->base.ops = &ssh_ops;
	s->base.flags = flags;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->wake[0] = s->wake[1] = -1;
	r = sta_ssh_locator_parse(locator, &s->loc);
	if (r < 0)
		sta_error(err, r, "store %s: %s", locator,
			  r == -ENOMEM ? "out of memory" : "not an ssh remote");
	else if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		r = sta_error(err, -errno, "store %s: %s", locator, stasync_strerror(-errno));
	else
		r = restart(s, err);
	if (r < 0) {
		/* No goodbye on a conversation that did not start. */
		s->broken.code = r;
		stasync_store_free(&s->base);
		return r;
	}
	*ret = &s->base;
	return 0;
}
