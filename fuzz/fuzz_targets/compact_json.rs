#![no_main]
//! The one-pass JSON check and compaction against serde_json: whatever it accepts, serde_json
//! accepts too and compacts the same, and the task read from it is the task the careful
//! path reads.
include!("lsdb.rs");

use import::compact::compact_with_spans;
use import::raw::compact;
use import::task::{task_from_compact, task_from_json};
use serde_json::value::RawValue;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(ours) = compact_with_spans(data) else { return };
    let raw: &RawValue = serde_json::from_slice(data).expect("serde_json accepts what we accept");
    assert_eq!(ours.text, compact(raw.get()));
    let fast = task_from_compact(&ours, &"task 0", "s".into());
    let careful = task_from_json(raw, &"task 0", "s".into());
    assert_eq!(fast, careful);
});
