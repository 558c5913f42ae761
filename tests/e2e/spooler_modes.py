#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler's modes, with the stand-in Zoom
(tests/rig/fakezoom.py) and a real Ceph RGW.

- Two spoolers (--once -j 2 each) started together on the same 10 jobs:
  every job in done/, every file downloaded once and uploaded once.
- Requeue by hand: mv failed/X new/ clears failed_at, attempts and
  last_error and runs it; mv done/X new/ runs it again and keeps a single
  object (and puts it back when it was deleted meanwhile).
- --watch: a signed webhook posted through lighttpd and the real responder
  (tests/rig/webrig.py), and a job dropped by the spool's enqueue protocol,
  each become an object within seconds, and so does a retry once it falls
  due (not before); SIGTERM ends it with status 0.
- Exit statuses: 0, 1 (a job failed), 2 (usage: unknown option, -j 0, two
  modes; config: unknown key, missing s3_bucket, no file), 3 (spool_dir is
  a file)."""

import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
import webrig  # noqa: E402
from spoolrig import PART, MIB, check_done, wait_for, key_of, last_seq  # noqa: E402


def case_two_spoolers(tap, rig):
    infos = {}
    for i in range(10):
        fid = "two%02d" % i
        size = PART + 5000 + i if i % 4 == 0 else MIB + 1000 * i
        infos[fid] = rig.add_file(fid, size)
        rig.fz.fault(fid, mode="slow", chunk=256 * 1024, delay=0.01)
        rig.enqueue(rig.job_for(infos[fid]))
    since = last_seq(rig)
    a = rig.start("--once", "-j", "2")
    b = rig.start("--once", "-j", "2")
    ra, rb = rig.collect(a, timeout=180), rig.collect(b, timeout=180)
    tap.eq((ra.rc, rb.rc), (0, 0), "two spoolers: both exit 0") or \
        tap.diag(ra.tail() + "\n----\n" + rb.tail())
    st = rig.states()
    tap.eq(st["done"], sorted(spoolrig.job_name(f) for f in infos),
           "two spoolers: all 10 jobs in done/")
    tap.eq((st["new"], st["cur"], st["failed"]), ([], [], []),
           "two spoolers: nothing in new/, cur/, failed/")
    counts = {}
    for e in rig.requests(server="cdn", since=since):
        counts[e.get("file_id")] = counts.get(e.get("file_id"), 0) + 1
    tap.eq(counts, {f: 1 for f in infos}, "two spoolers: each file downloaded once")
    starts = [ln.split("job=")[1].split()[0] for r in (ra, rb)
              for ln in r.events("transfer.start")]
    tap.eq(sorted(starts), sorted(spoolrig.job_name(f) for f in infos),
           "two spoolers: each job started once, by one of them")
    tap.diag("spooler A ran %d jobs, B %d" % (len(ra.events("transfer.start")),
                                             len(rb.events("transfer.start"))))
    puts = sum(ln.count("op=PutObject") + ln.count("op=CompleteMultipartUpload")
               for r in (ra, rb) for ln in r.stderr.splitlines())
    tap.eq(puts, 10, "two spoolers: 10 uploads (PUT or Complete) in all")
    for fid, info in infos.items():
        tap.eq(rig.object_sha256(key_of(rig, fid)), (info["sha256"], info["size"]),
               "two spoolers: %s byte-exact" % fid)
    tap.eq(len(rig.objects("rec/%s/two" % rig.name)), 10, "two spoolers: 10 objects")
    tap.eq(rig.uploads(), [], "two spoolers: no multipart upload left")


def case_same_key_two_processes(tap, rig):
    """Two jobs bound for one key, run by two spooler processes at once (as
    overlapping cron runs would): the second waits for the first's key lock,
    then finds the object and moves aside. Neither object replaces the other."""
    key = "rec/%s/shared.mp4" % rig.name
    infos = {}
    for fid in ("xkey1", "xkey2"):
        infos[fid] = rig.add_file(fid, PART + 3 * MIB + len(fid))
        rig.fz.fault(fid, mode="slow", chunk=256 * 1024, delay=0.02)
    rig.enqueue(rig.job_for(infos["xkey1"], key=key))
    a = rig.start("--once", "-j", "1")
    deadline = time.time() + 60
    while not rig.requests(server="cdn", file_id="xkey1") and time.time() < deadline:
        time.sleep(0.1)
    # A --once run took its list at start: job 2 is B's alone.
    rig.enqueue(rig.job_for(infos["xkey2"], key=key))
    b = rig.start("--once", "-j", "1")
    ra, rb = rig.collect(a, timeout=180), rig.collect(b, timeout=180)
    tap.eq((ra.rc, rb.rc), (0, 0), "same key, two processes: both exit 0") or \
        tap.diag(ra.tail() + "\n----\n" + rb.tail())
    keys = {fid: (rig.job("done", fid) or {}).get("s3_key") for fid in infos}
    tap.eq(keys, {"xkey1": key, "xkey2": "rec/%s/shared-xkey2.mp4" % rig.name},
           "same key, two processes: the first has the key, the second key-{file_id}")
    for fid, info in infos.items():
        if keys.get(fid):
            tap.eq(rig.object_sha256(keys[fid]), (info["sha256"], info["size"]),
                   "same key, two processes: %s byte-exact under its key" % fid)
    tap.eq(rig.uploads(), [], "same key, two processes: no multipart upload left")


def case_requeue(tap, rig):
    info = rig.add_file("rq", 2 * MIB)
    key = key_of(rig, "rq")
    rig.fz.fault("rq", mode="404", count=1)
    rig.enqueue(rig.job_for(info))
    r = rig.run("--once")
    tap.eq((r.rc, rig.where("rq")), (1, ["failed"]), "requeue: the job failed first (exit 1)")

    rig.move("rq", "failed", "new")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "requeue from failed/: exit status 0") or tap.diag(r.tail())
    tap.ok(r.events("job.requeued"), "requeue from failed/: logged as requeued")
    job = check_done(tap, rig, info, key, "requeue from failed/")
    tap.ok("failed_at" not in job, "requeue from failed/: failed_at cleared")
    tap.eq(job.get("attempts"), 0, "requeue from failed/: attempts reset to 0")

    first = job.get("completed_at")
    time.sleep(1.1)  # so a new completed_at differs from the old one
    rig.move("rq", "done", "new")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "requeue from done/: exit status 0") or tap.diag(r.tail())
    job = check_done(tap, rig, info, key, "requeue from done/")
    tap.ok(job.get("completed_at") and job.get("completed_at") != first,
           "requeue from done/: it was run again (new completed_at)",
           "%r then %r" % (first, job.get("completed_at")))
    tap.eq([o["key"] for o in rig.objects("rec/%s/rq" % rig.name)], [key],
           "requeue from done/: a single object, under its key")

    # The object was deleted meanwhile: the requeued job puts it back.
    rig.s3.delete_object(rig.bucket, key)
    rig.move("rq", "done", "new")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "requeue after a delete: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key, "requeue after a delete")


def case_watch(tap, rig):
    if os.geteuid() != 0 or not shutil.which("lighttpd"):
        if os.environ.get("ZOOM2S3_REQUIRE_ALL") == "1":
            tap.ok(False, "watch: lighttpd is needed (ZOOM2S3_REQUIRE_ALL=1)")
        else:
            tap.skip("watch", "lighttpd is not installed")
        return
    ws = webrig.Workspace()
    try:
        rig.write_config(spool_dir=ws.spool, retry_delay=5)
        uuid = "watch/meeting+1=="
        rig.fz.add_meeting(uuid, topic="Lecture [W1] watch")
        info = rig.add_file("watch1", PART + 777, meeting_uuid=uuid)
        key = "courses/uploads/W1/GMT20261126_200621_Recording.mp4"
        p = rig.start("--watch", "-j", "2")
        with webrig.Lighttpd(ws) as srv:
            a = srv.post_signed(rig.fz.webhook_event(uuid))
            tap.eq(a.status, 200, "watch: the webhook is answered 200 by lighttpd + responder")
            got = wait_for(lambda: rig.head(key), 30, 0.2)
        tap.ok(got, "watch: the webhook's file is in the bucket within 30 s",
               "spool: %r" % (os.listdir(os.path.join(ws.spool, "new")),))
        tap.eq(rig.object_sha256(key), (info["sha256"], info["size"]),
               "watch: the object is byte-exact")
        tap.ok(wait_for(lambda: os.path.exists(os.path.join(ws.spool, "done", "watch1.json")),
                        10), "watch: its job is in done/")

        # A job dropped by the enqueue protocol (tmp/, then a link into new/).
        info2 = rig.add_file("watch2", 1234)
        saved = rig.spool
        rig.spool = ws.spool
        try:
            rig.enqueue(rig.job_for(info2))
        finally:
            rig.spool = saved
        got = wait_for(lambda: rig.head(key_of(rig, "watch2")), 30, 0.2)
        tap.ok(got, "watch: a job linked into new/ is picked up within 30 s")
        tap.eq(rig.object_sha256(key_of(rig, "watch2")), (info2["sha256"], info2["size"]),
               "watch: that object is byte-exact")
        # A retry that falls due while it watches (no event announces it).
        info3 = rig.add_file("watch3", 999)
        due = time.time() + 3
        rig.spool = ws.spool
        try:
            rig.enqueue(rig.job_for(info3, attempts=1, next_attempt_at=time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(due + 1)), last_error="an earlier 503"))
        finally:
            rig.spool = saved
        got = wait_for(lambda: rig.head(key_of(rig, "watch3")), 40, 0.2)
        tap.ok(got, "watch: a retry is taken once due, within 40 s")
        done3 = None
        if wait_for(lambda: os.path.exists(os.path.join(ws.spool, "done", "watch3.json")), 10):
            with open(os.path.join(ws.spool, "done", "watch3.json")) as f:
                done3 = json.load(f)
        tap.ok(done3 and done3.get("completed_at", "") >= time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(due + 1)),
            "watch: ... and not before its next_attempt_at", repr(done3))
        tap.ok(p.poll() is None, "watch: still running")
        rig.signal(p, signal.SIGTERM)
        r = rig.collect(p, timeout=30)
        tap.eq(r.rc, 0, "watch: SIGTERM ends it with status 0 (within 30 s)") or \
            tap.diag(r.tail())
        tap.eq(sorted(os.listdir(os.path.join(ws.spool, "cur"))), [], "watch: nothing in cur/")
    finally:
        rig.write_config()
        ws.cleanup()


def case_exit_status(tap, rig):
    r = rig.run("--once")
    tap.eq(r.rc, 0, "exit 0: nothing to do")
    r = rig.run("--once", config=False, env={"ZOOM2S3_CONFIG": rig.config_path})
    tap.eq(r.rc, 0, "exit 0: the config found through $ZOOM2S3_CONFIG") or tap.diag(r.tail())
    r = rig.run("--help", verbose=False)
    tap.eq(r.rc, 0, "exit 0: --help")
    for args, what in ((["--bogus"], "an unknown option"), (["-j", "0"], "-j 0"),
                       (["-j", "x"], "-j x"), (["--once", "--watch"], "--once --watch"),
                       (["extra"], "an extra argument")):
        r = rig.run(*args, verbose=False)
        tap.eq(r.rc, 2, "exit 2: %s" % what) or tap.diag(r.tail())
    bad = os.path.join(rig.root, "bad.conf")
    cases = (("bogus_key = 1\n", "an unknown key", ":%d" % (len(rig.config) + 1)),
             (None, "no s3_bucket", "s3_bucket"),
             ("part_size = 1M\n", "a part_size under 5M", "part_size"))
    for extra, what, needle in cases:
        with open(bad, "w") as f:
            for k, v in rig.config.items():
                if extra is None and k == "s3_bucket":
                    continue
                f.write("%s = %s\n" % (k, v))
            f.write(extra or "")
        r = rig.run("-c", bad, "--once", config=False, verbose=False)
        tap.eq(r.rc, 2, "exit 2: config with %s" % what) or tap.diag(r.tail())
        tap.ok(needle in r.stderr, "exit 2: the message names %s" % needle, r.tail())
    # A setting only s3.c can judge: virtual-host addressing on an IP endpoint.
    with open(bad, "w") as f:
        for k, v in rig.config.items():
            if k != "s3_path_style":
                f.write("%s = %s\n" % (k, v))
        f.write("s3_path_style = false\n")
    r = rig.run("-c", bad, "--once", config=False, verbose=False)
    tap.eq(r.rc, 2, "exit 2: an endpoint that virtual-host addressing cannot use") or \
        tap.diag(r.tail())
    tap.ok(bad in r.stderr, "exit 2: that message names the config file", r.tail())
    r = rig.run("-c", os.path.join(rig.root, "missing.conf"), config=False, verbose=False)
    tap.eq(r.rc, 2, "exit 2: the config file does not exist")
    # A job file broken by hand (and settled: not being written) goes to
    # failed/ as it is, and the run says a job failed.
    junk = os.path.join(rig.spool, "new", "junk.json")
    with open(junk, "w") as f:
        f.write('{"recording_file_id": "junk",')
    os.utime(junk, (time.time() - 60, time.time() - 60))
    r = rig.run("--once", verbose=False)
    tap.eq(r.rc, 1, "exit 1: a job that does not parse went to failed/") or tap.diag(r.tail())
    tap.ok(os.path.exists(os.path.join(rig.spool, "failed", "junk.json")) and
           not os.path.exists(junk), "the broken job is in failed/, as it was written")
    os.unlink(os.path.join(rig.spool, "failed", "junk.json"))
    afile = os.path.join(rig.root, "not-a-dir")
    with open(afile, "w") as f:
        f.write("x\n")
    rig.write_config(spool_dir=afile)
    r = rig.run("--once", verbose=False)
    rig.write_config()
    tap.eq(r.rc, 3, "exit 3: spool_dir is a file") or tap.diag(r.tail())


if __name__ == "__main__":
    spoolrig.main("modes",
                  case_exit_status,
                  case_two_spoolers,
                  case_same_key_two_processes,
                  case_requeue,
                  case_watch)
