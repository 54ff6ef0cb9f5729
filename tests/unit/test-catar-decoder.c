/* test-catar-decoder — the catar pull decoder.
 *
 * 1. Trees built here, archived by Debian's casync ($CASYNC; skipped when
 *    unset) with several feature sets, decoded over an fd and over a
 *    memory reader handing out a byte at a time: every event, path, depth,
 *    mode, owner, mtime, payload byte, symlink target, device number,
 *    xattr and ACL is compared with what the file system says.
 * 2. Corrupted copies of a casync archive (every truncation, retyped and
 *    resized records, every GOODBYE byte flipped, swapped, duplicated and
 *    invalid names, trailing bytes): -EBADMSG with a message, never a
 *    crash, a hang or a clean end.
 * 3. Synthetic archives from a tiny test-only encoder: non-directory
 *    roots, one broken rule at a time, 20000 nested directories, the
 *    depth limit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include <stasync/catar.h>
#include "format.h"
#include "goodbye.h"
#include "tap.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------- */

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		perror("realloc");
		exit(99);
	}
	return p;
}

/* A growing byte buffer. */
struct sbuf {
	uint8_t *p;
	size_t n, alloc;
};

static void sbuf_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->n + n > b->alloc) {
		b->alloc = b->alloc * 2 + n + 64;
		b->p = xrealloc(b->p, b->alloc);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void sbuf_put64(struct sbuf *b, uint64_t v)
{
	uint8_t x[8];

	le64_put(x, v);
	sbuf_put(b, x, 8);
}

static void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sbuf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void sbuf_free(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf) { 0 };
}

/* The text as a NUL-terminated string (kept in the buffer). */
static const char *sbuf_str(struct sbuf *b)
{
	sbuf_put(b, "", 1);
	b->n--;
	return (const char *)b->p;
}

static uint8_t *read_file(const char *path, size_t *n_ret)
{
	struct sbuf b = { 0 };
	uint8_t tmp[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (fd < 0) {
		perror(path);
		exit(99);
	}
	while ((k = read(fd, tmp, sizeof(tmp))) > 0)
		sbuf_put(&b, tmp, (size_t)k);
	close(fd);
	if (k < 0) {
		perror(path);
		exit(99);
	}
	*n_ret = b.n;
	return b.p ? b.p : tap_xmalloc(1);
}

static void xmkdir(const char *path)
{
	if (mkdir(path, 0755) < 0) {
		perror(path);
		exit(99);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static void hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbuf_printf(b, "%02x", p[i]);
}

/* ---- readers --------------------------------------------------------------- */

struct mem_reader {
	const uint8_t *p;
	size_t n, pos;
	size_t chunk;           /* most bytes per call, 0: no limit */
	size_t fail_at;         /* report -EIO once pos reaches it (0: never) */
	size_t calls_after_end; /* reads asked for after returning 0 */
	bool ended;
};

static ssize_t mem_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct mem_reader *m = ctx;
	size_t k = m->n - m->pos;

	if (m->fail_at && m->pos >= m->fail_at) {
		if (err) {
			err->code = -EIO;
			snprintf(err->message, sizeof(err->message), "test reader: boom");
		}
		return -EIO;
	}
	if (m->ended)
		m->calls_after_end++;
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	if (m->fail_at && m->pos + k > m->fail_at)
		k = m->fail_at - m->pos;
	if (k)
		memcpy(p, m->p + m->pos, k);
	m->pos += k;
	if (k == 0)
		m->ended = true;
	return (ssize_t)k;
}

static ssize_t fd_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	int fd = *(int *)ctx;
	ssize_t k;

	do
		k = read(fd, p, n);
	while (k < 0 && errno == EINTR);
	if (k < 0) {
		if (err) {
			err->code = -errno;
			snprintf(err->message, sizeof(err->message), "read: %s", strerror(errno));
		}
		return -errno;
	}
	return k;
}

/* ---- decoding into a transcript ----------------------------------------------
 * One line per event, with every field the file system can be compared
 * against. The expected transcript is built from lstat() & co. below. */

struct decode_opts {
	size_t payload_chunk;   /* read payloads in pieces of this size; 0: skip them */
	bool show_offsets;
};

static void acl_list(struct sbuf *t, const char *tag, const stasync_acl_item *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbuf_printf(t, " %s:%" PRIu64 ":%" PRIu64 ":%s", tag, a[i].id, a[i].permissions,
			    a[i].name ? a[i].name : "-");
}

static void perm_or_none(struct sbuf *t, const char *tag, uint64_t v)
{
	if (v == STASYNC_ACL_NONE)
		sbuf_printf(t, " %s:none", tag);
	else
		sbuf_printf(t, " %s:%" PRIu64, tag, v);
}

/* The fields of one entry, payload excluded. */
static void entry_line(struct sbuf *t, unsigned depth, const char *path, const stasync_entry *e)
{
	sbuf_printf(t, "E %u '%s' type=0%o perm=0%o uid=%" PRIu64 " gid=%" PRIu64
		    " mtime=%" PRIu64 " user=%s group=%s", depth, path,
		    (unsigned)(e->mode & S_IFMT), (unsigned)(e->mode & 07777), e->uid, e->gid,
		    e->mtime, e->user ? e->user : "-", e->group ? e->group : "-");
	if (S_ISLNK(e->mode))
		sbuf_printf(t, " target='%s'", e->symlink ? e->symlink : "(null)");
	if (S_ISBLK(e->mode) || S_ISCHR(e->mode))
		sbuf_printf(t, " rdev=%" PRIu64 ":%" PRIu64, e->rdev_major, e->rdev_minor);
	if (S_ISREG(e->mode))
		sbuf_printf(t, " size=%" PRIu64, e->size);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		sbuf_printf(t, " x:%s=", e->xattrs[i].name);
		hex(t, e->xattrs[i].value, e->xattrs[i].size);
	}
	acl_list(t, "au", e->acl_user, e->n_acl_user);
	acl_list(t, "ag", e->acl_group, e->n_acl_group);
	if (e->acl_group_obj != STASYNC_ACL_NONE)
		perm_or_none(t, "ago", e->acl_group_obj);
	if (e->acl_default_user_obj != STASYNC_ACL_NONE) {
		perm_or_none(t, "du", e->acl_default_user_obj);
		perm_or_none(t, "dg", e->acl_default_group_obj);
		perm_or_none(t, "do", e->acl_default_other);
		perm_or_none(t, "dm", e->acl_default_mask);
	}
	acl_list(t, "dau", e->acl_default_user, e->n_acl_default_user);
	acl_list(t, "dag", e->acl_default_group, e->n_acl_default_group);
}

/* decode() — run the decoder to its end; returns its last result and
 * appends the transcript to t (if non-NULL). */
static int decode(stasync_read_fn rd, void *ctx, const char *name, const struct decode_opts *o,
		  struct sbuf *t, stasync_error *err)
{
	stasync_catar_decoder *d;
	const stasync_entry *e;
	uint8_t *buf = NULL;
	int r;

	r = stasync_catar_decoder_new(rd, ctx, name, &d, err);
	if (r < 0)
		return r;
	if (o->payload_chunk)
		buf = tap_xmalloc(o->payload_chunk);
	while ((r = stasync_catar_decoder_next(d, &e, err)) > 0) {
		const char *path = stasync_catar_decoder_path(d);
		const char *base = stasync_catar_decoder_name(d);
		unsigned depth = stasync_catar_decoder_depth(d);
		const char *slash = strrchr(path, '/');

		/* name() is the path's last component, NULL only for the root */
		if (t && (depth == 0 ? base != NULL || path[0] : !base ||
			  strcmp(base, slash ? slash + 1 : path) != 0))
			sbuf_printf(t, "BAD NAME at '%s'\n", path);
		if (r == STASYNC_CATAR_DIR_END) {
			if (t)
				sbuf_printf(t, "D %u '%s'\n", depth, path);
			continue;
		}
		if (!t)
			continue;
		entry_line(t, depth, path, e);
		if (S_ISREG(e->mode) && o->payload_chunk) {
			uint64_t h = FNV_INIT, total = 0;
			ssize_t k;

			while ((k = stasync_catar_decoder_read_payload(d, buf, o->payload_chunk,
								       err)) > 0) {
				h = fnv(h, buf, (size_t)k);
				total += (uint64_t)k;
			}
			if (k < 0) {
				r = (int)k;
				break;
			}
			sbuf_printf(t, " payload=%016" PRIx64 "/%" PRIu64, h, total);
		}
		if (o->show_offsets)
			sbuf_printf(t, " @%" PRIu64, stasync_catar_decoder_offset(d));
		sbuf_printf(t, "\n");
	}
	free(buf);
	stasync_catar_decoder_free(d);
	return r;
}

static int decode_mem(const uint8_t *p, size_t n, size_t chunk, const char *name,
		      const struct decode_opts *o, struct sbuf *t, stasync_error *err)
{
	struct mem_reader m = { .p = p, .n = n, .chunk = chunk };

	return decode(mem_read, &m, name, o, t, err);
}

static int decode_path(const char *path, const char *name, const struct decode_opts *o,
		       struct sbuf *t, stasync_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		perror(path);
		exit(99);
	}
	r = decode(fd_read, &fd, name, o, t, err);
	close(fd);
	return r;
}

/* Where two transcripts first differ, for the test log. */
static bool same_text(const char *what, const char *got, const char *want)
{
	size_t i = 0, line_start = 0;

	if (strcmp(got, want) == 0)
		return tap_ok(true, "%s", what);
	while (got[i] && got[i] == want[i]) {
		if (got[i] == '\n')
			line_start = i + 1;
		i++;
	}
	tap_diag("first difference at byte %zu", i);
	tap_diag("got:  %.*s", (int)strcspn(got + line_start, "\n"), got + line_start);
	tap_diag("want: %.*s", (int)strcspn(want + line_start, "\n"), want + line_start);
	return tap_ok(false, "%s", what);
}

/* ---- casync --------------------------------------------------------------- */

static const char *casync_path(void)
{
	const char *c = getenv("CASYNC");

	return c && *c ? c : NULL;
}

/* run_casync() — casync with argv (argv[0] ignored), output discarded.
 * Returns its exit status. */
static int run_casync(const char *const *argv)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execv(casync_path(), (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		exit(99);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static bool casync_make(const char *with, const char *archive, const char *dir)
{
	const char *argv[8];
	int n = 0;

	argv[n++] = "casync";
	argv[n++] = "make";
	if (with)
		argv[n++] = with;
	argv[n++] = archive;
	argv[n++] = dir;
	argv[n] = NULL;
	unlink(archive);
	return run_casync(argv) == 0;
}

/* ---- the test tree ----------------------------------------------------------- */

static bool have_xattrs, have_devices, have_owner, have_acl;

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		perror(path);
		exit(99);
	}
}

static void make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path)) {
		tap_diag("no socket node: path too long or no AF_UNIX");
		if (fd >= 0)
			close(fd);
		return;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tap_diag("no socket node: %s", strerror(errno));
	close(fd);
}

static void xattr(const char *path, const char *name, const void *v, size_t n)
{
	if (lsetxattr(path, name, v, n, 0) < 0) {
		if (errno == ENOTSUP || errno == EPERM) {
			have_xattrs = false;
			return;
		}
		perror(name);
		exit(99);
	}
}

static bool shell_ok(const char *cmd)
{
	return system(cmd) == 0;
}

/* The big tree: every kind of entry, odd names, a wide directory. */
static void build_tree(const char *root)
{
	char p[4096], longname[256];
	uint8_t *big;
	const size_t big_size = 300000;
	uint64_t x = 0x9e3779b97f4a7c15;

	xmkdir(root);
#define P(rel) (snprintf(p, sizeof(p), "%s/%s", root, rel), p)
	tap_write_file(P("a.txt"), "hello\n", 6);
	tap_write_file(P("empty"), "", 0);
	big = tap_xmalloc(big_size);
	for (size_t i = 0; i < big_size; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		big[i] = (uint8_t)x;
	}
	tap_write_file(P("big.bin"), big, big_size);
	free(big);
	tap_write_file(P("name with spaces"), "s", 1);
	tap_write_file(P("\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9.txt"), "u", 1);
	tap_write_file(P("-dash"), "d", 1);
	tap_write_file(P(".hidden"), "h", 1);
	tap_write_file(P("tab\tname"), "t", 1);
	memset(longname, 'n', 255);
	longname[255] = 0;
	tap_write_file(P(longname), "long", 4);
	xmkdir(P("sub"));
	tap_write_file(P("sub/ca"), "1", 1);
	tap_write_file(P("sub/cb"), "2", 1);
	xmkdir(P("sub/deep"));
	xmkdir(P("sub/deep/deeper"));
	xmkdir(P("sub/deep/deeper/deepest"));
	tap_write_file(P("sub/deep/deeper/deepest/file"), "x", 1);
	xmkdir(P("emptydir"));
	xmkdir(P("wide"));
	for (int i = 0; i < 150; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "wide/f%03d", i);
		tap_write_file(P(rel), rel, strlen(rel) % 7);
	}
	if (symlink("a.txt", P("link")) < 0 || symlink("does/not/exist", P("dangling")) < 0 ||
	    mkfifo(P("fifo"), 0640) < 0) {
		perror("symlink/mkfifo");
		exit(99);
	}
	make_socket(P("sock"));
	have_devices = mknod(P("chr"), S_IFCHR | 0600, makedev(1, 3)) == 0 &&
		mknod(P("blk"), S_IFBLK | 0600, makedev(7, 200)) == 0;
	if (!have_devices)
		tap_diag("no device nodes: %s", strerror(errno));

	have_xattrs = true;
	xattr(P("a.txt"), "user.alpha", "1", 1);
	xattr(P("a.txt"), "user.beta", "\0bin\0ary", 8);
	xattr(P("empty"), "user.empty", "", 0);
	xattr(P("sub"), "user.dir", "d", 1);
	if (have_xattrs && geteuid() == 0)
		xattr(P("sub/ca"), "trusted.t", "trusted", 7);
	if (!have_xattrs)
		tap_diag("no user xattrs on this file system");

	tap_write_file(P("owned"), "o", 1);
	/* as root, one file owned by nobody; otherwise all are the user's */
	have_owner = geteuid() != 0 ? getpwuid(geteuid()) != NULL :
		getpwuid(65534) && getgrgid(65534) && lchown(P("owned"), 65534, 65534) == 0;

	tap_write_file(P("acl-file"), "acl", 3);
	xmkdir(P("acl-dir"));
	{
		char cmd[2 * sizeof(p) + 128];

		if (snprintf(cmd, sizeof(cmd),
			     "cd '%s' && setfacl -m u:65534:rw,g:65534:r acl-file "
			     "2>/dev/null && setfacl -d -m u:65534:rx,o::- acl-dir 2>/dev/null",
			     root) >= (int)sizeof(cmd))
			exit(99);
		have_acl = getpwuid(65534) && shell_ok(cmd);
		if (!have_acl)
			tap_diag("no ACLs (setfacl missing or unsupported)");
	}
	set_mtime(P("a.txt"), 1234567891, 987654321);
	set_mtime(P("empty"), 1234567890, 0);
	set_mtime(P("link"), 1500000001, 500000000);
#undef P
}

/* The small tree the corruption tests start from. */
static void build_small_tree(const char *root)
{
	char p[4096];

#define P(rel) (snprintf(p, sizeof(p), "%s/%s", root, rel), p)
	xmkdir(root);
	tap_write_file(P("a.txt"), "hello\n", 6);
	xmkdir(P("sub"));
	tap_write_file(P("sub/ca"), "1", 1);
	tap_write_file(P("sub/cb"), "2", 1);
	xmkdir(P("sub/deep"));
	tap_write_file(P("sub/deep/x"), "", 0);
	if (symlink("a.txt", P("link")) < 0 || mkfifo(P("fifo"), 0644) < 0) {
		perror("symlink");
		exit(99);
	}
	have_xattrs = true;
	xattr(P("a.txt"), "user.aa", "1", 1);
	xattr(P("a.txt"), "user.ab", "2", 1);
#undef P
}

/* ---- what casync should have stored, from the file system ------------------------- */

static uint64_t expected_perm(uint64_t f, mode_t m)
{
	if (S_ISLNK(m))
		return 0777;
	if (f & (STASYNC_WITH_PERMISSIONS | STASYNC_WITH_ACL))
		return m & 07777;
	if ((f & STASYNC_WITH_READ_ONLY) && !(m & 0222))
		return S_ISDIR(m) ? 0555 : 0444;
	return S_ISDIR(m) ? 0777 : 0666;
}

static uint64_t expected_mtime(uint64_t f, const struct stat *st)
{
	uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000 + (uint64_t)st->st_mtim.tv_nsec;
	uint64_t g = f & STASYNC_WITH_NSEC_TIME ? 1 :
		f & STASYNC_WITH_USEC_TIME ? 1000 :
		f & STASYNC_WITH_SEC_TIME ? 1000000000 :
		f & STASYNC_WITH_2SEC_TIME ? 2000000000 : 0;

	return g ? ns / g * g : 0;
}

static bool stored(uint64_t f, mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFLNK: return f & STASYNC_WITH_SYMLINKS;
	case S_IFIFO: return f & STASYNC_WITH_FIFOS;
	case S_IFSOCK: return f & STASYNC_WITH_SOCKETS;
	case S_IFBLK:
	case S_IFCHR: return f & STASYNC_WITH_DEVICE_NODES;
	default: return true;
	}
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* A POSIX ACL xattr: version 2, then (tag u16, perm u16, id u32). */
struct acl_view {
	bool present;
	uint64_t user_obj, group_obj, other, mask;
	stasync_acl_item users[16], groups[16];
	size_t n_users, n_groups;
};

static void read_acl(const char *path, const char *xname, struct acl_view *a)
{
	uint8_t buf[1024];
	ssize_t n = lgetxattr(path, xname, buf, sizeof(buf));

	*a = (struct acl_view) { .mask = STASYNC_ACL_NONE };
	if (n < 4)
		return;
	a->present = true;
	for (ssize_t i = 4; i + 8 <= n; i += 8) {
		unsigned tag = buf[i] | buf[i + 1] << 8;
		uint64_t perm = buf[i + 2] | buf[i + 3] << 8;
		uint64_t id = (uint64_t)buf[i + 4] | (uint64_t)buf[i + 5] << 8 |
			(uint64_t)buf[i + 6] << 16 | (uint64_t)buf[i + 7] << 24;

		switch (tag) {
		case 0x01: a->user_obj = perm; break;
		case 0x04: a->group_obj = perm; break;
		case 0x10: a->mask = perm; break;
		case 0x20: a->other = perm; break;
		case 0x02:
			if (a->n_users < 16)
				a->users[a->n_users++] = (stasync_acl_item) { id, perm, NULL };
			break;
		case 0x08:
			if (a->n_groups < 16)
				a->groups[a->n_groups++] = (stasync_acl_item) { id, perm, NULL };
			break;
		}
	}
}

static void expected_acl_list(struct sbuf *t, const char *tag, stasync_acl_item *a, size_t n,
			      bool users, uint64_t f)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = NULL;

		if (f & STASYNC_WITH_USER_NAMES) {
			if (users) {
				struct passwd *pw = getpwuid((uid_t)a[i].id);

				name = pw ? pw->pw_name : NULL;
			} else {
				struct group *gr = getgrgid((gid_t)a[i].id);

				name = gr ? gr->gr_name : NULL;
			}
		}
		if (!(f & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS)))
			a[i].id = 0;
		sbuf_printf(t, " %s:%" PRIu64 ":%" PRIu64 ":%s", tag, a[i].id, a[i].permissions,
			    name ? name : "-");
	}
}

static void expected_xattrs(struct sbuf *t, const char *path)
{
	char names[4096];
	const char *sorted[64];
	ssize_t n = llistxattr(path, names, sizeof(names));
	size_t k = 0;

	for (ssize_t i = 0; i < n && k < 64; i += (ssize_t)strlen(names + i) + 1)
		if (strncmp(names + i, "user.", 5) == 0 || strncmp(names + i, "trusted.", 8) == 0)
			sorted[k++] = names + i;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *s = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = s;
		}
	for (size_t i = 0; i < k; i++) {
		uint8_t v[4096];
		ssize_t m = lgetxattr(path, sorted[i], v, sizeof(v));

		sbuf_printf(t, " x:%s=", sorted[i]);
		hex(t, v, m > 0 ? (size_t)m : 0);
	}
}

static void expected_entry(struct sbuf *t, uint64_t f, const char *fs_path, const char *rel,
			   unsigned depth, const struct decode_opts *o)
{
	struct stat st;
	bool ids = f & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS);
	const char *user = "-", *group = "-";

	if (lstat(fs_path, &st) < 0) {
		perror(fs_path);
		exit(99);
	}
	if ((f & STASYNC_WITH_USER_NAMES) && st.st_uid != 0) {
		struct passwd *pw = getpwuid(st.st_uid);

		user = pw ? pw->pw_name : "-";
	}
	if ((f & STASYNC_WITH_USER_NAMES) && st.st_gid != 0) {
		struct group *gr = getgrgid(st.st_gid);

		group = gr ? gr->gr_name : "-";
	}
	sbuf_printf(t, "E %u '%s' type=0%o perm=0%o uid=%u gid=%u mtime=%" PRIu64
		    " user=%s group=%s", depth, rel, (unsigned)(st.st_mode & S_IFMT),
		    (unsigned)expected_perm(f, st.st_mode), ids ? (unsigned)st.st_uid : 0,
		    ids ? (unsigned)st.st_gid : 0, expected_mtime(f, &st), user, group);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(fs_path, target, sizeof(target) - 1);

		target[n > 0 ? n : 0] = 0;
		sbuf_printf(t, " target='%s'", target);
	}
	if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))
		sbuf_printf(t, " rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (S_ISREG(st.st_mode))
		sbuf_printf(t, " size=%" PRIu64, (uint64_t)st.st_size);
	if ((f & STASYNC_WITH_XATTRS) && !S_ISLNK(st.st_mode))
		expected_xattrs(t, fs_path);
	if ((f & STASYNC_WITH_ACL) && !S_ISLNK(st.st_mode)) {
		struct acl_view a, dflt;

		read_acl(fs_path, "system.posix_acl_access", &a);
		read_acl(fs_path, "system.posix_acl_default", &dflt);
		expected_acl_list(t, "au", a.users, a.n_users, true, f);
		expected_acl_list(t, "ag", a.groups, a.n_groups, false, f);
		/* casync keeps the group object only beside a mask */
		if (a.present && a.mask != STASYNC_ACL_NONE)
			sbuf_printf(t, " ago:%" PRIu64, a.group_obj);
		if (dflt.present) {
			sbuf_printf(t, " du:%" PRIu64 " dg:%" PRIu64 " do:%" PRIu64, dflt.user_obj,
				    dflt.group_obj, dflt.other);
			perm_or_none(t, "dm", dflt.mask);
		}
		expected_acl_list(t, "dau", dflt.users, dflt.n_users, true, f);
		expected_acl_list(t, "dag", dflt.groups, dflt.n_groups, false, f);
	}
	if (S_ISREG(st.st_mode) && o->payload_chunk) {
		size_t n;
		uint8_t *data = read_file(fs_path, &n);

		sbuf_printf(t, " payload=%016" PRIx64 "/%zu", fnv(FNV_INIT, data, n), n);
		free(data);
	}
	sbuf_printf(t, "\n");
}

/* expected_tree() — the transcript of the tree at fs_root, iteratively
 * so the walk's order is the archive's: strcmp-sorted children. */
static void expected_tree(struct sbuf *t, uint64_t f, const char *fs_root,
			  const struct decode_opts *o)
{
	struct level {
		char fs[8192], rel[4096];
		struct dirent **names;
		int n, next;
	} *stack = tap_xmalloc(sizeof(*stack) * 16);
	int top = 0;

	expected_entry(t, f, fs_root, "", 0, o);
	snprintf(stack[0].fs, sizeof(stack[0].fs), "%s", fs_root);
	stack[0].rel[0] = 0;
	stack[0].n = scandir(fs_root, &stack[0].names, not_dots, name_cmp);
	stack[0].next = 0;
	while (top >= 0) {
		struct level *l = &stack[top];
		char fs[8192], rel[4096];
		struct stat st;

		if (l->next >= l->n) {
			sbuf_printf(t, "D %d '%s'\n", top, l->rel);
			for (int i = 0; i < l->n; i++)
				free(l->names[i]);
			free(l->names);
			top--;
			continue;
		}
		const char *name = l->names[l->next++]->d_name;

		if (snprintf(fs, sizeof(fs), "%s/%s", l->fs, name) >= (int)sizeof(fs) ||
		    snprintf(rel, sizeof(rel), "%s%s%s", l->rel, l->rel[0] ? "/" : "", name) >=
		    (int)sizeof(rel))
			exit(99);
		if (lstat(fs, &st) < 0 || !stored(f, st.st_mode))
			continue;
		expected_entry(t, f, fs, rel, (unsigned)top + 1, o);
		if (S_ISDIR(st.st_mode)) {
			struct level *c;

			if (top + 1 >= 16)
				exit(99);
			c = &stack[++top];
			memcpy(c->fs, fs, sizeof(fs));
			memcpy(c->rel, rel, sizeof(rel));
			c->n = scandir(fs, &c->names, not_dots, name_cmp);
			c->next = 0;
		}
	}
	free(stack);
}

/* ---- 1. casync archives of a real tree -------------------------------------------- */

struct feature_set {
	const char *with;       /* casync option, NULL for the default */
	uint64_t flags;         /* what its ENTRY records must carry */
};

static const struct feature_set feature_sets[] = {
	{ NULL, STASYNC_FEATURES_DEFAULT },
	{ "--with=unix", UINT64_C(0xb000000000001f09) },
	{ "--without=all", UINT64_C(0xb000000000000000) },
	{ "--with=best", UINT64_C(0xb0000001ffeffe26) },
	{ "--with=2sec-time", UINT64_C(0xb000000000000040) },
	{ "--with=read-only", UINT64_C(0xb000000000000080) },
};

static uint64_t root_flags(const uint8_t *p, size_t n)
{
	return n >= 64 ? le64_get(p + 16) : 0;
}

static void test_casync_tree(void)
{
	const char *tree = tap_tmp_path("tree");
	const char *archive = tap_tmp_path("x.catar");

	build_tree(tree);
	for (size_t i = 0; i < ELEMENTS(feature_sets); i++) {
		const struct feature_set *fs = &feature_sets[i];
		const char *label = fs->with ? fs->with : "default";
		struct decode_opts o = { .payload_chunk = 1000 };
		struct sbuf got = { 0 }, want = { 0 }, got2 = { 0 };
		stasync_error err = { 0 };
		uint8_t *data;
		size_t n;
		int r;

		if (!tap_ok(casync_make(fs->with, archive, tree), "casync make %s", label))
			continue;
		data = read_file(archive, &n);
		tap_ok(root_flags(data, n) == fs->flags, "%s: feature flags 0x%016" PRIx64, label,
		       root_flags(data, n));
		expected_tree(&want, fs->flags, tree, &o);

		r = decode_path(archive, "x.catar", &o, &got, &err);
		tap_ok(r == 0, "%s: decodes over an fd (%d %s)", label, r, err.message);
		same_text("  every event matches the file system", sbuf_str(&got), sbuf_str(&want));

		/* a byte at a time and tiny payload reads: the same */
		o.payload_chunk = 7;
		r = decode_mem(data, n, 1, "x.catar", &o, &got2, &err);
		tap_ok(r == 0 && strcmp(sbuf_str(&got2), sbuf_str(&got)) == 0,
		       "%s: the same a byte at a time (%d %s)", label, r, err.message);
		sbuf_free(&got2);

		/* large payload reads that bypass the buffer */
		o.payload_chunk = 100000;
		r = decode_mem(data, n, 0, "x.catar", &o, &got2, &err);
		tap_ok(r == 0 && strcmp(sbuf_str(&got2), sbuf_str(&got)) == 0,
		       "%s: the same with large payload reads (%d %s)", label, r, err.message);
		sbuf_free(&got2);

		/* payloads left unread are skipped */
		o.payload_chunk = 0;
		sbuf_free(&want);
		expected_tree(&want, fs->flags, tree, &o);
		r = decode_mem(data, n, 5, "x.catar", &o, &got2, &err);
		tap_ok(r == 0, "%s: decodes with payloads skipped (%d %s)", label, r, err.message);
		same_text("  and the same events", sbuf_str(&got2), sbuf_str(&want));

		sbuf_free(&got);
		sbuf_free(&got2);
		sbuf_free(&want);
		free(data);
	}
	tap_diag("covered: xattrs %s, device nodes %s, user names %s, ACLs %s",
		 have_xattrs ? "yes" : "no", have_devices ? "yes" : "no",
		 have_owner ? "yes" : "no", have_acl ? "yes" : "no");
}

/* ---- 2. corrupted casync archives ------------------------------------------------------- */

struct record {
	size_t off, size;
	uint64_t type;
};

/* The records of a well-formed archive, in order (payloads stay inside
 * their PAYLOAD record). */
static size_t list_records(const uint8_t *p, size_t n, struct record **ret)
{
	struct record *r = NULL;
	size_t k = 0;

	for (size_t off = 0; off + 16 <= n;) {
		r = xrealloc(r, (k + 1) * sizeof(*r));
		r[k].off = off;
		r[k].size = (size_t)le64_get(p + off);
		r[k].type = le64_get(p + off + 8);
		if (r[k].size < 16)
			break;
		off += r[k++].size;
	}
	*ret = r;
	return k;
}

/* The FILENAME record holding name. */
static const struct record *find_filename(const uint8_t *p, const struct record *r, size_t n,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].type == CA_FORMAT_FILENAME &&
		    strcmp((const char *)p + r[i].off + 16, name) == 0)
			return &r[i];
	return NULL;
}

static const struct record *find_xattr(const uint8_t *p, const struct record *r, size_t n,
				       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].type == CA_FORMAT_XATTR &&
		    strcmp((const char *)p + r[i].off + 16, name) == 0)
			return &r[i];
	return NULL;
}

/* refused() — decoding fails with -EBADMSG, a message naming the archive
 * and containing `expect` (if non-NULL). */
static bool refused(const uint8_t *p, size_t n, size_t chunk, const char *expect,
		    char *msg, size_t msg_size)
{
	stasync_error err = { 0 };
	struct decode_opts o = { .payload_chunk = 3 };
	struct sbuf t = { 0 };
	int r = decode_mem(p, n, chunk, "x.catar", &o, &t, &err);

	sbuf_free(&t);
	if (msg)
		snprintf(msg, msg_size, "%d %s", r, err.message);
	return r == -EBADMSG && err.code == -EBADMSG && strncmp(err.message, "x.catar: ", 9) == 0 &&
		!strchr(err.message, '\n') && (!expect || strstr(err.message, expect));
}

static const uint64_t all_types[] = {
	CA_FORMAT_ENTRY, CA_FORMAT_USER, CA_FORMAT_GROUP, CA_FORMAT_XATTR, CA_FORMAT_ACL_USER,
	CA_FORMAT_ACL_GROUP, CA_FORMAT_ACL_GROUP_OBJ, CA_FORMAT_ACL_DEFAULT,
	CA_FORMAT_ACL_DEFAULT_USER, CA_FORMAT_ACL_DEFAULT_GROUP, CA_FORMAT_SELINUX,
	CA_FORMAT_FCAPS, CA_FORMAT_QUOTA_PROJID, CA_FORMAT_SYMLINK, CA_FORMAT_DEVICE,
	CA_FORMAT_PAYLOAD, CA_FORMAT_FILENAME, CA_FORMAT_GOODBYE,
	CA_FORMAT_GOODBYE_TAIL_MARKER, UINT64_C(0x0123456789abcdef),
};

static void test_corruptions(void)
{
	const char *tree = tap_tmp_path("small");
	const char *archive = tap_tmp_path("small.catar");
	uint8_t *orig, *p;
	size_t n, n_rec, bad = 0, cases = 0;
	struct record *rec;
	const struct record *ca, *cb;
	char msg[1200];
	stasync_error err = { 0 };
	struct decode_opts o = { .payload_chunk = 3 };

	build_small_tree(tree);
	if (!tap_ok(casync_make(NULL, archive, tree), "casync make of the small tree"))
		return;
	orig = read_file(archive, &n);
	p = tap_xmalloc(n + 1 + n);
	n_rec = list_records(orig, n, &rec);
	tap_ok(decode_mem(orig, n, 0, "x.catar", &o, NULL, &err) == 0,
	       "the small archive (%zu bytes, %zu records) decodes", n, n_rec);

	/* every truncation */
	for (size_t cut = 0; cut < n; cut++) {
		bool ok = refused(orig, cut, cut % 3 == 0 ? 1 : 0,
				  cut == 0 ? "empty input" : "truncated inside", msg, sizeof(msg));

		cases++;
		if (!ok && bad++ < 5)
			tap_diag("cut at %zu: %s", cut, msg);
	}
	tap_ok(bad == 0, "all %zu truncations refused as truncated", cases);
	refused(orig, rec[3].off + 5, 0, NULL, msg, sizeof(msg));
	tap_diag("e.g. %s", msg);
	refused(orig, n - 3, 0, NULL, msg, sizeof(msg));
	tap_diag("e.g. %s", msg);

	/* every record given every other type; the one kind of valid result:
	 * the last metadata record read as an SELinux label or file
	 * capabilities (those take any string or bytes) */
	bad = cases = 0;
	for (size_t i = 0; i < n_rec; i++)
		for (size_t j = 0; j < ELEMENTS(all_types); j++) {
			uint64_t t = all_types[j], next = i + 1 < n_rec ? rec[i + 1].type : 0;
			bool maybe_valid = (t == CA_FORMAT_SELINUX || t == CA_FORMAT_FCAPS) &&
				(rec[i].type == CA_FORMAT_USER || rec[i].type == CA_FORMAT_GROUP ||
				 rec[i].type == CA_FORMAT_XATTR) &&
				(next == CA_FORMAT_PAYLOAD || next == CA_FORMAT_SYMLINK ||
				 next == CA_FORMAT_FILENAME || next == CA_FORMAT_GOODBYE);
			stasync_error e2 = { 0 };

			if (t == rec[i].type)
				continue;
			memcpy(p, orig, n);
			le64_put(p + rec[i].off + 8, t);
			cases++;
			if (maybe_valid && decode_mem(p, n, 0, "x.catar", &o, NULL, &e2) == 0)
				continue;
			if (!refused(p, n, 0, NULL, msg, sizeof(msg)) && bad++ < 5)
				tap_diag("record %zu type %016" PRIx64 ": %s", i, t, msg);
		}
	tap_ok(bad == 0 && cases > 400, "all %zu retyped records refused", cases);

	/* every record given impossible sizes */
	bad = cases = 0;
	for (size_t i = 0; i < n_rec; i++) {
		const uint64_t sizes[] = { 0, 1, 15, 16, rec[i].size - 1, rec[i].size + 1,
					   rec[i].size + 24, UINT64_C(1) << 32, UINT64_C(1) << 63,
					   UINT64_MAX - 1, UINT64_MAX };

		for (size_t j = 0; j < ELEMENTS(sizes); j++) {
			if (sizes[j] == rec[i].size)
				continue;
			memcpy(p, orig, n);
			le64_put(p + rec[i].off, sizes[j]);
			cases++;
			if (!refused(p, n, 0, NULL, msg, sizeof(msg)) && bad++ < 5)
				tap_diag("record %zu size %" PRIu64 ": %s", i, sizes[j], msg);
		}
	}
	tap_ok(bad == 0, "all %zu resized records refused", cases);
	memcpy(p, orig, n);
	le64_put(p + rec[1].off, UINT64_C(1) << 40);
	refused(p, n, 0, "must be", msg, sizeof(msg));
	tap_diag("e.g. %s", msg);

	/* every GOODBYE byte flipped */
	bad = cases = 0;
	for (size_t i = 0; i < n_rec; i++) {
		if (rec[i].type != CA_FORMAT_GOODBYE)
			continue;
		for (size_t b = 0; b < rec[i].size; b++) {
			memcpy(p, orig, n);
			p[rec[i].off + b] ^= 0x01;
			cases++;
			if (!refused(p, n, 0, NULL, msg, sizeof(msg)) && bad++ < 5)
				tap_diag("GOODBYE at %zu, byte %zu: %s", rec[i].off, b, msg);
		}
	}
	tap_ok(bad == 0 && cases > 100, "all %zu flipped GOODBYE bytes refused", cases);
	for (size_t i = 0; i < n_rec; i++)
		if (rec[i].type == CA_FORMAT_GOODBYE && rec[i].size > 40) {
			memcpy(p, orig, n);
			p[rec[i].off + 16 + 16] ^= 0x80;
			tap_ok(refused(p, n, 0,
				       "GOODBYE item 0 does not match the children (its hash)",
				       msg, sizeof(msg)), "a wrong hash is named: %s", msg);
			memcpy(p, orig, n);
			p[rec[i].off + 16] ^= 0x04;
			tap_ok(refused(p, n, 0, "(its offset)", msg, sizeof(msg)),
			       "a wrong offset is named: %s", msg);
			memcpy(p, orig, n);
			p[rec[i].off + rec[i].size - 24] ^= 0x08;
			tap_ok(refused(p, n, 0, "GOODBYE tail has a wrong entry offset", msg,
				       sizeof(msg)), "a wrong tail is named: %s", msg);
			break;
		}

	/* names */
	ca = find_filename(orig, rec, n_rec, "ca");
	cb = find_filename(orig, rec, n_rec, "cb");
	if (tap_ok(ca && cb, "the archive has sub/ca and sub/cb")) {
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, "cb", 2);
		memcpy(p + cb->off + 16, "ca", 2);
		tap_ok(refused(p, n, 0, "x.catar: sub: children not sorted ('ca' after 'cb')", msg,
			       sizeof(msg)), "swapped names: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + cb->off + 16, "ca", 2);
		tap_ok(refused(p, n, 0, "x.catar: sub: duplicate file name 'ca'", msg, sizeof(msg)),
		       "duplicate name: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + cb->off + 16, "c/", 2);
		tap_ok(refused(p, n, 0, "x.catar: sub: file name 'c/' contains '/'", msg,
			       sizeof(msg)),
		       "'/' in a name: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, "..", 2);
		tap_ok(refused(p, n, 0, "x.catar: sub: invalid file name '..'", msg, sizeof(msg)),
		       "'..' as a name: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, ".\0", 2);
		tap_ok(refused(p, n, 0, "sub: file name contains a NUL byte", msg, sizeof(msg)),
		       "a NUL inside a name: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, "cc", 2);
		tap_ok(refused(p, n, 0, "sub: children not sorted ('cb' after 'cc')", msg,
			       sizeof(msg)),
		       "a renamed child out of order: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + cb->off + 16, "cc", 2);
		tap_ok(refused(p, n, 0, "sub: GOODBYE item", msg, sizeof(msg)),
		       "a renamed child in order: its hash no longer matches: %s", msg);
	}
	ca = find_xattr(orig, rec, n_rec, "user.aa");
	cb = find_xattr(orig, rec, n_rec, "user.ab");
	if (ca && cb) {
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, "user.ab", 7);
		memcpy(p + cb->off + 16, "user.aa", 7);
		tap_ok(refused(p, n, 0,
			       "x.catar: a.txt: xattrs not sorted ('user.aa' after 'user.ab')",
			       msg, sizeof(msg)), "swapped xattrs: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + cb->off + 16, "user.aa", 7);
		tap_ok(refused(p, n, 0, "a.txt: duplicate xattr 'user.aa'", msg, sizeof(msg)),
		       "duplicate xattr: %s", msg);
		memcpy(p, orig, n);
		memcpy(p + ca->off + 16, "secu.aa", 7);
		tap_ok(refused(p, n, 0, "not in the user or trusted namespace", msg, sizeof(msg)),
		       "foreign xattr namespace: %s", msg);
	} else
		tap_ok(true, "# SKIP no xattrs in the small archive");

	/* records moved out of order: the root ENTRY's first FILENAME swapped
	 * with the record after it */
	for (size_t i = 0; i + 1 < n_rec; i++)
		if (rec[i].type == CA_FORMAT_XATTR && rec[i + 1].type == CA_FORMAT_PAYLOAD) {
			/* XATTR after PAYLOAD: cut the XATTR out, paste it behind */
			size_t a = rec[i].off, sa = rec[i].size, sb = rec[i + 1].size;

			memcpy(p, orig, n);
			memcpy(p + a, orig + a + sa, sb);
			memcpy(p + a + sb, orig + a, sa);
			tap_ok(refused(p, n, 0,
				       "x.catar: XATTR record where a FILENAME or GOODBYE belongs",
				       msg, sizeof(msg)), "XATTR after PAYLOAD: %s", msg);
			break;
		}

	/* trailing bytes */
	memcpy(p, orig, n);
	p[n] = 0;
	tap_ok(refused(p, n + 1, 0, "trailing data after the end of the archive", msg, sizeof(msg)),
	       "one trailing byte: %s", msg);
	memcpy(p + n, orig, n);
	tap_ok(refused(p, 2 * n, 0, "trailing data", msg, sizeof(msg)),
	       "a second archive appended");
	tap_ok(refused(p, n + 16, 1, "trailing data", msg, sizeof(msg)),
	       "a header appended, bytewise");

	free(rec);
	free(p);
	free(orig);
}

/* ---- 3. synthetic archives ------------------------------------------------------------- */

#define DIR_MODE (S_IFDIR | 0755)
#define REG_MODE (S_IFREG | 0644)
/* the default flags: nsec time, 32-bit uids, user names, xattrs, acl … */
#define F STASYNC_FEATURES_DEFAULT

static void s_header(struct sbuf *b, uint64_t size, uint64_t type)
{
	sbuf_put64(b, size);
	sbuf_put64(b, type);
}

static void s_entry(struct sbuf *b, uint64_t flags, uint64_t mode, uint64_t uid, uint64_t mtime)
{
	s_header(b, 64, CA_FORMAT_ENTRY);
	sbuf_put64(b, flags);
	sbuf_put64(b, mode);
	sbuf_put64(b, 0);
	sbuf_put64(b, uid);
	sbuf_put64(b, uid);
	sbuf_put64(b, mtime);
}

static void s_record(struct sbuf *b, uint64_t type, const void *p, size_t n)
{
	s_header(b, 16 + n, type);
	sbuf_put(b, p, n);
}

/* A record whose body is a string with its NUL. */
static void s_str(struct sbuf *b, uint64_t type, const char *s)
{
	s_record(b, type, s, strlen(s) + 1);
}

static void s_u64s(struct sbuf *b, uint64_t type, int n, ...)
{
	va_list ap;

	s_header(b, 16 + 8 * (uint64_t)n, type);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		sbuf_put64(b, va_arg(ap, uint64_t));
	va_end(ap);
}

static void s_acl(struct sbuf *b, uint64_t type, uint64_t id, uint64_t perm, const char *name)
{
	size_t n = name ? strlen(name) + 1 : 0;

	s_header(b, 32 + n, type);
	sbuf_put64(b, id);
	sbuf_put64(b, perm);
	sbuf_put(b, name, n);
}

static void s_goodbye(struct sbuf *b, struct sta_goodbye_item *items, size_t n,
		      uint64_t entry_start)
{
	size_t size = (size_t)sta_goodbye_size(n);
	uint8_t *g = tap_xmalloc(size);

	if (sta_goodbye_serialize(items, n, b->n, entry_start, g) < 0)
		exit(99);
	sbuf_put(b, g, size);
	free(g);
}

/* A root directory whose one child `name` is an ENTRY with child_mode,
 * then the raw bytes `rest` (metadata and payload records), then — for a
 * directory — an empty GOODBYE; the root's GOODBYE is correct. Both
 * ENTRY records carry `flags`. */
static void one_child(struct sbuf *b, uint64_t flags, uint64_t child_mode, uint64_t uid,
		      const struct sbuf *rest, const char *name)
{
	struct sta_goodbye_item item;
	uint64_t child_entry;

	s_entry(b, flags, DIR_MODE, 0, 0);
	item.start = b->n;
	s_str(b, CA_FORMAT_FILENAME, name);
	child_entry = b->n;
	s_entry(b, flags, child_mode, uid, 0);
	sbuf_put(b, rest->p, rest->n);
	if (S_ISDIR(child_mode))
		s_goodbye(b, NULL, 0, child_entry);
	item.end = b->n;
	item.hash = sta_goodbye_hash(name, strlen(name));
	s_goodbye(b, &item, 1, 0);
}

static int decode_sbuf(const struct sbuf *b, struct sbuf *t, stasync_error *err)
{
	struct decode_opts o = { .payload_chunk = 2 };

	stasync_error_clear(err);
	return decode_mem(b->p, b->n, 0, "s.catar", &o, t, err);
}

/* check_child() — one_child() with `rest`; decoding must give `expect`:
 * NULL for success, else a piece of the error message. */
static void check_child(const char *what, uint64_t child_flags, uint64_t child_mode,
			uint64_t uid, struct sbuf *rest, const char *expect)
{
	struct sbuf b = { 0 }, t = { 0 };
	stasync_error err = { 0 };
	int r;

	one_child(&b, child_flags, child_mode, uid, rest, "f");
	r = decode_sbuf(&b, &t, &err);
	if (!expect)
		tap_ok(r == 0, "%s: accepted (%d %s)", what, r, err.message);
	else
		tap_ok(r == -EBADMSG && strstr(err.message, expect) &&
		       strncmp(err.message, "s.catar: ", 9) == 0,
		       "%s: %s", what, err.message[0] ? err.message : "(accepted)");
	sbuf_free(&b);
	sbuf_free(&t);
	sbuf_free(rest);
}

static void test_root_kinds(void)
{
	struct sbuf b = { 0 }, t = { 0 };
	stasync_error err = { 0 };
	int r;

	s_entry(&b, F, REG_MODE, 0, 0);
	s_record(&b, CA_FORMAT_PAYLOAD, "abc", 3);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == 0 && strstr(sbuf_str(&t), "E 0 '' type=0100000 perm=0644") &&
	       strstr(sbuf_str(&t), "size=3 payload="), "a regular file as the root (%s)",
	       err.message);
	sbuf_put(&b, "x", 1);
	sbuf_free(&t);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "trailing data"),
	       "a root file with a byte after it: %s", err.message);
	b.n -= 4;
	sbuf_free(&t);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "s.catar: truncated inside the root regular file"),
	       "a root file cut short: %s", err.message);
	sbuf_free(&b);
	sbuf_free(&t);

	s_entry(&b, F, S_IFIFO | 0644, 0, 0);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == 0 && strstr(sbuf_str(&t), "type=010000"), "a fifo as the root");
	sbuf_free(&t);
	s_record(&b, CA_FORMAT_PAYLOAD, "", 0);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "PAYLOAD record in a fifo"),
	       "a fifo with a payload: %s", err.message);
	sbuf_free(&b);
	sbuf_free(&t);

	s_entry(&b, F, S_IFLNK | 0777, 0, 0);
	s_str(&b, CA_FORMAT_SYMLINK, "target");
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == 0 && strstr(sbuf_str(&t), "target='target'"), "a symlink as the root");
	sbuf_free(&b);
	sbuf_free(&t);

	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "s.catar: empty input"), "empty input: %s",
	       err.message);
	s_str(&b, CA_FORMAT_FILENAME, "x");
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "not a catar archive (it starts with FILENAME"),
	       "no ENTRY first: %s", err.message);
	sbuf_free(&b);
	sbuf_put(&b, "garbage that is not an archive at all", 37);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message,
				       "not a catar archive (it starts with unknown data"),
	       "garbage: %s", err.message);
	sbuf_free(&b);
	sbuf_free(&t);

	/* an empty directory: ENTRY then a GOODBYE with no items */
	s_entry(&b, F, DIR_MODE, 0, 0);
	s_goodbye(&b, NULL, 0, 0);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == 0 && strcmp(sbuf_str(&t), "E 0 '' type=040000 perm=0755 uid=0 gid=0 mtime=0 "
				"user=- group=-\nD 0 ''\n") == 0, "an empty root directory");
	sbuf_free(&b);
	sbuf_free(&t);
}

static void test_rules(void)
{
	struct sbuf m = { 0 };
	const uint64_t unix_flags = UINT64_C(0x1f09);
	char name[300];

	/* everything at once, in order: accepted and decoded */
	s_str(&m, CA_FORMAT_USER, "bob");
	s_str(&m, CA_FORMAT_GROUP, "staff");
	s_record(&m, CA_FORMAT_XATTR, "user.a\0v1", 9);
	s_record(&m, CA_FORMAT_XATTR, "user.b\0", 7);
	s_acl(&m, CA_FORMAT_ACL_USER, 7, 6, "seven");
	s_acl(&m, CA_FORMAT_ACL_USER, 8, 4, NULL);
	s_acl(&m, CA_FORMAT_ACL_GROUP, 9, 5, NULL);
	s_u64s(&m, CA_FORMAT_ACL_GROUP_OBJ, 1, (uint64_t)7);
	s_str(&m, CA_FORMAT_SELINUX, "system_u:object_r:etc_t:s0");
	s_record(&m, CA_FORMAT_FCAPS, "\1\2\3", 3);
	s_u64s(&m, CA_FORMAT_QUOTA_PROJID, 1, (uint64_t)42);
	s_record(&m, CA_FORMAT_PAYLOAD, "xyz", 3);
	{
		struct sbuf b = { 0 }, t = { 0 };
		stasync_error err = { 0 };
		int r;

		one_child(&b, F, REG_MODE, 1000, &m, "f");
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == 0 && strstr(sbuf_str(&t), "E 1 'f' type=0100000 perm=0644 uid=1000 "
					"gid=1000 mtime=0 user=bob group=staff size=3 "
					"x:user.a=7631 x:user.b= au:7:6:seven au:8:4:- ag:9:5:- "
					"ago:7 payload="),
		       "every metadata record decodes (%d %s)", r, err.message);
		sbuf_free(&b);
		sbuf_free(&t);
		sbuf_free(&m);
	}

	s_str(&m, CA_FORMAT_GROUP, "staff");
	s_str(&m, CA_FORMAT_USER, "bob");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("GROUP before USER", F, REG_MODE, 1000, &m,
		    "f: USER record after GROUP record");
	s_str(&m, CA_FORMAT_USER, "bob");
	s_str(&m, CA_FORMAT_USER, "bob");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("two USER records", F, REG_MODE, 1000, &m, "more than one USER record");
	s_str(&m, CA_FORMAT_USER, "bob");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("USER without user-names", unix_flags, REG_MODE, 1000, &m,
		    "f: USER record, but the feature flags exclude user-names");
	s_str(&m, CA_FORMAT_USER, "root");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("USER 'root'", F, REG_MODE, 0, &m, "user name 'root'");
	s_record(&m, CA_FORMAT_USER, "a\0b", 4);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a NUL inside a user name", F, REG_MODE, 1000, &m, "user name contains a NUL");
	s_record(&m, CA_FORMAT_USER, "abc", 3);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a user name without NUL", F, REG_MODE, 1000, &m, "not NUL-terminated");
	memset(name, 'u', 256);
	name[256] = 0;
	s_str(&m, CA_FORMAT_USER, name);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a 256-byte user name", F, REG_MODE, 1000, &m, "USER record of 273 bytes");
	s_record(&m, CA_FORMAT_XATTR, "user.b\0", 7);
	s_record(&m, CA_FORMAT_XATTR, "user.a\0", 7);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("unsorted xattrs", F, REG_MODE, 0, &m,
		    "s.catar: f: xattrs not sorted ('user.a' after 'user.b')");
	s_record(&m, CA_FORMAT_XATTR, "security.x\0", 11);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a security.* xattr", F, REG_MODE, 0, &m, "not in the user or trusted");
	s_record(&m, CA_FORMAT_XATTR, "user.\0", 6);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("an xattr named 'user.'", F, REG_MODE, 0, &m, "not in the user or trusted");
	memset(name, 'x', 299);
	s_record(&m, CA_FORMAT_XATTR, name, 299);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("an xattr name without NUL", F, REG_MODE, 0, &m, "not NUL-terminated within");
	s_record(&m, CA_FORMAT_XATTR, "user.a\0", 7);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("XATTR without xattrs", unix_flags, REG_MODE, 0, &m,
		    "s.catar: f: XATTR record, but the feature flags exclude xattrs");
	{
		/* a child whose ENTRY has other flags than the root's */
		struct sbuf b = { 0 }, t = { 0 };
		stasync_error err = { 0 };
		struct sta_goodbye_item item;
		int r;

		s_entry(&b, F, DIR_MODE, 0, 0);
		item.start = b.n;
		s_str(&b, CA_FORMAT_FILENAME, "f");
		s_entry(&b, unix_flags, REG_MODE, 0, 0);
		s_record(&b, CA_FORMAT_PAYLOAD, "", 0);
		item.end = b.n;
		item.hash = sta_goodbye_hash("f", 1);
		s_goodbye(&b, &item, 1, 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "s.catar: f: feature flags "
					       "0x0000000000001f09 differ from the archive's "
					       "0xb0000001ffeffe26"), "flags that differ: %s",
		       err.message);
		sbuf_free(&b);
		sbuf_free(&t);
	}
	s_record(&m, CA_FORMAT_FCAPS, "c", 1);
	s_str(&m, CA_FORMAT_SELINUX, "label");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("SELINUX after FCAPS", F, REG_MODE, 0, &m, "SELINUX record after FCAPS record");
	s_acl(&m, CA_FORMAT_ACL_USER, 7, 6, NULL);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("ACL_USER without ACL_GROUP_OBJ", F, REG_MODE, 0, &m, "without ACL_GROUP_OBJ");
	s_acl(&m, CA_FORMAT_ACL_USER, 8, 6, NULL);
	s_acl(&m, CA_FORMAT_ACL_USER, 7, 6, NULL);
	s_u64s(&m, CA_FORMAT_ACL_GROUP_OBJ, 1, (uint64_t)7);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("unsorted ACL_USER records", F, REG_MODE, 0, &m, "not sorted or duplicated");
	s_acl(&m, CA_FORMAT_ACL_USER, 7, 8, NULL);
	s_u64s(&m, CA_FORMAT_ACL_GROUP_OBJ, 1, (uint64_t)7);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("ACL permission bits beyond rwx", F, REG_MODE, 0, &m, "invalid permissions");
	s_u64s(&m, CA_FORMAT_ACL_DEFAULT, 4, (uint64_t)7, (uint64_t)5, (uint64_t)5,
	       STASYNC_ACL_NONE);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a default ACL on a file", F, REG_MODE, 0, &m, "default ACL on a regular file");
	s_u64s(&m, CA_FORMAT_ACL_DEFAULT, 4, (uint64_t)7, (uint64_t)5, (uint64_t)5, (uint64_t)7);
	s_acl(&m, CA_FORMAT_ACL_DEFAULT_USER, 7, 6, NULL);
	check_child("a default ACL on a directory", F, DIR_MODE, 0, &m, NULL);
	s_u64s(&m, CA_FORMAT_QUOTA_PROJID, 1, (uint64_t)0);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("quota project id 0", F, REG_MODE, 0, &m, "invalid quota project id 0");
	s_record(&m, CA_FORMAT_FCAPS, "c", 1);
	s_str(&m, CA_FORMAT_SYMLINK, "t");
	check_child("FCAPS on a symlink", F, S_IFLNK | 0777, 0, &m, "FCAPS record on a symlink");
	s_record(&m, CA_FORMAT_XATTR, "user.a\0", 7);
	s_str(&m, CA_FORMAT_SYMLINK, "t");
	check_child("an xattr on a symlink", F, S_IFLNK | 0777, 0, &m,
		    "xattrs or ACLs on a symlink");

	/* what follows the metadata must fit the mode */
	check_child("a regular file without PAYLOAD", F, REG_MODE, 0, &m,
		    "f: regular file without its PAYLOAD record");
	s_str(&m, CA_FORMAT_SYMLINK, "t");
	check_child("SYMLINK in a regular file", F, REG_MODE, 0, &m,
		    "SYMLINK record in a regular file");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("PAYLOAD in a symlink", F, S_IFLNK | 0777, 0, &m,
		    "PAYLOAD record in a symlink");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("PAYLOAD in a directory", F, DIR_MODE, 0, &m, "PAYLOAD record in a directory");
	s_record(&m, CA_FORMAT_SYMLINK, "", 1);
	check_child("an empty symlink target", F, S_IFLNK | 0777, 0, &m,
		    "SYMLINK record of 17 bytes");
	s_record(&m, CA_FORMAT_SYMLINK, "a\0b", 4);
	check_child("a NUL inside a symlink target", F, S_IFLNK | 0777, 0, &m,
		    "symlink target contains a NUL");
	check_child("a symlink without SYMLINK", F, S_IFLNK | 0777, 0, &m,
		    "symlink without its SYMLINK");
	s_u64s(&m, CA_FORMAT_DEVICE, 2, (uint64_t)8, (uint64_t)1);
	check_child("a block device", F, S_IFBLK | 0600, 0, &m, NULL);
	s_u64s(&m, CA_FORMAT_DEVICE, 2, (uint64_t)4096, (uint64_t)1);
	check_child("a 13-bit major", F, S_IFBLK | 0600, 0, &m, "invalid device number 4096:1");
	s_u64s(&m, CA_FORMAT_DEVICE, 1, (uint64_t)8);
	check_child("a short DEVICE record", F, S_IFCHR | 0600, 0, &m,
		    "DEVICE record of 24 bytes (must be 32)");
	check_child("a socket", F, S_IFSOCK | 0600, 0, &m, NULL);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a regular file with unix flags", unix_flags, REG_MODE, 0, &m, NULL);
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a file with another type", F, 0070000 | 0644, 0, &m,
		    "unknown file type in mode");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a mode with stray bits", F, REG_MODE | 0x100000, 0, &m, "invalid mode");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("a symlink mode 0755", F, S_IFLNK | 0755, 0, &m, "symlink with mode 0755");
	s_record(&m, CA_FORMAT_PAYLOAD, "", 0);
	check_child("uid 2^32-1", F, REG_MODE, UINT32_MAX, &m, "invalid uid 4294967295");
	s_record(&m, CA_FORMAT_ENTRY, "", 0);
	check_child("a second ENTRY", F, REG_MODE, 0, &m,
		    "f: ENTRY record inside an entry (a FILENAME is missing)");
	s_entry(&m, F, REG_MODE, 0, 0);
	check_child("an ENTRY without FILENAME", F, DIR_MODE, 0, &m,
		    "f: ENTRY record inside an entry");
	s_header(&m, 16, UINT64_C(0x1122334455667788));
	check_child("an unknown record", F, REG_MODE, 0, &m,
		    "unknown record type 0x1122334455667788");

	/* file names */
	{
		struct sbuf b = { 0 }, t = { 0 }, rest = { 0 };
		stasync_error err = { 0 };
		int r;

		s_record(&rest, CA_FORMAT_PAYLOAD, "", 0);
		memset(name, 'n', 255);
		name[255] = 0;
		one_child(&b, F, REG_MODE, 0, &rest, name);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == 0, "a 255-byte name (%s)", err.message);
		sbuf_free(&b);
		name[255] = 'n';
		name[256] = 0;
		one_child(&b, F, REG_MODE, 0, &rest, name);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message,
					       "s.catar: FILENAME record of 273 bytes"),
		       "a 256-byte name: %s", err.message);
		sbuf_free(&b);
		s_entry(&b, F, DIR_MODE, 0, 0);
		s_record(&b, CA_FORMAT_FILENAME, "", 1);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "FILENAME record of 17 bytes"),
		       "an empty name: %s", err.message);
		sbuf_free(&b);
		one_child(&b, F, REG_MODE, 0, &rest, "bad\nname");
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == 0, "a newline in a name is allowed");
		sbuf_free(&b);
		sbuf_free(&t);
		sbuf_free(&rest);
	}

	/* ENTRY fields */
	{
		struct sbuf b = { 0 }, t = { 0 };
		stasync_error err = { 0 };
		int r;

		s_entry(&b, F | (UINT64_C(1) << 40), DIR_MODE, 0, 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message,
					       "unknown feature flags 0x0000010000000000"),
		       "an unknown feature flag: %s", err.message);
		sbuf_free(&b);
		s_entry(&b, STASYNC_WITH_NSEC_TIME | STASYNC_WITH_SEC_TIME, DIR_MODE, 0, 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "are not normalized"),
		       "unnormalized feature flags: %s", err.message);
		sbuf_free(&b);
		s_entry(&b, STASYNC_WITH_SEC_TIME, DIR_MODE | 0777, 0, 1500000000);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "mtime 1500000000 does not fit"),
		       "an mtime finer than the flags: %s", err.message);
		sbuf_free(&b);
		s_entry(&b, STASYNC_WITH_SEC_TIME, DIR_MODE | 0755, 0, 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "permission bits 0755 not allowed"),
		       "permission bits without the permissions flag: %s", err.message);
		sbuf_free(&b);
		s_entry(&b, STASYNC_WITH_SEC_TIME, S_IFDIR | 0777, 0, 3000000000);
		s_goodbye(&b, NULL, 0, 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == 0, "reduced bits and whole seconds are fine (%s)", err.message);
		sbuf_free(&b);
		s_entry(&b, F, S_IFREG | 0644, 0, 0);
		le64_put(b.p + 32, STASYNC_WITH_FLAG_IMMUTABLE);
		s_record(&b, CA_FORMAT_PAYLOAD, "", 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == 0, "a chattr flag within the feature flags (%s)", err.message);
		sbuf_free(&b);
		s_entry(&b, F, S_IFREG | 0644, 0, 0);
		le64_put(b.p + 32, STASYNC_WITH_FLAG_NODUMP);
		s_record(&b, CA_FORMAT_PAYLOAD, "", 0);
		r = decode_sbuf(&b, &t, &err);
		tap_ok(r == -EBADMSG && strstr(err.message,
					       "file attribute flags 0x100000 not allowed"),
		       "a chattr flag outside the feature flags: %s", err.message);
		sbuf_free(&b);
		sbuf_free(&t);
	}
}

/* An archive of `levels` directories "d" nested below the root, built
 * forward, then closed from the inside out (no GOODBYEs when open). */
static void build_nested(struct sbuf *b, size_t levels, bool close)
{
	uint64_t *entry_at = tap_xmalloc((levels + 1) * sizeof(uint64_t));
	uint64_t *name_at = tap_xmalloc((levels + 1) * sizeof(uint64_t));
	uint64_t hash = sta_goodbye_hash("d", 1);

	entry_at[0] = 0;
	s_entry(b, F, DIR_MODE, 0, 0);
	for (size_t i = 1; i <= levels; i++) {
		name_at[i] = b->n;
		s_str(b, CA_FORMAT_FILENAME, "d");
		entry_at[i] = b->n;
		s_entry(b, F, DIR_MODE, 0, 0);
	}
	if (close) {
		s_goodbye(b, NULL, 0, entry_at[levels]);
		for (size_t i = levels; i-- > 0;) {
			struct sta_goodbye_item item = { name_at[i + 1], b->n, hash };

			s_goodbye(b, &item, 1, entry_at[i]);
		}
	}
	free(entry_at);
	free(name_at);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_depth(void)
{
	struct sbuf b = { 0 };
	struct mem_reader m = { 0 };
	stasync_catar_decoder *d;
	const stasync_entry *e;
	stasync_error err = { 0 };
	const size_t levels = 20000;
	size_t entries = 0, ends = 0, bad_depth = 0;
	unsigned max_depth = 0;
	double t0;
	int r;

	build_nested(&b, levels, true);
	m = (struct mem_reader) { .p = b.p, .n = b.n };
	t0 = now();
	stasync_catar_decoder_new(mem_read, &m, "deep.catar", &d, &err);
	while ((r = stasync_catar_decoder_next(d, &e, &err)) > 0) {
		unsigned depth = stasync_catar_decoder_depth(d);
		size_t len = strlen(stasync_catar_decoder_path(d));

		/* "d/d/…/d": depth n has 2n-1 characters */
		if (len != (depth ? 2 * (size_t)depth - 1 : 0))
			bad_depth++;
		if (r == STASYNC_CATAR_ENTRY) {
			if (depth != entries)
				bad_depth++;
			entries++;
		} else {
			if (depth != levels - ends)
				bad_depth++;
			ends++;
		}
		if (depth > max_depth)
			max_depth = depth;
	}
	tap_ok(r == 0 && entries == levels + 1 && ends == levels + 1 && bad_depth == 0 &&
	       max_depth == levels, "%zu nested directories decode (%d %s; %zu entries, %zu ends, "
	       "max depth %u)", levels, r, err.message, entries, ends, max_depth);
	tap_ok(now() - t0 < 10, "  in %.3f s", now() - t0);
	stasync_catar_decoder_free(d);

	/* cut inside the innermost GOODBYE: named by its deep path, shortened */
	b.n -= 20000 * 64 + 10;
	r = decode_sbuf(&b, NULL, &err);
	tap_ok(r == -EBADMSG && strncmp(err.message, "s.catar: truncated inside .../d/d/d",
					35) == 0 &&
	       strlen(err.message) < 400, "a deep truncation, its path shortened: %.60s...",
	       err.message);
	sbuf_free(&b);

	/* one level more than allowed (the innermost need not be closed) */
	build_nested(&b, 65536, false);
	s_goodbye(&b, NULL, 0, b.n - 64);
	t0 = now();
	r = decode_sbuf(&b, NULL, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "directories nested deeper than 65536 levels"),
	       "65537 levels are refused: ...%s",
	       strlen(err.message) > 60 ? err.message + strlen(err.message) - 60 : err.message);
	tap_ok(now() - t0 < 10, "  in %.3f s", now() - t0);
	sbuf_free(&b);
}

static void test_wide(void)
{
	const size_t n = 3000;
	struct sta_goodbye_item *items = tap_xmalloc(n * sizeof(*items));
	struct sbuf b = { 0 }, t = { 0 };
	stasync_error err = { 0 };
	int r;

	s_entry(&b, F, DIR_MODE, 0, 0);
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "c%05zu", i);
		items[i].start = b.n;
		s_str(&b, CA_FORMAT_FILENAME, name);
		s_entry(&b, F, REG_MODE, 0, 0);
		s_record(&b, CA_FORMAT_PAYLOAD, name, i % 5);
		items[i].end = b.n;
		items[i].hash = sta_goodbye_hash(name, strlen(name));
	}
	s_goodbye(&b, items, n, 0);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == 0, "a directory of %zu children (%s)", n, err.message);
	/* a wrong end offset of one child in the middle */
	sbuf_free(&t);
	b.n -= (size_t)sta_goodbye_size(n);
	items[1234].end--;
	s_goodbye(&b, items, n, 0);
	r = decode_sbuf(&b, &t, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "does not match the children (its size)"),
	       "one wrong child size in the table: %s", err.message);
	sbuf_free(&b);
	sbuf_free(&t);
	free(items);
}

/* The API around the events. */
static void test_api(void)
{
	struct sbuf b = { 0 }, rest = { 0 };
	struct mem_reader m;
	stasync_catar_decoder *d;
	const stasync_entry *e;
	stasync_error err = { 0 };
	uint8_t buf[16];
	int r;

	s_record(&rest, CA_FORMAT_PAYLOAD, "0123456789", 10);
	one_child(&b, F, REG_MODE, 0, &rest, "f");
	m = (struct mem_reader) { .p = b.p, .n = b.n };
	stasync_catar_decoder_new(mem_read, &m, "api.catar", &d, &err);
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == STASYNC_CATAR_ENTRY && stasync_catar_decoder_depth(d) == 0 &&
	       !stasync_catar_decoder_name(d) && !*stasync_catar_decoder_path(d) &&
	       stasync_catar_decoder_offset(d) == 64, "the root: depth 0, no name, path \"\"");
	tap_ok(stasync_catar_decoder_read_payload(d, buf, sizeof(buf), &err) == -EINVAL,
	       "read_payload on a directory: -EINVAL (%s)", err.message);
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == STASYNC_CATAR_ENTRY && e->size == 10 &&
	       strcmp(stasync_catar_decoder_name(d), "f") == 0 &&
	       stasync_catar_decoder_depth(d) == 1, "the child");
	tap_ok(stasync_catar_decoder_read_payload(d, buf, 4, &err) == 4 &&
	       memcmp(buf, "0123", 4) == 0, "a part of its payload");
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == STASYNC_CATAR_DIR_END && stasync_catar_decoder_depth(d) == 0 && !e,
	       "the rest skipped, then the root's end");
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == 0 && stasync_catar_decoder_offset(d) == b.n, "then 0, all bytes consumed");
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == 0, "and 0 again");
	tap_ok(m.calls_after_end <= 1, "the reader is not asked again after its end (%zu)",
	       m.calls_after_end);
	stasync_catar_decoder_free(d);

	/* a failing reader: its code and message are passed on, and stick */
	m = (struct mem_reader) { .p = b.p, .n = b.n, .fail_at = 64 + 18 + 64 + 16 };
	stasync_catar_decoder_new(mem_read, &m, "api.catar", &d, &err);
	r = stasync_catar_decoder_next(d, &e, &err);
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == STASYNC_CATAR_ENTRY, "two entries before the reader fails");
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == -EIO && strstr(err.message, "boom"), "the reader's error: %s", err.message);
	stasync_error_clear(&err);
	r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == -EIO && err.message[0], "and again: %s", err.message);
	stasync_catar_decoder_free(d);
	stasync_catar_decoder_free(NULL);

	/* a payload cut short is reported by read_payload */
	m = (struct mem_reader) { .p = b.p, .n = 64 + 18 + 64 + 16 + 5 };
	stasync_catar_decoder_new(mem_read, &m, "api.catar", &d, &err);
	stasync_catar_decoder_next(d, &e, &err);
	stasync_catar_decoder_next(d, &e, &err);
	tap_ok(stasync_catar_decoder_read_payload(d, buf, sizeof(buf), &err) == 5 &&
	       stasync_catar_decoder_read_payload(d, buf, sizeof(buf), &err) == -EBADMSG &&
	       strcmp(err.message, "api.catar: truncated inside f") == 0,
	       "a payload cut short: %s", err.message);
	stasync_catar_decoder_free(d);

	/* entry init/clear */
	{
		stasync_entry x;

		stasync_entry_init(&x);
		tap_ok(x.acl_group_obj == STASYNC_ACL_NONE &&
		       x.acl_default_mask == STASYNC_ACL_NONE &&
		       !x.user && !x.n_xattrs, "stasync_entry_init");
		x.user = strdup("u");
		x.xattrs = calloc(1, sizeof(*x.xattrs));
		x.xattrs[0].name = strdup("user.x");
		x.n_xattrs = 1;
		stasync_entry_clear(&x);
		tap_ok(!x.user && !x.xattrs && x.acl_default_other == STASYNC_ACL_NONE,
		       "stasync_entry_clear frees and re-inits");
	}
	sbuf_free(&b);
	sbuf_free(&rest);
}

/* stasync_catar_decoder_digest_dir(): the records of a directory inside an
 * archive are those of an archive of it alone, and their digest is theirs. */
static void test_digest_dir(void)
{
	struct sbuf b = { 0 }, alone = { 0 };
	struct sta_goodbye_item outer, inner;
	stasync_digest_type type = F & STASYNC_SHA512_256 ? STASYNC_DIGEST_SHA512_256
							  : STASYNC_DIGEST_SHA256;
	stasync_chunk_id got, want;
	struct mem_reader m;
	stasync_catar_decoder *d;
	const stasync_entry *e;
	stasync_error err = { 0 };
	uint64_t d_start, d_end;
	int r;

	/* root/ { d/ { f: "0123456789" } } */
	s_entry(&b, F, DIR_MODE, 0, 0);
	outer.start = b.n;
	s_str(&b, CA_FORMAT_FILENAME, "d");
	d_start = b.n;
	s_entry(&b, F, DIR_MODE, 0, 0);
	inner.start = b.n;
	s_str(&b, CA_FORMAT_FILENAME, "f");
	s_entry(&b, F, REG_MODE, 0, 0);
	s_record(&b, CA_FORMAT_PAYLOAD, "0123456789", 10);
	inner.end = b.n;
	inner.hash = sta_goodbye_hash("f", 1);
	s_goodbye(&b, &inner, 1, d_start);
	d_end = b.n;
	outer.end = b.n;
	outer.hash = sta_goodbye_hash("d", 1);
	s_goodbye(&b, &outer, 1, 0);

	/* the same d/ as an archive of its own */
	s_entry(&alone, F, DIR_MODE, 0, 0);
	inner.start = alone.n;
	s_str(&alone, CA_FORMAT_FILENAME, "f");
	s_entry(&alone, F, REG_MODE, 0, 0);
	s_record(&alone, CA_FORMAT_PAYLOAD, "0123456789", 10);
	inner.end = alone.n;
	s_goodbye(&alone, &inner, 1, 0);
	tap_ok(alone.n == d_end - d_start && memcmp(alone.p, b.p + d_start, alone.n) == 0,
	       "a directory's records are the bytes of an archive of it alone");
	stasync_digest_buffer(type, alone.p, alone.n, &want);

	for (size_t chunk = 0; chunk <= 1; chunk++) {
		m = (struct mem_reader) { .p = b.p, .n = b.n, .chunk = chunk };
		stasync_catar_decoder_new(mem_read, &m, "dd.catar", &d, &err);
		r = stasync_catar_decoder_digest_dir(d, &got, &err);
		tap_ok(r == -EINVAL, "digest_dir before any event: -EINVAL (%s)", err.message);
		stasync_catar_decoder_next(d, &e, &err);
		r = stasync_catar_decoder_next(d, &e, &err);
		tap_ok(r == STASYNC_CATAR_ENTRY && strcmp(stasync_catar_decoder_path(d), "d") == 0,
		       "at d/");
		r = stasync_catar_decoder_digest_dir(d, &got, &err);
		tap_ok(r == 0 && stasync_chunk_id_equal(&got, &want) &&
		       stasync_catar_decoder_offset(d) == d_end,
		       "digest_dir of d/ (%s): that of its archive, read to its end",
		       chunk ? "a byte a read" : "reads of any size");
		r = stasync_catar_decoder_next(d, &e, &err);
		tap_ok(r == STASYNC_CATAR_DIR_END && stasync_catar_decoder_depth(d) == 0,
		       "then the root's end");
		tap_ok(stasync_catar_decoder_next(d, &e, &err) == 0, "then 0");
		stasync_catar_decoder_free(d);
	}

	/* the root's is the whole archive's; a file has none */
	m = (struct mem_reader) { .p = b.p, .n = b.n };
	stasync_catar_decoder_new(mem_read, &m, "dd.catar", &d, &err);
	stasync_catar_decoder_next(d, &e, &err);
	r = stasync_catar_decoder_digest_dir(d, &got, &err);
	stasync_digest_buffer(type, b.p, b.n, &want);
	tap_ok(r == 0 && stasync_chunk_id_equal(&got, &want), "digest_dir of the root: the archive's");
	tap_ok(stasync_catar_decoder_next(d, &e, &err) == 0, "then 0");
	stasync_catar_decoder_free(d);

	m = (struct mem_reader) { .p = b.p, .n = b.n };
	stasync_catar_decoder_new(mem_read, &m, "dd.catar", &d, &err);
	for (int i = 0; i < 3; i++)
		r = stasync_catar_decoder_next(d, &e, &err);
	tap_ok(r == STASYNC_CATAR_ENTRY && S_ISREG(e->mode) &&
	       stasync_catar_decoder_digest_dir(d, &got, &err) == -EINVAL,
	       "digest_dir of a file: -EINVAL (%s)", err.message);
	stasync_catar_decoder_free(d);

	/* cut short inside d/: the decoder's error */
	m = (struct mem_reader) { .p = b.p, .n = d_end - 10 };
	stasync_catar_decoder_new(mem_read, &m, "dd.catar", &d, &err);
	stasync_catar_decoder_next(d, &e, &err);
	stasync_catar_decoder_next(d, &e, &err);
	r = stasync_catar_decoder_digest_dir(d, &got, &err);
	tap_ok(r == -EBADMSG && err.message[0], "cut short inside d/: %s", err.message);
	stasync_catar_decoder_free(d);
	sbuf_free(&b);
	sbuf_free(&alone);
}

/* A reader that can also pass bytes over: at most `piece` a call (0: no
 * limit); `fail` > 0 makes every skip fail, `fail` < 0 end the input. */
struct skip_reader {
	struct mem_reader m;
	size_t piece;
	int fail;
	bool overshoot;         /* claim one byte more than asked */
	size_t calls;
	uint64_t skipped;
};

static ssize_t skip_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	return mem_read(&((struct skip_reader *)ctx)->m, p, n, err);
}

static ssize_t skip_over(void *ctx, uint64_t n, stasync_error *err)
{
	struct skip_reader *s = ctx;
	size_t k = s->m.n - s->m.pos;

	s->calls++;
	if (s->fail > 0) {
		err->code = -EIO;
		snprintf(err->message, sizeof(err->message), "test skipper: boom");
		return -EIO;
	}
	if (s->fail < 0)
		return 0;
	if (k > n)
		k = (size_t)n;
	if (s->piece && k > s->piece)
		k = s->piece;
	s->m.pos += k;
	s->skipped += k;
	return (ssize_t)k + s->overshoot;
}

/* Run a decoder, with skip_over() set or not, to its end (or first error). */
static int decode_skipping(struct skip_reader *s, bool skip, const struct sbuf *b, struct sbuf *t,
			   stasync_chunk_id *digest, stasync_error *err)
{
	stasync_catar_decoder *d;
	const stasync_entry *e;
	int r;

	s->m = (struct mem_reader) { .p = b->p, .n = b->n };
	stasync_error_clear(err);
	stasync_catar_decoder_new(skip_read, s, "skip.catar", &d, err);
	if (skip)
		stasync_catar_decoder_set_skip(d, skip_over);
	r = stasync_catar_decoder_next(d, &e, err);
	if (r > 0 && digest)
		r = stasync_catar_decoder_digest_dir(d, digest, err);
	while (r > 0 && (r = stasync_catar_decoder_next(d, &e, err)) > 0)
		if (t && r == STASYNC_CATAR_ENTRY)
			sbuf_printf(t, "%s @%" PRIu64 "\n", stasync_catar_decoder_path(d),
				    stasync_catar_decoder_offset(d));
	if (r == 0 && t)
		sbuf_printf(t, "end @%" PRIu64 "\n", stasync_catar_decoder_offset(d));
	stasync_catar_decoder_free(d);
	return r;
}

static void test_skip(void)
{
	const size_t size = 300000;     /* more than the decoder buffers */
	struct sbuf b = { 0 }, rest = { 0 }, t = { 0 }, want = { 0 };
	struct skip_reader s;
	stasync_digest_type type = F & STASYNC_SHA512_256 ? STASYNC_DIGEST_SHA512_256
							  : STASYNC_DIGEST_SHA256;
	stasync_chunk_id got, whole;
	stasync_error err = { 0 };
	uint8_t *payload = tap_xmalloc(size);
	int r;

	for (size_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(i * 7 + i / 251);
	s_record(&rest, CA_FORMAT_PAYLOAD, payload, size);
	one_child(&b, F, REG_MODE, 0, &rest, "big");
	s = (struct skip_reader) { 0 };
	r = decode_skipping(&s, false, &b, &want, NULL, &err);
	tap_ok(r == 0 && s.calls == 0 && strstr(sbuf_str(&want), "big @"),
	       "without skip set, the payload is read (%d %s)", r, err.message);
	s = (struct skip_reader) { 0 };
	r = decode_skipping(&s, true, &b, &t, NULL, &err);
	tap_ok(r == 0 && strcmp(sbuf_str(&t), sbuf_str(&want)) == 0 && s.calls > 0 &&
	       s.skipped > 0 && s.skipped < size && s.m.pos == b.n,
	       "an unread payload is passed over through skip, with the same entries and "
	       "offsets: %" PRIu64 " of its %zu bytes in %zu calls, the rest buffered (%d %s)",
	       s.skipped, size, s.calls, r, err.message);
	s = (struct skip_reader) { .piece = 1000 };
	t.n = 0;
	r = decode_skipping(&s, true, &b, &t, NULL, &err);
	tap_ok(r == 0 && strcmp(sbuf_str(&t), sbuf_str(&want)) == 0 && s.calls > 100,
	       "and the same in pieces of 1000 bytes (%zu calls)", s.calls);

	/* digest_dir() digests what it passes over: read, not skipped */
	stasync_digest_buffer(type, b.p, b.n, &whole);
	s = (struct skip_reader) { 0 };
	r = decode_skipping(&s, true, &b, NULL, &got, &err);
	tap_ok(r == 0 && s.calls == 0 && stasync_chunk_id_equal(&got, &whole),
	       "digest_dir() reads the payload instead of skipping it, and digests it all");

	s = (struct skip_reader) { .fail = 1 };
	r = decode_skipping(&s, true, &b, NULL, NULL, &err);
	tap_ok(r == -EIO && strstr(err.message, "boom"), "a failing skip: its error (%s)",
	       err.message);
	s = (struct skip_reader) { .fail = -1 };
	r = decode_skipping(&s, true, &b, NULL, NULL, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "big"),
	       "input ending inside a payload that is skipped: -EBADMSG (%s)", err.message);
	s = (struct skip_reader) { .overshoot = true };
	r = decode_skipping(&s, true, &b, NULL, NULL, &err);
	tap_ok(r == -EIO && strstr(err.message, "more than asked"),
	       "a skip past what was asked: -EIO (%s)", err.message);
	free(payload);
	sbuf_free(&b);
	sbuf_free(&rest);
	sbuf_free(&t);
	sbuf_free(&want);
}

int main(void)
{
	if (casync_path()) {
		test_casync_tree();
		test_corruptions();
	} else
		tap_ok(true, "# SKIP CASYNC not set: no casync archives");
	test_root_kinds();
	test_rules();
	test_wide();
	test_depth();
	test_api();
	test_digest_dir();
	test_skip();
	return tap_done();
}
