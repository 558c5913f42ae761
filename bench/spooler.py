#!/usr/bin/env python3
"""bench/spooler.py: zoom2s3-spooler against what users would pick instead.

A file of --size bytes (random) is served by lighttpd on loopback as a
static file (standing in for Zoom's CDN) and uploaded to a local Ceph RGW
(tests/rig/rgw.sh) by each of:

    floor      curl -o /dev/null URL                    (download only)
    zoom2s3    zoom2s3-spooler --once, one job whose download_url is URL
    rclone     rclone copyurl URL rgw:bucket/key        (its defaults)
    aws        curl URL | aws s3 cp - s3://bucket/key   (its defaults)
    curl-mpu   curl URL | bench/mpu_stream.sh           (curl --aws-sigv4 parts)

Each runs under /usr/bin/time -v: wall time, user+sys CPU (children
included: both ends of a pipe), max RSS (the largest process). RGW's own
CPU (mon + osd + rgw, from /proc/PID/stat) is read around each upload.
Each object is read back and its SHA-256 compared with the file's. The
tools take turns, --runs rounds; figures are medians. Then the spooler
alone moves --jfiles files (--jsize bytes each) with -j 1 and with -j 4.

Prints tables and a summary line ("SPOOLER_RESULT {...}"); exits 1 when a
tool fails or an object does not verify, never because of a timing.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
RGW_SH = os.path.join(SRCDIR, "tests", "rig", "rgw.sh")
PARTS_IN_FLIGHT_PER_JOB = 3
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
import childproc  # noqa: E402
import s3util  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
BUCKET = "zoom2s3-bench"
TOOLS = ("floor", "zoom2s3", "rclone", "aws", "curl-mpu")
UPLOADERS = ("rclone", "aws", "curl-mpu")  # "the other uploaders"


def size_arg(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError("a size: N, NK, NM or NG")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="build dir with src/zoom2s3-spooler")
    ap.add_argument("--size", type=size_arg, default=GIB, help="the file's size (1G)")
    ap.add_argument("--part-size", type=size_arg, default=16 * MIB,
                    help="zoom2s3's part_size and mpu_stream.sh's part (16M)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--jfiles", type=int, default=4, help="files for the -j 1 / -j 4 runs")
    ap.add_argument("--jsize", type=size_arg, default=0,
                    help="size of each of those (default: --size / --jfiles)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--rgw-dir", default=None, help="the RGW's directory (its own)")
    ap.add_argument("--rgw-port", type=int, default=7600)
    ap.add_argument("--keep-rgw", action="store_true", help="leave the RGW running")
    ap.add_argument("--json", default=None)
    ap.add_argument("--perf", default=None, metavar="DIR",
                    help="run each zoom2s3 transfer under perf record -g, one file per run "
                    "in DIR (its CPU figures then include perf's)")
    ap.add_argument("--alt-spooler", default=None,
                    help="another zoom2s3-spooler binary (an A/B of a change): runs as tool "
                    "zoom2s3-alt, in turn with the others")
    return ap.parse_args()


def log(msg):
    print(msg, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def file_sha256(path):
    return sh(["sha256sum", path]).stdout.split()[0]


def make_file(path, size):
    """Random bytes (no tool can win by compressing), made once."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path + ".tmp", "wb") as out:
        subprocess.run(["head", "-c", str(size), "/dev/urandom"], stdout=out, check=True)
    os.rename(path + ".tmp", path)


# --------------------------------------------------------------- servers ----

class Lighttpd:
    """lighttpd serving docroot as static files (sendfile). It stays root,
    the user it was started as: www-data could not reach a docroot inside
    a clone under a 0700 directory, and serving files on loopback is all it
    does."""

    def __init__(self, workdir, docroot):
        self.dir = os.path.join(workdir, "lighttpd")
        os.makedirs(self.dir, exist_ok=True)
        with socket_bound() as port:
            self.port = port
        self.conf = os.path.join(self.dir, "lighttpd.conf")
        with open(self.conf, "w") as f:
            f.write('server.document-root = "%s"\n' % docroot)
            f.write('server.bind = "127.0.0.1"\nserver.port = %d\n' % self.port)
            f.write('server.errorlog = "%s/error.log"\n' % self.dir)
            f.write('server.modules = ( "mod_access" )\n')
            f.write('mimetype.assign = ( ".mp4" => "video/mp4", "" => '
                    '"application/octet-stream" )\n')
        self.proc = None

    def start(self):
        sh(["lighttpd", "-tt", "-f", self.conf])
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("lighttpd exited at start")
            if subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "2",
                               "http://127.0.0.1:%d/" % self.port]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("lighttpd did not answer")

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def stop(self):
        if self.proc:
            childproc.stop(self.proc, 10)


class socket_bound:
    """A free loopback port (closed again on exit)."""

    def __enter__(self):
        import socket
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        return self.s.getsockname()[1]

    def __exit__(self, *exc):
        self.s.close()


class Rgw:
    def __init__(self, rgw_dir, port, memstore):
        self.dir = rgw_dir
        self.env = dict(os.environ, RGW_PORT=str(port), RGW_LINGER="-1",
                        RGW_MEMSTORE_BYTES=str(memstore), RGW_HOLDER_PID=str(os.getpid()))
        self.started = False

    def start(self):
        subprocess.run(["bash", RGW_SH, "start", self.dir], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        self.started = True
        out = sh(["bash", RGW_SH, "env", self.dir], env=self.env).stdout
        self.s3env = dict(line.split("=", 1) for line in out.split())
        sh(["bash", RGW_SH, "mkbucket", self.dir, BUCKET], env=self.env)
        self.s3 = s3util.S3(self.s3env["S3_ENDPOINT"], self.s3env["AWS_ACCESS_KEY_ID"],
                            self.s3env["AWS_SECRET_ACCESS_KEY"], self.s3env["S3_REGION"])

    def pids(self):
        out = []
        for name in ("mon", "osd", "rgw"):
            try:
                with open(os.path.join(self.dir, name + ".pid")) as f:
                    out.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        return out

    def cpu_seconds(self):
        """user + system time of mon, osd and rgw so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def forget(self, keys):
        """Deletes the objects and purges them (memstore keeps deleted
        objects until RGW's garbage collection runs)."""
        for key in keys:
            try:
                self.s3.delete_object(BUCKET, key)
            except s3util.S3Error:
                pass
        subprocess.run(["bash", RGW_SH, "gc", self.dir], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.started:
            subprocess.run(["bash", RGW_SH, "stop", self.dir], env=self.env, check=False,
                           stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------- tools -----

class Bench:
    def __init__(self, args, workdir, rgw, web):
        self.args = args
        self.workdir = workdir
        self.rgw = rgw
        self.web = web
        self.spooler = os.path.join(os.path.abspath(args.build), "src", "zoom2s3-spooler")
        self.seq = 0

    def base_env(self):
        e = dict(os.environ)
        e.update(self.rgw.s3env)
        e["AWS_DEFAULT_REGION"] = e["AWS_REGION"] = self.rgw.s3env["S3_REGION"]
        e["AWS_EC2_METADATA_DISABLED"] = "true"
        e["AWS_CONFIG_FILE"] = e["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        e["AWS_PAGER"] = ""
        # rclone fails on the AWS_CA_BUNDLE some environments set
        # (LoadCustomCABundleError): every tool runs without it.
        e.pop("AWS_CA_BUNDLE", None)
        e["ZOOM2S3_LOG"] = "stderr"  # the spooler's lines go with the run's stderr
        return e

    def command(self, tool, url, key):
        """argv and env of one upload (or, for the floor, download)."""
        ep = self.rgw.s3env["S3_ENDPOINT"]
        env = self.base_env()
        if tool == "floor":
            return ["curl", "-sS", "--fail", "-o", "/dev/null", url], env
        if tool == "rclone":
            rc = os.path.join(self.workdir, "rclone.conf")
            open(rc, "a").close()
            env.update(RCLONE_CONFIG=rc, RCLONE_CONFIG_RGW_TYPE="s3",
                       RCLONE_CONFIG_RGW_PROVIDER="Ceph", RCLONE_CONFIG_RGW_ENDPOINT=ep,
                       RCLONE_CONFIG_RGW_ACCESS_KEY_ID=env["AWS_ACCESS_KEY_ID"],
                       RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY=env["AWS_SECRET_ACCESS_KEY"],
                       RCLONE_CONFIG_RGW_REGION=env["S3_REGION"])
            return ["rclone", "copyurl", url, "rgw:%s/%s" % (BUCKET, key)], env
        if tool == "aws":
            return ["bash", "-c", 'set -o pipefail; curl -sS --fail "$1" | '
                    '/usr/bin/aws --endpoint-url "$2" s3 cp --only-show-errors - "$3"',
                    "bash", url, ep, "s3://%s/%s" % (BUCKET, key)], env
        if tool == "curl-mpu":
            return ["bash", "-c",
                    'set -o pipefail; curl -sS --fail "$1" | sh "$2" "$3" "$4" "$5" "$6"', "bash",
                    url, os.path.join(HERE, "mpu_stream.sh"), ep, BUCKET, key,
                    str(self.args.part_size)], env
        raise ValueError(tool)

    def spool_for(self, files, tag):
        """A fresh spool with one job per (url, key, size) and a config."""
        d = tempfile.mkdtemp(prefix="spool-%s-" % tag, dir=self.workdir)
        spool = os.path.join(d, "spool")
        for st in ("", "tmp", "new", "cur", "done", "failed"):
            os.makedirs(os.path.join(spool, st), exist_ok=True)
        open(os.path.join(spool, ".lock"), "w").close()
        for i, (url, key, size) in enumerate(files):
            fid = "benchfile%d%s" % (i, tag.replace("-", ""))
            job = {
                "recording_file_id": fid, "meeting_uuid": "bench%d==" % i,
                "file_type": "MP4", "file_extension": "MP4", "file_size": size,
                "recording_type": "shared_screen_with_speaker_view",
                "download_url": url, "download_token": "bench-token", "s3_key": key,
                "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "attempts": 0,
            }
            with open(os.path.join(spool, "new", fid + ".json"), "w") as f:
                json.dump(job, f, indent=2)
        conf = os.path.join(d, "spooler.conf")
        with open(conf, "w") as f:
            f.write("spool_dir = %s\ns3_bucket = %s\ns3_endpoint = %s\ns3_region = %s\n"
                    "download_hosts = 127.0.0.1\nallow_http = true\npart_size = %d\n"
                    % (spool, BUCKET, self.rgw.s3env["S3_ENDPOINT"],
                       self.rgw.s3env["S3_REGION"], self.args.part_size))
        return d, spool, conf

    def timed(self, argv, env, tag):
        tfile = os.path.join(self.workdir, "time-%s.txt" % tag)
        errfile = os.path.join(self.workdir, "stderr-%s.txt" % tag)
        cpu0 = self.rgw.cpu_seconds()
        t0 = time.monotonic()
        with open(errfile, "w") as err:
            p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile] + argv, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, timeout=3600)
        wall = time.monotonic() - t0
        rgw_cpu = self.rgw.cpu_seconds() - cpu0
        with open(tfile) as f:
            tv = f.read()
        m = {}
        for name, pat in (("user", r"User time \(seconds\): ([\d.]+)"),
                          ("sys", r"System time \(seconds\): ([\d.]+)"),
                          ("rss_kb", r"Maximum resident set size \(kbytes\): (\d+)")):
            mm = re.search(pat, tv)
            m[name] = float(mm.group(1)) if mm else float("nan")
        with open(errfile, errors="replace") as f:
            err = f.read()
        err_tail = err[-1500:]
        # The spooler's own account of each transfer (0.1 s steps).
        transfer = sum(float(x) for x in
                       re.findall(r"event=transfer\.end .* seconds=([\d.]+)", err))
        return {"rc": p.returncode, "transfer_s": transfer, "wall": wall,
                "cpu": m["user"] + m["sys"],
                "user": m["user"], "sys": m["sys"], "rss_mib": m["rss_kb"] / 1024,
                "rgw_cpu": rgw_cpu, "stderr": err_tail}

    def verify(self, key, want_sha, size):
        try:
            got, got_size = self.rgw.s3.object_sha256(BUCKET, key)
        except s3util.S3Error as e:
            return False, "cannot read it back: %s" % e
        if (got, got_size) != (want_sha, size):
            return False, "object is %s (%d bytes), not %s (%d)" % (got, got_size, want_sha,
                                                                   size)
        return True, ""

    def one(self, tool, name, sha, size, rnd):
        self.seq += 1
        key = "%s/r%d-%d.mp4" % (tool, rnd, self.seq)
        url = self.web.url(name)
        tag = "%s-%d-%d" % (tool, rnd, self.seq)
        tmpdir = None
        if tool in ("zoom2s3", "zoom2s3-alt"):
            tmpdir, spool, conf = self.spool_for([(url, key, size)], tag)
            argv = [self.spooler if tool == "zoom2s3" else self.args.alt_spooler, "-c", conf,
                    "--once"]
            if self.args.perf:
                os.makedirs(self.args.perf, exist_ok=True)
                argv = ["perf", "record", "-q", "-g", "-o",
                        os.path.join(self.args.perf, "%s.perf" % tag), "--"] + argv
            env = self.base_env()
        else:
            argv, env = self.command(tool, url, key)
        res = self.timed(argv, env, tag)
        res.update(tool=tool, round=rnd, key=key)
        ok, why = res["rc"] == 0, "exit status %d" % res["rc"]
        if ok and tmpdir and os.listdir(os.path.join(spool, "done")) == []:
            ok, why = False, "the job is not in done/"
        if ok and tool != "floor":
            ok, why = self.verify(key, sha, size)
        res["verified"] = "n/a (download only)" if tool == "floor" and ok else (
            "yes" if ok else "NO")
        res["ok"] = ok
        if not ok:
            res["why"] = why
            log("    %s FAILED: %s\n%s" % (tool, why, res["stderr"]))
        if tool != "floor":
            self.rgw.forget([key])
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return res

    def jobs_run(self, files, j, rnd):
        """The spooler alone, several files, -j j."""
        self.seq += 1
        tag = "j%d-%d-%d" % (j, rnd, self.seq)
        entries = [(self.web.url(name), "j%d/r%d-%d/%s.mp4" % (j, rnd, self.seq, name), size)
                   for name, _, size in files]
        tmpdir, spool, conf = self.spool_for(entries, tag)
        res = self.timed([self.spooler, "-c", conf, "--once", "-j", str(j)],
                         self.base_env(), tag)
        res.update(tool="zoom2s3 -j %d" % j, round=rnd)
        ok, why = res["rc"] == 0, "exit status %d" % res["rc"]
        done = os.listdir(os.path.join(spool, "done"))
        if ok and len(done) != len(files):
            ok, why = False, "%d of %d jobs in done/" % (len(done), len(files))
        for (name, sha, size), (_, key, _) in zip(files, entries):
            if ok:
                ok, why = self.verify(key, sha, size)
        res["verified"] = "yes" if ok else "NO"
        res["ok"] = ok
        if not ok:
            res["why"] = why
            log("    -j %d FAILED: %s\n%s" % (j, why, res["stderr"]))
        self.rgw.forget([key for _, key, _ in entries])
        shutil.rmtree(tmpdir, ignore_errors=True)
        return res


# --------------------------------------------------------------- report -----

def med(rows, field):
    vals = [r[field] for r in rows]
    return statistics.median(vals) if vals else float("nan")


def summarize(rows, gib):
    out = {}
    for tool in dict.fromkeys(r["tool"] for r in rows):
        rs = [r for r in rows if r["tool"] == tool]
        out[tool] = {
            "walls": [round(r["wall"], 2) for r in rs],
            "wall": med(rs, "wall"), "cpu": med(rs, "cpu"), "cpu_per_gib": med(rs, "cpu") / gib,
            "user": med(rs, "user"), "sys": med(rs, "sys"),
            "rss_mib": med(rs, "rss_mib"), "rss_max_mib": max(r["rss_mib"] for r in rs),
            "rgw_cpu": med(rs, "rgw_cpu"), "transfer_s": med(rs, "transfer_s"),
            "verified": "yes" if all(r["ok"] for r in rs)
            else "NO",
        }
        if tool == "floor":
            out[tool]["verified"] = "n/a" if all(r["ok"] for r in rs) else "NO"
    return out


def print_table(title, summ, gib):
    log("")
    log("| %s | wall s (runs) | wall s median | MiB/s | CPU s (user+sys) | CPU s/GiB | "
        "max RSS MiB | RGW CPU s | verified |" % title)
    log("|---|---|---|---|---|---|---|---|---|")
    for tool, s in summ.items():
        log("| %s | %s | %.2f | %.0f | %.2f (%.2f+%.2f) | %.2f | %.1f | %.2f | %s |" % (
            tool, " / ".join("%.2f" % w for w in s["walls"]), s["wall"],
            gib * 1024 / s["wall"] if s["wall"] else 0, s["cpu"], s["user"], s["sys"],
            s["cpu_per_gib"], s["rss_max_mib"], s["rgw_cpu"], s["verified"]))


def targets(summ, part_size, jsumm):
    t = {}
    z = summ.get("zoom2s3")
    if not z:
        return t
    if "rclone" in summ:
        t["cpu_vs_rclone"] = (z["cpu_per_gib"] / summ["rclone"]["cpu_per_gib"], 0.4)
    if "aws" in summ:
        t["cpu_vs_aws"] = (z["cpu_per_gib"] / summ["aws"]["cpu_per_gib"], 0.5)
    # Each job has two parts in flight: one being downloaded into, one going
    # up (src/transfer.c's uploader thread).
    per_job = PARTS_IN_FLIGHT_PER_JOB * part_size / MIB
    t["rss_mib"] = (z["rss_max_mib"], per_job + 16)
    for j in (1, 4):
        s = jsumm.get("zoom2s3 -j %d" % j)
        if s:
            t["rss_mib_j%d" % j] = (s["rss_max_mib"], j * per_job + 16)
    others = [summ[u]["wall"] for u in UPLOADERS if u in summ]
    if others:
        t["wall_vs_fastest"] = (z["wall"] / min(others), 1.05)
        # Not a target: the transfer alone, without the process's start and
        # the --once loop's wait for its workers.
        t["info_transfer_vs_fastest"] = (z["transfer_s"] / min(others), 1.05)
    return {k: {"value": v, "limit": lim, "met": v <= lim} for k, (v, lim) in t.items()}


def main():
    args = parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if args.alt_spooler:
        tools.insert(tools.index("zoom2s3") + 1 if "zoom2s3" in tools else 0, "zoom2s3-alt")
    for t in tools:
        if t not in TOOLS + ("zoom2s3-alt",):
            log("spooler bench: unknown tool %s" % t)
            return 2
    need = {"floor": ["curl"], "zoom2s3": [], "zoom2s3-alt": [], "rclone": ["rclone"],
            "aws": ["curl", "/usr/bin/aws"], "curl-mpu": ["curl", "dd"]}
    for t in tools:
        for prog in need[t] + ["lighttpd", "/usr/bin/time"]:
            if not shutil.which(prog):
                log("spooler bench: %s is not installed (bench/deps.sh)" % prog)
                return 1
    workdir = os.path.abspath(args.workdir or os.path.join(args.build, "bench", "spooler"))
    www = os.path.join(workdir, "www")
    os.makedirs(www, exist_ok=True)
    os.chmod(workdir, 0o755)
    os.chmod(www, 0o755)
    jsize = args.jsize or max(1, args.size // max(1, args.jfiles))
    log("spooler bench: file %d bytes, part_size %d, %d runs; -j runs: %d files of %d bytes"
        % (args.size, args.part_size, args.runs, args.jfiles, jsize))
    make_file(os.path.join(www, "big.mp4"), args.size)
    big_sha = file_sha256(os.path.join(www, "big.mp4"))
    jfiles = []
    for i in range(args.jfiles if args.jfiles > 0 else 0):
        name = "j%d.mp4" % i
        make_file(os.path.join(www, name), jsize)
        jfiles.append((name, file_sha256(os.path.join(www, name)), jsize))
    for name in os.listdir(www):
        os.chmod(os.path.join(www, name), 0o644)
    fs = sh(["df", "-T", www]).stdout.splitlines()[-1].split()
    log("file system of the files: %s on %s" % (fs[1], fs[0]))

    memstore = max(4 * GIB, 3 * max(args.size, jsize * args.jfiles) + GIB)
    rgw = Rgw(os.path.abspath(args.rgw_dir or os.path.join(workdir, "rgw")), args.rgw_port,
              memstore)
    web = Lighttpd(workdir, www)
    rows, jrows = [], []
    try:
        rgw.start()
        web.start()
        bench = Bench(args, workdir, rgw, web)
        # Warm the page cache and the servers; not measured.
        for name in os.listdir(www):
            subprocess.run(["curl", "-s", "-o", "/dev/null", web.url(name)], check=True)
        bench.one("curl-mpu" if "curl-mpu" in tools else tools[0], "big.mp4", big_sha,
                  args.size, 0)
        for rnd in range(1, args.runs + 1):
            order = tools[rnd - 1:] + tools[:rnd - 1]  # each tool leads once
            for tool in order:
                r = bench.one(tool, "big.mp4", big_sha, args.size, rnd)
                rows.append(r)
                log("  round %d %-9s wall %6.2f s  cpu %6.2f s  rss %7.1f MiB  rgw cpu %6.2f s"
                    "  verified=%s%s" % (rnd, tool, r["wall"], r["cpu"], r["rss_mib"],
                                         r["rgw_cpu"], r["verified"],
                                         "  (transfer %.1f s)" % r["transfer_s"]
                                         if tool.startswith("zoom2s3") else ""))
        if "zoom2s3" in tools and jfiles:
            for rnd in range(1, args.runs + 1):
                for j in (1, 4):
                    r = bench.jobs_run(jfiles, j, rnd)
                    jrows.append(r)
                    log("  round %d -j %d      wall %6.2f s  cpu %6.2f s  rss %7.1f MiB  "
                        "rgw cpu %6.2f s  verified=%s" % (rnd, j, r["wall"], r["cpu"],
                                                         r["rss_mib"], r["rgw_cpu"],
                                                         r["verified"]))
    finally:
        web.stop()
        if not args.keep_rgw:
            rgw.stop()
    gib = args.size / GIB
    summ = summarize(rows, gib)
    jsumm = summarize(jrows, jsize * args.jfiles / GIB)
    print_table("%s file, median of %d" % (human(args.size), args.runs), summ, gib)
    if jsumm:
        print_table("%d files of %s" % (args.jfiles, human(jsize)), jsumm,
                    jsize * args.jfiles / GIB)
    tg = targets(summ, args.part_size, jsumm)
    log("")
    for name, t in tg.items():
        if name.startswith("info_"):
            log("(info)  %-24s %8.2f" % (name[5:], t["value"]))
            continue
        log("target %-24s %8.2f <= %8.2f  %s" % (name, t["value"], t["limit"],
                                                 "met" if t["met"] else "NOT met"))
    failed = [r for r in rows + jrows if not r["ok"]]
    result = {"size": args.size, "part_size": args.part_size, "runs": args.runs,
              "file_system": fs[1], "tools": summ, "jobs": jsumm, "targets": tg,
              "failures": len(failed)}
    log("SPOOLER_RESULT " + json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(result, rows=rows + jrows), f, indent=1)
    if failed:
        log("spooler bench: %d runs FAILED (a tool broke or bytes did not verify)"
            % len(failed))
        return 1
    return 0


def human(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d %s" % (n >> shift, unit)
    return "%d B" % n


if __name__ == "__main__":
    sys.exit(main())
