#!/bin/sh
# mount: a tree with every record type, archived by Debian's casync with
# --with=fuse, mounted from its .catar and its .caidx, reads back as the
# extracted tree (diff -r, casync's mtree, and casync's and our digest of
# the mount point equal the archive's); xattrs and stat agree; a blob
# index mounts as one file (in a directory, or onto a file) that cmp's
# against the image and whose ext4 loop-mounts; over HTTP only the chunks a
# read touches are fetched (nginx's log); a corrupt chunk fails that read
# with EIO and a message while other files still read; the mount ends
# cleanly on SIGTERM, SIGINT and fusermount -u, and a mount point left by a
# killed process is taken over; READY=1 reaches $NOTIFY_SOCKET; an ordinary
# user mounts through fusermount3; a hostile archive mounts without a crash. Only 127.0.0.1 is used.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync
[ "$(id -u)" -eq 0 ] || skip_all "the mount tests run as root"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
run "$STASYNC" mount x.catar "$T/none"
grep -q "without FUSE" "$T/err" && skip_all "built without FUSE"
command -v fusermount3 >/dev/null || skip_all "fusermount3 missing (apt-get install fuse3)"

# ---- mounting and stopping --------------------------------------------------------------
# mount_live MOUNTPOINT: a mount is there and its server answers.
mount_live() {
	mountpoint -q "$1" && stat -f "$1" >/dev/null 2>&1 && ls "$1" >/dev/null 2>&1
}
# mount_start NAME MOUNTPOINT ARGS...: stasync mount ARGS... MOUNTPOINT in the
# background, stderr in $T/NAME.err; waits until it is mounted (30 s). A
# shell starts background jobs with SIGINT ignored: env gives it back.
mount_start() {
	_name=$1 _mp=$2
	shift 2
	env --default-signal=INT "$STASYNC" mount "$@" "$_mp" >"$T/$_name.out" 2>"$T/$_name.err" </dev/null &
	MOUNT_PID=$!
	MOUNT_PIDS="$MOUNT_PIDS $MOUNT_PID"
	# (a dead mount left there is a mount point too, and may even list
	# from what the kernel keeps, but statfs fails: it asks the server)
	poll_until "$MOUNT_PID" 300 mount_live "$_mp" ||
		{ diag_file "mount stderr" "$T/$_name.err"; return 1; }
}
# mount_stop MOUNTPOINT: unmount and wait for the process; its exit status.
mount_stop() {
	fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
	wait "$MOUNT_PID"
}
at_exit stop_all_mounts

# ---- the tree ----------------------------------------------------------------------------------
MKTREE_NO_LONG_NAME=1 mktree tree || bail_out "mktree failed"
"$CASYNC" make --with=fuse --store=store.castr tree.caidx tree >/dev/null 2>casync.err ||
	{ diag_file "casync make" casync.err; bail_out "casync make --with=fuse failed"; }
"$CASYNC" make --with=fuse tree.catar tree >/dev/null 2>casync.err ||
	bail_out "casync make --with=fuse tree.catar failed"
"$CASYNC" extract --store=store.castr tree.caidx extracted >/dev/null 2>&1 ||
	bail_out "casync extract failed"
archive_digest=$("$CASYNC" digest tree.catar)
"$CASYNC" mtree extracted >extracted.mtree 2>&1

for input in tree.catar tree.caidx; do
	# (a mount point named *.catar would be taken for an archive)
	mp=$T/mnt-${input#tree.}
	if ! mount_start "m-$input" "$mp" --store=store.castr "$input"; then
		not_ok "mount $input"
		continue
	fi
	ok "mount $input"
	# diff -r calls two fifos (or sockets) different, and two device nodes
	# unless their ctimes (to the second) agree too: stat compares those below
	check "diff -r --no-dereference -x fifo -x socket -x null -x loop-blk extracted '$mp' >diff.out 2>&1" \
		"$input: diff -r of the mount and the extracted tree" || diag_file diff diff.out
	"$CASYNC" mtree "$mp" >mount.mtree 2>&1
	same_file mount.mtree extracted.mtree "$input: casync's mtree of the mount"
	is "$("$CASYNC" digest --with=fuse "$mp" 2>&1)" "$archive_digest" \
		"$input: casync's digest of the mount is the archive's"
	is "$("$STASYNC" digest --with=fuse "$mp" 2>&1)" "$archive_digest" \
		"$input: our digest of the mount is the archive's"
	is "$(getfattr --absolute-names -d -m - "$mp/hello.txt" 2>&1 | sort)" \
		"$(getfattr --absolute-names -d -m - extracted/hello.txt 2>&1 | sed "s|extracted/|$mp/|" | sort)" \
		"$input: getfattr of a file"
	for f in sub/random.bin link-rel fifo socket null loop-blk sub/deeper; do
		# a directory's size is the file system's own
		fmt='%A %u %g %s %Y %t %T %N'
		[ -d "extracted/$f" ] && fmt='%A %u %g %Y %N'
		is "$(stat -c "$fmt" "$mp/$f" | sed "s|$mp/||")" \
			"$(stat -c "$fmt" "extracted/$f" | sed 's|extracted/||')" \
			"$input: stat of $f"
	done
	check "! touch '$mp/new' 2>/dev/null" "$input: read-only"
	mount_stop "$mp"
	is "$?" 0 "$input: fusermount -u ends it, exit status 0"
	check "! mountpoint -q '$mp'" "$input: unmounted"
done

# ---- ACLs, shown as the system.posix_acl_* xattrs ------------------------------------------
if [ "${MKTREE_SKIPPED#*acl}" = "$MKTREE_SKIPPED" ]; then
	"$CASYNC" make acl.catar tree >/dev/null 2>&1 || bail_out "casync make acl.catar failed"
	"$CASYNC" extract acl.catar acl-extracted >/dev/null 2>&1 || bail_out "casync extract acl.catar failed"
	if mount_start acl "$T/mnt-acl" acl.catar; then
		# getfacl -R goes in directory order, which differs: file by file
		for d in acl-extracted "$T/mnt-acl"; do
			(cd "$d" && find . | LC_ALL=C sort | while IFS= read -r f; do
				getfacl -n -P -- "$f" 2>&1
			done)
		done >acl.both
		n=$(grep -c '^# file:' acl.both)
		awk '/^# file: \.$/ { k++ } { print > ("acl." k) }' acl.both
		check "grep -q 'default:user:12345:rwx' acl.2" "ACLs: a default ACL shows"
		check "grep -q 'user:1000:rw-' acl.2" "ACLs: an access ACL shows"
		same_file acl.2 acl.1 "ACLs: getfacl of every entry of the mount and of the extracted tree ($((n / 2)) entries)"
		mount_stop "$T/mnt-acl"
	fi
else
	skip "ACLs" "setfacl does not work here"
fi

# ---- a blob ---------------------------------------------------------------------------------------
mkdata mixed 5 3000017 blob.bin
"$CASYNC" make --store=store.castr blob.caibx blob.bin >/dev/null 2>&1 || bail_out "casync make blob"
mount_start blob "$T/mnt-blob" --store=store.castr blob.caibx &&
	check "cmp -s '$T/mnt-blob/blob' blob.bin" "blob mounted in a directory: the file is the blob" &&
	is "$(ls "$T/mnt-blob")" "blob" "blob mounted in a directory: one file, named after the index"
mount_stop "$T/mnt-blob"
: >blob-file
mount_start blob-file "$T/blob-file" --store=store.castr blob.caibx &&
	check "cmp -s '$T/blob-file' blob.bin" "blob mounted onto a file: the file is the blob"
mount_stop "$T/blob-file"

if command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null; then
	truncate -s 16M ext4.img
	mkfs.ext4 -q -F -d tree/sub ext4.img >/dev/null 2>&1
	"$CASYNC" make --store=store.castr ext4.caibx ext4.img >/dev/null 2>&1
	mkdir -p ext4-mnt
	if mount_start ext4 "$T/mnt-ext4" --store=store.castr ext4.caibx &&
		loop=$(losetup -r -f --show "$T/mnt-ext4/ext4" 2>/dev/null) &&
		mount -o ro "$loop" ext4-mnt 2>/dev/null; then
		check "diff -r -x lost+found tree/sub ext4-mnt >/dev/null" "an ext4 image in a store, loop-mounted through the mount"
		umount ext4-mnt
		losetup -d "$loop"
	else
		skip "ext4 image loop-mounted" "no loop device here"
		[ -n "${loop:-}" ] && losetup -d "$loop"
	fi
	mount_stop "$T/mnt-ext4"
else
	skip "ext4 image loop-mounted" "mkfs.ext4 or losetup missing"
fi

# ---- signals, a dead mount, READY=1 -----------------------------------------------------------
for sig in TERM INT; do
	mount_start "sig-$sig" "$T/mnt-sig" tree.catar || continue
	kill -s $sig "$MOUNT_PID"
	wait "$MOUNT_PID"
	is "$?" 0 "SIG$sig: exit status 0"
	check "! mountpoint -q '$T/mnt-sig'" "SIG$sig: unmounted"
done
mount_start killed "$T/mnt-dead" tree.catar
kill -9 "$MOUNT_PID"
wait "$MOUNT_PID" 2>/dev/null
# (a listing may still come from what the kernel keeps; statfs asks)
check "! stat -f '$T/mnt-dead' >/dev/null 2>&1" "a killed mount leaves a dead mount point"
if mount_start again "$T/mnt-dead" tree.catar; then
	check "cmp -s '$T/mnt-dead/hello.txt' tree/hello.txt" "the next mount on a dead mount point works"
	mount_stop "$T/mnt-dead"
else
	not_ok "the next mount on a dead mount point works"
fi
if have_python3; then
	notify_listen
	NOTIFY_SOCKET=$T/notify.sock mount_start notify "$T/mnt-notify" tree.catar
	notify_got
	is "$NOTIFY_MSG" "READY=1" "READY=1 sent to \$NOTIFY_SOCKET"
	mount_stop "$T/mnt-notify"
fi
# ---- an ordinary user, through the host's setuid fusermount3 ------------------------------
# In a private mount namespace, with a /dev/fuse that everyone may open (as
# distributions set it up: here it may be root's only), user 65534 mounts the
# archive onto a directory it owns, reads a file, unmounts with fusermount3 -u.
# Not where the binary under test runs with no_new_privs (the "old kernel"
# seccomp filter of make check-static sets it): then fusermount3 is not
# setuid root for it, as it would be on a real old kernel.
unpriv() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ "$@"; }
if [ -n "${STASYNC_TEST_NO_NEW_PRIVS:-}" ]; then
	skip "an ordinary user mounts through fusermount3" "the binary under test runs with no_new_privs"
elif ! command -v setpriv >/dev/null || ! command -v unshare >/dev/null ||
	! unshare --mount --propagation private true 2>/dev/null; then
	skip "an ordinary user mounts through fusermount3" "no setpriv, or no unshare --mount"
elif ! [ -u "$(command -v fusermount3)" ]; then
	skip "an ordinary user mounts through fusermount3" "fusermount3 is not setuid root"
elif chmod 711 "$T" && ! unpriv "$STASYNC" --version >/dev/null 2>&1; then
	skip "an ordinary user mounts through fusermount3" "user 65534 cannot run $STASYNC"
else
	mkdir -p user/mp
	cp tree.catar user/
	chown -R 65534:65534 user
	# shellcheck disable=SC2016 # the inner script's own variables
	unshare --mount --propagation private sh -c '
		d=$1 bin=$2
		unpriv() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ "$@"; }
		if ! unpriv test -r /dev/fuse -a -w /dev/fuse; then
			mknod -m 666 "$d/fuse" c 10 229 && mount --bind "$d/fuse" /dev/fuse ||
				{ echo "cannot give user 65534 a /dev/fuse" >"$d/skip"; exit 0; }
		fi
		unpriv "$bin" mount "$d/tree.catar" "$d/mp" >"$d/mount.out" 2>"$d/mount.err" </dev/null &
		pid=$!
		i=0
		while ! mountpoint -q "$d/mp" && [ "$i" -lt 300 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		awk -v m="$d/mp" "\$2 == m" /proc/mounts >"$d/mounts"
		unpriv cat "$d/mp/hello.txt" >"$d/hello.txt" 2>&1
		unpriv fusermount3 -u "$d/mp" 2>"$d/umount.err" || kill "$pid" 2>/dev/null
		wait "$pid"
		echo "$?" >"$d/status"' sh "$T/user" "$STASYNC"
	if [ -f user/skip ]; then
		skip "an ordinary user mounts through fusermount3" "$(cat user/skip)"
	else
		check "grep -q 'fuse.stasync .*user_id=65534' user/mounts && ! grep -q allow_other user/mounts" \
			"an ordinary user mounts through fusermount3 (user_id=65534, no allow_other)" ||
			{ diag_file "mount stderr" user/mount.err; diag_file "/proc/mounts" user/mounts; }
		same_file user/hello.txt tree/hello.txt "an ordinary user: a file reads"
		is "$(cat user/status)" 0 "an ordinary user: fusermount3 -u ends it, exit status 0" ||
			diag_file "fusermount3 -u" user/umount.err
	fi
fi
fails_with "--mkdir=no: a missing mount point is an error" "cannot use as a mount point" \
	"$STASYNC" mount --mkdir=no tree.catar "$T/missing"

# ---- over HTTP: only what is read is fetched -----------------------------------------------------
run "$STASYNC" extract --retries=0 --store=http://127.0.0.1:9/none "$T/none.caibx" "$T/x"
if grep -q "no HTTP support" "$T/err" || ! have_nginx; then
	skip "lazy fetching over HTTP" "no libcurl or nginx"
else
	mkdir -p www big/dir
	mkdata random 6 20000000 big/dir/large.bin
	printf 'small\n' >big/small.txt
	"$CASYNC" make --store=www/big.castr www/big.caidx big >/dev/null 2>&1 || bail_out "casync make big"
	cp -r www/big.castr www/bad.castr
	nginx_start mount "$T/www"
	U=http://127.0.0.1:$NGINX_PORT
	all=$(find www/big.castr -name '*.cacnk' | wc -l)
	: >"$NGINX_DIR/access.log"
	if mount_start http "$T/mnt-http" --store=$U/big.castr $U/big.caidx; then
		is "$(cat "$T/mnt-http/small.txt")" "small" "HTTP: a small file reads"
		got=$(grep -c 'cacnk' "$NGINX_DIR/access.log")
		check "[ $got -le 6 ]" "HTTP: mounting and reading a small file fetched $got of the $all chunks"
		head -c 100 "$T/mnt-http/dir/large.bin" >/dev/null
		got=$(grep -c 'cacnk' "$NGINX_DIR/access.log")
		check "[ $got -le 30 ]" "HTTP: and the start of the large file, $got in all"
		check "cmp -s '$T/mnt-http/dir/large.bin' big/dir/large.bin" "HTTP: the large file reads whole"
		mount_stop "$T/mnt-http"
	fi
	# --seed: what this machine holds is not fetched
	: >"$NGINX_DIR/access.log"
	if mount_start seeded "$T/mnt-seeded" --seed=big --store=$U/big.castr $U/big.caidx; then
		check "cmp -s '$T/mnt-seeded/dir/large.bin' big/dir/large.bin" "--seed: the large file reads whole"
		got=$(grep -c 'cacnk' "$NGINX_DIR/access.log")
		check "[ $got -eq 0 ]" "--seed: no chunk fetched ($got)"
		mount_stop "$T/mnt-seeded"
	fi
	# a corrupt chunk of the large file: EIO and a message, the rest still reads
	victim=$(find www/bad.castr -name '*.cacnk' -size +20k | head -n 1)
	chmod u+w "$victim"
	printf 'garbage' | patch_bytes "$victim" 100
	if mount_start bad "$T/mnt-bad" --store=$U/bad.castr $U/big.caidx; then
		check "! cat '$T/mnt-bad/dir/large.bin' >/dev/null 2>cat.err && grep -q 'Input/output error' cat.err" \
			"a corrupt chunk: the read fails with EIO"
		is "$(cat "$T/mnt-bad/small.txt")" "small" "a corrupt chunk: other files still read"
		check "grep -q '$(basename "$victim" .cacnk)' '$T/bad.err'" "a corrupt chunk: named on stderr"
		mount_stop "$T/mnt-bad"
	fi
	httpd_stop_all
fi

# ---- hostile input -----------------------------------------------------------------------------
head -c 3000 tree.catar >cut.catar
run timeout 20 "$STASYNC" mount cut.catar "$T/mnt-cut"
check "[ $rc -eq 1 ] && grep -q cut.catar '$T/err'" "a truncated archive: refused naming it" || show_run
check "! mountpoint -q '$T/mnt-cut'" "a truncated archive: nothing mounted"

# Damaged archives: 8 bytes overwritten at spread-out offsets (records,
# names, payloads, GOODBYE tables). Each is refused at once, or mounts and
# every read of it succeeds or fails cleanly: the process neither crashes
# nor hangs, and it unmounts with exit status 0.
size=$(file_size tree.catar)
crashed= hung= refused=0 served=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
	cp tree.catar bad-$k.catar
	printf '\377\376\375\374\373\372\371\370' | patch_bytes bad-$k.catar $((size * k / 13))
	if mount_start "bad-$k" "$T/mnt-bad-$k" bad-$k.catar 2>/dev/null; then
		served=$((served + 1))
		timeout 30 sh -c 'find "$1" -type f -exec cat {} + >/dev/null 2>&1; ls -lR "$1" >/dev/null 2>&1' sh \
			"$T/mnt-bad-$k"
		[ $? -eq 124 ] && hung="$hung $k"
		kill -0 "$MOUNT_PID" 2>/dev/null || crashed="$crashed $k"
		mount_stop "$T/mnt-bad-$k" || crashed="$crashed $k"
	else
		refused=$((refused + 1))
		wait "$MOUNT_PID" 2>/dev/null
		[ $? -le 1 ] || crashed="$crashed $k"
	fi
done
is "${crashed:-none}" none "damaged archives: no mount process crashed ($served served, $refused refused)"
is "${hung:-none}" none "damaged archives: no read hung"

done_testing
