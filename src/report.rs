//! Canned queries that several front ends print: the stats row and the validation summary.

/// One row of counts (`lsdb stats`, `.stats`).
pub const STATS_SQL: &str = "SELECT \
    (SELECT count(*) FROM tasks) AS tasks, \
    (SELECT count(*) FROM completions) AS completions, \
    (SELECT count(*) FROM predictions) AS predictions, \
    (SELECT count(DISTINCT task_id) FROM validation_errors) AS invalid_tasks, \
    (SELECT count(*) FROM validation_errors) AS validation_errors, \
    (SELECT count(*) FROM import_rejects) AS rejected, \
    (SELECT count(*) FROM imports) AS imports";

/// Rows of validation_errors per code, most first (`lsdb validate`, `.validate`).
pub const VALIDATION_SUMMARY_SQL: &str = "SELECT code, count(*) AS rows, count(DISTINCT task_id) AS tasks FROM validation_errors \
     GROUP BY code ORDER BY rows DESC, code";

/// The rows of validation_errors in task order.
pub const VALIDATION_ROWS_SQL: &str =
    "SELECT * FROM validation_errors ORDER BY task_id, origin, origin_id, code, detail";
