/* An archive in memory for the unit tests: written by the encoder
 * (mem_stream_write, a stasync_write_fn) and read back by a decoder or a
 * comparison (mem_stream_read, a stasync_read_fn, from `pos`). */
#ifndef STASYNC_TESTS_MEM_STREAM_H
#define STASYNC_TESTS_MEM_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stasync/error.h>

struct mem_stream {
	uint8_t *p;
	size_t n, alloc, pos;
	size_t piece; /* the most one read hands out (0: no limit), as a chunk reader would */
};

/* mem_stream_write() — append; ends the test (exit 99) out of memory. */
int mem_stream_write(void *ctx, const void *p, size_t n, stasync_error *err);
ssize_t mem_stream_read(void *ctx, void *p, size_t n, stasync_error *err);
/* mem_stream_encode() — the directory root as a catar archive named
 * "tree" (default features) into m, replacing what it held; ends the
 * test (exit 99) when it cannot. */
void mem_stream_encode(const char *root, struct mem_stream *m);

#endif
