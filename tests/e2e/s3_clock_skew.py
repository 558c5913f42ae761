#!/usr/bin/env python3
"""TAP: a spooler whose clock is 20 minutes off still uploads (CONTRACT
"Config file": RequestTimeTooSkewed makes it correct its clock offset from
the server's Date and retry).

The clock is really moved: the real zoom2s3-spooler runs under libfaketime
(LD_PRELOAD, FAKETIME), so time() itself is off, by 20 minutes behind and
then 20 minutes ahead; the RGW refuses signatures more than 15 minutes off
with 403 RequestTimeTooSkewed. Each time one `--once` run must finish a
single-PUT job and a multipart job (whose parts go up on other threads) in
done/ with attempts 0, and log the offset once."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402

LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1"]


def libfaketime():
    return next((p for p in LIBS if os.path.exists(p)), None)


def case(tap, rig, lib, shift):
    label = "clock %+d s" % shift
    tag = "ahead" if shift > 0 else "behind"
    small = rig.add_file("skew-small-" + tag, 150 * 1024)
    big = rig.add_file("skew-big-" + tag, 2 * PART + 77)
    ks, kb = ("skew/%s/%s-%s.mp4" % (rig.name, n, tag) for n in ("small", "big"))
    rig.enqueue(rig.job_for(small, key=ks))
    rig.enqueue(rig.job_for(big, key=kb))
    env = {"LD_PRELOAD": lib, "FAKETIME": "%+d" % shift, "FAKETIME_DONT_RESET": "1",
           # the sanitizer runtime would insist on coming first
           "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")}
    r = rig.run("--once", "-j", "2", env=env)
    tap.ok(r.rc == 0, "%s: the run exits 0" % label, r.tail())
    for info, key, what in ((small, ks, "single PUT"), (big, kb, "multipart")):
        job = check_done(tap, rig, info, key, "%s, %s" % (label, what), run=r)
        tap.eq(job.get("attempts"), 0, "%s, %s: no attempt lost" % (label, what))
    skewed = [ln for ln in r.events("s3.failed") if "code=RequestTimeTooSkewed" in ln]
    tap.ok(skewed, "%s: S3 refused the first request (RequestTimeTooSkewed)" % label, r.tail())
    offsets = r.events("s3.clock_offset")
    tap.eq(len(offsets), 1, "%s: the offset is logged once" % label)
    m = re.search(r"offset=(-?\d+)", offsets[0] if offsets else "")
    tap.ok(m and abs(int(m.group(1)) + shift) <= 5,
           "%s: the offset is the server's Date minus the moved clock" % label,
           offsets[0] if offsets else "no offset line")


def body(tap, rig):
    lib = libfaketime()
    rig.write_config()
    case(tap, rig, lib, -1200)
    case(tap, rig, lib, 1200)


if __name__ == "__main__":
    if not libfaketime():
        spoolrig.skip_all("libfaketime is not installed (apt-get install faketime)")
    spoolrig.main("s3_clock_skew", body)
