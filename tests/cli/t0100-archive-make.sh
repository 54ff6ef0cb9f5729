#!/bin/sh
# Directory archives made by stasync are byte-identical to casync's: the
# .catar, the .caidx, the chunk set and the printed digest, for the
# default features and the sets the issue names.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync

mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
# The same without owners past 16 bits, for the sets with 16-bit ids
# (on the full tree both tools must refuse them).
MKTREE_16BIT_IDS=1 mktree tree16 || bail_out "could not build the 16-bit tree"

n=0
for opts in "" "--with=unix" "--without=privileged" "--with=best" \
	"--without=user-names --with=sec-time" "--without=all" "--with=16bit-uids --with=permissions" \
	"--digest=sha256" "--exclude-nodump=no" "--with=fuse --without=xattrs" \
	"--uid-range=1000" "--uid-shift=1000" \
	"tree16 --with=unix" "tree16 --with=16bit-uids --with=permissions"; do
	n=$((n + 1))
	label=${opts:-default}
	src=tree
	case $opts in tree16*) src=tree16; opts=${opts#tree16 } ;; esac
	# shellcheck disable=SC2086 # word splitting of the options is wanted
	run "$CASYNC" make $opts "ca$n.catar" "$src"
	cp "$T/out" ca.digest
	if [ "$rc" -ne 0 ]; then
		# casync refuses some trees under some sets (e.g. 16-bit ids):
		# then we must refuse too.
		# shellcheck disable=SC2086
		run "$STASYNC" make $opts "st$n.catar" "$src"
		check '[ "$rc" -eq 1 ] && [ ! -e "st$n.catar" ]' "$label: refused as casync refuses it"
		continue
	fi
	# shellcheck disable=SC2086
	run_ok "$label: make .catar" "$STASYNC" make $opts "st$n.catar" "$src" || continue
	same_file "st$n.catar" "ca$n.catar" "$label: .catar equals casync's"
	is "$(cat "$T/out")" "$(cat ca.digest)" "$label: same digest printed"

	# shellcheck disable=SC2086
	run "$CASYNC" make $opts --chunk-size=1024:4096:16384 --store=ca$n.castr "ca$n.caidx" "$src"
	# shellcheck disable=SC2086
	run_ok "$label: make .caidx" "$STASYNC" make $opts --chunk-size=1024:4096:16384 \
		--store=st$n.castr "st$n.caidx" "$src" || continue
	same_file "st$n.caidx" "ca$n.caidx" "$label: .caidx equals casync's"
	is "$(chunk_list "st$n.castr")" "$(chunk_list "ca$n.castr")" "$label: same chunk files"
done

# Errors name the path.
run "$STASYNC" make x.catar does-not-exist
check '[ "$rc" -eq 1 ] && grep -q does-not-exist "$T/err" && [ ! -e x.catar ]' \
	"missing input directory: exit 1, named, no output"
mkdir -p locked/inner userout
chmod 000 locked/inner
as_user=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	# root reads everything: try as nobody, in a directory nobody can write
	chmod 755 "$T"
	chmod 777 userout
	as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" -ne 0 ] || [ -n "$as_user" ]; then
	# shellcheck disable=SC2086 # $as_user is a command prefix
	run $as_user "$STASYNC" make userout/y.catar locked
	check '[ "$rc" -eq 1 ] && grep -q "locked/inner" "$T/err" && [ -z "$(ls -A userout 2>/dev/null)" ]' \
		"unreadable directory: exit 1, path named, no output" || show_run
else
	skip "unreadable directory: exit 1, path named, no output" "cannot run as another user here"
fi
chmod 755 locked/inner

done_testing
