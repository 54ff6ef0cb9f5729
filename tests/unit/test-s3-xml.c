/* The XML of S3 answers (sta_s3_xml_list, sta_s3_xml_error,
 * sta_s3_xml_delete_result) and of the DeleteObjects request
 * (sta_s3_xml_delete_request): answers as radosgw and AWS send them,
 * pagination, escaping, and hostile or broken documents. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3-xml.h"
#include "tap.h"

#define NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

/* What a listing gave: keys and sizes, "key=size;" after one another. */
struct seen {
	char text[8192];
	int count;
	int stop_after;   /* return -ECANCELED after this many (0: never) */
};

static int on_each(const char *key, uint64_t size, void *ud)
{
	struct seen *s = ud;
	size_t k = strlen(s->text);

	snprintf(s->text + k, sizeof(s->text) - k, "%s=%" PRIu64 ";", key, size);
	if (s->stop_after && ++s->count >= s->stop_after)
		return -ECANCELED;
	return 0;
}

static int list(const char *xml, struct seen *s, bool *truncated, char **token,
		stasync_error *err)
{
	*s = (struct seen){ .stop_after = s->stop_after };
	*err = (stasync_error){ 0, "" };
	return sta_s3_xml_list(xml, strlen(xml), on_each, s, truncated, token, err);
}

/* A listing that must be refused with -EBADMSG and a message holding `what`. */
static void list_bad(const char *xml, const char *what, const char *desc)
{
	struct seen s = { 0 };
	stasync_error err;
	bool truncated = true;
	char *token = (char *)"x";
	int r = list(xml, &s, &truncated, &token, &err);

	tap_ok(r == -EBADMSG && err.code == -EBADMSG && strstr(err.message, what) && !token,
	       "%s: -EBADMSG, \"%s\" (got %d, %s)", desc, what, r, err.message);
}

static void test_list(void)
{
	/* radosgw's answers (Ceph 16), as a ListObjectsV2 gets them */
	const char radosgw_page[] = DECL "<ListBucketResult " NS "><Name>cap</Name><Prefix></Prefix>"
		"<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>a/1</Key>"
		"<LastModified>2026-12-06T19:05:21.318Z</LastModified><ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag>"
		"<Size>1</Size><StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents>"
		"<Contents><Key>b&amp;c&lt;d&gt;</Key><LastModified>2026-12-06T19:05:21.415Z</LastModified>"
		"<ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag><Size>18446744073709551615</Size>"
		"<StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents>"
		"<NextContinuationToken>b&amp;c&lt;d&gt;</NextContinuationToken><KeyCount>2</KeyCount>"
		"</ListBucketResult>";
	const char radosgw_last[] = DECL "<ListBucketResult " NS "><Name>cap</Name><Prefix></Prefix>"
		"<MaxKeys>2</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>q&quot;x&apos;y</Key>"
		"<Size>1</Size></Contents><Contents><Key>\xc3\xbcn\xc3\xaf</Key><Size>0</Size></Contents>"
		"<KeyCount>2</KeyCount><ContinuationToken>b&amp;c&lt;d&gt;</ContinuationToken></ListBucketResult>";
	const char radosgw_empty[] = DECL "<ListBucketResult " NS "><Name>cap</Name><Prefix>none/</Prefix>"
		"<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
	/* AWS's, pretty-printed as in its documentation, with an Owner, a
	 * checksum list and CommonPrefixes (all skipped) */
	const char aws[] = DECL "\n<ListBucketResult " NS ">\n"
		"  <Name>builds</Name>\n  <Prefix>store/</Prefix>\n  <KeyCount>2</KeyCount>\n"
		"  <MaxKeys>1000</MaxKeys>\n  <Delimiter>/</Delimiter>\n  <IsTruncated>\n true\n </IsTruncated>\n"
		"  <Contents>\n    <Key>store/0a1b/0a1b.cacnk</Key>\n    <LastModified>2026-11-01T10:00:00.000Z</LastModified>\n"
		"    <ETag>\"abc\"</ETag>\n    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n    <Size> 4096 </Size>\n"
		"    <Owner><ID>0123</ID><DisplayName>me</DisplayName></Owner>\n"
		"    <StorageClass>STANDARD</StorageClass>\n  </Contents>\n"
		"  <CommonPrefixes><Prefix>store/0a1b/</Prefix></CommonPrefixes>\n"
		"  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
		"  <StartAfter>store/</StartAfter>\n</ListBucketResult>\n";
	/* a server that names no namespace, and one with a prefix for it */
	const char no_ns[] = "<ListBucketResult><Contents><Key>k</Key><Size>7</Size></Contents></ListBucketResult>";
	const char prefixed[] = "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<s3:Contents><s3:Key>k</s3:Key><s3:Size>7</s3:Size></s3:Contents></s3:ListBucketResult>";
	struct seen s = { 0 };
	stasync_error err;
	bool truncated;
	char *token;
	int r;

	r = list(radosgw_page, &s, &truncated, &token, &err);
	tap_ok(r == 0 && strcmp(s.text, "a/1=1;b&c<d>=18446744073709551615;") == 0 && truncated &&
	       token && strcmp(token, "b&c<d>") == 0,
	       "radosgw's first page: two keys unescaped, 2^64-1, truncated, the next token (%d, %s, %s)",
	       r, s.text, token ? token : "-");
	free(token);
	r = list(radosgw_last, &s, &truncated, &token, &err);
	tap_ok(r == 0 && strcmp(s.text, "q\"x'y=1;\xc3\xbcn\xc3\xaf=0;") == 0 && !truncated && !token,
	       "... its last page: quotes, UTF-8, not truncated, no next token (%d, %s)", r, s.text);
	r = list(radosgw_empty, &s, &truncated, &token, &err);
	tap_ok(r == 0 && !s.text[0] && !truncated && !token, "an empty listing (%d)", r);
	r = list(aws, &s, &truncated, &token, &err);
	tap_ok(r == 0 && strcmp(s.text, "store/0a1b/0a1b.cacnk=4096;") == 0 && truncated && token &&
	       strcmp(token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=") == 0,
	       "AWS's, pretty-printed, with Owner and CommonPrefixes skipped (%d, %s)", r, s.text);
	free(token);
	r = list(no_ns, &s, &truncated, &token, &err);
	tap_ok(r == 0 && strcmp(s.text, "k=7;") == 0, "no namespace (%d, %s)", r, s.text);
	r = list(prefixed, &s, &truncated, &token, &err);
	tap_ok(r == 0 && strcmp(s.text, "k=7;") == 0, "a namespace prefix (%d, %s)", r, s.text);

	s.stop_after = 1;
	r = list(radosgw_page, &s, &truncated, &token, &err);
	tap_ok(r == -ECANCELED && strcmp(s.text, "a/1=1;") == 0 && !token,
	       "each()'s negative return stops the parse and is returned (%d, %s)", r, s.text);
	s.stop_after = 0;

	/* keys: 1024 bytes pass, 1025 do not */
	{
		char *xml = tap_xmalloc(3000);
		char key[1026];

		memset(key, 'k', 1024);
		key[1024] = 0;
		snprintf(xml, 3000, "<ListBucketResult><Contents><Key>%s</Key><Size>1</Size></Contents></ListBucketResult>", key);
		r = list(xml, &s, &truncated, &token, &err);
		tap_ok(r == 0 && strlen(s.text) == 1024 + 3, "a key of 1024 bytes (%d)", r);
		key[1024] = 'k';
		key[1025] = 0;
		snprintf(xml, 3000, "<ListBucketResult><Contents><Key>%s</Key><Size>1</Size></Contents></ListBucketResult>", key);
		list_bad(xml, "longer than 1024", "a key of 1025 bytes");
		/* the same through entity references: counted after expansion */
		xml[0] = 0;
		strcat(xml, "<ListBucketResult><Contents><Key>");
		for (int i = 0; i < 205; i++)
			strcat(xml, "&amp;");
		strcat(xml, "</Key><Size>1</Size></Contents></ListBucketResult>");
		r = list(xml, &s, &truncated, &token, &err);
		tap_ok(r == 0 && strlen(s.text) == 205 + 3, "205 &amp; make a key of 205 bytes (%d)", r);
		free(xml);
	}
	{
		char *xml = tap_xmalloc(6000);

		snprintf(xml, 6000, "<ListBucketResult><NextContinuationToken>%04097d</NextContinuationToken></ListBucketResult>", 0);
		list_bad(xml, "continuation token longer", "a continuation token of 4097 bytes");
		free(xml);
	}

	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>",
		 "bad Size", "a size of 2^64");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999999999</Size></Contents></ListBucketResult>",
		 "bad Size", "a size of 26 digits");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
		 "bad Size", "a negative size");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>0x10</Size></Contents></ListBucketResult>",
		 "bad Size", "a size in hex");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size></Size></Contents></ListBucketResult>",
		 "bad Size", "an empty size");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>1&#10;2</Size></Contents></ListBucketResult>",
		 "bad Size (1 2)", "a newline inside a size: refused, the message on one line");
	list_bad("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		 "without Size", "a Contents without Size");
	list_bad("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		 "without Key", "a Contents without Key");
	list_bad("<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
		 "empty Key", "an empty key");
	list_bad("<ListBucketResult><Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents></ListBucketResult>",
		 "two Keys", "a Contents with two keys");
	list_bad("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
		 "IsTruncated", "IsTruncated neither true nor false");
	list_bad(DECL "<Error><Code>NoSuchBucket</Code></Error>", "not a ListBucketResult",
		 "an error body");
	list_bad("<html><body>502 Bad Gateway</body></html>", "not a ListBucketResult", "an HTML page");
	list_bad("", "not well-formed", "nothing");
	list_bad("502 Bad Gateway", "not well-formed", "plain text");
	list_bad("<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>",
		 "not well-formed", "cut short");
	list_bad("<ListBucketResult><Contents><Key>k</Size></Contents></ListBucketResult>",
		 "not well-formed", "mismatched tags");
	list_bad("<ListBucketResult><Contents><Key>a\xff</Key><Size>1</Size></Contents></ListBucketResult>",
		 "not well-formed", "invalid UTF-8");
	list_bad("<ListBucketResult><Contents><Key>&nbsp;</Key><Size>1</Size></Contents></ListBucketResult>",
		 "not well-formed", "an undefined entity");
	list_bad("<ListBucketResult></ListBucketResult><ListBucketResult/>", "not well-formed",
		 "two roots");
	/* entities: billion laughs, an external entity, a parameter entity */
	list_bad("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		 "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		 "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">"
		 "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		 "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
		 "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">"
		 "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">"
		 "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">"
		 "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">"
		 "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">]>"
		 "<ListBucketResult><Contents><Key>&lol9;</Key><Size>1</Size></Contents></ListBucketResult>",
		 "DOCTYPE", "billion laughs");
	list_bad("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		 "<ListBucketResult><Contents><Key>&x;</Key><Size>1</Size></Contents></ListBucketResult>",
		 "DOCTYPE", "an external entity");
	list_bad("<!DOCTYPE r SYSTEM \"http://127.0.0.1:1/evil.dtd\"><ListBucketResult/>",
		 "DOCTYPE", "an external DTD");
	list_bad("<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/p\"> %p;]><ListBucketResult/>",
		 "DOCTYPE", "a parameter entity");
	{
		/* deeper than any S3 document: refused, not recursed into */
		char *xml = tap_xmalloc(40 * 6 + 64);

		strcpy(xml, "<ListBucketResult>");
		for (int i = 0; i < 40; i++)
			strcat(xml, "<a>");
		list_bad(xml, "nested", "elements 41 deep");
		free(xml);
	}
}

static void test_error(void)
{
	struct sta_s3_xml_error e;
	int r;
	const char radosgw[] = DECL "<Error><Code>SignatureDoesNotMatch</Code><Message></Message>"
		"<RequestId>tx00000bf9f56f76d929bc9-006b15b1f1-100e-default</RequestId>"
		"<HostId>100e-default-default</HostId></Error>";
	const char aws_region[] = DECL "\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The "
		"authorization header is malformed; the region 'us-east-1' is wrong; expecting "
		"'eu-central-1'</Message><Region>eu-central-1</Region><RequestId>7C8B9E1B</RequestId>"
		"<HostId>abc=</HostId></Error>";
	const char aws_redirect[] = DECL "<Error><Code>PermanentRedirect</Code><Message>The bucket you "
		"are attempting to access must be addressed using the specified endpoint.</Message>"
		"<Endpoint>builds.s3.eu-west-2.amazonaws.com</Endpoint><Bucket>builds</Bucket></Error>";
	char longer[1200];

	r = sta_s3_xml_error(radosgw, strlen(radosgw), &e);
	tap_ok(r == 0 && strcmp(e.code, "SignatureDoesNotMatch") == 0 && !e.message[0] &&
	       !e.region[0] && !e.endpoint[0], "radosgw's SignatureDoesNotMatch (%d, %s)", r, e.code);
	r = sta_s3_xml_error(aws_region, strlen(aws_region), &e);
	tap_ok(r == 0 && strcmp(e.code, "AuthorizationHeaderMalformed") == 0 &&
	       strcmp(e.region, "eu-central-1") == 0 && strstr(e.message, "expecting 'eu-central-1'"),
	       "AWS's AuthorizationHeaderMalformed with its Region (%d, %s)", r, e.region);
	r = sta_s3_xml_error(aws_redirect, strlen(aws_redirect), &e);
	tap_ok(r == 0 && strcmp(e.code, "PermanentRedirect") == 0 &&
	       strcmp(e.endpoint, "builds.s3.eu-west-2.amazonaws.com") == 0,
	       "AWS's PermanentRedirect with its Endpoint (%d, %s)", r, e.endpoint);
	/* a long message: cut at 255 bytes, not inside a character; lines joined */
	snprintf(longer, sizeof(longer), "<Error><Code>%s</Code><Message>line one\nline two%0200d"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		 "</Message></Error>", "AVeryLongCodeThatGoesOnAndOnPastSixtyFourBytesOfCodeWhichNoServerSends", 0);
	r = sta_s3_xml_error(longer, strlen(longer), &e);
	tap_ok(r == 0 && strlen(e.code) == 63 && strlen(e.message) <= 255 && strlen(e.message) >= 253 &&
	       ((unsigned char)e.message[strlen(e.message) - 1] == 0xa9) && !strchr(e.message, '\n') &&
	       strncmp(e.message, "line one line two", 17) == 0,
	       "long fields truncated to fit, at a character boundary, on one line (%zu, %zu)",
	       strlen(e.code), strlen(e.message));
	r = sta_s3_xml_error("<Error/>", 8, &e);
	tap_ok(r == 0 && !e.code[0], "an empty Error: all fields \"\" (%d)", r);
	r = sta_s3_xml_error("<html>Forbidden</html>", 22, &e);
	tap_ok(r == -EBADMSG && !e.code[0], "an HTML page: -EBADMSG (%d)", r);
	r = sta_s3_xml_error("Forbidden", 9, &e);
	tap_ok(r == -EBADMSG, "plain text: -EBADMSG (%d)", r);
	r = sta_s3_xml_error(radosgw, 60, &e);
	tap_ok(r == -EBADMSG && !e.code[0], "a body cut short: -EBADMSG, nothing kept (%d)", r);
	r = sta_s3_xml_error("<!DOCTYPE e [<!ENTITY a \"AccessDenied\">]><Error><Code>&a;</Code></Error>",
			     70, &e);
	tap_ok(r == -EBADMSG, "a DOCTYPE: -EBADMSG (%d)", r);
}

static void test_delete_request(void)
{
	const char *keys[] = { "store/0a1b/0a1b.cacnk", "a&b<c>d\"e'f", "\xc3\xbcn\xc3\xaf code" };
	const char want[] = DECL "\n<Delete " NS "><Quiet>true</Quiet>"
		"<Object><Key>store/0a1b/0a1b.cacnk</Key></Object>"
		"<Object><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key></Object>"
		"<Object><Key>\xc3\xbcn\xc3\xaf code</Key></Object></Delete>\n";
	stasync_error err = { 0, "" };
	char *body = NULL, key[1026];
	size_t size = 0;
	int r;

	r = sta_s3_xml_delete_request(keys, 3, &body, &size, &err);
	tap_ok(r == 0 && body && size == strlen(want) && strcmp(body, want) == 0,
	       "three keys, escaped (%d): %s", r, body ? body : "-");
	/* what is sent reads back as the same keys */
	if (body) {
		struct seen s = { 0 };
		bool truncated;
		char *token;
		char *xml = tap_xmalloc(size + 200), *p = xml;

		/* the same objects as listing entries */
		p += snprintf(p, 200, "<ListBucketResult>");
		for (const char *q = strstr(body, "<Object>"); q; q = strstr(q + 1, "<Object>")) {
			const char *end = strstr(q, "</Object>");

			p += snprintf(p, size + 200 - (size_t)(p - xml), "<Contents>%.*s<Size>1</Size></Contents>",
				      (int)(end - q - 8), q + 8);
		}
		snprintf(p, size + 200 - (size_t)(p - xml), "</ListBucketResult>");
		r = list(xml, &s, &truncated, &token, &err);
		tap_ok(r == 0 && strcmp(s.text, "store/0a1b/0a1b.cacnk=1;a&b<c>d\"e'f=1;\xc3\xbcn\xc3\xaf code=1;") == 0,
		       "... and the escaped keys parse back to themselves (%s)", s.text);
		free(xml);
	}
	free(body);

	memset(key, 'k', 1024);
	key[1024] = 0;
	keys[0] = key;
	r = sta_s3_xml_delete_request(keys, 1, &body, &size, &err);
	tap_ok(r == 0 && size > 1024, "a key of 1024 bytes (%d)", r);
	free(body);

#define REFUSED(k, n, what, desc) do {                                                    \
		const char *ks[] = { k };                                                    \
		body = (char *)"x";                                                          \
		err = (stasync_error){ 0, "" };                                              \
		r = sta_s3_xml_delete_request(ks, n, &body, &size, &err);                    \
		tap_ok(r == -EINVAL && !body && strstr(err.message, what),                   \
		       "%s: -EINVAL (%d, %s)", desc, r, err.message);                        \
	} while (0)
	key[1024] = 'k';
	key[1025] = 0;
	REFUSED(key, 1, "1025 bytes", "a key of 1025 bytes");
	REFUSED("a\nb", 1, "key 1 holds", "a newline: the key is named by its place, not shown");
	REFUSED("a\nb", 1, "control character", "a newline in a key");
	REFUSED("a\tb", 1, "control character", "a tab in a key");
	REFUSED("a\x01" "b", 1, "control character", "\\x01 in a key");
	REFUSED("a\x7f" "b", 1, "control character", "DEL in a key");
	REFUSED("a\xff" "b", 1, "not UTF-8", "invalid UTF-8 in a key");
	REFUSED("\xc0\xaf", 1, "not UTF-8", "an overlong '/'");
	REFUSED("\xed\xa0\x80", 1, "not UTF-8", "a surrogate");
	REFUSED("\xc3", 1, "not UTF-8", "a character cut short");
	REFUSED("", 1, "empty key", "an empty key");
	REFUSED("k", 0, "0 keys", "no key at all");
	{
		const char **many = tap_xmalloc(1001 * sizeof(*many));

		for (int i = 0; i < 1001; i++)
			many[i] = "k";
		r = sta_s3_xml_delete_request(many, 1000, &body, &size, &err);
		tap_ok(r == 0, "1000 keys in one request (%d)", r);
		free(body);
		r = sta_s3_xml_delete_request(many, 1001, &body, &size, &err);
		tap_ok(r == -EINVAL && !body, "1001: -EINVAL, S3's limit is 1000 (%d)", r);
		free(many);
	}
}

static int on_failed(const char *key, const char *code, const char *message, void *ud)
{
	struct seen *s = ud;
	size_t k = strlen(s->text);

	snprintf(s->text + k, sizeof(s->text) - k, "%s:%s:%s;", key, code, message);
	if (s->stop_after && ++s->count >= s->stop_after)
		return -ECANCELED;
	return 0;
}

static int delete_result(const char *xml, struct seen *s, stasync_error *err)
{
	*s = (struct seen){ .stop_after = s->stop_after };
	*err = (stasync_error){ 0, "" };
	return sta_s3_xml_delete_result(xml, strlen(xml), on_failed, s, err);
}

static void test_delete_result(void)
{
	/* radosgw's answer to a DeleteObjects of an object there and one not */
	const char radosgw[] = DECL "<DeleteResult " NS "><Deleted><Key>nope</Key></Deleted>"
		"<Deleted><Key>a/1</Key></Deleted></DeleteResult>";
	const char aws[] = DECL "\n<DeleteResult " NS ">\n  <Deleted>\n    <Key>store/0a1b/x.cacnk</Key>\n  </Deleted>\n"
		"  <Error>\n    <Key>store/ffff/y.cacnk</Key>\n    <Code>AccessDenied</Code>\n"
		"    <Message>Access Denied</Message>\n  </Error>\n  <Error><Key>a&amp;b</Key><Code>InternalError</Code>"
		"<Message>We encountered an internal error. Please try again.</Message></Error>\n</DeleteResult>\n";
	struct seen s = { 0 };
	stasync_error err;
	int r;

	r = delete_result(radosgw, &s, &err);
	tap_ok(r == 0 && !s.text[0], "radosgw's: all deleted, nothing failed (%d)", r);
	r = delete_result(aws, &s, &err);
	tap_ok(r == 0 && strcmp(s.text, "store/ffff/y.cacnk:AccessDenied:Access Denied;"
			    "a&b:InternalError:We encountered an internal error. Please try again.;") == 0,
	       "AWS's: two keys failed, with their codes and messages (%d, %s)", r, s.text);
	s.stop_after = 1;
	r = delete_result(aws, &s, &err);
	tap_ok(r == -ECANCELED && strcmp(s.text, "store/ffff/y.cacnk:AccessDenied:Access Denied;") == 0,
	       "failed()'s negative return stops the parse (%d)", r);
	s.stop_after = 0;
	r = delete_result("<DeleteResult><Error><Key>k</Key></Error></DeleteResult>", &s, &err);
	tap_ok(r == 0 && strcmp(s.text, "k::;") == 0, "an Error without Code or Message (%d, %s)", r,
	       s.text);
	r = delete_result("<DeleteResult><Error><Code>AccessDenied</Code></Error></DeleteResult>", &s, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "without Key"), "an Error without Key: -EBADMSG (%s)",
	       err.message);
	r = delete_result(DECL "<Error><Code>AccessDenied</Code></Error>", &s, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "not a DeleteResult"),
	       "an error body instead: -EBADMSG (%s)", err.message);
	r = delete_result("<DeleteResult><Error><Key>k</Key>", &s, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "not well-formed"), "cut short: -EBADMSG (%s)",
	       err.message);
	{
		char *xml = tap_xmalloc(2000);

		snprintf(xml, 2000, "<DeleteResult><Error><Key>%01025d</Key></Error></DeleteResult>", 0);
		r = delete_result(xml, &s, &err);
		tap_ok(r == -EBADMSG && strstr(err.message, "longer than 1024"),
		       "a key of 1025 bytes: -EBADMSG (%s)", err.message);
		free(xml);
	}
	r = delete_result("<!DOCTYPE d [<!ENTITY k \"x\">]><DeleteResult><Error><Key>&k;</Key></Error></DeleteResult>",
			  &s, &err);
	tap_ok(r == -EBADMSG && strstr(err.message, "DOCTYPE") && !s.text[0],
	       "a DOCTYPE: -EBADMSG before any callback (%s)", err.message);
}

int main(void)
{
	test_list();
	test_error();
	test_delete_request();
	test_delete_result();
	return tap_done();
}
