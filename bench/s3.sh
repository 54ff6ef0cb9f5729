#!/bin/sh
# bench/s3.sh — stasync's S3 path against its plain HTTP path: `make` into
# and `extract` from a bucket of Ceph's RADOS Gateway (tests/cli/s3d.sh, a
# one-node cluster in RAM), against the same into and from Debian's nginx
# (WebDAV PUT for make), both on 127.0.0.1, in one run; and desync, when
# there is one, into and from the same bucket.
#
# usage: bench/s3.sh [-h]
#
# Cases, each timed REPS times per contender, the contenders taking turns,
# after one untimed run of each whose output is checked:
#   blob make     BENCH_BLOB_MB MiB into an empty store (the bucket made
#                 anew, a new directory, for each run)
#   blob extract  the same blob from its .caibx
#   tree make     a copy of part of BENCH_TREE_SRC, BENCH_TREE_MB MB
#   tree extract  the same tree from its .caidx
# Contenders: "http" (stasync and nginx), "s3" (stasync and radosgw),
# "desync" (desync make/tar -i, extract/untar -i with the same bucket) and,
# for extract, "curl": curl fetching the store's chunk objects from the
# bucket, CONCURRENCY at a time, and nothing more, the floor the server
# sets. It prints, per contender, the medians of wall time, CPU time of the
# client (the servers' own is not in it) and peak RSS, how http compares
# with the others, and how s3 compares with desync and with curl.
#
# Environment:
#   STASYNC         the binary to time (default: ./stasync of this tree)
#   REPS            timed runs per contender and case (default 3)
#   CONCURRENCY     requests at once, for every contender (default 16,
#                   stasync's own for remote stores)
#   DESYNC          desync (default: desync on PATH; DESYNC=none leaves it out)
#   BENCH_BLOB_MB   size of the blob, MiB (default 256; 0 leaves the cases out)
#   BENCH_TREE_MB   size of the tree, MB (default 200; 0 leaves the cases out)
#   S3D_MEMSTORE_BYTES  RAM the cluster keeps objects in (default 6 GiB,
#                   room for a 512 MiB blob and a 400 MB tree, and every
#                   run of desync's make: see fresh_ds_bucket)
#   S3D_TCP_NODELAY 1 (default): radosgw sends without Nagle's algorithm;
#                   0: radosgw's default, under which the end of many
#                   responses waits ~40 ms for the client's delayed ACK,
#                   and every client is bound by requests in flight alone
#   BENCH_TREE_SRC  where the tree is copied from (default /usr/share)
#   BENCH_DIR       scratch directory (default: a new one in $TMPDIR or /tmp);
#                   removed at the end unless BENCH_KEEP=1
#   BENCH_RESULTS   also append the figures, as Markdown, to this file
#
# Needs radosgw, ceph-mon, ceph-osd (build.sh --deps installs them), curl,
# nginx, python3 and GNU time. The bucket that make writes into is emptied
# before each run, which also keeps the cluster's RAM in bounds.
set -u
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bench_args "$0" "$@"

STASYNC=${STASYNC:-$top/stasync}
CASYNC=none
DESYNC=${DESYNC:-$(command -v desync 2>/dev/null || true)}
[ "$DESYNC" != none ] || DESYNC=
REPS=${REPS:-3}
CONCURRENCY=${CONCURRENCY:-16}
BENCH_BLOB_MB=${BENCH_BLOB_MB:-256}
BENCH_TREE_MB=${BENCH_TREE_MB:-200}
BENCH_TREE_SRC=${BENCH_TREE_SRC:-/usr/share}
S3D_MEMSTORE_BYTES=${S3D_MEMSTORE_BYTES:-6442450944}
S3D_TCP_NODELAY=${S3D_TCP_NODELAY:-1}
case "$REPS$CONCURRENCY$BENCH_BLOB_MB$BENCH_TREE_MB$S3D_MEMSTORE_BYTES" in
*[!0-9]*) bench_die "REPS, CONCURRENCY, BENCH_BLOB_MB, BENCH_TREE_MB and S3D_MEMSTORE_BYTES must be numbers" ;;
esac
[ -z "$DESYNC" ] || [ -x "$DESYNC" ] || bench_die "no desync at $DESYNC (or DESYNC=none)"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

bench_init
bench_workdir

# tests/cli/s3d.sh runs inside a test; here its few needs are the bench's.
T=$D
at_exit() { :; }
bail_out() { bench_die "$*"; }
diag() { bench_say "$*"; }
diag_file() { bench_say "$1:"; sed 's/^/  /' "$2" >&2; }
top_srcdir=$top
# shellcheck source-path=SCRIPTDIR/.. source=tests/cli/s3d.sh
. "$top/tests/cli/s3d.sh"
have_s3d || bench_die "no S3 server to run (apt-get install radosgw ceph-mon ceph-osd curl)"

finish() {
	s3d_stop
	bench_nginx_stop
	bench_workdir_done
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the data ---------------------------------------------------------------------------
mkdir -p "$D/srv" "$D/out"
if [ "$BENCH_BLOB_MB" -gt 0 ] && [ ! -s "$D/blob.img" ]; then
	bench_say "making a $BENCH_BLOB_MB MiB blob"
	bench_make_blob "$D/blob.img" "$BENCH_BLOB_MB" || bench_die "cannot make the blob"
fi
if [ "$BENCH_TREE_MB" -gt 0 ] && [ ! -d "$D/tree" ]; then
	bench_say "copying about $BENCH_TREE_MB MB of $BENCH_TREE_SRC"
	bench_make_tree "$D/tree" "$BENCH_TREE_MB" "$BENCH_TREE_SRC" >/dev/null
fi

# ---- the servers ---------------------------------------------------------------------------
bench_say "starting radosgw on a one-node Ceph cluster"
s3d_start
AWS_ACCESS_KEY_ID=$S3D_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3D_SECRET_KEY
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
s3_mb src
bench_nginx "$D/srv" "dav_methods PUT; create_full_put_path on; client_max_body_size 0;"
U=$BENCH_URL
S3=s3+$S3D_ENDPOINT

# desync: the same keys, in its own variables; path-style addressing, and
# the region given, as minio-go would otherwise ask the server for it; a
# configuration of its own, not the user's
S3_ACCESS_KEY=$S3D_ACCESS_KEY
S3_SECRET_KEY=$S3D_SECRET_KEY
S3_REGION=us-east-1
export S3_ACCESS_KEY S3_SECRET_KEY S3_REGION
echo '{}' >"$D/desync.json"
ds_store() { echo "$S3/$1?lookup=path"; }
# sh -c "$ds_make" sh FILE CMD...: CMD with -s and the store FILE names
# shellcheck disable=SC2016 # expanded by that sh
ds_make='store=$(cat "$1"); shift; exec "$@" -s "$store"'
if [ "$(id -u)" -eq 0 ]; then
	desync_owner=
else
	desync_owner=--no-same-owner
fi

# Each make starts from an empty store: the bucket "run" made anew (its
# objects removed first, to keep the cluster's RAM), or a new directory.
fresh_bucket() {
	timeout 120 radosgw-admin -c "$S3D_DIR/ceph.conf" -n client.admin bucket rm --bucket=run \
		--purge-objects >/dev/null 2>&1
	s3_mb run
}
fresh_dir() {
	rm -rf "$D/srv/run"
	mkdir -p "$D/srv/run"
}
check_none() { :; }
# desync's make puts a chunk again when two of its workers meet it at once,
# and radosgw's memstore then counts wrong: once those objects are removed,
# its count of bytes used falls below zero, the OSD takes itself for full
# and every write waits for ever. So each desync make gets a bucket of its
# own, never emptied (its objects stay in RAM to the end), named in a file
# that ds_make reads.
ds_n=0
fresh_ds_bucket() {
	ds_n=$((ds_n + 1))
	s3_mb "ds$ds_n"
	ds_store "ds$ds_n/store" >"$D/ds-store"
}

# The stores extract reads: the same chunk files in both places, a store
# per kind of input, so that curl fetches the objects of one input only.
src_ready() { # KIND INPUT: make once into the bucket "src" and into srv/src
	[ -s "$D/srv/src/index.$1" ] && return 0
	"$STASYNC" make --store="$D/srv/src/$1.store" "$D/srv/src/index.$1" "$2" >/dev/null 2>"$D/make.err" ||
		{ cat "$D/make.err" >&2; bench_die "make of $2 failed"; }
	"$STASYNC" make --store="$S3/src/$1.store" "$S3/src/index.$1" "$2" >/dev/null 2>"$D/make.err" ||
		{ cat "$D/make.err" >&2; bench_die "make of $2 into the bucket failed"; }
}

printf '%s: S3 (radosgw, tcp_nodelay=%s) against HTTP (nginx)%s, on 127.0.0.1, %s requests at once\n' \
	"$("$STASYNC" --version 2>/dev/null | head -n 1)" "$S3D_TCP_NODELAY" "${DESYNC:+ and desync $DESYNC}" \
	"$CONCURRENCY"
printf 'machine: %s\n' "$(bench_machine)"
[ -z "${BENCH_RESULTS:-}" ] || printf '\n## S3 (radosgw) against plain HTTP (nginx)%s: make and extract\n' \
	"${DESYNC:+ and desync}" >>"$BENCH_RESULTS"

# bench_pair NAME KIND INPUT: make and extract cases for one input.
bench_pair() {
	_kind=$2 _input=$3
	bench_case "$1: make into an empty store"
	bench_tool http fresh_dir check_none "$STASYNC" make --concurrency="$CONCURRENCY" \
		--store="$U/run/store" "$D/out/http.$_kind" "$_input"
	bench_tool s3 fresh_bucket check_none "$STASYNC" make --concurrency="$CONCURRENCY" \
		--store="$S3/run/store" "$D/out/s3.$_kind" "$_input"
	if [ -n "$DESYNC" ]; then
		if [ "$_kind" = caidx ]; then
			bench_tool desync fresh_ds_bucket check_none sh -c "$ds_make" sh "$D/ds-store" \
				"$DESYNC" --config "$D/desync.json" tar -i -n "$CONCURRENCY" \
				"$D/out/desync.$_kind" "$_input"
		else
			bench_tool desync fresh_ds_bucket check_none sh -c "$ds_make" sh "$D/ds-store" \
				"$DESYNC" --config "$D/desync.json" make -n "$CONCURRENCY" \
				"$D/out/desync.$_kind" "$_input"
		fi
	fi
	bench_measure "$REPS"
	[ -z "$DESYNC" ] || bench_compare s3 desync
	src_ready "$_kind" "$_input"
	bench_case "$1: extract"
	bench_tool http "fresh_out http" "check_out $_kind http" "$STASYNC" extract \
		--concurrency="$CONCURRENCY" --store="$U/src/$_kind.store" "$U/src/index.$_kind" "$D/out/http"
	bench_tool s3 "fresh_out s3" "check_out $_kind s3" "$STASYNC" extract \
		--concurrency="$CONCURRENCY" --store="$S3/src/$_kind.store" "$S3/src/index.$_kind" "$D/out/s3"
	# the floor: curl fetching the same objects, each once, nothing more
	curl_config "$_kind"
	bench_tool curl nothing check_none curl -s --parallel --parallel-max "$CONCURRENCY" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3D_ACCESS_KEY:$S3D_SECRET_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "$D/curl.$_kind"
	# desync reads the index from a file (the same as the bucket's)
	if [ -n "$DESYNC" ]; then
		# shellcheck disable=SC2086 # $desync_owner is empty or one option
		if [ "$_kind" = caidx ]; then
			bench_tool desync "fresh_out desync" "check_out $_kind desync" \
				"$DESYNC" --config "$D/desync.json" untar $desync_owner -i -n "$CONCURRENCY" \
				-s "$(ds_store src/$_kind.store)" "$D/srv/src/index.$_kind" "$D/out/desync"
		else
			bench_tool desync "fresh_out desync" "check_out $_kind desync" \
				"$DESYNC" --config "$D/desync.json" extract -n "$CONCURRENCY" \
				-s "$(ds_store src/$_kind.store)" "$D/srv/src/index.$_kind" "$D/out/desync"
		fi
	fi
	bench_measure "$REPS"
	bench_compare s3 curl
	[ -z "$DESYNC" ] || bench_compare s3 desync
}
nothing() { :; }
# curl_config KIND: a curl config fetching every chunk object of KIND's store
curl_config() {
	(cd "$D/srv/src/$1.store" && find . -name '*.cacnk' | sed 's|^\./||') |
		awk -v u="$S3D_ENDPOINT/src/$1.store/" '{ print "url = \"" u $0 "\"\noutput = \"/dev/null\"" }' \
		>"$D/curl.$1"
}
fresh_out() { chmod -R u+rwx "$D/out/$1" 2>/dev/null; rm -rf "$D/out/$1"; }
check_out() {
	if [ "$1" = caibx ]; then
		cmp "$D/blob.img" "$D/out/$2"
	else
		diff -r --no-dereference "$D/tree" "$D/out/$2" >/dev/null
	fi
}

[ "$BENCH_BLOB_MB" -eq 0 ] || bench_pair "blob: $BENCH_BLOB_MB MiB" caibx "$D/blob.img"
[ "$BENCH_TREE_MB" -eq 0 ] || bench_pair "tree: $BENCH_TREE_MB MB" caidx "$D/tree"
