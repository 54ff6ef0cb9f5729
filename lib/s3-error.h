/* What an S3 error answer means, in one line for the user: the decision
 * from the answer's Code (and the bucket's region when the server names
 * it) to what to do. Kept apart from the HTTP code so that every case can
 * be tested without a server. */
#ifndef STASYNC_LIB_S3_ERROR_H
#define STASYNC_LIB_S3_ERROR_H

#include <stdbool.h>
#include <stddef.h>

struct sta_s3_error_info {
	const char *code;          /* the body's <Code>, "" or NULL when none */
	const char *message;       /* the body's <Message>, "" or NULL */
	const char *region;        /* the body's <Region>, else the x-amz-bucket-region header */
	const char *endpoint;      /* the body's <Endpoint> */
	const char *key_source;    /* where the key and secret came from (NULL: not said) */
	const char *token_source;  /* where the session token came from (NULL: none sent) */
};

/* sta_s3_error_explain() — "S3 CODE: what to do" in buf (n bytes, one
 * line, no secret: only the names of variables and profiles). Returns
 * false, and leaves buf "", when there is nothing to say (no code and no
 * region). */
bool sta_s3_error_explain(const struct sta_s3_error_info *e, char *buf, size_t n);

#endif
