/* nosys — run a program as if on Linux 3.2: every system call added after
 * that kernel fails with ENOSYS, as it would on an old kernel.
 *
 *   nosys [-a ARGV0] PROGRAM [ARG...]   install the filter, then exec PROGRAM
 *   nosys --self-test                   check that the filter works here
 *   nosys --list                        print the calls the filter refuses
 *
 * A seccomp BPF filter (prctl(PR_SET_NO_NEW_PRIVS) then PR_SET_SECCOMP with
 * SECCOMP_MODE_FILTER, both of which Linux 3.5+ has) returns ENOSYS for every
 * x86_64 system call numbered 312 (kcmp, Linux 3.5) or higher, for the x32 ABI
 * and for any other architecture. x86_64 numbers are given in order of the
 * release that added them; 310/311 (process_vm_readv/writev) are Linux 3.2's
 * last, so every later call is refused, the ones listed below and any a future
 * kernel adds. What this does not model: new flags on old calls (O_TMPFILE,
 * AT_EMPTY_PATH for some calls, newer clone/mmap flags…), which an old kernel
 * ignores or refuses with EINVAL rather than ENOSYS.
 *
 * -a sets argv[0] of the program (like bash's exec -a), so a wrapper script
 * can pass on the name it was called by.
 *
 * Exit status: PROGRAM's, or 77 (Automake's "skip") where the filter cannot
 * be installed (not x86_64, no seccomp), 2 for usage errors, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__linux__)
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define FIRST_NEW_SYSCALL 312   /* kcmp, Linux 3.5 */
#define X32_SYSCALL_BIT   0x40000000u

/* x86_64 system calls after Linux 3.2, with the release that added them. */
static const struct {
	int nr;
	const char *name;
	const char *since;
} new_calls[] = {
	{ 312, "kcmp", "3.5" }, { 313, "finit_module", "3.8" },
	{ 314, "sched_setattr", "3.14" }, { 315, "sched_getattr", "3.14" },
	{ 316, "renameat2", "3.15" }, { 317, "seccomp", "3.17" },
	{ 318, "getrandom", "3.17" }, { 319, "memfd_create", "3.17" },
	{ 320, "kexec_file_load", "3.17" }, { 321, "bpf", "3.18" },
	{ 322, "execveat", "3.19" }, { 323, "userfaultfd", "4.3" },
	{ 324, "membarrier", "4.3" }, { 325, "mlock2", "4.4" },
	{ 326, "copy_file_range", "4.5" }, { 327, "preadv2", "4.6" },
	{ 328, "pwritev2", "4.6" }, { 329, "pkey_mprotect", "4.9" },
	{ 330, "pkey_alloc", "4.9" }, { 331, "pkey_free", "4.9" },
	{ 332, "statx", "4.11" }, { 333, "io_pgetevents", "4.18" },
	{ 334, "rseq", "4.18" }, { 424, "pidfd_send_signal", "5.1" },
	{ 425, "io_uring_setup", "5.1" }, { 426, "io_uring_enter", "5.1" },
	{ 427, "io_uring_register", "5.1" }, { 428, "open_tree", "5.2" },
	{ 429, "move_mount", "5.2" }, { 430, "fsopen", "5.2" },
	{ 431, "fsconfig", "5.2" }, { 432, "fsmount", "5.2" },
	{ 433, "fspick", "5.2" }, { 434, "pidfd_open", "5.3" },
	{ 435, "clone3", "5.3" }, { 436, "close_range", "5.9" },
	{ 437, "openat2", "5.6" }, { 438, "pidfd_getfd", "5.6" },
	{ 439, "faccessat2", "5.8" }, { 440, "process_madvise", "5.10" },
	{ 441, "epoll_pwait2", "5.11" }, { 442, "mount_setattr", "5.12" },
	{ 443, "quotactl_fd", "5.14" }, { 444, "landlock_create_ruleset", "5.13" },
	{ 445, "landlock_add_rule", "5.13" }, { 446, "landlock_restrict_self", "5.13" },
	{ 447, "memfd_secret", "5.14" }, { 448, "process_mrelease", "5.15" },
	{ 449, "futex_waitv", "5.16" }, { 450, "set_mempolicy_home_node", "5.17" },
	{ 451, "cachestat", "6.5" }, { 452, "fchmodat2", "6.6" },
	{ 453, "map_shadow_stack", "6.6" }, { 454, "futex_wake", "6.7" },
	{ 455, "futex_wait", "6.7" }, { 456, "futex_requeue", "6.7" },
	{ 457, "statmount", "6.8" }, { 458, "listmount", "6.8" },
	{ 459, "lsm_get_self_attr", "6.8" }, { 460, "lsm_set_self_attr", "6.8" },
	{ 461, "lsm_list_modules", "6.8" }, { 462, "mseal", "6.10" },
	{ 463, "setxattrat", "6.13" }, { 464, "getxattrat", "6.13" },
	{ 465, "listxattrat", "6.13" }, { 466, "removexattrat", "6.13" },
};

static int install_filter(void)
{
	struct sock_filter code[] = {
		/* other architectures (i386 through int 0x80): refuse everything */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* x32 calls have bit 30 set, so they are >= 312 too */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, FIRST_NEW_SYSCALL, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(code) / sizeof(code[0])),
		.filter = code,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Each of these must now fail with ENOSYS, and an old call must still work. */
static int self_test(void)
{
	static const long probes[] = { 318 /* getrandom */, 332 /* statx */,
		319 /* memfd_create */, 316 /* renameat2 */, 326 /* copy_file_range */,
		435 /* clone3 */, 317 /* seccomp */, 437 /* openat2 */,
		X32_SYSCALL_BIT | 39 /* x32 getpid */ };
	int bad = 0;
	char buf[8];

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		long r;

		errno = 0;
		/* zero arguments everywhere: an unfiltered call fails with EFAULT
		 * or EINVAL, or succeeds harmlessly, never ENOSYS */
		r = syscall(probes[i], 0, 0, 0, 0, 0, 0);
		if (r != -1 || errno != ENOSYS) {
			fprintf(stderr, "nosys: system call %#lx returned %ld, errno %d, not ENOSYS\n",
				probes[i], r, errno);
			bad = 1;
		}
	}
	if (syscall(SYS_getpid) != getpid() || read(-1, buf, sizeof(buf)) != -1 || errno != EBADF) {
		fprintf(stderr, "nosys: an old system call does not work any more\n");
		bad = 1;
	}
	if (!bad)
		printf("nosys: the filter refuses calls after Linux 3.2 with ENOSYS\n");
	return bad;
}

static void list_calls(void)
{
	printf("# x86_64 system calls that fail with ENOSYS under nosys (all numbers >= %d)\n",
	       FIRST_NEW_SYSCALL);
	for (size_t i = 0; i < sizeof(new_calls) / sizeof(new_calls[0]); i++)
		printf("%d\t%s\t%s\n", new_calls[i].nr, new_calls[i].name, new_calls[i].since);
}

int main(int argc, char **argv)
{
	const char *argv0 = NULL, *prog;
	int i = 1, r;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		list_calls();
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "-a") == 0) {
		argv0 = argv[2];
		i = 3;
	}
	if (i >= argc || (argv[i][0] == '-' && strcmp(argv[i], "--self-test") != 0)) {
		fprintf(stderr, "usage: nosys [-a ARGV0] PROGRAM [ARG...] | --self-test | --list\n");
		return 2;
	}
	r = install_filter();
	if (r < 0) {
		fprintf(stderr, "nosys: cannot install the seccomp filter: %s\n", strerror(-r));
		return 77;
	}
	if (strcmp(argv[i], "--self-test") == 0)
		return self_test();
	prog = argv[i];
	if (argv0)
		argv[i] = (char *)argv0;
	/* execve(2) is old: it passes the filter, and the filter stays on the
	 * new program and everything it starts */
	execvp(prog, argv + i);
	fprintf(stderr, "nosys: cannot run %s: %s\n", prog, strerror(errno));
	return 127;
}

#else /* not x86_64 Linux */

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "nosys: only x86_64 Linux is supported\n");
	return 77;
}

#endif
