//! `TestEnv`: a fresh folder per test, fixtures copied into it, and the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const LSDB: &str = env!("CARGO_BIN_EXE_lsdb");

/// A test's own folder; the project is `proj` inside it.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

/// One finished run of lsdb.
pub struct Run {
    pub args: Vec<String>,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn describe(&self) -> String {
        format!(
            "lsdb {:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Assert success; return stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(self.output.status.success(), "expected success\n{}", self.describe());
        self.stdout()
    }

    /// Assert the exit code; return stderr.
    #[track_caller]
    pub fn exit(&self, code: i32) -> String {
        assert_eq!(self.output.status.code(), Some(code), "wrong exit code\n{}", self.describe());
        self.stderr()
    }

    /// Assert exit 2 with an error line containing `text`.
    #[track_caller]
    pub fn fails_with(&self, text: &str) -> String {
        let stderr = self.exit(2);
        assert!(stderr.contains(text), "stderr lacks {text:?}\n{}", self.describe());
        assert!(stderr.starts_with("lsdb: error: "), "not an lsdb error line\n{}", self.describe());
        assert!(!stderr.contains("panicked"), "lsdb panicked\n{}", self.describe());
        stderr
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// A fresh folder with project `proj` made by `lsdb init` from a config fixture and a
    /// task fixture.
    pub fn with_project(config: &str, tasks: &str) -> TestEnv {
        let env = TestEnv::new();
        let config = env.fixture(config);
        let tasks = env.fixture(tasks);
        let (config, tasks) = (config.to_str().unwrap(), tasks.to_str().unwrap());
        env.lsdb(&["init", "proj", "-l", config, "--input-path", tasks]).ok();
        env
    }

    /// Write a JSON list of `n` text tasks (`"<tag> task <i>"`), each with a prediction
    /// when `has_predictions`.
    pub fn write_task_list(&self, name: &str, n: usize, tag: &str, has_predictions: bool) {
        let mut text = String::with_capacity(n * 100);
        text.push('[');
        for i in 0..n {
            if i > 0 {
                text.push_str(",\n");
            }
            text.push_str(&format!("{{\"data\": {{\"text\": \"{tag} task {i}\"}}"));
            if has_predictions {
                text.push_str(&format!(
                    ", \"predictions\": [{{\"result\": [], \"score\": 0.{i}}}]"
                ));
            }
            text.push('}');
        }
        text.push(']');
        self.write(name, text);
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Copy `fixtures/<rel>` (a file or folder) into the test folder; return its new path.
    pub fn fixture(&self, rel: &str) -> PathBuf {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel);
        let to = self.path(rel);
        copy(&from, &to);
        to
    }

    /// Write a file into the test folder.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(LSDB);
        cmd.args(args).current_dir(self.dir.path()).env_remove("LSDB_PROJECT");
        cmd
    }

    /// Run lsdb with `args` in the test folder.
    pub fn lsdb(&self, args: &[&str]) -> Run {
        let output = self.command(args).stdin(Stdio::null()).output().expect("run lsdb");
        Run { args: args.iter().map(|s| s.to_string()).collect(), output }
    }

    /// Run lsdb with `stdin` as standard input.
    pub fn lsdb_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lsdb");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        let output = child.wait_with_output().expect("wait");
        Run { args: args.iter().map(|s| s.to_string()).collect(), output }
    }

    /// `lsdb -p proj sql --format json QUERY`, parsed.
    #[track_caller]
    pub fn query(&self, sql: &str) -> Value {
        self.query_in("proj", sql)
    }

    /// `lsdb -p PROJECT sql --format json QUERY`, parsed.
    #[track_caller]
    pub fn query_in(&self, project: &str, sql: &str) -> Value {
        let out = self.lsdb(&["-p", project, "sql", "--format", "json", sql]).ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad json {e}: {out}"))
    }

    /// Count rows: `SELECT count(*) FROM <table>`.
    #[track_caller]
    pub fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) AS n FROM {table}"))[0]["n"].as_i64().expect("count")
    }

    /// (tasks, completions, predictions) of the project.
    #[track_caller]
    pub fn counts(&self) -> (i64, i64, i64) {
        self.counts_in("proj")
    }

    /// (tasks, completions, predictions) of project `project`.
    #[track_caller]
    pub fn counts_in(&self, project: &str) -> (i64, i64, i64) {
        let row = &self.query_in(
            project,
            "SELECT (SELECT count(*) FROM tasks) AS t, (SELECT count(*) FROM completions) AS c, \
             (SELECT count(*) FROM predictions) AS p",
        )[0];
        let n = |key: &str| row[key].as_i64().expect("count");
        (n("t"), n("c"), n("p"))
    }
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read fixture dir") {
            let entry = entry.expect("entry");
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Peak resident memory (KiB) of a finished child, from wait4 (which reaps it).
pub fn peak_kib(mut cmd: std::process::Command) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    #[allow(clippy::zombie_processes)] // wait4 below reaps it
    let child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
}

/// Percent-encode all but unreserved characters, as lsdb writes `?d=` folders and the SDKs
/// encode query values.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How many rounds a heavy test (kills, races) runs: `quick` by default, `full` when
/// `LSDB_TEST_FULL` is set, as `.ci/run` sets it.
pub fn rounds(quick: u32, full: u32) -> u32 {
    if std::env::var_os("LSDB_TEST_FULL").is_some_and(|v| !v.is_empty() && v != "0") {
        full
    } else {
        quick
    }
}
