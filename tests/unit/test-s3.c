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

/* sta_s3_url(locator) with credentials c (NULL: none) and addressing a:
 * want (NULL: refused, the message holding `why`), the bucket's root the
 * first want_root bytes of it. */
static void url_case_with(const char *locator, const sta_s3_credentials *c,
			  stasync_s3_addressing a, const char *want, const char *want_root,
			  const char *why)
{
	stasync_error err = { 0, "" };
	size_t end = 0;
	char *url = NULL;
	int r = sta_s3_url(locator, c, a, &url, &end, &err);

	if (want)
		tap_ok(r == 0 && url && strcmp(url, want) == 0 && end == strlen(want_root) &&
		       strncmp(url, want_root, end) == 0,
		       "%s → %s, the bucket's root %s (got %d, %s, %zu) %s", locator, want, want_root,
		       r, url ? url : err.message, end, why ? why : "");
	else
		tap_ok(r == -EINVAL && strstr(err.message, why) && !strstr(err.message, "secret") && !url,
		       "%s refused: %s", locator, err.message);
	free(url);
}

static void url_case(const char *locator, const char *want, const char *want_root)
{
	url_case_with(locator, NULL, STASYNC_S3_ADDRESSING_DEFAULT, want, want_root,
		      want ? NULL : locator);
}

static void test_urls(void)
{
	tap_ok(stasync_is_s3_url("s3+http://h/b") && stasync_is_s3_url("s3+https://h/b") &&
	       stasync_is_s3_url("s3://b/p") && !stasync_is_s3_url("s3:/b") &&
	       !stasync_is_s3_url("S3://b") && !stasync_is_s3_url("http://h/b") &&
	       !stasync_is_s3_url(NULL), "stasync_is_s3_url: s3+http://, s3+https:// and s3://");
	url_case("s3+https://s3.example.com/bucket/a/prefix", "https://s3.example.com/bucket/a/prefix",
		 "https://s3.example.com/bucket");
	url_case("s3+http://127.0.0.1:9000/b/", "http://127.0.0.1:9000/b", "http://127.0.0.1:9000/b");
	url_case("s3+http://h/b/p/?x=1#y", "http://h/b/p", "http://h/b");
	url_case("s3+http://h/b/x.caidx", "http://h/b/x.caidx", "http://h/b");
	url_case("s3+http://h", NULL, NULL);
	url_case("s3+http://h/", NULL, NULL);
	url_case("s3+https://", NULL, NULL);
	url_case("s3+https:///b", NULL, NULL);
	url_case("s3+https://#x=/y", NULL, NULL);
	url_case("s3+http://h/?b", NULL, NULL);
	url_case("http://h/b", NULL, NULL);
	url_case("s3://", NULL, NULL);
	url_case("s3:///b/p", NULL, NULL);
	url_case("s3://?b", NULL, NULL);
	url_case_with("s3://user:secret@b/p", NULL, STASYNC_S3_ADDRESSING_DEFAULT, NULL, NULL,
		      "s3://user:***@b/p: not a bucket name");
	url_case_with("s3+http://h/b@evil.example/p", NULL, STASYNC_S3_ADDRESSING_VIRTUAL, NULL, NULL,
		      "not a bucket name");
}

/* Where s3:// goes, and how the bucket is named: no network. */
static void test_addressing(void)
{
	const stasync_s3_addressing D = STASYNC_S3_ADDRESSING_DEFAULT, A = STASYNC_S3_ADDRESSING_AUTO,
				    P = STASYNC_S3_ADDRESSING_PATH, V = STASYNC_S3_ADDRESSING_VIRTUAL;
	sta_s3_credentials eu = { .region = "eu-west-1" };
	sta_s3_credentials local = { .region = "us-east-1", .endpoint = "http://127.0.0.1:7480/",
				     .endpoint_from = "AWS_ENDPOINT_URL" };
	sta_s3_credentials named = { .region = "us-east-1", .endpoint = "http://localhost:7480/base",
				     .endpoint_from = "AWS_ENDPOINT_URL_S3" };
	sta_s3_credentials aws_http = { .region = "eu-west-1",
					.endpoint = "http://s3.eu-west-1.amazonaws.com" };
	sta_s3_credentials bad = { .region = "us-east-1", .endpoint = "localhost:7480",
				   .endpoint_from = "AWS_ENDPOINT_URL" };
	sta_s3_credentials bad_region = { .region = "eu/west" };
	sta_s3_credentials prof_path = { .region = "eu-west-1", .addressing = P };

	/* s3://: AWS's endpoint for the region, virtual-hosted when it can be */
	url_case_with("s3://builds/store", &eu, D, "https://builds.s3.eu-west-1.amazonaws.com/store",
		      "https://builds.s3.eu-west-1.amazonaws.com", "auto, AWS: virtual-hosted");
	url_case_with("s3://builds", &eu, D, "https://builds.s3.eu-west-1.amazonaws.com",
		      "https://builds.s3.eu-west-1.amazonaws.com", "the bucket's root");
	url_case_with("s3://builds/a/b.caidx?x#y", NULL, A, "https://builds.s3.us-east-1.amazonaws.com/a/b.caidx",
		      "https://builds.s3.us-east-1.amazonaws.com", "no credentials: us-east-1");
	url_case_with("s3://my.builds/store", &eu, D, "https://s3.eu-west-1.amazonaws.com/my.builds/store",
		      "https://s3.eu-west-1.amazonaws.com/my.builds", "auto: dots over https: path");
	url_case_with("s3://my.builds/store", &aws_http, D, "http://my.builds.s3.eu-west-1.amazonaws.com/store",
		      "http://my.builds.s3.eu-west-1.amazonaws.com", "auto: dots over http: virtual");
	url_case_with("s3://Builds/store", &eu, D, "https://s3.eu-west-1.amazonaws.com/Builds/store",
		      "https://s3.eu-west-1.amazonaws.com/Builds", "auto: upper case: path");
	url_case_with("s3://ab/store", &eu, D, "https://s3.eu-west-1.amazonaws.com/ab/store",
		      "https://s3.eu-west-1.amazonaws.com/ab", "auto: 2 characters: path");
	url_case_with("s3://-ab/store", &eu, D, "https://s3.eu-west-1.amazonaws.com/-ab/store",
		      "https://s3.eu-west-1.amazonaws.com/-ab", "auto: a leading '-': path");
	url_case_with("s3://builds/store", &eu, P, "https://s3.eu-west-1.amazonaws.com/builds/store",
		      "https://s3.eu-west-1.amazonaws.com/builds", "path asked for");
	url_case_with("s3://builds/store", &prof_path, D, "https://s3.eu-west-1.amazonaws.com/builds/store",
		      "https://s3.eu-west-1.amazonaws.com/builds", "the profile's addressing_style");
	url_case_with("s3://builds/store", &prof_path, V, "https://builds.s3.eu-west-1.amazonaws.com/store",
		      "https://builds.s3.eu-west-1.amazonaws.com", "the option before the profile's");
	url_case_with("s3+https://s3.eu-west-1.amazonaws.com/builds/store", &local, A,
		      "https://builds.s3.eu-west-1.amazonaws.com/store",
		      "https://builds.s3.eu-west-1.amazonaws.com", "s3+https: its endpoint wins, auto: virtual");

	/* a configured endpoint: path-style for anything but AWS */
	url_case_with("s3://stasync/store", &local, D, "http://127.0.0.1:7480/stasync/store",
		      "http://127.0.0.1:7480/stasync", "AWS_ENDPOINT_URL, auto: path for 127.0.0.1");
	url_case_with("s3+http://127.0.0.1:7480/stasync/store", &eu, A, "http://127.0.0.1:7480/stasync/store",
		      "http://127.0.0.1:7480/stasync", "s3+http, auto: path for 127.0.0.1");
	url_case_with("s3://stasync/store", &named, D, "http://localhost:7480/base/stasync/store",
		      "http://localhost:7480/base/stasync", "an endpoint with a path, path-style");
	url_case_with("s3://stasync/store", &named, V, "http://stasync.localhost:7480/base/store",
		      "http://stasync.localhost:7480/base", "... and virtual-hosted");
	url_case_with("s3+http://u:pw@localhost:7480/stasync/x.caibx", NULL, V,
		      "http://u:pw@stasync.localhost:7480/x.caibx", "http://u:pw@stasync.localhost:7480",
		      "virtual-hosted after the user info");
	url_case_with("s3+http://[::1]:7480/stasync/x", NULL, A, "http://[::1]:7480/stasync/x",
		      "http://[::1]:7480/stasync", "an IPv6 endpoint");

	/* refusals */
	url_case_with("s3://stasync/store", &bad, D, NULL, NULL,
		      "AWS_ENDPOINT_URL: localhost:7480: expected http(s)://");
	url_case_with("s3://stasync/store", &bad_region, D, NULL, NULL, "region eu/west");
	url_case_with("s3://Stasync/store", &local, V, NULL, NULL, "bucket Stasync: virtual-hosted");
	url_case_with("s3://a_b/store", &named, V, NULL, NULL, "bucket a_b: virtual-hosted");
	url_case_with("s3://stasync/store", &local, V, NULL, NULL, "not an IP address");
	url_case_with("s3+http://[::1]:7480/stasync/x", NULL, V, NULL, NULL, "not an IP address");
	url_case_with("s3+http://u:secret@:7480/stasync/x", NULL, D, NULL, NULL, "u:***@:7480");
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
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
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
	tap_ok(r == 0 && !c.access_key && !c.secret_key && strcmp(c.region, "us-east-1") == 0,
	       "nothing set: anonymous, us-east-1");
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
	sta_s3_credentials_clear(&c);

	setenv("AWS_REGION", "sa-east-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SENV", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.access_key, "AKENV") == 0 && !c.session_token &&
	       strcmp(c.region, "sa-east-1") == 0, "the variables before the profile");
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

/* The endpoint of s3:// locators, in the AWS CLI's order, and the
 * profile's addressing_style. */
static void test_endpoints(void)
{
	const char *conf = tap_tmp_path("conf-endpoints");
	const char conf_text[] =
		"[default]\n"
		"endpoint_url = http://default.example:1\n"
		"[profile svc]\n"
		"services = local-s3\n"
		"endpoint_url = http://general.example:2\n"
		"s3 =\n"
		"  addressing_style = virtual\n"
		"  endpoint_url = http://not-this.example\n"
		"region = eu-west-1\n"
		"[profile other]\n"
		"services = local-s3\n"
		"[profile bad]\n"
		"s3 =\n"
		"\taddressing_style = sideways\n"
		"[services local-s3]\n"
		"sts =\n"
		"  endpoint_url = http://sts.example:3\n"
		"s3 =\n"
		"  endpoint_url = http://s3.example:4\n";
	stasync_error err = { 0, "" };
	sta_s3_credentials c;
	char *v = NULL;
	bool found = false;
	int r;

	tap_write_file(conf, conf_text, strlen(conf_text));
	r = sta_aws_ini_get_nested(conf, "services local-s3", "s3", "endpoint_url", &v, &found);
	tap_ok(r == 1 && strcmp(v, "http://s3.example:4") == 0, "a nested value, under its own key");
	free(v);
	r = sta_aws_ini_get(conf, "profile svc", "endpoint_url", &v, &found);
	tap_ok(r == 1 && strcmp(v, "http://general.example:2") == 0,
	       "a top-level key, not one nested under another");
	free(v);
	r = sta_aws_ini_get(conf, "profile svc", "region", &v, &found);
	tap_ok(r == 1 && strcmp(v, "eu-west-1") == 0, "a key after a nested block");
	free(v);

	clear_env();
	setenv("HOME", tap_tmpdir(), 1);
	setenv("AWS_CONFIG_FILE", conf, 1);
	setenv("AWS_PROFILE", "svc", 1);
	setenv("AWS_ACCESS_KEY_ID", "AK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && c.endpoint && strcmp(c.endpoint, "http://s3.example:4") == 0 &&
	       strstr(c.endpoint_from, "[services local-s3]") &&
	       c.addressing == STASYNC_S3_ADDRESSING_VIRTUAL,
	       "the services section's s3 endpoint_url before the profile's; its addressing_style "
	       "(%s, from %s)", c.endpoint, c.endpoint_from);
	sta_s3_credentials_clear(&c);
	setenv("AWS_ENDPOINT_URL", "http://env.example:5", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.endpoint, "http://env.example:5") == 0 &&
	       strcmp(c.endpoint_from, "AWS_ENDPOINT_URL") == 0, "AWS_ENDPOINT_URL before the profile");
	sta_s3_credentials_clear(&c);
	setenv("AWS_ENDPOINT_URL_S3", "http://env-s3.example:6", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.endpoint, "http://env-s3.example:6") == 0 &&
	       strcmp(c.endpoint_from, "AWS_ENDPOINT_URL_S3") == 0,
	       "AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL");
	sta_s3_credentials_clear(&c);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "True", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && !c.endpoint, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true: none");
	sta_s3_credentials_clear(&c);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_S3");

	setenv("AWS_PROFILE", "default", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.endpoint, "http://default.example:1") == 0 &&
	       strstr(c.endpoint_from, "endpoint_url") && c.addressing == STASYNC_S3_ADDRESSING_DEFAULT,
	       "the profile's endpoint_url, no addressing_style (%s)", c.endpoint_from);
	sta_s3_credentials_clear(&c);
	setenv("AWS_PROFILE", "other", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == 0 && strcmp(c.endpoint, "http://s3.example:4") == 0,
	       "a profile with a services section only");
	sta_s3_credentials_clear(&c);
	setenv("AWS_PROFILE", "bad", 1);
	r = sta_s3_credentials_get(&c, &err);
	tap_ok(r == -EINVAL && strstr(err.message, "sideways") && strstr(err.message, "profile bad"),
	       "addressing_style = sideways: refused (%s)", err.message);
	sta_s3_credentials_clear(&c);
	clear_env();
}

int main(void)
{
	test_urls();
	test_addressing();
	test_ini();
	test_credentials();
	test_endpoints();
	return tap_done();
}
