#!/bin/sh
# Malformed archives through the command line: extract and list refuse
# each with exit status 1 and one line naming the archive, within seconds,
# and leave no temporary files and nothing outside the target.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
command -v python3 >/dev/null || skip_all "python3 not installed"

mkdir -p src/dir
printf 'alpha\n' >src/a
printf 'bravo\n' >src/b
printf 'charlie\n' >src/dir/c
"$CASYNC" make --without=all good.catar src >/dev/null || bail_out "casync make failed"

# Crafted variants: each rewrites one thing in casync's archive.
python3 - good.catar <<'PY' || bail_out "could not craft archives"
import struct, sys
data = open(sys.argv[1], "rb").read()
FILENAME = 0x6dbb6ebcb3161f0b

def records(d):
    off = 0
    while off + 16 <= len(d):
        size, typ = struct.unpack_from("<QQ", d, off)
        yield off, size, typ
        if typ == 0x8b9e1d93d6dcffc9:      # PAYLOAD: skip its contents
            off += size
        else:
            off += size

names = [(o, s) for o, s, t in records(data) if t == FILENAME]
def rename(d, idx, new):
    o, s = names[idx]
    old = d[o + 16:o + s - 1]
    assert len(new) == len(old), (new, old)
    return d[:o + 16] + new + d[o + s - 1:]

def save(name, d):
    open(name + ".catar", "wb").write(d)

save("dotdot", rename(data, 0, b".."[:1] * 1))          # "a" -> "." (one byte)
save("slash", rename(data, 2, b"d/r"))                   # "dir" -> "d/r"
save("unsorted", rename(rename(data, 0, b"z"), 1, b"b"))  # "z" before "b"
save("duplicate", rename(data, 1, b"a"))                 # "a", "a"
save("truncated", data[:len(data) // 2])
save("trailing", data + b"\0" * 9)
o, s = names[1]
save("huge-size", data[:o] + struct.pack("<Q", 1 << 60) + data[o + 8:])
save("unknown-type", data[:o + 8] + struct.pack("<Q", 0x1234567812345678) + data[o + 16:])
save("bad-goodbye", data[:-30] + bytes([data[-30] ^ 0xff]) + data[-29:])
PY

mkdir outside
for bad in dotdot slash unsorted duplicate truncated trailing huge-size unknown-type bad-goodbye; do
	rm -rf target && mkdir target
	start=$(date +%s)
	run timeout 20 "$STASYNC" extract "$bad.catar" target
	took=$(($(date +%s) - start))
	check '[ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ] && grep -q "$bad.catar" "$T/err"' \
		"extract $bad: exit 1, one line naming the archive" || show_run
	check '[ "$took" -le 2 ]' "extract $bad: refused within a second or two ($took s)"
	check '[ -z "$(find target -name ".#*" -o -name ".stasync-*")" ] && dir_is_empty outside' \
		"extract $bad: no temporary files, nothing outside the target"
	run timeout 20 "$STASYNC" list "$bad.catar"
	check '[ "$rc" -eq 1 ] && grep -q "$bad.catar" "$T/err"' "list $bad: exit 1, archive named" || show_run
done

# The good one still extracts (the crafting did not break the harness).
rm -rf target && mkdir target
run_ok "the unmodified archive extracts" "$STASYNC" extract good.catar target
check 'cmp -s target/dir/c src/dir/c' "... with the right contents"

done_testing
