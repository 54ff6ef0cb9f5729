/* stasync list|mtree|stat [ARCHIVE|INDEX|DIRECTORY] [PATH] — what a
 * directory archive holds, printed the way casync prints it, byte for byte.
 *
 * casync 2's formats (Debian 2+20201210, checked with real runs):
 *
 * Paths are the entry's path inside the archive: "." for the root, else
 * "a/b" (no "./"), the full path also below a PATH argument. Paths, symlink
 * targets, user/group names, xattr names and values are escaped: every byte
 * <= 0x20 or >= 0x7f, '\' and '#' becomes '\' and three octal digits
 * ("sp ace" -> "sp\040ace", "ü" -> "\303\274"); '=' stays.
 *
 * list: "MODE PATH\n" per entry, MODE as ls -l (s/S for setuid/setgid,
 *   t/T for sticky directories). --recursive=no: the first entry and its
 *   direct children only.
 * mtree: "PATH" then, space-separated:
 *   type=dir|file|link|socket|char|block|fifo  mode=%04o (mode & 07777)
 *   size=N (files)  link=TARGET  device=linux,MAJ,MIN  uid=N gid=N
 *   uname=S gname=S  flags=W,...  time=SEC.%09NSEC
 *   sha512256digest=HEX (files: digest of the contents with the archive's
 *   digest; the key says sha256digest under --digest=sha256 whatever the
 *   value is). flags= lists, in this order, hidden system archive sappend
 *   nodump simmutable — those whose feature the archive has (no flags= if
 *   none) — each prefixed "no" unless the entry has it; entries other than
 *   files and directories print them all without "no".
 * stat: the first entry only (the root, or PATH), labels right-aligned in
 *   8 columns: "    File: PATH", "    Mode: -rw-r--r--",
 *   files/dirs: "FileAttr: SDiadAcNCP" (sync dirsync immutable append
 *   nodump noatime compr nocomp nocow projinherit, '-' when unset) and
 *   " FATAttr: hsa" (hidden system archive), "  Offset: N" (archive offset
 *   of the entry's ENTRY record), "    Time: %Y-%m-%d %H:%M:%S.%09N" (local
 *   time), "    Size: N" (files), "    User: NAME (UID)" | "NAME" | "UID",
 *   "   Group: …", "  ProjID: N", "  Target: T", "  Device: MAJ:MIN",
 *   "   XAttr: NAME → VALUE" (U+2192) per xattr in archive order; then
 *   for non-directories "  Digest: HEX" (files and block devices — the
 *   digest of nothing for the latter) and "HLDigest: HEX": the archive's
 *   digest of the entry's records from ENTRY through its PAYLOAD (with the
 *   contents), SYMLINK or DEVICE record.
 * Which fields show depends on feature flags: replay = normalize(extend
 *   (archive flags) & extend(--with/--without mask)), extend() setting the
 *   bits implied by the ones present. Times need a time flag in replay,
 *   uid/gid a uid flag, names user-names; uid 0 without a USER record is
 *   "root" if the archive has uid flags; uids 65535 and 2^32-1 never show.
 *   chattr/FAT letters and mtree's [no] use the entry's flags & replay.
 * A directory (encoded on the fly) prints what an archive made of it with
 *   the same options prints, except that stat of its root shows FileAttr
 *   only with a chattr flag or exclude-nodump, FATAttr only with fat-attrs,
 *   and "  ProjID: N" (also 0) with quota-projid. It takes no PATH.
 * Exit 1 with nothing more printed when PATH is not in the archive. casync
 * refuses pipes, and fails after printing when it stats a directory without
 * the xattrs feature; we do neither. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <stasync/catar.h>
#include "cli.h"

enum list_mode { LIST_LS, LIST_MTREE, LIST_STAT };


#define TIME_FLAGS (STASYNC_WITH_SEC_TIME | STASYNC_WITH_USEC_TIME | \
		    STASYNC_WITH_NSEC_TIME | STASYNC_WITH_2SEC_TIME)
#define UID_FLAGS (STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS)

/* How entries are shown: fixed when the first entry arrives. */
struct list_view {
	enum list_mode mode;
	bool directory;           /* the input is a directory, not an archive */
	uint64_t mask;            /* extended --with/--without mask */
	uint64_t archive_flags;   /* the archive's (or encoder's) flags */
	uint64_t replay;          /* what may be shown */
	const char *digest_key;   /* mtree's name of the digest */
};

/* ---- Small formatters ------------------------------------------------- */

/* casync's mtree escaping of n bytes. */
static void put_escaped(FILE *f, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i] <= ' ' || b[i] >= 127 || b[i] == '\\' || b[i] == '#')
			fprintf(f, "\\%o%o%o", b[i] / 64, (b[i] / 8) % 8, b[i] % 8);
		else
			putc(b[i], f);
	}
}

static void put_escaped_str(FILE *f, const char *s)
{
	put_escaped(f, s, strlen(s));
}

static void put_path(FILE *f, const char *path)
{
	if (!*path)
		putc('.', f);
	else
		put_escaped_str(f, path);
}

/* ls -l's mode string; NULL for an unknown file type. */
static const char *mode_string(uint64_t m, char ret[11])
{
	switch (m & S_IFMT) {
	case S_IFSOCK: ret[0] = 's'; break;
	case S_IFDIR: ret[0] = 'd'; break;
	case S_IFREG: ret[0] = '-'; break;
	case S_IFBLK: ret[0] = 'b'; break;
	case S_IFCHR: ret[0] = 'c'; break;
	case S_IFLNK: ret[0] = 'l'; break;
	case S_IFIFO: ret[0] = 'p'; break;
	default: return NULL;
	}
	ret[1] = m & 0400 ? 'r' : '-';
	ret[2] = m & 0200 ? 'w' : '-';
	ret[3] = m & S_ISUID ? (m & 0100 ? 's' : 'S') : (m & 0100 ? 'x' : '-');
	ret[4] = m & 0040 ? 'r' : '-';
	ret[5] = m & 0020 ? 'w' : '-';
	ret[6] = m & S_ISGID ? (m & 0010 ? 's' : 'S') : (m & 0010 ? 'x' : '-');
	ret[7] = m & 0004 ? 'r' : '-';
	ret[8] = m & 0002 ? 'w' : '-';
	ret[9] = S_ISDIR(m) && (m & S_ISVTX) ? (m & 0001 ? 't' : 'T') : (m & 0001 ? 'x' : '-');
	ret[10] = 0;
	return ret;
}

static const char *type_word(uint64_t m)
{
	switch (m & S_IFMT) {
	case S_IFLNK: return "link";
	case S_IFDIR: return "dir";
	case S_IFREG: return "file";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	default: return NULL;
	}
}

static bool has_file_flags(uint64_t m)
{
	return S_ISREG(m) || S_ISDIR(m);
}

/* casync's uid_is_valid() on the 32-bit value. */
static bool id_shown(uint64_t id)
{
	uint32_t v = (uint32_t)id;

	return v != UINT32_C(0xffffffff) && v != UINT32_C(0xffff);
}

/* The bits that a present bit implies (casync's normalize_mask). */
static uint64_t features_extend(uint64_t f)
{
	f &= STASYNC_FEATURES_VALID;
	if (f & UID_FLAGS)
		f |= UID_FLAGS;
	if (f & TIME_FLAGS)
		f |= TIME_FLAGS;
	if (f & STASYNC_WITH_PERMISSIONS)
		f |= STASYNC_WITH_READ_ONLY;
	if (f & STASYNC_WITH_ACL)
		f |= STASYNC_WITH_PERMISSIONS | STASYNC_WITH_READ_ONLY;
	if (f & STASYNC_WITH_SUBVOLUME_RO)
		f |= STASYNC_WITH_SUBVOLUME;
	return f;
}

static const char *user_name(const struct list_view *v, const stasync_entry *e, bool group)
{
	const char *name = group ? e->group : e->user;

	if (!(v->replay & STASYNC_WITH_USER_NAMES))
		return NULL;
	if (name)
		return name;
	/* The archive leaves out USER/GROUP records for id 0. */
	if ((v->archive_flags & UID_FLAGS) && (uint32_t)(group ? e->gid : e->uid) == 0)
		return "root";
	return NULL;
}

/* ---- One entry, each format ------------------------------------------- */

static void print_ls(FILE *f, const char *path, const stasync_entry *e)
{
	char mode[11];
	const char *m = mode_string(e->mode, mode);

	fprintf(f, "%s ", m ? m : "(null)");
	put_path(f, path);
	putc('\n', f);
}

/* The mtree line; `digest` (regular files) ends it. */
static void print_mtree(FILE *f, const struct list_view *v, const char *path,
			const stasync_entry *e, const stasync_chunk_id *digest)
{
	static const struct { uint64_t flag; const char *name; } words[] = {
		{ STASYNC_WITH_FLAG_HIDDEN, "hidden" },
		{ STASYNC_WITH_FLAG_SYSTEM, "system" },
		{ STASYNC_WITH_FLAG_ARCHIVE, "archive" },
		{ STASYNC_WITH_FLAG_APPEND, "sappend" },
		{ STASYNC_WITH_FLAG_NODUMP, "nodump" },
		{ STASYNC_WITH_FLAG_IMMUTABLE, "simmutable" },
	};
	const char *type = type_word(e->mode), *name;
	char hex[STASYNC_DIGEST_HEX_SIZE];
	const char *sep = "";

	put_path(f, path);
	if (type)
		fprintf(f, " type=%s", type);
	fprintf(f, " mode=%04o", (unsigned)(e->mode & 07777));
	if (S_ISREG(e->mode))
		fprintf(f, " size=%" PRIu64, e->size);
	if (S_ISLNK(e->mode) && e->symlink) {
		fputs(" link=", f);
		put_escaped_str(f, e->symlink);
	}
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		fprintf(f, " device=linux,%" PRIu32 ",%" PRIu32, (uint32_t)e->rdev_major,
			(uint32_t)e->rdev_minor);
	if ((v->replay & UID_FLAGS) && id_shown(e->uid))
		fprintf(f, " uid=%" PRIu32, (uint32_t)e->uid);
	if ((v->replay & UID_FLAGS) && id_shown(e->gid))
		fprintf(f, " gid=%" PRIu32, (uint32_t)e->gid);
	if ((name = user_name(v, e, false))) {
		fputs(" uname=", f);
		put_escaped_str(f, name);
	}
	if ((name = user_name(v, e, true))) {
		fputs(" gname=", f);
		put_escaped_str(f, name);
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		bool set;

		if (!(v->archive_flags & words[i].flag))
			continue;
		set = !has_file_flags(e->mode) || (e->flags & v->replay & words[i].flag);
		fprintf(f, "%s%s%s", *sep ? sep : " flags=", set ? "" : "no", words[i].name);
		sep = ",";
	}
	if (v->replay & TIME_FLAGS)
		fprintf(f, " time=%" PRIu64 ".%09" PRIu64, e->mtime / 1000000000,
			e->mtime % 1000000000);
	if (digest)
		fprintf(f, " %s=%s", v->digest_key, stasync_chunk_id_format(digest, hex));
	putc('\n', f);
}

static void print_letters(FILE *f, const char *label, uint64_t flags,
			  const uint64_t *bits, const char *letters)
{
	fputs(label, f);
	for (size_t i = 0; letters[i]; i++)
		putc(flags & bits[i] ? letters[i] : '-', f);
	putc('\n', f);
}

static void print_id(FILE *f, const char *label, bool id_ok, uint64_t id, const char *name)
{
	if (!id_ok && !name)
		return;
	fputs(label, f);
	if (name)
		put_escaped_str(f, name);
	if (id_ok && name)
		fprintf(f, " (%" PRIu32 ")\n", (uint32_t)id);
	else if (id_ok)
		fprintf(f, "%" PRIu32 "\n", (uint32_t)id);
	else
		putc('\n', f);
}

/* stat's lines up to the digests. */
static void print_stat(FILE *f, const struct list_view *v, const char *path,
		       const stasync_entry *e, uint64_t offset)
{
	static const uint64_t chattr_bits[] = {
		STASYNC_WITH_FLAG_SYNC, STASYNC_WITH_FLAG_DIRSYNC, STASYNC_WITH_FLAG_IMMUTABLE,
		STASYNC_WITH_FLAG_APPEND, STASYNC_WITH_FLAG_NODUMP, STASYNC_WITH_FLAG_NOATIME,
		STASYNC_WITH_FLAG_COMPR, STASYNC_WITH_FLAG_NOCOMP, STASYNC_WITH_FLAG_NOCOW,
		STASYNC_WITH_FLAG_PROJINHERIT,
	};
	static const uint64_t fat_bits[] = {
		STASYNC_WITH_FLAG_HIDDEN, STASYNC_WITH_FLAG_SYSTEM, STASYNC_WITH_FLAG_ARCHIVE,
	};
	bool ids = v->replay & UID_FLAGS;
	char mode[11];
	const char *m = mode_string(e->mode, mode);

	fputs("    File: ", f);
	put_path(f, path);
	fprintf(f, "\n    Mode: %s\n", m ? m : "n/a");
	if (has_file_flags(e->mode)) {
		uint64_t shown = e->flags & v->replay;

		if (!v->directory ||
		    (v->archive_flags & (STASYNC_WITH_CHATTR | STASYNC_EXCLUDE_NODUMP)))
			print_letters(f, "FileAttr: ", shown, chattr_bits, "SDiadAcNCP");
		if (!v->directory || (v->archive_flags & STASYNC_WITH_FAT_ATTRS))
			print_letters(f, " FATAttr: ", shown, fat_bits, "hsa");
	}
	fprintf(f, "  Offset: %" PRIu64 "\n", offset);
	if (v->replay & TIME_FLAGS) {
		time_t t = (time_t)(e->mtime / 1000000000);
		struct tm tm;
		char d[128];

		if (localtime_r(&t, &tm) && strftime(d, sizeof(d), "%Y-%m-%d %H:%M:%S", &tm) > 0)
			fprintf(f, "    Time: %s.%09" PRIu64 "\n", d, e->mtime % 1000000000);
	}
	if (S_ISREG(e->mode))
		fprintf(f, "    Size: %" PRIu64 "\n", e->size);
	print_id(f, "    User: ", ids && id_shown(e->uid), e->uid, user_name(v, e, false));
	print_id(f, "   Group: ", ids && id_shown(e->gid), e->gid, user_name(v, e, true));
	if (e->quota_projid || (v->directory && (v->archive_flags & STASYNC_WITH_QUOTA_PROJID)))
		fprintf(f, "  ProjID: %" PRIu32 "\n", (uint32_t)e->quota_projid);
	if (S_ISLNK(e->mode) && e->symlink) {
		fputs("  Target: ", f);
		put_escaped_str(f, e->symlink);
		putc('\n', f);
	}
	if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
		fprintf(f, "  Device: %" PRIu32 ":%" PRIu32 "\n", (uint32_t)e->rdev_major,
			(uint32_t)e->rdev_minor);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		fputs("   XAttr: ", f);
		put_escaped_str(f, e->xattrs[i].name);
		fputs(" \342\206\222 ", f);
		put_escaped(f, e->xattrs[i].value, e->xattrs[i].size);
		putc('\n', f);
	}
}

struct list_run {
	struct cli *c;
	struct list_view view;
	bool have_view;
	stasync_digest *payload_digest, *hardlink_digest;
	uint8_t *buf;
};

static const size_t BUF_SIZE = 64 * 1024;

/* The first entry fixes the flags, and with them the digest type. */
static int list_view_init(struct list_run *run, const stasync_entry *e)
{
	struct list_view *v = &run->view;
	stasync_digest_type type = e->feature_flags & STASYNC_SHA512_256 ?
		STASYNC_DIGEST_SHA512_256 : STASYNC_DIGEST_SHA256;
	int r;

	v->archive_flags = e->feature_flags;
	if (v->directory)
		v->replay = e->feature_flags;
	else
		v->replay = stasync_feature_flags_normalize(features_extend(e->feature_flags) &
							     v->mask);
	v->digest_key = run->c->digest == STASYNC_DIGEST_SHA256 ? "sha256digest" : "sha512256digest";
	run->have_view = true;
	r = stasync_digest_new(type, &run->payload_digest);
	if (r < 0)
		return r;
	return stasync_digest_new(type, &run->hardlink_digest);
}

/* Read the payload of a regular file into the digests that want it. */
static int read_contents(struct list_run *run, stasync_catar_decoder *d, bool hardlink,
			 stasync_error *err)
{
	for (;;) {
		ssize_t n = stasync_catar_decoder_read_payload(d, run->buf, BUF_SIZE, err);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		stasync_digest_write(run->payload_digest, run->buf, (size_t)n);
		if (hardlink)
			stasync_digest_write(run->hardlink_digest, run->buf, (size_t)n);
	}
}

static bool path_is(const char *path, const char *seek)
{
	return strcmp(path, seek) == 0;
}

/* list_walk() — print what the decoder hands out. Returns 0, 1 after
 * printing an error, or a negative code with the decoder's message in err
 * (printed by cli_archive_finish()). */
static int list_walk(struct list_run *run, stasync_catar_decoder *d, const char *seek,
		     stasync_error *err)
{
	struct list_view *v = &run->view;
	FILE *out = stdout;
	bool found = false, recursive = run->c->recursive;
	size_t base = 0;
	int r;

	for (;;) {
		const stasync_entry *e = NULL;
		const char *path;
		size_t depth;

		r = stasync_catar_decoder_next(d, &e, err);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		path = stasync_catar_decoder_path(d);
		depth = stasync_catar_decoder_depth(d);

		if (r == STASYNC_CATAR_DIR_END) {
			/* A whole listing reads on to the archive's end, so that
			 * anything after it is reported; a PATH stops here. */
			if (found && depth == base && *seek)
				break;
			continue;
		}
		if (r != STASYNC_CATAR_ENTRY || !e)
			continue;

		if (!run->have_view && list_view_init(run, e) < 0)
			return cli_error(run->c, "cannot set up the digests");

		if (!found) {
			if (!path_is(path, seek))
				continue;
			found = true;
			base = depth;
		}
		if (!recursive && v->mode == LIST_LS && depth > base + 1)
			continue;

		switch (v->mode) {
		case LIST_LS:
			print_ls(out, path, e);
			break;
		case LIST_MTREE:
			if (S_ISREG(e->mode)) {
				stasync_chunk_id digest;

				stasync_digest_reset(run->payload_digest);
				r = read_contents(run, d, false, err);
				if (r < 0)
					return r;
				stasync_digest_final(run->payload_digest, &digest);
				print_mtree(out, v, path, e, &digest);
			} else
				print_mtree(out, v, path, e, NULL);
			break;
		case LIST_STAT: {
			char hex[STASYNC_DIGEST_HEX_SIZE];
			stasync_chunk_id digest;
			uint8_t *records = NULL;
			size_t n_records;

			/* Only stat needs the entry's records (Offset, HLDigest):
			 * the decoder stands right after them. */
			if (stasync_entry_records(e, &records, &n_records) < 0)
				return cli_error(run->c, "out of memory");
			print_stat(out, v, path, e, stasync_catar_decoder_offset(d) - n_records);
			if (S_ISDIR(e->mode)) {
				free(records);
				return 0;
			}
			stasync_digest_reset(run->payload_digest);
			stasync_digest_reset(run->hardlink_digest);
			stasync_digest_write(run->hardlink_digest, records, n_records);
			free(records);
			if (S_ISREG(e->mode) && (r = read_contents(run, d, true, err)) < 0)
				return r;
			if (S_ISREG(e->mode) || S_ISBLK(e->mode)) {
				stasync_digest_final(run->payload_digest, &digest);
				fprintf(out, "  Digest: %s\n", stasync_chunk_id_format(&digest, hex));
			}
			stasync_digest_final(run->hardlink_digest, &digest);
			fprintf(out, "HLDigest: %s\n", stasync_chunk_id_format(&digest, hex));
			return 0;
		}
		}
		if (found && depth == base && !S_ISDIR(e->mode))
			break;
	}
	if (!found)
		return cli_error(run->c, "%s: no such file or directory in the archive", seek);
	return 0;
}

/* ---- The verbs ------------------------------------------------------------ */

static int list_main(struct cli *c, enum list_mode mode)
{
	static const char *const verb[] = { [LIST_LS] = "list", [LIST_MTREE] = "mtree",
					    [LIST_STAT] = "stat" };
	const char *input = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	struct list_run run = { .c = c };
	stasync_error err = { 0, "" };
	struct cli_archive *a = NULL;
	char *seek = NULL;
	enum what what;
	struct stat st;
	int r = 1;

	if (c->argc > 2)
		return cli_error(c, "%s takes an archive, index or directory, and a path inside it",
				 verb[mode]);
	what = cli_what_of(c, input);
	if (what != WHAT_AUTO && what != WHAT_ARCHIVE && what != WHAT_ARCHIVE_INDEX &&
	    what != WHAT_DIRECTORY)
		return cli_error(c, "%s works on --what=archive, archive-index or directory, not %s",
				 verb[mode], cli_what_name(what));
	if (!input && (what == WHAT_AUTO || what == WHAT_DIRECTORY))
		input = ".";
	if (input && strcmp(input, "-") == 0)
		input = NULL;
	if (what == WHAT_AUTO) {
		/* stdin holds an archive; a named file must say what it is */
		if (!input)
			what = WHAT_ARCHIVE;
		else if (stasync_is_http_url(input) || stasync_is_s3_url(input))
			return cli_url_error(c, input, "expected a .catar or .caidx URL (or pass --what=archive or --what=archive-index)");
		else if (stat(input, &st) < 0)
			return cli_error(c, "%s: cannot open: %s", input, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			what = WHAT_DIRECTORY;
		else
			return cli_error(c, "%s: expected a directory, a .catar or a .caidx file (or pass --what=)",
					 input);
	}
	if (what == WHAT_DIRECTORY && c->argc > 1)
		return cli_error(c, "a path inside the archive needs an archive or an index, not a directory");

	seek = cli_seek_normalize(c->argc > 1 ? c->argv[1] : "");
	run.buf = malloc(BUF_SIZE);
	if (!seek || !run.buf) {
		cli_error(c, "out of memory");
		goto out;
	}
	if (cli_archive_open(c, input ? input : "-", what, false, &a))
		goto out;
	run.view.mode = mode;
	run.view.directory = what == WHAT_DIRECTORY;
	run.view.mask = features_extend(cli_restore_mask(c));
	r = list_walk(&run, cli_archive_decoder(a), seek, &err);
	/* the archive's end, or a directory encoder's failure, has the last word */
	r = cli_archive_finish(a, MIN(r, 0), &err) ?: MAX(r, 0);
out:
	stasync_digest_free(run.payload_digest);
	stasync_digest_free(run.hardlink_digest);
	free(run.buf);
	free(seek);
	return r;
}

int cmd_list(struct cli *c)
{
	return list_main(c, LIST_LS);
}

int cmd_mtree(struct cli *c)
{
	return list_main(c, LIST_MTREE);
}

int cmd_stat(struct cli *c)
{
	return list_main(c, LIST_STAT);
}
