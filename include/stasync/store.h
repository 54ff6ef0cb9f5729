/* ==== Chunk stores =========================================================
 * A store keeps chunks by id: STORE/<4 hex>/<64 hex>.cacnk, compressed with
 * zstd (casync's default), xz or gzip; a store may hold a mix, and readers
 * tell them apart by their magic. Every chunk read is decompressed with a bound and re-hashed, so a store
 * can never hand out bytes that do not match the id asked for. */
#ifndef STASYNC_STORE_H
#define STASYNC_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stasync/error.h>
#include <stasync/digest.h>

/* ---- Codec: per-thread compression state --------------------------------
 * Holds the zstd, xz and gzip contexts (the last two made on first use) and
 * the scratch buffers that reading and writing chunks need. Not
 * thread-safe: use one per thread. */
typedef struct stasync_codec stasync_codec;

int stasync_codec_new(stasync_codec **ret);
void stasync_codec_free(stasync_codec *c);

/* How chunks are compressed when written; the bytes are those Debian's
 * casync writes with --compression=zstd|xz|gzip (zstd level 3; xz preset 6
 * with a CRC64 check; gzip at zlib's default level, no name, mtime 0). */
typedef enum stasync_compression {
	STASYNC_COMPRESSION_ZSTD,
	STASYNC_COMPRESSION_XZ,
	STASYNC_COMPRESSION_GZIP,
} stasync_compression;

/* stasync_compression_parse() — "zstd", "xz" or "gzip" → its value (>= 0);
 * anything else -EINVAL. */
int stasync_compression_parse(const char *name, stasync_error *err);

/* stasync_compression_name() — "zstd", "xz" or "gzip". */
const char *stasync_compression_name(stasync_compression k);

/* stasync_chunk_decode() — turn stored chunk bytes into the chunk: detect
 * the compression by magic (`compressed` false: take the bytes as they
 * are), inflate into out[0..size) refusing anything that would grow past
 * `size`, and check the result hashes to `id`. `what` names the chunk's
 * source in messages. Returns 0, -EBADMSG (bad data, wrong size, wrong
 * digest). */
int stasync_chunk_decode(stasync_codec *c, const void *data, size_t n, bool compressed,
			 const stasync_chunk_id *id, stasync_digest_type type,
			 void *out, size_t size, const char *what, stasync_error *err);

/* ---- Stores ------------------------------------------------------------- */
typedef struct stasync_store stasync_store;

enum {
	STASYNC_STORE_WRITABLE = 1 << 0, /* create the directory, allow put */
};

/* stasync_store_open() — open the store at `locator`: a directory path, a
 * file:// URL, or an http:// or https:// URL (see <stasync/http.h>). A
 * read-only local store that does not exist opens as an empty one (casync
 * writes no store for an empty blob). Returns 0, -EPROTONOSUPPORT for a
 * URL scheme this build cannot reach (http(s):// without libcurl), or the
 * error of opening or creating the directory. Every function below may be
 * called from several threads at once on one store. */
int stasync_store_open(const char *locator, unsigned flags, stasync_store **ret,
		       stasync_error *err);

/* stasync_store_open_with() — the same, with options for HTTP(S) stores
 * (NULL: the defaults of stasync_http_options_init()). */
struct stasync_http_options;
int stasync_store_open_with(const char *locator, unsigned flags,
			    const struct stasync_http_options *http, stasync_store **ret,
			    stasync_error *err);

/* stasync_store_free() — accepts NULL, returns NULL. */
stasync_store *stasync_store_free(stasync_store *s);

/* stasync_store_locator() — the locator the store was opened with. */
const char *stasync_store_locator(const stasync_store *s);

/* stasync_store_set_compression() — how stasync_store_put() compresses
 * from now on (a new store: zstd). Chunks already there stay as they are. */
void stasync_store_set_compression(stasync_store *s, stasync_compression k);

/* stasync_store_plan_puts() — before the first put: about how many
 * chunks are coming (0: not known). A store in an S3 bucket then learns
 * which it holds the cheaper way: by listing its prefix, when that takes
 * at most one request per 16 chunks (a page is a thousand objects; the
 * chunks not listed then go up with no HEAD first), else by one HEAD per
 * chunk as it is put; without an estimate it lists up to 4 pages. `how`
 * (how_size bytes, may be NULL) says which, for -v. Other stores ignore
 * it. 0 or a negative code with a message. */
int stasync_store_plan_puts(stasync_store *s, uint64_t chunks, char *how, size_t how_size,
			    stasync_error *err);

/* stasync_store_has() — 1 if the store holds the chunk, 0 if not. */
int stasync_store_has(stasync_store *s, const stasync_chunk_id *id, stasync_error *err);

/* stasync_store_get() — read, decompress and verify one chunk of exactly
 * `size` bytes into out. Returns 0, -ENOENT when the store lacks it,
 * -EBADMSG when its bytes are corrupt or do not hash to id. */
int stasync_store_get(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      stasync_digest_type type, void *out, size_t size, stasync_error *err);

/* stasync_store_put() — compress and store a chunk unless the store has it
 * already. The file appears under its final name only complete (temporary
 * name, then rename). Returns 1 when written, 0 when it was there. An HTTP
 * store only starts the upload (HEAD, then PUT when missing) and returns
 * 1: stasync_store_flush() waits for it. */
int stasync_store_put(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		      const void *data, size_t n, stasync_error *err);

/* stasync_store_flush() — wait until every chunk put is stored. Returns the
 * first failure of an upload, or how many of the chunks put since the last
 * flush turned out to be there already (counted as written by put). */
int stasync_store_flush(stasync_store *s, stasync_error *err);

/* stasync_stores_get() — stasync_store_get() on each store in turn: a store
 * that lacks the chunk or holds a corrupt copy passes to the next. When all
 * fail the message names the chunk and every store's reason. */
int stasync_stores_get(stasync_store *const *stores, size_t n_stores, stasync_codec *c,
		       const stasync_chunk_id *id, stasync_digest_type type,
		       void *out, size_t size, stasync_error *err);

#endif
