/* Metadata of one file system object, read for the archive's features. */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "entry-read.h"
#include "fsflags.h"
#include "linux.h"
#include "util.h"

#define XATTR_VALUE_MAX (64 * 1024)
#define XATTR_LIST_MAX_BYTES (64 * 1024)

void sta_entry_reader_init(struct sta_entry_reader *r, const stasync_encode_options *o)
{
	uint64_t flags = o->feature_flags ? o->feature_flags : STASYNC_FEATURES_DEFAULT;

	memset(r, 0, sizeof(*r));
	r->flags = flags;
	r->uid_shift = o->uid_shift;
	r->uid_range = o->uid_range;
	if (flags & STASYNC_WITH_NSEC_TIME)
		r->granularity = 1;
	else if (flags & STASYNC_WITH_USEC_TIME)
		r->granularity = 1000;
	else if (flags & STASYNC_WITH_SEC_TIME)
		r->granularity = 1000000000;
	else if (flags & STASYNC_WITH_2SEC_TIME)
		r->granularity = 2000000000;
	r->list.limit = XATTR_LIST_MAX_BYTES;
	r->value.limit = XATTR_VALUE_MAX;
}

void sta_entry_reader_done(struct sta_entry_reader *r)
{
	free(r->cached_user);
	free(r->cached_group);
	sta_buf_free(&r->list);
	sta_buf_free(&r->value);
}


int sta_read_chattr(int fd, unsigned *ret)
{
	unsigned v = 0;

	if (ioctl(fd, STA_FS_IOC_GETFLAGS, &v) < 0) {
		if (!sta_errno_unsupported(-errno))
			return -errno;
		v = 0;
	}
	*ret = v;
	return 0;
}

static bool uid_valid(uint64_t id)
{
	return id != UINT32_MAX && id != 65535;
}

/* The id as stored: (id − shift) mod range, as casync's encoder does;
 * -EINVAL for an invalid id or one below the shift. */
static int shift_id(const struct sta_entry_reader *r, uint64_t id, uint64_t *ret)
{
	if (!uid_valid(id) || id < r->uid_shift)
		return -EINVAL;
	id -= r->uid_shift;
	if (r->uid_range)
		id %= r->uid_range;
	*ret = id;
	return 0;
}

/* casync's rule for owner names: none for root (obvious), the name when
 * the system knows one, else the number as text unless numeric ids are
 * stored anyway. */
static int owner_name(struct sta_entry_reader *r, bool group, unsigned id, char **ret)
{
	char buf[16384], *name = NULL;
	int e;

	*ret = NULL;
	if (id == 0)
		return 0;
	if (group) {
		struct group gr, *g = NULL;
		e = getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &g);
		if (e == 0 && g)
			name = strdup(g->gr_name);
	} else {
		struct passwd pw, *p = NULL;
		e = getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &p);
		if (e == 0 && p)
			name = strdup(p->pw_name);
	}
	if (!name) {
		uint64_t shifted;

		if (r->flags & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS))
			return 0;
		if (shift_id(r, id, &shifted) < 0)
			return -EINVAL;
		if (asprintf(&name, "%" PRIu64, shifted) < 0)
			return -ENOMEM;
	}
	if (!name)
		return -ENOMEM;
	*ret = name;
	return 0;
}

static int cached_owner_name(struct sta_entry_reader *r, bool group, unsigned id, char **ret)
{
	char **cache = group ? &r->cached_group : &r->cached_user;
	bool *have = group ? &r->have_group : &r->have_user;
	unsigned *cached_id = group ? (unsigned *)&r->cached_gid : (unsigned *)&r->cached_uid;
	int e;

	if (!*have || *cached_id != id) {
		free(*cache);
		*cache = NULL;
		*have = false;
		e = owner_name(r, group, id, cache);
		if (e < 0)
			return e;
		*cached_id = id;
		*have = true;
	}
	*ret = NULL;
	if (*cache && !(*ret = strdup(*cache)))
		return -ENOMEM;
	return 0;
}

static int get_xattr(struct sta_entry_reader *r, int fd, const char *path, const char *name);

/* Read one xattr value into r->value; 0, -ENODATA when gone, or -errno.
 * Without fd, `path` is the /proc/self/fd path of the node; where /proc
 * is missing (an empty chroot), `fallback` (the node's path as the user
 * named the tree) reaches it instead. */
static int get_xattr_at(struct sta_entry_reader *r, int fd, const char *path, const char *fallback,
			const char *name)
{
	int x = get_xattr(r, fd, path, name);

	if (x == -ENOENT && fd < 0 && fallback && access("/proc/self/fd", F_OK) < 0)
		x = get_xattr(r, -1, fallback, name);
	return x;
}

static int get_xattr(struct sta_entry_reader *r, int fd, const char *path, const char *name)
{
	for (size_t space = 256;; space *= 2) {
		ssize_t k;

		sta_buf_reset(&r->value);
		if (sta_buf_reserve(&r->value, space) < 0)
			return -E2BIG;
		k = fd >= 0 ? fgetxattr(fd, name, r->value.data, space)
			    : lgetxattr(path, name, r->value.data, space);
		if (k >= 0) {
			r->value.len = (size_t)k;
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
		if (space >= XATTR_VALUE_MAX)
			return -E2BIG;
	}
}

static bool xattr_stored(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255)
		return false;
	return (strncmp(name, "user.", 5) == 0 && n > 5) ||
	       (strncmp(name, "trusted.", 8) == 0 && n > 8);
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const stasync_xattr *)a)->name, ((const stasync_xattr *)b)->name);
}

static int read_xattrs(struct sta_entry_reader *r, const struct sta_node *n, stasync_entry *e)
{
	size_t count = 0;
	ssize_t k;
	int x;

	for (size_t space = 1024;; space *= 2) {
		sta_buf_reset(&r->list);
		if (sta_buf_reserve(&r->list, space) < 0)
			return -E2BIG;
		k = flistxattr(n->fd, (char *)r->list.data, space);
		if (k >= 0)
			break;
		if (errno == EOPNOTSUPP || errno == EBADF)
			return 0;
		if (errno != ERANGE)
			return -errno;
	}
	for (const char *q = (char *)r->list.data; q < (char *)r->list.data + k; q += strlen(q) + 1)
		count++;
	if (count == 0)
		return 0;
	e->xattrs = calloc(count, sizeof(*e->xattrs));
	if (!e->xattrs)
		return -ENOMEM;
	for (const char *q = (char *)r->list.data; q < (char *)r->list.data + k; q += strlen(q) + 1) {
		bool fcaps = S_ISREG(n->st.st_mode) && strcmp(q, "security.capability") == 0;
		uint8_t *v;

		if (!xattr_stored(q) && !fcaps)
			continue;
		x = get_xattr(r, n->fd, NULL, q);
		if (x == -ENODATA)
			continue;   /* removed meanwhile */
		if (x < 0)
			return x;
		v = malloc(r->value.len ? r->value.len : 1);
		if (!v)
			return -ENOMEM;
		memcpy(v, r->value.data, r->value.len);
		if (fcaps) {
			e->fcaps = v;
			e->fcaps_size = r->value.len;
			continue;
		}
		e->xattrs[e->n_xattrs].name = strdup(q);
		e->xattrs[e->n_xattrs].value = v;
		e->xattrs[e->n_xattrs].size = r->value.len;
		if (!e->xattrs[e->n_xattrs++].name)
			return -ENOMEM;
	}
	sta_qsort(e->xattrs, e->n_xattrs, sizeof(*e->xattrs), cmp_xattr);
	return 0;
}

static int cmp_acl(const void *a, const void *b)
{
	const stasync_acl_item *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (!x->name || !y->name)
		return !!x->name - !!y->name;
	return strcmp(x->name, y->name);
}

static int acl_add(struct sta_entry_reader *r, stasync_acl_item **v, size_t *n, bool group,
		   uint32_t id, uint64_t perm)
{
	stasync_acl_item *p = realloc(*v, (*n + 1) * sizeof(**v));
	stasync_acl_item it = { .permissions = perm };
	int e;

	if (!p)
		return -ENOMEM;
	*v = p;
	uint64_t shifted;

	if (shift_id(r, id, &shifted) < 0)
		return -EINVAL;
	if ((r->flags & STASYNC_WITH_16BIT_UIDS) && shifted > UINT16_MAX)
		return -EPROTONOSUPPORT;
	if (r->flags & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS))
		it.id = shifted;
	if (r->flags & STASYNC_WITH_USER_NAMES) {
		e = owner_name(r, group, id, &it.name);
		if (e < 0)
			return e;
	}
	p[(*n)++] = it;
	return 0;
}

/* Parse the kernel's ACL xattr (version 2 header, then tag/perm/id). */
static int parse_acl(struct sta_entry_reader *r, const uint8_t *p, size_t len, bool deflt,
		     stasync_entry *e)
{
	uint64_t user_obj = STASYNC_ACL_NONE, group_obj = STASYNC_ACL_NONE,
		 other = STASYNC_ACL_NONE, mask = STASYNC_ACL_NONE;
	int x;

	if (len < 4 || (len - 4) % 8 != 0 || p[0] != STA_ACL_XATTR_VERSION || p[1] || p[2] || p[3])
		return -EBADMSG;
	for (size_t i = 4; i < len; i += 8) {
		unsigned tag = p[i] | p[i + 1] << 8;
		uint64_t perm = (p[i + 2] | p[i + 3] << 8) & 7;
		uint32_t id = (uint32_t)p[i + 4] | (uint32_t)p[i + 5] << 8 |
			      (uint32_t)p[i + 6] << 16 | (uint32_t)p[i + 7] << 24;

		switch (tag) {
		case STA_ACL_USER_OBJ:
			user_obj = perm;
			break;
		case STA_ACL_GROUP_OBJ:
			group_obj = perm;
			break;
		case STA_ACL_OTHER:
			other = perm;
			break;
		case STA_ACL_MASK:
			mask = perm;
			break;
		case STA_ACL_USER:
			x = deflt ? acl_add(r, &e->acl_default_user, &e->n_acl_default_user, false, id, perm)
				  : acl_add(r, &e->acl_user, &e->n_acl_user, false, id, perm);
			if (x < 0)
				return x;
			break;
		case STA_ACL_GROUP:
			x = deflt ? acl_add(r, &e->acl_default_group, &e->n_acl_default_group, true, id, perm)
				  : acl_add(r, &e->acl_group, &e->n_acl_group, true, id, perm);
			if (x < 0)
				return x;
			break;
		default:
			return -EBADMSG;
		}
	}
	if (deflt) {
		e->acl_default_user_obj = user_obj;
		e->acl_default_group_obj = group_obj;
		e->acl_default_other = other;
		e->acl_default_mask = mask;
		sta_qsort(e->acl_default_user, e->n_acl_default_user, sizeof(stasync_acl_item), cmp_acl);
		sta_qsort(e->acl_default_group, e->n_acl_default_group, sizeof(stasync_acl_item), cmp_acl);
	} else {
		/* stat() shows the mask as group bits when there is one; the
		 * group entry proper is then kept separately. */
		if (group_obj != STASYNC_ACL_NONE && mask != STASYNC_ACL_NONE)
			e->acl_group_obj = group_obj;
		sta_qsort(e->acl_user, e->n_acl_user, sizeof(stasync_acl_item), cmp_acl);
		sta_qsort(e->acl_group, e->n_acl_group, sizeof(stasync_acl_item), cmp_acl);
	}
	return 0;
}

static int read_acls(struct sta_entry_reader *r, const struct sta_node *n, const char *proc_path,
		     const char *fallback, stasync_entry *e)
{
	for (int deflt = 0; deflt < 2; deflt++) {
		const char *name = deflt ? STA_ACL_XATTR_DEFAULT : STA_ACL_XATTR_ACCESS;
		int x;

		if (deflt && !S_ISDIR(n->st.st_mode))
			break;
		x = get_xattr_at(r, n->fd, proc_path, fallback, name);
		if (x == -ENODATA || x == -EOPNOTSUPP || x == -EBADF || x == -ENOENT)
			continue;
		if (x < 0)
			return x;
		x = parse_acl(r, r->value.data, r->value.len, deflt, e);
		if (x < 0)
			return x;
	}
	return 0;
}

static int read_selinux(struct sta_entry_reader *r, const struct sta_node *n, const char *proc_path,
			const char *fallback, stasync_entry *e)
{
	int x = get_xattr_at(r, n->fd, proc_path, fallback, "security.selinux");

	if (x == -ENODATA || x == -EOPNOTSUPP || x == -ENOENT)
		return 0;
	if (x < 0)
		return x;
	e->selinux = strndup((char *)r->value.data, r->value.len);
	return e->selinux ? 0 : -ENOMEM;
}

static int fail(stasync_error *err, int code, const char *path, const char *what,
		const char *feature)
{
	if (feature)
		return sta_error(err, code, "%s: cannot read %s: %s (pass --without=%s to leave them out)",
				 path, what, stasync_strerror(code), feature);
	return sta_error(err, code, "%s: cannot read %s: %s", path, what, stasync_strerror(code));
}

int sta_entry_read(struct sta_entry_reader *r, const struct sta_node *n, stasync_entry *e,
		   const char *path, stasync_error *err)
{
	const uint64_t f = r->flags;
	const mode_t m = n->st.st_mode;
	bool reg_or_dir = S_ISREG(m) || S_ISDIR(m);
	char proc_path[64 + 256];
	int x;

	e->feature_flags = f;
	/* Objects not opened (symlinks, devices, fifos, sockets) are reached
	 * through the parent's descriptor in /proc, as libacl would. */
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d/%s", n->parent_fd,
		 n->name ? n->name : ".");

	/* mode */
	if (S_ISLNK(m))
		e->mode = S_IFLNK | 0777;
	else if (f & (STASYNC_WITH_PERMISSIONS | STASYNC_WITH_ACL))
		e->mode = m & (S_IFMT | 07777);
	else if (f & STASYNC_WITH_READ_ONLY)
		e->mode = (m & S_IFMT) | ((m & 0222) ? (S_ISDIR(m) ? 0777 : 0666)
						     : (S_ISDIR(m) ? 0555 : 0444));
	else
		e->mode = (m & S_IFMT) | (S_ISDIR(m) ? 0777 : 0666);

	/* owners */
	if (f & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS)) {
		if (shift_id(r, n->st.st_uid, &e->uid) < 0 || shift_id(r, n->st.st_gid, &e->gid) < 0)
			return sta_error(err, -EINVAL, "%s: owner %u:%u is invalid or below --uid-shift",
					 path, (unsigned)n->st.st_uid, (unsigned)n->st.st_gid);
		if ((f & STASYNC_WITH_16BIT_UIDS) && (e->uid > UINT16_MAX || e->gid > UINT16_MAX))
			return sta_error(err, -EPROTONOSUPPORT,
					 "%s: owner %" PRIu64 ":%" PRIu64 " does not fit 16-bit ids (use --with=32bit-uids)",
					 path, e->uid, e->gid);
	}
	if (f & STASYNC_WITH_USER_NAMES) {
		if ((x = cached_owner_name(r, false, n->st.st_uid, &e->user)) < 0 ||
		    (x = cached_owner_name(r, true, n->st.st_gid, &e->group)) < 0)
			return fail(err, x, path, "owner names", "user-names");
	}

	/* time */
	if (r->granularity) {
		uint64_t t = (uint64_t)n->st.st_mtim.tv_sec * 1000000000u + (uint64_t)n->st.st_mtim.tv_nsec;
		e->mtime = t / r->granularity * r->granularity;
	}

	/* chattr, FAT and subvolume flags, for regular files and dirs */
	if (reg_or_dir && (f & STASYNC_WITH_CHATTR)) {
		e->flags |= sta_chattr_to_features(n->chattr) & f;
	}
	if (reg_or_dir && (f & STASYNC_WITH_FAT_ATTRS) &&
	    (n->magic == STA_MSDOS_SUPER_MAGIC || n->magic == STA_FUSE_SUPER_MAGIC)) {
		uint32_t a = 0;
		if (ioctl(n->fd, STA_FAT_IOCTL_GET_ATTRIBUTES, &a) < 0) {
			if (!sta_errno_unsupported(-errno))
				return fail(err, -errno, path, "FAT attributes", "fat-attrs");
			a = 0;
		}
		e->flags |= sta_fat_to_features(a) & f;
	}
	if (S_ISDIR(m) && (f & STASYNC_WITH_SUBVOLUME) && n->magic == STA_BTRFS_SUPER_MAGIC &&
	    n->st.st_ino == STA_BTRFS_FIRST_FREE_OBJECTID) {
		uint64_t bf = 0;
		if (ioctl(n->fd, STA_BTRFS_IOC_SUBVOL_GETFLAGS, &bf) < 0)
			return fail(err, -errno, path, "subvolume flags", "subvolume");
		e->flags |= STASYNC_WITH_SUBVOLUME |
			    ((bf & STA_BTRFS_SUBVOL_RDONLY) ? STASYNC_WITH_SUBVOLUME_RO : 0);
		e->flags &= f;
	}

	/* xattrs and file capabilities */
	if (reg_or_dir && (f & (STASYNC_WITH_XATTRS | STASYNC_WITH_FCAPS))) {
		x = read_xattrs(r, n, e);
		if (x < 0)
			return fail(err, x, path, "extended attributes", "xattrs");
		if (!(f & STASYNC_WITH_XATTRS)) {
			for (size_t i = 0; i < e->n_xattrs; i++) {
				free(e->xattrs[i].name);
				free(e->xattrs[i].value);
			}
			e->n_xattrs = 0;
		}
		if (!(f & STASYNC_WITH_FCAPS)) {
			free(e->fcaps);
			e->fcaps = NULL;
			e->fcaps_size = 0;
		}
	}

	/* POSIX ACLs */
	if ((f & STASYNC_WITH_ACL) && !S_ISLNK(m)) {
		x = read_acls(r, n, reg_or_dir ? NULL : proc_path, path, e);
		if (x < 0)
			return fail(err, x, path, "ACLs", "acl");
	}

	/* SELinux label */
	if (f & STASYNC_WITH_SELINUX) {
		x = read_selinux(r, n, reg_or_dir ? NULL : proc_path, path, e);
		if (x < 0)
			return fail(err, x, path, "the SELinux label", "selinux");
	}

	/* quota project id */
	if (reg_or_dir && (f & STASYNC_WITH_QUOTA_PROJID) &&
	    (n->magic == STA_EXT4_SUPER_MAGIC || n->magic == STA_XFS_SUPER_MAGIC ||
	     n->magic == STA_FUSE_SUPER_MAGIC)) {
		struct sta_fsxattr fx;
		memset(&fx, 0, sizeof(fx));
		if (ioctl(n->fd, STA_FS_IOC_FSGETXATTR, &fx) < 0) {
			if (!sta_errno_unsupported(-errno))
				return fail(err, -errno, path, "the quota project id", "quota-projid");
		} else
			e->quota_projid = fx.fsx_projid;
	}

	/* what follows the metadata */
	if (S_ISLNK(m)) {
		char target[4097];
		ssize_t k = readlinkat(n->parent_fd, n->name, target, sizeof(target));
		if (k < 0)
			return fail(err, -errno, path, "the symlink", NULL);
		if (k == 0 || k >= (ssize_t)sizeof(target))
			return sta_error(err, -ENAMETOOLONG, "%s: symlink target empty or too long", path);
		e->symlink = strndup(target, (size_t)k);
		if (!e->symlink)
			return sta_error(err, -ENOMEM, "out of memory");
	} else if (S_ISBLK(m) || S_ISCHR(m)) {
		e->rdev_major = major(n->st.st_rdev);
		e->rdev_minor = minor(n->st.st_rdev);
	}
	return 0;
}
