#!/usr/bin/env python3
"""TAP: tests/e2e/s3_least_privilege.py's cases against moto_server
(tests/rig/motorig.py, auth on), where the `python3` on PATH can
`import moto`; otherwise SKIP with the reason.

The policy block of docs/DEPLOY.md, as written there, is the only policy of
an IAM user made in moto for this test; moto checks every request against
it. Under it the real zoom2s3-spooler uploads a single-PUT file and a
multipart one, resumes an upload, aborts an orphan, finds a file already
uploaded and moves aside from another file's object; an IAM user with no
policy gets a last_error that names the permission. Unlike AWS and RGW,
moto answers a HEAD of a missing key 404 without s3:ListBucket, and
enforces no object ACL between users of one account, so the s3_acl case
is RGW's alone (docs/S3.md)."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
import s3_least_privilege  # noqa: E402

if __name__ == "__main__":
    spoolrig.main("s3_moto_least_privilege", s3_least_privilege.body, backend="moto")
