#!/usr/bin/env python3
"""TAP: tests/e2e/spooler_sizes.py's cases against moto_server
(tests/rig/motorig.py, auth on), where the `python3` on PATH can
`import moto`; otherwise SKIP with the reason.

0 bytes, 1 byte, exactly part_size (one PUT), part_size + 1 and 3.5 parts
(multipart), a job without file_size: each object byte-exact, with its
metadata and its part count; then the key rules (another file's object
under the key, two jobs with one key at once, this very file already
there)."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
import spooler_sizes as sizes  # noqa: E402

if __name__ == "__main__":
    spoolrig.main("s3_moto_sizes", sizes.case_sizes, sizes.case_collision,
                  sizes.case_same_key_at_once, sizes.case_already_there, backend="moto")
