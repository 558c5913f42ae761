"""The real responder run as plain CGI, the way a web server starts it for
one request (REQUEST_METHOD, CONTENT_LENGTH, the x-zm-* headers as HTTP_*
variables, the body on stdin): for the tests that need jobs made by the
responder itself, without a web server (backfill, retention)."""

import os
import subprocess
import time

import fakezoom
import webrig

RESPONDER = os.path.join(webrig.BUILDDIR, "src", "zoom2s3.fcgi")


def post(config_path, secret, event, ts=None):
    """Posts event (a dict or bytes) signed with secret; returns the status
    the responder answered (an int) and its stderr."""
    body = event if isinstance(event, bytes) else fakezoom.webhook_bytes(event)
    ts = str(int(time.time()) if ts is None else ts)
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "POST",
           "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
           "HTTP_X_ZM_REQUEST_TIMESTAMP": ts,
           "HTTP_X_ZM_SIGNATURE": webrig.sign(secret, ts, body),
           "ZOOM2S3_CONFIG": config_path, "ZOOM2S3_LOG": "stderr"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([RESPONDER], input=body, env=env, capture_output=True, timeout=30)
    head = p.stdout.decode(errors="replace").split("\r\n", 1)[0]
    try:
        status = int(head.split()[1]) if head.startswith("Status:") else 0
    except (IndexError, ValueError):
        status = 0
    return status, p.stderr.decode(errors="replace")
