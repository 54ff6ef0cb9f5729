/* Seeds: local data chunked as the index was, so that the chunks it shares
 * with the index are read here instead of fetched. Each source is cut and
 * hashed once, up front; a wanted chunk's place is kept in the `found` set
 * (source number in the top 16 bits of the value, offset in the rest). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include <stasync/seed.h>
#include "chunk-set.h"
#include "store.h"
#include "util.h"

#define READ_SIZE ((size_t)1 << 20)
#define SOURCES_MAX 0xffffu
#define OFFSET_BITS 48

struct stasync_seed {
	const stasync_chunk_set *wanted;
	stasync_chunk_set *found;
	stasync_chunker chunker;
	stasync_digest_type type;
	stasync_codec *codec;
	int *fds;               /* source n reads from fds[n] */
	size_t n_fds;
	int spool;              /* the source chunks of directories are copied to; -1 */
	uint64_t spool_size;
	uint64_t found_bytes;

	/* the source being cut */
	int source;             /* its number */
	bool copy;              /* copy wanted chunks to the spool */
	uint64_t pos;           /* stream offset of buf[0] */
	uint8_t *buf;           /* the chunk in progress */
	size_t len;
	const char *name;
};

int stasync_seed_new(const stasync_chunk_set *wanted, const stasync_chunk_sizes *sizes,
		     stasync_digest_type type, stasync_seed **ret, stasync_error *err)
{
	stasync_seed *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return sta_error(err, -ENOMEM, "out of memory");
	s->wanted = wanted;
	s->type = type;
	s->spool = -1;
	r = stasync_chunker_init(&s->chunker, sizes);
	if (r < 0) {
		free(s);
		return sta_error(err, r, "seed: invalid chunk sizes");
	}
	s->buf = malloc(s->chunker.size.max);
	if (!s->buf || stasync_chunk_set_new(&s->found) < 0 || stasync_codec_new(&s->codec) < 0) {
		stasync_seed_free(s);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	*ret = s;
	return 0;
}

void stasync_seed_free(stasync_seed *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_fds; i++)
		close(s->fds[i]);
	free(s->fds);
	free(s->buf);
	stasync_chunk_set_free(s->found);
	stasync_codec_free(s->codec);
	free(s);
}

void stasync_seed_found(const stasync_seed *s, uint64_t *chunks, uint64_t *bytes)
{
	*chunks = stasync_chunk_set_count(s->found);
	*bytes = s->found_bytes;
}

/* A source reading from fd (which the seed then owns). */
static int source_new(stasync_seed *s, int fd, stasync_error *err)
{
	int *t;

	if (s->n_fds >= SOURCES_MAX) {
		close(fd);
		return sta_error(err, -E2BIG, "too many seeds");
	}
	t = realloc(s->fds, (s->n_fds + 1) * sizeof(*t));
	if (!t) {
		close(fd);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	s->fds = t;
	s->fds[s->n_fds] = fd;
	return (int)s->n_fds++;
}

/* A chunk cut from the source: remember it when wanted and new. */
static int chunk_done(stasync_seed *s, const uint8_t *p, size_t n, stasync_error *err)
{
	stasync_chunk_id id;
	uint64_t where = s->pos;
	int source = s->source, r;

	sta_chunk_digest(s->codec, s->type, p, n, &id);
	if (!stasync_chunk_set_has(s->wanted, &id) || stasync_chunk_set_has(s->found, &id))
		return 0;
	if (s->copy) {
		if (s->spool < 0) {
			r = sta_tmpfile_open();
			if (r < 0)
				return sta_error(err, r, "seed %s: cannot create a temporary file: %s",
						 s->name, stasync_strerror(r));
			r = source_new(s, r, err);
			if (r < 0)
				return r;
			s->spool = r;
		}
		r = sta_pwrite_full(s->fds[s->spool], p, n, s->spool_size);
		if (r < 0)
			return sta_error(err, r, "seed %s: cannot write a temporary file: %s", s->name,
					 stasync_strerror(r));
		where = s->spool_size;
		s->spool_size += n;
		source = s->spool;
	}
	if (where >> OFFSET_BITS)
		return sta_error(err, -EFBIG, "seed %s: too large", s->name);
	if (sta_chunk_set_put(s->found, &id, n, (uint64_t)source << OFFSET_BITS | where) < 0)
		return sta_error(err, -ENOMEM, "out of memory");
	s->found_bytes += n;
	return 0;
}

/* Take in the next bytes of the source, cutting chunks. */
static int seed_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	stasync_seed *s = ctx;
	const uint8_t *q = p;

	while (n > 0) {
		size_t room = s->chunker.size.max - s->len;
		size_t k = MIN(n, room), cut;
		int r;

		cut = stasync_chunker_scan(&s->chunker, q, k);
		if (cut == SIZE_MAX) {
			memcpy(s->buf + s->len, q, k);
			s->len += k;
			q += k;
			n -= k;
			continue;
		}
		memcpy(s->buf + s->len, q, cut);
		s->len += cut;
		q += cut;
		n -= cut;
		r = chunk_done(s, s->buf, s->len, err);
		if (r < 0)
			return r;
		s->pos += s->len;
		s->len = 0;
	}
	return 0;
}

static int source_end(stasync_seed *s, stasync_error *err)
{
	int r = 0;

	if (s->len > 0)
		r = chunk_done(s, s->buf, s->len, err);
	s->pos += s->len;
	s->len = 0;
	return r;
}

static void source_begin(stasync_seed *s, int source, bool copy, const char *name)
{
	stasync_chunker_reset(&s->chunker);
	s->source = source;
	s->copy = copy;
	s->pos = 0;
	s->len = 0;
	s->name = name;
}

int stasync_seed_add_file(stasync_seed *s, int fd, const char *name, stasync_error *err)
{
	_cleanup_free_ uint8_t *buf = malloc(READ_SIZE);
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 3), source, r = 0;
	uint64_t off = 0;

	if (!buf) {
		if (own >= 0)
			close(own);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	if (own < 0)
		return sta_error(err, -errno, "seed %s: %s", name, stasync_strerror(-errno));
	source = source_new(s, own, err);
	if (source < 0)
		return source;
	source_begin(s, source, false, name);
	for (;;) {
		ssize_t k = pread(own, buf, READ_SIZE, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return sta_error(err, -errno, "seed %s: cannot read: %s", name,
					 stasync_strerror(-errno));
		if (k == 0)
			break;
		r = seed_write(s, buf, (size_t)k, err);
		if (r < 0)
			return r;
		off += (uint64_t)k;
	}
	return source_end(s, err);
}

int stasync_seed_add_dir(stasync_seed *s, int dir_fd, const char *name,
			 const stasync_encode_options *o, stasync_error *err)
{
	int r;

	/* a descriptor of its own, read from the start whatever dir_fd read */
	_cleanup_close_ int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sta_error(err, -errno, "seed %s: %s", name, stasync_strerror(-errno));
	/* the wanted chunks go to the spool, made on the first one */
	source_begin(s, -1, true, name);
	r = stasync_catar_encode(fd, name, o, seed_write, s, err);
	if (r < 0)
		return sta_error_prefix(err, r, "seed");
	return source_end(s, err);
}

int sta_seed_get(const stasync_seed *s, stasync_codec *c, const stasync_chunk_id *id,
		 stasync_digest_type type, void *out, size_t size, struct sta_seed_origin *from)
{
	uint64_t n, where, off;
	stasync_chunk_id got;
	unsigned source;
	ssize_t k;

	if (!sta_chunk_set_get(s->found, id, &n, &where) || n != size)
		return -ENOENT;
	source = (unsigned)(where >> OFFSET_BITS);
	off = where & (((uint64_t)1 << OFFSET_BITS) - 1);
	if (source >= s->n_fds)
		return -ENOENT;
	k = pread(s->fds[source], out, size, (off_t)off);
	if (k != (ssize_t)size)
		return -ENOENT;
	/* the seed may have changed since it was cut: trust only the hash */
	sta_chunk_digest(c, type, out, size, &got);
	if (!stasync_chunk_id_equal(&got, id))
		return -ENOENT;
	if (from) {
		/* a file seed's bytes can be cloned; the spool's are a copy */
		from->fd = (int)source == s->spool ? -1 : s->fds[source];
		from->offset = off;
	}
	return 0;
}
