"""motorig: moto_server as the S3 of an end-to-end test (Debian's python3,
stdlib only; moto_server itself runs under the `python3` on PATH, the one
that can `import moto`).

    py = motorig.moto_python()      # None: SKIP, this python3 has no moto
    moto = motorig.Moto(py, logdir) # a free loopback port, auth on
    env = moto.env()                # S3_ENDPOINT, AWS_ACCESS_KEY_ID, ...
    ak, sk = moto.make_user("u", policy_document)  # an IAM user, its key
    moto.stop()                     # by its PID

Auth is on from the start: INITIAL_NO_AUTH_ACTION_COUNT lets the three IAM
calls that make the admin user (every right) and its key run unchecked;
every later request, S3 or IAM, is signed and checked against the caller's
IAM policies.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import s3util

REGION = "us-east-1"
ALL_RIGHTS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def moto_python():
    """The `python3` on PATH when it has moto, else None."""
    py = shutil.which("python3")
    if not py:
        return None
    r = subprocess.run([py, "-c", "import moto"], capture_output=True)
    return py if r.returncode == 0 else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _field(xml, name):
    m = re.search(r"<%s>(.*?)</%s>" % (name, name), xml)
    if not m:
        raise RuntimeError("moto IAM: no %s in %s" % (name, xml[:300]))
    return m.group(1)


class Moto:
    """moto_server on a free loopback port, stopped by its PID. track/untrack
    register the PID with the caller's reaper (webrig._tracked)."""

    def __init__(self, py, logdir, tracked=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.tracked = tracked if tracked is not None else set()
        self.log = open(os.path.join(logdir, "moto.log"), "wb")
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        self.proc = subprocess.Popen([py, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                      str(self.port)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.tracked.add(self.proc.pid)
        try:
            deadline = time.monotonic() + 60
            while not self.answers():
                if time.monotonic() >= deadline:
                    raise RuntimeError("moto_server did not answer on %s" % self.url)
                time.sleep(0.1)
            self.access_key, self.secret_key = self._admin()
            self.iam_client = s3util.S3(self.url, self.access_key, self.secret_key, REGION,
                                        service="iam")
        except BaseException:
            self.stop()
            raise

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("moto_server exited with %r" % self.proc.returncode)
        try:
            urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
            return True
        except OSError:
            return False

    def _unsigned_iam(self, **params):
        """One of the three IAM calls that run before checks start."""
        body = urllib.parse.urlencode(dict(params, Version="2010-05-08")).encode()
        req = urllib.request.Request(self.url + "/", data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/"
                             "us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def _admin(self):
        self._unsigned_iam(Action="CreateUser", UserName="zoom2s3-admin")
        self._unsigned_iam(Action="PutUserPolicy", UserName="zoom2s3-admin", PolicyName="all",
                           PolicyDocument=json.dumps(ALL_RIGHTS))
        out = self._unsigned_iam(Action="CreateAccessKey", UserName="zoom2s3-admin")
        return _field(out, "AccessKeyId"), _field(out, "SecretAccessKey")

    def iam(self, **params):
        """An IAM call signed with the admin's key; its XML answer."""
        body = urllib.parse.urlencode(dict(params, Version="2010-05-08")).encode()
        r = self.iam_client.request("POST", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        text = r.body.decode(errors="replace")
        if r.status != 200:
            raise RuntimeError("moto IAM %s: %d %s" % (params.get("Action"), r.status, text[:300]))
        return text

    def make_user(self, name, policy=None):
        """An IAM user with policy (a dict) as its only inline policy, or
        no rights at all; its (access key, secret key)."""
        self.iam(Action="CreateUser", UserName=name)
        if policy is not None:
            self.iam(Action="PutUserPolicy", UserName=name, PolicyName="zoom2s3",
                     PolicyDocument=json.dumps(policy))
        out = self.iam(Action="CreateAccessKey", UserName=name)
        return _field(out, "AccessKeyId"), _field(out, "SecretAccessKey")

    def env(self):
        """The admin's S3 settings, as tests/rig/rgw.sh env prints RGW's."""
        return {"S3_ENDPOINT": self.url, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "S3_REGION": REGION}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.tracked.discard(self.proc.pid)
        self.log.close()
