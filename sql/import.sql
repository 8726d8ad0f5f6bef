-- lsdb import: moving one import's staged rows into the store. Each section runs inside the
-- import's transaction; `?` are bound parameters. The staging tables are ordinary tables, so
-- DuckDB writes large imports to disk as they arrive instead of holding them in memory; they
-- are dropped before the import commits, and vanish with it when it fails.

-- name: stage
CREATE OR REPLACE TABLE lsdb_stage_tasks (
    seq BIGINT, given_id BIGINT, data VARCHAR, meta VARCHAR, extra VARCHAR, place VARCHAR,
    source VARCHAR
);
CREATE OR REPLACE TABLE lsdb_stage_completions (
    task_seq BIGINT, seq BIGINT, given_id BIGINT, result VARCHAR, fields VARCHAR,
    was_cancelled BOOLEAN, lead_time DOUBLE, created_at VARCHAR
);
CREATE OR REPLACE TABLE lsdb_stage_predictions (
    task_seq BIGINT, seq BIGINT, given_id BIGINT, result VARCHAR, fields VARCHAR,
    model_version VARCHAR, score DOUBLE
);

-- name: hash
CREATE OR REPLACE TABLE lsdb_stage_hashed AS
SELECT seq, md5(data) AS data_hash FROM lsdb_stage_tasks;

-- name: duplicates
CREATE OR REPLACE TABLE lsdb_stage_duplicates AS
SELECT seq FROM (
    SELECT seq, data_hash,
           row_number() OVER (PARTITION BY data_hash ORDER BY seq) AS nth
    FROM lsdb_stage_hashed
    WHERE seq IN (SELECT seq FROM lsdb_stage_tasks)
) AS h
WHERE nth > 1 OR data_hash IN (SELECT data_hash FROM tasks);

-- name: merge_match
-- --merge: each staged task's task in the store, by lsdb's id when the data agrees, else by
-- the content hash of the data (the oldest such task).
CREATE OR REPLACE TABLE lsdb_stage_matches AS
WITH by_hash AS (SELECT data_hash, min(id) AS id FROM tasks GROUP BY data_hash)
SELECT s.seq, s.given_id, s.place,
       CASE WHEN t.id IS NOT NULL AND t.data_hash = h.data_hash THEN t.id ELSE b.id END AS task_id,
       t.id AS id_owner, t.source AS owner_source
FROM lsdb_stage_tasks AS s
JOIN lsdb_stage_hashed AS h USING (seq)
LEFT JOIN tasks AS t ON t.id = s.given_id
LEFT JOIN by_hash AS b ON b.data_hash = h.data_hash;

-- name: merge_conflict
SELECT place, given_id, owner_source FROM lsdb_stage_matches
WHERE task_id IS NULL AND id_owner IS NOT NULL
ORDER BY seq LIMIT 1;

-- name: merge_set_aside
CREATE OR REPLACE TABLE lsdb_stage_merged AS
SELECT seq, task_id AS id FROM lsdb_stage_matches WHERE task_id IS NOT NULL;
DELETE FROM lsdb_stage_tasks WHERE seq IN (SELECT seq FROM lsdb_stage_merged);
-- What the matched task already has (the annotation Label Studio imported from it, or the
-- same result by the same author at the same time; for predictions the same result, model
-- version and score) is not added again.
DELETE FROM lsdb_stage_completions AS c
WHERE EXISTS (
    SELECT 1 FROM lsdb_stage_merged AS m JOIN completions AS e ON e.task_id = m.id
    WHERE m.seq = c.task_seq
      AND (
          -- Label Studio keeps the id an annotation had when it was imported as import_id.
          e.id = TRY_CAST(json_extract_string(c.fields, '$.import_id') AS BIGINT)
          OR (e.result::VARCHAR = c.result
              AND e.created_at IS NOT DISTINCT FROM c.created_at
              AND json_extract(e.fields, '$.completed_by')
                  IS NOT DISTINCT FROM json_extract(c.fields, '$.completed_by'))
      )
);
DELETE FROM lsdb_stage_predictions AS p
WHERE EXISTS (
    SELECT 1 FROM lsdb_stage_merged AS m JOIN predictions AS e ON e.task_id = m.id
    WHERE m.seq = p.task_seq
      AND e.result::VARCHAR = p.result
      AND e.model_version IS NOT DISTINCT FROM p.model_version
      AND e.score IS NOT DISTINCT FROM p.score
);

-- name: merge_task_ids
INSERT INTO lsdb_stage_task_ids SELECT seq, id FROM lsdb_stage_merged;

-- name: drop_duplicates
DELETE FROM lsdb_stage_tasks WHERE seq IN (SELECT seq FROM lsdb_stage_duplicates);
DELETE FROM lsdb_stage_completions WHERE task_seq IN (SELECT seq FROM lsdb_stage_duplicates);
DELETE FROM lsdb_stage_predictions WHERE task_seq IN (SELECT seq FROM lsdb_stage_duplicates);

-- name: id_taken
SELECT s.given_id, s.place FROM lsdb_stage_tasks AS s JOIN tasks AS t ON t.id = s.given_id
ORDER BY s.seq LIMIT 1;

-- name: id_twice
SELECT given_id, string_agg(place, ', ' ORDER BY seq) FROM lsdb_stage_tasks
WHERE given_id IS NOT NULL GROUP BY given_id HAVING count(*) > 1
ORDER BY min(seq) LIMIT 1;

-- name: assign_task_ids
CREATE OR REPLACE TABLE lsdb_stage_task_ids AS
WITH base AS (
    SELECT greatest(
        (SELECT coalesce(max(id), 0) FROM tasks),
        (SELECT coalesce(max(given_id), 0) FROM lsdb_stage_tasks)
    ) AS top
)
SELECT seq,
       coalesce(given_id,
                (SELECT top FROM base) + row_number() OVER (PARTITION BY given_id IS NULL ORDER BY seq)
       ) AS id
FROM lsdb_stage_tasks;

-- name: insert_tasks
INSERT INTO tasks (id, data, meta, extra, import_id, source)
SELECT i.id, s.data::JSON, s.meta::JSON, s.extra::JSON, ?, s.source
FROM lsdb_stage_tasks AS s
JOIN lsdb_stage_task_ids AS i USING (seq)
ORDER BY s.seq;

-- name: insert_completions
INSERT INTO completions (id, task_id, result, was_cancelled, lead_time, created_at, fields, import_id)
WITH staged AS (
    SELECT c.*, t.id AS task_id,
           c.given_id IS NOT NULL
           AND c.given_id NOT IN (SELECT id FROM completions)
           AND row_number() OVER (PARTITION BY c.given_id ORDER BY c.seq) = 1 AS is_kept
    FROM lsdb_stage_completions AS c JOIN lsdb_stage_task_ids AS t ON t.seq = c.task_seq
), base AS (
    SELECT greatest(
        (SELECT coalesce(max(id), 0) FROM completions),
        (SELECT coalesce(max(given_id), 0) FROM lsdb_stage_completions)
    ) AS top
)
SELECT CASE WHEN is_kept THEN given_id
            ELSE (SELECT top FROM base) + row_number() OVER (PARTITION BY is_kept ORDER BY seq) END,
       task_id, result::JSON, was_cancelled, lead_time, created_at, fields::JSON, ?
FROM staged ORDER BY seq;

-- name: insert_predictions
INSERT INTO predictions (id, task_id, model_version, score, result, fields, import_id)
WITH staged AS (
    SELECT p.*, t.id AS task_id,
           p.given_id IS NOT NULL
           AND p.given_id NOT IN (SELECT id FROM predictions)
           AND row_number() OVER (PARTITION BY p.given_id ORDER BY p.seq) = 1 AS is_kept
    FROM lsdb_stage_predictions AS p JOIN lsdb_stage_task_ids AS t ON t.seq = p.task_seq
), base AS (
    SELECT greatest(
        (SELECT coalesce(max(id), 0) FROM predictions),
        (SELECT coalesce(max(given_id), 0) FROM lsdb_stage_predictions)
    ) AS top
)
SELECT CASE WHEN is_kept THEN given_id
            ELSE (SELECT top FROM base) + row_number() OVER (PARTITION BY is_kept ORDER BY seq) END,
       task_id, model_version, score, result::JSON, fields::JSON, ?
FROM staged ORDER BY seq;

-- name: cleanup
DROP TABLE IF EXISTS lsdb_stage_tasks;
DROP TABLE IF EXISTS lsdb_stage_completions;
DROP TABLE IF EXISTS lsdb_stage_predictions;
DROP TABLE IF EXISTS lsdb_stage_hashed;
DROP TABLE IF EXISTS lsdb_stage_duplicates;
DROP TABLE IF EXISTS lsdb_stage_task_ids;
DROP TABLE IF EXISTS lsdb_stage_matches;
DROP TABLE IF EXISTS lsdb_stage_merged;
