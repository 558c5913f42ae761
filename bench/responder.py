#!/usr/bin/env python3
"""bench/responder.py: zoom2s3.fcgi against its ceiling, under lighttpd.

Both run under lighttpd on loopback with the shipped snippet
(cgi-bin/lighttpd-zoom2s3.conf: mod_fastcgi, bin-path, max-procs 2), each
in a fresh workspace (tests/rig/webrig.py). wrk posts pre-signed, distinct
recording.completed events (one MP4 file each, so each accepted event
spools one job, fsynced) over C connections, with bench/wrk_post.lua:

    hello     bench/hello_fcgi.c: reads the body, answers 200 (the ceiling)
    zoom2s3   zoom2s3.fcgi: checks the signature, parses, spools, answers

The two alternate, RUNS times each. After each zoom2s3 run the spool is
checked: every event the responder accepted (its log line says status=200
spooled=1) is one job in new/, nothing is left in tmp/, no job is there
twice, every job is an event that was sent, and wrk's 2xx count is at most
the job count (at most C more jobs: answers in flight when wrk stopped).

Prints a table and a JSON summary line ("RESPONDER_RESULT {...}"); exits 1
when a check fails or a tool breaks, never because of a timing.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="build dir with src/zoom2s3.fcgi")
    ap.add_argument("--hello", required=True, help="the built hello_fcgi")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--events", type=int, default=0,
                    help="distinct events per run (default: duration x 8000; the hello "
                    "ceiling, which spools nothing, cycles through them)")
    ap.add_argument("--workdir", default=None, help="where request files go")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--max-procs", type=int, default=0,
                    help="override the snippet's max-procs (default: as shipped, 2)")
    ap.add_argument("--kinds", default="hello,hello-fsync,zoom2s3,zoom2s3-tmpfs",
                    help="which responders to run, in turn (comma list): hello, hello-fsync "
                    "(hello that makes each body a durable file as the spool does: the "
                    "ceiling of one fsynced job per request), zoom2s3, zoom2s3-tmpfs (the "
                    "spool on a tmpfs: the responder without the disk)")
    return ap.parse_args()


def setup_rig(build):
    os.environ["top_srcdir"] = SRCDIR
    os.environ["top_builddir"] = os.path.abspath(build)
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
    import webrig  # noqa: E402  (needs top_builddir first)
    return webrig


def write_requests(webrig, path, secret, n, tag):
    """n signed events, one per line: "<ts> <signature> <body>". Each names
    one recording file with an id of its own. The first line is a filler
    that spools nothing (wrk_post.lua)."""
    ts = int(time.time())
    ids = []
    with open(path, "w") as f:
        filler = webrig.body_of({"payload": {"plainToken": "filler"}, "event_ts": ts * 1000,
                                 "event": "endpoint.url_validation"}).decode()
        f.write("%d %s %s\n" % (ts, webrig.sign(secret, ts, filler), filler))
        for i in range(n):
            file_id = "bench-%s-%07d" % (tag, i)
            ids.append(file_id)
            ev = webrig.recording_event(
                "bench-%s-%07d==" % (tag, i),
                [webrig.rec_file(file_id, size=1 << 30, meeting_uuid="m%d" % i)])
            body = webrig.body_of(ev).decode()
            if "\n" in body:
                raise RuntimeError("a body holds a newline")
            f.write("%d %s %s\n" % (ts, webrig.sign(secret, ts, body), body))
    return set(ids)


def run_wrk(args, port, reqfile, url_path, cycle):
    cmd = ["wrk", "-t%d" % args.threads, "-c%d" % args.connections, "-d%ds" % args.duration,
           "--timeout", "10s", "-s", os.path.join(HERE, "wrk_post.lua"),
           "http://127.0.0.1:%d%s" % (port, url_path), "--", reqfile, str(args.threads),
           url_path, "cycle" if cycle else "once"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    for line in p.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            res = json.loads(line[len("WRK_RESULT "):])
            res["ok_answers"] = (res["requests"] - res["status_errors"] - res["read_errors"]
                                 - res["write_errors"] - res["timeouts"])
            return res
    raise RuntimeError("wrk gave no result (exit %d): %s %s"
                       % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))


WARM_UPS = 8


def warm_up(webrig, srv, secret):
    """endpoint.url_validation spools nothing (in zoom2s3): starts the
    backends' caches."""
    for i in range(WARM_UPS):
        ev = {"payload": {"plainToken": "warm%d" % i}, "event_ts": int(time.time() * 1000),
              "event": "endpoint.url_validation"}
        a = srv.post_signed(ev)
        if a.status != 200:
            raise RuntimeError("warm-up answered %d: %r" % (a.status, a.body[:200]))


def settle(ws, srv, limit=10.0):
    """wrk leaves requests in flight when it stops: let the responders
    finish them (tmp/ empty, the log still for a moment) before the server
    is stopped, which would kill a responder in the middle of one."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        now = (len(srv.log_text()), len(ws.state("tmp")))
        if now == last and now[1] == 0:
            return
        last = now
        time.sleep(0.3)


def check_spool(webrig, ws, srv, res, sent_ids, conns):
    """The spool holds each accepted event exactly once. Returns (ok, notes)."""
    notes = []
    jobs = ws.state("new")
    leftovers = ws.state("tmp") + ws.state("cur") + ws.state("done") + ws.state("failed")
    names = {webrig.job_name(i): i for i in sent_ids}
    unknown = [j for j in jobs if j not in names]
    log = srv.log_text().splitlines()
    accepted = sum(1 for ln in log if "event=webhook " in ln and "status=200" in ln
                   and "spooled=1" in ln)
    other = sum(1 for ln in log if "event=webhook " in ln and "status=200" not in ln)
    dup_lines = sum(1 for ln in log if "event=webhook " in ln and "status=200" in ln
                    and "spooled=0" in ln and "jobs=1" in ln)
    ok = True
    if leftovers:
        ok = False
        notes.append("files outside new/: %s" % leftovers[:5])
    if unknown:
        ok = False
        notes.append("jobs that were never sent: %s" % unknown[:5])
    if len(jobs) != accepted:
        ok = False
        notes.append("%d jobs in new/ but the responder logged %d accepted events"
                     % (len(jobs), accepted))
    if dup_lines:
        ok = False
        notes.append("%d events answered as redeliveries (sent twice?)" % dup_lines)
    if other or res["status_errors"]:
        ok = False
        notes.append("%d non-200 answers logged, wrk saw %d" % (other, res["status_errors"]))
    if not res["ok_answers"] <= len(jobs) <= res["ok_answers"] + conns:
        ok = False
        notes.append("wrk counted %d 200 answers for %d jobs" % (res["ok_answers"], len(jobs)))
    return ok, notes, len(jobs), accepted


def override_max_procs(webrig, n):
    """The shipped snippet with another max-procs (for both responders)."""
    if getattr(webrig, "_bench_render", None) is None:
        webrig._bench_render = webrig.render

    def render(snippet, mapping):
        text = webrig._bench_render(snippet, mapping)
        if '"max-procs" => 2,' not in text:
            raise RuntimeError("%s: no max-procs line to override" % snippet)
        return text.replace('"max-procs" => 2,', '"max-procs" => %d,' % n)
    webrig.render = render


ws_to_clean = []


def one_run(webrig, args, kind, reqfile, secret, sent_ids):
    ws = webrig.Workspace(secret=secret, config_extra="webhook_max_skew = 86400\n")
    try:
        if kind == "hello":
            dst = os.path.join(ws.cgibin, "zoom2s3.fcgi")
            shutil.copy(args.hello, dst)
            os.chmod(dst, 0o755)
        if kind == "hello-fsync":
            # lighttpd starts the program with no arguments: a wrapper
            # gives hello_fcgi the workspace's spool.
            hello = os.path.join(ws.cgibin, "hello_fcgi")
            shutil.copy(args.hello, hello)
            os.chmod(hello, 0o755)
            dst = os.path.join(ws.cgibin, "zoom2s3.fcgi")
            with open(dst, "w") as f:
                f.write("#!/bin/sh\nexec %s --fsync-into %s\n" % (hello, ws.spool))
            os.chmod(dst, 0o755)
        if kind == "zoom2s3-tmpfs":
            # A diagnostic, not a deployment: fsync costs nothing on tmpfs,
            # so this shows the responder's own work without the disk's.
            if not ws.mount_tmpfs(ws.spool, "512m"):
                raise RuntimeError("cannot mount a tmpfs for the spool")
            webrig.make_spool(ws.spool)
        srv = webrig.Lighttpd(ws)
        if args.max_procs:
            override_max_procs(webrig, args.max_procs)
        with srv:
            warm_up(webrig, srv, secret)
            res = run_wrk(args, srv.port, reqfile, srv.url, kind.startswith("hello"))
            if kind == "hello-fsync":
                res["jobs"] = len(os.listdir(os.path.join(ws.spool, "new")))
            settle(ws, srv)
        res["kind"] = kind
        res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
        res["check_ok"] = True
        if kind.startswith("zoom2s3"):
            ok, notes, jobs, accepted = check_spool(webrig, ws, srv, res, sent_ids,
                                                    args.connections)
            res.update(check_ok=ok, notes=notes, jobs=jobs, accepted=accepted)
            if not ok:
                srv.print_logs(10)
        return res
    finally:
        # Removed at the end of the bench, not now: on ext4 without a
        # journal, creating inodes right after thousands were deleted is
        # slow (the allocator skips "recently deleted" ones), which would
        # tax the next run with this run's clean-up.
        ws_to_clean.append(ws)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    args = parse_args()
    if os.geteuid() != 0:
        print("responder bench: needs root (lighttpd drops to www-data)", file=sys.stderr)
        return 1
    for tool in ("wrk", "lighttpd"):
        if not shutil.which(tool):
            print("responder bench: %s is not installed" % tool, file=sys.stderr)
            return 1
    webrig = setup_rig(args.build)
    webrig.become_subreaper()
    secret = "Zm9vYmFyLXNlY3JldC10b2tlbi0xMjM0"
    n = args.events or args.duration * 8000
    workdir = args.workdir or os.path.join(os.path.abspath(args.build), "bench")
    os.makedirs(workdir, exist_ok=True)
    reqfile = os.path.join(workdir, "requests.txt")
    sent_ids = write_requests(webrig, reqfile, secret, n, "r")
    print("responder bench: %d distinct signed events, %d connections, %d wrk threads, "
          "%d s per run, %d runs each" % (n, args.connections, args.threads, args.duration,
                                           args.runs), flush=True)
    runs = {kind: [] for kind in args.kinds.split(",")}
    failed = False
    try:
        failed = run_all(webrig, args, reqfile, secret, sent_ids, n, runs)
    finally:
        for ws in ws_to_clean:
            ws.cleanup()
    return report(args, runs, failed)


def run_all(webrig, args, reqfile, secret, sent_ids, n, runs):
    failed = False
    for r in range(args.runs):
        for kind in args.kinds.split(","):
            res = one_run(webrig, args, kind, reqfile, secret, sent_ids)
            runs[kind].append(res)
            extra = ""
            if kind.startswith("zoom2s3"):
                extra = "  jobs=%d accepted=%d spool_check=%s" % (
                    res["jobs"], res["accepted"], "ok" if res["check_ok"] else "FAILED")
                if res["jobs"] >= n - args.connections:
                    extra += " (ran out of events: raise --events)"
            if kind == "hello-fsync":
                # Every 200 is a durable file, and so is each of the
                # warm-up's requests; up to one answer per connection may
                # be in flight when wrk stops.
                ok = (res["ok_answers"] + WARM_UPS <= res["jobs"] <=
                      res["ok_answers"] + WARM_UPS + args.connections)
                res["check_ok"] = ok
                extra = "  files=%d check=%s" % (res["jobs"], "ok" if ok else "FAILED")
            print("  run %d %-8s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  answers=%d%s"
                  % (r + 1, kind, res["rps"], res["p50_us"] / 1000, res["p99_us"] / 1000,
                     res["ok_answers"], extra), flush=True)
            for note in res.get("notes", []):
                print("    " + note, flush=True)
            failed |= not res["check_ok"]
    return failed


def report(args, runs, failed):
    labels = {"hello": "hello_fcgi (the ceiling)",
              "hello-fsync": "hello_fcgi --fsync-into (the ceiling with a durable file per "
                             "request)",
              "zoom2s3": "zoom2s3.fcgi, spool on disk",
              "zoom2s3-tmpfs": "zoom2s3.fcgi, spool on tmpfs (diagnostic)"}
    summary = {}
    for kind in runs:
        summary[kind] = {
            "rps": median([x["rps"] for x in runs[kind]]),
            "p50_ms": median([x["p50_us"] / 1000 for x in runs[kind]]),
            "p99_ms": median([x["p99_us"] / 1000 for x in runs[kind]]),
        }
        if "hello" in runs and kind != "hello":
            summary[kind]["ratio"] = median([z["rps"] / h["rps"]
                                             for h, z in zip(runs["hello"], runs[kind])])
        if "hello-fsync" in runs and kind.startswith("zoom2s3"):
            summary[kind]["ratio_fsync"] = median(
                [z["rps"] / h["rps"] for h, z in zip(runs["hello-fsync"], runs[kind])])
    print()
    print("| responder, %d connections (median of %d) | req/s | p50 ms | p99 ms | "
          "req/s ratio to hello | to hello-fsync |" % (args.connections, args.runs))
    print("|---|---|---|---|---|---|")
    for kind in runs:
        s = summary[kind]
        print("| %s | %.0f | %.2f | %.2f | %s | %s |" % (
            labels.get(kind, kind), s["rps"], s["p50_ms"], s["p99_ms"],
            "%.2f" % s["ratio"] if "ratio" in s else "-",
            "%.2f" % s["ratio_fsync"] if "ratio_fsync" in s else "-"))
    z = summary.get("zoom2s3")
    if z and "ratio" in z:
        summary["target_throughput_met"] = z["ratio"] >= 0.5
        summary["target_p99_met"] = z["p99_ms"] <= 5.0
        print("target: zoom2s3.fcgi (spool on disk) >= 0.50 of hello's req/s: %.2f, %s; "
              "p99 <= 5 ms: %.2f ms, %s"
              % (z["ratio"], "met" if summary["target_throughput_met"] else "NOT met",
                 z["p99_ms"], "met" if summary["target_p99_met"] else "NOT met"))
    summary["spool_checks_ok"] = not failed
    print("RESPONDER_RESULT " + json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(summary, runs=runs), f, indent=1)
    if failed:
        print("responder bench: a spool check FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
