#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler killed in the middle of its work, against
the stand-in Zoom (tests/rig/fakezoom.py) and a real Ceph RGW. No kill is
timed: before each one the stand-in CDN stalls the download after a chosen
number of bytes and holds the connection, so the spooler cannot get past
that point; the test waits (a liveness bound only) until the CDN holds the
request and the spooler has done all it can with the bytes it got (every
whole part it got is uploaded: its log says so), then kills it. Where the
kill lands is fixed by the stall, whatever the machine's load.

The spooler records a part in the job when it hands over the next one (or
at the end), so while a download is held the last parts uploaded may not
be recorded yet: the kill checks allow that, and each rerun must resume
after exactly the parts its job recorded.

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


def nparts(rig, fid):
    return len((rig.job("cur", fid) or {}).get("parts") or [])


def start_stalled(rig, fid, after, *args):
    """Starts a spooler whose next download of fid gets `after` bytes from
    the CDN, which then holds the connection open and sends nothing more.
    Returns the process and the log position before it."""
    rig.fz.clear_faults(fid)
    rig.fz.fault(fid, "stall", after=after, count=1)
    since = last_seq(rig)
    return rig.start("--once", "-j", "1", *args), since


def uploaded(p):
    """Parts this spooler run has uploaded, from its log (read with pread:
    the file offset is shared with the writer)."""
    fd = p.log.fileno()
    text = os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")
    return text.count("op=UploadPart status=200")


def held(rig, fid, since):
    """The CDN has sent what the stall allows and holds the request."""
    return any(e.get("stalled") for e in rig.requests(server="cdn", file_id=fid, since=since))


def wait_held(rig, p, fid, since, cond, timeout=120):
    """Waits until the CDN holds fid's download and cond() holds (the
    spooler has done what it can with the bytes it got), or the spooler
    exits. The timeout bounds a hang; it never decides where a kill lands."""
    return wait_for(lambda: (held(rig, fid, since) and cond(p)) or p.poll() is not None,
                    timeout, 0.02) and p.poll() is None


def kill_at_stall(tap, rig, fid, after, cond, label):
    """SIGKILLs a spooler held by the CDN after `after` bytes of fid, once
    cond() holds; the Run."""
    p, since = start_stalled(rig, fid, after)
    reached = wait_held(rig, p, fid, since, cond)
    alive = p.poll() is None
    if alive:
        p.kill()
    r = rig.collect(p, timeout=30)
    rig.fz.clear_faults(fid)
    tap.ok(reached and alive, "%s: killed at the chosen point" % label,
           "exit %r; job: %r" % (r.rc, rig.job("cur", fid)), r.tail())
    tap.eq(rig.where(fid), ["cur"], "%s: the job was left in cur/" % label)
    return r


def resume_range(nparts_kept):
    """The Range a download resuming after that many parts asks for."""
    return "bytes=%d-" % (nparts_kept * PART) if nparts_kept else None


def cdn_ranges(rig, fid, since):
    return [e.get("range") for e in rig.requests(server="cdn", file_id=fid, since=since)]


def case_sigkill(tap, rig):
    size = PART * 7 // 2
    # a meeting of its own: its token is expired below
    info = rig.add_file("kill4", size, meeting_uuid="crash/kill4+==")
    rig.enqueue(rig.job_for(info))
    key = key_of(rig, "kill4")

    # half a part, then the CDN holds: the upload exists, no part can
    kill_at_stall(tap, rig, "kill4", PART // 2,
                  lambda p: (rig.job("cur", "kill4") or {}).get("upload_id"),
                  "kill 1 (upload created, no part yet)")
    tap.eq(len(rig.uploads(key)), 1, "kill 1: its multipart upload is open in S3")
    tap.eq(nparts(rig, "kill4"), 0, "kill 1: no part recorded")

    # two parts and one byte: exactly two parts can be uploaded
    since = last_seq(rig)
    kill_at_stall(tap, rig, "kill4", 2 * PART + 1, lambda p: uploaded(p) >= 2,
                  "kill 2 (2 parts uploaded)")
    n2 = nparts(rig, "kill4")
    tap.ok(n2 <= 2, "kill 2: at most the 2 parts the CDN sent are recorded (%d)" % n2)
    job = rig.job("cur", "kill4") or {}
    tap.eq(job.get("attempts"), 1, "kill 2: the abandoned try was counted (attempts 1)")
    tap.eq(cdn_ranges(rig, "kill4", since)[:1], [None],
           "kill 2: no part was in S3 yet, so the download started at byte 0")
    tap.eq(len(rig.uploads(key)), 1, "kill 2: still one multipart upload (the same)")

    # the resumed download gets one more part and one byte
    since = last_seq(rig)
    kill_at_stall(tap, rig, "kill4", PART + 1, lambda p: uploaded(p) >= 1,
                  "kill 3 (one more part uploaded)")
    tap.ok(nparts(rig, "kill4") <= n2 + 1,
           "kill 3: at most %d parts recorded (%d)" % (n2 + 1, nparts(rig, "kill4")))
    tap.eq((rig.job("cur", "kill4") or {}).get("attempts"), 2, "kill 3: attempts 2")
    tap.eq(cdn_ranges(rig, "kill4", since)[:1], [resume_range(n2)],
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
        tap.eq(cdn_ranges(rig, "kill4", since), [resume_range(n3)],
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
    rig.enqueue(rig.job_for(info))
    kill_at_stall(tap, rig, "kill1", MIB, lambda p: True,
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
    rig.enqueue(rig.job_for(info))
    key = key_of(rig, "term")
    # one part and one byte, then the CDN holds the download
    p, since = start_stalled(rig, "term", PART + 1)
    reached = wait_held(rig, p, "term", since, lambda q: uploaded(q) >= 1)
    tap.ok(reached, "sigterm: one part uploaded, the download held by the CDN")
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
    tap.ok(job.get("upload_id") and kept == 1, "sigterm: upload id and its one uploaded part kept",
           repr({k: job.get(k) for k in ("upload_id", "parts")}))
    tap.eq([u["upload_id"] for u in rig.uploads(key)], [job.get("upload_id")],
           "sigterm: its upload is still open in S3, to resume")
    tap.eq(job.get("attempts"), 0, "sigterm: an interrupted try is not a failed attempt")
    since = last_seq(rig)
    rig.fz.clear_faults("term")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "sigterm rerun: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key, "sigterm rerun")
    tap.eq(cdn_ranges(rig, "term", since), [resume_range(kept)],
           "sigterm rerun: resumed with a ranged GET after the kept parts")
    tap.eq(rig.uploads(), [], "sigterm rerun: no multipart upload left")


if __name__ == "__main__":
    spoolrig.main("crash",
                  case_sigkill,
                  case_sigkill_single,
                  case_orphan,
                  case_completed_before_crash,
                  case_sigterm)
