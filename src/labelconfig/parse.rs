//! Parsing a label config with quick-xml. A tag with `value="$key"` (or `valueList="$key"`)
//! is an object tag reading that key; a tag with `toName` is a control tag. Malformed XML
//! fails with its line and column.

use std::collections::{HashMap, HashSet};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::{ControlTag, LabelConfig, LabelTag, ObjectTag};
use crate::error::{InputError, line_col};

/// Tags whose descendants' `value` attributes are the labels of a control.
const LABEL_TAGS: &[&str] = &["Choice", "Label"];

/// An open element: its tag, the control it is (labels below it belong to it), the
/// TimeSeries object it is (channels below it belong to it), and the line it opened on.
struct Open {
    tag: String,
    control: Option<usize>,
    series: Option<usize>,
    line: u64,
}

/// The state of one parse: the config so far, the open elements, and the names seen.
struct Parser<'x> {
    xml: &'x str,
    path: &'x str,
    config: LabelConfig,
    stack: Vec<Open>,
    /// Every tag's name and its line: `toName` must find one.
    names: HashMap<String, u64>,
    /// The names of object and control tags, once per tag: they must be unique.
    tagged: HashSet<String>,
    /// The first name used by two of them, and the line of the second.
    duplicate: Option<(String, u64)>,
    /// Where line counting stands (elements come in order, so the count is linear).
    counted: (usize, u64),
}

/// Parse a label config. `path` names the file in error messages. Linear in the text.
pub fn parse_label_config(xml: &str, path: &str) -> Result<LabelConfig, InputError> {
    let mut reader = Reader::from_str(xml);
    let mut parser = Parser {
        xml,
        path,
        config: LabelConfig { xml: xml.to_string(), ..LabelConfig::default() },
        stack: Vec::new(),
        names: HashMap::new(),
        tagged: HashSet::new(),
        duplicate: None,
        counted: (0, 1),
    };
    let mut seen_root = false;
    loop {
        let start = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                let at = reader.error_position();
                return Err(parser.fail(at, xml_message(&err.to_string())));
            }
        };
        let (element, is_empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                parser.stack.pop();
                continue;
            }
            Event::Eof => break,
            Event::Text(t) if parser.stack.is_empty() && !t.as_ref().trim().is_empty() => {
                return Err(parser.fail(start, "text outside the root tag".into()));
            }
            _ => continue,
        };
        if parser.stack.is_empty() {
            if seen_root {
                let msg = "more than one root tag; wrap the tags in <View>";
                return Err(parser.fail(start, msg.into()));
            }
            seen_root = true;
        }
        parser.element(&element, is_empty, start)?;
    }
    if let Some(open) = parser.stack.last() {
        let tag = &open.tag;
        return Err(InputError::line(
            path,
            open.line,
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
    parser.check_names()?;
    Ok(parser.config)
}

impl Parser<'_> {
    /// The line of a byte offset at or after the last one asked about.
    fn line_at(&mut self, offset: usize) -> u64 {
        let (from, line) = self.counted;
        let offset = offset.clamp(from, self.xml.len());
        let line =
            line + memchr::memchr_iter(b'\n', &self.xml.as_bytes()[from..offset]).count() as u64;
        self.counted = (offset, line);
        line
    }

    /// An error at a byte offset, with its line and column.
    fn fail(&self, offset: u64, msg: String) -> InputError {
        let (line, col) = line_col(self.xml.as_bytes(), offset as usize);
        InputError::at(self.path, line, col, format!("invalid label config: {msg}"))
    }

    /// One start (or empty) element: what it adds to the config.
    fn element(
        &mut self,
        element: &BytesStart<'_>,
        is_empty: bool,
        start: u64,
    ) -> Result<(), InputError> {
        let line = self.line_at(start as usize);
        let tag = element.name().as_ref().to_string();
        let attrs = attributes(element).map_err(|msg| self.fail(start, xml_message(&msg)))?;
        let get = |name: &str| attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(name) = get("name") {
            self.names.entry(name).or_insert(line);
        }
        let object = self.object(&tag, &get, line);
        let control = self.control(&tag, &get, &attrs);
        if (object.is_some() || control.is_some())
            && let Some(name) = get("name")
            && !self.tagged.insert(name.clone())
            && self.duplicate.is_none()
        {
            self.duplicate = Some((name, line));
        }
        if LABEL_TAGS.contains(&tag.as_str())
            && let Some(owner) = self.stack.iter().rev().find_map(|open| open.control)
        {
            for attr in ["value", "alias"] {
                if let Some(label) = get(attr).filter(|v| !v.starts_with('$')) {
                    let labels = &mut self.config.controls[owner].labels;
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
            }
            if let Some(name) = get("alias")
                .filter(|v| !v.is_empty())
                .or_else(|| get("value"))
                .filter(|v| !v.is_empty())
            {
                let tags = &mut self.config.controls[owner].label_tags;
                match tags.iter_mut().find(|t| t.name == name) {
                    Some(tag) => tag.attrs = attrs.clone(),
                    None => tags.push(LabelTag { name, attrs: attrs.clone() }),
                }
            }
        }
        if tag == "Channel"
            && let Some(series) = self.stack.iter().rev().find_map(|open| open.series)
            && let Some(column) = get("column")
        {
            self.config.objects[series].channels.push(column);
        }
        if !is_empty {
            let series = object.filter(|_| tag == "TimeSeries");
            self.stack.push(Open { tag, control, series, line });
        }
        Ok(())
    }

    /// The object tags an element is (one per `value="$key"`/`valueList="$key"`); the
    /// index of the last.
    fn object(
        &mut self,
        tag: &str,
        get: &dyn Fn(&str) -> Option<String>,
        line: u64,
    ) -> Option<usize> {
        let mut index = None;
        for attr in ["value", "valueList"] {
            let Some(key) = get(attr).and_then(|v| v.trim().strip_prefix('$').map(str::to_string))
            else {
                continue;
            };
            if key.is_empty() {
                continue;
            }
            self.config.objects.push(ObjectTag {
                name: get("name"),
                tag: tag.to_string(),
                key,
                attr: attr.to_string(),
                value_type: get("valueType").map(|v| v.to_ascii_lowercase()),
                encoding: get("encoding"),
                time_column: get("timeColumn"),
                channels: Vec::new(),
                line,
            });
            index = Some(self.config.objects.len() - 1);
        }
        index
    }

    /// The control tag an element is (it has `name` and `toName`), by index.
    fn control(
        &mut self,
        tag: &str,
        get: &dyn Fn(&str) -> Option<String>,
        attrs: &[(String, String)],
    ) -> Option<usize> {
        let (name, to_name) = (get("name")?, get("toName")?);
        let is_dynamic = get("value").is_some_and(|v| v.trim().starts_with('$'))
            || get("dynamicLabels").is_some_and(|v| v == "true")
            || get("dynamicChoices").is_some_and(|v| v == "true");
        self.config.controls.push(ControlTag {
            name,
            tag: tag.to_string(),
            to_name: to_name
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            labels: Vec::new(),
            is_dynamic,
            label_tags: Vec::new(),
            attrs: attrs.to_vec(),
        });
        Some(self.config.controls.len() - 1)
    }

    /// As Label Studio checks a config: object and control tags have unique names, and every
    /// `toName` names a tag of the config.
    fn check_names(&self) -> Result<(), InputError> {
        if let Some((name, line)) = &self.duplicate {
            return Err(InputError::line(
                self.path,
                *line,
                format!(
                    "invalid label config: the name {name:?} is used by two tags; names must be unique"
                ),
            ));
        }
        for control in &self.config.controls {
            for to in &control.to_name {
                if self.names.contains_key(to) {
                    continue;
                }
                let line = self.names.get(&control.name).copied().unwrap_or(1);
                return Err(InputError::line(
                    self.path,
                    line,
                    format!(
                        "invalid label config: toName=\"{to}\" of <{} name=\"{}\"> names no tag; \
                         point it at the name of an object tag such as <Text name=\"{to}\" ...>",
                        control.tag, control.name
                    ),
                ));
            }
        }
        Ok(())
    }
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
