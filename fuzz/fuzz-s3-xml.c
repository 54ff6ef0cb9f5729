/* fuzz-s3-xml — the readers of S3's XML answers, each given the same
 * bytes: sta_s3_xml_list(), sta_s3_xml_error() and
 * sta_s3_xml_delete_result(); then the keys a listing gave go through
 * sta_s3_xml_delete_request() and back through expat.
 *
 * Input: the document's bytes. Checks:
 *   - each reader returns 0, -EBADMSG (with a message, on one line) or its
 *     callback's code, nothing else (-ENOMEM aside);
 *   - keys are 1 to 1024 bytes, the next token at most 4096 and only
 *     given on success, sizes whatever 64 bits hold;
 *   - an error body's fields are terminated inside their arrays, hold no
 *     control character, and are all "" when the bytes are not one;
 *   - a listing's keys without control characters make a DeleteObjects
 *     body that expat reads back, key for key; one with a control
 *     character is refused with -EINVAL. */
#include <errno.h>
#include <expat.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS_MAX 64
#define STOP -1000   /* a callback's own code, passed back as it is */

struct keys {
	char *key[KEYS_MAX];
	size_t n, calls;
	size_t stop_at;   /* stop at this call (0: never) */
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int on_key(const char *key, uint64_t size, void *ud)
{
	struct keys *k = ud;
	size_t len = strlen(key);

	(void)size;
	check(len >= 1 && len <= S3_XML_KEY_MAX);
	if (++k->calls == k->stop_at)
		return STOP;
	if (k->n < KEYS_MAX) {
		k->key[k->n] = strdup(key);
		check(k->key[k->n] != NULL);
		k->n++;
	}
	return 0;
}

static int on_failed(const char *key, const char *code, const char *message, void *ud)
{
	struct keys *k = ud;

	check(strlen(key) >= 1 && strlen(key) <= S3_XML_KEY_MAX);
	check(strlen(code) < 64 && strlen(message) < 256);
	check(!has_control(code) && !has_control(message));
	return ++k->calls == k->stop_at ? STOP : 0;
}

static void field_ok(const char *f, size_t n)
{
	check(memchr(f, 0, n) != NULL);
	check(!has_control(f));
}

/* The <Key> texts of a DeleteObjects body, read back with expat. */
struct readback {
	struct keys *want;
	size_t i;
	int depth, key_depth;
	char text[S3_XML_KEY_MAX * 6 + 1];
	size_t len;
	bool bad;
};

static void rb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct readback *b = ud;

	(void)atts;
	b->depth++;
	if (strcmp(name, "Key") == 0) {
		b->key_depth = b->depth;
		b->len = 0;
	}
}

static void rb_end(void *ud, const XML_Char *name)
{
	struct readback *b = ud;

	if (strcmp(name, "Key") == 0 && b->depth == b->key_depth) {
		b->text[b->len] = 0;
		if (b->i >= b->want->n || strcmp(b->text, b->want->key[b->i]) != 0)
			b->bad = true;
		b->i++;
		b->key_depth = 0;
	}
	b->depth--;
}

static void rb_text(void *ud, const XML_Char *s, int len)
{
	struct readback *b = ud;

	if (b->key_depth && b->depth == b->key_depth) {
		if (b->len + (size_t)len >= sizeof(b->text)) {
			b->bad = true;
			return;
		}
		memcpy(b->text + b->len, s, (size_t)len);
		b->len += (size_t)len;
	}
}

static void delete_round_trip(struct keys *k)
{
	const char *keys[KEYS_MAX];
	struct readback b = { .want = k };
	stasync_error err = { 0, "" };
	bool control = false;
	char *body = NULL;
	size_t body_size = 0;
	XML_Parser p;
	int r;

	if (k->n == 0)
		return;
	for (size_t i = 0; i < k->n; i++) {
		keys[i] = k->key[i];
		control |= has_control(k->key[i]);
	}
	r = sta_s3_xml_delete_request(keys, k->n, &body, &body_size, &err);
	if (control) {
		check(r == -EINVAL && body == NULL && err.message[0]);
		return;
	}
	check(r == 0 && body && strlen(body) == body_size);
	p = XML_ParserCreate(NULL);
	check(p != NULL);
	XML_SetUserData(p, &b);
	XML_SetElementHandler(p, rb_start, rb_end);
	XML_SetCharacterDataHandler(p, rb_text);
	check(XML_Parse(p, body, (int)body_size, XML_TRUE) == XML_STATUS_OK);
	check(!b.bad && b.i == k->n);
	XML_ParserFree(p);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys k = { 0 };
	struct sta_s3_xml_error e;
	stasync_error err = { 0, "" };
	bool truncated = true;
	char *token = (char *)"unset";
	int r;

	/* the listing, whole */
	r = sta_s3_xml_list(data, size, on_key, &k, &truncated, &token, &err);
	check(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r == 0)
		check(!token || (strlen(token) <= S3_XML_TOKEN_MAX));
	else
		check(!token && !truncated && err.code == r && err.message[0] &&
		      !has_control(err.message));
	if (r == 0)
		delete_round_trip(&k);
	free(token);
	for (size_t i = 0; i < k.n; i++)
		free(k.key[i]);

	/* and stopped by its callback at the first key */
	if (k.calls > 0) {
		struct keys s = { .stop_at = 1 };

		r = sta_s3_xml_list(data, size, on_key, &s, &truncated, &token, &err);
		check(r == STOP && s.calls == 1 && !token);
	}

	r = sta_s3_xml_error(data, size, &e);
	check(r == 0 || r == -EBADMSG);
	field_ok(e.code, sizeof(e.code));
	field_ok(e.message, sizeof(e.message));
	field_ok(e.region, sizeof(e.region));
	field_ok(e.endpoint, sizeof(e.endpoint));
	if (r < 0)
		check(!e.code[0] && !e.message[0] && !e.region[0] && !e.endpoint[0]);

	k = (struct keys){ 0 };
	err = (stasync_error){ 0, "" };
	r = sta_s3_xml_delete_result(data, size, on_failed, &k, &err);
	check(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r < 0)
		check(err.code == r && err.message[0] && !has_control(err.message));
	if (k.calls > 0) {
		struct keys s = { .stop_at = 1 };

		r = sta_s3_xml_delete_result(data, size, on_failed, &s, &err);
		check(r == STOP && s.calls == 1);
	}
	return 0;
}
