/* The XML of S3 answers and requests, read with expat.
 *
 * Elements are matched by their local names, whatever their namespace (S3
 * answers carry xmlns="http://s3.amazonaws.com/doc/2006-03-01/", some
 * servers none); unknown elements are skipped. A document with a DOCTYPE
 * is refused before anything in it is declared, so no entity is ever
 * expanded and nothing external is read. Every string taken from a
 * document is bounded: keys at S3_XML_KEY_MAX bytes (longer is
 * -EBADMSG), other fields truncated to fit. */
#ifndef STASYNC_LIB_S3_XML_H
#define STASYNC_LIB_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stasync/error.h>

/* S3's own limit on the length of a key, in bytes of UTF-8. */
#define S3_XML_KEY_MAX 1024
/* The longest continuation token taken from a listing. */
#define S3_XML_TOKEN_MAX 4096
/* S3 deletes at most 1000 keys per DeleteObjects request. */
#define S3_XML_DELETE_MAX 1000

/* sta_s3_xml_list() — one ListObjectsV2 page: each(key, size, ud) for
 * every <Contents> (its Key and Size), in document order; *truncated from
 * <IsTruncated> (false when absent), *next_token (malloc'd, NULL when
 * absent) from <NextContinuationToken>. Returns 0; -EBADMSG with a message
 * (not XML, not a ListBucketResult, a Contents without Key or with a
 * missing or bad Size, a key or token too long); -ENOMEM; or each()'s
 * negative return, which stops the parse. each() runs as the page is
 * parsed: it may have been called for earlier entries of a page that
 * then turns out malformed. *next_token is NULL on failure. */
int sta_s3_xml_list(const void *xml, size_t n, int (*each)(const char *key, uint64_t size, void *ud),
		    void *ud, bool *truncated, char **next_token, stasync_error *err);

/* An S3 error body <Error><Code/><Message/><Region/><Endpoint/>…</Error>;
 * fields truncated to fit (at a character boundary, control characters
 * turned into spaces), "" when absent. A struct tag only, no typedef: the
 * function below has the name. */
struct sta_s3_xml_error {
	char code[64];
	char message[256];
	char region[64];
	char endpoint[256];
};

/* sta_s3_xml_error() — 0 when the bytes are such a body, -EBADMSG when
 * not (no message: most error pages are not S3's). */
int sta_s3_xml_error(const void *xml, size_t n, struct sta_s3_xml_error *ret);

/* sta_s3_xml_delete_request() — the DeleteObjects request body for n keys
 * (1 to S3_XML_DELETE_MAX), <Delete><Quiet>true</Quiet><Object><Key>…
 * </Key></Object>…</Delete>, keys XML-escaped: *ret malloc'd (NUL
 * terminated), *ret_size its length. -EINVAL with a message for an empty
 * key, one longer than S3_XML_KEY_MAX, one holding a control character or
 * invalid UTF-8, or n out of range; -ENOMEM. */
int sta_s3_xml_delete_request(const char *const *keys, size_t n, char **ret, size_t *ret_size,
			      stasync_error *err);

/* sta_s3_xml_delete_result() — a DeleteObjects answer: failed(key, code,
 * message, ud) for each <Error> element (code and message "" when absent);
 * <Deleted> ones are ignored. 0; -EBADMSG with a message (not XML, not a
 * DeleteResult, an Error without Key or with one too long); -ENOMEM; or
 * failed()'s negative return, which stops the parse. */
int sta_s3_xml_delete_result(const void *xml, size_t n,
			     int (*failed)(const char *key, const char *code, const char *message,
					   void *ud),
			     void *ud, stasync_error *err);

#endif
