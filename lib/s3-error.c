/* What an S3 error answer means: see s3-error.h. */
#include <stdio.h>
#include <string.h>

#include "s3-error.h"
#include "util.h"

static bool is(const char *code, const char *name)
{
	return strcmp(code, name) == 0;
}

static bool set(const char *s)
{
	return s && *s;
}

bool sta_s3_error_explain(const struct sta_s3_error_info *e, char *buf, size_t n)
{
	const char *code = set(e->code) ? e->code : "";
	const char *keys = set(e->key_source) ? e->key_source : NULL;
	const char *token = set(e->token_source) ? e->token_source : NULL;

	buf[0] = 0;
	if (!*code && !set(e->region))
		return false;
	if (is(code, "SignatureDoesNotMatch") || is(code, "InvalidAccessKeyId"))
		snprintf(buf, n, "S3 %s: the key or secret is wrong%s%s%s", code,
			 keys ? " (from " : "", keys ? keys : "", keys ? ")" : "");
	else if (is(code, "ExpiredToken") || is(code, "InvalidToken") ||
		 is(code, "TokenRefreshRequired"))
		snprintf(buf, n, "S3 %s: the session token (%s) is expired or invalid", code,
			 token ? token : "AWS_SESSION_TOKEN");
	else if (set(e->region) && (!*code || is(code, "AuthorizationHeaderMalformed") ||
				    is(code, "PermanentRedirect") || is(code, "IncorrectEndpoint")))
		/* (the header names the region even where the body does not) */
		snprintf(buf, n, "S3%s%s: the bucket is in %s: set AWS_REGION=%s", *code ? " " : "",
			 code, e->region, e->region);
	else if (is(code, "AuthorizationHeaderMalformed") || is(code, "PermanentRedirect") ||
		 is(code, "IncorrectEndpoint"))
		snprintf(buf, n, "S3 %s: the bucket is in another region or at another endpoint%s%s "
			 "(AWS_REGION)", code, set(e->endpoint) ? ": " : "",
			 set(e->endpoint) ? e->endpoint : "");
	else if (is(code, "NoSuchBucket"))
		snprintf(buf, n, "S3 %s: no such bucket", code);
	else if (is(code, "InvalidArgument") && token)
		/* radosgw's answer to a session token it cannot read */
		snprintf(buf, n, "S3 %s: check the session token (%s): it may be expired or invalid",
			 code, token);
	else if (is(code, "AccessDenied") && token)
		/* servers say AccessDenied for a session token they do not
		 * know (radosgw) as for a lack of rights */
		snprintf(buf, n, "S3 %s: check the rights of the key on the bucket, and the session "
			 "token (%s): it may be expired or invalid", code, token);
	else if (is(code, "AccessDenied"))
		snprintf(buf, n, "S3 %s: the key has no right to this on the bucket%s%s%s", code,
			 keys ? " (key from " : "", keys ? keys : "", keys ? ")" : "");
	else if (set(e->message))
		snprintf(buf, n, "S3 %s: %s", code, e->message);
	else
		snprintf(buf, n, "S3 %s", code);
	return true;
}
