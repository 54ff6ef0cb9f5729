/* fuzz-replay — run a libFuzzer harness over saved inputs without
 * libFuzzer, so `make check` (and a sanitizer build) re-runs the corpus.
 *
 *   fuzz-index-replay FILE|DIR...
 *
 * Each FILE is read and passed to LLVMFuzzerTestOneInput() once; each DIR
 * stands for the regular files directly in it (one level, in name order;
 * hidden files and subdirectories are skipped). A harness that finds a
 * bug aborts, so reaching the end means every input passed: exit 0. An
 * argument that cannot be read is an error (exit 1), so a missing corpus
 * is not mistaken for a passing one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, size_t *n_run)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Exactly the file's size, so a sanitizer catches reads past the end. */
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "fuzz-replay: %s: out of memory\n", path);
		close(fd);
		return -1;
	}
	while (done < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + done, (size_t)st.st_size - done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			fprintf(stderr, "fuzz-replay: %s: %s\n", path,
				k < 0 ? strerror(errno) : "file shrank while being read");
			free(buf);
			close(fd);
			return -1;
		}
		done += (size_t)k;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, done);
	free(buf);
	(*n_run)++;
	return 0;
}

static int entry_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int run_dir(const char *dir, size_t *n_run)
{
	struct dirent **names;
	int n, failed = 0;

	n = scandir(dir, &names, entry_filter, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz-replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		struct stat st;

		if (!path) {
			fprintf(stderr, "fuzz-replay: out of memory\n");
			exit(1);
		}
		snprintf(path, len, "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path, n_run) < 0)
				failed = 1;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	size_t n_run = 0;
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int r;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "fuzz-replay: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		r = S_ISDIR(st.st_mode) ? run_dir(argv[i], &n_run) : run_file(argv[i], &n_run);
		if (r < 0)
			status = 1;
	}
	printf("%s: %zu inputs run\n", argv[0], n_run);
	return status;
}
