# An S3 server on 127.0.0.1 for the tests, started and stopped by the test
# itself: Ceph's RADOS Gateway (radosgw) on a throw-away one-node cluster
# (one monitor, one OSD keeping its objects in RAM), all of it in
# $T/s3d/ with a ceph.conf of its own. Sourced after lib.sh (uses $T, diag,
# diag_file, bail_out, at_exit).
#
#   have_s3d
#       true when the Ceph programs (and curl) are installed; a test does
#       `have_s3d || skip_all "..."` before s3d_start.
#   s3d_start
#       build the cluster, start ceph-mon, ceph-osd and radosgw as children
#       of the test shell, wait until radosgw answers HTTP, make a user.
#       Sets S3D_PORT, S3D_ENDPOINT (http://127.0.0.1:PORT),
#       S3D_ACCESS_KEY, S3D_SECRET_KEY, S3D_DIR and S3D_PIDS. Requests
#       may be path-style (http://127.0.0.1:PORT/BUCKET/KEY) or
#       virtual-hosted (http://BUCKET.localhost:PORT/KEY); radosgw's log,
#       $S3D_DIR/log/client.rgw.a.log, has each request line as sent.
#       The OSD keeps at most S3D_MEMSTORE_BYTES of objects in RAM
#       (default 1 GiB). S3D_TCP_NODELAY=1 turns Nagle's algorithm off on
#       radosgw's connections: with it on (radosgw's default), the end of
#       many responses waits for the client's delayed ACK, ~40 ms each.
#   s3d_stop
#       stop radosgw, then the OSD, then the monitor, one at a time, with
#       SIGTERM (SIGKILL after a few seconds); also done on exit.
#   s3d_rgw_stop / s3d_rgw_start
#       stop radosgw alone (SIGTERM: it closes the connections under way),
#       and start it again on the same port; the cluster and its objects
#       stay. For a server that goes away in the middle of a run, or one
#       with other settings: radosgw's section is the last of
#       $S3D_DIR/ceph.conf, so lines appended there in between are its.
#   s3_curl METHOD /BUCKET[/KEY][?QUERY] [CURL ARGS...]
#       a request signed with SigV4 (curl --aws-sigv4) as the user made by
#       s3d_start ($S3_ACCESS_KEY / $S3_SECRET_KEY override the keys); the
#       body goes to stdout, and -w, -o, -d... can be given. The query
#       must already be canonical: parameters sorted, values
#       percent-encoded ("?list-type=2&prefix=dir%2F").
#   s3_mb BUCKET
#       create a bucket (bail out when that fails).
#
# Only 127.0.0.1 is ever used (BUCKET.localhost included: libcurl and curl
# resolve *.localhost to it without asking DNS).

# shellcheck source=ports.sh
. "$top_srcdir/tests/cli/ports.sh"

S3D_PIDS=
S3D_ACCESS_KEY=STASYNCTESTACCESSKEY
S3D_SECRET_KEY=stasync/test/secret/key/0123456789abcdefgh

have_s3d() {
	for _c in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool curl; do
		command -v "$_c" >/dev/null 2>&1 || return 1
	done
	[ -n "$PYTHON3" ]
}

# s3d_ceph ARGS...: the ceph command line tool on the test's cluster.
s3d_ceph() {
	timeout 20 ceph -c "$S3D_DIR/ceph.conf" --connect-timeout 10 "$@"
}

# _s3d_kill PID: SIGTERM, wait at most 5 s, then SIGKILL; reap it.
_s3d_kill() {
	kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	_n=0
	while [ "$_n" -lt 50 ] && kill -0 "$1" 2>/dev/null &&
		! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; do
		sleep 0.1
		_n=$((_n + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

s3d_stop() {
	# the list is kept rgw first, then osd, then mon
	for _p in $S3D_PIDS; do
		_s3d_kill "$_p"
	done
	S3D_PIDS=
}
# on every way out of the test: success, failure, bail_out, a signal
at_exit s3d_stop

# _s3d_spawn NAME CMD ARGS...: start a daemon in the background (its output
# in $S3D_DIR/NAME.out), put its pid first on $S3D_PIDS (stopped first).
_s3d_spawn() {
	_nm=$1
	shift
	"$@" >"$S3D_DIR/$_nm.out" 2>&1 </dev/null &
	_s3d_pid=$!
	S3D_PIDS="$_s3d_pid $S3D_PIDS"
}

_s3d_fail() {
	for _f in "$S3D_DIR"/*.out "$S3D_DIR"/log/*.log; do
		[ -e "$_f" ] && diag_file "${_f#"$S3D_DIR"/}" "$_f"
	done
	s3d_stop
	bail_out "S3 server: $*"
}

_s3d_conf() {
	_s3d_nodelay=
	[ "${S3D_TCP_NODELAY:-0}" != 1 ] || _s3d_nodelay=' tcp_nodelay=1'
	cat >"$S3D_DIR/ceph.conf" <<EOF
[global]
fsid = $_s3d_fsid
mon host = v1:127.0.0.1:$_s3d_mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind port min = $_s3d_ms_min
ms bind port max = $_s3d_ms_max
auth cluster required = none
auth service required = none
auth client required = none
run dir = $S3D_DIR/run
admin socket = $S3D_DIR/run/\$name.asok
pid file = $S3D_DIR/run/\$name.pid
log file = $S3D_DIR/log/\$name.log
crash dir = $S3D_DIR/crash
keyring = $S3D_DIR/keyring
log to stderr = false
err to stderr = true
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
paxos propose interval = 0.05

[mon]
mon data = $S3D_DIR/mon/\$cluster-\$id

[osd]
osd data = $S3D_DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${S3D_MEMSTORE_BYTES:-1073741824}
osd class update on start = false
osd crush update on start = false

[client.rgw.a]
rgw data = $S3D_DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$S3D_PORT$_s3d_nodelay
# virtual-hosted requests too: Host BUCKET.localhost (libcurl resolves
# *.localhost to 127.0.0.1 itself)
rgw dns name = localhost
EOF
}

# _s3d_wait_bind PID PORT LOG...: wait (at most 10 s) until process PID
# listens on 127.0.0.1:PORT itself (a connection that succeeds may reach
# whoever took the port first). Returns 0 then, 2 when a LOG says the
# address is in use (Ceph would retry for 15 s: not worth waiting) or PID
# died while another process listens there, 1 when PID died or time ran out.
_s3d_wait_bind() {
	"$PYTHON3" - "$@" <<'EOF'
import os, sys, time
pid, port, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def listening_inodes():
    found = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fld = line.split()
                if fld[3] == "0A" and int(fld[1].split(":")[1], 16) == port:
                    found.add("socket:[%s]" % fld[9])
    except OSError:
        pass
    return found
def owns():
    inodes = listening_inodes()
    if not inodes:
        return False
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%s/fd/%s" % (pid, fd)) in inodes:
                return True
        except OSError:
            pass
    return False
def in_use():
    for log in logs:
        try:
            with open(log, errors="replace") as f:
                if "in use" in f.read().lower():
                    return True
        except OSError:
            pass
    return False
end = time.time() + 10
while time.time() < end:
    if owns():
        sys.exit(0)
    if in_use():
        sys.exit(2)
    try:
        with open("/proc/%s/stat" % pid) as f:
            dead = f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        dead = True
    if dead:
        # radosgw exits when the port is taken, without a word
        sys.exit(2 if listening_inodes() else 1)
    time.sleep(0.02)
sys.exit(1)
EOF
}

# _s3d_wait_http PID: wait (at most 20 s) until radosgw answers on
# S3D_PORT while it lives.
_s3d_wait_http() {
	_n=0
	while [ "$_n" -lt 200 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null && return 1
		_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			"http://127.0.0.1:$S3D_PORT/" 2>/dev/null)
		case $_code in [1-5]??) return 0 ;; esac
		sleep 0.05
		_n=$((_n + 1))
	done
	return 1
}

s3d_start() {
	for _s3d_try in 1 2 3 4 5; do
		_s3d_start_once && return 0
		# A port from the kernel was taken by another process before the
		# daemon bound it: begin again on a fresh cluster (one whose
		# radosgw died early would keep its watchers on the OSD for 30 s).
		diag "S3 server: port taken, starting again"
		s3d_stop
		rm -rf "$S3D_DIR"
	done
	_s3d_fail "no free port after 5 tries"
}

# _s3d_port_outside: a free port not in the daemons' range.
_s3d_port_outside() {
	while :; do
		_p=$(free_port)
		[ "$_p" -ge "$_s3d_ms_min" ] && [ "$_p" -le "$_s3d_ms_max" ] || break
	done
	echo "$_p"
}

# _s3d_start_once: 0 when the server runs, 2 when a port was taken.
_s3d_start_once() {
	S3D_DIR=$T/s3d
	mkdir -p "$S3D_DIR/run" "$S3D_DIR/log" "$S3D_DIR/crash" "$S3D_DIR/mon" \
		"$S3D_DIR/osd" "$S3D_DIR/rgw" || bail_out "cannot create $S3D_DIR"
	_s3d_fsid=$("$PYTHON3" -c 'import uuid; print(uuid.uuid4())')
	_s3d_osd_uuid=$("$PYTHON3" -c 'import uuid; print(uuid.uuid4())')
	# The daemons' own ports (OSD public, cluster, heartbeats) come from a
	# range; a port in it that is taken is skipped by Ceph itself.
	_s3d_ms_min=$(free_port)
	[ "$_s3d_ms_min" -gt 65400 ] && _s3d_ms_min=$((_s3d_ms_min - 200))
	_s3d_ms_max=$((_s3d_ms_min + 100))
	# the monitor's and radosgw's ports outside that range
	_s3d_mon_port=$(_s3d_port_outside)
	S3D_PORT=$(_s3d_port_outside)
	_s3d_conf

	monmaptool -c "$S3D_DIR/ceph.conf" --create --fsid "$_s3d_fsid" \
		--addv a "[v1:127.0.0.1:$_s3d_mon_port]" "$S3D_DIR/monmap" \
		>"$S3D_DIR/monmaptool.out" 2>&1 || _s3d_fail "monmaptool failed"
	ceph-mon -c "$S3D_DIR/ceph.conf" -i a --mkfs --monmap "$S3D_DIR/monmap" \
		>"$S3D_DIR/mkfs-mon.out" 2>&1 || _s3d_fail "ceph-mon --mkfs failed"
	_s3d_spawn mon ceph-mon -c "$S3D_DIR/ceph.conf" -i a -f
	_s3d_wait_bind "$_s3d_pid" "$_s3d_mon_port" "$S3D_DIR/mon.out" "$S3D_DIR/log/mon.a.log"
	case $? in
	0) ;;
	2) return 2 ;;
	*) _s3d_fail "ceph-mon did not start" ;;
	esac
	s3d_ceph mon stat >"$S3D_DIR/mon-stat.out" 2>&1 || _s3d_fail "ceph mon stat failed"

	# The OSD, placed in the CRUSH map by hand (see the notes in ceph.conf
	# above: "osd crush update on start = false").
	_s3d_osd=$(s3d_ceph osd new "$_s3d_osd_uuid" 2>"$S3D_DIR/osd-new.out") ||
		_s3d_fail "ceph osd new failed"
	mkdir -p "$S3D_DIR/osd/ceph-$_s3d_osd"
	ceph-osd -c "$S3D_DIR/ceph.conf" -i "$_s3d_osd" --mkfs --osd-uuid "$_s3d_osd_uuid" \
		>"$S3D_DIR/mkfs-osd.out" 2>&1 || _s3d_fail "ceph-osd --mkfs failed"
	s3d_ceph osd crush add "osd.$_s3d_osd" 1.0 root=default \
		>"$S3D_DIR/crush-add.out" 2>&1 || _s3d_fail "ceph osd crush add failed"
	_s3d_spawn osd ceph-osd -c "$S3D_DIR/ceph.conf" -i "$_s3d_osd" -f
	_s3d_osd_pid=$_s3d_pid
	_n=0
	while ! s3d_ceph osd dump 2>/dev/null | grep -q "^osd\.$_s3d_osd up"; do
		kill -0 "$_s3d_osd_pid" 2>/dev/null || _s3d_fail "ceph-osd exited"
		[ "$_n" -lt 200 ] || _s3d_fail "ceph-osd not up after 20 s"
		sleep 0.1
		_n=$((_n + 1))
	done

	_s3d_spawn rgw radosgw -c "$S3D_DIR/ceph.conf" -n client.rgw.a -f
	S3D_RGW_PID=$_s3d_pid
	_s3d_wait_bind "$_s3d_pid" "$S3D_PORT" "$S3D_DIR/rgw.out" "$S3D_DIR/log/client.rgw.a.log"
	case $? in
	0) _s3d_wait_http "$_s3d_pid" || _s3d_fail "radosgw did not answer" ;;
	2) return 2 ;;
	*) _s3d_fail "radosgw did not start" ;;
	esac
	S3D_ENDPOINT=http://127.0.0.1:$S3D_PORT

	timeout 20 radosgw-admin -c "$S3D_DIR/ceph.conf" -n client.admin user create \
		--uid=stasync --display-name=stasync \
		--access-key="$S3D_ACCESS_KEY" --secret-key="$S3D_SECRET_KEY" \
		>"$S3D_DIR/user-create.out" 2>&1 || _s3d_fail "radosgw-admin user create failed"
	export S3D_PORT S3D_ENDPOINT S3D_ACCESS_KEY S3D_SECRET_KEY
}

s3_curl() {
	_m=$1 _path=$2
	shift 2
	if [ "$_m" = HEAD ]; then
		set -- -I "$@" # -X HEAD would wait for a body
	else
		set -- -X "$_m" "$@"
	fi
	curl -s --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "${S3_ACCESS_KEY:-$S3D_ACCESS_KEY}:${S3_SECRET_KEY:-$S3D_SECRET_KEY}" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$S3D_ENDPOINT$_path"
}

s3_mb() {
	_code=$(s3_curl PUT "/$1" -o "$T/s3_mb.out" -w '%{http_code}')
	[ "$_code" = 200 ] || {
		diag_file "PUT /$1 ($_code)" "$T/s3_mb.out"
		bail_out "cannot create bucket $1"
	}
}

s3d_rgw_stop() {
	_s3d_kill "$S3D_RGW_PID"
}

s3d_rgw_start() {
	_s3d_spawn rgw radosgw -c "$S3D_DIR/ceph.conf" -n client.rgw.a -f
	S3D_RGW_PID=$_s3d_pid
	_s3d_wait_http "$_s3d_pid" || _s3d_fail "radosgw did not start again"
}

# s3_test_begin BUCKET: the start of a test of stasync against the server.
# Skips the test when there is no server to run or stasync has no libcurl;
# leaves no proxy and no AWS variable of the caller's set, and an empty
# HOME (no ~/.aws); starts the server, makes BUCKET, exports its keys as
# AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and sets S3 to the bucket's
# s3+http:// locator.
s3_test_begin() {
	have_s3d || skip_all "no S3 server to test with (apt-get install radosgw ceph-mon ceph-osd curl)"
	run "$STASYNC" extract --store=s3+http://127.0.0.1:1/b x.caibx "$T/none"
	grep -q "without libcurl" "$T/err" && skip_all "built without libcurl"

	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION \
		AWS_DEFAULT_REGION AWS_IGNORE_CONFIGURED_ENDPOINT_URLS AWS_CONFIG_FILE \
		AWS_SHARED_CREDENTIALS_FILE
	HOME=$T/home
	export HOME
	mkdir -p "$HOME"

	s3d_start
	s3_mb "$1"
	# shellcheck disable=SC2034 # (for the test)
	S3=s3+$S3D_ENDPOINT/$1
	AWS_ACCESS_KEY_ID=$S3D_ACCESS_KEY
	AWS_SECRET_ACCESS_KEY=$S3D_SECRET_KEY
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}
