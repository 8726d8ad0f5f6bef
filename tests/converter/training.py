#!/usr/bin/env python3
"""lsdb's training formats against Label Studio's own converter (label-studio-sdk), file for file.

For each case (a label config, a task file and the formats it suits): import the tasks into a
new lsdb project, export them with `lsdb export --format F -o DIR`, export `json` too and run
the converter (`Converter(config, project_dir, download_resources=False).convert(json, dir,
Format.X, is_dir=False)`) on it, then compare the two folders: the same files, JSON files
parsed and equal (numbers as numbers; COCO's `info.date_created`, the time of the run, left
out), every other file byte for byte. The converter runs in an empty working folder with no
Label Studio host in its environment, so it reads no file lsdb would not. Prints one line per
case and format; exits 1 on any difference.

    python tests/converter/training.py --lsdb target/debug/lsdb [--sdk-repo GIT_DIR]

`--sdk-repo` adds the converter's own test fixtures (tests/custom/converter/data) from a git
copy of label-studio-sdk's source; PyPI's sdist does not ship them, so CI reads them from a
local mirror when the machine has one.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from label_studio_sdk.converter import Converter
from label_studio_sdk.converter.converter import Format

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures")

FORMATS = {
    "coco": Format.COCO,
    "yolo": Format.YOLO,
    "yolo-obb": Format.YOLO_OBB,
    "voc": Format.VOC,
    "conll2003": Format.CONLL2003,
    "brush-png": Format.BRUSH_TO_PNG,
    "brush-numpy": Format.BRUSH_TO_NUMPY,
    "asr-manifest": Format.ASR_MANIFEST,
}

BOXES = ["coco", "yolo", "yolo-obb", "voc"]

# (label config under fixtures/, task file under fixtures/, formats)
CASES = [
    ("configs/image_bbox.xml", "tasks/image_bbox_predictions.json", BOXES),
    ("configs/training_boxes.xml", "tasks/training_boxes.json", BOXES),
    ("configs/training_ner.xml", "tasks/training_ner.json", ["conll2003"]),
] + [
    # Exports Label Studio 1.23.2 itself wrote (tests/converter/ls_exports.sh makes them).
    (f"label_studio/ls_1.23.2_{name}.xml", f"label_studio/ls_1.23.2_{name}_export.json", formats)
    for name, formats in [
        ("bbox", BOXES),
        ("polygons", ["coco", "yolo", "yolo-obb"]),
        ("keypoints", ["coco", "yolo", "yolo-obb"]),
        ("ner", ["conll2003"]),
    ]


]


# The converter's own fixtures in label-studio-sdk (tests/custom/converter/data/...).
SDK_CASES = [
    ("test_export_coco/label_config.xml", "test_export_coco/data.json", ["coco", "yolo", "yolo-obb"]),
    ("test_export_yolo/label_config.xml", "test_export_yolo/data.json", BOXES),
    ("test_export_yolo/label_config_obb.xml", "test_export_yolo/data_obb.json", BOXES),
    ("test_export_yolo/label_config_polygons.xml", "test_export_yolo/data_polygons.json", ["coco", "yolo", "yolo-obb"]),
    ("test_export_yolo/label_config_keypoints.xml", "test_export_yolo/data_keypoints.json", ["coco", "yolo", "yolo-obb"]),
]


def sdk_fixtures(git_dir, into):
    """Write the SDK's fixture files from its git copy into `into`; the cases with paths there."""
    cases = []
    for config, tasks, formats in SDK_CASES:
        paths = []
        for name in (config, tasks):
            text = subprocess.run(
                ["git", "--git-dir", git_dir, "show", f"HEAD:tests/custom/converter/data/{name}"],
                capture_output=True, check=True,
            ).stdout
            path = os.path.join(into, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "wb").write(text)
            paths.append(path)
        cases.append((paths[0], paths[1], formats))
    return cases


def lsdb(binary, *args, cwd=None):
    run = subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd)
    if run.returncode != 0:
        raise SystemExit(f"lsdb {' '.join(args)}: {run.stderr.strip()}")
    return run


def tree(folder):
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            files[os.path.relpath(path, folder)] = open(path, "rb").read()
    return files


def parsed(name, data):
    value = json.loads(data)
    if name == "result.json" and isinstance(value, dict) and isinstance(value.get("info"), dict):
        value["info"].pop("date_created", None)
    return value


def compare_folders(ours, theirs):
    problems = []
    a, b = tree(ours), tree(theirs)
    for name in sorted(set(a) | set(b)):
        if name not in a:
            problems.append(f"{name}: only the converter wrote it")
        elif name not in b:
            problems.append(f"{name}: only lsdb wrote it")
        elif name.endswith(".json") and name != "manifest.json":
            x, y = parsed(name, a[name]), parsed(name, b[name])
            if x != y:
                problems.append(f"{name}: {first_difference(x, y)}")
        elif a[name] != b[name]:
            problems.append(f"{name}: lsdb {a[name][:300]!r}, the converter {b[name][:300]!r}")
    return len(b), problems


def first_difference(x, y, path="$"):
    if type(x) is not type(y):
        return f"{path}: lsdb {x!r}, the converter {y!r}"
    if isinstance(x, dict):
        if list(x) != list(y):
            return f"{path}: keys {list(x)}, the converter's {list(y)}"
        for k in x:
            if x[k] != y[k]:
                return first_difference(x[k], y[k], f"{path}.{k}")
    if isinstance(x, list):
        if len(x) != len(y):
            return f"{path}: {len(x)} items, the converter's {len(y)}"
        for i, (p, q) in enumerate(zip(x, y)):
            if p != q:
                return first_difference(p, q, f"{path}[{i}]")
    return f"{path}: lsdb {x!r}, the converter {y!r}"


def run_case(binary, config, tasks, formats, work):
    project = os.path.join(work, "p")
    lsdb(binary, "init", project, "-l", config, "--input-path", tasks)
    exported = os.path.join(work, "tasks.json")
    lsdb(binary, "-p", project, "export", "-o", exported)
    xml = open(config).read()
    results = []
    for fmt in formats:
        ours = os.path.join(work, f"lsdb-{fmt}")
        theirs = os.path.join(work, f"converter-{fmt}")
        cwd = tempfile.mkdtemp(dir=work)
        lsdb(binary, "-p", project, "export", "--format", fmt, "-o", ours, cwd=cwd)
        here = os.getcwd()
        os.chdir(cwd)
        try:
            Converter(config=xml, project_dir=cwd, download_resources=False).convert(
                exported, theirs, FORMATS[fmt], is_dir=False
            )
        finally:
            os.chdir(here)
        results.append((fmt, *compare_folders(ours, theirs)))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lsdb", required=True)
    parser.add_argument("--sdk-repo", help="a git copy of label-studio-sdk")
    args = parser.parse_args()
    binary = os.path.abspath(args.lsdb)
    for var in ["LABEL_STUDIO_URL", "LABEL_STUDIO_HOST", "LABEL_STUDIO_API_KEY", "LOCAL_FILES_DOCUMENT_ROOT"]:
        os.environ.pop(var, None)
    failed = False
    cases = [(os.path.join(FIXTURES, c), os.path.join(FIXTURES, t), f) for c, t, f in CASES]
    sdk = tempfile.TemporaryDirectory()
    if args.sdk_repo:
        cases += sdk_fixtures(args.sdk_repo, sdk.name)
    for config, tasks, formats in cases:
        with tempfile.TemporaryDirectory() as work:
            results = run_case(binary, config, tasks, formats, work)
        config, tasks = (os.path.relpath(p, FIXTURES if p.startswith(FIXTURES) else sdk.name) for p in (config, tasks))
        for fmt, files, problems in results:
            name = f"{fmt}: {config} + {tasks}"
            if problems:
                failed = True
                print(f"DIFF {name}:")
                for p in problems[:10]:
                    print(f"     {p}")
            else:
                print(f"same {name}: {files} files")
    print(f"training formats: {'differ from' if failed else 'the same as'} label-studio-sdk's converter")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
