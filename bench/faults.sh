#!/bin/sh
# bench/faults.sh — time `extract` over HTTP from a server that misbehaves:
# stasync (and desync, when DESYNC names it) reading casync's store of a
# random blob through tests/cli/httpd-test.py --mode=faults on 127.0.0.1.
#
# usage: bench/faults.sh [-h]
#
# Three cases, each timed REPS times per tool, each run's output checked
# with cmp (a run that fails or gives other bytes ends the case for that
# tool, reported as failed after so many seconds):
#   clean     no faults
#   failfast  10% of requests fail at once: 4% reset, 4% answered 503,
#             2% cut half-way
#   hang      5% of requests never answered (the connection held)
# The server draws its faults from a seed, per path and per time asked, so
# each run of a case sees faults at the same rates. It prints, per tool and
# case, the median wall time and how many times the clean time it is.
#
# Environment:
#   STASYNC        the binary to time (default: ./stasync of this tree)
#   CASYNC         Debian's casync, to make the store (default: on PATH)
#   DESYNC         desync, also timed when given (desync extract -s URL)
#   REPS           timed runs per tool and case (default 1)
#   BENCH_BLOB_MB  size of the random blob, MiB (default 64)
#   FAULT_TIMEOUT  seconds after which a run is stopped and counted as
#                  failed (default 900)
#   BENCH_DIR      scratch directory (default: a new one in $TMPDIR or
#                  /tmp), removed at the end unless BENCH_KEEP=1
#   BENCH_RESULTS  also append the figures, as Markdown, to this file
set -u
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

bench_args "$0" "$@"

STASYNC=${STASYNC:-$top/stasync}
CASYNC=${CASYNC:-$(command -v casync 2>/dev/null || true)}
DESYNC=${DESYNC:-}
REPS=${REPS:-1}
BENCH_BLOB_MB=${BENCH_BLOB_MB:-64}
FAULT_TIMEOUT=${FAULT_TIMEOUT:-900}
# shellcheck disable=SC2034 # read by bench_check_tools
BENCH_TREE_MB=0

bench_check_tools
[ -z "$DESYNC" ] || [ -x "$DESYNC" ] || bench_die "DESYNC=$DESYNC is not an executable"
command -v timeout >/dev/null 2>&1 || bench_die "timeout (coreutils) not found"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

bench_init
bench_workdir
server_pid=
server_stop() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	fi
}
finish() {
	server_stop
	bench_workdir_done
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the data, made once (kept between runs with BENCH_DIR and BENCH_KEEP=1) -------
mkdir -p "$D/srv"
if [ ! -s "$D/srv/blob.caibx" ]; then
	bench_say "making a random $BENCH_BLOB_MB MiB blob and its store with casync make"
	python3 -c '
import random, sys
rng = random.Random(20261206)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(rng.getrandbits(8 << 20).to_bytes(1 << 20, "little"))
' "$D/blob.img" "$BENCH_BLOB_MB" || bench_die "cannot make the blob"
	"$CASYNC" make --store="$D/srv/store" "$D/srv/blob.caibx" "$D/blob.img" >"$D/make.log" 2>&1 ||
		{ cat "$D/make.log" >&2; bench_die "casync make blob.caibx failed"; }
fi
chunks=$(find "$D/srv/store" -name '*.cacnk' | wc -l | tr -d ' ')

# server_start ARGS...: the fault server on a port of the kernel's; sets U
server_start() {
	rm -f "$D/port"
	python3 "$top/tests/cli/httpd-test.py" --mode=faults --root="$D/srv" \
		--port-file="$D/port" --log="$D/server.log" --lifetime=86400 \
		--max-requests=100000000 "$@" >"$D/server.err" 2>&1 </dev/null &
	server_pid=$!
	_i=0
	while [ ! -s "$D/port" ]; do
		_i=$((_i + 1))
		if [ "$_i" -ge 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			cat "$D/server.err" >&2
			bench_die "httpd-test.py did not start"
		fi
		sleep 0.1
	done
	U=http://127.0.0.1:$(cat "$D/port")
}

# one_run TOOL OUT: one extract by TOOL; its wall time in $BENCH_TMP/one;
# false when it failed or gave other bytes
one_run() {
	rm -f "$D/out.img"
	case $1 in
	stasync) set -- "$STASYNC" extract --store="$U/store" "$D/srv/blob.caibx" "$D/out.img" ;;
	desync) set -- "$DESYNC" extract -s "$U/store" "$D/srv/blob.caibx" "$D/out.img" ;;
	esac
	bench_timed "$BENCH_TMP/one" timeout "$FAULT_TIMEOUT" "$@" && cmp -s "$D/blob.img" "$D/out.img"
}

tools=stasync
[ -z "$DESYNC" ] || tools="$tools desync"
printf '%s, casync store of a random %s MiB blob (%s chunks), through tests/cli/httpd-test.py --mode=faults on 127.0.0.1\n' \
	"$("$STASYNC" --version 2>/dev/null | head -n 1)" "$BENCH_BLOB_MB" "$chunks"
printf 'machine: %s\n' "$(bench_machine)"
if [ -n "${BENCH_RESULTS:-}" ]; then
	printf '\n## extract over HTTP from a misbehaving server (%s MiB random blob, %s chunks)\n\n' \
		"$BENCH_BLOB_MB" "$chunks"
	printf 'Median of %d runs; %s; %s. failfast: 4%% reset, 4%% 503, 2%% cut half-way; hang: 5%% never answered.\n\n' \
		"$REPS" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(bench_machine)"
	printf '| case | tool | wall s | vs clean |\n|---|---|---:|---:|\n'
fi >>"${BENCH_RESULTS:-/dev/null}"

printf '\n%-10s %-8s %10s %10s  %s\n' case tool "wall s" "vs clean" "requests answered / faults"
for c in clean failfast hang; do
	case $c in
	clean) args= ;;
	failfast) args="--reset=0.04 --status503=0.04 --cut-rate=0.02" ;;
	hang) args="--hang=0.05" ;;
	esac
	for t in $tools; do
		: >"$D/server.log"
		# shellcheck disable=SC2086 # $args is a list of options
		server_start --seed=1 $args
		: >"$BENCH_TMP/c.$c.$t"
		_r=1
		while [ "$_r" -le "$REPS" ]; do
			bench_say "  $c: $t: run $_r of $REPS"
			one_run "$t" || { : >"$BENCH_TMP/c.$c.$t"; break; }
			cat "$BENCH_TMP/one" >>"$BENCH_TMP/c.$c.$t"
			_r=$((_r + 1))
		done
		server_stop
		what=$(awk '{ print $3 }' "$D/server.log" | sort | uniq -c | awk '{ printf "%s%s %s", s, $1, $2; s = ", " }')
		if [ -s "$BENCH_TMP/c.$c.$t" ]; then
			wall=$(bench_median "$BENCH_TMP/c.$c.$t" 1)
			eval "clean_$t=\${clean_$t:-\$wall}"
			eval "vs=\$(awk -v a=\"\$wall\" -v b=\"\$clean_$t\" 'BEGIN { printf \"%.1f×\", a / b }')"
		else
			wall="failed after $(cut -d' ' -f1 "$BENCH_TMP/one") s" vs=—
			tail -n 3 "$BENCH_TMP/log" | sed 's/^/    /' >&2
		fi
		printf '%-10s %-8s %10s %10s  %s\n' "$c" "$t" "$wall" "$vs" "$what"
		[ -z "${BENCH_RESULTS:-}" ] ||
			printf '| %s | %s | %s | %s |\n' "$c" "$t" "$wall" "$vs" >>"$BENCH_RESULTS"
	done
done
