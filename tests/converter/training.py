#!/usr/bin/env python3
"""lsdb's training formats against Label Studio's own converter (label-studio-sdk), file for file.

For each case (a label config, a task file and the formats it suits): import the tasks into a
new lsdb project, export them with `lsdb export --format F -o DIR`, export `json` too and run
the converter (`Converter(config, project_dir, download_resources=False).convert(json, dir,
Format.X, is_dir=False)`) on it, then compare the two folders: the same files, JSON files
parsed and equal (numbers as numbers; COCO's `info.date_created`, the time of the run, left
out), PNG images decoded and equal pixel for pixel, every other file byte for byte. The converter runs in an empty working folder with no
Label Studio host in its environment, so it reads no file lsdb would not. Prints one line per
case and format; exits 1 on any difference.

    python tests/converter/training.py --lsdb target/debug/lsdb [--sdk-repo GIT_DIR]

`--sdk-repo` adds the converter's own test fixtures (tests/custom/converter/data) from a git
copy of label-studio-sdk's source; PyPI's sdist does not ship them, so CI reads them from a
local mirror when the machine has one.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile

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
        ("brush", ["brush-png", "brush-numpy"]),
    ]
] + [
    # The converter measures audio only when it reads it: with download_resources and
    # Label Studio's local-files root.
    ("label_studio/ls_1.23.2_asr.xml", "label_studio/ls_1.23.2_asr_export.json", ["asr-manifest"],
     {"download": True, "document_root": FIXTURES}),


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


def pixels(data):
    """A PNG's mode, size and pixels: PNG files of one image differ by their compressor."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.mode, image.size, image.tobytes()


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
        elif name.endswith(".png"):
            x, y = pixels(a[name]), pixels(b[name])
            if x != y:
                problems.append(f"{name}: lsdb's image {x[:2]}, the converter's {y[:2]}, or their pixels differ")
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


CONVERT = """
import sys
from label_studio_sdk.converter import Converter
from label_studio_sdk.converter.converter import Format
config, tasks, out, fmt, download = sys.argv[1:]
xml = open(config).read()
Converter(config=xml, project_dir=".", download_resources=download == "1").convert(
    tasks, out, Format[fmt], is_dir=False
)
"""


def converter(config, exported, out, fmt, cwd, download, document_root):
    """Run the converter in a new process: Label Studio's local-files root is read once, at import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "LOCAL_FILES_"))}
    if document_root:
        env["LOCAL_FILES_DOCUMENT_ROOT"] = document_root
    run = subprocess.run(
        [sys.executable, "-c", CONVERT, config, exported, out, FORMATS[fmt].name, "1" if download else "0"],
        cwd=cwd, env=env, capture_output=True, text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"the converter, {fmt} of {exported}: {run.stderr.strip()[-2000:]}")


def run_case(binary, config, tasks, formats, work, options=None):
    """`options`: `download` runs the converter with download_resources=True (ASR reads the
    audio); `document_root` is Label Studio's LOCAL_FILES_DOCUMENT_ROOT for both."""
    options = options or {}
    project = os.path.join(work, "p")
    lsdb(binary, "init", project, "-l", config, "--input-path", tasks)
    exported = os.path.join(work, "tasks.json")
    lsdb(binary, "-p", project, "export", "-o", exported)
    results = []
    for fmt in formats:
        ours = os.path.join(work, f"lsdb-{fmt}")
        theirs = os.path.join(work, f"converter-{fmt}")
        cwd = tempfile.mkdtemp(dir=work)
        extra = ["--document-root", options["document_root"]] if "document_root" in options else []
        lsdb(binary, "-p", project, "export", "--format", fmt, "-o", ours, *extra, cwd=cwd)
        os.makedirs(theirs)  # the brush formats need it made
        converter(config, exported, theirs, fmt, cwd, options.get("download"), options.get("document_root"))
        results.append((fmt, *compare_folders(ours, theirs)))
    return results


def served_audio_case(binary, work):
    """ASR over lsdb's own local-file URLs: lsdb copies the files it names; the converter
    downloads the same URLs from `lsdb serve`."""
    import socket
    import time
    import urllib.parse
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    media = os.path.join(FIXTURES, "media")
    folder = urllib.parse.quote_plus(media, safe="")

    def task(i, name, text):
        url = f"http://127.0.0.1:{port}/data/{name}?d={folder}"
        result = [{"id": f"t{i}", "from_name": "transcription", "to_name": "audio", "type": "textarea",
                   "value": {"text": [text]}}] if text else []
        return {"id": i, "data": {"audio": url},
                "annotations": [{"id": 10 + i, "completed_by": {"id": 1, "email": "a@example.com"},
                                 "result": result}]}

    tasks = [task(1, "tone1.wav", "one / two \u00e9"), task(2, "tone2.wav", "x")]
    tasks_file = os.path.join(work, "audio_tasks.json")
    json.dump(tasks, open(tasks_file, "w"))
    config = os.path.join(work, "asr.xml")
    open(config, "w").write(open(os.path.join(FIXTURES, "label_studio/ls_1.23.2_asr.xml")).read())
    project = os.path.join(work, "p")
    lsdb(binary, "init", project, "-l", config, "--input-path", tasks_file, "--allow-serving-local-files")
    exported = os.path.join(work, "tasks.json")
    lsdb(binary, "-p", project, "export", "-o", exported)
    ours, theirs = os.path.join(work, "lsdb-asr"), os.path.join(work, "converter-asr")
    lsdb(binary, "-p", project, "export", "--format", "asr-manifest", "-o", ours)
    server = subprocess.Popen([binary, "-p", project, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        os.makedirs(theirs)
        converter(config, exported, theirs, "asr-manifest", work, True, None)
    finally:
        server.terminate()
        server.wait()
    return [("asr-manifest", *compare_folders(ours, theirs))]


def report(fmt, case, files, problems):
    """Print one line (and the differences); true when there are any."""
    name = f"{fmt}: {case}"
    if problems:
        print(f"DIFF {name}:")
        for p in problems[:10]:
            print(f"     {p}")
    else:
        print(f"same {name}: {files} files")
    return bool(problems)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lsdb", required=True)
    parser.add_argument("--sdk-repo", help="a git copy of label-studio-sdk")
    args = parser.parse_args()
    binary = os.path.abspath(args.lsdb)
    failed = False
    cases = [(os.path.join(FIXTURES, c), os.path.join(FIXTURES, t), *rest) for c, t, *rest in CASES]
    sdk = tempfile.TemporaryDirectory()
    if args.sdk_repo:
        cases += sdk_fixtures(args.sdk_repo, sdk.name)
    with tempfile.TemporaryDirectory() as work:
        for fmt, files, problems in served_audio_case(binary, work):
            failed |= report(fmt, "lsdb's local-file URLs served by lsdb serve", files, problems)
    for config, tasks, formats, *options in cases:
        with tempfile.TemporaryDirectory() as work:
            results = run_case(binary, config, tasks, formats, work, *options)
        config, tasks = (os.path.relpath(p, FIXTURES if p.startswith(FIXTURES) else sdk.name) for p in (config, tasks))
        for fmt, files, problems in results:
            failed |= report(fmt, f"{config} + {tasks}", files, problems)
    print(f"training formats: {'differ from' if failed else 'the same as'} label-studio-sdk's converter")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
