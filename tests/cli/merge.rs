//! Issue 10: annotations come back onto their tasks. The fixture
//! `label_studio/ls_1.23.2_text_export.json` is what Label Studio 1.23.2 exported
//! (`GET /api/projects/{id}/export?exportType=JSON&download_all_tasks=true`) after
//! `bench/ls_loop.py` imported lsdb's export of `tasks/sampling.json` and added two
//! annotations through its API: Label Studio's own task ids, prediction ids in place of
//! predictions, `completed_by` ids, `import_id` on the annotations that came from lsdb.

use serde_json::{Value, json};

use crate::support::TestEnv;

const EXPORT: &str = "label_studio/ls_1.23.2_text_export.json";

fn sampling_project() -> TestEnv {
    TestEnv::with_project("configs/sampling.xml", "tasks/sampling.json")
}

fn counts(env: &TestEnv) -> Value {
    env.query(
        "SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM completions) AS c, \
         (SELECT count(*) FROM predictions) AS p",
    )
}

#[test]
fn a_label_studio_export_merges_onto_its_tasks_once() {
    let env = sampling_project();
    let export = env.fixture(EXPORT);
    let export = export.to_str().unwrap();
    assert_eq!(counts(&env), json!([{"tasks": 8, "c": 2, "p": 7}]));
    let out = env.lsdb(&["-p", "proj", "import", export, "--merge"]).ok();
    assert!(
        out.contains(
            "matched 8 tasks already here; imported 0 new tasks; added 2 completions, 0 predictions"
        ),
        "{out}"
    );
    assert!(out.contains("left out 7 prediction ids without content"), "{out}");
    // The two new annotations sit on the tasks they were made on, with their author.
    assert_eq!(
        env.query(
            "SELECT t.data->>'text' AS text, c.fields->'completed_by' AS by, c.lead_time \
             FROM completions c JOIN tasks t ON t.id = c.task_id WHERE c.import_id = 2 ORDER BY text"
        ),
        json!([{"text": "one", "by": 1, "lead_time": 4.25}, {"text": "two", "by": 1, "lead_time": 4.25}])
    );
    // The same export again changes nothing.
    let again = env.lsdb(&["-p", "proj", "import", export, "--merge"]).ok();
    assert!(again.contains("added 0 completions, 0 predictions"), "{again}");
    assert_eq!(counts(&env), json!([{"tasks": 8, "c": 4, "p": 7}]));
    // The queue moved: the labeled tasks left it.
    let queue =
        env.lsdb(&["-p", "proj", "sample", "--strategy", "sequential", "--format", "csv"]).ok();
    assert_eq!(queue.lines().count(), 5, "{queue}");
    assert!(!queue.contains("\n1,1,") && !queue.contains("\n1,2,"), "{queue}");
}

#[test]
fn without_merge_the_export_adds_tasks_and_says_they_are_duplicates() {
    let env = sampling_project();
    let export = env.fixture(EXPORT);
    let out = env.lsdb(&["-p", "proj", "import", export.to_str().unwrap()]).ok();
    assert!(out.contains("imported 8 tasks"), "{out}");
    assert!(out.contains("8 duplicates of tasks already present"), "{out}");
}

#[test]
fn lsdb_ids_match_when_the_data_agrees_and_new_tasks_are_added() {
    let env = sampling_project();
    // Label Studio 0.x keeps lsdb's ids: an lsdb export in the ls0 dialect is that shape.
    let ls0 = env.lsdb(&["-p", "proj", "export", "--dialect", "ls0"]).ok();
    let mut tasks: Vec<Value> = serde_json::from_str(&ls0).unwrap();
    tasks[0]["completions"] = json!([{"result": [], "was_cancelled": true, "completed_by": 7}]);
    tasks.push(json!({"data": {"text": "brand new"}, "completions": [{"result": []}]}));
    env.write("ls0.json", serde_json::to_string(&tasks).unwrap());
    let out = env.lsdb(&["-p", "proj", "import", "ls0.json", "--merge"]).ok();
    // Its 7 predictions are the ones the tasks have: not added again.
    assert!(
        out.contains(
            "matched 8 tasks already here; imported 1 new task; added 2 completions, 0 predictions"
        ),
        "{out}"
    );
    assert_eq!(env.query("SELECT max(id) AS m FROM tasks"), json!([{"m": 9}]));
    assert_eq!(
        env.query("SELECT count(*) AS n FROM completions WHERE task_id = 1"),
        json!([{"n": 1}])
    );
}

#[test]
fn an_id_in_the_store_with_other_data_is_an_error_naming_both() {
    let env = sampling_project();
    env.write(
        "other.json",
        r#"[{"id": 3, "data": {"text": "not task three"}, "annotations": [{"result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "other.json", "--merge"])
        .fails_with("other.json:1:2: --merge: task id 3 is in the store (from ");
    assert_eq!(counts(&env), json!([{"tasks": 8, "c": 2, "p": 7}]));
}

// issue 10: `lsdb stats` shows annotations by author and by day.
#[test]
fn stats_count_annotations_by_author_and_day() {
    let env = sampling_project();
    let export = env.fixture(EXPORT);
    env.lsdb(&["-p", "proj", "import", export.to_str().unwrap(), "--merge"]).ok();
    let by_author = env.lsdb(&["-p", "proj", "stats", "--by", "author", "--format", "csv"]).ok();
    assert_eq!(
        by_author.lines().collect::<Vec<_>>()[..2],
        ["author,annotations,cancelled,tasks,first,last", "(unknown),2,1,2,,"]
    );
    assert!(by_author.lines().nth(2).unwrap().starts_with("1,2,0,2,2026-11-25T"), "{by_author}");
    let by_day = env.lsdb(&["-p", "proj", "stats", "--by", "day", "--format", "csv"]).ok();
    assert_eq!(by_day, "day,annotations,cancelled,tasks\n(unknown),2,1,2\n2026-11-25,2,0,2\n");
    let table = env.lsdb(&["-p", "proj", "stats"]).ok();
    assert!(table.contains("author") && table.contains("2026-11-25"), "{table}");
}
