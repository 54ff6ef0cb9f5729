#!/bin/sh
# What a refused S3 request says, against a real S3 server (Ceph's RADOS
# Gateway, tests/cli/s3d.sh): the error Code of the answer's XML body and
# what to do about it, in one line, exit status 1, no secret: a wrong
# secret, an unknown key, a bucket that does not exist, and, with the
# server's STS on (without it radosgw ignores session tokens), a session
# token it cannot read and one that expired (a role's session of 4 s,
# taken with STS AssumeRole); for extract (GET: the answer has a body) and make
# (HEAD first: no body, so asked again with GET). radosgw takes any
# region: a wrong one is tested against tests/cli/httpd-test.py answering
# as AWS does (400 AuthorizationHeaderMalformed, the region in the body or
# in the x-amz-bucket-region header alone); every Code's advice is in
# tests/unit/test-s3-error.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"
# shellcheck source=s3d.sh
. "$top_srcdir/tests/cli/s3d.sh"

require_stasync
s3_test_begin stasync

mkdata mixed 1 300000 blob.bin
run "$STASYNC" make --store="$S3/store" blob.caibx blob.bin
check "[ $rc -eq 0 ]" "make into the bucket" || show_run

WRONG_SECRET=not-the-secret-at-all-0123456789
TOKEN=made-up-session-token-FQoGZXIvYXdzEJr

# refused VERB DESC TEXT ENV...: stasync VERB (extract or make) with the
# environment changed by ENV fails with exit status 1 and one line of
# stderr holding TEXT and no secret.
refused() {
	_verb=$1 _desc=$2 _text=$3
	shift 3
	rm -f out.bin out.caibx
	case $_verb in
	extract) run env "$@" "$STASYNC" extract --store="$S3/store" blob.caibx out.bin ;;
	make) run env "$@" "$STASYNC" make --store="$S3/other" out.caibx blob.bin ;;
	esac
	check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -qF -- '$_text' '$T/err'" \
		"$_verb, $_desc: exit status 1, one line: $_text" || show_run
	check "! grep -qF -e '$WRONG_SECRET' -e '$S3D_SECRET_KEY' -e '$TOKEN' '$T/err'" \
		"... no secret in it"
}

for verb in extract make; do
	refused $verb "a wrong secret" \
		"S3 SignatureDoesNotMatch: the key or secret is wrong (from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" \
		AWS_SECRET_ACCESS_KEY=$WRONG_SECRET
	refused $verb "an unknown key" "S3 InvalidAccessKeyId: the key or secret is wrong" \
		AWS_ACCESS_KEY_ID=STASYNCNOSUCHKEY0000
done
mkdir -p "$HOME/.aws"
printf '[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3D_ACCESS_KEY" "$WRONG_SECRET" \
	>"$HOME/.aws/credentials"
refused extract "a wrong secret in a profile" "the key or secret is wrong (from profile ci)" \
	-u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=ci
rm -f "$HOME/.aws/credentials"

# a bucket that does not exist: said once, from the answer's Code
run "$STASYNC" extract --store="s3+$S3D_ENDPOINT/nosuch/store" blob.caibx out.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] &&
	grep -qF 'store s3+$S3D_ENDPOINT/nosuch/store: no such bucket ($S3D_ENDPOINT/nosuch)' '$T/err'" \
	"extract from a bucket that does not exist: one line, no such bucket" || show_run
run "$STASYNC" make --store="s3+$S3D_ENDPOINT/nosuch/store" out.caibx blob.bin
check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] && grep -qF 'no such bucket' '$T/err' &&
	[ ! -e out.caibx ]" "make into a bucket that does not exist: one line, no index" || show_run

# the error page of a chunk's GET is not taken for the chunk
run env AWS_SECRET_ACCESS_KEY=$WRONG_SECRET "$STASYNC" extract --store="$S3/store" blob.caibx out.bin
check "[ ! -s out.bin ]" "the error body is never written as data"

# A session token that expired: the temporary keys of a role the user
# takes on with STS AssumeRole for 4 seconds (below), used while they are
# valid and again once they are not (radosgw then answers 403
# AccessDenied). The role is made now, while radosgw runs: radosgw-admin
# tells a running radosgw of the change and waits for its answer, and
# from a radosgw that was stopped with its watch still on the OSD it
# waits until the watch times out (30 s).
radosgw_admin() {
	timeout 20 radosgw-admin -c "$S3D_DIR/ceph.conf" -n client.admin "$@" >>"$T/admin.out" 2>&1 ||
		{ _rc=$?; echo "radosgw-admin $1 $2: exit status $_rc (124: timed out)" >>"$T/admin.out"; return "$_rc"; }
}
radosgw_admin role create --role-name=deployer --assume-role-policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/stasync"]},"Action":["sts:AssumeRole"]}]}' &&
	radosgw_admin role-policy put --role-name=deployer --policy-name=s3 --policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}'
check "[ $? -eq 0 ]" "a role to take on with STS" || diag_file radosgw-admin "$T/admin.out"

# Session tokens: with STS on, radosgw reads x-amz-security-token and
# answers 400 InvalidArgument for one it cannot decrypt.
s3d_rgw_stop
# (sessions of a few seconds, for an expired one below; AWS's shortest is 15 min)
printf 'rgw s3 auth use sts = true\nrgw sts key = stasynctestsskey\nrgw sts min session duration = 1\n' \
	>>"$S3D_DIR/ceph.conf"
s3d_rgw_start
for verb in extract make; do
	refused $verb "a session token the server cannot read" \
		"S3 InvalidArgument: check the session token (AWS_SESSION_TOKEN): it may be expired or invalid" \
		AWS_SESSION_TOKEN=$TOKEN
done

# A session token that expired, now with STS on
# xml_value TAG FILE: the text of the one element TAG in FILE
xml_value() {
	tr -d '\n' <"$2" | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p"
}
curl -s --aws-sigv4 "aws:amz:us-east-1:sts" --user "$S3D_ACCESS_KEY:$S3D_SECRET_KEY" \
	-d 'Action=AssumeRole&DurationSeconds=4&RoleArn=arn%3Aaws%3Aiam%3A%3A%3Arole%2Fdeployer&RoleSessionName=ci&Version=2011-06-15' \
	-o assume.xml -w '%{http_code}' "$S3D_ENDPOINT/" >assume.code
check "[ \"\$(cat assume.code)\" = 200 ] && [ -n \"\$(xml_value SessionToken assume.xml)\" ]" \
	"STS AssumeRole for 4 seconds: temporary keys and a session token" || diag_file answer assume.xml
ROLE_KEY=$(xml_value AccessKeyId assume.xml)
ROLE_SECRET=$(xml_value SecretAccessKey assume.xml)
ROLE_TOKEN=$(xml_value SessionToken assume.xml)
run env AWS_ACCESS_KEY_ID="$ROLE_KEY" AWS_SECRET_ACCESS_KEY="$ROLE_SECRET" AWS_SESSION_TOKEN="$ROLE_TOKEN" \
	"$STASYNC" extract --store="$S3/store" blob.caibx out.bin
check "[ $rc -eq 0 ] && cmp -s out.bin blob.bin" "extract with the session's keys while they are valid" || show_run
sleep 5
TOKEN=$ROLE_TOKEN WRONG_SECRET=$ROLE_SECRET
for verb in extract make; do
	refused $verb "a session token that expired" \
		"S3 AccessDenied: check the rights of the key on the bucket, and the session token (AWS_SESSION_TOKEN)" \
		AWS_ACCESS_KEY_ID="$ROLE_KEY" AWS_SECRET_ACCESS_KEY="$ROLE_SECRET" AWS_SESSION_TOKEN="$ROLE_TOKEN"
done

# and with the right keys everything still reads
run "$STASYNC" extract --store="$S3/store" blob.caibx out.bin
check "[ $rc -eq 0 ] && cmp -s out.bin blob.bin" "extract with the right keys" || show_run
s3d_stop

# ---- a bucket in another region (a stand-in: radosgw takes any region) ------------------
# shellcheck source=httpd.sh
. "$top_srcdir/tests/cli/httpd.sh"
if have_python3; then
	for where in body header; do
		testhttpd_start "region-$where" --mode=s3-region --region=eu-central-1 --region-in=$where
		R=s3+http://127.0.0.1:$TESTHTTPD_PORT/stasync
		for verb in extract make; do
			rm -f out.bin out.caibx
			case $verb in
			extract) run "$STASYNC" extract --store="$R/store" blob.caibx out.bin ;;
			make) run "$STASYNC" make --store="$R/store" out.caibx blob.bin ;;
			esac
			check "[ $rc -eq 1 ] && [ \$(line_count '$T/err') -eq 1 ] &&
				grep -qF 'the bucket is in eu-central-1: set AWS_REGION=eu-central-1' '$T/err'" \
				"$verb, a bucket in another region (said in the $where): one line naming it" ||
				show_run
		done
		httpd_stop_all
	done
else
	skip "a bucket in another region" "no python3"
fi

done_testing
