#!/usr/bin/env python3
"""The spooler's progress, as a person sees it: on a terminal, a live line
with each transfer's bytes, rate and ETA, redrawn in place; in the logs, a
start line and a finish line per transfer with bytes, seconds and MiB/s.
The real binary runs under a pseudo-terminal, against the stand-in Zoom
(a slow body, so the line is drawn several times) and a real Ceph RGW."""
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402


def run_on_terminal(rig, args, timeout=120):
    """Runs the spooler with stderr (and stdout) on a pty; returns (rc, text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(rig.argv(args), env=rig.env(), stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    if p.poll() is None:
        p.kill()
    rc = p.wait()
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def body(tap, rig):
    info = rig.add_file("prog1", 2 * PART + 12345)
    rig.fz.fault("prog1", mode="slow", chunk=256 * 1024, delay=0.1)
    rig.enqueue(rig.job_for(info))
    rc, text = run_on_terminal(rig, ["--once", "-j", "1"])
    tap.eq(rc, 0, "on a terminal: exit status 0") or tap.diag(text[-2000:])
    check_done(tap, rig, info, "rec/%s/prog1.mp4" % rig.name, "on a terminal")
    live = re.findall(r"\r\x1b\[K[^\r\n]*MiB/s ETA [^\r\n|]*", text)
    tap.ok(len(live) >= 2, "a live line is drawn, and redrawn in place (\\r, erase line)",
           "%d live lines" % len(live), repr(text[-600:]))
    named = [ln for ln in live if spoolrig.job_name("prog1")[:24] in ln]
    tap.ok(named, "the live line names the job", repr(live[-3:]))
    growing = [float(m) for m in re.findall(r"(\d+\.\d) */ *\d+\.\d MiB", " ".join(live))]
    tap.ok(len(growing) >= 2 and growing[-1] > growing[0],
           "the bytes on the live line grow", repr(growing[:10]))
    tap.ok(any(re.search(r"ETA \d+s", ln) for ln in live), "an ETA in seconds is shown",
           repr(live[-3:]))
    start = [ln for ln in text.splitlines() if "event=transfer.start" in ln]
    end = [ln for ln in text.splitlines() if "event=transfer.end" in ln]
    tap.eq(len(start), 1, "log: one start line for the transfer")
    tap.ok(len(end) == 1 and re.search(r"bytes=%d seconds=[\d.]+ MiB/s=[\d.]+" % info["size"],
                                       end[0]),
           "log: one finish line with bytes, seconds and MiB/s", repr(end))

    # Not a terminal (cron): no live line at all, only the log lines.
    info2 = rig.add_file("prog2", PART + 1)
    rig.enqueue(rig.job_for(info2))
    r = rig.run("--once", verbose=False)
    tap.eq(r.rc, 0, "not a terminal: exit status 0")
    tap.ok("\x1b[K" not in r.stderr and "ETA" not in r.stderr,
           "not a terminal: no live line", r.tail())


if __name__ == "__main__":
    spoolrig.main("progress", body)
