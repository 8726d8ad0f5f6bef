-- lsdb export: one page of tasks, in export order, each with its completions and predictions
-- as JSON lists. `export_ids(pos, task_id)` holds the chosen tasks; $1 and $2 are the page's
-- bounds.
SELECT t.id,
       t.data::VARCHAR AS data,
       t.meta::VARCHAR AS meta,
       t.extra::VARCHAR AS extra,
       coalesce(c.items, '[]') AS completions,
       coalesce(p.items, '[]') AS predictions
FROM export_ids AS e
JOIN tasks AS t ON t.id = e.task_id
LEFT JOIN (
    SELECT task_id,
           '[' || string_agg(lsdb_annotation_json(id, fields, result), ',' ORDER BY id) || ']' AS items
    FROM completions
    WHERE task_id IN (SELECT task_id FROM export_ids WHERE pos > $1 AND pos <= $2)
    GROUP BY task_id
) AS c ON c.task_id = t.id
LEFT JOIN (
    SELECT task_id,
           '[' || string_agg(lsdb_annotation_json(id, fields, result), ',' ORDER BY id) || ']' AS items
    FROM predictions
    WHERE task_id IN (SELECT task_id FROM export_ids WHERE pos > $1 AND pos <= $2)
    GROUP BY task_id
) AS p ON p.task_id = t.id
WHERE e.pos > $1 AND e.pos <= $2
ORDER BY e.pos
