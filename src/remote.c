/* ssh remotes on the command line: the hidden "pull" and "push" verbs a
 * client runs on the remote host (casync's names and arguments), and
 * "make host:path.caibx" (.caidx, .catar), which makes the index and its
 * chunks (or the archive) in a temporary directory here and pushes them. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* casync's convention for the verbs' arguments: "-" or "" is none. */
static const char *arg_or_null(const char *s)
{
	return !s || !*s || strcmp(s, "-") == 0 ? NULL : s;
}

static int remote_verb(struct cli *c, bool push)
{
	stasync_remote_paths p = { 0 };
	stasync_error err = { 0, "" };
	int r;

	if (c->argc < 4)
		return cli_error(c, "%s takes BASE ARCHIVE INDEX WSTORE [RSTORE...] (it is run by a client over ssh)",
				 push ? "push" : "pull");
	if (arg_or_null(c->argv[0]))
		return cli_error(c, "%s: a base directory is not supported", c->argv[0]);
	p.archive = arg_or_null(c->argv[1]);
	p.index = arg_or_null(c->argv[2]);
	p.wstore = arg_or_null(c->argv[3]);
	p.rstores = (const char *const *)c->argv + 4;
	p.n_rstores = (size_t)c->argc - 4;
	if (!p.archive && !p.index && !p.wstore && p.n_rstores == 0)
		return cli_error(c, "%s: nothing to do", push ? "push" : "pull");
	if (push)
		r = stasync_remote_serve_push(STDIN_FILENO, STDOUT_FILENO, &p, &err);
	else
		r = stasync_remote_serve_pull(STDIN_FILENO, STDOUT_FILENO, &p, &err);
	return r < 0 ? cli_fail(c, &err) : 0;
}

int cmd_remote_pull(struct cli *c)
{
	return remote_verb(c, false);
}

int cmd_remote_push(struct cli *c)
{
	return remote_verb(c, true);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st, (void)f;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The store casync would use for an index: default.castr beside it. */
static char *default_store(const char *index)
{
	const char *slash = strrchr(index, '/'), *colon = strchr(index, ':');
	char *s;

	if (strncmp(index, "ssh://", 6) != 0 && (!slash || slash < colon))
		slash = colon;   /* "host:x.caibx": the remote home */
	if (asprintf(&s, "%.*s%sdefault.castr", (int)(slash - index), index,
		     *slash == '/' ? "/" : ":") < 0)
		return NULL;
	return s;
}

int cmd_make_remote(struct cli *c, const char *output, const char *input)
{
	const char *tmp = getenv("TMPDIR"), *base = strrchr(output, '/');
	const char *store = c->store ? c->store : getenv("CASYNC_STORE");
	char *derived = NULL, *dir = NULL, *index = NULL, *local_store = NULL, *digest = NULL;
	int digest_fd = -1, saved_stdout = -1;
	char *argv[3] = { 0 };
	stasync_store *local = NULL;
	stasync_error err = { 0, "" };
	struct cli sub = *c;
	int r = 1;

	bool archive = cli_what_of(c, output) == WHAT_ARCHIVE;   /* a .catar travels whole */

	if (!store || !*store)
		store = derived = default_store(output);
	if (!store)
		return cli_error(c, "out of memory");
	if (!archive && !stasync_is_ssh_remote(store)) {
		cli_error(c, "%s: pushing over ssh needs the store on the same host (--store=host:path), not %s",
			  output, store);
		goto out;
	}
	base = base ? base + 1 : strchr(output, ':') + 1;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (asprintf(&dir, "%s/stasync-push.XXXXXX", tmp) < 0 || !mkdtemp(dir)) {
		cli_error(c, "cannot make a temporary directory in %s: %s", tmp, strerror(errno));
		free(dir);
		dir = NULL;
		goto out;
	}
	if (asprintf(&index, "%s/%s", dir, *base ? base : "index") < 0 ||
	    asprintf(&local_store, "%s/store", dir) < 0) {
		cli_error(c, "out of memory");
		goto out;
	}
	/* Make it here, into the temporary store, exactly as for a local
	 * index; the digest it prints is held back until the push worked. */
	argv[0] = index;
	argv[1] = (char *)input;
	sub.store = local_store;
	sub.argc = input ? 2 : 1;
	sub.argv = argv;
	if (asprintf(&digest, "%s/digest", dir) < 0 ||
	    (digest_fd = open(digest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    fflush(stdout) != 0 || (saved_stdout = dup(STDOUT_FILENO)) < 0 ||
	    dup2(digest_fd, STDOUT_FILENO) < 0) {
		cli_error(c, "cannot set up a temporary file in %s: %s", dir, strerror(errno));
		goto out;
	}
	r = cmd_make(&sub);
	if (fflush(stdout) != 0 || dup2(saved_stdout, STDOUT_FILENO) < 0)
		r = cli_error(c, "cannot write to a temporary file in %s", dir);
	if (r)
		goto out;
	if (archive)
		r = stasync_ssh_push_archive(output, index, &err);
	else if ((r = stasync_store_open(local_store, 0, &local, &err)) == 0)
		r = stasync_ssh_push(output, store, index, local, &err);
	r = r < 0 ? cli_fail(c, &err) : 0;
	if (r == 0 && lseek(digest_fd, 0, SEEK_SET) == 0) {
		char line[256];
		ssize_t k = read(digest_fd, line, sizeof(line));

		if (k > 0)
			fwrite(line, 1, (size_t)k, stdout);
	}
out:
	if (saved_stdout >= 0) {
		dup2(saved_stdout, STDOUT_FILENO);
		close(saved_stdout);
	}
	if (digest_fd >= 0)
		close(digest_fd);
	free(digest);
	stasync_store_free(local);
	if (dir)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	free(index);
	free(local_store);
	free(derived);
	return r;
}
