#!/bin/sh
# ssh remotes (host:path, ssh://host/path) with casync's remote protocol,
# through a stand-in for ssh that drops the host and runs the remote
# command here: stasync and Debian's casync on either end, pulling and
# pushing blobs and directory trees, byte-identical results; and a remote
# that dies mid-transfer, one that sends garbage, an ssh that cannot be
# run: one line of error, exit 1, no output left behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync

have_casync=
[ -n "$CASYNC" ] && [ -x "$CASYNC" ] && have_casync=1
have_python=
command -v python3 >/dev/null 2>&1 && have_python=1

mkdir -p "$T/bin" "$T/remote" "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
# The stand-in for ssh, as casync's own tests do it; the remote command
# starts in $T/home, as ssh would start it in the remote home.
mkdir -p "$T/home"
cat >"$T/bin/ssh" <<EOS
#!/bin/sh
shift
cd "$T/home" || exit 255
exec sh -c "\$*"
EOS
# A remote that sends $DIE_AFTER bytes, then is killed.
cat >"$T/bin/ssh-dying" <<'EOS'
#!/usr/bin/env python3
import os, subprocess, sys
left = int(os.environ.get("DIE_AFTER", "100000"))
p = subprocess.Popen(["sh", "-c", "exec " + " ".join(sys.argv[2:])], stdout=subprocess.PIPE)
while left > 0:
    b = os.read(p.stdout.fileno(), min(left, 65536))
    if not b:
        break
    os.write(1, b)
    left -= len(b)
p.kill()
p.wait()
sys.exit(255)
EOS
# A "remote" that answers with noise.
cat >"$T/bin/ssh-garbage" <<EOS
#!/bin/sh
"$GEN_TESTDATA" random 99 5000
EOS
chmod +x "$T/bin/ssh" "$T/bin/ssh-dying" "$T/bin/ssh-garbage"
CASYNC_SSH_PATH=$T/bin/ssh
export CASYNC_SSH_PATH
unset CASYNC_REMOTE_PATH

# ---- data ---------------------------------------------------------------------
R=$T/remote
mkdir -p "$T/tree/sub/deeper" "$T/tree/empty-dir"
mkdata mixed 1 3000000 "$T/blob.bin"
mkdata random 3 700000 "$T/tree/sub/random.bin"
mkdata mixed 4 900000 "$T/tree/sub/deeper/mixed.bin"
printf 'hello\n' >"$T/tree/hello.txt"
ln -s hello.txt "$T/tree/link"
run "$STASYNC" make --store="$R/st" "$R/blob.caibx" "$T/blob.bin"
[ "$rc" -eq 0 ] || { show_run; bail_out "make blob.caibx failed"; }
blob_chunks=$(chunk_list "$R/st")
run "$STASYNC" make --store="$R/st" "$R/tree.caidx" "$T/tree"
[ "$rc" -eq 0 ] || { show_run; bail_out "make tree.caidx failed"; }

# same_tree A B DESC: the same files, contents and metadata casync keeps.
same_tree() {
	"$STASYNC" mtree "$1" >"$T/mtree.a" 2>&1
	"$STASYNC" mtree "$2" >"$T/mtree.b" 2>&1
	if diff -r "$1" "$2" >"$T/diff.out" 2>&1 && cmp -s "$T/mtree.a" "$T/mtree.b"; then
		ok "$3"
	else
		not_ok "$3"
		diag_file "diff -r" "$T/diff.out"
		diff "$T/mtree.a" "$T/mtree.b" | head -n 10 | sed 's/^/# /'
	fi
}

# fails_cleanly DESC OUTPUT CMD...: exit 1, one line on stderr, OUTPUT absent.
fails_cleanly() {
	_d=$1 _o=$2
	shift 2
	run "$@"
	if [ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ] && [ ! -e "$_o" ]; then
		ok "$_d"
	else
		not_ok "$_d"
		diag "command: $*"
		show_run
		[ -e "$_o" ] && diag "$_o was left behind"
	fi
}

# ---- pull -------------------------------------------------------------------------
# pull_blob CLIENT REMOTE DESC [INDEX STORE]
pull_blob() {
	_out=$T/pull.$tap_count.bin
	CASYNC_REMOTE_PATH=$2 run "$1" extract --store="${5:-h:$R/st}" "${4:-h:$R/blob.caibx}" "$_out"
	if [ "$rc" -eq 0 ] && cmp -s "$_out" "$T/blob.bin"; then
		ok "$3"
	else
		not_ok "$3"
		show_run
	fi
}

pull_blob "$STASYNC" "$STASYNC" "pull a blob: stasync client, stasync remote"
pull_blob "$STASYNC" "$STASYNC" "pull a blob over ssh://host/path" "ssh://h$R/blob.caibx" "ssh://h$R/st"
pull_blob "$STASYNC" "$STASYNC" "pull a blob: user@host:path" "me@h:$R/blob.caibx" "me@h:$R/st"
run "$STASYNC" extract --store="$R/st" "h:$R/blob.caibx" "$T/mixed.bin"
check '[ "$rc" -eq 0 ] && cmp -s "$T/mixed.bin" "$T/blob.bin"' \
	"pull a remote index with a local store" || show_run
# The default store sits beside the index, on the remote host too.
mkdir -p "$R/d"
cp "$R/blob.caibx" "$R/d/x.caibx"
cp -R "$R/st" "$R/d/default.castr"
cp "$R/blob.caibx" "$T/home/x.caibx"
cp -R "$R/st" "$T/home/default.castr"
CASYNC_REMOTE_PATH=$STASYNC run "$STASYNC" extract "h:$R/d/x.caibx" "$T/default1.bin"
check '[ "$rc" -eq 0 ] && cmp -s "$T/default1.bin" "$T/blob.bin"' \
	"pull with the default store: host:DIR/default.castr" || show_run
CASYNC_REMOTE_PATH=$STASYNC run "$STASYNC" extract h:x.caibx "$T/default2.bin"
check '[ "$rc" -eq 0 ] && cmp -s "$T/default2.bin" "$T/blob.bin" && [ ! -e "$T/default.castr" ]' \
	"pull with the default store: host:x.caibx, host:default.castr in the remote home" || show_run
rm -rf "$T/home/default.castr" "$T/home/x.caibx" "$R/d"
if [ -n "$have_casync" ]; then
	pull_blob "$STASYNC" "$CASYNC" "pull a blob: stasync client, casync remote"
	pull_blob "$CASYNC" "$STASYNC" "pull a blob: casync client, stasync remote"
else
	skip "pull a blob: stasync client, casync remote" "casync not installed"
	skip "pull a blob: casync client, stasync remote" "casync not installed"
fi

CASYNC_REMOTE_PATH=$STASYNC run "$STASYNC" extract --store="h:$R/st" "h:$R/tree.caidx" "$T/tree.1"
[ "$rc" -eq 0 ] || show_run
same_tree "$T/tree" "$T/tree.1" "pull a tree (.caidx): stasync client, stasync remote"
if [ -n "$have_casync" ]; then
	CASYNC_REMOTE_PATH=$CASYNC run "$STASYNC" extract --store="h:$R/st" "h:$R/tree.caidx" "$T/tree.2"
	[ "$rc" -eq 0 ] || show_run
	same_tree "$T/tree" "$T/tree.2" "pull a tree: stasync client, casync remote"
	CASYNC_REMOTE_PATH=$STASYNC run "$CASYNC" extract --store="h:$R/st" "h:$R/tree.caidx" "$T/tree.3"
	[ "$rc" -eq 0 ] || show_run
	same_tree "$T/tree" "$T/tree.3" "pull a tree: casync client, stasync remote"
else
	skip "pull a tree: stasync client, casync remote" "casync not installed"
	skip "pull a tree: casync client, stasync remote" "casync not installed"
fi

# Paths the remote shell would split or expand are quoted for it.
mkdir -p "$R/with space"
cp "$R/blob.caibx" "$R/with space/x\$y'z.caibx"
cp -R "$R/st" "$R/with space/st"
pull_blob "$STASYNC" "$STASYNC" "pull from paths with a space, a dollar and a quote" \
	"h:$R/with space/x\$y'z.caibx" "h:$R/with space/st"
if [ -n "$have_casync" ]; then
	pull_blob "$STASYNC" "$CASYNC" "... from casync too" "h:$R/with space/x\$y'z.caibx" "h:$R/with space/st"
else
	skip "... from casync too" "casync not installed"
fi

# A corrupt chunk in the remote store: named, and taken from --extra-store.
cp -R "$R/st" "$T/bad-st"
victim_id=$(hex_at "$R/blob.caibx" 72 32)   # the blob's first chunk
victim=$(echo "$victim_id" | cut -c1-4)/$victim_id.cacnk
chmod u+w "$T/bad-st/$victim"
printf 'garbage' | dd of="$T/bad-st/$victim" bs=1 seek=20 conv=notrunc 2>/dev/null
CASYNC_REMOTE_PATH=$STASYNC run "$STASYNC" extract --store="h:$T/bad-st" "h:$R/blob.caibx" "$T/bad.bin"
check '[ "$rc" -eq 1 ] && [ ! -e "$T/bad.bin" ] && grep -q "$victim_id" "$T/err" && grep -q "h:$T/bad-st" "$T/err"' \
	"a corrupt chunk in a remote store: exit 1, chunk and store named" || show_run
CASYNC_REMOTE_PATH=$STASYNC run "$STASYNC" extract --store="h:$T/bad-st" --extra-store="$R/st" "h:$R/blob.caibx" "$T/bad.bin"
check '[ "$rc" -eq 0 ] && cmp -s "$T/bad.bin" "$T/blob.bin"' \
	"... and taken from --extra-store instead" || show_run

# ---- push -------------------------------------------------------------------------
# push CLIENT REMOTE NAME INPUT DESC: make h:$T/NAME/x.ca?x and check it
# extracts here to INPUT again.
push() {
	_dir=$T/$3
	_in=$4
	_ext=caibx
	[ -d "$4" ] && _ext=caidx
	mkdir -p "$_dir"
	CASYNC_REMOTE_PATH=$2 run "$1" make --store="h:$_dir/st" "h:$_dir/x.$_ext" "$4"
	if [ "$rc" -ne 0 ]; then
		not_ok "$5"
		show_run
		return
	fi
	if [ "$_ext" = caibx ]; then
		"$STASYNC" extract --store="$_dir/st" "$_dir/x.caibx" "$_dir/out" 2>"$T/err"
		check 'cmp -s "$_dir/out" "$_in" && cmp -s "$_dir/x.caibx" "$R/blob.caibx"' "$5"
	else
		"$STASYNC" extract --store="$_dir/st" "$_dir/x.caidx" "$_dir/out" 2>"$T/err"
		same_tree "$4" "$_dir/out" "$5"
	fi
}

push "$STASYNC" "$STASYNC" p1 "$T/blob.bin" "push a blob: stasync client, stasync remote"
run "$STASYNC" make --store="h:$T/p1/st" "h:$T/p1/x.caibx" "$T/blob.bin"
check '[ "$rc" -eq 0 ] && [ "$(chunk_list "$T/p1/st")" = "$blob_chunks" ]' \
	"push again: nothing new, the same chunks" || show_run
check '[ "$(line_count "$T/out")" -eq 1 ] && [ -z "$(ls "$TMPDIR" | grep "^stasync-push\.")" ]' \
	"push prints the digest and leaves no temporary directory"
push "$STASYNC" "$STASYNC" p2 "$T/tree" "push a tree (.caidx): stasync client, stasync remote"
if [ -n "$have_casync" ]; then
	push "$STASYNC" "$CASYNC" p3 "$T/blob.bin" "push a blob: stasync client, casync remote"
	push "$CASYNC" "$STASYNC" p4 "$T/blob.bin" "push a blob: casync client, stasync remote"
	push "$CASYNC" "$STASYNC" p5 "$T/tree" "push a tree: casync client, stasync remote"
	push "$STASYNC" "$CASYNC" p6 "$T/tree" "push a tree: stasync client, casync remote"
else
	for d in "push a blob: stasync client, casync remote" "push a blob: casync client, stasync remote" \
		"push a tree: casync client, stasync remote" "push a tree: stasync client, casync remote"; do
		skip "$d" "casync not installed"
	done
fi
# Plain archives travel whole (the ARCHIVE argument).
"$STASYNC" make "$T/local.catar" "$T/tree" >/dev/null 2>&1
for remote in "$STASYNC" ${have_casync:+"$CASYNC"}; do
	name=$(basename "$remote")
	mkdir -p "$T/a-$name"
	CASYNC_REMOTE_PATH=$remote run "$STASYNC" make "h:$T/a-$name/t.catar" "$T/tree"
	check '[ "$rc" -eq 0 ] && cmp -s "$T/a-$name/t.catar" "$T/local.catar"' \
		"push a .catar: stasync client, $name remote" || show_run
	CASYNC_REMOTE_PATH=$remote run "$STASYNC" extract "h:$T/a-$name/t.catar" "$T/a-$name/out"
	[ "$rc" -eq 0 ] || show_run
	same_tree "$T/tree" "$T/a-$name/out" "pull a .catar: stasync client, $name remote"
done
[ -n "$have_casync" ] || skip "push and pull a .catar with casync's remote side" "casync not installed"
if [ -n "$have_casync" ]; then
	mkdir -p "$T/a1"
	CASYNC_REMOTE_PATH=$STASYNC run "$CASYNC" make "h:$T/a1/t.catar" "$T/tree"
	"$STASYNC" make "$T/a1/local.catar" "$T/tree" >/dev/null 2>&1
	check '[ "$rc" -eq 0 ] && cmp -s "$T/a1/t.catar" "$T/a1/local.catar"' \
		"push a .catar: casync client, stasync remote" || show_run
	CASYNC_REMOTE_PATH=$STASYNC run "$CASYNC" extract "h:$T/a1/t.catar" "$T/a1/out"
	[ "$rc" -eq 0 ] || show_run
	same_tree "$T/tree" "$T/a1/out" "pull a .catar: casync client, stasync remote"
else
	skip "push a .catar: casync client, stasync remote" "casync not installed"
	skip "pull a .catar: casync client, stasync remote" "casync not installed"
fi
mkdir -p "$T/p7"
run "$STASYNC" make --store="$T/p7/st" "h:$T/p7/x.caibx" "$T/blob.bin"
check '[ "$rc" -eq 1 ] && [ ! -e "$T/p7/x.caibx" ] && grep -q "same host" "$T/err"' \
	"push with the store elsewhere: refused, says why" || show_run
run "$STASYNC" make --store="h:$T/p7/st" "$T/p7/x.caibx" "$T/blob.bin"
check '[ "$rc" -eq 1 ] && [ ! -e "$T/p7/x.caibx" ] && [ "$(line_count "$T/err")" -eq 1 ]' \
	"a local index with a remote store: refused in one line" || show_run

# ---- failures --------------------------------------------------------------------------
export CASYNC_REMOTE_PATH="$STASYNC"
if [ -n "$have_python" ]; then
	DIE_AFTER=200000 CASYNC_SSH_PATH=$T/bin/ssh-dying \
		fails_cleanly "pull from a remote that dies mid-transfer" "$T/dead.bin" \
		"$STASYNC" extract --store="h:$R/st" "h:$R/blob.caibx" "$T/dead.bin"
	grep -q "middle of a message\|closed the connection" "$T/err" && ok "... saying the connection broke" ||
		{ not_ok "... saying the connection broke"; show_run; }
	mkdir -p "$T/p8"
	DIE_AFTER=40 CASYNC_SSH_PATH=$T/bin/ssh-dying \
		fails_cleanly "push to a remote that dies mid-transfer" "$T/p8/x.caibx" \
		"$STASYNC" make --store="h:$T/p8/st" "h:$T/p8/x.caibx" "$T/blob.bin"
	check '[ ! -s "$T/out" ]' "... and prints no digest"
else
	skip "pull from a remote that dies mid-transfer" "no python3"
	skip "... saying the connection broke" "no python3"
	skip "push to a remote that dies mid-transfer" "no python3"
	skip "... and prints no digest" "no python3"
fi
CASYNC_SSH_PATH=$T/bin/ssh-garbage \
	fails_cleanly "pull from a remote that sends garbage" "$T/garbage.bin" \
	"$STASYNC" extract --store="h:$R/st" "h:$R/blob.caibx" "$T/garbage.bin"
grep -q "bad message" "$T/err" && ok "... saying so" || { not_ok "... saying so"; show_run; }
mkdir -p "$T/p9"
CASYNC_SSH_PATH=$T/bin/ssh-garbage \
	fails_cleanly "push to a remote that sends garbage" "$T/p9/x.caibx" \
	"$STASYNC" make --store="h:$T/p9/st" "h:$T/p9/x.caibx" "$T/blob.bin"
CASYNC_SSH_PATH=$T/bin/no-such-ssh \
	fails_cleanly "an ssh that cannot be run" "$T/nossh.bin" \
	"$STASYNC" extract --store="h:$R/st" "h:$R/blob.caibx" "$T/nossh.bin"
run "$STASYNC" extract --store="h:$R/st" "h:$R/no-such.caibx" "$T/noindex.bin"
check '[ "$rc" -eq 1 ] && [ ! -e "$T/noindex.bin" ] && grep -q "no-such.caibx" "$T/err"' \
	"a remote index that does not exist: exit 1, named" || show_run
run "$STASYNC" extract --store="h:$T/empty-store" "h:$R/blob.caibx" "$T/nochunks.bin"
check '[ "$rc" -eq 1 ] && [ ! -e "$T/nochunks.bin" ] && grep -q "missing in h:" "$T/err"' \
	"a remote store without the chunks: exit 1, chunk and store named" || show_run
run "$STASYNC" extract --store="h:$T/empty-store" --extra-store="$R/st" "h:$R/blob.caibx" "$T/fallback.bin"
check '[ "$rc" -eq 0 ] && cmp -s "$T/fallback.bin" "$T/blob.bin"' \
	"chunks missing remotely come from --extra-store" || show_run

done_testing
