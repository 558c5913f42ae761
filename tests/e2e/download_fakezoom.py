#!/usr/bin/env python3
"""TAP: download.c and zoomauth.c (through tests/unit/zoom_client) against the
stand-in Zoom (tests/rig/fakezoom.py): every failure mode to its outcome, the
Authorization header never reaching another host, byte-exact Range resume,
the stop flag, OAuth with its cache and refresh on 401, JWT, and the fresh
link from the recordings API."""

import http.server
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
import fakezoom  # noqa: E402

CLI = os.path.join(BUILDDIR, "tests", "unit", "zoom_client")
HOSTS = "127.0.0.1,127.0.0.2"

import webrig  # noqa: E402  (the TAP helpers every Python rig shares)

TAP = webrig.Tap()
ok, is_, skip_all = TAP.ok, TAP.eq, webrig.skip_all  # ok(cond, name, diag...)
_outputs = []   # every why= and stderr text, checked for secrets at the end


def parse_fields(line):
    out = {}
    for word in shlex.split(line):
        k, _, v = word.partition("=")
        out[k] = v
    return out


class Run:
    def __init__(self, proc_rc, stdout, stderr):
        self.rc = proc_rc
        self.lines = [parse_fields(x) for x in stdout.decode().splitlines()
                      if x.startswith("outcome=")]
        self.f = self.lines[-1] if self.lines else {}
        self.stderr = stderr.decode(errors="replace")
        _outputs.append(self.stderr)
        for fields in self.lines:
            _outputs.append(fields.get("why", ""))

    def __getitem__(self, k):
        return self.f.get(k)

    def diag(self):
        return "fields: %r\nstderr: %s" % (self.f, self.stderr[-2000:])


def finish(p, timeout=60):
    """Waits for a child; one that hangs is killed and reported as such."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += b"\n(killed: no exit within %d s)" % timeout
    return Run(p.returncode, out, err)


def cli(*args, timeout=120):
    p = subprocess.Popen([CLI] + [str(a) for a in args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return finish(p, timeout)


class Env:
    def __init__(self, fz, tmp):
        self.fz, self.tmp = fz, tmp
        self.count = 0

    def out(self):
        self.count += 1
        return os.path.join(self.tmp, "out%d" % self.count)

    def download(self, url, token=None, size=None, offset=0, extra=()):
        path = self.out()
        args = ["download", "--url", url, "--hosts", HOSTS, "--allow-http",
                "--out", path, "--offset", offset]
        if token is not None:
            args += ["--token", token]
        if size is not None:
            args += ["--size", size]
        r = cli(*(args + list(extra)))
        with open(path, "rb") as fh:
            r.body = fh.read()
        return r

    def zoom_args(self, cache=None, oauth=True, jwt=False, secret=None):
        fz = self.fz
        args = ["--oauth-url", fz.base_url + "/oauth/token",
                "--api-url", fz.base_url + "/v2"]
        if oauth:
            args += ["--account", fz.config["account_id"],
                     "--client-id", fz.config["client_id"],
                     "--client-secret",
                     secret or fz.config["client_secret"]]
        if jwt:
            args += ["--api-key", fz.config["api_key"],
                     "--api-secret", secret or fz.config["api_secret"]]
        if cache:
            args += ["--cache-dir", cache]
        return args


def add(fz, fid, size, **kw):
    info = fz.add_file(fid, size=size, **kw)
    return info, fz.file_bytes(fid)


# ---------------------------------------------------------------- downloads --

def test_plain(env):
    fz = env.fz
    info, want = add(fz, "plain", 300000)
    since = fz.log()["requests"][-1]["seq"] if fz.log()["requests"] else 0
    r = env.download(info["download_url"], info["token"], 300000)
    ok(r["outcome"] == "done" and r.rc == 0, "plain download: done", r.diag())
    ok(r.body == want, "plain download: the bytes are the file's")
    is_((r["status"], r["bytes"], r["total"], r["redirects"], r["host"]),
        ("200", "300000", "300000", "1", "127.0.0.2"),
        "plain download: 200 from the CDN host after one redirect")
    reqs = fz.requests(since=since)
    zoom = [e for e in reqs if e["server"] == "zoom"]
    cdn = [e for e in reqs if e["server"] == "cdn"]
    ok(len(zoom) == 1 and zoom[0]["authorization"] == "Bearer " +
       info["token"], "the Bearer token went to the Zoom host")
    ok(len(cdn) == 1 and cdn[0]["authorization"] is None,
       "no Authorization reached the CDN host")
    ok("?" not in r["why"] and info["token"] not in r.stderr,
       "no token in the output")

    r = env.download(info["download_url"], info["token"])
    ok(r["outcome"] == "done" and r.body == want,
       "file_size unknown: done with the announced length")


def test_sizes(env):
    fz = env.fz
    for size in (0, 1, 511, 512, 513):
        info, want = add(fz, "size%d" % size, size)
        r = env.download(info["download_url"], info["token"], size)
        ok(r["outcome"] == "done" and r.body == want and
           r["bytes"] == str(size), "a file of %d bytes" % size, r.diag())
    info = fz.add_file("vtt", data="WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.000"
                       "\nhello\n", file_extension="VTT")
    r = env.download(info["download_url"], info["token"], info["size"])
    ok(r["outcome"] == "done" and r["content_type"] == "text/vtt" and
       r.body.startswith(b"WEBVTT"), "a text/vtt transcript is taken")


def test_resume(env):
    fz = env.fz
    size = 3 * fakezoom.PERIOD + 777
    info, want = add(fz, "resume", size)
    off = 70001
    since = fz.log()["requests"][-1]["seq"]
    r = env.download(info["download_url"], info["token"], size, off)
    ok(r["outcome"] == "done" and r["status"] == "206" and
       r.body == want[off:], "Range resume: 206, byte-exact tail", r.diag())
    is_(r["bytes"], str(size - off), "Range resume: bytes counts the tail")
    cdn = [e for e in fz.requests(since=since) if e["server"] == "cdn"]
    ok(cdn and cdn[-1]["range"] == "bytes=%d-" % off,
       "the CDN got Range: bytes=%d-" % off)

    fz.fault("resume", "ignore_range", count=1)
    r = env.download(info["download_url"], info["token"], size, off)
    ok(r["outcome"] == "done" and r["status"] == "200" and
       r["range_ignored"] == "1" and r.body == want[off:],
       "Range ignored (200): the first bytes are skipped, the tail is exact",
       r.diag())

    fz.fault("resume", "close_mid_body", count=1, at=100000)
    r = env.download(info["download_url"], info["token"], size)
    got = int(r["bytes"] or 0)
    ok(r["outcome"] == "retry" and 0 < got <= 100000 and r.body == want[:got],
       "cut mid-body: retry, and what came is the file's start", r.diag())
    r2 = env.download(info["download_url"], info["token"], size, got)
    ok(r2["outcome"] == "done" and r.body + r2.body == want,
       "resumed at byte %d: the two pieces are the file" % got, r2.diag())


def test_status_faults(env):
    fz = env.fz
    info, _ = add(fz, "faults", 20000)
    url, tok = info["download_url"], info["token"]
    cases = [
        ("500", "retry", "500", "Zoom answered 500 Internal Server Error for "
         "the download link"),
        ("503", "retry", "503", "Zoom answered 503 Service Unavailable for the"
         " download link"),
        ("429", "retry", "429", "Zoom answered 429 Too Many Requests for the "
         "download link"),
        ("404", "give-up", "404", "Zoom answered 404 Not Found for the "
         "download link"),
    ]
    for mode, outcome, status, why in cases:
        fz.fault("faults", mode, count=1)
        r = env.download(url, tok, 20000)
        ok(r["outcome"] == outcome and r["status"] == status and
           r["why"] == why and r.body == b"",
           "%s: %s, \"%s\"" % (mode, outcome, why), r.diag())
    fz.fault("faults", "429", count=1, retry_after=7)
    r = env.download(url, tok, 20000)
    is_(r["retry_after"], "7", "429: Retry-After is reported")
    fz.fault("faults", "404", count=1)
    r = env.download(url, tok, 20000)
    ok(r["gone"] == "1" and r["auth_refused"] == "0", "404: gone")
    fz.fault("faults", "status", count=1, status=410)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "give-up" and r["gone"] == "1", "410: give up, gone")

    r = env.download(url, "wrong-token-0000", 20000)
    ok(r["outcome"] == "retry" and r["status"] == "401" and
       r["auth_refused"] == "1" and r.body == b"",
       "a refused token: 401, auth_refused", r.diag())
    fz.fault("faults", "token_refused", count=1)
    r = env.download(url, tok, 20000)
    ok(r["auth_refused"] == "1", "token_refused fault: auth_refused")
    fz.fault("faults", "status", count=1, status=403)
    r = env.download(url, tok, 20000)
    ok(r["auth_refused"] == "1" and r["status"] == "403", "403: auth_refused")

    fz.fault("faults", "close", count=1)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "retry" and r["curl"] == "52" and r.body == b"",
       "connection closed before an answer: retry (curl 52)", r.diag())
    fz.fault("faults", "close_mid_body", count=1, at=5000, rst=True)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "retry" and r["curl"] in ("18", "56"),
       "connection reset mid-body: retry", r.diag())

    fz.fault("faults", "direct", count=1)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "done" and r["redirects"] == "0" and
       r["host"] == "127.0.0.1", "Zoom serving the body itself: done")

    fz.fault("faults", "expired_url", count=1)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "retry" and r["status"] == "403" and
       r["why"] == "Zoom answered 403 Forbidden for the download's redirect "
       "to 127.0.0.2", "an expired pre-signed URL: the CDN's 403, retry",
       r.diag())


def test_html(env):
    fz = env.fz
    info, _ = add(fz, "html", 20000)
    url, tok = info["download_url"], info["token"]
    fz.fault("html", "html", count=1)
    r = env.download(url, tok, 20000)
    ok(r["outcome"] == "retry" and r["auth_refused"] == "1" and
       r["status"] == "200" and r.body == b"",
       "200 text/html: auth_refused, nothing delivered", r.diag())
    ok(r["why"].startswith("Zoom answered with an HTML page"),
       "200 text/html: reason", r["why"])

    page = fakezoom.HTML_PAGE.decode()
    fz.fault("html", "status", count=1, status=200, body=page,
             content_type="application/octet-stream")
    r = env.download(url, tok, len(page))
    ok(r["auth_refused"] == "1" and r.body == b"",
       "an HTML page labelled octet-stream is recognised too", r.diag())

    fz.set_config(auth_fail_mode="html200")
    r = env.download(url, "wrong-token-1111", 20000)
    ok(r["auth_refused"] == "1" and r.body == b"",
       "Zoom's HTML answer to a refused token: auth_refused")
    fz.set_config(auth_fail_mode="json401")

    info, _ = add(fz, "deleted", 20000)
    fz.delete_file("deleted")
    r = env.download(info["download_url"], info["token"], 20000)
    ok(r["auth_refused"] == "1" and r.body == b"",
       "a deleted recording (HTML page): nothing delivered")


def test_lengths(env):
    fz = env.fz
    info, want = add(fz, "len", 50000)
    url, tok = info["download_url"], info["token"]
    fz.fault("len", "wrong_length", count=1, delta=-1)
    r = env.download(url, tok, 50000)
    ok(r["outcome"] == "retry" and r.body == b"" and
       r["why"] == "Zoom announced 49999 bytes but file_size is 50000",
       "a shorter body announced: retry, nothing delivered", r.diag())
    fz.fault("len", "wrong_length", count=1, delta=5)
    r = env.download(url, tok, 50000)
    ok(r["outcome"] == "give-up" and r.body == b"",
       "a longer body announced: give up", r.diag())
    r = env.download(url, tok, 50001)
    ok(r["outcome"] == "retry" and r.body == b"",
       "file_size larger than the file: retry, nothing delivered", r.diag())
    r = env.download(url, tok, 49999)
    ok(r["outcome"] == "give-up" and r.body == b"",
       "file_size smaller than the file: give up", r.diag())
    r = env.download(url, tok, 50000, 50000)
    ok(r["outcome"] == "done" and r["bytes"] == "0",
       "offset == file_size: nothing to fetch, done")


def test_redirects(env):
    fz = env.fz
    info, want = add(fz, "redir", 30000)
    url, tok = info["download_url"], info["token"]
    before_evil = len(fz.requests(server="evil"))
    cases = [
        ("redirect_foreign", "redirect to a host outside download_hosts: "
         "127.0.0.3"),
        ("redirect_evil", "redirect to a host outside download_hosts: "
         "evil.example"),
        ("redirect_file", "redirect to a URL that is not http(s)"),
        ("redirect_ftp", "redirect to a URL that is not http(s)"),
    ]
    for mode, why in cases:
        fz.fault("redir", mode, count=1)
        r = env.download(url, tok, 30000)
        ok(r["outcome"] == "give-up" and r["why"] == why and r.body == b"",
           "%s: give up, \"%s\"" % (mode, why), r.diag())
    is_(len(fz.requests(server="evil")), before_evil,
        "the foreign host never got a request")

    cdn = fz.cdn_url.replace("http://", "")
    fz.fault("redir", "redirect", count=1,
             location="http://127.0.0.1@%s/replay/x.mp4" % cdn)
    r = env.download(url, tok, 30000)
    ok(r["outcome"] == "give-up" and
       r["why"] == "redirect to a URL with a user name in it",
       "a Location with userinfo: give up", r.diag())

    since = fz.log()["requests"][-1]["seq"]
    fz.fault("redir", "redirect_loop")
    r = env.download(url, tok, 30000)
    fz.clear_faults("redir")
    ok(r["outcome"] == "give-up" and r["redirects"] == "5" and
       r["why"] == "Zoom redirected the download more than 5 times",
       "a redirect loop: give up after 5", r.diag())
    is_(len([e for e in fz.requests(since=since) if e["server"] == "zoom"]),
        6, "a redirect loop: 6 requests in all")

    # Relative Location back to the same origin: the token goes again.
    path = url.split("127.0.0.1:%d" % fz.port, 1)[1]
    since = fz.log()["requests"][-1]["seq"]
    fz.fault("redir", "redirect", count=1, location=path)
    r = env.download(url, tok, 30000)
    zoom = [e for e in fz.requests(since=since) if e["server"] == "zoom"]
    ok(r["outcome"] == "done" and r["redirects"] == "2" and r.body == want,
       "a relative redirect to the same origin, then the CDN: done", r.diag())
    ok(len(zoom) == 2 and all(e["authorization"] == "Bearer " + tok
                              for e in zoom),
       "the same origin got the token both times")

    fz.fault("redir", "redirect_https", count=1)
    r = env.download(url, tok, 30000)
    ok(r["outcome"] == "retry" and r["curl"] == "35" and r.body == b"",
       "https redirect to a plain-http server: TLS fails, retry", r.diag())


class _Odd(http.server.BaseHTTPRequestHandler):
    """A host the tests redirect to, answering in ways fakezoom does not:
    mode "ok", "range_start" (206 at the wrong byte), "no_range" (206
    without Content-Range), "short"/"long" (no Content-Length, body ended
    by closing the connection, fewer/more bytes than the file)."""
    protocol_version = "HTTP/1.1"
    seen = []
    body = b""
    mode = "ok"

    def do_GET(self):
        _Odd.seen.append(self.headers.get("Authorization"))
        body, hdrs, status = _Odd.body, [], 200
        if _Odd.mode == "range_start":
            status = 206
            hdrs = [("Content-Range", "bytes 0-%d/%d" % (len(body) - 1,
                                                         len(body)))]
        elif _Odd.mode == "no_range":
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        for k, v in hdrs:
            self.send_header(k, v)
        if _Odd.mode in ("short", "long"):
            body = body[:-10] if _Odd.mode == "short" else body + b"x" * 10
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def odd_download(env, mode, fid, want, offset=0):
    """Download fid through a redirect to an _Odd server in mode."""
    fz = env.fz
    _Odd.body, _Odd.mode, _Odd.seen = want, mode, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        info = fz.file_info(fid)
        fz.fault(fid, "redirect", count=1,
                 location="http://127.0.0.1:%d/file.mp4?Signature=abc" %
                 srv.server_address[1])
        return env.download(info["download_url"], info["token"], len(want),
                            offset)
    finally:
        srv.shutdown()
        srv.server_close()


def test_odd_servers(env):
    fz = env.fz
    info, want = add(env.fz, "odd", 12345)
    r = odd_download(env, "ok", "odd", want)
    ok(r["outcome"] == "done" and r.body == want,
       "redirect to the same host on another port: done", r.diag())
    is_(_Odd.seen, [None],
        "the other port (another origin) got no Authorization")

    r = odd_download(env, "range_start", "odd", want, 1000)
    ok(r["outcome"] == "retry" and r.body == b"" and
       r["why"] == "Zoom answered a range starting at byte 0 instead of 1000",
       "a 206 that starts at the wrong byte: retry, nothing delivered",
       r.diag())
    r = odd_download(env, "no_range", "odd", want, 1000)
    ok(r["outcome"] == "retry" and r.body == b"" and
       r["why"] == "Zoom answered 206 without a usable Content-Range",
       "a 206 without Content-Range: retry, nothing delivered", r.diag())
    r = odd_download(env, "short", "odd", want)
    ok(r["outcome"] == "retry" and r["bytes"] == str(len(want) - 10) and
       r["why"] == "Zoom's answer ended at byte %d of %d" % (len(want) - 10,
                                                             len(want)),
       "no Content-Length, 10 bytes short: retry", r.diag())
    r = odd_download(env, "long", "odd", want)
    ok(r["outcome"] == "give-up" and len(r.body) <= len(want) and
       r["why"] == "Zoom sent more bytes than file_size (%d)" % len(want),
       "no Content-Length, 10 bytes too many: give up, never past file_size",
       r.diag())
    del fz


def test_stall_slow_progress(env):
    fz = env.fz
    info, want = add(fz, "stall", 200000)
    url, tok = info["download_url"], info["token"]
    fz.fault("stall", "stall", count=1, after=50000, seconds=60)
    r = env.download(url, tok, 200000, extra=["--low-speed-time", "2",
                                              "--low-speed-limit", "1000"])
    got = int(r["bytes"] or 0)
    ok(r["outcome"] == "retry" and r["curl"] == "28" and got <= 50000 and
       r.body == want[:got], "a stalled body: timeout (curl 28), retry",
       r.diag())

    fz.fault("stall", "stall", count=1)
    r = env.download(url, tok, 200000, extra=["--low-speed-time", "2",
                                              "--low-speed-limit", "1000"])
    ok(r["outcome"] == "retry" and r["curl"] == "28",
       "no answer at all: timeout, retry", r.diag())

    fz.fault("stall", "slow", count=1, chunk=16384, delay=0.02)
    r = env.download(url, tok, 200000, extra=["--progress"])
    prog = [tuple(int(x) for x in line.split()[1:3])
            for line in r.stderr.splitlines() if line.startswith("progress ")]
    ok(r["outcome"] == "done" and r.body == want, "a slow body: done")
    ok(prog and all(p[1] == 200000 for p in prog) and
       all(a[0] <= b[0] for a, b in zip(prog, prog[1:])) and
       prog[-1][0] <= 200000, "progress: growing byte counts, total = size",
       prog[:5])


def test_stop(env):
    fz = env.fz
    size = 1 << 20
    info, want = add(fz, "stop", size)
    url, tok = info["download_url"], info["token"]

    r = env.download(url, tok, size, extra=["--stop-at", "100000"])
    got = int(r["bytes"] or 0)
    ok(r["outcome"] == "retry" and r["stopped"] == "1" and
       100000 <= got < size and r.body == want[:got],
       "stop flag set by the sink: stopped, retry, the bytes so far", r.diag())
    ok(r["why"].startswith("stopped at byte %d" % got), "stop: reason")

    # The real thing: SIGTERM while a slow body streams.
    fz.fault("stop", "slow", count=1, chunk=16384, delay=0.2)
    path = env.out()
    p = subprocess.Popen([CLI, "download", "--url", url, "--token", tok,
                          "--size", str(size), "--hosts", HOSTS,
                          "--allow-http", "--out", path, "--progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = False
    for line in p.stderr:
        if line.startswith(b"progress ") and int(line.split()[1]) > 0:
            seen = True
            break
    p.send_signal(signal.SIGTERM)
    r = finish(p)
    with open(path, "rb") as fh:
        body = fh.read()
    got = int(r["bytes"] or 0)
    ok(seen and r["outcome"] == "retry" and r["stopped"] == "1" and
       0 < got < size and body == want[:got],
       "SIGTERM mid-transfer: stopped at a safe point", r.diag())
    r2 = env.download(url, tok, size, got)
    ok(r2["outcome"] == "done" and body + r2.body == want,
       "and the resume from there completes the file byte-exact", r2.diag())

    # While no byte flows (a stall), the stop comes through the progress
    # callback, long before the stall timeout.
    fz.fault("stop", "stall", count=1, after=30000, seconds=120)
    p = subprocess.Popen([CLI, "download", "--url", url, "--token", tok,
                          "--size", str(size), "--hosts", HOSTS,
                          "--allow-http", "--out", env.out(), "--progress",
                          "--low-speed-time", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in p.stderr:
        if line.startswith(b"progress ") and int(line.split()[1]) >= 30000:
            break
    p.send_signal(signal.SIGTERM)
    r = finish(p)
    ok(r["outcome"] == "retry" and r["stopped"] == "1" and
       r["curl"] == "42" and r["bytes"] == "30000",
       "SIGTERM during a stall: stopped (curl 42), not timed out", r.diag())


def test_keepalive(env):
    fz = env.fz
    info, want = add(fz, "keep", 4096)
    since = fz.log()["requests"][-1]["seq"]
    r = env.download(info["download_url"], info["token"], 4096,
                     extra=["--repeat", "3"])
    ok(len(r.lines) == 3 and all(x["outcome"] == "done" for x in r.lines),
       "one client, three downloads: all done", r.diag())
    zoom = [e["client"] for e in fz.requests(since=since)
            if e["server"] == "zoom"]
    ok(len(zoom) == 3 and len(set(zoom)) == 1,
       "the Zoom connection was reused (keep-alive)", zoom)
    cdn = [e for e in fz.requests(since=since) if e["server"] == "cdn"]
    ok(all(e["authorization"] is None for e in cdn),
       "a reused handle still sends no Authorization to the CDN")


# --------------------------------------------------------------- zoomauth --

def test_jwt_and_encoding(env):
    now = 1900000000
    r = subprocess.run([CLI, "jwt", "--api-key", "k-1", "--api-secret",
                        "s-1", "--exp", str(now)], capture_output=True,
                       timeout=30)
    token = r.stdout.decode().strip()
    good, why, claims = fakezoom.check_jwt(token, "k-1", "s-1", now=now - 10)
    ok(good and claims == {"iss": "k-1", "exp": now},
       "our JWT passes fakezoom's independent check", why)
    bad, _, _ = fakezoom.check_jwt(token, "k-1", "s-2", now=now - 10)
    ok(not bad, "and fails it with another secret")
    for uuid_ in ("/ajXp112QmuoKj4854875==", "WEz4RT2lSyKx2MD9Z+lYfA==",
                  "//a/b+c", "plain"):
        r = subprocess.run([CLI, "encode", uuid_], capture_output=True,
                           timeout=30)
        is_(r.stdout.decode().strip(), fakezoom.double_encode(uuid_),
            "double encoding of %s" % uuid_)


def test_oauth(env):
    fz = env.fz
    cache = os.path.join(env.tmp, "spool-oauth")
    issued = fz.log()["stats"]["oauth_issued"]
    r = cli("oauth", *env.zoom_args(cache))
    tok1 = r["token"]
    ok(r["outcome"] == "done" and tok1.startswith("fzoa."),
       "OAuth: a token", r.diag())
    is_(fz.log()["stats"]["oauth_issued"], issued + 1, "OAuth: one issued")
    req = [e for e in fz.requests() if e["path"] == "/oauth/token"][-1]
    hdrs = {k.lower(): v for k, v in req["headers"]}
    ok(req["method"] == "POST" and
       hdrs.get("content-type") == "application/x-www-form-urlencoded" and
       req.get("body") == "grant_type=account_credentials&account_id=" +
       fz.config["account_id"] and hdrs.get("authorization", "").startswith(
           "Basic "), "OAuth: POST, Basic auth, form body", req)
    fpath = os.path.join(cache, ".zoom-oauth-token")
    st = os.stat(fpath)
    is_(st.st_mode & 0o777, 0o600, "the token cache file is mode 0600")
    with open(fpath) as fh:
        text = fh.read()
    ok(text.startswith("zoom2s3-oauth-token 1\n") and
       ("token %s\n" % tok1) in text, "the cache file holds the token")

    r = cli("oauth", *env.zoom_args(cache))
    ok(r["outcome"] == "done" and r["token"] == tok1 and
       fz.log()["stats"]["oauth_issued"] == issued + 1,
       "a second run (cron) takes the cached token, asks nothing")
    r = cli("oauth", *env.zoom_args(cache), "--refused", tok1)
    ok(r["outcome"] == "done" and r["token"] != tok1 and
       fz.log()["stats"]["oauth_issued"] == issued + 2,
       "refused: a new token replaces it")
    with open(fpath) as fh:
        ok(("token %s\n" % r["token"]) in fh.read(),
           "and the cache file holds the new one")

    r = cli("oauth", *env.zoom_args(None, secret="wrong-secret-9"))
    ok(r["outcome"] == "retry" and "401 Unauthorized" in r["why"] and
       "invalid_client" in r["why"] and "wrong-secret-9" not in r["why"],
       "OAuth with a wrong secret: retry, Zoom's reason, no secret",
       r.diag())
    fz.fault("_oauth", "503", count=1)
    r = cli("oauth", *env.zoom_args(None))
    ok(r["outcome"] == "retry" and "503" in r["why"],
       "OAuth endpoint 503: retry", r.diag())


def test_fresh_link(env):
    fz = env.fz
    uuid_ = "/ab+c//d=="
    fz.add_meeting(uuid_, id=88031573992)
    info, want = add(fz, "fresh", 40000, meeting_uuid=uuid_)
    add(fz, "fresh-other", 1000, meeting_uuid=uuid_)
    cache = os.path.join(env.tmp, "spool-fresh")

    fz.expire_download_token(file="fresh")
    r = env.download(info["download_url"], info["token"], 40000)
    ok(r["auth_refused"] == "1" and r["status"] == "401",
       "an expired download token: auth_refused")

    issued = fz.log()["stats"]["oauth_issued"]
    since = fz.log()["requests"][-1]["seq"]
    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", uuid_,
            "--file-id", "fresh")
    ok(r["outcome"] == "done" and "/rec/download/" in r["url"] and
       r["token"].startswith("fzdat."), "fresh link: url and token",
       r.diag())
    api = [e for e in fz.requests(since=since) if e.get("kind") ==
           "recordings"]
    ok(api and api[-1].get("uuid_segment") == fakezoom.double_encode(uuid_)
       and api[-1].get("auth_kind") == "oauth" and
       "include_fields=download_access_token" in api[-1]["query"],
       "the recordings API got the double-encoded uuid, an OAuth Bearer",
       api[-1:] if api else None)
    d = env.download(r["url"], r["token"], 40000)
    ok(d["outcome"] == "done" and d.body == want,
       "the fresh link downloads the file", d.diag())

    fz.revoke_oauth()
    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", uuid_,
            "--file-id", "fresh")
    ok(r["outcome"] == "done" and
       fz.log()["stats"]["oauth_issued"] == issued + 2,
       "a revoked cached token: 401, one refresh, done", r.diag())

    fz.fault("_api", "token_refused")
    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", uuid_,
            "--file-id", "fresh")
    fz.clear_faults("_api")
    ok(r["outcome"] == "give-up" and
       "refused the OAuth token even after a refresh" in r["why"] and
       fz.log()["stats"]["oauth_issued"] == issued + 3,
       "still refused after a refresh: give up", r.diag())

    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", "no-such==",
            "--file-id", "fresh")
    ok(r["outcome"] == "give-up" and
       r["why"].startswith("Zoom no longer has this recording"),
       "unknown meeting (404): give up", r.diag())
    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", uuid_,
            "--file-id", "not-listed")
    ok(r["outcome"] == "give-up" and "does not list" in r["why"],
       "a file the meeting no longer lists: give up", r.diag())
    fz.fault("_api", "500", count=1)
    r = cli("fresh-link", *env.zoom_args(cache), "--uuid", uuid_,
            "--file-id", "fresh")
    ok(r["outcome"] == "retry" and
       r["why"] == "Zoom's recordings API answered 500 Internal Server Error",
       "recordings API 500: retry", r.diag())

    since = fz.log()["requests"][-1]["seq"]
    r = cli("fresh-link", *env.zoom_args(None, oauth=False, jwt=True),
            "--uuid", uuid_, "--file-id", "fresh")
    api = [e for e in fz.requests(since=since) if e.get("kind") ==
           "recordings"]
    ok(r["outcome"] == "done" and api and api[-1].get("auth_kind") == "jwt",
       "a legacy JWT app: fresh link with a JWT Bearer", r.diag())
    r = cli("fresh-link", *env.zoom_args(None, oauth=False, jwt=True,
                                         secret="bad-jwt-secret"),
            "--uuid", uuid_, "--file-id", "fresh")
    ok(r["outcome"] == "give-up" and "refused the JWT" in r["why"],
       "a JWT with the wrong secret: give up", r.diag())


def test_no_secrets(env):
    secrets = env.fz.log()["secrets"]
    leaks = [s for s in secrets if any(s in text for text in _outputs)]
    is_(leaks, [], "no token, signature or secret in any why or log line")
    ok(not any("Signature=" in t or "Policy=" in t for t in _outputs),
       "no pre-signed query string in any why or log line")
    reqs = env.fz.requests()
    leaked = [e for e in reqs if e["server"] in ("cdn", "evil") and
              e["authorization"] is not None]
    is_(leaked, [], "over all runs, no Authorization reached the CDN")
    reports = [t for t in _outputs if "Sanitizer" in t or
               "runtime error:" in t]
    is_(reports, [], "no sanitizer report from any run")


def main():
    webrig.require_addresses(("127.0.0.2", "127.0.0.3"))
    if not os.access(CLI, os.X_OK):
        skip_all("%s is not built (make check builds it)" % CLI)
    tmp = tempfile.mkdtemp(prefix="download_fakezoom.")
    fz = fakezoom.FakeZoom(state_dir=os.path.join(tmp, "fz")).start()
    env = Env(fz, tmp)
    try:
        for t in (test_plain, test_sizes, test_resume, test_status_faults,
                  test_html, test_lengths, test_redirects,
                  test_odd_servers, test_stall_slow_progress,
                  test_stop, test_keepalive, test_jwt_and_encoding,
                  test_oauth, test_fresh_link, test_no_secrets):
            t(env)
    finally:
        fz.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return TAP.finish()


if __name__ == "__main__":
    sys.exit(main())
