/* An entry's POSIX ACLs as the system.posix_acl_access and
 * system.posix_acl_default xattr values the kernel takes: extraction sets
 * them, a mount shows them. */
#ifndef STASYNC_LIB_ACL_XATTR_H
#define STASYNC_LIB_ACL_XATTR_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/catar.h>

/* How a named user or group entry's id is found (extraction maps names and
 * --uid-shift); NULL: the id as stored. 0 or a negative code to stop. */
typedef int (*sta_acl_id_fn)(void *ctx, const stasync_acl_item *item, bool group,
			     uint32_t *ret);

/* What names an id twice, after mapping (-ENOTUNIQ). */
struct sta_acl_dup {
	bool group;
	uint32_t id;
};

/* sta_acl_xattr() — the xattr value of the access (def false) or default
 * ACL of e, malloc()ed in *ret; *ret_size 0 (and *ret NULL) when the entry
 * has none beyond its mode. Returns 0, -ENOMEM, what map returned, or
 * -ENOTUNIQ with *dup saying which id appears twice. */
int sta_acl_xattr(const stasync_entry *e, bool def, sta_acl_id_fn map, void *ctx,
		  uint8_t **ret, size_t *ret_size, struct sta_acl_dup *dup);

#endif
