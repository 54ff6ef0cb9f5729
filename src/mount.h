/* The FUSE file system of cmd-mount.c as a part for mkdev: a blob shown as
 * the regular file it is mounted onto, served by threads of its own while
 * the caller goes on. */
#ifndef STASYNC_SRC_MOUNT_H
#define STASYNC_SRC_MOUNT_H

#include <stdbool.h>

#include "cli.h"
#include "mount-source.h"

struct mount_session;

/* mount_session_start() — mount the bytes of src (borrowed until
 * mount_session_stop()) onto the existing regular file `file`, its size
 * rounded up to whole 512-byte sectors (zeros after the end) when
 * pad_to_sector. The threads that serve it take the caller's signal mask.
 * Prints and returns 1 on failure, else 0 and *ret. */
int mount_session_start(struct cli *c, struct mount_source *src, const char *file,
			bool pad_to_sector, struct mount_session **ret);

/* mount_session_stop() — unmount (lazily; when something still holds the
 * file after a second, the session is ended all the same and the file's
 * reads fail from then on), wait for the threads and free. Returns 0, or 1 when the session had failed (printed). NULL: 0. */
int mount_session_stop(struct mount_session *ms);

#endif
