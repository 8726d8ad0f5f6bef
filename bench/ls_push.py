#!/usr/bin/env python3
"""`lsdb push` and `lsdb pull` at 100,000 tasks against a local Label Studio (bench/ls_push.sh
starts it), beside Label Studio's own import of the same tasks:

    python3 bench/ls_push.py --lsdb BIN --ls-url URL --token T --work DIR [--tasks N]

Rows: Label Studio importing the task file itself (one request, as an upload); lsdb push of
the same tasks into a new project (wall time, and lsdb's own CPU time and peak memory, from
wait4: the rest of the wall time is Label Studio's); lsdb pull of N annotations (a project
holding the tasks with an annotation each, as a push with annotations would leave it),
through Label Studio's export API; that API's request alone; pull through the paged task
list (--paged).
"""
import argparse
import json
import os
import random
import subprocess
import time

from ls_api import Api

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Neutral"/><Choice value="Negative"/>
  </Choices>
</View>"""
LABELS = ['Positive', 'Neutral', 'Negative']


def choice(label):
    return {'from_name': 'sentiment', 'to_name': 'text', 'type': 'choices', 'value': {'choices': [label]}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lsdb', required=True)
    ap.add_argument('--ls-url', required=True)
    ap.add_argument('--token', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--tasks', type=int, default=100_000)
    args = ap.parse_args()
    n, work = args.tasks, args.work
    api = Api(args.ls_url, args.token, timeout=3600)
    rng = random.Random(26)
    tasks = []
    for i in range(n):
        s = round(rng.random(), 4)
        tasks.append({'data': {'text': f'review {i}: ' + rng.choice(['great', 'awful', 'fine']) * rng.randint(1, 5)},
                      'predictions': [{'model_version': 'v1', 'score': s, 'result': [choice(rng.choice(LABELS))]}]})
    path = os.path.join(work, 'tasks.json')
    with open(path, 'w') as f:
        json.dump(tasks, f)
    with open(os.path.join(work, 'config.xml'), 'w') as f:
        f.write(CONFIG)
    store = os.path.join(work, 'proj')
    subprocess.run([args.lsdb, 'init', store, '-l', os.path.join(work, 'config.xml'), '--input-path', path],
                   check=True, capture_output=True)
    rows = []

    def report(name, seconds, cpu=None, rss=None, note=''):
        row = {'benchmark': name, 'seconds': round(seconds, 1)}
        if cpu is not None:
            row['lsdb_cpu_seconds'] = round(cpu, 1)
        if rss is not None:
            row['peak_rss_mib'] = round(rss)
        if note:
            row['note'] = note
        rows.append(row)
        print(json.dumps(row), flush=True)

    # Label Studio importing the file itself.
    project = api.call('POST', '/api/projects/', {'title': 'baseline', 'label_config': CONFIG})['id']
    with open(path, 'rb') as f:
        body = f.read()
    start = time.perf_counter()
    got = api.call('POST', f'/api/projects/{project}/import', data=body)
    ls_s = time.perf_counter() - start
    report(f'Label Studio imports {n} tasks with predictions (one request)', ls_s,
           note=f"{got['task_count']} tasks, {n / ls_s:.0f} tasks/s")

    # lsdb push of the same tasks, into a new project: wait4 gives lsdb's own CPU and memory.
    start = time.perf_counter()
    proc = subprocess.Popen([args.lsdb, '-p', store, 'push', args.ls_url, '--token', args.token,
                             '--title', 'pushed'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    cpu = usage.ru_utime + usage.ru_stime
    report(f'lsdb push {n} tasks with predictions', wall, cpu, usage.ru_maxrss / 1024,
           note=f'{out.strip()}; lsdb CPU {cpu / wall:.0%} of the wall time, Label Studio the rest; '
                f'{wall / ls_s:.2f}x Label Studio importing the file')

    # lsdb pull of n annotations: a project holding the store's tasks with an annotation
    # each and lsdb's marks (as a push whose links were lost would leave it).
    store_id = json.loads(subprocess.run([args.lsdb, '-p', store, 'sql', '--format', 'json',
                                          "SELECT value FROM lsdb_meta WHERE key = 'store_id'"],
                                         capture_output=True, text=True).stdout)[0]['value']
    ids = [r['id'] for r in json.loads(subprocess.run([args.lsdb, '-p', store, 'sql', '--format', 'json',
                                                       'SELECT id FROM tasks ORDER BY id'],
                                                      capture_output=True, text=True).stdout)]
    annotated = [{'data': t['data'], 'meta': {'lsdb_task_id': i, 'lsdb_store': store_id},
                  'annotations': [{'result': [choice(rng.choice(LABELS))], 'lead_time': 2.0}]}
                 for t, i in zip(tasks, ids)]
    target = api.call('POST', '/api/projects/', {'title': 'annotated', 'label_config': CONFIG})['id']
    api.call('POST', f'/api/projects/{target}/import', data=json.dumps(annotated).encode())
    start = time.perf_counter()
    proc = subprocess.Popen([args.lsdb, '-p', store, 'pull', args.ls_url, '--token', args.token,
                             '--ls-project', str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    cpu = usage.ru_utime + usage.ru_stime
    report(f'lsdb pull {n} annotations', wall, cpu, usage.ru_maxrss / 1024,
           note=f'{out.strip()}; lsdb CPU {cpu / wall:.0%} of the wall time')

    # Pull reads Label Studio's export API; the same request alone (Python), and pull
    # through the paged task list (`--paged`; the same project again, so all unchanged:
    # reading is the whole cost).
    start = time.perf_counter()
    body = api.call('GET', f'/api/projects/{target}/export?exportType=JSON&download_all_tasks=true', raw=True)
    wall = time.perf_counter() - start
    report(f'Label Studio export API of the {n}-annotation project alone (one request)', wall,
           note=f'{len(body) / 2**20:.0f} MiB JSON')
    del body
    start = time.perf_counter()
    proc = subprocess.Popen([args.lsdb, '-p', store, 'pull', args.ls_url, '--token', args.token,
                             '--ls-project', str(target), '--paged'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    cpu = usage.ru_utime + usage.ru_stime
    report(f'lsdb pull --paged, the same {n} annotations again (task list, 200 a page)', wall, cpu,
           usage.ru_maxrss / 1024, note=out.strip())

    print('\n| benchmark | seconds | lsdb CPU s | peak RSS MiB | note |\n|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['benchmark']} | {r['seconds']} | {r.get('lsdb_cpu_seconds', '')} | "
              f"{r.get('peak_rss_mib', '')} | {r.get('note', '')} |")


if __name__ == '__main__':
    main()
