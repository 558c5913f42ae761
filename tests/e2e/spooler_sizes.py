#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler moves files of every size class from the
stand-in Zoom (tests/rig/fakezoom.py) into a real Ceph RGW (tests/rig/rgw.sh):
0 bytes, 1 byte, exactly part_size (5M: one PUT), part_size + 1 (two parts),
3.5 parts, and a job without file_size (multipart). Each object is
byte-exact with its metadata; each job is in done/ with completed_at,
bytes, s3_bucket and s3_etag; the exit status is 0; no multipart upload is
left; the Bearer token reached only Zoom's host, never the CDN's; each file
was downloaded once. Then the key rules: a key that holds another Zoom
file's object is never replaced (the job uses key-{file_id}), also when two
jobs with the same key run at the same time; a key that
already holds this very file (an upload finished just before a crash) ends
the job without a second download or upload, from new/ and from cur/."""

import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import fakezoom  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import PART, check_done, key_of  # noqa: E402

SIZES = [("z0", 0), ("z1", 1), ("zpart", PART), ("zpart1", PART + 1),
         ("z3half", PART * 7 // 2)]


def case_sizes(tap, rig):
    infos = {}
    for fid, size in SIZES:
        infos[fid] = rig.add_file(fid, size)
        rig.enqueue(rig.job_for(infos[fid]))
    unknown = rig.add_file("znosize", PART + 12345)
    infos["znosize"] = unknown
    rig.enqueue(rig.job_for(unknown, file_size=None))
    since = rig.fz.log()["requests"][-1]["seq"] if rig.fz.log()["requests"] else 0

    r = rig.run("--once", "-j", "3")
    tap.eq(r.rc, 0, "sizes: exit status 0") or tap.diag(r.tail())
    st = rig.states()
    tap.eq((st["new"], st["cur"], st["failed"]), ([], [], []),
           "sizes: nothing left in new/, cur/ or failed/")
    for fid, info in infos.items():
        job = check_done(tap, rig, info, key_of(rig, fid), fid)
        tap.eq(job.get("attempts"), 0, "%s: attempts still 0" % fid)
    # One PUT up to part_size, multipart above it (the ETag says how many
    # parts), multipart when the size is unknown.
    want_parts = {"z0": None, "z1": None, "zpart": None, "zpart1": 2, "z3half": 4,
                  "znosize": 2}
    for fid, n in want_parts.items():
        etag = (rig.head(key_of(rig, fid)) or {}).get("etag", "").strip('"')
        got = int(etag.split("-")[1]) if "-" in etag else None
        tap.eq(got, n, "%s: %s" % (fid, "one PUT" if n is None else "%d parts" % n))
    head = rig.head(key_of(rig, "z1")) or {}
    tap.eq(head.get("content-type"), "video/mp4", "Content-Type from the extension")
    tap.eq(head.get("x-amz-meta-zoom-meeting-uuid"), spoolrig.UUID,
           "x-amz-meta-zoom-meeting-uuid")
    tap.eq(rig.uploads(), [], "no multipart upload left in the bucket")
    tap.eq(len(rig.objects()), len(infos), "exactly one object per job")

    reqs = rig.requests(since=since)
    zoom = [e for e in reqs if e["server"] == "zoom" and e.get("kind") == "webhook"]
    cdn = [e for e in reqs if e["server"] == "cdn"]
    tap.ok(zoom and all((e.get("authorization") or "").startswith("Bearer ") for e in zoom),
           "every download request to Zoom's host carried a Bearer token",
           *[repr(e.get("authorization")) for e in zoom])
    tap.ok(cdn and all(e.get("authorization") is None for e in cdn),
           "the Authorization header never reached the CDN host (127.0.0.2)",
           *["%s %s" % (e["path"], e.get("authorization")) for e in cdn
             if e.get("authorization") is not None])
    tap.eq([e for e in reqs if e["server"] == "evil"], [], "nothing went to a third host")
    # z0 included: an empty file is fetched too, so a dead link or an HTML
    # page cannot pass for an empty recording.
    counts = {fid: sum(1 for e in cdn if e.get("file_id") == fid) for fid in infos}
    tap.eq(counts, {fid: 1 for fid in counts}, "each file downloaded exactly once")
    tap.ok(all(e.get("range") in (None, "bytes=0-") for e in cdn),
           "no ranged request on a first try", *[repr(e.get("range")) for e in cdn])


def case_collision(tap, rig):
    """The key holds another Zoom file's object: the job goes to
    key-{file_id}; the other object stays as it was."""
    info = rig.add_file("zcoll", 2000)
    key = key_of(rig, "zcoll")
    other = b"another recording, uploaded earlier\n"
    etag0 = rig.s3.put_object(rig.bucket, key, other, metadata={
        "zoom-file-id": "someotherfile", "zoom-meeting-uuid": "x"})
    rig.enqueue(rig.job_for(info))
    r = rig.run("--once")
    tap.eq(r.rc, 0, "collision: exit status 0") or tap.diag(r.tail())
    moved = "rec/%s/zcoll-zcoll.mp4" % rig.name
    job = check_done(tap, rig, info, moved, "collision")
    tap.eq(job.get("s3_key"), moved, "collision: the done job records the key it used")
    tap.eq(rig.object_sha256(key), (spoolrig.sha256_hex(other), len(other)),
           "collision: the other file's object is untouched")
    tap.eq((rig.head(key) or {}).get("etag", "").strip('"'), etag0,
           "collision: its ETag is unchanged")
    tap.eq((rig.head(key) or {}).get("x-amz-meta-zoom-file-id"), "someotherfile",
           "collision: its metadata is unchanged")


def case_same_key_at_once(tap, rig):
    """Two files whose jobs have the same key, run at the same time (-j 2):
    one takes the key, the other moves aside to key-{file_id}; neither
    replaces the other."""
    key = "rec/%s/same.mp4" % rig.name
    infos = {}
    for fid in ("same1", "same2"):
        infos[fid] = rig.add_file(fid, 3 * spoolrig.MIB + len(fid))
        rig.fz.fault(fid, mode="slow", chunk=128 * 1024, delay=0.01)
        rig.enqueue(rig.job_for(infos[fid], key=key))
    r = rig.run("--once", "-j", "2")
    tap.eq(r.rc, 0, "same key at once: exit status 0") or tap.diag(r.tail())
    keys = {}
    for fid, info in infos.items():
        job = rig.job("done", fid) or {}
        keys[fid] = job.get("s3_key")
        if job:
            check_done(tap, rig, info, job["s3_key"], "same key at once, " + fid)
    aside = {fid: "rec/%s/same-%s.mp4" % (rig.name, fid) for fid in infos}
    tap.ok(keys in ({"same1": key, "same2": aside["same2"]},
                    {"same1": aside["same1"], "same2": key}),
           "same key at once: one job has the key, the other key-{file_id}", repr(keys))
    tap.eq(len(rig.objects("rec/%s/same" % rig.name)), 2, "same key at once: two objects")


def put_whole(rig, info, key):
    data = fakezoom.content(info["seed"], 0, info["size"])
    return rig.s3.put_object(rig.bucket, key, data, metadata={
        "zoom-file-id": info["id"], "zoom-meeting-uuid": info["meeting_uuid"]})


def case_already_there(tap, rig):
    """An earlier run uploaded the object and died before moving the job:
    done without a second download or upload (from new/, and abandoned in
    cur/)."""
    a = rig.add_file("zthere", 3000)
    b = rig.add_file("zthere2", PART + 100)
    ka, kb = key_of(rig, "zthere"), key_of(rig, "zthere2")
    ea, eb = put_whole(rig, a, ka), put_whole(rig, b, kb)
    rig.enqueue(rig.job_for(a))
    rig.abandon(rig.job_for(b))
    since = rig.fz.log()["requests"][-1]["seq"]
    r = rig.run("--once")
    tap.eq(r.rc, 0, "already there: exit status 0") or tap.diag(r.tail())
    for info, key, etag in ((a, ka, ea), (b, kb, eb)):
        fid = info["id"]
        job = check_done(tap, rig, info, key, "already there " + fid)
        tap.eq(job.get("s3_etag"), etag, "already there %s: s3_etag of the object found" % fid)
        tap.eq((rig.head(key) or {}).get("etag", "").strip('"'), etag,
               "already there %s: the object was not uploaded again" % fid)
        tap.eq(rig.requests(file_id=fid, since=since), [],
               "already there %s: not downloaded again" % fid)
    tap.eq((rig.job("done", "zthere2") or {}).get("attempts"), 1,
           "already there: the abandoned try in cur/ counted as an attempt")
    ops = [ln for ln in r.stderr.splitlines() if "op=PutObject" in ln or
           "op=UploadPart" in ln or "op=CreateMultipartUpload" in ln]
    tap.eq(ops, [], "already there: no PUT, no upload made")


if __name__ == "__main__":
    spoolrig.main("sizes",
                  case_sizes,
                  case_collision,
                  case_same_key_at_once,
                  case_already_there)
