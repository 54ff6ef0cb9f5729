#!/bin/sh
# .caexclude files leave entries out of directory archives exactly as in
# Debian's casync: for each pattern situation, the .catar stasync makes is
# byte-identical to casync's and `list` prints the same. The gone/kept
# checks spell out what casync does with each pattern (they run on
# casync's own listing, then on ours).
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync

# tree DIR: the test tree (an empty .caexclude at the top, no others).
tree() {
	rm -rf "$1"
	mkdir -p "$1/sub/deep/deeper" "$1/x/sub" "$1/foo.d" "$1/.hdir" || bail_out "mkdir $1"
	for _f in foo bar baz .hid foo.d/f sub/foo sub/bar sub/.hid sub/deep/foo sub/deep/bar \
		sub/deep/deeper/foo sub/deep/deeper/bar x/foo x/sub/foo .hdir/foo a.log keep.log \
		sub/a.log sub/keep.log sub/deep/a.log sub/deep/keep.log sub/deep/deeper/keep.log; do
		printf '%s\n' "$_f" >"$1/$_f" || bail_out "cannot write $1/$_f"
	done
	: >"$1/.caexclude"
}

# cx DIR TEXT: write TEXT (printf format) as DIR's .caexclude.
cx() {
	# shellcheck disable=SC2059 # the patterns are printf formats on purpose
	printf "$2" >"$1/.caexclude" || bail_out "cannot write $1/.caexclude"
}

n=0
# try LABEL [OPTIONS...]: archive ./t with both tools and compare. Leaves
# casync's listing in ca.list (paths only) for gone/kept; returns 1 when
# casync refused (then we must refuse too), 2 when we failed.
try() {
	_label=$1
	shift
	n=$((n + 1))
	: >ca.list
	run "$CASYNC" make "$@" "ca$n.catar" t
	if [ "$rc" -ne 0 ]; then
		cp "$T/err" ca.err
		run "$STASYNC" make "$@" "st$n.catar" t
		check '[ "$rc" -eq 1 ] && [ ! -e "st$n.catar" ]' "$_label: refused as casync refuses it" ||
			{ diag_file "casync said" ca.err; show_run; }
		return 1
	fi
	run_ok "$_label: make" "$STASYNC" make "$@" "st$n.catar" t || return 2
	same_file "st$n.catar" "ca$n.catar" "$_label: .catar equals casync's"
	"$CASYNC" list "ca$n.catar" >ca.full 2>&1
	run "$STASYNC" list "st$n.catar"
	is "$(cat "$T/out")" "$(cat ca.full)" "$_label: list equals casync's"
	awk '{ print $2 }' ca.full >ca.list
	awk '{ print $2 }' "$T/out" >st.list
	return 0
}

# gone LABEL PATH...: none of the paths is in either listing.
gone() {
	_label=$1
	shift
	_bad=
	for _p; do
		grep -qxF "$_p" ca.list && _bad="$_bad casync:$_p"
		grep -qxF "$_p" st.list && _bad="$_bad stasync:$_p"
	done
	is "${_bad# }" "" "$_label: excluded: $*"
}

# kept LABEL PATH...: all of the paths are in both listings.
kept() {
	_label=$1
	shift
	_bad=
	for _p; do
		grep -qxF "$_p" ca.list || _bad="$_bad casync:$_p"
		grep -qxF "$_p" st.list || _bad="$_bad stasync:$_p"
	done
	is "${_bad# }" "" "$_label: archived: $*"
}

# ---- single patterns at the top --------------------------------------------

L="unanchored name"
tree t && cx t 'foo\n'
try "$L" && {
	gone "$L" foo sub/foo sub/deep/foo sub/deep/deeper/foo x/foo x/sub/foo
	kept "$L" bar foo.d .caexclude
}

L="leading slash anchors"
tree t && cx t '/foo\n'
try "$L" && { gone "$L" foo; kept "$L" sub/foo x/foo sub/deep/foo; }

L="directory-only pattern takes the whole subtree"
tree t && cx t 'sub/\n'
try "$L" && { gone "$L" sub sub/foo sub/deep sub/deep/deeper/foo; kept "$L" x/sub x/sub/foo; }

L="unanchored directory name deep down"
tree t && cx t 'deep\n'
try "$L" && { gone "$L" sub/deep sub/deep/foo sub/deep/deeper; kept "$L" sub sub/foo; }

L="trailing slash does not match a file"
tree t && cx t 'foo/\nfoo.d/\n'
try "$L" && { gone "$L" foo.d foo.d/f; kept "$L" foo sub/foo; }

L="slash in the middle anchors"
tree t && cx t 'sub/foo\n'
try "$L" && { gone "$L" sub/foo; kept "$L" foo sub/deep/foo x/sub/foo; }

L="three components"
tree t && cx t 'sub/deep/foo\n'
try "$L" && { gone "$L" sub/deep/foo; kept "$L" foo sub/foo sub/deep/deeper/foo; }

L="star in a directory component"
tree t && cx t '*/foo\n'
try "$L" && { gone "$L" sub/foo x/foo; kept "$L" foo sub/deep/foo .hdir/foo; }

L="double star is a single component"
tree t && cx t '**/foo\n'
try "$L" && { gone "$L" sub/foo x/foo; kept "$L" foo sub/deep/foo x/sub/foo; }

L="sub/** leaves dot files"
tree t && cx t 'sub/**\n'
try "$L" && { gone "$L" sub/foo sub/deep; kept "$L" sub sub/.hid; }

L="star skips dot files"
tree t && cx t '*\n'
try "$L" && { gone "$L" foo sub x foo.d .hdir/foo; kept "$L" .hid .hdir .caexclude; }

L="dot star takes .caexclude too, whose rules still apply"
tree t && cx t '.*\nfoo\n'
try "$L" && { gone "$L" .caexclude .hid .hdir sub/.hid foo sub/foo; kept "$L" bar sub/bar; }

L="question mark"
tree t && cx t '?ar\n'
try "$L" && { gone "$L" bar sub/bar sub/deep/deeper/bar; kept "$L" baz foo; }

L="bracket range"
tree t && cx t '[a-b]*\n'
try "$L" && { gone "$L" bar baz a.log sub/bar; kept "$L" foo keep.log; }

L="bracket negation"
tree t && cx t '[!bk]*.log\n'
try "$L" && { gone "$L" a.log sub/a.log; kept "$L" keep.log sub/keep.log; }

# ---- negation ---------------------------------------------------------------

L="negation re-includes"
tree t && cx t 'foo\n!sub/foo\n'
try "$L" && { gone "$L" foo x/foo sub/deep/foo; kept "$L" sub/foo; }

L="negation before the positive line"
tree t && cx t '!sub/foo\nfoo\n'
try "$L" && { gone "$L" foo x/foo; kept "$L" sub/foo; }

L="unanchored negation"
tree t && cx t '*.log\n!keep.log\n'
try "$L" && { gone "$L" a.log sub/a.log; kept "$L" keep.log sub/keep.log sub/deep/keep.log; }

L="negated directory-only pattern"
tree t && mkdir -p t/d/d t/x/d && cx t '!d/\nd\n'
try "$L" && { gone "$L" x/d d/d; kept "$L" d; }

L="negation cannot reach into an excluded directory"
tree t && cx t 'sub\n!sub/foo\n'
try "$L" && { gone "$L" sub sub/foo x/sub; kept "$L" x x/foo; }

# ---- syntax ---------------------------------------------------------------------

L="comments, blank lines, blanks around patterns"
tree t && cx t '# foo\n\n  \t\n \t bar \t\n   #baz\n'
try "$L" && { gone "$L" bar sub/bar; kept "$L" foo baz; }

L="backslash escapes, CR kept in the pattern"
tree t && cx t '\\#x\nba\\z\nfoo\r\n'
try "$L" && { gone "$L" baz; kept "$L" foo bar; }

L="runs of slashes"
tree t && cx t '//foo\nsub//bar\nx///\n'
try "$L" && { gone "$L" foo sub/bar x; kept "$L" sub/foo sub/deep/bar; }

L="NUL ends a line, no newline at the end"
tree t && cx t 'foo\000bar'
try "$L" && { gone "$L" foo bar sub/foo sub/bar; kept "$L" baz; }

L="names are bytes (C locale)"
tree t && printf x >"t/$(printf '\303\251')" && printf x >t/ab && cx t '??\n'
try "$L" && { gone "$L" ab; kept "$L" foo; }

# ---- nesting ------------------------------------------------------------------------

L="three levels of .caexclude"
tree t && cx t '*.log\nbar\n' && cx t/sub '!keep.log\n' && cx t/sub/deep '/foo\nsub\n' &&
	mkdir -p t/sub/deep/deeper/sub t/sub/sub && cx t/sub/deep/deeper '!bar\n'
try "$L" && {
	gone "$L" a.log keep.log sub/a.log sub/deep/a.log bar sub/bar sub/deep/bar \
		sub/deep/foo sub/deep/deeper/sub
	kept "$L" sub/keep.log sub/deep/keep.log sub/deep/deeper/keep.log sub/deep/deeper/foo \
		sub/deep/deeper/bar sub/sub sub/.caexclude sub/deep/.caexclude
}

L="a subdirectory negates its parent's path rules"
tree t && cx t 'sub/foo\nsub/deep/\nsub/deep/foo\n' && cx t/sub '!foo\n!deep\n'
try "$L" && kept "$L" sub/foo sub/deep sub/deep/foo

L="anchored rules from two levels meet"
tree t && cx t 'sub/deep/deeper/foo\n' && cx t/sub/deep 'deeper/bar\n'
try "$L" && { gone "$L" sub/deep/deeper/foo sub/deep/deeper/bar; kept "$L" sub/deep/deeper/keep.log; }

L="a .caexclude left out by its parent still applies"
tree t && cx t '.caexclude\n' && cx t/sub 'bar\n'
try "$L" && { gone "$L" .caexclude sub/.caexclude sub/bar sub/deep/bar; kept "$L" bar sub/foo; }

L="symlinked .caexclude is followed"
tree t && rm t/.caexclude && printf 'foo\n' >t/rules && ln -s rules t/.caexclude
try "$L" && { gone "$L" foo sub/foo; kept "$L" .caexclude rules; }

L="through an index"
tree t && cx t 'foo\n!x/foo\n' && cx t/sub 'deep/\n'
run "$CASYNC" make --store=ca.castr ca.caidx t
run_ok "$L: make .caidx" "$STASYNC" make --store=st.castr st.caidx t &&
	same_file st.caidx ca.caidx "$L: .caidx equals casync's"

# ---- the feature flag ---------------------------------------------------------------

# --exclude-file=no: nothing is excluded and .caexclude files are archived
# like any file. Debian's casync 2 (snapshot 2+20201210) clears the flag in
# the records but still applies the files; upstream fixed that in 2022
# ("Respect --exclude-file=no option", 8da7f16). We do what the option
# says, so casync's archive is no oracle here: check the listing against
# the tree, the flags against casync's, and the bytes on a tree whose
# patterns match nothing.
L="--exclude-file=no"
tree t && cx t '*\n.*\n' && cx t/sub '*\n'
run_ok "$L: make" "$STASYNC" make --exclude-file=no st-no.catar t &&
	run_ok "$L: list" "$STASYNC" list st-no.catar && {
	awk '{ print $2 }' "$T/out" | LC_ALL=C sort >st.all
	(cd t && find . | sed 's|^\./||' | LC_ALL=C sort) >tree.all
	is "$(cat st.all)" "$(cat tree.all)" "$L: every entry archived, .caexclude files included"
	"$CASYNC" make --exclude-file=no ca-no.catar t >/dev/null 2>&1
	is "$(hex_at st-no.catar 16 8)" "$(hex_at ca-no.catar 16 8)" "$L: same feature flags as casync's"
	is "$(hex_at st-no.catar 16 8)" "26feefff010000a0" "$L: the exclude-file bit is clear"
	if "$CASYNC" list ca-no.catar | grep -q ' foo$'; then
		diag "(casync itself archived foo: it honours --exclude-file=no)"
	else
		diag "(as expected, Debian's casync still applied the .caexclude files)"
	fi
}
tree t && cx t 'nomatch\n' && cx t/sub 'nothing/here\n!neither\n'
L="--exclude-file=no, patterns that match nothing"
try "$L" --exclude-file=no && kept "$L" .caexclude foo sub/.caexclude

L="--with=unix keeps the exclude-file flag"
tree t && cx t '*\n.*\n' && cx t/sub '*\n'
try "$L" --with=unix && gone "$L" foo sub .hid .caexclude

# ---- errors: casync refuses these, and so must we --------------------------------------

for bad in '!' '/' '!/' './foo' 'sub/../foo' 'a/./b' 'ok\n..\n'; do
	tree t && cx t "$bad\n"
	try "invalid pattern '$bad'" || grep -q "t/.caexclude: line [12]: invalid pattern" "$T/err" ||
		{ not_ok "invalid pattern '$bad': message names file and line"; show_run; }
done

tree t && cx t/sub '!\n'
try "invalid pattern in a subdirectory" ||
	check 'grep -q "t/sub/.caexclude: line 1" "$T/err"' "the message names t/sub/.caexclude"

tree t && awk 'BEGIN { s = "#"; for (i = 0; i < 16; i++) s = s s; print substr(s, 1, 65535); print "foo" }' >t/.caexclude
try "a line of 65535 bytes" && gone "a line of 65535 bytes" foo

tree t && awk 'BEGIN { s = "#"; for (i = 0; i < 16; i++) s = s s; print s; print "foo" }' >t/.caexclude
try "a line of 65536 bytes" || check 'grep -q "t/.caexclude: line 1 is longer" "$T/err"' \
	"line too long: the message names the file"

tree t && rm t/.caexclude && mkdir t/.caexclude
try "a directory named .caexclude" ||
	check 'grep -q "t/.caexclude: cannot read" "$T/err"' "directory: the message names it"

tree t && rm t/.caexclude && ln -s nowhere t/.caexclude
try "a dangling .caexclude symlink" ||
	check 'grep -q "t/.caexclude: cannot open" "$T/err"' "dangling symlink: the message names it"

# Deliberately stricter than casync, which reads a .caexclude of any size.
tree t && awk 'BEGIN { s = "# 1234567890"; for (i = 0; i < 11; i++) s = s "\n" s; for (i = 0; i < 60; i++) print s }' >t/.caexclude
run "$STASYNC" make big.catar t
check '[ "$rc" -eq 1 ] && [ ! -e big.catar ] && grep -q "t/.caexclude: larger than 1048576 bytes" "$T/err"' \
	"a .caexclude over 1 MiB is refused, naming the file" || show_run

done_testing
