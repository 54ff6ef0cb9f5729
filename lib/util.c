#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

__attribute__((format(printf, 2, 0)))
static void vformat(stasync_error *e, const char *fmt, va_list ap)
{
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

int sta_error(stasync_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vformat(e, fmt, ap);
	va_end(ap);
	return code;
}

int sta_error_prefix(stasync_error *e, int code, const char *fmt, ...)
{
	char prefix[STASYNC_ERROR_MESSAGE_MAX], old[STASYNC_ERROR_MESSAGE_MAX];
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->message, sizeof(old));
	if (old[0])
		snprintf(e->message, sizeof(e->message), "%.500s: %.500s", prefix, old);
	else
		snprintf(e->message, sizeof(e->message), "%.500s: %.500s", prefix, stasync_strerror(code));
	e->code = code;
	return code;
}

ssize_t sta_read_least(int fd, void *p, size_t n, size_t least)
{
	size_t done = 0;

	while (done < least) {
		ssize_t k = read(fd, (uint8_t *)p + done, n - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

ssize_t sta_read_full(int fd, void *p, size_t n)
{
	return sta_read_least(fd, p, n, n);
}

/* Write all n bytes: at `offset` with pwrite(), or where fd stands with
 * write() when offset is negative (pipes, terminals). */
static int write_all(int fd, const uint8_t *q, size_t n, int64_t offset)
{
	while (n > 0) {
		ssize_t k = offset < 0 ? write(fd, q, n) : pwrite(fd, q, n, (off_t)offset);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		q += k;
		n -= (size_t)k;
		if (offset >= 0)
			offset += k;
	}
	return 0;
}

int sta_write_full(int fd, const void *p, size_t n)
{
	return write_all(fd, p, n, -1);
}

int sta_pwrite_full(int fd, const void *p, size_t n, uint64_t offset)
{
	/* what pwrite() says of an offset off_t cannot hold */
	if (offset > INT64_MAX)
		return -EINVAL;
	return write_all(fd, p, n, (int64_t)offset);
}

/* 64 bytes at a time, not memcmp(p, p + 1, n - 1): musl's memcmp goes
 * byte by byte, and the static binary checks every block it extracts. */
bool sta_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i = 0;

	if (n == 0)
		return false;
	for (; i + 64 <= n; i += 64) {
		uint64_t w[8];

		memcpy(w, b + i, sizeof(w));
		if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) != 0)
			return false;
	}
	for (; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

bool sta_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* the bytes from `offset` to the next block boundary, at most `left` */
static size_t to_boundary(uint64_t offset, size_t left)
{
	return MIN((size_t)(STA_HOLE_BLOCK - offset % STA_HOLE_BLOCK), left);
}

int sta_pwrite_holes(int fd, const void *p, size_t n, uint64_t offset, bool *hole_at_end)
{
	const uint8_t *b = p;
	size_t i = 0;

	while (i < n) {
		size_t start = i, k;

		while (i < n && sta_all_zero(b + i, k = to_boundary(offset + i, n - i)))
			i += k;
		if (i > start) {
			*hole_at_end = true;
			continue;
		}
		while (i < n && !sta_all_zero(b + i, k = to_boundary(offset + i, n - i)))
			i += k;
		int r = sta_pwrite_full(fd, b + start, i - start, offset + start);
		if (r < 0)
			return r;
		*hole_at_end = false;
	}
	return 0;
}

char *sta_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int sta_mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	size_t len;

	if (!p)
		return -ENOMEM;
	len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

uint64_t sta_random_u64(void)
{
	/* Unpredictability is not needed, only names unlikely to collide
	 * (callers create with O_EXCL and retry): time, thread and stack
	 * address (both placed at random per process), mixed (splitmix64).
	 * No system call beyond the vDSO: extract calls this for each file,
	 * and getpid() is a real one. */
	struct timespec ts;
	uint64_t z;

	clock_gettime(CLOCK_REALTIME, &ts);
	z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	    (uint64_t)(uintptr_t)&ts ^ ((uint64_t)(uintptr_t)pthread_self() << 20);
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

int sta_tmpfile_open(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* A file system without O_TMPFILE: a named file, unlinked at once. */
	if (asprintf(&path, "%s/.stasync-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	else
		unlink(path);
	free(path);
	return fd;
}

int sta_tmpfile_at(int dir_fd, const char *dir, unsigned mode)
{
	int fd = openat(dir_fd, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

int sta_tmpfile_link(int fd, int dir_fd, const char *name)
{
	char proc[32];

	/* through /proc: linkat(AT_EMPTY_PATH) needs a capability */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

int sta_syncfs(int fd)
{
	if (syncfs(fd) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	sync();
	return 0;
}

int sta_fsync_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* some file systems cannot fsync a directory, and need not */
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
		r = -errno;
	close(fd);
	return r;
}

int sta_thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int r;

	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	r = pthread_attr_setstacksize(&attr, stack_size);
	if (r == 0)
		r = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -r;
}

void sta_thread_serve(void)
{
	int nice;

	/* who = 0: the calling thread itself, not the whole process */
	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (nice == -1 && errno)
		return;
	(void)setpriority(PRIO_PROCESS, 0, MIN(nice + 10, 19));
}

unsigned sta_cpu_count(unsigned max)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)MIN((unsigned long)n, (unsigned long)MAX(max, 1u));
}
