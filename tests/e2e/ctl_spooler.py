#!/usr/bin/env python3
"""zoom2s3ctl with the real spooler, a stand-in Zoom and the local Ceph RGW
(tests/rig/spoolrig.py), and the spooler's metrics file:

- a run leaves one job done, one failed (Zoom's 404) and one waiting to
  retry (a 503); the metrics file counts them by state, outcome and reason;
- status exits 1 and names the failure; list --json and show (token
  masked) show the jobs; requeue and retry-now send them back, and the next
  run finishes them; status then exits 0; the counters carry on;
- check-config --online HEADs the bucket and gets an OAuth token, and
  FAILs with a wrong bucket or client secret;
- under --watch the metrics file is written while the spooler runs."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402

CTL = os.path.join(spoolrig.BUILDDIR, "src", "zoom2s3ctl")
MIB = 1024 * 1024
outputs = []   # every ctl output, checked for secrets at the end


def ctl(rig, *args):
    env = rig.env()
    p = subprocess.run([CTL, "-c", rig.config_path] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, timeout=120)
    outputs.append(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def metrics(path):
    """{name-with-labels: value} of a textfile."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
    except OSError:
        return None
    return out


def body(tap, rig):
    if not os.access(CTL, os.X_OK):
        tap.ok(False, "zoom2s3ctl is built", CTL)
        return
    mdir = os.path.join(rig.root, "textfile")
    os.makedirs(mdir)
    mfile = os.path.join(mdir, "zoom2s3.prom")
    rig.write_config(metrics_file=mfile, **rig.oauth_config())

    a = rig.add_file("ctl-a", 1 * MIB + 17)
    b = rig.add_file("ctl-b", 2 * MIB + 5)
    c = rig.add_file("ctl-c", 3 * MIB + 3)
    rig.fz.fault("ctl-b", "404")
    rig.fz.fault("ctl-c", "503", count=1)
    for f in (a, b, c):
        rig.enqueue(rig.job_for(f))

    r = rig.run("--once")
    tap.eq(r.rc, 1, "first run: exit 1 (a job went to failed/)")
    tap.eq((rig.where("ctl-a"), rig.where("ctl-b"), rig.where("ctl-c")),
           (["done"], ["failed"], ["new"]), "a done, b failed, c waiting to retry")

    m = metrics(mfile)
    tap.ok(m is not None, "the metrics file was written at the end of the run")
    m = m or {}
    tap.eq([m.get('zoom2s3_jobs{state="%s"}' % s) for s in ("new", "cur", "done", "failed")],
           [1, 0, 1, 1], "jobs by state")
    tap.eq(m.get("zoom2s3_uploaded_bytes_total"), a["size"], "bytes uploaded: a's size")
    tap.eq((m.get('zoom2s3_transfers_total{outcome="done"}'),
            m.get('zoom2s3_transfers_total{outcome="retry"}'),
            m.get('zoom2s3_transfers_total{outcome="giveup"}')), (1, 1, 1),
           "transfers by outcome")
    tap.eq((m.get('zoom2s3_transfer_failures_total{reason="zoom_gone"}'),
            m.get('zoom2s3_transfer_failures_total{reason="zoom_unavailable"}')), (1, 1),
           "failures by reason: b's 404 is zoom_gone, c's 503 zoom_unavailable")
    last = m.get("zoom2s3_last_success_timestamp_seconds", 0)
    tap.ok(abs(last - time.time()) < 600, "last success is now-ish", repr(last))
    tap.ok(m.get("zoom2s3_transfer_seconds_total", -1) > 0, "transfer seconds counted")
    tap.eq(sorted(os.listdir(mdir)), ["zoom2s3.prom"], "no temporary file beside it")

    rc, out, err = ctl(rig, "status")
    tap.eq(rc, 1, "status: exit 1 while failed/ holds a job")
    tap.ok("PROBLEM: 1 job in failed/" in out and "404 Not Found" in out,
           "status names the failure and its reason", out, err)
    tap.ok("last success:" in out and "ctl-a.json" in out, "and the last success", out)
    tap.ok("0 due now, 1 waiting to retry" in out, "and the job waiting to retry", out)

    rc, out, err = ctl(rig, "list", "failed", "--json")
    try:
        rows = json.loads(out)
    except ValueError:
        rows = None
    tap.ok(rc == 0 and isinstance(rows, list) and len(rows) == 1 and
           rows[0]["name"] == "ctl-b.json" and rows[0]["attempts"] == 1 and
           "404" in rows[0]["last_error"] and rows[0]["file_size"] == b["size"],
           "list failed --json: valid JSON with b, its attempts, size and error", out, err)
    rc, out, err = ctl(rig, "list")
    tap.ok(rc == 0 and out.count("\n") == 4 and "ctl-c.json" in out, "list: header and 3 jobs",
           out)

    rc, out, err = ctl(rig, "show", "ctl-b")
    tap.ok(rc == 0 and '"recording_file_id":"ctl-b"' in out.replace(" ", ""),
           "show by recording file id", out, err)
    tap.ok(b["token"] not in out and '"download_token":"***"' in out.replace(" ", ""),
           "show masks the download token", out)

    rig.fz.clear_faults()
    rc, out, err = ctl(rig, "requeue", "ctl-b")
    tap.ok(rc == 0 and rig.where("ctl-b") == ["new"], "requeue ctl-b: back in new/", out, err)
    job = rig.job("new", "ctl-b") or {}
    tap.ok(job.get("attempts") == 0 and "failed_at" not in job and "last_error" not in job and
           "requeued_at" in job, "attempts reset, failure fields gone", json.dumps(job))
    rc, out, err = ctl(rig, "requeue", "ctl-a")
    tap.ok(rc == 0 and rig.where("ctl-a") == ["new"], "requeue from done/ works too", out, err)
    rc, out, err = ctl(rig, "retry-now")
    tap.ok(rc == 0 and "next_attempt_at" not in (rig.job("new", "ctl-c") or {"x": 1}) and
           "1 of 3 jobs in new/ made due now" in out, "retry-now: c is due now", out, err)

    r = rig.run("--once")
    tap.eq(r.rc, 0, "second run: exit 0")
    tap.eq([rig.where(x) for x in ("ctl-a", "ctl-b", "ctl-c")], [["done"]] * 3,
           "every job done")
    for f in (a, b, c):
        key = "rec/%s/%s.mp4" % (rig.name, f["id"])
        tap.eq(rig.object_sha256(key), (f["sha256"], f["size"]), "%s byte-exact" % f["id"])
    m = metrics(mfile) or {}
    tap.eq(m.get('zoom2s3_transfers_total{outcome="done"}'), 4,
           "counters carried over from the first run's file (1 + 3 done)")
    tap.eq(m.get("zoom2s3_uploaded_bytes_total"), 2 * a["size"] + b["size"] + c["size"],
           "bytes counted per file that reached done/ (a twice: requeued)")
    tap.eq(m.get('zoom2s3_transfer_failures_total{reason="zoom_gone"}'), 1,
           "old failures kept")
    tap.eq([m.get('zoom2s3_jobs{state="%s"}' % s) for s in ("new", "failed", "done")],
           [0, 0, 3], "jobs by state now")

    rc, out, err = ctl(rig, "status")
    tap.ok(rc == 0 and out.rstrip().endswith("OK"), "status: exit 0, OK", out, err)
    rc, out, err = ctl(rig, "prune", "--older-than", "1")
    tap.ok(rc == 0 and "removed 0 of 3" in out, "prune keeps jobs finished today", out)

    rc, out, err = ctl(rig, "check-config", "--online")
    tap.ok(rc == 0, "check-config --online: exit 0", out, err)
    tap.ok("ok   bucket %s: HEAD answered 200" % rig.bucket in out, "the bucket answers", out)
    tap.ok("ok   Zoom OAuth:" in out and "gave a token" in out, "an OAuth token", out)
    cfg = dict(rig.config)
    rig.write_config(metrics_file=mfile, s3_bucket="no-such-bucket-h10",
                     zoom_account_id="fz-account", zoom_client_id="fz-client-id",
                     zoom_client_secret="wrong-client-secret")
    rc, out, err = ctl(rig, "check-config", "--online")
    tap.ok(rc == 1 and "FAIL bucket no-such-bucket-h10" in out and "FAIL Zoom OAuth:" in out,
           "a missing bucket and a wrong client secret: FAIL, exit 1", out, err)
    tap.ok("wrong-client-secret" not in out + err, "the secret is not shown")
    rig.write_config(**{k: v for k, v in cfg.items() if k not in rig.base_config()})

    # --watch: the file is written while the spooler runs, not only at its end
    os.unlink(mfile)
    p = rig.start("--watch")
    written = spoolrig.wait_for(lambda: os.path.exists(mfile), 30)
    tap.ok(written and p.poll() is None, "--watch writes the metrics file while it runs")
    rig.signal(p, signal.SIGTERM)
    r = rig.collect(p)
    tap.eq(r.rc, 0, "--watch stops on SIGTERM with exit 0")

    leaks = [s for s in ("fz-client-secret", rig.s3env["AWS_SECRET_ACCESS_KEY"], a["token"],
                         b["token"], c["token"]) if any(s in o for o in outputs)]
    tap.ok(not leaks, "no secret or token in any zoom2s3ctl output", *leaks)
    san = [ln for o in outputs for ln in o.splitlines()
           if any(mk in ln for mk in spoolrig.SANITIZER_MARKS)]
    tap.ok(not san, "no sanitizer report from zoom2s3ctl", *san[:5])


spoolrig.main("ctl", body)
