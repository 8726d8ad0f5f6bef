//! Issue 25: label quality as SQL views (`task_agreement`, `annotator_agreement`,
//! `control_agreement`, `label_issues`, `prediction_accuracy`), `lsdb quality`, the review
//! queues and `stats`. Equality with scikit-learn, krippendorff and cleanlab on larger data
//! is `tests/quality/compare.py` (in CI); these tests hold the definitions of
//! docs/quality.md on a project small enough to work out by hand
//! (fixtures/tasks/quality.json), and the bad input.

use serde_json::{Value, json};

use crate::support::TestEnv;

fn project() -> TestEnv {
    TestEnv::with_project("configs/quality.xml", "tasks/quality.json")
}

/// Rows of a query as compact JSON lines, for comparing whole tables.
#[track_caller]
fn rows(env: &TestEnv, sql: &str) -> Vec<String> {
    match env.query(sql) {
        Value::Array(rows) => rows.iter().map(Value::to_string).collect(),
        other => panic!("not rows: {other}"),
    }
}

/// Task 1: three annotators (pos, pos, neg) → one agreeing pair of three; equal sets in
/// another order agree; two spans with IoU 0.8 match, an annotator with no span matches
/// neither (F1 0); equal text agrees. Tasks 2 and 4: nobody drew a span, so `ner` has no
/// row (two empty answers say nothing). Task 4: annotator 1's later completion replaces the
/// earlier one, the cancelled one counts for nothing.
#[test]
fn issue_25_task_agreement_follows_the_definitions() {
    let env = project();
    assert_eq!(
        rows(
            &env,
            "SELECT task_id, from_name, annotations, round(agreement, 12) AS a FROM task_agreement ORDER BY ALL"
        ),
        [
            r#"{"task_id":1,"from_name":"ner","annotations":3,"a":0.333333333333}"#,
            r#"{"task_id":1,"from_name":"note","annotations":3,"a":0.333333333333}"#,
            r#"{"task_id":1,"from_name":"only","annotations":3,"a":1.0}"#,
            r#"{"task_id":1,"from_name":"sentiment","annotations":3,"a":0.333333333333}"#,
            r#"{"task_id":1,"from_name":"topics","annotations":2,"a":1.0}"#,
            r#"{"task_id":2,"from_name":"sentiment","annotations":2,"a":1.0}"#,
            r#"{"task_id":4,"from_name":"sentiment","annotations":2,"a":1.0}"#,
        ]
    );
}

/// Krippendorff's alpha by hand for `sentiment`: values pos×4, neg×3 in tasks with two
/// answers or more (n = 7); D_o = (9 - 5) / 2 = 2 (task 1), D_e = (49 - 25) / 6 = 4, so
/// alpha = 0.5. A control where everyone gave one value has no alpha, and says why.
#[test]
fn issue_25_control_agreement_gives_alpha_or_a_reason() {
    let env = project();
    assert_eq!(
        rows(&env, "SELECT from_name, tasks, annotators, alpha, reason FROM control_agreement"),
        [
            r#"{"from_name":"sentiment","tasks":3,"annotators":4,"alpha":0.5,"reason":null}"#,
            r#"{"from_name":"topics","tasks":1,"annotators":2,"alpha":null,"reason":"one value only: alpha is undefined"}"#,
            r#"{"from_name":"only","tasks":1,"annotators":3,"alpha":null,"reason":"one value only: alpha is undefined"}"#,
            r#"{"from_name":"ner","tasks":1,"annotators":4,"alpha":null,"reason":"regions: alpha needs one value per annotation"}"#,
            r#"{"from_name":"note","tasks":1,"annotators":3,"alpha":0.0,"reason":null}"#,
        ]
    );
}

/// Cohen's kappa: annotators 1 and two@example.com (an email, as Label Studio gives the
/// user object) agree on both shared tasks with two labels in play (kappa 1); 1 and 3
/// disagree on their one task (kappa 0, as scikit-learn gives); 1 and 4 share one task with
/// one label each, where kappa is undefined: NULL with the reason, no division by zero.
#[test]
fn issue_25_annotator_agreement_kappa_and_undefined_kappa() {
    let env = project();
    assert_eq!(
        rows(
            &env,
            "SELECT annotator_a, annotator_b, tasks, kappa, percent_agreement, reason \
             FROM annotator_agreement WHERE from_name = 'sentiment' ORDER BY ALL"
        ),
        [
            r#"{"annotator_a":"1","annotator_b":"3","tasks":1,"kappa":0.0,"percent_agreement":0.0,"reason":null}"#,
            r#"{"annotator_a":"1","annotator_b":"4","tasks":1,"kappa":null,"percent_agreement":1.0,"reason":"both annotators gave one and the same answer on every task"}"#,
            r#"{"annotator_a":"1","annotator_b":"two@example.com","tasks":2,"kappa":1.0,"percent_agreement":1.0,"reason":null}"#,
            r#"{"annotator_a":"3","annotator_b":"two@example.com","tasks":1,"kappa":0.0,"percent_agreement":0.0,"reason":null}"#,
        ]
    );
}

/// cleanlab's confident learning by hand: thresholds pos 0.5 (mean of 0.1, 0.1, 0.9, 0.9),
/// neg 0.4, neu never reached. Task 1's model is confident in neg only, so its two pos
/// answers are issues; task 2's in pos only, so both neg answers are. Task 3's prediction
/// has no value.scores: left out and counted, as are answers to the one-label control.
#[test]
fn issue_25_label_issues_and_what_was_left_out() {
    let env = project();
    assert_eq!(
        rows(&env, "SELECT * FROM label_issues ORDER BY completion_id"),
        [
            r#"{"task_id":1,"completion_id":11,"from_name":"sentiment","given_label":"pos","suggested_label":"neg","self_confidence":0.1}"#,
            r#"{"task_id":1,"completion_id":12,"from_name":"sentiment","given_label":"pos","suggested_label":"neg","self_confidence":0.1}"#,
            r#"{"task_id":2,"completion_id":21,"from_name":"sentiment","given_label":"neg","suggested_label":"pos","self_confidence":0.2}"#,
            r#"{"task_id":2,"completion_id":22,"from_name":"sentiment","given_label":"neg","suggested_label":"pos","self_confidence":0.2}"#,
        ]
    );
    assert_eq!(
        rows(&env, "SELECT * FROM label_issue_summary"),
        [
            r#"{"from_name":"sentiment","answers":8,"judged":7,"issues":4,"no_probabilities":1,"not_one_label":0}"#,
            r#"{"from_name":"only","answers":3,"judged":0,"issues":0,"no_probabilities":3,"not_one_label":0}"#,
        ]
    );
}

#[test]
fn issue_25_prediction_accuracy_per_model_version() {
    let env = project();
    // Predictions of sentiment: task 1 neg (against pos, pos, neg), task 2 pos (against neg,
    // neg), task 3 pos (against pos), task 4 pos (against pos, pos): 4 of 8 pairs. The model
    // draws no spans: against task 1's two annotators who did, F1 0; where neither did, no
    // pair.
    assert_eq!(
        rows(
            &env,
            "SELECT model_version, from_name, tasks, accuracy, f1 FROM prediction_accuracy \
             ORDER BY from_name"
        ),
        [
            r#"{"model_version":"m1","from_name":"ner","tasks":1,"accuracy":null,"f1":0.0}"#,
            r#"{"model_version":"m1","from_name":"sentiment","tasks":4,"accuracy":0.5,"f1":null}"#,
        ]
    );
}

/// Boxes matched one to one by IoU ≥ 0.5 with the same label: mean IoU of the matches.
#[test]
fn issue_25_prediction_accuracy_mean_iou_of_boxes() {
    let env = TestEnv::new();
    let rect = |x: f64, label: &str| {
        json!({"from_name": "label", "to_name": "image", "type": "rectanglelabels",
               "value": {"x": x, "y": 0, "width": 10, "height": 10, "rotation": 0,
                         "rectanglelabels": [label]}})
    };
    let tasks = json!([{
        "data": {"image": "a.jpg"},
        "annotations": [{"completed_by": 1, "result": [rect(0.0, "Car"), rect(50.0, "Car")]}],
        // A box overlapping the first by 8 of 12 units of width (IoU 2/3), one with the
        // wrong label, and one far away.
        "predictions": [{"model_version": "v", "result": [rect(2.0, "Car"), rect(50.0, "Person"), rect(80.0, "Car")]}]
    }]);
    env.write("t.json", tasks.to_string());
    let config = env.fixture("configs/image_bbox.xml");
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap(), "--input-path", "t.json"]).ok();
    let got = env.query(
        "SELECT tasks, round(mean_iou, 12) AS iou, round(f1, 12) AS f1 FROM prediction_accuracy",
    );
    // One match of IoU 8/12; F1 = 2·1 / (3 + 2).
    assert_eq!(got, json!([{"tasks": 1, "iou": 0.666666666667, "f1": 0.4}]));
}

#[test]
fn issue_25_quality_command_prints_three_parts_and_formats() {
    let env = project();
    let table = env.lsdb(&["-p", "proj", "quality"]).ok();
    for title in [
        "Agreement per control (Krippendorff's alpha, nominal)",
        "Agreement per pair of annotators (Cohen's kappa)",
        "Label issues (cleanlab's confident learning)",
    ] {
        assert!(table.contains(title), "{table}");
    }
    let json: Value =
        serde_json::from_str(&env.lsdb(&["-p", "proj", "quality", "--format", "json"]).ok())
            .expect("json");
    assert_eq!(json[0]["from_name"], "sentiment");
    assert_eq!(json[0]["alpha"], 0.5);
    let csv = env.lsdb(&["-p", "proj", "quality", "--show", "issues", "--format", "csv"]).ok();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "from_name,answers,judged,issues,no_probabilities,not_one_label",
            "sentiment,8,7,4,1,0",
            "only,3,0,0,3,0",
        ]
    );
    env.lsdb(&["-p", "proj", "quality", "--show", "everything"]).fails_with("everything");
}

#[test]
fn issue_25_stats_shows_alpha_per_control() {
    let env = project();
    let table = env.lsdb(&["-p", "proj", "stats"]).ok();
    assert!(table.contains("alpha"), "{table}");
    let csv = env.lsdb(&["-p", "proj", "stats", "--by", "agreement", "--format", "csv"]).ok();
    assert!(
        csv.starts_with(
            "from_name,tasks,annotators,alpha,percent_agreement,reason\nsentiment,3,4,0.5,"
        ),
        "{csv}"
    );
    // One annotation per task: no agreement section, and no cost for it.
    let single = TestEnv::with_project("configs/quality.xml", "tasks/quality.json");
    single.lsdb(&["-p", "proj", "sql", "DELETE FROM completions WHERE task_id <> 3"]).ok();
    let table = single.lsdb(&["-p", "proj", "stats"]).ok();
    assert!(!table.contains("alpha"), "{table}");
}

#[test]
fn issue_25_review_queues_for_sample_and_export() {
    let env = project();
    let low =
        env.lsdb(&["-p", "proj", "sample", "--strategy", "low-agreement", "--format", "csv"]).ok();
    assert_eq!(
        low.lines().collect::<Vec<_>>(),
        ["position,task_id,score", "1,1,0.3333333333333333", "2,2,1", "3,4,1"]
    );
    let issues =
        env.lsdb(&["-p", "proj", "sample", "--strategy", "label-issues", "--format", "csv"]).ok();
    assert_eq!(
        issues.lines().collect::<Vec<_>>(),
        ["position,task_id,score", "1,1,0.1", "2,2,0.2"]
    );
    env.lsdb(&[
        "-p",
        "proj",
        "export",
        "--sample",
        "label-issues",
        "--limit",
        "1",
        "-o",
        "review.json",
    ])
    .ok();
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("review.json")).unwrap()).unwrap();
    assert_eq!(exported.as_array().map(Vec::len), Some(1));
    assert_eq!(exported[0]["id"], 1);
    assert_eq!(exported[0]["annotations"].as_array().map(Vec::len), Some(3));
}

/// Bad input is normal input: results that are no list, items without a value, scores
/// that are text or out of range, a label the config lacks, a store with no config or no
/// annotations. Every view answers; nothing panics or divides by zero.
#[test]
fn issue_25_bad_results_never_break_the_views() {
    let env = TestEnv::new();
    let tasks = json!([
        {"data": {"text": "a"}, "annotations": [
            {"completed_by": 2, "result": [1, null, {"from_name": "sentiment"}]},
            {"completed_by": 3, "result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["nope"]}}]},
            {"completed_by": 4, "result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": "pos"}}]},
            {"completed_by": 5, "result": [{"from_name": "ner", "type": "labels", "value": {"start": "x", "end": 3, "labels": ["PER"]}}]}],
         "predictions": [
            {"result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"], "scores": {"pos": "high", "neg": 2, "neu": -1}}}]}]},
        {"data": {"text": "b"}, "annotations": [
            {"completed_by": 1, "result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos", "neg"]}}]},
            {"completed_by": 2, "result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"]}}]}],
         "predictions": [{"result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"], "scores": {"pos": 0.5, "neg": 0.5, "neu": 0.0}}}]}]}
    ]);
    env.write("t.json", tasks.to_string());
    let config = env.fixture("configs/quality.xml");
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    env.lsdb(&["-p", "proj", "import", "t.json"]).ok();
    // The import refuses a result that is no list; `lsdb sql` can still write one.
    env.lsdb(&[
        "-p",
        "proj",
        "sql",
        "INSERT INTO completions (id, task_id, result, fields) VALUES (900, 1, '\"not a list\"', '{\"completed_by\": 9}'); \
         INSERT INTO predictions (id, task_id, result, fields) VALUES (900, 1, '{\"not\": 1}', '{}')",
    ])
    .ok();
    for view in [
        "task_agreement",
        "annotator_agreement",
        "control_agreement",
        "label_issues",
        "label_judgements",
        "label_issue_summary",
        "prediction_accuracy",
    ] {
        env.lsdb(&["-p", "proj", "sql", &format!("SELECT * FROM {view}")]).ok();
    }
    env.lsdb(&["-p", "proj", "quality"]).ok();
    // Answers: "nope" (no label of the config) and pos+neg (two labels of a single-choice
    // control) are compared as they are but are no cleanlab examples; a bare "pos" is one
    // value, left out for task 1's scores, which are no probabilities; an item without a
    // value and a result that is no list answer nothing.
    assert_eq!(
        rows(
            &env,
            "SELECT from_name, answers, judged, no_probabilities, not_one_label FROM label_issue_summary WHERE from_name = 'sentiment'"
        ),
        [
            r#"{"from_name":"sentiment","answers":4,"judged":1,"no_probabilities":1,"not_one_label":2}"#
        ]
    );
    // No config, no annotations: empty answers, exit 0.
    let bare = TestEnv::new();
    bare.lsdb(&["init", "proj"]).ok();
    let out = bare.lsdb(&["-p", "proj", "quality", "--format", "json"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&out).expect("json"), json!([]));
    bare.lsdb(&["-p", "proj", "sample", "--strategy", "low-agreement"]).ok();
}

/// What a review of the first version found, each held here: choices with an `alias` are
/// judged by the alias results give; one label given twice is one label; text and booleans
/// are no probabilities; a user object without an email is its id; the later `created_at`
/// is the latest completion whatever the ids; numbers compare as numbers; per-region
/// choices and `<Filter>` are not compared.
#[test]
fn issue_25_aliases_repeats_probabilities_and_annotators() {
    let env = TestEnv::new();
    let config = r#"<View>
  <Image name="image" value="$image"/>
  <Filter name="f" toName="label"/>
  <Choices name="label" toName="image">
    <Choice value="Alpha" alias="A"/><Choice value="Beta" alias="B"/>
  </Choices>
  <Choices name="region_class" toName="image" perRegion="true"><Choice value="x"/></Choices>
  <Number name="count" toName="image"/>
</View>"#;
    let ch = |v: &str| json!({"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [v]}});
    let num = |n: Value| json!({"from_name": "count", "to_name": "image", "type": "number", "value": {"number": n}});
    let pred = |scores: Value| json!({"result": [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["A"], "scores": scores}}]});
    let tasks = json!([
        {"data": {"image": "1.jpg"}, "annotations": [
            {"id": 1, "completed_by": {"id": 7}, "result": [ch("A"), ch("A"), num(json!(1))]},
            {"id": 2, "completed_by": 8, "result": [ch("A"), num(json!(1.0))]}],
         "predictions": [pred(json!({"A": 0.9, "B": 0.1}))]},
        {"data": {"image": "2.jpg"}, "annotations": [
            {"id": 3, "completed_by": 7, "result": [ch("B")]},
            {"id": 4, "completed_by": 8, "result": [ch("B")]}],
         "predictions": [pred(json!({"A": 0.8, "B": 0.2}))]},
        {"data": {"image": "3.jpg"}, "annotations": [
            // Annotator 7's later completion has the lower id.
            {"id": 6, "completed_by": 7, "created_at": "2026-01-01T10:00:00Z", "result": [ch("A")]},
            {"id": 5, "completed_by": 7, "created_at": "2026-01-02T10:00:00Z", "result": [ch("B")]},
            {"id": 9, "completed_by": 8, "result": [ch("B")]}],
         "predictions": [pred(json!({"A": "0.5", "B": true}))]}
    ]);
    env.write("c.xml", config);
    env.write("t.json", tasks.to_string());
    env.lsdb(&["init", "proj", "-l", "c.xml", "--input-path", "t.json"]).ok();
    assert_eq!(
        rows(&env, "SELECT from_name, kind, classes FROM quality_controls ORDER BY ord"),
        [
            r#"{"from_name":"f","kind":null,"classes":[]}"#,
            r#"{"from_name":"label","kind":"choice","classes":["A","B"]}"#,
            r#"{"from_name":"region_class","kind":null,"classes":["x"]}"#,
            r#"{"from_name":"count","kind":"nominal","classes":[]}"#,
        ]
    );
    // Task 1: "A" twice is the label A, as annotator 8's; 1 and 1.0 agree. Task 3: 7's
    // latest is B, as 8's.
    assert_eq!(
        rows(&env, "SELECT task_id, from_name, agreement FROM task_agreement ORDER BY ALL"),
        [
            r#"{"task_id":1,"from_name":"count","agreement":1.0}"#,
            r#"{"task_id":1,"from_name":"label","agreement":1.0}"#,
            r#"{"task_id":2,"from_name":"label","agreement":1.0}"#,
            r#"{"task_id":3,"from_name":"label","agreement":1.0}"#,
        ]
    );
    assert_eq!(
        rows(&env, "SELECT DISTINCT annotator_a, annotator_b FROM annotator_agreement"),
        [r#"{"annotator_a":"7","annotator_b":"8"}"#]
    );
    // Tasks 1 and 2 are judged by the aliases (thresholds A 0.9, B 0.2: each answer is
    // confident in its own label, no issue); task 3's "probabilities" are text and a boolean:
    // left out.
    assert_eq!(
        rows(&env, "SELECT * FROM label_issue_summary"),
        [
            r#"{"from_name":"label","answers":6,"judged":4,"issues":0,"no_probabilities":2,"not_one_label":0}"#
        ]
    );
    assert_eq!(
        rows(
            &env,
            "SELECT completion_id, given_label, suggested_label, left_out IS NULL AS judged FROM label_judgements ORDER BY 1"
        ),
        [
            r#"{"completion_id":1,"given_label":"A","suggested_label":"A","judged":true}"#,
            r#"{"completion_id":2,"given_label":"A","suggested_label":"A","judged":true}"#,
            r#"{"completion_id":3,"given_label":"B","suggested_label":"B","judged":true}"#,
            r#"{"completion_id":4,"given_label":"B","suggested_label":"B","judged":true}"#,
            r#"{"completion_id":5,"given_label":"B","suggested_label":null,"judged":false}"#,
            r#"{"completion_id":9,"given_label":"B","suggested_label":null,"judged":false}"#,
        ]
    );
    // A review queue orders annotations: a model version does not apply.
    env.lsdb(&["-p", "proj", "sample", "--strategy", "label-issues", "--model-version", "m1"])
        .fails_with("--model-version does not apply to the review queue label-issues");
    env.lsdb(&[
        "-p",
        "proj",
        "export",
        "--sample",
        "low-agreement",
        "--model-version",
        "m1",
        "-o",
        "x.json",
    ])
    .fails_with("--model-version does not apply");
    assert!(!env.path("x.json").exists());
}

/// The shell reads the same views, regions included (`lsdb_region_match` is registered on
/// the shell's instance too), and the review queue's macro.
#[test]
fn issue_25_the_shell_queries_the_quality_views() {
    let env = project();
    let out = env
        .lsdb_stdin(
            &["-p", "proj", "shell", "--format", "csv"],
            "SELECT from_name, alpha FROM control_agreement WHERE alpha IS NOT NULL;\n\
             SELECT round(agreement, 4) AS a FROM task_agreement WHERE task_id = 1 AND from_name = 'ner';\n\
             SELECT count(*) AS n FROM review_queue('label-issues', 0, NULL);\n",
        )
        .ok();
    assert_eq!(out, "from_name,alpha\nsentiment,0.5\nnote,0.0\na\n0.3333\nn\n2\n");
}
