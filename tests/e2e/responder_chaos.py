#!/usr/bin/env python3
"""zoom2s3.fcgi under lighttpd, as www-data, through a burst of events
while the spool misbehaves (issue 5): the spool's file system fills up, it
is made read-only, and a FastCGI process is SIGKILLed in the middle of a
request (while writing the event's first job to tmp/, after linking a
part of the event into new/, and with the whole event in new/ but before
its answer). "Zoom" (several threads) retries every event that is not
answered 200, and delivers some of them twice at once. In the end every
event must have been answered 200 and every one of its files must be in
new/ exactly once, each a whole job.

With a tmpfs (root with CAP_SYS_ADMIN) the disk is really full (a filler
file) and really read-only (mount -o remount,ro); where mounting is not
allowed, and in a second round always, tests/shim/spoolfault.so (an
LD_PRELOAD shim) makes the writes fail with ENOSPC and EROFS instead. The
shim also holds a responder at the chosen point so the kill lands inside
the request. The order and timing of the faults come from a seed, printed
first: ZOOM2S3_CHAOS_SEED=N replays it."""

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402
from webrig import job_name, rec_file, recording_event  # noqa: E402

SHIM = os.path.join(webrig.BUILDDIR, "tests", "shim", "spoolfault.so")
N_EVENTS = 48
POSTERS = 6
BURST_SECONDS = 8.0
HOLD_TIMEOUT = 10.0


class ShimLighttpd(webrig.Lighttpd):
    """lighttpd whose FastCGI processes inherit extra environment (the
    preloaded shim). lighttpd copies its environment to the backends it
    starts; the shim stays inert in lighttpd itself."""

    def __init__(self, ws, extra_env):
        super().__init__(ws)
        self.extra_env = extra_env

    def spawn(self, argv, logname, env=None):
        env = dict(env or {})
        env.update(self.extra_env)
        return super().spawn(argv, logname, env)


class Chaos:
    def __init__(self, tap, ws, srv, rng, label, mounted):
        self.tap, self.ws, self.srv, self.rng = tap, ws, srv, rng
        self.label, self.mounted = label, mounted
        self.control = os.path.join(ws.root, "shim", "control")
        self.held = self.control + ".held"
        self.statuses = {}      # status -> count of answers
        self.lock = threading.Lock()
        self.killed = []        # pids
        self.done_faults = []   # what was injected
        self.failures = []

    # -- the shim's control file --
    def set_mode(self, mode):
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            f.write(mode + "\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.control)

    def held_pid(self):
        try:
            with open(self.held) as f:
                text = f.read().strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    # -- faults --
    def fill(self):
        """Fills the tmpfs under the spool with a root-owned dot file."""
        return webrig.fill_fs(os.path.join(self.ws.spool, ".filler"))

    def remount(self, opt):
        """mount -o remount,opt; a tmpfs with a file open for writing
        refuses ro (EBUSY) for a moment: tried again."""
        for _ in range(20 if opt == "ro" else 200):
            r = subprocess.run(["mount", "-o", "remount," + opt, self.ws.spool],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return True
            time.sleep(0.01)
        if opt != "ro":
            self.failures.append("remount %s: %s" % (opt, r.stderr.strip()))
        else:
            self.tap.diag("%s: remount,ro refused: %s" % (self.label, r.stderr.strip()))
        return False

    def disk_full(self, seconds):
        if self.mounted:
            path = self.fill()
            time.sleep(seconds)
            os.unlink(path)
        else:
            self.set_mode("enospc")
            time.sleep(seconds)
            self.set_mode("ok")
        self.done_faults.append("disk full %.1fs" % seconds)

    def read_only(self, seconds):
        if self.mounted and self.remount("ro"):
            time.sleep(seconds)
            if self.remount("rw"):
                self.done_faults.append("read-only %.1fs" % seconds)
            return
        # A responder keeps the spool's .lock open for writing, so the
        # tmpfs cannot be remounted read-only under it (EBUSY); a kernel
        # does it anyway (ext4 errors=remount-ro), and the shim's EROFS
        # stands for that.
        self.set_mode("erofs")
        time.sleep(seconds)
        self.set_mode("ok")
        self.done_faults.append("read-only %.1fs (shim)" % seconds)

    def kill_in(self, where):
        """Holds the next request at where, SIGKILLs its process there."""
        with open(self.held, "w"):
            pass
        self.set_mode("hold-" + where)
        deadline = time.monotonic() + HOLD_TIMEOUT
        pid = None
        while time.monotonic() < deadline and pid is None:
            time.sleep(0.01)
            pid = self.held_pid()
        if pid is None:
            self.set_mode("ok")
            self.failures.append("no request reached hold-%s within %gs" % (where,
                                                                          HOLD_TIMEOUT))
            return
        exe = os.path.realpath("/proc/%d/exe" % pid)
        if not exe.startswith(os.path.realpath(self.ws.cgibin)):
            self.set_mode("ok")
            self.failures.append("held pid %d is not our responder (%s)" % (pid, exe))
            return
        os.kill(pid, signal.SIGKILL)
        self.killed.append(pid)
        time.sleep(0.05)
        self.set_mode("ok")
        self.done_faults.append("SIGKILL in %s" % where)

    def run_faults(self):
        plan = [("full", None), ("ro", None), ("kill", "write"), ("kill", "link"),
                ("kill", "fsync")]
        if self.rng.random() < 0.5:
            plan.append(("full", None))
        self.rng.shuffle(plan)
        for kind, where in plan:
            time.sleep(self.rng.uniform(0.1, 0.6))
            if kind == "full":
                self.disk_full(self.rng.uniform(0.3, 1.0))
            elif kind == "ro":
                self.read_only(self.rng.uniform(0.3, 1.0))
            else:
                self.kill_in(where)

    # -- Zoom --
    def deliver(self, body):
        """Posts until 200, as Zoom retries an event (faster here)."""
        for _ in range(300):
            try:
                status = self.srv.post_signed(body).status
            except OSError:
                status = 0
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                return True
            time.sleep(self.rng.uniform(0.05, 0.3))
        return False

    def poster(self, work, results):
        while True:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            k, body, pause = item
            time.sleep(pause)
            results[k] = self.deliver(body)


def make_events(rng, tag):
    events = []
    for i in range(N_EVENTS):
        ids = ["chaos-%s-%d-%d" % (tag, i, j) for j in range(rng.randint(1, 4))]
        if rng.random() < 0.1:
            ids[0] = "chaos/%s.%d+=" % (tag, i)   # a name the spool hashes
        files = [rec_file(fid, recording_type="view%d" % j) for j, fid in enumerate(ids)]
        ev = recording_event("chaos-%s-%d==" % (tag, i), files,
                             topic="Chaos [CHAOS_%s] run %d" % (tag.upper(), i))
        events.append((webrig.body_of(ev), ids))
    return events


def burst(tap, ws, srv, rng, label, mounted):
    ch = Chaos(tap, ws, srv, rng, label, mounted)
    events = make_events(rng, label)
    work = queue.Queue()
    n_posts = 0
    for k, (body, _) in enumerate(events):
        at = rng.uniform(0, BURST_SECONDS / POSTERS)
        work.put((k, body, at))
        n_posts += 1
        if rng.random() < 0.25:     # delivered twice at about the same time
            work.put((k, body, at))
            n_posts += 1
    results = {}
    threads = [threading.Thread(target=ch.poster, args=(work, results), daemon=True)
               for _ in range(POSTERS)]
    faults = threading.Thread(target=ch.run_faults, daemon=True)
    faults.start()
    for t in threads:
        t.start()
    faults.join(timeout=120)
    ch.set_mode("ok")
    for t in threads:
        t.join(timeout=300)
    tap.diag("%s: %d events, %d posts, answers %r; faults: %s; killed pids %r" % (
        label, len(events), n_posts, ch.statuses, ", ".join(ch.done_faults), ch.killed))
    tap.ok(not ch.failures, "%s: every fault was injected" % label, *ch.failures)
    tap.ok(len(ch.done_faults) >= 5 and len(ch.killed) == 3,
           "%s: the disk filled, went read-only and 3 responders were killed in a request"
           % label, "%r" % ch.done_faults)
    tap.ok(all(results.get(k) for k in range(len(events))),
           "%s: every event was answered 200 in the end" % label,
           "not: %r" % [k for k in range(len(events)) if not results.get(k)])
    refused = sum(n for s, n in ch.statuses.items() if s != 200)
    tap.ok(ch.statuses.get(503, 0) > 0 and refused > 0,
           "%s: the faults were seen: %d answers other than 200 (%d of them 503)" % (
               label, refused, ch.statuses.get(503, 0)), "%r" % ch.statuses)
    want = sorted(job_name(fid) for _, ids in events for fid in ids)
    got = ws.state("new")
    tap.eq(got, want, "%s: new/ holds every file of every event, each exactly once "
           "(%d jobs)" % (label, len(want)))
    bad = []
    for _, ids in events:
        for fid in ids:
            try:
                with open(os.path.join(ws.spool, "new", job_name(fid))) as f:
                    if json.load(f).get("recording_file_id") != fid:
                        bad.append(fid)
            except (OSError, ValueError) as e:
                bad.append("%s: %r" % (fid, e))
    tap.eq(bad, [], "%s: every job is whole JSON of its file" % label)
    tmp = ws.state("tmp")
    tap.diag("%s: %d files left in tmp/ by killed or refused requests (removed after 36 h)"
             % (label, len(tmp)))
    for st in ("cur", "done", "failed"):
        tap.eq(ws.state(st), [], "%s: nothing in %s/" % (label, st))


def round_(tap, rng, label, use_mount):
    ws = webrig.Workspace()
    mounted = False

    def start():
        nonlocal mounted
        if use_mount:
            mounted = ws.mount_tmpfs(ws.spool, "2m")
            if not mounted:
                tap.diag("%s: cannot mount a tmpfs here: the shim fails the writes instead"
                         % label)
            webrig.make_spool(ws.spool)
        shim_dir = ws.sub("shim", 0o755)
        # www-data's responder loads the shim: a copy in the workspace, since
        # the build tree may sit under a directory it cannot enter (0700)
        shim = os.path.join(shim_dir, "spoolfault.so")
        shutil.copy(SHIM, shim)
        os.chmod(shim, 0o755)
        with open(os.path.join(shim_dir, "control"), "w") as f:
            f.write("ok\n")
        held = os.path.join(shim_dir, "control.held")
        with open(held, "w"):
            pass
        os.chmod(held, 0o666)   # the responder (www-data) writes its pid here
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {"LD_PRELOAD": shim, "ZOOM2S3_SHIM_DIR": os.path.realpath(ws.spool),
               "ZOOM2S3_SHIM_CONTROL": os.path.join(shim_dir, "control"),
               "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        return ShimLighttpd(ws, env)

    def warm_up_then_burst(srv):
        a = srv.post_signed(recording_event("warm-up-%s==" % label,
                                            [rec_file("warm-%s" % label)]))
        tap.eq(a.status, 200, "%s: the responder answers (shim preloaded)" % label)
        os.unlink(os.path.join(ws.spool, "new", job_name("warm-%s" % label)))
        burst(tap, ws, srv, rng, label, mounted)

    webrig.run_on_server(tap, ws, start, warm_up_then_burst, "%s: ran to its end" % label)


def main(tap):
    if not os.path.exists(SHIM):
        tap.ok(False, "the shim is built: %s (make check builds it)" % SHIM)
        return
    seed = int(os.environ.get("ZOOM2S3_CHAOS_SEED") or int.from_bytes(os.urandom(4), "big"))
    tap.diag("seed %d (ZOOM2S3_CHAOS_SEED=%d replays it)" % (seed, seed))
    rng = random.Random(seed)
    round_(tap, rng, "tmpfs", use_mount=True)
    round_(tap, rng, "shim", use_mount=False)


webrig.run_test(main, webrig.TOOLS["lighttpd"])
