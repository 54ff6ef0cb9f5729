# Web servers on 127.0.0.1 for the HTTP tests, started and stopped by the
# test itself. Sourced after lib.sh (uses $T, diag, bail_out).
#
#   nginx_start NAME ROOT [CERT KEY]
#       Debian's nginx serving ROOT, in the foreground (daemon off, one
#       process), with a configuration of its own in $T/NAME.nginx/ (no
#       global configuration is read) and its logs and pid file there too.
#       With CERT and KEY it speaks HTTPS (and HTTP/2 too when
#       NGINX_HTTP2 is set). $NGINX_EXTRA is added inside the
#       server block. Sets NGINX_PORT and NGINX_DIR; the access log
#       ($NGINX_DIR/access.log) has lines "CONNECTION REQUEST_NO METHOD URI
#       STATUS BYTES PROTOCOL".
#   testhttpd_start NAME ARGS...
#       tests/cli/httpd-test.py (the failures nginx cannot produce) with
#       ARGS; sets TESTHTTPD_PORT and TESTHTTPD_LOG (one line per request:
#       "METHOD PATH STATUS").
#   httpd_stop_all
#       stop every server started (also done on exit).
#   free_port, wait_port
#       from tests/cli/ports.sh.
#
# Only 127.0.0.1 is ever used.

NGINX=${NGINX:-}
if [ -z "$NGINX" ]; then
	NGINX=$(command -v nginx 2>/dev/null || true)
	[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; }
fi
# shellcheck source=ports.sh
. "$top_srcdir/tests/cli/ports.sh"
HTTPD_PIDS=

have_nginx() {
	[ -n "$NGINX" ] && [ -x "$NGINX" ]
}

have_python3() {
	[ -n "$PYTHON3" ]
}

httpd_stop_all() {
	for _p in $HTTPD_PIDS; do
		kill "$_p" 2>/dev/null && wait "$_p" 2>/dev/null
	done
	HTTPD_PIDS=
}
# on every way out of the test: success, failure, bail_out, a signal
at_exit httpd_stop_all

nginx_start() {
	_name=$1 _root=$2 _cert=${3:-} _key=${4:-}
	NGINX_DIR=$T/$_name.nginx
	mkdir -p "$NGINX_DIR/tmp" || bail_out "cannot create $NGINX_DIR"
	_ssl= _tls=
	if [ -n "$_cert" ]; then
		_ssl=" ssl${NGINX_HTTP2:+ http2}"
		_tls="ssl_certificate $_cert; ssl_certificate_key $_key;"
	fi
	# A port from the kernel may be taken again before nginx binds it:
	# try a few.
	for _try in 1 2 3 4 5; do
		NGINX_PORT=$(free_port)
		cat >"$NGINX_DIR/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log info;
events { worker_connections 64; }
http {
	default_type application/octet-stream;
	log_format stasync '\$connection \$connection_requests \$request_method \$request_uri \$status \$body_bytes_sent \$server_protocol';
	access_log $NGINX_DIR/access.log stasync;
	client_body_temp_path $NGINX_DIR/tmp/body;
	proxy_temp_path $NGINX_DIR/tmp/proxy;
	fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
	uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
	scgi_temp_path $NGINX_DIR/tmp/scgi;
	keepalive_timeout 60;
	keepalive_requests 10000;
	server {
		listen 127.0.0.1:$NGINX_PORT$_ssl;
		server_name localhost;
		root $_root;
		$_tls
		${NGINX_EXTRA:-}
	}
}
EOF
		"$NGINX" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
			>"$NGINX_DIR/stdout" 2>&1 </dev/null &
		_pid=$!
		# on the list at once: stopped on exit even if it never answers
		HTTPD_PIDS="$HTTPD_PIDS $_pid"
		wait_port "$NGINX_PORT" "$_pid" && return 0
		kill "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
		HTTPD_PIDS=${HTTPD_PIDS% "$_pid"}
		grep -q "in use" "$NGINX_DIR/error.log" "$NGINX_DIR/stdout" 2>/dev/null || break
	done
	diag_file "nginx stdout" "$NGINX_DIR/stdout"
	diag_file "nginx error.log" "$NGINX_DIR/error.log"
	bail_out "nginx did not start"
}

testhttpd_start() {
	_name=$1
	shift
	TESTHTTPD_LOG=$T/$_name.log
	: >"$TESTHTTPD_LOG"
	rm -f "$T/$_name.port"
	"$PYTHON3" "$top_srcdir/tests/cli/httpd-test.py" --port-file="$T/$_name.port" \
		--log="$TESTHTTPD_LOG" "$@" >"$T/$_name.stderr" 2>&1 </dev/null &
	_pid=$!
	HTTPD_PIDS="$HTTPD_PIDS $_pid"
	poll_until "$_pid" 100 test -s "$T/$_name.port"
	TESTHTTPD_PORT=$(cat "$T/$_name.port" 2>/dev/null)
	if [ -z "$TESTHTTPD_PORT" ]; then
		diag_file "httpd-test.py stderr" "$T/$_name.stderr"
		bail_out "httpd-test.py did not start"
	fi
}
