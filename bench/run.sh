#!/bin/sh
# bench/run.sh — stasync side by side with Debian's casync and desync (when
# it is on PATH or named by DESYNC): make, extract, digest and extract over
# HTTP, on the same data, in one run; the results as one Markdown table and
# a verdict on each performance target (below).
#
# usage: bench/run.sh [-h]
#
# The data is prepared once, under BENCH_DIR:
#   tree   a copy of whole subdirectories of BENCH_TREE_SRC (/usr/share,
#          then /usr/include), in name order, until about BENCH_TREE_MB MB
#   blob   a disk-image-like file of BENCH_BLOB_MB MiB: per MiB, random data
#          (1/2), zeros (1/4) or a copy of an earlier MiB (1/4)
#   catar  the tree as one .catar (made by casync make), used as a blob
# and, made by casync make, one store holding the chunks of tree.caidx and
# blob.caibx: the input of the extract, digest and HTTP cases.
#
# Cases (every tool, each in turn: A B A B …, after one untimed run of each
# whose output is checked; REPS timed runs; medians):
#   make-tree     make tree → .caidx into an empty store
#   make-blob     make blob → .caibx into an empty store
#   make-catar    make tree.catar → .caibx (a blob) into an empty store
#   make-full     make blob → .caibx into a store already full (filled by
#                 the tool's own untimed first run)
#   make-full-tree  the same for the tree → .caidx
#   extract-tree  extract tree.caidx from the local store to an empty target
#   extract-blob  extract blob.caibx from the local store
#   digest-tree   digest of tree.caidx (chunks from the local store)
#   digest-blob   digest of blob.caibx
#   http-blob     extract blob.caibx, index and store from nginx on 127.0.0.1
#   http-tree     extract tree.caidx from nginx
# An empty store and an empty target mean: removed in the untimed setup
# before each run. Checks: the indexes made by stasync and casync must be
# byte-identical and their stores must hold the same chunks; extracted
# blobs are compared with cmp, trees with diff -r; digests must be equal.
#
# desync (optional) runs with its defaults (10 goroutines) in every case
# but digest: it makes with `make` (blob) and `tar -i` (tree), extracts
# with `extract` and `untar -i`, from the local store or from nginx (store
# and index by URL), and is checked as the others are: the chunks of a
# blob it makes must be stasync's; a tree it makes (desync's archive is
# not casync's byte for byte) is extracted once by stasync from desync's
# store and compared with diff -r; what it extracts, with cmp or diff -r.
# It has no counterpart of digest (`verify-index` compares an index with
# a file, `cat` only writes the blob), so digest is left to stasync and
# casync.
#
# It prints each case as it ends (medians of wall time, CPU time = user +
# system including children, system time, peak RSS of the largest
# process; how stasync compares), then one table of all cases with stasync's
# wall ÷ CPU (below 1: it ran on more than one core), then the verdict:
# one line per case and target of issue 16 ("Performance restated for two
# cores"), met or missed, with the figures:
#   - wall time ≥ 1.5× faster than desync's, ≥ 1.8× faster than casync's;
#   - wall ≤ 0.6 × stasync's own CPU time, and that CPU ≤ casync's (over
#     HTTP the figures add nginx's CPU time in the same runs: it shares
#     the two cores, so (CPU + nginx's) ÷ 2 is the bound on wall time;
#     and in every case how busy the whole machine was meanwhile, kernel
#     threads included, which write a tool's files back to disk outside
#     its own CPU time: near 100%, the cores were full; in a virtual
#     machine, the time the host held the cores for others ("steal"); and
#     from these the least wall time the cores allowed, never idle);
#   - system time ≤ 1.2 × desync's;
#   - peak RSS ≤ 64 MiB.
# Where a target depends on the CPU, the arithmetic is printed beside it:
# first the hash is measured (SHA-512/256 of the blob file on one core:
# stasync's libgcrypt, casync's OpenSSL, and two stasync digests at once,
# as its threads hash on both cores together); then a wall time short of its
# target gets the least wall time the run allowed (never idle; for make and
# digest, no less than the one thread that digests the stream), and each
# CPU time what hashing takes of it (the stream once for the chunk ids, and
# for make and digest once more for the digest) and the rest, stasync's
# against casync's. Every timed run is followed by a sync, timed apart:
# stasync's make ends with its chunks on disk (syncfs), casync's and
# desync's leave them to the kernel, whose write-back then falls outside
# their wall time; beside make's wall times, the same with that sync added.
# The targets are stated for data sets of at least 1 GB and medians of at
# least 3 runs: the verdict says when a run is below that (BENCH_QUICK).
# Table and verdict are also written to BENCH_OUT with the machine, the
# versions, the date and the settings.
#
# The data stays in the page cache (unless BENCH_COLD=1): this measures the
# tools, not a disk. Before each timed run the setup calls sync, so that
# the writeback of the previous run's output does not land in the next
# run's time (BENCH_SYNC=0 leaves it out). Memory is kept free for the
# outputs: the page cache is dropped once before the first case, and the
# loop file's own cached copy of what was synced is dropped at each sync.
# Without that, the cache fills up during the run and each write may have
# to reclaim pages first: the system time of one and the same extract
# then varied from 0.5 s to 2.1 s, for every tool.
#
# Environment:
#   STASYNC         the binary to time (default: ./stasync of this tree, the
#                   development build; STASYNC=./stasync-static times the
#                   static binary that `make static` makes, which users get)
#   CASYNC          Debian's casync (default: casync on PATH)
#   DESYNC          desync (default: desync on PATH; DESYNC=none leaves it out)
#   DESYNC_VERSION  desync's version, for the results (it has no --version)
#   NGINX           nginx (default: nginx on PATH, else /usr/sbin/nginx)
#   REPS            timed runs per tool and case (default 3)
#   BENCH_QUICK=1   small data, for trying it: 100 MB tree, 100 MiB blob
#   BENCH_TREE_MB   size of the tree, MB (default 1000)
#   BENCH_BLOB_MB   size of the blob, MiB (default 1024)
#   BENCH_TREE_SRC  where the tree is copied from (default
#                   "/usr/share /usr/include")
#   BENCH_CASES     the cases to run, names as above (default: all)
#   BENCH_DIR       where the data and the outputs go. Default: a new
#                   directory in $TMPDIR or /tmp, removed at the end (unless
#                   BENCH_KEEP=1). A BENCH_DIR given is kept, and its data
#                   is reused by the next run with the same sizes. Needs
#                   room for about 8× the tree plus 4× the blob.
#   BENCH_OUT       the Markdown file written at the end: its first section
#                   (up to the next "# " heading) is replaced, the sections
#                   after it (other benchmarks, notes) are kept
#                   (default: bench/RESULTS.md of this tree; "none": none)
#   BENCH_SYNC=0    no sync before each timed run
#   BENCH_COLD=1    drop the page cache (sync; echo 3 >drop_caches) before
#                   each timed run, so that inputs are read from the disk
#   BENCH_FS        where the outputs (stores, indexes, extracted trees) go:
#                   "loop" (default) a new ext4 file system made with
#                   mkfs.ext4's defaults in a sparse file under BENCH_DIR,
#                   mounted with a loop device for this run; "host" the file
#                   system of BENCH_DIR itself. Each run removes its outputs
#                   before the next; on an ext4 without a journal (as some
#                   VMs have) the kernel then skips every inode freed in the
#                   last minutes when it allocates one, which makes creating
#                   files many times slower for every tool and measures the
#                   history of the disk, not the tools. A fresh, journaled
#                   file system measures what a user's usually is. "loop"
#                   falls back to "host", saying so, when it cannot mount.
#
# Runs as root only (trees with files of several owners, kept on extract,
# and the same privileges for every tool). Needs casync, nginx, python3 and
# GNU time (apt-get install time) or python3; shellcheck-clean.
set -u
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# shellcheck source-path=SCRIPTDIR/.. source=tests/cli/ports.sh
. "$top/tests/cli/ports.sh"

bench_args "$0" "$@"

[ "$(id -u)" -eq 0 ] || bench_die "run it as root (see -h)"

all_cases="make-tree make-blob make-catar make-full make-full-tree extract-tree extract-blob digest-tree digest-blob http-blob http-tree"
STASYNC=${STASYNC:-$top/stasync}
CASYNC=${CASYNC:-$(command -v casync 2>/dev/null || true)}
DESYNC=${DESYNC:-$(command -v desync 2>/dev/null || true)}
[ "$DESYNC" != none ] || DESYNC=
[ -z "$DESYNC" ] || [ -x "$DESYNC" ] || bench_die "no desync at $DESYNC (or DESYNC=none)"
REPS=${REPS:-3}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	BENCH_TREE_MB=${BENCH_TREE_MB:-100}
	BENCH_BLOB_MB=${BENCH_BLOB_MB:-100}
else
	BENCH_TREE_MB=${BENCH_TREE_MB:-1000}
	BENCH_BLOB_MB=${BENCH_BLOB_MB:-1024}
fi
BENCH_TREE_SRC=${BENCH_TREE_SRC:-/usr/share /usr/include}
BENCH_CASES=${BENCH_CASES:-$all_cases}
BENCH_OUT=${BENCH_OUT:-$here/RESULTS.md}
BENCH_SYNC=${BENCH_SYNC:-1}
BENCH_COLD=${BENCH_COLD:-0}
BENCH_FS=${BENCH_FS:-loop}
case "$BENCH_FS" in
loop | host) ;;
*) bench_die "BENCH_FS is loop or host, not $BENCH_FS" ;;
esac

bench_check_tools
if [ "$BENCH_TREE_MB" -lt 1 ] || [ "$BENCH_BLOB_MB" -lt 1 ]; then
	bench_die "the sizes must be at least 1"
fi
for _c in $BENCH_CASES; do
	case " $all_cases " in
	*" $_c "*) ;;
	*) bench_die "no case $_c (cases: $all_cases)" ;;
	esac
done

# Nothing from the environment may send requests elsewhere or pick a store.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset CASYNC_STORE

# the settings, as a command line that repeats the run
settings="REPS=$REPS BENCH_TREE_MB=$BENCH_TREE_MB BENCH_BLOB_MB=$BENCH_BLOB_MB"
[ "$BENCH_TREE_SRC" = "/usr/share /usr/include" ] || settings="$settings BENCH_TREE_SRC='$BENCH_TREE_SRC'"
[ "$BENCH_CASES" = "$all_cases" ] || settings="$settings BENCH_CASES='$BENCH_CASES'"
[ "$BENCH_SYNC" = 1 ] || settings="$settings BENCH_SYNC=$BENCH_SYNC"
[ "$BENCH_COLD" = 0 ] || settings="$settings BENCH_COLD=$BENCH_COLD"
[ "$BENCH_FS" = loop ] || settings="$settings BENCH_FS=$BENCH_FS"
[ -n "$DESYNC" ] || [ -z "$(command -v desync 2>/dev/null)" ] || settings="$settings DESYNC=none"
# (not this machine's path)
[ -z "$DESYNC" ] || [ "$DESYNC" = "$(command -v desync 2>/dev/null)" ] || settings="$settings DESYNC=/path/to/desync"
# (compared as an absolute path: STASYNC=./stasync-static names the same)
case $(cd "$(dirname "$STASYNC")" 2>/dev/null && pwd)/$(basename "$STASYNC") in
"$top/stasync") ;;
"$top/stasync-static") settings="$settings STASYNC=./stasync-static" ;;
*) settings="$settings STASYNC=/path/to/stasync" ;;
esac
settings="$settings bench/run.sh"

bench_init
keep_dir=${BENCH_KEEP:-0}
if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR" || bench_die "cannot create $BENCH_DIR"
	D=$(cd "$BENCH_DIR" && pwd)
	keep_dir=1
else
	D=$(mktemp -d "${TMPDIR:-/tmp}/stasync-bench.XXXXXX") || bench_die "mktemp -d failed"
fi
O=$D/out
out_fs=
finish() {
	bench_nginx_stop
	if [ -n "$out_fs" ]; then
		# lazily if something still holds it: the loop device goes with it
		umount "$O" 2>/dev/null || umount -l "$O" || bench_say "could not unmount $O"
	fi
	rm -rf "$O" "$D/out.img" "$D/rows"
	if [ "$keep_dir" = 1 ]; then
		bench_say "data kept in $D"
	else
		rm -rf "$D"
	fi
	bench_cleanup_lib
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

want() {
	case " $BENCH_CASES " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# ---- the data, made once --------------------------------------------------------------
stamp="tree=$BENCH_TREE_MB src=$BENCH_TREE_SRC blob=$BENCH_BLOB_MB casync=$("$CASYNC" --version 2>&1 | head -n 1)"
if [ "$(cat "$D/data.stamp" 2>/dev/null)" != "$stamp" ]; then
	rm -rf "$D/data.stamp" "$D/tree" "$D/blob.img" "$D/tree.catar" "$D/srv" "$D/srv.nginx"
	mkdir -p "$D/srv"
	bench_say "making a $BENCH_BLOB_MB MiB disk-image-like blob"
	bench_make_blob "$D/blob.img" "$BENCH_BLOB_MB" || bench_die "cannot make the blob"
	bench_say "copying about $BENCH_TREE_MB MB of $BENCH_TREE_SRC"
	# shellcheck disable=SC2086 # a list of directories
	tree_mb=$(bench_make_tree "$D/tree" "$BENCH_TREE_MB" $BENCH_TREE_SRC)
	bench_say "  $tree_mb MB copied"
	bench_say "making tree.catar, blob.caibx and tree.caidx (one store) with casync make"
	for _m in "$D/tree.catar $D/tree" "$D/srv/blob.caibx $D/blob.img" "$D/srv/tree.caidx $D/tree"; do
		# shellcheck disable=SC2086 # two paths
		"$CASYNC" make --store="$D/srv/store" $_m >"$D/make.log" 2>&1 ||
			{ cat "$D/make.log" >&2; bench_die "casync make $_m failed"; }
	done
	printf '%s\n' "$stamp" >"$D/data.stamp"
else
	bench_say "reusing the data in $D"
fi
! mountpoint -q "$O" 2>/dev/null || umount "$O" # left by a killed run
rm -rf "$O"
mkdir -p "$O"
if [ "$BENCH_FS" = loop ]; then
	# room for the outputs of the largest case, three tools, with slack
	_img_mb=$(((BENCH_TREE_MB * 4 + BENCH_BLOB_MB * 3) * 2 + 1024))
	rm -f "$D/out.img"
	if truncate -s "${_img_mb}M" "$D/out.img" &&
		mkfs.ext4 -q -F "$D/out.img" >"$D/mkfs.log" 2>&1 &&
		mount -o loop "$D/out.img" "$O" 2>>"$D/mkfs.log"; then
		out_fs="ext4 made by mkfs.ext4 with its defaults (journal included) in a loop file, new for this run"
	else
		cat "$D/mkfs.log" >&2
		rm -f "$D/out.img"
		bench_say "cannot mount a loop file system: the outputs go to $D itself (BENCH_FS=host)"
	fi
fi
mkdir -p "$O/stasync" "$O/casync" "$O/desync"
if [ "$BENCH_COLD" != 1 ]; then
	# room for the outputs (the untimed first runs read the data in again)
	sync
	echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || bench_say "cannot drop the page cache"
fi

tree_size=$(du -sm "$D/tree" | cut -f1)
tree_entries=$(find "$D/tree" | wc -l)
blob_bytes=$(wc -c <"$D/blob.img")
catar_bytes=$(wc -c <"$D/tree.catar")
catar_size=$((catar_bytes / 1000000))
tree_from=
for _s in $BENCH_TREE_SRC; do
	[ ! -d "$D/tree/$(basename "$_s")" ] || tree_from="$tree_from${tree_from:+, }$_s"
done

# ---- setups and checks (TOOL and file names as arguments) ---------------------------------
settle() {
	if [ "$BENCH_COLD" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	elif [ "$BENCH_SYNC" = 1 ]; then
		sync
		# the loop file's pages, a second copy of the outputs
		[ ! -f "$D/out.img" ] || dd if="$D/out.img" iflag=nocache count=0 status=none
	fi
}

# fresh TOOL NAME...: remove $O/TOOL/NAME..., then settle
fresh() {
	_t=$1
	shift
	for _f in "$@"; do
		rm -rf "${O:?}/$_t/$_f"
	done
	settle
}

# fresh_store TOOL STORE NAME...: fresh TOOL NAME..., with the directory
# STORE there (desync makes into an existing store only)
fresh_store() {
	_t=$1 _s=$2
	shift 2
	for _f in "$@"; do
		rm -rf "${O:?}/$_t/$_f"
	done
	mkdir -p "$O/$_t/$_s"
	settle
}

# chunk names in a store, sorted
chunks() {
	find "$1" -type f -name '*.cacnk' | sed 's|.*/||' | sort
}

# same_chunks TOOL STORE: TOOL's store holds the chunks of stasync's
same_chunks() {
	chunks "$O/stasync/$2" >"$O/chunks.stasync"
	chunks "$O/$1/$2" >"$O/chunks.$1"
	[ -s "$O/chunks.$1" ] || { echo "no chunks in $1's store" >&2; return 1; }
	cmp "$O/chunks.stasync" "$O/chunks.$1" || { echo "the stores of stasync and $1 differ" >&2; return 1; }
}

# made TOOL INDEX STORE: the index exists; casync's is the same as stasync's
# and so are the chunks in their stores; desync's blob store holds
# stasync's chunks, and its tree, extracted by stasync, is the tree
made() {
	[ -s "$O/$1/$2" ] || { echo "no $2 made by $1" >&2; return 1; }
	case "$1/$2" in
	casync/*)
		cmp "$O/stasync/$2" "$O/casync/$2" || return 1
		same_chunks casync "$3"
		;;
	desync/*.caidx)
		rm -rf "$O/desync/readback"
		"$STASYNC" extract --store="$O/desync/$3" "$O/desync/$2" "$O/desync/readback" ||
			{ echo "stasync cannot extract desync's $2" >&2; return 1; }
		same_tree desync readback || return 1
		rm -rf "$O/desync/readback"
		;;
	desync/*) same_chunks desync "$3" ;;
	esac
}

# same_blob TOOL NAME / same_tree TOOL NAME: the extracted output is the input
same_blob() { cmp "$D/blob.img" "$O/$1/$2"; }
same_tree() {
	diff -r --no-dereference "$D/tree" "$O/$1/$2" >"$O/diff.out" 2>&1 ||
		{ head -n 20 "$O/diff.out" >&2; return 1; }
}

# same_digest TOOL NAME: the digest printed is stasync's
same_digest() {
	grep -Eo '^[0-9a-f]{64}$' "$BENCH_TMP/log" | tail -n 1 >"$O/$1/$2.digest"
	[ -s "$O/$1/$2.digest" ] || { echo "$1 printed no digest" >&2; return 1; }
	cmp "$O/stasync/$2.digest" "$O/$1/$2.digest"
}

# done_case NAME...: the outputs of a case are removed (room on the disk)
done_case() {
	for _t in stasync casync desync; do
		for _f in "$@"; do
			rm -rf "${O:?}/$_t/$_f"
		done
	done
}

# ---- the cases ----------------------------------------------------------------------------
rows=$D/rows
: >"$rows"
BENCH_ROWS=$rows
export BENCH_ROWS
# the write-back each run leaves behind, timed apart: stasync's make ends
# with its chunks on disk (syncfs), casync's and desync's do not
BENCH_SYNC_AFTER=$BENCH_SYNC
S=$D/srv/store

# static (musl; the one users get) or dynamically linked (a development build)
if ! command -v readelf >/dev/null 2>&1; then stasync_kind=
elif readelf -l "$STASYNC" 2>/dev/null | grep -q 'program interpreter'; then stasync_kind=" (dynamically linked)"
else stasync_kind=" (static binary)"
fi
tool_versions="stasync: $("$STASYNC" --version 2>&1 | head -n 1)$stasync_kind; casync: $("$CASYNC" --version 2>&1 | head -n 1)"
[ -z "$DESYNC" ] || tool_versions="$tool_versions; desync: ${DESYNC_VERSION:-version not given (it has no --version)}"
printf '%s\n' "$tool_versions"
printf 'machine: %s\n' "$(bench_machine)"
printf 'data: tree %s MB, %s entries; blob %s MiB; tree.catar %s MB; in %s\n' \
	"$tree_size" "$tree_entries" "$BENCH_BLOB_MB" "$catar_size" "$D"
printf 'outputs: on %s\n' "${out_fs:-the same file system as the data}"

# ---- the hash, measured in this run -------------------------------------------------------
# SHA-512/256 is most of the CPU time of every case, and its speed is the
# CPU's and the library's: stasync's is libgcrypt's, casync's OpenSSL's.
# Each hashes the blob once on one core (digest of the file: one pass,
# reading it from the page cache), and two stasync digests run at once,
# as its threads hash on both cores together (a virtual machine's two
# cores may share one physical core, or its power budget). User seconds,
# medians of REPS runs taking turns; blob_hash_pair is per process.
hash_probe() {
	: >"$BENCH_TMP/hash.s"
	: >"$BENCH_TMP/hash.c"
	: >"$BENCH_TMP/hash.p"
	bench_say "the hash: stasync and casync digest the blob file, and two stasync digests at once"
	# an untimed first run reads the blob into the page cache
	"$STASYNC" digest "$D/blob.img" >/dev/null || bench_die "stasync digest of the blob failed"
	_r=1
	while [ "$_r" -le "$REPS" ]; do
		bench_timed "$BENCH_TMP/one" "$STASYNC" digest "$D/blob.img" ||
			bench_die "stasync digest of the blob failed"
		cat "$BENCH_TMP/one" >>"$BENCH_TMP/hash.s"
		bench_timed "$BENCH_TMP/one" "$CASYNC" digest "$D/blob.img" ||
			bench_die "casync digest of the blob failed"
		cat "$BENCH_TMP/one" >>"$BENCH_TMP/hash.c"
		# shellcheck disable=SC2016 # expanded by that shell
		bench_timed "$BENCH_TMP/one" sh -c \
			'"$1" digest "$2" >/dev/null & p=$!; "$1" digest "$2" >/dev/null || exit 1; wait "$p"' \
			sh "$STASYNC" "$D/blob.img" || bench_die "two stasync digests of the blob at once failed"
		awk '{ $2 = $2 / 2; print }' "$BENCH_TMP/one" >>"$BENCH_TMP/hash.p"
		_r=$((_r + 1))
	done
	blob_hash_alone=$(bench_median "$BENCH_TMP/hash.s" 2)
	blob_hash_casync=$(bench_median "$BENCH_TMP/hash.c" 2)
	blob_hash_pair=$(bench_median "$BENCH_TMP/hash.p" 2)
	hash_line=$(awk -v n="$blob_bytes" -v s="$blob_hash_alone" -v c="$blob_hash_casync" -v p="$blob_hash_pair" 'BEGIN {
		mb = n / 1e6
		printf "SHA-512/256 of the blob (%.0f MB) on one core, user time: stasync (libgcrypt) %.2f s, %.0f MB/s; casync (OpenSSL) %.2f s, %.0f MB/s; stasync with the other core hashing too: %.2f s, %.0f MB/s\n",
			mb, s, (s > 0 ? mb / s : 0), c, (c > 0 ? mb / c : 0), p, (p > 0 ? mb / p : 0)
	}')
	printf 'hash: %s\n' "$hash_line"
}
hash_probe

# make_case NAME TITLE INDEX STORE INPUT KEEP: KEEP=1 keeps the store
make_case() {
	want "$1" || return 0
	_idx=$3 _st=$4 _in=$5
	if [ "$6" = 1 ]; then
		_rm=$_idx
	else
		_rm="$_idx $_st"
	fi
	bench_case "$2"
	bench_tool stasync "fresh stasync $_rm" "made stasync $_idx $_st" \
		"$STASYNC" make --store="$O/stasync/$_st" "$O/stasync/$_idx" "$_in"
	bench_tool casync "fresh casync $_rm" "made casync $_idx $_st" \
		"$CASYNC" make --store="$O/casync/$_st" "$O/casync/$_idx" "$_in"
	if [ -n "$DESYNC" ]; then
		case "$_idx" in
		*.caidx) bench_tool desync "fresh_store desync $_st $_rm" "made desync $_idx $_st" \
			"$DESYNC" tar -i -s "$O/desync/$_st" "$O/desync/$_idx" "$_in" ;;
		*) bench_tool desync "fresh_store desync $_st $_rm" "made desync $_idx $_st" \
			"$DESYNC" make -s "$O/desync/$_st" "$O/desync/$_idx" "$_in" ;;
		esac
	fi
	bench_measure "$REPS"
	done_case "$_idx" "$_st"
}

make_case make-tree "make tree → .caidx, empty store" tree.caidx store "$D/tree" 0
make_case make-blob "make blob → .caibx, empty store" blob.caibx store "$D/blob.img" 0
make_case make-catar "make tree.catar → .caibx, empty store" catar.caibx store "$D/tree.catar" 0
make_case make-full "make blob → .caibx, store full" blob.caibx full "$D/blob.img" 1
make_case make-full-tree "make tree → .caidx, store full" tree.caidx full "$D/tree" 1

# extract_case NAME TITLE STORE INDEX(path or URL) OUT CHECK
extract_case() {
	want "$1" || return 0
	_st=$3 _idx=$4 _out=$5 _ck=$6
	bench_case "$2"
	bench_tool stasync "fresh stasync $_out" "$_ck stasync $_out" \
		"$STASYNC" extract --store="$_st" "$_idx" "$O/stasync/$_out"
	bench_tool casync "fresh casync $_out" "$_ck casync $_out" \
		"$CASYNC" extract --store="$_st" "$_idx" "$O/casync/$_out"
	if [ -n "$DESYNC" ]; then
		# the same store and index (path or URL) as the others
		case "$_idx" in
		*.caidx) bench_tool desync "fresh desync $_out" "$_ck desync $_out" \
			"$DESYNC" untar -i -s "$_st" "$_idx" "$O/desync/$_out" ;;
		*) bench_tool desync "fresh desync $_out" "$_ck desync $_out" \
			"$DESYNC" extract -s "$_st" "$_idx" "$O/desync/$_out" ;;
		esac
	fi
	bench_measure "$REPS"
	done_case "$_out"
}

extract_case extract-tree "extract tree.caidx, local store" "$S" "$D/srv/tree.caidx" tree same_tree
extract_case extract-blob "extract blob.caibx, local store" "$S" "$D/srv/blob.caibx" blob.img same_blob

# digest_case NAME TITLE INDEX (desync has no digest)
digest_case() {
	want "$1" || return 0
	bench_case "$2"
	bench_tool stasync settle "same_digest stasync $1" \
		"$STASYNC" digest --store="$S" "$3"
	bench_tool casync settle "same_digest casync $1" \
		"$CASYNC" digest --store="$S" "$3"
	bench_measure "$REPS"
}

digest_case digest-tree "digest tree.caidx, local store" "$D/srv/tree.caidx"
digest_case digest-blob "digest blob.caibx, local store" "$D/srv/blob.caibx"

if want http-blob || want http-tree; then
	bench_nginx "$D/srv"
	bench_say "nginx serves the store and the indexes at $BENCH_URL"
	# nginx's CPU time in each run, beside the client's (same two cores)
	BENCH_SERVER_PID=$bench_nginx_pid
	extract_case http-blob "extract blob.caibx over HTTP" "$BENCH_URL/store" "$BENCH_URL/blob.caibx" http.img same_blob
	extract_case http-tree "extract tree.caidx over HTTP" "$BENCH_URL/store" "$BENCH_URL/tree.caidx" http.tree same_tree
	BENCH_SERVER_PID=
	bench_nginx_stop
fi

# ---- one table of all cases ---------------------------------------------------------------
# the rows of $rows ("case, tool, wall, CPU, sys, RSS, server CPU, machine CPU, time stolen, sync after") as Markdown; the
# ratios are each tool's figure divided by stasync's in the same case (above
# 1: stasync is faster or smaller); wall ÷ CPU is stasync's own (below 1: it
# kept more than one core busy)
table() {
	printf '| case | tool | wall s | CPU s | sys s | peak RSS MiB | wall ÷ CPU | wall ÷ stasync | CPU ÷ stasync | sys ÷ stasync | RSS ÷ stasync |\n'
	printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	awk -F '\t' '
	function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "—" }
	$2 == "stasync" { w = $3; c = $4; y = $5; m = $6 }
	{
		if ($2 == "stasync") r = "| " ratio($3, $4) " | — | — | — | —"
		else r = "| — | " ratio($3, w) " | " ratio($4, c) " | " ratio($5, y) " | " ratio($6, m)
		printf "| %s | %s | %.2f | %.2f | %.2f | %.1f %s |\n", $1, $2, $3, $4, $5, $6, r
		if (!($2 in peak) || $6 > peak[$2]) peak[$2] = $6
		if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
	}
	END {
		for (i = 1; i <= n; i++) {
			t = order[i]
			if (t == "stasync") r = "| — | — | — | — | —"
			else r = "| — | — | — | — | " ratio(peak[t], peak["stasync"])
			printf "| peak RSS, largest of all cases | %s | — | — | — | %.1f %s |\n", t, peak[t], r
		}
	}' "$rows"
}

# the verdict on issue 16's targets: one line per case and target, met or
# missed, with the figures it was judged on (the medians of the table)
verdict() {
	if [ "$tree_size" -lt 1000 ] || [ "$BENCH_BLOB_MB" -lt 1024 ] || [ "$REPS" -lt 3 ]; then
		printf 'Not a verdict on the issue: the targets are for data sets of at least 1 GB and medians of at least 3 runs; this run had a tree of %s MB, a blob of %s MiB and REPS=%s.\n\n' \
			"$tree_size" "$BENCH_BLOB_MB" "$REPS"
	fi
	printf '| case | target | verdict | figures |\n'
	printf '|---|---|---|---|\n'
	awk -F '\t' -v ncpu="$(nproc 2>/dev/null || echo 2)" -v nb="$blob_bytes" -v nc="$catar_bytes" \
		-v hs="${blob_hash_alone:-0}" -v hc="${blob_hash_casync:-0}" -v hp="${blob_hash_pair:-0}" '
	function line(c, target, ok, fig) {
		printf "| %s | %s | %s | %s |\n", c, target, ok ? "met" : "**missed**", fig
		if (ok) met++; else missed++
	}
	function na(c, target) {
		printf "| %s | %s | — | %s |\n", c, target,
			index(c, "digest") == 1 ? "desync has no digest" : "desync not run"
	}
	# wall s of stasync against another tool: the ratio, and when it falls
	# short of x, the best the run allowed (wall ≥ best)
	function faster(sw, ow, x, best,    f) {
		f = sprintf("%.2f s against %.2f s: %s×", sw, ow, sw > 0 ? sprintf("%.2f", ow / sw) : "∞")
		if (ow < x * sw && best > 0) {
			f = f sprintf("; the least wall time this run allowed (below) was %.2f s: at best %.2f×", best, ow / best)
			if (ow < x * best)
				f = f ", out of reach in this run"
		}
		return f
	}
	# make: stasync ends with its chunks on disk, the others leave them
	# to the kernel; the wall times with the sync after each run added
	function ondisk(c, t) {
		if (index(c, "make") != 1 || after[c, "stasync"] + after[c, t] <= 0) return ""
		return sprintf("; until on disk (the sync after the run: stasync %.2f s, %s %.2f s): %.2f s against %.2f s, %.2f×",
			after[c, "stasync"], t, after[c, t], w[c, "stasync"] + after[c, "stasync"], w[c, t] + after[c, t],
			(w[c, t] + after[c, t]) / (w[c, "stasync"] + after[c, "stasync"]))
	}
	# stasync hashing the blob: the faster and the slower of its two times
	BEGIN { hmin = hs < hp ? hs : hp; hmax = hs > hp ? hs : hp }
	!($1 in seen) { seen[$1] = 1; cases[++n] = $1 }
	{ w[$1, $2] = $3; cpu[$1, $2] = $4; sys[$1, $2] = $5; rss[$1, $2] = $6; srv[$1, $2] = $7; busy[$1, $2] = $8; stolen[$1, $2] = $9; after[$1, $2] = $10 + 0; has[$1, $2] = 1 }
	END {
		for (i = 1; i <= n; i++) {
			c = cases[i]
			if (!has[c, "stasync"]) continue
			sw = w[c, "stasync"]; sc = cpu[c, "stasync"]; ss = sys[c, "stasync"]
			b = busy[c, "stasync"]; st = stolen[c, "stasync"]
			# What is hashed (SHA-512/256): the stream once for the
			# chunks ids, and make and digest hash it once more for
			# the digest, one pass on one thread. At the speeds of the
			# probe above, per byte of the blob.
			bytes = index(c, "tree") ? nc : nb
			passes = (index(c, "make") == 1 || index(c, "digest") == 1) ? 2 : 1
			# never idle, the cores would have taken (busy + stolen) ÷
			# cores; and no less than the one thread digesting the stream
			never_idle = b > 0 ? (b + st) / ncpu : 0
			serial = passes == 2 && nb > 0 ? hp * bytes / nb : 0
			best = serial > never_idle ? serial : never_idle
			if (has[c, "desync"])
				line(c, "wall ≥ 1.5× faster than desync", w[c, "desync"] >= 1.5 * sw,
					faster(sw, w[c, "desync"], 1.5, best) ondisk(c, "desync"))
			else na(c, "wall ≥ 1.5× faster than desync")
			if (has[c, "casync"])
				line(c, "wall ≥ 1.8× faster than casync", w[c, "casync"] >= 1.8 * sw,
					faster(sw, w[c, "casync"], 1.8, best) ondisk(c, "casync"))
			fig = sprintf("wall %.2f s, CPU %.2f s: %s", sw, sc, sc > 0 ? sprintf("%.2f", sw / sc) : "—")
			# a server on the same two cores: the bound is both CPUs ÷ 2
			if (srv[c, "stasync"] > 0)
				fig = fig sprintf("; nginx used %.2f s of CPU meanwhile: (CPU + nginx) ÷ 2 cores = %.2f s", srv[c, "stasync"], (sc + srv[c, "stasync"]) / 2)
			# the whole machine (kernel threads writing back its files too)
			if (b > 0) {
				fig = fig sprintf("; the machine was busy %.2f s of the %d × %.2f s its cores had (%.0f%%)", b, ncpu, sw, 100 * b / (ncpu * sw))
				# a virtual machine: the host may hold the cores for others
				if (st > 0)
					fig = fig sprintf(" and the host held them %.2f s for others (steal)", st)
				if (sc > 0) {
					lo = never_idle / sc
					fig = fig sprintf("; with no idle time at all: wall ≥ %.2f s, wall ÷ CPU ≥ %.2f", never_idle, lo)
					if (lo > 0.6 && sw > 0.6 * sc)
						fig = fig ": out of reach in this run"
				}
			}
			if (serial > 0)
				fig = fig sprintf("; the stream digest alone, one pass on one thread, takes %.2f s", serial)
			line(c, "wall ≤ 0.6 × own CPU", sw <= 0.6 * sc, fig)
			if (has[c, "casync"]) {
				cc = cpu[c, "casync"]
				fig = sprintf("%.2f s against %.2f s", sc, cc)
				# what the hash takes of it, at the speed of each tool;
				# stasync hashes fewer bytes where it knows a chunk
				# without (an all-zero chunk met before): its rest is
				# at least what is left
				if (nb > 0 && hs > 0 && hc > 0 && hp > 0) {
					k = passes * bytes / nb
					fig = fig sprintf("; hashing %d × %.0f MB (%s) takes casync %.2f s and stasync %.2f–%.2f s (one core hashing alone or both at once): the rest, casync %.2f s against stasync at least %.2f s (it does not hash again an all-zero chunk it has met)",
						passes, bytes / 1e6, passes == 2 ? "chunk ids and the digest" : "chunk ids",
						k * hc, k * hmin, k * hmax, cc - k * hc, sc - k * hmax)
				}
				line(c, "CPU ≤ casync CPU", sc <= cc, fig)
			}
			if (has[c, "desync"]) {
				ds = sys[c, "desync"]
				line(c, "system ≤ 1.2 × desync system", ss <= 1.2 * ds,
					sprintf("%.2f s against %.2f s: %s×", ss, ds, ds > 0 ? sprintf("%.2f", ss / ds) : "—"))
			} else na(c, "system ≤ 1.2 × desync system")
			line(c, "peak RSS ≤ 64 MiB", rss[c, "stasync"] <= 64,
				sprintf("%.1f MiB", rss[c, "stasync"]))
		}
		printf "\n%d met, %d missed.\n", met, missed
	}' "$rows"
}

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)
ram=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(df -PT "$D" 2>/dev/null | awk 'NR == 2 { print $2 }')
[ -n "$out_fs" ] || out_fs="the same file system as the data"

printf '\n== all cases (median of %d runs)\n\n' "$REPS"
table
printf '\n== verdict on the targets of issue 16\n\n'
verdict

[ "$BENCH_OUT" != none ] || exit 0
bq='`'
# the sections after this script's own, kept
awk 'NR > 1 && /^# / { keep = 1 } keep' "$BENCH_OUT" >"$D/out.kept" 2>/dev/null || : >"$D/out.kept"
{
	printf '# stasync beside casync%s: benchmark results\n\n' "${DESYNC:+ and desync}"
	printf 'Written by %sbench/run.sh%s (see %sbench/run.sh -h%s); every run replaces this section (the ones below it are kept).\n\n' "$bq" "$bq" "$bq" "$bq"
	printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf -- '- command: %s%s%s\n' "$bq" "$settings" "$bq"
	printf -- '- machine: %s, %s cores, %s RAM, Linux %s; data on %s\n' \
		"$cpu" "$(nproc 2>/dev/null || echo '?')" "$ram" "$(uname -r)" "${fs:-?}"
	printf -- '- outputs (stores, indexes, extracted trees): on %s\n' "$out_fs"
	printf -- '- hash, measured in this run: %s\n' "$hash_line"
	printf -- '- tools: %s\n' "$tool_versions"
	printf -- '- data: tree of %s MB, %s entries (copied from %s); blob of %s MiB, disk-image-like (random data, runs of zeros, repeated MiBs); tree.catar of %s MB (the tree as one archive, made by casync, used as a blob); the extract, digest and HTTP cases read a store made by casync make\n' \
		"$tree_size" "$tree_entries" "$tree_from" "$BENCH_BLOB_MB" "$catar_size"
	if [ "$BENCH_COLD" = 1 ]; then
		printf -- '- page cache: dropped before each timed run\n'
	else
		printf -- '- page cache: dropped once before the first case; the data stays in it (no disk reads measured); sync before each timed run (and the loop file'"'"'s cached pages dropped): %s\n' \
			"$([ "$BENCH_SYNC" = 1 ] && echo yes || echo no)"
	fi
	printf -- '- HTTP: nginx on 127.0.0.1 (one process, sendfile), HTTP/1.1; its CPU time in each run is measured too (it shares the two cores)\n'
	printf '\nMedians of %d timed runs per tool and case, the tools taking turns (A B A B …) after one untimed, checked run of each. Wall, CPU (user + system, children included) and system time in seconds; peak RSS of the largest process. wall ÷ CPU is stasync'"'"'s own: below 1, it kept more than one core busy. The other ratio columns are the tool'"'"'s figure divided by stasync'"'"'s in the same case: above 1, stasync took less.\n\n' "$REPS"
	table
	printf '\n## The targets of issue 16 ("Performance restated for two cores")\n\n'
	printf 'Judged on the medians above: wall time at least 1.5× faster than desync'"'"'s and 1.8× faster than casync'"'"'s; wall at most 0.6 × stasync'"'"'s own CPU time, and that CPU at most casync'"'"'s; system time at most 1.2 × desync'"'"'s; peak RSS at most 64 MiB. Beside a wall time short of its target: the least wall time the run allowed (the cores never idle; for make and digest, no less than the stream digest on one thread at the hash speed above) and the best ratio that gives. Beside each CPU time: what hashing takes of it at the speeds above, and the rest (stasync'"'"'s at least: it does not hash again an all-zero chunk it has met). Beside the wall times of make: the same with the sync after each run added (timed apart, not in the wall time): stasync'"'"'s make ends with its chunks on disk, casync'"'"'s and desync'"'"'s leave them to the kernel.\n\n'
	verdict
	if [ -s "$D/out.kept" ]; then
		printf '\n'
		cat "$D/out.kept"
	fi
} >"$D/out.new" && cat "$D/out.new" >"$BENCH_OUT"
rm -f "$D/out.kept" "$D/out.new"
bench_say "wrote $BENCH_OUT"
