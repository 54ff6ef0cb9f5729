/* Serializing catar records (internal side of stasync_entry_records()). */
#ifndef STASYNC_LIB_CATAR_RECORDS_H
#define STASYNC_LIB_CATAR_RECORDS_H

#include <stasync/catar.h>
#include "buf.h"

/* sta_put_header() — a record header for `payload_size` bytes to follow. */
int sta_put_header(struct sta_buf *b, uint64_t type, uint64_t payload_size);
/* sta_put_string_record() — a record holding a NUL-terminated string. */
int sta_put_string_record(struct sta_buf *b, uint64_t type, const char *s);
/* sta_entry_records() — append the entry's records: ENTRY, metadata, and
 * the PAYLOAD header / SYMLINK / DEVICE record. */
int sta_entry_records(struct sta_buf *b, const stasync_entry *e);

#endif
