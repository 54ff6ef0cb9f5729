/* ==== catar archives =======================================================
 * casync's serialization of a directory tree: per entry an ENTRY record
 * with optional metadata records, then a payload, symlink target or device
 * numbers; directories list their children (FILENAME + entry, sorted by
 * name) and end with a GOODBYE table. */
#ifndef STASYNC_CATAR_H
#define STASYNC_CATAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stasync/digest.h>
#include <stasync/error.h>
#include <stasync/features.h>

/* ---- One entry's metadata ------------------------------------------------ */
typedef struct stasync_xattr {
	char *name;             /* NUL-terminated */
	uint8_t *value;
	size_t size;
} stasync_xattr;

typedef struct stasync_acl_item {
	uint64_t id;            /* uid or gid */
	uint64_t permissions;   /* r=4 w=2 x=1 */
	char *name;             /* user/group name, or NULL */
} stasync_acl_item;

#define STASYNC_ACL_NONE UINT64_MAX  /* "no such permission entry" */

typedef struct stasync_entry {
	/* ENTRY record */
	uint64_t feature_flags;
	uint64_t mode;          /* full st_mode */
	uint64_t flags;         /* chattr/FAT/subvolume bits (feature values) */
	uint64_t uid, gid;
	uint64_t mtime;         /* nanoseconds since the epoch */
	/* optional records, NULL/0/STASYNC_ACL_NONE when absent */
	char *user, *group;
	stasync_xattr *xattrs;
	size_t n_xattrs;
	stasync_acl_item *acl_user, *acl_group;
	size_t n_acl_user, n_acl_group;
	uint64_t acl_group_obj;
	uint64_t acl_default_user_obj, acl_default_group_obj, acl_default_other,
		acl_default_mask;
	stasync_acl_item *acl_default_user, *acl_default_group;
	size_t n_acl_default_user, n_acl_default_group;
	char *selinux;
	uint8_t *fcaps;
	size_t fcaps_size;
	uint64_t quota_projid;  /* 0: none */
	/* what follows the metadata */
	char *symlink;          /* S_ISLNK: target */
	uint64_t rdev_major, rdev_minor; /* S_ISBLK/S_ISCHR */
	uint64_t size;          /* S_ISREG: payload bytes */
} stasync_entry;

/* stasync_entry_init() — all fields empty (ACL fields STASYNC_ACL_NONE). */
void stasync_entry_init(stasync_entry *e);
/* stasync_entry_clear() — free everything the entry owns and re-init. */
void stasync_entry_clear(stasync_entry *e);

/* stasync_entry_records() — the entry's records exactly as casync writes
 * them: ENTRY, the metadata records, then the PAYLOAD header (without the
 * contents), the SYMLINK or the DEVICE record. *ret is malloc()ed. Returns
 * 0, -ENOMEM, or -E2BIG for metadata past 64 MiB. */
int stasync_entry_records(const stasync_entry *e, uint8_t **ret, size_t *ret_size);

/* stasync_entry_acl_xattr() — the entry's access (def false) or default
 * ACL as the value of the system.posix_acl_access/_default xattr the
 * kernel takes (ids as stored); *ret (malloc()ed) NULL and *ret_size 0
 * when it has none beyond its mode. Returns 0, -ENOMEM or -EBADMSG. */
int stasync_entry_acl_xattr(const stasync_entry *e, bool def, uint8_t **ret, size_t *ret_size);

/* ---- Byte streams --------------------------------------------------------
 * The encoder pushes bytes into a writer; the decoder pulls them from a
 * reader. Both return 0 / a byte count, or a negative errno with a message
 * in err. A reader returns 0 only at the end of the stream. */
typedef int (*stasync_write_fn)(void *ctx, const void *p, size_t n, stasync_error *err);
typedef ssize_t (*stasync_read_fn)(void *ctx, void *p, size_t n, stasync_error *err);
/* Pass over up to n bytes of the input without handing them out: how
 * many (at least 1), 0 at its end, or a negative code with a message. */
typedef ssize_t (*stasync_skip_fn)(void *ctx, uint64_t n, stasync_error *err);

/* ---- Encoding ------------------------------------------------------------ */
typedef struct stasync_encode_options {
	uint64_t feature_flags;   /* normalized; STASYNC_FEATURES_DEFAULT if 0 */
	/* casync's --uid-shift/--uid-range when making: ids are stored as
	 * (id − uid_shift) mod uid_range (no modulo when 0); an id below the
	 * shift is an error. */
	uid_t uid_shift, uid_range;
	/* fail with -ENOTEMPTY where a node would be left out (a type the
	 * features lack, chattr +d, another mount, .caexclude): a tree being
	 * compared with an archive differs there, since extract removes it */
	bool leave_nothing_out;
} stasync_encode_options;

/* stasync_catar_encode() — serialize the tree below dir_fd (a directory
 * opened O_RDONLY|O_DIRECTORY; not closed) into `write`. `root` names the
 * tree in messages. Metadata that the feature flags ask for but that
 * cannot be read is an error naming the file, not a silent gap. */
int stasync_catar_encode(int dir_fd, const char *root, const stasync_encode_options *o,
			 stasync_write_fn write, void *ctx, stasync_error *err);

/* stasync_catar_compare() — whether the tree below dir_fd, encoded with
 * `o` (give the archive's own feature flags), is byte for byte the catar
 * stream read through `read`. Stops at the first difference; the stream is
 * then left part-read (read it again from its start to extract). A node
 * of the tree that the flags would leave out is a difference (extract
 * would remove it): o->leave_nothing_out is set for the pass. Returns 1
 * when equal to the end of both, 0 when they differ, or a negative code
 * with a message when the tree or the stream cannot be read. */
int stasync_catar_compare(int dir_fd, const char *root, const stasync_encode_options *o,
			  stasync_read_fn read, void *ctx, stasync_error *err);

/* ---- Decoding ------------------------------------------------------------ */
typedef struct stasync_catar_decoder stasync_catar_decoder;

enum stasync_catar_event {
	STASYNC_CATAR_ENTRY = 1,   /* an entry: the root, or a child of the current dir */
	STASYNC_CATAR_DIR_END = 2, /* the current directory's GOODBYE was read and checked */
};

/* stasync_catar_decoder_new() — decode the archive read through `read`.
 * `name` names the archive in messages. */
int stasync_catar_decoder_new(stasync_read_fn read, void *ctx, const char *name,
			      stasync_catar_decoder **ret, stasync_error *err);
void stasync_catar_decoder_free(stasync_catar_decoder *d);

/* stasync_catar_decoder_set_skip() — payloads the decoder passes over
 * (the next call skips an unread one) go through `skip`, with the
 * reader's ctx, instead of being read into its buffer. */
void stasync_catar_decoder_set_skip(stasync_catar_decoder *d, stasync_skip_fn skip);

/* stasync_catar_decoder_next() — the next event (> 0), 0 once the root
 * directory's (or a single root file's) end has been read and nothing
 * follows, or -EBADMSG for a malformed archive, with a message naming the
 * path inside the archive and what is wrong. For STASYNC_CATAR_ENTRY,
 * *entry points to the decoded entry, valid until the next call. The
 * unread payload of a regular file is skipped by the next call. */
int stasync_catar_decoder_next(stasync_catar_decoder *d, const stasync_entry **entry,
			       stasync_error *err);

/* stasync_catar_decoder_path() — the current entry's path inside the
 * archive ("" for the root, "a/b" below it); after DIR_END, the path of
 * the directory that ended. stasync_catar_decoder_name() — its last
 * component (NULL for the root). stasync_catar_decoder_depth() — 0 for
 * the root. */
const char *stasync_catar_decoder_path(const stasync_catar_decoder *d);
const char *stasync_catar_decoder_name(const stasync_catar_decoder *d);
unsigned stasync_catar_decoder_depth(const stasync_catar_decoder *d);

/* stasync_catar_decoder_read_payload() — after an ENTRY event for a
 * regular file: read up to n bytes of its payload. Returns the count, 0
 * at its end, or a negative code. */
ssize_t stasync_catar_decoder_read_payload(stasync_catar_decoder *d, void *p, size_t n,
					   stasync_error *err);

/* stasync_catar_decoder_digest_dir() — right after the ENTRY event of a
 * directory: read the directory to its end and put in *ret the digest of
 * its records, from its ENTRY through its GOODBYE, which is the digest of
 * an archive of that directory alone (a GOODBYE's tail points back to its
 * own directory's ENTRY, so the bytes do not depend on where the directory
 * sits). The digest type is the archive's: SHA-512/256 when its feature
 * flags say so, else SHA-256. The directory's records are checked as
 * _next() checks them; afterwards the decoder stands after its GOODBYE,
 * as after its DIR_END event. Returns 0, -EINVAL when the last event was
 * not a directory's ENTRY, -EBADMSG for a malformed archive, -ENOMEM. */
int stasync_catar_decoder_digest_dir(stasync_catar_decoder *d, stasync_chunk_id *ret,
				     stasync_error *err);

/* stasync_catar_decoder_offset() — bytes of the archive consumed so far. */
uint64_t stasync_catar_decoder_offset(const stasync_catar_decoder *d);

/* stasync_catar_decoder_archive() — the name given to _new(), for messages. */
const char *stasync_catar_decoder_archive(const stasync_catar_decoder *d);

#endif
