#!/bin/sh
# Reading over HTTP(S): chunk stores and indexes served by Debian's nginx
# (stores made by stasync and by casync, blobs and trees, byte-identical
# results), failing over to --extra-store on missing and corrupt chunks,
# redirects, credentials, HTTPS with a CA made here; and, through
# tests/cli/httpd-test.py, retries on 500, a dead port, a server that never
# answers and one that never stops, each failing within its bound. Only
# 127.0.0.1 is used. A build without libcurl must say so clearly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_stasync

# Nothing from the caller's environment may change where requests go or
# which certificates are trusted.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
HOME=$T/home
export HOME
mkdir -p "$HOME"

# ---- data ---------------------------------------------------------------------
S=$T/srv
mkdir -p "$S" "$T/tree/sub/deeper" "$T/tree/empty-dir"
mkdata mixed 1 3000000 "$T/blob.bin"
mkdata random 2 200000 "$T/small.bin"
mkdata random 3 700000 "$T/tree/sub/random.bin"
mkdata mixed 4 1500000 "$T/tree/sub/deeper/mixed.bin"
printf 'hello\n' >"$T/tree/hello.txt"
: >"$T/tree/empty"
ln -s hello.txt "$T/tree/link"
run "$STASYNC" make --store="$S/st.castr" "$S/blob.caibx" "$T/blob.bin"
[ "$rc" -eq 0 ] || { show_run; bail_out "make blob.caibx failed"; }
run "$STASYNC" make --store="$S/st.castr" "$S/small.caibx" "$T/small.bin"
[ "$rc" -eq 0 ] || { show_run; bail_out "make small.caibx failed"; }
run "$STASYNC" make --store="$S/st.castr" "$S/tree.caidx" "$T/tree"
[ "$rc" -eq 0 ] || { show_run; bail_out "make tree.caidx failed"; }

# ---- a build without libcurl says so ----------------------------------------------
run "$STASYNC" extract --retries=0 --store=http://127.0.0.1:9/none "$S/small.caibx" "$T/nohttp.out"
if grep -q "no HTTP support" "$T/err"; then
	if [ "$rc" -ne 0 ]; then
		ok "a build without libcurl: http store refused with \"no HTTP support\""
	else
		not_ok "a build without libcurl: http store refused with \"no HTTP support\""
	fi
	fails_with "a build without libcurl: http index refused with \"no HTTP support\"" \
		"no HTTP support" "$STASYNC" extract --store="$S/st.castr" \
		http://127.0.0.1:9/small.caibx "$T/nohttp.out"
	done_testing
fi
have_python3 || skip_all "python3 is needed to run the test servers"

# ---- nginx serving stores made by stasync and casync ------------------------------
P=
if have_nginx; then
	# a second copy of the store beside an index, for the default store;
	# one with a chunk missing, one with a chunk corrupted
	mkdir -p "$S/d"
	cp "$S/blob.caibx" "$S/d/blob.caibx"
	cp -R "$S/st.castr" "$S/d/default.castr"
	cp -R "$S/st.castr" "$S/missing.castr"
	cp -R "$S/st.castr" "$S/corrupt.castr"
	chmod -R u+w "$S/missing.castr" "$S/corrupt.castr"
	# the blob's 5th chunk is missing in one and, in the other, replaced
	# by the bytes of its 6th (a valid zstd frame, the wrong content)
	victim_id=$(hex_at "$S/blob.caibx" $((64 + 4 * 40 + 8)) 32)
	other_id=$(hex_at "$S/blob.caibx" $((64 + 5 * 40 + 8)) 32)
	victim=$(echo "$victim_id" | cut -c1-4)/$victim_id.cacnk
	other=$(echo "$other_id" | cut -c1-4)/$other_id.cacnk
	[ -f "$S/st.castr/$victim" ] && [ -f "$S/st.castr/$other" ] ||
		bail_out "chunk $victim or $other not in the store"
	rm -f "$S/missing.castr/$victim" "$S/corrupt.castr/$victim"
	cp "$S/st.castr/$other" "$S/corrupt.castr/$victim"

	if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
		"$CASYNC" make --store="$S/ca.castr" "$S/ca.caibx" "$T/blob.bin" >/dev/null 2>"$T/ca.err" ||
			{ diag_file "casync make" "$T/ca.err"; bail_out "casync make (blob) failed"; }
		"$CASYNC" make --store="$S/ca.castr" "$S/ca.caidx" "$T/tree" >/dev/null 2>"$T/ca.err" ||
			{ diag_file "casync make" "$T/ca.err"; bail_out "casync make (tree) failed"; }
	fi

	# redirects, and a store behind a password (user "u", password "s3cret")
	printf 'u:%s\n' "$(openssl passwd -apr1 s3cret)" >"$T/htpasswd"
	NGINX_EXTRA="
		location /moved/ { rewrite ^/moved/(.*)\$ /st.castr/\$1 permanent; }
		location /loop/ { rewrite ^/loop/(.*)\$ /loop/\$1 redirect; }
		location /private/ {
			auth_basic \"stasync test\";
			auth_basic_user_file $T/htpasswd;
			alias $S/st.castr/;
		}"
	nginx_start plain "$S"
	NGINX_EXTRA=
	P=$NGINX_PORT
	LOG=$NGINX_DIR/access.log
	U=http://127.0.0.1:$P
	diag "nginx on 127.0.0.1:$P"
fi

if [ -z "$P" ]; then
	skip "nginx tests" "nginx not installed (apt-get install nginx)"
else
	# -- a blob over HTTP, connections reused --
	before=$(line_count "$LOG")
	run_ok "extract a blob from an HTTP store" \
		"$STASYNC" extract --store="$U/st.castr" "$S/blob.caibx" "$T/o1.bin" &&
		same_file "$T/blob.bin" "$T/o1.bin" "the blob is byte-identical"
	tail -n +"$((before + 1))" "$LOG" >"$T/log1"
	n_req=$(line_count "$T/log1")
	n_conn=$(awk '{ print $1 }' "$T/log1" | sort -u | wc -l | tr -d ' ')
	n_chunks=$(chunk_list "$S/st.castr" | wc -l)
	if [ "$n_req" -gt 10 ] && [ "$n_conn" -le 16 ] && [ "$n_conn" -lt "$n_req" ]; then
		ok "$n_req chunk requests over $n_conn connections (at most 16, reused)"
	else
		not_ok "chunk requests over at most 16 reused connections"
		diag "requests: $n_req, connections: $n_conn (store holds $n_chunks chunks)"
		diag_file "access log" "$T/log1"
	fi
	if [ "$(awk '$5 == 200 { print $4 }' "$T/log1" |
		grep -cE '^/st\.castr/[0-9a-f]{4}/[0-9a-f]{64}\.cacnk$')" -eq "$n_req" ]; then
		ok "chunk URLs are STORE/<4 hex>/<64 hex>.cacnk"
	else
		not_ok "chunk URLs are STORE/<4 hex>/<64 hex>.cacnk"
		diag_file "access log" "$T/log1"
	fi
	# each fetching thread sends its own requests and reads their answers
	# (not one thread for all, which every request then waited for)
	if command -v strace >/dev/null 2>&1; then
		strace -f -o "$T/send.trace" -e trace=sendto,send,write \
			"$STASYNC" extract --store="$U/st.castr" "$S/blob.caibx" "$T/o1t.bin" \
			>"$T/out" 2>"$T/err"
		n_thr=$(grep '"GET /st\.castr/' "$T/send.trace" | awk '{ print $1 }' | sort -u | wc -l)
		check "[ $n_thr -gt 1 ]" "chunk requests are sent by the fetching threads ($n_thr of them)"
	else
		skip "chunk requests are sent by the fetching threads" "no strace"
	fi
	before=$(line_count "$LOG")
	run_ok "--concurrency=1" \
		"$STASYNC" extract --concurrency=1 --store="$U/st.castr" "$S/blob.caibx" "$T/o1b.bin" &&
		same_file "$T/blob.bin" "$T/o1b.bin" "  the blob is byte-identical"
	tail -n +"$((before + 1))" "$LOG" >"$T/log1b"
	is "$(awk '{ print $1 }' "$T/log1b" | sort -u | wc -l | tr -d ' ')" 1 \
		"  one connection carries all $(line_count "$T/log1b") requests"
	for n in 0 257 x; do
		fails_with "--concurrency=$n is refused" "--concurrency=$n: expected a whole number from 1 to 256" \
			"$STASYNC" extract --concurrency=$n --store="$U/st.castr" "$S/blob.caibx" "$T/o1c.bin"
	done

	# -- the store URL is normalised as casync does --
	for url in "$U/st.castr/" "$U/st.castr//" "$U/st.castr?token=abc" "$U/st.castr/;v=1" \
		"$U/st.castr#frag"; do
		run_ok "store URL $url works as $U/st.castr" \
			"$STASYNC" extract --store="$url" "$S/small.caibx" "$T/o2.bin" &&
			same_file "$T/small.bin" "$T/o2.bin" "  and gives the same bytes"
	done

	# -- the index as a URL --
	run_ok "extract with the index given as a URL" \
		"$STASYNC" extract --store="$U/st.castr" "$U/blob.caibx" "$T/o3.bin" &&
		same_file "$T/blob.bin" "$T/o3.bin" "the blob is byte-identical"
	before=$(line_count "$LOG")
	run_ok "an index URL without --store uses default.castr beside it" \
		"$STASYNC" extract "$U/d/blob.caibx?x=1" "$T/o4.bin" &&
		same_file "$T/blob.bin" "$T/o4.bin" "the blob is byte-identical"
	tail -n +"$((before + 1))" "$LOG" >"$T/log4"
	if [ "$(count_in "$T/log4" " /d/default.castr/")" -gt 10 ]; then
		ok "its chunks came from $U/d/default.castr"
	else
		not_ok "its chunks came from $U/d/default.castr"
		diag_file "access log" "$T/log4"
	fi
	run "$STASYNC" digest --store="$S/st.castr" "$S/blob.caibx"
	local_digest=$(cat "$T/out")
	run_ok "digest of a .caibx URL" "$STASYNC" digest --store="$U/st.castr" "$U/blob.caibx" &&
		is "$(cat "$T/out")" "$local_digest" "same digest as from the local index"
	fails_with "an index URL that does not exist: an error naming it" "$U/nothing.caibx: missing (HTTP 404" \
		"$STASYNC" extract --store="$U/st.castr" "$U/nothing.caibx" "$T/o5.bin"
	fails_with "a .catar URL that does not exist: an error naming it (t0201 reads them)" \
		"$U/x.catar: missing (HTTP 404" "$STASYNC" extract "$U/x.catar" "$T/o5.dir"

	# -- a tree --
	run_ok "extract a tree from a .caidx URL and an HTTP store" \
		"$STASYNC" extract --store="$U/st.castr" "$U/tree.caidx" "$T/tree.out"
	if diff -r --no-dereference "$T/tree" "$T/tree.out" >"$T/diff.out" 2>&1; then
		ok "the tree is identical (diff -r)"
	else
		not_ok "the tree is identical (diff -r)"
		diag_file "diff" "$T/diff.out"
	fi
	for verb in list mtree; do
		run "$STASYNC" "$verb" --store="$S/st.castr" "$S/tree.caidx"
		cp "$T/out" "$T/$verb.local"
		run_ok "$verb of a .caidx URL" "$STASYNC" "$verb" --store="$U/st.castr" "$U/tree.caidx" &&
			is "$(cat "$T/out")" "$(cat "$T/$verb.local")" "  prints what it prints for the local index"
	done
	run "$STASYNC" stat --store="$S/st.castr" "$S/tree.caidx" sub/random.bin
	cp "$T/out" "$T/stat.local"
	run_ok "stat of a path in a .caidx URL" \
		"$STASYNC" stat --store="$U/st.castr" "$U/tree.caidx" sub/random.bin &&
		is "$(cat "$T/out")" "$(cat "$T/stat.local")" "  prints what it prints for the local index"
	run "$STASYNC" digest --store="$S/st.castr" "$S/tree.caidx"
	tree_digest=$(cat "$T/out")
	run_ok "digest of a .caidx URL" "$STASYNC" digest --store="$U/st.castr" "$U/tree.caidx" &&
		is "$(cat "$T/out")" "$tree_digest" "  same digest as the local index"

	# -- a store and indexes made by Debian's casync --
	if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
		run_ok "extract a blob from casync's store and index over HTTP" \
			"$STASYNC" extract --store="$U/ca.castr" "$U/ca.caibx" "$T/o6.bin" &&
			same_file "$T/blob.bin" "$T/o6.bin" "the blob is byte-identical"
		run_ok "extract a tree from casync's store and .caidx over HTTP" \
			"$STASYNC" extract --store="$U/ca.castr" "$U/ca.caidx" "$T/tree.ca"
		if diff -r --no-dereference "$T/tree" "$T/tree.ca" >"$T/diff.out" 2>&1; then
			ok "the tree is identical (diff -r)"
		else
			not_ok "the tree is identical (diff -r)"
			diag_file "diff" "$T/diff.out"
		fi
	else
		skip "stores made by casync over HTTP" "casync not installed"
	fi

	# -- missing and corrupt chunks: the next store, or a clear error --
	fails_with "a chunk missing on the server: the error names its URL and the 404" \
		"$U/missing.castr/$victim: missing (HTTP 404" \
		"$STASYNC" extract --store="$U/missing.castr" "$S/blob.caibx" "$T/o7.bin"
	run_ok "a chunk missing on the server comes from a local --extra-store" \
		"$STASYNC" extract --store="$U/missing.castr" --extra-store="$S/st.castr" \
		"$S/blob.caibx" "$T/o7.bin" &&
		same_file "$T/blob.bin" "$T/o7.bin" "the blob is byte-identical"
	run_ok "a chunk missing on the server comes from a second URL" \
		"$STASYNC" extract --store="$U/missing.castr" --extra-store="$U/st.castr" \
		"$S/blob.caibx" "$T/o8.bin" &&
		same_file "$T/blob.bin" "$T/o8.bin" "the blob is byte-identical"
	run "$STASYNC" extract --store="$U/corrupt.castr" "$S/blob.caibx" "$T/o9.bin"
	if [ "$rc" -ne 0 ] && grep -qF "$victim_id" "$T/err" && grep -qF "$U/corrupt.castr" "$T/err"; then
		ok "a corrupt chunk on the server: an error naming the chunk id and the store URL"
	else
		not_ok "a corrupt chunk on the server: an error naming the chunk id and the store URL"
		show_run
	fi
	run_ok "a corrupt chunk on the server comes from the --extra-store" \
		"$STASYNC" extract --store="$U/corrupt.castr" --extra-store="$U/st.castr" \
		"$S/blob.caibx" "$T/o9.bin" &&
		same_file "$T/blob.bin" "$T/o9.bin" "the blob is byte-identical"

	# -- redirects --
	run_ok "a store behind a redirect" \
		"$STASYNC" extract --store="$U/moved" "$S/small.caibx" "$T/o10.bin" &&
		same_file "$T/small.bin" "$T/o10.bin" "the blob is byte-identical"
	# a new output: o10.bin above would seed every chunk itself
	fails_with "endless redirects: a bounded, clear error" "redirect" \
		"$STASYNC" extract --store="$U/loop" "$S/small.caibx" "$T/o10b.bin"

	# -- credentials --
	fails_with "a store behind a password, none given: HTTP 401 named" "HTTP 401" \
		"$STASYNC" extract --store="$U/private" "$S/small.caibx" "$T/o11.bin"
	run_ok "user:password@ in the store URL" \
		"$STASYNC" extract --store="http://u:s3cret@127.0.0.1:$P/private" "$S/small.caibx" "$T/o11.bin" &&
		same_file "$T/small.bin" "$T/o11.bin" "the blob is byte-identical"
	# a new output: the one above would seed every chunk itself
	run "$STASYNC" extract --store="http://u:wrong-pw@127.0.0.1:$P/private" "$S/small.caibx" "$T/o11b.bin"
	if [ "$rc" -ne 0 ] && grep -qF "HTTP 401" "$T/err" && ! grep -qF "wrong-pw" "$T/err"; then
		ok "a wrong password: HTTP 401, and the password is not shown"
	else
		not_ok "a wrong password: HTTP 401, and the password is not shown"
		show_run
	fi
	printf 'machine 127.0.0.1 login u password s3cret\n' >"$HOME/.netrc"
	chmod 600 "$HOME/.netrc"
	run_ok "credentials from ~/.netrc" \
		"$STASYNC" extract --store="$U/private" "$S/small.caibx" "$T/o12.bin" &&
		same_file "$T/small.bin" "$T/o12.bin" "the blob is byte-identical"
	rm -f "$HOME/.netrc"
	# and without one, libcurl is not sent to look for it at each transfer
	if command -v strace >/dev/null 2>&1; then
		strace -f -o "$T/netrc.trace" -e trace=open,openat \
			"$STASYNC" extract --store="$U/st.castr" "$S/blob.caibx" "$T/o12b.bin" \
			>"$T/out" 2>"$T/err"
		is "$(grep -c '\.netrc' "$T/netrc.trace")" 0 \
			"no ~/.netrc: not looked for at each transfer ($(grep -c . "$T/netrc.trace") calls traced)"
	else
		skip "no ~/.netrc: not looked for at each transfer" "no strace"
	fi

	# -- a local cache in front of the store --
	run_ok "--cache=DIR: extract through an empty cache" \
		"$STASYNC" extract --cache="$T/cache" --store="$U/st.castr" "$S/blob.caibx" "$T/o13.bin" &&
		same_file "$T/blob.bin" "$T/o13.bin" "  the blob is byte-identical"
	chunk_list "$S/st.castr" >"$T/all-chunks"
	run "$STASYNC" make --store="$T/only-blob.castr" "$T/only-blob.caibx" "$T/blob.bin"
	chunk_list "$T/only-blob.castr" >"$T/blob-chunks"
	same_file "$T/blob-chunks" "$(chunk_list "$T/cache" >"$T/cache-chunks"; echo "$T/cache-chunks")" \
		"  the cache now holds every chunk of the blob"
	before=$(line_count "$LOG")
	run_ok "again: all from the cache" \
		"$STASYNC" -v extract --cache="$T/cache" --store="$U/st.castr" "$S/blob.caibx" "$T/o14.bin" &&
		same_file "$T/blob.bin" "$T/o14.bin" "  the blob is byte-identical"
	is "$(( $(line_count "$LOG") - before ))" 0 "  without a single request to the server"
	n_refs=$(( ($(file_size "$S/blob.caibx") - 104) / 40 ))
	# (a chunk the blob repeats may be read back from the output instead,
	# counted with the seeds, when its first copy is written by then)
	from=$(sed -n 's/.* from \([0-9]*\) chunks, \([0-9]*\) of them from the cache, \([0-9]*\) from the seeds.*/\1 \2 \3/p' "$T/err")
	check "[ -n '$from' ] && [ \$(echo $from | awk '{ print (\$1 == $n_refs && \$2 + \$3 == $n_refs) }') -eq 1 ]" \
		"  -v says all $n_refs came from the cache (or, repeated, from the output)" || show_run
	# a corrupt chunk in the cache is fetched again and replaced
	first=$(head -n 1 "$T/cache-chunks")
	second=$(sed -n 2p "$T/cache-chunks")
	chmod u+w "$T/cache/$first" 2>/dev/null
	cp "$T/cache/$second" "$T/cache/$first"
	run_ok "a corrupt chunk in the cache: fetched from the store instead" \
		"$STASYNC" extract --cache="$T/cache" --store="$U/st.castr" "$S/blob.caibx" "$T/o15.bin" &&
		same_file "$T/blob.bin" "$T/o15.bin" "  the blob is byte-identical"
	same_file "$S/st.castr/$first" "$T/cache/$first" "  and the cache holds the right chunk again"
	run_ok "a tree through the cache" \
		"$STASYNC" extract --cache="$T/cache" --store="$U/st.castr" "$S/tree.caidx" "$T/o16" &&
		check "diff -r '$T/tree' '$T/o16' >/dev/null" "  the same tree"

	# -- a rate limit --
	t0=$(now_ms)
	run_ok "--rate-limit-bps=100000" "$STASYNC" extract --rate-limit-bps=100000 \
		--store="$U/st.castr" "$S/small.caibx" "$T/o17.bin" &&
		same_file "$T/small.bin" "$T/o17.bin" "  the blob is byte-identical"
	t1=$(now_ms)
	# about 200 kB of chunks at 100 kB/s
	check "[ $((t1 - t0)) -ge 1200 ]" "  takes the time the limit asks for (took $((t1 - t0)) ms)"
	fails_with "--rate-limit-bps=0 is refused" "--rate-limit-bps=0: expected a whole number" \
		"$STASYNC" extract --rate-limit-bps=0 --store="$U/st.castr" "$S/small.caibx" "$T/o18.bin"
fi

# ---- retries: a server that answers 500 twice, then 200 ------------------------------
testhttpd_start flaky --root="$S" --fail=2
F=http://127.0.0.1:$TESTHTTPD_PORT
run_ok "a server answering 500 twice, then 200: extract succeeds" \
	"$STASYNC" extract --store="$F/st.castr" "$S/small.caibx" "$T/o20.bin" &&
	same_file "$T/small.bin" "$T/o20.bin" "the blob is byte-identical"
first=$(sed -n 1p "$TESTHTTPD_LOG" | cut -d' ' -f2)
if [ "$(count_in "$TESTHTTPD_LOG" "GET $first 500")" -eq 2 ] &&
	[ "$(count_in "$TESTHTTPD_LOG" "GET $first 200")" -eq 1 ]; then
	ok "the first chunk was asked for three times (500, 500, 200)"
else
	not_ok "the first chunk was asked for three times (500, 500, 200)"
	diag_file "requests" "$TESTHTTPD_LOG"
fi
httpd_stop_all
testhttpd_start flaky2 --root="$S" --fail=2
F=http://127.0.0.1:$TESTHTTPD_PORT
run_ok "the index URL is retried too" \
	"$STASYNC" extract --store="$F/st.castr" "$F/small.caibx" "$T/o21.bin" &&
	same_file "$T/small.bin" "$T/o21.bin" "the blob is byte-identical"
httpd_stop_all
testhttpd_start flaky3 --root="$S" --fail=2 --fail-status=503
F=http://127.0.0.1:$TESTHTTPD_PORT
fails_with "--retries=1 against two 503s: the error names the URL, the status and the attempts" \
	"(2 attempts)" "$STASYNC" extract --retries=1 --store="$F/st.castr" "$S/small.caibx" "$T/o22.bin"
err_has "$F/st.castr/" "  the URL is named"
err_has "HTTP 503" "  the status is named"
httpd_stop_all
testhttpd_start flaky4 --root="$S" --fail=1 --fail-status=403
F=http://127.0.0.1:$TESTHTTPD_PORT
fails_with "a 403 is not retried" "HTTP 403" \
	"$STASYNC" extract --store="$F/st.castr" "$S/small.caibx" "$T/o23.bin"
is "$(awk '{ print $2 }' "$TESTHTTPD_LOG" | sort | uniq -d | wc -l | tr -d ' ')" 0 \
	"  no chunk asked for twice"
httpd_stop_all

# ---- the proxy environment variables ------------------------------------------------
testhttpd_start proxy --root="$S"
dead=$(free_port)
run_ok "http_proxy is honoured (the store's own port is dead)" \
	env http_proxy="http://127.0.0.1:$TESTHTTPD_PORT" "$STASYNC" extract --retries=0 \
	--store="http://127.0.0.1:$dead/st.castr" "$S/small.caibx" "$T/o25.bin" &&
	same_file "$T/small.bin" "$T/o25.bin" "the blob is byte-identical"
if grep -qF "GET http://127.0.0.1:$dead/st.castr/" "$TESTHTTPD_LOG"; then
	ok "  the requests went through the proxy"
else
	not_ok "  the requests went through the proxy"
	diag_file "proxy log" "$TESTHTTPD_LOG"
fi
httpd_stop_all

# ---- a dead port: connection refused ------------------------------------------------
dead=$(free_port)
t0=$(now_ms)
run "$STASYNC" extract --store="http://127.0.0.1:$dead/st.castr" "$S/small.caibx" "$T/o30.bin"
t1=$(now_ms)
if [ "$rc" -ne 0 ] && grep -qF "127.0.0.1:$dead/st.castr/" "$T/err" && grep -qi "connect" "$T/err"; then
	ok "a dead port: an error naming the URL and the connection failure"
else
	not_ok "a dead port: an error naming the URL and the connection failure"
	show_run
fi
check "[ $((t1 - t0)) -lt 15000 ]" "  within 15 s (took $((t1 - t0)) ms: 3 retries, 0.5+1+2 s apart)"
t0=$(now_ms)
run_ok "a dead primary store and a good --extra-store" \
	"$STASYNC" extract --store="http://127.0.0.1:$dead/st.castr" --extra-store="$S/st.castr" \
	"$S/blob.caibx" "$T/o31.bin" &&
	same_file "$T/blob.bin" "$T/o31.bin" "the blob is byte-identical"
t1=$(now_ms)
check "[ $((t1 - t0)) -lt 10000 ]" \
	"  the dead server is not asked again for each chunk (took $((t1 - t0)) ms)"
fails_with "an index URL on a dead port: an error naming it" "127.0.0.1:$dead/small.caibx" \
	"$STASYNC" extract --retries=0 --store="$S/st.castr" "http://127.0.0.1:$dead/small.caibx" "$T/o32.bin"

# ---- a server that accepts and never answers -----------------------------------------
testhttpd_start stall --mode=stall --lifetime=60
F=http://127.0.0.1:$TESTHTTPD_PORT
t0=$(now_ms)
run "$STASYNC" extract --timeout=2 --retries=1 --store="$F/st.castr" "$S/small.caibx" "$T/o40.bin"
t1=$(now_ms)
if [ "$rc" -ne 0 ] && grep -qF "$F/st.castr/" "$T/err"; then
	ok "a server that never answers: an error naming the URL"
else
	not_ok "a server that never answers: an error naming the URL"
	show_run
fi
err_has "(2 attempts)" "  after 2 attempts"
# 2 attempts of 2 s without progress + 0.5 s between them, libcurl
# checking about once a second: 4.5 s to about 7 s.
check "[ $((t1 - t0)) -ge 4000 ] && [ $((t1 - t0)) -lt 10000 ]" \
	"  within the bound --timeout=2 --retries=1 sets (took $((t1 - t0)) ms)"
t0=$(now_ms)
run "$STASYNC" extract --timeout=2 --retries=0 --store="$S/st.castr" "$F/small.caibx" "$T/o41.bin"
t1=$(now_ms)
check "[ $rc -ne 0 ] && [ $((t1 - t0)) -lt 6000 ]" \
	"an index URL on a server that never answers fails within the bound (took $((t1 - t0)) ms)"
httpd_stop_all

# ---- a server that stops in the middle of a response -----------------------------------
testhttpd_start halt --mode=halt --length=3000000 --lifetime=60
F=http://127.0.0.1:$TESTHTTPD_PORT
t0=$(now_ms)
fails_with "an index whose transfer stops half-way: an error saying it stalled" \
	"stalled: nothing received for 2 s" \
	"$STASYNC" extract --timeout=2 --retries=0 --store="$S/st.castr" "$F/blob.caibx" "$T/o45.bin"
t1=$(now_ms)
# half a second of data, then 2 s of nothing, checked about once a second
check "[ $((t1 - t0)) -ge 2000 ] && [ $((t1 - t0)) -lt 5000 ]" \
	"  within --timeout after the last byte (took $((t1 - t0)) ms)"
httpd_stop_all

# ---- a server that never stops sending --------------------------------------------------
testhttpd_start endless --mode=endless
F=http://127.0.0.1:$TESTHTTPD_PORT
t0=$(now_ms)
fails_with "an endless chunk is refused" "too large for its chunk" \
	"$STASYNC" extract --store="$F/st.castr" "$S/small.caibx" "$T/o50.bin"
t1=$(now_ms)
check "[ $((t1 - t0)) -lt 10000 ]" "  as it streams in (took $((t1 - t0)) ms)"
httpd_stop_all
testhttpd_start liar --mode=liar --length=2147483648
F=http://127.0.0.1:$TESTHTTPD_PORT
fails_with "an index announced larger than 1 GiB is refused" "larger than 1073741824 bytes" \
	"$STASYNC" extract --store="$S/st.castr" "$F/big.caibx" "$T/o51.bin"
is "$(line_count "$TESTHTTPD_LOG")" 1 "  at once, without retrying"
httpd_stop_all

# ---- HTTPS with a CA made here ---------------------------------------------------------
if ! have_nginx; then
	skip "HTTPS" "nginx not installed (apt-get install nginx)"
elif ! command -v openssl >/dev/null 2>&1; then
	skip "HTTPS" "openssl not installed"
else
	C=$T/ca
	mkdir -p "$C/dir"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=stasync test CA" \
		-keyout "$C/ca.key" -out "$C/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		>"$C/log" 2>&1 || { diag_file openssl "$C/log"; bail_out "cannot make a CA"; }
	# mbedTLS 2.28 (the static build's TLS) checks host names, not IP
	# addresses: the certificate names localhost, which /etc/hosts maps
	# to 127.0.0.1.
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$C/server.key" -out "$C/server.csr" >>"$C/log" 2>&1 ||
		{ diag_file openssl "$C/log"; bail_out "cannot make a server key"; }
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$C/ext"
	openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
		-days 2 -extfile "$C/ext" -out "$C/server.pem" >>"$C/log" 2>&1 ||
		{ diag_file openssl "$C/log"; bail_out "cannot sign the server certificate"; }
	cp "$C/ca.pem" "$C/dir/"
	openssl rehash "$C/dir" >>"$C/log" 2>&1 || c_rehash "$C/dir" >>"$C/log" 2>&1
	nginx_start tls "$S" "$C/server.pem" "$C/server.key"
	H=https://localhost:$NGINX_PORT

	run "$STASYNC" extract --store="$H/st.castr" "$S/small.caibx" "$T/o60.bin"
	if [ "$rc" -ne 0 ] && grep -qi "certificate" "$T/err"; then
		ok "HTTPS with an unknown CA fails, naming the certificate problem"
	else
		not_ok "HTTPS with an unknown CA fails, naming the certificate problem"
		show_run
	fi
	err_has "$H/st.castr/" "  and the URL"
	run_ok "HTTPS with --cacert" \
		"$STASYNC" extract --cacert="$C/ca.pem" --store="$H/st.castr" "$H/small.caibx" "$T/o61.bin" &&
		same_file "$T/small.bin" "$T/o61.bin" "the blob is byte-identical"
	run "$STASYNC" -v extract --cacert="$C/ca.pem" --store="$H/st.castr" "$S/small.caibx" "$T/o61v.bin"
	check 'grep -qF "HTTPS certificates checked against: $C/ca.pem (--cacert)" "$T/err"' \
		"-v names the CA file and where it came from (--cacert)" || show_run
	run env SSL_CERT_FILE="$C/ca.pem" "$STASYNC" -v extract --store="$H/st.castr" "$S/small.caibx" "$T/o61w.bin"
	check 'grep -qF "$C/ca.pem (SSL_CERT_FILE)" "$T/err"' "-v names SSL_CERT_FILE as the source" || show_run
	run env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "$STASYNC" -v --insecure extract \
		--store="$H/st.castr" "$S/small.caibx" "$T/o61x.bin"
	check 'grep -q "HTTPS certificates checked against: none: certificates are not checked (--insecure)" "$T/err"' \
		"-v says when certificates are not checked" || show_run
	run env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "$STASYNC" -v extract \
		--store="$H/st.castr" "$S/small.caibx" "$T/o61y.bin"
	check 'grep -Eq "HTTPS certificates checked against: .*\((libcurl.s default|found on this system)\)" "$T/err"' \
		"-v names the system's CA certificates when nothing is given (run-time lookup in the static build)" ||
		show_run
	run_ok "HTTPS with CURL_CA_BUNDLE" \
		env CURL_CA_BUNDLE="$C/ca.pem" "$STASYNC" extract --store="$H/st.castr" "$H/small.caibx" "$T/o62.bin" &&
		same_file "$T/small.bin" "$T/o62.bin" "the blob is byte-identical"
	run_ok "HTTPS with SSL_CERT_FILE" \
		env SSL_CERT_FILE="$C/ca.pem" "$STASYNC" extract --store="$H/st.castr" "$S/small.caibx" "$T/o63.bin" &&
		same_file "$T/small.bin" "$T/o63.bin" "the blob is byte-identical"
	run_ok "HTTPS with SSL_CERT_DIR" \
		env SSL_CERT_DIR="$C/dir" "$STASYNC" extract --store="$H/st.castr" "$S/small.caibx" "$T/o64.bin" &&
		same_file "$T/small.bin" "$T/o64.bin" "the blob is byte-identical"
	run_ok "HTTPS with --insecure" \
		"$STASYNC" extract --insecure --store="$H/st.castr" "$S/small.caibx" "$T/o65.bin" &&
		same_file "$T/small.bin" "$T/o65.bin" "the blob is byte-identical"
	fails_with "--cacert naming a missing file: a clear error" "$C/none.pem" \
		"$STASYNC" extract --cacert="$C/none.pem" --store="$H/st.castr" "$S/small.caibx" "$T/o66.bin"
	run "$STASYNC" extract --store="$S/st.castr" "$H/small.caibx" "$T/o67.bin"
	if [ "$rc" -ne 0 ] && grep -qi "certificate" "$T/err" && grep -qF "$H/small.caibx" "$T/err"; then
		ok "an HTTPS index URL with an unknown CA fails too, naming it and the certificate"
	else
		not_ok "an HTTPS index URL with an unknown CA fails too, naming it and the certificate"
		show_run
	fi
	run_ok "a tree over HTTPS" \
		"$STASYNC" extract --cacert="$C/ca.pem" --store="$H/st.castr" "$H/tree.caidx" "$T/tree.tls"
	if diff -r --no-dereference "$T/tree" "$T/tree.tls" >"$T/diff.out" 2>&1; then
		ok "the tree is identical (diff -r)"
	else
		not_ok "the tree is identical (diff -r)"
		diag_file "diff" "$T/diff.out"
	fi

	# -- HTTP/2, connections kept alive (one per fetching thread) --
	httpd_stop_all
	if "$STASYNC" --version | grep -q "HTTP/2"; then
		NGINX_HTTP2=1
		nginx_start h2 "$S" "$C/server.pem" "$C/server.key"
		NGINX_HTTP2=
		H=https://localhost:$NGINX_PORT
		run_ok "a blob over HTTPS from a server speaking HTTP/2" \
			"$STASYNC" extract --cacert="$C/ca.pem" --store="$H/st.castr" "$S/blob.caibx" "$T/o68.bin" &&
			same_file "$T/blob.bin" "$T/o68.bin" "  the blob is byte-identical"
		LOG=$NGINX_DIR/access.log
		n_req=$(count_in "$LOG" " HTTP/2.0")
		n_conn=$(awk '{ print $1 }' "$LOG" | sort -u | wc -l | tr -d ' ')
		check "[ $n_req -gt 10 ] && [ $n_req -eq $(line_count "$LOG") ] && [ $n_conn -le 16 ] && [ $n_conn -lt $n_req ]" \
			"  all $n_req requests in HTTP/2, over $n_conn reused connections"
	else
		skip "HTTP/2" "this build's libcurl has no HTTP/2 ($("$STASYNC" --version | sed -n 2p))"
	fi
fi

done_testing
