//! Issue 26: `lsdb push` and `lsdb pull` against `lsdb serve`, which speaks Label Studio's
//! API (the same commands against Label Studio 1.23.2 run in `tests/labelstudio/push.sh`).
//! Annotations are made through the server's annotation routes, as a labeler's client
//! makes them in Label Studio.

use serde_json::{Value, json};

use crate::http::Server;
use crate::support::TestEnv;

const TOKEN: &str = "tok";
const AUTH: (&str, &str) = ("Authorization", "Token tok");

/// Store `a` (8 text tasks with predictions, 2 of them annotated) and an empty store `b`
/// served with a token.
fn two_stores() -> (TestEnv, Server) {
    let env = TestEnv::with_project("configs/sampling.xml", "tasks/sampling.json");
    std::fs::rename(env.path("proj"), env.path("a")).unwrap();
    env.lsdb(&["init", "b"]).ok();
    let server = Server::start(&env, "b", &["--token", TOKEN]);
    (env, server)
}

fn url(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// The served project's tasks, through its API.
fn served_tasks(server: &Server) -> Vec<Value> {
    let page = server.get("/api/tasks?project=1&page_size=1000&fields=all", &[AUTH]);
    assert_eq!(page.status, 200, "{}", page.text());
    page.json()["tasks"].as_array().cloned().unwrap_or_default()
}

fn annotate(server: &Server, task: i64, choice: &str) -> i64 {
    let body = json!({"result": [{"from_name": "class", "to_name": "text", "type": "choices",
        "value": {"choices": [choice]}}], "lead_time": 1.5});
    let answer = server.send(
        "POST",
        &format!("/api/tasks/{task}/annotations/"),
        &[AUTH, ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()["id"].as_i64().unwrap()
}

/// The store task each served task was pushed from (`meta.lsdb_task_id`).
fn pushed_ids(tasks: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> =
        tasks.iter().filter_map(|t| t["meta"]["lsdb_task_id"].as_i64()).collect();
    ids.sort();
    ids
}

#[test]
fn issue_26_push_and_pull_against_lsdb_serve() {
    let (env, server) = two_stores();
    let url = url(&server);
    let queue = env.lsdb(&[
        "-p",
        "a",
        "sample",
        "--strategy",
        "uncertainty",
        "--limit",
        "3",
        "--format",
        "json",
    ]);
    let queue: Vec<i64> =
        serde_json::from_str::<Value>(&queue.ok()).unwrap().as_array().unwrap()[..]
            .iter()
            .map(|t| t["task_id"].as_i64().unwrap())
            .collect();

    // Without --ls-project the empty served store takes the config and is the project.
    let push = ["-p", "a", "push", &url, "--token", TOKEN, "--sample", "uncertainty", "--limit"];
    let out = env.lsdb(&[&push[..], &["3"]].concat()).ok();
    assert!(out.starts_with("pushed 3 tasks to project 1 ("), "{out}");
    let tasks = served_tasks(&server);
    let mut expected = queue.clone();
    expected.sort();
    assert_eq!(pushed_ids(&tasks), expected, "the top 3 of the queue were pushed");
    let predictions: usize =
        tasks.iter().map(|t| t["predictions"].as_array().map_or(0, Vec::len)).sum();
    let stored = env.query_in(
        "a",
        &format!(
            "SELECT count(*) AS n FROM predictions WHERE task_id IN ({})",
            queue.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    );
    assert_eq!(predictions as i64, stored[0]["n"].as_i64().unwrap(), "with their predictions");
    let config = server.get("/api/projects/1", &[AUTH]).json();
    assert!(config["label_config"].as_str().unwrap().contains("<Choices name=\"class\""));

    // Again: nothing sent twice.
    let out = env.lsdb(&[&push[..], &["3"]].concat()).ok();
    assert!(out.contains("pushed 0 tasks") && out.contains("3 were there already"), "{out}");
    assert_eq!(served_tasks(&server).len(), 3);

    // Two annotations made on the server come back onto their tasks, once.
    let first = tasks[0]["id"].as_i64().unwrap();
    let second = tasks[1]["id"].as_i64().unwrap();
    let a1 = annotate(&server, first, "B");
    annotate(&server, second, "C");
    let pull = ["-p", "a", "pull", &url, "--token", TOKEN, "--ls-project", "1"];
    let out = env.lsdb(&pull).ok();
    assert!(out.starts_with("pulled 2 new and 0 edited annotations"), "{out}");
    let landed = env.query_in(
        "a",
        "SELECT l.ls_task_id, c.result->>'$[0].value.choices[0]' AS choice, c.lead_time \
         FROM completions AS c JOIN ls_links AS l ON l.task_id = c.task_id \
         JOIN ls_annotation_links AS al ON al.completion_id = c.id ORDER BY l.ls_task_id",
    );
    assert_eq!(
        landed,
        json!([{"ls_task_id": first, "choice": "B", "lead_time": 1.5},
               {"ls_task_id": second, "choice": "C", "lead_time": 1.5}])
    );
    let before = env.counts_in("a");
    let out = env.lsdb(&pull).ok();
    assert!(out.contains("0 new and 0 edited") && out.contains("2 unchanged"), "{out}");
    assert_eq!(env.counts_in("a"), before, "pulling twice changes nothing");
    // The task list, page by page, reads the same annotations as the export.
    let out = env.lsdb(&[&pull[..], &["--paged"]].concat()).ok();
    assert!(out.contains("0 new and 0 edited") && out.contains("2 unchanged"), "{out}");

    // An edit replaces the stored result; the old one is kept in the history.
    let edit = json!({"result": [{"from_name": "class", "to_name": "text", "type": "choices",
        "value": {"choices": ["A"]}}]});
    let answer = server.send(
        "PATCH",
        &format!("/api/annotations/{a1}/"),
        &[AUTH, ("Content-Type", "application/json")],
        edit.to_string().as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let out = env.lsdb(&[&pull[..], &["--paged"]].concat()).ok();
    assert!(out.starts_with("pulled 0 new and 1 edited"), "{out}");
    let history = env.query_in(
        "a",
        "SELECT h.result->>'$[0].value.choices[0]' AS old, c.result->>'$[0].value.choices[0]' AS new \
         FROM completion_history AS h JOIN completions AS c ON c.id = h.completion_id",
    );
    assert_eq!(history, json!([{"old": "B", "new": "A"}]));

    // A deletion is reported, then pruned when asked.
    let answer = server.send("DELETE", &format!("/api/annotations/{a1}/"), &[AUTH], b"");
    assert_eq!(answer.status, 204);
    let out = env.lsdb(&pull).ok();
    assert!(out.contains("1 deleted in Label Studio (kept; --prune deletes them)"), "{out}");
    assert_eq!(env.counts_in("a"), before);
    let out = env.lsdb(&[&pull[..], &["--prune"]].concat()).ok();
    assert!(out.contains("1 deleted in Label Studio and here"), "{out}");
    assert_eq!(env.counts_in("a").1, before.1 - 1);

    // The labeled task left the queue: pushing the top 3 again sends the next one.
    let out = env.lsdb(&[&push[..], &["3"]].concat()).ok();
    assert!(out.starts_with("pushed 1 task to project 1") && out.contains("2 were there"), "{out}");
    let ids = pushed_ids(&served_tasks(&server));
    let mut distinct = ids.clone();
    distinct.dedup();
    assert_eq!((ids.len(), distinct.len()), (4, 4), "no task twice: {ids:?}");
}

#[test]
fn issue_26_bad_targets_and_bodies_fail_in_one_line_and_change_nothing() {
    let (env, server) = two_stores();
    let url = url(&server);
    // A served store whose config lacks the store's control.
    env.lsdb(&[
        "init",
        "c",
        "-l",
        env.fixture("configs/text_classification.xml").to_str().unwrap(),
    ])
    .ok();
    let other = Server::start(&env, "c", &[]);
    let before = env.counts_in("a");
    let other = format!("http://{}", other.addr);
    let run = env.lsdb(&["-p", "a", "push", &other, "--token", "x", "--ls-project", "1"]);
    let err = run.fails_with("lacks <Choices name=\"class\">");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Without --ls-project: the served store is no new project; said in one line.
    let err = env.lsdb(&["-p", "a", "push", &other, "--token", "x"]).fails_with(
        "HTTP 400 Bad Request: lsdb serve holds one project (id 1), which already has a label config",
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(env.query_in("a", "SELECT count(*) AS n FROM ls_links")[0]["n"], 0);

    // Wrong token: refused before anything is sent.
    let run = env.lsdb(&["-p", "a", "push", &url, "--token", "wrong"]);
    run.fails_with("did not accept the token");
    assert!(served_tasks(&server).is_empty());
    assert_eq!(env.counts_in("a"), before);

    // Once the served store holds tasks, it is no new project; push into project 1.
    env.lsdb(&["-p", "a", "push", &url, "--token", TOKEN, "--limit", "1"]).ok();
    let again = server.send(
        "POST",
        "/api/projects",
        &[AUTH, ("Content-Type", "application/json")],
        br#"{"label_config": "<View></View>"}"#,
    );
    assert_eq!(again.status, 400);
    assert!(again.text().contains("--ls-project 1"), "{}", again.text());

    // Bad annotation bodies: 400 naming the field; no such task: 404; nothing written.
    for (body, says) in [
        (r#"{"result": 5}"#, "\"result\" must be a list"),
        (r#"{"result": [], "was_cancelled": "no"}"#, "\"was_cancelled\" must be true or false"),
        (r#"{"result": [], "lead_time": "1"}"#, "\"lead_time\" must be a number"),
        (r#"[1]"#, "must be a JSON object"),
        (r#"{"result": ["#, "the body is not JSON"),
    ] {
        let answer = server.send("POST", "/api/tasks/1/annotations", &[AUTH], body.as_bytes());
        assert_eq!(answer.status, 400, "{body}");
        let detail = answer.json()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains(says), "{body}: {detail}");
    }
    let answer = server.send("POST", "/api/tasks/99/annotations", &[AUTH], b"{}");
    assert_eq!(answer.status, 404);
    let answer = server.send("PATCH", "/api/annotations/99", &[AUTH], b"{}");
    assert_eq!(answer.status, 404);
    let answer = server.send("POST", "/api/tasks/1/annotations", &[], b"{}");
    assert_eq!(answer.status, 401, "the token is needed to write");
    assert_eq!(served_tasks(&server)[0]["annotations"], json!([]));
}

/// Ctrl-C stops a push between chunks with what was sent linked; the same push again sends
/// the rest, each task once.
#[test]
fn issue_26_an_interrupted_push_is_finished_by_the_next_without_duplicates() {
    let env = TestEnv::new();
    env.write_task_list("many.json", 12_000, "many", true);
    let config = env.fixture("configs/sampling.xml");
    env.lsdb(&["init", "a", "-l", config.to_str().unwrap(), "--input-path", "many.json"]).ok();
    env.lsdb(&["init", "b"]).ok();
    let server = Server::start(&env, "b", &["--token", TOKEN]);
    let url = url(&server);
    let mut push =
        env.command(&["-p", "a", "push", &url, "--token", TOKEN, "--sample", "uncertainty"]);
    let child = push
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let served = || server.get("/api/projects/1", &[AUTH]).json()["task_number"].as_i64();
    let started = std::time::Instant::now();
    while served().unwrap_or(0) < 1000 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted (Ctrl-C) after"), "{stderr}");
    let sent_first = served().unwrap();
    assert!((1000..12_000).contains(&sent_first), "stopped part way: {sent_first}");
    let links = env.query_in("a", "SELECT count(*) AS n FROM ls_links")[0]["n"].as_i64();
    assert_eq!(links, Some(sent_first), "every task the server holds is linked");

    let out =
        env.lsdb(&["-p", "a", "push", &url, "--token", TOKEN, "--sample", "uncertainty"]).ok();
    assert!(out.starts_with(&format!("pushed {} tasks", 12_000 - sent_first)), "{out}");
    drop(server);
    let held = env.query_in(
        "b",
        "SELECT count(*) AS n, count(DISTINCT meta->>'lsdb_task_id') AS distinct_ids FROM tasks",
    );
    assert_eq!(held, json!([{"n": 12_000, "distinct_ids": 12_000}]));
}

/// A deleted annotation's id is never given to a new one (a link still names it), and a
/// completion deleted in the pulling store comes back as new on the next pull.
#[test]
fn issue_26_ids_are_never_reused_and_deleted_rows_are_pulled_again() {
    let (env, server) = two_stores();
    let url = url(&server);
    env.lsdb(&["-p", "a", "push", &url, "--token", TOKEN, "--where", "id IN (1, 3)"]).ok();
    let tasks = served_tasks(&server);
    let (first, second) = (tasks[0]["id"].as_i64().unwrap(), tasks[1]["id"].as_i64().unwrap());
    let pull = ["-p", "a", "pull", &url, "--token", TOKEN, "--ls-project", "1"];
    let highest = annotate(&server, first, "B");
    assert!(env.lsdb(&pull).ok().starts_with("pulled 1 new"));
    // Deleted on the server, then a new annotation on the other task: a new id.
    assert_eq!(
        server.send("DELETE", &format!("/api/annotations/{highest}"), &[AUTH], b"").status,
        204
    );
    let newer = annotate(&server, second, "C");
    assert!(newer > highest, "id {newer} after the deleted {highest}");
    let out = env.lsdb(&pull).ok();
    assert!(out.starts_with("pulled 1 new and 0 edited") && out.contains("1 deleted"), "{out}");
    let on = env.query_in(
        "a",
        "SELECT l.ls_task_id, c.result->>'$[0].value.choices[0]' AS choice FROM completions AS c \
         JOIN ls_links AS l ON l.task_id = c.task_id JOIN ls_annotation_links AS al \
         ON al.completion_id = c.id ORDER BY l.ls_task_id",
    );
    assert_eq!(
        on,
        json!([{"ls_task_id": first, "choice": "B"}, {"ls_task_id": second, "choice": "C"}])
    );

    // A completion deleted in the pulling store is pulled again as new, not as an edit.
    env.lsdb(&[
        "-p",
        "a",
        "sql",
        "DELETE FROM completions WHERE id IN (SELECT completion_id FROM ls_annotation_links \
         WHERE ls_annotation_id = (SELECT max(ls_annotation_id) FROM ls_annotation_links))",
    ])
    .ok();
    let out = env.lsdb(&pull).ok();
    assert!(out.starts_with("pulled 1 new and 0 edited"), "{out}");
    let n = env.query_in("a", "SELECT count(*) AS n FROM ls_annotation_links")[0]["n"].as_i64();
    assert_eq!(n, Some(2), "one link per annotation");
}

/// Annotations sent with `--with-annotations` come back linked, not added twice: the pull
/// knows them by their result on their task; an edit made after is then an edit.
#[test]
fn issue_26_annotations_pushed_along_are_not_pulled_twice() {
    let (env, server) = two_stores();
    let url = url(&server);
    let before = env.counts_in("a");
    let out = env
        .lsdb(&[
            "-p",
            "a",
            "push",
            &url,
            "--token",
            TOKEN,
            "--with-annotations",
            "--where",
            "id IN (SELECT task_id FROM completions)",
        ])
        .ok();
    assert!(out.starts_with("pushed 2 tasks"), "{out}");
    let tasks = served_tasks(&server);
    let sent: usize = tasks.iter().map(|t| t["annotations"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(sent as i64, before.1, "the annotations went along");
    let pull = ["-p", "a", "pull", &url, "--token", TOKEN, "--ls-project", "1"];
    let out = env.lsdb(&pull).ok();
    assert!(out.starts_with("pulled 0 new and 0 edited") && out.contains("2 unchanged"), "{out}");
    assert_eq!(env.counts_in("a"), before);
    let links = env.query_in("a", "SELECT count(*) AS n FROM ls_annotation_links")[0]["n"].as_i64();
    assert_eq!(links, Some(2));
    let id = tasks[0]["annotations"][0]["id"].as_i64().unwrap();
    let edit = json!({"result": [{"from_name": "class", "to_name": "text", "type": "choices",
        "value": {"choices": ["C"]}}]});
    server.send("PATCH", &format!("/api/annotations/{id}"), &[AUTH], edit.to_string().as_bytes());
    let out = env.lsdb(&pull).ok();
    assert!(out.starts_with("pulled 0 new and 1 edited"), "{out}");
    assert_eq!(env.counts_in("a"), before);
}

/// Annotation writes and an upload import in one server at once: both land whole, every
/// completion id once, and reads in between answer.
#[test]
fn issue_26_annotation_writes_beside_a_server_import() {
    let (env, server) = two_stores();
    let url = url(&server);
    env.lsdb(&["-p", "a", "push", &url, "--token", TOKEN, "--limit", "1"]).ok();
    let task = served_tasks(&server)[0]["id"].as_i64().unwrap();
    let mut big = String::from("[");
    for i in 0..20_000 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&format!(
            r#"{{"data": {{"text": "bulk {i}"}}, "annotations": [{{"result": []}}]}}"#
        ));
    }
    big.push(']');
    let addr = server.addr.clone();
    let import = std::thread::spawn(move || {
        crate::http::request(
            &addr,
            "POST",
            "/api/projects/1/import",
            &[AUTH, ("Content-Type", "application/json")],
            big.as_bytes(),
        )
    });
    for i in 0..20 {
        annotate(&server, task, if i % 2 == 0 { "A" } else { "B" });
        assert_eq!(server.get("/api/projects/1", &[AUTH]).status, 200);
    }
    let imported = import.join().unwrap();
    assert_eq!(imported.status, 201, "{}", imported.text());
    drop(server);
    let held = env.query_in(
        "b",
        "SELECT count(*) AS n, count(DISTINCT id) AS ids, \
         count(*) FILTER (WHERE task_id = (SELECT min(id) FROM tasks)) AS on_first FROM completions",
    );
    assert_eq!(held, json!([{"n": 20_020, "ids": 20_020, "on_first": 20}]));
}
