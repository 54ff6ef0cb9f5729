#!/bin/sh
# HTTPS through the static libcurl + mbedTLS of scripts/build-static.sh,
# until stasync's HTTP store uses them: tests/static/tls-probe.c, linked
# statically against the cached prefix, fetches a page from a local
# `openssl s_server` whose certificate a throw-away CA signed. The peer is
# verified against that CA only (nothing is compiled in), a wrong CA or host
# name is refused, and it works on an "old kernel" too (mbedTLS's entropy).
# For ARM (STATIC_ARCH), the probe is built for it and runs under qemu-user.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/static/lib.sh"

command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"
find_prefix
pc() { PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH='' pkg-config --static "$@" libcurl; }

# shellcheck disable=SC2046
run_ok "tls-probe links statically against the prefix" \
	"$STATIC_CC" -O2 -static $(pc --cflags) -o probe "$top_srcdir/tests/static/tls-probe.c" $(pc --libs)
[ -x probe ] || bail_out "no probe"
if command -v readelf >/dev/null 2>&1; then
	check '! readelf -d probe 2>/dev/null | grep -q NEEDED' "tls-probe has no dynamic section"
fi

# a CA, a certificate for localhost signed by it, and an unrelated CA
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || { diag_file openssl "$T/openssl.log"; bail_out "openssl $1 failed"; }; }
ossl ecparam -name prime256v1 -genkey -noout -out ca.key
ossl req -x509 -new -key ca.key -subj /CN=stasync-test-ca -days 2 -out ca.pem
ossl ecparam -name prime256v1 -genkey -noout -out srv.key
ossl req -new -key srv.key -subj /CN=localhost -out srv.csr
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >srv.ext
ossl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile srv.ext -out srv.pem
ossl ecparam -name prime256v1 -genkey -noout -out other.key
ossl req -x509 -new -key other.key -subj /CN=other-ca -days 2 -out other.pem

# the server, on a free loopback port; stopped by its pid when the test ends
openssl s_server -accept 127.0.0.1:0 -cert srv.pem -key srv.key -www >srv.out 2>&1 </dev/null &
srv_pid=$!
at_exit "kill $srv_pid 2>/dev/null && wait $srv_pid"
port=
i=0
while [ $i -lt 100 ] && [ -z "$port" ]; do
	port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' srv.out)
	[ -n "$port" ] || sleep 0.1
	i=$((i + 1))
done
[ -n "$port" ] || { diag_file "s_server" srv.out; bail_out "openssl s_server did not start"; }
pin=localhost:$port:127.0.0.1

run_ok "HTTPS GET verified against the test CA" target ./probe "https://localhost:$port/" ca.pem "$pin"
check 'grep -q "^ok 200 " "$T/out"' "HTTP 200 with a body" || show_run
run target ./probe "https://localhost:$port/" other.pem "$pin"
check '[ "$rc" -eq 1 ] && grep -q "^error 60:" "$T/out"' "a certificate from another CA is refused" || show_run
run target ./probe "https://wrong.test:$port/" ca.pem "wrong.test:$port:127.0.0.1"
check '[ "$rc" -eq 1 ] && grep -q "^error 60:" "$T/out"' "a certificate for another host name is refused" || show_run
run target ./probe "https://localhost:$port/" /nonexistent/ca.pem "$pin"
check '[ "$rc" -eq 1 ]' "a missing CA file is an error, not an unverified connection" || show_run
if find_nosys soft; then
	run_ok "HTTPS GET on an \"old kernel\" (nosys)" "$NOSYS" $STATIC_QEMU ./probe "https://localhost:$port/" ca.pem "$pin"
else
	skip "HTTPS GET on an \"old kernel\" (nosys)" "$NOSYS_WHY"
fi

done_testing
