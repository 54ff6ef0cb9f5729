/* The helpers extraction leans on for every block it writes: sta_all_zero()
 * against a byte-by-byte reference at every length and alignment, with one
 * byte set anywhere, and sta_pwrite_holes() leaving zero blocks as holes
 * while the file still reads back as the buffer it was given; and
 * sta_read_least(), which reads each chunk file of a local store. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "tap.h"

static bool zero_reference(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return n > 0;
}

static void test_all_zero(void)
{
	enum { MAX = 300 };
	static uint8_t buf[MAX + 16];
	unsigned wrong = 0, cases = 0;

	for (size_t align = 0; align < 9; align++)
		for (size_t n = 0; n <= MAX; n++) {
			uint8_t *p = buf + align;

			memset(buf, 0, sizeof(buf));
			/* bytes just outside [p, p + n) must not count */
			if (align)
				buf[align - 1] = 1;
			p[n] = 1;
			cases++;
			wrong += sta_all_zero(p, n) != zero_reference(p, n);
			for (size_t at = 0; at < n; at++) {
				p[at] = 0x80;
				cases++;
				wrong += sta_all_zero(p, n) != false;
				p[at] = 0;
			}
		}
	tap_ok(wrong == 0, "sta_all_zero: %u cases (lengths 0-%d, 9 alignments, one byte set anywhere), %u wrong",
	       cases, MAX, wrong);
}

static void test_pwrite_holes(void)
{
	const size_t n = 8 * STA_HOLE_BLOCK;
	uint8_t *b = tap_xmalloc(n), *back = tap_xmalloc(n);
	const char *path = tap_tmp_path("holes");
	bool hole_at_end = false;
	int fd, r;
	off_t data;

	/* data, a zero block, data ending one byte into a block, zeros to the end */
	memset(b, 0, n);
	memset(b, 0xaa, STA_HOLE_BLOCK);
	memset(b + 2 * STA_HOLE_BLOCK, 0x55, STA_HOLE_BLOCK + 1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = sta_pwrite_holes(fd, b, n, 0, &hole_at_end);
	tap_ok(r == 0 && hole_at_end, "sta_pwrite_holes: written, ending in a hole (r=%d)", r);
	r = ftruncate(fd, (off_t)n);
	tap_ok(r == 0 && pread(fd, back, n, 0) == (ssize_t)n && memcmp(back, b, n) == 0,
	       "sta_pwrite_holes: the file reads back as the buffer");
	/* the zero block after the first was not written: it is a hole */
	data = lseek(fd, STA_HOLE_BLOCK, SEEK_DATA);
	tap_ok(data < 0 || data >= (off_t)(2 * STA_HOLE_BLOCK),
	       "sta_pwrite_holes: the zero block at %u is a hole (next data at %lld)",
	       STA_HOLE_BLOCK, (long long)data);
	close(fd);
	free(b);
	free(back);
}

/* sta_read_least() stops once it has what was asked, without another
 * read; a non-blocking pipe would answer that read with EAGAIN. */
static void test_read_least(void)
{
	uint8_t buf[100];
	const char *path = tap_tmp_path("seven");
	int p[2], fd;
	ssize_t k;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0 || write(p[1], "0123456789", 10) != 10)
		exit(99);
	k = sta_read_least(p[0], buf, sizeof(buf), 10);
	tap_ok(k == 10 && memcmp(buf, "0123456789", 10) == 0,
	       "sta_read_least: all 10 bytes asked for, no read after them (%zd)", k);
	if (write(p[1], "abc", 3) != 3)
		exit(99);
	k = sta_read_least(p[0], buf, sizeof(buf), 2);
	tap_ok(k == 3, "sta_read_least: what one read brings, past the least (%zd)", k);
	k = sta_read_least(p[0], buf, sizeof(buf), 1);
	tap_ok(k == -EAGAIN, "sta_read_least: a read that fails says why (%zd)", k);
	close(p[1]);
	k = sta_read_least(p[0], buf, sizeof(buf), 1);
	tap_ok(k == 0, "sta_read_least: 0 at the end (%zd)", k);
	close(p[0]);

	tap_write_file(path, "1234567", 7);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	k = sta_read_least(fd, buf, 8, 7);
	tap_ok(k == 7 && memcmp(buf, "1234567", 7) == 0,
	       "sta_read_least: a file of 7 bytes, 8 room, 7 the least: 7 (%zd)", k);
	close(fd);
}

int main(void)
{
	test_all_zero();
	test_pwrite_holes();
	test_read_least();
	return tap_done();
}
