#!/bin/sh
# Directory archives both ways with Debian's casync, checked by the
# strongest test there is: archiving the extracted tree again must give
# the original archive byte for byte (so every piece of metadata came
# back), and the file contents compare equal with cmp.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync
mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
# casync cannot extract 255-byte names (its temporary names are longer):
# the trees it extracts lack that one file.
MKTREE_NO_LONG_NAME=1 mktree short-tree || bail_out "could not build the second tree"

# same_contents A B: every regular file of A equals (cmp) the one in B
# and there are no others (empty-file is chattr +d, "nodump", and so not
# in the archives). Names may hold newlines: lists are NUL-separated.
same_contents() {
	(cd "$1" && find . -type f ! -path ./empty-file -print0) | sort -z >"$T/files.a"
	(cd "$2" && find . -type f ! -path ./empty-file -print0) | sort -z >"$T/files.b"
	cmp -s "$T/files.a" "$T/files.b" || return 1
	A=$1 B=$2 xargs -0 sh -c 'for f; do cmp -s "$A/$f" "$B/$f" || exit 1; done' sh <"$T/files.a"
}

n=0
for opts in "" "--with=unix --with=32bit-uids" "--without=privileged" "--digest=sha256"; do
	n=$((n + 1))
	label=${opts:-default}
	# shellcheck disable=SC2086
	"$CASYNC" make $opts "ca$n.catar" tree >/dev/null || bail_out "casync make failed"

	# casync made it, we extract it
	run_ok "$label: we extract casync's .catar" "$STASYNC" extract $opts "ca$n.catar" "out-st$n"
	# shellcheck disable=SC2086
	"$CASYNC" make $opts "re-st$n.catar" "out-st$n" >/dev/null 2>&1
	same_file "re-st$n.catar" "ca$n.catar" "$label: our extraction archives back to casync's bytes"
	check 'same_contents tree "out-st$n"' "$label: file contents equal (cmp)"

	# we made it, casync extracts it
	# shellcheck disable=SC2086
	run_ok "$label: we make the .catar" "$STASYNC" make $opts "st$n.catar" short-tree
	# shellcheck disable=SC2086
	run_ok "$label: casync extracts ours" "$CASYNC" extract $opts "st$n.catar" "out-ca$n"
	# shellcheck disable=SC2086
	"$STASYNC" make $opts "re-ca$n.catar" "out-ca$n" >/dev/null 2>&1
	same_file "re-ca$n.catar" "st$n.catar" "$label: casync's extraction of ours archives back to the same bytes"

	# through an index and a store, both ways
	# shellcheck disable=SC2086
	"$CASYNC" make $opts --store=ca$n.castr "ca$n.caidx" tree >/dev/null || bail_out "casync make .caidx failed"
	# shellcheck disable=SC2086
	run_ok "$label: we extract casync's .caidx" "$STASYNC" extract $opts --store=ca$n.castr "ca$n.caidx" "idx-st$n"
	# shellcheck disable=SC2086
	"$STASYNC" make $opts "re-idx$n.catar" "idx-st$n" >/dev/null 2>&1
	same_file "re-idx$n.catar" "ca$n.catar" "$label: .caidx extraction archives back to the same bytes"
	# shellcheck disable=SC2086
	run_ok "$label: we make a .caidx" "$STASYNC" make $opts --store=st$n.castr "st$n.caidx" short-tree
	# shellcheck disable=SC2086
	run_ok "$label: casync extracts our .caidx" "$CASYNC" extract $opts --store=st$n.castr "st$n.caidx" "idx-ca$n"
	check 'same_contents short-tree "idx-ca$n"' "$label: casync's extraction of our .caidx has the same contents"
done

done_testing
