/* stasync_entry: one catar entry's decoded metadata and what it owns. */
#include <stasync/catar.h>

#include "util.h"

void stasync_entry_init(stasync_entry *e)
{
	*e = (stasync_entry) {
		.acl_group_obj = STASYNC_ACL_NONE,
		.acl_default_user_obj = STASYNC_ACL_NONE,
		.acl_default_group_obj = STASYNC_ACL_NONE,
		.acl_default_other = STASYNC_ACL_NONE,
		.acl_default_mask = STASYNC_ACL_NONE,
	};
}

static void acl_items_free(stasync_acl_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i].name);
	free(items);
}

void stasync_entry_clear(stasync_entry *e)
{
	if (!e)
		return;
	free(e->user);
	free(e->group);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	acl_items_free(e->acl_user, e->n_acl_user);
	acl_items_free(e->acl_group, e->n_acl_group);
	acl_items_free(e->acl_default_user, e->n_acl_default_user);
	acl_items_free(e->acl_default_group, e->n_acl_default_group);
	free(e->selinux);
	free(e->fcaps);
	free(e->symlink);
	stasync_entry_init(e);
}
