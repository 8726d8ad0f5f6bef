#!/usr/bin/env python3
"""lsdb benchmarks, compared in the same run with DuckDB's own readers on the same files.

    cargo build --release && python3 bench/bench.py [--tasks N] [--runs R] [--lsdb PATH]

Generates data under bench/data/ (deterministic), then times whole processes and records each
one's peak memory (max RSS, from wait4). Every import case runs R times (default 3) and
reports the median time and the highest peak. DuckDB's readers run through `lsdb sql`, i.e. the
same DuckDB build, on the same files.
"""
import argparse, json, os, random, shutil, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Neutral"/><Choice value="Negative"/>
  </Choices>
</View>
"""
LABELS = ['Positive', 'Neutral', 'Negative']
WORDS = ['great', 'awful', 'fine', 'meh']


def result(label, score):
    return {"from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": [label]}, "score": score}


def tasks(n, seed):
    """n tasks: two predictions each, a completion on every tenth."""
    rng = random.Random(seed)
    for i in range(n):
        preds = []
        for version in ('v1', 'v2'):
            s = round(rng.random(), 4)
            preds.append({"model_version": version, "score": s, "result": [result(rng.choice(LABELS), s)]})
        task = {"data": {"text": f"review {seed}-{i}: " + rng.choice(WORDS) * rng.randint(1, 8), "ref": i},
                "predictions": preds}
        if i % 10 == 0:
            task["completions"] = [{"result": [result(rng.choice(LABELS), None)], "lead_time": 3.5}]
        yield task


BOX_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Car"/><Label value="Person"/><Label value="Bike"/>
  </RectangleLabels>
</View>
"""


def box(rng, label):
    x, y = round(rng.uniform(0, 80), 4), round(rng.uniform(0, 80), 4)
    return {"from_name": "label", "to_name": "image", "type": "rectanglelabels",
            "original_width": 640, "original_height": 480,
            "value": {"x": x, "y": y, "width": round(rng.uniform(1, 20), 4),
                      "height": round(rng.uniform(1, 20), 4), "rotation": 0, "rectanglelabels": [label]}}


def write_boxes(path, n, seed=6):
    """n image tasks, each with one annotation of two boxes and a prediction of one."""
    rng = random.Random(seed)
    with open(path, 'w') as f:
        f.write('[\n')
        for i in range(n):
            task = {"data": {"image": f"http://img.example/photos/{i:08d}.jpg"},
                    "annotations": [{"completed_by": 1 + i % 5,
                                     "result": [box(rng, "Car"), box(rng, rng.choice(["Person", "Bike"]))]}],
                    "predictions": [{"model_version": "v1", "score": round(rng.random(), 4),
                                     "result": [box(rng, "Car")]}]}
            f.write(json.dumps(task))
            f.write(',\n' if i + 1 < n else '\n')
        f.write(']\n')


def write_json(path, n, seed=1):
    with open(path, 'w') as f:
        f.write('[\n')
        for i, task in enumerate(tasks(n, seed)):
            f.write(json.dumps(task))
            f.write(',\n' if i + 1 < n else '\n')
        f.write(']\n')


def write_jsonl(path, n, seed=3):
    with open(path, 'w') as f:
        for task in tasks(n, seed):
            f.write(json.dumps(task))
            f.write('\n')


def write_csv(path, n, seed=2):
    rng = random.Random(seed)
    with open(path, 'w') as f:
        f.write('text,label,ref\n')
        for i in range(n):
            f.write(f'"row {i}, {rng.choice(["good", "bad"])}",{rng.choice(LABELS)},{i:07d}\n')


def write_text(path, n, seed=4):
    rng = random.Random(seed)
    with open(path, 'w') as f:
        for i in range(n):
            f.write(f'line {i}: ' + rng.choice(WORDS) * rng.randint(1, 8) + '\n')


def write_tree(path, n):
    """n small image files in folders of 1,000."""
    tmp = path + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    for i in range(n):
        folder = os.path.join(tmp, f'batch_{i // 1000:04d}')
        if i % 1000 == 0:
            os.makedirs(folder)
        with open(os.path.join(folder, f'img_{i:07d}.jpg'), 'wb') as f:
            f.write(b'\xff\xd8\xff\xe0')
    os.rename(tmp, path)


def run(cmd):
    """Run a command; return (seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{err}')
    return seconds, usage.ru_maxrss / 1024


def measure(runs, cmd, before=None):
    """Median seconds and highest peak RSS over `runs` runs; `before` runs untimed first."""
    times, peak = [], 0
    for _ in range(runs):
        if before:
            before()
        s, rss = run(cmd)
        times.append(s)
        peak = max(peak, rss)
    return statistics.median(times), peak


def target_dir():
    """Where cargo builds (CARGO_TARGET_DIR, build.target-dir or ./target)."""
    meta = subprocess.run(['cargo', 'metadata', '--format-version', '1', '--no-deps'], cwd=ROOT,
                          capture_output=True, text=True)
    if meta.returncode == 0:
        return json.loads(meta.stdout)['target_directory']
    return os.environ.get('CARGO_TARGET_DIR', os.path.join(ROOT, 'target'))


def sql_text(path):
    """A path as an SQL string literal."""
    return "'" + path.replace("'", "''") + "'"


def three_tables(path, fmt):
    """lsdb's whole job done by DuckDB's own reader: tasks, predictions and completions."""
    return f"""
CREATE TEMP TABLE src AS SELECT row_number() OVER () AS id, *
  FROM read_json({sql_text(path)}, format='{fmt}', records=true,
                 columns={{data: 'JSON', predictions: 'JSON[]', completions: 'JSON[]'}});
CREATE TABLE d_tasks AS SELECT id, data FROM src;
CREATE TABLE d_predictions AS SELECT id AS task_id, unnest(predictions) AS prediction FROM src;
CREATE TABLE d_completions AS SELECT id AS task_id, unnest(completions) AS completion FROM src
  WHERE completions IS NOT NULL;
CHECKPOINT;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, default=1_000_000)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--lsdb', help='the lsdb binary (default: the release build cargo made)')
    ap.add_argument('--data', default=os.path.join(HERE, 'data'), help='where data and stores go')
    ap.add_argument('--only-imports', action='store_true', help='skip validation, sampling and export')
    ap.add_argument('--memory-check', action='store_true',
                    help='also import 4x the tasks as JSONL, and export 4x the box tasks to COCO and '
                         'YOLO, to compare peak memory with the 1x runs')
    ap.add_argument('--only-training', action='store_true',
                    help='only the training formats (COCO, YOLO against the JSON export and the converter)')
    ap.add_argument('--only-quality', action='store_true',
                    help='only label quality: lsdb quality and its views beside a DuckDB scan')
    ap.add_argument('--skip-training', action='store_true',
                    help='leave out the training formats (and the converter\'s runs) after the exports')
    ap.add_argument('--only-read', action='store_true',
                    help='only the read side (issue 27): stats, validate, every sampling strategy and '
                         'review queue, beside `sample --strategy sequential` and a DuckDB scan')
    ap.add_argument('--read-scale', type=int, default=1,
                    help='with --only-read: the store holds the --tasks tasks this many times over '
                         '(copies made by SQL, ids shifted): --tasks 1000000 --read-scale 10 is the '
                         '10M run; it needs ~0.4 GB of disk per 1M tasks beside the data')
    ap.add_argument('--sdk-python', default=os.path.expanduser('~/.cache/lsdb/sdk-venv/bin/python'),
                    help="a python with label-studio-sdk, for the converter's time (.ci/run installs one)")
    ap.add_argument('--converter-cap', type=float, default=600,
                    help='stop the converter after this many seconds and report a lower bound')
    ap.add_argument('--out', help='where the training exports are written (default: --data); a '
                    'tmpfs such as /dev/shm keeps 1M label files from measuring the disk\'s inode '
                    'allocator (needs ~5 GB and 2M free inodes there)')
    args = ap.parse_args()
    lsdb = args.lsdb or os.path.join(target_dir(), 'release', 'lsdb')
    if not os.path.exists(lsdb):
        sys.exit(f'no lsdb at {lsdb}: run `cargo build --release` first (or pass --lsdb)')
    data = args.data
    os.makedirs(data, exist_ok=True)
    n, small, runs = args.tasks, max(args.tasks // 10, 1), args.runs
    if args.only_training:
        rows = training(lsdb, data, n, args)
        table(rows, data, runs)
        return
    if args.only_quality:
        rows = quality(lsdb, data, n, args)
        table(rows, data, runs)
        return
    if args.only_read:
        rows = read_side(lsdb, data, n, args)
        table(rows, data, runs)
        return
    files = {'json': (f'tasks_{n}.json', write_json, n), 'json_small': (f'tasks_{small}.json', write_json, small),
             'jsonl': (f'tasks_{n}.jsonl', write_jsonl, n), 'csv': (f'rows_{n}.csv', write_csv, n),
             'text': (f'lines_{n}.txt', write_text, n), 'tree': (f'images_{small}', write_tree, small)}
    paths = {}
    for key, (name, writer, count) in files.items():
        path = paths[key] = os.path.join(data, name)
        if not os.path.exists(path):
            print(f'generating {path}', flush=True)
            writer(path, count)
    config = os.path.join(data, 'config.xml')
    with open(config, 'w') as f:
        f.write(CONFIG)
    mib = lambda p: os.path.getsize(p) / 2**20
    rows = []

    def report(name, seconds, rss, size=None, count=None, versus=None, versus_name='DuckDB'):
        line = {'benchmark': name, 'seconds': round(seconds, 2), 'peak_rss_mib': round(rss)}
        if size:
            line['MiB/s'] = round(size / seconds, 1)
        if count:
            line['rows/s'] = round(count / seconds)
        if versus:
            line['ratio'] = f'{seconds / versus:.2f}x {versus_name}'
        rows.append(line)
        print(json.dumps(line), flush=True)

    def project(name, with_config=False):
        path = os.path.join(data, name)
        def make():
            shutil.rmtree(path, ignore_errors=True)
            run([lsdb, 'init', path] + (['--label-config', config] if with_config else []))
        return path, make

    duck, fresh_duck = project('p_duckdb')
    p, fresh_p = project('p_lsdb', with_config=True)

    def duckdb_case(label, sql, count, size=None, where=(duck, fresh_duck)):
        s, rss = measure(runs, [lsdb, '-p', where[0], 'sql', sql], where[1])
        report(label, s, rss, size, count)
        return s

    # JSON and JSONL: lsdb against DuckDB doing the same job (three tables) and reading one table.
    for key, fmt, count in (('json_small', 'array', small), ('json', 'array', n), ('jsonl', 'newline_delimited', n)):
        path, kind = paths[key], 'jsonl' if fmt == 'newline_delimited' else 'json'
        what = f'{count} tasks ({mib(path):.0f} MiB)'
        one = duckdb_case(f'duckdb read_json one table, {kind} {what}',
                          f"CREATE TABLE t AS SELECT * FROM read_json({sql_text(path)}, format='{fmt}')", count, mib(path))
        three = duckdb_case(f'duckdb read_json three tables, {kind} {what}', three_tables(path, fmt), count, mib(path))
        if key == 'json':
            # lsdb writes its strings with ZSTD; the same script told to do so too.
            zstd = duckdb_case(f'duckdb read_json three tables, ZSTD strings, {kind} {what}',
                               "SET force_compression = 'zstd';" + three_tables(path, fmt), count, mib(path))
        s, rss = measure(runs, [lsdb, '-p', p, 'import', path], fresh_p)
        report(f'lsdb import {kind} {what}', s, rss, mib(path), count, three, 'three tables')
        if key == 'json':
            json_import = s
            rows[-1]['ratio'] += f', {s / zstd:.2f}x three tables with ZSTD'
        rows[-1]['ratio'] += f', {s / one:.2f}x one table'

    # A second 1M import into the store the first one filled (other tasks, the JSONL file's).
    full = os.path.join(data, 'p_full')
    shutil.rmtree(full, ignore_errors=True)
    run([lsdb, 'init', full, '--label-config', config])
    run([lsdb, '-p', full, 'import', paths['json']])
    second = os.path.join(data, 'p_second')
    def copy_full():
        shutil.rmtree(second, ignore_errors=True)
        shutil.copytree(full, second)
    first, _ = measure(runs, [lsdb, '-p', p, 'import', paths['jsonl']], fresh_p)
    s, rss = measure(runs, [lsdb, '-p', second, 'import', paths['jsonl']], copy_full)
    report(f'lsdb import jsonl {n} tasks into a store of {n}', s, rss, mib(paths['jsonl']), n, first, 'the first import')

    if args.memory_check:
        big = os.path.join(data, f'tasks_{4 * n}.jsonl')
        if not os.path.exists(big):
            print(f'generating {big}', flush=True)
            write_jsonl(big, 4 * n, seed=5)
        s, rss = measure(1, [lsdb, '-p', p, 'import', big], fresh_p)
        report(f'lsdb import jsonl {4 * n} tasks ({mib(big):.0f} MiB), memory check', s, rss, mib(big), 4 * n)

    # CSV and text: against read_csv into one table, and read_csv doing lsdb's job (the
    # rows of `tasks`: data as a JSON object, source as path:line, ZSTD strings).
    csv_sql = f"read_csv({sql_text(paths['csv'])}, all_varchar=true)"
    text_sql = (f"read_csv({sql_text(paths['text'])}, header=false, delim='\\t', quote='', escape='', "
                "columns={'text': 'VARCHAR'})")
    for key, label, source, data_sql, first_line in (
            ('csv', 'csv', csv_sql, "json_object('text', text, 'label', label, 'ref', ref)", 2),
            ('text', 'text', text_sql, "json_object('text', text)", 1)):
        path = paths[key]
        what = f'{n} rows ({mib(path):.0f} MiB)'
        d = duckdb_case(f'duckdb read_csv one table, {label} {what}', f'CREATE TABLE t AS SELECT * FROM {source}',
                        n, mib(path))
        # Kept after the run beside lsdb's p_{key}: both hold the same rows.
        job = duckdb_case(f'duckdb read_csv into tasks, {label} {what}',
                          f"SET force_compression = 'zstd'; INSERT INTO tasks (id, data, import_id, source) "
                          f"SELECT n, {data_sql}, 1, {sql_text(path + ':')} || (n + {first_line - 1}) "
                          f"FROM (SELECT row_number() OVER () AS n, * FROM {source})", n, mib(path),
                          project(f'p_duckdb_{key}'))
        pc, fresh_pc = project(f'p_{key}')
        s, rss = measure(runs, [lsdb, '-p', pc, 'import', path], fresh_pc)
        report(f'lsdb import {label} {what}', s, rss, mib(path), n, d, 'read_csv')
        rows[-1]['ratio'] += f', {s / job:.2f}x read_csv into tasks'

    # A folder of images: against a plain recursive walk that only lists the files.
    tree = paths['tree']
    w, w_rss = measure(runs, ['find', tree, '-type', 'f'])
    report(f'find: walk {small} files', w, w_rss, count=small)
    g, g_rss = measure(runs, [lsdb, '-p', duck, 'sql', f"SELECT count(*) FROM glob({sql_text(tree + '/**')})"])
    report(f'duckdb glob: count {small} files', g, g_rss, count=small)
    pt, fresh_pt = project('p_images')
    s, rss = measure(runs, [lsdb, '-p', pt, 'import', tree, '--format', 'image-dir'], fresh_pt)
    report(f'lsdb import image-dir, {small} files', s, rss, count=small, versus=w, versus_name='find')
    rows[-1]['ratio'] += f', {s / g:.2f}x duckdb glob'


    if not args.only_imports:
        # p holds a JSONL import now; put the big JSON back for the rest.
        fresh_p()
        run([lsdb, '-p', p, 'import', paths['json']])
        s, rss = run([lsdb, '-p', p, 'sql', 'SELECT code, count(*) FROM validation_errors GROUP BY code'])
        report(f'validate {n} tasks, {2 * n} predictions (one query)', s, rss, count=n)
        s, rss = run([lsdb, '-p', p, 'sql', 'SELECT count(*) FROM tasks'])
        report('baseline: open store and count tasks', s, rss)
        s, rss = run([lsdb, '-p', p, 'sample', '--strategy', 'uncertainty', '--limit', '10'])
        report(f'sample uncertainty over {n} tasks', s, rss, count=n)
        out = os.path.join(data, 'sample.json')
        s, rss = run([lsdb, '-p', p, 'export', '--sample', 'prediction-score-min', '--limit', '10000', '-o', out])
        report(f'export {n} tasks sampled to 10000', s, rss, count=10000)
        for limit in (small, n):
            out = os.path.join(data, f'export_{limit}.json')
            s, rss = run([lsdb, '-p', p, 'export', '--limit', str(limit), '-o', out])
            d_s, d_rss = run([lsdb, '-p', p, 'sql', f"COPY (SELECT * FROM tasks ORDER BY id LIMIT {limit}) TO {sql_text(out + '.duckdb.json')} (FORMAT json)"])
            report(f'duckdb COPY tasks TO json, {limit} tasks', d_s, d_rss, count=limit)
            report(f'lsdb export json, {limit} tasks', s, rss, mib(out), limit, d_s, 'COPY')
        # The export is a Label Studio export of the same tasks, with ids on every task,
        # annotation and prediction: importing it back costs what the tasks without ids did.
        pe, fresh_pe = project('p_export', with_config=True)
        s, rss = measure(runs, [lsdb, '-p', pe, 'import', out], fresh_pe)
        report(f'lsdb import the export of {n} tasks (ids given)', s, rss, mib(out), n, json_import,
               'the tasks without ids')
        plain_export_import = s
        # --merge of the same export into the store it came from (every task matched).
        merged = os.path.join(data, 'p_merge')
        def copy_p():
            shutil.rmtree(merged, ignore_errors=True)
            shutil.copytree(p, merged)
        s, rss = measure(runs, [lsdb, '-p', merged, 'import', out, '--merge'], copy_p)
        report(f'lsdb import --merge of the export of {n} tasks into their store', s, rss, mib(out), n,
               plain_export_import, 'a plain import of it')
        # The other export formats beside the JSON export, and query output beside DuckDB's COPY.
        json_export = [r for r in rows if r['benchmark'] == f'lsdb export json, {n} tasks'][0]['seconds']
        for fmt, ext in (('json-min', 'json'), ('csv', 'csv')):
            target = os.path.join(data, f'export_{n}_{fmt}.{ext}')
            s, rss = run([lsdb, '-p', p, 'export', '--format', fmt, '-o', target])
            report(f'lsdb export {fmt}, {n} tasks', s, rss, mib(target), n, json_export, 'the json export')
        query = 'SELECT * FROM predictions'
        target = os.path.join(data, 'predictions.csv')
        d_s, d_rss = run([lsdb, '-p', p, 'sql', f"COPY ({query}) TO {sql_text(target + '.duckdb.csv')} (HEADER)"])
        report(f'duckdb COPY ({query}) TO csv', d_s, d_rss, count=2 * n)
        start = time.perf_counter()
        with open(target, 'wb') as f:
            proc = subprocess.Popen([lsdb, '-p', p, 'sql', '--format', 'csv', query], stdout=f,
                                    stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
        s = time.perf_counter() - start
        report(f'lsdb sql --format csv "{query}"', s, usage.ru_maxrss / 1024, mib(target), 2 * n, d_s, 'COPY')

    if not args.only_imports and not args.skip_training:
        rows += training(lsdb, data, n, args)
    table(rows, data, runs)


def kept_store(lsdb, data, name, config, data_file, write, n, then=None):
    """The store `data/name` made from `data_file` (written by `write(path, n)` when missing)
    under `config`, kept between runs; `then(store)` runs once after it is made."""
    path = os.path.join(data, data_file)
    if not os.path.exists(path):
        print(f'generating {path}', flush=True)
        write(path, n)
    store = os.path.join(data, name)
    if not os.path.exists(os.path.join(store, 'lsdb.duckdb')):
        shutil.rmtree(store, ignore_errors=True)
        run([lsdb, 'init', store, '--label-config', config, '--input-path', path])
        if then:
            then(store)
    return store


# The bench config less one label: the predictions' "Negative" fail validation (unknown_label).
NARROW_CONFIG = CONFIG.replace('<Choice value="Negative"/>', '')


def read_side(lsdb, data, n, args):
    """Issue 27's read-side rows: every command's time and peak beside the floor (`sample
    --strategy sequential`) and, for validation, a DuckDB scan of every result item."""
    narrow = os.path.join(data, 'narrow.xml')
    with open(narrow, 'w') as f:
        f.write(NARROW_CONFIG)
    scale = args.read_scale

    def replicate(store):
        # Copies of every task, prediction and completion with ids shifted past the first.
        if scale > 1:
            run([lsdb, '-p', store, 'sql',
                 f"INSERT INTO tasks (id, data, meta, extra, import_id, source) SELECT id + k * {n}, data, meta, "
                 f"extra, import_id, source FROM tasks, range(1, {scale}) AS r(k); "
                 f"INSERT INTO predictions SELECT id + k * (SELECT max(id) FROM predictions), task_id + k * {n}, "
                 f"model_version, score, result, fields, import_id FROM predictions, range(1, {scale}) AS r(k); "
                 f"INSERT INTO completions SELECT id + k * (SELECT max(id) FROM completions), task_id + k * {n}, "
                 f"result, was_cancelled, lead_time, created_at, fields, import_id FROM completions, "
                 f"range(1, {scale}) AS r(k); CHECKPOINT;"])
    store = kept_store(lsdb, data, f'p_read_{n}x{scale}', narrow, f'tasks_{n}.json', write_json, n, replicate)
    total = n * scale
    rows = []

    def report(name, seconds, rss, versus=None, versus_name=''):
        line = {'benchmark': name, 'seconds': round(seconds, 2), 'peak_rss_mib': round(rss)}
        if versus:
            line['ratio'] = f'{seconds / versus:.2f}x {versus_name}'
        rows.append(line)
        print(json.dumps(line), flush=True)

    def lsdb_case(*cmd):
        return measure(args.runs, [lsdb, '-p', store, *cmd])

    floor, rss = lsdb_case('sample', '--strategy', 'sequential', '--limit', '10')
    report(f'sample --strategy sequential, {total} tasks (the floor)', floor, rss)
    for strategy in ('uniform', 'uncertainty', 'prediction-score-min', 'prediction-score-max', 'margin',
                     'entropy', 'disagreement', 'low-agreement', 'label-issues'):
        s, rss = lsdb_case('sample', '--strategy', strategy, '--limit', '10')
        report(f'sample --strategy {strategy}', s, rss, floor, 'sequential')
    s, rss = lsdb_case('stats', '--format', 'csv')
    report(f'stats, {total} tasks', s, rss, floor, 'sequential')
    scan, scan_rss = lsdb_case('sql', 'SELECT count(*) FROM (SELECT unnest(CAST(result AS JSON[])) FROM predictions '
                                      'UNION ALL SELECT unnest(CAST(result AS JSON[])) FROM completions)')
    report('duckdb: unnest every result item (scan)', scan, scan_rss)
    s, rss = lsdb_case('sql', 'SELECT code, count(*) FROM validation_errors GROUP BY code')
    report('validation_errors by code', s, rss, scan, 'the scan')
    out = os.path.join(data, 'read_sample.json')
    s, rss = lsdb_case('export', '--sample', 'uncertainty', '--limit', '10000', '-o', out)
    report('export --sample uncertainty --limit 10000', s, rss, floor, 'sequential')
    return rows


def table(rows, data, runs):
    with open(os.path.join(data, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    print(f'\n{runs} runs per import case (median seconds, highest peak RSS)\n')
    print('| benchmark | seconds | MiB/s | rows/s | peak RSS MiB | ratio |')
    print('|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['benchmark']} | {r['seconds']} | {r.get('MiB/s', '')} | {r.get('rows/s', '')} | {r['peak_rss_mib']} | {r.get('ratio', '')} |")


CONVERT = """
import sys
from label_studio_sdk.converter import Converter
from label_studio_sdk.converter.converter import Format
config, tasks, out, fmt = sys.argv[1:]
Converter(config=open(config).read(), project_dir=".", download_resources=False).convert(
    tasks, out, Format[fmt], is_dir=False)
"""


FLOOR = """
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d + '/labels')
line = b'0 0.5 0.5 0.1 0.1\\n1 0.2 0.2 0.1 0.1\\n'
for i in range(n):
    fd = os.open(f'{d}/labels/{i:08x}__{i:08d}.txt', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, line)
    os.close(fd)
"""


QUALITY_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image">
    <Choice value="cat"/><Choice value="dog"/><Choice value="bird"/><Choice value="fish"/>
  </Choices>
</View>
"""


def write_quality(path, n, seed=25):
    """n image tasks, each with two completions by two of 20 annotators (a single choice of 4
    classes, agreeing 70% of the time) and one prediction with per-label value.scores."""
    rng = random.Random(seed)
    classes = ['cat', 'dog', 'bird', 'fish']
    with open(path, 'w') as f:
        for i in range(n):
            truth = rng.randrange(4)
            a, b = rng.sample(range(1, 21), 2)
            completions = []
            for who in (a, b):
                label = truth if rng.random() < 0.83 else rng.randrange(4)
                completions.append({"completed_by": who, "lead_time": 2.5, "result": [
                    {"from_name": "label", "to_name": "image", "type": "choices",
                     "value": {"choices": [classes[label]]}}]})
            weights = [rng.random() + (2.0 if k == truth else 0.0) for k in range(4)]
            total = sum(weights)
            scores = {classes[k]: round(weights[k] / total, 4) for k in range(4)}
            top = max(scores, key=scores.get)
            task = {"data": {"image": f"https://example.com/img/{i}.jpg"}, "completions": completions,
                    "predictions": [{"model_version": "v1", "score": scores[top], "result": [
                        {"from_name": "label", "to_name": "image", "type": "choices",
                         "value": {"choices": [top], "scores": scores}}]}]}
            f.write(json.dumps(task) + "\n")


QUALITY_VIEWS = ['task_agreement', 'annotator_agreement', 'control_agreement', 'label_issues',
                 'prediction_accuracy']


def quality(lsdb, data, n, args):
    """`lsdb quality` and each quality view beside a plain DuckDB scan of every completion's
    result (each result parsed and its items read), on n tasks with two annotations each."""
    rows = []
    config = os.path.join(data, 'quality.xml')
    with open(config, 'w') as f:
        f.write(QUALITY_CONFIG)
    store = kept_store(lsdb, data, f'p_quality_{n}', config, f'quality_{n}.jsonl', write_quality, n)
    scan = ("SELECT count(*), count(DISTINCT item ->> 'from_name') FROM "
            "(SELECT unnest(CAST(result AS JSON[])) AS item FROM completions)")
    base_s, base_rss = measure(args.runs, [lsdb, '-p', store, 'sql', scan])
    rows.append({'benchmark': f'DuckDB scan of every completion result, {2 * n} completions',
                 'seconds': round(base_s, 2), 'peak_rss_mib': round(base_rss)})
    print(json.dumps(rows[-1]), flush=True)
    cases = [('lsdb quality', [lsdb, '-p', store, 'quality'])]
    for view in QUALITY_VIEWS:
        cases.append((f'view {view}', [lsdb, '-p', store, 'sql',
                                       f'SELECT count(*), sum(hash(v)) FROM {view} AS v']))
    for strategy in ('low-agreement', 'label-issues'):
        cases.append((f'sample --strategy {strategy}',
                      [lsdb, '-p', store, 'sample', '--strategy', strategy, '--limit', '100']))
    for name, cmd in cases:
        s, rss = measure(args.runs, cmd)
        rows.append({'benchmark': f'{name}, {n} tasks', 'seconds': round(s, 2), 'peak_rss_mib': round(rss),
                     'ratio': f'{s / base_s:.2f}x the scan'})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def training(lsdb, data, n, args):
    """Box tasks to COCO and YOLO: lsdb beside its own JSON export of the same tasks, beside
    label-studio-sdk's converter on that export (stopped at --converter-cap seconds), and YOLO
    beside the bare cost of creating one small file per image in the same place."""
    rows = []
    out_root = args.out or data
    os.makedirs(out_root, exist_ok=True)
    config = os.path.join(data, 'boxes.xml')
    with open(config, 'w') as f:
        f.write(BOX_CONFIG)
    sizes = [n] + ([4 * n] if args.memory_check else [])
    for count in sizes:
        store = kept_store(lsdb, data, f'p_boxes_{count}', config, f'boxes_{count}.json', write_boxes, count)
        exported = os.path.join(out_root, f'boxes_{count}_export.json')

        def clear(*paths):
            def go():
                for p in paths:
                    if os.path.isdir(p):
                        shutil.rmtree(p)
                    elif os.path.exists(p):
                        os.remove(p)
            return go
        s, rss = measure(args.runs, [lsdb, '-p', store, 'export', '-o', exported], clear(exported))
        line = {'benchmark': f'lsdb export json, {count} box tasks', 'seconds': round(s, 2),
                'peak_rss_mib': round(rss)}
        rows.append(line)
        print(json.dumps(line), flush=True)
        json_s = s
        for fmt, name in (('coco', 'COCO'), ('yolo', 'YOLO')):
            out = os.path.join(out_root, f'boxes_{count}_{fmt}')
            s, rss = measure(args.runs, [lsdb, '-p', store, 'export', '--format', fmt, '-o', out], clear(out))
            clear(out)()
            line = {'benchmark': f'lsdb export {fmt}, {count} box tasks', 'seconds': round(s, 2),
                    'peak_rss_mib': round(rss), 'ratio': f'{s / json_s:.2f}x the json export'}
            if fmt == 'yolo':
                floor = os.path.join(out_root, f'boxes_{count}_floor')
                f_s, f_rss = measure(args.runs, [sys.executable, '-c', FLOOR, floor, str(count)], clear(floor))
                clear(floor)()
                rows.append({'benchmark': f'create {count} small files (python os.open/write/close)',
                             'seconds': round(f_s, 2), 'peak_rss_mib': round(f_rss)})
                print(json.dumps(rows[-1]), flush=True)
                line['ratio'] += f', {s / f_s:.2f}x creating its files'
            rows.append(line)
            print(json.dumps(line), flush=True)
            if count != n or not os.path.exists(args.sdk_python):
                continue
            theirs = os.path.join(out_root, f'boxes_{count}_{fmt}_converter')
            clear(theirs)()
            start = time.perf_counter()
            proc = subprocess.Popen([args.sdk_python, '-c', CONVERT, config, exported, theirs, name],
                                    cwd=out_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            bound, c_rss = '', 0
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    c_rss = usage.ru_maxrss / 1024
                    break
                if time.perf_counter() - start > args.converter_cap:
                    proc.kill()
                    _, _, usage = os.wait4(proc.pid, 0)
                    bound, c_rss = '>= ', usage.ru_maxrss / 1024
                    break
                time.sleep(0.2)
            c_s = time.perf_counter() - start
            line['ratio'] += f', the converter {bound}{c_s / s:.1f}x'
            conv = {'benchmark': f'label-studio-sdk 2.1.2 converter {fmt}, {count} box tasks'
                                 + (f' (stopped at {args.converter_cap:.0f} s)' if bound else ''),
                    'seconds': f'{bound}{c_s:.1f}', 'peak_rss_mib': round(c_rss)}
            rows.append(conv)
            print(json.dumps(conv), flush=True)
            clear(theirs)()
    return rows


if __name__ == '__main__':
    main()
