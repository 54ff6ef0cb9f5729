/* Output files that appear under their final name only when complete. */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/http.h>
#include <stasync/output.h>
#include "http.h"
#include "util.h"

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

	if (stasync_is_http_url(path)) {
		/* Nothing reaches the server before the file is complete. */
		o->upload = true;
		o->http = http;
		o->fd = sta_tmpfile_open();
		if (o->fd < 0) {
			int r = o->fd;
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
			int r = -errno;
			stasync_output_abort(o);
			return sta_error(err, r, "%s: cannot open: %s", path, stasync_strerror(r));
		}
		return 0;
	}

	/* A short temporary name, so that a 255-byte final name still works. */
	copy = strdup(path);
	if (!copy) {
		stasync_output_abort(o);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	dir = dirname(copy);
	for (int tries = 0; tries < 16; tries++) {
		free(o->tmp_path);
		if (asprintf(&o->tmp_path, "%s/.stasync-%016" PRIx64 ".tmp", dir, sta_random_u64()) < 0) {
			o->tmp_path = NULL;
			stasync_output_abort(o);
			return sta_error(err, -ENOMEM, "out of memory");
		}
		o->fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
		if (o->fd >= 0 || errno != EEXIST)
			break;
	}
	if (o->fd < 0) {
		int r = -errno;
		free(o->tmp_path);
		o->tmp_path = NULL;
		stasync_output_abort(o);
		return sta_error(err, r, "%s: cannot create: %s", path, stasync_strerror(r));
	}
	return 0;
}

int stasync_output_commit(stasync_output *o, stasync_error *err)
{
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
	if (o->fd >= 0 && close(o->fd) < 0)
		r = -errno;
	o->fd = -EBADF;
	if (r == 0 && o->tmp_path && rename(o->tmp_path, o->path) < 0)
		r = -errno;
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
