#!/bin/sh
# mkdev: blob indexes made by Debian's casync attached as read-only block
# devices. Without NBD in the kernel (the machines these tests run on),
# through a loop device on a FUSE-mounted file: NODE is a symlink to the
# device printed as "Attached: DEVICE", the device cmp's against the image
# (its size rounded up to whole sectors, zeros after), an ext4 image in it
# mounts and diffs; SIGTERM and SIGINT detach the loop device, unmount and
# remove the symlink and the temporary file, exit status 0, even while the
# device is still mounted; READY=1 reaches $NOTIFY_SOCKET. The NBD request
# handling, which the kernel's client would use, is checked against real
# clients on a unix socket (--nbd-socket): nbdinfo's size, nbdcopy's copy,
# and a small client's write, trim, read past the end and unknown option.
# Bad input is one line and exit status 1.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=ports.sh
. "$top_srcdir/tests/cli/ports.sh"

require_casync
require_stasync

# ---- starting and stopping ----------------------------------------------------------------
MKDEV_PIDS=
# mkdev_ready NAME: a device attached, or the NBD socket there.
mkdev_ready() {
	grep -q '^Attached: ' "$T/$1.out" || [ -S "$T/nbd.sock" ]
}
# mkdev_start NAME ARGS...: stasync mkdev ARGS... in the background, its
# temporary file under $T, output in $T/NAME.out and .err; waits (30 s)
# until it printed "Attached:" or, with --nbd-socket, until the socket is
# there. A shell starts background jobs with SIGINT ignored: env gives it
# back.
mkdev_start() {
	_name=$1
	shift
	TMPDIR=$T env --default-signal=INT "$STASYNC" mkdev "$@" >"$T/$_name.out" 2>"$T/$_name.err" </dev/null &
	MKDEV_PID=$!
	MKDEV_PIDS="$MKDEV_PIDS $MKDEV_PID"
	poll_until "$MKDEV_PID" 300 mkdev_ready "$_name" ||
		{ diag_file "mkdev stderr" "$T/$_name.err"; return 1; }
	DEV=$(sed -n 's/^Attached: //p' "$T/$_name.out")
}
# mkdev_stop SIGNAL: signal the last one started; its exit status.
mkdev_stop() {
	kill -s "$1" "$MKDEV_PID"
	wait "$MKDEV_PID"
}
# our loop devices: those whose file is under $T
our_loops() {
	losetup -a 2>/dev/null | grep -F "($T/" | cut -d: -f1
}
stop_all() {
	for _m in $(awk -v t="$T" '$2 ~ "^" t { print $2 }' /proc/mounts | sort -r); do
		umount -l "$_m" 2>/dev/null
	done
	for _p in $MKDEV_PIDS; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	for _l in $(our_loops); do
		losetup -d "$_l" 2>/dev/null
	done
	for _m in $(awk -v t="$T" '$2 ~ "^" t { print $2 }' /proc/mounts | sort -r); do
		umount -l "$_m" 2>/dev/null
	done
}
at_exit stop_all

# none left behind: loop devices, mounts, temporary files
nothing_left() {
	[ -z "$(our_loops)" ] &&
		! awk -v t="$T" '$2 ~ "^" t { f = 1 } END { exit !f }' /proc/mounts &&
		[ -z "$(find "$T" -maxdepth 1 -name 'stasync-mkdev.*')" ]
}

# ---- the images ------------------------------------------------------------------------------
mkdata random 1 4194304 rand.img
mkdata mixed 2 3000017 odd.img
for i in rand odd; do
	"$CASYNC" make --store=store.castr $i.caibx $i.img >/dev/null 2>&1 || bail_out "casync make $i"
done
have_ext4=
if command -v mkfs.ext4 >/dev/null; then
	mkdir -p tree/sub
	mkdata random 3 200000 tree/sub/data.bin
	printf 'hello\n' >tree/hello.txt
	truncate -s 16M ext4.img
	mkfs.ext4 -q -F -d tree ext4.img >/dev/null 2>&1 &&
		"$CASYNC" make --store=store.castr ext4.caibx ext4.img >/dev/null 2>&1 && have_ext4=1
fi

# ---- bad input ---------------------------------------------------------------------------------
mkdir -p dir
"$CASYNC" make --store=store.castr dir.caidx dir >/dev/null 2>&1 || bail_out "casync make dir.caidx"
run "$STASYNC" mkdev --store=store.castr dir.caidx "$T/node"
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -q 'mkdev takes a blob or a blob index (.caibx), not an archive index' '$T/err'" \
	"a .caidx: one line saying so, exit status 1" || show_run
run "$STASYNC" mkdev --store=store.castr missing.caibx "$T/node"
check "[ $rc -eq 1 ] && grep -q missing.caibx '$T/err'" "a missing index: named, exit status 1" || show_run
run "$STASYNC" mkdev --nbd-socket="$T/x.sock" rand.caibx "$T/node"
check "[ $rc -eq 1 ] && grep -q 'no device name' '$T/err'" "--nbd-socket with a NODE: refused" || show_run

# ---- NBD on a unix socket, with real clients ------------------------------------------------------
if ! command -v nbdinfo >/dev/null || ! command -v nbdcopy >/dev/null; then
	skip "NBD clients" "nbdinfo or nbdcopy missing (apt-get install libnbd-bin)"
elif mkdev_start nbd --nbd-socket="$T/nbd.sock" --store=store.castr rand.caibx; then
	U="nbd+unix:///?socket=$T/nbd.sock"
	is "$(nbdinfo --size "$U" 2>&1)" 4194304 "nbdinfo: the size is the image's"
	check "nbdinfo '$U' 2>&1 | grep -q 'is_read_only: true'" "nbdinfo: read-only"
	check "nbdinfo --list '$U' >list.out 2>&1 && grep -q 'export=\"\"' list.out" "nbdinfo --list: one export" ||
		diag_file list list.out
	run nbdcopy "$U" copy.img
	check "[ $rc -eq 0 ] && cmp -s copy.img rand.img" "nbdcopy: the copy is the image" || show_run
	if [ -n "$PYTHON3" ]; then
		"$PYTHON3" "$top_srcdir/tests/cli/nbd-client.py" "$T/nbd.sock" >client.out 2>&1
		is "$(tr '\n' ' ' <client.out)" \
			"magic ok handshake-flags 3 structured-reply 0x80000001 size 4194304 read-only 1 write 1 trim 1 read-past-end 22 read 0 512 " \
			"a write and a trim get EPERM, a read past the end EINVAL, an unknown option NBD_REP_ERR_UNSUP"
	fi
	mkdev_stop TERM
	is "$?" 0 "--nbd-socket: SIGTERM ends it, exit status 0"
	check "[ ! -e '$T/nbd.sock' ]" "--nbd-socket: the socket is removed"
	rm -f "$T/nbd.sock"
else
	not_ok "mkdev --nbd-socket starts"
fi
# an image whose size is not whole sectors: zeros after it
if command -v nbdcopy >/dev/null && mkdev_start nbd-odd --nbd-socket="$T/nbd.sock" --store=store.castr odd.caibx; then
	nbdcopy "nbd+unix:///?socket=$T/nbd.sock" odd-copy.img 2>/dev/null
	check "[ \$(file_size odd-copy.img) -eq 3000320 ] && cmp -s -n 3000017 odd-copy.img odd.img && [ -z \"\$(tail -c 303 odd-copy.img | tr -d '\\000')\" ]" \
		"a size not in whole sectors: rounded up, zeros after"
	mkdev_stop INT
	is "$?" 0 "--nbd-socket: SIGINT ends it, exit status 0"
	rm -f "$T/nbd.sock"
fi

# ---- a block device -------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "block devices" "they need root"
	done_testing
fi
run "$STASYNC" mount x.catar "$T/none"
if [ ! -c /dev/fuse ] || [ ! -c /dev/loop-control ] || grep -q "without FUSE" "$T/err"; then
	skip "block devices" "no /dev/fuse, no loop devices, or built without FUSE"
	done_testing
fi

if mkdev_start rand --store=store.castr rand.caibx "$T/node"; then
	ok "mkdev of a blob index: $DEV"
	if [ ! -e /sys/block/nbd0 ]; then
		check "grep -q 'no NBD in this kernel' '$T/rand.err'" "no NBD here: the loop route, and it says so"
	fi
	is "$(readlink "$T/node")" "$DEV" "NODE is a symlink to the device"
	check "[ -b '$DEV' ] && cmp -s '$T/node' rand.img" "the device is the image"
	is "$(blockdev --getro "$DEV" 2>&1)" 1 "the device is read-only"
	mkdev_stop TERM
	is "$?" 0 "SIGTERM: exit status 0"
	check "[ ! -e '$T/node' ] && [ ! -L '$T/node' ]" "SIGTERM: the symlink is removed"
	check nothing_left "SIGTERM: no loop device, mount or temporary file left"
else
	not_ok "mkdev of a blob index"
fi

if mkdev_start odd --store=store.castr odd.caibx "$T/node"; then
	is "$(blockdev --getsize64 "$T/node" 2>&1)" 3000320 "a size not in whole sectors: rounded up"
	check "cmp -s -n 3000017 '$T/node' odd.img && [ -z \"\$(tail -c 303 '$T/node' | tr -d '\\000')\" ]" \
		"a size not in whole sectors: the blob, then zeros"
	mkdev_stop INT
	is "$?" 0 "SIGINT: exit status 0"
	check nothing_left "SIGINT: nothing left"
fi

if [ -z "$have_ext4" ]; then
	skip "an ext4 image through the device" "mkfs.ext4 missing"
elif mkdev_start ext4 --store=store.castr ext4.caibx "$T/node"; then
	mkdir -p ext4-mnt
	if mount -o ro "$T/node" ext4-mnt 2>mount.err; then
		check "diff -r -x lost+found tree ext4-mnt >/dev/null" "an ext4 image mounts through the device and diffs equal"
		umount ext4-mnt
	else
		not_ok "an ext4 image mounts through the device"
		diag_file mount mount.err
	fi
	# stopped while mounted: the device goes once unmounted
	mount -o ro "$T/node" ext4-mnt 2>/dev/null
	mkdev_stop TERM
	is "$?" 0 "SIGTERM while the device is mounted: exit status 0" || diag_file stderr "$T/ext4.err"
	check "grep -q 'still in use' '$T/ext4.err'" "SIGTERM while mounted: it says the device detaches when unmounted" ||
		diag_file stderr "$T/ext4.err"
	umount ext4-mnt 2>/dev/null
	_i=0
	while [ -n "$(our_loops)" ] && [ "$_i" -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	check nothing_left "SIGTERM while mounted: once unmounted, nothing left"
fi

if [ -n "$PYTHON3" ]; then
	notify_listen
	NOTIFY_SOCKET=$T/notify.sock mkdev_start ready --store=store.castr rand.caibx
	notify_got
	is "$NOTIFY_MSG" "READY=1" "READY=1 sent to \$NOTIFY_SOCKET"
	mkdev_stop HUP
	is "$?" 0 "SIGHUP: exit status 0"
	check nothing_left "SIGHUP: nothing left"
fi

done_testing
