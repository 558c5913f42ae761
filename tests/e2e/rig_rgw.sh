#!/bin/sh
# TAP: the Ceph RGW rig (tests/rig/rgw.sh) and the S3 test client
# (tests/rig/s3util.py) work: two parallel cold starts make one cluster, a
# third start is a no-op, buckets, byte-exact put/get, multipart, a wrong
# secret is refused, stop; then the watcher stops a cluster whose holder died,
# and one whose directory was removed under it.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
PYTHON3=${PYTHON3:-python3}
RIG="$top_srcdir/tests/rig"
RGW="bash $RIG/rgw.sh"
S3U="$PYTHON3 $RIG/s3util.py"

. "$top_srcdir/tests/rig/tap.sh"
tap_need_root
tap_need ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin curl flock \
	setsid uuidgen timeout bash

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rig_rgw.XXXXXX")
D="$TMP/rgw"
HOLDER=
cleanup() {
	[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null
	$RGW stop "$D" >/dev/null 2>&1
	rm -rf "$TMP" "$D.lock"
}
tap_on_exit cleanup
# A private cluster: a free port of its own, whatever RGW_PORT says.
unset RGW_PORT
export RGW_LINGER=-1

pids() { cat "$D/mon.pid" "$D/osd.pid" "$D/rgw.pid" 2>/dev/null | tr '\n' ' '; }

# --- two cold starts at once ------------------------------------------------
$RGW start "$D" >"$TMP/start1.out" 2>&1 &
s1=$!
$RGW start "$D" >"$TMP/start2.out" 2>&1 &
s2=$!
wait $s1
r1=$?
wait $s2
r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ]
ok $? "two parallel starts both succeed"
if [ $r1 -ne 0 ] || [ $r2 -ne 0 ]; then cat "$TMP"/start*.out | diag; fi
ups=$(cat "$TMP"/start*.out | grep -c "RGW up")
[ "$ups" = 1 ]
ok $? "only one of them started a cluster"
count=0
for p in $(pids); do
	case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
	*"$D/ceph.conf"*) count=$((count + 1)) ;;
	esac
done
[ "$count" = 3 ]
ok $? "mon, osd and rgw run from this directory"

before=$(pids)
$RGW start "$D" >"$TMP/start3.out" 2>&1
ok $? "a third start succeeds"
[ "$before" = "$(pids)" ] && ! grep -q "RGW up" "$TMP/start3.out"
ok $? "and changes nothing (same daemons)"

endpoint=$($RGW status "$D")
ok $? "status: running at $endpoint"

$RGW env "$D" >"$TMP/env"
ok $? "env"
grep -Eqx "S3_ENDPOINT=$endpoint" "$TMP/env" &&
	grep -Eqx 'AWS_ACCESS_KEY_ID=[A-Z0-9]+' "$TMP/env" &&
	grep -Eqx 'AWS_SECRET_ACCESS_KEY=[a-z0-9]+' "$TMP/env" &&
	grep -Eqx 'S3_REGION=us-east-1' "$TMP/env" && [ "$(wc -l <"$TMP/env")" = 4 ]
ok $? "env prints the four lines"
set -a
. "$TMP/env"
set +a

# --- buckets and objects ----------------------------------------------------
$RGW mkbucket "$D" rig-bucket
ok $? "mkbucket"
$RGW mkbucket "$D" rig-bucket
ok $? "mkbucket again: no error"
head -c 3000000 /dev/urandom >"$TMP/obj"
$S3U put rig-bucket "dir/ä b+c=d.mp4" "$TMP/obj" >/dev/null
ok $? "put via s3util (a key with space, +, =, UTF-8)"
$S3U get rig-bucket "dir/ä b+c=d.mp4" "$TMP/back"
cmp -s "$TMP/obj" "$TMP/back"
ok $? "get gives the bytes back exactly"
want=$(sha256sum <"$TMP/obj" | cut -d' ' -f1)
got=$($S3U sha256 rig-bucket "dir/ä b+c=d.mp4")
[ "$got" = "$(printf '%s\t3000000' "$want")" ]
ok $? "sha256 and size of the object"
$S3U ls rig-bucket dir/ | grep -q "^dir/ä b+c=d.mp4	3000000	"
ok $? "ls lists it with its size"

PYTHONDONTWRITEBYTECODE=1 "$PYTHON3" - "$RIG" >"$TMP/mpu.out" 2>&1 <<'EOF'
import hashlib, os, sys
sys.path.insert(0, sys.argv[1])
from s3util import S3, S3Error
s3 = S3.from_env()
a, b = os.urandom(5 * 1024 * 1024), os.urandom(1000)
uid = s3.create_multipart_upload("rig-bucket", "mpu/x.mp4",
                                 {"x-amz-meta-zoom-file-id": "f1"})
assert [u["upload_id"] for u in s3.list_multipart_uploads("rig-bucket")] == [uid]
e1 = s3.upload_part("rig-bucket", "mpu/x.mp4", uid, 1, a)
e2 = s3.upload_part("rig-bucket", "mpu/x.mp4", uid, 2, b)
assert [p["size"] for p in s3.list_parts("rig-bucket", "mpu/x.mp4", uid)] == [len(a), len(b)]
etag = s3.complete_multipart_upload("rig-bucket", "mpu/x.mp4", uid, [(1, e1), (2, e2)])
assert etag.endswith("-2"), etag
assert s3.object_sha256("rig-bucket", "mpu/x.mp4") == (hashlib.sha256(a + b).hexdigest(), len(a) + len(b))
assert s3.head_object("rig-bucket", "mpu/x.mp4")["x-amz-meta-zoom-file-id"] == "f1"
assert s3.list_multipart_uploads("rig-bucket") == []
stale = s3.create_multipart_upload("rig-bucket", "mpu/stale")
s3.abort_multipart_upload("rig-bucket", "mpu/stale", stale)
assert s3.list_multipart_uploads("rig-bucket") == []
try:
    s3.put_object("rig-bucket", "small-part", b"x")
    u = s3.create_multipart_upload("rig-bucket", "tiny")
    p1 = s3.upload_part("rig-bucket", "tiny", u, 1, b"x")
    p2 = s3.upload_part("rig-bucket", "tiny", u, 2, b"y")
    s3.complete_multipart_upload("rig-bucket", "tiny", u, [(1, p1), (2, p2)])
    raise SystemExit("a 1-byte first part was accepted")
except S3Error as e:
    assert e.code == "EntityTooSmall", e
    s3.abort_multipart_upload("rig-bucket", "tiny", u)
r = s3.request("PUT", "rig-bucket", "md5", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, body=b"abc")
assert r.status == 400 and b"BadDigest" in r.body, r.body
print("multipart ok")
EOF
ok $? "multipart, uploads listing, abort, EntityTooSmall, BadDigest"
grep -q "multipart ok" "$TMP/mpu.out" || diag <"$TMP/mpu.out"

! $S3U --secret-key wrongsecret get rig-bucket "dir/ä b+c=d.mp4" "$TMP/x" 2>"$TMP/bad.err" &&
	grep -q "403 SignatureDoesNotMatch" "$TMP/bad.err"
ok $? "a wrong secret: 403 SignatureDoesNotMatch"
code=$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/rig-bucket/dir/x")
[ "$code" = 403 ]
ok $? "no signature at all: 403"

$S3U empty rig-bucket && [ -z "$($S3U ls rig-bucket)" ] && $S3U rb rig-bucket
ok $? "empty and remove the bucket"

# --- stop -----------------------------------------------------------------
running=$(pids)
$RGW stop "$D"
ok $? "stop"
alive=0
for p in $running; do
	kill -0 "$p" 2>/dev/null && alive=1
done
[ $alive = 0 ] && ! $RGW status "$D" >/dev/null 2>&1 &&
	! curl -s -o /dev/null -m 2 "$endpoint/"
ok $? "after stop: no daemon, no answer"
! $RGW env "$D" >/dev/null 2>&1
ok $? "env fails when nothing runs"

# --- the watcher stops a cluster whose holder is gone ------------------------
sleep 600 &
HOLDER=$!
RGW_LINGER=1 RGW_HOLDER_PID=$HOLDER $RGW start "$D" >"$TMP/start4.out" 2>&1
ok $? "start again, held by another process"
[ -f "$D/holders/$HOLDER" ]
ok $? "the holder is recorded"
running=$(pids)
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
HOLDER=
any_alive() {
	for p in $running; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
i=0
while [ $i -lt 120 ] && any_alive; do
	sleep 0.5
	i=$((i + 1))
done
alive=0
any_alive && alive=1
[ $alive = 0 ] && ! $RGW status "$D" >/dev/null 2>&1
ok $? "once the holder is gone the cluster stops by itself"
[ $alive = 0 ] || diag <"$D/log/reaper.out"

# --- the watcher stops a cluster whose directory is removed under it --------
# (a test's scratch directory deleted, a build tree cleaned: no pid file is
# left to find the daemons by, so the watcher kills those it noted)
RGW_LINGER=600 $RGW start "$D" >"$TMP/start5.out" 2>&1
ok $? "start again, with a watcher (RGW_LINGER=600)"
running="$(pids) $(cat "$D/reaper.pid" 2>/dev/null)"
rm -rf "$D" "$D.lock"
i=0
while [ $i -lt 120 ] && any_alive; do
	sleep 0.5
	i=$((i + 1))
done
! any_alive
ok $? "its directory removed, the watcher stops the daemons and itself"
for p in $running; do
	kill -0 "$p" 2>/dev/null && ps -o pid=,args= -p "$p" | diag && kill -9 "$p"
done

tap_finish
