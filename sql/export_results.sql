-- lsdb export of a training format: one page of tasks, in export order, each with the results
-- of one source as a JSON list: `{table}` is completions or predictions (chosen by lsdb, never
-- by input). `export_ids(pos, task_id)` holds the chosen tasks; ? are the page bounds.
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
    WHERE task_id IN (SELECT task_id FROM export_ids WHERE pos > ? AND pos <= ?)
    GROUP BY task_id
) AS r ON r.task_id = t.id
WHERE e.pos > ? AND e.pos <= ?
ORDER BY e.pos
