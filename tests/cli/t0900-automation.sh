#!/bin/sh
# --unchanged-exit and --json for make and extract, and the README's
# automation recipes: exit 0 when something was written, N when the output
# was already right, 1 on errors; the JSON summary parsed with python3.
# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2016,SC2317 # check() evals its condition; json_check is called through it
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"

require_stasync
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

# status DESC WANT CMD...: run and expect exit status WANT
status() {
	_desc=$1
	_want=$2
	shift 2
	run "$@"
	if [ "$rc" -eq "$_want" ]; then
		ok "$_desc"
	else
		not_ok "$_desc"
		diag "command: $*" "want exit $_want"
		show_run
	fi
}

mkdir -p src/sub
mkdata mixed 3 300001 src/big.bin
echo hello >src/a.txt
echo world >src/sub/b.txt
ln -s a.txt src/link

# ---- make ------------------------------------------------------------------------
status "make .caidx: first run writes, exit 0" 0 "$STASYNC" --unchanged-exit=3 make t.caidx src
status "make .caidx again: nothing new, exit 3" 3 "$STASYNC" --unchanged-exit=3 make t.caidx src
ls -l --time-style=+%s.%N t.caidx >before
status "make .catar: exit 0" 0 "$STASYNC" --unchanged-exit=3 make t.catar src
status "make .catar again: exit 3" 3 "$STASYNC" --unchanged-exit=3 make t.catar src
touch -d '2020-01-01 00:00:00' t.caidx
status "make .caidx a third time: exit 3" 3 "$STASYNC" --unchanged-exit=3 make t.caidx src
check '[ "$(stat -c %Y t.caidx)" = "$(date -d "2020-01-01 00:00:00" +%s)" ]' \
	"an unchanged index is left alone (mtime kept)"
status "without --unchanged-exit: casync's 0" 0 "$STASYNC" make t.caidx src
echo changed >src/sub/b.txt
status "make after one file changed: exit 0" 0 "$STASYNC" --unchanged-exit=3 make t.caidx src
echo world >src/sub/b.txt
"$STASYNC" make t.caidx src >/dev/null
status "make blob index: exit 0" 0 "$STASYNC" --unchanged-exit=3 make b.caibx src/big.bin
status "make blob index again: exit 3" 3 "$STASYNC" --unchanged-exit=3 make b.caibx src/big.bin

# ---- extract of a tree ------------------------------------------------------------
for a in t.caidx t.catar; do
	rm -rf tgt
	status "extract $a into a new directory: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract $a tgt
	status "extract $a again: exit 3" 3 "$STASYNC" --unchanged-exit=3 extract $a tgt
	touch -d '2001-02-03 04:05:06' tgt/sub/b.txt
	status "extract $a after one mtime changed: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract $a tgt
	status "... and then exit 3" 3 "$STASYNC" --unchanged-exit=3 extract $a tgt
	if setfattr -n user.test -v 1 tgt/a.txt 2>/dev/null; then
		status "extract $a after an xattr was added: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract $a tgt
		check '! getfattr -n user.test tgt/a.txt >/dev/null 2>&1' "the extra xattr is gone"
		status "... and then exit 3" 3 "$STASYNC" --unchanged-exit=3 extract $a tgt
	else
		skip "extract $a after an xattr was added" "no user xattrs here"
	fi
	echo extra >tgt/extra
	status "extract $a with an extra file (--delete): exit 0" 0 "$STASYNC" --unchanged-exit=3 extract $a tgt
	check '[ ! -e tgt/extra ]' "the extra file is removed"
	status "... and then exit 3" 3 "$STASYNC" --unchanged-exit=3 extract $a tgt
	status "a subtree counts as a change: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract $a tgt2 sub
done

# A file the archive's .caexclude left out, in the target: extract removes
# it, so it is a change even with the directory's mtime put back.
mkdir ex
echo a >ex/a
echo ignored >ex/.caexclude
echo i >ex/ignored
"$STASYNC" make ex.catar ex >/dev/null
rm -rf exo
"$STASYNC" extract ex.catar exo
echo i >exo/ignored
touch -r ex exo
status "a file .caexclude leaves out, in the target: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract ex.catar exo
check '[ ! -e exo/ignored ]' "... and it is removed"
status "... and then exit 3" 3 "$STASYNC" --unchanged-exit=3 extract ex.catar exo
status "--without= restoring less counts as a change: exit 0" 0 \
	"$STASYNC" --unchanged-exit=3 --without=xattrs extract ex.catar exo
echo extra >exo/extra
status "--delete=no with an extra file counts as a change: exit 0" 0 \
	"$STASYNC" --unchanged-exit=3 --delete=no extract ex.catar exo
check '[ -e exo/extra ]' "... and the file stays"

# ---- extract of a blob --------------------------------------------------------------
rm -f blob
status "extract blob: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract b.caibx blob
status "extract blob again: exit 3" 3 "$STASYNC" --unchanged-exit=3 extract b.caibx blob
printf 'X' | dd of=blob bs=1 seek=1234 conv=notrunc 2>/dev/null
status "extract blob after one byte changed: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract b.caibx blob
same_file blob src/big.bin "the byte is put back"
printf 'tail' >>blob
status "extract blob into a longer file: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract b.caibx blob
same_file blob src/big.bin "the file is cut to size"

# ---- errors and refusals ---------------------------------------------------------
status "--unchanged-exit=1 is refused" 1 "$STASYNC" --unchanged-exit=1 make t.caidx src
status "--unchanged-exit=256 is refused" 1 "$STASYNC" --unchanged-exit=256 make t.caidx src
status "a missing archive is still exit 1" 1 "$STASYNC" --unchanged-exit=3 extract missing.caidx tgt
status "a missing input is still exit 1" 1 "$STASYNC" --unchanged-exit=3 make t.caidx missing
"$STASYNC" --unchanged-exit=3 --what=archive extract - tgt <t.catar >/dev/null 2>"$T/err"
rc=$?
check '[ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ] && grep -q "read twice" "$T/err"' \
	"an archive on stdin is refused in one line, exit 1"

# ---- casync's own archive -----------------------------------------------------------
if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
	"$CASYNC" make c.catar src >/dev/null 2>&1
	rm -rf cout
	status "casync's .catar extracted: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract c.catar cout
	status "casync's .catar extracted again: exit 3" 3 "$STASYNC" --unchanged-exit=3 extract c.catar cout
else
	skip "casync's archive extracted twice" "casync not installed"
fi

# ---- --json -------------------------------------------------------------------------
# json_check FILE CHANGED PYTHON-ASSERTS: one JSON object with the schema
json_check() {
	python3 -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
ints = ["bytes", "chunks", "chunks_new", "chunks_reused", "chunks_fetched",
        "chunks_from_cache", "chunks_from_seeds", "chunks_in_place",
        "bytes_cloned", "bytes_written", "files_created", "files_replaced",
        "files_removed"]
for k in ints:
    assert isinstance(o[k], int) and not isinstance(o[k], bool), k
assert isinstance(o["changed"], bool)
assert o["changed"] == (sys.argv[2] == "true")
assert isinstance(o["elapsed_seconds"], (int, float))
assert o["verb"] in ("make", "extract")
assert o["kind"] in ("blob-index", "archive-index", "archive")
exec(sys.argv[3])
' "$1" "$2" "$3" 2>"$T/py.err"
}
rm -f j.caidx
"$STASYNC" --json make j.caidx src >j1 2>/dev/null
check 'json_check j1 true "assert o[\"verb\"] == \"make\" and len(o[\"digest\"]) == 64 and o[\"chunks_new\"] == 0 and o[\"bytes_written\"] > 0"' \
	"make --json: one object with the digest, changed true" || diag_file json j1 || diag_file py "$T/py.err"
"$STASYNC" --json --unchanged-exit=3 make j.caidx src >j2 2>/dev/null
check 'json_check j2 false "assert o[\"bytes_written\"] == 0 and o[\"chunks_reused\"] == o[\"chunks\"]"' \
	"make --json unchanged: changed false, nothing written" || diag_file json j2
"$STASYNC" --json --store=s2.castr make - src --what=archive-index >j3.caidx 2>j3
check 'json_check j3 true "assert o[\"chunks_new\"] == o[\"chunks\"] > 0"' \
	"make --json to stdout: the object goes to stderr" || diag_file json j3
rm -rf jout
"$STASYNC" --json extract t.caidx jout >j4 2>/dev/null
check 'json_check j4 true "assert o[\"verb\"] == \"extract\" and \"digest\" not in o and o[\"chunks_fetched\"] == o[\"chunks\"]"' \
	"extract --json of a tree: changed true" || diag_file json j4
# the root, sub/, big.bin, a.txt, sub/b.txt and link: all new
check 'json_check j4 true "assert (o[\"files_created\"], o[\"files_replaced\"], o[\"files_removed\"]) == (6, 0, 0)"' \
	"extract --json into a new directory: 6 entries created" || diag_file json j4
"$STASYNC" --json --unchanged-exit=3 extract t.caidx jout >j5 2>/dev/null
check 'json_check j5 false "assert o[\"bytes_written\"] == 0 and o[\"files_created\"] + o[\"files_replaced\"] + o[\"files_removed\"] == 0"' \
	"extract --json again: changed false, no entry counted" || diag_file json j5
# Extract puts every file in anew: in place of the one there (big.bin,
# a.txt, sub/b.txt, a directory in the way holding one file) or where
# none is (link); what the archive lacks goes (extra/ with two files).
rm jout/link
rm jout/sub/b.txt
mkdir -p jout/sub/b.txt jout/extra
touch jout/sub/b.txt/inner jout/extra/x jout/extra/y
"$STASYNC" --json extract t.caidx jout >j7 2>/dev/null
check 'json_check j7 true "assert (o[\"files_created\"], o[\"files_replaced\"], o[\"files_removed\"]) == (1, 3, 4), o" && diff -r src jout' \
	"extract --json over a changed tree: 1 created, 3 replaced, 4 removed" || diag_file json j7
# a file where a directory belongs: the directory replaces it, and what
# goes into the new directory is created
rm -rf jout/sub
echo x >jout/sub
"$STASYNC" --json extract t.caidx jout >j8 2>/dev/null
check 'json_check j8 true "assert (o[\"files_created\"], o[\"files_replaced\"], o[\"files_removed\"]) == (1, 4, 0), o" && diff -r src jout' \
	"extract --json, a file where a directory belongs: 1 created, 4 replaced" || diag_file json j8
rm -f jb.bin
"$STASYNC" --json extract b.caibx jb.bin >j9 2>/dev/null
check 'json_check j9 true "assert (o[\"files_created\"], o[\"files_replaced\"], o[\"files_removed\"]) == (1, 0, 0), o"' \
	"extract --json of a blob to a new file: 1 created" || diag_file json j9
"$STASYNC" --json extract b.caibx jb.bin >j10 2>/dev/null
check 'json_check j10 true "assert (o[\"files_created\"], o[\"files_replaced\"], o[\"files_removed\"]) == (0, 1, 0), o" && cmp -s jb.bin src/big.bin' \
	"extract --json of a blob over the file: 1 replaced" || diag_file json j10
"$STASYNC" --json extract b.caibx - >j6.bin 2>j6
check 'json_check j6 true "assert o[\"bytes\"] == 300001" && cmp -s j6.bin src/big.bin' \
	"extract --json to stdout: the blob on stdout, the object on stderr" || diag_file json j6

# ---- over HTTP: the archive is fetched again, the index's chunks come
# from --cache the second time ---------------------------------------------------------
if have_nginx; then
	mkdir -p www
	cp t.catar t.caidx www/ && cp -R default.castr www/
	nginx_start www "$T/www"
	U=http://127.0.0.1:$NGINX_PORT
	status "extract of a .catar URL: exit 0" 0 "$STASYNC" --unchanged-exit=3 extract "$U/t.catar" hc
	status "... and again: exit 3" 3 "$STASYNC" --unchanged-exit=3 extract "$U/t.catar" hc
	status "extract of a .caidx URL with --cache: exit 0" 0 \
		"$STASYNC" --unchanged-exit=3 --cache="$T/hcache" extract "$U/t.caidx" hi
	"$STASYNC" --json --unchanged-exit=3 --cache="$T/hcache" extract "$U/t.caidx" hi >hj 2>"$T/err"
	rc=$?
	check '[ "$rc" -eq 3 ] && python3 -c "
import json, sys
o = json.load(open(sys.argv[1]))
assert o[\"changed\"] is False and o[\"chunks_from_cache\"] == o[\"chunks\"] > 0, o
" hj' "... and again: exit 3, the compared chunks all from the cache" || { diag_file json hj; show_run; }
else
	skip "extract of URLs twice" "nginx not installed"
fi

# ---- README recipes ---------------------------------------------------------------
# Ansible: the task's command, run twice; rc 0 is "changed", 3 is "ok".
mkdir -p "$T/srv"
status "Ansible recipe, first run: changed (0)" 0 \
	"$STASYNC" extract --unchanged-exit=3 --cache="$T/cache" t.caidx "$T/srv/app"
status "Ansible recipe, second run: ok (3)" 3 \
	"$STASYNC" extract --unchanged-exit=3 --cache="$T/cache" t.caidx "$T/srv/app"
# CI: upload with make, download with extract --cache
mkdir -p build/out && cp -R src/. build/out/
status "CI recipe: make" 0 "$STASYNC" make --store="$T/ci.castr" --json "$T/ci.caidx" build/out
check 'python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$T/out"' "CI recipe: make's JSON parses"
status "CI recipe: extract --cache" 0 "$STASYNC" extract --store="$T/ci.castr" \
	--cache="$T/ci-cache" "$T/ci.caidx" "$T/deploy"
check 'diff -r src "$T/deploy" >/dev/null' "CI recipe: the tree arrives"
# systemd: the units verify (or at least parse as INI)
svc=$top_srcdir/doc/examples/stasync-pull.service
tmr=$top_srcdir/doc/examples/stasync-pull.timer
python3 -c '
import configparser, sys
for f in sys.argv[1:]:
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.read_string(open(f).read())
    assert p.sections(), f
s = configparser.ConfigParser(strict=False, interpolation=None)
s.read_string(open(sys.argv[1]).read())
assert "--unchanged-exit=3" in s["Service"]["ExecStart"]
assert s["Service"]["SuccessExitStatus"] == "3"
' "$svc" "$tmr" 2>"$T/py.err"
py_rc=$?
is "$py_rc" 0 "systemd recipe: the units parse as INI, exit 3 is success" || diag_file py "$T/py.err"
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	mkdir -p units && cp "$svc" "$tmr" units/
	sed -i "s|/usr/bin/stasync|$STASYNC|" units/stasync-pull.service
	status "systemd-analyze verify the units" 0 systemd-analyze verify units/stasync-pull.service units/stasync-pull.timer
else
	skip "systemd-analyze verify the units" "no running systemd"
fi

done_testing
