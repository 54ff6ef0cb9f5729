#!/bin/sh
# The static binary is one self-contained ELF file: statically linked, no
# dynamic section, no program interpreter, stripped, within the size budget,
# with mimalloc as its malloc, and it runs: for x86_64, or (STATIC_ARCH) an
# ARMv8 AArch64 or ARMv7-A hard-float executable, run under qemu-user.
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
	case $STATIC_ARCH in
	x86_64) machine=X86-64 ;;
	aarch64) machine=AArch64 ;;
	armv7) machine=ARM ;;
	esac
	check 'grep -q "Machine:.* $machine\$" "$T/hdr"' "an $STATIC_ARCH executable ($machine)" ||
		diag_file "readelf -h" "$T/hdr"
	if [ "$STATIC_ARCH" = armv7 ]; then
		# 32-bit, A profile, arguments in VFP registers (hard-float). Its
		# Tag_CPU_arch is the highest of its objects': v8, from libgcrypt's
		# ARMv8 Crypto Extensions code, which runs only where the CPU has
		# them; that it runs on an ARMv7-A CPU is checked below.
		readelf -A "$STASYNC_STATIC" >"$T/attr" 2>&1
		check 'grep -q "Class: *ELF32" "$T/hdr" &&
			grep -q "Tag_CPU_arch_profile: Application" "$T/attr" &&
			grep -q "Tag_ABI_VFP_args: VFP registers" "$T/attr"' \
			"32-bit ARM, A profile, hard-float (readelf -A)" || diag_file "readelf -A" "$T/attr"
	fi
else
	skip "readelf -d: no dynamic section" "readelf not installed"
fi

size=$(file_size "$STASYNC_STATIC")
diag "size: $size bytes"
check '[ "$size" -le "$budget" ]' "at most 4 MiB ($size bytes)"

run_ok "--version runs" env -i "$S" --version
check 'grep -q "^stasync " "$T/out"' "--version names stasync" || show_run
# Its malloc is mimalloc's: musl's own serialises the threads (see
# scripts/build-static.sh). A build from the upstream pins has neither
# mimalloc nor nghttp2 (static/deps.lock says why): HTTP/2 tells them apart.
if grep -q "HTTP/2" "$T/out"; then
	check 'grep -q "^malloc: mimalloc " "$T/out"' "malloc is mimalloc's ($(grep '^malloc:' "$T/out"))" ||
		show_run
else
	skip "malloc is mimalloc's" "a build without nghttp2 (the upstream pins): without mimalloc too"
fi

# ARM: the oldest CPU of the kind runs it too (qemu's default CPU has every
# extension): a Cortex-A8 (ARMv7-A, VFPv3, NEON) or a Cortex-A53 (ARMv8.0-A)
case $STATIC_ARCH in
armv7) cpu=cortex-a8 ;;
aarch64) cpu=cortex-a53 ;;
*) cpu= ;;
esac
if [ -n "$cpu" ]; then
	mkdata mixed 101 3000000 blob
	run_ok "make on a $cpu" env QEMU_CPU=$cpu "$S" make --store=s.castr a.caibx blob
	run_ok "make on qemu's default CPU" "$S" make --store=s.castr b.caibx blob
	same_file a.caibx b.caibx "the same index on both"
	run_ok "extract on a $cpu" env QEMU_CPU=$cpu "$S" extract --store=s.castr a.caibx blob.out
	same_file blob.out blob "extracted copy equals the original (cmp)"
fi

done_testing
