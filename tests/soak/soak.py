#!/usr/bin/env python3
"""The soak test: every fault at once, then proof that nothing was lost,
nothing duplicated and nothing leaked (issue 5).

    make soak             # 200 events, 10 % of requests broken, 12 kills
    make soak-short       # the CI version: a few minutes
    python3 tests/soak/soak.py --help   (top_srcdir/top_builddir in the environment)

What runs (all on loopback, as root):
- lighttpd with zoom2s3.fcgi (tests/rig/webrig.py), the spool root:www-data 2770;
- the stand-in Zoom (tests/rig/fakezoom.py) and a Ceph RGW (tests/rig/rgw.sh:
  $ZOOM2S3_RGW_DIR when set, else a private one, stopped at the end);
- tests/rig/faultproxy.py between the spooler and S3, Zoom's download links,
  Zoom's CDN (Zoom's redirects are pointed at the proxy's CDN route) and the
  Zoom API/OAuth endpoints. It breaks --fault-rate of the requests (500, 503
  SlowDown, 429, a reset in mid-request or mid-answer, a short answer, and
  with --stall-weight real stalls longer than the spooler's 60 s timeouts)
  and delays --delay-rate more (before or in the middle of the answer);
- "Zoom": N events posted through lighttpd, each with several files (mostly
  0 B to 8 MiB, --big-files of 60 MiB), some topics in unicode, some not
  matching topic_regex, files of other types, too short or not completed
  (ineligible), a few file ids that the spool must hash, some download
  tokens expired (the spooler gets a fresh link through OAuth and the
  recordings API), transcript_completed events before their
  recording.completed, redeliveries 1 to 3 times (some at the same moment),
  in an order other than event_ts; a post that does not get 200 is retried
  as Zoom would;
- "cron": zoom2s3-spooler --once -j 2 started every --cron-every seconds
  (overlapping runs);
- --kills SIGKILLs, each at a point the test controls, never after a
  sleep. The spooler killed is the one whose claimed_by the held job's
  cur/ file names, and each kind comes in turn:
    cdn-early  the stand-in CDN holds a victim file's download after 1 MiB
               (a 3 MiB file, one PUT, whose body is not all in yet);
    cdn-mid    it holds a 16 MiB victim after 12 MiB (two parts uploaded,
               the third filling);
    s3-part    the fault proxy holds the answer to the next UploadPart;
    s3-complete  it holds the answer to the next CompleteMultipartUpload
               (RGW has the object; the spooler never hears so).
  A victim file is held on every download until its kill; the next cron
  run adopts the job.
While it runs, objects of finished jobs are verified (SHA-256, metadata)
and deleted once the bucket holds more than --bucket-budget-mib, so the
run fits RGW's memstore; their file ids are remembered, so a second upload
of one of them is still found.

Then the faults go off, the spoolers still running get SIGTERM, and the
spooler runs (--once) until new/ and cur/ are empty. The checks (TAP):
every eligible file is in the bucket exactly once, byte-exact by SHA-256;
no ineligible file has an object; new/, cur/ and failed/ are empty; no
multipart upload is left; done/ holds one job per eligible file; every
event was answered 200 in the end; no log line (spoolers, lighttpd with
the responder) holds a secret, a token or a pre-signed query string, and
none holds a sanitizer report. A summary follows: events, files, bytes,
faults injected, kills, retries, time.

Random choices come from --seed (printed; rerun with it to replay the plan
and the proxy's sequence of decisions; timing still varies)."""

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
import childproc  # noqa: E402
import fakezoom  # noqa: E402
import faultproxy  # noqa: E402
import s3util  # noqa: E402
import webrig  # noqa: E402

SPOOLER = os.path.join(BUILDDIR, "src", "zoom2s3-spooler")
RGW_SH = os.path.join(SRCDIR, "tests", "rig", "rgw.sh")
MIB = 1024 * 1024
TOPIC_RE = r"\[([A-Za-z0-9_]+)\]"
SANITIZER_MARKS = webrig.SANITIZER_MARKS
PROFILES = {
    # CI: a few minutes
    "short": {"events": 100, "kills": 6, "big_files": 1, "post_seconds": 90,
              "max_chaos_seconds": 240, "stall_weight": 0.0},
    # the numbers
    "full": {"events": 200, "kills": 12, "big_files": 4, "post_seconds": 240,
             "max_chaos_seconds": 1800, "stall_weight": 0.15},
}
# Where each kind of kill lands (see the docstring), in the order they come.
KILL_KINDS = ("cdn-early", "cdn-mid", "s3-part", "s3-complete")
CDN_HOLDS = {"cdn-early": (3 * MIB, 1 * MIB), "cdn-mid": (16 * MIB, 12 * MIB)}  # size, held at
S3_HOLDS = {"s3-part": {"method": "PUT", "query": "partNumber"},
            "s3-complete": {"method": "POST", "query": "uploadId"}}
TOPIC_WORDS = ["Vorlesung", "Übung", "Größenordnung", "数学", "講義", "Лекция", "μάθημα",
               "étude", "café ☕", "🎓", "Ñandú", "x/y", "ق", "נ", "a\tb", "100%", "{topic}"]


def log(msg):
    print("# " + msg, flush=True)


class Tap(webrig.Tap):
    """webrig's TAP, each diagnostic cut to its first 40 lines: a soak's
    logs are long."""

    def ok(self, cond, name, *diag):
        return super().ok(cond, name, *("\n".join(str(d).splitlines()[:40]) for d in diag))


def new_bucket(env, name):
    """An S3 client for the RGW that env (rgw.sh env) names, and the bucket
    name created on it."""
    s3 = s3util.S3(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"],
                   env["AWS_SECRET_ACCESS_KEY"], env["S3_REGION"])
    s3.create_bucket(name)
    return s3, name


def job_name(fid):
    return webrig.job_name(fid)


# ------------------------------------------------------------- the plan -----

class File:
    def __init__(self, fid, meeting, ext, size, ftype, rtype, start, end, status, eligible,
                 why):
        self.id, self.meeting, self.ext, self.size = fid, meeting, ext, size
        self.ftype, self.rtype, self.start, self.end = ftype, rtype, start, end
        self.status, self.eligible, self.why = status, eligible, why
        self.key = None           # fakezoom's opaque path segment
        self.sha256 = None


class Meeting:
    def __init__(self, uuid, mid, topic, eligible_topic, expired_token):
        self.uuid, self.id, self.topic = uuid, mid, topic
        self.eligible_topic, self.expired_token = eligible_topic, expired_token
        self.files = []
        self.token = None


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Plan:
    """Meetings, files and the deliveries of their events, from the seed."""

    def __init__(self, rng, n_events, big_files):
        self.rng = rng
        self.meetings = []
        self.events = []       # (name, meeting, [files], event type)
        base = 1795000000
        for i in range(n_events):
            self.meetings.append(self.make_meeting(i, base + i * 7200))
        # a few files of 60 MiB, on eligible MP4 entries
        mp4s = [f for m in self.meetings for f in m.files if f.eligible and f.ext == "MP4"]
        for f in rng.sample(mp4s, min(big_files, len(mp4s))):
            f.size = 60 * MIB + rng.randrange(0, MIB)
        for m in self.meetings:
            self.events.append(("rc-%d" % m.id, m, list(m.files), "recording.completed"))
            vtt = [f for f in m.files if f.ext == "VTT"]
            if vtt and rng.random() < 0.5:
                self.events.append(("tc-%d" % m.id, m, vtt, "recording.transcript_completed"))

    def topic(self, i):
        rng = self.rng
        words = rng.sample(TOPIC_WORDS, 3)
        if rng.random() < 0.15:
            return " ".join(words), False
        return "%s [C%03d_%s] %s" % (words[0], i % 50, rng.choice("ABC"),
                                     " ".join(words[1:])), True

    def file_id(self, m, j):
        rng = self.rng
        if rng.random() < 0.06:  # not a name the spool can use: hashed
            return "soak/%d.%d+=%s" % (m.id, j, rng.choice(["..", "ü", " x"]))
        return "%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                                rng.getrandbits(12), rng.getrandbits(16),
                                                rng.getrandbits(48))

    def size(self):
        r = self.rng.random()
        if r < 0.05:
            return 0
        if r < 0.35:
            return self.rng.randrange(1, 64 * 1024)
        if r < 0.75:
            return self.rng.randrange(64 * 1024, 5 * MIB)
        return self.rng.randrange(5 * MIB, 8 * MIB + 1)

    def make_meeting(self, i, start):
        rng = self.rng
        topic, eligible_topic = self.topic(i)
        uuid = "".join(rng.choice("ABCDEFabcdef0123456789+/") for _ in range(22)) + "=="
        m = Meeting(uuid, 81000000000 + i * 97 + rng.randrange(90), topic, eligible_topic,
                    rng.random() < 0.06)
        kinds = ["MP4"] + [rng.choice(["MP4", "MP4", "VTT", "M4A", "TXT", "MP4"])
                           for _ in range(rng.randrange(1, 5))]
        rtypes = ["shared_screen_with_speaker_view", "active_speaker", "gallery_view",
                  "speaker_view"]
        for j, ext in enumerate(kinds):
            ftype = {"MP4": "MP4", "VTT": "TRANSCRIPT", "M4A": "M4A", "TXT": "CHAT"}[ext]
            rtype = {"VTT": "audio_transcript", "M4A": "audio_only",
                     "TXT": "chat_file"}.get(ext) or rng.choice(rtypes)
            dur = 3600 if rng.random() > 0.08 else rng.randrange(5, 119)
            status = "completed" if rng.random() > 0.04 else "processing"
            why = None
            if not eligible_topic:
                why = "topic"
            elif ftype not in ("MP4", "TRANSCRIPT"):
                why = "file_type"
            elif status != "completed":
                why = "status"
            elif dur < 120:
                why = "duration"
            size = self.size() if ext in ("MP4", "M4A") else rng.randrange(0, 200 * 1024)
            m.files.append(File(self.file_id(m, j), m, ext, size, ftype, rtype,
                                rfc3339(start + 60), rfc3339(start + 60 + dur), status,
                                why is None, why))
        return m

    def files(self):
        return [f for m in self.meetings for f in m.files]

    def schedule(self, post_seconds):
        """[(time offset, event index)]: first deliveries spread over
        post_seconds in random order; redeliveries 1 to 3 times, some at
        the same moment, some seconds or minutes later."""
        rng = self.rng
        out = []
        for k in range(len(self.events)):
            t0 = rng.uniform(0, post_seconds)
            out.append((t0, k))
            r = rng.random()
            again = 0 if r < 0.6 else 1 if r < 0.8 else 2 if r < 0.93 else 3
            for _ in range(again):
                out.append((t0 + rng.choice([0.0, rng.uniform(0.2, 5),
                                             rng.uniform(5, 30)]), k))
        # transcript events first for the meetings that have one
        by_meeting = {}
        for t, k in out:
            name = self.events[k][0]
            by_meeting.setdefault(name[3:], []).append((t, k, name))
        fixed = []
        for items in by_meeting.values():
            tcs = [t for t, k, n in items if n.startswith("tc-")]
            for t, k, n in items:
                if n.startswith("rc-") and tcs and rng.random() < 0.7:
                    t = max(t, min(tcs) + rng.uniform(0.5, 10))
                fixed.append((t, k))
        fixed.sort()
        return fixed


# ------------------------------------------------------------ the soak ------

class Soak:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.root = tempfile.mkdtemp(prefix="zoom2s3-soak-")
        self.logs = os.path.join(self.root, "logs")
        os.makedirs(self.logs)
        self.procs = []            # helper processes (fakezoom, proxy)
        self.spoolers = []         # (Popen, log path)
        self.spooler_lock = threading.Lock()
        self.runs = 0
        self.kills = 0
        self.kill_log = []         # (kind, job name) of each kill, as it happened
        self.kill_errors = []
        self.sigterms = 0
        self.stop_chaos = threading.Event()
        self.verified = {}         # file id -> key, verified and deleted during the run
        self.verify_errors = []
        self.deliveries = []       # per post: status after retries
        self.post_retries = 0
        self.post_latency = []
        self.own_rgw = False
        self.rgw_dir = None
        self.srv = None
        self.ws = None
        self.exit_codes = {}       # exit status of each spooler run -> count
        self.killed = set()        # pids the killer SIGKILLed at a held request
        self.odd_exits = []        # (log, status) of every other run not exiting 0
        self.t0 = time.monotonic()

    # -- set-up --
    def rgw(self, cmd, *args, check=True):
        env = dict(os.environ, RGW_HOLDER_PID=str(os.getpid()))
        if self.own_rgw:
            env["RGW_LINGER"] = "-1"
        r = subprocess.run(["bash", RGW_SH, cmd, self.rgw_dir] + list(args), env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise RuntimeError("rgw.sh %s: %s%s" % (cmd, r.stderr, r.stdout))
        return r.stdout

    def track(self, p):
        self.procs.append(p)
        webrig._tracked.add(p.pid)
        return p

    def setup(self):
        a = self.a
        self.rgw_dir = os.environ.get("ZOOM2S3_RGW_DIR")
        if not self.rgw_dir:
            self.own_rgw = True
            self.rgw_dir = os.path.join(self.root, "rgw")
        log("RGW: %s" % self.rgw_dir)
        self.rgw("start")
        env = dict(line.split("=", 1) for line in self.rgw("env").split())
        self.s3env = env
        self.s3, self.bucket = new_bucket(env, "soak-%s" % os.urandom(4).hex())

        fzp, self.fz = self.start_fakezoom(os.path.join(self.root, "fakezoom"))
        self.track(fzp)
        s3host, s3port = env["S3_ENDPOINT"].split("//", 1)[1].rsplit(":", 1)
        fzhost, fzport = self.fz.base_url.split("//", 1)[1].rsplit(":", 1)
        cdnhost, cdnport = self.fz.cdn_url.split("//", 1)[1].rsplit(":", 1)
        args = ["--seed", str(a.seed + 1), "--rate", "0", "--delay-max", "3",
                "--stall-seconds", "600", "--log", os.path.join(self.logs, "faultproxy.log"),
                "--weights", "stall:%g" % a.stall_weight,
                "--route", "s3=127.0.0.1:0,%s:%s,s3" % (s3host, s3port),
                "--route", "zoom=127.0.0.1:0,%s:%s,zoom" % (fzhost, fzport),
                "--route", "cdn=%s:0,%s:%s,zoom" % (cdnhost, cdnhost, cdnport),
                "--map-location", "zoom=%s=cdn" % self.fz.cdn_url]
        pxp, self.px = faultproxy.start_subprocess(args, os.path.join(self.root, "proxy.json"))
        self.track(pxp)
        self.pxctl = faultproxy.FaultProxyControl(self.px["control"])
        self.zoom_url = self.px["routes"]["zoom"]["url"]
        log("fault proxy: seed %d, s3 %s, zoom %s, cdn %s" % (
            self.px["seed"], self.px["routes"]["s3"]["url"], self.zoom_url,
            self.px["routes"]["cdn"]["url"]))

        self.ws = webrig.Workspace(secret="soak-webhook-secret-" + os.urandom(8).hex())
        self.ws.write_config(
            "spool_dir = %s\nwebhook_secret_token = %s\ntopic_regex = %s\n"
            "min_duration = 120\nfile_types = MP4, TRANSCRIPT\n"
            "key_template = soak/{1}/{topic}/{recording_start:%%Y%%m%%d_%%H%%M%%S}"
            "_{recording_type}.{ext}\n" % (self.ws.spool, self.ws.secret, TOPIC_RE))
        self.srv = webrig.Lighttpd(self.ws)
        self.srv.start()
        self.spooler_conf = os.path.join(self.root, "spooler.conf")
        with open(self.spooler_conf, "w") as f:
            f.write("spool_dir = %s\n" % self.ws.spool)
            f.write("s3_bucket = %s\ns3_region = %s\ns3_endpoint = %s\n" % (
                self.bucket, env["S3_REGION"], self.px["routes"]["s3"]["url"]))
            f.write("aws_access_key_id = %s\naws_secret_access_key = %s\n" % (
                env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))
            f.write("download_hosts = 127.0.0.1, 127.0.0.2\nallow_http = true\n")
            f.write("part_size = 5M\nretry_delay = 1\nretry_max_delay = 4\n"
                    "max_attempts = 100000\n")
            f.write("zoom_oauth_url = %s/oauth/token\nzoom_api_url = %s/v2\n" % (
                self.zoom_url, self.zoom_url))
            f.write("zoom_account_id = fz-account\nzoom_client_id = fz-client-id\n"
                    "zoom_client_secret = fz-client-secret\n")
        os.chmod(self.spooler_conf, 0o600)

    def start_fakezoom(self, state_dir):
        """fakezoom.start_subprocess, with its stderr (a traceback for each
        connection the proxy resets) in the logs."""
        err = open(os.path.join(self.logs, "fakezoom.err"), "wb")
        try:
            proc = subprocess.Popen([sys.executable, fakezoom.__file__, "--port", "0",
                                     "--state-dir", state_dir], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=err)
        finally:
            err.close()
        line = proc.stdout.readline()
        if not line.startswith(b"READY "):
            proc.kill()
            proc.wait()
            raise RuntimeError("fakezoom did not start: %r" % line)
        return proc, fakezoom.FakeZoomControl.from_state_dir(state_dir)

    def register(self, plan):
        for m in plan.meetings:
            info = self.fz.add_meeting(m.uuid, id=m.id, topic=m.topic,
                                       host_email="host%d@example.edu" % (m.id % 7))
            m.token = info["download_token"]
            for f in m.files:
                rec = self.fz.add_file(f.id, size=f.size, meeting_uuid=m.uuid,
                                       file_extension=f.ext, file_type=f.ftype,
                                       recording_type=f.rtype, recording_start=f.start,
                                       recording_end=f.end, status=f.status)
                f.key = rec["key"]
            if m.expired_token:
                self.fz.expire_download_token(meeting=m.uuid)

    def event_body(self, plan, k):
        name, m, files, etype = plan.events[k]
        meeting = {"uuid": m.uuid, "id": m.id, "topic": m.topic,
                   "host_email": "host%d@example.edu" % (m.id % 7),
                   "start_time": files[0].start}
        entries = [{"id": f.id, "size": f.size, "file_extension": f.ext, "file_type": f.ftype,
                    "recording_type": f.rtype, "recording_start": f.start,
                    "recording_end": f.end, "status": f.status, "key": f.key} for f in files]
        ev = fakezoom.make_recording_completed(meeting, entries, download_token=m.token,
                                               base_url=self.zoom_url, event=etype,
                                               event_ts=1795000000000 + k)
        return fakezoom.webhook_bytes(ev)

    # -- Zoom's side --
    def deliver(self, body):
        """Posts until 200, as Zoom retries (faster here)."""
        for attempt in range(60):
            t = time.monotonic()
            try:
                status = self.srv.post_signed(body).status
            except OSError:
                status = 0
            self.post_latency.append(time.monotonic() - t)
            if status == 200:
                return 200, attempt
            time.sleep(1)
        return status, attempt

    def post_all(self, plan, schedule):
        start = time.monotonic()
        bodies = {}
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futs = []
            for t, k in schedule:
                delay = start + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if k not in bodies:
                    bodies[k] = self.event_body(plan, k)
                futs.append(pool.submit(self.deliver, bodies[k]))
            for fu in futs:
                status, retries = fu.result()
                self.deliveries.append(status)
                self.post_retries += retries

    # -- cron and the killer --
    def spooler_env(self):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.root,
               "ZOOM2S3_LOG": "stderr", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.root, "none"), "LANG": "C"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def start_spooler(self, *args):
        self.runs += 1
        path = os.path.join(self.logs, "spooler-%05d.log" % self.runs)
        out = open(path, "wb")
        try:
            p = subprocess.Popen([SPOOLER, "-c", self.spooler_conf, "-v"] + list(args),
                                 env=self.spooler_env(), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT)
        finally:
            out.close()
        webrig._tracked.add(p.pid)
        with self.spooler_lock:
            self.spoolers.append((p, path))
        return p

    def live(self):
        with self.spooler_lock:
            alive = []
            for p, path in self.spoolers:
                if p.poll() is None:
                    alive.append(p)
                else:
                    webrig._tracked.discard(p.pid)
                    rc = p.returncode
                    self.exit_codes[rc] = self.exit_codes.get(rc, 0) + 1
                    if rc != 0 and not (rc == -signal.SIGKILL and p.pid in self.killed):
                        self.odd_exits.append((os.path.basename(path), rc))
            self.spoolers = [(p, path) for p, path in self.spoolers if p.poll() is None]
            return alive

    def cron(self):
        while not self.stop_chaos.is_set():
            if len(self.live()) < self.a.max_spoolers:
                self.start_spooler("--once", "-j", "2")
            self.stop_chaos.wait(self.a.cron_every)

    # -- the kills, each where a request is held --
    def plan_kills(self, plan):
        """[(kind, file or None)]: kinds in turn; a CDN kind's victim file,
        an eligible MP4, is resized so that its hold falls inside it."""
        rng = random.Random(self.a.seed + 2)
        kinds = [KILL_KINDS[i % len(KILL_KINDS)] for i in range(self.a.kills)]
        pool = [f for f in plan.files() if f.eligible and f.ext == "MP4" and f.size < 60 * MIB]
        victims = iter(rng.sample(pool, sum(1 for k in kinds if k in CDN_HOLDS)))
        kills = []
        for kind in kinds:
            f = next(victims) if kind in CDN_HOLDS else None
            if f is not None:
                f.size = CDN_HOLDS[kind][0] + rng.randrange(0, MIB)
            kills.append((kind, f))
        return kills

    def arm_cdn_holds(self, kills):
        """Every download of a victim is held until its kill: one whose
        spooler died for another reason is held again."""
        for kind, f in kills:
            if f is not None:
                self.fz.fault(f.id, "stall", after=CDN_HOLDS[kind][1])

    def kill_holder(self, name, kind, before_kill=None):
        """SIGKILLs the live spooler that cur/name's claimed_by names;
        False when none does (not claimed yet, or its spooler is gone)."""
        try:
            with open(os.path.join(self.ws.spool, "cur", name)) as fp:
                who = json.load(fp).get("claimed_by", "")
        except (OSError, ValueError):
            return False
        pid = who.rpartition(":")[2]
        for p in self.live():
            if str(p.pid) == pid:
                if before_kill:
                    before_kill()
                self.killed.add(p.pid)
                p.kill()
                self.kills += 1
                self.kill_log.append((kind, name))
                return True
        return False

    def kill_cdn_holds(self, cdn, since):
        """Kills the holder of each victim whose download the CDN holds
        now; returns the log position to read from next."""
        entries = self.fz.log(since=since)["requests"]
        held = {e.get("file_id") for e in entries
                if e.get("server") == "cdn" and e.get("stalled") and not e.get("done")}
        open_seqs = [e["seq"] for e in entries if not e.get("done")]
        if open_seqs:
            since = min(open_seqs) - 1
        elif entries:
            since = max(e["seq"] for e in entries)
        for fid in [fid for fid in cdn if fid in held]:
            # its next download runs: the one held now stays held until
            # the kill closes it
            if self.kill_holder(job_name(fid), cdn[fid],
                                lambda: self.fz.clear_faults(file=fid)):
                del cdn[fid]
        return since

    def job_with_key(self, key):
        d = os.path.join(self.ws.spool, "cur")
        for name in os.listdir(d):
            try:
                with open(os.path.join(d, name)) as fp:
                    if json.load(fp).get("s3_key") == key:
                        return name
            except (OSError, ValueError):
                continue
        return None

    def kill_s3_hold(self, kind, tag):
        """True once the request the rule tagged is held and its
        spooler killed."""
        fired = [x for x in self.pxctl.stats()["fired"] if x["tag"] == tag]
        if not fired:
            return False
        path = urllib.parse.unquote(fired[0]["path"]).lstrip("/")
        if path.startswith(self.bucket + "/"):  # path-style
            path = path[len(self.bucket) + 1:]
        name = self.job_with_key(path)
        return name is not None and self.kill_holder(name, kind)

    def killer(self, kills):
        cdn = {f.id: kind for kind, f in kills if f is not None}
        s3 = [kind for kind, f in kills if f is None]
        since = 0
        armed = None    # (kind, tag) of the S3 hold in place
        while (cdn or s3 or armed) and not self.stop_chaos.is_set():
            try:
                since = self.kill_cdn_holds(cdn, since)
                if armed is None and s3:
                    armed = (s3.pop(0), "kill-%d" % len(self.kill_log))
                    self.pxctl.rule("stall", route="s3", tag=armed[1], **S3_HOLDS[armed[0]])
                elif armed and self.kill_s3_hold(*armed):
                    armed = None
            except Exception as e:  # reported at the end
                self.kill_errors.append("killer: %r" % e)
                return
            self.stop_chaos.wait(0.3)
        left = sorted(cdn.values()) + s3 + ([armed[0]] if armed else [])
        if left:
            self.kill_errors.append("never held while the faults ran: %s" % ", ".join(left))

    # -- the bucket as the run goes --
    def spool_names(self, st):
        d = os.path.join(self.ws.spool, st)
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def done_job(self, name):
        try:
            with open(os.path.join(self.ws.spool, "done", name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def verify_object(self, f, key):
        """Checks the object at key holds file f; returns an error or None."""
        head = self.s3.head_object(self.bucket, key)
        if head is None:
            return "no object at %r" % key
        meta = head.get("x-amz-meta-zoom-file-id")
        if meta is None or s3_meta_decode(meta) != f.id:
            return "object %r holds file id %r" % (key, meta)
        digest, size = self.s3.object_sha256(self.bucket, key)
        if (digest, size) != (f.sha256, f.size):
            return "object %r: sha256/size %s/%d, want %s/%d" % (key, digest, size, f.sha256,
                                                                 f.size)
        return None

    def trim_bucket(self, by_id):
        """Verifies and deletes the objects of done jobs while the bucket
        holds more than the budget."""
        objs = self.s3.list_objects(self.bucket)
        if sum(o["size"] for o in objs) <= self.a.bucket_budget_mib * MIB:
            return
        for name in self.spool_names("done"):
            job = self.done_job(name)
            if not job or job.get("recording_file_id") in self.verified:
                continue
            f = by_id.get(job["recording_file_id"])
            if f is None:
                continue
            self.fill_sha(f)
            err = self.verify_object(f, job["s3_key"])
            if err:
                self.verify_errors.append("%s: %s" % (f.id, err))
                self.verified[f.id] = None
                continue
            self.verified[f.id] = (job["s3_key"], f.id)
            self.s3.delete_object(self.bucket, job["s3_key"])
        self.rgw("gc", check=False)

    def trimmer(self, by_id):
        while not self.stop_chaos.wait(10):
            try:
                self.trim_bucket(by_id)
            except Exception as e:  # a fault of the check, reported at the end
                self.verify_errors.append("trimmer: %r" % e)

    @staticmethod
    def fill_sha(f):
        if f.sha256 is None:
            h = hashlib.sha256()
            for chunk in fakezoom.iter_content(f.id, 0, f.size):
                h.update(chunk)
            f.sha256 = h.hexdigest()

    # -- phases --
    def spool_busy(self):
        return bool(self.spool_names("new") or self.spool_names("cur"))

    def chaos(self, plan, kills):
        a = self.a
        schedule = plan.schedule(a.post_seconds)
        log("%d events (%d posts with redeliveries), %d meetings, %d files" % (
            len(plan.events), len(schedule), len(plan.meetings), len(plan.files())))
        by_id = {f.id: f for f in plan.files()}
        self.pxctl.configure(rate=a.fault_rate, delay_rate=a.delay_rate)
        threads = [threading.Thread(target=self.cron, daemon=True),
                   threading.Thread(target=self.killer, args=(kills,), daemon=True),
                   threading.Thread(target=self.trimmer, args=(by_id,), daemon=True)]
        for t in threads:
            t.start()
        poster = threading.Thread(target=self.post_all, args=(plan, schedule), daemon=True)
        poster.start()
        t0 = time.monotonic()
        last = 0
        posted_at = None
        while time.monotonic() - t0 < a.max_chaos_seconds:
            if posted_at is None and not poster.is_alive():
                posted_at = time.monotonic()
            # Every event is in: the faults go on for chaos_tail seconds
            # more, then what is left is for the spooler without faults.
            if posted_at is not None and (not self.spool_busy() or
                                          time.monotonic() - posted_at >= a.chaos_tail):
                break
            time.sleep(1)
            if time.monotonic() - last > 30:
                last = time.monotonic()
                st = self.pxctl.stats()
                log("%4.0fs: new %d cur %d done %d failed %d; %d spooler runs, %d kills, "
                    "%d requests, %d broken" % (
                        time.monotonic() - t0, len(self.spool_names("new")),
                        len(self.spool_names("cur")), len(self.spool_names("done")),
                        len(self.spool_names("failed")), self.runs, self.kills,
                        st["requests"], st["broken"]))
        poster.join(timeout=600)
        self.chaos_seconds = time.monotonic() - t0
        self.stop_chaos.set()
        for t in threads:
            t.join(timeout=600)
        return by_id

    def quiesce(self):
        """Faults off, the running spoolers stopped (SIGTERM), then the
        spooler until new/ and cur/ are empty."""
        self.stats = self.pxctl.configure(rate=0, delay_rate=0)
        deadline = time.monotonic() + 120
        with self.spooler_lock:
            runs = list(self.spoolers)
        self.sigterms += childproc.signal_once_started(runs, signal.SIGTERM, deadline)
        while self.live() and time.monotonic() < deadline:
            time.sleep(0.5)
        for p in self.live():
            p.kill()
            p.wait()
        t0 = time.monotonic()
        self.final_runs = 0
        while time.monotonic() - t0 < self.a.quiet_timeout:
            if not self.spool_busy():
                break
            p = self.start_spooler("--once", "-j", "2")
            self.final_runs += 1
            try:
                p.wait(timeout=max(10, self.a.quiet_timeout - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if self.spool_busy():
                time.sleep(1)  # retries due within retry_max_delay
        self.quiet_seconds = time.monotonic() - t0
        self.live()

    # -- checks --
    def spooler_logs(self):
        text = []
        for path in sorted(os.listdir(self.logs)):
            if path.startswith("spooler-"):
                with open(os.path.join(self.logs, path), errors="replace") as f:
                    text.append(f.read())
        return "\n".join(text)

    def check(self, tap, plan, by_id):
        eligible = [f for f in plan.files() if f.eligible]
        inel = {f.id for f in plan.files() if not f.eligible}
        # the bucket: every object's file id
        objs = self.s3.list_objects(self.bucket)
        seen = {}
        strays = []
        for o in objs:
            head = self.s3.head_object(self.bucket, o["key"]) or {}
            fid = head.get("x-amz-meta-zoom-file-id")
            if fid is not None:
                try:
                    fid = s3_meta_decode(fid)
                except ValueError:
                    pass
            if fid is None or fid not in by_id:
                strays.append(o["key"])
                continue
            seen.setdefault(fid, []).append(o["key"])
        for fid, kv in self.verified.items():
            if kv is not None:
                seen.setdefault(fid, []).append(kv[0] + " (verified, deleted)")
        missing = [f.id for f in eligible if f.id not in seen]
        twice = {fid: keys for fid, keys in seen.items() if len(keys) > 1}
        tap.ok(not missing, "every eligible file (%d) has an object" % len(eligible),
               "missing: %r" % missing[:20])
        tap.ok(not twice, "no file has more than one object", *["%s: %r" % kv for kv in
                                                                  list(twice.items())[:20]])
        tap.ok(not strays, "no object without a known file id", "%r" % strays[:20])
        wrong = [fid for fid in seen if fid in inel]
        tap.ok(not wrong, "no ineligible file (%d) has an object" % len(inel), "%r" % wrong[:20])
        bad = list(self.verify_errors)
        done_jobs = {}
        for name in self.spool_names("done"):
            done_jobs[name] = self.done_job(name)
        for f in eligible:
            if f.id in self.verified or f.id not in seen:
                continue
            job = done_jobs.get(job_name(f.id)) or {}
            key = job.get("s3_key")
            if key not in seen[f.id]:
                bad.append("%s: done job's key %r is not where its object is (%r)" % (
                    f.id, key, seen[f.id]))
                continue
            self.fill_sha(f)
            err = self.verify_object(f, key)
            if err:
                bad.append("%s: %s" % (f.id, err))
        tap.ok(not bad, "every object byte-exact by SHA-256 (%d checked during the run, %d "
               "at the end)" % (len([v for v in self.verified.values() if v]),
                                len(eligible) - len(self.verified)), *bad[:20])
        # the spool
        for st in ("new", "cur", "failed"):
            names = self.spool_names(st)
            tap.ok(not names, "%s/ is empty" % st, "%d: %r" % (len(names), names[:10]),
                   *[self.job_text(st, n) for n in names[:3]])
        want = sorted(job_name(f.id) for f in eligible)
        got = sorted(done_jobs)
        tap.ok(got == want, "done/ holds one job per eligible file (%d)" % len(want),
               "extra: %r" % sorted(set(got) - set(want))[:20],
               "missing: %r" % sorted(set(want) - set(got))[:20])
        fields_bad = []
        for n, j in done_jobs.items():
            f = by_id.get((j or {}).get("recording_file_id"))
            if not f or j.get("bytes") != f.size or j.get("s3_bucket") != self.bucket:
                fields_bad.append(n)
        tap.ok(not fields_bad, "each done job names the bucket and the byte count",
               "%r" % fields_bad[:10])
        self.live()
        tap.ok(not self.odd_exits, "every spooler run exited 0 but those the test SIGKILLed at "
               "a held request (%r)" % self.exit_codes,
               "others (a hang after SIGTERM is SIGKILLed at the deadline): %r"
               % self.odd_exits[:20])
        kinds = sorted(k for k, _ in self.kill_log)
        tap.ok(len(self.kill_log) == self.a.kills and not self.kill_errors,
               "each of the %d kills landed at its held request (%s)" % (
                   self.a.kills, ", ".join(kinds)), *self.kill_errors)
        uploads = self.s3.list_multipart_uploads(self.bucket)
        tap.ok(not uploads, "no multipart upload left in the bucket", "%r" % uploads[:10])
        # Zoom's side
        not200 = [s for s in self.deliveries if s != 200]
        tap.ok(not not200 and self.deliveries,
               "every delivery (%d) answered 200 in the end" % len(self.deliveries),
               "%r" % not200[:20])
        # the logs, once lighttpd stopped: its responders exit normally on
        # SIGTERM, and a sanitizer build's leak check writes to its log
        self.srv.stop()
        sp_text = self.spooler_logs()
        web_text = self.srv.log_text()
        secrets = set(self.fz.log(since=1 << 60)["secrets"])
        secrets |= {self.ws.secret, self.s3env["AWS_SECRET_ACCESS_KEY"], "fz-client-secret",
                    "fz-api-secret"}
        secrets |= {m.token for m in plan.meetings if m.token}
        leaked = sorted(s[:8] + "..." for s in secrets if s and len(s) >= 4 and
                        (s in sp_text or s in web_text))
        tap.ok(not leaked, "no secret or token in any log line (%d secrets, %d spooler runs)"
               % (len(secrets), self.runs), "leaked: %r" % leaked[:20])
        qs = [ln for ln in (sp_text + "\n" + web_text).splitlines()
              if any(m in ln for m in ("Signature=", "Policy=", "Expires=", "X-Amz-Signature",
                                        "Key-Pair-Id"))]
        tap.ok(not qs, "no pre-signed query string in the logs", *qs[:5])
        san = [ln for ln in (sp_text + "\n" + web_text).splitlines()
               if any(m in ln for m in SANITIZER_MARKS)]
        tap.ok(not san, "no sanitizer report in the spoolers' or the web server's logs",
               *san[:20])
        return sp_text

    def job_text(self, st, name):
        try:
            with open(os.path.join(self.ws.spool, st, name)) as f:
                text = f.read()
        except OSError as e:
            return repr(e)
        try:
            job = json.loads(text)
            job.pop("download_token", None)
            return json.dumps(job)[:600]
        except ValueError:
            return text[:300]

    def summary(self, plan, sp_text):
        files = plan.files()
        eligible = [f for f in files if f.eligible]
        st = self.stats
        lines = sp_text.splitlines()

        def count(ev):
            return sum(1 for ln in lines if ("event=%s " % ev) in ln + " ")
        why = {}
        for f in files:
            if not f.eligible:
                why[f.why] = why.get(f.why, 0) + 1
        log("---- summary (seed %d)" % self.a.seed)
        log("events: %d (%d meetings), %d posts incl. redeliveries, %d re-posts after a "
            "non-200" % (len(plan.events), len(plan.meetings), len(self.deliveries),
                         self.post_retries))
        log("files: %d, eligible %d (%.1f MiB, %d of 60 MiB), ineligible %d %r" % (
            len(files), len(eligible), sum(f.size for f in eligible) / MIB,
            sum(1 for f in eligible if f.size >= 60 * MIB), len(files) - len(eligible), why))
        log("proxy: %d requests, %d broken (%.1f %%), %d delayed: %s; %.0f MiB up, %.0f "
            "MiB down" % (st["requests"], st["broken"],
                          100.0 * st["broken"] / max(1, st["requests"]), st["delayed"],
                          json.dumps(st["faults"], sort_keys=True), st["bytes_up"] / MIB,
                          st["bytes_down"] / MIB))
        log("spoolers: %d runs (%d after the faults), %d SIGKILLed at held requests, "
            "%d SIGTERMed" % (self.runs, self.final_runs, self.kills, self.sigterms))
        for kind, name in self.kill_log:
            log("  kill %-11s holding %s" % (kind, name))
        log("jobs: %d retries, %d adopted after a crash, %d interrupted, %d failed" % (
            count("job.retry"), count("job.adopted"), count("job.interrupted"),
            count("job.failed")))
        log("objects verified and deleted during the run: %d" % len(self.verified))
        lat = sorted(self.post_latency) or [0]
        log("webhook answers: median %.0f ms, max %.0f ms" % (
            1000 * lat[len(lat) // 2], 1000 * lat[-1]))
        log("time: %.0f s (chaos %.0f s, quiet after %.0f s)" % (
            time.monotonic() - self.t0, self.chaos_seconds, self.quiet_seconds))

    def cleanup(self):
        self.stop_chaos.set()
        for p in self.live():
            p.kill()
            p.wait()
        if self.srv:
            self.srv.stop()
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        try:
            self.s3.empty_bucket(self.bucket)
            self.s3.delete_bucket(self.bucket)
        except Exception:
            pass
        if self.rgw_dir:
            self.rgw("stop" if self.own_rgw else "release", check=False)
        if self.ws:
            if self.a.keep:
                log("kept %s and %s" % (self.root, self.ws.root))
            else:
                self.ws.cleanup()
        if not self.a.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def s3_meta_decode(text):
    """pctenc.c's PCTENC_S3_META encoding reversed (%XX)."""
    out = bytearray()
    i = 0
    raw = text.encode("latin-1")
    while i < len(raw):
        if raw[i:i + 1] == b"%":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="full")
    p.add_argument("--seed", type=int)
    p.add_argument("--events", type=int)
    p.add_argument("--big-files", type=int, help="files of 60 MiB")
    p.add_argument("--kills", type=int, help="SIGKILLs, each at a held request")
    p.add_argument("--fault-rate", type=float, default=0.10)
    p.add_argument("--delay-rate", type=float, default=0.05)
    p.add_argument("--stall-weight", type=float,
                   help="weight of real stalls (600 s) among the faults (other modes: 1)")
    p.add_argument("--post-seconds", type=float, help="first deliveries spread over this")
    p.add_argument("--cron-every", type=float, default=2.0)
    p.add_argument("--max-spoolers", type=int, default=6)
    p.add_argument("--max-chaos-seconds", type=float)
    p.add_argument("--chaos-tail", type=float, default=0.0,
                   help="seconds of faults after the last event was posted")
    p.add_argument("--quiet-timeout", type=float, default=900)
    p.add_argument("--bucket-budget-mib", type=float, default=1024)
    p.add_argument("--keep", action="store_true", help="keep the directories and logs")
    a = p.parse_args(argv)
    for k, v in PROFILES[a.profile].items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        webrig.skip_all("needs root (lighttpd drops to www-data; the Ceph RGW rig)")
    for tool in ("lighttpd", "radosgw", "ceph-mon", "ceph-osd"):
        if not shutil.which(tool):
            webrig.skip_all("%s is not installed" % tool)
    if not os.access(SPOOLER, os.X_OK) or not os.access(webrig.responder_binary(), os.X_OK):
        print("1..1\nnot ok 1 - build the programs first (make)")
        return 1
    log("seed %d (replay: %s --seed %d --profile %s ...)" % (a.seed, sys.argv[0], a.seed,
                                                             a.profile))
    log("profile %s: %d events, %d SIGKILLs at held requests, %g %% of requests broken, "
        "%g %% delayed, stall weight %g, %d files of 60 MiB" % (
            a.profile, a.events, a.kills, 100 * a.fault_rate, 100 * a.delay_rate,
            a.stall_weight, a.big_files))
    webrig.become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tap = Tap()
    soak = Soak(a)

    def run():
        plan = Plan(random.Random(a.seed), a.events, a.big_files)
        kills = soak.plan_kills(plan)
        soak.register(plan)
        soak.arm_cdn_holds(kills)
        by_id = soak.chaos(plan, kills)
        soak.quiesce()
        soak.summary(plan, soak.check(tap, plan, by_id))

    return webrig.run_to_end(tap, soak, run, "the soak ran to its end")


if __name__ == "__main__":
    sys.exit(main())
