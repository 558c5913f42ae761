#!/usr/bin/env python3
"""Past one host: throughput of one spooler host against two on one spool
over CephFS, and the time from a host's death to its job moving on
(issue 16; docs/BENCHMARKS.md, "Scale-out").

    python3 bench/scaleout.py --build DIR [--files N] [--size SIZE] [--runs N]
                              [--json FILE] [--smoke]

tests/rig/cephfs.sh starts a Ceph with an MDS, CephFS and two ceph-fuse
clients, h1 and h2 (tests/rig/scaleout.py); the stand-in Zoom
(tests/rig/fakezoom.py, its own process) serves N files of SIZE.
- Throughput, per round: a fresh set of N jobs is spooled through h1's
  responder; then "1 host": `zoom2s3-spooler --once -j 2` on h1 alone, or
  "2 hosts": one on h1 and one on h2 started together. Wall time from the
  start to the last exit; every object's SHA-256 is checked after.
- Host death: a spooler --watch on each host; h1's takes a job whose
  download the CDN holds; then h1 dies (its spooler frozen, its ceph-fuse
  killed with -9) and is evicted at once (`ceph tell mds.a client evict`),
  or not at all (the MDS closes the dead session by itself: without
  --smoke). The time from the death to h2's spooler holding the job.
Benchmarks are not tests: no figure fails the run; a wrong object does."""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))

MIB = 1 << 20
SECRET = "bench-scaleout-secret-0123456789"


def parse_size(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * mult[text[-1]] if text[-1] in mult else int(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", required=True)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--size", default="64M")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args()
    os.environ["top_builddir"] = os.path.abspath(a.build)
    os.environ["top_srcdir"] = SRCDIR
    import fakezoom
    import s3util
    import scaleout
    if a.smoke:
        a.files, a.size, a.runs = 4, "6M", 1
    size = parse_size(a.size)
    why = scaleout.cephfs_unusable()
    if why:
        print("bench/scaleout.py: cannot run here: %s" % why)
        return 0 if a.smoke else 1
    root = tempfile.mkdtemp(prefix="z2bso-")
    cl = scaleout.Cluster(linger=20)
    fzp = None
    hosts = {}
    failures = []
    result = {"files": a.files, "size": size, "rounds": {}, "death": {}}
    try:
        cl.start()
        result["cluster_start_seconds"] = round(cl.start_seconds, 1)
        env = cl.env
        s3 = s3util.S3(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"],
                       env["AWS_SECRET_ACCESS_KEY"], env["S3_REGION"])
        bucket = "bso-%s" % os.urandom(3).hex()
        s3.create_bucket(bucket)
        fzp, fz = fakezoom.start_subprocess(os.path.join(root, "fz"))
        scaleout.make_spool(os.path.join(cl.mount("h1"), "spool"))
        rconf = ("webhook_secret_token = %s\ntopic_regex = \\[([A-Za-z0-9_]+)\\]\n"
                 "key_template = bench/{file_id}.{ext}\n" % SECRET)
        sconf = ("s3_bucket = %s\ns3_region = %s\ns3_endpoint = %s\n"
                 "aws_access_key_id = %s\naws_secret_access_key = %s\n"
                 "download_hosts = 127.0.0.1, 127.0.0.2\nallow_http = true\n"
                 "part_size = 8M\nwatch_rescan_interval = 2\n" % (
                     bucket, env["S3_REGION"], env["S3_ENDPOINT"],
                     env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]))
        hosts = {h: scaleout.Host(h, cl, "spool", root, rconf, sconf) for h in scaleout.HOSTS}
        serial = [0]

        def spool_files(n, file_size, tag):
            serial[0] += 1
            uuid = "bench-%s-%d==" % (tag, serial[0])
            fz.add_meeting(uuid, topic="Bench [B1] %s" % tag)
            ids = []
            for i in range(n):
                fid = "%s-%d-%02d" % (tag, serial[0], i)
                fz.add_file(fid, size=file_size, meeting_uuid=uuid,
                            recording_start="2026-12-01T10:00:00Z",
                            recording_end="2026-12-01T11:00:00Z")
                ids.append(fid)
            body = fakezoom.webhook_bytes(fz.webhook_event(uuid))
            ts = str(int(time.time()))
            status = hosts["h1"].post(body, fakezoom.sign_webhook(SECRET, ts, body))
            if status != 200:
                raise RuntimeError("the responder answered %d" % status)
            return ids

        def check_and_clear(ids):
            for fid in ids:
                key = "bench/%s.mp4" % fid
                digest, got = s3.object_sha256(bucket, key)
                if (digest, got) != (fz.file_info(fid)["sha256"], size):
                    failures.append("%s: wrong object" % key)
                s3.delete_object(bucket, key)

        for label, which in (("1 host", ["h1"]), ("2 hosts", ["h1", "h2"])):
            walls = []
            for r in range(a.runs):
                ids = spool_files(a.files, size, "t%d" % len(which))
                t0 = time.monotonic()
                procs = [hosts[h].start_spooler("--once", "-j", "2") for h in which]
                for q in procs:
                    q.wait()
                walls.append(time.monotonic() - t0)
                if any(q.returncode != 0 for q in procs):
                    failures.append("%s: a spooler exited %r" % (
                        label, [q.returncode for q in procs]))
                check_and_clear(ids)
                # memstore keeps deleted objects until RGW's GC runs
                subprocess.run(["bash", os.path.join(SRCDIR, "tests", "rig", "rgw.sh"), "gc",
                                cl.dir], capture_output=True, timeout=300)
            wall = statistics.median(walls)
            result["rounds"][label] = {"walls": [round(w, 2) for w in walls],
                                       "wall": round(wall, 2),
                                       "MiB_per_s": round(a.files * size / MIB / wall, 1)}
            print("%-8s %d x %d MiB: wall %s s, median %.2f s, %.0f MiB/s" % (
                label, a.files, size // MIB, " / ".join("%.2f" % w for w in walls), wall,
                a.files * size / MIB / wall), flush=True)

        modes = ["evicted at once"] if a.smoke else ["evicted at once", "left to the MDS"]
        for mode in modes:
            dsize = 40 * MIB
            serial[0] += 1
            uuid = "bench-death-%d==" % serial[0]
            fz.add_meeting(uuid, topic="Bench [B1] death")
            fid = "death-%d" % serial[0]
            fz.add_file(fid, size=dsize, meeting_uuid=uuid,
                        recording_start="2026-12-01T10:00:00Z",
                        recording_end="2026-12-01T11:00:00Z")
            fz.fault(fid, "stall", count=1, after=30 * MIB)
            a1 = hosts["h1"].start_spooler("--watch", "-j", "1")
            body = fakezoom.webhook_bytes(fz.webhook_event(uuid))
            hosts["h1"].post(body, fakezoom.sign_webhook(SECRET, str(int(time.time())), body))
            name = fid + ".json"
            if not scaleout.wait_for(lambda: [e for e in fz.requests(server="cdn", file_id=fid)
                                              if e.get("stalled")], 120):
                failures.append("death: the download was never held")
                break
            b = hosts["h2"].start_spooler("--watch", "-j", "2")
            a1.send_signal(signal.SIGSTOP)
            t0 = time.monotonic()
            cl.crash("h1")
            a1.kill()
            a1.wait()
            if mode == "evicted at once":
                cl.evict("h1")

            def h2_holds():
                j = hosts["h2"].read_job("cur", name) or hosts["h2"].read_job("done", name)
                return j and j.get("claimed_by") == "h2:%d" % b.pid
            held = scaleout.wait_for(h2_holds, 600, 0.05)
            secs = time.monotonic() - t0
            if not held:
                failures.append("death (%s): the job never moved on" % mode)
            scaleout.wait_for(lambda: hosts["h2"].read_job("done", name), 300)
            result["death"][mode] = round(secs, 1)
            print("host death, %s: its job held by the other host after %.1f s" % (mode, secs),
                  flush=True)
            hosts["h2"].stop_spoolers()
            cl.remount("h1")
    finally:
        for h in hosts.values():
            for q in h.live():
                q.kill()
                q.wait()
        if fzp:
            fzp.terminate()
            fzp.wait()
        cl.stop()
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    for msg in failures:
        print("bench/scaleout.py: %s" % msg)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
