#!/bin/sh
# xz and gzip chunks: `make --compression=xz|gzip` writes the same index and
# the same chunk files, byte for byte, as Debian's casync, for a blob and a
# tree; each tool extracts from the other's store; a store holding zstd, xz
# and gzip chunks side by side reads back whole, locally and over HTTP; an
# upload to an HTTP store with --compression=xz puts casync's bytes on the
# server; verify and gc read such stores; and bad xz/gzip chunks (corrupt,
# truncated, trailing bytes, inflating past their size) are one clear line
# naming the chunk, exit 1, with bounded memory. Only 127.0.0.1 is used.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_casync
require_stasync
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

mkdir -p "$T/tree/sub/deeper" "$T/tree/empty-dir"
mkdata mixed 1 3000017 "$T/blob.bin"
mkdata random 2 700001 "$T/tree/sub/random.bin"
mkdata mixed 3 1500007 "$T/tree/sub/deeper/mixed.bin"
mkdata zero 4 300000 "$T/tree/zeros.bin"
printf 'hello\n' >"$T/tree/hello.txt"
: >"$T/tree/empty"
ln -s hello.txt "$T/tree/link"

# same_store A B DESC: the same chunk files with the same bytes.
same_store() {
	if diff -r "$1" "$2" >"$T/diff" 2>&1; then
		ok "$3"
	else
		not_ok "$3"
		diag_file "diff -r" "$T/diff"
	fi
}

# ---- make: the same bytes as casync ---------------------------------------------------
for k in xz gzip; do
	cd "$T" || exit 1
	for kind in blob tree; do
		case $kind in
		blob) src=blob.bin idx=caibx ;;
		*) src=tree idx=caidx ;;
		esac
		run "$CASYNC" make --compression=$k --store=ca-$k.castr ca-$kind-$k.$idx $src
		[ "$rc" -eq 0 ] || { show_run; bail_out "casync make --compression=$k $kind failed"; }
		cp "$T/out" ca.digest
		run_ok "make --compression=$k: $kind" \
			"$STASYNC" make --compression=$k --store=st-$k.castr st-$kind-$k.$idx $src
		same_file "$T/out" ca.digest "make --compression=$k: $kind: the digest casync prints"
		same_file st-$kind-$k.$idx ca-$kind-$k.$idx "make --compression=$k: $kind: index identical to casync's"
	done
	same_store st-$k.castr ca-$k.castr "make --compression=$k: chunk files identical to casync's"
	magic=$(find st-$k.castr -name '*.cacnk' | head -n 1 | xargs od -An -tx1 -N2 | tr -d ' ')
	case $k in
	xz) is "$magic" fd37 "make --compression=xz: chunks start with xz's magic" ;;
	gzip) is "$magic" 1f8b "make --compression=gzip: chunks start with gzip's magic" ;;
	esac

	# each tool reads the other's store
	run_ok "extract from casync's $k store: blob" \
		"$STASYNC" extract --store=ca-$k.castr ca-blob-$k.caibx st-from-ca-$k.bin
	same_file st-from-ca-$k.bin blob.bin "extract from casync's $k store: blob bytes"
	run_ok "casync extracts from our $k store: blob" \
		"$CASYNC" extract --store=st-$k.castr st-blob-$k.caibx ca-from-st-$k.bin
	same_file ca-from-st-$k.bin blob.bin "casync extracts from our $k store: blob bytes"
	run_ok "extract from casync's $k store: tree" \
		"$STASYNC" extract --store=ca-$k.castr ca-tree-$k.caidx st-from-ca-$k
	run_ok "casync extracts from our $k store: tree" \
		"$CASYNC" extract --store=st-$k.castr st-tree-$k.caidx ca-from-st-$k
	"$CASYNC" mtree tree >tree.mtree 2>&1
	for d in st-from-ca-$k ca-from-st-$k; do
		"$CASYNC" mtree $d >$d.mtree 2>&1
		same_file $d.mtree tree.mtree "tree extracted ($d): casync's mtree equals the source's"
		check "cmp -s $d/sub/deeper/mixed.bin tree/sub/deeper/mixed.bin" \
			"tree extracted ($d): a file's bytes"
	done
	run_ok "verify: casync's $k store" "$STASYNC" verify --store=ca-$k.castr
	run_ok "verify: casync's $k store, by index" \
		"$STASYNC" verify --store=ca-$k.castr ca-blob-$k.caibx ca-tree-$k.caidx
done

# ---- a store holding all three ----------------------------------------------------------
cd "$T" || exit 1
"$CASYNC" make --store=ca-zstd.castr ca-blob-zstd.caibx blob.bin >/dev/null 2>&1 ||
	bail_out "casync make (zstd) failed"
"$CASYNC" make --store=ca-zstd.castr ca-tree-zstd.caidx tree >/dev/null 2>&1 ||
	bail_out "casync make (zstd) failed"
mkdir mixed.castr
i=0
for f in $(cd ca-zstd.castr && find . -name '*.cacnk' | sort); do
	case $((i % 3)) in
	0) from=ca-zstd.castr ;;
	1) from=ca-xz.castr ;;
	*) from=ca-gzip.castr ;;
	esac
	mkdir -p "mixed.castr/$(dirname "$f")"
	cp "$from/$f" "mixed.castr/$f"
	i=$((i + 1))
done
kinds=$(find mixed.castr -name '*.cacnk' -exec od -An -tx1 -N2 {} \; | tr -d ' ' | sort -u | tr '\n' ' ')
is "$kinds" "1f8b 28b5 fd37 " "the mixed store holds gzip, zstd and xz chunks"
run_ok "mixed store: extract blob" "$STASYNC" extract --store=mixed.castr ca-blob-zstd.caibx mixed.bin
same_file mixed.bin blob.bin "mixed store: blob bytes"
run_ok "mixed store: extract tree" "$STASYNC" extract --store=mixed.castr ca-tree-zstd.caidx mixed-tree
"$CASYNC" mtree mixed-tree >mixed-tree.mtree 2>&1
same_file mixed-tree.mtree tree.mtree "mixed store: tree as the source"
run_ok "mixed store: casync extracts too" "$CASYNC" extract --store=mixed.castr ca-blob-zstd.caibx mixed-ca.bin
same_file mixed-ca.bin blob.bin "mixed store: casync's blob bytes"
run_ok "mixed store: verify" "$STASYNC" verify --store=mixed.castr
cp -r mixed.castr gc.castr
run_ok "mixed store: gc keeping the blob" "$STASYNC" gc --store=gc.castr ca-blob-zstd.caibx
run_ok "mixed store: extract after gc" "$STASYNC" extract --store=gc.castr ca-blob-zstd.caibx gc.bin
same_file gc.bin blob.bin "mixed store: blob bytes after gc"

# ---- over HTTP -------------------------------------------------------------------------------
run "$STASYNC" extract --retries=0 --store=http://127.0.0.1:9/none "$T/none.caibx" "$T/x"
if grep -q "no HTTP support" "$T/err"; then
	skip "HTTP: mixed store and upload" "built without libcurl"
elif ! have_nginx || ! have_python3; then
	skip "HTTP: mixed store and upload" "nginx or python3 missing"
else
	mkdir -p www/up
	cp -r mixed.castr www/mixed.castr
	cp ca-blob-zstd.caibx ca-tree-zstd.caidx www/
	NGINX_EXTRA="
		location /up/ {
			dav_methods PUT;
			create_full_put_path on;
			client_max_body_size 0;
		}"
	nginx_start comp "$T/www"
	U=http://127.0.0.1:$NGINX_PORT
	run_ok "HTTP mixed store: extract blob" \
		"$STASYNC" extract --store=$U/mixed.castr $U/ca-blob-zstd.caibx http.bin
	same_file http.bin blob.bin "HTTP mixed store: blob bytes"
	run_ok "HTTP mixed store: extract tree" \
		"$STASYNC" extract --store=$U/mixed.castr $U/ca-tree-zstd.caidx http-tree
	"$CASYNC" mtree http-tree >http-tree.mtree 2>&1
	same_file http-tree.mtree tree.mtree "HTTP mixed store: tree as the source"
	run_ok "HTTP mixed store: into a cache" \
		"$STASYNC" extract --cache=cache.castr --store=$U/mixed.castr $U/ca-blob-zstd.caibx cached.bin
	n_cached=0 n_differ=0
	for f in $(cd cache.castr && find . -name '*.cacnk'); do
		n_cached=$((n_cached + 1))
		cmp -s cache.castr/$f mixed.castr/$f || n_differ=$((n_differ + 1))
	done
	check "[ $n_cached -gt 5 ] && [ $n_differ -eq 0 ]" \
		"HTTP mixed store: the cache keeps each chunk as served ($n_cached chunks, $n_differ differ)"
	for k in xz gzip; do
		run_ok "HTTP upload --compression=$k" "$STASYNC" make --compression=$k \
			--store=$U/up/$k.castr $U/up/blob-$k.caibx blob.bin
		run_ok "HTTP upload --compression=$k: tree" "$STASYNC" make --compression=$k \
			--store=$U/up/$k.castr $U/up/tree-$k.caidx tree
		same_store www/up/$k.castr ca-$k.castr "HTTP upload --compression=$k: the server holds casync's chunk files"
		same_file www/up/blob-$k.caibx ca-blob-$k.caibx "HTTP upload --compression=$k: casync's index"
	done
	httpd_stop_all
fi

# ---- bad xz and gzip chunks -------------------------------------------------------------
# bad_chunk NAME FILE REASON: a chunk of the blob replaced by FILE in a copy
# of its xz store; extract must fail naming the chunk and REASON.
"$CASYNC" make --compression=xz --store=blob-xz.castr blob-xz.caibx blob.bin >/dev/null 2>&1 ||
	bail_out "casync make --compression=xz failed"
first=$(cd blob-xz.castr && find . -name '*.cacnk' | sort | head -n 1)
id=$(basename "$first" .cacnk)
bad_chunk() {
	rm -rf bad.castr bad.out
	cp -r blob-xz.castr bad.castr
	chmod u+w "bad.castr/$first"
	cp "$2" "bad.castr/$first"
	run limited 1048576 "$STASYNC" extract --store=bad.castr blob-xz.caibx bad.out
	is "$rc" 1 "bad chunk ($1): exit status 1"
	is "$(line_count "$T/err")" 1 "bad chunk ($1): one line"
	check "grep -q '$id' '$T/err' && grep -q '$3' '$T/err'" "bad chunk ($1): names the chunk and '$3'" ||
		diag_file stderr "$T/err"
	check "[ ! -e bad.out ]" "bad chunk ($1): no output file"
}
# the chunk with one byte changed, compressed the same way
xz -dc <"blob-xz.castr/$first" >first.raw
printf 'X' | patch_bytes first.raw 1000
xz -6 --check=crc64 <first.raw >changed.xz
bad_chunk "xz, one byte changed" changed.xz "does not match"
head -c 100 "blob-xz.castr/$first" >trunc.xz
bad_chunk "xz, truncated" trunc.xz "truncated xz data"
{ cat "blob-xz.castr/$first"; printf 'junk'; } >trail.xz
bad_chunk "xz, bytes after the stream" trail.xz "data after the end"
cp "blob-xz.castr/$first" flip.xz
printf '\377\377\377\377\377\377\377\377' | patch_bytes flip.xz 200
bad_chunk "xz, corrupt" flip.xz "corrupt xz data"
head -c 100000000 /dev/zero | xz -6 --check=crc64 >bomb.xz
bad_chunk "xz, inflating to 100 MB" bomb.xz "inflates past"
head -c 100000000 /dev/zero | gzip -6 -n >big.gz
bad_chunk "gzip, larger than a chunk can be" big.gz "too large for its chunk"
head -c 20000000 /dev/zero | gzip -6 -n >bomb.gz
bad_chunk "gzip, inflating to 20 MB" bomb.gz "inflates past"
xz -dc <"blob-xz.castr/$first" | gzip -6 -n >first.gz
head -c 300 first.gz >trunc.gz
bad_chunk "gzip, truncated" trunc.gz "truncated gzip data"
{ gzip -6 -n <first.raw; printf 'x' | gzip -n; } >two.gz
bad_chunk "gzip, two members" two.gz "data after the end"
cp first.gz flip.gz
printf '\377\377\377\377\377\377\377\377' | patch_bytes flip.gz 100
bad_chunk "gzip, corrupt" flip.gz "corrupt gzip data"

fails_with "--compression=bogus: named as unknown" "unknown compression 'bogus'" \
	"$STASYNC" make --compression=bogus --store=x.castr x.caibx blob.bin
check "[ ! -e x.caibx ]" "--compression=bogus: no index"

done_testing
