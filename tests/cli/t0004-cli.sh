#!/bin/sh
# Command line behaviour: --version, --help, unknown verbs, running under the
# name "casync", CASYNC_STORE, the default store beside the index, "-" as the
# extract output, --what=, --compression= and uncompressed chunk files.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync

mkdata mixed 11 700001 data.bin

# stderr_is_one_line PREFIX NEEDLE DESC: the last run wrote exactly one line
# to stderr, starting with "PREFIX: " and containing NEEDLE.
stderr_is_one_line() {
	_n=$(line_count "$T/err")
	_line=$(head -n 1 "$T/err")
	case $_line in
	"$1: "*"$2"*)
		if [ "$_n" -eq 1 ]; then
			ok "$3"
			return 0
		fi
		;;
	esac
	not_ok "$3"
	diag "want one line starting with '$1: ' that contains '$2'"
	diag_file "stderr" "$T/err"
	return 1
}

# ---- --version, --help, verbs ---------------------------------------------------------
run "$STASYNC" --version
if [ "$rc" -eq 0 ] && grep -q '[0-9]' "$T/out"; then
	ok "--version prints a version and exits 0 ($(head -n 1 "$T/out"))"
else
	not_ok "--version prints a version and exits 0"
	show_run
fi

for h in --help -h; do
	run "$STASYNC" $h
	if [ "$rc" -eq 0 ] && grep -q make "$T/out" && grep -q extract "$T/out" &&
		grep -q digest "$T/out"; then
		ok "$h prints usage (make, extract, digest) on stdout, exit 0"
	else
		not_ok "$h prints usage (make, extract, digest) on stdout, exit 0"
		show_run
	fi
done

run "$STASYNC" --help
check '[ "$(awk "length > 80" "$T/out")" = "" ] && [ ! -s "$T/err" ]' \
	"--help fits in 80 columns, nothing on stderr"
for v in make extract digest list mtree stat gc verify info; do
	for form in "$v --help" "--help $v" "-h $v"; do
		# shellcheck disable=SC2086 # two words
		run "$STASYNC" $form
		if [ "$rc" -eq 0 ] && head -n 1 "$T/out" | grep -q "^$STASYNC_NAME \\[OPTIONS...\\] $v " &&
			[ "$(awk 'length > 80' "$T/out")" = "" ] && [ ! -s "$T/err" ]; then
			ok "$form: $v's usage and options on stdout, within 80 columns, exit 0"
		else
			not_ok "$form: $v's usage and options on stdout, within 80 columns, exit 0"
			show_run
		fi
	done
done
run "$STASYNC" gc --help
check '! grep -q -- "--punch-holes" "$T/out" && grep -q -- "--dry-run" "$T/out"' \
	"a verb's --help shows its own options only"
run "$STASYNC" extract --help
check 'grep -q -- "--punch-holes" "$T/out" && ! grep -q -- "--dry-run" "$T/out"' \
	"... (extract: --punch-holes, not --dry-run)"

run "$STASYNC" frobnicate
is "$rc" 1 "unknown verb: exit status 1"
stderr_is_one_line "$STASYNC_NAME" frobnicate "unknown verb: one error line naming it"

run "$STASYNC"
is "$rc" 1 "no verb: exit status 1"

# ---- the default store, CASYNC_STORE, --store -------------------------------------------
run_ok "make with --store" "$STASYNC" make --store=ref.castr ref.caibx data.bin
digest_line=$(cat "$T/out")
chunk_list ref.castr >ref.list
[ -s ref.list ] || bail_out "make with --store wrote no chunks"

mkdir d
run_ok "make without --store" "$STASYNC" make d/x.caibx data.bin
if [ -d d/default.castr ] && chunk_list d/default.castr | cmp -s - ref.list; then
	ok "default store is default.castr beside the index"
else
	not_ok "default store is default.castr beside the index"
	ls -la . d 2>&1 | sed 's/^/# /'
fi
check '[ ! -e default.castr ]' "no default.castr in the current directory"
same_file ref.caibx d/x.caibx "index made with the default store is the same"

mkdir elsewhere
(cd elsewhere && "$STASYNC" extract ../d/x.caibx out.bin) >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] && cmp -s data.bin elsewhere/out.bin; then
	ok "extract finds default.castr beside the index (from another directory)"
else
	not_ok "extract finds default.castr beside the index (from another directory)"
	show_run
fi

(cd elsewhere && "$STASYNC" digest ../d/x.caibx) >"$T/out" 2>"$T/err"
rc=$?
is "$rc:$(cat "$T/out")" "0:$digest_line" "digest of an index uses default.castr beside it"

mkdir e
run env CASYNC_STORE="$T/env.castr" "$STASYNC" make e/x.caibx data.bin
if [ "$rc" -eq 0 ] && chunk_list env.castr | cmp -s - ref.list && [ ! -e e/default.castr ]; then
	ok "make honors CASYNC_STORE"
else
	not_ok "make honors CASYNC_STORE"
	show_run
	ls -la . e 2>&1 | sed 's/^/# /'
fi

# move the chunks away from beside the index: only CASYNC_STORE has them
run env CASYNC_STORE="$T/ref.castr" "$STASYNC" extract e/x.caibx e/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin e/out.bin; then
	ok "extract honors CASYNC_STORE"
else
	not_ok "extract honors CASYNC_STORE"
	show_run
fi
rm -f e/out.bin

run env CASYNC_STORE="$T/nonexistent.castr" "$STASYNC" extract --store=ref.castr e/x.caibx e/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin e/out.bin; then
	ok "--store takes precedence over CASYNC_STORE"
else
	not_ok "--store takes precedence over CASYNC_STORE"
	show_run
fi
rm -f e/out.bin

run env CASYNC_STORE="$T/ref.castr" "$STASYNC" digest e/x.caibx
is "$rc:$(cat "$T/out")" "0:$digest_line" "digest honors CASYNC_STORE"

# ---- existing files -----------------------------------------------------------------------
run_ok "make again into a store that holds the chunks (files mode 0444)" \
	"$STASYNC" make --store=ref.castr ref.caibx data.bin &&
	is "$(cat "$T/out")" "$digest_line" "... prints the same digest"
if chunk_list ref.castr | cmp -s - ref.list; then
	ok "... leaves the same chunk files"
else
	not_ok "... leaves the same chunk files"
fi

head -c 5000000 /dev/zero >exists.bin
run "$STASYNC" extract --store=ref.castr ref.caibx exists.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin exists.bin; then
	ok "extract replaces a longer existing output file"
else
	not_ok "extract replaces a longer existing output file"
	show_run
fi
printf 'short\n' >exists.bin
run "$STASYNC" extract --store=ref.castr ref.caibx exists.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin exists.bin; then
	ok "extract replaces a shorter existing output file"
else
	not_ok "extract replaces a shorter existing output file"
	show_run
fi

# ---- "-" as the extract output ----------------------------------------------------------
"$STASYNC" extract --store=ref.castr ref.caibx - >stdout.bin 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] && cmp -s data.bin stdout.bin; then
	ok "extract to '-' writes the blob to stdout (a file)"
else
	not_ok "extract to '-' writes the blob to stdout (a file)"
	show_run
fi
check '[ ! -e ./- ]' "extract to '-' does not create a file named '-'"

{
	"$STASYNC" extract --store=ref.castr ref.caibx - 2>"$T/err"
	echo $? >pipe.rc
} | cat >pipe.bin
rc=$(cat pipe.rc)
if [ "$rc" -eq 0 ] && cmp -s data.bin pipe.bin; then
	ok "extract to '-' writes the blob to stdout (a pipe)"
else
	not_ok "extract to '-' writes the blob to stdout (a pipe)"
	show_run
fi

# ---- --what= --------------------------------------------------------------------------------
run_ok "make --what=blob-index to an index not named .caibx" \
	"$STASYNC" make --what=blob-index --store=ref.castr w.idx data.bin &&
	same_file ref.caibx w.idx "--what=blob-index index is the same as the .caibx"

rm -f w.out
run "$STASYNC" extract --what=blob-index --store=ref.castr w.idx w.out
if [ "$rc" -eq 0 ] && cmp -s data.bin w.out; then
	ok "extract --what=blob-index from an index not named .caibx"
else
	not_ok "extract --what=blob-index from an index not named .caibx"
	show_run
fi

run "$STASYNC" digest --what=blob-index --store=ref.castr w.idx
is "$rc:$(cat "$T/out")" "0:$digest_line" "digest --what=blob-index of an index not named .caibx"

# --what=blob: the index file itself is hashed as a plain file
cp ref.caibx ref-copy.bin
run "$STASYNC" digest ref-copy.bin
plain=$(cat "$T/out")
run "$STASYNC" digest --what=blob ref.caibx
is "$rc:$(cat "$T/out")" "0:$plain" "digest --what=blob of a .caibx hashes the file's bytes"
if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
	is "$plain" "$("$CASYNC" digest ref-copy.bin 2>/dev/null)" "... the same digest casync prints"
fi

# ---- --compression= ------------------------------------------------------------------------
mkdir c
run "$STASYNC" make --compression=lz4 --store=lz4.castr c/x.caibx data.bin
is "$rc" 1 "--compression=lz4: exit status 1"
stderr_is_one_line "$STASYNC_NAME" lz4 "--compression=lz4: one error line naming lz4"
check 'dir_is_empty c' "--compression=lz4: no index written"

run_ok "--compression=zstd is accepted" \
	"$STASYNC" make --compression=zstd --store=zstd.castr c/z.caibx data.bin &&
	same_file ref.caibx c/z.caibx "--compression=zstd gives the same index"

# ---- every option casync --help lists ---------------------------------------------------
# Each option Debian's casync lists is taken (honoured, or accepted where it
# changes nothing for us): never "unknown option". The values are ones casync
# itself takes.
if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
	"$CASYNC" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >casync-options
	check '[ "$(line_count casync-options)" -gt 25 ]' "casync --help lists its options ($(line_count casync-options))"
	unknown=
	for o in $(cat casync-options); do
		case $o in
		--help | --version | --verbose | --dry-run | --cache-auto) arg= ;;
		--log-level) arg==debug ;;
		--store | --extra-store | --seed | --cache) arg==opt.castr ;;
		--chunk-size) arg==64K ;;
		--digest) arg==sha256 ;;
		--compression) arg==gzip ;;
		--rate-limit-bps) arg==1000000 ;;
		--uid-shift) arg==1000 ;;
		--uid-range) arg==65536 ;;
		--what) arg==blob ;;
		--with | --without) arg==xattrs ;;
		--exclude-submounts | --hardlink | --undo-immutable) arg==yes ;;
		*) arg==no ;;
		esac
		run "$STASYNC" "$o$arg" digest data.bin
		if grep -qi "unknown option\|unrecognized option" "$T/err"; then
			unknown="$unknown $o$arg"
		fi
	done
	is "$unknown" "" "every option casync --help lists is known"
	run "$CASYNC" --with=help
	cp "$T/out" casync-with-help
	run "$STASYNC" --with=help
	same_file "$T/out" casync-with-help "--with=help lists what casync lists"
	run "$STASYNC" --without=help
	same_file "$T/out" casync-with-help "--without=help lists what casync lists"
fi
for l in debug info notice warning err crit alert emerg 0 7; do
	run "$STASYNC" --log-level=$l digest data.bin
	is "$rc" 0 "--log-level=$l is taken"
done
run "$STASYNC" -l debug -v digest data.bin
is "$rc" 0 "-l debug with -v is taken"
run "$STASYNC" --log-level=loud digest data.bin
is "$rc" 1 "--log-level=loud: exit status 1"
stderr_is_one_line "$STASYNC_NAME" "--log-level=loud" "--log-level=loud: one line naming it"
run "$STASYNC" --mkdir=maybe digest data.bin
is "$rc" 1 "--mkdir=maybe: exit status 1"
stderr_is_one_line "$STASYNC_NAME" "--mkdir=maybe: expected yes or no" "--mkdir=maybe: one line"
run "$STASYNC" --uid-range=1000-2000 digest data.bin
stderr_is_one_line "$STASYNC_NAME" "expected yes, no or a number" "--uid-range=1000-2000: one line saying what it takes"

# ---- uncompressed chunk files ----------------------------------------------------------------
if command -v zstd >/dev/null 2>&1; then
	cp -R ref.castr raw.castr
	chmod -R u+w raw.castr
	i=0
	for f in $(find raw.castr -type f -name '*.cacnk' | sort); do
		# every other chunk uncompressed: a store may mix both forms
		if [ $((i % 2)) -eq 0 ]; then
			zstd -q -d -c "$f" >"${f%.cacnk}" && rm -f "$f"
		fi
		i=$((i + 1))
	done
	run "$STASYNC" extract --store=raw.castr ref.caibx raw.out
	if [ "$rc" -eq 0 ] && cmp -s data.bin raw.out; then
		ok "extract accepts uncompressed chunk files (<4hex>/<64hex>, no .cacnk)"
	else
		not_ok "extract accepts uncompressed chunk files (<4hex>/<64hex>, no .cacnk)"
		show_run
	fi
else
	skip "extract accepts uncompressed chunk files" "zstd not installed"
fi

# ---- running as "casync" ------------------------------------------------------------------------
ln -s "$STASYNC" casync
mkdir k
run_ok "make through a link named casync" ./casync make --store=k.castr k/x.caibx data.bin &&
	is "$(cat "$T/out")" "$digest_line" "... prints the digest" &&
	same_file ref.caibx k/x.caibx "... writes the same index"

run "./casync" extract --store=k.castr k/x.caibx k/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin k/out.bin; then
	ok "extract through a link named casync"
else
	not_ok "extract through a link named casync"
	show_run
fi

run ./casync digest data.bin
is "$rc:$(cat "$T/out")" "0:$digest_line" "digest through a link named casync"

run ./casync make --store=k.castr k/y.caibx does-not-exist.bin
is "$rc" 1 "error through a link named casync: exit status 1"
stderr_is_one_line casync does-not-exist.bin "error through a link named casync starts with 'casync:'"

run ./casync frobnicate
stderr_is_one_line casync frobnicate "unknown verb through a link named casync starts with 'casync:'"

# A 255-byte output name: the temporary name must be shorter (casync's
# is longer and fails with "File name too long").
mkdata random 255 100000 long-src.bin
"$STASYNC" make --store=long.castr long.caibx long-src.bin >/dev/null 2>&1
long=$(printf '%0255d' 0 | tr 0 n)
run_ok "extract to a 255-byte file name" "$STASYNC" extract --store=long.castr long.caibx "$long"
check 'cmp -s "$long" long-src.bin' "... with the right bytes"

done_testing
