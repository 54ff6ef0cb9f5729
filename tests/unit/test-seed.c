/* test-seed — seeds: the chunks a seed shares with an index are found and
 * read back; what changed in the seed after it was cut is refused, never
 * handed out; chunks of a directory are kept aside. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stasync/stasync.h>
#include "store.h"
#include "tap.h"
#include "testdata.h"

#define SIZE ((size_t)3 << 20)

/* the chunks of data[0..n) as the default chunker cuts them, into `set`
 * and the arrays */
static size_t cut(const uint8_t *data, size_t n, stasync_chunk_set *set, stasync_chunk_id *ids,
		  size_t *offs, size_t *lens)
{
	stasync_chunk_sizes sz = { 0, 0, 0 };
	stasync_chunker c;
	size_t k = 0, off = 0;

	stasync_chunker_init(&c, &sz);
	while (off < n) {
		size_t m = stasync_chunker_scan(&c, data + off, n - off);
		if (m == SIZE_MAX)
			m = n - off;
		stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, data + off, m, &ids[k]);
		stasync_chunk_set_add(set, &ids[k], m);
		offs[k] = off;
		lens[k++] = m;
		off += m;
	}
	return k;
}

int main(void)
{
	uint8_t *data = tap_xmalloc(SIZE), *out = tap_xmalloc((size_t)256 << 10);
	stasync_chunk_id ids[1024];
	size_t offs[1024], lens[1024], n, got = 0;
	stasync_chunk_sizes sz = { 0, 0, 0 };
	stasync_chunk_set *wanted;
	stasync_seed *seed;
	stasync_codec *codec;
	stasync_error err = { 0, "" };
	uint64_t chunks, bytes;
	const char *path = tap_tmp_path("seed.bin");
	int fd, r;

	testdata_fill(data, SIZE, 5, TESTDATA_RANDOM);
	stasync_chunk_sizes_complete(&sz);
	if (stasync_chunk_set_new(&wanted) < 0 || stasync_codec_new(&codec) < 0)
		return 99;
	n = cut(data, SIZE, wanted, ids, offs, lens);
	tap_ok(n > 10, "%zu chunks wanted", n);

	/* the seed: the same data but for a few bytes in the middle */
	memcpy(data + SIZE / 2, "changed", 7);
	tap_write_file(path, data, SIZE);
	fd = open(path, O_RDONLY);
	r = stasync_seed_new(wanted, &sz, STASYNC_DIGEST_SHA512_256, &seed, &err);
	if (r == 0)
		r = stasync_seed_add_file(seed, fd, path, &err);
	close(fd);
	tap_ok(r == 0, "a file seed is cut (%d %s)", r, err.message);
	stasync_seed_found(seed, &chunks, &bytes);
	tap_ok(chunks >= n - 2 && chunks < n, "it holds %" PRIu64 " of the %zu chunks: all but those around the change",
	       chunks, n);
	for (size_t i = 0; i < n; i++)
		got += sta_seed_get(seed, codec, &ids[i], STASYNC_DIGEST_SHA512_256, out, lens[i], NULL) == 0;
	tap_ok(got == chunks, "each is read back and checked (%zu)", got);

	/* the file changes after it was cut: that chunk is refused */
	fd = open(path, O_WRONLY);
	tap_ok(pwrite(fd, "X", 1, (off_t)offs[0]) == 1, "the seed changes after it was cut");
	close(fd);
	r = sta_seed_get(seed, codec, &ids[0], STASYNC_DIGEST_SHA512_256, out, lens[0], NULL);
	tap_ok(r == -ENOENT, "the changed chunk is refused: -ENOENT (%d)", r);
	r = sta_seed_get(seed, codec, &ids[1], STASYNC_DIGEST_SHA512_256, out, lens[1], NULL);
	tap_ok(r == 0 && memcmp(out, data + offs[1], lens[1]) == 0, "the next one is still read (%d)", r);
	r = sta_seed_get(seed, codec, &ids[1], STASYNC_DIGEST_SHA512_256, out, lens[1] - 1, NULL);
	tap_ok(r == -ENOENT, "asked for with another size: -ENOENT (%d)", r);
	stasync_seed_free(seed);

	/* a directory holding the data as a file: the chunks of its archive
	 * that the archive index wants are found and kept aside */
	{
		const char *dir = tap_tmp_path("tree");
		stasync_encode_options eo = { 0 };
		stasync_chunk_set *none;
		int dfd;

		mkdir(dir, 0755);
		tap_write_file(tap_tmp_path("tree/f"), data, SIZE);
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		stasync_chunk_set_new(&none);
		r = stasync_seed_new(none, &sz, STASYNC_DIGEST_SHA512_256, &seed, &err);
		if (r == 0)
			r = stasync_seed_add_dir(seed, dfd, dir, &eo, &err);
		stasync_seed_found(seed, &chunks, &bytes);
		tap_ok(r == 0 && chunks == 0, "a directory seed with nothing wanted keeps nothing (%d %s)", r,
		       err.message);
		stasync_seed_free(seed);
		stasync_chunk_set_free(none);
		r = stasync_seed_new(wanted, &sz, STASYNC_DIGEST_SHA512_256, &seed, &err);
		if (r == 0)
			r = stasync_seed_add_dir(seed, dfd, dir, &eo, &err);
		stasync_seed_found(seed, &chunks, &bytes);
		/* the archive's chunk boundaries fall where the file's do, a
		 * few chunks after the file's start (the chunker resynchronises) */
		tap_ok(r == 0 && chunks > n / 2, "a directory seed finds the file's chunks: %" PRIu64 " (%d %s)",
		       chunks, r, err.message);
		got = 0;
		for (size_t i = 0; i < n; i++)
			got += sta_seed_get(seed, codec, &ids[i], STASYNC_DIGEST_SHA512_256, out, lens[i], NULL) == 0;
		tap_ok(got == chunks, "... and reads them back from where it kept them (%zu)", got);
		stasync_seed_free(seed);
		close(dfd);
	}
	stasync_chunk_set_free(wanted);
	stasync_codec_free(codec);
	free(data);
	free(out);
	return tap_done();
}
