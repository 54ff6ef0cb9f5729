/* Extraction of a decoded catar archive into a directory.
 *
 * Safety rules, followed everywhere below:
 * - Every file system call is relative to a directory fd we hold
 *   (*at() calls) and never follows a symlink (O_NOFOLLOW,
 *   AT_SYMLINK_NOFOLLOW, or an O_PATH fd whose type was checked).
 * - Names are single components: no '/', not "." or "..".
 * - Files, symlinks and special files are made under a short temporary
 *   name (".#stasync-" + 16 hex digits) in their final directory and
 *   renamed over the final name once complete, so an existing file is
 *   never written into, and a hard link or symlink in the target cannot
 *   redirect a write.
 * - Something in the way is replaced, not followed: a symlink or file
 *   where the archive has a directory is unlinked, a directory where the
 *   archive has a file is removed recursively (again with *at() calls).
 *
 * Directory fds. The stack of directories being extracted can be tens of
 * thousands deep, deeper than RLIMIT_NOFILE allows fds (we raise no
 * limits). We keep the fds of the top FD_WINDOW directories open, plus
 * "anchors" at every multiple of a spacing (FD_ANCHOR at first, doubled
 * whenever there would be more than FD_ANCHORS_MAX anchors); the others
 * are closed, and re-opened on the way back up by walking down from the
 * nearest open ancestor, one openat(O_NOFOLLOW|O_DIRECTORY) per level,
 * checking that each directory is still the one we made (device and
 * inode). So we hold at most 1 + FD_ANCHORS_MAX + FD_WINDOW directory
 * fds (plus RM_DEPTH_MAX while removing a tree and one file), and a
 * re-walk costs at most spacing + FD_WINDOW opens per FD_WINDOW levels
 * climbed. Nothing ever walks up with "..": a directory moved away while
 * we work could lead outside the target.
 *
 * Directory metadata (owner, mode, ACLs, xattrs, times, chattr flags) is
 * applied when the directory ends (DIR_END), after its contents: adding
 * entries changes a directory's mtime, and a read-only or immutable
 * directory could not take them. For every node the order is: owner
 * (it clears setuid bits and file capabilities), mode, ACLs (they set
 * the group bits from the mask), xattrs, file capabilities, SELinux
 * label, mtime, rename into place, and last the chattr flags (immutable
 * and append-only would forbid everything before). The flags that only
 * take effect on empty files (nocow, compression, noatime, projinherit)
 * and the quota project id are set right after creation. Like casync we
 * set the mtime and leave the atime alone (it is the time of extraction).
 * Symlinks, fifos, sockets and device nodes get their xattrs, ACLs and
 * labels through /proc/self/fd/N of an O_PATH fd (the magic link leads to
 * exactly that inode and is not followed further), their owner with
 * fchownat(AT_EMPTY_PATH) and their mtime with utimensat(NOFOLLOW).
 *
 * What the archive carries but the target cannot take (xattrs on a file
 * system without them, chattr flags, capabilities, ...) is an error that
 * names the path and the --without= that skips it, never a silent gap;
 * what the archive does not carry for an entry is removed where it could
 * linger (ACLs inherited from a default ACL, stale xattrs on a directory
 * that was already there). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <stasync/extract.h>
#include "acl-xattr.h"
#include "fsflags.h"
#include "job-pool.h"
#include "linux.h"
#include "util.h"

/* btrfs subvolume creation and flags (not in linux.h yet) */
struct sta_btrfs_vol_args {
	int64_t fd;
	char name[4087 + 1];
};
#define STA_BTRFS_IOC_SUBVOL_CREATE _IOW(0x94, 14, struct sta_btrfs_vol_args)
#define STA_BTRFS_IOC_SUBVOL_SETFLAGS _IOW(0x94, 26, uint64_t)

#define PAYLOAD_BUF_SIZE (256u * 1024u)
#define FD_WINDOW 32u                   /* open fds at the top of the stack */
#define FD_ANCHOR 256u                  /* first spacing of the anchors */
#define FD_ANCHORS_MAX 32u
#define RM_DEPTH_MAX 16u                /* open fds while removing a tree */
#define TMP_PREFIX ".#stasync-"
#define PATH_SHOWN_MAX 300u             /* path characters in a message */
/* Files written by worker threads (see extract_file): at most this big
 * each (larger ones the decoding thread writes itself, as it streams),
 * at most JOB_SLOTS handed over and not yet written, and at most
 * DEFERRED_MAX ended directories waiting for their files. */
#define JOB_FILE_MAX (1024u * 1024u)
#define JOB_SLOTS 16u
#define JOB_WORKERS_MAX 4u
#define DEFERRED_MAX 64u

#define WITH_UIDS (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS | STASYNC_WITH_USER_NAMES)
#define WITH_TIME                                                                                 \
	(STASYNC_WITH_SEC_TIME | STASYNC_WITH_USEC_TIME | STASYNC_WITH_NSEC_TIME |                \
	 STASYNC_WITH_2SEC_TIME)

/* POSIX ACL xattr format: a 4-byte version header (2), then 8-byte
 * entries {le16 tag, le16 perm, le32 id}, sorted by tag, then by id. */

/* ---- chattr and FAT flags -------------------------------------------------- */
/* Flags that only work, or work best, on a still empty file. */
#define EARLY_FS_FLAGS (STA_FS_NOATIME_FL | STA_FS_COMPR_FL | STA_FS_NOCOW_FL | STA_FS_NOCOMP_FL | STA_FS_PROJINHERIT_FL)


/* ---- state ----------------------------------------------------------------- */
struct dir_frame {
	char *name;         /* in the parent; NULL for the target */
	int fd;             /* -EBADF while closed to save fds */
	bool own_fd;        /* false for the caller's target_fd */
	dev_t dev;
	ino_t ino;
	char *path;         /* inside the archive, for messages */
	stasync_entry meta; /* applied at DIR_END */
	char **names;       /* children the archive lists (delete_extra) */
	size_t n_names, cap_names;
	bool names_sorted;
	bool fresh;         /* made by this run: nothing was in it before */
	/* whether it has a default ACL, which its new children inherit:
	 * looked up once (it is set only when the directory ends) */
	enum { DACL_UNKNOWN, DACL_NONE, DACL_SOME } default_acl;
};

#define ID_CACHE_SIZE 16u

struct id_cache {
	char *name;
	uint32_t id;
	bool found;
};

struct extractor {
	stasync_catar_decoder *d;
	const stasync_extract_options *o;
	stasync_error *err;
	const char *target;
	int target_fd;
	uint64_t eff;        /* archive features & restore_mask */
	mode_t umask;
	bool umask_known;
	bool fat_fs;         /* the target is FAT (or FUSE): FAT attributes */
	char *subtree;       /* normalized, "" for all */
	size_t subtree_len;
	unsigned base_depth; /* decoder depth of the subtree root */
	size_t anchor_spacing;
	bool started, finished;
	struct dir_frame *frames;
	size_t n_frames, cap_frames;
	uint8_t *buf;
	/* name lookups, per kind (user, group), replaced round robin */
	struct id_cache ids[2][ID_CACHE_SIZE];
	unsigned ids_next[2];
	/* the temporary file being made, removed on error */
	int tmp_dir_fd;
	char tmp_name[32];
	bool no_tmpfile;     /* O_TMPFILE, or linking one, failed here once */
	stasync_extract_stats st;
	/* the worker threads writing files, each with a context of its own
	 * (its frames: just the file's directory), and the directories that
	 * ended before their files were written: finished in order, each
	 * once every job handed in before its end is done */
	struct sta_job_pool *pool;
	bool no_pool;
	struct extractor *workers;
	stasync_error *worker_errs;
	unsigned n_workers;
	struct deferred_dir *deferred;
	size_t deferred_start, n_deferred;
};

/* A regular file for a worker: its contents read from the archive. */
struct file_job {
	struct dir_frame parent; /* fd (not owned), fresh, default_acl */
	stasync_entry e;
	char *name, *path;
	uint8_t *data;
};

struct deferred_dir {
	struct dir_frame f;
	uint64_t after; /* jobs numbered below it must be done first */
};

/* One node whose metadata is being applied. */
struct node {
	int fd;           /* real fd (regular file, directory) or O_PATH fd */
	bool opath;
	int dir_fd;       /* parent, -EBADF for the target */
	const char *name; /* in dir_fd (a temporary name before install) */
	mode_t type;      /* S_IFMT bits */
	const char *path; /* inside the archive */
	/* owner and mode both need it: one fstat serves both, unless the
	 * chown in between may have changed the mode bits */
	struct stat st;
	bool have_st;
};

/* ---- messages ---------------------------------------------------------------- */
static const char *disp(const char *path)
{
	return path && *path ? path : ".";
}

/* path_tail() — the end of a deep path, which is what a message shows:
 * all of it would crowd the reason out. *dots is "..." when cut. */
static const char *path_tail(const char *path, const char **dots)
{
	size_t l = strlen(path);

	*dots = "";
	if (l <= PATH_SHOWN_MAX)
		return path;
	path += l - PATH_SHOWN_MAX;
	if (strchr(path, '/'))
		path = strchr(path, '/');
	*dots = "...";
	return path;
}

/* fail() — "PATH: what: reason[; hint]"; returns r. */
static int fail(struct extractor *x, int r, const char *path, const char *hint, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static int fail(struct extractor *x, int r, const char *path, const char *hint, const char *fmt, ...)
{
	char what[512];
	/* stasync_strerror() says EOPNOTSUPP is about this build: here it is
	 * about the target file system */
	const char *reason = r == -EOPNOTSUPP ? "operation not supported" : stasync_strerror(r);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	const char *dots;
	path = path_tail(disp(path), &dots);
	if (hint)
		return sta_error(x->err, r, "%s%s: %s: %s; %s", dots, path, what, reason, hint);
	return sta_error(x->err, r, "%s%s: %s: %s", dots, path, what, reason);
}

/* EPERM where something in the way may be immutable or append-only */
static const char *hint_immutable(const struct extractor *x, int r)
{
	return r == -EPERM && !x->o->undo_immutable
		       ? "if something there is immutable or append-only, pass --undo-immutable"
		       : NULL;
}

/* why remove_tree() failed, where it is not obvious */
static const char *hint_remove(const struct extractor *x, int r)
{
	return r == -EXDEV ? "it is, or holds, a mount point, which is never emptied"
			   : hint_immutable(x, r);
}

static const char *hint_privileged(int r)
{
	return r == -EPERM ? "not running as root? pass --without=privileged to skip what needs root"
			   : NULL;
}

/* ---- names ------------------------------------------------------------------- */
static bool name_ok(const char *n)
{
	return n && n[0] && !strchr(n, '/') && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
	       strlen(n) <= NAME_MAX;
}

static void tmp_name_new(char buf[static 32])
{
	snprintf(buf, 32, TMP_PREFIX "%016" PRIx64, sta_random_u64());
}

static void tmp_forget(struct extractor *x)
{
	x->tmp_dir_fd = -EBADF;
	x->tmp_name[0] = 0;
}

static void tmp_remove(struct extractor *x)
{
	if (x->tmp_dir_fd >= 0 && x->tmp_name[0])
		(void)unlinkat(x->tmp_dir_fd, x->tmp_name, 0);
	tmp_forget(x);
}

/* ---- chattr helpers ---------------------------------------------------------- */
static int get_fs_flags(int fd, unsigned *ret)
{
	int v = 0;

	if (ioctl(fd, STA_FS_IOC_GETFLAGS, &v) < 0)
		return -errno;
	*ret = (unsigned)v;
	return 0;
}

static int set_fs_flags(int fd, unsigned fl)
{
	int v = (int)fl;

	return ioctl(fd, STA_FS_IOC_SETFLAGS, &v) < 0 ? -errno : 0;
}

/* clear_immutable_fd() — drop +i and +a. 1 if something changed, 0 if
 * there was nothing to do (or no flags here at all), else -errno. */
static int clear_immutable_fd(int fd)
{
	unsigned fl = 0;
	int r = get_fs_flags(fd, &fl);

	if (r < 0)
		return sta_errno_unsupported(r) ? 0 : r;
	if (!(fl & (STA_FS_IMMUTABLE_FL | STA_FS_APPEND_FL)))
		return 0;
	r = set_fs_flags(fd, fl & ~(unsigned)(STA_FS_IMMUTABLE_FL | STA_FS_APPEND_FL));
	return r < 0 ? r : 1;
}

/* clear_immutable_at() — the same for the entry `name` in dir_fd; only
 * regular files and directories carry these flags (opening anything else
 * could have side effects). */
static int clear_immutable_at(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return clear_immutable_fd(fd);
}

/* ---- removing what is in the way ---------------------------------------------- */
/* unlink_at() — unlink a non-directory (dir=false) or an empty directory,
 * dropping +i/+a first when allowed and needed. */
static int unlink_at(struct extractor *x, int dir_fd, const char *name, bool dir)
{
	int flags = dir ? AT_REMOVEDIR : 0;

	if (unlinkat(dir_fd, name, flags) == 0) {
		x->st.removed++;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	if (errno != EPERM || !x->o->undo_immutable)
		return -errno;
	int r = clear_immutable_at(dir_fd, name);
	if (r <= 0)
		return r < 0 ? r : -EPERM;
	if (unlinkat(dir_fd, name, flags) < 0)
		return -errno;
	x->st.removed++;
	return 0;
}

/* counted_in_place() — an entry removed to make way for the archive's
 * one of the same name was replaced, not removed. */
static void counted_in_place(struct extractor *x)
{
	x->st.removed--;
	x->st.replaced++;
}

struct rm_level {
	DIR *dir;
	char *name; /* in the level below */
};

static int rm_push(struct extractor *x, struct rm_level *lv, int parent_fd, const char *name,
		   dev_t dev)
{
	struct stat st;
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* never into another file system: a mount point is not ours to empty */
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		int r = errno;
		r = fstat(fd, &st) < 0 ? -r : -EXDEV;
		close(fd);
		return r;
	}
	/* entries of a +i or +a directory cannot be removed */
	if (x->o->undo_immutable) {
		int r = clear_immutable_fd(fd);
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	lv->name = strdup(name);
	lv->dir = lv->name ? fdopendir(fd) : NULL;
	if (!lv->dir) {
		int r = lv->name ? -errno : -ENOMEM;
		free(lv->name);
		lv->name = NULL;
		close(fd);
		return r;
	}
	return 0;
}

/* remove_tree() — remove `name` in dir_fd, recursively if it is a
 * directory, without following symlinks, without crossing into other file
 * systems (-EXDEV) and without recursion: at most RM_DEPTH_MAX directories
 * are open; a directory found deeper is moved up into the top directory of
 * the removal and handled from there. */
static int remove_tree(struct extractor *x, int dir_fd, const char *name)
{
	struct rm_level lv[RM_DEPTH_MAX];
	size_t n = 0;
	bool moved = false;
	struct stat st;
	int r = 0;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink_at(x, dir_fd, name, false);
	dev_t dev = st.st_dev;
	if (fstat(dir_fd, &st) < 0)
		return -errno;
	if (st.st_dev != dev)
		return -EXDEV;

	r = rm_push(x, &lv[0], dir_fd, name, dev);
	if (r < 0)
		return r;
	n = 1;
	while (n > 0) {
		struct rm_level *top = &lv[n - 1];
		int top_fd = dirfd(top->dir);
		struct dirent *de;

		errno = 0;
		de = readdir(top->dir);
		if (!de) {
			if (errno) {
				r = -errno;
				break;
			}
			if (n == 1 && moved) {
				/* directories were moved up here: read again */
				moved = false;
				rewinddir(top->dir);
				continue;
			}
			int parent_fd = n > 1 ? dirfd(lv[n - 2].dir) : dir_fd;
			char *nm = top->name;
			closedir(top->dir);
			n--;
			r = unlink_at(x, parent_fd, nm, true);
			free(nm);
			if (r < 0)
				break;
			continue;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(top_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				r = -errno;
				break;
			}
			is_dir = S_ISDIR(st.st_mode);
		}
		if (!is_dir) {
			r = unlink_at(x, top_fd, de->d_name, false);
			if (r < 0)
				break;
			continue;
		}
		if (n < RM_DEPTH_MAX) {
			r = rm_push(x, &lv[n], top_fd, de->d_name, dev);
			if (r < 0)
				break;
			n++;
			continue;
		}
		/* a random name; should it exist, it is in the tree being
		 * removed too (renameat only replaces an empty directory) */
		for (int tries = 0;; tries++) {
			char tmp[32];
			tmp_name_new(tmp);
			if (renameat(top_fd, de->d_name, dirfd(lv[0].dir), tmp) == 0)
				break;
			if (errno == EPERM && x->o->undo_immutable && tries < 16 &&
			    clear_immutable_at(top_fd, de->d_name) > 0)
				continue;
			if ((errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR) || tries >= 16) {
				r = -errno;
				break;
			}
		}
		if (r < 0)
			break;
		moved = true;
	}
	while (n > 0) {
		closedir(lv[n - 1].dir);
		free(lv[n - 1].name);
		n--;
	}
	return r;
}

/* ---- the worker threads' errors ------------------------------------------------- */
/* pool_error() — r, the error that stopped the pool, with the message of
 * the worker whose file failed. */
static int pool_error(struct extractor *x, int r)
{
	int w = sta_job_pool_failed_worker(x->pool);

	if (w >= 0 && x->err)
		*x->err = x->worker_errs[w];
	return r;
}

/* pool_wait_all() — every file handed to a worker is written. */
static int pool_wait_all(struct extractor *x)
{
	int r = x->pool ? sta_job_pool_wait(x->pool, sta_job_pool_submitted(x->pool)) : 0;

	return r < 0 ? pool_error(x, r) : 0;
}

/* ---- directory fds ------------------------------------------------------------ */
static bool frame_keep_open(const struct extractor *x, size_t k, size_t top)
{
	return k == 0 || k + FD_WINDOW > top || k % x->anchor_spacing == 0;
}

static void frame_close(struct dir_frame *f)
{
	if (f->own_fd && f->fd >= 0)
		close(f->fd);
	if (f->own_fd)
		f->fd = -EBADF;
}

/* frame_retire() — close frame k to keep the fd budget, once no worker
 * is writing into it any more. */
static int frame_retire(struct extractor *x, size_t k)
{
	struct dir_frame *f = &x->frames[k];

	if (f->own_fd && f->fd >= 0) {
		int r = pool_wait_all(x);
		if (r < 0)
			return r;
	}
	frame_close(f);
	return 0;
}

/* frame_fd() — the fd of directory frame i, re-opened by walking down from
 * the nearest open ancestor if it was closed. */
static int frame_fd(struct extractor *x, size_t i)
{
	size_t j = i;

	if (x->frames[i].fd >= 0)
		return x->frames[i].fd;
	while (j > 0 && x->frames[j].fd < 0)
		j--;
	for (size_t k = j + 1; k <= i; k++) {
		struct dir_frame *f = &x->frames[k];
		struct stat st;
		int fd = openat(x->frames[k - 1].fd, f->name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return fail(x, -errno, f->path, NULL, "cannot re-open directory");
		if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
			close(fd);
			return fail(x, -ESTALE, f->path, NULL,
				    "directory was replaced while extracting");
		}
		f->fd = fd;
		if (k - 1 > j && !frame_keep_open(x, k - 1, i))
			frame_close(&x->frames[k - 1]);
	}
	return x->frames[i].fd;
}

static void frame_free(struct dir_frame *f)
{
	frame_close(f);
	free(f->name);
	free(f->path);
	stasync_entry_clear(&f->meta);
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	free(f->names);
	memset(f, 0, sizeof(*f));
	f->fd = -EBADF;
}

/* ---- copying an entry's metadata (for directories) ----------------------------- */
static int dup_acl(stasync_acl_item **dst, size_t *dst_n, const stasync_acl_item *src, size_t n)
{
	*dst = NULL;
	*dst_n = 0;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -ENOMEM;
	*dst_n = n;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = src[i];
		(*dst)[i].name = NULL;
		if (src[i].name && !((*dst)[i].name = strdup(src[i].name)))
			return -ENOMEM;
	}
	return 0;
}

static int entry_copy(stasync_entry *d, const stasync_entry *s)
{
	int r;

	*d = *s;
	d->user = d->group = d->selinux = d->symlink = NULL;
	d->xattrs = NULL;
	d->n_xattrs = 0;
	d->acl_user = d->acl_group = d->acl_default_user = d->acl_default_group = NULL;
	d->n_acl_user = d->n_acl_group = d->n_acl_default_user = d->n_acl_default_group = 0;
	d->fcaps = NULL;
	d->fcaps_size = 0;
	if ((s->user && !(d->user = strdup(s->user))) ||
	    (s->group && !(d->group = strdup(s->group))) ||
	    (s->selinux && !(d->selinux = strdup(s->selinux))))
		return -ENOMEM;
	if (s->n_xattrs) {
		d->xattrs = calloc(s->n_xattrs, sizeof(*d->xattrs));
		if (!d->xattrs)
			return -ENOMEM;
		d->n_xattrs = s->n_xattrs;
		for (size_t i = 0; i < s->n_xattrs; i++) {
			d->xattrs[i].name = strdup(s->xattrs[i].name);
			d->xattrs[i].value = malloc(s->xattrs[i].size ? s->xattrs[i].size : 1);
			if (!d->xattrs[i].name || !d->xattrs[i].value)
				return -ENOMEM;
			if (s->xattrs[i].size)
				memcpy(d->xattrs[i].value, s->xattrs[i].value, s->xattrs[i].size);
			d->xattrs[i].size = s->xattrs[i].size;
		}
	}
	if (s->fcaps && s->fcaps_size) {
		if (!(d->fcaps = malloc(s->fcaps_size)))
			return -ENOMEM;
		memcpy(d->fcaps, s->fcaps, s->fcaps_size);
		d->fcaps_size = s->fcaps_size;
	}
	if ((r = dup_acl(&d->acl_user, &d->n_acl_user, s->acl_user, s->n_acl_user)) < 0 ||
	    (r = dup_acl(&d->acl_group, &d->n_acl_group, s->acl_group, s->n_acl_group)) < 0 ||
	    (r = dup_acl(&d->acl_default_user, &d->n_acl_default_user, s->acl_default_user,
			 s->n_acl_default_user)) < 0 ||
	    (r = dup_acl(&d->acl_default_group, &d->n_acl_default_group, s->acl_default_group,
			 s->n_acl_default_group)) < 0)
		return r;
	return 0;
}

/* ---- owners ------------------------------------------------------------------- */
static int map_id(struct extractor *x, uint64_t id, const char *what, const char *path,
		  uint32_t *ret)
{
	uint64_t v;

	/* casync's mapping: the id modulo the range, then shifted. */
	if (x->o->uid_range)
		id %= x->o->uid_range;
	v = id + (uint64_t)x->o->uid_shift;
	if (id >= UINT32_MAX || v >= UINT32_MAX)
		return fail(x, -ERANGE, path, NULL, "%s %" PRIu64 " (shifted by %u) is not valid",
			    what, id, (unsigned)x->o->uid_shift);
	*ret = (uint32_t)v;
	return 0;
}

/* lookup_name() — 1 and the local id of a user (group=false) or group
 * name, 0 if there is none here, or -errno. */
static int lookup_name(struct extractor *x, const char *name, bool group, uint32_t *ret)
{
	struct id_cache *c;
	size_t size = 1024;
	int r;

	for (unsigned i = 0; i < ID_CACHE_SIZE; i++) {
		c = &x->ids[group][i];
		if (c->name && strcmp(c->name, name) == 0) {
			*ret = c->id;
			return c->found;
		}
	}
	c = &x->ids[group][x->ids_next[group]++ % ID_CACHE_SIZE];
	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;

		if (!buf)
			return -ENOMEM;
		if (group)
			r = getgrnam_r(name, &gr, buf, size, &grp);
		else
			r = getpwnam_r(name, &pw, buf, size, &pwp);
		if (r == ERANGE && size < 1024 * 1024) {
			size *= 2;
			continue;
		}
		free(c->name);
		c->name = strdup(name);
		if (!c->name)
			return -ENOMEM;
		c->found = r == 0 && (group ? grp != NULL : pwp != NULL);
		c->id = !c->found ? 0 : group ? (uint32_t)gr.gr_gid : (uint32_t)pw.pw_uid;
		*ret = c->id;
		return c->found;
	}
}

/* resolve_id() — the local uid/gid for an archive id and optional name:
 * by name when the archive has user names and the name exists here, else
 * the id shifted. */
static int resolve_id(struct extractor *x, uint64_t id, const char *name, bool group,
		      const char *path, uint32_t *ret)
{
	/* with a shift or range the ids are mapped for a container: a name
	 * looked up here would give this system's id, not a mapped one */
	if (name && (x->eff & STASYNC_WITH_USER_NAMES) && !x->o->uid_shift && !x->o->uid_range) {
		int r = lookup_name(x, name, group, ret);
		if (r < 0)
			return fail(x, r, path, NULL, "cannot look up %s %s", group ? "group" : "user",
				    name);
		if (r > 0)
			return 0;
	}
	return map_id(x, id, group ? "gid" : "uid", path, ret);
}

/* ---- xattr access for a node ---------------------------------------------------- */
static void proc_path(char buf[static 64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

static int node_setxattr(const struct node *n, const char *name, const void *v, size_t size)
{
	char p[64];

	if (!n->opath)
		return fsetxattr(n->fd, name, v, size, 0) < 0 ? -errno : 0;
	/* the magic link leads to exactly the inode we opened; it is not
	 * followed further, even for a symlink */
	proc_path(p, n->fd);
	return setxattr(p, name, v, size, 0) < 0 ? -errno : 0;
}

static int node_removexattr(const struct node *n, const char *name)
{
	char p[64];
	int r;

	if (!n->opath)
		r = fremovexattr(n->fd, name);
	else {
		proc_path(p, n->fd);
		r = removexattr(p, name);
	}
	if (r < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
		return 0;
	return r < 0 ? -errno : 0;
}

static const char *hint_proc(const struct node *n, int r)
{
	return n->opath && r == -ENOENT ? "is /proc mounted?" : NULL;
}

/* ---- ACLs ---------------------------------------------------------------------- */
struct acl_map {
	struct extractor *x;
	const char *path;
};

static int acl_map_id(void *ctx, const stasync_acl_item *item, bool group, uint32_t *ret)
{
	struct acl_map *m = ctx;

	return resolve_id(m->x, item->id, item->name, group, m->path, ret);
}

/* acl_encode() — the xattr value for the access (def=false) or default
 * ACL of e, names and ids mapped as for owners; *ret_size 0 when the entry
 * has none beyond its mode. */
static int acl_encode(struct extractor *x, const stasync_entry *e, bool def, const char *path,
		      uint8_t **ret, size_t *ret_size)
{
	struct acl_map m = { x, path };
	struct sta_acl_dup dup;
	int r;

	r = sta_acl_xattr(e, def, acl_map_id, &m, ret, ret_size, &dup);
	if (r == -ENOTUNIQ)
		return fail(x, -EBADMSG, path, NULL,
			    "the %s ACL names %s %" PRIu32 " twice (after mapping)",
			    def ? "default" : "access", dup.group ? "gid" : "uid", dup.id);
	return r;
}

/* frame_default_acl() — whether directory f (open as fd) has a default
 * ACL, looked up once. */
static int frame_default_acl(struct dir_frame *f, int fd)
{
	if (f->default_acl == DACL_UNKNOWN)
		f->default_acl = fgetxattr(fd, STA_ACL_XATTR_DEFAULT, NULL, 0) < 0 &&
					 (errno == ENODATA || errno == EOPNOTSUPP)
				 ? DACL_NONE
				 : DACL_SOME;
	return f->default_acl;
}

static int apply_acl(struct extractor *x, const struct node *n, const stasync_entry *e, bool def)
{
	_cleanup_free_ uint8_t *v = NULL;
	const char *xname = def ? STA_ACL_XATTR_DEFAULT : STA_ACL_XATTR_ACCESS;
	size_t size;
	int r;

	r = acl_encode(x, e, def, n->path, &v, &size);
	if (r < 0)
		return r == -ENOMEM ? fail(x, r, n->path, NULL, "cannot set ACL") : r;
	if (size == 0) {
		/* A node just made (all but directories, which may have been
		 * there) inherits only its directory's default ACL: where
		 * there is none, there is nothing to remove (and no need for
		 * /proc, which an empty root may lack). */
		if (n->type != S_IFDIR && !def && x->n_frames > 0 &&
		    frame_default_acl(&x->frames[x->n_frames - 1],
				      n->dir_fd >= 0 ? n->dir_fd : x->target_fd) == DACL_NONE)
			return 0;
		r = node_removexattr(n, xname);
		if (r < 0)
			return fail(x, r, n->path, hint_proc(n, r), "cannot remove %s ACL",
				    def ? "default" : "access");
		return 0;
	}
	r = node_setxattr(n, xname, v, size);
	if (r == -EOPNOTSUPP)
		return fail(x, r, n->path,
			    "the target file system does not support ACLs; pass --without=acl to skip them",
			    "cannot set %s ACL", def ? "default" : "access");
	if (r < 0)
		return fail(x, r, n->path, hint_proc(n, r), "cannot set %s ACL",
			    def ? "default" : "access");
	return 0;
}

/* ---- xattrs -------------------------------------------------------------------- */
static bool xattr_name_restorable(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0;
}

/* remove_extra_xattrs() — on a directory that existed before: drop the
 * user.* and trusted.* attributes the archive does not list. */
static int remove_extra_xattrs(struct extractor *x, const struct node *n, const stasync_entry *e)
{
	_cleanup_free_ char *list = NULL;
	ssize_t len;
	size_t size = 1024;

	for (;;) {
		free(list);
		list = malloc(size);
		if (!list)
			return fail(x, -ENOMEM, n->path, NULL, "cannot list extended attributes");
		len = flistxattr(n->fd, list, size);
		if (len >= 0)
			break;
		if (errno == EOPNOTSUPP)
			return 0;
		if (errno != ERANGE || size >= 16 * 1024 * 1024)
			return fail(x, -errno, n->path, NULL, "cannot list extended attributes");
		size *= 4;
	}
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		bool listed = false;

		if (!xattr_name_restorable(p))
			continue;
		for (size_t i = 0; i < e->n_xattrs && !listed; i++)
			listed = strcmp(e->xattrs[i].name, p) == 0;
		if (!listed && fremovexattr(n->fd, p) < 0 && errno != ENODATA)
			return fail(x, -errno, n->path, NULL,
				    "cannot remove extended attribute %s", p);
	}
	return 0;
}

static int apply_xattrs(struct extractor *x, const struct node *n, const stasync_entry *e,
			bool existed)
{
	int r;

	if (existed && n->type == S_IFDIR) {
		r = remove_extra_xattrs(x, n, e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const stasync_xattr *a = &e->xattrs[i];

		if (!xattr_name_restorable(a->name))
			return fail(x, -EBADMSG, n->path, NULL,
				    "extended attribute %s is not one an archive may carry",
				    a->name);
		r = node_setxattr(n, a->name, a->value, a->size);
		if (r == -EOPNOTSUPP)
			return fail(x, r, n->path,
				    "the target file system does not support extended attributes; "
				    "pass --without=xattrs to skip them",
				    "cannot set extended attribute %s", a->name);
		if (r < 0)
			return fail(x, r, n->path,
				    r == -EPERM ? "pass --without=xattrs to skip extended attributes"
						: hint_proc(n, r),
				    "cannot set extended attribute %s", a->name);
	}
	return 0;
}

/* ---- early properties (right after creation) ------------------------------------ */
/* What a file's chattr flags were last read or set to: a regular file's
 * flags stay as set right after creation until its late flags, so they
 * are read once, not twice. */
struct fs_flags_known {
	bool known;
	int r;          /* of reading them */
	unsigned v;
};

static int apply_chattr(struct extractor *x, int fd, const stasync_entry *e, unsigned only,
			const char *path, struct fs_flags_known *k)
{
	unsigned mask = sta_features_to_chattr(x->eff) & only;
	unsigned value = sta_features_to_chattr(e->flags) & mask;
	unsigned old = 0, nw;
	int r;

	if (mask == 0)
		return 0;
	if (k && k->known) {
		r = k->r;
		old = k->v;
	} else {
		r = get_fs_flags(fd, &old);
		if (k)
			*k = (struct fs_flags_known){ .known = true, .r = r, .v = old };
	}
	if (r < 0) {
		if (sta_errno_unsupported(r) && value == 0)
			return 0;
		old = 0;
	} else {
		nw = (old & ~mask) | value;
		if (nw == old)
			return 0;
		r = set_fs_flags(fd, nw);
		if (k)
			k->known = false;
		if (r == 0)
			return 0;
	}
	char names[512];
	stasync_feature_flags_format(sta_chattr_to_features(value ? value : mask), names, sizeof(names));
	if (sta_errno_unsupported(r))
		return fail(x, -EOPNOTSUPP, path,
			    "the target file system does not support (some of) these file attributes; "
			    "pass --without=chattr (or the single flags) to skip them",
			    "cannot set file attributes %s", names);
	return fail(x, r, path,
		    r == -EPERM ? "setting immutable or append-only needs root; "
				  "pass --without=flag-immutable,flag-append to skip them"
				: NULL,
		    "cannot set file attributes %s", names);
}

static int apply_projid(struct extractor *x, int fd, const stasync_entry *e, const char *path)
{
	struct sta_fsxattr fa;
	int r;

	if (!(x->eff & STASYNC_WITH_QUOTA_PROJID))
		return 0;
	if (ioctl(fd, STA_FS_IOC_FSGETXATTR, &fa) < 0) {
		r = -errno;
		if (e->quota_projid == 0 && sta_errno_unsupported(r))
			return 0;
		goto error;
	}
	if (fa.fsx_projid == e->quota_projid)
		return 0;
	if (e->quota_projid > UINT32_MAX) {
		errno = ERANGE;
		goto error;
	}
	fa.fsx_projid = (uint32_t)e->quota_projid;
	if (ioctl(fd, STA_FS_IOC_FSSETXATTR, &fa) == 0)
		return 0;
error:
	r = -errno;
	return fail(x, sta_errno_unsupported(r) ? -EOPNOTSUPP : r, path,
		    sta_errno_unsupported(r) ? "the target file system does not support quota project "
					   "ids; pass --without=quota-projid to skip them"
					 : NULL,
		    "cannot set quota project id %" PRIu64, e->quota_projid);
}

static int apply_early(struct extractor *x, int fd, const stasync_entry *e, const char *path,
		       struct fs_flags_known *k)
{
	int r = apply_chattr(x, fd, e, EARLY_FS_FLAGS, path, k);

	return r < 0 ? r : apply_projid(x, fd, e, path);
}

/* ---- metadata, in order --------------------------------------------------------- */
static mode_t umask_get(struct extractor *x)
{
	if (!x->umask_known) {
		x->umask = umask(0);
		umask(x->umask);
		x->umask_known = true;
	}
	return x->umask;
}

static mode_t wanted_mode(struct extractor *x, const stasync_entry *e)
{
	if (x->eff & (STASYNC_WITH_PERMISSIONS | STASYNC_WITH_ACL))
		return (mode_t)(e->mode & 07777);
	/* only rwx for everybody (0777/0666, or 0555/0444 with read-only):
	 * the process umask narrows them, as for any new file */
	return (mode_t)(e->mode & 0777) & ~umask_get(x);
}

static int node_stat(struct extractor *x, struct node *n)
{
	if (n->have_st)
		return 0;
	if (fstat(n->fd, &n->st) < 0)
		return fail(x, -errno, n->path, NULL, "cannot stat");
	n->have_st = true;
	return 0;
}

static int apply_owner(struct extractor *x, struct node *n, const stasync_entry *e)
{
	uint32_t uid, gid;
	int r;

	if (!(x->eff & WITH_UIDS))
		return 0;
	r = resolve_id(x, e->uid, e->user, false, n->path, &uid);
	if (r < 0)
		return r;
	r = resolve_id(x, e->gid, e->group, true, n->path, &gid);
	if (r < 0)
		return r;
	if ((r = node_stat(x, n)) < 0)
		return r;
	if (n->st.st_uid == uid && n->st.st_gid == gid)
		return 0;
	/* a chown clears setuid and setgid bits: stat again for the mode */
	n->have_st = false;
	if (n->opath)
		r = fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	else
		r = fchown(n->fd, uid, gid);
	if (r < 0)
		return fail(x, -errno, n->path, hint_privileged(-errno),
			    "cannot set owner to %" PRIu32 ":%" PRIu32, uid, gid);
	return 0;
}

static int apply_mode(struct extractor *x, struct node *n, const stasync_entry *e)
{
	mode_t m = wanted_mode(x, e);
	char p[64];
	int r;

	if (n->type == S_IFLNK)
		return 0;
	if ((r = node_stat(x, n)) < 0)
		return r;
	if ((n->st.st_mode & 07777) == m)
		return 0;
	if (n->opath) {
		proc_path(p, n->fd);
		r = chmod(p, m);
	} else
		r = fchmod(n->fd, m);
	if (r < 0)
		return fail(x, -errno, n->path, hint_proc(n, -errno), "cannot set mode %04o",
			    (unsigned)m);
	return 0;
}

static int apply_fcaps(struct extractor *x, const struct node *n, const stasync_entry *e)
{
	int r;

	if (!(x->eff & STASYNC_WITH_FCAPS) || n->type != S_IFREG || !e->fcaps)
		return 0;
	r = node_setxattr(n, "security.capability", e->fcaps, e->fcaps_size);
	if (r == 0)
		return 0;
	return fail(x, r, n->path,
		    r == -EOPNOTSUPP ? "the target file system does not support file capabilities; "
				       "pass --without=fcaps to skip them"
				     : hint_privileged(r),
		    "cannot set file capabilities");
}

static int apply_selinux(struct extractor *x, const struct node *n, const stasync_entry *e)
{
	int r;

	/* No label in the archive: keep whatever the policy gave the new file. */
	if (!(x->eff & STASYNC_WITH_SELINUX) || !e->selinux)
		return 0;
	r = node_setxattr(n, "security.selinux", e->selinux, strlen(e->selinux) + 1);
	if (r == 0)
		return 0;
	return fail(x, r, n->path,
		    r == -EOPNOTSUPP ? "the target file system does not support SELinux labels; "
				       "pass --without=selinux to skip them"
				     : hint_proc(n, r),
		    "cannot set SELinux label %s", e->selinux);
}

static int apply_mtime(struct extractor *x, const struct node *n, const stasync_entry *e)
{
	/* like casync: the mtime from the archive, atime left alone */
	struct timespec ts[2] = {
		{ .tv_sec = 0, .tv_nsec = UTIME_OMIT },
		{ .tv_sec = (time_t)(e->mtime / 1000000000u), .tv_nsec = (long)(e->mtime % 1000000000u) },
	};
	int r;

	if (!(x->eff & WITH_TIME))
		return 0;
	if (n->opath)
		r = utimensat(n->dir_fd, n->name, ts, AT_SYMLINK_NOFOLLOW);
	else
		r = futimens(n->fd, ts);
	if (r < 0)
		return fail(x, -errno, n->path, NULL, "cannot set modification time");
	return 0;
}

/* apply_meta() — everything up to (not including) the rename and the
 * chattr flags. `existed`: a directory that was there before. */
static int apply_meta(struct extractor *x, struct node *n, const stasync_entry *e,
		      bool existed)
{
	int r;

	if ((r = apply_owner(x, n, e)) < 0)
		return r;
	if ((r = apply_mode(x, n, e)) < 0)
		return r;
	if ((x->eff & STASYNC_WITH_ACL) && n->type != S_IFLNK) {
		if ((r = apply_acl(x, n, e, false)) < 0)
			return r;
		if (n->type == S_IFDIR && (r = apply_acl(x, n, e, true)) < 0)
			return r;
	}
	if ((x->eff & STASYNC_WITH_XATTRS) && (r = apply_xattrs(x, n, e, existed)) < 0)
		return r;
	if ((r = apply_fcaps(x, n, e)) < 0)
		return r;
	if ((r = apply_selinux(x, n, e)) < 0)
		return r;
	return apply_mtime(x, n, e);
}

/* apply_late() — flags that must come after everything else. */
static int apply_late(struct extractor *x, int fd, const stasync_entry *e, const char *path,
		      struct fs_flags_known *k)
{
	uint32_t mask = sta_features_to_fat(x->eff), value = sta_features_to_fat(e->flags) & mask;
	int r;

	r = apply_chattr(x, fd, e, ~0u, path, k);
	if (r < 0)
		return r;
	/* only FAT has these; elsewhere only asking for one is an error */
	if (mask && (value || x->fat_fs)) {
		uint32_t old;
		if (ioctl(fd, STA_FAT_IOCTL_GET_ATTRIBUTES, &old) < 0) {
			r = -errno;
			if (sta_errno_unsupported(r) && value == 0)
				return 0;
		} else {
			uint32_t nw = (old & ~mask) | value;
			if (nw == old || ioctl(fd, STA_FAT_IOCTL_SET_ATTRIBUTES, &nw) == 0)
				return 0;
			r = -errno;
		}
		return fail(x, sta_errno_unsupported(r) ? -EOPNOTSUPP : r, path,
			    sta_errno_unsupported(r) ? "the target file system does not support FAT "
						   "attributes; pass --without=fat-attrs to skip them"
						 : NULL,
			    "cannot set FAT attributes");
	}
	return 0;
}

/* ---- putting a finished node in place --------------------------------------------- */
/* install() — rename the temporary name over `name` in dir_fd; a
 * directory in the way is removed first, +i/+a on a file in the way are
 * dropped when allowed. */
static int install(struct extractor *x, int dir_fd, const char *tmp, const char *name,
		   const char *path)
{
	struct stat st;
	int r;

	/* for the counts: in a directory this run made, the name is new
	 * without looking */
	if (x->frames[x->n_frames - 1].fresh ||
	    fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		x->st.created++;
	else
		x->st.replaced++;
	/* the rename alone in the usual case: a directory in the way makes
	 * it fail (EISDIR), and only then is the name looked at */
	if (renameat(dir_fd, tmp, dir_fd, name) == 0)
		return 0;
	r = -errno;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		r = remove_tree(x, dir_fd, name);
		if (r < 0)
			return fail(x, r, path, hint_remove(x, r),
				    "cannot remove the directory in the way");
		x->st.removed--;   /* it was replaced, counted above */
		if (renameat(dir_fd, tmp, dir_fd, name) == 0)
			return 0;
		r = -errno;
	}
	if (r == -EPERM && x->o->undo_immutable) {
		r = clear_immutable_at(dir_fd, name);
		if (r > 0)
			r = renameat(dir_fd, tmp, dir_fd, name) < 0 ? -errno : 0;
		else if (r == 0)
			r = -EPERM;
		if (r == 0)
			return 0;
	}
	return fail(x, r, path, hint_immutable(x, r), "cannot rename into place");
}

/* ---- the payload ------------------------------------------------------------------ */
/* payload_fill() — up to `cap` bytes of the entry's contents into buf;
 * *got < cap: they ended. */
static int payload_fill(struct extractor *x, uint8_t *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (*got < cap) {
		ssize_t k = stasync_catar_decoder_read_payload(x->d, buf + *got, cap - *got, x->err);
		if (k < 0)
			return (int)k;
		if (k == 0)
			break;
		*got += (size_t)k;
	}
	return 0;
}

static int payload_size_wrong(struct extractor *x, uint64_t size, const stasync_entry *e,
			      const char *path)
{
	return fail(x, -EBADMSG, path, NULL, "payload has %" PRIu64 " bytes, the entry says %" PRIu64,
		    size, e->size);
}

/* payload_read_all() — all of a file's contents, for a worker. */
static int payload_read_all(struct extractor *x, const stasync_entry *e, const char *path,
			    uint8_t **ret)
{
	uint8_t *data = malloc(e->size ? e->size : 1);
	uint64_t total;
	size_t got;
	int r;

	if (!data)
		return fail(x, -ENOMEM, path, NULL, "cannot extract");
	r = payload_fill(x, data, e->size, &got);
	total = got;
	/* what follows the declared size is counted for the message */
	while (r == 0 && got == e->size) {
		size_t more;
		r = payload_fill(x, x->buf, PAYLOAD_BUF_SIZE, &more);
		total += more;
		if (more < PAYLOAD_BUF_SIZE)
			break;
	}
	if (r == 0 && total != e->size)
		r = payload_size_wrong(x, total, e, path);
	if (r < 0) {
		free(data);
		return r;
	}
	*ret = data;
	return 0;
}

static int write_block(struct extractor *x, int fd, const uint8_t *buf, size_t n, uint64_t off,
		       bool *hole_at_end, const char *path)
{
	int r = x->o->punch_holes ? sta_pwrite_holes(fd, buf, n, off, hole_at_end)
				  : sta_pwrite_full(fd, buf, n, off);

	return r < 0 ? fail(x, r, path, NULL, "cannot write") : 0;
}

/* write_payload() — a file's contents: `data` (e->size bytes) when
 * given, else streamed from the archive. */
static int write_payload(struct extractor *x, int fd, const stasync_entry *e, const uint8_t *data,
			 const char *path)
{
	uint64_t off = 0;
	bool hole_at_end = false;
	int r;

	if (data) {
		if ((r = write_block(x, fd, data, e->size, 0, &hole_at_end, path)) < 0)
			return r;
		off = e->size;
	} else {
		for (;;) {
			size_t fill;
			if ((r = payload_fill(x, x->buf, PAYLOAD_BUF_SIZE, &fill)) < 0 ||
			    (r = write_block(x, fd, x->buf, fill, off, &hole_at_end, path)) < 0)
				return r;
			off += fill;
			if (fill < PAYLOAD_BUF_SIZE)
				break;
		}
		if (off != e->size)
			return payload_size_wrong(x, off, e, path);
	}
	if (hole_at_end && ftruncate(fd, (off_t)off) < 0)
		return fail(x, -errno, path, NULL, "cannot set size");
	return 0;
}

/* ---- nodes -------------------------------------------------------------------------- */
static int top_dir_fd(struct extractor *x)
{
	return frame_fd(x, x->n_frames - 1);
}

/* Errors that say this system cannot make or link an unnamed file (old
 * kernel or file system without O_TMPFILE, no /proc): the file is then
 * made under a temporary name instead. */
static bool tmpfile_unsupported(int r)
{
	return r == -EISDIR || r == -EOPNOTSUPP || r == -EINVAL || r == -ENOENT || r == -EPERM ||
	       r == -EACCES || r == -ENOSYS;
}

/* link_new() — give the complete unnamed file fd its name in dir_fd: at
 * once where the name is free; where something has it, under a temporary
 * name first, renamed over it (install()). -EAGAIN when linking is not to
 * be had here. */
static int link_new(struct extractor *x, int fd, int dir_fd, const char *name, const char *path)
{
	int r = sta_tmpfile_link(fd, dir_fd, name);

	if (r == 0) {
		x->st.created++;
		return 0;
	}
	for (int tries = 0; r == -EEXIST && tries < 16; tries++) {
		tmp_name_new(x->tmp_name);
		r = sta_tmpfile_link(fd, dir_fd, x->tmp_name);
	}
	if (r == 0) {
		x->tmp_dir_fd = dir_fd;
		r = install(x, dir_fd, x->tmp_name, name, path);
		if (r < 0)
			tmp_remove(x);
		tmp_forget(x);
		return r;
	}
	if (tmpfile_unsupported(r)) {
		x->no_tmpfile = true;
		return -EAGAIN;
	}
	return fail(x, r, path, hint_immutable(x, r), "cannot create");
}

/* create_unnamed() — create_file() for contents in memory: an unnamed
 * file (O_TMPFILE), written and given its metadata, then linked under its
 * name. Into a directory where the name is free (a new tree) that is one
 * change of the directory instead of two (a create and a rename): on
 * ext4, 29 µs a file instead of 41. -EAGAIN when this system has no
 * unnamed files: nothing was made, and the caller makes a named one. */
static int create_unnamed(struct extractor *x, int dir_fd, const stasync_entry *e, const char *name,
			  const char *path, const uint8_t *data)
{
	_cleanup_close_ int fd = sta_tmpfile_at(dir_fd, ".", 0600);
	struct fs_flags_known flags = { .known = false };
	int r;

	if (fd < 0) {
		if (!tmpfile_unsupported(fd))
			return fail(x, fd, path, hint_immutable(x, fd), "cannot create");
		x->no_tmpfile = true;
		return -EAGAIN;
	}
	struct node n = { .fd = fd, .dir_fd = dir_fd, .name = name, .type = S_IFREG, .path = path };
	if ((r = apply_early(x, fd, e, path, &flags)) < 0 || (r = write_payload(x, fd, e, data, path)) < 0 ||
	    (r = apply_meta(x, &n, e, false)) < 0 || (r = link_new(x, fd, dir_fd, name, path)) < 0)
		return r;
	if ((r = apply_late(x, fd, e, path, &flags)) < 0)
		return r;
	if (close(TAKE_FD(fd)) < 0)
		return fail(x, -errno, path, NULL, "cannot write");
	return 0;
}

/* create_file() — a regular file `name` in dir_fd, its contents `data`
 * or, when NULL, read from the archive as it is written. */
static int create_file(struct extractor *x, int dir_fd, const stasync_entry *e, const char *name,
		       const char *path, const uint8_t *data)
{
	_cleanup_close_ int fd = -EBADF;
	struct fs_flags_known flags = { .known = false };
	int r;

	if (data && !x->no_tmpfile) {
		r = create_unnamed(x, dir_fd, e, name, path, data);
		if (r != -EAGAIN)
			return r;
	}
	for (int tries = 0; fd < 0; tries++) {
		tmp_name_new(x->tmp_name);
		fd = openat(dir_fd, x->tmp_name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0 && (errno != EEXIST || tries >= 16))
			return fail(x, -errno, path, hint_immutable(x, -errno), "cannot create");
	}
	x->tmp_dir_fd = dir_fd;
	struct node n = { .fd = fd, .dir_fd = dir_fd, .name = x->tmp_name, .type = S_IFREG, .path = path };
	if ((r = apply_early(x, fd, e, path, &flags)) < 0 || (r = write_payload(x, fd, e, data, path)) < 0 ||
	    (r = apply_meta(x, &n, e, false)) < 0 || (r = install(x, dir_fd, x->tmp_name, name, path)) < 0)
		goto fail;
	tmp_forget(x);
	if ((r = apply_late(x, fd, e, path, &flags)) < 0)
		return r;
	if (close(TAKE_FD(fd)) < 0)
		return fail(x, -errno, path, NULL, "cannot write");
	return 0;
fail:
	tmp_remove(x);
	return r;
}

/* ---- regular files, by worker threads ---------------------------------------------
 * Writing a small file costs a handful of system calls (create, write,
 * owner, mode, xattrs, mtime, rename), most of an extraction's time on
 * a tree of many files. So the decoding thread reads a file's contents
 * and hands the file to a worker, and goes on with the archive: the
 * files of a directory are written in parallel, and with the next
 * directories. What the workers must not race with waits for them: a
 * directory's own metadata, and the removal of what it should not hold,
 * come once every file handed in before its end is written
 * (run_deferred); a directory fd closed to keep the fd budget is closed
 * once they are all written (frame_retire). A file larger than
 * JOB_FILE_MAX is written by the decoding thread as it streams. */
static void file_job_free(struct file_job *j)
{
	stasync_entry_clear(&j->e);
	free(j->name);
	free(j->path);
	free(j->data);
	free(j);
}

static int run_file_job(void *ctx, unsigned worker, void *job, bool drop)
{
	struct extractor *x = ctx;
	struct file_job *j = job;
	int r = 0;

	if (!drop) {
		struct extractor *w = &x->workers[worker];
		/* its frames: the file's directory only */
		w->frames = &j->parent;
		w->n_frames = 1;
		r = create_file(w, j->parent.fd, &j->e, j->name, j->path, j->data);
		w->frames = NULL;
		w->n_frames = 0;
	}
	file_job_free(j);
	return r;
}

/* pool_ready() — whether files go to workers, starting them the first
 * time. Without them (one CPU, file_threads 0, no memory or threads) the
 * decoding thread writes every file itself. */
static bool pool_ready(struct extractor *x)
{
	unsigned n;
	int r;

	if (x->pool || x->no_pool)
		return x->pool != NULL;
	x->no_pool = true;
	if (x->o->file_threads < 0)
		n = sta_cpu_count(JOB_WORKERS_MAX) > 1 ? sta_cpu_count(JOB_WORKERS_MAX) : 0;
	else
		n = (unsigned)MIN(x->o->file_threads, 64);
	if (n == 0)
		return false;
	x->workers = calloc(n, sizeof(*x->workers));
	x->worker_errs = calloc(n, sizeof(*x->worker_errs));
	x->deferred = calloc(DEFERRED_MAX, sizeof(*x->deferred));
	if (!x->workers || !x->worker_errs || !x->deferred)
		goto fallback;
	for (unsigned i = 0; i < n; i++)
		x->workers[i] = (struct extractor){
			.o = x->o,
			.err = &x->worker_errs[i],
			.target = x->target,
			.target_fd = x->target_fd,
			.eff = x->eff,
			.umask = umask_get(x),
			.umask_known = true,
			.fat_fs = x->fat_fs,
			.tmp_dir_fd = -EBADF,
			.anchor_spacing = FD_ANCHOR,
			.no_pool = true,
		};
	x->n_workers = n;
	x->pool = sta_job_pool_new(n, JOB_SLOTS, run_file_job, x, &r);
	if (x->pool) {
		x->no_pool = false;
		return true;
	}
fallback:
	free(x->workers);
	free(x->worker_errs);
	free(x->deferred);
	x->workers = NULL;
	x->worker_errs = NULL;
	x->deferred = NULL;
	x->n_workers = 0;
	return false;
}

static int finish_frame(struct extractor *x, struct dir_frame *f);

/* run_deferred() — finish, in order, the ended directories whose files
 * are all written; with wait, all of them, waiting for their files. */
static int run_deferred(struct extractor *x, bool wait)
{
	int r = 0;

	while (r == 0 && x->deferred_start < x->n_deferred) {
		struct deferred_dir *d = &x->deferred[x->deferred_start];

		if (sta_job_pool_finished(x->pool) < d->after) {
			if (!wait)
				break;
			r = sta_job_pool_wait(x->pool, d->after);
			if (r < 0)
				return pool_error(x, r);
		}
		r = finish_frame(x, &d->f);
		frame_free(&d->f);
		x->deferred_start++;
	}
	if (x->deferred_start == x->n_deferred)
		x->deferred_start = x->n_deferred = 0;
	return r;
}

/* pool_settle() — every file handed to a worker written, and every
 * directory waiting for them finished. */
static int pool_settle(struct extractor *x)
{
	int r = pool_wait_all(x);

	return r < 0 ? r : run_deferred(x, true);
}

/* submit_file() — read a file's contents and hand it to a worker. */
static int submit_file(struct extractor *x, int dir_fd, const stasync_entry *e, const char *name,
		       const char *path)
{
	struct dir_frame *p = &x->frames[x->n_frames - 1];
	struct file_job *j = calloc(1, sizeof(*j));
	int64_t seq;
	int r;

	if (!j)
		return fail(x, -ENOMEM, path, NULL, "cannot extract");
	stasync_entry_init(&j->e);
	r = payload_read_all(x, e, path, &j->data);
	if (r == 0 && (entry_copy(&j->e, e) < 0 || !(j->name = strdup(name)) || !(j->path = strdup(path))))
		r = fail(x, -ENOMEM, path, NULL, "cannot extract");
	if (r < 0) {
		file_job_free(j);
		return r;
	}
	/* what a worker would look up in its directory's frame */
	if (x->eff & STASYNC_WITH_ACL)
		(void)frame_default_acl(p, dir_fd);
	j->parent.fd = dir_fd;
	j->parent.fresh = p->fresh;
	j->parent.default_acl = p->default_acl;
	seq = sta_job_pool_submit(x->pool, j);
	if (seq < 0) {
		file_job_free(j);
		return pool_error(x, (int)seq);
	}
	return run_deferred(x, false);
}

static int extract_file(struct extractor *x, const stasync_entry *e, const char *name,
			const char *path)
{
	int dir_fd = top_dir_fd(x);

	if (dir_fd < 0)
		return dir_fd;
	if (e->size <= JOB_FILE_MAX && pool_ready(x))
		return submit_file(x, dir_fd, e, name, path);
	return create_file(x, dir_fd, e, name, path, NULL);
}

static int extract_special(struct extractor *x, const stasync_entry *e, const char *name,
			   const char *path)
{
	_cleanup_close_ int fd = -EBADF;
	mode_t type = (mode_t)(e->mode & S_IFMT);
	int dir_fd = top_dir_fd(x);
	struct stat st;
	const char *what;
	int r;

	if (dir_fd < 0)
		return dir_fd;
	switch (type) {
	case S_IFLNK:
		if (!(x->eff & STASYNC_WITH_SYMLINKS))
			return 0;
		what = "symlink";
		if (!e->symlink || !e->symlink[0])
			return fail(x, -EBADMSG, path, NULL, "symlink without a target");
		break;
	case S_IFBLK:
	case S_IFCHR:
		if (!(x->eff & STASYNC_WITH_DEVICE_NODES))
			return 0;
		what = "device node";
		break;
	case S_IFIFO:
		if (!(x->eff & STASYNC_WITH_FIFOS))
			return 0;
		what = "fifo";
		break;
	case S_IFSOCK:
		if (!(x->eff & STASYNC_WITH_SOCKETS))
			return 0;
		what = "socket";
		break;
	default:
		return fail(x, -EBADMSG, path, NULL, "unknown file type %06" PRIo64, e->mode);
	}
	if ((type == S_IFBLK || type == S_IFCHR) &&
	    (e->rdev_major > UINT32_MAX || e->rdev_minor > UINT32_MAX))
		return fail(x, -EBADMSG, path, NULL, "device number out of range");
	/* made with the final mode when the umask allows: no chmod later */
	mode_t m = wanted_mode(x, e) & 0777;
	for (int tries = 0;; tries++) {
		tmp_name_new(x->tmp_name);
		if (type == S_IFLNK)
			r = symlinkat(e->symlink, dir_fd, x->tmp_name);
		else if (type == S_IFIFO)
			r = mkfifoat(dir_fd, x->tmp_name, m);
		else
			r = mknodat(dir_fd, x->tmp_name, type | m,
				    type == S_IFSOCK ? 0
						     : makedev((unsigned)e->rdev_major,
							       (unsigned)e->rdev_minor));
		if (r == 0)
			break;
		if (errno != EEXIST || tries >= 16)
			return fail(x, -errno, path,
				    errno == EPERM && (type == S_IFBLK || type == S_IFCHR)
					    ? "creating device nodes needs root; pass --without=device-nodes to skip them"
					    : hint_immutable(x, -errno),
				    "cannot create %s", what);
	}
	x->tmp_dir_fd = dir_fd;
	/* an O_PATH fd of exactly what we made: metadata goes through it */
	fd = openat(dir_fd, x->tmp_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = fail(x, -errno, path, NULL, "cannot open the new %s", what);
		goto fail;
	}
	if ((st.st_mode & S_IFMT) != type) {
		r = fail(x, -ESTALE, path, NULL, "the new %s was replaced", what);
		goto fail;
	}
	struct node n = { .fd = fd, .opath = true, .dir_fd = dir_fd, .name = x->tmp_name,
			  .type = type, .path = path, .st = st, .have_st = true };
	if ((r = apply_meta(x, &n, e, false)) < 0 || (r = install(x, dir_fd, x->tmp_name, name, path)) < 0)
		goto fail;
	tmp_forget(x);
	return 0;
fail:
	tmp_remove(x);
	return r;
}

static int is_btrfs_subvolume(int fd)
{
	struct statfs sfs;
	struct stat st;

	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
		return -errno;
	return (unsigned long)sfs.f_type == (unsigned long)STA_BTRFS_SUPER_MAGIC && st.st_ino == 256;
}

static int make_dir(struct extractor *x, int dir_fd, const char *name, bool subvol,
		    const char *path)
{
	if (subvol) {
		struct sta_btrfs_vol_args args;
		size_t l = strlen(name);
		memset(&args, 0, sizeof(args));
		if (l >= sizeof(args.name))
			return fail(x, -ENAMETOOLONG, path, NULL, "cannot create subvolume");
		memcpy(args.name, name, l);
		if (ioctl(dir_fd, STA_BTRFS_IOC_SUBVOL_CREATE, &args) == 0)
			return 0;
		int r = -errno;
		if (r == -EEXIST)
			return r;
		return fail(x, sta_errno_unsupported(r) ? -EOPNOTSUPP : r, path,
			    sta_errno_unsupported(r) ? "the target is not btrfs; pass --without=subvolume "
						   "to make plain directories"
						 : NULL,
			    "cannot create subvolume");
	}
	if (mkdirat(dir_fd, name, 0700) == 0)
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	return fail(x, -errno, path, hint_immutable(x, -errno), "cannot create directory");
}

/* frame_push() — a new top frame for an open directory; takes fd. */
static int frame_push(struct extractor *x, int fd, bool own, const char *name, const char *path,
		      const stasync_entry *e)
{
	struct dir_frame *f;
	struct stat st;

	if (x->n_frames == x->cap_frames) {
		size_t cap = x->cap_frames ? x->cap_frames * 2 : 64;
		struct dir_frame *nf = realloc(x->frames, cap * sizeof(*nf));
		if (!nf) {
			if (own)
				close(fd);
			return fail(x, -ENOMEM, path, NULL, "cannot extract");
		}
		x->frames = nf;
		x->cap_frames = cap;
	}
	f = &x->frames[x->n_frames++];
	memset(f, 0, sizeof(*f));
	stasync_entry_init(&f->meta);
	f->fd = fd;
	f->own_fd = own;
	f->names_sorted = true;
	if (fstat(fd, &st) < 0)
		return fail(x, -errno, path, NULL, "cannot stat");
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	/* only messages use f->path: its shown end is enough, and whole
	 * paths would cost memory quadratic in the depth */
	const char *dots, *tail = path_tail(path, &dots);
	if (asprintf(&f->path, "%s%s", dots, tail) < 0)
		f->path = NULL;
	if ((name && !(f->name = strdup(name))) || !f->path || entry_copy(&f->meta, e) < 0)
		return fail(x, -ENOMEM, path, NULL, "cannot extract");
	/* keep the fd budget: close the one that just left the window, and
	 * thin out the anchors when there are too many */
	size_t top = x->n_frames - 1;
	int r = 0;
	if (top % x->anchor_spacing == 0 && top / x->anchor_spacing > FD_ANCHORS_MAX) {
		x->anchor_spacing *= 2;
		for (size_t k = x->anchor_spacing / 2; r == 0 && k + FD_WINDOW <= top;
		     k += x->anchor_spacing / 2)
			if (!frame_keep_open(x, k, top))
				r = frame_retire(x, k);
	}
	if (r == 0 && top >= FD_WINDOW && !frame_keep_open(x, top - FD_WINDOW, top))
		r = frame_retire(x, top - FD_WINDOW);
	return r;
}

static int extract_dir(struct extractor *x, const stasync_entry *e, const char *name,
		       const char *path)
{
	bool subvol = (x->eff & STASYNC_WITH_SUBVOLUME) && (e->flags & STASYNC_WITH_SUBVOLUME);
	int dir_fd = top_dir_fd(x);
	int fd = -EBADF, r;
	bool made = false, in_way = false;

	if (dir_fd < 0)
		return dir_fd;
	for (int tries = 0; fd < 0; tries++) {
		if (tries >= 8)
			return fail(x, -ELOOP, path, NULL, "cannot create directory (keeps changing)");
		r = make_dir(x, dir_fd, name, subvol, path);
		if (r < 0 && r != -EEXIST)
			return r;
		made = r == 0;
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			if (r == -EEXIST) {
				/* there before: it must be able to take new entries */
				struct stat st;
				int q = x->o->undo_immutable ? clear_immutable_fd(fd) : 0;
				/* best effort; its mode is set again when it ends */
				if (q >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
					(void)fchmod(fd, (st.st_mode & 07777) | 0700);
				if (q >= 0 && subvol)
					q = is_btrfs_subvolume(fd);
				if (q < 0) {
					close(fd);
					return fail(x, q, path, NULL, "cannot prepare directory");
				}
				if (subvol && q == 0) {
					/* a plain directory where a subvolume belongs */
					close(fd);
					fd = -EBADF;
					if ((r = remove_tree(x, dir_fd, name)) < 0)
						return fail(x, r, path, hint_remove(x, r),
							    "cannot remove the directory in the way");
					in_way = true;
				}
			}
			continue;
		}
		if (errno != ENOTDIR && errno != ELOOP && errno != ENOENT)
			return fail(x, -errno, path, NULL, "cannot open directory");
		/* a file or symlink in the way: unlinked, never followed */
		r = unlink_at(x, dir_fd, name, false);
		if (r < 0)
			return fail(x, r, path, hint_immutable(x, r), "cannot remove the file in the way");
		in_way = true;
	}
	if (in_way)
		counted_in_place(x);
	else if (made)
		x->st.created++;
	r = frame_push(x, fd, true, name, path, e);
	if (r < 0)
		return r;
	x->frames[x->n_frames - 1].fresh = made;
	return apply_early(x, fd, e, path, NULL);
}

/* ---- the end of a directory ---------------------------------------------------------- */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int frame_add_name(struct extractor *x, struct dir_frame *f, const char *name,
			  const char *path)
{
	if (f->n_names == f->cap_names) {
		size_t cap = f->cap_names ? f->cap_names * 2 : 16;
		char **nv = realloc(f->names, cap * sizeof(*nv));
		if (!nv)
			return fail(x, -ENOMEM, path, NULL, "cannot extract");
		f->names = nv;
		f->cap_names = cap;
	}
	if (!(f->names[f->n_names] = strdup(name)))
		return fail(x, -ENOMEM, path, NULL, "cannot extract");
	if (f->n_names > 0 && strcmp(f->names[f->n_names - 1], name) >= 0)
		f->names_sorted = false;
	f->n_names++;
	return 0;
}

/* A temporary name of ours, left by a killed extraction. */
static bool is_tmp_name(const char *name)
{
	size_t n = strlen(TMP_PREFIX);

	return strncmp(name, TMP_PREFIX, n) == 0 && strlen(name + n) == 16 &&
	       strspn(name + n, "0123456789abcdef") == 16;
}

/* Remove what the archive does not list; with tmp_only (no --delete),
 * only the temporary files a killed run left behind. */
static int delete_extra(struct extractor *x, struct dir_frame *f, int fd, bool tmp_only)
{
	_cleanup_close_ int dfd = -EBADF;
	char **extra = NULL;
	size_t n_extra = 0, cap = 0;
	DIR *dir;
	int r = 0;

	if (!f->names_sorted)
		sta_qsort(f->names, f->n_names, sizeof(*f->names), name_cmp);
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(x, -errno, f->path, NULL, "cannot read directory");
	dir = fdopendir(dfd);
	if (!dir)
		return fail(x, -errno, f->path, NULL, "cannot read directory");
	TAKE_FD(dfd);
	for (;;) {
		struct dirent *de;
		const char *key;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (tmp_only && !is_tmp_name(de->d_name))
			continue;
		key = de->d_name;
		/* (an empty directory has no names at all, not even an array) */
		if (f->n_names && bsearch(&key, f->names, f->n_names, sizeof(*f->names), name_cmp))
			continue;
		if (n_extra == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(extra, cap * sizeof(*nv));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			extra = nv;
		}
		if (!(extra[n_extra] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n_extra++;
	}
	closedir(dir);
	if (r < 0)
		r = fail(x, r, f->path, NULL, "cannot read directory");
	for (size_t i = 0; i < n_extra; i++) {
		if (r == 0) {
			int q = remove_tree(x, fd, extra[i]);
			if (q < 0) {
				char *p = NULL;
				if (asprintf(&p, "%s%s%s", f->path, *f->path ? "/" : "", extra[i]) < 0)
					p = NULL;
				r = fail(x, q, p ? p : extra[i], hint_remove(x, q),
					 "cannot remove what the archive does not list");
				free(p);
			}
		}
		free(extra[i]);
	}
	free(extra);
	return r;
}

/* finish_frame() — the end of directory f (open): remove what it should
 * not hold, then its own metadata. */
static int finish_frame(struct extractor *x, struct dir_frame *f)
{
	int fd = f->fd, r;

	if ((r = delete_extra(x, f, fd, !x->o->delete_extra)) < 0)
		return r;
	struct node n = { .fd = fd, .dir_fd = -EBADF, .name = f->name, .type = S_IFDIR, .path = f->path };
	/* a directory we reused may carry stale xattrs; a new one has none,
	 * so listing them is harmless either way */
	if ((r = apply_meta(x, &n, &f->meta, true)) < 0 || (r = apply_late(x, fd, &f->meta, f->path, NULL)) < 0)
		return r;
	if ((x->eff & STASYNC_WITH_SUBVOLUME_RO) && (f->meta.flags & STASYNC_WITH_SUBVOLUME) &&
	    is_btrfs_subvolume(fd) > 0) {
		uint64_t bf;
		if (ioctl(fd, STA_BTRFS_IOC_SUBVOL_GETFLAGS, &bf) < 0)
			return fail(x, -errno, f->path, NULL, "cannot read subvolume flags");
		uint64_t nf = (f->meta.flags & STASYNC_WITH_SUBVOLUME_RO) ? bf | STA_BTRFS_SUBVOL_RDONLY
									  : bf & ~(uint64_t)STA_BTRFS_SUBVOL_RDONLY;
		if (nf != bf && ioctl(fd, STA_BTRFS_IOC_SUBVOL_SETFLAGS, &nf) < 0)
			return fail(x, -errno, f->path, NULL, "cannot set subvolume flags");
	}
	return 0;
}

/* finish_dir() — the top directory ended: finished now, or, while
 * workers may still write into it, set aside with its fd until they
 * are done (run_deferred). */
static int finish_dir(struct extractor *x)
{
	size_t t = x->n_frames - 1;
	struct dir_frame *f = &x->frames[t];
	int fd = frame_fd(x, t), r;

	if (fd < 0)
		return fd;
	if (x->pool) {
		if ((r = run_deferred(x, false)) < 0)
			return r;
		bool busy = x->n_deferred > 0 ||
			    sta_job_pool_finished(x->pool) < sta_job_pool_submitted(x->pool);
		if (busy && x->n_deferred < DEFERRED_MAX) {
			struct deferred_dir *d = &x->deferred[x->n_deferred++];
			d->f = *f;
			d->after = sta_job_pool_submitted(x->pool);
			memset(f, 0, sizeof(*f));
			f->fd = -EBADF;
			x->n_frames--;
			return 0;
		}
		if (busy && (r = pool_settle(x)) < 0)
			return r;
	}
	if ((r = finish_frame(x, f)) < 0)
		return r;
	frame_free(f);
	x->n_frames--;
	return 0;
}

/* ---- the main loop ------------------------------------------------------------------ */
/* subtree_normalize() — "a//b/" → "a/b"; "" for the whole archive;
 * NULL when a component is "." or "..". */
static char *subtree_normalize(const char *s)
{
	char *out = malloc(strlen(s ? s : "") + 1), *o = out;

	if (!out)
		return NULL;
	while (s && *s) {
		const char *end = strchrnul(s, '/');
		size_t l = (size_t)(end - s);
		if (l == 0 || (l == 1 && s[0] == '.')) {
			if (l == 1 && o == out && !*end) /* "." alone: all */
				break;
			if (l == 1 && *end == 0)
				break;
			s = *end ? end + 1 : end;
			continue;
		}
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			free(out);
			return NULL;
		}
		if (o != out)
			*o++ = '/';
		memcpy(o, s, l);
		o += l;
		s = *end ? end + 1 : end;
	}
	*o = 0;
	return out;
}

/* where(): 0 outside the subtree, 1 its root, 2 below it. */
static int where(const struct extractor *x, const char *path)
{
	if (x->subtree_len == 0)
		return path[0] ? 2 : 1;
	if (strncmp(path, x->subtree, x->subtree_len) != 0)
		return 0;
	if (path[x->subtree_len] == 0)
		return 1;
	return path[x->subtree_len] == '/' ? 2 : 0;
}

/* extract_single() — a subtree that is not a directory goes into the
 * target under its own name (as casync does). */
static int extract_single(struct extractor *x, const stasync_entry *e, const char *path)
{
	const char *name = stasync_catar_decoder_name(x->d);
	stasync_entry none;
	int r;

	/* the archive is at fault here, not a path in the target */
	if (x->subtree_len == 0 || !name)
		return sta_error(x->err, -ENOTDIR, "%s: holds a single file, not a directory "
				 "to extract into %s", stasync_catar_decoder_archive(x->d),
				 x->target);
	if (!name_ok(name))
		return fail(x, -EBADMSG, path, NULL, "invalid file name");
	stasync_entry_init(&none);
	x->no_pool = true; /* one file: no worker to wait for */
	r = frame_push(x, x->target_fd, false, NULL, path, &none);
	if (r >= 0)
		r = (e->mode & S_IFMT) == S_IFREG ? extract_file(x, e, name, path)
						  : extract_special(x, e, name, path);
	while (x->n_frames > 0)
		frame_free(&x->frames[--x->n_frames]);
	x->finished = true;
	return r;
}

static int on_entry(struct extractor *x, const stasync_entry *e)
{
	const char *path = stasync_catar_decoder_path(x->d);
	mode_t type = (mode_t)(e->mode & S_IFMT);
	int w = where(x, path), r;

	if (w == 0)
		return 0;
	if (w == 1) {
		x->started = true;
		x->eff = e->feature_flags;
		/* an archive with ACLs has the full mode too (casync then drops
		 * the permissions flag): --without=acl keeps it */
		if (x->eff & STASYNC_WITH_ACL)
			x->eff |= STASYNC_WITH_PERMISSIONS;
		x->eff &= x->o->restore_mask;
		x->base_depth = stasync_catar_decoder_depth(x->d);
		if (type != S_IFDIR)
			return extract_single(x, e, path);
		if (x->subtree_len) {
			/* As casync: a directory subtree lands at TARGET/<its
			 * name>; the target itself is left as it is. */
			const char *name = stasync_catar_decoder_name(x->d);
			stasync_entry none;

			if (!name || !name_ok(name))
				return fail(x, -EBADMSG, path, NULL, "invalid file name");
			stasync_entry_init(&none);
			r = frame_push(x, x->target_fd, false, NULL, path, &none);
			if (r < 0)
				return r;
			x->base_depth--;
			return extract_dir(x, e, name, path);
		}
		if (x->o->undo_immutable && (r = clear_immutable_fd(x->target_fd)) < 0)
			return fail(x, r, path, NULL, "cannot prepare %s", x->target);
		r = frame_push(x, x->target_fd, false, NULL, path, e);
		return r < 0 ? r : apply_early(x, x->target_fd, e, path, NULL);
	}
	if (!x->started || x->n_frames == 0)
		return 0; /* below a subtree root that was already done */

	const char *name = stasync_catar_decoder_name(x->d);
	unsigned depth = stasync_catar_decoder_depth(x->d);
	if (!name_ok(name))
		return fail(x, -EBADMSG, path, NULL, "invalid file name");
	if (depth <= x->base_depth || depth - x->base_depth != x->n_frames)
		return fail(x, -EBADMSG, path, NULL, "entry out of place (depth %u)", depth);
	/* without --delete, names are kept only to tell an entry from a
	 * left-over temporary file */
	if ((x->o->delete_extra || is_tmp_name(name)) &&
	    (r = frame_add_name(x, &x->frames[x->n_frames - 1], name, path)) < 0)
		return r;
	switch (type) {
	case S_IFDIR:
		return extract_dir(x, e, name, path);
	case S_IFREG:
		return extract_file(x, e, name, path);
	default:
		return extract_special(x, e, name, path);
	}
}

void stasync_extract_options_init(stasync_extract_options *o)
{
	memset(o, 0, sizeof(*o));
	o->restore_mask = UINT64_MAX;
	o->delete_extra = true;
	o->punch_holes = true;
	o->file_threads = -1;
}

int stasync_extract(stasync_catar_decoder *d, int target_fd, const char *target,
		    const stasync_extract_options *o, stasync_extract_stats *stats, stasync_error *err)
{
	stasync_extract_options defaults;
	struct extractor x = {
		.d = d,
		.err = err,
		.target = target ? target : "the target directory",
		.target_fd = target_fd,
		.tmp_dir_fd = -EBADF,
		.anchor_spacing = FD_ANCHOR,
	};
	struct stat st;
	int r = 0;

	if (!o) {
		stasync_extract_options_init(&defaults);
		o = &defaults;
	}
	x.o = o;
	if (!d || target_fd < 0)
		return sta_error(err, -EINVAL, "stasync_extract: no decoder or target");
	if (fstat(target_fd, &st) < 0)
		return sta_error(err, -errno, "%s: cannot stat: %s", x.target, stasync_strerror(-errno));
	if (!S_ISDIR(st.st_mode))
		return sta_error(err, -ENOTDIR, "%s: not a directory", x.target);
	struct statfs sfs;
	if (fstatfs(target_fd, &sfs) == 0)
		x.fat_fs = (unsigned long)sfs.f_type == (unsigned long)STA_MSDOS_SUPER_MAGIC ||
			   (unsigned long)sfs.f_type == (unsigned long)STA_FUSE_SUPER_MAGIC;
	x.subtree = subtree_normalize(o->subtree);
	if (!x.subtree)
		return sta_error(err, -EINVAL, "invalid subtree path %s: \".\" and \"..\" are not allowed",
				 o->subtree);
	x.subtree_len = strlen(x.subtree);
	x.buf = malloc(PAYLOAD_BUF_SIZE);
	if (!x.buf) {
		r = sta_error(err, -ENOMEM, "cannot extract: %s", stasync_strerror(-ENOMEM));
		goto out;
	}

	for (;;) {
		const stasync_entry *e = NULL;

		r = stasync_catar_decoder_next(d, &e, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (x.finished)
			continue; /* validate the rest of the archive */
		if (r == STASYNC_CATAR_ENTRY) {
			if (!e) {
				r = sta_error(err, -EINVAL, "decoder returned no entry");
				goto out;
			}
			r = on_entry(&x, e);
			if (r < 0)
				goto out;
			if (x.finished && x.subtree_len)
				break;
		} else if (r == STASYNC_CATAR_DIR_END) {
			const char *path = stasync_catar_decoder_path(d);
			int w = where(&x, path);
			if (!x.started || w == 0 || x.n_frames == 0)
				continue;
			r = finish_dir(&x);
			if (r < 0)
				goto out;
			if (w == 1) {
				x.finished = true;
				/* a subtree is done; the whole archive is read to its end
				 * so that trailing garbage is reported */
				if (x.subtree_len)
					break;
			}
		}
	}
	/* the files still being written, and the directories waiting for them */
	if (x.pool && (r = pool_settle(&x)) < 0)
		goto out;
	if (!x.started)
		r = x.subtree_len ? sta_error(err, -ENOENT, "%s: no such file or directory in the archive",
					      x.subtree)
				  : sta_error(err, -EBADMSG, "the archive is empty");
	else if (!x.finished)
		r = sta_error(err, -EBADMSG, "the archive ended inside %s",
			      disp(x.frames[x.n_frames - 1].path));
	else
		r = 0;
out:
	/* first the workers: the files handed to them come before anything
	 * the decoding thread failed on, so their failure is the one to
	 * tell; then the fds they were writing into */
	if (x.pool) {
		int q = sta_job_pool_drain(x.pool);
		if (q < 0)
			r = pool_error(&x, q);
	}
	sta_job_pool_free(x.pool);
	for (unsigned i = 0; i < x.n_workers; i++) {
		struct extractor *w = &x.workers[i];
		x.st.created += w->st.created;
		x.st.replaced += w->st.replaced;
		x.st.removed += w->st.removed;
		for (unsigned k = 0; k < 2; k++)
			for (unsigned m = 0; m < ID_CACHE_SIZE; m++)
				free(w->ids[k][m].name);
	}
	free(x.workers);
	free(x.worker_errs);
	for (size_t i = x.deferred_start; i < x.n_deferred; i++)
		frame_free(&x.deferred[i].f);
	free(x.deferred);
	tmp_remove(&x);
	if (stats)
		*stats = x.st;
	while (x.n_frames > 0)
		frame_free(&x.frames[--x.n_frames]);
	free(x.frames);
	free(x.buf);
	free(x.subtree);
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < ID_CACHE_SIZE; i++)
			free(x.ids[k][i].name);
	return r;
}
