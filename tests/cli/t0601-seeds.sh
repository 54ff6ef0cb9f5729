#!/bin/sh
# Seeds: extracting a new version over HTTP next to (or over) the old one
# fetches only the chunks the old one lacks — counted in nginx's log — and
# the result is still the new version, byte for byte.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source-path=SCRIPTDIR source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_casync
require_stasync
command -v python3 >/dev/null || skip_all "python3 not installed"
have_nginx || skip_all "nginx not installed"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# the chunks of index $2 that index $1 lacks
new_chunks() {
	python3 - "$1" "$2" <<'PY'
import sys
def ids(p):
    d = open(p, "rb").read()
    return {d[i + 8:i + 40] for i in range(64, len(d) - 40, 40)}
print(len(ids(sys.argv[2]) - ids(sys.argv[1])))
PY
}
# chunk GETs in the access log since line $1
gets_since() {
	tail -n +"$(($1 + 1))" "$NGINX_DIR/access.log" | grep -c ' GET /store/.*\.cacnk 200 '
}
log_lines() {
	line_count "$NGINX_DIR/access.log"
}

mkdir srv
mkdata random 11 6000011 v1.bin
cp v1.bin v2.bin
printf 'a new version of a few bytes' | dd of=v2.bin bs=1 seek=3000000 conv=notrunc 2>/dev/null
mkdir -p v1/etc v1/usr/lib
mkdata random 12 700001 v1/usr/lib/libfoo.so
mkdata random 13 900001 v1/usr/lib/libbar.so
mkdata random 14 400001 v1/etc/big.conf
printf 'version=1\n' >v1/etc/version
cp -a v1 v2
printf 'version=2\n' >v2/etc/version
touch -d @1700000000 v1/etc/version v2/etc/version
for m in "v1.caibx v1.bin" "v2.caibx v2.bin" "v1.caidx v1" "v2.caidx v2"; do
	# shellcheck disable=SC2086 # two words
	"$CASYNC" make --store=srv/store srv/$m >/dev/null || bail_out "casync make $m failed"
done
nginx_start web "$T/srv"
U=http://127.0.0.1:$NGINX_PORT

# ---- blobs ------------------------------------------------------------------------
want=$(new_chunks srv/v1.caibx srv/v2.caibx)
n=$(log_lines)
run "$STASYNC" extract --store="$U/store" --seed=v1.bin "$U/v2.caibx" v2.out
check '[ "$rc" -eq 0 ] && cmp -s v2.bin v2.out' "blob with --seed=the old version: the new version, byte for byte"
is "$(gets_since "$n")" "$want" "... fetching only the $want chunks the old version lacks"

cp v1.bin inplace.bin
n=$(log_lines)
run "$STASYNC" -v extract --store="$U/store" "$U/v2.caibx" inplace.bin
check '[ "$rc" -eq 0 ] && cmp -s v2.bin inplace.bin' "blob over the old version (the output seeds itself): the new version"
is "$(gets_since "$n")" "$want" "... fetching only the $want chunks it lacked"
check 'grep -q "The seeds hold" "$T/err" && grep -Eq "from the seeds" "$T/err"' "... and -v says what came from the seeds"

cp v1.bin noseed.bin
n=$(log_lines)
run "$STASYNC" extract --seed-output=no --store="$U/store" "$U/v2.caibx" noseed.bin
check '[ "$rc" -eq 0 ] && cmp -s v2.bin noseed.bin && [ "$(gets_since "$n")" -gt "$want" ]' \
	"--seed-output=no fetches them all"

printf 'not what it was' | dd of=v1.bin bs=1 seek=100 conv=notrunc 2>/dev/null
run "$STASYNC" extract --store="$U/store" --seed=v1.bin "$U/v2.caibx" v2.again
check '[ "$rc" -eq 0 ] && cmp -s v2.bin v2.again' "a seed that differs a little more: still the right bytes"

run "$STASYNC" extract --store="$U/store" --seed=nowhere.bin "$U/v2.caibx" v2.nowhere
check '[ "$rc" -eq 0 ] && cmp -s v2.bin v2.nowhere && grep -q "warning: seed nowhere.bin" "$T/err"' \
	"a seed that cannot be read: a warning, and the extraction goes on"

# RAUC's casync mode runs exactly this (a slot device as the seed); a link
# named casync stands in for an installed --enable-casync-name
mkdir bin && ln -s "$STASYNC" bin/casync
n=$(log_lines)
run bin/casync extract --seed v2.bin --store "$U/store" --seed-output=no "$U/v2.caibx" rauc.out
check '[ "$rc" -eq 0 ] && cmp -s v2.bin rauc.out' "RAUC's command line, through a link named casync: the image"
is "$(gets_since "$n")" 0 "... every chunk from the seed (the same version): nothing fetched"

# --reflink: on a file system that can share blocks (XFS in a loop file),
# the chunks from a seed file share its blocks instead of copying them
if [ "$(id -u)" -eq 0 ] && command -v mkfs.xfs >/dev/null && command -v filefrag >/dev/null &&
	truncate -s 512M xfs.img && mkfs.xfs -q -f xfs.img 2>/dev/null && mkdir xfs &&
	mount -o loop xfs.img xfs 2>/dev/null; then
	at_exit 'umount "$T/xfs" 2>/dev/null'
	cp v1.bin xfs/v1.bin
	run "$STASYNC" -v extract --store="$U/store" --seed=xfs/v1.bin "$U/v2.caibx" xfs/v2.bin
	check '[ "$rc" -eq 0 ] && cmp -s v2.bin xfs/v2.bin' "on XFS with --seed: the new version"
	check '[ "$(filefrag -v xfs/v2.bin | grep -c shared)" -gt 0 ] && grep -q "bytes shared with them" "$T/err"' \
		"... sharing the seed's blocks: $(filefrag -v xfs/v2.bin | grep -c shared) shared extents"
	run "$STASYNC" extract --reflink=no --store="$U/store" --seed=xfs/v1.bin "$U/v2.caibx" xfs/v2b.bin
	check '[ "$rc" -eq 0 ] && cmp -s v2.bin xfs/v2b.bin && [ "$(filefrag -v xfs/v2b.bin | grep -c shared)" -eq 0 ]' \
		"--reflink=no copies them"
	umount xfs
else
	skip "on XFS with --seed: blocks shared with the seed" "needs root, mkfs.xfs, filefrag and a loop mount"
fi

# ---- trees ------------------------------------------------------------------------
want=$(new_chunks srv/v1.caidx srv/v2.caidx)
run_ok "extract the old tree" "$STASYNC" extract --store="$U/store" "$U/v1.caidx" tree
n=$(log_lines)
run "$STASYNC" extract --store="$U/store" "$U/v2.caidx" tree
check '[ "$rc" -eq 0 ] && diff -r v2 tree >/dev/null' "tree over the old one (seeding itself): the new tree"
is "$(gets_since "$n")" "$want" "... fetching only the $want chunks around the changed file"

n=$(log_lines)
run "$STASYNC" extract --store="$U/store" --seed=v1 "$U/v2.caidx" tree2
check '[ "$rc" -eq 0 ] && diff -r v2 tree2 >/dev/null' "tree into a new directory with --seed=the old tree"
is "$(gets_since "$n")" "$want" "... fetching only the $want chunks it lacks"

"$CASYNC" make v1.catar v1 >/dev/null || bail_out "casync make v1.catar failed"
n=$(log_lines)
run "$STASYNC" extract --store="$U/store" --seed=v1.catar "$U/v2.caidx" tree3
check '[ "$rc" -eq 0 ] && diff -r v2 tree3 >/dev/null' "tree with --seed=the old version's .catar"
is "$(gets_since "$n")" "$want" "... fetching only the $want chunks it lacks"

# --hardlink: files the seed directory holds unchanged become links to it;
# the tree reads the same (mtree, with the directories' times) as the index
run_ok "tree with --seed=the old tree --hardlink=yes" "$STASYNC" -v extract --store="$U/store" \
	--seed=tree --hardlink=yes "$U/v2.caidx" tree4
# shellcheck disable=SC2317 # called from check()'s eval
inode() { stat -c %i "$1"; }
check '[ "$(inode tree4/usr/lib/libfoo.so)" = "$(inode tree/usr/lib/libfoo.so)" ] &&
	[ "$(inode tree4/etc/big.conf)" = "$(inode tree/etc/big.conf)" ]' "... the unchanged files are links to the seed's"
check 'diff -r v2 tree4 >/dev/null' "... and the tree is the new one"
"$STASYNC" mtree --store="$U/store" "$U/v2.caidx" >mtree.want 2>/dev/null
"$STASYNC" mtree tree4 >mtree.got 2>/dev/null
check 'cmp -s mtree.want mtree.got' "... with the archive's metadata, the directories' times too"
check 'grep -q " files (.* bytes) linked to the seeds" "$T/err"' "... and -v says how many were linked"
cp -a tree seedx
touch -d @1600000000 seedx/usr/lib/libfoo.so
command -v setfattr >/dev/null && setfattr -n user.note -v x seedx/etc/big.conf 2>/dev/null
run_ok "--hardlink with a seed whose copies differ in metadata only" "$STASYNC" extract \
	--store="$U/store" --seed=seedx --hardlink=yes "$U/v2.caidx" tree6
check '[ "$(inode tree6/usr/lib/libfoo.so)" != "$(inode seedx/usr/lib/libfoo.so)" ] &&
	[ "$(inode tree6/usr/lib/libbar.so)" = "$(inode seedx/usr/lib/libbar.so)" ]' \
	"... another mtime: copied, not linked (an identical one is linked)"
if getfattr -n user.note seedx/etc/big.conf >/dev/null 2>&1; then
	check '[ "$(inode tree6/etc/big.conf)" != "$(inode seedx/etc/big.conf)" ]' "... an xattr more: copied"
else
	skip "... an xattr more: copied" "no user xattrs here"
fi
run_ok "without --hardlink" "$STASYNC" extract --store="$U/store" --seed=tree "$U/v2.caidx" tree5
check '[ "$(inode tree5/usr/lib/libfoo.so)" != "$(inode tree/usr/lib/libfoo.so)" ]' "... the files are copies"

done_testing
