#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static int tests_run, tests_failed;
static char tmpdir[256];

bool tap_ok(bool cond, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tests_run++;
	/* A "# TODO" test is a known failure: reported, not counted (TAP). */
	if (!cond && !strstr(line, "# TODO"))
		tests_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tests_run, line);
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

const char *tap_srcpath(const char *rel)
{
	static char buf[4096];
	const char *top = getenv("top_srcdir");

	snprintf(buf, sizeof(buf), "%s/%s", top && *top ? top : ".", rel);
	return buf;
}

const char *tap_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/stasync-unit-XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(99);
		}
	}
	return tmpdir;
}

int tap_done(void)
{
	if (tmpdir[0]) {
		char cmd[2 * sizeof(tmpdir) + 64];

		snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' && rm -rf '%s'", tmpdir, tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	}
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}

void *tap_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(99);
	}
	return p;
}

const char *tap_tmp_path(const char *name)
{
	static char bufs[8][4096];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tap_tmpdir(), name);
	return b;
}

void tap_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
}
