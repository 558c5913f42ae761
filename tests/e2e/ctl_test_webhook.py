#!/usr/bin/env python3
"""zoom2s3ctl test-webhook against zoom2s3.fcgi under a real lighttpd (the
snippet cgi-bin/lighttpd-zoom2s3.conf, running as www-data): with the
responder's own config it passes and spools nothing; with another secret it
fails and says 401 means; without a topic_regex the test event is ignored
for its file type; a URL where nothing listens fails; and no secret reaches
its output."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

CTL = os.path.join(webrig.BUILDDIR, "src", "zoom2s3ctl")


def ctl(config, *args):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([CTL, "-c", config] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout + p.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def body(tap):
    if not os.access(CTL, os.X_OK):
        tap.ok(False, "zoom2s3ctl is built", CTL)
        return
    ws = webrig.Workspace()
    srv = None
    try:
        srv = webrig.Lighttpd(ws)
        srv.start()
        url = "http://127.0.0.1:%d%s" % (srv.port, webrig.URL_PATH)
        before = {st: ws.state(st) for st in ("new", "cur", "done", "failed")}

        rc, out = ctl(ws.config, "test-webhook", url)
        tap.ok(rc == 0, "with the responder's config: exit 0", out)
        tap.ok("ok   endpoint.url_validation: 200" in out and "encryptedToken right" in out,
               "the validation answer's encryptedToken is checked", out)
        tap.ok("ok   recording.completed (its topic does not match topic_regex" in out and
               "nothing spooled" in out,
               "the recording event: 200, ignored by topic, nothing spooled", out)
        after = {st: ws.state(st) for st in ("new", "cur", "done", "failed")}
        tap.eq(after, before, "the spool is as it was")
        tap.ok(ws.secret not in out, "the secret is not printed")

        other = os.path.join(ws.root, "other.conf")
        write(other, "spool_dir = %s\nwebhook_secret_token = notTheRightSecret123\n" % ws.spool)
        rc, out = ctl(other, "test-webhook", url)
        tap.ok(rc == 1 and "FAIL endpoint.url_validation: HTTP 401" in out and
               "Secret Token" in out and "test-webhook: FAILED" in out,
               "another secret: exit 1, 401 explained", out)
        tap.ok("notTheRightSecret123" not in out, "that secret is not printed either")

        # The responder without topic_regex: the event is ignored for its
        # file_type alone (the ctl reads a config without topic_regex too).
        plain = ("spool_dir = %s\nwebhook_secret_token = %s\nfile_types = MP4, M4A\n"
                 % (ws.spool, ws.secret))
        ws.write_config(plain)
        rc, out = ctl(ws.config, "test-webhook", url)
        tap.ok(rc == 0 and "its one file's file_type is not in file_types" in out,
               "without topic_regex: ignored for its file type", out)
        tap.eq({st: ws.state(st) for st in ("new", "cur", "done", "failed")}, before,
               "still nothing spooled")

        rc, out = ctl(ws.config, "test-webhook", "http://127.0.0.1:1/zoom2s3/webhook")
        tap.ok(rc == 1 and "no answer from" in out, "nothing listening: exit 1", out)

        rc, out = ctl(ws.config, "test-webhook")
        tap.ok(rc == 2, "no URL: usage error (exit 2)", out)
        noresp = os.path.join(ws.root, "spooler-only.conf")
        write(noresp, "spool_dir = %s\ns3_bucket = b\n" % ws.spool)
        rc, out = ctl(noresp, "test-webhook", url)
        tap.ok(rc == 2 and "webhook_secret_token" in out,
               "a config without the secret: exit 2, naming the key", out)
        san = [ln for ln in out.splitlines() if any(m in ln for m in webrig.SANITIZER_MARKS)]
        tap.ok(not san, "no sanitizer report", *san)
    finally:
        if srv:
            srv.stop()
        ws.cleanup()


webrig.run_test(body, webrig.TOOLS["lighttpd"])
