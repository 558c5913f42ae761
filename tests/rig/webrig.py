"""webrig: zoom2s3.fcgi under real web servers on loopback, for the e2e tests.

Python standard library only. A test makes a Workspace (a temp dir holding a
copy of the responder, its config and a spool owned root:www-data 2770), starts
one of the servers below on a free loopback port, posts signed webhooks with
post(), and stops everything in a finally block:

    Lighttpd(ws)             lighttpd, fastcgi.server with bin-path
    Lighttpd(ws, cgi=True)   lighttpd, mod_cgi
    ApacheFcgid(ws)          Apache 2.4 + mod_fcgid
    ApacheProxyFcgi(ws)      Apache 2.4 + mod_proxy_fcgi, responder under spawn-fcgi
    ApacheCgi(ws)            Apache 2.4 + mod_cgid

Every server is started as root with our own config file (nothing read from
/etc/apache2 or /etc/lighttpd: modules are loaded by full path) and runs the
responder as www-data. The web-server snippets come verbatim from cgi-bin/,
with their @PLACEHOLDERS@ replaced. Logs stay in the workspace; tail() gives
their ends for TAP diagnostics.
"""

import errno
import glob
import grp
import hashlib
import hmac
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
from stat import S_ISREG
import subprocess
import sys
import tempfile
import time
import traceback

SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
WEB_USER = "www-data"
APACHE_MODULES = "/usr/lib/apache2/modules"
URL_PATH = "/zoom2s3/webhook"
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 30.0


# ---------------------------------------------------------------- TAP -------

class Tap:
    """TAP with the plan at the end, so a test may stop early and still be read."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, *diag):
        self.n += 1
        cond = bool(cond)
        print(("ok" if cond else "not ok") + " %d - %s" % (self.n, name.replace("#", "")),
              flush=True)
        if not cond:
            self.failed += 1
            for line in diag:
                self.diag(line)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r" % (got,), "want: %r" % (want,))

    @staticmethod
    def diag(text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason), flush=True)

    def finish(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


def run_to_end(tap, rig, body, what):
    """rig.setup(), body(), rig.cleanup() whatever happens; an exception is
    one failing line named what.  Returns the exit status (tap.finish)."""
    try:
        rig.setup()
        body()
    except Exception:
        tap.ok(False, what, traceback.format_exc())
    finally:
        rig.cleanup()
    return tap.finish()


def skip_all(reason):
    """The whole test cannot run here: SKIP, or fail when CI demands everything."""
    if os.environ.get("ZOOM2S3_REQUIRE_ALL") == "1":
        print("1..1")
        print("not ok 1 - cannot run: %s (ZOOM2S3_REQUIRE_ALL=1)" % reason)
        sys.exit(1)
    print("1..0 # SKIP %s" % reason)
    sys.exit(0)


def require_addresses(addrs):
    """Skips the whole test unless each loopback address can be bound (the
    stand-in Zoom's second host, 127.0.0.2, needs a 127/8 loopback)."""
    for addr in addrs:
        try:
            s = socket.socket()
            s.bind((addr, 0))
            s.close()
        except OSError as e:
            skip_all("cannot bind %s: %s" % (addr, e))


def require(tools=()):
    """Root, the www-data user, the built responder and the named programs."""
    if os.geteuid() != 0:
        skip_all("needs root (starts web servers that drop to %s)" % WEB_USER)
    try:
        pwd.getpwnam(WEB_USER)
    except KeyError:
        skip_all("no user %s" % WEB_USER)
    for tool in tools:
        if not shutil.which(tool) and not os.path.exists(tool):
            skip_all("%s is not installed" % tool)
    if not os.access(responder_binary(), os.X_OK):
        print("1..1")
        print("not ok 1 - responder not built: %s" % responder_binary())
        sys.exit(1)


def responder_binary():
    return os.path.join(BUILDDIR, "src", "zoom2s3.fcgi")


# ------------------------------------------------------------ webhooks ------

def sign(secret, timestamp, body):
    """x-zm-signature for body sent with x-zm-request-timestamp timestamp."""
    if isinstance(body, str):
        body = body.encode()
    msg = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def signed_headers(secret, body, timestamp=None, tracking=None):
    ts = int(time.time()) if timestamp is None else timestamp
    h = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": str(ts),
        "x-zm-signature": sign(secret, ts, body),
    }
    if tracking:
        h["x-zm-trackingid"] = tracking
    return h


def encrypted_token(secret, plain):
    return hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()


def rec_file(file_id, file_type="MP4", start="2026-11-26T20:06:21Z",
             end="2026-11-26T21:06:21Z", recording_type="shared_screen_with_speaker_view",
             url=None, size=282825, status="completed", meeting_uuid="x"):
    f = {
        "id": file_id,
        "meeting_id": meeting_uuid,
        "recording_start": start,
        "recording_end": end,
        "file_type": file_type,
        "file_size": size,
        "play_url": "https://us06web.zoom.us/rec/play/" + file_id,
        "download_url": url or ("https://us06web.zoom.us/rec/webhook_download/%s/a" % file_id),
        "status": status,
        "recording_type": recording_type,
        "file_extension": {"TRANSCRIPT": "VTT", "CHAT": "TXT", "TIMELINE": "JSON"}.get(
            file_type, file_type),
    }
    return {k: v for k, v in f.items() if v is not None}


def recording_event(uuid, files, topic="Algebra [CS101] lecture", meeting_id=88031573992,
                    event="recording.completed", token="dltoken-abc123",
                    event_ts=None, host_email="prof@example.edu", extra_object=None):
    obj = {
        "uuid": uuid,
        "id": meeting_id,
        "account_id": "AAAAAABBBB",
        "host_id": "x1yCzABCDEfg23HiJKl4mN",
        "topic": topic,
        "type": 8,
        "start_time": "2026-11-26T20:05:00Z",
        "timezone": "",
        "host_email": host_email,
        "duration": 61,
        "total_size": sum(f.get("file_size", 0) for f in files),
        "recording_count": len(files),
        "share_url": "https://us06web.zoom.us/rec/share/abc",
        "password": "a+b$c&d!",
        "recording_files": files,
    }
    obj.update(extra_object or {})
    ev = {
        "payload": {"account_id": "AAAAAABBBB", "object": obj},
        "event_ts": int(time.time() * 1000) if event_ts is None else event_ts,
        "event": event,
    }
    if token is not None:
        ev["download_token"] = token
    return ev


def body_of(event):
    """Compact JSON like Zoom sends."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def job_name(file_id):
    """The spool's name for a job (src/spool.h spool_job_name)."""
    if 1 <= len(file_id.encode()) <= 100 and re.fullmatch(r"[A-Za-z0-9_-]+", file_id):
        return file_id + ".json"
    return hashlib.sha256(file_id.encode()).hexdigest() + ".sha256.json"


# ----------------------------------------------------------- workspace ------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_ids():
    return pwd.getpwnam(WEB_USER).pw_uid, grp.getgrnam(WEB_USER).gr_gid


SPOOL_STATES = ("tmp", "new", "cur", "done", "failed")


def fill_fs(path):
    """Writes the file path (created 0600, root's) until its file system
    is full: 64 KiB at a time until ENOSPC, then the last pages one by one.
    The spool ignores dot files, so a ".filler" in it takes only space."""
    for flags, chunk in ((os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 65536),
                         (os.O_WRONLY | os.O_APPEND, 4096)):
        fd = os.open(path, flags, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
    return path


def make_spool(path):
    """The spool as the contract has it: root:www-data, 2770, .lock 0660."""
    _, gid = web_ids()
    os.makedirs(path, exist_ok=True)
    for d in [path] + [os.path.join(path, s) for s in SPOOL_STATES]:
        os.makedirs(d, exist_ok=True)
        os.chown(d, 0, gid)
        os.chmod(d, 0o2770)
    lock = os.path.join(path, ".lock")
    with open(lock, "a"):
        pass
    os.chown(lock, 0, gid)
    os.chmod(lock, 0o660)


def make_spool_by_hand(path, missing=None):
    """The spool as an operator makes it by hand, maildir style, following
    the contract: mkdir the five directories, chgrp them to the web server's
    group, chmod 2770; no .lock (each program creates it). missing: one of
    the five left out (a typo, a forgotten mkdir)."""
    dirs = [path] + [os.path.join(path, st) for st in SPOOL_STATES if st != missing]
    q = " ".join(shlex.quote(d) for d in dirs)
    cmd = "mkdir -p %s && chgrp %s %s && chmod 2770 %s" % (q, WEB_USER, q, q)
    subprocess.run(["sh", "-c", cmd], check=True)


class Workspace:
    """A temp dir: cgi-bin/ (a copy of the responder), etc/, spool/, logs/, run/.
    by_hand: the spool made as an operator would (make_spool_by_hand), with
    `missing` (a state directory) left out."""

    def __init__(self, secret="Zm9vYmFyLXNlY3JldC10b2tlbi0xMjM0", config_extra="",
                 by_hand=False, missing=None):
        self.root = tempfile.mkdtemp(prefix="zoom2s3-rig-")
        self.mounts = []
        self.by_hand, self.missing = by_hand, missing
        try:
            self.populate(secret, config_extra)
        except BaseException:
            self.cleanup()
            raise

    def populate(self, secret, config_extra):
        os.chmod(self.root, 0o755)
        uid, gid = web_ids()
        self.secret = secret
        self.cgibin = self.sub("cgi-bin", 0o755)
        self.etc = self.sub("etc", 0o755)
        self.logs = self.sub("logs", 0o755, uid, gid)  # lighttpd opens its log as www-data
        self.run = self.sub("run", 0o755)
        self.docroot = self.sub("htdocs", 0o755)
        self.webrun = self.sub("run/www", 0o700, uid, gid)   # sockets the server's user makes
        self.spool = os.path.join(self.root, "spool")
        self.config = os.path.join(self.etc, "zoom2s3.conf")
        shutil.copy(responder_binary(), os.path.join(self.cgibin, "zoom2s3.fcgi"))
        os.chmod(os.path.join(self.cgibin, "zoom2s3.fcgi"), 0o755)
        if self.by_hand:
            make_spool_by_hand(self.spool, self.missing)
        else:
            make_spool(self.spool)
        self.write_config(self.base_config() + config_extra)

    def sub(self, name, mode, uid=0, gid=0):
        p = os.path.join(self.root, name)
        os.makedirs(p, exist_ok=True)
        os.chown(p, uid, gid)
        os.chmod(p, mode)
        return p

    def base_config(self):
        return ("# zoom2s3 responder config written by tests/rig/webrig.py\n"
                "spool_dir = %s\n"
                "webhook_secret_token = %s\n"
                "topic_regex = \\[([A-Za-z0-9_]+)\\]\n"
                "min_duration = 120\n"
                "file_types = MP4, TRANSCRIPT\n"
                "key_template = courses/uploads/{1}/GMT{recording_start:%%Y%%m%%d_%%H%%M%%S}"
                "_Recording.{ext}\n" % (self.spool, self.secret))

    def write_config(self, text, replace=True):
        """Readable by www-data only through its group. replace: a new file
        renamed over the old (how editors and config management write);
        else the file is rewritten in place."""
        _, gid = web_ids()
        if replace:
            tmp = self.config + ".new"
            with open(tmp, "w") as f:
                f.write(text)
            os.chown(tmp, 0, gid)
            os.chmod(tmp, 0o640)
            os.rename(tmp, self.config)
        else:
            with open(self.config, "w") as f:
                f.write(text)
            os.chown(self.config, 0, gid)
            os.chmod(self.config, 0o640)

    def state(self, st):
        """Job names in a spool state directory."""
        d = os.path.join(self.spool, st)
        return sorted(n for n in os.listdir(d) if not n.startswith("."))

    def mount_tmpfs(self, path, size):
        """A tiny tmpfs at path. False when mounting is not permitted here."""
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size,
                            "zoom2s3-rig", path], capture_output=True, text=True)
        if r.returncode != 0:
            Tap.diag("mount tmpfs: " + (r.stderr or r.stdout).strip())
            return False
        self.mounts.append(path)
        return True

    def cleanup(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", m], capture_output=True)
        kill_strays(self.cgibin)
        reap_orphans()
        for m in reversed(self.mounts):
            if os.path.ismount(m):
                subprocess.run(["umount", "-l", m], capture_output=True)
        if os.environ.get("ZOOM2S3_KEEP_RIG") == "1":
            Tap.diag("kept " + self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)


def become_subreaper():
    """Processes a server leaves behind (a backend still exiting when its
    server is gone) are re-parented to this process instead of init, so
    reap_orphans() can end and wait for them: no zombie outlives a test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


_tracked = set()  # pids of the servers we started and still wait for
# Sessions of every server we started (each leads its own): only orphans of
# these are ours to end. A daemon another rig started from this process (the
# shared Ceph RGW of tests/rig/rgw.sh) is re-parented here too, and must live.
_sessions = set()


def reap_orphans():
    me = os.getpid()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid = int(stat.split("/")[2])
        except (OSError, ValueError, IndexError):
            continue
        if int(fields[1]) != me or pid in _tracked or int(fields[3]) not in _sessions:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def wait_group(pgid, timeout):
    """Waits until no live (non-zombie) process is left in group pgid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                alive = True
                break
        if not alive:
            return
        time.sleep(0.05)


def kill_strays(cgibin):
    """Responders we started (found by their binary in our temp dir) that
    outlived their server: ended by pid."""
    exe = os.path.realpath(os.path.join(cgibin, "zoom2s3.fcgi"))
    for pid_dir in glob.glob("/proc/[0-9]*"):
        try:
            if os.path.realpath(os.readlink(pid_dir + "/exe")).startswith(exe):
                os.kill(int(os.path.basename(pid_dir)), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def render(snippet, mapping):
    """cgi-bin/<snippet> with every @KEY@ replaced; all of them must be known."""
    with open(os.path.join(SRCDIR, "cgi-bin", snippet)) as f:
        text = f.read()
    for key, value in mapping.items():
        text = text.replace("@%s@" % key, str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError("%s: placeholders left: %s" % (snippet, ", ".join(sorted(set(left)))))
    return text


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(%s)" % e


# -------------------------------------------------------------- servers -----

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "Answer(%d, %r)" % (self.status, self.body[:200])


class Server:
    """A web server we started: its process (a session of its own), its
    port, its log files. Subclasses write the config and the command."""

    name = "server"

    def __init__(self, ws):
        self.ws = ws
        self.port = free_port()
        self.url = URL_PATH
        self.procs = []
        self.log_files = []
        self.answers = 0
        self.secret_leaks = []

    def snippet_values(self):
        return {
            "URL_PATH": URL_PATH,
            "CGIBINDIR": self.ws.cgibin,
            "ZOOM2S3_CONFIG": self.ws.config,
            "RUNDIR": self.ws.webrun,
            "SOCKET": os.path.join(self.ws.webrun, "zoom2s3.sock"),
        }

    def spawn(self, argv, logname, env=None):
        log = os.path.join(self.ws.logs, logname)
        self.log_files.append(log)
        out = open(log, "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 env=env, start_new_session=True, cwd=self.ws.root)
        finally:
            out.close()
        self.procs.append(p)
        _tracked.add(p.pid)
        _sessions.add(p.pid)
        return p

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %s at start" % (self.name, p.returncode))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s did not listen on port %d" % (self.name, self.port))

    def start(self):
        raise NotImplementedError

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait(timeout=5)
            else:
                # The responders got SIGTERM too and exit normally: give
                # them the time of a sanitizer build's leak check, whose
                # report goes to the server's log. Then children left in
                # the session (a stray backend) go.
                wait_group(p.pid, 10)
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            _tracked.discard(p.pid)
        self.procs = []
        kill_strays(self.ws.cgibin)
        reap_orphans()

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.print_logs()
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def log_text(self):
        text = []
        for path in self.log_files:
            try:
                with open(path, errors="replace") as f:
                    text.append(f.read())
            except OSError:
                pass
        return "".join(text)

    def print_logs(self, lines=40):
        for path in self.log_files:
            Tap.diag("---- tail of %s" % path)
            Tap.diag(tail(path, lines))

    def request(self, method, body=b"", headers=None, path=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path or self.url, body=body, headers=headers or {})
            r = conn.getresponse()
            a = Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        self.answers += 1
        # The secret must never come back, in any form we know of.
        raw = a.body + repr(a.headers).encode()
        if self.ws.secret.encode() in raw:
            self.secret_leaks.append(repr(a))
        return a

    def post_chunked(self, body, headers):
        """POST with Transfer-Encoding: chunked (no Content-Length)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            parts = [body[i:i + 1000] for i in range(0, len(body), 1000)]
            conn.request("POST", self.url, body=iter(parts), headers=headers,
                         encode_chunked=True)
            r = conn.getresponse()
            a = Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        self.answers += 1
        if self.ws.secret.encode() in a.body + repr(a.headers).encode():
            self.secret_leaks.append(repr(a))
        return a

    def post(self, body, headers=None):
        return self.request("POST", body, headers)

    def post_signed(self, event_or_body, timestamp=None, tracking=None, secret=None):
        body = event_or_body if isinstance(event_or_body, bytes) else body_of(event_or_body)
        return self.post(body, signed_headers(secret or self.ws.secret, body, timestamp,
                                              tracking))


def apache_common(ws, port, name, modules, server_extra=""):
    """An httpd.conf that reads nothing from /etc/apache2."""
    lines = [
        "ServerRoot %s" % ws.root,
        "ServerName localhost",
        "Listen 127.0.0.1:%d" % port,
        "PidFile %s/%s.pid" % (ws.run, name),
        "DefaultRuntimeDir %s" % ws.run,
        "Mutex file:%s default" % ws.run,
        "ErrorLog %s/%s-error.log" % (ws.logs, name),
        "LogLevel warn",
        "LogFormat \"%h %t \\\"%r\\\" %>s %b\" common",
        "CustomLog %s/%s-access.log common" % (ws.logs, name),
        "User %s" % WEB_USER,
        "Group %s" % WEB_USER,
        "DocumentRoot %s" % ws.docroot,
        "Timeout 30",
        "TypesConfig /dev/null",
    ]
    for mod in ["mpm_event", "authz_core", "alias", "mime", "env"] + list(modules):
        lines.append("LoadModule %s_module %s/mod_%s.so" % (mod, APACHE_MODULES, mod))
    lines += ["<Directory />", "    Require all denied", "    AllowOverride None",
              "</Directory>", server_extra]
    return "\n".join(lines) + "\n"


class Apache(Server):
    modules = ()
    snippet = None

    def apache_server_extra(self):
        return ""

    def before_start(self):
        pass

    def start(self):
        self.before_start()
        conf = os.path.join(self.ws.etc, "%s.conf" % self.name)
        snip = os.path.join(self.ws.etc, "%s-zoom2s3.conf" % self.name)
        with open(snip, "w") as f:
            f.write(render(self.snippet, self.snippet_values()))
        with open(conf, "w") as f:
            f.write(apache_common(self.ws, self.port, self.name, self.modules,
                                  self.apache_server_extra()))
            f.write("<VirtualHost 127.0.0.1:%d>\n    ServerName localhost\n"
                    "    Include %s\n</VirtualHost>\n" % (self.port, snip))
        self.log_files.append(os.path.join(self.ws.logs, "%s-error.log" % self.name))
        check = subprocess.run(["/usr/sbin/apache2", "-t", "-f", conf], capture_output=True,
                               text=True, env=apache_env())
        if check.returncode != 0:
            raise RuntimeError("apache2 -t: " + check.stderr + check.stdout)
        self.spawn(["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], "%s-stdout.log" % self.name,
                   env=apache_env())
        self.wait_ready()


def apache_env():
    # The Debian binary needs no APACHE_* variables when every path is in
    # our config; a clean environment keeps the system's out.
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


class ApacheFcgid(Apache):
    name = "apache-fcgid"
    modules = ("fcgid",)
    snippet = "apache-fcgid.conf"

    def apache_server_extra(self):
        uid, gid = web_ids()
        ipc = self.ws.sub("run/fcgid", 0o755, uid, gid)
        return ("FcgidIPCDir %s\nFcgidProcessTableFile %s/fcgid_shm\n"
                % (ipc, self.ws.run))


class ApacheCgi(Apache):
    name = "apache-cgi"
    modules = ("cgid",)
    snippet = "apache-cgi.conf"

    def apache_server_extra(self):
        return "ScriptSock %s/cgid.sock\n" % self.ws.run


class ApacheProxyFcgi(Apache):
    """Apache + mod_proxy_fcgi, the responder run by spawn-fcgi as the
    systemd unit in cgi-bin/ says (its Environment= and ExecStart=)."""

    name = "apache-proxy-fcgi"
    modules = ("proxy", "proxy_fcgi")
    snippet = "apache-proxy-fcgi.conf"

    def before_start(self):
        unit = render("zoom2s3-spawn-fcgi.service", self.snippet_values())
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        argv = None
        for line in unit.splitlines():
            if line.startswith("Environment="):
                for item in shlex.split(line[len("Environment="):]):
                    k, _, v = item.partition("=")
                    env[k] = v
            elif line.startswith("ExecStart="):
                argv = shlex.split(line[len("ExecStart="):])
        if not argv:
            raise RuntimeError("no ExecStart= in zoom2s3-spawn-fcgi.service")
        sock = self.snippet_values()["SOCKET"]
        self.spawn(argv, "spawn-fcgi.log", env=env)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(sock):
            if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("spawn-fcgi did not make %s" % sock)
            time.sleep(0.05)


class Lighttpd(Server):
    def __init__(self, ws, cgi=False):
        super().__init__(ws)
        self.cgi = cgi
        self.name = "lighttpd-cgi" if cgi else "lighttpd"
        self.snippet = "lighttpd-cgi.conf" if cgi else "lighttpd-zoom2s3.conf"

    def start(self):
        conf = os.path.join(self.ws.etc, "%s.conf" % self.name)
        snip = os.path.join(self.ws.etc, "%s-zoom2s3.conf" % self.name)
        errlog = os.path.join(self.ws.logs, "%s-error.log" % self.name)
        self.log_files.append(errlog)
        with open(snip, "w") as f:
            f.write(render(self.snippet, self.snippet_values()))
        with open(conf, "w") as f:
            f.write('server.document-root = "%s"\n' % self.ws.docroot)
            f.write('server.bind = "127.0.0.1"\nserver.port = %d\n' % self.port)
            f.write('server.username = "%s"\nserver.groupname = "%s"\n' % (WEB_USER, WEB_USER))
            f.write('server.pid-file = "%s/%s.pid"\n' % (self.ws.run, self.name))
            f.write('server.errorlog = "%s"\n' % errlog)
            f.write('server.modules = ( "mod_access" )\n')
            f.write('include "%s"\n' % snip)
        check = subprocess.run(["lighttpd", "-tt", "-f", conf], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("lighttpd -tt: " + check.stderr + check.stdout)
        self.spawn(["lighttpd", "-D", "-f", conf], "%s-stdout.log" % self.name,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        self.wait_ready()


SERVERS = {
    "lighttpd": lambda ws: Lighttpd(ws),
    "lighttpd-cgi": lambda ws: Lighttpd(ws, cgi=True),
    "apache-fcgid": ApacheFcgid,
    "apache-proxy-fcgi": ApacheProxyFcgi,
    "apache-cgi": ApacheCgi,
}

TOOLS = {
    "lighttpd": ["lighttpd"],
    "lighttpd-cgi": ["lighttpd"],
    "apache-fcgid": ["/usr/sbin/apache2", APACHE_MODULES + "/mod_fcgid.so"],
    "apache-proxy-fcgi": ["/usr/sbin/apache2", "spawn-fcgi",
                          APACHE_MODULES + "/mod_proxy_fcgi.so"],
    "apache-cgi": ["/usr/sbin/apache2", APACHE_MODULES + "/mod_cgid.so"],
}


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_findings(server):
    return [line for line in server.log_text().splitlines()
            if any(m in line for m in SANITIZER_MARKS)]


def run_test(body, tools=()):
    """Runs body(tap) with the requirements checked, every exception turned
    into a failing TAP line, and the plan printed at the end."""
    require(tools)
    become_subreaper()
    # Killed by a harness timeout: still run every finally (servers, mounts).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tap = Tap()
    try:
        body(tap)
    except Exception:
        tap.ok(False, "test ran to its end", traceback.format_exc())
    sys.exit(tap.finish())


# ------------------------------------------------------- shared cases -------
#
# The checks every server must pass, whatever carries the request to the
# responder. Each takes (tap, srv) and leaves the spool as it found it
# except for the jobs it names, which are unique to the case.

def now():
    return int(time.time())


def read_job(ws, state, name):
    path = os.path.join(ws.spool, state, name)
    with open(path, "rb") as f:
        raw = f.read()
    return raw, json.loads(raw.decode()), os.stat(path)


def settled(fn, quiet=1.0, timeout=15.0):
    """fn() once it has stopped changing for quiet seconds (lines that other
    processes write to a log arrive when they arrive; mod_cgid logs a
    script's stderr after the answer has gone out)."""
    deadline = time.monotonic() + timeout
    last, since = fn(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        v = fn()
        if v != last:
            last, since = v, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def case_methods(tap, srv):
    for method in ("GET", "PUT", "DELETE"):
        a = srv.request(method)
        tap.eq(a.status, 405, "%s %s is answered 405" % (srv.name, method))
    a = srv.request("GET")
    tap.ok("post" in a.headers.get("allow", "").lower(), "405 says Allow: POST",
           repr(a.headers))


def case_body_too_large(tap, srv):
    ws = srv.ws
    before = ws.state("new")
    ev = recording_event("big+uuid==", [rec_file("TooBigFile1")])
    ev["payload"]["object"]["padding"] = "x" * (1024 * 1024)
    body = body_of(ev)
    a = srv.post_signed(body)
    tap.eq(a.status, 413, "%s: a signed body of %d bytes (over max_body_bytes 1M) gets 413"
           % (srv.name, len(body)))
    tap.eq(ws.state("new"), before, "nothing spooled from a 413 body")
    # The same process still serves after having refused a big body.
    a = srv.request("GET")
    tap.eq(a.status, 405, "the responder still answers after a 413")


def case_bad_bodies(tap, srv):
    ws = srv.ws
    before = ws.state("new")
    for label, body in (("not JSON", b"this is not json"),
                        ("truncated JSON", b'{"event":"recording.completed","payload":{'),
                        ("a JSON array", b"[1,2,3]")):
        a = srv.post_signed(body)
        tap.eq(a.status, 400, "%s: signed %s gets 400" % (srv.name, label))
    ev = recording_event("shape-uuid", [rec_file("ShapeFile1")])
    ev["payload"]["object"] = "not an object"
    tap.eq(srv.post_signed(ev).status, 400, "payload.object not an object gets 400")
    ev = recording_event("shape-uuid", [rec_file("ShapeFile1")])
    ev["payload"]["object"]["recording_files"] = {"id": "ShapeFile1"}
    tap.eq(srv.post_signed(ev).status, 400, "recording_files not an array gets 400")
    tap.eq(ws.state("new"), before, "nothing spooled from a 400 body")


def case_signatures(tap, srv):
    ws = srv.ws
    before = ws.state("new")
    ev = recording_event("sig-uuid", [rec_file("SigFile1")])
    body = body_of(ev)
    ts = now()
    cases = [
        ("no signature", {"x-zm-request-timestamp": str(ts)}),
        ("no timestamp", {"x-zm-signature": sign(ws.secret, ts, body)}),
        ("no headers at all", {}),
        ("signature by another secret",
         signed_headers("another-secret-token", body, ts)),
        ("signature of another body",
         {"x-zm-request-timestamp": str(ts), "x-zm-signature": sign(ws.secret, ts, body + b" ")}),
        ("signature for another timestamp",
         {"x-zm-request-timestamp": str(ts), "x-zm-signature": sign(ws.secret, ts - 1, body)}),
        ("timestamp 20 minutes old", signed_headers(ws.secret, body, ts - 1200)),
        ("timestamp 20 minutes ahead", signed_headers(ws.secret, body, ts + 1200)),
        ("timestamp in milliseconds", signed_headers(ws.secret, body, ts * 1000)),
        ("timestamp not a number", signed_headers(ws.secret, body, "yesterday")),
        ("upper-case hex signature",
         {"x-zm-request-timestamp": str(ts),
          "x-zm-signature": "v0=" + sign(ws.secret, ts, body)[3:].upper()}),
        ("legacy verification token only", {"authorization": ws.secret}),
    ]
    for label, headers in cases:
        headers = dict(headers, **{"Content-Type": "application/json"})
        a = srv.post(body, headers)
        tap.eq(a.status, 401, "%s: %s gets 401" % (srv.name, label))
    tap.eq(ws.state("new"), before, "nothing spooled from a 401 request")


def case_url_validation(tap, srv):
    ws = srv.ws
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    ev = {"payload": {"plainToken": plain}, "event_ts": now() * 1000,
          "event": "endpoint.url_validation"}
    a = srv.post_signed(ev)
    tap.eq(a.status, 200, "%s: signed endpoint.url_validation gets 200" % srv.name)
    tap.ok(a.headers.get("content-type", "").startswith("application/json"),
           "validation answer is application/json", repr(a.headers))
    try:
        got = a.json()
    except ValueError:
        got = None
    tap.eq(got, {"plainToken": plain, "encryptedToken": encrypted_token(ws.secret, plain)},
           "validation answer holds plainToken and the exact encryptedToken")
    body = body_of(ev)
    a = srv.post(body, {"Content-Type": "application/json"})
    tap.eq(a.status, 401, "unsigned endpoint.url_validation gets 401")
    tap.ok(encrypted_token(ws.secret, plain).encode() not in a.body,
           "an unsigned validation request gets no encryptedToken")


def expected_job(ev, f, s3_key):
    obj = ev["payload"]["object"]
    want = {
        "recording_file_id": f["id"],
        "meeting_uuid": obj["uuid"],
        "meeting_id": obj["id"],
        "topic": obj["topic"],
        "host_email": obj["host_email"],
        "start_time": obj["start_time"],
        "recording_start": f["recording_start"],
        "recording_end": f["recording_end"],
        "file_type": f["file_type"],
        "file_extension": f["file_extension"],
        "file_size": f["file_size"],
        "recording_type": f["recording_type"],
        "download_url": f["download_url"],
        "s3_key": s3_key,
        "attempts": 0,
    }
    if "download_token" in ev:
        want["download_token"] = ev["download_token"]
    return want


def check_job_file(tap, ws, name, want, label):
    """The job file in new/: mode 0640, www-data's, JSON with the fields."""
    try:
        raw, job, st = read_job(ws, "new", name)
    except (OSError, ValueError) as e:
        tap.ok(False, "%s: job %s is readable JSON" % (label, name), repr(e))
        return None
    uid, gid = web_ids()
    tap.eq(st.st_mode & 0o7777, 0o640, "%s: job file mode is 0640" % label)
    tap.eq((st.st_uid, st.st_gid), (uid, gid), "%s: job file belongs to www-data:www-data"
           % label)
    got = {k: job.get(k) for k in want}
    tap.eq(got, want, "%s: job fields are the event's" % label)
    for k in ("meeting_id", "file_size", "attempts"):
        tap.ok(type(job.get(k)) is int, "%s: %s is a JSON integer" % (label, k), repr(job.get(k)))
    tap.ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(job.get("received_at"))),
           "%s: received_at is RFC 3339 UTC" % label, repr(job.get("received_at")))
    tap.ok(b"\\/" not in raw and (b"\n  " in raw or b"\n\t" in raw),
           "%s: pretty-printed, '/' not escaped" % label, raw[:300])
    return job


def case_recording_completed(tap, srv):
    ws = srv.ws
    before = set(ws.state("new"))
    topic = "[CS101] Ελληνικά عربي Кириллица 🎓 it's"
    uuid = "WEz4RT2l/SyKx2MD9Z+lYfA=="
    start = "2026-11-26T20:06:21Z"
    files = [
        rec_file("e2e-mp4-speaker_1", start=start, meeting_uuid=uuid),
        rec_file("e2e/mp4+gallery=", start=start, recording_type="gallery_view",
                 meeting_uuid=uuid),
        rec_file("e2e-m4a-1", file_type="M4A", recording_type="audio_only", start=start),
        rec_file("e2e-processing-1", start=start, status="processing"),
        rec_file("e2e-nourl-1", start=start, url=""),
        rec_file("e2e-short-1", start=start, end="2026-11-26T20:07:00Z"),
    ]
    del files[4]["download_url"]
    ev = recording_event(uuid, files, topic=topic, meeting_id=88031573992)
    ev["payload"]["object"]["participant_audio_files"] = [rec_file("e2e-participant-1")]
    a = srv.post_signed(ev, tracking="trk-" + uuid)
    tap.eq(a.status, 200, "%s: recording.completed gets 200" % srv.name)
    names = [job_name("e2e-mp4-speaker_1"), job_name("e2e/mp4+gallery=")]
    tap.eq(set(ws.state("new")) - before, set(names),
           "exactly the two eligible MP4 files are spooled (M4A, processing, no URL, "
           "too short and participant audio are not)")
    key = "courses/uploads/CS101/GMT20261126_200621_Recording.mp4"
    keys = [key, key.replace(".mp4", "-gallery_view.mp4")]
    for f, name, k in zip(files[:2], names, keys):
        check_job_file(tap, ws, name, expected_job(ev, f, k), "%s job %s" % (srv.name, f["id"]))


def case_transcript(tap, srv):
    ws = srv.ws
    before = set(ws.state("new"))
    f = rec_file("e2e-transcript-1", file_type="TRANSCRIPT", recording_type="audio_transcript",
                 size=1234)
    ev = recording_event("tr-uuid==", [f], event="recording.transcript_completed", token=None)
    a = srv.post_signed(ev)
    tap.eq(a.status, 200, "%s: recording.transcript_completed gets 200" % srv.name)
    tap.eq(set(ws.state("new")) - before, {job_name(f["id"])}, "its TRANSCRIPT file is spooled")
    job = check_job_file(tap, ws, job_name(f["id"]),
                         expected_job(ev, f, "courses/uploads/CS101/GMT20261126_200621_"
                                             "Recording.vtt"),
                         "%s transcript job" % srv.name)
    tap.ok(job is not None and "download_token" not in job,
           "an event without download_token gives a job without one")


def case_ignored(tap, srv):
    ws = srv.ws
    before = ws.state("new")
    cases = [
        ("meeting.started", {"event": "meeting.started", "event_ts": now() * 1000,
                             "payload": {"object": {"id": 1, "uuid": "u"}}}),
        ("recording.started", recording_event("ign-1", [rec_file("IgnFile1")],
                                              event="recording.started")),
        ("recording.deleted", recording_event("ign-2", [rec_file("IgnFile2")],
                                              event="recording.deleted")),
        ("legacy recording_completed", {"event": "recording_completed",
                                        "payload": {"meeting": {"uuid": "x"}}}),
        ("no event field", {"payload": {}}),
        ("a topic that does not match topic_regex",
         recording_event("ign-3", [rec_file("IgnFile3")], topic="No brackets here")),
        ("no eligible file", recording_event("ign-4", [
            rec_file("IgnFile4", file_type="CHAT", recording_type="chat_file"),
            rec_file("IgnFile5", status="failed")])),
        ("empty recording_files", recording_event("ign-5", [])),
    ]
    for label, ev in cases:
        a = srv.post_signed(ev)
        tap.eq(a.status, 200, "%s: %s gets 200" % (srv.name, label))
    tap.eq(ws.state("new"), before, "no ignored event spooled anything")


def snapshot(ws, names):
    """Where each job is and what it holds."""
    out = {}
    for st in ("new", "cur", "done", "failed"):
        for n in ws.state(st):
            if n in names:
                with open(os.path.join(ws.spool, st, n), "rb") as f:
                    out[n] = (st, f.read())
    return out


def case_redelivery(tap, srv):
    ws = srv.ws
    uuid = "redeliver/uuid+%d==" % srv.port
    ids = ["redeliver-%d-a" % srv.port, "redeliver-%d-b" % srv.port]
    files = [rec_file(ids[0]), rec_file(ids[1], recording_type="speaker_view")]
    ev = recording_event(uuid, files, token="first-token")
    names = [job_name(i) for i in ids]
    a = srv.post_signed(ev, timestamp=now() - 200)
    tap.eq(a.status, 200, "%s: first delivery gets 200" % srv.name)
    first = snapshot(ws, names)
    tap.eq(sorted(first), sorted(names), "first delivery spooled both files")
    tap.ok(all(st == "new" for st, _ in first.values()), "both are in new/")

    a = srv.post_signed(ev)
    tap.eq(a.status, 200, "the same event redelivered gets 200")
    tap.eq(snapshot(ws, names), first, "the same event redelivered spools nothing new")

    ev2 = recording_event(uuid, [dict(f, download_url=f["download_url"] + "?other=1")
                                 for f in files], token="second-token")
    a = srv.post_signed(ev2)
    tap.eq(a.status, 200, "redelivered with another download_url and token: 200")
    tap.eq(snapshot(ws, names), first,
           "redelivered with another download_url and token: nothing new, jobs unchanged")

    os.rename(os.path.join(ws.spool, "new", names[0]), os.path.join(ws.spool, "done", names[0]))
    os.rename(os.path.join(ws.spool, "new", names[1]), os.path.join(ws.spool, "failed", names[1]))
    moved = snapshot(ws, names)
    a = srv.post_signed(ev)
    tap.eq(a.status, 200, "redelivered after the jobs moved to done/ and failed/: 200")
    tap.eq(snapshot(ws, names), moved,
           "redelivered after done/ and failed/: nothing new in new/")

    os.rename(os.path.join(ws.spool, "done", names[0]), os.path.join(ws.spool, "cur", names[0]))
    moved = snapshot(ws, names)
    a = srv.post_signed(ev)
    tap.eq((a.status, snapshot(ws, names)), (200, moved),
           "redelivered while a job is in cur/: 200, nothing new")

    later = recording_event(uuid, files, token="third-token",
                            event_ts=(now() + 3 * 3600) * 1000)
    a = srv.post_signed(later, timestamp=now(), tracking="hours-later")
    tap.eq(a.status, 200, "redelivered hours later (later event_ts, fresh signature): 200")
    tap.eq(snapshot(ws, names), moved, "redelivered hours later: nothing new")

    extra = rec_file("redeliver-%d-c" % srv.port, recording_type="gallery_view")
    grown = recording_event(uuid, files + [extra], token="fourth-token")
    a = srv.post_signed(grown)
    tap.eq(a.status, 200, "redelivered with one more file: 200")
    now_there = snapshot(ws, names + [job_name(extra["id"])])
    tap.eq(sorted(now_there), sorted(names + [job_name(extra["id"])]),
           "only the new file is added")
    tap.eq({n: now_there[n] for n in names}, moved, "the old jobs are untouched")


def case_chunked(tap, srv):
    """A body sent chunked reaches the responder without CONTENT_LENGTH (or
    with one the server worked out): it is read to its end all the same."""
    ws = srv.ws
    before = set(ws.state("new"))
    fid = "chunked-%d" % srv.port
    body = body_of(recording_event("chunked-uuid", [rec_file(fid)]))
    a = srv.post_chunked(body, signed_headers(ws.secret, body))
    tap.eq(a.status, 200, "%s: a signed event sent chunked gets 200" % srv.name)
    tap.eq(set(ws.state("new")) - before, {job_name(fid)}, "and its file is spooled")
    a = srv.post_chunked(body, signed_headers(ws.secret, body + b"x"))
    tap.eq(a.status, 401, "a chunked event with a bad signature gets 401")


def case_big_body(tap, srv):
    """200 KiB: over mod_fcgid's default FcgidMaxRequestLen, under max_body_bytes."""
    ws = srv.ws
    before = set(ws.state("new"))
    fid = "bigbody-%d" % srv.port
    ev = recording_event("bigbody-uuid", [rec_file(fid)])
    ev["payload"]["object"]["participant_audio_files"] = [
        rec_file("participant-%d" % i, file_type="M4A") for i in range(400)]
    body = body_of(ev)
    pad = 200 * 1024 - len(body)
    if pad > 0:
        ev["payload"]["object"]["agenda"] = "p" * pad
        body = body_of(ev)
    a = srv.post_signed(body)
    tap.eq(a.status, 200, "%s: a %d-byte event is accepted" % (srv.name, len(body)))
    tap.eq(set(ws.state("new")) - before, {job_name(fid)}, "and its file is spooled")


def case_concurrent(tap, srv, n_events=50, files_each=2):
    import concurrent.futures
    ws = srv.ws
    before = set(ws.state("new"))
    events, names = [], set()
    for i in range(n_events):
        ids = ["burst-%d-%d-%d" % (srv.port, i, j) for j in range(files_each)]
        files = [rec_file(fid, recording_type="view%d" % j) for j, fid in enumerate(ids)]
        events.append(recording_event("burst-uuid-%d/%d" % (srv.port, i), files))
        names.update(job_name(fid) for fid in ids)
    # And one event delivered ten times at once: spooled once.
    dup_ids = ["burst-dup-%d-%d" % (srv.port, j) for j in range(3)]
    dup = recording_event("burst-dup-%d" % srv.port,
                          [rec_file(fid, recording_type="v%d" % j)
                           for j, fid in enumerate(dup_ids)])
    names.update(job_name(fid) for fid in dup_ids)
    bodies = [body_of(e) for e in events] + [body_of(dup)] * 10
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        answers = list(pool.map(lambda b: srv.post_signed(b), bodies))
    statuses = [a.status for a in answers]
    tap.eq(statuses, [200] * len(bodies),
           "%s: %d events (and one event 10 times) at once: all 200" % (srv.name, n_events))
    got = set(ws.state("new")) - before
    tap.eq(len(got), n_events * files_each + len(dup_ids),
           "exactly %d x %d + %d jobs spooled" % (n_events, files_each, len(dup_ids)))
    tap.eq(got, names, "the spooled jobs are exactly the events' files")
    bad = []
    for n in sorted(got):
        try:
            read_job(ws, "new", n)
        except (OSError, ValueError) as e:
            bad.append("%s: %r" % (n, e))
    tap.eq(bad, [], "every one of them is whole JSON")


def config_error_lines(srv, needle):
    """pid -> count of event=config_error lines that name needle."""
    counts = {}
    for line in srv.log_text().splitlines():
        if "event=config_error" in line and needle in line:
            m = re.search(r"zoom2s3\.fcgi\[(\d+)\]", line)
            pid = m.group(1) if m else "?"
            counts[pid] = counts.get(pid, 0) + 1
    return counts


def validation_status(srv, secret=None):
    ev = {"payload": {"plainToken": "abcdef123"}, "event_ts": now() * 1000,
          "event": "endpoint.url_validation"}
    return srv.post_signed(ev, secret=secret).status


def case_config_reload(tap, srv):
    ws = srv.ws
    good = open(ws.config).read()
    tap.eq(validation_status(srv), 200, "%s: the running config answers" % srv.name)
    new_secret = "a-new-secret-token-%d" % srv.port
    ws.write_config(good.replace(ws.secret, new_secret))
    old_secret, ws.secret = ws.secret, new_secret
    try:
        tap.eq(validation_status(srv, secret=old_secret), 401,
               "after the secret is edited, the old secret gets 401 (no restart)")
        tap.eq(validation_status(srv), 200, "and the new secret gets 200")
        # Edited in place rather than replaced: picked up too.
        ws.write_config(good.replace(old_secret, new_secret) + "# edited in place\n",
                        replace=False)
        tap.eq(validation_status(srv), 200, "a config edited in place still answers")
        # The spool is reopened when spool_dir changes.
        other = os.path.join(ws.root, "spool2")
        make_spool(other)
        ws.write_config(good.replace(old_secret, new_secret).replace(
            "spool_dir = %s\n" % ws.spool, "spool_dir = %s\n" % other))
        fid = "reload-%d" % srv.port
        a = srv.post_signed(recording_event("reload-uuid", [rec_file(fid)]))
        tap.eq(a.status, 200, "an event after spool_dir changed: 200")
        tap.ok(os.path.exists(os.path.join(other, "new", job_name(fid))),
               "its job is in the new spool_dir (the spool was reopened)")
        tap.ok(not os.path.exists(os.path.join(ws.spool, "new", job_name(fid))),
               "and not in the old one")
    finally:
        ws.secret = old_secret
        ws.write_config(good)
    tap.eq(validation_status(srv), 200, "the original config answers again")


def case_config_error(tap, srv):
    ws = srv.ws
    good = open(ws.config).read()
    lines = good.splitlines(True)
    bad = "".join(lines[:3] + ["no_such_key = 1\n"] + lines[3:])
    name = os.path.basename(ws.config)
    first, second = "%s:4:" % name, "%s:2:" % name
    try:
        ws.write_config(bad)
        answers = [srv.post_signed(recording_event("cfgerr", [rec_file("CfgErrFile1")]))
                   for _ in range(3)] + [srv.request("GET")]
        tap.eq([a.status for a in answers], [500] * 4,
               "%s: with an unknown key in the config every request gets 500" % srv.name)
        tap.eq(answers[0].json() if answers[0].body.startswith(b"{") else answers[0].body,
               {"error": "configuration error"}, "the 500 says configuration error")
        counts = settled(lambda: config_error_lines(srv, first))
        tap.ok(counts, "the reason is logged, naming %s" % first[:-1], srv.log_text()[-2000:])
        tap.ok(counts and all(c == 1 for c in counts.values()),
               "logged once per process, not once per request", repr(counts))
        # Another version of the file: its error is logged, once.
        bad2 = "".join(lines[:1] + ["max_body_bytes = lots\n"] + lines[1:])
        ws.write_config(bad2)
        answers = [srv.request("GET") for _ in range(3)]
        tap.eq([a.status for a in answers], [500] * 3, "a second error also gets 500")
        counts2 = settled(lambda: config_error_lines(srv, second))
        tap.ok(counts2 and all(c == 1 for c in counts2.values()),
               "the changed file's error is logged, once", repr(counts2))
        tap.eq(config_error_lines(srv, first), counts, "the first error is not logged again")
    finally:
        ws.write_config(good)
    tap.eq(validation_status(srv), 200, "once the config is fixed, requests answer again")


def case_no_secret(tap, srv):
    tap.ok(srv.answers > 0 and not srv.secret_leaks,
           "%s: none of %d answers carried the secret" % (srv.name, srv.answers),
           *srv.secret_leaks[:5])
    text = srv.log_text()
    tap.ok(srv.ws.secret not in text, "no log line carries the secret")
    found = sanitizer_findings(srv)
    tap.eq(found, [], "no sanitizer report in the server's logs")


def case_after_stop(tap, srv):
    """Once the server stopped: the responders exited (SIGTERM lets a
    FastCGI responder return from main), and a sanitizer build checked for
    leaks on the way out; its report is in the server's log."""
    found = sanitizer_findings(srv)
    tap.eq(found[:20], [], "%s: no sanitizer report after the server stopped (leak checks at "
           "exit)" % srv.name)


def fcgi_send_and_leave(sock_path, params, body):
    """A FastCGI client that sends a whole request and hangs up before the
    answer: the responder then writes to a closed socket (EPIPE/SIGPIPE)."""
    import struct

    def record(rtype, content):
        return struct.pack(">BBHHBB", 1, rtype, 1, len(content), 0, 0) + content

    def pair(k, v):
        out = b""
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
        return out + k + v

    pairs = b"".join(pair(k.encode(), v.encode()) for k, v in params.items())
    msg = record(1, struct.pack(">HB5x", 1, 0)) + record(4, pairs) + record(4, b"")
    for i in range(0, len(body), 65535):
        msg += record(5, body[i:i + 65535])
    msg += record(5, b"")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock_path)
        s.sendall(msg)


def case_client_gone(tap, srv):
    """Straight to spawn-fcgi's socket: clients that leave before their
    answer must not end the responder (SIGPIPE)."""
    ws = srv.ws
    responder = srv.procs[0]
    ev = {"payload": {"plainToken": "gone123"}, "event": "endpoint.url_validation"}
    body = body_of(ev)
    ts = now()
    params = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
              "HTTP_X_ZM_REQUEST_TIMESTAMP": str(ts),
              "HTTP_X_ZM_SIGNATURE": sign(ws.secret, ts, body),
              "SCRIPT_NAME": URL_PATH, "SERVER_PROTOCOL": "HTTP/1.1"}
    for _ in range(30):
        fcgi_send_and_leave(srv.snippet_values()["SOCKET"], params, body)
    tap.eq(validation_status(srv), 200,
           "%s: after 30 clients hung up before their answer, the next request gets 200"
           % srv.name)
    tap.ok(responder.poll() is None, "and it is the same responder process (no SIGPIPE death)",
           "exit status %r" % responder.returncode)


ANSWER_TABLE = [case_methods, case_body_too_large, case_bad_bodies, case_signatures,
                case_url_validation, case_recording_completed, case_transcript, case_ignored,
                case_redelivery, case_chunked, case_big_body, case_concurrent, case_config_reload,
                case_config_error]


def run_hand_made_spool(tap, kind):
    """A spool made by hand as the contract allows (the five directories,
    the web server's group, 2770, no .lock): the responder, as www-data,
    creates .lock 0660 and spools the event; with one of the five
    directories missing it answers 503 and its log names that directory."""
    label = "%s, spool made by hand" % kind
    uid, gid = web_ids()
    ws = Workspace(by_hand=True)
    try:
        lock = os.path.join(ws.spool, ".lock")
        tap.ok(not os.path.lexists(lock), "%s: no .lock before the first request" % label)
        with SERVERS[kind](ws) as srv:
            fid = "hand-made-%s" % kind
            a = srv.post_signed(recording_event("hand/%s==" % kind, [rec_file(fid)]))
            tap.eq(a.status, 200, "%s: a signed recording.completed is answered 200" % label) \
                or srv.print_logs()
            tap.eq(ws.state("new"), [job_name(fid)], "%s: its job is in new/" % label)
            try:
                st = os.lstat(lock)
                got = (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, S_ISREG(st.st_mode))
            except OSError as e:
                got = str(e)
            tap.eq(got, (oct(0o660), uid, gid, True),
                   "%s: the responder created .lock, a file 0660 of %s:%s (the spool's group)"
                   % (label, WEB_USER, WEB_USER))
            case_no_secret(tap, srv)
    except Exception:
        tap.ok(False, "%s: ran" % label, traceback.format_exc())
    finally:
        ws.cleanup()
    label = "%s, spool made by hand without cur/" % kind
    ws = Workspace(by_hand=True, missing="cur")
    try:
        with SERVERS[kind](ws) as srv:
            a = srv.post_signed(recording_event("nocur/%s==" % kind,
                                                [rec_file("no-cur-%s" % kind)]))
            tap.eq(a.status, 503, "%s: answered 503" % label) or srv.print_logs()
            tap.eq(ws.state("new"), [], "%s: nothing spooled" % label)
            missing = os.path.join(ws.spool, "cur")
            # a CGI's stderr reaches the server's log on its own time, maybe
            # after the answer: read until it is there (a bound, not a timing)
            deadline = time.monotonic() + REQUEST_TIMEOUT
            while True:
                lines = [ln for ln in srv.log_text().splitlines() if missing in ln]
                if lines or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            tap.ok(lines, "%s: the log names the missing directory %s" % (label, missing),
                   srv.log_text()[-3000:])
            tap.ok(not os.path.exists(missing), "%s: the responder did not create it" % label)
    except Exception:
        tap.ok(False, "%s: ran" % label, traceback.format_exc())
    finally:
        ws.cleanup()


def run_servers_test(kinds):
    """The whole test of a responder_<server>.py: under each server kind in
    turn every shared case, then under each a spool made by hand."""
    def main(tap):
        for kind in kinds:
            run_server_suite(tap, kind)
        for kind in kinds:
            run_hand_made_spool(tap, kind)

    run_test(main, [tool for kind in kinds for tool in TOOLS[kind]])


def run_on_server(tap, ws, start, body, what):
    """srv = start() (which may prepare ws first), body(srv) while it
    serves, then the checks every responder run ends with: no secret in
    its logs, nothing left once stopped.  An exception is one failing line
    named what, with the server's logs; ws is always cleaned up."""
    srv = None
    try:
        srv = start()
        with srv:
            body(srv)
            case_no_secret(tap, srv)
        case_after_stop(tap, srv)
    except Exception:
        tap.ok(False, what, traceback.format_exc())
        if srv:
            srv.print_logs()
    finally:
        ws.cleanup()


def run_server_suite(tap, kind, cases=ANSWER_TABLE):
    """Every shared case against one server kind, in its own workspace."""
    ws = Workspace()

    def run_cases(srv):
        for case in cases:
            failed = tap.failed
            try:
                case(tap, srv)
            except Exception:
                tap.ok(False, "%s: %s ran to its end" % (kind, case.__name__),
                       traceback.format_exc())
            if tap.failed > failed:
                srv.print_logs()

    run_on_server(tap, ws, lambda: SERVERS[kind](ws), run_cases, "%s: server ran" % kind)
