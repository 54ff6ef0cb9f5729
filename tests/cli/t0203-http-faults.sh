#!/bin/sh
# Extracting through a server that misbehaves (tests/cli/httpd-test.py
# --mode=faults, seeded): connections reset, 503s, bodies cut half-way and
# requests that are never answered, each kind alone and all mixed. Every
# extract must succeed with the default options and give casync's bytes
# (cmp for a blob, casync's mtree for a tree); a hung request must cost
# far less than the 15 s stall timeout (it is hedged). Only 127.0.0.1 is
# used.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_stasync
require_casync
have_python3 || skip_all "python3 not installed"
"$STASYNC" --version 2>/dev/null | grep -q 'none (built without' &&
	skip_all "this build has no HTTP support"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# ---- data: casync's store of a blob and of a tree ----------------------------------
S=$T/srv
mkdir -p "$S" "$T/tree/sub"
# 6 MB of random bytes: about 90 chunks, enough for each fault to happen
mkdata random 1 6000000 "$T/blob.bin"
mkdata random 2 1500000 "$T/tree/sub/random.bin"
mkdata mixed 3 1500000 "$T/tree/mixed.bin"
printf 'hello\n' >"$T/tree/hello.txt"
"$CASYNC" make --store="$S/st.castr" "$S/blob.caibx" "$T/blob.bin" >/dev/null 2>&1 ||
	bail_out "casync make blob.caibx failed"
"$CASYNC" make --store="$S/st.castr" "$S/tree.caidx" "$T/tree" >/dev/null 2>&1 ||
	bail_out "casync make tree.caidx failed"
"$CASYNC" mtree "$T/tree" >"$T/tree.mtree" 2>&1 || bail_out "casync mtree failed"

# extract_blob NAME SERVER-ARGS...: extract blob.caibx through a fault
# server started with SERVER-ARGS; sets $ms (the time extract took) and
# checks the result.
extract_blob() {
	_n=$1
	shift
	testhttpd_start "$_n" --mode=faults --root="$S" --lifetime=100 --max-requests=100000 "$@"
	_t0=$(now_ms)
	run "$STASYNC" extract --store="http://127.0.0.1:$TESTHTTPD_PORT/st.castr" \
		"$S/blob.caibx" "$T/$_n.bin"
	ms=$(($(now_ms) - _t0))
	httpd_stop_all
	if [ "$rc" -eq 0 ] && cmp -s "$T/blob.bin" "$T/$_n.bin"; then
		ok "$_n: extract succeeds, the blob is byte-identical (took $ms ms)"
	else
		not_ok "$_n: extract succeeds, the blob is byte-identical (took $ms ms)"
		show_run
	fi
}

# did SERVER-LOG FAULT: the server did FAULT at least once
did() {
	_k=$(awk -v f="$2" '$3 == f' "$1" | wc -l | tr -d ' ')
	check "[ $_k -gt 0 ]" "  the server did $2 $_k times"
}

extract_blob clean
clean_ms=$ms
check "! grep -qv ' 200 ' '$TESTHTTPD_LOG'" "  without faults, every request answered 200"

extract_blob reset --seed=1 --reset=0.15
did "$TESTHTTPD_LOG" RST
extract_blob 503 --seed=2 --status503=0.15
did "$TESTHTTPD_LOG" 503
extract_blob cut --seed=3 --cut-rate=0.15
did "$TESTHTTPD_LOG" CUT

extract_blob hang --seed=4 --hang=0.1
did "$TESTHTTPD_LOG" HANG
# Without hedging each hung request holds its chunk for the 15 s stall
# timeout. The bound is loose for a busy machine, and below 15 s.
bound=$((clean_ms * 10))
[ "$bound" -ge 10000 ] || bound=10000
check "[ $ms -lt $bound ]" "  hung requests are hedged: $ms ms, under $bound ms (10x the $clean_ms ms without faults, 10 s at least)"

# ---- all at once, for a tree ------------------------------------------------------------
testhttpd_start mix --mode=faults --root="$S" --lifetime=100 --max-requests=100000 \
	--seed=5 --reset=0.08 --status503=0.08 --cut-rate=0.04 --hang=0.05
run "$STASYNC" extract --store="http://127.0.0.1:$TESTHTTPD_PORT/st.castr" \
	"http://127.0.0.1:$TESTHTTPD_PORT/tree.caidx" "$T/tree-out"
httpd_stop_all
if [ "$rc" -eq 0 ]; then
	ok "mixed faults: extract a tree from a .caidx URL"
else
	not_ok "mixed faults: extract a tree from a .caidx URL"
	show_run
fi
"$CASYNC" mtree "$T/tree-out" >"$T/tree-out.mtree" 2>&1
same_file "$T/tree.mtree" "$T/tree-out.mtree" "  casync's mtree of it is the original's"
check "[ \$(awk '\$3 != 200' '$TESTHTTPD_LOG' | wc -l) -gt 0 ]" "  faults happened ($(awk '$3 != 200 { print $3 }' "$TESTHTTPD_LOG" | sort | uniq -c | tr -s ' \n' ' '))"

done_testing
