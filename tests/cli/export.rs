//! Export: Label Studio JSON that imports back unchanged, the other formats, sampling and
//! `--where`.

use serde_json::{Value, json};

use crate::support::TestEnv;

fn import(env: &TestEnv, project: &str, fixture: &str) {
    let path = env.fixture(fixture);
    env.lsdb(&["-p", project, "import", path.to_str().unwrap()]).ok();
}

#[test]
fn json_export_imports_back_unchanged() {
    let env = TestEnv::new();
    env.lsdb(&["init", "a"]).ok();
    for f in [
        "tasks/text_classification.json",
        "tasks/image_bbox_predictions.json",
        "tasks/every_field.json",
        "tasks/texts_without_data.json",
    ] {
        import(&env, "a", f);
    }
    let first = env.lsdb(&["-p", "a", "export"]).ok();
    env.write("export.json", &first);
    env.lsdb(&["init", "b"]).ok();
    env.lsdb(&["-p", "b", "import", "export.json"]).ok();
    let second = env.lsdb(&["-p", "b", "export", "--format", "json"]).ok();
    assert_eq!(first, second);
    // The same tasks, completions and predictions, ids included.
    for table in ["tasks", "completions", "predictions"] {
        let sql = format!("SELECT * EXCLUDE (import_id) FROM {table} ORDER BY id");
        let a = env.lsdb(&["-p", "a", "sql", "--format", "json", &sql]).ok();
        let b = env.lsdb(&["-p", "b", "sql", "--format", "json", &sql]).ok();
        let strip = |s: &str| -> Value {
            let mut v: Value = serde_json::from_str(s).unwrap();
            for row in v.as_array_mut().unwrap() {
                row.as_object_mut().unwrap().remove("source");
            }
            v
        };
        assert_eq!(strip(&a), strip(&b), "{table}");
    }
    // Every field of the input comes back.
    let exported: Value = serde_json::from_str(&first).unwrap();
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("tasks/every_field.json")).unwrap())
            .unwrap();
    let task = exported.as_array().unwrap().iter().find(|t| t["id"] == 50).unwrap();
    // Label Studio 1.x reads human annotations under `annotations`.
    let ls1 = |task: &Value| {
        let mut task = task.clone();
        let object = task.as_object_mut().unwrap();
        let annotations = object.remove("completions").unwrap_or(json!([]));
        object.insert("annotations".into(), annotations);
        task
    };
    let mut want = ls1(&original[0]);
    assert_eq!(task, &want);
    want = ls1(&original[1]);
    want["predictions"][0]["id"] = json!(701); // assigned after the highest prediction id, 700
    assert_eq!(exported.as_array().unwrap().iter().find(|t| t["id"] == 51).unwrap(), &want);
}

#[test]
fn jsonl_json_min_and_csv() {
    let env = TestEnv::new();
    env.lsdb(&["init", "p"]).ok();
    import(&env, "p", "tasks/every_field.json");
    let jsonl = env.lsdb(&["-p", "p", "export", "--format", "jsonl"]).ok();
    assert_eq!(jsonl.lines().count(), 2);
    let min: Value =
        serde_json::from_str(&env.lsdb(&["-p", "p", "export", "--format", "json-min"]).ok())
            .unwrap();
    // As label-studio-sdk's converter writes it (tests/converter/compare.py checks the
    // same fixture against the converter itself): without a label config, a control's
    // regions stay a list.
    assert_eq!(
        min[0],
        json!({"text": "all fields", "n": 3, "nested": {"k": [1, 2.5, null]}, "id": 50,
               "class": [{"choices": ["A"]}], "annotator": "a@b.c", "annotation_id": 900,
               "created_at": "2021-01-03T09:00:00Z", "updated_at": null, "lead_time": 12.5})
    );
    assert_eq!(
        min[1],
        json!({"text": "ünïcödé ✓ and \"quotes\"", "id": 51, "annotator": null,
               "annotation_id": null, "created_at": null, "updated_at": null, "lead_time": null})
    );
    let csv = env.lsdb(&["-p", "p", "export", "--format", "csv"]).ok();
    // The converter's csv: sorted columns, texts quoted, numbers bare, CRLF.
    assert_eq!(
        csv,
        "\"annotation_id\",\"annotator\",\"class\",\"created_at\",\"id\",\"lead_time\",\"n\",\"nested\",\"text\",\"updated_at\"\r\n\
         900,\"a@b.c\",\"[{\"\"choices\"\":[\"\"A\"\"]}]\",\"2021-01-03T09:00:00Z\",50,12.5,3,\"{\"\"k\"\":[1,2.5,null]}\",\"all fields\",\"\"\r\n\
         \"\",\"\",\"\",\"\",51,\"\",\"\",\"\",\"ünïcödé ✓ and \"\"quotes\"\"\",\"\"\r\n"
    );
}

#[test]
fn sampled_and_filtered_exports() {
    let env = TestEnv::new();
    env.lsdb(&["init", "p"]).ok();
    import(&env, "p", "tasks/sampling.json");
    let out = env
        .lsdb(&[
            "-p",
            "p",
            "export",
            "--sample",
            "prediction-score-min",
            "--limit",
            "3",
            "--format",
            "jsonl",
        ])
        .ok();
    let ids: Vec<i64> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [7, 2, 5]);
    let out = env.lsdb(&["-p", "p", "export", "--where", "id > 5", "--format", "jsonl"]).ok();
    let ids: Vec<i64> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [6, 7, 8]);
    env.lsdb(&["-p", "p", "export", "--where", "id > 1; DROP TABLE tasks"])
        .fails_with("--where takes one condition, not statements");
    env.lsdb(&["-p", "p", "export", "--where", "no_such_column = 1"])
        .fails_with("is not a valid condition on tasks");
    assert_eq!(env.query_in("p", "SELECT count(*) AS n FROM tasks"), json!([{"n": 8}]));
}

#[test]
fn export_to_a_file_and_parquet() {
    let env = TestEnv::new();
    env.lsdb(&["init", "p"]).ok();
    import(&env, "p", "tasks/every_field.json");
    let run = env.lsdb(&["-p", "p", "export", "-o", "out.json"]);
    run.ok();
    assert!(run.stderr().contains("exported 2 tasks to out.json"));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("out.json")).unwrap()).unwrap();
    assert_eq!(written.as_array().unwrap().len(), 2);
    env.lsdb(&["-p", "p", "export", "--format", "parquet", "-o", "pq"]).ok();
    let sql = format!(
        "SELECT count(*) AS n FROM read_parquet('{}')",
        env.path("pq/completions.parquet").display()
    );
    assert_eq!(env.query_in("p", &sql), json!([{"n": 2}]));
    env.lsdb(&["-p", "p", "export", "--format", "parquet"]).fails_with("give one with -o DIR");
}

// issue 10: Label Studio 1.x reads `annotations`; `--dialect ls0` writes the seed's
// `completions`. Each dialect goes round byte for byte.
#[test]
fn both_dialects_go_round_byte_for_byte() {
    let env = TestEnv::new();
    env.lsdb(&["init", "a"]).ok();
    import(&env, "a", "tasks/text_classification.json");
    for (dialect, key, other) in
        [("ls1", "annotations", "completions"), ("ls0", "completions", "annotations")]
    {
        let first = env.lsdb(&["-p", "a", "export", "--dialect", dialect]).ok();
        let tasks: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(tasks[0][key].as_array().map(Vec::len), Some(1), "{dialect}: {first}");
        assert!(tasks[0].get(other).is_none(), "{dialect}: {first}");
        let file = format!("{dialect}.json");
        env.write(&file, &first);
        let project = format!("b_{dialect}");
        env.lsdb(&["init", &project, "--input-path", &file]).ok();
        let second = env.lsdb(&["-p", &project, "export", "--dialect", dialect]).ok();
        assert_eq!(first, second, "{dialect}");
    }
    env.lsdb(&["-p", "a", "export", "--dialect", "ls2"]).exit(2);
}

// issue 10: the local-file URLs made at import are rewritten for the Label Studio that
// will show them: another host, or Label Studio 1.x's local-files form.
#[test]
fn local_file_urls_are_rewritten_for_label_studio() {
    let env = TestEnv::new();
    let images = env.fixture("dirs/images");
    let images = images.canonicalize().unwrap();
    let images = images.to_str().unwrap();
    env.lsdb(&["init", "p", "--input-path", images, "--input-format", "image-dir"]).ok();
    let urls = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-p", "p", "export", "--format", "jsonl"];
        all.extend_from_slice(args);
        env.lsdb(&all)
            .ok()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["data"]["image"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let plain = urls(&[]);
    assert!(plain[0].starts_with("http://localhost:8080/data/"), "{plain:?}");
    let moved = urls(&["--host-url", "https://labels.example:9000/"]);
    assert_eq!(moved[0], plain[0].replace("http://localhost:8080", "https://labels.example:9000"));
    let root = std::path::Path::new(images).parent().unwrap().to_str().unwrap().to_string();
    let ls1 = urls(&["--url-style", "ls1", "--document-root", &root]);
    assert!(
        ls1.iter().all(|u| u.starts_with("http://localhost:8080/data/local-files/?d=images/")),
        "{ls1:?}"
    );
    assert_eq!(ls1.len(), plain.len());
    env.lsdb(&["-p", "p", "export", "--url-style", "ls1", "--document-root", "/nowhere"])
        .fails_with("is not under --document-root /nowhere");
}

// issue 10: json-min and csv as Label Studio's converter writes them (tests/converter/
// compare.py checks these same fixtures against label-studio-sdk itself, in .ci/run).
#[test]
fn json_min_and_csv_follow_label_studios_converter() {
    let env = TestEnv::with_project("configs/converter_cases.xml", "tasks/converter_cases.json");
    let min: Vec<Value> =
        serde_json::from_str(&env.lsdb(&["-p", "proj", "export", "--format", "json-min"]).ok())
            .unwrap();
    // One record per annotation that was not cancelled, newest first; none for a task
    // whose only annotation was cancelled; the data alone for a task without any.
    let ids: Vec<_> = min.iter().map(|r| (r["id"].clone(), r["annotation_id"].clone())).collect();
    assert_eq!(
        ids,
        [
            (json!(1), json!(12)),
            (json!(1), json!(11)),
            (json!(3), json!(31)),
            (json!(4), json!(null))
        ]
    );
    // One choice or one text as itself; several stay in their region value.
    assert_eq!(min[0]["text_class"], json!({"choices": ["A", "B"]}));
    assert_eq!(min[0]["summary"], json!({"text": ["first", "second"]}));
    assert_eq!(min[1]["summary"], json!("one line"));
    assert_eq!(min[1]["text_class"], json!("A"));
    assert_eq!(min[1]["annotator"], json!("ann@example.org"));
    assert_eq!(min[1]["agreement"], json!(66.67));
    assert_eq!(min[1]["box"][0]["original_width"], json!(640));
    assert_eq!(
        min[1]["chat"],
        json!([{"role": "user", "content": "hi / there"}, {"role": "assistant", "content": ""}])
    );
    assert_eq!(min[2]["id"], json!(3));
    let csv = env.lsdb(&["-p", "proj", "export", "--format", "csv"]).ok();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("\"_data_summary\",") && header.contains("\"chat_transcript\","),
        "{header}"
    );
    assert!(header.contains("\"history\""), "{header}");
    assert!(csv.contains("\"user: hi / there\nassistant:\""), "{csv}");
}
