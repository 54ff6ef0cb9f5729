#!/bin/sh
# Crashes and full disks. make and extract are killed with SIGKILL at
# random moments: the store holds only complete, correct chunks and no
# temporary files; an index or an extracted blob is under its final name
# complete or not at all; running the command again completes, reuses the
# chunks already stored, leaves no temporary file and gives the same bytes
# as an uninterrupted run (and as casync). Then, as root, make and extract
# onto a small tmpfs: "No space left on device" in one line naming the
# file, exit status 1, nothing corrupt or partial left behind.
# CRASH_ROUNDS sets the kills per case (default 12).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
command -v zstd >/dev/null 2>&1 || skip_all "zstd not installed"

rounds=${CRASH_ROUNDS:-12}

# check_store STORE: every file is <4 hex>/<64 hex>.cacnk, decompresses
# and hashes (SHA-512/256) to its name. Prints the problems, one a line.
check_store() {
	[ -d "$1" ] || return 0
	python3 - "$1" <<'EOF'
import hashlib, os, re, subprocess, sys
store = sys.argv[1]
def sha512_256(b):
    try:
        return hashlib.new("sha512_256", b).hexdigest()
    except ValueError:
        out = subprocess.run(["openssl", "dgst", "-sha512-256", "-r"], input=b,
                             stdout=subprocess.PIPE, check=True).stdout
        return out.split()[0].decode()
for top, dirs, files in os.walk(store):
    rel = os.path.relpath(top, store)
    for f in files:
        p = os.path.join(top, f)
        m = re.fullmatch(r"([0-9a-f]{64})\.cacnk", f)
        if not m or rel != f[:4]:
            print("stray file: %s" % p)
            continue
        d = subprocess.run(["zstd", "-dcq", p], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        if d.returncode != 0:
            print("does not decompress: %s" % p)
        elif sha512_256(d.stdout) != m.group(1):
            print("wrong content: %s" % p)
EOF
}

# store_ok STORE DESC
store_ok() {
	check_store "$1" >"$T/store.out" 2>&1
	if [ -s "$T/store.out" ]; then
		not_ok "$2"
		diag_file "problems" "$T/store.out"
		return 1
	fi
	ok "$2"
}

# temporaries DIR: the names of our temporary files under DIR.
temporaries() {
	find "$1" -name '.stasync-*' -o -name '.#stasync-*' -o -name '*.tmp'
}

# random_ms MAX: a number from 0 to MAX-1.
random_ms() {
	echo $(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1))
}

# kill_after MS CMD ARGS...: run the command, SIGKILL it after MS
# milliseconds (if still running). Sets $killed to 1 when it was.
# (Interrupted meanwhile, the test kills it on its way out.)
kill_after_pid=
# shellcheck disable=SC2016 # expanded on exit
at_exit '[ -z "$kill_after_pid" ] || { kill -KILL "$kill_after_pid"; wait "$kill_after_pid"; } 2>/dev/null'
kill_after() {
	_ms=$1
	shift
	"$@" >/dev/null 2>&1 </dev/null &
	kill_after_pid=$!
	sleep "$(printf '%d.%03d' $((_ms / 1000)) $((_ms % 1000)))"
	killed=0
	kill -KILL "$kill_after_pid" 2>/dev/null && killed=1
	wait "$kill_after_pid" 2>/dev/null
	kill_after_pid=
}

# elapsed_ms CMD ARGS...: how long a successful run takes.
elapsed_ms() {
	_t0=$(now_ms)
	"$@" >/dev/null 2>&1 </dev/null || bail_out "reference run failed: $*"
	echo $(($(now_ms) - _t0))
}

# ---- data and reference runs ------------------------------------------------------------
mkdata mixed 61 6000000 blob
mkdir -p tree/sub/deeper
mkdata random 62 3000000 tree/random.bin
mkdata mixed 63 1500000 tree/sub/mixed.bin
mkdata zero 64 300000 tree/sub/deeper/zeros
i=0
while [ "$i" -lt 40 ]; do
	mkdata random $((100 + i)) $((i * 997 + 10)) "tree/sub/small-$i"
	i=$((i + 1))
done

blob_ms=$(elapsed_ms "$STASYNC" make --store=ref.castr ref.caibx blob)
tree_ms=$(elapsed_ms "$STASYNC" make --store=ref.castr ref.caidx tree)
xblob_ms=$(elapsed_ms "$STASYNC" extract --store=ref.castr ref.caibx ref.out)
xtree_ms=$(elapsed_ms "$STASYNC" extract --store=ref.castr ref.caidx ref.tree)
diag "uninterrupted runs: make blob ${blob_ms} ms, make tree ${tree_ms} ms," \
	"extract blob ${xblob_ms} ms, extract tree ${xtree_ms} ms; $rounds kills per case"
store_ok ref.castr "reference store is sound"
same_file ref.out blob "reference blob extract"
check 'diff -r tree ref.tree >/dev/null' "reference tree extract"

if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
	run_ok "casync make blob" "$CASYNC" make --store=ca.castr ca.caibx blob
	same_file ca.caibx ref.caibx "blob index identical to casync's"
	run_ok "casync make tree" "$CASYNC" make --store=ca.castr ca.caidx tree
	same_file ca.caidx ref.caidx "tree index identical to casync's"
else
	skip "indexes identical to casync's" "casync not installed"
fi

# kill_make KIND INPUT INDEX MS: one killed make into an empty store, the
# checks, and the rerun.
kill_make() {
	rm -rf st.castr o && mkdir o
	kill_after "$4" "$STASYNC" make --store=st.castr "o/$3" "$2"
	bad=
	[ -n "$(check_store st.castr)" ] && bad="$bad store-unsound"
	[ -e "o/$3" ] && ! cmp -s "o/$3" "ref.$1" && bad="$bad partial-index"
	[ "$(ls -A o)" = "" ] || [ "$(ls -A o)" = "$3" ] || bad="$bad stray-in-output-dir"
	before=$(chunk_list st.castr | wc -l)
	"$STASYNC" -v make --store=st.castr "o/$3" "$2" >/dev/null 2>"$T/rerun.err" ||
		bad="$bad rerun-failed"
	cmp -s "o/$3" "ref.$1" || bad="$bad rerun-index-differs"
	new=$(sed -n 's/.* \([0-9]*\) new in the store.*/\1/p' "$T/rerun.err")
	[ "$new" = $((ref_chunks_of - before)) ] || bad="$bad rerun-stored-$new-not-$((ref_chunks_of - before))"
	[ "$(chunk_list st.castr)" = "$(chunk_list "ref1.castr")" ] || bad="$bad chunks-differ"
	[ -z "$(temporaries st.castr)$(temporaries o)" ] || bad="$bad temporaries-left"
	[ -n "$(check_store st.castr)" ] && bad="$bad store-unsound-after-rerun"
}

# ref1.castr: the chunks of one index, to compare with.
for kind in caibx caidx; do
	if [ $kind = caibx ]; then input=blob ms=$blob_ms; else input=tree ms=$tree_ms; fi
	rm -rf ref1.castr
	"$STASYNC" make --store=ref1.castr ref1.$kind $input >/dev/null || bail_out "make ref1.$kind"
	ref_chunks_of=$(chunk_list ref1.castr | wc -l)
	fails=0 kills=0 r=0
	while [ "$r" -lt "$rounds" ]; do
		kill_make $kind $input idx.$kind "$(random_ms $((ms * 5 / 4 + 5)))"
		kills=$((kills + killed))
		if [ -n "$bad" ]; then
			fails=$((fails + 1))
			diag "round $r ($kind):$bad"
		fi
		r=$((r + 1))
	done
	is "$fails" 0 "make .$kind killed $rounds times ($kills while running): store sound, index whole or absent, rerun completes and reuses the chunks"
done

# ---- extract -------------------------------------------------------------------------------
# A blob: into a new file, and over an existing file (either the old or
# the new bytes, never a mix).
mkdata random 65 100000 old.bin
fails=0 kills=0 r=0
while [ "$r" -lt "$rounds" ]; do
	rm -rf o && mkdir o
	over=$((r % 2))
	[ $over = 1 ] && cp old.bin o/x.bin
	kill_after "$(random_ms $((xblob_ms * 5 / 4 + 5)))" \
		"$STASYNC" extract --store=ref.castr ref.caibx o/x.bin
	kills=$((kills + killed))
	bad=
	if [ -e o/x.bin ] && ! cmp -s o/x.bin blob; then
		[ $over = 1 ] && cmp -s o/x.bin old.bin || bad="$bad partial-output"
	fi
	# Replacing, a kill between naming the finished file and renaming it
	# over the old one leaves it under its temporary name (one per output
	# file), which the rerun removes (below).
	if [ $over = 1 ]; then
		left=$(ls -A o | grep -v '^\.stasync-[0-9a-f]\{16\}\.tmp$')
	else
		left=$(ls -A o)
	fi
	[ $over = 0 ] && [ ! -e o/x.bin ] || [ "$left" = x.bin ] || bad="$bad stray-in-output-dir"
	"$STASYNC" extract --store=ref.castr ref.caibx o/x.bin >/dev/null 2>&1 || bad="$bad rerun-failed"
	cmp -s o/x.bin blob || bad="$bad rerun-output-differs"
	[ "$(ls -A o)" = x.bin ] || bad="$bad temporaries-left"
	if [ -n "$bad" ]; then
		fails=$((fails + 1))
		diag "round $r (blob extract, over=$over):$bad"
	fi
	r=$((r + 1))
done
is "$fails" 0 "blob extract killed $rounds times ($kills while running): output whole, old or absent; rerun completes, no temporary left"

# The same kill at the one moment that leaves a name behind: held (by
# strace) at the rename of the finished file over the old one.
if command -v strace >/dev/null 2>&1; then
	rm -rf o && mkdir o && cp old.bin o/x.bin
	strace -f -o /dev/null -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:delay_enter=5000000 \
		"$STASYNC" extract --store=ref.castr ref.caibx o/x.bin >/dev/null 2>&1 </dev/null &
	held=$!
	n=0
	while [ "$n" -lt 100 ] && [ "$(ls -A o | wc -l)" -lt 2 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	pkill -KILL -P "$held" 2>/dev/null
	kill -KILL "$held" 2>/dev/null
	wait "$held" 2>/dev/null
	check "cmp -s o/x.bin old.bin && [ \$(ls -A o | grep -c '^\.stasync-[0-9a-f]\{16\}\.tmp\$') -eq 1 ]" \
		"blob extract killed at the rename: the old file, and the new one under a temporary name" ||
		diag "left: $(ls -A o | tr '\n' ' ')"
	run "$STASYNC" extract --store=ref.castr ref.caibx o/x.bin
	check "[ $rc -eq 0 ] && cmp -s o/x.bin blob && [ \"\$(ls -A o)\" = x.bin ]" \
		"... the next extract of the same file completes and removes it" || show_run
else
	skip "blob extract killed at the rename" "no strace to hold it there"
	skip "... the next extract of the same file completes and removes it" "no strace"
fi

# A tree: partial after a kill, complete and clean after the rerun.
fails=0 kills=0 r=0
while [ "$r" -lt "$rounds" ]; do
	rm -rf o
	# every other round without --delete: temporaries go all the same
	del=yes
	[ $((r % 2)) = 1 ] && del=no
	kill_after "$(random_ms $((xtree_ms * 5 / 4 + 5)))" \
		"$STASYNC" extract --delete=$del --store=ref.castr ref.caidx o
	kills=$((kills + killed))
	bad=
	"$STASYNC" extract --delete=$del --store=ref.castr ref.caidx o >/dev/null 2>"$T/rerun.err" ||
		bad="$bad rerun-failed"
	diff -r tree o >/dev/null 2>&1 || bad="$bad rerun-tree-differs"
	[ -z "$(temporaries o)" ] || bad="$bad temporaries-left"
	if [ -n "$bad" ]; then
		fails=$((fails + 1))
		diag "round $r (tree extract, --delete=$del):$bad"
		diag_file "rerun stderr" "$T/rerun.err"
	fi
	r=$((r + 1))
done
is "$fails" 0 "tree extract killed $rounds times ($kills while running): rerun completes, same tree, no temporary left"

# ---- a full file system ----------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "full file system" "needs root to mount a tmpfs"
	done_testing
fi
mkdir small
if ! mount -t tmpfs -o size=2m,nr_inodes=1000 stasync-test small 2>/dev/null; then
	skip "full file system" "cannot mount a tmpfs here"
	done_testing
fi
# shellcheck disable=SC2016 # expanded on exit
at_exit 'umount "$T/small" 2>/dev/null'

# The store fills up (random data hardly compresses).
mkdata random 66 4000000 big
run "$STASYNC" make --store=small/st.castr big.caibx big
is "$rc" 1 "make into a full store: exit status 1"
is "$(line_count "$T/err")" 1 "make into a full store: a one-line message"
err_has "small/st.castr/" "make into a full store: the message names the chunk"
err_has "No space left on device" "make into a full store: the message says why"
check '[ ! -e big.caibx ] && [ -z "$(temporaries .)" ]' "make into a full store: no index, no temporary file"
store_ok small/st.castr "make into a full store: every chunk stored is sound"
mount -o remount,size=16m small
run_ok "make again once there is room" "$STASYNC" make --store=small/st.castr big.caibx big
store_ok small/st.castr "the store is sound after the rerun"
run_ok "the index reads back" "$STASYNC" extract --store=small/st.castr big.caibx big.out
same_file big.out big "the blob comes back"
rm -rf small/st.castr big.out

# The index's file system is full; so is an extracted blob's.
head -c 16M /dev/zero >small/fill 2>/dev/null
run "$STASYNC" make --store=st2.castr small/idx.caibx blob
is "$rc" 1 "index onto a full file system: exit status 1"
is "$(line_count "$T/err")" 1 "index onto a full file system: a one-line message"
err_has "small/idx.caibx: " "index onto a full file system: the message names the index"
err_has "No space left on device" "index onto a full file system: the message says why"
check '[ -z "$(ls -A small | grep -v "^fill$")" ]' "index onto a full file system: no index, no temporary file"
run "$STASYNC" extract --store=ref.castr ref.caibx small/x.bin
is "$rc" 1 "blob extract onto a full file system: exit status 1"
err_has "small/x.bin: " "blob extract onto a full file system: the message names the output"
err_has "No space left on device" "blob extract onto a full file system: the message says why"
check '[ -z "$(ls -A small | grep -v "^fill$")" ]' "blob extract onto a full file system: no output, no temporary file"

done_testing
