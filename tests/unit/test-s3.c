/* S3 locators taken apart (sta_s3_url), the AWS tools' INI files read
 * (sta_aws_ini_get), and where credentials and the region come from
 * (sta_s3_credentials_get): the variables first, then the profile. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stasync/http.h>
#include "aws-config.h"
#include "s3.h"
#include "tap.h"

static void url_case(const char *locator, const char *want, size_t want_bucket_end)
{
	stasync_error err = { 0, "" };
	size_t end = 0;
	char *url = NULL;
	int r = sta_s3_url(locator, &url, &end, &err);

	if (want)
		tap_ok(r == 0 && url && strcmp(url, want) == 0 && end == want_bucket_end,
		       "%s → %s, the bucket's part %zu bytes (got %d, %s, %zu)", locator, want,
		       want_bucket_end, r, url ? url : "-", end);
	else
		tap_ok(r == -EINVAL && strstr(err.message, locator) && !url,
		       "%s refused: %s", locator, err.message);
	free(url);
}

static void test_urls(void)
{
	tap_ok(stasync_is_s3_url("s3+http://h/b") && stasync_is_s3_url("s3+https://h/b") &&
	       !stasync_is_s3_url("s3://h/b") && !stasync_is_s3_url("http://h/b") &&
	       !stasync_is_s3_url(NULL), "stasync_is_s3_url: s3+http:// and s3+https:// only");
	url_case("s3+https://s3.example.com/bucket/a/prefix", "https://s3.example.com/bucket/a/prefix",
		 strlen("https://s3.example.com/bucket"));
	url_case("s3+http://127.0.0.1:9000/b/", "http://127.0.0.1:9000/b", strlen("http://127.0.0.1:9000/b"));
	url_case("s3+http://h/b/p/?x=1#y", "http://h/b/p", strlen("http://h/b"));
	url_case("s3+http://h/b/x.caidx", "http://h/b/x.caidx", strlen("http://h/b"));
	url_case("s3+http://h", NULL, 0);
	url_case("s3+http://h/", NULL, 0);
	url_case("s3+https://", NULL, 0);
	url_case("s3+https:///b", NULL, 0);
	url_case("s3+https://#x=/y", NULL, 0);
	url_case("s3+http://h/?b", NULL, 0);
	url_case("http://h/b", NULL, 0);
}

static void test_ini(void)
{
	const char *path = tap_tmp_path("credentials");
	const char text[] =
		"# comment\n"
		"[default]\n"
		"aws_access_key_id = AKDEFAULT\n"
		"  aws_secret_access_key=SECRET DEFAULT  \r\n"
		"\n"
		"[ci]\n"
		"; another comment\n"
		"AWS_ACCESS_KEY_ID = AKCI\n"
		"region = eu-west-3\n"
		"[profile ci]\n"
		"region = ap-south-1\n";
	bool found = false;
	char *v = NULL;
	int r;

	tap_write_file(path, text, strlen(text));
	r = sta_aws_ini_get(path, "default", "aws_secret_access_key", &v, &found);
	tap_ok(r == 1 && found && strcmp(v, "SECRET DEFAULT") == 0,
	       "a value with blanks around it and a CR at the end (got %d, '%s')", r, v ? v : "-");
	free(v);
	found = false;
	r = sta_aws_ini_get(path, "ci", "aws_access_key_id", &v, &found);
	tap_ok(r == 1 && strcmp(v, "AKCI") == 0, "keys in any case, in their own section only");
	free(v);
	r = sta_aws_ini_get(path, "profile ci", "region", &v, &found);
	tap_ok(r == 1 && strcmp(v, "ap-south-1") == 0, "a [profile NAME] section");
	free(v);
	found = false;
	r = sta_aws_ini_get(path, "ci", "aws_session_token", &v, &found);
	tap_ok(r == 0 && !v && found, "a key not there: 0, the section found");
	found = false;
	r = sta_aws_ini_get(path, "nosuch", "region", &v, &found);
	tap_ok(r == 0 && !v && !found, "a section not there: 0, not found");
	r = sta_aws_ini_get(tap_tmp_path("missing"), "default", "region", &v, &found);
	tap_ok(r == 0 && !v, "a file not there: 0");
}

static void clear_env(void)
{
	const char *const names[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

static void test_credentials(void)
{
	const char *cred = tap_tmp_path("cred"), *conf = tap_tmp_path("conf");
	const char cred_text[] = "[default]\naws_access_key_id = AKD\naws_secret_access_key = SD\n"
				 "[ci]\naws_access_key_id = AKCI\naws_secret_access_key = SCI\n"
				 "aws_session_token = TCI\n[half]\naws_access_key_id = AKH\n";
	const char conf_text[] = "[default]\nregion = eu-north-1\n[profile ci]\nregion = us-west-2\n";
	stasync_error err = { 0, "" };
	sta_s3_credentials c;
	int r;

	tap_write_file(cred, cred_text, strlen(cred_text));
	tap_write_file(conf, conf_text, strlen(conf_text));
	clear_env();
	setenv("HOME", tap_tmpdir(), 1);   /* no ~/.aws there */
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && !c.access_key && !c.secret_key && strcmp(c.region, "us-east-1") == 0 &&
	       !c.key_source && !c.token_source, "nothing set: anonymous, us-east-1");
	sta_s3_credentials_clear(&c);

	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.access_key, "AKD") == 0 && strcmp(c.secret_key, "SD") == 0 &&
	       !c.session_token && strcmp(c.region, "eu-north-1") == 0,
	       "the default profile's keys and region");
	sta_s3_credentials_clear(&c);

	setenv("AWS_PROFILE", "ci", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.access_key, "AKCI") == 0 && strcmp(c.session_token, "TCI") == 0 &&
	       strcmp(c.region, "us-west-2") == 0, "AWS_PROFILE=ci: its keys, token and region");
	tap_ok(r == 0 && c.key_source && strcmp(c.key_source, "profile ci") == 0 && c.token_source &&
	       strcmp(c.token_source, "aws_session_token of profile ci") == 0,
	       "... said to come from the profile (for messages)");
	sta_s3_credentials_clear(&c);

	setenv("AWS_REGION", "sa-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SENV", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.access_key, "AKENV") == 0 && !c.session_token &&
	       strcmp(c.region, "sa-east-1") == 0, "the variables before the profile");
	tap_ok(r == 0 && c.key_source &&
	       strcmp(c.key_source, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") == 0 && !c.token_source,
	       "... said to come from the variables, no token");
	sta_s3_credentials_clear(&c);

	unsetenv("AWS_SECRET_ACCESS_KEY");
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == -EINVAL && strstr(err.message, "AWS_SECRET_ACCESS_KEY") && !strstr(err.message, "AKENV"),
	       "a key without its secret: refused, naming the variable, not the key");
	sta_s3_credentials_clear(&c);

	clear_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	setenv("AWS_PROFILE", "half", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == -EINVAL && strstr(err.message, "half") && !strstr(err.message, "AKH"),
	       "a profile with a key and no secret: refused (%s)", err.message);
	sta_s3_credentials_clear(&c);

	setenv("AWS_PROFILE", "nosuch", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == -ENOENT && strstr(err.message, "AWS_PROFILE=nosuch"), "a profile not there: %s",
	       err.message);
	sta_s3_credentials_clear(&c);
	clear_env();
}

int main(void)
{
	test_urls();
	test_ini();
	test_credentials();
	return tap_done();
}
