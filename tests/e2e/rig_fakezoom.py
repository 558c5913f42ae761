#!/usr/bin/env python3
"""TAP: the stand-in Zoom (tests/rig/fakezoom.py) behaves as the spooler's
tests rely on: Bearer checks, redirects to a pre-signed CDN URL, ranges,
every failure mode, OAuth, the recordings API with double-encoded uuids,
JWT, the request log, webhook helpers, and the program's life cycle."""

import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(SRCDIR, "tests", "rig"))
import fakezoom  # noqa: E402
from fakezoom import FakeZoom  # noqa: E402

import webrig  # noqa: E402  (the TAP helpers every Python rig shares)

TAP = webrig.Tap()
ok, is_, skip_all = TAP.ok, TAP.eq, webrig.skip_all  # ok(cond, name, diag...)


class Resp:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = \
            status, headers, body, error

    def h(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def fetch(url, headers=None, method="GET", body=None, timeout=10):
    """One request, no redirect following, the path sent verbatim."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    status, hdrs, data, err = None, [], b"", None
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        status, hdrs = r.status, r.getheaders()
        try:
            data = r.read()
        except http.client.IncompleteRead as e:
            data, err = e.partial, "incomplete"
    except (socket.timeout, TimeoutError):
        err = "timeout"
    except (ConnectionError, http.client.RemoteDisconnected) as e:
        err = type(e).__name__
    finally:
        conn.close()
    return Resp(status, hdrs, data, err)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def main():
    webrig.require_addresses(("127.0.0.2", "127.0.0.3"))
    tmp = tempfile.mkdtemp(prefix="rig_fakezoom.")
    fz = FakeZoom(state_dir=os.path.join(tmp, "inproc")).start()
    try:
        run(fz, tmp)
    finally:
        fz.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return TAP.finish()


def run(fz, tmp):
    test_content()
    test_downloads(fz)
    test_faults(fz)
    test_oauth_api_jwt(fz)
    test_log_and_helpers(fz)
    test_program(tmp)


def test_content():
    seed, size = "seed-a", 3 * fakezoom.PERIOD + 123
    whole = fakezoom.content(seed, 0, size)
    is_(len(whole), size, "content: length")
    is_(fakezoom.content_sha256(seed, size),
        hashlib.sha256(whole).hexdigest(), "content_sha256 matches the bytes")
    off = fakezoom.PERIOD - 7
    is_(fakezoom.content(seed, off, 5000), whole[off:off + 5000],
        "content at an offset is the same slice")
    ok(whole[:fakezoom.PERIOD] != whole[fakezoom.PERIOD:2 * fakezoom.PERIOD],
       "content does not repeat with the period")
    ok(fakezoom.content("seed-b", 0, 4096) != whole[:4096],
       "another seed gives other bytes")
    is_(fakezoom.content_sha256("x", 0), hashlib.sha256(b"").hexdigest(),
        "content of size 0")


def test_downloads(fz):
    uuid_ = "/ab+c//d=="
    fz.add_meeting(uuid_, id=88031573992, topic="Rig [abc]")
    size = 200000
    info = fz.add_file("file-1", size=size, meeting_uuid=uuid_)
    token = info["token"]
    url = info["download_url"]
    want = fakezoom.content("file-1", 0, size)
    is_(fz.file_info("file-1")["sha256"], hashlib.sha256(want).hexdigest(),
        "file_info gives the sha256 of the content")

    r = fetch(url)
    is_((r.status, json.loads(r.body)), (401, {"code": 124, "message":
                                              "Invalid access token."}),
        "download without a token: 401 code 124")
    r = fetch(url, bearer("nope"))
    is_(r.status, 401, "download with a wrong token: 401")
    r = fetch(url + "?access_token=" + token)
    is_(r.status, 401, "token in the query string is refused")
    fz.set_config(auth_fail_mode="html200")
    r = fetch(url, bearer("nope"))
    ok(r.status == 200 and r.h("Content-Type").startswith("text/html") and
       b"not authorized" in r.body, "html200 mode: 200 text/html page")
    fz.set_config(auth_fail_mode="json401")

    r = fetch(url, bearer(token))
    loc = r.h("Location") or ""
    is_(r.status, 302, "download with the token: 302")
    lu = urllib.parse.urlsplit(loc)
    q = urllib.parse.parse_qs(lu.query)
    ok(lu.hostname == "127.0.0.2" and lu.port == fz.cdn_port and
       lu.path.startswith("/replay/") and lu.path.endswith(".mp4"),
       "Location is on the CDN host", loc)
    ok(all(k in q for k in ("Policy", "Signature", "Expires")) and
       token not in loc, "Location is pre-signed and carries no token")
    pol = json.loads(base64.b64decode(q["Policy"][0].translate(
        str.maketrans("-_~", "+=/"))))
    is_(pol["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"],
        int(q["Expires"][0]), "Policy names the expiry")

    r = fetch(loc)
    ok(r.status == 200 and r.body == want and
       r.h("Content-Type") == "video/mp4" and
       r.h("Content-Length") == str(size),
       "CDN: 200, video/mp4, exact bytes")
    r = fetch(loc, {"Range": "bytes=123456-"})
    ok(r.status == 206 and r.body == want[123456:] and
       r.h("Content-Range") == "bytes 123456-%d/%d" % (size - 1, size),
       "CDN: Range bytes=N- gives 206 with Content-Range", r.headers)
    r = fetch(loc, {"Range": "bytes=10-19"})
    is_((r.status, r.body), (206, want[10:20]), "CDN: Range bytes=N-M")
    r = fetch(loc, {"Range": "bytes=%d-" % size})
    ok(r.status == 416 and r.h("Content-Range") == "bytes */%d" % size,
       "CDN: range past the end gives 416")
    r = fetch(loc, method="HEAD")
    ok(r.status == 200 and r.h("Content-Length") == str(size) and
       r.body == b"", "CDN: HEAD")
    r = fetch(loc, bearer(token))
    is_(r.status, 400, "CDN: a request with Authorization is refused (400)")
    seen = fz.requests(server="cdn")[-1]
    ok(seen["auth_present"] and seen["authorization"] == "Bearer " + token,
       "CDN log records the Authorization that arrived")
    r = fetch(loc.replace("Signature=", "Signature=x"))
    is_(r.status, 403, "CDN: a tampered signature gives 403")
    fz.set_config(url_ttl=-1)
    loc2 = fetch(url, bearer(token)).h("Location")
    fz.set_config(url_ttl=300)
    r = fetch(loc2)
    ok(r.status == 403 and b"Request has expired" in r.body and
       r.h("Content-Type") == "application/xml", "CDN: an expired URL: 403")

    api_url = info["api_download_url"]
    r = fetch(api_url, bearer(token))
    is_(r.status, 302, "/rec/download/<key> with the token: 302")

    own = fz.add_file("file-own", size=10, meeting_uuid=uuid_,
                      token="own-token")
    is_(fetch(own["download_url"], bearer("own-token")).status, 302,
        "a file with its own token accepts it")

    tiny = fz.add_file("file-data", data=b"x", meeting_uuid=uuid_)
    zero = fz.add_file("file-zero", size=0, meeting_uuid=uuid_)
    r = fetch(fetch(tiny["download_url"], bearer(tiny["token"]))
              .h("Location"))
    is_((r.status, r.body), (200, b"x"), "a file given by its data")
    r = fetch(fetch(zero["download_url"], bearer(zero["token"]))
              .h("Location"))
    ok(r.status == 200 and r.body == b"" and r.h("Content-Length") == "0",
       "a file of 0 bytes")
    p = os.path.join(fz.state_dir, "content.bin")
    with open(p, "wb") as fh:
        fh.write(b"from a path" * 100)
    pf = fz.add_file("file-path", path=p, file_extension="M4A",
                     meeting_uuid=uuid_)
    r = fetch(fetch(pf["download_url"], bearer(pf["token"])).h("Location"))
    ok(r.body == b"from a path" * 100 and r.h("Content-Type") == "audio/mp4",
       "a file given by a path, M4A type")

    fz.delete_file("file-data")
    r = fetch(tiny["download_url"], bearer(tiny["token"]))
    ok(r.status == 200 and r.h("Content-Type").startswith("text/html"),
       "a deleted file: 200 text/html like Zoom")
    r = fetch(fz.base_url + "/rec/webhook_download/unknown/x", bearer(token))
    is_(r.status, 404, "an unknown file: 404")

    fz.expire_download_token(file="file-1")
    r = fetch(url, bearer(token))
    is_(r.status, 401, "an expired download token: 401")
    log = fz.requests(file_id="file-1", server="zoom")[-1]
    is_(log.get("auth_reason"), "download token expired",
        "the log says why a token was refused")


def cdn_url(fz, fid):
    info = fz.file_info(fid)
    return fetch(info["download_url"], bearer(info["token"])).h("Location")


def test_faults(fz):
    size = 300000
    info = fz.add_file("flt", size=size)
    url, tok = info["download_url"], info["token"]
    want = fakezoom.content("flt", 0, size)

    for mode, status in (("500", 500), ("503", 503), ("404", 404)):
        fz.fault("flt", mode, count=1)
        r = fetch(url, bearer(tok))
        is_(r.status, status, "fault %s on the download URL" % mode)
    fz.fault("flt", "429", count=1, retry_after=7)
    r = fetch(url, bearer(tok))
    ok(r.status == 429 and r.h("Retry-After") == "7", "fault 429 with "
       "Retry-After")
    fz.fault("flt", "status", count=1, status=502, body="bad gw",
             content_type="text/plain")
    r = fetch(url, bearer(tok))
    is_((r.status, r.body), (502, b"bad gw"), "fault status with a body")
    fz.fault("flt", "html", count=1)
    r = fetch(url, bearer(tok))
    ok(r.status == 200 and r.h("Content-Type").startswith("text/html"),
       "fault html: 200 text/html")
    is_(fetch(url, bearer(tok)).status, 302, "count=1 faults are used up")

    fz.fault("flt", "503", count=2)
    got = [fetch(url, bearer(tok)).status for _ in range(3)]
    is_(got, [503, 503, 302], "count=2: two failures, then success")
    fz.fault("flt", "500", count=1, skip=1)
    got = [fetch(url, bearer(tok)).status for _ in range(3)]
    is_(got, [302, 500, 302], "skip=1: the second request fails")
    fz.fault("flt", "500")
    got = [fetch(url, bearer(tok)).status for _ in range(2)]
    fz.clear_faults("flt")
    ok(got == [500, 500] and fetch(url, bearer(tok)).status == 302,
       "a fault without count lasts until cleared")
    fz.fault("flt", "500", where="cdn", count=1)
    loc = fetch(url, bearer(tok)).h("Location")
    is_(fetch(loc).status, 500, "where=cdn: the CDN fails")
    fz.fault("flt", "token_refused", count=1)
    is_(fetch(url, bearer(tok)).status, 401, "fault token_refused: 401")

    fz.fault("flt", "close_mid_body", count=1)
    r = fetch(cdn_url(fz, "flt"))
    ok(r.status == 200 and r.error == "incomplete" and
       r.body == want[:size // 2] and r.h("Content-Length") == str(size),
       "close_mid_body: full Content-Length, half the body, then close",
       (r.status, r.error, len(r.body)))
    fz.fault("flt", "close_mid_body", count=1, at=1000, rst=True)
    r = fetch(cdn_url(fz, "flt"))
    ok(r.error is not None and len(r.body) <= 1000,
       "close_mid_body at=1000 rst: cut short", (r.error, len(r.body)))
    fz.fault("flt", "close_mid_body", count=1)
    r = fetch(cdn_url(fz, "flt"), {"Range": "bytes=100000-"})
    ok(r.status == 206 and r.body == want[100000:200000] and
       r.error == "incomplete", "close_mid_body on a ranged request")
    fz.fault("flt", "close", count=1)
    r = fetch(url, bearer(tok))
    ok(r.status is None and r.error is not None,
       "fault close: connection closed without an answer", r.error)

    fz.fault("flt", "slow", count=1, chunk=50000, delay=0.01)
    r = fetch(cdn_url(fz, "flt"))
    ok(r.status == 200 and r.body == want, "slow: the body arrives whole")
    e = fz.requests(server="cdn", file_id="flt")[-1]
    is_(e.get("fault"), "slow", "slow: the log names the fault")

    fz.fault("flt", "stall", count=1, seconds=30)
    r = fetch(cdn_url(fz, "flt"), timeout=0.5)
    is_(r.error, "timeout", "stall: no answer until the client gives up")
    e = wait_for(lambda: [x for x in fz.requests(server="cdn",
                                                  file_id="flt")
                          if x.get("stalled") and x.get("done")])
    ok(e and e[-1].get("stall_ended") == "client closed",
       "stall: the server notices the client gave up", e)
    fz.fault("flt", "stall", count=1, after=4096, seconds=30)
    r = fetch(cdn_url(fz, "flt"), timeout=0.5)
    ok(r.status == 200 and r.error == "timeout" and len(r.body) <= 4096,
       "stall after=4096: headers and some bytes, then nothing",
       (r.status, r.error, len(r.body)))
    fz.fault("flt", "stall", count=1, seconds=30, where="zoom")
    r = fetch(url, bearer(tok), timeout=0.5)
    is_(r.error, "timeout", "stall on the zoom side")

    fz.fault("flt", "wrong_length", count=1, delta=-10)
    r = fetch(cdn_url(fz, "flt"))
    ok(r.status == 200 and r.body == want[:-10] and r.error is None,
       "wrong_length -10: a complete response 10 bytes short")
    fz.fault("flt", "wrong_length", count=1, delta=10)
    r = fetch(cdn_url(fz, "flt"))
    ok(r.status == 200 and r.body == want + b"\0" * 10,
       "wrong_length +10: 10 bytes too many")
    fz.fault("flt", "ignore_range", count=1)
    r = fetch(cdn_url(fz, "flt"), {"Range": "bytes=5-"})
    ok(r.status == 200 and r.body == want and r.h("Content-Range") is None,
       "ignore_range: 200 with the whole body")
    fz.fault("flt", "expired_url", count=1)
    is_(fetch(cdn_url(fz, "flt")).status, 403, "expired_url: 403")
    fz.fault("flt", "direct", count=1)
    r = fetch(url, bearer(tok))
    is_((r.status, r.body), (200, want), "direct: Zoom serves the body")
    fz.fault("flt", "close_mid_body", where="zoom", count=1)
    r = fetch(url, bearer(tok))
    ok(r.status == 200 and r.error == "incomplete",
       "a body fault on the zoom side serves directly")

    checks = [
        ("redirect_foreign", lambda u: u.hostname == "127.0.0.3"),
        ("redirect_evil", lambda u: u.hostname == "evil.example"),
        ("redirect_file", lambda u: u.scheme == "file"),
        ("redirect_ftp", lambda u: u.scheme == "ftp"),
        ("redirect_https", lambda u: u.scheme == "https" and
         u.hostname == "127.0.0.2"),
    ]
    for mode, check in checks:
        fz.fault("flt", mode, count=1)
        r = fetch(url, bearer(tok))
        loc = r.h("Location") or ""
        ok(r.status == 302 and check(urllib.parse.urlsplit(loc)),
           "%s: Location %s" % (mode, loc.split("?")[0]))
    fz.fault("flt", "redirect_foreign", count=1)
    evil = fetch(fetch(url, bearer(tok)).h("Location"))
    ok(evil.status == 200 and evil.body == want and
       fz.requests(server="evil")[-1].get("evil"),
       "the foreign host serves the file and logs the visit")
    fz.fault("flt", "redirect_loop", count=2)
    r = fetch(url, bearer(tok))
    r2 = fetch(r.h("Location"), bearer(tok))
    ok(r.status == 302 and r.h("Location") == url and r2.status == 302 and
       r2.h("Location") == url, "redirect_loop: Location is the URL itself")
    fz.fault("flt", "redirect", count=1, location="{cdn_url}&extra=1")
    r = fetch(url, bearer(tok))
    ok(r.h("Location").startswith(fz.cdn_url) and
       r.h("Location").endswith("&extra=1"), "redirect with a location")
    try:
        fz.fault("flt", "nonsense")
        ok(False, "an unknown fault mode is refused")
    except ValueError:
        ok(True, "an unknown fault mode is refused")


def wait_for(fn, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def oauth(fz, client_id=None, secret=None, form=True, account=None):
    cred = base64.b64encode(("%s:%s" % (
        client_id or fz.config["client_id"],
        secret or fz.config["client_secret"])).encode()).decode()
    params = "grant_type=account_credentials&account_id=" + \
        (account or fz.config["account_id"])
    hdrs = {"Authorization": "Basic " + cred}
    if form:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        return fetch(fz.base_url + "/oauth/token", hdrs, "POST",
                     params.encode())
    return fetch(fz.base_url + "/oauth/token?" + params, hdrs, "POST")


def test_oauth_api_jwt(fz):
    uuid_ = "/ab+c//d=="
    enc = fakezoom.double_encode(uuid_)
    is_(enc, "%252Fab%252Bc%252F%252Fd%253D%253D",
        "double_encode as Zoom wants it")
    before = fz.log()["stats"]["oauth_issued"]
    r = oauth(fz, secret="wrong")
    is_((r.status, json.loads(r.body).get("error")), (401, "invalid_client"),
        "oauth: a wrong secret gives 401 invalid_client")
    r = oauth(fz, account="other")
    is_(r.status, 400, "oauth: a wrong account_id gives 400")
    r = oauth(fz, form=True)
    body = json.loads(r.body)
    ok(r.status == 200 and body["token_type"] == "bearer" and
       body["expires_in"] == 3599 and "scope" in body and "api_url" in body,
       "oauth (form body): a token", body)
    at = body["access_token"]
    r = oauth(fz, form=False)
    ok(r.status == 200 and json.loads(r.body)["access_token"] != at,
       "oauth (query string): another token")
    is_(fz.log()["stats"]["oauth_issued"] - before, 2,
        "issued tokens are counted")

    rec = fz.base_url + "/v2/meetings/%s/recordings?include_fields=" \
        "download_access_token" % enc
    r = fetch(rec)
    is_(r.status, 401, "recordings API without a token: 401")
    r = fetch(rec, bearer(at))
    body = json.loads(r.body) if r.status == 200 else {}
    ok(r.status == 200 and body.get("uuid") == uuid_ and
       body.get("download_access_token"), "recordings API with a "
       "double-encoded uuid: 200 with download_access_token")
    files = {f["id"]: f for f in body.get("recording_files", [])}
    f1 = files.get("file-1", {})
    ok(f1.get("file_size") == 200000 and f1.get("download_url", "")
       .startswith(fz.base_url + "/rec/download/") and
       f1.get("file_type") == "MP4" and f1.get("meeting_id") == uuid_,
       "recordings API lists the files with /rec/download/ links", f1)
    ok("file-data" not in files, "a deleted file is not listed")
    dat = body.get("download_access_token", "")
    r = fetch(f1.get("download_url", fz.base_url), bearer(dat))
    is_(r.status, 302, "the download_access_token opens the download")
    r = fetch(f1.get("download_url", fz.base_url), bearer(at))
    is_(r.status, 302, "the OAuth token opens the download")
    other = fz.add_file("other-m", size=5, meeting_uuid="otherMeeting")
    is_(fetch(other["download_url"], bearer(dat)).status, 401,
        "a download_access_token is for its meeting only")

    once = urllib.parse.quote(uuid_, safe="")
    r = fetch(fz.base_url + "/v2/meetings/%s/recordings" % once, bearer(at))
    ok(r.status == 404 and json.loads(r.body)["code"] == 3301,
       "single-encoded uuid: 404 code 3301")
    r = fetch(fz.base_url + "/v2/meetings/%s/recordings" % uuid_, bearer(at))
    is_(r.status, 404, "raw uuid with /: 404")
    r = fetch(fz.base_url + "/v2/meetings/%s/recordings" %
              fakezoom.double_encode("nope=="), bearer(at))
    is_(json.loads(r.body), {"code": 3301, "message":
                             "This recording does not exist."},
        "unknown uuid: 3301")
    r = fetch(fz.base_url + "/v2/meetings/88031573992/recordings", bearer(at))
    is_(json.loads(r.body).get("uuid"), uuid_, "numeric meeting id works")
    fz.fault("_api", "500", count=1)
    is_(fetch(rec, bearer(at)).status, 500, "a fault on the recordings API")
    fz.fault("_oauth", "503", count=1)
    is_(oauth(fz).status, 503, "a fault on the token endpoint")

    fz.revoke_oauth()
    r = fetch(rec, bearer(at))
    is_((r.status, json.loads(r.body)["code"]), (401, 124),
        "a revoked OAuth token: 401 code 124")
    fz.set_config(oauth_lifetime=0)
    at2 = json.loads(oauth(fz).body)
    r = fetch(rec, bearer(at2["access_token"]))
    ok(at2["expires_in"] == 3599 and r.status == 401,
       "oauth_lifetime=0: reports 3599 s, dies at once")
    fz.set_config(oauth_lifetime=None)
    at3 = json.loads(oauth(fz).body)["access_token"]
    is_(fetch(rec, bearer(at3)).status, 200, "a fresh token works again")

    key, secret = fz.config["api_key"], fz.config["api_secret"]
    jwt = fakezoom.make_jwt(key, secret, int(time.time()) + 60)
    is_(fetch(rec, bearer(jwt)).status, 200, "JWT: the recordings API")
    is_(fetch(fz.file_info("file-own")["download_url"], bearer(jwt)).status,
        302, "JWT: a download")
    cases = [
        ("wrong secret", fakezoom.make_jwt(key, "other")),
        ("wrong iss", fakezoom.make_jwt("other", secret)),
        ("expired", fakezoom.make_jwt(key, secret, int(time.time()) - 5)),
        ("exp in ms", fakezoom.make_jwt(key, secret,
                                        int(time.time() * 1000) + 60000)),
        ("alg none", fakezoom.make_jwt(key, secret).replace(
            fakezoom._b64url(b'{"alg": "HS256", "typ": "JWT"}'),
            fakezoom._b64url(b'{"alg": "none", "typ": "JWT"}'))),
    ]
    for name, token in cases:
        is_(fetch(rec, bearer(token)).status, 401, "JWT %s: 401" % name)
    e = fz.requests(kind="recordings")[-1]
    is_(e.get("auth_reason"), "alg is not HS256", "the log says why")


def test_log_and_helpers(fz):
    log = fz.log()
    c = log["counts"].get("flt", {})
    ok(c.get("zoom", 0) > 10 and c.get("cdn", 0) > 5 and c.get("evil") == 1,
       "counts per file and server", c)
    # a handler marks its entry done after its client has the answer: under
    # load the last one may still be on its way (a bound, not a timing)
    deadline = time.monotonic() + 30
    while (not all(e.get("done") for e in log["requests"]) and
           time.monotonic() < deadline):
        time.sleep(0.05)
        log = fz.log()
    ok(all(e.get("done") for e in log["requests"]), "every request is finished",
       [e for e in log["requests"] if not e.get("done")][:3])
    e = fz.requests(server="zoom", file_id="file-1")[0]
    ok(e["method"] == "GET" and e["path"].startswith("/rec/") and
       isinstance(e["headers"], list), "log entries carry method, path, "
       "headers")
    secrets = set(log["secrets"])
    ok(fz.file_info("file-1")["token"] in secrets and
       fz.config["client_secret"] in secrets and
       any(s.startswith("fzoa.") for s in secrets),
       "the log lists the secrets handed out")
    toks = fz.tokens_sent_to("cdn")
    ok(len(toks) >= 1, "tokens_sent_to finds what reached the CDN")
    last = log["requests"][-1]["seq"]
    fetch(fz.base_url + "/nothing")
    is_([x["path"] for x in fz.log(since=last)["requests"]], ["/nothing"],
        "log(since=) gives only newer requests")

    body = b'{"event":"x"}'
    h = fakezoom.sign_webhook("s3cret", 1700000000, body)
    want = "v0=" + hmac.new(b"s3cret", b"v0:1700000000:" + body,
                            hashlib.sha256).hexdigest()
    ok(h["x-zm-signature"] == want and
       h["x-zm-request-timestamp"] == "1700000000",
       "sign_webhook: v0=hex(HMAC(secret, v0:ts:body))")
    ev = fz.webhook_event("/ab+c//d==")
    obj = ev["payload"]["object"]
    ids = [f["id"] for f in obj["recording_files"]]
    ok(ev["event"] == "recording.completed" and
       isinstance(ev["event_ts"], int) and
       ev["download_token"] == fz.file_info("file-1")["token"] and
       obj["uuid"] == "/ab+c//d==" and obj["id"] == 88031573992 and
       "file-1" in ids, "webhook_event: a recording.completed body")
    f1 = [f for f in obj["recording_files"] if f["id"] == "file-1"][0]
    ok(set(f1) >= {"id", "meeting_id", "recording_start", "recording_end",
                   "file_type", "file_size", "file_extension",
                   "download_url", "status", "recording_type"} and
       f1["file_size"] == 200000 and f1["download_url"] ==
       fz.file_info("file-1")["download_url"],
       "webhook files carry the fields and the server's download_url")
    made = fakezoom.make_recording_completed(
        {"uuid": "u1", "topic": "T"}, [{"id": "a", "size": 5,
                                        "omit": ["file_size"]}],
        download_token="dt", base_url="http://127.0.0.1:1")
    rf = made["payload"]["object"]["recording_files"][0]
    ok("file_size" not in rf and rf["download_url"].startswith(
        "http://127.0.0.1:1/rec/webhook_download/") and
       made["download_token"] == "dt",
       "make_recording_completed: omit, base_url, token")

    got = {}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got["headers"] = {k.lower(): v for k, v in self.headers.items()}
            got["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.handle_request)
    t.start()
    status, _, answer = fakezoom.post_webhook(
        "http://127.0.0.1:%d/hook" % srv.server_address[1], "s3cret", ev)
    t.join(10)
    srv.server_close()
    sig = got.get("headers", {}).get("x-zm-signature")
    ts = got.get("headers", {}).get("x-zm-request-timestamp", "")
    want = "v0=" + hmac.new(b"s3cret", b"v0:" + ts.encode() + b":" +
                            got.get("body", b""), hashlib.sha256).hexdigest()
    ok(status == 200 and answer == b"ok" and sig == want and
       json.loads(got["body"]) == ev and b" " not in got["body"][:20],
       "post_webhook sends a compact, signed body")

    fz.reset(keep_files=True)
    ok(fz.log()["requests"] == [] and fz.faults == {} and
       "file-1" in fz.files, "reset(keep_files=True)")
    fz.reset()
    ok(fz.files == {} and fz.meetings == {}, "reset()")


def test_program(tmp):
    state = os.path.join(tmp, "prog")
    spec = os.path.join(tmp, "files.json")
    with open(spec, "w") as fh:
        json.dump({"meetings": [{"uuid": "m/1", "download_token": "tok1"}],
                   "files": [{"id": "p1", "size": 70000,
                              "meeting_uuid": "m/1"}],
                   "faults": [{"file": "p1", "mode": "503", "count": 1}]},
                  fh)
    try:
        proc, ctl = fakezoom.start_subprocess(
            state, python=os.environ.get("PYTHON3") or sys.executable,
            extra_args=["--files", spec, "--config", "url_ttl=60"])
    except RuntimeError as e:
        ok(False, "fakezoom.py starts as a program", e)
        return
    try:
        with open(os.path.join(state, "fakezoom.json")) as fh:
            info = json.load(fh)
        ok(info["pid"] == proc.pid and info["cdn_url"].startswith(
            "http://127.0.0.2:"), "program: READY and state file")
        p1 = ctl.file_info("p1")
        is_(p1["sha256"], fakezoom.content_sha256("p1", 70000),
            "program: --files registered the file")
        is_(fetch(p1["download_url"], bearer("tok1")).status, 503,
            "program: --files fault applies")
        r = fetch(fetch(p1["download_url"], bearer("tok1")).h("Location"))
        is_(hashlib.sha256(r.body).hexdigest(), p1["sha256"],
            "program: download through the redirect")
        is_(ctl.config_public()["url_ttl"], 60, "program: --config")
        ctl.add_file("p2", data=b"\x00\xffbin", meeting_uuid="m/1")
        ctl.fault("p2", "500", count=1, where="cdn")
        loc = fetch(ctl.file_info("p2")["download_url"],
                    bearer("tok1")).h("Location")
        ok(fetch(loc).status == 500 and fetch(loc).body == b"\x00\xffbin",
           "program: control API add_file (binary) and fault")
        ctl.expire_download_token(meeting="m/1")
        is_(fetch(p1["download_url"], bearer("tok1")).status, 401,
            "program: control API expire_download_token")
        ev = ctl.webhook_event("m/1")
        is_(sorted(f["id"] for f in ev["payload"]["object"]
                   ["recording_files"]), ["p1", "p2"],
            "program: control API webhook_event")
        reqs = ctl.requests(server="cdn", file_id="p2")
        is_(len(reqs), 2, "program: control API log")
        try:
            ctl.fault("p1", "bogus")
            ok(False, "program: a bad control request is an error")
        except RuntimeError:
            ok(True, "program: a bad control request is an error")
        with open(os.path.join(state, "requests.jsonl")) as fh:
            lines = [json.loads(x) for x in fh]
        ok(len(lines) >= 6 and all("path" in x for x in lines),
           "program: requests.jsonl in the state dir")
    finally:
        proc.terminate()
        rc = proc.wait(10)
        proc.stdout.close()
    is_(rc, 0, "program: SIGTERM stops it cleanly")
    s = socket.socket()
    refused = s.connect_ex(("127.0.0.1", info["port"])) != 0
    s.close()
    ok(refused, "program: its port is closed after it stops")


if __name__ == "__main__":
    sys.exit(main())
