#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler's Zoom credentials, against the stand-in
Zoom (tests/rig/fakezoom.py) and a real Ceph RGW.

- The webhook's download token has expired and a Server-to-Server OAuth app
  is configured: the spooler gets an OAuth token, asks the recordings API
  for a fresh link (the meeting uuid, holding / + =, double-encoded) and
  downloads with its download_access_token: done.
- The OAuth token is cached in the spool's 0600 file: a second cron run
  gets no new token; once Zoom revokes it, the next run's 401 gets a new
  one. A job without any download token takes the same path.
- Refused and no app configured: failed/, with a last_error that says so.
- A legacy JWT app: an HS256 JWT (iss, exp in seconds) for the API: done.
- The fresh link refused too: failed/."""

import os
import stat
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import fakezoom  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import check_done, key_of, last_seq  # noqa: E402

UUID = "ab/cd+ef==Zx/9"
CACHE = ".zoom-oauth-token"


def expired_job(rig, fid, size, **over):
    info = rig.add_file(fid, size, meeting_uuid=UUID)
    rig.fz.expire_download_token(meeting=UUID)
    rig.enqueue(rig.job_for(info, **over))
    return info


def cache_text(rig):
    try:
        with open(os.path.join(rig.spool, CACHE)) as f:
            return f.read()
    except OSError:
        return None


def check_fresh_link(tap, rig, fid, since, label):
    api = rig.requests(kind="recordings", since=since)
    tap.ok(api and all(e.get("uuid_segment") == fakezoom.double_encode(UUID) for e in api),
           "%s: the recordings API got the uuid double-encoded" % label,
           *["%s -> %s" % (e.get("uuid_segment"), e.get("status")) for e in api])
    tap.ok(api and api[-1].get("status") == 200 and "download_access_token" in
           api[-1].get("query", ""), "%s: asked with include_fields=download_access_token"
           % label, *[repr(e.get("query")) for e in api])
    dl = [e for e in rig.requests(file_id=fid, since=since) if e.get("kind") == "api"]
    tap.ok(dl and dl[-1].get("auth_kind") == "download_access_token" and dl[-1].get("auth_ok"),
           "%s: downloaded the fresh link with its download_access_token" % label,
           *[repr({k: e.get(k) for k in ("path", "auth_kind", "auth_ok", "status")})
             for e in dl])
    return api


def case_oauth(tap, rig):
    rig.write_config(**rig.oauth_config())
    a = expired_job(rig, "oa1", 4000)
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "oauth: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, a, key_of(rig, "oa1"), "oauth")
    refused = [e for e in rig.requests(file_id="oa1", since=since)
               if e.get("kind") == "webhook"]
    tap.ok(refused and refused[0].get("auth_ok") is False,
           "oauth: the expired download token was tried and refused first")
    check_fresh_link(tap, rig, "oa1", since, "oauth")
    tap.eq(rig.fz.log()["stats"]["oauth_issued"], 1, "oauth: one OAuth token issued")
    issued = [e.get("issued_token") for e in rig.requests(since=since)
              if e.get("issued_token")]
    text = cache_text(rig)
    tap.ok(text is not None and issued and issued[-1] in text,
           "oauth: the token is cached in spool_dir/%s" % CACHE)
    try:
        mode = stat.S_IMODE(os.stat(os.path.join(rig.spool, CACHE)).st_mode)
    except OSError:
        mode = None
    tap.eq(mode, 0o600, "oauth: the cache file is mode 0600")

    # A second cron run: the cached token serves, none is issued.
    expired_job(rig, "oa2", 5000)
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "oauth, second run: exit status 0") or tap.diag(r.tail())
    tap.eq(rig.where("oa2"), ["done"], "oauth, second run: done")
    tap.eq(rig.fz.log()["stats"]["oauth_issued"], 1,
           "oauth, second run: no new token (the cache file served)")
    api = rig.requests(kind="recordings", since=since)
    tap.ok(api and api[-1].get("auth_kind") == "oauth" and api[-1].get("auth_ok"),
           "oauth, second run: the cached token was accepted")

    # Zoom revokes it: the 401 gets a new token, cached in its place.
    rig.fz.revoke_oauth()
    old = cache_text(rig)
    expired_job(rig, "oa3", 6000)
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "oauth, revoked: exit status 0") or tap.diag(r.tail())
    tap.eq(rig.where("oa3"), ["done"], "oauth, revoked: done")
    api = rig.requests(kind="recordings", since=since)
    tap.eq([e.get("status") for e in api], [401, 200],
           "oauth, revoked: 401, then the same request with a new token")
    tap.eq(rig.fz.log()["stats"]["oauth_issued"], 2, "oauth, revoked: one new token issued")
    new = cache_text(rig)
    tap.ok(new is not None and new != old, "oauth, revoked: the cache holds the new token")

    # A job that came without any download token goes to the API at once.
    info = rig.add_file("oa4", 7000, meeting_uuid=UUID)
    rig.enqueue(rig.job_for(info, token=False))
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 0, "oauth, no download token: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key_of(rig, "oa4"), "oauth, no download token")
    check_fresh_link(tap, rig, "oa4", since, "oauth, no download token")

    # The fresh link is refused too: give up.
    rig.fz.set_config(dat_ttl=0)
    expired_job(rig, "oa5", 8000)
    r = rig.run("--once")
    rig.fz.set_config(dat_ttl=86400)
    tap.eq(r.rc, 1, "oauth, fresh link refused too: exit status 1") or tap.diag(r.tail())
    tap.eq(rig.where("oa5"), ["failed"], "oauth, fresh link refused too: failed/")
    tap.eq(rig.head(key_of(rig, "oa5")), None, "oauth, fresh link refused too: no object")


def case_no_app(tap, rig):
    rig.write_config()
    expired_job(rig, "noapp", 3000)
    since = last_seq(rig)
    r = rig.run("--once")
    tap.eq(r.rc, 1, "no app: exit status 1") or tap.diag(r.tail())
    tap.eq(rig.where("noapp"), ["failed"], "no app: the job is in failed/")
    err = (rig.job("failed", "noapp") or {}).get("last_error") or ""
    tap.ok("refused" in err and "OAuth" in err and "JWT" in err,
           "no app: last_error says the token was refused and no app is configured",
           repr(err))
    tap.eq(rig.requests(kind="recordings", since=since), [], "no app: no API call")
    tap.eq(rig.head(key_of(rig, "noapp")), None, "no app: no object")


def case_jwt(tap, rig):
    rig.write_config(**rig.jwt_config())
    info = expired_job(rig, "jwt1", 9000)
    since = last_seq(rig)
    r = rig.run("--once")
    rig.write_config()
    tap.eq(r.rc, 0, "jwt: exit status 0") or tap.diag(r.tail())
    check_done(tap, rig, info, key_of(rig, "jwt1"), "jwt")
    api = check_fresh_link(tap, rig, "jwt1", since, "jwt")
    tap.ok(api and api[-1].get("auth_kind") == "jwt" and api[-1].get("auth_ok"),
           "jwt: the API accepted the HS256 JWT (iss, exp in seconds)",
           *[repr({k: e.get(k) for k in ("auth_kind", "auth_ok", "status")}) for e in api])
    tap.eq([e for e in rig.requests(since=since) if e["path"] == "/oauth/token"], [],
           "jwt: no OAuth request")


if __name__ == "__main__":
    spoolrig.main("auth",
                  case_oauth,
                  case_no_app,
                  case_jwt)
