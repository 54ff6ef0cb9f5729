# shellcheck shell=sh
# Shared setup for the tests of the static binary (tests/static/t*.sh):
# the TAP helpers and temp directory of tests/cli/lib.sh, plus
#
#   STASYNC_STATIC  the static binary under test (default $top_builddir/stasync-static,
#                   made by `make static` / scripts/build-static.sh)
#   NOSYS           tests/static/nosys, the "old kernel" seccomp helper; built
#                   here with ${CC:-cc} when `make check` has not built it
#
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

: "${STASYNC_STATIC:=$top_builddir/stasync-static}"
export STASYNC_STATIC

require_static() {
	[ -x "$STASYNC_STATIC" ] ||
		skip_all "no static binary at $STASYNC_STATIC (make static, or scripts/build-static.sh)"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root ($*)"
}

# find_nosys hard|soft: set NOSYS to a working helper, or skip the whole test
# (with "soft": return 1 and leave the reason in NOSYS_WHY instead).
find_nosys() {
	NOSYS=$top_builddir/tests/static/nosys
	NOSYS_WHY=
	if [ ! -x "$NOSYS" ]; then
		NOSYS=$T/nosys
		${CC:-cc} -O2 -o "$NOSYS" "$top_srcdir/tests/static/nosys.c" 2>"$T/cc.err" ||
			{ diag_file "cc nosys.c" "$T/cc.err"; NOSYS_WHY="cannot build tests/static/nosys.c"; }
	fi
	if [ -z "$NOSYS_WHY" ]; then
		"$NOSYS" --self-test >"$T/selftest.out" 2>&1
		case $? in
		0) return 0 ;;
		77) NOSYS_WHY="seccomp filters unavailable here: $(cat "$T/selftest.out")" ;;
		*) diag_file "nosys --self-test" "$T/selftest.out"; bail_out "the nosys filter does not work" ;;
		esac
	fi
	[ "${1:-}" = soft ] && return 1
	skip_all "$NOSYS_WHY"
}

# tree_same A B DESC: the two trees hold the same names, types and file
# contents (diff -r; fifos, sockets and device nodes have no contents to
# compare; diff's verdict on devices was seen to vary between runs, so
# their major:minor numbers are compared here instead) and empty-file is
# chattr +d, so archives leave it out.
tree_same() {
	(cd "$1" && find . \( -type b -o -type c \) -exec stat -c '%n %F %t:%T' {} + | sort) >"$T/dev.a"
	(cd "$2" && find . \( -type b -o -type c \) -exec stat -c '%n %F %t:%T' {} + | sort) >"$T/dev.b"
	if ! cmp -s "$T/dev.a" "$T/dev.b"; then
		not_ok "$3"
		diag_file "device nodes of $1" "$T/dev.a"
		diag_file "device nodes of $2" "$T/dev.b"
		return 1
	fi
	diff -r --no-dereference -x empty-file "$1" "$2" 2>&1 |
		grep -v -e '^File .* is a fifo while file .* is a fifo$' \
			-e '^File .* is a socket while file .* is a socket$' \
			-e '^File .* is a character special file while file .* is a character special file$' \
			-e '^File .* is a block special file while file .* is a block special file$' >"$T/diff.out"
	if [ -s "$T/diff.out" ]; then
		not_ok "$3"
		diag_file "diff -r $1 $2" "$T/diff.out"
		return 1
	fi
	ok "$3"
}
