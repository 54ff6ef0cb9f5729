#!/bin/sh
# Pack the static binaries for a release: stasync-VERSION-static.tar.gz with
#
#   stasync-VERSION-static/
#     stasync-x86_64 stasync-aarch64 stasync-armv7   the three static binaries
#     SHA256SUMS                                     their sha256 (sha256sum -c)
#     LICENSES/NAME/                                 the licence files of each library
#                                                    linked in, from its pinned source
#     LICENSES/musl/copyright                        musl's, from Debian's musl-dev
#     RELINK                                         what the LGPL asks, and how to relink
#     relink/deps.lock relink/build-static.sh        the exact sources and the recipe
#
#   scripts/dist-static.sh --version=VERSION [options]
#
#   --version=VERSION   stasync's version (make dist-static passes it)
#   --output=DIR        where the binaries are (DIR/stasync-static,
#                       DIR/stasync-static-aarch64, DIR/stasync-static-armv7)
#                       and the tarball goes (default: the source tree)
#   --source=...        passed to scripts/build-static.sh, as are -j N / --jobs=N
#
# A binary that is missing is built first with scripts/build-static.sh
# --arch=ARCH (its libraries come from the cache when they are built); one
# that is there is packed as it is: run `make static [STATIC_ARCH=...]` first
# to pack a fresh one.
set -eu

die() { echo "dist-static: $*" >&2; exit 1; }
say() { echo "dist-static: $*" >&2; }

srcdir=$(cd "$(dirname "$0")/.." && pwd)
version=
outdir=$srcdir
pass=
while [ $# -gt 0 ]; do
	case "$1" in
	--version=*) version=${1#--version=} ;;
	--output=*) outdir=${1#--output=} ;;
	--source=* | --jobs=* | -j?*) pass="$pass $1" ;;
	-j) [ $# -ge 2 ] || die "-j needs a number"; pass="$pass -j$2"; shift ;;
	-h | --help) sed -n '2,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
	shift
done
[ -n "$version" ] || die "--version=VERSION is required"
outdir=$(cd "$outdir" && pwd)

name=stasync-$version-static
work=$(mktemp -d "${TMPDIR:-/tmp}/stasync-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
pkg=$work/$name
mkdir -p "$pkg/LICENSES" "$pkg/relink"

for arch in x86_64 aarch64 armv7; do
	bin=$outdir/stasync-static
	[ "$arch" = x86_64 ] || bin=$bin-$arch
	if [ ! -x "$bin" ]; then
		say "no $bin: building it"
		# shellcheck disable=SC2086 # options, one per word
		sh "$srcdir/scripts/build-static.sh" --arch="$arch" --output="$bin" $pass
	fi
	cp "$bin" "$pkg/stasync-$arch"
done
(cd "$pkg" && sha256sum stasync-x86_64 stasync-aarch64 stasync-armv7 >SHA256SUMS)

# shellcheck disable=SC2086
sh "$srcdir/scripts/build-static.sh" --licenses="$pkg/LICENSES" $pass
if [ -f /usr/share/doc/musl/copyright ]; then
	mkdir -p "$pkg/LICENSES/musl"
	cp /usr/share/doc/musl/copyright "$pkg/LICENSES/musl/"
	dpkg-query -W -f='musl ${Version}\n' musl 2>/dev/null | sort -u >"$pkg/LICENSES/musl/VERSION" || true
else
	say "no /usr/share/doc/musl/copyright: musl's licence (MIT) is not in the package"
fi
cp "$srcdir/static/deps.lock" "$srcdir/scripts/build-static.sh" "$pkg/relink/"
commit=
if [ -e "$srcdir/.git" ] && command -v git >/dev/null 2>&1; then
	commit=$(git -C "$srcdir" describe --always --dirty --abbrev=40 2>/dev/null) || commit=
fi

cat >"$pkg/RELINK" <<EOF
stasync $version, static binaries
==================================

stasync-x86_64   x86_64 Linux
stasync-aarch64  ARMv8 AArch64 (64-bit) Linux
stasync-armv7    ARMv7-A hard-float (32-bit) Linux

Each is one statically linked executable (musl libc) with no dependencies.
SHA256SUMS holds their sha256 (sha256sum -c SHA256SUMS).

Linked in: zstd, liblzma (xz), zlib, expat, libgcrypt, libgpg-error,
libcurl, nghttp2, mbedTLS, libfuse3, musl, and GCC's libgcc (under the GCC
Runtime Library Exception). Their licences are in LICENSES/, one directory
per library, copied from the exact sources the binaries were built from.

The LGPL (libgcrypt, libgpg-error: LGPL-2.1-or-later; libfuse3: LGPL-2.1)
---------------------------------------------------------------------------
These three libraries are linked statically. The LGPL gives you the right
to relink stasync with your own (modified) build of them. What you need:

- stasync's source at the version these binaries were built from:
  version $version${commit:+, commit $commit}.
- The exact library sources: relink/deps.lock names each one (Debian
  source package or upstream release tarball) with its sha256.
- The build recipe: relink/build-static.sh, the same script as
  scripts/build-static.sh in that source tree.

To relink: in stasync's source tree, change the library's line in
static/deps.lock (your tarball and its sha256) or the recipe in
scripts/build-static.sh, then run

    scripts/build-static.sh --arch=x86_64|aarch64|armv7

which builds the libraries from those sources into a cache and links a new
stasync-static (README.md, "One static binary", says what it needs).
EOF

tarball=$outdir/$name.tar.gz
# the same bytes for the same input: fixed owner, order and times
(cd "$work" && tar --sort=name --owner=0 --group=0 --numeric-owner \
	--mtime="@${SOURCE_DATE_EPOCH:-$(stat -c %Y "$pkg/stasync-x86_64")}" -cf - "$name") |
	gzip -9n >"$tarball.tmp"
mv -f "$tarball.tmp" "$tarball"
say "$tarball: $(wc -c <"$tarball") bytes"
(cd "$pkg" && cat SHA256SUMS) >&2
