//! The label config: Label Studio's XML parsed into object tags (what a task's `data` must hold)
//! and control tags (what a result may say). Parsing lives in `parse.rs`; storing the parsed
//! tags is the store's job (`store::config`).

mod parse;

pub use parse::parse_label_config;

/// A label config and where it came from (a file path, or `template NAME`).
pub type ChosenConfig = (LabelConfig, String);

/// A parsed label config, with the XML it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelConfig {
    /// The XML text exactly as given.
    pub xml: String,
    /// Tags that read a `$key` from the task data, in document order.
    pub objects: Vec<ObjectTag>,
    /// Tags with a `toName`: the ones that produce results.
    pub controls: Vec<ControlTag>,
}

/// One `$key` read by one tag (`<Image name="img" value="$image"/>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectTag {
    /// The tag's `name` attribute, when it has one.
    pub name: Option<String>,
    /// The tag as written (`Image`, `TimeSeries`, `Choices` for dynamic choices, ...).
    pub tag: String,
    /// The key without its `$`.
    pub key: String,
    /// The attribute the key came from: `value` or `valueList`.
    pub attr: String,
    /// `valueType` (TimeSeries: `url` or `json`), lower-cased.
    pub value_type: Option<String>,
    /// `encoding` (HyperText: `base64`).
    pub encoding: Option<String>,
    /// `timeColumn` (TimeSeries).
    pub time_column: Option<String>,
    /// The `column` of each `<Channel>` inside a TimeSeries.
    pub channels: Vec<String>,
    /// 1-based line of the tag in the XML.
    pub line: u64,
}

/// A control tag: `<Choices name="sentiment" toName="text">` and its labels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlTag {
    pub name: String,
    pub tag: String,
    /// The object names it labels (`toName` split on commas).
    pub to_name: Vec<String>,
    /// `value` (and `alias`) of its `<Choice>`/`<Label>` descendants.
    pub labels: Vec<String>,
    /// The control takes its labels from the task (`value="$options"`): any label is allowed.
    pub is_dynamic: bool,
    /// Its `<Choice>`/`<Label>` descendants as Label Studio's converter reads them: each named
    /// by its `alias`, else its `value`, with all its attributes (`category`, `model_index`,
    /// ...); a name given twice keeps its first place and its last attributes.
    pub label_tags: Vec<LabelTag>,
    /// Every attribute of the control tag, as written.
    pub attrs: Vec<(String, String)>,
}

/// One `<Label>` or `<Choice>` of a control.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelTag {
    /// `alias` when it has one, else `value`.
    pub name: String,
    /// Every attribute, as written.
    pub attrs: Vec<(String, String)>,
}

impl LabelTag {
    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl LabelConfig {
    /// The object tags whose tag is one of `tags` (case-insensitive).
    pub fn objects_of<'a>(&'a self, tags: &'a [&str]) -> impl Iterator<Item = &'a ObjectTag> + 'a {
        self.objects.iter().filter(|o| tags.iter().any(|t| t.eq_ignore_ascii_case(&o.tag)))
    }

    /// The one TimeSeries object tag, when there is exactly one (the seed's CSV rule).
    pub fn single_time_series(&self) -> Option<&ObjectTag> {
        let mut it = self.objects_of(&["TimeSeries"]);
        match (it.next(), it.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }
}
