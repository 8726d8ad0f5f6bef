//! `lsdb sql` and `lsdb stats`: output formats, JSON columns, errors.

use serde_json::json;

use crate::support::TestEnv;

fn env_with_tasks() -> TestEnv {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let path = env.fixture("tasks/text_classification.json");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    env
}

#[test]
fn formats_csv_json_jsonl_and_table() {
    let env = env_with_tasks();
    let sql = "SELECT id, data->'meta_info' AS info, 'a,b' AS s, NULL AS n FROM tasks";
    let csv = env.lsdb(&["-p", "proj", "sql", "--format", "csv", sql]).ok();
    assert_eq!(
        csv,
        "id,info,s,n\n123,\"{\"\"timestamp\"\":\"\"2020-03-09 18:15:28.212882\"\",\"\"location\"\":\"\"North Pole\"\"}\",\"a,b\",\n"
    );
    let json = env.lsdb(&["-p", "proj", "sql", "--format", "json", sql]).ok();
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        parsed,
        json!([{"id": 123, "info": {"timestamp": "2020-03-09 18:15:28.212882", "location": "North Pole"}, "s": "a,b", "n": null}])
    );
    let jsonl = env
        .lsdb(&[
            "-p",
            "proj",
            "sql",
            "--format",
            "jsonl",
            "SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a",
        ])
        .ok();
    assert_eq!(jsonl, "{\"a\":1}\n{\"a\":2}\n");
    let table = env.lsdb(&["-p", "proj", "sql", "SELECT id, NULL AS n FROM tasks"]).ok();
    assert!(table.contains("│ 123 ┆ NULL │"), "{table}");
    assert!(table.ends_with("1 row\n"), "{table}");
}

#[test]
fn sql_errors_are_one_line_and_exit_2() {
    let env = env_with_tasks();
    let err = env.lsdb(&["-p", "proj", "sql", "SELECT nope FROM tasks"]).fails_with("nope");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn sql_from_standard_input_with_several_statements() {
    let env = env_with_tasks();
    let out = env
        .lsdb_stdin(
            &["-p", "proj", "sql", "--format", "csv", "-"],
            "CREATE VIEW v AS SELECT id FROM tasks; SELECT * FROM v;",
        )
        .ok();
    assert!(out.ends_with("id\n123\n"), "{out}");
}

#[test]
fn stats_counts_everything() {
    let env = env_with_tasks();
    let out = env.lsdb(&["-p", "proj", "stats", "--format", "json"]).ok();
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        parsed,
        json!([{"tasks": 1, "completions": 1, "predictions": 1, "invalid_tasks": 0, "validation_errors": 0, "rejected": 0, "imports": 1}])
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let env = env_with_tasks();
    let mut child = env
        .command(&["-p", "proj", "sql", "--format", "csv", "SELECT * FROM range(1000000)"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
