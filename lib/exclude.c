/* .caexclude rule sets (see exclude.h for the rules).
 *
 * Each pattern line becomes a `rule`: its path components, each with a
 * "directories only" mark. A set is a list of (rule, position) items: the
 * position is the component that is matched against the names of the
 * directory the set belongs to. Only the last component decides about
 * exclusion; an earlier one that matches a subdirectory's name moves the
 * rule on by one component in that subdirectory's set. Unanchored rules
 * have a single component and are handed down unchanged, so a directory
 * whose set holds nothing else shares its parent's set. */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>

#include "exclude.h"
#include "util.h"

struct component {
	char *glob;
	bool dir_only;      /* was followed by '/' */
};

struct rule {
	size_t n_ref;
	bool negative;      /* started with '!' */
	bool anchored;      /* contained a '/' */
	size_t n;
	struct component *comp;
};

struct item {
	struct rule *rule;
	size_t pos;
};

struct sta_exclude {
	size_t n_ref;
	size_t n, cap;
	size_t n_anchored;  /* items of anchored rules */
	struct item *items;
};

/* ---- rules ------------------------------------------------------------------ */

static struct rule *rule_unref(struct rule *r)
{
	if (!r || --r->n_ref > 0)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		free(r->comp[i].glob);
	free(r->comp);
	free(r);
	return NULL;
}

static bool bad_component(const char *p, size_t k)
{
	return k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.');
}

/* One stripped, non-empty, non-comment line (NUL-terminated) into a rule:
 * 0, -EINVAL for a bad pattern, -ENOMEM. */
static int rule_parse(const char *line, struct rule **ret)
{
	struct rule *r = calloc(1, sizeof(*r));
	const char *p = line;
	size_t n_comp = 1;

	if (!r)
		return -ENOMEM;
	r->n_ref = 1;
	if (*p == '!') {
		r->negative = true;
		p++;
	}
	r->anchored = strchr(p, '/') != NULL;
	p += strspn(p, "/");
	for (const char *q = p; *q; q++)
		if (*q == '/')
			n_comp++;   /* an upper bound: runs of '/' count once each */
	r->comp = calloc(n_comp, sizeof(*r->comp));
	if (!r->comp) {
		rule_unref(r);
		return -ENOMEM;
	}
	for (;;) {
		size_t k = strcspn(p, "/");
		struct component *c = &r->comp[r->n];

		if (bad_component(p, k)) {
			rule_unref(r);
			return -EINVAL;
		}
		if (!(c->glob = strndup(p, k))) {
			rule_unref(r);
			return -ENOMEM;
		}
		r->n++;
		p += k;
		c->dir_only = *p == '/';
		p += strspn(p, "/");
		if (!*p)
			break;
	}
	*ret = r;
	return 0;
}

/* fnmatch as casync calls it: 1 match, 0 none, -EINVAL failure. */
static int glob_match(const char *glob, const char *name)
{
	int k = fnmatch(glob, name, FNM_PERIOD);

	if (k == 0)
		return 1;
	return k == FNM_NOMATCH ? 0 : -EINVAL;
}

/* ---- sets ------------------------------------------------------------------- */

static struct sta_exclude *set_new(size_t cap)
{
	struct sta_exclude *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->n_ref = 1;
	if (cap > 0 && !(s->items = calloc(cap, sizeof(*s->items)))) {
		free(s);
		return NULL;
	}
	s->cap = cap;
	return s;
}

static int set_add(struct sta_exclude *s, struct rule *r, size_t pos)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct item *v = realloc(s->items, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->items = v;
		s->cap = cap;
	}
	r->n_ref++;
	s->items[s->n++] = (struct item){ .rule = r, .pos = pos };
	if (r->anchored)
		s->n_anchored++;
	return 0;
}

struct sta_exclude *sta_exclude_ref(struct sta_exclude *s)
{
	if (s)
		s->n_ref++;
	return s;
}

struct sta_exclude *sta_exclude_unref(struct sta_exclude *s)
{
	if (!s || --s->n_ref > 0)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		rule_unref(s->items[i].rule);
	free(s->items);
	free(s);
	return NULL;
}

size_t sta_exclude_count(const struct sta_exclude *s)
{
	return s ? s->n : 0;
}

/* ---- parsing ------------------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int sta_exclude_parse(struct sta_exclude *inherited, const char *text, size_t len,
		      const char *path, struct sta_exclude **ret, stasync_error *err)
{
	struct sta_exclude *s = NULL;
	char *line = NULL;
	size_t lineno = 0;
	int r = 0;

	*ret = NULL;
	for (size_t at = 0; at < len;) {
		size_t end = at, a, b;
		struct rule *rule;

		while (end < len && text[end] != '\n' && text[end] != '\0')
			end++;
		lineno++;
		if (end - at > STA_EXCLUDE_LINE_MAX) {
			r = sta_error(err, -ENOBUFS, "%s: line %zu is longer than %zu bytes",
				      path, lineno, STA_EXCLUDE_LINE_MAX);
			goto fail;
		}
		for (a = at; a < end && is_blank(text[a]); a++)
			;
		for (b = end; b > a && is_blank(text[b - 1]); b--)
			;
		at = end + 1;
		if (a == b || text[a] == '#')
			continue;

		free(line);
		if (!(line = strndup(text + a, b - a))) {
			r = sta_error(err, -ENOMEM, "out of memory");
			goto fail;
		}
		r = rule_parse(line, &rule);
		if (r == -EINVAL) {
			r = sta_error(err, r, "%s: line %zu: invalid pattern \"%.200s\" "
				      "(empty, \".\" or \"..\" path component)", path, lineno, line);
			goto fail;
		}
		if (r < 0) {
			r = sta_error(err, r, "out of memory");
			goto fail;
		}
		if (!s) {
			/* The first rule: start from the inherited ones. */
			s = set_new(sta_exclude_count(inherited) + 16);
			for (size_t i = 0; s && i < sta_exclude_count(inherited); i++)
				if (set_add(s, inherited->items[i].rule, inherited->items[i].pos) < 0)
					s = sta_exclude_unref(s);
		}
		r = s ? set_add(s, rule, 0) : -ENOMEM;
		rule_unref(rule);
		if (r < 0) {
			r = sta_error(err, r, "out of memory");
			goto fail;
		}
	}
	free(line);
	*ret = s ? s : sta_exclude_ref(inherited);
	return 0;
fail:
	free(line);
	sta_exclude_unref(s);
	return r;
}

int sta_exclude_load(struct sta_exclude *inherited, int dir_fd, const char *dir_path,
		     struct sta_exclude **ret, stasync_error *err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t len = 0, cap = 0, n;

	*ret = NULL;
	if (!dir_path || !*dir_path || strcmp(dir_path, ".") == 0)
		dir_path = "";
	n = strlen(dir_path) + sizeof("/" STA_EXCLUDE_FILE);
	if ((path = malloc(n)))
		snprintf(path, n, "%s%s%s", dir_path,
			 *dir_path && dir_path[strlen(dir_path) - 1] != '/' ? "/" : "", STA_EXCLUDE_FILE);
	if (!path)
		return sta_error(err, -ENOMEM, "out of memory");

	/* O_NONBLOCK: a FIFO reads as empty instead of hanging. */
	fd = openat(dir_fd, STA_EXCLUDE_FILE, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return sta_error(err, -errno, "%s: cannot open: %s", path, stasync_strerror(-errno));
	for (;;) {
		ssize_t k;

		if (len == cap) {
			char *v;

			if (cap > STA_EXCLUDE_FILE_MAX)
				return sta_error(err, -EFBIG, "%s: larger than %zu bytes", path,
						 STA_EXCLUDE_FILE_MAX);
			cap = cap ? 2 * cap : 4096;
			if (cap > STA_EXCLUDE_FILE_MAX)
				cap = STA_EXCLUDE_FILE_MAX + 1;
			if (!(v = realloc(text, cap)))
				return sta_error(err, -ENOMEM, "out of memory");
			text = v;
		}
		k = read(fd, text + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return sta_error(err, -errno, "%s: cannot read: %s", path,
					 stasync_strerror(-errno));
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > STA_EXCLUDE_FILE_MAX)
		return sta_error(err, -EFBIG, "%s: larger than %zu bytes", path, STA_EXCLUDE_FILE_MAX);
	return sta_exclude_parse(inherited, text, len, path, ret, err);
}

/* ---- matching ------------------------------------------------------------------ */

int sta_exclude_test(const struct sta_exclude *s, const char *name, bool is_dir)
{
	bool excluded = false;

	for (size_t i = 0; i < sta_exclude_count(s); i++) {
		const struct rule *rule = s->items[i].rule;
		const struct component *c = &rule->comp[s->items[i].pos];
		int k;

		if (s->items[i].pos + 1 < rule->n)
			continue;   /* not the last component: it only leads further down */
		if (c->dir_only && !is_dir)
			continue;
		k = glob_match(c->glob, name);
		if (k < 0)
			return k;
		if (k == 0)
			continue;
		if (rule->negative)
			return 0;
		excluded = true;
	}
	return excluded;
}

int sta_exclude_descend(struct sta_exclude *s, const char *name, struct sta_exclude **ret)
{
	struct sta_exclude *d;

	*ret = NULL;
	if (sta_exclude_count(s) == 0)
		return 0;
	d = set_new(s->n);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		struct rule *rule = s->items[i].rule;
		size_t pos = s->items[i].pos;
		int k;

		if (!rule->anchored) {
			k = set_add(d, rule, pos);
		} else if (pos + 1 < rule->n) {
			/* Inner components are always followed by '/': the
			 * caller only asks for directories. */
			k = glob_match(rule->comp[pos].glob, name);
			if (k > 0)
				k = set_add(d, rule, pos + 1);
		} else
			k = 0;
		if (k < 0) {
			sta_exclude_unref(d);
			return k;
		}
	}
	if (d->n == 0) {
		sta_exclude_unref(d);
		return 0;
	}
	if (d->n_anchored == 0 && s->n_anchored == 0) {
		/* Only unanchored rules, all of them: the same set. */
		sta_exclude_unref(d);
		*ret = sta_exclude_ref(s);
		return 0;
	}
	*ret = d;
	return 0;
}
