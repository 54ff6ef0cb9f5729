/* An archive in memory for the unit tests (see mem-stream.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stasync/catar.h>
#include "mem-stream.h"
#include "tap.h"

int mem_stream_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct mem_stream *m = ctx;

	(void)err;
	if (m->n + n > m->alloc) {
		m->alloc = (m->n + n) * 2;
		m->p = realloc(m->p, m->alloc);
		if (!m->p)
			exit(99);
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

ssize_t mem_stream_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct mem_stream *m = ctx;
	size_t k = m->n - m->pos;

	(void)err;
	if (k > n)
		k = n;
	if (m->piece && k > m->piece)
		k = m->piece;
	memcpy(p, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

void mem_stream_encode(const char *root, struct mem_stream *m)
{
	stasync_encode_options o = { .feature_flags = STASYNC_FEATURES_DEFAULT };
	stasync_error err = { 0, "" };
	/* the encoder lists a directory from its descriptor's position: a
	 * fresh descriptor for each encoding */
	int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	m->n = 0;
	if (dir < 0 || stasync_catar_encode(dir, "tree", &o, mem_stream_write, m, &err) < 0) {
		tap_diag("encode: %s", err.message);
		exit(99);
	}
	close(dir);
}
