#!/bin/sh
# The static libgcrypt of scripts/build-static.sh keeps its assembly for the
# architecture (STATIC_ARCH): tests/static/gcrypt-probe.c, linked statically
# against the cached prefix, prints libgcrypt's configuration
# (GCRYCTL_PRINT_CONFIG) and its digests, run natively or under qemu-user.
#
#   x86_64   SHA-256 and SHA-512 in SSSE3/AVX/AVX2 assembly
#   aarch64  SHA-256 (and SHA-1) with the ARMv8 Crypto Extensions; libgcrypt
#            1.10 has no AArch64 SHA-512 code: SHA-512/256 is the C code
#   armv7    SHA-512 in NEON, SHA-256 with the ARMv8 Crypto Extensions in
#            AArch32 state (an ARMv8 CPU running 32-bit code)
#
# The hwflist says which of these the CPU it ran on (under qemu: the
# emulated CPU) offers; the speeds are shown as diagnostics only (under
# emulation they say nothing about real hardware).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"

find_prefix
pc() { PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH='' pkg-config --static "$@" libgcrypt; }

# shellcheck disable=SC2046
run_ok "gcrypt-probe links statically against the prefix" \
	"$STATIC_CC" -O2 -static $(pc --cflags) -o probe "$top_srcdir/tests/static/gcrypt-probe.c" $(pc --libs)
[ -x probe ] || bail_out "no probe"

run_ok "GCRYCTL_PRINT_CONFIG" target ./probe config
cp "$T/out" config
diag_file "libgcrypt's configuration ($STATIC_ARCH${STATIC_QEMU:+, under $(basename "$STATIC_QEMU")})" config
check 'grep -q "^digests:.*:sha256:sha512:" config' "SHA-256 and SHA-512 built in" || diag_file config config

# what must be in the library for this architecture: assembly symbols
case $STATIC_ARCH in
x86_64) cpu=x86 mpi=amd64/ syms="_gcry_sha256_transform_amd64_avx2 _gcry_sha512_transform_amd64_avx2" ;;
aarch64) cpu=arm mpi=aarch64/ syms="_gcry_sha256_transform_armv8_ce _gcry_sha1_transform_armv8_ce" ;;
armv7) cpu=arm mpi=arm/ syms="_gcry_sha512_transform_armv7_neon _gcry_sha256_transform_armv8_ce" ;;
esac
check 'grep -q "^cpu-arch:$cpu:" config' "cpu-arch:$cpu" || diag_file config config
check 'grep -q "^mpi-asm:$mpi" config' "mpi-asm: $mpi assembly" || diag_file config config
readelf -sW probe >"$T/syms" 2>&1
for s in $syms; do
	check 'grep -q " $s\$" "$T/syms"' "assembly linked in: $s"
done

# the features found at run time
hwf=$(sed -n 's/^hwflist://p' config)
diag "hwflist: ${hwf:-(none)}"
case $STATIC_ARCH in
aarch64 | armv7)
	check 'case ":$hwf" in *:arm-neon:*) true ;; *) false ;; esac' "hwflist has arm-neon"
	if [ -n "$STATIC_QEMU" ]; then
		# qemu's default CPU for user mode ("max") has the Crypto Extensions
		check 'case ":$hwf" in *:arm-sha2:*) true ;; *) false ;; esac' \
			"hwflist has arm-sha2 (qemu's CPU has the ARMv8 Crypto Extensions)"
	fi
	;;
esac
# an older CPU: what libgcrypt finds there, and the digests it makes with it
case $STATIC_ARCH in
armv7) cpu=cortex-a8 ;; # ARMv7-A with NEON, no Crypto Extensions
aarch64) cpu=cortex-a53 ;; # ARMv8.0-A; qemu's model has the optional Crypto Extensions
*) cpu= ;;
esac
if [ -n "$cpu" ] && [ -n "$STATIC_QEMU" ]; then
	run_ok "hwflist on a $cpu" env QEMU_CPU=$cpu "$STATIC_QEMU" ./probe hwflist
	diag "$cpu: $(cat "$T/out")"
	case $cpu in
	cortex-a8) check 'grep -q "^hwflist:arm-neon:$" "$T/out"' "$cpu: NEON only" ;;
	cortex-a53) check 'grep -q "^hwflist:arm-neon:arm-aes:arm-sha1:arm-sha2:arm-pmull:$" "$T/out"' \
		"$cpu: NEON and the Crypto Extensions" ;;
	esac
fi

# digests: the same as the host's tools, with and without the CPU features
mkdata mixed 601 5000000 data
run_ok "sha256 of 5 MB" target ./probe digest sha256 data
is "$(cat "$T/out")" "$(sha256sum data | cut -d' ' -f1)" "sha256 equals sha256sum's"
if [ -n "$cpu" ] && [ -n "$STATIC_QEMU" ]; then
	run_ok "sha256 on a $cpu" env QEMU_CPU=$cpu "$STATIC_QEMU" ./probe digest sha256 data
	is "$(cat "$T/out")" "$(sha256sum data | cut -d' ' -f1)" "$cpu: sha256 equals sha256sum's"
fi
if command -v openssl >/dev/null 2>&1 && openssl dgst -sha512-256 data >"$T/ossl" 2>/dev/null; then
	run_ok "sha512-256 of 5 MB" target ./probe digest sha512-256 data
	is "$(cat "$T/out")" "$(sed 's/.*= //' "$T/ossl")" "sha512-256 equals openssl's"
	if [ -n "$cpu" ] && [ -n "$STATIC_QEMU" ]; then
		run_ok "sha512-256 on a $cpu" env QEMU_CPU=$cpu "$STATIC_QEMU" ./probe digest sha512-256 data
		is "$(cat "$T/out")" "$(sed 's/.*= //' "$T/ossl")" "$cpu: sha512-256 equals openssl's"
	fi
else
	skip "sha512-256 equals openssl's" "openssl cannot do SHA-512/256 here"
fi

# speeds, for the record
run_ok "speed, with the CPU features found" target ./probe speed 32
diag "$(cat "$T/out")"
case $STATIC_ARCH in
x86_64) off="intel-ssse3 intel-avx intel-avx2 intel-shaext" ;;
*) off="arm-neon arm-sha1 arm-sha2" ;;
esac
# shellcheck disable=SC2086
run_ok "speed, the C code alone ($off off)" target ./probe speed 32 $off
diag "$(cat "$T/out")"

done_testing
