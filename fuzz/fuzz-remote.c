/* fuzz-remote — casync's remote protocol as a hostile peer would speak it.
 *
 * Byte 0 picks the mode, the rest is what the peer sends:
 *   even: the bytes are cut into frames with sta_proto_frame_size() and
 *         each parsed with sta_proto_parse(); every field must lie inside
 *         its frame, and every frame that parses must come out of the
 *         builders byte for byte the same (a round trip).
 *   1, 5, …: the bytes are the input of a whole "pull" conversation
 *         (stasync_remote_serve_pull() over a memory file, answering from
 *         a store that does not exist);
 *   3, 7, …: of a whole "push" conversation (stasync_remote_serve_push()
 *         into a fresh temporary directory): the index may appear only
 *         when the conversation succeeded, and then every chunk it names
 *         is in the store and decodes to its id.
 * A conversation must end with 0 or an error with a message, never crash,
 * hang or grow without bound. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/index.h>
#include <stasync/remote.h>
#include <stasync/store.h>
#include "remote-proto.h"

#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	int in = fuzz_input_fd("fuzz-remote", data, size), out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int r;

	if (out < 0)
		abort();
	r = stasync_remote_serve_pull(in, out, &p, &err);
	if (r < 0 && (err.code != r || !err.message[0]))
		abort();
	close(in);
	close(out);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)f;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Every chunk the index names is in the store, intact. */
static void check_pushed(const char *index, const char *store_dir)
{
	stasync_index_reader *ir = NULL;
	stasync_store *st = NULL;
	stasync_codec *codec = NULL;
	stasync_index_item item;
	stasync_error err = { 0, "" };
	int fd = open(index, O_RDONLY | O_CLOEXEC), k;

	if (fd < 0 || stasync_index_reader_open(fd, index, &ir, &err) < 0 ||
	    stasync_store_open(store_dir, 0, &st, &err) < 0 || stasync_codec_new(&codec) < 0)
		abort();
	while ((k = stasync_index_reader_next(ir, &item, &err)) == 1) {
		uint8_t *out = malloc(item.size);

		if (!out || stasync_store_get(st, codec, &item.id, stasync_index_reader_digest_type(ir),
					      out, item.size, &err) < 0)
			abort();
		free(out);
	}
	if (k < 0)
		abort();
	stasync_codec_free(codec);
	stasync_store_free(st);
	stasync_index_reader_free(ir);
}

static void push_conversation(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/fuzz-remote.XXXXXX", index[64], store_dir[64];
	stasync_remote_paths p = { .index = index, .wstore = store_dir };
	stasync_error err = { 0, "" };
	int in, out, r;

	if (!mkdtemp(dir))
		abort();
	snprintf(index, sizeof(index), "%s/x.caibx", dir);
	snprintf(store_dir, sizeof(store_dir), "%s/st", dir);
	in = fuzz_input_fd("fuzz-remote", data, size);
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (out < 0)
		abort();
	r = stasync_remote_serve_push(in, out, &p, &err);
	if (r < 0 && (err.code != r || !err.message[0] || access(index, F_OK) == 0))
		abort();
	/* Only a client that asked to be asked for the index's chunks has
	 * them all stored; one that pushes an index alone gets casync's
	 * answer: the index. */
	if (r == 0 && size >= 24 && le64(data + 8) == STA_PROTO_HELLO &&
	    (le64(data + 16) & STA_PROTO_PUSH_INDEX_CHUNKS))
		check_pushed(index, store_dir);
	close(in);
	close(out);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if ((data[0] & 3) == 1)
		conversation(data + 1, size - 1);
	else if ((data[0] & 3) == 3)
		push_conversation(data + 1, size - 1);
	else
		frames(data + 1, size - 1);
	return 0;
}
