/* --seed and --seed-output for extract: what is on this machine already is
 * cut as the index was, so that the chunks it shares are not fetched. A
 * seed that cannot be read is only a chunk source less: a warning, not a
 * failure. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* One seed: a directory (trees only), else a file or block device. */
static void seed_add(struct cli *c, const char *path, bool tree, const stasync_index_header *h)
{
	stasync_error err = { 0, "" };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: warning: seed %s: cannot open: %s; going on without it\n",
			c->program, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (S_ISDIR(st.st_mode) && tree) {
		stasync_encode_options eo = cli_encode_options(c);

		/* encoded as the archive was, so that equal trees give equal chunks */
		eo.feature_flags = h->feature_flags;
		r = stasync_seed_add_dir(c->seed, fd, path, &eo, &err);
	} else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		r = stasync_seed_add_file(c->seed, fd, path, &err);
	else
		snprintf(err.message, sizeof(err.message), "seed %s: %s", path,
			 S_ISDIR(st.st_mode) ? "a directory seeds a directory archive, not a blob"
					     : "not a file, block device or directory");
	if (r < 0 || err.message[0])
		fprintf(stderr, "%s: warning: %s; going on without it\n", c->program, err.message);
	close(fd);
}

/* The output as a seed: a file for a blob, a directory for a tree. */
static bool output_seeds(const struct cli *c, const char *output, bool tree)
{
	struct stat st;

	if (!c->seed_output || !output || strcmp(output, "-") == 0 || stat(output, &st) < 0)
		return false;
	return tree ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

int cli_seed_open(struct cli *c, int index_fd, const char *index_name, const char *output,
		  bool tree)
{
	bool with_output = output_seeds(c, output, tree);
	stasync_index_reader *r = NULL;
	stasync_error err = { 0, "" };
	stasync_index_header h;
	stasync_chunk_sizes sizes;
	uint64_t chunks, bytes;
	int fd, k;

	c->seed = NULL;
	if (c->n_seeds == 0 && !with_output)
		return 0;
	/* The chunks wanted: the index read once through a second descriptor,
	 * then put back to its start for the extraction itself. */
	fd = dup(index_fd);
	if (fd < 0 || lseek(index_fd, 0, SEEK_CUR) < 0) {
		if (fd >= 0)
			close(fd);
		if (c->n_seeds)
			fprintf(stderr, "%s: warning: %s is not a file: seeds are not used\n",
				c->program, index_name);
		return 0;
	}
	if (stasync_chunk_set_new(&c->seed_wanted) < 0) {
		close(fd);
		return cli_error(c, "out of memory");
	}
	k = stasync_index_reader_open(fd, index_name, &r, &err);
	if (k >= 0) {
		h = *stasync_index_reader_header(r);
		k = stasync_chunk_set_add_index(c->seed_wanted, r, NULL, &err);
	}
	if (k < 0) {
		stasync_index_reader_free(r);
		cli_seed_close(c);
		return cli_fail(c, &err);
	}
	sizes = (stasync_chunk_sizes){ (size_t)h.chunk_size_min, (size_t)h.chunk_size_avg,
				       (size_t)h.chunk_size_max };
	if (stasync_seed_new(c->seed_wanted, &sizes, stasync_index_reader_digest_type(r), &c->seed,
			     &err) < 0) {
		stasync_index_reader_free(r);
		cli_seed_close(c);
		return cli_fail(c, &err);
	}
	stasync_index_reader_free(r);
	if (lseek(index_fd, 0, SEEK_SET) < 0) {
		cli_seed_close(c);
		return cli_error(c, "%s: cannot read it again: %s", index_name, strerror(errno));
	}

	for (size_t i = 0; i < c->n_seeds; i++)
		seed_add(c, c->seeds[i], tree, &h);
	if (with_output)
		seed_add(c, output, tree, &h);
	stasync_seed_found(c->seed, &chunks, &bytes);
	cli_info(c, "The seeds hold %" PRIu64 " of the %zu chunks wanted (%" PRIu64 " bytes)", chunks,
		 stasync_chunk_set_count(c->seed_wanted), bytes);
	return 0;
}

void cli_seed_close(struct cli *c)
{
	stasync_seed_free(c->seed);
	c->seed = NULL;
	stasync_chunk_set_free(c->seed_wanted);
	c->seed_wanted = NULL;
}
