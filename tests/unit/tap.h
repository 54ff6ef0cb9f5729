/* A tiny TAP producer for the unit tests (run by Automake's tap-driver). */
#ifndef STASYNC_TESTS_TAP_H
#define STASYNC_TESTS_TAP_H

#include <stdbool.h>
#include <stddef.h>

/* tap_ok() — one test line; returns cond so callers can stop early. A
 * description containing "# TODO reason" marks a known failure (a library
 * bug not yet fixed): the driver reports it as XFAIL, or XPASS once it
 * passes, and it does not make the exit status fail. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* tap_diag() — a "# …" comment line. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tap_done() — print the plan; returns the process exit status. */
int tap_done(void);
/* tap_path() — top_srcdir/rel (top_srcdir from the environment, else "."),
 * in a static buffer. */
const char *tap_srcpath(const char *rel);
/* tap_tmpdir() — a fresh temporary directory, removed by tap_done(). */
const char *tap_tmpdir(void);

/* tap_xmalloc() — malloc() that ends the test (exit 99) when it fails. */
void *tap_xmalloc(size_t n);
/* tap_tmp_path() — tap_tmpdir()/name, in one of 8 rotating static buffers. */
const char *tap_tmp_path(const char *name);
/* tap_write_file() — a file holding p[0..n); exit 99 when it cannot. */
void tap_write_file(const char *path, const void *p, size_t n);

#endif
