/* Output files that appear under their final name only when complete. */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/http.h>
#include <stasync/output.h>
#include "http.h"
#include "siphash.h"
#include "util.h"

/* A short temporary name, so that a 255-byte final name still works:
 * `tag` in hex, random or replace_tag(). */
static int tmp_name(stasync_output *o, const char *dir, uint64_t tag)
{
	free(o->tmp_path);
	if (asprintf(&o->tmp_path, "%s/.stasync-%016" PRIx64 ".tmp", dir, tag) < 0) {
		o->tmp_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The tag of the temporary name a finished file replacing `o->path` is
 * linked under before the rename: one per output path (a hash of its
 * last component), so that the next run for the same path removes what
 * a kill between the link and the rename left. */
static uint64_t replace_tag(const stasync_output *o)
{
	static const uint8_t key[16] = "stasync-replace";
	const char *base = strrchr(o->path, '/');

	base = base ? base + 1 : o->path;
	return sta_siphash24(base, strlen(base), key);
}

int stasync_output_open(stasync_output *o, const char *path, unsigned mode, stasync_error *err)
{
	return stasync_output_open_with(o, path, mode, NULL, err);
}

int stasync_output_open_with(stasync_output *o, const char *path, unsigned mode,
			     const struct stasync_http_options *http, stasync_error *err)
{
	struct stat st;
	_cleanup_free_ char *copy = NULL;
	const char *dir;
	int r;

	memset(o, 0, sizeof(*o));
	o->fd = -EBADF;
	o->mode = mode;
	if (!path || strcmp(path, "-") == 0) {
		o->fd = STDOUT_FILENO;
		return 0;
	}
	o->path = strdup(path);
	if (!o->path)
		return sta_error(err, -ENOMEM, "out of memory");

	if (stasync_is_http_url(path) || stasync_is_s3_url(path)) {
		/* Nothing reaches the server before the file is complete. */
		o->upload = true;
		o->http = http;
		o->fd = sta_tmpfile_open();
		if (o->fd < 0) {
			r = o->fd;
			_cleanup_free_ char *name = stasync_url_redact(path);

			stasync_output_abort(o);
			return sta_error(err, r, "%s: cannot create a temporary file: %s",
					 name ? name : "output", stasync_strerror(r));
		}
		return 0;
	}

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			stasync_output_abort(o);
			return sta_error(err, -EISDIR, "%s: is a directory", path);
		}
		/* Devices and pipes are written in place; a block device is
		 * read too, when allowed, to leave alone what it holds already. */
		o->fd = S_ISBLK(st.st_mode) ? open(path, O_RDWR | O_CLOEXEC | O_NOCTTY) : -1;
		if (o->fd < 0)
			o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
		if (o->fd < 0) {
			r = -errno;
			stasync_output_abort(o);
			return sta_error(err, r, "%s: cannot open: %s", path, stasync_strerror(r));
		}
		return 0;
	}

	copy = strdup(path);
	if (!copy) {
		stasync_output_abort(o);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	dir = dirname(copy);
	/* Unnamed until complete: a kill leaves nothing behind. Naming it
	 * goes through /proc/self/fd; without /proc, a temporary name. */
	if (access("/proc/self/fd", X_OK) == 0) {
		o->fd = sta_tmpfile_at(AT_FDCWD, dir, mode);
		if (o->fd >= 0) {
			o->unnamed = true;
			return 0;
		}
	}
	for (int tries = 0; tries < 16; tries++) {
		r = tmp_name(o, dir, sta_random_u64());
		if (r < 0) {
			stasync_output_abort(o);
			return sta_error(err, r, "out of memory");
		}
		o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
		if (o->fd >= 0 || errno != EEXIST)
			break;
	}
	if (o->fd < 0) {
		r = -errno;
		free(o->tmp_path);
		o->tmp_path = NULL;
		stasync_output_abort(o);
		return sta_error(err, r, "%s: cannot create: %s", path, stasync_strerror(r));
	}
	return 0;
}

int stasync_output_commit(stasync_output *o, stasync_error *err)
{
	bool linked = false;
	struct stat st;
	int r = 0;

	if (o->fd == STDOUT_FILENO) {
		o->fd = -EBADF;
		return 0;
	}
	if (o->upload) {
		r = stasync_http_put_file(o->path, o->http, o->fd, err);
		stasync_output_abort(o);
		return r;
	}
	/* On disk before it has its final name; a device's cache too
	 * (pipes and terminals cannot, and need not). */
	if (!o->no_sync && fsync(o->fd) < 0 &&
	    (errno != EINVAL || (fstat(o->fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))))
		r = -errno;
	/* A new file gets its final name at once: a kill after that leaves
	 * it whole, and before it nothing. One that replaces another is
	 * named first and then renamed over it. */
	if (r == 0 && o->unnamed && (r = sta_tmpfile_link(o->fd, AT_FDCWD, o->path)) == 0)
		linked = true;
	else if (r == -EEXIST) {
		_cleanup_free_ char *copy = strdup(o->path);

		/* there already: left by a run killed between the link and
		 * the rename (or by one running now for the same file) */
		r = copy ? tmp_name(o, dirname(copy), replace_tag(o)) : -ENOMEM;
		if (r == 0) {
			r = sta_tmpfile_link(o->fd, AT_FDCWD, o->tmp_path);
			if (r == -EEXIST && unlink(o->tmp_path) == 0)
				r = sta_tmpfile_link(o->fd, AT_FDCWD, o->tmp_path);
		}
		if (r < 0) {
			free(o->tmp_path);
			o->tmp_path = NULL;
		}
	}
	if (o->fd >= 0 && close(o->fd) < 0 && r == 0)
		r = -errno;
	o->fd = -EBADF;
	if (r == 0 && o->tmp_path && rename(o->tmp_path, o->path) < 0)
		r = -errno;
	if (r == 0 && (o->tmp_path || linked) && !o->no_sync)
		r = sta_fsync_dir_of(o->path);
	if (r < 0) {
		r = sta_error(err, r, "%s: cannot write: %s", o->path, stasync_strerror(r));
		stasync_output_abort(o);
		return r;
	}
	free(o->tmp_path);
	free(o->path);
	o->tmp_path = o->path = NULL;
	return 0;
}

int stasync_output_reopen(const stasync_output *o)
{
	char proc[32];
	int fd;

	if (o->unnamed) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", o->fd);
		fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	} else {
		fd = open(o->tmp_path ? o->tmp_path : o->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	return fd < 0 ? -errno : fd;
}

void stasync_output_abort(stasync_output *o)
{
	if (o->fd >= 0 && o->fd != STDOUT_FILENO)
		close(o->fd);
	o->fd = -EBADF;
	if (o->tmp_path)
		unlink(o->tmp_path);
	free(o->tmp_path);
	free(o->path);
	o->tmp_path = o->path = NULL;
}
