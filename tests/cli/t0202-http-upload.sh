#!/bin/sh
# Writing over HTTP: `make --store=URL URL/x.caibx` uploads the missing
# chunks with PUT (after HEAD) and then the index, to Debian's nginx with
# its WebDAV module; the store and index on the server are byte-identical
# to what casync makes locally, and casync extracts from them. A second
# make sends no chunk again. A server that refuses PUT, or is not there,
# gives a clear error and no index. Only 127.0.0.1 is used.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_stasync
require_casync
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
HOME=$T/home
export HOME
mkdir -p "$HOME"

run "$STASYNC" extract --retries=0 --store=http://127.0.0.1:9/none "$T/none.caibx" "$T/x"
grep -q "no HTTP support" "$T/err" && skip_all "built without libcurl"
have_nginx || skip_all "nginx not installed (apt-get install nginx)"
have_python3 || skip_all "python3 is needed to find free ports"

mkdir -p "$T/www/up" "$T/www/ro" "$T/tree/sub"
mkdata mixed 1 3000000 "$T/blob.bin"
mkdata random 3 700000 "$T/tree/sub/random.bin"
mkdata mixed 4 1500000 "$T/tree/mixed.bin"
printf 'hello\n' >"$T/tree/hello.txt"
ln -s hello.txt "$T/tree/link"

# PUT (with the directories it needs) under /up/; /ro/ allows no PUT.
NGINX_EXTRA="
		location /up/ {
			dav_methods PUT;
			create_full_put_path on;
			client_max_body_size 0;
		}
		location /private/ {
			auth_basic \"stasync test\";
			auth_basic_user_file $T/htpasswd;
			alias $T/www/up/;
			dav_methods PUT;
			create_full_put_path on;
		}"
# user u, password s3cret (apr1 hash made with openssl when it is there)
if command -v openssl >/dev/null 2>&1; then
	printf 'u:%s\n' "$(openssl passwd -apr1 s3cret)" >"$T/htpasswd"
fi
nginx_start up "$T/www"
U=http://127.0.0.1:$NGINX_PORT
LOG=$NGINX_DIR/access.log

# ---- a blob ----------------------------------------------------------------------
"$CASYNC" make --store="$T/local.castr" "$T/local.caibx" "$T/blob.bin" >"$T/casync-digest" ||
	bail_out "casync make failed"
run_ok "make a blob index and its store over HTTP" \
	"$STASYNC" make --store="$U/up/st.castr" "$U/up/blob.caibx" "$T/blob.bin"
is "$(cat "$T/out")" "$(cat "$T/casync-digest")" "  it prints the digest casync prints"
same_file "$T/local.caibx" "$T/www/up/blob.caibx" "  the index on the server is casync's, byte for byte"
chunk_list "$T/local.castr" >"$T/chunks.casync"
chunk_list "$T/www/up/st.castr" >"$T/chunks.up"
if cmp -s "$T/chunks.casync" "$T/chunks.up"; then
	ok "  the store on the server holds the chunks casync stores"
else
	not_ok "  the store on the server holds the chunks casync stores"
	diag_file "diff" "$(diff "$T/chunks.casync" "$T/chunks.up" >"$T/d"; echo "$T/d")"
fi
"$STASYNC" make --store="$T/ours.castr" "$T/ours.caibx" "$T/blob.bin" >/dev/null ||
	bail_out "local make failed"
bad=0
while read -r f; do
	cmp -s "$T/ours.castr/$f" "$T/www/up/st.castr/$f" || bad=$((bad + 1))
done <"$T/chunks.casync"
is "$bad" 0 "  each chunk file arrived as stasync stores it locally, byte for byte"
n_chunks=$(line_count "$T/chunks.casync")
n_refs=$(( ($(file_size "$T/local.caibx") - 48 - 16 - 40) / 40 ))
check "[ $n_refs -gt $n_chunks ]" "  (the blob repeats chunks: $n_refs references to $n_chunks chunks)"
is "$(count_in "$LOG" " PUT /up/st.castr/")" "$n_chunks" "  one PUT per chunk, repeated ones sent once"
is "$(count_in "$LOG" " HEAD /up/st.castr/")" "$n_chunks" "  after one HEAD per chunk"
if [ "$(grep -F " PUT /up/st.castr/" "$LOG" | awk '{ print $1 }' | sort -u | wc -l)" -gt 1 ]; then
	ok "  uploads ran on several connections at once"
else
	not_ok "  uploads ran on several connections at once"
fi
last_chunk_put=$(grep -nF " PUT /up/st.castr/" "$LOG" | tail -n 1 | cut -d: -f1)
index_put=$(grep -nF " PUT /up/blob.caibx" "$LOG" | cut -d: -f1)
check "[ -n '$index_put' ] && [ '$index_put' -gt '$last_chunk_put' ]" \
	"  the index is sent after the last chunk"

run_ok "casync extracts the uploaded blob over HTTP" \
	"$CASYNC" extract --store="$U/up/st.castr" "$U/up/blob.caibx" "$T/casync-out.bin" &&
	same_file "$T/blob.bin" "$T/casync-out.bin" "  byte-identical"

before=$(line_count "$LOG")
run_ok "make again: nothing new" \
	"$STASYNC" -v make --store="$U/up/st.castr" "$U/up/blob.caibx" "$T/blob.bin"
tail -n +"$((before + 1))" "$LOG" >"$T/log2"
is "$(count_in "$T/log2" " PUT /up/st.castr/")" 0 "  no chunk is sent again"
err_has " 0 new in the store" "  -v says 0 new in the store"

# ---- a directory tree --------------------------------------------------------------
"$CASYNC" make --store="$T/local.castr" "$T/tree-casync.caidx" "$T/tree" >/dev/null ||
	bail_out "casync make of the tree failed"
run_ok "make a tree's .caidx over HTTP" \
	"$STASYNC" make --store="$U/up/st.castr" "$U/up/tree.caidx" "$T/tree"
same_file "$T/tree-casync.caidx" "$T/www/up/tree.caidx" "  the index on the server is casync's"
run_ok "casync extracts the uploaded tree over HTTP" \
	"$CASYNC" extract --store="$U/up/st.castr" "$U/up/tree.caidx" "$T/tree-out"
"$CASYNC" make --store="$T/x.castr" "$T/tree-out.caidx" "$T/tree-out" >/dev/null 2>&1
same_file "$T/tree-casync.caidx" "$T/tree-out.caidx" "  and re-archiving what it extracted gives the same index"
run_ok "stasync extracts it over HTTP too" \
	"$STASYNC" extract --store="$U/up/st.castr" "$U/up/tree.caidx" "$T/tree-out2" &&
	check "diff -r '$T/tree' '$T/tree-out2' >/dev/null" "  same tree"

# ---- default store beside the index URL, a .catar, --concurrency -------------------
run_ok "make an index URL without --store: default.castr beside it" \
	"$STASYNC" make "$U/up/d/blob.caibx" "$T/blob.bin"
check "[ -f '$T/www/up/d/blob.caibx' ] && [ -n \"\$(chunk_list '$T/www/up/d/default.castr')\" ]" \
	"  the chunks went to $U/up/d/default.castr"
run_ok "make a .catar at a URL" "$STASYNC" make "$U/up/tree.catar" "$T/tree"
"$CASYNC" make "$T/tree.catar" "$T/tree" >/dev/null
same_file "$T/tree.catar" "$T/www/up/tree.catar" "  byte-identical to casync's .catar"
rm -rf "$T/www/up/c1.castr"
before=$(line_count "$LOG")
run_ok "--concurrency=1" \
	"$STASYNC" make --concurrency=1 --store="$U/up/c1.castr" "$T/c1.caibx" "$T/blob.bin"
tail -n +"$((before + 1))" "$LOG" >"$T/log3"
is "$(awk '{ print $1 }' "$T/log3" | sort -u | wc -l | tr -d ' ')" 1 "  one connection"
same_file "$T/local.caibx" "$T/c1.caibx" "  the same index"

# ---- credentials -----------------------------------------------------------------------
if [ -s "$T/htpasswd" ]; then
	run_ok "upload with user:password@ in the URLs" \
		"$STASYNC" make --store="http://u:s3cret@127.0.0.1:$NGINX_PORT/private/p.castr" \
		"http://u:s3cret@127.0.0.1:$NGINX_PORT/private/p.caibx" "$T/blob.bin"
	same_file "$T/local.caibx" "$T/www/up/p.caibx" "  the index arrived"
	run "$STASYNC" make --store="http://u:wrong-pw@127.0.0.1:$NGINX_PORT/private/q.castr" \
		"$T/q.caibx" "$T/blob.bin"
	if [ "$rc" -ne 0 ] && grep -qF "HTTP 401" "$T/err" && ! grep -qF "wrong-pw" "$T/err"; then
		ok "a wrong password: HTTP 401, the password not shown"
	else
		not_ok "a wrong password: HTTP 401, the password not shown"
		show_run
	fi
	check "[ ! -e '$T/q.caibx' ]" "  and no index is written"
else
	skip "credentials" "openssl not installed"
fi

# ---- failures: nothing half done -----------------------------------------------------
fails_with "a location without PUT: HTTP 405, naming the chunk URL" "$U/ro/st.castr/" \
	"$STASYNC" make --store="$U/ro/st.castr" "$U/up/never.caibx" "$T/blob.bin"
err_has "HTTP 405" "  the status is named"
is "$(line_count "$T/err")" 1 "  on one line"
check "[ ! -e '$T/www/up/never.caibx' ]" "  and the index is not uploaded"
fails_with "an index URL where PUT is refused: an error naming it" "$U/ro/x.caibx" \
	"$STASYNC" make --store="$T/local2.castr" "$U/ro/x.caibx" "$T/blob.bin"
dead=$(free_port)
t0=$(now_ms)
fails_with "a store on a dead port: refused, named" "127.0.0.1:$dead" \
	"$STASYNC" make --retries=1 --store="http://127.0.0.1:$dead/st.castr" "$T/dead.caibx" "$T/blob.bin"
t1=$(now_ms)
check "[ $((t1 - t0)) -lt 10000 ]" "  within seconds (took $((t1 - t0)) ms)"
check "[ ! -e '$T/dead.caibx' ]" "  and no index is written"

done_testing
