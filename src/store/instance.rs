//! The one place lsdb opens a DuckDB file. A file is opened at most once per process (per
//! canonical path): every front end of the process — a command, the shell, each request of
//! `lsdb serve`, `lsdb start`'s shell and server together — gets connections to that one
//! instance (`try_clone`). DuckDB's file lock is an fcntl lock, which belongs to the whole
//! process: a second open of the same file in one process downgrades the first one's write
//! lock and its close drops it, letting another process write beside it (a lost import,
//! corrupt segments, segfaults). `clippy.toml` refuses `Connection::open*` everywhere else.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use duckdb::Connection;

use super::schema;
use crate::error::one_line;

/// One open DuckDB database: the connection that opened it, from which every other is
/// cloned, and what the process knows about it.
pub struct Instance {
    root: Mutex<Connection>,
    /// Bumped whenever this process may have changed the data.
    generation: AtomicU64,
    /// Imports take it: one at a time per store in a process.
    importing: Mutex<()>,
    is_read_only: bool,
}

impl Instance {
    /// A new connection to this database.
    pub fn connect(&self) -> Result<Connection> {
        let root = self.root.lock().unwrap_or_else(|e| e.into_inner());
        root.try_clone().context("connecting to the store")
    }

    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn import_lock(&self) -> MutexGuard<'_, ()> {
        self.importing.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_read_only(&self) -> bool {
        self.is_read_only
    }
}

/// What a thread other than the store's own gets: `Send + Sync`, it makes stores (each with
/// a connection of its own) on the same instance.
#[derive(Clone)]
pub struct Shared {
    instance: Arc<Instance>,
    project: PathBuf,
    folder: PathBuf,
}

impl Shared {
    pub(super) fn new(instance: Arc<Instance>, project: &Path, folder: &Path) -> Shared {
        Shared { instance, project: project.to_path_buf(), folder: folder.to_path_buf() }
    }

    /// A store with a connection of its own.
    pub fn store(&self) -> Result<super::Store> {
        super::Store::on(self.instance.clone(), &self.project, &self.folder)
    }

    /// A number that differs after every change this process made (`Store::changed`).
    pub fn generation(&self) -> u64 {
        self.instance.generation()
    }

    pub fn project(&self) -> &Path {
        &self.project
    }
}

/// The instances this process has open, by canonical path. Dead entries are dropped as new
/// ones are added.
static OPEN: Mutex<Vec<(PathBuf, Weak<Instance>)>> = Mutex::new(Vec::new());

/// The instance of the DuckDB file at `path`: the one this process has open, or a new one.
/// A new one waits while another process holds the file (`LSDB_BUSY_TIMEOUT`), falls back
/// to read-only when the file can't be written (`is_read_only_ok`), removes what a killed
/// lsdb left beside the store, and brings the schema up to date (unless it is only held
/// for its lock: a store `init --force` replaces, which may be a newer lsdb's).
pub fn open_instance(path: &Path, is_read_only_ok: bool, is_used: bool) -> Result<Arc<Instance>> {
    let key = canonical(path);
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    open.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(instance) = open.iter().find(|(k, _)| *k == key).and_then(|(_, w)| w.upgrade()) {
        return Ok(instance);
    }
    let (conn, is_read_only) = match open_connection(path) {
        Ok(conn) => (conn, false),
        Err(err) if is_read_only_ok && is_unwritable(&err) => {
            let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
            #[allow(clippy::disallowed_methods)]
            let conn =
                Connection::open_with_flags(path, config).map_err(|e| open_error(path, e))?;
            (conn, true)
        }
        Err(err) => return Err(err),
    };
    if !is_read_only {
        remove_leftovers(path);
    }
    super::functions::register(&conn)?;
    if is_used {
        schema::apply_schema(&conn, &path.display().to_string())?;
    }
    let instance = Arc::new(Instance {
        root: Mutex::new(conn),
        generation: AtomicU64::new(0),
        importing: Mutex::new(()),
        is_read_only,
    });
    open.push((key, Arc::downgrade(&instance)));
    Ok(instance)
}

/// `path` with symlinks and `..` resolved, the file's own included when it exists (a link
/// to a store is the same store).
fn canonical(path: &Path) -> PathBuf {
    if let Ok(file) = path.canonicalize() {
        return file;
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (folder.canonicalize(), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Prefix of the folders the server's uploads wait in, beside the store.
pub const UPLOAD_PREFIX: &str = ".lsdb-upload-";

/// What a killed lsdb leaves beside a store, removed once this process holds the file's
/// write lock (so no other lsdb is using them): DuckDB's spill folder `<store>.tmp`, the
/// server's upload folders, and a new store that a process now gone was building (another
/// `init` in the same folder may be building one right now).
fn remove_leftovers(path: &Path) {
    let mut spill = path.as_os_str().to_owned();
    spill.push(".tmp");
    let _ = std::fs::remove_dir_all(PathBuf::from(spill));
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else { return };
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    let building = format!(".{}.new-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let entry_name = entry_name.to_string_lossy();
        if entry_name.starts_with(UPLOAD_PREFIX) && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if let Some(pid) = entry_name.strip_prefix(&building)
            && is_gone(pid)
        {
            // A new store another lsdb was building (with its write-ahead log and spill
            // folder), left by a kill: its process is gone.
            let _ = std::fs::remove_file(entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the process that named a file `...-<pid>[.wal|.tmp]` has ended (only known
/// where /proc is; elsewhere it is taken to be running).
fn is_gone(pid_and_suffix: &str) -> bool {
    let pid = pid_and_suffix.split('.').next().unwrap_or("");
    let is_number = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let proc = Path::new("/proc");
    is_number && proc.join("self").exists() && !proc.join(pid).exists()
}

/// Open a DuckDB file, waiting up to `LSDB_BUSY_TIMEOUT` seconds (default 5) while another
/// process holds it, then saying who holds it.
fn open_connection(path: &Path) -> Result<Connection> {
    let timeout = std::env::var("LSDB_BUSY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(5.0);
    let deadline = Instant::now() + Duration::from_secs_f64(timeout.min(1e9));
    let mut has_said = false;
    loop {
        #[allow(clippy::disallowed_methods)]
        let opened = Connection::open(path);
        match opened {
            Ok(conn) => return Ok(conn),
            Err(err) if is_busy(&err) && Instant::now() < deadline => {
                if !has_said && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!(
                        "lsdb: {} is busy (another lsdb has it open); waiting up to {timeout}s",
                        path.display()
                    );
                    has_said = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => return Err(open_error(path, err)),
        }
    }
}

/// True when a store could not be opened for writing because the file system or the
/// file's permissions forbid it.
fn is_unwritable(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("Read-only file system") || text.contains("Permission denied")
}

fn is_busy(err: &duckdb::Error) -> bool {
    let text = err.to_string();
    text.contains("Could not set lock") || text.contains("Conflicting lock")
}

/// Turn DuckDB's open errors into messages that say what to do.
fn open_error(path: &Path, err: duckdb::Error) -> anyhow::Error {
    let text = err.to_string();
    if is_busy(&err) {
        let pid = text
            .split("PID ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .filter(|p| !p.is_empty())
            .map(|p| format!(" (PID {p})"))
            .unwrap_or_default();
        return anyhow::anyhow!(
            "the store {} is busy: another lsdb{pid} is writing or has it open (an import, a \
             shell, or `lsdb serve`, which holds it while it runs); wait for it to finish or \
             stop it, then try again (import into a running server through its API)",
            path.display()
        );
    }
    anyhow::anyhow!("opening {}: {}", path.display(), one_line(&text))
}
