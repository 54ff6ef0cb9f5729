#!/bin/sh
# bench/mount.sh — reading through `stasync mount` against extracting: a
# blob read in order through the mount (cat) against `stasync extract` of
# the same index and store to stdout; and `find | wc -l` and `du -s` over a
# tree's mount against the same over the tree extracted. Each mount is made
# afresh for each run (the kernel keeps what it read), and the peak RSS of
# the mount processes is printed too.
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
# Needs root (or fusermount3), /dev/fuse, casync, python3 and GNU time.
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
if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR" || bench_die "cannot create $BENCH_DIR"
	D=$(cd "$BENCH_DIR" && pwd)
else
	D=$(mktemp -d "${TMPDIR:-/tmp}/stasync-bench.XXXXXX") || bench_die "mktemp -d failed"
fi

MOUNT_PID=
RSS_MAX=0
mount_stop() {
	[ -n "$MOUNT_PID" ] || return 0
	# the mount's own peak memory, before it goes
	_rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$MOUNT_PID/status" 2>/dev/null)
	[ -z "$_rss" ] || [ "$_rss" -le "$RSS_MAX" ] || RSS_MAX=$_rss
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
	while ! { mountpoint -q "$D/mnt" && ls "$D/mnt" >/dev/null 2>&1; }; do
		_tries=$((_tries + 1))
		[ "$_tries" -lt 300 ] && kill -0 "$MOUNT_PID" 2>/dev/null || { cat "$D/mount.err" >&2; return 1; }
		sleep 0.1
	done
}
finish() {
	mount_stop
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		bench_say "kept: $D"
	else
		chmod -R u+rwx "$D" 2>/dev/null
		rm -rf "$D"
	fi
	bench_cleanup_lib
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
if [ "$BENCH_BLOB_MB" -gt 0 ]; then
	blob_mount() { mount_fresh "$D/blob.caibx"; }
	blob_check() { cmp "$D/blob.img" "$D/mnt/blob"; }
	bench_case "blob: $BENCH_BLOB_MB MiB read in order"
	bench_tool extract nothing nothing \
		sh -c 'exec "$1" extract --store="$2" "$3" - >/dev/null' sh "$STASYNC" "$D/store" "$D/blob.caibx"
	bench_tool mount blob_mount blob_check cat "$D/mnt/blob"
	bench_measure "$REPS"
	mount_stop
fi
if [ "$BENCH_TREE_MB" -gt 0 ]; then
	tree_mount() { mount_fresh "$D/tree.caidx"; }
	tree_check() { [ "$(find "$D/mnt" | wc -l)" = "$(find "$D/extracted" | wc -l)" ]; }
	entries=$(find "$D/extracted" | wc -l)
	bench_case "tree: find | wc -l over $entries entries"
	bench_tool extracted nothing nothing sh -c 'find "$1" | wc -l' sh "$D/extracted"
	bench_tool mount tree_mount tree_check sh -c 'find "$1" | wc -l' sh "$D/mnt"
	bench_measure "$REPS"
	bench_case "tree: du -s over $entries entries"
	bench_tool extracted nothing nothing du -s "$D/extracted"
	bench_tool mount tree_mount tree_check du -s "$D/mnt"
	bench_measure "$REPS"
	mount_stop
fi
printf '\npeak RSS of the mount processes: %.1f MiB\n' "$(awk -v k="$RSS_MAX" 'BEGIN { print k / 1024 }')"
[ -z "${BENCH_RESULTS:-}" ] ||
	printf '\nPeak RSS of the mount processes: %.1f MiB.\n' \
		"$(awk -v k="$RSS_MAX" 'BEGIN { print k / 1024 }')" >>"$BENCH_RESULTS"
