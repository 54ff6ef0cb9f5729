/* Feature flags: names, sets, casync's normalization rules.
 *
 * How casync 2 (Debian 2+20201210) combines --with= and --without=, found
 * by reading the feature_flags of the first ENTRY of archives it made:
 *
 *   with    = OR of every --with= value, 0 when none is given
 *   without = OR of every --without= value
 *   flags   = (with ? with : base) & ~without
 *   flags  |= exclude-nodump (unless --exclude-nodump=no)
 *           | exclude-file (unless --exclude-file=no)
 *           | exclude-submounts (only with --exclude-submounts=yes)
 *           | sha512-256 (unless --digest=sha256)
 *   flags   = normalize(flags)
 *
 * base is "all" (0x1ffffffff) for a directory archive (.catar, .caidx) and
 * 0 for a blob (.caibx). The order of the options on the command line does
 * not matter: --with=acl --without=acl and --without=acl --with=acl both
 * give no metadata at all. The --with= values do not add to the default,
 * they replace it. Results (feature_flags of the ENTRY):
 *
 *   (nothing)                          0xb0000001ffeffe26 (normalize(all))
 *   --with=all, --with=best            0xb0000001ffeffe26
 *   --with=unix                        0xb000000000001f09
 *   --without=all                      0xb000000000000000
 *   --with=unix --without=all          0xb000000000000000
 *   --without=best                     0xb000000000000111 (all minus best is
 *                                      16bit-uids usec-time permissions and
 *                                      coarser bits that normalization drops)
 *   --without=unix                     0xb0000001ffefe026
 *   --without=acl                      0xb0000001dfefff26 (permissions
 *                                      reappears: acl no longer clears it)
 *   --without=16bit-uids --without=32bit-uids --without=user-names
 *                                      0xb0000001ffeffe26 (acl adds the uid
 *                                      flags back in normalization)
 *   --with=acl                         0xb000000020000006
 *   --with=fuse                        0xb000000013efff22
 *   --with=flag-nodump                 0xb000000000000000 (exclude-nodump)
 *   --with=flag-nodump --exclude-nodump=no
 *                                      0x3000000000100000
 *   --exclude-submounts=yes            0xf0000001ffeffe26
 *   --digest=sha256                    0x90000001ffeffe26
 *   a .caibx: default / --with=unix    0xb000000000000000 / 0xb000000000001f09
 *
 * casync's --with=/--without= accept only the names of the with-bits and
 * the sets (best … all); "exclude-nodump", "exclude-file",
 * "exclude-submounts" and "sha512-256" are refused there ("Failed to parse
 * --with= feature flag"). stasync_feature_flags_from_name() knows them too
 * (so that formatted flags parse back); a CLI that wants casync's
 * behaviour refuses names whose bits lie outside 0x1ffffffff. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <stasync/features.h>
#include "util.h"

/* All with-bits: what casync's "all" means. */
#define FEATURES_WITH_ALL UINT64_C(0x1ffffffff)

static const struct {
	const char *name;
	uint64_t flags;
} feature_names[] = {
	/* single features, in bit order: stasync_feature_flags_format()
	 * relies on it */
	{ "16bit-uids",        STASYNC_WITH_16BIT_UIDS },
	{ "32bit-uids",        STASYNC_WITH_32BIT_UIDS },
	{ "user-names",        STASYNC_WITH_USER_NAMES },
	{ "sec-time",          STASYNC_WITH_SEC_TIME },
	{ "usec-time",         STASYNC_WITH_USEC_TIME },
	{ "nsec-time",         STASYNC_WITH_NSEC_TIME },
	{ "2sec-time",         STASYNC_WITH_2SEC_TIME },
	{ "read-only",         STASYNC_WITH_READ_ONLY },
	{ "permissions",       STASYNC_WITH_PERMISSIONS },
	{ "symlinks",          STASYNC_WITH_SYMLINKS },
	{ "device-nodes",      STASYNC_WITH_DEVICE_NODES },
	{ "fifos",             STASYNC_WITH_FIFOS },
	{ "sockets",           STASYNC_WITH_SOCKETS },
	{ "flag-hidden",       STASYNC_WITH_FLAG_HIDDEN },
	{ "flag-system",       STASYNC_WITH_FLAG_SYSTEM },
	{ "flag-archive",      STASYNC_WITH_FLAG_ARCHIVE },
	{ "flag-append",       STASYNC_WITH_FLAG_APPEND },
	{ "flag-noatime",      STASYNC_WITH_FLAG_NOATIME },
	{ "flag-compr",        STASYNC_WITH_FLAG_COMPR },
	{ "flag-nocow",        STASYNC_WITH_FLAG_NOCOW },
	{ "flag-nodump",       STASYNC_WITH_FLAG_NODUMP },
	{ "flag-dirsync",      STASYNC_WITH_FLAG_DIRSYNC },
	{ "flag-immutable",    STASYNC_WITH_FLAG_IMMUTABLE },
	{ "flag-sync",         STASYNC_WITH_FLAG_SYNC },
	{ "flag-nocomp",       STASYNC_WITH_FLAG_NOCOMP },
	{ "flag-projinherit",  STASYNC_WITH_FLAG_PROJINHERIT },
	{ "subvolume",         STASYNC_WITH_SUBVOLUME },
	{ "subvolume-ro",      STASYNC_WITH_SUBVOLUME_RO },
	{ "xattrs",            STASYNC_WITH_XATTRS },
	{ "acl",               STASYNC_WITH_ACL },
	{ "selinux",           STASYNC_WITH_SELINUX },
	{ "fcaps",             STASYNC_WITH_FCAPS },
	{ "quota-projid",      STASYNC_WITH_QUOTA_PROJID },
	{ "exclude-file",      STASYNC_EXCLUDE_FILE },
	{ "sha512-256",        STASYNC_SHA512_256 },
	{ "exclude-submounts", STASYNC_EXCLUDE_SUBMOUNTS },
	{ "exclude-nodump",    STASYNC_EXCLUDE_NODUMP },
	/* sets */
	{ "best",              STASYNC_WITH_BEST },
	{ "unix",              STASYNC_WITH_UNIX },
	{ "fat",               STASYNC_WITH_FAT },
	{ "chattr",            STASYNC_WITH_CHATTR },
	{ "fat-attrs",         STASYNC_WITH_FAT_ATTRS },
	{ "privileged",        STASYNC_WITH_PRIVILEGED },
	{ "fuse",              STASYNC_WITH_FUSE },
	{ "all",               FEATURES_WITH_ALL },
};

/* The single features are the table's first 37 rows. */
#define FEATURE_SINGLES 37
_Static_assert(FEATURE_SINGLES <= ELEMENTSOF(feature_names), "feature table");

int stasync_feature_flags_from_name(const char *name, uint64_t *ret)
{
	if (!name || !ret)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(feature_names); i++)
		if (strcmp(feature_names[i].name, name) == 0) {
			*ret = feature_names[i].flags;
			return 0;
		}
	return -EINVAL;
}

/* The rules of casync's ca_feature_flags_normalize(), in its order (the
 * acl rule comes before the uid rule, so acl alone yields 32bit-uids and
 * user-names, not 16bit-uids). Bits outside STASYNC_FEATURES_VALID are
 * left as they are: rejecting them is the caller's business. */
uint64_t stasync_feature_flags_normalize(uint64_t flags)
{
	const uint64_t uids = STASYNC_WITH_16BIT_UIDS | STASYNC_WITH_32BIT_UIDS |
			      STASYNC_WITH_USER_NAMES;

	if ((flags & STASYNC_WITH_ACL) && !(flags & uids))
		flags |= STASYNC_WITH_32BIT_UIDS | STASYNC_WITH_USER_NAMES;
	if (flags & STASYNC_WITH_32BIT_UIDS)
		flags &= ~STASYNC_WITH_16BIT_UIDS;

	if (flags & STASYNC_WITH_NSEC_TIME)
		flags &= ~(STASYNC_WITH_USEC_TIME | STASYNC_WITH_SEC_TIME | STASYNC_WITH_2SEC_TIME);
	if (flags & STASYNC_WITH_USEC_TIME)
		flags &= ~(STASYNC_WITH_SEC_TIME | STASYNC_WITH_2SEC_TIME);
	if (flags & STASYNC_WITH_SEC_TIME)
		flags &= ~STASYNC_WITH_2SEC_TIME;

	if (flags & STASYNC_WITH_ACL)
		flags &= ~(STASYNC_WITH_PERMISSIONS | STASYNC_WITH_READ_ONLY);
	if (flags & STASYNC_WITH_PERMISSIONS)
		flags &= ~STASYNC_WITH_READ_ONLY;

	if (flags & STASYNC_EXCLUDE_NODUMP)
		flags &= ~STASYNC_WITH_FLAG_NODUMP;

	if (flags & STASYNC_WITH_SUBVOLUME_RO)
		flags |= STASYNC_WITH_SUBVOLUME;

	return flags;
}

/* Append s to buf (size n) at *len, truncating; *len counts what was
 * wanted, like snprintf. */
static void format_append(char *buf, size_t n, size_t *len, const char *s)
{
	size_t l = strlen(s);

	if (*len < n) {
		size_t room = n - 1 - *len;
		size_t k = l < room ? l : room;

		memcpy(buf + *len, s, k);
		buf[*len + k] = '\0';
	}
	*len += l;
}

/* Names in bit order; bits without a name end the string as one hex
 * number ("0x…"). An empty set gives "". The result is truncated to fit
 * n bytes (always NUL-terminated when n > 0). casync prints only the
 * with-bits (flags & 0x1ffffffff) and "none" for an empty set; callers
 * that want its output mask and substitute themselves. */
char *stasync_feature_flags_format(uint64_t flags, char *buf, size_t n)
{
	size_t len = 0;

	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < FEATURE_SINGLES; i++) {
		if (!(flags & feature_names[i].flags))
			continue;
		if (len)
			format_append(buf, n, &len, " ");
		format_append(buf, n, &len, feature_names[i].name);
		flags &= ~feature_names[i].flags;
	}
	if (flags) {
		char hex[2 + 16 + 1];

		snprintf(hex, sizeof(hex), "0x%" PRIx64, flags);
		if (len)
			format_append(buf, n, &len, " ");
		format_append(buf, n, &len, hex);
	}
	return buf;
}
