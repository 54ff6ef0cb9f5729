# Shared helpers for the end-to-end CLI tests (POSIX sh).  Sourced by every
# tests/cli/t*.sh script:
#
#   . "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
#
# Environment (set by `make check`, see AM_TESTS_ENVIRONMENT in Makefile.am):
#   top_srcdir, top_builddir  absolute paths of the source / build trees
#   STASYNC                   the binary under test (default $top_builddir/stasync)
#   CASYNC                    Debian's casync, the oracle (may be empty)
#
# Output is TAP without a leading plan: every check prints "ok N - ..." or
# "not ok N - ...", and done_testing prints "1..N" at the end and exits 1 if
# any check failed.  Diagnostics are "# ..." lines.

# ---- locations -----------------------------------------------------------------
if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
: "${top_builddir:=$top_srcdir}"
: "${STASYNC:=$top_builddir/stasync}"
: "${CASYNC:=}"
export top_srcdir top_builddir STASYNC CASYNC

# The caller's environment must not change which store gets used.
unset CASYNC_STORE

# The prefix our error messages must start with ("stasync:"; "casync:" when the
# binary is called through a link of that name).
# shellcheck disable=SC2034 # used by the tests
STASYNC_NAME=$(basename "$STASYNC")

# ---- TAP -------------------------------------------------------------------------
tap_count=0
tap_failed=0

# diag TEXT...: print each TEXT argument as TAP diagnostics ("# " lines).
diag() {
	for _l in "$@"; do
		printf '%s\n' "$_l"
	done | sed 's/^/# /'
}

# diag_file LABEL FILE: show (at most 20 lines of) FILE as diagnostics.
diag_file() {
	if [ -s "$2" ]; then
		printf '# %s:\n' "$1"
		head -n 20 "$2" | sed 's/^/#   /'
		# a last line without its newline is ended, or TAP reads on into it
		[ -z "$(tail -c 1 "$2")" ] || echo
	else
		printf '# %s: (empty)\n' "$1"
	fi
}

ok() {
	tap_count=$((tap_count + 1))
	printf 'ok %d - %s\n' "$tap_count" "$*"
}

not_ok() {
	tap_count=$((tap_count + 1))
	tap_failed=$((tap_failed + 1))
	printf 'not ok %d - %s\n' "$tap_count" "$*"
}

# skip DESC REASON: a check that could not run here.
skip() {
	tap_count=$((tap_count + 1))
	printf 'ok %d - %s # SKIP %s\n' "$tap_count" "$1" "$2"
}

# check COND DESC: ok when the shell condition (a string passed to eval)
# holds.  Returns the result so callers can add diagnostics.
check() {
	if eval "$1"; then
		ok "$2"
		return 0
	fi
	not_ok "$2"
	return 1
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
		return 0
	fi
	not_ok "$3"
	diag "  got:      '$1'" "  expected: '$2'"
	return 1
}

# same_file A B DESC: cmp-equal files.
same_file() {
	if cmp "$1" "$2" >"$T/cmp.out" 2>&1; then
		ok "$3"
		return 0
	fi
	not_ok "$3"
	diag_file "cmp $1 $2" "$T/cmp.out"
	return 1
}

# done_testing: print the plan and exit (1 if anything failed).
done_testing() {
	printf '1..%d\n' "$tap_count"
	if [ "$tap_failed" -ne 0 ]; then
		printf '# %d of %d checks failed\n' "$tap_failed" "$tap_count"
		exit 1
	fi
	exit 0
}

skip_all() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}

require_casync() {
	if [ -z "$CASYNC" ] || [ ! -x "$CASYNC" ]; then
		skip_all "casync not installed"
	fi
}

require_stasync() {
	if [ ! -x "$STASYNC" ]; then
		bail_out "binary under test not found: STASYNC=$STASYNC"
	fi
}

# ---- running commands ---------------------------------------------------------------
# run CMD ARGS...: run with stdout/stderr captured in $T/out and $T/err; the
# exit status is left in $rc (never aborts the script).
run() {
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	return 0
}

# show_run: diagnostics for the last run (status, stdout, stderr).
show_run() {
	diag "exit status: $rc"
	diag_file "stdout" "$T/out"
	diag_file "stderr" "$T/err"
}

# run_ok DESC CMD ARGS...: run and expect exit 0.
run_ok() {
	_desc=$1
	shift
	run "$@"
	if [ "$rc" -eq 0 ]; then
		ok "$_desc"
		return 0
	fi
	not_ok "$_desc"
	diag "command: $*"
	show_run
	return 1
}

# now_ms: milliseconds since the epoch.
now_ms() {
	date +%s%3N
}

# count_in FILE PATTERN: lines of FILE matching the fixed string PATTERN.
count_in() {
	grep -cF -- "$2" "$1" 2>/dev/null || true
}

# err_has TEXT DESC: the last run's stderr contains TEXT.
err_has() {
	if grep -qF -- "$1" "$T/err"; then
		ok "$2"
	else
		not_ok "$2"
		diag "expected in stderr: $1"
		show_run
	fi
}

# fails_with DESC TEXT CMD...: the command fails, saying TEXT.
fails_with() {
	_d=$1 _t=$2
	shift 2
	run "$@"
	if [ "$rc" -ne 0 ] && grep -qF -- "$_t" "$T/err"; then
		ok "$_d"
	else
		not_ok "$_d"
		diag "command: $*" "expected failure saying: $_t"
		show_run
	fi
}

# line_count FILE: number of lines, counting an unterminated last line.
line_count() {
	awk 'END { print NR }' "$1"
}

# dir_is_empty DIR: true when DIR exists and holds nothing (no hidden files).
dir_is_empty() {
	[ -d "$1" ] && [ -z "$(ls -A "$1")" ]
}

# chunk_list STORE: sorted list of the chunk files of a store, relative to
# it.  A store that does not exist counts as empty.
chunk_list() {
	if [ -d "$1" ]; then
		(cd "$1" && find . -type f -name '*.cacnk' | sort)
	fi
}

# ---- test data -------------------------------------------------------------------
GEN_TESTDATA=$top_builddir/tests/unit/gen-testdata
gen_warned=

# mkdata KIND SEED SIZE FILE: deterministic test data (KIND random|zero|mixed).
mkdata() {
	if [ -x "$GEN_TESTDATA" ]; then
		"$GEN_TESTDATA" "$1" "$2" "$3" >"$4" || bail_out "gen-testdata $1 $2 $3 failed"
		return 0
	fi
	if [ -z "$gen_warned" ]; then
		diag "$GEN_TESTDATA not built; using non-deterministic fallback data"
		gen_warned=1
	fi
	case $1 in
	zero) head -c "$3" /dev/zero >"$4" ;;
	random) head -c "$3" /dev/urandom >"$4" ;;
	mixed)
		# alternating runs of random bytes and zeros
		: >"$4"
		_left=$3
		_i=0
		while [ "$_left" -gt 0 ]; do
			_n=$((((_i * 7919 + 100000) % 300000) + 1))
			[ "$_n" -gt "$_left" ] && _n=$_left
			if [ $((_i % 2)) -eq 0 ]; then
				head -c "$_n" /dev/urandom >>"$4"
			else
				head -c "$_n" /dev/zero >>"$4"
			fi
			_left=$((_left - _n))
			_i=$((_i + 1))
		done
		;;
	*) bail_out "mkdata: unknown kind $1" ;;
	esac
}

# ---- binary file surgery (for the bad-input tests) ---------------------------------
# file_size FILE
file_size() {
	wc -c <"$1" | tr -d ' '
}

# read_le64 FILE OFFSET: unsigned 64-bit little-endian value (< 2^63).
read_le64() {
	od -An -v -tu1 -j "$2" -N 8 "$1" | awk '
		{ for (i = 1; i <= NF; i++) b[n++] = $i }
		END { v = 0; for (i = 7; i >= 0; i--) v = v * 256 + b[i]; printf "%.0f\n", v }'
}

# hex_at FILE OFFSET LEN: LEN bytes as lower-case hex.
hex_at() {
	od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# le64_bytes N: write N as 8 little-endian bytes to stdout.
le64_bytes() {
	_v=$1
	_i=0
	while [ "$_i" -lt 8 ]; do
		# shellcheck disable=SC2059 # an octal escape built at run time
		printf "\\$(printf '%03o' $((_v & 255)))"
		_v=$((_v >> 8))
		_i=$((_i + 1))
	done
}

# patch_bytes FILE OFFSET: overwrite FILE at OFFSET with stdin.
patch_bytes() {
	dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# write_le64 FILE OFFSET N
write_le64() {
	le64_bytes "$3" | patch_bytes "$1" "$2"
}

# limited KB CMD...: CMD with at most KB of address space and 60 s; a
# sanitizer build gets no address-space limit (AddressSanitizer reserves
# terabytes of it), nor does a binary run by an emulator that reserves the
# guest's whole address space up front (STASYNC_TEST_NO_VLIMIT=1: qemu-arm
# takes 4 GiB for a 32-bit ARM binary).
limited() {
	_kb=$1
	shift
	if grep -q __asan_init "$STASYNC" 2>/dev/null || [ -n "${STASYNC_TEST_NO_VLIMIT:-}" ]; then
		timeout 60 "$@"
	else
		# shellcheck disable=SC3045 # dash and bash both have ulimit -v
		(ulimit -v "$_kb" && exec timeout 60 "$@")
	fi
}

# poll_until PID TENTHS CMD...: run CMD every 0.1 s until it succeeds, the
# process PID ends, or TENTHS tenths of a second have passed; the status of
# CMD's last run (for a server or a mount started in the background).
poll_until() {
	_pp=$1 _pn=$2 _pi=0
	shift 2
	while ! "$@"; do
		[ "$_pi" -lt "$_pn" ] && kill -0 "$_pp" 2>/dev/null || { "$@"; return; }
		sleep 0.1
		_pi=$((_pi + 1))
	done
}

# stop_all_mounts: for a test that mounts (at_exit stop_all_mounts): unmount
# every mount under $T, then stop the processes listed in $MOUNT_PIDS.
MOUNT_PIDS=
stop_all_mounts() {
	for _m in $(awk -v t="$T" '$2 ~ "^" t { print $2 }' /proc/mounts); do
		fusermount3 -u "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done
	for _p in $MOUNT_PIDS; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
}

# notify_listen: listen on $T/notify.sock as a service manager would (sd_notify's
# $NOTIFY_SOCKET) for one message; returns once the socket is bound. Then run
# the command with NOTIFY_SOCKET=$T/notify.sock, and notify_got puts what came
# in $NOTIFY_MSG (waiting 20 s at most; not in a subshell, which cannot wait).
notify_listen() {
	rm -f "$T/notify.ready" "$T/notify.out"
	# shellcheck disable=SC2016
	"${PYTHON3:-python3}" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
open(sys.argv[2], "w").close()
print(s.recv(100).decode())' "$T/notify.sock" "$T/notify.ready" >"$T/notify.out" 2>&1 &
	NOTIFY_LISTENER=$!
	at_exit "kill $NOTIFY_LISTENER 2>/dev/null"
	_n=0
	while [ ! -e "$T/notify.ready" ] && [ "$_n" -lt 50 ]; do sleep 0.1; _n=$((_n + 1)); done
}
notify_got() {
	wait "$NOTIFY_LISTENER"
	NOTIFY_MSG=$(cat "$T/notify.out")
}

# ---- per-test temp dir -------------------------------------------------------------
# The EXIT trap is lib.sh's: a test does not set its own (that would drop
# what others registered, a web server's stop, say) but registers with
#
#   at_exit COMMAND   run the shell code COMMAND when the test exits, the
#                     most recently registered first, before $T is removed
#
# A test exits through it on success, failure, bail_out and the signals
# below; tests/leakcheck (make check) fails a test that leaves a process.
T=$(mktemp -d "${TMPDIR:-/tmp}/stasync-cli.XXXXXX") || bail_out "mktemp -d failed"
at_exit_cmds=
at_exit() {
	at_exit_cmds="$1
$at_exit_cmds"
}
cleanup() {
	# a second ^C (or TERM) must not cut the cleanup short
	trap '' HUP INT PIPE TERM
	eval "$at_exit_cmds"
	at_exit_cmds=
	# store files are 0444 and a test may leave directories read-only
	chmod -R u+rwx "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
cd "$T" || bail_out "cannot cd to $T"
