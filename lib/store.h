/* Internals shared by the store backends: each backend fills a struct of
 * named operations; store.c does compression, verification and fallback
 * across stores on top of them. */
#ifndef STASYNC_LIB_STORE_H
#define STASYNC_LIB_STORE_H

#include <stasync/store.h>

struct stasync_codec {
	struct ZSTD_CCtx_s *cctx;
	struct ZSTD_DCtx_s *dctx;
	struct sta_xz *xz;       /* NULL until an xz chunk is met */
	struct sta_gzip *gzip;   /* likewise for gzip */
	uint8_t *buf;        /* compression output / fetched bytes */
	size_t buf_size;
	/* the id of the last all-zero chunk hashed: disk images hold long
	 * runs of zeros, cut into chunks of the same few sizes */
	struct {
		bool valid;
		stasync_digest_type type;
		size_t size;
		stasync_chunk_id id;
	} zero;
};

/* The id of a chunk's bytes, as stasync_digest_buffer(); an all-zero chunk
 * of the size and type last seen by this codec is not hashed again. */
void sta_chunk_digest(stasync_codec *c, stasync_digest_type type, const void *p, size_t n,
		      stasync_chunk_id *ret);

int sta_codec_reserve(stasync_codec *c, size_t n);
/* Compress a chunk into the codec's buffer (*ret points into it). */
int sta_chunk_compress(stasync_codec *c, stasync_compression k, const void *data, size_t n,
		       const void **ret, size_t *ret_size, stasync_error *err);

/* The most bytes a chunk of `size` bytes can take once compressed by any of
 * the three, as a bound on what a store may hand us for it. */
size_t sta_chunk_stored_max(size_t size);

/* The size stored chunk bytes inflate to (zstd, xz or gzip, told by their
 * magic), counted without keeping them, at most limit + 1; corrupt data
 * gives what was counted before the fault (the decode then says more). */
size_t sta_chunk_inflated_size(stasync_codec *c, const void *data, size_t n, size_t limit);

/* A chunk from the seeds, hashed again: 0, or -ENOENT when they lack it
 * (or what they hold no longer matches). *from (when non-NULL) says where
 * it was read: a file's descriptor and offset, or fd -1. */
struct stasync_seed;
struct sta_seed_origin {
	int fd;
	uint64_t offset;
};
int sta_seed_get(const struct stasync_seed *s, stasync_codec *c, const stasync_chunk_id *id,
		 stasync_digest_type type, void *out, size_t size, struct sta_seed_origin *from);

struct sta_store_ops {
	const char *kind;
	/* put() skips a chunk the store holds by itself: no has() first. */
	bool put_checks;
	/* Read the stored bytes of a chunk into c->buf (growing it, at most
	 * `limit` bytes); set *size and *compressed. -ENOENT when missing. */
	int (*fetch)(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		     size_t limit, size_t *size, bool *compressed, stasync_error *err);
	/* 1 if present, 0 if not. */
	int (*has)(stasync_store *s, const stasync_chunk_id *id, stasync_error *err);
	/* Store compressed bytes under the chunk's final name, atomically;
	 * or start doing so and return, when there is a flush(). 1 when
	 * written (or started), 0 when it was there. */
	int (*put)(stasync_store *s, const stasync_chunk_id *id, const void *data, size_t n,
		   stasync_error *err);
	/* Wait for the puts under way (NULL: there never are any): the first
	 * failure, or how many of them found their chunk already there. */
	int (*flush)(stasync_store *s, stasync_error *err);
	/* Chunks put from now on will be flushed before anything relies on
	 * them (make): the store may start writing them to disk early. NULL:
	 * nothing to do. Not for a cache, which is never flushed. */
	void (*expect_flush)(stasync_store *s);
	/* stasync_store_plan_puts() (NULL: nothing to plan) */
	int (*plan_puts)(stasync_store *s, uint64_t chunks, char *how, size_t how_size,
			 stasync_error *err);
	void (*free)(stasync_store *s);
};

struct stasync_store {
	const struct sta_store_ops *ops;
	char *locator;
	unsigned flags;      /* STASYNC_STORE_* */
	stasync_compression compression;   /* of what put() writes */
};

/* What a successful get leaves in the codec's buffer: the chunk as the
 * store held it, for a cache to keep without compressing it again. */
struct sta_fetched {
	size_t size;
	bool compressed;
};

/* sta_store_expect_flush() — see expect_flush above. */
void sta_store_expect_flush(stasync_store *s);

/* stasync_store_get() and stasync_stores_get(), telling what was fetched. */
int sta_store_get(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		  stasync_digest_type type, void *out, size_t size, struct sta_fetched *f,
		  stasync_error *err);
int sta_stores_get(stasync_store *const *stores, size_t n_stores, stasync_codec *c,
		   const stasync_chunk_id *id, stasync_digest_type type, void *out, size_t size,
		   struct sta_fetched *f, stasync_error *err);

/* sta_store_keep() — put a chunk just fetched (out[0..size), held as f
 * says in c->buf) into store s, as it was fetched when compressed. */
int sta_store_keep(stasync_store *s, stasync_codec *c, const stasync_chunk_id *id,
		   const void *out, size_t size, const struct sta_fetched *f, stasync_error *err);

int sta_store_local_open(const char *path, unsigned flags, stasync_store **ret,
			 stasync_error *err);
/* store-http.c: an http:// or https:// store. */
int sta_store_http_open(const char *locator, unsigned flags, const struct stasync_http_options *o,
			stasync_store **ret, stasync_error *err);

/* store-http.c too: an s3+http:// or s3+https:// store (see s3.h). */
int sta_store_s3_open(const char *locator, unsigned flags, const struct stasync_http_options *o,
		      stasync_store **ret, stasync_error *err);

/* store-ssh.c: an ssh remote (host:path, ssh://), read-only. */
int sta_store_ssh_open(const char *locator, unsigned flags, stasync_store **ret,
		       stasync_error *err);

#endif
