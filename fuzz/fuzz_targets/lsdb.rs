// lsdb's parsing modules, compiled from ../src without DuckDB, and a receiver that checks
// what they produce. Each fuzz target `include!`s this file at its crate root.
#[allow(dead_code, unused_imports)]
#[path = "../../src/error.rs"]
mod error;
#[allow(dead_code, unused_imports)]
#[path = "../../src/formats.rs"]
mod formats;
#[allow(dead_code, unused_imports)]
#[path = "../../src/labelconfig/mod.rs"]
mod labelconfig;
#[allow(dead_code, unused_imports)]
#[path = "../../src/import"]
mod import {
    pub mod compact;
    pub mod context;
    pub mod csv;
    pub mod json;
    pub mod lines;
    pub mod raw;
    pub mod scan;
    pub mod task;
    pub mod text;
}

/// Checks every task a reader hands out: each JSON column is valid JSON.
#[derive(Default)]
struct Checker {
    tasks: u64,
}

impl import::task::Receiver for Checker {
    fn push(&mut self, task: import::task::Task) -> anyhow::Result<()> {
        for text in [Some(&task.data), task.meta.as_ref(), task.extra.as_ref()].into_iter().flatten() {
            serde_json::from_str::<&serde_json::value::RawValue>(text).expect("valid JSON column");
        }
        for a in task.completions.iter().chain(&task.predictions) {
            serde_json::from_str::<&serde_json::value::RawValue>(&a.result).expect("valid result");
            serde_json::from_str::<&serde_json::value::RawValue>(&a.fields).expect("valid fields");
        }
        self.tasks += 1;
        Ok(())
    }
    fn reject(&mut self, err: error::InputError) -> anyhow::Result<()> {
        assert!(!err.to_string().contains('\n') || err.msg.contains('\n'));
        Ok(())
    }
    fn skip(&mut self, _n: u64) -> anyhow::Result<()> {
        Ok(())
    }
}
