/* test-store-ssh — an ssh store read by several threads at once, through a
 * stand-in for ssh that runs the remote side here: stasync's own
 * ($top_builddir/stasync) and, when $CASYNC names it, Debian's casync,
 * which answers each chunk only once per conversation. More chunks than
 * the store keeps answers for are each read twice, so a chunk asked for
 * again has to come from a fresh conversation. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/digest.h>
#include <stasync/remote.h>
#include <stasync/store.h>
#include <sys/wait.h>

#include "remote.h"
#include "tap.h"
#include "testdata.h"

#define N_CHUNKS 320
#define CHUNK_SIZE 2048
#define N_THREADS 6

static uint8_t data[N_CHUNKS][CHUNK_SIZE];
static stasync_chunk_id ids[N_CHUNKS];

struct worker {
	stasync_store *store;
	unsigned seed;
	int failures;
	stasync_error err;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	stasync_codec *codec;
	uint8_t out[CHUNK_SIZE];

	if (stasync_codec_new(&codec) < 0) {
		w->failures++;
		return NULL;
	}
	/* Each thread its own order, every chunk twice. */
	for (unsigned k = 0; k < 2 * N_CHUNKS; k++) {
		unsigned i = (k * 7 + w->seed * 31) % N_CHUNKS;

		if (stasync_store_get(w->store, codec, &ids[i], STASYNC_DIGEST_SHA512_256, out,
				      CHUNK_SIZE, &w->err) < 0 ||
		    memcmp(out, data[i], CHUNK_SIZE) != 0) {
			w->failures++;
			break;
		}
	}
	stasync_codec_free(codec);
	return NULL;
}

static void run_remote(const char *remote, const char *what, const char *locator)
{
	struct worker w[N_THREADS];
	pthread_t t[N_THREADS];
	stasync_store *store = NULL;
	stasync_error err = { 0, "" };
	stasync_chunk_id absent;
	stasync_codec *codec;
	uint8_t out[CHUNK_SIZE];
	int failures = 0, r;

	setenv("CASYNC_REMOTE_PATH", remote, 1);
	if (!tap_ok(stasync_store_open(locator, 0, &store, &err) == 0, "%s: open %s (%s)", what,
		    locator, err.message))
		return;
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ .store = store, .seed = (unsigned)i };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].failures) {
			failures++;
			tap_diag("thread %d: %s", i, w[i].err.message);
		}
	}
	tap_ok(failures == 0, "%s: %d threads read %d chunks twice each, all intact", what,
	       N_THREADS, N_CHUNKS);
	memset(absent.bytes, 0xab, sizeof(absent.bytes));
	tap_ok(stasync_store_has(store, &ids[5], &err) == 1, "%s: has() a chunk it has", what);
	tap_ok(stasync_store_has(store, &absent, &err) == 0, "%s: has() a chunk it lacks", what);
	stasync_codec_new(&codec);
	r = stasync_store_get(store, codec, &absent, STASYNC_DIGEST_SHA512_256, out, CHUNK_SIZE, &err);
	tap_ok(r == -ENOENT && strstr(err.message, "missing") && strstr(err.message, locator),
	       "%s: a missing chunk is -ENOENT, store named (%s)", what, err.message);
	r = stasync_store_get(store, codec, &ids[1], STASYNC_DIGEST_SHA512_256, out, CHUNK_SIZE, &err);
	tap_ok(r == 0 && memcmp(out, data[1], CHUNK_SIZE) == 0, "%s: and the conversation goes on", what);
	stasync_codec_free(codec);
	stasync_store_free(store);
}

/* One request for more chunks than the remote side queues before it
 * waits for the client to read: it must answer each id it was asked for,
 * in order, while its input buffer moves under the request. */
static void test_big_request(const char *tmp)
{
	enum { N = 200, SIZE = 64 * 1024 };
	char dir[4096];
	const char *rstores[1] = { dir };
	stasync_remote_paths p = { .rstores = rstores, .n_rstores = 1 };
	stasync_chunk_id *big = calloc(N, sizeof(*big));
	uint8_t *buf = malloc(SIZE);
	stasync_store *st = NULL;
	stasync_codec *codec = NULL;
	stasync_error err = { 0, "" };
	struct sta_conn *c = NULL;
	struct sta_proto_msg m;
	int to[2], from[2], status = -1, in_order = 0;
	uint64_t remote;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/big", tmp);
	stasync_codec_new(&codec);
	stasync_store_open(dir, STASYNC_STORE_WRITABLE, &st, &err);
	for (int i = 0; i < N; i++) {
		testdata_fill(buf, SIZE, 5000 + (uint64_t)i, TESTDATA_RANDOM);
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, buf, SIZE, &big[i]);
		stasync_store_put(st, codec, &big[i], buf, SIZE, &err);
	}
	stasync_store_free(st);
	if (pipe(to) < 0 || pipe(from) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		_exit(stasync_remote_serve_pull(to[0], from[1], &p, &err) < 0 ? 1 : 0);
	}
	close(to[0]);
	close(from[1]);
	sta_conn_open_fds(from[0], to[1], "remote", &c, &err);
	sta_conn_hello(c, STA_PROTO_PULL_CHUNKS, &remote, &err);
	/* More input once the answers flow, read while they go out. */
	sta_proto_put_request(sta_conn_out(c), 0, big, N);
	while (in_order < N + 1 && sta_conn_next(c, &m, &err) == 1 && m.type == STA_PROTO_CHUNK &&
	       memcmp(m.ids, big[in_order < N ? in_order : N - 1].bytes, 32) == 0)
		if (++in_order == 1)
			sta_proto_put_request(sta_conn_out(c), 0, big + N - 1, 1);
	if (in_order != N + 1)
		tap_diag("stopped at %d: type %s, r/err %s", in_order, sta_proto_type_name(m.type), err.message);
	tap_ok(in_order == N + 1, "one request for %d chunks of 64 KiB and another behind it: all answered, in order (%d; %s)",
	       N, in_order, err.message);
	sta_proto_put_empty(sta_conn_out(c), STA_PROTO_GOODBYE);
	sta_conn_flush(c, &err);
	sta_conn_close(c);
	close(from[0]);
	close(to[1]);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the remote side ends cleanly at goodbye");
	stasync_codec_free(codec);
	free(big);
	free(buf);
}

int main(void)
{
	const char *tmp = tap_tmpdir(), *builddir = getenv("top_builddir"), *casync = getenv("CASYNC");
	char store_dir[4096], ssh[4096], locator[4200], self[4096];
	stasync_store *local = NULL;
	stasync_codec *codec = NULL;
	stasync_error err = { 0, "" };
	FILE *f;

	snprintf(self, sizeof(self), "%s/stasync", builddir ? builddir : ".");
	if (access(self, X_OK) < 0) {
		printf("1..0 # SKIP %s not built\n", self);
		return 0;
	}
	snprintf(store_dir, sizeof(store_dir), "%s/st", tmp);
	snprintf(ssh, sizeof(ssh), "%s/ssh", tmp);
	snprintf(locator, sizeof(locator), "h:%s", store_dir);
	f = fopen(ssh, "w");
	if (!f || fputs("#!/bin/sh\nshift\nexec sh -c \"$*\"\n", f) < 0 || fclose(f) != 0 ||
	    chmod(ssh, 0755) < 0) {
		perror(ssh);
		return 99;
	}
	setenv("CASYNC_SSH_PATH", ssh, 1);

	stasync_codec_new(&codec);
	tap_ok(stasync_store_open(store_dir, STASYNC_STORE_WRITABLE, &local, &err) == 0,
	       "a local store to serve");
	for (int i = 0; i < N_CHUNKS; i++) {
		testdata_fill(data[i], CHUNK_SIZE, 1000 + (uint64_t)i, TESTDATA_RANDOM);
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, data[i], CHUNK_SIZE, &ids[i]);
		if (stasync_store_put(local, codec, &ids[i], data[i], CHUNK_SIZE, &err) < 0)
			tap_ok(false, "put chunk %d: %s", i, err.message);
	}
	stasync_store_free(local);
	stasync_codec_free(codec);

	test_big_request(tmp);
	tap_ok(stasync_is_ssh_remote(locator), "%s is an ssh remote", locator);
	run_remote(self, "stasync remote", locator);
	if (casync && *casync && access(casync, X_OK) == 0)
		run_remote(casync, "casync remote", locator);
	else
		tap_ok(true, "casync remote # SKIP casync not installed");
	return tap_done();
}
