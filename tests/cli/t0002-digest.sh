#!/bin/sh
# `digest` of plain files and of blob indexes (ours and casync's) must print
# exactly what casync prints, for --digest=sha512-256 and --digest=sha256.
#
# Note (casync 2 behaviour, the oracle): the digest of a .caibx is the
# SHA-512/256 of the blob it describes whatever --digest says and whatever
# digest the index itself was made with; only for plain files does --digest
# choose the hash.  These checks simply compare with casync's output.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync

# compare_digest DESC ARGS...: `digest ARGS` must give identical stdout and
# exit status with both tools.
compare_digest() {
	_desc=$1
	shift
	run "$CASYNC" digest "$@"
	_ca_rc=$rc
	cp "$T/out" "$T/ca.out"
	cp "$T/err" "$T/ca.err"
	run "$STASYNC" digest "$@"
	if [ "$rc" -eq "$_ca_rc" ] && cmp -s "$T/out" "$T/ca.out"; then
		ok "$_desc"
		return 0
	fi
	not_ok "$_desc"
	diag "command: digest $*"
	diag "casync: exit $_ca_rc, stdout '$(cat "$T/ca.out")'"
	diag "ours:   exit $rc, stdout '$(cat "$T/out")'"
	diag_file "our stderr" "$T/err"
	return 1
}

# kind seed size
files='
random 1 0
random 2 1
random 3 1048583
zero 4 1
zero 5 2097169
mixed 6 1572871
mixed 7 65536
'

set -f
# shellcheck disable=SC2086
set -- $files
set +f
while [ $# -ge 3 ]; do
	kind=$1 seed=$2 size=$3
	shift 3
	f="$kind-$size.bin"
	mkdata "$kind" "$seed" "$size" "$f"

	for dg in sha512-256 sha256; do
		compare_digest "digest of $f, --digest=$dg" --digest="$dg" "$f"
	done
	compare_digest "digest of $f, default digest" "$f"

	# indexes written by each tool with each digest; digest them with
	# both --digest values
	for maker in casync stasync; do
		if [ "$maker" = casync ]; then bin=$CASYNC; else bin=$STASYNC; fi
		for mkdg in sha512-256 sha256; do
			idx="$kind-$size-$maker-$mkdg.caibx"
			store="$kind-$size-$maker-$mkdg.castr"
			run "$bin" make --store="$store" --digest="$mkdg" --chunk-size=4096:16384:65536 "$idx" "$f"
			if [ "$rc" -ne 0 ]; then
				not_ok "$maker make $idx"
				show_run
				continue
			fi
			for dg in sha512-256 sha256; do
				compare_digest "digest of $idx (by $maker), --digest=$dg" \
					--store="$store" --digest="$dg" "$idx"
			done
			compare_digest "digest of $idx (by $maker), default digest" \
				--store="$store" "$idx"
		done
	done
	rm -rf ./*.castr ./*.caibx "$f"
done

# a path with a directory component and a space in it
mkdir "sub dir"
mkdata mixed 42 300007 "sub dir/some file.bin"
compare_digest "digest of a path with a space" "sub dir/some file.bin"

done_testing
