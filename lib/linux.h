/* The few Linux kernel constants we need, defined here because the musl
 * toolchain sees no kernel headers. Values are the kernel's ABI. */
#ifndef STASYNC_LIB_LINUX_H
#define STASYNC_LIB_LINUX_H

#include <stdint.h>
#include <sys/ioctl.h>

/* chattr(1) flags: FS_IOC_GETFLAGS / FS_IOC_SETFLAGS */
#define STA_FS_IOC_GETFLAGS     _IOR('f', 1, long)
#define STA_FS_IOC_SETFLAGS     _IOW('f', 2, long)
#define STA_FS_SYNC_FL          0x00000008u
#define STA_FS_IMMUTABLE_FL     0x00000010u
#define STA_FS_APPEND_FL        0x00000020u
#define STA_FS_NODUMP_FL        0x00000040u
#define STA_FS_NOATIME_FL       0x00000080u
#define STA_FS_COMPR_FL         0x00000004u
#define STA_FS_NOCOMP_FL        0x00000400u
#define STA_FS_DIRSYNC_FL       0x00010000u
#define STA_FS_NOCOW_FL         0x00800000u
#define STA_FS_PROJINHERIT_FL   0x20000000u

/* Sharing a range of one file's blocks with another (reflink) */
struct sta_file_clone_range {
	int64_t src_fd;
	uint64_t src_offset;
	uint64_t src_length;
	uint64_t dest_offset;
};
#define STA_FICLONERANGE        _IOW(0x94, 13, struct sta_file_clone_range)

/* Project quota ids: FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR */
struct sta_fsxattr {
	uint32_t fsx_xflags;
	uint32_t fsx_extsize;
	uint32_t fsx_nextents;
	uint32_t fsx_projid;
	uint32_t fsx_cowextsize;
	unsigned char fsx_pad[8];
};
#define STA_FS_IOC_FSGETXATTR   _IOR('X', 31, struct sta_fsxattr)
#define STA_FS_IOC_FSSETXATTR   _IOW('X', 32, struct sta_fsxattr)

/* FAT attributes */
#define STA_FAT_IOCTL_GET_ATTRIBUTES _IOR('r', 0x10, uint32_t)
#define STA_FAT_IOCTL_SET_ATTRIBUTES _IOW('r', 0x11, uint32_t)
#define STA_FAT_ATTR_HIDDEN     0x02u
#define STA_FAT_ATTR_SYS        0x04u
#define STA_FAT_ATTR_ARCH       0x20u

/* btrfs subvolumes */
#define STA_BTRFS_IOC_SUBVOL_GETFLAGS _IOR(0x94, 25, uint64_t)
#define STA_BTRFS_SUBVOL_RDONLY (UINT64_C(1) << 1)
#define STA_BTRFS_FIRST_FREE_OBJECTID 256

/* statfs f_type values */
#define STA_EXT4_SUPER_MAGIC    0xEF53
#define STA_XFS_SUPER_MAGIC     0x58465342
#define STA_FUSE_SUPER_MAGIC    0x65735546
#define STA_BTRFS_SUPER_MAGIC   0x9123683E
#define STA_MSDOS_SUPER_MAGIC   0x4d44

/* POSIX ACLs as the kernel stores them in system.posix_acl_* xattrs */
#define STA_ACL_XATTR_VERSION   2
#define STA_ACL_USER_OBJ        0x01
#define STA_ACL_USER            0x02
#define STA_ACL_GROUP_OBJ       0x04
#define STA_ACL_GROUP           0x08
#define STA_ACL_MASK            0x10
#define STA_ACL_OTHER           0x20
#define STA_ACL_XATTR_ACCESS    "system.posix_acl_access"
#define STA_ACL_XATTR_DEFAULT   "system.posix_acl_default"

#endif
