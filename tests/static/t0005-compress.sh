#!/bin/sh
# xz and gzip through the static liblzma and zlib of scripts/build-static.sh
# alone, apart from stasync's code (tests/cli/t0007-compression.sh checks the
# binary's chunks against casync's): tests/static/compress-probe.c, linked
# statically against the cached prefix, codes data the way casync does (xz:
# preset 6 with CRC64; gzip: default level). The libraries must be the
# versions Debian's casync links, and every chunk file Debian's casync writes
# with --compression=xz|gzip must come out byte for byte the same when the
# probe compresses that chunk's data again. For ARM (STATIC_ARCH), the probe
# is built for it and runs under qemu-user.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"

find_prefix
pc() { PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH='' pkg-config --static "$@" liblzma zlib; }

# shellcheck disable=SC2046
run_ok "compress-probe links statically against the prefix" \
	"$STATIC_CC" -O2 -static $(pc --cflags) -o probe "$top_srcdir/tests/static/compress-probe.c" $(pc --libs)
[ -x probe ] || bail_out "no probe"
un() { case $1 in xz) echo unxz ;; gzip) echo gunzip ;; esac; }
if command -v readelf >/dev/null 2>&1; then
	check '! readelf -d probe 2>/dev/null | grep -q NEEDED' "compress-probe has no dynamic section"
fi
run_ok "compress-probe --versions" target ./probe --versions
is "$(cat "$T/out")" "liblzma 5.4.1 zlib 1.2.13" "liblzma 5.4.1 and zlib 1.2.13, as Debian's casync links"

# round trips, the empty input and one byte included
mkdata mixed 501 3000000 mixed.bin
: >empty.bin
printf x >one.bin
for f in mixed.bin empty.bin one.bin; do
	for z in xz gzip; do
		target ./probe "$z" <"$f" >"$f.$z" 2>"$T/err" && target ./probe "$(un "$z")" <"$f.$z" >"$f.$z.out" 2>>"$T/err"
		check 'cmp -s "$f" "$f.$z.out"' "$z round trip: $f" || diag_file stderr "$T/err"
	done
done
printf 'not xz at all' >junk
run target ./probe unxz <junk
check '[ "$rc" -eq 1 ]' "unxz refuses what is not xz" || show_run
run target ./probe gunzip <junk
check '[ "$rc" -eq 1 ]' "gunzip refuses what is not gzip" || show_run

# Debian's casync, the oracle: its chunk files against the probe's output
if [ -z "$CASYNC" ] || [ ! -x "$CASYNC" ]; then
	skip "chunks identical to casync's (xz)" "casync not installed"
	skip "chunks identical to casync's (gzip)" "casync not installed"
	done_testing
fi
mkdata mixed 502 4000000 blob
cat "$top_srcdir"/lib/*.c "$top_srcdir"/lib/*.h >>blob
for z in xz gzip; do
	run_ok "casync make --compression=$z" "$CASYNC" make --compression="$z" --store="store.$z" "blob.$z.caibx" blob
	n=0 bad=0
	for c in $(chunk_list "store.$z"); do
		n=$((n + 1))
		if ! target ./probe "$(un "$z")" <"store.$z/$c" >chunk 2>"$T/err" ||
			! target ./probe "$z" <chunk >chunk.again 2>>"$T/err" ||
			! cmp -s "store.$z/$c" chunk.again; then
			bad=$((bad + 1))
			[ "$bad" -gt 3 ] || diag "$c: not reproduced $(cat "$T/err")"
		fi
	done
	check '[ "$n" -gt 10 ] && [ "$bad" -eq 0 ]' \
		"chunks identical to casync's ($z): $n chunk files, $bad different"
done

done_testing
