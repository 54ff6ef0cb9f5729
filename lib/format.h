/* On-disk constants and layouts of casync's formats, in one place.
 * All integers are little-endian on disk. */
#ifndef STASYNC_LIB_FORMAT_H
#define STASYNC_LIB_FORMAT_H

#include <stdint.h>

/* Index files (.caibx / .caidx) */
#define CA_FORMAT_INDEX               UINT64_C(0x96824d9c7b129ff9)
#define CA_FORMAT_TABLE               UINT64_C(0xe75b9e112f17417d)
#define CA_FORMAT_TABLE_TAIL_MARKER   UINT64_C(0x4b4f050e5549ecd1)

/* Feature flags an index may carry */
#define CA_FORMAT_EXCLUDE_FILE        UINT64_C(0x1000000000000000)
#define CA_FORMAT_SHA512_256          UINT64_C(0x2000000000000000)
#define CA_FORMAT_EXCLUDE_SUBMOUNTS   UINT64_C(0x4000000000000000)
#define CA_FORMAT_EXCLUDE_NODUMP      UINT64_C(0x8000000000000000)
#define CA_FORMAT_FEATURES_VALID      UINT64_C(0xf0000001ffffffff)
/* What casync writes into a .caibx */
#define CA_FORMAT_BLOB_INDEX_FLAGS \
	(CA_FORMAT_EXCLUDE_NODUMP | CA_FORMAT_EXCLUDE_FILE)

struct ca_format_header {
	uint64_t size;
	uint64_t type;
};

struct ca_format_index {
	struct ca_format_header header;
	uint64_t feature_flags;
	uint64_t chunk_size_min;
	uint64_t chunk_size_avg;
	uint64_t chunk_size_max;
};

struct ca_format_table_item {
	uint64_t offset;          /* end of the chunk */
	uint8_t chunk[32];
};

struct ca_format_table_tail {
	uint64_t zero_fill1;
	uint64_t zero_fill2;
	uint64_t index_offset;    /* from the TABLE header back to INDEX: 48 */
	uint64_t size;            /* TABLE record size */
	uint64_t marker;
};

_Static_assert(sizeof(struct ca_format_header) == 16, "header");
_Static_assert(sizeof(struct ca_format_index) == 48, "index header");
_Static_assert(sizeof(struct ca_format_table_item) == 40, "table item");
_Static_assert(sizeof(struct ca_format_table_tail) == 40, "table tail");

/* catar records (type field of the 16-byte record header) */
#define CA_FORMAT_ENTRY               UINT64_C(0x1396fabcea5bbb51)
#define CA_FORMAT_USER                UINT64_C(0xf453131aaeeaccb3)
#define CA_FORMAT_GROUP               UINT64_C(0x25eb6ac969396a52)
#define CA_FORMAT_XATTR               UINT64_C(0xb8157091f80bc486)
#define CA_FORMAT_ACL_USER            UINT64_C(0x297dc88b2ef12faf)
#define CA_FORMAT_ACL_GROUP           UINT64_C(0x36f2acb56cb3dd0b)
#define CA_FORMAT_ACL_GROUP_OBJ       UINT64_C(0x23047110441f38f3)
#define CA_FORMAT_ACL_DEFAULT         UINT64_C(0xfe3eeda6823c8cd0)
#define CA_FORMAT_ACL_DEFAULT_USER    UINT64_C(0xbdf03df9bd010a91)
#define CA_FORMAT_ACL_DEFAULT_GROUP   UINT64_C(0xa0cb1168782d1f51)
#define CA_FORMAT_SELINUX             UINT64_C(0x46faf0602fd26c59)
#define CA_FORMAT_FCAPS               UINT64_C(0xf7267db0afed0629)
#define CA_FORMAT_QUOTA_PROJID        UINT64_C(0x161baf2d8772a72b)
#define CA_FORMAT_SYMLINK             UINT64_C(0x664a6fb6830e0d6c)
#define CA_FORMAT_DEVICE              UINT64_C(0xac3dace369dfe643)
#define CA_FORMAT_PAYLOAD             UINT64_C(0x8b9e1d93d6dcffc9)
#define CA_FORMAT_FILENAME            UINT64_C(0x6dbb6ebcb3161f0b)
#define CA_FORMAT_GOODBYE             UINT64_C(0xdfd35c5e8327c403)
#define CA_FORMAT_GOODBYE_TAIL_MARKER UINT64_C(0x57446fa533702943)

#define CA_FORMAT_HEADER_SIZE   16
#define CA_FORMAT_ENTRY_SIZE    64   /* header + 6 × u64 */
#define CA_FORMAT_DEVICE_SIZE   32
#define CA_FORMAT_GOODBYE_ITEM_SIZE 24  /* offset, size, hash; the tail too */

/* Size limits of variable records, as casync enforces them */
#define CA_FORMAT_NAME_MAX      256    /* user/group/file names incl. NUL */
#define CA_FORMAT_XATTR_MAX     (16 + 255 + 1 + 64 * 1024)
#define CA_FORMAT_FCAPS_MAX     (16 + 64 * 1024)
#define CA_FORMAT_SELINUX_MAX   (16 + 4096)
#define CA_FORMAT_SYMLINK_MAX   (16 + 4096)

/* Key of the SipHash-2-4 over file names in GOODBYE tables */
#define CA_FORMAT_GOODBYE_HASH_KEY \
	{ 0xb3, 0x84, 0x1d, 0x0f, 0x2b, 0x44, 0x74, 0x85, \
	  0xc1, 0x2e, 0xc2, 0xd1, 0x30, 0xed, 0x36, 0x27 }

/* Chunk store */
#define CA_CHUNK_SUFFIX ".cacnk"

/* Compression magics, detected on read */
#define ZSTD_MAGIC "\x28\xb5\x2f\xfd"
#define XZ_MAGIC   "\xfd\x37\x7a\x58\x5a\x00"
#define GZIP_MAGIC "\x1f\x8b"

#endif
