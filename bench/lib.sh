# shellcheck shell=sh
# Helpers for the benchmarks in bench/ (POSIX sh), sourced by each one:
#
#   . "$(dirname "$0")/lib.sh"
#
#   bench_init
#       check the tools, make $BENCH_TMP (removed on exit).
#   bench_case TITLE
#       start a case: a table of its own.
#   bench_tool NAME SETUP CHECK CMD [ARGS...]
#       a contender in the current case: CMD ARGS is timed (a program, not
#       a shell function). SETUP and CHECK are shell functions or commands,
#       with or without arguments (plain words: they are split on blanks;
#       ":" for nothing): SETUP before every run, untimed (e.g. remove the
#       last output); CHECK after the first, untimed run, which verifies the
#       output and warms the caches (a non-zero status aborts the
#       benchmark). CHECK may read what the run printed (stdout and stderr)
#       in $BENCH_TMP/log. The first tool added is the one the others are
#       compared with.
#   bench_measure REPS
#       one untimed run of each tool (checked), then REPS rounds in which
#       each tool runs once, in turn (A B C A B C …, so that a slow phase of
#       the machine hurts all alike); print the medians of wall time, CPU
#       time (user + system, the process and the children it waited for)
#       and peak RSS (the largest single process) per tool, and how the
#       first tool compares with each other one. With $BENCH_RESULTS set,
#       also append them to that file as a Markdown table; with $BENCH_ROWS
#       set, append one line per tool to that file: case, tool, wall s,
#       CPU s, system s, peak RSS MiB, the server's CPU s, the machine's
#       busy s, the time stolen s and the sync after the run s, separated
#       by tabs (each a median). With BENCH_SYNC_AFTER=1, each timed run is
#       followed by a sync, timed apart (bench_sync_after).
#   bench_compare A B
#       after bench_measure: how tool A compares with tool B of the same
#       case (both named as in bench_tool), one line as bench_measure
#       prints for the first tool; also appended to $BENCH_RESULTS, when set.
#   bench_machine
#       one line: CPU model, cores, kernel.
#   bench_say TEXT
#       a line on stderr (progress), under $BENCH_QUIET empty.
#   bench_make_blob FILE MIB
#       a disk-image-like file of MIB MiB (python3): per MiB, random data,
#       zeros or a copy of an earlier MiB, from a fixed seed.
#   bench_make_tree DEST MB SRC...
#       copy whole subdirectories of each SRC in turn (in name order) to
#       DEST/<name of SRC>/ until about MB MB are copied; print the MB.
#   bench_find_nginx
#       set NGINX ($NGINX, else nginx on PATH, else /usr/sbin/nginx), or die.
#   bench_workdir
#       set D to the scratch directory: $BENCH_DIR (made if need be), else
#       a new one in $TMPDIR or /tmp. bench_workdir_done removes it (unless
#       BENCH_KEEP=1), then what bench_init made.
#   bench_nginx ROOT [DIRECTIVES]
#       start nginx (one process) serving ROOT on 127.0.0.1, its files in
#       ROOT.nginx/, DIRECTIVES added to its server block (WebDAV PUT, say);
#       set BENCH_URL (http://127.0.0.1:PORT) and bench_nginx_pid.
#       bench_nginx_stop stops it. Needs tests/cli/ports.sh sourced
#       (free_port, wait_port).
#
# Timing uses GNU time (/usr/bin/time, Debian package "time"), else a
# python3 wrapper reading getrusage(RUSAGE_CHILDREN).

BENCH_TMP=
# set by bench_nginx, for the scripts that source this file
export BENCH_URL=
bench_cases_done=0
# Set through eval, per tool: the names below are only there for shellcheck.
_name='' _run='' _setup='' _check='' _n='' _w='' _cp='' _m='' _n1='' _w1='' _c1='' _m1=''

bench_say() {
	[ -n "${BENCH_QUIET:-}" ] || printf '%s\n' "$*" >&2
}

bench_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# bench_args SCRIPT ARGS...: the scripts take no arguments but -h, which
# prints SCRIPT's header comment (up to its "set -u" line).
bench_args() {
	_script=$1
	shift
	case "${1:-}" in
	-h | --help)
		sed -n '2,/^set -u$/p' "$_script" | sed -e '/^set -u$/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	"") ;;
	*)
		echo "usage: $_script [-h]  (options are environment variables: see -h)" >&2
		exit 2
		;;
	esac
}

# bench_check_tools: stasync and casync are there, and so are nginx and
# python3; REPS, BENCH_BLOB_MB and BENCH_TREE_MB are numbers.
bench_check_tools() {
	[ -x "$STASYNC" ] || bench_die "no stasync binary at $STASYNC (build it, or set STASYNC)"
	if [ -z "$CASYNC" ] || [ ! -x "$CASYNC" ]; then
		bench_die "casync not found (apt-get install casync, or set CASYNC)"
	fi
	bench_find_nginx
	command -v python3 >/dev/null 2>&1 || bench_die "python3 not found"
	case "$REPS$BENCH_BLOB_MB$BENCH_TREE_MB" in
	*[!0-9]*) bench_die "REPS, BENCH_BLOB_MB and BENCH_TREE_MB must be numbers" ;;
	esac
	[ "$REPS" -ge 1 ] || bench_die "REPS must be at least 1"
}

bench_init() {
	BENCH_TIMER=
	if [ -x /usr/bin/time ] && /usr/bin/time -f '%e' -o /dev/null true 2>/dev/null; then
		BENCH_TIMER=gnu
	elif command -v python3 >/dev/null 2>&1; then
		BENCH_TIMER=python3
	else
		bench_die "need GNU time (apt-get install time) or python3 to measure"
	fi
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/stasync-bench-lib.XXXXXX") ||
		bench_die "mktemp -d failed"
}

# bench_timed OUT CMD...: run CMD (its output to $BENCH_TMP/log) and write
# "WALL_S USER_S SYS_S MAXRSS_KB" to OUT. Returns CMD's status.
bench_timed() {
	_out=$1
	shift
	_srv0=$(bench_server_ticks)
	read -r _busy0 _stolen0 <<EOF
$(bench_busy_ticks)
EOF
	if [ "$BENCH_TIMER" = gnu ]; then
		/usr/bin/time -f '%e %U %S %M' -o "$_out" "$@" >"$BENCH_TMP/log" 2>&1
		_rc=$?
		# GNU time writes "Command exited with non-zero status N" first
		tail -n 1 "$_out" >"$_out.last" && mv "$_out.last" "$_out"
		bench_other_cpu "$_out" "$_srv0" "$_busy0" "$_stolen0"
		return $_rc
	fi
	python3 - "$_out" "$@" >"$BENCH_TMP/log" 2>&1 <<'EOF'
import resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:])
wall = time.monotonic() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write("%.3f %.3f %.3f %d\n" % (wall, r.ru_utime, r.ru_stime, r.ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)
EOF
	_rc=$?
	bench_other_cpu "$_out" "$_srv0" "$_busy0" "$_stolen0"
	return $_rc
}

# bench_server_ticks: the CPU time (user + system, clock ticks) of the
# server named by BENCH_SERVER_PID so far; 0 without one. A server on the
# same cores takes its share of them: the bound on a client's wall time
# is (client CPU + server CPU) ÷ cores.
bench_server_ticks() {
	if [ -n "${BENCH_SERVER_PID:-}" ] && [ -r "/proc/$BENCH_SERVER_PID/stat" ]; then
		# fields 14 and 15, counted after the ")" that ends the name
		sed 's/.*) //' "/proc/$BENCH_SERVER_PID/stat" | awk '{ print $12 + $13 }'
	else
		echo 0
	fi
}

# bench_busy_ticks: "BUSY STOLEN", clock ticks of the whole machine so
# far. BUSY: the CPU time of every process and of the kernel's own threads
# (the write-back of a tool's files runs there, outside its own CPU time).
# STOLEN: the time a virtual machine's cores were held by the host for
# others ("steal"): neither busy with our work nor idle, and as long to
# wait for as any.
bench_busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9 + 0; exit }' /proc/stat
}

# bench_other_cpu FILE TICKS0 BUSY0 STOLEN0: append the server's CPU
# seconds since TICKS0, the machine's since BUSY0 and the time stolen since
# STOLEN0 to the one line of FILE
bench_other_cpu() {
	_t1=$(bench_server_ticks)
	read -r _b1 _s1 <<EOF
$(bench_busy_ticks)
EOF
	_hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
	awk -v d="$((_t1 - $2))" -v b="$((_b1 - $3))" -v s="$((_s1 - $4))" -v hz="$_hz" \
		'{ printf "%s %.2f %.2f %.2f\n", $0, d / hz, b / hz, s / hz }' "$1" >"$1.srv" &&
		mv "$1.srv" "$1"
}

# bench_sync_after FILE: sync, and append the seconds it took to the one
# line of FILE: the write-back a run left behind (a tool that ends with its
# files on disk leaves little; one that does not, all it wrote).
bench_sync_after() {
	_s0=$(date +%s.%N)
	sync
	_s1=$(date +%s.%N)
	awk -v d="$_s0 $_s1" '{ split(d, t, " "); printf "%s %.3f\n", $0, t[2] - t[1] }' "$1" >"$1.sync" &&
		mv "$1.sync" "$1"
}

# bench_median FILE COLUMN: the median of a column of numbers.
bench_median() {
	awk -v c="$2" '{ print $c }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_machine() {
	_cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	[ -n "$_cpu" ] || _cpu=$(uname -m)
	# a virtual machine may name its CPU by vendor alone: family and model
	# tell one generation from another
	_fam=$(sed -n 's/^cpu family[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	_mod=$(sed -n 's/^model[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	[ -z "$_fam" ] || [ -z "$_mod" ] || _cpu="$_cpu (family $_fam, model $_mod)"
	printf '%s, %s cores, Linux %s\n' "$_cpu" "$(nproc 2>/dev/null || echo '?')" "$(uname -r)"
}

bench_case() {
	BENCH_CASE=$1
	BENCH_TOOLS=
	bench_ntools=0
}

# bench_quote WORD...: the words, each quoted for eval.
bench_quote() {
	for _q in "$@"; do
		printf "'%s' " "$(printf '%s' "$_q" | sed "s/'/'\\\\''/g")"
	done
}

bench_tool() {
	bench_ntools=$((bench_ntools + 1))
	BENCH_TOOLS="$BENCH_TOOLS $bench_ntools"
	eval "bench_name_$bench_ntools=\$1 bench_setup_$bench_ntools=\$2 bench_check_$bench_ntools=\$3"
	shift 3
	eval "bench_run_$bench_ntools=\$(bench_quote \"\$@\")"
}

# bench_ratio A B: "X.Y× faster"/"X.Y× slower" for times A (ours) and B.
bench_ratio() {
	awk -v a="$1" -v b="$2" -v more="$3" -v less="$4" 'BEGIN {
		if (a <= 0 || b <= 0) { print "(too short to compare)"; exit }
		if (b >= a) printf "%.1f× %s\n", b / a, more
		else printf "%.1f× %s\n", a / b, less
	}'
}

bench_measure() {
	_reps=$1
	_c=$((bench_cases_done + 1))
	bench_cases_done=$_c
	for _i in $BENCH_TOOLS; do
		eval "_name=\$bench_name_$_i _run=\$bench_run_$_i _setup=\$bench_setup_$_i _check=\$bench_check_$_i"
		: >"$BENCH_TMP/c$_c.t$_i"
		bench_say "  $BENCH_CASE: $_name: a first run, checked"
		$_setup || bench_die "$BENCH_CASE: $_name: setup failed"
		if ! eval "bench_timed \"\$BENCH_TMP/first\" $_run"; then
			sed 's/^/    /' "$BENCH_TMP/log" | tail -n 20 >&2
			bench_die "$BENCH_CASE: $_name failed"
		fi
		$_check || bench_die "$BENCH_CASE: $_name: the output is wrong"
	done
	_r=1
	while [ "$_r" -le "$_reps" ]; do
		for _i in $BENCH_TOOLS; do
			eval "_name=\$bench_name_$_i _run=\$bench_run_$_i _setup=\$bench_setup_$_i"
			bench_say "  $BENCH_CASE: $_name: run $_r of $_reps"
			$_setup || bench_die "$BENCH_CASE: $_name: setup failed"
			if ! eval "bench_timed \"\$BENCH_TMP/one\" $_run"; then
				sed 's/^/    /' "$BENCH_TMP/log" | tail -n 20 >&2
				bench_die "$BENCH_CASE: $_name failed"
			fi
			[ "${BENCH_SYNC_AFTER:-0}" != 1 ] || bench_sync_after "$BENCH_TMP/one"
			cat "$BENCH_TMP/one" >>"$BENCH_TMP/c$_c.t$_i"
		done
		_r=$((_r + 1))
	done

	# medians: wall, user+sys, peak RSS, sys, the server's CPU, the machine's,
	# the time stolen, the sync after the run
	for _i in $BENCH_TOOLS; do
		awk '{ print $1, $2 + $3, $4 / 1024, $3, $5 + 0, $6 + 0, $7 + 0, $8 + 0 }' "$BENCH_TMP/c$_c.t$_i" >"$BENCH_TMP/c$_c.m$_i"
		eval "bench_wall_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 1)"
		eval "bench_cpu_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 2)"
		eval "bench_rss_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 3)"
		eval "bench_sys_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 4)"
		eval "bench_srv_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 5)"
		eval "bench_busy_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 6)"
		eval "bench_stolen_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 7)"
		eval "bench_after_$_i=\$(bench_median \"\$BENCH_TMP/c\$_c.m\$_i\" 8)"
	done
	printf '\n== %s (median of %d runs)\n' "$BENCH_CASE" "$_reps"
	printf '%-10s %10s %10s %10s %14s\n' tool "wall s" "CPU s" "sys s" "peak RSS MiB"
	for _i in $BENCH_TOOLS; do
		eval "printf '%-10s %10.2f %10.2f %10.2f %14.1f\n' \"\$bench_name_$_i\" \"\$bench_wall_$_i\" \"\$bench_cpu_$_i\" \"\$bench_sys_$_i\" \"\$bench_rss_$_i\""
	done
	_first=${BENCH_TOOLS# }
	_first=${_first%% *}
	eval "_n1=\$bench_name_$_first _w1=\$bench_wall_$_first _c1=\$bench_cpu_$_first _m1=\$bench_rss_$_first"
	for _i in $BENCH_TOOLS; do
		[ "$_i" != "$_first" ] || continue
		eval "_n=\$bench_name_$_i _w=\$bench_wall_$_i _cp=\$bench_cpu_$_i _m=\$bench_rss_$_i"
		printf '%s is %s than %s (wall); CPU: %s; peak RSS: %s\n' "$_n1" \
			"$(bench_ratio "$_w1" "$_w" faster slower)" "$_n" \
			"$(bench_ratio "$_c1" "$_cp" less more)" "$(bench_ratio "$_m1" "$_m" less more)"
	done

	if [ -n "${BENCH_ROWS:-}" ]; then
		for _i in $BENCH_TOOLS; do
			eval "printf '%s\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\n' \"\$BENCH_CASE\" \"\$bench_name_$_i\" \"\$bench_wall_$_i\" \"\$bench_cpu_$_i\" \"\$bench_sys_$_i\" \"\$bench_rss_$_i\" \"\$bench_srv_$_i\" \"\$bench_busy_$_i\" \"\$bench_stolen_$_i\" \"\$bench_after_$_i\""
		done >>"$BENCH_ROWS"
	fi

	[ -n "${BENCH_RESULTS:-}" ] || return 0
	{
		printf '\n### %s\n\n' "$BENCH_CASE"
		printf 'Median of %d runs; %s; %s.\n\n' "$_reps" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(bench_machine)"
		printf '| tool | wall s | CPU s | peak RSS MiB | wall vs %s |\n|---|---:|---:|---:|---|\n' "$_n1"
		for _i in $BENCH_TOOLS; do
			eval "_n=\$bench_name_$_i _w=\$bench_wall_$_i _cp=\$bench_cpu_$_i _m=\$bench_rss_$_i"
			if [ "$_i" = "$_first" ]; then
				_vs=—
			else
				_vs="$_n1 $(bench_ratio "$_w1" "$_w" faster slower)"
			fi
			printf '| %s | %.2f | %.2f | %.1f | %s |\n' "$_n" "$_w" "$_cp" "$_m" "$_vs"
		done
	} >>"$BENCH_RESULTS"
}

# bench_tool_index NAME: the number of the current case's tool NAME.
bench_tool_index() {
	for _i in $BENCH_TOOLS; do
		eval "_n=\$bench_name_$_i"
		[ "$_n" != "$1" ] || { echo "$_i"; return 0; }
	done
	return 1
}

bench_compare() {
	_a=$(bench_tool_index "$1") || bench_die "bench_compare: no tool $1"
	_b=$(bench_tool_index "$2") || bench_die "bench_compare: no tool $2"
	eval "_w1=\$bench_wall_$_a _c1=\$bench_cpu_$_a _m1=\$bench_rss_$_a"
	eval "_w=\$bench_wall_$_b _cp=\$bench_cpu_$_b _m=\$bench_rss_$_b"
	_line="$1 is $(bench_ratio "$_w1" "$_w" faster slower) than $2 (wall); CPU: $(bench_ratio "$_c1" "$_cp" less more); peak RSS: $(bench_ratio "$_m1" "$_m" less more)"
	printf '%s\n' "$_line"
	[ -z "${BENCH_RESULTS:-}" ] || printf '\n%s.\n' "$_line" >>"$BENCH_RESULTS"
}

bench_make_blob() {
	python3 - "$1" "$2" <<'EOF'
import random, sys
path, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(20240501)
block = 1 << 20
written = []
with open(path, "wb") as f:
    for i in range(mib):
        k = rng.random()
        if k < 0.5 or not written:
            data = rng.getrandbits(8 * block).to_bytes(block, "little")
            if len(written) < 32:
                written.append(data)
        elif k < 0.75:
            data = bytes(block)
        else:
            data = written[rng.randrange(len(written))]
        f.write(data)
EOF
}

bench_make_tree() {
	_dest=$1
	_limit=$(($2 * 1000))
	shift 2
	_total=0
	for _src in "$@"; do
		[ -d "$_src" ] || continue
		_to=$_dest/$(basename "$_src")
		mkdir -p "$_to"
		for _sub in "$_src"/*; do
			[ "$_total" -lt "$_limit" ] || break
			if [ ! -d "$_sub" ] || [ -L "$_sub" ]; then
				continue
			fi
			_kb=$(du -sk "$_sub" 2>/dev/null | cut -f1)
			[ -n "$_kb" ] || continue
			# files this user cannot read are left out, for all tools alike
			cp -a "$_sub" "$_to/" 2>/dev/null || true
			_total=$((_total + _kb))
		done
		# an empty DEST/<name> (the limit was reached before) is left out
		rmdir "$_to" 2>/dev/null || true
	done
	# what could not be read whole (a non-root copy) would differ later
	find "$_dest" ! -readable -exec rm -rf {} + 2>/dev/null
	echo $((_total / 1000))
}

bench_find_nginx() {
	NGINX=${NGINX:-$(command -v nginx 2>/dev/null || true)}
	[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; }
	if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then
		bench_die "nginx not found (apt-get install nginx, or set NGINX)"
	fi
}

bench_nginx_pid=
bench_nginx() {
	_root=$1 _extra=${2:-}
	_ng=$1.nginx
	bench_find_nginx
	mkdir -p "$_ng/tmp"
	for _ in 1 2 3 4 5; do
		_port=$(free_port)
		# one process (no master, so no switch to another user: a non-root
		# user and root alike serve files only they may read)
		cat >"$_ng/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $_ng/nginx.pid;
error_log $_ng/error.log warn;
events { worker_connections 256; }
http {
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	client_body_temp_path $_ng/tmp/body;
	proxy_temp_path $_ng/tmp/proxy;
	fastcgi_temp_path $_ng/tmp/fastcgi;
	uwsgi_temp_path $_ng/tmp/uwsgi;
	scgi_temp_path $_ng/tmp/scgi;
	keepalive_timeout 60;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$_port;
		server_name localhost;
		root $_root;
		$_extra
	}
}
EOF
		"$NGINX" -p "$_ng" -c "$_ng/nginx.conf" -e "$_ng/error.log" >"$_ng/stdout" 2>&1 </dev/null &
		bench_nginx_pid=$!
		if wait_port "$_port" "$bench_nginx_pid"; then
			break
		fi
		kill "$bench_nginx_pid" 2>/dev/null
		wait "$bench_nginx_pid" 2>/dev/null
		bench_nginx_pid=
		grep -q "in use" "$_ng/error.log" "$_ng/stdout" 2>/dev/null || break
	done
	[ -n "$bench_nginx_pid" ] || { cat "$_ng/error.log" "$_ng/stdout" >&2; bench_die "nginx did not start"; }
	BENCH_URL=http://127.0.0.1:$_port
}

bench_nginx_stop() {
	[ -n "$bench_nginx_pid" ] || return 0
	kill "$bench_nginx_pid" 2>/dev/null
	wait "$bench_nginx_pid" 2>/dev/null
	bench_nginx_pid=
}

bench_cleanup_lib() {
	[ -z "$BENCH_TMP" ] || rm -rf "$BENCH_TMP"
}

bench_workdir() {
	if [ -n "${BENCH_DIR:-}" ]; then
		mkdir -p "$BENCH_DIR" || bench_die "cannot create $BENCH_DIR"
		D=$(cd "$BENCH_DIR" && pwd)
	else
		D=$(mktemp -d "${TMPDIR:-/tmp}/stasync-bench.XXXXXX") || bench_die "mktemp -d failed"
	fi
}

bench_workdir_done() {
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		bench_say "kept: $D"
	else
		chmod -R u+rwx "$D" 2>/dev/null
		rm -rf "$D"
	fi
	bench_cleanup_lib
}
