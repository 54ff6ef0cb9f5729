/* What mount (and mkdev) read from: the bytes of a .catar file, or of the
 * stream a .caidx or .caibx describes, at any offset. An index's chunks
 * are fetched when a read first touches them and kept in a bounded cache
 * (stasync_index_view). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mount-source.h"

static ssize_t file_pread(void *ctx, void *p, size_t n, uint64_t offset, stasync_error *err)
{
	struct mount_source *s = ctx;
	size_t done = 0;

	while (done < n) {
		ssize_t k = pread(s->fd, (uint8_t *)p + done, n - done, (off_t)(offset + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(err->message, sizeof(err->message), "%s: cannot read: %s", s->name,
				 strerror(errno));
			return err->code = -errno;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

/* The tree's reads of records: no fetching ahead, which is for contents. */
static ssize_t view_pread(void *ctx, void *p, size_t n, uint64_t offset, stasync_error *err)
{
	struct mount_source *s = ctx;

	return stasync_index_view_pread_flags(s->view, p, n, offset, STASYNC_INDEX_VIEW_NO_AHEAD,
					      err);
}

ssize_t mount_source_pread(struct mount_source *s, void *p, size_t n, uint64_t offset,
			   stasync_error *err)
{
	return s->view ? stasync_index_view_pread(s->view, p, n, offset, err) :
			 file_pread(s, p, n, offset, err);
}

stasync_pread_fn mount_source_pread_fn(const struct mount_source *s)
{
	return s->view ? view_pread : file_pread;
}

/* The kind of input, from --what or the name's suffix. */
static enum what source_what(const struct cli *c, const char *path)
{
	enum what w = cli_what_of(c, path);

	return w == WHAT_AUTO ? WHAT_ARCHIVE : w;
}

int mount_source_open(struct cli *c, const char *path, struct mount_source *s)
{
	enum what what = source_what(c, path);

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (what != WHAT_ARCHIVE && what != WHAT_ARCHIVE_INDEX && what != WHAT_BLOB_INDEX)
		return cli_error(c, "mount takes a .catar, a .caidx or a .caibx, not --what=%s",
				 cli_what_name(what));
	return mount_source_open_as(c, path, what, s);
}

int mount_source_open_as(struct cli *c, const char *path, enum what what, struct mount_source *s)
{
	stasync_index_view_options vo = { 0 };
	stasync_error err = { 0, "" };
	struct stat st;
	int r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->what = what;
	s->name = path && strcmp(path, "-") ? path : "standard input";

	if (s->what == WHAT_ARCHIVE || s->what == WHAT_BLOB) {
		if (path && (stasync_is_http_url(path) || stasync_is_s3_url(path)))
			return cli_url_error(c, path, s->what == WHAT_BLOB ?
					     "a blob is read at random: give a local file, or an index (.caibx) and its store" :
					     "a .catar is read at random by mount: give a local file, or an index (.caidx) and its store");
		if (path && stasync_is_ssh_remote(path)) {
			/* over ssh: the whole .catar into a temporary file */
			s->url_name = strdup(path);
			if (!s->url_name)
				return cli_error(c, "out of memory");
			if (stasync_ssh_fetch_archive(path, &s->fd, &err) < 0)
				return cli_fail(c, &err);
			s->name = s->url_name;
		} else if (!path || strcmp(path, "-") == 0)
			s->fd = dup(STDIN_FILENO);
		else
			s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (s->fd < 0 || fstat(s->fd, &st) < 0)
			return cli_error(c, "%s: cannot open: %s", s->name, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return cli_error(c, "%s: not a file: it is read at random", s->name);
		s->size = (uint64_t)st.st_size;
		if (S_ISBLK(st.st_mode)) {
			off_t end = lseek(s->fd, 0, SEEK_END);

			s->size = end > 0 ? (uint64_t)end : 0;
		}
		s->mtime = st.st_mtim;
		return 0;
	}

	r = cli_index_fd_open(c, path, &s->fd, &s->url_name);
	if (r)
		return r;
	if (s->url_name)
		s->name = s->url_name;
	if (fstat(s->fd, &st) == 0)
		s->mtime = st.st_mtim;
	/* --seed: chunks found on this machine are not fetched */
	if (c->n_seeds && (r = cli_seed_open(c, s->fd, s->name, NULL, s->what == WHAT_ARCHIVE_INDEX)))
		return r;
	r = stasync_index_reader_open(s->fd, s->name, &s->index, &err);
	s->fd = -1;   /* the index reader owns it */
	if (r < 0)
		return cli_fail(c, &err);
	r = cli_stores_open(c, path && strcmp(path, "-") ? path : NULL, 0, &s->stores, &s->n_stores);
	if (r)
		return r;
	s->fetch = cli_fetch(c, s->stores, s->n_stores);
	vo.fetch = &s->fetch;
	vo.cache_bytes = c->mount_cache_bytes ? c->mount_cache_bytes : MOUNT_CHUNK_CACHE_DEFAULT;
	r = stasync_index_view_new(s->index, &vo, s->name, &s->view, &err);
	if (r < 0)
		return cli_fail(c, &err);
	s->size = stasync_index_view_size(s->view);
	return 0;
}

void mount_source_close(struct mount_source *s)
{
	stasync_index_view_free(s->view);
	stasync_index_reader_free(s->index);
	cli_stores_free(s->stores, s->n_stores);
	if (s->fd >= 0)
		close(s->fd);
	free(s->url_name);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
