/* ==== Store maintenance =====================================================
 * The chunks indexes refer to, as a set; garbage collection of a local store
 * (remove what no index refers to) and verification (every chunk file read,
 * inflated and hashed again). */
#ifndef STASYNC_MAINT_H
#define STASYNC_MAINT_H
#include <stdbool.h>
#include <stdint.h>
#include <stasync/digest.h>
#include <stasync/error.h>
#include <stasync/index.h>

/* ---- A set of chunk ids, with the size each was first added with ---------- */
typedef struct stasync_chunk_set stasync_chunk_set;
int stasync_chunk_set_new(stasync_chunk_set **ret);
void stasync_chunk_set_free(stasync_chunk_set *s);
/* 1 when added, 0 when already there, -ENOMEM. */
int stasync_chunk_set_add(stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t size);
bool stasync_chunk_set_has(const stasync_chunk_set *s, const stasync_chunk_id *id);
size_t stasync_chunk_set_count(const stasync_chunk_set *s);
/* stasync_chunk_set_each() — fn on every member with its size, in no
 * order; a negative return of fn stops it and is returned. */
int stasync_chunk_set_each(const stasync_chunk_set *s,
			   int (*fn)(const stasync_chunk_id *id, uint64_t size, void *ud), void *ud);
/* stasync_chunk_set_add_index() — add every chunk the index lists; *refs
 * (when non-NULL) grows by the number of entries read. */
int stasync_chunk_set_add_index(stasync_chunk_set *s, stasync_index_reader *r, uint64_t *refs,
				stasync_error *err);

/* ---- Garbage collection ------------------------------------------------------ */
typedef struct stasync_gc_stats {
	uint64_t chunks;        /* chunk files found in the store */
	uint64_t removed;       /* removed (dry run: would be) */
	uint64_t bytes_removed; /* their size on disk */
	uint64_t dirs_removed;  /* <4 hex> directories left empty and removed */
} stasync_gc_stats;

/* stasync_store_gc() — remove from the local store in directory `dir` every
 * chunk file (compressed or not) whose id is not in `keep`, then the chunk
 * directories that are left empty. Other files are left alone. dry_run:
 * remove nothing, count what would go. removed(), when non-NULL, is called
 * with the store-relative name of each chunk removed (or that would be). */
int stasync_store_gc(const char *dir, const stasync_chunk_set *keep, bool dry_run,
		     void (*removed)(const char *name, void *ud), void *ud,
		     stasync_gc_stats *st, stasync_error *err);

/* ---- Verification ------------------------------------------------------------ */
typedef struct stasync_verify_options {
	/* NULL: every chunk file in the store; else these chunks, at the sizes
	 * in the set (from their indexes), a missing one counted as bad */
	const stasync_chunk_set *only;
	/* the id's digest; -1: SHA-512/256, or SHA-256 when that fails */
	int digest;
	bool repair;            /* remove each bad chunk file */
	unsigned threads;       /* 0: one per CPU, at most 8 */
	/* called, in name order, for each bad or missing chunk */
	void (*bad)(const char *name, const char *reason, void *ud);
	void *ud;
} stasync_verify_options;

typedef struct stasync_verify_stats {
	uint64_t checked;       /* chunk files read and found good */
	uint64_t bad;           /* unreadable, corrupt, or not matching their name */
	uint64_t missing;       /* in `only`, not in the store */
	uint64_t removed;       /* bad ones removed (repair) */
} stasync_verify_stats;

/* stasync_store_verify() — read every chunk (see `only`) of the local store
 * in `dir`, inflate it with a bound and hash it. Returns 0 when it could
 * look at everything (the stats say what it found), or an error that
 * stopped it (the store cannot be read). */
int stasync_store_verify(const char *dir, const stasync_verify_options *o,
			 stasync_verify_stats *st, stasync_error *err);

/* ---- A store in an S3 bucket ---------------------------------------------------
 * The same two for a store at an s3+http(s):// locator (see <stasync/http.h>),
 * with HTTP options http (NULL: the defaults). Its objects are listed page
 * by page; gc deletes in batches of a thousand (dirs_removed stays 0);
 * verify fetches the chunks o->threads at a time (0: http's concurrency). */
struct stasync_http_options;
int stasync_s3_store_gc(const char *locator, const struct stasync_http_options *http,
			const stasync_chunk_set *keep, bool dry_run,
			void (*removed)(const char *name, void *ud), void *ud,
			stasync_gc_stats *st, stasync_error *err);
int stasync_s3_store_verify(const char *locator, const struct stasync_http_options *http,
			    const stasync_verify_options *o, stasync_verify_stats *st,
			    stasync_error *err);
#endif
