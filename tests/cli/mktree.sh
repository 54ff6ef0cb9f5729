# mktree DIR: build a test tree with every kind of entry and every piece
# of metadata a catar archive can carry. Parts that need root (owners,
# device nodes, trusted.* xattrs, file capabilities) or tools/file-system
# support (setfattr, setfacl, setcap, chattr) are left out when missing;
# MKTREE_SKIPPED then lists what was left out. Sourced by the tests, after
# lib.sh (uses mkdata).
mktree() {
	_d=$1
	MKTREE_SKIPPED=
	mkdir -p "$_d" || return 1
	(
	cd "$_d" || exit 1
	mkdir -p sub/deeper/deepest empty "odd names" dir-0700
	: >empty-file
	printf 'hello\n' >hello.txt
	mkdata random 101 300000 sub/random.bin
	mkdata mixed 102 1200000 sub/deeper/mixed.bin
	mkdata zero 103 70000 sub/deeper/deepest/zeros
	printf 'x' >"odd names/with space"
	printf 'x' >"odd names/back\\slash"
	printf 'x' >"odd names/hash#equals=tab	end"
	printf 'x' >"odd names/$(printf 'new\nline')"
	printf 'x' >"odd names/ünïcödé-日本"
	printf 'x' >"odd names/$(printf 'lat1-\351')"
	# the longest name a file system allows (casync cannot extract it:
	# MKTREE_NO_LONG_NAME=1 leaves it out for trees casync extracts)
	[ -n "${MKTREE_NO_LONG_NAME:-}" ] || printf 'x' >"odd names/$(printf '%0255d' 0 | tr 0 n)"
	ln -s hello.txt link-rel
	ln -s /etc/hostname link-abs
	ln -s does/not/exist link-dangling
	ln hello.txt hardlink-of-hello
	mkfifo fifo
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' socket 2>/dev/null
	chmod 0600 sub/random.bin
	chmod 0444 hello.txt
	chmod 0700 dir-0700
	chmod 1777 empty
	chmod 2755 sub/deeper
	chmod 4755 sub/deeper/mixed.bin
	touch -h -d '2001-02-03 04:05:06.123456789' link-rel
	touch -d '2019-12-31 23:59:59.999999999' hello.txt
	touch -d '1999-01-01 00:00:00.5' sub/random.bin
	touch -d '2030-06-15 12:00:00' "odd names/with space"
	) || return 1

	if command -v setfattr >/dev/null && setfattr -n user.probe -v 1 "$_d/empty-file" 2>/dev/null; then
		setfattr -x user.probe "$_d/empty-file"
		# hello.txt is read-only; user.* xattrs need write access
		chmod u+w "$_d/hello.txt"
		setfattr -n user.colour -v blue "$_d/hello.txt"
		setfattr -n user.empty "$_d/hello.txt"
		chmod 0444 "$_d/hello.txt"
		setfattr -n user.bin -v 0x00ff10 "$_d/sub/random.bin"
		setfattr -n user.dir -v yes "$_d/sub"
		if [ "$(id -u)" -eq 0 ]; then
			setfattr -n trusted.secret -v t "$_d/hello.txt"   # root may
		else
			MKTREE_SKIPPED="$MKTREE_SKIPPED trusted-xattrs"
		fi
	else
		MKTREE_SKIPPED="$MKTREE_SKIPPED xattrs"
	fi
	if command -v setfacl >/dev/null && setfacl -m u:12345:r "$_d/empty-file" 2>/dev/null; then
		setfacl -m u:1000:rw,g:1000:r,u:65534:x "$_d/sub/random.bin"
		setfacl -m g:12346:rwx "$_d/sub"
		setfacl -d -m u:1000:rx,g::r,o::- "$_d/sub"
		setfacl -d -m u:12345:rwx "$_d/empty"
	else
		MKTREE_SKIPPED="$MKTREE_SKIPPED acl"
	fi
	if command -v chattr >/dev/null && chattr +A "$_d/sub/deeper/mixed.bin" 2>/dev/null; then
		chattr +d "$_d/empty-file"   # nodump: left out by default
		chattr +A "$_d/sub"
	else
		MKTREE_SKIPPED="$MKTREE_SKIPPED chattr"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		mknod "$_d/null" c 1 3
		mknod "$_d/loop-blk" b 7 200
		chown 1000:1000 "$_d/sub/random.bin"
		chown 65534:65534 "$_d/dir-0700"
		chown -h 12345:23456 "$_d/link-rel"   # ids without names
		# beyond 16 bits (MKTREE_16BIT_IDS=1 leaves it out, for the
		# feature sets with 16-bit ids, which cannot store it)
		[ -n "${MKTREE_16BIT_IDS:-}" ] || chown 4000000:4000001 "$_d/hello.txt"
		if command -v setcap >/dev/null && setcap cap_net_raw+ep "$_d/sub/deeper/deepest/zeros" 2>/dev/null; then
			:
		else
			MKTREE_SKIPPED="$MKTREE_SKIPPED fcaps"
		fi
	else
		MKTREE_SKIPPED="$MKTREE_SKIPPED owners device-nodes fcaps"
	fi
	# Directory times last: creating children changed them.
	touch -d '2011-11-11 11:11:11.111111111' "$_d/sub/deeper"
	touch -d '2012-12-12 12:12:12' "$_d/odd names" "$_d"
	return 0
}
