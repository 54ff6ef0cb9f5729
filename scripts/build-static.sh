#!/bin/sh
# Build ./stasync-static: one fully static, stripped binary (musl libc) for
# x86_64, or for ARM with a cross compiler, with zstd, liblzma (xz), zlib,
# expat, libgcrypt/libgpg-error, libcurl, nghttp2 (HTTP/2), mbedTLS,
# libfuse3 (mount) and mimalloc (in place of musl's malloc) linked in.
#
#   scripts/build-static.sh [options]
#
#   --arch=ARCH          x86_64 (default), aarch64 (ARMv8, 64-bit) or armv7
#                        (ARMv7-A, hard-float, 32-bit); ARM is cross-compiled
#                        with Debian's gcc-aarch64-linux-gnu / gcc-arm-linux-gnueabihf
#                        and musl-dev:arm64 / musl-dev:armhf (multiarch)
#   --source=debian|upstream  where the pinned sources come from (static/deps.lock):
#                        Debian source packages through this machine's apt sources,
#                        or the projects' release tarballs (default: debian where
#                        apt-get and dpkg-source exist, else upstream)
#   --output=FILE        where the binary goes (default: ./stasync-static for
#                        x86_64, ./stasync-static-ARCH for the others)
#   --lock=FILE          another lock file (default: static/deps.lock)
#   --deps-only          build (or find) the cached library prefix, link nothing
#   --print-prefix       print the cached prefix's path; exit 1 if it is not built
#   --size-report        after linking, say how many bytes each library adds
#   --install-deps       first apt-get install the build tools (uses sudo unless
#                        root); for ARM also the cross compiler and musl of the
#                        target (dpkg --add-architecture arm64|armhf first)
#   --install-deps-only  the same, then exit (to install before parallel builds)
#   --licenses=DIR       copy the licence files of every pinned library (from its
#                        unpacked, checked source: COPYING*, LICENSE*, debian/copyright...)
#                        into DIR/NAME/, then exit (for scripts/dist-static.sh)
#   --update-lock        re-pin the Debian packages in static/deps.lock to the
#                        versions the archive has now, then exit
#   -j N, --jobs=N       parallel make jobs (default: number of CPUs)
#
# Environment:
#   STASYNC_STATIC_CACHE   cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/stasync-static);
#                          holds sources/ (downloads, by file name, re-checked every use)
#                          and ARCH-<key>/prefix, the built libraries, where <key> is a
#                          hash of the architecture, the lock file's lines in use, the
#                          library recipe below, musl's libc.a and the compiler version
#   STASYNC_STATIC_ARCH    same as --arch
#   STASYNC_STATIC_MIRROR  upstream only: fetch MIRROR/FILE instead of the lock's URL
#                          (any URL curl or wget understands, file:// included)
#   STASYNC_STATIC_SOURCE  same as --source
#
# The sources are never put in the source tree. stasync itself is built from a
# copy of the tracked (and untracked, not ignored) files in a temporary
# directory, so a configured source tree does not get in the way.
set -eu

die() { echo "build-static: $*" >&2; exit 1; }
say() { echo "build-static: $*" >&2; }
now() { date +%s; }

srcdir=$(cd "$(dirname "$0")/.." && pwd)
lock=$srcdir/static/deps.lock
out=
arch=${STASYNC_STATIC_ARCH:-x86_64}
jobs=$(nproc 2>/dev/null || echo 2)
mode=${STASYNC_STATIC_SOURCE:-}
action=build
size_report=no
install_deps=no

while [ $# -gt 0 ]; do
	case "$1" in
	--arch=*) arch=${1#--arch=} ;;
	--source=*) mode=${1#--source=} ;;
	--output=*) out=${1#--output=} ;;
	--lock=*) lock=${1#--lock=} ;;
	--deps-only) action=deps ;;
	--print-prefix) action=print-prefix ;;
	--size-report) size_report=yes ;;
	--install-deps) install_deps=yes ;;
	--install-deps-only) install_deps=yes action=none ;;
	--update-lock) action=update-lock ;;
	--licenses=*) action=licenses licdir=${1#--licenses=} ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift ;;
	-j*) jobs=${1#-j} ;;
	--jobs=*) jobs=${1#--jobs=} ;;
	-h|--help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
# The target: musl's compiler wrapper for it (Debian's musl-dev of that
# architecture installs one), the GNU triplet of its binutils and kernel
# headers, and the --host the libraries are configured for (none: native).
case "$arch" in
x86_64) CC=musl-gcc gnu=x86_64-linux-gnu host='' debarch=amd64 ;;
aarch64) CC=aarch64-linux-musl-gcc gnu=aarch64-linux-gnu host=aarch64-linux-musl debarch=arm64 ;;
armv7) CC=arm-linux-musleabihf-gcc gnu=arm-linux-gnueabihf host=arm-linux-musleabihf debarch=armhf ;;
*) die "--arch must be x86_64, aarch64 or armv7, not '$arch'" ;;
esac
if [ -z "$out" ]; then
	out=$srcdir/stasync-static
	[ "$arch" = x86_64 ] || out=$out-$arch
fi
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
case "$lock" in /*) ;; *) lock=$PWD/$lock ;; esac

if [ "$install_deps" = yes ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		musl-tools musl-dev dpkg-dev build-essential autoconf automake libtool \
		pkg-config file xz-utils bzip2 patch git ca-certificates \
		meson ninja-build </dev/null
	if [ -n "$host" ]; then
		# the cross compiler, and musl and the kernel headers of the target
		# through Debian's multiarch
		$sudo dpkg --add-architecture "$debarch"
		$sudo apt-get update -qq </dev/null
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
			"gcc-$gnu" "binutils-$gnu" "musl-dev:$debarch" "linux-libc-dev:$debarch" </dev/null
	fi
fi
[ "$action" != none ] || exit 0

have() { command -v "$1" >/dev/null 2>&1; }
if [ -z "$mode" ]; then
	if have apt-get && have dpkg-source; then mode=debian; else mode=upstream; fi
fi
case "$mode" in debian|upstream) ;; *) die "--source must be debian or upstream, not '$mode'" ;; esac
[ -r "$lock" ] || die "no lock file at $lock"
if [ -z "$host" ]; then
	have musl-gcc || die "musl-gcc not found: apt-get install musl-tools (or run with --install-deps)"
else
	if ! have "$CC" || ! have "$gnu-gcc" || ! have "$gnu-ar"; then
		die "$CC or $gnu-gcc not found: dpkg --add-architecture $debarch; apt-get update; apt-get install gcc-$gnu musl-dev:$debarch linux-libc-dev:$debarch (or run with --install-deps)"
	fi
fi
have sha256sum || die "sha256sum not found"

if [ -n "${STASYNC_STATIC_CACHE:-}" ]; then cache=$STASYNC_STATIC_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then cache=$XDG_CACHE_HOME/stasync-static
elif [ -n "${HOME:-}" ]; then cache=$HOME/.cache/stasync-static
else cache=${TMPDIR:-/tmp}/stasync-static-cache-$(id -u); fi
mkdir -p "$cache/sources"
cache=$(cd "$cache" && pwd)
sources=$cache/sources

# The lock file's lines of one kind: "name version file sha256 where".
lock_lines() { awk -v k="$1" '$1 == k && NF == 6 { print $2, $3, $4, $5, $6 }' "$lock"; }
lock_names() { lock_lines "$mode" | awk '!seen[$1]++ { print $1 }'; }

sha_ok() { # FILE SHA256
	[ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# ---- fetching ---------------------------------------------------------------
# A private apt configuration: deb-src twins of this machine's own apt sources,
# with lists and downloads under the cache, so /etc/apt is left alone.
apt_setup() {
	have apt-get || die "apt-get not found: use --source=upstream"
	have dpkg-source || die "dpkg-source not found: apt-get install dpkg-dev"
	apt=$cache/apt
	rm -rf "${apt:?}/etc"
	mkdir -p "$apt/etc/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
	: >"$apt/etc/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' "$f" >>"$apt/etc/sources.list"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt/etc/sources.list.d/$(basename "$f")"
	done
	APT_OPTS="-o Dir::Etc::SourceList=$apt/etc/sources.list
		-o Dir::Etc::SourceParts=$apt/etc/sources.list.d
		-o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache
		-o APT::Sandbox::User=root -o Acquire::Languages=none"
	# A source without deb-src indexes only warns; a missing pin fails below.
	# shellcheck disable=SC2086
	apt-get $APT_OPTS -qq update >"$apt/update.log" 2>&1 ||
		{ sed 's/^/  /' "$apt/update.log" >&2; say "apt-get update reported errors (continuing)"; }
}

fetch_debian() { # name: every locked file of it into $sources
	missing=no
	while read -r n v f s w; do
		[ "$n" = "$1" ] || continue
		pkg=$w ver=$v
		sha_ok "$sources/$f" "$s" || missing=yes
	done <<-EOF
	$(lock_lines debian)
	EOF
	[ "$missing" = yes ] || return 0
	[ -n "${APT_OPTS:-}" ] || apt_setup
	dl=$cache/dl.$$
	rm -rf "$dl"; mkdir -p "$dl"
	# shellcheck disable=SC2086
	if ! (cd "$dl" && apt-get $APT_OPTS -qq source --download-only "$pkg=$ver") >"$dl.log" 2>&1; then
		sed 's/^/  /' "$dl.log" >&2
		rm -rf "$dl" "$dl.log"
		die "Debian source $pkg=$ver is not in this machine's apt sources (a point release may have replaced it): run scripts/build-static.sh --update-lock, review and commit static/deps.lock"
	fi
	for f in "$dl"/*; do mv -f "$f" "$sources/"; done
	rm -rf "$dl" "$dl.log"
}

fetch_url() { # URL FILE
	if have curl; then curl -fsSL --retry 3 -o "$2" "$1"
	elif have wget; then wget -q -O "$2" "$1"
	else die "neither curl nor wget to fetch $1"; fi
}

fetch_upstream() { # name
	while read -r n v f s w; do
		[ "$n" = "$1" ] || continue
		sha_ok "$sources/$f" "$s" && continue
		url=$w/$f
		[ -z "${STASYNC_STATIC_MIRROR:-}" ] || url=${STASYNC_STATIC_MIRROR%/}/$f
		say "fetching $url"
		fetch_url "$url" "$sources/$f.part" || die "cannot fetch $url"
		mv -f "$sources/$f.part" "$sources/$f"
	done <<-EOF
	$(lock_lines upstream)
	EOF
}

verify() { # name: check every locked file of it; a mismatch is fatal
	while read -r n v f s w; do
		[ "$n" = "$1" ] || continue
		[ -f "$sources/$f" ] || die "$f: missing after fetching"
		got=$(sha256sum "$sources/$f" | cut -d' ' -f1)
		if [ "$got" != "$s" ]; then
			mv -f "$sources/$f" "$sources/$f.bad"
			die "$f: sha256 $got, the lock says $s (kept as $f.bad)"
		fi
	done <<-EOF
	$(lock_lines "$mode")
	EOF
}

unpack() { # name dir: the verified source tree of name, ready to build, in dir
	rm -rf "$2"; mkdir -p "$2"
	if [ "$mode" = debian ]; then
		dsc=$(lock_lines debian | awk -v n="$1" '$1 == n && $3 ~ /\.dsc$/ { print $3 }')
		[ -n "$dsc" ] || die "$1: no .dsc in the lock file"
		# Debian's patches, security fixes included, are applied here.
		(cd "$2" && dpkg-source -q --no-copy -x "$sources/$dsc" src) >"$2.log" 2>&1 ||
			{ cat "$2.log" >&2; die "$1: dpkg-source -x failed"; }
	else
		f=$(lock_lines upstream | awk -v n="$1" '$1 == n { print $3; exit }')
		mkdir "$2/x"
		tar -xf "$sources/$f" -C "$2/x"
		set -- "$2"/x/*
		if [ $# -ne 1 ] || [ ! -d "$1" ]; then die "$f: expected one top-level directory"; fi
		mv "$1" "${1%/x/*}/src"
		rmdir "${1%/x/*}/x"
	fi
}

# ---- the library recipe -----------------------------------------------------
# Everything between the two markers is part of the cache key: change a flag
# here and the next run rebuilds the prefix.
# >>> recipe
# $CC, $AR, $RANLIB and $host (empty when not cross-compiling) come from --arch.
DEP_CFLAGS="-O2 -ffunction-sections -fdata-sections"
# libgcrypt: only what stasync uses (SHA-512/256, SHA-256), what the library's own
# random generator and self-tests need, and blake2 (Argon2 needs it).
GCRYPT_DIGESTS="sha1 sha256 sha512 blake2"
GCRYPT_CIPHERS="aes chacha20"
GCRYPT_PUBKEYS="ecc"

# mimalloc: the static binary's malloc. musl's own (mallocng) serialises
# every thread on one lock and hands freed pages back to the kernel at once
# (madvise, a TLB shootdown on each core): extract tree took 1.5 times as
# long with it as with mimalloc, extract over HTTP 1.4 times. One
# object, src/static.c, that defines malloc, free and the rest; linked into
# stasync ahead of libc.a, it takes their place (musl allows that, and keeps
# its own internal allocations apart). mimalloc defines aligned_alloc only
# where glibc's __USE_ISOC11 says C11 is on, which musl never says: without
# it, musl's aligned_alloc would hand out blocks that mimalloc's free() gets.
build_mimalloc() {
	mkdir -p "$prefix/lib"
	# shellcheck disable=SC2086 # DEP_CFLAGS is a list of flags
	"$CC" $DEP_CFLAGS -DNDEBUG -DMI_MALLOC_OVERRIDE -D__USE_ISOC11=1 \
		-I"$1/include" -c "$1/src/static.c" -o "$prefix/lib/mimalloc.o"
}

build_zstd() { # srcdir
	make -C "$1/lib" -j"$jobs" libzstd.a libzstd.pc ZSTD_LEGACY_SUPPORT=0 \
		CC="$CC" AR="$AR" CFLAGS="$DEP_CFLAGS" PREFIX="$prefix"
	make -C "$1/lib" install-static install-includes install-pc \
		PREFIX="$prefix" ZSTD_LEGACY_SUPPORT=0 CC="$CC"
}

# liblzma: xz chunks. The library only (no xz, xzdec, lzmadec, lzmainfo,
# scripts, docs or translations), with only what stasync uses: the .xz
# container with LZMA2 (LZMA1 is its core), CRC32/CRC64 (and SHA-256, to check
# any .xz stream it is given), no BCJ/delta filters, lzip, MicroLZMA or
# multi-threaded coders. Not --enable-small: with threads off its run-time
# CRC tables would be set up without a lock. The encoder is the same code as
# in Debian's full build, so preset 6 + CRC64 output is byte for byte the same.
build_xz() {
	(cd "$1" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		--disable-shared --enable-static --disable-xz --disable-xzdec \
		--disable-lzmadec --disable-lzmainfo --disable-lzma-links \
		--disable-scripts --disable-doc --disable-nls --disable-threads \
		--enable-encoders=lzma1,lzma2 --enable-decoders=lzma1,lzma2 \
		--enable-checks=crc32,crc64,sha256 --disable-lzip-decoder \
		--disable-microlzma)
	make -C "$1/src/liblzma" -j"$jobs"
	make -C "$1/src/liblzma" install
}

# zlib: gzip chunks. The static library and zlib.pc; Debian's patches touch
# only minizip, which is not built.
build_zlib() {
	(cd "$1" && CC="$CC" AR="$AR" RANLIB="$RANLIB" CFLAGS="$DEP_CFLAGS" \
		./configure --static --prefix="$prefix")
	make -C "$1" -j"$jobs" libz.a
	make -C "$1" install
}

# libfuse3: mount. The static library, its headers and fuse3.pc; no
# fusermount3, mount.fuse3, examples or tests. Unversioned symbols (the
# .symver aliases of the shared library mean nothing in an archive; the
# headers then name the current functions directly). An ordinary user mounts
# through the host's setuid fusermount3: libfuse runs FUSERMOUNT_DIR/fusermount3,
# FUSERMOUNT_DIR being meson's prefix + bindir, and then looks it up in PATH,
# so bindir is /usr/bin (where distributions put it) and nothing is installed
# there.
build_fuse3() {
	cross=
	if [ -n "$host" ]; then
		case "$arch" in aarch64) fam=aarch64 ;; armv7) fam=arm ;; *) fam=$arch ;; esac
		# shellcheck disable=SC2086 # DEP_CFLAGS: one flag per word
		printf "'%s', " $DEP_CFLAGS >"$1/cflags"
		cat >"$1/cross.ini" <<-EOF
		[binaries]
		c = '$CC'
		ar = '$AR'
		strip = '$host-strip'
		pkgconfig = 'pkg-config'
		[built-in options]
		c_args = [$(cat "$1/cflags")]
		[host_machine]
		system = 'linux'
		cpu_family = '$fam'
		cpu = '$arch'
		endian = 'little'
		EOF
		cross=--cross-file=$1/cross.ini
	fi
	(cd "$1" && CC="$CC" CFLAGS="$DEP_CFLAGS" meson setup "$1/_build" ${cross:+"$cross"} \
		--prefix="$prefix" --libdir=lib --bindir=/usr/bin \
		--buildtype=plain --wrap-mode=nodownload \
		-Ddefault_library=static -Db_staticpic=false \
		-Dexamples=false -Dutils=false -Dtests=false \
		-Ddisable-libc-symbol-version=true)
	grep -q 'FUSERMOUNT_DIR="/usr/bin"' "$1/_build/build.ninja" ||
		{ echo "fuse3: FUSERMOUNT_DIR is not /usr/bin"; return 1; }
	ninja -C "$1/_build" -j"$jobs"
	ninja -C "$1/_build" install
}

# expat: S3 list results and error bodies. The library, its header and
# expat.pc only (no xmlwf, examples, tests or docs). Debian's source is
# GitHub's tag archive: the library is under expat/, without a generated
# configure (buildconf.sh also takes a multilib macro out of the config
# header template).
build_expat() {
	d=$1
	[ ! -d "$d/expat" ] || d=$d/expat
	[ -x "$d/configure" ] || (cd "$d" && ./buildconf.sh)
	(cd "$d" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		--disable-shared --enable-static --without-xmlwf --without-examples \
		--without-tests --without-docbook)
	make -C "$d/lib" -j"$jobs"
	make -C "$d/lib" install
	make -C "$d" install-pkgconfigDATA
}

build_libgpg_error() {
	(cd "$1" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		--disable-shared --enable-static --disable-nls --disable-doc \
		--disable-tests --disable-languages)
	make -C "$1" -j"$jobs"
	make -C "$1" install
}

build_libgcrypt() {
	(cd "$1" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		GPGRT_CONFIG="$prefix/bin/gpgrt-config" \
		--with-libgpg-error-prefix="$prefix" \
		--disable-shared --enable-static --disable-doc --enable-random=linux \
		--enable-digests="$GCRYPT_DIGESTS" --enable-ciphers="$GCRYPT_CIPHERS" \
		--enable-pubkey-ciphers="$GCRYPT_PUBKEYS")
	# the library and its tools, without the test programs and manual
	# shellcheck disable=SC2016 # a literal $(doc)
	subdirs=$(sed -n 's/^SUBDIRS *= *//p' "$1/Makefile" | tr ' ' '\n' |
		grep -v -e '^$' -e '^tests$' -e '^doc$' -e '^\$(doc)$' | tr '\n' ' ')
	make -C "$1" -j"$jobs" SUBDIRS="$subdirs"
	make -C "$1" install SUBDIRS="$subdirs"
}

build_mbedtls() {
	for h in "$1/include/mbedtls/config.h" "$1/include/mbedtls/mbedtls_config.h"; do
		[ -f "$h" ] || continue
		# One curl handle per thread must be safe: mbedTLS's own locks.
		sed -i -e 's|^//\(#define MBEDTLS_THREADING_C\)$|\1|' \
			-e 's|^//\(#define MBEDTLS_THREADING_PTHREAD\)$|\1|' "$h"
	done
	make -C "$1/library" -j"$jobs" CC="$CC" AR="$AR" CFLAGS="$DEP_CFLAGS" \
		libmbedtls.a libmbedx509.a libmbedcrypto.a
	mkdir -p "$prefix/include" "$prefix/lib"
	cp -R "$1/include/mbedtls" "$1/include/psa" "$prefix/include/"
	cp "$1"/library/libmbed*.a "$prefix/lib/"
}

build_nghttp2() {
	# Debian's source is GitHub's tag archive, without a generated configure.
	[ -x "$1/configure" ] || (cd "$1" && autoreconf -fi)
	# The library only: no applications, tools, examples, Python or docs.
	(cd "$1" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= PYTHON=: \
		--disable-shared --enable-static --enable-lib-only \
		--disable-failmalloc --disable-werror --disable-debug)
	make -C "$1/lib" -j"$jobs"
	make -C "$1/lib" install
}

build_curl() {
	if [ -f "$1/debian/patches/99_nss.patch" ]; then
		# Debian's last two patches rename the library for its GnuTLS/NSS
		# flavours: undo them, then regenerate the build system.
		for p in 99_nss 90_gnutls; do
			patch -R -s -p1 -d "$1" <"$1/debian/patches/$p.patch"
		done
		(cd "$1" && autoreconf -fi)
	fi
	# HTTP/2 when nghttp2 is pinned (and so built) for this --source.
	h2=--without-nghttp2
	[ ! -f "$prefix/lib/libnghttp2.a" ] || h2=--with-nghttp2=$prefix
	# HTTP and HTTPS only; no CA path compiled in (found at run time).
	(cd "$1" && ./configure CC="$CC" CFLAGS="$DEP_CFLAGS" --prefix="$prefix" ${host:+--host="$host"} \
		PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= \
		--disable-shared --enable-static --with-mbedtls="$prefix" \
		--without-ca-bundle --without-ca-path --enable-threaded-resolver \
		--enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps \
		--disable-rtsp --disable-dict --disable-telnet --disable-tftp --disable-pop3 \
		--disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
		--disable-manual --disable-ntlm-wb --disable-unix-sockets --disable-alt-svc \
		--disable-cookies --without-zlib --without-brotli --without-zstd \
		--without-libidn2 --without-libpsl "$h2" --without-nghttp3 \
		--without-ngtcp2 --without-libssh2 --without-libssh --without-librtmp \
		--without-libgsasl --without-gssapi --without-hyper --without-quiche \
		--without-msh3)
	make -C "$1/lib" -j"$jobs"
	make -C "$1/lib" install
	make -C "$1/include" install
	make -C "$1" install-pkgconfigDATA install-binSCRIPTS
}
# <<< recipe

# ---- the cached prefix --------------------------------------------------------
cache_key() {
	{
		echo "mode=$mode"
		echo "arch=$arch CC=$CC host=$host"
		lock_lines "$mode" | sort
		sed -n '/^# >>> recipe$/,/^# <<< recipe$/p' "$0"
		# musl's libc.a, found beside the specs file the musl-gcc wrapper names
		specs=$(sed -n 's/.*-specs "\{0,1\}\([^" ]*\).*/\1/p' "$(command -v "$CC")")
		if [ -f "${specs%/*}/libc.a" ]; then sha256sum <"${specs%/*}/libc.a"
		else sha256sum <"$(command -v "$CC")"; fi
		"$CC" -dumpfullversion 2>/dev/null || "$CC" -dumpversion
	} | sha256sum | cut -c1-16
}

update_lock() {
	apt_setup
	tmp=$lock.new
	: >"$tmp.debian"
	for name in $(lock_lines debian | awk '!seen[$1]++ { print $1 }'); do
		pkg=$(lock_lines debian | awk -v n="$name" '$1 == n { print $5; exit }')
		# shellcheck disable=SC2086
		ver=$(apt-cache $APT_OPTS showsrc "$pkg" | awk '/^Version: / { print $2 }' |
			while read -r v; do echo "$v"; done | sort -u | {
				best=
				while read -r v; do
					if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
				done
				echo "$best"; })
		[ -n "$ver" ] || die "$pkg: not found in the apt sources"
		dl=$cache/dl.$$
		rm -rf "$dl"; mkdir -p "$dl"
		# shellcheck disable=SC2086
		(cd "$dl" && apt-get $APT_OPTS -qq source --download-only "$pkg=$ver") >/dev/null
		for f in "$dl"/*.dsc "$dl"/*; do
			[ -f "$f" ] || continue
			b=$(basename "$f")
			grep -q " $b " "$tmp.debian" 2>/dev/null && continue
			printf 'debian   %-13s %-19s %-43s %s  %s\n' "$name" "$ver" "$b" \
				"$(sha256sum "$f" | cut -d' ' -f1)" "$pkg" >>"$tmp.debian"
			mv -f "$f" "$sources/$b"
		done
		rm -rf "$dl"
		say "$name: $pkg $ver"
	done
	# The new debian lines replace the old ones where the first one stood.
	awk -v new="$tmp.debian" '
		$1 == "debian" && NF == 6 { if (!done) { while ((getline l < new) > 0) print l; done = 1 } next }
		{ print }' "$lock" >"$tmp"
	rm -f "$tmp.debian"
	mv -f "$tmp" "$lock"
	say "rewrote $lock; review with git diff"
}

if [ "$action" = update-lock ]; then
	update_lock
	exit 0
fi

# licenses DIR: each pinned library's licence files, as its source has them.
licenses() {
	mkdir -p "$1"
	lw=$(mktemp -d "${TMPDIR:-/tmp}/stasync-licenses.XXXXXX")
	for name in $(lock_names); do
		"fetch_$mode" "$name"
		verify "$name"
		unpack "$name" "$lw/$name"
		d=$lw/$name/src
		[ ! -d "$d/expat" ] || d=$d/expat
		dest=$1/$name
		rm -rf "$dest"; mkdir -p "$dest"
		found=
		for f in "$d"/COPYING* "$d"/LICENSE* "$d"/LICENCE* "$d"/COPYRIGHT* "$d"/LGPL* "$d"/GPL* \
				"$lw/$name"/src/debian/copyright; do
			[ -f "$f" ] || continue
			cp "$f" "$dest/"
			found="$found ${f##*/}"
		done
		# zlib states its licence in README (and zlib.h) only
		[ "$name" != zlib ] || { cp "$d/README" "$dest/"; found="$found README"; }
		[ -n "$found" ] || { rm -rf "$lw"; die "$name: no licence file found"; }
		lock_lines "$mode" | awk -v n="$name" '$1 == n { print n, $2; exit }' >"$dest/VERSION"
		say "  $name:$found"
	done
	rm -rf "$lw"
}
if [ "$action" = licenses ]; then
	licenses "$licdir"
	exit 0
fi

key=$(cache_key)
base=$cache/$arch-$key
prefix=$base/prefix
# Headers for <linux/...>: musl-gcc sees none, these are the host's (for
# ARM, those of the target's multiarch linux-libc-dev).
kinclude=$base/kinclude

# Cross-compiling: configure --host=aarch64-linux-musl (say) looks for
# aarch64-linux-musl-ar and the like; they are the target's GNU binutils.
AR=ar RANLIB=ranlib STRIP=strip
if [ -n "$host" ]; then
	tools=$base/tools
	mkdir -p "$tools"
	for t in ar as ld nm objcopy objdump ranlib readelf strip; do
		ln -sfn "$(command -v "$gnu-$t")" "$tools/$host-$t"
	done
	PATH=$tools:$PATH
	AR=$host-ar RANLIB=$host-ranlib STRIP=$host-strip
fi

build_prefix() {
	t0=$(now)
	names=$(lock_names)
	[ -n "$names" ] || die "no '$mode' lines in $lock"
	for want in zstd xz zlib expat libgpg-error libgcrypt mbedtls curl fuse3; do
		echo "$names" | grep -qx "$want" || die "$lock has no '$mode' line for $want"
	done
	# nghttp2 is optional: without it, libcurl speaks HTTP/1.1 only.
	libs="zstd xz zlib expat libgpg-error libgcrypt mbedtls curl fuse3"
	if echo "$names" | grep -qx nghttp2; then
		libs="zstd xz zlib expat libgpg-error libgcrypt mbedtls nghttp2 curl fuse3"
	else
		say "no '$mode' line for nghttp2 in $lock: libcurl without HTTP/2"
	fi
	# mimalloc is optional too: without it, musl's malloc.
	if echo "$names" | grep -qx mimalloc; then
		libs="mimalloc $libs"
	else
		say "no '$mode' line for mimalloc in $lock: musl's malloc, slower with many threads"
	fi
	rm -rf "$base/prefix" "$base/work" "$kinclude"
	mkdir -p "$base/work" "$prefix" "$kinclude"
	for d in linux asm-generic "$gnu/asm"; do
		[ -d "/usr/include/$d" ] && ln -s "/usr/include/$d" "$kinclude/$(basename "$d")"
	done
	# every source fetched and checked before anything is built
	for name in $libs; do
		"fetch_$mode" "$name"
		verify "$name"
	done
	say "building the libraries ($mode sources) into $prefix"
	for name in $libs; do
		t=$(now)
		dir=$base/work/$name
		unpack "$name" "$dir"
		log=$base/work/$name.log
		fn=build_$(echo "$name" | tr - _)
		if ! ( PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH='' "$fn" "$dir/src" ) \
				>"$log" 2>&1; then
			tail -40 "$log" >&2
			die "$name: build failed (log: $log)"
		fi
		say "  $name $(lock_lines "$mode" | awk -v n="$name" '$1 == n { print $2; exit }'): $(( $(now) - t )) s"
	done
	for a in libzstd.a liblzma.a libz.a libexpat.a libgpg-error.a libgcrypt.a libmbedtls.a libmbedx509.a libmbedcrypto.a libcurl.a libfuse3.a; do
		[ -f "$prefix/lib/$a" ] || die "$a missing from $prefix/lib"
	done
	case " $libs " in
	*" nghttp2 "*) [ -f "$prefix/lib/libnghttp2.a" ] || die "libnghttp2.a missing from $prefix/lib" ;;
	esac
	case " $libs " in
	*" mimalloc "*) [ -f "$prefix/lib/mimalloc.o" ] || die "mimalloc.o missing from $prefix/lib" ;;
	esac
	rm -rf "$base/work"
	date -u +%FT%TZ >"$prefix/.complete"
	say "libraries built in $(( $(now) - t0 )) s"
}

if [ "$action" = print-prefix ]; then
	[ -f "$prefix/.complete" ] || die "no built prefix for this lock and recipe (run without --print-prefix)"
	echo "$prefix"
	exit 0
fi
mkdir -p "$base"
exec 9>"$base.lock"
have flock && flock 9
if [ -f "$prefix/.complete" ]; then
	say "using cached libraries in $prefix"
else
	build_prefix
fi
[ "$action" = deps ] && exit 0

# ---- stasync itself ---------------------------------------------------------------
t0=$(now)
work=$(mktemp -d "${TMPDIR:-/tmp}/stasync-static.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
tree=$work/src
mkdir -p "$tree"
# .git is a file in a worktree made by `git worktree add`
if [ -e "$srcdir/.git" ] && have git; then
	# shellcheck disable=SC2016 # the inner script's own variables
	(cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh |
		xargs -0 cp -P --parents -t "$tree")
elif [ ! -f "$srcdir/config.status" ]; then
	(cd "$srcdir" && tar -cf - --exclude=./stasync-static .) | tar -xf - -C "$tree"
else
	die "$srcdir is configured and not a git checkout: build from a clean tree"
fi
say "building stasync in $tree"
log=$work/stasync.log
if ! (
	cd "$tree"
	mkdir -p m4
	autoreconf -fi
	./configure CC="$CC" ${host:+--host="$host"} CPPFLAGS="-idirafter $kinclude" \
		CFLAGS="-O2 -ffunction-sections -fdata-sections" \
		LDFLAGS="-static -Wl,--gc-sections" \
		PKG_CONFIG="pkg-config --static" \
		PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH= \
		--disable-shared --enable-static --with-fuse
	grep -q '^#define HAVE_CURL 1' config.h || echo "note: configure did not find libcurl"
	# libtool passes -static to the compiler only when told -all-static.
	# An object is linked whole and before libc.a: its malloc is the one used.
	malloc_obj=
	[ ! -f "$prefix/lib/mimalloc.o" ] || malloc_obj=$prefix/lib/mimalloc.o
	make -j"$jobs" stasync LDFLAGS="-all-static -Wl,--gc-sections -Wl,-Map,stasync.map $malloc_obj"
) >"$log" 2>&1; then
	tail -40 "$log" >&2
	die "stasync: build failed"
fi
grep '^note:' "$log" >&2 || true
$STRIP --strip-all -R .comment -o "$out.tmp" "$tree/stasync"
mv -f "$out.tmp" "$out"
say "stasync linked in $(( $(now) - t0 )) s"

# Refuse to hand over anything that would need a loader or a library.
if have readelf && readelf -d "$out" 2>/dev/null | grep -q 'NEEDED\|Dynamic section'; then
	die "$out has a dynamic section"
fi
size=$(wc -c <"$out")
say "$out: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB), $arch, static, stripped"

# ---- where the bytes come from ------------------------------------------------
# size_report MAP: sums the input sections the linker kept (from its map) per
# archive: code, read-only data, data and unwind tables, i.e. what the
# stripped file holds. Libraries named in LIBRARIES that add nothing (the
# linker dropped every section: nothing calls them yet) are listed with 0.
size_report() { # MAP NAME-OF-THE-PROGRAM [LIBRARIES]
	awk -v self="$2" -v all="${3:-}" '
	function group(f) {
		if (f ~ /libzstd\.a/) return "zstd"
		if (f ~ /liblzma\.a/) return "liblzma"
		if (f ~ /\/libz\.a/) return "zlib"
		if (f ~ /libexpat\.a/) return "expat"
		if (f ~ /libgcrypt\.a/) return "libgcrypt"
		if (f ~ /libgpg-error\.a/) return "libgpg-error"
		if (f ~ /libcurl\.a/) return "libcurl"
		if (f ~ /libnghttp2\.a/) return "nghttp2"
		if (f ~ /libmbed(tls|x509|crypto)\.a/) return "mbedTLS"
		if (f ~ /libfuse3\.a/) return "fuse3"
		if (f ~ /mimalloc\.o/) return "mimalloc"
		if (f ~ /musl.*libc\.a|\/crt[1in]\.o|\/crt[1i]\.o|Scrt1\.o/) return "musl"
		if (f ~ /libgcc/ || f ~ /crtbegin|crtend/) return "libgcc"
		return self
	}
	/^Linker script and memory map/ { inmap = 1; next }
	!inmap { next }
	/^[.][^ ]/ { split($1, a, " "); outsec = a[1] }
	{
		# "  .text.foo  0xADDR  0xSIZE file" (possibly split over two lines)
		line = $0
		if (line ~ /^ [.][^ ]+$/) { pending = 1; next }
		n = split(line, w, " ")
		if (pending) { pending = 0; if (n >= 3 && w[1] ~ /^0x/ && w[2] ~ /^0x/) { addsec(w[2], w[3]); next } }
		if (n >= 4 && w[1] ~ /^[.]/ && w[2] ~ /^0x/ && w[3] ~ /^0x/) addsec(w[3], w[4])
	}
	function hex(s,   i, v) { # mawk has no strtonum
		v = 0; s = tolower(substr(s, 3))
		for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	function addsec(sz, f) {
		if (outsec !~ /^[.](text|rodata|data|data[.]rel[.]ro|eh_frame|eh_frame_hdr|gcc_except_table|init_array|fini_array|tdata|got|got[.]plt)$/) return
		bytes[group(f)] += hex(sz)
	}
	END {
		for (g in bytes) total += bytes[g]
		for (g in bytes) printf "  %-14s %9d bytes  %5.1f%%\n", g, bytes[g], 100 * bytes[g] / total | "sort -k2 -rn"
		close("sort -k2 -rn")
		n = split(all, want, " ")
		for (i = 1; i <= n; i++)
			if (!(want[i] in bytes)) printf "  %-14s %9d bytes         (linked in, nothing calls it yet)\n", want[i], 0
		printf "  %-14s %9d bytes (sections; the file adds headers and padding)\n", "total", total
	}' "$1" >&2
}

if [ "$size_report" = yes ]; then
	say "what each library adds to stasync-static:"
	size_report "$tree/stasync.map" stasync \
		"zstd liblzma zlib expat libgcrypt libgpg-error libcurl nghttp2 mbedTLS fuse3 mimalloc"
	# libcurl and mbedTLS are in the prefix for the HTTP store; until stasync
	# links them, a small HTTPS client shows what they add.
	probe=$tree/tests/static/tls-probe.c
	if [ -f "$probe" ]; then
		# shellcheck disable=SC2046
		if PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH='' \
			"$CC" -O2 -static -ffunction-sections -fdata-sections -Wl,--gc-sections \
			$(PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" pkg-config --static --cflags libcurl) \
			-o "$work/tls-probe" "$probe" -Wl,-Map,"$work/tls-probe.map" \
			$(PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" pkg-config --static --libs libcurl) 2>"$work/probe.log"; then
			$STRIP --strip-all -R .comment "$work/tls-probe"
			say "a static HTTPS client (tests/static/tls-probe.c), $(wc -c <"$work/tls-probe") bytes stripped:"
			size_report "$work/tls-probe.map" tls-probe
		else
			cat "$work/probe.log" >&2
			say "could not link tests/static/tls-probe.c"
		fi
	fi
fi
