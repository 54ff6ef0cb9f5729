/* A read-only NBD server of a blob: the handshake (fixed newstyle, for
 * clients on a unix socket) and the transmission phase (for those and for
 * the kernel's client), from the protocol's public specification. All
 * numbers on the wire are big-endian. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "nbd-server.h"

/* handshake */
#define NBD_MAGIC               UINT64_C(0x4e42444d41474943)   /* "NBDMAGIC" */
#define NBD_IHAVEOPT            UINT64_C(0x49484156454f5054)   /* "IHAVEOPT" */
#define NBD_REPLY_MAGIC_OPT     UINT64_C(0x0003e889045565a9)
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES      (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES    (1u << 1)

#define NBD_OPT_EXPORT_NAME     1
#define NBD_OPT_ABORT           2
#define NBD_OPT_LIST            3
#define NBD_OPT_INFO            6
#define NBD_OPT_GO              7

#define NBD_REP_ACK             1
#define NBD_REP_SERVER          2
#define NBD_REP_INFO            3
#define NBD_REP_ERR_UNSUP       (UINT32_C(1) << 31 | 1)
#define NBD_REP_ERR_INVALID     (UINT32_C(1) << 31 | 3)

#define NBD_INFO_EXPORT         0
#define NBD_INFO_BLOCK_SIZE     3

/* The longest option we read; the ones we know are far shorter. */
#define NBD_OPT_MAX             4096

/* transmission */
#define NBD_REQUEST_MAGIC       UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC  UINT32_C(0x67446698)
#define NBD_CMD_READ            0
#define NBD_CMD_WRITE           1
#define NBD_CMD_DISC            2
#define NBD_CMD_FLUSH           3
#define NBD_CMD_TRIM            4
#define NBD_CMD_WRITE_ZEROES    6

#define NBD_EPERM               1
#define NBD_EIO                 5
#define NBD_ENOMEM              12
#define NBD_EINVAL              22

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* Wait until fd is readable: 1, or 0 when stop_fd became readable first. */
static int wait_readable(const struct nbd_server *s, int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->stop_fd, .events = POLLIN } };

	for (;;) {
		int k = poll(p, s->stop_fd >= 0 ? 2 : 1, -1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (s->stop_fd >= 0 && p[1].revents)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/* Read n bytes: 1, 0 at an end of stream before the first byte, -EPIPE at
 * one after it, or -errno. */
static int recv_full(int fd, void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = recv(fd, (uint8_t *)p + done, n - done, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return done ? -EPIPE : 0;
		done += (size_t)k;
	}
	return 1;
}

static int send_full(int fd, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = send(fd, (const uint8_t *)p + done, n - done, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

/* Read and drop n bytes (a write's payload). */
static int recv_drop(int fd, uint64_t n)
{
	uint8_t buf[16384];

	while (n > 0) {
		size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		int r = recv_full(fd, buf, k);

		if (r <= 0)
			return r < 0 ? r : -EPIPE;
		n -= k;
	}
	return 0;
}

static int fail(const struct nbd_server *s, const char *what, int r)
{
	return cli_error(s->c, "NBD: %s: %s", what, strerror(-r));
}

/* ---- the handshake ------------------------------------------------------------------- */
static int opt_reply(int fd, uint32_t option, uint32_t type, const void *data, uint32_t n)
{
	uint8_t h[20];
	int r;

	put64(h, NBD_REPLY_MAGIC_OPT);
	put32(h + 8, option);
	put32(h + 12, type);
	put32(h + 16, n);
	r = send_full(fd, h, sizeof(h));
	return r < 0 || n == 0 ? r : send_full(fd, data, n);
}

static uint16_t transmission_flags(void)
{
	return STA_NBD_FLAG_HAS_FLAGS | STA_NBD_FLAG_READ_ONLY | STA_NBD_FLAG_SEND_FLUSH;
}

/* NBD_OPT_INFO and NBD_OPT_GO: "name length, name, number of requests,
 * requests". 1 when it was answered, 0 when its data was malformed (the
 * error reply sent), or -errno. */
static int opt_info(const struct nbd_server *s, int fd, uint32_t option, const uint8_t *d,
		    uint32_t n)
{
	uint32_t name_len;
	uint16_t n_req;
	bool block_size = false;
	uint8_t info[14];
	int r;

	if (n < 6 || (name_len = get32(d)) > n - 6 ||
	    (uint64_t)name_len + 6 + 2 * (uint64_t)(n_req = get16(d + 4 + name_len)) != n) {
		r = opt_reply(fd, option, NBD_REP_ERR_INVALID, NULL, 0);
		return r < 0 ? r : 0;
	}
	for (uint16_t i = 0; i < n_req; i++)
		if (get16(d + 6 + name_len + 2 * i) == NBD_INFO_BLOCK_SIZE)
			block_size = true;
	/* one export, whatever its name */
	put16(info, NBD_INFO_EXPORT);
	put64(info + 2, s->size);
	put16(info + 10, transmission_flags());
	r = opt_reply(fd, option, NBD_REP_INFO, info, 12);
	if (r == 0 && block_size) {
		put16(info, NBD_INFO_BLOCK_SIZE);
		put32(info + 2, 1);
		put32(info + 6, 4096);
		put32(info + 10, NBD_SERVER_MAX_READ);
		r = opt_reply(fd, option, NBD_REP_INFO, info, 14);
	}
	if (r == 0)
		r = opt_reply(fd, option, NBD_REP_ACK, NULL, 0);
	return r < 0 ? r : 1;
}

/* 1: go on to transmission, 0: the client ended it, or 1 after printing. */
static int handshake(const struct nbd_server *s, int fd, int *status)
{
	uint8_t h[18], d[NBD_OPT_MAX];
	uint32_t cflags;
	bool no_zeroes;
	int r;

	*status = 0;
	put64(h, NBD_MAGIC);
	put64(h + 8, NBD_IHAVEOPT);
	put16(h + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	r = send_full(fd, h, 18);
	if (r < 0)
		return *status = fail(s, "cannot send the handshake", r), 0;
	r = recv_full(fd, h, 4);
	if (r <= 0)
		return r < 0 ? (*status = fail(s, "cannot read the client's flags", r), 0) : 0;
	cflags = get32(h);
	if (cflags & ~(uint32_t)(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		*status = cli_error(s->c, "NBD: the client asks for unknown flags 0x%x", cflags);
		return 0;
	}
	no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	for (;;) {
		uint32_t option, n;

		r = wait_readable(s, fd);
		if (r <= 0)
			return r < 0 ? (*status = fail(s, "cannot wait for the client", r), 0) : 0;
		r = recv_full(fd, h, 16);
		if (r <= 0)
			return r < 0 ? (*status = fail(s, "cannot read an option", r), 0) : 0;
		option = get32(h + 8);
		n = get32(h + 12);
		if (get64(h) != NBD_IHAVEOPT || n > NBD_OPT_MAX) {
			*status = cli_error(s->c, "NBD: the client sent %s",
					    get64(h) != NBD_IHAVEOPT ? "no option magic" : "an option too long");
			return 0;
		}
		r = recv_full(fd, d, n);
		if (r < 0 || (r == 0 && n > 0))
			return *status = fail(s, "cannot read an option", r < 0 ? r : -EPIPE), 0;

		switch (option) {
		case NBD_OPT_EXPORT_NAME: {
			uint8_t e[10 + 124] = { 0 };

			put64(e, s->size);
			put16(e + 8, transmission_flags());
			r = send_full(fd, e, no_zeroes ? 10 : sizeof(e));
			if (r < 0)
				return *status = fail(s, "cannot send the export", r), 0;
			return 1;
		}
		case NBD_OPT_ABORT:
			(void)opt_reply(fd, option, NBD_REP_ACK, NULL, 0);
			return 0;
		case NBD_OPT_LIST:
			if (n != 0) {
				r = opt_reply(fd, option, NBD_REP_ERR_INVALID, NULL, 0);
				break;
			}
			/* one export, named "" */
			put32(d, 0);
			r = opt_reply(fd, option, NBD_REP_SERVER, d, 4);
			if (r == 0)
				r = opt_reply(fd, option, NBD_REP_ACK, NULL, 0);
			break;
		case NBD_OPT_INFO:
		case NBD_OPT_GO:
			r = opt_info(s, fd, option, d, n);
			if (r == 1 && option == NBD_OPT_GO)
				return 1;
			break;
		default:
			/* STARTTLS, STRUCTURED_REPLY, SET_META_CONTEXT, ... */
			r = opt_reply(fd, option, NBD_REP_ERR_UNSUP, NULL, 0);
			break;
		}
		if (r < 0)
			return *status = fail(s, "cannot answer an option", r), 0;
	}
}

/* ---- transmission ---------------------------------------------------------------------- */
static int reply(int fd, const uint8_t *handle, uint32_t error, const void *data, size_t n)
{
	uint8_t h[16];
	int r;

	put32(h, NBD_SIMPLE_REPLY_MAGIC);
	put32(h + 4, error);
	memcpy(h + 8, handle, 8);
	r = send_full(fd, h, sizeof(h));
	return r < 0 || n == 0 ? r : send_full(fd, data, n);
}

static int cmd_read(const struct nbd_server *s, int fd, const uint8_t *handle, uint64_t offset,
		    uint32_t len)
{
	stasync_error err = { 0, "" };
	uint8_t *buf;
	ssize_t k;
	int r;

	if (len > NBD_SERVER_MAX_READ || offset > s->size || len > s->size - offset)
		return reply(fd, handle, NBD_EINVAL, NULL, 0);
	buf = malloc(len ? len : 1);
	if (!buf)
		return reply(fd, handle, NBD_ENOMEM, NULL, 0);
	k = mount_source_pread(s->src, buf, len, offset, &err);
	if (k < 0) {
		cli_fail(s->c, &err);
		r = reply(fd, handle, NBD_EIO, NULL, 0);
	} else {
		/* past the blob's end, in its last sector: zeros */
		memset(buf + k, 0, len - (size_t)k);
		r = reply(fd, handle, 0, buf, len);
	}
	free(buf);
	return r;
}

int nbd_server_serve(const struct nbd_server *s, int fd)
{
	uint8_t q[28];
	int r, status;

	if (s->handshake && handshake(s, fd, &status) != 1)
		return status;
	for (;;) {
		uint16_t type;
		uint64_t offset;
		uint32_t len;

		r = wait_readable(s, fd);
		if (r <= 0)
			return r < 0 ? fail(s, "cannot wait for requests", r) : 0;
		r = recv_full(fd, q, sizeof(q));
		if (r == 0)
			return 0;   /* the client went away */
		if (r < 0)
			return fail(s, "cannot read a request", r);
		if (get32(q) != NBD_REQUEST_MAGIC)
			return cli_error(s->c, "NBD: a request without its magic number");
		type = get16(q + 6);
		offset = get64(q + 16);
		len = get32(q + 24);
		switch (type) {
		case NBD_CMD_READ:
			r = cmd_read(s, fd, q + 8, offset, len);
			break;
		case NBD_CMD_WRITE:
			if (len > NBD_SERVER_MAX_READ)
				return cli_error(s->c, "NBD: a write of %u bytes", len);
			r = recv_drop(fd, len);
			if (r == 0)
				r = reply(fd, q + 8, NBD_EPERM, NULL, 0);
			break;
		case NBD_CMD_DISC:
			return 0;
		case NBD_CMD_FLUSH:
			r = reply(fd, q + 8, 0, NULL, 0);
			break;
		case NBD_CMD_TRIM:
		case NBD_CMD_WRITE_ZEROES:
			r = reply(fd, q + 8, NBD_EPERM, NULL, 0);
			break;
		default:
			r = reply(fd, q + 8, NBD_EINVAL, NULL, 0);
			break;
		}
		if (r < 0)
			return fail(s, "cannot answer a request", r);
	}
}
