/* The client's side of ssh remotes, apart from reading chunks
 * (store-ssh.c): fetching an index, pushing an index with its chunks. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include <stasync/remote.h>
#include "remote.h"
#include "store.h"
#include "util.h"


bool stasync_is_ssh_remote(const char *locator)
{
	struct sta_ssh_locator l;

	if (!locator || sta_ssh_locator_parse(locator, &l) < 0)
		return false;
	sta_ssh_locator_done(&l);
	return true;
}

static int parse(const char *locator, struct sta_ssh_locator *l, stasync_error *err)
{
	int r = sta_ssh_locator_parse(locator, l);

	if (r == -ENOMEM)
		return sta_error(err, r, "out of memory");
	if (r < 0)
		return sta_error(err, r, "%s: not an ssh remote (host:path or ssh://host/path)", locator);
	return 0;
}

/* Pull the index or the archive at locator into a temporary file. */
static int fetch_file(const char *locator, bool archive, uint64_t max_size, int *ret_fd,
		      stasync_error *err)
{
	const uint64_t data_type = archive ? STA_PROTO_ARCHIVE : STA_PROTO_INDEX;
	const char *what = archive ? "archive" : "index";
	struct sta_ssh_locator l = { 0 };
	struct sta_conn *c = NULL;
	struct sta_proto_msg m;
	_cleanup_close_ int fd = -EBADF;
	uint64_t remote, got = 0;
	int r;

	r = parse(locator, &l, err);
	if (r < 0)
		return r;
	fd = sta_tmpfile_open();
	if (fd < 0) {
		r = sta_error(err, fd, "%s: cannot make a temporary file: %s", locator,
			      stasync_strerror(fd));
		goto out;
	}
	r = sta_conn_spawn(&l, "pull", archive ? l.path : NULL, archive ? NULL : l.path, NULL,
			   locator, &c, err);
	if (r == 0)
		r = sta_conn_hello(c, archive ? STA_PROTO_PULL_ARCHIVE : STA_PROTO_PULL_INDEX, &remote,
				   err);
	while (r == 0) {
		r = sta_conn_next(c, &m, err);
		if (r == 0)
			r = sta_error(err, -EPIPE, "%s: the connection ended before the whole %s arrived",
				      locator, what);
		if (r < 0)
			break;
		if (m.type == (archive ? STA_PROTO_ARCHIVE_EOF : STA_PROTO_INDEX_EOF)) {
			r = 0;
			break;
		}
		r = 0;
		if (m.type != data_type)
			continue;
		got += m.size;
		if (got > max_size) {
			r = sta_error(err, -EFBIG, "%s: %s larger than %" PRIu64 " bytes", locator,
				      what, max_size);
			break;
		}
		r = sta_write_full(fd, m.data, m.size);
		if (r < 0)
			sta_error(err, r, "%s: cannot write a temporary file: %s", locator,
				  stasync_strerror(r));
	}
	if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
		r = sta_error(err, -errno, "%s: %s", locator, stasync_strerror(-errno));
	if (r == 0)
		*ret_fd = TAKE_FD(fd);
out:
	sta_conn_close(c);
	sta_ssh_locator_done(&l);
	return r;
}

int stasync_ssh_fetch_index(const char *locator, uint64_t max_size, int *ret_fd,
			    stasync_error *err)
{
	return fetch_file(locator, false, max_size, ret_fd, err);
}

int stasync_ssh_fetch_archive(const char *locator, int *ret_fd, stasync_error *err)
{
	return fetch_file(locator, true, UINT64_MAX, ret_fd, err);
}

static int send_file(struct sta_conn *c, const char *path, bool archive, stasync_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return sta_error(err, -errno, "%s: cannot open: %s", path, stasync_strerror(-errno));
	return sta_conn_send_file(c, fd, path, archive ? STA_PROTO_ARCHIVE : STA_PROTO_INDEX,
				  archive ? STA_PROTO_ARCHIVE_EOF : STA_PROTO_INDEX_EOF, err);
}

static int answer(struct sta_conn *c, stasync_store *local, stasync_codec *codec,
		  const struct sta_proto_msg *m, stasync_error *err)
{
	/* The message lives in the input buffer, which flushing may move. */
	size_t n_ids = m->n_ids;
	_cleanup_free_ uint8_t *ids = malloc(n_ids * STA_PROTO_ID_SIZE);

	if (!ids)
		return sta_error(err, -ENOMEM, "out of memory");
	memcpy(ids, m->ids, n_ids * STA_PROTO_ID_SIZE);
	for (size_t i = 0; i < n_ids; i++) {
		stasync_chunk_id id;
		bool compressed;
		size_t n;
		int r;

		memcpy(id.bytes, ids + i * STA_PROTO_ID_SIZE, STA_PROTO_ID_SIZE);
		r = local->ops->fetch(local, codec, &id, STA_PROTO_CHUNK_DATA_MAX, &n, &compressed, err);
		if (r == -ENOENT || (r == 0 && n == 0))
			r = sta_proto_put_missing(sta_conn_out(c), &id);
		else if (r == 0)
			r = sta_proto_put_chunk(sta_conn_out(c), &id, compressed, codec->buf, n);
		else
			return r;
		if (r < 0)
			return sta_error(err, -ENOMEM, "out of memory");
		if (sta_conn_out_pending(c) > STA_CONN_OUT_HIGH && (r = sta_conn_flush(c, err)) < 0)
			return r;
	}
	return 0;
}

int stasync_ssh_push(const char *index_locator, const char *store_locator,
		     const char *local_index, stasync_store *local, stasync_error *err)
{
	struct sta_ssh_locator li = { 0 }, ls = { 0 };
	struct sta_conn *c = NULL;
	stasync_codec *codec = NULL;
	struct sta_proto_msg m;
	uint64_t remote;
	int r;

	r = parse(index_locator, &li, err);
	if (r == 0)
		r = parse(store_locator, &ls, err);
	if (r < 0)
		goto out;
	if (strcmp(li.host, ls.host) || (li.port ? !ls.port || strcmp(li.port, ls.port) : !!ls.port)) {
		r = sta_error(err, -EINVAL, "%s: pushing over ssh needs the store on the same host as the index (store: %s)",
			      index_locator, store_locator);
		goto out;
	}
	if (stasync_codec_new(&codec) < 0) {
		r = sta_error(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = sta_conn_spawn(&li, "push", NULL, li.path, ls.path, index_locator, &c, err);
	if (r == 0)
		r = sta_conn_hello(c, STA_PROTO_PUSH_INDEX | STA_PROTO_PUSH_CHUNKS |
					      STA_PROTO_PUSH_INDEX_CHUNKS, &remote, err);
	if (r == 0)
		r = send_file(c, local_index, false, err);
	/* The remote side asks for what it lacks and says goodbye once the
	 * index is in place. */
	while (r == 0) {
		r = sta_conn_next(c, &m, err);
		if (r == 0)
			r = sta_error(err, -EPIPE, "%s: the connection ended before the remote side confirmed the index",
				      index_locator);
		if (r < 0)
			break;
		if (m.type == STA_PROTO_GOODBYE) {
			r = 0;
			break;
		}
		r = m.type == STA_PROTO_REQUEST ? answer(c, local, codec, &m, err) : 0;
	}
out:
	stasync_codec_free(codec);
	sta_conn_close(c);
	sta_ssh_locator_done(&li);
	sta_ssh_locator_done(&ls);
	return r;
}

int stasync_ssh_push_archive(const char *locator, const char *local_archive, stasync_error *err)
{
	struct sta_ssh_locator l = { 0 };
	struct sta_conn *c = NULL;
	struct sta_proto_msg m;
	uint64_t remote;
	int r;

	r = parse(locator, &l, err);
	if (r < 0)
		return r;
	r = sta_conn_spawn(&l, "push", l.path, NULL, NULL, locator, &c, err);
	if (r == 0)
		r = sta_conn_hello(c, STA_PROTO_PUSH_ARCHIVE, &remote, err);
	if (r == 0)
		r = send_file(c, local_archive, true, err);
	/* The remote side says goodbye once the archive is in place. */
	while (r == 0) {
		r = sta_conn_next(c, &m, err);
		if (r == 0)
			r = sta_error(err, -EPIPE, "%s: the connection ended before the remote side confirmed the archive",
				      locator);
		if (r > 0 && m.type != STA_PROTO_GOODBYE)
			r = 0;   /* nothing else matters here */
		else
			break;
	}
	sta_conn_close(c);
	sta_ssh_locator_done(&l);
	return r < 0 ? r : 0;
}
