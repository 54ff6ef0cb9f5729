/* The catar pull decoder: reads records through a stasync_read_fn into one
 * bounded buffer, checks every rule of the format (record order, sizes,
 * feature flags, name order, GOODBYE tables) and hands out one event per
 * call. Directories are tracked on an explicit stack, so nesting depth
 * costs heap, not C stack. Payloads are streamed, never held whole; those
 * passed over go through an optional skip function, when one is set,
 * instead of the buffer. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/catar.h>

#include "catar-decoder.h"
#include "format.h"
#include "goodbye.h"
#include "util.h"

/* Big enough for the largest record we hold whole (an XATTR). */
#define BUF_SIZE (128 * 1024)
_Static_assert(BUF_SIZE >= CA_FORMAT_XATTR_MAX && BUF_SIZE >= CA_FORMAT_FCAPS_MAX &&
	       BUF_SIZE >= CA_FORMAT_SELINUX_MAX && BUF_SIZE >= CA_FORMAT_SYMLINK_MAX,
	       "decoder buffer too small for a record");

/* Generous, but a hostile archive cannot make the stack grow without end. */
#define DEPTH_MAX 65536
/* Linux lists at most 64 KiB of xattr names per file (XATTR_LIST_MAX). */
#define XATTR_NAMES_MAX (64 * 1024)
/* Our own bound on one entry's xattr values: far above what file systems
 * store in practice, and it keeps one entry's memory bounded. */
#define XATTR_VALUES_MAX (16 * 1024 * 1024)
/* A POSIX ACL xattr (≤ 64 KiB, 8 bytes per entry) cannot hold more. */
#define ACL_ENTRIES_MAX 8191

#define ACL_ITEM_SIZE 32        /* header, id, permissions */
#define ACL_GROUP_OBJ_SIZE 24
#define ACL_DEFAULT_SIZE 48
#define QUOTA_PROJID_SIZE 24

enum state {
	STATE_ROOT,       /* nothing read: the root ENTRY comes next */
	STATE_ENTRY,      /* a non-directory's ENTRY event was returned */
	STATE_DIR,        /* between the children of the top directory */
	STATE_END,        /* the root ended: only the end of input may follow */
	STATE_FINISHED,   /* 0 was returned */
	STATE_FAILED,
};

struct frame {
	uint64_t entry_start;   /* archive offset of the directory's ENTRY */
	size_t path_len;        /* its path's length in d->path */
	size_t name_off;        /* and where its last component starts */
	struct sta_goodbye_item *items;
	size_t n_items, n_alloc;
};

struct stasync_catar_decoder {
	stasync_read_fn read;
	stasync_skip_fn skip;   /* optional: passes payload bytes over unread */
	void *ctx;
	char *name;

	uint8_t *buf;
	size_t pos, end;        /* unread bytes are buf[pos..end) */
	bool eof;
	uint64_t offset;        /* archive offset of buf[pos] */

	enum state state;
	int error;

	uint64_t feature_flags;
	bool have_flags;
	bool inner;             /* the stream starts at an entry inside an archive */

	/* open directories; frames[0] is the root */
	struct frame *frames;
	size_t n_frames, n_frames_alloc;
	size_t n_frames_used;   /* frames whose item arrays are initialized */

	/* path of the current entry; it keeps the last child's name after the
	 * child ends, which is what the next name is compared with */
	char *path;
	size_t path_len, path_alloc;
	size_t name_off;        /* SIZE_MAX for the root */
	unsigned depth;

	stasync_entry entry;
	uint64_t payload_left;
	bool dir_entered;       /* the last event was a directory's ENTRY */
	stasync_digest *tap;    /* when set, digests every byte consumed */
	/* per entry: capacities of its arrays, xattr bytes so far */
	size_t xattrs_alloc, acl_alloc[4];
	size_t xattr_names, xattr_values;
};

/* ---- messages ------------------------------------------------------------ */

static const char *record_name(uint64_t type)
{
	switch (type) {
	case CA_FORMAT_ENTRY: return "ENTRY";
	case CA_FORMAT_USER: return "USER";
	case CA_FORMAT_GROUP: return "GROUP";
	case CA_FORMAT_XATTR: return "XATTR";
	case CA_FORMAT_ACL_USER: return "ACL_USER";
	case CA_FORMAT_ACL_GROUP: return "ACL_GROUP";
	case CA_FORMAT_ACL_GROUP_OBJ: return "ACL_GROUP_OBJ";
	case CA_FORMAT_ACL_DEFAULT: return "ACL_DEFAULT";
	case CA_FORMAT_ACL_DEFAULT_USER: return "ACL_DEFAULT_USER";
	case CA_FORMAT_ACL_DEFAULT_GROUP: return "ACL_DEFAULT_GROUP";
	case CA_FORMAT_SELINUX: return "SELINUX";
	case CA_FORMAT_FCAPS: return "FCAPS";
	case CA_FORMAT_QUOTA_PROJID: return "QUOTA_PROJID";
	case CA_FORMAT_SYMLINK: return "SYMLINK";
	case CA_FORMAT_DEVICE: return "DEVICE";
	case CA_FORMAT_PAYLOAD: return "PAYLOAD";
	case CA_FORMAT_FILENAME: return "FILENAME";
	case CA_FORMAT_GOODBYE: return "GOODBYE";
	default: return NULL;
	}
}

static const char *kind_name(uint64_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return "directory";
	case S_IFREG: return "regular file";
	case S_IFLNK: return "symlink";
	case S_IFBLK: return "block device";
	case S_IFCHR: return "character device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "file";
	}
}

/* Messages are one line: names from the archive may hold any byte. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The first len bytes of the path as shown in messages: a deep path is
 * cut to its tail, where the problem is. */
static const char *show_path(const stasync_catar_decoder *d, size_t len, char *buf, size_t size)
{
	if (len > 300)
		snprintf(buf, size, "...%.*s", 300, d->path + len - 300);
	else
		snprintf(buf, size, "%.*s", (int)len, d->path);
	return buf;
}

static int failv(stasync_catar_decoder *d, stasync_error *err, size_t path_len,
		 const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static int failv(stasync_catar_decoder *d, stasync_error *err, size_t path_len,
		 const char *fmt, va_list ap)
{
	char what[STASYNC_ERROR_MESSAGE_MAX], path[400];

	d->state = STATE_FAILED;
	d->error = -EBADMSG;
	if (!err)
		return -EBADMSG;
	vsnprintf(what, sizeof(what), fmt, ap);
	/* The root has no path of its own: the archive's name says it. */
	if (path_len == 0)
		sta_error(err, -EBADMSG, "%s: %s", d->name, what);
	else
		sta_error(err, -EBADMSG, "%s: %s: %s", d->name,
			  show_path(d, path_len, path, sizeof(path)), what);
	sanitize(err->message);
	return -EBADMSG;
}

/* fail() — a malformed archive; the message names the current entry. */
static int fail(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(d, err, d->path_len, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static size_t dir_path_len(const stasync_catar_decoder *d)
{
	return d->n_frames ? d->frames[d->n_frames - 1].path_len : 0;
}

/* fail_dir() — the same, naming the directory being listed. */
static int fail_dir(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_dir(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(d, err, dir_path_len(d), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* fail_plain() — a message about the archive as a whole. */
static int fail_plain(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_plain(stasync_catar_decoder *d, stasync_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(d, err, 0, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* The input ended early: name the innermost thing still open, the
 * directory being listed (in_dir) or the entry being read. */
static int fail_truncated(stasync_catar_decoder *d, stasync_error *err, bool in_dir)
{
	size_t len = in_dir ? dir_path_len(d) : d->path_len;
	char path[400];

	if (d->offset == 0 && d->pos == d->end)
		return fail_plain(d, err, "empty input, not a catar archive");
	if (len == 0)
		return fail_plain(d, err, "truncated inside the root %s",
				  in_dir ? "directory" :
				  d->entry.mode ? kind_name(d->entry.mode) : "entry");
	return fail_plain(d, err, "truncated inside %s", show_path(d, len, path, sizeof(path)));
}

static int fail_errno(stasync_catar_decoder *d, stasync_error *err, int code, const char *what)
{
	d->state = STATE_FAILED;
	d->error = code;
	return sta_error(err, code, "%s: %s: %s", d->name, what, stasync_strerror(code));
}

/* ---- input --------------------------------------------------------------- */

/* The reader failed with `code`: so does the decoder, from now on. */
static int input_failed(stasync_catar_decoder *d, stasync_error *err, int code)
{
	d->state = STATE_FAILED;
	d->error = code;
	if (err && !err->message[0])
		return fail_errno(d, err, code, "cannot read");
	if (err)
		err->code = code;
	return code;
}

/* fill() — make n (≤ BUF_SIZE) bytes available at buf[pos]. Returns 1, 0
 * when the input ends first, or the reader's negative code. */
static int fill(stasync_catar_decoder *d, size_t n, stasync_error *err)
{
	if (d->pos == d->end)
		d->pos = d->end = 0;
	while (d->end - d->pos < n) {
		size_t space;
		ssize_t k;

		if (d->eof)
			return 0;
		if (BUF_SIZE - d->pos < n) {
			memmove(d->buf, d->buf + d->pos, d->end - d->pos);
			d->end -= d->pos;
			d->pos = 0;
		}
		space = BUF_SIZE - d->end;
		stasync_error_clear(err);
		k = d->read(d->ctx, d->buf + d->end, space, err);
		if (k < 0)
			return input_failed(d, err, (int)k);
		if (k == 0) {
			d->eof = true;
			return 0;
		}
		if ((size_t)k > space)
			return fail_errno(d, err, -EIO, "the reader returned more than asked for");
		d->end += (size_t)k;
	}
	return 1;
}

static void consume(stasync_catar_decoder *d, size_t n)
{
	if (d->tap)
		stasync_digest_write(d->tap, d->buf + d->pos, n);
	d->pos += n;
	d->offset += n;
}

/* peek_header() — the next record's size and type, not consumed. Returns
 * 1, 0 at a clean end of input, or a negative code. */
static int peek_header(stasync_catar_decoder *d, stasync_error *err, bool in_dir,
		       uint64_t *size, uint64_t *type)
{
	int r = fill(d, CA_FORMAT_HEADER_SIZE, err);

	if (r < 0)
		return r;
	if (r == 0) {
		if (d->pos == d->end)
			return 0;
		return fail_truncated(d, err, in_dir);
	}
	*size = le64_get(d->buf + d->pos);
	*type = le64_get(d->buf + d->pos + 8);
	return 1;
}

/* load() — the whole record (size ≤ BUF_SIZE, already checked) buffered. */
static int load(stasync_catar_decoder *d, size_t size, bool in_dir, stasync_error *err)
{
	int r = fill(d, size, err);

	if (r == 0)
		return fail_truncated(d, err, in_dir);
	return r < 0 ? r : 0;
}

/* ---- small checks ---------------------------------------------------------- */

/* What is wrong with a NUL-terminated string field of n bytes, or NULL. */
static const char *string_problem(const uint8_t *p, size_t n)
{
	if (n == 0 || p[n - 1] != 0)
		return "is not NUL-terminated";
	if (n == 1)
		return "is empty";
	if (memchr(p, 0, n - 1))
		return "contains a NUL byte";
	return NULL;
}

static void *dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* grow() — room for `need` items of `size` bytes in *p (capacity *alloc). */
static bool grow(void *p, size_t *alloc, size_t need, size_t size)
{
	void **pp = p;
	size_t n;
	void *q;

	if (need <= *alloc)
		return true;
	n = MAX(*alloc * 2, (size_t)8);
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / size)
		return false;
	q = realloc(*pp, n * size);
	if (!q)
		return false;
	*pp = q;
	*alloc = n;
	return true;
}

static bool uid_valid(uint64_t ff, uint64_t id)
{
	/* (uid_t)-1 and, for 16-bit ids, (uint16_t)-1 mean "no id". */
	if (ff & STASYNC_WITH_16BIT_UIDS)
		return id < UINT16_MAX;
	if (ff & STASYNC_WITH_32BIT_UIDS)
		return id < UINT32_MAX && id != UINT16_MAX;
	return id == 0;
}

static uint64_t time_granularity(uint64_t ff)
{
	if (ff & STASYNC_WITH_NSEC_TIME)
		return 1;
	if (ff & STASYNC_WITH_USEC_TIME)
		return 1000;
	if (ff & STASYNC_WITH_SEC_TIME)
		return UINT64_C(1000000000);
	if (ff & STASYNC_WITH_2SEC_TIME)
		return UINT64_C(2000000000);
	return 0;       /* no time stored: mtime must be 0 */
}

#define ACL_PERMS_VALID(p) ((p) <= 7)

/* ---- the ENTRY record ------------------------------------------------------ */

static int check_feature_flags(stasync_catar_decoder *d, uint64_t ff, stasync_error *err)
{
	if (d->have_flags) {
		if (ff != d->feature_flags)
			return fail(d, err, "feature flags 0x%016" PRIx64 " differ from the "
				    "archive's 0x%016" PRIx64, ff, d->feature_flags);
		return 0;
	}
	if (ff & ~STASYNC_FEATURES_VALID)
		return fail(d, err, "unknown feature flags 0x%016" PRIx64,
			    ff & ~STASYNC_FEATURES_VALID);
	if (stasync_feature_flags_normalize(ff) != ff)
		return fail(d, err, "feature flags 0x%016" PRIx64 " are not normalized", ff);
	d->feature_flags = ff;
	d->have_flags = true;
	return 0;
}

static int parse_entry_record(stasync_catar_decoder *d, const uint8_t *p, stasync_error *err)
{
	stasync_entry *e = &d->entry;
	uint64_t ff, perm, allowed, gran;
	const char *kind;
	int r;

	ff = le64_get(p + 16);
	r = check_feature_flags(d, ff, err);
	if (r < 0)
		return r;
	e->feature_flags = ff;
	e->mode = le64_get(p + 24);
	e->flags = le64_get(p + 32);
	e->uid = le64_get(p + 40);
	e->gid = le64_get(p + 48);
	e->mtime = le64_get(p + 56);

	if (e->mode & ~(uint64_t)(S_IFMT | 07777))
		return fail(d, err, "invalid mode 0%" PRIo64, e->mode);
	kind = kind_name(e->mode);
	switch (e->mode & S_IFMT) {
	case S_IFDIR:
	case S_IFREG:
		break;
	case S_IFLNK:
		if (!(ff & STASYNC_WITH_SYMLINKS))
			return fail(d, err, "a symlink, but the feature flags exclude symlinks");
		break;
	case S_IFBLK:
	case S_IFCHR:
		if (!(ff & STASYNC_WITH_DEVICE_NODES))
			return fail(d, err, "a %s, but the feature flags exclude device-nodes",
				    kind);
		break;
	case S_IFIFO:
		if (!(ff & STASYNC_WITH_FIFOS))
			return fail(d, err, "a fifo, but the feature flags exclude fifos");
		break;
	case S_IFSOCK:
		if (!(ff & STASYNC_WITH_SOCKETS))
			return fail(d, err, "a socket, but the feature flags exclude sockets");
		break;
	default:
		return fail(d, err, "unknown file type in mode 0%" PRIo64, e->mode);
	}

	/* Without permissions the encoder reduces the bits to fixed values. */
	perm = e->mode & 07777;
	if (S_ISLNK(e->mode)) {
		if (perm != 0777)
			return fail(d, err, "symlink with mode 0%" PRIo64 ", not 0777", perm);
	} else if (!(ff & (STASYNC_WITH_PERMISSIONS | STASYNC_WITH_ACL))) {
		bool dir = S_ISDIR(e->mode);

		if (perm != (dir ? 0777u : 0666u) &&
		    !((ff & STASYNC_WITH_READ_ONLY) && perm == (dir ? 0555u : 0444u)))
			return fail(d, err, "permission bits 0%" PRIo64 " not allowed by the "
				    "feature flags", perm);
	}

	allowed = ff & (STASYNC_WITH_FAT_ATTRS | STASYNC_WITH_CHATTR | STASYNC_WITH_SUBVOLUME |
			STASYNC_WITH_SUBVOLUME_RO);
	if (e->flags & ~allowed)
		return fail(d, err, "file attribute flags 0x%" PRIx64 " not allowed by the "
			    "feature flags", e->flags & ~allowed);
	if (e->flags && !S_ISREG(e->mode) && !S_ISDIR(e->mode))
		return fail(d, err, "file attribute flags on a %s", kind);
	if ((e->flags & (STASYNC_WITH_SUBVOLUME | STASYNC_WITH_SUBVOLUME_RO)) && !S_ISDIR(e->mode))
		return fail(d, err, "subvolume flag on a %s", kind);

	if (!uid_valid(ff, e->uid))
		return fail(d, err, "invalid uid %" PRIu64 " for the feature flags", e->uid);
	if (!uid_valid(ff, e->gid))
		return fail(d, err, "invalid gid %" PRIu64 " for the feature flags", e->gid);

	gran = time_granularity(ff);
	if (e->mtime == UINT64_MAX || (gran == 0 && e->mtime != 0) ||
	    (gran != 0 && e->mtime % gran != 0))
		return fail(d, err, "mtime %" PRIu64 " does not fit the feature flags' time "
			    "granularity", e->mtime);
	return 0;
}

/* ---- metadata records ------------------------------------------------------ */

/* Records between ENTRY and the payload, in the order they must come. */
struct meta_rule {
	uint64_t type;
	unsigned rank;          /* strictly increasing, or equal when repeatable */
	bool repeat;
	uint64_t feature;
	const char *feature_name;
	uint64_t min, max;      /* whole record */
};

static const struct meta_rule meta_rules[] = {
	{ CA_FORMAT_USER, 1, false, STASYNC_WITH_USER_NAMES, "user-names",
	  CA_FORMAT_HEADER_SIZE + 2, CA_FORMAT_HEADER_SIZE + CA_FORMAT_NAME_MAX },
	{ CA_FORMAT_GROUP, 2, false, STASYNC_WITH_USER_NAMES, "user-names",
	  CA_FORMAT_HEADER_SIZE + 2, CA_FORMAT_HEADER_SIZE + CA_FORMAT_NAME_MAX },
	/* the shortest xattr name is "x.y" */
	{ CA_FORMAT_XATTR, 3, true, STASYNC_WITH_XATTRS, "xattrs",
	  CA_FORMAT_HEADER_SIZE + 4, CA_FORMAT_XATTR_MAX },
	{ CA_FORMAT_ACL_USER, 4, true, STASYNC_WITH_ACL, "acl",
	  ACL_ITEM_SIZE, ACL_ITEM_SIZE + CA_FORMAT_NAME_MAX },
	{ CA_FORMAT_ACL_GROUP, 5, true, STASYNC_WITH_ACL, "acl",
	  ACL_ITEM_SIZE, ACL_ITEM_SIZE + CA_FORMAT_NAME_MAX },
	{ CA_FORMAT_ACL_GROUP_OBJ, 6, false, STASYNC_WITH_ACL, "acl",
	  ACL_GROUP_OBJ_SIZE, ACL_GROUP_OBJ_SIZE },
	{ CA_FORMAT_ACL_DEFAULT, 7, false, STASYNC_WITH_ACL, "acl",
	  ACL_DEFAULT_SIZE, ACL_DEFAULT_SIZE },
	{ CA_FORMAT_ACL_DEFAULT_USER, 8, true, STASYNC_WITH_ACL, "acl",
	  ACL_ITEM_SIZE, ACL_ITEM_SIZE + CA_FORMAT_NAME_MAX },
	{ CA_FORMAT_ACL_DEFAULT_GROUP, 9, true, STASYNC_WITH_ACL, "acl",
	  ACL_ITEM_SIZE, ACL_ITEM_SIZE + CA_FORMAT_NAME_MAX },
	{ CA_FORMAT_SELINUX, 10, false, STASYNC_WITH_SELINUX, "selinux",
	  CA_FORMAT_HEADER_SIZE + 2, CA_FORMAT_SELINUX_MAX },
	{ CA_FORMAT_FCAPS, 11, false, STASYNC_WITH_FCAPS, "fcaps",
	  CA_FORMAT_HEADER_SIZE + 1, CA_FORMAT_FCAPS_MAX },
	{ CA_FORMAT_QUOTA_PROJID, 12, false, STASYNC_WITH_QUOTA_PROJID, "quota-projid",
	  QUOTA_PROJID_SIZE, QUOTA_PROJID_SIZE },
};

static const struct meta_rule *meta_rule_find(uint64_t type)
{
	for (size_t i = 0; i < ELEMENTSOF(meta_rules); i++)
		if (meta_rules[i].type == type)
			return &meta_rules[i];
	return NULL;
}

static int check_size(stasync_catar_decoder *d, stasync_error *err, bool in_dir,
		      uint64_t type, uint64_t size, uint64_t min, uint64_t max)
{
	char what[128];

	if (size >= min && size <= max)
		return 0;
	if (min == max)
		snprintf(what, sizeof(what), "%s record of %" PRIu64 " bytes (must be %" PRIu64 ")",
			 record_name(type), size, min);
	else
		snprintf(what, sizeof(what), "%s record of %" PRIu64 " bytes (must be %" PRIu64
			 "..%" PRIu64 ")", record_name(type), size, min, max);
	return in_dir ? fail_dir(d, err, "%s", what) : fail(d, err, "%s", what);
}

/* A user or group name record: "root" is implied by id 0, never stored. */
static int parse_name(stasync_catar_decoder *d, const char *what, const uint8_t *p, size_t n,
		      char **ret, stasync_error *err)
{
	const char *problem = string_problem(p, n);

	if (problem)
		return fail(d, err, "%s name %s", what, problem);
	if (strcmp((const char *)p, "root") == 0)
		return fail(d, err, "%s name 'root' is stored (casync implies it)", what);
	*ret = dup_bytes(p, n);
	return *ret ? 0 : fail_errno(d, err, -ENOMEM, "cannot decode");
}

static int parse_xattr(stasync_catar_decoder *d, const uint8_t *p, size_t n, stasync_error *err)
{
	stasync_entry *e = &d->entry;
	const uint8_t *nul = memchr(p, 0, MIN(n, (size_t)CA_FORMAT_NAME_MAX));
	const char *name = (const char *)p;
	size_t name_len, value_len;
	stasync_xattr *x;

	if (!nul)
		return fail(d, err, "xattr name not NUL-terminated within 255 bytes");
	name_len = (size_t)(nul - p);
	value_len = n - name_len - 1;
	/* casync stores only these namespaces; others have their own records. */
	if (!((strncmp(name, "user.", 5) == 0 && name_len > 5) ||
	      (strncmp(name, "trusted.", 8) == 0 && name_len > 8)))
		return fail(d, err, "xattr '%s' is not in the user or trusted namespace", name);
	if (e->n_xattrs > 0) {
		const char *prev = e->xattrs[e->n_xattrs - 1].name;
		int c = strcmp(name, prev);

		if (c == 0)
			return fail(d, err, "duplicate xattr '%s'", name);
		if (c < 0)
			return fail(d, err, "xattrs not sorted ('%s' after '%s')", name, prev);
	}
	d->xattr_names += name_len + 1;
	d->xattr_values += value_len;
	if (d->xattr_names > XATTR_NAMES_MAX)
		return fail(d, err, "xattr names longer than %d bytes in all", XATTR_NAMES_MAX);
	if (d->xattr_values > XATTR_VALUES_MAX)
		return fail(d, err, "xattr values larger than %d bytes in all", XATTR_VALUES_MAX);
	if (!grow(&e->xattrs, &d->xattrs_alloc, e->n_xattrs + 1, sizeof(*e->xattrs)))
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	x = &e->xattrs[e->n_xattrs];
	x->name = dup_bytes(p, name_len + 1);
	x->value = dup_bytes(p + name_len + 1, value_len);
	x->size = value_len;
	if (!x->name || !x->value) {
		free(x->name);
		free(x->value);
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	}
	e->n_xattrs++;
	return 0;
}

/* casync's order of ACL items: id, then nameless first, then name, then
 * permissions. */
static int acl_item_compare(const stasync_acl_item *a, const stasync_acl_item *b)
{
	int c;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (!a->name != !b->name)
		return !a->name ? -1 : 1;
	if (a->name && (c = strcmp(a->name, b->name)) != 0)
		return c;
	if (a->permissions != b->permissions)
		return a->permissions < b->permissions ? -1 : 1;
	return 0;
}

static int parse_acl_item(stasync_catar_decoder *d, uint64_t type, const uint8_t *p, size_t n,
			  stasync_error *err)
{
	stasync_entry *e = &d->entry;
	stasync_acl_item **list, item = { 0 };
	size_t *count, *alloc, other;
	const char *what = record_name(type);

	switch (type) {
	case CA_FORMAT_ACL_USER:
		list = &e->acl_user, count = &e->n_acl_user, alloc = &d->acl_alloc[0];
		other = e->n_acl_group;
		break;
	case CA_FORMAT_ACL_GROUP:
		list = &e->acl_group, count = &e->n_acl_group, alloc = &d->acl_alloc[1];
		other = e->n_acl_user;
		break;
	case CA_FORMAT_ACL_DEFAULT_USER:
		list = &e->acl_default_user, count = &e->n_acl_default_user,
		alloc = &d->acl_alloc[2];
		other = e->n_acl_default_group;
		break;
	default:
		list = &e->acl_default_group, count = &e->n_acl_default_group,
		alloc = &d->acl_alloc[3];
		other = e->n_acl_default_user;
		break;
	}
	item.id = le64_get(p);
	item.permissions = le64_get(p + 8);
	if (!uid_valid(d->feature_flags, item.id))
		return fail(d, err, "%s record with invalid id %" PRIu64, what, item.id);
	if (!ACL_PERMS_VALID(item.permissions))
		return fail(d, err, "%s record with invalid permissions 0x%" PRIx64, what,
			    item.permissions);
	if (n > 16) {
		const char *problem = string_problem(p + 16, n - 16);

		if (problem)
			return fail(d, err, "%s name %s", what, problem);
		if (!(d->feature_flags & STASYNC_WITH_USER_NAMES))
			return fail(d, err, "%s record with a name, but the feature flags exclude "
				    "user-names", what);
		item.name = (char *)(p + 16);
	}
	if (*count > 0 && acl_item_compare(&item, &(*list)[*count - 1]) <= 0)
		return fail(d, err, "%s records not sorted or duplicated (id %" PRIu64 ")", what,
			    item.id);
	if (*count + other >= ACL_ENTRIES_MAX)
		return fail(d, err, "more than %d ACL entries", ACL_ENTRIES_MAX);
	if (!grow(list, alloc, *count + 1, sizeof(**list)))
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	if (item.name && !(item.name = dup_bytes(item.name, n - 16)))
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	(*list)[(*count)++] = item;
	return 0;
}

static int parse_meta(stasync_catar_decoder *d, uint64_t type, const uint8_t *rec, size_t size,
		      stasync_error *err)
{
	stasync_entry *e = &d->entry;
	const uint8_t *p = rec + CA_FORMAT_HEADER_SIZE;
	size_t n = size - CA_FORMAT_HEADER_SIZE;
	const char *problem;

	switch (type) {
	case CA_FORMAT_USER:
		return parse_name(d, "user", p, n, &e->user, err);
	case CA_FORMAT_GROUP:
		return parse_name(d, "group", p, n, &e->group, err);
	case CA_FORMAT_XATTR:
		return parse_xattr(d, p, n, err);
	case CA_FORMAT_ACL_USER:
	case CA_FORMAT_ACL_GROUP:
	case CA_FORMAT_ACL_DEFAULT_USER:
	case CA_FORMAT_ACL_DEFAULT_GROUP:
		return parse_acl_item(d, type, p, n, err);
	case CA_FORMAT_ACL_GROUP_OBJ:
		e->acl_group_obj = le64_get(p);
		if (!ACL_PERMS_VALID(e->acl_group_obj))
			return fail(d, err, "ACL_GROUP_OBJ record with invalid permissions");
		return 0;
	case CA_FORMAT_ACL_DEFAULT:
		e->acl_default_user_obj = le64_get(p);
		e->acl_default_group_obj = le64_get(p + 8);
		e->acl_default_other = le64_get(p + 16);
		e->acl_default_mask = le64_get(p + 24);
		if (!ACL_PERMS_VALID(e->acl_default_user_obj) ||
		    !ACL_PERMS_VALID(e->acl_default_group_obj) ||
		    !ACL_PERMS_VALID(e->acl_default_other) ||
		    (e->acl_default_mask != STASYNC_ACL_NONE &&
		     !ACL_PERMS_VALID(e->acl_default_mask)))
			return fail(d, err, "ACL_DEFAULT record with invalid permissions");
		return 0;
	case CA_FORMAT_SELINUX:
		problem = string_problem(p, n);
		if (problem)
			return fail(d, err, "SELinux label %s", problem);
		e->selinux = dup_bytes(p, n);
		return e->selinux ? 0 : fail_errno(d, err, -ENOMEM, "cannot decode");
	case CA_FORMAT_FCAPS:
		e->fcaps = dup_bytes(p, n);
		e->fcaps_size = n;
		return e->fcaps ? 0 : fail_errno(d, err, -ENOMEM, "cannot decode");
	case CA_FORMAT_QUOTA_PROJID:
		e->quota_projid = le64_get(p);
		if (e->quota_projid == 0 || e->quota_projid > UINT32_MAX)
			return fail(d, err, "invalid quota project id %" PRIu64, e->quota_projid);
		return 0;
	}
	return fail(d, err, "internal error: no parser for %s", record_name(type));
}

/* Rules across the metadata records, checked once they have all been read. */
static int check_meta(stasync_catar_decoder *d, stasync_error *err)
{
	const stasync_entry *e = &d->entry;
	const char *kind = kind_name(e->mode);
	bool has_default = e->n_acl_default_user || e->n_acl_default_group ||
		e->acl_default_user_obj != STASYNC_ACL_NONE;

	if (S_ISLNK(e->mode) && (e->n_xattrs || e->n_acl_user || e->n_acl_group ||
				 e->acl_group_obj != STASYNC_ACL_NONE || has_default))
		return fail(d, err, "xattrs or ACLs on a symlink");
	/* Named ACL entries need a mask, which then holds the group bits. */
	if ((e->n_acl_user || e->n_acl_group) && e->acl_group_obj == STASYNC_ACL_NONE)
		return fail(d, err, "ACL_USER/ACL_GROUP records without ACL_GROUP_OBJ");
	if ((e->n_acl_default_user || e->n_acl_default_group) &&
	    (e->acl_default_user_obj == STASYNC_ACL_NONE ||
	     e->acl_default_mask == STASYNC_ACL_NONE))
		return fail(d, err, "named default ACL entries without a default mask");
	if (has_default && !S_ISDIR(e->mode))
		return fail(d, err, "default ACL on a %s", kind);
	if (e->fcaps && !S_ISREG(e->mode))
		return fail(d, err, "FCAPS record on a %s", kind);
	if (e->quota_projid && !S_ISREG(e->mode) && !S_ISDIR(e->mode))
		return fail(d, err, "QUOTA_PROJID record on a %s", kind);
	return 0;
}

/* ---- one entry ----------------------------------------------------------- */

static void entry_reset(stasync_catar_decoder *d)
{
	stasync_entry_clear(&d->entry);
	d->xattrs_alloc = 0;
	memset(d->acl_alloc, 0, sizeof(d->acl_alloc));
	d->xattr_names = d->xattr_values = 0;
	d->payload_left = 0;
}

/* The record that ends a non-directory's metadata (or, for a directory,
 * fifo or socket, the parent's next record, left unread). */
static int parse_terminal(stasync_catar_decoder *d, uint64_t type, uint64_t size,
			  stasync_error *err)
{
	stasync_entry *e = &d->entry;
	const char *kind = kind_name(e->mode);
	const uint8_t *p;
	const char *problem;
	int r;

	switch (type) {
	case CA_FORMAT_PAYLOAD:
		if (!S_ISREG(e->mode))
			return fail(d, err, "PAYLOAD record in a %s", kind);
		if (size < CA_FORMAT_HEADER_SIZE)
			return check_size(d, err, false, type, size, CA_FORMAT_HEADER_SIZE,
					  UINT64_MAX);
		/* Offsets must stay representable, whatever the size claims. */
		if (size > UINT64_MAX / 2 - d->offset)
			return fail(d, err, "PAYLOAD record of %" PRIu64 " bytes is impossibly "
				    "large", size);
		e->size = size - CA_FORMAT_HEADER_SIZE;
		d->payload_left = e->size;
		consume(d, CA_FORMAT_HEADER_SIZE);
		return 0;

	case CA_FORMAT_SYMLINK:
		if (!S_ISLNK(e->mode))
			return fail(d, err, "SYMLINK record in a %s", kind);
		r = check_size(d, err, false, type, size, CA_FORMAT_HEADER_SIZE + 2,
			       CA_FORMAT_SYMLINK_MAX);
		if (r < 0)
			return r;
		r = load(d, size, false, err);
		if (r < 0)
			return r;
		p = d->buf + d->pos + CA_FORMAT_HEADER_SIZE;
		problem = string_problem(p, size - CA_FORMAT_HEADER_SIZE);
		if (problem)
			return fail(d, err, "symlink target %s", problem);
		e->symlink = dup_bytes(p, size - CA_FORMAT_HEADER_SIZE);
		if (!e->symlink)
			return fail_errno(d, err, -ENOMEM, "cannot decode");
		consume(d, size);
		return 0;

	case CA_FORMAT_DEVICE:
		if (!S_ISBLK(e->mode) && !S_ISCHR(e->mode))
			return fail(d, err, "DEVICE record in a %s", kind);
		r = check_size(d, err, false, type, size, CA_FORMAT_DEVICE_SIZE,
			       CA_FORMAT_DEVICE_SIZE);
		if (r < 0)
			return r;
		r = load(d, size, false, err);
		if (r < 0)
			return r;
		p = d->buf + d->pos + CA_FORMAT_HEADER_SIZE;
		e->rdev_major = le64_get(p);
		e->rdev_minor = le64_get(p + 8);
		/* Linux device numbers: 12-bit major, 20-bit minor. */
		if (e->rdev_major >= (1u << 12) || e->rdev_minor >= (1u << 20))
			return fail(d, err, "invalid device number %" PRIu64 ":%" PRIu64,
				    e->rdev_major, e->rdev_minor);
		consume(d, size);
		return 0;

	case CA_FORMAT_FILENAME:
	case CA_FORMAT_GOODBYE:
		if (S_ISDIR(e->mode) || S_ISFIFO(e->mode) || S_ISSOCK(e->mode))
			return 0;
		return fail(d, err, "%s without its %s record", kind,
			    S_ISREG(e->mode) ? "PAYLOAD" : S_ISLNK(e->mode) ? "SYMLINK" : "DEVICE");

	case CA_FORMAT_ENTRY:
		return fail(d, err, "ENTRY record inside an entry (a FILENAME is missing)");
	}
	if (record_name(type))
		return fail(d, err, "%s record out of order", record_name(type));
	return fail(d, err, "unknown record type 0x%016" PRIx64, type);
}

/* parse_entry() — ENTRY and everything that belongs to it, up to the start
 * of a regular file's payload. `root`: nothing encloses it. */
static int parse_entry(stasync_catar_decoder *d, bool root, stasync_error *err)
{
	const struct meta_rule *rule;
	unsigned last_rank = 0;
	uint64_t last_type = CA_FORMAT_ENTRY;
	uint64_t size, type;
	int r;

	entry_reset(d);
	r = peek_header(d, err, false, &size, &type);
	if (r < 0)
		return r;
	if (r == 0)
		return fail_truncated(d, err, false);
	if (type != CA_FORMAT_ENTRY) {
		const char *name = record_name(type);

		if (root && d->inner)
			return fail(d, err, "no ENTRY record (%s found)",
				    name ? name : "unknown data");
		if (root)
			return fail_plain(d, err, "not a catar archive (it starts with %s%s, not "
					  "an ENTRY record)", name ? name : "unknown data",
					  name ? " record" : "");
		return fail(d, err, "FILENAME not followed by an ENTRY record (%s found)",
			    name ? name : "unknown data");
	}
	r = check_size(d, err, false, type, size, CA_FORMAT_ENTRY_SIZE, CA_FORMAT_ENTRY_SIZE);
	if (r < 0)
		return r;
	r = load(d, size, false, err);
	if (r < 0)
		return r;
	r = parse_entry_record(d, d->buf + d->pos, err);
	if (r < 0)
		return r;
	consume(d, size);

	for (;;) {
		r = peek_header(d, err, false, &size, &type);
		if (r < 0)
			return r;
		if (r == 0) {
			mode_t m = (mode_t)d->entry.mode;

			/* A fifo or socket is complete; what ends early is its
			 * parent, unless it is the whole archive. */
			if (S_ISFIFO(m) || S_ISSOCK(m)) {
				if (root)
					return check_meta(d, err);
				return fail_truncated(d, err, true);
			}
			return fail_truncated(d, err, false);
		}
		rule = meta_rule_find(type);
		if (!rule)
			break;
		if (rule->rank < last_rank || (rule->rank == last_rank && !rule->repeat)) {
			if (type == last_type)
				return fail(d, err, "more than one %s record", record_name(type));
			return fail(d, err, "%s record after %s record", record_name(type),
				    record_name(last_type));
		}
		if (!(d->feature_flags & rule->feature))
			return fail(d, err, "%s record, but the feature flags exclude %s",
				    record_name(type), rule->feature_name);
		r = check_size(d, err, false, type, size, rule->min, rule->max);
		if (r < 0)
			return r;
		r = load(d, size, false, err);
		if (r < 0)
			return r;
		r = parse_meta(d, type, d->buf + d->pos, size, err);
		if (r < 0)
			return r;
		consume(d, size);
		last_rank = rule->rank;
		last_type = type;
	}
	r = check_meta(d, err);
	if (r < 0)
		return r;
	return parse_terminal(d, type, size, err);
}

/* ---- directories ------------------------------------------------------------ */

static int path_set_child(stasync_catar_decoder *d, size_t parent_len, const char *name,
			  size_t len, stasync_error *err)
{
	size_t need = parent_len + 1 + len + 1;

	if (need > d->path_alloc) {
		size_t n = MAX(d->path_alloc * 2, need);
		char *p = realloc(d->path, n);

		if (!p)
			return fail_errno(d, err, -ENOMEM, "cannot decode");
		d->path = p;
		d->path_alloc = n;
	}
	d->path_len = parent_len;
	if (parent_len > 0)
		d->path[d->path_len++] = '/';
	d->name_off = d->path_len;
	memcpy(d->path + d->path_len, name, len);
	d->path_len += len;
	d->path[d->path_len] = 0;
	return 0;
}

/* The current entry was read to its end: its parent learns where it ended. */
static void close_child(stasync_catar_decoder *d)
{
	struct frame *f;

	if (d->n_frames == 0) {
		d->state = STATE_END;
		return;
	}
	f = &d->frames[d->n_frames - 1];
	f->items[f->n_items - 1].end = d->offset;
	d->state = STATE_DIR;
}

static int emit_entry(stasync_catar_decoder *d, uint64_t entry_start,
		      const stasync_entry **entry, stasync_error *err)
{
	if (S_ISDIR(d->entry.mode)) {
		struct frame *f;

		if (d->n_frames >= DEPTH_MAX)
			return fail(d, err, "directories nested deeper than %d levels", DEPTH_MAX);
		if (!grow(&d->frames, &d->n_frames_alloc, d->n_frames + 1, sizeof(*d->frames)))
			return fail_errno(d, err, -ENOMEM, "cannot decode");
		f = &d->frames[d->n_frames++];
		/* Frames are reused: keep an old frame's item array. */
		if (d->n_frames > d->n_frames_used) {
			f->items = NULL;
			f->n_alloc = 0;
			d->n_frames_used = d->n_frames;
		}
		f->entry_start = entry_start;
		f->path_len = d->path_len;
		f->name_off = d->name_off;
		f->n_items = 0;
		d->state = STATE_DIR;
		d->dir_entered = true;
	} else
		d->state = STATE_ENTRY;
	if (entry)
		*entry = &d->entry;
	return STASYNC_CATAR_ENTRY;
}

static int read_child(stasync_catar_decoder *d, uint64_t size, const stasync_entry **entry,
		      stasync_error *err)
{
	struct frame *f = &d->frames[d->n_frames - 1];
	struct sta_goodbye_item *item;
	const char *name, *problem;
	uint64_t start = d->offset;
	size_t len;
	int r;

	r = check_size(d, err, true, CA_FORMAT_FILENAME, size, CA_FORMAT_HEADER_SIZE + 2,
		       CA_FORMAT_HEADER_SIZE + CA_FORMAT_NAME_MAX);
	if (r < 0)
		return r;
	r = load(d, size, true, err);
	if (r < 0)
		return r;
	name = (const char *)d->buf + d->pos + CA_FORMAT_HEADER_SIZE;
	len = size - CA_FORMAT_HEADER_SIZE - 1;
	problem = string_problem((const uint8_t *)name, len + 1);
	if (problem)
		return fail_dir(d, err, "file name %s", problem);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail_dir(d, err, "invalid file name '%s'", name);
	if (memchr(name, '/', len))
		return fail_dir(d, err, "file name '%s' contains '/'", name);
	if (f->n_items > 0) {
		/* The path still ends with the previous child's name. */
		const char *prev = d->path + (f->path_len ? f->path_len + 1 : 0);
		int c = strcmp(name, prev);

		if (c == 0)
			return fail_dir(d, err, "duplicate file name '%s'", name);
		if (c < 0)
			return fail_dir(d, err, "children not sorted ('%s' after '%s')", name,
					prev);
	}
	if (!grow(&f->items, &f->n_alloc, f->n_items + 1, sizeof(*f->items)))
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	item = &f->items[f->n_items++];
	item->start = start;
	item->end = 0;
	item->hash = sta_goodbye_hash(name, len);
	r = path_set_child(d, f->path_len, name, len, err);
	if (r < 0)
		return r;
	d->depth = (unsigned)d->n_frames;
	consume(d, size);

	start = d->offset;
	r = parse_entry(d, false, err);
	if (r < 0)
		return r;
	return emit_entry(d, start, entry, err);
}

/* Name the field of a GOODBYE record (size bytes) in which byte `at`
 * differs from the expected table. */
static int goodbye_mismatch(stasync_catar_decoder *d, size_t at, size_t size, stasync_error *err)
{
	static const char *const item_fields[] = { "offset", "size", "hash" };
	static const char *const tail_fields[] = { "entry offset", "size", "marker" };
	size_t items_end = size - CA_FORMAT_GOODBYE_ITEM_SIZE, k;

	if (at < CA_FORMAT_HEADER_SIZE)
		return fail_dir(d, err, "GOODBYE record header is wrong");
	if (at >= items_end)
		return fail_dir(d, err, "GOODBYE tail has a wrong %s",
				tail_fields[(at - items_end) / 8]);
	k = at - CA_FORMAT_HEADER_SIZE;
	return fail_dir(d, err, "GOODBYE item %zu does not match the children (its %s)",
			k / CA_FORMAT_GOODBYE_ITEM_SIZE,
			item_fields[k % CA_FORMAT_GOODBYE_ITEM_SIZE / 8]);
}

/* check_goodbye() — the GOODBYE record at the read position must be,
 * byte for byte, the table sta_goodbye_serialize() builds from the children
 * seen (their FILENAME offsets, ends and name hashes). Consumes it. */
static int check_goodbye(stasync_catar_decoder *d, struct frame *f, size_t size,
			 stasync_error *err)
{
	_cleanup_free_ uint8_t *expect = malloc(size);
	size_t done = 0;
	int r;

	if (!expect)
		return fail_errno(d, err, -ENOMEM, "cannot decode");
	r = sta_goodbye_serialize(f->items, f->n_items, d->offset, f->entry_start, expect);
	if (r < 0)
		return fail_errno(d, err, r, "cannot compute a GOODBYE table");
	while (done < size) {
		size_t chunk = MIN(size - done, (size_t)BUF_SIZE);
		const uint8_t *p;

		r = load(d, chunk, true, err);
		if (r < 0)
			return r;
		p = d->buf + d->pos;
		if (memcmp(p, expect + done, chunk) != 0) {
			size_t i = 0;

			while (p[i] == expect[done + i])
				i++;
			return goodbye_mismatch(d, done + i, size, err);
		}
		consume(d, chunk);
		done += chunk;
	}
	return 0;
}

static int read_goodbye(stasync_catar_decoder *d, uint64_t size, stasync_error *err)
{
	struct frame *f = &d->frames[d->n_frames - 1];
	uint64_t expect = sta_goodbye_size(f->n_items);
	int r;

	if (size != expect)
		return fail_dir(d, err, "GOODBYE record of %" PRIu64 " bytes, expected %" PRIu64
				" for %zu children", size, expect, f->n_items);
	r = check_goodbye(d, f, (size_t)size, err);
	if (r < 0)
		return r;
	d->n_frames--;
	d->path_len = f->path_len;
	d->path[d->path_len] = 0;
	d->name_off = f->name_off;
	d->depth = (unsigned)d->n_frames;
	close_child(d);
	return STASYNC_CATAR_DIR_END;
}

/* One step inside the directory on top of the stack: a child or its end. */
static int read_dir(stasync_catar_decoder *d, const stasync_entry **entry, stasync_error *err)
{
	uint64_t size, type;
	int r;

	r = peek_header(d, err, true, &size, &type);
	if (r < 0)
		return r;
	if (r == 0)
		return fail_truncated(d, err, true);
	if (type == CA_FORMAT_FILENAME)
		return read_child(d, size, entry, err);
	if (type == CA_FORMAT_GOODBYE)
		return read_goodbye(d, size, err);
	if (record_name(type))
		return fail_dir(d, err, "%s record where a FILENAME or GOODBYE belongs",
				record_name(type));
	return fail_dir(d, err, "unknown record type 0x%016" PRIx64, type);
}

static int skip_payload(stasync_catar_decoder *d, stasync_error *err)
{
	while (d->payload_left > 0) {
		size_t k;
		int r;

		/* what is not buffered yet need not be copied to be passed
		 * over, unless it is being digested here */
		if (d->pos == d->end && d->skip && !d->tap && !d->eof) {
			ssize_t got;

			stasync_error_clear(err);
			got = d->skip(d->ctx, d->payload_left, err);
			if (got < 0)
				return input_failed(d, err, (int)got);
			if (got == 0) {
				d->eof = true;
				return fail_truncated(d, err, false);
			}
			if ((uint64_t)got > d->payload_left)
				return fail_errno(d, err, -EIO, "the reader skipped more than asked for");
			d->offset += (uint64_t)got;
			d->payload_left -= (uint64_t)got;
			continue;
		}
		if (d->pos == d->end) {
			r = fill(d, 1, err);
			if (r < 0)
				return r;
			if (r == 0)
				return fail_truncated(d, err, false);
		}
		k = (size_t)MIN(d->payload_left, (uint64_t)(d->end - d->pos));
		consume(d, k);
		d->payload_left -= k;
	}
	return 0;
}

/* ---- the public interface ------------------------------------------------------ */

int stasync_catar_decoder_new(stasync_read_fn read, void *ctx, const char *name,
			      stasync_catar_decoder **ret, stasync_error *err)
{
	stasync_catar_decoder *d;

	if (!read || !ret)
		return sta_error(err, -EINVAL, "stasync_catar_decoder_new: no reader");
	d = calloc(1, sizeof(*d));
	if (!d)
		return sta_error(err, -ENOMEM, "out of memory");
	d->read = read;
	d->ctx = ctx;
	d->name = sta_strdup(name ? name : "archive");
	d->buf = malloc(BUF_SIZE);
	d->path_alloc = 256;
	d->path = calloc(1, d->path_alloc);
	if (!d->name || !d->buf || !d->path) {
		stasync_catar_decoder_free(d);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	d->name_off = SIZE_MAX;
	d->state = STATE_ROOT;
	stasync_entry_init(&d->entry);
	*ret = d;
	return 0;
}

void stasync_catar_decoder_set_skip(stasync_catar_decoder *d, stasync_skip_fn skip)
{
	d->skip = skip;
}

void stasync_catar_decoder_free(stasync_catar_decoder *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_frames_used; i++)
		free(d->frames[i].items);
	free(d->frames);
	stasync_entry_clear(&d->entry);
	free(d->path);
	free(d->buf);
	free(d->name);
	free(d);
}

int stasync_catar_decoder_next(stasync_catar_decoder *d, const stasync_entry **entry,
			       stasync_error *err)
{
	int r;

	if (entry)
		*entry = NULL;
	if (!d)
		return sta_error(err, -EINVAL, "stasync_catar_decoder_next: no decoder");
	d->dir_entered = false;
	switch (d->state) {
	case STATE_FAILED:
		return sta_error(err, d->error, "%s: cannot continue after an error", d->name);
	case STATE_FINISHED:
		return 0;
	case STATE_ROOT:
		r = parse_entry(d, true, err);
		if (r < 0)
			return r;
		return emit_entry(d, 0, entry, err);
	case STATE_ENTRY:
		r = skip_payload(d, err);
		if (r < 0)
			return r;
		close_child(d);
		break;
	case STATE_DIR:
	case STATE_END:
		break;
	}
	if (d->state == STATE_DIR)
		return read_dir(d, entry, err);

	/* The root ended: anything more is not part of the archive. */
	r = fill(d, 1, err);
	if (r < 0)
		return r;
	if (r > 0)
		return fail_plain(d, err, "trailing data after the end of the archive "
				  "(offset %" PRIu64 ")", d->offset);
	d->state = STATE_FINISHED;
	return 0;
}

const char *stasync_catar_decoder_path(const stasync_catar_decoder *d)
{
	return d->path;
}

const char *stasync_catar_decoder_name(const stasync_catar_decoder *d)
{
	return d->name_off == SIZE_MAX ? NULL : d->path + d->name_off;
}

unsigned stasync_catar_decoder_depth(const stasync_catar_decoder *d)
{
	return d->depth;
}

ssize_t stasync_catar_decoder_read_payload(stasync_catar_decoder *d, void *p, size_t n,
					   stasync_error *err)
{
	size_t m, k;
	int r;

	if (d->state == STATE_FAILED)
		return sta_error(err, d->error, "%s: cannot continue after an error", d->name);
	if (d->state != STATE_ENTRY || !S_ISREG(d->entry.mode))
		return sta_error(err, -EINVAL, "%s: the current entry is not a regular file",
				 d->name);
	m = (size_t)MIN((uint64_t)MIN(n, (size_t)SSIZE_MAX), d->payload_left);
	if (m == 0)
		return 0;
	if (d->pos == d->end) {
		/* Large reads bypass the buffer. */
		if (m >= 4096 && !d->eof) {
			ssize_t got;

			stasync_error_clear(err);
			got = d->read(d->ctx, p, m, err);
			if (got < 0)
				return input_failed(d, err, (int)got);
			if ((size_t)got > m)
				return fail_errno(d, err, -EIO,
						  "the reader returned more than asked for");
			if (got == 0) {
				d->eof = true;
				return fail_truncated(d, err, false);
			}
			if (d->tap)
				stasync_digest_write(d->tap, p, (size_t)got);
			d->offset += (uint64_t)got;
			d->payload_left -= (uint64_t)got;
			return got;
		}
		r = fill(d, 1, err);
		if (r < 0)
			return r;
		if (r == 0)
			return fail_truncated(d, err, false);
	}
	k = MIN(m, d->end - d->pos);
	memcpy(p, d->buf + d->pos, k);
	consume(d, k);
	d->payload_left -= k;
	return (ssize_t)k;
}

int stasync_catar_decoder_digest_dir(stasync_catar_decoder *d, stasync_chunk_id *ret,
				     stasync_error *err)
{
	stasync_digest_type type;
	stasync_digest *dg = NULL;
	uint8_t *records = NULL;
	size_t n_records, level;
	uint64_t start;
	int r;

	if (!d || !ret || !d->dir_entered || d->state != STATE_DIR || d->n_frames == 0)
		return sta_error(err, -EINVAL, "stasync_catar_decoder_digest_dir: not at a "
				 "directory's ENTRY");
	level = d->n_frames - 1;
	start = d->frames[level].entry_start;
	type = d->feature_flags & STASYNC_SHA512_256 ? STASYNC_DIGEST_SHA512_256
						     : STASYNC_DIGEST_SHA256;
	/* The directory's own records are behind us: they are written again
	 * from the decoded entry, which must give the very bytes read. */
	r = stasync_entry_records(&d->entry, &records, &n_records);
	if (r < 0)
		return sta_error(err, r, "%s: %s: cannot digest the directory: %s", d->name,
				 *d->path ? d->path : ".", stasync_strerror(r));
	if (n_records != d->offset - start) {
		free(records);
		return sta_error(err, -EBADMSG, "%s: %s: the directory's records are not "
				 "laid out as casync writes them", d->name,
				 *d->path ? d->path : ".");
	}
	r = stasync_digest_new(type, &dg);
	if (r < 0) {
		free(records);
		return sta_error(err, r, "out of memory");
	}
	stasync_digest_write(dg, records, n_records);
	free(records);

	d->tap = dg;
	do {
		r = stasync_catar_decoder_next(d, NULL, err);
		if (r == 0)   /* cannot happen: the directory is still open */
			r = sta_error(err, -EBADMSG, "%s: the archive ends inside a directory",
				      d->name);
	} while (r > 0 && !(r == STASYNC_CATAR_DIR_END && d->n_frames == level));
	d->tap = NULL;
	if (r > 0)
		stasync_digest_final(dg, ret);
	stasync_digest_free(dg);
	return r < 0 ? r : 0;
}

uint64_t stasync_catar_decoder_offset(const stasync_catar_decoder *d)
{
	return d->offset;
}

int sta_catar_decoder_start_inner(stasync_catar_decoder *d, const char *label,
				  uint64_t feature_flags, stasync_error *err)
{
	size_t len = strlen(label);

	if (d->state != STATE_ROOT || d->offset != 0)
		return sta_error(err, -EINVAL, "%s: cannot start inside the archive after "
				 "decoding began", d->name);
	if (len + 1 > d->path_alloc) {
		char *p = realloc(d->path, len + 1);

		if (!p)
			return sta_error(err, -ENOMEM, "out of memory");
		d->path = p;
		d->path_alloc = len + 1;
	}
	memcpy(d->path, label, len + 1);
	d->path_len = len;
	d->inner = true;
	d->feature_flags = feature_flags;
	d->have_flags = true;
	return 0;
}

void sta_catar_decoder_take_entry(stasync_catar_decoder *d, stasync_entry *ret)
{
	*ret = d->entry;
	stasync_entry_init(&d->entry);
	d->xattrs_alloc = 0;
	memset(d->acl_alloc, 0, sizeof(d->acl_alloc));
}

const char *stasync_catar_decoder_archive(const stasync_catar_decoder *d)
{
	return d->name;
}
