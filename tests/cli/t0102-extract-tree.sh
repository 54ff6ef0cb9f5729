#!/bin/sh
# Extracting directory archives (.catar) made by Debian's casync: every kind
# of node and metadata comes back (checked by listing it, and by having
# casync encode the result again, byte for byte), and hostile targets and
# archives never lead outside the target.
#
# Most metadata needs root (owners, device nodes, file capabilities,
# chattr +i, trusted.* xattrs); without root those parts are skipped.
# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2016,SC2317 # check() evals its condition; same_view calls by name
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

is_root=
[ "$(id -u)" -eq 0 ] && is_root=1
have() {
	command -v "$1" >/dev/null 2>&1
}

# Immutable files and a scratch mount must go before lib.sh's cleanup.
ramfs=
cleanup_extract() {
	[ -n "$ramfs" ] && umount "$ramfs" 2>/dev/null
	have chattr && chattr -R -i -a "$T" >/dev/null 2>&1
}
at_exit cleanup_extract

# ---- helpers -------------------------------------------------------------------
# listing DIR: one line per node: path, type, mode, owner, mtime (ns), symlink
# target, size of regular files, device numbers.
listing() {
	(cd "$1" && find . -printf '%p %y %#m %U %G %T@ %l\n' | LC_ALL=C sort)
	(cd "$1" && find . -type f -printf '%p size %s\n' | LC_ALL=C sort)
	(cd "$1" && find . \( -type c -o -type b \) -exec stat -c '%n dev %t:%T' {} + | LC_ALL=C sort)
}

# xattrs DIR / acls DIR / caps DIR / attrs DIR: the metadata tools' view.
xattrs() {
	(cd "$1" && getfattr -R -h -d -m - . 2>/dev/null | grep -v '^security\.selinux=')
}
acls() {
	(cd "$1" && getfacl -R -P . 2>/dev/null)
}
caps() {
	(cd "$1" && getcap -r . 2>/dev/null | LC_ALL=C sort)
}
attrs() {
	(cd "$1" && find . \( -type f -o -type d \) -exec lsattr -d {} + 2>/dev/null | LC_ALL=C sort)
}

# same_view WHAT FUNC A B DESC
same_view() {
	"$2" "$3" >"$T/view.a"
	"$2" "$4" >"$T/view.b"
	if cmp -s "$T/view.a" "$T/view.b"; then
		ok "$5"
		return 0
	fi
	not_ok "$5"
	diff "$T/view.a" "$T/view.b" | head -n 20 | sed 's/^/#   /'
	return 1
}

# same_files A B: every regular file of A has the same bytes in B.
same_files() {
	(cd "$1" && find . -type f) | while IFS= read -r f; do
		cmp -s "$1/$f" "$2/$f" || { echo "differs: $f"; }
	done
}

# no_temp_files DIR DESC: nothing of ours was left behind.
no_temp_files() {
	_left=$(find "$1" -name '.#stasync-*' 2>/dev/null | head -n 5)
	is "$_left" "" "$2"
}

# reencode_same DIR DESC: casync encodes DIR into exactly x.catar again.
reencode_same() {
	rm -f "$T/re.catar"
	if ! "$CASYNC" make "$T/re.catar" "$1" >"$T/re.out" 2>&1; then
		not_ok "$2"
		diag_file "casync make $1" "$T/re.out"
		return 1
	fi
	same_file "$T/x.catar" "$T/re.catar" "$2"
}

# ---- the tree --------------------------------------------------------------------
long=$(python3 -c 'print("L" * 255)')
D=$T/D
mkdir -p "$D/dir/sub" "$D/ro" "$D/empty-dir" "$D/with space" "$D/ünïcødé" "$D/-dash"
printf 'hello\n' >"$D/a.txt"
: >"$D/empty"
mkdata random 1 1048576 "$D/dir/random"
mkdata mixed 2 3000000 "$D/dir/mixed"
{ head -c 1048576 /dev/zero; printf x; head -c 1048576 /dev/zero; } >"$D/sparse"
printf 'long\n' >"$D/$long"
printf 'in space\n' >"$D/with space/f"
printf 'ro\n' >"$D/ro/file"
printf '#!/bin/sh\n' >"$D/exec"
printf 'no permissions\n' >"$D/noperm"
printf 'caps\n' >"$D/capfile"
printf 'immutable\n' >"$D/immutable"
printf 'append\n' >"$D/appendonly"
ln -s a.txt "$D/link-rel"
ln -s /etc/passwd "$D/link-abs"
ln -s nowhere "$D/link-dangling"
ln -s dir "$D/link-dir"
mkfifo "$D/fifo"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/sock"
if [ -n "$is_root" ]; then
	mknod "$D/chr" c 1 3
	mknod "$D/blk" b 7 200
	chown 1234:5678 "$D/a.txt"
	chown -h 4321:8765 "$D/link-rel"
	if getent passwd nobody >/dev/null && getent group nogroup >/dev/null; then
		chown nobody:nogroup "$D/exec"
	fi
	chown 1234:100 "$D/dir"
fi
chmod 4755 "$D/exec"
if [ -n "$is_root" ]; then
	chmod 0000 "$D/noperm"
else
	chmod 0444 "$D/noperm" # casync could not read it
fi
chmod 1777 "$D/dir/sub"
chmod 2775 "$D/empty-dir"
chmod 0751 "$D"
have_xattr=
if have setfattr && have getfattr && setfattr -n user.probe -v 1 "$D/empty" 2>/dev/null; then
	have_xattr=1
	setfattr -x user.probe "$D/empty"
	setfattr -n user.comment -v hello "$D/a.txt"
	setfattr -n user.binary -v 0x00ff10 "$D/a.txt"
	setfattr -n user.empty "$D/a.txt"
	setfattr -n user.dir -v d "$D/dir"
	[ -n "$is_root" ] && setfattr -n trusted.t -v secret "$D/dir/random"
fi
have_acl=
if have setfacl && have getfacl && setfacl -m u:1234:rwx "$D/dir/random" 2>/dev/null; then
	have_acl=1
	setfacl -m g:100:r-x "$D/dir/random"
	setfacl -m u:1234:r "$D/dir"
	setfacl -d -m u:1234:rwx,g:100:rx "$D/dir"
fi
have_caps=
if [ -n "$is_root" ] && have setcap && have getcap &&
	setcap cap_net_raw+ep "$D/capfile" 2>/dev/null; then
	have_caps=1
fi
# every mtime, innermost first, with nanoseconds
find "$D" -depth -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +
touch -h -d '1999-12-31 23:59:59.5' "$D/a.txt" "$D/link-rel" "$D/dir/sub"
touch -d '2020-06-07 08:09:10.000000001' "$D"
have_chattr=
if [ -n "$is_root" ] && have chattr && have lsattr && chattr +i "$D/immutable" 2>/dev/null; then
	have_chattr=1
	chattr +a "$D/appendonly"
	chattr +A "$D/a.txt" 2>/dev/null       # noatime: set right after creation
	chattr +S "$D/exec" 2>/dev/null        # sync
	chattr +D "$D/dir/sub" 2>/dev/null     # dirsync
fi
diag "root: ${is_root:-no} xattrs: ${have_xattr:-no} acl: ${have_acl:-no}" \
	"caps: ${have_caps:-no} chattr: ${have_chattr:-no}"

run "$CASYNC" make "$T/x.catar" "$D"
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make of the test tree failed"; }

# ---- a full extraction -------------------------------------------------------------
O=$T/O
mkdir "$O"
run_ok "extract a rich tree" "$STASYNC" extract "$T/x.catar" "$O"
reencode_same "$O" "casync encodes the extracted tree into the same archive"
same_view listing listing "$D" "$O" "types, modes, owners, mtimes, symlinks, sizes, devices"
is "$(same_files "$D" "$O")" "" "every file has the same bytes"
if [ -n "$have_xattr" ]; then
	same_view xattrs xattrs "$D" "$O" "extended attributes"
else
	skip "extended attributes" "no user xattrs here"
fi
if [ -n "$have_acl" ]; then
	same_view acls acls "$D" "$O" "ACLs (access and default)"
else
	skip "ACLs (access and default)" "no ACLs here"
fi
if [ -n "$have_caps" ]; then
	same_view caps caps "$D" "$O" "file capabilities"
else
	skip "file capabilities" "needs root and setcap"
fi
if [ -n "$have_chattr" ]; then
	same_view attrs attrs "$D" "$O" "chattr flags (immutable, append-only, noatime, sync, dirsync)"
else
	skip "chattr flags (immutable, append-only, noatime, sync, dirsync)" "needs root and chattr +i"
fi
blocks=$(du -k "$O/sparse" | cut -f1)
check '[ "$blocks" -lt 1024 ]' "zero runs became holes ($blocks KiB for 2 MiB)" ||
	diag "du: $blocks KiB"
check '[ -f "$O/$long" ]' "a 255-byte file name works"
no_temp_files "$O" "no temporary files left"

# ---- again, over the first result -------------------------------------------------------
run_ok "extract again into the same directory" \
	"$STASYNC" extract --undo-immutable=yes "$T/x.catar" "$O"
reencode_same "$O" "... and the tree is still the same"
no_temp_files "$O" "... with no temporary files left"

if [ -n "$have_chattr" ]; then
	run "$STASYNC" extract --undo-immutable=no "$T/x.catar" "$O"
	check '[ "$rc" -ne 0 ] && grep -q -- "--undo-immutable" "$T/err"' \
		"without --undo-immutable an immutable file is not replaced, and the message says so" ||
		show_run
	no_temp_files "$O" "... and leaves no temporary files"
else
	skip "without --undo-immutable an immutable file is not replaced" "no chattr +i"
	skip "... and leaves no temporary files" "no chattr +i"
fi

# ---- things in the way ---------------------------------------------------------------
outside=$T/outside
mkdir "$outside"
printf 'original\n' >"$outside/victim"
printf 'original\n' >"$outside/hardlinked"
: >"$outside/marker"
O2=$T/O2
deep40=$(printf 'x/%.0s' $(seq 40))
mkdir -p "$O2/a.txt/deeper/deepest" "$O2/a.txt/$deep40" "$O2/empty-dir"
printf 'x\n' >"$O2/a.txt/deeper/deepest/file"
printf 'x\n' >"$O2/a.txt/${deep40}file"
ln -s "$outside" "$O2/a.txt/deeper/to-outside"
ln -s "$outside" "$O2/dir"                     # a directory in the archive
ln -s "$outside/victim" "$O2/noperm"           # a file in the archive
ln "$outside/hardlinked" "$O2/empty"           # a hard link to outside
printf 'a file\n' >"$O2/ro"                    # a file where a directory goes
mkdir "$O2/link-dir"                           # a directory where a symlink goes
ln -s "$outside" "$O2/link-dir/escape"
(cd "$outside" && find . -printf '%p %s %T@\n' | LC_ALL=C sort) >"$T/outside.before"
run_ok "extract over symlinks, hard links, files and directories in the way" \
	"$STASYNC" extract "$T/x.catar" "$O2"
(cd "$outside" && find . -printf '%p %s %T@\n' | LC_ALL=C sort) >"$T/outside.after"
same_file "$T/outside.before" "$T/outside.after" "nothing outside the target changed"
check '[ -d "$O2/dir" ] && [ ! -L "$O2/dir" ] && [ -f "$O2/dir/random" ]' \
	"a symlink where the archive has a directory was replaced, not followed"
is "$(cat "$outside/victim") $(cat "$outside/hardlinked")" "original original" \
	"files reached through symlinks and hard links were not written"
reencode_same "$O2" "the result is the archive's tree"
no_temp_files "$O2" "no temporary files left"

# ---- --delete -----------------------------------------------------------------------
O3=$T/O3
mkdir -p "$O3/dir/extra-dir/nested" "$O3/dir/extra-dir/$deep40$deep40"
printf 'extra\n' >"$O3/extra"
printf 'extra\n' >"$O3/dir/extra-dir/$deep40${deep40}file"
ln -s "$outside" "$O3/dir/extra-dir/$deep40${deep40}escape"
printf 'extra\n' >"$O3/dir/extra-dir/nested/file"
ln -s "$outside" "$O3/dir/extra-dir/escape"
run_ok "extract with --delete=no" "$STASYNC" extract --delete=no "$T/x.catar" "$O3"
check '[ -f "$O3/extra" ] && [ -f "$O3/dir/extra-dir/nested/file" ]' \
	"--delete=no keeps files the archive does not list"
run_ok "extract with --delete=yes" \
	"$STASYNC" extract --delete=yes --undo-immutable=yes "$T/x.catar" "$O3"
check '[ ! -e "$O3/extra" ] && [ ! -e "$O3/dir/extra-dir" ]' \
	"--delete=yes removes files the archive does not list"
(cd "$outside" && find . -printf '%p %s %T@\n' | LC_ALL=C sort) >"$T/outside.after2"
same_file "$T/outside.before" "$T/outside.after2" "... without following symlinks out"
reencode_same "$O3" "... and leaves exactly the archive's tree"

# ---- a subtree ----------------------------------------------------------------------
O4=$T/O4
mkdir "$O4"
run_ok "extract the subtree dir" "$STASYNC" extract "$T/x.catar" "$O4" dir
# as casync: the subtree lands at TARGET/<its name>
check '[ -f "$O4/dir/random" ] && [ -d "$O4/dir/sub" ] && [ ! -e "$O4/a.txt" ] && [ ! -e "$O4/random" ]' \
	"only the subtree is in the target, under its own name"
is "$(same_files "$D/dir" "$O4/dir")" "" "... with the same bytes"
if [ -n "$CASYNC" ]; then
	"$CASYNC" extract "$T/x.catar" "$T/O4ca" dir >/dev/null 2>&1
	is "$(cd "$T/O4ca" && find . | sort)" "$(cd "$O4" && find . | sort)" "... laid out as casync lays it out"
fi
run "$STASYNC" extract "$T/x.catar" "$T/O5" no/such/path
check '[ "$rc" -ne 0 ] && grep -q "no/such/path" "$T/err"' "a missing subtree is an error naming it" ||
	show_run

# ---- restoring less -------------------------------------------------------------------
O6=$T/O6
mkdir "$O6"
run_ok "extract with --without=xattrs --without=acl --without=fcaps" \
	"$STASYNC" extract --without=xattrs --without=acl --without=fcaps "$T/x.catar" "$O6"
if [ -n "$have_xattr" ]; then
	is "$(xattrs "$O6" | grep -c '^user\.')" "0" "--without=xattrs restores no xattrs"
else
	skip "--without=xattrs restores no xattrs" "no user xattrs here"
fi
if [ -n "$have_acl" ]; then
	is "$(acls "$O6" | grep -c '^user:[0-9a-z]')" "0" "--without=acl restores no ACL entries"
else
	skip "--without=acl restores no ACL entries" "no ACLs here"
fi

if [ -n "$is_root" ]; then
	O7=$T/O7
	mkdir "$O7"
	run_ok "extract with --uid-shift=100000" \
		"$STASYNC" extract --uid-shift=100000 "$T/x.catar" "$O7"
	is "$(stat -c '%u:%g' "$O7/a.txt")" "101234:105678" "uids and gids are shifted"
	# casync's mapping: the id modulo the range, then the shift
	run_ok "extract with --uid-range=1000 --uid-shift=5000" \
		"$STASYNC" extract --uid-range=1000 --uid-shift=5000 "$T/x.catar" "$T/O8"
	is "$(stat -c '%u:%g' "$T/O8/a.txt")" "5234:5678" "ids are taken modulo the range, then shifted"
else
	skip "uids and gids are shifted" "needs root"
	skip "extract with --uid-range=1000 --uid-shift=5000" "needs root"
	skip "ids are taken modulo the range, then shifted" "needs root"
fi

# ---- a file system without xattrs ---------------------------------------------------------
if [ -n "$is_root" ] && [ -n "$have_xattr" ] && mkdir "$T/ramfs" &&
	mount -t ramfs none "$T/ramfs" 2>/dev/null; then
	ramfs=$T/ramfs
	run "$STASYNC" extract --without=chattr "$T/x.catar" "$ramfs/o"
	check '[ "$rc" -ne 0 ] && grep -q "a.txt" "$T/err" && grep -q -- "--without=xattrs" "$T/err"' \
		"no xattr support: fails, naming the file and --without=xattrs" || show_run
	no_temp_files "$ramfs/o" "... and leaves no temporary files"
	run_ok "with --without= xattrs, acl, fcaps and chattr it works there" \
		"$STASYNC" extract --without=xattrs --without=acl --without=fcaps --without=chattr \
		"$T/x.catar" "$ramfs/o"
	umount "$ramfs" && ramfs=
else
	skip "no xattr support: fails with a hint" "needs root and a ramfs mount"
	skip "... and leaves no temporary files" "needs root and a ramfs mount"
	skip "with --without= xattrs, acl, fcaps and chattr it works there" "needs root and a ramfs mount"
fi

# ---- hostile and broken archives ------------------------------------------------------------
# An XATTR record renamed to security.capability: an archive may only carry
# user.* and trusted.* attributes.
E=$T/E
mkdir "$E"
printf 'f\n' >"$E/f"
if [ -n "$have_xattr" ] && setfattr -n user.aaaaaaaaaaaaaa -v 1 "$E/f" 2>/dev/null; then
	"$CASYNC" make "$T/e.catar" "$E" >/dev/null 2>&1 || bail_out "casync make failed"
	python3 - "$T/e.catar" <<'EOF'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
old = b'user.aaaaaaaaaaaaaa\0'
assert b.count(old) == 1
open(p, 'wb').write(b.replace(old, b'security.capability\0'))
EOF
	run "$STASYNC" extract "$T/e.catar" "$T/OE"
	check '[ "$rc" -ne 0 ] && grep -q "security.capability" "$T/err"' \
		"an archive carrying security.* in an XATTR record is refused" || show_run
	is "$(getfattr -h -d -m - "$T/OE/f" 2>/dev/null | grep -c capability)" "0" \
		"... and nothing got the attribute"
	no_temp_files "$T/OE" "... and no temporary files are left"
else
	skip "an archive carrying security.* in an XATTR record is refused" "no user xattrs"
	skip "... and nothing got the attribute" "no user xattrs"
	skip "... and no temporary files are left" "no user xattrs"
fi

# A truncated archive fails inside a large file: no temporary file remains.
head -c $(($(file_size "$T/x.catar") * 2 / 3)) "$T/x.catar" >"$T/trunc.catar"
run "$STASYNC" extract "$T/trunc.catar" "$T/OT"
check '[ "$rc" -ne 0 ]' "a truncated archive fails" || show_run
no_temp_files "$T/OT" "... and leaves no temporary files"

# 20000 nested directories (casync cannot make this) with 128 fds.
python3 - "$T/deep.catar" 20000 <<'EOF'
import os, struct, sys
sys.path.insert(0, os.path.join(os.environ['top_srcdir'], 'tests', 'cli'))
from catar_craft import siphash24, KEY, ENTRY, PAYLOAD, SYMLINK, FILENAME, GOODBYE, MARKER
FLAGS = 0xb000000000001f09  # what casync make --with=unix writes

# A chain of N directories "d": ENTRY, FILENAME "d", the child, GOODBYE with
# one item; the innermost one is empty (a GOODBYE with no items).
N = int(sys.argv[2])
entry = struct.pack('<8Q', 64, ENTRY, FLAGS, 0o40755, 0, 0, 0, 0)
fn = struct.pack('<QQ', 18, FILENAME) + b'd\0'
h = siphash24(KEY, b'd')
size = 64 + 40
sizes = []
for _ in range(N):
    sizes.append(size)
    size = 64 + len(fn) + size + 64
with open(sys.argv[1], 'wb') as out:
    out.write((entry + fn) * N)
    out.write(entry + struct.pack('<5Q', 40, GOODBYE, 64, 40, MARKER))
    for child in sizes:
        child += len(fn)
        out.write(struct.pack('<8Q', 64, GOODBYE, child, child, h, 64 + child, 64, MARKER))
EOF
# (its directories belong to root: others cannot restore that)
without=
[ -n "$is_root" ] || without=--without=privileged
run sh -c 'ulimit -n 128 && exec "$@"' sh "$STASYNC" extract $without "$T/deep.catar" "$T/OD"
check '[ "$rc" -eq 0 ]' "20000 nested directories extract with at most 128 fds" || show_run
depth=$(python3 - "$T/OD" <<'EOF'
import os, sys
fd, n = os.open(sys.argv[1], os.O_RDONLY), 0
while True:
    try:
        nfd = os.open('d', os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    except OSError:
        break
    os.close(fd)
    fd, n = nfd, n + 1
print(n)
EOF
)
is "$depth" "20000" "... all of them"

done_testing
