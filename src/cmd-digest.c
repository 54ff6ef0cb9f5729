/* stasync digest — the digest of a blob (a file, or put together from an
 * index) or of a directory archive (a directory, .catar or .caidx). */
#include <fcntl.h>
#include <stdio.h>
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
		return cli_error(c, "digest of a path inside an archive needs a directory archive, which this version does not support yet");
	what = cli_what_of(c, input);
	if (!input && (what == WHAT_AUTO || what == WHAT_DIRECTORY))
		return digest_archive(c, ".", WHAT_DIRECTORY);   /* as casync */
	if (input && stasync_is_http_url(input) && what != WHAT_BLOB_INDEX &&
	    what != WHAT_ARCHIVE_INDEX && what != WHAT_ARCHIVE)
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
