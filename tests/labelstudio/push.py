#!/usr/bin/env python3
"""`lsdb push` and `lsdb pull` against a live Label Studio (run by tests/labelstudio/push.sh,
in CI):

    python3 tests/labelstudio/push.py --lsdb BIN --ls-url URL --token T --work DIR

DIR is Label Studio's LOCAL_FILES_DOCUMENT_ROOT. Checks, through Label Studio's own API:
10 tasks of an uncertainty queue arrive with their predictions and their images load through
Label Studio's local files; pushing again sends nothing; --limit 12 sends the next 2; links
lost after Label Studio took the tasks are found again by the tasks' meta (no duplicate);
a personal access token (JWT) works; 4 annotations made through Label Studio's API are
pulled onto the right tasks, pulling again changes nothing, an edit replaces the stored
result; pushing again moves the queue on; a wrong token, a wrong address and a project whose
config lacks the store's controls fail in one line with exit 2 and change nothing. Bucket
media (a local S3, moto): tasks of s3:// URIs get a Label Studio S3 storage over their bucket,
through which Label Studio serves the objects; with --presign they go as presigned URLs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
from ls_api import Api  # noqa: E402
FAILURES = []

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image"><Choice value="cat"/><Choice value="dog"/></Choices>
</View>"""


def check(ok, what):
    print(('ok   ' if ok else 'FAIL ') + what)
    if not ok:
        FAILURES.append(what)


def lsdb(args, *cmd):
    return subprocess.run([args.lsdb, *cmd], capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lsdb', required=True)
    ap.add_argument('--ls-url', required=True)
    ap.add_argument('--token', required=True)
    ap.add_argument('--work', required=True, help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT")
    ap.add_argument('--s3', required=True, help='a local S3 server (moto)')
    args = ap.parse_args()
    args.lsdb = os.path.abspath(args.lsdb)
    api = Api(args.ls_url, args.token)
    work = os.path.abspath(args.work)
    images = os.path.join(work, 'images')
    os.makedirs(images, exist_ok=True)
    png = os.path.join(ROOT, 'fixtures', 'media', 'rgb_40x30.png')
    tasks = []
    for i in range(20):
        shutil.copy(png, os.path.join(images, f'img{i}.png'))
        url = f'/data/img{i}.png?d=' + urllib.request.quote(images, safe='')
        score = round(abs(0.5 - i / 40) + 0.01 * i, 4)  # a spread around 0.5
        tasks.append({'data': {'image': url}, 'predictions': [{'model_version': 'm1', 'score': score, 'result': [
            {'from_name': 'label', 'to_name': 'image', 'type': 'choices', 'value': {'choices': ['cat']}}]}]})
    with open(os.path.join(work, 'tasks.json'), 'w') as f:
        json.dump(tasks, f)
    with open(os.path.join(work, 'config.xml'), 'w') as f:
        f.write(CONFIG)
    proj = os.path.join(work, 'proj')
    shutil.rmtree(proj, ignore_errors=True)
    run = lsdb(args, 'init', proj, '-l', os.path.join(work, 'config.xml'), '--input-path', os.path.join(work, 'tasks.json'))
    check(run.returncode == 0, f'lsdb init: {run.stderr.strip()}')
    queue = lsdb(args, '-p', proj, 'sample', '--strategy', 'uncertainty', '--limit', '12', '--format', 'json')
    queue_ids = [r['task_id'] for r in json.loads(queue.stdout)]

    # Push 10 of the queue into a new project.
    push = ['-p', proj, 'push', args.ls_url, '--token', args.token, '--document-root', work,
            '--sample', 'uncertainty']
    run = lsdb(args, *push, '--limit', '10')
    check(run.returncode == 0 and run.stdout.startswith('pushed 10 tasks to project '), f'push 10: {run.stdout.strip()} {run.stderr.strip()}')
    project = int(run.stdout.split('project ')[1].split(' ')[0])
    held = api.tasks(project)
    check(len(held) == 10, f'the project holds 10 tasks ({len(held)})')
    check(all(len(t['predictions']) == 1 for t in held), 'each with its prediction')
    check(sorted(t['meta']['lsdb_task_id'] for t in held) == sorted(queue_ids[:10]), 'the top 10 of the queue')
    # The images load through Label Studio's local files.
    with open(png, 'rb') as f:
        want = f.read()
    url = held[0]['data']['image']
    check(url.startswith('/data/local-files/?d=images/'), f'a local-files URL: {url}')
    body = api.call('GET', url, raw=True)
    check(body == want, 'the image loads through Label Studio')
    links = json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json',
                            'SELECT task_id, ls_task_id FROM ls_links ORDER BY task_id').stdout)
    check(sorted((l['task_id'], l['ls_task_id']) for l in links)
          == sorted((t['meta']['lsdb_task_id'], t['id']) for t in held), 'the link table matches Label Studio')

    # Again: nothing is sent. --limit 12: the next 2.
    run = lsdb(args, *push, '--limit', '10', '--ls-project', str(project))
    check(run.stdout.startswith('pushed 0 tasks') and '10 were there already' in run.stdout, f'push again: {run.stdout.strip()}')
    run = lsdb(args, *push, '--limit', '12', '--ls-project', str(project))
    check(run.stdout.startswith('pushed 2 tasks'), f'push 12: {run.stdout.strip()}')
    check(len(api.tasks(project)) == 12, 'the project holds 12 tasks')

    # Links lost after Label Studio took the tasks (a push cut off): found again by meta.
    # (The state a push killed between Label Studio's answer and the links leaves: links
    # missing, and the push's pending mark.)
    lsdb(args, '-p', proj, 'sql', 'DELETE FROM ls_links WHERE task_id IN (SELECT task_id FROM ls_links LIMIT 3); '
         f"INSERT OR REPLACE INTO lsdb_meta VALUES ('push_pending {args.ls_url} {project}', '1')")
    run = lsdb(args, *push, '--limit', '12', '--ls-project', str(project))
    check(run.stdout.startswith('pushed 0 tasks'), f'after lost links: {run.stdout.strip()}')
    check(len(api.tasks(project)) == 12, 'no task twice')
    left = json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json',
                           "SELECT count(*) AS n FROM lsdb_meta WHERE key LIKE 'push_pending%'").stdout)[0]['n']
    check(left == 0, 'a finished push leaves no pending mark')

    # A personal access token (a JWT refresh token).
    api.call('POST', '/api/jwt/settings', {'api_tokens_enabled': True, 'legacy_api_tokens_enabled': True})
    pat = api.call('POST', '/api/token/', {})['token']
    run = lsdb(args, *push, '--limit', '13', '--ls-project', str(project))
    env_run = subprocess.run([args.lsdb, '-p', proj, 'push', args.ls_url, '--document-root', work,
                              '--sample', 'uncertainty', '--limit', '14', '--ls-project', str(project)],
                             capture_output=True, text=True, env={**os.environ, 'LABEL_STUDIO_API_KEY': pat})
    check(env_run.returncode == 0 and env_run.stdout.startswith('pushed 1 task to'),
          f'a personal access token from LABEL_STUDIO_API_KEY: {env_run.stdout.strip()} {env_run.stderr.strip()}')

    # Annotations made in Label Studio come back: 4 new, on the right tasks; again, nothing.
    pull = ['-p', proj, 'pull', args.ls_url, '--token', args.token, '--ls-project', str(project)]
    held = sorted(api.tasks(project), key=lambda t: t['id'])
    made = []
    for t, label in zip(held[:4], ['cat', 'dog', 'dog', 'cat']):
        made.append(api.call('POST', f"/api/tasks/{t['id']}/annotations/", {
            'result': [{'from_name': 'label', 'to_name': 'image', 'type': 'choices', 'value': {'choices': [label]}}],
            'lead_time': 2.5}))
    run = lsdb(args, *pull)
    check(run.returncode == 0 and run.stdout.startswith('pulled 4 new and 0 edited'), f'pull: {run.stdout.strip()} {run.stderr.strip()}')
    got = json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json',
                          "SELECT c.task_id, c.result->'$[0].value.choices[0]' AS label, c.lead_time, "
                          "c.fields->'$.completed_by.email' AS email FROM completions c ORDER BY c.task_id").stdout)
    want = sorted((t['meta']['lsdb_task_id'], l) for t, l in zip(held[:4], ['cat', 'dog', 'dog', 'cat']))
    check(sorted((g['task_id'], g['label']) for g in got) == want, f'on the right tasks: {got}')
    check(all(g['lead_time'] == 2.5 and g['email'] == 'push@example.com' for g in got), 'lead time and annotator (email) kept')
    run = lsdb(args, *pull)
    check(run.stdout.startswith('pulled 0 new and 0 edited') and '4 unchanged' in run.stdout, f'pull again: {run.stdout.strip()}')
    run = lsdb(args, *pull, '--paged')
    check(run.stdout.startswith('pulled 0 new and 0 edited') and '4 unchanged' in run.stdout,
          f'pull again through the paged task list: {run.stdout.strip()} {run.stderr.strip()}')
    # An edit in Label Studio replaces the stored result; the old one goes to history.
    api.call('PATCH', f"/api/annotations/{made[0]['id']}/", {
        'result': [{'from_name': 'label', 'to_name': 'image', 'type': 'choices', 'value': {'choices': ['dog']}}]})
    run = lsdb(args, *pull, '--paged')
    check(run.stdout.startswith('pulled 0 new and 1 edited'), f'pull --paged after an edit: {run.stdout.strip()}')
    edited = json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json',
                             f"SELECT c.result->>'$[0].value.choices[0]' AS label, (SELECT count(*) FROM completion_history) AS history "
                             f"FROM completions c WHERE c.task_id = {held[0]['meta']['lsdb_task_id']}").stdout)
    check(edited == [{'label': 'dog', 'history': 1}], f'the edit is stored, the old result kept: {edited}')
    # An annotation deleted in Label Studio is reported, and deleted here only with --prune.
    api.call('DELETE', f"/api/annotations/{made[3]['id']}/", raw=True)
    run = lsdb(args, *pull)
    check('1 deleted in Label Studio (kept; --prune deletes them)' in run.stdout, f'a deletion reported: {run.stdout.strip()}')
    count = lambda: json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json', 'SELECT count(*) AS n FROM completions').stdout)[0]['n']
    check(count() == 4, 'and kept')
    run = lsdb(args, *pull, '--prune')
    check('1 deleted in Label Studio and here' in run.stdout and count() == 3, f'--prune deletes it: {run.stdout.strip()}')

    # A task made inside Label Studio comes into the store with its annotation, linked.
    made_in_ls = api.call('POST', '/api/tasks/', {'project': project, 'data': {'image': 'https://example.com/new.png'}})
    api.call('POST', f"/api/tasks/{made_in_ls['id']}/annotations/", {
        'result': [{'from_name': 'label', 'to_name': 'image', 'type': 'choices', 'value': {'choices': ['cat']}}]})
    run = lsdb(args, *pull)
    check(run.stdout.startswith('pulled 1 new and 0 edited') and '1 tasks made in Label Studio' in run.stderr,
          f'a task made in Label Studio: {run.stdout.strip()} {run.stderr.strip()}')
    new = json.loads(lsdb(args, '-p', proj, 'sql', '--format', 'json',
                          f"SELECT t.data->>'image' AS image, (SELECT count(*) FROM completions c WHERE c.task_id = t.id) AS n "
                          f"FROM tasks t JOIN ls_links l ON l.task_id = t.id WHERE l.ls_task_id = {made_in_ls['id']}").stdout)
    check(new == [{'image': 'https://example.com/new.png', 'n': 1}], f'stored and linked: {new}')
    run = lsdb(args, *pull)
    check(run.stdout.startswith('pulled 0 new and 0 edited') and 'made in Label Studio' not in run.stderr, 'pulling again adds nothing')

    # Push again: the labeled tasks left the queue, the next ones arrive, no duplicate.
    marks = lambda tasks: [t['meta'].get('lsdb_task_id') for t in tasks if t['meta'].get('lsdb_task_id')]
    run = lsdb(args, *push, '--limit', '14', '--ls-project', str(project))
    after = marks(api.tasks(project))
    check(run.returncode == 0 and len(after) == len(set(after)), f'no duplicate: {run.stdout.strip()}')
    queue = [r['task_id'] for r in json.loads(lsdb(args, '-p', proj, 'sample', '--strategy', 'uncertainty', '--limit', '14', '--format', 'json').stdout)]
    labeled = {g['task_id'] for g in got} - {held[3]['meta']['lsdb_task_id']}  # its annotation was pruned
    check(set(queue) <= set(after) and not set(queue) & labeled,
          'the labeled tasks left the queue and the next ones are in the project')

    # Annotations sent with --with-annotations are linked: pulling that project brings
    # nothing twice.
    with_ann = [*push[:push.index('--sample')], '--with-annotations', '--where', 'id IN (SELECT task_id FROM completions)',
                '--title', 'with annotations']
    run = lsdb(args, *with_ann)
    second = int(run.stdout.split('project ')[1].split(' ')[0]) if run.returncode == 0 else None
    n_completions = count()
    check(second is not None and sum(len(t['annotations']) for t in api.tasks(second)) == n_completions,
          f'annotations sent: {run.stdout.strip()} {run.stderr.strip()}')
    run = lsdb(args, '-p', proj, 'pull', args.ls_url, '--token', args.token, '--ls-project', str(second))
    check(run.stdout.startswith('pulled 0 new and 0 edited') and count() == n_completions,
          f'pulled back, nothing twice: {run.stdout.strip()} {run.stderr.strip()}')

    # Bad input: one line, exit 2, nothing changed.
    before = len(api.tasks(project))
    for what, cmd, text in [
        ('a wrong token', ['--token', 'not-a-token'], 'did not accept the token'),
        ('a wrong address', ['--token', args.token, '--ls-project', str(project)], 'cannot reach Label Studio'),
    ]:
        base = 'http://127.0.0.1:1' if what == 'a wrong address' else args.ls_url
        run = subprocess.run([args.lsdb, '-p', proj, 'push', base, *cmd, '--document-root', work],
                             capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != 'LABEL_STUDIO_API_KEY'})
        check(run.returncode == 2 and run.stderr.startswith(f'lsdb: error: {base}' if what == 'a wrong token' else 'lsdb: error: cannot reach')
              and text in run.stderr and run.stderr.count('\n') == 1, f'{what}: {run.stderr.strip()}')
    # A pull that fails (no such project) leaves the store as it was: not even the store's id.
    fresh = os.path.join(work, 'fresh')
    lsdb(args, 'init', fresh, '-l', os.path.join(work, 'config.xml'))
    run = lsdb(args, '-p', fresh, 'pull', args.ls_url, '--token', args.token, '--ls-project', '999999')
    meta = json.loads(lsdb(args, '-p', fresh, 'sql', '--format', 'json',
                           "SELECT count(*) AS n FROM lsdb_meta WHERE key = 'store_id'").stdout)[0]['n']
    check(run.returncode == 2 and run.stderr.startswith('lsdb: error: ') and run.stderr.count('\n') == 1 and meta == 0,
          f'a pull from no such project: {run.stderr.strip()}')
    other = api.call('POST', '/api/projects/', {'title': 'other', 'label_config': '<View><Text name="t" value="$t"/><Choices name="x" toName="t"><Choice value="a"/></Choices></View>'})
    run = lsdb(args, *push, '--ls-project', str(other['id']))
    check(run.returncode == 2 and 'lacks <Choices name="label">' in run.stderr, f'a project without the controls: {run.stderr.strip()}')
    check(len(api.tasks(other['id'])) == 0 and len(api.tasks(project)) == before, 'nothing was sent')

    buckets(args, api, work)

    if FAILURES:
        print(f'{len(FAILURES)} failures')
        sys.exit(1)
    print('lsdb push: as Label Studio sees it')


def buckets(args, api, work):
    """Tasks whose media are s3:// objects: a Label Studio S3 storage over the bucket, or
    presigned URLs."""
    import base64
    import boto3
    with open(os.path.join(ROOT, 'fixtures', 'media', 'rgb_40x30.png'), 'rb') as f:
        png = f.read()
    s3 = boto3.client('s3', endpoint_url=args.s3, region_name='us-east-1',
                      aws_access_key_id='ls', aws_secret_access_key='ls')
    s3.create_bucket(Bucket='pushmedia')
    for i in range(3):
        s3.put_object(Bucket='pushmedia', Key=f'imgs/{i}.png', Body=png)
    env = {**os.environ, 'AWS_ACCESS_KEY_ID': 'ls', 'AWS_SECRET_ACCESS_KEY': 'ls', 'AWS_ENDPOINT_URL': args.s3}
    env.pop('LABEL_STUDIO_API_KEY', None)
    run_env = lambda *cmd: subprocess.run([args.lsdb, *cmd], capture_output=True, text=True, env=env)
    proj = os.path.join(work, 'bucketproj')
    run_env('init', proj, '-l', os.path.join(work, 'config.xml'))
    run_env('-p', proj, 'storage', 'add', 'media', 's3://pushmedia/imgs/', '--format', 'image-dir')
    run = run_env('-p', proj, 'storage', 'sync')
    check(run.returncode == 0, f'lsdb storage sync: {run.stderr.strip()}')
    push = ['-p', proj, 'push', args.ls_url, '--token', args.token]
    run = run_env(*push, '--title', 'bucket media')
    check(run.returncode == 0 and 'connected the S3 bucket s3://pushmedia (a Label Studio cloud storage, given the credentials lsdb uses for it)' in run.stderr,
          f'push of bucket tasks: {run.stdout.strip()} {run.stderr.strip()}')
    project = int(run.stdout.split('project ')[1].split(' ')[0]) if run.returncode == 0 else None
    if project is None:
        return
    held = api.tasks(project)
    # Label Studio's task API answers with the URIs it can resolve through a storage as its
    # resolve route, `/tasks/{id}/resolve/?fileuri=<base64 of the URI>`.
    def uri_of(url):
        fileuri = url.split('fileuri=')[1] if 'fileuri=' in url else ''
        return base64.urlsafe_b64decode(fileuri + '=' * (-len(fileuri) % 4)).decode() if fileuri else url
    check(sorted(uri_of(t['data']['image']) for t in held) == [f's3://pushmedia/imgs/{i}.png' for i in range(3)]
          and all(t['data']['image'].startswith(f"/tasks/{t['id']}/resolve/?fileuri=") for t in held),
          f"the project holds the 3 tasks, resolved through the storage (not synced): {held[0]['data']['image']}")
    storages = api.call('GET', f'/api/storages/s3?project={project}')
    check([(s['bucket'], s['s3_endpoint']) for s in storages] == [('pushmedia', args.s3)],
          f'one S3 storage over the bucket: {[(s["bucket"], s["s3_endpoint"]) for s in storages]}')
    # Label Studio's editor loads the image from that URL: a redirect to a presigned URL.
    body = api.call('GET', held[0]['data']['image'], raw=True)
    check(body == png, 'the object loads through Label Studio')
    run = run_env(*push, '--ls-project', str(project))
    check(run.returncode == 0 and 'connected' not in run.stderr and len(api.call('GET', f'/api/storages/s3?project={project}')) == 1,
          f'pushing again reuses the storage: {run.stderr.strip()}')
    # --presign: presigned URLs, no storage.
    run = run_env(*push, '--title', 'presigned', '--presign')
    project = int(run.stdout.split('project ')[1].split(' ')[0]) if run.returncode == 0 else None
    check(project is not None, f'push --presign: {run.stdout.strip()} {run.stderr.strip()}')
    if project is None:
        return
    held = api.tasks(project)
    url = held[0]['data']['image']
    check(url.startswith(args.s3 + '/pushmedia/imgs/') and 'X-Amz-Signature=' in url, f'a presigned URL: {url[:80]}')
    with urllib.request.urlopen(url) as resp:
        check(resp.read() == png, 'the presigned URL loads the object')
    check(api.call('GET', f'/api/storages/s3?project={project}') == [], 'no storage made')


if __name__ == '__main__':
    main()
