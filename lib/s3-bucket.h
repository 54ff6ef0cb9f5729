/* A store in an S3 bucket seen as a whole: the chunk objects under its
 * prefix, listed page by page (ListObjectsV2), and objects deleted in
 * batches (DeleteObjects). For gc, verify, and make's choice between
 * asking for each chunk and listing what is there. */
#ifndef STASYNC_LIB_S3_BUCKET_H
#define STASYNC_LIB_S3_BUCKET_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/digest.h>
#include <stasync/error.h>
#include "http.h"
#include "s3-xml.h"

/* What a store's URL is made of (as sta_s3_http_new() gives it). */
typedef struct sta_s3_store_url {
	const char *url;     /* the bucket's URL and the prefix: "…/BUCKET/PREFIX" */
	size_t bucket_end;   /* the length of the bucket's URL in it */
	const char *name;    /* the store, for messages */
} sta_s3_store_url;

/* fn() of sta_s3_list_chunks(): a chunk object, its name relative to the
 * store ("abcd/abcd….cacnk") and its size in the bucket. A negative
 * return stops the listing and is returned. */
typedef int (*sta_s3_chunk_fn)(const stasync_chunk_id *id, bool compressed, uint64_t size,
			       const char *name, void *ud);

/* sta_s3_list_chunks() — every chunk object of the store, in key order,
 * through fn(); other objects under the prefix are passed over. At most
 * max_pages requests (0: as many as it takes): *complete (may be NULL)
 * says whether the listing reached its end, *pages (may be NULL) how
 * many requests it took. 0 or a negative code with a message. */
int sta_s3_list_chunks(sta_http *h, const sta_s3_store_url *s, unsigned max_pages,
		       sta_s3_chunk_fn fn, void *ud, bool *complete, unsigned *pages,
		       stasync_error *err);

/* sta_s3_delete() — delete the objects named relative to the store, in
 * batches of S3_XML_DELETE_MAX; deleted(name, ud) (may be NULL) is called
 * for each one gone. A key the server could not delete is an error naming
 * it and the server's reason. */
int sta_s3_delete(sta_http *h, const sta_s3_store_url *s, const char *const *names, size_t n,
		  void (*deleted)(const char *name, void *ud), void *ud, stasync_error *err);

#endif
