#!/usr/bin/env python3
"""TAP: the stand-in Zoom's account endpoints behave as Zoom's API reference
says, since the backfill and retention tests rely on them: GET /v2/users
(status active|inactive|pending, page_size, next_page_token), GET
/v2/users/<id or email>/recordings (from/to inclusive and refused over one
month, page_size capped at 300, next_page_token tied to its query, meetings
shaped like a webhook's payload.object, injectable 429 with Retry-After),
DELETE /v2/meetings/<uuid>/recordings/<file> (action trash|delete, 204, 404
once gone, the download then Zoom's HTML page, one file and never its
siblings), and the Bearer check on each."""
import http.client
import json
import os
import sys
import tempfile
import urllib.parse

sys.dont_write_bytecode = True
RIG = os.path.join(os.environ.get("top_srcdir") or
                   os.path.join(os.path.dirname(__file__), "..", ".."), "tests", "rig")
sys.path.insert(0, RIG)
import fakezoom  # noqa: E402
import webrig  # noqa: E402


class Api:
    def __init__(self, fz):
        self.fz = fz
        self.token = None

    def call(self, method, path, query=None, token=True):
        if token and self.token is None:
            self.token = self.fz._issue_oauth()
        url = "/v2" + path + ("?" + urllib.parse.urlencode(query) if query else "")
        conn = http.client.HTTPConnection(self.fz.host, self.fz.port, timeout=10)
        headers = {"Authorization": "Bearer " + self.token} if token else {}
        try:
            conn.request(method, url, headers=headers)
            r = conn.getresponse()
            body = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        return r.status, hdrs, doc


def populate(fz):
    fz.add_user("U1", "one@example.com")
    fz.add_user("U2", "two@example.com", status="inactive")
    fz.add_user("U3", "three@example.com", status="pending")
    for i in range(1, 6):
        fz.add_user("A%d" % i)
    for day in range(1, 8):  # U1: one meeting a day, 2026-03-01 .. 07
        uuid_ = "/m%d+x==" % day
        fz.add_meeting(uuid_, id=90000000000 + day, topic="Lecture [C%d]" % day,
                       host_id="U1", host_email="one@example.com",
                       start_time="2026-03-%02dT10:00:00Z" % day)
        for ext in ("MP4", "M4A"):
            fz.add_file("f%d%s" % (day, ext.lower()), size=1000 + day, meeting_uuid=uuid_,
                        file_extension=ext,
                        recording_start="2026-03-%02dT10:00:05Z" % day,
                        recording_end="2026-03-%02dT11:00:05Z" % day)
    fz.add_meeting("u2meet==", topic="Old", host_id="U2", start_time="2026-03-02T09:00:00Z")
    fz.add_file("u2file", size=10, meeting_uuid="u2meet==")


def test_users(tap, api):
    status, _, doc = api.call("GET", "/users", token=False)
    tap.eq(status, 401, "GET /users without a token: 401")
    status, _, doc = api.call("GET", "/users")
    tap.eq((status, sorted(u["id"] for u in doc["users"])),
           (200, ["A1", "A2", "A3", "A4", "A5", "U1"]),
           "GET /users lists the active users by default")
    status, _, doc = api.call("GET", "/users", {"status": "inactive"})
    tap.eq([u["id"] for u in doc["users"]], ["U2"], "status=inactive lists the inactive ones")
    tap.eq(doc["users"][0]["email"], "two@example.com", "  ... with their email")
    status, _, doc = api.call("GET", "/users", {"status": "pending"})
    tap.eq([u["id"] for u in doc["users"]], ["U3"], "status=pending")
    status, _, doc = api.call("GET", "/users", {"status": "gone"})
    tap.eq(status, 400, "an unknown status: 400")
    seen, token, pages = [], "", 0
    while True:
        q = {"page_size": 4}
        if token:
            q["next_page_token"] = token
        status, _, doc = api.call("GET", "/users", q)
        pages += 1
        seen += [u["id"] for u in doc["users"]]
        token = doc["next_page_token"]
        if not token:
            break
    tap.eq((pages, sorted(seen)), (2, ["A1", "A2", "A3", "A4", "A5", "U1"]),
           "page_size=4: two pages, every user once")
    tap.eq(doc["total_records"], 6, "total_records")
    status, _, doc = api.call("GET", "/users", {"next_page_token": "bogus"})
    tap.eq((status, doc["code"]), (400, 300), "an unknown next_page_token: 400 code 300")


def list_all(api, who, first, last, page_size=None):
    out, token, pages = [], "", 0
    while True:
        q = {"from": first, "to": last}
        if page_size:
            q["page_size"] = page_size
        if token:
            q["next_page_token"] = token
        status, _, doc = api.call("GET", "/users/%s/recordings" % who, q)
        if status != 200:
            return status, doc, pages
        pages += 1
        out += doc["meetings"]
        token = doc["next_page_token"]
        if not token:
            return 200, out, pages


def test_recordings(tap, api, fz):
    status, got, pages = list_all(api, "U1", "2026-03-01", "2026-03-31")
    tap.eq((status, pages, len(got)), (200, 1, 7), "U1, March: one page of 7 meetings")
    m = got[0]
    want_keys = {"uuid", "id", "account_id", "host_id", "host_email", "topic", "type",
                 "start_time", "timezone", "duration", "total_size", "recording_count",
                 "share_url", "recording_files"}
    tap.ok(want_keys <= set(m), "a listed meeting has a webhook payload.object's fields",
           sorted(want_keys - set(m)))
    tap.eq(m["start_time"], "2026-03-07T10:00:00Z", "newest first")
    f = m["recording_files"][0]
    tap.ok({"id", "meeting_id", "recording_start", "recording_end", "file_type",
            "file_extension", "file_size", "download_url", "status",
            "recording_type"} <= set(f), "its files have a webhook entry's fields", f)
    tap.ok("/rec/download/" in f["download_url"], "  ... with the API's download link")
    status, got, _ = list_all(api, "one@example.com", "2026-03-03", "2026-03-05")
    tap.eq(sorted(x["id"] for x in got), [90000000003, 90000000004, 90000000005],
           "by email, from and to inclusive")
    status, got, pages = list_all(api, "U1", "2026-03-01", "2026-03-31", page_size=3)
    tap.eq((pages, len(got), len({x["uuid"] for x in got})), (3, 7, 7),
           "page_size=3: three pages, every meeting once")
    status, _, doc = api.call("GET", "/users/U1/recordings",
                              {"from": "2026-03-01", "to": "2026-03-31", "page_size": 5000})
    tap.eq(doc["page_size"], 300, "page_size over 300 is capped at 300")
    status, doc, _ = list_all(api, "U1", "2026-03-01", "2026-04-01")
    tap.eq((status, doc and doc.get("code")), (400, 300),
           "a range of 31 days (over one month): 400 code 300")
    status, got, _ = list_all(api, "U1", "2026-03-01", "2026-03-31")
    tap.eq(status, 200, "a range of 30 days is accepted")
    status, doc, _ = list_all(api, "U1", "2026-03-05", "2026-03-01")
    tap.eq(status, 400, "to before from: 400")
    status, doc, _ = list_all(api, "U1", "2026-3-1", "2026-03-05")
    tap.eq(status, 400, "a date not yyyy-mm-dd: 400")
    status, doc, _ = list_all(api, "nobody", "2026-03-01", "2026-03-05")
    tap.eq((status, doc and doc.get("code")), (404, 1001), "an unknown user: 404 code 1001")
    status, _, doc = api.call("GET", "/users/U1/recordings",
                              {"from": "2026-03-01", "to": "2026-03-31", "page_size": 3})
    status, _, doc = api.call("GET", "/users/U1/recordings",
                              {"from": "2026-03-01", "to": "2026-03-30", "page_size": 3,
                               "next_page_token": doc["next_page_token"]})
    tap.eq(status, 400, "a next_page_token used with another query: 400")
    status, got, _ = list_all(api, "U2", "2026-03-01", "2026-03-31")
    tap.eq([x["uuid"] for x in got], ["u2meet=="], "an inactive user's recordings are listed")

    fz.fault("_list", "429", count=1, retry_after=2)
    status, hdrs, doc = api.call("GET", "/users/U1/recordings",
                                 {"from": "2026-03-01", "to": "2026-03-02"})
    tap.eq((status, hdrs.get("retry-after")), (429, "2"), "an injected 429 with Retry-After")
    status, _, _ = api.call("GET", "/users/U1/recordings",
                            {"from": "2026-03-01", "to": "2026-03-02"})
    tap.eq(status, 200, "  ... then the listing answers again")
    fz.fault("_list:U2", "429", count=1)
    tap.eq(api.call("GET", "/users/U1/recordings")[0], 200, "a 429 for U2 leaves U1 alone")
    tap.eq(api.call("GET", "/users/U2/recordings")[0], 429, "  ... and hits U2")

    fz.set_config(listing_host_email=False)
    status, got, _ = list_all(api, "U1", "2026-03-01", "2026-03-01")
    tap.ok("host_email" not in got[0], "listing_host_email=false leaves host_email out")
    fz.set_config(listing_host_email=True)


def test_delete(tap, api, fz):
    seg = fakezoom.double_encode("/m3+x==")
    info = fz.file_info("f3mp4")
    status, _, _ = api.call("DELETE", "/meetings/%s/recordings/f3mp4" % seg,
                            {"action": "trash"}, token=False)
    tap.eq(status, 401, "DELETE without a token: 401")
    status, _, _ = api.call("DELETE", "/meetings/%s/recordings/f3mp4" % seg,
                            {"action": "shred"})
    tap.eq(status, 400, "an unknown action: 400")
    status, _, _ = api.call("DELETE", "/meetings/%s/recordings/f3mp4" %
                            urllib.parse.quote("/m3+x==", safe=""), {"action": "trash"})
    tap.eq(status, 404, "a uuid encoded once: 404")
    status, _, doc = api.call("DELETE", "/meetings/%s/recordings/f3mp4" % seg,
                              {"action": "trash"})
    tap.eq((status, doc), (204, None), "DELETE action=trash: 204, no body")
    tap.eq(fz.files["f3mp4"]["removed"], "trash", "  ... the file is in the trash")
    tap.ok(not fz.files["f3m4a"]["deleted"], "  ... its sibling is untouched")
    status, _, doc = api.call("DELETE", "/meetings/%s/recordings/f3mp4" % seg,
                              {"action": "trash"})
    tap.eq((status, doc and doc.get("code")), (404, 3301), "a second DELETE: 404 code 3301")
    conn = http.client.HTTPConnection(fz.host, fz.port, timeout=10)
    conn.request("GET", urllib.parse.urlparse(info["download_url"]).path,
                 headers={"Authorization": "Bearer " + info["token"]})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    tap.ok(r.status == 200 and r.getheader("Content-Type", "").startswith("text/html") and
           b"deleted" in body, "the trashed file's download is Zoom's HTML page",
           "%s %r" % (r.status, body[:80]))
    status, got, _ = list_all(api, "U1", "2026-03-03", "2026-03-03")
    tap.eq([f["id"] for f in got[0]["recording_files"]], ["f3m4a"],
           "the listing no longer shows it")
    status, _, _ = api.call("DELETE", "/meetings/%s/recordings/f4mp4" %
                            fakezoom.double_encode("/m4+x=="), {"action": "delete"})
    tap.eq((status, fz.files["f4mp4"]["removed"]), (204, "delete"), "action=delete: 204")
    status, _, _ = api.call("DELETE", "/meetings/%s/recordings/f5mp4" %
                            fakezoom.double_encode("/m4+x=="), {"action": "delete"})
    tap.eq(status, 404, "a file of another meeting: 404, nothing removed")
    tap.ok(not fz.files["f5mp4"]["deleted"], "  ... f5 still there")
    fz.fault("_delete", "429", count=1, retry_after=3)
    status, hdrs, _ = api.call("DELETE", "/meetings/%s/recordings/f5mp4" %
                               fakezoom.double_encode("/m5+x=="), {"action": "trash"})
    tap.eq((status, hdrs.get("retry-after"), fz.files["f5mp4"]["deleted"]), (429, "3", False),
           "an injected 429 on DELETE removes nothing")
    log = fz.requests(kind="delete")
    tap.eq(len(log), 8, "each DELETE is logged with kind=delete")


def main(tap):
    with tempfile.TemporaryDirectory(prefix="i15-fz-") as state:
        fz = fakezoom.FakeZoom(state_dir=state).start()
        try:
            populate(fz)
            api = Api(fz)
            test_users(tap, api)
            test_recordings(tap, api, fz)
            test_delete(tap, api, fz)
        finally:
            fz.stop()


if __name__ == "__main__":
    t = webrig.Tap()
    try:
        main(t)
    except Exception:
        import traceback
        t.ok(False, "test ran to its end", traceback.format_exc())
    sys.exit(t.finish())
