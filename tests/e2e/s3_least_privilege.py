#!/usr/bin/env python3
"""TAP: the spooler under the least-privilege policy of docs/DEPLOY.md
(CONTRACT "Config file": s3:PutObject, s3:GetObject,
s3:AbortMultipartUpload, s3:ListMultipartUploadParts and
s3:ListBucketMultipartUploads on the bucket; no s3:ListBucket).

The policy block of DEPLOY.md, as it is written there, is applied as a
bucket policy on the local Ceph RGW to a user made for this test with no
other rights (radosgw-admin user create). Like AWS, RGW then answers a
HEAD of a missing key with 403. Under it the real zoom2s3-spooler must:
upload a small file (PutObject) and a multipart one; resume an upload
whose first part an earlier run sent (ListParts); abort an upload that a
crashed run left open (ListMultipartUploads, AbortMultipartUpload); find a
file already uploaded, and move aside from another file's object (HEAD of
an existing key, a 412 from If-None-Match). A user with no rights at all
gets a last_error that names the permission it lacks.

The cases take the rig's S3 backend: tests/e2e/s3_moto_least_privilege.py
runs them on moto_server, where the policy is an IAM user's own policy
(grant_moto) and the RGW-only checks (403 on HEAD, s3_acl, request ids)
give way to what moto does (docs/S3.md)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import s3util  # noqa: E402
import spoolrig  # noqa: E402
from spoolrig import PART, check_done  # noqa: E402
import fakezoom  # noqa: E402

DOC_BUCKET = "example-edu-zoom-recordings"


def deploy_policy():
    with open(os.path.join(spoolrig.webrig.SRCDIR, "docs", "DEPLOY.md")) as f:
        text = f.read()
    m = re.search(r"<!-- test: iam-policy -->\n```[^\n]*\n(.*?)^```", text, re.S | re.M)
    return json.loads(m.group(1)) if m else None


def make_user(tap, uid):
    ak = ("LP" + os.urandom(9).hex()).upper()[:20]
    sk = os.urandom(20).hex()
    r = spoolrig._rgw("admin", "user", "create", "--uid=" + uid, "--display-name=" + uid,
                      "--access-key=" + ak, "--secret=" + sk)
    tap.ok(r.returncode == 0, "radosgw-admin user create %s" % uid, r.stderr[-500:])
    return ak, sk


def remove_user(uid):
    spoolrig._rgw("admin", "user", "rm", "--uid=" + uid)


def for_bucket(policy, bucket):
    """The policy with the test's bucket in place of DEPLOY.md's."""
    return json.loads(json.dumps(policy).replace(DOC_BUCKET, bucket))


def bucket_policy(policy, bucket, uid):
    """The IAM policy as a bucket policy: the bucket's name, and the user
    as the Principal of each statement."""
    doc = for_bucket(policy, bucket)
    for st in doc["Statement"]:
        st["Principal"] = {"AWS": ["arn:aws:iam:::user/%s" % uid]}
    return doc


def case_uploads(tap, rig, head_missing):
    small = rig.add_file("lp-small", 300 * 1024)
    big = rig.add_file("lp-big", 2 * PART + 4321)
    ksmall = "lp/%s/small.mp4" % rig.name
    kbig = "lp/%s/big.mp4" % rig.name
    rig.enqueue(rig.job_for(small, key=ksmall))
    rig.enqueue(rig.job_for(big, key=kbig))
    r = rig.run("--once", "-j", "1")
    tap.ok(r.rc == 0, "least privilege: the run exits 0", r.tail())
    check_done(tap, rig, small, ksmall, "least privilege, single PUT")
    check_done(tap, rig, big, kbig, "least privilege, multipart")
    if head_missing == 403:
        tap.ok(r.events("transfer.head_undecided"),
               "least privilege: a HEAD of a missing key is 403, and the upload goes on "
               "conditionally", r.tail())
    return r


def case_resume(tap, rig, lim):
    info = rig.add_file("lp-resume", 2 * PART + 1111)
    key = "lp/%s/resume.mp4" % rig.name
    # as a run that died after part 1 left it
    up = lim.create_multipart_upload(rig.bucket, key, headers={
        "Content-Type": "video/mp4", "x-amz-meta-zoom-file-id": "lp-resume",
        "x-amz-meta-zoom-meeting-uuid": info["meeting_uuid"]})
    etag = lim.upload_part(rig.bucket, key, up, 1,
                           fakezoom.content(info["seed"], 0, PART)).strip('"')
    job = rig.job_for(info, key=key, upload_id=up, part_size=PART,
                      parts=[{"part": 1, "etag": etag, "size": PART}])
    rig.enqueue(job)
    r = rig.run("--once")
    check_done(tap, rig, info, key, "least privilege, resume")
    served = sum(e.get("bytes_sent", 0) for e in rig.requests(server="cdn", file_id="lp-resume"))
    tap.eq(served, info["size"] - PART,
           "least privilege, resume: only the bytes after part 1 were downloaded")
    tap.ok(r.events("transfer.resume"), "least privilege, resume: logged", r.tail())


def case_abort(tap, rig, lim):
    info = rig.add_file("lp-orphan", PART + 2222)
    # moto 5.2.1 refuses the signature of a ListMultipartUploads whose
    # prefix= holds a "/" (docs/S3.md): there the orphan's key has none
    sep = "/" if rig.backend.signs_slash_in_query else "-"
    key = "lp%s%s%sorphan.mp4" % (sep, rig.name, sep)
    lim.create_multipart_upload(rig.bucket, key)  # a crashed run's, never recorded
    rig.enqueue(rig.job_for(info, key=key))
    r = rig.run("--once")
    check_done(tap, rig, info, key, "least privilege, orphan")
    tap.ok(r.events("transfer.orphan_aborted"),
           "least privilege: the orphan upload is listed and aborted", r.tail())
    tap.eq(rig.uploads(key), [], "least privilege: no upload left for the key")


def case_existing(tap, rig):
    # The same file, already in place: done without a transfer.
    same = rig.add_file("lp-same", 200 * 1024)
    ksame = "lp/%s/same.mp4" % rig.name
    rig.s3.put_object(rig.bucket, ksame, fakezoom.content(same["seed"], 0, same["size"]),
                      content_type="video/mp4",
                      metadata={"zoom-file-id": "lp-same",
                                "zoom-meeting-uuid": same["meeting_uuid"]})
    rig.enqueue(rig.job_for(same, key=ksame))
    # Another file's object under the key: this file moves aside.
    other = rig.add_file("lp-other", 200 * 1024)
    kother = "lp/%s/taken.mp4" % rig.name
    rig.s3.put_object(rig.bucket, kother, b"another recording", content_type="video/mp4",
                      metadata={"zoom-file-id": "someone-else"})
    rig.enqueue(rig.job_for(other, key=kother))
    r = rig.run("--once", "-j", "1")
    tap.eq(rig.where("lp-same"), ["done"], "least privilege: the same file already there: done")
    tap.eq(sum(1 for e in rig.requests(server="cdn", file_id="lp-same")), 0,
           "  ... without a download")
    check_done(tap, rig, other, "lp/%s/taken-lp-other.mp4" % rig.name,
               "least privilege, key taken by another file")
    tap.ok(rig.s3.get_object(rig.bucket, kother) == b"another recording",
           "least privilege: the other file's object is untouched", r.tail())


def case_acl(tap, rig, ak, sk):
    """s3_acl = bucket-owner-full-control: the bucket's owner can read what
    another user uploaded (without it, it cannot: see case_uploads)."""
    info = rig.add_file("lp-acl", 100 * 1024)
    key = "lp/%s/acl.mp4" % rig.name
    tap.eq(rig.s3.request("HEAD", rig.bucket, "lp/%s/small.mp4" % rig.name).status, 403,
           "without s3_acl the bucket's owner cannot read another user's upload")
    rig.enqueue(rig.job_for(info, key=key))
    rig.write_config(aws_access_key_id=ak, aws_secret_access_key=sk,
                     s3_acl="bucket-owner-full-control")
    r = rig.run("--once")
    check_done(tap, rig, info, key, "s3_acl = bucket-owner-full-control (read by the owner)",
               run=r)


def case_no_rights(tap, rig, ak, sk):
    info = rig.add_file("lp-none", 100 * 1024)
    key = "lp/%s/none.mp4" % rig.name
    rig.enqueue(rig.job_for(info, key=key))
    rig.write_config(aws_access_key_id=ak, aws_secret_access_key=sk)
    r = rig.run("--once")
    job = rig.job("new", "lp-none") or {}
    err = job.get("last_error") or ""
    want = "s3:PutObject denied on %s/%s (PutObject)" % (rig.bucket, key)
    tap.ok(err.startswith(want), "no rights: last_error names the permission", repr(err))
    if rig.backend.name == "moto":
        return  # its request id is in x-amzn-requestid, not x-amz-request-id (docs/S3.md)
    tap.ok(re.search(r"request id \S+", err), "  ... with S3's request id", repr(err))
    tap.ok(any("op=PutObject" in ln and "request_id=" in ln for ln in r.events("s3.failed")),
           "  the failed request's log line carries the request id", r.tail())


def grant_rgw(tap, rig, policy, tag):
    """RGW: two users made with radosgw-admin; the policy as the bucket's
    policy for the first. Returns both keys and the undo."""
    uid, uid_none = "z2s3-lp-" + tag, "z2s3-none-" + tag

    def undo():
        rig.s3.request("DELETE", rig.bucket, query=[("policy", "")])
        remove_user(uid)
        remove_user(uid_none)
    try:
        ak, sk = make_user(tap, uid)
        ak0, sk0 = make_user(tap, uid_none)
        doc = bucket_policy(policy, rig.bucket, uid)
        r = rig.s3.request("PUT", rig.bucket, query=[("policy", "")],
                           body=json.dumps(doc).encode())
        tap.ok(r.status in (200, 204), "the policy is the bucket's policy", r.body[:300])
    except BaseException:
        undo()
        raise
    return (ak, sk), (ak0, sk0), undo


def grant_moto(tap, rig, policy, tag):
    """moto: the policy as an IAM user's only policy, as DEPLOY.md ships it
    for AWS, and a second IAM user with no policy (moto checks each
    request against the caller's IAM policies)."""
    keys = rig.backend.moto.make_user("z2s3-lp-" + tag, for_bucket(policy, rig.bucket))
    tap.ok(True, "the policy is an IAM user's only policy")
    return keys, rig.backend.moto.make_user("z2s3-none-" + tag), lambda: None


def body(tap, rig):
    policy = deploy_policy()
    tap.ok(policy is not None, "DEPLOY.md has the policy block (<!-- test: iam-policy -->)")
    actions = sorted(a for st in policy["Statement"] for a in
                     (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
    tap.eq(actions, sorted(["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload",
                            "s3:ListMultipartUploadParts", "s3:ListBucketMultipartUploads"]),
           "the policy grants exactly the contract's five permissions")
    grant = grant_moto if rig.backend.name == "moto" else grant_rgw
    undo = None
    try:
        (ak, sk), (ak0, sk0), undo = grant(tap, rig, policy, os.urandom(3).hex())
        lim = s3util.S3(rig.s3env["S3_ENDPOINT"], ak, sk, rig.s3env["S3_REGION"])
        # AWS and RGW: 403; moto 5.2.1 answers 404 (docs/S3.md)
        head_missing = lim.request("HEAD", rig.bucket, "lp/missing.mp4").status
        tap.eq(head_missing, 404 if rig.backend.name == "moto" else 403,
               "under it, a HEAD of a missing key is %d (no s3:ListBucket)" % head_missing)
        tap.eq(lim.request("GET", rig.bucket, query=[("prefix", "lp/")]).status, 403,
               "  and listing the bucket is refused")
        rig.write_config(aws_access_key_id=ak, aws_secret_access_key=sk)
        # The objects belong to the user who uploads them: the checks read
        # them with its rights (the bucket's owner has none on them).
        owner, rig.s3 = rig.s3, lim
        try:
            case_uploads(tap, rig, head_missing)
            case_resume(tap, rig, lim)
            case_abort(tap, rig, lim)
            case_existing(tap, rig)
        finally:
            rig.s3 = owner
        if rig.backend.name == "rgw":
            # moto enforces no object ACL between users of one account
            case_acl(tap, rig, ak, sk)
        case_no_rights(tap, rig, ak0, sk0)
    finally:
        if undo is not None:
            undo()


if __name__ == "__main__":
    spoolrig.main("s3_least_privilege", body)
