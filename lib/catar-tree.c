/* Random access to a catar archive through a pread callback.
 *
 * A node is (ENTRY offset, end offset). A directory's end is the end of its
 * GOODBYE record, whose 24-byte tail gives the record's size and points back
 * to the directory's ENTRY; the GOODBYE items (offset back from the GOODBYE
 * to a child's FILENAME record, the child's size, the SipHash of its name)
 * form a binary search tree by hash in level order (see goodbye.c), so a
 * lookup reads O(log n) items, and the items sorted by offset are the
 * children in archive order. Entries themselves are decoded by the
 * streaming decoder, started at the node's ENTRY and given only the node's
 * bytes. Every offset read from the archive is checked to stay inside the
 * directory it belongs to before it is followed. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/catar-tree.h>

#include "catar-decoder.h"
#include "format.h"
#include "goodbye.h"
#include "util.h"

/* The most children of one directory a listing holds (24 bytes each). */
#define LIST_ITEMS_MAX ((size_t)1 << 24)
/* GOODBYE items read per pread while listing. */
#define TABLE_PIECE 2730
/* FILENAME records: header + name + NUL. */
#define FILENAME_MIN (CA_FORMAT_HEADER_SIZE + 2)
#define FILENAME_MAX_SIZE (CA_FORMAT_HEADER_SIZE + CA_FORMAT_NAME_MAX)
/* The smallest child: its FILENAME and an ENTRY. */
#define CHILD_MIN (FILENAME_MIN + CA_FORMAT_ENTRY_SIZE)
#define GOODBYE_MIN (CA_FORMAT_HEADER_SIZE + CA_FORMAT_GOODBYE_ITEM_SIZE) /* no items */
/* Reads of the decoder start small (most entries are small) and grow. */
#define SPAN_STEP_MIN 4096
#define SPAN_STEP_MAX (128 * 1024)
/* A search holds at most two pending subtrees per level of the tree. */
#define SEARCH_STACK 160

/* The GOODBYE-ordered children of one listed directory, sorted by offset. */
struct dir_list {
	unsigned refs;          /* under the tree's lock */
	uint64_t entry, end;    /* the directory */
	size_t n;
	struct sta_goodbye_item items[];
};

struct stasync_catar_tree {
	stasync_pread_fn pread;
	void *ctx;
	uint64_t size;
	char *name;
	uint64_t feature_flags;

	pthread_mutex_t lock;
	struct dir_list *last;  /* the directory last listed */
};

/* What dir_open() learns about a directory. */
struct dir_info {
	uint64_t entry, end;
	uint64_t goodbye;       /* start of its GOODBYE record */
	uint64_t n;             /* number of children */
};

/* ---- messages and reading ------------------------------------------------ */

static int tree_fail(const stasync_catar_tree *t, stasync_error *err, int code, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
static int tree_fail(const stasync_catar_tree *t, stasync_error *err, int code, const char *fmt,
		     ...)
{
	char what[STASYNC_ERROR_MESSAGE_MAX];
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	sta_error(err, code, "%s: %s", t->name, what);
	/* names from the archive may hold any byte: keep it one line */
	for (char *s = err->message; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	return code;
}

/* read_at() — exactly n bytes at off (the caller checked off + n ≤ size). */
static int read_at(const stasync_catar_tree *t, void *p, size_t n, uint64_t off,
		   stasync_error *err)
{
	uint8_t *q = p;

	while (n > 0) {
		ssize_t k;

		stasync_error_clear(err);
		k = t->pread(t->ctx, q, n, off, err);
		if (k < 0) {
			if (err && !err->message[0])
				return tree_fail(t, err, (int)k, "cannot read at offset %" PRIu64
						 ": %s", off, stasync_strerror((int)k));
			if (err)
				err->code = (int)k;
			return (int)k;
		}
		if (k == 0 || (size_t)k > n)
			return tree_fail(t, err, -EIO, "the archive reads %s at offset %" PRIu64
					 " (its size is %" PRIu64 ")",
					 k == 0 ? "short" : "too long", off, t->size);
		q += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static bool node_valid(const stasync_catar_tree *t, const stasync_catar_node *n)
{
	return n && n->end_offset <= t->size && n->entry_offset < n->end_offset &&
	       n->end_offset - n->entry_offset >= CA_FORMAT_ENTRY_SIZE;
}

static int node_invalid(const stasync_catar_tree *t, const stasync_catar_node *n,
			stasync_error *err)
{
	if (!n)
		return tree_fail(t, err, -EINVAL, "no node given");
	return tree_fail(t, err, -EINVAL, "offsets %" PRIu64 "..%" PRIu64 " are not a node of "
			 "the archive", n->entry_offset, n->end_offset);
}

/* What is wrong with a file name of len bytes (NUL at name[len]), or NULL. */
static const char *name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "is empty";
	if (memchr(name, 0, len))
		return "contains a NUL byte";
	if (memchr(name, '/', len))
		return "contains '/'";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "is '.' or '..'";
	return NULL;
}

/* ---- entries: the streaming decoder over one node's bytes ----------------- */

struct span {
	const stasync_catar_tree *t;
	uint64_t pos, end;
	size_t step;
};

static ssize_t span_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct span *s = ctx;
	size_t k = (size_t)MIN((uint64_t)MIN(n, s->step), s->end - s->pos);
	ssize_t got;

	if (k == 0)
		return 0;
	got = s->t->pread(s->t->ctx, p, k, s->pos, err);
	if (got < 0)
		return got;
	if (got == 0 || (size_t)got > k)
		return tree_fail(s->t, err, -EIO, "the archive reads %s at offset %" PRIu64
				 " (its size is %" PRIu64 ")", got == 0 ? "short" : "too long",
				 s->pos, s->t->size);
	s->pos += (uint64_t)got;
	s->step = MIN(s->step * 2, (size_t)SPAN_STEP_MAX);
	return got;
}

/* decode_node() — the node's entry into *ret; *consumed: the bytes of its
 * records before a file's payload or a directory's first child. */
static int decode_node(const stasync_catar_tree *t, const stasync_catar_node *n,
		       stasync_entry *ret, uint64_t *consumed, stasync_error *err)
{
	struct span s = { t, n->entry_offset, n->end_offset, SPAN_STEP_MIN };
	stasync_catar_decoder *d = NULL;
	const stasync_entry *e;
	int r;

	r = stasync_catar_decoder_new(span_read, &s, t->name, &d, err);
	if (r < 0)
		return r;
	if (n->entry_offset != 0) {
		char label[64];

		snprintf(label, sizeof(label), "entry at offset %" PRIu64, n->entry_offset);
		r = sta_catar_decoder_start_inner(d, label, t->feature_flags, err);
		if (r < 0)
			goto out;
	}
	r = stasync_catar_decoder_next(d, &e, err);
	if (r >= 0 && r != STASYNC_CATAR_ENTRY) {
		r = tree_fail(t, err, -EBADMSG, "no entry at offset %" PRIu64, n->entry_offset);
		goto out;
	}
	if (r < 0)
		goto out;
	sta_catar_decoder_take_entry(d, ret);
	*consumed = stasync_catar_decoder_offset(d);
	r = 0;
out:
	stasync_catar_decoder_free(d);
	return r;
}

/* ---- directories ------------------------------------------------------------ */

/* dir_open() — check that the node is a directory whose GOODBYE record ends
 * it and points back to it. -ENOTDIR for another kind of entry. */
static int dir_open(const stasync_catar_tree *t, const stasync_catar_node *dir,
		    struct dir_info *di, stasync_error *err)
{
	uint8_t head[CA_FORMAT_ENTRY_SIZE], tail[CA_FORMAT_GOODBYE_ITEM_SIZE];
	uint64_t span, gsize, back, mode;
	int r;

	if (!node_valid(t, dir))
		return node_invalid(t, dir, err);
	r = read_at(t, head, sizeof(head), dir->entry_offset, err);
	if (r < 0)
		return r;
	if (le64_get(head) != CA_FORMAT_ENTRY_SIZE || le64_get(head + 8) != CA_FORMAT_ENTRY)
		return tree_fail(t, err, -EBADMSG, "no ENTRY record at offset %" PRIu64,
				 dir->entry_offset);
	mode = le64_get(head + 24);
	if (!S_ISDIR(mode))
		return tree_fail(t, err, -ENOTDIR, "the entry at offset %" PRIu64 " is not a "
				 "directory", dir->entry_offset);

	span = dir->end_offset - dir->entry_offset;
	if (span < CA_FORMAT_ENTRY_SIZE + GOODBYE_MIN)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": %" PRIu64
				 " bytes, too short for its GOODBYE record", dir->entry_offset,
				 span);
	r = read_at(t, tail, sizeof(tail), dir->end_offset - sizeof(tail), err);
	if (r < 0)
		return r;
	back = le64_get(tail);
	gsize = le64_get(tail + 8);
	if (le64_get(tail + 16) != CA_FORMAT_GOODBYE_TAIL_MARKER)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": no GOODBYE "
				 "tail marker before offset %" PRIu64, dir->entry_offset,
				 dir->end_offset);
	if (gsize < GOODBYE_MIN ||
	    (gsize - GOODBYE_MIN) % CA_FORMAT_GOODBYE_ITEM_SIZE != 0 ||
	    gsize > span - CA_FORMAT_ENTRY_SIZE)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": GOODBYE "
				 "tail gives an impossible size %" PRIu64, dir->entry_offset, gsize);
	di->entry = dir->entry_offset;
	di->end = dir->end_offset;
	di->goodbye = dir->end_offset - gsize;
	di->n = (gsize - GOODBYE_MIN) / CA_FORMAT_GOODBYE_ITEM_SIZE;
	if (back != di->goodbye - di->entry)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": its GOODBYE "
				 "tail points to offset %" PRIu64 ", not back to the directory",
				 dir->entry_offset, di->goodbye - MIN(back, di->goodbye));
	r = read_at(t, head, CA_FORMAT_HEADER_SIZE, di->goodbye, err);
	if (r < 0)
		return r;
	if (le64_get(head) != gsize || le64_get(head + 8) != CA_FORMAT_GOODBYE)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": no GOODBYE "
				 "record of %" PRIu64 " bytes at offset %" PRIu64,
				 dir->entry_offset, gsize, di->goodbye);
	return 0;
}

/* item_bounds() — a GOODBYE item's (offset, size) as the child's FILENAME
 * start and end, which must lie between the directory's ENTRY and GOODBYE. */
static int item_bounds(const stasync_catar_tree *t, const struct dir_info *di, size_t i,
		       uint64_t off, uint64_t size, struct sta_goodbye_item *ret,
		       stasync_error *err)
{
	if (off > di->goodbye - di->entry - CA_FORMAT_ENTRY_SIZE || size < CHILD_MIN ||
	    size > off)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": GOODBYE "
				 "item %zu (offset %" PRIu64 ", size %" PRIu64 ") points outside "
				 "the directory", di->entry, i, off, size);
	ret->start = di->goodbye - off;
	ret->end = ret->start + size;
	return 0;
}

/* child_read() — the child an item points to: its FILENAME record must be
 * valid, fit the item, and hash to the item's hash. name: NAME_MAX bytes. */
static int child_read(const stasync_catar_tree *t, const struct dir_info *di,
		      const struct sta_goodbye_item *it, char *name, stasync_catar_node *ret,
		      stasync_error *err)
{
	uint8_t p[FILENAME_MAX_SIZE];
	size_t n = (size_t)MIN((uint64_t)sizeof(p), it->end - it->start - CA_FORMAT_ENTRY_SIZE);
	uint64_t size;
	const char *problem;
	size_t len;
	int r;

	r = read_at(t, p, n, it->start, err);
	if (r < 0)
		return r;
	size = le64_get(p);
	if (le64_get(p + 8) != CA_FORMAT_FILENAME)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": no FILENAME "
				 "record at offset %" PRIu64 ", where its GOODBYE points",
				 di->entry, it->start);
	if (size < FILENAME_MIN || size > n)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": FILENAME "
				 "record of %" PRIu64 " bytes at offset %" PRIu64, di->entry,
				 size, it->start);
	len = (size_t)size - CA_FORMAT_HEADER_SIZE - 1;
	memcpy(name, p + CA_FORMAT_HEADER_SIZE, len + 1);
	if (name[len] != 0)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": file name "
				 "at offset %" PRIu64 " is not NUL-terminated", di->entry,
				 it->start);
	problem = name_problem(name, len);
	if (problem)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": file name "
				 "at offset %" PRIu64 " %s", di->entry, it->start, problem);
	if (sta_goodbye_hash(name, len) != it->hash)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": GOODBYE "
				 "item for '%s' has a wrong hash", di->entry, name);
	ret->entry_offset = it->start + size;
	ret->end_offset = it->end;
	return 0;
}

/* ---- listings ------------------------------------------------------------- */

static void dir_list_unref(stasync_catar_tree *t, struct dir_list *l)
{
	bool last;

	if (!l)
		return;
	pthread_mutex_lock(&t->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&t->lock);
	if (last)
		free(l);
}

static int item_by_start(const void *a, const void *b)
{
	const struct sta_goodbye_item *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The position after i in an in-order walk of the implicit tree of n
 * positions, or n at the end. */
static size_t inorder_next(size_t i, size_t n)
{
	if (2 * i + 2 < n) {
		i = 2 * i + 2;
		while (2 * i + 1 < n)
			i = 2 * i + 1;
		return i;
	}
	while (i > 0 && i % 2 == 0)
		i = (i - 1) / 2;
	return i == 0 ? n : (i - 1) / 2;
}

/* dir_list_build() — read and check the whole GOODBYE table: the items in
 * search-tree order sorted by (hash, offset), as casync lays them out, and
 * the children filling the directory from the end of its own records to
 * its GOODBYE without gap or overlap. */
static int dir_list_build(stasync_catar_tree *t, const stasync_catar_node *dir,
			  const struct dir_info *di, struct dir_list **ret, stasync_error *err)
{
	_cleanup_free_ uint8_t *piece = NULL;
	_cleanup_free_ struct dir_list *l = NULL;
	stasync_entry e;
	uint64_t meta;
	size_t n = (size_t)di->n, i, prev;
	int r;

	if (di->n > LIST_ITEMS_MAX)
		return tree_fail(t, err, -E2BIG, "directory at offset %" PRIu64 ": %" PRIu64
				 " children, more than %zu cannot be listed", di->entry, di->n,
				 LIST_ITEMS_MAX);
	/* the directory's own records end where its first child starts */
	stasync_entry_init(&e);
	r = decode_node(t, dir, &e, &meta, err);
	stasync_entry_clear(&e);
	if (r < 0)
		return r;
	meta += di->entry;

	l = malloc(sizeof(*l) + n * sizeof(l->items[0]));
	piece = malloc(TABLE_PIECE * CA_FORMAT_GOODBYE_ITEM_SIZE);
	if (!l || !piece)
		return tree_fail(t, err, -ENOMEM, "out of memory");
	l->refs = 1;
	l->entry = di->entry;
	l->end = di->end;
	l->n = n;
	for (i = 0; i < n; i += TABLE_PIECE) {
		size_t k = MIN(n - i, (size_t)TABLE_PIECE);

		r = read_at(t, piece, k * CA_FORMAT_GOODBYE_ITEM_SIZE, di->goodbye +
			    CA_FORMAT_HEADER_SIZE + i * CA_FORMAT_GOODBYE_ITEM_SIZE, err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < k; j++) {
			const uint8_t *p = piece + j * CA_FORMAT_GOODBYE_ITEM_SIZE;

			l->items[i + j].hash = le64_get(p + 16);
			r = item_bounds(t, di, i + j, le64_get(p), le64_get(p + 8),
					&l->items[i + j], err);
			if (r < 0)
				return r;
		}
	}

	/* the in-order walk starts at the leftmost position */
	prev = n;
	for (i = 0; n > 0 && 2 * i + 1 < n;)
		i = 2 * i + 1;
	for (; i < n; prev = i, i = inorder_next(i, n)) {
		const struct sta_goodbye_item *a = &l->items[prev], *b = &l->items[i];

		if (prev < n && (a->hash > b->hash || (a->hash == b->hash && a->start >= b->start)))
			return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": GOODBYE "
					 "items %zu and %zu are not in search-tree order",
					 di->entry, prev, i);
	}

	if (n > 1)
		sta_qsort(l->items, n, sizeof(l->items[0]), item_by_start);
	for (i = 0; i < n; i++) {
		uint64_t expect = i == 0 ? meta : l->items[i - 1].end;

		if (l->items[i].start != expect)
			return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": a child "
					 "starts at offset %" PRIu64 ", expected %" PRIu64,
					 di->entry, l->items[i].start, expect);
	}
	if ((n ? l->items[n - 1].end : meta) != di->goodbye)
		return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": its children "
				 "end at offset %" PRIu64 ", not at its GOODBYE (offset %" PRIu64 ")",
				 di->entry, n ? l->items[n - 1].end : meta, di->goodbye);
	*ret = TAKE_PTR(l);
	return 0;
}

/* dir_list_get() — the directory's checked child list, from the cache or
 * built; a reference the caller drops with dir_list_unref(). */
static int dir_list_get(stasync_catar_tree *t, const stasync_catar_node *dir,
			const struct dir_info *di, struct dir_list **ret, stasync_error *err)
{
	struct dir_list *l = NULL, *old = NULL;
	int r;

	pthread_mutex_lock(&t->lock);
	if (t->last && t->last->entry == di->entry && t->last->end == di->end) {
		l = t->last;
		l->refs++;
	}
	pthread_mutex_unlock(&t->lock);
	if (l) {
		*ret = l;
		return 0;
	}

	r = dir_list_build(t, dir, di, &l, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	old = t->last;
	t->last = l;
	l->refs++;      /* the cache's and the caller's */
	pthread_mutex_unlock(&t->lock);
	dir_list_unref(t, old);
	*ret = l;
	return 0;
}

/* ---- the public interface -------------------------------------------------- */

int stasync_catar_tree_new(stasync_pread_fn pread, void *ctx, uint64_t size, const char *name,
			   stasync_catar_tree **ret, stasync_error *err)
{
	uint8_t head[CA_FORMAT_ENTRY_SIZE];
	stasync_catar_tree *t;
	uint64_t ff;
	int r;

	if (!pread || !ret)
		return sta_error(err, -EINVAL, "stasync_catar_tree_new: no reader");
	t = calloc(1, sizeof(*t));
	if (!t)
		return sta_error(err, -ENOMEM, "out of memory");
	t->pread = pread;
	t->ctx = ctx;
	t->size = size;
	t->name = sta_strdup(name ? name : "archive");
	if (!t->name) {
		free(t);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&t->lock, NULL);

	if (size < CA_FORMAT_ENTRY_SIZE) {
		r = tree_fail(t, err, -EBADMSG, "%s, not a catar archive",
			      size ? "too short" : "empty");
		goto fail;
	}
	r = read_at(t, head, sizeof(head), 0, err);
	if (r < 0)
		goto fail;
	if (le64_get(head) != CA_FORMAT_ENTRY_SIZE || le64_get(head + 8) != CA_FORMAT_ENTRY) {
		r = tree_fail(t, err, -EBADMSG, "not a catar archive (it does not start with an "
			      "ENTRY record)");
		goto fail;
	}
	ff = le64_get(head + 16);
	if ((ff & ~STASYNC_FEATURES_VALID) || stasync_feature_flags_normalize(ff) != ff) {
		r = tree_fail(t, err, -EBADMSG, "invalid feature flags 0x%016" PRIx64, ff);
		goto fail;
	}
	t->feature_flags = ff;
	*ret = t;
	return 0;
fail:
	stasync_catar_tree_free(t);
	return r;
}

void stasync_catar_tree_free(stasync_catar_tree *t)
{
	if (!t)
		return;
	free(t->last);
	pthread_mutex_destroy(&t->lock);
	free(t->name);
	free(t);
}

uint64_t stasync_catar_tree_feature_flags(const stasync_catar_tree *t)
{
	return t->feature_flags;
}

int stasync_catar_tree_root(stasync_catar_tree *t, stasync_catar_node *ret, stasync_error *err)
{
	stasync_catar_node root = { 0, t->size };
	struct dir_info di;
	int r;

	r = dir_open(t, &root, &di, err);
	if (r == -ENOTDIR)
		stasync_error_clear(err);
	else if (r < 0)
		return r;
	*ret = root;
	return 0;
}

int stasync_catar_tree_entry(stasync_catar_tree *t, const stasync_catar_node *n,
			     stasync_entry *ret, uint64_t *payload_offset, stasync_error *err)
{
	uint64_t used, span;
	struct dir_info di;
	stasync_entry e;
	int r;

	if (!t || !ret)
		return sta_error(err, -EINVAL, "stasync_catar_tree_entry: no tree");
	if (!node_valid(t, n))
		return node_invalid(t, n, err);
	stasync_entry_init(&e);
	r = decode_node(t, n, &e, &used, err);
	if (r < 0)
		goto out;
	span = n->end_offset - n->entry_offset;
	switch (e.mode & S_IFMT) {
	case S_IFDIR:
		r = dir_open(t, n, &di, err);
		if (r < 0)
			goto out;
		if (di.goodbye - di.entry < used)
			r = tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": its GOODBYE "
				      "at offset %" PRIu64 " overlaps its records", n->entry_offset,
				      di.goodbye);
		break;
	case S_IFREG:
		if (used + e.size != span)
			r = tree_fail(t, err, -EBADMSG, "file at offset %" PRIu64 ": its payload "
				      "ends at offset %" PRIu64 ", not where the entry ends (%" PRIu64
				      ")", n->entry_offset, n->entry_offset + used + e.size,
				      n->end_offset);
		if (payload_offset)
			*payload_offset = n->entry_offset + used;
		break;
	default:
		if (used != span)
			r = tree_fail(t, err, -EBADMSG, "entry at offset %" PRIu64 ": its records "
				      "end at offset %" PRIu64 ", not where the entry ends (%" PRIu64
				      ")", n->entry_offset, n->entry_offset + used, n->end_offset);
		break;
	}
out:
	if (r < 0)
		stasync_entry_clear(&e);
	else
		*ret = e;
	return r;
}

int stasync_catar_tree_lookup(stasync_catar_tree *t, const stasync_catar_node *dir,
			      const char *name, stasync_catar_node *child, stasync_error *err)
{
	uint64_t stack[SEARCH_STACK];
	size_t len, top = 0;
	struct dir_info di;
	uint64_t h;
	int r;

	if (!t || !name || !child)
		return sta_error(err, -EINVAL, "stasync_catar_tree_lookup: no tree or name");
	r = dir_open(t, dir, &di, err);
	if (r < 0)
		return r;
	len = strlen(name);
	if (len >= CA_FORMAT_NAME_MAX || name_problem(name, len))
		return 0;
	h = sta_goodbye_hash(name, len);

	/* Equal hashes may sit on both sides of a node: search both. The
	 * walk visits each position once, so it ends. */
	if (di.n > 0)
		stack[top++] = 0;
	while (top > 0) {
		uint64_t i = stack[--top];
		struct sta_goodbye_item it;
		char found[CA_FORMAT_NAME_MAX];
		uint8_t p[CA_FORMAT_GOODBYE_ITEM_SIZE];

		r = read_at(t, p, sizeof(p), di.goodbye + CA_FORMAT_HEADER_SIZE +
			    i * CA_FORMAT_GOODBYE_ITEM_SIZE, err);
		if (r < 0)
			return r;
		it.hash = le64_get(p + 16);
		if (h == it.hash) {
			r = item_bounds(t, &di, (size_t)i, le64_get(p), le64_get(p + 8), &it, err);
			if (r < 0)
				return r;
			r = child_read(t, &di, &it, found, child, err);
			if (r < 0)
				return r;
			if (strcmp(found, name) == 0)
				return 1;
		}
		/* the stack holds at most two pending subtrees per level */
		if (top + 2 > SEARCH_STACK)
			return tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": GOODBYE "
					 "table too deep", di.entry);
		if (h >= it.hash && 2 * i + 2 < di.n)
			stack[top++] = 2 * i + 2;
		if (h <= it.hash && 2 * i + 1 < di.n)
			stack[top++] = 2 * i + 1;
	}
	return 0;
}

int stasync_catar_tree_list(stasync_catar_tree *t, const stasync_catar_node *dir, size_t from,
			    stasync_catar_tree_list_fn cb, void *ctx, stasync_error *err)
{
	char name[CA_FORMAT_NAME_MAX], prev[CA_FORMAT_NAME_MAX];
	struct dir_list *l = NULL;
	stasync_catar_node child;
	struct dir_info di;
	size_t i;
	int r;

	if (!t || !cb)
		return sta_error(err, -EINVAL, "stasync_catar_tree_list: no tree or callback");
	r = dir_open(t, dir, &di, err);
	if (r < 0)
		return r;
	r = dir_list_get(t, dir, &di, &l, err);
	if (r < 0)
		return r;
	if (from >= l->n) {
		r = 0;
		goto out;
	}
	/* names must strictly increase: compare with the child before */
	if (from > 0) {
		r = child_read(t, &di, &l->items[from - 1], prev, &child, err);
		if (r < 0)
			goto out;
	}
	for (i = from; i < l->n; i++) {
		r = child_read(t, &di, &l->items[i], name, &child, err);
		if (r < 0)
			goto out;
		if (i > 0 && strcmp(prev, name) >= 0) {
			r = tree_fail(t, err, -EBADMSG, "directory at offset %" PRIu64 ": children "
				      "not sorted ('%s' after '%s')", di.entry, name, prev);
			goto out;
		}
		if (cb(ctx, name, &child, i) != 0) {
			i++;
			break;
		}
		memcpy(prev, name, strlen(name) + 1);
	}
	r = (int)(i - from);
out:
	dir_list_unref(t, l);
	return r;
}
