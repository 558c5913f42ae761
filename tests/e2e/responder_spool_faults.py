#!/usr/bin/env python3
"""zoom2s3.fcgi when the spool cannot be written, under real lighttpd and real
Apache with mod_fcgid, as www-data: the spool on a tiny tmpfs filled up (no
room at all, and room for only part of an event) answers 503 with nothing of
the event in new/, and once space is freed the redelivered event is spooled
whole; tmp/ or new/ made unwritable for www-data answers 503 the same way; a
spool_dir that does not exist answers 503 until it is made, then works
without a restart; a move into new/ that fails halfway through an event
leaves none of it in new/; a spool_dir replaced by a new directory while
the responder runs gets the next event."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402
from webrig import job_name, rec_file, recording_event  # noqa: E402

PAGE = 4096


def fill(fs_dir):
    """Fills the file system under fs_dir with a root-owned dot file (the
    spool ignores dot files). Returns its path."""
    return webrig.fill_fs(os.path.join(fs_dir, ".filler"))


def event_of(srv, tag, n_files):
    ids = ["fault-%s-%d-%d" % (tag, srv.port, i) for i in range(n_files)]
    files = [rec_file(fid, recording_type="view%d" % i) for i, fid in enumerate(ids)]
    return recording_event("fault-%s/%d==" % (tag, srv.port), files), [job_name(i) for i in ids]


def refused_whole(tap, srv, ev, names, label):
    """503, and none of the event's jobs in new/."""
    a = srv.post_signed(ev)
    tap.eq(a.status, 503, "%s: %s: 503" % (srv.name, label))
    body = a.json() if a.body.startswith(b"{") else a.body
    tap.eq(body, {"error": "spool unavailable"}, "%s: the 503 says spool unavailable" % label)
    left = sorted(set(names) & set(srv.ws.state("new")))
    tap.eq(left, [], "%s: nothing of the event is in new/" % label)


def spooled_whole(tap, srv, ev, names, label, spool=None):
    spool = spool or srv.ws.spool
    a = srv.post_signed(ev)
    tap.eq(a.status, 200, "%s: %s: 200" % (srv.name, label))
    there = sorted(n for n in names if os.path.exists(os.path.join(spool, "new", n)))
    tap.eq(there, sorted(names), "%s: the whole event is in new/" % label)
    bad = []
    for n in there:
        try:
            with open(os.path.join(spool, "new", n), "rb") as f:
                json.loads(f.read().decode())
        except (OSError, ValueError) as e:
            bad.append("%s: %r" % (n, e))
    tap.eq(bad, [], "%s: every job is whole JSON" % label)


def case_full_disk(tap, srv, mounted):
    if not mounted:
        reason = "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)"
        if os.environ.get("ZOOM2S3_REQUIRE_ALL") == "1":
            tap.ok(False, "%s: full-disk case: %s (ZOOM2S3_REQUIRE_ALL=1)" % (srv.name, reason))
        else:
            tap.skip("%s: full-disk case" % srv.name, reason)
        return
    ws = srv.ws
    ok_ev, ok_names = event_of(srv, "fits", 1)
    spooled_whole(tap, srv, ok_ev, ok_names, "the tmpfs spool works before it fills")

    ev, names = event_of(srv, "full", 4)
    filler = fill(ws.spool)
    st = os.statvfs(ws.spool)
    tap.eq(st.f_bavail, 0, "the tmpfs is full")
    refused_whole(tap, srv, ev, names, "an event on a full disk")

    # Room for one job file of four: the event must still be all or nothing.
    os.truncate(filler, os.path.getsize(filler) - PAGE)
    tap.eq(os.statvfs(ws.spool).f_bavail * os.statvfs(ws.spool).f_frsize, PAGE,
           "the tmpfs has room for one job file")
    refused_whole(tap, srv, ev, names, "an event with room for a part of it")

    os.unlink(filler)
    spooled_whole(tap, srv, ev, names, "the same event redelivered once space is freed")


def case_unwritable(tap, srv):
    ws = srv.ws
    for state in ("tmp", "new"):
        d = os.path.join(ws.spool, state)
        ev, names = event_of(srv, "ro-" + state, 2)
        os.chmod(d, 0o2550)
        try:
            refused_whole(tap, srv, ev, names, "%s/ not writable for www-data" % state)
        finally:
            os.chmod(d, 0o2770)
        spooled_whole(tap, srv, ev, names, "redelivered once %s/ is writable again" % state)


def case_partial_move(tap, srv):
    """The third of four jobs cannot be moved (its name in failed/ is a
    directory, which the spool refuses to treat as a job): the two moved
    before it must leave new/ again."""
    ws = srv.ws
    ev, names = event_of(srv, "partial", 4)
    blocker = os.path.join(ws.spool, "failed", names[2])
    os.mkdir(blocker)
    try:
        refused_whole(tap, srv, ev, names, "a move that fails after two jobs moved")
    finally:
        os.rmdir(blocker)
    spooled_whole(tap, srv, ev, names, "redelivered once the blocker is gone")


def case_missing_spool(tap, srv):
    ws = srv.ws
    good = open(ws.config).read()
    missing = os.path.join(ws.root, "spool-made-later")
    ev, names = event_of(srv, "missing", 2)
    try:
        ws.write_config(good.replace("spool_dir = %s\n" % ws.spool, "spool_dir = %s\n" % missing))
        a = srv.post_signed(ev)
        tap.eq(a.status, 503, "%s: a spool_dir that does not exist: 503" % srv.name)
        webrig.make_spool(missing)
        spooled_whole(tap, srv, ev, names, "the same event once the spool is made (no restart)",
                      spool=missing)
    finally:
        ws.write_config(good)


def case_spool_replaced(tap, srv):
    """spool_dir moved aside and made anew while the responder runs (a
    restore, a late mount), the config file untouched: the next event goes
    into the directory that spool_dir now names, never into the one the
    process opened first."""
    ws = srv.ws
    good = open(ws.config).read()
    swap = os.path.join(ws.root, "spool-swap")
    old = swap + ".old"
    try:
        webrig.make_spool(swap)
        ws.write_config(good.replace("spool_dir = %s\n" % ws.spool, "spool_dir = %s\n" % swap))
        ev, names = event_of(srv, "before-move", 1)
        spooled_whole(tap, srv, ev, names, "before the spool is replaced", spool=swap)
        os.rename(swap, old)
        webrig.make_spool(swap)
        ev, names = event_of(srv, "after-move", 2)
        spooled_whole(tap, srv, ev, names, "after the spool is replaced", spool=swap)
        stray = sorted(set(names) & set(os.listdir(os.path.join(old, "new"))))
        tap.eq(stray, [], "%s: nothing went into the old, moved-aside spool" % srv.name)
    finally:
        ws.write_config(good)


def faults_on(tap, kind):
    ws = webrig.Workspace()
    mounted = False

    def start():
        nonlocal mounted
        mounted = ws.mount_tmpfs(ws.spool, "256k")
        if mounted:
            webrig.make_spool(ws.spool)
        return webrig.SERVERS[kind](ws)

    def run_cases(srv):
        for case in (lambda: case_full_disk(tap, srv, mounted),
                     lambda: case_unwritable(tap, srv),
                     lambda: case_partial_move(tap, srv),
                     lambda: case_missing_spool(tap, srv),
                     lambda: case_spool_replaced(tap, srv)):
            failed = tap.failed
            case()
            if tap.failed > failed:
                srv.print_logs()

    webrig.run_on_server(tap, ws, start, run_cases,
                         "%s: spool faults ran to their end" % kind)


def main(tap):
    faults_on(tap, "lighttpd")
    faults_on(tap, "apache-fcgid")


webrig.run_test(main, webrig.TOOLS["lighttpd"] + webrig.TOOLS["apache-fcgid"])
