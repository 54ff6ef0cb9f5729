/* ==== Blobs ================================================================
 * Making a .caibx from a file or block device, and extracting it again. */
#ifndef STASYNC_BLOB_H
#define STASYNC_BLOB_H

#include <stdint.h>
#include <stasync/error.h>
#include <stasync/digest.h>
#include <stasync/chunker.h>
#include <stasync/chunk-stream.h>
#include <stasync/store.h>

typedef struct stasync_blob_make_options {
	stasync_chunk_sizes sizes;     /* completed sizes */
	stasync_digest_type digest;
	uint64_t feature_flags;        /* for the index header; 0: casync's */
	stasync_store *store;          /* NULL: write only the index */
	stasync_progress *progress;    /* NULL, or advanced per chunk indexed */
} stasync_blob_make_options;

/* stasync_blob_make() — chunk everything readable from in_fd, store the
 * chunks and write the index to index_fd. `input` names the input in
 * messages. *content receives the digest of the whole blob (what casync
 * prints). Returns 0 or a negative code with a message. */
int stasync_blob_make(int in_fd, const char *input, int index_fd, const char *index_name,
		      const stasync_blob_make_options *o, stasync_chunk_id *content,
		      stasync_chunk_stats *stats, stasync_error *err);

enum {
	/* out_fd is a new, empty regular file, written from its start: blocks
	 * of zeros are left unwritten, as holes, and the size set at the end
	 * (what casync does unless --punch-holes=no) */
	STASYNC_BLOB_HOLES = 1 << 0,
	/* out_fd holds data already (a block device): each chunk's place is
	 * read first and left alone when it holds the chunk already, so that
	 * an update writes only what changed */
	STASYNC_BLOB_IN_PLACE = 1 << 1,
	/* out_fd is a new file: the blocks of a chunk read from a seed file
	 * are shared with it (FICLONERANGE) where the file system can, and
	 * copied where it cannot */
	STASYNC_BLOB_REFLINK = 1 << 2,
};

/* stasync_blob_extract() — write the blob an index describes to out_fd
 * (from its start), fetching chunks as `f` says (chunk ids are checked
 * with the index's digest); `flags` as above. When `content` is non-NULL
 * the digest of the written bytes, of type `content_type`, is returned
 * there. out_fd may be -1 to only compute the digest (`digest` of an
 * index). */
int stasync_blob_extract(stasync_index_reader *r, const stasync_fetch *f, int out_fd,
			 const char *output, unsigned flags, stasync_digest_type content_type,
			 stasync_chunk_id *content, stasync_chunk_stats *stats, stasync_error *err);

/* stasync_blob_matches() — whether fd (a regular file or block device,
 * read sequentially from its current offset, normally 0) already holds
 * exactly the blob the index describes: every chunk read at its place
 * hashes to its id (with the index's digest), and a regular file is no
 * longer than the blob. Reads the index to its end. Returns 1 when it
 * does, 0 when not, or a negative code with a message. */
int stasync_blob_matches(stasync_index_reader *r, int fd, const char *output,
			 stasync_error *err);

/* stasync_blob_digest() — the digest of all bytes readable from fd. */
int stasync_blob_digest(int fd, const char *input, stasync_digest_type type,
			stasync_chunk_id *ret, stasync_error *err);

#endif
