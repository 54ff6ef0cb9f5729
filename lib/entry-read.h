/* Reading one file system object's metadata into a stasync_entry, the way
 * casync's encoder does, for the features the archive asks for. */
#ifndef STASYNC_LIB_ENTRY_READ_H
#define STASYNC_LIB_ENTRY_READ_H

#include <sys/stat.h>

#include <stasync/catar.h>
#include "buf.h"

struct sta_entry_reader {
	uint64_t flags;           /* the archive's normalized feature flags */
	uint64_t granularity;     /* mtime rounding in ns; 0: no times */
	uid_t uid_shift, uid_range;  /* see stasync_encode_options */
	/* The last uid/gid looked up: files mostly share owners. */
	uid_t cached_uid;
	gid_t cached_gid;
	char *cached_user, *cached_group;
	bool have_user, have_group;
	struct sta_buf list, value; /* xattr scratch */
};

void sta_entry_reader_init(struct sta_entry_reader *r, const stasync_encode_options *o);
void sta_entry_reader_done(struct sta_entry_reader *r);

/* The inode as found while walking: fd is open for regular files and
 * directories (-1 otherwise); parent_fd/name reach it for the others. */
struct sta_node {
	int fd;
	int parent_fd;
	const char *name;
	struct stat st;
	unsigned long magic;      /* statfs f_type of its file system */
	unsigned chattr;          /* FS_IOC_GETFLAGS bits, read by the walker */
};

/* sta_entry_read() — fill e (initialized) from the node. `path` names it
 * in messages. Returns 0 or a negative code with a message that names the
 * file and, where a feature cannot be read, the --without= to skip it. */
int sta_entry_read(struct sta_entry_reader *r, const struct sta_node *n, stasync_entry *e,
		   const char *path, stasync_error *err);

/* sta_read_chattr() — the chattr flags of an open regular file or
 * directory; 0 where the file system has none. */
int sta_read_chattr(int fd, unsigned *ret);

#endif
