-- lsdb serve: the items of one page of /api/tasks (Label Studio's task list), with the
-- fields Label Studio computes. The ? pairs are the least and greatest task id of the page
-- (the range lets DuckDB skip row groups by their min/max); when the page is not every task
-- between them, $IN_C, $IN_P and $IN_T test the page's ids, written by lsdb from integers.
-- Otherwise they are empty and the statement is the same for every page (prepared once per
-- connection). DISTINCT aggregates cost a page 6 ms each in DuckDB: annotators and model
-- versions come as lists, made unique by lsdb.
SELECT t.id,
       t.data::VARCHAR AS data,
       t.meta::VARCHAR AS meta,
       coalesce(c.items, '[]') AS annotations,
       coalesce(p.items, '[]') AS predictions,
       coalesce(c.done, 0) AS done,
       coalesce(c.cancelled, 0) AS cancelled,
       coalesce(p.n, 0) AS n_predictions,
       c.completed_at,
       p.score,
       coalesce(c.annotators, '[]') AS annotators,
       coalesce(c.ids, '') AS annotation_ids,
       coalesce(p.versions, '[]') AS versions,
       c.lead,
       strftime(i.started_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS created_at
FROM tasks AS t
LEFT JOIN (
    SELECT c.task_id,
           '[' || string_agg(lsdb_annotation_json(c.id, c.fields, c.result), ',' ORDER BY c.id) || ']' AS items,
           count(*) FILTER (WHERE NOT c.was_cancelled) AS done,
           count(*) FILTER (WHERE c.was_cancelled) AS cancelled,
           arg_max(coalesce(c.created_at, strftime(ci.started_at, '%Y-%m-%dT%H:%M:%S.%fZ')), c.id) AS completed_at,
           to_json(list(c.fields->'completed_by' ORDER BY c.id) FILTER (WHERE (c.fields->'completed_by') IS NOT NULL))::VARCHAR AS annotators,
           string_agg(c.id::VARCHAR, ',' ORDER BY c.id) AS ids,
           avg(c.lead_time) AS lead
    FROM completions AS c
    LEFT JOIN imports AS ci ON ci.id = c.import_id
    WHERE c.task_id BETWEEN ? AND ?$IN_C
    GROUP BY c.task_id
) AS c ON c.task_id = t.id
LEFT JOIN (
    SELECT task_id,
           '[' || string_agg(lsdb_annotation_json(id, fields, result), ',' ORDER BY id) || ']' AS items,
           count(*) AS n,
           avg(score) AS score,
           to_json(list(model_version ORDER BY id) FILTER (WHERE model_version IS NOT NULL))::VARCHAR AS versions
    FROM predictions
    WHERE task_id BETWEEN ? AND ?$IN_P
    GROUP BY task_id
) AS p ON p.task_id = t.id
LEFT JOIN imports AS i ON i.id = t.import_id
WHERE t.id BETWEEN ? AND ?$IN_T
