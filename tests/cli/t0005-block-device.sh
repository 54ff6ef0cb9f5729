#!/bin/sh
# Block devices, as root: make reads a block device, extract writes onto
# one in place (no temporary file, the device node stays), and casync
# agrees on both the index and the bytes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
[ "$(id -u)" -eq 0 ] || skip_all "block devices need root"
command -v losetup >/dev/null 2>&1 || skip_all "losetup not installed"

size=$((6 * 1024 * 1024))
mkdata mixed 41 "$size" src.img
truncate -s "$size" a.img b.img
loop_src=$(losetup -f --show src.img 2>/dev/null) || skip_all "no loop devices here"
loop_dst=$(losetup -f --show a.img 2>/dev/null) || { losetup -d "$loop_src"; skip_all "no second loop device"; }
# shellcheck disable=SC2016 # expanded on exit
at_exit 'losetup -d "$loop_src" "$loop_dst" 2>/dev/null'

run_ok "make from block device $loop_src" "$STASYNC" make --store=st.castr st.caibx "$loop_src"
run_ok "casync make from the same device" "$CASYNC" make --store=ca.castr ca.caibx "$loop_src"
same_file st.caibx ca.caibx "index of a block device equals casync's"

run_ok "extract onto block device $loop_dst" "$STASYNC" extract --store=st.castr st.caibx "$loop_dst"
check '[ -b "$loop_dst" ]' "the device node is still a block device"
sync
same_file "$loop_dst" src.img "device holds the original bytes"

# casync's index, written by us onto the device again (after clearing it)
dd if=/dev/zero of="$loop_dst" bs=1M count=6 2>/dev/null
run_ok "extract casync's index onto the device" "$STASYNC" extract --store=ca.castr ca.caibx "$loop_dst"
same_file "$loop_dst" src.img "device holds the original bytes again"
check 'dir_is_empty_but() { [ -z "$(ls -A /dev | grep "^\.stasync-")" ]; }; dir_is_empty_but' \
	"no temporary file was made in /dev"

# An update onto the device writes only what changed: the blocks written
# to the loop device (its stat, after a flush) tell.
cp src.img new.img
printf 'a few new bytes' | dd of=new.img bs=1 seek=3000000 conv=notrunc 2>/dev/null
run_ok "make the new version's index" "$STASYNC" make --store=st.castr new.caibx new.img
dev=$(basename "$loop_dst")
written() {
	sync
	blockdev --flushbufs "$loop_dst" 2>/dev/null
	awk '{ print $7 }' "/sys/block/$dev/stat"
}
if [ -r "/sys/block/$dev/stat" ] && command -v blockdev >/dev/null; then
	before=$(written)
	run_ok "extract the new version onto the device holding the old" "$STASYNC" -v extract \
		--store=st.castr new.caibx "$loop_dst"
	after=$(written)
	same_file "$loop_dst" new.img "the device holds the new version"
	check '[ $((after - before)) -lt 2048 ]' \
		"... and only $((after - before)) sectors were written, not the $((size / 512)) of the whole"
	check 'grep -Eq " [1-9][0-9]* already in place" "$T/err"' "... -v counts the chunks already in place"
	before=$(written)
	run_ok "--seed-output=no writes it all" "$STASYNC" extract --seed-output=no --store=st.castr \
		st.caibx "$loop_dst"
	after=$(written)
	check '[ $((after - before)) -ge $((size / 512)) ]' "... $((after - before)) sectors"
	same_file "$loop_dst" src.img "... and the device holds the old version again"
else
	skip "an update writes only what changed" "no /sys/block/$dev/stat or blockdev"
fi

done_testing
