#!/bin/sh
# Hostile archives and indexes, beyond t0106 (names '.', 'd/r', unsorted,
# duplicate, truncated, trailing data, one huge FILENAME size, one unknown
# type, a bad goodbye) and t0003 (damaged .caibx indexes and stores).  Every
# case runs with 4 GB of address space and a time limit, and must be
# refused with exit status 1 and exactly one line saying what and where, or,
# where the input is valid, be extracted correctly; either way nothing
# outside the target may change and no temporary file may stay behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2016,SC2317 # check() evals its condition; run calls limited
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

grep -q __asan_init "$STASYNC" 2>/dev/null && diag "sanitizer build: no address-space limit"

# Beside the target: a sentinel tree that must never change, and the
# temporary directory the commands are given.
mkdir outside tmp
printf 'original\n' >outside/victim
printf 'original\n' >outside/b
TMPDIR=$T/tmp
export TMPDIR

# state: what must not change (everything in $T but the target, the deep
# source tree and the test's own captures).
state() {
	(cd "$T" && find . -mindepth 1 \( -path ./target -o -path ./deep-src \) -prune -o \
		! -name out ! -name err ! -name cmp.out ! -name state.before ! -name state.after \
		-printf '%p %y %s %T@ %l\n' | LC_ALL=C sort)
}

# go DESC SECONDS CMD...: run under the limits; ok when the target holds no
# temporary files and nothing else changed.  $took is in milliseconds.
go() {
	_gd=$1 _gs=$2
	shift 2
	state >"$T/state.before"
	_g0=$(now_ms)
	run limited 4194304 "$@"
	took=$(($(now_ms) - _g0))
	state >"$T/state.after"
	_gw=
	cmp -s "$T/state.before" "$T/state.after" || _gw="$_gw; something outside the target changed"
	# (deep trees are checked level by level by same_deep, below)
	[ -d target ] && [ -n "$(find target -maxdepth 64 -name '.#stasync-*' | head -n 1)" ] &&
		_gw="$_gw; temporary files left in the target"
	[ "$took" -le $((_gs * 1000)) ] || _gw="$_gw; took $took ms, more than $_gs s"
	[ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || _gw="$_gw; killed or timed out (status $rc)"
	if [ -z "$_gw" ]; then
		ok "$_gd: within ${_gs}s and 4 GB, nothing outside the target"
		return 0
	fi
	not_ok "$_gd: within ${_gs}s and 4 GB, nothing outside the target"
	diag "problems:${_gw#;}" "command: $*"
	diff "$T/state.before" "$T/state.after" | head -n 10 | sed 's/^/#   /'
	show_run
}

# refused DESC NEEDLES CMD...: exit status 1 and one stderr line that
# starts with "$STASYNC_NAME: " and holds every '|'-separated NEEDLE.
refused() {
	_rd=$1 _rn=$2
	shift 2
	go "$_rd" 10 "$@"
	_rw=
	[ "$rc" -eq 1 ] || _rw="$_rw; exit status $rc, want 1"
	[ "$(line_count "$T/err")" -eq 1 ] || _rw="$_rw; $(line_count "$T/err") lines on stderr, want 1"
	case $(head -n 1 "$T/err") in
	"$STASYNC_NAME: "*) ;;
	*) _rw="$_rw; does not start with '$STASYNC_NAME: '" ;;
	esac
	_rold=$IFS
	IFS='|'
	for _n in $_rn; do
		grep -qF -- "$_n" "$T/err" || _rw="$_rw; does not say '$_n'"
	done
	IFS=$_rold
	if [ -z "$_rw" ]; then
		ok "$_rd: refused, one line: $(head -n 1 "$T/err")"
		return 0
	fi
	not_ok "$_rd: refused with one line saying what and where"
	diag "problems:${_rw#;}"
	show_run
}

# fresh_target: an empty target directory.
fresh_target() {
	chmod -R u+rwx target 2>/dev/null
	rm -rf target
	mkdir target
}

# ---- crafted archives -------------------------------------------------------------
# hostile_catars.py writes a good archive and its hostile variants (t0702
# mounts the same ones).
python3 "$top_srcdir/tests/cli/hostile_catars.py" all || bail_out "could not craft the archives"

# sanity: the good crafted archive is accepted (its tables are right)
fresh_target
go "extract the crafted good archive" 10 "$STASYNC" extract good.catar target
check '[ "$rc" -eq 0 ] && [ "$(cat target/sub/c)" = charlie ] && [ -L target/link ]' \
	"the crafted good archive extracts" || show_run

# bad CASE NEEDLES: extract to a directory and list, both refused
bad() {
	fresh_target
	refused "extract $1" "$1.catar|$2" "$STASYNC" extract "$1.catar" target
	refused "list $1" "$1.catar|$2" "$STASYNC" list "$1.catar"
}

bad name-dotdot "sub: invalid file name '..'"
bad name-empty "sub: FILENAME record of 17 bytes"
bad name-abs "sub: file name '/abs' contains '/'"
bad name-4096 "sub: FILENAME record of 4113 bytes"
bad name-256 "sub: FILENAME record of 273 bytes"
bad name-newline "sub: duplicate file name 'n?l'"
bad cut-payload "truncated inside big"
bad cut-sub-goodbye "truncated inside sub"
bad cut-root-goodbye "truncated inside the root directory"
bad no-sub-goodbye "sub: GOODBYE record of"
bad no-root-goodbye "truncated inside the root directory"
bad size-entry-0 "ENTRY record of 0 bytes"
bad size-entry-huge "ENTRY record of 18446744073709551615 bytes"
bad size-filename-0 "FILENAME record of 0 bytes"
bad size-filename-16 "FILENAME record of 16 bytes"
bad size-payload-8 "a: PAYLOAD record of 8 bytes"
bad size-payload-huge "truncated inside big"
bad size-payload-max "big: PAYLOAD record of 18446744073709551615 bytes"
bad size-symlink-16 "link: SYMLINK record of 16 bytes"
bad size-symlink-huge "link: SYMLINK record of 1099511627776 bytes"
bad size-goodbye-16 "sub: GOODBYE record of 16 bytes"
bad size-goodbye-huge "sub: GOODBYE record of 1152921504606846976 bytes"
bad type-first "not a catar archive"
bad type-in-entry "a: unknown record type 0x0123456789abcdef"
bad type-goodbye "sub: unknown record type 0x0123456789abcdef"
bad mode-no-type "a: unknown file type"
bad mode-all-type-bits "a: unknown file type"
bad mode-extra-bits "a: invalid mode"
bad mode-dir-with-payload "a: PAYLOAD record in a directory"
bad mode-link-with-payload "a: PAYLOAD record in a symlink"
bad mode-device-with-payload "a: PAYLOAD record in a character device"
bad mode-file-with-children "sub: regular file without its PAYLOAD record"
bad flags-differ "a: feature flags 0x"

# An archive of a single file has no directory to extract into one: casync
# refuses it too.  Listing it is fine.
fresh_target
refused "extract root-file" "root-file.catar" "$STASYNC" extract root-file.catar target
go "list root-file" 10 "$STASYNC" list root-file.catar
check '[ "$rc" -eq 0 ]' "list root-file: a one-file archive lists" || show_run

# Valid, odd names: exit 0, everything where it belongs, symlinks stored
# as symlinks and never followed.
fresh_target
go "extract valid-odd" 10 "$STASYNC" extract valid-odd.catar target
check '[ "$rc" -eq 0 ]' "extract valid-odd: a valid archive with odd names extracts" || show_run
# shellcheck disable=SC2034 # used in check's condition
z255=$(printf 'z%.0s' $(seq 255))
check '[ "$(cat target/-rf)" = dash ] && [ "$(cat "target/n
l")" = newline ] && [ "$(cat "target/ sp ")" = space ] && [ "$(cat "target/$z255")" = long ]' \
	"extract valid-odd: files with a dash, a newline, spaces, 255 bytes in their names"
is "$(readlink target/up) $(readlink target/abs)" "../../outside/victim /etc/passwd" \
	"extract valid-odd: symlinks out of the target are stored, not followed"
fresh_target
ln -s ../outside target/up
go "extract valid-odd over a symlink of the same name" 10 "$STASYNC" extract valid-odd.catar target
check '[ "$rc" -eq 0 ] && [ "$(readlink target/up)" = ../../outside/victim ] && [ "$(cat outside/victim)" = original ]' \
	"... the symlink is replaced, outside stays the same" || show_run

# ---- a symlink in the target where the archive has a directory -------------------------
# t0102 extracts a whole archive over such symlinks; here the subtree and
# a symlink to a directory that has a file of the same name as the archive's.
fresh_target
ln -s ../outside target/sub
go "extract subtree sub over target/sub -> ../outside" 10 \
	"$STASYNC" extract good.catar target sub
check '[ "$rc" -eq 0 ] && [ -d target/sub ] && [ ! -L target/sub ] && [ "$(cat target/sub/b)" = bravo ]' \
	"... the subtree lands in a real directory" || show_run
is "$(cat outside/b)" original "... and outside/b, reachable through the symlink, is untouched"

fresh_target
mkdir target/sub
ln -s ../../outside/b target/sub/b
ln -s ../outside target/sub/c
go "extract over target/sub/b and target/sub/c, symlinks leading out" 10 \
	"$STASYNC" extract good.catar target
check '[ "$rc" -eq 0 ] && [ ! -L target/sub/b ] && [ "$(cat target/sub/b)" = bravo ] && [ "$(cat target/sub/c)" = charlie ]' \
	"... the archive's files replace the symlinks" || show_run

# ---- indexes and chunks ---------------------------------------------------------------
# t0003 damages a .caibx and its store for blob extraction; here the same
# damage hits a .caidx, for tree extraction and listing, plus min > max.
mkdir isrc
mkdata mixed 5 300007 isrc/data
printf 'small\n' >isrc/small
run "$CASYNC" make --store=idx.castr --chunk-size=1024:4096:16384 tree.caidx isrc
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make tree.caidx failed"; }
run "$CASYNC" make --store=idx.castr --chunk-size=1024:4096:16384 blob.caibx isrc/data
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make blob.caibx failed"; }
chmod -R a-w idx.castr

# index layout: 48-byte header, 16-byte table header, 40-byte items, 40-byte tail
item_end() { read_le64 "$1" $((64 + 40 * $2)); }
item_id() { hex_at "$1" $((64 + 40 * $2 + 8)) 32; }
n_items=$((($(file_size tree.caidx) - 64 - 40) / 40))
[ "$n_items" -ge 8 ] || bail_out "tree.caidx has only $n_items chunks"
maxchunk=0 prev=0 i=0
while [ "$i" -lt "$n_items" ]; do
	e=$(item_end tree.caidx $i)
	[ $((e - prev)) -gt "$maxchunk" ] && maxchunk=$((e - prev))
	prev=$e i=$((i + 1))
done
A=$(item_id tree.caidx 1)
B=$(item_id tree.caidx 2)
[ "$A" != "$B" ] || bail_out "tree.caidx: chunks 1 and 2 are the same"

fresh_target
go "extract tree.caidx" 10 "$STASYNC" extract --store=idx.castr tree.caidx target
check '[ "$rc" -eq 0 ] && cmp -s target/data isrc/data' "the good .caidx extracts" || show_run

# bad_index NAME NEEDLES: extract and list $NAME.caidx, both refused
bad_index() {
	fresh_target
	refused "extract $1.caidx" "$2" "$STASYNC" extract --store=idx.castr "$1.caidx" target
	refused "list $1.caidx" "$2" "$STASYNC" list --store=idx.castr "$1.caidx"
}

cp tree.caidx decreasing.caidx
write_le64 decreasing.caidx $((64 + 40 * 3)) $(($(item_end tree.caidx 2) - 1))
bad_index decreasing "decreasing.caidx"

if [ "$maxchunk" -gt 4096 ]; then
	cp tree.caidx over-max.caidx
	write_le64 over-max.caidx 40 4096 # max = avg: smaller than some chunks
	bad_index over-max "over-max.caidx"
else
	skip "a .caidx chunk larger than the header's max" "no chunk > 4096 bytes"
fi

cp tree.caidx min-gt-max.caidx
write_le64 min-gt-max.caidx 24 32768 # min above avg and max
bad_index min-gt-max "min-gt-max.caidx"
cp blob.caibx min-gt-max.caibx
write_le64 min-gt-max.caibx 24 32768
rm -f out.bin
refused "extract min-gt-max.caibx" "min-gt-max.caibx" \
	"$STASYNC" extract --store=idx.castr min-gt-max.caibx out.bin
check '[ ! -e out.bin ]' "... no output file"

head -c $(($(file_size tree.caidx) - 40)) tree.caidx >no-tail.caidx
bad_index no-tail "no-tail.caidx"

# damaged stores: bad_chunk NAME DESC, store NAME.castr damaged at chunk A
chunk_path() { echo "$1/$(printf %.4s "$2")/$2.cacnk"; }
bad_chunk() {
	fresh_target
	refused "extract tree.caidx, $2" "$A" "$STASYNC" extract --store="$1.castr" tree.caidx target
	refused "list tree.caidx, $2" "$A" "$STASYNC" list --store="$1.castr" tree.caidx
}
new_store() {
	cp -R idx.castr "$1.castr"
	chmod -R u+w "$1.castr"
	rm -f "$(chunk_path "$1.castr" "$A")"
}
new_store missing
bad_chunk missing "missing chunk"
new_store swapped
cp "$(chunk_path idx.castr "$B")" "$(chunk_path swapped.castr "$A")"
bad_chunk swapped "chunk holding another chunk's content"
new_store random
head -c 3000 /dev/urandom >"$(chunk_path random.castr "$A")"
bad_chunk random "chunk file of random bytes, not zstd"
if command -v zstd >/dev/null 2>&1; then
	# 8 GiB of zeros: eight 1 GiB frames, 290 KB in all
	head -c 1073741824 /dev/zero | zstd -q -1 -c >bomb.zst
	new_store bomb
	for i in 1 2 3 4 5 6 7 8; do cat bomb.zst; done >"$(chunk_path bomb.castr "$A")"
	bad_chunk bomb "zstd chunk inflating to 8 GiB"
else
	skip "zstd chunk inflating to 8 GiB" "zstd not installed"
fi

# ---- 20 000 nested directories ------------------------------------------------------
# casync 2 cannot make such an archive (it stops at a few dozen levels),
# but a real tree can be this deep and a demanding user expects it back:
# it must extract and list, in bounded memory and time.  The archive is
# what `casync make --with=unix` would write for the tree deep_src makes.

# deep_archive FILE LEVELS NAME [LEAF]: LEVELS nested directories NAME, the
# innermost holding a file "leaf" with LEAF in it (or nothing).
deep_archive() {
	python3 "$top_srcdir/tests/cli/hostile_catars.py" deep "$@" || bail_out "could not craft $1"
}

# deep_src DIR LEVELS NAME LEAF: the tree itself, every mtime 0.
deep_src() {
	python3 - "$@" <<'PY' || bail_out "could not make the tree $1"
import os, sys
os.umask(0o022)
os.mkdir(sys.argv[1])
n, name = int(sys.argv[2]), sys.argv[3]
fd = os.open(sys.argv[1], os.O_RDONLY)
for _ in range(n):
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open('leaf', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
os.write(f, sys.argv[4].encode())
os.utime(f, (0, 0))
os.close(f)
os.close(fd)
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(n + 1):
    os.utime(fd, (0, 0))
    if i < n:
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
os.close(fd)
PY
}

# same_deep A B NAME: both trees hold the same chain of directories NAME
# and the same files at the bottom; prints the depth.
same_deep() {
	python3 - "$@" <<'PY'
import os, sys
fds = [os.open(p, os.O_RDONLY) for p in sys.argv[1:3]]
depth = 0
while True:
    names = [sorted(os.listdir(fd)) for fd in fds]
    if names[0] != names[1]:
        sys.exit('differ at depth %d: %r' % (depth, names))
    if names[0] != [sys.argv[3]]:
        break
    nfds = [os.open(sys.argv[3], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd) for fd in fds]
    for fd in fds:
        os.close(fd)
    fds = nfds
    depth += 1
for name in names[0]:
    data = [open(os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd), 'rb').read() for fd in fds]
    if data[0] != data[1]:
        sys.exit('%s differs at depth %d' % (name, depth))
print(depth)
PY
}

deep_archive deep.catar 20000 d 'bottom
'
deep_src deep-src 20000 d 'bottom
'
fresh_target
go "extract 20000 nested directories" 60 "$STASYNC" extract deep.catar target
check '[ "$rc" -eq 0 ]' "extract 20000 nested directories: exit 0 ($took ms)" || show_run
is "$(same_deep deep-src target d 2>&1)" 20000 "... the same tree as the source"
go "list 20000 nested directories" 60 "$STASYNC" list deep.catar
check '[ "$rc" -eq 0 ] && [ "$(line_count "$T/out")" -eq 20002 ]' \
	"list 20000 nested directories: every entry ($took ms)" || show_run
# the same archive through a .caidx
# (chunked as a blob: neither casync nor stasync make encodes a tree this
# deep, and a .caidx is the same index of the same bytes)
run "$STASYNC" make --store=deep.castr deep.caibx deep.catar
[ "$rc" -eq 0 ] || { show_run; bail_out "cannot make deep.caidx"; }
mv deep.caibx deep.caidx
fresh_target
go "extract 20000 nested directories from a .caidx" 60 \
	"$STASYNC" extract --store=deep.castr deep.caidx target
check '[ "$rc" -eq 0 ]' "extract deep.caidx: exit 0 ($took ms)" || show_run
is "$(same_deep deep-src target d 2>&1)" 20000 "... the same tree as the source"
chmod -R u+rwx deep-src target 2>/dev/null
rm -rf deep-src target deep.castr deep.caidx deep.catar

# 10 000 levels of 255-byte names: a 2.5 MB path at the bottom, 4 MB of
# archive.  A copy of the whole path per open directory would need 13 GB.
long=$(printf 'N%.0s' $(seq 255))
deep_archive deep-long.catar 10000 "$long" 'long
'
deep_src deep-src 10000 "$long" 'long
'
fresh_target
go "extract 10000 nested directories with 255-byte names" 60 \
	"$STASYNC" extract deep-long.catar target
check '[ "$rc" -eq 0 ]' "extract deep-long: exit 0 ($took ms)" || show_run
is "$(same_deep deep-src target "$long" 2>&1)" 10000 "... the same tree as the source"
chmod -R u+rwx deep-src target 2>/dev/null
rm -rf deep-src target deep-long.catar

# More than the decoder's 65536 levels: refused cleanly, in bounded memory.
deep_archive deeper.catar 70000 d
# (digest decodes it all; list would print gigabytes of paths first)
refused "digest 70000 nested directories" "deeper.catar|nested deeper than 65536 levels" \
	"$STASYNC" digest deeper.catar

done_testing
