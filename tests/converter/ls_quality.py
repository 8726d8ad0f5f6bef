#!/usr/bin/env python3
"""A real Label Studio JSON export of a project several users annotated (run by ls_quality.sh).

For the label-quality comparisons (inter-annotator agreement, Cohen's kappa, Krippendorff's
alpha, label issues from predicted probabilities): a new Label Studio project (an image, a
single-choice class, multi-choice tags, rectangles and a caption) with 40 tasks imported through
the API; three more users signed up through Label Studio's own sign-up form with the
organization's invite token, each then reading their API token; annotations posted through the
API with the annotating user's token (so completed_by differs for real), 2 or 3 users on each
task, one user on a single task, two annotations cancelled; predictions posted through the API
(model version m1 on 37 tasks, 34 of them with value.scores, a probability for each class; m2
on 10 tasks). Then the project is exported whole as an export snapshot (POST
/api/projects/{id}/exports/ and its download) with the predictions given in full: the plain
GET /api/projects/{id}/export, which the Export button of the community edition calls, gives a
task's predictions as ids only (the script checks that it otherwise holds the same). Writes,
under --out, ls_<version>_quality_export.json (the snapshot's bytes as Label Studio sent them)
and ls_<version>_quality.xml (the label config as the project holds it). Everything is drawn
from random.Random(25), so each run makes the same project.
"""

import argparse
import http.cookiejar
import json
import math
import os
import random
import string
import sys
import time
import urllib.parse
import urllib.request

from ls_exports import Api  # the same token-authenticated JSON client

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: URLs that never load

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single">
    <Choice value="cat"/>
    <Choice value="dog"/>
    <Choice value="bird"/>
    <Choice value="fish"/>
  </Choices>
  <Choices name="tags" toName="image" choice="multiple">
    <Choice value="blurry"/>
    <Choice value="dark"/>
    <Choice value="occluded"/>
  </Choices>
  <RectangleLabels name="box" toName="image">
    <Label value="cat" background="#FF8800"/>
    <Label value="dog" background="#0066FF"/>
  </RectangleLabels>
  <TextArea name="caption" toName="image"/>
</View>"""

CLASSES = ["cat", "dog", "bird", "fish"]
TAGS = ["blurry", "dark", "occluded"]
BOX_LABELS = ["cat", "dog"]
CAPTIONS = {
    "cat": ["a cat", "a cat on a sofa"],
    "dog": ["a dog", "a dog in the park"],
    "bird": ["a bird", "a bird on a branch"],
    "fish": ["a fish", "a fish in a tank"],
}
OTHER_CAPTIONS = ["an animal", "hard to tell", "a blurry photo"]
SIZES = [(640, 480), (800, 600), (1024, 768), (1280, 720)]

N_TASKS = 40
# The users besides the admin: they sign up, as anybody with the invite link would.
ANNOTATORS = ["ann1@example.com", "ann2@example.com", "ann3@example.com"]
PASSWORD = "lsdb-quality-Pass-2501"
# How often each user (0 the admin, then ANNOTATORS) picks a class other than the true one.
NOISE = [0.10, 0.25, 0.40, 0.25]
SINGLE = 3  # the user who annotates one task only
SINGLE_TASK = 17  # that task's index (0-based)


# ---------------------------------------------------------------------------------------
# The plan: everything drawn up front from one seeded generator, before any API call.


def region_id(rng):
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(rng.choice(alphabet) for _ in range(10))


def choices(rng, name, values, **extra_value):
    return {"id": region_id(rng), "type": "choices", "from_name": name, "to_name": "image",
            "origin": "manual", "value": {"choices": values, **extra_value}}


def rect(rng, size, x, y, w, h, label, **extra):
    r = {"id": region_id(rng), "type": "rectanglelabels", "from_name": "box",
         "to_name": "image", "origin": "manual",
         "original_width": size[0], "original_height": size[1], "image_rotation": 0,
         "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0,
                   "rectanglelabels": [label]}}
    r.update(extra)
    return r


def caption(rng, text):
    return {"id": region_id(rng), "type": "textarea", "from_name": "caption",
            "to_name": "image", "origin": "manual", "value": {"text": [text]}}


def clamp_box(x, y, w, h):
    x, y = min(max(x, 0.0), 95.0), min(max(y, 0.0), 95.0)
    w, h = min(max(w, 2.0), 100.0 - x), min(max(h, 2.0), 100.0 - y)
    return round(x, 6), round(y, 6), round(w, 6), round(h, 6)


def probabilities(rng, peak, spread):
    """A probability for each class, peaked on `peak`, four decimals, summing to 1."""
    logits = {c: rng.uniform(-1.0, 1.0) for c in CLASSES}
    logits[peak] += rng.uniform(*spread)
    total = sum(math.exp(v) for v in logits.values())
    probs = {c: round(math.exp(v) / total, 4) for c, v in logits.items()}
    top = max(probs, key=probs.get)
    probs[top] = round(1.0 - sum(p for c, p in probs.items() if c != top), 4)
    return probs


def plan(rng):
    tasks = []
    for i in range(N_TASKS):
        size = rng.choice(SIZES)
        truth = rng.choice(CLASSES)
        tags = [t for t in TAGS if rng.random() < 0.25]
        boxes = []
        for _ in range(rng.choice([0, 1, 1, 2])):
            label = truth if truth in BOX_LABELS and rng.random() < 0.8 else rng.choice(BOX_LABELS)
            boxes.append((label, clamp_box(rng.uniform(2, 60), rng.uniform(2, 60),
                                           rng.uniform(10, 35), rng.uniform(10, 35))))
        if i == SINGLE_TASK:
            users = [SINGLE] + rng.sample([0, 1, 2], 2)
        else:
            users = rng.sample([0, 1, 2], 3 if rng.random() < 0.4 else 2)
        tasks.append({"index": i, "size": size, "truth": truth, "tags": tags, "boxes": boxes,
                      "users": users, "image": f"{UNREACHABLE}/img/q{i + 1:02d}.jpg"})
    # Two tasks with three users: the last of them skips the task instead.
    three = [t["index"] for t in tasks if len(t["users"]) == 3 and t["index"] != SINGLE_TASK]
    cancelled = set(rng.sample(three, 2))

    for t in tasks:
        t["annotations"] = []
        for k, user in enumerate(t["users"]):
            if t["index"] in cancelled and k == len(t["users"]) - 1:
                t["annotations"].append({"user": user, "body": {
                    "result": [], "was_cancelled": True,
                    "lead_time": round(rng.uniform(1, 8), 3)}})
                continue
            label = t["truth"]
            if rng.random() < NOISE[user]:
                label = rng.choice([c for c in CLASSES if c != t["truth"]])
            result = [choices(rng, "label", [label])]
            tags = [g for g in TAGS if rng.random() < (0.8 if g in t["tags"] else 0.1)]
            if tags:
                result.append(choices(rng, "tags", tags))
            for box_label, (x, y, w, h) in t["boxes"][:2]:
                if rng.random() < 0.15:
                    continue  # missed
                if rng.random() < 0.15:
                    box_label = "dog" if box_label == "cat" else "cat"
                j = lambda v: v + rng.uniform(-1.0, 1.0)
                result.append(rect(rng, t["size"], *clamp_box(j(x), j(y), j(w), j(h)), box_label))
            if rng.random() < 0.7:
                text = CAPTIONS[label][0]
            else:
                text = rng.choice(CAPTIONS[label][1:] + OTHER_CAPTIONS)
            result.append(caption(rng, text))
            t["annotations"].append({"user": user, "body": {
                "result": result, "was_cancelled": False,
                "lead_time": round(rng.uniform(3, 60), 3)}})

    # Predictions: none on 3 tasks, m1 without scores on 3, m1 with scores on the other 34;
    # m2 (with scores) on 10 of those 34.
    order = rng.sample(range(N_TASKS), N_TASKS)
    without, no_scores, scored = order[:3], order[3:6], order[6:]
    m2 = set(rng.sample(scored, 10))
    for t in tasks:
        t["predictions"] = []
        i = t["index"]
        if i in without:
            continue
        wrong = rng.random() < 0.15
        peak = rng.choice([c for c in CLASSES if c != t["truth"]]) if wrong else t["truth"]
        boxes = []
        for box_label, (x, y, w, h) in t["boxes"]:
            j = lambda v: v + rng.uniform(-2.0, 2.0)
            boxes.append(rect(rng, t["size"], *clamp_box(j(x), j(y), j(w), j(h)), box_label,
                              score=round(rng.uniform(0.4, 0.99), 4)))
        if i in no_scores:
            t["predictions"].append({"model_version": "m1",
                                     "result": [choices(rng, "label", [peak])] + boxes})
            continue
        probs = probabilities(rng, peak, (1.0, 3.5))
        top = max(probs, key=probs.get)
        t["predictions"].append({"model_version": "m1", "score": probs[top],
                                 "result": [choices(rng, "label", [top], scores=probs)] + boxes})
        if i in m2:
            peak2 = t["truth"] if rng.random() < 0.7 else rng.choice(CLASSES)
            probs = probabilities(rng, peak2, (0.3, 2.0))
            top = max(probs, key=probs.get)
            t["predictions"].append({"model_version": "m2", "score": probs[top],
                                     "result": [choices(rng, "label", [top], scores=probs)]})
    for t in tasks:
        for p in t["predictions"]:
            for r in p["result"]:
                del r["origin"]  # a model's regions carry none (the editor adds it)
    return tasks


# ---------------------------------------------------------------------------------------


def sign_up(base, email, password, invite_token):
    """Signs up through /user/signup/ (the form, with its CSRF token) as a browser would,
    then reads the new user's API token with the session: returns (user id, token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    url = f"{base}/user/signup/?token={urllib.parse.quote(invite_token)}"
    opener.open(url, timeout=60).read()
    csrf = next((c.value for c in jar if c.name == "csrftoken"), None)
    if csrf is None:
        raise SystemExit("the sign-up page set no csrftoken cookie")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "email": email,
                                   "password": password, "how_find_us": ""}).encode()
    req = urllib.request.Request(url, data=form, method="POST")
    req.add_header("Referer", url)
    page = opener.open(req, timeout=60)
    page.read()
    if "/user/signup" in page.geturl():
        raise SystemExit(f"signing up {email} did not go through (still on {page.geturl()})")
    with opener.open(f"{base}/api/current-user/whoami", timeout=60) as resp:
        me = json.loads(resp.read())
    with opener.open(f"{base}/api/current-user/token", timeout=60) as resp:
        token = json.loads(resp.read())["token"]
    if me["email"] != email:
        raise SystemExit(f"signed up {email}, the session is {me['email']}")
    return me["id"], token


def strip_predictions(export):
    """The export with each task's predictions as ids, as GET /api/projects/{id}/export has them."""
    out = json.loads(json.dumps(export))
    for t in out:
        t["predictions"] = [p["id"] for p in t["predictions"]]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ls-url", required=True)
    parser.add_argument("--token", required=True, help="the admin's API token")
    parser.add_argument("--out", required=True, help="where the export and config go")
    args = parser.parse_args()
    base = args.ls_url.rstrip("/")
    admin = Api(base, args.token)
    version = admin.call("GET", "/api/version")["release"]
    print(f"Label Studio {version} at {base}")
    tasks = plan(random.Random(25))

    me = admin.call("GET", "/api/current-user/whoami")
    invite = admin.call("GET", "/api/invite")
    users = [(me["id"], me["email"], admin)]
    for email in ANNOTATORS:
        uid, token = sign_up(base, email, PASSWORD, invite["token"])
        users.append((uid, email, Api(base, token)))
        print(f"signed up {email}: user {uid}")
    for uid, email, api in users:
        who = api.call("GET", "/api/current-user/whoami")
        if who["id"] != uid:
            raise SystemExit(f"{email}'s token is user {who['id']}'s")
    members = admin.call("GET", f"/api/organizations/{me['active_organization']}/memberships"
                                "?page_size=100")
    members = members["results"] if isinstance(members, dict) else members
    member_ids = {m["user"]["id"] if isinstance(m["user"], dict) else m["user"] for m in members}
    if not {uid for uid, _, _ in users} <= member_ids:
        raise SystemExit(f"not all users are in organization {me['active_organization']}: "
                         f"{sorted(member_ids)}")

    project = admin.call("POST", "/api/projects",
                         {"title": "lsdb quality fixture: several annotators",
                          "label_config": CONFIG})
    pid = project["id"]
    imported = admin.call("POST", f"/api/projects/{pid}/import",
                          [{"data": {"image": t["image"]}} for t in tasks])
    if imported.get("task_count") != len(tasks):
        raise SystemExit(f"Label Studio imported {imported}, sent {len(tasks)} tasks")
    listed = admin.call("GET", f"/api/tasks?project={pid}&page_size=1000")
    listed = listed["tasks"] if isinstance(listed, dict) else listed
    ids = sorted(t["id"] for t in listed)
    for task_id, t in zip(ids, tasks):
        for p in t["predictions"]:
            admin.call("POST", "/api/predictions/", {"task": task_id, **p})
    # As in ls_exports.py: with the project's model version set, each annotation carries the
    # task's m1 prediction whole ("prediction").
    admin.call("PATCH", f"/api/projects/{pid}", {"model_version": "m1"})
    for task_id, t in zip(ids, tasks):
        for a in t["annotations"]:
            made = users[a["user"]][2].call("POST", f"/api/tasks/{task_id}/annotations/", a["body"])
            if made["completed_by"] != users[a["user"]][0]:
                raise SystemExit(f"task {task_id}: posted as user {users[a['user']][0]}, "
                                 f"completed_by {made['completed_by']}")

    # The export: a snapshot of all tasks and all annotations, predictions in full.
    snapshot = admin.call("POST", f"/api/projects/{pid}/exports/",
                          {"title": "quality",
                           "serialization_options": {"predictions": {"only_id": False},
                                                     "annotations__completed_by":
                                                         {"only_id": True}}})
    for _ in range(60):
        snapshot = admin.call("GET", f"/api/projects/{pid}/exports/{snapshot['id']}")
        if snapshot["status"] in ("completed", "failed"):
            break
        time.sleep(1)
    if snapshot["status"] != "completed":
        raise SystemExit(f"the export snapshot ended {snapshot['status']}: {snapshot}")
    export = admin.call("GET", f"/api/projects/{pid}/exports/{snapshot['id']}/download"
                               "?exportType=JSON", raw=True)
    exported = json.loads(export)
    plain = json.loads(admin.call("GET", f"/api/projects/{pid}/export?exportType=JSON"
                                         "&download_all_tasks=true", raw=True))

    export_path = os.path.join(args.out, f"ls_{version}_quality_export.json")
    os.makedirs(args.out, exist_ok=True)
    with open(export_path, "wb") as f:
        f.write(export)
    config_path = os.path.join(args.out, f"ls_{version}_quality.xml")
    with open(config_path, "w", encoding="utf-8") as f:
        stored = admin.call("GET", f"/api/projects/{pid}")["label_config"]
        f.write(stored if stored.endswith("\n") else stored + "\n")
    for path in (export_path, config_path):
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")

    # Checks and a listing.
    problems = []
    made_annotations = sum(len(t["annotations"]) for t in tasks)
    got = [a for t in exported for a in t["annotations"]]
    if (len(exported), len(got)) != (len(tasks), made_annotations):
        problems.append(f"the export has {len(exported)} tasks and {len(got)} annotations; "
                        f"{len(tasks)} and {made_annotations} were made")
    if strip_predictions(exported) != plain:
        problems.append("the snapshot differs from GET /export beyond the predictions' ids")
    by_email = {uid: email for uid, email, _ in users}
    print("task  completed_by  cancelled  label")
    for t in exported:
        for a in t["annotations"]:
            label = next((r["value"]["choices"] for r in a["result"]
                          if r["from_name"] == "label"), None)
            print(f"{t['id']:>4}  {json.dumps(a['completed_by']):>12}  "
                  f"{str(a['was_cancelled']):>9}  {label}")
    kinds = sorted({type(a["completed_by"]).__name__ for a in got})
    per_user = {}
    for a in got:
        key = a["completed_by"]["id"] if isinstance(a["completed_by"], dict) else a["completed_by"]
        per_user[key] = per_user.get(key, 0) + 1
    print(f"completed_by is written as {', '.join(kinds)}")
    for uid, n in sorted(per_user.items()):
        print(f"  user {uid} ({by_email.get(uid)}): {n} annotations, on "
              f"{sum(any(a['completed_by'] == uid for a in t['annotations']) for t in exported)}"
              " tasks")
    if len(per_user) < 3:
        problems.append(f"only {len(per_user)} distinct completed_by values")
    cancelled = sum(a["was_cancelled"] for a in got)
    preds = [p for t in exported for p in t["predictions"]]
    if not all(isinstance(p, dict) for p in preds):
        problems.append("the export's predictions are not objects")
    preds = [p for p in preds if isinstance(p, dict)]

    def scores(p):
        return next((r["value"].get("scores") for r in p["result"] if r["from_name"] == "label"),
                    None)
    sent = {(ids[t["index"]], p["model_version"]): scores(p)
            for t in tasks for p in t["predictions"]}
    kept = {(p["task"], p["model_version"]): scores(p) for p in preds}
    if kept != sent:
        problems.append("the predictions' value.scores in the export differ from those posted")
    for version_name in ("m1", "m2"):
        these = [p for p in preds if p["model_version"] == version_name]
        with_scores = sum(scores(p) is not None for p in these)
        print(f"predictions {version_name}: {len(these)} ({with_scores} with value.scores, "
              f"{len(these) - with_scores} without)")
    embedded = sum(bool(a.get("prediction")) and scores(a["prediction"]) is not None for a in got)
    print(f"{len(exported)} tasks, {len(got)} annotations ({cancelled} cancelled), "
          f"{sum(not t['predictions'] for t in exported)} tasks without a prediction, "
          f"{embedded} annotations carrying a prediction with scores")
    if problems:
        raise SystemExit("; ".join(problems))
    return 0


if __name__ == "__main__":
    sys.exit(main())
