#!/usr/bin/env python3
"""Rotating the Zoom app's Secret Token without losing an event, the way
docs/OPERATIONS.md tells an operator to, against zoom2s3.fcgi under real
lighttpd (FastCGI): with webhook_secret_token = NEW and
webhook_secret_token_previous = OLD, events signed with either token are
spooled, endpoint.url_validation is answered with NEW only (also when it was
signed with OLD), the log says which requests still came signed with OLD, a
third token is refused; once the operator removes the previous token, OLD is
refused. No answer and no log line ever holds either token."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

OLD = "T2xkLXNlY3JldC10b2tlbi1iZWZvcmUtcm90YXRpb24"
NEW = "TmV3LXNlY3JldC10b2tlbi1hZnRlci1yb3RhdGlvbg"
PLAIN = "qgg8vlvZRS6UYooatFL8Aw"


def validation_event():
    return {"payload": {"plainToken": PLAIN}, "event_ts": webrig.now() * 1000,
            "event": "endpoint.url_validation"}


def rotated_config(ws, previous):
    extra = "webhook_secret_token_previous = %s\n" % previous if previous else ""
    return ws.base_config().replace("webhook_secret_token = %s\n" % OLD,
                                    "webhook_secret_token = %s\n" % NEW) + extra


def leaks(srv, texts):
    blob = srv.log_text() + "".join(texts)
    return [t for t in (OLD, NEW) if t in blob]


def main(tap):
    ws = webrig.Workspace(secret=OLD)
    answers = []
    try:
        with webrig.Lighttpd(ws) as srv:
            ev = webrig.recording_event("rot-before==", [webrig.rec_file("RotBefore1")])
            a = srv.post_signed(ev, secret=OLD)
            tap.eq(a.status, 200, "before the change: an event signed with the token is spooled")

            # Step 1 of the runbook: the new token goes in, the old one stays as previous.
            ws.write_config(rotated_config(ws, OLD))
            ev = webrig.recording_event("rot-old==", [webrig.rec_file("RotOld1")])
            a = srv.post_signed(ev, secret=OLD)
            answers.append(repr(a))
            tap.eq(a.status, 200, "during the change: an event signed with the previous token "
                   "(Zoom's retry of an older delivery) gets 200")
            tap.ok(webrig.job_name("RotOld1") in ws.state("new"), "  ... and is spooled",
                   repr(ws.state("new")))
            ev = webrig.recording_event("rot-new==", [webrig.rec_file("RotNew1")])
            a = srv.post_signed(ev, secret=NEW)
            answers.append(repr(a))
            tap.eq(a.status, 200, "during the change: an event signed with the new token gets 200")
            tap.ok(webrig.job_name("RotNew1") in ws.state("new"), "  ... and is spooled")

            for signer in (OLD, NEW):
                a = srv.post_signed(validation_event(), secret=signer)
                answers.append(repr(a))
                try:
                    got = a.json()
                except ValueError:
                    got = None
                tap.eq((a.status, got),
                       (200, {"plainToken": PLAIN,
                              "encryptedToken": webrig.encrypted_token(NEW, PLAIN)}),
                       "url_validation signed with the %s token is answered with the new token"
                       % ("previous" if signer == OLD else "new"))

            before = ws.state("new")
            ev = webrig.recording_event("rot-third==", [webrig.rec_file("RotThird1")])
            a = srv.post_signed(ev, secret="VGhpcmQtdW5yZWxhdGVkLXNlY3JldA")
            tap.eq(a.status, 401, "a third token is refused during the change")
            tap.eq(ws.state("new"), before, "  ... and nothing is spooled")

            log = webrig.settled(srv.log_text)
            tap.ok("signed with webhook_secret_token_previous" in log,
                   "the log says a request came signed with the previous token",
                   webrig.tail(srv.log_files[0]))

            # Step 2: the old token goes once the log no longer names it.
            ws.write_config(rotated_config(ws, None))
            ev = webrig.recording_event("rot-after==", [webrig.rec_file("RotAfter1")])
            a = srv.post_signed(ev, secret=OLD)
            answers.append(repr(a))
            tap.eq(a.status, 401, "after the change: the old token is refused")
            tap.ok(webrig.job_name("RotAfter1") not in ws.state("new"), "  ... nothing spooled")
            a = srv.post_signed(ev, secret=NEW)
            tap.eq(a.status, 200, "after the change: the new token is accepted")

            tap.eq(leaks(srv, answers), [], "no answer and no log line holds either token")
            tap.eq(webrig.sanitizer_findings(srv), [], "no sanitizer finding")
    finally:
        ws.cleanup()


webrig.run_test(main, webrig.TOOLS["lighttpd"])
