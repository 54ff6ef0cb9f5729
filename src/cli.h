/* What the command-line verbs share: parsed options and messages. */
#ifndef STASYNC_SRC_CLI_H
#define STASYNC_SRC_CLI_H

#include <errno.h>
#include <stdbool.h>
#include <stasync/stasync.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

enum what {
	WHAT_AUTO,
	WHAT_ARCHIVE,
	WHAT_ARCHIVE_INDEX,
	WHAT_BLOB,
	WHAT_BLOB_INDEX,
	WHAT_DIRECTORY,
};

enum progress_mode {
	PROGRESS_AUTO,                /* a bar when stderr is a terminal */
	PROGRESS_NONE,
	PROGRESS_BAR,
	PROGRESS_PLAIN,               /* one line of key=value a second */
};

struct cli_progress;

struct cli {
	const char *program;          /* "stasync", or "casync" when called so */
	int verbose;
	const char *store;            /* --store, else CASYNC_STORE, else derived */
	const char **extra_stores;
	size_t n_extra_stores;
	stasync_chunk_sizes sizes;    /* completed */
	stasync_digest_type digest;
	stasync_compression compression; /* of the chunks make writes */
	enum what what;
	/* --seed, --seed-output; the seeds opened for extract (seed.c) */
	const char **seeds;
	size_t n_seeds;
	bool seed_output;
	bool reflink;                 /* --reflink: clone blocks from seed files */
	bool hardlink;                /* --hardlink: link identical seed files */
	stasync_seed *seed;
	stasync_chunk_set *seed_wanted;
	bool seeding;                 /* extract: an index may use seeds */
	const char *seed_target;      /* ... and the output dir is one (NULL: not) */
	/* --with= / --without= and the exclude switches, combined by
	 * cli_feature_flags() the way casync combines them. */
	uint64_t with, without;
	bool exclude_nodump, exclude_file, exclude_submounts;
	bool recursive;               /* --recursive= (list): default true */
	bool mkdir;                   /* --mkdir= (mount): default true */
	size_t mount_cache_bytes;     /* --chunk-cache= (mount): 0 the default */
	const char *nbd_socket;       /* --nbd-socket= (mkdev) */
	/* extraction */
	bool delete_extra, undo_immutable, punch_holes, uid_shift_apply;
	uid_t uid_shift, uid_range;
	/* HTTP(S): --cacert, --insecure, --retries, --timeout,
	 * --rate-limit-bps, --concurrency */
	stasync_http_options http;
	unsigned concurrency;         /* --concurrency: 0 when not given */
	const char *cache;            /* --cache */
	/* store maintenance: gc --dry-run, verify --repair, info --json */
	bool dry_run, repair, json;
	/* --unchanged-exit=N: the exit status when make or extract found the
	 * output already as it would leave it (0: not given, casync's 0/1) */
	int unchanged_exit;
	bool want_help;               /* -h: shown once the verb is known */
	/* --progress; the counters the library advances; src/progress.c */
	enum progress_mode progress_mode;
	stasync_progress progress;
	struct cli_progress *progress_state;
	double started;               /* when the work began, for -v */
	stasync_store *cache_store;   /* opened by cli_stores_open() */
	int argc;                     /* verb arguments, verb name excluded */
	char **argv;
};

/* cli_error() — print "PROGRAM: message" on stderr; returns exit status 1. */
int cli_error(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_fail() — the same for a library error. */
int cli_fail(const struct cli *c, const stasync_error *e);
/* cli_notify_ready() — tell a service manager (sd_notify's $NOTIFY_SOCKET,
 * when set) that we are ready: "READY=1", as casync sends once a mount is
 * usable. */
void cli_notify_ready(void);
/* cli_info() — a line on stderr under -v. */
void cli_info(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_write_full() — write all n bytes to fd; 0 or -errno (-EIO when
 * nothing could be written). */
int cli_write_full(int fd, const void *p, size_t n);

/* cli_what_of() — the kind named by --what, else by the path's suffix. */
enum what cli_what_of(const struct cli *c, const char *path);
const char *cli_what_name(enum what w);

/* cli_seek_normalize() — a PATH inside an archive as casync reads it, for
 * every verb that takes one: empty components ("a//b", "/a/") dropped, ""
 * for the root; "." and ".." are names like any other (so never found).
 * malloc()ed; NULL when out of memory. */
char *cli_seek_normalize(const char *s);

/* cli_strip_file_url() — "file:///x" → "/x"; other strings unchanged. */
const char *cli_strip_file_url(const char *s);

/* cli_url_error() — cli_error() for "URL: message", the URL's password
 * hidden. Returns 1. */
int cli_url_error(const struct cli *c, const char *url, const char *message);

/* cli_index_fd_open() — open an index named on the command line: NULL or
 * "-" is stdin, an http(s):// URL is fetched whole (at most
 * STASYNC_HTTP_INDEX_MAX bytes) into an unlinked temporary file, anything
 * else is a file. *ret_name is its name for messages (a URL without its
 * password); free() it. Prints and returns 1 on failure. */
int cli_index_fd_open(const struct cli *c, const char *path, int *ret_fd, char **ret_name);

/* cli_primary_store() — the primary store's locator: --store, else
 * CASYNC_STORE, else default.castr beside index_path (then allocated in
 * *derived, to free). NULL when out of memory. */
const char *cli_primary_store(const struct cli *c, const char *index_path, char **derived);

/* cli_stores_open() — the primary store (--store, CASYNC_STORE, or
 * default.castr beside index_path, a URL beside a URL) followed by the
 * --extra-store ones. Any of them may be an http(s):// URL.
 * `flags` apply to the primary store only. Opens the --cache store too,
 * when reading. Returns 0 or exit status 1
 * after printing. Free with cli_stores_free(). */
int cli_stores_open(struct cli *c, const char *index_path, unsigned flags,
		    stasync_store ***ret, size_t *n);
void cli_stores_free(stasync_store **stores, size_t n);

/* Tell the store `make` writes to about the input, `bytes` long (0: not
 * known), and say under -v how it will learn which chunks it has. 0, or
 * exit status 1 with the message shown. */
int cli_plan_puts(struct cli *c, stasync_store *store, uint64_t bytes);

/* cli_fetch() — how chunks are read: the stores, the --cache store and
 * --concurrency. */
stasync_fetch cli_fetch(struct cli *c, stasync_store *const *stores, size_t n);

/* cli_feature_flags() — the feature flags to make an archive (directory)
 * or a blob index with. */
uint64_t cli_feature_flags(const struct cli *c, bool directory);
/* cli_encode_options() — features and --uid-shift/--uid-range for the
 * catar encoder. */
stasync_encode_options cli_encode_options(const struct cli *c);
/* cli_restore_mask() — which archive features extraction restores. */
uint64_t cli_restore_mask(const struct cli *c);

/* cli_archive_open() — a decoder over a .catar, a .caidx (with the
 * stores) or a directory (encoded on the fly); WHAT_AUTO tells a directory
 * from a .catar. With `digest`, every byte decoded is digested too
 * (cli_archive_digest() once all is read). Prints and returns 1 on
 * failure. Release with cli_archive_finish(). */
struct cli_archive;
int cli_archive_open(struct cli *c, const char *path, enum what what, bool digest,
		     struct cli_archive **ret);
stasync_catar_decoder *cli_archive_decoder(struct cli_archive *a);
int cli_archive_digest(struct cli_archive *a, stasync_chunk_id *ret);
/* cli_archive_chunk_stats() — what the chunk reader of an index read; false
 * when the archive did not come from an index. */
bool cli_archive_chunk_stats(const struct cli_archive *a, stasync_chunk_stats *ret);
/* cli_archive_compare() — before anything else is read from it: whether
 * the tree below dir_fd, encoded with the archive's own feature flags, is
 * the archive byte for byte (stasync_catar_compare()); *bytes: how far
 * it read. 1 equal, 0 not (or
 * --without= leaves some of its features unrestored), or a negative code
 * with a message in err. */
int cli_archive_compare(struct cli_archive *a, int dir_fd, const char *root,
			uint64_t *bytes, stasync_error *err);
/* cli_archive_finish() — free everything. r and err are the verb's own
 * outcome; the exit status is returned after printing the error that
 * explains it best (a failing directory encoder explains a short stream
 * better than the decoder can). */
int cli_archive_finish(struct cli_archive *a, int r, const stasync_error *err);

/* cli_blob_index_run() — read a blob index and its chunks; write the blob
 * to `output` ("-" stdout, NULL nowhere) and/or return its digest. */
int cli_blob_index_run(struct cli *c, const char *index_path, const char *output,
		       stasync_chunk_id *digest);

int cmd_make(struct cli *c);
int cmd_extract(struct cli *c);
int cmd_digest(struct cli *c);
int cmd_mount(struct cli *c);
int cmd_mkdev(struct cli *c);
int cmd_list(struct cli *c);
int cmd_mtree(struct cli *c);
int cmd_stat(struct cli *c);
/* src/remote.c: the hidden verbs for ssh remotes, and make to a remote. */
/* ---- seeds (seed.c) ---- */
/* cli_seed_open() — when --seed is given, or --seed-output and `output`
 * exists (a file for a blob, a directory for a tree): read the index at
 * index_fd (a file; its offset is put back) for the chunks it wants, and
 * cut the seeds. Sets c->seed (NULL: no seeds). 0 or exit status 1. */
int cli_seed_open(struct cli *c, int index_fd, const char *index_name, const char *output,
		  bool tree);
void cli_seed_close(struct cli *c);

/* ---- progress (progress.c) ---- */
/* cli_progress_begin() — start showing progress of `verb`, as
 * --progress says; also starts the clock for cli_elapsed(). */
void cli_progress_begin(struct cli *c, const char *verb);
/* cli_progress() — the counters to hand the library; NULL when not shown. */
stasync_progress *cli_progress(struct cli *c);
/* bytes done that no library counter sees (a .catar read or written) */
void cli_progress_bytes(struct cli *c, uint64_t n);
/* the size of the whole, when known: given, or an index's */
void cli_progress_total(struct cli *c, uint64_t bytes);
void cli_progress_index_total(struct cli *c, stasync_index_reader *r);
/* cli_progress_end() — stop; clear the bar, or print the last plain line
 * when ok. */
void cli_progress_end(struct cli *c, bool ok);
/* seconds since cli_progress_begin() */
double cli_elapsed(const struct cli *c);
/* cli_summary() — under -v, what make (made) or extract did, and how fast */
void cli_summary(const struct cli *c, bool made, const stasync_chunk_stats *s);

/* ---- automation (progress.c) ---- */

struct cli_report {
	const char *verb;             /* "make" or "extract" */
	enum what what;
	bool changed;
	const stasync_chunk_stats *stats; /* NULL: nothing known (zeros) */
	uint64_t bytes_written;
	const stasync_chunk_id *digest;   /* make: what it prints; else NULL */
	stasync_extract_stats files;      /* extract: entries created, replaced, removed */
};
/* cli_report() — under --json, the JSON object of the schema in the
 * README, on stdout (on stderr when to_stderr: stdout carries data).
 * Returns the exit status of a successful run: --unchanged-exit's when
 * nothing changed, else 0. */
int cli_report(const struct cli *c, const struct cli_report *r, bool to_stderr);

int cmd_gc(struct cli *c);
int cmd_verify(struct cli *c);
int cmd_info(struct cli *c);
int cmd_remote_pull(struct cli *c);
int cmd_remote_push(struct cli *c);
int cmd_make_remote(struct cli *c, const char *output, const char *input);

#endif
