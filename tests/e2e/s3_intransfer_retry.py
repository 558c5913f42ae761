#!/usr/bin/env python3
"""TAP: a transient S3 failure during a part costs the job no attempt and
no second download (CONTRACT "Config file": a transient S3 answer is
retried within the same transfer, with backoff).

The real zoom2s3-spooler uploads a 3-part file through tests/rig/
faultproxy.py in front of the RGW, with one fault placed on the second
UploadPart: 500, 503 SlowDown, a reset connection, or a stalled answer
(the spooler's timeout). Each time one `--once` run must finish the job in
done/ with attempts 0, byte-exact, and the stand-in CDN must have served
the file's bytes exactly once (it counts the bytes it sent)."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402
from spooler_faultproxy import proxied_job, with_proxy  # noqa: E402


def cdn_bytes(rig, fid):
    return sum(e.get("bytes_sent", 0) for e in rig.requests(server="cdn", file_id=fid))


def case(tap, rig, ctl, zoom_url, mode, extra=None):
    fid = "retry-%s" % mode
    info = rig.add_file(fid, 2 * PART + 999)
    key = "retries/%s/%s.mp4" % (rig.name, mode)
    rig.enqueue(proxied_job(rig, info, zoom_url, key))
    # The second UploadPart (PUT ...?partNumber=2&uploadId=...).
    ctl.rule(mode, route="s3", method="PUT", query="partNumber=2", count=1, frac=0.3,
             **(extra or {}))
    r = rig.run("--once", "-j", "1", timeout=300)
    left = ctl.stats()["rules"]
    tap.ok(not left, "%s on a part: the fault was placed" % mode, "rules unused: %r" % left)
    ctl.clear_rules()
    tap.ok(r.rc == 0, "%s on a part: the run exits 0" % mode, r.tail())
    job = check_done(tap, rig, info, key, "%s on a part" % mode, run=r)
    tap.eq(job.get("attempts"), 0, "%s on a part: no attempt lost" % mode)
    tap.eq(cdn_bytes(rig, fid), info["size"],
           "%s on a part: the CDN served the file once (no second download)" % mode)
    tap.ok("event=s3.failed op=UploadPart" in r.stderr and "try=1/5" in r.stderr,
           "%s on a part: the failed try is a log line" % mode, r.tail())
    tap.eq(rig.uploads(key), [], "%s on a part: no upload left" % mode)


def body(tap, rig):
    def cases(ctl, zoom_url):
        for mode in ("500", "503", "reset_req", "reset_resp"):
            case(tap, rig, ctl, zoom_url, mode)
        # A stalled answer: the spooler's stall timeout (60 s without a
        # byte) ends the request; the proxy holds it longer than that.
        case(tap, rig, ctl, zoom_url, "stall")
    with_proxy(rig, cases)

if __name__ == "__main__":
    spoolrig.main("s3_intransfer_retry", body)
