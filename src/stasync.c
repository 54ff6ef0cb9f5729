/* stasync — main: options, the verb table, help. Called as "casync" it
 * answers to casync's command line the same way. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Option groups of --help: each verb shows the ones it takes. */
enum {
	H_GENERAL = 1 << 0,
	H_STORES = 1 << 1,
	H_MAKE = 1 << 2,
	H_FEATURES = 1 << 3,
	H_EXTRACT = 1 << 4,
	H_LIST = 1 << 5,
	H_REMOTE = 1 << 6,
	H_GC = 1 << 7,
	H_VERIFY = 1 << 8,
	H_INFO = 1 << 9,
	H_PROGRESS = 1 << 10,
	H_MOUNT = 1 << 11,
	H_MKDEV = 1 << 12,
	H_AUTOMATION = 1 << 13,
};

struct verb {
	const char *name;
	int (*run)(struct cli *c);
	const char *usage;
	const char *what;       /* one line for `VERB --help` */
	unsigned help;          /* H_* groups */
};

static const struct verb verbs[] = {
	{ "make", cmd_make, "make [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [PATH]",
	  "Chunk a directory, file or block device into a store; write the index.",
	  H_GENERAL | H_PROGRESS | H_STORES | H_MAKE | H_FEATURES | H_REMOTE | H_AUTOMATION },
	{ "extract", cmd_extract, "extract [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] [PATH]",
	  "Put a directory, file or block device back together from an index or archive.",
	  H_GENERAL | H_PROGRESS | H_STORES | H_FEATURES | H_EXTRACT | H_REMOTE | H_AUTOMATION },
	{ "digest", cmd_digest, "digest [ARCHIVE|ARCHIVE_INDEX|BLOB|BLOB_INDEX|DIR] [PATH]",
	  "Print the digest casync prints (with PATH: of an entry inside an archive).",
	  H_GENERAL | H_STORES | H_FEATURES | H_REMOTE },
	{ "list", cmd_list, "list [ARCHIVE|ARCHIVE_INDEX|DIRECTORY] [PATH]",
	  "List the entries of a directory archive.",
	  H_GENERAL | H_STORES | H_FEATURES | H_LIST | H_REMOTE },
	{ "mtree", cmd_mtree, "mtree [ARCHIVE|ARCHIVE_INDEX|DIRECTORY] [PATH]",
	  "List the entries of a directory archive in mtree format.",
	  H_GENERAL | H_STORES | H_FEATURES | H_LIST | H_REMOTE },
	{ "stat", cmd_stat, "stat [ARCHIVE|ARCHIVE_INDEX|DIRECTORY] [PATH]",
	  "Show the metadata of one entry of a directory archive.",
	  H_GENERAL | H_STORES | H_FEATURES | H_REMOTE },
	{ "gc", cmd_gc, "gc BLOB_INDEX|ARCHIVE_INDEX...",
	  "Remove from a local store every chunk none of the indexes uses.",
	  H_GENERAL | H_STORES | H_GC },
	{ "verify", cmd_verify, "verify [BLOB_INDEX|ARCHIVE_INDEX...]",
	  "Read and hash every chunk file of a local store (or those of the indexes).",
	  H_GENERAL | H_STORES | H_VERIFY },
	{ "info", cmd_info, "info BLOB_INDEX|ARCHIVE_INDEX",
	  "Count an index's chunks and how many of them each store holds.",
	  H_GENERAL | H_STORES | H_INFO | H_REMOTE },
	/* The remote side of ssh remotes, run by a client through ssh. */
	{ "pull", cmd_remote_pull, NULL, NULL, 0 },
	{ "push", cmd_remote_push, NULL, NULL, 0 },
	{ "mount", cmd_mount, "mount [ARCHIVE|ARCHIVE_INDEX|BLOB_INDEX] MOUNTPOINT",
	  "Show an archive's tree, or a blob as one file, as a read-only file system.",
	  H_GENERAL | H_STORES | H_MOUNT | H_REMOTE },
	{ "mkdev", cmd_mkdev, "mkdev [BLOB|BLOB_INDEX] [NODE]",
	  "Attach a blob as a read-only block device (NBD, else a loop device on FUSE).",
	  H_GENERAL | H_STORES | H_MKDEV | H_REMOTE },
};

static const struct {
	unsigned group;
	const char *title;
	const char *text;
} help_groups[] = {
	{ H_GENERAL, "Options",
	  "  -h --help                 Show this help (VERB --help: that verb's)\n"
	  "     --version              Show the version\n"
	  "  -v --verbose              Tell what is being done, and sum it up\n"
	  "     --what=WHAT            archive, archive-index, blob, blob-index,\n"
	  "                            directory (default: from the file suffix)\n" },
	{ H_PROGRESS, "Progress",
	  "     --progress=MODE        auto (a bar when stderr is a terminal), bar,\n"
	  "                            plain (a line of key=value pairs a second on\n"
	  "                            stderr) or none\n" },
	{ H_STORES, "Stores",
	  "     --store=PATH|URL       The chunk store (default: $CASYNC_STORE, or\n"
	  "                            default.castr beside the index)\n"
	  "     --extra-store=PATH|URL Another store to read chunks from (repeatable)\n" },
	{ H_MAKE, "Making",
	  "     --chunk-size=[MIN:]AVG[:MAX]\n"
	  "                            Chunk sizes in bytes, K/M/G suffixes allowed\n"
	  "                            (default 16K:64K:256K)\n"
	  "     --digest=DIGEST        sha512-256 (default) or sha256\n"
	  "     --compression=COMPRESSION\n"
	  "                            zstd (default), xz or gzip, for the chunks\n"
	  "                            written (reading takes any, mixed)\n"
	  "     --exclude-nodump=BOOL  Leave out files with chattr +d (default yes)\n"
	  "     --exclude-submounts=BOOL\n"
	  "                            Leave out other file systems (default no)\n"
	  "     --exclude-file=BOOL    Follow .caexclude files (default yes)\n" },
	{ H_FEATURES, "Metadata of directory archives",
	  "     --with=FEATURE         Store or restore this (repeatable); FEATURE is\n"
	  "     --without=FEATURE      one of casync's: xattrs, acl, fcaps, selinux,\n"
	  "                            16bit-uids, 32bit-uids, user-names, sec-time,\n"
	  "                            usec-time, nsec-time, 2sec-time, read-only,\n"
	  "                            permissions, symlinks, device-nodes, fifos,\n"
	  "                            sockets, flag-NAME, fat-attrs, chattr,\n"
	  "                            subvolume, subvolume-ro, quota-projid, or a\n"
	  "                            set: best (default), unix, fat, privileged,\n"
	  "                            fuse, all\n"
	  "     --uid-shift=N          make: store owner ids as (id - N) mod range;\n"
	  "                            extract: restore them as (id mod range) + N\n"
	  "     --uid-range=N          The range (default 65536)\n" },
	{ H_EXTRACT, "Extracting",
	  "     --seed=PATH            A file, block device, directory or .catar that\n"
	  "                            may hold chunks: read there, not fetched\n"
	  "                            (repeatable)\n"
	  "     --seed-output=BOOL     Use what the output holds already as a seed\n"
	  "                            (default yes)\n"
	  "     --reflink=BOOL         Share blocks with seed files where the file\n"
	  "                            system can (default yes)\n"
	  "     --hardlink=BOOL        Link files identical to a seed directory's\n"
	  "                            (default no)\n"
	  "     --punch-holes=BOOL     Leave runs of zeros as holes (default yes)\n"
	  "     --delete=BOOL          Remove files the archive lacks from an existing\n"
	  "                            directory (default yes)\n"
	  "     --undo-immutable=BOOL  Clear chattr +i/+a on files to replace\n"
	  "                            (default no)\n" },
	{ H_LIST, "Listing",
	  "     --recursive=BOOL       Go into subdirectories (default yes)\n" },
	{ H_REMOTE, "HTTP(S), S3 and ssh stores and indexes",
	  "     --cacert=FILE          CA certificates to check servers with (default:\n"
	  "                            $CURL_CA_BUNDLE, $SSL_CERT_FILE, $SSL_CERT_DIR,\n"
	  "                            else the system's)\n"
	  "     --insecure             Do not check certificates and host names\n"
	  "     --retries=N            Retries of a failed request (default 3)\n"
	  "     --timeout=SECONDS      Give up an attempt after this long without\n"
	  "                            progress (default 10 to connect, 15 to receive)\n"
	  "     --concurrency=N        Chunks fetched or uploaded at once (default 16\n"
	  "                            for remote stores, one per CPU for local ones)\n"
	  "     --rate-limit-bps=N     Stay under N bytes per second per store\n"
	  "     --s3-addressing=auto|path|virtual\n"
	  "                            S3 requests to ENDPOINT/BUCKET (path) or\n"
	  "                            BUCKET.ENDPOINT (virtual); auto: virtual for\n"
	  "                            amazonaws.com, else path\n"
	  "     --cache=DIR            A local store read first and given every chunk\n"
	  "                            fetched from the others\n" },
	{ H_MOUNT, "Mounting",
	  "     --seed=PATH            A file, block device, directory or .catar that\n"
	  "                            may hold chunks (repeatable)\n"
	  "     --mkdir=BOOL           Create the mount point when missing (default yes)\n"
	  "     --chunk-cache=SIZE     Decoded chunks kept in memory, K/M/G suffixes\n"
	  "                            allowed (default 16M)\n" },
	{ H_MKDEV, "mkdev",
	  "     --chunk-cache=SIZE     Decoded chunks kept in memory, K/M/G suffixes\n"
	  "                            allowed (default 16M)\n"
	  "     --nbd-socket=PATH      No device: serve the blob to NBD clients on the\n"
	  "                            unix socket PATH (nbdinfo, nbdcopy, qemu)\n" },
	{ H_GC, "gc",
	  "  -n --dry-run              Only say what would be removed\n" },
	{ H_VERIFY, "verify",
	  "     --repair               Remove the chunk files found bad\n"
	  "     --concurrency=N        Chunk files checked at once (default: one per\n"
	  "                            CPU, at most 8)\n" },
	{ H_AUTOMATION, "Automation (make, extract)",
	  "     --unchanged-exit=N     Exit N (2-255) when the output was already as\n"
	  "                            it would be made: nothing written\n"
	  "     --json                 Sum up in one JSON object on stdout (stderr\n"
	  "                            when stdout carries data)\n" },
	{ H_INFO, "info",
	  "     --json                 One JSON object instead of text\n" },
};

/* help() — all verbs and options, or one verb's (v non-NULL). */
static void help(const struct cli *c, const struct verb *v)
{
	unsigned groups = 0;

	if (v) {
		printf("%s [OPTIONS...] %s\n\n%s\n", c->program, v->usage, v->what);
		groups = v->help;
	} else {
		printf("Content-addressable data synchronization, compatible with casync.\n\n");
		for (size_t i = 0; i < N_ELEMENTS(verbs); i++)
			if (verbs[i].usage) {
				printf("  %s [OPTIONS...] %s\n", c->program, verbs[i].usage);
				groups |= verbs[i].help;
			}
	}
	for (size_t i = 0; i < N_ELEMENTS(help_groups); i++)
		if (groups & help_groups[i].group)
			printf("\n%s:\n%s", help_groups[i].title, help_groups[i].text);
	printf("\nExit status: 0 on success, 1 on failure (with --unchanged-exit=N: N\n"
	       "when nothing changed).\n");
}

enum {
	ARG_VERSION = 0x100,
	ARG_STORE,
	ARG_EXTRA_STORE,
	ARG_CHUNK_SIZE,
	ARG_DIGEST,
	ARG_COMPRESSION,
	ARG_WHAT,
	ARG_SEED,
	ARG_WITH,
	ARG_WITHOUT,
	ARG_EXCLUDE_NODUMP,
	ARG_EXCLUDE_SUBMOUNTS,
	ARG_EXCLUDE_FILE,
	ARG_PUNCH_HOLES,
	ARG_DELETE,
	ARG_UNDO_IMMUTABLE,
	ARG_UID_SHIFT,
	ARG_UID_RANGE,
	ARG_RECURSIVE,
	ARG_CACERT,
	ARG_INSECURE,
	ARG_RETRIES,
	ARG_TIMEOUT,
	ARG_S3_ADDRESSING,
	ARG_CACHE,
	ARG_RATE_LIMIT,
	ARG_CONCURRENCY,
	ARG_REPAIR,
	ARG_JSON,
	ARG_PROGRESS,
	ARG_SEED_OUTPUT,
	ARG_REFLINK,
	ARG_HARDLINK,
	ARG_MKDIR,
	ARG_CHUNK_CACHE,
	ARG_NBD_SOCKET,
	ARG_UNCHANGED_EXIT,
};

static int parse_what(struct cli *c, const char *v)
{
	static const struct { const char *name; enum what what; } table[] = {
		{ "archive", WHAT_ARCHIVE }, { "archive-index", WHAT_ARCHIVE_INDEX },
		{ "blob", WHAT_BLOB }, { "blob-index", WHAT_BLOB_INDEX },
		{ "directory", WHAT_DIRECTORY },
	};

	if (strcmp(v, "help") == 0) {
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			printf("%s\n", table[i].name);
		exit(0);
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(v, table[i].name) == 0) {
			c->what = table[i].what;
			return 0;
		}
	return cli_error(c, "--what=%s: unknown (try --what=help)", v);
}

/* casync's --with=/--without= take feature and set names only. */
static int parse_feature(struct cli *c, const char *opt, const char *v, uint64_t *acc)
{
	uint64_t f;

	if (strcmp(v, "help") == 0) {
		/* as casync: the single features, one a line */
		char names[1024];

		printf("Supported --with= and --without= flags:\n");
		stasync_feature_flags_format(STASYNC_WITH_ALL, names, sizeof(names));
		for (char *p = names; *p; p++)
			if (*p == ' ')
				*p = '\n';
		printf("%s\n", names);
		exit(0);
	}
	if (stasync_feature_flags_from_name(v, &f) < 0 || (f & ~STASYNC_WITH_ALL))
		return cli_error(c, "--%s=%s: unknown feature (see '%s --help')", opt, v, c->program);
	*acc |= f;
	return 0;
}

/* yes/true/on/1 or no/false/off/0: 0, else -1 */
static int bool_value(const char *v, bool *ret)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*ret = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*ret = false;
	else
		return -1;
	return 0;
}

static int parse_bool(struct cli *c, const char *opt, const char *v, bool *ret)
{
	if (bool_value(v, ret) < 0)
		return cli_error(c, "--%s=%s: expected yes or no", opt, v);
	return 0;
}

/* --uid-shift=yes|no|SHIFT, --uid-range=yes|no|RANGE (1 … 2^32), as in
 * casync: a number also switches shifting on. */
static int parse_uid_option(struct cli *c, bool shift, const char *v)
{
	unsigned long long n;
	char *end;
	bool b;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*v >= '0' && *v <= '9' && !*end && !errno) {
		if (shift ? n >= UINT32_MAX : (n == 0 || n > UINT64_C(0x100000000)))
			return cli_error(c, "--uid-%s=%s: out of range", shift ? "shift" : "range", v);
		if (shift)
			c->uid_shift = (uid_t)n;
		else
			c->uid_range = (uid_t)n;  /* 2^32 wraps to 0: no limit */
		c->uid_shift_apply = true;
		return 0;
	}
	if (bool_value(v, &b) < 0)
		return cli_error(c, "--uid-%s=%s: expected yes, no or a number%s", shift ? "shift" : "range",
				 v, shift ? "" : " of ids (as 65536)");
	c->uid_shift_apply = b;
	return 0;
}

/* -l/--log-level: syslog's names or numbers, as casync takes them. */
#define LOG_INFO_LEVEL 6
static int parse_log_level(struct cli *c, const char *v)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err",
					     "warning", "notice", "info", "debug" };

	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(v, names[i]) == 0 || (v[0] == '0' + i && !v[1]))
			return i;
	cli_error(c, "--log-level=%s: expected debug, info, notice, warning, err, crit, alert, emerg or 0 to 7",
		  v);
	return -1;
}

/* A size in bytes with an optional K/M/G suffix (powers of 1024), at
 * least 1 and at most 1T. */
static int parse_bytes(struct cli *c, const char *opt, const char *v, size_t *ret)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*v < '0' || *v > '9' || *end || errno || n == 0 || n > (1ULL << (40 - shift)))
		return cli_error(c, "--%s=%s: expected a size in bytes (K/M/G suffixes allowed)", opt, v);
	*ret = (size_t)(n << shift);
	return 0;
}

/* A whole number in [min, max]. */
static int parse_unsigned(struct cli *c, const char *opt, const char *v, unsigned min,
			  unsigned max, unsigned *ret)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < min || n > max)
		return cli_error(c, "--%s=%s: expected a whole number from %u to %u", opt, v, min, max);
	*ret = (unsigned)n;
	return 0;
}

/* The static binary links mimalloc in place of libc's malloc (see
 * scripts/build-static.sh); a weak reference finds it when it is there. */
extern int mi_version(void) __attribute__((weak));

static void print_malloc(void)
{
	int v = mi_version ? mi_version() : 0;

	if (v > 0)
		printf("malloc: mimalloc %d.%d.%d\n", v / 100, v % 100 / 10, v % 10);
	else
		printf("malloc: the C library's\n");
}

static int parse_options(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, ARG_VERSION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "store", required_argument, NULL, ARG_STORE },
		{ "extra-store", required_argument, NULL, ARG_EXTRA_STORE },
		{ "chunk-size", required_argument, NULL, ARG_CHUNK_SIZE },
		{ "digest", required_argument, NULL, ARG_DIGEST },
		{ "compression", required_argument, NULL, ARG_COMPRESSION },
		{ "what", required_argument, NULL, ARG_WHAT },
		{ "seed", required_argument, NULL, ARG_SEED },
		/* casync options that only concern directory archives, garbage
		 * collection or remote stores: accepted so that casync command
		 * lines keep working; they change nothing for blobs. */
		{ "with", required_argument, NULL, ARG_WITH },
		{ "without", required_argument, NULL, ARG_WITHOUT },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "repair", no_argument, NULL, ARG_REPAIR },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "unchanged-exit", required_argument, NULL, ARG_UNCHANGED_EXIT },
		{ "progress", required_argument, NULL, ARG_PROGRESS },
		{ "cache", required_argument, NULL, ARG_CACHE },
		{ "cache-auto", no_argument, NULL, 'c' },
		{ "rate-limit-bps", required_argument, NULL, ARG_RATE_LIMIT },
		{ "concurrency", required_argument, NULL, ARG_CONCURRENCY },
		{ "exclude-nodump", required_argument, NULL, ARG_EXCLUDE_NODUMP },
		{ "exclude-submounts", required_argument, NULL, ARG_EXCLUDE_SUBMOUNTS },
		{ "exclude-file", required_argument, NULL, ARG_EXCLUDE_FILE },
		{ "reflink", required_argument, NULL, ARG_REFLINK },
		{ "hardlink", required_argument, NULL, ARG_HARDLINK },
		{ "punch-holes", required_argument, NULL, ARG_PUNCH_HOLES },
		{ "delete", required_argument, NULL, ARG_DELETE },
		{ "undo-immutable", required_argument, NULL, ARG_UNDO_IMMUTABLE },
		{ "seed-output", required_argument, NULL, ARG_SEED_OUTPUT },
		{ "recursive", required_argument, NULL, ARG_RECURSIVE },
		{ "mkdir", required_argument, NULL, ARG_MKDIR },
		{ "chunk-cache", required_argument, NULL, ARG_CHUNK_CACHE },
		{ "nbd-socket", required_argument, NULL, ARG_NBD_SOCKET },
		{ "uid-shift", required_argument, NULL, ARG_UID_SHIFT },
		{ "uid-range", required_argument, NULL, ARG_UID_RANGE },
		{ "cacert", required_argument, NULL, ARG_CACERT },
		{ "insecure", no_argument, NULL, ARG_INSECURE },
		{ "retries", required_argument, NULL, ARG_RETRIES },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "s3-addressing", required_argument, NULL, ARG_S3_ADDRESSING },
		{}
	};
	stasync_error err = { 0, "" };
	int opt, r;

	while ((opt = getopt_long(argc, argv, ":hvl:nc", options, NULL)) >= 0) {
		switch (opt) {
		case 'h':
			c->want_help = true;
			break;
		case ARG_VERSION:
		{
			char buf[256];

			printf("stasync %s (casync-compatible)\n", stasync_version());
			printf("HTTP: %s\n", stasync_http_version(buf, sizeof(buf)));
			print_malloc();
			exit(0);
		}
		case 'v':
			c->verbose++;
			break;
		case 'l':
			if ((r = parse_log_level(c, optarg)) < 0)
				return 1;
			if (r >= LOG_INFO_LEVEL)
				c->verbose++;   /* info and debug: what -v says */
			break;
		case ARG_STORE:
			c->store = optarg;
			break;
		case ARG_EXTRA_STORE: {
			const char **v = realloc(c->extra_stores, (c->n_extra_stores + 1) * sizeof(*v));
			if (!v)
				return cli_error(c, "out of memory");
			v[c->n_extra_stores++] = optarg;
			c->extra_stores = v;
			break;
		}
		case ARG_CHUNK_SIZE:
			r = stasync_chunk_sizes_parse(optarg, &c->sizes);
			if (r == -ERANGE)
				return cli_error(c, "--chunk-size=%s: sizes must lie between 1 byte and 128M", optarg);
			if (r < 0)
				return cli_error(c, "--chunk-size=%s: expected AVG or MIN:AVG:MAX with MIN <= AVG <= MAX (K/M/G suffixes allowed)",
						 optarg);
			break;
		case ARG_DIGEST:
			if (stasync_digest_type_parse(optarg, &c->digest) < 0)
				return cli_error(c, "--digest=%s: unknown digest (sha512-256 or sha256)", optarg);
			break;
		case ARG_COMPRESSION:
			if ((r = stasync_compression_parse(optarg, &err)) < 0)
				return cli_fail(c, &err);
			c->compression = (stasync_compression)r;
			break;
		case ARG_WHAT:
			if (parse_what(c, optarg))
				return 1;
			break;
		case ARG_SEED:
		{
			const char **t = realloc(c->seeds, (c->n_seeds + 1) * sizeof(*t));
			if (!t)
				return cli_error(c, "out of memory");
			c->seeds = t;
			c->seeds[c->n_seeds++] = optarg;
			break;
		}
		case ARG_SEED_OUTPUT:
			if (parse_bool(c, "seed-output", optarg, &c->seed_output))
				return 1;
			break;
		case ARG_REFLINK:
			if (parse_bool(c, "reflink", optarg, &c->reflink))
				return 1;
			break;
		case ARG_HARDLINK:
			if (parse_bool(c, "hardlink", optarg, &c->hardlink))
				return 1;
			break;
		case ARG_WITH:
			if (parse_feature(c, "with", optarg, &c->with))
				return 1;
			break;
		case ARG_WITHOUT:
			if (parse_feature(c, "without", optarg, &c->without))
				return 1;
			break;
		case ARG_EXCLUDE_NODUMP:
			if (parse_bool(c, "exclude-nodump", optarg, &c->exclude_nodump))
				return 1;
			break;
		case ARG_EXCLUDE_SUBMOUNTS:
			if (parse_bool(c, "exclude-submounts", optarg, &c->exclude_submounts))
				return 1;
			break;
		case ARG_RECURSIVE:
			if (parse_bool(c, "recursive", optarg, &c->recursive))
				return 1;
			break;
		case ARG_EXCLUDE_FILE:
			if (parse_bool(c, "exclude-file", optarg, &c->exclude_file))
				return 1;
			break;
		case ARG_PUNCH_HOLES:
			if (parse_bool(c, "punch-holes", optarg, &c->punch_holes))
				return 1;
			break;
		case ARG_DELETE:
			if (parse_bool(c, "delete", optarg, &c->delete_extra))
				return 1;
			break;
		case ARG_UNDO_IMMUTABLE:
			if (parse_bool(c, "undo-immutable", optarg, &c->undo_immutable))
				return 1;
			break;
		case ARG_UID_SHIFT:
		case ARG_UID_RANGE:
			if (parse_uid_option(c, opt == ARG_UID_SHIFT, optarg))
				return 1;
			break;
		case ARG_CACERT:
			c->http.cacert = optarg;
			break;
		case ARG_INSECURE:
			c->http.insecure = true;
			break;
		case ARG_RETRIES:
			if (parse_unsigned(c, "retries", optarg, 0, 100, &c->http.retries))
				return 1;
			break;
		case ARG_TIMEOUT: {
			unsigned t;
			if (parse_unsigned(c, "timeout", optarg, 1, 86400, &t))
				return 1;
			c->http.connect_timeout = c->http.stall_timeout = t;
			break;
		}
		case ARG_S3_ADDRESSING:
			if (strcmp(optarg, "auto") == 0)
				c->http.s3_addressing = STASYNC_S3_ADDRESSING_AUTO;
			else if (strcmp(optarg, "path") == 0)
				c->http.s3_addressing = STASYNC_S3_ADDRESSING_PATH;
			else if (strcmp(optarg, "virtual") == 0)
				c->http.s3_addressing = STASYNC_S3_ADDRESSING_VIRTUAL;
			else
				return cli_error(c, "--s3-addressing=%s: expected auto, path or virtual",
						 optarg);
			break;
		case ARG_CACHE:
			c->cache = optarg;
			break;
		case ARG_CONCURRENCY:
			if (parse_unsigned(c, "concurrency", optarg, 1, 256, &c->concurrency))
				return 1;
			c->http.concurrency = c->concurrency;
			break;
		case ARG_RATE_LIMIT: {
			unsigned long long n;
			char *end;

			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || errno || n == 0)
				return cli_error(c, "--rate-limit-bps=%s: expected a whole number of bytes per second, at least 1",
						 optarg);
			c->http.rate_limit_bps = n;
			break;
		}
		case 'n':
			c->dry_run = true;
			break;
		case ARG_REPAIR:
			c->repair = true;
			break;
		case ARG_JSON:
			c->json = true;
			break;
		case ARG_UNCHANGED_EXIT: {
			unsigned n;

			/* 0 and 1 already mean success and failure */
			if (parse_unsigned(c, "unchanged-exit", optarg, 2, 255, &n))
				return 1;
			c->unchanged_exit = (int)n;
			break;
		}
		case ARG_PROGRESS:
			if (strcmp(optarg, "auto") == 0)
				c->progress_mode = PROGRESS_AUTO;
			else if (strcmp(optarg, "bar") == 0)
				c->progress_mode = PROGRESS_BAR;
			else if (strcmp(optarg, "plain") == 0)
				c->progress_mode = PROGRESS_PLAIN;
			else if (strcmp(optarg, "none") == 0 || strcmp(optarg, "no") == 0)
				c->progress_mode = PROGRESS_NONE;
			else
				return cli_error(c, "--progress=%s: expected auto, bar, plain or none", optarg);
			break;
		case 'c':
		case ARG_CHUNK_CACHE:
			if (parse_bytes(c, "chunk-cache", optarg, &c->mount_cache_bytes))
				return 1;
			break;
		case ARG_NBD_SOCKET:
			c->nbd_socket = optarg;
			break;
		case ARG_MKDIR:
			if (parse_bool(c, "mkdir", optarg, &c->mkdir))
				return 1;
			break;
		case ':':
			return cli_error(c, "option '%s' needs a value; see '%s --help'",
					 argv[optind - 1], c->program);
		default:
			if (optopt && optopt < 0x100)
				return cli_error(c, "unknown option '-%c'; see '%s --help'", optopt,
						 c->program);
			return cli_error(c, "unknown option '%s'; see '%s --help'", argv[optind - 1],
					 c->program);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {
		.program = "stasync",
		.digest = STASYNC_DIGEST_SHA512_256,
		.exclude_nodump = true,
		.exclude_file = true,
		.recursive = true,
		.mkdir = true,
		.punch_holes = true,
		.delete_extra = true,
		.uid_range = 0x10000,
		.seed_output = true,
		.reflink = true,
	};
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	const char *verb;
	int r;

	base = base ? base + 1 : (argc > 0 ? argv[0] : "stasync");
	if (strcmp(base, "casync") == 0)
		c.program = "casync";
	opterr = 0;
	stasync_chunk_sizes_complete(&c.sizes);
	stasync_http_options_init(&c.http);
	if (getenv("CASYNC_VERBOSE") && *getenv("CASYNC_VERBOSE") && strcmp(getenv("CASYNC_VERBOSE"), "0"))
		c.verbose = 1;

	/* Options may stand before the verb or after it, as with casync:
	 * getopt_long() moves the operands behind them. */
	r = parse_options(&c, argc, argv);
	if (r)
		return r;
	if (c.want_help) {
		const struct verb *v = NULL;

		for (size_t i = 0; optind < argc && i < N_ELEMENTS(verbs); i++)
			if (verbs[i].usage && strcmp(argv[optind], verbs[i].name) == 0)
				v = &verbs[i];
		help(&c, v);
		return 0;
	}
	if (optind >= argc) {
		help(&c, NULL);
		return cli_error(&c, "no verb given");
	}
	verb = argv[optind];
	c.argc = argc - optind - 1;
	c.argv = argv + optind + 1;
	r = 1;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i].name))
			continue;
		if (!verbs[i].run)
			return cli_error(&c, "'%s' is not supported by this version yet", verb);
		r = verbs[i].run(&c);
		goto done;
	}
	return cli_error(&c, "unknown verb '%s'; see '%s --help'", verb, c.program);
done:
	/* Report a full disk or closed pipe on stdout as the failure it is. */
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_error(&c, "cannot write to standard output: %s", strerror(errno));
	cli_seed_close(&c);   /* a verb that failed half-way may leave them */
	free(c.extra_stores);
	free(c.seeds);
	stasync_store_free(c.cache_store);
	return r;
}
