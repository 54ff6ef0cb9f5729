/* stasync extract — a blob index back into a file or device, or a directory
 * archive (.catar, .caidx) into a directory. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* index_open() — open a blob index given on the command line ("-" is
 * stdin, an http(s):// URL is fetched); with seed_output (extract: the
 * output), open the seeds too. Prints and returns 1 on failure. */
static int index_open(struct cli *c, const char *path, const char *seed_output,
		      stasync_index_reader **ret)
{
	stasync_error err = { 0, "" };
	char *name = NULL;
	int fd, r;

	r = cli_index_fd_open(c, path, &fd, &name);
	if (r)
		return r;
	if (seed_output && (r = cli_seed_open(c, fd, name, seed_output, false))) {
		close(fd);
		free(name);
		return r;
	}
	r = stasync_index_reader_open(fd, name, ret, &err);
	free(name);
	return r < 0 ? cli_fail(c, &err) : 0;
}

/* --unchanged-exit, a blob: whether `output` holds the blob already. 1 it
 * does (stats filled), 0 it does not (or is not there), 2 an error shown. */
static int blob_unchanged(struct cli *c, const char *index_path, const char *output,
			  stasync_chunk_stats *stats)
{
	stasync_index_reader *idx = NULL;
	stasync_error err = { 0, "" };
	int out_fd, r;

	if (!index_path || strcmp(index_path, "-") == 0) {
		cli_error(c, "--unchanged-exit needs an index that can be read twice, not standard input");
		return 2;
	}
	if (strcmp(output, "-") == 0)
		return 0;   /* written to stdout: always a change */
	out_fd = open(output, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (out_fd < 0)
		return 0;
	if (index_open(c, index_path, NULL, &idx)) {
		close(out_fd);
		return 2;
	}
	*stats = (stasync_chunk_stats){ 0 };
	(void)stasync_index_reader_totals(idx, &stats->chunks, &stats->bytes);
	r = stasync_blob_matches(idx, out_fd, output, &err);
	stats->chunks_in_place = stats->chunks;   /* read there, not fetched */
	stasync_index_reader_free(idx);
	close(out_fd);
	if (r < 0) {
		cli_fail(c, &err);
		return 2;
	}
	return r;
}

int cli_blob_index_run(struct cli *c, const char *index_path, const char *output,
		       stasync_chunk_id *digest)
{
	stasync_index_reader *idx = NULL;
	stasync_store **stores = NULL;
	size_t n_stores = 0;
	stasync_error err = { 0, "" };
	stasync_chunk_stats stats;
	stasync_fetch fetch;
	stasync_output out = { .fd = -1 };
	stasync_extract_stats files = { 0 };
	bool writing = output != NULL;
	unsigned flags = 0;
	struct stat st;
	int r;

	if (writing)
		cli_progress_begin(c, "extract");
	if (writing && c->unchanged_exit) {
		r = blob_unchanged(c, index_path, output, &stats);
		if (r) {
			cli_progress_end(c, r == 1);
			if (r == 2)
				return 1;
			return cli_report(c, &(struct cli_report){ .verb = "extract",
								   .what = WHAT_BLOB_INDEX,
								   .stats = &stats },
					  false);
		}
	}
	r = index_open(c, index_path, writing ? output : NULL, &idx);
	if (r) {
		cli_progress_end(c, false);
		return r;
	}
	cli_progress_index_total(c, idx);
	r = cli_stores_open(c, index_path && strcmp(index_path, "-") ? index_path : NULL, 0,
			    &stores, &n_stores);
	if (r) {
		stasync_index_reader_free(idx);
		return r;
	}
	if (writing && stasync_output_open(&out, output, 0644, &err) < 0) {
		r = -1;
		goto out;
	}
	/* an extracted file can be made again: no fsync (see README) */
	out.no_sync = true;
	/* a file (not a device, a pipe or an upload) goes in whole, in
	 * place of the one there or as a new one */
	if (writing && stasync_output_is_new(&out) && !out.upload)
		*(lstat(output, &st) == 0 ? &files.replaced : &files.created) = 1;
	/* casync digests the blob of an index with SHA-512/256 whatever
	 * --digest says (--digest only picks chunk ids when making). */
	fetch = cli_fetch(c, stores, n_stores);
	/* a new file (not a device, not standard output) gets holes; a block
	 * device already holding most of it is only written where it differs */
	if (writing && c->punch_holes && stasync_output_is_new(&out))
		flags |= STASYNC_BLOB_HOLES;
	if (writing && c->reflink && stasync_output_is_new(&out))
		flags |= STASYNC_BLOB_REFLINK;
	if (writing && c->seed_output && out.fd >= 0 && fstat(out.fd, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= STASYNC_BLOB_IN_PLACE;
	r = stasync_blob_extract(idx, &fetch, writing ? out.fd : -1,
				 writing && strcmp(output, "-") ? output : "standard output", flags,
				 STASYNC_DIGEST_SHA512_256, digest, &stats, &err);
	if (writing) {
		if (r == 0)
			r = stasync_output_commit(&out, &err);
		else
			stasync_output_abort(&out);
	}
out:
	cli_progress_end(c, r == 0);
	cli_seed_close(c);
	if (r == 0)
		cli_summary(c, false, &stats);
	stasync_index_reader_free(idx);
	cli_stores_free(stores, n_stores);
	if (r < 0)
		return cli_fail(c, &err);
	if (!writing)
		return 0;
	return cli_report(c, &(struct cli_report){ .verb = "extract", .what = WHAT_BLOB_INDEX,
						   .changed = true, .stats = &stats,
						   .bytes_written = stats.bytes, .files = files },
			  strcmp(output, "-") == 0);
}

/* --hardlink: the files of the tree that the --seed directories hold
 * unchanged become links to them. */
static int hardlink_seeds(struct cli *c, int target_fd, const char *target, stasync_error *err)
{
	int *fds = calloc(c->n_seeds + 1, sizeof(int));
	stasync_hardlink_stats st;
	size_t n = 0;
	int r;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_seeds; i++) {
		int fd = open(c->seeds[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			fds[n++] = fd;
	}
	r = stasync_hardlink_seeds(target_fd, target, fds, n, &st, err);
	if (r == 0)
		cli_info(c, "%" PRIu64 " files (%" PRIu64 " bytes) linked to the seeds' copies", st.files,
			 st.bytes);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return r;
}

/* --unchanged-exit, a tree: whether the directory `output` is the archive
 * already, as extract would leave it. 1 it is (stats filled), 0 it is not,
 * 2 an error shown. Options that make the tree differ from the archive on
 * purpose (a subtree, --uid-shift) count as a change without looking. */
static int tree_unchanged(struct cli *c, const char *input, const char *output,
			  const char *subtree, enum what what, stasync_chunk_stats *stats)
{
	stasync_error err = { 0, "" };
	struct cli_archive *a = NULL;
	bool seeding = c->seeding;
	uint64_t bytes = 0;
	struct stat st;
	int fd, r;

	if (!input || strcmp(input, "-") == 0) {
		cli_error(c, "--unchanged-exit needs an archive that can be read twice, not standard input");
		return 2;
	}
	if (subtree || c->uid_shift_apply)
		return 0;
	if (lstat(output, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	c->seeding = false;   /* a plain read of the archive, no seeds */
	r = cli_archive_open(c, input, what, false, &a);
	c->seeding = seeding;
	if (r) {
		close(fd);
		return 2;
	}
	r = cli_archive_compare(a, fd, output, &bytes, &err);
	close(fd);
	if (!cli_archive_chunk_stats(a, stats))
		*stats = (stasync_chunk_stats){ .bytes = bytes };
	if (cli_archive_finish(a, r < 0 ? r : 0, &err))
		return 2;
	return r;
}

/* A directory archive (.catar, .caidx) into a directory, made if missing. */
static int extract_archive(struct cli *c, const char *input, const char *output,
			   const char *subtree, enum what what)
{
	stasync_extract_options o;
	stasync_extract_stats files;
	stasync_chunk_stats stats;
	stasync_error err = { 0, "" };
	struct cli_archive *a = NULL;
	double started = 0;
	bool made;
	int fd, r;

	if (c->unchanged_exit) {
		cli_progress_begin(c, "extract");
		r = tree_unchanged(c, input, output, subtree, what, &stats);
		cli_progress_end(c, r == 1);
		if (r == 2)
			return 1;
		if (r == 1)
			return cli_report(c, &(struct cli_report){ .verb = "extract", .what = what,
								   .stats = &stats },
					  false);
		/* the extract starts its counters afresh; its time includes
		 * the comparison */
		started = c->started;
		c->progress = (stasync_progress){ 0 };
	}
	made = mkdir(output, 0755) == 0;
	if (!made && errno != EEXIST)
		return cli_error(c, "%s: cannot create directory: %s", output, strerror(errno));
	fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cli_error(c, "%s: cannot open directory: %s", output, strerror(errno));
	cli_progress_begin(c, "extract");
	if (started > 0)
		c->started = started;
	c->seeding = true;
	c->seed_target = made ? NULL : output;   /* a directory just made holds nothing */
	r = cli_archive_open(c, input, what, false, &a);
	if (r) {
		cli_progress_end(c, false);
		close(fd);
		if (made)
			(void)rmdir(output);
		return r;
	}
	stasync_extract_options_init(&o);
	o.restore_mask = cli_restore_mask(c);
	o.delete_extra = c->delete_extra;
	o.undo_immutable = c->undo_immutable;
	o.punch_holes = c->punch_holes;
	o.subtree = subtree;
	if (c->uid_shift_apply) {
		o.uid_shift = c->uid_shift;
		o.uid_range = c->uid_range;
	}
	r = stasync_extract(cli_archive_decoder(a), fd, output, &o, &files, &err);
	files.created += made;   /* the target directory itself */
	if (r == 0 && c->hardlink)
		r = hardlink_seeds(c, fd, output, &err);
	close(fd);
	cli_progress_end(c, r == 0);
	if (!cli_archive_chunk_stats(a, &stats))
		stats = (stasync_chunk_stats){
			.bytes = stasync_catar_decoder_offset(cli_archive_decoder(a)) };
	else if (r == 0)
		cli_summary(c, false, &stats);
	if (r == 0)
		cli_info(c, "%" PRIu64 " entries created, %" PRIu64 " replaced, %" PRIu64 " removed",
			 files.created, files.replaced, files.removed);
	r = cli_archive_finish(a, r, &err);
	cli_seed_close(c);
	/* a directory made here for an archive that could not be read at
	 * all (a URL that is missing) goes again; one with entries stays */
	if (r && made)
		(void)rmdir(output);
	if (r)
		return r;
	return cli_report(c, &(struct cli_report){ .verb = "extract", .what = what,
						   .changed = true, .stats = &stats,
						   .bytes_written = stats.bytes, .files = files },
			  false);
}

int cmd_extract(struct cli *c)
{
	const char *input = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	const char *output = c->argc > 1 ? cli_strip_file_url(c->argv[1]) : NULL;
	const char *subtree = c->argc > 2 ? c->argv[2] : NULL;
	enum what what;

	if (c->argc > 3)
		return cli_error(c, "extract takes the archive or index to read, the output and a subtree, nothing more");
	what = cli_what_of(c, input);
	if (what == WHAT_ARCHIVE || what == WHAT_ARCHIVE_INDEX)
		return extract_archive(c, input, output ? output : ".", subtree, what);
	if (subtree)
		return cli_error(c, "a subtree can only be extracted from a directory archive");
	if (what != WHAT_BLOB_INDEX) {
		if (!input || strcmp(input, "-") == 0)
			return cli_error(c, "reading from standard input needs --what=archive, --what=archive-index or --what=blob-index");
		return cli_error(c, "%s: unknown kind of file to extract (name it .catar, .caidx or .caibx, or pass --what=)",
				 input);
	}
	return cli_blob_index_run(c, input, output ? output : "-", NULL);
}
