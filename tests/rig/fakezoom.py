#!/usr/bin/env python3
"""fakezoom: a stand-in Zoom for zoom2s3's tests (Python 3 stdlib only).

It listens on three loopback addresses:

  zoom   127.0.0.1:PORT      /rec/webhook_download/<key>[/<x>], /rec/download/<key>,
                             /oauth/token, /v2/meetings/<uuid>/recordings, /_control/*
  cdn    127.0.0.2:CDN_PORT  /replay/<key>.<ext>?Policy=..&Signature=..&Expires=..
                             (the pre-signed URL a download redirects to)
  evil   127.0.0.3:EVIL_PORT the same CDN, but a host no test's download_hosts
                             lists: a request that arrives here is a bug

Run it as a program (prints "READY port=P cdn_port=Q evil_port=R" on stdout once
it listens; SIGTERM or SIGINT stop it; it also exits when its parent dies):

  python3 fakezoom.py --port 0 --cdn-host 127.0.0.2 --state-dir DIR [--files F.json]

and drive it with the HTTP control API (FakeZoomControl), or import it and use
FakeZoom in-process.  Both offer the same methods.  See tests/rig/README.md.

File content is deterministic: content(seed, offset, length) gives the bytes of
any range without generating the rest, content_sha256(seed, size) their hash.
"""

import argparse
import base64
import datetime
import functools
import hashlib
import hmac
import http.server
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# ---------------------------------------------------------------- content --

# Byte o of a file with seed S is  T_k[B[(i + r_k) mod P]]  where k = o // P,
# i = o mod P, B is P bytes of SHA-256 counter-mode output of S, and
# (a_k, c_k, r_k) come from SHA-256(S, k): T_k(x) = (a_k * x + c_k) mod 256
# (a_k odd, so a permutation) and r_k rotates B.  Every period of the file
# differs, P is prime so it lines up with no part size, and producing any
# range costs one bytes.translate() per 64 KiB: several hundred MB/s.
PERIOD = 65521


@functools.lru_cache(maxsize=64)
def _base_block(seed):
    out = bytearray()
    counter = 0
    prefix = b"fakezoom-base:" + seed.encode() + b":"
    while len(out) < PERIOD:
        out += hashlib.sha256(prefix + str(counter).encode()).digest()
        counter += 1
    block = bytes(out[:PERIOD])
    return block + block


@functools.lru_cache(maxsize=8192)
def _period(seed, k):
    d = hashlib.sha256(b"fakezoom-period:%s:%d" % (seed.encode(), k)).digest()
    a = d[0] | 1
    c = d[1]
    rot = int.from_bytes(d[2:6], "big") % PERIOD
    table = bytes(((a * x + c) & 255) for x in range(256))
    return rot, table


def iter_content(seed, start, end):
    """Yield the bytes [start, end) of the file with this seed, in chunks."""
    seed = str(seed)
    base = _base_block(seed)
    pos = start
    while pos < end:
        k, i = divmod(pos, PERIOD)
        n = min(PERIOD - i, end - pos)
        rot, table = _period(seed, k)
        yield base[i + rot:i + rot + n].translate(table)
        pos += n


def content(seed, offset=0, length=None, size=None):
    """The bytes [offset, offset+length) (or to size) of a seeded file."""
    if length is None:
        if size is None:
            raise ValueError("give length or size")
        length = size - offset
    return b"".join(iter_content(seed, offset, offset + length))


def content_sha256(seed, size, offset=0):
    """Hex SHA-256 of bytes [offset, size) of a seeded file."""
    h = hashlib.sha256()
    for chunk in iter_content(seed, offset, size):
        h.update(chunk)
    return h.hexdigest()


def content_md5(seed, size, offset=0):
    h = hashlib.md5()
    for chunk in iter_content(seed, offset, size):
        h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------- webhooks --

def _now_ms():
    return int(time.time() * 1000)


def sign_webhook(secret, ts, body):
    """Headers Zoom sends with a webhook: x-zm-signature over v0:ts:body."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(secret, str):
        secret = secret.encode()
    ts = str(int(ts))
    mac = hmac.new(secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Zoom Marketplace/1.0a",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": "v0=" + mac.hexdigest(),
        "x-zm-trackingid": "v=2.0&s=%d&c=fakezoom" % _now_ms(),
    }


def webhook_bytes(event):
    """Compact JSON, as Zoom sends it (and as the signature covers)."""
    if isinstance(event, (bytes, bytearray)):
        return bytes(event)
    if isinstance(event, str):
        return event.encode()
    return json.dumps(event, separators=(",", ":"),
                      ensure_ascii=False).encode()


def url_validation_event(plain_token):
    return {"event": "endpoint.url_validation", "event_ts": _now_ms(),
            "payload": {"plainToken": plain_token}}


def post_webhook(url, secret, event, ts=None, timeout=10, headers=None):
    """POST a signed webhook; returns (status, headers dict, body bytes)."""
    body = webhook_bytes(event)
    if ts is None:
        ts = int(time.time())
    hdrs = sign_webhook(secret, ts, body)
    if headers:
        hdrs.update(headers)
    req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


_EXT_TYPE = {
    "MP4": ("MP4", "shared_screen_with_speaker_view"),
    "M4A": ("M4A", "audio_only"),
    "VTT": ("TRANSCRIPT", "audio_transcript"),
    "TXT": ("CHAT", "chat_file"),
    "JSON": ("TIMELINE", "timeline"),
}


def _file_entry(f, base_url, meeting_uuid):
    ext = f.get("file_extension", "MP4")
    ftype, rtype = _EXT_TYPE.get(ext.upper(), ("MP4", "shared_screen"))
    key = f.get("key") or _file_key(f["id"])
    size = f.get("file_size", f.get("size", 0))
    e = {
        "id": f["id"],
        "meeting_id": meeting_uuid,
        "recording_start": f.get("recording_start", "2026-11-26T20:06:21Z"),
        "recording_end": f.get("recording_end", "2026-11-26T21:06:21Z"),
        "file_type": f.get("file_type", ftype),
        "file_size": size,
        "play_url": base_url + "/rec/play/" + key,
        "download_url": f.get("download_url") or (
            base_url + "/rec/webhook_download/" + key + "/" +
            _file_key("x" + f["id"])),
        "file_extension": ext,
        "status": f.get("status", "completed"),
        "recording_type": f.get("recording_type", rtype),
    }
    for opt in ("file_name", "file_path", "encryption_fingerprint"):
        if opt in f:
            e[opt] = f[opt]
    for drop in f.get("omit", ()):
        e.pop(drop, None)
    return e


def make_recording_completed(meeting, files, download_token=None,
                             base_url="http://127.0.0.1:9",
                             event="recording.completed", event_ts=None,
                             participant_audio_files=()):
    """A realistic recording.completed body (dict), shaped like Zoom's docs
    example.  meeting: dict (uuid, id, topic, host_email, ... all optional);
    files: dicts with id and size (or file_size), optional file_extension,
    file_type, recording_type, recording_start/_end, status, download_url,
    and "omit": [field names to leave out]."""
    uuid_ = meeting.get("uuid", "4444AAAiAAAAAiAiAiiAii==")
    account = meeting.get("account_id", "fz-account")
    rfiles = [_file_entry(f, base_url, uuid_) for f in files]
    pfiles = [_file_entry(f, base_url, uuid_) for f in participant_audio_files]
    obj = {
        "id": meeting.get("id", 88031573992),
        "uuid": uuid_,
        "host_id": meeting.get("host_id", "x1yCzABCDEfg23HiJKl4mN"),
        "account_id": account,
        "topic": meeting.get("topic", "Fake meeting"),
        "type": meeting.get("type", 2),
        "start_time": meeting.get("start_time", "2026-11-26T20:05:00Z"),
        "password": meeting.get("password", "a+b$&!1"),
        "timezone": meeting.get("timezone", "Europe/Berlin"),
        "host_email": meeting.get("host_email", "host@example.com"),
        "duration": meeting.get("duration", 60),
        "share_url": base_url + "/rec/share/" + _file_key("s" + uuid_),
        "total_size": sum(e.get("file_size", 0) for e in rfiles + pfiles),
        "recording_count": len(rfiles) + len(pfiles),
        "on_prem": False,
        "recording_play_passcode": "yNYIS408EJygs7rE5vVsJwXIz4-VW7MH",
        "recording_files": rfiles,
    }
    if pfiles:
        obj["participant_audio_files"] = pfiles
    body = {
        "event": event,
        "event_ts": event_ts if event_ts is not None else _now_ms(),
        "payload": {"account_id": account, "object": obj},
    }
    if download_token is not None:
        body["download_token"] = download_token
    return body


# ------------------------------------------------------------ tokens, JWT --

def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(api_key, api_secret, exp=None, alg="HS256", extra=None):
    """An HS256 JWT as a legacy Zoom JWT app makes it (iss, exp in s)."""
    header = {"alg": alg, "typ": "JWT"}
    claims = {"iss": api_key, "exp": int(time.time()) + 3600
              if exp is None else exp}
    if extra:
        claims.update(extra)
    signing = _b64url(json.dumps(header).encode()) + "." + \
        _b64url(json.dumps(claims).encode())
    sig = hmac.new(api_secret.encode(), signing.encode(), hashlib.sha256)
    return signing + "." + _b64url(sig.digest())


def check_jwt(token, api_key, api_secret, now=None):
    """(ok, reason, claims) for an HS256 JWT the way Zoom judged them."""
    now = time.time() if now is None else now
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(_b64url_decode(h64))
        claims = json.loads(_b64url_decode(p64))
        sig = _b64url_decode(s64)
    except (ValueError, TypeError):
        return False, "not a JWT", None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return False, "alg is not HS256", claims
    want = hmac.new(api_secret.encode(), (h64 + "." + p64).encode(),
                    hashlib.sha256).digest()
    if not hmac.compare_digest(want, sig):
        return False, "bad signature", claims
    if not isinstance(claims, dict) or claims.get("iss") != api_key:
        return False, "iss is not the API key", claims
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return False, "no numeric exp", claims
    if exp > 1e11:
        return False, "exp is in milliseconds", claims
    if exp <= now:
        return False, "expired", claims
    return True, "ok", claims


def double_encode(uuid_):
    """How Zoom wants a meeting uuid in a path: percent-encoded twice."""
    once = urllib.parse.quote(uuid_, safe="")
    return urllib.parse.quote(once, safe="")


def _file_key(file_id):
    """The opaque path segment that stands for a file in its URLs."""
    return _b64url(hashlib.sha256(b"fz-key:" + file_id.encode()).digest()[:18])


def _rand_token(prefix):
    return prefix + _b64url(os.urandom(24))


# ------------------------------------------------------------------ faults --

# Fault modes and where they act by default ("zoom": the download URL on
# 127.0.0.1; "cdn": the pre-signed URL on 127.0.0.2/3; "any": either).
FAULT_WHERE = {
    "status": "zoom", "500": "zoom", "503": "zoom", "404": "zoom",
    "429": "zoom", "html": "zoom", "token_refused": "zoom",
    "close": "any", "close_mid_body": "cdn", "slow": "cdn", "stall": "cdn",
    "wrong_length": "cdn", "ignore_range": "cdn", "expired_url": "cdn",
    "redirect": "zoom", "redirect_foreign": "zoom", "redirect_evil": "zoom",
    "redirect_file": "zoom", "redirect_ftp": "zoom", "redirect_https": "zoom",
    "redirect_loop": "zoom", "direct": "zoom",
}
BODY_FAULTS = ("close_mid_body", "slow", "wrong_length", "ignore_range",
               "direct")

HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Error - Zoom</title></head>"
             b"<body><div class=\"error-message\">This recording does not "
             b"exist or has been deleted, or you are not authorized to "
             b"download it.</div></body></html>\n")

CONTENT_TYPES = {"MP4": "video/mp4", "M4A": "audio/mp4", "VTT": "text/vtt",
                 "TXT": "text/plain", "JSON": "application/json",
                 "CSV": "text/csv"}


# ------------------------------------------------- account (users, listing) --
#
# What zoom2s3ctl backfill and the spooler's retention talk to, as Zoom's API
# reference describes it: GET /v2/users (status=active|inactive|pending,
# page_size up to 2000, next_page_token), GET /v2/users/<id or email>/recordings
# (from/to as yyyy-mm-dd UTC, both inclusive, refused over one month;
# page_size up to 300; next_page_token, which expires after 15 minutes; each
# meeting with the fields of a webhook's payload.object and /rec/download/
# links), and DELETE /v2/meetings/<uuid, double-encoded>/recordings/<file id>
# ?action=trash|delete (204; 404 once the file is gone; its download then
# answers Zoom's HTML page). Faults: "_users", "_list" (every recordings
# listing) or "_list:<user id>", and "_delete" (e.g. mode "429" with
# retry_after). Kept apart from the download side above.

ACCOUNT_DEFAULTS = {
    "users_page_max": 2000,      # largest page_size GET /users honours
    "recordings_page_max": 300,  # ... and GET /users/<id>/recordings
    "listing_host_email": True,  # listed meetings carry host_email
    "page_token_ttl": 900,       # next_page_token life, s
}
USER_STATUSES = ("active", "inactive", "pending")
MAX_RANGE_DAYS = 30              # to - from; more is "over one month"


def _parse_day(text):
    """A yyyy-mm-dd date as a datetime.date, or None."""
    if not isinstance(text, str) or len(text) != 10:
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        return None


def _today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def _zoom_error(code, message):
    return {"code": code, "message": message}


class _AccountRoutes:
    """The handler's account endpoints (a mixin of _Handler)."""

    def _account_route(self, parts, m):
        """True when the request was one of these endpoints (answered)."""
        if len(parts) == 3 and parts[1:3] == ["v2", "users"] and m == "GET":
            self._users()
            return True
        if (len(parts) == 5 and parts[1:3] == ["v2", "users"] and
                parts[4] == "recordings" and m == "GET"):
            self._user_recordings(urllib.parse.unquote(parts[3]))
            return True
        if (len(parts) == 6 and parts[1:3] == ["v2", "meetings"] and
                parts[4] == "recordings" and m == "DELETE"):
            self._delete_recording_file(parts[3], urllib.parse.unquote(parts[5]))
            return True
        return False

    def _api_gate(self, kind, fault_targets):
        """Logs kind, plays a fault, checks the Bearer. False when answered."""
        fz = self.server.fz
        self._note(kind=kind)
        for target in fault_targets:
            fault = fz._take_fault(target, "zoom", self.entry)
            if fault and self._status_fault(fault, None):
                return False
        ok, how, reason = fz._check_api_auth(self._bearer())
        self._note(auth_kind=how, auth_ok=ok)
        if not ok:
            self._note(auth_reason=reason)
            self._json(401, _zoom_error(124, "Invalid access token."))
            return False
        return True

    def _page_args(self, page_max):
        """(page_size, token record or None); answers 400 and returns None
        for a bad one."""
        fz = self.server.fz
        size_text = (self.qs.get("page_size") or ["30"])[0]
        if not size_text.isdigit() or int(size_text) < 1:
            self._json(400, _zoom_error(300, "Invalid field: page_size."))
            return None
        token = (self.qs.get("next_page_token") or [""])[0]
        record = None
        if token:
            record = fz._page_token(token)
            if record is None:
                self._json(400, _zoom_error(
                    300, "The next page token is invalid or expired."))
                return None
        return min(int(size_text), page_max), record

    def _users(self):
        fz = self.server.fz
        if not self._api_gate("users", ("_users",)):
            return
        status = (self.qs.get("status") or ["active"])[0]
        if status not in USER_STATUSES:
            return self._json(400, _zoom_error(300, "Invalid field: status."))
        self._note(user_status=status)
        args = self._page_args(fz.config["users_page_max"])
        if args is None:
            return
        size, record = args
        offset = record["offset"] if record else 0
        if record and record["query"] != ("users", status):
            return self._json(400, _zoom_error(
                300, "The next page token is invalid or expired."))
        users = fz._users_with(status)
        self._json(200, fz._page(users, offset, size, ("users", status), "users",
                                 {"page_number": 1}))

    def _user_recordings(self, who):
        fz = self.server.fz
        if not self._api_gate("user_recordings", ("_list", "_list:" + who)):
            return
        user = fz._user_for(who)
        self._note(user=who)
        if user is None:
            return self._json(404, _zoom_error(1001, "User does not exist: %s." % who))
        today = _today()
        to_text = (self.qs.get("to") or [today.isoformat()])[0]
        from_text = (self.qs.get("from") or [today.isoformat()])[0]
        first, last = _parse_day(from_text), _parse_day(to_text)
        if first is None or last is None:
            return self._json(400, _zoom_error(300, "Invalid field: from or to."))
        self._note(range_from=from_text, range_to=to_text)
        if last < first:
            return self._json(400, _zoom_error(
                300, "The end date must be later than the start date."))
        if (last - first).days > MAX_RANGE_DAYS:
            self._note(range_error="over one month")
            return self._json(400, _zoom_error(
                300, "The date range must be within one month."))
        args = self._page_args(fz.config["recordings_page_max"])
        if args is None:
            return
        size, record = args
        query = ("recordings", user["id"], from_text, to_text)
        if record and record["query"] != query:
            return self._json(400, _zoom_error(
                300, "The next page token is invalid or expired."))
        offset = record["offset"] if record else 0
        meetings = fz._listed_meetings(user, first, last)
        self._json(200, fz._page(meetings, offset, size, query, "meetings",
                                 {"from": from_text, "to": to_text}))

    def _delete_recording_file(self, seg, file_id):
        fz = self.server.fz
        if not self._api_gate("delete", ("_delete",)):
            return
        action = (self.qs.get("action") or ["trash"])[0]
        self._note(file_id=file_id, uuid_segment=seg, action=action)
        if action not in ("trash", "delete"):
            return self._json(400, _zoom_error(300, "Invalid field: action."))
        meeting = self._meeting_of_segment(seg)
        if meeting is None:
            return self._json(404, _zoom_error(3301, "This recording does not exist."))
        if not fz._remove_file(meeting, file_id, action):
            return self._json(404, _zoom_error(
                3301, "There is no recording for this meeting."))
        self._send(204, b"", None)

    def _meeting_of_segment(self, seg):
        """The meeting a path segment names: its uuid double-encoded (as
        Zoom demands, unless strict_uuid is off) or its numeric id; None."""
        fz = self.server.fz
        uuid_ = urllib.parse.unquote(urllib.parse.unquote(seg))
        meeting = fz._meeting_for(uuid_)
        if (meeting is not None and fz.config["strict_uuid"] and
                not uuid_.isdigit() and
                seg.upper() != double_encode(uuid_).upper()):
            self._note(uuid_error="not double-encoded")
            meeting = None
        return meeting

    def _account_control(self, path, m, arg):
        """Control API for users: True when answered."""
        fz = self.server.fz
        if path == "users" and m == "POST":
            specs = arg.get("users", [arg]) if isinstance(arg, dict) else arg
            self._json(200, {"users": [fz.add_user(**s) for s in specs]})
            return True
        return False


class _Account:
    """FakeZoom's account state: users, meetings by host, page tokens."""

    def _reset_account(self, keep_files):
        with self._lock:
            if not keep_files:
                self.users = {}
            self._page_tokens = {}

    def add_user(self, id, email=None, status="active", **extra):
        """A user of the account (status active, inactive or pending)."""
        if status not in USER_STATUSES:
            raise ValueError("status must be one of %s" % (USER_STATUSES,))
        with self._lock:
            u = {"id": id, "email": email or "%s@example.com" % id.lower(),
                 "status": status, "first_name": id, "last_name": "Fake",
                 "type": 2, "pmi": 5000000000 + len(self.users),
                 "timezone": "Europe/Berlin", "verified": 1, "dept": "",
                 "created_at": "2024-01-02T03:04:05Z",
                 "user_created_at": "2024-01-02T03:04:05Z",
                 "last_login_time": "2026-11-01T08:00:00Z",
                 "language": "en-US", "role_id": "2"}
            u.update(extra)
            self.users[id] = u
            return dict(u)

    def _users_with(self, status):
        with self._lock:
            return [dict(u) for u in self.users.values() if u["status"] == status]

    def _user_for(self, who):
        with self._lock:
            u = self.users.get(who)
            if u is None:
                same = [x for x in self.users.values()
                        if x["email"].lower() == who.lower()]
                u = same[0] if same else None
            return dict(u) if u else None

    def _listed_meetings(self, user, first, last):
        """The user's meetings that started between first and last (dates,
        UTC, inclusive) and still hold a file, newest first, each shaped
        like a webhook's payload.object."""
        out = []
        with self._lock:
            for m in self.meetings.values():
                if m.get("host_id") != user["id"]:
                    continue
                day = _parse_day(str(m.get("start_time", ""))[:10])
                if day is None or not first <= day <= last:
                    continue
                answer = self._recordings_answer(m, False, 0)
                if not answer["recording_files"]:
                    continue
                if self.config["listing_host_email"]:
                    answer["host_email"] = m.get("host_email", user["email"])
                else:
                    answer.pop("host_email", None)
                out.append(answer)
        out.sort(key=lambda a: a["start_time"], reverse=True)
        return out

    def _page(self, items, offset, size, query, key, extra):
        """One page of items from offset, with a next_page_token when more."""
        chunk = items[offset:offset + size]
        token = ""
        if offset + size < len(items):
            token = _rand_token("fznpt.")
            with self._lock:
                self._page_tokens[token] = {
                    "query": query, "offset": offset + size,
                    "expires_at": time.time() + self.config["page_token_ttl"]}
        out = dict(extra)
        out.update({"page_count": (len(items) + size - 1) // size,
                    "page_size": size, "total_records": len(items),
                    "next_page_token": token, key: chunk})
        return out

    def _page_token(self, token):
        with self._lock:
            record = self._page_tokens.get(token)
            if record is None or time.time() >= record["expires_at"]:
                return None
            return dict(record)

    def _remove_file(self, meeting, file_id, action):
        """Trash or delete one file of the meeting; False when it is not
        there (never was, or already trashed or deleted)."""
        with self._lock:
            f = self.files.get(file_id)
            if (f is None or f["meeting_uuid"] != meeting["uuid"] or
                    f["deleted"]):
                return False
            f["deleted"] = True
            f["removed"] = action
            f["removed_at"] = time.time()
            return True


class _AccountControl:
    """FakeZoomControl's account methods."""

    def add_user(self, id, **kw):
        return self._call("POST", "users", dict(kw, id=id))["users"][0]


# ------------------------------------------------------------------ server --

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, fz, role):
        self.fz = fz
        self.role = role
        super().__init__(addr, _Handler)


class _Handler(_AccountRoutes, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakezoom/1"
    timeout = 120
    # Headers and body go out in two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK (40 ms a small answer).
    disable_nagle_algorithm = True

    # -- plumbing --
    def log_message(self, fmt, *args):
        if self.server.fz.verbose:
            sys.stderr.write("fakezoom %s: %s\n" % (self.server.role,
                                                     fmt % args))

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        fz = self.server.fz
        self.raw_path, _, self.query = self.path.partition("?")
        self.qs = urllib.parse.parse_qs(self.query, keep_blank_values=True)
        self.body = b""
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.body = self.rfile.read(n)
        self.entry = None
        if self.raw_path.startswith("/_control/"):
            if self.server.role != "zoom":
                return self._send(404, b"", "text/plain")
            return self._control()
        self.entry = fz._log_start(self)
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
            self._note(client_gone=type(e).__name__)
            self.close_connection = True
        finally:
            fz._log_end(self.entry)

    def _send(self, status, body, ctype, headers=(), close=False):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
            self._count(len(body))
        self._note(status=status)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj).encode(), "application/json",
                   headers)

    def _xml_error(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s'
                '</Code><Message>%s</Message></Error>' % (code, message))
        self._send(status, body.encode(), "application/xml")

    def _count(self, n):
        if self.entry is not None:
            with self.server.fz._lock:
                self.entry["bytes_sent"] += n

    def _note(self, **kw):
        if self.entry is not None:
            with self.server.fz._lock:
                self.entry.update(kw)

    def _bearer(self):
        h = self.headers.get("Authorization") or ""
        if h[:7].lower() == "bearer ":
            return h[7:].strip()
        return None

    # -- routing --
    def _route(self):
        role = self.server.role
        parts = self.raw_path.split("/")
        m = self.command
        if role in ("cdn", "evil"):
            if len(parts) == 3 and parts[1] == "replay" and m in ("GET",
                                                                  "HEAD"):
                return self._cdn(parts[2].split(".")[0])
            return self._xml_error(404, "NoSuchKey",
                                   "The specified key does not exist.")
        if self.raw_path == "/oauth/token" and m == "POST":
            return self._oauth()
        if (len(parts) == 5 and parts[1:3] == ["v2", "meetings"] and
                parts[4] == "recordings" and m == "GET"):
            return self._recordings(parts[3])
        if (len(parts) in (4, 5) and parts[1] == "rec" and
                parts[2] == "webhook_download" and m in ("GET", "HEAD")):
            return self._download(parts[3], "webhook")
        if (len(parts) == 4 and parts[1:3] == ["rec", "download"] and
                m in ("GET", "HEAD")):
            return self._download(parts[3], "api")
        if self._account_route(parts, m):
            return
        if (len(parts) > 5 and parts[1:3] == ["v2", "meetings"] and
                parts[-1] == "recordings"):
            self._note(kind="recordings", uuid_error="unencoded /")
            return self._json(404, {"code": 3301, "message":
                                    "This recording does not exist."})
        return self._json(404, {"code": 404, "message": "Not found."})

    # -- faults shared by both sides --
    def _stall(self, seconds):
        """Hold the connection, answer nothing, until the client gives up,
        the server stops or `seconds` pass."""
        fz = self.server.fz
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + seconds
        self._note(stalled=True)
        while time.monotonic() < deadline and not fz._stopping.is_set():
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
                time.sleep(0.1)
        self._note(stall_ended=("client closed" if
                                time.monotonic() < deadline else "timeout"))

    def _abort_connection(self, rst=False):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _status_fault(self, fault, f):
        """Answer for a fault that replaces the whole response; False when
        the fault is not of that kind."""
        fz = self.server.fz
        mode = fault["mode"]
        if mode in ("500", "503", "404", "429"):
            fault = dict(fault, status=int(mode))
            if mode == "429":
                fault.setdefault("retry_after", 1)
            mode = "status"
        if mode == "status":
            hdrs = []
            if fault.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(fault["retry_after"])))
            status = int(fault.get("status", 500))
            body = fault.get("body")
            if body is None:
                body = json.dumps({"code": status, "message":
                                   "fakezoom fault %d" % status})
            self._send(status, body.encode(),
                       fault.get("content_type", "application/json"), hdrs)
        elif mode == "html":
            self._send(200, HTML_PAGE, "text/html;charset=utf-8")
        elif mode == "token_refused":
            self._auth_failure("token refused (fault)")
        elif mode == "close":
            self._abort_connection(rst=fault.get("rst", False))
        elif mode == "stall" and fault.get("after") is None:
            self._stall(float(fault.get("seconds", 600)))
        elif mode == "expired_url":
            self._xml_error(403, "AccessDenied", "Request has expired")
        elif mode.startswith("redirect"):
            self._send(302, b"", "text/html",
                       [("Location", fz._fault_location(fault, f, self))])
        else:
            return False
        return True

    # -- zoom side --
    def _auth_failure(self, reason):
        self._note(auth_ok=False, auth_reason=reason)
        if self.server.fz.config["auth_fail_mode"] == "html200":
            self._send(200, HTML_PAGE, "text/html;charset=utf-8")
        else:
            self._json(401, {"code": 124, "message": "Invalid access token."})

    def _download(self, key, kind):
        fz = self.server.fz
        f = fz._file_by_key(key)
        self._note(kind=kind)
        if f is None:
            return self._json(404, {"code": 3301, "message":
                                    "This recording does not exist."})
        self._note(file_id=f["id"])
        fault = fz._take_fault(f["id"], "zoom", self.entry)
        if fault and self._status_fault(fault, f):
            return
        if f.get("deleted"):
            return self._send(200, HTML_PAGE, "text/html;charset=utf-8")
        ok, how, reason = fz._check_download_auth(f, self._bearer(),
                                                  self.qs)
        self._note(auth_kind=how)
        if not ok:
            return self._auth_failure(reason)
        self._note(auth_ok=True)
        if fault and (fault["mode"] in BODY_FAULTS or
                      fault["mode"] == "stall"):
            return self._body(f, fault)
        self._send(302, b"", "text/html",
                   [("Location", fz._signed_url(f, "cdn"))])

    def _oauth(self):
        fz = self.server.fz
        params = dict(self.qs)
        ctype = self.headers.get("Content-Type") or ""
        if self.body and "x-www-form-urlencoded" in ctype:
            params.update(urllib.parse.parse_qs(self.body.decode(),
                                                keep_blank_values=True))
            self._note(body=self.body.decode(errors="replace"))
        fault = fz._take_fault("_oauth", "zoom", self.entry)
        if fault and self._status_fault(fault, None):
            return
        basic = self.headers.get("Authorization") or ""
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (fz.config["client_id"],
                        fz.config["client_secret"])).encode()).decode()
        if not hmac.compare_digest(basic.encode(), want.encode()):
            self._note(oauth="bad client")
            return self._json(401, {"reason": "Invalid client_id or "
                                    "client_secret", "error": "invalid_client"})
        grant = (params.get("grant_type") or [""])[0]
        if grant != "account_credentials":
            self._note(oauth="bad grant_type")
            return self._json(400, {"reason": "Unsupported grant type",
                                    "error": "unsupported_grant_type"})
        account = (params.get("account_id") or [""])[0]
        if account != fz.config["account_id"]:
            self._note(oauth="bad account_id")
            return self._json(400, {"reason": "Invalid account_id",
                                    "error": "invalid_request"})
        token = fz._issue_oauth()
        self._note(oauth="issued", issued_token=token)
        self._json(200, {"access_token": token, "token_type": "bearer",
                         "expires_in": fz.config["oauth_expires_in"],
                         "scope": "cloud_recording:read:list_recording_files"
                                  ":admin recording:read:admin",
                         "api_url": "http://%s:%d" % (fz.host, fz.port)})

    def _recordings(self, seg):
        fz = self.server.fz
        self._note(kind="recordings", uuid_segment=seg)
        fault = fz._take_fault("_api", "zoom", self.entry)
        if fault and self._status_fault(fault, None):
            return
        ok, how, reason = fz._check_api_auth(self._bearer())
        self._note(auth_kind=how)
        if not ok:
            self._note(auth_ok=False, auth_reason=reason)
            return self._json(401, {"code": 124,
                                    "message": "Invalid access token."})
        self._note(auth_ok=True)
        meeting = self._meeting_of_segment(seg)
        if meeting is None:
            return self._json(404, {"code": 3301, "message":
                                    "This recording does not exist."})
        self._note(meeting_uuid=meeting["uuid"])
        want_token = "download_access_token" in \
            ",".join(self.qs.get("include_fields", []))
        ttl = int((self.qs.get("ttl") or [fz.config["dat_ttl"]])[0])
        self._json(200, fz._recordings_answer(meeting, want_token, ttl))

    # -- cdn side --
    def _cdn(self, key):
        fz = self.server.fz
        role = self.server.role
        f = fz._file_by_key(key)
        auth = self.headers.get("Authorization")
        self._note(kind="cdn", auth_present=auth is not None)
        if f is None:
            return self._xml_error(404, "NoSuchKey",
                                   "The specified key does not exist.")
        self._note(file_id=f["id"])
        fault = fz._take_fault(f["id"], "cdn", self.entry)
        if fault and self._status_fault(fault, f):
            return
        why = fz._check_signed(self.raw_path, self.qs)
        if why:
            self._note(url_error=why)
            return self._xml_error(403, "AccessDenied", why)
        if auth is not None and fz.config["cdn_reject_auth"]:
            return self._xml_error(400, "InvalidArgument", "Only one auth "
                                   "mechanism allowed; only the Signature "
                                   "query parameter or the Authorization "
                                   "header should be specified")
        if role == "evil":
            self._note(evil=True)
        self._body(f, fault)

    def _range(self, size, fault):
        """(start, end, status, headers) for the Range header, or None when
        the range cannot be satisfied."""
        rng = self.headers.get("Range")
        self._note(range=rng)
        if not rng or (fault and fault["mode"] == "ignore_range"):
            return 0, size, 200, []
        spec = rng.strip()
        if not spec.startswith("bytes=") or "," in spec:
            return 0, size, 200, []
        first, _, last = spec[6:].partition("-")
        try:
            if first == "":
                start = max(size - int(last), 0)
                end = size
            else:
                start = int(first)
                end = size if last == "" else min(int(last) + 1, size)
        except ValueError:
            return 0, size, 200, []
        if start >= size or start >= end:
            return None
        return start, end, 206, [("Content-Range", "bytes %d-%d/%d" %
                                  (start, end - 1, size))]

    def _body(self, f, fault):
        fz = self.server.fz
        size = f["size"]
        r = self._range(size, fault)
        if r is None:
            return self._send(416, b"", "application/xml",
                              [("Content-Range", "bytes */%d" % size)])
        start, end, status, hdrs = r
        mode = fault["mode"] if fault else None
        want = end - start
        declared = want
        if mode == "wrong_length":
            declared = max(want + int(fault.get("delta", -1)), 0)
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPES.get(
            f.get("file_extension", "MP4").upper(),
            "application/octet-stream"))
        self.send_header("Content-Length", str(declared))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"%s"' % _file_key("etag" + f["id"]))
        for k, v in hdrs:
            self.send_header(k, v)
        self.end_headers()
        self._note(status=status, declared_length=declared)
        if self.command == "HEAD":
            return
        cut = None
        if mode == "close_mid_body":
            cut = int(fault.get("at", want // 2))
        stall_at = None
        if mode == "stall":
            stall_at = int(fault.get("after", 0))
        chunk = int(fault.get("chunk", 16384)) if mode == "slow" else 65536
        delay = float(fault.get("delay", 0.05)) if mode == "slow" else 0
        sent = 0
        limit = min(declared, want)
        for piece in fz._iter_file(f, start, start + limit):
            for i in range(0, len(piece), chunk):
                part = piece[i:i + chunk]
                if cut is not None and sent + len(part) >= cut:
                    part = part[:cut - sent]
                if stall_at is not None and sent + len(part) >= stall_at:
                    part = part[:stall_at - sent]
                self.wfile.write(part)
                sent += len(part)
                self._count(len(part))
                if cut is not None and sent >= cut:
                    self._note(cut_at=sent)
                    return self._abort_connection(fault.get("rst", False))
                if stall_at is not None and sent >= stall_at:
                    self.wfile.flush()
                    return self._stall(float(fault.get("seconds", 600)))
                if delay:
                    self.wfile.flush()
                    if fz._stopping.wait(delay):
                        return self._abort_connection()
        if cut is not None or stall_at is not None:
            # the cut point lies at or past the end of what we send
            if cut is not None:
                self._note(cut_at=sent)
                return self._abort_connection(fault.get("rst", False))
            self.wfile.flush()
            return self._stall(float(fault.get("seconds", 600)))
        if declared > want:
            pad = b"\0" * (declared - want)
            self.wfile.write(pad)
            self._count(len(pad))

    # -- control API --
    def _control(self):
        fz = self.server.fz
        path = self.raw_path[len("/_control/"):]
        m = self.command
        try:
            arg = json.loads(self.body) if self.body else {}
        except ValueError:
            return self._json(400, {"error": "body is not JSON"})
        try:
            if path == "health":
                return self._json(200, {"ok": True})
            if self._account_control(path, m, arg):
                return
            if path == "files" and m == "POST":
                specs = arg.get("files", [arg]) if isinstance(arg, dict) \
                    else arg
                return self._json(200, {"files": [fz.add_file(**s)
                                                  for s in specs]})
            if path.startswith("files/"):
                fid = urllib.parse.unquote(path[6:])
                if m == "DELETE":
                    fz.delete_file(fid)
                    return self._json(200, {"ok": True})
                return self._json(200, fz.file_info(fid))
            if path == "meetings" and m == "POST":
                return self._json(200, fz.add_meeting(**arg))
            if path == "faults" and m == "POST":
                fz.fault(**arg)
                return self._json(200, {"ok": True})
            if path == "faults" and m == "DELETE":
                fz.clear_faults(arg.get("file"))
                return self._json(200, {"ok": True})
            if path == "tokens" and m == "POST":
                action = arg.pop("action", "")
                if action == "expire_download_token":
                    fz.expire_download_token(**arg)
                elif action == "revoke_oauth":
                    fz.revoke_oauth()
                else:
                    return self._json(400, {"error": "unknown action"})
                return self._json(200, {"ok": True})
            if path == "config" and m == "POST":
                fz.set_config(**arg)
                return self._json(200, fz.config_public())
            if path == "config":
                return self._json(200, fz.config_public())
            if path == "log":
                since = int((self.qs.get("since") or ["0"])[0])
                return self._json(200, fz.log(since))
            if path == "reset" and m == "POST":
                fz.reset(**arg)
                return self._json(200, {"ok": True})
            if path == "webhook":
                meeting = (self.qs.get("meeting") or [""])[0]
                event = (self.qs.get("event") or
                         ["recording.completed"])[0]
                return self._json(200, fz.webhook_event(meeting, event))
        except (KeyError, TypeError, ValueError) as e:
            return self._json(400, {"error": "%s: %s" %
                                    (type(e).__name__, e)})
        return self._json(404, {"error": "no such control path"})


class _Common:
    """Helpers both FakeZoom and FakeZoomControl offer."""

    def requests(self, server=None, file_id=None, kind=None, since=0):
        """Logged requests, filtered."""
        out = []
        for e in self.log(since)["requests"]:
            if server is not None and e["server"] != server:
                continue
            if file_id is not None and e.get("file_id") != file_id:
                continue
            if kind is not None and e.get("kind") != kind:
                continue
            out.append(e)
        return out

    def tokens_sent_to(self, server):
        """Authorization header values that reached a server."""
        return [e["authorization"] for e in self.requests(server=server)
                if e.get("authorization") is not None]


class FakeZoom(_Account, _Common):
    """The server, in-process.  start() binds and serves in threads."""

    DEFAULTS = {
        "api_key": "fz-api-key",
        "api_secret": "fz-api-secret",
        "client_id": "fz-client-id",
        "client_secret": "fz-client-secret",
        "account_id": "fz-account",
        "url_ttl": 300,            # life of a pre-signed CDN URL, s
        "oauth_expires_in": 3599,  # what /oauth/token reports
        "oauth_lifetime": None,    # how long a token really works (None: =)
        "dat_ttl": 86400,          # download_access_token life by default
        "token_ttl": 86400,        # webhook download_token life
        "auth_fail_mode": "json401",  # or "html200"
        "cdn_reject_auth": True,   # CDN answers 400 to an Authorization
        "strict_uuid": True,       # recordings API demands double encoding
        "accept_query_token": False,  # ?access_token= (Zoom: refused)
    }
    DEFAULTS = dict(DEFAULTS, **ACCOUNT_DEFAULTS)

    def __init__(self, host="127.0.0.1", port=0, cdn_host="127.0.0.2",
                 cdn_port=0, evil_host="127.0.0.3", evil_port=0,
                 state_dir=None, verbose=False, **config):
        self.host, self.port = host, port
        self.cdn_host, self.cdn_port = cdn_host, cdn_port
        self.evil_host, self.evil_port = evil_host, evil_port
        self.state_dir = state_dir
        self.verbose = verbose
        self._initial_config = dict(self.DEFAULTS)
        self._check_config(config)
        self._initial_config.update(config)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._servers = []
        self._url_secret = os.urandom(32)
        self._log_file = None
        self._reset_state(keep_files=False)

    # -- life cycle --
    def start(self):
        try:
            self._bind()
        except OSError:
            self.stop()
            raise
        return self._started()

    def _bind(self):
        for role, host, port in (("zoom", self.host, self.port),
                                 ("cdn", self.cdn_host, self.cdn_port),
                                 ("evil", self.evil_host, self.evil_port)):
            srv = _Server((host, port), self, role)
            self._servers.append(srv)
            t = threading.Thread(target=srv.serve_forever,
                                 kwargs={"poll_interval": 0.2},
                                 name="fakezoom-" + role, daemon=True)
            t.start()
        self.port = self._servers[0].server_address[1]
        self.cdn_port = self._servers[1].server_address[1]
        self.evil_port = self._servers[2].server_address[1]

    def _started(self):
        if self.state_dir:
            os.makedirs(self.state_dir, exist_ok=True)
            self._log_file = open(os.path.join(self.state_dir,
                                               "requests.jsonl"), "a")
            info = {"pid": os.getpid(), "port": self.port,
                    "cdn_port": self.cdn_port, "evil_port": self.evil_port,
                    "base_url": self.base_url, "cdn_url": self.cdn_url,
                    "evil_url": self.evil_url}
            tmp = os.path.join(self.state_dir, "fakezoom.json.tmp")
            with open(tmp, "w") as fh:
                json.dump(info, fh)
            os.replace(tmp, os.path.join(self.state_dir, "fakezoom.json"))
        return self

    def stop(self):
        self._stopping.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        self._servers = []
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def cdn_url(self):
        return "http://%s:%d" % (self.cdn_host, self.cdn_port)

    @property
    def evil_url(self):
        return "http://%s:%d" % (self.evil_host, self.evil_port)

    # -- state --
    def _reset_state(self, keep_files):
        with self._lock:
            self.config = dict(self._initial_config)
            if not keep_files:
                self.files = {}
                self.meetings = {}
                self._keys = {}
            self.faults = {}
            self.oauth_tokens = {}
            self.dat_tokens = {}
            self.entries = []
            self.seq = 0
            self.stats = {"oauth_issued": 0, "dat_issued": 0,
                          "urls_signed": 0}
            self._secrets = set()
            self._reset_account(keep_files)

    def _check_config(self, cfg):
        for k in cfg:
            if k not in self.DEFAULTS:
                raise KeyError("unknown config key %r" % k)

    def set_config(self, **cfg):
        self._check_config(cfg)
        with self._lock:
            self.config.update(cfg)

    def config_public(self):
        with self._lock:
            return dict(self.config)

    def reset(self, keep_files=False):
        """Back to the state after start (keep_files: keep files and
        meetings, drop log, faults, tokens and config changes)."""
        self._reset_state(keep_files)

    def add_meeting(self, uuid, id=None, topic="Fake meeting",
                    download_token=None, token_ttl=None, **extra):
        with self._lock:
            m = self.meetings.get(uuid)
            if m is None:
                m = {"uuid": uuid, "files": []}
                self.meetings[uuid] = m
            if id is None:
                id = m.get("id") or 80000000000 + len(self.meetings)
            m.update(extra)
            m["id"] = int(id)
            m["topic"] = topic
            if download_token is not None or "download_token" not in m:
                m["download_token"] = download_token or \
                    _rand_token("fzdt.")
            ttl = self.config["token_ttl"] if token_ttl is None else token_ttl
            m["token_expires_at"] = time.time() + ttl
            self._secrets.add(m["download_token"])
            return self._meeting_public(m)

    def _meeting_public(self, m):
        out = {k: v for k, v in m.items() if k != "files"}
        out["files"] = list(m["files"])
        return out

    def add_file(self, id, size=None, seed=None, path=None, data=None,
                 meeting_uuid="4444AAAiAAAAAiAiAiiAii==", token=None,
                 file_extension="MP4", **extra):
        """Register a recording file.  Content: `data` (text, or base64 in
        a dict {"b64": ...}), else the file at `path`, else seeded bytes
        (seed defaults to the id) of `size`."""
        if isinstance(data, dict):
            data = base64.b64decode(data["b64"])
        elif isinstance(data, str):
            data = data.encode()
        if data is not None:
            size = len(data)
        elif path is not None:
            size = os.path.getsize(path)
        elif size is None:
            raise ValueError("a file needs size, path or data")
        with self._lock:
            if meeting_uuid not in self.meetings:
                self.add_meeting(meeting_uuid)
            m = self.meetings[meeting_uuid]
            f = {"id": id, "size": int(size), "seed": str(seed if seed
                                                          is not None
                                                          else id),
                 "path": path, "data": data, "meeting_uuid": meeting_uuid,
                 "token": token, "file_extension": file_extension,
                 "key": _file_key(id), "deleted": False}
            f.update(extra)
            if token:
                self._secrets.add(token)
                f["token_expires_at"] = time.time() + self.config["token_ttl"]
            self.files[id] = f
            self._keys[f["key"]] = id
            if id not in m["files"]:
                m["files"].append(id)
            return self._file_public(f, with_hash=False)

    def _file_public(self, f, with_hash):
        m = self.meetings[f["meeting_uuid"]]
        out = {k: v for k, v in f.items() if k != "data"}
        out["token"] = f["token"] or m["download_token"]
        out["download_url"] = "%s/rec/webhook_download/%s/%s" % (
            self.base_url, f["key"], _file_key("x" + f["id"]))
        out["api_download_url"] = "%s/rec/download/%s" % (self.base_url,
                                                          f["key"])
        if with_hash:
            h = hashlib.sha256()
            for chunk in self._iter_file(f, 0, f["size"]):
                h.update(chunk)
            out["sha256"] = h.hexdigest()
        return out

    def file_info(self, id):
        with self._lock:
            f = self.files[id]
        return self._file_public(f, with_hash=True)

    def file_bytes(self, id, offset=0, length=None):
        f = self.files[id]
        end = f["size"] if length is None else offset + length
        return b"".join(self._iter_file(f, offset, end))

    def delete_file(self, id):
        """Zoom then answers a download with 200 and an HTML page."""
        with self._lock:
            self.files[id]["deleted"] = True

    def expire_download_token(self, file=None, meeting=None):
        """Make the webhook download_token of a meeting (or a file's own
        token) expired: the next download with it is refused."""
        with self._lock:
            if file is not None:
                f = self.files[file]
                if f["token"]:
                    f["token_expires_at"] = 0
                    return
                meeting = f["meeting_uuid"]
            self.meetings[meeting]["token_expires_at"] = 0

    def revoke_oauth(self):
        """Every OAuth token issued so far stops working (next use: 401)."""
        with self._lock:
            for t in self.oauth_tokens.values():
                t["revoked"] = True

    def fault(self, file, mode, count=None, where=None, skip=0, **params):
        """Inject a fault for a file id ("_oauth": the token endpoint,
        "_api": the recordings API).  count: for the next N matching
        requests (None: until cleared); skip: let that many pass first."""
        if mode not in FAULT_WHERE:
            raise ValueError("unknown fault mode %r" % mode)
        where = where or FAULT_WHERE[mode]
        if where not in ("zoom", "cdn", "any"):
            raise ValueError("where must be zoom, cdn or any")
        if mode == "redirect" and "location" not in params:
            raise ValueError("redirect needs location")
        with self._lock:
            self.faults.setdefault(file, []).append(
                dict(params, mode=mode, where=where, count=count,
                     skip=int(skip)))

    def clear_faults(self, file=None):
        with self._lock:
            if file is None:
                self.faults = {}
            else:
                self.faults.pop(file, None)

    def _take_fault(self, target, role, entry):
        with self._lock:
            lst = self.faults.get(target, [])
            for fault in lst:
                if fault["where"] not in (role, "any"):
                    continue
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    return None
                if fault["count"] is not None:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        lst.remove(fault)
                entry["fault"] = fault["mode"]
                return dict(fault)
        return None

    def _file_by_key(self, key):
        with self._lock:
            fid = self._keys.get(key)
            return self.files.get(fid) if fid is not None else None

    def _meeting_for(self, uuid_or_id):
        with self._lock:
            m = self.meetings.get(uuid_or_id)
            if m is None and uuid_or_id.isdigit():
                same = [x for x in self.meetings.values()
                        if x["id"] == int(uuid_or_id)]
                m = same[-1] if same else None
            return m

    def _iter_file(self, f, start, end):
        if f.get("data") is not None:
            yield f["data"][start:end]
        elif f.get("path"):
            with open(f["path"], "rb") as fh:
                fh.seek(start)
                left = end - start
                while left > 0:
                    buf = fh.read(min(left, 1 << 16))
                    if not buf:
                        break
                    left -= len(buf)
                    yield buf
        else:
            yield from iter_content(f["seed"], start, end)

    # -- auth --
    def _issue_oauth(self):
        with self._lock:
            token = _rand_token("fzoa.")
            life = self.config["oauth_lifetime"]
            if life is None:
                life = self.config["oauth_expires_in"]
            self.oauth_tokens[token] = {"expires_at": time.time() + life,
                                        "revoked": False}
            self.stats["oauth_issued"] += 1
            self._secrets.add(token)
            return token

    def _oauth_state(self, token):
        with self._lock:
            t = self.oauth_tokens.get(token)
            if t is None:
                return None
            if t["revoked"]:
                return "oauth token revoked"
            if time.time() >= t["expires_at"]:
                return "oauth token expired"
            return "ok"

    def _check_api_auth(self, token):
        if not token:
            return False, None, "no bearer token"
        state = self._oauth_state(token)
        if state is not None:
            return state == "ok", "oauth", state
        if token.count(".") == 2:
            ok, reason, claims = check_jwt(token, self.config["api_key"],
                                           self.config["api_secret"])
            if ok:
                self._secrets.add(token)
            return ok, "jwt", reason
        return False, None, "unknown token"

    def _check_download_auth(self, f, token, qs):
        if not token and self.config["accept_query_token"]:
            token = (qs.get("access_token") or [None])[0]
        if not token:
            return False, None, "no bearer token"
        with self._lock:
            m = self.meetings[f["meeting_uuid"]]
            if f["token"]:
                own, exp = f["token"], f["token_expires_at"]
            else:
                own, exp = m["download_token"], m["token_expires_at"]
            dat = self.dat_tokens.get(token)
        if hmac.compare_digest(token.encode(), own.encode()):
            if time.time() >= exp:
                return False, "download_token", "download token expired"
            return True, "download_token", "ok"
        if dat is not None:
            if dat["meeting_uuid"] != f["meeting_uuid"]:
                return False, "download_access_token", "other meeting"
            if time.time() >= dat["expires_at"]:
                return False, "download_access_token", "expired"
            return True, "download_access_token", "ok"
        return self._check_api_auth(token)

    # -- signed CDN URLs --
    def _sign(self, path, expires):
        mac = hmac.new(self._url_secret, ("%s|%d" % (path, expires)).encode(),
                       hashlib.sha256).digest()
        return base64.b64encode(mac).decode().translate(
            str.maketrans("+=/", "-_~"))

    def _signed_url(self, f, role, host=None):
        with self._lock:
            expires = int(time.time() + self.config["url_ttl"])
            self.stats["urls_signed"] += 1
        base = {"cdn": self.cdn_url, "evil": self.evil_url}[role]
        if host is not None:
            base = host
        path = "/replay/%s.%s" % (f["key"], f["file_extension"].lower())
        policy = base64.b64encode(json.dumps({"Statement": [{
            "Resource": base + path, "Condition": {"DateLessThan": {
                "AWS:EpochTime": expires}}}]}).encode()).decode().translate(
            str.maketrans("+=/", "-_~"))
        sig = self._sign(path, expires)
        with self._lock:
            self._secrets.update((sig, policy))
        q = urllib.parse.urlencode([
            ("response-content-type", CONTENT_TYPES.get(
                f["file_extension"].upper(), "application/octet-stream")),
            ("Policy", policy), ("Signature", sig), ("Expires", expires),
            ("Key-Pair-Id", "APKAFAKEZOOM0000")])
        return base + path + "?" + q

    def _check_signed(self, path, qs):
        try:
            expires = int(qs["Expires"][0])
            sig = qs["Signature"][0]
        except (KeyError, ValueError, IndexError):
            return "Missing Key-Pair-Id query parameter or cookie value"
        if not hmac.compare_digest(sig.encode(),
                                   self._sign(path, expires).encode()):
            return "Invalid signature"
        if time.time() >= expires:
            return "Request has expired"
        return None

    def _fault_location(self, fault, f, handler):
        mode = fault["mode"]
        if mode == "redirect_loop":
            return self.base_url + handler.path
        if f is None:
            return fault.get("location", "/")
        if mode == "redirect_foreign":
            return self._signed_url(f, "evil")
        if mode == "redirect_evil":
            return self._signed_url(f, "cdn", host="http://evil.example")
        if mode == "redirect_https":
            return self._signed_url(f, "cdn", host="https://%s:%d" %
                                    (self.cdn_host, self.cdn_port))
        if mode == "redirect_file":
            return "file:///etc/passwd"
        if mode == "redirect_ftp":
            return "ftp://%s:%d/replay/%s.mp4" % (self.cdn_host,
                                                  self.cdn_port, f["key"])
        return fault["location"].replace("{cdn_url}",
                                          self._signed_url(f, "cdn"))

    # -- recordings API --
    def _recordings_answer(self, meeting, want_token, ttl):
        with self._lock:
            files = [self.files[i] for i in meeting["files"]
                     if not self.files[i]["deleted"]]
            entries = []
            for f in files:
                e = _file_entry(dict(f, file_size=f["size"]), self.base_url,
                                meeting["uuid"])
                e["download_url"] = "%s/rec/download/%s" % (self.base_url,
                                                            f["key"])
                entries.append(e)
            out = {"uuid": meeting["uuid"], "id": meeting["id"],
                   "account_id": self.config["account_id"],
                   "host_id": meeting.get("host_id", "x1yCzABCDEfg23HiJKl4mN"),
                   "topic": meeting["topic"], "type": meeting.get("type", 2),
                   "start_time": meeting.get("start_time",
                                             "2026-11-26T20:05:00Z"),
                   "timezone": meeting.get("timezone", "Europe/Berlin"),
                   "host_email": meeting.get("host_email",
                                             "host@example.com"),
                   "duration": meeting.get("duration", 60),
                   "total_size": sum(f["size"] for f in files),
                   "recording_count": len(files),
                   "share_url": self.base_url + "/rec/share/x",
                   "recording_files": entries}
            if want_token:
                token = _rand_token("fzdat.")
                self.dat_tokens[token] = {"meeting_uuid": meeting["uuid"],
                                          "expires_at": time.time() + ttl}
                self.stats["dat_issued"] += 1
                self._secrets.add(token)
                out["download_access_token"] = token
            return out

    def webhook_event(self, meeting_uuid, event="recording.completed"):
        """A recording.completed body for a registered meeting."""
        with self._lock:
            m = self.meetings[meeting_uuid]
            files = []
            for fid in m["files"]:
                f = self.files[fid]
                pub = self._file_public(f, with_hash=False)
                entry = {k: v for k, v in f.items() if k not in
                         ("data", "path", "seed", "token", "key",
                          "meeting_uuid", "deleted", "size",
                          "token_expires_at")}
                entry.update(file_size=f["size"],
                             download_url=pub["download_url"])
                files.append(entry)
            meeting = {k: v for k, v in m.items() if k not in
                       ("files", "download_token", "token_expires_at")}
            meeting["account_id"] = self.config["account_id"]
            return make_recording_completed(meeting, files,
                                            m["download_token"],
                                            self.base_url, event)

    # -- request log --
    def _log_start(self, h):
        with self._lock:
            self.seq += 1
            e = {"seq": self.seq, "time": time.time(),
                 "server": h.server.role,
                 "client": "%s:%d" % h.client_address[:2],
                 "method": h.command, "host": h.headers.get("Host"),
                 "path": h.raw_path, "query": h.query,
                 "headers": [[k, v] for k, v in h.headers.items()],
                 "authorization": h.headers.get("Authorization"),
                 "status": None, "bytes_sent": 0}
            self.entries.append(e)
            return e

    def _log_end(self, e):
        with self._lock:
            e["done"] = True
            if self._log_file:
                self._log_file.write(json.dumps(e) + "\n")
                self._log_file.flush()

    def log(self, since=0):
        """{"requests": [...], "counts": {file_id: {server: n}},
        "stats": {...}, "secrets": [every token/signature handed out]}"""
        with self._lock:
            reqs = [dict(e) for e in self.entries if e["seq"] > since]
            counts = {}
            for e in self.entries:
                if "file_id" in e:
                    c = counts.setdefault(e["file_id"], {})
                    c[e["server"]] = c.get(e["server"], 0) + 1
            return {"requests": reqs, "counts": counts,
                    "stats": dict(self.stats),
                    "secrets": sorted(self._secrets | {
                        self.config["client_secret"],
                        self.config["api_secret"]})}


class FakeZoomControl(_AccountControl, _Common):
    """The same methods as FakeZoom, for a fakezoom running as a program."""

    def __init__(self, base_url, cdn_url=None, evil_url=None, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.cdn_url, self.evil_url = cdn_url, evil_url
        self.timeout = timeout

    @classmethod
    def from_state_dir(cls, state_dir):
        with open(os.path.join(state_dir, "fakezoom.json")) as fh:
            info = json.load(fh)
        return cls(info["base_url"], info["cdn_url"], info["evil_url"])

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + "/_control/" + path,
                                     data=data, method=method,
                                     headers={"Content-Type":
                                              "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError("fakezoom control %s %s: %d %s" % (
                method, path, e.code, e.read().decode(errors="replace")))

    def add_meeting(self, uuid, **kw):
        return self._call("POST", "meetings", dict(kw, uuid=uuid))

    def add_file(self, id, **kw):
        if isinstance(kw.get("data"), bytes):
            kw["data"] = {"b64": base64.b64encode(kw["data"]).decode()}
        return self._call("POST", "files", dict(kw, id=id))["files"][0]

    def file_info(self, id):
        return self._call("GET", "files/" + urllib.parse.quote(id, safe=""))

    def delete_file(self, id):
        self._call("DELETE", "files/" + urllib.parse.quote(id, safe=""))

    def expire_download_token(self, file=None, meeting=None):
        body = {"action": "expire_download_token"}
        if file is not None:
            body["file"] = file
        if meeting is not None:
            body["meeting"] = meeting
        self._call("POST", "tokens", body)

    def revoke_oauth(self):
        self._call("POST", "tokens", {"action": "revoke_oauth"})

    def fault(self, file, mode, count=None, where=None, skip=0, **params):
        self._call("POST", "faults", dict(params, file=file, mode=mode,
                                          count=count, where=where,
                                          skip=skip))

    def clear_faults(self, file=None):
        self._call("DELETE", "faults", {"file": file})

    def set_config(self, **cfg):
        self._call("POST", "config", cfg)

    def config_public(self):
        return self._call("GET", "config")

    def log(self, since=0):
        return self._call("GET", "log?since=%d" % since)

    def reset(self, keep_files=False):
        self._call("POST", "reset", {"keep_files": keep_files})

    def webhook_event(self, meeting_uuid, event="recording.completed"):
        return self._call("GET", "webhook?" + urllib.parse.urlencode(
            {"meeting": meeting_uuid, "event": event}))


def start_subprocess(state_dir, python=None, timeout=20, extra_args=()):
    """Run fakezoom.py as a child (ephemeral ports); returns (Popen,
    FakeZoomControl).  Stop it with proc.terminate(); proc.wait()."""
    from childproc import start_ready
    proc = start_ready([python or sys.executable, os.path.abspath(__file__), "--port", "0",
                        "--state-dir", state_dir] + list(extra_args), "fakezoom", timeout)
    return proc, FakeZoomControl.from_state_dir(state_dir)


# ---------------------------------------------------------------- program --

def _load_files(fz, path):
    with open(path) as fh:
        spec = json.load(fh)
    if isinstance(spec, list):
        spec = {"files": spec}
    for u in spec.get("users", []):
        fz.add_user(**u)
    for m in spec.get("meetings", []):
        fz.add_meeting(**m)
    for f in spec.get("files", []):
        fz.add_file(**f)
    for flt in spec.get("faults", []):
        fz.fault(**flt)


def _serve(argv):
    p = argparse.ArgumentParser(prog="fakezoom.py",
                                description="a stand-in Zoom for tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cdn-host", default="127.0.0.2")
    p.add_argument("--cdn-port", type=int, default=0)
    p.add_argument("--evil-host", default="127.0.0.3")
    p.add_argument("--evil-port", type=int, default=0)
    p.add_argument("--state-dir")
    p.add_argument("--files", help="JSON: {meetings, files, faults}")
    p.add_argument("--config", action="append", default=[],
                   metavar="KEY=JSON", help="e.g. url_ttl=5, repeatable")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--no-die-with-parent", action="store_true")
    a = p.parse_args(argv)
    cfg = {}
    for kv in a.config:
        k, _, v = kv.partition("=")
        try:
            cfg[k] = json.loads(v)
        except ValueError:
            cfg[k] = v
    fz = FakeZoom(a.host, a.port, a.cdn_host, a.cdn_port, a.evil_host,
                  a.evil_port, a.state_dir, a.verbose, **cfg)
    if a.files:
        _load_files(fz, a.files)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    fz.start()
    print("READY port=%d cdn_port=%d evil_port=%d" % (fz.port, fz.cdn_port,
                                                       fz.evil_port),
          flush=True)
    parent = os.getppid()
    while not done.wait(0.5):
        if not a.no_die_with_parent and os.getppid() != parent:
            break
    fz.stop()
    return 0


def _webhook_cmd(argv):
    p = argparse.ArgumentParser(prog="fakezoom.py webhook",
                                description="POST a signed webhook")
    p.add_argument("--url", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--body", help="file with the raw body")
    p.add_argument("--control", help="fakezoom base URL to build the event")
    p.add_argument("--meeting", help="meeting uuid (with --control)")
    p.add_argument("--event", default="recording.completed")
    p.add_argument("--ts", type=int)
    a = p.parse_args(argv)
    if a.body:
        with open(a.body, "rb") as fh:
            body = fh.read()
    elif a.control and a.meeting:
        body = webhook_bytes(FakeZoomControl(a.control).webhook_event(
            a.meeting, a.event))
    else:
        p.error("give --body or --control and --meeting")
    status, _, answer = post_webhook(a.url, a.secret, body, a.ts)
    sys.stdout.write("%d %s\n" % (status, answer.decode(errors="replace")))
    return 0 if 200 <= status < 300 else 1


def _content_cmd(argv, what):
    p = argparse.ArgumentParser(prog="fakezoom.py " + what)
    p.add_argument("--seed", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--offset", type=int, default=0)
    a = p.parse_args(argv)
    if what == "sha256":
        print(content_sha256(a.seed, a.size, a.offset))
        return 0
    out = sys.stdout.buffer
    for chunk in iter_content(a.seed, a.offset, a.size):
        out.write(chunk)
    out.flush()
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv and not argv[0].startswith("-") else "serve"
    rest = argv[1:] if argv and cmd == argv[0] else argv
    if cmd == "serve":
        return _serve(rest)
    if cmd == "webhook":
        return _webhook_cmd(rest)
    if cmd in ("sha256", "content"):
        return _content_cmd(rest, cmd)
    sys.stderr.write("usage: fakezoom.py [serve|webhook|sha256|content] "
                     "...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
