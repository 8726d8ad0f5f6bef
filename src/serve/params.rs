//! A request's query string, decoded by axum's `Query` extractor (form rules: `+` is a
//! space), kept as pairs in order: Label Studio's clients repeat names (`ids=1&ids=2`). Query
//! strings in task data and form bodies go through the same decoder (`form_urlencoded`).

use axum::extract::Query;
use axum::http::Uri;

/// The decoded `name=value` pairs of a request's query string.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The pairs of `uri`'s query string (none when it has none).
    pub fn of(uri: &Uri) -> Params {
        Params(Query::<Vec<(String, String)>>::try_from_uri(uri).map(|q| q.0).unwrap_or_default())
    }

    /// The pairs of a query string found in task data (a local-file URL's) or of a form
    /// body: decoded by `form_urlencoded`, the decoder under axum's `Query`, so they read as
    /// a request for that URL would (any bytes, any length).
    pub fn of_query(query: &str) -> Params {
        let pairs = form_urlencoded::parse(query.as_bytes());
        Params(pairs.map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every value of `name`.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.iter().filter(move |(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The first value of `name`.
    pub fn value<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.values(name).next()
    }

    /// Whether `name` is given and says yes.
    pub fn is_yes(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| flag(v) == Some(true))
    }

    /// Whether `name` is given and says no.
    pub fn is_no(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| flag(v) == Some(false))
    }
}

/// A flag's value: yes (`true`, `1`, `yes`), no (`false`, `0`, `no`, empty), or neither.
pub fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order_with_repeats() {
        let uri: Uri = "/x?ids=1&ids=2&d=%2Fa+b%2Fc&flag=Yes&off=0&empty".parse().unwrap();
        let params = Params::of(&uri);
        assert_eq!(params.values("ids").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(params.value("d"), Some("/a b/c"));
        assert!(params.is_yes("flag") && params.is_no("off") && params.is_no("empty"));
        assert!(!params.is_yes("missing") && !params.is_no("missing"));
        assert_eq!(Params::of(&"/x".parse().unwrap()).iter().count(), 0);
        let raw = Params::of_query("d=/my images/ü&sig=a+b");
        assert_eq!(raw.value("d"), Some("/my images/ü"));
        assert_eq!(raw.value("sig"), Some("a b"));
        // Bytes a URI may not hold, and a body longer than a URI may be.
        let odd = Params::of_query(r#"url=http://h/a"b<c>{d}|e^f`g\h.json&d=/p/a<b"#);
        assert_eq!(odd.value("url"), Some(r#"http://h/a"b<c>{d}|e^f`g\h.json"#));
        assert_eq!(odd.value("d"), Some("/p/a<b"));
        let long = format!("x={}&url=http%3A%2F%2Fh%2Fa.csv", "y".repeat(70_000));
        assert_eq!(Params::of_query(&long).value("url"), Some("http://h/a.csv"));
    }
}
