//! Issue 9: any task list — unicode keys and values, nested data, big and long numbers,
//! completions and predictions with extra fields — imported and exported as `json` comes
//! back as the same text. Lists are generated in the shape lsdb writes (compact, ids
//! given), so the export must equal the input byte for byte; nothing is read back through
//! lsdb's own reader.

use proptest::prelude::*;

use crate::support::TestEnv;

/// A JSON string literal for `s`, escaped as serde_json escapes it.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("123456789012345678901234567890".to_string()),
        Just("0.23053804129850775".to_string()),
        Just("5e-324".to_string()),
        Just("-0.0".to_string()),
        Just("1E+2".to_string()),
        Just("1.7976931348623157e308".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<u32>(), 1u32..20).prop_map(|(n, d)| format!("{n}.{}", "7".repeat(d as usize))),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,12}", Just("ünïcödé 🦆 \u{0} \" \\ \n".to_string()), Just(String::new()),]
}

/// Any JSON value as compact text.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number(),
        text().prop_map(|s| quoted(&s)),
        Just("true".to_string()),
        Just("null".to_string()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            object(inner),
        ]
    })
}

/// An object with unique keys, prefixed so they never hit a reserved name.
fn object(values: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::btree_map(text(), values, 0..4).prop_map(|m| {
        let members: Vec<String> =
            m.into_iter().map(|(k, v)| format!("{}:{v}", quoted(&format!("k{k}")))).collect();
        format!("{{{}}}", members.join(","))
    })
}

/// The members of an object text without its braces (empty for `{}`).
fn inner(object: &str) -> &str {
    &object[1..object.len() - 1]
}

/// An annotation: id, extra fields, then result (the order lsdb writes).
fn annotation(id: usize, fields: &str, result: &str) -> String {
    let fields = inner(fields);
    let sep = if fields.is_empty() { "" } else { "," };
    format!("{{\"id\":{id}{sep}{fields},\"result\":{result}}}")
}

#[derive(Debug, Clone)]
struct TaskText {
    data: String,
    meta: Option<String>,
    extra: String,
    completions: Vec<(String, String)>,
    predictions: Vec<(String, String)>,
}

fn annotations() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    prop::collection::vec((object(value()), prop::collection::vec(object(value()), 0..3)), 0..3)
}

fn task() -> impl Strategy<Value = TaskText> {
    (
        object(value()),
        prop::option::of(object(value())),
        object(value()),
        annotations(),
        annotations(),
    )
        .prop_map(|(data, meta, extra, completions, predictions)| {
            let results = |list: Vec<(String, Vec<String>)>| {
                list.into_iter().map(|(f, r)| (f, format!("[{}]", r.join(",")))).collect()
            };
            TaskText {
                data,
                meta,
                extra,
                completions: results(completions),
                predictions: results(predictions),
            }
        })
}

/// The task list as lsdb's `json` export writes it, human annotations under `key`.
fn task_list(tasks: &[TaskText], key: &str) -> String {
    let (mut completion_id, mut prediction_id) = (0, 0);
    let mut out = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let mut text = format!("{{\"id\":{},\"data\":{}", i + 1, t.data);
        if let Some(meta) = &t.meta {
            text.push_str(&format!(",\"meta\":{meta}"));
        }
        let list = |items: &[(String, String)], next: &mut usize| {
            let items: Vec<String> = items
                .iter()
                .map(|(fields, result)| {
                    *next += 1;
                    annotation(*next, fields, result)
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        text.push_str(&format!(",\"{key}\":{}", list(&t.completions, &mut completion_id)));
        text.push_str(&format!(",\"predictions\":{}", list(&t.predictions, &mut prediction_id)));
        if !inner(&t.extra).is_empty() {
            text.push_str(&format!(",{}", inner(&t.extra)));
        }
        text.push('}');
        out.push(text);
    }
    if out.is_empty() { "[]\n".to_string() } else { format!("[\n{}\n]\n", out.join(",\n")) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_task_list_comes_back_as_the_same_text(
        tasks in prop::collection::vec(task(), 0..5),
        is_ls0 in any::<bool>(),
    ) {
        let env = TestEnv::new();
        let (dialect, key) = if is_ls0 { ("ls0", "completions") } else { ("ls1", "annotations") };
        let input = task_list(&tasks, key);
        env.write("in.json", &input);
        env.lsdb(&["init", "proj", "--input-path", "in.json"]).ok();
        env.lsdb(&["-p", "proj", "export", "--dialect", dialect, "-o", "out.json"]).ok();
        let output = std::fs::read_to_string(env.path("out.json")).unwrap();
        prop_assert_eq!(output, input);
    }
}
