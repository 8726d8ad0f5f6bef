//! The store: one DuckDB file, `<project>/lsdb.duckdb`, holding everything about a project.
//! Opening, creating and locking live here; the label config's tables are in `config.rs`,
//! the embedded SQL in `schema.rs`.

pub mod annotations;
pub mod config;
pub mod functions;
mod instance;
pub mod schema;
pub mod setting;
pub mod storages;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use duckdb::Connection;

use instance::{Instance, open_instance};
pub use instance::{Shared, UPLOAD_PREFIX};

/// The file name of a project's store.
pub const STORE_FILE: &str = "lsdb.duckdb";

/// An open project store: a connection of its own to the process's one DuckDB instance of
/// the file (`instance.rs`).
pub struct Store {
    conn: Connection,
    instance: Arc<Instance>,
    project: PathBuf,
    /// The folder the store's file is in now: the project folder, or, while `lsdb init`
    /// builds a new project, the folder it is built in before it moves into place.
    folder: PathBuf,
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
        let instance = open_instance(&path, true, true)?;
        Store::on(instance, project, project)
    }

    /// A store of its own (a connection of its own) on the same instance, for another
    /// thread: the server's requests, its imports.
    pub fn shared(&self) -> Shared {
        Shared::new(self.instance.clone(), &self.project, &self.folder)
    }

    fn on(instance: Arc<Instance>, project: &Path, folder: &Path) -> Result<Store> {
        let conn = instance.connect()?;
        Ok(Store { conn, instance, project: project.to_path_buf(), folder: folder.to_path_buf() })
    }

    /// Say that this store's data may have changed (an import committed, a shell statement
    /// ran): what is derived from it in memory (the server's referenced files) is read again.
    pub fn changed(&self) {
        self.instance.changed();
    }

    /// Held for the length of an import: one import at a time per store in a process
    /// (the shell's `.import` and the server's API share one instance and its settings).
    pub fn import_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.instance.import_lock()
    }

    /// Fail, naming the store, when it can only be read.
    pub fn check_writable(&self) -> Result<()> {
        if self.instance.is_read_only() {
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

/// A new store, built beside its final place and moved there by `finish`: a failure
/// before then (an error, a panic, a kill) leaves the project as it was. Replacing an old
/// store (`init --force`) keeps the old one open, and so locked, until the swap.
pub struct NewStore {
    store: Option<Store>,
    /// The store being replaced, held open (and so locked) until the swap.
    old: Option<Arc<Instance>>,
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
            old = Some(open_instance(&path, false, false)?);
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
        let instance = open_instance(&new.building, false, true)?;
        let folder = new.building.parent().unwrap_or(project).to_path_buf();
        new.store = Some(Store::on(instance, project, &folder)?);
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
        // The last connection closes the instance, and so the file, before it moves.
        if Arc::strong_count(&store.instance) > 1 {
            bail!("the new store is still in use; nothing was replaced");
        }
        drop(store);
        let path = self.project.join(STORE_FILE);
        // The old store stays open, and so locked, until the new one has its name: a
        // process waiting for the lock then opens the new store, never the old file in a
        // gap between the close and the rename (its import would go to an unlinked file).
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
        drop(self.old.take());
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
