#!/usr/bin/env python3
"""lsdb benchmarks, compared in the same run with DuckDB's own readers on the same files.

    cargo build --release && python3 bench/bench.py [--tasks N] [--lsdb PATH]

Generates data under bench/data/ (deterministic), then times whole lsdb processes and records
each one's peak memory (max RSS, from wait4). DuckDB's readers run through `lsdb sql`, i.e.
the same DuckDB build, on the same files.
"""
import argparse, json, os, random, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, 'data')

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Neutral"/><Choice value="Negative"/>
  </Choices>
</View>
"""
LABELS = ['Positive', 'Neutral', 'Negative']


def result(label, score):
    return {"from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": [label]}, "score": score}


def write_tasks(path, n, seed=1):
    rng = random.Random(seed)
    with open(path, 'w') as f:
        f.write('[\n')
        for i in range(n):
            preds = []
            for version in ('v1', 'v2'):
                s = round(rng.random(), 4)
                preds.append({"model_version": version, "score": s, "result": [result(rng.choice(LABELS), s)]})
            task = {"data": {"text": f"review number {i}: " + rng.choice(['great', 'awful', 'fine', 'meh']) * rng.randint(1, 8),
                             "ref": i},
                    "predictions": preds}
            if i % 10 == 0:
                task["completions"] = [{"result": [result(rng.choice(LABELS), None)], "lead_time": 3.5}]
            f.write(json.dumps(task))
            f.write(',\n' if i + 1 < n else '\n')
        f.write(']\n')


def write_csv(path, n, seed=2):
    rng = random.Random(seed)
    with open(path, 'w') as f:
        f.write('text,label,ref\n')
        for i in range(n):
            f.write(f'"row {i}, {rng.choice(["good", "bad"])}",{rng.choice(LABELS)},{i:07d}\n')


def run(cmd, quiet=True):
    """Run a command; return (seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{err}')
    return seconds, usage.ru_maxrss / 1024


def target_dir():
    """Where cargo builds (CARGO_TARGET_DIR, build.target-dir or ./target)."""
    meta = subprocess.run(['cargo', 'metadata', '--format-version', '1', '--no-deps'], cwd=ROOT,
                          capture_output=True, text=True)
    if meta.returncode == 0:
        return json.loads(meta.stdout)['target_directory']
    return os.environ.get('CARGO_TARGET_DIR', os.path.join(ROOT, 'target'))


def fresh(project):
    shutil.rmtree(project, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, default=1_000_000)
    ap.add_argument('--lsdb', help='the lsdb binary (default: the release build cargo made)')
    args = ap.parse_args()
    lsdb = args.lsdb or os.path.join(target_dir(), 'release', 'lsdb')
    if not os.path.exists(lsdb):
        sys.exit(f'no lsdb at {lsdb}: run `cargo build --release` first (or pass --lsdb)')
    os.makedirs(DATA, exist_ok=True)
    n, small = args.tasks, max(args.tasks // 10, 1)
    files = {'big': os.path.join(DATA, f'tasks_{n}.json'), 'small': os.path.join(DATA, f'tasks_{small}.json'),
             'csv': os.path.join(DATA, f'rows_{n}.csv')}
    for key, path in files.items():
        if not os.path.exists(path):
            print(f'generating {path}', flush=True)
            if key == 'csv':
                write_csv(path, n)
            else:
                write_tasks(path, n if key == 'big' else small)
    config = os.path.join(DATA, 'config.xml')
    with open(config, 'w') as f:
        f.write(CONFIG)
    mib = lambda p: os.path.getsize(p) / 2**20
    rows = []

    def report(name, seconds, rss, size=None, count=None, versus=None):
        line = {'benchmark': name, 'seconds': round(seconds, 2), 'peak_rss_mib': round(rss)}
        if size:
            line['MiB/s'] = round(size / seconds, 1)
        if count:
            line['rows/s'] = round(count / seconds)
        if versus:
            line['vs DuckDB'] = f'{seconds / versus:.2f}x time'
        rows.append(line)
        print(json.dumps(line), flush=True)

    p = os.path.join(DATA, 'p_lsdb')
    duck = os.path.join(DATA, 'p_duckdb')

    # JSON import: lsdb vs read_json on the same file.
    for key, count in (('small', small), ('big', n)):
        path = files[key]
        fresh(duck); run([lsdb, 'init', duck])
        d_s, d_rss = run([lsdb, '-p', duck, 'sql', f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format='array')"])
        report(f'duckdb read_json {count} tasks ({mib(path):.0f} MiB)', d_s, d_rss, mib(path), count)
        fresh(p); run([lsdb, 'init', p, '--label-config', config])
        s, rss = run([lsdb, '-p', p, 'import', path])
        report(f'lsdb import json {count} tasks ({mib(path):.0f} MiB)', s, rss, mib(path), count, d_s)

    # CSV import: lsdb vs read_csv.
    path = files['csv']
    fresh(duck); run([lsdb, 'init', duck])
    d_s, d_rss = run([lsdb, '-p', duck, 'sql', f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar=true)"])
    report(f'duckdb read_csv {n} rows ({mib(path):.0f} MiB)', d_s, d_rss, mib(path), n)
    pc = os.path.join(DATA, 'p_csv')
    fresh(pc); run([lsdb, 'init', pc])
    s, rss = run([lsdb, '-p', pc, 'import', path])
    report(f'lsdb import csv {n} rows ({mib(path):.0f} MiB)', s, rss, mib(path), n, d_s)

    # Validation of every task and prediction as one query (p holds the big import).
    s, rss = run([lsdb, '-p', p, 'sql', 'SELECT code, count(*) FROM validation_errors GROUP BY code'])
    report(f'validate {n} tasks, {2 * n} predictions (one query)', s, rss, count=n)
    s, rss = run([lsdb, '-p', p, 'sql', 'SELECT count(*) FROM tasks'])
    report('baseline: open store and count tasks', s, rss)

    # Sampling and export.
    s, rss = run([lsdb, '-p', p, 'sample', '--strategy', 'uncertainty', '--limit', '10'])
    report(f'sample uncertainty over {n} tasks', s, rss, count=n)
    out = os.path.join(DATA, 'sample.json')
    s, rss = run([lsdb, '-p', p, 'export', '--sample', 'prediction-score-min', '--limit', '10000', '-o', out])
    report(f'export {n} tasks sampled to 10000', s, rss, count=10000)
    for limit in (small, n):
        out = os.path.join(DATA, f'export_{limit}.json')
        s, rss = run([lsdb, '-p', p, 'export', '--limit', str(limit), '-o', out])
        d_s, d_rss = run([lsdb, '-p', p, 'sql', f"COPY (SELECT * FROM tasks ORDER BY id LIMIT {limit}) TO '{out}.duckdb.json' (FORMAT json)"])
        report(f'duckdb COPY tasks TO json, {limit} tasks', d_s, d_rss, count=limit)
        report(f'lsdb export json, {limit} tasks', s, rss, mib(out), limit, d_s)

    with open(os.path.join(DATA, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    print('\n| benchmark | seconds | MiB/s | rows/s | peak RSS MiB | vs DuckDB |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['benchmark']} | {r['seconds']} | {r.get('MiB/s', '')} | {r.get('rows/s', '')} | {r['peak_rss_mib']} | {r.get('vs DuckDB', '')} |")


if __name__ == '__main__':
    main()
