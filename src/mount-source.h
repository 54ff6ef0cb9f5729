/* The bytes mount and mkdev show, read at any offset: a .catar file, or
 * the stream of a .caidx/.caibx with its chunks fetched on demand. */
#ifndef STASYNC_SRC_MOUNT_SOURCE_H
#define STASYNC_SRC_MOUNT_SOURCE_H

#include <time.h>

#include "cli.h"

/* Decoded chunks a mount keeps (--chunk-cache): what keeps its peak memory
 * under 64 MiB with the FUSE threads' own. */
#define MOUNT_CHUNK_CACHE_DEFAULT ((size_t)16 << 20)

struct mount_source {
	enum what what;               /* WHAT_ARCHIVE, _ARCHIVE_INDEX, _BLOB_INDEX or _BLOB */
	const char *name;             /* for messages */
	char *url_name;               /* owned: an index URL or ssh locator */
	int fd;                       /* a .catar */
	stasync_index_reader *index;
	stasync_store **stores;
	size_t n_stores;
	stasync_fetch fetch;
	stasync_index_view *view;     /* an index */
	uint64_t size;                /* the archive's or blob's bytes */
	struct timespec mtime;        /* of the file named (a blob's time) */
};

/* mount_source_open() — open PATH (NULL or "-": stdin, which must then be a
 * file) as --what or its suffix says. Prints and returns 1 on failure;
 * mount_source_close() then frees what was opened. */
int mount_source_open(struct cli *c, const char *path, struct mount_source *s);
/* mount_source_open_as() — the same for a kind the caller chose: also
 * WHAT_BLOB, a plain file read as it is. */
int mount_source_open_as(struct cli *c, const char *path, enum what what, struct mount_source *s);
void mount_source_close(struct mount_source *s);

/* Read at an offset: fewer bytes only at the end. Thread-safe. */
ssize_t mount_source_pread(struct mount_source *s, void *p, size_t n, uint64_t offset,
			   stasync_error *err);
/* A callback for the catar tree's reads of records (its context is the
 * source): those fetch nothing ahead, unlike file contents. */
stasync_pread_fn mount_source_pread_fn(const struct mount_source *s);

#endif
