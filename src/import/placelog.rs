//! Where each task that gave its own id was read, for the two messages that need it only at
//! the end of an import: a task id given more than once (where first, where again) and a
//! given id too large for the new ids after it. The places go to an unnamed temporary file in
//! the folder the store is in, a few bytes a task, and are read back only for such a message, so
//! memory does not grow with the tasks that give ids (a hash entry and a formatted place a
//! task cost about 160 MiB per million, docs/benchmarks.md).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::task::Task;

/// An entry's place: a `path:line:col` on the path of the entry before it, or on a new path
/// (the next in `PlaceLog::paths`), or a text (a task with no place: its source).
const SAME_PATH: u8 = 0;
const NEW_PATH: u8 = 1;
const TEXT: u8 = 2;

/// The places of the tasks that gave ids, in input order.
pub struct PlaceLog {
    dir: PathBuf,
    out: Option<BufWriter<File>>,
    /// The paths of the places, numbered in the order they first came.
    paths: Vec<Arc<str>>,
    last_id: i64,
    last_line: u64,
    /// The entry being made (kept from one to the next, not allocated for each task).
    entry: Vec<u8>,
}

/// A task id given more than once: where first, and where again.
#[derive(Debug, PartialEq)]
pub struct Twice {
    pub id: i64,
    pub first: String,
    pub again: Vec<String>,
}

impl PlaceLog {
    /// A log whose file goes in `dir` (made when the first place is noted).
    pub fn new(dir: &Path) -> PlaceLog {
        PlaceLog {
            dir: dir.to_path_buf(),
            out: None,
            paths: Vec::new(),
            last_id: 0,
            last_line: 0,
            entry: Vec::with_capacity(32),
        }
    }

    /// Note where `task`, which gave `id`, was read.
    pub fn push(&mut self, id: i64, task: &Task) -> Result<()> {
        let mut entry = std::mem::take(&mut self.entry);
        entry.clear();
        put(&mut entry, zigzag(id.wrapping_sub(self.last_id)));
        self.last_id = id;
        match &task.place {
            Some(place) => {
                let is_same = self
                    .paths
                    .last()
                    .is_some_and(|p| Arc::ptr_eq(p, &place.path) || **p == *place.path);
                if !is_same {
                    self.paths.push(Arc::clone(&place.path));
                }
                entry.push(if is_same { SAME_PATH } else { NEW_PATH });
                put(&mut entry, zigzag(place.line.wrapping_sub(self.last_line) as i64));
                put(&mut entry, place.col);
                self.last_line = place.line;
            }
            None => {
                entry.push(TEXT);
                put(&mut entry, task.source.len() as u64);
                entry.extend_from_slice(task.source.as_bytes());
            }
        }
        let out = match &mut self.out {
            Some(out) => out,
            None => self.out.insert(BufWriter::new(
                tempfile::tempfile_in(&self.dir).with_context(|| self.io_context())?,
            )),
        };
        let written = out.write_all(&entry);
        self.entry = entry;
        written.with_context(|| self.io_context())
    }

    /// Where `id` was given first.
    pub fn first_place(&mut self, id: i64) -> Result<Option<String>> {
        let mut found = None;
        self.replay(|given, place| {
            if given == id && found.is_none() {
                found = Some(place());
            }
        })?;
        Ok(found)
    }

    /// Of the `repeated` ids, the one given first, with where it was given again.
    pub fn twice(&mut self, repeated: &HashSet<i64>) -> Result<Option<Twice>> {
        let mut twice: Option<Twice> = None;
        self.replay(|given, place| match &mut twice {
            Some(t) if t.id == given => t.again.push(place()),
            None if repeated.contains(&given) => {
                twice = Some(Twice { id: given, first: place(), again: Vec::new() })
            }
            _ => {}
        })?;
        Ok(twice)
    }

    /// Read the log from its start: each entry's id, and its place when asked for.
    fn replay(&mut self, mut each: impl FnMut(i64, &dyn Fn() -> String)) -> Result<()> {
        let Some(out) = self.out.take() else { return Ok(()) };
        let mut file =
            out.into_inner().map_err(|e| e.into_error()).with_context(|| self.io_context())?;
        file.seek(SeekFrom::Start(0)).with_context(|| self.io_context())?;
        let mut input = BufReader::new(&file);
        let (mut id, mut line, mut path) = (0i64, 0u64, None::<usize>);
        while let Some(delta) = get(&mut input).with_context(|| self.io_context())? {
            id = id.wrapping_add(unzigzag(delta));
            let tag = get_byte(&mut input)?;
            if tag == TEXT {
                let len = get(&mut input)?.unwrap_or(0) as usize;
                let mut text = vec![0; len];
                input.read_exact(&mut text).with_context(|| self.io_context())?;
                let text = String::from_utf8_lossy(&text);
                each(id, &|| text.to_string());
                continue;
            }
            if tag == NEW_PATH {
                path = Some(path.map_or(0, |p| p + 1));
            }
            line = line.wrapping_add(unzigzag(get(&mut input)?.unwrap_or(0)) as u64);
            let col = get(&mut input)?.unwrap_or(0);
            let shown = path.and_then(|p| self.paths.get(p)).map_or("", |p| &**p);
            each(id, &|| format!("{shown}:{line}:{col}"));
        }
        drop(input);
        // Noting goes on after the end.
        file.seek(SeekFrom::End(0)).with_context(|| self.io_context())?;
        self.out = Some(BufWriter::new(file));
        Ok(())
    }

    fn io_context(&self) -> String {
        format!(
            "keeping the places of tasks with ids in a temporary file in {}",
            self.dir.display()
        )
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// A number in 7-bit groups, low first, the high bit set on all but the last.
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The next number, or `None` at the end of the log.
fn get(input: &mut impl Read) -> std::io::Result<Option<u64>> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let mut byte = [0u8];
        if input.read(&mut byte)? == 0 {
            return Ok(None);
        }
        n |= u64::from(byte[0] & 0x7f) << shift;
        if byte[0] < 0x80 {
            return Ok(Some(n));
        }
    }
    Ok(Some(n))
}

fn get_byte(input: &mut impl Read) -> Result<u8> {
    let mut byte = [0u8];
    input.read_exact(&mut byte).context("reading the places of tasks with ids")?;
    Ok(byte[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::task::Place;

    fn at(path: &Arc<str>, line: u64, col: u64) -> Task {
        let place = Place { path: Arc::clone(path), line, col };
        Task { place: Some(place), ..Task::default() }
    }

    #[test]
    fn places_come_back_as_tasks_tell_them() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut log = PlaceLog::new(dir.path());
        let (a, b): (Arc<str>, Arc<str>) = ("a.json".into(), "dir/b c.jsonl".into());
        let text = Task { source: "rows.csv:7".into(), ..Task::default() };
        let tasks = [
            (5, at(&a, 1, 2)),
            (i64::MAX, at(&a, 1, 900_000_000_000)),
            (3, at(&a, 40, 1)),
            (5, at(&b, 2, 1)),
            (i64::MIN + 1, text.clone()),
            (3, at(&Arc::from("a.json"), 1, 1)),
            (5, at(&b, 9, 1)),
        ];
        for (id, task) in &tasks {
            log.push(*id, task)?;
        }
        assert_eq!(log.first_place(5)?.as_deref(), Some("a.json:1:2"));
        assert_eq!(log.first_place(i64::MIN + 1)?.as_deref(), Some("rows.csv:7"));
        assert_eq!(log.first_place(i64::MAX)?.as_deref(), Some("a.json:1:900000000000"));
        assert_eq!(log.first_place(4)?, None);
        let twice = log.twice(&HashSet::from([3, 5]))?;
        let expected = Twice {
            id: 5,
            first: "a.json:1:2".into(),
            again: vec!["dir/b c.jsonl:2:1".into(), "dir/b c.jsonl:9:1".into()],
        };
        assert_eq!(twice, Some(expected));
        // Noting goes on after reading back.
        log.push(3, &text)?;
        let twice = log.twice(&HashSet::from([3]))?.unwrap();
        assert_eq!(twice.again, ["a.json:1:1", "rows.csv:7"]);
        assert_eq!(twice.first, "a.json:40:1");
        Ok(())
    }

    #[test]
    fn an_empty_log_finds_nothing() -> Result<()> {
        let mut log = PlaceLog::new(Path::new("/nonexistent"));
        assert_eq!(log.first_place(1)?, None);
        assert_eq!(log.twice(&HashSet::from([1]))?, None);
        Ok(())
    }

    #[test]
    fn an_unwritable_folder_is_named() {
        let mut log = PlaceLog::new(Path::new("/nonexistent/folder"));
        let err = log.push(1, &Task::default()).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/folder"), "{err:#}");
    }

    #[test]
    fn numbers_survive_their_encoding() {
        for n in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1 << 40] {
            let mut out = Vec::new();
            put(&mut out, zigzag(n));
            assert_eq!(get(&mut out.as_slice()).unwrap().map(unzigzag), Some(n));
        }
    }
}
