/* S3 locators and credentials.
 *
 * A store in a bucket is s3+https://ENDPOINT/BUCKET[/PREFIX] (or s3+http://),
 * desync's spelling, or s3://BUCKET[/PREFIX], the AWS CLI's, whose endpoint
 * is configured (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's) or
 * AWS's own for the region. Its chunks are PREFIX/<4 hex>/<64 hex>.cacnk, as
 * in a local store. Requests go path-style to http(s)://ENDPOINT/BUCKET/PREFIX
 * or virtual-hosted-style to http(s)://BUCKET.ENDPOINT/PREFIX (see
 * stasync_s3_addressing).
 * Credentials come from where every S3 tool reads them: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the profile AWS_PROFILE
 * (or "default") of ~/.aws/credentials and ~/.aws/config (or the files
 * AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name); the region from
 * AWS_REGION or AWS_DEFAULT_REGION, else the profile's, else us-east-1. No
 * key means anonymous requests, for a public bucket. */
#ifndef STASYNC_LIB_S3_H
#define STASYNC_LIB_S3_H

#include <stdbool.h>
#include <stasync/error.h>
#include "http.h"

/* sta_s3_http_new() — an HTTP handle for an S3 locator's requests, signed
 * with the credentials of the environment (anonymous without them), and
 * the plain URL they go to in *ret_url (free() it), as sta_s3_url() gives
 * it for the environment's endpoint and o->s3_addressing (o may be NULL).
 * 0 or a negative code with a message. */
int sta_s3_http_new(const char *locator, const stasync_http_options *o, sta_http **ret,
		    char **ret_url, size_t *bucket_end, stasync_error *err);

typedef struct sta_s3_credentials {
	char *access_key;    /* NULL: anonymous */
	char *secret_key;
	char *session_token; /* NULL: none */
	char *region;
	/* The endpoint of s3:// locators (NULL: AWS's for the region), and
	 * where it was set, for messages: AWS_ENDPOINT_URL_S3,
	 * AWS_ENDPOINT_URL, "profile NAME's endpoint_url", … It is checked
	 * when used. */
	char *endpoint;
	char *endpoint_from;
	/* the profile's "s3 =" "addressing_style" (DEFAULT: not set) */
	stasync_s3_addressing addressing;
} sta_s3_credentials;

/* sta_s3_credentials_get() — from the environment and the AWS files. 0,
 * or with a message -EINVAL (a key without its secret, or the other way
 * round; an addressing_style not auto, path or virtual), -ENOENT
 * (AWS_PROFILE names no profile), -errno (a file that cannot be read) or
 * -ENOMEM; clear it with sta_s3_credentials_clear() either way. The
 * endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else the s3
 * endpoint_url of the profile's services section, else the profile's
 * endpoint_url (the AWS CLI's order); none when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. */
int sta_s3_credentials_get(sta_s3_credentials *c, stasync_error *err);
void sta_s3_credentials_clear(sta_s3_credentials *c);

/* sta_s3_url() — the plain URL of an S3 locator's bucket and prefix (or
 * object), without query, fragment or trailing "/": *ret (free() it), and
 * in *bucket_end (may be NULL) the length of its first part that is the
 * bucket's root ("http://h/BUCKET" path-style, "http://BUCKET.h"
 * virtual-hosted). The endpoint is the locator's (s3+http(s)://), else
 * c->endpoint, else https://s3.REGION.amazonaws.com; the addressing `a`,
 * else c->addressing, else auto. Reads nothing from the environment.
 * -EINVAL with a message when the locator names no endpoint or no bucket
 * (or one with characters S3 bucket names never have),
 * for an endpoint that is no http(s) URL, a region that is no name, or a
 * bucket that cannot be a host name when virtual-hosted is asked for;
 * -ENOMEM. */
int sta_s3_url(const char *locator, const sta_s3_credentials *c, stasync_s3_addressing a,
	       char **ret, size_t *bucket_end, stasync_error *err);

#endif
