/* .caexclude files: the patterns that leave entries out of an archive
 * made with the exclude-file feature, matched exactly as casync does.
 *
 * A directory's `.caexclude` holds one pattern a line (a line ends at
 * '\n' or NUL; blanks and tabs around it are dropped; empty lines and
 * lines starting with '#' are ignored):
 *   - `!` in front makes it negative: an entry that any negative pattern
 *     matches is kept, whatever the positive ones say (line order does
 *     not matter);
 *   - a pattern without '/' applies in this directory and in every
 *     directory below it; one that contains a '/' anywhere (leading,
 *     inner or trailing) is anchored: its first component matches names
 *     in this directory only, the next ones the names inside the
 *     directories the previous component matched;
 *   - a component followed by '/' matches directories only;
 *   - each component is an fnmatch(3) glob with FNM_PERIOD (`*`, `?` and
 *     `[...]` do not match a leading '.'; `**` is just `*`; '\' escapes);
 *   - empty, "." and ".." components are errors.
 * An excluded directory is left out with its whole subtree. The rules in
 * force inside a directory are those inherited from above plus its own
 * .caexclude's; the .caexclude file itself is archived unless a pattern
 * matches it. */
#ifndef STASYNC_LIB_EXCLUDE_H
#define STASYNC_LIB_EXCLUDE_H

#include <stdbool.h>
#include <stddef.h>

#include <stasync/error.h>

#define STA_EXCLUDE_FILE ".caexclude"
/* Larger files are refused (casync has no limit; we want one). */
#define STA_EXCLUDE_FILE_MAX ((size_t)1 << 20)
/* casync refuses longer lines (comments included). */
#define STA_EXCLUDE_LINE_MAX ((size_t)65535)

/* A rule set: immutable once made, shared by reference counting. NULL is
 * the empty set (nothing excluded) everywhere below. */
struct sta_exclude;

/* sta_exclude_ref() — take a reference; returns s (NULL for NULL). */
struct sta_exclude *sta_exclude_ref(struct sta_exclude *s);
/* sta_exclude_unref() — drop a reference, freeing the set with the last
 * one. Accepts NULL; returns NULL. */
struct sta_exclude *sta_exclude_unref(struct sta_exclude *s);

/* sta_exclude_parse() — the rules in force in a directory whose
 * .caexclude holds text[0..len): those of `inherited` (NULL: none; not
 * changed) plus the file's. path names the file in messages. On success
 * *ret is a new reference (or NULL when there are no rules at all).
 * Returns 0, -EINVAL for an invalid pattern, -ENOBUFS for a line longer
 * than STA_EXCLUDE_LINE_MAX, -ENOMEM. */
int sta_exclude_parse(struct sta_exclude *inherited, const char *text, size_t len,
		      const char *path, struct sta_exclude **ret, stasync_error *err);

/* sta_exclude_load() — as sta_exclude_parse() for the .caexclude in the
 * directory dir_fd (opened following symlinks, as casync does); dir_path
 * names that directory in messages ("" or NULL: the archive's root). The
 * caller knows the file is listed there: any failure to open or read it
 * is an error. Returns 0 or a negative code: also -EFBIG for a file
 * larger than STA_EXCLUDE_FILE_MAX. */
int sta_exclude_load(struct sta_exclude *inherited, int dir_fd, const char *dir_path,
		     struct sta_exclude **ret, stasync_error *err);

/* sta_exclude_test() — whether the entry `name` (a plain name, no '/') of
 * the directory whose rules are s is excluded. Returns 1 excluded, 0
 * kept, -EINVAL when fnmatch(3) fails. */
int sta_exclude_test(const struct sta_exclude *s, const char *name, bool is_dir);

/* sta_exclude_descend() — the rules inherited by the subdirectory `name`
 * of the directory whose rules are s (before its own .caexclude is
 * added): the unanchored rules, and the anchored ones whose current
 * component matches name, moved on by one component. *ret is a new
 * reference, often to s itself, or NULL. Returns 0, -ENOMEM, -EINVAL. */
int sta_exclude_descend(struct sta_exclude *s, const char *name, struct sta_exclude **ret);

/* sta_exclude_count() — the number of patterns in force (for tests). */
size_t sta_exclude_count(const struct sta_exclude *s);

#endif
