#!/bin/sh
# A PATH inside an archive, for digest, list, mtree and stat: the same
# stdout and exit status as Debian's casync for every kind of entry (files
# empty and multi-chunk, directories, symlinks, char and block devices,
# fifos, sockets, hard links, xattrs), at the root and nested, for archives
# made by casync and by stasync, read from a .catar, a local .caidx, an
# http:// .caidx (nginx on 127.0.0.1) and an ssh .caidx (a stand-in for
# ssh that runs the remote command here). Spellings casync accepts ("/",
# "sub/", "a//b") and the ones it never finds (".", "..", "./a", "a/../b").
#
# digest ARCHIVE PATH prints a directory's archive digest (the one casync
# prints for the directory on disk) and a file's contents digest; a
# symlink, device, fifo or socket, or a path that is not there, is one
# line on stderr and exit 1. A directory, a blob or a blob index with a
# PATH is refused.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_casync
require_stasync

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# stat prints local time: both tools read TZ.
TZ=Europe/Berlin
export TZ

# ---- the tree: mktree's, and more of every kind below the root -------------------
mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
(
	cd tree/sub/deeper || exit 1
	ln -s ../../hello.txt nested-link
	mkfifo nested-fifo
	: >nested-empty
	mkdir nested-empty-dir
	if [ "$(id -u)" -eq 0 ]; then
		mknod nested-char c 1 5
		mknod nested-block b 7 201
	fi
) || bail_out "could not extend the test tree"
if command -v setfattr >/dev/null && setfattr -n user.nested -v here tree/sub/deeper/nested-empty 2>/dev/null; then
	:
else
	diag "no xattrs here"
fi
touch -d '2011-11-11 11:11:11.111111111' tree/sub/deeper
touch -d '2012-12-12 12:12:12' tree

S=$T/srv
mkdir -p "$S"
run "$CASYNC" make "$S/ca.catar" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make ca.catar failed"; }
run "$CASYNC" make --store="$S/ca.castr" "$S/ca.caidx" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make ca.caidx failed"; }
run "$CASYNC" make --digest=sha256 "$S/ca256.catar" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make --digest=sha256 failed"; }
run "$STASYNC" make "$S/st.catar" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "stasync make st.catar failed"; }
run "$STASYNC" make --store="$S/st.castr" "$S/st.caidx" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "stasync make st.caidx failed"; }
cmp -s "$S/ca.catar" "$S/st.catar" || diag "the two tools made different archives"

# Every kind of entry, root and nested, and the spellings of paths.
paths="<root>
/
sub
sub/
/sub/
sub//deeper
//sub///deeper//
sub/deeper
sub/deeper/deepest
sub/deeper/nested-empty-dir
empty
dir-0700
odd names
odd names/with space
hello.txt
hardlink-of-hello
empty-file
sub/random.bin
sub/deeper/mixed.bin
sub/deeper/deepest/zeros
sub/deeper/nested-empty
link-rel
link-dangling
sub/deeper/nested-link
fifo
sub/deeper/nested-fifo
socket
null
loop-blk
sub/deeper/nested-char
sub/deeper/nested-block
no-such
sub/no-such
.
..
./sub
sub/.
sub/..
sub/./deeper
sub/../hello.txt
hello.txt/x"

# compare_paths DESC LOCAL INPUT VERB [OPTIONS...]: for every path in $paths,
# `stasync VERB OPTIONS INPUT PATH` prints (stdout) what `casync VERB
# LOCAL PATH` prints, with the same exit status, and a failure says one
# line; the first difference is shown.
compare_paths() {
	_desc=$1 _local=$2 _input=$3 _verb=$4
	shift 4
	_bad= _why= _n=0
	_old_ifs=$IFS
	IFS='
'
	for _p in $paths; do
		IFS=$_old_ifs
		[ "$_p" = '<root>' ] && _p=
		_n=$((_n + 1))
		run "$CASYNC" "$_verb" "$_local" "$_p"
		_ca_rc=$rc
		cp "$T/out" "$T/ca.out"
		run "$STASYNC" "$_verb" "$@" "$_input" "$_p"
		if ! cmp -s "$T/out" "$T/ca.out" || [ "$rc" -ne "$_ca_rc" ]; then
			_bad=$_p _why="differs from casync"
			break
		fi
		if [ "$rc" -ne 0 ] && [ "$(line_count "$T/err")" -ne 1 ]; then
			_bad=$_p _why="a failure that is not one line"
			break
		fi
	done
	IFS=$_old_ifs
	if [ -z "$_bad$_why" ] && [ "$_n" -gt 0 ]; then
		ok "$_desc ($_n paths)"
		return 0
	fi
	not_ok "$_desc"
	diag "path '$_bad': $_why" "stasync $_verb $* $_input '$_bad'" \
		"casync: exit $_ca_rc; ours: exit $rc"
	diff "$T/ca.out" "$T/out" >"$T/diff.out" 2>&1
	diag_file "diff casync ours" "$T/diff.out"
	diag_file "our stderr" "$T/err"
	return 1
}

# ---- local archives and indexes ---------------------------------------------------
for verb in digest list mtree stat; do
	compare_paths "$verb ca.catar PATH" "$S/ca.catar" "$S/ca.catar" "$verb"
	compare_paths "$verb st.catar PATH" "$S/st.catar" "$S/st.catar" "$verb"
	compare_paths "$verb ca.caidx PATH" "$S/ca.catar" "$S/ca.caidx" "$verb" --store="$S/ca.castr"
	compare_paths "$verb st.caidx PATH" "$S/st.catar" "$S/st.caidx" "$verb" --store="$S/st.castr"
done
compare_paths "digest of a SHA-256 archive: PATH" "$S/ca256.catar" "$S/ca256.catar" digest
compare_paths "digest --digest=sha256 PATH: the archive's type still" \
	"$S/ca.catar" "$S/ca.catar" digest --digest=sha256

# A directory's digest inside the archive is the one of that directory on disk.
for d in sub sub/deeper empty "odd names"; do
	run "$STASYNC" digest "$S/ca.catar" "$d"
	is "$(cat "$T/out")" "$("$CASYNC" digest "tree/$d" 2>/dev/null)" \
		"digest ca.catar '$d' is casync's digest of tree/$d"
done
# A file's is its contents' digest, as mtree shows it.
run "$STASYNC" digest "$S/ca.catar" sub/deeper/mixed.bin
is "sha512256digest=$(cat "$T/out")" \
	"$("$CASYNC" mtree "$S/ca.catar" sub/deeper/mixed.bin | sed 's/.* sha512256digest/sha512256digest/')" \
	"digest of a multi-chunk file is mtree's sha512256digest"

# ---- over HTTP --------------------------------------------------------------------
if have_nginx; then
	nginx_start srv "$S"
	U=http://127.0.0.1:$NGINX_PORT
	for verb in digest list mtree stat; do
		compare_paths "$verb http://…/ca.caidx PATH" "$S/ca.catar" "$U/ca.caidx" "$verb" \
			--store="$U/ca.castr"
	done
	compare_paths "digest http://…/ca.catar PATH" "$S/ca.catar" "$U/ca.catar" digest
	httpd_stop_all
else
	skip "digest, list, mtree, stat of an http:// .caidx with a PATH" "no nginx"
fi

# ---- over ssh ---------------------------------------------------------------------
mkdir -p "$T/bin" "$T/home"
cat >"$T/bin/ssh" <<EOS
#!/bin/sh
shift
cd "$T/home" || exit 255
exec sh -c "\$*"
EOS
chmod +x "$T/bin/ssh"
for verb in digest list mtree stat; do
	CASYNC_SSH_PATH=$T/bin/ssh CASYNC_REMOTE_PATH=$STASYNC \
		compare_paths "$verb host:…/ca.caidx PATH" "$S/ca.catar" "h:$S/ca.caidx" "$verb" \
		--store="h:$S/ca.castr"
done
CASYNC_SSH_PATH=$T/bin/ssh CASYNC_REMOTE_PATH=$STASYNC \
	compare_paths "digest host:…/ca.catar PATH" "$S/ca.catar" "h:$S/ca.catar" digest

# ---- standard input, and what digest refuses ---------------------------------------
"$STASYNC" digest - sub/deeper <"$S/ca.catar" >"$T/out" 2>"$T/err"
is "$(cat "$T/out")" "$("$CASYNC" digest "$S/ca.catar" sub/deeper 2>/dev/null)" \
	"digest - PATH < .catar"

# fails_one_line DESC TEXT CMD...: exit 1, nothing on stdout, one line on
# stderr saying TEXT.
fails_one_line() {
	_d=$1 _t=$2
	shift 2
	run "$@"
	if [ "$rc" -eq 1 ] && [ ! -s "$T/out" ] && [ "$(line_count "$T/err")" -eq 1 ] &&
		grep -qF -- "$_t" "$T/err"; then
		ok "$_d"
	else
		not_ok "$_d"
		diag "command: $*" "expected one line saying: $_t"
		show_run
	fi
}
fails_one_line "digest of a missing path names it" "sub/no-such" \
	"$STASYNC" digest "$S/ca.catar" sub/no-such
fails_one_line "digest of a symlink names it" "link-rel: a symbolic link" \
	"$STASYNC" digest "$S/ca.catar" link-rel
fails_one_line "digest of a nested fifo names it" "sub/deeper/nested-fifo: a fifo" \
	"$STASYNC" digest "$S/ca.catar" sub/deeper/nested-fifo
fails_one_line "digest of .. names it" "..: no such file" \
	"$STASYNC" digest "$S/ca.catar" ..
if [ "$(id -u)" -eq 0 ]; then
	fails_one_line "digest of a char device names it" "null: a character device" \
		"$STASYNC" digest "$S/ca.catar" null
	fails_one_line "digest of a block device names it" "sub/deeper/nested-block: a block device" \
		"$STASYNC" digest "$S/ca.catar" sub/deeper/nested-block
else
	skip "digest of a device" "device nodes need root"
	skip "digest of a nested block device" "device nodes need root"
fi
fails_one_line "digest DIRECTORY PATH is refused" "a directory" "$STASYNC" digest tree sub
run "$CASYNC" make "$T/blob.caibx" tree/sub/random.bin
fails_one_line "digest BLOB_INDEX PATH is refused" "blob-index" \
	"$STASYNC" digest "$T/blob.caibx" sub
fails_one_line "digest --what=blob FILE PATH is refused" "blob" \
	"$STASYNC" digest --what=blob "$S/ca.catar" sub
fails_one_line "digest with two paths is refused" "at most one path" \
	"$STASYNC" digest "$S/ca.catar" sub sub/deeper
# A regular file of another name with a PATH is read as an archive.
cp "$S/ca.catar" "$T/archive.bin"
run "$STASYNC" digest "$T/archive.bin" sub
is "$(cat "$T/out")" "$("$CASYNC" digest "$S/ca.catar" sub 2>/dev/null)" \
	"digest FILE PATH reads FILE as an archive"

done_testing
