/* ==== Random access to a catar archive =====================================
 * Navigate an archive without decoding it from the start: stat, look up,
 * list and read any entry by seeking with the GOODBYE tables that end every
 * directory, as a FUSE file system needs. The archive is read through a
 * pread-like callback (a file, a blob reassembled from chunks, memory).
 *
 * A node is just two offsets; the tree object keeps no state per node, so
 * memory stays bounded for archives of millions of entries (a listing
 * holds the GOODBYE table of the one directory it lists). Everything read
 * is checked as strictly as the streaming decoder checks it: a malformed
 * archive gives -EBADMSG and a message naming the archive, the offset and
 * what is wrong, never a crash or a loop.
 *
 * Thread safety: the functions may be called from several threads at once
 * on one tree, provided the pread callback may be too. */
#ifndef STASYNC_CATAR_TREE_H
#define STASYNC_CATAR_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stasync/catar.h>
#include <stasync/error.h>

/* stasync_pread_fn — read up to n bytes at `offset` into p. Returns the
 * count, fewer than n only at the end of the archive, or a negative errno
 * with a message in err. */
typedef ssize_t (*stasync_pread_fn)(void *ctx, void *p, size_t n, uint64_t offset,
				    stasync_error *err);

typedef struct stasync_catar_tree stasync_catar_tree;

/* One entry of the archive. */
typedef struct stasync_catar_node {
	uint64_t entry_offset; /* where its ENTRY record starts (the root: 0); unique
				* per node, so a mount may use it as inode number */
	uint64_t end_offset;   /* where its records end (a directory: after its GOODBYE) */
} stasync_catar_node;

/* stasync_catar_tree_new() — a tree over the `size` bytes that `pread`
 * reads. `name` names the archive in messages. Reads the root's ENTRY
 * record to learn the archive's feature flags. Returns 0, -EBADMSG when the
 * archive does not start with a valid ENTRY record, -ENOMEM, or the
 * callback's error. Free with stasync_catar_tree_free() (accepts NULL). */
int stasync_catar_tree_new(stasync_pread_fn pread, void *ctx, uint64_t size, const char *name,
			   stasync_catar_tree **ret, stasync_error *err);
void stasync_catar_tree_free(stasync_catar_tree *t);

/* stasync_catar_tree_feature_flags() — the archive's feature flags. */
uint64_t stasync_catar_tree_feature_flags(const stasync_catar_tree *t);

/* stasync_catar_tree_root() — the root node. A directory archive must end
 * with the root's GOODBYE, whose tail points back to offset 0; any other
 * root is a single entry spanning the whole archive. Returns 0 or -EBADMSG. */
int stasync_catar_tree_root(stasync_catar_tree *t, stasync_catar_node *ret, stasync_error *err);

/* stasync_catar_tree_entry() — decode the node's entry with all its
 * metadata into *ret, which the caller owns (stasync_entry_clear()). For a
 * regular file also *payload_offset (may be NULL): the archive offset of
 * its contents, ret->size bytes that end at n->end_offset. The checks are
 * the streaming decoder's, plus: the entry's records fill the node exactly
 * (a directory: up to its GOODBYE, whose tail points back to the entry).
 * Returns 0, -EBADMSG, -ENOMEM, or the callback's error. */
int stasync_catar_tree_entry(stasync_catar_tree *t, const stasync_catar_node *n,
			     stasync_entry *ret, uint64_t *payload_offset, stasync_error *err);

/* stasync_catar_tree_lookup() — the child called `name` of directory
 * `dir`, found by searching its GOODBYE table for the name's hash and
 * comparing the FILENAME records of the candidates. Returns 1 and *child,
 * 0 when there is no such child (also for "", ".", "..", names with '/'
 * or longer than 255 bytes), -ENOTDIR when dir is not a directory,
 * -EBADMSG for a malformed archive, or the callback's error. */
int stasync_catar_tree_lookup(stasync_catar_tree *t, const stasync_catar_node *dir,
			      const char *name, stasync_catar_node *child, stasync_error *err);

/* stasync_catar_tree_list_fn — called for one child: its name (valid
 * during the call), node and index among the directory's children (0 for
 * the first in name order). Return nonzero to stop the listing. */
typedef int (*stasync_catar_tree_list_fn)(void *ctx, const char *name,
					  const stasync_catar_node *child, size_t index);

/* stasync_catar_tree_list() — call cb for the children of directory `dir`
 * in name order (which is archive order), starting with the child at index
 * `from`. The first listing of a directory reads and checks its whole
 * GOODBYE table (in-order sorted, the children contiguous from the end of
 * the directory's records to its GOODBYE); the tree keeps that for the
 * directory last listed, so listing a big directory page by page costs
 * O(page) each time. Returns the number of children visited (including
 * the one whose callback stopped the listing; 0 when `from` is past the
 * end), -ENOTDIR, -EBADMSG, -E2BIG for a directory of more than 16 Mi
 * children, -ENOMEM, or the callback's error. */
int stasync_catar_tree_list(stasync_catar_tree *t, const stasync_catar_node *dir, size_t from,
			    stasync_catar_tree_list_fn cb, void *ctx, stasync_error *err);

#endif
