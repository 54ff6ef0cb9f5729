/* fuzz-roundtrip — a small tree described by the input is made in a
 * private temporary directory, encoded with stasync_catar_encode(),
 * decoded with the catar decoder, and every entry must come back as
 * described: order (names sorted), name, depth, type, mode, owner, mtime,
 * feature flags, symlink target, xattrs, payload bytes, directory ends.
 *
 * Input: bytes 0–1 choose the feature flags (bits of a fixed list, then
 * normalized), bytes 2–9 the root's mode and mtime, then operations, one
 * byte each followed by its arguments (missing bytes read as 0):
 *   low 3 bits 0, 6, 7  regular file: name, mode (2), mtime (6), size (2)
 *              1        directory (entered): name, mode, mtime
 *              2        leave the current directory
 *              3        symlink: name, mtime, target (length byte + bytes)
 *              4        fifo: name, mode, mtime
 *              5        xattr "user.NAME" on the last file or directory:
 *                       name, value (length byte + bytes)
 * A name is a length byte (1–24) and its bytes, '/' and NUL replaced;
 * "." and "..", and names taken already in the directory, skip the
 * operation. At most 24 entries, 6 levels, 4 xattrs per entry; files
 * are at most 64 KiB. The encoder's own reading of the tree is what is
 * tested: the harness describes, the file system stores, the library
 * reads and writes, the decoder reads back. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <stasync/catar.h>
#include <stasync/features.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NODES 25
#define MAX_DEPTH 6
#define MAX_XATTRS 4
#define NAME_MAX_LEN 24

struct xattr {
	char name[5 + NAME_MAX_LEN + 1];
	uint8_t value[255];
	size_t size;
};

struct node {
	char name[NAME_MAX_LEN + 1];
	mode_t mode;              /* as made, type and permissions */
	uint64_t mtime;           /* nanoseconds */
	size_t size;
	uint64_t seed;            /* of the payload */
	char target[256];
	struct xattr xattrs[MAX_XATTRS];
	size_t n_xattrs;
	int parent;               /* index, -1 for the root */
	int fd;                   /* open directory, or -1 */
};

struct input {
	const uint8_t *p;
	size_t n, pos;
};

static uint8_t next(struct input *in)
{
	return in->pos < in->n ? in->p[in->pos++] : 0;
}

static uint64_t next_n(struct input *in, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | next(in);
	return v;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void payload(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed;

	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = splitmix(&s);

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
	/* Runs of zeros too, where the seed says so. */
	if (seed & 1)
		memset(p, 0, n / 2);
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-roundtrip: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* A time within what every file system here stores: below 2^33 s. */
static uint64_t next_mtime(struct input *in)
{
	uint64_t v = next_n(in, 6);

	return (v >> 15) % (UINT64_C(1) << 33) * 1000000000u + (v & 0x7fff) * 30517u % 1000000000u;
}

/* A name, or false when it cannot be used in directory `dir`. */
static bool next_name(struct input *in, struct node *nodes, size_t n_nodes, int dir, char *out)
{
	size_t len = next(in) % NAME_MAX_LEN + 1;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = next(in);

		out[i] = c == '/' || c == 0 ? (char)('a' + i) : (char)c;
	}
	out[len] = 0;
	if (!strcmp(out, ".") || !strcmp(out, ".."))
		return false;
	for (size_t i = 1; i < n_nodes; i++)
		if (nodes[i].parent == dir && !strcmp(nodes[i].name, out))
			return false;
	return true;
}

static void set_mtime(const struct node *nodes, const struct node *x)
{
	struct timespec ts[2] = {
		{ 0, UTIME_OMIT },
		{ (time_t)(x->mtime / 1000000000u), (long)(x->mtime % 1000000000u) },
	};
	int r;

	if (x->parent < 0)
		r = futimens(x->fd, ts);
	else
		r = utimensat(nodes[x->parent].fd, x->name, ts, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		fail("cannot set a time", strerror(errno));
}

/* ---- building --------------------------------------------------------------- */

struct tree {
	struct node nodes[MAX_NODES];
	size_t n;
	uint64_t flags;
};

static void make_file(struct tree *t, struct node *x)
{
	int fd = openat(t->nodes[x->parent].fd, x->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			0600);
	uint8_t *buf = malloc(x->size ? x->size : 1);

	if (fd < 0 || !buf)
		fail("cannot make a file", strerror(errno));
	payload(buf, x->size, x->seed);
	for (size_t done = 0; done < x->size;) {
		ssize_t k = write(fd, buf + done, x->size - done);

		if (k <= 0)
			fail("cannot write a file", strerror(errno));
		done += (size_t)k;
	}
	free(buf);
	/* Kept open for its xattrs. */
	x->fd = fd;
}

static void add_xattr(struct node *x, struct input *in)
{
	struct xattr a;
	size_t len = next(in) % NAME_MAX_LEN + 1, i;

	memcpy(a.name, "user.", 5);
	for (i = 0; i < len; i++) {
		uint8_t c = next(in);

		a.name[5 + i] = c ? (char)c : 'x';
	}
	a.name[5 + len] = 0;
	a.size = next(in);
	for (i = 0; i < a.size; i++)
		a.value[i] = next(in);
	if (fsetxattr(x->fd, a.name, a.value, a.size, 0) < 0)
		return;   /* not supported here, or the file system's limits */
	for (i = 0; i < x->n_xattrs; i++)
		if (!strcmp(x->xattrs[i].name, a.name)) {
			x->xattrs[i] = a;
			return;
		}
	if (x->n_xattrs == MAX_XATTRS) {
		/* No room in the model: take it off again. */
		if (fremovexattr(x->fd, a.name) < 0)
			fail("cannot remove an xattr", strerror(errno));
		return;
	}
	x->xattrs[x->n_xattrs++] = a;
}

static void build(struct tree *t, int root_fd, struct input *in)
{
	static const uint64_t choices[] = {
		STASYNC_WITH_PERMISSIONS, STASYNC_WITH_READ_ONLY, STASYNC_WITH_SYMLINKS,
		STASYNC_WITH_FIFOS, STASYNC_WITH_NSEC_TIME, STASYNC_WITH_SEC_TIME,
		STASYNC_WITH_32BIT_UIDS, STASYNC_WITH_XATTRS,
	};
	uint8_t pick = next(in), more = next(in);
	int cur = 0, depth = 0, last = 0, r;
	size_t len;
	bool ok;

	t->flags = STASYNC_SHA512_256 | STASYNC_EXCLUDE_NODUMP;
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++)
		if (pick & (1u << i))
			t->flags |= choices[i];
	if (more & 1)
		t->flags |= STASYNC_WITH_USEC_TIME;
	if (more & 2)
		t->flags |= STASYNC_WITH_2SEC_TIME;
	if ((more & 4) && geteuid() < 65536 && getegid() < 65536)
		t->flags |= STASYNC_WITH_16BIT_UIDS;
	t->flags = stasync_feature_flags_normalize(t->flags);

	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nodes[0].mode = S_IFDIR | 0500 | (next_n(in, 2) & 07777);
	t->nodes[0].mtime = next_mtime(in);
	t->nodes[0].parent = -1;
	t->nodes[0].fd = root_fd;
	t->n = 1;

	while (in->pos < in->n && t->n < MAX_NODES) {
		uint8_t op = next(in) & 7;
		struct node *x = &t->nodes[t->n];

		if (op == 2) {
			if (depth > 0) {
				cur = t->nodes[cur].parent;
				depth--;
			}
			continue;
		}
		if (op == 5) {
			add_xattr(&t->nodes[last], in);
			continue;
		}
		memset(x, 0, sizeof(*x));
		x->parent = cur;
		x->fd = -1;
		/* All arguments are read before an operation is dropped, so
		 * the ones after it keep their meaning. */
		ok = next_name(in, t->nodes, t->n, cur, x->name);
		switch (op) {
		case 1:
			x->mode = S_IFDIR | 0500 | (next_n(in, 2) & 07777);
			x->mtime = next_mtime(in);
			break;
		case 3:
			x->mode = S_IFLNK | 0777;
			x->mtime = next_mtime(in);
			len = next(in) % 64 + 1;
			for (size_t i = 0; i < len; i++) {
				uint8_t c = next(in);

				x->target[i] = c ? (char)c : '.';
			}
			x->target[len] = 0;
			break;
		case 4:
			x->mode = S_IFIFO | (next_n(in, 2) & 0777);
			x->mtime = next_mtime(in);
			break;
		default:
			x->mode = S_IFREG | 0400 | (next_n(in, 2) & 07777);
			x->mtime = next_mtime(in);
			x->size = (size_t)next_n(in, 2);
			/* Mostly small; now and then up to 64 KiB. */
			if (!(x->size & 0x8000))
				x->size &= 0xfff;
			x->seed = in->pos;
			break;
		}
		if (!ok || (op == 1 && depth == MAX_DEPTH))
			continue;
		switch (op) {
		case 1:
			if (mkdirat(t->nodes[cur].fd, x->name, 0700) < 0 ||
			    (x->fd = openat(t->nodes[cur].fd, x->name,
					    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				fail("cannot make a directory", strerror(errno));
			last = cur = (int)t->n;
			depth++;
			break;
		case 3:
			if (symlinkat(x->target, t->nodes[cur].fd, x->name) < 0)
				fail("cannot make a symlink", strerror(errno));
			break;
		case 4:
			if (mkfifoat(t->nodes[cur].fd, x->name, 0600) < 0)
				fail("cannot make a fifo", strerror(errno));
			break;
		default:
			make_file(t, x);
			last = (int)t->n;
			break;
		}
		t->n++;
	}

	/* Modes, then times, children before parents: nothing changes a
	 * parent's time after it is set. */
	for (size_t i = t->n; i-- > 0;) {
		struct node *x = &t->nodes[i];

		if (S_ISLNK(x->mode))
			r = 0;
		else if (x->fd >= 0)
			r = fchmod(x->fd, x->mode & 07777);
		else
			r = fchmodat(t->nodes[x->parent].fd, x->name, x->mode & 07777, 0);
		if (r < 0)
			fail("cannot set a mode", strerror(errno));
		set_mtime(t->nodes, x);
	}
}

static void destroy(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (S_ISDIR(t->nodes[i].mode) && fchmod(t->nodes[i].fd, 0700) < 0)
			fail("cannot make a directory writable", strerror(errno));
	for (size_t i = t->n; i-- > 1;) {
		struct node *x = &t->nodes[i];

		if (x->fd >= 0)
			close(x->fd);
		if (unlinkat(t->nodes[x->parent].fd, x->name, S_ISDIR(x->mode) ? AT_REMOVEDIR : 0) < 0)
			fail("cannot clean up", strerror(errno));
	}
}

/* ---- what the archive must say ------------------------------------------------ */

static mode_t expected_mode(uint64_t f, mode_t m)
{
	if (S_ISLNK(m))
		return S_IFLNK | 0777;
	if (f & STASYNC_WITH_PERMISSIONS)
		return m;
	if (f & STASYNC_WITH_READ_ONLY)
		return (m & S_IFMT) | ((m & 0222) ? (S_ISDIR(m) ? 0777 : 0666)
						   : (S_ISDIR(m) ? 0555 : 0444));
	return (m & S_IFMT) | (S_ISDIR(m) ? 0777 : 0666);
}

static uint64_t expected_mtime(uint64_t f, uint64_t t)
{
	uint64_t g = f & STASYNC_WITH_NSEC_TIME ? 1 :
		     f & STASYNC_WITH_USEC_TIME ? 1000 :
		     f & STASYNC_WITH_SEC_TIME ? 1000000000 :
		     f & STASYNC_WITH_2SEC_TIME ? 2000000000 : 0;

	return g ? t / g * g : 0;
}

static bool archived(uint64_t f, mode_t m)
{
	return !(S_ISLNK(m) && !(f & STASYNC_WITH_SYMLINKS)) &&
	       !(S_ISFIFO(m) && !(f & STASYNC_WITH_FIFOS));
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

/* The events in archive order: entry i as i + 1, the end of directory i as
 * -(i + 1). */
static size_t expect_events(const struct tree *t, int dir, int *ev, size_t n)
{
	int kids[MAX_NODES];
	size_t k = 0;

	ev[n++] = dir + 1;
	for (size_t i = 1; i < t->n; i++)
		if (t->nodes[i].parent == dir && archived(t->flags, t->nodes[i].mode))
			kids[k++] = (int)i;
	/* Sorted by name, as strcmp() orders them. */
	for (size_t a = 1; a < k; a++)
		for (size_t b = a; b > 0 && strcmp(t->nodes[kids[b - 1]].name,
						    t->nodes[kids[b]].name) > 0; b--) {
			int s = kids[b];

			kids[b] = kids[b - 1];
			kids[b - 1] = s;
		}
	for (size_t i = 0; i < k; i++) {
		if (S_ISDIR(t->nodes[kids[i]].mode))
			n = expect_events(t, kids[i], ev, n);
		else
			ev[n++] = kids[i] + 1;
	}
	ev[n++] = -(dir + 1);
	return n;
}

static unsigned depth_of(const struct tree *t, int i)
{
	unsigned d = 0;

	while (t->nodes[i].parent >= 0) {
		i = t->nodes[i].parent;
		d++;
	}
	return d;
}

static void check_entry(const struct tree *t, stasync_catar_decoder *d, const stasync_entry *e,
			int i)
{
	const struct node *x = &t->nodes[i];
	const char *name = stasync_catar_decoder_name(d);
	uint64_t f = t->flags;
	bool ids = f & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS);
	struct xattr want[MAX_XATTRS];
	size_t n_want = 0;

	if (i == 0 ? name != NULL : (!name || strcmp(name, x->name) != 0))
		fail("wrong name", name);
	if (stasync_catar_decoder_depth(d) != depth_of(t, i))
		fail("wrong depth", name);
	if (e->feature_flags != f)
		fail("wrong feature flags", name);
	if (e->mode != expected_mode(f, x->mode))
		fail("wrong mode", name);
	if (e->uid != (ids ? geteuid() : 0) || e->gid != (ids ? getegid() : 0))
		fail("wrong owner", name);
	if (e->mtime != expected_mtime(f, x->mtime))
		fail("wrong mtime", name);
	if (e->flags || e->user || e->group || e->n_acl_user || e->n_acl_group || e->selinux ||
	    e->fcaps || e->quota_projid || e->rdev_major || e->rdev_minor)
		fail("metadata that was not asked for", name);
	if (S_ISLNK(x->mode) ? !e->symlink || strcmp(e->symlink, x->target) != 0 : e->symlink != NULL)
		fail("wrong symlink", name);
	if (e->size != (S_ISREG(x->mode) ? x->size : 0))
		fail("wrong size", name);

	if ((f & STASYNC_WITH_XATTRS) && (S_ISREG(x->mode) || S_ISDIR(x->mode))) {
		memcpy(want, x->xattrs, x->n_xattrs * sizeof(*want));
		n_want = x->n_xattrs;
		qsort(want, n_want, sizeof(*want), cmp_xattr);
	}
	if (e->n_xattrs != n_want)
		fail("wrong number of xattrs", name);
	for (size_t k = 0; k < n_want; k++)
		if (strcmp(e->xattrs[k].name, want[k].name) != 0 || e->xattrs[k].size != want[k].size ||
		    memcmp(e->xattrs[k].value, want[k].value, want[k].size) != 0)
			fail("wrong xattr", name);
}

static void check_payload(stasync_catar_decoder *d, const struct node *x)
{
	uint8_t *want = malloc(x->size + 1), *got = malloc(x->size + 1);
	stasync_error err = { 0, "" };
	size_t done = 0;

	if (!want || !got)
		abort();
	payload(want, x->size, x->seed);
	for (;;) {
		/* Odd pieces, so reads cross record boundaries unevenly. */
		ssize_t k = stasync_catar_decoder_read_payload(d, got + done,
							       x->size + 1 - done < 777 ? x->size + 1 - done : 777,
							       &err);

		if (k < 0)
			fail("payload read failed", err.message);
		if (k == 0)
			break;
		done += (size_t)k;
		if (done > x->size)
			fail("payload too long", x->name);
	}
	if (done != x->size || memcmp(got, want, x->size) != 0)
		fail("wrong payload", x->name);
	free(want);
	free(got);
}

/* ---- encoding and decoding ------------------------------------------------- */

struct mem {
	uint8_t *p;
	size_t n, cap, pos;
};

static int mem_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct mem *m = ctx;

	(void)err;
	if (m->n + n > m->cap) {
		size_t cap = (m->n + n) * 2;
		uint8_t *q = realloc(m->p, cap);

		if (!q)
			abort();
		m->p = q;
		m->cap = cap;
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

static ssize_t mem_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct mem *m = ctx;
	size_t k = m->n - m->pos < n ? m->n - m->pos : n;

	(void)err;
	memcpy(p, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

/* The tree's root: a new temporary directory, removed at the end of the
 * run (left behind only by a failing one), so nothing outlives the
 * process. */
static void make_root(char *path, size_t n)
{
	const char *t = getenv("TMPDIR");

	/* Prefer memory: each run makes and removes a few files. */
	if (!t || !*t)
		t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(path, n, "%s/fuzz-roundtrip.XXXXXX", t);
	if (!mkdtemp(path))
		fail("cannot make a temporary directory", strerror(errno));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tree t;
	static int ev[2 * MAX_NODES + 2];
	struct input in = { data, size, 0 };
	struct mem m = { 0 };
	stasync_encode_options o = { 0 };
	stasync_error err = { 0, "" };
	stasync_catar_decoder *d = NULL;
	const stasync_entry *e;
	size_t n_ev, at = 0;
	char path[4200];
	int root, r;

	make_root(path, sizeof(path));
	root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		fail("cannot open the tree's root", strerror(errno));
	build(&t, root, &in);

	o.feature_flags = t.flags;
	r = stasync_catar_encode(root, path, &o, mem_write, &m, &err);
	if (r < 0)
		fail("encoding failed", err.message);

	n_ev = expect_events(&t, 0, ev, 0);
	r = stasync_catar_decoder_new(mem_read, &m, "round trip", &d, &err);
	if (r < 0)
		fail("decoder_new failed", err.message);
	while ((r = stasync_catar_decoder_next(d, &e, &err)) > 0) {
		if (at == n_ev)
			fail("more events than entries", stasync_catar_decoder_path(d));
		if (r == STASYNC_CATAR_ENTRY) {
			if (ev[at] <= 0)
				fail("an entry where a directory ends", stasync_catar_decoder_path(d));
			check_entry(&t, d, e, ev[at] - 1);
			if (S_ISREG(e->mode))
				check_payload(d, &t.nodes[ev[at] - 1]);
		} else if (r != STASYNC_CATAR_DIR_END || ev[at] >= 0) {
			fail("a directory ends early", stasync_catar_decoder_path(d));
		}
		at++;
	}
	if (r < 0)
		fail("decoding failed", err.message);
	if (at != n_ev || m.pos != m.n)
		fail("the archive ended early", NULL);
	stasync_catar_decoder_free(d);
	free(m.p);

	destroy(&t);
	close(root);
	if (rmdir(path) < 0)
		fail("cannot remove the tree's root", strerror(errno));
	return 0;
}
