/* Moving protocol frames over pipes, and starting the ssh that carries
 * them. Both descriptors are non-blocking and served by one poll() loop,
 * as casync does: a side that only wrote until its peer read could
 * deadlock with a peer doing the same. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "remote.h"
#include "util.h"

#define READ_STEP ((size_t)1 << 16)
/* Bytes of a file read at a time to be sent. */
#define FILE_STEP ((size_t)1 << 18)

struct sta_conn {
	int in_fd, out_fd;
	bool own_fds;
	pid_t pid;
	char *name;
	struct sta_buf in, out;
	size_t in_start;     /* first byte of in not handed out yet */
	size_t frame;        /* the frame handed out last, dropped at the next call */
	size_t out_start;    /* first byte of out not written yet */
	bool eof;
	bool out_dead;       /* the peer stopped reading: output is dropped */
};

/* ---- locators --------------------------------------------------------------- */

/* casync's characters for host names in "host:path". */
static bool host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == '%';
}

static size_t host_span(const char *s)
{
	size_t n = 0;

	while (host_char(s[n]))
		n++;
	return n;
}

int sta_ssh_locator_parse(const char *s, struct sta_ssh_locator *ret)
{
	struct sta_ssh_locator l = { 0 };
	size_t n, k;

	if (strncmp(s, "ssh://", 6) == 0) {
		const char *a = s + 6, *slash = strchr(a, '/'), *colon, *at;

		if (!slash || slash == a || !slash[1])
			return -EINVAL;
		colon = memchr(a, ':', (size_t)(slash - a));
		l.host = strndup(a, (size_t)((colon ? colon : slash) - a));
		if (colon) {
			if (colon + 1 == slash || strspn(colon + 1, "0123456789") != (size_t)(slash - colon - 1))
				goto invalid;
			l.port = strndup(colon + 1, (size_t)(slash - colon - 1));
			if (!l.port)
				goto nomem;
		}
		l.path = strdup(slash);
		if (!l.host || !l.path)
			goto nomem;
		at = strchr(l.host, '@');
		/* "user@host": one '@', neither side empty, no option for ssh. */
		if (!l.host[0] || (at && (at != strrchr(l.host, '@') || at == l.host || !at[1])) ||
		    l.host[0] == '-')
			goto invalid;
		*ret = l;
		return 0;
	}
	/* casync's rule: not "/…", "./…", "." or "..", no "scheme://", a host
	 * (optionally user@host) of its characters, ':' and a non-empty path. */
	if (s[0] == '/' || (s[0] == '.' && (s[1] == 0 || s[1] == '/' || (s[1] == '.' && s[2] == 0))))
		return -EINVAL;
	/* A host that ssh would take for an option is none. */
	if (strstr(s, "://") || s[0] == '-')
		return -EINVAL;
	n = host_span(s);
	if (n == 0)
		return -EINVAL;
	if (s[n] == '@') {
		k = host_span(s + n + 1);
		if (k == 0)
			return -EINVAL;
		n += 1 + k;
	}
	if (s[n] != ':' || !s[n + 1])
		return -EINVAL;
	l.host = strndup(s, n);
	l.path = strdup(s + n + 1);
	if (!l.host || !l.path)
		goto nomem;
	*ret = l;
	return 0;
invalid:
	sta_ssh_locator_done(&l);
	return -EINVAL;
nomem:
	sta_ssh_locator_done(&l);
	return -ENOMEM;
}

void sta_ssh_locator_done(struct sta_ssh_locator *l)
{
	free(l->host);
	free(l->port);
	free(l->path);
	*l = (struct sta_ssh_locator){ 0 };
}

/* ---- the ssh child -------------------------------------------------------- */

/* ssh hands the remote command to a shell as one string: quote what that
 * shell would otherwise split or expand. */
static char *shell_quote(const char *s)
{
	size_t n = 2;
	char *q, *p;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") ==
			  strlen(s))
		return strdup(s);
	for (const char *t = s; *t; t++)
		n += *t == '\'' ? 4 : 1;
	q = p = malloc(n + 1);
	if (!q)
		return NULL;
	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = *s;
	}
	*p++ = '\'';
	*p = 0;
	return q;
}

static int conn_new(int in_fd, int out_fd, const char *name, struct sta_conn **ret)
{
	struct sta_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->name = strdup(name);
	/* A frame and the next read step: a peer cannot make us hold more. */
	c->in.limit = STA_PROTO_SIZE_MAX + 2 * READ_STEP;
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int sta_conn_open_fds(int in_fd, int out_fd, const char *name, struct sta_conn **ret,
		      stasync_error *err)
{
	int r;

	if (set_nonblock(in_fd) < 0 || set_nonblock(out_fd) < 0)
		return sta_error(err, -errno, "%s: %s", name, stasync_strerror(-errno));
	r = conn_new(in_fd, out_fd, name, ret);
	return r < 0 ? sta_error(err, r, "out of memory") : 0;
}

int sta_conn_spawn(const struct sta_ssh_locator *l, const char *verb, const char *archive,
		   const char *index, const char *wstore, const char *name,
		   struct sta_conn **ret, stasync_error *err)
{
	const char *ssh = getenv("CASYNC_SSH_PATH"), *remote = getenv("CASYNC_REMOTE_PATH");
	const char *args[4] = { "-", archive, index, wstore };
	char *argv[16] = { 0 }, *quoted[4] = { 0 };
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, status[2] = { -1, -1 };
	struct sta_conn *c = NULL;
	size_t i = 0;
	int r, child_errno;
	ssize_t k;
	pid_t pid;

	if (!ssh || !*ssh)
		ssh = "ssh";
	if (!remote || !*remote)
		remote = "casync";
	for (size_t j = 0; j < 4; j++)
		if (!(quoted[j] = shell_quote(args[j] ? args[j] : "-"))) {
			r = sta_error(err, -ENOMEM, "out of memory");
			goto out;
		}
	argv[i++] = (char *)ssh;
	if (l->port) {
		argv[i++] = (char *)"-p";
		argv[i++] = l->port;
	}
	/* "--" would be cleaner, but not every stand-in for ssh takes it;
	 * the locator parser keeps host names from starting with '-'. */
	argv[i++] = l->host;
	argv[i++] = (char *)remote;   /* unquoted, as casync passes it */
	argv[i++] = (char *)verb;
	for (size_t j = 0; j < 4; j++)
		argv[i++] = quoted[j];
	argv[i] = NULL;

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0 || pipe2(status, O_CLOEXEC) < 0) {
		r = sta_error(err, -errno, "%s: cannot make pipes: %s", name, stasync_strerror(-errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = sta_error(err, -errno, "%s: cannot fork: %s", name, stasync_strerror(-errno));
		goto out;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec; ssh gets
		 * SIGPIPE back as it would from a shell. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		if (dup2(to[0], STDIN_FILENO) >= 0 && dup2(from[1], STDOUT_FILENO) >= 0) {
			sigaction(SIGPIPE, &dfl, NULL);
			execvp(argv[0], argv);
		}
		child_errno = errno;
		(void)!write(status[1], &child_errno, sizeof(child_errno));
		_exit(127);
	}
	close(status[1]);
	status[1] = -1;
	do
		k = read(status[0], &child_errno, sizeof(child_errno));
	while (k < 0 && errno == EINTR);
	if (k == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		r = sta_error(err, -child_errno, "%s: cannot run %s: %s", name, ssh,
			      stasync_strerror(-child_errno));
		goto out;
	}
	r = sta_conn_open_fds(from[0], to[1], name, &c, err);
	if (r < 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		goto out;
	}
	c->own_fds = true;
	c->pid = pid;
	from[0] = to[1] = -1;
	*ret = c;
	r = 0;
out:
	for (size_t j = 0; j < 2; j++) {
		if (to[j] >= 0)
			close(to[j]);
		if (from[j] >= 0)
			close(from[j]);
		if (status[j] >= 0)
			close(status[j]);
	}
	for (size_t j = 0; j < 4; j++)
		free(quoted[j]);
	return r;
}

/* ---- moving bytes ------------------------------------------------------------ */

/* write() with SIGPIPE held off for this thread: a peer gone away is an
 * error to report, not a reason to die. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t k;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	k = write(fd, p, n);
	saved = errno;
	if (k < 0 && saved == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return k;
}

size_t sta_conn_out_pending(const struct sta_conn *c)
{
	return c->out_dead ? 0 : c->out.len - c->out_start;
}

struct sta_buf *sta_conn_out(struct sta_conn *c)
{
	if (c->out_dead)
		c->out_start = c->out.len = 0;
	/* Drop what was written before the caller appends more. */
	if (c->out_start > 0 && (c->out_start == c->out.len || c->out_start >= READ_STEP * 16)) {
		memmove(c->out.data, c->out.data + c->out_start, c->out.len - c->out_start);
		c->out.len -= c->out_start;
		c->out_start = 0;
	}
	return &c->out;
}

void sta_conn_poll_fds(const struct sta_conn *c, int *in_fd, int *out_fd)
{
	*in_fd = c->eof ? -1 : c->in_fd;
	*out_fd = sta_conn_out_pending(c) > 0 ? c->out_fd : -1;
}

int sta_conn_io(struct sta_conn *c, bool readable, bool writable, stasync_error *err)
{
	int r;

	if (writable && sta_conn_out_pending(c) > 0) {
		ssize_t k = write_nosigpipe(c->out_fd, c->out.data + c->out_start,
					    sta_conn_out_pending(c));

		/* A peer that stopped reading may still have said why (an
		 * ABORT) or what went wrong: keep reading, stop writing. */
		if (k < 0 && errno == EPIPE)
			c->out_dead = true;
		else if (k < 0 && errno != EAGAIN && errno != EINTR)
			return sta_error(err, -errno, "%s: cannot send: %s", c->name,
					 stasync_strerror(-errno));
		if (k > 0)
			c->out_start += (size_t)k;
		if (c->out_dead || c->out_start == c->out.len)
			c->out_start = c->out.len = 0;
	}
	if (readable && !c->eof) {
		ssize_t k;

		if (c->in_start > 0) {
			memmove(c->in.data, c->in.data + c->in_start, c->in.len - c->in_start);
			c->in.len -= c->in_start;
			c->in_start = 0;
		}
		r = sta_buf_reserve(&c->in, READ_STEP);
		if (r < 0)
			return sta_error(err, r, "%s: out of memory", c->name);
		k = read(c->in_fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return sta_error(err, -errno, "%s: cannot receive: %s", c->name,
					 stasync_strerror(-errno));
		if (k == 0)
			c->eof = true;
		if (k > 0)
			c->in.len += (size_t)k;
	}
	return 0;
}

/* Wait until something can move, then move it. want_in: read too. */
static int pump(struct sta_conn *c, bool want_in, stasync_error *err)
{
	struct pollfd p[2];
	int in_fd, out_fd, r;

	sta_conn_poll_fds(c, &in_fd, &out_fd);
	if (!want_in)
		in_fd = -1;
	if (in_fd < 0 && out_fd < 0)
		return 0;
	/* poll() passes over negative descriptors. */
	p[0] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = out_fd, .events = POLLOUT };
	while ((r = poll(p, 2, -1)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return sta_error(err, -errno, "%s: poll: %s", c->name, stasync_strerror(-errno));
	return sta_conn_io(c, p[0].revents != 0, p[1].revents != 0, err);
}

int sta_conn_try_next(struct sta_conn *c, struct sta_proto_msg *m, stasync_error *err)
{
	size_t avail, size;
	const uint8_t *p;
	int r;

	c->in_start += c->frame;
	c->frame = 0;
	avail = c->in.len - c->in_start;
	p = avail ? c->in.data + c->in_start : NULL;
	r = sta_proto_frame_size(p, avail, &size, err);
	if (r < 0)
		return sta_error_prefix(err, r, "bad message from %s", c->name);
	if (size > 0 && avail >= size) {
		r = sta_proto_parse(p, size, m, err);
		if (r < 0)
			return sta_error_prefix(err, r, "bad message from %s", c->name);
		c->frame = size;
		if (m->type == STA_PROTO_ABORT)
			return sta_error(err, m->flags ? -(int)m->flags : -ECONNABORTED,
					 "%s: the remote side gave up: %s", c->name,
					 m->size > 1 ? (const char *)m->data : "no reason given");
		return 1;
	}
	if (c->eof) {
		if (avail == 0)
			return 0;
		return sta_error(err, -EBADMSG, "%s: connection closed in the middle of a message",
				 c->name);
	}
	return -EAGAIN;
}

int sta_conn_next(struct sta_conn *c, struct sta_proto_msg *m, stasync_error *err)
{
	for (;;) {
		int r = sta_conn_try_next(c, m, err);

		if (r != -EAGAIN)
			return r;
		r = pump(c, true, err);
		if (r < 0)
			return r;
	}
}

int sta_conn_flush(struct sta_conn *c, stasync_error *err)
{
	while (sta_conn_out_pending(c) > 0) {
		/* Keep reading while there is room, so a peer that writes
		 * while we do is not stuck. */
		bool room = c->in.len - c->in_start < STA_PROTO_SIZE_MAX;
		int r = pump(c, room, err);

		if (r < 0)
			return r;
	}
	return 0;
}

int sta_conn_hello(struct sta_conn *c, uint64_t local, uint64_t *remote, stasync_error *err)
{
	struct sta_proto_msg m;
	int r;

	r = sta_proto_put_hello(sta_conn_out(c), local);
	if (r < 0)
		return sta_error(err, r, "out of memory");
	r = sta_conn_next(c, &m, err);
	if (r == 0)
		return sta_error(err, -EPIPE, "%s: the remote side closed the connection before saying hello",
				 c->name);
	if (r < 0)
		return r;
	if (m.type != STA_PROTO_HELLO)
		return sta_error(err, -EBADMSG, "%s: the remote side began with a %s message, not hello",
				 c->name, sta_proto_type_name(m.type));
	r = sta_proto_hello_check(local, m.flags, err);
	if (r < 0)
		return sta_error_prefix(err, r, "%s", c->name);
	*remote = m.flags;
	return 0;
}

void sta_conn_abort(struct sta_conn *c, const stasync_error *err)
{
	if (!c || sta_proto_put_abort(sta_conn_out(c), err->code < 0 ? -err->code : 0,
				      err->message) < 0)
		return;
	/* Write what the pipe takes now; a peer that does not read is not
	 * waited for. */
	while (sta_conn_out_pending(c) > 0) {
		ssize_t k = write_nosigpipe(c->out_fd, c->out.data + c->out_start,
					    sta_conn_out_pending(c));
		if (k <= 0)
			break;
		c->out_start += (size_t)k;
	}
}

const char *sta_conn_name(const struct sta_conn *c)
{
	return c->name;
}

void sta_conn_close(struct sta_conn *c)
{
	if (!c)
		return;
	if (c->own_fds) {
		close(c->in_fd);
		close(c->out_fd);
	}
	if (c->pid > 0) {
		/* With its input closed the remote side ends; give it a moment,
		 * then make sure. */
		struct timespec tick = { 0, 10 * 1000 * 1000 };
		int i;

		for (i = 0; i < 200; i++) {
			pid_t w = waitpid(c->pid, NULL, WNOHANG);

			if (w == c->pid || (w < 0 && errno != EINTR))
				break;
			nanosleep(&tick, NULL);
		}
		if (i == 200) {
			kill(c->pid, SIGTERM);
			while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	sta_buf_free(&c->in);
	sta_buf_free(&c->out);
	free(c->name);
	free(c);
}

int sta_conn_send_file(struct sta_conn *c, int fd, const char *path, uint64_t type,
		       uint64_t eof_type, stasync_error *err)
{
	_cleanup_free_ uint8_t *buf = malloc(FILE_STEP);
	ssize_t k;
	int r;

	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	while ((k = sta_read_full(fd, buf, FILE_STEP)) > 0) {
		if (sta_proto_put_file(sta_conn_out(c), type, buf, (size_t)k) < 0)
			return sta_error(err, -ENOMEM, "out of memory");
		if (sta_conn_out_pending(c) > STA_CONN_OUT_HIGH && (r = sta_conn_flush(c, err)) < 0)
			return r;
		if ((size_t)k < FILE_STEP)
			break;
	}
	if (k < 0)
		return sta_error(err, (int)k, "%s: cannot read: %s", path, stasync_strerror((int)k));
	if (sta_proto_put_empty(sta_conn_out(c), eof_type) < 0)
		return sta_error(err, -ENOMEM, "out of memory");
	return 0;
}
