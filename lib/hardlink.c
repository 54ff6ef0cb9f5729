/* --hardlink: after a tree is extracted, each regular file that a seed
 * directory holds at the same path, identical in bytes and in every bit of
 * metadata, is replaced by a hard link to the seed's file. The link shares
 * the inode, so anything that differs (mode, owner, times, xattrs, ACLs,
 * chattr flags) rules it out. Directories keep their times: a rename
 * inside one would change it. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <stasync/extract.h>
#include "linux.h"
#include "util.h"

#define DEPTH_MAX 256
#define COMPARE_BUF ((size_t)1 << 16)

struct linker {
	const int *seeds;
	size_t n_seeds;
	stasync_hardlink_stats *st;
	uint8_t *a, *b;
	const char *target;
	stasync_error *err;
};

static bool same_stat(const struct stat *x, const struct stat *y)
{
	return x->st_mode == y->st_mode && x->st_uid == y->st_uid && x->st_gid == y->st_gid &&
	       x->st_size == y->st_size && x->st_mtim.tv_sec == y->st_mtim.tv_sec &&
	       x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/* the names and values of fd's xattrs, sorted by the kernel's order; NULL
 * and 0 when it has none (or the file system keeps none) */
static ssize_t xattrs_of(int fd, char **ret)
{
	ssize_t n = flistxattr(fd, NULL, 0);

	*ret = NULL;
	if (n <= 0)
		return n < 0 && errno != ENOTSUP ? -errno : 0;
	*ret = malloc((size_t)n);
	if (!*ret)
		return -ENOMEM;
	return flistxattr(fd, *ret, (size_t)n);
}

static bool same_xattrs(int x, int y)
{
	_cleanup_free_ char *lx = NULL, *ly = NULL;
	ssize_t nx = xattrs_of(x, &lx), ny = xattrs_of(y, &ly);

	if (nx < 0 || ny < 0 || nx != ny || (nx && memcmp(lx, ly, (size_t)nx) != 0))
		return false;
	for (char *p = lx; p && p < lx + nx; p += strlen(p) + 1) {
		uint8_t vx[4096], vy[4096];
		ssize_t kx = fgetxattr(x, p, vx, sizeof(vx)), ky = fgetxattr(y, p, vy, sizeof(vy));

		/* a value too large to compare here counts as different */
		if (kx < 0 || kx != ky || memcmp(vx, vy, (size_t)kx) != 0)
			return false;
	}
	return true;
}

static bool same_flags(int x, int y)
{
	int fx = 0, fy = 0;
	bool ox = ioctl(x, STA_FS_IOC_GETFLAGS, &fx) == 0, oy = ioctl(y, STA_FS_IOC_GETFLAGS, &fy) == 0;

	return ox == oy && fx == fy;
}

static bool same_bytes(struct linker *l, int x, int y, off_t size)
{
	for (off_t off = 0; off < size;) {
		size_t k = (size_t)MIN((off_t)COMPARE_BUF, size - off);

		if (pread(x, l->a, k, off) != (ssize_t)k || pread(y, l->b, k, off) != (ssize_t)k ||
		    memcmp(l->a, l->b, k) != 0)
			return false;
		off += (off_t)k;
	}
	return true;
}

/* Replace dir/name by a link to the first seed file identical to it. */
static void link_file(struct linker *l, int dir_fd, const char *name, const int *seed_dirs,
		      const struct stat *st)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < l->n_seeds; i++) {
		_cleanup_close_ int sfd = -EBADF;
		struct stat sst;
		char tmp[40];

		if (seed_dirs[i] < 0)
			continue;
		sfd = openat(seed_dirs[i], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (sfd < 0 || fstat(sfd, &sst) < 0 || !S_ISREG(sst.st_mode) ||
		    (sst.st_dev == st->st_dev && sst.st_ino == st->st_ino))
			continue;
		if (sst.st_dev != st->st_dev || !same_stat(st, &sst) || !same_flags(fd, sfd) ||
		    !same_xattrs(fd, sfd) || !same_bytes(l, fd, sfd, st->st_size))
			continue;
		/* link under a temporary name, then over the file */
		snprintf(tmp, sizeof(tmp), ".#stasync-%016" PRIx64, sta_random_u64());
		if (linkat(seed_dirs[i], name, dir_fd, tmp, 0) < 0)
			continue;
		if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
			(void)unlinkat(dir_fd, tmp, 0);
			continue;
		}
		l->st->files++;
		l->st->bytes += (uint64_t)st->st_size;
		return;
	}
}

static int walk(struct linker *l, int dir_fd, const int *seed_dirs, unsigned depth)
{
	_cleanup_free_ int *sub = calloc(l->n_seeds, sizeof(int));
	struct stat dst;
	DIR *d;
	struct dirent *de;
	int fd;

	if (!sub)
		return sta_error(l->err, -ENOMEM, "out of memory");
	if (fstat(dir_fd, &dst) < 0 || (fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_nlink == 1)
			link_file(l, dir_fd, de->d_name, seed_dirs, &st);
		else if (S_ISDIR(st.st_mode) && depth < DEPTH_MAX) {
			int child = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int r;

			if (child < 0)
				continue;
			for (size_t i = 0; i < l->n_seeds; i++)
				sub[i] = seed_dirs[i] < 0 ? -1
					 : openat(seed_dirs[i], de->d_name,
						  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = walk(l, child, sub, depth + 1);
			for (size_t i = 0; i < l->n_seeds; i++)
				if (sub[i] >= 0)
					close(sub[i]);
			close(child);
			if (r < 0) {
				closedir(d);
				return r;
			}
		}
	}
	closedir(d);
	/* put back the times a rename inside changed */
	(void)futimens(dir_fd, (struct timespec[2]){ dst.st_atim, dst.st_mtim });
	return 0;
}

int stasync_hardlink_seeds(int target_fd, const char *target, const int *seed_fds, size_t n_seeds,
			   stasync_hardlink_stats *st, stasync_error *err)
{
	struct linker l = { seed_fds, n_seeds, st, NULL, NULL, target, err };
	int r;

	memset(st, 0, sizeof(*st));
	l.a = malloc(COMPARE_BUF);
	l.b = malloc(COMPARE_BUF);
	r = l.a && l.b ? walk(&l, target_fd, seed_fds, 0) : sta_error(err, -ENOMEM, "out of memory");
	free(l.a);
	free(l.b);
	return r;
}
