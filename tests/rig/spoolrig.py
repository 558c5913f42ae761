"""spoolrig: the spooler's end-to-end rig (Python 3 stdlib only).

A test makes a Rig: a temp spool, its own stand-in Zoom (fakezoom.py as a
child process), a bucket of its own on an S3 server, and a config file
for the real src/zoom2s3-spooler. It registers files with fakezoom, spools
jobs with the responder's own enqueue (tests/unit/mkjob, linked with
libzoom2s3.a), runs the spooler with a timeout (with -j N when
ZOOM2S3_SPOOLER_JOBS=N and the test names no -j), and reads back the spool
and the bucket:

    def body(tap, rig):
        f = rig.add_file("fileA", 1234)
        rig.enqueue(rig.job_for(f))
        r = rig.run()
        tap.eq(r.rc, 0, "exit status 0")
        tap.eq(rig.object_sha256(key), (f["sha256"], 1234), "byte-exact")

    spoolrig.main("sizes", body)

The S3 server is the Rig's backend: "rgw" (the default) is the shared Ceph
RGW (rgw.sh: the cluster in $ZOOM2S3_RGW_DIR, else one under the build
tree, started on first use and shared by every test that runs meanwhile);
"moto" is a moto_server of the test's own (tests/rig/motorig.py), where the
`python3` on PATH has moto. spoolrig.main(..., backend="moto") runs the
same cases against moto; rig.backend.name says which one a case meets.

Every spooler run's stderr (ZOOM2S3_LOG=stderr -v) is kept: Rig.finish()
checks it for every secret fakezoom handed out, the AWS secret key,
pre-signed query strings and sanitizer reports.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import childproc  # noqa: E402
import fakezoom  # noqa: E402
import motorig  # noqa: E402
import s3util  # noqa: E402
import webrig  # noqa: E402

SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
SPOOLER = os.path.join(BUILDDIR, "src", "zoom2s3-spooler")
MKJOB = os.path.join(BUILDDIR, "tests", "unit", "mkjob")
RGW_SH = os.path.join(SRCDIR, "tests", "rig", "rgw.sh")
MIB = 1024 * 1024
PART = 5 * MIB
STATES = ("tmp", "new", "cur", "done", "failed")
UUID = "4444AAAiAAAAAiAiAiiAii=="
SANITIZER_MARKS = webrig.SANITIZER_MARKS + ("ERROR: LeakSanitizer", "WARNING: ThreadSanitizer")

Tap = webrig.Tap
job_name = webrig.job_name


def skip_all(reason):
    webrig.skip_all(reason)


def require(backend="rgw"):
    missing = BACKENDS[backend].missing()
    if missing:
        skip_all(missing)
    for prog in (SPOOLER, MKJOB):
        if not os.access(prog, os.X_OK):
            print("1..1")
            print("not ok 1 - not built: %s" % prog)
            sys.exit(1)


def wait_for(cond, timeout, interval=0.05):
    """Polls cond() until it is true or timeout seconds pass (a liveness
    bound, not a timing assertion). Returns cond()'s last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- RGW -------

def rgw_dir():
    return os.environ.get("ZOOM2S3_RGW_DIR") or os.path.join(BUILDDIR, "tests", "rgw")


def _rgw(cmd, *args):
    env = dict(os.environ, RGW_HOLDER_PID=str(os.getpid()))
    return subprocess.run(["bash", RGW_SH, cmd, rgw_dir()] + list(args), env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)


def rgw_start():
    """Starts (or joins) the shared cluster; returns its env dict."""
    os.makedirs(os.path.dirname(rgw_dir()), exist_ok=True)
    r = _rgw("start")
    if r.returncode != 0:
        raise RuntimeError("rgw.sh start failed:\n" + r.stderr + r.stdout)
    r = _rgw("env")
    if r.returncode != 0:
        raise RuntimeError("rgw.sh env failed:\n" + r.stderr)
    env = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        env[k.strip()] = v.strip()
    return env


def rgw_release():
    _rgw("release")


class RgwBackend:
    """The shared Ceph RGW (tests/rig/rgw.sh), held while the rig lives."""
    name = "rgw"
    signs_slash_in_query = True

    @staticmethod
    def missing():
        """Why it cannot run here, or None."""
        if os.geteuid() != 0:
            return "needs root (the Ceph RGW rig)"
        for tool in ("ceph", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "bash",
                     "curl"):
            if not shutil.which(tool):
                return "%s is not installed" % tool
        return None

    def start(self, rig):
        """The server's env (S3_ENDPOINT, AWS_ACCESS_KEY_ID, ...)."""
        env = rgw_start()
        self.held = True
        return env

    def release(self):
        if getattr(self, "held", False):
            rgw_release()
            self.held = False


class MotoBackend:
    """A moto_server of the rig's own, with auth on (tests/rig/motorig.py);
    self.moto makes IAM users."""
    name = "moto"
    # moto 5.2.1 checks a signature over a query value with "/" (a
    # prefix=) against the value unencoded: SignatureDoesNotMatch
    signs_slash_in_query = False
    moto = None

    @staticmethod
    def missing():
        if not motorig.moto_python():
            return "the python3 on PATH has no moto (python3 -c 'import moto' fails)"
        return None

    def start(self, rig):
        self.moto = motorig.Moto(motorig.moto_python(), rig.root, webrig._tracked)
        return self.moto.env()

    def release(self):
        if self.moto is not None:
            self.moto.stop()
            self.moto = None


BACKENDS = {"rgw": RgwBackend, "moto": MotoBackend}


# ------------------------------------------------------------ the rig -------

class Run:
    def __init__(self, rc, stderr, seconds):
        self.rc, self.stderr, self.seconds = rc, stderr, seconds

    def __repr__(self):
        return "Run(rc=%r, %.1fs)" % (self.rc, self.seconds)

    def tail(self, n=25):
        return "\n".join(self.stderr.splitlines()[-n:])

    def events(self, name):
        """Log lines of one event (event=NAME)."""
        return [ln for ln in self.stderr.splitlines() if ("event=%s " % name) in ln + " "]


class Rig:
    def __init__(self, name, fakezoom_args=(), backend="rgw"):
        self.name = name
        self.root = tempfile.mkdtemp(prefix="zoom2s3-%s-" % name)
        self.spool = os.path.join(self.root, "spool")
        self.config_path = os.path.join(self.root, "zoom2s3.conf")
        self.runs = []          # every Run, for the log checks
        self.procs = []         # spoolers started with start()
        self.fz_proc = None
        self.backend = BACKENDS[backend]()
        self.s3_held = False
        self.s3 = self.bucket = None
        try:
            self.setup(fakezoom_args)
        except BaseException:
            self.cleanup()
            raise

    def setup(self, fakezoom_args):
        self.make_spool(self.spool)
        self.fz_proc, self.fz = fakezoom.start_subprocess(
            os.path.join(self.root, "fakezoom"), extra_args=list(fakezoom_args))
        # webrig's servers reap every child of ours they do not know of
        webrig._tracked.add(self.fz_proc.pid)
        self.s3_held = True  # released in cleanup() even if start() fails half-way
        self.s3env = self.backend.start(self)
        self.s3 = s3util.S3(self.s3env["S3_ENDPOINT"], self.s3env["AWS_ACCESS_KEY_ID"],
                            self.s3env["AWS_SECRET_ACCESS_KEY"], self.s3env["S3_REGION"])
        self.bucket = "h8-%s-%s" % (self.name.lower().replace("_", "-"), os.urandom(4).hex())
        self.s3.create_bucket(self.bucket)
        self.config = {}
        self.write_config()

    # -- spool and config --
    @staticmethod
    def make_spool(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o2770)
        for st in STATES:
            d = os.path.join(path, st)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o2770)
        with open(os.path.join(path, ".lock"), "a"):
            pass
        os.chmod(os.path.join(path, ".lock"), 0o660)

    def base_config(self):
        return {
            "spool_dir": self.spool,
            "s3_bucket": self.bucket,
            "s3_endpoint": self.s3env["S3_ENDPOINT"],
            "s3_region": self.s3env["S3_REGION"],
            "aws_access_key_id": self.s3env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.s3env["AWS_SECRET_ACCESS_KEY"],
            "download_hosts": "127.0.0.1, 127.0.0.2",
            "allow_http": "true",
            "part_size": "5M",
            "retry_delay": "60",
            "retry_max_delay": "3600",
            "max_attempts": "48",
            "zoom_oauth_url": self.fz.base_url + "/oauth/token",
            "zoom_api_url": self.fz.base_url + "/v2",
        }

    def write_config(self, **changes):
        """The base config with changes (None drops a key); kept until the
        next call."""
        cfg = self.base_config()
        for k, v in changes.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = str(v)
        self.config = cfg
        with open(self.config_path, "w") as f:
            f.write("# written by tests/rig/spoolrig.py\n")
            for k, v in cfg.items():
                f.write("%s = %s\n" % (k, v))
        os.chmod(self.config_path, 0o600)  # it holds the AWS secret
        return self.config_path

    def oauth_config(self):
        return {"zoom_account_id": "fz-account", "zoom_client_id": "fz-client-id",
                "zoom_client_secret": "fz-client-secret"}

    def jwt_config(self):
        return {"zoom_api_key": "fz-api-key", "zoom_api_secret": "fz-api-secret"}

    # -- files and jobs --
    def add_file(self, fid, size, meeting_uuid=UUID, **kw):
        """Registers a file with fakezoom; returns its info with sha256."""
        self.fz.add_file(fid, size=size, meeting_uuid=meeting_uuid, **kw)
        return self.fz.file_info(fid)

    def job_for(self, info, key=None, token=True, **over):
        """A job as the responder writes it for fakezoom file info."""
        ext = info.get("file_extension", "MP4")
        job = {
            "recording_file_id": info["id"],
            "meeting_uuid": info["meeting_uuid"],
            "meeting_id": 88031573992,
            "topic": "Spooler test [H8]",
            "host_email": "host@example.com",
            "start_time": "2026-11-26T20:05:00Z",
            "recording_start": "2026-11-26T20:06:21Z",
            "recording_end": "2026-11-26T21:06:21Z",
            "file_type": "MP4" if ext.upper() == "MP4" else ext.upper(),
            "file_extension": ext,
            "file_size": info["size"],
            "recording_type": "shared_screen_with_speaker_view",
            "download_url": info["download_url"],
            "s3_key": key or ("rec/%s/%s.%s" % (self.name, info["id"], ext.lower())),
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "attempts": 0,
        }
        if token is True:
            job["download_token"] = info["token"]
        elif token:
            job["download_token"] = token
        for k, v in over.items():
            if v is None:
                job.pop(k, None)
            else:
                job[k] = v
        return job

    @staticmethod
    def job_text(job):
        return json.dumps(job, indent=2, ensure_ascii=False) + "\n"

    def enqueue(self, job):
        """Spools job through the responder's own enqueue (tests/unit/mkjob:
        spool_enqueue of libzoom2s3.a); its name."""
        p = subprocess.run([MKJOB, self.spool], input=self.job_text(job).encode(),
                           stdin=None, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("mkjob: %s" % p.stderr.decode(errors="replace").strip())
        return p.stdout.decode().strip()

    def abandon(self, job):
        """What a spooler that died leaves behind: the job spooled with the
        responder's enqueue, then moved to cur/ as a claim moves it, with no
        process holding its lock. Its name."""
        name = self.enqueue(job)
        os.rename(os.path.join(self.spool, "new", name), os.path.join(self.spool, "cur", name))
        return name

    def states(self):
        out = {}
        for st in STATES:
            out[st] = sorted(n for n in os.listdir(os.path.join(self.spool, st))
                             if not n.startswith("."))
        return out

    def where(self, fid):
        """The states holding the job of file fid (normally one)."""
        name = job_name(fid)
        return [st for st in ("new", "cur", "done", "failed")
                if os.path.exists(os.path.join(self.spool, st, name))]

    def job(self, state, fid):
        """The job's JSON in state, or None."""
        try:
            with open(os.path.join(self.spool, state, job_name(fid))) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def move(self, fid, src, dst):
        """By hand, as an operator's mv."""
        os.rename(os.path.join(self.spool, src, job_name(fid)),
                  os.path.join(self.spool, dst, job_name(fid)))

    # -- the spooler --
    def env(self, extra=None):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.root,
            "ZOOM2S3_LOG": "stderr",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.root, "no-credentials"),
            "LANG": "C",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra or {})
        return env

    def argv(self, args, config=True):
        argv = [SPOOLER]
        if config:
            argv += ["-c", self.config_path]
        jobs = os.environ.get("ZOOM2S3_SPOOLER_JOBS")
        if jobs and not any(a == "-j" or a.startswith("-j") for a in args):
            argv += ["-j", jobs]  # the ThreadSanitizer run: tests/run-all.sh
        return argv + list(args)

    def run(self, *args, timeout=180, env=None, config=True, verbose=True):
        """Runs the spooler to its end (--once by default)."""
        if verbose:
            args = ("-v",) + tuple(args)
        t0 = time.monotonic()
        try:
            p = subprocess.run(self.argv(args, config), env=self.env(env),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout)
            rc, out = p.returncode, p.stdout
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", e.stdout or b""
        r = Run(rc, out.decode(errors="replace"), time.monotonic() - t0)
        self.runs.append(r)
        return r

    def start(self, *args, env=None, verbose=True):
        """Starts the spooler in the background; collect(p) waits for it."""
        if verbose:
            args = ("-v",) + tuple(args)
        log = tempfile.TemporaryFile(dir=self.root)
        p = subprocess.Popen(self.argv(args), env=self.env(env), stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT)
        p.log = log
        p.t0 = time.monotonic()
        self.procs.append(p)
        webrig._tracked.add(p.pid)
        return p

    def collect(self, p, timeout=60):
        """Waits for a started spooler (killing it after timeout); its Run."""
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "timeout"
        p.log.seek(0)
        r = Run(rc, p.log.read().decode(errors="replace"), time.monotonic() - p.t0)
        p.log.close()
        webrig._tracked.discard(p.pid)
        if p in self.procs:
            self.procs.remove(p)
        self.runs.append(r)
        return r

    def signal(self, p, sig):
        if p.poll() is None:
            os.kill(p.pid, sig)

    # -- the bucket --
    def objects(self, prefix=""):
        if self.backend.signs_slash_in_query:
            return self.s3.list_objects(self.bucket, prefix)
        return [o for o in self.s3.list_objects(self.bucket) if o["key"].startswith(prefix)]

    def object_sha256(self, key):
        try:
            return self.s3.object_sha256(self.bucket, key)
        except s3util.S3Error as e:
            return ("error: %s" % e, -1)

    def head(self, key):
        return self.s3.head_object(self.bucket, key)

    def uploads(self, prefix=""):
        if self.backend.signs_slash_in_query:
            return self.s3.list_multipart_uploads(self.bucket, prefix)
        return [u for u in self.s3.list_multipart_uploads(self.bucket)
                if u["key"].startswith(prefix)]

    # -- fakezoom's log --
    def requests(self, **kw):
        return self.fz.requests(**kw)

    def body_requests(self, fid):
        """Requests that got the file's bytes (CDN, or a direct body)."""
        return [e for e in self.fz.requests(file_id=fid)
                if e.get("kind") == "cdn" or e.get("declared_length") is not None]

    # -- checks at the end --
    def check_logs(self, tap):
        """No secret, token or pre-signed query string in any log line; no
        sanitizer report."""
        text = "\n".join(r.stderr for r in self.runs)
        secrets = set(self.fz.log()["secrets"])
        secrets.add(self.s3env["AWS_SECRET_ACCESS_KEY"])
        secrets.add("fz-client-secret")
        secrets.add("fz-api-secret")
        leaked = sorted(s for s in secrets if s and len(s) >= 4 and s in text)
        tap.ok(not leaked, "no token, secret or signature in %d spooler log(s) (%d secrets "
               "checked)" % (len(self.runs), len(secrets)),
               *["leaked: %s..." % s[:6] for s in leaked])
        bad = [ln for ln in text.splitlines()
               if "Signature=" in ln or "Policy=" in ln or "Expires=" in ln or
               "X-Amz-Signature" in ln]
        tap.ok(not bad, "no pre-signed query string in the logs", *bad[:5])
        san = [ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKS)]
        tap.ok(not san, "no sanitizer report in the spooler's output", *san[:10])

    def cleanup(self):
        for p in list(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait()
            p.log.close()
        self.procs = []
        if self.fz_proc is not None:
            childproc.stop(self.fz_proc, 10)
        if self.s3_held:
            if self.s3 is not None and self.bucket is not None:
                try:
                    self.s3.empty_bucket(self.bucket)
                    self.s3.delete_bucket(self.bucket)
                except Exception:  # the cluster may be gone: nothing to tidy
                    pass
            self.backend.release()
        if os.environ.get("ZOOM2S3_KEEP_RIG") == "1":
            Tap.diag("kept " + self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def main(name, *cases, fakezoom_args=(), backend="rgw"):
    """Runs each case(tap, rig), in order, with one fresh Rig on the S3
    backend ("rgw" or "moto"); every exception is a failing TAP line; the
    plan is printed at the end."""
    require(backend)
    webrig.become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tap = Tap()
    rig = None
    try:
        rig = Rig(name, fakezoom_args, backend)
        for case in cases:
            case(tap, rig)
        rig.check_logs(tap)
    except Exception:
        tap.ok(False, "test ran to its end", traceback.format_exc())
    finally:
        if rig is not None:
            rig.cleanup()
    sys.exit(tap.finish())


# ------------------------------------------------------- shared checks ------

def check_done(tap, rig, info, key, label, run=None):
    """The job of info is in done/ with its fields, and the object under key
    is byte-exact with the file's metadata."""
    fid = info["id"]
    tap.eq(rig.where(fid), ["done"], "%s: job in done/" % label)
    job = rig.job("done", fid) or {}
    ok_time = isinstance(job.get("completed_at"), str) and len(job["completed_at"]) == 20 and \
        job["completed_at"].endswith("Z")
    tap.ok(ok_time, "%s: completed_at is RFC 3339 UTC" % label, repr(job.get("completed_at")))
    tap.ok(type(job.get("bytes")) is int and job.get("bytes") == info["size"],
           "%s: bytes = %d" % (label, info["size"]), repr(job.get("bytes")))
    tap.eq(job.get("s3_bucket"), rig.bucket, "%s: s3_bucket" % label)
    etag = job.get("s3_etag")
    head = rig.head(key)
    tap.ok(isinstance(etag, str) and etag and '"' not in etag and head is not None and
           head.get("etag", "").strip('"') == etag,
           "%s: s3_etag is the object's ETag without quotes" % label,
           "job: %r" % (etag,), "object: %r" % (head and head.get("etag"),))
    tap.eq(rig.object_sha256(key), (info["sha256"], info["size"]),
           "%s: object byte-exact (sha256, size)" % label)
    tap.eq(head and head.get("x-amz-meta-zoom-file-id"), fid,
           "%s: x-amz-meta-zoom-file-id" % label)
    for k in ("last_error", "next_attempt_at", "upload_id", "parts"):
        if k in job:
            tap.ok(False, "%s: done job has no %s" % (label, k), repr(job[k])[:200])
    return job


def key_of(rig, fid):
    """The key job_for gives an MP4 file of this rig."""
    return "rec/%s/%s.mp4" % (rig.name, fid)


def last_seq(rig):
    """The sequence number of fakezoom's last logged request (0: none)."""
    reqs = rig.fz.log()["requests"]
    return reqs[-1]["seq"] if reqs else 0


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()
