//! Issue 11: the one-pass import keeps every rule of the staged one, and the benchmark's
//! data path runs.

use std::io::Write;

use serde_json::json;

use crate::support::{LSDB, TestEnv, peak_kib};

fn env_with_project() -> TestEnv {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    env
}

// New ids follow the highest id of the store and of the whole input, for tasks,
// completions and predictions alike, even when the highest given id comes late: the rows
// already written take their final ids at the end.
#[test]
fn issue_11_new_ids_follow_given_ids_that_come_late() {
    let env = env_with_project();
    env.write(
        "a.json",
        r#"[{"data": {"t": "a"}, "annotations": [{"result": []}], "predictions": [{"result": []}]},
            {"id": 10, "data": {"t": "b"}, "annotations": [{"id": 50, "result": []}],
             "predictions": [{"id": 7, "result": []}]},
            {"data": {"t": "c"}, "annotations": [{"result": []}], "predictions": [{"result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    assert_eq!(
        env.query("SELECT id, data->>'t' AS t FROM tasks ORDER BY id"),
        json!([{"id": 10, "t": "b"}, {"id": 11, "t": "a"}, {"id": 12, "t": "c"}])
    );
    assert_eq!(
        env.query("SELECT id, task_id FROM completions ORDER BY id"),
        json!([{"id": 50, "task_id": 10}, {"id": 51, "task_id": 11}, {"id": 52, "task_id": 12}])
    );
    assert_eq!(
        env.query("SELECT id, task_id FROM predictions ORDER BY id"),
        json!([{"id": 7, "task_id": 10}, {"id": 8, "task_id": 11}, {"id": 9, "task_id": 12}])
    );
    // Into a store that has tasks: a given id below the store's highest leaves new ids where
    // they were; one above it moves them after it.
    env.write(
        "b.json",
        r#"[{"data": {"t": "d"}}, {"id": 5, "data": {"t": "e"}}, {"data": {"t": "f"}}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "b.json"]).ok();
    env.write("c.json", r#"[{"data": {"t": "g"}}, {"id": 30, "data": {"t": "h"}}]"#);
    env.lsdb(&["-p", "proj", "import", "c.json"]).ok();
    assert_eq!(
        env.query("SELECT list(id ORDER BY data->>'t') AS ids FROM tasks WHERE import_id > 1"),
        json!([{"ids": [13, 5, 14, 31, 30]}])
    );
}

// An annotation id already in the store, or given twice, takes a new id; ids in the store
// are read once, only when a given id could be one of them.
#[test]
fn issue_11_annotation_ids_in_the_store_or_repeated_take_new_ones() {
    let env = env_with_project();
    env.write("a.json", r#"[{"data": {"t": "a"}, "annotations": [{"id": 3, "result": []}]}]"#);
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    env.write(
        "b.json",
        r#"[{"data": {"t": "b"}, "annotations": [{"id": 3, "result": []}, {"id": 2, "result": []},
                                               {"id": 2, "result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "b.json"]).ok();
    assert_eq!(
        env.query("SELECT list(id ORDER BY id) AS ids FROM completions"),
        json!([{"ids": [2, 3, 4, 5]}])
    );
}

// Duplicates are found against the store's hashes and within the input, in one pass.
#[test]
fn issue_11_duplicates_are_found_in_the_store_and_the_input() {
    let env = env_with_project();
    env.write_task_list("a.json", 50, "x", true);
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    env.write(
        "b.json",
        r#"[{"data": {"text": "x task 3"}}, {"data": {"text": "new"}}, {"data": {"text": "new"}}]"#,
    );
    let out = env.lsdb(&["-p", "proj", "import", "b.json", "--skip-duplicates"]).ok();
    assert!(out.contains("imported 1 task"), "{out}");
    assert_eq!(
        env.query("SELECT data_hash = md5(data::VARCHAR) AS same FROM tasks GROUP BY ALL"),
        json!([{"same": true}])
    );
}

// The benchmark's whole data path on 1,000 tasks, so that it does not rot (no timing is
// checked).
#[test]
fn issue_11_the_benchmark_runs_on_a_thousand_tasks() {
    let env = TestEnv::new();
    let data = env.path("bench");
    let bench = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/bench.py");
    let out = std::process::Command::new("python3")
        .args([bench, "--tasks", "1000", "--runs", "1", "--lsdb", LSDB, "--data"])
        .arg(&data)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("results.json")).unwrap()).unwrap();
    let names: Vec<&str> =
        results.as_array().unwrap().iter().map(|r| r["benchmark"].as_str().unwrap()).collect();
    for case in [
        "lsdb import json 1000 tasks",
        "duckdb read_json three tables, json 1000 tasks",
        "duckdb read_json three tables, ZSTD strings, json 1000 tasks",
        "lsdb import jsonl 1000 tasks",
        "lsdb import jsonl 1000 tasks into a store of 1000",
        "duckdb read_csv into tasks, csv 1000 rows",
        "lsdb import csv 1000 rows",
        "duckdb read_csv into tasks, text 1000 rows",
        "lsdb import text 1000 rows",
        "lsdb import image-dir, 100 files",
        "lsdb export json, 1000 tasks",
        "lsdb import the export of 1000 tasks (ids given)",
        // Issue 24: the training formats beside the json export and the file-creation floor.
        "lsdb export json, 1000 box tasks",
        "lsdb export coco, 1000 box tasks",
        "create 1000 small files",
        "lsdb export yolo, 1000 box tasks",
    ] {
        assert!(names.iter().any(|n| n.starts_with(case)), "no {case:?} in {names:?}");
    }
    let count = |project: &str| {
        env.query_in(&format!("bench/{project}"), "SELECT count(*) AS n FROM tasks")
    };
    assert_eq!(count("p_second"), json!([{"n": 2000}]));
    assert_eq!(count("p_images"), json!([{"n": 100}]));
    // The export imported back keeps its ids.
    let ids = env.query_in(
        "bench/p_export",
        "SELECT min(id) AS lo, max(id) AS hi, count(*) AS n, \
         (SELECT count(*) FROM predictions) AS p FROM tasks",
    );
    assert_eq!(ids, json!([{"lo": 1, "hi": 1000, "n": 1000, "p": 2000}]));
    // DuckDB's script for CSV and text does lsdb's job: the same rows.
    for key in ["csv", "text"] {
        let rows = |project: &str| {
            env.query_in(
                &format!("bench/{project}"),
                "SELECT id, data::VARCHAR AS data, source FROM tasks ORDER BY id",
            )
        };
        let lsdb = rows(&format!("p_{key}"));
        assert_eq!(lsdb.as_array().map(Vec::len), Some(1000), "{key}");
        assert_eq!(lsdb, rows(&format!("p_duckdb_{key}")), "{key}");
    }
}

// Records are parsed on other threads while reading goes on, yet the first problem in the
// file is the one told: a broken task early on, not the truncated end the reader finds
// sooner.
#[test]
fn issue_11_the_first_problem_in_the_file_is_told_whatever_thread_finds_it() {
    let env = env_with_project();
    let mut text = String::from("[{\"data\": {\"t\": 0}}, {\"data\": [1]},\n");
    for i in 0..20_000 {
        text.push_str(&format!("{{\"data\": {{\"t\": {i}}}}},\n"));
    }
    text.push_str("{\"data\": {\"t\": ");
    env.write("a.json", &text);
    env.lsdb(&["-p", "proj", "import", "a.json"])
        .fails_with("a.json:1:22: \"data\" of task 1 is a list");
    assert_eq!(env.counts(), (0, 0, 0));
    // The same when both are in the reader's last, unsent chunk.
    env.write("b.json", "[{\"data\": [1]}, {\"data\": {\"t\": ");
    env.lsdb(&["-p", "proj", "import", "b.json"])
        .fails_with("b.json:1:2: \"data\" of task 0 is a list");
    // With --skip-invalid the broken task is set aside, and the truncated end still fails
    // the whole import.
    env.lsdb(&["-p", "proj", "import", "a.json", "--skip-invalid"])
        .fails_with("unexpected end of file");
    assert_eq!(env.counts(), (0, 0, 0));
}

// Stores made before the ids lost their key indexes import as before, with the larger
// memory cap. This one is also of schema 2, which stored `data_hash`: its tasks are rebuilt
// with a computed hash when it is first opened for writing.
#[test]
fn issue_11_stores_with_key_indexes_still_import() {
    let env = env_with_project();
    env.lsdb(&[
        "-p",
        "proj",
        "sql",
        "DROP TABLE tasks; CREATE TABLE tasks (id BIGINT PRIMARY KEY, data JSON NOT NULL, \
         meta JSON, extra JSON, import_id BIGINT, source VARCHAR, data_hash VARCHAR NOT NULL); \
         DROP TABLE predictions; CREATE TABLE predictions (id BIGINT PRIMARY KEY, \
         task_id BIGINT NOT NULL, model_version VARCHAR, score DOUBLE, result JSON NOT NULL, \
         fields JSON NOT NULL, import_id BIGINT); \
         INSERT INTO tasks VALUES (7, '{\"t\":0}', NULL, NULL, NULL, 'old.json[0]', \
         md5('{\"t\":0}')); \
         UPDATE lsdb_meta SET value = '2' WHERE key = 'schema_version'",
    ])
    .ok();
    env.write_task_list("a.json", 5000, "x", true);
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    env.write(
        "b.json",
        r#"[{"data": {"t": 0}}, {"data": {"t": 1}}, {"id": 10, "data": {"t": 2}}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "b.json"]).fails_with("task id 10 is already in the store");
    assert_eq!(env.count("tasks"), 5001);
    // The old task's hash is computed now, and finds the same data as a duplicate.
    env.write("c.json", r#"[{"data": {"t": 0}}]"#);
    let out = env.lsdb(&["-p", "proj", "import", "c.json", "--skip-duplicates"]).ok();
    assert!(out.contains("imported 0 tasks"), "{out}");
    assert_eq!(
        env.query(
            "SELECT count(*) AS n, bool_and(data_hash = md5(data::VARCHAR)) AS same, \
             (SELECT value FROM lsdb_meta WHERE key = 'schema_version') AS version FROM tasks"
        ),
        json!([{"n": 5001, "same": true, "version": "4"}])
    );
}

/// Write a JSON list of `n` tasks, `task(i)` each, a line at a time (a large string in the
/// test process would count in the peak of every child it forks meanwhile, this test's and
/// others'), import it into a new project, and return the import's peak memory in KiB.
fn import_peak_kib(env: &TestEnv, name: &str, n: usize, task: impl Fn(usize) -> String) -> i64 {
    let file = format!("{name}.json");
    let mut out = std::io::BufWriter::new(std::fs::File::create(env.path(&file)).unwrap());
    for i in 0..n {
        writeln!(out, "{}{}", if i == 0 { '[' } else { ',' }, task(i)).unwrap();
    }
    writeln!(out, "]").unwrap();
    drop(out);
    env.lsdb(&["init", name]).ok();
    let (status, kib) = peak_kib(env.command(&["-p", name, "import", &file]));
    assert!(status.success(), "importing {file}");
    kib
}

// DuckDB's appender gathered about 200k rows a table in its own collection, outside the
// import's memory limit, before inserting them: 20x the tasks cost 140 MiB more at the peak.
// Each batch is flushed now, and what grows is the duplicate set (7 MiB here) and DuckDB's
// capped buffers.
#[test]
fn issue_11_import_memory_does_not_hold_the_appenders_rows() {
    let env = TestEnv::new();
    let pad = "lorem ipsum dolor sit amet ".repeat(10);
    let peaks: Vec<i64> = [10_000, 200_000]
        .into_iter()
        .map(|n| {
            import_peak_kib(&env, &format!("t{n}"), n, |i| {
                format!(
                    "{{\"data\": {{\"text\": \"x task {i} {pad}\"}}, \
                     \"predictions\": [{{\"result\": [], \"score\": 0.{i}}}]}}"
                )
            })
        })
        .collect();
    assert!(
        peaks[1] < peaks[0] + 100 * 1024,
        "{} KiB for 10k tasks, {} KiB for 200k",
        peaks[0],
        peaks[1]
    );
}

// `lsdb init DIR --input-path FILE` builds the new project in a folder beside DIR and moves
// it into place at the end. The duplicate check's temporary files (more than 262,144 tasks)
// and the place log of tasks with ids went to DIR, which did not exist yet: the guide's
// first command failed for large inputs.
#[test]
fn issue_11_init_with_a_large_input_keeps_its_temporary_files_beside_the_new_store() {
    let env = TestEnv::new();
    let mut out = std::io::BufWriter::new(std::fs::File::create(env.path("lines.txt")).unwrap());
    for i in 0..270_000 {
        writeln!(out, "line {i}").unwrap();
    }
    drop(out);
    let run =
        env.lsdb(&["init", "new/proj", "--input-path", "lines.txt", "--input-format", "text"]);
    assert!(run.ok().contains("imported 270000 tasks"), "{}", run.stdout());
    env.write_task_list("ids.json", 3, "x", false);
    let ids = std::fs::read_to_string(env.path("ids.json"))
        .unwrap()
        .replace("{\"data\"", "{\"id\": 7, \"data\"");
    env.write("ids.json", ids);
    env.lsdb(&["init", "p2", "--input-path", "ids.json"])
        .fails_with("task id 7 appears more than once in the input (again at ");
    assert!(!env.path("p2").exists());
    let files: Vec<_> =
        std::fs::read_dir(env.path("new/proj")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files, ["lsdb.duckdb"]);
}

// A Label Studio export gives every task, annotation and prediction its id. The import
// checks that no task id comes twice, and says where it came first: that took a hash entry
// and a formatted place per task (about 160 MiB more for 1M exported tasks than for the same
// tasks without ids). Ids that come in ascending runs are kept as runs now, and places as a
// few bytes each.
#[test]
fn issue_11_given_ids_do_not_cost_memory_per_task() {
    let env = TestEnv::new();
    let n = 300_000;
    let peaks: Vec<i64> = [false, true]
        .into_iter()
        .map(|has_ids| {
            import_peak_kib(&env, &format!("ids{has_ids}"), n, |i| {
                let id = |n: usize| if has_ids { format!("\"id\": {n}, ") } else { String::new() };
                let (task, c, p) = (id(i + 1), id(i + 1), id(2 * i + 1));
                format!(
                    "{{{task}\"data\": {{\"text\": \"task {i}\"}}, \
                     \"annotations\": [{{{c}\"result\": []}}], \"predictions\": [{{{p}\"result\": []}}]}}"
                )
            })
        })
        .collect();
    assert!(
        peaks[1] < peaks[0] + 12 * 1024,
        "{} KiB without ids, {} KiB with ids, for {n} tasks",
        peaks[0],
        peaks[1]
    );
}

// `validation_errors` read the result items five times through a CTE, which DuckDB kept in
// memory whole: 825 MiB for 1M tasks with 2M predictions, 3 GiB for 4M. The five checks now
// take one pass over the items.
#[test]
fn validation_memory_does_not_grow_with_the_results() {
    let env = TestEnv::new();
    let config = env.write(
        "c.xml",
        r#"<View><Text name="text" value="$text"/><Choices name="c" toName="text"><Choice value="A"/></Choices></View>"#,
    );
    let mut peaks = Vec::new();
    for n in [20_000, 200_000] {
        let name = format!("v{n}");
        import_peak_kib(&env, &name, n, |i| {
            let item = r#"{"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["A"]}}"#;
            format!(
                "{{\"data\": {{\"text\": \"t{i}\"}}, \"predictions\": [{{\"result\": [{item}, {item}]}}, \
                 {{\"result\": [{item}]}}]}}"
            )
        });
        env.lsdb(&["-p", &name, "config", "set", config.to_str().unwrap()]).ok();
        let (status, kib) = peak_kib(env.command(&["-p", &name, "validate"]));
        assert!(status.success(), "validating {n} tasks");
        peaks.push(kib);
    }
    assert!(
        peaks[1] < peaks[0] + 60 * 1024,
        "validate: {} KiB for 20k tasks, {} KiB for 200k",
        peaks[0],
        peaks[1]
    );
}

// An import writes its strings with ZSTD: DuckDB's default (dictionary and FSST analysis
// of every row group) was two thirds of the appending thread's time, and made a larger store.
// 130k tasks fill more than one row group, so the first is written while rows are appended.
#[test]
fn issue_11_imports_write_strings_with_zstd() {
    let env = env_with_project();
    let mut out = std::io::BufWriter::new(std::fs::File::create(env.path("lines.txt")).unwrap());
    for i in 0..130_000 {
        writeln!(out, "line {i} of a text file").unwrap();
    }
    drop(out);
    env.lsdb(&["-p", "proj", "import", "lines.txt"]).ok();
    assert_eq!(
        env.query(
            "SELECT column_name, count(*) > 0 AS zstd FROM pragma_storage_info('tasks') \
             WHERE compression = 'ZSTD' AND column_name IN ('data', 'source') GROUP BY ALL ORDER BY 1"
        ),
        json!([{"column_name": "data", "zstd": true}, {"column_name": "source", "zstd": true}])
    );
}

// So are imports smaller than a row group (122,880 rows), whose rows DuckDB writes at the
// next checkpoint: lsdb makes it before the import's settings are restored, not when the
// store closes.
#[test]
fn issue_11_small_imports_write_strings_with_zstd_too() {
    let env = env_with_project();
    let text: String = (0..1_000).map(|i| format!("line {i} of a short file\n")).collect();
    env.write("lines.txt", &text);
    env.lsdb(&["-p", "proj", "import", "lines.txt"]).ok();
    assert_eq!(
        env.query(
            "SELECT DISTINCT column_name, compression FROM pragma_storage_info('tasks') \
             WHERE column_name IN ('data', 'source') AND segment_type <> 'VALIDITY' ORDER BY 1"
        ),
        json!([{"column_name": "data", "compression": "ZSTD"}, {"column_name": "source", "compression": "ZSTD"}])
    );
}

// The duplicate check holds 262,144 digests in memory and writes older ones to temporary
// files: duplicates are still found among the store's tasks and this input's, in memory and
// in files, and the files leave nothing behind in the project folder.
#[test]
fn issue_11_duplicates_are_found_beyond_the_digests_held_in_memory() {
    let env = env_with_project();
    let lines = |name: &str, numbers: &mut dyn Iterator<Item = u64>| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(env.path(name)).unwrap());
        for i in numbers {
            writeln!(out, "line {i}").unwrap();
        }
    };
    lines("first.txt", &mut (0..300_000));
    env.lsdb(&["-p", "proj", "import", "first.txt"]).ok();
    // New lines; again lines of the store (the first, the middle, the last); again lines of
    // this file read long before (written out) and just before (in memory).
    let again_store = (0..300_000).step_by(1_000).chain([299_999]);
    let again_input = (300_000..580_000).step_by(5_000).chain([579_999]);
    lines("second.txt", &mut (300_000..580_000).chain(again_store).chain(again_input));
    let out = env.lsdb(&["-p", "proj", "import", "--skip-duplicates", "second.txt"]).ok();
    assert!(out.contains("imported 280000 tasks") && out.contains("358 duplicates"), "{out}");
    assert_eq!(
        env.query("SELECT count(*) AS n, count(DISTINCT data) AS distinct_data FROM tasks"),
        json!([{"n": 580_000, "distinct_data": 580_000}])
    );
    let mut left: Vec<String> = std::fs::read_dir(env.path("proj"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["lsdb.duckdb"]);
}

// Columns a user adds to the tables by hand stay empty on imported rows: the appender names
// lsdb's columns instead of expecting the table's whole width.
#[test]
fn issue_11_columns_added_by_hand_do_not_stop_imports() {
    let env = env_with_project();
    env.lsdb(&[
        "-p",
        "proj",
        "sql",
        "ALTER TABLE tasks ADD COLUMN reviewer VARCHAR; \
         ALTER TABLE predictions ADD COLUMN checked BOOLEAN DEFAULT false; \
         ALTER TABLE completions ADD COLUMN note VARCHAR",
    ])
    .ok();
    env.write_task_list("a.json", 30, "x", true);
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    env.write(
        "b.json",
        r#"[{"data": {"t": 1}, "annotations": [{"result": []}], "predictions": [{"result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "b.json"]).ok();
    assert_eq!(
        env.query(
            "SELECT (SELECT count(*) FROM tasks WHERE reviewer IS NULL) AS t, \
             (SELECT count(*) FROM predictions WHERE NOT checked) AS p, \
             (SELECT count(*) FROM completions WHERE note IS NULL) AS c"
        ),
        json!([{"t": 31, "p": 31, "c": 1}])
    );
}
