#!/usr/bin/env python3
"""s3util: a tiny S3 client for zoom2s3's tests (Python 3 stdlib only).

Every request is SigV4-signed with the payload's SHA-256, path-style, so a
test can see byte-exact what the spooler left in a bucket:

    from s3util import S3, S3Error
    s3 = S3.from_env()        # S3_ENDPOINT, AWS_ACCESS_KEY_ID,
                              # AWS_SECRET_ACCESS_KEY, S3_REGION
    s3.create_bucket("b")
    s3.put_object("b", "k", b"data")
    s3.get_object("b", "k")           -> bytes
    s3.head_object("b", "k")          -> dict of headers, or None
    s3.list_objects("b", prefix="")   -> [{"key", "size", "etag", ...}]
    s3.list_multipart_uploads("b")    -> [{"key", "upload_id"}]

As a program:  s3util.py [--endpoint URL] [--access-key K] [--secret-key S]
[--region R] CMD ...  with CMD one of mkbucket B | rb B | put B K FILE|- |
get B K [FILE] | head B K | ls B [PREFIX] | uploads B [PREFIX] |
abort B K UPLOAD_ID | rm B K | sha256 B K | empty B.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class S3Error(Exception):
    def __init__(self, status, code, message, body=b"", headers=None):
        super().__init__("%d %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message
        self.body, self.headers = body, headers or {}


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def _quote(text, safe="~"):
    """AWS URI encoding: unreserved A-Za-z0-9-_.~ kept, UTF-8, upper hex."""
    return urllib.parse.quote(text, safe=safe)


def _strip_ns(elem):
    for e in elem.iter():
        if "}" in e.tag:
            e.tag = e.tag.split("}", 1)[1]
    return elem


def _error(resp):
    code, message = "HTTP%d" % resp.status, ""
    if resp.body:
        try:
            root = _strip_ns(ET.fromstring(resp.body))
            code = root.findtext("Code") or code
            message = root.findtext("Message") or ""
        except ET.ParseError:
            message = resp.body[:200].decode(errors="replace")
    return S3Error(resp.status, code, message, resp.body, resp.headers)


class S3:
    def __init__(self, endpoint, access_key, secret_key, region="us-east-1",
                 session_token=None, timeout=120, service="s3"):
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme not in ("http", "https"):
            raise ValueError("endpoint must be http(s)://host[:port]")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.netloc = u.netloc
        self.access_key, self.secret_key = access_key, secret_key
        self.region, self.session_token = region, session_token
        self.timeout = timeout
        self.service = service  # "iam" for moto_server's IAM (tests/rig/motorig.py)

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        return cls(env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"],
                   env["AWS_SECRET_ACCESS_KEY"],
                   env.get("S3_REGION") or env.get("AWS_REGION") or
                   "us-east-1", env.get("AWS_SESSION_TOKEN"))

    # -- signing --
    def _sign(self, method, path, query, headers, payload_hash, now):
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        headers["host"] = self.netloc
        headers["x-amz-date"] = amz_date
        headers["x-amz-content-sha256"] = payload_hash
        if self.session_token:
            headers["x-amz-security-token"] = self.session_token
        names = sorted(headers)
        canon_headers = "".join("%s:%s\n" % (n, " ".join(
            str(headers[n]).split())) for n in names)
        signed = ";".join(names)
        canon_query = "&".join("%s=%s" % (_quote(k), _quote(v)) for k, v in
                               sorted(query))
        creq = "\n".join([method, path, canon_query, canon_headers, signed,
                          payload_hash])
        scope = "%s/%s/%s/aws4_request" % (day, self.region, self.service)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ("AWS4" + self.secret_key).encode()
        for part in (day, self.region, self.service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
            "Signature=%s" % (self.access_key, scope, signed, sig))
        return canon_query

    def request(self, method, bucket=None, key=None, query=(), headers=None,
                body=b"", sink=None, now=None):
        """One signed request.  query: (name, value) pairs (value "" for a
        bare ?uploads).  sink: a callable that gets the body in pieces
        instead of it being returned.  Returns a Response; never raises
        for an HTTP status."""
        path = "/"
        if bucket:
            path += _quote(bucket)
            if key is not None:
                path += "/" + _quote(key, safe="/~")
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        hdrs["content-length"] = str(len(body))
        now = now or datetime.datetime.now(datetime.timezone.utc)
        query = list(query.items() if isinstance(query, dict) else query)
        qs = self._sign(method, path, query, hdrs,
                        hashlib.sha256(body).hexdigest(), now)
        conn_cls = (http.client.HTTPSConnection if self.scheme == "https"
                    else http.client.HTTPConnection)
        conn = conn_cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path + ("?" + qs if qs else ""), body=body,
                         headers=hdrs)
            r = conn.getresponse()
            rh = {k.lower(): v for k, v in r.getheaders()}
            if sink is not None and 200 <= r.status < 300:
                while True:
                    piece = r.read(1 << 20)
                    if not piece:
                        break
                    sink(piece)
                data = b""
            else:
                data = r.read()
            return Response(r.status, rh, data)
        finally:
            conn.close()

    def _ok(self, resp, *good):
        if resp.status not in (good or (200,)):
            raise _error(resp)
        return resp

    # -- buckets --
    def create_bucket(self, bucket, exist_ok=True):
        r = self.request("PUT", bucket)
        if r.status == 409 and exist_ok and \
                _error(r).code == "BucketAlreadyOwnedByYou":
            return
        self._ok(r)

    def delete_bucket(self, bucket):
        self._ok(self.request("DELETE", bucket), 204)

    def list_objects(self, bucket, prefix="", page_size=1000):
        out, token = [], None
        while True:
            q = [("list-type", "2"), ("prefix", prefix),
                 ("max-keys", str(page_size))]
            if token:
                q.append(("continuation-token", token))
            root = _strip_ns(ET.fromstring(self._ok(
                self.request("GET", bucket, query=q)).body))
            for c in root.findall("Contents"):
                out.append({"key": c.findtext("Key"),
                            "size": int(c.findtext("Size")),
                            "etag": (c.findtext("ETag") or "").strip('"'),
                            "last_modified": c.findtext("LastModified"),
                            "storage_class": c.findtext("StorageClass")})
            if root.findtext("IsTruncated") != "true":
                return out
            token = root.findtext("NextContinuationToken")

    def list_multipart_uploads(self, bucket, prefix="", page_size=1000):
        out, key_marker, id_marker = [], "", ""
        while True:
            q = [("uploads", ""), ("prefix", prefix),
                 ("max-uploads", str(page_size))]
            if key_marker:
                q += [("key-marker", key_marker),
                      ("upload-id-marker", id_marker)]
            root = _strip_ns(ET.fromstring(self._ok(
                self.request("GET", bucket, query=q)).body))
            for u in root.findall("Upload"):
                out.append({"key": u.findtext("Key"),
                            "upload_id": u.findtext("UploadId"),
                            "initiated": u.findtext("Initiated")})
            if root.findtext("IsTruncated") != "true":
                return out
            key_marker = root.findtext("NextKeyMarker") or ""
            id_marker = root.findtext("NextUploadIdMarker") or ""

    def empty_bucket(self, bucket):
        """Delete every object and abort every multipart upload."""
        for u in self.list_multipart_uploads(bucket):
            self.abort_multipart_upload(bucket, u["key"], u["upload_id"])
        for o in self.list_objects(bucket):
            self.delete_object(bucket, o["key"])

    # -- objects --
    def put_object(self, bucket, key, data, content_type=None, metadata=None,
                   headers=None, content_md5=False):
        """Returns the ETag without quotes."""
        h = dict(headers or {})
        if content_type:
            h["Content-Type"] = content_type
        for k, v in (metadata or {}).items():
            h["x-amz-meta-" + k] = v
        if content_md5:
            h["Content-MD5"] = base64.b64encode(
                hashlib.md5(data).digest()).decode()
        r = self._ok(self.request("PUT", bucket, key, headers=h, body=data))
        return r.headers.get("etag", "").strip('"')

    def get_object(self, bucket, key, range=None):
        h = {"Range": range} if range else {}
        return self._ok(self.request("GET", bucket, key, headers=h),
                        200, 206).body

    def object_sha256(self, bucket, key):
        """(hex sha256, size) of an object, streamed."""
        h = hashlib.sha256()
        n = [0]

        def sink(piece):
            h.update(piece)
            n[0] += len(piece)
        self._ok(self.request("GET", bucket, key, sink=sink))
        return h.hexdigest(), n[0]

    def head_object(self, bucket, key):
        """Headers (lower-case names) or None when there is no object."""
        r = self.request("HEAD", bucket, key)
        if r.status == 404:
            return None
        return self._ok(r).headers

    def delete_object(self, bucket, key):
        self._ok(self.request("DELETE", bucket, key), 204, 200)

    # -- multipart --
    def create_multipart_upload(self, bucket, key, headers=None):
        r = self._ok(self.request("POST", bucket, key, query=[("uploads", "")],
                                  headers=headers))
        return _strip_ns(ET.fromstring(r.body)).findtext("UploadId")

    def upload_part(self, bucket, key, upload_id, number, data):
        r = self._ok(self.request("PUT", bucket, key, query=[
            ("partNumber", str(number)), ("uploadId", upload_id)],
            body=data))
        return r.headers.get("etag", "").strip('"')

    def list_parts(self, bucket, key, upload_id):
        r = self._ok(self.request("GET", bucket, key,
                                  query=[("uploadId", upload_id)]))
        root = _strip_ns(ET.fromstring(r.body))
        return [{"part_number": int(p.findtext("PartNumber")),
                 "size": int(p.findtext("Size")),
                 "etag": (p.findtext("ETag") or "").strip('"')}
                for p in root.findall("Part")]

    def complete_multipart_upload(self, bucket, key, upload_id, parts):
        """parts: [(number, etag)].  Returns the ETag without quotes."""
        xml = "<CompleteMultipartUpload>" + "".join(
            "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>" %
            (n, e) for n, e in parts) + "</CompleteMultipartUpload>"
        r = self._ok(self.request("POST", bucket, key,
                                  query=[("uploadId", upload_id)],
                                  headers={"Content-Type": "application/xml"},
                                  body=xml.encode()))
        root = _strip_ns(ET.fromstring(r.body))
        if root.tag == "Error":
            raise S3Error(200, root.findtext("Code"),
                          root.findtext("Message") or "", r.body)
        etag = (root.findtext("ETag") or "").strip('"')
        if not etag:
            # Ceph RGW 16 answers <ETag></ETag> (Red Hat BZ 2266579)
            etag = self.head_object(bucket, key)["etag"].strip('"')
        return etag

    def abort_multipart_upload(self, bucket, key, upload_id):
        self._ok(self.request("DELETE", bucket, key,
                              query=[("uploadId", upload_id)]), 204, 200)


def main(argv=None):
    p = argparse.ArgumentParser(prog="s3util.py")
    p.add_argument("--endpoint", default=os.environ.get("S3_ENDPOINT"))
    p.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID"))
    p.add_argument("--secret-key",
                   default=os.environ.get("AWS_SECRET_ACCESS_KEY"))
    p.add_argument("--region", default=os.environ.get("S3_REGION") or
                   os.environ.get("AWS_REGION") or "us-east-1")
    p.add_argument("cmd")
    p.add_argument("args", nargs="*")
    a = p.parse_args(argv)
    if not (a.endpoint and a.access_key and a.secret_key):
        p.error("need --endpoint, --access-key, --secret-key (or S3_ENDPOINT,"
                " AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
    s3 = S3(a.endpoint, a.access_key, a.secret_key, a.region,
            os.environ.get("AWS_SESSION_TOKEN"))
    arity = {"mkbucket": (1, 1), "rb": (1, 1), "put": (3, 3), "get": (2, 3),
             "head": (2, 2), "ls": (1, 2), "uploads": (1, 2),
             "abort": (3, 3), "rm": (2, 2), "sha256": (2, 2),
             "empty": (1, 1)}
    lo, hi = arity.get(a.cmd, (-1, -1))
    if not lo <= len(a.args) <= hi:
        p.error("bad command or arguments: %s" % " ".join([a.cmd] + a.args))
    x = a.args
    out = sys.stdout
    try:
        if a.cmd == "mkbucket":
            s3.create_bucket(x[0])
        elif a.cmd == "rb":
            s3.delete_bucket(x[0])
        elif a.cmd == "put":
            data = sys.stdin.buffer.read() if x[2] == "-" else \
                open(x[2], "rb").read()
            print(s3.put_object(x[0], x[1], data))
        elif a.cmd == "get":
            data = s3.get_object(x[0], x[1])
            if len(x) == 3 and x[2] != "-":
                with open(x[2], "wb") as fh:
                    fh.write(data)
            else:
                sys.stdout.buffer.write(data)
        elif a.cmd == "head":
            h = s3.head_object(x[0], x[1])
            if h is None:
                sys.stderr.write("s3util: no such object\n")
                return 1
            json.dump(h, out, indent=1, sort_keys=True)
            out.write("\n")
        elif a.cmd == "ls":
            for o in s3.list_objects(x[0], x[1] if len(x) > 1 else ""):
                out.write("%s\t%d\t%s\n" % (o["key"], o["size"], o["etag"]))
        elif a.cmd == "uploads":
            for u in s3.list_multipart_uploads(x[0],
                                               x[1] if len(x) > 1 else ""):
                out.write("%s\t%s\n" % (u["key"], u["upload_id"]))
        elif a.cmd == "abort":
            s3.abort_multipart_upload(x[0], x[1], x[2])
        elif a.cmd == "rm":
            s3.delete_object(x[0], x[1])
        elif a.cmd == "sha256":
            digest, size = s3.object_sha256(x[0], x[1])
            out.write("%s\t%d\n" % (digest, size))
        elif a.cmd == "empty":
            s3.empty_bucket(x[0])
    except S3Error as e:
        sys.stderr.write("s3util: %s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("s3util: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
