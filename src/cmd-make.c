/* stasync make OUTPUT [INPUT] — a blob index from a file or block device,
 * or a .catar / .caidx from a directory. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Where encoded catar bytes go when making a plain .catar: a buffer in
 * front of the output file, and the archive digest casync prints. */
struct catar_sink {
	int fd;
	const char *name;
	stasync_digest *digest;
	struct cli *c;                 /* for the progress */
	uint8_t buf[1 << 18];
	size_t len;
	uint64_t total;                /* the archive's size, for --json */
};

/* Whether the output file at `path` (a local file that exists) already
 * holds exactly the bytes written to `out` (not committed yet). False
 * when it cannot tell. */
static bool same_output(const struct stasync_output *out, const char *path)
{
	static uint8_t a[1 << 16], b[1 << 16];
	struct stat sa, sb;
	bool same = false;
	int fa, fb;

	fa = stasync_output_reopen(out);
	if (fa < 0)
		return false;
	fb = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fb >= 0 && fstat(fa, &sa) == 0 && fstat(fb, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sa.st_size == sb.st_size) {
		for (;;) {
			ssize_t ka = read(fa, a, sizeof(a)), kb;

			if (ka < 0)
				break;
			kb = read(fb, b, (size_t)ka);
			if (kb != ka || memcmp(a, b, (size_t)ka) != 0)
				break;
			if (ka == 0) {
				same = true;
				break;
			}
		}
	}
	if (fb >= 0)
		close(fb);
	close(fa);
	return same;
}

/* The end of a make whose result is r: the output committed, or, with
 * --unchanged-exit when nothing else changed (`may_be_same`) and the file
 * there holds the same bytes, dropped and that file left untouched
 * (*unchanged); else aborted. *written: the size committed, for --json. */
static int output_finish(const struct cli *c, stasync_output *out, int r, bool may_be_same,
			 bool *unchanged, uint64_t *written, stasync_error *err)
{
	struct stat st;

	*unchanged = false;
	*written = 0;
	if (r < 0) {
		stasync_output_abort(out);
		return r;
	}
	if (c->unchanged_exit && out->path && !out->upload && may_be_same &&
	    same_output(out, out->path)) {
		*unchanged = true;
		stasync_output_abort(out);
		return 0;
	}
	if (fstat(out->fd, &st) == 0 && S_ISREG(st.st_mode))
		*written = (uint64_t)st.st_size;
	return stasync_output_commit(out, err);
}

static int sink_flush(struct catar_sink *s, stasync_error *err)
{
	int e = cli_write_full(s->fd, s->buf, s->len);

	if (e < 0) {
		snprintf(err->message, sizeof(err->message), "%s: cannot write: %s", s->name,
			 stasync_strerror(e));
		return err->code = e;
	}
	s->len = 0;
	return 0;
}

static int sink_write(void *ctx, const void *p, size_t n, stasync_error *err)
{
	struct catar_sink *s = ctx;
	const uint8_t *q = p;

	stasync_digest_write(s->digest, p, n);
	cli_progress_bytes(s->c, n);
	s->total += n;
	while (n > 0) {
		size_t k = sizeof(s->buf) - s->len < n ? sizeof(s->buf) - s->len : n;
		memcpy(s->buf + s->len, q, k);
		s->len += k;
		q += k;
		n -= k;
		if (s->len == sizeof(s->buf)) {
			int r = sink_flush(s, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int make_archive(struct cli *c, const char *output, const char *shown, const char *input,
			enum what what)
{
	const char *out_name = output && strcmp(output, "-") ? shown : "standard output";
	stasync_encode_options eo = cli_encode_options(c);
	stasync_error err = { 0, "" };
	stasync_chunk_writer *cw = NULL;
	stasync_store **stores = NULL;
	size_t n_stores = 0;
	struct catar_sink *sink = NULL;
	stasync_chunk_id digest;
	stasync_chunk_stats stats = { 0 };
	uint64_t sink_bytes = 0;
	stasync_output out;
	bool unchanged = false;
	uint64_t written = 0;
	int dir_fd, r;

	dir_fd = open(input, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return cli_error(c, "%s: cannot open directory: %s", input, strerror(errno));
	if (what == WHAT_ARCHIVE_INDEX) {
		r = cli_stores_open(c, output && strcmp(output, "-") ? output : NULL,
				    STASYNC_STORE_WRITABLE, &stores, &n_stores);
		if (r == 0)
			r = cli_plan_puts(c, stores[0], 0);
		if (r) {
			cli_stores_free(stores, n_stores);
			close(dir_fd);
			return r;
		}
	}
	if (stasync_output_open_with(&out, output, 0644, &c->http, &err) < 0) {
		r = -1;
		goto done;
	}
	cli_progress_begin(c, "make");
	if (what == WHAT_ARCHIVE_INDEX) {
		stasync_chunk_writer_options wo = {
			.sizes = c->sizes,
			.digest = c->digest,
			.feature_flags = eo.feature_flags,
			.store = stores[0],
			.progress = cli_progress(c),
		};
		r = stasync_chunk_writer_new(&wo, out.fd, out_name, &cw, &err);
		if (r == 0)
			r = stasync_catar_encode(dir_fd, input, &eo, stasync_chunk_writer_write, cw, &err);
		if (r == 0)
			r = stasync_chunk_writer_finish(cw, &digest, &stats, &err);
	} else {
		sink = calloc(1, sizeof(*sink));
		r = sink ? stasync_digest_new(c->digest, &sink->digest) : -ENOMEM;
		if (r < 0)
			snprintf(err.message, sizeof(err.message), "out of memory");
		else {
			sink->fd = out.fd;
			sink->name = out_name;
			sink->c = c;
			r = stasync_catar_encode(dir_fd, input, &eo, sink_write, sink, &err);
			if (r == 0)
				r = sink_flush(sink, &err);
			if (r == 0)
				stasync_digest_final(sink->digest, &digest);
		}
	}
	/* --unchanged-exit: for an index, no chunk new either */
	r = output_finish(c, &out, r, what != WHAT_ARCHIVE_INDEX || stats.chunks_new == 0, &unchanged,
			  &written, &err);
	cli_progress_end(c, r == 0);
done:
	if (sink) {
		sink_bytes = sink->total;
		stasync_digest_free(sink->digest);
	}
	free(sink);
	stasync_chunk_writer_free(cw);
	cli_stores_free(stores, n_stores);
	close(dir_fd);
	if (r < 0)
		return cli_fail(c, &err);
	if (what == WHAT_ARCHIVE_INDEX)
		cli_summary(c, true, &stats);
	else
		stats.bytes = sink_bytes;
	if (output && strcmp(output, "-") && !c->json) {
		char hex[STASYNC_DIGEST_HEX_SIZE];
		printf("%s\n", stasync_chunk_id_format(&digest, hex));
	}
	return cli_report(c, &(struct cli_report){ .verb = "make", .what = what,
						   .changed = !unchanged, .stats = &stats,
						   .bytes_written = unchanged ? 0 : written,
						   .digest = &digest },
			  !output || !strcmp(output, "-"));
}

/* output: the file to make; shown: its name in messages. */
static int make(struct cli *c, const char *output, const char *shown)
{
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
	uint64_t size = 0, written = 0;
	bool unchanged = false;
	int fd, r;

	if (c->argc > 2)
		return cli_error(c, "make takes the file to write and the path to read, nothing more");
	if (output && stasync_is_ssh_remote(output))
		return cmd_make_remote(c, output, input);
	what = cli_what_of(c, output);
	if (what == WHAT_ARCHIVE || what == WHAT_ARCHIVE_INDEX)
		return make_archive(c, output, shown, input ? input : ".", what);
	if (what != WHAT_BLOB_INDEX) {
		if (to_stdout)
			return cli_error(c, "writing to standard output needs --what=archive, --what=archive-index or --what=blob-index");
		return cli_error(c, "%s: unknown kind of file to make (name it .catar, .caidx or .caibx, or pass --what=)",
				 output);
	}

	if (!input || strcmp(input, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_error(c, "%s: cannot open: %s", input, strerror(errno));
	if (fstat(fd, &st) < 0)
		return cli_error(c, "%s: cannot stat: %s", input_name, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return cli_error(c, "%s: is a directory; make a .catar or .caidx of it, not a blob index",
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
	o.feature_flags = cli_feature_flags(c, false);
	cli_progress_begin(c, "make");
	o.progress = cli_progress(c);
	if (S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end > 0 && lseek(fd, 0, SEEK_SET) == 0)
			size = (uint64_t)end;
	}
	if (size)
		cli_progress_total(c, size);
	if (cli_plan_puts(c, stores[0], size)) {
		cli_progress_end(c, false);
		cli_stores_free(stores, n_stores);
		return 1;
	}

	if (stasync_output_open_with(&out, to_stdout ? NULL : output, 0644, &c->http, &err) < 0) {
		cli_progress_end(c, false);
		cli_stores_free(stores, n_stores);
		return cli_fail(c, &err);
	}
	r = stasync_blob_make(fd, input_name, out.fd, to_stdout ? "standard output" : shown, &o,
			      &digest, &stats, &err);
	r = output_finish(c, &out, r, stats.chunks_new == 0, &unchanged, &written, &err);
	cli_progress_end(c, r == 0);
	cli_stores_free(stores, n_stores);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0)
		return cli_fail(c, &err);

	cli_summary(c, true, &stats);
	/* casync prints the blob's digest; not when the index itself went to
	 * stdout, where it would corrupt the index. */
	if (!to_stdout && !c->json) {
		char hex[STASYNC_DIGEST_HEX_SIZE];
		printf("%s\n", stasync_chunk_id_format(&digest, hex));
	}
	return cli_report(c, &(struct cli_report){ .verb = "make", .what = what,
						   .changed = !unchanged, .stats = &stats,
						   .bytes_written = unchanged ? 0 : written,
						   .digest = &digest },
			  to_stdout);
}

int cmd_make(struct cli *c)
{
	const char *output = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	/* An index URL is shown without its password. */
	bool url = output && (stasync_is_http_url(output) || stasync_is_s3_url(output));
	char *shown = url ? stasync_url_redact(output) : NULL;
	int r;

	if (url && !shown)
		return cli_error(c, "out of memory");
	r = make(c, output, shown ? shown : output);
	free(shown);
	return r;
}
