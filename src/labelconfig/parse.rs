//! Parsing a label config with quick-xml. A tag with `value="$key"` (or `valueList="$key"`)
//! is an object tag reading that key; a tag with `toName` is a control tag. Malformed XML
//! fails with its line and column.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::{ControlTag, LabelConfig, ObjectTag};
use crate::error::{InputError, line_col};

/// Tags whose descendants' `value` attributes are the labels of a control.
const LABEL_TAGS: &[&str] = &["Choice", "Label"];

/// Parse a label config. `path` names the file in error messages.
pub fn parse_label_config(xml: &str, path: &str) -> Result<LabelConfig, InputError> {
    let mut reader = Reader::from_str(xml);
    let mut config = LabelConfig { xml: xml.to_string(), ..LabelConfig::default() };
    // Open elements: (tag name, index into controls when it is a control, index into
    // objects when it is a TimeSeries, line where it opened).
    let mut stack: Vec<(String, Option<usize>, Option<usize>, u64)> = Vec::new();
    let mut seen_root = false;
    // Every tag's name, with its line: names must be unique and toName must find one.
    let mut names: Vec<(String, u64)> = Vec::new();
    // The names of object and control tags, once per tag.
    let mut tagged: Vec<(String, u64)> = Vec::new();
    let fail = |offset: u64, msg: String| {
        let (line, col) = line_col(xml.as_bytes(), offset as usize);
        InputError::at(path, line, col, format!("invalid label config: {msg}"))
    };
    loop {
        let start = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => return Err(fail(reader.error_position(), xml_message(&err.to_string()))),
        };
        let (element, is_empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            Event::Text(t) => {
                if stack.is_empty() && !t.as_ref().trim().is_empty() {
                    return Err(fail(start, "text outside the root tag".into()));
                }
                continue;
            }
            _ => continue,
        };
        if stack.is_empty() {
            if seen_root {
                return Err(fail(start, "more than one root tag; wrap the tags in <View>".into()));
            }
            seen_root = true;
        }
        let line = line_col(xml.as_bytes(), start as usize).0;
        let tag = element.name().as_ref().to_string();
        let attrs = attributes(&element).map_err(|msg| fail(start, xml_message(&msg)))?;
        let get = |name: &str| attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(name) = get("name") {
            names.push((name, line));
        }

        let mut object_index = None;
        for attr in ["value", "valueList"] {
            let Some(key) = get(attr).and_then(|v| v.trim().strip_prefix('$').map(str::to_string))
            else {
                continue;
            };
            if key.is_empty() {
                continue;
            }
            config.objects.push(ObjectTag {
                name: get("name"),
                tag: tag.clone(),
                key,
                attr: attr.to_string(),
                value_type: get("valueType").map(|v| v.to_ascii_lowercase()),
                encoding: get("encoding"),
                time_column: get("timeColumn"),
                channels: Vec::new(),
                line,
            });
            object_index = Some(config.objects.len() - 1);
        }
        let mut control_index = None;
        if let (Some(name), Some(to_name)) = (get("name"), get("toName")) {
            let is_dynamic = get("value").is_some_and(|v| v.trim().starts_with('$'))
                || get("dynamicLabels").is_some_and(|v| v == "true")
                || get("dynamicChoices").is_some_and(|v| v == "true");
            config.controls.push(ControlTag {
                name,
                tag: tag.clone(),
                to_name: to_name
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                labels: Vec::new(),
                is_dynamic,
            });
            control_index = Some(config.controls.len() - 1);
        }
        if (object_index.is_some() || control_index.is_some())
            && let Some(name) = get("name")
        {
            tagged.push((name, line));
        }
        if LABEL_TAGS.contains(&tag.as_str()) {
            let owner = stack.iter().rev().find_map(|(_, control, _, _)| *control);
            if let Some(owner) = owner {
                for attr in ["value", "alias"] {
                    if let Some(label) = get(attr).filter(|v| !v.starts_with('$')) {
                        let labels = &mut config.controls[owner].labels;
                        if !labels.contains(&label) {
                            labels.push(label);
                        }
                    }
                }
            }
        }
        if tag == "Channel" {
            let series = stack.iter().rev().find_map(|(_, _, series, _)| *series);
            if let (Some(series), Some(column)) = (series, get("column")) {
                config.objects[series].channels.push(column);
            }
        }
        if !is_empty {
            let series = object_index.filter(|_| tag == "TimeSeries");
            stack.push((tag, control_index, series, line));
        }
    }
    if let Some((tag, _, _, line)) = stack.last() {
        return Err(InputError::line(
            path,
            *line,
            format!("invalid label config: <{tag}> is never closed; add </{tag}>"),
        ));
    }
    if !seen_root {
        return Err(InputError::at(
            path,
            1,
            1,
            "invalid label config: no tags found; a config looks like <View>...</View>",
        ));
    }
    check_names(&config, &names, &tagged, path)?;
    Ok(config)
}

/// As Label Studio checks a config: object and control tags have unique names, and every
/// `toName` names a tag of the config.
fn check_names(
    config: &LabelConfig,
    names: &[(String, u64)],
    tagged: &[(String, u64)],
    path: &str,
) -> Result<(), InputError> {
    for (i, (name, line)) in tagged.iter().enumerate() {
        if tagged[..i].iter().any(|(n, _)| n == name) {
            let line = *line;
            return Err(InputError::line(
                path,
                line,
                format!(
                    "invalid label config: the name {name:?} is used by two tags; names must be unique"
                ),
            ));
        }
    }
    for control in &config.controls {
        for to in &control.to_name {
            if !names.iter().any(|(n, _)| n == to) {
                let line = names.iter().find(|(n, _)| *n == control.name).map_or(1, |(_, l)| *l);
                return Err(InputError::line(
                    path,
                    line,
                    format!(
                        "invalid label config: toName=\"{to}\" of <{} name=\"{}\"> names no tag; \
                         point it at the name of an object tag such as <Text name=\"{to}\" ...>",
                        control.tag, control.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// quick-xml's message without its byte positions (the line and column say where), and with
/// a hint for entities, which a label config may not define.
fn xml_message(msg: &str) -> String {
    let mut msg = msg;
    for prefix in ["position ", "at "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((_, after)) = rest.split_once(": ")
        {
            msg = after;
        }
    }
    if msg.contains("unrecognized entity") {
        return format!(
            "{msg}; a label config can use only &lt; &gt; &amp; &quot; &apos; and character \
             references, not entities of its own"
        );
    }
    msg.to_string()
}

/// The attributes of a tag as (name, unescaped value) pairs.
fn attributes(element: &BytesStart<'_>) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for attr in element.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = attr.key.as_ref().to_string();
        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
        out.push((key, value.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
