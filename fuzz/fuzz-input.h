/* The fuzz input as a file, for harnesses whose parser reads a file
 * descriptor: a memfd, else an unlinked temporary file, positioned at 0.
 * Aborts when it cannot be made (a harness has no better way out). */
#ifndef STASYNC_FUZZ_INPUT_H
#define STASYNC_FUZZ_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int fuzz_input_fd(const char *name, const uint8_t *data, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		FILE *f = tmpfile();

		if (!f)
			abort();
		fd = dup(fileno(f));
		fclose(f);
		if (fd < 0)
			abort();
	}
	for (size_t done = 0; done < size;) {
		ssize_t k = write(fd, data + done, size - done);

		if (k <= 0)
			abort();
		done += (size_t)k;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

#endif
