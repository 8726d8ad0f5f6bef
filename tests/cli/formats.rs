//! Every input format of the import guide besides JSON: CSV/TSV, text and URL lists, text,
//! image, audio and time-series folders, single media files, and templates.

use serde_json::{Value, json};

use crate::support::{Run, TestEnv};

fn project(config: Option<&str>) -> TestEnv {
    let env = TestEnv::new();
    match config {
        Some(c) => {
            let path = env.fixture(&format!("configs/{c}"));
            env.lsdb(&["init", "proj", "--label-config", path.to_str().unwrap()]).ok();
        }
        None => {
            env.lsdb(&["init", "proj"]).ok();
        }
    }
    env
}

fn column(env: &TestEnv, sql: &str) -> Vec<Value> {
    env.query(sql)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().values().next().unwrap().clone())
        .collect()
}

fn url_for(dir: &std::path::Path, name: &str) -> String {
    let folder = dir.to_str().unwrap().replace('/', "%2F").replace(' ', "+");
    let name = name.replace(' ', "%20");
    format!("http://localhost:8080/data/{name}?d={folder}")
}

#[test]
fn csv_header_names_the_keys() {
    let env = project(None);
    let path = env.fixture("tasks/texts.csv");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks ORDER BY id"),
        json!([{"data": {"my_text": "this is a first task", "optional_field": "123"}},
               {"data": {"my_text": "this is a second task", "optional_field": "456"}}])
    );
}

#[test]
fn csv_cells_are_kept_exactly() {
    let env = project(None);
    let path = env.fixture("tasks/csv_edge_cases.csv");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks ORDER BY id"),
        json!([{"data": {"id_code": "007", "text": "line one\r\nline two", "note": "NA"}},
               {"data": {"id_code": "010", "text": "a \"quoted\", comma", "note": ""}}])
    );
    let sources = column(&env, "SELECT source FROM tasks ORDER BY id");
    assert!(sources[1].as_str().unwrap().ends_with("csv_edge_cases.csv:4"), "{sources:?}");
}

#[test]
fn semicolon_csv_and_tsv() {
    let env = project(None);
    let semi = env.fixture("tasks/semicolon.csv");
    let tsv = env.fixture("tasks/texts.tsv");
    env.lsdb(&["-p", "proj", "import", semi.to_str().unwrap(), tsv.to_str().unwrap()]).ok();
    assert_eq!(
        column(&env, "SELECT data FROM tasks ORDER BY id"),
        [
            json!({"text": "bonjour", "label": "fr"}),
            json!({"text": "hello, world", "label": "en"}),
            json!({"text": "hallo", "lang": "de"}),
            json!({"text": "ciao", "lang": "it"})
        ]
    );
}

#[test]
fn a_ragged_csv_row_names_its_line() {
    let env = project(None);
    let path = env.fixture("tasks/bad_ragged.csv");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()])
        .fails_with("bad_ragged.csv:3: row has 3 fields but the header has 2");
    assert_eq!(env.count("tasks"), 0);
}

// A quote that is never closed in the last cell of the file swallows the rest of it without
// making the row short: refused as pandas (and so Label Studio) refuses it, with the line the
// row starts on, not imported with the quote dropped.
#[test]
fn a_quote_never_closed_in_the_last_cell_is_refused() {
    let env = project(None);
    // A quote never closed that leaves its row short says so too (e.csv); a short row whose
    // quoted cell spans lines but is closed is only short (f.csv).
    for (name, text, message) in [
        (
            "a.csv",
            "text,label\nfine,a\n\"also fine\",b\nlast,\"unclosed\nmore\n",
            "a.csv:4: a quote opened on this line is never closed",
        ),
        ("b.csv", "text\n\"unclosed", "b.csv:2: a quote opened on this line is never closed"),
        (
            "c.tsv",
            "text\tlabel\nx\t\"unclosed\r\n",
            "c.tsv:2: a quote opened on this line is never closed",
        ),
        (
            "e.csv",
            "text,label\nfine,a\n\"unclosed,b\nmore\n",
            "e.csv:3: a quote opened on this line is never closed",
        ),
        (
            "f.csv",
            "text,label\nfine,a\n\"two\nlines\"\nlast,b\n",
            "f.csv:3: row has 1 fields but the header has 2",
        ),
    ] {
        env.write(name, text);
        env.lsdb(&["-p", "proj", "import", name]).fails_with(message);
    }
    assert_eq!(env.count("tasks"), 0);
    // With --skip-invalid the cut row is kept aside, the others imported.
    let out = env.lsdb(&["-p", "proj", "import", "--skip-invalid", "a.csv"]).ok();
    assert!(out.contains("imported 2 tasks") && out.contains("rejected 1"), "{out}");
    assert_eq!(env.query("SELECT line FROM import_rejects"), json!([{"line": 4}]));
    env.lsdb(&["-p", "proj", "sql", "DELETE FROM tasks"]).ok();
    // Quotes inside a cell that does not start with one, and doubled quotes, are cells.
    env.write("d.csv", "text,label\nsay \"hi,\"a \"\"b\"\"\"\n\"x\"\"\",y");
    env.lsdb(&["-p", "proj", "import", "d.csv"]).ok();
    assert_eq!(
        column(&env, "SELECT data FROM tasks ORDER BY id"),
        [json!({"text": "say \"hi", "label": "a \"b\""}), json!({"text": "x\"", "label": "y"})]
    );
}

#[test]
fn text_lines_with_bom_crlf_and_blank_lines() {
    let env = project(Some("text_classification.xml"));
    let path = env.fixture("tasks/my_tasks.txt");
    let out = env.lsdb(&["-p", "proj", "import", path.to_str().unwrap(), "--format", "text"]).ok();
    assert!(out.contains("imported 3 tasks") && out.contains("skipped 2"), "{out}");
    assert_eq!(
        column(&env, "SELECT data FROM tasks ORDER BY id"),
        [
            json!({"my_text": "this is a first task"}),
            json!({"my_text": "this is a second task"}),
            json!({"my_text": "  leading spaces kept"})
        ]
    );
    assert_eq!(env.count("validation_errors"), 0);
}

#[test]
fn text_without_config_uses_the_text_key() {
    let env = project(None);
    let path = env.fixture("tasks/my_tasks.txt");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks ORDER BY id LIMIT 1"),
        json!([{"data": {"text": "this is a first task"}}])
    );
}

#[test]
fn two_candidate_tags_need_a_key() {
    let env = project(Some("two_text_tags.xml"));
    let path = env.fixture("tasks/my_tasks.txt");
    let err =
        env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).fails_with("several tags");
    assert!(
        err.contains("<Text name=\"question\"> ($question)") && err.contains("--key question"),
        "{err}"
    );
    assert_eq!(env.count("tasks"), 0);
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap(), "--key", "answer"]).ok();
    assert_eq!(
        env.query("SELECT count(*) AS n FROM tasks WHERE data->>'answer' IS NOT NULL"),
        json!([{"n": 3}])
    );
}

#[test]
fn invalid_utf8_in_text_names_line_and_column() {
    let env = project(None);
    let path = env.fixture("tasks/bad_invalid_utf8.txt");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()])
        .fails_with("bad_invalid_utf8.txt:2:5: invalid UTF-8; save the file as UTF-8");
    assert_eq!(env.count("tasks"), 0);
}

#[test]
fn url_lists_go_to_the_tag_that_fits() {
    let env = TestEnv::new();
    let config = env.write(
        "c.xml",
        r#"<View><Image name="img" value="$picture"/><AudioPlus name="a" value="$sound"/><Text name="t" value="$caption"/></View>"#,
    );
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    for list in ["tasks/images.txt", "tasks/audios.txt"] {
        let path = env.fixture(list);
        env.lsdb(&["-p", "proj", "import", path.to_str().unwrap(), "--format", "url-list"]).ok();
    }
    let rows = column(&env, "SELECT data FROM tasks ORDER BY id");
    assert_eq!(rows[0], json!({"picture": "https://my.domain.com/image1.jpg"}));
    assert_eq!(rows[5], json!({"sound": "https://my.domain.com/audio3.wav"}));
}

#[test]
fn time_series_url_list() {
    let env = project(Some("time_series.xml"));
    let path = env.fixture("tasks/time-series.txt");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks ORDER BY id LIMIT 1"),
        json!([{"data": {"timeseries": "https://my.domain.com/time-series1.csv"}}])
    );
    assert_eq!(env.count("validation_errors"), 0);
}

#[test]
fn text_dir_reads_every_text_file() {
    let env = project(None);
    let dir = env.fixture("dirs/texts");
    let out =
        env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "text-dir"]).ok();
    assert!(out.contains("imported 4 tasks"), "{out}");
    assert_eq!(
        column(&env, "SELECT data->>'text' FROM tasks ORDER BY id"),
        ["this is a first task", "this is a second task", "third task", "fourth task"]
    );
}

#[test]
fn image_dir_is_recursive_sorted_and_label_studio_shaped() {
    let env = project(Some("image_bbox.xml"));
    let dir = env.fixture("dirs/images");
    let out =
        env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "image-dir"]).ok();
    assert!(out.contains("imported 4 tasks"), "{out}");
    assert!(out.contains("skipped 2"), "{out}");
    let urls = column(&env, "SELECT data->>'image_url' FROM tasks ORDER BY id");
    assert_eq!(
        urls,
        [
            url_for(&dir, "B.JPG"),
            url_for(&dir, "a.png"),
            url_for(&dir.join("nested"), "cat 1.jpeg"),
            url_for(&dir.join("nested/deeper"), "d.TIFF"),
        ]
    );
    let sources = column(&env, "SELECT source FROM tasks ORDER BY id");
    assert!(sources[2].as_str().unwrap().ends_with("images/nested/cat 1.jpeg"), "{sources:?}");
}

#[test]
fn a_folder_is_walked_folder_by_folder_in_name_order() {
    // As text, "pics/a-b.png" < "pics/a.png" < "pics/a/z.png"; walked folder by folder in
    // name order ("a" < "a-b.png" < "a.png"), a/z.png comes first. Relative paths given.
    let env = project(Some("image_bbox.xml"));
    for name in ["pics/a.png", "pics/a-b.png", "pics/a/z.png", "pics/a/y/x.png", "pics/B.png"] {
        env.write(name, b"\x89PNG");
    }
    env.lsdb(&["-p", "proj", "import", "pics", "--format", "image-dir"]).ok();
    let sources = column(&env, "SELECT source FROM tasks ORDER BY id");
    assert_eq!(
        sources,
        ["pics/B.png", "pics/a/y/x.png", "pics/a/z.png", "pics/a-b.png", "pics/a.png"]
    );
    let urls = column(&env, "SELECT data->>'image_url' FROM tasks ORDER BY id");
    let pics = std::fs::canonicalize(env.path("pics")).unwrap();
    assert_eq!(urls[1], url_for(&pics.join("a/y"), "x.png"));
    assert_eq!(urls[4], url_for(&pics, "a.png"));
}

#[test]
fn file_names_with_question_marks_and_hashes_keep_their_extension() {
    // '?' and '#' start a URL's query and fragment, but in a file name they are letters.
    let env = project(Some("image_bbox.xml"));
    for name in ["pics/cat#1.png", "pics/what?.png", "pics/plain.png"] {
        env.write(name, b"\x89PNG");
    }
    let out = env.lsdb(&["-p", "proj", "import", "pics", "--format", "image-dir"]).ok();
    assert!(out.contains("imported 3 tasks") && !out.contains("skipped"), "{out}");
    let urls = column(&env, "SELECT data->>'image_url' FROM tasks ORDER BY id");
    let pics = std::fs::canonicalize(env.path("pics")).unwrap();
    assert_eq!(urls[0].as_str().unwrap(), url_for(&pics, "cat%231.png"));
    let out = env.lsdb(&["-p", "proj", "import", "pics/what?.png"]).ok();
    assert!(out.contains("imported 1 task"), "{out}");
    // A guessed folder format counts them too.
    let env = project(Some("image_bbox.xml"));
    env.write("only/a#b.jpg", b"\xff\xd8");
    let out = env.lsdb(&["-p", "proj", "import", "only"]).ok();
    assert!(out.contains("imported 1 task"), "{out}");
}

#[test]
fn media_files_whose_names_are_not_utf8_are_refused() {
    // No URL can name such a file (Label Studio cannot either): a task with a mangled name
    // would point at nothing. The import fails naming the file; nothing is imported.
    use std::os::unix::ffi::OsStrExt;
    let env = project(Some("image_bbox.xml"));
    env.write("pics/good.png", b"\x89PNG");
    let bad = env.path("pics").join(std::ffi::OsStr::from_bytes(b"bad\xffname.png"));
    std::fs::write(&bad, b"\x89PNG").unwrap();
    let message = "pics/bad\u{FFFD}name.png: its name is not UTF-8 text, so no URL can name it";
    env.lsdb(&["-p", "proj", "import", "pics", "--format", "image-dir"]).fails_with(message);
    let output = env.command(&["-p", "proj", "import"]).arg(&bad).output().unwrap();
    Run { args: vec!["import".into(), "bad".into()], output }.fails_with("rename it");
    assert_eq!(env.count("tasks"), 0);
    // A time-series file's URL too.
    let env = TestEnv::new();
    let config = env.write(
        "c.xml",
        r#"<View><TimeSeries name="ts" value="$csv" timeColumn="t"><Channel column="v"/></TimeSeries></View>"#,
    );
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    let bad = env.path("").join(std::ffi::OsStr::from_bytes(b"s\xfe.csv"));
    std::fs::write(&bad, "t,v\n1,2\n").unwrap();
    let output = env.command(&["-p", "proj", "import"]).arg(&bad).output().unwrap();
    Run { args: vec!["import".into(), "s.csv".into()], output }
        .fails_with("s\u{FFFD}.csv: its name is not UTF-8 text");
}

#[test]
fn image_dir_is_guessed_and_host_url_is_used() {
    let env = project(None);
    let dir = env.fixture("dirs/images");
    env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--host-url", "http://lab:9000/"])
        .ok();
    let first = env.query("SELECT data->>'image' AS u FROM tasks ORDER BY id LIMIT 1")[0]["u"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.starts_with("http://lab:9000/data/B.JPG?d="), "{first}");
}

#[test]
fn audio_dir_picks_the_audio_tag() {
    let env = TestEnv::new();
    let config = env.write(
        "c.xml",
        r#"<View><Audio name="a" value="$clip"/><TextArea name="t" toName="a"/></View>"#,
    );
    env.lsdb(&["init", "proj", "-l", config.to_str().unwrap()]).ok();
    let dir = env.fixture("dirs/audios");
    let out =
        env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "audio-dir"]).ok();
    assert!(out.contains("imported 3 tasks") && out.contains("skipped 1"), "{out}");
    assert_eq!(
        column(&env, "SELECT data->>'clip' FROM tasks ORDER BY id"),
        [
            url_for(&dir, "one.wav"),
            url_for(&dir.join("sub"), "three.flac"),
            url_for(&dir, "two.MP3")
        ]
    );
}

#[test]
fn time_series_folder_is_one_task_per_file() {
    let env = project(Some("time_series.xml"));
    let dir = env.fixture("dirs/timeseries");
    env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap()]).ok();
    assert_eq!(
        column(&env, "SELECT data->>'timeseries' FROM tasks ORDER BY id"),
        [url_for(&dir, "run.csv"), url_for(&dir, "walk.csv")]
    );
    // A single CSV with one TimeSeries tag is one task too, not one task a row.
    let one = dir.join("walk.csv");
    env.lsdb(&["-p", "proj", "import", one.to_str().unwrap()]).ok();
    assert_eq!(env.count("tasks"), 3);
    assert_eq!(env.count("validation_errors"), 0);
}

#[test]
fn time_series_json_holds_the_columns() {
    let env = project(Some("time_series_json.xml"));
    let path = env.fixture("dirs/timeseries/walk.csv");
    env.lsdb(&["-p", "proj", "import", path.to_str().unwrap()]).ok();
    assert_eq!(
        env.query("SELECT data FROM tasks"),
        json!([{"data": {"timeseries": {"time": [0, 1, 2], "x": [1.5, 1.7, 1.2], "y": [2, 2.5, 3]}}}])
    );
    assert_eq!(env.count("validation_errors"), 0);
}

#[test]
fn media_files_one_by_one() {
    let env = project(None);
    let img = env.fixture("dirs/images/a.png");
    let wav = env.fixture("dirs/audios/one.wav");
    env.lsdb(&["-p", "proj", "import", img.to_str().unwrap(), wav.to_str().unwrap()]).ok();
    assert_eq!(
        column(&env, "SELECT data FROM tasks ORDER BY id"),
        [
            json!({"image": url_for(img.parent().unwrap(), "a.png")}),
            json!({"audio": url_for(wav.parent().unwrap(), "one.wav")})
        ]
    );
}

#[test]
fn folders_and_files_in_the_wrong_place() {
    let env = project(None);
    env.lsdb(&["-p", "proj", "import", "nowhere", "--format", "image-dir"])
        .fails_with("nowhere: no such file or folder");
    let file = env.fixture("tasks/texts.csv");
    env.lsdb(&["-p", "proj", "import", file.to_str().unwrap(), "--format", "image-dir"])
        .fails_with("is a file, but --format image-dir reads a folder");
    let dir = env.fixture("dirs/texts");
    env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "text"])
        .fails_with("is a folder, but --format text reads a file (use --format text-dir");
    env.write("weird.xyz", "?");
    env.lsdb(&["-p", "proj", "import", "weird.xyz"])
        .fails_with("can't tell the format of weird.xyz");
    assert_eq!(env.count("tasks"), 0);
}

#[cfg(unix)]
#[test]
fn symlinks_outside_and_loops_are_reported_not_followed() {
    let env = project(None);
    let dir = env.fixture("dirs/images");
    let outside = env.write("outside/secret.png", "x");
    std::os::unix::fs::symlink(&outside, dir.join("link.png")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("nested/loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.png"), dir.join("inside.png")).unwrap();
    let run = env.lsdb(&["-p", "proj", "import", dir.to_str().unwrap(), "--format", "image-dir"]);
    run.ok();
    let stderr = run.stderr();
    assert!(stderr.contains("link.png: it links outside"), "{stderr}");
    assert!(stderr.contains("loop: symlinked folders are not followed"), "{stderr}");
    assert_eq!(env.count("tasks"), 5);
}

#[test]
fn every_template_parses_and_its_example_imports_cleanly() {
    let env = TestEnv::new();
    let list = env.lsdb(&["templates"]).ok();
    let names: Vec<&str> = list.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert!(names.len() >= 14, "{names:?}");
    for name in names {
        let project = format!("p_{name}");
        env.lsdb(&["init", &project, "--template", name]).ok();
        let tasks = env.fixture(&format!("templates/{name}.json"));
        env.lsdb(&["-p", &project, "import", tasks.to_str().unwrap()]).ok();
        let run = env.lsdb(&["-p", &project, "validate", "--format", "csv"]);
        assert_eq!(run.output.status.code(), Some(0), "{name}: {}", run.stdout());
        let xml = env.lsdb(&["templates", name]).ok();
        assert!(xml.starts_with("<View>"), "{name}");
    }
    env.lsdb(&["templates", "nope"]).fails_with("no template called \"nope\"");
}

#[test]
fn a_ragged_row_in_a_crlf_csv_names_its_line() {
    let env = project(None);
    env.write("crlf.csv", "a,b\r\n1,2\r\n3\r\n");
    env.lsdb(&["-p", "proj", "import", "crlf.csv"])
        .fails_with("crlf.csv:3: row has 1 fields but the header has 2");
}
