//! The store: one DuckDB file, `<project>/lsdb.duckdb`, holding everything about a project.
//! Opening, creating and locking live here; the label config's tables are in `config.rs`,
//! the embedded SQL in `schema.rs`.

pub mod config;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use duckdb::Connection;

/// The file name of a project's store.
pub const STORE_FILE: &str = "lsdb.duckdb";

/// An open project store.
pub struct Store {
    conn: Connection,
    project: PathBuf,
    /// The folder the store's file is in now: the project folder, or, while `lsdb init`
    /// builds a new project, the folder it is built in before it moves into place.
    folder: PathBuf,
    /// Opened read-only: the file or its folder can't be written.
    is_read_only: bool,
}

impl Store {
    /// Open the store of an existing project. A missing store is an error that creates
    /// nothing.
    pub fn open(project: &Path) -> Result<Store> {
        let path = project.join(STORE_FILE);
        if !path.exists() {
            bail!(
                "no lsdb project at {}; create one with `lsdb init {}` or pass -p DIR",
                project.display(),
                project.display()
            );
        }
        if path.is_dir() {
            bail!("{} is a folder, not an lsdb store", path.display());
        }
        let (conn, is_read_only) = match open_connection(&path) {
            Ok(conn) => (conn, false),
            Err(err) if is_unwritable(&err) => {
                let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
                let conn =
                    Connection::open_with_flags(&path, config).map_err(|e| open_error(&path, e))?;
                (conn, true)
            }
            Err(err) => return Err(err),
        };
        schema::apply_schema(&conn, &path.display().to_string())?;
        Ok(Store {
            conn,
            project: project.to_path_buf(),
            folder: project.to_path_buf(),
            is_read_only,
        })
    }

    /// A store over another connection to a database this process has open already (the
    /// server beside `lsdb start`'s shell imports through one).
    pub fn beside(conn: Connection, project: &Path) -> Store {
        Store {
            conn,
            project: project.to_path_buf(),
            folder: project.to_path_buf(),
            is_read_only: false,
        }
    }

    /// Fail, naming the store, when it can only be read.
    pub fn check_writable(&self) -> Result<()> {
        if self.is_read_only {
            bail!(
                "the store {} is read-only (a read-only disk or file permissions); nothing was \
                 changed",
                self.project.join(STORE_FILE).display()
            );
        }
        Ok(())
    }

    /// The DuckDB connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The project folder.
    pub fn project(&self) -> &Path {
        &self.project
    }

    /// The folder the store's file is in now, where an import's temporary files go.
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

/// Open a DuckDB file, waiting up to `LSDB_BUSY_TIMEOUT` seconds (default 5) while another
/// process holds it, then saying who holds it.
fn open_connection(path: &Path) -> Result<Connection> {
    let timeout = std::env::var("LSDB_BUSY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(5.0);
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    let mut has_said = false;
    loop {
        match Connection::open(path) {
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

/// A new store, built beside its final place and moved there by `finish`: a failure
/// before then (an error, a panic, a kill) leaves the project as it was. Replacing an old
/// store (`init --force`) keeps the old one open, and so locked, until the swap.
pub struct NewStore {
    store: Option<Store>,
    old: Option<Connection>,
    /// The file being built.
    building: PathBuf,
    /// A folder made for a project that did not exist (renamed to the project at the end).
    new_folder: Option<PathBuf>,
    /// The outermost parent folder this made for the project, removed on failure.
    made_parents: Option<PathBuf>,
    project: PathBuf,
    /// Moved into place: nothing to clean up.
    is_done: bool,
}

impl NewStore {
    /// Start a new store for `project`. An existing store is an error unless `force`.
    pub fn create(project: &Path, force: bool) -> Result<NewStore> {
        let path = project.join(STORE_FILE);
        let mut old = None;
        if path.exists() {
            if !force {
                bail!(
                    "project already exists at {}; pass --force to replace it",
                    project.display()
                );
            }
            if path.is_dir() {
                bail!("{} is a folder, not an lsdb store", path.display());
            }
            old = Some(open_connection(&path)?);
        }
        let pid = std::process::id();
        let mut made_parents = None;
        let (building, new_folder) = if project.is_dir() {
            (project.join(format!(".{STORE_FILE}.new-{pid}")), None)
        } else {
            if project.exists() {
                bail!("{} is a file, not a project folder", project.display());
            }
            let name = project
                .file_name()
                .map_or_else(|| "project".to_string(), |n| n.to_string_lossy().into_owned());
            let parent = project.parent().filter(|p| !p.as_os_str().is_empty());
            let parent = parent.unwrap_or(Path::new("."));
            // Missing parent folders are made too, and removed again on failure.
            made_parents = parent
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .last()
                .map(Path::to_path_buf);
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating project folder {}", project.display()))?;
            let folder = parent.join(format!(".{name}.lsdb-new-{pid}"));
            let made = std::fs::create_dir(&folder)
                .with_context(|| format!("creating project folder {}", project.display()));
            if let Err(err) = made {
                if let Some(top) = &made_parents {
                    let _ = std::fs::remove_dir_all(top);
                }
                return Err(err);
            }
            (folder.join(STORE_FILE), Some(folder))
        };
        let mut new = NewStore {
            store: None,
            old,
            building,
            new_folder,
            made_parents,
            project: project.into(),
            is_done: false,
        };
        remove_store_files(&new.building);
        let conn = Connection::open(&new.building).map_err(|err| open_error(&new.building, err))?;
        schema::apply_schema(&conn, &new.building.display().to_string())?;
        let folder = new.building.parent().unwrap_or(project).to_path_buf();
        new.store =
            Some(Store { conn, project: project.to_path_buf(), folder, is_read_only: false });
        Ok(new)
    }

    /// The store being built.
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("the store is open until finish")
    }

    /// Move the new store into place (replacing the old one) and open it there.
    pub fn finish(mut self) -> Result<Store> {
        let store = self.store.take().expect("the store is open until finish");
        store.conn.execute_batch("CHECKPOINT").context("writing the new store")?;
        drop(store);
        let path = self.project.join(STORE_FILE);
        if let Some(old) = self.old.take() {
            drop(old);
        }
        match &self.new_folder {
            Some(folder) => std::fs::rename(folder, &self.project).with_context(|| {
                format!("moving the new project into place at {}", self.project.display())
            })?,
            None => {
                // A write-ahead log left by the old store would be replayed onto the new one.
                let wal = wal_path(&path);
                if wal.exists() {
                    std::fs::remove_file(&wal)
                        .with_context(|| format!("removing {}", wal.display()))?;
                }
                std::fs::rename(&self.building, &path).with_context(|| {
                    format!("moving the new store into place at {}", path.display())
                })?;
            }
        }
        self.is_done = true;
        Store::open(&self.project)
    }
}

impl Drop for NewStore {
    fn drop(&mut self) {
        if self.is_done {
            return;
        }
        drop(self.store.take());
        remove_store_files(&self.building);
        if let Some(folder) = &self.new_folder {
            let _ = std::fs::remove_dir_all(folder);
        }
        if let Some(top) = &self.made_parents {
            let _ = std::fs::remove_dir_all(top);
        }
    }
}

fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

fn remove_store_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(wal_path(path));
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
            "the store {} is busy: another lsdb{pid} is writing or has it open; wait for that \
             import or shell to finish, then try again",
            path.display()
        );
    }
    anyhow::anyhow!("opening {}: {}", path.display(), first_line(&text))
}

/// The first line of a (DuckDB) message, so errors stay on one line.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
