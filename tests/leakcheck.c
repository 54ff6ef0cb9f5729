/*
 * leakcheck: run a test, then make sure it left no process behind.
 *
 *   leakcheck TEST [ARGS...]
 *
 * Every test of `make check` runs under it (LOG_COMPILER in Makefile.am).
 * It makes itself a child subreaper, so that whatever the test starts,
 * double-forked daemons and setsid()'d orphans included, stays among its
 * descendants, and runs TEST in a process group of its own. When TEST has
 * exited, any descendant still running after a grace period
 * ($LEAKCHECK_GRACE_MS, default 2000) is named on stdout, in TAP
 * ("# leakcheck: ..." lines, then "Bail out! ..."), and killed: SIGTERM,
 * then SIGKILL. The Bail out! makes Automake's TAP driver count the test
 * as an ERROR.
 *
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to leakcheck (a ^C at the
 * terminal included) are passed on to the test's process group, once. Not
 * being the terminal's foreground group, the test gets /dev/null as its
 * stdin when leakcheck's is a terminal: a read from it (or script(1)
 * setting it raw) would stop the test instead of running it.
 *
 * Exit status: TEST's (128 + N when signal N killed it); 99 when TEST
 * passed but left processes behind; 99 too when TEST cannot be run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 4096

static volatile sig_atomic_t test_pid;
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void forward(int sig)
{
	if (test_pid > 0)
		kill(-(pid_t)test_pid, sig);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reap whichever of our children have exited (orphans land here too). */
static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* The parent pid and state of process PID, from /proc/PID/stat. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, ')' too */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

/*
 * Our live descendants (zombies left out) into OUT; returns how many.
 * Walks /proc, then keeps those whose chain of parents reaches us.
 */
static int descendants(pid_t *out, int max)
{
	static pid_t pids[MAX_PROCS], ppids[MAX_PROCS];
	static char states[MAX_PROCS];
	static signed char mine[MAX_PROCS];
	pid_t self = getpid();
	int n = 0, found = 0, changed;
	struct dirent *d;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return 0;
	while ((d = readdir(dir)) && n < MAX_PROCS) {
		char *end;
		long v = strtol(d->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (proc_stat((pid_t)v, &ppids[n], &states[n]) < 0)
			continue;
		pids[n] = (pid_t)v;
		mine[n] = ppids[n] == self;
		n++;
	}
	closedir(dir);
	do {
		changed = 0;
		for (int i = 0; i < n; i++) {
			if (mine[i])
				continue;
			for (int j = 0; j < n; j++) {
				if (mine[j] && pids[j] == ppids[i]) {
					mine[i] = 1;
					changed = 1;
					break;
				}
			}
		}
	} while (changed);
	for (int i = 0; i < n; i++)
		if (mine[i] && states[i] != 'Z' && states[i] != 'X' && found < max)
			out[found++] = pids[i];
	return found;
}

/* "PID COMMAND LINE" of a process, for the report. */
static void describe(pid_t pid, char *buf, size_t size)
{
	char path[64], cmd[512];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (f) {
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
	}
	while (n > 0 && cmd[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (cmd[i] == '\0' || cmd[i] == '\n')
			cmd[i] = ' ';
	cmd[n] = '\0';
	if (n == 0) {
		/* a kernel thread or a process on its way out: its name then */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		f = fopen(path, "re");
		n = f ? fread(cmd, 1, sizeof(cmd) - 1, f) : 0;
		if (f)
			fclose(f);
		while (n > 0 && cmd[n - 1] == '\n')
			n--;
		cmd[n] = '\0';
		snprintf(buf, size, "%d [%s]", (int)pid, cmd);
		return;
	}
	snprintf(buf, size, "%d %s", (int)pid, cmd);
}

/* Wait at most MS milliseconds for our descendants to be gone. */
static int wait_gone(long ms, pid_t *left, int max)
{
	int n;

	for (;;) {
		reap();
		n = descendants(left, max);
		if (n == 0 || ms <= 0)
			return n;
		sleep_ms(20);
		ms -= 20;
	}
}

static long env_ms(const char *name, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return dflt;
	v = strtol(s, &end, 10);
	return *end || v < 0 ? dflt : v;
}

int main(int argc, char **argv)
{
	static pid_t left[MAX_PROCS];
	static char desc[MAX_PROCS > 64 ? 64 : MAX_PROCS][600];
	struct sigaction sa;
	sigset_t block, old;
	int status = 0, exit_status, n, shown, rounds;
	long grace = env_ms("LEAKCHECK_GRACE_MS", 2000);
	pid_t pid, w;

	if (argc < 2) {
		fprintf(stderr, "usage: leakcheck TEST [ARGS...]\n");
		return 99;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		/* no subreapers (Linux < 3.4): orphans escape, the rest is checked */
		printf("# leakcheck: cannot become a child subreaper: %s\n", strerror(errno));
	}
	fflush(stdout);

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	if (pid < 0) {
		perror("leakcheck: fork");
		return 99;
	}
	if (pid == 0) {
		/* the test gets TERM should we die before it ends */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		setpgid(0, 0);
		if (isatty(STDIN_FILENO)) {
			int fd = open("/dev/null", O_RDONLY);

			if (fd >= 0 && fd != STDIN_FILENO) {
				dup2(fd, STDIN_FILENO);
				close(fd);
			}
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "leakcheck: cannot run %s: %s\n", argv[1], strerror(errno));
		_exit(99);
	}
	setpgid(pid, pid); /* as the child does: whichever runs first */
	test_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* the reader may be gone after a ^C */
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* wait for the test, reaping orphans handed to us meanwhile */
	for (;;) {
		w = waitpid(-1, &status, 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			perror("leakcheck: waitpid");
			return 99;
		}
	}
	/* no more forwarding: the leftovers are killed below in any case */
	test_pid = 0;
	if (WIFEXITED(status))
		exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		exit_status = 128 + WTERMSIG(status);
	else
		exit_status = 99;

	n = wait_gone(grace, left, MAX_PROCS);
	if (n == 0)
		return exit_status;

	shown = n < (int)(sizeof(desc) / sizeof(desc[0])) ? n : (int)(sizeof(desc) / sizeof(desc[0]));
	for (int i = 0; i < shown; i++)
		describe(left[i], desc[i], sizeof(desc[i]));
	printf("# leakcheck: %s left %d process%s running %.1f s after it ended; killing:\n",
	       argv[1], n, n == 1 ? "" : "es", grace / 1000.0);
	for (int i = 0; i < shown; i++)
		printf("# leakcheck:   %s\n", desc[i]);
	if (shown < n)
		printf("# leakcheck:   ... and %d more\n", n - shown);
	fflush(stdout);

	/* TERM first (nginx and the like tidy up), then KILL until none is left */
	for (int i = 0; i < n; i++) {
		kill(left[i], SIGTERM);
		kill(left[i], SIGCONT);
	}
	n = wait_gone(1000, left, MAX_PROCS);
	for (rounds = 0; n > 0 && rounds < 50; rounds++) {
		for (int i = 0; i < n; i++)
			kill(left[i], SIGKILL);
		n = wait_gone(100, left, MAX_PROCS);
	}
	if (n > 0)
		printf("# leakcheck: %d process%s could not be killed\n", n, n == 1 ? "" : "es");
	printf("Bail out! %s left processes running: %s%s\n", argv[1], desc[0],
	       shown > 1 ? " ..." : "");
	fflush(stdout);
	return exit_status ? exit_status : 99;
}
