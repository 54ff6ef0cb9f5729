/* Garbage collection and verification of a local chunk store. Both walk
 * the store's <4 hex>/ directories and look only at chunk files:
 * <64 hex>.cacnk (zstd, xz or gzip) or <64 hex> (stored as is, which casync
 * reads too)
 * under the directory of their first four digits. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <stasync/chunker.h>
#include <stasync/maint.h>
#include <stasync/store.h>
#include "format.h"
#include "store-maint.h"
#include "store.h"
#include "util.h"

/* ---- walking ----------------------------------------------------------------- */
/* A chunk file's name in directory `dir` (4 hex digits): its id. */
static bool chunk_name(const char *dir, const char *name, stasync_chunk_id *id, bool *compressed)
{
	size_t n = strlen(name), sfx = strlen(CA_CHUNK_SUFFIX);

	if (n == 64 + sfx && strcmp(name + 64, CA_CHUNK_SUFFIX) == 0)
		*compressed = true;
	else if (n == 64)
		*compressed = false;
	else
		return false;
	if (!sta_is_hex(name, 64) || strlen(dir) != 4 || memcmp(name, dir, 4) != 0)
		return false;
	char hex[STASYNC_DIGEST_HEX_SIZE];
	memcpy(hex, name, 64);
	hex[64] = 0;
	return stasync_chunk_id_parse(hex, id) == 0;
}

bool sta_chunk_file_name(const char *rel, stasync_chunk_id *id, bool *compressed)
{
	char dir[5];

	if (strlen(rel) < 5 || rel[4] != '/')
		return false;
	memcpy(dir, rel, 4);
	dir[4] = 0;
	return chunk_name(dir, rel + 5, id, compressed);
}

struct walk {
	const char *store;
	int (*fn)(int dir_fd, const char *dir, const char *name, const stasync_chunk_id *id,
		  bool compressed, void *ud);
	void *ud;
	stasync_error *err;
};

static int walk_dir(struct walk *w, int store_fd, const char *dir)
{
	int fd = openat(store_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return sta_error(w->err, -errno, "%s/%s: cannot open: %s", w->store, dir,
				 stasync_strerror(-errno));
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return sta_error(w->err, r, "%s/%s: cannot read: %s", w->store, dir, stasync_strerror(r));
	}
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		stasync_chunk_id id;
		bool compressed;

		if (chunk_name(dir, de->d_name, &id, &compressed))
			r = w->fn(dirfd(d), dir, de->d_name, &id, compressed, w->ud);
	}
	if (r >= 0 && errno)
		r = sta_error(w->err, -errno, "%s/%s: cannot read: %s", w->store, dir,
			      stasync_strerror(-errno));
	closedir(d);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* fn() for every chunk file of the store; the directories in name order,
 * so that what is reported comes out in a stable order. */
static int walk_store(struct walk *w, int store_fd)
{
	_cleanup_close_ int fd = dup(store_fd);
	char (*dirs)[5] = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0 || !(d = fdopendir(fd)))
		return sta_error(w->err, -errno, "%s: cannot read: %s", w->store, stasync_strerror(-errno));
	TAKE_FD(fd);
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (strlen(de->d_name) != 4 || !sta_is_hex(de->d_name, 4))
			continue;
		if (n == cap) {
			void *t = realloc(dirs, (cap = cap ? 2 * cap : 256) * sizeof(*dirs));
			if (!t) {
				r = sta_error(w->err, -ENOMEM, "out of memory");
				break;
			}
			dirs = t;
		}
		memcpy(dirs[n++], de->d_name, 5);
	}
	if (r >= 0 && errno)
		r = sta_error(w->err, -errno, "%s: cannot read: %s", w->store, stasync_strerror(-errno));
	closedir(d);
	sta_qsort(dirs, n, sizeof(*dirs), cmp_str);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct stat st;

		/* only directories: a symlink named like one is not followed */
		if (fstatat(store_fd, dirs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			r = walk_dir(w, store_fd, dirs[i]);
	}
	free(dirs);
	return r;
}

static int open_store(const char *dir, stasync_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sta_error(err, -errno, "cannot open store %s: %s", dir, stasync_strerror(-errno));
	return fd;
}

/* ---- gc ---------------------------------------------------------------------- */
struct gc {
	const stasync_chunk_set *keep;
	bool dry_run;
	void (*removed)(const char *name, void *ud);
	void *ud;
	stasync_gc_stats *st;
	const char *store;
	stasync_error *err;
};

static int gc_one(int dir_fd, const char *dir, const char *name, const stasync_chunk_id *id,
		  bool compressed, void *ud)
{
	struct gc *g = ud;
	char rel[80];
	struct stat st;

	(void)compressed;
	g->st->chunks++;
	if (stasync_chunk_set_has(g->keep, id))
		return 0;
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		g->st->bytes_removed += (uint64_t)st.st_blocks * 512;
	if (!g->dry_run && unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
		return sta_error(g->err, -errno, "%s/%s: cannot remove: %s", g->store, rel,
				 stasync_strerror(-errno));
	g->st->removed++;
	if (g->removed)
		g->removed(rel, g->ud);
	return 0;
}

int stasync_store_gc(const char *dir, const stasync_chunk_set *keep, bool dry_run,
		     void (*removed)(const char *name, void *ud), void *ud,
		     stasync_gc_stats *st, stasync_error *err)
{
	struct gc g = { keep, dry_run, removed, ud, st, dir, err };
	struct walk w = { dir, gc_one, &g, err };
	_cleanup_close_ int fd = open_store(dir, err);
	int r;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return fd;
	r = walk_store(&w, fd);
	if (r < 0 || dry_run)
		return r;
	/* The chunk directories now empty; rmdir() leaves the others. */
	for (unsigned i = 0; i < 65536; i++) {
		char name[5];

		snprintf(name, sizeof(name), "%04x", i);
		if (unlinkat(fd, name, AT_REMOVEDIR) == 0)
			st->dirs_removed++;
	}
	return 0;
}

/* ---- verify ------------------------------------------------------------------ */
int sta_chunk_files_add(struct sta_chunk_file **files, size_t *n, size_t *cap,
			const char *name, const stasync_chunk_id *id, bool compressed, bool present,
			uint64_t size)
{
	struct sta_chunk_file *f;

	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 1024;
		void *t = realloc(*files, c * sizeof(**files));

		if (!t)
			return -ENOMEM;
		*files = t;
		*cap = c;
	}
	f = &(*files)[(*n)++];
	*f = (struct sta_chunk_file){ .id = *id, .compressed = compressed, .present = present,
				      .size = size };
	snprintf(f->name, sizeof(f->name), "%s", name);
	return 0;
}

struct local_verify {
	const char *store;
	int fd;
	struct sta_chunk_file *files;
	size_t n, cap;
	stasync_error *err;
};

static int local_add(struct local_verify *v, const char *dir, const char *name,
		     const stasync_chunk_id *id, bool compressed, bool present, uint64_t size)
{
	char rel[80];

	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	if (sta_chunk_files_add(&v->files, &v->n, &v->cap, rel, id, compressed, present, size) < 0)
		return sta_error(v->err, -ENOMEM, "out of memory");
	return 0;
}

static int listed(int dir_fd, const char *dir, const char *name, const stasync_chunk_id *id,
		  bool compressed, void *ud)
{
	(void)dir_fd;
	return local_add(ud, dir, name, id, compressed, true, 0);
}

/* A chunk asked for by its index: the file it is in, or missing. */
static int wanted(const stasync_chunk_id *id, uint64_t size, void *ud)
{
	struct local_verify *v = ud;
	char hex[STASYNC_DIGEST_HEX_SIZE], dir[5], name[72];

	stasync_chunk_id_format(id, hex);
	memcpy(dir, hex, 4);
	dir[4] = 0;
	for (int compressed = 1; compressed >= 0; compressed--) {
		struct stat st;
		char rel[80];

		snprintf(name, sizeof(name), "%s%s", hex, compressed ? CA_CHUNK_SUFFIX : "");
		snprintf(rel, sizeof(rel), "%s/%s", dir, name);
		if (fstatat(v->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return local_add(v, dir, name, id, compressed, true, size);
	}
	snprintf(name, sizeof(name), "%s%s", hex, CA_CHUNK_SUFFIX);
	return local_add(v, dir, name, id, true, false, size);
}

static int reserve(uint8_t **p, size_t *have, size_t n)
{
	void *t;

	if (*have >= n)
		return 0;
	t = realloc(*p, n);
	if (!t)
		return -ENOMEM;
	*p = t;
	*have = n;
	return 0;
}

static char out_of_memory[] = "out of memory";

static char *dup_msg(const char *s)
{
	char *p = strdup(s);

	return p ? p : out_of_memory;
}

char *sta_verify_message(const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&msg, fmt, ap);
	va_end(ap);
	return k < 0 ? out_of_memory : msg;
}

static char *errno_msg(const char *what, int r)
{
	return sta_verify_message("%s: %s", what, stasync_strerror(r));
}

static char *local_read(void *ctx, const struct sta_chunk_file *f, uint8_t **buf, size_t *have,
			size_t *got)
{
	struct local_verify *v = ctx;
	_cleanup_close_ int fd = openat(v->fd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	ssize_t k;

	if (fd < 0 || fstat(fd, &st) < 0)
		return errno_msg("cannot read", -errno);
	if (!S_ISREG(st.st_mode))
		return dup_msg("not a regular file");
	if ((uint64_t)st.st_size > sta_chunk_stored_max(STASYNC_CHUNK_SIZE_LIMIT_MAX))
		return dup_msg("larger than any chunk can be");
	if (reserve(buf, have, (size_t)st.st_size + 1) < 0)
		return dup_msg("out of memory");
	k = sta_read_full(fd, *buf, (size_t)st.st_size + 1);
	if (k < 0)
		return errno_msg("cannot read", (int)k);
	*got = (size_t)k;
	return NULL;
}

static int local_remove(void *ctx, struct sta_chunk_file *const *bad, size_t n,
			stasync_error *err)
{
	struct local_verify *v = ctx;
	int removed = 0;

	(void)err;
	for (size_t i = 0; i < n; i++)
		if (unlinkat(v->fd, bad[i]->name, 0) == 0)
			removed++;
	return removed;
}

/* ---- checking, whatever the store ---------------------------------------------- */
struct verify {
	const stasync_verify_options *o;
	const struct sta_verify_source *src;
	struct sta_chunk_file *files;
	size_t n;
	pthread_mutex_t lock;
	size_t next;            /* under lock: the next file for a worker */
};

struct worker {
	struct verify *v;
	stasync_codec *codec;
	uint8_t *data, *out;
	size_t data_size, out_size;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct sta_chunk_file *)a)->name,
		      ((const struct sta_chunk_file *)b)->name);
}

/* Check one chunk file; NULL when good, else what is wrong. */
static char *check(struct worker *k, struct sta_chunk_file *f)
{
	const stasync_verify_options *o = k->v->o;
	stasync_error e = { 0, "" };
	size_t size, got = 0;
	char *msg;
	int r;

	if (!f->present)
		return dup_msg("missing");
	msg = k->v->src->read(k->v->src->ctx, f, &k->data, &k->data_size, &got);
	if (msg)
		return msg;
	if (f->size)
		size = (size_t)f->size;
	else if (f->compressed)
		size = sta_chunk_inflated_size(k->codec, k->data, got, STASYNC_CHUNK_SIZE_LIMIT_MAX);
	else
		size = got;
	if (size > STASYNC_CHUNK_SIZE_LIMIT_MAX)
		return dup_msg("inflates past the largest chunk size");
	if (reserve(&k->out, &k->out_size, MAX(size, 1)) < 0)
		return dup_msg("out of memory");
	for (int t = 0; t < 2; t++) {
		stasync_digest_type type = o->digest >= 0 ? (stasync_digest_type)o->digest
				       : t == 0 ? STASYNC_DIGEST_SHA512_256 : STASYNC_DIGEST_SHA256;

		stasync_error_clear(&e);
		r = stasync_chunk_decode(k->codec, k->data, got, f->compressed, &f->id, type,
					 k->out, size, "chunk", &e);
		/* only a digest mismatch is worth a second try with the other digest */
		if (r == 0 || o->digest >= 0 || !strstr(e.message, "does not match"))
			break;
	}
	if (r == 0)
		return NULL;
	/* the message starts with the "chunk: " we gave as its name */
	return dup_msg(strncmp(e.message, "chunk: ", 7) == 0 ? e.message + 7 : e.message);
}

static void *verify_worker(void *arg)
{
	struct worker *k = arg;
	struct verify *v = k->v;

	for (;;) {
		struct sta_chunk_file *f;

		pthread_mutex_lock(&v->lock);
		f = v->next < v->n ? &v->files[v->next++] : NULL;
		pthread_mutex_unlock(&v->lock);
		if (!f)
			break;
		f->bad = check(k, f);
	}
	return NULL;
}

void sta_chunk_files_free(struct sta_chunk_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (files[i].bad != out_of_memory)
			free(files[i].bad);
	free(files);
}

int sta_verify_files(struct sta_chunk_file *files, size_t n, const struct sta_verify_source *src,
		     const stasync_verify_options *o, stasync_verify_stats *st, stasync_error *err)
{
	struct verify v = { .o = o, .src = src, .files = files, .n = n };
	unsigned n_threads = o->threads ? o->threads : src->threads ? src->threads : sta_cpu_count(8);
	struct sta_chunk_file **bad = NULL;
	struct worker *workers = NULL;
	pthread_t *threads = NULL;
	unsigned started = 0;
	size_t n_bad = 0;
	int r = 0;

	memset(st, 0, sizeof(*st));
	sta_qsort(files, n, sizeof(*files), by_name);
	n_threads = (unsigned)MAX(1, MIN((size_t)n_threads, n));
	workers = calloc(n_threads, sizeof(*workers));
	threads = calloc(n_threads, sizeof(*threads));
	bad = calloc(MAX(n, 1), sizeof(*bad));
	if (!workers || !threads || !bad) {
		r = sta_error(err, -ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&v.lock, NULL);
	for (unsigned i = 0; i < n_threads; i++) {
		struct worker *k = &workers[i];

		k->v = &v;
		if (stasync_codec_new(&k->codec) < 0) {
			r = sta_error(err, -ENOMEM, "out of memory");
			break;
		}
		r = sta_thread_start(&threads[i], STA_STACK_WORK, verify_worker, k);
		if (r < 0) {
			r = sta_error(err, r, "cannot start a thread: %s", stasync_strerror(r));
			break;
		}
		started++;
	}
	if (r >= 0 && started == 0)
		verify_worker(&workers[0]);
	/* with some threads started, they finish the work even if others failed */
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&v.lock);
	if (started == 0 && r < 0)
		goto out;
	r = 0;

	for (size_t i = 0; i < n; i++) {
		struct sta_chunk_file *f = &files[i];

		if (!f->bad)
			st->checked++;
		else if (!f->present)
			st->missing++;
		else {
			st->bad++;
			bad[n_bad++] = f;
		}
	}
	if (o->repair && n_bad > 0) {
		r = src->remove(src->ctx, bad, n_bad, err);
		if (r >= 0) {
			st->removed = (uint64_t)r;
			r = 0;
		}
	}
	for (size_t i = 0; o->bad && i < n; i++)
		if (files[i].bad)
			o->bad(files[i].name, files[i].bad, o->ud);
out:
	for (unsigned i = 0; workers && i < n_threads; i++) {
		stasync_codec_free(workers[i].codec);
		free(workers[i].data);
		free(workers[i].out);
	}
	free(workers);
	free(threads);
	free(bad);
	return r;
}

int stasync_store_verify(const char *dir, const stasync_verify_options *o,
			 stasync_verify_stats *st, stasync_error *err)
{
	struct local_verify v = { .store = dir, .err = err };
	struct sta_verify_source src = { local_read, local_remove, &v, 0 };
	int r;

	memset(st, 0, sizeof(*st));
	v.fd = open_store(dir, err);
	if (v.fd < 0)
		return v.fd;
	if (o->only)
		r = stasync_chunk_set_each(o->only, wanted, &v);
	else {
		struct walk w = { dir, listed, &v, err };
		r = walk_store(&w, v.fd);
	}
	if (r >= 0)
		r = sta_verify_files(v.files, v.n, &src, o, st, err);
	sta_chunk_files_free(v.files, v.n);
	close(v.fd);
	return r;
}
