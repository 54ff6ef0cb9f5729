/* S3 locators and credentials.
 *
 * A store in a bucket is s3+https://ENDPOINT/BUCKET[/PREFIX] (or s3+http://),
 * desync's spelling; its chunks are PREFIX/<4 hex>/<64 hex>.cacnk, as in a
 * local store. Requests go path-style to http(s)://ENDPOINT/BUCKET/PREFIX.
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

/* sta_s3_url() — the plain URL of an S3 locator's bucket and prefix (or
 * object), without query, fragment or trailing "/": *ret (free() it), and
 * in *bucket_end (may be NULL) the length of its "scheme://ENDPOINT/BUCKET"
 * part. -EINVAL with a message when the locator names no endpoint or no
 * bucket, -ENOMEM. */
int sta_s3_url(const char *locator, char **ret, size_t *bucket_end, stasync_error *err);

/* sta_s3_http_new() — an HTTP handle for an S3 locator's requests, signed
 * with the credentials of the environment (anonymous without them), and
 * the plain URL they go to in *ret_url (free() it), as sta_s3_url() gives
 * it. 0 or a negative code with a message. */
int sta_s3_http_new(const char *locator, const stasync_http_options *o, sta_http **ret,
		    char **ret_url, size_t *bucket_end, stasync_error *err);

typedef struct sta_s3_credentials {
	char *access_key;    /* NULL: anonymous */
	char *secret_key;
	char *session_token; /* NULL: none */
	char *region;
	/* where the keys and the token came from, for messages ("profile ci");
	 * NULL with no key, or no token */
	char *key_source, *token_source;
} sta_s3_credentials;

/* sta_s3_credentials_get() — from the environment and the AWS files. 0,
 * or with a message -EINVAL (a key without its secret, or the other way
 * round), -ENOENT (AWS_PROFILE names no profile), -errno (a file that
 * cannot be read) or -ENOMEM; clear it with sta_s3_credentials_clear()
 * either way. */
int sta_s3_credentials_get(sta_s3_credentials *c, stasync_error *err);
void sta_s3_credentials_clear(sta_s3_credentials *c);

#endif
