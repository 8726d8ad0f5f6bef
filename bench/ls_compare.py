#!/usr/bin/env python3
"""Label Studio's API against `lsdb serve`, request by request (run by bench/ls_compare.sh).

    python3 bench/ls_compare.py --ls-url http://127.0.0.1:8089 --token T [--lsdb PATH]

Makes the same project on both servers (a Text + Choices config; 36 text tasks, 5 of them
with an annotation, the fifth cancelled, 12 with a scored prediction): on Label Studio
through its API, on lsdb with `lsdb init --input-path` (explicit task ids 1..36) and
`lsdb serve --port 0 --token T`. Then sends each request of the list below to both
(what label-studio-sdk 2.1.2 sends for its task, export and import calls, plus Data Manager
filters, selectedItems, fields, and unknown parameters), the imports last, and prints per
request `same` or the differences:

  status       the status codes, and each side's `detail` (or start of body) when they differ
  type         the content types (Content-Disposition's presence and file extension too)
  keys         keys present on one side only, recursively (the first item of each list)
  kinds        a key whose JSON kind differs (object / list / string / number / bool / null)
  values       counts and ids: totals, number of items, the task ids returned (in order; a
               task is named by its `n`, which is its id in lsdb), per task is_labeled /
               total_annotations / cancelled_annotations / total_predictions / the number
               of annotations and predictions / whether completed_at is set; for CSV the
               columns, the number of rows and the ids

Standard library only. Exits 0 whatever the differences (it is a record, not a test);
non-zero only when a server could not be set up.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices>
</View>
"""
N_TASKS = 36
LABELED = range(1, 6)  # annotated; the 5th annotation is cancelled (was_cancelled, empty result)
PREDICTED = range(3, 15)  # one prediction each, score n/20


def make_tasks():
    tasks = []
    for n in range(1, N_TASKS + 1):
        task = {"id": n, "data": {"text": f"text number {n}", "n": n}}
        if n in LABELED:
            cancelled = n == LABELED[-1]
            choice = "Positive" if n % 2 else "Negative"
            task["annotations"] = [{
                "result": [] if cancelled else [{
                    "from_name": "sentiment", "to_name": "text", "type": "choices",
                    "value": {"choices": [choice]}}],
                "was_cancelled": cancelled,
                "ground_truth": False,
            }]
        if n in PREDICTED:
            task["predictions"] = [{
                "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                            "value": {"choices": ["Negative"]}}],
                "score": round(n / 20, 2),
                "model_version": "m1",
            }]
        tasks.append(task)
    return tasks


# --- HTTP ------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
        self.disposition = headers.get("Content-Disposition")
        self.json = None
        self.is_json = False
        try:
            self.json = json.loads(body.decode("utf-8"))
            self.is_json = True
        except (ValueError, UnicodeDecodeError):
            pass


def send(base, method, path, token=None, body=None, ctype=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    if token is not None:
        req.add_header("Authorization", f"Token {token}")
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        resp = OPENER.open(req, timeout=120)
    except urllib.error.HTTPError as err:
        resp = err
    except (urllib.error.URLError, OSError) as err:
        return Answer(0, {}, f"connection failed: {err}".encode())
    with resp:
        return Answer(resp.status, resp.headers, resp.read())


def multipart(field, filename, content, ctype="text/csv"):
    boundary = "lsdbcompare7f3a9c"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Server:
    """One side: its URL, token, project id and the map between its task ids and names."""

    def __init__(self, label, url, token, pid):
        self.label, self.url, self.token, self.pid = label, url, token, pid
        self.name_of = {}  # server task id -> name (n of a seeded task, "new1".. after)
        self.id_of = {}  # name -> server task id

    def refresh_ids(self, must=True):
        answer = send(self.url, "GET", f"/api/tasks?project={self.pid}&page_size=1000",
                      self.token)
        if answer.status != 200 or not isinstance(answer.json, dict):
            message = (f"{self.label}: listing the tasks failed: {answer.status} "
                       f"{answer.body[:300]!r}")
            if must:
                raise SystemExit(message)
            print(f"# {message}; task names kept as they were")
            return
        tasks = sorted(answer.json.get("tasks", []), key=lambda t: t["id"])
        new = 0
        self.name_of, self.id_of = {}, {}
        for task in tasks:
            n = (task.get("data") or {}).get("n")
            if isinstance(n, int) and 1 <= n <= N_TASKS:
                name = n
            else:
                new += 1
                name = f"new{new}"
            self.name_of[task["id"]] = name
            self.id_of[name] = task["id"]

    def tid(self, n):
        return self.id_of.get(n, n)


# --- the requests ----------------------------------------------------------------------


def q(obj):
    """`query=` as the SDK's requests encodes json.dumps(...)."""
    return urllib.parse.quote_plus(json.dumps(obj))


def item(column, operator, kind, value):
    return {"filter": f"filter:tasks:{column}", "operator": operator, "type": kind, "value": value}


def sdk_page(s, filters=None, selected=None, page=1):
    """What Client().get_project(P).get_tasks(...) / get_paginated_tasks send."""
    query = {"filters": filters, "ordering": [],
             "selectedItems": {"all": False, "included": selected} if selected
             else {"all": True, "excluded": []}}
    return (f"/api/tasks?project={s.pid}&page={page}&page_size=100&query={q(query)}"
            f"&fields=all&resolve_uri=True")


def dm(s, filters=None, selected=None, ordering=None, extra="&fields=all"):
    query = {}
    if filters is not None:
        query["filters"] = filters
    if selected is not None:
        query["selectedItems"] = selected
    if ordering is not None:
        query["ordering"] = ordering
    return f"/api/tasks?project={s.pid}{extra}&query={q(query)}"


def AND(*items):
    return {"conjunction": "and", "items": list(items)}


def requests_list():
    """(name, kind, method, path(s), body, content type, token?) for each request."""
    T = "token"
    csv_body, csv_type = multipart("file", "more.csv", b"text,n\nfrom csv one,101\nfrom csv two,102\n")
    labeled = AND(item("completed_at", "empty", "Datetime", False))
    unlabeled = AND(item("completed_at", "empty", "Datetime", True))
    R = []

    def add(name, kind, path, method="GET", body=None, ctype=None, token=T):
        R.append((name, kind, method, path, body, ctype, token))

    # open routes and the token
    add("health", "json", lambda s: "/health", token=None)
    add("health, trailing slash", "json", lambda s: "/health/", token=None)
    add("version, with the token (Client() sends it first)", "json", lambda s: "/api/version")
    add("version, no token", "json", lambda s: "/api/version", token=None)
    add("version, a wrong token", "json", lambda s: "/api/version", token="wrong")
    add("version/ (LabelStudio().projects.exports.as_* asks it)", "json", lambda s: "/api/version/")
    # projects
    add("projects, no token", "json", lambda s: "/api/projects/", token=None)
    add("projects, a wrong token", "json", lambda s: "/api/projects/", token="wrong")
    add("projects.list() page 1", "json", lambda s: "/api/projects/?page=1")
    add("projects.list() page 2 (ends the pager)", "json", lambda s: "/api/projects/?page=2")
    add("projects, no slash", "json", lambda s: "/api/projects")
    add("Client().get_project(P)", "json", lambda s: f"/api/projects/{s.pid}")
    add("project, trailing slash", "json", lambda s: f"/api/projects/{s.pid}/")
    add("project 99", "json", lambda s: "/api/projects/99")
    # task lists, plain
    add("tasks, default fields", "tasks", lambda s: f"/api/tasks?project={s.pid}&page=1&page_size=3")
    add("tasks, fields=all", "tasks", lambda s: f"/api/tasks?project={s.pid}&page=1&page_size=3&fields=all")
    add("tasks, no page or page_size (100 a page)", "tasks", lambda s: f"/api/tasks/?project={s.pid}")
    add("tasks.list(project=P, page_size=10) page 1", "tasks",
        lambda s: f"/api/tasks/?fields=all&page=1&page_size=10&project={s.pid}")
    add("tasks.list(project=P, page_size=10) page 4", "tasks",
        lambda s: f"/api/tasks/?fields=all&page=4&page_size=10&project={s.pid}")
    add("tasks.list(project=P, page_size=10) page 5 (past the end)", "tasks",
        lambda s: f"/api/tasks/?fields=all&page=5&page_size=10&project={s.pid}")
    add("tasks, page=0", "tasks", lambda s: f"/api/tasks?project={s.pid}&page=0&page_size=10")
    add("tasks, page_size=0", "tasks", lambda s: f"/api/tasks?project={s.pid}&page_size=0")
    add("tasks, no project", "tasks", lambda s: "/api/tasks")
    add("tasks, project 99", "tasks", lambda s: "/api/tasks?project=99")
    add("tasks, an unknown parameter", "tasks", lambda s: f"/api/tasks?project={s.pid}&page_size=2&bogus=1")
    add("tasks, include=id (get_tasks(only_ids=True))", "tasks",
        lambda s: f"/api/tasks?project={s.pid}&page_size=3&include=id")
    add("tasks, only_annotated=true", "tasks", lambda s: f"/api/tasks?project={s.pid}&only_annotated=true")
    add("tasks, selectedItems= as its own parameter", "tasks",
        lambda s: f"/api/tasks?project={s.pid}&selectedItems=" + q({"all": False, "included": [s.tid(2)]}))
    # the legacy SDK's calls
    add("get_labeled_tasks() page 1", "tasks", lambda s: sdk_page(s, labeled))
    add("get_labeled_tasks() page 2 (ends it)", "tasks", lambda s: sdk_page(s, labeled, page=2))
    add("get_unlabeled_tasks() page 1", "tasks", lambda s: sdk_page(s, unlabeled))
    add("get_tasks(selected_ids=[1, 2])", "tasks", lambda s: sdk_page(s, selected=[s.tid(1), s.tid(2)]))
    add("get_tasks(filters: id > 30)", "tasks",
        lambda s: sdk_page(s, AND(item("id", "greater", "Number", s.tid(30)))))
    add("get_tasks(filters: total_annotations >= 1)", "tasks",
        lambda s: sdk_page(s, AND(item("total_annotations", "greater_or_equal", "Number", 1))))
    add("get_tasks(filters: predictions_score in 0.3..0.5)", "tasks",
        lambda s: sdk_page(s, AND(item("predictions_score", "in", "Number", {"min": 0.3, "max": 0.5}))))
    add("get_tasks(filters: predictions_score > 0.5)", "tasks",
        lambda s: sdk_page(s, AND(item("predictions_score", "greater", "Number", 0.5))))
    add("tasks.list(project=P, query={filters: total_predictions > 0})", "tasks",
        lambda s: f"/api/tasks/?fields=all&page=1&project={s.pid}&query="
        + q({"filters": AND(item("total_predictions", "greater", "Number", 0))}))
    # selectedItems
    add("selectedItems all=false included=[2, 7]", "tasks",
        lambda s: dm(s, selected={"all": False, "included": [s.tid(2), s.tid(7)]}))
    add("selectedItems all=false included=[] (LS: no selection, all tasks)", "tasks",
        lambda s: dm(s, selected={"all": False, "included": []}))
    add("selectedItems all=true excluded=[1, 2, 3]", "tasks",
        lambda s: dm(s, selected={"all": True, "excluded": [s.tid(1), s.tid(2), s.tid(3)]}))
    add("selectedItems included=[1..6] + filter total_predictions > 0", "tasks",
        lambda s: dm(s, AND(item("total_predictions", "greater", "Number", 0)),
                     selected={"all": False, "included": [s.tid(i) for i in range(1, 7)]}))
    # Data Manager filters, operator by operator
    F = [
        ("id equal 7", item("id", "equal", "Number", 7)),
        ("id not_equal 7", item("id", "not_equal", "Number", 7)),
        ("id less 4", item("id", "less", "Number", 4)),
        ("id less_or_equal 4", item("id", "less_or_equal", "Number", 4)),
        ("id greater_or_equal 33", item("id", "greater_or_equal", "Number", 33)),
        ("id in {min 3, max 6}", item("id", "in", "Number", {"min": 3, "max": 6})),
        ("id not_in {min 3, max 33}", item("id", "not_in", "Number", {"min": 3, "max": 33})),
        ("id in_list [2, 9]", item("id", "in_list", "Number", [2, 9])),
        ("total_annotations empty true (= 0)", item("total_annotations", "empty", "Number", True)),
        ("total_annotations empty false", item("total_annotations", "empty", "Number", False)),
        ("cancelled_annotations greater 0", item("cancelled_annotations", "greater", "Number", 0)),
        ("total_predictions equal 0", item("total_predictions", "equal", "Number", 0)),
        ("predictions_score empty true", item("predictions_score", "empty", "Number", True)),
        ("completed_at empty false", item("completed_at", "empty", "Datetime", False)),
        ("data.text contains 'number 1'", item("data.text", "contains", "String", "number 1")),
        ("data.n greater 33", item("data.n", "greater", "Number", 33)),
    ]
    for label, it in F:
        def path(s, it=it):
            it = dict(it)
            if it["filter"] == "filter:tasks:id":  # ids as the server numbers them
                v = it["value"]
                it["value"] = ({"min": s.tid(v["min"]), "max": s.tid(v["max"])} if isinstance(v, dict)
                               else [s.tid(x) for x in v] if isinstance(v, list) else s.tid(v))
            return dm(s, AND(it))
        add(f"filter {label}", "tasks", path)
    add("filter conjunction or: id = 2 or id = 9", "tasks",
        lambda s: dm(s, {"conjunction": "or", "items": [item("id", "equal", "Number", s.tid(2)),
                                                        item("id", "equal", "Number", s.tid(9))]}))
    add("filter and: id > 2, total_predictions > 0, id < 6", "tasks",
        lambda s: dm(s, AND(item("id", "greater", "Number", s.tid(2)),
                            item("total_predictions", "greater", "Number", 0),
                            item("id", "less", "Number", s.tid(6)))))
    add("ordering -tasks:id (filter id > 30)", "tasks",
        lambda s: dm(s, AND(item("id", "greater", "Number", s.tid(30))), ordering=["-tasks:id"]))
    add("ordering -tasks:total_predictions (filter id < 16)", "tasks",
        lambda s: dm(s, AND(item("id", "less", "Number", s.tid(16))),
                     ordering=["-tasks:total_predictions"]))
    add("filter, unknown operator 'bogus' (LS: as equal)", "tasks",
        lambda s: dm(s, AND(item("id", "bogus", "Number", s.tid(1)))))
    add("filter, unknown column", "tasks", lambda s: dm(s, AND(item("nonexistent", "equal", "Number", 1))))
    add("filter, conjunction 'xor'", "tasks",
        lambda s: dm(s, {"conjunction": "xor", "items": [item("id", "equal", "Number", 1)]}))
    add("query= not JSON", "tasks", lambda s: f"/api/tasks?project={s.pid}&query=notjson")
    # one task, its annotations and predictions
    add("task 1 (annotated)", "task", lambda s: f"/api/tasks/{s.tid(1)}")
    add("task 1/, trailing slash", "task", lambda s: f"/api/tasks/{s.tid(1)}/")
    add("task 3 (annotated, predicted)", "task", lambda s: f"/api/tasks/{s.tid(3)}")
    add("task 5 (cancelled annotation)", "task", lambda s: f"/api/tasks/{s.tid(5)}")
    add("task 20 (nothing)", "task", lambda s: f"/api/tasks/{s.tid(20)}")
    add("task 999", "task", lambda s: "/api/tasks/999")
    add("annotations.list(id=1)", "json", lambda s: f"/api/tasks/{s.tid(1)}/annotations/")
    add("predictions.list(task=3)", "json", lambda s: f"/api/predictions/?task={s.tid(3)}")
    add("predictions.list(project=P)", "json", lambda s: f"/api/predictions/?project={s.pid}")
    # exports
    E = lambda s: f"/api/projects/{s.pid}/export"
    add("export, no parameters", "export", lambda s: E(s))
    add("export exportType=JSON", "export", lambda s: E(s) + "?exportType=JSON")
    add("export JSON download_all_tasks=true", "export", lambda s: E(s) + "?exportType=JSON&download_all_tasks=true")
    add("export_tasks(export_type='JSON_MIN')", "export",
        lambda s: E(s) + "?exportType=JSON_MIN&download_all_tasks=False&download_resources=False")
    add("export_tasks(export_type='CSV', export_location=...)", "export",
        lambda s: E(s) + "?exportType=CSV&download_all_tasks=False&download_resources=False")
    add("export_tasks(export_type='JSON')", "export",
        lambda s: E(s) + "?exportType=JSON&download_all_tasks=False&download_resources=False")
    add("exports.download_sync(P, export_type='CSV')", "export", lambda s: E(s) + "?export_type=CSV")
    add("exports.as_pandas(P) (download_all_tasks, CSV)", "export",
        lambda s: E(s) + "?download_all_tasks=true&download_resources=true&export_type=CSV")
    add("export exportType=TSV", "export", lambda s: E(s) + "?exportType=TSV")
    add("export ids[]=1&ids[]=7", "export", lambda s: E(s) + f"?exportType=JSON&ids[]={s.tid(1)}&ids[]={s.tid(7)}")
    add("export_tasks(ids=[1, 7]) (ids=1&ids=7; LS ignores it)", "export",
        lambda s: E(s) + f"?exportType=JSON&download_all_tasks=False&download_resources=False&ids={s.tid(1)}&ids={s.tid(7)}")
    add("export, unknown exportType", "export", lambda s: E(s) + "?exportType=BOGUS")
    add("export, an unknown parameter", "export", lambda s: E(s) + "?exportType=JSON&bogus=1")
    add("export, project 99", "export", lambda s: "/api/projects/99/export")
    add("exports.list_formats(P)", "json", lambda s: f"/api/projects/{s.pid}/export/formats")
    add("exports.list(P)", "json", lambda s: f"/api/projects/{s.pid}/exports/")
    # imports (they change the project: last)
    I = lambda s, params="": f"/api/projects/{s.pid}/import{params}"
    add("import_tasks([...]) JSON body, return_task_ids=1 (legacy SDK)", "import",
        lambda s: I(s, "?return_task_ids=1"), "POST",
        json.dumps([{"text": "body one"}, {"data": {"text": "body two"}}]).encode(), "application/json")
    add("import JSON body, no parameters", "import", lambda s: I(s), "POST",
        json.dumps([{"text": "body three"}]).encode(), "application/json")
    add("import one JSON object (not a list)", "import", lambda s: I(s), "POST",
        json.dumps({"text": "single"}).encode(), "application/json")
    add("import CSV file (multipart 'file')", "import", lambda s: I(s, "?return_task_ids=1"), "POST",
        csv_body, csv_type)
    add("import commit_to_project=false", "import", lambda s: I(s, "?commit_to_project=false"), "POST",
        json.dumps([{"text": "dry"}]).encode(), "application/json")
    add("import, an unknown parameter", "import", lambda s: I(s, "?bogus=1"), "POST",
        json.dumps([{"text": "unknown param"}]).encode(), "application/json")
    add("import Content-Type text/plain", "import", lambda s: I(s), "POST", b"just some text", "text/plain")
    add("import broken JSON", "import", lambda s: I(s), "POST", b'[{"text": ]', "application/json")
    add("import empty list", "import", lambda s: I(s), "POST", b"[]", "application/json")
    add("import, project 99", "import", lambda s: "/api/projects/99/import", "POST",
        json.dumps([{"text": "x"}]).encode(), "application/json")
    add("tasks after the imports (page_size=1000)", "tasks",
        lambda s: f"/api/tasks?project={s.pid}&page_size=1000")
    add("project after the imports", "json", lambda s: f"/api/projects/{s.pid}")
    return R


# --- comparing -------------------------------------------------------------------------


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def shape(a, b, path, out):
    """Keys on one side only and kinds that differ, into out (recursing into first items)."""
    if isinstance(a, dict) and isinstance(b, dict):
        only_a = sorted(set(a) - set(b))
        only_b = sorted(set(b) - set(a))
        where = path or "top"
        if only_a:
            out.append(f"keys only in LS at {where}: {', '.join(only_a)}")
        if only_b:
            out.append(f"keys only in lsdb at {where}: {', '.join(only_b)}")
        for k in [k for k in a if k in b]:
            sub = f"{path}.{k}" if path else k
            ka, kb = kind(a[k]), kind(b[k])
            if ka != kb:
                out.append(f"kind of {sub}: LS {ka} {short(a[k])}, lsdb {kb} {short(b[k])}")
            else:
                shape(a[k], b[k], sub, out)
    elif isinstance(a, list) and isinstance(b, list) and a and b:
        ka, kb = kind(a[0]), kind(b[0])
        sub = f"{path}[0]"
        if ka != kb:
            out.append(f"kind of {sub}: LS {ka} {short(a[0])}, lsdb {kb} {short(b[0])}")
        else:
            shape(a[0], b[0], sub, out)


def short(v, n=60):
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= n else text[: n - 3] + "..."


def ranges(names):
    """[1, 2, 3, 7, 'new1'] -> '1-3, 7, new1' (order kept)."""
    parts, run = [], []
    for x in names:
        if isinstance(x, int) and run and x == run[-1] + 1:
            run.append(x)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
        run = [x] if isinstance(x, int) else []
        if not isinstance(x, int):
            parts.append(str(x))
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
    return "[" + ", ".join(parts) + "]"


COUNT_KEYS = [
    "total", "total_annotations", "total_predictions", "count", "task_number",
    "num_tasks_with_annotations", "total_annotations_number", "total_predictions_number",
    "skipped_annotations_number", "finished_task_number", "useful_annotation_number",
    "task_count", "annotation_count", "prediction_count", "could_be_tasks_list",
    "found_formats", "data_columns", "status",
]
TASK_FIELDS = ["is_labeled", "total_annotations", "cancelled_annotations", "total_predictions"]


def task_facts(t):
    facts = {k: t[k] for k in TASK_FIELDS if k in t}
    for k in ("annotations", "predictions"):
        if isinstance(t.get(k), list):
            facts[f"#{k}"] = len(t[k])
    if "completed_at" in t:
        facts["completed_at set"] = t["completed_at"] is not None
    if "predictions_score" in t:
        v = t["predictions_score"]
        facts["predictions_score"] = round(v, 4) if isinstance(v, (int, float)) else v
    return facts


def name(server, tid):
    return server.name_of.get(tid, f"?{tid}")


def compare_tasks(ls, lsdb, a, b, out, where="tasks"):
    """Ids (named) in order, and per task the counts, for two lists of tasks."""
    ids_a = [name(ls, t.get("id")) if isinstance(t, dict) else name(ls, t) for t in a]
    ids_b = [name(lsdb, t.get("id")) if isinstance(t, dict) else name(lsdb, t) for t in b]
    if len(a) != len(b):
        out.append(f"number of {where}: LS {len(a)}, lsdb {len(b)}")
    if ids_a != ids_b:
        if sorted(map(str, ids_a)) == sorted(map(str, ids_b)):
            out.append(f"order of {where}: LS {ranges(ids_a)}, lsdb {ranges(ids_b)}")
        else:
            out.append(f"ids of {where}: LS {ranges(ids_a)}, lsdb {ranges(ids_b)}")
    by_b = {name(lsdb, t.get("id")): t for t in b if isinstance(t, dict)}
    diffs = {}
    for t in a:
        if not isinstance(t, dict) or name(ls, t.get("id")) not in by_b:
            continue
        fa, fb = task_facts(t), task_facts(by_b[name(ls, t.get("id"))])
        for k in [k for k in fa if k in fb and fa[k] != fb[k]]:
            diffs.setdefault((k, short(fa[k]), short(fb[k])), []).append(name(ls, t.get("id")))
    for (k, va, vb), tasks in sorted(diffs.items(), key=lambda d: str(d)):
        out.append(f"{k} of task {ranges(tasks)}: LS {va}, lsdb {vb}")


def csv_facts(body):
    import csv
    import io
    text = body.decode("utf-8", "replace")
    delimiter = "\t" if text.split("\n", 1)[0].count("\t") > text.split("\n", 1)[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header = rows[0] if rows else []
    rows = [r for r in rows[1:] if r]
    ids = []
    if "id" in header:
        i = header.index("id")
        ids = [r[i] for r in rows if i < len(r)]
    return delimiter, header, rows, ids


def tasks_of(x):
    if isinstance(x, dict) and isinstance(x.get("tasks"), list):
        return x["tasks"]
    if isinstance(x, list) and x and all(isinstance(t, dict) and "id" in t for t in x):
        return x
    return None


def aligned(ls, lsdb, a, b):
    """The two bodies with the first task that both list moved to the front of their task
    lists: keys are compared on the first items, and this makes them the same task."""
    ta, tb = tasks_of(a), tasks_of(b)
    if not ta or not tb:
        return a, b
    where_b = {}
    for j, t in enumerate(tb):
        where_b.setdefault(name(lsdb, t.get("id")), j)
    for i, t in enumerate(ta):
        j = where_b.get(name(ls, t.get("id")))
        if j is not None:
            break
    else:
        return a, b
    ta = [ta[i]] + ta[:i] + ta[i + 1:]
    tb = [tb[j]] + tb[:j] + tb[j + 1:]
    a = dict(a, tasks=ta) if isinstance(a, dict) else ta
    b = dict(b, tasks=tb) if isinstance(b, dict) else tb
    return a, b


# Difference lines that say only how an answer is shaped, not what it holds.
SHAPE_PREFIXES = ("keys only in", "content-type", "content-disposition", "filename header")


def compare(kind_, ls, lsdb, A, B):
    out = []
    if A.status != B.status:
        out.append(f"status: LS {A.status}, lsdb {B.status}")
        for label, X in (("LS", A), ("lsdb", B)):
            detail = X.json.get("detail") if isinstance(X.json, dict) and "detail" in X.json else None
            text = short(detail, 160) if detail is not None else (
                short(X.json, 160) if X.is_json else repr(X.body[:100]))
            out.append(f"  {label} says: {text}")
    if A.ctype != B.ctype:
        out.append(f"content-type: LS {A.ctype!r}, lsdb {B.ctype!r}")
    if bool(A.disposition) != bool(B.disposition):
        out.append(f"content-disposition: LS {A.disposition!r}, lsdb {B.disposition!r}")
    elif A.disposition and B.disposition:
        ext = lambda d: os.path.splitext(d.split("filename=")[-1].strip('"'))[1]
        if ext(A.disposition) != ext(B.disposition):
            out.append(f"content-disposition: LS {A.disposition!r}, lsdb {B.disposition!r}")
    if A.is_json != B.is_json:
        out.append(f"body: LS {'JSON' if A.is_json else 'not JSON'}, lsdb {'JSON' if B.is_json else 'not JSON'}")
    if A.is_json and B.is_json:
        a, b = A.json, B.json
        if kind(a) != kind(b):
            out.append(f"kind of the body: LS {kind(a)} {short(a)}, lsdb {kind(b)} {short(b)}")
        else:
            shape(*aligned(ls, lsdb, a, b), "", out)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in COUNT_KEYS:
                if k in a and k in b and a[k] != b[k] and not (k == "status" and isinstance(a[k], int)):
                    out.append(f"{k}: LS {short(a[k])}, lsdb {short(b[k])}")
            if isinstance(a.get("tasks"), list) and isinstance(b.get("tasks"), list):
                compare_tasks(ls, lsdb, a["tasks"], b["tasks"], out)
            if isinstance(a.get("results"), list) and isinstance(b.get("results"), list) and \
                    len(a["results"]) != len(b["results"]):
                out.append(f"number of results: LS {len(a['results'])}, lsdb {len(b['results'])}")
            if "task_ids" in a and "task_ids" in b:
                na = [name(ls, t) for t in a["task_ids"]]
                nb = [name(lsdb, t) for t in b["task_ids"]]
                if len(na) != len(nb):
                    out.append(f"number of task_ids: LS {len(na)}, lsdb {len(nb)}")
            if kind_ == "task" and A.status == 200 and B.status == 200:
                fa, fb = task_facts(a), task_facts(b)
                for k in [k for k in fa if k in fb and fa[k] != fb[k]]:
                    out.append(f"{k}: LS {short(fa[k])}, lsdb {short(fb[k])}")
        if isinstance(a, list) and isinstance(b, list):
            if kind_ == "export":
                compare_tasks(ls, lsdb, a, b, out, "exported tasks")
            elif len(a) != len(b):
                out.append(f"number of items: LS {len(a)}, lsdb {len(b)}")
            if kind_ == "json" and a and b and all(isinstance(x, dict) and "name" in x for x in a + b):
                na, nb = [x["name"] for x in a], [x["name"] for x in b]
                if na != nb:
                    out.append(f"names: LS {na}, lsdb {nb}")
    elif kind_ == "export" and A.status == 200 and B.status == 200 and not A.is_json and not B.is_json:
        da, ha, ra, ia = csv_facts(A.body)
        db, hb, rb, ib = csv_facts(B.body)
        if da != db:
            out.append(f"delimiter: LS {da!r}, lsdb {db!r}")
        if ha != hb:
            out.append(f"columns: LS {ha}, lsdb {hb}")
        if len(ra) != len(rb):
            out.append(f"number of rows: LS {len(ra)}, lsdb {len(rb)}")
        na = [name(ls, int(x)) if x.isdigit() else x for x in ia]
        nb = [name(lsdb, int(x)) if x.isdigit() else x for x in ib]
        if na != nb:
            out.append(f"ids of the rows: LS {ranges(na)}, lsdb {ranges(nb)}")
    return out


def shown_path(path):
    """The path as a person reads it: the query unquoted."""
    base, _, query = path.partition("?")
    if not query:
        return base
    parts = []
    for pair in query.split("&"):
        k, _, v = pair.partition("=")
        parts.append(f"{k}={urllib.parse.unquote_plus(v)}" if _ else k)
    return base + "?" + "&".join(parts)


# --- the two servers -------------------------------------------------------------------


def setup_ls(url, token, tasks):
    body = json.dumps({"title": "lsdb compare", "label_config": CONFIG}).encode()
    answer = send(url, "POST", "/api/projects/", token, body, "application/json")
    if answer.status != 201:
        raise SystemExit(f"Label Studio: making the project failed: {answer.status} {answer.body[:300]!r}")
    pid = answer.json["id"]
    answer = send(url, "POST", f"/api/projects/{pid}/import", token, json.dumps(tasks).encode(),
                  "application/json")
    if answer.status != 201:
        raise SystemExit(f"Label Studio: the import failed: {answer.status} {answer.body[:300]!r}")
    server = Server("LS", url, token, pid)
    server.refresh_ids()
    return server


def setup_lsdb(binary, work, token, tasks):
    config = os.path.join(work, "config.xml")
    with open(config, "w") as f:
        f.write(CONFIG)
    tasks_path = os.path.join(work, "tasks.json")
    with open(tasks_path, "w") as f:
        json.dump(tasks, f)
    project = os.path.join(work, "proj")
    run = subprocess.run([binary, "init", project, "--label-config", config, "--input-path", tasks_path],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"lsdb init failed: {run.stderr.strip()}")
    # Its output goes to files (a pipe nobody reads could fill and stop the server).
    out_path, err_path = os.path.join(work, "serve.out"), os.path.join(work, "serve.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([binary, "-p", project, "serve", "--port", "0", "--token", token],
                                stdout=out, stderr=err)
    line = ""
    for _ in range(300):
        with open(out_path) as f:
            line = f.readline()
        if line.endswith("\n") or proc.poll() is not None:
            break
        time.sleep(0.1)
    if " at http://" not in line:
        proc.kill()
        with open(err_path) as f:
            raise SystemExit(f"lsdb serve did not say where it listens: {line!r} {f.read()[:300]}")
    url = line.split(" at ", 1)[1].split()[0]
    server = Server("lsdb", url, token, 1)
    server.refresh_ids()
    return server, proc


def version_of(server):
    answer = send(server.url, "GET", "/api/version", server.token)
    if isinstance(answer.json, dict):
        return f"{answer.json.get('app', 'label-studio')} {answer.json.get('release')}"
    return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lsdb", default=os.path.expanduser("~/.cache/lsdb/target/debug/lsdb"))
    ap.add_argument("--ls-url", default="http://127.0.0.1:8089")
    ap.add_argument("--token", required=True, help="Label Studio's API token (legacy token)")
    ap.add_argument("--lsdb-token", default="lsdb-compare-token")
    ap.add_argument("--only", help="only the requests whose name contains this")
    ap.add_argument("--lsdb-url", help="compare with a server already running there (with "
                    "--lsdb-token and --lsdb-project) instead of starting lsdb; its project must "
                    "hold the same tasks")
    ap.add_argument("--lsdb-project", type=int, default=1)
    args = ap.parse_args()
    binary = os.path.abspath(os.path.expanduser(args.lsdb))
    if not args.lsdb_url and not os.access(binary, os.X_OK):
        raise SystemExit(f"no lsdb binary at {binary}")
    tasks = make_tasks()
    work = tempfile.mkdtemp(prefix="lsdb-compare-")
    proc = None
    try:
        ls = setup_ls(args.ls_url.rstrip("/"), args.token, tasks)
        if args.lsdb_url:
            lsdb = Server("lsdb", args.lsdb_url.rstrip("/"), args.lsdb_token, args.lsdb_project)
            lsdb.refresh_ids()
        else:
            lsdb, proc = setup_lsdb(binary, work, args.lsdb_token, tasks)
        print(f"# Label Studio ({version_of(ls)}) at {ls.url}, project {ls.pid}")
        print(f"# lsdb ({version_of(lsdb)}, {binary}) at {lsdb.url}, project {lsdb.pid}")
        print(f"# {N_TASKS} tasks; annotated {LABELED.start}-{LABELED.stop - 1} "
              f"({LABELED.stop - 1} cancelled); predictions on {PREDICTED.start}-{PREDICTED.stop - 1}; "
              "tasks are named by their n (= lsdb id); {P} is the project id")
        same = differ = 0
        imported = False
        by_kind = {"status": 0, "data": 0, "shape": 0}
        for name_, kind_, method, path, body, ctype, token in requests_list():
            if args.only and args.only not in name_:
                continue
            if kind_ != "import" and imported:
                # the imports made new tasks: name them on both sides (by order) first
                ls.refresh_ids(must=False)
                lsdb.refresh_ids(must=False)
                imported = False
            tok_ls = None if token is None else (args.token if token == "token" else token)
            tok_db = None if token is None else (args.lsdb_token if token == "token" else token)
            pa, pb = path(ls), path(lsdb)
            A = send(ls.url, method, pa, tok_ls, body, ctype)
            B = send(lsdb.url, method, pb, tok_db, body, ctype)
            if kind_ == "import":
                imported = True
            shown = shown_path(pb).replace(f"project={lsdb.pid}", "project={P}").replace(
                f"/projects/{lsdb.pid}/", "/projects/{P}/")
            if shown.endswith(f"/projects/{lsdb.pid}"):
                shown = shown[: -len(str(lsdb.pid))] + "{P}"
            auth = {None: " (no token)", "token": ""}.get(token, f" (token {token!r})")
            print(f"\n== {name_}\n   {method} {shown}{auth}" + (f"  [{ctype}]" if ctype else ""))
            diffs = compare(kind_, ls, lsdb, A, B)
            if diffs:
                differ += 1
                # What kind of difference: the status, the data (counts, ids, values), or
                # only the shape (keys one side lacks, content types, headers).
                shape_only = all(d.startswith(SHAPE_PREFIXES) or d.startswith("  ") for d in diffs)
                if A.status != B.status:
                    by_kind["status"] += 1
                elif shape_only:
                    by_kind["shape"] += 1
                else:
                    by_kind["data"] += 1
                if A.status == B.status:
                    diffs.insert(0, f"status: {A.status} on both")
                for d in diffs:
                    print(f"   {d}")
            else:
                same += 1
                print(f"   same ({A.status})")
        print(f"\n# {same} same, {differ} different, of {same + differ} requests: "
              f"{by_kind['status']} with another status, {by_kind['data']} with other data "
              f"(counts, ids, values), {by_kind['shape']} in shape only (keys one side lacks, "
              f"content types, headers)")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
