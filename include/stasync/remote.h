/* ==== ssh remotes ===========================================================
 * Stores and indexes on another host, reached through the system's ssh
 * with casync's remote protocol: "[user@]host:path" (casync's rule: no
 * "scheme://", not starting with "/" or "./") and "ssh://[user@]host[:port]/path".
 * The client runs "$CASYNC_SSH_PATH HOST $CASYNC_REMOTE_PATH pull|push -
 * ARCHIVE INDEX STORE" (defaults: ssh, casync), so the remote side may be
 * casync or stasync (CASYNC_REMOTE_PATH=stasync). stasync_store_open()
 * takes ssh remotes as read-only stores. */
#ifndef STASYNC_REMOTE_H
#define STASYNC_REMOTE_H

#include <stdbool.h>
#include <stdint.h>
#include <stasync/error.h>
#include <stasync/store.h>

/* stasync_is_ssh_remote() — true when `locator` names an ssh remote. */
bool stasync_is_ssh_remote(const char *locator);

/* stasync_ssh_fetch_index() — pull the index at `locator` over ssh into an
 * unlinked temporary file (at most max_size bytes), returned at offset 0.
 * Returns 0 or a negative code with a message naming the locator. */
int stasync_ssh_fetch_index(const char *locator, uint64_t max_size, int *ret_fd,
			    stasync_error *err);

/* stasync_ssh_fetch_archive() — the same for a .catar (no size limit). */
int stasync_ssh_fetch_archive(const char *locator, int *ret_fd, stasync_error *err);

/* stasync_ssh_push_archive() — send the .catar at local_archive to
 * `locator`; the remote side puts it in place once it is complete.
 * Returns 0 or a negative code with a message. */
int stasync_ssh_push_archive(const char *locator, const char *local_archive, stasync_error *err);

/* stasync_ssh_push() — push the index at local_index (a file) to
 * index_locator and, out of `local`, every chunk it names that the remote
 * store (store_locator, on the same host) lacks. The remote side puts the
 * index in place only once all its chunks are stored. Returns 0 or a
 * negative code with a message. */
int stasync_ssh_push(const char *index_locator, const char *store_locator,
		     const char *local_index, stasync_store *local, stasync_error *err);

/* ---- The remote side ------------------------------------------------------
 * What runs on the remote host, as "stasync pull|push BASE ARCHIVE INDEX
 * WSTORE [RSTORE...]" ("-" for none), speaking the protocol on in_fd and
 * out_fd. */
typedef struct stasync_remote_paths {
	const char *archive, *index, *wstore;   /* NULL: none */
	const char *const *rstores;
	size_t n_rstores;
} stasync_remote_paths;

/* stasync_remote_serve_pull() — offer the index, archive and stores for
 * reading until the client leaves. */
int stasync_remote_serve_pull(int in_fd, int out_fd, const stasync_remote_paths *p,
			      stasync_error *err);

/* stasync_remote_serve_push() — receive an index (written atomically, put
 * in place only when complete and every chunk it names is in the store),
 * an archive, and the chunks asked for; verifies each chunk against its id
 * before storing it. */
int stasync_remote_serve_push(int in_fd, int out_fd, const stasync_remote_paths *p,
			      stasync_error *err);

#endif
