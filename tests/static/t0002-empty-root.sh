#!/bin/sh
# The static binary needs nothing from the system: in a chroot that holds
# only the binary, /dev/urandom and the test data (no /etc, /proc, /tmp,
# libraries or loader), with an empty environment, it makes and extracts a
# blob (.caibx) and a directory tree (.caidx) through a local store.
#
# The tree is also extracted in the same root with /proc added (a private
# mount namespace): metadata of fifos, sockets, devices and symlinks goes
# through /proc/self/fd where there is one.
#
# An ARM binary (STATIC_ARCH) runs under qemu-user, which is static too: the
# root holds the emulator beside the binary, and the indexes it makes must be
# the ones the x86_64 build makes of the same data.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"
# shellcheck source=../cli/mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_static
require_root "chroot and mknod"
CHROOT=$(command -v chroot) || skip_all "chroot not installed"

R=$T/root
mkdir -p "$R/dev" "$R/data"
cp "$STASYNC_STATIC" "$R/stasync"
# the command that runs the binary in the root (no blanks in its words)
root_cmd=/stasync
expected=". ./data ./dev ./dev/urandom ./stasync "
if [ -n "$STATIC_QEMU" ]; then
	cp "$STATIC_QEMU" "$R/qemu"
	# static or static-pie: no program interpreter to find in the root
	readelf -lW "$R/qemu" 2>/dev/null | grep -q "Requesting program interpreter" &&
		skip_all "$STATIC_QEMU is not statically linked: it cannot run in an empty root"
	root_cmd="/qemu -0 /stasync /stasync"
	expected=". ./data ./dev ./dev/urandom ./qemu ./stasync "
fi
mknod -m 0666 "$R/dev/urandom" c 1 9 2>"$T/mknod.err" ||
	skip_all "cannot mknod /dev/urandom here: $(cat "$T/mknod.err")"
# shellcheck disable=SC2086
chroot "$R" $root_cmd --version >/dev/null 2>"$T/chroot.err" ||
	skip_all "cannot chroot here: $(cat "$T/chroot.err")"

# in_root ARGS...: run the binary inside the root, empty environment
in_root() {
	# shellcheck disable=SC2086
	env -i "$CHROOT" "$R" $root_cmd "$@"
}

listing=$(cd "$R" && find . | sort | tr '\n' ' ')
is "$listing" "$expected" "the root holds only the binary${STATIC_QEMU:+ and the emulator}, /dev/urandom and data/"

# ---- a blob ------------------------------------------------------------------------
mkdata mixed 201 5000000 "$R/data/blob"
run_ok "blob: make .caibx with a local store" in_root make --store=/data/blob.castr /data/blob.caibx /data/blob
digest=$(cat "$T/out")
run_ok "blob: extract it" in_root extract --store=/data/blob.castr /data/blob.caibx /data/blob.out
same_file "$R/data/blob.out" "$R/data/blob" "blob: extracted copy equals the original (cmp)"
run_ok "blob: digest of the index" in_root digest --store=/data/blob.castr /data/blob.caibx
is "$(cat "$T/out")" "${digest:-(make printed none)}" "blob: digest matches what make printed"
if [ -x "$top_builddir/stasync" ]; then
	"$top_builddir/stasync" make --store="$T/host.castr" "$T/host.caibx" "$R/data/blob" >/dev/null 2>&1
	same_file "$R/data/blob.caibx" "$T/host.caibx" "blob: same .caibx as the dynamically linked build"
fi

# ---- a tree ------------------------------------------------------------------------
mktree "$R/data/tree" || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
run_ok "tree: make .caidx with a local store" in_root make --store=/data/tree.castr /data/tree.caidx /data/tree
run_ok "tree: extract it without /proc" \
	in_root extract --store=/data/tree.castr /data/tree.caidx /data/tree.out &&
	tree_same "$R/data/tree" "$R/data/tree.out" "tree: extracted tree equals the original (diff -r)"

# ---- the same root plus /proc: all metadata ----------------------------------------
UNSHARE=$(command -v unshare) || true
mkdir "$R/proc"
# shellcheck disable=SC2086
if [ -z "$UNSHARE" ] || ! env -i "$UNSHARE" --mount-proc="$R/proc" "$CHROOT" "$R" $root_cmd --version \
		>/dev/null 2>"$T/unshare.err"; then
	skip "tree with /proc" "cannot mount /proc in a private namespace: $(cat "$T/unshare.err" 2>/dev/null)"
	done_testing
fi
# in_root_proc ARGS...: as in_root, with /proc mounted (gone when it exits)
in_root_proc() {
	# shellcheck disable=SC2086
	env -i "$UNSHARE" --mount-proc="$R/proc" "$CHROOT" "$R" $root_cmd "$@"
}
rm -rf "$R/data/tree.out"
run_ok "tree+proc: make .caidx" in_root_proc make --store=/data/tree2.castr /data/tree2.caidx /data/tree
run_ok "tree+proc: extract it" in_root_proc extract --store=/data/tree2.castr /data/tree2.caidx /data/tree.out
tree_same "$R/data/tree" "$R/data/tree.out" "tree+proc: extracted tree equals the original (diff -r)"
# every piece of metadata: archiving both trees gives the same bytes
run_ok "tree+proc: archive the original" in_root_proc make /data/a.catar /data/tree
run_ok "tree+proc: archive the extracted copy" in_root_proc make /data/b.catar /data/tree.out
same_file "$R/data/b.catar" "$R/data/a.catar" "tree+proc: the two archives are identical (all metadata came back)"
run_ok "tree+proc: extract the .catar" in_root_proc extract /data/a.catar /data/tree.out2
tree_same "$R/data/tree" "$R/data/tree.out2" "tree+proc: .catar extraction equals the original (diff -r)"
check '! grep -q "$R/proc" /proc/mounts' "no /proc mount left behind"

done_testing
