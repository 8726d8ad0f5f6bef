//! Storing and loading the label config: its XML in `label_config`, its parsed tags in
//! `config_objects` and `config_controls`, which the views join.

use anyhow::{Context, Result};
use duckdb::{Connection, OptionalExt, params};

use crate::labelconfig::{ControlTag, LabelConfig, parse_label_config};

/// Replace the project's label config (XML and parsed tags). Runs inside the caller's
/// transaction when there is one.
pub fn save_config(conn: &Connection, config: &LabelConfig, source: &str) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM label_config; DELETE FROM config_objects; DELETE FROM config_controls;",
    )?;
    conn.execute(
        "INSERT INTO label_config VALUES (1, ?, ?, now()::TIMESTAMP)",
        params![config.xml, source],
    )?;
    let mut objects = conn.prepare(
        "INSERT INTO config_objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, from_json(?, '[\"VARCHAR\"]'), ?)",
    )?;
    for (ord, o) in config.objects.iter().enumerate() {
        objects.execute(params![
            ord as i64,
            o.name,
            o.tag,
            o.key,
            o.attr,
            o.value_type,
            o.encoding,
            o.time_column,
            serde_json::to_string(&o.channels)?,
            o.line as i64
        ])?;
    }
    let mut controls = conn.prepare(
        "INSERT INTO config_controls (ord, name, tag, to_name, labels, is_dynamic, attrs, classes) \
         VALUES (?, ?, ?, from_json(?, '[\"VARCHAR\"]'), from_json(?, '[\"VARCHAR\"]'), ?, ?, \
         from_json(?, '[\"VARCHAR\"]'))",
    )?;
    for (ord, c) in config.controls.iter().enumerate() {
        controls.execute(params![
            ord as i64,
            c.name,
            c.tag,
            serde_json::to_string(&c.to_name)?,
            serde_json::to_string(&c.labels)?,
            c.is_dynamic,
            attrs_json(c),
            classes_json(c)?
        ])?;
    }
    Ok(())
}

/// Fill `config_controls.attrs` and `classes` of a store written before schema 4 from its
/// stored label config (the XML and everything else stay as they are).
pub fn fill_control_attrs(conn: &Connection) -> Result<()> {
    let Some(config) = load_config(conn)? else { return Ok(()) };
    let mut update = conn.prepare(
        "UPDATE config_controls SET attrs = ?, classes = from_json(?, '[\"VARCHAR\"]') \
         WHERE ord = ?",
    )?;
    for (ord, c) in config.controls.iter().enumerate() {
        update.execute(params![attrs_json(c), classes_json(c)?, ord as i64])?;
    }
    Ok(())
}

/// A control's label names as results give them (alias, else value) as a JSON list.
fn classes_json(control: &ControlTag) -> Result<String> {
    let names: Vec<&str> = control.label_tags.iter().map(|t| t.name.as_str()).collect();
    Ok(serde_json::to_string(&names)?)
}

/// A control's attributes as a JSON object of strings.
fn attrs_json(control: &ControlTag) -> String {
    let attrs: serde_json::Map<String, serde_json::Value> = control
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(attrs).to_string()
}

/// The project's label config, when it has one.
pub fn load_config(conn: &Connection) -> Result<Option<LabelConfig>> {
    let row: Option<(String, Option<String>)> = conn
        .query_row("SELECT xml, source FROM label_config WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((xml, source)) = row else { return Ok(None) };
    let source = source.unwrap_or_else(|| "label config".into());
    let config = parse_label_config(&xml, &source).context("the stored label config")?;
    Ok(Some(config))
}

/// Read and parse a label config file.
pub fn read_config_file(path: &std::path::Path) -> Result<LabelConfig> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading label config {}", path.display()))?;
    let xml = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = crate::error::line_col(e.as_bytes(), e.utf8_error().valid_up_to());
        crate::error::InputError::at(
            path.display().to_string(),
            line,
            col,
            "invalid UTF-8 in label config; save the file as UTF-8",
        )
    })?;
    Ok(parse_label_config(&xml, &path.display().to_string())?)
}
