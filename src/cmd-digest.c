/* stasync digest [INPUT [PATH]] — the digest of a blob (a file, or put
 * together from an index) or of a directory archive (a directory, .catar
 * or .caidx); with PATH, of one directory or file inside a .catar or
 * .caidx, as casync's `digest ARCHIVE PATH` prints it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The digest of a catar stream: the archive is decoded (and so checked)
 * while its bytes are digested; payloads the decoder skips still pass
 * through the digesting reader. */
static int digest_archive(struct cli *c, const char *input, enum what what)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_error err = { 0, "" };
	struct cli_archive *a = NULL;
	const stasync_entry *e;
	stasync_chunk_id digest;
	int r;

	r = cli_archive_open(c, input ? input : ".", what, true, &a);
	if (r)
		return r;
	while ((r = stasync_catar_decoder_next(cli_archive_decoder(a), &e, &err)) > 0)
		;
	if (r == 0 && cli_archive_digest(a, &digest) < 0) {
		r = -EBADMSG;
		snprintf(err.message, sizeof(err.message), "%s: too short to be an archive",
			 input ? input : ".");
	}
	r = cli_archive_finish(a, r, &err);
	if (r == 0)
		printf("%s\n", stasync_chunk_id_format(&digest, hex));
	return r;
}

static const char *kind_of(uint64_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFLNK: return "a symbolic link";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFIFO: return "a fifo";
	case S_IFSOCK: return "a socket";
	default: return "of an unknown kind";
	}
}

/* The digest of the contents of the regular file the decoder stands at,
 * with the archive's digest type (what mtree prints for it). */
static int digest_payload(stasync_catar_decoder *d, const stasync_entry *e,
			  stasync_chunk_id *ret, stasync_error *err)
{
	stasync_digest *dg = NULL;
	uint8_t *buf = malloc(64 * 1024);
	ssize_t n;

	if (!buf || stasync_digest_new(e->feature_flags & STASYNC_SHA512_256 ?
				       STASYNC_DIGEST_SHA512_256 : STASYNC_DIGEST_SHA256,
				       &dg) < 0) {
		free(buf);
		snprintf(err->message, sizeof(err->message), "out of memory");
		return err->code = -ENOMEM;
	}
	while ((n = stasync_catar_decoder_read_payload(d, buf, 64 * 1024, err)) > 0)
		stasync_digest_write(dg, buf, (size_t)n);
	if (n == 0)
		stasync_digest_final(dg, ret);
	stasync_digest_free(dg);
	free(buf);
	return n < 0 ? (int)n : 0;
}

/* The digest of PATH inside an archive: a directory's is that of its
 * records (the digest of an archive of it alone), a regular file's that of
 * its contents. Anything else has none: one line, exit 1. Returns the exit
 * status, after printing. */
static int digest_path(struct cli *c, const char *input, enum what what, const char *path)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_error err = { 0, "" };
	struct cli_archive *a = NULL;
	const stasync_entry *e = NULL;
	stasync_catar_decoder *d;
	stasync_chunk_id digest;
	char *seek;
	int r;

	seek = cli_seek_normalize(path);
	if (!seek)
		return cli_error(c, "out of memory");
	r = cli_archive_open(c, input, what, false, &a);
	if (r) {
		free(seek);
		return r;
	}
	d = cli_archive_decoder(a);
	while ((r = stasync_catar_decoder_next(d, &e, &err)) > 0)
		if (r == STASYNC_CATAR_ENTRY && e && strcmp(stasync_catar_decoder_path(d), seek) == 0)
			break;
	if (r == 0)
		r = cli_error(c, "%s: no such file or directory in the archive", path);
	else if (r > 0 && S_ISDIR(e->mode)) {
		bool root = stasync_catar_decoder_depth(d) == 0;

		r = stasync_catar_decoder_digest_dir(d, &digest, &err);
		/* the whole archive: nothing may follow its root */
		if (r == 0 && root)
			r = stasync_catar_decoder_next(d, NULL, &err);
	} else if (r > 0 && S_ISREG(e->mode))
		r = digest_payload(d, e, &digest, &err);
	else if (r > 0)
		r = cli_error(c, "%s: %s in the archive, not a file or directory: it has no digest",
			      path, kind_of(e->mode));
	free(seek);
	if (r < 0)
		return cli_archive_finish(a, r, &err);
	r = cli_archive_finish(a, 0, &err) ?: r;
	if (r == 0)
		printf("%s\n", stasync_chunk_id_format(&digest, hex));
	return r;
}

/* What casync takes an input with a PATH for: an archive or an archive
 * index, named so or by --what; another regular file is read as an
 * archive. Returns the exit status, after printing. */
static int digest_in_archive(struct cli *c, const char *input)
{
	enum what what = cli_what_of(c, input);
	struct stat st;

	if (c->argc > 2)
		return cli_error(c, "digest takes an input and at most one path inside it");
	if (strcmp(input, "-") == 0 && what == WHAT_AUTO)
		what = WHAT_ARCHIVE;
	if (what == WHAT_AUTO) {
		if (stasync_is_http_url(input) || stasync_is_s3_url(input) ||
		    stasync_is_ssh_remote(input))
			return cli_url_error(c, input, "a path inside needs a .catar or .caidx (or pass --what=archive or --what=archive-index)");
		if (stat(input, &st) == 0 && S_ISDIR(st.st_mode))
			return cli_error(c, "%s: a directory: a path inside needs a .catar or .caidx",
					 input);
		what = WHAT_ARCHIVE;
	}
	if (what != WHAT_ARCHIVE && what != WHAT_ARCHIVE_INDEX)
		return cli_error(c, "a path inside needs --what=archive or archive-index, not %s",
				 cli_what_name(what));
	return digest_path(c, input, what, c->argv[1]);
}

int cmd_digest(struct cli *c)
{
	const char *input = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	const char *name = input && strcmp(input, "-") ? input : "standard input";
	char hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_error err = { 0, "" };
	stasync_chunk_id digest;
	enum what what;
	struct stat st;
	int fd, r;

	if (c->argc > 1)
		return digest_in_archive(c, input);
	what = cli_what_of(c, input);
	if (!input && (what == WHAT_AUTO || what == WHAT_DIRECTORY))
		return digest_archive(c, ".", WHAT_DIRECTORY);   /* as casync */
	if (input && (stasync_is_http_url(input) || stasync_is_s3_url(input)) &&
	    what != WHAT_BLOB_INDEX && what != WHAT_ARCHIVE_INDEX && what != WHAT_ARCHIVE)
		return cli_url_error(c, input, "expected a .catar, .caibx or .caidx URL (or pass --what=)");
	if (what == WHAT_BLOB_INDEX) {
		r = cli_blob_index_run(c, input, NULL, &digest);
		if (r)
			return r;
		goto print;
	}
	if (what == WHAT_ARCHIVE || what == WHAT_ARCHIVE_INDEX || what == WHAT_DIRECTORY ||
	    (what == WHAT_AUTO && input && stat(input, &st) == 0 && S_ISDIR(st.st_mode)))
		return digest_archive(c, input, what);

	if (!input || strcmp(input, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_error(c, "%s: cannot open: %s", input, strerror(errno));
	if (fstat(fd, &st) < 0)
		return cli_error(c, "%s: cannot stat: %s", name, strerror(errno));
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = stasync_blob_digest(fd, name, c->digest, &digest, &err);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0)
		return cli_fail(c, &err);
print:
	printf("%s\n", stasync_chunk_id_format(&digest, hex));
	return 0;
}
