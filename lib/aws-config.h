/* The AWS tools' shared files, ~/.aws/credentials and ~/.aws/config: INI
 * files of [sections] holding "key = value" lines ("#" and ";" start a
 * comment). A profile NAME is the section [NAME] of the credentials file and
 * [profile NAME] of the config file ([default] in both for "default"). A
 * key with an empty value followed by indented lines holds a nested set of
 * "subkey = value" (the config file's "s3 =" and [services NAME]). */
#ifndef STASYNC_LIB_AWS_CONFIG_H
#define STASYNC_LIB_AWS_CONFIG_H

#include <stdbool.h>

/* sta_aws_ini_get() — the value of `key` in `section` of the file at path:
 * 1 and *ret (free() it), 0 when the file, the section or the key is not
 * there (*found_section says whether the section was), -ENOMEM, or -errno
 * when the file cannot be read. */
int sta_aws_ini_get(const char *path, const char *section, const char *key, char **ret,
		    bool *found_section);

/* sta_aws_ini_get_nested() — the same for `subkey` nested under `key`:
 * "key =" then indented "subkey = value" lines. */
int sta_aws_ini_get_nested(const char *path, const char *section, const char *key,
			   const char *subkey, char **ret, bool *found_section);

/* sta_aws_file() — the path of one of the files: $ENV_NAME when set, else
 * $HOME/.aws/BASE; NULL without either (or out of memory). free() it. */
char *sta_aws_file(const char *env_name, const char *base);

#endif
