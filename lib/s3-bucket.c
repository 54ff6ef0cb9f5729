/* Listing and deleting the chunk objects of a store in a bucket: see
 * s3-bucket.h. The XML both speak is read and written by s3-xml.c. */
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "s3-bucket.h"
#include "s3-xml.h"
#include "store-maint.h"
#include "util.h"

/* A page of a listing is some hundreds of KiB; an answer past this is
 * not one. */
#define S3_ANSWER_MAX (16u << 20)

static int to_buf(void *ctx, uint64_t offset, const void *p, size_t n)
{
	struct sta_buf *b = ctx;

	if (offset == 0)   /* a retry starts again */
		sta_buf_reset(b);
	return sta_buf_append(b, p, n);
}

/* s percent-encoded for a query string: all but RFC 3986's unreserved
 * characters, as the signature's canonical form wants it. */
static int query_escape(struct sta_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s && r >= 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~')
			r = sta_buf_append(b, &ch, 1);
		else
			r = sta_buf_append(b, (char[3]){ '%', hex[ch >> 4], hex[ch & 15] }, 3);
	}
	return r;
}

/* The keys of the store's objects start with this ("" for a bucket's
 * root, else "PREFIX/"). */
static char *key_prefix(const sta_s3_store_url *s)
{
	const char *p = s->url + s->bucket_end;
	char *k;

	while (*p == '/')
		p++;
	if (!*p)
		return strdup("");
	return asprintf(&k, "%s/", p) < 0 ? NULL : k;
}

struct list_page {
	const char *prefix;
	size_t prefix_len;
	sta_s3_chunk_fn fn;
	void *ud;
};

static int list_one(const char *key, uint64_t size, void *ud)
{
	struct list_page *l = ud;
	stasync_chunk_id id;
	bool compressed;

	if (strncmp(key, l->prefix, l->prefix_len) != 0 ||
	    !sta_chunk_file_name(key + l->prefix_len, &id, &compressed))
		return 0;
	return l->fn(&id, compressed, size, key + l->prefix_len, l->ud);
}

static int run(sta_http *h, const sta_http_request *req, stasync_error *err)
{
	sta_http_result res;
	int r = sta_http_run(h, req, &res);

	if (r < 0)
		*err = res.err;
	return r;
}

int sta_s3_list_chunks(sta_http *h, const sta_s3_store_url *s, unsigned max_pages,
		       sta_s3_chunk_fn fn, void *ud, bool *complete, unsigned *pages,
		       stasync_error *err)
{
	_cleanup_free_ char *prefix = key_prefix(s), *token = NULL;
	struct sta_buf url = { .limit = 64 * 1024 }, body = { .limit = S3_ANSWER_MAX };
	struct list_page l = { prefix, 0, fn, ud };
	bool truncated = true;
	unsigned n = 0;
	int r = 0;

	if (!prefix)
		return sta_error(err, -ENOMEM, "out of memory");
	l.prefix_len = strlen(prefix);
	while (truncated && (max_pages == 0 || n < max_pages)) {
		/* the parameters in the order the signature sorts them */
		sta_buf_reset(&url);
		if (sta_buf_append(&url, s->url, s->bucket_end) < 0 ||
		    sta_buf_append(&url, "?", 1) < 0 ||
		    (token && (sta_buf_append(&url, "continuation-token=", 19) < 0 ||
			       query_escape(&url, token) < 0 || sta_buf_append(&url, "&", 1) < 0)) ||
		    sta_buf_append(&url, "list-type=2", 11) < 0 ||
		    (*prefix && (sta_buf_append(&url, "&prefix=", 8) < 0 ||
				 query_escape(&url, prefix) < 0)) ||
		    sta_buf_append(&url, "", 1) < 0) {
			r = sta_error(err, -ENOMEM, "out of memory");
			break;
		}
		sta_buf_reset(&body);
		r = run(h, &(sta_http_request){
			.method = STA_HTTP_GET, .url = (char *)url.data, .name = s->name,
			.limit = S3_ANSWER_MAX, .write = to_buf, .ctx = &body,
		}, err);
		/* (an empty prefix lists as empty: only the bucket can be missing) */
		if (r == -ENOENT)
			r = sta_error(err, -ENXIO, "%s: no such bucket (%.*s)", s->name,
				      (int)s->bucket_end, s->url);
		if (r < 0)
			break;
		n++;
		free(token);
		token = NULL;
		r = sta_s3_xml_list(body.data, body.len, list_one, &l, &truncated, &token, err);
		if (r < 0)
			break;
		if (truncated && !token) {
			r = sta_error(err, -EBADMSG, "%s: a listing cut short with no way to go on",
				      s->name);
			break;
		}
	}
	sta_buf_free(&url);
	sta_buf_free(&body);
	if (complete)
		*complete = r == 0 && !truncated;
	if (pages)
		*pages = n;
	return r;
}

/* Content-MD5: the body's MD5 in base64 (DeleteObjects wants it). */
static void content_md5(const void *p, size_t n, char out[25])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char d[16];
	size_t o = 0;

	gcry_md_hash_buffer(GCRY_MD_MD5, d, p, n);
	for (size_t i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < 16 ? (uint32_t)d[i + 1] << 8 : 0) |
			     (i + 2 < 16 ? d[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < 16 ? b64[v & 63] : '=';
	}
	out[o] = 0;
}

struct delete_failure {
	const sta_s3_store_url *s;
	stasync_error *err;
	int r;
};

static int delete_failed(const char *key, const char *code, const char *message, void *ud)
{
	struct delete_failure *f = ud;

	if (f->r == 0)
		f->r = sta_error(f->err, -EIO, "%s: cannot delete %s: %s%s%s", f->s->name, key, code,
				 *message ? ": " : "", message);
	return 0;
}

static int delete_batch(sta_http *h, const sta_s3_store_url *s, const char *prefix,
			const char *const *names, size_t n, stasync_error *err)
{
	_cleanup_free_ char *url = NULL, *body = NULL;
	struct sta_buf answer = { .limit = S3_ANSWER_MAX };
	struct delete_failure f = { s, err, 0 };
	const char **keys = calloc(n, sizeof(*keys));
	char md5[25], header[64];
	size_t body_size;
	int r = 0;

	if (!keys || asprintf(&url, "%.*s?delete=", (int)s->bucket_end, s->url) < 0) {
		free(keys);
		return sta_error(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		if (asprintf((char **)&keys[i], "%s%s", prefix, names[i]) < 0) {
			keys[i] = NULL;
			r = sta_error(err, -ENOMEM, "out of memory");
		}
	if (r == 0)
		r = sta_s3_xml_delete_request(keys, n, &body, &body_size, err);
	if (r == 0) {
		content_md5(body, body_size, md5);
		snprintf(header, sizeof(header), "Content-MD5: %s", md5);
		r = run(h, &(sta_http_request){
			.method = STA_HTTP_POST, .url = url, .name = s->name, .limit = S3_ANSWER_MAX,
			.write = to_buf, .ctx = &answer, .body = body, .body_size = body_size,
			.header = header,
		}, err);
	}
	if (r == 0)
		r = sta_s3_xml_delete_result(answer.data, answer.len, delete_failed, &f, err);
	if (r == 0)
		r = f.r;
	for (size_t i = 0; i < n; i++)
		free((char *)keys[i]);
	free(keys);
	sta_buf_free(&answer);
	return r;
}

int sta_s3_delete(sta_http *h, const sta_s3_store_url *s, const char *const *names, size_t n,
		  void (*deleted)(const char *name, void *ud), void *ud, stasync_error *err)
{
	_cleanup_free_ char *prefix = key_prefix(s);
	int r = 0;

	if (!prefix)
		return sta_error(err, -ENOMEM, "out of memory");
	if (stasync_digest_init() < 0)
		return sta_error(err, -ENOTSUP, "libgcrypt is too old");
	for (size_t i = 0; r == 0 && i < n; i += S3_XML_DELETE_MAX) {
		size_t k = MIN(n - i, (size_t)S3_XML_DELETE_MAX);

		r = delete_batch(h, s, prefix, names + i, k, err);
		for (size_t j = 0; r == 0 && deleted && j < k; j++)
			deleted(names[i + j], ud);
	}
	return r;
}
