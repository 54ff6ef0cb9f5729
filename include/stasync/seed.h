/* ==== Seeds ==================================================================
 * Data already on this machine that may hold chunks an index needs: an older
 * version of a file or block device, a directory, a .catar, or the output
 * about to be replaced. A seed is chunked as the index was (same sizes,
 * same digest); the chunks the index wants are then read from it instead
 * of fetched, each hashed again when read. */
#ifndef STASYNC_SEED_H
#define STASYNC_SEED_H
#include <stdbool.h>
#include <stdint.h>
#include <stasync/chunker.h>
#include <stasync/digest.h>
#include <stasync/error.h>
#include <stasync/maint.h>
#include <stasync/catar.h>

typedef struct stasync_seed stasync_seed;

/* stasync_seed_new() — seeds for the chunks in `wanted` (kept, not
 * copied: it must outlive the seed), cut with `sizes` and named by `type`. */
int stasync_seed_new(const stasync_chunk_set *wanted, const stasync_chunk_sizes *sizes,
		     stasync_digest_type type, stasync_seed **ret, stasync_error *err);
void stasync_seed_free(stasync_seed *s);

/* stasync_seed_add_file() — chunk everything readable from fd (a file,
 * block device or .catar; `name` in messages). The wanted chunks are read
 * from it again when needed, so it must stay as it is until then; the seed
 * keeps its own descriptor. */
int stasync_seed_add_file(stasync_seed *s, int fd, const char *name, stasync_error *err);

/* stasync_seed_add_dir() — encode the directory as a catar archive with
 * `o` (the feature flags of the index to extract) and chunk that. The
 * wanted chunks are copied aside at once (an unnamed temporary file), as
 * the directory may be the very one being extracted into. */
int stasync_seed_add_dir(stasync_seed *s, int dir_fd, const char *name,
			 const stasync_encode_options *o, stasync_error *err);

/* How many wanted chunks the seeds hold, and their bytes. */
void stasync_seed_found(const stasync_seed *s, uint64_t *chunks, uint64_t *bytes);
#endif
