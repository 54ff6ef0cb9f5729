#!/bin/sh
# gc, verify and info of a store in an S3 bucket, against Ceph's RADOS
# Gateway on 127.0.0.1 (tests/cli/s3d.sh): gc leaves in the bucket the
# chunks Debian's casync's gc leaves in a local store made from the same
# data, lists more than one page and deletes more than one batch of a
# thousand; --dry-run deletes nothing; verify reads every object back,
# names a corrupt and a missing one, and --repair deletes the corrupt one;
# info counts what the bucket holds; failures are one line without secrets.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=s3d.sh
. "$top_srcdir/tests/cli/s3d.sh"

require_casync
require_stasync
s3_test_begin maint
S3=$S3/st

# objects: the store's chunk objects, relative to it, sorted: a listing
# a page at a time (radosgw gives at most a thousand keys), each page
# starting after the last key of the one before.
objects() {
	_after=
	while :; do
		s3_curl GET "/maint?list-type=2&prefix=st%2F${_after:+&start-after=$_after}" |
			grep -o '<Key>[^<]*</Key>' | sed 's|<Key>||; s|</Key>||' >"$T/page"
		[ -s "$T/page" ] || break
		sed 's|^st/||' "$T/page"
		_after=$(tail -n 1 "$T/page" | sed 's|/|%2F|g')
	done | sort
}

# Three blobs: a and b share nothing; c, cut small, is over a thousand chunks.
mkdata random 1 2000000 a.bin
mkdata random 2 2000000 b.bin
mkdata random 3 24000000 c.bin
for x in a b; do
	"$CASYNC" make --store=local.castr "$x.caibx" "$x.bin" >/dev/null 2>&1 ||
		bail_out "casync make $x failed"
	run "$STASYNC" make --store="$S3" "$x.caibx" "$x.bin"
	[ "$rc" -eq 0 ] || { show_run; bail_out "make $x into the bucket failed"; }
done
run "$STASYNC" make --chunk-size=16384 --store="$S3" c.caibx c.bin
[ "$rc" -eq 0 ] || { show_run; bail_out "make c into the bucket failed"; }
objects >all.list
n_all=$(wc -l <all.list)
check "[ $n_all -gt 1000 ]" "the bucket holds more than a page ($n_all objects)"

# ---- make: listing the prefix or asking for each chunk ------------------------------------
mkdata random 4 2000000 d.bin
run "$STASYNC" -v make --store="$S3-d" d.caibx d.bin
check "[ $rc -eq 0 ]" "make -v into a new prefix" || show_run
err_has "listed the store (0 chunks, 1 request): only the chunks it lacks are sent, with no HEAD first" \
	"... lists it first (one request, fewer than the chunks): no HEAD per chunk"
run "$STASYNC" -v make --store="$S3-d" d2.caibx d.bin
check "[ $rc -eq 0 ] && cmp -s d.caibx d2.caibx" "make -v of the same blob again" || show_run
err_has "listed the store (" "... lists the chunks that are there"
err_has "0 new in the store" "... and sends none"
run_ok "... the blob extracts" "$STASYNC" extract --store="$S3-d" d.caibx d.out &&
	check "cmp -s d.out d.bin" "... with its bytes"
mkdata random 5 1500000 e.bin
run "$STASYNC" -v make --store="$S3" e.caibx e.bin
check "[ $rc -eq 0 ]" "make -v of a small blob into the prefix of $n_all objects" || show_run
err_has "the store holds more than 1 page of listing (1000 chunks seen)" \
	"... stops listing and asks for each chunk not listed (HEAD)"
run_ok "... the blob extracts" "$STASYNC" extract --store="$S3" e.caibx e.out &&
	check "cmp -s e.out e.bin" "... with its bytes"
mkdata random 6 100000 f.bin
run "$STASYNC" -v make --store="$S3-d" f.caibx f.bin
err_has "too few chunks to list the store first" "a blob of a few chunks: one HEAD per chunk"
mkdir -p tree/sub && cp a.bin tree/ && cp d.bin tree/sub/
run "$STASYNC" -v make --store="$S3-d" tree.caidx tree
check "[ $rc -eq 0 ]" "make -v of a tree (its size not known)" || show_run
err_has "listed the store (" "... lists up to 4 pages"
run_ok "... the tree extracts" "$STASYNC" extract --store="$S3-d" tree.caidx tree.out &&
	check "cmp -s tree.out/sub/d.bin d.bin" "... with its bytes"
run "$STASYNC" -v make --store="s3+$S3D_ENDPOINT/nobucket/st" n.caibx d.bin
check "[ $rc -eq 1 ] && [ ! -e n.caibx ]" "make into a bucket that does not exist: exit 1, no index" ||
	show_run
err_has "no such bucket" "... says so"
objects >all.list
n_all=$(wc -l <all.list)

# ---- gc -------------------------------------------------------------------------------
"$CASYNC" gc --store=local.castr a.caibx >/dev/null 2>&1 || bail_out "casync gc failed"
chunk_list local.castr | sed 's|^\./||' >casync-kept.list
n_kept=$(wc -l <casync-kept.list)

run "$STASYNC" gc --dry-run --store="$S3" a.caibx
check "[ $rc -eq 0 ]" "gc --dry-run of the bucket" || show_run
is "$(objects | wc -l)" "$n_all" "... deletes nothing"
check "grep -qx 'Would remove $((n_all - n_kept)) chunks ([0-9]* bytes), $n_kept chunks remaining\.' '$T/out'" \
	"... and says what it would remove" || show_run

run "$STASYNC" -v gc --store="$S3" a.caibx
check "[ $rc -eq 0 ]" "gc of the bucket keeping a.caibx" || show_run
objects >kept.list
same_file kept.list casync-kept.list "... leaves the chunks casync's gc leaves in a local store"
is "$(grep -c '^Removed chunk ' "$T/out")" "$((n_all - $(wc -l <kept.list)))" \
	"... -v names each chunk deleted (over a thousand: two DeleteObjects batches)"
run_ok "... a.caibx still extracts" "$STASYNC" extract --store="$S3" a.caibx a.out &&
	check "cmp -s a.out a.bin" "... with its bytes"
run "$STASYNC" extract --store="$S3" b.caibx b.out
check "[ $rc -eq 1 ] && [ $(line_count "$T/err") -eq 1 ] && [ ! -e b.out ]" \
	"... b.caibx, its chunks deleted behind its back, no longer does: one line, no output" || show_run
check "grep -q '^stasync: .*/st/[0-9a-f]\{4\}/[0-9a-f]\{64\}\.cacnk: .*404' '$T/err'" \
	"... naming the chunk's object and the 404" || show_run

# ---- verify ---------------------------------------------------------------------------
run "$STASYNC" verify --store="$S3"
check "[ $rc -eq 0 ]" "verify of the bucket: every object good" || show_run
run "$STASYNC" -v verify --store="$S3" a.caibx
check "[ $rc -eq 0 ] && grep -q '^$(wc -l <kept.list) chunks good, 0 bad, 0 missing' '$T/err'" \
	"verify of a.caibx's chunks in the bucket" || show_run

bad=$(sed -n 1p kept.list)
gone=$(sed -n 2p kept.list)
printf 'not a chunk at all' >junk
s3_curl PUT "/maint/st/$bad" --data-binary @junk -o /dev/null
s3_curl DELETE "/maint/st/$gone" -o /dev/null
run "$STASYNC" verify --store="$S3" a.caibx
check "[ $rc -eq 1 ]" "verify with a corrupt and a missing object fails" || show_run
err_has "$S3/$bad: not zstd, xz or gzip data" "... naming the corrupt object and why"
err_has "$S3/$gone: missing" "... and the missing one"
run "$STASYNC" verify --repair --store="$S3" a.caibx
check "[ $rc -eq 1 ]" "verify --repair fails too" || show_run
check "grep -q '^stasync: $S3/$bad: not zstd, xz or gzip data.*(removed)\$' '$T/err'" \
	"... says it deleted the corrupt object" || show_run
check "! objects | grep -qx '$bad'" "... which is gone from the bucket"
run "$STASYNC" verify --store="$S3"
check "[ $rc -eq 0 ]" "verify of the whole bucket after the repair: good" || show_run

# ---- info -----------------------------------------------------------------------------
run "$STASYNC" info --store="$S3" a.caibx
u=$(wc -l <kept.list)
check "[ $rc -eq 0 ] && grep -q ': $((u - 2)) of $u unique chunks present, 2 missing' '$T/out'" \
	"info counts the chunks the bucket holds" || show_run

# ---- failures -------------------------------------------------------------------------
AWS_SECRET_ACCESS_KEY=wrong-secret-value run "$STASYNC" gc --store="$S3" a.caibx
check "[ $rc -eq 1 ] && [ $(line_count "$T/err") -eq 1 ]" "gc with a wrong secret: one line, exit 1" ||
	show_run
check "! grep -q wrong-secret-value '$T/err'" "... without the secret"
check "[ $(objects | wc -l) -eq $((u - 2)) ]" "... and nothing deleted"
fails_with "gc of a bucket that does not exist" "no such bucket" \
	"$STASYNC" gc --store="s3+$S3D_ENDPOINT/nobucket/st" a.caibx
fails_with "gc of an HTTP store is refused" "works on a local store or one in an S3 bucket only" \
	"$STASYNC" gc --store="http://127.0.0.1:1/st" a.caibx

done_testing
