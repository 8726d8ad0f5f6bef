//! CoNLL 2003: `result.conll`, a `-DOCSTART-` line, then per item (annotation) a
//! `token -X- _ tag` line per token and an empty line, as the converter's
//! `convert_to_conll2003` writes it.
//!
//! Tokens are NLTK's Treebank word tokenizer (with the converter's change to its punctuation
//! rules: `/` is split off too), found back in the text at their character offsets; tags are
//! `B-`/`I-` and the span's first label where a token overlaps the spans of the first `Labels`
//! control (matched the converter's way, span by span in start order), `O` elsewhere.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde_json::{Map, Value};

use super::Writer;
use super::media::Media;
use super::schema::Schema;
use crate::export::min::Item;
use crate::export::python::python_str;

pub struct Conll {
    out: BufWriter<File>,
    data_key: String,
}

impl Conll {
    pub fn new(dir: &Path, schema: &Schema) -> Result<Conll> {
        let path = dir.join("result.conll");
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("writing {}", path.display()))?,
        );
        out.write_all(b"-DOCSTART- -X- O\n")?;
        Ok(Conll { out, data_key: schema.data_key.clone() })
    }
}

impl Writer for Conll {
    fn item(&mut self, item: &Item, _media: &mut Media) -> Result<()> {
        let Some(Value::String(text)) = item.input.get(&self.data_key) else {
            bail!(
                "task {}: conll2003 reads a text from ${}, and the task has none",
                item.id,
                self.data_key
            )
        };
        let spans = item.outputs.iter().map(|(_, values)| values).find(|values| {
            values[0]
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("labels"))
        });
        let tokens = span_tokenize(text)
            .with_context(|| format!("task {}: tokenizing ${}", item.id, self.data_key))?;
        let tags = tags(&tokens, spans.map(Vec::as_slice).unwrap_or_default());
        for ((token, _), tag) in tokens.iter().zip(tags) {
            writeln!(self.out, "{token} -X- _ {tag}")?;
        }
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, _notes: &mut Vec<String>) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// The tokenizer's rules, in the order it applies them: a pattern and its replacement.
fn rules() -> &'static [(Regex, &'static str)] {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    RULES.get_or_init(|| {
        let rules: &[(&str, &str)] = &[
            // Starting quotes.
            (r#"^""#, "``"),
            (r"(``)", " ${1} "),
            (r#"([ (\[{<])("|'{2})"#, "${1} `` "),
            // Punctuation, as the converter sets it (`/` added to NLTK's list).
            (r"([:,])([^\d])", " ${1} ${2}"),
            // Python's `$`: the end, or before a newline that ends the text.
            (r"([:,])(\n?)\z", " ${1} ${2}"),
            (r"\.\.\.", " ... "),
            (r"[;@#$/%&]", " ${0} "),
            (r#"([^.])(\.)([\])}>"']*)\s*\z"#, "${1} ${2}${3} "),
            (r"[?!]", " ${0} "),
            (r"([^'])' ", "${1} ' "),
            // Parentheses and brackets; double dashes.
            (r"[\]\[(){}<>]", " ${0} "),
            (r"--", " -- "),
        ];
        rules.iter().map(|(p, r)| (Regex::new(p).expect("a valid pattern"), *r)).collect()
    })
}

/// The rules applied after the text is padded with a space each side.
fn ending_rules() -> &'static [(Regex, &'static str)] {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    RULES.get_or_init(|| {
        let rules: &[(&str, &str)] = &[
            (r"''", " '' "),
            (r#"""#, " '' "),
            (r"([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} "),
            (r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "${1} ${2} "),
            // Contractions (MacIntyre's), split in two.
            (r"(?i)\b(can)(not)\b", " ${1} ${2} "),
            (r"(?i)\b(d)('ye)\b", " ${1} ${2} "),
            (r"(?i)\b(gim)(me)\b", " ${1} ${2} "),
            (r"(?i)\b(gon)(na)\b", " ${1} ${2} "),
            (r"(?i)\b(got)(ta)\b", " ${1} ${2} "),
            (r"(?i)\b(lem)(me)\b", " ${1} ${2} "),
            (r"(?i)\b(more)('n)\b", " ${1} ${2} "),
            // NLTK looks ahead for the space; taking it and writing it back is the same.
            (r"(?i)\b(wan)(na)(\s)", " ${1} ${2} ${3}"),
            (r"(?i) ('t)(is)\b", " ${1} ${2} "),
            (r"(?i) ('t)(was)\b", " ${1} ${2} "),
        ];
        rules.iter().map(|(p, r)| (Regex::new(p).expect("a valid pattern"), *r)).collect()
    })
}

/// The Treebank tokens of `text` (`TreebankWordTokenizer.tokenize`).
fn tokenize(text: &str) -> Vec<String> {
    let mut text = text.to_string();
    for (re, with) in rules() {
        text = re.replace_all(&text, *with).into_owned();
    }
    let mut text = format!(" {text} ");
    for (re, with) in ending_rules() {
        text = re.replace_all(&text, *with).into_owned();
    }
    text.split_whitespace().map(str::to_string).collect()
}

/// Each token and its offset in `text` in characters (`span_tokenize`): quotes the tokenizer
/// rewrote (`"` to ` `` ` or `''`) are put back as the text has them, then each token is found
/// from where the last one ended.
fn span_tokenize(text: &str) -> Result<Vec<(String, usize)>> {
    let mut tokens = tokenize(text);
    if text.contains('"') || text.contains("''") {
        static QUOTES: OnceLock<Regex> = OnceLock::new();
        let quotes = QUOTES.get_or_init(|| Regex::new(r#"``|'{2}|""#).expect("a valid pattern"));
        let mut found = quotes.find_iter(text).map(|m| m.as_str().to_string());
        for token in tokens.iter_mut().filter(|t| ["\"", "``", "''"].contains(&t.as_str())) {
            match found.next() {
                Some(quote) => *token = quote,
                None => bail!("the quotes of the text do not match its tokens"),
            }
        }
    }
    let mut out = Vec::with_capacity(tokens.len());
    let (mut byte, mut chars) = (0usize, 0usize);
    for token in tokens {
        let Some(at) = text[byte..].find(&token) else {
            bail!("the token {token:?} is not found in the text");
        };
        chars += text[byte..byte + at].chars().count();
        byte += at;
        out.push((token.clone(), chars));
        chars += token.chars().count();
        byte += token.len();
    }
    Ok(out)
}

/// A span's start and end as the converter compares them.
fn bound(span: &Map<String, Value>, key: &str) -> Option<f64> {
    span.get(key).and_then(Value::as_f64)
}

/// The tags of the tokens (`create_tokens_and_tags`).
fn tags(tokens: &[(String, usize)], spans: &[Map<String, Value>]) -> Vec<String> {
    let is_whole = !spans.is_empty()
        && spans.iter().all(|s| bound(s, "start").is_some() && bound(s, "end").is_some());
    if !is_whole {
        return vec!["O".to_string(); tokens.len()];
    }
    let mut queue: Vec<&Map<String, Value>> = spans.iter().collect();
    queue.sort_by(|a, b| {
        bound(a, "start").partial_cmp(&bound(b, "start")).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut queue = queue.into_iter();
    let Some(mut span) = queue.next() else { return Vec::new() };
    let edges = |s: &Map<String, Value>| {
        (bound(s, "start").unwrap_or(0.0), bound(s, "end").unwrap_or(0.0) - 1.0)
    };
    let (mut start, mut end) = edges(span);
    let mut prefix = "B-";
    let mut out = Vec::with_capacity(tokens.len());
    for (token, token_start) in tokens {
        let token_start = *token_start as f64;
        let token_end = token_start + token.chars().count() as f64 - 1.0;
        if token_start > end {
            for next in queue.by_ref() {
                span = next;
                (start, end) = edges(span);
                prefix = "B-";
                if token_start <= end {
                    break;
                }
            }
        }
        let label = match span.get("labels") {
            Some(Value::Array(labels)) if !labels.is_empty() => Some(python_str(&labels[0])),
            Some(Value::String(s)) if !s.is_empty() => s.chars().next().map(String::from),
            _ => None,
        };
        match label {
            Some(label) if start <= token_end && end >= token_start => {
                out.push(format!("{prefix}{label}"));
                prefix = "I-";
            }
            _ => out.push("O".to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NLTK's own examples (its docstrings), with the converter's `/` rule.
    #[test]
    fn tokens_and_offsets_are_nltks() {
        let s = "Good muffins cost $3.88\nin New (York).  Please (buy) me\ntwo of them.\n(Thanks).";
        let spans: Vec<(usize, usize)> =
            span_tokenize(s).unwrap().iter().map(|(t, at)| (*at, at + t.chars().count())).collect();
        assert_eq!(
            spans,
            [
                (0, 4),
                (5, 12),
                (13, 17),
                (18, 19),
                (19, 23),
                (24, 26),
                (27, 30),
                (31, 32),
                (32, 36),
                (36, 37),
                (37, 38),
                (40, 46),
                (47, 48),
                (48, 51),
                (51, 52),
                (53, 55),
                (56, 59),
                (60, 62),
                (63, 68),
                (69, 70),
                (70, 76),
                (76, 77),
                (77, 78)
            ]
        );
        assert_eq!(
            tokenize("hi, my name can't hello,"),
            ["hi", ",", "my", "name", "ca", "n't", "hello", ","]
        );
        assert_eq!(
            tokenize("They'll save and/or \"invest\" more."),
            ["They", "'ll", "save", "and", "/", "or", "``", "invest", "''", "more", "."]
        );
    }

    /// Any text and any spans: tokens or an error, never a panic.
    #[test]
    fn any_text_and_spans_are_safe() {
        let alphabet: Vec<char> =
            "ab .,:;'\"`-()[]{}<>?!/$%&#@\n\té😀'tis cannot wanna".chars().collect();
        let mut state = 11u64;
        let mut next = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n.max(1)
        };
        for _ in 0..2000 {
            let len = next(40);
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let Ok(tokens) = span_tokenize(&text) else { continue };
            let spans: Vec<Map<String, Value>> = (0..next(4))
                .map(|_| {
                    let start = next(len + 2) as i64 - 1;
                    let end = start + next(8) as i64 - 2;
                    serde_json::from_value(
                        serde_json::json!({"start": start, "end": end, "labels": ["X"]}),
                    )
                    .unwrap()
                })
                .collect();
            assert_eq!(tags(&tokens, &spans).len(), tokens.len());
        }
    }
}
