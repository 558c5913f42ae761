#!/usr/bin/env python3
"""TAP: zoom2s3ctl backfill against the stand-in Zoom, the real responder
(as CGI), the real spooler and a real Ceph RGW, rule by rule of the
contract's "Backfill: recordings whose webhook never came":

- missed webhooks found over several users (active and inactive, never
  pending) and over more than 30 days, in windows of at most 30 days, every
  page of every listing (users and recordings), a 429 waited out;
- each selected file gets the very job, name and key its webhook gives
  (the responder's selection, key_template and collision rule), with
  event = backfill and no download_token; host_email comes from the users
  listing when the recordings listing leaves it out;
- a job already in new/, done/ or failed/ is left alone ("exists STATE
  NAME"); a file the selection takes but cannot spool is "skipped NAME:
  REASON"; a summary line;
- --dry-run prints the same and writes nothing; a rerun spools nothing;
  --user (an id or an email) lists only that user;
- exit status 0, 1 when a listing failed (the rest is spooled), 2 for a
  usage or config error, 3 when the spool cannot be used;
- the spooler then uploads every backfilled job, byte-exact."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import fakezoom  # noqa: E402
import cgirun  # noqa: E402
import spoolrig  # noqa: E402
import webrig  # noqa: E402

CTL = os.path.join(spoolrig.BUILDDIR, "src", "zoom2s3ctl")
SECRET = "YmFja2ZpbGwtd2ViaG9vay1zZWNyZXQ"
TODAY = datetime.datetime.now(datetime.timezone.utc).date()
SELECTION = {
    "topic_regex": r"\[([A-Za-z0-9_]+)\]",
    "file_types": "MP4, TRANSCRIPT",
    "min_duration": "120",
    "key_template": "courses/{1}/{recording_start:%Y-%m-%d}.{ext}",
    "webhook_secret_token": SECRET,
}
# Fields that the webhook and the backfill give alike (the rest: received_at,
# event, download_url, download_token, differ by design).
SAME = ("recording_file_id", "meeting_uuid", "meeting_id", "topic", "host_email", "start_time",
        "recording_start", "recording_end", "file_type", "file_extension", "file_size",
        "recording_type", "s3_key", "attempts", "account_id", "host_id")


def day(k):
    return (TODAY - datetime.timedelta(days=k)).isoformat()


# ------------------------------------------------------------ the account --

USERS = [("U1", "alice@example.com", "active"), ("U2", "bob@example.com", "inactive"),
         ("U3", "carol@example.com", "active"), ("U4", "dave@example.com", "active"),
         ("U5", "erin@example.com", "active"), ("P1", "pat@example.com", "pending")]
# meeting uuid -> (host, days ago, topic, extra files)
MEETINGS = {
    "bfA/1+x==": ("U1", 10, "Algebra [MATH1]", ()),        # came by webhook, uploaded
    "bfB/2+x==": ("U2", 2, "Physics [PHY2]", ()),          # inactive user; compared
    "bfC/3+x==": ("U1", 40, "Algebra [MATH1]", ("processing",)),
    "bfD/4+x==": ("U1", 65, "Chemistry [CHEM3]", ()),
    "bfE/5+x==": ("U1", 1, "Algebra [MATH1]", ()),
    "bfF/6+x==": ("U1", 3, "Algebra [MATH1]", ()),
    "bfG/7+x==": ("U1", 5, "Algebra [MATH1]", ()),
    "bfH/8+x==": ("U2", 35, "Physics [PHY2]", ()),
    "bfI/9+x==": ("U3", 5, "Staff meeting", ()),            # topic does not match
    "bfJ/0+x==": ("P1", 3, "Pending [PEND]", ()),           # pending user: never listed
    "bfK/1+y==": ("U4", 100, "Old [OLD1]", ()),             # before --from
    "bfL/2+y==": ("U5", 20, "Biology [BIO5]", ()),          # came by webhook, failed/
}


def files_of(uuid_):
    """The files of a meeting: two MP4 views with the same start (a key
    collision), an M4A (another file_type), a transcript, a 30 s MP4 (under
    min_duration) and, for some, an MP4 still processing."""
    host, ago, _, extra = MEETINGS[uuid_]
    tag = uuid_[2]
    start = "%sT10:00:05Z" % day(ago)
    end = "%sT11:00:05Z" % day(ago)
    out = [
        dict(id="%s-spk" % tag, size=3000 + ago, file_extension="MP4",
             recording_type="speaker_view", recording_start=start, recording_end=end),
        dict(id="%s-gal" % tag, size=4000 + ago, file_extension="MP4",
             recording_type="gallery_view", recording_start=start, recording_end=end),
        dict(id="%s-aud" % tag, size=500, file_extension="M4A", recording_start=start,
             recording_end=end),
        dict(id="%s-vtt" % tag, size=700 + ago, file_extension="VTT", recording_start=start,
             recording_end=end),
        dict(id="%s-short" % tag, size=900, file_extension="MP4", recording_type="shared_screen",
             recording_start=start, recording_end="%sT10:00:35Z" % day(ago)),
    ]
    if "processing" in extra:
        out.append(dict(id="%s-proc" % tag, size=800, file_extension="MP4",
                        recording_type="active_speaker", status="processing",
                        recording_start=start, recording_end=end))
    return out


def populate(fz):
    for uid, email, status in USERS:
        fz.add_user(uid, email=email, status=status)
    for uuid_, (host, ago, topic, _) in MEETINGS.items():
        email = [u[1] for u in USERS if u[0] == host][0]
        fz.add_meeting(uuid_, topic=topic, host_id=host, host_email=email,
                       start_time="%sT10:00:00Z" % day(ago))
        for f in files_of(uuid_):
            fz.add_file(meeting_uuid=uuid_, **f)


def selected(uuid_):
    """The ids the selection spools for a meeting."""
    if not re.search(r"\[[A-Za-z0-9_]+\]", MEETINGS[uuid_][2]):
        return []
    return [f["id"] for f in files_of(uuid_)
            if f["file_extension"] in ("MP4", "VTT") and not f["id"].endswith("-short") and
            f.get("status", "completed") == "completed"]


# --------------------------------------------------------------- programs --

def deliver(rig, uuid_, config_path):
    """recording.completed for the meeting, through the real responder run
    as plain CGI, as a web server would start it."""
    status, _ = cgirun.post(config_path, SECRET, rig.fz.webhook_event(uuid_))
    return status


class Ctl:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        self.lines = [ln for ln in out.splitlines() if not ln.startswith("backfill ")]
        self.summary = [ln for ln in out.splitlines() if ln.startswith("backfill ")]

    def names(self, verb):
        return sorted(ln.split()[-1] for ln in self.lines if ln.startswith(verb + " "))

    def diag(self):
        return "rc %r\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out[-3000:],
                                                         self.err[-3000:])


def backfill(rig, *args, config=None):
    p = subprocess.run([CTL, "-c", config or rig.config_path, "backfill"] + list(args),
                       env=rig.env(), capture_output=True, timeout=300)
    r = Ctl(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    rig.runs.append(spoolrig.Run(p.returncode, r.out + r.err, 0))
    return r


def snapshot(path):
    """Every file under path with its content and mtime."""
    out = {}
    for top, _, files in os.walk(path):
        for n in files:
            p = os.path.join(top, n)
            st = os.stat(p)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = (f.read(), st.st_mtime_ns)
    return out


def job_names(ids):
    return sorted(webrig.job_name(i) for i in ids)


def meetings_in(lines):
    """The meeting letters of the files named in output lines."""
    return sorted({m for ln in lines for m in re.findall(r"\b([A-Z])-[a-z]+\.json", ln)})


# ------------------------------------------------------------------ cases --

def case_webhooks_first(tap, rig):
    """What reached the spool the normal way before the outage's backfill."""
    tap.eq(deliver(rig, "bfA/1+x==", rig.config_path), 200,
           "the responder spools meeting A's webhook")
    r = rig.run("--once")
    tap.eq(r.rc, 0, "the spooler uploads meeting A") or tap.diag(r.tail())
    tap.eq(sorted(rig.states()["done"]), job_names(selected("bfA/1+x==")),
           "meeting A's three selected files are in done/")
    tap.eq(deliver(rig, "bfL/2+y==", rig.config_path), 200,
           "the responder spools meeting L's webhook")
    rig.move("L-spk", "new", "failed")  # as an operator's mv
    tap.eq(rig.where("L-spk"), ["failed"], "one of L's jobs is in failed/ by hand")


def case_dry_run(tap, rig):
    before = snapshot(rig.spool)
    r = backfill(rig, "--from", day(70), "--dry-run")
    tap.eq(r.rc, 0, "--dry-run: exit status 0") or tap.diag(r.diag())
    tap.eq(snapshot(rig.spool), before, "--dry-run writes nothing in the spool")
    tap.ok(r.summary and "dry run: nothing written" in r.summary[0], "--dry-run says so",
           r.diag())
    return r


def expected_new():
    found = []
    for uuid_, (host, ago, _, _) in MEETINGS.items():
        if host in ("U1", "U2", "U5") and ago <= 70 and uuid_ not in ("bfA/1+x==", "bfL/2+y=="):
            found += selected(uuid_)
    return job_names(found)


def case_backfill(tap, rig, dry):
    rig.fz.set_config(recordings_page_max=2, users_page_max=2)
    rig.fz.fault("_list", "429", count=2, retry_after=1)
    since = rig.fz.log()["requests"][-1]["seq"]
    r = backfill(rig, "--from", day(70))
    tap.eq(r.rc, 0, "backfill --from 70 days ago: exit status 0") or tap.diag(r.diag())
    tap.eq(r.names("spooled"), expected_new(),
           "every missed selected file of the active and inactive users is spooled")
    tap.eq(sorted(rig.states()["new"]),
           sorted(expected_new() + job_names(i for i in selected("bfL/2+y==") if i != "L-spk")),
           "  ... and is in new/")
    tap.eq(r.names("exists"), job_names(selected("bfA/1+x==") + selected("bfL/2+y==")),
           "the files already spooled are 'exists'")
    states = {ln.split()[2]: ln.split()[1] for ln in r.lines if ln.startswith("exists ")}
    tap.eq((states.get(webrig.job_name("A-spk")), states.get(webrig.job_name("L-spk")),
            states.get(webrig.job_name("L-gal"))), ("done", "failed", "new"),
           "  ... each with the state that holds it")
    tap.eq([ln for ln in r.lines if ln.startswith("skipped ")],
           ["skipped %s: status \"processing\"" % webrig.job_name("C-proc")],
           "a selected file still processing is 'skipped NAME: REASON'")
    tap.eq(len(r.lines), len(r.names("spooled")) + len(r.names("exists")) + 1,
           "one line per selected file, nothing else")
    tap.ok(r.summary and re.search(r"2 rate-limited answers waited out", r.summary[0]),
           "the two 429s were waited out, and the summary says so", r.diag())
    tap.eq(dry.lines, r.lines, "--dry-run printed the very same lines")

    done_job = rig.job("done", "A-spk")
    tap.eq(done_job.get("event"), "recording.completed", "a job in done/ is left as it was")
    for fid in ("C-spk", "H-vtt", "E-gal"):
        job = rig.job("new", fid) or {}
        tap.ok(job.get("event") == "backfill" and "download_token" not in job and
               job.get("attempts") == 0 and "/rec/download/" in job.get("download_url", ""),
               "%s: event backfill, no download_token, the API's link" % fid, repr(job))
    tap.eq((rig.job("new", "E-spk") or {}).get("s3_key"),
           "courses/MATH1/%s.mp4" % day(1), "E's first view: the template's key")
    tap.eq((rig.job("new", "E-gal") or {}).get("s3_key"),
           "courses/MATH1/%s-gallery_view.mp4" % day(1), "E's second view: the collision suffix")
    check_requests(tap, rig, since)


def check_requests(tap, rig, since):
    reqs = rig.fz.requests(since=since)
    users = [e for e in reqs if e.get("kind") == "users"]
    tap.eq(sorted({e.get("user_status") for e in users}), ["active", "inactive"],
           "users listed active and inactive, never pending")
    tap.ok(len([e for e in users if e.get("user_status") == "active"]) == 2,
           "every page of the active users (page_size capped at 2: two pages)",
           [e.get("query") for e in users])
    lists = [e for e in reqs if e.get("kind") == "user_recordings"]
    tap.ok(all("page_size=300" in e["query"] for e in lists), "recordings asked 300 a page")
    ranges = {}
    for e in lists:
        if e.get("status") == 200 and "next_page_token" not in e["query"]:
            ranges.setdefault(e["user"], []).append((e["range_from"], e["range_to"]))
    tap.eq(sorted(ranges), ["U1", "U2", "U3", "U4", "U5"],
           "each active and inactive user listed; the pending user never")
    spans = [(datetime.date.fromisoformat(b) - datetime.date.fromisoformat(a)).days + 1
             for a, b in ranges["U1"]]
    tap.ok(len(spans) == 3 and max(spans) <= 30 and sum(spans) == 71,
           "71 days in 3 windows of at most 30 days", ranges["U1"])
    firsts = sorted(ranges["U1"])
    contiguous = all(datetime.date.fromisoformat(firsts[i + 1][0]) ==
                     datetime.date.fromisoformat(firsts[i][1]) + datetime.timedelta(days=1)
                     for i in range(len(firsts) - 1))
    tap.ok(contiguous and firsts[0][0] == day(70) and firsts[-1][1] == day(0),
           "the windows cover --from to today, without gap or overlap", firsts)
    paged = [e for e in lists if "next_page_token" in e["query"] and e.get("user") == "U1"]
    tap.ok(len(paged) >= 1, "U1's last window took two pages (page_size capped at 2)",
           len(paged))
    tap.eq(len([e for e in lists if e.get("status") == 429]), 2, "two 429 answers met")


def case_same_as_webhook(tap, rig):
    """Meeting B's jobs as the webhook makes them (in a spool of their own)
    and as the backfill made them."""
    other = os.path.join(rig.root, "webhook-spool")
    spoolrig.Rig.make_spool(other)
    conf = os.path.join(rig.root, "webhook.conf")
    with open(rig.config_path) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("spool_dir = %s\n" % rig.spool, "spool_dir = %s\n" % other))
    tap.eq(deliver(rig, "bfB/2+x==", conf), 200, "meeting B's webhook, elsewhere")
    hook = sorted(os.listdir(os.path.join(other, "new")))
    tap.eq(hook, job_names(selected("bfB/2+x==")), "  ... spools the same names")
    for name in hook:
        with open(os.path.join(other, "new", name)) as f:
            want = json.load(f)
        with open(os.path.join(rig.spool, "new", name)) as f:
            got = json.load(f)
        tap.eq({k: got.get(k) for k in SAME}, {k: want.get(k) for k in SAME},
               "%s: the backfill's job is the webhook's (key %s)" % (name, want.get("s3_key")))


def case_rerun(tap, rig):
    before = snapshot(os.path.join(rig.spool, "new"))
    r = backfill(rig, "--since", "71d")
    tap.eq(r.rc, 0, "a rerun (--since 71d): exit status 0") or tap.diag(r.diag())
    tap.eq(r.names("spooled"), [], "a rerun spools nothing")
    tap.eq(snapshot(os.path.join(rig.spool, "new")), before, "  ... and changes nothing in new/")
    tap.ok(r.summary and " 0 files spooled" in r.summary[0], "  ... its summary says 0", r.diag())


def case_users(tap, rig):
    since = rig.fz.log()["requests"][-1]["seq"]
    r = backfill(rig, "--from", day(70), "--user", "alice@example.com", "--dry-run")
    tap.eq(r.rc, 0, "--user EMAIL: exit status 0") or tap.diag(r.diag())
    reqs = rig.fz.requests(since=since)
    tap.eq(sorted({e.get("user") for e in reqs if e.get("kind") == "user_recordings"}),
           ["alice@example.com"], "--user EMAIL lists that user alone")
    tap.eq([e for e in reqs if e.get("kind") == "users"], [], "  ... without listing users")
    tap.eq(meetings_in(r.lines), ["A", "C", "D", "E", "F", "G"],
           "  ... and prints only that user's files")
    r = backfill(rig, "--from", day(70), "--user", "U2", "--user", "U5", "--dry-run")
    tap.eq(meetings_in(r.lines), ["B", "H", "L"], "--user ID twice: both users' files")


def case_jwt(tap, rig):
    """The legacy JWT app serves too: an HS256 token signed here."""
    conf = os.path.join(rig.root, "jwt.conf")
    with open(rig.config_path) as f:
        lines = [ln for ln in f if not ln.startswith(("zoom_account_id", "zoom_client"))]
    with open(conf, "w") as f:
        f.writelines(lines + ["zoom_api_key = fz-api-key\n", "zoom_api_secret = fz-api-secret\n"])
    since = rig.fz.log()["requests"][-1]["seq"]
    r = backfill(rig, "--since", "3d", "--user", "U1", "--dry-run", config=conf)
    reqs = [e for e in rig.fz.requests(since=since) if e.get("kind") == "user_recordings"]
    tap.ok(r.rc == 0 and reqs and all(e.get("auth_kind") == "jwt" and e.get("auth_ok")
                                      for e in reqs) and r.names("exists"),
           "a legacy JWT app: the listing accepts its token", r.diag())


def case_host_email(tap, rig):
    """key_template with {host_email}; the listing leaves host_email out."""
    conf_text = open(rig.config_path).read().replace(
        "courses/{1}/{recording_start:%Y-%m-%d}.{ext}", "{host_email}/{1}.{ext}")
    spools = {}
    for label in ("hook", "fill"):
        spools[label] = os.path.join(rig.root, "he-" + label)
        spoolrig.Rig.make_spool(spools[label])
        with open(os.path.join(rig.root, "he-%s.conf" % label), "w") as f:
            f.write(conf_text.replace("spool_dir = %s\n" % rig.spool,
                                      "spool_dir = %s\n" % spools[label]))
    deliver(rig, "bfH/8+x==", os.path.join(rig.root, "he-hook.conf"))
    rig.fz.set_config(listing_host_email=False)
    r = backfill(rig, "--from", day(40), "--to", day(30),
                 config=os.path.join(rig.root, "he-fill.conf"))
    rig.fz.set_config(listing_host_email=True)
    tap.eq(r.rc, 0, "host_email left out of the listing: exit status 0") or tap.diag(r.diag())
    keys = {}
    for label, d in spools.items():
        for n in os.listdir(os.path.join(d, "new")):
            if not n.startswith("H-"):
                continue
            with open(os.path.join(d, "new", n)) as f:
                job = json.load(f)
            keys.setdefault(label, {})[n] = (job.get("s3_key"), job.get("host_email"))
    tap.eq(keys.get("fill"), keys.get("hook"),
           "{host_email} keys as the webhook's: the email from the users listing")


def case_failures(tap, rig):
    rig.fz.fault("_list:U3", "500")
    r = backfill(rig, "--from", day(10), "--dry-run")
    rig.fz.clear_faults("_list:U3")
    tap.eq(r.rc, 1, "a listing that fails: exit status 1") or tap.diag(r.diag())
    tap.ok("the recordings of user U3" in r.err and "500" in r.err,
           "  ... stderr names the listing and Zoom's answer", r.diag())
    tap.ok(r.names("exists"), "  ... the other users' listings were still read")
    tap.ok(r.summary and "1 listings failed" in r.summary[0], "  ... the summary counts it")

    rig.fz.fault("_users", "429", count=None, retry_after=3600)
    r = backfill(rig, "--since", "1d")
    rig.fz.clear_faults("_users")
    tap.eq(r.rc, 1, "a 429 whose Retry-After is a day away: not waited, exit status 1")
    tap.ok("429" in r.err, "  ... and said", r.diag())

    r = backfill(rig, "--since", "2x")
    tap.eq(r.rc, 2, "--since 2x: exit status 2")
    r = backfill(rig, "--from", "2026-02-30")
    tap.eq(r.rc, 2, "--from 2026-02-30 (no such day): exit status 2")
    r = backfill(rig, "--from", day(1), "--to", day(3))
    tap.eq(r.rc, 2, "--from after --to: exit status 2")
    r = backfill(rig, "--from", day(0), "--to", (TODAY + datetime.timedelta(days=2)).isoformat())
    tap.eq(r.rc, 2, "--to in the future: exit status 2")
    r = backfill(rig, "--since", "2d", "--from", day(3))
    tap.eq(r.rc, 2, "--since with --from: exit status 2")
    r = backfill(rig)
    tap.eq(r.rc, 2, "no range at all: exit status 2")
    tap.ok("--since" in r.err, "  ... and the usage says what to give", r.diag())

    noapp = os.path.join(rig.root, "noapp.conf")
    with open(rig.config_path) as f:
        lines = [ln for ln in f if not ln.startswith(("zoom_account_id", "zoom_client"))]
    with open(noapp, "w") as f:
        f.writelines(lines)
    r = backfill(rig, "--since", "2d", config=noapp)
    tap.eq(r.rc, 2, "no Zoom app in the config: exit status 2")
    tap.ok("needs a Zoom app" in r.err, "  ... saying so", r.diag())

    nospool = os.path.join(rig.root, "nospool.conf")
    with open(rig.config_path) as f:
        text = f.read().replace("spool_dir = %s\n" % rig.spool,
                                "spool_dir = %s\n" % os.path.join(rig.root, "gone"))
    with open(nospool, "w") as f:
        f.write(text)
    r = backfill(rig, "--since", "2d", config=nospool)
    tap.eq(r.rc, 3, "a spool that cannot be used: exit status 3")
    full = os.path.join(rig.root, "full-spool")
    ws = webrig.Workspace.__new__(webrig.Workspace)
    ws.mounts = []
    if not ws.mount_tmpfs(full, "12k"):
        tap.skip("a spool that fills up during the run: exit status 3", "cannot mount tmpfs")
        return
    try:
        spoolrig.Rig.make_spool(full)
        with open(nospool, "w") as f:
            f.write(text.replace(os.path.join(rig.root, "gone"), full))
        r = backfill(rig, "--from", day(70), config=nospool)
        tap.eq(r.rc, 3, "a spool that fills up during the run: exit status 3") or \
            tap.diag(r.diag())
        tap.ok("cannot spool" in r.err, "  ... saying which job it could not spool", r.diag())
        tap.eq(sorted(os.listdir(os.path.join(full, "new"))), r.names("spooled"),
               "  ... new/ holds exactly the jobs it said it spooled")
    finally:
        for m in ws.mounts:
            subprocess.run(["umount", m], capture_output=True)


def case_check_config(tap, rig):
    def check():
        p = subprocess.run([CTL, "-c", rig.config_path, "check-config", "--online"],
                           env=rig.env(), capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")

    since = rig.fz.log()["requests"][-1]["seq"]
    rc, out = check()
    tap.ok(rc == 0 and "ok   Zoom API: the app can list the account's users" in out and
           "ok   Zoom API: the app can list a user's cloud recordings" in out,
           "check-config --online: the app can list users and recordings", out)
    asked = [e.get("kind") for e in rig.fz.requests(since=since)
             if e.get("kind") in ("users", "user_recordings")]
    tap.eq(asked, ["users", "user_recordings"], "  ... asked once each")
    rig.fz.fault("_users", "status", count=None, status=400, body=json.dumps(
        {"code": 4711, "message": "Invalid access token, does not contain scopes:"
         "[user:read:list_users:admin]."}))
    rc, out = check()
    rig.fz.clear_faults("_users")
    tap.ok("WARN Zoom API: cannot list users" in out and "code 4711" in out and
           "needs the scope user:read:list_users:admin (classic: user:read:admin)" in out,
           "an app without the scope to list users: a warning naming the scope", out)
    rig.fz.fault("_list", "status", count=None, status=403)
    rc, out = check()
    rig.fz.clear_faults("_list")
    tap.ok("WARN Zoom API: cannot list a user's recordings" in out and
           "cloud_recording:read:list_user_recordings:admin (classic: recording:read:admin)"
           in out, "an app that cannot list recordings: a warning naming the scope", out)


def case_upload(tap, rig):
    r = rig.run("--once")
    tap.eq(r.rc, 0, "the spooler takes every backfilled job: exit status 0") or \
        tap.diag(r.tail())
    tap.eq(rig.states()["new"], [], "new/ is empty")
    for fid in ("C-spk", "D-vtt", "H-gal", "E-gal"):
        job = rig.job("done", fid) or {}
        info = rig.fz.file_info(fid)
        spoolrig.check_done(tap, rig, info, job.get("s3_key"), "backfilled %s" % fid)


def body(tap, rig):
    rig.write_config(**dict(rig.oauth_config(), **SELECTION))
    populate(rig.fz)
    case_webhooks_first(tap, rig)
    dry = case_dry_run(tap, rig)
    case_backfill(tap, rig, dry)
    case_same_as_webhook(tap, rig)
    case_rerun(tap, rig)
    case_users(tap, rig)
    case_jwt(tap, rig)
    case_host_email(tap, rig)
    case_failures(tap, rig)
    case_check_config(tap, rig)
    case_upload(tap, rig)


if __name__ == "__main__":
    if not os.access(CTL, os.X_OK) or not os.access(cgirun.RESPONDER, os.X_OK):
        print("1..1\nnot ok 1 - zoom2s3ctl or the responder not built")
        sys.exit(1)
    if shutil.which("true") is None:
        spoolrig.skip_all("no coreutils")
    spoolrig.main("backfill", body)
