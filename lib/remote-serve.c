/* The remote side of casync's protocol ("pull" and "push" run through
 * ssh): hand out an index and chunks, or take them in. Whatever a client
 * pushes is checked before it lands: each chunk against its id, and the
 * index is put in place only when every chunk it names is stored. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include <stasync/index.h>
#include <stasync/output.h>
#include <stasync/remote.h>
#include "remote.h"
#include "store.h"
#include "util.h"

#define REQUEST_BATCH 4096
/* The largest index a client may push (the size an HTTP index may have). */
#define PUSH_INDEX_MAX ((uint64_t)1 << 30)

struct stores {
	stasync_store **s;
	size_t n;
};

static void stores_free(struct stores *st)
{
	for (size_t i = 0; i < st->n; i++)
		stasync_store_free(st->s[i]);
	free(st->s);
	st->s = NULL;
	st->n = 0;
}

/* The paths are this host's own: never taken for remotes again. */
static int stores_open(const stasync_remote_paths *p, bool writable, struct stores *st,
		       stasync_error *err)
{
	size_t n = !!p->wstore + p->n_rstores;
	int r;

	st->s = calloc(n ? n : 1, sizeof(*st->s));
	if (!st->s)
		return sta_error(err, -ENOMEM, "out of memory");
	if (p->wstore) {
		r = sta_store_local_open(p->wstore, writable ? STASYNC_STORE_WRITABLE : 0,
					 &st->s[st->n], err);
		if (r < 0)
			return r;
		st->n++;
	}
	for (size_t i = 0; i < p->n_rstores; i++) {
		r = sta_store_local_open(p->rstores[i], 0, &st->s[st->n], err);
		if (r < 0)
			return r;
		st->n++;
	}
	return 0;
}

static int fail(struct sta_conn *c, int r, stasync_error *err)
{
	sta_conn_abort(c, err);
	return r;
}

static int nomem(stasync_error *err)
{
	return sta_error(err, -ENOMEM, "out of memory");
}

/* ---- pull: the client reads ----------------------------------------------- */

static int answer_request(struct sta_conn *c, struct stores *st, stasync_codec *codec,
			  const struct sta_proto_msg *m, stasync_error *err)
{
	/* The message lives in the input buffer, which flushing may move. */
	size_t n_ids = m->n_ids;
	_cleanup_free_ uint8_t *ids = malloc(n_ids * STA_PROTO_ID_SIZE);

	if (!ids)
		return nomem(err);
	memcpy(ids, m->ids, n_ids * STA_PROTO_ID_SIZE);
	for (size_t i = 0; i < n_ids; i++) {
		stasync_chunk_id id;
		bool found = false, compressed = false;
		size_t n = 0;
		int r = 0;

		memcpy(id.bytes, ids + i * STA_PROTO_ID_SIZE, STA_PROTO_ID_SIZE);
		for (size_t j = 0; j < st->n && !found; j++) {
			r = st->s[j]->ops->fetch(st->s[j], codec, &id, STA_PROTO_CHUNK_DATA_MAX, &n,
						 &compressed, err);
			if (r == 0 && n > 0)
				found = true;
			/* An unreadable or oversized chunk file is as good as
			 * missing: the client may have it elsewhere. */
			else if (r < 0 && r != -ENOENT && r != -EBADMSG)
				return r;
		}
		if (found)
			r = sta_proto_put_chunk(sta_conn_out(c), &id, compressed, codec->buf, n);
		else
			r = sta_proto_put_missing(sta_conn_out(c), &id);
		if (r < 0)
			return nomem(err);
		if (sta_conn_out_pending(c) > STA_CONN_OUT_HIGH && (r = sta_conn_flush(c, err)) < 0)
			return r;
	}
	return 0;
}

static int open_input(const char *path, int *ret, stasync_error *err)
{
	if (!path)
		return 0;
	*ret = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*ret < 0)
		return sta_error(err, -errno, "%s: cannot open: %s", path, stasync_strerror(-errno));
	return 0;
}

int stasync_remote_serve_pull(int in_fd, int out_fd, const stasync_remote_paths *p,
			      stasync_error *err)
{
	struct stores st = { 0 };
	struct sta_conn *c = NULL;
	stasync_codec *codec = NULL;
	_cleanup_close_ int index_fd = -EBADF, archive_fd = -EBADF;
	struct sta_proto_msg m;
	uint64_t local, remote;
	int r;

	r = sta_conn_open_fds(in_fd, out_fd, "client", &c, err);
	if (r < 0)
		return r;
	r = stores_open(p, false, &st, err);
	if (r == 0)
		r = open_input(p->index, &index_fd, err);
	if (r == 0)
		r = open_input(p->archive, &archive_fd, err);
	if (r == 0 && (r = stasync_codec_new(&codec)) < 0)
		nomem(err);
	if (r < 0) {
		fail(c, r, err);
		goto out;
	}
	local = (st.n ? STA_PROTO_READABLE_STORE : 0) | (p->index ? STA_PROTO_READABLE_INDEX : 0) |
		(p->archive ? STA_PROTO_READABLE_ARCHIVE : 0);
	r = sta_conn_hello(c, local, &remote, err);
	if (r == 0 && (remote & STA_PROTO_PULL_INDEX))
		r = sta_conn_send_file(c, index_fd, p->index, STA_PROTO_INDEX, STA_PROTO_INDEX_EOF, err);
	if (r == 0 && (remote & STA_PROTO_PULL_ARCHIVE))
		r = sta_conn_send_file(c, archive_fd, p->archive, STA_PROTO_ARCHIVE, STA_PROTO_ARCHIVE_EOF, err);
	/* The client may leave whenever it likes: at a goodbye or by closing. */
	while (r == 0) {
		r = sta_conn_next(c, &m, err);
		if (r <= 0 || m.type == STA_PROTO_GOODBYE)
			break;
		if (m.type == STA_PROTO_REQUEST)
			r = answer_request(c, &st, codec, &m, err);
	}
	if (r > 0)
		r = 0;
	if (r == 0)
		r = sta_conn_flush(c, err);
	/* A client that has what it wanted may go while answers to its
	 * earlier (or repeated) requests are still on their way. */
	if (r == -EPIPE)
		r = 0;
	if (r < 0)
		fail(c, r, err);
out:
	stasync_codec_free(codec);
	stores_free(&st);
	sta_conn_close(c);
	return r;
}

/* ---- push: the client writes ------------------------------------------------- */

struct wanted {
	stasync_chunk_id id;
	uint64_t size;
	bool received;
};

struct push {
	struct sta_conn *c;
	const stasync_remote_paths *p;
	struct stores st;
	stasync_codec *codec;
	stasync_output index_out, archive_out;
	bool index_open, archive_open;
	bool index_done, archive_done, planned;
	uint64_t index_bytes, remote;
	stasync_digest_type digest;
	struct wanted *want;
	size_t n_want, n_requested, n_outstanding;
	uint8_t *chunk;
	size_t chunk_cap;
};

static int wanted_cmp(const void *a, const void *b)
{
	return memcmp(((const struct wanted *)a)->id.bytes, ((const struct wanted *)b)->id.bytes,
		      STA_PROTO_ID_SIZE);
}

/* Read back the index received and list the chunks no store here has. */
static int plan_requests(struct push *x, stasync_error *err)
{
	stasync_index_reader *ir = NULL;
	stasync_index_item item;
	size_t cap = 0, n = 0;
	int fd, r;

	x->planned = true;
	if (!(x->remote & STA_PROTO_PUSH_INDEX_CHUNKS) || !x->p->index || x->st.n == 0)
		return 0;
	fd = stasync_output_reopen(&x->index_out);
	if (fd < 0)
		return sta_error(err, fd, "%s: cannot read back: %s", x->p->index, stasync_strerror(fd));
	r = stasync_index_reader_open(fd, x->p->index, &ir, err);
	if (r < 0)
		return r;
	x->digest = stasync_index_reader_digest_type(ir);
	while ((r = stasync_index_reader_next(ir, &item, err)) == 1) {
		if (n == cap) {
			struct wanted *w;

			cap = cap ? cap * 2 : 1024;
			w = realloc(x->want, cap * sizeof(*w));
			if (!w) {
				r = nomem(err);
				break;
			}
			x->want = w;
		}
		x->want[n++] = (struct wanted){ .id = item.id, .size = item.size };
	}
	stasync_index_reader_free(ir);
	if (r < 0)
		return r;
	sta_qsort(x->want, n, sizeof(*x->want), wanted_cmp);
	/* Keep each id once, and only where no store has it. One id with two
	 * sizes cannot be: such an index is not put in place. */
	x->n_want = 0;
	for (size_t i = 0; i < n; i++) {
		bool have = false;

		if (i > 0 && wanted_cmp(&x->want[i - 1], &x->want[i]) == 0 &&
		    x->want[i - 1].size != x->want[i].size) {
			char hex[STASYNC_DIGEST_HEX_SIZE];

			return sta_error(err, -EBADMSG, "%s: chunk %s listed with two sizes", x->p->index,
					 stasync_chunk_id_format(&x->want[i].id, hex));
		}

		if (x->n_want > 0 && wanted_cmp(&x->want[x->n_want - 1], &x->want[i]) == 0)
			continue;
		if (i > 0 && wanted_cmp(&x->want[i - 1], &x->want[i]) == 0)
			continue;
		for (size_t j = 0; j < x->st.n && !have; j++) {
			r = stasync_store_has(x->st.s[j], &x->want[i].id, err);
			if (r < 0)
				return r;
			have = r > 0;
		}
		if (!have)
			x->want[x->n_want++] = x->want[i];
	}
	return 0;
}

/* Ask for the next batch while the queue to the client is short. */
static int send_requests(struct push *x, stasync_error *err)
{
	stasync_chunk_id ids[64];

	while (x->n_requested < x->n_want && sta_conn_out_pending(x->c) < STA_CONN_OUT_HIGH) {
		size_t k = 0;
		int r;

		while (k < ELEMENTSOF(ids) && x->n_requested < x->n_want) {
			ids[k++] = x->want[x->n_requested++].id;
			x->n_outstanding++;
		}
		r = sta_proto_put_request(sta_conn_out(x->c), 0, ids, k);
		if (r < 0)
			return nomem(err);
	}
	return 0;
}

static int receive_chunk(struct push *x, const struct sta_proto_msg *m, stasync_error *err)
{
	struct wanted key, *w;
	char hex[STASYNC_DIGEST_HEX_SIZE], what[STASYNC_DIGEST_HEX_SIZE + 64];
	int r;

	memcpy(key.id.bytes, m->ids, STA_PROTO_ID_SIZE);
	w = x->n_want ? bsearch(&key, x->want, x->n_want, sizeof(*x->want), wanted_cmp) : NULL;
	if (!w || w->received || (size_t)(w - x->want) >= x->n_requested)
		return 0;   /* not asked for: nothing to check it against */
	if (w->size > x->chunk_cap) {
		uint8_t *b = realloc(x->chunk, (size_t)w->size);

		if (!b)
			return nomem(err);
		x->chunk = b;
		x->chunk_cap = (size_t)w->size;
	}
	snprintf(what, sizeof(what), "chunk %s from the client",
		 stasync_chunk_id_format(&w->id, hex));
	r = stasync_chunk_decode(x->codec, m->data, m->size, m->flags & STA_PROTO_CHUNK_COMPRESSED,
				 &w->id, x->digest, x->chunk, (size_t)w->size, what, err);
	if (r < 0)
		return r;
	if (m->flags & STA_PROTO_CHUNK_COMPRESSED)
		r = x->st.s[0]->ops->put(x->st.s[0], &w->id, m->data, m->size, err);
	else
		r = stasync_store_put(x->st.s[0], x->codec, &w->id, x->chunk, (size_t)w->size, err);
	if (r < 0)
		return r;
	w->received = true;
	x->n_outstanding--;
	return 0;
}

static int write_file_part(stasync_output *o, const char *path, const struct sta_proto_msg *m,
			   stasync_error *err)
{
	int r = sta_write_full(o->fd, m->data, m->size);

	return r < 0 ? sta_error(err, r, "%s: cannot write: %s", path, stasync_strerror(r)) : 0;
}

static int push_message(struct push *x, const struct sta_proto_msg *m, stasync_error *err)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];

	switch (m->type) {
	case STA_PROTO_INDEX:
		if (!x->index_open || x->index_done)
			return sta_error(err, -EBADMSG, "index data not asked for");
		x->index_bytes += m->size;
		if (x->index_bytes > PUSH_INDEX_MAX)
			return sta_error(err, -EFBIG, "%s: index larger than %" PRIu64 " bytes",
					 x->p->index, PUSH_INDEX_MAX);
		return write_file_part(&x->index_out, x->p->index, m, err);
	case STA_PROTO_INDEX_EOF:
		if (!x->index_open || x->index_done)
			return sta_error(err, -EBADMSG, "index end not asked for");
		x->index_done = true;
		return 0;
	case STA_PROTO_ARCHIVE:
		if (!x->archive_open || x->archive_done)
			return sta_error(err, -EBADMSG, "archive data not asked for");
		return write_file_part(&x->archive_out, x->p->archive, m, err);
	case STA_PROTO_ARCHIVE_EOF:
		if (!x->archive_open || x->archive_done)
			return sta_error(err, -EBADMSG, "archive end not asked for");
		x->archive_done = true;
		return 0;
	case STA_PROTO_CHUNK:
		return x->st.n ? receive_chunk(x, m, err) : 0;
	case STA_PROTO_MISSING: {
		struct wanted key, *w;

		memcpy(key.id.bytes, m->ids, STA_PROTO_ID_SIZE);
		w = x->n_want ? bsearch(&key, x->want, x->n_want, sizeof(*x->want), wanted_cmp) : NULL;
		if (!w || w->received)
			return 0;   /* not asked for: none of our business */
		return sta_error(err, -ENOENT, "the client does not have chunk %s",
				 stasync_chunk_id_format(&key.id, hex));
	}
	case STA_PROTO_GOODBYE:
		return sta_error(err, -EPIPE, "the client left before everything arrived");
	}
	return 0;   /* hello again, requests: nothing to do with them here */
}

static bool push_complete(const struct push *x)
{
	if (x->p->index && !x->index_done)
		return false;
	if (x->p->archive && !x->archive_done)
		return false;
	return x->planned && x->n_requested == x->n_want && x->n_outstanding == 0;
}

int stasync_remote_serve_push(int in_fd, int out_fd, const stasync_remote_paths *p,
			      stasync_error *err)
{
	struct push x = { .p = p, .digest = STASYNC_DIGEST_SHA512_256 };
	struct sta_proto_msg m;
	uint64_t local;
	int r;

	r = sta_conn_open_fds(in_fd, out_fd, "client", &x.c, err);
	if (r < 0)
		return r;
	r = stores_open(p, true, &x.st, err);
	if (r == 0 && (r = stasync_codec_new(&x.codec)) < 0)
		nomem(err);
	if (r == 0 && p->index && (r = stasync_output_open(&x.index_out, p->index, 0644, err)) == 0)
		x.index_open = true;
	if (r == 0 && p->archive &&
	    (r = stasync_output_open(&x.archive_out, p->archive, 0644, err)) == 0)
		x.archive_open = true;
	if (r < 0)
		goto out;
	local = (p->wstore ? STA_PROTO_WRITABLE_STORE : 0) |
		(p->index ? STA_PROTO_WRITABLE_INDEX : 0) |
		(p->archive ? STA_PROTO_WRITABLE_ARCHIVE : 0);
	r = sta_conn_hello(x.c, local, &x.remote, err);
	while (r == 0) {
		if (!x.planned && (!p->index || x.index_done))
			r = plan_requests(&x, err);
		if (r == 0)
			r = send_requests(&x, err);
		if (r < 0 || push_complete(&x))
			break;
		r = sta_conn_next(x.c, &m, err);
		if (r == 0)
			r = sta_error(err, -EPIPE, "the client closed the connection before everything arrived");
		else if (r > 0)
			r = push_message(&x, &m, err);
	}
	/* Everything is stored: only now may the index appear. */
	if (r == 0 && x.index_open) {
		x.index_open = false;
		r = stasync_output_commit(&x.index_out, err);
	}
	if (r == 0 && x.archive_open) {
		x.archive_open = false;
		r = stasync_output_commit(&x.archive_out, err);
	}
	if (r == 0 && sta_proto_put_empty(sta_conn_out(x.c), STA_PROTO_GOODBYE) < 0)
		r = nomem(err);
	if (r == 0)
		r = sta_conn_flush(x.c, err);
out:
	if (r < 0)
		fail(x.c, r, err);
	if (x.index_open)
		stasync_output_abort(&x.index_out);
	if (x.archive_open)
		stasync_output_abort(&x.archive_out);
	free(x.want);
	free(x.chunk);
	stasync_codec_free(x.codec);
	stores_free(&x.st);
	sta_conn_close(x.c);
	return r;
}
