#!/bin/sh
# `list`, `mtree` and `stat` print exactly what casync prints (stdout and
# exit status) for a .catar, a .caidx and a directory, with and without a
# PATH inside the archive, for archives made with various feature sets and
# listed with various --with/--without masks.
#
# Known casync faults, where only stdout is compared (casync exits 1):
#  - `stat DIRECTORY` without the xattrs feature ("Failed to enumerate
#    extended attributes") — the output before the failure is complete;
#  - `--recursive=no list DIRECTORY` stops after two lines ("Failed to seek
#    to next sibling"), so it is not compared at all.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync

# stat prints local time: make it a zone with an offset (both tools read TZ).
TZ=Europe/Berlin
export TZ

# chattr +a/+i files cannot be removed by lib.sh's cleanup: undo them first.
# shellcheck disable=SC2016 # expanded on exit
at_exit 'chattr -R -i -a "$T/tree" >/dev/null 2>&1'

mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"

# More of what the listings escape or show: names and targets with bytes
# that mtree escapes, xattr names and values with them, setgid without x,
# a sticky directory without x for others, chattr +a / +i (sappend and
# simmutable), uids with and without names.
(
	cd tree || exit 1
	printf 'y' >"odd names/pct%=eq"
	ln -s "target with space#and\\back" "odd names/odd-link"
	printf 'z' >setgid-nox
	chmod 2710 setgid-nox
	mkdir sticky-nox
	chmod 1770 sticky-nox
	printf 'a' >append-only
	printf 'i' >immutable
	touch -d '1970-01-01 00:00:01' setgid-nox
	touch -d '2038-01-19 03:14:08.000000001' sticky-nox
) || bail_out "could not extend the test tree"
if command -v setfattr >/dev/null && setfattr -n 'user.sp ace#' -v 'v\ v#' tree/setgid-nox 2>/dev/null; then
	:
else
	diag "no xattrs with odd names here"
fi
if [ "$(id -u)" -eq 0 ]; then
	chown 1000:100 tree/append-only
	chown 0:65534 tree/immutable
fi
if command -v chattr >/dev/null && chattr +a tree/append-only 2>/dev/null; then
	chattr +i tree/immutable 2>/dev/null || diag "chattr +i failed"
	chattr +S +D tree/sticky-nox 2>/dev/null || diag "chattr +S +D failed"
else
	diag "no chattr +a here"
fi
touch -d '2012-12-12 12:12:12' tree "tree/odd names"

# compare DESC [stdout-only] ARGS...: both tools run with ARGS; stdout and
# exit status must be identical ("stdout-only": stdout alone).
compare() {
	_desc=$1
	shift
	_only_out=
	if [ "$1" = stdout-only ]; then
		_only_out=1
		shift
	fi
	run "$CASYNC" "$@"
	_ca_rc=$rc
	cp "$T/out" "$T/ca.out"
	run "$STASYNC" "$@"
	if cmp -s "$T/out" "$T/ca.out" && { [ -n "$_only_out" ] || [ "$rc" -eq "$_ca_rc" ]; }; then
		ok "$_desc"
		return 0
	fi
	not_ok "$_desc"
	diag "command: $*" "casync: exit $_ca_rc; ours: exit $rc"
	diff "$T/ca.out" "$T/out" >"$T/diff.out" 2>&1
	diag_file "diff casync ours" "$T/diff.out"
	diag_file "our stderr" "$T/err"
	return 1
}

# compare_paths DESC ARGS_BEFORE_PATH...: one check over every path in
# $paths (newline-separated): the first difference is shown.
compare_paths() {
	_desc=$1
	shift
	_bad=
	_n=0
	_old_ifs=$IFS
	IFS='
'
	for _p in $paths; do
		IFS=$_old_ifs
		[ "$_p" = '<root>' ] && _p=
		_n=$((_n + 1))
		run "$CASYNC" "$@" "$_p"
		_ca_rc=$rc
		cp "$T/out" "$T/ca.out"
		run "$STASYNC" "$@" "$_p"
		if ! cmp -s "$T/out" "$T/ca.out" || [ "$rc" -ne "$_ca_rc" ]; then
			_bad="$_p"
			break
		fi
	done
	IFS=$_old_ifs
	if [ -z "$_bad" ] && [ "$_n" -gt 0 ]; then
		ok "$_desc ($_n paths)"
		return 0
	fi
	not_ok "$_desc"
	diag "command: $* '$_bad'" "casync: exit $_ca_rc; ours: exit $rc"
	diff "$T/ca.out" "$T/out" >"$T/diff.out" 2>&1
	diag_file "diff casync ours" "$T/diff.out"
	diag_file "our stderr" "$T/err"
	return 1
}

# Paths inside the archive: every kind of entry, odd names, spellings
# casync accepts ("/", "/sub/", "sub//deeper"), and ones that are not there
# (both must fail, printing nothing).
paths="<root>
/
hello.txt
empty-file
link-rel
link-abs
fifo
socket
null
loop-blk
sub
/sub/
sub//deeper
sub/random.bin
sub/deeper/mixed.bin
sub/deeper/deepest/zeros
empty
dir-0700
hardlink-of-hello
odd names
odd names/with space
odd names/back\\slash
odd names/pct%=eq
odd names/odd-link
odd names/$(printf 'new\nline')
odd names/ünïcödé-日本
setgid-nox
sticky-nox
append-only
immutable
no-such-file
sub/no-such-file
./hello.txt
hello.txt/x"

# ---- archives made with several feature sets ------------------------------
n=0
for make_opts in "" "--with=unix --with=32bit-uids" "--without=all" "--without=user-names --with=sec-time" \
	"--digest=sha256" "--exclude-nodump=no" "--with=best --without=acl"; do
	n=$((n + 1))
	label="archive made with ${make_opts:-defaults}"
	# shellcheck disable=SC2086 # word splitting of the options is wanted
	run "$CASYNC" make $make_opts "a$n.catar" tree
	if [ "$rc" -ne 0 ]; then
		skip "$label" "casync make failed: $(head -n 1 "$T/err")"
		continue
	fi
	# shellcheck disable=SC2086
	run "$CASYNC" make $make_opts --store=a$n.castr "a$n.caidx" tree
	[ "$rc" -eq 0 ] || bail_out "casync make $make_opts a$n.caidx failed"

	for verb in list mtree stat; do
		compare_paths "$label: $verb .catar PATH" "$verb" "a$n.catar"
	done
	for verb in list mtree stat; do
		compare "$label: $verb .caidx" --store=a$n.castr "$verb" "a$n.caidx"
		compare "$label: $verb .caidx sub/random.bin" --store=a$n.castr "$verb" "a$n.caidx" sub/random.bin
		compare "$label: $verb .caidx odd names" --store=a$n.castr "$verb" "a$n.caidx" "odd names"
	done
done

# ---- one archive, listed with several masks -------------------------------
for list_opts in "--without=user-names" "--with=unix" "--without=all" "--with=16bit-uids" \
	"--with=acl" "--with=sec-time" "--without=flag-append" "--without=fat-attrs" \
	"--digest=sha256" "--exclude-nodump=no" "--with=unix --exclude-nodump=no"; do
	for verb in list mtree stat; do
		# shellcheck disable=SC2086
		compare_paths "listed with $list_opts: $verb .catar PATH" $list_opts "$verb" a1.catar
	done
	# shellcheck disable=SC2086
	compare "listed with $list_opts: mtree .caidx" $list_opts --store=a1.castr mtree a1.caidx
done
for verb in list mtree stat; do
	compare "--recursive=no $verb .catar" --recursive=no "$verb" a1.catar
	compare "--recursive=no $verb .catar sub" --recursive=no "$verb" a1.catar sub
	compare "--recursive=no $verb .caidx" --recursive=no --store=a1.castr "$verb" a1.caidx
done

# ---- the directory itself -------------------------------------------------
for opts in "" "--without=user-names" "--with=unix" "--without=all" "--with=sec-time" \
	"--without=fat-attrs" "--without=chattr" "--with=quota-projid --with=xattrs" \
	"--without=quota-projid" "--digest=sha256" "--exclude-nodump=no" \
	"--with=unix --exclude-nodump=no" "--with=best --without=acl"; do
	label="directory, ${opts:-defaults}"
	# shellcheck disable=SC2086
	compare "$label: list" $opts list tree
	# shellcheck disable=SC2086
	compare "$label: mtree" $opts mtree tree
	case " $opts " in
	*" --with="*) case " $opts " in *xattrs*|*best*) stat_mode= ;; *) stat_mode=stdout-only ;; esac ;;
	*" --without=all "*) stat_mode=stdout-only ;;
	*) stat_mode= ;;
	esac
	# shellcheck disable=SC2086
	compare "$label: stat" $stat_mode $opts stat tree
done
# With no argument: the current directory.
if (cd tree && run "$CASYNC" list && cp "$T/out" "$T/ca-cwd.out" && run "$STASYNC" list &&
	cmp -s "$T/out" "$T/ca-cwd.out"); then
	ok "list with no argument lists the current directory"
else
	not_ok "list with no argument lists the current directory"
fi

# ---- standard input and refusals --------------------------------------------
for verb in list mtree stat; do
	"$CASYNC" "$verb" - <a1.catar >"$T/ca.out" 2>/dev/null
	_ca_rc=$?
	"$STASYNC" "$verb" - <a1.catar >"$T/out" 2>"$T/err"
	rc=$?
	if cmp -s "$T/out" "$T/ca.out" && [ "$rc" -eq "$_ca_rc" ]; then
		ok "$verb - < .catar"
	else
		not_ok "$verb - < .catar"
		diag_file "our stderr" "$T/err"
	fi
done
"$CASYNC" stat - sub/deeper <a1.catar >"$T/ca.out" 2>/dev/null
"$STASYNC" stat - sub/deeper <a1.catar >"$T/out" 2>"$T/err"
if cmp -s "$T/out" "$T/ca.out"; then
	ok "stat - PATH < .catar"
else
	not_ok "stat - PATH < .catar"
	diag_file "our stderr" "$T/err"
fi

cp a1.catar not-an-archive.bin
for verb in list mtree stat; do
	compare "$verb of a file named neither .catar nor .caidx is refused" "$verb" not-an-archive.bin
	compare "$verb --what=blob is refused" --what=blob "$verb" a1.catar
	compare "$verb of a missing file fails" "$verb" no-such.catar
	compare "$verb DIRECTORY PATH is refused" "$verb" tree sub
	compare "$verb with three arguments is refused" "$verb" a1.catar sub extra
	compare "$verb --what=directory of a .catar is refused" --what=directory "$verb" a1.catar
	compare "$verb --what=archive of a directory is refused" --what=archive "$verb" tree
	compare "$verb --what=archive of a file with another name" --what=archive "$verb" not-an-archive.bin
done

done_testing
