#!/bin/sh
# bench/mount.sh — reading through `stasync mount` and `stasync mkdev`
# against extracting: a blob read in order through the mount (cat) and
# through the block device mkdev attaches, against `stasync extract` of the
# same index and store to stdout; and `find | wc -l` and `du -s` over a
# tree's mount against the same over the tree extracted (and find against
# `stasync list` of the archive too). Each mount (and device) is made afresh
# for each run (the kernel keeps what it read). The CPU time of the serving
# process (mount, mkdev), which the reader's CPU column leaves out, is
# printed after each case, and the peak RSS of the mount processes at the
# end.
#
# usage: bench/mount.sh [-h]
#
# Environment:
#   STASYNC         the binary to time (default: ./stasync of this tree)
#   CASYNC          Debian's casync, which makes the stores (default: on PATH)
#   REPS            timed runs per case and contender (default 3)
#   BENCH_BLOB_MB   size of the blob, MiB (default 512; 0 leaves the case out)
#   BENCH_TREE_MB   size of the tree, MB (default 200; 0 leaves the case out)
#   BENCH_TREE_SRC  where the tree is copied from (default /usr/share)
#   BENCH_DIR       scratch directory (default: a new one in $TMPDIR or /tmp);
#                   removed at the end unless BENCH_KEEP=1
#   BENCH_RESULTS   also append the figures, as Markdown, to this file
#
# Needs root (or fusermount3), /dev/fuse, casync, python3 and GNU time; the
# mkdev contender needs root and a loop device (or NBD), and is left out
# without them.
set -u
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bench_args "$0" "$@"

STASYNC=${STASYNC:-$top/stasync}
CASYNC=${CASYNC:-$(command -v casync 2>/dev/null || true)}
DESYNC=none
REPS=${REPS:-3}
BENCH_BLOB_MB=${BENCH_BLOB_MB:-512}
BENCH_TREE_MB=${BENCH_TREE_MB:-200}
BENCH_TREE_SRC=${BENCH_TREE_SRC:-/usr/share}
unset CASYNC_STORE

bench_check_tools
[ -c /dev/fuse ] || bench_die "no /dev/fuse"
bench_init
bench_workdir

MOUNT_PID=
MKDEV_PID=
RSS_MAX=0
# server_cpu PID: user+system seconds of a running process so far.
server_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' \
		"/proc/$1/stat" 2>/dev/null
}
mount_stop() {
	[ -n "$MOUNT_PID" ] || return 0
	# the mount's own peak memory and CPU time, before it goes
	_rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$MOUNT_PID/status" 2>/dev/null)
	[ -z "$_rss" ] || [ "$_rss" -le "$RSS_MAX" ] || RSS_MAX=$_rss
	server_cpu "$MOUNT_PID" >>"$D/server-cpu"
	fusermount3 -u "$D/mnt" 2>/dev/null || umount -l "$D/mnt" 2>/dev/null
	wait "$MOUNT_PID" 2>/dev/null
	MOUNT_PID=
}
# mount_fresh INDEX: unmount what is there, mount INDEX at $D/mnt.
mount_fresh() {
	mount_stop
	mkdir -p "$D/mnt"
	"$STASYNC" mount --store="$D/store" "$1" "$D/mnt" 2>"$D/mount.err" </dev/null &
	MOUNT_PID=$!
	# (not _i: bench_measure's loop, around this setup, uses it)
	_tries=0
	while ! { mountpoint -q "$D/mnt" && stat -f "$D/mnt" >/dev/null 2>&1; }; do
		_tries=$((_tries + 1))
		[ "$_tries" -lt 300 ] && kill -0 "$MOUNT_PID" 2>/dev/null || { cat "$D/mount.err" >&2; return 1; }
		sleep 0.1
	done
}
mkdev_stop() {
	[ -n "$MKDEV_PID" ] || return 0
	server_cpu "$MKDEV_PID" >>"$D/server-cpu"
	kill "$MKDEV_PID" 2>/dev/null
	wait "$MKDEV_PID" 2>/dev/null
	MKDEV_PID=
	rm -f "$D/dev"
}
# mkdev_fresh INDEX: a new block device for INDEX at $D/dev.
mkdev_fresh() {
	mkdev_stop
	TMPDIR=$D "$STASYNC" mkdev --store="$D/store" "$1" "$D/dev" >"$D/mkdev.out" 2>"$D/mkdev.err" </dev/null &
	MKDEV_PID=$!
	_tries=0
	while ! grep -q '^Attached: ' "$D/mkdev.out"; do
		_tries=$((_tries + 1))
		[ "$_tries" -lt 300 ] && kill -0 "$MKDEV_PID" 2>/dev/null || { cat "$D/mkdev.err" >&2; return 1; }
		sleep 0.1
	done
}
# server_cpu_report: the median CPU time of the serving processes of the
# timed runs of the case just measured (the first, checked run left out).
server_cpu_report() {
	mount_stop
	mkdev_stop
	[ -s "$D/server-cpu" ] || return 0
	_cpu=$(tail -n +2 "$D/server-cpu" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	printf '%s: CPU s of the serving process (median): %s\n' "$1" "$_cpu"
	[ -z "${BENCH_RESULTS:-}" ] ||
		printf '\nCPU seconds of the %s process itself (median, not in the table): %s.\n' "$1" "$_cpu" >>"$BENCH_RESULTS"
	: >"$D/server-cpu"
}
finish() {
	mount_stop
	mkdev_stop
	bench_workdir_done
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the data ---------------------------------------------------------------------------
if [ "$BENCH_BLOB_MB" -gt 0 ] && [ ! -s "$D/blob.caibx" ]; then
	bench_say "making a $BENCH_BLOB_MB MiB blob and its store with casync make"
	bench_make_blob "$D/blob.img" "$BENCH_BLOB_MB" || bench_die "cannot make the blob"
	"$CASYNC" make --store="$D/store" "$D/blob.caibx" "$D/blob.img" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log" >&2; bench_die "casync make blob.caibx failed"; }
fi
if [ "$BENCH_TREE_MB" -gt 0 ] && [ ! -s "$D/tree.caidx" ]; then
	bench_say "copying about $BENCH_TREE_MB MB of $BENCH_TREE_SRC, making its store with casync make"
	rm -rf "$D/tree"
	bench_make_tree "$D/tree" "$BENCH_TREE_MB" "$BENCH_TREE_SRC" >/dev/null
	"$CASYNC" make --store="$D/store" "$D/tree.caidx" "$D/tree" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log" >&2; bench_die "casync make tree.caidx failed"; }
	"$STASYNC" extract --store="$D/store" "$D/tree.caidx" "$D/extracted" >"$D/extract.log" 2>&1 ||
		{ cat "$D/extract.log" >&2; bench_die "stasync extract tree.caidx failed"; }
fi

printf '%s: mount against extract\n' "$("$STASYNC" --version 2>/dev/null | head -n 1)"
printf 'machine: %s\n' "$(bench_machine)"
[ -z "${BENCH_RESULTS:-}" ] || printf '\n## mount: reading through the mount against extracting\n' >>"$BENCH_RESULTS"

nothing() { :; }
: >"$D/server-cpu"
if [ "$BENCH_BLOB_MB" -gt 0 ]; then
	blob_mount() { mount_fresh "$D/blob.caibx"; }
	blob_check() { cmp "$D/blob.img" "$D/mnt/blob"; }
	blob_mkdev() { mount_stop; mkdev_fresh "$D/blob.caibx"; }
	mkdev_check() { cmp "$D/blob.img" "$D/dev"; }
	# the readers write where extract does: to /dev/null
	extract_tool() {
		bench_tool extract nothing nothing \
			sh -c 'exec "$1" extract --store="$2" "$3" - >/dev/null' sh "$STASYNC" "$D/store" "$D/blob.caibx"
	}
	bench_case "blob: $BENCH_BLOB_MB MiB read in order"
	extract_tool
	bench_tool mount blob_mount blob_check sh -c 'exec cat "$1" >/dev/null' sh "$D/mnt/blob"
	bench_measure "$REPS"
	server_cpu_report mount
	if [ "$(id -u)" -eq 0 ] && { [ -e /dev/loop-control ] || [ -e /sys/block/nbd0 ]; }; then
		bench_case "blob: $BENCH_BLOB_MB MiB read in order from mkdev's device"
		extract_tool
		bench_tool mkdev blob_mkdev mkdev_check sh -c 'exec cat "$1" >/dev/null' sh "$D/dev"
		bench_measure "$REPS"
		server_cpu_report mkdev
	else
		bench_say "mkdev left out: it needs root and a loop device"
	fi
fi
if [ "$BENCH_TREE_MB" -gt 0 ]; then
	tree_mount() { mount_fresh "$D/tree.caidx"; }
	tree_check() { [ "$(find "$D/mnt" | wc -l)" = "$(find "$D/extracted" | wc -l)" ]; }
	entries=$(find "$D/extracted" | wc -l)
	bench_case "tree: find | wc -l over $entries entries"
	bench_tool extracted nothing nothing sh -c 'find "$1" | wc -l' sh "$D/extracted"
	bench_tool mount tree_mount tree_check sh -c 'find "$1" | wc -l' sh "$D/mnt"
	# what a listing costs that reads the archive whole, as find through a
	# mount does when metadata is spread over every chunk
	bench_tool list nothing nothing \
		sh -c '"$1" list --store="$2" "$3" | wc -l' sh "$STASYNC" "$D/store" "$D/tree.caidx"
	bench_measure "$REPS"
	server_cpu_report mount
	bench_case "tree: du -s over $entries entries"
	bench_tool extracted nothing nothing du -s "$D/extracted"
	bench_tool mount tree_mount tree_check du -s "$D/mnt"
	bench_measure "$REPS"
	server_cpu_report mount
fi
printf '\npeak RSS of the mount processes: %.1f MiB\n' "$(awk -v k="$RSS_MAX" 'BEGIN { print k / 1024 }')"
[ -z "${BENCH_RESULTS:-}" ] ||
	printf '\nPeak RSS of the mount processes: %.1f MiB.\n' \
		"$(awk -v k="$RSS_MAX" 'BEGIN { print k / 1024 }')" >>"$BENCH_RESULTS"
