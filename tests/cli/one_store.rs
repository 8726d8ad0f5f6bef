//! Issue 22: one DuckDB instance per store per process. `lsdb serve` importing while it
//! answers reads, a CLI import started at once, a kill mid-import, and exactly which local
//! files the server may serve.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::http::{Server, request};
use crate::support::{TestEnv, percent_encode, rounds};

/// A JSON task list of `n` tasks, as bytes.
fn tasks_body(n: usize, tag: &str) -> Vec<u8> {
    let mut body = String::from("[");
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"data": {{"text": "{tag} {i}", "n": {i}}}, "predictions": [{{"score": 0.{}, "result": []}}]}}"#,
            i % 10
        ));
    }
    body.push(']');
    body.into_bytes()
}

/// Every table read whole, and ids unique: DuckDB reports corrupt segments on a full scan.
fn assert_store_reads_clean(env: &TestEnv) -> (i64, i64) {
    let rows = env.query(
        "SELECT (SELECT count(*) FROM tasks) AS t, (SELECT count(DISTINCT id) FROM tasks) AS dt, \
         (SELECT count(*) FROM predictions) AS p, \
         (SELECT count(DISTINCT id) FROM predictions) AS dp, \
         (SELECT sum(length(data::VARCHAR) + length(source)) FROM tasks) AS bytes, \
         (SELECT sum(length(result::VARCHAR)) FROM predictions) AS pbytes, \
         (SELECT count(*) FROM imports) AS i",
    );
    let get = |k: &str| rows[0][k].as_i64().unwrap_or(0);
    assert_eq!(get("t"), get("dt"), "task ids are unique");
    assert_eq!(get("p"), get("dp"), "prediction ids are unique");
    assert!(get("t") == 0 || get("bytes") > 0);
    (get("t"), get("i"))
}

// The race of issue 22: while the server imports an upload and answers reads, a CLI import
// starts at once. Before, a read opened the file a second time in the server's process,
// which dropped its write lock: the CLI wrote beside the server and the store lost the
// upload or was corrupted. Now the CLI waits or is told the store is busy, every time.
#[test]
fn issue_22_a_cli_import_beside_the_server_importing_and_reading_is_refused_20_times() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    env.write("other.json", String::from_utf8(tasks_body(1_000, "cli")).unwrap());
    let upload = tasks_body(20_000, "api");
    let mut expected_tasks = 0;
    // 20 rounds with LSDB_TEST_FULL (CI), 5 otherwise.
    for round in 0..i64::from(rounds(5, 20)) {
        let server = Server::start(&env, "proj", &[]);
        let addr = server.addr.clone();
        let body = upload.clone();
        let import = std::thread::spawn(move || {
            request(
                &addr,
                "POST",
                "/api/projects/1/import",
                &[("Content-Type", "application/json")],
                &body,
            )
        });
        // Reads during the import answer from the last commit.
        let page = server.get("/api/tasks?page=1&page_size=10", &[]);
        assert!(page.status == 200 || page.status == 404, "round {round}: {}", page.status);
        let cli = env
            .command(&["-p", "proj", "import", "other.json"])
            .env("LSDB_BUSY_TIMEOUT", "0")
            .output()
            .unwrap();
        assert_eq!(cli.status.code(), Some(2), "round {round}: the CLI import must be refused");
        let stderr = String::from_utf8_lossy(&cli.stderr);
        assert!(stderr.contains("is busy"), "round {round}: {stderr}");
        for _ in 0..3 {
            assert_eq!(server.get("/api/projects/1", &[]).status, 200, "round {round}");
        }
        let answer = import.join().unwrap();
        assert_eq!(answer.status, 201, "round {round}: {}", String::from_utf8_lossy(&answer.body));
        assert_eq!(answer.json()["task_count"], 20_000);
        expected_tasks += 20_000;
        // The server is alive and sees its own import.
        assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], expected_tasks);
        drop(server);
        let (tasks, imports) = assert_store_reads_clean(&env);
        assert_eq!((tasks, imports), (expected_tasks, round + 1), "round {round}");
    }
    // Nothing is left beside the store.
    let mut names: Vec<String> = std::fs::read_dir(env.path("proj"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["lsdb.duckdb"]);
}

// A kill -9 of the server in the middle of an import: the next open finds the store as it
// was before the import, and removes what the server left beside it.
#[test]
fn issue_22_a_server_killed_mid_import_leaves_the_previous_state_and_no_leftovers() {
    let env = TestEnv::new();
    env.write("first.json", String::from_utf8(tasks_body(10, "first")).unwrap());
    env.lsdb(&["init", "proj", "--input-path", "first.json"]).ok();
    let body = tasks_body(200_000, "big");
    for stop_after_ms in [0u64, 300, 1_500] {
        let mut server = Server::start(&env, "proj", &[]);
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        let head = format!(
            "POST /api/projects/1/import HTTP/1.1\r\nHost: {}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\n\r\n",
            server.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(&body);
        std::thread::sleep(Duration::from_millis(stop_after_ms));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        let (tasks, _) = assert_store_reads_clean(&env);
        assert!(tasks == 10 || tasks == 200_010, "all or nothing: {tasks}");
        let names: Vec<String> = std::fs::read_dir(env.path("proj"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["lsdb.duckdb"], "after a kill at {stop_after_ms} ms");
    }
}

/// A project whose one task references `srv/img2/cat.jpg`, beside same-named files that no
/// task references.
fn one_referenced_file() -> (TestEnv, String) {
    let env = TestEnv::new();
    for path in
        ["srv/img2/cat.jpg", "srv/img/cat.jpg", "srv/cat.jpg", "sr/cat.jpg", "srv/img2/dog.jpg"]
    {
        env.write(path, format!("bytes of {path}"));
    }
    let folder = env.path("srv/img2");
    let url = format!("/data/cat.jpg?d={}", percent_encode(folder.to_str().unwrap()));
    env.write(
        "t.json",
        format!(r#"[{{"data": {{"image": "http://localhost:8080{url}", "note": "see {url}x"}}}}]"#),
    );
    env.lsdb(&["init", "proj", "--input-path", "t.json", "--allow-serving-local-files"]).ok();
    (env, url)
}

// Before, a file was served when some task's data contained its URL as a substring, so a
// same-named file in an ancestor folder or a folder whose name is a prefix was served too.
#[test]
fn issue_22_only_the_exact_referenced_file_is_served() {
    let (env, url) = one_referenced_file();
    let root = env.path("");
    let server = Server::start(&env, "proj", &["--document-root", root.to_str().unwrap()]);
    let answer = server.get(&url, &[]);
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, b"bytes of srv/img2/cat.jpg".as_slice())
    );
    let img2 = env.path("srv/img2").to_str().unwrap().to_string();
    let folder_of = |path: &str| url.replace(&percent_encode(&img2), &percent_encode(path));
    for bad in [
        folder_of(env.path("srv/img").to_str().unwrap()),
        folder_of(env.path("srv").to_str().unwrap()),
        folder_of(env.path("sr").to_str().unwrap()),
        folder_of("/"),
        url.replace("cat.jpg", "dog.jpg"),
        format!("{url}%2F..%2Fimg"),
        "/data/local-files/?d=srv%2Fimg%2Fcat.jpg".to_string(),
        "/data/local-files/?d=srv%2Fcat.jpg".to_string(),
        "/data/local-files/?d=sr%2Fcat.jpg".to_string(),
    ] {
        let answer = server.get(&bad, &[]);
        assert_eq!(answer.status, 404, "{bad}: {}", String::from_utf8_lossy(&answer.body));
    }
    // The referenced file in Label Studio 1.x's form, under the document root.
    let answer = server.get("/data/local-files/?d=srv%2Fimg2%2Fcat.jpg", &[]);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
}

// The server keeps the referenced files in memory and reads them again when its own import
// changes the store: a media file uploaded through the API is served at once.
#[test]
fn issue_22_files_referenced_by_a_new_import_are_served_at_once() {
    let (env, url) = one_referenced_file();
    let server = Server::start(&env, "proj", &[]);
    assert_eq!(server.get(&url, &[]).status, 200);
    let boundary = "b0undary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bird.png\"\r\n\
         Content-Type: image/png\r\n\r\nPNG-BIRD\r\n--{boundary}--\r\n"
    );
    let kind = format!("multipart/form-data; boundary={boundary}");
    let answer =
        server.send("POST", "/api/projects/1/import", &[("Content-Type", &kind)], body.as_bytes());
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let uploads = percent_encode(env.path("proj/uploads").to_str().unwrap());
    let bird = server.get(&format!("/data/bird.png?d={uploads}"), &[]);
    assert_eq!((bird.status, bird.body.as_slice()), (200, b"PNG-BIRD".as_slice()));
}

// Without a token, a request under another host name (a page that rebound its DNS name to
// 127.0.0.1) is refused; the server's address and localhost answer.
#[test]
fn issue_22_without_a_token_only_the_servers_address_is_answered() {
    let (env, url) = one_referenced_file();
    let server = Server::start(&env, "proj", &[]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    for host in ["evil.example", &format!("rebound.example:{port}")] {
        let answer = server.get(&url, &[("Host", host)]);
        assert_eq!(answer.status, 403, "{host}");
        assert_eq!(server.get("/api/tasks", &[("Host", host)]).status, 403, "{host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(server.get(&url, &[("Host", &host)]).status, 200, "{host}");
    }
}

// Security: a web page may not post tasks, a token guards media too (or a URL's signature),
// and preflight requests are answered for --cors.
#[test]
fn issue_22_web_pages_cannot_import_and_the_token_guards_media() {
    let (env, url) = one_referenced_file();
    let server = Server::start(&env, "proj", &["--token", "s3cret", "--cors", "http://ls.example"]);
    let auth = ("Authorization", "Token s3cret");
    // text/plain is what a page can send without asking: 415, nothing imported.
    let answer = server.send(
        "POST",
        "/api/projects/1/import",
        &[auth, ("Content-Type", "text/plain")],
        b"[{\"text\": \"x\"}]",
    );
    assert_eq!(answer.status, 415, "{}", String::from_utf8_lossy(&answer.body));
    // A page of another origin is refused whatever it sends.
    let answer = server.send(
        "POST",
        "/api/projects/1/import",
        &[auth, ("Content-Type", "application/json"), ("Origin", "http://evil.example")],
        b"[{\"text\": \"x\"}]",
    );
    assert_eq!(answer.status, 403, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains("--cors http://evil.example"));
    // Health and version are open, as in Label Studio; media and tasks need the token.
    assert_eq!(server.get("/health", &[]).status, 200);
    assert_eq!(server.get("/api/version", &[]).status, 200);
    assert_eq!(server.get(&url, &[]).status, 401);
    assert_eq!(server.get("/api/tasks", &[]).status, 401);
    assert_eq!(server.get(&url, &[auth]).status, 200);
    // A signed URL from `lsdb export --sign-urls` opens its one file without the header.
    drop(server);
    let exported = env.lsdb(&["-p", "proj", "export", "--sign-urls", "s3cret", "-o", "-"]).ok();
    let tasks: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let signed = tasks[0]["data"]["image"].as_str().unwrap().to_string();
    let signed = signed.strip_prefix("http://localhost:8080").unwrap().to_string();
    assert!(signed.contains("&sig="), "{signed}");
    let server = Server::start(&env, "proj", &["--token", "s3cret", "--cors", "http://ls.example"]);
    assert_eq!(server.get(&signed, &[]).status, 200);
    let other = signed.replace("cat.jpg", "dog.jpg");
    assert_eq!(server.get(&other, &[]).status, 401);
    // The preflight a browser sends before a JSON POST from the allowed origin.
    let preflight = server.send(
        "OPTIONS",
        "/api/projects/1/import",
        &[
            ("Origin", "http://ls.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization,content-type"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("http://ls.example"));
    assert!(preflight.header("access-control-allow-methods").unwrap().contains("POST"));
}

// A client of the import API may not make the server serve any file of the machine: a task
// it imports references local files only in the project's uploads/ folder. The same task
// imported by the user's own CLI is served.
#[test]
fn issue_22_tasks_from_the_import_api_reference_only_uploaded_files() {
    let (env, url) = one_referenced_file();
    let dog = url.replace("cat.jpg", "dog.jpg");
    let task = format!(r#"[{{"image": "http://localhost:8080{dog}"}}]"#);
    let server = Server::start(&env, "proj", &[]);
    let json = [("Content-Type", "application/json")];
    let answer = server.send("POST", "/api/projects/1/import", &json, task.as_bytes());
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(server.get(&dog, &[]).status, 404);
    assert_eq!(server.get(&url, &[]).status, 200);
    drop(server);
    env.write("dog.json", &task);
    env.lsdb(&["-p", "proj", "import", "dog.json"]).ok();
    let server = Server::start(&env, "proj", &[]);
    assert_eq!(server.get(&dog, &[]).status, 200);
}

// What a killed lsdb left beside the store goes at the next open; a new store that a live
// process is building beside it (another `init` in the same folder) stays.
#[test]
fn issue_22_leftovers_of_dead_processes_go_and_live_ones_stay() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let live = format!(".lsdb.duckdb.new-{}", std::process::id());
    for name in [".lsdb.duckdb.new-4000000", ".lsdb.duckdb.new-4000000.wal", &live] {
        env.write(&format!("proj/{name}"), "x");
    }
    env.write("proj/.lsdb-upload-dead/tasks.json", "[]");
    env.write("proj/lsdb.duckdb.tmp/spill.block", "x");
    env.lsdb(&["-p", "proj", "stats"]).ok();
    let mut names: Vec<String> = std::fs::read_dir(env.path("proj"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [live.as_str(), "lsdb.duckdb"]);
}

// Uploads of media files of the same name at once each keep their own file: a name is
// taken by creating it (before, two uploads could choose the same name and one overwrote
// the other's bytes).
#[test]
fn issue_22_concurrent_uploads_of_one_name_keep_every_file() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let boundary = "b0undary";
    let kind = format!("multipart/form-data; boundary={boundary}");
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let (addr, kind) = (server.addr.clone(), kind.clone());
            std::thread::spawn(move || {
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                     filename=\"cat.png\"\r\nContent-Type: image/png\r\n\r\nPNG-{i}\r\n--{boundary}--\r\n"
                );
                request(&addr, "POST", "/api/projects/1/import", &[("Content-Type", &kind)], body.as_bytes())
            })
        })
        .collect();
    for sender in senders {
        let answer = sender.join().unwrap();
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    }
    let page = server.get("/api/tasks?page=1&page_size=100", &[]).json();
    let mut bodies: Vec<String> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let url = t["data"]["image"].as_str().unwrap().replace("http://localhost:8080", "");
            String::from_utf8(server.get(&url, &[]).body).unwrap()
        })
        .collect();
    bodies.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("PNG-{i}")).collect();
    assert_eq!(bodies, expected);
}
