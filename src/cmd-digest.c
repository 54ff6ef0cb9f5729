/* stasync digest [FILE|INDEX] — print the digest of a blob, read directly
 * or put together from an index and stores. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

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
	if (what == WHAT_BLOB_INDEX) {
		r = cli_blob_index_run(c, input, NULL, &digest);
		if (r)
			return r;
		goto print;
	}
	if (what == WHAT_ARCHIVE || what == WHAT_ARCHIVE_INDEX || what == WHAT_DIRECTORY)
		return cli_error(c, "%s: digests of directory archives are not supported by this version yet",
				 name);

	if (!input || strcmp(input, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_error(c, "%s: cannot open: %s", input, strerror(errno));
	if (fstat(fd, &st) < 0)
		return cli_error(c, "%s: cannot stat: %s", name, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cli_error(c, "%s: is a directory; directory digests are not supported by this version yet",
				 name);
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
