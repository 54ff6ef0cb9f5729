#!/bin/sh
# bench/http-extract.sh — time `extract` over HTTP: stasync against Debian's
# casync (and desync, when it is on PATH), all reading the same store, made
# by `casync make`, from the same nginx on 127.0.0.1.
#
# usage: bench/http-extract.sh [-h]
#
# Two cases, each timed REPS times per tool, the tools taking turns, after
# one untimed run of each whose output is checked (cmp for the blob, diff -r
# for the tree):
#   blob  a disk-image-like file (random data, runs of zeros, repeated
#         regions) of BENCH_BLOB_MB MiB, from a .caibx
#   tree  a copy of part of BENCH_TREE_SRC (whole subdirectories in name
#         order, until BENCH_TREE_MB MB are reached), from a .caidx
# It prints, per tool, the medians of wall time, CPU time (user + system,
# helper processes included) and peak RSS, and how stasync compares.
# The data stays in the page cache: this measures the tools and the local
# HTTP path, not a disk or a network.
#
# Environment:
#   STASYNC         the binary to time (default: ./stasync of this tree)
#   CASYNC          Debian's casync (default: casync on PATH)
#   DESYNC          desync (default: desync on PATH; DESYNC=none leaves it out)
#   REPS            timed runs per tool and case (default 3)
#   BENCH_BLOB_MB   size of the blob, MiB (default 256; 0 leaves the case out)
#   BENCH_TREE_MB   size of the tree, MB (default 300; 0 leaves the case out)
#   BENCH_TREE_SRC  where the tree is copied from (default /usr/share)
#   BENCH_DIR       scratch directory (default: a new one in $TMPDIR or /tmp);
#                   removed at the end unless BENCH_KEEP=1. Needs room for
#                   the data, its store and one output per tool (about 3.5×
#                   the sizes above).
#   BENCH_RESULTS   also append the figures, as Markdown, to this file
#   NGINX           nginx (default: nginx on PATH, else /usr/sbin/nginx)
#
# Runs as root or not; only 127.0.0.1 is used. Needs casync, nginx, python3
# (test data, a free port) and GNU time (apt-get install time) or python3.
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
DESYNC=${DESYNC:-$(command -v desync 2>/dev/null || true)}
[ "$DESYNC" != none ] || DESYNC=
REPS=${REPS:-3}
BENCH_BLOB_MB=${BENCH_BLOB_MB:-256}
BENCH_TREE_MB=${BENCH_TREE_MB:-300}
BENCH_TREE_SRC=${BENCH_TREE_SRC:-/usr/share}

bench_check_tools

# Nothing from the environment may send requests elsewhere.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset CASYNC_STORE

bench_init
bench_workdir
finish() {
	bench_nginx_stop
	bench_workdir_done
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the data, made once (kept between runs with BENCH_DIR and BENCH_KEEP=1) -------
mkdir -p "$D/srv" "$D/out"

if [ "$BENCH_BLOB_MB" -gt 0 ] && [ ! -s "$D/srv/blob.caibx" ]; then
	bench_say "making a $BENCH_BLOB_MB MiB blob and its store with casync make"
	bench_make_blob "$D/blob.img" "$BENCH_BLOB_MB" || bench_die "cannot make the blob"
	"$CASYNC" make --store="$D/srv/store" "$D/srv/blob.caibx" "$D/blob.img" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log" >&2; bench_die "casync make blob.caibx failed"; }
fi
if [ "$BENCH_TREE_MB" -gt 0 ] && [ ! -s "$D/srv/tree.caidx" ]; then
	bench_say "copying about $BENCH_TREE_MB MB of $BENCH_TREE_SRC, making its store with casync make"
	rm -rf "$D/tree"
	tree_mb=$(bench_make_tree "$D/tree" "$BENCH_TREE_MB" "$BENCH_TREE_SRC")
	bench_say "  $tree_mb MB copied"
	"$CASYNC" make --store="$D/srv/store" "$D/srv/tree.caidx" "$D/tree" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log" >&2; bench_die "casync make tree.caidx failed"; }
fi

# ---- nginx on 127.0.0.1, a configuration and temporary files of its own ----------------
# shellcheck source-path=SCRIPTDIR/.. source=tests/cli/ports.sh
. "$top/tests/cli/ports.sh"

bench_nginx "$D/srv"
U=$BENCH_URL
bench_say "nginx serves $D/srv at $U"

# ---- the contenders --------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	desync_owner=
else
	desync_owner=--no-same-owner
fi

fresh_out() {
	chmod -R u+rwx "$D/out/$1" 2>/dev/null
	rm -rf "$D/out/$1"
}

setup_blob_stasync() { fresh_out stasync.img; }
setup_blob_casync() { fresh_out casync.img; }
setup_blob_desync() { fresh_out desync.img; }
check_blob_stasync() { cmp "$D/blob.img" "$D/out/stasync.img"; }
check_blob_casync() { cmp "$D/blob.img" "$D/out/casync.img"; }
check_blob_desync() { cmp "$D/blob.img" "$D/out/desync.img"; }

setup_tree_stasync() { fresh_out stasync.tree; }
setup_tree_casync() { fresh_out casync.tree; }
setup_tree_desync() { fresh_out desync.tree; }
check_tree() { diff -r --no-dereference "$D/tree" "$D/out/$1" >"$D/diff.out" 2>&1 || { head -n 20 "$D/diff.out" >&2; return 1; }; }
check_tree_stasync() { check_tree stasync.tree; }
check_tree_casync() { check_tree casync.tree; }
check_tree_desync() { check_tree desync.tree; }

printf '%s against %s over HTTP (nginx on 127.0.0.1)\n' \
	"$("$STASYNC" --version 2>/dev/null | head -n 1)" "$("$CASYNC" --version 2>/dev/null | head -n 1)"
printf 'machine: %s\n' "$(bench_machine)"
[ -z "${BENCH_RESULTS:-}" ] || printf '\n## extract over HTTP: stasync, casync%s\n' "${DESYNC:+, desync}" >>"$BENCH_RESULTS"

if [ "$BENCH_BLOB_MB" -gt 0 ]; then
	bench_case "blob: $BENCH_BLOB_MB MiB disk image from a .caibx"
	bench_tool stasync setup_blob_stasync check_blob_stasync \
		"$STASYNC" extract --store="$U/store" "$U/blob.caibx" "$D/out/stasync.img"
	bench_tool casync setup_blob_casync check_blob_casync \
		"$CASYNC" extract --store="$U/store" "$U/blob.caibx" "$D/out/casync.img"
	# desync reads the index from a file (it does not fetch an index URL)
	[ -z "$DESYNC" ] || bench_tool desync setup_blob_desync check_blob_desync \
		"$DESYNC" extract -s "$U/store" "$D/srv/blob.caibx" "$D/out/desync.img"
	bench_measure "$REPS"
fi
if [ "$BENCH_TREE_MB" -gt 0 ]; then
	tree_desc=$(du -sm "$D/tree" | cut -f1)
	tree_files=$(find "$D/tree" | wc -l)
	bench_case "tree: $tree_desc MB, $tree_files entries of $BENCH_TREE_SRC from a .caidx"
	bench_tool stasync setup_tree_stasync check_tree_stasync \
		"$STASYNC" extract --store="$U/store" "$U/tree.caidx" "$D/out/stasync.tree"
	bench_tool casync setup_tree_casync check_tree_casync \
		"$CASYNC" extract --store="$U/store" "$U/tree.caidx" "$D/out/casync.tree"
	# shellcheck disable=SC2086 # $desync_owner is empty or one option
	[ -z "$DESYNC" ] || bench_tool desync setup_tree_desync check_tree_desync \
		"$DESYNC" untar $desync_owner -i -s "$U/store" "$D/srv/tree.caidx" "$D/out/desync.tree"
	bench_measure "$REPS"
fi
