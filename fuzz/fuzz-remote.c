/* fuzz-remote — casync's remote protocol as a hostile peer would speak it.
 *
 * Byte 0 picks the mode, the rest is what the peer sends:
 *   even: the bytes are cut into frames with sta_proto_frame_size() and
 *         each parsed with sta_proto_parse(); every field must lie inside
 *         its frame, and every frame that parses must come out of the
 *         builders byte for byte the same (a round trip).
 *   odd:  the bytes are the input of a whole "pull" conversation
 *         (stasync_remote_serve_pull() over a memory file, answering from
 *         a store that does not exist); it must end with 0 or an error
 *         with a message, never crash, hang or grow without bound.
 * Every failure must be -EBADMSG (or the peer's own ABORT) with a message. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stasync/remote.h>
#include "remote-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int input_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-remote", MFD_CLOEXEC);

	if (fd < 0) {
		FILE *f = tmpfile();

		if (!f)
			abort();
		fd = dup(fileno(f));
		fclose(f);
		if (fd < 0)
			abort();
	}
	for (size_t done = 0; done < size;) {
		ssize_t k = write(fd, data + done, size - done);

		if (k <= 0)
			abort();
		done += (size_t)k;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Build m again; NULL-free checks that it is the frame it came from. */
static void round_trip(const uint8_t *frame, size_t n, const struct sta_proto_msg *m)
{
	struct sta_buf b = { 0 };
	stasync_chunk_id ids[8];
	int r = 0;

	switch (m->type) {
	case STA_PROTO_HELLO:
		r = sta_proto_put_hello(&b, m->flags);
		break;
	case STA_PROTO_INDEX:
	case STA_PROTO_ARCHIVE:
		r = sta_proto_put_file(&b, m->type, m->data, m->size);
		break;
	case STA_PROTO_INDEX_EOF:
	case STA_PROTO_ARCHIVE_EOF:
	case STA_PROTO_GOODBYE:
		r = sta_proto_put_empty(&b, m->type);
		break;
	case STA_PROTO_REQUEST:
		if (m->n_ids > 8)
			return;
		for (size_t i = 0; i < m->n_ids; i++)
			memcpy(ids[i].bytes, m->ids + 32 * i, 32);
		r = sta_proto_put_request(&b, m->flags, ids, m->n_ids);
		break;
	case STA_PROTO_CHUNK:
		memcpy(ids[0].bytes, m->ids, 32);
		r = sta_proto_put_chunk(&b, &ids[0], m->flags & 1, m->data, m->size);
		break;
	case STA_PROTO_MISSING:
		memcpy(ids[0].bytes, m->ids, 32);
		r = sta_proto_put_missing(&b, &ids[0]);
		break;
	case STA_PROTO_ABORT:
		/* The builder cuts reasons to a message's length. */
		if (m->size > STASYNC_ERROR_MESSAGE_MAX)
			return;
		r = sta_proto_put_abort(&b, (int)m->flags, (const char *)m->data);
		break;
	default:
		abort();
	}
	if (r < 0 || b.len != n || memcmp(b.data, frame, n) != 0)
		abort();
	sta_buf_free(&b);
}

static void frames(const uint8_t *data, size_t size)
{
	while (size > 0) {
		stasync_error err = { 0, "" };
		struct sta_proto_msg m;
		size_t n;
		int r = sta_proto_frame_size(data, size, &n, &err);

		if (r < 0) {
			if (r != -EBADMSG || !err.message[0])
				abort();
			return;
		}
		if (n == 0 || n > size)
			return;   /* needs more bytes */
		r = sta_proto_parse(data, n, &m, &err);
		if (r < 0) {
			if (r != -EBADMSG || !err.message[0])
				abort();
		} else {
			const uint8_t *end = data + n;

			if (!sta_proto_type_name(m.type))
				abort();
			if (m.ids && (m.ids < data || m.ids + 32 * m.n_ids > end))
				abort();
			if (m.data && (m.data < data || m.data + m.size > end || m.size == 0))
				abort();
			round_trip(data, n, &m);
		}
		data += n;
		size -= n;
	}
}

static void conversation(const uint8_t *data, size_t size)
{
	const char *stores[] = { "/nonexistent/fuzz-remote-store" };
	stasync_remote_paths p = { .rstores = stores, .n_rstores = 1 };
	stasync_error err = { 0, "" };
	int in = input_fd(data, size), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int r;

	if (out < 0)
		abort();
	r = stasync_remote_serve_pull(in, out, &p, &err);
	if (r < 0 && (err.code != r || !err.message[0]))
		abort();
	close(in);
	close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		conversation(data + 1, size - 1);
	else
		frames(data + 1, size - 1);
	return 0;
}
