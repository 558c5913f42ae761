#!/usr/bin/env python3
"""bench/backfill.py: zoom2s3ctl backfill over a large account on the
stand-in Zoom (tests/rig/fakezoom.py, in this process).

An account of --users users (two thirds active, one third inactive) holds
--meetings meetings (one MP4 each) spread over --days days. zoom2s3ctl
backfill lists it into an empty spool (every file spooled, each with its
fsync'ed enqueue), then again (every file already there), each under
/usr/bin/time -v. For each run: wall time, CPU, max RSS, the API requests
the stand-in saw, against the fewest the listing needs: one page of users
per status (the users fit one page of 300) plus, for every user and every
window of 30 days, ceil(meetings in it / 300) pages (at least one).
A last run caps the stand-in's recordings page at --small-page meetings, to
show what pagination costs.

Prints a Markdown table and "BACKFILL_RESULT {...}"; exits 1 when a run
fails or spools other than every meeting, never because of a timing.
"""

import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
import fakezoom  # noqa: E402

WINDOW = 30
PAGE = 300


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="build dir with src/zoom2s3ctl")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--meetings", type=int, default=2000)
    ap.add_argument("--days", type=int, default=90, help="the period the meetings cover")
    ap.add_argument("--small-page", type=int, default=10,
                    help="the stand-in's page cap of the last run")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None)
    return ap.parse_args()


def populate(fz, a, today):
    users = []
    for i in range(a.users):
        uid = "BU%03d" % i
        status = "inactive" if i % 3 == 2 else "active"
        fz.add_user(uid, email="%s@bench.example" % uid.lower(), status=status)
        users.append(uid)
    per = {}
    for k in range(a.meetings):
        host = users[k % a.users]
        day = today - datetime.timedelta(days=(k * 7919) % a.days)
        uuid_ = "bench/%05d+m==" % k
        start = "%sT%02d:00:00Z" % (day.isoformat(), 8 + k % 10)
        fz.add_meeting(uuid_, topic="Lecture %d [B%d]" % (k, k % 17), host_id=host,
                       host_email="%s@bench.example" % host.lower(), start_time=start)
        fz.add_file("bf%05d" % k, size=1000 + k, meeting_uuid=uuid_,
                    recording_start=start.replace(":00:00Z", ":00:05Z"),
                    recording_end=start.replace(":00:00Z", ":50:05Z"))
        per.setdefault(host, []).append(day)
    return users, per


def fewest_requests(per, users, first, last, page):
    """Pages of users (one per status) + pages of recordings per user-window."""
    windows = []
    d = first
    while d <= last:
        end = min(d + datetime.timedelta(days=WINDOW - 1), last)
        windows.append((d, end))
        d = end + datetime.timedelta(days=1)
    n = 2 * max(1, math.ceil(len(users) / PAGE))
    for u in users:
        days = per.get(u, [])
        for lo, hi in windows:
            n += max(1, math.ceil(sum(1 for x in days if lo <= x <= hi) / page))
    return n, len(windows)


def timed(argv, env):
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + argv, env=env, capture_output=True,
                       text=True)
    wall = time.monotonic() - t0
    err = p.stderr
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return p.returncode, p.stdout, err, wall, cpu, int(rss.group(1)) / 1024 if rss else 0.0


def run_once(label, a, fz, conf, spool, env, first, fewest):
    seq = fz.log()["requests"][-1]["seq"] if fz.log()["requests"] else 0
    rc, out, err, wall, cpu, rss = timed(
        [os.path.join(a.build, "src", "zoom2s3ctl"), "-c", conf, "backfill", "--from",
         first.isoformat()], env)
    reqs = [e for e in fz.requests(since=seq) if e.get("kind") in ("users", "user_recordings")]
    oauth = [e for e in fz.requests(since=seq) if e.get("path") == "/oauth/token"]
    spooled = sum(1 for ln in out.splitlines() if ln.startswith("spooled "))
    exists = sum(1 for ln in out.splitlines() if ln.startswith("exists "))
    row = {"run": label, "rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "max_rss_mib": round(rss, 1), "api_requests": len(reqs), "oauth_requests": len(oauth),
           "fewest_requests": fewest, "spooled": spooled, "exists": exists,
           "in_new": len(os.listdir(os.path.join(spool, "new")))}
    if rc != 0:
        sys.stderr.write(err[-3000:])
    return row


def main():
    a = parse_args()
    work = tempfile.mkdtemp(prefix="bench-backfill-", dir=a.workdir)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    first = today - datetime.timedelta(days=a.days - 1)
    fz = fakezoom.FakeZoom(state_dir=os.path.join(work, "fz")).start()
    try:
        t0 = time.monotonic()
        users, per = populate(fz, a, today)
        print("# the stand-in holds %d users and %d meetings (%.1f s to make)"
              % (a.users, a.meetings, time.monotonic() - t0), flush=True)
        spool = os.path.join(work, "spool")
        for d in ("tmp", "new", "cur", "done", "failed"):
            os.makedirs(os.path.join(spool, d))
        conf = os.path.join(work, "zoom2s3.conf")
        with open(conf, "w") as f:
            f.write("spool_dir = %s\nzoom_account_id = fz-account\nzoom_client_id = fz-client-id\n"
                    "zoom_client_secret = fz-client-secret\nzoom_oauth_url = %s/oauth/token\n"
                    "zoom_api_url = %s/v2\ntopic_regex = \\[([A-Z0-9]+)\\]\n"
                    "key_template = {1}/{recording_start:%%Y-%%m-%%d_%%H%%M}.{ext}\n"
                    % (spool, fz.base_url, fz.base_url))
        os.chmod(conf, 0o600)
        env = {"PATH": "/usr/bin:/bin", "ZOOM2S3_LOG": "stderr", "HOME": work}
        fewest, windows = fewest_requests(per, users, first, today, PAGE)
        rows = [run_once("empty spool", a, fz, conf, spool, env, first, fewest),
                run_once("rerun (all exist)", a, fz, conf, spool, env, first, fewest)]
        fz.set_config(recordings_page_max=a.small_page)
        small, _ = fewest_requests(per, users, first, today, a.small_page)
        rows.append(run_once("rerun, pages of %d" % a.small_page, a, fz, conf, spool, env,
                             first, small))
    finally:
        fz.stop()
    print("\n| run | wall s | CPU s | max RSS MiB | API requests | fewest (pages x windows) "
          "| ratio | spooled | exists |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.2f | %.1f | %d | %d | %.2f | %d | %d |" % (
            r["run"], r["wall_s"], r["cpu_s"], r["max_rss_mib"], r["api_requests"],
            r["fewest_requests"], r["api_requests"] / max(1, r["fewest_requests"]),
            r["spooled"], r["exists"]))
    result = {"users": a.users, "meetings": a.meetings, "days": a.days, "windows": windows,
              "rows": rows}
    print("BACKFILL_RESULT " + json.dumps(result), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    ok = (all(r["rc"] == 0 for r in rows) and rows[0]["spooled"] == a.meetings and
          rows[0]["in_new"] == a.meetings and rows[1]["spooled"] == 0 and
          rows[1]["exists"] == a.meetings and rows[2]["exists"] == a.meetings)
    if not ok:
        print("backfill bench: a run failed or did not spool every meeting once", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
