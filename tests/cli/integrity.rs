//! Issue 9 (integrity): every command all-or-nothing, data kept exactly, no panic on any
//! query, memory bounded by the screen. Each test is one finding of issue 9, written to
//! fail before its fix.

use serde_json::{Value, json};

use crate::support::{TestEnv, peak_kib};

fn with_tasks(n: usize) -> TestEnv {
    let env = TestEnv::new();
    let tasks: Vec<Value> = (0..n).map(|i| json!({"data": {"text": format!("t{i}")}})).collect();
    env.write("five.json", Value::Array(tasks).to_string());
    env.lsdb(&["init", "proj", "--input-path", "five.json"]).ok();
    env
}

// issue_9: `init --force` with a bad input deleted the old store before importing.
#[test]
fn issue_9_init_force_with_bad_input_keeps_the_old_project() {
    let env = with_tasks(5);
    env.write("bad.json", "[{\"data\": 5}]");
    env.lsdb(&["init", "proj", "--force", "--input-path", "bad.json"])
        .fails_with("bad.json:1:2: \"data\" of task 0 is a number");
    assert_eq!(env.count("tasks"), 5);
    let leftovers: Vec<String> = std::fs::read_dir(env.path("proj"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["lsdb.duckdb"], "a failed init left files behind");
    // And a good one replaces it.
    env.write("two.json", "[{\"data\": {\"text\": \"a\"}}, {\"data\": {\"text\": \"b\"}}]");
    env.lsdb(&["init", "proj", "--force", "--input-path", "two.json"]).ok();
    assert_eq!(env.count("tasks"), 2);
}

// issue_9: `import bad.json -l new.xml` failed but kept the new config.
#[test]
fn issue_9_a_failed_import_keeps_the_old_config() {
    let env = with_tasks(1);
    let config = env.fixture("configs/text_classification.xml");
    env.write("bad.json", "[{\"data\": {\"text\": \"x\"}}, 7]");
    env.lsdb(&["-p", "proj", "import", "bad.json", "-l", config.to_str().unwrap()])
        .fails_with("bad.json:1:27: task 1 is a number, not an object");
    env.lsdb(&["-p", "proj", "config", "show"]).fails_with("the project has no label config");
    assert_eq!(env.count("config_objects"), 0);
}

// issue_9: a given id of 2^63-1 followed by a task without id gave "transaction is aborted".
#[test]
fn issue_9_an_id_without_room_after_it_says_so() {
    let env = with_tasks(1);
    env.write(
        "max.json",
        "[{\"id\": 9223372036854775807, \"data\": {\"text\": \"a\"}}, {\"data\": {\"text\": \"b\"}}]",
    );
    let err = env.lsdb(&["-p", "proj", "import", "max.json"]).fails_with(
        "max.json:1:2: task id 9223372036854775807 leaves no room for the 1 new task id after it",
    );
    assert!(!err.contains("aborted"), "{err}");
    assert_eq!(env.count("tasks"), 1);
}

// issue_9: after a failed `.import` the shell stayed in an aborted transaction.
#[test]
fn issue_9_the_shell_goes_on_after_a_failed_import() {
    let env = with_tasks(1);
    env.write(
        "max.json",
        "[{\"id\": 9223372036854775807, \"data\": {\"text\": \"a\"}}, {\"data\": {\"text\": \"b\"}}]",
    );
    let script = "SELECT current_setting('memory_limit') AS m;\n.import max.json\n\
                  SELECT count(*) AS n FROM tasks;\nSELECT current_setting('memory_limit') AS m;\n";
    let run = env.lsdb_stdin(&["-p", "proj", "shell", "--format", "jsonl"], script);
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout());
    assert_eq!(lines[1], "{\"n\":1}");
    assert_eq!(lines[0], lines[2], "memory_limit was not restored");
    assert!(run.stderr().contains("leaves no room"), "{}", run.stderr());
    assert!(!run.stderr().contains("aborted"), "{}", run.stderr());
}

// issue_9: `SELECT TIME '12:00'::TIME_NS` panicked in the driver.
#[test]
fn issue_9_every_duckdb_type_prints_in_every_format() {
    let env = with_tasks(1);
    env.lsdb(&["-p", "proj", "sql", "SELECT TIME '12:00'::TIME_NS AS t"]).ok();
    let all = "SELECT * FROM test_all_types()";
    // Values as JSON text: BIGNUM's 309 digits are valid JSON beyond f64.
    type Row = std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>;
    let out = env.lsdb(&["-p", "proj", "sql", "--format", "json", all]).ok();
    let rows: Vec<Row> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 3);
    let max = |column: &str| rows[1][column].get().to_string();
    assert_eq!(max("time_ns"), "\"24:00:00\"");
    assert_eq!(max("hugeint"), "170141183460469231731687303715884105727");
    assert_eq!(max("uhugeint"), "340282366920938463463374607431768211455");
    assert_eq!(max("dec38_10"), "9999999999999999999999999999.9999999999");
    assert!(max("bignum").len() > 300, "{}", max("bignum"));
    assert_eq!(max("uuid"), "\"ffffffff-ffff-ffff-ffff-ffffffffffff\"");
    assert_eq!(max("map"), r#"{"key1":"🦆🦆🦆🦆🦆🦆","key2":"goose"}"#);
    assert_eq!(max("union"), r#"{"age":5}"#);
    assert_eq!(max("fixed_int_array"), "[4,5,6]");
    assert_eq!(max("bit"), "\"10101\"");
    assert_eq!(max("small_enum"), "\"GOOSE\"");
    assert_eq!(rows[1].len(), 59);
    for column in rows[2].values() {
        assert_eq!(column.get(), "null");
    }
    for format in ["table", "csv", "jsonl"] {
        let out = env.lsdb(&["-p", "proj", "sql", "--format", format, all]).ok();
        assert!(out.contains("GOOSE"), "{format}: {out}");
    }
    let script = format!("{all};\nSELECT TIME '12:00'::TIME_NS AS t;\nSELECT 42 AS after;\n");
    let out = env.lsdb_stdin(&["-p", "proj", "shell", "--format", "csv"], &script).ok();
    assert!(out.contains("12:00:00") && out.ends_with("after\n42\n"), "{out}");
}

// issue_9: numbers in data, meta, results and fields changed on the way through.
#[test]
fn issue_9_numbers_come_back_byte_for_byte() {
    let env = TestEnv::new();
    let task = r#"[{"id": 1, "data": {"big": 123456789012345678901, "x": 0.23053804129850775, "tiny": 5e-324, "neg": -0.0, "e": 1E+2},
  "meta": {"m": 1.10},
  "annotations": [{"id": 7, "result": [{"value": {"x": 12.500000000000002}}], "lead_time": 3.0}],
  "predictions": [{"id": 8, "result": [], "score": 0.36088106914938645, "model_version": "v1"}]}]"#;
    env.write("n.json", task);
    env.lsdb(&["init", "proj", "--input-path", "n.json"]).ok();
    env.lsdb(&["-p", "proj", "export", "-o", "out1.json"]).ok();
    let first = std::fs::read_to_string(env.path("out1.json")).unwrap();
    for text in [
        "123456789012345678901",
        "0.23053804129850775",
        "5e-324",
        "-0.0",
        "1E+2",
        "1.10",
        "12.500000000000002",
        "\"lead_time\":3.0",
        "0.36088106914938645",
    ] {
        assert!(first.contains(text), "{text} lost: {first}");
    }
    // Round and round: the file does not move.
    env.lsdb(&["init", "again", "--input-path", "out1.json"]).ok();
    env.lsdb(&["-p", "again", "export", "-o", "out2.json"]).ok();
    assert_eq!(std::fs::read_to_string(env.path("out2.json")).unwrap(), first);
    let score = env
        .lsdb(&[
            "-p",
            "again",
            "sql",
            "--format",
            "csv",
            "--no-headers",
            "SELECT score FROM predictions",
        ])
        .ok();
    assert_eq!(score, "0.36088106914938645\n");
    // The flat formats keep the digits too (they failed with "number out of range").
    for format in ["json-min", "csv"] {
        let out = env.lsdb(&["-p", "again", "export", "--format", format]).ok();
        for text in ["123456789012345678901", "0.23053804129850775", "5e-324", "-0.0"] {
            assert!(out.contains(text), "{format}: {text} lost: {out}");
        }
    }
}

// issue_9: a repeated CSV header dropped a cell silently.
#[test]
fn issue_9_repeated_and_empty_csv_headers_keep_every_cell() {
    let env = TestEnv::new();
    env.write("dup.csv", "text,label,label,\nhello,x,y,z\n");
    env.lsdb(&["init", "proj", "--input-path", "dup.csv"]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks"),
        json!([{"data": {"text": "hello", "label": "x", "label.1": "y", "Unnamed: 3": "z"}}])
    );
}

// issue_9: Label Studio's documented format has annotation ids as strings.
#[test]
fn issue_9_annotation_ids_given_as_strings_import() {
    let env = TestEnv::new();
    env.write(
        "s.json",
        r#"[{"data": {"text": "a"}, "annotations": [{"id": "1001", "result": []}], "predictions": [{"id": "77", "result": []}]}]"#,
    );
    env.lsdb(&["init", "proj", "--input-path", "s.json"]).ok();
    assert_eq!(env.query("SELECT id FROM completions"), json!([{"id": 1001}]));
    assert_eq!(env.query("SELECT id FROM predictions"), json!([{"id": 77}]));
}

// issue_9: a failed import into a missing project left `typo/lsdb.duckdb` behind.
#[test]
fn issue_9_failed_commands_on_missing_projects_leave_nothing() {
    let env = TestEnv::new();
    env.lsdb(&["-p", "typo", "import", "missing.json"]).fails_with("missing.json: no such file");
    assert!(!env.path("typo").exists(), "import left a project folder");
    env.write("bad.json", "[1]");
    env.lsdb(&["-p", "typo", "import", "bad.json"]).fails_with("bad.json:1:2: task 0 is a number");
    env.lsdb(&["init", "typo2", "--input-path", "bad.json"]).fails_with("task 0 is a number");
    env.lsdb(&["init", "deep/er/typo3", "--input-path", "bad.json"])
        .fails_with("task 0 is a number");
    let left: Vec<String> = std::fs::read_dir(env.path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["bad.json"], "failed commands left files behind");
    std::fs::create_dir(env.path("empty")).unwrap();
    for args in [
        &["sql", "SELECT 1"][..],
        &["stats"],
        &["export"],
        &["sample", "--strategy", "sequential"],
        &["validate"],
        &["shell"],
        &["config", "show"],
    ] {
        let mut all = vec!["-p", "empty"];
        all.extend_from_slice(args);
        env.lsdb(&all).fails_with("no lsdb project at empty");
        assert_eq!(std::fs::read_dir(env.path("empty")).unwrap().count(), 0, "{args:?} made files");
    }
    // An import into a new project that works makes it, parent folders too.
    env.write("ok.json", "[{\"data\": {\"text\": \"a\"}}]");
    env.lsdb(&["-p", "fresh", "import", "ok.json"]).ok();
    assert_eq!(env.query_in("fresh", "SELECT count(*) AS n FROM tasks"), json!([{"n": 1}]));
    env.lsdb(&["init", "a/b/c", "--input-path", "ok.json"]).ok();
    assert_eq!(env.query_in("a/b/c", "SELECT count(*) AS n FROM tasks"), json!([{"n": 1}]));
}

// issue_9: `lsdb sql --format csv` over 20M rows held the whole result, twice (2.2 GB).
#[test]
fn issue_9_csv_and_json_output_stream_in_flat_memory() {
    let env = with_tasks(1);
    let mut peaks = Vec::new();
    for n in [100_000, 2_000_000] {
        for format in ["csv", "jsonl"] {
            let sql = format!("SELECT range, 'row ' || range AS label FROM range({n})");
            let (status, kib) =
                peak_kib(env.command(&["-p", "proj", "sql", "--format", format, &sql]));
            assert!(status.success(), "{format} {n}");
            peaks.push((n, format, kib));
        }
    }
    // 20x the rows (~50 MB of output) may not cost more than a little over the small run.
    for format in ["csv", "jsonl"] {
        let small = peaks.iter().find(|p| p.0 == 100_000 && p.1 == format).unwrap().2;
        let large = peaks.iter().find(|p| p.0 == 2_000_000 && p.1 == format).unwrap().2;
        assert!(
            large < small + 64 * 1024,
            "{format}: {small} KiB for 100k rows, {large} KiB for 2M"
        );
    }
}

// issue_9: `validate` evaluated the view three times and said only in a table that it cut rows.
#[test]
fn issue_9_validate_says_when_it_cut_the_rows_in_every_format() {
    let env = TestEnv::with_project("configs/validation.xml", "tasks/validation_cases.json");
    for format in ["json", "csv", "jsonl", "table"] {
        let run = env.lsdb(&["-p", "proj", "validate", "--format", format, "--limit", "3"]);
        let stderr = run.exit(1);
        assert!(stderr.contains("showing 3 of 9 rows of validation_errors"), "{format}: {stderr}");
    }
    let run = env.lsdb(&["-p", "proj", "validate", "--format", "json", "--limit", "3"]);
    let rows: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
}
