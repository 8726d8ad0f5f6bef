-- lsdb views: results as rows, validation of tasks and results against the label config,
-- and the prediction ranking behind sampling. Recomputed at query time from the config
-- tables, so a new config re-validates everything. Keys and labels from a config are only
-- ever values here (JSON pointers built at run time), never SQL text.

-- A JSON pointer (RFC 6901) to one key, however it is spelled.
CREATE OR REPLACE MACRO lsdb_pointer(key) AS
    '/' || replace(replace(key, '~', '~0'), '/', '~1');

-- The value of a config `$key` in task data: the literal key first, then as a dotted path.
CREATE OR REPLACE MACRO lsdb_key_value(data, key) AS coalesce(
    json_extract(data, lsdb_pointer(key)),
    CASE WHEN contains(key, '.') THEN json_extract(data,
        '/' || array_to_string(list_transform(string_split(key, '.'),
            lambda s: replace(replace(s, '~', '~0'), '/', '~1')), '/'))
    END
);

-- A completion or prediction as Label Studio JSON: its id, every field it came with (kept
-- as compact JSON text, nulls included), then its result.
CREATE OR REPLACE MACRO lsdb_annotation_json(id, fields, result) AS
    '{"id":' || id::VARCHAR
    || CASE WHEN fields::VARCHAR = '{}' THEN '' ELSE ',' || substr(fields::VARCHAR, 2, length(fields::VARCHAR) - 2) END
    || ',"result":' || result::VARCHAR || '}';

-- A JSON value's kind in words ("a string", "a number", ...).
CREATE OR REPLACE MACRO lsdb_json_kind(v) AS CASE json_type(v)
    WHEN 'VARCHAR' THEN 'a string'
    WHEN 'BIGINT' THEN 'a number'
    WHEN 'UBIGINT' THEN 'a number'
    WHEN 'DOUBLE' THEN 'a number'
    WHEN 'BOOLEAN' THEN 'a boolean'
    WHEN 'OBJECT' THEN 'an object'
    WHEN 'ARRAY' THEN 'a list'
    ELSE 'null'
END;

-- Completions and predictions side by side.
CREATE OR REPLACE VIEW annotations AS
SELECT 'completion' AS origin, id AS origin_id, task_id, result, NULL::VARCHAR AS model_version,
       NULL::DOUBLE AS score, was_cancelled
FROM completions
UNION ALL
SELECT 'prediction', id, task_id, result, model_version, score, false
FROM predictions;

-- The labels of one result item, as the `results` view gives them (`labels`).
CREATE OR REPLACE MACRO lsdb_item_labels(item) AS CASE
    WHEN item ->> 'type' = 'taxonomy'
        THEN json_extract_string(item -> 'value', '$.taxonomy[*][*]')
    WHEN json_type(json_extract(item -> 'value', lsdb_pointer(item ->> 'type'))) = 'ARRAY'
        THEN json_extract_string(json_extract(item -> 'value', lsdb_pointer(item ->> 'type')), '$[*]')
END;

-- One row per result item of every completion and prediction.
CREATE OR REPLACE VIEW results AS
WITH items AS (
    SELECT a.*, unnest(CAST(a.result AS JSON[])) AS item,
           generate_subscripts(CAST(a.result AS JSON[]), 1) - 1 AS result_index
    FROM annotations AS a
    WHERE json_type(a.result) = 'ARRAY'
)
SELECT origin, origin_id, task_id, result_index,
       item ->> 'from_name' AS from_name,
       item ->> 'to_name' AS to_name,
       item ->> 'type' AS type,
       CASE
           WHEN item ->> 'type' = 'taxonomy'
               THEN json_extract_string(item -> 'value', '$.taxonomy[*][*]')
           WHEN json_type(json_extract(item -> 'value', lsdb_pointer(item ->> 'type'))) = 'ARRAY'
               THEN json_extract_string(json_extract(item -> 'value', lsdb_pointer(item ->> 'type')), '$[*]')
       END AS labels,
       item -> 'value' AS value,
       TRY_CAST(item ->> 'score' AS DOUBLE) AS score,
       model_version,
       item
FROM items;

-- Every problem with tasks and results under the current label config.
CREATE OR REPLACE VIEW validation_errors AS
WITH task_keys AS (
    SELECT t.id AS task_id, o.*, lsdb_key_value(t.data, o.key) AS value
    FROM tasks AS t CROSS JOIN config_objects AS o
), checked_results AS (
    -- Every result item once. Relations are checked for their score only; the others
    -- against their control tag, their score and (regions) the image's bounds.
    SELECT r.*, coalesce(r.type, '') = 'relation' AS is_relation,
           c.name AS control_name, c.tag AS control_tag, c.to_name AS control_to_name,
           c.labels AS control_labels, c.is_dynamic,
           lower(r.type) IN ('rectanglelabels', 'rectangle', 'ellipselabels', 'ellipse',
                             'keypointlabels', 'keypoint') AS is_box,
           lower(r.type) IN ('polygonlabels', 'polygon') AS is_polygon
    FROM results AS r
    LEFT JOIN config_controls AS c ON c.name = r.from_name AND coalesce(r.type, '') <> 'relation'
), has_config AS (
    SELECT count(*) > 0 AS yes FROM label_config
)
SELECT task_id, 'task' AS origin, task_id AS origin_id, 'missing_key' AS code,
       '"' || key || '" key is expected in task data (<' || tag || coalesce(' name="' || name || '"', '') || '>)' AS detail
FROM task_keys WHERE value IS NULL

UNION ALL
SELECT task_id, 'task', task_id, 'wrong_type',
       '"' || key || '" is ' || lsdb_json_kind(value) || ', but <' || tag || '> expects ' ||
       CASE lower(tag)
           WHEN 'text' THEN 'a string, number or list'
           WHEN 'image' THEN 'a URL string or a list of them'
           WHEN 'timeseries' THEN CASE WHEN value_type = 'json' THEN 'an object of column arrays' ELSE 'a URL string' END
           WHEN 'table' THEN 'an object or a list'
           WHEN 'paragraphs' THEN 'a list'
           ELSE 'a string'
       END
FROM task_keys
WHERE value IS NOT NULL AND attr = 'value' AND NOT CASE lower(tag)
    WHEN 'text' THEN json_type(value) IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'ARRAY')
    WHEN 'image' THEN json_type(value) IN ('VARCHAR', 'ARRAY')
    WHEN 'hypertext' THEN json_type(value) = 'VARCHAR'
    WHEN 'audio' THEN json_type(value) = 'VARCHAR'
    WHEN 'audioplus' THEN json_type(value) = 'VARCHAR'
    WHEN 'video' THEN json_type(value) = 'VARCHAR'
    WHEN 'timeseries' THEN json_type(value) = CASE WHEN value_type = 'json' THEN 'OBJECT' ELSE 'VARCHAR' END
    WHEN 'table' THEN json_type(value) IN ('OBJECT', 'ARRAY')
    WHEN 'paragraphs' THEN json_type(value) = 'ARRAY'
    ELSE true
END

UNION ALL
SELECT task_id, 'task', task_id, 'wrong_type',
       '"' || key || '" has no column "' || col || '" that <' || tag || '> needs'
FROM (
    SELECT *, unnest(list_distinct(list_append(channels, time_column))) AS col
    FROM task_keys
    WHERE lower(tag) = 'timeseries' AND value_type = 'json' AND json_type(value) = 'OBJECT'
)
WHERE col IS NOT NULL AND NOT list_contains(json_keys(value), col)

UNION ALL
SELECT task_id, origin, origin_id, 'result_not_list',
       'result is ' || lsdb_json_kind(result) || ', not a list of results'
FROM annotations WHERE json_type(result) <> 'ARRAY'

-- The checks of result items, in one pass: each item gives the list of its errors. Five
-- SELECTs over checked_results made DuckDB keep all of its rows in memory to read them five
-- times (3 GiB for 4M tasks with predictions); the score and bounds checks were three more
-- reads of every item's JSON (half of the view's time at 1M tasks).
UNION ALL
SELECT task_id, origin, origin_id, e.code, e.detail
FROM (
    SELECT task_id, origin, origin_id, unnest(list_concat(
        CASE WHEN NOT is_relation AND (json_type(item) <> 'OBJECT' OR from_name IS NULL
                  OR to_name IS NULL OR type IS NULL OR json_extract(item, '/value') IS NULL)
             THEN [{'code': 'missing_field', 'detail':
                    'result ' || result_index::VARCHAR || ' has no ' || array_to_string(list_filter(
                        ['from_name', 'to_name', 'type', 'value'],
                        lambda f: json_extract(item, lsdb_pointer(f)) IS NULL), ', ')}]
        END,
        CASE WHEN NOT is_relation AND from_name IS NOT NULL AND control_name IS NULL
                  AND (SELECT yes FROM has_config)
             THEN [{'code': 'unknown_from_name', 'detail':
                    'result ' || result_index::VARCHAR || ': from_name "' || from_name || '" is no control tag of the label config'}]
        END,
        CASE WHEN control_name IS NOT NULL AND to_name IS NOT NULL
                  AND NOT list_has_all(control_to_name, list_transform(string_split(to_name, ','), lambda s: trim(s)))
             THEN [{'code': 'to_name_mismatch', 'detail':
                    'result ' || result_index::VARCHAR || ': to_name "' || to_name || '" is not in toName of <' ||
                    control_tag || ' name="' || control_name || '"> (' || array_to_string(control_to_name, ',') || ')'}]
        END,
        CASE WHEN control_name IS NOT NULL AND type IS NOT NULL
                  AND lower(type) NOT IN (lower(control_tag), regexp_replace(lower(control_tag), 'labels$', ''))
             THEN [{'code': 'type_mismatch', 'detail':
                    'result ' || result_index::VARCHAR || ': type "' || type || '" does not match <' || control_tag ||
                    ' name="' || control_name || '"> (expected "' || lower(control_tag) || '")'}]
        END,
        CASE WHEN control_name IS NOT NULL AND NOT is_dynamic AND len(control_labels) > 0
             THEN list_transform(list_filter(labels, lambda l: NOT list_contains(control_labels, l)),
                  lambda l: {'code': 'unknown_label', 'detail':
                    'result ' || result_index::VARCHAR || ': label "' || l || '" is not one of the labels of <' ||
                    control_tag || ' name="' || control_name || '">'})
        END,
        CASE WHEN score < 0 OR score > 1
             THEN [{'code': 'score_out_of_range', 'detail':
                    'result ' || result_index::VARCHAR || ': score ' || score::VARCHAR || ' is outside [0, 1]'}]
        END,
        CASE WHEN is_box AND (x < 0 OR y < 0 OR x + w > 100.000001 OR y + h > 100.000001
                  OR x - rx < -0.000001 OR y - ry < -0.000001 OR x + rx > 100.000001
                  OR y + ry > 100.000001 OR w < 0 OR h < 0)
             THEN [{'code': 'region_out_of_bounds', 'detail':
                    'result ' || result_index::VARCHAR || ': ' || type ||
                    ' reaches outside the image (x, y, width, height are percentages in 0-100)'}]
        END,
        CASE WHEN is_polygon
             THEN list_transform(
                  list_filter(TRY_CAST(value -> 'points' AS DOUBLE[][]),
                              lambda p: list_min(p) < 0 OR list_max(p) > 100.000001),
                  lambda p: {'code': 'region_out_of_bounds', 'detail':
                    'result ' || result_index::VARCHAR || ': polygon point ' || p::VARCHAR || ' is outside 0-100'})
        END)) AS e
    FROM (
        -- A region's numbers, read for regions only.
        SELECT *,
               CASE WHEN is_box THEN TRY_CAST(value ->> 'x' AS DOUBLE) END AS x,
               CASE WHEN is_box THEN TRY_CAST(value ->> 'y' AS DOUBLE) END AS y,
               CASE WHEN is_box THEN coalesce(TRY_CAST(value ->> 'width' AS DOUBLE), 0) END AS w,
               CASE WHEN is_box THEN coalesce(TRY_CAST(value ->> 'height' AS DOUBLE), 0) END AS h,
               CASE WHEN is_box THEN coalesce(TRY_CAST(value ->> 'radiusX' AS DOUBLE), 0) END AS rx,
               CASE WHEN is_box THEN coalesce(TRY_CAST(value ->> 'radiusY' AS DOUBLE), 0) END AS ry
        FROM checked_results
    )
)

UNION ALL
SELECT task_id, 'prediction', id, 'score_out_of_range',
       'prediction score ' || score::VARCHAR || ' is outside [0, 1]'
FROM predictions WHERE score < 0 OR score > 1;

-- Each task's predictions ranked by score (best first), and the task's mean score.
CREATE OR REPLACE VIEW prediction_ranks AS
SELECT p.task_id, p.id AS prediction_id, p.model_version, p.score,
       row_number() OVER (PARTITION BY p.task_id ORDER BY p.score DESC NULLS LAST, p.id) AS rank,
       avg(p.score) OVER (PARTITION BY p.task_id) AS task_mean_score
FROM predictions AS p;

-- Per-label probabilities in predictions: a result's `value.scores` object ({label: p};
-- `from_scores`), else each of its labels with the result's score.
CREATE OR REPLACE VIEW prediction_label_scores AS
SELECT task_id, origin_id AS prediction_id, model_version, label,
       TRY_CAST(json_extract(value, '/scores' || lsdb_pointer(label)) AS DOUBLE) AS probability,
       from_name, true AS from_scores
FROM (
    SELECT *, unnest(json_keys(value -> 'scores')) AS label
    FROM results
    WHERE origin = 'prediction' AND json_type(value -> 'scores') = 'OBJECT'
)
UNION ALL
SELECT task_id, origin_id, model_version, unnest(labels), score, from_name, false
FROM results
WHERE origin = 'prediction' AND score IS NOT NULL
  AND json_type(value -> 'scores') IS DISTINCT FROM 'OBJECT' AND len(labels) > 0;

-- The labeling queue of a strategy: open tasks (no completion, cancelled ones included) with
-- the score that places them. Order by is_unplaced, sort_key, task_id (see docs/sampling.md).
-- The review queues of annotated tasks are `review_queue` in sql/quality.sql.
CREATE OR REPLACE MACRO labeling_queue(strategy, seed, mv) AS TABLE
WITH open_tasks AS (
    SELECT id FROM tasks WHERE id NOT IN (SELECT task_id FROM completions)
), scores AS (
    -- Read for the strategies that place tasks by it only (a constant filter otherwise:
    -- sequential and uniform read no prediction).
    SELECT task_id, avg(score) AS mean_score
    FROM predictions
    WHERE strategy IN ('prediction-score-min', 'prediction-score-max', 'uncertainty')
      AND (mv IS NULL OR model_version = mv)
    GROUP BY task_id
), label_probs AS (
    SELECT task_id, label, avg(probability) AS p
    FROM prediction_label_scores
    WHERE strategy IN ('margin', 'entropy')
      AND (mv IS NULL OR model_version = mv) AND probability IS NOT NULL
    GROUP BY task_id, label
), label_stats AS (
    SELECT task_id,
           list_sort(list(p), 'DESC')[1] - coalesce(list_sort(list(p), 'DESC')[2], 0) AS margin,
           abs(sum(CASE WHEN p > 0 THEN (p / total) * ln(p / total) ELSE 0 END)) AS entropy
    FROM (SELECT *, sum(p) OVER (PARTITION BY task_id) AS total FROM label_probs)
    WHERE total > 0
    GROUP BY task_id
), label_sets AS (
    -- The labels of each prediction as a sorted set (a null label kept once, last), read
    -- from the prediction's own result: no aggregate per prediction, whose lists DuckDB
    -- cannot spill (3.6 GiB at 10M tasks). Computed for disagreement only.
    SELECT task_id, score,
           list_sort(list_distinct(labels)
                     || CASE WHEN list_count(labels) < len(labels) THEN [NULL] ELSE [] END)
               AS label_set
    FROM (
        SELECT task_id, score, coalesce(flatten(list_transform(
                   CASE WHEN json_type(result) = 'ARRAY' THEN CAST(result AS JSON[]) END,
                   lambda item: lsdb_item_labels(item))), []) AS labels
        FROM predictions WHERE strategy = 'disagreement'
    )
), disagreement AS (
    -- Distinct label sets per task, then per task: both steps plain groupings, which spill.
    SELECT task_id, count(*) - 1 + coalesce(max(hi) - min(lo), 0) AS value
    FROM (SELECT task_id, label_set, count(*) AS n, max(score) AS hi, min(score) AS lo
          FROM label_sets GROUP BY task_id, label_set)
    GROUP BY task_id HAVING sum(n) > 1
), placed AS (
    SELECT o.id AS task_id,
           CASE strategy
               WHEN 'sequential' THEN NULL
               WHEN 'uniform' THEN NULL
               WHEN 'prediction-score-min' THEN s.mean_score
               WHEN 'prediction-score-max' THEN s.mean_score
               WHEN 'uncertainty' THEN s.mean_score
               WHEN 'margin' THEN l.margin
               WHEN 'entropy' THEN l.entropy
               WHEN 'disagreement' THEN d.value
           END AS score,
           CASE strategy
               WHEN 'sequential' THEN 0
               WHEN 'uniform' THEN hash(o.id, seed)::DOUBLE
               WHEN 'prediction-score-min' THEN s.mean_score
               WHEN 'prediction-score-max' THEN -s.mean_score
               WHEN 'uncertainty' THEN abs(s.mean_score - 0.5)
               WHEN 'margin' THEN l.margin
               WHEN 'entropy' THEN -l.entropy
               WHEN 'disagreement' THEN -d.value
           END AS sort_key
    FROM open_tasks AS o
    LEFT JOIN scores AS s ON s.task_id = o.id
    LEFT JOIN label_stats AS l ON l.task_id = o.id
    LEFT JOIN disagreement AS d ON d.task_id = o.id
)
SELECT task_id, score, sort_key, sort_key IS NULL AS is_unplaced FROM placed;
