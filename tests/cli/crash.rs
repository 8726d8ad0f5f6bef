//! Crash safety and concurrency (issue 9): a killed import, a full disk, a read-only store
//! and two writers at once all leave a readable store holding exactly what was committed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{TestEnv, rounds};

/// A task list of `n` tasks with a prediction each, written to `name`.
fn write_tasks(env: &TestEnv, name: &str, n: usize, tag: &str) {
    env.write_task_list(name, n, tag, true);
}

fn counts_in(env: &TestEnv, project: &str) -> (i64, i64, i64) {
    let rows = env.query_in(
        project,
        "SELECT (SELECT count(*) FROM tasks) AS t, (SELECT count(*) FROM predictions) AS p, \
         (SELECT count(*) FROM imports) AS i",
    );
    let get = |k: &str| rows[0][k].as_i64().unwrap();
    (get("t"), get("p"), get("i"))
}

#[test]
fn an_import_killed_at_20_points_leaves_the_store_as_it_was() {
    let env = TestEnv::new();
    write_tasks(&env, "small.json", 10, "small");
    env.lsdb(&["init", "proj", "--input-path", "small.json"]).ok();
    write_tasks(&env, "big.json", 60_000, "big");
    // How long a whole import takes here, in a project of its own.
    env.lsdb(&["init", "timing", "--input-path", "small.json"]).ok();
    let started = Instant::now();
    env.lsdb(&["-p", "timing", "import", "big.json"]).ok();
    let whole = started.elapsed();
    let mut expected = counts_in(&env, "proj");
    let mut finished = 0;
    // 20 points with LSDB_TEST_FULL (CI), 5 spread over the same import otherwise.
    let points = rounds(5, 20);
    for point in 1..=points {
        let mut child = env
            .command(&["-p", "proj", "import", "big.json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * point / (points + 1));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            finished += 1;
        }
        // Killed before its commit, the import left nothing; killed after it (or finished),
        // it left all of itself. Never a part.
        let landed = (expected.0 + 60_000, expected.1 + 60_000, expected.2 + 1);
        let now = counts_in(&env, "proj");
        assert!(
            now == expected || now == landed,
            "after a kill at point {point}/{points}: {now:?}"
        );
        expected = now;
    }
    assert!(
        finished < points.div_ceil(2),
        "{finished} of {points} imports finished before the kill: make the file bigger"
    );
    // The store still takes writes.
    env.lsdb(&["-p", "proj", "import", "small.json"]).ok();
}

/// Run `cmd` as root; false when it is not allowed here.
fn try_run(cmd: &[&str]) -> bool {
    std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A small tmpfs mounted at `dir`, unmounted when dropped.
struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(dir: &std::path::Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let target = dir.to_str().unwrap();
        if !try_run(&["mount", "-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", target]) {
            eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
            return None;
        }
        Some(Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        try_run(&["umount", "-l", self.0.to_str().unwrap()]);
    }
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_the_store() {
    let env = TestEnv::new();
    let Some(_mount) = Mount::tmpfs(&env.path("disk"), "3m") else { return };
    write_tasks(&env, "small.json", 10, "small");
    env.lsdb(&["init", "disk/proj", "--input-path", "small.json"]).ok();
    write_tasks(&env, "big.json", 150_000, "big");
    let before = counts_in(&env, "disk/proj");
    let run = env.lsdb(&["-p", "disk/proj", "import", "big.json"]);
    let stderr = run.fails_with("No space left on device");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(counts_in(&env, "disk/proj"), before);
    // A new project that does not fit leaves nothing behind.
    let run = env.lsdb(&["init", "disk/other", "--input-path", "big.json"]);
    run.fails_with("No space left on device");
    assert!(!env.path("disk/other").exists());
}

#[test]
fn a_read_only_store_is_read_and_refuses_writes() {
    let env = TestEnv::new();
    let Some(_mount) = Mount::tmpfs(&env.path("ro"), "32m") else { return };
    write_tasks(&env, "small.json", 10, "small");
    env.lsdb(&["init", "ro/proj", "--input-path", "small.json"]).ok();
    let target = env.path("ro");
    assert!(try_run(&["mount", "-o", "remount,ro", target.to_str().unwrap()]), "remount ro");
    assert_eq!(counts_in(&env, "ro/proj"), (10, 10, 1));
    env.lsdb(&["-p", "ro/proj", "import", "small.json"]).fails_with("read-only");
    env.lsdb(&["-p", "ro/proj", "config", "template", "text_classification"])
        .fails_with("read-only");
    assert!(try_run(&["mount", "-o", "remount,rw", target.to_str().unwrap()]), "remount rw");
    assert_eq!(counts_in(&env, "ro/proj"), (10, 10, 1));
}

#[test]
fn two_imports_at_once_both_land_or_one_is_told_the_store_is_busy() {
    let env = TestEnv::new();
    write_tasks(&env, "small.json", 10, "small");
    env.lsdb(&["init", "proj", "--input-path", "small.json"]).ok();
    write_tasks(&env, "a.json", 20_000, "a");
    write_tasks(&env, "b.json", 20_000, "b");
    let spawn = |file: &str| {
        env.command(&["-p", "proj", "import", file])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a.json"), spawn("b.json"));
    let mut landed = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            landed += 1;
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains("is busy: another lsdb"), "{stderr}");
        }
    }
    assert!(landed >= 1);
    assert_eq!(counts_in(&env, "proj"), (10 + 20_000 * landed, 10 + 20_000 * landed, 1 + landed));
}

#[test]
fn readers_during_an_import_see_the_old_or_the_new_state() {
    let env = TestEnv::new();
    write_tasks(&env, "small.json", 10, "small");
    env.lsdb(&["init", "proj", "--input-path", "small.json"]).ok();
    write_tasks(&env, "big.json", 40_000, "big");
    let mut import = env
        .command(&["-p", "proj", "import", "big.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let done = import.try_wait().unwrap().is_some();
        let run = env
            .command(&[
                "-p",
                "proj",
                "sql",
                "--format",
                "csv",
                "--no-headers",
                "SELECT count(*) FROM tasks",
            ])
            .env("LSDB_BUSY_TIMEOUT", "0.2")
            .output()
            .unwrap();
        if run.status.success() {
            let n: i64 = String::from_utf8_lossy(&run.stdout).trim().parse().unwrap();
            assert!(n == 10 || n == 40_010, "a reader saw {n} tasks");
            seen.push(n);
        } else {
            let stderr = String::from_utf8_lossy(&run.stderr);
            assert!(stderr.contains("is busy"), "{stderr}");
        }
        if done || Instant::now() > deadline {
            break;
        }
    }
    assert!(import.wait().unwrap().success());
    assert_eq!(seen.last(), Some(&40_010));
}
