/* What an S3 error answer is explained as (sta_s3_error_explain): each
 * Code the user can act on, the region from the body or from the
 * x-amz-bucket-region header, where the keys and the token came from, and
 * nothing said when there is nothing to say. The region cases cannot be
 * had from the test server (radosgw takes any region): they are here. */
#include <stdio.h>
#include <string.h>

#include "s3-error.h"
#include "tap.h"

static void explains(const struct sta_s3_error_info *e, const char *want, const char *desc)
{
	char buf[512];
	bool said = sta_s3_error_explain(e, buf, sizeof(buf));

	tap_ok(said && strcmp(buf, want) == 0, "%s: \"%s\" (got \"%s\")", desc, want, buf);
}

int main(void)
{
	const char *env = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
	char buf[64];

	explains(&(struct sta_s3_error_info){ .code = "SignatureDoesNotMatch", .key_source = env },
		 "S3 SignatureDoesNotMatch: the key or secret is wrong (from AWS_ACCESS_KEY_ID and "
		 "AWS_SECRET_ACCESS_KEY)", "SignatureDoesNotMatch, keys from the environment");
	explains(&(struct sta_s3_error_info){ .code = "InvalidAccessKeyId", .key_source = "profile ci" },
		 "S3 InvalidAccessKeyId: the key or secret is wrong (from profile ci)",
		 "InvalidAccessKeyId, keys from a profile");
	explains(&(struct sta_s3_error_info){ .code = "SignatureDoesNotMatch" },
		 "S3 SignatureDoesNotMatch: the key or secret is wrong", "... source unknown");
	explains(&(struct sta_s3_error_info){ .code = "ExpiredToken", .token_source = "AWS_SESSION_TOKEN" },
		 "S3 ExpiredToken: the session token (AWS_SESSION_TOKEN) is expired or invalid",
		 "ExpiredToken");
	explains(&(struct sta_s3_error_info){ .code = "InvalidToken",
					       .token_source = "aws_session_token of profile ci" },
		 "S3 InvalidToken: the session token (aws_session_token of profile ci) is expired or invalid",
		 "InvalidToken, from a profile");
	explains(&(struct sta_s3_error_info){ .code = "TokenRefreshRequired" },
		 "S3 TokenRefreshRequired: the session token (AWS_SESSION_TOKEN) is expired or invalid",
		 "TokenRefreshRequired");
	explains(&(struct sta_s3_error_info){ .code = "AuthorizationHeaderMalformed",
					       .region = "eu-central-1", .message = "the region 'us-east-1' is wrong" },
		 "S3 AuthorizationHeaderMalformed: the bucket is in eu-central-1: set AWS_REGION=eu-central-1",
		 "AuthorizationHeaderMalformed with a Region");
	explains(&(struct sta_s3_error_info){ .code = "PermanentRedirect", .region = "eu-west-2",
					       .endpoint = "b.s3.eu-west-2.amazonaws.com" },
		 "S3 PermanentRedirect: the bucket is in eu-west-2: set AWS_REGION=eu-west-2",
		 "PermanentRedirect with a region (from the header)");
	explains(&(struct sta_s3_error_info){ .code = "IncorrectEndpoint", .region = "ap-south-1" },
		 "S3 IncorrectEndpoint: the bucket is in ap-south-1: set AWS_REGION=ap-south-1",
		 "IncorrectEndpoint with a region");
	explains(&(struct sta_s3_error_info){ .code = "PermanentRedirect",
					       .endpoint = "b.s3.eu-west-2.amazonaws.com" },
		 "S3 PermanentRedirect: the bucket is in another region or at another endpoint: "
		 "b.s3.eu-west-2.amazonaws.com (AWS_REGION)", "PermanentRedirect without a region");
	explains(&(struct sta_s3_error_info){ .region = "eu-north-1" },
		 "S3: the bucket is in eu-north-1: set AWS_REGION=eu-north-1",
		 "no body (a HEAD), only x-amz-bucket-region");
	explains(&(struct sta_s3_error_info){ .code = "NoSuchBucket" }, "S3 NoSuchBucket: no such bucket",
		 "NoSuchBucket");
	explains(&(struct sta_s3_error_info){ .code = "AccessDenied", .key_source = env },
		 "S3 AccessDenied: the key has no right to this on the bucket (key from "
		 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", "AccessDenied");
	explains(&(struct sta_s3_error_info){ .code = "AccessDenied", .token_source = "AWS_SESSION_TOKEN" },
		 "S3 AccessDenied: check the rights of the key on the bucket, and the session token "
		 "(AWS_SESSION_TOKEN): it may be expired or invalid", "AccessDenied with a session token");
	explains(&(struct sta_s3_error_info){ .code = "InvalidArgument", .token_source = "AWS_SESSION_TOKEN" },
		 "S3 InvalidArgument: check the session token (AWS_SESSION_TOKEN): it may be expired or invalid",
		 "InvalidArgument with a session token (radosgw's answer to one it cannot read)");
	explains(&(struct sta_s3_error_info){ .code = "InvalidArgument" }, "S3 InvalidArgument",
		 "InvalidArgument without one: the code alone");
	explains(&(struct sta_s3_error_info){ .code = "SlowDown", .message = "Please reduce your request rate." },
		 "S3 SlowDown: Please reduce your request rate.", "another code: the code and its Message");
	tap_ok(!sta_s3_error_explain(&(struct sta_s3_error_info){ .code = "" }, buf, sizeof(buf)) &&
	       !buf[0], "no code and no region: nothing said");
	tap_ok(sta_s3_error_explain(&(struct sta_s3_error_info){ .code = "SignatureDoesNotMatch",
								  .key_source = env }, buf, sizeof(buf)) &&
	       strlen(buf) == sizeof(buf) - 1, "a small buffer: cut, terminated");
	return tap_done();
}
