/* ==== Extraction ===========================================================
 * Writing a decoded catar archive into a directory, safely: every path is
 * opened relative to the target with O_NOFOLLOW, names are checked, and
 * nothing is ever written outside the target. */
#ifndef STASYNC_EXTRACT_H
#define STASYNC_EXTRACT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <stasync/error.h>
#include <stasync/catar.h>

typedef struct stasync_extract_options {
	/* Features to restore: the archive's flags ANDed with this mask
	 * (--without=… clears bits). UINT64_MAX restores all there is. */
	uint64_t restore_mask;
	uid_t uid_shift;           /* added to every uid/gid … */
	uid_t uid_range;           /* … after taking it modulo this (0: no modulo) */
	bool delete_extra;         /* --delete: remove what the archive lacks */
	bool undo_immutable;       /* clear +i/+a on files about to be replaced */
	bool punch_holes;          /* write runs of zeros as holes */
	const char *subtree;       /* extract only this path (NULL: all); as in
				    * casync it lands at TARGET/<its name> */
	int file_threads;          /* threads writing regular files beside the
				    * one decoding: -1 one per CPU (at most 4,
				    * none on one CPU), 0 none */
} stasync_extract_options;

/* stasync_extract_options_init() — casync's defaults: restore everything,
 * no shift, no range, delete what the archive lacks, leave immutable
 * files alone, punch holes; and file_threads -1. */
void stasync_extract_options_init(stasync_extract_options *o);

/* What an extraction changed in the target, entry by entry (files,
 * directories, symlinks, devices alike). An entry that was there and
 * is kept (a directory, whose metadata is set again) counts nowhere. */
typedef struct stasync_extract_stats {
	uint64_t created;   /* put where nothing was */
	uint64_t replaced;  /* put in place of what was there */
	uint64_t removed;   /* removed and not replaced: what the archive
			     * lacks (--delete), or what a directory in the
			     * way held */
} stasync_extract_stats;

/* stasync_extract() — decode all of `d` into the directory target_fd
 * (not closed; it may already hold files, which are replaced).
 * `target` names it in messages. Fills *stats when not NULL (also on
 * error: what was done so far). Returns 0 or a negative code with a
 * message naming the path inside the archive and the reason. */
int stasync_extract(stasync_catar_decoder *d, int target_fd, const char *target,
		    const stasync_extract_options *o, stasync_extract_stats *stats,
		    stasync_error *err);

/* ---- Hard links from seeds ------------------------------------------------ */
typedef struct stasync_hardlink_stats {
	uint64_t files;           /* replaced by links */
	uint64_t bytes;           /* their size */
} stasync_hardlink_stats;

/* stasync_hardlink_seeds() — after an extraction into target_fd: each
 * regular file that one of the seed directories holds at the same path,
 * on the same file system and identical in bytes and in all metadata
 * (mode, owner, mtime, xattrs and ACLs, chattr flags), becomes a hard link
 * to it; directories keep their times. Files that differ, or cannot be
 * linked, stay as they are. Returns 0 or -ENOMEM. */
int stasync_hardlink_seeds(int target_fd, const char *target, const int *seed_fds, size_t n_seeds,
			   stasync_hardlink_stats *st, stasync_error *err);

#endif
