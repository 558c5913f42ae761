#!/usr/bin/env python3
"""TAP: the spooler needs no root (docs/SECURITY.md, "Privileges"). The
spool is shared the way docs/DEPLOY.md sets it up (root:www-data, 2770,
.lock 0660, the config 0640 root:www-data) and zoom2s3-spooler runs as
www-data, with no capability: a multipart transfer from the stand-in Zoom
into the real RGW ends in done/, byte-exact, and the files it wrote keep
the spool's group and mode 0640. A config readable by others is warned
about in the log."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402

USER = "www-data"


def share_spool(rig, gid):
    os.chmod(rig.root, 0o755)
    for d in [rig.spool] + [os.path.join(rig.spool, s) for s in spoolrig.STATES]:
        os.chown(d, 0, gid)
        os.chmod(d, 0o2770)
    os.chown(os.path.join(rig.spool, ".lock"), 0, gid)
    os.chmod(os.path.join(rig.spool, ".lock"), 0o660)


def spooler_copy(rig):
    """The built spooler copied into the rig's scratch directory (0755):
    www-data cannot reach the build tree when the clone sits under a 0700
    directory (a home directory, mktemp -d)."""
    bindir = os.path.join(rig.root, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.chmod(bindir, 0o755)
    copy = os.path.join(bindir, "zoom2s3-spooler")
    shutil.copy(spoolrig.SPOOLER, copy)
    os.chmod(copy, 0o755)
    return copy


def run_as(rig, uid, gid, args, mode=0o640):
    os.chown(rig.config_path, 0, gid)
    os.chmod(rig.config_path, mode)
    argv = [spooler_copy(rig)] + rig.argv(("-v",) + tuple(args))[1:]

    def drop():
        os.setgroups([gid])
        os.setgid(gid)
        os.setuid(uid)

    t0 = time.monotonic()
    p = subprocess.run(argv, env=rig.env(), preexec_fn=drop,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=180)
    r = spoolrig.Run(p.returncode, p.stdout.decode(errors="replace"), time.monotonic() - t0)
    rig.runs.append(r)
    return r


def body(tap, rig):
    try:
        pw = pwd.getpwnam(USER)
        gid = grp.getgrnam(USER).gr_gid
    except KeyError:
        spoolrig.skip_all("no user %s" % USER)
    share_spool(rig, gid)
    info = rig.add_file("unpriv", PART + 4321)
    key = "unpriv/%s.mp4" % rig.name
    rig.enqueue(rig.job_for(info, key=key))
    r = run_as(rig, pw.pw_uid, gid, ["--once"])
    tap.eq(r.rc, 0, "the spooler as %s: exit status 0" % USER) or tap.diag(r.tail())
    check_done(tap, rig, info, key, "as %s" % USER)
    st = os.stat(os.path.join(rig.spool, "done", spoolrig.job_name("unpriv")))
    tap.eq((st.st_mode & 0o7777, st.st_gid), (0o640, gid),
           "the finished job is 0640 and keeps the spool's group")
    tap.eq(rig.uploads(), [], "no multipart upload left")
    tap.ok("config_readable_by_others" not in r.stderr, "a 0640 config draws no warning",
           r.tail())
    r = run_as(rig, pw.pw_uid, gid, ["--once"], mode=0o644)
    tap.ok("config_readable_by_others" in r.stderr,
           "a config that others can read (0644, it holds the AWS secret) is warned about",
           r.tail())
    os.chmod(rig.config_path, 0o600)


if __name__ == "__main__":
    spoolrig.main("unprivileged", body)
