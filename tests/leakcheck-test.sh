#!/bin/sh
# tests/leakcheck, the wrapper every test of `make check` runs under: it
# passes a tidy test's output and exit status through, and when a test
# leaves a process running — a background job, a setsid()'d daemon whose
# parent is gone — it names it, kills it and bails out (an ERROR for
# Automake's TAP driver). Signals sent to it reach the test.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=cli/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/cli/lib.sh"

LEAKCHECK=$top_builddir/tests/leakcheck
export T # the scripts below write there
[ -x "$LEAKCHECK" ] || bail_out "$LEAKCHECK not built (make check builds it)"

# lc SCRIPT: run the shell code SCRIPT under leakcheck (a short grace
# period), output in $T/out, exit status in $rc.
lc() {
	LEAKCHECK_GRACE_MS=${GRACE:-300} "$LEAKCHECK" sh -c "$1" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# running PID WHAT: process PID still runs WHAT (and is no zombie).
# shellcheck disable=SC2317 # called from check()'s eval
running() {
	grep -q "$2" "/proc/$1/cmdline" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

lc 'echo "1..1"; echo "ok 1 - fine"'
check '[ "$rc" -eq 0 ] && [ "$(cat "$T/out")" = "$(printf "1..1\nok 1 - fine")" ]' \
	"a test that leaves nothing: its output and status, unchanged" || show_run

lc 'echo "1..0"; exit 3'
is "$rc" 3 "its exit status is passed on"

GRACE=2000 lc '(sleep 0.3) & echo "1..0"'
check '[ "$rc" -eq 0 ] && ! grep -q "Bail out" "$T/out"' \
	"a child that ends within the grace period is no leak" || show_run

lc 'sleep 300 & echo $! >"$T/pid1"; echo "1..0"'
pid=$(cat "$T/pid1")
check '[ "$rc" -eq 99 ] && grep -q "^Bail out! sh left processes running: $pid sleep 300" "$T/out"' \
	"a background job left running: Bail out!, naming its pid and command line" || show_run
check 'grep -q "^# leakcheck: .*left 1 process running" "$T/out"' "... as a TAP comment too"
check '! running "$pid" "sleep"' "... and it is killed"

lc 'setsid sh -c "sleep 301 </dev/null >/dev/null 2>&1 & echo \$! >\"$T/pid2\"" & wait; echo "1..0"'
pid=$(cat "$T/pid2")
check '[ "$rc" -eq 99 ] && grep -q "^Bail out! .*$pid sleep 301" "$T/out"' \
	"a daemon (setsid, its parent gone) is found too" || show_run
check '! running "$pid" "sleep"' "... and killed"

lc 'trap "" TERM; sleep 302 & echo $! >"$T/pid3"; echo "not ok 1"; exit 1'
pid=$(cat "$T/pid3")
check '[ "$rc" -eq 1 ] && grep -q "^Bail out! .*sleep 302" "$T/out" && ! running "$pid" "sleep"' \
	"a failing test's leftovers (deaf to SIGTERM): reported, killed, the failure's status kept" || show_run

# a test interrupted: the signal reaches it, its cleanup runs
rm -f "$T/ready" "$T/cleaned"
LEAKCHECK_GRACE_MS=300 "$LEAKCHECK" sh -c '
	trap "echo cleaned >\"$T/cleaned\"; exit 143" TERM
	sleep 303 & echo $! >"$T/pid4"
	: >"$T/ready"
	wait' >"$T/out" 2>&1 </dev/null &
lcpid=$!
i=0
while [ ! -e "$T/ready" ] && [ "$i" -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -TERM "$lcpid"
wait "$lcpid"
rc=$?
# shellcheck disable=SC2034 # pid is read in check()'s eval
pid=$(cat "$T/pid4")
check '[ "$rc" -eq 143 ] && [ -e "$T/cleaned" ] && ! grep -q "Bail out" "$T/out" && ! running "$pid" "sleep"' \
	"SIGTERM to leakcheck reaches the test's processes: its trap runs, nothing is left" || show_run

# on a terminal (script(1) makes one) the test is not in the foreground
# process group: a read from the terminal would stop it, so it reads /dev/null
if command -v script >/dev/null && command -v timeout >/dev/null &&
	script -qc true /dev/null >/dev/null 2>&1 </dev/null; then
	timeout -k 1 20 script -qec "LEAKCHECK_GRACE_MS=300 '$LEAKCHECK' sh -c 'read x; echo read-done'" \
		/dev/null >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	check '[ "$rc" -eq 0 ] && grep -q read-done "$T/out"' \
		"on a terminal: the test reads /dev/null, it is not stopped reading the terminal" || show_run
else
	skip "on a terminal: the test reads /dev/null" "script(1) cannot make a terminal here"
fi

done_testing
