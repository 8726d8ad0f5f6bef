//! The store: one DuckDB file, `<project>/lsdb.duckdb`, holding everything about a project.
//! Opening, creating and locking live here; the label config's tables are in `config.rs`,
//! the embedded SQL in `schema.rs`.

pub mod config;
pub mod schema;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use duckdb::Connection;

/// The file name of a project's store.
pub const STORE_FILE: &str = "lsdb.duckdb";

/// An open project store.
pub struct Store {
    conn: Connection,
    project: PathBuf,
}

impl Store {
    /// Open the project in `project`; with `create`, make the folder and store when missing.
    pub fn open(project: &Path, create: bool) -> Result<Store> {
        let path = project.join(STORE_FILE);
        if !path.exists() {
            if !create {
                bail!(
                    "no lsdb project at {}; create one with `lsdb init {}` or pass -p DIR",
                    project.display(),
                    project.display()
                );
            }
            std::fs::create_dir_all(project)
                .with_context(|| format!("creating project folder {}", project.display()))?;
        } else if path.is_dir() {
            bail!("{} is a folder, not an lsdb store", path.display());
        }
        let conn = Connection::open(&path).map_err(|err| open_error(&path, err))?;
        schema::apply_schema(&conn, &path.display().to_string())?;
        Ok(Store { conn, project: project.to_path_buf() })
    }

    /// Create a new store in `project`. An existing one is an error unless `force`, which
    /// replaces it.
    pub fn create(project: &Path, force: bool) -> Result<Store> {
        let path = project.join(STORE_FILE);
        if path.exists() {
            if !force {
                bail!(
                    "project already exists at {}; pass --force to replace it",
                    project.display()
                );
            }
            // Open first, so a store that another process holds is reported as busy, not
            // deleted under it.
            drop(Connection::open(&path).map_err(|err| open_error(&path, err))?);
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            let wal = project.join(format!("{STORE_FILE}.wal"));
            if wal.exists() {
                std::fs::remove_file(&wal)
                    .with_context(|| format!("removing {}", wal.display()))?;
            }
        }
        Store::open(project, true)
    }

    /// The DuckDB connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The project folder.
    pub fn project(&self) -> &Path {
        &self.project
    }
}

/// Turn DuckDB's open errors into messages that say what to do.
fn open_error(path: &Path, err: duckdb::Error) -> anyhow::Error {
    let text = err.to_string();
    if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        let pid = text
            .split("PID ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .filter(|p| !p.is_empty())
            .map(|p| format!(" (PID {p})"))
            .unwrap_or_default();
        return anyhow::anyhow!(
            "the store {} is busy: another process{pid} has it open; wait for that import or \
             shell to finish, then try again",
            path.display()
        );
    }
    anyhow::anyhow!("opening {}: {}", path.display(), first_line(&text))
}

/// The first line of a (DuckDB) message, so errors stay on one line.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
