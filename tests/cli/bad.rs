//! The bad-input corpus (`fixtures/bad/`, one small file per case, and two big cases made
//! here): every case through the real binary gives exit 2 and one error line, pinned in
//! `fixtures/bad/expected.tsv`, that names the file and line; no panic; the store's counts
//! and its label config stay as they were.

use std::collections::BTreeMap;

use crate::support::{Run, TestEnv};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bad");

/// A project holding one task with a completion and a prediction (task id 123), and a config.
fn project() -> TestEnv {
    TestEnv::with_project("configs/text_classification.xml", "tasks/text_classification.json")
}

/// The store's state that no failed command may change: counts, imports, the config.
fn state(env: &TestEnv) -> serde_json::Value {
    env.query(
        "SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM completions) AS c, \
         (SELECT count(*) FROM predictions) AS p, (SELECT count(*) FROM imports) AS imports, \
         (SELECT count(*) FROM import_rejects) AS rejects, (SELECT xml FROM label_config) AS xml, \
         (SELECT count(*) FROM config_objects) AS objects",
    )
}

/// Run one case: a label config goes through `config set`, anything else through `import`.
fn run_case(env: &TestEnv, rel: &str) -> Run {
    if rel.ends_with(".xml") {
        env.lsdb(&["-p", "proj", "config", "set", rel])
    } else {
        env.lsdb(&["-p", "proj", "import", rel])
    }
}

/// Check the common shape of a failure: exit 2, one `lsdb: error: <file>:<line>` line.
#[track_caller]
fn assert_clean_failure(run: &Run, rel: &str) -> String {
    let stderr = run.exit(2);
    assert!(!stderr.contains("panicked"), "{rel}: lsdb panicked: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{rel}: not one line: {stderr}");
    let line = stderr.trim_end().to_string();
    let rest = line.strip_prefix("lsdb: error: ").unwrap_or_else(|| panic!("{rel}: {line}"));
    let after = rest.strip_prefix(rel).unwrap_or_else(|| panic!("{rel} not named first: {line}"));
    let number: String =
        after.trim_start_matches(':').chars().take_while(char::is_ascii_digit).collect();
    assert!(after.starts_with(':') && !number.is_empty(), "{rel}: no line number in {line}");
    rest.to_string()
}

#[test]
fn every_bad_input_fails_cleanly_and_changes_nothing() {
    let env = project();
    let before = state(&env);
    let expected: BTreeMap<String, String> =
        std::fs::read_to_string(format!("{CORPUS}/expected.tsv"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (name, message) = l.split_once('\t').expect("name<TAB>message");
                (name.to_string(), message.to_string())
            })
            .collect();
    let mut names: Vec<String> = std::fs::read_dir(CORPUS)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.tsv")
        .collect();
    names.sort();
    assert!(names.len() >= 60, "the corpus has only {} cases", names.len());
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(listed, names.iter().collect::<Vec<_>>(), "expected.tsv and the corpus differ");
    let mut wrong = Vec::new();
    for name in &names {
        let rel = format!("bad/{name}");
        env.fixture(&rel);
        let message = assert_clean_failure(&run_case(&env, &rel), &rel);
        let want = expected[name].replace("{file}", &rel);
        if message != want {
            wrong.push(format!("{name}\t{}", message.replace(&rel, "{file}")));
        }
        assert_eq!(state(&env), before, "{name} changed the store");
    }
    assert!(wrong.is_empty(), "messages differ from expected.tsv:\n{}", wrong.join("\n"));
}

/// The two big cases, made here rather than kept in the repository.
#[test]
fn deep_nesting_and_a_50_mb_line_fail_cleanly() {
    let env = project();
    let before = state(&env);
    let mut deep = String::from("[{\"data\": {\"text\": ");
    deep.push_str(&"[".repeat(100_000));
    deep.push_str(&"]".repeat(100_000));
    deep.push_str("}}]");
    env.write("bad/deep_nesting.json", deep);
    let message =
        assert_clean_failure(&run_case(&env, "bad/deep_nesting.json"), "bad/deep_nesting.json");
    assert!(message.contains("nested too deeply"), "{message}");
    let mut line = String::from("{\"data\": {\"text\": \"");
    line.push_str(&"x".repeat(50 << 20));
    line.push_str("\"}\n");
    env.write("bad/long_line.jsonl", line);
    let message =
        assert_clean_failure(&run_case(&env, "bad/long_line.jsonl"), "bad/long_line.jsonl");
    assert!(message.starts_with("bad/long_line.jsonl:1:"), "{message}");
    assert_eq!(state(&env), before);
}
