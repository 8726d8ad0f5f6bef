//! Issue 24: the training formats (`lsdb export --format coco|yolo|...`). File-for-file
//! equality with label-studio-sdk's converter is `tests/converter/training.py` (in CI); these
//! tests hold what a user sees: the folder, its files, the bad input, the options.

use std::path::Path;

use serde_json::{Value, json};

use crate::servers::{lsdb_s3, servers};
use crate::support::TestEnv;

fn boxes() -> TestEnv {
    TestEnv::with_project("configs/training_boxes.xml", "tasks/training_boxes.json")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files under a folder, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Nothing of a failed export is left beside where it would have gone.
#[track_caller]
fn nothing_left(env: &TestEnv, name: &str) {
    assert!(!env.path(name).exists(), "{name} was written");
    let partial: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("lsdb-partial"))
        .collect();
    assert!(partial.is_empty(), "left behind: {partial:?}");
}

/// The lines the converter writes for these tasks (its own output, read from a run of
/// label-studio-sdk 2.1.2 on fixtures/tasks/training_boxes.json).
#[test]
fn issue_24_yolo_writes_the_converters_labels_classes_and_notes() {
    let env = boxes();
    let err = env.lsdb(&["-p", "proj", "export", "--format", "yolo", "-o", "yolo"]).exit(0);
    assert!(err.contains("exported 6 tasks to yolo"), "{err}");
    let out = env.path("yolo");
    assert_eq!(
        files(&out),
        [
            "classes.txt",
            "labels/03717c3a__a%20b.txt",
            "labels/8e9b5347__street.txt",
            "labels/d737eb92__photo.final.txt",
            "labels/night.txt",
            "labels/x.txt",
            "notes.json",
        ]
    );
    // Car has category="7" and comes first; the rest, sorted, take 0, 1, 2, ...; a label no
    // control has is added at the end.
    assert_eq!(
        read(&out.join("classes.txt")),
        "Car\nBike\nLorry\nPerson\nRain\nSunny\nUnknown label\n"
    );
    assert_eq!(
        read(&out.join("labels/03717c3a__a%20b.txt")),
        "1 0.20625 0.20875 0.2025 0.2075\n7 0.5 0.5 1.0 1.0\n2 0.5 0.5 1.0 1.0\n"
    );
    // Python's float text; the image's oldest annotation is the one left (task 5's 52).
    assert_eq!(
        read(&out.join("labels/d737eb92__photo.final.txt")),
        "2 1.005e-05 1.0004899999999999 1.0000000000000001e-07 0.001\n0 0.15 0.15 0.1 0.1\n"
    );
    assert_eq!(read(&out.join("labels/8e9b5347__street.txt")), "6 0.25 0.25 0.1 0.1\n");
    assert_eq!(read(&out.join("labels/x.txt")), "", "a task without annotations: an empty file");
    let notes: Value = serde_json::from_str(&read(&out.join("notes.json"))).unwrap();
    assert_eq!(notes["categories"][0], json!({"id": 7, "name": "Car"}));
    assert_eq!(notes["categories"][6], json!({"id": 6, "name": "Unknown label"}));
    assert_eq!(notes["info"]["contributor"], "Label Studio");
    // Task 3's box has no image size: YOLO-OBB cannot place its corners, and says so.
    let err = env.lsdb(&["-p", "proj", "export", "--format", "yolo-obb", "-o", "obb"]).exit(0);
    assert!(err.contains("note: 1 box labels skipped"), "{err}");
    assert_eq!(read(&env.path("obb/labels/night.txt")), "");
}

#[test]
fn issue_24_coco_counts_images_per_annotation_and_skips_regions_without_a_size() {
    let env = boxes();
    let err = env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "coco"]).exit(0);
    assert!(err.contains("note: 1 regions skipped: they have no original_width"), "{err}");
    let coco: Value = serde_json::from_str(&read(&env.path("coco/result.json"))).unwrap();
    let images = coco["images"].as_array().unwrap();
    // Task 1: two annotations that count (one cancelled); 2: one; 3: none with a size; 4: no
    // annotation (an image without a size); 5: two; 6: one.
    let names: Vec<&str> = images.iter().map(|i| i["file_name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "images/8e9b5347__street.jpg",
            "images/8e9b5347__street.jpg",
            "images/03717c3a__a%20b.png",
            "/data/local-files/?d=images/x.png",
            "images/8e9b5347__street.jpg",
            "images/d737eb92__photo.final.JPEG",
        ]
    );
    assert_eq!(images[3]["width"], Value::Null);
    assert_eq!(images[0]["width"], 640);
    // The rotated box (275.5°) becomes the upright box around it, in pixels.
    let rotated =
        coco["annotations"].as_array().unwrap().iter().find(|a| a["category_id"] == 1).unwrap();
    assert_eq!(rotated["bbox"].as_array().unwrap().len(), 4);
    assert!(env.path("coco/images").is_dir());
    assert_eq!(coco["info"]["description"], "");
}

#[test]
fn issue_24_bad_configs_and_targets_fail_with_one_line_and_write_nothing() {
    let env =
        TestEnv::with_project("configs/text_classification.xml", "tasks/text_classification.json");
    for (format, msg) in [
        (
            "coco",
            "coco needs an Image object tag and a RectangleLabels, PolygonLabels or KeyPointLabels control",
        ),
        ("yolo", "yolo needs an Image object tag"),
        ("voc", "voc needs an Image object tag"),
        ("conll2003", "conll2003 needs a Text object tag and a Labels control"),
        ("brush-png", "brush-png needs an Image object tag and a BrushLabels control"),
        ("asr-manifest", "asr-manifest needs an Audio object tag and a TextArea control"),
    ] {
        env.lsdb(&["-p", "proj", "export", "--format", format, "-o", "out"]).fails_with(msg);
        nothing_left(&env, "out");
    }
    let env = boxes();
    env.lsdb(&["-p", "proj", "export", "--format", "yolo"]).fails_with("give one with -o DIR");
    env.lsdb(&["-p", "proj", "export", "--format", "voc", "--with-images", "-o", "out"])
        .fails_with("--with-images goes with coco, yolo and yolo-obb");
    env.write("full/keep.txt", "mine");
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "full"])
        .fails_with("full is not empty");
    assert_eq!(files(&env.path("full")), ["keep.txt"]);
    env.write("afile", "x");
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "afile"])
        .fails_with("afile is a file");
    // An empty folder is taken.
    std::fs::create_dir(env.path("empty")).unwrap();
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "empty"]).ok();
    assert!(env.path("empty/result.json").is_file());
}

#[test]
fn issue_24_a_failure_half_way_leaves_no_folder() {
    let env = boxes();
    // Task 7 has no image: coco stops there, after six tasks were written.
    env.write(
        "more.json",
        r#"[{"id": 7, "data": {"picture": "x.png"}, "annotations": [{"result": []}]}]"#,
    );
    env.lsdb(&["-p", "proj", "import", "more.json"]).ok();
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "coco"])
        .fails_with("task 7: coco reads $image from the task data, and it has none");
    nothing_left(&env, "coco");
    // An empty folder the user made for it is left as it was.
    std::fs::create_dir(env.path("mine")).unwrap();
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "mine"]).fails_with("task 7");
    assert!(env.path("mine").is_dir(), "the empty folder was removed");
    assert_eq!(files(&env.path("mine")), Vec::<String>::new());
    // The same export without it is whole.
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "--where", "id < 7", "-o", "coco"]).ok();
    assert!(env.path("coco/result.json").is_file());
}

#[test]
fn issue_24_configs_the_formats_cannot_read_are_named() {
    let env = TestEnv::new();
    env.write(
        "kp.xml",
        r#"<View><Image name="img" value="$image"/>
           <RectangleLabels name="box" toName="img"><Label value="Face"/></RectangleLabels>
           <KeyPointLabels name="kp" toName="img"><Label value="eye"/></KeyPointLabels></View>"#,
    );
    env.write("t.json", r#"[{"data": {"image": "a.png"}}]"#);
    env.lsdb(&["init", "proj", "-l", "kp.xml", "--input-path", "t.json"]).ok();
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "out"])
        .fails_with("coco needs model_index");
    env.write(
        "two.xml",
        r#"<View><Image name="a" value="$left"/><Image name="b" value="$right"/>
           <RectangleLabels name="box" toName="a,b"><Label value="Face"/></RectangleLabels></View>"#,
    );
    env.lsdb(&["init", "two", "-l", "two.xml", "--input-path", "t.json"]).ok();
    env.lsdb(&["-p", "two", "export", "--format", "yolo", "-o", "out"]).fails_with(
        "yolo reads one data key, and this label config's controls read $left and $right",
    );
    nothing_left(&env, "out");
}

/// Predictions as pseudo-labels, of one model version.
#[test]
fn issue_24_predictions_of_one_model_version_become_the_labels() {
    let env = TestEnv::new();
    env.fixture("configs/training_boxes.xml");
    let region = |label: &str, x: f64| {
        json!({"from_name": "label", "to_name": "image", "type": "rectanglelabels",
               "original_width": 100, "original_height": 100,
               "value": {"x": x, "y": 10, "width": 20, "height": 20, "rotation": 0, "rectanglelabels": [label]}})
    };
    let tasks = json!([{"data": {"image": "http://h/one.jpg"},
        "annotations": [{"result": [region("Person", 1.0)]}],
        "predictions": [{"model_version": "v1", "result": [region("Car", 50.0)]},
                        {"model_version": "v2", "result": [region("Bike", 70.0)]}]}]);
    env.write("t.json", tasks.to_string());
    env.lsdb(&["init", "proj", "-l", "configs/training_boxes.xml", "--input-path", "t.json"]).ok();
    let label = |dir: &str| {
        read(&env.path(&format!("{dir}/labels/{}__one.txt", md5_8("http://h/one.jpg"))))
    };
    env.lsdb(&["-p", "proj", "export", "--format", "yolo", "-o", "a"]).ok();
    assert_eq!(label("a"), "2 0.11 0.2 0.2 0.2\n", "annotations: Person");
    env.lsdb(&[
        "-p",
        "proj",
        "export",
        "--format",
        "yolo",
        "--source",
        "predictions",
        "--model-version",
        "v1",
        "-o",
        "p1",
    ])
    .ok();
    assert_eq!(label("p1"), "7 0.6 0.2 0.2 0.2\n", "v1's Car");
    env.lsdb(&[
        "-p",
        "proj",
        "export",
        "--format",
        "yolo",
        "--source",
        "predictions",
        "--model-version",
        "v2",
        "-o",
        "p2",
    ])
    .ok();
    assert_eq!(label("p2"), "0 0.8 0.2 0.2 0.2\n", "v2's Bike");
    // Both versions: two items of one image; the later (v2) is written last.
    env.lsdb(&["-p", "proj", "export", "--format", "yolo", "--source", "predictions", "-o", "p"])
        .ok();
    assert_eq!(label("p"), "0 0.8 0.2 0.2 0.2\n");
    env.lsdb(&["-p", "proj", "export", "--format", "yolo", "--source", "nope", "-o", "x"]).exit(2);
}

fn md5_8(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// `--with-images`: local files lsdb's URLs name are linked in, and COCO takes the image's
/// own size over the region's.
#[test]
fn issue_24_with_images_puts_local_files_in_and_reads_their_size() {
    let env = TestEnv::new();
    env.fixture("configs/training_boxes.xml");
    let media = env.fixture("media");
    let folder = media.to_str().unwrap();
    let url = format!(
        "http://localhost:8080/data/rgb_40x30.png?d={}",
        crate::support::percent_encode(folder)
    );
    let tasks = json!([{"data": {"image": url},
        "annotations": [{"result": [{"from_name": "label", "to_name": "image", "type": "rectanglelabels",
            "original_width": 400, "original_height": 300,
            "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["Car"]}}]}]}]);
    env.write("t.json", tasks.to_string());
    env.lsdb(&["init", "proj", "-l", "configs/training_boxes.xml", "--input-path", "t.json"]).ok();
    let name = format!("images/{}__rgb_40x30.png", md5_8(&url));
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "plain"]).ok();
    assert!(!env.path(&format!("plain/{name}")).exists());
    let plain: Value = serde_json::from_str(&read(&env.path("plain/result.json"))).unwrap();
    assert_eq!(
        (plain["images"][0]["width"].clone(), plain["images"][0]["height"].clone()),
        (json!(400), json!(300))
    );
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "--with-images", "-o", "with"]).ok();
    let copied = std::fs::read(env.path(&format!("with/{name}"))).unwrap();
    assert_eq!(copied, std::fs::read(media.join("rgb_40x30.png")).unwrap());
    let with: Value = serde_json::from_str(&read(&env.path("with/result.json"))).unwrap();
    assert_eq!(with["images"][0], json!({"width": 40, "height": 30, "id": 0, "file_name": name}));
    // The box is still in the region's own pixels (its original_width), as the converter does.
    assert_eq!(with["annotations"][0]["bbox"], json!([40.0, 30.0, 200.0, 150.0]));
    env.lsdb(&["-p", "proj", "export", "--format", "yolo", "--with-images", "-o", "yolo"]).ok();
    assert!(env.path(&format!("yolo/{name}")).is_file());
}

/// A bucket target, and bucket images fetched into the export.
#[test]
fn issue_24_training_exports_go_to_buckets_and_fetch_bucket_images() {
    let s = servers();
    s.s3(json!({"bucket": "pics", "create": true}));
    s.s3(json!({"bucket": "out", "create": true}));
    let png =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/media/gray_64x48.png"))
            .unwrap();
    s.s3(json!({"bucket": "pics", "put_base64": {"cats/c1.png": base64(&png)}}));
    let env = TestEnv::new();
    env.fixture("configs/training_boxes.xml");
    let tasks = json!([{"data": {"image": "s3://pics/cats/c1.png"},
        "annotations": [{"result": [{"from_name": "label", "to_name": "image", "type": "rectanglelabels",
            "original_width": 640, "original_height": 480,
            "value": {"x": 50, "y": 50, "width": 50, "height": 50, "rectanglelabels": ["Car"]}}]}]}]);
    env.write("t.json", tasks.to_string());
    env.lsdb(&["init", "proj", "-l", "configs/training_boxes.xml", "--input-path", "t.json"]).ok();
    let err = lsdb_s3(
        &env,
        &[
            "-p",
            "proj",
            "export",
            "--format",
            "coco",
            "--with-images",
            "-o",
            "s3://out/train/coco/",
        ],
    )
    .exit(0);
    assert!(err.contains("to s3://out/train/coco/"), "{err}");
    let result: Value =
        serde_json::from_slice(&s.s3(json!({"bucket": "out", "get": "train/coco/result.json"})))
            .unwrap();
    let name = format!("images/{}__c1.png", md5_8("s3://pics/cats/c1.png"));
    assert_eq!(result["images"][0], json!({"width": 64, "height": 48, "id": 0, "file_name": name}));
    let image = s.s3(json!({"bucket": "out", "get": format!("train/coco/{name}")}));
    assert_eq!(image, png);
    // Without --with-images the URI is kept, as the converter keeps what it cannot reach.
    env.lsdb(&["-p", "proj", "export", "--format", "coco", "-o", "local"]).ok();
    let local: Value = serde_json::from_str(&read(&env.path("local/result.json"))).unwrap();
    assert_eq!(local["images"][0]["file_name"], "s3://pics/cats/c1.png");
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The shell's `.export` writes a training format too, and the export's single DuckDB thread
/// is the shell's own setting again afterwards.
#[test]
fn issue_24_the_shell_exports_training_formats_and_keeps_its_threads() {
    let env = boxes();
    let out = env
        .lsdb_stdin(
            &["-p", "proj", "shell", "--format", "csv"],
            "SET threads = 3;\n.export shell_coco coco\nSELECT current_setting('threads') AS t;\n",
        )
        .ok();
    assert!(out.lines().any(|l| l.trim() == "3"), "{out}");
    let coco: Value = serde_json::from_str(&read(&env.path("shell_coco/result.json"))).unwrap();
    assert_eq!(coco["images"].as_array().unwrap().len(), 6);
}

/// Where the front ends meet: `lsdb start`'s shell writes a training export (DuckDB on one
/// thread for its length) while its server answers task pages the whole time.
#[test]
fn issue_24_a_training_export_in_the_shell_of_lsdb_start_while_the_server_answers() {
    use std::io::{BufRead, BufReader, Write};
    let env = boxes();
    let mut child = env
        .command(&["-p", "proj", "start", "--port", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no serving line");
    }
    let addr = line.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let mut server = crate::http::Server { child, addr };
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b".export shell_yolo yolo\n.export shell_coco coco\n").unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // Task pages are answered before, during and after the exports.
    loop {
        let page = server.get("/api/tasks?project=1&page_size=100", &[]);
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        assert_eq!(page.json()["tasks"].as_array().map(Vec::len), Some(6));
        if env.path("shell_coco/result.json").is_file() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the shell's exports did not finish");
    }
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 6);
    assert_eq!(read(&env.path("shell_yolo/labels/8e9b5347__street.txt")), "6 0.25 0.25 0.1 0.1\n");
    let coco: Value = serde_json::from_str(&read(&env.path("shell_coco/result.json"))).unwrap();
    assert_eq!(coco["images"].as_array().unwrap().len(), 6);
    drop(server.child.stdin.take());
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
}
