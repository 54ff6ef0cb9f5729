/* A conversation in casync's remote protocol over a pair of file
 * descriptors: the pipes to an ssh child (client side) or stdin/stdout
 * (the remote side). Output is queued and written while waiting for input,
 * so two sides that both send a lot never block each other. Not
 * thread-safe: one user at a time. */
#ifndef STASYNC_LIB_REMOTE_H
#define STASYNC_LIB_REMOTE_H

#include <sys/types.h>

#include "buf.h"
#include "remote-proto.h"

struct sta_conn;

/* An ssh remote locator taken apart: "[user@]host:path" (path as given,
 * relative to the remote home unless it starts with "/") or
 * "ssh://[user@]host[:port]/path" (path absolute). */
struct sta_ssh_locator {
	char *host;   /* "user@host" as ssh takes it */
	char *port;   /* NULL unless given in an ssh:// URL */
	char *path;
};

/* sta_ssh_locator_parse() — 0, or -EINVAL when s is not an ssh remote. */
int sta_ssh_locator_parse(const char *s, struct sta_ssh_locator *ret);
void sta_ssh_locator_done(struct sta_ssh_locator *l);

/* sta_conn_spawn() — run "$CASYNC_SSH_PATH HOST $CASYNC_REMOTE_PATH VERB -
 * ARCHIVE INDEX WSTORE" (defaults "ssh" and "casync"; NULL paths are
 * passed as "-"), the way casync does, and talk to it. `name` is used in
 * messages. */
int sta_conn_spawn(const struct sta_ssh_locator *l, const char *verb, const char *archive,
		   const char *index, const char *wstore, const char *name,
		   struct sta_conn **ret, stasync_error *err);

/* sta_conn_open_fds() — talk over in_fd/out_fd (not owned, made
 * non-blocking). */
int sta_conn_open_fds(int in_fd, int out_fd, const char *name, struct sta_conn **ret,
		      stasync_error *err);

/* sta_conn_hello() — send our HELLO, read the other side's and check the
 * two fit together. Returns 0 and the other side's features. */
int sta_conn_hello(struct sta_conn *c, uint64_t local, uint64_t *remote, stasync_error *err);

/* sta_conn_out() — the queue to append frames to (sta_proto_put_*()). */
struct sta_buf *sta_conn_out(struct sta_conn *c);
/* sta_conn_out_pending() — bytes queued and not yet written. */
size_t sta_conn_out_pending(const struct sta_conn *c);

/* sta_conn_next() — the next frame, writing queued output meanwhile:
 * 1 and m (valid until the next call), 0 at a clean end of input,
 * -EBADMSG for a malformed frame or input cut in the middle of one,
 * -ECONNABORTED (or the errno sent) for an ABORT, with its reason. */
int sta_conn_next(struct sta_conn *c, struct sta_proto_msg *m, stasync_error *err);

/* sta_conn_try_next() — the same without waiting: -EAGAIN when no whole
 * frame is buffered. */
int sta_conn_try_next(struct sta_conn *c, struct sta_proto_msg *m, stasync_error *err);

/* For a caller that waits itself (poll() on the descriptors, e.g. with a
 * lock released): the descriptors to wait on (-1: none; in for POLLIN,
 * out for POLLOUT), then one non-blocking read and/or write. */
void sta_conn_poll_fds(const struct sta_conn *c, int *in_fd, int *out_fd);
int sta_conn_io(struct sta_conn *c, bool readable, bool writable, stasync_error *err);

/* Queue no more than this before letting the peer catch up. */
#define STA_CONN_OUT_HIGH ((size_t)8 << 20)

/* sta_conn_send_file() — queue all of fd (named path in messages) as
 * frames of `type`, then an empty frame of `eof_type`, writing whenever
 * more than STA_CONN_OUT_HIGH is queued. */
int sta_conn_send_file(struct sta_conn *c, int fd, const char *path, uint64_t type,
		       uint64_t eof_type, stasync_error *err);

/* sta_conn_flush() — write everything queued. It reads meanwhile, which
 * may move the input buffer: a frame from sta_conn_next() is invalid
 * after it. */
int sta_conn_flush(struct sta_conn *c, stasync_error *err);

/* sta_conn_abort() — best effort: queue an ABORT saying err's message and
 * write it without waiting for a peer that does not read. */
void sta_conn_abort(struct sta_conn *c, const stasync_error *err);

/* sta_conn_name() — the name given at open. */
const char *sta_conn_name(const struct sta_conn *c);

/* sta_conn_close() — close the descriptors, reap the ssh child (killing
 * it if it does not end on its own within a moment). Accepts NULL. */
void sta_conn_close(struct sta_conn *c);

#endif
