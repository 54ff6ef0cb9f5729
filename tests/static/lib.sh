# shellcheck shell=sh
# Shared setup for the tests of the static binary (tests/static/t*.sh):
# the TAP helpers and temp directory of tests/cli/lib.sh, plus
#
#   STATIC_ARCH     its architecture: x86_64 (default), aarch64 or armv7; an
#                   ARM binary runs under qemu-user (Debian's qemu-user-static)
#   STASYNC_STATIC  the static binary under test (default $top_builddir/stasync-static,
#                   or stasync-static-ARCH, made by `make static [STATIC_ARCH=ARCH]`
#                   / scripts/build-static.sh [--arch=ARCH])
#   STATIC_QEMU     the emulator for an ARM binary (default qemu-aarch64-static
#                   or qemu-arm-static); empty for x86_64
#   NOSYS           tests/static/nosys, the "old kernel" seccomp helper; built
#                   here with ${CC:-cc} when `make check` has not built it
#
# After require_static, $S runs the binary under test (through a wrapper
# that execs the emulator, for ARM), STATIC_CC is the musl compiler for its
# architecture and target CMD... runs a probe built with it.
#
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

: "${STATIC_ARCH:=x86_64}"
case $STATIC_ARCH in
x86_64) _static_bin=stasync-static STATIC_CC=musl-gcc _static_qemu='' ;;
aarch64) _static_bin=stasync-static-aarch64 STATIC_CC=aarch64-linux-musl-gcc _static_qemu=qemu-aarch64-static ;;
armv7) _static_bin=stasync-static-armv7 STATIC_CC=arm-linux-musleabihf-gcc _static_qemu=qemu-arm-static ;;
*) bail_out "STATIC_ARCH must be x86_64, aarch64 or armv7, not '$STATIC_ARCH'" ;;
esac
: "${STASYNC_STATIC:=$top_builddir/$_static_bin}"
: "${STATIC_QEMU=$_static_qemu}"
export STATIC_ARCH STASYNC_STATIC STATIC_QEMU

# require_static: skip unless the binary (and, for ARM, its emulator) is
# there; then set S.
require_static() {
	[ -x "$STASYNC_STATIC" ] ||
		skip_all "no static binary at $STASYNC_STATIC (make static, or scripts/build-static.sh)"
	S=$STASYNC_STATIC
	[ -n "$STATIC_QEMU" ] || return 0
	find_emulator
	S=$T/bin/stasync
	mkdir -p "$T/bin"
	# shellcheck disable=SC2016 # $0 and $@ of the wrapper
	printf '#!/bin/sh\nexec "%s" -0 "$0" "%s" "$@"\n' "$STATIC_QEMU" "$STASYNC_STATIC" >"$S"
	chmod +x "$S"
}

# find_emulator: for ARM, the emulator's full path in STATIC_QEMU, or skip
# the whole test.
find_emulator() {
	case $STATIC_QEMU in
	'' | /*) ;;
	*) STATIC_QEMU=$(command -v "$STATIC_QEMU") ||
		skip_all "no $_static_qemu to run $STATIC_ARCH programs (apt-get install qemu-user-static)" ;;
	esac
}

# target CMD ARGS...: run a program built for STATIC_ARCH (under the emulator).
target() {
	if [ -n "$STATIC_QEMU" ]; then
		"$STATIC_QEMU" "$@"
	else
		"$@"
	fi
}

# find_prefix: set prefix to the cached library prefix of STATIC_ARCH, or
# skip the whole test when it is not built (or the compiler for it is missing).
find_prefix() {
	command -v "$STATIC_CC" >/dev/null 2>&1 || skip_all "$STATIC_CC not installed"
	find_emulator
	# shellcheck disable=SC2034 # for the caller
	prefix=$("$top_srcdir/scripts/build-static.sh" --arch="$STATIC_ARCH" --print-prefix 2>"$T/prefix.err") ||
		skip_all "no built library prefix for $STATIC_ARCH (make static STATIC_ARCH=$STATIC_ARCH first): $(cat "$T/prefix.err")"
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
