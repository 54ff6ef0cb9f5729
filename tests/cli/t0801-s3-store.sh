#!/bin/sh
# S3 stores (s3+http://ENDPOINT/BUCKET/PREFIX, and s3://BUCKET/PREFIX with the
# endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile) against
# a real S3 server, Ceph's RADOS Gateway on 127.0.0.1 (tests/cli/s3d.sh),
# path-style and virtual-hosted (BUCKET.localhost): make uploads chunk objects
# byte-identical to the chunk files Debian's casync writes (xz, for a blob
# and a tree), under PREFIX/<4 hex>/<64 hex>.cacnk; extract reads them back,
# signed or, from a public bucket, anonymously; Debian's casync extracts the
# same objects over plain HTTP; a casync store copied into a bucket extracts
# with stasync; a wrong secret is one line naming the chunk and the 403,
# without the secret.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=s3d.sh
. "$top_srcdir/tests/cli/s3d.sh"
# shellcheck source=mktree.sh
. "$top_srcdir/tests/cli/mktree.sh"

require_casync
require_stasync
have_s3d || skip_all "no S3 server to test with (apt-get install radosgw ceph-mon ceph-osd curl)"
run "$STASYNC" extract --store=s3+http://127.0.0.1:1/b x.caibx "$T/none"
grep -q "without libcurl" "$T/err" && skip_all "built without libcurl"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION
unset AWS_IGNORE_CONFIGURED_ENDPOINT_URLS AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
HOME=$T/home
export HOME
mkdir -p "$HOME"

s3d_start
s3_mb stasync
S3=s3+$S3D_ENDPOINT/stasync
AWS_ACCESS_KEY_ID=$S3D_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3D_SECRET_KEY
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# same_objects STORE PREFIX DESC: every chunk file of the local STORE is an
# object PREFIX/<4 hex>/<64 hex>.cacnk with the same bytes.
same_objects() {
	_n=0 _bad=
	for _f in $(cd "$1" && find . -name '*.cacnk' | sed 's|^\./||' | sort); do
		_n=$((_n + 1))
		s3_curl GET "/stasync/$2/$_f" -o "$T/object" &&
			cmp -s "$T/object" "$1/$_f" || _bad="$_bad $_f"
	done
	check "[ $_n -gt 0 ] && [ -z '$_bad' ]" "$3 ($_n chunk files)" ||
		diag "differ or missing:$_bad"
}

# ---- a blob ------------------------------------------------------------------------------
mkdata mixed 1 3000000 blob.bin
"$CASYNC" make --compression=xz --store=casync.castr casync.caibx blob.bin >/dev/null 2>&1 ||
	bail_out "casync make failed"
run "$STASYNC" make --compression=xz --store="$S3/blobs" ours.caibx blob.bin
check "[ $rc -eq 0 ]" "make --store=s3+http://…/stasync/blobs" || show_run
check "cmp -s ours.caibx casync.caibx" "... the index is casync's"
same_objects casync.castr blobs "... the objects are casync's chunk files, under PREFIX/<4 hex>/"
run "$STASYNC" extract --store="$S3/blobs" ours.caibx out.bin
check "[ $rc -eq 0 ] && cmp -s out.bin blob.bin" "extract from the bucket" || show_run
run "$STASYNC" make --compression=xz --store="$S3/blobs" again.caibx blob.bin
check "[ $rc -eq 0 ] && cmp -s again.caibx ours.caibx" "make again: the chunks are there already" ||
	show_run

# ---- a tree -------------------------------------------------------------------------------
MKTREE_NO_LONG_NAME=1 mktree tree || bail_out "mktree failed"
"$CASYNC" make --compression=xz --store=tree-casync.castr tree-casync.caidx tree >/dev/null 2>&1 ||
	bail_out "casync make of the tree failed"
run "$STASYNC" make --compression=xz --store="$S3/trees" tree.caidx tree
check "[ $rc -eq 0 ] && cmp -s tree.caidx tree-casync.caidx" "a tree: the index is casync's" ||
	show_run
same_objects tree-casync.castr trees "... the objects are casync's chunk files"
run "$STASYNC" extract --store="$S3/trees" tree.caidx tree-out
check "[ $rc -eq 0 ]" "... extract from the bucket" || show_run
"$CASYNC" mtree tree >tree.mtree 2>&1
"$CASYNC" mtree tree-out >tree-out.mtree 2>&1
same_file tree-out.mtree tree.mtree "... casync's mtree of the extracted tree"

# ---- indexes in the bucket ------------------------------------------------------------------
run "$STASYNC" make --compression=xz --store="$S3/blobs" "$S3/indexes/blob.caibx" blob.bin
check "[ $rc -eq 0 ]" "make s3+http://…/stasync/indexes/blob.caibx" || show_run
s3_curl GET /stasync/indexes/blob.caibx -o index.got
check "cmp -s index.got casync.caibx" "... the object is casync's index"
run "$STASYNC" extract --store="$S3/blobs" "$S3/indexes/blob.caibx" from-s3-index.bin
check "[ $rc -eq 0 ] && cmp -s from-s3-index.bin blob.bin" "extract s3+http://…/blob.caibx" || show_run
run "$STASYNC" make --compression=xz --store="$S3/trees" "$S3/indexes/tree.caidx" tree
check "[ $rc -eq 0 ]" "make s3+http://…/tree.caidx" || show_run
run "$STASYNC" mtree --store="$S3/trees" "$S3/indexes/tree.caidx"
cp "$T/out" s3-index.mtree
same_file s3-index.mtree tree.mtree "mtree of s3+http://…/tree.caidx"
"$CASYNC" list --store=tree-casync.castr tree-casync.caidx >casync.list 2>&1
run "$STASYNC" list --store="$S3/trees" "$S3/indexes/tree.caidx"
cp "$T/out" s3-index.list
same_file s3-index.list casync.list "list of s3+http://…/tree.caidx"
is "$("$STASYNC" digest --store="$S3/trees" "$S3/indexes/tree.caidx" 2>&1)" \
	"$("$CASYNC" digest --store=tree-casync.castr tree-casync.caidx 2>&1)" "digest of s3+http://…/tree.caidx"
is "$("$STASYNC" digest --store="$S3/blobs" "$S3/indexes/blob.caibx" 2>&1)" \
	"$("$CASYNC" digest blob.bin 2>&1)" "digest of s3+http://…/blob.caibx"
# without --store: default.castr beside the index, as casync does
run "$STASYNC" make "$S3/beside/blob.caibx" blob.bin
check "[ $rc -eq 0 ] && [ \"\$(s3_curl GET '/stasync?list-type=2&max-keys=1&prefix=beside%2Fdefault.castr%2F' |
	grep -c '<Key>beside/default.castr/')\" -eq 1 ]" \
	"make s3+http://…/blob.caibx: the chunks go to default.castr beside it" || show_run
run "$STASYNC" extract "$S3/beside/blob.caibx" beside.bin
check "[ $rc -eq 0 ] && cmp -s beside.bin blob.bin" "... and extract finds them there" || show_run
run "$STASYNC" extract --store="$S3/blobs" "$S3/indexes/missing.caibx" missing.bin
check "[ $rc -eq 1 ] && grep -q 'indexes/missing.caibx' '$T/err' && [ ! -e missing.bin ]" \
	"an index not in the bucket: exit status 1, naming it" || show_run

# keys_under PREFIX: the keys of the bucket under PREFIX/, without it, sorted
# (a listing of at most 1000)
keys_under() {
	s3_curl GET "/stasync?list-type=2&prefix=$1%2F" | grep -o '<Key>[^<]*</Key>' |
		sed -e 's/<[^>]*>//g' -e "s|^$1/||" | sort
}
# rgw_requests METHOD PATH: how many requests radosgw logged for paths
# starting with PATH (its log shows each request line as sent: "/KEY" when
# virtual-hosted, "/BUCKET/KEY" path-style)
RGW_LOG=$S3D_DIR/log/client.rgw.a.log
rgw_requests() {
	# Ceph writes its log from a thread of its own: wait until it stops
	# growing (0.1 s without change, at most 3 s)
	_n=0 _size=-1
	while [ "$_n" -lt 30 ] && [ "$_size" != "$(wc -c <"$RGW_LOG")" ]; do
		_size=$(wc -c <"$RGW_LOG")
		sleep 0.1
		_n=$((_n + 1))
	done
	grep -c "\"$1 $2" "$RGW_LOG"
}
keys_under blobs >blobs.keys

# ---- virtual-hosted addressing ----------------------------------------------------------------
# radosgw takes Host: BUCKET.localhost (rgw dns name = localhost), and
# libcurl resolves *.localhost to 127.0.0.1 by itself.
V=s3+http://localhost:$S3D_PORT/stasync
run "$STASYNC" make --s3-addressing=virtual --compression=xz --store="$V/virtual" \
	"$V/indexes/virtual.caibx" blob.bin
check "[ $rc -eq 0 ]" "make --s3-addressing=virtual" || show_run
keys_under virtual >virtual.keys
same_file virtual.keys blobs.keys "... the same keys as path-style put under blobs/"
same_objects casync.castr virtual "... with casync's chunk files' bytes"
s3_curl GET /stasync/indexes/virtual.caibx -o index.got
check "cmp -s index.got casync.caibx" "... and the index object is casync's"
check "[ $(rgw_requests PUT /virtual/) -gt 0 ] && [ $(rgw_requests PUT /stasync/virtual/) -eq 0 ] &&
	[ $(rgw_requests PUT /indexes/virtual.caibx) -eq 1 ]" \
	"... sent as PUT /KEY to BUCKET.localhost, not PUT /BUCKET/KEY"
run "$STASYNC" extract --s3-addressing=virtual --store="$V/virtual" "$V/indexes/virtual.caibx" virtual.bin
check "[ $rc -eq 0 ] && cmp -s virtual.bin blob.bin && [ $(rgw_requests GET /virtual/) -gt 0 ]" \
	"extract --s3-addressing=virtual: GET /KEY" || show_run
run "$STASYNC" extract --s3-addressing=path --store="$V/virtual" "$V/indexes/virtual.caibx" path.bin
check "[ $rc -eq 0 ] && cmp -s path.bin blob.bin && [ $(rgw_requests GET /stasync/virtual/) -gt 0 ]" \
	"... and path-style reads the same objects" || show_run
n_before=$(rgw_requests GET /stasync/indexes/virtual.caibx)
run "$STASYNC" extract --store="$V/virtual" "$V/indexes/virtual.caibx" auto.bin
check "[ $rc -eq 0 ] && cmp -s auto.bin blob.bin &&
	[ \$(rgw_requests GET /stasync/indexes/virtual.caibx) -eq $((n_before + 1)) ]" \
	"auto: path-style for an endpoint outside amazonaws.com" || show_run
run "$STASYNC" extract --s3-addressing=virtual --store="$S3/blobs" ours.caibx ip.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -q 'not an IP address' '$T/err'" \
	"--s3-addressing=virtual with an endpoint 127.0.0.1: refused, one line" || show_run
fails_with "--s3-addressing=sideways is refused" "--s3-addressing=sideways: expected auto, path or virtual" \
	"$STASYNC" extract --s3-addressing=sideways --store="$S3/blobs" ours.caibx sideways.bin

# ---- s3://BUCKET/PREFIX: the endpoint from the environment or the profile ---------------------
run env AWS_ENDPOINT_URL="$S3D_ENDPOINT" "$STASYNC" make --compression=xz --store=s3://stasync/short \
	s3://stasync/indexes/short.caibx blob.bin
check "[ $rc -eq 0 ] && [ $(rgw_requests PUT /stasync/short/) -gt 0 ]" \
	"AWS_ENDPOINT_URL, make --store=s3://stasync/short s3://stasync/indexes/short.caibx: path-style for 127.0.0.1" ||
	show_run
keys_under short >short.keys
same_file short.keys blobs.keys "... the same keys as under blobs/"
s3_curl GET /stasync/indexes/short.caibx -o index.got
check "cmp -s index.got casync.caibx" "... and the index object is casync's"
run env AWS_ENDPOINT_URL="$S3D_ENDPOINT" "$STASYNC" extract --store=s3://stasync/short \
	s3://stasync/indexes/short.caibx short.bin
check "[ $rc -eq 0 ] && cmp -s short.bin blob.bin" "... extract s3://… from s3://…" || show_run
run env AWS_ENDPOINT_URL=http://127.0.0.1:1 AWS_ENDPOINT_URL_S3="$S3D_ENDPOINT" \
	"$STASYNC" extract --store=s3://stasync/short ours.caibx short-s3.bin
check "[ $rc -eq 0 ] && cmp -s short-s3.bin blob.bin" "AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL" ||
	show_run
run env AWS_ENDPOINT_URL=http://127.0.0.1:1 "$STASYNC" extract --store="$S3/blobs" ours.caibx own.bin
check "[ $rc -eq 0 ] && cmp -s own.bin blob.bin" "s3+http://ENDPOINT/…: its own endpoint, not AWS_ENDPOINT_URL" ||
	show_run
mkdir -p "$HOME/.aws"
printf '[default]\nendpoint_url = %s\n' "$S3D_ENDPOINT" >"$HOME/.aws/config"
mkdir empty.castr
run "$STASYNC" extract --store=empty.castr --extra-store=s3://stasync/short s3://stasync/indexes/short.caibx \
	extra.bin
check "[ $rc -eq 0 ] && cmp -s extra.bin blob.bin" "the profile's endpoint_url; --extra-store=s3://…" ||
	show_run
printf '[profile ci]\nservices = here\n[services here]\ns3 =\n  endpoint_url = %s\n' \
	"$S3D_ENDPOINT" >"$HOME/.aws/config"
run env AWS_PROFILE=ci "$STASYNC" make --store=s3://stasync/trees s3://stasync/indexes/short-tree.caidx tree
check "[ $rc -eq 0 ]" "the profile's services section: make s3://…/short-tree.caidx" || show_run
printf '[default]\nendpoint_url = %s\ns3 =\n  addressing_style = virtual\n' \
	"http://localhost:$S3D_PORT" >"$HOME/.aws/config"
run "$STASYNC" mtree --store=s3://stasync/trees s3://stasync/indexes/short-tree.caidx
cp "$T/out" short-tree.mtree
same_file short-tree.mtree tree.mtree "the profile's addressing_style = virtual: mtree of s3://…/short-tree.caidx"
check "[ $(rgw_requests GET /indexes/short-tree.caidx) -eq 1 ]" "... asked virtual-hosted"
run "$STASYNC" list --store=s3://stasync/trees s3://stasync/indexes/short-tree.caidx
cp "$T/out" short-tree.list
same_file short-tree.list casync.list "list of s3://…/short-tree.caidx"
is "$("$STASYNC" digest --store=s3://stasync/trees s3://stasync/indexes/short-tree.caidx 2>&1)" \
	"$("$CASYNC" digest --store=tree-casync.castr tree-casync.caidx 2>&1)" "digest of s3://…/short-tree.caidx"
is "$("$STASYNC" stat --store=s3://stasync/trees s3://stasync/indexes/short-tree.caidx sub 2>&1)" \
	"$("$CASYNC" stat --store=tree-casync.castr tree-casync.caidx sub 2>&1)" "stat of s3://…/short-tree.caidx sub"
run "$STASYNC" extract s3://stasync/beside/blob.caibx short-beside.bin
check "[ $rc -eq 0 ] && cmp -s short-beside.bin blob.bin" "s3://…/blob.caibx: default.castr beside it" ||
	show_run
rm -f "$HOME/.aws/config"
run env AWS_ENDPOINT_URL=localhost:1 "$STASYNC" extract --store=s3://stasync/short ours.caibx bad-endpoint.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -q 'AWS_ENDPOINT_URL: localhost:1: expected http(s)://' '$T/err'" \
	"AWS_ENDPOINT_URL without a scheme: one line saying so" || show_run

# ---- a public bucket: anonymous reads, casync over plain HTTP ---------------------------
cat >policy.json <<EOF
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
 "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::stasync/*"]}]}
EOF
code=$(s3_curl PUT "/stasync?policy=" -T policy.json -o policy.out -w '%{http_code}')
if [ "$code" = 200 ] || [ "$code" = 204 ]; then
	run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
		"$STASYNC" extract --store="$S3/blobs" ours.caibx anon.bin
	check "[ $rc -eq 0 ] && cmp -s anon.bin blob.bin" "a public bucket: extract without a key" ||
		show_run
	"$CASYNC" extract --store="$S3D_ENDPOINT/stasync/blobs" ours.caibx casync-out.bin >casync.err 2>&1
	check "cmp -s casync-out.bin blob.bin" "... casync extracts our objects over plain HTTP" ||
		diag_file "casync extract" casync.err
	"$CASYNC" extract --store="$S3D_ENDPOINT/stasync/trees" tree.caidx casync-tree >casync.err 2>&1
	"$CASYNC" mtree casync-tree >casync-tree.mtree 2>&1
	same_file casync-tree.mtree tree.mtree "... and the tree"
else
	diag_file "PUT ?policy ($code)" policy.out
	not_ok "a bucket policy for anonymous reads"
fi

# ---- a casync store copied into the bucket ---------------------------------------------------
"$CASYNC" make --store=copy.castr copy.caibx blob.bin >/dev/null 2>&1 || bail_out "casync make failed"
bad=
for f in $(cd copy.castr && find . -name '*.cacnk' | sed 's|^\./||'); do
	[ "$(s3_curl PUT "/stasync/copied/$f" -T "copy.castr/$f" -o /dev/null -w '%{http_code}')" = 200 ] ||
		bad="$bad $f"
done
check "[ -z '$bad' ]" "casync's store (zstd) copied into the bucket" || diag "not put:$bad"
run "$STASYNC" extract --store="$S3/copied" copy.caibx copied.bin
check "[ $rc -eq 0 ] && cmp -s copied.bin blob.bin" "... extracts with stasync" || show_run

# ---- mount reads from a bucket ----------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	mkdir -p "$T/mnt"
	AWS_ENDPOINT_URL=$S3D_ENDPOINT "$STASYNC" mount --store="$S3/trees" s3://stasync/indexes/tree.caidx \
		"$T/mnt" 2>mount.err </dev/null &
	mount_pid=$!
	at_exit "fusermount3 -u '$T/mnt' 2>/dev/null; kill $mount_pid 2>/dev/null"
	poll_until $mount_pid 100 mountpoint -q "$T/mnt"
	check "cmp -s '$T/mnt/sub/random.bin' tree/sub/random.bin" \
		"mount --store=s3+http://… s3://…/tree.caidx: a file reads" ||
		diag_file "mount stderr" mount.err
	fusermount3 -u "$T/mnt"
	wait $mount_pid
	is "$?" 0 "... and the mount ends with exit status 0"
else
	skip "mount from a bucket" "needs root, /dev/fuse and fusermount3"
fi

# ---- a server that goes away in the middle of a make ---------------------------------------------
mkdata random 5 40000000 big.bin
"$STASYNC" make --store=local.castr big-local.caibx big.bin >/dev/null 2>&1 || bail_out "make big-local failed"
"$STASYNC" make --store="$S3/dying" big.caibx big.bin >/dev/null 2>dying.err &
make_pid=$!
sleep 0.3
s3d_rgw_stop
wait $make_pid
make_rc=$?
check "[ $make_rc -eq 1 ] && [ ! -e big.caibx ]" \
	"radosgw stopped during make: exit status 1, no index" ||
	{ diag "exit status $make_rc"; diag_file "make stderr" dying.err; }
s3d_rgw_start
run "$STASYNC" make --store="$S3/dying" big.caibx big.bin
check "[ $rc -eq 0 ] && cmp -s big.caibx big-local.caibx" "... started again, make again completes" || show_run
# every object of the prefix (a listing of at most 1000), fetched in one go
s3_curl GET "/stasync?list-type=2&prefix=dying%2F" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' >keys
mkdir objects
awk -v u="$S3D_ENDPOINT/stasync/" '{ f = $0; gsub("/", "_", f)
	print "url = \"" u $0 "\"\noutput = \"objects/" f "\"" }' keys >keys.curl
s3_curl GET "" --parallel -K keys.curl -o /dev/null
n=0 bad=
while read -r k; do
	n=$((n + 1))
	f=$(printf '%s' "$k" | tr / _)
	cmp -s "objects/$f" "local.castr/${k#dying/}" || bad="$bad $k"
done <keys
check "[ $n -eq $(find local.castr -name '*.cacnk' | wc -l) ] && [ -z '$bad' ]" \
	"... every object in the bucket is whole and right ($n)" || diag "wrong:$bad"

# ---- 503 SlowDown for the first tries --------------------------------------------------------
# (tests/cli/httpd-test.py checks no signature: this is about the retries)
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"
if have_python3; then
	mkdir -p www/bucket
	cp -R casync.castr www/bucket/store
	testhttpd_start slowdown --root="$T/www" --fail=2 --fail-status=503
	run "$STASYNC" extract --store="s3+http://127.0.0.1:$TESTHTTPD_PORT/bucket/store" \
		casync.caibx slow.bin
	check "[ $rc -eq 0 ] && cmp -s slow.bin blob.bin && grep -q ' 503' '$TESTHTTPD_LOG'" \
		"503 for the first two tries of each chunk: retried, extracted" || show_run
	httpd_stop_all
fi

# ---- failures ------------------------------------------------------------------------------
run env AWS_SECRET_ACCESS_KEY=not-the-secret-at-all \
	"$STASYNC" extract --store="$S3/blobs" ours.caibx wrong.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -q 'stasync/blobs/.*\\.cacnk' '$T/err' &&
	grep -q 403 '$T/err' && grep -q 'S3 key and secret' '$T/err'" \
	"a wrong secret: exit status 1, one line naming the chunk, the 403 and what to check" ||
	show_run
check "! grep -q 'not-the-secret-at-all' '$T/err' && ! grep -q '$S3D_SECRET_KEY' '$T/err'" \
	"... and no secret in it"
run env -u AWS_SECRET_ACCESS_KEY "$STASYNC" extract --store="$S3/blobs" ours.caibx half.bin
check "[ $rc -eq 1 ] && grep -q AWS_SECRET_ACCESS_KEY '$T/err'" \
	"a key without its secret: refused, naming the variable" || show_run
# ---- credentials from the AWS tools' files ------------------------------------------------------
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[ci]\n# the test user\naws_access_key_id = %s\naws_secret_access_key=%s\n' \
	"$S3D_ACCESS_KEY" "$S3D_SECRET_KEY" >"$HOME/.aws/credentials"
printf '[profile ci]\nregion = us-east-1\n' >"$HOME/.aws/config"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=ci \
	"$STASYNC" extract --store="$S3/blobs" ours.caibx profile.bin
check "[ $rc -eq 0 ] && cmp -s profile.bin blob.bin" "AWS_PROFILE=ci: the keys of ~/.aws/credentials" ||
	show_run
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	"$STASYNC" extract --store="$S3/blobs" ours.caibx default.bin
check "[ $rc -eq 1 ] && grep -q 403 '$T/err'" "... the default profile's (wrong) keys when none is named" ||
	show_run
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=nosuch \
	"$STASYNC" extract --store="$S3/blobs" ours.caibx nosuch.bin
check "[ $rc -eq 1 ] && grep -q 'AWS_PROFILE=nosuch: no such profile' '$T/err'" \
	"... AWS_PROFILE naming no profile: one clear line" || show_run
mv "$HOME/.aws/credentials" "$T/shared-credentials"
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=ci \
	AWS_SHARED_CREDENTIALS_FILE="$T/shared-credentials" \
	"$STASYNC" extract --store="$S3/blobs" ours.caibx shared.bin
check "[ $rc -eq 0 ] && cmp -s shared.bin blob.bin" "... AWS_SHARED_CREDENTIALS_FILE names the file" ||
	show_run

run "$STASYNC" extract --store="s3+$S3D_ENDPOINT/nosuch/blobs" ours.caibx nosuch.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -q 'no such bucket' '$T/err'" \
	"extract from a bucket that does not exist: one line saying so" || show_run
run "$STASYNC" make --store="s3+$S3D_ENDPOINT/nosuch/blobs" nosuch.caibx blob.bin
check "[ $rc -eq 1 ] && grep -q 'no such bucket' '$T/err' && [ ! -e nosuch.caibx ]" \
	"make into a bucket that does not exist: saying so, no index" || show_run
run "$STASYNC" extract --store=s3+http://127.0.0.1:1 ours.caibx nobucket.bin
check "[ $rc -eq 1 ] && grep -q 'no bucket' '$T/err'" "a locator without a bucket: refused" ||
	show_run

s3d_stop
done_testing
