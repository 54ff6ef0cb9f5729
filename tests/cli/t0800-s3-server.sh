#!/bin/sh
# The S3 server the S3 store tests run against (tests/cli/s3d.sh: radosgw
# on a one-node Ceph cluster in RAM, on 127.0.0.1): it starts, behaves as
# S3 does where a client can get things wrong (signatures, conditional
# PUT, paginated listings, multi-object delete), and stops leaving nothing
# behind.
# shellcheck disable=SC2016 # check() takes shell code to eval, quoted on purpose
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=s3d.sh
. "$top_srcdir/tests/cli/s3d.sh"

have_s3d || skip_all "radosgw, ceph-mon, ceph-osd or curl not installed"

# code FILE METHOD PATH [CURL ARGS...]: HTTP status of a signed request,
# its body in FILE.
code() {
	_f=$1
	shift
	s3_curl "$@" -o "$T/$_f" -w '%{http_code}'
}

# xml_list FILE: from a ListObjectsV2 answer, "truncated TOKEN" or
# "done", then the keys, one a line.
xml_list() {
	"$PYTHON3" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = root.tag[:root.tag.index('}') + 1] if root.tag.startswith('{') else ''
if root.findtext(ns + 'IsTruncated') == 'true':
    print('truncated', root.findtext(ns + 'NextContinuationToken'))
else:
    print('done')
for c in root.findall(ns + 'Contents'):
    print(c.findtext(ns + 'Key'))
EOF
}

# pct TEXT: TEXT percent-encoded as SigV4's canonical query wants it.
pct() {
	"$PYTHON3" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="-_.~"))' "$1"
}

t0=$(now_ms)
s3d_start
t1=$(now_ms)
diag "S3 server up in $((t1 - t0)) ms on $S3D_ENDPOINT"
ok "the S3 server starts"
pids=$S3D_PIDS
dir=$S3D_DIR
port=$S3D_PORT

is "$(code out PUT /bucket-one)" 200 "a bucket is created" || diag_file body "$T/out"

mkdata random 1 1100000 "$T/obj"
is "$(code out PUT /bucket-one/dir/obj -T "$T/obj")" 200 "an object is put" ||
	diag_file body "$T/out"
is "$(code got GET /bucket-one/dir/obj)" 200 "and got back" || diag_file body "$T/got"
same_file "$T/obj" "$T/got" "byte for byte"

r=$(S3_SECRET_KEY=wrong-secret code out GET /bucket-one/dir/obj)
check '[ "$r" = 403 ] && grep -q SignatureDoesNotMatch "$T/out"' \
	"a request signed with a wrong secret is refused (403 SignatureDoesNotMatch)" ||
	{ diag "status $r"; diag_file body "$T/out"; }

printf 'other\n' >"$T/other"
r=$(code out PUT /bucket-one/dir/obj -T "$T/other" -H "If-None-Match: *")
check '[ "$r" = 412 ] && grep -q PreconditionFailed "$T/out"' \
	"If-None-Match: * on an existing key: 412 PreconditionFailed" ||
	{ diag "status $r"; diag_file body "$T/out"; }
code got GET /bucket-one/dir/obj >/dev/null
same_file "$T/obj" "$T/got" "and the object is unchanged"
is "$(code out PUT /bucket-one/dir/new -T "$T/other" -H "If-None-Match: *")" 200 \
	"If-None-Match: * on a new key: stored"

for k in k1 k2 k3 k4 k5; do
	printf '%s\n' "$k" >"$T/$k"
	code out PUT "/bucket-one/list/$k" -T "$T/$k" >/dev/null
done
# the query in canonical form: parameters sorted, values percent-encoded
q="list-type=2&max-keys=2&prefix=list%2F"
r=$(code list1 GET "/bucket-one?$q")
xml_list "$T/list1" >"$T/page1"
tok=$(sed -n '1s/^truncated //p' "$T/page1")
check '[ "$r" = 200 ] && [ -n "$tok" ] && [ "$(sed 1d "$T/page1" | tr "\n" " ")" = "list/k1 list/k2 " ]' \
	"ListObjectsV2 with max-keys=2: two keys and a continuation token" ||
	{ diag "status $r"; diag_file page "$T/page1"; }
all=$(sed 1d "$T/page1")
pages=1
while [ -n "$tok" ] && [ "$pages" -lt 10 ]; do
	r=$(code listn GET "/bucket-one?continuation-token=$(pct "$tok")&$q")
	[ "$r" = 200 ] || { diag "status $r"; diag_file body "$T/listn"; break; }
	xml_list "$T/listn" >"$T/pagen"
	tok=$(sed -n '1s/^truncated //p' "$T/pagen")
	all="$all
$(sed 1d "$T/pagen")"
	pages=$((pages + 1))
done
is "$pages $(echo "$all" | tr '\n' ' ')" "3 list/k1 list/k2 list/k3 list/k4 list/k5 " \
	"the continuation token leads to the rest: 5 keys in 3 pages"

cat >"$T/delete.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>false</Quiet><Object><Key>list/k2</Key></Object><Object><Key>list/k4</Key></Object><Object><Key>dir/new</Key></Object></Delete>
EOF
md5=$(openssl dgst -md5 -binary "$T/delete.xml" | openssl base64)
r=$(code out POST "/bucket-one?delete=" --data-binary "@$T/delete.xml" \
	-H "Content-MD5: $md5" -H "Content-Type: application/xml")
check '[ "$r" = 200 ] && [ "$(grep -o "<Deleted>" "$T/out" | wc -l)" -eq 3 ]' \
	"DeleteObjects (POST ?delete= with Content-MD5) deletes three keys" ||
	{ diag "status $r"; diag_file body "$T/out"; }
code out GET "/bucket-one?list-type=2&prefix=list%2F" >/dev/null
is "$(xml_list "$T/out" | tr '\n' ' ')" "done list/k1 list/k3 list/k5 " "and they are gone from the listing"
is "$(code out GET /bucket-one/dir/new)" 404 "and from GET"

t0=$(now_ms)
s3d_stop
t1=$(now_ms)
diag "S3 server stopped in $((t1 - t0)) ms"
left=
for p in $pids; do
	kill -0 "$p" 2>/dev/null && left="$left $p"
done
for c in /proc/[0-9]*/cmdline; do
	grep -qF "$dir/" "$c" 2>/dev/null && left="$left ${c#/proc/}"
done
is "$left" "" "s3d_stop leaves no ceph-mon, ceph-osd or radosgw running"
listening=$("$PYTHON3" -c '
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("yes")
except OSError:
    print("no")' "$port")
is "$listening" no "and nothing listens on its port any more"

done_testing
