#!/usr/bin/env python3
"""Drive `lsdb serve` with Label Studio's own SDK from PyPI (label-studio-sdk), unchanged.

    python tests/sdk/serve_sdk.py --lsdb target/debug/lsdb      (run by .ci/run in its venv)

Both clients of the SDK: `LabelStudio(...).projects.import_tasks(...)` and the legacy
`Client(...).get_project(1).import_tasks(...)`; then tasks page by page, one task, the
export, and a broken file refused with its line and nothing imported. Exits non-zero on the
first step that fails.
"""
import argparse, os, subprocess, sys, tempfile

from label_studio_sdk import Client, LabelStudio

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices>
</View>
"""
TOKEN = "sdk-test-token"


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""), flush=True)
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsdb", required=True)
    args = ap.parse_args()
    lsdb = os.path.abspath(args.lsdb)
    work = tempfile.mkdtemp(prefix="lsdb-sdk-")
    config = os.path.join(work, "config.xml")
    with open(config, "w") as f:
        f.write(CONFIG)
    project = os.path.join(work, "proj")
    subprocess.run([lsdb, "init", project, "--label-config", config], check=True, capture_output=True)
    server = subprocess.Popen([lsdb, "-p", project, "serve", "--port", "0", "--token", TOKEN],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = line.split("at ")[1].split()[0]
        check("lsdb serve says where it listens", url.startswith("http://127.0.0.1:"), line)

        ls = LabelStudio(base_url=url, api_key=TOKEN)
        answer = ls.projects.import_tasks(
            id=1, request=[{"text": "great"}, {"text": "awful"}], return_task_ids=True)
        check("LabelStudio().projects.import_tasks", answer.task_count == 2, str(answer))
        first = ls.tasks.list(project=1, page=1, page_size=1)
        check("LabelStudio().tasks.list, one page", [t.data["text"] for t in first.items] == ["great"],
              str(first.items))

        legacy = Client(url=url, api_key=TOKEN)
        project_ = legacy.get_project(1)
        check("Client().get_project(1)", "sentiment" in project_.params.get("label_config", ""), str(project_.params))
        ids = project_.import_tasks([{"text": "fine"}, {"data": {"text": "meh"},
                                     "predictions": [{"result": [], "score": 0.4}]}])
        check("Client().get_project(1).import_tasks returns the new ids", ids == [3, 4], str(ids))
        upload = os.path.join(work, "more.csv")
        with open(upload, "w") as f:
            f.write("text\nfrom a csv\n")
        ids = project_.import_tasks(upload)
        check("Client().get_project(1).import_tasks(file)", ids == [5], str(ids))
        tasks = project_.get_tasks()
        check("Client().get_project(1).get_tasks, page by page to the end",
              [t["id"] for t in tasks] == [1, 2, 3, 4, 5], str([t["id"] for t in tasks]))
        exported = project_.export_tasks(export_type="JSON", download_all_tasks=True)
        check("Client().get_project(1).export_tasks", len(exported) == 5
              and exported[3]["predictions"][0]["score"] == 0.4, str(exported)[:300])

        broken = os.path.join(work, "broken.json")
        with open(broken, "w") as f:
            f.write('[{"text": "a"},\n {"text": ]')
        try:
            project_.import_tasks(broken)
            check("a broken file is refused", False)
        except Exception as err:  # the SDK raises on the 400
            response = getattr(err, "response", None)
            text = str(err) + (response.text if response is not None else "")
            check("a broken file is refused with its line", "broken.json:2:" in text, text[:300])
        check("nothing of the broken file was imported", len(project_.get_tasks()) == 5)
        ids = project_.import_tasks([{"text": "pre", "sentiment": "Positive"}],
                                    preannotated_from_fields=["sentiment"])
        task = project_.get_task(ids[0])
        region = task["predictions"][0]["result"][0]
        check("import_tasks(..., preannotated_from_fields=[...]) makes the prediction",
              region["value"] == {"choices": ["Positive"]} and region["to_name"] == "text",
              str(task))
        labeled_tasks(url, ls, project_)
    finally:
        server.terminate()
        server.wait(timeout=10)
    check("SIGTERM stops lsdb serve cleanly", server.returncode == 0, str(server.returncode))


def labeled_tasks(url, ls, project_):
    """Issue 22: the SDK's helpers that filter, select and export get what they ask for."""
    import json
    import urllib.error
    import urllib.request
    region = {"from_name": "sentiment", "to_name": "text", "type": "choices",
              "value": {"choices": ["Positive"]}}
    ids = project_.import_tasks([
        {"data": {"text": "done"}, "annotations": [{"result": [region], "completed_by": 1}]},
        {"data": {"text": "skipped"}, "annotations": [{"result": [], "was_cancelled": True}]},
    ])
    check("tasks with annotations imported", ids == [7, 8], str(ids))
    got = lambda tasks: [t["id"] for t in tasks]
    # As Label Studio 1.23.2: a task whose only annotation is cancelled counts as labeled.
    check("get_labeled_tasks", got(project_.get_labeled_tasks()) == [7, 8],
          str(got(project_.get_labeled_tasks())))
    check("get_unlabeled_tasks", got(project_.get_unlabeled_tasks()) == [1, 2, 3, 4, 5, 6],
          str(got(project_.get_unlabeled_tasks())))
    check("get_tasks(selected_ids=[1, 2])", got(project_.get_tasks(selected_ids=[1, 2])) == [1, 2])
    item = lambda column, op, value: {"conjunction": "and", "items": [
        {"filter": f"filter:tasks:{column}", "operator": op, "type": "Number", "value": value}]}
    for filters, expected in [
        (item("id", "greater", 6), [7, 8]),
        (item("total_annotations", "greater_or_equal", 1), [7]),
        (item("cancelled_annotations", "greater", 0), [8]),
        (item("predictions_score", "in", {"min": 0.3, "max": 0.5}), [4]),
    ]:
        found = got(project_.get_tasks(filters=filters))
        check(f"get_tasks(filters={filters['items'][0]['filter']} {filters['items'][0]['operator']})",
              found == expected, str(found))
    check("get_tasks(ordering=['-tasks:id'])",
          got(project_.get_tasks(ordering=["-tasks:id"]))[:2] == [8, 7])
    query = json.dumps({"filters": item("total_predictions", "greater", 0)})
    listed = [t.id for t in ls.tasks.list(project=1, query=query)]
    check("LabelStudio().tasks.list(query=...)", listed == [4, 6], str(listed))
    first = next(iter(ls.tasks.list(project=1, query=json.dumps({"filters": item("id", "equal", 7)}))))
    check("task items carry Label Studio's computed fields",
          first.is_labeled is True and first.total_annotations == 1 and first.total_predictions == 0,
          str(first))
    projects = list(ls.projects.list())
    check("LabelStudio().projects.list()", [p.id for p in projects] == [1], str(projects))
    csv = b"".join(ls.projects.exports.download_sync(1, export_type="CSV", download_all_tasks=True))
    check("exports.download_sync(export_type='CSV') is CSV", b"sentiment" in csv.split(b"\n")[0]
          and b"Positive" in csv and not csv.startswith(b"["), csv[:200].decode(errors="replace"))
    rows = project_.export_tasks(export_type="JSON_MIN")
    check("export_tasks(export_type='JSON_MIN')", [r.get("sentiment") for r in rows] == ["Positive"],
          str(rows)[:300])
    request = urllib.request.Request(url + "/api/tasks?project=1&bogus=1",
                                     headers={"Authorization": f"Token {TOKEN}"})
    try:
        urllib.request.urlopen(request)
        check("an unknown parameter is refused", False)
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        check("an unknown parameter is refused by name", err.code == 400 and "bogus" in body, body)


if __name__ == "__main__":
    main()
