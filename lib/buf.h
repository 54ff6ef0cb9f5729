/* A growable byte buffer with a hard size limit, so that hostile input
 * can never make it grow without bound. */
#ifndef STASYNC_LIB_BUF_H
#define STASYNC_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sta_buf {
	uint8_t *data;
	size_t len, cap, limit;   /* limit 0: SIZE_MAX */
};

/* sta_buf_reserve() — room for n more bytes; -ENOMEM or -E2BIG past limit. */
int sta_buf_reserve(struct sta_buf *b, size_t n);
/* sta_buf_append() — copy n bytes to the end. */
int sta_buf_append(struct sta_buf *b, const void *p, size_t n);
/* sta_buf_append_le64() — one little-endian u64. */
int sta_buf_append_le64(struct sta_buf *b, uint64_t v);
static inline void sta_buf_reset(struct sta_buf *b)
{
	b->len = 0;
}
void sta_buf_free(struct sta_buf *b);

#endif
