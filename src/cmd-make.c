/* stasync make INDEX [INPUT] — chunk a file or block device into a store. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cmd_make(struct cli *c)
{
	const char *output = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	const char *input = c->argc > 1 ? cli_strip_file_url(c->argv[1]) : NULL;
	const char *input_name = input && strcmp(input, "-") ? input : "standard input";
	bool to_stdout = !output || strcmp(output, "-") == 0;
	stasync_blob_make_options o = { .sizes = c->sizes, .digest = c->digest };
	stasync_error err = { 0, "" };
	stasync_chunk_stats stats;
	stasync_chunk_id digest;
	stasync_output out;
	stasync_store **stores = NULL;
	size_t n_stores = 0;
	enum what what;
	struct stat st;
	int fd, r;

	if (c->argc > 2)
		return cli_error(c, "make takes the index to write and the file to read, nothing more");
	what = cli_what_of(c, output);
	if (what == WHAT_ARCHIVE || what == WHAT_ARCHIVE_INDEX)
		return cli_error(c, "%s: directory archives are not supported by this version yet",
				 output ? output : "-");
	if (what != WHAT_BLOB_INDEX) {
		if (to_stdout)
			return cli_error(c, "writing an index to standard output needs --what=blob-index");
		return cli_error(c, "%s: unknown kind of file to make (name it .caibx, or pass --what=blob-index)",
				 output);
	}

	if (!input || strcmp(input, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_error(c, "%s: cannot open: %s", input, strerror(errno));
	if (fstat(fd, &st) < 0)
		return cli_error(c, "%s: cannot stat: %s", input_name, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cli_error(c, "%s: is a directory; directory archives are not supported by this version yet",
				 input_name);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !S_ISCHR(st.st_mode))
		return cli_error(c, "%s: not a regular file, block device or pipe", input_name);
	/* Large sequential reads; tell the kernel so it reads ahead. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	r = cli_stores_open(c, to_stdout ? NULL : output, STASYNC_STORE_WRITABLE, &stores, &n_stores);
	if (r)
		return r;
	o.store = stores[0];

	if (stasync_output_open(&out, to_stdout ? NULL : output, 0644, &err) < 0) {
		cli_stores_free(stores, n_stores);
		return cli_fail(c, &err);
	}
	r = stasync_blob_make(fd, input_name, out.fd, to_stdout ? "standard output" : output, &o,
			      &digest, &stats, &err);
	if (r == 0)
		r = stasync_output_commit(&out, &err);
	else
		stasync_output_abort(&out);
	cli_stores_free(stores, n_stores);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0)
		return cli_fail(c, &err);

	cli_info(c, "%" PRIu64 " bytes in %" PRIu64 " chunks, %" PRIu64 " new in the store",
		 stats.bytes, stats.chunks, stats.chunks_new);
	/* casync prints the blob's digest; not when the index itself went to
	 * stdout, where it would corrupt the index. */
	if (!to_stdout) {
		char hex[STASYNC_DIGEST_HEX_SIZE];
		printf("%s\n", stasync_chunk_id_format(&digest, hex));
	}
	return 0;
}
