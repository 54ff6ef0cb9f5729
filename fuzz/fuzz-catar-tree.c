/* fuzz-catar-tree — random access to a catar archive on arbitrary bytes.
 *
 * The input is an archive, read through a pread callback over memory. The
 * tree is walked from its root (a bounded number of entries, listings in
 * pages): every entry decoded, every listed child looked up by name, a
 * missing name looked up too. Nothing may crash, hang or leak, and the
 * promises hold: failures are -EBADMSG with a one-line message naming the
 * archive; a listed child is found by lookup at the same node; list
 * indexes and counts are consistent; nodes lie inside their parent; a
 * file's payload ends its node. And the tree is no stricter than the
 * streaming decoder: an archive the decoder accepts walks without error,
 * with the same number of entries. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stasync/catar.h>
#include <stasync/catar-tree.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz-input"
#define MAX_ENTRIES 400
#define PAGE 8
#define MAX_PAGES 8

struct mem {
	const uint8_t *p;
	size_t n;
};

static ssize_t mem_pread(void *ctx, void *p, size_t n, uint64_t off, stasync_error *err)
{
	const struct mem *m = ctx;
	size_t k;

	(void)err;
	if (off >= m->n)
		return 0;
	k = n < m->n - off ? n : m->n - (size_t)off;
	memcpy(p, m->p + off, k);
	return (ssize_t)k;
}

static ssize_t mem_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct mem *m = ctx;
	size_t k = n < m->n ? n : m->n;

	(void)err;
	memcpy(p, m->p, k);
	m->p += k;
	m->n -= k;
	return (ssize_t)k;
}

static void check_error(int r, const stasync_error *err)
{
	if (r != -EBADMSG || err->code != r ||
	    strncmp(err->message, NAME ": ", strlen(NAME) + 2) != 0 || strchr(err->message, '\n'))
		abort();
}

struct kid {
	char name[256];
	stasync_catar_node node;
	size_t index;
};

struct page {
	struct kid kids[PAGE];
	size_t n;
};

static int collect(void *ctx, const char *name, const stasync_catar_node *child, size_t index)
{
	struct page *pg = ctx;
	size_t len = strlen(name);

	if (pg->n >= PAGE || len == 0 || len > 255 || strchr(name, '/'))
		abort();
	memcpy(pg->kids[pg->n].name, name, len + 1);
	pg->kids[pg->n].node = *child;
	pg->kids[pg->n].index = index;
	return ++pg->n == PAGE;
}

struct walk {
	stasync_catar_tree *t;
	size_t size;
	unsigned entries;
	bool complete;          /* nothing was left out for the bounds */
	stasync_error err;
};

static int walk(struct walk *w, const stasync_catar_node *n)
{
	stasync_entry e;
	uint64_t payload = 0;
	int r;

	if (w->entries >= MAX_ENTRIES) {
		w->complete = false;
		return 0;
	}
	w->entries++;
	if (n->entry_offset >= n->end_offset || n->end_offset > w->size)
		abort();
	stasync_entry_init(&e);
	r = stasync_catar_tree_entry(w->t, n, &e, &payload, &w->err);
	if (r < 0)
		return r;
	if (S_ISREG(e.mode) && (payload < n->entry_offset || payload + e.size != n->end_offset))
		abort();
	if (S_ISDIR(e.mode)) {
		stasync_catar_node missing;
		size_t from = 0;

		r = stasync_catar_tree_lookup(w->t, n, "\x01missing\x02", &missing, &w->err);
		if (r < 0 || r > 1)
			goto out;
		for (unsigned p = 0; p < MAX_PAGES; p++) {
			struct page pg = { .n = 0 };

			r = stasync_catar_tree_list(w->t, n, from, collect, &pg, &w->err);
			if (r < 0)
				goto out;
			if ((size_t)r != pg.n)
				abort();
			if (r == 0)
				break;
			for (size_t i = 0; i < pg.n; i++) {
				const struct kid *k = &pg.kids[i];
				stasync_catar_node found;

				if (k->index != from + i || k->node.entry_offset <= n->entry_offset ||
				    k->node.end_offset > n->end_offset)
					abort();
				r = stasync_catar_tree_lookup(w->t, n, k->name, &found, &w->err);
				if (r < 0)
					goto out;
				if (r != 1 || found.entry_offset != k->node.entry_offset ||
				    found.end_offset != k->node.end_offset)
					abort();
				r = walk(w, &k->node);
				if (r < 0)
					goto out;
			}
			from += pg.n;
			if (p == MAX_PAGES - 1)
				w->complete = false;
		}
		r = 0;
	} else {
		/* not a directory: no children */
		stasync_catar_node x;
		stasync_error err;

		if (stasync_catar_tree_lookup(w->t, n, "x", &x, &err) != -ENOTDIR)
			abort();
	}
out:
	stasync_entry_clear(&e);
	return r;
}

/* The streaming decoder's verdict and its number of entries. */
static int stream(const uint8_t *data, size_t size, unsigned *entries)
{
	struct mem m = { data, size };
	stasync_catar_decoder *d;
	const stasync_entry *e;
	int r;

	*entries = 0;
	if (stasync_catar_decoder_new(mem_read, &m, NAME, &d, NULL) < 0)
		abort();
	while ((r = stasync_catar_decoder_next(d, &e, NULL)) > 0)
		if (r == STASYNC_CATAR_ENTRY)
			++*entries;
	stasync_catar_decoder_free(d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct walk w = { .size = size, .complete = true };
	stasync_catar_node root;
	unsigned stream_entries;
	int r, s;

	r = stasync_catar_tree_new(mem_pread, &m, size, NAME, &w.t, &w.err);
	if (r == 0) {
		r = stasync_catar_tree_root(w.t, &root, &w.err);
		if (r == 0 && (root.entry_offset != 0 || root.end_offset != size))
			abort();
		if (r == 0)
			r = walk(&w, &root);
		stasync_catar_tree_free(w.t);
	}
	if (r < 0)
		check_error(r, &w.err);

	s = stream(data, size, &stream_entries);
	if (s == 0 && (r != 0 || (w.complete && w.entries != stream_entries)))
		abort();
	return 0;
}
