#!/bin/sh
# Store maintenance: gc removes what casync's gc removes (and keeps the
# rest), verify finds every kind of bad chunk file and --repair removes
# them, info counts an index's chunks and how many each store holds.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
command -v python3 >/dev/null || skip_all "python3 not installed"
command -v zstd >/dev/null || skip_all "zstd not installed"

head -c 3000017 /dev/urandom >a.bin
head -c 2000003 /dev/urandom >b.bin
cat a.bin b.bin a.bin >ab.bin   # shares every chunk of a.bin but those at the seams
mkdir -p tree/d && cp b.bin tree/d/b && printf 'x\n' >tree/x
for m in "a.caibx a.bin" "b.caibx b.bin" "ab.caibx ab.bin" "t.caidx tree"; do
	# shellcheck disable=SC2086 # two words
	"$CASYNC" make --store=st $m >/dev/null || bail_out "casync make $m failed"
done
# not chunks, where casync's gc leaves them (a file beside the chunk
# directories makes casync's gc fail: that one only for ours, below)
printf 'left by a killed run\n' >"$(find st -mindepth 1 -maxdepth 1 -type d | head -n 1)/.leftover.tmp"

# ---- gc ---------------------------------------------------------------------------
# gc_both NAME INDEX...: the same gc on two copies, by casync and by us
gc_both() {
	_n=$1
	shift
	rm -rf "gc-$_n-ca" "gc-$_n-st"
	cp -a st "gc-$_n-ca" && cp -a st "gc-$_n-st"
	"$CASYNC" gc --store="gc-$_n-ca" "$@" >/dev/null 2>&1
	run "$STASYNC" gc --store="gc-$_n-st" "$@"
	[ "$rc" -eq 0 ] || show_run
	is "$(cd "gc-$_n-st" && find . | sort)" "$(cd "gc-$_n-ca" && find . | sort)" \
		"gc keeping $*: the same files are left as casync's gc leaves"
}
gc_both one a.caibx
gc_both two a.caibx t.caidx
gc_both all a.caibx b.caibx ab.caibx t.caidx
printf 'not a chunk\n' >gc-one-st/README
run_ok "gc with a file beside the chunk directories" "$STASYNC" gc --store=gc-one-st a.caibx
check '[ -f gc-one-st/README ] && [ -n "$(find gc-one-st -name .leftover.tmp)" ]' \
	"... leaves files that are not chunks alone"

before=$(chunk_list st | wc -l)
keep=$(python3 - a.caibx <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
ids = {d[i + 8:i + 40] for i in range(64, len(d) - 40, 40)}
print(len(ids))
PY
)
cp -a st dry
run "$STASYNC" gc -n --store=dry a.caibx
check "grep -Eq '^Would remove $((before - keep)) chunks \\([0-9]+ bytes\\), $keep chunks remaining\\.\$' '$T/out'" \
	"gc --dry-run says what it would remove: $(cat "$T/out")"
is "$(chunk_list dry | wc -l)" "$before" "... and removes nothing"
run "$STASYNC" -v gc --store=dry a.caibx
is "$(grep -c '^Removed chunk ' "$T/out")" "$((before - keep))" "gc -v names each chunk it removes"
is "$(chunk_list dry | wc -l)" "$keep" "... and the store keeps exactly the index's chunks"
run_ok "extract from the collected store" "$STASYNC" extract --store=dry a.caibx a.out
check 'cmp -s a.bin a.out' "... gives the blob back"

cp -a st miss
fails_with "gc with an index that does not exist fails" "nope.caibx" \
	"$STASYNC" gc --store=miss a.caibx nope.caibx
is "$(chunk_list miss | wc -l)" "$before" "... and removes nothing"
fails_with "gc with no index fails (it would empty the store)" "gc needs" "$STASYNC" gc --store=miss
fails_with "gc of an HTTP store is refused" "works on a local store or one in an S3 bucket only" \
	"$STASYNC" gc --store=http://127.0.0.1:9/store a.caibx

# ---- verify -----------------------------------------------------------------------
run_ok "verify a good store" "$STASYNC" verify --store=st
run_ok "verify the chunks of indexes" "$STASYNC" verify --store=st a.caibx t.caidx

cp -a st bad
# shellcheck disable=SC2046 # four names, one per word
set -- $(cd bad && chunk_list . | sed 's|^\./||' | head -n 4)
chmod u+w "bad/$1" "bad/$2" "bad/$3"
printf 'garbage' >"bad/$1"                                  # not zstd
head -c 70000 /dev/urandom | zstd -q -c >"bad/$2"             # zstd, other content
head -c 20 "bad/$4" >"bad/$3"                               # truncated (a copy of the start of another)
rm -f "bad/$4"
run "$STASYNC" verify --store=bad
is "$rc" 1 "verify of a store with 3 bad chunk files: exit status 1"
for f in "$1" "$2" "$3"; do
	check "grep -q '^$STASYNC_NAME: bad/$f: ' '$T/err'" "... names $f"
done
check "grep -q 'does not match' '$T/err' && grep -q 'not zstd' '$T/err'" "... and says what is wrong with each"
is "$(tail -n 1 "$T/err")" "$STASYNC_NAME: bad: 3 bad and 0 missing chunks of $(chunk_list bad | wc -l)" \
	"... and ends with a summary"
idx_of_4=
for i in a.caibx b.caibx ab.caibx t.caidx; do
	python3 - "$i" "${4%.cacnk}" <<'PY' && idx_of_4=$i
import sys
d = open(sys.argv[1], "rb").read()
want = bytes.fromhex(sys.argv[2].split("/")[1])
sys.exit(0 if any(d[i + 8:i + 40] == want for i in range(64, len(d) - 40, 40)) else 1)
PY
	[ -z "$idx_of_4" ] || break
done
if [ -n "$idx_of_4" ]; then
	run "$STASYNC" verify --store=bad "$idx_of_4"
	check "[ $rc -eq 1 ] && grep -q 'bad/$4: missing' '$T/err'" "verify with an index reports the missing chunk"
else
	skip "verify with an index reports the missing chunk" "no index names the removed chunk"
fi
n=$(chunk_list bad | wc -l)
run "$STASYNC" verify --repair --store=bad
is "$rc" 1 "verify --repair still fails (chunks were bad)"
is "$(chunk_list bad | wc -l)" "$((n - 3))" "... and removed the 3 bad chunk files, nothing else"
run_ok "verify after the repair: good" "$STASYNC" verify --store=bad

head -c 1000003 /dev/urandom >c.bin
"$CASYNC" make --digest=sha256 --store=st256 c.caibx c.bin >/dev/null || bail_out "casync make --digest=sha256 failed"
run_ok "verify a store of SHA-256 chunks (no index: either digest)" "$STASYNC" verify --store=st256
run_ok "... and with its index" "$STASYNC" verify --store=st256 c.caibx

# ---- info -------------------------------------------------------------------------
python3 - ab.caibx a.caibx >expect <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
a = open(sys.argv[2], "rb").read()
in_a = {a[i + 8:i + 40] for i in range(64, len(a) - 40, 40)}
items = [(int.from_bytes(d[i:i + 8], "little"), d[i + 8:i + 40]) for i in range(64, len(d) - 40, 40)]
sizes, prev, seen, ub = [], 0, {}, 0
for end, cid in items:
    sizes.append(end - prev)
    if cid not in seen:
        seen[cid] = end - prev
    prev = end
print(len(items), len(seen), prev, sum(seen.values()), min(sizes), max(sizes))
print(len(set(seen) - in_a))
PY
run "$STASYNC" info --json --store=st --extra-store=dry ab.caibx
python3 - "$T/out" >got <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(j["chunks"], j["unique_chunks"], j["size"], j["unique_bytes"], j["smallest_chunk"], j["largest_chunk"])
print(j["kind"], j["digest"], [s["missing"] for s in j["stores"]])
PY
is "$(head -n 1 got)" "$(head -n 1 expect)" "info --json: chunks, unique chunks, sizes as the index says"
is "$(tail -n 1 got)" "blob-index sha512-256 [0, $(tail -n 1 expect)]" \
	"... its kind and digest, and what each store is missing (the second holds a.caibx's)"
run_ok "info as text" "$STASYNC" info --store=st t.caidx
check "grep -q '^Index: *t.caidx (archive index, sha512-256)' '$T/out' && grep -q '^In store: *st: ' '$T/out'" \
	"... says what the index is and what the store holds"
mkdir cache
run_ok "info with --cache" "$STASYNC" info --store=st --cache=cache a.caibx
check "grep -q '^In the cache: *cache: 0 of' '$T/out'" "... counts the cache too"
run_ok "info with --seed" "$STASYNC" info --store=st --seed=a.bin ab.caibx
check "grep -q '^In the seeds: *a.bin: [1-9][0-9]* of' '$T/out'" "... counts what the seeds hold: $(grep seeds "$T/out")"
fails_with "info of a file that is not an index" "a.bin" "$STASYNC" info --what=blob-index a.bin

done_testing
