#!/bin/sh
# TAP: src/s3.c (through tests/unit/s3_client) against a real Ceph RGW
# (tests/rig/rgw.sh), which checks SigV4 signatures and payload hashes the
# way AWS does: single PUT, a 0-byte PUT, a 3-part multipart upload, keys
# with spaces, '+', '=', '(' and UTF-8, metadata, Content-Type, HEAD,
# ListParts, ListMultipartUploads, Abort and the "upload gone" answer, a
# wrong secret and an unknown key id, a session token, a payload corrupted
# on the way (RGW must refuse it: the hash is checked), virtual-host
# addressing (bucket.localhost), a missing bucket, EntityTooSmall.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
PYTHON3=${PYTHON3:-python3}
RGW="bash $top_srcdir/tests/rig/rgw.sh"
S3U="$PYTHON3 $top_srcdir/tests/rig/s3util.py"
C="$top_builddir/tests/unit/s3_client"

. "$top_srcdir/tests/rig/tap.sh"
tap_need_root
tap_need ceph ceph-mon ceph-osd radosgw radosgw-admin curl cmp md5sum sha256sum "$PYTHON3"
tap_need_built "$C"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/s3_rgw.XXXXXX")
PROXY=
# The cluster shared with the other tests when the runner names one
# (ZOOM2S3_RGW_DIR), else a private one that this test stops.
cleanup() {
	[ -z "$PROXY" ] || kill "$PROXY" 2>/dev/null
	rgw_leave
	rm -rf "$TMP"
}
tap_on_exit cleanup

rgw_join "$TMP/rgw"
rc=$?
D=$RGW_DIR
ok $rc "the RGW rig starts"
if [ $rc -ne 0 ]; then
	diag <"$TMP/rgw.start.out"
	tap_finish
fi
eval "$($RGW env "$D")"
export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY S3_REGION
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true
export NO_PROXY=127.0.0.1,localhost
PORT=${S3_ENDPOINT##*:}
B="s3rgw-$$"
$RGW mkbucket "$D" "$B" >"$TMP/mk.out" 2>&1
ok $? "bucket $B is made"

mkconf() { # file endpoint bucket [extra line]
	printf 'spool_dir = %s\ns3_bucket = %s\ns3_endpoint = %s\n%s\n' "$TMP" "$3" "$2" "${4:-}" >"$1"
}
CONF="$TMP/path.conf"
mkconf "$CONF" "$S3_ENDPOINT" "$B"

# run NAME ARGS...: s3_client with the config, stdout to $TMP/NAME.out,
# stderr to $TMP/NAME.err; sets rc.
run() {
	name=$1
	shift
	"$C" -c "$CONF" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	rc=$?
}

# --- single PUT, HEAD, metadata, Content-Type ---------------------------------
head -c 1000 /dev/urandom >"$TMP/small"
UUID='4444AAAiAAAAAiAiAiiAii/+=='
run put put "dir/small.mp4" "$TMP/small" "$UUID" "file-1"
ok $rc "single PUT succeeds"
[ "$(cat "$TMP/put.out")" = "$(md5sum <"$TMP/small" | cut -d' ' -f1)" ]
ok $? "its ETag is the MD5 of the bytes"
$S3U get "$B" "dir/small.mp4" "$TMP/small.back" && cmp -s "$TMP/small" "$TMP/small.back"
ok $? "the object is byte-exact"
run head head "dir/small.mp4"
grep -qx "exists=1 size=1000 etag=$(cat "$TMP/put.out") file_id=file-1 uuid=$UUID" "$TMP/head.out"
ok $? "HEAD: size, ETag, file id and meeting uuid read back"
diag <"$TMP/head.out"
$S3U head "$B" "dir/small.mp4" >"$TMP/head.json"
grep -q '"content-type": "video/mp4"' "$TMP/head.json"
ok $? "Content-Type video/mp4 from the extension"
run head0 head "dir/absent.mp4"
[ $rc -eq 0 ] && grep -qx "exists=0" "$TMP/head0.out"
ok $? "HEAD of an absent key: exists=0, no error"
: >"$TMP/empty"
run put0 put "empty.json" "$TMP/empty"
[ $rc -eq 0 ] && [ "$(cat "$TMP/put0.out")" = d41d8cd98f00b204e9800998ecf8427e ]
ok $? "a 0-byte PUT succeeds"

# --- a key that needs encoding ----------------------------------------------
KEY='rec (1)/a b+c=d ü.m4a'
run putk put "$KEY" "$TMP/small"
ok $rc "PUT of a key with spaces, (, +, = and UTF-8"
cat "$TMP/putk.err" | diag
$S3U ls "$B" "rec (1)/" | cut -f1 >"$TMP/ls.out"
[ "$(cat "$TMP/ls.out")" = "$KEY" ]
ok $? "the listing shows exactly that key (encoded once, not twice)"
$S3U get "$B" "$KEY" "$TMP/k.back" && cmp -s "$TMP/small" "$TMP/k.back"
ok $? "and its bytes"

# --- multipart: 3 parts of the 5 MiB minimum ----------------------------------
head -c $((10 * 1048576 + 4321)) /dev/urandom >"$TMP/big"
run mpu mpu "big/recording.mp4" "$TMP/big" 5242880 "$UUID" "file-2"
ok $rc "multipart upload of 3 parts (create, parts, ListParts check, complete)"
diag <"$TMP/mpu.err"
grep -Eqx '[0-9a-f]{32}-3' "$TMP/mpu.out"
ok $? "its ETag is that of a 3-part object ($(cat "$TMP/mpu.out"))"
[ "$($S3U sha256 "$B" "big/recording.mp4" | cut -f1)" = "$(sha256sum <"$TMP/big" | cut -d' ' -f1)" ]
ok $? "the assembled object is byte-exact"
run headb head "big/recording.mp4"
grep -q "exists=1 size=$((10 * 1048576 + 4321)) etag=$(cat "$TMP/mpu.out") file_id=file-2 " "$TMP/headb.out"
ok $? "HEAD of the multipart object: size, ETag, metadata"
run lu list-uploads "big/recording.mp4"
[ $rc -eq 0 ] && [ ! -s "$TMP/lu.out" ]
ok $? "no multipart upload is left over"

# --- an upload by hand: ListParts, ListMultipartUploads, Abort, gone ---------
run create create "part/by-hand.mp4"
ID=$(cat "$TMP/create.out")
ok $rc "CreateMultipartUpload gives an upload id"
run up1 upload-part "part/by-hand.mp4" "$ID" 1 "$TMP/small"
ok $rc "UploadPart"
run lp list-parts "part/by-hand.mp4" "$ID"
[ "$(cat "$TMP/lp.out")" = "1 1000 $(cat "$TMP/up1.out")" ]
ok $? "ListParts shows the part, its size and ETag"
run lu2 list-uploads "part/by-hand.mp4"
[ "$(cat "$TMP/lu2.out")" = "$ID" ]
ok $? "ListMultipartUploads shows the upload for exactly that key"
run ab abort "part/by-hand.mp4" "$ID"
ok $rc "AbortMultipartUpload"
run lu3 list-uploads "part/by-hand.mp4"
[ $rc -eq 0 ] && [ ! -s "$TMP/lu3.out" ]
ok $? "the upload is gone from the listing"
run up2 upload-part "part/by-hand.mp4" "$ID" 2 "$TMP/small"
[ $rc -eq 12 ]
ok $? "UploadPart to the aborted upload: retry with the upload gone (exit 12, got $rc)"
diag <"$TMP/up2.err"
run ab2 abort "part/by-hand.mp4" "$ID"
ok $rc "aborting it again counts as done"

# --- credentials --------------------------------------------------------------
WRONG=wrongsecret0000000000000000000000000000000
AWS_SECRET_ACCESS_KEY=$WRONG run bad put "x.mp4" "$TMP/small"
[ $rc -eq 10 ] && grep -q "SignatureDoesNotMatch" "$TMP/bad.err" &&
	grep -q "secret access key does not belong" "$TMP/bad.err"
ok $? "a wrong secret: retry, SignatureDoesNotMatch, and the message says what to fix"
diag <"$TMP/bad.err"
! grep -q "$WRONG" "$TMP/bad.err"
ok $? "the message does not show the secret"
AWS_ACCESS_KEY_ID=NOSUCHKEY00000000000 run badk put "x.mp4" "$TMP/small"
[ $rc -eq 10 ] && grep -q "InvalidAccessKeyId" "$TMP/badk.err"
ok $? "an unknown key id: retry, InvalidAccessKeyId"
# RGW without STS does not check the token's value, but it recomputes the
# signature over every signed header, x-amz-security-token included: this
# proves the token is sent and signed as sent. (A real STS token needs RGW's
# STS, which the rig does not configure.)
AWS_SESSION_TOKEN=FwoGZXIvYXdzEXAMPLE/token+with=chars run tok put "tok.mp4" "$TMP/small"
ok $rc "a session token is sent and signed (RGW checks the signature over it)"
diag <"$TMP/tok.err"

# --- the payload hash is checked: corrupt one byte on the way -----------------
cat >"$TMP/proxy.py" <<'EOF'
import socket, sys, threading
up, corrupt = int(sys.argv[1]), sys.argv[2] == "1"
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(16)
print(ls.getsockname()[1], flush=True)

def pump(src, dst, flip):
    # flip: change the first body byte of the first request
    seen, pending = b"", flip
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if pending and seen is None:
                b = bytes([b[0] ^ 1]) + b[1:]
                pending = False
            elif pending:
                start = len(seen)
                seen += b
                i = seen.find(b"\r\n\r\n")
                if i >= 0:
                    at, seen = i + 4 - start, None
                    if at < len(b):
                        b = b[:at] + bytes([b[at] ^ 1]) + b[at + 1:]
                        pending = False
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", up))
    threading.Thread(target=pump, args=(c, u, corrupt), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
EOF
start_proxy() { # corrupt(0|1): sets PROXY and PPORT
	rm -f "$TMP/proxy$1.port"
	$PYTHON3 "$TMP/proxy.py" "$PORT" "$1" >"$TMP/proxy$1.port" 2>"$TMP/proxy$1.err" &
	PROXY=$!
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		[ -s "$TMP/proxy$1.port" ] && break
		sleep 0.2
	done
	PPORT=$(cat "$TMP/proxy$1.port")
}
stop_proxy() {
	kill "$PROXY" 2>/dev/null
	wait "$PROXY" 2>/dev/null
	PROXY=
}
# The proxy forwards Host unchanged, so RGW sees the request as signed.
start_proxy 0
mkconf "$TMP/proxy.conf" "http://127.0.0.1:$PPORT" "$B"
"$C" -c "$TMP/proxy.conf" put "proxied.mp4" "$TMP/small" >"$TMP/px.out" 2>"$TMP/px.err"
ok $? "through the proxy, untouched: PUT succeeds (control)"
stop_proxy
start_proxy 1
mkconf "$TMP/proxy.conf" "http://127.0.0.1:$PPORT" "$B"
"$C" -c "$TMP/proxy.conf" put "corrupted.mp4" "$TMP/small" >"$TMP/cx.out" 2>"$TMP/cx.err"
rc=$?
[ $rc -eq 10 ] && grep -q "XAmzContentSHA256Mismatch" "$TMP/cx.err"
ok $? "one byte changed on the way: RGW refuses it (XAmzContentSHA256Mismatch), retry"
diag <"$TMP/cx.err"
run cp create "corrupted-part.mp4"
CID=$(cat "$TMP/cp.out")
head -c 5242880 "$TMP/big" >"$TMP/part5m"
"$C" -c "$TMP/proxy.conf" upload-part "corrupted-part.mp4" "$CID" 1 "$TMP/part5m" \
	>"$TMP/cpx.out" 2>"$TMP/cpx.err"
rc=$?
[ $rc -eq 10 ] && grep -q "XAmzContentSHA256Mismatch" "$TMP/cpx.err"
ok $? "a 5 MiB part changed on the way (after 100-continue): refused, retry"
run cpl list-parts "corrupted-part.mp4" "$CID"
[ $rc -eq 0 ] && [ ! -s "$TMP/cpl.out" ]
ok $? "and the upload holds no part"
run cpa abort "corrupted-part.mp4" "$CID"
stop_proxy
run headc head "corrupted.mp4"
grep -qx "exists=0" "$TMP/headc.out"
ok $? "and no object was stored"

# --- virtual-host addressing ----------------------------------------------------
mkconf "$TMP/vhost.conf" "http://localhost:$PORT" "$B" "s3_path_style = false"
"$C" -v -c "$TMP/vhost.conf" put "vhost/k ü.txt" "$TMP/small" >"$TMP/vh.out" 2>"$TMP/vh.err"
ok $? "virtual-host PUT (Host: $B.localhost:$PORT)"
diag <"$TMP/vh.err"
$S3U get "$B" "vhost/k ü.txt" "$TMP/vh.back" && cmp -s "$TMP/small" "$TMP/vh.back"
ok $? "the object landed in the bucket under its key"
"$C" -c "$TMP/vhost.conf" head "vhost/k ü.txt" >"$TMP/vhh.out" 2>&1
grep -q "exists=1 size=1000 " "$TMP/vhh.out"
ok $? "virtual-host HEAD"

# --- errors a person must act on, and one that cannot be retried ---------------
mkconf "$TMP/nob.conf" "$S3_ENDPOINT" "nosuch-$$"
"$C" -c "$TMP/nob.conf" put "x.mp4" "$TMP/small" >"$TMP/nob.out" 2>"$TMP/nob.err"
rc=$?
[ $rc -eq 10 ] && grep -q "NoSuchBucket" "$TMP/nob.err" && grep -q "create bucket nosuch-$$" "$TMP/nob.err"
ok $? "a missing bucket: retry, and the message asks for it"
diag <"$TMP/nob.err"
head -c $((2 * 1048576)) /dev/urandom >"$TMP/two"
run small_parts mpu "toosmall.mp4" "$TMP/two" 1048576
[ $rc -eq 11 ] && grep -q "EntityTooSmall" "$TMP/small_parts.err"
ok $? "parts under 5 MiB: Complete fails with EntityTooSmall, give up (exit 11, got $rc)"
diag <"$TMP/small_parts.err"
LEFT=$(sed -n 's/^upload id: //p' "$TMP/small_parts.err")
[ -z "$LEFT" ] || run ab3 abort "toosmall.mp4" "$LEFT"
run lu4 list-uploads "toosmall.mp4"
[ $rc -eq 0 ] && [ ! -s "$TMP/lu4.out" ]
ok $? "its upload is aborted: nothing left over"

$S3U empty "$B" >/dev/null 2>&1 && $S3U rb "$B" >/dev/null 2>&1
tap_finish
