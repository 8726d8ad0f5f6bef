//! `lsdb init` and the seed's command lines, with `label-studio` replaced by `lsdb`.

use serde_json::json;

use crate::support::TestEnv;

#[test]
fn init_creates_a_store_and_refuses_to_overwrite() {
    let env = TestEnv::new();
    let out = env.lsdb(&["init", "proj"]).ok();
    assert!(out.contains("created project proj"), "{out}");
    assert!(env.path("proj/lsdb.duckdb").is_file());
    env.lsdb(&["init", "proj"])
        .fails_with("project already exists at proj; pass --force to replace it");
    env.lsdb(&["-p", "proj", "import", "-"]).exit(2);
    env.lsdb(&["init", "proj", "--force"]).ok();
}

#[test]
fn commands_on_a_missing_project_say_how_to_create_it() {
    let env = TestEnv::new();
    env.lsdb(&["-p", "nothing", "stats"])
        .fails_with("no lsdb project at nothing; create one with `lsdb init nothing`");
    assert!(!env.path("nothing").exists());
}

#[test]
fn the_label_config_is_stored_and_parsed() {
    let env = TestEnv::new();
    let config = env.fixture("configs/text_classification.xml");
    env.lsdb(&["init", "proj", "--label-config", config.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT name, tag, key FROM config_objects"),
        json!([{"name": "message", "tag": "Text", "key": "my_text"}])
    );
    assert_eq!(
        env.query("SELECT name, tag, to_name, labels FROM config_controls"),
        json!([{"name": "sentiment_class", "tag": "Choices", "to_name": ["message"], "labels": ["Positive", "Neutral", "Negative"]}])
    );
    let shown = env.lsdb(&["-p", "proj", "config", "show"]).ok();
    assert_eq!(shown, std::fs::read_to_string(&config).unwrap());
}

#[test]
fn a_malformed_config_creates_nothing() {
    let env = TestEnv::new();
    env.write("bad.xml", "<View>\n  <Text name=\"t\" value=\"$t\">\n</View>\n");
    env.lsdb(&["init", "proj", "--label-config", "bad.xml"]).fails_with("bad.xml:3:");
    assert!(!env.path("proj/lsdb.duckdb").exists());
}

#[test]
fn a_newer_store_is_refused() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    env.lsdb(&[
        "-p",
        "proj",
        "sql",
        "UPDATE lsdb_meta SET value = '999' WHERE key = 'schema_version'",
    ])
    .ok();
    env.lsdb(&["-p", "proj", "stats"])
        .fails_with("was written by a newer lsdb (schema version 999");
    // `init --force` replaces it: the old store is held for its lock only, never migrated.
    env.lsdb(&["init", "proj", "--force"]).ok();
    env.lsdb(&["-p", "proj", "stats"]).ok();
}

// The seed: `label-studio init my_project --input-path my_tasks.json --input-format json`
#[test]
fn seed_init_with_input_path_and_format() {
    let env = TestEnv::new();
    std::fs::copy(env.fixture("tasks/text_classification.json"), env.path("my_tasks.json"))
        .unwrap();
    let out = env
        .lsdb(&["init", "my_project", "--input-path", "my_tasks.json", "--input-format", "json"])
        .ok();
    assert!(out.contains("imported 1 task, 1 completion, 1 prediction"), "{out}");
    assert_eq!(
        env.lsdb(&["-p", "my_project", "sql", "--format", "csv", "SELECT id FROM tasks"]).ok(),
        "id\n123\n"
    );
}

// The seed: `label-studio init --input-path=my_tasks.json` (the project is the current folder)
#[test]
fn seed_init_in_the_current_folder() {
    let env = TestEnv::new();
    std::fs::copy(env.fixture("tasks/texts_without_data.json"), env.path("my_tasks.json")).unwrap();
    env.lsdb(&["init", "--input-path=my_tasks.json"]).ok();
    assert!(env.path("lsdb.duckdb").is_file());
    assert_eq!(
        env.lsdb(&["sql", "--format", "csv", "SELECT count(*) AS n FROM tasks"]).ok(),
        "n\n3\n"
    );
}

// The seed: `label-studio init my-project --input-path=my_tasks.txt --input-format=text --label-config=config.xml`
#[test]
fn seed_init_with_text_and_config() {
    let env = TestEnv::new();
    std::fs::copy(env.fixture("tasks/my_tasks.txt"), env.path("my_tasks.txt")).unwrap();
    std::fs::copy(env.fixture("configs/text_classification.xml"), env.path("config.xml")).unwrap();
    env.lsdb(&[
        "init",
        "my-project",
        "--input-path=my_tasks.txt",
        "--input-format=text",
        "--label-config=config.xml",
    ])
    .ok();
    let out = env
        .lsdb(&[
            "-p",
            "my-project",
            "sql",
            "--format",
            "csv",
            "SELECT data->>'my_text' AS t FROM tasks ORDER BY id",
        ])
        .ok();
    assert_eq!(out, "t\nthis is a first task\nthis is a second task\n  leading spaces kept\n");
}

// The seed's dir formats: image-dir, audio-dir, text-dir and json-dir, with --allow-serving-local-files
#[test]
fn seed_init_with_folders() {
    let env = TestEnv::new();
    std::fs::copy(env.fixture("configs/image_bbox.xml"), env.path("config.xml")).unwrap();
    let cases = [
        ("dirs/images", "image-dir", 4),
        ("dirs/audios", "audio-dir", 3),
        ("dirs/texts", "text-dir", 4),
        ("dirs/json_dir", "json-dir", 3),
    ];
    for (i, (fixture, format, tasks)) in cases.into_iter().enumerate() {
        let dir = env.fixture(fixture);
        let project = format!("my-project-{i}");
        let input = format!("--input-path={}", dir.display());
        let format_flag = format!("--input-format={format}");
        env.lsdb(&[
            "init",
            &project,
            &input,
            &format_flag,
            "--label-config=config.xml",
            "--allow-serving-local-files",
        ])
        .ok();
        let n = env.query_in(&project, "SELECT count(*) AS n FROM tasks")[0]["n"].clone();
        assert_eq!(n, tasks, "{format}");
        let flag = env.query_in(
            &project,
            "SELECT value FROM lsdb_meta WHERE key = 'allow_serving_local_files'",
        );
        assert_eq!(flag[0]["value"], "true");
    }
}

#[test]
fn every_subcommand_is_documented_and_has_examples() {
    let env = TestEnv::new();
    let help = env.lsdb(&["--help"]).ok();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 11, "{commands:?}");
    for command in commands {
        assert!(docs.contains(&format!("lsdb {command}")), "docs/cli.md lacks `lsdb {command}`");
        let sub = env.lsdb(&[command, "--help"]).ok();
        assert!(
            sub.contains("Examples:") || command == "config",
            "{command} --help has no examples"
        );
    }
}
