/* Opening anything that holds a catar stream — a .catar file (or URL, read
 * as it arrives), a .caidx with its stores, or a directory encoded on the
 * fly — as one decoder, so that extract, list, mtree, stat and digest treat
 * them alike. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct cli_archive {
	struct cli *c;
	const char *name;
	char *url_name;                    /* an index URL, password hidden */
	int fd;                            /* .catar or .caidx */
	stasync_http_stream *stream;       /* a .catar URL */
	stasync_index_reader *index;
	stasync_store **stores;
	size_t n_stores;
	stasync_fetch fetch;
	stasync_chunk_reader *chunks;
	stasync_catar_decoder *decoder;
	/* a directory: the encoder runs in a thread and writes into a pipe */
	int dir_fd, pipe_r, pipe_w;
	pthread_t thread;
	bool thread_started;
	int encode_r;
	stasync_error encode_err;
	/* The digest of every byte the decoder reads. Its type is the
	 * archive's own (casync's rule), read from the root ENTRY's feature
	 * flags at offset 16: the first bytes wait here until then. */
	bool want_digest;
	stasync_digest *digest;
	uint8_t head[24];
	size_t head_len;
};

static ssize_t source_read(struct cli_archive *a, void *p, size_t n, stasync_error *err)
{
	int fd = a->stream ? stasync_http_stream_fd(a->stream) : a->pipe_r >= 0 ? a->pipe_r : a->fd;

	if (a->chunks)
		return stasync_chunk_reader_read(a->chunks, p, n, err);
	for (;;) {
		ssize_t k = read(fd, p, n);
		if (k >= 0) {
			/* a .catar read straight: its bytes are the progress */
			cli_progress_bytes(a->c, (uint64_t)k);
			return k;
		}
		if (errno != EINTR) {
			int e = -errno;
			snprintf(err->message, sizeof(err->message), "%s: cannot read: %s", a->name,
				 stasync_strerror(e));
			return err->code = e;
		}
	}
}

/* Bytes of the stream go by: into its digest, when one is wanted. */
static int digest_through(struct cli_archive *a, const uint8_t *q, size_t n, stasync_error *err)
{
	if (a->want_digest && !a->digest && n > 0) {
		size_t room = sizeof(a->head) - a->head_len;
		size_t take = n < room ? n : room;
		uint64_t flags = 0;

		memcpy(a->head + a->head_len, q, take);
		a->head_len += take;
		q += take;
		n -= take;
		if (a->head_len < sizeof(a->head))
			return 0;
		for (int i = 7; i >= 0; i--)
			flags = flags << 8 | a->head[16 + i];
		if (stasync_digest_new((flags & STASYNC_SHA512_256) ? STASYNC_DIGEST_SHA512_256
								    : STASYNC_DIGEST_SHA256, &a->digest) < 0) {
			snprintf(err->message, sizeof(err->message), "cannot set up the digest");
			return err->code = -ENOMEM;
		}
		stasync_digest_write(a->digest, a->head, sizeof(a->head));
	}
	if (n > 0 && a->digest)
		stasync_digest_write(a->digest, q, n);
	return 0;
}

/* What the decoder reads through: the source, digested on the way. */
static ssize_t archive_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct cli_archive *a = ctx;
	ssize_t k = source_read(a, p, n, err);
	int r = k > 0 ? digest_through(a, p, (size_t)k, err) : 0;

	return r < 0 ? r : k;
}

/* What the decoder passes over in a stream of chunks: digested where it
 * lies in the chunk reader's ring, not copied out first. */
static ssize_t archive_skip(void *ctx, uint64_t n, stasync_error *err)
{
	struct cli_archive *a = ctx;
	const void *q;
	ssize_t k = stasync_chunk_reader_take(a->chunks, (size_t)MIN(n, (uint64_t)SIZE_MAX), &q,
					      err);
	int r = k > 0 ? digest_through(a, q, (size_t)k, err) : 0;

	return r < 0 ? r : k;
}

static int pipe_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct cli_archive *a = ctx;
	int e = cli_write_full(a->pipe_w, p, n);

	/* EPIPE: the reader has all it wanted. */
	if (e < 0) {
		snprintf(err->message, sizeof(err->message), "%s: %s", a->name, strerror(-e));
		return err->code = e;
	}
	return 0;
}

static void *encode_thread(void *ctx)
{
	struct cli_archive *a = ctx;
	stasync_encode_options o = cli_encode_options(a->c);
	sigset_t ss;

	/* When the reader stops early its end of the pipe closes: this
	 * thread then gets EPIPE instead of the process a SIGPIPE. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	a->encode_r = stasync_catar_encode(a->dir_fd, a->name, &o, pipe_write, a, &a->encode_err);
	close(a->pipe_w);
	a->pipe_w = -1;
	return NULL;
}

int cli_archive_open(struct cli *c, const char *path, enum what what, bool digest,
		     struct cli_archive **ret)
{
	stasync_error err = { 0, "" };
	struct cli_archive *a;
	struct stat st;
	int p[2], r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return cli_error(c, "out of memory");
	a->c = c;
	a->name = path && strcmp(path, "-") ? path : "standard input";
	a->fd = a->dir_fd = a->pipe_r = a->pipe_w = -1;
	a->want_digest = digest;

	if (path && (stasync_is_http_url(path) || stasync_is_s3_url(path)) && what == WHAT_ARCHIVE) {
		/* A .catar over HTTP or in a bucket is decoded as it arrives:
		 * nothing is kept, so its size needs no bound. */
		a->url_name = stasync_url_redact(path);
		if (!a->url_name) {
			r = cli_error(c, "out of memory");
			goto fail;
		}
		a->name = a->url_name;
		if (stasync_http_stream_open(path, &c->http, UINT64_MAX, &a->stream, &err) < 0) {
			r = cli_fail(c, &err);
			goto fail;
		}
		r = stasync_catar_decoder_new(archive_read, a, a->name, &a->decoder, &err);
		if (r < 0)
			return cli_archive_finish(a, r, &err);
		*ret = a;
		return 0;
	}
	if (path && stasync_is_ssh_remote(path) && what != WHAT_ARCHIVE_INDEX) {
		/* Over ssh, a whole .catar into a temporary file. */
		stasync_error e = { 0, "" };

		a->url_name = strdup(path);
		if (!a->url_name || stasync_ssh_fetch_archive(path, &a->fd, &e) < 0) {
			r = a->url_name ? cli_fail(c, &e) : cli_error(c, "out of memory");
			goto fail;
		}
		a->name = a->url_name;
	} else if (path && (stasync_is_http_url(path) || stasync_is_ssh_remote(path) ||
			    stasync_is_s3_url(path))) {
		/* Over HTTP, S3 or ssh: an index only, fetched whole into a
		 * temporary file; its chunks then come from the stores. */
		if (what != WHAT_ARCHIVE_INDEX) {
			r = cli_url_error(c, path, "expected a .catar or .caidx URL (or pass --what=archive or --what=archive-index)");
			goto fail;
		}
		r = cli_index_fd_open(c, path, &a->fd, &a->url_name);
		if (r)
			goto fail;
		a->name = a->url_name;
	} else if (!path || strcmp(path, "-") == 0)
		a->fd = dup(STDIN_FILENO);
	else
		a->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (a->fd < 0 || fstat(a->fd, &st) < 0) {
		r = cli_error(c, "%s: cannot open: %s", a->name, strerror(errno));
		goto fail;
	}
	if (what == WHAT_AUTO)
		what = S_ISDIR(st.st_mode) ? WHAT_DIRECTORY : WHAT_ARCHIVE;
	if (S_ISDIR(st.st_mode) != (what == WHAT_DIRECTORY)) {
		r = cli_error(c, "%s: %s a directory", a->name,
			      S_ISDIR(st.st_mode) ? "is" : "is not");
		goto fail;
	}

	switch (what) {
	case WHAT_ARCHIVE:
		if (S_ISREG(st.st_mode))
			cli_progress_total(c, (uint64_t)st.st_size);
		r = 0;
		break;
	case WHAT_ARCHIVE_INDEX:
		if (c->seeding && (r = cli_seed_open(c, a->fd, a->name, c->seed_target, true)))
			goto fail;
		r = stasync_index_reader_open(a->fd, a->name, &a->index, &err);
		a->fd = -1;   /* the index reader owns it */
		if (r < 0)
			break;
		cli_progress_index_total(c, a->index);
		r = cli_stores_open(c, path && strcmp(path, "-") ? path : NULL, 0, &a->stores, &a->n_stores);
		if (r) {
			cli_archive_finish(a, 0, NULL);
			return r;
		}
		a->fetch = cli_fetch(c, a->stores, a->n_stores);
		r = stasync_chunk_reader_new(a->index, &a->fetch, &a->chunks, &err);
		break;
	case WHAT_DIRECTORY:
		a->dir_fd = a->fd;
		a->fd = -1;
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = cli_error(c, "cannot create a pipe: %s", strerror(errno));
			goto fail;
		}
		a->pipe_r = p[0];
		a->pipe_w = p[1];
		if ((errno = pthread_create(&a->thread, NULL, encode_thread, a))) {
			r = cli_error(c, "cannot start a thread: %s", strerror(errno));
			goto fail;
		}
		a->thread_started = true;
		r = 0;
		break;
	default:
		r = cli_error(c, "%s: expected a .catar, a .caidx or a directory", a->name);
		goto fail;
	}
	if (r == 0)
		r = stasync_catar_decoder_new(archive_read, a, a->name, &a->decoder, &err);
	if (r < 0)
		return cli_archive_finish(a, r, &err);
	if (a->chunks)
		stasync_catar_decoder_set_skip(a->decoder, archive_skip);
	*ret = a;
	return 0;
fail:
	cli_archive_finish(a, 0, NULL);
	return r;
}

stasync_catar_decoder *cli_archive_decoder(struct cli_archive *a)
{
	return a->decoder;
}

int cli_archive_digest(struct cli_archive *a, stasync_chunk_id *ret)
{
	if (!a->digest)
		return -EBADMSG;   /* never got past the first record */
	stasync_digest_final(a->digest, ret);
	return 0;
}

bool cli_archive_chunk_stats(const struct cli_archive *a, stasync_chunk_stats *ret)
{
	if (!a->chunks)
		return false;
	stasync_chunk_reader_stats(a->chunks, ret);
	return true;
}

int cli_archive_finish(struct cli_archive *a, int r, const stasync_error *err)
{
	stasync_error stream_err = { 0, "" };
	int status = 0, stream_r;

	stasync_catar_decoder_free(a->decoder);
	a->decoder = NULL;
	/* A transfer that failed (404, server gone, …) left the decoder a
	 * short stream: its own error says what really went wrong. One
	 * still running when the verb is done is cut short, which is fine. */
	stream_r = stasync_http_stream_close(a->stream, &stream_err);
	a->stream = NULL;
	if (r < 0 && stream_r < 0 && stream_r != -EPIPE) {
		r = stream_r;
		err = &stream_err;
	}
	if (a->pipe_r >= 0) {
		close(a->pipe_r);   /* an encoder still writing gets EPIPE */
		a->pipe_r = -1;
	}
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	/* When the directory encoder failed, the decoder only saw a short
	 * stream: the encoder's message says what really went wrong. */
	if (a->thread_started && a->encode_r < 0 && a->encode_r != -EPIPE)
		status = cli_fail(a->c, &a->encode_err);
	else if (r < 0)
		status = cli_fail(a->c, err);
	if (a->pipe_w >= 0)
		close(a->pipe_w);
	if (a->dir_fd >= 0)
		close(a->dir_fd);
	if (a->fd >= 0)
		close(a->fd);
	stasync_chunk_reader_free(a->chunks);
	stasync_index_reader_free(a->index);
	cli_stores_free(a->stores, a->n_stores);
	stasync_digest_free(a->digest);
	free(a->url_name);
	free(a);
	return status;
}

/* The compare pass reads the archive's first bytes to learn its feature
 * flags, then hands them over before the rest. */
struct compare_src {
	struct cli_archive *a;
	uint8_t head[24];
	size_t head_len, head_pos;
	uint64_t bytes;
};

static ssize_t compare_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct compare_src *s = ctx;

	if (s->head_pos < s->head_len) {
		size_t k = MIN(n, s->head_len - s->head_pos);
		memcpy(p, s->head + s->head_pos, k);
		s->head_pos += k;
		s->bytes += k;
		return (ssize_t)k;
	}
	ssize_t k = archive_read(s->a, p, n, err);
	if (k > 0)
		s->bytes += (uint64_t)k;
	return k;
}

int cli_archive_compare(struct cli_archive *a, int dir_fd, const char *root,
			uint64_t *bytes, stasync_error *err)
{
	int r;

	struct compare_src s = { .a = a };
	stasync_encode_options o = { 0 };
	uint64_t flags = 0;

	while (s.head_len < sizeof(s.head)) {
		ssize_t k = archive_read(a, s.head + s.head_len, sizeof(s.head) - s.head_len, err);
		if (k < 0)
			return (int)k;
		if (k == 0)
			return 0;   /* too short to be an archive: let extract say so */
		s.head_len += (size_t)k;
	}
	for (int i = 7; i >= 0; i--)
		flags = flags << 8 | s.head[16 + i];
	/* features the archive has that this extract would not restore: the
	 * tree may differ there and still be what extract leaves */
	if (flags & STASYNC_WITH_ALL & ~cli_restore_mask(a->c))
		return 0;
	o.feature_flags = flags;
	r = stasync_catar_compare(dir_fd, root, &o, compare_read, &s, err);
	*bytes = s.bytes;
	return r;
}
