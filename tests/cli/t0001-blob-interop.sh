#!/bin/sh
# Blob interoperability with Debian's casync: for a matrix of data kinds,
# sizes, chunk-size settings and digests, both tools must write the same
# .caibx, the same set of chunk files and print the same digest, and each
# must be able to extract from the other's index and store.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync

# kind seed size chunk-size digest
# Every kind, size class (empty, 1 byte, a few MB), chunk-size setting
# (default, 1024:4096:16384, 4096:4096:4096, 2000:8000:32000) and digest
# appears more than once; sizes are not multiples of the chunk sizes so that
# the last chunk is a short one.
cases='
random 1 0 default sha512-256
random 2 1 1024:4096:16384 sha256
random 3 3145739 default sha512-256
random 4 2097169 1024:4096:16384 sha512-256
random 5 2500001 4096:4096:4096 sha256
random 6 3000017 2000:8000:32000 sha256
zero 7 0 4096:4096:4096 sha256
zero 8 1 2000:8000:32000 sha512-256
zero 9 3145739 4096:4096:4096 sha512-256
zero 10 2097169 default sha256
zero 11 1048583 1024:4096:16384 sha512-256
mixed 12 0 1024:4096:16384 sha512-256
mixed 13 1 default sha256
mixed 14 4194319 default sha512-256
mixed 15 3145739 2000:8000:32000 sha256
mixed 16 2097169 4096:4096:4096 sha512-256
mixed 17 1572871 1024:4096:16384 sha256
random 18 65536 65536:65536:65536 sha512-256
mixed 19 1000003 32768 sha256
'

one_case() {
	kind=$1 seed=$2 size=$3 cs=$4 dg=$5
	name="$kind-$size-$cs-$dg"
	dir="$T/$kind-$seed"
	mkdir -p "$dir"
	cd "$dir" || exit 1
	mkdata "$kind" "$seed" "$size" src.bin

	opts="--digest=$dg"
	[ "$cs" = default ] || opts="$opts --chunk-size=$cs"

	# shellcheck disable=SC2086
	run "$CASYNC" make --store=ca.castr $opts ca.caibx src.bin
	ca_rc=$rc
	cp "$T/out" ca.out
	cp "$T/err" ca.err
	if [ "$ca_rc" -ne 0 ]; then
		bail_out "casync make failed for $name: $(cat ca.err)"
	fi

	# shellcheck disable=SC2086
	run "$STASYNC" make --store=st.castr $opts st.caibx src.bin
	cp "$T/out" st.out
	cp "$T/err" st.err
	if [ "$rc" -eq 0 ]; then
		ok "$name: make succeeds"
	else
		not_ok "$name: make succeeds"
		diag "command: $STASYNC make --store=st.castr $opts st.caibx src.bin"
		show_run
		cd "$T" || exit 1
		return 0
	fi

	is "$(cat st.out)" "$(cat ca.out)" "$name: make prints the same digest as casync"

	if [ -s st.err ]; then
		not_ok "$name: make is silent on stderr"
		diag_file "stderr" st.err
	else
		ok "$name: make is silent on stderr"
	fi

	if cmp ca.caibx st.caibx >cmp.out 2>&1; then
		ok "$name: .caibx identical to casync's"
	else
		not_ok "$name: .caibx identical to casync's"
		diag_file "cmp" cmp.out
		diag "casync index: $(file_size ca.caibx) bytes, ours: $(file_size st.caibx) bytes"
		diag "casync header: $(hex_at ca.caibx 0 48)"
		diag "our header:    $(hex_at st.caibx 0 48)"
	fi

	chunk_list ca.castr >ca.list
	chunk_list st.castr >st.list
	if cmp -s ca.list st.list; then
		ok "$name: same chunk files as casync ($(line_count st.list))"
	else
		not_ok "$name: same chunk files as casync"
		diag "casync has $(line_count ca.list) chunk files, we have $(line_count st.list)"
		diff ca.list st.list | head -n 10 | sed 's/^/# /'
	fi

	# nothing but chunk files (no leftover temporaries) in our store
	if [ -d st.castr ]; then
		stray=$(find st.castr -type f ! -name '*.cacnk' | head -n 5)
	else
		stray=
	fi
	if [ -z "$stray" ]; then
		ok "$name: no stray files in our store"
	else
		not_ok "$name: no stray files in our store"
		diag "$stray"
	fi

	# chunk files are read-only, as casync writes them
	if [ -d st.castr ]; then
		badmode=$(find st.castr -type f -name '*.cacnk' ! -perm 0444 | head -n 5)
	else
		badmode=
	fi
	if [ -z "$badmode" ]; then
		ok "$name: our chunk files are mode 0444"
	else
		not_ok "$name: our chunk files are mode 0444"
		# shellcheck disable=SC2086 # a list of paths
		ls -l $badmode | sed 's/^/# /'
	fi

	# casync reads our index and store
	rm -f ca-from-st.bin
	run "$CASYNC" extract --store=st.castr st.caibx ca-from-st.bin
	if [ "$rc" -eq 0 ] && cmp -s src.bin ca-from-st.bin; then
		ok "$name: casync extracts our index from our store"
	else
		not_ok "$name: casync extracts our index from our store"
		show_run
	fi

	# we read casync's index and store
	rm -f st-from-ca.bin
	run "$STASYNC" extract --store=ca.castr ca.caibx st-from-ca.bin
	if [ "$rc" -eq 0 ] && cmp -s src.bin st-from-ca.bin; then
		ok "$name: we extract casync's index from casync's store"
	else
		not_ok "$name: we extract casync's index from casync's store"
		diag "command: $STASYNC extract --store=ca.castr ca.caibx st-from-ca.bin"
		show_run
		[ -f st-from-ca.bin ] && cmp src.bin st-from-ca.bin 2>&1 | sed 's/^/# /'
	fi

	cd "$T" || exit 1
	rm -rf "$dir"
}

set -f
# shellcheck disable=SC2086
set -- $cases
set +f
while [ $# -ge 5 ]; do
	one_case "$1" "$2" "$3" "$4" "$5"
	shift 5
done

# Runs of zeros come out as holes, as casync writes them (and not with
# --punch-holes=no); the bytes are the same either way.
mkdir holes && cd holes || exit 1
head -c 300001 /dev/urandom >src.bin
head -c 8000000 /dev/zero >>src.bin
head -c 300001 /dev/urandom >>src.bin
head -c 3000000 /dev/zero >>src.bin
"$CASYNC" make --store=st src.caibx src.bin >/dev/null || bail_out "casync make failed"
"$CASYNC" extract --store=st src.caibx ca.bin || bail_out "casync extract failed"
run_ok "extract a blob with runs of zeros" "$STASYNC" extract --store=st src.caibx sparse.bin
run_ok "extract it with --punch-holes=no" "$STASYNC" extract --punch-holes=no --store=st src.caibx full.bin
check 'cmp -s src.bin sparse.bin && cmp -s src.bin full.bin && cmp -s src.bin ca.bin' \
	"all three are the input, byte for byte"
kb() { du -k "$1" | cut -f1; }
check '[ "$(kb sparse.bin)" -lt 2000 ] && [ "$(kb sparse.bin)" -le "$(($(kb ca.bin) + 64))" ]' \
	"the zeros are holes: $(kb sparse.bin) KiB on disk, casync's $(kb ca.bin) KiB"
check '[ "$(kb full.bin)" -gt 10000 ]' "with --punch-holes=no they are written: $(kb full.bin) KiB"
cd "$T" || exit 1
done_testing
