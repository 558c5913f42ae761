#!/usr/bin/env python3
"""Past one host (issue 16): one spool on CephFS, two hosts.

tests/rig/cephfs.sh starts a throw-away Ceph (mon, memstore OSD, RGW) with
an MDS and a file system, mounted twice with ceph-fuse as two clients
(client.h1 at h1/, client.h2 at h2/): two "hosts" (tests/rig/scaleout.py).
Checked, in this order:
1. each guarantee of the file system that the spool relies on
   (docs/INTERNALS.md, "The spool on a shared file system"), across the two
   mounts: link and rename never replace, a rename is seen whole, flock is
   exclusive across hosts, fsync of a directory works, a file made on one
   host is listed at once on the other, and inotify does not report it;
2. responders on both hosts taking the same events at the same moment
   (Zoom's retry sent to the other host by a load balancer): one job per
   file;
3. a job written through h1 is taken by a --watch spooler on h2, where no
   inotify event comes, within watch_rescan_interval;
4. two spoolers, one per host, racing for the same 40 jobs: each job taken
   and uploaded once (RGW's own log counts the writes per key);
5. a host dies mid-upload (its spooler frozen, its ceph-fuse killed with
   -9): its flock stays held until the MDS evicts the client; then the
   other host's spooler takes the job over and resumes the multipart upload
   from the parts the job records; zoom2s3ctl status names the holder.
Skips (TAP) where FUSE cannot be mounted or Ceph is not installed."""

import ctypes
import errno
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
import fakezoom  # noqa: E402
import s3util  # noqa: E402
import scaleout  # noqa: E402
import webrig  # noqa: E402

MIB = 1 << 20
SECRET = "scaleout-secret-0123456789abcdef"
RESCAN = 3
TOPIC = "Lecture [SO101] scale-out"


class Tap(webrig.Tap):
    pass


def fs_guarantees(tap, cl, base1, base2):
    """The file system's guarantees, checked through two mounts."""
    libc = ctypes.CDLL(None, use_errno=True)
    p1, p2 = os.path.join(cl.mount("h1"), base1), os.path.join(cl.mount("h2"), base2)
    os.makedirs(p1)
    with open(os.path.join(p1, "a"), "w") as f:
        f.write("from h1")
    with open(os.path.join(p2, "b"), "w") as f:
        f.write("from h2")
    # link: the target made on the other host is never replaced
    try:
        os.link(os.path.join(p1, "a"), os.path.join(p1, "b"))
        linked = "replaced"
    except OSError as e:
        linked = errno.errorcode.get(e.errno)
    with open(os.path.join(p2, "b")) as f:
        kept = f.read()
    tap.ok(linked == "EEXIST" and kept == "from h2",
           "link onto a name made through the other mount fails with EEXIST (got %s)" % linked)
    # rename without replacing: EEXIST, or a refusal spool.c falls back from
    r = libc.renameat2(-100, os.path.join(p1, "a").encode(), -100,
                       os.path.join(p1, "b").encode(), 1)
    e1 = errno.errorcode.get(ctypes.get_errno()) if r else "renamed"
    r = libc.renameat2(-100, os.path.join(p1, "a").encode(), -100,
                       os.path.join(p1, "c").encode(), 1)
    e2 = errno.errorcode.get(ctypes.get_errno()) if r else "renamed"
    tap.ok(e1 == "EEXIST" and e2 in ("renamed", "EINVAL", "ENOSYS", "EOPNOTSUPP"),
           "renameat2(RENAME_NOREPLACE): EEXIST onto a taken name; to a free one %s "
           "(EINVAL: ceph-fuse has no flags, spool.c falls back to link + unlink)" % e2)
    # rename over a file (spool_update): the other host reads old or new, whole
    target = os.path.join(p1, "job")
    with open(target, "w") as f:
        f.write("0" * 4096)
    stop = threading.Event()
    torn = []

    def reader():
        while not stop.is_set():
            try:
                with open(os.path.join(p2, "job")) as f:
                    text = f.read()
            except FileNotFoundError:
                torn.append("ENOENT")
                continue
            if len(text) != 4096 or len(set(text)) != 1:
                torn.append(text[:20])
    t = threading.Thread(target=reader)
    t.start()
    for i in range(150):
        tmp = os.path.join(p1, "tmp.%d" % i)
        with open(tmp, "w") as f:
            f.write(str(i % 10) * 4096)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, target)
    stop.set()
    t.join()
    tap.ok(not torn, "150 renames over a file on h1: h2 never saw it missing or torn",
           "%r" % torn[:5])
    # flock: exclusive across hosts, released on close
    fa = os.open(os.path.join(p1, "b"), os.O_RDONLY)
    fb = os.open(os.path.join(p2, "b"), os.O_RDONLY)
    fcntl.flock(fa, fcntl.LOCK_EX)
    refused = []
    for mode in (fcntl.LOCK_EX, fcntl.LOCK_SH):
        try:
            fcntl.flock(fb, mode | fcntl.LOCK_NB)
            refused.append(False)
            fcntl.flock(fb, fcntl.LOCK_UN)
        except BlockingIOError:
            refused.append(True)
    tap.ok(all(refused), "an flock held on h1 refuses h2 both LOCK_EX and LOCK_SH (%r)" %
           refused)
    os.close(fa)

    def try_lock():
        try:
            fcntl.flock(fb, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    tap.ok(scaleout.wait_for(try_lock, 10, 0.01), "closing it on h1 lets h2 take it")
    os.close(fb)
    # fsync of a directory
    try:
        d = os.open(p1, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(d)
        os.close(d)
        synced = "ok"
    except OSError as e:
        synced = str(e)
    tap.ok(synced == "ok", "fsync of a directory works on CephFS (%s)" % synced)
    # what a rescan sees, and what inotify does not
    ifd = libc.inotify_init1(os.O_NONBLOCK)
    libc.inotify_add_watch(ifd, p2.encode(), 0x100 | 0x80)  # IN_CREATE | IN_MOVED_TO
    with open(os.path.join(p1, "made-on-h1"), "w") as f:
        f.write("x")
    listed = "made-on-h1" in os.listdir(p2)
    tap.ok(listed, "a file made through h1 is listed through h2 at once")
    with open(os.path.join(p2, "made-on-h2"), "w") as f:
        f.write("x")
    # inotify's queue: the event of h2's own file arrives, h1's never did
    names = []

    def drain():
        try:
            buf = os.read(ifd, 4096)
        except BlockingIOError:
            return False
        off = 0
        while off < len(buf):
            ln = int.from_bytes(buf[off + 12:off + 16], sys.byteorder)
            names.append(buf[off + 16:off + 16 + ln].rstrip(b"\0").decode())
            off += 16 + ln
        return "made-on-h2" in names
    scaleout.wait_for(drain, 10)
    os.close(ifd)
    tap.ok(names == ["made-on-h2"],
           "inotify on h2 reports the file made there, never the one made on h1 (%r): "
           "hence watch_rescan_interval" % names)


class Rig:
    def __init__(self, tap):
        self.tap = tap
        self.root = tempfile.mkdtemp(prefix="z2so-")
        self.cl = None
        self.fz = None
        self.s3 = None
        self.bucket = "scaleout-%s" % os.urandom(3).hex()

    def setup(self):
        self.cl = scaleout.Cluster().start()
        self.tap.diag("cluster with CephFS and two mounts up in %.1f s" % self.cl.start_seconds)
        env = self.cl.env
        self.s3 = s3util.S3(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"],
                            env["AWS_SECRET_ACCESS_KEY"], env["S3_REGION"])
        self.s3.create_bucket(self.bucket)
        self.fz = fakezoom.FakeZoom(state_dir=os.path.join(self.root, "fz")).start()
        scaleout.make_spool(os.path.join(self.cl.mount("h1"), "spool"))
        rconf = ("webhook_secret_token = %s\ntopic_regex = \\[([A-Za-z0-9_]+)\\]\n"
                 "file_types = MP4\nkey_template = so/{1}/{file_id}.{ext}\n" % SECRET)
        sconf = ("s3_bucket = %s\ns3_region = %s\ns3_endpoint = %s\n"
                 "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                 "download_hosts = 127.0.0.1, 127.0.0.2\nallow_http = true\n"
                 "part_size = 5M\nretry_delay = 60\nwatch_rescan_interval = %d\n" % (
                     self.bucket, env["S3_REGION"], env["S3_ENDPOINT"],
                     env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], RESCAN))
        self.hosts = {h: scaleout.Host(h, self.cl, "spool", self.root, rconf, sconf)
                      for h in scaleout.HOSTS}

    def event(self, uuid, files):
        """Registers files (id -> size) in the stand-in Zoom; the body."""
        self.fz.add_meeting(uuid, topic=TOPIC)
        for fid, size in files.items():
            self.fz.add_file(fid, size=size, meeting_uuid=uuid,
                             recording_start="2026-12-01T10:00:00Z",
                             recording_end="2026-12-01T11:00:00Z")
        return fakezoom.webhook_bytes(self.fz.webhook_event(uuid))

    def post(self, host, body):
        ts = str(int(time.time()))
        return self.hosts[host].post(body, fakezoom.sign_webhook(SECRET, ts, body))

    def object_ok(self, fid, key):
        info = self.fz.file_info(fid)
        try:
            digest, size = self.s3.object_sha256(self.bucket, key)
        except s3util.S3Error as e:
            return "%s: %s" % (key, e)
        if (digest, size) != (info["sha256"], info["size"]):
            return "%s: %s/%d, want %s/%d" % (key, digest, size, info["sha256"], info["size"])
        return None

    def cleanup(self):
        for h in getattr(self, "hosts", {}).values():
            for p in h.live():
                p.kill()
                p.wait()
        if self.fz:
            self.fz.stop()
        if self.cl:
            self.cl.stop()
        import shutil
        shutil.rmtree(self.root, ignore_errors=True)


def case_responders(rig):
    """Both hosts' responders take each event at the same moment, twice."""
    tap = rig.tap
    bodies, fids = [], []
    for i in range(12):
        files = {"race-%02d-%d" % (i, j): 1000 + j for j in range(3)}
        fids += list(files)
        bodies.append(rig.event("race-meeting-%02d==" % i, files))
    statuses = []

    def both(body):
        gate = threading.Barrier(2)

        def one(h):
            gate.wait()
            statuses.append(rig.post(h, body))
        ts = [threading.Thread(target=one, args=(h,)) for h in scaleout.HOSTS]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    for body in bodies:
        both(body)
        both(body)
    h = rig.hosts["h2"]
    tap.ok(statuses == [200] * len(statuses),
           "%d deliveries, each event to both hosts at once, twice: all 200" % len(statuses),
           "%r" % statuses)
    want = sorted(webrig.job_name(f) for f in fids)
    tap.ok(h.names("new") == want, "new/ holds one job per file (%d), no .N.json copy" %
           len(want), "got %r" % h.names("new"))
    tap.ok(h.names("tmp") == [], "tmp/ is empty: no write was left behind")
    return fids


def case_rescan(rig):
    """A job enqueued through h1 is taken by a --watch spooler on h2."""
    tap = rig.tap
    h1, h2 = rig.hosts["h1"], rig.hosts["h2"]
    p = h2.start_spooler("--watch", "-j", "2")
    # The race jobs of case_responders are in new/: this spooler (the only
    # one) uploads them first; its start scan found them.
    ok = scaleout.wait_for(lambda: not h2.names("new") and not h2.names("cur"), 120)
    tap.ok(ok, "the --watch spooler on h2 empties new/ (its first scan)")
    body = rig.event("rescan-meeting==", {"rescan-1": 3 * MIB})
    t0 = time.monotonic()
    status = rig.post("h1", body)
    taken = scaleout.wait_for(lambda: h2.read_job("done", "rescan-1.json") or
                              h2.read_job("cur", "rescan-1.json"), RESCAN + 30, 0.05)
    took = time.monotonic() - t0
    tap.ok(status == 200 and taken,
           "a job written through h1 (status %d) is taken by h2's --watch spooler" % status)
    # the loop counts whole seconds (time()), and the machine may be busy
    tap.ok(took <= RESCAN + 3.0,
           "within watch_rescan_interval (%d s, and a second of the loop's clock): taken "
           "%.1f s after it was spooled" % (RESCAN, took))
    done = scaleout.wait_for(lambda: h2.read_job("done", "rescan-1.json"), 60)
    tap.ok(done and done.get("claimed_by") == "h2:%d" % p.pid,
           "the done job records claimed_by h2:%d (%r)" % (p.pid, (done or {}).get(
               "claimed_by")))
    tap.ok(done and not rig.object_ok("rescan-1", done.get("s3_key")),
           "its object is byte-exact")
    h2.stop_spoolers()
    tap.ok(p.returncode == 0, "SIGTERM: the --watch spooler exits 0 (%r)" % p.returncode)


def case_race(rig, race_fids):
    """Two spoolers, one per host, start at once on the same 40 jobs."""
    tap = rig.tap
    h1, h2 = rig.hosts["h1"], rig.hosts["h2"]
    files = {"dup-%02d" % i: (6 * MIB + i * 1000 if i % 4 == 0 else 20000 + i)
             for i in range(40)}
    for i in range(0, 40, 10):
        body = rig.event("dup-meeting-%d==" % i, dict(list(files.items())[i:i + 10]))
        tap.ok(rig.post("h1" if i % 20 else "h2", body) == 200,
               "jobs %d-%d spooled" % (i, i + 9))
    procs = [h1.start_spooler("--once", "-j", "4"), h2.start_spooler("--once", "-j", "4")]
    for p in procs:
        p.wait(timeout=300)
    tap.ok([p.returncode for p in procs] == [0, 0],
           "both --once spoolers exit 0 (%r)" % [p.returncode for p in procs])
    text = h1.log_text() + "\n" + h2.log_text()
    starts = {}
    for f in scaleout.log_events(text, "transfer.start"):
        starts[f.get("job")] = starts.get(f.get("job"), 0) + 1
    names = [webrig.job_name(f) for f in files]
    twice = {n: c for n, c in starts.items() if n in names and c != 1}
    tap.ok(not twice and all(n in starts for n in names),
           "each of the 40 jobs was transferred exactly once by the two hosts", "%r" % twice)
    by_host = {h: sum(1 for f in scaleout.log_events(rig.hosts[h].log_text(),
                                                      "transfer.start")
                      if f.get("job") in names) for h in scaleout.HOSTS}
    tap.diag("jobs taken: %r" % by_host)
    tap.ok(sorted(h1.names("done")) == sorted(set(names) | {webrig.job_name(f)
                                                            for f in race_fids} |
                                              {"rescan-1.json"}),
           "done/ holds each job once", "%r" % h1.names("done")[:10])
    claimed = {(h1.read_job("done", n) or {}).get("claimed_by", "").split(":")[0]
               for n in names}
    tap.ok(claimed <= {"h1", "h2"}, "each done job names the host that did it (%r)" %
           sorted(claimed))
    bad = [e for e in (rig.object_ok(f, (h1.read_job("done", webrig.job_name(f)) or {}).get(
        "s3_key", "?")) for f in files) if e]
    tap.ok(not bad, "every object byte-exact", *bad[:5])
    counts = rig.cl.completions(rig.bucket)
    keys = ["so/SO101/%s.mp4" % f for f in files]
    wrong = {k: counts.get(k, 0) for k in keys if counts.get(k, 0) != 1}
    tap.ok(not wrong, "RGW's log: one successful write (PUT or CompleteMultipartUpload) per "
           "key", "%r" % wrong)


def case_takeover(rig):
    """A host dies holding a claim mid-upload; the other takes it over."""
    tap = rig.tap
    h1, h2 = rig.hosts["h1"], rig.hosts["h2"]
    fid, size = "takeover-1", 23 * MIB
    name = webrig.job_name(fid)
    body = rig.event("takeover-meeting==", {fid: size})
    # The CDN holds its answer after 21 MiB: by then the spooler has handed
    # part 4 to an uploader, which it does only once parts 1 and 2 are
    # recorded in the job (two uploaders, parts recorded in order).
    rig.fz.fault(fid, "stall", count=1, after=21 * MIB)
    a = h1.start_spooler("--watch", "-j", "1")
    tap.ok(rig.post("h1", body) == 200, "the job is spooled through h1")
    stalled = scaleout.wait_for(lambda: [e for e in rig.fz.requests(server="cdn",
                                                                    file_id=fid)
                                         if e.get("stalled")], 50)

    def recorded():
        j = h1.read_job("cur", name)
        return j if j and len(j.get("parts") or []) >= 2 else None
    job = scaleout.wait_for(recorded, 10)
    tap.ok(job and stalled and job.get("claimed_by") == "h1:%d" % a.pid,
           "h1's spooler holds it in cur/, parts recorded, its download held by the CDN",
           "%r" % job)
    st = h2.ctl("status")
    tap.ok("cur/%s: held by h1:%d" % (name, a.pid) in st.stdout,
           "zoom2s3ctl status on h2 names the host holding it", st.stdout + st.stderr)
    b = h2.start_spooler("--watch", "-j", "2")
    # The host dies: its spooler stops where it is, then its file system
    # client goes, without a word to the MDS.
    a.send_signal(signal.SIGSTOP)
    job = h1.read_job("cur", name) or {}
    parts = len(job.get("parts") or [])
    t_death = time.monotonic()
    rig.cl.crash("h1")
    a.kill()
    a.wait()
    # Its flock outlives it. (An open() through h2 of the file whose caps
    # the dead client held even waits for the eviction.)
    probe = subprocess.Popen(["flock", "-n", "-s", h2.path("cur", name), "true"])
    try:
        held = probe.wait(timeout=5) == 1
    except subprocess.TimeoutExpired:
        held = True   # its lookup waits in the MDS: it ends after the eviction
    tap.ok(held, "the dead host's flock still holds its job (a probe from h2 is refused "
           "or waits)")
    tap.ok("job=%s" % name not in h2.log_text(),
           "h2's spooler has not taken it (its lock is the dead client's)")
    rig.cl.evict("h1")
    t_evict = time.monotonic()
    probe.wait(timeout=60)
    adopted = scaleout.wait_for(
        lambda: [f for f in scaleout.log_events(h2.log_text(), "job.adopted")
                 if f.get("job") == name], RESCAN + 30, 0.05)
    t_adopt = time.monotonic()
    tap.ok(adopted, "after the eviction h2's spooler adopts the job")
    tap.diag("host death to eviction %.1f s, eviction to adoption %.1f s, death to "
             "adoption %.1f s (watch_rescan_interval %d s)" % (
                 t_evict - t_death, t_adopt - t_evict, t_adopt - t_death, RESCAN))
    rig.takeover_seconds = (t_death, t_evict, t_adopt)
    done = scaleout.wait_for(lambda: h2.read_job("done", name), 120)
    tap.ok(done and done.get("claimed_by") == "h2:%d" % b.pid,
           "it ends in done/, claimed_by h2:%d" % b.pid, "%r" % done)
    resumes = [f for f in scaleout.log_events(h2.log_text(), "transfer.resume")
               if f.get("job") == name]
    tap.ok(resumes and resumes[0].get("offset") == str(parts * 5 * MIB) and
           resumes[0].get("next_part") == str(parts + 1),
           "the upload resumed after the %d parts the job recorded (%r)" % (parts, resumes))
    ranged = [e.get("range") for e in rig.fz.requests(server="cdn", file_id=fid)]
    tap.ok(len(ranged) == 2 and ranged[1] == "bytes=%d-" % (parts * 5 * MIB),
           "h2 downloaded from there on (%r)" % ranged)
    tap.ok(done and not rig.object_ok(fid, done.get("s3_key")), "the object is byte-exact")
    counts = rig.cl.completions(rig.bucket)
    tap.ok(counts.get("so/SO101/%s.mp4" % fid) == 1, "completed once (%r)" %
           counts.get("so/SO101/%s.mp4" % fid))
    uploads = rig.s3.list_multipart_uploads(rig.bucket)
    tap.ok(uploads == [], "no multipart upload left", "%r" % uploads)
    h2.stop_spoolers()
    rig.cl.remount("h1")
    tap.ok(os.path.isdir(h1.path("done")), "h1 mounts again after its eviction")


def main():
    scaleout.require()
    tap = Tap()
    rig = Rig(tap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def cases():
        fs_guarantees(tap, rig.cl, "probe", "probe")
        fids = case_responders(rig)
        case_rescan(rig)
        case_race(rig, fids)
        case_takeover(rig)

    return webrig.run_to_end(tap, rig, cases, "the test ran to its end")


if __name__ == "__main__":
    sys.exit(main())
