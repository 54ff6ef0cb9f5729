#!/bin/sh
# Progress: --progress=plain prints key=value lines on stderr ending at 100%,
# the bar appears only on a terminal and is wiped at the end, nothing shows
# when stderr is not a terminal, stdout keeps only what it always had, and
# -v sums up with the time taken.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync

mkdata random 7 6000011 blob.bin
size=6000011
mkdir -p tree/d && cp blob.bin tree/d/f && printf 'x\n' >tree/x

# plain_ok DESC VERB: the last run printed only progress lines, the last
# one at 100% with bytes=total=$size
plain_ok() {
	_last=$(tail -n 1 "$T/err")
	if [ "$rc" -eq 0 ] && ! grep -qv '^progress: ' "$T/err" &&
		printf '%s\n' "$_last" | grep -q "^progress: verb=$2 bytes=$size total=$size percent=100.0 chunks=[1-9]"; then
		ok "$1"
	else
		not_ok "$1"
		show_run
	fi
}

run "$STASYNC" make --progress=plain --store=st blob.caibx blob.bin
plain_ok "make --progress=plain: key=value lines on stderr, the last at 100%" make
is "$(cat "$T/out")" "$("$CASYNC" digest blob.bin)" "... and stdout holds the digest only"
check 'grep -q " new=[1-9][0-9]* " "$T/err" && grep -q " rate=[0-9]* elapsed=" "$T/err"' \
	"... with the new chunks, the rate and the time"
run "$STASYNC" extract --progress=plain --store=st blob.caibx out.bin
plain_ok "extract --progress=plain of a blob" extract
check 'cmp -s blob.bin out.bin' "... and the blob is right"
run "$STASYNC" extract --progress=plain --store=st blob.caibx -
plain_ok "extract to stdout: progress on stderr only" extract
check 'cmp -s blob.bin "$T/out"' "... stdout is the blob, byte for byte"

"$CASYNC" make --store=st tree.caidx tree >/dev/null || bail_out "casync make failed"
"$CASYNC" make tree.catar tree >/dev/null || bail_out "casync make failed"
tsize=$(file_size tree.catar)
run "$STASYNC" extract --progress=plain --store=st tree.caidx tree.out
check '[ "$rc" -eq 0 ] && tail -n 1 "$T/err" | grep -q "^progress: verb=extract bytes=$tsize total=$tsize percent=100.0"' \
	"extract --progress=plain of a .caidx counts the archive's bytes ($tsize)"
run "$STASYNC" extract --progress=plain tree.catar tree.out2
check '[ "$rc" -eq 0 ] && tail -n 1 "$T/err" | grep -q "^progress: verb=extract bytes=$tsize total=$tsize"' \
	"... and of a .catar"

run "$STASYNC" make --store=st2 blob2.caibx blob.bin
check '[ "$rc" -eq 0 ] && [ ! -s "$T/err" ]' "stderr not a terminal: no progress by default"
run "$STASYNC" make --progress=none --store=st2 blob2.caibx blob.bin
check '[ "$rc" -eq 0 ] && [ ! -s "$T/err" ]' "--progress=none: none"
fails_with "--progress=bogus is refused" "--progress=bogus" "$STASYNC" make --progress=bogus --store=st2 b.caibx blob.bin

if command -v script >/dev/null && script -qc true /dev/null >/dev/null 2>&1; then
	# a slow input, so that the bar has time to show: a pipe that pauses
	script -qc "{ head -c 5000000 blob.bin; sleep 1; tail -c +5000001 blob.bin; } |
		'$STASYNC' make --store=st3 blob3.caibx -" /dev/null >tty.out 2>&1
	check 'grep -q "make [0-9.]* [KM]iB [0-9.]* [KM]*i*B/s" tty.out && tr "\r" "\n" <tty.out | grep -q "^ *$"' \
		"on a terminal: a line of progress, wiped at the end"
	check '[ "$(tr "\r" "\n" <tty.out | awk "length > 80" | wc -l)" -eq 0 ]' "... within 80 columns"
	check 'tr "\r" "\n" <tty.out | grep -qx "$("$CASYNC" digest blob.bin)"' "... and the digest still printed"
else
	skip "on a terminal: a bar, wiped at the end" "script(1) cannot make a terminal here"
fi

run "$STASYNC" -v make --store=st blob.caibx blob.bin
check 'grep -Eq "^$size bytes in [0-9]+ chunks, 0 new in the store, [0-9]+ there already; [0-9.]+ s, .*/s$" "$T/err"' \
	"-v ends make with a summary: chunks new and there already, time, rate"
run "$STASYNC" -v extract --store=st blob.caibx out2.bin
check 'grep -Eq "^$size bytes from [0-9]+ chunks, 0 of them from the cache, [0-9]+ from the seeds, 0 already in place; [0-9.]+ s, .*/s$" "$T/err"' \
	"-v ends extract with a summary"

done_testing
