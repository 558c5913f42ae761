#!/usr/bin/env python3
"""The soak across hosts (issue 16): one spool on CephFS, two hosts, faults.

    make soak-scaleout         # 200 events, 4 spooler kills, 2 host deaths
    make soak-scaleout-short   # what tests/run-all.sh runs: a few minutes

What runs (as root, on loopback): tests/rig/cephfs.sh's Ceph with an MDS,
CephFS and two ceph-fuse clients, h1/ and h2/, each a "host" with a
responder (CGI) and a `zoom2s3-spooler --watch -j 2` of its own
(tests/rig/scaleout.py); the stand-in Zoom (tests/rig/fakezoom.py) posting
tests/soak/soak.py's plan of events, each delivery sent to a host picked at
random as a load balancer would, redeliveries and retries to either;
tests/rig/faultproxy.py between the spoolers and RGW answering a share of
the requests with 500 or 503 SlowDown.

Deaths at points the test controls, never after a sleep: for each victim
file, the stand-in CDN holds its downloads after 12 MiB. When a hold is
seen, the spooler holding the job (claimed_by in cur/) is
- "kill": SIGKILLed, and started again on its host;
- "death": frozen (SIGSTOP), its host's ceph-fuse killed with -9 (the
  host is gone, its locks stay), the spooler SIGKILLed, the client evicted
  through the MDS; the host mounts again and starts a spooler later;
- "evict": frozen, its client evicted while alive (the MDS fences it),
  SIGKILLed; the host mounts again.
The time from each death to its job moving on (another spooler's
claimed_by in the job, or the job out of cur/) is measured.

At the end (TAP): every eligible file is in the bucket exactly once,
byte-exact; done/ holds one job per eligible file, new/ cur/ failed/ are
empty; no multipart upload is left; RGW's own log shows one successful
write (CompleteMultipartUpload or PUT) per key, so no job was transferred
twice to completion; every delivery was answered 200 in the end."""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
sys.path.insert(0, HERE)
import fakezoom  # noqa: E402
import faultproxy  # noqa: E402
import scaleout  # noqa: E402
import soak  # noqa: E402
import webrig  # noqa: E402

MIB = 1 << 20
PROFILES = {
    "short": {"events": 40, "kills": 2, "deaths": ["death"], "post_seconds": 40,
              "timeout": 900},
    "long": {"events": 200, "kills": 4, "deaths": ["death", "evict"], "post_seconds": 180,
             "timeout": 2400},
}
SECRET = "scaleout-soak-secret-0123456789"


def log(msg):
    print("# " + msg, flush=True)


class ScaleoutSoak(soak.Soak):
    """soak.Soak's plan, stand-in Zoom and object checks; two hosts."""

    def __init__(self, a):
        self.a = a
        self.root = tempfile.mkdtemp(prefix="z2sos-")
        self.logs = os.path.join(self.root, "logs")
        os.makedirs(self.logs)
        self.cl = None
        self.procs = []
        self.hosts = {}
        self.lock = threading.Lock()
        self.deliveries = []
        self.post_retries = 0
        self.post_latency = []
        self.lb = random.Random(a.seed + 3)
        self.stop = threading.Event()
        self.events_log = []       # (what, host, job, seconds to moving on)
        self.down = set()          # hosts without a mount just now
        self.errors = []
        self.verified = {}
        self.exit_codes = {}
        self.killed = set()     # pids SIGKILLed on purpose (victims, a dead host's)
        self.odd_exits = []     # (host, pid, status) of every other spooler not exiting 0
        self.t0 = time.monotonic()

    # -- set-up --
    def setup(self):
        self.cl = scaleout.Cluster().start()
        log("Ceph with CephFS and two mounts up in %.1f s" % self.cl.start_seconds)
        env = self.cl.env
        self.s3env = env
        self.s3, self.bucket = soak.new_bucket(env, "sos-%s" % os.urandom(3).hex())
        fzp, self.fz = self.start_fakezoom(os.path.join(self.root, "fakezoom"))
        self.procs.append(fzp)
        self.zoom_url = self.fz.base_url
        s3host, s3port = env["S3_ENDPOINT"].split("//", 1)[1].rsplit(":", 1)
        weights = "500:1,503:1,429:0,reset_req:0,reset_resp:0,close_resp:0,stall:0"
        pxp, px = faultproxy.start_subprocess(
            ["--seed", str(self.a.seed + 1), "--rate", "0", "--weights", weights,
             "--log", os.path.join(self.logs, "faultproxy.log"),
             "--route", "s3=127.0.0.1:0,%s:%s,s3" % (s3host, s3port)],
            os.path.join(self.root, "proxy.json"))
        self.procs.append(pxp)
        self.px = faultproxy.FaultProxyControl(px["control"])
        scaleout.make_spool(os.path.join(self.cl.mount("h1"), "spool"))
        rconf = ("webhook_secret_token = %s\ntopic_regex = %s\nmin_duration = 120\n"
                 "file_types = MP4, TRANSCRIPT\nkey_template = sos/{1}/{topic}/"
                 "{recording_start:%%Y%%m%%d_%%H%%M%%S}_{recording_type}.{ext}\n" % (
                     SECRET, soak.TOPIC_RE))
        sconf = ("s3_bucket = %s\ns3_region = %s\ns3_endpoint = %s\n"
                 "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                 "download_hosts = 127.0.0.1, 127.0.0.2\nallow_http = true\n"
                 "part_size = 5M\nretry_delay = 1\nretry_max_delay = 4\n"
                 "max_attempts = 100000\nwatch_rescan_interval = 2\n"
                 "zoom_oauth_url = %s/oauth/token\nzoom_api_url = %s/v2\n"
                 "zoom_account_id = fz-account\nzoom_client_id = fz-client-id\n"
                 "zoom_client_secret = fz-client-secret\n" % (
                     self.bucket, env["S3_REGION"], px["routes"]["s3"]["url"],
                     env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                     self.zoom_url, self.zoom_url))
        self.hosts = {h: scaleout.Host(h, self.cl, "spool", self.root, rconf, sconf)
                      for h in scaleout.HOSTS}
        self.ws = None

    # -- Zoom's side: soak.Soak.post_all's schedule, through deliver() --
    def deliver(self, body):
        """Posts until 200, as Zoom retries: each try to a host picked at
        random by the load balancer, the retry to the other host."""
        with self.lock:
            first = self.lb.randrange(2)
        status, attempt = 0, 0
        for attempt in range(60):
            host = scaleout.HOSTS[(first + attempt) % 2]
            if host not in self.down:
                ts = str(int(time.time()))
                status = self.hosts[host].post(body, fakezoom.sign_webhook(SECRET, ts, body))
                if status == 200:
                    return 200, attempt
            time.sleep(0.5)
        return status, attempt

    # -- spoolers --
    def start_spooler(self, host):
        self.hosts[host].start_spooler("--watch", "-j", "2")

    def any_host(self):
        for h in scaleout.HOSTS:
            if h not in self.down:
                return self.hosts[h]
        return None

    def holder(self, name):
        """(host, Popen) of the spooler whose claimed_by the job in cur/ names."""
        h = self.any_host()
        job = h.read_job("cur", name) if h else None
        who = (job or {}).get("claimed_by", "")
        host, _, pid = who.partition(":")
        for p in (self.hosts[host].live() if host in self.hosts else []):
            if str(p.pid) == pid:
                return host, p, who
        return None, None, who

    def moved_on(self, name, who, t_death, what, host):
        """Waits until the job is claimed by another spooler or left cur/."""
        def moved():
            h = self.any_host()
            if h is None:
                return False
            if not os.path.exists(h.path("cur", name)):
                return True
            job = h.read_job("cur", name)
            return bool(job) and job.get("claimed_by") not in (who, None)
        ok = scaleout.wait_for(moved, 300, 0.05)
        secs = time.monotonic() - t_death
        with self.lock:
            self.events_log.append((what, host, name, secs if ok else None))
        log("%s of %s holding %s: its job moved on after %.1f s" % (what, host, name, secs))

    def kill(self, p):
        self.killed.add(p.pid)
        p.kill()

    def victim_action(self, v, what):
        """False when no live spooler holds the job: its spooler died for
        another victim's sake, and its next download is held again."""
        name = webrig.job_name(v.id)
        host, p, who = self.holder(name)
        if p is None:
            return False
        # No download of it is held from now on: the one held now stays
        # held until its spooler dies, and the one that takes over runs.
        self.fz.clear_faults(file=v.id)
        if what == "kill":
            t = time.monotonic()
            self.kill(p)
            p.wait()
            threading.Thread(target=self.moved_on, args=(name, who, t, what, host),
                             daemon=True).start()
            self.start_spooler(host)
            return True
        p.send_signal(signal.SIGSTOP)
        t = time.monotonic()
        self.down.add(host)
        if what == "death":
            self.cl.crash(host)
            self.kill(p)
            self.cl.evict(host)
        else:
            self.cl.evict(host)
            self.kill(p)
        p.wait()
        watcher = threading.Thread(target=self.moved_on, args=(name, who, t, what, host),
                                   daemon=True)
        watcher.start()
        watcher.join(timeout=300)
        # the host comes back: a new client, its spooler again
        for q in self.hosts[host].live():
            self.kill(q)
            q.wait()
        self.cl.remount(host)
        self.down.discard(host)
        self.start_spooler(host)
        return True

    def killer(self, victims):
        """Acts when the CDN holds a victim's download."""
        pending = list(victims)
        since = 0   # entries after this one may still change (log(since) is >)
        while pending and not self.stop.is_set():
            stalled = set()
            entries = self.fz.log(since=since)["requests"]
            for e in entries:
                if e.get("server") == "cdn" and e.get("stalled") and not e.get("done"):
                    stalled.add(e.get("file_id"))
            open_seqs = [e["seq"] for e in entries if not e.get("done")]
            if open_seqs:
                since = min(open_seqs) - 1
            elif entries:
                since = max(e["seq"] for e in entries)
            for v, what in list(pending):
                if v.id in stalled:
                    try:
                        if not self.victim_action(v, what):
                            continue
                    except Exception:
                        self.errors.append(traceback.format_exc())
                    pending.remove((v, what))
            self.stop.wait(0.3)
        if pending:
            self.errors.append("victims never held: %r" % [v.id for v, _ in pending])

    # -- phases --
    def busy(self):
        h = self.any_host()
        return h is None or bool(h.names("new") or h.names("cur"))

    def run(self, plan):
        a = self.a
        eligible_mp4 = [f for f in plan.files() if f.eligible and f.ext == "MP4"]
        rng = random.Random(a.seed + 5)
        chosen = rng.sample(eligible_mp4, a.kills + len(a.deaths))
        for f in chosen:
            f.size = 16 * MIB + rng.randrange(0, MIB)
        self.register(plan)
        victims = []
        for i, f in enumerate(chosen):
            what = "kill" if i < a.kills else a.deaths[i - a.kills]
            # every download of it is held until the test acts: a victim
            # whose spooler dies for another victim's sake is held again
            self.fz.fault(f.id, "stall", after=12 * MIB)
            victims.append((f, what))
        order = list(victims)
        rng.shuffle(order)
        for h in scaleout.HOSTS:
            self.start_spooler(h)
        self.px.configure(rate=a.fault_rate)
        schedule = plan.schedule(a.post_seconds)
        log("%d events (%d deliveries), %d files (%d eligible); victims: %s" % (
            len(plan.events), len(schedule), len(plan.files()),
            sum(1 for f in plan.files() if f.eligible),
            ", ".join("%s %s" % (w, f.id[:8]) for f, w in victims)))
        kt = threading.Thread(target=self.killer, args=(victims,), daemon=True)
        kt.start()
        poster = threading.Thread(target=self.post_all, args=(plan, schedule), daemon=True)
        poster.start()
        t0 = time.monotonic()
        last = t0
        while time.monotonic() - t0 < a.timeout:
            # all posted and the spool idle: no victim is held any more
            if not poster.is_alive() and not self.busy():
                break
            time.sleep(1)
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                h = self.any_host()
                if h:
                    log("%4.0fs: new %d cur %d done %d" % (
                        last - t0, len(h.names("new")), len(h.names("cur")),
                        len(h.names("done"))))
        self.run_seconds = time.monotonic() - t0
        self.stop.set()
        poster.join(timeout=120)
        kt.join(timeout=120)
        self.stats = self.px.configure(rate=0)
        for h in self.hosts.values():
            h.stop_spoolers(signal.SIGTERM, 120)
            for p, _ in h.spoolers:
                self.exit_codes[p.returncode] = self.exit_codes.get(p.returncode, 0) + 1
                if p.returncode != 0 and not (p.returncode == -signal.SIGKILL and
                                              p.pid in self.killed):
                    self.odd_exits.append((h.name, p.pid, p.returncode))

    def check(self, tap, plan):
        h = self.hosts["h1"]
        files = plan.files()
        eligible = [f for f in files if f.eligible]
        by_id = {f.id: f for f in files}
        objs = self.s3.list_objects(self.bucket)
        seen = {}
        for o in objs:
            head = self.s3.head_object(self.bucket, o["key"]) or {}
            fid = head.get("x-amz-meta-zoom-file-id")
            fid = soak.s3_meta_decode(fid) if fid is not None else None
            seen.setdefault(fid, []).append(o["key"])
        missing = [f.id for f in eligible if f.id not in seen]
        twice = {k: v for k, v in seen.items() if len(v) > 1}
        stray = [k for k in seen if k not in by_id or not by_id[k].eligible]
        tap.ok(not missing, "every eligible file (%d) has an object" % len(eligible),
               "missing: %r" % missing[:10])
        tap.ok(not twice, "no file has two objects", "%r" % list(twice.items())[:5])
        tap.ok(not stray, "no object of an ineligible or unknown file", "%r" % stray[:5])
        bad = []
        for f in eligible:
            if f.id in seen:
                self.fill_sha(f)
                err = self.verify_object(f, seen[f.id][0])
                if err:
                    bad.append(err)
        tap.ok(not bad, "every object byte-exact by SHA-256", *bad[:10])
        for st in ("new", "cur", "failed"):
            names = h.names(st)
            tap.ok(not names, "%s/ is empty" % st, "%r" % names[:10])
        want = sorted(webrig.job_name(f.id) for f in eligible)
        got = h.names("done")
        tap.ok(got == want, "done/ holds exactly one job per eligible file (%d)" % len(want),
               "extra %r" % sorted(set(got) - set(want))[:10],
               "missing %r" % sorted(set(want) - set(got))[:10])
        hosts_seen = {}
        for n in got:
            who = (h.read_job("done", n) or {}).get("claimed_by", "?").split(":")[0]
            hosts_seen[who] = hosts_seen.get(who, 0) + 1
        tap.ok(set(hosts_seen) == {"h1", "h2"},
               "both hosts uploaded (claimed_by in done/: %r)" % hosts_seen)
        uploads = self.s3.list_multipart_uploads(self.bucket)
        tap.ok(not uploads, "no multipart upload left", "%r" % uploads[:5])
        counts = self.cl.completions(self.bucket)
        twice = {k: c for k, c in counts.items() if c != 1}
        tap.ok(not twice and len(counts) == len(eligible),
               "RGW's log: %d keys written, each by exactly one successful "
               "CompleteMultipartUpload or PUT" % len(counts), "%r" % twice)
        not200 = [s for s in self.deliveries if s != 200]
        tap.ok(self.deliveries and not not200,
               "every delivery (%d) answered 200 in the end" % len(self.deliveries),
               "%r" % not200[:10])
        tap.ok(not self.errors, "every victim was found and dealt with", *self.errors[:5])
        moved = [e for e in self.events_log if e[3] is not None]
        tap.ok(len(moved) == self.a.kills + len(self.a.deaths),
               "each kill and host death: its job moved on (%d of %d)" % (
                   len(moved), self.a.kills + len(self.a.deaths)), "%r" % self.events_log)
        tap.ok(not self.odd_exits, "every spooler exited 0 but those the test SIGKILLed (%r)"
               % self.exit_codes, "others (a hang after SIGTERM is SIGKILLed at the "
               "deadline): %r" % self.odd_exits[:20])
        text = "\n".join(x.log_text() for x in self.hosts.values())
        san = [ln for ln in text.splitlines() if any(m in ln for m in webrig.SANITIZER_MARKS)]
        tap.ok(not san, "no sanitizer report in the spoolers' logs", *san[:10])
        return text

    def summary(self, text):
        log("---- summary (seed %d, profile %s)" % (self.a.seed, self.a.profile))
        for what, host, name, secs in self.events_log:
            log("%s of %s: its job moved on %s" % (
                what, host, "after %.1f s" % secs if secs is not None else "never"))
        st = self.stats
        log("RGW through the proxy: %d requests, %d answered 5xx by it" % (
            st["requests"], st["broken"]))
        log("adopted %d, retried %d" % (len(scaleout.log_events(text, "job.adopted")),
                                        len(scaleout.log_events(text, "job.retry"))))
        log("%d deliveries, %d re-posts; run %.0f s, total %.0f s" % (
            len(self.deliveries), self.post_retries, self.run_seconds,
            time.monotonic() - self.t0))
        if self.a.json:
            with open(self.a.json, "w") as f:
                json.dump({"deaths": self.events_log, "run_seconds": self.run_seconds}, f)

    def cleanup(self):
        self.stop.set()
        for h in self.hosts.values():
            for p in h.live():
                p.kill()
                p.wait()
        for p in self.procs:
            scaleout.end(p)
        if self.cl:
            self.cl.stop()
        if self.a.keep:
            log("kept %s" % self.root)
        else:
            import shutil
            shutil.rmtree(self.root, ignore_errors=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="short")
    p.add_argument("--seed", type=int)
    p.add_argument("--events", type=int)
    p.add_argument("--kills", type=int)
    p.add_argument("--post-seconds", type=float)
    p.add_argument("--timeout", type=float)
    p.add_argument("--fault-rate", type=float, default=0.05)
    p.add_argument("--json", help="write the death-to-moving-on times here")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args(argv)
    for k, v in PROFILES[a.profile].items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    return a


def main():
    a = parse_args(sys.argv[1:])
    scaleout.require()
    log("seed %d, profile %s: %d events, %d kills, deaths %r, %g %% of S3 requests 5xx" % (
        a.seed, a.profile, a.events, a.kills, a.deaths, 100 * a.fault_rate))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tap = webrig.Tap()
    s = ScaleoutSoak(a)

    def run():
        plan = soak.Plan(random.Random(a.seed), a.events, 0)
        s.run(plan)
        s.summary(s.check(tap, plan))

    return webrig.run_to_end(tap, s, run, "the soak ran to its end")


if __name__ == "__main__":
    sys.exit(main())
