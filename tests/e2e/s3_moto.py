#!/usr/bin/env python3
"""TAP: the spooler against a second S3 implementation, moto_server
(moto 5.2.1 and later), where the `python3` on PATH can `import moto`;
otherwise SKIP with the reason.

moto runs with its signature checks on (tests/rig/motorig.py:
INITIAL_NO_AUTH_ACTION_COUNT lets the three IAM calls that make the test's
user and key run unchecked, every request after them is verified). It
implements conditional writes on CompleteMultipartUpload too (412), where RGW 16 ignores them
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

import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402
import fakezoom  # noqa: E402
from spooler_faultproxy import proxied_job, start_proxy  # noqa: E402


def cdn_bytes(rig, fid):
    return sum(e.get("bytes_sent", 0) for e in rig.requests(server="cdn", file_id=fid))


def case_uploads(tap, rig, zoom_url):
    small = rig.add_file("m-small", 250 * 1024)
    big = rig.add_file("m-big", 2 * PART + 999)
    ks, kb = "moto/small.mp4", "moto/big.mp4"
    rig.enqueue(proxied_job(rig, small, zoom_url, ks))
    rig.enqueue(proxied_job(rig, big, zoom_url, kb))
    r = rig.run("--once", "-j", "2")
    tap.ok(r.rc == 0, "moto: the run exits 0", r.tail())
    check_done(tap, rig, small, ks, "moto, single PUT with sha256 and an ACL", run=r)
    check_done(tap, rig, big, kb, "moto, multipart with sha256 and an ACL", run=r)


def case_existing(tap, rig, zoom_url):
    same = rig.add_file("m-same", 100 * 1024)
    rig.s3.put_object(rig.bucket, "moto/same.mp4", fakezoom.content(same["seed"], 0, same["size"]),
                      content_type="video/mp4", metadata={"zoom-file-id": "m-same"})
    rig.enqueue(proxied_job(rig, same, zoom_url, "moto/same.mp4"))
    other = rig.add_file("m-other", 100 * 1024)
    rig.s3.put_object(rig.bucket, "moto/taken.mp4", b"another recording",
                      metadata={"zoom-file-id": "someone-else"})
    rig.enqueue(proxied_job(rig, other, zoom_url, "moto/taken.mp4"))
    r = rig.run("--once", "-j", "1")
    tap.eq(rig.where("m-same"), ["done"], "moto: this very file already there: done")
    tap.eq(cdn_bytes(rig, "m-same"), 0, "  ... without a download")
    check_done(tap, rig, other, "moto/taken-m-other.mp4", "moto, key of another file", run=r)
    tap.eq(rig.s3.get_object(rig.bucket, "moto/taken.mp4"), b"another recording",
           "moto: the other file's object is untouched")


def case_complete_taken(tap, rig, ctl, zoom_url):
    info = rig.add_file("m-late", PART + 4444)
    key = "moto/late.mp4"
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    # held until another file's object is there: configure(rate=0) lets it go
    ctl.rule("delay", route="s3", method="POST", path="/late.mp4", query="uploadId=", count=1,
             seconds=3600)
    p = rig.start("--once", "-j", "1")
    held = spoolrig.wait_for(lambda: not ctl.stats()["rules"] or p.poll() is not None, 60)
    tap.ok(held and p.poll() is None, "moto, key taken before Complete: Complete is held")
    rig.s3.put_object(rig.bucket, key, b"another recording",
                      metadata={"zoom-file-id": "someone-else"})
    ctl.configure(rate=0)
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
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    ctl.rule("503", route="s3", method="PUT", query="partNumber=2", count=1)
    r = rig.run("--once", "-j", "1")
    j = check_done(tap, rig, info, key, "moto, one 503 on a part", run=r)
    tap.eq(j.get("attempts"), 0, "moto, one 503 on a part: no attempt lost")
    tap.eq(cdn_bytes(rig, "m-503"), info["size"], "moto, one 503 on a part: downloaded once")


def case_bad_secret(tap, rig, ak, sk, zoom_url):
    info = rig.add_file("m-badkey", 50 * 1024)
    rig.enqueue(proxied_job(rig, info, zoom_url, "moto/badkey.mp4"))
    rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3,
                     aws_access_key_id=ak, aws_secret_access_key="x" + sk[1:])
    rig.run("--once")
    err = (rig.job("new", "m-badkey") or {}).get("last_error") or ""
    tap.ok("SignatureDoesNotMatch" in err, "moto checks signatures: a wrong secret is refused",
           repr(err))


def body(tap, rig):
    ak, sk = rig.s3env["AWS_ACCESS_KEY_ID"], rig.s3env["AWS_SECRET_ACCESS_KEY"]
    proc, info, ctl = start_proxy(rig)
    try:
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
        proc.terminate()
        proc.wait()
        spoolrig.webrig._tracked.discard(proc.pid)


if __name__ == "__main__":
    spoolrig.main("s3_moto", body, backend="moto")
