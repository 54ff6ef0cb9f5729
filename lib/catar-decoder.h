/* What the catar decoder offers the rest of the library beyond its public
 * interface: decoding one entry that sits inside an archive, for random
 * access (lib/catar-tree.c). */
#ifndef STASYNC_LIB_CATAR_DECODER_H
#define STASYNC_LIB_CATAR_DECODER_H

#include <stdint.h>

#include <stasync/catar.h>

/* sta_catar_decoder_start_inner() — before the first _next(): the stream
 * starts at an ENTRY record inside an archive, not at its root, and ends
 * where that entry's records end. _next() then decodes that one entry as it
 * would the root. `label` stands for its path in messages (e.g. "entry at
 * offset 123"); `feature_flags` are the archive's (already checked), which
 * the entry must repeat. _path() returns the label afterwards. Returns 0,
 * -EINVAL when decoding has begun, -ENOMEM. */
int sta_catar_decoder_start_inner(stasync_catar_decoder *d, const char *label,
				  uint64_t feature_flags, stasync_error *err);

/* sta_catar_decoder_take_entry() — after an ENTRY event: move the decoded
 * entry into *ret (which the caller then owns; stasync_entry_clear()). The
 * decoder's copy is left empty. */
void sta_catar_decoder_take_entry(stasync_catar_decoder *d, stasync_entry *ret);

#endif
