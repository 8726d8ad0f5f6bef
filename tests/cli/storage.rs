//! Issue 13: buckets as import sources, against real local servers (`servers.rs`): moto's S3
//! server (with IAM on, so credentials and signatures are checked), fake-gcs-server and
//! Azurite. Each test uses buckets of its own. The objects are put with boto3, Azure's SDK
//! and plain HTTP (`tests/storage/objects.py`), not with lsdb.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::{Server, get_url};
use crate::servers::{AZURITE_KEY, base64_url, free_port, lsdb_s3, md5_of, servers, snapshot};
use crate::support::{Run, TestEnv};

/// A bucket of 1,000 images in 10 folders, some non-images beside them, a prefix of JSON
/// task files, a JSONL file and a CSV.
fn mixed_bucket(bucket: &str) {
    servers().s3(json!({
        "bucket": bucket,
        "create": true,
        "copies": {
            "imgs/d0/{i:04}.png": [100, "png-0-"], "imgs/d1/{i:04}.png": [100, "png-1-"],
            "imgs/d2/{i:04}.png": [100, "png-2-"], "imgs/d3/{i:04}.png": [100, "png-3-"],
            "imgs/d4/{i:04}.png": [100, "png-4-"], "imgs/d5/{i:04}.jpg": [100, "jpg-5-"],
            "imgs/d6/{i:04}.jpg": [100, "jpg-6-"], "imgs/d7/{i:04}.jpg": [100, "jpg-7-"],
            "imgs/d8/{i:04}.jpg": [100, "jpg-8-"], "imgs/d9/deep/{i:04}.webp": [100, "webp-"],
        },
        "put": {
            "imgs/README.md": "not an image",
            "imgs/d0/labels.csv": "a,b\n1,2\n",
            "imgs/top.png": "a top-level image",
            "tasks/a.json": "[{\"data\": {\"text\": \"one\"}, \"predictions\": [{\"result\": [], \"score\": 0.5}]}, {\"data\": {\"text\": \"two\"}}]",
            "tasks/b.json": "{\"data\": {\"text\": \"three\"}}",
            "tasks/c.jsonl": "{\"text\": \"four\"}\n{\"text\": \"five\"}\n",
            "tasks/d.csv": "text,lang\nsix,en\nseven,de\n",
            "tasks/notes.bin": "skipped",
        },
    }));
}

#[test]
fn issue_13_bucket_prefixes_import_like_local_folders() {
    let env = TestEnv::new();
    mixed_bucket("mixed");
    // One level, as Label Studio lists: the top image only, and a note about the rest.
    let out = lsdb_s3(&env, &["-p", "proj", "import", "s3://mixed/imgs/", "--format", "image-dir"]);
    let stdout = out.ok();
    assert!(stdout.contains("imported 1 task"), "{stdout}");
    assert!(
        stdout.contains("10 subfolders that were not read") && stdout.contains("--recursive"),
        "{stdout}"
    );
    let out = lsdb_s3(
        &env,
        &["-p", "proj", "import", "s3://mixed/imgs/", "--format", "image-dir", "--recursive"],
    );
    let stdout = out.ok();
    // 1,001 images; the top one is a duplicate of the first import's task.
    assert!(stdout.contains("imported 1001 tasks"), "{stdout}");
    assert!(stdout.contains("1 duplicate"), "{stdout}");
    assert!(stdout.contains("skipped 2"), "README.md and labels.csv: {stdout}");
    let rows = env.query(
        "SELECT data->>'image' AS image, source FROM tasks WHERE data->>'image' LIKE '%d9/deep/0007%'",
    );
    assert_eq!(rows[0]["image"], "s3://mixed/imgs/d9/deep/0007.webp");
    let source = rows[0]["source"].as_str().unwrap();
    assert!(source.starts_with("s3://mixed/imgs/d9/deep/0007.webp etag="), "{source}");
    // A regex filter anchored on the whole key.
    let env2 = TestEnv::new();
    let out = lsdb_s3(
        &env2,
        &[
            "-p",
            "proj",
            "import",
            "s3://mixed/",
            "--prefix",
            "imgs",
            "--recursive",
            "--format",
            "image-dir",
            "--regex-filter",
            r"imgs/d[12]/00[0-4]\d\.png",
        ],
    );
    assert!(out.ok().contains("imported 100 tasks"), "{}", out.stdout());

    // A prefix of task files, each read by its extension.
    let env3 = TestEnv::new();
    let out = lsdb_s3(&env3, &["-p", "proj", "import", "s3://mixed/tasks/"]);
    let stdout = out.ok();
    assert!(stdout.contains("imported 7 tasks, 0 completions, 1 prediction"), "{stdout}");
    let rows = env3.query("SELECT data->>'text' AS t, source FROM tasks ORDER BY id");
    let texts: Vec<&str> =
        rows.as_array().unwrap().iter().map(|r| r["t"].as_str().unwrap()).collect();
    assert_eq!(texts, ["one", "two", "three", "four", "five", "six", "seven"]);
    let source = rows[1]["source"].as_str().unwrap();
    assert!(source.starts_with("s3://mixed/tasks/a.json[1] etag="), "{source}");
    let source = rows[3]["source"].as_str().unwrap();
    assert!(source.starts_with("s3://mixed/tasks/c.jsonl:1 etag="), "{source}");
    // --use-blob-urls: every object is one task, its URI the data, whatever it holds.
    let env5 = TestEnv::new();
    let out = lsdb_s3(&env5, &["-p", "proj", "import", "s3://mixed/tasks/", "--use-blob-urls"]);
    assert!(out.ok().contains("imported 5 tasks"), "{}", out.stdout());
    let rows = env5.query("SELECT data->>'image' AS i FROM tasks ORDER BY id");
    assert_eq!(rows[0]["i"], "s3://mixed/tasks/a.json");
    assert_eq!(rows[4]["i"], "s3://mixed/tasks/notes.bin");
    // One object by its URL.
    let env4 = TestEnv::new();
    let out = lsdb_s3(&env4, &["-p", "proj", "import", "s3://mixed/tasks/c.jsonl"]);
    assert!(out.ok().contains("imported 2 tasks"), "{}", out.stdout());
    // A broken task file in a bucket is told by its URI and line, and nothing is imported.
    servers().s3(
        json!({"bucket": "mixed", "put": {"broken/x.jsonl": "{\"text\": \"ok\"}\n{\"text\": \n"}}),
    );
    let before = snapshot(&env4);
    let err = lsdb_s3(&env4, &["-p", "proj", "import", "s3://mixed/broken/"])
        .fails_with("s3://mixed/broken/x.jsonl:2:");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(snapshot(&env4), before);
}

#[test]
fn issue_13_sync_imports_only_new_and_changed_objects_and_reports_deleted_ones() {
    let env = TestEnv::new();
    let s = servers();
    s.s3(json!({"bucket": "syncb", "create": true, "copies": {"p/{i:04}.jpg": [1000, "img-"]}}));
    env.lsdb(&["init", "proj", "--template", "image_classification"]).ok();
    lsdb_s3(
        &env,
        &["-p", "proj", "storage", "add", "photos", "s3://syncb/p/", "--format", "image-dir"],
    )
    .ok();
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync", "photos"]).ok();
    assert!(
        out.contains("1000 objects listed, 1000 new, 0 changed, 0 deleted, 0 unchanged"),
        "{out}"
    );
    assert!(out.contains("imported 1000 tasks"), "{out}");
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync"]).ok();
    assert!(
        out.contains("1000 objects listed, 0 new, 0 changed, 0 deleted, 1000 unchanged"),
        "{out}"
    );
    assert!(out.contains("imported 0 tasks"), "{out}");
    assert_eq!(env.count("tasks"), 1000);
    // A second definition over the same objects adds nothing either.
    lsdb_s3(
        &env,
        &[
            "-p",
            "proj",
            "storage",
            "add",
            "again",
            "s3://syncb/",
            "--prefix",
            "p",
            "--format",
            "image-dir",
        ],
    )
    .ok();
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync", "again"]).ok();
    assert!(out.contains("0 new, 0 changed, 0 deleted, 1000 unchanged"), "{out}");
    // Ten new objects, one changed, one deleted (its task annotated? no: removable).
    s.s3(json!({"bucket": "syncb", "copies": {"p/new-{i:02}.jpg": [10, "new-"]},
                "put": {"p/0005.jpg": "changed bytes"}, "delete": ["p/0007.jpg"]}));
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync", "photos"]).ok();
    assert!(
        out.contains("1009 objects listed, 10 new, 1 changed, 1 deleted, 998 unchanged"),
        "{out}"
    );
    assert!(out.contains("deleted: s3://syncb/p/0007.jpg"), "{out}");
    assert!(out.contains("--prune"), "{out}");
    assert_eq!(env.count("tasks"), 1010, "new objects only; the changed one keeps its task");
    let etag = env.query("SELECT etag FROM storage_objects WHERE uri = 's3://syncb/p/0005.jpg'");
    assert_eq!(etag[0]["etag"], format!("{:x}", md5_of(b"changed bytes")));
    // Each sync is one row in imports.
    assert_eq!(env.count("imports"), 4);
    // --prune removes the deleted object's task (it has no completions).
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync", "photos", "--prune"]).ok();
    assert!(out.contains("removed 1 tasks of deleted objects"), "{out}");
    assert_eq!(env.count("tasks"), 1009);
    let gone =
        env.query("SELECT count(*) AS n FROM tasks WHERE data->>'image' = 's3://syncb/p/0007.jpg'");
    assert_eq!(gone[0]["n"], 0);
    let out = lsdb_s3(&env, &["-p", "proj", "storage", "sync", "photos"]).ok();
    assert!(out.contains("0 new, 0 changed, 0 deleted, 1009 unchanged"), "{out}");
    // storage list hides secrets given as flags.
    lsdb_s3(
        &env,
        &[
            "-p",
            "proj",
            "storage",
            "add",
            "flagged",
            "s3://syncb/p/",
            "--aws-access-key-id",
            &s.key_id,
            "--aws-secret-access-key",
            &s.secret,
        ],
    )
    .ok();
    let out = env.lsdb(&["-p", "proj", "storage", "list", "--format", "json"]).ok();
    assert!(!out.contains(&s.secret), "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[1]["objects"], "1009");
}

#[test]
fn issue_13_presigned_urls_fetch_the_bytes_in_export_and_serve() {
    let env = TestEnv::new();
    let s = servers();
    // lsdb with the IAM-less server's endpoint and any keys in its environment.
    let open_command = |args: &[&str]| {
        let mut cmd = env.command(args);
        cmd.env("AWS_ACCESS_KEY_ID", "open")
            .env("AWS_SECRET_ACCESS_KEY", "open")
            .env("AWS_ENDPOINT_URL", &s.s3_open);
        cmd
    };
    let open = |args: &[&str]| {
        let output = open_command(args).stdin(Stdio::null()).output().unwrap();
        Run { args: args.iter().map(|s| s.to_string()).collect(), output }
    };
    let ops = json!({"bucket": "signed", "create": true,
                     "put": {"a dir/cat 1.png": "PNG-bytes-of-a-cat", "b.png": "b", "odd%key #1+ü.png": "odd"}});
    s.helper(&["s3", "--endpoint", &s.s3_open, "--key", "open", "--secret", "open"], ops);
    env.lsdb(&["init", "proj"]).ok();
    open(&[
        "-p",
        "proj",
        "storage",
        "add",
        "cats",
        "s3://signed/",
        "--format",
        "image-dir",
        "--recursive",
        "--presign-ttl",
        "15",
    ])
    .ok();
    open(&["-p", "proj", "storage", "sync"]).ok();
    // The store keeps the URI; the export has presigned URLs that the server answers.
    let out = open(&["-p", "proj", "export", "--presign", "--presign-ttl", "5"]).ok();
    let tasks: Value = serde_json::from_str(&out).unwrap();
    let url = tasks[0]["data"]["image"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/signed/a%20dir/cat%201.png?X-Amz-Algorithm=AWS4-HMAC-SHA256",
            s.s3_open
        )),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let answer = get_url(url);
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"PNG-bytes-of-a-cat".as_slice()));
    // Keys with characters URLs escape are the same keys, listed, stored and signed.
    let odd = tasks[2]["data"]["image"].as_str().unwrap();
    assert!(odd.contains("/signed/odd%25key%20%231%2B%C3%BC.png?"), "{odd}");
    assert_eq!(get_url(odd).body, b"odd");
    // The same URL as boto3's own signer makes for that moment (the server does not check).
    let at = url.split("X-Amz-Date=").nth(1).unwrap().split('&').next().unwrap();
    let theirs = s.helper(
        &[
            "s3-presign",
            "--endpoint",
            &s.s3_open,
            "--key",
            "open",
            "--secret",
            "open",
            "--bucket",
            "signed",
            "--object",
            "a dir/cat 1.png",
            "--expires",
            "300",
            "--at",
            at,
        ],
        json!({}),
    );
    assert_eq!(String::from_utf8(theirs).unwrap().trim(), url);
    open(&["-p", "proj", "export", "--presign", "--presign-ttl", "20000"])
        .fails_with("--presign-ttl");
    let stored = env.query("SELECT data->>'image' AS i FROM tasks ORDER BY id LIMIT 1");
    assert_eq!(stored[0]["i"], "s3://signed/a dir/cat 1.png");

    // lsdb serve answers Label Studio's resolve route with a redirect to a presigned URL
    // (the credentials are the storage's environment's: the server's own).
    let server = Server::spawn(open_command(&["-p", "proj", "serve", "--port", "0"]));
    let fileuri = base64_url("s3://signed/a dir/cat 1.png");
    let resolved = server.get(&format!("/tasks/1/resolve/?fileuri={fileuri}"), &[]);
    assert_eq!(resolved.status, 303);
    let location = resolved.header("location").unwrap();
    assert!(location.contains("X-Amz-Expires=900"), "the storage's --presign-ttl: {location}");
    assert_eq!(resolved.header("cache-control"), Some("no-store, max-age=900"));
    let answer = get_url(location);
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"PNG-bytes-of-a-cat".as_slice()));
    // A URI no task references, or a task that does not reference it, is not resolved.
    let other = base64_url("s3://signed/secret.png");
    assert_eq!(server.get(&format!("/tasks/1/resolve/?fileuri={other}"), &[]).status, 404);
    let b = base64_url("s3://signed/b.png");
    assert_eq!(server.get(&format!("/tasks/1/presign/?fileuri={b}"), &[]).status, 404);
    assert_eq!(server.get(&format!("/projects/1/presign/?fileuri={b}"), &[]).status, 303);
    drop(server);

    // A storage with --no-presign is never exposed: lsdb streams the object itself.
    open(&["-p", "proj", "storage", "remove", "cats"]).ok();
    open(&["-p", "proj", "storage", "add", "cats", "s3://signed/", "--no-presign"]).ok();
    let server = Server::spawn(open_command(&["-p", "proj", "serve", "--port", "0"]));
    let answer = server.get(&format!("/tasks/1/resolve/?fileuri={fileuri}"), &[]);
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"PNG-bytes-of-a-cat".as_slice()));
    assert_eq!(answer.header("content-type"), Some("image/png"), "{:?}", answer.headers);
}

#[test]
fn issue_13_exports_go_to_buckets() {
    let env = TestEnv::with_project("configs/sampling.xml", "tasks/sampling.json");
    let s = servers();
    s.s3(json!({"bucket": "out", "create": true}));
    let local = env.lsdb(&["-p", "proj", "export"]).ok();
    let err = lsdb_s3(&env, &["-p", "proj", "export", "-o", "s3://out/queues/queue.json"]).exit(0);
    assert!(err.contains("to s3://out/queues/queue.json"), "{err}");
    let uploaded = s.s3(json!({"bucket": "out", "get": "queues/queue.json"}));
    assert_eq!(String::from_utf8(uploaded).unwrap(), local);
    lsdb_s3(&env, &["-p", "proj", "export", "--format", "parquet", "-o", "s3://out/lake/p1/"])
        .exit(0);
    let parquet = s.s3(json!({"bucket": "out", "get": "lake/p1/tasks.parquet"}));
    assert_eq!(&parquet[..4], b"PAR1");
    s.s3(json!({"bucket": "out", "get": "lake/p1/predictions.parquet"}));
    lsdb_s3(&env, &["-p", "proj", "export", "-o", "s3://out/"])
        .fails_with("give the object's name");
}

#[test]
fn issue_13_bad_credentials_missing_buckets_and_dead_endpoints_fail_cleanly() {
    let env = TestEnv::with_project("configs/sampling.xml", "tasks/sampling.json");
    let s = servers();
    s.s3(json!({"bucket": "errs", "create": true, "put": {"a.png": "a"}}));
    let before = snapshot(&env);
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = env.command(args);
        cmd.env("AWS_ENDPOINT_URL", &s.s3)
            .env("AWS_ACCESS_KEY_ID", &s.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            output: cmd.stdin(Stdio::null()).output().unwrap(),
        }
    };
    let import = ["-p", "proj", "import", "s3://errs/", "--format", "image-dir"];
    let err = run(&import, &[("AWS_SECRET_ACCESS_KEY", "wrong")]).fails_with("access denied");
    assert!(err.contains("s3://errs/") && err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    let err = run(&import, &[("AWS_ACCESS_KEY_ID", "AKIANOSUCHKEY")]).fails_with("access denied");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = run(&["-p", "proj", "import", "s3://no-such-bucket/", "--format", "image-dir"], &[])
        .fails_with("no such bucket");
    assert_eq!(err.lines().count(), 1, "{err}");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let err = run(&import, &[("AWS_ENDPOINT_URL", &dead)]).fails_with("can't reach");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "gave up in {:?}", started.elapsed());
    let err = run(&["-p", "proj", "storage", "add", "x", "s3://no-such-bucket/"], &[])
        .fails_with("no such bucket");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = env
        .command(&import)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no AWS credentials"));
    // Bad options are told before anything is asked of a server.
    let bad: [(&[&str], &str); 5] = [
        (&["-p", "proj", "import", "s3://errs/", "--regex-filter", "(unclosed"], "--regex-filter"),
        (&["-p", "proj", "import", "s3:///nobucket"], "no bucket in the URL"),
        (&["-p", "proj", "storage", "add", "bad name!", "s3://errs/"], "is not a storage name"),
        (&["-p", "proj", "storage", "add", "x", "/not/a/bucket"], "is not a bucket URL"),
        (
            &["-p", "proj", "storage", "add", "x", "s3://errs/", "--presign-ttl", "20000"],
            "--presign-ttl",
        ),
    ];
    for (args, text) in bad {
        assert_eq!(run(args, &[]).fails_with(text).lines().count(), 1, "{args:?}");
    }
    assert_eq!(snapshot(&env), before, "the failed commands left the store as it was");
    // A sync whose bucket went away leaves the store as it was.
    run(&["-p", "proj", "storage", "add", "gone", "s3://errs/", "--format", "image-dir"], &[]).ok();
    let before_sync = snapshot(&env);
    run(&["-p", "proj", "storage", "sync", "gone"], &[("AWS_SECRET_ACCESS_KEY", "wrong")])
        .fails_with("access denied");
    assert_eq!(snapshot(&env), before_sync);
    assert_ne!(before, before_sync, "only the definition was added");
    assert_eq!(
        env.lsdb(&["-p", "proj", "storage", "sync", "nope"])
            .fails_with("no storage named")
            .lines()
            .count(),
        1
    );
}

#[test]
fn issue_13_gcs_media_prefixes_and_task_files_import() {
    let env = TestEnv::new();
    let s = servers();
    s.gcs(json!({"bucket": "gbucket", "create": true,
                 "copies": {"media/{i:02}.jpg": [12, "jpg-"]},
                 "put": {"media/notes.txt": "skip me", "tasks/t.json": "[{\"text\": \"g1\"}, {\"text\": \"g2\"}]"}}));
    let run = |args: &[&str]| {
        let output = env
            .command(args)
            .env("STORAGE_EMULATOR_HOST", &s.gcs)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run { args: args.iter().map(|s| s.to_string()).collect(), output }
    };
    let out = run(&["-p", "proj", "import", "gs://gbucket/media/", "--format", "image-dir"]).ok();
    assert!(out.contains("imported 12 tasks") && out.contains("skipped 1"), "{out}");
    let rows = env.query("SELECT data->>'image' AS i FROM tasks ORDER BY id LIMIT 1");
    assert_eq!(rows[0]["i"], "gs://gbucket/media/00.jpg");
    let out = run(&["-p", "proj", "import", "gs://gbucket/tasks/t.json"]).ok();
    assert!(out.contains("imported 2 tasks"), "{out}");
    // The same through a storage definition and --endpoint-url: nothing new.
    let endpoint = s.gcs.clone();
    let output = env
        .command(&[
            "-p",
            "proj",
            "storage",
            "add",
            "g",
            "gs://gbucket/media/",
            "--format",
            "image-dir",
            "--endpoint-url",
            &endpoint,
        ])
        .env_remove("STORAGE_EMULATOR_HOST")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output = env.command(&["-p", "proj", "storage", "sync", "g"]).output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("12 objects listed, 0 new, 0 changed, 0 deleted, 12 unchanged"), "{out}");
}

#[test]
fn issue_13_azure_containers_import_sync_and_presign_with_checked_signatures() {
    let env = TestEnv::new();
    let s = servers();
    s.azure(json!({"bucket": "azc", "create": true,
                   "copies": {"imgs/{i:02}.png": [7, "png-"]},
                   "put": {"tasks/t.json": "[{\"text\": \"a1\"}, {\"text\": \"a2\"}]"}}));
    let run = |args: &[&str], key: &str| {
        let output = env
            .command(args)
            .env("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
            .env("AZURE_STORAGE_ACCOUNT_KEY", key)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run { args: args.iter().map(|s| s.to_string()).collect(), output }
    };
    let endpoint = s.azure.clone();
    let e = ["--endpoint-url", endpoint.as_str()];
    let out = run(
        &[&["-p", "proj", "import", "az://azc/imgs/", "--format", "image-dir"][..], &e].concat(),
        AZURITE_KEY,
    )
    .ok();
    assert!(out.contains("imported 7 tasks"), "{out}");
    let rows = env.query("SELECT data->>'image' AS i, source FROM tasks ORDER BY id LIMIT 1");
    assert_eq!(rows[0]["i"], "azure-blob://azc/imgs/00.png", "Label Studio's scheme for Azure");
    assert!(rows[0]["source"].as_str().unwrap().starts_with("azure-blob://azc/imgs/00.png etag="));
    let out = run(
        &[&["-p", "proj", "import", "azure-blob://azc/tasks/t.json"][..], &e].concat(),
        AZURITE_KEY,
    )
    .ok();
    assert!(out.contains("imported 2 tasks"), "{out}");
    run(
        &[
            &["-p", "proj", "storage", "add", "az", "az://azc/imgs/", "--format", "image-dir"][..],
            &e,
        ]
        .concat(),
        AZURITE_KEY,
    )
    .ok();
    let out = run(&["-p", "proj", "storage", "sync"], AZURITE_KEY).ok();
    assert!(out.contains("7 objects listed, 0 new, 0 changed, 0 deleted, 7 unchanged"), "{out}");
    // SAS URLs, which Azurite checks: the URL fetches the bytes, a changed one is refused.
    let out = run(&["-p", "proj", "export", "--presign"], AZURITE_KEY).ok();
    let tasks: Value = serde_json::from_str(&out).unwrap();
    let url = tasks[0]["data"]["image"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{endpoint}/azc/imgs/00.png?")) && url.contains("sig="),
        "{url}"
    );
    let answer = get_url(url);
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"png-0".as_slice()));
    assert_eq!(get_url(&url.replace("imgs/00.png", "imgs/01.png")).status, 403);
    // A wrong account key: one line, exit 2, nothing imported.
    let before = snapshot(&env);
    let wrong = "d3Jvbmcga2V5IGZvciB0aGUgZGV2IGFjY291bnQgb2YgYXp1cml0ZQ==";
    let err = run(
        &[&["-p", "proj", "import", "az://azc/imgs/", "--format", "image-dir"][..], &e].concat(),
        wrong,
    )
    .fails_with("access denied");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(snapshot(&env), before);
}
