/* POSIX ACLs of an entry as the kernel's xattr values: version 2, then one
 * (tag, permissions, id) of 8 bytes an entry, sorted by tag and id. */
#include <stdlib.h>

#include "acl-xattr.h"
#include "linux.h"
#include "util.h"

#define ACL_NO_ID UINT32_MAX

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

static int acl_ent_cmp(const void *a, const void *b)
{
	const struct acl_ent *p = a, *q = b;

	if (p->tag != q->tag)
		return p->tag < q->tag ? -1 : 1;
	return p->id < q->id ? -1 : p->id > q->id;
}

static int add_items(struct acl_ent *v, size_t *n, uint16_t tag, const stasync_acl_item *items,
		     size_t n_items, sta_acl_id_fn map, void *ctx)
{
	for (size_t i = 0; i < n_items; i++) {
		uint32_t id = (uint32_t)items[i].id;
		int r = map ? map(ctx, &items[i], tag == STA_ACL_GROUP, &id) : 0;

		if (r < 0)
			return r;
		v[(*n)++] = (struct acl_ent){ tag, (uint16_t)(items[i].permissions & 7), id };
	}
	return 0;
}

int sta_acl_xattr(const stasync_entry *e, bool def, sta_acl_id_fn map, void *ctx,
		  uint8_t **ret, size_t *ret_size, struct sta_acl_dup *dup)
{
	const stasync_acl_item *users = def ? e->acl_default_user : e->acl_user;
	const stasync_acl_item *groups = def ? e->acl_default_group : e->acl_group;
	size_t nu = def ? e->n_acl_default_user : e->n_acl_user;
	size_t ng = def ? e->n_acl_default_group : e->n_acl_group;
	uint16_t user_obj, group_obj, other, mask;
	bool have_mask;
	_cleanup_free_ struct acl_ent *v = NULL;
	size_t n = 0;
	uint8_t *out;
	int r;

	*ret = NULL;
	*ret_size = 0;
	if (def) {
		if (e->acl_default_user_obj == STASYNC_ACL_NONE)
			return 0;
		user_obj = e->acl_default_user_obj & 7;
		group_obj = e->acl_default_group_obj == STASYNC_ACL_NONE
				    ? 0 : (uint16_t)(e->acl_default_group_obj & 7);
		other = e->acl_default_other == STASYNC_ACL_NONE
				? 0 : (uint16_t)(e->acl_default_other & 7);
		have_mask = e->acl_default_mask != STASYNC_ACL_NONE;
		mask = have_mask ? (uint16_t)(e->acl_default_mask & 7) : 0;
	} else {
		if (nu == 0 && ng == 0 && e->acl_group_obj == STASYNC_ACL_NONE)
			return 0;
		user_obj = (e->mode >> 6) & 7;
		group_obj = e->acl_group_obj != STASYNC_ACL_NONE ? (uint16_t)(e->acl_group_obj & 7)
								 : (uint16_t)((e->mode >> 3) & 7);
		other = e->mode & 7;
		/* with an extended ACL, the mode's group bits are the mask */
		have_mask = true;
		mask = (e->mode >> 3) & 7;
	}
	v = calloc(nu + ng + 4, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[n++] = (struct acl_ent){ STA_ACL_USER_OBJ, user_obj, ACL_NO_ID };
	v[n++] = (struct acl_ent){ STA_ACL_GROUP_OBJ, group_obj, ACL_NO_ID };
	v[n++] = (struct acl_ent){ STA_ACL_OTHER, other, ACL_NO_ID };
	if ((r = add_items(v, &n, STA_ACL_USER, users, nu, map, ctx)) < 0 ||
	    (r = add_items(v, &n, STA_ACL_GROUP, groups, ng, map, ctx)) < 0)
		return r;
	if (!have_mask && nu + ng > 0) {
		/* named entries need a mask: the union of the group class */
		have_mask = true;
		for (size_t i = 0; i < n; i++)
			if (v[i].tag == STA_ACL_GROUP_OBJ || v[i].tag == STA_ACL_USER ||
			    v[i].tag == STA_ACL_GROUP)
				mask |= v[i].perm;
	}
	if (have_mask)
		v[n++] = (struct acl_ent){ STA_ACL_MASK, mask, ACL_NO_ID };
	qsort(v, n, sizeof(*v), acl_ent_cmp);
	for (size_t i = 1; i < n; i++)
		if (v[i].tag == v[i - 1].tag && v[i].id == v[i - 1].id) {
			if (dup)
				*dup = (struct sta_acl_dup){ v[i].tag == STA_ACL_GROUP, v[i].id };
			return -ENOTUNIQ;
		}
	out = malloc(4 + 8 * n);
	if (!out)
		return -ENOMEM;
	out[0] = STA_ACL_XATTR_VERSION;
	out[1] = out[2] = out[3] = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = out + 4 + 8 * i;

		p[0] = (uint8_t)v[i].tag;
		p[1] = (uint8_t)(v[i].tag >> 8);
		p[2] = (uint8_t)v[i].perm;
		p[3] = (uint8_t)(v[i].perm >> 8);
		for (int b = 0; b < 4; b++)
			p[4 + b] = (uint8_t)(v[i].id >> (8 * b));
	}
	*ret = out;
	*ret_size = 4 + 8 * n;
	return 0;
}

int stasync_entry_acl_xattr(const stasync_entry *e, bool def, uint8_t **ret, size_t *ret_size)
{
	int r = sta_acl_xattr(e, def, NULL, NULL, ret, ret_size, NULL);

	/* ids as stored cannot repeat in a decoded entry: the decoder
	 * refuses that; say EBADMSG if they somehow do */
	return r == -ENOTUNIQ ? -EBADMSG : r;
}
