#!/usr/bin/env python3
"""lsdb's label-quality views against the reference libraries (run by .ci/run):

    python tests/quality/compare.py --lsdb target/debug/lsdb [--keep DIR]

Needs scikit-learn, krippendorff 0.9 and cleanlab 2.9 (tests/quality/venv.sh installs them
outside the clone). For each case (a seeded data set with several annotators and per-label
predictions, and a project Label Studio 1.23.2 exported), the tasks go into a new lsdb
project through the real binary, and this script reads the same JSON itself:

- annotator_agreement.kappa == sklearn.metrics.cohen_kappa_score(y1, y2) within 1e-9 for
  every pair of annotators and compared control (NULL where sklearn gives NaN);
- control_agreement.alpha == krippendorff.alpha(reliability_data, 'nominal') within 1e-9
  (NULL where it raises or gives NaN);
- label_issues == the completions cleanlab.filter.find_label_issues(labels, pred_probs,
  filter_by='confident_learning') flags, exactly, with the same self-confidence;
- task_agreement == the mean over pairs of equal answers (choice and nominal controls).

The reading of the JSON follows docs/quality.md: non-cancelled completions, each annotator's
latest (highest id) per task, `completed_by`'s email when it is an object; an answer is the
sorted distinct labels (or values) of a control's items.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import krippendorff
from cleanlab.filter import find_label_issues
from sklearn.metrics import cohen_kappa_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print('FAIL', what)


# ---------------------------------------------------------------- seeded data

SEEDED_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single">
    <Choice value="Cat" alias="cat"/><Choice value="dog"/><Choice value="bird"/><Choice value="fish"/><Choice value="frog"/>
  </Choices>
  <Choices name="ok" toName="image" choice="single-radio">
    <Choice value="yes"/><Choice value="no"/>
  </Choices>
  <Choices name="tags" toName="image" choice="multiple">
    <Choice value="blurry"/><Choice value="dark"/><Choice value="occluded"/>
  </Choices>
  <Rating name="stars" toName="image" maxRating="5"/>
  <RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>
</View>"""

CLASSES = ['cat', 'dog', 'bird', 'fish', 'frog']


def seeded_tasks(n=400, seed=25):
    """Tasks with 2-4 annotators each out of 6 (one annotates a single task), repeated and
    cancelled completions, `completed_by` as an id, an object with an email, or missing, and
    predictions with full, partial and out-of-range `value.scores`."""
    rng = random.Random(seed)
    annotators = [1, 2, 3, 4, 5]
    skill = {1: 0.9, 2: 0.75, 3: 0.6, 4: 0.8, 5: 0.5}
    tasks, cid, pid = [], 1000, 5000
    for t in range(n):
        truth = rng.choices(range(5), weights=[5, 4, 3, 2, 1])[0]
        ok_truth = 'yes' if rng.random() < 0.85 else 'no'
        who = rng.sample(annotators, rng.randint(2, 4))
        if t == 17:
            who.append(6)  # annotator 6 annotates this one task only
        completions = []
        for a in who:
            for repeat in range(2 if rng.random() < 0.05 else 1):
                label = truth if rng.random() < skill.get(a, 0.7) else rng.randrange(5)
                result = [{'from_name': 'label', 'to_name': 'image', 'type': 'choices',
                           'value': {'choices': [CLASSES[label]]}}]
                if rng.random() < 0.05:  # the same label twice is one label
                    result.append(dict(result[0]))
                if rng.random() < 0.9:
                    ok = ok_truth if rng.random() < 0.9 else rng.choice(['yes', 'no'])
                    result.append({'from_name': 'ok', 'to_name': 'image', 'type': 'choices',
                                   'value': {'choices': [ok]}})
                tags = [x for x in ['blurry', 'dark', 'occluded'] if rng.random() < 0.3]
                if tags:
                    rng.shuffle(tags)
                    result.append({'from_name': 'tags', 'to_name': 'image', 'type': 'choices',
                                   'value': {'choices': tags}})
                if rng.random() < 0.7:
                    result.append({'from_name': 'stars', 'to_name': 'image', 'type': 'rating',
                                   'value': {'rating': rng.choice([3, 4, 4, 5])}})
                for _ in range(rng.randint(0, 2)):
                    x, y = rng.uniform(0, 60), rng.uniform(0, 60)
                    result.append({'from_name': 'box', 'to_name': 'image', 'type': 'rectanglelabels',
                                   'original_width': 640, 'original_height': 480,
                                   'value': {'x': x, 'y': y, 'width': 20, 'height': 15, 'rotation': 0,
                                             'rectanglelabels': [rng.choice(['cat', 'dog'])]}})
                cid += rng.randint(1, 3)
                c = {'id': cid, 'result': result, 'was_cancelled': rng.random() < 0.03}
                if repeat or rng.random() < 0.1:  # the latest is the last created_at
                    c['created_at'] = f'2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z'
                r = rng.random()
                if r < 0.15:
                    c['completed_by'] = {'id': a, 'email': f'user{a}@example.com'}
                elif r < 0.16:
                    c['completed_by'] = {'id': a}  # no email: its id
                elif r < 0.18:
                    pass  # no annotator named: counts as one of its own
                else:
                    c['completed_by'] = a
                completions.append(c)
        rng.shuffle(completions)
        predictions = []
        kind = rng.random()
        if kind < 0.85:
            for mv in (['m1', 'm2'] if rng.random() < 0.3 else ['m1']):
                logits = [rng.gauss(0, 1) + (2.2 if i == truth else 0) for i in range(5)]
                if rng.random() < 0.1:  # confidently wrong
                    logits[rng.randrange(5)] += 4
                z = [math.exp(v) for v in logits]
                probs = {CLASSES[i]: round(z[i] / sum(z), 6) for i in range(5)}
                if rng.random() < 0.04:
                    del probs[CLASSES[rng.randrange(5)]]  # not a full vector
                if rng.random() < 0.02:
                    probs[CLASSES[0]] = 1.5  # outside [0, 1]
                if rng.random() < 0.02:
                    probs[CLASSES[1]] = str(probs.get(CLASSES[1], 0))  # text: no probability
                top = max((k for k in probs if not isinstance(probs[k], str)), key=probs.get)
                pid += 1
                predictions.append({'id': pid, 'model_version': mv, 'score': probs[top], 'result': [
                    {'from_name': 'label', 'to_name': 'image', 'type': 'choices',
                     'value': {'choices': [top], 'scores': probs}},
                    {'from_name': 'ok', 'to_name': 'image', 'type': 'choices',
                     'value': {'choices': ['yes'], 'scores': {'yes': 0.8, 'no': 0.2}}}]})
        elif kind < 0.92:
            pid += 1
            predictions.append({'id': pid, 'model_version': 'm1', 'score': 0.7, 'result': [
                {'from_name': 'label', 'to_name': 'image', 'type': 'choices',
                 'value': {'choices': [CLASSES[truth]]}}]})
        tasks.append({'id': t + 1, 'data': {'image': f'https://example.com/{t}.jpg'},
                      'annotations': completions, 'predictions': predictions})
    return tasks


# ---------------------------------------------------------------- reading the JSON ourselves

def controls_of(xml):
    """(name, kind, labels) for each control the views compare, in config order."""
    out = []
    for el in ET.fromstring(xml).iter():
        if 'name' not in el.attrib or 'toName' not in el.attrib:
            continue
        tag = el.tag.lower()
        labels = [c.attrib.get('alias', c.attrib.get('value')) for c in el
                  if c.tag in ('Choice', 'Label')]
        if tag == 'choices':
            kind = 'choice' if el.attrib.get('choice', 'single').lower() in ('single', 'single-radio') else 'nominal'
        elif tag in ('rectanglelabels', 'polygonlabels', 'labels'):
            kind = 'region'
        else:
            kind = 'nominal'
        out.append((el.attrib['name'], kind, labels))
    return out


def annotator(c):
    """`completed_by`'s email, else its id (a user object), else the value itself."""
    by = c.get('completed_by')
    if isinstance(by, dict):
        for key in ('email', 'id'):
            if by.get(key) is not None:
                v = by[key]
                return v if isinstance(v, str) else json.dumps(v)
        return json.dumps(by, separators=(',', ':'))
    if by is None:
        return None
    return by if isinstance(by, str) else json.dumps(by)


def value_text(x):
    """One value of an answer: text as it is, numbers as numbers (1 and 1.0 alike)."""
    if isinstance(x, str):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return ('num', float(x))
    return json.dumps(x, separators=(',', ':'))


def answer(result, name):
    values = set()
    for item in result:
        if item.get('from_name') != name:
            continue
        key = {'textarea': 'text', 'pairwise': 'selected'}.get(item.get('type'), item.get('type'))
        v = item.get('value', {}).get(key)
        if isinstance(v, list):
            values.update(x if isinstance(x, str) else json.dumps(x) for x in v if x is not None)
        elif v is not None:
            values.add(value_text(v))
    return tuple(sorted(values, key=repr))


def latest_answers(tasks, controls):
    """{(control): {task id: {coder: (completion id, annotator, answer)}}}"""
    out = {name: {} for name, kind, _ in controls if kind != 'region'}
    for t in tasks:
        best = {}
        for c in t.get('annotations', []):
            if c.get('was_cancelled'):
                continue
            who = annotator(c)
            coder = who if who is not None else f"#{c['id']}"
            # The latest: the last created_at (ISO text), then the highest id.
            order = lambda x: (x.get('created_at') or '', x['id'])
            if coder not in best or order(c) > order(best[coder]):
                best[coder] = c
        for coder, c in best.items():
            for name in out:
                a = answer(c['result'], name)
                if a:
                    out[name].setdefault(t['id'], {})[coder] = (c['id'], annotator(c), a)
    return out


def mean_probs(task, name, labels):
    sums = {}
    for p in task.get('predictions', []):
        for item in p.get('result', []):
            scores = item.get('value', {}).get('scores')
            if item.get('from_name') != name or not isinstance(scores, dict):
                continue
            for label, v in scores.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    sums.setdefault(label, []).append(float(v))
    if not all(l in sums for l in labels):
        return None
    probs = [sum(sums[l]) / len(sums[l]) for l in labels]
    return probs if all(0 <= p <= 1 for p in probs) else None


# ---------------------------------------------------------------- lsdb

def lsdb_rows(lsdb, project, sql):
    out = subprocess.run([lsdb, '-p', project, 'sql', sql, '--format', 'json'],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f'lsdb sql failed: {out.stderr}')
    return json.loads(out.stdout)


def close(a, b):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or math.isnan(b))
    return abs(a - b) <= 1e-9


def compare(name, lsdb, work, config_xml, tasks):
    project = os.path.join(work, name)
    task_file = os.path.join(work, f'{name}.json')
    config_file = os.path.join(work, f'{name}.xml')
    with open(task_file, 'w') as f:
        json.dump(tasks, f)
    with open(config_file, 'w') as f:
        f.write(config_xml)
    subprocess.run([lsdb, 'init', project, '-l', config_file], check=True, capture_output=True)
    subprocess.run([lsdb, '-p', project, 'import', task_file], check=True, capture_output=True)
    controls = controls_of(config_xml)
    answers = latest_answers(tasks, controls)

    # Cohen's kappa per annotator pair.
    rows = lsdb_rows(lsdb, project, "SELECT * FROM annotator_agreement WHERE reason IS NULL "
                     "OR reason NOT LIKE 'regions%'")
    got = {(r['annotator_a'], r['annotator_b'], r['from_name']): r for r in rows}
    want = {}
    for ctl, by_task in answers.items():
        pairs = {}
        for task_id, coders in by_task.items():
            named = {c: v for c, v in coders.items() if v[1] is not None}
            for a in named:
                for b in named:
                    if a < b:
                        pairs.setdefault((a, b), []).append((named[a][2], named[b][2]))
        for (a, b), ys in pairs.items():
            y1 = [repr(x) for x, _ in ys]
            y2 = [repr(y) for _, y in ys]
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                kappa = cohen_kappa_score(y1, y2)
            want[(a, b, ctl)] = (kappa, len(ys))
    check(set(got) == set(want), f'{name}: annotator pairs {sorted(set(got) ^ set(want))[:5]}')
    for key, (kappa, n) in want.items():
        if key in got:
            check(close(got[key]['kappa'], float(kappa)), f'{name}: kappa {key}: lsdb {got[key]["kappa"]} sklearn {kappa}')
            check(got[key]['tasks'] == n, f'{name}: kappa tasks {key}')
    print(f'{name}: kappa for {len(want)} annotator pairs and controls; '
          f'{sum(1 for k, _ in want.values() if math.isnan(k))} undefined (NULL in lsdb)')

    # Krippendorff's alpha per control.
    rows = {r['from_name']: r for r in lsdb_rows(lsdb, project, 'SELECT * FROM control_agreement')}
    for ctl, by_task in answers.items():
        coders = sorted({c for v in by_task.values() for c in v})
        values = sorted({a for v in by_task.values() for (_, _, a) in v.values()})
        index = {v: i for i, v in enumerate(values)}
        data = np.full((len(coders), len(by_task)), np.nan)
        for j, (task_id, v) in enumerate(sorted(by_task.items())):
            for c, (_, _, a) in v.items():
                data[coders.index(c), j] = index[a]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement='nominal'))
        except ValueError:
            alpha = None
        got_alpha = rows.get(ctl, {}).get('alpha')
        check(close(got_alpha, alpha), f'{name}: alpha {ctl}: lsdb {got_alpha} krippendorff {alpha}')
        check(rows.get(ctl, {}).get('annotators') == len(coders),
              f'{name}: alpha annotators {ctl}: lsdb {rows.get(ctl, {}).get("annotators")}, {len(coders)}')
        print(f'{name}: alpha {ctl} = {alpha} (lsdb {got_alpha}) over {len(coders)} annotators')

    # Task agreement of choice and nominal controls.
    rows = lsdb_rows(lsdb, project, "SELECT t.* FROM task_agreement t JOIN quality_controls q "
                     "USING (from_name) WHERE q.kind <> 'region'")
    got = {(r['task_id'], r['from_name']): r['agreement'] for r in rows}
    want = {}
    for ctl, by_task in answers.items():
        for task_id, coders in by_task.items():
            vals = [a for (_, _, a) in coders.values()]
            if len(vals) >= 2:
                pairs = [(x, y) for i, x in enumerate(vals) for y in vals[i + 1:]]
                want[(task_id, ctl)] = sum(x == y for x, y in pairs) / len(pairs)
    check(set(got) == set(want), f'{name}: task_agreement rows')
    check(all(close(got[k], v) for k, v in want.items() if k in got), f'{name}: task_agreement values')
    print(f'{name}: task agreement of {len(want)} tasks and controls')

    # cleanlab's label issues.
    got = {(r['completion_id'], r['from_name']): r for r in lsdb_rows(lsdb, project, 'SELECT * FROM label_issues')}
    want = {}
    by_id = {t['id']: t for t in tasks}
    for ctl, kind, labels in controls:
        if kind != 'choice' or not labels:
            continue
        ids, given, probs = [], [], []
        for task_id, coders in sorted(answers[ctl].items()):
            p = mean_probs(by_id[task_id], ctl, labels)
            for c, (cid, _, a) in sorted(coders.items()):
                if p is not None and len(a) == 1 and a[0] in labels:
                    ids.append(cid)
                    given.append(labels.index(a[0]))
                    probs.append(p)
        if not ids:
            continue
        try:
            mask = find_label_issues(np.array(given), np.array(probs), filter_by='confident_learning')
        except ValueError as err:
            print(f'{name}: cleanlab refuses {ctl}: {err}; lsdb must flag none')
            mask = [False] * len(ids)
        for i, flagged in enumerate(mask):
            if flagged:
                want[(ids[i], ctl)] = (labels[given[i]], probs[i][given[i]])
        print(f'{name}: label issues {ctl}: {sum(1 for k in want if k[1] == ctl)} of {len(ids)} examples')
    check(set(got) == set(want), f'{name}: label issues differ: lsdb only {sorted(set(got) - set(want))[:5]}, '
          f'cleanlab only {sorted(set(want) - set(got))[:5]}')
    for key, (label, conf) in want.items():
        if key in got:
            check(got[key]['given_label'] == label and close(got[key]['self_confidence'], conf),
                  f'{name}: label issue {key}')
    return project


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lsdb', required=True)
    ap.add_argument('--keep', help='keep the projects in this folder')
    args = ap.parse_args()
    lsdb = os.path.abspath(args.lsdb)
    work = args.keep or tempfile.mkdtemp(prefix='lsdb-quality-')
    os.makedirs(work, exist_ok=True)
    compare('seeded', lsdb, work, SEEDED_CONFIG, seeded_tasks())
    fixtures = os.path.join(ROOT, 'fixtures', 'label_studio')
    with open(os.path.join(fixtures, 'ls_1.23.2_quality.xml')) as f:
        xml = f.read()
    with open(os.path.join(fixtures, 'ls_1.23.2_quality_export.json')) as f:
        ls_tasks = json.load(f)
    compare('label-studio-1.23.2', lsdb, work, xml, ls_tasks)
    if FAILURES:
        print(f'{len(FAILURES)} differences')
        sys.exit(1)
    print('quality views: the same as scikit-learn, krippendorff and cleanlab')


if __name__ == '__main__':
    main()
