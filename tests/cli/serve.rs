//! Issue 12: `lsdb serve` over a real project on a free loopback port, spoken to over TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use crate::http::Server;
use crate::support::{LSDB, TestEnv, percent_encode};

/// A project of two images (and a file beside them that no task names), allowed to serve them.
fn images(allow: bool) -> TestEnv {
    let env = TestEnv::new();
    env.write("imgs/a.jpg", b"\xff\xd8\xffJPEG-0123456789");
    env.write(
        "imgs/page.svg",
        "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    );
    let mut args = vec!["init", "proj", "--input-path", "imgs", "--input-format", "image-dir"];
    if allow {
        args.push("--allow-serving-local-files");
    }
    env.lsdb(&args).ok();
    env.write("imgs/secret.jpg", "not in any task");
    env
}

/// The URL of a task's image, without the host.
fn url_of(env: &TestEnv, name: &str) -> String {
    let rows = env.query(&format!(
        "SELECT data->>'image' AS u FROM tasks WHERE data->>'image' LIKE '%{name}%'"
    ));
    let url = rows[0]["u"].as_str().unwrap().to_string();
    url.strip_prefix("http://localhost:8080").unwrap().to_string()
}

#[test]
fn issue_12_referenced_files_are_served_with_ranges_and_caching() {
    let env = images(true);
    let url = url_of(&env, "a.jpg");
    // A task naming an SVG beside it, imported by the user (the CLI, before the server holds
    // the store).
    let svg_url = url.replace("a.jpg", "page.svg");
    env.write("t.json", format!(r#"[{{"data": {{"image": "http://localhost:8080{svg_url}"}}}}]"#));
    env.lsdb(&["-p", "proj", "import", "t.json"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let whole = server.get(&url, &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, b"\xff\xd8\xffJPEG-0123456789");
    assert_eq!(whole.header("content-type"), Some("image/jpeg"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("x-content-type-options"), Some("nosniff"));
    assert!(whole.header("last-modified").is_some());
    let part = server.get(&url, &[("Range", "bytes=3-6")]);
    assert_eq!((part.status, part.body.as_slice()), (206, &b"JPEG"[..]));
    assert_eq!(part.header("content-range"), Some("bytes 3-6/18"));
    assert_eq!(server.get(&url, &[("Range", "bytes=100-")]).status, 416);
    let etag = whole.header("etag").unwrap().to_string();
    assert_eq!(server.get(&url, &[("If-None-Match", &etag)]).status, 304);
    // Active content is sandboxed.
    let svg = server.get(&svg_url, &[]);
    assert_eq!(svg.status, 200);
    assert!(svg.header("content-security-policy").unwrap().starts_with("sandbox"));
}

#[test]
fn issue_12_only_what_tasks_reference_is_served() {
    let env = images(true);
    let folder = env.path("imgs");
    std::os::unix::fs::symlink("/etc/passwd", folder.join("link.jpg")).unwrap();
    // A task that names the link, as a JSON task may.
    let link_url = url_of(&env, "a.jpg").replace("a.jpg", "link.jpg");
    env.write("t.json", format!(r#"[{{"data": {{"image": "http://localhost:8080{link_url}"}}}}]"#));
    env.lsdb(&["-p", "proj", "import", "t.json"]).ok();
    let a = url_of(&env, "a.jpg");
    let server = Server::start(&env, "proj", &[]);
    let (path, query) = a.split_once('?').unwrap();
    for bad in [
        a.replace("a.jpg", "secret.jpg"),
        link_url.clone(),
        "/data/passwd?d=%2Fetc".to_string(),
        format!("{}?{query}%2F..%2Fimgs", path),
        format!("/data/..?{query}"),
        format!("/data/a.jpg%00?{query}"),
        "/data/a.jpg".to_string(),
    ] {
        let answer = server.get(&bad, &[]);
        assert_eq!(answer.status, 404, "{bad}: {}", String::from_utf8_lossy(&answer.body));
    }
    assert_eq!(server.get(&a, &[]).status, 200);
}

#[test]
fn issue_12_a_project_that_does_not_allow_it_answers_403_naming_the_flag() {
    let env = images(false);
    let url = url_of(&env, "a.jpg");
    let server = Server::start(&env, "proj", &[]);
    let answer = server.get(&url, &[]);
    assert_eq!(answer.status, 403);
    assert!(String::from_utf8_lossy(&answer.body).contains("--allow-serving-local-files"));
}

#[test]
fn issue_12_label_studio_1_urls_are_served_under_the_document_root() {
    let env = images(true);
    let root = env.path("");
    let server = Server::start(&env, "proj", &["--document-root", root.to_str().unwrap()]);
    let answer = server.get("/data/local-files/?d=imgs%2Fa.jpg", &[]);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(server.get("/data/local-files/?d=..%2Fetc%2Fpasswd", &[]).status, 404);
    assert_eq!(server.get("/data/local-files/?d=imgs%2Fsecret.jpg", &[]).status, 404);
}

#[test]
fn issue_12_tokens_and_addresses() {
    let env = images(true);
    let server =
        Server::start(&env, "proj", &["--token", "s3cret", "--cors", "http://localhost:8081"]);
    // /api/version is open, as in Label Studio; project data needs the token.
    assert_eq!(server.get("/api/version", &[]).status, 200);
    let denied = server.get("/api/tasks", &[]);
    assert_eq!(denied.status, 401);
    assert!(String::from_utf8_lossy(&denied.body).contains("Authentication credentials"));
    let allowed = server.get(
        "/api/tasks/",
        &[("Authorization", "Token s3cret"), ("Origin", "http://localhost:8081")],
    );
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:8081"));
    assert_eq!(server.get("/health", &[]).status, 200);
    env.lsdb(&["-p", "proj", "serve", "--host", "0.0.0.0", "--port", "0"])
        .fails_with("--host 0.0.0.0 lets other machines reach the project; give --token");
}

// The server holds the store while it runs (issue 22: one DuckDB instance per process, no
// second open behind it): other commands are told the store is busy, naming the server,
// and SIGTERM stops it cleanly, after which they work.
#[test]
fn issue_22_other_commands_are_told_the_store_is_busy_and_sigterm_stops_it() {
    let env = images(true);
    let url = url_of(&env, "a.jpg");
    let mut server = Server::start(&env, "proj", &[]);
    env.write("more.json", r#"[{"data": {"image": "x"}}]"#);
    let busy = env
        .command(&["-p", "proj", "import", "more.json"])
        .env("LSDB_BUSY_TIMEOUT", "0")
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert!(stderr.contains("is busy") && stderr.contains("lsdb serve"), "{stderr}");
    assert_eq!(server.get(&url, &[]).status, 200);
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    env.lsdb(&["-p", "proj", "import", "more.json"]).ok();
    assert_eq!(env.count("tasks"), 2);
}

// The seed's `lsdb start ... --allow-serving-local-files`: while the shell is open, the task
// URLs answer with the image bytes (here on a free port; 8080 when none is given).
#[test]
fn issue_12_start_serves_the_images_while_the_shell_is_open() {
    let env = TestEnv::new();
    env.write("images/cat.jpg", b"\xff\xd8\xffCAT");
    let mut child = Command::new(LSDB)
        .current_dir(env.dir.path())
        .args(["start", "my-project", "--init", "--input-path=images", "--input-format=image-dir"])
        .args(["--allow-serving-local-files", "--template", "image_bbox", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no serving line");
    }
    let addr = line.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let server = Server { child, addr };
    // The shell holds the store: the URL is made here as lsdb makes it.
    let folder = env.path("images");
    let encoded = percent_encode(folder.to_str().unwrap());
    let url = format!("/data/cat.jpg?d={encoded}");
    let answer = server.get(&url, &[]);
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"\xff\xd8\xffCAT"[..]));
    // The import API works beside the shell too.
    let json_type = [("Content-Type", "application/json")];
    let answer =
        server.send("POST", "/api/projects/1/import", &json_type, br#"[{"image": "x.jpg"}]"#);
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 2);
    // Issue 22: a task the shell inserts by SQL (the same DuckDB instance as the server's)
    // makes its file servable at once: every shell statement moves the store's generation.
    env.write("images/dog.jpg", b"\xff\xd8\xffDOG");
    let dog = url.replace("cat.jpg", "dog.jpg");
    assert_eq!(server.get(&dog, &[]).status, 404);
    let mut server = server;
    let insert = format!(
        "INSERT INTO tasks (id, data) VALUES (100, '{{\"image\": \"http://localhost:8080{dog}\"}}');\n"
    );
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(insert.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get(&dog, &[]).status != 200 {
        assert!(std::time::Instant::now() < deadline, "the shell's insert was not seen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Issue 23: the shell's .import and .export run what `lsdb import` and `lsdb export` run,
    // in the process the server is in: the imported task's file is served, and the export
    // holds every task, while the server answers.
    env.write("images/owl.jpg", b"\xff\xd8\xffOWL");
    let owl = url.replace("cat.jpg", "owl.jpg");
    env.write("owl.json", format!(r#"[{{"image": "http://localhost:8080{owl}"}}]"#));
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b".import owl.json\n.export all.json\n").unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.get(&owl, &[]).status != 200 {
        assert!(std::time::Instant::now() < deadline, "the shell's .import was not served");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 4);
    let exported = loop {
        let text = std::fs::read_to_string(env.path("all.json")).unwrap_or_default();
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(tasks) => break tasks,
            Err(_) => {
                assert!(std::time::Instant::now() < deadline, "the shell's .export: {text}");
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
        }
    };
    assert_eq!(exported.as_array().map(Vec::len), Some(4), "{exported}");
    // Closing the shell ends it all.
    drop(server.child.stdin.take());
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
}

/// A multipart/form-data body of (field, file name, content) parts.
fn multipart(parts: &[(&str, &str, &str)]) -> (String, Vec<u8>) {
    let boundary = "lsdb-test-boundary";
    let mut body = Vec::new();
    for (field, name, content) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n{content}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn issue_12_the_import_api_takes_json_and_files_all_or_nothing() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let json_type = [("Content-Type", "application/json")];
    let answer = server.send(
        "POST",
        "/api/projects/1/import?return_task_ids=true",
        &json_type,
        br#"[{"text": "Some text 1"}, {"data": {"text": "Some text 2"}, "predictions": [{"result": [], "score": 0.5}]}]"#,
    );
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json();
    assert_eq!(body["task_count"], 2);
    assert_eq!(body["prediction_count"], 1);
    assert_eq!(body["task_ids"], serde_json::json!([1, 2]));
    // As Label Studio 1.23.2 answers a JSON body: no formats or columns (files only).
    assert_eq!(body["data_columns"], serde_json::json!([]));
    // Several files under any field names, each format from its name.
    let (kind, form) = multipart(&[
        ("file", "rows.csv", "text,label\nhello,a\nworld,b\n"),
        ("other", "lines.txt", "line one\nline two\n"),
    ]);
    let answer = server.send("POST", "/api/projects/1/import/", &[("Content-Type", &kind)], &form);
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["task_count"], 4);
    // As Label Studio 1.23.2: an object of file extensions and how many files had each.
    assert_eq!(answer.json()["found_formats"], serde_json::json!({".csv": 1, ".txt": 1}));
    // In the file's order, as Label Studio lists them.
    assert_eq!(answer.json()["data_columns"], serde_json::json!(["text", "label"]));
    // A broken file: 400 with the line, and nothing imported from any file of the request.
    let (kind, form) = multipart(&[
        ("file", "good.json", r#"[{"text": "fine"}]"#),
        ("file", "bad.json", "[{\"text\": \"x\"},\n {\"text\": ]"),
    ]);
    let answer = server.send("POST", "/api/project/import", &[("Content-Type", &kind)], &form);
    assert_eq!(answer.status, 400);
    let detail =
        answer.json()["validation_errors"]["non_field_errors"][0].as_str().unwrap().to_string();
    assert!(detail.starts_with("bad.json:2:11: invalid JSON"), "{detail}");
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 6);
    // URLs are not fetched.
    let answer = server.send(
        "POST",
        "/api/projects/1/import",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"url=http%3A%2F%2Fexample.com%2Fa.csv",
    );
    assert_eq!(answer.status, 400);
    assert!(answer.json()["detail"].as_str().unwrap().contains("from a URL"));
    // Pages of tasks, 404 past the end, one task, the export.
    let page = server.get("/api/tasks?project=1&page=2&page_size=4", &[]);
    assert_eq!(page.json()["total"], 6);
    assert_eq!(page.json()["tasks"].as_array().unwrap().len(), 2);
    let past = server.get("/api/tasks?project=1&page=3&page_size=4", &[]);
    assert_eq!((past.status, past.json()["detail"].as_str()), (404, Some("Invalid page.")));
    assert_eq!(server.get("/api/tasks/2", &[]).json()["predictions"][0]["score"], 0.5);
    let export = server
        .get("/api/projects/1/export?exportType=JSON&ids[]=1&ids[]=3&download_all_tasks=true", &[]);
    let ids: Vec<i64> =
        export.json().as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 3]);
    // Without download_all_tasks, only tasks with annotations (none here), as Label Studio.
    let annotated = server.get("/api/projects/1/export?exportType=JSON", &[]);
    assert_eq!(annotated.json(), serde_json::json!([]));
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 6);
    assert_eq!(server.get("/api/projects/2", &[]).status, 404);
}

#[test]
fn issue_12_the_api_needs_the_token_when_there_is_one() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &["--token", "abc123"]);
    let body = br#"[{"text": "a"}]"#;
    let answer = server.send(
        "POST",
        "/api/projects/1/import",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(answer.status, 401);
    let auth = [("Content-Type", "application/json"), ("Authorization", "Token abc123")];
    let tasks =
        |server: &Server| server.get("/api/projects/1", &auth).json()["task_number"].clone();
    assert_eq!(tasks(&server), 0);
    assert_eq!(server.send("POST", "/api/projects/1/import", &auth, body).status, 201);
    assert_eq!(tasks(&server), 1);
}

// The Import page is in the binary, at / and /import (the browser drives it in
// tests/browser/import_page.py, run by .ci/run).
#[test]
fn issue_12_the_import_page_is_served() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &[]);
    for path in ["/", "/import", "/import/"] {
        let page = server.get(path, &[]);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        let html = String::from_utf8_lossy(&page.body);
        assert!(html.contains("<h1>Import data</h1>") && html.contains("/api/projects/1/import"));
    }
}

// Media files uploaded through the import API stay in the project (`uploads/`), and their
// task URLs answer with them, with or without --allow-serving-local-files.
#[test]
fn issue_12_uploaded_media_files_are_kept_and_served() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let (kind, form) =
        multipart(&[("file", "photo.png", "PNG-BYTES"), ("file", "tasks.txt", "a line\n")]);
    let answer = server.send("POST", "/api/projects/1/import", &[("Content-Type", &kind)], &form);
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["task_count"], 2);
    let page = server.get("/api/tasks?page=1&page_size=10", &[]).json();
    let url = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|t| t["data"]["image"].as_str())
        .unwrap()
        .replace("http://localhost:8080", "");
    assert!(url.contains("photo.png") && url.contains("uploads"), "{url}");
    let image = server.get(&url, &[]);
    assert_eq!((image.status, image.body.as_slice()), (200, &b"PNG-BYTES"[..]));
    // A failed import keeps none of its media files.
    let (kind, form) = multipart(&[("file", "other.png", "X"), ("file", "bad.json", "[1")]);
    let answer = server.send("POST", "/api/projects/1/import", &[("Content-Type", &kind)], &form);
    assert_eq!(answer.status, 400);
    assert!(!env.path("proj/uploads/other.png").exists());
    assert_eq!(server.get("/api/projects/1", &[]).json()["task_number"], 2);
}

// SIGTERM during an upload: the server finishes the request in hand, but its import stops
// and rolls back, and the server exits 0 with the store unchanged.
#[test]
fn issue_12_sigterm_during_an_upload_leaves_the_store_unchanged() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let mut server = Server::start(&env, "proj", &[]);
    let body = br#"[{"text": "one"}, {"text": "two"}]"#;
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /api/projects/1/import HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..10]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.write_all(&body[10..]).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(!answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    assert_eq!(env.count("tasks"), 0);
}

// commit_to_project=false, as in Label Studio: the import is read and counted, and nothing
// is kept.
#[test]
fn issue_12_commit_to_project_false_keeps_nothing() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let (kind, form) =
        multipart(&[("file", "a.png", "PNG"), ("file", "t.json", r#"[{"text": "x"}]"#)]);
    let answer = server.send(
        "POST",
        "/api/projects/1/import?commit_to_project=false&return_task_ids=true",
        &[("Content-Type", &kind)],
        &form,
    );
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["task_count"], 2);
    assert!(answer.json().get("task_ids").is_none());
    drop(server);
    assert_eq!(env.count("tasks"), 0);
    assert_eq!(env.count("imports"), 0);
    assert!(!env.path("proj/uploads/a.png").exists());
}

// preannotated_from_fields, as Label Studio 1.x: a field of a flat task becomes a prediction
// shaped by the control tag of the same name.
#[test]
fn issue_12_preannotated_fields_become_predictions() {
    let env = TestEnv::new();
    env.write(
        "config.xml",
        r#"<View><Text name="review" value="$review"/>
           <Choices name="sentiment" toName="review"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#,
    );
    env.lsdb(&["init", "proj", "--label-config", "config.xml"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let answer = server.send(
        "POST",
        "/api/projects/1/import?preannotated_from_fields=sentiment",
        &[("Content-Type", "application/json")],
        br#"[{"review": "fine", "sentiment": "pos"}, {"review": "no label"}]"#,
    );
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(
        (answer.json()["task_count"].as_i64(), answer.json()["prediction_count"].as_i64()),
        (Some(2), Some(1))
    );
    drop(server);
    assert_eq!(
        env.query("SELECT result::VARCHAR AS r, model_version AS m, score AS s FROM predictions"),
        serde_json::json!([{
            "r": r#"[{"from_name":"sentiment","to_name":"review","type":"choices","value":{"choices":["pos"]}}]"#,
            "m": "preannotated",
            "s": 1.0
        }])
    );
}

/// A tiny web server on loopback for URL imports: `/rows.csv`, and `/jump`, which
/// redirects to it. Answers `n` requests, then stops.
fn web_server(n: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let me = addr.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut head = [0u8; 2048];
            let got = stream.read(&mut head).unwrap_or(0);
            let request = String::from_utf8_lossy(&head[..got]).to_string();
            let answer = if request.starts_with("GET /rows.csv") {
                let body = "text,label\nfrom the web,a\nand more,b\n";
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://{me}/rows.csv\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    addr
}

// URL imports: off unless allowed; then every host is checked where it is resolved, the
// first one included (issue 22: before, only redirects were), so a loopback URL is refused
// unless the server may reach private addresses.
#[test]
fn issue_22_url_imports_are_fetched_only_when_allowed_and_never_from_inside() {
    let env = TestEnv::new();
    env.lsdb(&["init", "proj"]).ok();
    let web = web_server(3);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let import = |server: &Server, path: &str| {
        let body = format!("url=http%3A%2F%2F{web}%2F{path}");
        server.send("POST", "/api/projects/1/import", &form, body.as_bytes())
    };
    let closed = Server::start(&env, "proj", &[]);
    let answer = import(&closed, "rows.csv");
    assert_eq!(answer.status, 400);
    assert!(answer.json()["detail"].as_str().unwrap().contains("--allow-url-import"));
    drop(closed);
    let public_only = Server::start(&env, "proj", &["--allow-url-import"]);
    for path in ["rows.csv", "jump"] {
        let answer = import(&public_only, path);
        assert_eq!(answer.status, 400, "{path}");
        let detail = answer.json()["detail"].as_str().unwrap().to_string();
        assert!(
            detail.contains("a private address") && detail.contains("--allow-private-urls"),
            "{detail}"
        );
    }
    let answer = import(&public_only, "x").json()["detail"].as_str().unwrap().to_string();
    assert!(answer.contains("private address"), "{answer}");
    let answer = public_only.send(
        "POST",
        "/api/projects/1/import",
        &form,
        b"url=file%3A%2F%2F%2Fetc%2Fpasswd",
    );
    assert_eq!(answer.status, 400);
    assert!(answer.json()["detail"].as_str().unwrap().contains("only http and https"));
    drop(public_only);
    let inside = Server::start(&env, "proj", &["--allow-url-import", "--allow-private-urls"]);
    let answer = import(&inside, "rows.csv");
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["task_count"], 2);
    let answer = import(&inside, "jump");
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    drop(inside);
    assert_eq!(env.count("tasks"), 4);
}

// Issue 22: before, /api/tasks ignored query/filters/selectedItems and answered every task,
// and the export answered full JSON for CSV. Each helper of Label Studio's SDKs now gets
// what it asks for, or a 400 naming what lsdb does not implement.
#[test]
fn issue_22_the_task_list_filters_selects_and_exports_as_asked() {
    let env = TestEnv::new();
    let region = r#"{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}"#;
    env.write(
        "config.xml",
        r#"<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#,
    );
    env.write(
        "t.json",
        format!(
            r#"[{{"data": {{"text": "a"}}}},
                {{"data": {{"text": "b"}}, "predictions": [{{"score": 0.4, "result": []}}]}},
                {{"data": {{"text": "c"}}, "annotations": [{{"result": [{region}], "completed_by": 7}}]}},
                {{"data": {{"text": "d"}}, "annotations": [{{"result": [], "was_cancelled": true}}]}}]"#
        ),
    );
    env.lsdb(&["init", "proj", "--label-config", "config.xml", "--input-path", "t.json"]).ok();
    let server = Server::start(&env, "proj", &[]);
    let ids = |query: &str| -> Vec<i64> {
        let page = server
            .get(&format!("/api/tasks?project=1&fields=all&query={}", percent_encode(query)), &[]);
        assert_eq!(page.status, 200, "{query}: {}", String::from_utf8_lossy(&page.body));
        page.json()["tasks"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
    };
    let completed = |empty: bool| {
        format!(
            r#"{{"filters": {{"conjunction": "and", "items": [{{"filter": "filter:tasks:completed_at", "operator": "empty", "value": {empty}, "type": "Datetime"}}]}}, "ordering": [], "selectedItems": {{"all": true, "excluded": []}}}}"#
        )
    };
    // get_labeled_tasks / get_unlabeled_tasks: a cancelled-only task is labeled, as in
    // Label Studio 1.23.2.
    assert_eq!(ids(&completed(false)), [3, 4]);
    assert_eq!(ids(&completed(true)), [1, 2]);
    assert_eq!(
        ids(r#"{"filters": null, "selectedItems": {"all": false, "included": [1, 2]}}"#),
        [1, 2]
    );
    assert_eq!(
        ids(r#"{"selectedItems": {"all": true, "excluded": [1]}, "ordering": ["-tasks:id"]}"#),
        [4, 3, 2]
    );
    assert_eq!(
        ids(
            r#"{"filters": {"conjunction": "or", "items": [{"filter": "filter:tasks:predictions_score", "operator": "in", "type": "Number", "value": {"min": 0.3, "max": 0.5}}, {"filter": "filter:tasks:data.text", "operator": "equal", "type": "String", "value": "a"}]}}"#
        ),
        [1, 2]
    );
    let task = &server.get("/api/tasks/3", &[]).json();
    assert_eq!(
        (
            &task["is_labeled"],
            &task["total_annotations"],
            &task["cancelled_annotations"],
            &task["annotators"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!([7])
        )
    );
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'), "{task}");
    let four = &server.get("/api/tasks?project=1&fields=all&page=1&page_size=4", &[]).json();
    assert_eq!(
        (&four["total_annotations"], &four["total_predictions"]),
        (&serde_json::json!(1), &serde_json::json!(1))
    );
    assert_eq!(four["tasks"][3]["is_labeled"], true);
    assert_eq!(server.get("/api/tasks?project=1&page=0", &[]).status, 404);
    for (bad, named) in
        [("/api/tasks?project=1&view=2", "view"), ("/api/tasks?project=1&bogus=1", "bogus")]
    {
        let answer = server.get(bad, &[]);
        assert_eq!(answer.status, 400, "{bad}");
        assert!(answer.json()["detail"].as_str().unwrap().contains(named), "{bad}");
    }
    // Exports: the SDK's download_sync sends export_type; CSV is CSV.
    let csv = server.get("/api/projects/1/export?export_type=CSV&download_all_tasks=true", &[]);
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.header("content-disposition").unwrap().contains("project-1-at-"));
    let text = String::from_utf8(csv.body.clone()).unwrap();
    assert!(
        text.lines().next().unwrap().contains("sentiment") && text.contains("Positive"),
        "{text}"
    );
    let min = server.get("/api/projects/1/export?exportType=JSON_MIN", &[]).json();
    assert_eq!(min.as_array().unwrap().len(), 1, "{min}");
    assert_eq!(server.get("/api/projects/1/export?exportType=COCO", &[]).status, 400);
    let projects = server.get("/api/projects?page=1", &[]).json();
    assert_eq!(
        (&projects["count"], &projects["results"][0]["task_number"]),
        (&serde_json::json!(1), &serde_json::json!(4))
    );
    assert_eq!(server.get("/api/projects?page=2", &[]).status, 404);
    // Label Studio refuses an empty list; a trial import counts tasks only.
    let json_type = [("Content-Type", "application/json")];
    assert_eq!(server.send("POST", "/api/projects/1/import", &json_type, b" [ ] ").status, 400);
    let trial = server.send(
        "POST",
        "/api/projects/1/import?commit_to_project=false",
        &json_type,
        br#"[{"text": "x"}]"#,
    );
    assert_eq!(trial.status, 201);
    assert_eq!(
        (&trial.json()["task_count"], &trial.json()["annotation_count"]),
        (&serde_json::json!(1), &serde_json::Value::Null)
    );
}
