/* A chunk store in a local directory: <4 hex>/<64 hex>.cacnk. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "format.h"
#include "store.h"
#include "sync-ahead.h"
#include "util.h"

struct local_store {
	struct stasync_store base;
	int dirfd;
	/* One bit per <4 hex> directory known to exist: saves a mkdir per
	 * chunk written. */
	uint8_t dir_made[65536 / 8];
	/* dir_made also holds every directory there was when make began:
	 * one without its bit holds no chunk (or one another writer has
	 * stored since, which put() finds). */
	bool dirs_listed;
	bool no_tmpfile;  /* O_TMPFILE or linking it failed once */
	bool dirty;       /* chunks written since the last flush */
	struct sta_sync_ahead ahead;
	bool ahead_on;    /* make: chunks are flushed before the index */
};

/* "abcd/abcd…ef.cacnk" (with_suffix) or "abcd/abcd…ef". */
static void chunk_path(const stasync_chunk_id *id, bool with_suffix, char out[80])
{
	char hex[STASYNC_DIGEST_HEX_SIZE];

	stasync_chunk_id_format(id, hex);
	snprintf(out, 80, "%.4s/%s%s", hex, hex, with_suffix ? CA_CHUNK_SUFFIX : "");
}

static int local_fetch(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		       size_t limit, size_t *size, bool *compressed, stasync_error *err)
{
	struct local_store *l = (struct local_store *)s;
	_cleanup_close_ int fd = -EBADF;
	char path[80];
	struct stat st;
	ssize_t k;
	int r;

	*compressed = true;
	chunk_path(id, true, path);
	if (l->dirfd < 0)
		return sta_error(err, -ENOENT, "%s/%s: missing (the store does not exist)",
				 s->locator, path);
	fd = openat(l->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		/* casync also reads chunks stored uncompressed, without suffix. */
		*compressed = false;
		chunk_path(id, false, path);
		fd = openat(l->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0) {
		r = -errno;
		chunk_path(id, true, path);
		if (r == -ENOENT)
			return sta_error(err, r, "%s/%s: missing", s->locator, path);
		return sta_error(err, r, "%s/%s: %s", s->locator, path, stasync_strerror(r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return sta_error(err, -EBADMSG, "%s/%s: not a regular file", s->locator, path);
	if ((uint64_t)st.st_size > limit)
		return sta_error(err, -EBADMSG, "%s/%s: %" PRIu64 " bytes, too large for its chunk",
				 s->locator, path, (uint64_t)st.st_size);
	r = sta_codec_reserve(c, (size_t)st.st_size + 1);
	if (r < 0)
		return sta_error(err, r, "%s/%s: out of memory", s->locator, path);
	/* Read one byte more than stat said, to notice a file still growing,
	 * and stop once the size is in: the read that brought it came back
	 * short, which from a regular file is its end, and another read to
	 * be told so would cost a system call a chunk. */
	k = sta_read_least(fd, c->buf, (size_t)st.st_size + 1, (size_t)st.st_size);
	if (k < 0)
		return sta_error(err, (int)k, "%s/%s: %s", s->locator, path, stasync_strerror((int)k));
	if ((size_t)k != (size_t)st.st_size)
		return sta_error(err, -EBADMSG, "%s/%s: changed while being read", s->locator, path);
	*size = (size_t)k;
	return 0;
}

/* The <4 hex> directory of a chunk, as a number. */
static unsigned dir_of(const stasync_chunk_id *id)
{
	return (unsigned)id->bytes[0] << 8 | id->bytes[1];
}

static bool dir_known(struct local_store *l, unsigned prefix)
{
	return __atomic_load_n(&l->dir_made[prefix / 8], __ATOMIC_RELAXED) & (1u << (prefix % 8));
}

static void dir_mark(struct local_store *l, unsigned prefix)
{
	__atomic_fetch_or(&l->dir_made[prefix / 8], (uint8_t)(1u << (prefix % 8)), __ATOMIC_RELAXED);
}

static int local_has(stasync_store *s, const stasync_chunk_id *id, stasync_error *err)
{
	struct local_store *l = (struct local_store *)s;
	char path[80];

	if (l->dirfd < 0)
		return 0;
	/* Looking up a directory that is not there waits on the store
	 * directory's lock, which another worker's mkdir holds: 0.47 s of
	 * the two workers' time for a 1 GiB blob into a new store. */
	if (l->dirs_listed && !dir_known(l, dir_of(id)))
		return 0;
	chunk_path(id, true, path);
	if (faccessat(l->dirfd, path, F_OK, 0) == 0)
		return 1;
	if (errno != ENOENT)
		return sta_error(err, -errno, "%s/%s: %s", s->locator, path, stasync_strerror(-errno));
	chunk_path(id, false, path);
	return faccessat(l->dirfd, path, F_OK, 0) == 0;
}

/* A chunk is under its final name: a flush has work to do, and make's
 * store starts writing it back early. */
static void stored(struct local_store *l, size_t n)
{
	__atomic_store_n(&l->dirty, true, __ATOMIC_RELAXED);
	if (__atomic_load_n(&l->ahead_on, __ATOMIC_RELAXED))
		sta_sync_ahead_add(&l->ahead, n);
}

/* A temporary name beside the chunk's final one ("abcd/.<64 hex>.<16 hex>.tmp"). */
static void tmp_name(const char *path, char tmp[120])
{
	snprintf(tmp, 120, "%.4s/.%s.%016" PRIx64 ".tmp", path, path + 5, sta_random_u64());
}

static int local_put(stasync_store *s, const stasync_chunk_id *id, const void *data, size_t n,
		     stasync_error *err)
{
	struct local_store *l = (struct local_store *)s;
	unsigned prefix = dir_of(id);
	char path[80], tmp[120], dir[5];
	int fd, r;

	chunk_path(id, true, path);
	memcpy(dir, path, 4);
	dir[4] = 0;
	if (!dir_known(l, prefix)) {
		if (mkdirat(l->dirfd, dir, 0755) < 0 && errno != EEXIST)
			return sta_error(err, -errno, "%s/%s: cannot create directory: %s",
					 s->locator, dir, stasync_strerror(-errno));
		dir_mark(l, prefix);
	}

	/* An unnamed file linked under the final name once complete: a
	 * reader never sees a partial chunk, and a killed writer leaves no
	 * temporary file behind. */
	if (!__atomic_load_n(&l->no_tmpfile, __ATOMIC_RELAXED)) {
		fd = sta_tmpfile_at(l->dirfd, dir, 0444);
		r = fd < 0 ? fd : sta_write_full(fd, data, n);
		if (r == 0)
			r = sta_tmpfile_link(fd, l->dirfd, path);
		/* There already: a cache replaces a chunk found corrupt; for
		 * make, another worker stored the same chunk (it counts once). */
		bool existed = r == -EEXIST;
		for (int tries = 0; r == -EEXIST && tries < 16; tries++) {
			tmp_name(path, tmp);
			r = sta_tmpfile_link(fd, l->dirfd, tmp);
			if (r == 0 && renameat(l->dirfd, tmp, l->dirfd, path) < 0) {
				r = -errno;
				unlinkat(l->dirfd, tmp, 0);
			}
		}
		if (fd >= 0)
			close(fd);
		if (r == 0) {
			stored(l, n);
			return !existed;
		}
		if (r == -ENOSPC || r == -EDQUOT || r == -EIO || r == -EROFS)
			return sta_error(err, r, "%s/%s: cannot write: %s", s->locator, path,
					 stasync_strerror(r));
		/* no O_TMPFILE here (old kernel, file system without it, no
		 * /proc): a temporary name, then rename */
		__atomic_store_n(&l->no_tmpfile, true, __ATOMIC_RELAXED);
	}
	for (int tries = 0; tries < 16; tries++) {
		tmp_name(path, tmp);
		fd = openat(l->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0444);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return sta_error(err, -errno, "%s/%s: cannot create: %s", s->locator, tmp,
				 stasync_strerror(-errno));
	r = sta_write_full(fd, data, n);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(l->dirfd, tmp, l->dirfd, path) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(l->dirfd, tmp, 0);
		return sta_error(err, r, "%s/%s: cannot write: %s", s->locator, path,
				 stasync_strerror(r));
	}
	stored(l, n);
	return 1;
}

/* Chunks reach the disk before the index naming them is written: one
 * syncfs() for all of them, not one device flush per chunk. */
static int local_flush(stasync_store *s, stasync_error *err)
{
	struct local_store *l = (struct local_store *)s;
	int r;

	if (l->dirfd < 0 || !__atomic_exchange_n(&l->dirty, false, __ATOMIC_RELAXED))
		return 0;
	r = sta_syncfs(l->dirfd);
	if (r < 0)
		return sta_error(err, r, "store %s: cannot write: %s", s->locator,
				 stasync_strerror(r));
	return 0;
}

/* The value of a directory name of four lower-case hex digits, or -1. */
static int prefix_of(const char *name)
{
	if (strlen(name) != 4 || !sta_is_hex(name, 4))
		return -1;
	return (int)strtol(name, NULL, 16);
}

/* Marks the <4 hex> directories there are (one read of the store's
 * directory, a few milliseconds for all 65536); on any failure has()
 * looks each up as before. */
static void list_dirs(struct local_store *l)
{
	struct dirent *e;
	DIR *d;
	int fd;

	fd = openat(l->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e)
			break;
		int p = prefix_of(e->d_name);

		if (p >= 0)
			dir_mark(l, (unsigned)p);
	}
	l->dirs_listed = errno == 0;
	closedir(d);
}

/* Only for make: a cache is never flushed, and its writing back early
 * would only slow an extract (syncfs() takes the whole file system). */
static void local_expect_flush(stasync_store *s)
{
	struct local_store *l = (struct local_store *)s;

	if (l->dirfd >= 0 && !l->dirs_listed)
		list_dirs(l);
	__atomic_store_n(&l->ahead_on, true, __ATOMIC_RELAXED);
}

static void local_free(stasync_store *s)
{
	struct local_store *l = (struct local_store *)s;

	sta_sync_ahead_done(&l->ahead);
	if (l->dirfd >= 0)
		close(l->dirfd);
}

static const struct sta_store_ops local_ops = {
	.kind = "local",
	.fetch = local_fetch,
	.has = local_has,
	.put = local_put,
	.flush = local_flush,
	.expect_flush = local_expect_flush,
	.free = local_free,
};

int sta_store_local_open(const char *path, unsigned flags, stasync_store **ret,
			 stasync_error *err)
{
	struct local_store *l;
	int r;

	if (flags & STASYNC_STORE_WRITABLE) {
		r = sta_mkdir_p(path);
		if (r < 0)
			return sta_error(err, r, "cannot create store %s: %s", path, stasync_strerror(r));
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return sta_error(err, -ENOMEM, "out of memory");
	l->base.ops = &local_ops;
	l->base.flags = flags;
	l->base.locator = strdup(path);
	l->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sta_sync_ahead_init(&l->ahead, l->dirfd);
	/* casync makes no store for an empty blob, so a store that does not
	 * exist reads as empty: each chunk asked of it is missing. */
	if (!l->base.locator ||
	    (l->dirfd < 0 && !(errno == ENOENT && !(flags & STASYNC_STORE_WRITABLE)))) {
		r = l->base.locator ? -errno : -ENOMEM;
		stasync_store_free(&l->base);
		return sta_error(err, r, "cannot open store %s: %s", path, stasync_strerror(r));
	}
	*ret = &l->base;
	return 0;
}
