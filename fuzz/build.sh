#!/bin/sh
# fuzz/build.sh — build the libFuzzer binaries into fuzz/out/.
#
#   fuzz/build.sh [BUILDDIR]
#
# BUILDDIR is a configured build tree (its config.h is used; default: the
# source tree). Needs clang with libFuzzer. The library is compiled with
# ASan + UBSan and coverage instrumentation, each fuzz/fuzz-*.c harness
# linked against it: fuzz/out/fuzz-index, fuzz/out/fuzz-chunk, …
# Environment: CC (default clang), EXTRA_CFLAGS (appended, e.g.
# -fno-sanitize=float-cast-overflow to look past a known finding), FUZZ_OUT
# (output directory instead of fuzz/out).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src}" && pwd)
out=${FUZZ_OUT:-$src/fuzz/out}
CC=${CC:-clang}

if [ ! -f "$build/config.h" ]; then
	echo "fuzz/build.sh: no config.h in $build: run ./configure first" >&2
	exit 1
fi

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter"
extra=${EXTRA_CFLAGS:-}
cppflags="-I$src/include -I$src/lib -include $build/config.h"
libs="-lzstd -llzma -lz -lexpat -lgcrypt -lm -lpthread"
if grep -q '^#define HAVE_CURL 1' "$build/config.h"; then
	cppflags="$cppflags $(pkg-config --cflags libcurl)"
	libs="$libs $(pkg-config --libs libcurl)"
fi

mkdir -p "$out/obj"
# Nothing built here belongs in git.
printf '*\n' >"$out/.gitignore"

objs=
for c in "$src"/lib/*.c; do
	o=$out/obj/$(basename "$c" .c).o
	echo "  CC      lib/$(basename "$c")"
	# shellcheck disable=SC2086 # word splitting of the flag lists is intended
	$CC -std=gnu11 $cflags $sanitize -fsanitize=fuzzer-no-link $extra $cppflags -c "$c" -o "$o"
	objs="$objs $o"
done

for h in "$src"/fuzz/fuzz-*.c; do
	name=$(basename "$h" .c)
	[ "$name" = fuzz-replay ] && continue
	echo "  CCLD    fuzz/out/$name"
	# shellcheck disable=SC2086
	$CC -std=gnu11 $cflags $sanitize -fsanitize=fuzzer $extra $cppflags "$h" $objs $libs \
		-o "$out/$name"
done
echo "fuzzers in $out; run e.g.: $out/fuzz-index -max_total_time=60 $src/fuzz/corpus/fuzz-index"
