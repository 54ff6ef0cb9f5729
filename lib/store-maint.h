/* Internals of gc and verify shared by the local store (store-maint.c) and
 * a store in an S3 bucket (s3-maint.c): what a chunk file is, and the
 * checking of chunk files on worker threads, whatever reads them. */
#ifndef STASYNC_LIB_STORE_MAINT_H
#define STASYNC_LIB_STORE_MAINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/maint.h>

struct sta_chunk_file {
	stasync_chunk_id id;
	bool compressed;
	bool present;   /* false: asked for (verify --only), not in the store */
	uint64_t size;  /* the chunk's size when known (from an index), else 0 */
	char name[80];  /* "abcd/abcd…ef.cacnk", relative to the store */
	char *bad;      /* what is wrong with it, when something is */
};

/* sta_chunk_file_name() — the id of a chunk file named, relative to its
 * store, "<4 hex>/<64 hex>.cacnk" (compressed) or "<4 hex>/<64 hex>" (as
 * is), the directory being the id's first four digits; false for any
 * other name. */
bool sta_chunk_file_name(const char *rel, stasync_chunk_id *id, bool *compressed);

/* How verify reads the chunk files of one kind of store. */
struct sta_verify_source {
	/* The stored bytes of f into *buf (grown as needed, *have bytes),
	 * their number in *got: NULL, or what is wrong (malloc'd). Called
	 * from several threads at once. */
	char *(*read)(void *ctx, const struct sta_chunk_file *f, uint8_t **buf, size_t *have,
		      size_t *got);
	/* Remove the n bad files (repair): how many went, or an error. */
	int (*remove)(void *ctx, struct sta_chunk_file *const *bad, size_t n, stasync_error *err);
	void *ctx;
	unsigned threads;   /* when o->threads is 0 */
};

/* sta_verify_files() — check files[0..n) (sorted by name here) on worker
 * threads, count what was found into st, report the bad and missing ones
 * through o->bad in name order, and remove the bad ones when o->repair. */
int sta_verify_files(struct sta_chunk_file *files, size_t n, const struct sta_verify_source *src,
		     const stasync_verify_options *o, stasync_verify_stats *st, stasync_error *err);

/* Free what sta_verify_files() left in files[i].bad. */
void sta_chunk_files_free(struct sta_chunk_file *files, size_t n);

/* A growing array of chunk files: add one, "abcd/…" named. */
int sta_chunk_files_add(struct sta_chunk_file **files, size_t *n, size_t *cap,
			const char *name, const stasync_chunk_id *id, bool compressed, bool present,
			uint64_t size);

#endif
