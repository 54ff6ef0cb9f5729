#!/bin/sh
# make install: the command (and casync, when configured so), the library,
# its headers and pkg-config file (a program builds and runs against them),
# the manual page (which names every option --help shows) and the bash
# completion; make uninstall takes it all away again.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

require_stasync
[ -f "$top_builddir/Makefile" ] || skip_all "not in a configured build tree"
command -v pkg-config >/dev/null || skip_all "pkg-config not installed"
command -v "${CC:-cc}" >/dev/null || skip_all "no C compiler"

dest=$T/dest
# casync_link=casync is what ./configure --enable-casync-name sets
run make -s -C "$top_builddir" install DESTDIR="$dest" casync_link=casync
if [ "$rc" -ne 0 ]; then
	show_run
	bail_out "make install failed"
fi
ok "make install DESTDIR=… succeeds"

bin=$(find "$dest" -path '*/bin/stasync' -type f | head -n 1)
export bin
check '[ -n "$bin" ] && "$bin" --version | grep -q "^stasync "' "the command is installed and runs"
link=$(find "$dest" -path '*/bin/casync' | head -n 1)
export link
check '[ -L "$link" ] && [ "$(readlink "$link")" = stasync ] && "$link" frobnicate 2>&1 | grep -q "^casync: "' \
	"--enable-casync-name: casync is a link to it, and speaks as casync"
check '[ -L "$(dirname "$(find "$dest" -path "*bash-completion/completions/stasync")")/casync" ]' \
	"... and completes as casync too"

# ---- the library, through pkg-config ----------------------------------------------
pc=$(find "$dest" -name stasync.pc | head -n 1)
check '[ -n "$pc" ]' "stasync.pc is installed"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cat >prog.c <<'EOF'
#include <stdio.h>
#include <string.h>
#include <stasync/stasync.h>

int main(int argc, char **argv)
{
	char hex[STASYNC_DIGEST_HEX_SIZE];
	stasync_chunk_id id;

	(void)argc;
	stasync_digest_buffer(STASYNC_DIGEST_SHA512_256, argv[1], strlen(argv[1]), &id);
	printf("%s %s\n", stasync_version(), stasync_chunk_id_format(&id, hex));
	return 0;
}
EOF
# shellcheck disable=SC2046 # pkg-config's words
# (a sanitizer build's library needs the sanitizers' runtime too)
run "${CC:-cc}" -o prog prog.c $(pkg-config --cflags stasync) $(pkg-config --libs stasync) ${SANITIZER_LDFLAGS:-}
if [ "$rc" -eq 0 ]; then
	ok "a program builds against the installed headers and library (pkg-config)"
else
	not_ok "a program builds against the installed headers and library (pkg-config)"
	show_run
fi
printf 'hello' >hello
want="$("$STASYNC" --version | sed -n '1s/^stasync \([^ ]*\).*/\1/p') $("$STASYNC" digest hello)"
run ./prog hello
is "$(cat "$T/out")" "$want" "... and runs: the version and the digest stasync prints"

# ---- manual page ------------------------------------------------------------------
man=$(find "$dest" -name stasync.1 | head -n 1)
check '[ -n "$man" ]' "the manual page is installed"
if command -v groff >/dev/null; then
	run groff -man -ww -z "$man"
	check '[ "$rc" -eq 0 ] && [ ! -s "$T/err" ]' "groff renders it without a warning"
else
	skip "groff renders it without a warning" "groff not installed"
fi
missing=
for o in $("$STASYNC" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
	grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$man" || missing="$missing $o"
done
is "$missing" "" "it names every option --help shows"
for v in make extract digest list mtree stat gc verify info; do
	grep -E '^\.BR? ' "$man" | grep -qw -- "$v" || missing="$missing $v"
done
is "$missing" "" "... and describes every verb"

# ---- bash completion --------------------------------------------------------------
comp=$(find "$dest" -path '*bash-completion/completions/stasync' | head -n 1)
if command -v bash >/dev/null && [ -n "$comp" ]; then
	got=$(bash -c '. "$1"; COMP_LINE="stasync ver"; COMP_POINT=${#COMP_LINE}; _stasync; echo "${COMPREPLY[*]}"; COMP_LINE="stasync extract --what=blob-"; COMP_POINT=${#COMP_LINE}; _stasync; echo "${COMPREPLY[*]}"' _ "$comp")
	is "$got" "verify
blob-index" "the bash completion completes verbs and option values"
else
	not_ok "the bash completion is installed (bash: $(command -v bash))"
fi

run make -s -C "$top_builddir" uninstall DESTDIR="$dest" casync_link=casync
is "$(find "$dest" \( -type f -o -type l \) | sort)" "" "make uninstall removes every file it installed"

done_testing
