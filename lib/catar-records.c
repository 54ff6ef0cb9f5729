/* The records of one catar entry, serialized exactly as casync writes
 * them. The encoder writes them; list/stat digest them (HLDigest). */
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/catar.h>
#include "catar-records.h"
#include "format.h"
#include "util.h"

int sta_put_header(struct sta_buf *b, uint64_t type, uint64_t payload_size)
{
	int r = sta_buf_append_le64(b, CA_FORMAT_HEADER_SIZE + payload_size);

	return r < 0 ? r : sta_buf_append_le64(b, type);
}

int sta_put_string_record(struct sta_buf *b, uint64_t type, const char *s)
{
	size_t n = strlen(s) + 1;
	int r = sta_put_header(b, type, n);

	return r < 0 ? r : sta_buf_append(b, s, n);
}

static int put_acl_items(struct sta_buf *b, uint64_t type, const stasync_acl_item *v, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		size_t name = v[i].name ? strlen(v[i].name) + 1 : 0;
		if ((r = sta_put_header(b, type, 16 + name)) < 0 ||
		    (r = sta_buf_append_le64(b, v[i].id)) < 0 ||
		    (r = sta_buf_append_le64(b, v[i].permissions)) < 0)
			break;
		if (name)
			r = sta_buf_append(b, v[i].name, name);
	}
	return r;
}

/* All records of one entry up to (and including the header of) its
 * PAYLOAD, or its SYMLINK / DEVICE record. */
int sta_entry_records(struct sta_buf *b, const stasync_entry *e)
{
	int r;

	if ((r = sta_put_header(b, CA_FORMAT_ENTRY, CA_FORMAT_ENTRY_SIZE - CA_FORMAT_HEADER_SIZE)) < 0 ||
	    (r = sta_buf_append_le64(b, e->feature_flags)) < 0 ||
	    (r = sta_buf_append_le64(b, e->mode)) < 0 ||
	    (r = sta_buf_append_le64(b, e->flags)) < 0 ||
	    (r = sta_buf_append_le64(b, e->uid)) < 0 ||
	    (r = sta_buf_append_le64(b, e->gid)) < 0 ||
	    (r = sta_buf_append_le64(b, e->mtime)) < 0)
		return r;
	if (e->user && (r = sta_put_string_record(b, CA_FORMAT_USER, e->user)) < 0)
		return r;
	if (e->group && (r = sta_put_string_record(b, CA_FORMAT_GROUP, e->group)) < 0)
		return r;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		size_t name = strlen(e->xattrs[i].name) + 1;
		if ((r = sta_put_header(b, CA_FORMAT_XATTR, name + e->xattrs[i].size)) < 0 ||
		    (r = sta_buf_append(b, e->xattrs[i].name, name)) < 0 ||
		    (r = sta_buf_append(b, e->xattrs[i].value, e->xattrs[i].size)) < 0)
			return r;
	}
	if ((r = put_acl_items(b, CA_FORMAT_ACL_USER, e->acl_user, e->n_acl_user)) < 0 ||
	    (r = put_acl_items(b, CA_FORMAT_ACL_GROUP, e->acl_group, e->n_acl_group)) < 0)
		return r;
	if (e->acl_group_obj != STASYNC_ACL_NONE &&
	    ((r = sta_put_header(b, CA_FORMAT_ACL_GROUP_OBJ, 8)) < 0 ||
	     (r = sta_buf_append_le64(b, e->acl_group_obj)) < 0))
		return r;
	if (e->acl_default_user_obj != STASYNC_ACL_NONE || e->acl_default_group_obj != STASYNC_ACL_NONE ||
	    e->acl_default_other != STASYNC_ACL_NONE || e->acl_default_mask != STASYNC_ACL_NONE) {
		if ((r = sta_put_header(b, CA_FORMAT_ACL_DEFAULT, 32)) < 0 ||
		    (r = sta_buf_append_le64(b, e->acl_default_user_obj)) < 0 ||
		    (r = sta_buf_append_le64(b, e->acl_default_group_obj)) < 0 ||
		    (r = sta_buf_append_le64(b, e->acl_default_other)) < 0 ||
		    (r = sta_buf_append_le64(b, e->acl_default_mask)) < 0)
			return r;
	}
	if ((r = put_acl_items(b, CA_FORMAT_ACL_DEFAULT_USER, e->acl_default_user, e->n_acl_default_user)) < 0 ||
	    (r = put_acl_items(b, CA_FORMAT_ACL_DEFAULT_GROUP, e->acl_default_group, e->n_acl_default_group)) < 0)
		return r;
	if (e->selinux && (r = sta_put_string_record(b, CA_FORMAT_SELINUX, e->selinux)) < 0)
		return r;
	if (e->fcaps && ((r = sta_put_header(b, CA_FORMAT_FCAPS, e->fcaps_size)) < 0 ||
			 (r = sta_buf_append(b, e->fcaps, e->fcaps_size)) < 0))
		return r;
	if (e->quota_projid && ((r = sta_put_header(b, CA_FORMAT_QUOTA_PROJID, 8)) < 0 ||
				(r = sta_buf_append_le64(b, e->quota_projid)) < 0))
		return r;
	if (S_ISREG(e->mode))
		return sta_put_header(b, CA_FORMAT_PAYLOAD, e->size);
	if (S_ISLNK(e->mode))
		return sta_put_string_record(b, CA_FORMAT_SYMLINK, e->symlink);
	if (S_ISBLK(e->mode) || S_ISCHR(e->mode)) {
		if ((r = sta_put_header(b, CA_FORMAT_DEVICE, 16)) < 0 ||
		    (r = sta_buf_append_le64(b, e->rdev_major)) < 0)
			return r;
		return sta_buf_append_le64(b, e->rdev_minor);
	}
	return 0;
}

int stasync_entry_records(const stasync_entry *e, uint8_t **ret, size_t *ret_size)
{
	struct sta_buf b = { .limit = (size_t)64 << 20 };
	int r = sta_entry_records(&b, e);

	if (r < 0) {
		sta_buf_free(&b);
		return r == -E2BIG ? -E2BIG : -ENOMEM;
	}
	*ret = b.data;
	*ret_size = b.len;
	return 0;
}
