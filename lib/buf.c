#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

int sta_buf_reserve(struct sta_buf *b, size_t n)
{
	size_t limit = b->limit ? b->limit : SIZE_MAX, want, cap;
	uint8_t *p;

	if (n > limit - b->len)
		return -E2BIG;
	want = b->len + n;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	cap = MIN(cap, limit);
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int sta_buf_append(struct sta_buf *b, const void *p, size_t n)
{
	int r = sta_buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int sta_buf_append_le64(struct sta_buf *b, uint64_t v)
{
	uint8_t x[8];

	le64_put(x, v);
	return sta_buf_append(b, x, sizeof(x));
}

void sta_buf_free(struct sta_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
