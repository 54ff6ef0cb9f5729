/* stasync mkdev [OPTIONS] BLOB|BLOB_INDEX [NODE] — a read-only block
 * device whose reads come from the blob, an index's chunks fetched when a
 * read first touches them. As casync: the device is an NBD device
 * (/dev/nbdN) served by us, NODE (when given and not an NBD device itself)
 * becomes a symlink to it, "Attached: DEVICE" is printed, READY=1 sent,
 * and SIGTERM, SIGINT or SIGHUP detach it (exit status 0).
 *
 * Where the kernel has no NBD, the blob is FUSE-mounted onto a temporary
 * file (mount's blob-onto-a-file mode) and a loop device attached to that
 * file, read-only and auto-clearing. With --nbd-socket=PATH, no device:
 * the NBD protocol is served to clients on a unix socket. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "mount-source.h"
#include "mount.h"
#include "nbd-server.h"

/* The loop device ioctls (<linux/loop.h>, which the musl toolchain lacks). */
#define STA_LOOP_SET_FD         0x4C00
#define STA_LOOP_CLR_FD         0x4C01
#define STA_LOOP_SET_STATUS64   0x4C04
#define STA_LOOP_SET_DIRECT_IO  0x4C08
#define STA_LOOP_CONFIGURE      0x4C0A
#define STA_LOOP_CTL_GET_FREE   0x4C82
#define STA_LO_FLAGS_READ_ONLY  1u
#define STA_LO_FLAGS_AUTOCLEAR  4u

struct sta_loop_info64 {
	uint64_t lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit;
	uint32_t lo_number, lo_encrypt_type, lo_encrypt_key_size, lo_flags;
	uint8_t lo_file_name[64], lo_crypt_name[64], lo_encrypt_key[32];
	uint64_t lo_init[2];
};
_Static_assert(sizeof(struct sta_loop_info64) == 232, "struct loop_info64");

struct sta_loop_config {
	uint32_t fd, block_size;
	struct sta_loop_info64 info;
	uint64_t reserved[8];
};
_Static_assert(sizeof(struct sta_loop_config) == 304, "struct loop_config");

#define STA_BLKRASET            0x1262   /* _IO(0x12, 98), <linux/fs.h> */
#define LOOP_READ_AHEAD_SECTORS 2048     /* 1 MiB */

#define NBD_MAJOR 43

/* ---- waiting for the end ------------------------------------------------------------ */
/* The signals that end mkdev: blocked in every thread (threads started
 * later inherit the mask) and taken with sigwait() by the main one. */
static void end_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static void wait_for_end(const struct cli *c)
{
	sigset_t set;
	int sig = 0;

	end_signals(&set);
	while (sigwait(&set, &sig) != 0)
		;
	cli_info(c, "Got signal %d: detaching", sig);
}

/* Announce the device: NODE → it, "Attached: DEVICE", READY=1. 0 or 1. */
static int announce(const struct cli *c, const char *dev, const char *node, bool *made_link)
{
	*made_link = false;
	if (node && strcmp(node, dev)) {
		if (symlink(dev, node) < 0)
			return cli_error(c, "%s: cannot create a symlink to %s: %s", node, dev,
					 strerror(errno));
		*made_link = true;
	}
	printf("Attached: %s\n", dev);
	fflush(stdout);
	cli_notify_ready();
	return 0;
}

/* ---- the loop device route ------------------------------------------------------------ */
/* Attach a free loop device to `file`, read-only, cleared when its last
 * user closes it: the device's open fd and its name. 0 or 1. */
static int loop_attach(const struct cli *c, const char *file, int *ret_fd, char *name, size_t n)
{
	int ctl, file_fd, fd = -1, r = 1;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return cli_error(c, "/dev/loop-control: %s", strerror(errno));
	file_fd = open(file, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0) {
		cli_error(c, "%s: cannot open: %s", file, strerror(errno));
		goto out;
	}
	/* another process may take the free device first: try again */
	for (int tries = 0; tries < 32; tries++) {
		struct sta_loop_config cfg = { .fd = (uint32_t)file_fd };
		struct sta_loop_info64 info = { .lo_flags = STA_LO_FLAGS_AUTOCLEAR };
		int k = ioctl(ctl, STA_LOOP_CTL_GET_FREE);

		if (k < 0) {
			cli_error(c, "no free loop device: %s", strerror(errno));
			goto out;
		}
		snprintf(name, n, "/dev/loop%d", k);
		fd = open(name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_error(c, "%s: cannot open: %s", name, strerror(errno));
			goto out;
		}
		cfg.info.lo_flags = STA_LO_FLAGS_READ_ONLY | STA_LO_FLAGS_AUTOCLEAR;
		/* the name losetup shows, cut short when long */
		memcpy(cfg.info.lo_file_name, file,
		       MIN(strlen(file), sizeof(cfg.info.lo_file_name) - 1));
		if (ioctl(fd, STA_LOOP_CONFIGURE, &cfg) == 0) {
			r = 0;
			goto out;
		}
		if (errno == EINVAL || errno == ENOTTY || errno == ENOSYS) {
			/* a kernel before 5.8: LOOP_SET_FD (read-only as the file
			 * is opened so), then the flags */
			if (ioctl(fd, STA_LOOP_SET_FD, file_fd) == 0) {
				memcpy(info.lo_file_name, cfg.info.lo_file_name, sizeof(info.lo_file_name));
				if (ioctl(fd, STA_LOOP_SET_STATUS64, &info) == 0) {
					r = 0;
					goto out;
				}
				cli_error(c, "%s: cannot set its flags: %s", name, strerror(errno));
				(void)ioctl(fd, STA_LOOP_CLR_FD);
				goto out;
			}
		}
		if (errno != EBUSY) {
			cli_error(c, "%s: cannot attach %s: %s", name, file, strerror(errno));
			goto out;
		}
		close(fd);
		fd = -1;
	}
	cli_error(c, "no free loop device: all taken while we tried");
out:
	if (r && fd >= 0)
		close(fd);
	if (file_fd >= 0)
		close(file_fd);
	close(ctl);
	if (!r)
		*ret_fd = fd;
	return r;
}

/* Sequential reads through the loop device: straight to the FUSE file (no
 * second page cache in between) and a megabyte ahead, so that the mount's
 * threads fetch and decode several chunks side by side; three times faster
 * than the defaults (bench/mount.sh). Best effort: a kernel before 4.4
 * (no direct I/O on loop devices) reads as before. */
static void loop_tune(int fd)
{
	(void)ioctl(fd, STA_LOOP_SET_DIRECT_IO, 1UL);
	(void)ioctl(fd, STA_BLKRASET, (unsigned long)LOOP_READ_AHEAD_SECTORS);
}

static void loop_detach(const struct cli *c, int fd, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	/* in use (mounted, say): the kernel detaches it when its last user
	 * closes it, auto-clear being set */
	(void)ioctl(fd, STA_LOOP_CLR_FD);
	close(fd);
	if (fstatat(AT_FDCWD, name, &st, 0) == 0 && S_ISBLK(st.st_mode)) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file",
			 major(st.st_rdev), minor(st.st_rdev));
		if (access(path, F_OK) == 0)
			fprintf(stderr, "%s: %s is still in use: it detaches when its last user closes it, its reads failing until then\n",
				c->program, name);
	}
}

static int mkdev_loop(struct cli *c, struct mount_source *src, const char *node)
{
	const char *tmpdir = getenv("TMPDIR");
	char file[PATH_MAX], dev[64];
	struct mount_session *ms = NULL;
	bool made_link = false;
	int fd, loop_fd = -1, r = 1;

	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	if ((size_t)snprintf(file, sizeof(file), "%s/stasync-mkdev.XXXXXX", tmpdir) >= sizeof(file))
		return cli_error(c, "%s: the temporary directory's name is too long", tmpdir);
	fd = mkostemp(file, O_CLOEXEC);
	if (fd < 0)
		return cli_error(c, "%s: cannot create a temporary file: %s", file, strerror(errno));
	close(fd);
	if (mount_session_start(c, src, file, true, &ms))
		goto out;
	if (loop_attach(c, file, &loop_fd, dev, sizeof(dev)))
		goto out;
	loop_tune(loop_fd);
	if (announce(c, dev, node, &made_link))
		goto out;
	wait_for_end(c);
	r = 0;
out:
	if (made_link)
		(void)unlink(node);
	if (loop_fd >= 0)
		loop_detach(c, loop_fd, dev);
	if (mount_session_stop(ms))
		r = 1;
	(void)unlink(file);
	return r;
}

/* ---- the kernel's NBD client ------------------------------------------------------------ */
static bool nbd_available(void)
{
	return access("/sys/block/nbd0", F_OK) == 0 && access("/dev/nbd0", F_OK) == 0;
}

struct nbd_run {
	struct nbd_server server;
	int nbd_fd;
	int sock;                 /* our end of the socket pair */
	pthread_t main;
	int serve_r;
};

static void *nbd_do_it(void *p)
{
	struct nbd_run *k = p;

	/* returns once disconnected */
	(void)ioctl(k->nbd_fd, STA_NBD_DO_IT);
	(void)ioctl(k->nbd_fd, STA_NBD_CLEAR_QUE);
	(void)ioctl(k->nbd_fd, STA_NBD_CLEAR_SOCK);
	return NULL;
}

static void *nbd_serve_thread(void *p)
{
	struct nbd_run *k = p;

	k->serve_r = nbd_server_serve(&k->server, k->sock);
	/* the device went away (nbd-client -d): end as on a signal */
	pthread_kill(k->main, SIGHUP);
	return NULL;
}

/* Open NODE when it is an NBD device, else the first free /dev/nbdN, and
 * hand it one end of a socket pair. The device's fd, or -1 after printing. */
static int nbd_setup(const struct cli *c, const char *node, uint64_t size, int sock,
		     char *name, size_t n)
{
	struct stat st;
	bool given = node && stat(node, &st) == 0 && S_ISBLK(st.st_mode) &&
		     major(st.st_rdev) == NBD_MAJOR;

	for (int i = 0; i < 1024; i++) {
		char pid[64];
		int fd;

		if (given)
			snprintf(name, n, "%s", node);
		else
			snprintf(name, n, "/dev/nbd%d", i);
		snprintf(pid, sizeof(pid), "/sys/block/nbd%d/pid", i);
		if (!given && access(pid, F_OK) == 0)
			continue;   /* in use */
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && !given)
				break;
			cli_error(c, "%s: cannot open: %s", name, strerror(errno));
			return -1;
		}
		if (ioctl(fd, STA_NBD_SET_BLKSIZE, (unsigned long)512) < 0 ||
		    ioctl(fd, STA_NBD_SET_SIZE, (unsigned long)size) < 0 ||
		    ioctl(fd, STA_NBD_CLEAR_SOCK) < 0 ||
		    ioctl(fd, STA_NBD_SET_FLAGS, (unsigned long)(STA_NBD_FLAG_HAS_FLAGS | STA_NBD_FLAG_READ_ONLY)) < 0 ||
		    ioctl(fd, STA_NBD_SET_SOCK, (unsigned long)sock) < 0) {
			int e = errno;

			close(fd);
			if (e == EBUSY && !given)
				continue;
			cli_error(c, "%s: cannot set it up: %s", name, strerror(e));
			return -1;
		}
		return fd;
	}
	cli_error(c, "no free NBD device");
	return -1;
}

static int mkdev_nbd(struct cli *c, struct mount_source *src, const char *node)
{
	struct nbd_run k = {
		.server = { .c = c, .src = src, .size = (src->size + 511) & ~(uint64_t)511,
			    .stop_fd = -1 },
		.nbd_fd = -1,
		.main = pthread_self(),
	};
	pthread_t do_it, serve;
	bool made_link = false;
	char dev[PATH_MAX];
	int sv[2], r = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cli_error(c, "cannot make a socket pair: %s", strerror(errno));
	k.nbd_fd = nbd_setup(c, node, k.server.size, sv[1], dev, sizeof(dev));
	if (k.nbd_fd < 0)
		goto out;
	k.sock = sv[0];
	if (pthread_create(&serve, NULL, nbd_serve_thread, &k) != 0) {
		cli_error(c, "cannot start a thread");
		(void)ioctl(k.nbd_fd, STA_NBD_CLEAR_SOCK);
		goto out;
	}
	if (pthread_create(&do_it, NULL, nbd_do_it, &k) != 0) {
		cli_error(c, "cannot start a thread");
		shutdown(sv[0], SHUT_RDWR);
		pthread_join(serve, NULL);
		(void)ioctl(k.nbd_fd, STA_NBD_CLEAR_SOCK);
		goto out;
	}
	if (announce(c, dev, node, &made_link) == 0) {
		wait_for_end(c);
		r = 0;
	}
	if (made_link)
		(void)unlink(node);
	/* the kernel sends NBD_CMD_DISC, which ends the serving thread */
	(void)ioctl(k.nbd_fd, STA_NBD_DISCONNECT);
	pthread_join(do_it, NULL);
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(serve, NULL);
	if (k.serve_r)
		r = 1;
out:
	if (k.nbd_fd >= 0)
		close(k.nbd_fd);
	close(sv[0]);
	close(sv[1]);
	return r;
}

/* ---- NBD on a unix socket ---------------------------------------------------------------- */
struct socket_run {
	struct nbd_server server;
	int listen_fd;
	int r;
};

/* Serve one client after the other until the stop pipe is written. */
static void *socket_thread(void *p)
{
	struct socket_run *k = p;

	for (;;) {
		struct pollfd pf[2] = { { .fd = k->listen_fd, .events = POLLIN },
					{ .fd = k->server.stop_fd, .events = POLLIN } };
		int fd;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			k->r = cli_error(k->server.c, "cannot wait for NBD clients: %s", strerror(errno));
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		fd = accept4(k->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			k->r = cli_error(k->server.c, "cannot accept an NBD client: %s", strerror(errno));
			return NULL;
		}
		cli_info(k->server.c, "NBD: a client");
		/* a client that breaks the protocol is told so on stderr; the
		 * next one is served all the same */
		(void)nbd_server_serve(&k->server, fd);
		close(fd);
	}
}

static int mkdev_socket(struct cli *c, struct mount_source *src, const char *path)
{
	struct socket_run k = {
		.server = { .c = c, .src = src, .size = (src->size + 511) & ~(uint64_t)511,
			    .handshake = true },
		.listen_fd = -1,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int stop[2] = { -1, -1 }, r = 1;
	bool bound = false;
	pthread_t t;

	if (strlen(path) >= sizeof(sa.sun_path))
		return cli_error(c, "%s: too long for a socket's name", path);
	memcpy(sa.sun_path, path, strlen(path));
	k.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k.listen_fd < 0 || pipe2(stop, O_CLOEXEC) < 0) {
		cli_error(c, "cannot make a socket: %s", strerror(errno));
		goto out;
	}
	if (bind(k.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cli_error(c, "%s: cannot listen there: %s", path, strerror(errno));
		goto out;
	}
	bound = true;
	if (listen(k.listen_fd, 16) < 0) {
		cli_error(c, "%s: cannot listen there: %s", path, strerror(errno));
		goto out;
	}
	k.server.stop_fd = stop[0];
	if (pthread_create(&t, NULL, socket_thread, &k) != 0) {
		cli_error(c, "cannot start a thread");
		goto out;
	}
	cli_info(c, "Serving %s over NBD on %s", src->name, path);
	cli_notify_ready();
	wait_for_end(c);
	(void)!write(stop[1], "x", 1);
	pthread_join(t, NULL);
	r = k.r;
out:
	if (bound)
		(void)unlink(path);
	if (k.listen_fd >= 0)
		close(k.listen_fd);
	if (stop[0] >= 0)
		close(stop[0]);
	if (stop[1] >= 0)
		close(stop[1]);
	return r;
}

/* ---- the verb ------------------------------------------------------------------------------ */
int cmd_mkdev(struct cli *c)
{
	const char *input = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	const char *node = c->argc > 1 ? c->argv[1] : NULL;
	struct mount_source src;
	sigset_t set;
	enum what what;
	int r;

	if (c->argc > 2 || (c->nbd_socket && c->argc > 1))
		return cli_error(c, c->nbd_socket ? "mkdev --nbd-socket takes a blob or blob index, and no device name" :
				 "mkdev takes a blob or blob index, and maybe a device name");
	what = cli_what_of(c, input && strcmp(input, "-") ? input : NULL);
	if (what == WHAT_AUTO)
		what = WHAT_BLOB;
	if (what != WHAT_BLOB && what != WHAT_BLOB_INDEX)
		return cli_error(c, "%s: mkdev takes a blob or a blob index (.caibx), not %s",
				 input ? input : "standard input",
				 what == WHAT_ARCHIVE_INDEX ? "an archive index (.caidx)" :
				 what == WHAT_ARCHIVE ? "an archive (.catar)" : "a directory");
	if (!c->nbd_socket && geteuid() != 0)
		return cli_error(c, "mkdev attaches a block device, which needs root (or use --nbd-socket)");
	if (mount_source_open_as(c, input, what, &src)) {
		mount_source_close(&src);
		return 1;
	}
	/* the threads started from here on leave these signals to us; they
	 * stay blocked to the end (a second one must not kill the cleanup) */
	end_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (c->nbd_socket)
		r = mkdev_socket(c, &src, c->nbd_socket);
	else if (nbd_available())
		r = mkdev_nbd(c, &src, node);
	else {
		fprintf(stderr, "%s: no NBD in this kernel (modprobe nbd to use it): using a loop device on a FUSE-mounted file\n",
			c->program);
		r = mkdev_loop(c, &src, node);
	}
	mount_source_close(&src);
	return r;
}
