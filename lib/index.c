/* Reading and writing .caibx/.caidx index files, validating everything on
 * the way in. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/index.h>
#include <stasync/chunker.h>
#include "format.h"
#include "util.h"

#define IO_BUF 65536
#define HEADERS_SIZE (sizeof(struct ca_format_index) + sizeof(struct ca_format_header))
#define ITEM_SIZE sizeof(struct ca_format_table_item)

struct stasync_index_reader {
	int fd;
	char *name;
	stasync_index_header header;
	uint64_t n_items;
	uint64_t end;          /* end offset of the last item */
	bool done;
	int failed;            /* once malformed, always malformed */
	size_t pos, len;       /* unread bytes are buf[pos..len) */
	uint8_t buf[IO_BUF];
};

int stasync_index_parse_header(const void *p, size_t n, stasync_index_header *ret,
			       stasync_error *err)
{
	const uint8_t *b = p;
	stasync_index_header h;

	if (n < HEADERS_SIZE)
		return sta_error(err, -EBADMSG, "truncated header (%zu bytes)", n);
	if (le64_get(b) != sizeof(struct ca_format_index) || le64_get(b + 8) != CA_FORMAT_INDEX)
		return sta_error(err, -EBADMSG, "not a casync index (bad header)");
	h.feature_flags = le64_get(b + 16);
	h.chunk_size_min = le64_get(b + 24);
	h.chunk_size_avg = le64_get(b + 32);
	h.chunk_size_max = le64_get(b + 40);
	if (h.feature_flags & ~CA_FORMAT_FEATURES_VALID)
		return sta_error(err, -EBADMSG, "unknown feature flags 0x%016" PRIx64,
				 h.feature_flags & ~CA_FORMAT_FEATURES_VALID);
	if (h.chunk_size_min < STASYNC_CHUNK_SIZE_LIMIT_MIN ||
	    h.chunk_size_max > STASYNC_CHUNK_SIZE_LIMIT_MAX ||
	    h.chunk_size_min > h.chunk_size_avg || h.chunk_size_avg > h.chunk_size_max)
		return sta_error(err, -EBADMSG,
				 "impossible chunk sizes %" PRIu64 ":%" PRIu64 ":%" PRIu64,
				 h.chunk_size_min, h.chunk_size_avg, h.chunk_size_max);
	if (le64_get(b + 48) != UINT64_MAX || le64_get(b + 56) != CA_FORMAT_TABLE)
		return sta_error(err, -EBADMSG, "bad table header");
	*ret = h;
	return 0;
}

/* Make at least `want` bytes available in the buffer; returns how many
 * are (fewer only at end of file), or -errno. */
static ssize_t fill(stasync_index_reader *r, size_t want)
{
	if (r->len - r->pos >= want)
		return (ssize_t)(r->len - r->pos);
	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	if (r->len < want) {
		ssize_t k = sta_read_least(r->fd, r->buf + r->len, sizeof(r->buf) - r->len,
					   want - r->len);
		if (k < 0)
			return k;
		r->len += (size_t)k;
	}
	return (ssize_t)r->len;
}

int stasync_index_reader_open(int fd, const char *name, stasync_index_reader **ret,
			      stasync_error *err)
{
	stasync_index_reader *r;
	ssize_t k;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	r->fd = fd;
	r->name = strdup(name ? name : "index");
	if (!r->name) {
		stasync_index_reader_free(r);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	k = fill(r, HEADERS_SIZE);
	if (k < 0) {
		e = sta_error(err, (int)k, "%s: %s", r->name, stasync_strerror((int)k));
		stasync_index_reader_free(r);
		return e;
	}
	e = stasync_index_parse_header(r->buf, (size_t)k, &r->header, err);
	if (e < 0) {
		sta_error_prefix(err, e, "%s", r->name);
		stasync_index_reader_free(r);
		return e;
	}
	r->pos = HEADERS_SIZE;
	*ret = r;
	return 0;
}

const stasync_index_header *stasync_index_reader_header(const stasync_index_reader *r)
{
	return &r->header;
}

stasync_digest_type stasync_index_reader_digest_type(const stasync_index_reader *r)
{
	return (r->header.feature_flags & CA_FORMAT_SHA512_256) ? STASYNC_DIGEST_SHA512_256
								 : STASYNC_DIGEST_SHA256;
}

static int check_tail(stasync_index_reader *r, const uint8_t *b, stasync_error *err)
{
	uint64_t table_size = sizeof(struct ca_format_header) + r->n_items * ITEM_SIZE +
			      sizeof(struct ca_format_table_tail);
	ssize_t k;

	if (le64_get(b + 8) != 0 || le64_get(b + 16) != sizeof(struct ca_format_index) ||
	    le64_get(b + 24) != table_size || le64_get(b + 32) != CA_FORMAT_TABLE_TAIL_MARKER)
		return sta_error(err, -EBADMSG, "%s: bad table tail after %" PRIu64 " chunks",
				 r->name, r->n_items);
	r->pos += ITEM_SIZE;
	k = fill(r, 1);
	if (k < 0)
		return sta_error(err, (int)k, "%s: %s", r->name, stasync_strerror((int)k));
	if (k > 0)
		return sta_error(err, -EBADMSG, "%s: trailing bytes after the table tail", r->name);
	r->done = true;
	return 0;
}

int stasync_index_reader_next(stasync_index_reader *r, stasync_index_item *item,
			      stasync_error *err)
{
	const uint8_t *b;
	uint64_t end;
	ssize_t k;

	if (r->failed)
		return sta_error(err, r->failed, "%s: already found malformed", r->name);
	if (r->done)
		return 0;
	k = fill(r, ITEM_SIZE);
	if (k < 0)
		return sta_error(err, (int)k, "%s: %s", r->name, stasync_strerror((int)k));
	if ((size_t)k < ITEM_SIZE)
		return sta_error(err, -EBADMSG, "%s: truncated after %" PRIu64 " chunks (no table tail)",
				 r->name, r->n_items);
	b = r->buf + r->pos;
	end = le64_get(b);
	if (end == 0) {
		int e = check_tail(r, b, err);
		if (e < 0)
			r->failed = e;
		return e;
	}
	if (end <= r->end)
		return sta_error(err, -EBADMSG, "%s: chunk %" PRIu64 " ends at %" PRIu64
				 ", not after the previous end %" PRIu64,
				 r->name, r->n_items, end, r->end);
	if (end - r->end > r->header.chunk_size_max)
		return sta_error(err, -EBADMSG, "%s: chunk %" PRIu64 " is %" PRIu64
				 " bytes, larger than the maximum %" PRIu64,
				 r->name, r->n_items, end - r->end, r->header.chunk_size_max);
	item->offset = r->end;
	item->size = end - r->end;
	memcpy(item->id.bytes, b + 8, STASYNC_DIGEST_SIZE);
	r->end = end;
	r->n_items++;
	r->pos += ITEM_SIZE;
	return 1;
}

int stasync_index_reader_totals(stasync_index_reader *r, uint64_t *chunks, uint64_t *bytes)
{
	const uint64_t tail = sizeof(struct ca_format_table_tail);
	struct stat st;
	uint8_t b[8];
	uint64_t n;

	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ESPIPE;
	if ((uint64_t)st.st_size < HEADERS_SIZE + tail ||
	    ((uint64_t)st.st_size - HEADERS_SIZE - tail) % ITEM_SIZE)
		return -EBADMSG;
	n = ((uint64_t)st.st_size - HEADERS_SIZE - tail) / ITEM_SIZE;
	*chunks = n;
	*bytes = 0;
	if (n == 0)
		return 0;
	/* the last entry's first field: where the stream ends */
	if (pread(r->fd, b, sizeof(b), (off_t)(st.st_size - (off_t)(tail + ITEM_SIZE))) != (ssize_t)sizeof(b))
		return -EBADMSG;
	*bytes = le64_get(b);
	return 0;
}

void stasync_index_reader_free(stasync_index_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->name);
	free(r);
}

struct stasync_index_writer {
	int fd;
	char *name;
	uint64_t max;
	uint64_t n_items, end;
	size_t len;
	uint8_t buf[IO_BUF];
};

static int writer_flush(stasync_index_writer *w, stasync_error *err)
{
	int r = sta_write_full(w->fd, w->buf, w->len);

	if (r < 0)
		return sta_error(err, r, "%s: cannot write: %s", w->name, stasync_strerror(r));
	w->len = 0;
	return 0;
}

static int writer_put(stasync_index_writer *w, const void *p, size_t n, stasync_error *err)
{
	if (w->len + n > sizeof(w->buf)) {
		int r = writer_flush(w, err);
		if (r < 0)
			return r;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int stasync_index_writer_new(int fd, const char *name, const stasync_index_header *h,
			     stasync_index_writer **ret, stasync_error *err)
{
	stasync_index_writer *w = calloc(1, sizeof(*w));
	uint8_t b[HEADERS_SIZE];

	if (!w || !(w->name = strdup(name ? name : "index"))) {
		free(w);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	w->fd = fd;
	w->max = h->chunk_size_max;
	le64_put(b, sizeof(struct ca_format_index));
	le64_put(b + 8, CA_FORMAT_INDEX);
	le64_put(b + 16, h->feature_flags);
	le64_put(b + 24, h->chunk_size_min);
	le64_put(b + 32, h->chunk_size_avg);
	le64_put(b + 40, h->chunk_size_max);
	le64_put(b + 48, UINT64_MAX);
	le64_put(b + 56, CA_FORMAT_TABLE);
	memcpy(w->buf, b, sizeof(b));
	w->len = sizeof(b);
	*ret = w;
	return 0;
}

int stasync_index_writer_add(stasync_index_writer *w, uint64_t size, const stasync_chunk_id *id,
			     stasync_error *err)
{
	uint8_t b[ITEM_SIZE];

	if (size == 0 || size > w->max || w->end + size < w->end)
		return sta_error(err, -EINVAL, "%s: chunk of %" PRIu64 " bytes does not fit the index",
				 w->name, size);
	w->end += size;
	w->n_items++;
	le64_put(b, w->end);
	memcpy(b + 8, id->bytes, STASYNC_DIGEST_SIZE);
	return writer_put(w, b, sizeof(b), err);
}

int stasync_index_writer_finish(stasync_index_writer *w, stasync_error *err)
{
	uint8_t b[sizeof(struct ca_format_table_tail)];
	int r;

	memset(b, 0, 16);
	le64_put(b + 16, sizeof(struct ca_format_index));
	le64_put(b + 24, sizeof(struct ca_format_header) + w->n_items * ITEM_SIZE + sizeof(b));
	le64_put(b + 32, CA_FORMAT_TABLE_TAIL_MARKER);
	r = writer_put(w, b, sizeof(b), err);
	if (r < 0)
		return r;
	return writer_flush(w, err);
}

void stasync_index_writer_free(stasync_index_writer *w)
{
	if (!w)
		return;
	free(w->name);
	free(w);
}
