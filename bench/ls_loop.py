#!/usr/bin/env python3
"""The labeling loop against a real Label Studio (run by bench/ls_loop.sh; not part of cargo test).

lsdb picks a queue and exports it; Label Studio imports it through its API; annotations
are added through Label Studio's API, as annotators would; Label Studio's own export is
merged back into lsdb; the counts and the queue are checked. An image task checks that
the exported URL of a local file returns the file's bytes from Label Studio. Prints each
step and exits non-zero on any mismatch. With --save-fixtures DIR, keeps what Label Studio
produced there (the test fixtures in fixtures/label_studio/ were made this way).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAILED = []


def step(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(name)


def lsdb(binary, *args, cwd=None):
    run = subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd)
    if run.returncode != 0:
        raise SystemExit(f"lsdb {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def api(base, token, method, path, body=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Token {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        payload = resp.read()
    return payload if raw else json.loads(payload or b"null")


def query(binary, project, sql):
    return json.loads(lsdb(binary, "-p", project, "sql", "--format", "json", sql))


def text_loop(args, work):
    project = os.path.join(work, "text")
    config = os.path.join(ROOT, "fixtures/configs/sampling.xml")
    tasks = os.path.join(ROOT, "fixtures/tasks/sampling.json")
    lsdb(args.lsdb, "init", project, "-l", config, "--input-path", tasks)
    # The queue: the unlabeled tasks, the model's least sure first.
    queue = os.path.join(work, "queue.json")
    lsdb(args.lsdb, "-p", project, "export", "--sample", "prediction-score-min", "--limit", "6",
         "-o", queue)
    exported = json.load(open(queue))
    want = {
        "task_count": len(exported),
        "annotation_count": sum(len(t.get("annotations", [])) for t in exported),
        "prediction_count": sum(len(t.get("predictions", [])) for t in exported),
    }
    xml = lsdb(args.lsdb, "-p", project, "config", "show")
    ls_project = api(args.ls_url, args.token, "POST", "/api/projects",
                     {"title": "lsdb loop", "label_config": xml})["id"]
    got = api(args.ls_url, args.token, "POST", f"/api/projects/{ls_project}/import", exported)
    got = {k: got.get(k) for k in want}
    step("Label Studio imports lsdb's exported queue whole", got == want, f"{got}, sent {want}")
    ls_tasks = api(args.ls_url, args.token, "GET",
                   f"/api/tasks?project={ls_project}&page_size=100&fields=all")
    ls_tasks = ls_tasks["tasks"] if isinstance(ls_tasks, dict) else ls_tasks
    unlabeled = [t for t in ls_tasks if not t.get("total_annotations")]
    labeled_now = unlabeled[:2]
    for task in labeled_now:
        api(args.ls_url, args.token, "POST", f"/api/tasks/{task['id']}/annotations/", {
            "result": [{"from_name": "class", "to_name": "text", "type": "choices",
                        "value": {"choices": ["B"]}}],
            "lead_time": 4.25,
        })
    step("annotations added through Label Studio's API", True, f"{len(labeled_now)} tasks")
    back = api(args.ls_url, args.token, "GET",
               f"/api/projects/{ls_project}/export?exportType=JSON&download_all_tasks=true", raw=True)
    back_file = os.path.join(work, "ls_export.json")
    open(back_file, "wb").write(back)
    if args.save_fixtures:
        shutil.copy(back_file, os.path.join(args.save_fixtures, "text_export.json"))
    before = query(args.lsdb, project, "SELECT count(*) AS t, (SELECT count(*) FROM completions) AS c FROM tasks")[0]
    out = lsdb(args.lsdb, "-p", project, "import", back_file, "--merge")
    after = query(args.lsdb, project, "SELECT count(*) AS t, (SELECT count(*) FROM completions) AS c FROM tasks")[0]
    step("merge adds the new annotations to their tasks, and no task",
         after == {"t": before["t"], "c": before["c"] + len(labeled_now)}, f"{before} -> {after}; {out.strip()}")
    again = lsdb(args.lsdb, "-p", project, "import", back_file, "--merge")
    twice = query(args.lsdb, project, "SELECT count(*) AS t, (SELECT count(*) FROM completions) AS c FROM tasks")[0]
    step("merging the same export again changes nothing", twice == after, f"{again.strip()}")
    texts = {t["data"]["text"] for t in labeled_now}
    queue_now = query(args.lsdb, project,
                      "SELECT t.data->>'text' AS text FROM labeling_queue('sequential', 0, NULL) AS q "
                      "JOIN tasks AS t ON t.id = q.task_id")
    left = {r["text"] for r in queue_now}
    step("the labeled tasks have left the queue", not (texts & left), f"labeled {sorted(texts)}, queue {sorted(left)}")
    # What came back from Label Studio goes out again, whole, to a new Label Studio project.
    second = os.path.join(work, "second.json")
    lsdb(args.lsdb, "-p", project, "export", "-o", second)
    exported = json.load(open(second))
    want = {
        "task_count": len(exported),
        "annotation_count": sum(len(t.get("annotations", [])) for t in exported),
        "prediction_count": sum(len(t.get("predictions", [])) for t in exported),
    }
    again_project = api(args.ls_url, args.token, "POST", "/api/projects",
                        {"title": "lsdb loop, second round", "label_config": xml})["id"]
    got = api(args.ls_url, args.token, "POST", f"/api/projects/{again_project}/import", exported)
    got = {k: got.get(k) for k in want}
    step("after the merge, lsdb's export imports whole into a new Label Studio project",
         got == want, f"{got}, sent {want}")


def image_loop(args, work):
    images = os.path.join(work, "images")
    os.makedirs(images)
    source = os.path.join(ROOT, "fixtures/dirs/images/a.png")
    shutil.copy(source, os.path.join(images, "a.png"))
    project = os.path.join(work, "img")
    config = os.path.join(ROOT, "fixtures/configs/image_bbox.xml")
    lsdb(args.lsdb, "init", project, "-l", config, "--input-path", images, "--input-format", "image-dir")
    queue = os.path.join(work, "images.json")
    lsdb(args.lsdb, "-p", project, "export", "-o", queue, "--url-style", "ls1",
         "--host-url", args.ls_url, "--document-root", args.document_root)
    exported = json.load(open(queue))
    xml = lsdb(args.lsdb, "-p", project, "config", "show")
    ls_project = api(args.ls_url, args.token, "POST", "/api/projects",
                     {"title": "lsdb images", "label_config": xml})["id"]
    api(args.ls_url, args.token, "POST", f"/api/projects/{ls_project}/import", exported)
    # Label Studio 1.x serves only files under a Local Storage of the project.
    api(args.ls_url, args.token, "POST", "/api/storages/localfiles",
        {"project": ls_project, "path": images, "title": "lsdb images", "use_blob_urls": False})
    url = exported[0]["data"]["image_url"]
    body = api(args.ls_url, args.token, "GET", url[len(args.ls_url):], raw=True)
    step("an image task's URL returns the image from Label Studio",
         body == open(source, "rb").read(), f"{url} gave {len(body)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lsdb", required=True)
    parser.add_argument("--ls-url", default="http://127.0.0.1:8089")
    parser.add_argument("--token", required=True)
    parser.add_argument("--document-root", default="/tmp",
                        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT")
    parser.add_argument("--save-fixtures")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="lsdb-loop-", dir=args.document_root)
    try:
        text_loop(args, work)
        image_loop(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'FAILED: ' + ', '.join(FAILED) if FAILED else 'all steps passed'}")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
