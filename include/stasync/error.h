/* ==== Errors ===============================================================
 * Every fallible library function returns 0 (or a positive count) on
 * success and a negative errno-style code on failure. Functions that take a
 * `stasync_error *` also leave a one-line, human-readable message there that
 * names the object (file, chunk id, URL) and the reason. The pointer may be
 * NULL when the caller does not want the message. */
#ifndef STASYNC_ERROR_H
#define STASYNC_ERROR_H

#include <stddef.h>

#define STASYNC_ERROR_MESSAGE_MAX 1024

typedef struct stasync_error {
	int code;                                /* negative errno, 0 if unset */
	char message[STASYNC_ERROR_MESSAGE_MAX]; /* NUL-terminated, no newline */
} stasync_error;

/* stasync_error_clear() — reset to "no error". Accepts NULL. */
void stasync_error_clear(stasync_error *e);

/* stasync_strerror() — a short description of a negative code, including
 * the library's own meanings (-EBADMSG "malformed data", …). */
const char *stasync_strerror(int code);

#endif
