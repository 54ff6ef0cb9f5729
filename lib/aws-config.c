/* The AWS tools' shared files: see aws-config.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws-config.h"
#include "util.h"

/* s without the blanks around it, in place. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* The value of key (subkey NULL), or of subkey nested under key. */
static int ini_get(const char *path, const char *section, const char *key, const char *subkey,
		   char **ret, bool *found_section)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	/* in the section; after a top-level "KEY =" with no value (nested:
	 * the indented lines that follow belong to it), and whether that
	 * KEY is the one asked for */
	bool in = false, nested = false, in_key = false;
	int r = 0;
	FILE *f;

	*ret = NULL;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		bool indented = line[0] == ' ' || line[0] == '\t';
		char *s = trim(line), *eq, *k, *v;

		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end) {
				*end = 0;
				in = strcmp(trim(s + 1), section) == 0;
				*found_section = *found_section || in;
				nested = in_key = false;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!in || !eq)
			continue;
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		if (nested && indented) {
			if (!in_key || !subkey || strcasecmp(k, subkey) != 0)
				continue;
		} else {
			nested = !*v;
			in_key = strcasecmp(k, key) == 0;
			if (!in_key || subkey)
				continue;
		}
		*ret = strdup(v);
		r = *ret ? 1 : -ENOMEM;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	return r;
}

int sta_aws_ini_get(const char *path, const char *section, const char *key, char **ret,
		    bool *found_section)
{
	return ini_get(path, section, key, NULL, ret, found_section);
}

int sta_aws_ini_get_nested(const char *path, const char *section, const char *key,
			   const char *subkey, char **ret, bool *found_section)
{
	return ini_get(path, section, key, subkey, ret, found_section);
}

char *sta_aws_file(const char *env_name, const char *base)
{
	const char *v = getenv(env_name), *home;
	char *s;

	if (v && *v)
		return strdup(v);
	home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	if (asprintf(&s, "%s/.aws/%s", home, base) < 0)
		return NULL;
	return s;
}
