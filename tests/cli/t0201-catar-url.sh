#!/bin/sh
# A .catar named by an http:// or file:// URL: Debian's casync makes it
# from a rich tree, nginx serves it on 127.0.0.1, and extract, list, mtree,
# stat and digest read it as it arrives, with the results casync gives for
# the local file. A transfer cut short is resumed where the reader stopped
# (tests/cli/httpd-test.py); a missing URL is one clear line and exit 1.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_casync
require_stasync

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
HOME=$T/home
export HOME
mkdir -p "$HOME"
# stat prints local time: both tools read TZ.
TZ=Europe/Berlin
export TZ

# tree_same A B DESC: diff -r finds nothing, but for what it cannot compare
# (fifos, sockets, device nodes: the re-made archive checks those) and the
# nodump file casync leaves out of archives.
tree_same() {
	diff -r --no-dereference "$1" "$2" 2>&1 |
		grep -Ev '^File .* is a (.*) while file .* is a \1$' |
		grep -vxF "Only in $1: empty-file" >"$T/diff.out"
	if [ -s "$T/diff.out" ]; then
		not_ok "$3"
		diag_file "diff -r" "$T/diff.out"
		return 1
	fi
	ok "$3"
}

# same_as_casync DESC LOCAL URL VERB [ARGS...]: `stasync VERB URL ARGS`
# prints what `casync VERB LOCAL ARGS` prints, with the same exit status.
same_as_casync() {
	_d=$1 _local=$2 _url=$3 _verb=$4
	shift 4
	run "$CASYNC" "$_verb" "$_local" "$@"
	cp "$T/out" "$T/ca.out"
	_ca_rc=$rc
	run "$STASYNC" "$_verb" "$_url" "$@"
	if [ "$rc" -eq "$_ca_rc" ] && cmp -s "$T/ca.out" "$T/out"; then
		ok "$_d"
		return 0
	fi
	not_ok "$_d"
	diag "exit status: casync $_ca_rc, stasync $rc"
	diff "$T/ca.out" "$T/out" | head -n 20 | sed 's/^/#   /'
	diag_file "stderr" "$T/err"
	return 1
}

# ---- the archive ------------------------------------------------------------------
S=$T/srv
mkdir -p "$S"
mktree tree || bail_out "could not build the test tree"
[ -z "$MKTREE_SKIPPED" ] || diag "left out of the tree here:$MKTREE_SKIPPED"
# Without root neither tool can put the user.* xattrs back on a read-only
# file: let hello.txt be writable then.
[ "$(id -u)" -eq 0 ] || chmod u+w tree/hello.txt
run "$CASYNC" make "$S/x.catar" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make x.catar failed"; }
ca_digest=$("$CASYNC" digest "$S/x.catar" 2>/dev/null)

# ---- file:// for every kind of argument ---------------------------------------------
run_ok "extract file://…/x.catar" "$STASYNC" extract "file://$S/x.catar" "$T/of" &&
	tree_same tree "$T/of" "  the tree is the same (diff -r)"
same_as_casync "mtree file://…/x.catar" "$S/x.catar" "file://$S/x.catar" mtree
run "$CASYNC" make --store="$S/ca.castr" "$S/x.caidx" tree
[ "$rc" -eq 0 ] || { show_run; bail_out "casync make x.caidx failed"; }
run_ok "extract file://…/x.caidx --store=file://…" \
	"$STASYNC" extract --store="file://$S/ca.castr" "file://$S/x.caidx" "$T/of2" &&
	tree_same tree "$T/of2" "  the tree is the same (diff -r)"

# ---- a build without libcurl says so --------------------------------------------------
run "$STASYNC" list http://127.0.0.1:9/x.catar
if grep -q "no HTTP support" "$T/err"; then
	is "$rc" 1 "a build without libcurl: a .catar URL refused with \"no HTTP support\""
	done_testing
fi
if ! have_nginx || ! have_python3; then
	skip "a .catar over HTTP" "nginx and python3 are needed (apt-get install nginx python3)"
	done_testing
fi

# ---- over HTTP ----------------------------------------------------------------------
nginx_start srv "$S"
U=http://127.0.0.1:$NGINX_PORT

run_ok "extract $U/x.catar" "$STASYNC" extract "$U/x.catar" "$T/o1" &&
	tree_same tree "$T/o1" "  the tree is the same (diff -r)"
if run "$CASYNC" make "$T/re.catar" "$T/o1" && [ "$rc" -eq 0 ]; then
	same_file "$S/x.catar" "$T/re.catar" "  casync makes the same .catar of it again (cmp)"
else
	not_ok "  casync makes the same .catar of it again (cmp)"
	show_run
fi
run_ok "extract a subtree of a .catar URL" "$STASYNC" extract "$U/x.catar" "$T/o2" sub &&
	tree_same tree/sub "$T/o2/sub" "  the subtree is the same (diff -r)"
run_ok "extract --what=archive of a URL without the suffix" \
	"$STASYNC" extract --what=archive "$U/x.catar?v=1" "$T/o3" &&
	tree_same tree "$T/o3" "  the tree is the same (diff -r)"

for verb in list mtree stat; do
	same_as_casync "$verb of a .catar URL: casync's output on the local file" \
		"$S/x.catar" "$U/x.catar" "$verb"
done
same_as_casync "list of a path inside a .catar URL" "$S/x.catar" "$U/x.catar" list sub
same_as_casync "stat of one file early in a .catar URL" "$S/x.catar" "$U/x.catar" stat hello.txt
same_as_casync "mtree --without=xattrs of a .catar URL" "$S/x.catar" "$U/x.catar" mtree --without=xattrs
run_ok "digest of a .catar URL" "$STASYNC" digest "$U/x.catar" &&
	is "$(cat "$T/out")" "$ca_digest" "  casync's digest of the local file"

# ---- a missing URL ------------------------------------------------------------------
for verb in extract list mtree stat digest; do
	if [ "$verb" = extract ]; then
		run "$STASYNC" extract "$U/none.catar" "$T/o404"
	else
		run "$STASYNC" "$verb" "$U/none.catar"
	fi
	if [ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ] &&
		grep -qF "$U/none.catar: missing (HTTP 404" "$T/err"; then
		ok "$verb of a missing .catar URL: one line naming the URL and the 404, exit 1"
	else
		not_ok "$verb of a missing .catar URL: one line naming the URL and the 404, exit 1"
		show_run
	fi
done
check "[ ! -e '$T/o404' ]" "  extract left no output directory behind"
run "$STASYNC" list "$U/x"
if [ "$rc" -eq 1 ] && grep -qF "$U/x: expected a .catar or .caidx URL" "$T/err"; then
	ok "a URL of no known kind: asks for --what="
else
	not_ok "a URL of no known kind: asks for --what="
	show_run
fi
httpd_stop_all

# ---- a transfer cut short, then retried: the reader goes on where it was -------------------
testhttpd_start cut --root="$S" --fail=2 --cut=300000
F=http://127.0.0.1:$TESTHTTPD_PORT
run_ok "a .catar URL whose transfer breaks twice after 300000 bytes" \
	"$STASYNC" extract "$F/x.catar" "$T/o5" &&
	tree_same tree "$T/o5" "  the tree is the same (diff -r)"
is "$(grep -c "^GET /x.catar 200" "$TESTHTTPD_LOG")" 3 "  three requests"
httpd_stop_all

# ---- a dead port --------------------------------------------------------------------
dead=$(free_port)
run "$STASYNC" extract --retries=0 "http://127.0.0.1:$dead/x.catar" "$T/o6"
if [ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ] &&
	grep -qF "127.0.0.1:$dead/x.catar" "$T/err" && grep -qi "connect" "$T/err"; then
	ok "a .catar URL on a dead port: one line naming the URL and the failure"
else
	not_ok "a .catar URL on a dead port: one line naming the URL and the failure"
	show_run
fi

done_testing
