//! Validation: each code of validation_errors, `lsdb validate`, `--strict`, adversarial
//! configs, and changing the config without re-importing.

use serde_json::json;

use crate::support::TestEnv;

fn project_with(config: &str, tasks: &str) -> TestEnv {
    let env = TestEnv::new();
    let config = env.fixture(config);
    env.lsdb(&["init", "proj", "--label-config", config.to_str().unwrap()]).ok();
    let tasks = env.fixture(tasks);
    env.lsdb(&["-p", "proj", "import", tasks.to_str().unwrap()]).ok();
    env
}

#[test]
fn each_code_gives_exactly_the_expected_rows() {
    let env = project_with("configs/validation.xml", "tasks/validation_cases.json");
    let run = env.lsdb(&["-p", "proj", "validate", "--format", "csv"]);
    run.exit(1);
    let expected = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/expected/validation_errors.csv"
    ))
    .unwrap();
    assert_eq!(run.stdout(), expected);
    assert!(run.stderr().contains("9 validation errors"), "{}", run.stderr());
}

#[test]
fn a_clean_file_validates_with_exit_0() {
    let env = project_with("configs/validation.xml", "tasks/validation_clean.json");
    let run = env.lsdb(&["-p", "proj", "validate", "--format", "json"]);
    assert_eq!(run.exit(0), "");
    assert_eq!(run.stdout(), "[]\n");
}

#[test]
fn validate_table_shows_a_summary_by_code() {
    let env = project_with("configs/validation.xml", "tasks/validation_cases.json");
    let run = env.lsdb(&["-p", "proj", "validate", "--limit", "2"]);
    run.exit(1);
    let out = run.stdout();
    assert!(out.contains("missing_key") && out.contains("region_out_of_bounds"), "{out}");
    assert!(out.contains("2 rows shown"), "{out}");
}

#[test]
fn results_view_makes_counting_labels_one_group_by() {
    let env = project_with("configs/validation.xml", "tasks/validation_cases.json");
    let rows = env.query(
        "SELECT label, count(*) AS n FROM (SELECT unnest(labels) AS label FROM results WHERE from_name = 'box') GROUP BY label ORDER BY label",
    );
    assert_eq!(
        rows,
        json!([{"label": "Cat", "n": 2}, {"label": "Dog", "n": 2}, {"label": "Horse", "n": 1}])
    );
}

#[test]
fn strict_import_fails_whole_when_new_tasks_break_the_config() {
    let env = TestEnv::new();
    let config = env.fixture("configs/validation.xml");
    env.lsdb(&["init", "proj", "--label-config", config.to_str().unwrap()]).ok();
    let tasks = env.fixture("tasks/validation_cases.json");
    env.lsdb(&["-p", "proj", "import", tasks.to_str().unwrap(), "--strict"]).fails_with(
        "--strict: the new tasks give 9 rows in validation_errors; nothing was imported",
    );
    assert_eq!(env.counts(), (0, 0, 0));
    let clean = env.fixture("tasks/validation_clean.json");
    env.lsdb(&["-p", "proj", "import", clean.to_str().unwrap(), "--strict"]).ok();
    assert_eq!(env.count("tasks"), 1);
}

#[test]
fn changing_the_config_revalidates_without_reimporting() {
    let env = project_with("configs/validation.xml", "tasks/validation_clean.json");
    assert_eq!(env.count("validation_errors"), 0);
    let other = env.fixture("configs/text_classification.xml");
    let out = env.lsdb(&["-p", "proj", "config", "set", other.to_str().unwrap()]).ok();
    assert!(out.contains("validation_errors now has 3 rows"), "{out}");
    let codes =
        env.query("SELECT code, count(*) AS n FROM validation_errors GROUP BY code ORDER BY code");
    assert_eq!(
        codes,
        json!([{"code": "missing_key", "n": 1}, {"code": "unknown_from_name", "n": 2}])
    );
    env.lsdb(&["-p", "proj", "config", "template", "image_bbox"]).ok();
    assert!(env.count("validation_errors") > 0);
    let back = env.fixture("configs/validation.xml");
    let out = env.lsdb(&["-p", "proj", "config", "set", back.to_str().unwrap()]).ok();
    assert!(out.contains("validation_errors now has 0 rows"), "{out}");
}

#[test]
fn adversarial_configs_are_harmless_and_validate_correctly() {
    let env = TestEnv::new();
    let evil_key = "a'); DROP TABLE tasks; --";
    let evil_label = "x' OR '1'='1";
    let config = format!(
        r#"<View>
  <Text name="t1" value="${}"/>
  <Text name="t2" value="$größe"/>
  <Text name="t3" value="$my-key"/>
  <Text name="t4" value="$semi;colon /* c */"/>
  <Choices name="c&quot;1" toName="t1"><Choice value="{}"/><Choice value="ok"/></Choices>
</View>"#,
        evil_key.replace('\'', "&apos;"),
        evil_label.replace('\'', "&apos;")
    );
    env.write("evil.xml", config);
    env.lsdb(&["init", "proj", "-l", "evil.xml"]).ok();
    let task = json!([
        {"data": {evil_key: "v", "größe": "1", "my-key": "2", "semi;colon /* c */": "3"},
         "completions": [{"result": [{"from_name": "c\"1", "to_name": "t1", "type": "choices", "value": {"choices": [evil_label]}}]}]},
        {"data": {"größe": "only this"},
         "completions": [{"result": [{"from_name": "c\"1", "to_name": "t1", "type": "choices", "value": {"choices": ["nope"]}}]}]}
    ]);
    env.write("t.json", task.to_string());
    env.lsdb(&["-p", "proj", "import", "t.json"]).ok();
    assert_eq!(env.count("tasks"), 2);
    let rows = env.query("SELECT task_id, code, detail FROM validation_errors ORDER BY ALL");
    assert_eq!(
        rows,
        json!([
            {"task_id": 2, "code": "missing_key", "detail": "\"a'); DROP TABLE tasks; --\" key is expected in task data (<Text name=\"t1\">)"},
            {"task_id": 2, "code": "missing_key", "detail": "\"my-key\" key is expected in task data (<Text name=\"t3\">)"},
            {"task_id": 2, "code": "missing_key", "detail": "\"semi;colon /* c */\" key is expected in task data (<Text name=\"t4\">)"},
            {"task_id": 2, "code": "unknown_label", "detail": "result 0: label \"nope\" is not one of the labels of <Choices name=\"c\"1\">"}
        ])
    );
    assert_eq!(env.count("tasks"), 2);
}

#[test]
fn five_hundred_object_tags() {
    let env = TestEnv::new();
    let tags: String = (0..500).map(|i| format!("<Text name=\"t{i}\" value=\"$k{i}\"/>")).collect();
    env.write("big.xml", format!("<View>{tags}</View>"));
    env.lsdb(&["init", "proj", "-l", "big.xml"]).ok();
    let data: serde_json::Map<String, serde_json::Value> =
        (0..499).map(|i| (format!("k{i}"), json!("v"))).collect();
    env.write("t.json", json!([{"data": data}]).to_string());
    env.lsdb(&["-p", "proj", "import", "t.json"]).ok();
    assert_eq!(env.count("config_objects"), 500);
    assert_eq!(
        env.query("SELECT task_id, code, detail FROM validation_errors"),
        json!([{"task_id": 1, "code": "missing_key", "detail": "\"k499\" key is expected in task data (<Text name=\"t499\">)"}])
    );
}
