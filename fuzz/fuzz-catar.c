/* fuzz-catar — the catar decoder on arbitrary bytes.
 *
 * The input is an archive. It is decoded twice from memory: once handed
 * over in large reads with payloads read in 4 KiB pieces, once in small
 * reads of a size derived from the input with payloads read in odd
 * pieces or skipped. Nothing may crash, hang or leak, and the decoder
 * must keep its promises: both runs agree (result, message, events,
 * bytes consumed), failures are -EBADMSG with a one-line message naming
 * the archive, depth and path follow the events, names are sorted,
 * payloads have their announced size, and a clean end comes only after
 * the root's end, at exactly the end of the input. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stasync/catar.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz-input"

struct mem {
	const uint8_t *p;
	size_t n, pos, chunk;
	bool ended;
};

static ssize_t mem_read(void *ctx, void *p, size_t n, stasync_error *err)
{
	struct mem *m = ctx;
	size_t k = m->n - m->pos;

	(void)err;
	/* Asked again after saying "end": the decoder must remember it. */
	if (m->ended)
		abort();
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	if (k)
		memcpy(p, m->p + m->pos, k);
	m->pos += k;
	if (k == 0)
		m->ended = true;
	return (ssize_t)k;
}

struct outcome {
	int r;
	char message[STASYNC_ERROR_MESSAGE_MAX];
	uint64_t events, offset, payload_bytes;
};

static void check_entry(const stasync_entry *e)
{
	switch (e->mode & S_IFMT) {
	case S_IFDIR: case S_IFREG: case S_IFLNK: case S_IFBLK:
	case S_IFCHR: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		abort();
	}
	if (S_ISLNK(e->mode) != (e->symlink != NULL) || (e->symlink && !e->symlink[0]))
		abort();
	for (size_t i = 1; i < e->n_xattrs; i++)
		if (strcmp(e->xattrs[i - 1].name, e->xattrs[i].name) >= 0)
			abort();
	if ((e->n_acl_user || e->n_acl_group) && e->acl_group_obj == STASYNC_ACL_NONE)
		abort();
}

/* run() — decode once; `small` picks the second way of reading. */
static void run(const uint8_t *data, size_t size, bool small, size_t chunk, struct outcome *o)
{
	struct mem m = { .p = data, .n = size, .chunk = small ? chunk : 0 };
	stasync_catar_decoder *d = NULL;
	stasync_error err = { 0, "" };
	const stasync_entry *e;
	uint8_t buf[4096];
	unsigned open = 0;
	uint64_t last_offset = 0;
	int r;

	*o = (struct outcome) { 0 };
	if (stasync_catar_decoder_new(mem_read, &m, NAME, &d, &err) < 0)
		abort();
	while ((r = stasync_catar_decoder_next(d, &e, &err)) > 0) {
		const char *path = stasync_catar_decoder_path(d);
		const char *name = stasync_catar_decoder_name(d);
		const char *slash = strrchr(path, '/');
		uint64_t off = stasync_catar_decoder_offset(d);

		o->events++;
		if (off < last_offset || off > size)
			abort();
		last_offset = off;
		/* the root has no name; every other entry's is its path's tail */
		if (stasync_catar_decoder_depth(d) == 0 ? name || path[0] :
		    !name || strcmp(name, slash ? slash + 1 : path) != 0)
			abort();
		if (r == STASYNC_CATAR_DIR_END) {
			if (open == 0 || stasync_catar_decoder_depth(d) != --open || e)
				abort();
			continue;
		}
		if (r != STASYNC_CATAR_ENTRY || !e || stasync_catar_decoder_depth(d) != open)
			abort();
		/* after the root, entries only come inside an open directory */
		if (o->events > 1 && open == 0)
			abort();
		check_entry(e);
		if (S_ISDIR(e->mode))
			open++;
		if (S_ISREG(e->mode) && (!small || chunk % 3 != 0)) {
			size_t piece = small ? 1 + chunk % 7 : sizeof(buf);
			uint64_t total = 0;
			ssize_t k;

			while ((k = stasync_catar_decoder_read_payload(d, buf, piece, &err)) > 0) {
				if ((size_t)k > piece)
					abort();
				total += (uint64_t)k;
			}
			if (k < 0) {
				r = (int)k;
				break;
			}
			if (total != e->size)
				abort();
			o->payload_bytes += total;
		} else if (!S_ISREG(e->mode)) {
			if (stasync_catar_decoder_read_payload(d, buf, 1, NULL) != -EINVAL)
				abort();
		}
	}
	o->r = r;
	o->offset = stasync_catar_decoder_offset(d);
	if (r < 0) {
		/* memory never fails to read: every refusal is about the bytes */
		if (r != -EBADMSG || err.code != r || strncmp(err.message, NAME ": ", 12) != 0 ||
		    strchr(err.message, '\n'))
			abort();
		memcpy(o->message, err.message, sizeof(o->message));
		/* and it sticks */
		if (stasync_catar_decoder_next(d, &e, NULL) != r)
			abort();
	} else {
		if (open != 0 || o->events == 0 || o->offset != size)
			abort();
		if (stasync_catar_decoder_next(d, &e, &err) != 0)
			abort();
	}
	stasync_catar_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	size_t chunk = 1;

	for (size_t i = 0; i < size && i < 64; i++)
		chunk = chunk * 31 + data[i];
	chunk = 1 + chunk % 97;

	run(data, size, false, 0, &a);
	run(data, size, true, chunk, &b);
	/* how the bytes arrive changes nothing; payloads skipped or read
	 * give the same verdict */
	if (a.r != b.r || strcmp(a.message, b.message) != 0 || a.events != b.events ||
	    a.offset != b.offset)
		abort();
	return 0;
}
