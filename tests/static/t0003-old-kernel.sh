#!/bin/sh
# The static binary on an "old kernel": under tests/static/nosys every
# system call added after Linux 3.2 (getrandom, statx, renameat2,
# copy_file_range, openat2, clone3, ...) fails with ENOSYS. make and extract
# of a blob and a tree must work and give the same bytes as without the
# filter. When strace is installed, the calls that met ENOSYS are listed
# (as diagnostics) so a new dependency on a recent kernel shows up here.
#
# An ARM binary (STATIC_ARCH) runs under qemu-user under the filter: the
# filter sees the host system calls qemu makes for the binary's. Most reach
# the kernel as they are (getrandom, renameat2, copy_file_range, openat2...
# fail with ENOSYS as on an old kernel); where qemu emulates a missing call
# itself (statx from fstatat, for one), the binary's fallback is not what
# runs, and what is tested is qemu's. On 32-bit ARM that costs precision:
# musl asks statx first there, and qemu 7.2 answers it from fstatat without
# the nanoseconds, so the archives made under the filter are compared with
# their times cut to the second (all else byte for byte, as stasync mtree
# prints it).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"
# shellcheck source=../cli/mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_static
find_nosys hard

old() { "$NOSYS" "$S" "$@"; }

# ---- a blob ------------------------------------------------------------------------
mkdata mixed 301 6000000 blob
"$S" make --store=ref.castr ref.caibx blob >ref.digest 2>"$T/err" || bail_out "make without the filter failed"
run_ok "blob: make under the filter" old make --store=old.castr old.caibx blob
is "$(cat "$T/out")" "$(cat ref.digest)" "blob: same digest as without the filter"
same_file old.caibx ref.caibx "blob: same .caibx as without the filter"
check '[ "$(chunk_list old.castr)" = "$(chunk_list ref.castr)" ]' "blob: same chunk files as without the filter"
run_ok "blob: extract under the filter" old extract --store=old.castr old.caibx blob.out
same_file blob.out blob "blob: extracted copy equals the original (cmp)"
run_ok "blob: extract over an existing file" old extract --store=old.castr old.caibx blob.out
same_file blob.out blob "blob: still equal after extracting over it"
run_ok "blob: digest under the filter" old digest blob
is "$(cat "$T/out")" "$(cat ref.digest)" "blob: digest of the file"

# same_archive A B DESC: the .catar files are identical; on 32-bit ARM under
# qemu their mtree listings are, times cut to the second (see above).
same_archive() {
	if [ "$STATIC_ARCH" != armv7 ] || [ -z "$STATIC_QEMU" ]; then
		same_file "$@"
		return
	fi
	"$S" mtree "$1" 2>&1 | sed 's/ time=\([0-9]*\)\.[0-9]*/ time=\1/' >"$T/a.mtree"
	"$S" mtree "$2" 2>&1 | sed 's/ time=\([0-9]*\)\.[0-9]*/ time=\1/' >"$T/b.mtree"
	same_file "$T/a.mtree" "$T/b.mtree" "$3 (qemu-arm: mtree, times to the second)"
}

# ---- a tree ------------------------------------------------------------------------
mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
"$S" make ref.catar tree >/dev/null 2>"$T/err" || bail_out "make .catar without the filter failed"
run_ok "tree: make .catar under the filter" old make old.catar tree
same_archive old.catar ref.catar "tree: same .catar as without the filter"
run_ok "tree: make .caidx under the filter" old make --store=tree.castr tree.caidx tree
run_ok "tree: extract .caidx under the filter" old extract --store=tree.castr tree.caidx tree.out
tree_same tree tree.out "tree: extracted tree equals the original (diff -r)"
run_ok "tree: archive the extracted copy" old make re.catar tree.out
same_archive re.catar ref.catar "tree: its archive is identical (all metadata came back)"
run_ok "tree: extract .catar under the filter" old extract old.catar tree.out2
tree_same tree tree.out2 "tree: .catar extraction equals the original (diff -r)"
run_ok "tree: extract again over the first extraction" old extract --store=tree.castr tree.caidx tree.out
tree_same tree tree.out "tree: still equal after extracting over it"
"$S" mtree ref.catar >ref.mtree 2>/dev/null
run_ok "tree: mtree under the filter" old mtree old.catar
if [ "$STATIC_ARCH" = armv7 ] && [ -n "$STATIC_QEMU" ]; then
	sed 's/ time=\([0-9]*\)\.[0-9]*/ time=\1/' "$T/out" >old.mtree
	sed 's/ time=\([0-9]*\)\.[0-9]*/ time=\1/' ref.mtree >ref.sec.mtree
	same_file old.mtree ref.sec.mtree "tree: same mtree output as without the filter (qemu-arm: times to the second)"
else
	same_file "$T/out" ref.mtree "tree: same mtree output as without the filter"
fi

# ---- which calls met ENOSYS ---------------------------------------------------------
if command -v strace >/dev/null 2>&1; then
	rm -rf tree.out3 s.castr
	for args in "make --store=s.castr s.caidx tree" "extract --store=s.castr s.caidx tree.out3" \
		    "make --store=s.castr s.caibx blob" "extract --store=s.castr s.caibx blob.out3"; do
		# shellcheck disable=SC2086
		strace -f -qq -o "$T/strace.log" "$NOSYS" "$S" $args >/dev/null 2>&1
		sed -n 's/^[0-9]* *\([a-z0-9_]*\)(.*= -1 ENOSYS.*/\1/p' "$T/strace.log"
	done | sort | uniq -c | sed 's/^ */  /' >"$T/enosys"
	if [ -s "$T/enosys" ]; then
		diag "system calls that failed with ENOSYS (each has a fallback, or a test above fails):"
		diag "$(cat "$T/enosys")"
	else
		diag "no system call failed with ENOSYS"
	fi
fi

done_testing
