/* ==== Digests ==============================================================
 * Chunk ids and content digests: SHA-512/256 (casync's default) or SHA-256,
 * computed by libgcrypt. */
#ifndef STASYNC_DIGEST_H
#define STASYNC_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define STASYNC_DIGEST_SIZE 32
#define STASYNC_DIGEST_HEX_SIZE (2 * STASYNC_DIGEST_SIZE + 1)

typedef enum stasync_digest_type {
	STASYNC_DIGEST_SHA512_256 = 0,
	STASYNC_DIGEST_SHA256 = 1,
} stasync_digest_type;

/* A chunk id or content digest: 32 raw bytes. */
typedef struct stasync_chunk_id {
	uint8_t bytes[STASYNC_DIGEST_SIZE];
} stasync_chunk_id;

typedef struct stasync_digest stasync_digest;

/* stasync_digest_init() — make libgcrypt ready. Safe to call many times and
 * from many threads; every other function here calls it. Returns 0 or
 * -ENOTSUP when libgcrypt is too old to know SHA-512/256. */
int stasync_digest_init(void);

/* stasync_digest_new() — a streaming digest. Returns 0 and sets *ret, or a
 * negative code. Free with stasync_digest_free(). */
int stasync_digest_new(stasync_digest_type type, stasync_digest **ret);
void stasync_digest_free(stasync_digest *d);
void stasync_digest_reset(stasync_digest *d);
void stasync_digest_write(stasync_digest *d, const void *p, size_t n);
/* stasync_digest_final() — the digest of everything written since the last
 * reset; the object may be reset and reused afterwards. */
void stasync_digest_final(stasync_digest *d, stasync_chunk_id *out);

/* stasync_digest_buffer() — one-shot digest of n bytes. */
void stasync_digest_buffer(stasync_digest_type type, const void *p, size_t n,
			   stasync_chunk_id *out);

/* stasync_digest_type_name() — "sha512-256" or "sha256";
 * stasync_digest_type_parse() — the reverse, -EINVAL for unknown names. */
const char *stasync_digest_type_name(stasync_digest_type type);
int stasync_digest_type_parse(const char *name, stasync_digest_type *ret);

/* stasync_chunk_id_format() — 64 lowercase hex digits and a NUL into out. */
char *stasync_chunk_id_format(const stasync_chunk_id *id,
			      char out[STASYNC_DIGEST_HEX_SIZE]);
/* stasync_chunk_id_parse() — exactly 64 hex digits; -EINVAL otherwise. */
int stasync_chunk_id_parse(const char *hex, stasync_chunk_id *ret);
bool stasync_chunk_id_equal(const stasync_chunk_id *a, const stasync_chunk_id *b);

#endif
