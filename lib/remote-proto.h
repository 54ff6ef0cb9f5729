/* casync's remote protocol, as spoken over ssh between a client and
 * "casync pull"/"casync push" on the remote host: every message is a frame
 * of a 64-bit little-endian size (the whole frame, header included) and a
 * 64-bit type, then a body whose layout the type fixes. This file only
 * builds and parses frames; remote-conn.c moves them. */
#ifndef STASYNC_LIB_REMOTE_PROTO_H
#define STASYNC_LIB_REMOTE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stasync/error.h>
#include <stasync/digest.h>
#include "buf.h"

#define STA_PROTO_HELLO       UINT64_C(0x3c71d0948ca5fbee)
#define STA_PROTO_INDEX       UINT64_C(0xb32a91dd2b3e27f8)
#define STA_PROTO_INDEX_EOF   UINT64_C(0x4f0932f1043718f5)
#define STA_PROTO_ARCHIVE     UINT64_C(0x95d6428a69eddcc5)
#define STA_PROTO_ARCHIVE_EOF UINT64_C(0x450bef663f24cbad)
#define STA_PROTO_REQUEST     UINT64_C(0x8ab427e0f89d9210)
#define STA_PROTO_CHUNK       UINT64_C(0x5213dd180a84bc8c)
#define STA_PROTO_MISSING     UINT64_C(0xd010f9fac82b7b6c)
#define STA_PROTO_GOODBYE     UINT64_C(0xad205dbf1a3686c3)
#define STA_PROTO_ABORT       UINT64_C(0xe7d9136b7efea352)

#define STA_PROTO_HEADER_SIZE 16
/* casync refuses frames larger than this; so do we. */
#define STA_PROTO_SIZE_MAX ((size_t)16 * 1024 * 1024)
#define STA_PROTO_ID_SIZE 32
/* The most data one CHUNK frame can carry. */
#define STA_PROTO_CHUNK_DATA_MAX (STA_PROTO_SIZE_MAX - STA_PROTO_HEADER_SIZE - 8 - STA_PROTO_ID_SIZE)

/* Hello feature flags: services offered, then operations wanted. */
enum {
	STA_PROTO_READABLE_STORE    = 0x1,
	STA_PROTO_WRITABLE_STORE    = 0x2,
	STA_PROTO_READABLE_INDEX    = 0x4,
	STA_PROTO_WRITABLE_INDEX    = 0x8,
	STA_PROTO_READABLE_ARCHIVE  = 0x10,
	STA_PROTO_WRITABLE_ARCHIVE  = 0x20,
	STA_PROTO_PULL_CHUNKS       = 0x40,
	STA_PROTO_PULL_INDEX        = 0x80,
	STA_PROTO_PULL_ARCHIVE      = 0x100,
	STA_PROTO_PUSH_CHUNKS       = 0x200,
	STA_PROTO_PUSH_INDEX        = 0x400,
	STA_PROTO_PUSH_INDEX_CHUNKS = 0x800, /* "request the chunks of the index I push" */
	STA_PROTO_PUSH_ARCHIVE      = 0x1000,
	STA_PROTO_FEATURES_ALL      = 0x1fff,
};

enum {
	STA_PROTO_REQUEST_HIGH_PRIORITY = 1,
	STA_PROTO_CHUNK_COMPRESSED = 1,
};

/* One parsed frame. Pointers point into the bytes parsed. */
struct sta_proto_msg {
	uint64_t type;
	uint64_t flags;          /* HELLO: features; REQUEST, CHUNK: flags; ABORT: errno */
	const uint8_t *ids;      /* REQUEST: n_ids ids; CHUNK, MISSING: one */
	size_t n_ids;
	const uint8_t *data;     /* INDEX, ARCHIVE, CHUNK: payload; ABORT: reason, NUL-terminated */
	size_t size;
};

/* sta_proto_type_name() — "hello", "chunk", …; NULL for an unknown type. */
const char *sta_proto_type_name(uint64_t type);

/* sta_proto_frame_size() — how long the frame starting at p is, from its
 * header: 0 when fewer than 16 bytes are there, the size otherwise;
 * -EBADMSG (with a message) when the size is below 16 or above
 * STA_PROTO_SIZE_MAX. */
int sta_proto_frame_size(const void *p, size_t n, size_t *ret, stasync_error *err);

/* sta_proto_parse() — check one whole frame (n its exact size) and fill m.
 * Unknown types, sizes that do not fit the type, unknown flags, a HELLO
 * without any or with unknown features, an ABORT reason that is not one
 * NUL-terminated line: -EBADMSG with a message. */
int sta_proto_parse(const void *p, size_t n, struct sta_proto_msg *m, stasync_error *err);

/* sta_proto_hello_check() — whether two sides can talk: what each wants
 * done, the other offers, and something is wanted at all. 0 or -EPROTO
 * with a message. */
int sta_proto_hello_check(uint64_t local, uint64_t remote, stasync_error *err);

/* Builders: append one frame to b (which keeps its own limit). 0, -ENOMEM
 * or -E2BIG. */
int sta_proto_put_hello(struct sta_buf *b, uint64_t features);
/* INDEX or ARCHIVE (n >= 1; larger payloads are split over frames). */
int sta_proto_put_file(struct sta_buf *b, uint64_t type, const void *p, size_t n);
/* INDEX_EOF, ARCHIVE_EOF or GOODBYE: a bare header. */
int sta_proto_put_empty(struct sta_buf *b, uint64_t type);
int sta_proto_put_request(struct sta_buf *b, uint64_t flags, const stasync_chunk_id *ids, size_t n);
int sta_proto_put_chunk(struct sta_buf *b, const stasync_chunk_id *id, bool compressed,
			const void *p, size_t n);
int sta_proto_put_missing(struct sta_buf *b, const stasync_chunk_id *id);
/* ABORT with a positive errno (0: none) and a reason; control characters
 * in it become spaces and it is cut to fit. */
int sta_proto_put_abort(struct sta_buf *b, int error, const char *reason);

#endif
