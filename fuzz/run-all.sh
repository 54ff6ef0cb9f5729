#!/bin/sh
# fuzz/run-all.sh — build the libFuzzer harnesses and run each one for a
# bounded time; any finding (crash, broken promise, leak, timeout, out of
# memory) fails it.
#
#   fuzz/run-all.sh [BUILDDIR] [HARNESS...]
#
# BUILDDIR is a configured build tree (default: the source tree), as for
# fuzz/build.sh. HARNESS names (fuzz-index, …) pick some; default all.
# Environment:
#   FUZZ_SECONDS   time per harness (default 30)
#   FUZZ_OUT       where the binaries are (default fuzz/out)
#   FUZZ_NO_BUILD  set: use the binaries in FUZZ_OUT as they are
#   FUZZ_KEEP      a directory to copy findings and the logs into
# Each harness starts from its seed corpus, fuzz/corpus/<harness>/, which
# is only read; what libFuzzer finds goes to a scratch directory. Output:
# one TAP line per harness, then Automake's summary ("# PASS: N",
# "# FAIL: N"), and for a finding the end of its log and the crashing
# input in hex (add it to fuzz/corpus/<harness>/ once fixed).
set -u

src=$(cd "$(dirname "$0")/.." && pwd)
build=$src
if [ $# -gt 0 ] && [ -d "$1" ]; then
	build=$(cd "$1" && pwd)
	shift
fi
seconds=${FUZZ_SECONDS:-30}
out=${FUZZ_OUT:-$src/fuzz/out}

if [ $# -gt 0 ]; then
	harnesses=$*
else
	harnesses=
	for c in "$src"/fuzz/fuzz-*.c; do
		h=$(basename "$c" .c)
		[ "$h" = fuzz-replay ] || harnesses="$harnesses $h"
	done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

if [ -z "${FUZZ_NO_BUILD:-}" ]; then
	if ! FUZZ_OUT=$out "$src/fuzz/build.sh" "$build" >"$work/build.log" 2>&1; then
		tail -n 30 "$work/build.log" | sed 's/^/# /'
		echo "not ok 1 - building the harnesses (fuzz/build.sh) failed"
		echo "1..1"
		echo "# PASS: 0"
		echo "# FAIL: 0"
		echo "# ERROR: 1"
		exit 1
	fi
fi

# The value of libFuzzer's final "stat::NAME: VALUE" line.
final_stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

n=0 pass=0 fail=0
for h in $harnesses; do
	n=$((n + 1))
	bin=$out/$h
	log=$work/$h.log
	mkdir -p "$work/corpus-$h" "$work/found-$h"
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $h: $bin is not built"
		fail=$((fail + 1))
		continue
	fi
	# -timeout: an input running longer is a hang; stays within ASan's
	# default rss limit. Leaks are findings too (detect_leaks, default on).
	"$bin" -max_total_time="$seconds" -timeout=20 -print_final_stats=1 \
		-artifact_prefix="$work/found-$h/" "$work/corpus-$h" "$src/fuzz/corpus/$h" \
		>"$log" 2>&1
	rc=$?
	runs=$(final_stat number_of_executed_units "$log")
	speed=$(final_stat average_exec_per_sec "$log")
	found=$(find "$work/found-$h" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
		echo "ok $n - $h: ${runs:-?} runs in ${seconds} s (${speed:-?}/s), no finding"
		pass=$((pass + 1))
	else
		echo "not ok $n - $h: finding (exit $rc) after ${runs:-?} runs"
		grep -E -A 25 '^==[0-9]+==ERROR|runtime error|^fuzz-|deadly signal|Test unit written' \
			"$log" | head -n 60 | sed 's/^/# /'
		if [ -n "$found" ]; then
			echo "# input $(basename "$found") ($(wc -c <"$found") bytes):"
			od -An -tx1 -v "$found" | head -n 64 | sed 's/^/#  /'
		fi
		fail=$((fail + 1))
	fi
	if [ -n "${FUZZ_KEEP:-}" ]; then
		mkdir -p "$FUZZ_KEEP/$h"
		cp "$log" "$FUZZ_KEEP/$h/"
		find "$work/found-$h" -type f -exec cp {} "$FUZZ_KEEP/$h/" \;
	fi
done
echo "1..$n"
echo "# TOTAL: $n"
echo "# PASS: $pass"
echo "# FAIL: $fail"
[ "$fail" -eq 0 ]
