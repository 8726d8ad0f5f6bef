#!/usr/bin/env python3
"""Real Label Studio JSON exports for the training-format comparisons (run by ls_exports.sh).

For each case below: a new Label Studio project with the case's label config, its tasks
imported through the API, annotations added through the API as an annotator would (several
on some tasks, a cancelled one, a task left without any), predictions added through the API,
then the project's JSON export downloaded whole. Writes, under --out,
ls_<version>_<case>_export.json (the export's bytes as Label Studio sent them) and
ls_<version>_<case>.xml (the label config as the project holds it). The small media files
the tasks point at (/data/local-files/?d=media/...) are written under --media when missing.
Runs with the Python of Label Studio's venv, which has label-studio-sdk (its brush encoder
makes the masks' RLE) and numpy.
"""

import argparse
import json
import math
import os
import struct
import sys
import wave
import zlib

import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from ls_api import Api  # noqa: E402  (the shared client; ls_quality.py takes it from here)

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: URLs that never load


# ---------------------------------------------------------------------------------------
# Media: two PNGs and two WAVs, made here byte by byte so that they never change.


def png_bytes(width, height, color_type, rows):
    """A PNG (8 bits a sample; color type 0 gray, 2 RGB) from rows of sample bytes."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def rgb_rows(width, height):
    for y in range(height):
        row = []
        for x in range(width):
            row += [x * 6 % 256, y * 8 % 256, 200 if (x // 8 + y // 8) % 2 else 40]
        yield row


def gray_rows(width, height):
    for y in range(height):
        yield [(x * 4 + y * 2) % 256 for x in range(width)]


def write_wav(path, rate, seconds, hertz):
    frames = round(rate * seconds)
    samples = bytes(128 + round(100 * math.sin(2 * math.pi * hertz * i / rate))
                    for i in range(frames))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)  # 8-bit unsigned
        w.setframerate(rate)
        w.writeframes(samples)


MEDIA = {
    # name: (writer, what the tasks need to know about it)
    "rgb_40x30.png": lambda p: open(p, "wb").write(png_bytes(40, 30, 2, rgb_rows(40, 30))),
    "gray_64x48.png": lambda p: open(p, "wb").write(png_bytes(64, 48, 0, gray_rows(64, 48))),
    # 2 kHz, 8-bit mono: 500 frames (0.25 s) and 740 frames (0.37 s), about 0.5 and 0.8 KB.
    "tone1.wav": lambda p: write_wav(p, 2000, 0.25, 250),
    "tone2.wav": lambda p: write_wav(p, 2000, 0.37, 400),
}


def ensure_media(media_dir):
    os.makedirs(media_dir, exist_ok=True)
    written = []
    for name, write in MEDIA.items():
        path = os.path.join(media_dir, name)
        if not os.path.exists(path):
            write(path)
            written.append(path)
    return written


def local(path):
    return f"/data/local-files/?d={path}"


# ---------------------------------------------------------------------------------------
# Results, shaped as Label Studio's editor sends them.


def region(rid, kind, from_name, to_name, value, size=None, **extra):
    r = {"id": rid, "type": kind, "from_name": from_name, "to_name": to_name,
         "origin": "manual", "value": value}
    if size is not None:
        r["original_width"], r["original_height"] = size
        r["image_rotation"] = 0
    r.update(extra)
    return r


def rect(rid, size, x, y, w, h, label, rotation=0, from_name="label", **extra):
    return region(rid, "rectanglelabels", from_name, "image",
                  {"x": x, "y": y, "width": w, "height": h, "rotation": rotation,
                   "rectanglelabels": [label]}, size, **extra)


def polygon(rid, size, points, label, closed=True):
    value = {"points": points, "polygonlabels": [label]}
    if closed is not None:
        value["closed"] = closed
    return region(rid, "polygonlabels", "label", "image", value, size)


def keypoint(rid, size, x, y, label, parent=None, width=0.75):
    extra = {} if parent is None else {"parentID": parent}
    return region(rid, "keypointlabels", "kp", "image",
                  {"x": x, "y": y, "width": width, "keypointlabels": [label]}, size, **extra)


def span(rid, text, fragment, label, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(fragment, start + 1)
    return region(rid, "labels", "label", "text",
                  {"start": start, "end": start + len(fragment), "text": fragment,
                   "labels": [label]})


def brush(rid, mask, label):
    rle = mask2rle(mask)
    height, width = mask.shape
    back = np.reshape(decode_rle(rle), [height, width, 4])[:, :, 3]
    assert (back == mask).all(), "the SDK's RLE does not decode to its mask"
    return region(rid, "brushlabels", "tag", "image",
                  {"format": "rle", "rle": rle, "brushlabels": [label]}, (width, height))


def transcript(rid, *lines):
    return region(rid, "textarea", "transcription", "audio", {"text": list(lines)})


def relation(a, b):
    return {"from_id": a, "to_id": b, "type": "relation", "direction": "right"}


def circle_points(cx, cy, r, n):
    """n points around a circle, as percents with six decimals (a hand-drawn polygon)."""
    return [[round(cx + r * math.cos(2 * math.pi * i / n), 6),
             round(cy + 0.8 * r * math.sin(2 * math.pi * i / n), 6)] for i in range(n)]


def disk(height, width, cy, cx, ry, rx):
    y, x = np.mgrid[0:height, 0:width]
    return ((((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2) <= 1).astype(np.uint8) * 255


def box(height, width, y0, y1, x0, x1):
    m = np.zeros((height, width), dtype=np.uint8)
    m[y0:y1, x0:x1] = 255
    return m


# A task: {"data": ..., "annotations": [{"result": [...], ...}], "predictions": [...]}.
# Annotations are posted in order (their created_at follows it); "was_cancelled" marks a
# skipped one.


def bbox_case():
    config = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Car" background="#FF0000"/>
    <Label value="Person" background="#0000FF"/>
    <Label value="Traffic Light" category="7" background="#00AA00"/>
  </RectangleLabels>
</View>"""
    a, b = (640, 480), (1920, 1080)
    local_rgb, local_x = (40, 30), (100, 80)
    tasks = [
        {"data": {"image": f"{UNREACHABLE}/img/a.jpg"},
         "annotations": [
             {"result": [rect("a1", a, 12.345678, 23.456789, 30.5, 20.25, "Car"),
                         rect("a2", a, 50, 10, 20, 60, "Person")], "lead_time": 12.5},
             {"result": [rect("a3", a, 12.5, 23.25, 31.111111, 19.876543, "Car"),
                         rect("a4", a, 50.0, 10.0, 20.0, 60.0, "Person"),
                         rect("a5", a, 88.123, 0.5, 11.877, 14.2, "Traffic Light")],
              "lead_time": 7}],
         "predictions": [{"model_version": "det-v1", "score": 0.8125,
                          "result": [rect("p1", a, 12.0, 23.0, 30.0, 21.0, "Car", score=0.91),
                                     rect("p2", a, 49.75, 9.5, 21.5, 61.0, "Person",
                                          score=0.715)]}]},
        {"data": {"image": f"{UNREACHABLE}/img/b.jpg"},
         "annotations": [
             {"result": [rect("b1", b, 40.123456, 30.654321, 15.5, 10.25, "Car", rotation=30),
                         rect("b2", b, 70.5, 60.75, 8.333333, 20.666667, "Traffic Light",
                              rotation=275.5),
                         rect("b3", b, 5, 5, 10, 10, "Person", rotation=0)],
              "lead_time": 30.25}]},
        {"data": {"image": local("media/rgb_40x30.png")},
         "annotations": [
             {"result": [rect("c1", local_rgb, 10, 20, 25, 40, "Person"),
                         rect("c2", local_rgb, 52.5, 13.333333, 37.5, 53.333333,
                              "Traffic Light")]}],
         "predictions": [{"model_version": "det-v1", "score": 0.5,
                          "result": [rect("p3", local_rgb, 11.1, 19.9, 24.8, 40.2, "Person")]}]},
        {"data": {"image": local("images/x.png")},
         "annotations": [
             {"result": [rect("d1", local_x, 0, 0, 100, 100, "Car")], "lead_time": 1.5},
             {"result": [], "was_cancelled": True}]},
        {"data": {"image": f"{UNREACHABLE}/img/e.jpg"},
         "annotations": [{"result": [], "was_cancelled": True, "lead_time": 2.0}]},
        {"data": {"image": f"{UNREACHABLE}/img/f.jpg"}},
    ]
    return config, tasks


def polygons_case():
    config = """<View>
  <Image name="image" value="$image"/>
  <PolygonLabels name="label" toName="image" strokeWidth="3" pointSize="small">
    <Label value="Building" background="#FF8800"/>
    <Label value="Tree" background="#00CC00"/>
  </PolygonLabels>
</View>"""
    s1, s2 = (800, 600), (1024, 768)
    triangle = [[10.123456, 20.654321], [40.5, 20.654321], [25, 60]]
    pentagon = [[50.0, 10.0], [69.021130, 23.819660], [61.755705, 46.180340],
                [38.244295, 46.180340], [30.978870, 23.819660]]
    twenty = circle_points(55.5, 62.25, 20.123456, 20)
    tasks = [
        {"data": {"image": f"{UNREACHABLE}/img/p1.jpg"},
         "annotations": [{"result": [polygon("t1", s1, triangle, "Tree"),
                                     polygon("t2", s1, pentagon, "Building")],
                          "lead_time": 41.5}],
         "predictions": [{"model_version": "seg-v2", "score": 0.66,
                          "result": [polygon("q1", s1, [[11, 21], [40, 21], [25.5, 59.5]],
                                             "Tree")]}]},
        {"data": {"image": f"{UNREACHABLE}/img/p2.jpg"},
         "annotations": [{"result": [polygon("u1", s2, twenty, "Building")]},
                         {"result": [polygon("u2", s2, twenty[::2], "Building", closed=None),
                                     polygon("u3", s2, triangle, "Tree")]}]},
        {"data": {"image": local("media/gray_64x48.png")},
         "annotations": [{"result": [polygon("v1", (64, 48),
                                             [[0, 0], [50, 0], [50, 50], [0, 50], [12.5, 25]],
                                             "Tree")]},
                         {"result": [], "was_cancelled": True}]},
        {"data": {"image": f"{UNREACHABLE}/img/p4.jpg"},  # a prediction and no annotation
         "predictions": [{"model_version": "seg-v2", "score": 0.125,
                          "result": [polygon("q2", s2, pentagon, "Building")]}]},
    ]
    return config, tasks


def keypoints_case():
    config = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Face" background="#AA00FF"/>
  </RectangleLabels>
  <KeyPointLabels name="kp" toName="image">
    <Label value="left_eye" model_index="0" background="#FF0000"/>
    <Label value="right_eye" model_index="1" background="#00FF00"/>
    <Label value="nose" model_index="2" background="#0000FF"/>
  </KeyPointLabels>
</View>"""
    s1, s2 = (640, 480), (1280, 720)
    tasks = [
        {"data": {"image": f"{UNREACHABLE}/img/k1.jpg"},
         "annotations": [{"result": [
             rect("f1", s1, 20.5, 15.25, 30.123456, 40.654321, "Face"),
             keypoint("e1", s1, 28.765432, 30.123456, "left_eye", parent="f1"),
             keypoint("e2", s1, 42.5, 30.5, "right_eye", parent="f1"),
             keypoint("n1", s1, 35, 40, "nose", parent="f1"),
             relation("e1", "e2")], "lead_time": 18.75}],
         "predictions": [{"model_version": "kp-v1", "score": 0.75, "result": [
             rect("g1", s1, 21, 15, 30, 41, "Face"),
             keypoint("h1", s1, 29, 30, "left_eye", parent="g1"),
             keypoint("h2", s1, 43, 31, "nose", parent="g1")]}]},
        {"data": {"image": f"{UNREACHABLE}/img/k2.jpg"},
         "annotations": [{"result": [
             rect("f2", s2, 10.1, 10.2, 20.3, 30.4, "Face"),
             rect("f3", s2, 60.75, 12.5, 25.25, 35.0, "Face"),
             keypoint("e3", s2, 15.555555, 20.444444, "left_eye", parent="f2"),
             keypoint("e4", s2, 24.25, 20.5, "right_eye", parent="f2"),
             keypoint("n2", s2, 72.0, 30.0, "nose", parent="f3"),
             keypoint("n3", s2, 5.5, 90.25, "nose")]},  # no parentID: belongs to no box
             {"result": [rect("f4", s2, 10, 10, 20, 30, "Face"),
                         keypoint("n4", s2, 20, 25, "nose", parent="f4", width=1.5)]}]},
        {"data": {"image": local("media/rgb_40x30.png")},
         "annotations": [{"result": [rect("f5", (40, 30), 25, 10, 50, 80, "Face")]}]},
        {"data": {"image": f"{UNREACHABLE}/img/k4.jpg"},
         "annotations": [{"result": [], "was_cancelled": True}]},
    ]
    return config, tasks


def ner_case():
    config = """<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
    <Label value="LOC" background="orange"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""
    t1 = ('Dr. Anna M\u00fcller said: "Acme Corp. will open 3 offices in Z\u00fcrich, '
          'Paris and New York..."  Really?')
    t2 = "On 12 March 2021, the United Nations met in Geneva -- and Tim  Cook, too."
    t3 = "Apple's CEO, Tim Cook, visited Berlin (Germany) in 2019; 'Great city!' he said..."
    t4 = "No entities here, just words: 1, 2, 3."
    t5 = "Paris, Texas is not Paris, France."
    tasks = [
        {"data": {"text": t1},
         "annotations": [{"result": [span("s1", t1, "Anna M\u00fcller", "PER"),
                                     span("s2", t1, "Acme Corp.", "ORG"),
                                     span("s3", t1, "Z\u00fcrich", "LOC"),
                                     span("s4", t1, "Paris", "LOC"),
                                     span("s5", t1, "New York", "LOC")], "lead_time": 25.5}],
         "predictions": [{"model_version": "ner-v3", "score": 0.925,
                          "result": [span("r1", t1, "Anna", "PER"),
                                     span("r2", t1, "Acme Corp", "ORG")]}]},
        {"data": {"text": t2},
         "annotations": [{"result": [span("s6", t2, "United Nations", "ORG"),
                                     span("s7", t2, "Geneva", "LOC"),
                                     span("s8", t2, "Tim  Cook", "PER")]},
                         {"result": [span("s9", t2, "the United Nations", "ORG"),
                                     span("s10", t2, "Geneva", "LOC")]}]},
        {"data": {"text": t3},
         "annotations": [{"result": [span("s11", t3, "Apple", "ORG"),
                                     span("s12", t3, "Tim Cook", "PER"),
                                     span("s13", t3, "Berlin", "LOC"),
                                     span("s14", t3, "Germany", "LOC")]},
                         {"result": [], "was_cancelled": True}]},
        {"data": {"text": t4}},
        {"data": {"text": t5},
         "annotations": [{"result": [span("s15", t5, "Paris, Texas", "LOC"),
                                     span("s16", t5, "Paris", "LOC", nth=1),
                                     span("s17", t5, "France", "LOC")]}]},
    ]
    return config, tasks


def brush_case():
    config = """<View>
  <Image name="image" value="$image" zoom="true"/>
  <BrushLabels name="tag" toName="image">
    <Label value="Sky" background="#3399FF"/>
    <Label value="Building" background="#AA5500"/>
  </BrushLabels>
</View>"""
    # Masks are height x width, as the image's rows.
    sky1 = box(30, 40, 0, 9, 0, 40)
    building1 = disk(30, 40, 20, 14, 7, 9)
    building1b = box(30, 40, 12, 30, 28, 37)
    sky2 = disk(48, 64, 10, 40, 8, 18)
    building2 = box(48, 64, 20, 48, 5, 30)
    diagonal = np.fromfunction(lambda y, x: ((x - y) % 16 < 5) * 255, (48, 64)).astype(np.uint8)
    tasks = [
        {"data": {"image": local("media/rgb_40x30.png")},
         "annotations": [{"result": [brush("m1", sky1, "Sky"),
                                     brush("m2", building1, "Building"),
                                     brush("m3", building1b, "Building")], "lead_time": 60.5}],
         "predictions": [{"model_version": "seg-v1", "score": 0.55,
                          "result": [brush("w1", box(30, 40, 0, 10, 0, 40), "Sky")]}]},
        {"data": {"image": local("media/gray_64x48.png")},
         "annotations": [{"result": [brush("m4", sky2, "Sky"),
                                     brush("m5", building2, "Building")]},
                         {"result": [brush("m6", diagonal, "Building")]}]},
        {"data": {"image": f"{UNREACHABLE}/img/b3.png"},
         "annotations": [{"result": [], "was_cancelled": True}]},
        {"data": {"image": f"{UNREACHABLE}/img/b4.png"}},
    ]
    return config, tasks


def asr_case():
    config = """<View>
  <Audio name="audio" value="$audio"/>
  <TextArea name="transcription" toName="audio" rows="2" editable="true" maxSubmissions="1"/>
</View>"""
    tasks = [
        {"data": {"audio": local("media/tone1.wav")},
         "annotations": [{"result": [transcript("x1", "a short tone")], "lead_time": 3.5}],
         "predictions": [{"model_version": "asr-v1", "score": 0.42,
                          "result": [transcript("y1", "a short toe")]}]},
        {"data": {"audio": local("media/tone2.wav")},
         "annotations": [{"result": [transcript("x2", "a longer tone, \"quoted\", \u00fcber")]},
                         {"result": [transcript("x3", "first line", "second line")]}]},
        {"data": {"audio": f"{UNREACHABLE}/audio/missing.wav"},
         "annotations": [{"result": [transcript("x4", "never downloaded")]}]},
        {"data": {"audio": local("media/tone1.wav")},
         "annotations": [{"result": [], "was_cancelled": True}]},
        {"data": {"audio": local("media/tone2.wav")}},
    ]
    return config, tasks


CASES = {
    "bbox": bbox_case,
    "polygons": polygons_case,
    "keypoints": keypoints_case,
    "ner": ner_case,
    "brush": brush_case,
    "asr": asr_case,
}


# ---------------------------------------------------------------------------------------


def make_case(api, name, build, out, version, document_root):
    config, tasks = build()
    project = api.call("POST", "/api/projects",
                       {"title": f"lsdb converter fixtures: {name}", "label_config": config})
    pid = project["id"]
    if any("/data/local-files/" in json.dumps(t["data"]) for t in tasks):
        # Label Studio serves a local file only under a Local Storage of the project; this one
        # is never synced, so it adds no task.
        api.call("POST", "/api/storages/localfiles",
                 {"project": pid, "title": "media", "use_blob_urls": False,
                  "path": os.path.join(document_root, "media")})
    imported = api.call("POST", f"/api/projects/{pid}/import", [{"data": t["data"]} for t in tasks])
    if imported.get("task_count") != len(tasks):
        raise SystemExit(f"{name}: Label Studio imported {imported}, sent {len(tasks)} tasks")
    listed = api.call("GET", f"/api/tasks?project={pid}&page_size=1000")
    listed = listed["tasks"] if isinstance(listed, dict) else listed
    ids = sorted(t["id"] for t in listed)
    counts = {"annotations": 0, "cancelled": 0, "predictions": 0}
    for task_id, task in zip(ids, tasks):
        for prediction in task.get("predictions", []):
            # A model's regions carry no "origin" (the editor adds one when it shows them).
            result = [{k: v for k, v in r.items() if k != "origin"} for r in prediction["result"]]
            api.call("POST", "/api/predictions/", {"task": task_id, **prediction, "result": result})
            counts["predictions"] += 1
    versions = [p["model_version"] for t in tasks for p in t.get("predictions", [])]
    if versions:
        # An annotation posted while the project's model version has a prediction on its task
        # carries that prediction whole ("prediction"); the task's "predictions" in the JSON
        # export are only ids.
        api.call("PATCH", f"/api/projects/{pid}", {"model_version": versions[0]})
    for task_id, task in zip(ids, tasks):
        for annotation in task.get("annotations", []):
            body = {"was_cancelled": False, **annotation}
            api.call("POST", f"/api/tasks/{task_id}/annotations/", body)
            counts["annotations"] += 1
            counts["cancelled"] += bool(body["was_cancelled"])
    for task in tasks:
        url = next((v for v in task["data"].values() if v.startswith(local("media/"))), None)
        if url:
            served = api.call("GET", url, raw=True)
            on_disk = open(os.path.join(document_root, url[len(local("")):]), "rb").read()
            if served != on_disk:
                raise SystemExit(f"{name}: Label Studio served {len(served)} bytes for {url}")
            break
    export = api.call("GET", f"/api/projects/{pid}/export?exportType=JSON&download_all_tasks=true",
                      raw=True)
    exported = json.loads(export)
    got = sum(len(t.get("annotations", [])) for t in exported)
    if (len(exported), got) != (len(tasks), counts["annotations"]):
        raise SystemExit(f"{name}: the export has {len(exported)} tasks and {got} annotations; "
                         f"{len(tasks)} and {counts['annotations']} were made")
    export_path = os.path.join(out, f"ls_{version}_{name}_export.json")
    with open(export_path, "wb") as f:
        f.write(export)
    config_path = os.path.join(out, f"ls_{version}_{name}.xml")
    with open(config_path, "w", encoding="utf-8") as f:
        stored = api.call("GET", f"/api/projects/{pid}")["label_config"]
        f.write(stored if stored.endswith("\n") else stored + "\n")
    print(f"{name}: project {pid}, {len(tasks)} tasks, {counts['annotations']} annotations posted "
          f"({counts['cancelled']} cancelled), "
          f"{counts['predictions']} predictions")
    for path in (export_path, config_path):
        print(f"  wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ls-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", required=True, help="where the exports and configs go")
    parser.add_argument("--media", required=True, help="where the media files go")
    parser.add_argument("--document-root", required=True,
                        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT (holds --media)")
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"the cases to make, of {', '.join(CASES)} (all when none is named)")
    args = parser.parse_args()
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"no case {', '.join(unknown)}; the cases: {', '.join(CASES)}")
    for path in ensure_media(args.media):
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")
    api = Api(args.ls_url, args.token)
    version = api.call("GET", "/api/version")["release"]
    print(f"Label Studio {version} at {args.ls_url}")
    os.makedirs(args.out, exist_ok=True)
    for name in args.cases or CASES:
        make_case(api, name, CASES[name], args.out, version, os.path.abspath(args.document_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
