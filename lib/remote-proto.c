/* Frames of casync's remote protocol: sizes checked against the type
 * before any field is read, nothing allocated on a peer's say-so. */
#include <stdio.h>

#include "remote-proto.h"
#include "util.h"

const char *sta_proto_type_name(uint64_t type)
{
	switch (type) {
	case STA_PROTO_HELLO: return "hello";
	case STA_PROTO_INDEX: return "index";
	case STA_PROTO_INDEX_EOF: return "index-eof";
	case STA_PROTO_ARCHIVE: return "archive";
	case STA_PROTO_ARCHIVE_EOF: return "archive-eof";
	case STA_PROTO_REQUEST: return "request";
	case STA_PROTO_CHUNK: return "chunk";
	case STA_PROTO_MISSING: return "missing";
	case STA_PROTO_GOODBYE: return "goodbye";
	case STA_PROTO_ABORT: return "abort";
	}
	return NULL;
}

int sta_proto_frame_size(const void *p, size_t n, size_t *ret, stasync_error *err)
{
	uint64_t size;

	if (n < STA_PROTO_HEADER_SIZE) {
		*ret = 0;
		return 0;
	}
	size = le64_get(p);
	if (size < STA_PROTO_HEADER_SIZE || size > STA_PROTO_SIZE_MAX)
		return sta_error(err, -EBADMSG, "protocol frame of %llu bytes (must be 16 to %zu)",
				 (unsigned long long)size, STA_PROTO_SIZE_MAX);
	*ret = (size_t)size;
	return 0;
}

static int bad(stasync_error *err, uint64_t type, size_t n, const char *why)
{
	const char *name = sta_proto_type_name(type);

	if (name)
		return sta_error(err, -EBADMSG, "malformed %s message (%zu bytes): %s", name, n, why);
	return sta_error(err, -EBADMSG, "unknown protocol message type %016llx",
			 (unsigned long long)type);
}

int sta_proto_parse(const void *p, size_t n, struct sta_proto_msg *m, stasync_error *err)
{
	const uint8_t *b = p;
	size_t size = 0;
	int r;

	r = sta_proto_frame_size(p, n, &size, err);
	if (r < 0)
		return r;
	if (size == 0 || size != n)
		return sta_error(err, -EBADMSG, "protocol frame of %zu bytes cut short or overlong", n);
	*m = (struct sta_proto_msg){ .type = le64_get(b + 8) };
	switch (m->type) {
	case STA_PROTO_HELLO:
		if (n != 24)
			return bad(err, m->type, n, "wrong size");
		m->flags = le64_get(b + 16);
		if (m->flags == 0)
			return bad(err, m->type, n, "no features at all");
		if (m->flags & ~(uint64_t)STA_PROTO_FEATURES_ALL)
			return bad(err, m->type, n, "unknown features (a newer protocol?)");
		if ((m->flags & STA_PROTO_PUSH_INDEX_CHUNKS) &&
		    (m->flags & (STA_PROTO_PUSH_INDEX | STA_PROTO_PUSH_CHUNKS)) !=
			    (STA_PROTO_PUSH_INDEX | STA_PROTO_PUSH_CHUNKS))
			return bad(err, m->type, n, "index chunks pushed without index and chunks");
		return 0;
	case STA_PROTO_INDEX:
	case STA_PROTO_ARCHIVE:
		if (n < 17)
			return bad(err, m->type, n, "no data");
		m->data = b + 16;
		m->size = n - 16;
		return 0;
	case STA_PROTO_INDEX_EOF:
	case STA_PROTO_ARCHIVE_EOF:
	case STA_PROTO_GOODBYE:
		if (n != 16)
			return bad(err, m->type, n, "wrong size");
		return 0;
	case STA_PROTO_REQUEST:
		if (n < 24 + STA_PROTO_ID_SIZE || (n - 24) % STA_PROTO_ID_SIZE)
			return bad(err, m->type, n, "not a whole number of chunk ids");
		m->flags = le64_get(b + 16);
		if (m->flags & ~(uint64_t)STA_PROTO_REQUEST_HIGH_PRIORITY)
			return bad(err, m->type, n, "unknown flags");
		m->ids = b + 24;
		m->n_ids = (n - 24) / STA_PROTO_ID_SIZE;
		return 0;
	case STA_PROTO_CHUNK:
		if (n < 24 + STA_PROTO_ID_SIZE + 1)
			return bad(err, m->type, n, "no data");
		m->flags = le64_get(b + 16);
		if (m->flags & ~(uint64_t)STA_PROTO_CHUNK_COMPRESSED)
			return bad(err, m->type, n, "unknown flags");
		m->ids = b + 24;
		m->n_ids = 1;
		m->data = b + 24 + STA_PROTO_ID_SIZE;
		m->size = n - 24 - STA_PROTO_ID_SIZE;
		return 0;
	case STA_PROTO_MISSING:
		if (n != 16 + STA_PROTO_ID_SIZE)
			return bad(err, m->type, n, "wrong size");
		m->ids = b + 16;
		m->n_ids = 1;
		return 0;
	case STA_PROTO_ABORT:
		if (n < 25)
			return bad(err, m->type, n, "no reason");
		m->flags = le64_get(b + 16);
		if (m->flags >= INT32_MAX)
			return bad(err, m->type, n, "error code out of range");
		m->data = b + 24;
		m->size = n - 24;
		if (m->data[m->size - 1] != 0)
			return bad(err, m->type, n, "reason not NUL-terminated");
		for (size_t i = 0; i + 1 < m->size; i++)
			if (m->data[i] < ' ')
				return bad(err, m->type, n, "control character in reason");
		return 0;
	}
	return bad(err, m->type, n, "unknown type");
}

int sta_proto_hello_check(uint64_t local, uint64_t remote, stasync_error *err)
{
	static const struct { uint64_t op, service; const char *what; } needs[] = {
		{ STA_PROTO_PULL_CHUNKS, STA_PROTO_READABLE_STORE, "read chunks from a store" },
		{ STA_PROTO_PULL_INDEX, STA_PROTO_READABLE_INDEX, "read an index" },
		{ STA_PROTO_PULL_ARCHIVE, STA_PROTO_READABLE_ARCHIVE, "read an archive" },
		{ STA_PROTO_PUSH_CHUNKS, STA_PROTO_WRITABLE_STORE, "write chunks to a store" },
		{ STA_PROTO_PUSH_INDEX, STA_PROTO_WRITABLE_INDEX, "write an index" },
		{ STA_PROTO_PUSH_ARCHIVE, STA_PROTO_WRITABLE_ARCHIVE, "write an archive" },
	};
	const uint64_t ops = STA_PROTO_PULL_CHUNKS | STA_PROTO_PULL_INDEX | STA_PROTO_PULL_ARCHIVE |
			     STA_PROTO_PUSH_CHUNKS | STA_PROTO_PUSH_INDEX | STA_PROTO_PUSH_ARCHIVE;

	for (size_t i = 0; i < ELEMENTSOF(needs); i++) {
		if ((local & needs[i].op) && !(remote & needs[i].service))
			return sta_error(err, -EPROTO, "the remote side cannot %s", needs[i].what);
		if ((remote & needs[i].op) && !(local & needs[i].service))
			return sta_error(err, -EPROTO, "the other side wants to %s, which is not offered here",
					 needs[i].what);
	}
	if (!((local | remote) & ops))
		return sta_error(err, -EPROTO, "neither side wants anything done");
	return 0;
}

static int put_header(struct sta_buf *b, uint64_t size, uint64_t type)
{
	int r = sta_buf_reserve(b, (size_t)size);

	if (r < 0)
		return r;
	sta_buf_append_le64(b, size);
	return sta_buf_append_le64(b, type);
}

int sta_proto_put_hello(struct sta_buf *b, uint64_t features)
{
	int r = put_header(b, 24, STA_PROTO_HELLO);

	return r < 0 ? r : sta_buf_append_le64(b, features);
}

int sta_proto_put_file(struct sta_buf *b, uint64_t type, const void *p, size_t n)
{
	const uint8_t *q = p;
	int r = 0;

	if (n == 0)
		return -EINVAL;
	while (n > 0 && r == 0) {
		size_t k = MIN(n, STA_PROTO_SIZE_MAX - 16);

		r = put_header(b, 16 + k, type);
		if (r == 0)
			r = sta_buf_append(b, q, k);
		q += k;
		n -= k;
	}
	return r;
}

int sta_proto_put_empty(struct sta_buf *b, uint64_t type)
{
	return put_header(b, 16, type);
}

int sta_proto_put_request(struct sta_buf *b, uint64_t flags, const stasync_chunk_id *ids, size_t n)
{
	size_t max = (STA_PROTO_SIZE_MAX - 24) / STA_PROTO_ID_SIZE;
	int r = 0;

	if (n == 0)
		return -EINVAL;
	while (n > 0 && r == 0) {
		size_t k = MIN(n, max);

		r = put_header(b, 24 + k * STA_PROTO_ID_SIZE, STA_PROTO_REQUEST);
		if (r == 0)
			r = sta_buf_append_le64(b, flags);
		for (size_t i = 0; i < k && r == 0; i++)
			r = sta_buf_append(b, ids[i].bytes, STA_PROTO_ID_SIZE);
		ids += k;
		n -= k;
	}
	return r;
}

int sta_proto_put_chunk(struct sta_buf *b, const stasync_chunk_id *id, bool compressed,
			const void *p, size_t n)
{
	int r;

	if (n == 0 || n > STA_PROTO_CHUNK_DATA_MAX)
		return n ? -E2BIG : -EINVAL;
	r = put_header(b, 24 + STA_PROTO_ID_SIZE + n, STA_PROTO_CHUNK);
	if (r == 0)
		r = sta_buf_append_le64(b, compressed ? STA_PROTO_CHUNK_COMPRESSED : 0);
	if (r == 0)
		r = sta_buf_append(b, id->bytes, STA_PROTO_ID_SIZE);
	return r < 0 ? r : sta_buf_append(b, p, n);
}

int sta_proto_put_missing(struct sta_buf *b, const stasync_chunk_id *id)
{
	int r = put_header(b, 16 + STA_PROTO_ID_SIZE, STA_PROTO_MISSING);

	return r < 0 ? r : sta_buf_append(b, id->bytes, STA_PROTO_ID_SIZE);
}

int sta_proto_put_abort(struct sta_buf *b, int error, const char *reason)
{
	char line[STASYNC_ERROR_MESSAGE_MAX];
	size_t n;
	int r;

	snprintf(line, sizeof(line), "%s", reason ? reason : "");
	n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < ' ')
			line[i] = ' ';
	if (error < 0 || error >= INT32_MAX)
		error = 0;
	r = put_header(b, 24 + n + 1, STA_PROTO_ABORT);
	if (r == 0)
		r = sta_buf_append_le64(b, (uint64_t)error);
	return r < 0 ? r : sta_buf_append(b, line, n + 1);
}
