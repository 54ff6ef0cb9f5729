/* A read-only NBD server of a blob (the Network Block Device protocol,
 * NetworkBlockDevice/nbd doc/proto.md), for mkdev: the kernel's NBD client
 * on a socket pair (no handshake: the size is set by ioctl), or any client
 * on a unix socket through the fixed-newstyle handshake (nbdinfo, nbdcopy,
 * qemu). Only simple replies; writes, trims and write-zeroes get EPERM. */
#ifndef STASYNC_SRC_NBD_SERVER_H
#define STASYNC_SRC_NBD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "mount-source.h"

/* The kernel's NBD ioctls (<linux/nbd.h>, which the musl toolchain lacks). */
#define STA_NBD_SET_SOCK        _IO(0xab, 0)
#define STA_NBD_SET_BLKSIZE     _IO(0xab, 1)
#define STA_NBD_SET_SIZE        _IO(0xab, 2)
#define STA_NBD_DO_IT           _IO(0xab, 3)
#define STA_NBD_CLEAR_SOCK      _IO(0xab, 4)
#define STA_NBD_CLEAR_QUE       _IO(0xab, 5)
#define STA_NBD_DISCONNECT      _IO(0xab, 8)
#define STA_NBD_SET_TIMEOUT     _IO(0xab, 9)
#define STA_NBD_SET_FLAGS       _IO(0xab, 10)

/* Transmission flags */
#define STA_NBD_FLAG_HAS_FLAGS  (1u << 0)
#define STA_NBD_FLAG_READ_ONLY  (1u << 1)
#define STA_NBD_FLAG_SEND_FLUSH (1u << 2)

/* The largest read served; larger requests get EINVAL (the spec's
 * suggested maximum payload). */
#define NBD_SERVER_MAX_READ (32u << 20)

struct nbd_server {
	struct cli *c;
	struct mount_source *src;
	uint64_t size;           /* the export's: src's rounded up to whole sectors */
	bool handshake;          /* fixed-newstyle first (false: the kernel's client) */
	int stop_fd;             /* readable: stop between requests (-1: none) */
};

/* nbd_server_serve() — serve the connected socket fd (not closed) until the
 * client disconnects (NBD_CMD_DISC, NBD_OPT_ABORT, or it closes the
 * socket) or stop_fd becomes readable. A read the index cannot answer gets
 * EIO, and its reason is printed. Returns 0, or 1 after printing when the
 * client broke the protocol or the socket failed. Thread-safe: several
 * connections may be served at once from one source. */
int nbd_server_serve(const struct nbd_server *s, int fd);

#endif
