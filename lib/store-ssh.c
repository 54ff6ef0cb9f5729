/* A chunk store on another host, read through ssh with casync's remote
 * protocol: one "pull - - - STORE" conversation, a REQUEST per chunk
 * answered by CHUNK or MISSING. Several threads may read at once; they
 * take turns on the one conversation. Read-only: chunks travel to a
 * remote store with the index that names them (stasync_ssh_push()). */
#include <pthread.h>
#include <stdio.h>

#include <stasync/remote.h>
#include "remote.h"
#include "store.h"
#include "util.h"

struct ssh_store {
	struct stasync_store base;
	pthread_mutex_t lock;
	struct sta_conn *conn;
	/* Once a conversation went wrong its state is unknown: every later
	 * call gets the first error. */
	stasync_error broken;
};

/* Ask for one chunk; 1 with its bytes in c->buf (if c), 0 when missing. */
static int ask(struct ssh_store *s, stasync_codec *c, const stasync_chunk_id *id, size_t limit,
	       size_t *size, bool *compressed, stasync_error *err)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	struct sta_proto_msg m;
	int r;

	if (s->broken.code < 0) {
		if (err)
			*err = s->broken;
		return s->broken.code;
	}
	stasync_chunk_id_format(id, hex);
	r = sta_proto_put_request(sta_conn_out(s->conn), STA_PROTO_REQUEST_HIGH_PRIORITY, id, 1);
	if (r < 0)
		return sta_error(err, -ENOMEM, "out of memory");
	for (;;) {
		r = sta_conn_next(s->conn, &m, &s->broken);
		if (r == 0)
			r = sta_error(&s->broken, -EPIPE, "%s: the remote side closed the connection",
				      s->base.locator);
		if (r < 0) {
			sta_error_prefix(&s->broken, r, "chunk %s", hex);
			if (err)
				*err = s->broken;
			return r;
		}
		/* Answers to other chunks are stale: skip them. */
		if ((m.type != STA_PROTO_CHUNK && m.type != STA_PROTO_MISSING) ||
		    memcmp(m.ids, id->bytes, STA_PROTO_ID_SIZE) != 0)
			continue;
		if (m.type == STA_PROTO_MISSING)
			return 0;
		if (!c)
			return 1;
		if (m.size > limit)
			return sta_error(err, -EBADMSG, "chunk %s in %s: %zu bytes, too large for its chunk",
					 hex, s->base.locator, m.size);
		r = sta_codec_reserve(c, m.size);
		if (r < 0)
			return sta_error(err, r, "out of memory");
		memcpy(c->buf, m.data, m.size);
		*size = m.size;
		*compressed = m.flags & STA_PROTO_CHUNK_COMPRESSED;
		return 1;
	}
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
	struct sta_ssh_locator l = { 0 };
	struct ssh_store *s;
	uint64_t remote;
	int r;

	if (flags & STASYNC_STORE_WRITABLE)
		return sta_error(err, -EROFS,
				 "store %s: chunks go to an ssh store only with their index (make host:path.caibx --store=host:path)",
				 locator);
	r = sta_ssh_locator_parse(locator, &l);
	if (r < 0)
		return sta_error(err, r, "store %s: %s", locator,
				 r == -ENOMEM ? "out of memory" : "not an ssh remote");
	s = calloc(1, sizeof(*s));
	if (!s || !(s->base.locator = strdup(locator))) {
		free(s);
		sta_ssh_locator_done(&l);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	s->base.ops = &ssh_ops;
	s->base.flags = flags;
	pthread_mutex_init(&s->lock, NULL);
	r = sta_conn_spawn(&l, "pull", NULL, NULL, l.path, s->base.locator, &s->conn, err);
	if (r == 0)
		r = sta_conn_hello(s->conn, STA_PROTO_PULL_CHUNKS, &remote, err);
	sta_ssh_locator_done(&l);
	if (r < 0) {
		/* No goodbye on a conversation that did not start. */
		s->broken.code = r;
		stasync_store_free(&s->base);
		return r;
	}
	*ret = &s->base;
	return 0;
}
