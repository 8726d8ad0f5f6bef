-- lsdb store schema: the tables of a project. Applied in one transaction when a store is
-- created or migrated; every statement is safe to run twice.

CREATE TABLE IF NOT EXISTS lsdb_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR
);

CREATE TABLE IF NOT EXISTS imports (
    id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    tasks BIGINT NOT NULL,
    completions BIGINT NOT NULL,
    predictions BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    skipped BIGINT NOT NULL
);

-- Task, completion and prediction ids are unique because lsdb's import decides them (given ids
-- are checked against the store and the input). They carry no PRIMARY KEY: DuckDB holds a
-- key index's new entries in memory until the import commits, which made a 4M-task import
-- run out of memory; without one, an import's memory does not grow with it.
-- `data_hash` (the MD5 of `data`, for finding duplicates) is computed when read, not stored:
-- storing it cost every import a 32-character unique string per task (schema 3).
CREATE TABLE IF NOT EXISTS tasks (
    id BIGINT NOT NULL,
    data JSON NOT NULL,
    meta JSON,
    extra JSON,
    import_id BIGINT,
    source VARCHAR,
    data_hash VARCHAR GENERATED ALWAYS AS (md5(CAST(data AS VARCHAR))) VIRTUAL
);

CREATE TABLE IF NOT EXISTS completions (
    id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    result JSON NOT NULL,
    was_cancelled BOOLEAN NOT NULL DEFAULT false,
    lead_time DOUBLE,
    created_at VARCHAR,
    fields JSON NOT NULL,
    import_id BIGINT
);

CREATE TABLE IF NOT EXISTS predictions (
    id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    model_version VARCHAR,
    score DOUBLE,
    result JSON NOT NULL,
    fields JSON NOT NULL,
    import_id BIGINT
);

CREATE TABLE IF NOT EXISTS import_rejects (
    import_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    line BIGINT,
    reason VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS label_config (
    id INTEGER PRIMARY KEY,
    xml VARCHAR NOT NULL,
    source VARCHAR,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS config_objects (
    ord INTEGER NOT NULL,
    name VARCHAR,
    tag VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    attr VARCHAR NOT NULL,
    value_type VARCHAR,
    encoding VARCHAR,
    time_column VARCHAR,
    channels VARCHAR[] NOT NULL,
    line BIGINT
);

CREATE TABLE IF NOT EXISTS config_controls (
    ord INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    to_name VARCHAR[] NOT NULL,
    labels VARCHAR[] NOT NULL,
    is_dynamic BOOLEAN NOT NULL,
    -- Every attribute of the control tag, as written ({"choice": "multiple", ...}; schema 4).
    attrs JSON,
    -- The names results give its labels: each `<Choice>`/`<Label>`'s alias, else its value,
    -- in config order, each once (schema 4).
    classes VARCHAR[]
);
ALTER TABLE config_controls ADD COLUMN IF NOT EXISTS attrs JSON;
ALTER TABLE config_controls ADD COLUMN IF NOT EXISTS classes VARCHAR[];

-- Buckets (schema version 2). A storage definition: `lsdb storage add NAME URL [options]`.
-- `options` holds the listing options and the connection (endpoint, region, credentials
-- given as flags; credentials from the environment are never stored).
CREATE TABLE IF NOT EXISTS storages (
    name VARCHAR PRIMARY KEY,
    url VARCHAR NOT NULL,
    options JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_sync_import BIGINT
);

-- Tasks pushed into Label Studio projects (`lsdb push`, schema 4): which task of the store is
-- which task of which project on which server. Written when Label Studio answers an import
-- (and, for a push cut off before that, from the `meta.lsdb_task_id` of the project's tasks).
CREATE TABLE IF NOT EXISTS ls_links (
    server VARCHAR NOT NULL,
    project_id BIGINT NOT NULL,
    task_id BIGINT NOT NULL,
    ls_task_id BIGINT NOT NULL,
    pushed_at TIMESTAMP NOT NULL
);

-- Annotations `lsdb pull` brought from Label Studio (schema 4): which completion each is, and
-- the `updated_at` it had, so an edit there replaces the stored one and nothing comes twice.
CREATE TABLE IF NOT EXISTS ls_annotation_links (
    server VARCHAR NOT NULL,
    project_id BIGINT NOT NULL,
    ls_annotation_id BIGINT NOT NULL,
    completion_id BIGINT NOT NULL,
    updated_at VARCHAR
);

-- What a completion held before `lsdb pull` replaced it with an edit made in Label Studio.
CREATE TABLE IF NOT EXISTS completion_history (
    completion_id BIGINT NOT NULL,
    result JSON NOT NULL,
    fields JSON NOT NULL,
    replaced_at TIMESTAMP NOT NULL
);

-- Every bucket object an import or a sync read, by its canonical URI (s3://bucket/key),
-- whichever storage definition read it: a sync reads an object again only when its ETag or
-- size changed, and never from two definitions that cover it.
CREATE TABLE IF NOT EXISTS storage_objects (
    uri VARCHAR NOT NULL,
    etag VARCHAR,
    size BIGINT NOT NULL,
    last_modified TIMESTAMP,
    import_id BIGINT NOT NULL
);
