#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler behind tests/rig/faultproxy.py, with one
fault placed at one request each time (the faults the soak test found,
tests/soak/soak.py):

- S3's answer to the destination check (HEAD) cut inside its headers, for
  an object that an earlier run uploaded: curl takes the cut answer as
  whole; without its metadata our own object looks like another file's
  and the job would upload a second copy under key-{file_id}. It must
  retry instead: one object, byte-exact.
- Zoom's redirect cut inside its headers (no Location): a retry, not a
  job in failed/.
- The answer to CreateMultipartUpload lost (the upload exists in S3, the
  spooler never learns its id), then ListMultipartUploads failing with 503
  on the next try: the job must not open a second upload before the orphan
  is aborted, or the orphan stays in the bucket for good.
- The spooler killed while its CreateMultipartUpload is still on its way:
  the create lands after the next run adopted the job; the job waits until
  a create can no longer arrive (60 s), then aborts it.
- Every breaking mode of the proxy once on each kind of request of a
  multipart transfer (500, 503 SlowDown, 429, resets, short answers,
  pauses): the job ends in done/, byte-exact, no upload left."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import faultproxy  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import MIB, PART, check_done  # noqa: E402


def start_proxy(rig):
    s3host, s3port = rig.s3env["S3_ENDPOINT"].split("//", 1)[1].rsplit(":", 1)
    zhost, zport = rig.fz.base_url.split("//", 1)[1].rsplit(":", 1)
    chost, cport = rig.fz.cdn_url.split("//", 1)[1].rsplit(":", 1)
    state = os.path.join(rig.root, "proxy.json")
    proc, info = faultproxy.start_subprocess([
        "--seed", "1", "--log", os.path.join(rig.root, "faultproxy.log"),
        "--route", "s3=127.0.0.1:0,%s:%s,s3" % (s3host, s3port),
        "--route", "zoom=127.0.0.1:0,%s:%s,zoom" % (zhost, zport),
        "--route", "cdn=%s:0,%s:%s,zoom" % (chost, chost, cport),
        "--map-location", "zoom=%s=cdn" % rig.fz.cdn_url], state)
    spoolrig.webrig._tracked.add(proc.pid)
    return proc, info, faultproxy.FaultProxyControl(info["control"])


def proxied_job(rig, info, zoom_url, key):
    return rig.job_for(info, key=key, download_url=info["download_url"].replace(
        rig.fz.base_url, zoom_url))


def run_until_done(tap, rig, fid, label, timeout=30):
    """Runs the spooler until the job leaves new/ and cur/ (retries are due
    after retry_delay = 1 s), or timeout seconds pass."""
    r = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = rig.run("--once")
        if rig.where(fid) in (["done"], ["failed"]):
            break
        time.sleep(1.5)
    tap.ok(rig.where(fid) == ["done"], "%s: the job ends in done/" % label,
           "where: %r" % rig.where(fid), r.tail() if r else "")
    return r


def rules_used(tap, ctl, label):
    left = ctl.stats()["rules"]
    tap.ok(not left, "%s: the fault was placed" % label, "rules unused: %r" % left)
    ctl.clear_rules()


def case_cut_head(tap, rig, ctl, zoom_url):
    """Our object is in place (a run died before the move); the HEAD that
    checks the destination gets a cut answer."""
    info = rig.add_file("cuthead", 3 * MIB)
    key = "faults/%s/cut head.mp4" % rig.name
    rig.s3.put_object(rig.bucket, key, spoolrig.fakezoom.content(info["seed"], 0, info["size"]),
                      content_type="video/mp4",
                      metadata={"zoom-file-id": "cuthead",
                                "zoom-meeting-uuid": info["meeting_uuid"]})
    rig.abandon(proxied_job(rig, info, zoom_url, key))
    ctl.rule("close_resp", route="s3", method="HEAD", frac=0.15, count=1)
    run_until_done(tap, rig, "cuthead", "HEAD cut in its headers")
    rules_used(tap, ctl, "HEAD cut in its headers")
    keys = [o["key"] for o in rig.objects("faults/%s/cut" % rig.name)]
    tap.eq(keys, [key], "HEAD cut in its headers: one object, under its key (no second copy "
           "under key-{file_id})")
    check_done(tap, rig, info, key, "HEAD cut in its headers")


def case_cut_redirect(tap, rig, ctl, zoom_url):
    info = rig.add_file("cutredir", 200 * 1024)
    key = "faults/%s/cut-redirect.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    ctl.rule("close_resp", route="zoom", method="GET", path="/rec/", frac=0.4, count=1)
    r = rig.run("--once")
    tap.eq(rig.where("cutredir"), ["new"],
           "redirect cut before its Location: the job is back in new/ for a retry")
    tap.ok("cut short" in ((rig.job("new", "cutredir") or {}).get("last_error") or ""),
           "... and last_error says the answer was cut", r.tail())
    time.sleep(1.5)
    run_until_done(tap, rig, "cutredir", "redirect cut before its Location")
    rules_used(tap, ctl, "redirect cut before its Location")
    check_done(tap, rig, info, key, "redirect cut before its Location")


def case_lost_create(tap, rig, ctl, zoom_url):
    info = rig.add_file("lostcreate", PART + 12345)
    key = "faults/%s/lost-create.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    # CreateMultipartUpload is POST ...?uploads; ListMultipartUploads GET ?uploads
    ctl.rule("reset_resp", route="s3", method="POST", query="uploads", count=1)
    r = rig.run("--once")
    tap.ok(len(rig.uploads(key)) == 1, "CreateMultipartUpload's answer lost: an orphan "
           "upload is open in S3", "uploads: %r" % rig.uploads(key), r.tail())
    ctl.rule("503", route="s3", method="GET", query="uploads", count=1)
    time.sleep(1.5)
    r = rig.run("--once")
    tap.ok("may still reach S3" in ((rig.job("new", "lostcreate") or {}).get("last_error")
                                    or ""),
           "a lost create: the next try waits until it can no longer arrive", r.tail())
    run_until_done(tap, rig, "lostcreate", "orphan, then ListMultipartUploads 503", timeout=150)
    rules_used(tap, ctl, "orphan, then ListMultipartUploads 503")
    check_done(tap, rig, info, key, "orphan, then ListMultipartUploads 503")
    tap.eq(rig.uploads(key), [], "orphan, then ListMultipartUploads 503: no upload left")


def case_create_in_flight(tap, rig, ctl, zoom_url):
    """The spooler is SIGKILLed while the proxy holds its
    CreateMultipartUpload (as a slow network or a busy S3 would); the next
    run adopts the job at once. Only then does the test let the create
    through: it opens an upload after that run could look for orphans. The
    job must wait until the create can no longer arrive (it recorded when
    it sent it), then abort it."""
    info = rig.add_file("inflight", PART + 777)
    key = "faults/%s/in-flight.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    # held until configure(rate=0) below lets it go
    ctl.rule("delay", route="s3", method="POST", query="uploads", count=1, seconds=3600)
    p = rig.start("--once", "-j", "1")
    held = spoolrig.wait_for(lambda: not ctl.stats()["rules"] or p.poll() is not None, 60)
    held = held and p.poll() is None
    p.kill()
    rig.collect(p)
    tap.ok(held, "create in flight: the spooler was killed with its create held")
    r = rig.run("--once")
    tap.ok("may still reach S3" in ((rig.job("new", "inflight") or {}).get("last_error")
                                    or ""),
           "create in flight: the next run waits, the create may still arrive", r.tail())
    ctl.configure(rate=0)
    landed = spoolrig.wait_for(lambda: any(
        g["method"] == "POST" and "uploads" in g["query"] for g in ctl.stats()["gone"]), 30)
    tap.ok(landed, "create in flight: the late create reached S3 after its client died")
    run_until_done(tap, rig, "inflight", "create in flight", timeout=150)
    check_done(tap, rig, info, key, "create in flight")
    tap.eq(rig.uploads(key), [], "create in flight: no upload left once the late create landed")


def case_every_mode(tap, rig, ctl, zoom_url):
    """Each breaking mode once on each S3 request of a 3-part transfer, and
    on the download; then the job must still finish."""
    info = rig.add_file("everymode", 2 * PART + 4321)
    key = "faults/%s/every-mode.mp4" % rig.name
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    modes = ["500", "503", "429", "reset_req", "reset_resp", "close_resp", "pause", "delay"]
    for i, mode in enumerate(modes):
        ctl.rule(mode, route="s3", method=["HEAD", "PUT", "POST", "GET"][i % 4], count=1,
                 frac=0.3)
        ctl.rule(mode, route="cdn" if i % 2 else "zoom", count=1, skip=i % 3, frac=0.6)
    run_until_done(tap, rig, "everymode", "every mode once", timeout=240)
    check_done(tap, rig, info, key, "every mode once")
    tap.eq(rig.uploads(key), [], "every mode once: no upload left")
    left = ctl.stats()["rules"]
    tap.ok(len(left) < len(modes), "every mode once: the rules met requests",
           "%d of %d rules unused" % (len(left), 2 * len(modes)))
    ctl.clear_rules()


def with_proxy(rig, cases):
    """Runs cases(ctl, zoom_url) with the proxy between the spooler and S3,
    Zoom and the CDN (retry_delay 1 s); stops the proxy after."""
    rig.write_config(retry_delay=1, retry_max_delay=1)
    proc, info, ctl = start_proxy(rig)
    try:
        rig.proxy_s3 = info["routes"]["s3"]["url"]
        rig.write_config(retry_delay=1, retry_max_delay=1, s3_endpoint=rig.proxy_s3)
        cases(ctl, info["routes"]["zoom"]["url"])
    finally:
        proc.terminate()
        proc.wait()
        spoolrig.webrig._tracked.discard(proc.pid)


def body(tap, rig):
    def cases(ctl, zoom_url):
        for case in (case_cut_head, case_cut_redirect, case_lost_create,
                     case_create_in_flight, case_every_mode):
            case(tap, rig, ctl, zoom_url)
        tap.eq(rig.uploads(), [], "no multipart upload left in the bucket")
        st = ctl.stats()
        tap.diag("proxy: %d requests, faults %r" % (st["requests"], st["faults"]))
    with_proxy(rig, cases)


if __name__ == "__main__":
    spoolrig.main("faultproxy", body)
