#!/bin/sh
# Bad input: damaged indexes, damaged or missing chunks, bad options.  Every
# failure must exit 1 with exactly one line on stderr that starts with
# "stasync:", names the file (or the 64-hex chunk id when a chunk is at
# fault) and gives a reason, and must leave nothing behind: no file under the
# final name and no temporary files in the output directory.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync

# ---- helpers -----------------------------------------------------------------------

# expect_failure DESC NEEDLE DIR TARGET CMD ARGS...
# Run CMD; expect exit 1, one stderr line "$STASYNC_NAME: ..." containing
# NEEDLE (fixed string) plus a reason, TARGET absent and DIR empty.
expect_failure() {
	_desc=$1 _needle=$2 _dir=$3 _target=$4
	shift 4
	run "$@"
	if [ "$rc" -eq 1 ]; then
		ok "$_desc: exit status 1"
	else
		not_ok "$_desc: exit status 1"
		diag "command: $*"
		show_run
	fi
	check_error_line "$_desc" "$_needle"
	if [ ! -e "$_target" ] && dir_is_empty "$_dir"; then
		ok "$_desc: nothing left in the output directory"
	else
		not_ok "$_desc: nothing left in the output directory"
		diag "command: $*"
		diag "contents of $_dir:"
		ls -la "$_dir" 2>&1 | sed 's/^/#   /'
	fi
	# start every case from an empty output directory
	chmod -R u+rwx "$_dir" 2>/dev/null
	rm -rf "$_dir"
	mkdir "$_dir"
}

# check_error_line DESC NEEDLE: the last run wrote exactly one line to stderr,
# starting with "$STASYNC_NAME:", containing NEEDLE and some words of reason.
# NEEDLE may be "re:REGEX" for an extended, case-insensitive regex instead.
check_error_line() {
	_n=$(line_count "$T/err")
	_line=$(head -n 1 "$T/err")
	_why=
	[ "$_n" -eq 1 ] || _why="$_why; $_n lines on stderr, want 1"
	case $_line in
	"$STASYNC_NAME: "*) ;;
	*) _why="$_why; does not start with '$STASYNC_NAME: '" ;;
	esac
	case $2 in
	re:*)
		_re=${2#re:}
		printf '%s\n' "$_line" | grep -Eiq -- "$_re" ||
			_why="$_why; does not match /$_re/"
		_rest=$(printf '%s\n' "$_line" | awk -v re="$_re" '{ l = tolower($0); if (match(l, tolower(re))) $0 = substr($0, 1, RSTART - 1) substr($0, RSTART + RLENGTH); print }')
		;;
	*)
		case $_line in
		*"$2"*) ;;
		*) _why="$_why; does not name '$2'" ;;
		esac
		_rest=$(printf '%s\n' "$_line" | awk -v n="$2" '{ i = index($0, n); if (i) $0 = substr($0, 1, i - 1) substr($0, i + length(n)); print }')
		;;
	esac
	# the reason: at least two words of letters besides the prefix and name
	_words=$(printf '%s\n' "${_rest#"$STASYNC_NAME: "}" | tr -cs 'A-Za-z' '\n' | awk 'length($0) >= 2' | wc -l)
	[ "$_words" -ge 2 ] || _why="$_why; no reason given"
	case $2 in
	re:*) _what="matching /${2#re:}/" ;;
	*) _what="naming $2" ;;
	esac
	if [ -z "$_why" ]; then
		ok "$1: one error line $_what"
		diag "$_line"
		return 0
	fi
	not_ok "$1: one error line $_what"
	diag "problems:${_why#;}"
	diag_file "stderr" "$T/err"
	return 1
}

# index layout: 48-byte header, 16-byte table header, 40-byte items, 40-byte tail
item_count() { echo $((($(file_size "$1") - 64 - 40) / 40)); }
item_end() { read_le64 "$1" $((64 + 40 * $2)); }
item_id() { hex_at "$1" $((64 + 40 * $2 + 8)) 32; }
chunk_path() { echo "$1/$(printf %.4s "$2")/$2.cacnk"; }

# put_chunk STORE ID: replace the chunk file with stdin (store files are 0444)
put_chunk() {
	_p=$(chunk_path "$1" "$2")
	rm -f "$_p"
	cat >"$_p"
}

# ---- fixture ------------------------------------------------------------------------
# A known-good index and store.  Made with casync when available so that the
# fixture does not depend on our own `make`.
if [ -n "$CASYNC" ] && [ -x "$CASYNC" ]; then
	MAKER=$CASYNC
else
	MAKER=$STASYNC
fi
mkdata mixed 3 400009 data.bin
run "$MAKER" make --store=good.castr --chunk-size=1024:4096:16384 good.caibx data.bin
[ "$rc" -eq 0 ] || { show_run; bail_out "cannot make the fixture with $MAKER"; }
chmod -R a-w good.castr

n=$(item_count good.caibx)
[ "$n" -ge 8 ] || bail_out "fixture has only $n chunks"
size=$(file_size good.caibx)

# two distinct chunk ids: A (item ia) and B
ia=1
A=$(item_id good.caibx $ia)
ib=2
B=$(item_id good.caibx $ib)
while [ "$A" = "$B" ] && [ "$ib" -lt "$n" ]; do
	ib=$((ib + 1))
	B=$(item_id good.caibx $ib)
done
[ "$A" != "$B" ] || bail_out "fixture has no two distinct chunks"

# largest chunk, to make the header's max smaller than it
maxchunk=0
prev=0
i=0
while [ "$i" -lt "$n" ]; do
	e=$(item_end good.caibx $i)
	[ $((e - prev)) -gt "$maxchunk" ] && maxchunk=$((e - prev))
	prev=$e
	i=$((i + 1))
done

mkdir o i

# sanity: the fixture extracts
run_ok "fixture extracts" "$STASYNC" extract --store=good.castr good.caibx o/out.bin &&
	same_file data.bin o/out.bin "fixture extracts to the original data"
rm -f o/out.bin

# bad_index NAME DESC: $NAME.caibx has been written; extract must fail naming it
bad_index() {
	expect_failure "$2" "$1.caibx" o o/out.bin \
		"$STASYNC" extract --store=good.castr "$1.caibx" o/out.bin
}

# ---- truncated indexes ----------------------------------------------------------------
: >empty.caibx
bad_index empty "empty index file"
head -c 20 good.caibx >cut-header.caibx
bad_index cut-header "index cut in the header"
head -c 47 good.caibx >cut-header47.caibx
bad_index cut-header47 "index cut one byte short of the header"
head -c 64 good.caibx >cut-table.caibx
bad_index cut-table "index cut after the table header"
head -c $((64 + 40 + 17)) good.caibx >cut-item.caibx
bad_index cut-item "index cut in the middle of an item"
head -c $((size - 40)) good.caibx >no-tail.caibx
bad_index no-tail "index with the tail missing"
head -c $((size - 8)) good.caibx >cut-tail.caibx
bad_index cut-tail "index cut in the tail"

# ---- corrupt indexes ---------------------------------------------------------------------
cp good.caibx bad-magic.caibx
printf 'X' | patch_bytes bad-magic.caibx 8
bad_index bad-magic "index with a bad header type"

cp good.caibx bad-hsize.caibx
write_le64 bad-hsize.caibx 0 56
bad_index bad-hsize "index with a bad header size"

cp good.caibx bad-table.caibx
printf 'X' | patch_bytes bad-table.caibx 56
bad_index bad-table "index with a bad table type"

cp good.caibx bad-marker.caibx
printf 'X' | patch_bytes bad-marker.caibx $((size - 1))
bad_index bad-marker "index with a bad tail marker"

cp good.caibx bad-tailsize.caibx
write_le64 bad-tailsize.caibx $((size - 16)) 56
bad_index bad-tailsize "index tail with a wrong table size"

e1=$(item_end good.caibx 1)
e2=$(item_end good.caibx 2)
cp good.caibx decreasing.caibx
write_le64 decreasing.caibx $((64 + 40 * 3)) $((e2 - 1))
bad_index decreasing "index with decreasing offsets"

cp good.caibx equal.caibx
write_le64 equal.caibx $((64 + 40 * 2)) "$e1"
bad_index equal "index with a zero-size chunk (equal offsets)"

if [ "$maxchunk" -gt 4096 ]; then
	cp good.caibx too-big.caibx
	write_le64 too-big.caibx 40 4096 # max = avg: smaller than some chunks
	bad_index too-big "index with a chunk larger than the header's max"
else
	skip "index with a chunk larger than the header's max" "fixture has no chunk > 4096 bytes"
fi

cp good.caibx min-gt-avg.caibx
write_le64 min-gt-avg.caibx 24 8192
bad_index min-gt-avg "index header with min > avg"

cp good.caibx huge-max.caibx
write_le64 huge-max.caibx 40 $((128 * 1048576 + 1))
bad_index huge-max "index header with max > 128 MiB"

cp good.caibx garbage.caibx
printf 'garbage\n' >>garbage.caibx
bad_index garbage "index with trailing garbage"

cp good.caibx garbage1.caibx
printf '\000' >>garbage1.caibx
bad_index garbage1 "index with one trailing NUL byte"

cp good.caibx two-tails.caibx
tail -c 40 good.caibx >>two-tails.caibx
bad_index two-tails "index with a second tail appended"

# ---- damaged stores ------------------------------------------------------------------------
# bad_store NAME DESC: store NAME.castr has been damaged at chunk A
bad_store() {
	expect_failure "$2" "$A" o o/out.bin \
		"$STASYNC" extract --store="$1.castr" good.caibx o/out.bin
}

new_store() {
	cp -R good.castr "$1.castr"
	chmod -R u+w "$1.castr"
}

new_store missing
rm -f "$(chunk_path missing.castr "$A")"
bad_store missing "missing chunk"

new_store swapped
put_chunk swapped.castr "$A" <"$(chunk_path good.castr "$B")"
bad_store swapped "chunk file holding another chunk"

new_store random
head -c 3000 /dev/urandom | put_chunk random.castr "$A"
bad_store random "non-zstd chunk file (random bytes)"

new_store emptychunk
put_chunk emptychunk.castr "$A" </dev/null
bad_store emptychunk "empty chunk file"

new_store cutzstd
_c=$(chunk_path good.castr "$A")
head -c $(($(file_size "$_c") / 2)) "$_c" | put_chunk cutzstd.castr "$A"
bad_store cutzstd "truncated zstd chunk file"

if command -v zstd >/dev/null 2>&1; then
	new_store bomb
	head -c 52428800 /dev/zero | zstd -q -c | put_chunk bomb.castr "$A"
	bad_store bomb "zstd chunk inflating to 50 MiB (decompression bomb)"

	new_store wrongzstd
	printf 'hello, world\n' | zstd -q -c | put_chunk wrongzstd.castr "$A"
	bad_store wrongzstd "valid zstd chunk with the wrong content"
else
	skip "zstd chunk inflating to 50 MiB (decompression bomb)" "zstd not installed"
	skip "valid zstd chunk with the wrong content" "zstd not installed"
fi

# the error may name either the store or the first chunk it could not find
expect_failure "store directory that does not exist" "re:nonexistent[.]castr|$A" o o/out.bin \
	"$STASYNC" extract --store=nonexistent.castr good.caibx o/out.bin

# ---- extra stores ----------------------------------------------------------------------------
run "$STASYNC" extract --store=missing.castr --extra-store=good.castr good.caibx o/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin o/out.bin; then
	ok "chunk missing from the store is taken from --extra-store"
else
	not_ok "chunk missing from the store is taken from --extra-store"
	show_run
fi
rm -f o/out.bin

new_store missing2
rm -f "$(chunk_path missing2.castr "$A")"
run "$STASYNC" extract --store=missing.castr --extra-store=missing2.castr \
	--extra-store=good.castr good.caibx o/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin o/out.bin; then
	ok "chunk found in the second --extra-store"
else
	not_ok "chunk found in the second --extra-store"
	show_run
fi
rm -f o/out.bin

# casync 2 fails here ("Bad message"); we are to do better and use the good copy
run "$STASYNC" extract --store=swapped.castr --extra-store=good.castr good.caibx o/out.bin
if [ "$rc" -eq 0 ] && cmp -s data.bin o/out.bin; then
	ok "corrupt chunk in the store is replaced by the good copy in --extra-store"
else
	not_ok "corrupt chunk in the store is replaced by the good copy in --extra-store"
	show_run
fi
rm -f o/out.bin

expect_failure "chunk missing from the store and the extra store" "$A" o o/out.bin \
	"$STASYNC" extract --store=missing.castr --extra-store=missing.castr good.caibx o/out.bin

# ---- make ------------------------------------------------------------------------------------
expect_failure "make: input file does not exist" "does-not-exist.bin" i i/x.caibx \
	"$STASYNC" make --store=mk.castr i/x.caibx does-not-exist.bin

expect_failure "make: unknown option" "frobnicate" i i/x.caibx \
	"$STASYNC" make --frobnicate --store=mk.castr i/x.caibx data.bin

expect_failure "extract: unknown option" "frobnicate" o o/out.bin \
	"$STASYNC" extract --frobnicate --store=good.castr good.caibx o/out.bin

for cs in abc 0 -5 12x "" 1024:4096 64: 4096:4096:4096:4096 1024:512:4096 \
	4096:8192:4096 1024:4096:999999999999; do
	expect_failure "make: --chunk-size='$cs'" "re:chunk[-_ ]size" i i/x.caibx \
		"$STASYNC" make --store=mk.castr --chunk-size="$cs" i/x.caibx data.bin
done

if [ -d mk.castr ]; then
	stray=$(find mk.castr -type f ! -name '*.cacnk' | head -n 5)
else
	stray=
fi
if [ -z "$stray" ]; then
	ok "make: failed runs leave no temporary files in the store"
else
	not_ok "make: failed runs leave no temporary files in the store"
	diag "$stray"
fi

: >a-file
expect_failure "make: store path is a regular file" "a-file" i i/x.caibx \
	"$STASYNC" make --store=a-file i/x.caibx data.bin

expect_failure "make: index directory does not exist" "no-such-dir/x.caibx" i i/x.caibx \
	"$STASYNC" make --store=mk.castr no-such-dir/x.caibx data.bin

# a store that cannot be written to.  Root ignores permissions: then try as
# nobody through setpriv, else skip.
ro_desc="make: store directory not writable"
mkdir ro.castr
chmod 555 ro.castr
if [ "$(id -u)" -ne 0 ]; then
	expect_failure "$ro_desc" "ro.castr" i i/x.caibx \
		"$STASYNC" make --store=ro.castr i/x.caibx data.bin
elif command -v setpriv >/dev/null 2>&1 &&
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
	chmod 755 "$T" && chmod 777 i && chmod 644 data.bin &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$STASYNC" &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -w i; then
	diag "running as root: '$ro_desc' runs as uid 65534 via setpriv"
	expect_failure "$ro_desc" "ro.castr" i i/x.caibx \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$STASYNC" make --store=ro.castr i/x.caibx data.bin
else
	skip "$ro_desc" "running as root"
fi

done_testing
