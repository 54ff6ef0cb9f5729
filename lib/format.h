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

/* Chunk store */
#define CA_CHUNK_SUFFIX ".cacnk"

/* Compression magics, detected on read */
#define ZSTD_MAGIC "\x28\xb5\x2f\xfd"
#define XZ_MAGIC   "\xfd\x37\x7a\x58\x5a\x00"
#define GZIP_MAGIC "\x1f\x8b"

#endif
