/* S3 locators and credentials: see s3.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/http.h>
#include "aws-config.h"
#include "s3.h"
#include "util.h"

#define S3_PREFIX "s3+"

bool stasync_is_s3_url(const char *s)
{
	return s && (strncmp(s, S3_PREFIX "http://", 10) == 0 ||
		     strncmp(s, S3_PREFIX "https://", 11) == 0);
}

int sta_s3_url(const char *locator, char **ret, size_t *bucket_end, stasync_error *err)
{
	_cleanup_free_ char *u = NULL;
	const char *host, *bucket;
	size_t n;

	if (!stasync_is_s3_url(locator))
		return sta_error(err, -EINVAL, "%s: not an s3+http(s):// URL", locator);
	u = strdup(locator + strlen(S3_PREFIX));
	if (!u)
		return sta_error(err, -ENOMEM, "out of memory");
	/* scheme://ENDPOINT/BUCKET[/PREFIX], no query or fragment, no
	 * trailing slashes */
	u[strcspn(u, "?#")] = 0;
	host = strstr(u, "://") + 3;
	n = strlen(u);
	while (n > (size_t)(host - u) && u[n - 1] == '/')
		u[--n] = 0;
	bucket = host + strcspn(host, "/");
	if (bucket == host)
		return sta_error(err, -EINVAL, "%s: no endpoint named (s3+https://ENDPOINT/BUCKET/PREFIX)",
				 locator);
	while (*bucket == '/')
		bucket++;
	if (!*bucket)
		return sta_error(err, -EINVAL, "%s: no bucket named (s3+https://ENDPOINT/BUCKET/PREFIX)",
				 locator);
	if (bucket_end)
		*bucket_end = (size_t)(bucket - u) + strcspn(bucket, "/");
	*ret = TAKE_PTR(u);
	return 0;
}

static char *env_dup(const char *name, bool *missing)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return NULL;
	v = strdup(v);
	if (!v)
		*missing = true;
	return (char *)v;
}

/* One value of the profile: from the credentials file, else the config
 * file. 0 (perhaps none) or a negative code with a message. */
static int profile_value(const char *profile, const char *key, const char *cred_file,
			 const char *conf_file, char **ret, bool *found, stasync_error *err)
{
	_cleanup_free_ char *conf_section = NULL;
	int r = 0;

	if (cred_file)
		r = sta_aws_ini_get(cred_file, profile, key, ret, found);
	if (r < 0)
		return sta_error(err, r, "%s: cannot read: %s", cred_file, stasync_strerror(r));
	if (r > 0 || !conf_file)
		return 0;
	if (strcmp(profile, "default") == 0)
		conf_section = strdup(profile);
	else if (asprintf(&conf_section, "profile %s", profile) < 0)
		conf_section = NULL;
	if (!conf_section)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_aws_ini_get(conf_file, conf_section, key, ret, found);
	if (r < 0)
		return sta_error(err, r, "%s: cannot read: %s", conf_file, stasync_strerror(r));
	return 0;
}

int sta_s3_credentials_get(sta_s3_credentials *c, stasync_error *err)
{
	_cleanup_free_ char *cred_file = sta_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	_cleanup_free_ char *conf_file = sta_aws_file("AWS_CONFIG_FILE", "config");
	const char *named = getenv("AWS_PROFILE");
	const char *profile = named && *named ? named : "default";
	bool nomem = false, found = false, from_profile = false;
	int r;

	*c = (sta_s3_credentials){ 0 };
	c->access_key = env_dup("AWS_ACCESS_KEY_ID", &nomem);
	c->secret_key = env_dup("AWS_SECRET_ACCESS_KEY", &nomem);
	c->session_token = env_dup("AWS_SESSION_TOKEN", &nomem);
	c->region = env_dup("AWS_REGION", &nomem);
	if (!c->region && !nomem)
		c->region = env_dup("AWS_DEFAULT_REGION", &nomem);
	if (nomem)
		return sta_error(err, -ENOMEM, "out of memory");
	/* (the values are secrets: the messages name the variables only) */
	if (c->access_key && !c->secret_key)
		return sta_error(err, -EINVAL, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	if (!c->access_key && c->secret_key)
		return sta_error(err, -EINVAL, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");

	/* then the profile's, as the AWS tools read them */
	if (!c->access_key) {
		from_profile = true;
		if ((r = profile_value(profile, "aws_access_key_id", cred_file, conf_file,
				       &c->access_key, &found, err)) < 0 ||
		    (r = profile_value(profile, "aws_secret_access_key", cred_file, conf_file,
				       &c->secret_key, &found, err)) < 0 ||
		    (r = profile_value(profile, "aws_session_token", cred_file, conf_file,
				       &c->session_token, &found, err)) < 0)
			return r;
		if (!c->access_key != !c->secret_key)
			return sta_error(err, -EINVAL, "profile %s: %s without %s", profile,
					 c->access_key ? "aws_access_key_id" : "aws_secret_access_key",
					 c->access_key ? "aws_secret_access_key" : "aws_access_key_id");
	}
	if (!c->region &&
	    (r = profile_value(profile, "region", NULL, conf_file, &c->region, &found, err)) < 0)
		return r;
	if (named && *named && from_profile && !found)
		return sta_error(err, -ENOENT, "AWS_PROFILE=%s: no such profile in %s or %s", named,
				 cred_file ? cred_file : "~/.aws/credentials",
				 conf_file ? conf_file : "~/.aws/config");
	if (!c->region && !(c->region = strdup("us-east-1")))
		return sta_error(err, -ENOMEM, "out of memory");
	if (c->access_key && from_profile) {
		if (asprintf(&c->key_source, "profile %s", profile) < 0)
			c->key_source = NULL;
		if (c->session_token && asprintf(&c->token_source, "aws_session_token of profile %s",
						 profile) < 0)
			c->token_source = NULL;
	} else if (c->access_key) {
		c->key_source = strdup("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		if (c->session_token)
			c->token_source = strdup("AWS_SESSION_TOKEN");
	}
	if ((c->access_key && !c->key_source) || (c->session_token && !c->token_source))
		return sta_error(err, -ENOMEM, "out of memory");
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void sta_s3_credentials_clear(sta_s3_credentials *c)
{
	free(c->access_key);
	free_secret(c->secret_key);
	free_secret(c->session_token);
	free(c->region);
	free(c->key_source);
	free(c->token_source);
	*c = (sta_s3_credentials){ 0 };
}

int sta_s3_http_new(const char *locator, const stasync_http_options *o, sta_http **ret,
		    char **ret_url, size_t *bucket_end, stasync_error *err)
{
	_cleanup_free_ char *url = NULL;
	sta_s3_credentials cred;
	sta_http *h = NULL;
	int r;

	r = sta_s3_url(locator, &url, bucket_end, err);
	if (r < 0)
		return r;
	r = sta_s3_credentials_get(&cred, err);
	if (r == 0)
		r = sta_http_new(o, &h, err);
	/* without a key: anonymous, as for a public bucket */
	if (r == 0 && cred.access_key)
		r = sta_http_set_sigv4(h, &(sta_http_sigv4){
			.region = cred.region, .access_key = cred.access_key,
			.secret_key = cred.secret_key, .session_token = cred.session_token,
			.key_source = cred.key_source, .token_source = cred.token_source,
		}, err);
	sta_s3_credentials_clear(&cred);
	if (r < 0) {
		sta_http_free(h);
		return r;
	}
	*ret = h;
	*ret_url = TAKE_PTR(url);
	return 0;
}
