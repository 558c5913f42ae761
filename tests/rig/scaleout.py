"""Two "hosts" on one spool over CephFS, for the scale-out test
(tests/e2e/scaleout_cephfs.py), its soak (tests/soak/scaleout_soak.py) and
bench/scaleout.py.

A host is a ceph-fuse mount of tests/rig/cephfs.sh (client.h1 at DIR/h1,
client.h2 at DIR/h2) with a responder and spoolers of its own:
- the responder runs as plain CGI (zoom2s3.fcgi with the request in its
  environment and stdin, as a web server's CGI module runs it), with a
  config whose spool_dir is the spool seen through this host's mount;
- each spooler runs in a UTS namespace of its own whose host name is the
  host's (unshare -u), so claimed_by says h1:PID or h2:PID as on two
  machines.
Python 3 stdlib only. Everything is stopped by PID."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import childproc
import webrig  # noqa: F401  (skip_all, Tap: one of each)

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
CEPHFS_SH = os.path.join(HERE, "cephfs.sh")
SPOOLER = os.path.join(BUILDDIR, "src", "zoom2s3-spooler")
CTL = os.path.join(BUILDDIR, "src", "zoom2s3ctl")
RESPONDER = os.path.join(BUILDDIR, "src", "zoom2s3.fcgi")
HOSTS = ("h1", "h2")
STATES = ("tmp", "new", "cur", "done", "failed")
skip_all = webrig.skip_all


def cephfs_unusable():
    """Why this machine cannot run the scale-out rig, or None."""
    r = subprocess.run(["bash", CEPHFS_SH, "check"], capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stdout.strip() or "cephfs.sh check failed")


def require(programs=(SPOOLER, RESPONDER, CTL)):
    """Root, FUSE and Ceph, and the built programs: else a TAP skip (or,
    for a missing build, a failure)."""
    if os.geteuid() != 0:
        skip_all("needs root (ceph-fuse mounts, Ceph daemons)")
    why = cephfs_unusable()
    if why:
        skip_all(why)
    for prog in programs:
        if not os.access(prog, os.X_OK):
            print("1..1\nnot ok 1 - build the programs first: %s" % prog)
            sys.exit(1)


class Cluster:
    """tests/rig/cephfs.sh under a private directory (short: its admin
    sockets must fit 107 bytes). The cluster's watcher stops it, MDS and
    mounts included, once this process has been gone for RGW_LINGER s."""

    def __init__(self, linger=20):
        self.dir = tempfile.mkdtemp(prefix="z2cfs-", dir="/tmp")
        self.linger = linger
        self.start_seconds = None

    def sh(self, *args, check=True, timeout=300):
        env = dict(os.environ, RGW_HOLDER_PID=str(os.getpid()),
                   RGW_LINGER=str(self.linger))
        env.pop("RGW_PORT", None)
        r = subprocess.run(["bash", CEPHFS_SH, args[0], self.dir] + list(args[1:]), env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("cephfs.sh %s: %s%s" % (args[0], r.stderr, r.stdout))
        return r

    def start(self):
        t0 = time.monotonic()
        r = self.sh("start")
        self.start_seconds = time.monotonic() - t0
        self.start_log = r.stderr
        self.env = dict(line.split("=", 1) for line in self.sh("env").stdout.split())
        return self

    def mount(self, host):
        return self.env["CEPHFS_%s" % host.upper()]

    def crash(self, host):
        self.sh("crash", host)

    def evict(self, host):
        self.sh("evict", host)

    def remount(self, host):
        self.sh("mount", host)

    def stop(self):
        self.sh("stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.unlink(self.dir + ".lock")  # rgw.sh's lock, beside the directory
        except OSError:
            pass

    def rgw_requests(self):
        """Every request RGW's beast front end logged: (method, path, query,
        status), path and query as sent (percent-encoded)."""
        out = []
        pat = re.compile(r'beast: \S+: \S+ - \S+ \[[^\]]*\] "(\S+) ([^ ?"]*)(?:\?([^ "]*))? '
                         r'HTTP/[0-9.]+" (\d+)')
        path = os.path.join(self.dir, "log", "client.rgw.a.log")
        with open(path, errors="replace") as f:
            for line in f:
                m = pat.search(line)
                if m:
                    out.append((m.group(1), m.group(2), m.group(3) or "", int(m.group(4))))
        return out

    def completions(self, bucket):
        """{key path: number of successful object writes}: each 200 to a
        CompleteMultipartUpload (POST ?uploadId=) or a whole-object PUT (no
        partNumber) in bucket."""
        counts = {}
        prefix = "/%s/" % bucket
        for method, path, query, status in self.rgw_requests():
            if status != 200 or not path.startswith(prefix):
                continue
            q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
            whole_put = method == "PUT" and "partNumber" not in q and "uploadId" not in q
            complete = method == "POST" and "uploadId" in q
            if whole_put or complete:
                key = path[len(prefix):]
                counts[key] = counts.get(key, 0) + 1
        return counts


def make_spool(path):
    """A spool made by hand, as an operator would (root's group here: the
    tests run every program as root)."""
    for d in [path] + [os.path.join(path, s) for s in STATES]:
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o2770)


def spooler_env(home):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "ZOOM2S3_LOG": "stderr", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none"), "LANG": "C"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


class Host:
    """One host: its mount, its view of the spool, its configs."""

    def __init__(self, name, cluster, spool_rel, workdir, responder_conf, spooler_conf):
        self.name = name
        self.cluster = cluster
        self.spool_rel = spool_rel
        self.work = os.path.join(workdir, name)
        os.makedirs(self.work, exist_ok=True)
        self.rconf = os.path.join(self.work, "responder.conf")
        self.sconf = os.path.join(self.work, "spooler.conf")
        with open(self.rconf, "w") as f:
            f.write("spool_dir = %s\n%s" % (self.spool, responder_conf))
        with open(self.sconf, "w") as f:
            f.write("spool_dir = %s\n%s" % (self.spool, spooler_conf))
        os.chmod(self.sconf, 0o600)
        self.runs = 0
        self.spoolers = []   # (Popen, log path)
        self.responder_log = os.path.join(self.work, "responder.log")

    @property
    def mount(self):
        return self.cluster.mount(self.name)

    @property
    def spool(self):
        return os.path.join(self.mount, self.spool_rel)

    def path(self, state, name=""):
        return os.path.join(self.spool, state, name)

    def names(self, state):
        return sorted(n for n in os.listdir(self.path(state)) if not n.startswith("."))

    def read_job(self, state, name):
        try:
            with open(self.path(state, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # -- the responder, as CGI --
    def post(self, body, headers, timeout=30):
        """One webhook request through this host's responder. Returns the
        HTTP status (0 when the program failed to answer)."""
        env = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
               "SCRIPT_NAME": "/zoom2s3", "REQUEST_URI": "/zoom2s3",
               "CONTENT_LENGTH": str(len(body)), "ZOOM2S3_CONFIG": self.rconf,
               "SERVER_NAME": self.name, "REMOTE_ADDR": "127.0.0.1"}
        for k, v in headers.items():
            if k.lower() == "content-type":
                env["CONTENT_TYPE"] = v
            else:
                env["HTTP_" + k.upper().replace("-", "_")] = v
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        with open(self.responder_log, "ab") as err:
            try:
                r = subprocess.run([RESPONDER], input=body, env=env, stdout=subprocess.PIPE,
                                   stderr=err, timeout=timeout)
            except subprocess.TimeoutExpired:
                return 0
        m = re.match(rb"Status: (\d+)", r.stdout)
        return int(m.group(1)) if m else (200 if r.stdout and r.returncode == 0 else 0)

    # -- spoolers --
    def start_spooler(self, *args):
        """zoom2s3-spooler -c CONF -v ARGS in a UTS namespace named after
        this host; the Popen's pid is the spooler's own (unshare and sh
        exec into it)."""
        self.runs += 1
        log = os.path.join(self.work, "spooler-%03d.log" % self.runs)
        out = open(log, "wb")
        try:
            argv = ["unshare", "-u", "sh", "-c", 'hostname "$0" && exec "$@"', self.name,
                    SPOOLER, "-c", self.sconf, "-v"] + list(args)
            p = subprocess.Popen(argv, env=spooler_env(self.work), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()
        self.spoolers.append((p, log))
        return p

    def live(self):
        return [p for p, _ in self.spoolers if p.poll() is None]

    def log_text(self):
        text = []
        for _, path in self.spoolers:
            with open(path, errors="replace") as f:
                text.append(f.read())
        return "\n".join(text)

    def stop_spoolers(self, sig=signal.SIGTERM, timeout=60):
        """sig to each live spooler once it has logged spooler.start (its
        handlers are in place: before, a SIGTERM would kill it by the
        default action); SIGKILL to one still running after timeout."""
        deadline = time.monotonic() + timeout
        childproc.signal_once_started(self.spoolers, sig, deadline)
        for p in [p for p, _ in self.spoolers]:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def ctl(self, *args, timeout=60):
        return subprocess.run([CTL, *args], env=dict(spooler_env(self.work),
                                                     ZOOM2S3_CONFIG=self.sconf),
                              capture_output=True, text=True, timeout=timeout)


def end(proc, grace=10):
    """SIGTERM, then SIGKILL after grace seconds; reaped either way."""
    childproc.stop(proc, grace)


def wait_for(fn, timeout, step=0.1):
    """Polls fn until it returns something true; returns it, or None."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def log_events(text, event):
    """The key=value fields of each log line of that event."""
    out = []
    for line in text.splitlines():
        if (" event=%s " % event) in line + " ":
            out.append(dict(re.findall(r'(\w[\w.]*)=("[^"]*"|\S+)', line)))
    return out
