/* ==== Atomic output files ==================================================
 * Regular output files (indexes, extracted blobs) are written to an
 * unnamed file (O_TMPFILE) or under a temporary name in the same
 * directory, fsync'd (unless no_sync), and renamed into place only when
 * complete, so a failure, a kill or a power loss never leaves a
 * half-written file under the final name (and a kill no temporary file
 * either, with O_TMPFILE). Block and character devices, pipes and "-"
 * (stdout) are written in place; a block device is fsync'd on commit
 * too (unless no_sync). */
#ifndef STASYNC_OUTPUT_H
#define STASYNC_OUTPUT_H

#include <stdbool.h>
#include <stasync/error.h>

struct stasync_http_options;

typedef struct stasync_output {
	int fd;           /* write here */
	char *path;       /* final name, NULL for stdout */
	char *tmp_path;   /* temporary name, NULL when written in place */
	bool unnamed;     /* an O_TMPFILE file, named on commit */
	/* set after open: commit without fsync (output that a rerun can
	 * make again, when speed matters more than surviving a power loss) */
	bool no_sync;
	unsigned mode;    /* permissions of the final file */
	/* an http(s):// URL: written to an unlinked temporary file, sent
	 * with PUT on commit */
	bool upload;
	const struct stasync_http_options *http;
} stasync_output;

/* stasync_output_is_new() — written to a new, empty file (not to a device,
 * a pipe or stdout): what was not written reads as zeros. */
static inline bool stasync_output_is_new(const stasync_output *o)
{
	return o->unnamed || o->tmp_path || o->upload;
}

/* stasync_output_open() — open `path` ("-" or NULL for stdout) for
 * writing. Regular files get a temporary sibling name; devices are opened
 * in place. Returns 0 or a negative code with a message naming path. */
int stasync_output_open(stasync_output *o, const char *path, unsigned mode,
			stasync_error *err);

/* stasync_output_open_with() — the same, and `path` may be an http:// or
 * https:// URL: the file is then put there whole on commit, with the
 * options `http` (NULL: defaults; kept until commit). */
int stasync_output_open_with(stasync_output *o, const char *path, unsigned mode,
			     const struct stasync_http_options *http, stasync_error *err);

/* stasync_output_commit() — fsync and, for a temporary file, rename it to
 * the final name and fsync its directory (or upload it); no fsync with
 * no_sync. Returns 0 or a
 * negative code; on failure the temporary file is removed. */
int stasync_output_commit(stasync_output *o, stasync_error *err);

/* stasync_output_reopen() — before commit, a new read-only fd on the
 * bytes written so far (to read them back), or -errno. */
int stasync_output_reopen(const stasync_output *o);

/* stasync_output_abort() — remove the temporary file, if any, and close.
 * Safe to call after commit (does nothing then). */
void stasync_output_abort(stasync_output *o);

#endif
