#!/bin/sh
# --exclude-submounts (a tmpfs mounted inside the tree) and archives made
# and extracted by an ordinary user, both compared with casync.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_casync
require_stasync
[ "$(id -u)" -eq 0 ] || skip_all "mounting and switching users need root"

mkdir -p tree/mnt tree/keep
printf 'kept\n' >tree/keep/file
if mount -t tmpfs stasync-test tree/mnt 2>/dev/null; then
	# shellcheck disable=SC2016 # expanded on exit
	at_exit 'umount "$T/tree/mnt" 2>/dev/null'
	printf 'on another mount\n' >tree/mnt/inner
	for opts in "" "--exclude-submounts=yes"; do
		label=${opts:-"submounts included"}
		# shellcheck disable=SC2086
		"$CASYNC" make $opts ca.catar tree >/dev/null
		# shellcheck disable=SC2086
		run_ok "$label: make" "$STASYNC" make $opts st.catar tree
		same_file st.catar ca.catar "$label: same bytes as casync"
	done
	"$STASYNC" list --exclude-submounts=yes tree >list.txt
	check '! grep -q inner list.txt && grep -q "keep/file" list.txt' \
		"--exclude-submounts=yes leaves the mount's contents out"
	umount tree/mnt
else
	skip "submounts" "cannot mount tmpfs here"
fi

# An ordinary user (nobody) makes and extracts.
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	chmod 755 "$T"   # mktemp -d made it 0700: nobody must reach user/
	mkdir user && chmod 777 user
	as_nobody sh -c 'cd "$1" && mkdir -p t/sub && echo hi >t/sub/f && ln -s f t/sub/l && chmod 640 t/sub/f' sh "$T/user"
	cd user || bail_out "cd user"
	as_nobody "$CASYNC" make ca.catar t >/dev/null
	run_ok "nobody: make" as_nobody "$STASYNC" make st.catar t
	same_file st.catar ca.catar "nobody: same bytes as casync"
	run_ok "nobody: extract" as_nobody "$STASYNC" extract ca.catar out
	as_nobody "$CASYNC" make re.catar out >/dev/null
	same_file re.catar ca.catar "nobody: the extracted tree archives back to the same bytes"
	# Owners nobody cannot set: the archive of root's tree. casync fails
	# there too; we must fail with the path named, not half-succeed.
	cd "$T" || bail_out "cd"
	"$CASYNC" make root.catar tree/keep >/dev/null
	cp root.catar user/
	cd user || bail_out "cd user"
	run as_nobody "$STASYNC" extract root.catar rootout
	check '[ "$rc" -eq 1 ] && [ "$(line_count "$T/err")" -eq 1 ]' \
		"nobody extracting root-owned files: exit 1, one line" || show_run
	run_ok "... and with --without=16bit-uids --without=32bit-uids --without=user-names it works" \
		as_nobody "$STASYNC" extract --without=16bit-uids --without=32bit-uids --without=user-names \
		root.catar rootout2
	cd "$T" || bail_out "cd"
else
	skip "an ordinary user" "setpriv cannot switch users here"
fi

done_testing
