#!/usr/bin/env python3
"""`lsdb serve` under load: latency of a referenced media GET and of `/api/tasks` pages, beside
`/health` in the same run, and the server's peak memory during an HTTP export of every task.

    cargo build --release && python3 bench/serve.py [--tasks 100000 1000000] [--lsdb PATH]

For each size N: a project of N image tasks, each naming its own file under one folder
(`img<i>.jpg`; the first 2,000 exist on disk, so the server's set of referenced files holds N
paths while the disk holds few), two predictions and, on every tenth task, an annotation.
Then 8 client processes, each on a keep-alive connection of its own, send R requests to one
route at a time: `/health` (the floor: routing and HTTP alone), a referenced image (random
among those on disk), `/api/tasks?page=P&page_size=100` (random pages). Prints p50 and p99 of
each and the ratio of its p50 to `/health`'s. Then one `GET /api/projects/1/export?
exportType=JSON&download_all_tasks=true`, read to the end, and the server's peak RSS (VmHWM).
Data goes under bench/data/serve/ (deterministic; kept between runs).
"""
import argparse, http.client, json, multiprocessing, os, random, shutil, statistics, subprocess
import sys, time, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ON_DISK = 2000
CLIENTS = 8


def write_tasks(path, folder, n):
    """The task list: N image tasks, each its own file, with predictions."""
    rng = random.Random(7)
    d = urllib.parse.quote_plus(folder, safe='')
    with open(path, 'w') as f:
        f.write('[\n')
        for i in range(n):
            task = {"data": {"image": f"http://localhost:8080/data/img{i}.jpg?d={d}"},
                    "predictions": [{"model_version": v, "score": round(rng.random(), 4), "result": []}
                                    for v in ("v1", "v2")]}
            if i % 10 == 0:
                task["annotations"] = [{"result": [], "lead_time": 2.5}]
            f.write(json.dumps(task))
            f.write(',\n' if i + 1 < n else '\n')
        f.write(']\n')


def prepare(lsdb, n, work):
    folder = os.path.join(work, 'images')
    os.makedirs(folder, exist_ok=True)
    for i in range(ON_DISK):
        p = os.path.join(folder, f'img{i}.jpg')
        if not os.path.exists(p):
            with open(p, 'wb') as f:
                f.write(b'\xff\xd8\xff' + os.urandom(2048))
    project = os.path.join(work, f'proj-{n}')
    if not os.path.exists(os.path.join(project, 'lsdb.duckdb')):
        tasks = os.path.join(work, f'tasks-{n}.json')
        if not os.path.exists(tasks):
            write_tasks(tasks, folder, n)
        shutil.rmtree(project, ignore_errors=True)
        subprocess.run([lsdb, 'init', project, '--input-path', tasks, '--allow-serving-local-files'],
                       check=True, capture_output=True)
    return project, folder


def client(args):
    """One client: R requests of one kind on a keep-alive connection; their latencies."""
    addr, paths, seed = args
    host, port = addr.split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    rng = random.Random(seed)
    times = []
    for _ in range(len(paths)):
        path = rng.choice(paths)
        start = time.perf_counter()
        conn.request('GET', path)
        answer = conn.getresponse()
        answer.read()
        times.append(time.perf_counter() - start)
        if answer.status != 200:
            raise SystemExit(f'{path}: {answer.status}')
    conn.close()
    return times


def measure(pool, addr, paths, requests):
    # A warm-up pass (the server reads its set of referenced files on the first media GET).
    client((addr, paths[:5], 0))
    work = [(addr, [paths[i % len(paths)] for i in range(requests)], seed) for seed in range(CLIENTS)]
    times = sorted(t for part in pool.map(client, work) for t in part)
    return statistics.median(times), times[int(len(times) * 0.99)]


def peak_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def run(lsdb, n, requests, work, pool):
    project, folder = prepare(lsdb, n, work)
    server = subprocess.Popen([lsdb, '-p', project, 'serve', '--port', '0'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        addr = line.split('http://')[1].split()[0]
        d = urllib.parse.quote_plus(folder, safe='')
        media = [f'/data/img{i}.jpg?d={d}' for i in range(ON_DISK)]
        pages = n // 100
        task_pages = [f'/api/tasks?page={p}&page_size=100' for p in random.Random(3).sample(range(1, pages + 1), min(pages, 500))]
        rows = []
        health = measure(pool, addr, ['/health'], requests)
        for name, paths in (('/health', None), ('media GET', media), ('/api/tasks page', task_pages)):
            p50, p99 = health if paths is None else measure(pool, addr, paths, requests)
            rows.append((name, p50, p99, p50 / health[0]))
        # The export of every task, read to the end; the server's peak memory.
        host, port = addr.split(':')
        conn = http.client.HTTPConnection(host, int(port), timeout=3600)
        start = time.perf_counter()
        conn.request('GET', '/api/projects/1/export?exportType=JSON&download_all_tasks=true')
        answer = conn.getresponse()
        size = 0
        while True:
            chunk = answer.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
        export_s = time.perf_counter() - start
        peak = peak_kib(server.pid) / 1024
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f'\n{n:,} tasks, {CLIENTS} clients x {requests} requests each')
    print(f'{"route":<18}{"p50 ms":>10}{"p99 ms":>10}{"p50 / health":>14}')
    for name, p50, p99, ratio in rows:
        print(f'{name:<18}{p50 * 1000:>10.2f}{p99 * 1000:>10.2f}{ratio:>13.2f}x')
    print(f'export of every task: {size / 1e6:.1f} MB in {export_s:.1f} s; server peak {peak:.0f} MiB')
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, nargs='+', default=[100_000, 1_000_000])
    ap.add_argument('--requests', type=int, default=300, help='requests per client per route')
    ap.add_argument('--lsdb', default=os.path.join(os.environ.get('CARGO_TARGET_DIR', os.path.join(ROOT, 'target')), 'release', 'lsdb'))
    args = ap.parse_args()
    work = os.path.join(HERE, 'data', 'serve')
    os.makedirs(work, exist_ok=True)
    with multiprocessing.Pool(CLIENTS) as pool:
        for n in args.tasks:
            run(os.path.abspath(args.lsdb), n, args.requests, work, pool)


if __name__ == '__main__':
    main()
