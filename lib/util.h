/* Small internal helpers shared by the library: cleanup attributes,
 * little-endian access, full reads/writes and error reporting. */
#ifndef STASYNC_LIB_UTIL_H
#define STASYNC_LIB_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stasync/error.h>
#include "banned.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand a resource out of a _cleanup_ variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -EBADF; _t; })

static inline uint64_t le64_get(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static inline void le64_put(void *p, uint64_t v)
{
	uint8_t *b = p;

	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/* sta_error() — record code and a formatted message in e (if non-NULL);
 * "%m" is not supported, use sta_strerror(code). Returns code, which must
 * be negative. */
int sta_error(stasync_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* sta_error_prefix() — put "prefix: " in front of an existing message. */
int sta_error_prefix(stasync_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* sta_qsort() — qsort() that accepts an empty (even NULL) array, which
 * qsort() itself does not. */
static inline void sta_qsort(void *base, size_t n, size_t size,
			     int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* sta_read_full() — read until n bytes or EOF; returns bytes read or -errno. */
ssize_t sta_read_full(int fd, void *p, size_t n);
/* sta_read_least() — read into p[0..n) until at least `least` bytes (≤ n)
 * are in, or EOF; returns bytes read or -errno. */
ssize_t sta_read_least(int fd, void *p, size_t n, size_t least);
/* sta_write_full() — write all n bytes; 0 or -errno. */
int sta_write_full(int fd, const void *p, size_t n);
/* sta_pwrite_full() — the same at a file offset. */
int sta_pwrite_full(int fd, const void *p, size_t n, uint64_t offset);
/* sta_all_zero() — n > 0 bytes, all zero. */
bool sta_all_zero(const void *p, size_t n);
/* sta_is_hex() — n characters, all lower-case hex digits (a store's names). */
bool sta_is_hex(const char *s, size_t n);
/* sta_pwrite_holes() — write n bytes at `offset` into a file that reads as
 * zeros there (new, or grown by ftruncate), leaving out every piece of
 * zeros up to a STA_HOLE_BLOCK boundary of the file, so that whole zero
 * blocks stay holes. *hole_at_end says whether the last piece was left
 * out: the caller then sets the file's size. 0 or -errno. */
#define STA_HOLE_BLOCK 4096u
int sta_pwrite_holes(int fd, const void *p, size_t n, uint64_t offset, bool *hole_at_end);

/* sta_count() — add to a progress counter another thread reads. */
static inline void sta_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* sta_strdup() — strdup that reports -ENOMEM through e. */
char *sta_strdup(const char *s);

/* sta_mkdir_p() — create a directory and its parents (mode 0755). */
int sta_mkdir_p(const char *path);

/* sta_random_u64() — a number for temporary names, unlikely to repeat
 * across threads and processes; not random in any cryptographic sense. */
uint64_t sta_random_u64(void);

/* Stack sizes for the library's threads: musl's default (128 KiB) is tight
 * for a TLS handshake; zstd and the digests keep their state on the heap. */
#define STA_STACK_TLS ((size_t)1 << 20)
#define STA_STACK_WORK ((size_t)512 << 10)

/* sta_thread_start() — run fn(arg) on a new thread with a stack of
 * stack_size bytes. Returns 0 or -errno. */
int sta_thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg);

/* sta_thread_serve() — called by a worker thread that serves one thread
 * doing work that must run in order (a stream's digest, the walk of an
 * archive): lowers the caller's own priority (nice +10), so that on a
 * machine with few cores the serving threads take what that one leaves,
 * instead of each taking an equal share of the cores from it. Only this
 * thread changes (on Linux the nice value is per thread); a failure is of
 * no consequence. */
void sta_thread_serve(void);

/* sta_cpu_count() — the CPUs online, from 1 to max. */
unsigned sta_cpu_count(unsigned max);

/* sta_tmpfile_open() — an unlinked temporary file in $TMPDIR (else
 * /tmp), open for reading and writing; or -errno. */
int sta_tmpfile_open(void);

/* sta_tmpfile_at() — an unnamed file in directory `dir` (relative to
 * dir_fd), named only once complete with sta_tmpfile_link(), so a killed
 * writer leaves nothing behind. -errno when the kernel (before 3.11) or
 * the file system has no O_TMPFILE: use a named temporary file then. */
int sta_tmpfile_at(int dir_fd, const char *dir, unsigned mode);

/* sta_tmpfile_link() — name the file fd of sta_tmpfile_at() `name`
 * (relative to dir_fd); -EEXIST when the name is taken, -ENOENT without
 * /proc. */
int sta_tmpfile_link(int fd, int dir_fd, const char *name);

/* sta_syncfs() — write out the file system holding fd (sync() where the
 * kernel has no syncfs()). Returns 0 or -errno. */
int sta_syncfs(int fd);

/* sta_fsync_dir_of() — fsync the directory holding `path`, so that a
 * rename into it survives a power loss. Returns 0 or -errno. */
int sta_fsync_dir_of(const char *path);

#endif
