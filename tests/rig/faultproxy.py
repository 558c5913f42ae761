#!/usr/bin/env python3
"""faultproxy: an HTTP/1.1 proxy that breaks a share of the requests it
forwards (Python 3 stdlib only). The soak test (tests/soak/soak.py) puts it
between the spooler and S3 and between the spooler and the stand-in Zoom.

Each route listens on one address and forwards to one upstream, keeping the
request as the client sent it: the Host header (SigV4 signs it, so RGW must
see the proxy's address, as the spooler signed it), the path and query
(path-style S3), every other header. Only `Expect: 100-continue` is answered
by the proxy itself (it is not signed). A route may rewrite the prefix of a
Location header (`location_map`), so that Zoom's redirect to its CDN lands on
the proxy's CDN route too.

For each request the proxy draws, from one random.Random(seed) in the order
the requests arrive:
- with probability `rate`, a breaking fault, one of (by `weights`):
    500         answer 500 (S3: an InternalError XML body; zoom: JSON)
    503         answer 503 SlowDown (S3's XML body; zoom: JSON, Retry-After)
    429         answer 429 Too Many Requests with Retry-After: 1
    reset_req   take part of the request body (or only its head), then
                reset the connection (TCP RST)
    reset_resp  forward the request, send part of the answer, then RST: the
                upstream did the work but the client never hears of it
    close_resp  the same with a clean close (FIN): a short body
    stall       forward the request, send part of the answer, then nothing
                for `stall_seconds` (default 600, longer than every timeout
                of the spooler), or until the client gives up
- else with probability `delay_rate`, a delay that breaks nothing:
    delay       wait 0.1..`delay_max` s before forwarding
    pause       forward, then pause 0.1..`delay_max` s in mid-answer
- else the request passes untouched.
Replaying a seed gives the same sequence of decisions by request number;
which request gets which decision depends on the order they arrive in.

Rules, for tests that need one fault at one request: a rule names a mode
and what it matches (route, method, a substring of the path, a substring of
the query), lets `skip` matching requests pass, then applies to the next
`count` (default 1; null: every one) and is used up. Rules come before the
random draw. `frac` (0..1, default 0.5) says where a cut or pause falls,
`seconds` how long a delay or pause lasts. A rule may also be mode "501": the answer
of a server that does not implement the request (S3: NotImplemented).
A rule may carry a `tag`; each request a tagged rule applies to is listed
in the stats (`fired`: tag, route, method, path, query), so a test that
holds a request knows which one it holds.

Whatever the mode, an answer that cannot be passed on because its client is
gone (a killed spooler) is counted as `client_gone` and its request listed
in the stats (`gone`): the upstream did the work and nobody heard of it.

As a program:
    faultproxy.py --seed 42 --rate 0.1 --control 127.0.0.1:0 \\
        --route s3=127.0.0.1:0,127.0.0.1:7700,s3 \\
        --route zoom=127.0.0.1:0,127.0.0.1:PORT,zoom \\
        --route cdn=127.0.0.2:0,127.0.0.2:CDNPORT,zoom \\
        --map-location zoom=http://127.0.0.2:CDNPORT=cdn \\
        [--state FILE] [--log FILE]
prints "READY seed=S control=P s3=P1 zoom=P2 cdn=P3" and serves until
SIGTERM. The control port speaks HTTP+JSON: GET /stats, POST /config with
any of {"rate", "delay_rate", "weights", "stall_seconds", "delay_max"}
(setting rate 0 also ends the stalls under way), POST /rules with a list
of rules (added), DELETE /rules. The stats list the last 2000 requests
("seen": route, method, path, query and a few headers, NOTED_HEADERS and
every x-amz-checksum-*), so a test can check what a client sent. FaultProxyControl(url)
wraps it; FaultProxy(...) runs in-process.
"""

import argparse
import http.server
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

BREAKING = ("500", "503", "429", "reset_req", "reset_resp", "close_resp", "stall")
DELAYS = ("delay", "pause")
DEFAULT_WEIGHTS = {"500": 1, "503": 1, "429": 1, "reset_req": 1, "reset_resp": 1,
                   "close_resp": 1, "stall": 0}
BUF = 256 * 1024
HEAD_MAX = 64 * 1024
IDLE_TIMEOUT = 120.0   # a client connection idle this long is closed

S3_BODIES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
    429: ("SlowDown", "Please reduce your request rate."),
    501: ("NotImplemented", "A header or operation you provided is not implemented."),
}
REASONS = {500: "Internal Server Error", 503: "Service Unavailable",
           429: "Too Many Requests", 501: "Not Implemented", 100: "Continue"}
# Answers a server gives for what it does not do (by rule only, never drawn).
REFUSALS = ("501",)


# Request headers kept in the stats ("seen"), with every x-amz-checksum-*.
NOTED_HEADERS = ("if-none-match", "x-amz-acl", "x-amz-content-sha256", "content-length",
                 "x-amz-storage-class", "user-agent")
SEEN_MAX = 2000

class Closed(Exception):
    """A peer closed or reset its side."""


# ------------------------------------------------------------ HTTP bits -----

class Reader:
    """Buffered reads from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(BUF)
        if not data:
            raise Closed("peer closed")
        self.buf += data

    def until(self, end, too_long):
        """Bytes up to and including end; Closed(too_long) past HEAD_MAX."""
        while True:
            i = self.buf.find(end)
            if i >= 0:
                i += len(end)
                out, self.buf = self.buf[:i], self.buf[i:]
                return out
            if len(self.buf) > HEAD_MAX:
                raise Closed(too_long)
            self.fill()

    def head(self):
        """Bytes up to and including the blank line."""
        return self.until(b"\r\n\r\n", "header too long")

    def some(self, limit):
        """Up to limit bytes (at least one)."""
        if not self.buf:
            self.fill()
        out, self.buf = self.buf[:limit], self.buf[limit:]
        return out

    def line(self):
        return self.until(b"\r\n", "chunk line too long")


def parse_head(raw):
    """(first line, [(name, value)]) of a request or response head."""
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = []
    for ln in lines[1:]:
        if not ln:
            continue
        name, _, value = ln.partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def build_head(first, headers):
    return (first + "\r\n" + "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n").encode(
        "latin-1")


def body_chunks(reader, headers, until_close=False):
    """Yields the raw bytes of a body framed by headers (Content-Length,
    chunked, or until close), as they arrive."""
    te = (header(headers, "Transfer-Encoding") or "").lower()
    if "chunked" in te:
        while True:
            line = reader.line()
            yield line
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:       # trailers, then the blank line
                    t = reader.line()
                    yield t
                    if t == b"\r\n":
                        return
            left = size + 2
            while left:
                data = reader.some(min(left, BUF))
                left -= len(data)
                yield data
        return
    cl = header(headers, "Content-Length")
    if cl is not None:
        left = int(cl)
        while left > 0:
            data = reader.some(min(left, BUF))
            left -= len(data)
            yield data
        return
    if until_close:
        while True:
            try:
                data = reader.some(BUF)
            except Closed:
                return
            yield data


def body_length(headers):
    cl = header(headers, "Content-Length")
    return int(cl) if cl is not None else None


def peer_closed(sock):
    """True when the peer closed its side (a dead process's socket): what
    it sent is all read, so a readable socket means EOF or a reset."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        return bool(r) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def reset(sock):
    """Closes with a TCP RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def error_answer(flavor, status, method):
    if flavor == "s3":
        code, msg = S3_BODIES[status]
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message><RequestId>faultproxy-%s</RequestId>'
                '<HostId>faultproxy</HostId></Error>' % (code, msg, os.urandom(6).hex())).encode()
        ctype = "application/xml"
    else:
        body = json.dumps({"code": status, "message": REASONS[status]}).encode()
        ctype = "application/json;charset=UTF-8"
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body))),
               ("Server", "faultproxy")]
    if status in (429, 503):
        headers.append(("Retry-After", "1"))
    return build_head("HTTP/1.1 %d %s" % (status, REASONS[status]), headers) + \
        (b"" if method == "HEAD" else body)


# ------------------------------------------------------------- the proxy ----

class Route:
    def __init__(self, name, listen, upstream, flavor="zoom", location_map=()):
        self.name = name
        self.listen = listen              # (host, port); port 0: any
        self.upstream = upstream          # (host, port)
        self.flavor = flavor              # "s3" or "zoom": the error bodies
        self.location_map = list(location_map)  # [(prefix, route name)]
        self.sock = None

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        return "http://%s:%d" % (self.listen[0], self.port)


class FaultProxy:
    def __init__(self, routes, seed=None, rate=0.0, delay_rate=0.0, weights=None,
                 stall_seconds=600.0, delay_max=2.0, log_path=None):
        self.routes = {r.name: r for r in routes}
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
        self.rng = random.Random(self.seed)
        self.rate = rate
        self.delay_rate = delay_rate
        self.weights = dict(DEFAULT_WEIGHTS)
        self.weights.update(weights or {})
        self.stall_seconds = stall_seconds
        self.delay_max = delay_max
        self.lock = threading.Lock()
        self.seq = 0
        self.counts = {}          # mode -> n
        self.route_counts = {}    # route -> {mode -> n}
        self.requests = 0
        self.bytes_up = self.bytes_down = 0
        self.stopping = threading.Event()
        self.release = threading.Event()   # ends the stalls under way
        self.threads = []
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.conns = set()
        self.rules = []
        self.gone = []             # requests whose client left before the answer
        self.seen = []             # the last SEEN_MAX requests, with NOTED_HEADERS
        self.fired = []            # the requests tagged rules applied to

    # -- life cycle --
    def start(self):
        for r in self.routes.values():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(r.listen)
            s.listen(128)
            r.sock = s
        for r in self.routes.values():
            t = threading.Thread(target=self.accept_loop, args=(r,), daemon=True,
                                 name="faultproxy-" + r.name)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        self.release.set()
        for r in self.routes.values():
            try:
                r.sock.close()
            except OSError:
                pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            reset(c)
        if self.log:
            self.log.close()
            self.log = None

    def configure(self, rate=None, delay_rate=None, weights=None, stall_seconds=None,
                  delay_max=None):
        with self.lock:
            if rate is not None:
                self.rate = float(rate)
            if delay_rate is not None:
                self.delay_rate = float(delay_rate)
            if weights is not None:
                unknown = set(weights) - set(DEFAULT_WEIGHTS)
                if unknown:
                    raise ValueError("unknown fault modes: %s" % ", ".join(sorted(unknown)))
                self.weights.update({k: float(v) for k, v in weights.items()})
            if stall_seconds is not None:
                self.stall_seconds = float(stall_seconds)
            if delay_max is not None:
                self.delay_max = float(delay_max)
            if self.rate == 0:
                self.release.set()
            else:
                self.release.clear()

    def add_rules(self, rules):
        with self.lock:
            for r in rules:
                r = dict(r)
                if r.get("mode") not in BREAKING + DELAYS + REFUSALS:
                    raise ValueError("unknown fault mode %r" % r.get("mode"))
                unknown = set(r) - {"mode", "route", "method", "path", "query", "count",
                                    "skip", "frac", "seconds", "tag"}
                if unknown:
                    raise ValueError("unknown rule fields: %s" % ", ".join(sorted(unknown)))
                r.setdefault("count", 1)
                r.setdefault("skip", 0)
                r["hits"] = 0
                self.rules.append(r)
            if self.rules:
                self.release.clear()

    def clear_rules(self):
        with self.lock:
            self.rules = []

    def match_rule(self, route, method, target):
        """The mode and fraction of the first rule for this request, or
        None (call with the lock held)."""
        path, _, query = target.partition("?")
        for r in self.rules:
            if r.get("route") not in (None, route.name) or \
                    r.get("method") not in (None, method) or \
                    r.get("path", "") not in path or r.get("query", "") not in query:
                continue
            if r["skip"] > 0:
                r["skip"] -= 1
                continue
            r["hits"] += 1
            if r["count"] is not None and r["hits"] >= r["count"]:
                self.rules.remove(r)
            if r.get("tag") is not None:
                self.fired.append({"tag": r["tag"], "route": route.name, "method": method,
                                   "path": path, "query": query})
                del self.fired[:-SEEN_MAX]
            return r["mode"], float(r.get("frac", 0.5)), r.get("seconds")
        return None

    def stats(self):
        with self.lock:
            return {"seed": self.seed, "requests": self.requests, "faults": dict(self.counts),
                    "broken": sum(n for m, n in self.counts.items() if m in BREAKING),
                    "delayed": sum(n for m, n in self.counts.items() if m in DELAYS),
                    "routes": {k: dict(v) for k, v in self.route_counts.items()},
                    "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                    "rate": self.rate, "delay_rate": self.delay_rate,
                    "weights": dict(self.weights),
                    "rules": [dict(r) for r in self.rules],
                    "gone": list(self.gone), "seen": list(self.seen),
                    "fired": list(self.fired)}

    def remember(self, route, method, target, headers):
        """Keeps what a test may check of the request: route, method, path,
        query and the headers named in NOTED_HEADERS (never a signature)."""
        path, _, query = target.partition("?")
        noted = {k.lower(): v for k, v in headers
                 if k.lower() in NOTED_HEADERS or k.lower().startswith("x-amz-checksum-")}
        with self.lock:
            self.seen.append({"route": route.name, "method": method, "path": path,
                              "query": query, "headers": noted})
            del self.seen[:-SEEN_MAX]

    # -- decisions --
    def decide(self, route, method, target):
        """(seq, mode or None, fraction, delay) for the next request."""
        with self.lock:
            self.seq += 1
            self.requests += 1
            seq = self.seq
            x = self.rng.random()
            frac = self.rng.random()
            delay = 0.1 + self.rng.random() * max(0.0, self.delay_max - 0.1)
            pick = self.rng.random()
            mode = None
            ruled = self.match_rule(route, method, target)
            if ruled:
                mode, frac, seconds = ruled
                if seconds is not None:
                    delay = float(seconds)
            elif x < self.rate:
                modes = [(m, w) for m, w in self.weights.items() if w > 0]
                total = sum(w for _, w in modes)
                acc = 0.0
                for m, w in modes:
                    acc += w / total
                    if pick < acc:
                        mode = m
                        break
                else:
                    mode = modes[-1][0] if modes else None
            elif x < self.rate + self.delay_rate:
                mode = DELAYS[0] if pick < 0.5 else DELAYS[1]
            if mode:
                self.counts[mode] = self.counts.get(mode, 0) + 1
                rc = self.route_counts.setdefault(route.name, {})
                rc[mode] = rc.get(mode, 0) + 1
        return seq, mode, frac, delay

    def note(self, seq, route, method, target, mode, extra=""):
        if not self.log:
            return
        path = target.split("?", 1)[0]
        try:
            self.log.write("%.3f #%d %s %s %s %s%s\n" % (time.time(), seq, route.name, mode,
                                                         method, path[:200], extra))
        except (OSError, ValueError):
            pass

    # -- serving --
    def accept_loop(self, route):
        while not self.stopping.is_set():
            try:
                c, _ = route.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.conns.add(c)
            t = threading.Thread(target=self.serve_conn, args=(route, c), daemon=True)
            t.start()

    def serve_conn(self, route, client):
        try:
            rd = Reader(client)
            while not self.stopping.is_set():
                client.settimeout(IDLE_TIMEOUT)
                try:
                    raw = rd.head()
                except (Closed, OSError):
                    return
                client.settimeout(None)
                first, headers = parse_head(raw)
                parts = first.split(" ")
                if len(parts) < 3:
                    return
                method, target = parts[0], parts[1]
                self.remember(route, method, target, headers)
                seq, mode, frac, delay = self.decide(route, method, target)
                if mode:
                    self.note(seq, route, method, target, mode)
                if not self.exchange(route, client, rd, method, target, headers, mode, frac,
                                     delay):
                    return
        except (Closed, OSError, ValueError):
            return
        finally:
            with self.lock:
                self.conns.discard(client)
            try:
                client.close()
            except OSError:
                pass

    def expect_continue(self, client, headers):
        if (header(headers, "Expect") or "").lower() == "100-continue":
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def exchange(self, route, client, rd, method, target, headers, mode, frac, delay):
        """One request, on a fresh upstream connection. True to go on with
        the client's connection, False to close it."""
        fwd = [(k, v) for k, v in headers if k.lower() != "expect"]
        req_len = body_length(headers)
        has_body = req_len is not None and req_len > 0 or \
            "chunked" in (header(headers, "Transfer-Encoding") or "").lower()
        if mode in ("500", "503", "429", "501"):
            self.expect_continue(client, headers)
            for _ in body_chunks(rd, headers):
                pass
            client.sendall(error_answer(route.flavor, int(mode), method))
            return True
        if mode == "reset_req":
            if has_body:
                self.expect_continue(client, headers)
                want = int((req_len or BUF) * frac)
                got = 0
                for data in body_chunks(rd, headers):
                    got += len(data)
                    if got >= want:
                        break
            reset(client)
            return False
        if mode == "delay":
            if self.release.wait(delay) and self.stopping.is_set():
                return False
        try:
            up = socket.create_connection(route.upstream, timeout=30)
        except OSError:
            reset(client)       # as the client would see a dead server
            return False
        try:
            return self.forward(route, client, rd, up, method, target, headers, fwd,
                                has_body, mode, frac, delay)
        finally:
            try:
                up.close()
            except OSError:
                pass

    def forward(self, route, client, rd, up, method, target, headers, fwd, has_body, mode,
                frac, delay):
        up.settimeout(None)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up_rd = Reader(up)
        try:
            up.sendall(build_head("%s %s HTTP/1.1" % (method, target), fwd))
            if has_body:
                self.expect_continue(client, headers)
                for data in body_chunks(rd, headers):
                    up.sendall(data)
                    with self.lock:
                        self.bytes_up += len(data)
            raw = up_rd.head()
            while raw.startswith(b"HTTP/1.1 100") or raw.startswith(b"HTTP/1.0 100"):
                raw = up_rd.head()
        except (Closed, OSError):
            reset(client)       # the upstream went away: so does the answer
            return False
        status_line, rheaders = parse_head(raw)
        status = int(status_line.split(" ")[1])
        rheaders = self.map_location(route, rheaders)
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        until_close = not no_body and body_length(rheaders) is None and \
            "chunked" not in (header(rheaders, "Transfer-Encoding") or "").lower()
        close_after = until_close or \
            (header(rheaders, "Connection") or "").lower() == "close" or \
            (header(headers, "Connection") or "").lower() == "close"
        head_bytes = build_head(status_line, rheaders)
        chunks = iter(()) if no_body else body_chunks(up_rd, rheaders, until_close)
        if mode in ("reset_resp", "close_resp", "stall"):
            self.cut_answer(client, head_bytes, chunks,
                            None if no_body else body_length(rheaders), frac, mode)
            return False
        if peer_closed(client):
            self.client_gone(route, method, target, status)
            return False
        try:
            client.sendall(head_bytes)
            paused = mode != "pause"
            total = body_length(rheaders) or BUF
            sent = 0
            for data in chunks:
                if not paused and sent >= total * frac:
                    paused = True
                    if self.release.wait(delay) and self.stopping.is_set():
                        return False
                client.sendall(data)
                sent += len(data)
                with self.lock:
                    self.bytes_down += len(data)
        except OSError:
            self.client_gone(route, method, target, status)
            return False
        return not close_after

    def client_gone(self, route, method, target, status):
        path, _, query = target.partition("?")
        with self.lock:
            self.counts["client_gone"] = self.counts.get("client_gone", 0) + 1
            if len(self.gone) < 10000:
                self.gone.append({"time": time.time(), "route": route.name, "method": method,
                                  "path": path, "query": query[:200], "status": status})

    def cut_answer(self, client, head_bytes, chunks, total, frac, mode):
        """Sends a prefix of the answer (part of the head when there is no
        body to cut), then resets, closes or stalls."""
        if not total:
            client.sendall(head_bytes[:max(1, min(len(head_bytes) - 1,
                                                  int(len(head_bytes) * frac)))])
        else:
            client.sendall(head_bytes)
            want = int(total * frac)
            sent = 0
            for data in chunks:
                if sent + len(data) > want:
                    client.sendall(data[:want - sent])
                    break
                client.sendall(data)
                sent += len(data)
        if mode == "stall":
            self.stall(client)
        if mode == "close_resp":
            try:
                client.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            client.close()
        else:
            reset(client)

    def stall(self, client):
        """Nothing more, until the client closes, the faults are turned off
        or stall_seconds pass."""
        deadline = time.monotonic() + self.stall_seconds
        while not self.release.is_set() and time.monotonic() < deadline:
            r, _, _ = select.select([client], [], [], 0.5)
            if r:
                try:
                    if not client.recv(BUF):
                        return
                except OSError:
                    return

    def map_location(self, route, rheaders):
        if not route.location_map:
            return rheaders
        out = []
        for k, v in rheaders:
            if k.lower() == "location":
                for prefix, target in route.location_map:
                    if v.startswith(prefix):
                        v = self.routes[target].url + v[len(prefix):]
                        break
            out.append((k, v))
        return out


# -------------------------------------------------------------- control -----

def control_server(proxy, addr):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/stats":
                self.answer(200, proxy.stats())
            else:
                self.answer(404, {"error": "no such path"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                cfg = json.loads(self.rfile.read(n) or b"{}")
                if self.path == "/config":
                    proxy.configure(**cfg)
                elif self.path == "/rules":
                    proxy.add_rules(cfg)
                else:
                    raise ValueError("no such path")
            except (ValueError, TypeError, AttributeError) as e:
                self.answer(400, {"error": str(e)})
                return
            self.answer(200, proxy.stats())

        def do_DELETE(self):
            if self.path != "/rules":
                self.answer(404, {"error": "no such path"})
                return
            proxy.clear_rules()
            self.answer(200, proxy.stats())

    srv = http.server.ThreadingHTTPServer(addr, Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    return srv


class FaultProxyControl:
    """The control API of a faultproxy.py process."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def _call(self, method, path, obj=None):
        data = json.dumps(obj).encode() if obj is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stats(self):
        return self._call("GET", "/stats")

    def configure(self, **cfg):
        return self._call("POST", "/config", cfg)

    def rule(self, mode, **match):
        """One rule: mode, and route/method/path/query/count/skip/frac."""
        return self._call("POST", "/rules", [dict(match, mode=mode)])

    def clear_rules(self):
        return self._call("DELETE", "/rules")


def start_subprocess(args, state_file, python=None, timeout=20):
    """Runs faultproxy.py with args; returns (Popen, info dict from its
    state file: seed, control url, and each route's port and url)."""
    from childproc import start_ready
    proc = start_ready([python or sys.executable, os.path.abspath(__file__),
                        "--state", state_file] + list(args), "faultproxy", timeout)
    with open(state_file) as f:
        return proc, json.load(f)


# -------------------------------------------------------------- program -----

def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv=None):
    p = argparse.ArgumentParser(prog="faultproxy.py", description=__doc__.split("\n")[0])
    p.add_argument("--route", action="append", default=[], required=True,
                   metavar="NAME=LISTEN,UPSTREAM[,s3|zoom]")
    p.add_argument("--map-location", action="append", default=[],
                   metavar="ROUTE=PREFIX=TARGET_ROUTE")
    p.add_argument("--control", default="127.0.0.1:0")
    p.add_argument("--seed", type=int)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--delay-rate", type=float, default=0.0)
    p.add_argument("--weights", default="", metavar="MODE:W,...")
    p.add_argument("--stall-seconds", type=float, default=600.0)
    p.add_argument("--delay-max", type=float, default=2.0)
    p.add_argument("--state", help="write seed, ports and urls here (JSON)")
    p.add_argument("--log", help="append one line per fault here")
    p.add_argument("--no-die-with-parent", action="store_true")
    a = p.parse_args(argv)
    routes = []
    for spec in a.route:
        name, _, rest = spec.partition("=")
        fields = rest.split(",")
        routes.append(Route(name, parse_addr(fields[0]), parse_addr(fields[1]),
                            fields[2] if len(fields) > 2 else "zoom"))
    by_name = {r.name: r for r in routes}
    for spec in a.map_location:
        name, _, rest = spec.partition("=")
        prefix, _, target = rest.rpartition("=")
        if name not in by_name or target not in by_name:
            p.error("--map-location %s: unknown route" % spec)
        by_name[name].location_map.append((prefix, target))
    weights = {}
    for item in filter(None, a.weights.split(",")):
        k, _, v = item.partition(":")
        weights[k] = float(v)
    if set(weights) - set(DEFAULT_WEIGHTS):
        p.error("unknown fault modes in --weights")
    proxy = FaultProxy(routes, a.seed, a.rate, a.delay_rate, weights, a.stall_seconds,
                       a.delay_max, a.log).start()
    ctl = control_server(proxy, parse_addr(a.control))
    info = {"pid": os.getpid(), "seed": proxy.seed,
            "control": "http://%s:%d" % ctl.server_address[:2],
            "routes": {r.name: {"port": r.port, "url": r.url} for r in routes}}
    if a.state:
        tmp = a.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, a.state)
    print("READY seed=%d control=%d %s" % (proxy.seed, ctl.server_address[1],
                                           " ".join("%s=%d" % (r.name, r.port) for r in routes)),
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    parent = os.getppid()
    while not done.wait(0.5):
        if not a.no_die_with_parent and os.getppid() != parent:
            break
    ctl.shutdown()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
