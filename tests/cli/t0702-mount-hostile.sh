#!/bin/sh
# mount, hostile archives: every archive t0108 crafts (hostile_catars.py),
# and 20 000, 70 000 nested directories, 10 000 of 255-byte names, 20 000
# entries in one directory, mounted with 1 GB of address space. Each is
# refused at once (exit status 1, one line naming it) or mounts; a mounted
# one is walked (ls -lR, find, cat, getfattr, readlink, stat, and a walk
# by relative names to the bottom) within 30 s: the mount process lives
# on, a read that fails fails with an errno (EIO, ENOENT...) and a message
# on the mount's stderr, and fusermount3 -u ends it with exit status 0.
# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2016,SC2317 # sh -c and python3 take their own variables; at_exit calls stop_all_mounts
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync
[ "$(id -u)" -eq 0 ] || skip_all "the mount tests run as root"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
run "$STASYNC" mount x.catar "$T/none"
grep -q "without FUSE" "$T/err" && skip_all "built without FUSE"
command -v fusermount3 >/dev/null || skip_all "fusermount3 missing (apt-get install fuse3)"
command -v python3 >/dev/null || skip_all "python3 not installed"
command -v getfattr >/dev/null || skip_all "getfattr missing (apt-get install attr)"

# (a sanitizer build reserves terabytes of address space: no limit there)
asan=false
grep -q __asan_init "$STASYNC" 2>/dev/null && asan=true && diag "sanitizer build: no address-space limit"

# ---- mounting and stopping ----------------------------------------------------------
is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}
# mount_try NAME ARCHIVE MOUNTPOINT: stasync mount ARCHIVE MOUNTPOINT in the
# background with 1 GB of address space (as `limited` gives, but with the
# mount itself as $MOUNT_PID), stderr in $T/NAME.err; waits until it is
# mounted or has exited (30 s at most). 0 when mounted. A shell starts
# background jobs with SIGINT ignored: env gives it back.
mount_try() {
	_mp=$3
	mkdir -p "$_mp"
	(
		# shellcheck disable=SC3045 # dash and bash both have ulimit -v
		$asan || ulimit -v 1048576
		exec env --default-signal=INT "$STASYNC" mount "$2" "$_mp"
	) >"$T/$1.out" 2>"$T/$1.err" </dev/null &
	MOUNT_PID=$!
	MOUNT_PIDS="$MOUNT_PIDS $MOUNT_PID"
	poll_until "$MOUNT_PID" 300 is_mounted "$_mp"
}
at_exit stop_all_mounts

# ---- walking ------------------------------------------------------------------------------
# walk.py DIR: every entry under DIR, by names relative to the directory it
# is in (chdir down and up: a path may be longer than PATH_MAX): lstat,
# every xattr, readlink, the whole contents of regular files. One line per
# failure, "DEPTH NAME OPERATION ERRNO", then "entries N levels D failed F".
cat >walk.py <<'PY'
import errno, os, stat, sys
entries = failed = levels = 0
def fail(depth, name, op, e):
    global failed
    failed += 1
    print('%d %r %s %s' % (depth, name[:40], op, errno.errorcode.get(e.errno, e.errno)))
def visit(depth, name):
    global entries
    entries += 1
    try:
        st = os.lstat(name)
    except OSError as e:
        return fail(depth, name, 'lstat', e)
    try:
        for x in os.listxattr(name, follow_symlinks=False):
            try:
                os.getxattr(name, x, follow_symlinks=False)
            except OSError as e:
                fail(depth, name, 'getxattr', e)
    except OSError as e:
        fail(depth, name, 'listxattr', e)
    try:
        if stat.S_ISLNK(st.st_mode):
            os.readlink(name)
        elif stat.S_ISREG(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                while os.read(fd, 1 << 20):
                    pass
            finally:
                os.close(fd)
    except OSError as e:
        fail(depth, name, 'read', e)
    return stat.S_ISDIR(st.st_mode)
stack, depth = [None], 0
try:
    os.chdir(sys.argv[1])
    visit(0, '.')
except OSError as e:
    fail(0, '.', 'chdir', e)
    stack = []
while stack:
    if stack[-1] is None:
        try:
            stack[-1] = sorted(os.listdir('.'), reverse=True)
        except OSError as e:
            fail(depth, '.', 'readdir', e)
            stack[-1] = []
    if not stack[-1]:
        stack.pop()
        if stack:
            os.chdir('..')
            depth -= 1
        continue
    name = stack[-1].pop()
    if visit(depth + 1, name):
        try:
            os.chdir(name)
        except OSError as e:
            fail(depth + 1, name, 'chdir', e)
            continue
        depth += 1
        levels = max(levels, depth)
        stack.append(None)
print('entries %d levels %d failed %d' % (entries, levels, failed))
PY

# walk MOUNTPOINT: the tools' walk, then walk.py's, 30 s in all; the
# tools' stderr in walk.err, walk.py's output in walk.py.out. find keeps
# whole paths, quadratic in the depth: it goes 64 levels down, walk.py
# to the bottom.
walk() {
	_w0=$(now_ms)
	timeout 30 sh -c '
		ls -lR "$1" >/dev/null
		find "$1" -maxdepth 64 -type f -exec cat {} + >/dev/null
		find "$1" -maxdepth 64 -exec getfattr -h -d -m - {} + >/dev/null
		find "$1" -maxdepth 64 -type l -exec readlink {} + >/dev/null
		find "$1" -maxdepth 64 -exec stat {} + >/dev/null
		exec python3 "$2/walk.py" "$1"' sh "$1" "$T" >walk.py.out 2>walk.err
	walk_rc=$?
	walk_ms=$(($(now_ms) - _w0))
}

# diag_cut LABEL FILE: diag_file, lines cut at 200 characters (the paths
# of the deep archives run to megabytes).
diag_cut() {
	cut -c 1-200 "$2" >"$2.cut"
	diag_file "$1" "$2.cut"
}

# What a read that fails cleanly says: an errno, never ENOTCONN or
# ECONNABORTED (the mount process gone).
ERRNO_TEXTS='Input/output error|No such file or directory|Invalid argument|No data available|Not a directory|File name too long|Argument list too long'
ERRNO_NAMES='EIO|ENOENT|EINVAL|ENODATA|ENOTDIR|ENAMETOOLONG|E2BIG'
unclean_errors() {
	grep -vE ": ($ERRNO_TEXTS)\$" walk.err
	sed '$d' walk.py.out | grep -vE " ($ERRNO_NAMES)\$"
}

# ---- the archives -----------------------------------------------------------------------------
python3 "$top_srcdir/tests/cli/hostile_catars.py" all || bail_out "could not craft the archives"
H=$top_srcdir/tests/cli/hostile_catars.py
python3 "$H" deep deep.catar 20000 d 'bottom
' || bail_out "could not craft deep.catar"
python3 "$H" deep deeper.catar 70000 d || bail_out "could not craft deeper.catar"
python3 "$H" deep deep-long.catar 10000 "$(printf 'N%.0s' $(seq 255))" 'long
' || bail_out "could not craft deep-long.catar"
python3 "$H" wide wide.catar 20000 || bail_out "could not craft wide.catar"
# valid archives: every read of them must succeed
valid=' good valid-odd deep deeper deep-long wide '

refused=0 served=0
for a in *.catar; do
	n=${a%.catar}
	mp=$T/mnt-$n
	_t0=$(now_ms)
	if ! mount_try "$n" "$a" "$mp"; then
		wait "$MOUNT_PID"
		rc=$?
		took=$(($(now_ms) - _t0))
		refused=$((refused + 1))
		if [ "$rc" -eq 1 ] && [ "$(line_count "$T/$n.err")" -eq 1 ] &&
			grep -q "^$STASYNC_NAME: .*$a" "$T/$n.err" && [ "$took" -lt 10000 ] &&
			! is_mounted "$mp"; then
			ok "$n: refused at once ($took ms): $(cat "$T/$n.err")"
		else
			not_ok "$n: refused at once, exit status 1, one line naming it"
			diag "exit status $rc after $took ms"
			diag_file "mount stderr" "$T/$n.err"
		fi
		continue
	fi
	served=$((served + 1))
	ok "$n: mounted"
	walk "$mp"
	hwm=$(awk '/^VmHWM/ { print $2 " kB" }' "/proc/$MOUNT_PID/status" 2>/dev/null)
	summary=$(tail -n 1 walk.py.out)
	check "[ $walk_rc -ne 124 ]" "$n: walked within 30 s ($walk_ms ms; $summary)" ||
		diag_cut "walk stderr" walk.err
	check "kill -0 $MOUNT_PID 2>/dev/null" "$n: the mount process lives on (peak RSS ${hwm:-?})" ||
		diag_file "mount stderr" "$T/$n.err"
	unclean_errors >unclean.out
	check "[ ! -s unclean.out ] && [ $walk_rc -ne 124 ]" "$n: every failed read failed with an errno" ||
		diag_cut "not an errno of a clean failure" unclean.out
	eio=$(($(grep -c 'Input/output error' walk.err) + $(grep -c ' EIO$' walk.py.out)))
	fails=$(($(line_count walk.err) + $(line_count walk.py.out) - 1))
	if [ "${valid#* "$n" }" != "$valid" ]; then
		# (but for paths longer than PATH_MAX, which the tools must use)
		check "! grep -qv 'File name too long\$' walk.err && [ \"\$(sed '\$d' walk.py.out)\" = '' ] && [ ! -s '$T/$n.err' ]" \
			"$n: valid, every read succeeds" || {
			diag_cut "walk stderr" walk.err
			diag_cut "walk.py" walk.py.out
			diag_file "mount stderr" "$T/$n.err"
		}
	else
		# every line of the mount's stderr a message naming the archive,
		# at least one when a read failed with EIO
		check "[ $eio -eq 0 ] || [ -s '$T/$n.err' ] && ! grep -qv '^$STASYNC_NAME: $a: ' '$T/$n.err'" \
			"$n: $fails failed reads ($eio EIO), the mount's stderr says why: $(head -n 1 "$T/$n.err")" || {
			diag_cut "walk stderr" walk.err
			diag_file "mount stderr" "$T/$n.err"
		}
	fi
	fusermount3 -u "$mp" 2>umount.err
	urc=$?
	wait "$MOUNT_PID"
	rc=$?
	check "[ $urc -eq 0 ] && [ $rc -eq 0 ] && ! is_mounted '$mp'" \
		"$n: fusermount3 -u ends it, exit status 0" || {
		diag "fusermount3 -u: status $urc, the mount: status $rc"
		diag_file "fusermount3 -u" umount.err
		diag_file "mount stderr" "$T/$n.err"
		is_mounted "$mp" && { fusermount3 -u "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null; }
	}
done
diag "$served archives served, $refused refused"

# A child that cannot be decoded (no file type) is listed by name; its
# siblings are still reached, and only its own lookup fails.
if mount_try listing mode-no-type.catar "$T/mnt-listing"; then
	is "$(ls "$T/mnt-listing" 2>&1 | tr '\n' ' ')" "a big link sub " \
		"a child that cannot be decoded: the directory still lists"
	is "$(cat "$T/mnt-listing/sub/c" 2>&1)" "charlie" "... its siblings still read"
	check "! stat '$T/mnt-listing/a' 2>stat.err && grep -q 'Input/output error' stat.err" \
		"... and its own stat fails with EIO"
	fusermount3 -u "$T/mnt-listing"
	wait "$MOUNT_PID"
else
	not_ok "mode-no-type.catar mounts"
fi

done_testing
