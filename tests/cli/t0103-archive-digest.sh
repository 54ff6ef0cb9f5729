#!/bin/sh
# digest of a directory, a .catar and a .caidx prints what casync prints
# (the digest type follows the archive's own flags, as in casync).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync
mktree tree || bail_out "could not build the test tree"

for opts in "" "--with=unix --with=32bit-uids" "--digest=sha256" "--without=all"; do
	label=${opts:-default}
	# shellcheck disable=SC2086
	"$CASYNC" make $opts x.catar tree >/dev/null 2>&1 || bail_out "casync make failed"
	rm -rf x.castr
	# shellcheck disable=SC2086
	"$CASYNC" make $opts --store=x.castr x.caidx tree >/dev/null 2>&1 || bail_out "casync make failed"
	for what in tree x.catar x.caidx; do
		for dopts in "" "--digest=sha256"; do
			# shellcheck disable=SC2086
			expected=$("$CASYNC" digest $opts $dopts --store=x.castr "$what" 2>&1)
			# shellcheck disable=SC2086
			run "$STASYNC" digest $opts $dopts --store=x.castr "$what"
			is "$(cat "$T/out")" "$expected" "$label: digest $dopts $what"
		done
	done
done

# digest without an argument: the current directory, as casync
expected=$(cd tree && "$CASYNC" digest)
is "$(cd tree && "$STASYNC" digest)" "$expected" "digest without arguments digests ."

# A damaged archive is an error, not a digest.
head -c 1000 x.catar >short.catar
run "$STASYNC" digest short.catar
check '[ "$rc" -eq 1 ] && grep -q short.catar "$T/err" && [ ! -s "$T/out" ]' \
	"truncated .catar: exit 1, named, no digest"

done_testing
