"""awsstandins: local stand-ins for the AWS credential endpoints the spooler
asks (Python 3 stdlib only), and a CDN whose pace the test controls.

- StandInSTS: STS's AssumeRoleWithWebIdentity (a form POST, unsigned; an
  XML answer). `issue(n)` gives the credentials of the n-th call; `refuse`
  makes it answer STS's 400 InvalidIdentityToken document. Every call is
  recorded (time, form, headers).
- ContainerCreds: the ECS/EKS container credentials endpoint (GET PATH with
  an optional Authorization token; a JSON answer with AccessKeyId,
  SecretAccessKey, Token, Expiration).
- PacedCDN: serves one file (GET PATH). The first `fast` bytes go at once;
  then it trickles small chunks, polling `gate()` between them; once the
  gate opens it calls `on_open()` and sends the rest at once. So a test can
  hold an upload in its middle until the spooler has done something (asked
  STS again), never by sleeping in the test.

Each server listens on 127.0.0.1 (port 0 = ephemeral) in a thread;
stop() ends it.
"""

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def iso8601(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.owner.handle(self, "GET", b"")

    def do_POST(self):
        self.server.owner.handle(self, "POST", self._body())


class _Server:
    def __init__(self, host="127.0.0.1", port=0):
        self.lock = threading.Lock()
        self.calls = []
        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def count(self):
        with self.lock:
            return len(self.calls)


class StandInSTS(_Server):
    """issue(n) -> {"AccessKeyId", "SecretAccessKey", "SessionToken",
    "Expiration" (epoch seconds)} for the n-th call (1-based); on_call(n) runs
    before the answer is sent."""

    def __init__(self, issue, on_call=None, **kw):
        self.issue, self.on_call, self.refuse = issue, on_call, False
        super().__init__(**kw)
        self.url = "http://%s:%d" % (self.host, self.port)

    def handle(self, h, method, body):
        form = dict(urllib.parse.parse_qsl(body.decode("ascii", "replace"),
                                           keep_blank_values=True))
        with self.lock:
            self.calls.append({"time": time.time(), "method": method, "path": h.path,
                               "form": form, "headers": dict(h.headers.items())})
            n = len(self.calls)
        if self.on_call:
            self.on_call(n)
        ctype = h.headers.get("Content-Type", "")
        if (method != "POST" or form.get("Action") != "AssumeRoleWithWebIdentity" or
                ctype != "application/x-www-form-urlencoded"):
            return h._send(400, b"<ErrorResponse><Error><Code>InvalidAction</Code>"
                           b"</Error></ErrorResponse>", "text/xml")
        if self.refuse:
            return h._send(400, b"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
                           b"2011-06-15/\"><Error><Type>Sender</Type><Code>"
                           b"InvalidIdentityToken</Code><Message>The web identity token "
                           b"that was passed is expired</Message></Error><RequestId>"
                           b"c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
                           b"</ErrorResponse>", "text/xml")
        c = self.issue(n)
        xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
               "2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
               "<SubjectFromWebIdentityToken>system:serviceaccount:zoom:spooler"
               "</SubjectFromWebIdentityToken><AssumedRoleUser><Arn>%s/%s</Arn>"
               "<AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>"
               "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s"
               "</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s"
               "</Expiration></Credentials><Audience>sts.amazonaws.com</Audience>"
               "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>"
               "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>"
               "</AssumeRoleWithWebIdentityResponse>" % (
                   form.get("RoleArn", ""), form.get("RoleSessionName", ""),
                   form.get("RoleSessionName", ""), c["AccessKeyId"],
                   c["SecretAccessKey"], c["SessionToken"], iso8601(c["Expiration"])))
        h._send(200, xml.encode(), "text/xml")


class ContainerCreds(_Server):
    """GET path with Authorization == token (None: no header wanted)."""

    def __init__(self, issue, path="/creds", token=None, on_call=None, **kw):
        self.issue, self.path, self.token, self.on_call = issue, path, token, on_call
        super().__init__(**kw)
        self.url = "http://%s:%d%s" % (self.host if ":" not in self.host else
                                       "[%s]" % self.host, self.port, path)

    def handle(self, h, method, body):
        auth = h.headers.get("Authorization")
        with self.lock:
            self.calls.append({"time": time.time(), "method": method, "path": h.path,
                               "authorization": auth})
            n = len(self.calls)
        if self.on_call:
            self.on_call(n)
        if method != "GET" or h.path != self.path:
            return h._send(404, b'{"code":"NotFound","message":"no such path"}',
                           "application/json")
        if auth != self.token:
            return h._send(401, b'{"code":"AccessDenied","message":"bad token"}',
                           "application/json")
        c = self.issue(n)
        doc = {"RoleArn": "arn:aws:iam::123456789012:role/zoom2s3-task",
               "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
               "Token": c["SessionToken"], "Expiration": iso8601(c["Expiration"])}
        h._send(200, json.dumps(doc).encode(), "application/json")


class PacedCDN(_Server):
    """Serves data at path: `fast` bytes at once, then `chunk` bytes per
    `interval` seconds until gate() is true, then on_open() and the rest at
    once. `opened_at` is the byte offset where the gate opened (None when it
    never did); `served` counts bytes sent."""

    def __init__(self, data, path="/rec/file.mp4", fast=0, gate=None, on_open=None,
                 chunk=32 * 1024, interval=0.02, **kw):
        self.data, self.path, self.fast = data, path, fast
        self.gate, self.on_open = gate, on_open
        self.chunk, self.interval = chunk, interval
        self.served = 0
        self.opened_at = None
        super().__init__(**kw)
        self.url = "http://%s:%d%s" % (self.host, self.port, path)

    def handle(self, h, method, body):
        with self.lock:
            self.calls.append({"time": time.time(), "path": h.path,
                               "range": h.headers.get("Range")})
        if urllib.parse.urlsplit(h.path).path != self.path:
            return h._send(404, b"no such file", "text/plain")
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(self.data)))
        h.end_headers()
        sent, total = 0, len(self.data)
        try:
            h.wfile.write(self.data[:self.fast])
            sent = self.fast
            self.served = sent
            while sent < total:
                if self.opened_at is None and self.gate and self.gate():
                    self.opened_at = sent
                    if self.on_open:
                        self.on_open()
                if self.opened_at is not None or not self.gate:
                    h.wfile.write(self.data[sent:])
                    sent = total
                else:
                    piece = self.data[sent:sent + self.chunk]
                    h.wfile.write(piece)
                    h.wfile.flush()
                    sent += len(piece)
                    time.sleep(self.interval)  # the CDN's pace, not the test's
                self.served = sent
        except OSError:
            h.close_connection = True
