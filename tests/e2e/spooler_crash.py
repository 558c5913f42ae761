#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler killed in the middle of its work, against
the stand-in Zoom (tests/rig/fakezoom.py, a slow CDN body so the kills land
mid-transfer) and a real Ceph RGW.

- One 4-part file, SIGKILLed three times (just after its upload was
  created, after 2 parts, after 3 parts), then a run that finishes it with
  the download token expired (a fresh link from the recordings API): the
  object is byte-exact, there is exactly one, no multipart upload is left,
  each abandoned try counted as an attempt, and each resumed download was
  a ranged GET from the first byte not yet in S3: it did not start over.
- SIGKILL in the middle of a single-PUT download, then a rerun.
- An upload left open by a crash before its id was recorded is aborted.
- An upload completed just before a crash (the job still in cur/ with its
  upload id): done without a second download or upload.
- SIGTERM in mid-transfer: prompt exit with status 0, the job back in new/
  due at once with its upload state, nothing in cur/; the rerun resumes."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import fakezoom  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import PART, MIB, check_done, wait_for, key_of, last_seq  # noqa: E402

SLOW = {"mode": "slow", "chunk": 128 * 1024, "delay": 0.02}   # about 5 MB/s


def nparts(rig, fid):
    return len((rig.job("cur", fid) or {}).get("parts") or [])


def kill_when(tap, rig, fid, cond, label, timeout=60):
    """Starts a spooler, SIGKILLs it once cond() holds; the Run."""
    p = rig.start("--once", "-j", "1")
    reached = wait_for(lambda: cond() or p.poll() is not None, timeout, 0.02)
    alive = p.poll() is None
    if alive:
        p.kill()
    r = rig.collect(p, timeout=30)
    tap.ok(reached and alive, "%s: killed at the chosen point" % label,
           "exit %r; job: %r" % (r.rc, rig.job("cur", fid)), r.tail())
    tap.eq(rig.where(fid), ["cur"], "%s: the job was left in cur/" % label)
    return r


def cdn_ranges(rig, fid, since):
    return [e.get("range") for e in rig.requests(server="cdn", file_id=fid, since=since)]


def case_sigkill(tap, rig):
    size = PART * 7 // 2
    # a meeting of its own: its token is expired below
    info = rig.add_file("kill4", size, meeting_uuid="crash/kill4+==")
    rig.fz.fault("kill4", **SLOW)
    rig.enqueue(rig.job_for(info))
    key = key_of(rig, "kill4")

    kill_when(tap, rig, "kill4", lambda: (rig.job("cur", "kill4") or {}).get("upload_id"),
              "kill 1 (upload created, no part yet)")
    tap.eq(len(rig.uploads(key)), 1, "kill 1: its multipart upload is open in S3")

    since = last_seq(rig)
    kill_when(tap, rig, "kill4", lambda: nparts(rig, "kill4") >= 2, "kill 2 (after 2 parts)")
    job = rig.job("cur", "kill4") or {}
    tap.eq(job.get("attempts"), 1, "kill 2: the abandoned try was counted (attempts 1)")
    tap.eq(cdn_ranges(rig, "kill4", since)[:1], [None],
           "kill 2: no part was in S3 yet, so the download started at byte 0")
    tap.eq(len(rig.uploads(key)), 1, "kill 2: still one multipart upload (the same)")

    # The kill lands a little after the condition holds: the next run
    # resumes after the parts the job recorded by then.
    n2 = nparts(rig, "kill4")
    since = last_seq(rig)
    kill_when(tap, rig, "kill4", lambda: nparts(rig, "kill4") >= n2 + 1,
              "kill 3 (after one more part)")
    tap.eq((rig.job("cur", "kill4") or {}).get("attempts"), 2, "kill 3: attempts 2")
    tap.eq(cdn_ranges(rig, "kill4", since)[:1], ["bytes=%d-" % (n2 * PART)],
           "kill 3: resumed with a ranged GET after the %d parts in S3" % n2)
    tap.eq(rig.objects(key), [], "kill 3: no object visible under the key yet")
    n3 = nparts(rig, "kill4")

    # The last run: the webhook's token has expired meanwhile, and an OAuth
    # app is configured: a fresh link, still ranged.
    rig.fz.expire_download_token(meeting=info["meeting_uuid"])
    rig.write_config(**rig.oauth_config())
    since = last_seq(rig)
    r = rig.run("--once", timeout=120)
    rig.write_config()
    tap.eq(r.rc, 0, "rerun: exit status 0") or tap.diag(r.tail())
    job = check_done(tap, rig, info, key, "rerun")
    tap.eq(job.get("attempts"), 3, "rerun: attempts 3 (each abandoned try counted)")
    if n3 * PART < size:
        tap.eq(cdn_ranges(rig, "kill4", since), ["bytes=%d-" % (n3 * PART)],
               "rerun: one ranged GET after the %d parts in S3 (no start over)" % n3)
        api = [e for e in rig.requests(file_id="kill4", since=since)
               if e.get("kind") == "api"]
        tap.ok(api and api[-1].get("auth_ok"),
               "rerun: the resumed download used a fresh link")
    else:
        tap.eq(cdn_ranges(rig, "kill4", since), [],
               "rerun: every part was in S3: no download, only the Complete")
    tap.eq([o["key"] for o in rig.objects(key)], [key], "rerun: exactly one object")
    tap.eq(rig.uploads(), [], "rerun: no multipart upload left")
    etag = (rig.head(key) or {}).get("etag", "").strip('"')
    tap.ok(etag.endswith("-4"), "rerun: the object has 4 parts", etag)


def case_sigkill_single(tap, rig):
    info = rig.add_file("kill1", 3 * MIB)
    rig.fz.fault("kill1", **SLOW)
    rig.enqueue(rig.job_for(info))
    kill_when(tap, rig, "kill1", lambda: any(
        e.get("bytes_sent", 0) >= MIB for e in rig.requests(server="cdn", file_id="kill1")),
        "single PUT (killed after 1 MiB of the download)")
    tap.eq(rig.objects(key_of(rig, "kill1")), [], "single PUT: no object after the kill")
    rig.fz.clear_faults("kill1")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "single PUT rerun: exit status 0") or tap.diag(r.tail())
    job = check_done(tap, rig, info, key_of(rig, "kill1"), "single PUT rerun")
    tap.eq(job.get("attempts"), 1, "single PUT rerun: attempts 1")
    tap.eq(len(rig.objects(key_of(rig, "kill1"))), 1, "single PUT rerun: one object")


def case_orphan(tap, rig):
    """A crash between CreateMultipartUpload and recording its id."""
    info = rig.add_file("orphan", PART + 4321)
    key = key_of(rig, "orphan")
    orphan = rig.s3.create_multipart_upload(rig.bucket, key)
    rig.s3.upload_part(rig.bucket, key, orphan, 1, b"x" * PART)
    rig.enqueue(rig.job_for(info))
    r = rig.run("--once")
    tap.eq(r.rc, 0, "orphan upload: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key, "orphan upload")
    tap.eq(rig.uploads(key), [], "orphan upload: the unknown upload was aborted")


def case_completed_before_crash(tap, rig):
    """CompleteMultipartUpload went through, then the spooler died before
    the job left cur/."""
    info = rig.add_file("completed", PART + 999)
    key = key_of(rig, "completed")
    data = fakezoom.content(info["seed"], 0, info["size"])
    uid = rig.s3.create_multipart_upload(rig.bucket, key, headers={
        "x-amz-meta-zoom-file-id": info["id"],
        "x-amz-meta-zoom-meeting-uuid": info["meeting_uuid"], "Content-Type": "video/mp4"})
    e1 = rig.s3.upload_part(rig.bucket, key, uid, 1, data[:PART])
    e2 = rig.s3.upload_part(rig.bucket, key, uid, 2, data[PART:])
    etag = rig.s3.complete_multipart_upload(rig.bucket, key, uid, [(1, e1), (2, e2)])
    job = rig.job_for(info, upload_id=uid, part_size=PART, parts=[
        {"part": 1, "etag": e1, "size": PART}, {"part": 2, "etag": e2, "size": 999}])
    rig.abandon(job)
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "completed before the crash: exit status 0") or tap.diag(r.tail())
    job = check_done(tap, rig, info, key, "completed before the crash")
    tap.eq(rig.requests(file_id="completed", since=since), [],
           "completed before the crash: not downloaded again")
    tap.eq((rig.head(key) or {}).get("etag", "").strip('"'), etag,
           "completed before the crash: the object was not uploaded again")
    tap.eq(job.get("s3_etag"), etag, "completed before the crash: s3_etag of that object")
    tap.eq(rig.uploads(key), [], "completed before the crash: no upload left")


def case_sigterm(tap, rig):
    size = PART * 3 + 777
    info = rig.add_file("term", size)
    rig.fz.fault("term", **SLOW)
    rig.enqueue(rig.job_for(info))
    key = key_of(rig, "term")
    p = rig.start("--once", "-j", "1")
    reached = wait_for(lambda: nparts(rig, "term") >= 1 or p.poll() is not None, 60, 0.02)
    tap.ok(reached and p.poll() is None, "sigterm: one part uploaded, the transfer goes on")
    t = time.monotonic()
    rig.signal(p, signal.SIGTERM)
    r = rig.collect(p, timeout=30)
    tap.eq(r.rc, 0, "sigterm: exit status 0 within 30 s") or tap.diag(r.tail())
    tap.diag("sigterm: exited %.1f s after SIGTERM" % (time.monotonic() - t))
    tap.eq(rig.where("term"), ["new"], "sigterm: the job is back in new/")
    tap.eq(rig.states()["cur"], [], "sigterm: nothing in cur/")
    job = rig.job("new", "term") or {}
    tap.ok("next_attempt_at" not in job, "sigterm: due at once (no next_attempt_at)",
           repr(job.get("next_attempt_at")))
    kept = len(job.get("parts") or [])
    tap.ok(job.get("upload_id") and kept >= 1, "sigterm: upload id and parts kept",
           repr({k: job.get(k) for k in ("upload_id", "parts")}))
    tap.eq([u["upload_id"] for u in rig.uploads(key)], [job.get("upload_id")],
           "sigterm: its upload is still open in S3, to resume")
    tap.eq(job.get("attempts"), 0, "sigterm: an interrupted try is not a failed attempt")
    since = last_seq(rig)
    rig.fz.clear_faults("term")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "sigterm rerun: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key, "sigterm rerun")
    tap.eq(cdn_ranges(rig, "term", since), ["bytes=%d-" % (kept * PART)],
           "sigterm rerun: resumed with a ranged GET after the kept parts")
    tap.eq(rig.uploads(), [], "sigterm rerun: no multipart upload left")


if __name__ == "__main__":
    spoolrig.main("crash",
                  case_sigkill,
                  case_sigkill_single,
                  case_orphan,
                  case_completed_before_crash,
                  case_sigterm)
