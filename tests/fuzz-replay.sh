#!/bin/sh
# fuzz-replay.sh — re-run every fuzz harness over its seed corpus
# (fuzz/corpus/<harness>/) through the replay drivers `make check` builds,
# so a sanitizer build also checks the saved inputs. TAP output, one line
# per harness.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

harnesses="fuzz-index fuzz-chunk fuzz-chunk-size fuzz-catar fuzz-remote fuzz-goodbye
	fuzz-options fuzz-locator fuzz-roundtrip fuzz-catar-tree fuzz-s3-xml"
log=$(mktemp "${TMPDIR:-/tmp}/fuzz-replay.XXXXXX") || exit 99
trap 'rm -f "$log"' EXIT

n=0
failed=0
for h in $harnesses; do
	n=$((n + 1))
	bin=$top_builddir/fuzz/$h-replay
	corpus=$top_srcdir/fuzz/corpus/$h
	inputs=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l)
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $h: $bin is not built"
		failed=$((failed + 1))
	elif [ "$inputs" -eq 0 ]; then
		echo "not ok $n - $h: no inputs in $corpus"
		failed=$((failed + 1))
	elif "$bin" "$corpus" >"$log" 2>&1; then
		echo "ok $n - $h: $inputs inputs replayed"
	else
		echo "not ok $n - $h: replay of $corpus failed (exit $?)"
		tail -n 30 "$log" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
