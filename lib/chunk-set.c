/* A set of chunk ids: open addressing, at most half full. The ids are
 * digests, so their first bytes serve as the hash. */
#include "chunk-set.h"
#include "util.h"

struct slot {
	stasync_chunk_id id;
	uint64_t size;
	uint64_t value;  /* the library's own use (a seed's location) */
	bool used;
};

struct stasync_chunk_set {
	struct slot *slots;
	size_t n, size; /* size: a power of two, or 0 */
};

int stasync_chunk_set_new(stasync_chunk_set **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

void stasync_chunk_set_free(stasync_chunk_set *s)
{
	if (!s)
		return;
	free(s->slots);
	free(s);
}

static struct slot *find(const stasync_chunk_set *s, const stasync_chunk_id *id)
{
	size_t mask = s->size - 1;

	for (size_t i = le64_get(id->bytes) & mask;; i = (i + 1) & mask)
		if (!s->slots[i].used || memcmp(&s->slots[i].id, id, sizeof(*id)) == 0)
			return &s->slots[i];
}

static int grow(stasync_chunk_set *s)
{
	size_t size = s->size ? 2 * s->size : 1024;
	struct slot *old = s->slots, *t = calloc(size, sizeof(*t));
	size_t old_size = s->size;

	if (!t)
		return -ENOMEM;
	s->slots = t;
	s->size = size;
	for (size_t k = 0; k < old_size; k++)
		if (old[k].used)
			*find(s, &old[k].id) = old[k];
	free(old);
	return 0;
}

int sta_chunk_set_put(stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t size,
		      uint64_t value)
{
	struct slot *e;

	if (2 * (s->n + 1) > s->size && grow(s) < 0)
		return -ENOMEM;
	e = find(s, id);
	if (e->used)
		return 0;
	*e = (struct slot){ *id, size, value, true };
	s->n++;
	return 1;
}

int stasync_chunk_set_add(stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t size)
{
	return sta_chunk_set_put(s, id, size, 0);
}

bool sta_chunk_set_get(const stasync_chunk_set *s, const stasync_chunk_id *id, uint64_t *size,
		       uint64_t *value)
{
	const struct slot *e;

	if (!s->size || !(e = find(s, id))->used)
		return false;
	*size = e->size;
	*value = e->value;
	return true;
}

bool stasync_chunk_set_has(const stasync_chunk_set *s, const stasync_chunk_id *id)
{
	return s->size && find(s, id)->used;
}

size_t stasync_chunk_set_count(const stasync_chunk_set *s)
{
	return s->n;
}

int stasync_chunk_set_each(const stasync_chunk_set *s,
			   int (*fn)(const stasync_chunk_id *id, uint64_t size, void *ud), void *ud)
{
	for (size_t i = 0; i < s->size; i++)
		if (s->slots[i].used) {
			int r = fn(&s->slots[i].id, s->slots[i].size, ud);
			if (r < 0)
				return r;
		}
	return 0;
}

int stasync_chunk_set_add_index(stasync_chunk_set *s, stasync_index_reader *r, uint64_t *refs,
				stasync_error *err)
{
	stasync_index_item item;
	int k;

	while ((k = stasync_index_reader_next(r, &item, err)) > 0) {
		if (stasync_chunk_set_add(s, &item.id, item.size) < 0)
			return sta_error(err, -ENOMEM, "out of memory");
		if (refs)
			(*refs)++;
	}
	return k;
}
