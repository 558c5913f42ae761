#!/usr/bin/env python3
"""TAP: tests/e2e/s3_intransfer_retry.py's cases against moto_server
(tests/rig/motorig.py, auth on) behind tests/rig/faultproxy.py, where the
`python3` on PATH can `import moto`; otherwise SKIP with the reason.

A 500, a 503 SlowDown, a connection reset on the request and on the
answer, and a stalled answer, each on the second UploadPart of a 3-part
file: each costs the job no attempt, the stand-in CDN serves the file's
bytes once, and the object is byte-exact."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
import s3_intransfer_retry  # noqa: E402

if __name__ == "__main__":
    spoolrig.main("s3_moto_intransfer_retry", s3_intransfer_retry.body, backend="moto")
