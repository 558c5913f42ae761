#!/usr/bin/env python3
"""TAP: retention in Zoom, rule by rule of the contract's "Retention in
Zoom", with the real responder (CGI) making the jobs, the real spooler, a
real Ceph RGW and the stand-in Zoom:

- keep (the default): nothing is ever removed;
- trash: a done job whose completed_at is zoom_after_upload_delay ago is
  verified with a HEAD (size, Zoom file id) and its one file is removed
  with DELETE .../meetings/{uuid, double-encoded}/recordings/{id}?action=trash;
  zoom_removed_at and zoom_removal recorded in the done/ job; its siblings
  untouched; its download then fails as Zoom's does; never removed twice;
- the delay: a job completed less than the delay ago waits;
- delete: action=delete;
- a job in failed/, or one zoom2s3 did not complete, is never removed;
- the object gone from S3, replaced by another Zoom file's, or of another
  size: zoom_removal_error and no DELETE;
- a 404: zoom_removal = gone; another answer (500, 403 naming the missing
  scope): zoom_removal_error, tried again on a later run, which removes it;
- --watch removes on a thread of its own, periodically;
- status counts the jobs awaiting removal and the errors, list shows each
  job's removal, prune keeps the jobs awaiting it, the metrics file counts
  removals, and each removal is one log line."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import cgirun  # noqa: E402
import fakezoom  # noqa: E402
import spoolrig  # noqa: E402
import webrig  # noqa: E402

CTL = os.path.join(spoolrig.BUILDDIR, "src", "zoom2s3ctl")
SECRET = "cmV0ZW50aW9uLXdlYmhvb2stc2VjcmV0"
SETTINGS = {
    "webhook_secret_token": SECRET,
    "file_types": "MP4",
    "key_template": "rec/{file_id}.{ext}",
}


def meeting(rig, uuid_, ids, size=6000):
    """A meeting of two files or more, spooled by the real responder."""
    for i, fid in enumerate(ids):
        rig.fz.add_file(fid, size=size + i, meeting_uuid=uuid_)
    status, err = cgirun.post(rig.config_path, SECRET, rig.fz.webhook_event(uuid_))
    if status != 200:
        raise RuntimeError("the responder answered %r: %s" % (status, err[-500:]))


def deletes(rig, since=0):
    return [e for e in rig.fz.requests(kind="delete", since=since)]


def seq(rig):
    reqs = rig.fz.log()["requests"]
    return reqs[-1]["seq"] if reqs else 0


def retention(rig, action="trash", delay=0, **more):
    cfg = dict(rig.oauth_config(), **SETTINGS)
    cfg.update(zoom_after_upload=action, zoom_after_upload_delay=delay,
               metrics_file=os.path.join(rig.root, "zoom2s3.prom"))
    cfg.update(more)
    rig.write_config(**cfg)


def ctl(rig, *args):
    p = subprocess.run([CTL, "-c", rig.config_path] + list(args), env=rig.env(),
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def rewrite_done(rig, fid, **fields):
    """An operator's hand edit of a done/ job (the protocol takes it as it is)."""
    path = os.path.join(rig.spool, "done", webrig.job_name(fid))
    with open(path) as f:
        job = json.load(f)
    job.update(fields)
    tmp = path + ".edit"
    with open(tmp, "w") as f:
        json.dump(job, f, indent=2)
    os.chmod(tmp, 0o640)
    os.rename(tmp, path)


def ago(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def downloads_html(rig, fid):
    info = rig.fz.file_info(fid)
    import urllib.request
    req = urllib.request.Request(info["download_url"],
                                 headers={"Authorization": "Bearer " + info["token"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status == 200 and r.headers.get("Content-Type", "").startswith("text/html")


def case_keep(tap, rig):
    rig.write_config(**dict(rig.oauth_config(), **SETTINGS))
    meeting(rig, "keep/1+a==", ["k1", "k2"])
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "keep: the spooler uploads") or tap.diag(r.tail())
    tap.eq((rig.where("k1"), rig.where("k2")), (["done"], ["done"]), "keep: both in done/")
    r = rig.run("--once")
    tap.eq(deletes(rig, since), [], "keep (the default): no DELETE, ever")
    job = rig.job("done", "k1") or {}
    tap.ok(not any(k.startswith("zoom_remov") for k in job), "keep: no zoom_removal field",
           repr(job))


def case_trash_and_delay(tap, rig):
    retention(rig, "trash", delay=3 * 86400)
    meeting(rig, "/tr//1+b==", ["t1", "t2"])
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "trash, delay 3600: the spooler uploads") or tap.diag(r.tail())
    tap.eq(deletes(rig, since), [], "completed less than zoom_after_upload_delay ago: no DELETE")
    tap.ok("zoom_removed_at" not in (rig.job("done", "t1") or {}), "  ... nothing recorded")
    rc, out, _ = ctl(rig, "status")
    tap.ok(re.search(r"zoom removal \(trash\):\s+4 done jobs await it \(0 due now, 4 waiting",
                     out), "status counts the done jobs awaiting removal (keep's two as well: "
           "retention applies to every done job)", out)
    for fid in ("k1", "k2", "t1", "t2"):  # a day later, as far as the jobs say
        rewrite_done(rig, fid, completed_at=ago(86400))
    rc, out, _ = ctl(rig, "list", "done")
    tap.ok(re.search(r"t1\.json.*\[zoom: waiting (1d 23h|2d 00h)\]", out),
           "list shows a job waiting for its removal", out)
    rc, out, _ = ctl(rig, "prune", "--older-than", "0")
    tap.ok(rig.where("t1") == ["done"] and rig.where("k1") == ["done"] and
           "removed 0 of 4" in out and "kept 4 jobs whose file still awaits removal" in out,
           "prune keeps the jobs awaiting removal", out)

    # Three days and a minute later, as far as the job says.
    rewrite_done(rig, "t1", completed_at=ago(3 * 86400 + 60))
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "trash: the next run's exit status 0") or tap.diag(r.tail())
    d = deletes(rig, since)
    tap.eq([(e["method"], e.get("file_id"), e.get("action"), e.get("status")) for e in d],
           [("DELETE", "t1", "trash", 204)], "one DELETE of t1, action=trash, answered 204")
    tap.eq(d and d[0]["path"].split("/")[3], fakezoom.double_encode("/tr//1+b=="),
           "  ... the meeting uuid double-encoded in its path")
    heads = [ln for ln in r.stderr.splitlines() if "zoom.removed" in ln]
    tap.ok(len(heads) == 1, "one log line for the removal", r.tail())
    job = rig.job("done", "t1") or {}
    tap.ok(job.get("zoom_removal") == "trash" and
           re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", job.get("zoom_removed_at", "")),
           "t1: zoom_removal trash, zoom_removed_at RFC 3339", repr(job))
    tap.eq(rig.fz.config_public() and rig.fz.file_info("t1").get("removed"), "trash",
           "Zoom has t1 in its trash")
    tap.ok(not rig.fz.file_info("t2").get("deleted"), "its sibling t2 (still waiting) is untouched")
    tap.ok(downloads_html(rig, "t1"), "t1's download now answers Zoom's HTML page")
    since = seq(rig)
    rig.run("--once")
    tap.eq(deletes(rig, since), [], "a removed file is never removed again")
    rc, out, _ = ctl(rig, "list", "done", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    tap.eq(rows.get(webrig.job_name("t1"), {}).get("removal"), "trash",
           "list --json shows the removal")


def case_delete(tap, rig):
    retention(rig, "delete", delay=0)
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "delete: exit status 0") or tap.diag(r.tail())
    d = deletes(rig, since)
    tap.eq(sorted((e.get("file_id"), e.get("action")) for e in d),
           [("k1", "delete"), ("k2", "delete"), ("t2", "delete")],
           "delete, delay 0: k1, k2, t2 removed with action=delete (t1 already was)")
    tap.eq((rig.job("done", "t2") or {}).get("zoom_removal"), "delete", "t2: zoom_removal delete")


def case_not_ours(tap, rig):
    retention(rig, "trash", delay=0)
    rig.fz.add_file("f1", size=5000, meeting_uuid="fail+1==")
    rig.fz.fault("f1", "404")  # Zoom no longer has it: the job fails
    status, _ = cgirun.post(rig.config_path, SECRET, rig.fz.webhook_event("fail+1=="))
    r = rig.run("--once")
    rig.fz.clear_faults("f1")
    tap.eq(rig.where("f1"), ["failed"], "a job that failed is in failed/") or tap.diag(r.tail())
    hand = {"recording_file_id": "h1", "meeting_uuid": "hand+1==", "s3_key": "rec/h1.mp4",
            "file_size": 10, "s3_bucket": rig.bucket, "attempts": 0}
    rig.fz.add_file("h1", size=10, meeting_uuid="hand+1==")
    path = os.path.join(rig.spool, "done", webrig.job_name("h1"))
    with open(path, "w") as f:
        json.dump(hand, f)
    since = seq(rig)
    rig.run("--once")
    tap.eq([e.get("file_id") for e in deletes(rig, since)], [],
           "a job in failed/ and a done/ job zoom2s3 did not complete: never removed")
    os.unlink(path)


def case_unverified(tap, rig):
    retention(rig, "trash", delay=3600)
    meeting(rig, "unv+1==", ["u1", "u2", "u3"])
    r = rig.run("--once")
    tap.eq(r.rc, 0, "three more uploads") or tap.diag(r.tail())
    rig.s3.delete_object(rig.bucket, "rec/u1.mp4")
    other = b"not the recording of u2" * 4
    rig.s3.put_object(rig.bucket, "rec/u2.mp4", other,
                      headers={"x-amz-meta-zoom-file-id": "someone-else"})
    rig.s3.put_object(rig.bucket, "rec/u3.mp4", b"short",
                      headers={"x-amz-meta-zoom-file-id": "u3"})
    for fid in ("u1", "u2", "u3"):
        rewrite_done(rig, fid, completed_at=ago(7200))
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "unverified uploads: exit status 0 (the jobs stay done)") or \
        tap.diag(r.tail())
    tap.eq(deletes(rig, since), [], "no DELETE for an upload that is not verified")
    errs = {fid: (rig.job("done", fid) or {}).get("zoom_removal_error", "") for fid in
            ("u1", "u2", "u3")}
    tap.ok("no longer holds the object" in errs["u1"], "object gone: zoom_removal_error says so",
           errs["u1"])
    tap.ok("another Zoom file (someone-else)" in errs["u2"],
           "object replaced by another Zoom file's: zoom_removal_error", errs["u2"])
    tap.ok("not file_size" in errs["u3"], "object of another size: zoom_removal_error",
           errs["u3"])
    tap.ok(all("zoom_removed_at" not in (rig.job("done", f) or {}) for f in errs),
           "  ... and no zoom_removed_at")
    tap.ok(not any(rig.fz.file_info(f).get("deleted") for f in errs), "Zoom still has all three")
    rc, out, _ = ctl(rig, "status")
    tap.ok(re.search(r"\d+ with errors\), \d+ removed; last error: the upload is not verified",
                     out), "status counts the removal errors and shows one", out)
    rc, out, _ = ctl(rig, "list", "done")
    tap.ok(re.search(r"u1\.json.*\[zoom: error: the upload is not verified", out),
           "list shows the error", out)


def case_gone_and_retry(tap, rig):
    retention(rig, "trash", delay=0)
    # u1..u3 stay unverified; make them not due again by hand (their objects are wrong).
    for fid in ("u1", "u2", "u3"):
        rewrite_done(rig, fid, zoom_removed_at=ago(0), zoom_removal="trash")
    meeting(rig, "gone+1==", ["g1", "g2", "g3"])
    rig.fz.fault("_delete", "500", count=1)
    rig.fz.fault("_delete", "status", count=1, status=400,
                 body=json.dumps({"code": 4711, "message": "Invalid access token, does not "
                                  "contain scopes:[cloud_recording:delete:recording_file:admin]."}))
    # g1's file is gone from Zoom by the time retention comes to it.
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "uploads, then removals that fail: exit status 0") or tap.diag(r.tail())
    errs = sorted((rig.job("done", f) or {}).get("zoom_removal_error", "") for f in
                  ("g1", "g2"))
    tap.ok(any("500" in e for e in errs), "a 500: zoom_removal_error", errs)
    tap.ok(any("code 4711" in e and "scope" in e and
               "cloud_recording:delete:recording_file:admin" in e for e in errs),
           "a refusal for a missing scope: the error says which scope", errs)
    tap.eq((rig.job("done", "g3") or {}).get("zoom_removal"), "trash",
           "the third file of the pass is removed all the same")
    rig.fz.delete_file("g1")  # removed in Zoom meanwhile (by its host, say)
    since = seq(rig)
    r = rig.run("--once")
    tap.eq(sorted((e.get("file_id"), e.get("status")) for e in deletes(rig, since)),
           [("g1", 404), ("g2", 204)], "a later run tries both again: g1 404, g2 204")
    j1, j2 = rig.job("done", "g1") or {}, rig.job("done", "g2") or {}
    tap.ok(j1.get("zoom_removal") == "gone" and "zoom_removal_error" not in j1,
           "a 404: zoom_removal gone, the error cleared", repr(j1))
    tap.ok(j2.get("zoom_removal") == "trash" and "zoom_removal_error" not in j2,
           "retried: removed, the error cleared", repr(j2))


def case_metrics(tap, rig):
    path = os.path.join(rig.root, "zoom2s3.prom")
    with open(path) as f:
        text = f.read()
    got = dict(re.findall(r'zoom2s3_zoom_removals_total\{result="(\w+)"\} (\d+)', text))
    tap.ok(int(got.get("trash", 0)) >= 3 and int(got.get("delete", 0)) == 3 and
           int(got.get("gone", 0)) == 1 and int(got.get("error", 0)) >= 5,
           "the metrics file counts removals by result, across runs", got)


def case_watch(tap, rig):
    retention(rig, "trash", delay=0)
    p = rig.start("--watch")
    try:
        meeting(rig, "watch+1==", ["w1", "w2"])
        removed = spoolrig.wait_for(
            lambda: all((rig.job("done", f) or {}).get("zoom_removal") == "trash"
                        for f in ("w1", "w2")), 90, interval=0.5)
        tap.ok(removed, "--watch: jobs that reach done/ are removed from Zoom by a later pass")
        meeting(rig, "watch+2==", ["w3"])
        tap.ok(spoolrig.wait_for(lambda: rig.where("w3") == ["done"], 60),
               "  ... and transfers go on meanwhile")
    finally:
        rig.signal(p, 15)
        r = rig.collect(p)
    tap.eq(r.rc, 0, "--watch: SIGTERM, exit status 0") or tap.diag(r.tail())


def body(tap, rig):
    for case in (case_keep, case_trash_and_delay, case_delete, case_not_ours,
                 case_unverified, case_gone_and_retry, case_metrics, case_watch):
        case(tap, rig)


if __name__ == "__main__":
    if not os.access(CTL, os.X_OK) or not os.access(cgirun.RESPONDER, os.X_OK):
        print("1..1\nnot ok 1 - zoom2s3ctl or the responder not built")
        sys.exit(1)
    spoolrig.main("retention", body)
