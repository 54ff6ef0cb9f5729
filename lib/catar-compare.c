/* Comparing a directory with a catar stream: the directory is encoded as
 * `make` would encode it and its bytes are matched against the stream's as
 * both come, so that an extract which would change nothing can be told
 * apart before anything is written. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <stasync/catar.h>
#include "util.h"

#define COMPARE_BUF ((size_t)1 << 16)

struct compare {
	stasync_read_fn read;
	void *ctx;
	uint8_t buf[COMPARE_BUF];
	bool differs;
	bool read_failed;
	stasync_error read_err;
};

/* Called with each piece the encoder produces: the same number of bytes
 * is pulled from the archive and compared. */
static int compare_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct compare *c = ctx;
	const uint8_t *q = p;

	while (n > 0) {
		size_t want = n < sizeof(c->buf) ? n : sizeof(c->buf);
		ssize_t k = c->read(c->ctx, c->buf, want, &c->read_err);

		if (k < 0) {
			c->read_failed = true;
			return sta_error(err, (int)k, "%s", c->read_err.message);
		}
		if (k == 0 || memcmp(c->buf, q, (size_t)k) != 0) {
			c->differs = true;
			/* stops the encoder; not an error for the caller */
			return sta_error(err, -ECANCELED, "differs");
		}
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

int stasync_catar_compare(int dir_fd, const char *root, const stasync_encode_options *o,
			  stasync_read_fn read, void *ctx, stasync_error *err)
{
	_cleanup_free_ struct compare *c = calloc(1, sizeof(*c));
	stasync_encode_options eo = *o;
	uint8_t extra;
	ssize_t k;
	int fd, r;

	if (!c)
		return sta_error(err, -ENOMEM, "out of memory");
	c->read = read;
	c->ctx = ctx;
	eo.leave_nothing_out = true;
	/* a descriptor of its own: the encoder lists the directory from the
	 * descriptor's position, which a caller's earlier reads may have moved */
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		return sta_error(err, e, "%s: cannot open: %s", root, stasync_strerror(e));
	}
	r = stasync_catar_encode(fd, root, &eo, compare_write, c, err);
	close(fd);
	if (c->differs)
		return 0;
	if (c->read_failed) {
		*err = c->read_err;
		return c->read_err.code < 0 ? c->read_err.code : -EIO;
	}
	if (r == -ENOTEMPTY)
		return 0;
	if (r < 0)
		return r;
	/* the archive must end where the tree's encoding ends */
	k = read(ctx, &extra, 1, err);
	if (k < 0)
		return (int)k;
	return k == 0 ? 1 : 0;
}
