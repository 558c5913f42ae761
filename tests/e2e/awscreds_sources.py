#!/usr/bin/env python3
"""TAP: the real zoom2s3-spooler takes its AWS credentials from each source
of the SDKs' chain and uploads to a real Ceph RGW with them; temporary
credentials are refreshed in the middle of a multipart upload.

The credentials handed out are real RGW keys of the test user, made for the
test with radosgw-admin (RGW accepts a request carrying a session token it
does not know, so the stand-ins' tokens travel as a real one would).

- Web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN +
  AWS_ROLE_SESSION_NAME, STS at AWS_ENDPOINT_URL_STS (tests/rig/awsstandins.py
  StandInSTS): the form carries the token file's text, the role and the
  session name, unsigned.
- credential_process of a profile in ~/.aws/config (AWS_PROFILE).
- Container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI on loopback with
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE. _RELATIVE_URI names the fixed
  link-local http://169.254.170.2, which no test of this project may talk
  to (tests reach loopback only): test_awscreds checks the URL it makes.

For each temporary source, the refresh: the first credentials (key A) come
with an Expiration just past the spooler's refresh margin; the stand-in CDN
serves the first part at once, then trickles until the source has been asked
again; then key A is deleted from RGW and the rest is served. The upload
completes only if every later request was signed with the new key B.

Also: STS refusing the token (the job waits in new/ with a last_error that
names STS's code, not the token); AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and
AWS_REGION / a profile's region standing in for s3_endpoint / s3_region; the
environment's keys before a configured web identity (STS not asked)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import awsstandins  # noqa: E402
import spoolrig  # noqa: E402

MIB = 1024 * 1024
PART = 5 * MIB
MARGIN = 300        # AWSCREDS_REFRESH_MARGIN in src/awscreds.h
NEAR = 3            # key A enters the refresh window this long after it is issued
PACED_SIZE = 5 * PART
ROLE = "arn:aws:iam::123456789012:role/zoom2s3-uploader"
UUID = "awscreds/uuid+A=="


def admin(*args):
    r = subprocess.run(["bash", spoolrig.RGW_SH, "admin", spoolrig.rgw_dir()] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("radosgw-admin %s: %s" % (" ".join(args[:2]), r.stderr[-500:]))


class Keys:
    """RGW S3 keys of the test user, made and removed by the test."""

    def __init__(self):
        self.made = []
        self.secrets = set()

    def make(self):
        access = "ZTMP" + os.urandom(8).hex().upper()
        secret = "s" + os.urandom(20).hex()
        admin("key", "create", "--uid=tester", "--key-type=s3", "--access-key=" + access,
              "--secret-key=" + secret)
        self.made.append(access)
        self.secrets.add(secret)
        return access, secret

    def remove(self, access):
        admin("key", "rm", "--uid=tester", "--key-type=s3", "--access-key=" + access)
        self.made.remove(access)

    def cleanup(self):
        for access in list(self.made):
            try:
                self.remove(access)
            except Exception:  # the cluster may be gone
                pass


class TwoKeys:
    """Issues key A near its expiry on the first ask, key B (an hour) after."""

    def __init__(self, keys, label):
        self.keys, self.label = keys, label
        self.a, self.b = keys.make(), keys.make()
        self.first_expiration = None
        self.tokens = set()

    def issue(self, n):
        now = time.time()
        key, exp = (self.a, now + MARGIN + NEAR) if n == 1 else (self.b, now + 3600)
        if n == 1:
            self.first_expiration = exp
        token = "%s-session-token-%d-%s" % (self.label, n, os.urandom(8).hex())
        self.tokens.add(token)
        return {"AccessKeyId": key[0], "SecretAccessKey": key[1], "SessionToken": token,
                "Expiration": exp}

    def drop_a(self):
        self.keys.remove(self.a[0])


def no_keys_config(rig, **more):
    return rig.write_config(aws_access_key_id=None, aws_secret_access_key=None, **more)


def paced_job(rig, fid, gate, on_open):
    """A job whose download is the PacedCDN's: part 1 at once, then a trickle
    until gate()."""
    data = os.urandom(PACED_SIZE)
    cdn = awsstandins.PacedCDN(data, path="/rec/%s.mp4" % fid, fast=PART + 1, gate=gate,
                               on_open=on_open)
    info = {"id": fid, "meeting_uuid": UUID, "file_extension": "MP4", "size": len(data),
            "download_url": cdn.url, "token": "dl-token-" + fid}
    rig.enqueue(rig.job_for(info))
    return cdn, spoolrig.sha256_hex(data)


def check_upload(tap, rig, fid, sha, size, label):
    key = "rec/%s/%s.mp4" % (rig.name, fid)
    tap.eq(rig.where(fid), ["done"], "%s: job done" % label)
    tap.eq(rig.object_sha256(key), (sha, size), "%s: object byte-exact in RGW" % label)


def check_refresh(tap, rig, r, src, cdn, two, label, event_source):
    tap.eq(r.rc, 0, "%s: exit status 0" % label) or tap.diag(r.tail(40))
    tap.eq(src(), 2, "%s: asked twice (A, then B before A expired)" % label)
    tap.ok(cdn.opened_at is not None and PART < cdn.opened_at < PACED_SIZE,
           "%s: the second ask came mid-upload (after part 1 went up, with %s of %d "
           "bytes downloaded)" % (label, cdn.opened_at, PACED_SIZE))
    tap.ok(two.a[0] not in rig_keys_alive(two), "%s: key A was deleted from RGW then, so "
           "every later request was signed with key B" % label)
    ev = [ln for ln in r.events("aws_credentials") if "source=%s " % event_source in ln + " "]
    tap.eq(len(ev), 2, "%s: two aws_credentials events (source=%s)" % (label, event_source)) \
        or tap.diag(r.tail(40))
    tap.eq(r.events("aws_credentials_refresh_failed"), [], "%s: no failed refresh" % label)


def rig_keys_alive(two):
    return two.keys.made


# ---------------------------------------------------------------- cases ----

def case_web_identity(tap, rig, keys, secrets):
    two = TwoKeys(keys, "web")
    sts = awsstandins.StandInSTS(two.issue)
    token_file = os.path.join(rig.root, "eks-token")
    jwt = "eyJhbGciOiJSUzI1NiJ9.web-identity-jwt." + os.urandom(12).hex()
    with open(token_file, "w") as f:
        f.write(jwt + "\n")
    secrets.update({jwt, two.a[1], two.b[1]})
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": token_file, "AWS_ROLE_ARN": ROLE,
           "AWS_ROLE_SESSION_NAME": "zoom2s3-e2e", "AWS_ENDPOINT_URL_STS": sts.url}
    try:
        no_keys_config(rig)
        cdn, sha = paced_job(rig, "wi1", gate=lambda: sts.count() >= 2, on_open=two.drop_a)
        r = rig.run("--once", env=env)
        cdn.stop()
        check_refresh(tap, rig, r, sts.count, cdn, two, "web identity", "web_identity")
        check_upload(tap, rig, "wi1", sha, PACED_SIZE, "web identity")
        calls = sts.calls
        form = calls[0]["form"] if calls else {}
        tap.eq({k: form.get(k) for k in ("Action", "Version", "RoleArn", "RoleSessionName",
                                         "WebIdentityToken")},
               {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                "RoleArn": ROLE, "RoleSessionName": "zoom2s3-e2e", "WebIdentityToken": jwt},
               "web identity: STS got the action, role, session name and the token file's "
               "text")
        tap.ok(calls and all(c["method"] == "POST" and "Authorization" not in c["headers"]
                             for c in calls),
               "web identity: unsigned POSTs (the token is the proof)")
        tap.ok(calls and two.first_expiration and calls[-1]["time"] < two.first_expiration -
               MARGIN + 60, "web identity: B was fetched well before A expired")
        secrets.update(two.tokens)

        # STS refuses the token: the job waits, nothing leaks.
        sts.refuse = True
        rig.enqueue(rig.job_for(rig.add_file("wi2", 3000, meeting_uuid=UUID)))
        r = rig.run("--once", env=env)
        tap.eq(r.rc, 0, "STS refusing: exit status 0 (the job will be retried)") or \
            tap.diag(r.tail())
        tap.eq(rig.where("wi2"), ["new"], "STS refusing: the job is back in new/")
        err = (rig.job("new", "wi2") or {}).get("last_error") or ""
        tap.ok("InvalidIdentityToken" in err and ROLE in err and "STS" in err and jwt not in err,
               "STS refusing: last_error names STS's code and the role, not the token",
               repr(err))
    finally:
        sts.stop()


PROCESS_SCRIPT = r'''#!/usr/bin/python3
# A credential_process: numbered runs; key A near expiry first, then B.
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "runs"), "a") as f:
    f.write("run\n")
with open(os.path.join(here, "runs")) as f:
    n = len(f.read().splitlines())
keys = json.load(open(os.path.join(here, "keys.json")))
k = keys["a"] if n == 1 else keys["b"]
exp = time.time() + (%d if n == 1 else 3600)
json.dump({"Version": 1, "AccessKeyId": k[0], "SecretAccessKey": k[1],
           "SessionToken": "proc-session-token-%%d" %% n,
           "Expiration": time.strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ", time.gmtime(exp))},
          sys.stdout)
''' % (MARGIN + NEAR)


def case_process(tap, rig, keys, secrets):
    two = TwoKeys(keys, "proc")
    d = os.path.join(rig.root, "proc")
    os.makedirs(d)
    with open(os.path.join(d, "keys.json"), "w") as f:
        json.dump({"a": two.a, "b": two.b}, f)
    script = os.path.join(d, "creds.py")
    with open(script, "w") as f:
        f.write(PROCESS_SCRIPT)
    os.chmod(script, 0o755)
    conf = os.path.join(rig.root, ".aws", "config")  # HOME is rig.root
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write("[default]\ncredential_process = /bin/false\n\n"
                "[profile uploader]\nregion = us-east-1\ncredential_process = %s\n" % script)
    secrets.update({two.a[1], two.b[1]})

    def runs():
        try:
            with open(os.path.join(d, "runs")) as f:
                return len(f.read().splitlines())
        except OSError:
            return 0

    no_keys_config(rig)
    cdn, sha = paced_job(rig, "cp1", gate=lambda: runs() >= 2, on_open=two.drop_a)
    r = rig.run("--once", env={"AWS_PROFILE": "uploader"})
    cdn.stop()
    os.unlink(conf)
    check_refresh(tap, rig, r, runs, cdn, two, "credential_process", "credential_process")
    check_upload(tap, rig, "cp1", sha, PACED_SIZE, "credential_process")


def case_container(tap, rig, keys, secrets):
    two = TwoKeys(keys, "container")
    token = "container-auth-" + os.urandom(12).hex()
    token_file = os.path.join(rig.root, "pod-identity-token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    secrets.update({token, two.a[1], two.b[1]})
    srv = awsstandins.ContainerCreds(two.issue, path="/v1/credentials", token=token)
    try:
        no_keys_config(rig)
        cdn, sha = paced_job(rig, "ct1", gate=lambda: srv.count() >= 2, on_open=two.drop_a)
        r = rig.run("--once", env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url,
                                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": "not-this-one",
                                   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file})
        cdn.stop()
        check_refresh(tap, rig, r, srv.count, cdn, two, "container", "container")
        check_upload(tap, rig, "ct1", sha, PACED_SIZE, "container")
        tap.ok(srv.calls and all(c["authorization"] == token for c in srv.calls),
               "container: the token file's token (trimmed) was the Authorization header, "
               "over the variable's")
        secrets.update(two.tokens)
    finally:
        srv.stop()


def case_env_region_endpoint(tap, rig, keys, secrets):
    """No s3_endpoint / s3_region / keys in the file: the SDKs' variables."""
    sts = awsstandins.StandInSTS(lambda n: {})
    key = keys.make()
    secrets.add(key[1])
    token_file = os.path.join(rig.root, "unused-token")
    with open(token_file, "w") as f:
        f.write("unused-web-identity-token\n")
    base = {"AWS_ACCESS_KEY_ID": key[0], "AWS_SECRET_ACCESS_KEY": key[1],
            "AWS_WEB_IDENTITY_TOKEN_FILE": token_file, "AWS_ROLE_ARN": ROLE,
            "AWS_ENDPOINT_URL_STS": sts.url}
    try:
        no_keys_config(rig, s3_endpoint=None, s3_region=None, s3_path_style=None)
        rig.enqueue(rig.job_for(rig.add_file("env1", 4000, meeting_uuid=UUID)))
        r = rig.run("--once", env=dict(base, AWS_ENDPOINT_URL_S3=rig.s3env["S3_ENDPOINT"],
                                       AWS_ENDPOINT_URL="http://127.0.0.1:9/",
                                       AWS_REGION=rig.s3env["S3_REGION"]))
        tap.eq(r.rc, 0, "AWS_ENDPOINT_URL_S3 + AWS_REGION: exit 0") or tap.diag(r.tail())
        tap.eq(rig.where("env1"), ["done"], "AWS_ENDPOINT_URL_S3 (over AWS_ENDPOINT_URL) "
               "stands in for s3_endpoint, path-style as an s3_endpoint would be")
        tap.eq(sts.count(), 0, "the environment's keys come before a configured web "
               "identity: STS not asked")

        conf = os.path.join(rig.root, ".aws", "config")
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        with open(conf, "w") as f:
            f.write("[default]\nregion = %s\n" % rig.s3env["S3_REGION"])
        rig.enqueue(rig.job_for(rig.add_file("env2", 5000, meeting_uuid=UUID)))
        env = dict(base, AWS_ENDPOINT_URL=rig.s3env["S3_ENDPOINT"])
        r = rig.run("--once", env=env)
        tap.eq(r.rc, 0, "AWS_ENDPOINT_URL + the profile's region: exit 0") or \
            tap.diag(r.tail())
        tap.eq(rig.where("env2"), ["done"], "AWS_ENDPOINT_URL alone stands in for "
               "s3_endpoint")
        os.unlink(conf)

        # The file's own s3_endpoint wins: a wrong variable changes nothing.
        rig.write_config(aws_access_key_id=None, aws_secret_access_key=None)
        rig.enqueue(rig.job_for(rig.add_file("env3", 6000, meeting_uuid=UUID)))
        r = rig.run("--once", env=dict(base, AWS_ENDPOINT_URL_S3="http://127.0.0.1:9/"))
        tap.eq(rig.where("env3"), ["done"], "the config file's s3_endpoint wins over "
               "AWS_ENDPOINT_URL_S3") or tap.diag(r.tail())

        r = rig.run("--once", env=dict(base, AWS_ENDPOINT_URL_S3="not a url"))
        tap.eq(r.rc, 0, "a bad AWS_ENDPOINT_URL_S3 is ignored while the file sets "
               "s3_endpoint")
        no_keys_config(rig, s3_endpoint=None)
        r = rig.run("--once", env=dict(base, AWS_ENDPOINT_URL_S3="minio:9000"))
        tap.ok(r.rc == 2 and "AWS_ENDPOINT_URL_S3" in r.stderr,
               "a bad AWS_ENDPOINT_URL_S3 standing in for s3_endpoint: exit 2 naming it",
               r.tail(5))
    finally:
        sts.stop()


def check_secrets(tap, rig, secrets):
    text = "\n".join(r.stderr for r in rig.runs)
    for st in spoolrig.STATES:
        d = os.path.join(rig.spool, st)
        for name in os.listdir(d):
            try:
                with open(os.path.join(d, name), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
    leaked = sorted(s for s in secrets if s and s in text)
    tap.ok(not leaked, "no AWS secret key, session token, web identity or container token "
           "in any spooler log or job file (%d checked)" % len(secrets),
           *["leaked: %s..." % s[:8] for s in leaked])


def body(tap, rig):
    keys, secrets = Keys(), set()
    try:
        case_web_identity(tap, rig, keys, secrets)
        case_process(tap, rig, keys, secrets)
        case_container(tap, rig, keys, secrets)
        case_env_region_endpoint(tap, rig, keys, secrets)
        check_secrets(tap, rig, secrets)
    finally:
        keys.cleanup()


if __name__ == "__main__":
    spoolrig.main("awscreds", body)
