#!/usr/bin/env python3
"""Bucket sync benchmark: `lsdb storage sync` of a 10k-object bucket on a local S3 server
(moto), first and second run, with the time and the HTTP requests each made (counted from
the server's request log). Beside it, in the same run: boto3 listing the same bucket with
its paginator (the listing alone, the least any sync must do).

    cargo build --release && python3 bench/storage.py [--objects N] [--runs R] [--tasks N]

A second case reads one large JSONL object (--tasks tasks, made by bench.py's generator)
from the bucket and the same file from disk: time and peak memory (max RSS, from wait4) of
both, to show that an object is streamed, never held whole.

Uses the venv of the storage tests (tests/storage/venv.sh makes it). DuckDB's own reader of
buckets (the httpfs extension) is downloaded at first use and this machine can't reach its
host, so it is not compared here.
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--lsdb", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "lsdb"))
    args = ap.parse_args()
    venv = subprocess.run(["bash", os.path.join(ROOT, "tests/storage/venv.sh")],
                          check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    server = subprocess.Popen([os.path.join(venv, "bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_ENDPOINT_URL=endpoint)
        fill = f"""
import boto3, concurrent.futures as cf
s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
s3.create_bucket(Bucket="bench")
def put(i):
    s3.put_object(Bucket="bench", Key=f"images/{{i // 1000:02}}/{{i:06}}.jpg", Body=b"jpeg-%d" % i)
with cf.ThreadPoolExecutor(8) as pool:
    list(pool.map(put, range({args.objects})))
"""
        started = time.time()
        subprocess.run([os.path.join(venv, "bin/python"), "-c", fill], check=True)
        print(f"filled the bucket with {args.objects} objects in {time.time() - started:.1f}s", file=sys.stderr)
        listing = f"""
import boto3, time
s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
t = time.perf_counter()
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix="images/"):
    n += len(page.get("Contents", []))
assert n == {args.objects}, n
print(time.perf_counter() - t)
"""

        def requests_since(mark):
            log.flush()
            with open(log.name) as f:
                f.seek(mark)
                text = f.read()
            return sum(1 for line in text.splitlines() if '"GET ' in line or '"HEAD ' in line or '"PUT ' in line)

        def log_mark():
            log.flush()
            return os.path.getsize(log.name)

        rows = []
        firsts, seconds, lists, inner = [], [], [], []
        req_first = req_second = req_list = 0
        for run in range(args.runs):
            project = tempfile.mkdtemp(prefix="lsdb-bench-sync-")
            try:
                subprocess.run([args.lsdb, "-p", project, "init", os.path.join(project, "p")],
                               check=True, capture_output=True, env=env)
                proj = os.path.join(project, "p")
                subprocess.run([args.lsdb, "-p", proj, "storage", "add", "b", "s3://bench/images/",
                                "--format", "image-dir", "--recursive"], check=True, capture_output=True, env=env)
                for label, times in (("first", firsts), ("second", seconds)):
                    mark = log_mark()
                    t = time.time()
                    out = subprocess.run([args.lsdb, "-p", proj, "storage", "sync", "b"],
                                         check=True, capture_output=True, text=True, env=env)
                    times.append(time.time() - t)
                    time.sleep(0.2)
                    n = requests_since(mark)
                    if label == "first":
                        req_first = n
                    else:
                        req_second = n
                    if run == 0:
                        print(f"{label} sync: {out.stdout.strip()}", file=sys.stderr)
            finally:
                shutil.rmtree(project, ignore_errors=True)
            mark = log_mark()
            t = time.time()
            out = subprocess.run([os.path.join(venv, "bin/python"), "-c", listing], check=True,
                                 capture_output=True, text=True)
            lists.append(time.time() - t)
            inner.append(float(out.stdout.strip()))
            time.sleep(0.2)
            req_list = requests_since(mark)
        first, second, listed, listed_inner = (statistics.median(x) for x in (firsts, seconds, lists, inner))
        # One large task file: from the bucket, and the same file from disk.
        sys.path.insert(0, HERE)
        import bench
        data = os.path.join(HERE, "data")
        os.makedirs(data, exist_ok=True)
        big = os.path.join(data, f"storage_tasks_{args.tasks}.jsonl")
        if not os.path.exists(big):
            bench.write_jsonl(big + ".tmp", args.tasks)
            os.rename(big + ".tmp", big)
        size_mb = os.path.getsize(big) / 1e6
        subprocess.run([os.path.join(venv, "bin/python"), "-c", f"""
import boto3
s3 = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench")
s3.upload_file({big!r}, "bench", "tasks/big.jsonl")
"""], check=True)
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_ENDPOINT_URL=endpoint)
        file_cases = {}
        for label, source in (("bucket", "s3://bench/tasks/big.jsonl"), ("disk", big)):
            projects = []

            def fresh():
                projects.append(tempfile.mkdtemp(prefix="lsdb-bench-big-"))

            times, peak = [], 0
            for _ in range(args.runs):
                fresh()
                s, rss = bench.run([args.lsdb, "-p", os.path.join(projects[-1], "p"), "import", source])
                times.append(s)
                peak = max(peak, rss)
            for p in projects:
                shutil.rmtree(p, ignore_errors=True)
            file_cases[label] = (statistics.median(times), peak)

        print(f"\n| case ({args.objects} objects, median of {args.runs}) | time | requests | ratio to boto3 listing |")
        print("|---|---|---|---|")
        print(f"| `lsdb storage sync`, first run (imports {args.objects} tasks) | {first:.2f} s | {req_first} | {first / listed:.2f}× |")
        print(f"| `lsdb storage sync`, second run (nothing new) | {second:.2f} s | {req_second} | {second / listed:.2f}× |")
        print(f"| boto3 `list_objects_v2` paginator, whole process (listing only) | {listed:.2f} s | {req_list} | 1.00× |")
        print(f"| the same listing, timed inside Python (no start-up, no import) | {listed_inner:.2f} s | {req_list} | {listed_inner / listed:.2f}× |")
        (tb, rb), (td, rd) = file_cases["bucket"], file_cases["disk"]
        print(f"\n| one JSONL object of {args.tasks} tasks ({size_mb:.0f} MB), median of {args.runs} | time | peak RSS | ratio to disk |")
        print("|---|---|---|---|")
        print(f"| `lsdb import s3://bench/tasks/big.jsonl` | {tb:.2f} s | {rb:.0f} MiB | {tb / td:.2f}× |")
        print(f"| `lsdb import big.jsonl` (the same file on disk) | {td:.2f} s | {rd:.0f} MiB | 1.00× |")
    finally:
        server.terminate()
        server.wait()
        os.unlink(log.name)


if __name__ == "__main__":
    main()
