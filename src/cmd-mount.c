/* stasync mount [OPTIONS] ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX MOUNTPOINT — a
 * read-only FUSE file system of an archive's tree (or of a blob, as one
 * file), reading only what is asked for: entries are found through the
 * GOODBYE tables (stasync_catar_tree) and an index's chunks fetched when a
 * read first touches them.
 *
 * Inode numbers are the entry's offset in the archive plus one (the root's
 * ENTRY is at 0, FUSE's root is 1): stable, and nothing needs numbering.
 * The nodes the kernel holds (lookup counts) are kept in a hash table with
 * where each one ends, which a directory's GOODBYE table needs; the kernel
 * forgets them under memory pressure, so the table stays bounded. */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "mount-source.h"
#include "mount.h"

#if HAVE_FUSE
#define FUSE_USE_VERSION 312   /* fuse_loop_config as 3.12 made it */
#include <fuse_lowlevel.h>

/* Nothing changes under a mount: the kernel may keep what it was told. */
#define MOUNT_TIMEOUT 86400.0

struct node {
	uint64_t ino;
	uint64_t end;            /* where its records end */
	uint64_t nlookup;
	struct node *next;
};

struct mount_fs {
	struct cli *c;
	struct mount_source *src;       /* borrowed */
	uint64_t blob_size;              /* the blob's size as shown (mkdev: whole sectors) */
	stasync_catar_tree *tree;        /* NULL: a blob, shown as one file */
	const char *blob_name;           /* its name, when the root is a directory */
	bool blob_root_is_file;          /* mounted onto a file: the root is the blob */
	bool no_opendir;                 /* the kernel opens directories itself */
	uid_t uid;
	gid_t gid;
	pthread_mutex_t lock;
	struct node **buckets;
	size_t n_buckets, n_nodes;
	struct open_file *open_files;
};

/* ---- the table of nodes the kernel knows ------------------------------------- */
static size_t node_slot(const struct mount_fs *fs, uint64_t ino)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & (fs->n_buckets - 1);
}

static void node_grow(struct mount_fs *fs)
{
	size_t n = fs->n_buckets * 2;
	struct node **b = calloc(n, sizeof(*b));

	if (!b)
		return;   /* longer chains, still correct */
	for (size_t i = 0; i < fs->n_buckets; i++)
		for (struct node *p = fs->buckets[i], *next; p; p = next) {
			size_t k = (size_t)((p->ino * UINT64_C(0x9e3779b97f4a7c15)) >> 20) & (n - 1);

			next = p->next;
			p->next = b[k];
			b[k] = p;
		}
	free(fs->buckets);
	fs->buckets = b;
	fs->n_buckets = n;
}

/* Where the node ends, or 0 when the kernel asks for one it was not given. */
static uint64_t node_end(struct mount_fs *fs, uint64_t ino)
{
	uint64_t end = 0;

	pthread_mutex_lock(&fs->lock);
	for (struct node *p = fs->buckets[node_slot(fs, ino)]; p; p = p->next)
		if (p->ino == ino) {
			end = p->end;
			break;
		}
	pthread_mutex_unlock(&fs->lock);
	return end;
}

static int node_ref(struct mount_fs *fs, uint64_t ino, uint64_t end)
{
	struct node *p;
	int r = 0;

	pthread_mutex_lock(&fs->lock);
	for (p = fs->buckets[node_slot(fs, ino)]; p; p = p->next)
		if (p->ino == ino)
			break;
	if (p)
		p->nlookup++;
	else if ((p = calloc(1, sizeof(*p)))) {
		size_t k;

		if (fs->n_nodes >= fs->n_buckets)
			node_grow(fs);
		k = node_slot(fs, ino);
		p->ino = ino;
		p->end = end;
		p->nlookup = 1;
		p->next = fs->buckets[k];
		fs->buckets[k] = p;
		fs->n_nodes++;
	} else
		r = -ENOMEM;
	pthread_mutex_unlock(&fs->lock);
	return r;
}

static void node_unref(struct mount_fs *fs, uint64_t ino, uint64_t n)
{
	pthread_mutex_lock(&fs->lock);
	for (struct node **pp = &fs->buckets[node_slot(fs, ino)]; *pp; pp = &(*pp)->next) {
		struct node *p = *pp;

		if (p->ino != ino)
			continue;
		p->nlookup = p->nlookup > n ? p->nlookup - n : 0;
		if (p->nlookup == 0 && ino != FUSE_ROOT_ID) {
			*pp = p->next;
			free(p);
			fs->n_nodes--;
		}
		break;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* ---- entries as the kernel sees them --------------------------------------------- */
static void report(struct mount_fs *fs, const stasync_error *err)
{
	/* the mount goes on; the read that failed gets EIO */
	fprintf(stderr, "%s: %s\n", fs->c->program, err->message);
}

static int to_node(struct mount_fs *fs, fuse_ino_t ino, stasync_catar_node *n)
{
	n->entry_offset = (uint64_t)ino - 1;
	n->end_offset = node_end(fs, ino);
	return n->end_offset ? 0 : -ESTALE;
}

static void fill_stat(const struct mount_fs *fs, fuse_ino_t ino, const stasync_entry *e,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = (mode_t)e->mode;
	st->st_nlink = S_ISDIR(e->mode) ? 2 : 1;
	/* without uid features an archive stores 0: show the mounter's */
	st->st_uid = e->feature_flags & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS) ?
			     (uid_t)e->uid : fs->uid;
	st->st_gid = e->feature_flags & (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS) ?
			     (gid_t)e->gid : fs->gid;
	st->st_size = S_ISREG(e->mode) ? (off_t)e->size :
		      S_ISLNK(e->mode) && e->symlink ? (off_t)strlen(e->symlink) : 0;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	if (S_ISBLK(e->mode) || S_ISCHR(e->mode))
		st->st_rdev = makedev((unsigned)e->rdev_major, (unsigned)e->rdev_minor);
	st->st_mtim.tv_sec = (time_t)(e->mtime / 1000000000);
	st->st_mtim.tv_nsec = (long)(e->mtime % 1000000000);
	st->st_atim = st->st_ctim = st->st_mtim;
}

/* The blob, as a file. */
static void blob_stat(const struct mount_fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)fs->blob_size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((fs->blob_size + 511) / 512);
	st->st_mtim = st->st_atim = st->st_ctim = fs->src->mtime;
}

static void blob_dir_stat(const struct mount_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtim = st->st_atim = st->st_ctim = fs->src->mtime;
}

/* A blob under a directory root: the file's inode is 2. */
#define BLOB_INO 2

/* Decode the entry of inode ino: 0, or a negative errno for the reply. */
static int entry_of(struct mount_fs *fs, fuse_ino_t ino, stasync_entry *e, uint64_t *payload)
{
	stasync_error err = { 0, "" };
	stasync_catar_node n;
	int r;

	stasync_entry_init(e);
	r = to_node(fs, ino, &n);
	if (r < 0)
		return r;
	r = stasync_catar_tree_entry(fs->tree, &n, e, payload, &err);
	if (r < 0) {
		report(fs, &err);
		stasync_entry_clear(e);
		return r == -ENOMEM ? -ENOMEM : -EIO;
	}
	return 0;
}

/* ---- the operations ------------------------------------------------------------------- */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	struct fuse_entry_param ep = { .attr_timeout = MOUNT_TIMEOUT, .entry_timeout = MOUNT_TIMEOUT };
	stasync_error err = { 0, "" };
	stasync_catar_node dir, child;
	stasync_entry e;
	int r;

	if (!fs->tree) {
		if (parent != FUSE_ROOT_ID || fs->blob_root_is_file || strcmp(name, fs->blob_name)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		ep.ino = BLOB_INO;
		blob_stat(fs, BLOB_INO, &ep.attr);
		fuse_reply_entry(req, &ep);
		return;
	}
	r = to_node(fs, parent, &dir);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = stasync_catar_tree_lookup(fs->tree, &dir, name, &child, &err);
	if (r < 0)
		report(fs, &err);
	if (r <= 0) {
		fuse_reply_err(req, r == 0 ? ENOENT : EIO);
		return;
	}
	ep.ino = (fuse_ino_t)child.entry_offset + 1;
	r = node_ref(fs, ep.ino, child.end_offset);
	if (r == 0) {
		r = entry_of(fs, ep.ino, &e, NULL);
		if (r < 0)
			node_unref(fs, ep.ino, 1);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fill_stat(fs, ep.ino, &e, &ep.attr);
	stasync_entry_clear(&e);
	if (fuse_reply_entry(req, &ep) != 0)
		node_unref(fs, ep.ino, 1);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	struct mount_fs *fs = fuse_req_userdata(req);

	if (fs->tree)
		node_unref(fs, ino, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct mount_fs *fs = fuse_req_userdata(req);

	for (size_t i = 0; fs->tree && i < count; i++)
		node_unref(fs, f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	stasync_entry e;
	struct stat st;
	int r;

	if (!fs->tree) {
		if (ino == FUSE_ROOT_ID && !fs->blob_root_is_file)
			blob_dir_stat(fs, &st);
		else
			blob_stat(fs, ino, &st);
		fuse_reply_attr(req, &st, MOUNT_TIMEOUT);
		return;
	}
	r = entry_of(fs, ino, &e, NULL);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fill_stat(fs, ino, &e, &st);
	stasync_entry_clear(&e);
	fuse_reply_attr(req, &st, MOUNT_TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	stasync_entry e;
	int r;

	if (!fs->tree) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	r = entry_of(fs, ino, &e, NULL);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (S_ISLNK(e.mode) && e.symlink)
		fuse_reply_readlink(req, e.symlink);
	else
		fuse_reply_err(req, EINVAL);
	stasync_entry_clear(&e);
}

/* An open file: where its contents lie in the archive. */
struct open_file {
	uint64_t offset, size;
	/* on fs->open_files, so that a session ended while files are open
	 * (mkdev stopped while its device is in use) frees them too */
	struct open_file *prev, *next;
};

static void open_file_add(struct mount_fs *fs, struct open_file *f)
{
	pthread_mutex_lock(&fs->lock);
	f->prev = NULL;
	f->next = fs->open_files;
	if (f->next)
		f->next->prev = f;
	fs->open_files = f;
	pthread_mutex_unlock(&fs->lock);
}

static void open_file_free(struct mount_fs *fs, struct open_file *f)
{
	pthread_mutex_lock(&fs->lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->open_files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->lock);
	free(f);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	struct open_file *f;
	stasync_entry e;
	uint64_t payload = 0;
	int r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!fs->tree) {
		f->size = fs->blob_size;
	} else {
		r = entry_of(fs, ino, &e, &payload);
		if (r < 0) {
			free(f);
			fuse_reply_err(req, -r);
			return;
		}
		if (!S_ISREG(e.mode)) {
			stasync_entry_clear(&e);
			free(f);
			fuse_reply_err(req, EINVAL);
			return;
		}
		f->offset = payload;
		f->size = e.size;
		stasync_entry_clear(&e);
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1;
	open_file_add(fs, f);
	if (fuse_reply_open(req, fi) != 0)
		open_file_free(fs, f);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	stasync_error err = { 0, "" };
	uint8_t *buf;
	ssize_t k;

	if (off < 0 || (uint64_t)off >= f->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size = (size_t)MIN((uint64_t)size, f->size - (uint64_t)off);
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	k = mount_source_pread(fs->src, buf, size, f->offset + (uint64_t)off, &err);
	if (k >= 0 && !fs->tree && (size_t)k < size) {
		/* past the blob's end, in its last sector: zeros */
		memset(buf + k, 0, size - (size_t)k);
		k = (ssize_t)size;
	}
	if (k < 0) {
		report(fs, &err);
		fuse_reply_err(req, EIO);
	} else
		fuse_reply_buf(req, (const char *)buf, (size_t)k);
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	open_file_free(fuse_req_userdata(req), (struct open_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* readdir: "." and ".." at offsets 1 and 2, child i at i + 3. readdirplus
 * gives each child's attributes too, and the kernel then knows the child as
 * after a lookup: find, du and ls -l over a tree ask one request a
 * directory, not one a name (ten times fewer round trips). */
struct dir_fill {
	struct mount_fs *fs;
	fuse_req_t req;
	bool plus;
	char *buf;
	size_t size, used;
	int error;
};

/* Add one entry; 1 when the buffer is full (the kernel asks again from
 * `next`). With plus, attr gives the attributes, and a node (end ≠ 0) added
 * is counted as looked up once; without attr ("." and "..", a child that
 * cannot be decoded) the kernel gets the name alone. */
static int dir_add(struct dir_fill *d, const char *name, fuse_ino_t ino, mode_t mode,
		   const struct stat *attr, uint64_t end, off_t next)
{
	struct fuse_entry_param ep = { .attr = { .st_ino = ino, .st_mode = mode } };
	size_t k;

	if (!d->plus) {
		k = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &ep.attr, next);
		if (k > d->size - d->used)
			return 1;
		d->used += k;
		return 0;
	}
	if (attr) {
		ep.ino = ino;
		ep.attr = *attr;
		ep.attr_timeout = ep.entry_timeout = MOUNT_TIMEOUT;
	}
	if (end && node_ref(d->fs, ino, end) < 0) {
		d->error = ENOMEM;
		return 1;
	}
	k = fuse_add_direntry_plus(d->req, d->buf + d->used, d->size - d->used, name, &ep, next);
	if (k > d->size - d->used) {
		if (end)
			node_unref(d->fs, ino, 1);
		return 1;
	}
	d->used += k;
	return 0;
}

static int dir_child(void *ctx, const char *name, const stasync_catar_node *child, size_t index)
{
	struct dir_fill *d = ctx;
	fuse_ino_t ino = (fuse_ino_t)child->entry_offset + 1;
	stasync_error err = { 0, "" };
	stasync_entry e;
	struct stat st;

	/* the type, for ls and find to skip a stat; a child that cannot be
	 * decoded is listed by name, its siblings still reachable, and its
	 * lookup fails */
	stasync_entry_init(&e);
	if (stasync_catar_tree_entry(d->fs->tree, child, &e, NULL, &err) < 0) {
		report(d->fs, &err);
		return dir_add(d, name, ino, 0, NULL, 0, (off_t)index + 4);
	}
	fill_stat(d->fs, ino, &e, &st);
	stasync_entry_clear(&e);
	return dir_add(d, name, ino, st.st_mode, &st, child->end_offset, (off_t)index + 4);
}

static void dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	struct dir_fill d = { .fs = fs, .req = req, .plus = plus, .size = size };
	stasync_error err = { 0, "" };
	stasync_catar_node n;
	int r;

	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off < 1 && dir_add(&d, ".", ino, S_IFDIR, NULL, 0, 1))
		goto reply;
	if (off < 2 && dir_add(&d, "..", FUSE_ROOT_ID, S_IFDIR, NULL, 0, 2))
		goto reply;
	if (!fs->tree) {
		struct stat st;

		/* (the blob's inode is always known: no count to keep) */
		blob_stat(fs, BLOB_INO, &st);
		if (off < 3)
			dir_add(&d, fs->blob_name, BLOB_INO, S_IFREG, &st, 0, 3);
		goto reply;
	}
	r = to_node(fs, ino, &n);
	if (r < 0) {
		d.error = -r;
		goto reply;
	}
	r = stasync_catar_tree_list(fs->tree, &n, off < 3 ? 0 : (size_t)off - 3, dir_child, &d, &err);
	if (r < 0) {
		report(fs, &err);
		d.error = EIO;
	}
reply:
	if (d.error && d.used == 0)
		fuse_reply_err(req, d.error);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

/* Nothing to keep per open directory: where the kernel can, it opens them
 * itself (one round trip less each way) and caches their listings. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mount_fs *fs = fuse_req_userdata(req);

	(void)ino;
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	dir_read(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	dir_read(req, ino, size, off, true);
}

/* ---- extended attributes ------------------------------------------------------------ */
static const char *const acl_xattr_names[2] = { "system.posix_acl_access",
						 "system.posix_acl_default" };

/* The value of xattr `name` of e: its own xattrs, then the ACLs as the
 * kernel's system.posix_acl_* xattrs. 0 and *value (malloc()ed), -ENODATA,
 * or -ENOMEM. */
static int xattr_value(const stasync_entry *e, const char *name, uint8_t **value, size_t *size)
{
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (strcmp(e->xattrs[i].name, name) == 0) {
			*value = malloc(e->xattrs[i].size ? e->xattrs[i].size : 1);
			if (!*value)
				return -ENOMEM;
			memcpy(*value, e->xattrs[i].value, e->xattrs[i].size);
			*size = e->xattrs[i].size;
			return 0;
		}
	for (int def = 0; def < 2; def++)
		if (strcmp(name, acl_xattr_names[def]) == 0) {
			int r = stasync_entry_acl_xattr(e, def, value, size);

			if (r < 0)
				return r;
			return *size ? 0 : -ENODATA;
		}
	return -ENODATA;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	uint8_t *value = NULL;
	size_t n = 0;
	stasync_entry e;
	int r;

	if (!fs->tree) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	r = entry_of(fs, ino, &e, NULL);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = xattr_value(&e, name, &value, &n);
	stasync_entry_clear(&e);
	if (r < 0)
		fuse_reply_err(req, r == -ENOMEM ? ENOMEM : ENODATA);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else if (size < n)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)value, n);
	free(value);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	const char *names[2];
	size_t total = 0, n_names = 0;
	stasync_entry e;
	char *buf, *p;
	int r;

	if (!fs->tree) {
		fuse_reply_xattr(req, 0);
		return;
	}
	r = entry_of(fs, ino, &e, NULL);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	for (int def = 0; def < 2; def++) {
		uint8_t *v = NULL;
		size_t k = 0;

		if (stasync_entry_acl_xattr(&e, def, &v, &k) == 0 && k > 0)
			names[n_names++] = acl_xattr_names[def];
		free(v);
	}
	for (size_t i = 0; i < e.n_xattrs; i++)
		total += strlen(e.xattrs[i].name) + 1;
	for (size_t i = 0; i < n_names; i++)
		total += strlen(names[i]) + 1;
	if (size == 0)
		fuse_reply_xattr(req, total);
	else if (size < total)
		fuse_reply_err(req, ERANGE);
	else if (!(buf = malloc(total ? total : 1)))
		fuse_reply_err(req, ENOMEM);
	else {
		p = buf;
		for (size_t i = 0; i < e.n_xattrs + n_names; i++) {
			const char *name = i < e.n_xattrs ? e.xattrs[i].name : names[i - e.n_xattrs];
			size_t k = strlen(name) + 1;

			memcpy(p, name, k);
			p += k;
		}
		fuse_reply_buf(req, buf, total);
		free(buf);
	}
	stasync_entry_clear(&e);
}

/* The kernel checks permissions against the ACLs the mount shows. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mount_fs *fs = userdata;

	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	/* an archive's symlinks never change */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	fs->no_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

/* chattr and FAT attributes, which an encoder reading the mount asks for
 * (casync's digest of a mount point, with --with=fuse). */
#define MOUNT_FS_IOC_GETFLAGS _IOR('f', 1, long)
#define MOUNT_FAT_IOCTL_GET_ATTRIBUTES _IOR('r', 0x10, uint32_t)

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	uint8_t out[sizeof(long)] = { 0 };
	stasync_entry e;
	uint32_t v;
	int r;

	if ((cmd != MOUNT_FS_IOC_GETFLAGS && cmd != MOUNT_FAT_IOCTL_GET_ATTRIBUTES) ||
	    out_bufsz < sizeof(v)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (!fs->tree) {
		v = 0;
	} else {
		r = entry_of(fs, ino, &e, NULL);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		v = cmd == MOUNT_FS_IOC_GETFLAGS ? stasync_entry_flags_to_chattr(e.flags) :
						    stasync_entry_flags_to_fat(e.flags);
		stasync_entry_clear(&e);
	}
	/* the value in the first bytes, the rest of what was asked zero */
	memcpy(out, &v, sizeof(v));
	fuse_reply_ioctl(req, 0, out, MIN(out_bufsz, sizeof(out)));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mount_fs *fs = fuse_req_userdata(req);
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_blocks = (fsblkcnt_t)((fs->src->size + 4095) / 4096),
		.f_namemax = 255,
	};

	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops mount_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.statfs = op_statfs,
	.ioctl = op_ioctl,
};

/* ---- mounting ---------------------------------------------------------------------------- */

/* Detach the mount on mp lazily: 0, or -1 when neither umount2() nor
 * fusermount could. */
static int detach_mount(const char *mp)
{
	if (umount2(mp, MNT_DETACH) == 0)
		return 0;
	for (const char *const *p = (const char *const[]){ "fusermount3", "fusermount", NULL }; *p; p++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			execlp(*p, *p, "-u", "-z", "--", mp, (char *)NULL);
			_exit(127);
		}
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			return 0;
	}
	return -1;
}

/* A mount point left by a process that died answers ENOTCONN: detach it, so
 * that this mount can take its place. (statfs asks the server each time;
 * stat may be answered from what the kernel keeps.) */
static void clear_dead_mount(const struct cli *c, const char *mp)
{
	struct statvfs sv;
	struct stat st;

	if ((statvfs(mp, &sv) == 0 || errno != ENOTCONN) && (stat(mp, &st) == 0 || errno != ENOTCONN))
		return;
	cli_info(c, "%s: a dead mount is left there; detaching it", mp);
	(void)detach_mount(mp);
}

/* A name for the blob's file: the index's name without .caibx. */
static char *blob_file_name(const char *path)
{
	const char *base = path && strcmp(path, "-") ? strrchr(path, '/') : NULL;
	size_t n;
	char *r;

	base = base ? base + 1 : path && strcmp(path, "-") ? path : "blob";
	n = strcspn(base, "?;");
	if (n > 6 && strncmp(base + n - 6, ".caibx", 6) == 0)
		n -= 6;
	if (n == 0 || (n == 1 && base[0] == '.') || (n == 2 && strncmp(base, "..", 2) == 0)) {
		base = "blob";
		n = 4;
	}
	r = strndup(base, n);
	return r;
}

static int fs_init(struct mount_fs *fs, struct cli *c, struct mount_source *src)
{
#ifdef M_ARENA_MAX
	/* glibc gives each of the FUSE threads an arena of its own, where the
	 * decoders' buffers come and go: two hold them all, with half the
	 * peak memory */
	mallopt(M_ARENA_MAX, 2);
#endif
	memset(fs, 0, sizeof(*fs));
	fs->c = c;
	fs->src = src;
	fs->uid = getuid();
	fs->gid = getgid();
	pthread_mutex_init(&fs->lock, NULL);
	fs->n_buckets = 1024;
	fs->buckets = calloc(fs->n_buckets, sizeof(*fs->buckets));
	return fs->buckets ? 0 : cli_error(c, "out of memory");
}

static void fs_free(struct mount_fs *fs)
{
	stasync_catar_tree_free(fs->tree);
	fs->tree = NULL;
	for (size_t i = 0; fs->buckets && i < fs->n_buckets; i++)
		for (struct node *p = fs->buckets[i], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	free(fs->buckets);
	fs->buckets = NULL;
	while (fs->open_files) {
		struct open_file *f = fs->open_files;

		fs->open_files = f->next;
		free(f);
	}
	pthread_mutex_destroy(&fs->lock);
}

/* A FUSE session of fs mounted on mp, with fuse's signal handlers first
 * when `signals`; NULL after printing why not (nothing left to undo). */
static struct fuse_session *session_mount(struct mount_fs *fs, const char *mp, bool signals,
					  struct fuse_args *args)
{
	struct cli *c = fs->c;
	struct fuse_session *se;

	if (fuse_opt_add_arg(args, c->program) < 0 ||
	    fuse_opt_add_arg(args, "-o") < 0 ||
	    fuse_opt_add_arg(args, getuid() == 0 ?
			     "ro,default_permissions,allow_other,fsname=stasync,subtype=stasync" :
			     "ro,default_permissions,fsname=stasync,subtype=stasync") < 0) {
		cli_error(c, "out of memory");
		return NULL;
	}
	se = fuse_session_new(args, &mount_ops, sizeof(mount_ops), fs);
	if (!se) {
		cli_error(c, "%s: cannot set up the FUSE session", mp);
		return NULL;
	}
	if (signals && fuse_set_signal_handlers(se) != 0) {
		cli_error(c, "cannot set up signal handlers");
		fuse_session_destroy(se);
		return NULL;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0 && getuid() == 0) {
		cli_error(c, "%s: cannot mount: /dev/fuse: %s (is the fuse module loaded?)", mp,
			  strerror(errno));
		goto fail;
	}
	if (fuse_session_mount(se, mp) != 0) {
		cli_error(c, "%s: cannot mount%s", mp, getuid() == 0 ? "" :
			  " (an ordinary user needs fusermount3 or fusermount, and /dev/fuse)");
		goto fail;
	}
	cli_info(c, "Mounted %s on %s", fs->src->name, mp);
	return se;
fail:
	if (signals)
		fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return NULL;
}

/* Serve requests until a signal or an unmount ends the session: 0 or 1. */
static int session_loop(struct cli *c, struct fuse_session *se, const char *mp)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int r;

	if (!lc)
		return cli_error(c, "out of memory");
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 8);
	r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	/* a signal ends the loop with 0, and so does an unmount; a session
	 * told to exit (mkdev's stop while its device is in use) may see the
	 * reads it interrupted fail: that is no failure either */
	if (r < 0 && !fuse_session_exited(se))
		return cli_error(c, "%s: the FUSE session failed: %s", mp, strerror(-r));
	return 0;
}

int cmd_mount(struct cli *c)
{
	const char *input = c->argc > 1 ? cli_strip_file_url(c->argv[0]) : NULL;
	const char *mp = c->argv[c->argc - 1];
	struct mount_source src;
	struct mount_fs fs;
	stasync_error err = { 0, "" };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	char *blob_name = NULL;
	struct stat st;
	int r = 1;

	if (c->argc < 1 || c->argc > 2)
		return cli_error(c, "mount takes an archive, archive index or blob index, and a mount point");
	memset(&src, 0, sizeof(src));
	src.fd = -1;
	if (fs_init(&fs, c, &src))
		goto out;
	clear_dead_mount(c, mp);
	if (stat(mp, &st) < 0) {
		if (errno != ENOENT || !c->mkdir) {
			cli_error(c, "%s: cannot use as a mount point: %s", mp, strerror(errno));
			goto out;
		}
		if (mkdir(mp, 0755) < 0 || stat(mp, &st) < 0) {
			cli_error(c, "%s: cannot create the mount point: %s", mp, strerror(errno));
			goto out;
		}
	}
	if (mount_source_open(c, input, &src))
		goto out;
	fs.blob_size = src.size;
	if (src.what == WHAT_BLOB_INDEX) {
		fs.blob_root_is_file = S_ISREG(st.st_mode);
		if (!fs.blob_root_is_file && !S_ISDIR(st.st_mode)) {
			cli_error(c, "%s: not a directory or a file", mp);
			goto out;
		}
		blob_name = blob_file_name(input);
		if (!blob_name) {
			cli_error(c, "out of memory");
			goto out;
		}
		fs.blob_name = blob_name;
	} else {
		stasync_catar_node root;
		stasync_entry e;
		mode_t mode;

		if (!S_ISDIR(st.st_mode)) {
			cli_error(c, "%s: not a directory", mp);
			goto out;
		}
		stasync_entry_init(&e);
		if (stasync_catar_tree_new(mount_source_pread_fn(&src), &src, src.size,
					   src.name, &fs.tree, &err) < 0 ||
		    stasync_catar_tree_root(fs.tree, &root, &err) < 0 ||
		    stasync_catar_tree_entry(fs.tree, &root, &e, NULL, &err) < 0) {
			cli_fail(c, &err);
			goto out;
		}
		mode = (mode_t)e.mode;
		stasync_entry_clear(&e);
		/* FUSE's root must be a directory: the kernel fails every access
		 * to a root that turns out to be a file, with nothing said */
		if (!S_ISDIR(mode)) {
			cli_error(c, "%s: holds a single file, not a directory to mount", src.name);
			goto out;
		}
		if (node_ref(&fs, FUSE_ROOT_ID, root.end_offset) < 0) {
			cli_error(c, "out of memory");
			goto out;
		}
	}

	se = session_mount(&fs, mp, true, &args);
	if (!se)
		goto out;
	cli_notify_ready();
	r = session_loop(c, se, mp);
	if (src.view) {
		stasync_index_view_stats vs;

		stasync_index_view_stats_get(src.view, &vs);
		cli_info(c, "Chunks: %" PRIu64 " fetched when read, %" PRIu64 " ahead, %" PRIu64
			 " read again from memory, %" PRIu64 " failed", vs.fetched, vs.prefetched,
			 vs.cache_hits, vs.failed);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
out:
	fuse_opt_free_args(&args);
	fs_free(&fs);
	mount_source_close(&src);
	free(blob_name);
	return r;
}

/* ---- a blob served from threads of its own (mkdev) ---------------------------------------- */
struct mount_session {
	struct mount_fs fs;
	struct fuse_args args;
	struct fuse_session *se;
	char *mp;
	pthread_t thread;
	int loop_r;
	volatile int done;        /* the loop has ended */
};

static void *session_thread(void *p)
{
	struct mount_session *ms = p;

	ms->loop_r = session_loop(ms->fs.c, ms->se, ms->mp);
	__atomic_store_n(&ms->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void session_free(struct mount_session *ms)
{
	if (ms->se)
		fuse_session_destroy(ms->se);
	fuse_opt_free_args(&ms->args);
	fs_free(&ms->fs);
	free(ms->mp);
	free(ms);
}

int mount_session_start(struct cli *c, struct mount_source *src, const char *file,
			bool pad_to_sector, struct mount_session **ret)
{
	struct mount_session *ms = calloc(1, sizeof(*ms));
	*ret = NULL;
	if (!ms)
		return cli_error(c, "out of memory");
	ms->args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	if (fs_init(&ms->fs, c, src) || !(ms->mp = strdup(file))) {
		session_free(ms);
		return cli_error(c, "out of memory");
	}
	ms->fs.blob_root_is_file = true;
	ms->fs.blob_size = pad_to_sector ? (src->size + 511) & ~(uint64_t)511 : src->size;
	ms->se = session_mount(&ms->fs, file, false, &ms->args);
	if (!ms->se) {
		session_free(ms);
		return 1;
	}
	if (pthread_create(&ms->thread, NULL, session_thread, ms) != 0) {
		fuse_session_unmount(ms->se);
		session_free(ms);
		return cli_error(c, "cannot start a thread");
	}
	*ret = ms;
	return 0;
}

/* A signal that only interrupts a wait (SIGUSR2): see mount_session_stop(). */
static void kick_handler(int sig)
{
	(void)sig;
}

int mount_session_stop(struct mount_session *ms)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	bool forced = false;
	int r;

	if (!ms)
		return 0;
	/* a lazy unmount: the loop ends once nothing holds the file open */
	(void)detach_mount(ms->mp);
	for (int i = 0; i < 100 && !__atomic_load_n(&ms->done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	if (!__atomic_load_n(&ms->done, __ATOMIC_ACQUIRE)) {
		forced = true;
		/* something still holds it (a loop device in use): end the
		 * loop as fuse's own signal handler would; the connection is
		 * cut when we close /dev/fuse, and the file's reads fail */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
		fuse_session_exit(ms->se);
		while (!__atomic_load_n(&ms->done, __ATOMIC_ACQUIRE)) {
			pthread_kill(ms->thread, SIGUSR2);
			usleep(10000);
		}
	}
	pthread_join(ms->thread, NULL);
	fuse_session_unmount(ms->se);
	/* (a loop ended so may say it was interrupted: that was us) */
	r = forced ? 0 : ms->loop_r;
	session_free(ms);
	return r;
}

#else

int cmd_mount(struct cli *c)
{
	return cli_error(c, "mount: this stasync was built without FUSE (libfuse3)");
}

int mount_session_start(struct cli *c, struct mount_source *src, const char *file,
			bool pad_to_sector, struct mount_session **ret)
{
	*ret = NULL;
	return cli_error(c, "%s: cannot mount %s: this stasync was built without FUSE (libfuse3)",
			 file, src->name);
}

int mount_session_stop(struct mount_session *ms)
{
	return 0;
}

#endif
