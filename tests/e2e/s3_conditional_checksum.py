#!/usr/bin/env python3
"""TAP: what the spooler sends S3 for s3_checksum, s3_acl and its
conditional writes, and what it does with a key taken at the last moment
(CONTRACT "Config file": s3_checksum, s3_acl; key_template: no upload ever
replaces an object that S3 holds for another Zoom file).

The real zoom2s3-spooler uploads to the local Ceph RGW through
tests/rig/faultproxy.py, which records the headers of each request:

- s3_checksum = sha256: every PutObject and UploadPart carries
  x-amz-checksum-sha256, the base64 of the very digest signed as
  x-amz-content-sha256 (and of the bytes: checked against the file);
  CreateMultipartUpload carries x-amz-checksum-algorithm: SHA256. RGW 16
  ignores them (docs/S3.md) and the uploads succeed.
- s3_checksum = none (the default with an s3_endpoint): no x-amz-checksum-*.
- s3_acl: x-amz-acl on PutObject and CreateMultipartUpload only.
- If-None-Match: * on PutObject and CompleteMultipartUpload.
- Another file's object lands under the key after the spooler's HEAD and
  before its PutObject (the proxy holds the PUT while the test writes it):
  RGW answers 412, the spooler moves the file to key-{file_id}, uploads the
  bytes it holds (no second download) and the other object is untouched.
- ListMultipartUploads answered 501 (a server without it): the upload goes
  on in the same try."""

import base64
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402
import fakezoom  # noqa: E402
from spooler_faultproxy import proxied_job, with_proxy  # noqa: E402


def s3_seen(ctl, since):
    return [r for r in ctl.stats()["seen"][since:] if r["route"] == "s3"]


def kind(r):
    q = r["query"]
    if r["method"] == "PUT":
        return "UploadPart" if "partNumber=" in q else "PutObject"
    if r["method"] == "POST":
        return "CreateMultipartUpload" if q.startswith("uploads") else "CompleteMultipartUpload"
    return r["method"]


def b64_of_hex(h):
    return base64.b64encode(bytes.fromhex(h)).decode()


def upload_pair(tap, rig, ctl, zoom_url, tag, **config):
    small = rig.add_file("ck-small-" + tag, 200 * 1024)
    big = rig.add_file("ck-big-" + tag, 2 * PART + 555)
    ks, kb = ("ck/%s/%s-%s.mp4" % (rig.name, n, tag) for n in ("small", "big"))
    rig.enqueue(proxied_job(rig, small, zoom_url, ks))
    rig.enqueue(proxied_job(rig, big, zoom_url, kb))
    rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3, **config)
    since = len(ctl.stats()["seen"])
    r = rig.run("--once", "-j", "1")
    check_done(tap, rig, small, ks, "%s, single PUT" % tag, run=r)
    check_done(tap, rig, big, kb, "%s, multipart" % tag, run=r)
    seen = s3_seen(ctl, since)
    by = {}
    for q in seen:
        by.setdefault(kind(q), []).append(q)
    return small, seen, by


def case_sha256(tap, rig, ctl, zoom_url):
    small, seen, by = upload_pair(tap, rig, ctl, zoom_url, "sha256", s3_checksum="sha256",
                                  s3_acl="bucket-owner-full-control")
    puts = by.get("PutObject", []) + by.get("UploadPart", [])
    tap.ok(len(by.get("PutObject", [])) == 1 and len(by.get("UploadPart", [])) == 3,
           "sha256: one PutObject and three UploadParts went through the proxy",
           repr(sorted((k, len(v)) for k, v in by.items())))
    tap.ok(puts and all(q["headers"].get("x-amz-checksum-sha256") ==
                        b64_of_hex(q["headers"].get("x-amz-content-sha256", "00"))
                        for q in puts),
           "sha256: every PUT carries x-amz-checksum-sha256 = base64 of the signed payload hash",
           *[repr(q["headers"]) for q in puts[:3]])
    want = base64.b64encode(hashlib.sha256(
        fakezoom.content(small["seed"], 0, small["size"])).digest()).decode()
    tap.eq(by["PutObject"][0]["headers"].get("x-amz-checksum-sha256"), want,
           "sha256: ... which is the SHA-256 of the file's bytes")
    tap.ok(all(q["headers"].get("x-amz-checksum-algorithm") == "SHA256"
               for q in by.get("CreateMultipartUpload", [])) and by.get("CreateMultipartUpload"),
           "sha256: CreateMultipartUpload carries x-amz-checksum-algorithm: SHA256")
    acl = [kind(q) for q in seen if q["headers"].get("x-amz-acl")]
    tap.eq(sorted(acl), ["CreateMultipartUpload", "PutObject"],
           "s3_acl: x-amz-acl on PutObject and CreateMultipartUpload only")
    tap.ok(all(q["headers"].get("x-amz-acl") == "bucket-owner-full-control"
               for q in seen if q["headers"].get("x-amz-acl")), "s3_acl: its value")
    cond = sorted(kind(q) for q in seen if q["headers"].get("if-none-match") == "*")
    tap.eq(cond, ["CompleteMultipartUpload", "PutObject"],
           "If-None-Match: * on PutObject and CompleteMultipartUpload")
    tap.ok(all(q["headers"].get("user-agent", "").startswith("zoom2s3/") for q in seen),
           "every S3 request says User-Agent: zoom2s3/VERSION")


def case_none(tap, rig, ctl, zoom_url):
    _, seen, by = upload_pair(tap, rig, ctl, zoom_url, "none")
    sent = [(kind(q), k) for q in seen for k in q["headers"] if k.startswith("x-amz-checksum")]
    tap.eq(sent, [], "s3_checksum unset with an s3_endpoint: no x-amz-checksum-* header")
    tap.eq([kind(q) for q in seen if "x-amz-acl" in q["headers"]], [],
           "s3_acl unset: no x-amz-acl")


def case_taken_late(tap, rig, ctl, zoom_url):
    info = rig.add_file("ck-late", 300 * 1024)
    key = "ck/%s/late.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3)
    # The PutObject to the key is held by the proxy until another file's
    # object is written there; configure(rate=0) then lets it go.
    ctl.rule("delay", route="s3", method="PUT", path="/late.mp4", count=1, seconds=3600)
    p = rig.start("--once", "-j", "1")
    held = spoolrig.wait_for(lambda: not ctl.stats()["rules"] or p.poll() is not None, 60)
    tap.ok(held and p.poll() is None, "key taken late: the PutObject is held by the proxy")
    rig.s3.put_object(rig.bucket, key, b"another recording", content_type="video/mp4",
                      metadata={"zoom-file-id": "someone-else"})
    ctl.configure(rate=0)
    r = rig.collect(p)
    tap.ok(r.rc == 0, "key taken late: the run exits 0", r.tail())
    check_done(tap, rig, info, "ck/%s/late-ck-late.mp4" % rig.name,
               "key taken late: moved to key-{file_id}", run=r)
    tap.ok(r.events("transfer.key_exists"), "key taken late: the 412 is logged", r.tail())
    tap.eq(rig.s3.get_object(rig.bucket, key), b"another recording",
           "key taken late: the other file's object is untouched")
    tap.eq(sum(e.get("bytes_sent", 0) for e in rig.requests(server="cdn", file_id="ck-late")),
           info["size"], "key taken late: the file was downloaded once")


def case_no_list_uploads(tap, rig, ctl, zoom_url):
    """A server without ListMultipartUploads (501): the multipart upload
    goes on without looking for orphans, in the same try."""
    info = rig.add_file("ck-501", PART + 1234)
    key = "ck/%s/no-list.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3)
    ctl.rule("501", route="s3", method="GET", query="uploads", count=1)
    r = rig.run("--once", "-j", "1")
    tap.ok(not ctl.stats()["rules"], "ListMultipartUploads answered 501", r.tail())
    j = check_done(tap, rig, info, key, "501 for ListMultipartUploads", run=r)
    tap.eq(j.get("attempts"), 0, "501 for ListMultipartUploads: no attempt lost, not retried")
    tap.ok(len([ln for ln in r.events("s3.failed") if "op=ListMultipartUploads" in ln]) == 1,
           "501 for ListMultipartUploads: asked once, logged", r.tail())
    tap.ok(r.events("transfer.list_uploads_failed"), "  ... and the transfer went on", r.tail())


def body(tap, rig):
    def cases(ctl, zoom_url):
        for case in (case_sha256, case_none, case_taken_late, case_no_list_uploads):
            case(tap, rig, ctl, zoom_url)
    with_proxy(rig, cases)


if __name__ == "__main__":
    spoolrig.main("s3_conditional_checksum", body)
