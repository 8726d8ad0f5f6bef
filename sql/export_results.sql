-- lsdb export of a training format: one page of tasks, in export order, each with the results
-- of one source as a JSON list. lsdb fills in `{table}` (completions or predictions) and
-- `{filter}` (true, or `model_version = $3` with the version bound), never input.
-- `export_ids(pos, task_id)` holds the chosen tasks; $1 and $2 are the page's bounds.
SELECT t.id,
       t.data::VARCHAR AS data,
       t.meta::VARCHAR AS meta,
       t.extra::VARCHAR AS extra,
       coalesce(r.items, '[]') AS results
FROM export_ids AS e
JOIN tasks AS t ON t.id = e.task_id
LEFT JOIN (
    SELECT task_id,
           '[' || string_agg(lsdb_annotation_json(id, fields, result), ',' ORDER BY id) || ']' AS items
    FROM {table}
    WHERE task_id IN (SELECT task_id FROM export_ids WHERE pos > $1 AND pos <= $2) AND {filter}
    GROUP BY task_id
) AS r ON r.task_id = t.id
WHERE e.pos > $1 AND e.pos <= $2
ORDER BY e.pos
