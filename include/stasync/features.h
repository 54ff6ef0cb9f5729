/* ==== Feature flags ========================================================
 * Which metadata a catar archive carries. The bit values are casync's and
 * are written into every ENTRY record and every index header. */
#ifndef STASYNC_FEATURES_H
#define STASYNC_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#define STASYNC_WITH_16BIT_UIDS        UINT64_C(0x1)
#define STASYNC_WITH_32BIT_UIDS        UINT64_C(0x2)
#define STASYNC_WITH_USER_NAMES        UINT64_C(0x4)
#define STASYNC_WITH_SEC_TIME          UINT64_C(0x8)
#define STASYNC_WITH_USEC_TIME         UINT64_C(0x10)
#define STASYNC_WITH_NSEC_TIME         UINT64_C(0x20)
#define STASYNC_WITH_2SEC_TIME         UINT64_C(0x40)
#define STASYNC_WITH_READ_ONLY         UINT64_C(0x80)
#define STASYNC_WITH_PERMISSIONS       UINT64_C(0x100)
#define STASYNC_WITH_SYMLINKS          UINT64_C(0x200)
#define STASYNC_WITH_DEVICE_NODES      UINT64_C(0x400)
#define STASYNC_WITH_FIFOS             UINT64_C(0x800)
#define STASYNC_WITH_SOCKETS           UINT64_C(0x1000)
#define STASYNC_WITH_FLAG_HIDDEN       UINT64_C(0x2000)
#define STASYNC_WITH_FLAG_SYSTEM       UINT64_C(0x4000)
#define STASYNC_WITH_FLAG_ARCHIVE      UINT64_C(0x8000)
#define STASYNC_WITH_FLAG_APPEND       UINT64_C(0x10000)
#define STASYNC_WITH_FLAG_NOATIME      UINT64_C(0x20000)
#define STASYNC_WITH_FLAG_COMPR        UINT64_C(0x40000)
#define STASYNC_WITH_FLAG_NOCOW        UINT64_C(0x80000)
#define STASYNC_WITH_FLAG_NODUMP       UINT64_C(0x100000)
#define STASYNC_WITH_FLAG_DIRSYNC      UINT64_C(0x200000)
#define STASYNC_WITH_FLAG_IMMUTABLE    UINT64_C(0x400000)
#define STASYNC_WITH_FLAG_SYNC         UINT64_C(0x800000)
#define STASYNC_WITH_FLAG_NOCOMP       UINT64_C(0x1000000)
#define STASYNC_WITH_FLAG_PROJINHERIT  UINT64_C(0x2000000)
#define STASYNC_WITH_SUBVOLUME         UINT64_C(0x4000000)
#define STASYNC_WITH_SUBVOLUME_RO      UINT64_C(0x8000000)
#define STASYNC_WITH_XATTRS            UINT64_C(0x10000000)
#define STASYNC_WITH_ACL               UINT64_C(0x20000000)
#define STASYNC_WITH_SELINUX           UINT64_C(0x40000000)
#define STASYNC_WITH_FCAPS             UINT64_C(0x80000000)
#define STASYNC_WITH_QUOTA_PROJID      UINT64_C(0x100000000)
#define STASYNC_EXCLUDE_FILE           UINT64_C(0x1000000000000000)
#define STASYNC_SHA512_256             UINT64_C(0x2000000000000000)
#define STASYNC_EXCLUDE_SUBMOUNTS      UINT64_C(0x4000000000000000)
#define STASYNC_EXCLUDE_NODUMP         UINT64_C(0x8000000000000000)

/* Sets, as casync names them */
#define STASYNC_WITH_BEST        UINT64_C(0x1fffffe26)
#define STASYNC_WITH_UNIX        UINT64_C(0x1f09)
#define STASYNC_WITH_FAT         UINT64_C(0xe0c0)
#define STASYNC_WITH_CHATTR      UINT64_C(0x3ff0000)
#define STASYNC_WITH_FAT_ATTRS   UINT64_C(0xe000)
#define STASYNC_WITH_PRIVILEGED  UINT64_C(0x1ec414407)
#define STASYNC_WITH_FUSE        UINT64_C(0x13fffffb)
#define STASYNC_WITH_ALL         UINT64_C(0x1ffffffff)  /* every --with= bit */
#define STASYNC_FEATURES_VALID   UINT64_C(0xf0000001ffffffff)
/* The flags of a directory archive made without --with/--without. */
#define STASYNC_FEATURES_DEFAULT UINT64_C(0xb0000001ffeffe26)

/* stasync_feature_flags_from_name() — one casync feature or set name
 * ("acl", "best", "all", "exclude-nodump", …) to its bits; -EINVAL when
 * unknown. */
int stasync_feature_flags_from_name(const char *name, uint64_t *ret);

/* stasync_feature_flags_normalize() — apply casync's rules: a finer time
 * clears coarser ones, 32-bit uids clear 16-bit, acl clears permissions
 * and read-only (and adds 32-bit uids and user-names when no uid flag is
 * set), exclude-nodump clears flag-nodump, subvolume-ro implies
 * subvolume; permissions alone also clears read-only. */
uint64_t stasync_feature_flags_normalize(uint64_t flags);

/* stasync_feature_flags_format() — space-separated names of the single
 * features set in flags, into buf (size n). Returns buf. */
char *stasync_feature_flags_format(uint64_t flags, char *buf, size_t n);

/* stasync_entry_flags_to_chattr(), _to_fat() — an entry's flag bits (the
 * feature values of its chattr and FAT attributes) as FS_IOC_GETFLAGS and
 * FAT_IOCTL_GET_ATTRIBUTES give them. */
unsigned stasync_entry_flags_to_chattr(uint64_t flags);
uint32_t stasync_entry_flags_to_fat(uint64_t flags);

#endif
