/* casync's remote protocol: every message built and parsed back, the
 * bounds of each parser, the hello rules, ssh locators, and a conversation
 * read through sta_conn (frames split across reads, garbage, an ABORT). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stasync/remote.h>
#include "remote.h"
#include "remote-proto.h"
#include "util.h"
#include "tap.h"

static stasync_chunk_id id_of(uint8_t v)
{
	stasync_chunk_id id;

	memset(id.bytes, v, sizeof(id.bytes));
	return id;
}

/* Parse b whole; returns the code, m filled. */
static int parse_buf(const struct sta_buf *b, struct sta_proto_msg *m)
{
	stasync_error err = { 0, "" };
	int r = sta_proto_parse(b->data, b->len, m, &err);

	if (r < 0 && (r != -EBADMSG || !err.message[0]))
		tap_ok(false, "a refusal comes with -EBADMSG and a message (got %d)", r);
	return r;
}

static void test_round_trips(void)
{
	struct sta_buf b = { 0 };
	struct sta_proto_msg m;
	stasync_chunk_id ids[3] = { id_of(1), id_of(2), id_of(3) };

	sta_proto_put_hello(&b, STA_PROTO_PULL_CHUNKS | STA_PROTO_PULL_INDEX);
	tap_ok(b.len == 24 && parse_buf(&b, &m) == 0 && m.type == STA_PROTO_HELLO && m.flags == 0xc0,
	       "hello: 24 bytes, features back");
	tap_ok(le64_get(b.data) == 24 && le64_get(b.data + 8) == UINT64_C(0x3c71d0948ca5fbee),
	       "hello: size and type little-endian first");

	sta_buf_reset(&b);
	sta_proto_put_file(&b, STA_PROTO_INDEX, "abc", 3);
	tap_ok(parse_buf(&b, &m) == 0 && m.type == STA_PROTO_INDEX && m.size == 3 &&
	       memcmp(m.data, "abc", 3) == 0, "index: payload back");

	sta_buf_reset(&b);
	sta_proto_put_empty(&b, STA_PROTO_INDEX_EOF);
	tap_ok(b.len == 16 && parse_buf(&b, &m) == 0 && m.type == STA_PROTO_INDEX_EOF, "index-eof: a bare header");

	sta_buf_reset(&b);
	sta_proto_put_request(&b, STA_PROTO_REQUEST_HIGH_PRIORITY, ids, 3);
	tap_ok(b.len == 24 + 96 && parse_buf(&b, &m) == 0 && m.n_ids == 3 && m.flags == 1 &&
	       memcmp(m.ids + 64, ids[2].bytes, 32) == 0, "request: three ids and the flag back");

	sta_buf_reset(&b);
	sta_proto_put_chunk(&b, &ids[1], true, "zz", 2);
	tap_ok(parse_buf(&b, &m) == 0 && m.type == STA_PROTO_CHUNK && m.flags == 1 &&
	       memcmp(m.ids, ids[1].bytes, 32) == 0 && m.size == 2, "chunk: id, flag and data back");

	sta_buf_reset(&b);
	sta_proto_put_missing(&b, &ids[0]);
	tap_ok(b.len == 48 && parse_buf(&b, &m) == 0 && m.type == STA_PROTO_MISSING, "missing: 48 bytes");

	sta_buf_reset(&b);
	sta_proto_put_abort(&b, EIO, "disk\non fire");
	tap_ok(parse_buf(&b, &m) == 0 && m.flags == EIO && strcmp((const char *)m.data, "disk on fire") == 0,
	       "abort: errno back, newline made a space");

	sta_buf_reset(&b);
	tap_ok(sta_proto_put_chunk(&b, &ids[0], true, "x", STA_PROTO_CHUNK_DATA_MAX + 1) == -E2BIG,
	       "chunk: a payload over the frame limit is refused");
	sta_buf_free(&b);
}

/* A frame of `size` bytes (at least 16) of type `type`, body filled with fill. */
static void frame(struct sta_buf *b, size_t size, uint64_t type, uint8_t fill)
{
	sta_buf_reset(b);
	sta_buf_append_le64(b, size);
	sta_buf_append_le64(b, type);
	while (b->len < size)
		sta_buf_append(b, &fill, 1);
}

static void test_bounds(void)
{
	struct sta_buf b = { 0 };
	struct sta_proto_msg m;
	stasync_error err = { 0, "" };
	uint8_t hdr[16] = { 0 };
	size_t n = 99;

	tap_ok(sta_proto_frame_size(hdr, 15, &n, &err) == 0 && n == 0, "frame size: 15 bytes are not enough to tell");
	le64_put(hdr, 15);
	tap_ok(sta_proto_frame_size(hdr, 16, &n, &err) == -EBADMSG, "frame size 15 refused");
	le64_put(hdr, STA_PROTO_SIZE_MAX + 1);
	tap_ok(sta_proto_frame_size(hdr, 16, &n, &err) == -EBADMSG, "frame size over 16 MiB refused");
	le64_put(hdr, UINT64_MAX);
	tap_ok(sta_proto_frame_size(hdr, 16, &n, &err) == -EBADMSG, "frame size 2^64-1 refused");

	frame(&b, 23, STA_PROTO_HELLO, 1);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "hello of 23 bytes refused");
	frame(&b, 24, STA_PROTO_HELLO, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "hello without features refused");
	frame(&b, 24, STA_PROTO_HELLO, 0xff);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "hello with unknown features refused");
	sta_buf_reset(&b);
	sta_proto_put_hello(&b, STA_PROTO_PUSH_INDEX_CHUNKS | STA_PROTO_PUSH_INDEX);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "hello: index chunks without pushing chunks refused");
	frame(&b, 16, STA_PROTO_INDEX, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "empty index message refused");
	frame(&b, 17, STA_PROTO_INDEX_EOF, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "index-eof with a body refused");
	frame(&b, 24, STA_PROTO_REQUEST, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "request without ids refused");
	frame(&b, 24 + 33, STA_PROTO_REQUEST, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "request of 1⅓ ids refused");
	frame(&b, 24 + 32, STA_PROTO_REQUEST, 0);
	b.data[16] = 2;
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "request with an unknown flag refused");
	frame(&b, 56, STA_PROTO_CHUNK, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "chunk without data refused");
	frame(&b, 57, STA_PROTO_CHUNK, 0);
	tap_ok(parse_buf(&b, &m) == 0 && m.size == 1, "chunk of one byte taken");
	frame(&b, 49, STA_PROTO_MISSING, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "missing of 49 bytes refused");
	frame(&b, 24, STA_PROTO_ABORT, 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "abort without reason refused");
	frame(&b, 30, STA_PROTO_ABORT, 'a');
	memset(b.data + 16, 0, 8);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "abort reason without NUL refused");
	b.data[29] = 0;
	b.data[25] = '\n';
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "abort reason with a control character refused");
	b.data[25] = 'a';
	le64_put(b.data + 16, INT32_MAX);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "abort errno out of range refused");
	frame(&b, 16, UINT64_C(0x1234), 0);
	tap_ok(parse_buf(&b, &m) == -EBADMSG, "unknown message type refused");
	sta_buf_free(&b);
}

static void test_hello_check(void)
{
	stasync_error err = { 0, "" };

	tap_ok(sta_proto_hello_check(STA_PROTO_PULL_CHUNKS, STA_PROTO_READABLE_STORE, &err) == 0,
	       "pull chunks from a readable store");
	tap_ok(sta_proto_hello_check(STA_PROTO_PULL_INDEX, STA_PROTO_READABLE_STORE, &err) == -EPROTO &&
	       strstr(err.message, "index"), "pull an index from a side without one: refused, says why");
	tap_ok(sta_proto_hello_check(STA_PROTO_WRITABLE_STORE, STA_PROTO_PUSH_CHUNKS, &err) == 0,
	       "the remote side's view of a push");
	tap_ok(sta_proto_hello_check(STA_PROTO_READABLE_STORE, STA_PROTO_READABLE_INDEX, &err) == -EPROTO,
	       "nobody wants anything: refused");
}

static void test_locators(void)
{
	static const struct {
		const char *s, *host, *port, *path;
	} good[] = {
		{ "host:/srv/x.caibx", "host", NULL, "/srv/x.caibx" },
		{ "user@host.example:rel/x.caibx", "user@host.example", NULL, "rel/x.caibx" },
		{ "ssh://host/srv/store", "host", NULL, "/srv/store" },
		{ "ssh://me@host:2222/srv/store", "me@host", "2222", "/srv/store" },
	};
	static const char *const bad[] = {
		"/abs/path", "./rel:x", ".", "..", "host:", "http://host/x", "file:///x",
		"no-colon", "user@:x", "ssh://host", "ssh://host/", "ssh://host:x/p", "ho st:x",
		"ssh://-oProxyCommand=x/p", ":path", "-oProxyCommand:x", "ssh://@host/p",
		"ssh://user@/p", "ssh://a@b@c/p",
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		struct sta_ssh_locator l;
		bool ok = sta_ssh_locator_parse(good[i].s, &l) == 0;

		tap_ok(ok && strcmp(l.host, good[i].host) == 0 && strcmp(l.path, good[i].path) == 0 &&
		       (good[i].port ? l.port && strcmp(l.port, good[i].port) == 0 : !l.port) &&
		       stasync_is_ssh_remote(good[i].s), "ssh remote: %s", good[i].s);
		if (ok)
			sta_ssh_locator_done(&l);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		tap_ok(!stasync_is_ssh_remote(bad[i]), "not an ssh remote: %s", bad[i]);
}

/* A conversation read from a pipe a child writes in small pieces. */
static void test_conn(void)
{
	struct sta_buf b = { 0 };
	struct sta_conn *c = NULL;
	struct sta_proto_msg m;
	stasync_error err = { 0, "" };
	stasync_chunk_id id = id_of(7);
	int in[2], out[2], r;
	pid_t pid;

	sta_proto_put_hello(&b, STA_PROTO_READABLE_STORE);
	sta_proto_put_chunk(&b, &id, true, "data", 4);
	sta_proto_put_abort(&b, 0, "tired");
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(in[0]);
		for (size_t i = 0; i < b.len; i += 5) {
			if (write(in[1], b.data + i, MIN(5, b.len - i)) < 0)
				_exit(1);
			usleep(1000);
		}
		_exit(0);
	}
	close(in[1]);
	tap_ok(sta_conn_open_fds(in[0], out[1], "peer", &c, &err) == 0, "conn over pipes");
	tap_ok(sta_conn_hello(c, STA_PROTO_PULL_CHUNKS, &(uint64_t){ 0 }, &err) == 0,
	       "hello read from 5-byte pieces");
	r = sta_conn_next(c, &m, &err);
	tap_ok(r == 1 && m.type == STA_PROTO_CHUNK && m.size == 4 && memcmp(m.data, "data", 4) == 0,
	       "chunk read whole");
	r = sta_conn_next(c, &m, &err);
	tap_ok(r == -ECONNABORTED && strstr(err.message, "tired") && strstr(err.message, "peer"),
	       "abort: -ECONNABORTED with the peer's reason (%s)", err.message);
	sta_conn_close(c);
	waitpid(pid, NULL, 0);
	close(in[0]);
	close(out[0]);
	close(out[1]);

	/* Garbage, then a cut frame. */
	if (pipe(in) < 0 || pipe(out) < 0)
		abort();
	if (write(in[1], "\x05\0\0\0\0\0\0\0garbage!", 16) != 16)
		abort();
	close(in[1]);
	sta_conn_open_fds(in[0], out[1], "peer", &c, &err);
	tap_ok(sta_conn_next(c, &m, &err) == -EBADMSG && strstr(err.message, "peer"), "garbage: -EBADMSG (%s)",
	       err.message);
	sta_conn_close(c);
	close(in[0]);
	if (pipe(in) < 0)
		abort();
	sta_buf_reset(&b);
	sta_proto_put_chunk(&b, &id, true, "data", 4);
	if (write(in[1], b.data, b.len - 1) != (ssize_t)b.len - 1)
		abort();
	close(in[1]);
	sta_conn_open_fds(in[0], out[1], "peer", &c, &err);
	tap_ok(sta_conn_next(c, &m, &err) == -EBADMSG && strstr(err.message, "middle"),
	       "a frame cut short: -EBADMSG (%s)", err.message);
	sta_conn_close(c);
	close(in[0]);
	close(out[0]);
	close(out[1]);
	sta_buf_free(&b);
}

int main(void)
{
	test_round_trips();
	test_bounds();
	test_hello_check();
	test_locators();
	test_conn();
	return tap_done();
}
