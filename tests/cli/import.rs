//! JSON imports: each task shape of the seed, ids, duplicates, and every kind of bad input.

use serde_json::json;

use crate::support::TestEnv;

fn env_with_project() -> TestEnv {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    env
}

#[test]
fn seed_text_classification_example_round_trips() {
    let env = env_with_project();
    env.fixture("configs/text_classification.xml");
    env.lsdb(&["-p", "proj", "config", "set", "configs/text_classification.xml"]).ok();
    let path = env.fixture("tasks/text_classification.json");
    let out = env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert!(out.contains("imported 1 task, 1 completion, 1 prediction"), "{out}");
    assert_eq!(env.counts(), (1, 1, 1));
    let task = &env.query("SELECT id, data, source FROM tasks")[0];
    assert_eq!(task["id"], 123);
    assert_eq!(
        task["data"],
        json!({"my_text": "Opossum is great", "ref_id": 456,
               "meta_info": {"timestamp": "2020-03-09 18:15:28.212882", "location": "North Pole"}})
    );
    assert!(task["source"].as_str().unwrap().ends_with("text_classification.json[0]"));
    let pred = &env.query("SELECT task_id, score, result FROM predictions")[0];
    assert_eq!(pred["task_id"], 123);
    assert_eq!(pred["score"], 0.95);
    assert_eq!(pred["result"][0]["value"], json!({"choices": ["Neutral"]}));
    let completion = &env.query("SELECT task_id, result FROM completions")[0];
    assert_eq!(completion["result"][0]["value"], json!({"choices": ["Positive"]}));
    assert_eq!(env.count("validation_errors"), 0);
}

#[test]
fn seed_image_preannotation_keeps_every_field() {
    let env = env_with_project();
    let path = env.fixture("tasks/image_bbox_predictions.json");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(env.counts(), (1, 0, 1));
    let pred = &env.query("SELECT score, result FROM predictions")[0];
    assert_eq!(pred["score"], 0.95);
    let r = &pred["result"][0];
    assert_eq!(r["original_width"], 600);
    assert_eq!(r["score"], 0.87);
    assert_eq!(r["value"]["rectanglelabels"], json!(["Airplane"]));
    assert_eq!(r["value"]["width"], 33.90);
}

#[test]
fn tasks_without_data_are_wrapped_whole() {
    let env = env_with_project();
    let path = env.fixture("tasks/texts_without_data.json");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    let rows = env.query("SELECT id, data FROM tasks ORDER BY id");
    assert_eq!(
        rows,
        json!([{"id": 1, "data": {"text": "1st text"}}, {"id": 2, "data": {"text": "2nd text"}},
               {"id": 3, "data": {"text": "3rd text"}}])
    );
}

#[test]
fn a_single_task_object_with_meta() {
    let env = env_with_project();
    let path = env.fixture("tasks/single_task.json");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data, meta FROM tasks"),
        json!([{"data": {"text": "just one task"}, "meta": {"batch": 7}}])
    );
}

#[test]
fn jsonl_with_blank_lines_and_crlf() {
    let env = env_with_project();
    let path = env.fixture("tasks/tasks.jsonl");
    let out = env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert!(out.contains("imported 3 tasks, 0 completions, 1 prediction"), "{out}");
    assert!(out.contains("skipped 1"), "{out}");
    let rows = env.query("SELECT id, data->>'text' AS text, source FROM tasks ORDER BY id");
    assert_eq!(rows[0]["id"], 40);
    assert_eq!(rows[1]["id"], 41);
    assert_eq!(rows[1]["text"], "first");
    assert_eq!(rows[2]["text"], "second, without data");
    assert!(rows[2]["source"].as_str().unwrap().ends_with("tasks.jsonl:3"));
    assert_eq!(
        env.query("SELECT model_version FROM predictions"),
        json!([{"model_version": "v1"}])
    );
}

#[test]
fn json_dir_reads_every_json_file_sorted() {
    let env = env_with_project();
    let dir = env.fixture("dirs/json_dir");
    let out =
        env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "json-dir"]).ok();
    assert!(out.contains("imported 3 tasks"), "{out}");
    assert!(out.contains("skipped 1"), "{out}");
    let rows = env.query("SELECT data->>'text' AS t FROM tasks ORDER BY id");
    assert_eq!(rows, json!([{"t": "from a"}, {"t": "also from a"}, {"t": "from nested b"}]));
}

#[test]
fn given_ids_are_kept_and_new_ids_follow_the_highest() {
    let env = env_with_project();
    env.write(
        "a.json",
        r#"[{"data": {"t": 1}}, {"id": 10, "data": {"t": 2}}, {"data": {"t": 3}}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    assert_eq!(
        env.query("SELECT list(id ORDER BY id) AS ids FROM tasks"),
        json!([{"ids": [10, 11, 12]}])
    );
    env.write("b.json", r#"[{"data": {"t": 4}}]"#);
    env.lsdb(&["-p", "proj", "import", "b.json"]).ok();
    assert_eq!(env.query("SELECT max(id) AS m FROM tasks"), json!([{"m": 13}]));
}

#[test]
fn an_id_already_in_the_store_fails_the_import() {
    let env = env_with_project();
    env.write("a.json", r#"[{"id": 3, "data": {"t": 1}}]"#);
    env.lsdb(&["-p", "proj", "import", "a.json"]).ok();
    env.write("b.json", r#"[{"data": {"t": 2}}, {"id": 3, "data": {"t": 9}}]"#);
    env.lsdb(&["-p", "proj", "import", "b.json"])
        .fails_with("b.json:1:22: task id 3 is already in the store");
    assert_eq!(env.counts(), (1, 0, 0));
}

#[test]
fn reimported_data_is_reported_and_can_be_skipped() {
    let env = env_with_project();
    let path = env.fixture("tasks/texts_without_data.json");
    let p = path.to_str().unwrap();
    env.lsdb(&["-p", "proj", "import", p]).ok();
    let out = env.lsdb(&["-p", "proj", "import", p]).ok();
    assert!(out.contains("3 duplicates of tasks already present"), "{out}");
    assert_eq!(env.count("tasks"), 6);
    let out = env.lsdb(&["-p", "proj", "import", p, "--skip-duplicates"]).ok();
    assert!(out.contains("imported 0 tasks"), "{out}");
    assert_eq!(env.count("tasks"), 6);
    assert_eq!(
        env.query("SELECT count(*) AS n, sum(duplicates) AS d FROM imports"),
        json!([{"n": 3, "d": 6}])
    );
}

/// Each malformed input: exit 2, `path:line:col: message`, store unchanged.
#[test]
fn bad_inputs_fail_cleanly_and_change_nothing() {
    let env = env_with_project();
    let good = env.fixture("tasks/text_classification.json");
    env.lsdb(&["-p", "proj", "import", good.to_str().unwrap()]).ok();
    let cases: &[(&str, &str)] = &[
        (
            "tasks/bad_truncated.json",
            "bad_truncated.json:2:24: unexpected end of file inside the task that starts at line 2, column 2",
        ),
        (
            "tasks/bad_top_level_string.json",
            "bad_top_level_string.json:1:1: expected a JSON list of tasks or a task object, found a string",
        ),
        (
            "tasks/bad_task_not_object.json",
            "bad_task_not_object.json:2:2: task 1 is a number, not an object",
        ),
        (
            "tasks/bad_data_not_object.json",
            "bad_data_not_object.json:2:3: \"data\" of task 0 is a string",
        ),
        (
            "tasks/bad_predictions_not_list.json",
            "bad_predictions_not_list.json:1:2: \"predictions\" of task 0 is an object",
        ),
        (
            "tasks/bad_score_not_number.json",
            "bad_score_not_number.json:1:2: \"score\" of prediction 0 of task 0 is the string \"high\"",
        ),
        ("tasks/bad_duplicate_id.json", "task id 5 appears more than once in the input"),
        ("tasks/bad_empty.json", "bad_empty.json:1:1: the file is empty"),
        ("tasks/bad_invalid_utf8.json", "bad_invalid_utf8.json:1:"),
    ];
    for (fixture, message) in cases {
        let path = env.fixture(fixture);
        env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).fails_with(message);
        assert_eq!(env.counts(), (1, 1, 1), "{fixture} changed the store");
    }
    env.lsdb(&["-p", "proj", "import", "missing.json"])
        .fails_with("missing.json: no such file or folder");
    std::fs::create_dir_all(env.path("folder")).unwrap();
    env.lsdb(&["-p", "proj", "import", "folder", "--format", "json"])
        .fails_with("folder: is a folder, but --format json reads a file (use --format json-dir");
    assert_eq!(env.count("imports"), 1);
}

#[test]
fn invalid_utf8_names_the_line_and_says_how_to_fix_it() {
    let env = env_with_project();
    let path = env.fixture("tasks/bad_invalid_utf8.json");
    let err = env
        .lsdb(&["-p", "proj", "import", path.to_str().unwrap()])
        .fails_with("bad_invalid_utf8.json:1:");
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn skip_invalid_keeps_the_good_records_and_the_rejects() {
    let env = env_with_project();
    let path = env.fixture("tasks/mixed_valid_invalid.json");
    let out = env.lsdb(&["-p", "proj", "import", path.to_str().unwrap(), "--skip-invalid"]).ok();
    assert!(out.contains("imported 2 tasks"), "{out}");
    assert!(out.contains("rejected 2"), "{out}");
    let rejects = env.query("SELECT line, reason FROM import_rejects ORDER BY line");
    assert_eq!(rejects[0]["line"], 2);
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("\"data\" of task 1 is a string"));
    assert_eq!(rejects[1]["line"], 4);
    let texts = env.query("SELECT list(data->>'text' ORDER BY id) AS t FROM tasks");
    assert_eq!(texts, json!([{"t": ["good 1", "good 2"]}]));
}

#[test]
fn a_second_writer_is_told_the_store_is_busy() {
    let env = env_with_project();
    // The shell holds the store open while it waits for input on a pipe.
    let mut holder = env
        .command(&["-p", "proj", "shell"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut waited = 0;
    let err = loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let output = env
            .command(&["-p", "proj", "stats"])
            .env("LSDB_BUSY_TIMEOUT", "0.3")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let run = crate::support::Run { args: vec!["stats".into()], output };
        if !run.output.status.success() || waited > 50 {
            break run;
        }
        waited += 1;
    };
    let stderr = err.fails_with("is busy: another lsdb");
    assert!(stderr.contains("lsdb.duckdb"), "{stderr}");
    assert!(stderr.contains("try again"), "{stderr}");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    env.lsdb(&["-p", "proj", "stats"]).ok();
}

#[test]
fn reading_json_from_standard_input() {
    let env = env_with_project();
    env.lsdb_stdin(&["-p", "proj", "import", "-"], r#"[{"data": {"text": "piped"}}]"#).ok();
    assert_eq!(
        env.query("SELECT data->>'text' AS t, source FROM tasks"),
        json!([{"t": "piped", "source": "-[0]"}])
    );
}

#[test]
fn a_killed_import_leaves_the_store_as_it_was() {
    let env = env_with_project();
    let good = env.fixture("tasks/text_classification.json");
    env.lsdb(&["-p", "proj", "import", good.to_str().unwrap()]).ok();
    env.write_task_list("big.json", 400_000, "big", true);
    let mut child = env
        .command(&["-p", "proj", "import", "big.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import ended before it could be killed; make big.json bigger"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(env.counts(), (1, 1, 1));
    assert_eq!(env.count("imports"), 1);
    let again = env.fixture("tasks/texts_without_data.json");
    env.lsdb(&["-p", "proj", "import", again.to_str().unwrap()]).ok();
    assert_eq!(env.count("tasks"), 4);
}

/// Damaged copies of real inputs: every one is imported or refused cleanly, never a panic,
/// and a refused one leaves the store as it was.
#[test]
fn damaged_inputs_never_panic_or_half_import() {
    let env = env_with_project();
    let sources =
        ["tasks/text_classification.json", "tasks/csv_edge_cases.csv", "tasks/tasks.jsonl"];
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    for source in sources {
        let original = std::fs::read(env.fixture(source)).unwrap();
        let ext = source.rsplit('.').next().unwrap();
        for round in 0..8 {
            let mut bytes = original.clone();
            if round % 2 == 0 {
                bytes.truncate(next() % bytes.len());
            } else {
                for _ in 0..3 {
                    let i = next() % bytes.len();
                    bytes[i] = b"{}[]\",:\n\xff0"[next() % 10];
                }
            }
            let name = format!("damaged_{round}.{ext}");
            env.write(&name, &bytes);
            let before = env.counts();
            let run = env.lsdb(&["-p", "proj", "import", &name, "--skip-duplicates"]);
            let code = run.output.status.code();
            assert!(code == Some(0) || code == Some(2), "{name}: {code:?} {}", run.stderr());
            assert!(!run.stderr().contains("panicked"), "{name}: {}", run.stderr());
            if code == Some(2) {
                assert!(run.stderr().starts_with("lsdb: error: "), "{}", run.stderr());
                assert_eq!(env.counts(), before, "{name} changed the store");
            }
        }
    }
}

// Issue 24: Label Studio's own editor examples number tasks from 0. A task id of 0 is kept,
// tasks without ids go on after it, it comes back in an export, and a second import of that
// export (or a --merge of it) finds the task again.
#[test]
fn issue_24_a_task_id_of_0_is_kept() {
    let env = env_with_project();
    env.write(
        "zero.json",
        r#"[{"id": 0, "data": {"text": "first"}, "annotations": [{"result": []}]},
            {"data": {"text": "second"}}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "zero.json"]).ok();
    let ids = env.query("SELECT id, data->>'text' AS text FROM tasks ORDER BY id");
    assert_eq!(ids, json!([{"id": 0, "text": "first"}, {"id": 1, "text": "second"}]));
    let exported = env.lsdb(&["-p", "proj", "export"]).ok();
    let tasks: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(tasks[0]["id"], 0);
    env.write("export.json", exported.clone());
    // The same id again is refused by name; --merge matches the task instead.
    env.lsdb(&["-p", "proj", "import", "export.json"])
        .fails_with("task id 0 is already in the store");
    let out = env.lsdb(&["-p", "proj", "import", "export.json", "--merge"]).ok();
    assert!(out.contains("matched 2 tasks already here"), "{out}");
    assert_eq!(env.count("tasks"), 2);
    // Annotation ids still start at 1.
    env.write(
        "ann0.json",
        r#"[{"data": {"text": "x"}, "annotations": [{"id": 0, "result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "ann0.json"])
        .fails_with("ids are whole numbers from 1 (or leave them out)");
}
