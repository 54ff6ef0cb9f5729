/* The XML of S3 answers and requests: see s3-xml.h. One expat parser per
 * document, with namespace processing (names arrive as "URI\nlocal"), and
 * a handler pair per document kind on a shared core that tracks the depth,
 * the root, and where character data goes. */
#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3-xml.h"
#include "util.h"

/* Not a character of any element name, so the local name is what follows
 * its last occurrence. */
#define NS_SEP '\n'
/* S3's documents are four elements deep; anything far deeper is not one. */
#define DEPTH_MAX 32

/* A text field being read: at most max bytes kept, `over` when more came. */
struct field {
	char *buf;
	size_t len, max;
	bool over;
	bool one_line;   /* control characters become spaces (for messages) */
};

struct xml_doc;
typedef void (*elem_fn)(struct xml_doc *d, const char *name);

struct xml_doc {
	XML_Parser p;
	stasync_error *err;
	int r;                /* the first failure; the parse stops there */
	const char *root;     /* the root element's expected local name */
	unsigned depth;       /* of the element open now; the root's is 1 */
	struct field *text;   /* where character data goes, NULL: nowhere */
	unsigned text_depth;
	elem_fn start, end;   /* the document kind's handlers */
};

/* Stop the parse with r (the first failure wins) and a message. */
static void doc_fail(struct xml_doc *d, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void doc_fail(struct xml_doc *d, int r, const char *fmt, ...)
{
	char msg[STASYNC_ERROR_MESSAGE_MAX];
	va_list ap;

	if (d->r == 0) {
		d->r = r;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		sta_error(d->err, r, "%s", msg);
	}
	XML_StopParser(d->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep ? sep + 1 : name;
}

static void field_begin(struct xml_doc *d, struct field *f)
{
	f->len = 0;
	f->over = false;
	f->buf[0] = 0;
	d->text = f;
	d->text_depth = d->depth;
}

static void on_start(void *ctx, const XML_Char *qname, const XML_Char **atts)
{
	struct xml_doc *d = ctx;
	const char *name = local_name(qname);

	(void)atts;
	if (d->r < 0)
		return;
	if (++d->depth > DEPTH_MAX) {
		doc_fail(d, -EBADMSG, "S3 answer: elements nested more than %d deep", DEPTH_MAX);
		return;
	}
	if (d->depth == 1 && strcmp(name, d->root) != 0) {
		doc_fail(d, -EBADMSG, "S3 answer: not a %s (<%.64s>)", d->root, name);
		return;
	}
	d->start(d, name);
}

static void on_end(void *ctx, const XML_Char *qname)
{
	struct xml_doc *d = ctx;

	if (d->r < 0)
		return;
	d->end(d, local_name(qname));
	if (d->text && d->text_depth == d->depth)
		d->text = NULL;
	d->depth--;
}

static void on_text(void *ctx, const XML_Char *s, int len)
{
	struct xml_doc *d = ctx;
	struct field *f = d->text;
	size_t n = len > 0 ? (size_t)len : 0, k;

	if (d->r < 0 || !f || d->depth != d->text_depth)
		return;
	k = MIN(n, f->max - f->len);
	memcpy(f->buf + f->len, s, k);
	if (f->one_line)
		for (size_t i = f->len; i < f->len + k; i++)
			if ((unsigned char)f->buf[i] < 0x20 || f->buf[i] == 0x7f)
				f->buf[i] = ' ';
	f->len += k;
	f->buf[f->len] = 0;
	if (k < n)
		f->over = true;
}

/* A DOCTYPE may declare entities (billion laughs) or name external ones:
 * S3 never sends one, so it ends the parse before anything is declared. */
static void on_doctype(void *ctx, const XML_Char *name, const XML_Char *sysid,
		       const XML_Char *pubid, int has_internal_subset)
{
	(void)sysid, (void)pubid, (void)has_internal_subset;
	doc_fail(ctx, -EBADMSG, "S3 answer: a DOCTYPE (<!DOCTYPE %.64s>), refused", name);
}

static void on_entity(void *ctx, const XML_Char *name, int is_param, const XML_Char *value,
		      int value_len, const XML_Char *base, const XML_Char *sysid,
		      const XML_Char *pubid, const XML_Char *notation)
{
	(void)is_param, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid,
		(void)notation;
	doc_fail(ctx, -EBADMSG, "S3 answer: an entity declaration (%.64s), refused", name);
}

/* Parse xml[0..n) as document d. 0, d's failure, -EBADMSG (not
 * well-formed) or -ENOMEM, with a message in d->err. */
static int doc_parse(struct xml_doc *d, const void *xml, size_t n)
{
	enum XML_Status st;
	int r;

	if (n > INT_MAX)
		return sta_error(d->err, -EBADMSG, "S3 answer: %zu bytes, too large", n);
	d->p = XML_ParserCreateNS(NULL, NS_SEP);
	if (!d->p)
		return sta_error(d->err, -ENOMEM, "out of memory");
	XML_SetUserData(d->p, d);
	XML_SetElementHandler(d->p, on_start, on_end);
	XML_SetCharacterDataHandler(d->p, on_text);
	XML_SetStartDoctypeDeclHandler(d->p, on_doctype);
	XML_SetEntityDeclHandler(d->p, on_entity);
	XML_SetParamEntityParsing(d->p, XML_PARAM_ENTITY_PARSING_NEVER);
	st = XML_Parse(d->p, xml, (int)n, XML_TRUE);
	r = d->r;
	if (r == 0 && st != XML_STATUS_OK) {
		enum XML_Error e = XML_GetErrorCode(d->p);

		r = e == XML_ERROR_NO_MEMORY ? -ENOMEM : -EBADMSG;
		sta_error(d->err, r, "S3 answer: not well-formed XML (line %lu: %s)",
			  (unsigned long)XML_GetCurrentLineNumber(d->p), XML_ErrorString(e));
	}
	XML_ParserFree(d->p);
	d->p = NULL;
	return r;
}

static bool xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The field without XML white space around it, in place. */
static const char *field_trimmed(struct field *f)
{
	char *s = f->buf;
	size_t n = f->len;

	while (n > 0 && xml_space(s[n - 1]))
		n--;
	s[n] = 0;
	while (*s && xml_space(*s))
		s++;
	return s;
}

/* A decimal number that fits in 64 bits, nothing else. */
static bool parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned dgt;

		if (*s < '0' || *s > '9')
			return false;
		dgt = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	*ret = v;
	return true;
}

/* ---- ListObjectsV2 ------------------------------------------------------- */

struct list_doc {
	struct xml_doc d;
	int (*each)(const char *key, uint64_t size, void *ud);
	void *ud;
	bool truncated;
	char *token;
	bool in_contents, have_key, have_size;
	uint64_t size;
	struct field key, num, tok;
	char key_buf[S3_XML_KEY_MAX + 1], num_buf[32], tok_buf[S3_XML_TOKEN_MAX + 1];
};

static void list_start(struct xml_doc *d, const char *name)
{
	struct list_doc *l = (struct list_doc *)d;

	if (d->depth == 2) {
		if (strcmp(name, "Contents") == 0) {
			l->in_contents = true;
			l->have_key = l->have_size = false;
		} else if (strcmp(name, "IsTruncated") == 0)
			field_begin(d, &l->num);
		else if (strcmp(name, "NextContinuationToken") == 0)
			field_begin(d, &l->tok);
	} else if (d->depth == 3 && l->in_contents) {
		if (strcmp(name, "Key") == 0 || strcmp(name, "Size") == 0) {
			if (strcmp(name, "Key") == 0 ? l->have_key : l->have_size)
				doc_fail(d, -EBADMSG, "S3 listing: a Contents with two %ss", name);
			else
				field_begin(d, name[0] == 'K' ? &l->key : &l->num);
		}
	}
}

static void list_contents_end(struct list_doc *l)
{
	struct xml_doc *d = &l->d;
	int r;

	l->in_contents = false;
	if (!l->have_key) {
		doc_fail(d, -EBADMSG, "S3 listing: a Contents without Key");
		return;
	}
	if (!l->have_size) {
		doc_fail(d, -EBADMSG, "S3 listing: a Contents without Size");
		return;
	}
	r = l->each(l->key_buf, l->size, l->ud);
	if (r < 0)
		doc_fail(d, r, "S3 listing: stopped: %s", stasync_strerror(r));
}

static void list_end(struct xml_doc *d, const char *name)
{
	struct list_doc *l = (struct list_doc *)d;

	if (d->depth == 3 && l->in_contents && d->text == &l->key) {
		if (l->key.over)
			doc_fail(d, -EBADMSG, "S3 listing: a key longer than %d bytes", S3_XML_KEY_MAX);
		else if (l->key.len == 0)
			doc_fail(d, -EBADMSG, "S3 listing: an empty Key");
		l->have_key = true;
	} else if (d->depth == 3 && l->in_contents && d->text == &l->num) {
		const char *s = field_trimmed(&l->num);

		if (l->num.over || !parse_u64(s, &l->size))
			doc_fail(d, -EBADMSG, "S3 listing: a bad Size (%.40s)", s);
		l->have_size = true;
	} else if (d->depth == 2 && l->in_contents) {
		list_contents_end(l);
	} else if (d->depth == 2 && d->text == &l->num) {
		const char *s = field_trimmed(&l->num);

		if (strcmp(s, "true") == 0)
			l->truncated = true;
		else if (strcmp(s, "false") == 0)
			l->truncated = false;
		else
			doc_fail(d, -EBADMSG, "S3 listing: IsTruncated is %.40s, not true or false", s);
	} else if (d->depth == 2 && d->text == &l->tok) {
		if (l->tok.over) {
			doc_fail(d, -EBADMSG, "S3 listing: a continuation token longer than %d bytes",
				 S3_XML_TOKEN_MAX);
			return;
		}
		free(l->token);
		l->token = strdup(l->tok_buf);
		if (!l->token)
			doc_fail(d, -ENOMEM, "out of memory");
	}
	(void)name;
}

int sta_s3_xml_list(const void *xml, size_t n, int (*each)(const char *key, uint64_t size, void *ud),
		    void *ud, bool *truncated, char **next_token, stasync_error *err)
{
	struct list_doc *l = calloc(1, sizeof(*l));
	int r;

	*next_token = NULL;
	*truncated = false;
	if (!l)
		return sta_error(err, -ENOMEM, "out of memory");
	l->d = (struct xml_doc){ .err = err, .root = "ListBucketResult",
				 .start = list_start, .end = list_end };
	l->each = each;
	l->ud = ud;
	l->key = (struct field){ .buf = l->key_buf, .max = S3_XML_KEY_MAX };
	/* (what is in a bad number goes into the message) */
	l->num = (struct field){ .buf = l->num_buf, .max = sizeof(l->num_buf) - 1, .one_line = true };
	l->tok = (struct field){ .buf = l->tok_buf, .max = S3_XML_TOKEN_MAX };
	r = doc_parse(&l->d, xml, n);
	if (r == 0) {
		*truncated = l->truncated;
		*next_token = TAKE_PTR(l->token);
	}
	free(l->token);
	free(l);
	return r;
}

/* ---- error bodies ---------------------------------------------------------- */

struct error_doc {
	struct xml_doc d;
	struct field code, message, region, endpoint;
};

static void error_start(struct xml_doc *d, const char *name)
{
	struct error_doc *e = (struct error_doc *)d;

	if (d->depth != 2)
		return;
	if (strcmp(name, "Code") == 0)
		field_begin(d, &e->code);
	else if (strcmp(name, "Message") == 0)
		field_begin(d, &e->message);
	else if (strcmp(name, "Region") == 0)
		field_begin(d, &e->region);
	else if (strcmp(name, "Endpoint") == 0)
		field_begin(d, &e->endpoint);
}

static void error_end(struct xml_doc *d, const char *name)
{
	(void)d, (void)name;
}

/* A field cut short may end inside a UTF-8 sequence: drop that part. */
static void utf8_cut(struct field *f)
{
	size_t k = f->len;

	if (!f->over)
		return;
	while (k > 0 && ((unsigned char)f->buf[k - 1] & 0xc0) == 0x80)
		k--;
	/* k - 1 is now a lead byte (or ASCII): keep it only when its
	 * sequence is whole */
	if (k > 0 && ((unsigned char)f->buf[k - 1] & 0x80)) {
		unsigned char c = (unsigned char)f->buf[k - 1];
		size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

		if (f->len - (k - 1) < want)
			f->len = k - 1;
	}
	f->buf[f->len] = 0;
}

int sta_s3_xml_error(const void *xml, size_t n, struct sta_s3_xml_error *ret)
{
	struct error_doc e = {
		.d = { .root = "Error", .start = error_start, .end = error_end },
		.code = { .buf = ret->code, .max = sizeof(ret->code) - 1, .one_line = true },
		.message = { .buf = ret->message, .max = sizeof(ret->message) - 1, .one_line = true },
		.region = { .buf = ret->region, .max = sizeof(ret->region) - 1, .one_line = true },
		.endpoint = { .buf = ret->endpoint, .max = sizeof(ret->endpoint) - 1, .one_line = true },
	};
	int r;

	*ret = (struct sta_s3_xml_error){ 0 };
	r = doc_parse(&e.d, xml, n);
	if (r < 0) {
		*ret = (struct sta_s3_xml_error){ 0 };
		return -EBADMSG;
	}
	utf8_cut(&e.code);
	utf8_cut(&e.message);
	utf8_cut(&e.region);
	utf8_cut(&e.endpoint);
	return 0;
}

/* ---- DeleteObjects ------------------------------------------------------- */

/* The length of one UTF-8 character at s (at most n bytes), 0 when s does
 * not start a valid one (overlong forms and surrogates included). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static const char *xml_escape(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&apos;";
	default: return NULL;
	}
}

/* The escaped length of keys[i_key], or -EINVAL with a message that
 * names it by its place (the key itself may hold anything). */
static int key_escaped_len(const char *key, size_t i_key, size_t *ret, stasync_error *err)
{
	const unsigned char *s = (const unsigned char *)key;
	size_t n = strlen(key), out = 0;

	if (n == 0)
		return sta_error(err, -EINVAL, "S3 delete: key %zu is an empty key", i_key + 1);
	if (n > S3_XML_KEY_MAX)
		return sta_error(err, -EINVAL, "S3 delete: key %zu has %zu bytes, more than S3's %d",
				 i_key + 1, n, S3_XML_KEY_MAX);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_char(s + i, n - i);
		const char *esc;

		if (k == 0)
			return sta_error(err, -EINVAL, "S3 delete: key %zu is not UTF-8", i_key + 1);
		if (s[i] < 0x20 || s[i] == 0x7f)
			return sta_error(err, -EINVAL, "S3 delete: key %zu holds a control character",
					 i_key + 1);
		esc = xml_escape((char)s[i]);
		out += esc ? strlen(esc) : k;
		i += k;
	}
	*ret = out;
	return 0;
}

#define DELETE_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
#define DELETE_TAIL "</Delete>\n"
#define OBJECT_HEAD "<Object><Key>"
#define OBJECT_TAIL "</Key></Object>"

int sta_s3_xml_delete_request(const char *const *keys, size_t n, char **ret, size_t *ret_size,
			      stasync_error *err)
{
	size_t total = strlen(DELETE_HEAD) + strlen(DELETE_TAIL), len = 0;
	char *buf, *p;
	int r;

	*ret = NULL;
	*ret_size = 0;
	if (n == 0 || n > S3_XML_DELETE_MAX)
		return sta_error(err, -EINVAL, "S3 delete: %zu keys in one request (1 to %d)", n,
				 S3_XML_DELETE_MAX);
	/* at most 1000 keys of 1024 bytes, each escaped to 6 × its size:
	 * no overflow */
	for (size_t i = 0; i < n; i++) {
		if ((r = key_escaped_len(keys[i], i, &len, err)) < 0)
			return r;
		total += strlen(OBJECT_HEAD) + len + strlen(OBJECT_TAIL);
	}
	buf = malloc(total + 1);
	if (!buf)
		return sta_error(err, -ENOMEM, "out of memory");
	p = buf;
#define PUT(s) (memcpy(p, (s), strlen(s)), p += strlen(s))
	PUT(DELETE_HEAD);
	for (size_t i = 0; i < n; i++) {
		PUT(OBJECT_HEAD);
		for (const char *s = keys[i]; *s; s++) {
			const char *esc = xml_escape(*s);

			if (esc)
				PUT(esc);
			else
				*p++ = *s;
		}
		PUT(OBJECT_TAIL);
	}
	PUT(DELETE_TAIL);
#undef PUT
	*p = 0;
	*ret = buf;
	*ret_size = (size_t)(p - buf);
	return 0;
}

struct delete_doc {
	struct xml_doc d;
	int (*failed)(const char *key, const char *code, const char *message, void *ud);
	void *ud;
	bool in_error, have_key;
	struct field key, code, message;
	char key_buf[S3_XML_KEY_MAX + 1], code_buf[64], message_buf[256];
};

static void delete_start(struct xml_doc *d, const char *name)
{
	struct delete_doc *x = (struct delete_doc *)d;

	if (d->depth == 2 && strcmp(name, "Error") == 0) {
		x->in_error = true;
		x->have_key = false;
		x->code_buf[0] = x->message_buf[0] = 0;
	} else if (d->depth == 3 && x->in_error) {
		if (strcmp(name, "Key") == 0)
			field_begin(d, &x->key);
		else if (strcmp(name, "Code") == 0)
			field_begin(d, &x->code);
		else if (strcmp(name, "Message") == 0)
			field_begin(d, &x->message);
	}
}

static void delete_end(struct xml_doc *d, const char *name)
{
	struct delete_doc *x = (struct delete_doc *)d;
	int r;

	(void)name;
	if (d->depth == 3 && x->in_error && d->text == &x->key) {
		if (x->key.over)
			doc_fail(d, -EBADMSG, "S3 delete result: a key longer than %d bytes", S3_XML_KEY_MAX);
		x->have_key = true;
	} else if (d->depth == 2 && x->in_error) {
		x->in_error = false;
		if (!x->have_key || x->key.len == 0) {
			doc_fail(d, -EBADMSG, "S3 delete result: an Error without Key");
			return;
		}
		utf8_cut(&x->code);
		utf8_cut(&x->message);
		r = x->failed(x->key_buf, x->code_buf, x->message_buf, x->ud);
		if (r < 0)
			doc_fail(d, r, "S3 delete result: stopped: %s", stasync_strerror(r));
	}
}

int sta_s3_xml_delete_result(const void *xml, size_t n,
			     int (*failed)(const char *key, const char *code, const char *message,
					   void *ud),
			     void *ud, stasync_error *err)
{
	struct delete_doc *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return sta_error(err, -ENOMEM, "out of memory");
	x->d = (struct xml_doc){ .err = err, .root = "DeleteResult",
				 .start = delete_start, .end = delete_end };
	x->failed = failed;
	x->ud = ud;
	x->key = (struct field){ .buf = x->key_buf, .max = S3_XML_KEY_MAX };
	x->code = (struct field){ .buf = x->code_buf, .max = sizeof(x->code_buf) - 1,
				  .one_line = true };
	x->message = (struct field){ .buf = x->message_buf, .max = sizeof(x->message_buf) - 1,
				     .one_line = true };
	r = doc_parse(&x->d, xml, n);
	free(x);
	return r;
}
