//! A DuckDB setting changed for the length of one job (an import's memory cap, a training
//! export's single thread) and put back when the guard is dropped, however the job ends. The
//! instance is shared by every front end of the process, so nothing is left changed.

use anyhow::Result;
use duckdb::Connection;

/// A DuckDB setting changed for the length of a job, restored when dropped whatever happened
/// in between.
pub struct Setting<'c> {
    conn: &'c Connection,
    name: &'static str,
    previous: String,
}

impl<'c> Setting<'c> {
    /// `name` is one of lsdb's own constants; `value` is quoted.
    pub fn set(conn: &'c Connection, name: &'static str, value: &str) -> Result<Setting<'c>> {
        let previous: String =
            conn.query_row("SELECT current_setting(?)::VARCHAR", [name], |r| r.get(0))?;
        conn.execute_batch(&format!("SET {name} = {}", crate::sqltext::quote_literal(value)))?;
        Ok(Setting { conn, name, previous })
    }
}

impl Drop for Setting<'_> {
    fn drop(&mut self) {
        // DuckDB shows some settings rounded ("18.7 GiB"): the default comes back exactly by
        // RESET, a value someone set comes back as shown.
        let _ = self.conn.execute_batch(&format!("RESET {}", self.name));
        let now: Option<String> = self
            .conn
            .query_row("SELECT current_setting(?)::VARCHAR", [self.name], |r| r.get(0))
            .ok();
        if now.as_deref() != Some(self.previous.as_str()) {
            let value = crate::sqltext::quote_literal(&self.previous);
            let _ = self.conn.execute_batch(&format!("SET {} = {value}", self.name));
        }
    }
}
