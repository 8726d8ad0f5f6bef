#!/usr/bin/env python3
"""lsdb's json-min against Label Studio's own converter (label-studio-sdk), record by record.

For each fixture with annotations (a label config, or none, and a task file, Label Studio's
own exports among them): import it into a new lsdb project, export `json` and `json-min`,
run the converter's `convert_to_json_min` on lsdb's `json` export, and compare the records:
the same number, the same keys in the same order, the same values. Prints one line per
fixture; exits 1 on any difference. `.ci/run` runs it with a venv that has label-studio-sdk.

    python tests/converter/compare.py --lsdb target/debug/lsdb
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from label_studio_sdk.converter import Converter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (label config file, `template:NAME` or None, task file under fixtures/). Not here:
# tasks/validation_cases.json, whose result without a "value" makes the converter stop
# with a KeyError (lsdb reads it as an empty value).
CASES = [
    ("configs/sampling.xml", "label_studio/ls_1.23.2_text_export.json"),
    ("configs/sampling.xml", "tasks/sampling.json"),
    ("configs/converter_cases.xml", "tasks/converter_cases.json"),
    (None, "tasks/converter_cases.json"),
    ("configs/text_classification.xml", "tasks/text_classification.json"),
    ("configs/validation.xml", "tasks/validation_clean.json"),
    (None, "tasks/every_field.json"),
    (None, "label_studio/ls_1.23.2_text_export.json"),
] + [
    (f"template:{name}", f"templates/{name}.json")
    for name in [
        "audio_regions",
        "audio_transcribe",
        "image_keypoints",
        "image_polygons",
        "text_named_entity",
        "text_summarization",
        "time_series_json",
    ]
]


def lsdb(binary, *args):
    run = subprocess.run([binary, *args], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"lsdb {' '.join(args)}: {run.stderr.strip()}")
    return run.stdout


def compare(binary, config, tasks, work):
    project = os.path.join(work, "p")
    init = ["init", project, "--input-path", os.path.join(ROOT, "fixtures", tasks)]
    if config and config.startswith("template:"):
        init += ["--template", config.split(":", 1)[1]]
        xml = lsdb(binary, "templates", config.split(":", 1)[1])
    elif config:
        init += ["-l", os.path.join(ROOT, "fixtures", config)]
        xml = open(os.path.join(ROOT, "fixtures", config)).read()
    else:
        xml = "<View></View>"
    lsdb(binary, *init)
    exported = os.path.join(work, "tasks.json")
    lsdb(binary, "-p", project, "export", "-o", exported)
    ours = json.loads(lsdb(binary, "-p", project, "export", "--format", "json-min"))
    out = os.path.join(work, "converter")
    Converter(config=xml, project_dir=work, download_resources=False).convert_to_json_min(
        exported, out, is_dir=False
    )
    theirs = json.load(open(os.path.join(out, "result.json")))
    problems = []
    # csv: the converter's file, byte for byte.
    our_csv = subprocess.run(
        [binary, "-p", project, "export", "--format", "csv"], capture_output=True
    ).stdout
    csv_out = os.path.join(work, "converter_csv")
    converter = Converter(config=xml, project_dir=work, download_resources=False)
    converter.convert_to_csv(exported, csv_out, is_dir=False, sep=",")
    their_csv = open(os.path.join(csv_out, "result.csv"), "rb").read()
    if our_csv != their_csv:
        ours_lines, theirs_lines = our_csv.splitlines(), their_csv.splitlines()
        for i, (a, b) in enumerate(zip(ours_lines, theirs_lines)):
            if a != b:
                problems.append(f"csv line {i + 1}: {a!r}, the converter's {b!r}")
                break
        else:
            problems.append(f"csv: {len(ours_lines)} lines, the converter wrote {len(theirs_lines)}")
    if len(ours) != len(theirs):
        problems.append(f"{len(ours)} records, the converter wrote {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if list(a) != list(b):
            problems.append(f"record {i}: columns {list(a)}, the converter's {list(b)}")
        elif json.dumps(a) != json.dumps(b):  # values, and key order inside them
            diff = {k: (a[k], b[k]) for k in a if json.dumps(a[k]) != json.dumps(b[k])}
            problems.append(f"record {i}: {diff}")
    return len(theirs), problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lsdb", required=True)
    args = parser.parse_args()
    failed = False
    for config, tasks in CASES:
        with tempfile.TemporaryDirectory() as work:
            n, problems = compare(args.lsdb, config, tasks, work)
        name = f"{config or 'no config'} + {tasks}"
        if problems:
            failed = True
            print(f"DIFF {name}:")
            for p in problems:
                print(f"     {p}")
        else:
            print(f"same {name}: {n} records")
    print(f"json-min and csv: {'differ from' if failed else 'the same as'} label-studio-sdk's converter")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
