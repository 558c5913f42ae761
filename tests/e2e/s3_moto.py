#!/usr/bin/env python3
"""TAP: the spooler against a second S3 implementation, moto_server
(moto 5.2.1 and later), where the `python3` on PATH can `import moto`;
otherwise SKIP with the reason.

moto runs with its signature checks on (INITIAL_NO_AUTH_ACTION_COUNT: the
three IAM calls that make the test's user and key run unchecked, every
request after them is verified). It implements conditional writes on
CompleteMultipartUpload too (412), where RGW 16 ignores them
(docs/S3.md). The real zoom2s3-spooler must, against it:

- upload a single-PUT file and a multipart one with s3_checksum = sha256
  and s3_acl (moto takes and ignores the checksums);
- find this very file already under its key: done without a download;
- find another file's object under the key: move to key-{file_id};
- a Complete whose key another file's object took while the upload ran
  (the proxy holds the Complete while the test writes it): 412; the upload
  is aborted, the job moves to key-{file_id} and its next try uploads
  there; the other object is untouched and no upload is left;
- a 503 on a part: retried in the transfer, no attempt lost, no second
  download;
- a wrong secret: last_error says so, nothing uploaded."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import faultproxy  # noqa: E402
import s3util  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402
import fakezoom  # noqa: E402


def moto_python():
    """The `python3` on PATH when it has moto, else None."""
    py = shutil.which("python3")
    if not py:
        return None
    r = subprocess.run([py, "-c", "import moto"], capture_output=True)
    return py if r.returncode == 0 else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Moto:
    """moto_server on a free loopback port, stopped by its PID."""

    def __init__(self, py, logdir):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(logdir, "moto.log"), "wb")
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.proc = subprocess.Popen([py, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                      str(self.port)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        spoolrig.webrig._tracked.add(self.proc.pid)
        if not spoolrig.wait_for(self.answers, 60):
            raise RuntimeError("moto_server did not answer on %s" % self.url)

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("moto_server exited with %r" % self.proc.returncode)
        try:
            urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
            return True
        except OSError:
            return False

    def iam(self, **params):
        """An IAM call (one of the three that run before checks start)."""
        body = urllib.parse.urlencode(dict(params, Version="2010-05-08")).encode()
        req = urllib.request.Request(self.url + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/"
                             "us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def make_key(self):
        self.iam(Action="CreateUser", UserName="zoom2s3")
        self.iam(Action="PutUserPolicy", UserName="zoom2s3", PolicyName="all",
                 PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                     {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        out = self.iam(Action="CreateAccessKey", UserName="zoom2s3")
        return (re.search(r"<AccessKeyId>(.*?)</AccessKeyId>", out).group(1),
                re.search(r"<SecretAccessKey>(.*?)</SecretAccessKey>", out).group(1))

    def stop(self):
        spoolrig.childproc.stop(self.proc, 20)
        spoolrig.webrig._tracked.discard(self.proc.pid)
        self.log.close()


def start_proxy(rig, upstream):
    host, port = upstream.split("//", 1)[1].rsplit(":", 1)
    zhost, zport = rig.fz.base_url.split("//", 1)[1].rsplit(":", 1)
    chost, cport = rig.fz.cdn_url.split("//", 1)[1].rsplit(":", 1)
    proc, info = faultproxy.start_subprocess([
        "--seed", "1", "--log", os.path.join(rig.root, "faultproxy.log"),
        "--route", "s3=127.0.0.1:0,%s:%s,s3" % (host, port),
        "--route", "zoom=127.0.0.1:0,%s:%s,zoom" % (zhost, zport),
        "--route", "cdn=%s:0,%s:%s,zoom" % (chost, chost, cport),
        "--map-location", "zoom=%s=cdn" % rig.fz.cdn_url], os.path.join(rig.root, "proxy.json"))
    spoolrig.webrig._tracked.add(proc.pid)
    return proc, info, faultproxy.FaultProxyControl(info["control"])


def cdn_bytes(rig, fid):
    return sum(e.get("bytes_sent", 0) for e in rig.requests(server="cdn", file_id=fid))


def job(rig, info, key, zoom_url):
    return rig.job_for(info, key=key, download_url=info["download_url"].replace(
        rig.fz.base_url, zoom_url))


def case_uploads(tap, rig, zoom_url):
    small = rig.add_file("m-small", 250 * 1024)
    big = rig.add_file("m-big", 2 * PART + 999)
    ks, kb = "moto/small.mp4", "moto/big.mp4"
    rig.enqueue(job(rig, small, ks, zoom_url))
    rig.enqueue(job(rig, big, kb, zoom_url))
    r = rig.run("--once", "-j", "2")
    tap.ok(r.rc == 0, "moto: the run exits 0", r.tail())
    check_done(tap, rig, small, ks, "moto, single PUT with sha256 and an ACL", run=r)
    check_done(tap, rig, big, kb, "moto, multipart with sha256 and an ACL", run=r)


def case_existing(tap, rig, zoom_url):
    same = rig.add_file("m-same", 100 * 1024)
    rig.s3.put_object(rig.bucket, "moto/same.mp4", fakezoom.content(same["seed"], 0, same["size"]),
                      content_type="video/mp4", metadata={"zoom-file-id": "m-same"})
    rig.enqueue(job(rig, same, "moto/same.mp4", zoom_url))
    other = rig.add_file("m-other", 100 * 1024)
    rig.s3.put_object(rig.bucket, "moto/taken.mp4", b"another recording",
                      metadata={"zoom-file-id": "someone-else"})
    rig.enqueue(job(rig, other, "moto/taken.mp4", zoom_url))
    r = rig.run("--once", "-j", "1")
    tap.eq(rig.where("m-same"), ["done"], "moto: this very file already there: done")
    tap.eq(cdn_bytes(rig, "m-same"), 0, "  ... without a download")
    check_done(tap, rig, other, "moto/taken-m-other.mp4", "moto, key of another file", run=r)
    tap.eq(rig.s3.get_object(rig.bucket, "moto/taken.mp4"), b"another recording",
           "moto: the other file's object is untouched")


def case_complete_taken(tap, rig, ctl, zoom_url):
    info = rig.add_file("m-late", PART + 4444)
    key = "moto/late.mp4"
    rig.enqueue(job(rig, info, key, zoom_url))
    ctl.rule("delay", route="s3", method="POST", path="/late.mp4", query="uploadId=", count=1,
             seconds=4)
    p = rig.start("--once", "-j", "1")
    held = spoolrig.wait_for(lambda: not ctl.stats()["rules"] or p.poll() is not None, 60)
    tap.ok(held and p.poll() is None, "moto, key taken before Complete: Complete is held")
    rig.s3.put_object(rig.bucket, key, b"another recording",
                      metadata={"zoom-file-id": "someone-else"})
    r = rig.collect(p)
    j = rig.job("new", "m-late") or {}
    tap.ok("taken by another Zoom file" in (j.get("last_error") or ""),
           "moto: Complete answered 412; the job waits for its next try", repr(j.get("last_error")),
           r.tail())
    tap.eq(j.get("s3_key"), "moto/late-m-late.mp4", "moto: the job moved to key-{file_id}")
    # (no prefix: moto 5.2.1 miscomputes the signature of a prefix with "/")
    tap.eq([u for u in rig.uploads() if u["key"] == key], [],
           "moto: the old key's upload was aborted")
    time.sleep(1.5)  # retry_delay = 1
    r = rig.run("--once")
    check_done(tap, rig, info, "moto/late-m-late.mp4", "moto, key taken before Complete", run=r)
    tap.eq(rig.s3.get_object(rig.bucket, key), b"another recording",
           "moto: the other file's object is untouched")


def case_503(tap, rig, ctl, zoom_url):
    info = rig.add_file("m-503", 2 * PART + 1)
    key = "moto/five-oh-three.mp4"
    rig.enqueue(job(rig, info, key, zoom_url))
    ctl.rule("503", route="s3", method="PUT", query="partNumber=2", count=1)
    r = rig.run("--once", "-j", "1")
    j = check_done(tap, rig, info, key, "moto, one 503 on a part", run=r)
    tap.eq(j.get("attempts"), 0, "moto, one 503 on a part: no attempt lost")
    tap.eq(cdn_bytes(rig, "m-503"), info["size"], "moto, one 503 on a part: downloaded once")


def case_bad_secret(tap, rig, ak, sk, zoom_url):
    info = rig.add_file("m-badkey", 50 * 1024)
    rig.enqueue(job(rig, info, "moto/badkey.mp4", zoom_url))
    rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3,
                     aws_access_key_id=ak, aws_secret_access_key="x" + sk[1:])
    rig.run("--once")
    err = (rig.job("new", "m-badkey") or {}).get("last_error") or ""
    tap.ok("SignatureDoesNotMatch" in err, "moto checks signatures: a wrong secret is refused",
           repr(err))


def body(tap, rig):
    moto = Moto(moto_python(), rig.root)
    proc = None
    try:
        ak, sk = moto.make_key()
        # Everything S3 from here on is moto's, through the proxy.
        rig.s3 = s3util.S3(moto.url, ak, sk)
        rig.bucket = "zoom2s3-moto-%s" % os.urandom(3).hex()
        rig.s3.create_bucket(rig.bucket)
        rig.s3env = dict(rig.s3env, S3_ENDPOINT=moto.url, AWS_ACCESS_KEY_ID=ak,
                         AWS_SECRET_ACCESS_KEY=sk, S3_REGION="us-east-1")
        proc, info, ctl = start_proxy(rig, moto.url)
        zoom_url = info["routes"]["zoom"]["url"]
        rig.proxy_s3 = info["routes"]["s3"]["url"]
        rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3,
                         s3_checksum="sha256", s3_acl="bucket-owner-full-control")
        case_uploads(tap, rig, zoom_url)
        case_existing(tap, rig, zoom_url)
        case_complete_taken(tap, rig, ctl, zoom_url)
        case_503(tap, rig, ctl, zoom_url)
        case_bad_secret(tap, rig, ak, sk, zoom_url)
        tap.eq(rig.uploads(), [], "moto: no multipart upload left in the bucket")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
            spoolrig.webrig._tracked.discard(proc.pid)
        try:
            rig.s3.empty_bucket(rig.bucket)
            rig.s3.delete_bucket(rig.bucket)
        except Exception:
            pass
        rig.bucket = None  # nothing of RGW's to clean up
        moto.stop()


if __name__ == "__main__":
    if not moto_python():
        spoolrig.skip_all("the python3 on PATH has no moto (python3 -c 'import moto' fails)")
    spoolrig.main("s3_moto", body)
