/* S3 locators and credentials: see s3.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/http.h>
#include "aws-config.h"
#include "s3.h"
#include "util.h"

#include <ctype.h>
#include <strings.h>

#define S3_PREFIX "s3+"
#define S3_SHORT "s3://"

bool stasync_is_s3_url(const char *s)
{
	return s && (strncmp(s, S3_PREFIX "http://", 10) == 0 ||
		     strncmp(s, S3_PREFIX "https://", 11) == 0 || strncmp(s, S3_SHORT, 5) == 0);
}

/* An endpoint URL, http(s)://[USERINFO@]HOST[:PORT][/PATH], taken apart:
 * offsets into s. */
struct endpoint {
	const char *s;
	size_t host, host_end;   /* HOST, after any USERINFO@ */
	size_t len;              /* without trailing "/" */
	bool https;
};

static int endpoint_parse(const char *s, size_t n, const char *from, struct endpoint *e,
			  stasync_error *err)
{
	size_t scheme, auth_end, at;

	*e = (struct endpoint){ .s = s };
	if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
		scheme = 7;
	else if (n >= 8 && strncasecmp(s, "https://", 8) == 0) {
		scheme = 8;
		e->https = true;
	} else
		goto bad;
	while (n > scheme && s[n - 1] == '/')
		n--;
	e->len = n;
	if (memchr(s, '?', n) || memchr(s, '#', n))
		goto bad;
	auth_end = scheme + strcspn(s + scheme, "/");
	if (auth_end > n)
		auth_end = n;
	at = scheme;
	for (size_t i = scheme; i < auth_end; i++)
		if (s[i] == '@')
			at = i + 1;
	e->host = at;
	if (s[at] == '[') {   /* an IPv6 address */
		const char *close = memchr(s + at, ']', auth_end - at);

		if (!close)
			goto bad;
		e->host_end = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s + at, ':', auth_end - at);

		e->host_end = colon ? (size_t)(colon - s) : auth_end;
	}
	if (e->host_end == e->host)
		goto bad;
	return 0;
bad: {
	_cleanup_free_ char *v = strndup(s, n), *shown = v ? stasync_url_redact(v) : NULL;

	if (!shown)
		return sta_error(err, -ENOMEM, "out of memory");
	return sta_error(err, -EINVAL, "%s: %s: expected http(s)://HOST[:PORT][/PATH]", from, shown);
}
}

static bool has_suffix_nocase(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* AWS's own endpoints, where buckets are host names. */
static bool endpoint_is_aws(const struct endpoint *e)
{
	const char *h = e->s + e->host;
	size_t n = e->host_end - e->host;

	return has_suffix_nocase(h, n, ".amazonaws.com") ||
	       has_suffix_nocase(h, n, ".amazonaws.com.cn");
}

/* Not an IP address: a name a bucket's name can go in front of. */
static bool endpoint_is_name(const struct endpoint *e)
{
	const char *h = e->s + e->host;
	size_t n = e->host_end - e->host;

	return h[0] != '[' && strspn(h, "0123456789.") < n;
}

/* A bucket name that can be a host name: 3 to 63 lowercase letters,
 * digits, "-" (and "." between labels, when dots are allowed: over https
 * they do not match AWS's wildcard certificate), not an IPv4 address. */
static bool bucket_is_dns(const char *b, size_t n, bool dots)
{
	if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')
			continue;
		if (ch != '.' || !dots || b[i + 1] == '.' || b[i + 1] == '-' || b[i - 1] == '-')
			return false;
	}
	return !(strspn(b, "0123456789.") >= n && memchr(b, '.', n));
}

/* The URL of key (may be "") in bucket at endpoint e, as a says. */
static int url_build(const struct endpoint *e, const char *bucket, size_t bucket_len,
		     const char *key, stasync_s3_addressing a, char **ret, size_t *bucket_end,
		     stasync_error *err)
{
	int k;

	if (a == STASYNC_S3_ADDRESSING_AUTO)
		a = endpoint_is_aws(e) && bucket_is_dns(bucket, bucket_len, !e->https) ?
			    STASYNC_S3_ADDRESSING_VIRTUAL : STASYNC_S3_ADDRESSING_PATH;
	if (a == STASYNC_S3_ADDRESSING_VIRTUAL) {
		if (!bucket_is_dns(bucket, bucket_len, true))
			return sta_error(err, -EINVAL, "bucket %.*s: virtual-hosted addressing needs a name "
					 "of 3 to 63 lowercase letters, digits, '-' and '.'",
					 (int)bucket_len, bucket);
		if (!endpoint_is_name(e))
			return sta_error(err, -EINVAL, "bucket %.*s: virtual-hosted addressing needs an "
					 "endpoint with a host name, not an IP address",
					 (int)bucket_len, bucket);
		/* scheme://[USERINFO@]BUCKET.HOST[:PORT][/PATH] */
		k = asprintf(ret, "%.*s%.*s.%.*s", (int)e->host, e->s, (int)bucket_len, bucket,
			     (int)(e->len - e->host), e->s + e->host);
		if (k >= 0 && bucket_end)
			*bucket_end = (size_t)k;
	} else {
		k = asprintf(ret, "%.*s/%.*s", (int)e->len, e->s, (int)bucket_len, bucket);
		if (k >= 0 && bucket_end)
			*bucket_end = (size_t)k;
	}
	if (k >= 0 && *key) {
		char *whole;

		k = asprintf(&whole, "%s/%s", *ret, key);
		free(*ret);
		*ret = k >= 0 ? whole : NULL;
	}
	if (k < 0) {
		*ret = NULL;
		return sta_error(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int sta_s3_url(const char *locator, const sta_s3_credentials *c, stasync_s3_addressing a,
	       char **ret, size_t *bucket_end, stasync_error *err)
{
	_cleanup_free_ char *u = NULL, *aws = NULL, *shown = NULL;
	const char *ep, *from, *start, *bucket, *key;
	const char *region = c && c->region ? c->region : "us-east-1";
	struct endpoint e;
	size_t n, ep_len, bucket_len;
	bool s_short = strncmp(locator, S3_SHORT, 5) == 0;
	int r;

	*ret = NULL;
	/* (messages show the locator without a password) */
	u = strdup(locator);
	shown = stasync_url_redact(locator);
	if (!u || !shown)
		return sta_error(err, -ENOMEM, "out of memory");
	if (!stasync_is_s3_url(locator))
		return sta_error(err, -EINVAL, "%s: not an S3 URL (s3://BUCKET/PREFIX or "
				 "s3+http(s)://ENDPOINT/BUCKET/PREFIX)", shown);
	/* no query or fragment, no trailing slashes */
	u[strcspn(u, "?#")] = 0;
	start = strstr(u, "://") + 3;
	n = strlen(u);
	while (n > (size_t)(start - u) && u[n - 1] == '/')
		u[--n] = 0;
	if (s_short) {
		bucket = start;
		if (!*bucket || *bucket == '/')
			return sta_error(err, -EINVAL, "%s: no bucket named (s3://BUCKET/PREFIX)", shown);
		if (c && c->endpoint) {
			ep = c->endpoint;
			from = c->endpoint_from ? c->endpoint_from : "the S3 endpoint";
		} else {
			if (!*region || strlen(region) > 64 ||
			    strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
				return sta_error(err, -EINVAL, "region %s: not a region name", region);
			if (asprintf(&aws, "https://s3.%s.amazonaws.com", region) < 0) {
				aws = NULL;
				return sta_error(err, -ENOMEM, "out of memory");
			}
			ep = aws;
			from = "AWS's endpoint for the region";
		}
		ep_len = strlen(ep);
	} else {
		/* the locator's own endpoint: s3+ cut off */
		ep = u + strlen(S3_PREFIX);
		ep_len = (size_t)(start - ep) + strcspn(start, "/");
		from = shown;
		if (ep + ep_len == start)
			return sta_error(err, -EINVAL, "%s: no endpoint named (s3+https://ENDPOINT/BUCKET/PREFIX)",
					 shown);
		bucket = ep + ep_len;
		while (*bucket == '/')
			bucket++;
		if (!*bucket)
			return sta_error(err, -EINVAL, "%s: no bucket named (s3+https://ENDPOINT/BUCKET/PREFIX)",
					 shown);
	}
	bucket_len = strcspn(bucket, "/");
	key = bucket[bucket_len] ? bucket + bucket_len + 1 : "";
	/* (S3's names, old ones included: nothing that could end up in a
	 * host name as user info, a port or another host) */
	if (bucket_len > 255 || strspn(bucket, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789.-_") < bucket_len)
		return sta_error(err, -EINVAL, "%s: not a bucket name (letters, digits, '.', '-', '_')",
				 shown);
	r = endpoint_parse(ep, ep_len, from, &e, err);
	if (r < 0)
		return r;
	if (a == STASYNC_S3_ADDRESSING_DEFAULT)
		a = c && c->addressing ? c->addressing : STASYNC_S3_ADDRESSING_AUTO;
	return url_build(&e, bucket, bucket_len, key, a, ret, bucket_end, err);
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

/* The config file's section of a profile: [default] or [profile NAME]. */
static char *conf_section_of(const char *profile)
{
	char *s;

	if (strcmp(profile, "default") == 0)
		return strdup(profile);
	return asprintf(&s, "profile %s", profile) < 0 ? NULL : s;
}

/* One value of the profile: from the credentials file, else the config
 * file; with subkey, the one nested under key in the config file. 0
 * (perhaps none) or a negative code with a message. */
static int profile_value_nested(const char *profile, const char *key, const char *subkey,
				const char *cred_file, const char *conf_file, char **ret,
				bool *found, stasync_error *err)
{
	_cleanup_free_ char *conf_section = NULL;
	int r = 0;

	if (cred_file && !subkey)
		r = sta_aws_ini_get(cred_file, profile, key, ret, found);
	if (r < 0)
		return sta_error(err, r, "%s: cannot read: %s", cred_file, stasync_strerror(r));
	if (r > 0 || !conf_file)
		return 0;
	conf_section = conf_section_of(profile);
	if (!conf_section)
		return sta_error(err, -ENOMEM, "out of memory");
	r = sta_aws_ini_get_nested(conf_file, conf_section, key, subkey, ret, found);
	if (r < 0)
		return sta_error(err, r, "%s: cannot read: %s", conf_file, stasync_strerror(r));
	return 0;
}

static int profile_value(const char *profile, const char *key, const char *cred_file,
			 const char *conf_file, char **ret, bool *found, stasync_error *err)
{
	return profile_value_nested(profile, key, NULL, cred_file, conf_file, ret, found, err);
}

static bool is_true(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

/* The endpoint of s3:// locators, in the AWS CLI's order: the variables,
 * the profile's services section, the profile's own endpoint_url. */
static int endpoint_get(sta_s3_credentials *c, const char *profile, const char *conf_file,
			bool *found, stasync_error *err)
{
	static const char *const vars[] = { "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL" };
	_cleanup_free_ char *ignore = NULL, *services = NULL, *section = NULL;
	const char *v = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	bool nomem = false, in_services = false;
	int r;

	if (v && *v) {
		if (is_true(v))
			return 0;
	} else {
		r = profile_value(profile, "ignore_configured_endpoint_urls", NULL, conf_file, &ignore,
				  found, err);
		if (r < 0)
			return r;
		if (is_true(ignore))
			return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
		c->endpoint = env_dup(vars[i], &nomem);
		if (nomem)
			return sta_error(err, -ENOMEM, "out of memory");
		if (c->endpoint) {
			c->endpoint_from = strdup(vars[i]);
			return c->endpoint_from ? 0 : sta_error(err, -ENOMEM, "out of memory");
		}
	}
	if (!conf_file)
		return 0;
	r = profile_value(profile, "services", NULL, conf_file, &services, found, err);
	if (r < 0)
		return r;
	if (services && *services) {
		if (asprintf(&section, "services %s", services) < 0) {
			section = NULL;
			return sta_error(err, -ENOMEM, "out of memory");
		}
		r = sta_aws_ini_get_nested(conf_file, section, "s3", "endpoint_url", &c->endpoint,
					   &in_services);
		if (r < 0)
			return sta_error(err, r, "%s: cannot read: %s", conf_file, stasync_strerror(r));
		if (c->endpoint && *c->endpoint) {
			if (asprintf(&c->endpoint_from, "%s: [services %s] s3 endpoint_url", conf_file,
				     services) < 0)
				c->endpoint_from = NULL;
			return c->endpoint_from ? 0 : sta_error(err, -ENOMEM, "out of memory");
		}
		free(c->endpoint);
		c->endpoint = NULL;
	}
	r = profile_value(profile, "endpoint_url", NULL, conf_file, &c->endpoint, found, err);
	if (r < 0)
		return r;
	if (c->endpoint && *c->endpoint) {
		if (asprintf(&c->endpoint_from, "%s: profile %s's endpoint_url", conf_file, profile) < 0)
			c->endpoint_from = NULL;
		return c->endpoint_from ? 0 : sta_error(err, -ENOMEM, "out of memory");
	}
	free(c->endpoint);
	c->endpoint = NULL;
	return 0;
}

/* The profile's "s3 =" "addressing_style", as the AWS CLI has it. */
static int addressing_get(sta_s3_credentials *c, const char *profile, const char *conf_file,
			  bool *found, stasync_error *err)
{
	_cleanup_free_ char *v = NULL;
	int r;

	r = profile_value_nested(profile, "s3", "addressing_style", NULL, conf_file, &v, found, err);
	if (r < 0 || !v || !*v)
		return r;
	if (strcmp(v, "auto") == 0)
		c->addressing = STASYNC_S3_ADDRESSING_AUTO;
	else if (strcmp(v, "path") == 0)
		c->addressing = STASYNC_S3_ADDRESSING_PATH;
	else if (strcmp(v, "virtual") == 0)
		c->addressing = STASYNC_S3_ADDRESSING_VIRTUAL;
	else
		return sta_error(err, -EINVAL, "%s: profile %s: s3 addressing_style = %s: expected "
				 "auto, path or virtual", conf_file, profile, v);
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
	if ((r = endpoint_get(c, profile, conf_file, &found, err)) < 0 ||
	    (r = addressing_get(c, profile, conf_file, &found, err)) < 0)
		return r;
	if (named && *named && from_profile && !found)
		return sta_error(err, -ENOENT, "AWS_PROFILE=%s: no such profile in %s or %s", named,
				 cred_file ? cred_file : "~/.aws/credentials",
				 conf_file ? conf_file : "~/.aws/config");
	if (!c->region && !(c->region = strdup("us-east-1")))
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
	free(c->endpoint);
	free(c->endpoint_from);
	*c = (sta_s3_credentials){ 0 };
}

int sta_s3_http_new(const char *locator, const stasync_http_options *o, sta_http **ret,
		    char **ret_url, size_t *bucket_end, stasync_error *err)
{
	_cleanup_free_ char *url = NULL;
	sta_s3_credentials cred;
	sta_http *h = NULL;
	int r;

	r = sta_s3_credentials_get(&cred, err);
	if (r == 0)
		r = sta_s3_url(locator, &cred, o ? o->s3_addressing : STASYNC_S3_ADDRESSING_DEFAULT,
			       &url, bucket_end, err);
	if (r == 0)
		r = sta_http_new(o, &h, err);
	/* without a key: anonymous, as for a public bucket */
	if (r == 0 && cred.access_key)
		r = sta_http_set_sigv4(h, &(sta_http_sigv4){
			.region = cred.region, .access_key = cred.access_key,
			.secret_key = cred.secret_key, .session_token = cred.session_token,
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
