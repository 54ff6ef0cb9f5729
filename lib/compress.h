/* The xz and gzip halves of the chunk codec (compress.c has zstd and the
 * dispatch by magic). Each fills c->buf on compression, and inflates into
 * out[0..size) exactly, refusing more output the moment it would appear, so
 * a decompression bomb costs at most `size` bytes. */
#ifndef STASYNC_LIB_COMPRESS_H
#define STASYNC_LIB_COMPRESS_H

#include "store.h"

/* What a bounded inflate says when one byte more than `size` came out. */
int sta_inflate_past(const char *what, size_t size, stasync_error *err);
/* The verdict once its stream ended: `left` input bytes after the stream
 * (refused), a byte past `size` (refused), or `filled` of `size` bytes
 * written (all of them, or refused). kind: "xz", "gzip" for messages. */
int sta_inflate_ended(const char *what, const char *kind, size_t left, bool past, size_t filled,
		      size_t size, stasync_error *err);

int sta_xz_compress(stasync_codec *c, const void *data, size_t n, size_t *ret_size,
		    stasync_error *err);
int sta_xz_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
		   const char *what, stasync_error *err);
size_t sta_xz_bound(size_t n);
/* How many bytes the data inflates to, counted up to limit + 1. */
size_t sta_xz_count(stasync_codec *c, const void *data, size_t n, size_t limit);
void sta_xz_free(struct sta_xz *x);

int sta_gzip_compress(stasync_codec *c, const void *data, size_t n, size_t *ret_size,
		      stasync_error *err);
int sta_gzip_inflate(stasync_codec *c, const void *data, size_t n, void *out, size_t size,
		     const char *what, stasync_error *err);
size_t sta_gzip_bound(size_t n);
size_t sta_gzip_count(stasync_codec *c, const void *data, size_t n, size_t limit);
void sta_gzip_free(struct sta_gzip *g);

#endif
