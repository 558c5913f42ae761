#!/usr/bin/env python3
"""TAP: tests/e2e/s3_conditional_checksum.py's cases against moto_server
(tests/rig/motorig.py, auth on) behind tests/rig/faultproxy.py, where the
`python3` on PATH can `import moto`; otherwise SKIP with the reason.

s3_checksum = sha256 and s3_acl on the wire and accepted by moto; no
x-amz-checksum-* without it; If-None-Match: * on PutObject and
CompleteMultipartUpload; another file's object written under the key while
the PutObject is held: moto's 412 moves the file to key-{file_id} without a
second download; a 501 for ListMultipartUploads: the upload goes on."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
import s3_conditional_checksum  # noqa: E402

if __name__ == "__main__":
    spoolrig.main("s3_moto_conditional_checksum", s3_conditional_checksum.body, backend="moto")
