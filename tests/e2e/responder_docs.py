#!/usr/bin/env python3
"""docs/DEPLOY.md says what the tests do: it shows every web server snippet
of cgi-bin/ as it is; its responder config, used as is (only the spool path
and the secret swapped), answers under real lighttpd and spools with the
documented key; its spooler config holds only keys and values the config
parser accepts; and its endpoint check command (curl + openssl) gets the
exact encryptedToken from the responder."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

DOC = os.path.join(webrig.SRCDIR, "docs", "DEPLOY.md")
SNIPPETS = ["apache-fcgid.conf", "apache-proxy-fcgi.conf", "zoom2s3-spawn-fcgi.service",
            "lighttpd-zoom2s3.conf", "apache-cgi.conf", "lighttpd-cgi.conf"]
DOC_SPOOL = "/var/spool/zoom2s3"
DOC_SECRET = "REPLACE-WITH-THE-SECRET-TOKEN"
DOC_URL = "https://recordings.example.edu/zoom2s3/webhook"


def fenced_blocks(text):
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)


def tagged_block(text, tag):
    m = re.search(r"<!-- test: %s -->\n```[^\n]*\n(.*?)^```" % re.escape(tag), text, re.S | re.M)
    return m.group(1) if m else None


def check_snippets(tap, doc):
    blocks = fenced_blocks(doc)
    for name in SNIPPETS:
        with open(os.path.join(webrig.SRCDIR, "cgi-bin", name)) as f:
            text = f.read()
        tap.ok(text in blocks, "DEPLOY.md shows cgi-bin/%s as it is" % name)


def check_configs(tap, doc, srv):
    ws = srv.ws
    responder = tagged_block(doc, "responder.conf")
    spooler = tagged_block(doc, "spooler.conf")
    tap.ok(responder and DOC_SPOOL in responder and DOC_SECRET in responder,
           "DEPLOY.md has the responder's config")
    tap.ok(spooler and DOC_SPOOL in spooler, "DEPLOY.md has the spooler's config")
    if not responder or not spooler:
        return
    secret_keys = ("aws_", "zoom_client_secret", "zoom_api_secret", "s3_bucket")
    tap.ok(not any(k in responder for k in secret_keys),
           "the responder's config holds no spooler credentials")

    ws.write_config(responder.replace(DOC_SPOOL, ws.spool).replace(DOC_SECRET, ws.secret))
    tap.eq(webrig.validation_status(srv), 200, "the documented responder config answers")
    f = webrig.rec_file("docs-file-1")
    a = srv.post_signed(webrig.recording_event("docs-uuid", [f], topic="Physics [PHY201]"))
    tap.eq(a.status, 200, "a recording event under the documented config: 200")
    try:
        _, job, _ = webrig.read_job(ws, "new", webrig.job_name("docs-file-1"))
        key = job.get("s3_key")
    except (OSError, ValueError) as e:
        key = repr(e)
    tap.eq(key, "courses/uploads/PHY201/GMT20261126_200621_Recording.mp4",
           "its job has the documented key")

    # Both programs accept every key: the spooler's file, plus the one key
    # the responder requires, must load.
    ws.write_config(spooler.replace(DOC_SPOOL, ws.spool) +
                    "webhook_secret_token = %s\n" % ws.secret)
    tap.eq(webrig.validation_status(srv), 200,
           "the documented spooler config holds only valid keys and values")
    return responder


def check_command(tap, doc, srv, responder):
    ws = srv.ws
    script = tagged_block(doc, "check.sh")
    tap.ok(script and DOC_URL in script and DOC_SECRET in script,
           "DEPLOY.md has the endpoint check command")
    if not script or not responder:
        return
    ws.write_config(responder.replace(DOC_SPOOL, ws.spool).replace(DOC_SECRET, ws.secret))
    url = "http://127.0.0.1:%d%s" % (srv.port, webrig.URL_PATH)
    run = subprocess.run(["sh", "-e", "-c", script.replace(DOC_SECRET, ws.secret)
                          .replace(DOC_URL, url)],
                         capture_output=True, text=True, timeout=60)
    want = '{"plainToken":"abc123","encryptedToken":"%s"}' % webrig.encrypted_token(
        ws.secret, "abc123")
    tap.eq(run.stdout.strip(), want, "the check command gets the exact encryptedToken")
    if run.returncode != 0:
        tap.diag(run.stderr)


def main(tap):
    with open(DOC) as f:
        doc = f.read()
    check_snippets(tap, doc)
    ws = webrig.Workspace()
    srv = None
    try:
        srv = webrig.Lighttpd(ws)
        with srv:
            failed = tap.failed
            responder = check_configs(tap, doc, srv)
            check_command(tap, doc, srv, responder)
            webrig.case_no_secret(tap, srv)
            if tap.failed > failed:
                srv.print_logs()
    finally:
        ws.cleanup()


webrig.run_test(main, webrig.TOOLS["lighttpd"] + ["curl", "openssl"])
