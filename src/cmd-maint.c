/* stasync gc, verify and info — looking after a store and its indexes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The chunks of the indexes named on the command line, into `set`; the
 * digest they name chunks with (-1 when they differ). 0 or exit status 1. */
static int read_indexes(struct cli *c, stasync_chunk_set *set, uint64_t *refs, int *digest)
{
	*digest = -2;
	for (int i = 0; i < c->argc; i++) {
		stasync_error err = { 0, "" };
		stasync_index_reader *r = NULL;
		char *name = NULL;
		int fd, k;

		if (cli_index_fd_open(c, cli_strip_file_url(c->argv[i]), &fd, &name))
			return 1;
		k = stasync_index_reader_open(fd, name, &r, &err);
		if (k >= 0) {
			int d = (int)stasync_index_reader_digest_type(r);
			*digest = *digest == -2 || *digest == d ? d : -1;
			k = stasync_chunk_set_add_index(set, r, refs, &err);
		}
		stasync_index_reader_free(r);
		free(name);
		if (k < 0)
			return cli_fail(c, &err);
	}
	if (*digest == -2)
		*digest = -1;
	return 0;
}

/* The store the verb works on, local or in an S3 bucket: --store,
 * CASYNC_STORE, or default.castr beside the first index. 0 or exit
 * status 1. */
static int maint_store(struct cli *c, const char *verb, char **ret)
{
	char *derived = NULL;
	const char *s = cli_primary_store(c, c->argc > 0 ? c->argv[0] : NULL, &derived);

	if (!s)
		return cli_error(c, "out of memory");
	s = cli_strip_file_url(s);
	if (!stasync_is_s3_url(s) &&
	    (stasync_is_http_url(s) || stasync_is_ssh_remote(s) || strstr(s, "://"))) {
		int r = cli_error(c, "%s: %s works on a local store or one in an S3 bucket only", s, verb);
		free(derived);
		return r;
	}
	*ret = strdup(s);
	free(derived);
	return *ret ? 0 : cli_error(c, "out of memory");
}

static void print_removed(const char *name, void *ud)
{
	struct cli *c = ud;

	printf("%s chunk %s\n", c->dry_run ? "Would remove" : "Removed", name);
}

int cmd_gc(struct cli *c)
{
	stasync_chunk_set *keep = NULL;
	stasync_error err = { 0, "" };
	stasync_gc_stats st;
	uint64_t refs = 0;
	char *store = NULL;
	int digest, r;

	if (c->argc < 1)
		return cli_error(c, "gc needs the indexes whose chunks to keep (all of them: a chunk no index names is removed)");
	if (stasync_chunk_set_new(&keep) < 0)
		return cli_error(c, "out of memory");
	r = read_indexes(c, keep, &refs, &digest);
	if (r == 0)
		r = maint_store(c, "gc", &store);
	if (r == 0) {
		cli_info(c, "Chunk store usage: %" PRIu64 " references, %zu chunks", refs,
			 stasync_chunk_set_count(keep));
		void (*removed)(const char *, void *) = c->verbose ? print_removed : NULL;

		if ((stasync_is_s3_url(store) ?
		     stasync_s3_store_gc(store, &c->http, keep, c->dry_run, removed, c, &st, &err) :
		     stasync_store_gc(store, keep, c->dry_run, removed, c, &st, &err)) < 0)
			r = cli_fail(c, &err);
	}
	if (r == 0 && c->dry_run)
		printf("Would remove %" PRIu64 " chunks (%" PRIu64 " bytes), %" PRIu64 " chunks remaining.\n",
		       st.removed, st.bytes_removed, st.chunks - st.removed);
	else if (r == 0 && c->verbose)
		printf("Removed %" PRIu64 " chunks (%" PRIu64 " bytes), %" PRIu64 " directories, %" PRIu64 " chunks remaining.\n",
		       st.removed, st.bytes_removed, st.dirs_removed, st.chunks - st.removed);
	stasync_chunk_set_free(keep);
	free(store);
	return r;
}

struct verify_report {
	struct cli *c;
	const char *store;
};

static void print_bad(const char *name, const char *reason, void *ud)
{
	struct verify_report *v = ud;

	fprintf(stderr, "%s: %s/%s: %s%s\n", v->c->program, v->store, name, reason,
		v->c->repair && strcmp(reason, "missing") ? " (removed)" : "");
}

int cmd_verify(struct cli *c)
{
	stasync_verify_options o = { .digest = -1, .repair = c->repair, .threads = c->concurrency };
	stasync_chunk_set *only = NULL;
	stasync_error err = { 0, "" };
	stasync_verify_stats st;
	struct verify_report rep = { c, NULL };
	char *store = NULL;
	int r = 0;

	if (c->argc > 0) {
		if (stasync_chunk_set_new(&only) < 0)
			return cli_error(c, "out of memory");
		r = read_indexes(c, only, NULL, &o.digest);
		o.only = only;
	}
	if (r == 0)
		r = maint_store(c, "verify", &store);
	if (r == 0) {
		rep.store = store;
		o.bad = print_bad;
		o.ud = &rep;
		if ((stasync_is_s3_url(store) ? stasync_s3_store_verify(store, &c->http, &o, &st, &err) :
		     stasync_store_verify(store, &o, &st, &err)) < 0)
			r = cli_fail(c, &err);
	}
	if (r == 0) {
		cli_info(c, "%" PRIu64 " chunks good, %" PRIu64 " bad, %" PRIu64 " missing%s", st.checked,
			 st.bad, st.missing, c->repair ? "; the bad ones removed" : "");
		if (st.bad || st.missing)
			r = cli_error(c, "%s: %" PRIu64 " bad and %" PRIu64 " missing chunks of %" PRIu64 "%s",
				      store, st.bad, st.missing, st.checked + st.bad + st.missing,
				      c->repair && st.bad ? "; the bad ones are removed, make or fetch them again" : "");
	}
	stasync_chunk_set_free(only);
	free(store);
	return r;
}

/* ---- info ------------------------------------------------------------------------- */
struct info {
	const char *index;
	const char *kind, *what; /* as words, and as --what= names it */
	stasync_index_header h;
	stasync_digest_type digest;
	uint64_t size, chunks, unique, unique_bytes, smallest, largest;
};

struct presence {
	const char *store;
	uint64_t present;
	const char *role;       /* "store", "cache" or "seeds" */
};

/* a JSON string: quotes, backslashes and control characters escaped */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void info_print_json(const struct info *in, const struct presence *p, size_t n_p)
{
	printf("{\"index\": ");
	json_string(in->index);
	printf(", \"kind\": \"%s\", \"digest\": \"%s\"", in->what, stasync_digest_type_name(in->digest));
	printf(", \"chunk_size_min\": %" PRIu64 ", \"chunk_size_avg\": %" PRIu64
	       ", \"chunk_size_max\": %" PRIu64, in->h.chunk_size_min, in->h.chunk_size_avg,
	       in->h.chunk_size_max);
	printf(", \"size\": %" PRIu64 ", \"chunks\": %" PRIu64 ", \"unique_chunks\": %" PRIu64
	       ", \"unique_bytes\": %" PRIu64 ", \"smallest_chunk\": %" PRIu64
	       ", \"largest_chunk\": %" PRIu64, in->size, in->chunks, in->unique, in->unique_bytes,
	       in->smallest, in->largest);
	printf(", \"stores\": [");
	for (size_t i = 0; i < n_p; i++) {
		printf("%s{\"store\": ", i ? ", " : "");
		json_string(p[i].store);
		printf(", \"role\": \"%s\", \"present\": %" PRIu64 ", \"missing\": %" PRIu64 "}",
		       p[i].role, p[i].present, in->unique - p[i].present);
	}
	printf("]}\n");
}

static void info_print(const struct info *in, const struct presence *p, size_t n_p)
{
	printf("Index:          %s (%s, %s)\n", in->index, in->kind,
	       stasync_digest_type_name(in->digest));
	printf("Chunk sizes:    %" PRIu64 ":%" PRIu64 ":%" PRIu64 " (min:avg:max of the header)\n",
	       in->h.chunk_size_min, in->h.chunk_size_avg, in->h.chunk_size_max);
	printf("Size:           %" PRIu64 " bytes in %" PRIu64 " chunks", in->size, in->chunks);
	if (in->chunks)
		printf(", %" PRIu64 " to %" PRIu64 " bytes each, %" PRIu64 " on average", in->smallest,
		       in->largest, in->size / in->chunks);
	printf("\n");
	printf("Unique chunks:  %" PRIu64 ", %" PRIu64 " bytes", in->unique, in->unique_bytes);
	if (in->unique_bytes)
		printf(" (the data repeats %.2f times over)", (double)in->size / (double)in->unique_bytes);
	printf("\n");
	for (size_t i = 0; i < n_p; i++)
		printf("%-16s%s: %" PRIu64 " of %" PRIu64 " unique chunks present, %" PRIu64 " missing\n",
		       !strcmp(p[i].role, "cache") ? "In the cache:" :
		       !strcmp(p[i].role, "seeds") ? "In the seeds:" : "In store:",
		       p[i].store, p[i].present, in->unique, in->unique - p[i].present);
}

struct count_present {
	stasync_store *store;
	uint64_t present;
	stasync_error *err;
};

static int count_one(const stasync_chunk_id *id, uint64_t size, void *ud)
{
	struct count_present *cp = ud;
	int r = stasync_store_has(cp->store, id, cp->err);

	(void)size;
	if (r < 0)
		return r;
	cp->present += (uint64_t)r;
	return 0;
}

int cmd_info(struct cli *c)
{
	const char *path = c->argc > 0 ? cli_strip_file_url(c->argv[0]) : NULL;
	stasync_index_reader *r = NULL;
	stasync_chunk_set *set = NULL;
	stasync_store **stores = NULL;
	size_t n_stores = 0, n_p = 0;
	struct presence *p = NULL;
	stasync_error err = { 0, "" };
	stasync_index_item item;
	struct info in = { 0 };
	char *name = NULL;
	int fd, k, rc = 0;

	if (c->argc != 1)
		return cli_error(c, "info needs one index (.caibx or .caidx)");
	if (cli_index_fd_open(c, path, &fd, &name))
		return 1;
	in.index = name;
	/* --seed: cut the seeds against this index, as extract would */
	if (c->n_seeds && cli_seed_open(c, fd, name, NULL, cli_what_of(c, path) != WHAT_BLOB_INDEX)) {
		close(fd);
		free(name);
		return 1;
	}
	if (stasync_index_reader_open(fd, name, &r, &err) < 0) {
		free(name);
		return cli_fail(c, &err);
	}
	in.h = *stasync_index_reader_header(r);
	in.digest = stasync_index_reader_digest_type(r);
	/* the two kinds differ only in their suffix (or --what=) */
	switch (cli_what_of(c, path)) {
	case WHAT_BLOB_INDEX:
		in.kind = "blob index";
		in.what = "blob-index";
		break;
	case WHAT_ARCHIVE_INDEX:
		in.kind = "archive index";
		in.what = "archive-index";
		break;
	default:
		in.kind = "index";
		in.what = "index";
	}
	if (stasync_chunk_set_new(&set) < 0) {
		rc = cli_error(c, "out of memory");
		goto out;
	}
	while ((k = stasync_index_reader_next(r, &item, &err)) > 0) {
		in.size += item.size;
		if (in.chunks++ == 0 || item.size < in.smallest)
			in.smallest = item.size;
		if (item.size > in.largest)
			in.largest = item.size;
		k = stasync_chunk_set_add(set, &item.id, item.size);
		if (k < 0) {
			rc = cli_error(c, "out of memory");
			goto out;
		}
		if (k > 0) {
			in.unique++;
			in.unique_bytes += item.size;
		}
	}
	if (k < 0) {
		rc = cli_fail(c, &err);
		goto out;
	}

	/* how much of it the stores and the cache hold */
	rc = cli_stores_open(c, path, 0, &stores, &n_stores);
	if (rc)
		goto out;
	p = calloc(n_stores + 2, sizeof(*p));
	if (!p) {
		rc = cli_error(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i <= n_stores; i++) {
		stasync_store *s = i < n_stores ? stores[i] : c->cache_store;
		struct count_present cp = { s, 0, &err };

		if (!s)
			continue;
		if (stasync_chunk_set_each(set, count_one, &cp) < 0) {
			rc = cli_fail(c, &err);
			goto out;
		}
		p[n_p++] = (struct presence){ stasync_store_locator(s), cp.present,
					      i == n_stores ? "cache" : "store" };
	}
	if (c->seed) {
		uint64_t found, bytes;

		stasync_seed_found(c->seed, &found, &bytes);
		p[n_p++] = (struct presence){ c->n_seeds == 1 ? c->seeds[0] : "--seed", found, "seeds" };
	}
	if (c->json)
		info_print_json(&in, p, n_p);
	else
		info_print(&in, p, n_p);
out:
	free(p);
	cli_seed_close(c);
	cli_stores_free(stores, n_stores);
	stasync_chunk_set_free(set);
	stasync_index_reader_free(r);
	free(name);
	return rc;
}
