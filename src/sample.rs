//! Active-learning sampling: the labeling queue of a strategy, computed by the
//! `labeling_queue` macro in `sql/views.sql`. This module names the strategies, checks the
//! request and builds the ordered query that `sample` and `export --sample` run.

use anyhow::{Result, bail};
use duckdb::{Connection, params};

use crate::query::{Cell, QueryResult};

/// The sampling strategies, in the order `--help` lists them. Each is a branch of the
/// `labeling_queue` macro (the review queues: of `review_queue`), which takes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Strategy {
    /// Tasks in id order
    #[default]
    Sequential,
    /// A random order, the same for the same --seed
    Uniform,
    /// Lowest prediction score first
    PredictionScoreMin,
    /// Highest prediction score first
    PredictionScoreMax,
    /// Least sure first: the score closest to 0.5
    Uncertainty,
    /// Smallest gap between the two most probable labels first
    Margin,
    /// Highest entropy of the per-label probabilities first
    Entropy,
    /// Predictions that disagree most (label sets and scores) first
    Disagreement,
    /// Review: annotated tasks whose annotators agree least first (task_agreement)
    LowAgreement,
    /// Review: tasks with annotations cleanlab flags, least self-confident first
    /// (label_issues)
    LabelIssues,
}

impl Strategy {
    /// The name users type, which `labeling_queue` takes.
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// A strategy by its name; the error lists them all.
    pub fn parse(name: &str) -> Result<Strategy> {
        crate::error::parse_choice(name, "sampling strategy")
    }
}

/// What to sample.
#[derive(Debug, Clone, Default)]
pub struct SampleRequest {
    pub strategy: Strategy,
    pub limit: Option<u64>,
    pub seed: u64,
    pub model_version: Option<String>,
}

impl Strategy {
    /// A review queue of annotated tasks (`review_queue` in sql/quality.sql), not a
    /// labeling queue of open ones.
    pub fn is_review(self) -> bool {
        matches!(self, Strategy::LowAgreement | Strategy::LabelIssues)
    }
}

/// The queue of `req` with each task's position, taking three parameters: strategy, seed,
/// model version. Callers order by `position`. A review queue refuses `--model-version`:
/// it judges annotations, and `label-issues` uses every prediction's probabilities.
pub fn queue_sql(req: &SampleRequest) -> Result<&'static str> {
    if req.strategy.is_review() {
        if req.model_version.is_some() {
            bail!(
                "--model-version does not apply to the review queue {}: it orders annotated \
                 tasks by their annotations; leave it out",
                req.strategy.name()
            );
        }
        return Ok("SELECT task_id, score, is_unplaced, sort_key FROM review_queue(?, ?, ?)");
    }
    Ok("SELECT task_id, score, is_unplaced, sort_key FROM labeling_queue(?, ?, ?)")
}

/// The order of a queue's rows (`queue_sql`'s columns). Callers order by it with their
/// LIMIT, so DuckDB keeps the top N rather than sorting the whole queue (at 10M tasks a
/// numbering of the whole queue held 700 MiB), and number the rows kept.
pub const QUEUE_ORDER: &str = "is_unplaced, sort_key, task_id";

/// DuckDB's memory while a queue is computed: its aggregates over every prediction and
/// completion spill to disk beyond this instead of growing with the store (at 10M tasks:
/// uncertainty 1.0 GiB without, 337 MiB with, in the same time; label-issues 495 → 324 MiB).
const QUEUE_MEMORY: &str = "256MB";

/// Run `work` (which computes a queue) under `QUEUE_MEMORY`; when DuckDB cannot
/// finish within it, run it again without the cap.
/// (The outer error is the setting's; the inner one is `work`'s.)
pub fn within_queue_memory<T>(
    conn: &Connection,
    work: impl Fn() -> duckdb::Result<T>,
) -> Result<duckdb::Result<T>> {
    let capped = {
        let _memory = crate::store::setting::Setting::set(conn, "memory_limit", QUEUE_MEMORY)?;
        work()
    };
    Ok(match capped {
        Err(err) if err.to_string().contains("Out of Memory") => work(),
        done => done,
    })
}

/// The queue for `req`: position, task id and the score that placed the task.
pub fn sample(conn: &Connection, req: &SampleRequest) -> Result<QueryResult> {
    let queue = queue_sql(req)?;
    let sql = format!(
        "SELECT row_number() OVER (ORDER BY {QUEUE_ORDER}) AS position, task_id, score \
         FROM (SELECT * FROM ({queue}) ORDER BY {QUEUE_ORDER} LIMIT ?) ORDER BY position"
    );
    let limit = req.limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
    let rows = within_queue_memory(conn, || {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(
            params![req.strategy.name(), req.seed as i64, req.model_version, limit],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<f64>>(2)?)),
        )?;
        rows.collect::<duckdb::Result<Vec<_>>>()
    })??;
    let mut result = QueryResult {
        columns: vec!["position".into(), "task_id".into(), "score".into()],
        ..QueryResult::default()
    };
    for (pos, id, score) in rows {
        let score = score.filter(|s| s.is_finite()).map_or(Cell::Null, Cell::number);
        result.rows.push(vec![Cell::number(pos), Cell::number(id), score]);
    }
    Ok(result)
}
