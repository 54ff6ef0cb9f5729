/* S3 locators and credentials: see s3.h. */
#include <stdlib.h>
#include <string.h>

#include <stasync/http.h>
#include "s3.h"
#include "util.h"

#define S3_PREFIX "s3+"

bool stasync_is_s3_url(const char *s)
{
	return s && (strncmp(s, S3_PREFIX "http://", 10) == 0 ||
		     strncmp(s, S3_PREFIX "https://", 11) == 0);
}

int sta_s3_url(const char *locator, char **ret, stasync_error *err)
{
	const char *url = locator + strlen(S3_PREFIX);
	const char *host = strstr(url, "://") + 3;
	const char *path = strchr(host, '/');
	char *u;
	size_t n;

	/* the endpoint, then at least a bucket's name */
	while (path && path[1] == '/')
		path++;
	if (!path || !path[1] || path[1] == '?' || path == host)
		return sta_error(err, -EINVAL, "%s: no bucket named (s3+https://ENDPOINT/BUCKET/PREFIX)",
				 locator);
	u = strdup(url);
	if (!u)
		return sta_error(err, -ENOMEM, "out of memory");
	/* drop a query or fragment, then trailing slashes */
	u[strcspn(u, "?#")] = 0;
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = 0;
	*ret = u;
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

int sta_s3_credentials_get(sta_s3_credentials *c, stasync_error *err)
{
	bool nomem = false;

	*c = (sta_s3_credentials){ 0 };
	c->access_key = env_dup("AWS_ACCESS_KEY_ID", &nomem);
	c->secret_key = env_dup("AWS_SECRET_ACCESS_KEY", &nomem);
	c->session_token = env_dup("AWS_SESSION_TOKEN", &nomem);
	c->region = env_dup("AWS_REGION", &nomem);
	if (!c->region && !nomem)
		c->region = env_dup("AWS_DEFAULT_REGION", &nomem);
	if (!c->region && !nomem && !(c->region = strdup("us-east-1")))
		nomem = true;
	if (nomem)
		return sta_error(err, -ENOMEM, "out of memory");
	/* (the values are secrets: the messages name the variables only) */
	if (c->access_key && !c->secret_key)
		return sta_error(err, -EINVAL, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	if (!c->access_key && c->secret_key)
		return sta_error(err, -EINVAL, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
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
	*c = (sta_s3_credentials){ 0 };
}

int sta_s3_http_new(const char *locator, const stasync_http_options *o, sta_http **ret,
		    char **ret_url, stasync_error *err)
{
	_cleanup_free_ char *url = NULL;
	sta_s3_credentials cred;
	sta_http *h = NULL;
	int r;

	r = sta_s3_url(locator, &url, err);
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
