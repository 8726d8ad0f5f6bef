-- lsdb label-quality views: agreement between annotators, label issues (cleanlab's confident
-- learning) and prediction accuracy. The exact definitions are in docs/quality.md; labels
-- and keys are only ever values here.

-- Who made a completion: `completed_by`'s email when Label Studio gave the user object, else
-- its value (a user id).
CREATE OR REPLACE MACRO lsdb_annotator(fields) AS
    coalesce(fields -> 'completed_by' ->> 'email', fields ->> 'completed_by');

-- How each control of the label config is compared. 'choice': a single-choice <Choices>,
-- one label per annotation; 'nominal': the annotation's whole answer compared exactly (a
-- multi-choice set, taxonomy paths, TextArea text, a rating, a number, ...); 'region':
-- regions matched by IoU (rectangles, polygons, text spans, audio and time-series
-- ranges); NULL: not compared (keypoints, ellipses, brush masks, paragraph spans,
-- relations, video).
CREATE OR REPLACE VIEW quality_controls AS
SELECT ord, name AS from_name, tag, labels, is_dynamic,
       CASE
           WHEN lower(tag) = 'choices'
                AND coalesce(lower(attrs ->> 'choice'), 'single') IN ('single', 'single-radio')
               THEN 'choice'
           WHEN lower(tag) IN ('rectanglelabels', 'rectangle', 'polygonlabels', 'polygon', 'labels',
                               'hypertextlabels', 'timeserieslabels')
               THEN 'region'
           WHEN lower(tag) IN ('keypointlabels', 'keypoint', 'ellipselabels', 'ellipse', 'brushlabels',
                               'brush', 'magicwand', 'bitmasklabels', 'bitmask', 'paragraphlabels',
                               'relations', 'relation', 'videorectangle', 'timelinelabels')
               THEN NULL
           ELSE 'nominal'
       END AS kind
FROM config_controls;

-- Every answer to a compared control: one row per non-cancelled completion (or prediction)
-- and control. `coder` is the annotator, or the completion itself when it names none; a
-- coder's repeated completions of one task count once, the latest (highest id). `answer`
-- (choice and nominal controls) is the sorted distinct labels or values the annotation
-- gave; `items` (region controls) the JSON array of its result items, empty when it drew
-- none. A nominal control the annotation did not answer has no row.
CREATE OR REPLACE VIEW quality_answers AS
WITH compared AS (
    SELECT from_name, kind FROM quality_controls WHERE kind IS NOT NULL
), done AS (
    SELECT 'completion' AS origin, id AS origin_id, task_id, lsdb_annotator(fields) AS annotator,
           NULL::VARCHAR AS model_version, result
    FROM completions
    WHERE NOT was_cancelled
    QUALIFY lsdb_annotator(fields) IS NULL
         OR row_number() OVER (PARTITION BY task_id, lsdb_annotator(fields) ORDER BY id DESC) = 1
    UNION ALL
    SELECT 'prediction', id, task_id, NULL, model_version, result
    FROM predictions
), items AS (
    SELECT origin, origin_id, unnest(CAST(result AS JSON[])) AS item
    FROM done WHERE json_type(result) = 'ARRAY'
), answers AS (
    SELECT i.origin, i.origin_id, c.from_name,
           list_sort(list_distinct(flatten(list(
               CASE json_type(v)
                   WHEN 'ARRAY' THEN json_extract_string(v, '$[*]')
                   ELSE [json_extract_string(v, '$')]
               END) FILTER (WHERE c.kind <> 'region')))) AS answer,
           to_json(list(i.item) FILTER (WHERE c.kind = 'region')) AS items
    FROM (SELECT *, json_extract(item -> 'value', lsdb_pointer(CASE lower(item ->> 'type')
                     WHEN 'textarea' THEN 'text' WHEN 'pairwise' THEN 'selected'
                     ELSE item ->> 'type' END)) AS v,
                 item ->> 'from_name' AS from_name
          FROM items) AS i
    JOIN compared AS c ON c.from_name = i.from_name
    GROUP BY i.origin, i.origin_id, c.from_name
)
SELECT d.origin, d.origin_id, d.task_id, d.annotator,
       coalesce(d.annotator, '#' || d.origin_id::VARCHAR) AS coder, d.model_version,
       c.from_name, c.kind,
       CASE WHEN c.kind <> 'region' THEN a.answer END AS answer,
       CASE WHEN c.kind = 'region' THEN coalesce(a.items, '[]') END AS items
FROM done AS d
CROSS JOIN compared AS c
LEFT JOIN answers AS a
       ON a.origin = d.origin AND a.origin_id = d.origin_id AND a.from_name = c.from_name
WHERE c.kind = 'region' OR len(a.answer) > 0;

-- Every pair of two coders' answers to one control of one task (completions only). For a
-- region control, `m` is how their regions matched; `agreement` is 1/0 for equal answers,
-- and for regions the F1 of the matches (1 when neither drew a region).
CREATE OR REPLACE VIEW quality_pairs AS
WITH answers AS MATERIALIZED (
    SELECT * FROM quality_answers WHERE origin = 'completion'
), pairs AS (
    SELECT a.task_id, a.from_name, a.kind, a.origin_id AS completion_a, b.origin_id AS completion_b,
           a.coder AS coder_a, b.coder AS coder_b, a.annotator AS annotator_a,
           b.annotator AS annotator_b, a.answer AS answer_a, b.answer AS answer_b,
           CASE WHEN a.kind = 'region' THEN lsdb_region_match(a.items, b.items) END AS m
    FROM answers AS a
    JOIN answers AS b
      ON a.task_id = b.task_id AND a.from_name = b.from_name AND a.coder < b.coder
)
SELECT *,
       CASE
           WHEN kind <> 'region' THEN (answer_a = answer_b)::DOUBLE
           WHEN m.regions_a + m.regions_b = 0 THEN 1.0
           ELSE 2.0 * len(m.ious) / (m.regions_a + m.regions_b)
       END AS agreement
FROM pairs;

-- Each task's agreement per control: the mean over pairs of its annotations (each coder's
-- latest), for tasks with at least two.
CREATE OR REPLACE VIEW task_agreement AS
WITH nominal AS (
    -- Equal answers agree: of n answers, n_v alike make n_v (n_v - 1) / 2 agreeing pairs.
    SELECT task_id, from_name, sum(n) AS annotations,
           sum(n * (n - 1)) / (sum(n) * (sum(n) - 1)) AS agreement
    FROM (SELECT task_id, from_name, answer, count(*) AS n
          FROM quality_answers WHERE origin = 'completion' AND kind <> 'region'
          GROUP BY ALL)
    GROUP BY task_id, from_name
    HAVING sum(n) >= 2
), regions AS (
    -- Of n annotations, completion_a takes every one but the highest coder's.
    SELECT task_id, from_name, count(DISTINCT coder_a) + 1 AS annotations, avg(agreement) AS agreement
    FROM quality_pairs WHERE kind = 'region'
    GROUP BY task_id, from_name
)
SELECT task_id, from_name, annotations::BIGINT AS annotations, agreement FROM nominal
UNION ALL
SELECT task_id, from_name, annotations::BIGINT, agreement FROM regions;

-- Each pair of annotators per control, over the tasks both answered: Cohen's kappa (choice
-- and nominal controls; scikit-learn's cohen_kappa_score) and the share of agreeing tasks
-- (for regions, the mean F1). `reason` says why kappa is NULL.
CREATE OR REPLACE VIEW annotator_agreement AS
WITH pairs AS (
    SELECT * FROM quality_pairs WHERE annotator_a IS NOT NULL AND annotator_b IS NOT NULL
), cells AS (
    SELECT annotator_a, annotator_b, from_name, answer_a, answer_b, count(*) AS n
    FROM pairs WHERE kind <> 'region'
    GROUP BY ALL
), margins AS (
    SELECT annotator_a, annotator_b, from_name, sum(n) AS n,
           sum(n) FILTER (WHERE answer_a = answer_b) AS same
    FROM cells GROUP BY ALL
), expected AS (
    -- Chance agreement: sum over labels of the two annotators' shares of it.
    SELECT annotator_a, annotator_b, from_name, sum(na * nb) AS ab
    FROM (SELECT annotator_a, annotator_b, from_name, answer_a AS answer, sum(n) AS na
          FROM cells GROUP BY ALL) AS a
    JOIN (SELECT annotator_a, annotator_b, from_name, answer_b AS answer, sum(n) AS nb
          FROM cells GROUP BY ALL) AS b
    USING (annotator_a, annotator_b, from_name, answer)
    GROUP BY ALL
), nominal AS (
    SELECT m.annotator_a, m.annotator_b, m.from_name, m.n AS tasks,
           coalesce(m.same, 0) / m.n AS po, coalesce(e.ab, 0) / (m.n * m.n) AS pe
    FROM margins AS m LEFT JOIN expected AS e USING (annotator_a, annotator_b, from_name)
)
SELECT annotator_a, annotator_b, from_name, tasks::BIGINT AS tasks,
       CASE WHEN pe < 1 THEN (po - pe) / (1 - pe) END AS kappa,
       po AS percent_agreement,
       CASE WHEN pe >= 1 THEN 'both annotators gave one and the same label on every task' END AS reason
FROM nominal
UNION ALL
SELECT annotator_a, annotator_b, from_name, count(*)::BIGINT, NULL, avg(agreement),
       'regions: kappa needs one label per task'
FROM pairs WHERE kind = 'region'
GROUP BY ALL;

-- Each control's agreement over all annotators and tasks: Krippendorff's alpha for nominal
-- data (the krippendorff package's alpha(level_of_measurement='nominal')) and the share of
-- agreeing pairs. `tasks` counts tasks with answers from two coders or more.
CREATE OR REPLACE VIEW control_agreement AS
WITH counts AS (
    SELECT task_id, from_name, answer, count(*) AS n
    FROM quality_answers WHERE origin = 'completion' AND kind <> 'region'
    GROUP BY ALL
), units AS (
    SELECT task_id, from_name, sum(n) AS m, sum(n * n) AS nn, sum(n * (n - 1)) AS same
    FROM counts GROUP BY ALL
), values_ AS (
    -- n_c: how often each value was given in a task with two answers or more.
    SELECT c.from_name, sum(c.n) AS nc
    FROM counts AS c JOIN units AS u USING (task_id, from_name)
    WHERE u.m >= 2
    GROUP BY c.from_name, c.answer
), totals AS (
    SELECT from_name, sum(nc) AS n, sum(nc * nc) AS nn FROM values_ GROUP BY ALL
), observed AS (
    SELECT from_name, count(*) AS tasks, sum((m * m - nn) / (m - 1)) AS d_o,
           sum(same) / sum(m * (m - 1)) AS percent_agreement
    FROM units WHERE m >= 2 GROUP BY ALL
), coders AS (
    SELECT from_name, count(DISTINCT coder) AS annotators
    FROM quality_answers WHERE origin = 'completion' GROUP BY ALL
), nominal AS (
    SELECT q.from_name, coalesce(o.tasks, 0) AS tasks, coalesce(c.annotators, 0) AS annotators,
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
    SELECT q.from_name, count(DISTINCT p.task_id) AS tasks,
           coalesce(any_value(c.annotators), 0) AS annotators, avg(p.agreement) AS percent_agreement
    FROM quality_controls AS q
    LEFT JOIN coders AS c ON c.from_name = q.from_name
    LEFT JOIN quality_pairs AS p ON p.from_name = q.from_name
    WHERE q.kind = 'region'
    GROUP BY q.from_name
)
SELECT from_name, tasks::BIGINT AS tasks, annotators::BIGINT AS annotators, alpha,
       percent_agreement, reason
FROM nominal
UNION ALL
SELECT from_name, tasks::BIGINT, annotators::BIGINT, NULL, percent_agreement,
       'regions: alpha needs one value per annotation'
FROM regions;

-- Per-label probabilities from `value.scores` of single-choice controls, averaged over each
-- task's predictions, as one vector in the config's label order when every label has one
-- in [0, 1] (a "full" vector).
CREATE OR REPLACE VIEW quality_pred_probs AS
WITH classes AS (
    SELECT from_name, labels FROM quality_controls WHERE kind = 'choice' AND len(labels) > 0
), probs AS (
    SELECT s.task_id, s.from_name, s.label, avg(s.probability) AS p
    FROM prediction_label_scores AS s
    JOIN classes AS c ON c.from_name = s.from_name AND list_contains(c.labels, s.label)
    WHERE s.from_scores AND s.probability IS NOT NULL
    GROUP BY ALL
)
SELECT p.task_id, p.from_name,
       list(p.p ORDER BY list_position(c.labels, p.label)) AS probs
FROM probs AS p JOIN classes AS c USING (from_name)
GROUP BY p.task_id, p.from_name
HAVING count(*) = len(any_value(c.labels)) AND bool_and(p.p BETWEEN 0 AND 1);

-- cleanlab 2.9's find_label_issues(labels, pred_probs, filter_by='confident_learning') over
-- each single-choice control: one example per completion (each coder's latest) with one
-- label of the config and a full probability vector for its task.
CREATE OR REPLACE VIEW label_issues AS
WITH classes AS (
    SELECT from_name, labels, len(labels) AS k
    FROM quality_controls WHERE kind = 'choice' AND len(labels) > 0
), examples AS (
    SELECT a.task_id, a.origin_id AS completion_id, a.from_name, a.answer[1] AS given_label,
           list_position(c.labels, a.answer[1]) AS given, c.k, c.labels, v.probs,
           v.probs[list_position(c.labels, a.answer[1])] AS self_confidence
    FROM quality_answers AS a
    JOIN classes AS c USING (from_name)
    JOIN quality_pred_probs AS v ON v.task_id = a.task_id AND v.from_name = a.from_name
    WHERE a.origin = 'completion' AND len(a.answer) = 1 AND list_contains(c.labels, a.answer[1])
), thresholds AS (
    -- Each class's mean self-confidence over the examples given it; 2 (never reached) for
    -- a class no example was given; at least 2e-6.
    SELECT from_name, list_transform(range(1, any_value(k) + 1), lambda i: greatest(coalesce(
               list_extract(list_filter(list({'class': given, 't': t}), lambda x: x.class = i), 1).t,
               2.0), 2e-6)) AS t
    FROM (SELECT from_name, given, any_value(k) AS k, avg(self_confidence) AS t
          FROM examples GROUP BY from_name, given)
    GROUP BY from_name
), judged AS (
    SELECT e.*,
           list_transform(range(1, e.k + 1), lambda i: e.probs[i] >= th.t[i] - 1e-6) AS confident,
           list_transform(range(1, e.k + 1),
                          lambda i: e.probs[i] + CASE WHEN i = e.given THEN 1e-6 ELSE 0 END) AS nudged
    FROM examples AS e JOIN thresholds AS th USING (from_name)
), guessed AS (
    SELECT *,
           CASE WHEN list_count(list_filter(confident, lambda c: c)) > 1
                THEN list_position(probs, list_max(probs))
                ELSE list_position(confident, true) END AS guess,
           list_position(nudged, list_max(nudged)) AS nudged_top
    FROM judged
    WHERE list_bool_or(confident)
)
SELECT task_id, completion_id, from_name, given_label, labels[guess] AS suggested_label,
       self_confidence
FROM guessed
WHERE guess <> given AND nudged_top <> given;

-- Predictions against annotations, per model version and control, over every (prediction,
-- completion) pair of a task where both answered: the share of equal answers (choice and
-- nominal controls), and for regions the mean IoU of the matched regions and the mean F1.
CREATE OR REPLACE VIEW prediction_accuracy AS
WITH answers AS MATERIALIZED (
    SELECT * FROM quality_answers
), pairs AS (
    SELECT p.model_version, p.from_name, p.kind, p.task_id,
           CASE WHEN p.kind <> 'region' THEN (p.answer = c.answer)::DOUBLE END AS correct,
           CASE WHEN p.kind = 'region' THEN lsdb_region_match(p.items, c.items) END AS m
    FROM answers AS p
    JOIN answers AS c
      ON c.task_id = p.task_id AND c.from_name = p.from_name AND c.origin = 'completion'
    WHERE p.origin = 'prediction'
)
SELECT model_version, from_name, count(DISTINCT task_id)::BIGINT AS tasks,
       avg(correct) AS accuracy,
       sum(list_sum(m.ious)) / nullif(sum(len(m.ious)), 0) AS mean_iou,
       avg(CASE WHEN m.regions_a + m.regions_b = 0 THEN 1.0
                ELSE 2.0 * len(m.ious) / (m.regions_a + m.regions_b) END) AS f1
FROM pairs
GROUP BY model_version, from_name;
