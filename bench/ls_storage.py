#!/usr/bin/env python3
"""lsdb's bucket import beside Label Studio's own S3 storage, on the same bucket of a local S3
server (moto) — run by bench/ls_storage.sh, not part of cargo test.

Label Studio 1.x syncs an S3 import storage (use_blob_urls, one level and recursive); lsdb
imports the same prefix. The task data of both must be the same, key for key. Then the
things Label Studio's users report are tried on both: a second storage over the same bucket
(#3651), a re-sync after one object changed and one was deleted (#5836), and a presigned
export URL that must fetch the object's bytes. Prints each step; exits non-zero on a
mismatch of the data.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

FAILED = []


def step(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(name)


def note(name, detail):
    print(f"fact {name}: {detail}", flush=True)


def api(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Token {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            payload = resp.read()
    except urllib.error.HTTPError as err:
        raise SystemExit(f"{method} {path}: {err.code} {err.read()[:400]!r}")
    return json.loads(payload or b"null")


def lsdb(binary, env, *args):
    run = subprocess.run([binary, *args], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise SystemExit(f"lsdb {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def stored_uri(value):
    """Label Studio's API shows a bucket URI as `/tasks/ID/resolve/?fileuri=BASE64`; the
    task keeps the URI itself."""
    if isinstance(value, str) and "/resolve/?fileuri=" in value:
        return base64.b64decode(value.split("fileuri=", 1)[1]).decode()
    return value


def ls_tasks(base, token, project):
    tasks, page = [], 1
    while True:
        got = api(base, token, "GET", f"/api/tasks?project={project}&page={page}&page_size=500")
        batch = got["tasks"] if isinstance(got, dict) else got
        for task in batch:
            task["data"] = {k: stored_uri(v) for k, v in task["data"].items()}
        tasks.extend(batch)
        if len(batch) < 500:
            return tasks
        page += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsdb", required=True)
    ap.add_argument("--ls-url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--s3", required=True)
    args = ap.parse_args()
    import boto3

    s3 = boto3.client("s3", endpoint_url=args.s3, region_name="us-east-1",
                      aws_access_key_id="ls", aws_secret_access_key="ls")
    s3.create_bucket(Bucket="shared")
    keys = [f"photos/{i:03}.jpg" for i in range(30)] + [f"photos/sub/{i:02}.png" for i in range(5)]
    for key in keys:
        s3.put_object(Bucket="shared", Key=key, Body=key.encode())
    env = dict(os.environ, AWS_ACCESS_KEY_ID="ls", AWS_SECRET_ACCESS_KEY="ls", AWS_ENDPOINT_URL=args.s3)
    config = '<View><Image name="image" value="$image"/><Choices name="c" toName="image"><Choice value="a"/></Choices></View>'

    def ls_storage(project, recursive):
        body = {"project": project, "title": "shared", "bucket": "shared", "prefix": "photos/",
                "use_blob_urls": True, "presign": True, "presign_ttl": 60, "s3_endpoint": args.s3,
                "aws_access_key_id": "ls", "aws_secret_access_key": "ls", "region_name": "us-east-1",
                "recursive_scan": recursive}
        storage = api(args.ls_url, args.token, "POST", "/api/storages/s3", body)
        api(args.ls_url, args.token, "POST", f"/api/storages/s3/{storage['id']}/sync")
        return storage["id"]

    work = tempfile.mkdtemp(prefix="lsdb-ls-storage-")
    for recursive in (False, True):
        project = api(args.ls_url, args.token, "POST", "/api/projects",
                      {"title": f"storage recursive={recursive}", "label_config": config})["id"]
        storage = ls_storage(project, recursive)
        ls_data = sorted(json.dumps(t["data"], sort_keys=True) for t in ls_tasks(args.ls_url, args.token, project))
        proj = os.path.join(work, f"p{recursive}")
        lsdb(args.lsdb, env, "init", proj, "--template", "image_classification")
        flags = ["--recursive"] if recursive else []
        lsdb(args.lsdb, env, "-p", proj, "storage", "add", "shared", "s3://shared/photos/",
             "--format", "image-dir", *flags)
        lsdb(args.lsdb, env, "-p", proj, "storage", "sync")
        rows = json.loads(lsdb(args.lsdb, env, "-p", proj, "sql", "--format", "json",
                               "SELECT data FROM tasks ORDER BY id"))
        lsdb_data = sorted(json.dumps(json.loads(r["data"]) if isinstance(r["data"], str) else r["data"],
                                      sort_keys=True) for r in rows)
        step(f"recursive={recursive}: the same task data as Label Studio's S3 storage "
             f"({len(ls_data)} tasks)", ls_data == lsdb_data,
             "" if ls_data == lsdb_data else f"LS {ls_data[:2]} vs lsdb {lsdb_data[:2]}")
        if not recursive:
            continue
        # A second storage over the same bucket.
        ls_storage(project, True)
        n_ls = len(ls_tasks(args.ls_url, args.token, project))
        note("Label Studio, a second storage over the same bucket", f"{len(ls_data)} -> {n_ls} tasks")
        lsdb(args.lsdb, env, "-p", proj, "storage", "add", "again", "s3://shared/", "--prefix", "photos",
             "--format", "image-dir", "--recursive")
        lsdb(args.lsdb, env, "-p", proj, "storage", "sync", "again")
        n = json.loads(lsdb(args.lsdb, env, "-p", proj, "sql", "--format", "json",
                            "SELECT count(*) AS n FROM tasks"))[0]["n"]
        step("lsdb, a second storage over the same bucket adds no task", n == len(lsdb_data), f"{n} tasks")
        # One object changed, one deleted, one new; sync again.
        s3.put_object(Bucket="shared", Key="photos/000.jpg", Body=b"changed")
        s3.delete_object(Bucket="shared", Key="photos/001.jpg")
        s3.put_object(Bucket="shared", Key="photos/new.jpg", Body=b"new")
        api(args.ls_url, args.token, "POST", f"/api/storages/s3/{storage}/sync")
        after = ls_tasks(args.ls_url, args.token, project)
        still = sum(1 for t in after if t["data"].get("image") == "s3://shared/photos/001.jpg")
        note("Label Studio, re-sync after 1 changed, 1 deleted, 1 new",
             f"{n_ls} -> {len(after)} tasks; tasks of the deleted object left: {still}; nothing reported")
        out = lsdb(args.lsdb, env, "-p", proj, "storage", "sync", "shared")
        step("lsdb, re-sync reports 1 new, 1 changed, 1 deleted",
             "1 new, 1 changed, 1 deleted" in out, out.strip().splitlines()[0])
        # A presigned export URL fetches the bytes.
        queue = os.path.join(work, "queue.json")
        lsdb(args.lsdb, env, "-p", proj, "export", "--presign", "-o", queue)
        url = next(t["data"]["image"] for t in json.load(open(queue))
                   if t["data"]["image"].split("?")[0].endswith("/photos/002.jpg"))
        with urllib.request.urlopen(url) as resp:
            body = resp.read()
        step("the presigned export URL fetches the object", body == b"photos/002.jpg")
        # Label Studio imports the exported queue and keeps the URLs.
        p2 = api(args.ls_url, args.token, "POST", "/api/projects", {"title": "queue", "label_config": config})["id"]
        api(args.ls_url, args.token, "POST", f"/api/projects/{p2}/import", json.load(open(queue)))
        imported = ls_tasks(args.ls_url, args.token, p2)
        exported = json.load(open(queue))
        step("Label Studio imports the presigned queue whole",
             sorted(t["data"]["image"] for t in imported) == sorted(t["data"]["image"] for t in exported),
             f"{len(imported)} of {len(exported)} tasks, URLs kept")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
