#!/bin/sh
# The static binary is one self-contained ELF file: statically linked, no
# dynamic section, no program interpreter, stripped, within the size budget,
# and it runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"
require_static

# shellcheck disable=SC2034 # used in check's eval
budget=4194304 # 4 MiB

if command -v file >/dev/null 2>&1; then
	f=$(file -L "$STASYNC_STATIC")
	case $f in
	*"statically linked"*) ok "file: statically linked" ;;
	*) not_ok "file: statically linked"; diag "$f" ;;
	esac
	case $f in
	*", stripped"*) ok "file: stripped" ;;
	*) not_ok "file: stripped"; diag "$f" ;;
	esac
else
	skip "file: statically linked" "file(1) not installed"
	skip "file: stripped" "file(1) not installed"
fi

if command -v readelf >/dev/null 2>&1; then
	readelf -d "$STASYNC_STATIC" >"$T/dyn" 2>&1
	check 'grep -q "There is no dynamic section" "$T/dyn" && ! grep -q NEEDED "$T/dyn"' \
		"readelf -d: no dynamic section" || diag_file "readelf -d" "$T/dyn"
	readelf -lW "$STASYNC_STATIC" >"$T/phdr" 2>&1
	check '! grep -q -e INTERP -e "Requesting program interpreter" "$T/phdr"' \
		"readelf -l: no program interpreter" || diag_file "readelf -l" "$T/phdr"
	readelf -h "$STASYNC_STATIC" >"$T/hdr" 2>&1
	check 'grep -q "Machine:.*X86-64" "$T/hdr"' "an x86_64 executable" || diag_file "readelf -h" "$T/hdr"
else
	skip "readelf -d: no dynamic section" "readelf not installed"
fi

size=$(file_size "$STASYNC_STATIC")
diag "size: $size bytes"
check '[ "$size" -le "$budget" ]' "at most 4 MiB ($size bytes)"

run_ok "--version runs" env -i "$STASYNC_STATIC" --version
check 'grep -q "^stasync " "$T/out"' "--version names stasync" || show_run

done_testing
