#!/bin/sh
# Build stasync from a fresh checkout.
#   ./build.sh            configure and build ./stasync
#   ./build.sh --deps     first install the Debian/Ubuntu packages needed to
#                         build and to run the tests (uses sudo unless root)
#   ./build.sh --sanitizers   build with AddressSanitizer + UBSan
set -eu
cd "$(dirname "$0")"

deps=no
configure_flags=
for arg in "$@"; do
	case "$arg" in
	--deps) deps=yes ;;
	--sanitizers) configure_flags="$configure_flags --enable-sanitizers" ;;
	*) echo "usage: $0 [--deps] [--sanitizers]" >&2; exit 2 ;;
	esac
done

if [ "$deps" = yes ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# Build: compiler, autotools, zstd, liblzma, zlib, expat (S3 answers are
	# XML), libgcrypt, libcurl, libfuse3 (mount). Tests: fuse3 (fusermount3)
	# and e2fsprogs for mount.
	# make static: meson and ninja-build (libfuse3 builds with them).
	# Tests: casync (the reference), zstd and xz (crafted chunks), python3,
	# nginx and openssl (HTTP(S) stores, served on 127.0.0.1 by the tests),
	# libnbd-bin (nbdinfo, nbdcopy: NBD clients for mkdev --nbd-socket),
	# acl and attr (setfacl, setfattr: ACLs and xattrs in the trees tests make),
	# xfsprogs (a file system that shares blocks, for --reflink),
	# radosgw, ceph-mon and ceph-osd (an S3 server: Ceph's RADOS Gateway on
	# a one-node cluster in RAM, started on 127.0.0.1 by the tests), curl
	# (signed S3 requests from the tests), strace (a kill held at a chosen
	# system call, in the crash tests).
	# Benchmarks (bench/): GNU time. Fuzzing (fuzz/): clang and libFuzzer.
	$sudo apt-get install -y -qq --no-install-recommends \
		build-essential autoconf automake libtool pkg-config \
		libzstd-dev liblzma-dev zlib1g-dev libexpat1-dev libgcrypt20-dev libcurl4-openssl-dev \
		libfuse3-dev fuse3 e2fsprogs \
		casync zstd xz-utils python3 ca-certificates nginx openssl time \
		acl attr xfsprogs libnbd-bin clang libclang-rt-dev meson ninja-build \
		radosgw ceph-mon ceph-osd curl strace </dev/null
fi

mkdir -p m4
autoreconf -fi
# shellcheck disable=SC2086
./configure $configure_flags
make -j"$(nproc 2>/dev/null || echo 2)"
