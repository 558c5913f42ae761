#!/usr/bin/env python3
"""The README's demo (run by tests/demo.sh): zoom2s3's main job end to end on
loopback, shown step by step to a person. Python 3 stdlib only, as root.

    python3 tests/demo.py --builddir build/demo [--keep]

A local Ceph RGW is the bucket, a stand-in Zoom serves two recording files
of one meeting, lighttpd runs zoom2s3.fcgi as www-data, a signed
recording.completed webhook arrives (twice: Zoom redelivers), and
zoom2s3-spooler --once streams the files into the bucket. Every step is
checked; the exit status is 0 only when all of them did what they should.
--keep leaves the RGW running and the demo's files in place afterwards.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RIG = os.path.join(TOP, "tests", "rig")
BUCKET = "zoom-recordings"
SECRET = "demoSecretToken-8f3c2a91"          # the Zoom app's Secret Token
MIB = 1024 * 1024
TOPIC = "Algebra [MATH101] lecture"
MEETING_UUID = "dEmO4sKqQ0+lecture/w9Xg=="
MEETING_ID = 84520917365
MP4_ID = "demo-mp4-5f0c8a7e-2b1d-4c3e-9a8f-algebra"
M4A_ID = "demo-m4a-5f0c8a7e-2b1d-4c3e-9a8f-algebra"
MP4_SIZE = 12 * MIB + 345678                 # 3 parts of 5 MiB (the last short)
M4A_SIZE = 1 * MIB + 4321                    # one PUT
PART_SIZE = 5 * MIB


# ------------------------------------------------------------- printing -----

class Demo:
    def __init__(self):
        self.failures = []
        self.step_no = 0

    def step(self, text):
        self.step_no += 1
        print("\n==> %d. %s" % (self.step_no, text), flush=True)

    @staticmethod
    def say(text=""):
        for line in str(text).splitlines() or [""]:
            print("    " + line, flush=True)

    def check(self, cond, what, *detail):
        """One thing that must be so: printed as ok or FAILED."""
        if cond:
            self.say("ok: " + what)
        else:
            self.failures.append(what)
            self.say("FAILED: " + what)
            for d in detail:
                self.say("    " + str(d))
        return bool(cond)


class Stop(Exception):
    """A step failed in a way that leaves the next steps nothing to do."""


def mask(token):
    if not token:
        return token
    return token[:4] + "…[masked, %d chars]" % len(token)


def run(argv, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, **kw)


# ------------------------------------------------------------------ RGW -----

class Rgw:
    """tests/rig/rgw.sh on a directory of the build tree."""

    def __init__(self, directory, keep):
        self.dir = directory
        self.keep = keep
        self.script = os.path.join(RIG, "rgw.sh")
        # rgw.sh polls the RGW with curl: straight, never through a proxy.
        self.env = {k: v for k, v in os.environ.items()
                    if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        self.env["RGW_HOLDER_PID"] = str(os.getpid())
        if keep:
            self.env["RGW_LINGER"] = "-1"   # lives on until "rgw.sh stop"
        self.started = False

    def start(self):
        self.started = True
        r = run(["bash", self.script, "start", self.dir], env=self.env, timeout=600)
        if r.returncode != 0:
            raise Stop("rgw.sh start failed (exit %d):\n%s" % (r.returncode,
                                                               (r.stderr + r.stdout)[-3000:]))
        r = run(["bash", self.script, "env", self.dir], env=self.env, timeout=60)
        if r.returncode != 0:
            raise Stop("rgw.sh env failed:\n" + r.stderr)
        vals = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        return vals

    def stop(self):
        if not self.started:
            return
        if self.keep:
            run(["bash", self.script, "release", self.dir], env=self.env)
            return
        r = run(["bash", self.script, "stop", self.dir], env=self.env, timeout=120)
        if r.returncode != 0:
            print("demo: rgw.sh stop: " + r.stderr.strip(), file=sys.stderr)


# ------------------------------------------------------------ the demo ------

def utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


def rfc3339(ts):
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def spool_names(spool, state):
    return sorted(n for n in os.listdir(os.path.join(spool, state)) if not n.startswith("."))


def spool_snapshot(spool):
    """{state/name: bytes} of every job in the spool."""
    out = {}
    for st in ("tmp", "new", "cur", "done", "failed"):
        for n in spool_names(spool, st):
            with open(os.path.join(spool, st, n), "rb") as f:
                out[st + "/" + n] = f.read()
    return out


def ls(d, spool, state):
    names = spool_names(spool, state)
    d.say("$ ls %s/" % state)
    for n in names:
        st = os.stat(os.path.join(spool, state, n))
        d.say("  %s  (%d bytes, mode %04o)" % (n, st.st_size, st.st_mode & 0o7777))
    if not names:
        d.say("  (empty)")
    return names


def write_file(path, text, mode, gid=0):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chown(tmp, 0, gid)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def configs(ws, s3env, web_gid):
    """The two config files of a deployment (docs/DEPLOY.md): the responder's,
    readable by www-data and without credentials; the spooler's, root only."""
    responder = (
        "# responder.conf: zoom2s3.fcgi, run by lighttpd as www-data.\n"
        "# No S3 or Zoom API credentials here: this program faces the internet.\n"
        "spool_dir = %s\n"
        "webhook_secret_token = %s\n"
        "# The seed's own selection and key (CONTRACT.md), plus the audio file.\n"
        "topic_regex = \\[([A-Za-z0-9_]+)\\]\n"
        "min_duration = 120\n"
        "file_types = MP4, M4A\n"
        "key_template = courses/uploads/{1}/GMT{recording_start:%%Y%%m%%d_%%H%%M%%S}"
        "_Recording.{ext}\n" % (ws.spool, SECRET))
    spooler = (
        "# spooler.conf: zoom2s3-spooler (here run as root by the demo).\n"
        "spool_dir = %s\n"
        "s3_bucket = %s\n"
        "s3_endpoint = %s\n"
        "s3_region = %s\n"
        "part_size = 5M\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n"
        "# The stand-in Zoom: downloads on 127.0.0.1, its CDN on 127.0.0.2, plain http.\n"
        "download_hosts = 127.0.0.1,127.0.0.2\n"
        "allow_http = true\n" % (ws.spool, BUCKET, s3env["S3_ENDPOINT"],
                                 s3env.get("S3_REGION") or "us-east-1",
                                 s3env["AWS_ACCESS_KEY_ID"], s3env["AWS_SECRET_ACCESS_KEY"]))
    rpath = os.path.join(ws.etc, "responder.conf")
    spath = os.path.join(ws.etc, "spooler.conf")
    write_file(rpath, responder, 0o640, web_gid)
    write_file(spath, spooler, 0o600)
    return rpath, spath, responder, spooler


def show_config(d, path, text, secrets):
    st = os.stat(path)
    d.say("%s  (mode %04o, group %s)" % (path, st.st_mode & 0o7777, group_name(st.st_gid)))
    for line in text.splitlines():
        for s in secrets:
            if s and s in line:
                line = line.replace(s, mask(s))
        d.say("  | " + line)


def group_name(gid):
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def spooler_env():
    """Only the config file gives credentials, and nothing goes via a proxy."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update(ZOOM2S3_LOG="stderr", AWS_EC2_METADATA_DISABLED="true",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent", NO_PROXY="*", no_proxy="*")
    return env


def run_spooler(d, spooler, conf):
    argv = [spooler, "-c", conf, "--once", "-v"]
    d.say("$ ZOOM2S3_LOG=stderr %s -c %s --once -v" % (spooler, conf))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=spooler_env())
    lines = []
    deadline = time.monotonic() + 600
    for raw in p.stdout:
        line = raw.decode(errors="replace").rstrip("\n")
        lines.append(line)
        d.say("  " + line)
        if time.monotonic() > deadline:
            break
    try:
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = None
    return rc, lines


def demo(d, args, state):
    import fakezoom
    import s3util
    import webrig

    _, web_gid = webrig.web_ids()
    spooler_bin = os.path.join(args.builddir, "src", "zoom2s3-spooler")

    # ---- 1. the bucket
    d.step("Starting a local Ceph RGW (S3) and creating the bucket %r" % BUCKET)
    rgw = state["rgw"] = Rgw(os.path.join(args.builddir, "rgw"), args.keep)
    t0 = time.monotonic()
    s3env = rgw.start()
    d.say("RGW up at %s (%.0f s; its files: %s)" % (s3env["S3_ENDPOINT"],
                                                   time.monotonic() - t0, rgw.dir))
    s3 = s3util.S3(s3env["S3_ENDPOINT"], s3env["AWS_ACCESS_KEY_ID"],
                   s3env["AWS_SECRET_ACCESS_KEY"], s3env.get("S3_REGION") or "us-east-1")
    s3.create_bucket(BUCKET)
    s3.empty_bucket(BUCKET)   # a kept RGW from an earlier run: start clean
    d.check(s3.list_objects(BUCKET) == [], "bucket %s exists and is empty" % BUCKET)

    # ---- 2. Zoom
    d.step("Starting the stand-in Zoom with one meeting and two recording files")
    fz = state["fz"] = fakezoom.FakeZoom(host="127.0.0.1", cdn_host="127.0.0.2",
                                         evil_host="127.0.0.3").start()
    end = int(time.time()) // 60 * 60 - 5 * 60
    start = end - 52 * 60 - 17
    fz.add_meeting(MEETING_UUID, id=MEETING_ID, topic=TOPIC,
                   start_time=rfc3339(start - 64), host_email="prof.noether@example.edu",
                   duration=53)
    common = dict(meeting_uuid=MEETING_UUID, recording_start=rfc3339(start),
                  recording_end=rfc3339(end), status="completed")
    fz.add_file(MP4_ID, size=MP4_SIZE, file_extension="MP4", file_type="MP4",
                recording_type="shared_screen_with_speaker_view", **common)
    fz.add_file(M4A_ID, size=M4A_SIZE, file_extension="M4A", file_type="M4A",
                recording_type="audio_only", **common)
    served = {}
    for fid in (MP4_ID, M4A_ID):
        info = fz.file_info(fid)
        served[fid] = info
        d.say("%s  %-3s %9d bytes  sha256 %s…" % (fid, info["file_extension"], info["size"],
                                                 info["sha256"][:16]))
    token = fz.meetings[MEETING_UUID]["download_token"]
    d.say("Zoom at %s (downloads), its CDN at %s (302 target); download token %s"
          % (fz.base_url, fz.cdn_url, mask(token)))

    # ---- 3. config files
    d.step("Writing the two config files of a deployment")
    ws = state["ws"]
    rconf, sconf, rtext, stext = configs(ws, s3env, web_gid)
    state["sconf"] = sconf
    os.unlink(os.path.join(ws.etc, "zoom2s3.conf"))  # the rig's default one
    ws.config = rconf
    show_config(d, rconf, rtext, [SECRET])
    show_config(d, sconf, stext, [s3env["AWS_SECRET_ACCESS_KEY"]])
    d.check("aws_" not in rtext and "s3_" not in rtext,
            "the responder's file holds no S3 credentials")

    # ---- 4. lighttpd
    d.step("Starting lighttpd with zoom2s3.fcgi (FastCGI, runs as %s)" % webrig.WEB_USER)
    srv = state["srv"] = webrig.Lighttpd(ws)
    srv.start()
    url = "http://127.0.0.1:%d%s" % (srv.port, srv.url)
    d.say("webhook URL: " + url)
    d.say("spool: %s (root:%s, mode 2770)" % (ws.spool, webrig.WEB_USER))

    # ---- 5. webhooks
    d.step("Zoom checks the endpoint, then sends recording.completed (twice)")
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    a = srv.post_signed(fakezoom.url_validation_event(plain), secret=SECRET)
    d.say("endpoint.url_validation -> HTTP %d %s" % (a.status, a.body.decode(errors="replace")))
    want = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    try:
        answer = json.loads(a.body.decode())
    except ValueError:
        answer = None
    d.check(a.status == 200 and answer == {"plainToken": plain, "encryptedToken": want},
            "answered 200 with plainToken and encryptedToken = HMAC-SHA256(secret, plainToken)",
            "want %r" % {"plainToken": plain, "encryptedToken": want})

    event = fz.webhook_event(MEETING_UUID)
    body = fakezoom.webhook_bytes(event)
    bad = srv.post(body, webrig.signed_headers("not-the-secret", body))
    d.say("recording.completed signed with a wrong secret -> HTTP %d" % bad.status)
    d.check(bad.status == 401 and spool_snapshot(ws.spool) == {},
            "a forged webhook gets 401 and spools nothing")

    t = time.monotonic()
    a = srv.post_signed(body, secret=SECRET)
    ms = (time.monotonic() - t) * 1000
    d.say("recording.completed for %r (%d files) -> HTTP %d in %.0f ms"
          % (TOPIC, len(event["payload"]["object"]["recording_files"]), a.status, ms))
    d.check(a.status == 200, "the webhook is answered 200 at once")
    first = spool_snapshot(ws.spool)
    want_names = ["new/" + webrig.job_name(MP4_ID), "new/" + webrig.job_name(M4A_ID)]
    d.check(sorted(first) == sorted(want_names), "one job per recording file is in new/",
            "got %r" % sorted(first))

    time.sleep(1.1)   # a redelivery comes later, with a fresh timestamp
    a = srv.post_signed(body, secret=SECRET)
    d.say("the same recording.completed again (Zoom redelivers) -> HTTP %d" % a.status)
    d.check(a.status == 200 and spool_snapshot(ws.spool) == first,
            "the redelivery is answered 200 and spools nothing new (jobs unchanged)")

    # ---- 6. the spool
    d.step("The spool: one small JSON file per recording file")
    names = ls(d, ws.spool, "new")
    if webrig.job_name(MP4_ID) not in names:
        raise Stop("no job for the MP4 file in new/")
    job_path = os.path.join(ws.spool, "new", webrig.job_name(MP4_ID))
    with open(job_path) as f:
        raw = f.read()
    d.say("$ cat new/%s   (download_token masked here)" % webrig.job_name(MP4_ID))
    job = json.loads(raw)
    shown = raw
    if job.get("download_token"):
        shown = shown.replace(job["download_token"], mask(job["download_token"]))
    for line in shown.rstrip("\n").splitlines():
        d.say("  " + line)
    key_mp4 = "courses/uploads/MATH101/GMT%s_Recording.mp4" % utc(start).strftime("%Y%m%d_%H%M%S")
    key_m4a = key_mp4[:-len("mp4")] + "m4a"
    d.check(job.get("s3_key") == key_mp4, "its s3_key comes from key_template: " + key_mp4,
            "got %r" % job.get("s3_key"))
    d.check(job.get("download_token") == token and job.get("file_size") == MP4_SIZE,
            "it carries the webhook's download_token and the file's size")

    # ---- 7. the spooler
    d.step("Running the spooler once, as cron would")
    t = time.monotonic()
    rc, lines = run_spooler(d, spooler_bin, sconf)
    d.say("exit status %s after %.1f s" % (rc, time.monotonic() - t))
    d.check(rc == 0, "zoom2s3-spooler --once exits 0")
    out = "\n".join(lines)
    leaked = [what for what, s in (("the download token", token),
                                   ("the AWS secret key", s3env["AWS_SECRET_ACCESS_KEY"]),
                                   ("the webhook secret", SECRET)) if s in out]
    leaked += ["a pre-signed URL's signature" for s in fz.log()["secrets"]
               if s and len(s) > 8 and s in out][:1]
    d.check(not leaked, "no secret in its log lines", *leaked)

    # ---- 8. the result
    d.step("Where the recordings landed")
    done = ls(d, ws.spool, "done")
    d.check(done == sorted([webrig.job_name(MP4_ID), webrig.job_name(M4A_ID)]),
            "both jobs are in done/")
    left = {st: spool_names(ws.spool, st) for st in ("tmp", "new", "cur", "failed")}
    d.check(not any(left.values()), "nothing is left in tmp/, new/, cur/ or failed/",
            repr(left))
    objects = {o["key"]: o for o in s3.list_objects(BUCKET)}
    d.say("$ s3 ls s3://%s/ (with each object's SHA-256 against what Zoom served)" % BUCKET)
    for fid, key in ((MP4_ID, key_mp4), (M4A_ID, key_m4a)):
        name = webrig.job_name(fid)
        djob = {}
        if name in done:
            with open(os.path.join(ws.spool, "done", name)) as f:
                djob = json.load(f)
        obj = objects.get(key)
        if obj is None:
            d.check(False, "s3://%s/%s exists" % (BUCKET, key),
                    "bucket holds: %r" % sorted(objects))
            continue
        digest, size = s3.object_sha256(BUCKET, key)
        match = digest == served[fid]["sha256"] and size == served[fid]["size"]
        d.say("  s3://%s/%s" % (BUCKET, key))
        d.say("      %d bytes, ETag %s, sha256 %s… %s" % (
            size, obj["etag"], digest[:16],
            "matches what Zoom served" if match else "DIFFERS from what Zoom served"))
        d.say("      done/%s: completed_at %s, bytes %s, s3_etag %s" % (
            name, djob.get("completed_at"), djob.get("bytes"), djob.get("s3_etag")))
        d.check(match, "%s: byte-exact copy of %s" % (key.rsplit("/", 1)[1], fid))
        d.check(djob.get("s3_key") == key and djob.get("s3_bucket") == BUCKET and
                djob.get("bytes") == served[fid]["size"] and djob.get("completed_at") and
                djob.get("s3_etag") == obj["etag"],
                "its job in done/ records bucket, key, bytes, ETag and completed_at",
                {k: djob.get(k) for k in ("s3_bucket", "s3_key", "bytes", "s3_etag",
                                          "completed_at")})
    parts = -(-MP4_SIZE // PART_SIZE)
    mp4 = objects.get(key_mp4, {})
    d.check(mp4.get("etag", "").endswith("-%d" % parts),
            "the MP4 went up as a multipart upload of %d parts of 5 MiB" % parts,
            "ETag %r" % mp4.get("etag"))
    d.check(sorted(objects) == sorted([key_mp4, key_m4a]), "the bucket holds exactly these two",
            sorted(objects))
    d.check(s3.list_multipart_uploads(BUCKET) == [], "no multipart upload left open")

    reqs = fz.log()["requests"]
    zoom_gets = [r for r in reqs if r["server"] == "zoom" and "/rec/" in (r["path"] or "")]
    cdn_gets = [r for r in reqs if r["server"] == "cdn"]
    d.say("the stand-in Zoom saw %d download request(s) (%s) and %d on its CDN (%s)" % (
        len(zoom_gets), ", ".join(sorted({str(r["status"]) for r in zoom_gets})),
        len(cdn_gets), ", ".join(sorted({str(r["status"]) for r in cdn_gets}))))
    d.check(zoom_gets and all((r["authorization"] or "") == "Bearer " + token
                              for r in zoom_gets),
            "each download sent the webhook's download_token as Authorization: Bearer")
    d.check(cdn_gets and all(r["authorization"] is None for r in cdn_gets),
            "no Authorization header followed the redirect to the CDN")
    d.check(not [r for r in reqs if r["server"] == "evil"], "no request went anywhere else")
    d.check(srv.answers > 0 and not srv.secret_leaks,
            "none of the responder's %d answers carried the webhook secret" % srv.answers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", required=True,
                    help="the build tree with src/zoom2s3.fcgi and src/zoom2s3-spooler")
    ap.add_argument("--keep", action="store_true",
                    help="leave the RGW running and the demo's files in place")
    args = ap.parse_args()
    args.builddir = os.path.abspath(args.builddir)
    if os.geteuid() != 0:
        print("demo: run me as root (lighttpd drops to www-data; the RGW needs root)",
              file=sys.stderr)
        return 1

    # The rigs find the build through these.
    os.environ["top_srcdir"] = TOP
    os.environ["top_builddir"] = args.builddir
    sys.path.insert(0, RIG)
    import webrig

    # Not webrig.become_subreaper(): the RGW's daemons would become our
    # children, and the rig's reap_orphans() (run when lighttpd stops)
    # would end them, also when --keep wants them kept.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    d = Demo()
    state = {}
    error = None
    try:
        try:
            webrig.web_ids()
        except KeyError:
            raise Stop("there is no user %s (the web server's user)" % webrig.WEB_USER)
        for b in (webrig.responder_binary(),
                  os.path.join(args.builddir, "src", "zoom2s3-spooler")):
            if not os.access(b, os.X_OK):
                raise Stop("%s is not built (tests/demo.sh builds it)" % b)
        # In /tmp, not the build tree: www-data must reach the responder,
        # its config and the spool (a clone under /root is closed to it).
        state["ws"] = webrig.Workspace(secret=SECRET)
        print("demo: the demo's files are in " + state["ws"].root, flush=True)
        demo(d, args, state)
    except Stop as e:
        error = str(e)
    except Exception:
        error = traceback.format_exc()
    finally:
        print("\n==> Stopping everything the demo started", flush=True)
        if state.get("srv") and error:
            state["srv"].print_logs(20)
        for what, fn in (("lighttpd", lambda: state["srv"].stop()),
                         ("the stand-in Zoom", lambda: state["fz"].stop()),
                         ("the RGW", lambda: state["rgw"].stop())):
            try:
                fn()
            except KeyError:
                continue
            except Exception as e:
                print("    could not stop %s: %s" % (what, e))
                continue
            kept = what == "the RGW" and args.keep
            print("    %s %s" % (what, "left running (--keep)" if kept else "stopped"))
        ws = state.get("ws")
        if ws:
            if args.keep:
                webrig.kill_strays(ws.cgibin)
                print("    kept %s (--keep)" % ws.root)
            else:
                ws.cleanup()

    if error:
        print("\ndemo: FAILED: " + error.rstrip(), flush=True)
        return 1
    if d.failures:
        print("\ndemo: FAILED: %d check(s) did not hold:" % len(d.failures))
        for f in d.failures:
            print("    - " + f)
        return 1
    print("\ndemo: PASSED: the recordings went from the webhook through the spool into "
          "s3://%s/, byte-exact." % BUCKET, flush=True)
    if args.keep:
        print_kept(args, state)
    return 0


def print_kept(args, state):
    """What an operator can do with the kept spool, with real paths."""
    ctl = os.path.abspath(os.path.join(args.builddir, "src", "zoom2s3ctl"))
    conf = state.get("sconf")
    done = sorted(os.listdir(os.path.join(state["ws"].spool, "done"))) if state.get("ws") else []
    print("\ndemo: the spool and the RGW are kept. Look at them with zoom2s3ctl:")
    if os.access(ctl, os.X_OK) and conf:
        print("    %s -c %s status" % (ctl, conf))
        print("    %s -c %s list" % (ctl, conf))
        if done:
            print("    %s -c %s show %s" % (ctl, conf, done[0]))
    else:
        print("    (zoom2s3ctl is not built: %s)" % ctl)
    print("demo: the RGW still runs; stop it with:")
    print("    bash %s stop %s" % (os.path.join(RIG, "rgw.sh"),
                                   os.path.abspath(os.path.join(args.builddir, "rgw"))))


if __name__ == "__main__":
    sys.exit(main())
