-- lsdb label-quality views: agreement between annotators, label issues (cleanlab's confident
-- learning) and prediction accuracy. The exact definitions are in docs/quality.md; labels
-- and keys are only ever values here.

-- Who made a completion: `completed_by`'s email when Label Studio gave the user object (its
-- id when the object has no email), else its value (a user id).
CREATE OR REPLACE MACRO lsdb_annotator(fields) AS
    list_filter(json_extract_string(fields, ['$.completed_by.email', '$.completed_by.id',
                                             '$.completed_by']),
                lambda x: x IS NOT NULL)[1];

-- The values a control's result items hold under `ptr` (each item's list, or its one value;
-- numbers as numbers, so 1 and 1.0 are one value), nulls left out.
CREATE OR REPLACE MACRO lsdb_item_values(sel, ptr) AS list_filter(flatten(list_transform(
    list_transform(sel, lambda i: json_extract(i, ptr)),
    lambda v: CASE json_type(v)
        WHEN 'ARRAY' THEN json_extract_string(v, '$[*]')
        WHEN 'BIGINT' THEN [v::DOUBLE::VARCHAR]
        WHEN 'UBIGINT' THEN [v::DOUBLE::VARCHAR]
        WHEN 'DOUBLE' THEN [v::DOUBLE::VARCHAR]
        ELSE [json_extract_string(v, '$')] END)),
    lambda x: x IS NOT NULL);

-- Values sorted and without repeats. Only what has several values is sorted: on every row
-- it cost a third of the pass over the completions.
CREATE OR REPLACE MACRO lsdb_distinct_values(vals) AS
    CASE WHEN len(vals) > 1 THEN list_sort(list_distinct(vals)) ELSE vals END;

-- An answer as one text: a single-choice control's one label as it is, anything else the
-- JSON list of its values; NULL for regions and when nothing was answered.
CREATE OR REPLACE MACRO lsdb_answer(kind, vals) AS
    CASE WHEN kind = 'region' OR len(vals) = 0 THEN NULL
         WHEN kind = 'choice' AND len(vals) = 1 THEN vals[1]
         ELSE to_json(vals)::VARCHAR END;

-- How each control of the label config is compared. 'choice': a single-choice <Choices>,
-- one label per annotation; 'nominal': the annotation's whole answer compared exactly (a
-- multi-choice set, taxonomy paths, TextArea text, a rating, a number, ...); 'region':
-- regions matched by IoU (rectangles, polygons, text spans, audio and time-series
-- ranges); NULL: not compared (keypoints, ellipses, brush masks, paragraph spans,
-- relations, video, per-region and per-item answers, <Filter>). `ptr` points at the answer
-- in a result item; `classes` are the names results give the labels (alias, else value).
CREATE OR REPLACE VIEW quality_controls AS
SELECT ord, name AS from_name, tag, labels, is_dynamic, coalesce(classes, labels) AS classes,
       CASE
           WHEN lower(coalesce(attrs ->> 'perRegion', '')) = 'true'
                OR lower(coalesce(attrs ->> 'perItem', '')) = 'true'
               THEN NULL
           WHEN lower(tag) = 'choices'
                AND coalesce(lower(attrs ->> 'choice'), 'single') IN ('single', 'single-radio')
               THEN 'choice'
           WHEN lower(tag) IN ('rectanglelabels', 'rectangle', 'polygonlabels', 'polygon', 'labels',
                               'hypertextlabels', 'timeserieslabels')
               THEN 'region'
           WHEN lower(tag) IN ('keypointlabels', 'keypoint', 'ellipselabels', 'ellipse', 'brushlabels',
                               'brush', 'magicwand', 'bitmasklabels', 'bitmask', 'paragraphlabels',
                               'relations', 'relation', 'videorectangle', 'timelinelabels',
                               'filter')
               THEN NULL
           ELSE 'nominal'
       END AS kind,
       '/value' || lsdb_pointer(CASE lower(tag) WHEN 'textarea' THEN 'text'
                                                 WHEN 'pairwise' THEN 'selected'
                                                 ELSE lower(tag) END) AS ptr
FROM config_controls;

-- Every non-cancelled completion's answer to every compared control, read from its result
-- in one pass (no grouping). `answer` (choice and nominal controls) is the distinct values
-- the control's items hold under `ptr` (numbers as numbers: 1 and 1.0 are one value): one
-- single-choice label as it is, anything else as the JSON list of them, sorted; NULL when
-- the control was not answered. `items`
-- (region controls) is the JSON list of the control's items, `[]` when it drew none.
-- `coder` is the annotator, or the completion itself when it names none.
CREATE OR REPLACE VIEW quality_answers AS
WITH picked AS (
    SELECT c.id AS completion_id, c.task_id,
           lsdb_annotator(c.fields) AS annotator,
           q.from_name, q.kind,
           list_filter(c.items, lambda i: i ->> 'from_name' = q.from_name) AS sel,
           q.ptr
    FROM (SELECT id, task_id, fields, coalesce(TRY_CAST(result AS JSON[]), []) AS items
          FROM completions WHERE NOT was_cancelled) AS c
    CROSS JOIN (SELECT * FROM quality_controls WHERE kind IS NOT NULL) AS q
), valued AS (
    SELECT *, CASE WHEN kind <> 'region' THEN lsdb_item_values(sel, ptr) END AS raw
    FROM picked
), distinct_ AS (
    -- A step of its own: nested in one expression, the macros' arguments were computed
    -- once per use (0.91 s against 0.67 s at 2M completions).
    SELECT *, lsdb_distinct_values(raw) AS vals FROM valued
)
SELECT completion_id, task_id, annotator,
       coalesce(annotator, '#' || completion_id::VARCHAR) AS coder, from_name, kind,
       lsdb_answer(kind, vals) AS answer,
       CASE WHEN kind = 'choice' AND len(vals) = 1 THEN vals[1] END AS label,
       CASE WHEN kind = 'region' THEN sel::VARCHAR END AS items
FROM distinct_;

-- Each coder's latest non-cancelled completion of each task (the last `created_at`, then
-- the highest id): a coder's repeated completions of one task count once. (Found apart from
-- the answers: grouping the answers themselves held every answer's text in the group table,
-- 800 MB at 1M tasks.)
CREATE OR REPLACE VIEW quality_latest_ids AS
SELECT arg_max(id, (coalesce(created_at, ''), id)) AS completion_id
FROM completions
WHERE NOT was_cancelled
GROUP BY task_id, coalesce(lsdb_annotator(fields), '#' || id::VARCHAR);

-- The answers of each coder's latest completion of each task. `answer` is NULL when that
-- completion did not answer the control (an older one that did is not used).
CREATE OR REPLACE VIEW quality_latest AS
SELECT * FROM quality_answers
WHERE completion_id IN (SELECT completion_id FROM quality_latest_ids);

-- How many coders gave each answer, per task and control (choice and nominal controls).
CREATE OR REPLACE VIEW quality_answer_counts AS
SELECT task_id, from_name, answer, count(*) AS n
FROM quality_latest WHERE kind <> 'region' AND answer IS NOT NULL
GROUP BY task_id, from_name, answer;

-- Per task and control: m answers, of which `same` ordered pairs agree (sum of n (n - 1)).
CREATE OR REPLACE VIEW quality_units AS
SELECT task_id, from_name, sum(n) AS m, sum(n * (n - 1)) AS same,
       CASE WHEN sum(n) = 1 THEN any_value(answer) END AS lone_answer
FROM quality_answer_counts
GROUP BY task_id, from_name;

-- Every pair of two coders' answers to one region control of one task where at least one
-- drew a region, with how their regions matched (`m`) and the F1 of the matches. (Two
-- annotators who both drew nothing say nothing about agreement: that pair is left out.)
CREATE OR REPLACE VIEW quality_region_pairs AS
WITH regions AS (
    SELECT * FROM quality_latest WHERE kind = 'region'
), pairs AS (
    SELECT a.task_id, a.from_name, a.coder AS coder_a, b.coder AS coder_b,
           a.annotator AS annotator_a, b.annotator AS annotator_b,
           lsdb_region_match(a.items, b.items) AS m
    FROM regions AS a JOIN regions AS b
      ON a.task_id = b.task_id AND a.from_name = b.from_name AND a.coder < b.coder
)
SELECT *, 2.0 * len(m.ious) / (m.regions_a + m.regions_b) AS agreement
FROM pairs
WHERE m.regions_a + m.regions_b > 0;

-- Each task's agreement per control: the mean over pairs of its coders' answers, for tasks
-- with at least two.
CREATE OR REPLACE VIEW task_agreement AS
SELECT task_id, from_name, m::BIGINT AS annotations, same / (m * (m - 1)) AS agreement
FROM quality_units WHERE m >= 2
UNION ALL
SELECT p.task_id, p.from_name, c.annotations, p.agreement
FROM (SELECT task_id, from_name, avg(agreement) AS agreement
      FROM quality_region_pairs GROUP BY task_id, from_name) AS p
JOIN (SELECT task_id, from_name, count(*) AS annotations
      FROM quality_latest WHERE kind = 'region' GROUP BY task_id, from_name) AS c
  USING (task_id, from_name);

-- Each pair of annotators per control, over the tasks both answered: Cohen's kappa (choice
-- and nominal controls; scikit-learn's cohen_kappa_score) and the share of agreeing tasks
-- (for regions, the mean F1). `reason` says why kappa is NULL.
CREATE OR REPLACE VIEW annotator_agreement AS
WITH named AS (
    SELECT task_id, from_name, annotator, answer
    FROM quality_latest WHERE annotator IS NOT NULL AND kind <> 'region' AND answer IS NOT NULL
), cells AS (
    SELECT a.annotator AS annotator_a, b.annotator AS annotator_b, a.from_name,
           a.answer AS answer_a, b.answer AS answer_b, count(*) AS n
    FROM named AS a JOIN named AS b
      ON a.task_id = b.task_id AND a.from_name = b.from_name AND a.annotator < b.annotator
    GROUP BY ALL
), margins AS (
    SELECT annotator_a, annotator_b, from_name, sum(n) AS n,
           coalesce(sum(n) FILTER (WHERE answer_a = answer_b), 0) AS same
    FROM cells GROUP BY ALL
), expected AS (
    -- Chance agreement: over labels, the product of how often each annotator gave it.
    SELECT annotator_a, annotator_b, from_name, sum(na * nb) AS ab
    FROM (SELECT annotator_a, annotator_b, from_name, answer_a AS answer, sum(n) AS na
          FROM cells GROUP BY ALL) AS a
    JOIN (SELECT annotator_a, annotator_b, from_name, answer_b AS answer, sum(n) AS nb
          FROM cells GROUP BY ALL) AS b
    USING (annotator_a, annotator_b, from_name, answer)
    GROUP BY ALL
), nominal AS (
    SELECT m.annotator_a, m.annotator_b, m.from_name, m.n AS tasks, m.same / m.n AS po,
           coalesce(e.ab, 0) / (m.n * m.n) AS pe
    FROM margins AS m LEFT JOIN expected AS e USING (annotator_a, annotator_b, from_name)
)
SELECT annotator_a, annotator_b, from_name, tasks::BIGINT AS tasks,
       CASE WHEN pe < 1 THEN (po - pe) / (1 - pe) END AS kappa,
       po AS percent_agreement,
       CASE WHEN pe >= 1 THEN 'both annotators gave one and the same answer on every task' END AS reason
FROM nominal
UNION ALL
SELECT annotator_a, annotator_b, from_name, count(*)::BIGINT, NULL, avg(agreement),
       'regions: kappa needs one label per task'
FROM quality_region_pairs
WHERE annotator_a IS NOT NULL AND annotator_b IS NOT NULL
GROUP BY ALL;

-- Each control's agreement over all annotators and tasks: Krippendorff's alpha for nominal
-- data (the krippendorff package's alpha(level_of_measurement='nominal')) and the share of
-- agreeing pairs. `tasks` counts tasks with answers from two coders or more.
CREATE OR REPLACE VIEW control_agreement AS
WITH latest AS MATERIALIZED (
    -- Read once: the answers, their counts and the annotators all come from it.
    SELECT task_id, from_name, kind, coder, answer FROM quality_latest
    WHERE kind = 'region' OR answer IS NOT NULL
), counts AS MATERIALIZED (
    SELECT task_id, from_name, answer, count(*) AS n
    FROM latest WHERE kind <> 'region' GROUP BY ALL
), units AS (
    SELECT task_id, from_name, sum(n) AS m, sum(n * (n - 1)) AS same,
           CASE WHEN sum(n) = 1 THEN any_value(answer) END AS lone_answer
    FROM counts GROUP BY ALL
), values_ AS (
    -- n_c: how often each value was given in tasks with two answers or more (all of them,
    -- less those given alone).
    SELECT a.from_name, a.n - coalesce(l.n, 0) AS nc
    FROM (SELECT from_name, answer, sum(n) AS n FROM counts GROUP BY ALL) AS a
    LEFT JOIN (SELECT from_name, lone_answer AS answer, count(*) AS n
               FROM units WHERE m = 1 GROUP BY ALL) AS l
    USING (from_name, answer)
), totals AS (
    SELECT from_name, sum(nc) AS n, sum(nc * nc) AS nn FROM values_ GROUP BY ALL
), observed AS (
    SELECT from_name, count(*) AS tasks, sum((m * m - (same + m)) / (m - 1)) AS d_o,
           sum(same) / sum(m * (m - 1)) AS percent_agreement
    FROM units WHERE m >= 2 GROUP BY ALL
), coders AS (
    SELECT from_name, count(DISTINCT coder) AS annotators FROM latest GROUP BY ALL
), nominal AS (
    SELECT q.ord, q.from_name, coalesce(o.tasks, 0) AS tasks, coalesce(c.annotators, 0) AS annotators,
           CASE WHEN t.n > 1 AND t.n * t.n - t.nn > 0
                THEN 1 - o.d_o / ((t.n * t.n - t.nn) / (t.n - 1)) END AS alpha,
           o.percent_agreement,
           CASE WHEN o.tasks IS NULL THEN 'no task has answers from two annotators'
                WHEN t.n * t.n - t.nn = 0 THEN 'one value only: alpha is undefined' END AS reason
    FROM quality_controls AS q
    LEFT JOIN coders AS c ON c.from_name = q.from_name
    LEFT JOIN observed AS o ON o.from_name = q.from_name
    LEFT JOIN totals AS t ON t.from_name = q.from_name
    WHERE q.kind IN ('choice', 'nominal')
), regions AS (
    SELECT q.ord, q.from_name, count(DISTINCT p.task_id) AS tasks,
           coalesce(any_value(c.annotators), 0) AS annotators, avg(p.agreement) AS percent_agreement
    FROM quality_controls AS q
    LEFT JOIN coders AS c ON c.from_name = q.from_name
    LEFT JOIN quality_region_pairs AS p ON p.from_name = q.from_name
    WHERE q.kind = 'region'
    GROUP BY q.ord, q.from_name
)
SELECT from_name, tasks::BIGINT AS tasks, annotators::BIGINT AS annotators, alpha,
       percent_agreement, reason
FROM (SELECT ord, from_name, tasks, annotators, alpha, percent_agreement, reason FROM nominal
      UNION ALL
      SELECT ord, from_name, tasks, annotators, NULL, percent_agreement,
             'regions: alpha needs one value per annotation'
      FROM regions)
ORDER BY ord;

-- Per-label probabilities from `value.scores` of single-choice controls, averaged over each
-- task's predictions (of each label, the mean of the predictions that give it), as one
-- vector in the config's label order when every label has one and all are in [0, 1] (a
-- "full" vector).
CREATE OR REPLACE VIEW quality_pred_probs AS
WITH classes AS (
    -- Each label's JSON pointer in a `value.scores` object, made once per control.
    SELECT from_name, classes AS labels, list_transform(classes, lambda l: lsdb_pointer(l)) AS pointers
    FROM quality_controls WHERE kind = 'choice' AND len(classes) > 0
), scored AS MATERIALIZED (
    -- Each prediction item with a `value.scores` object: its probability of each label.
    SELECT task_id, from_name, labels,
           -- Numbers only: text such as "0.5" and booleans are no probabilities.
           list_transform(list_transform(pointers, lambda p: json_extract(scores, p)),
                          lambda x: CASE WHEN json_type(x) IN ('DOUBLE', 'BIGINT', 'UBIGINT')
                                         THEN x::DOUBLE END) AS v
    FROM (SELECT p.task_id, c.from_name, c.labels, c.pointers,
                 unnest(list_filter(list_transform(
                     list_filter(coalesce(TRY_CAST(p.result AS JSON[]), []),
                                 lambda i: i ->> 'from_name' = c.from_name),
                     lambda i: json_extract(i, '/value/scores')),
                     lambda s: json_type(s) = 'OBJECT')) AS scores
          FROM predictions AS p CROSS JOIN classes AS c)
), per_task AS (
    SELECT task_id, from_name, any_value(labels) AS labels, count(*) AS n, any_value(v) AS v
    FROM scored GROUP BY task_id, from_name
), several AS (
    -- Tasks with several scored predictions: each label's mean over those that give it.
    SELECT task_id, from_name, any_value(labels) AS labels, list(p ORDER BY j) AS v
    FROM (SELECT s.task_id, s.from_name, any_value(s.labels) AS labels, j, avg(s.v[j]) AS p
          FROM (SELECT *, unnest(range(1, len(labels) + 1)) AS j FROM scored) AS s
          SEMI JOIN (SELECT task_id, from_name FROM per_task WHERE n > 1) AS m
               USING (task_id, from_name)
          GROUP BY s.task_id, s.from_name, j)
    GROUP BY task_id, from_name
), mean AS (
    SELECT task_id, from_name, labels, v AS probs FROM per_task WHERE n = 1
    UNION ALL
    SELECT task_id, from_name, labels, v FROM several
)
SELECT task_id, from_name, probs
FROM mean
WHERE list_count(probs) = len(labels) AND list_min(probs) >= 0 AND list_max(probs) <= 1;

-- Every single-choice answer (each coder's latest completion of a task) as cleanlab 2.9's
-- find_label_issues(labels, pred_probs, filter_by='confident_learning') sees it: an example
-- when its answer is one label of the config and its task has a full probability vector
-- (`left_out` says why not), `is_issue` when cleanlab flags it, `suggested_label` the
-- class cleanlab's confident joint puts it in.
CREATE OR REPLACE VIEW label_judgements AS
WITH classes AS (
    SELECT from_name, classes AS labels, len(classes) AS k
    FROM quality_controls WHERE kind = 'choice' AND len(classes) > 0
), probs AS MATERIALIZED (
    SELECT * FROM quality_pred_probs
), answers AS NOT MATERIALIZED (
    -- Read twice (for the thresholds, then for the judgement) rather than kept: keeping
    -- every answer with its task's vector took 1 GB at 1M tasks.
    SELECT a.task_id, a.completion_id, a.from_name, a.label AS given_label,
           list_position(c.labels, a.label) AS given, c.k, c.labels, v.probs,
           v.probs[list_position(c.labels, a.label)] AS self_confidence,
           CASE WHEN a.label IS NULL OR NOT list_contains(c.labels, a.label)
                    THEN 'the answer is not one label of the config'
                WHEN v.probs IS NULL
                    THEN 'no full probability vector (value.scores) for the task' END AS left_out
    FROM quality_latest AS a
    JOIN classes AS c ON c.from_name = a.from_name
    LEFT JOIN probs AS v ON v.task_id = a.task_id AND v.from_name = a.from_name
    WHERE a.answer IS NOT NULL
), thresholds AS (
    -- Each class's mean self-confidence over the examples given it; 2 (never reached) for
    -- a class no example was given; at least 2e-6.
    SELECT from_name, list_transform(range(1, any_value(k) + 1), lambda i: greatest(coalesce(
               list_extract(list_filter(list({'class': given, 't': t}), lambda x: x.class = i), 1).t,
               2.0), 2e-6)) AS t
    FROM (SELECT from_name, given, any_value(k) AS k, avg(self_confidence) AS t
          FROM answers WHERE left_out IS NULL GROUP BY from_name, given)
    GROUP BY from_name
), judged AS (
    SELECT a.*,
           list_transform(range(1, a.k + 1), lambda i: a.probs[i] >= th.t[i] - 1e-6) AS confident,
           list_transform(range(1, a.k + 1),
                          lambda i: a.probs[i] + CASE WHEN i = a.given THEN 1e-6 ELSE 0 END) AS nudged
    FROM answers AS a LEFT JOIN thresholds AS th USING (from_name)
), guessed AS (
    -- One confident class: that one; several: the most probable (the first of equals).
    SELECT *,
           CASE WHEN list_count(list_filter(confident, lambda c: c)) > 1
                THEN list_position(probs, list_max(probs))
                WHEN list_bool_or(confident) THEN list_position(confident, true) END AS guess,
           list_position(nudged, list_max(nudged)) AS nudged_top
    FROM judged
)
SELECT task_id, completion_id, from_name, given_label,
       CASE WHEN left_out IS NULL THEN labels[guess] END AS suggested_label,
       self_confidence,
       coalesce(left_out IS NULL AND guess <> given AND nudged_top <> given, false) AS is_issue,
       left_out
FROM guessed;

-- The annotations cleanlab's confident learning flags: label_judgements' issues.
CREATE OR REPLACE VIEW label_issues AS
SELECT task_id, completion_id, from_name, given_label, suggested_label, self_confidence
FROM label_judgements WHERE is_issue;

-- Per single-choice control with a label list (dynamic choices are not judged): answers,
-- how many were judged and flagged, and how many were left out, by reason.
CREATE OR REPLACE VIEW label_issue_summary AS
SELECT q.from_name, count(j.completion_id) AS answers,
       count(*) FILTER (WHERE j.completion_id IS NOT NULL AND j.left_out IS NULL) AS judged,
       count(*) FILTER (WHERE j.is_issue) AS issues,
       count(*) FILTER (WHERE j.left_out LIKE 'no full%') AS no_probabilities,
       count(*) FILTER (WHERE j.left_out LIKE 'the answer%') AS not_one_label
FROM quality_controls AS q
LEFT JOIN label_judgements AS j ON j.from_name = q.from_name
WHERE q.kind = 'choice' AND len(q.classes) > 0
GROUP BY q.ord, q.from_name
ORDER BY q.ord;

-- Predictions against annotations, per model version and control, over every (prediction,
-- coder's latest completion) pair of a task where both answered: the share of equal answers
-- (choice and nominal controls), and for regions the mean IoU of the matched regions and
-- the mean F1.
CREATE OR REPLACE VIEW prediction_accuracy AS
WITH predicted AS (
    SELECT p.task_id, p.model_version, c.from_name, c.kind, c.ptr,
           list_filter(coalesce(TRY_CAST(p.result AS JSON[]), []),
                       lambda i: i ->> 'from_name' = c.from_name) AS sel
    FROM predictions AS p
    CROSS JOIN (SELECT * FROM quality_controls WHERE kind IS NOT NULL) AS c
), answers AS (
    SELECT task_id, model_version, from_name, kind, lsdb_answer(kind, vals) AS answer,
           CASE WHEN kind = 'region' THEN sel::VARCHAR END AS items
    FROM (SELECT *, lsdb_distinct_values(raw) AS vals
          FROM (SELECT *, CASE WHEN kind <> 'region' THEN lsdb_item_values(sel, ptr) END AS raw
                FROM predicted))
    WHERE kind = 'region' OR len(vals) > 0
), pairs AS (
    SELECT p.model_version, p.from_name, p.kind, p.task_id,
           CASE WHEN p.kind <> 'region' THEN (p.answer = c.answer)::DOUBLE END AS correct,
           CASE WHEN p.kind = 'region' THEN lsdb_region_match(p.items, c.items) END AS m
    FROM answers AS p
    JOIN quality_latest AS c ON c.task_id = p.task_id AND c.from_name = p.from_name
    WHERE p.kind = 'region' OR c.answer IS NOT NULL
)
SELECT model_version, from_name, count(DISTINCT task_id)::BIGINT AS tasks,
       avg(correct) AS accuracy,
       sum(list_sum(m.ious)) / nullif(sum(len(m.ious)), 0) AS mean_iou,
       avg(2.0 * len(m.ious) / (m.regions_a + m.regions_b)) AS f1
FROM pairs
-- A prediction and an annotation that both have no region say nothing: left out.
WHERE kind <> 'region' OR m.regions_a + m.regions_b > 0
GROUP BY model_version, from_name;

-- The review queues of `sample` and `export --sample` (docs/sampling.md), shaped like
-- labeling_queue: annotated tasks, `low-agreement` by the lowest agreement over a task's
-- controls, `label-issues` by the lowest self-confidence of a flagged annotation. Kept apart
-- from labeling_queue, which then needs nothing but SQL (these need lsdb_region_match).
CREATE OR REPLACE MACRO review_queue(strategy, seed, mv) AS TABLE
SELECT task_id, score, score AS sort_key, false AS is_unplaced
FROM (SELECT task_id, min(agreement) AS score FROM task_agreement
      WHERE strategy = 'low-agreement' GROUP BY task_id
      UNION ALL
      SELECT task_id, min(self_confidence) FROM label_issues
      WHERE strategy = 'label-issues' GROUP BY task_id);
