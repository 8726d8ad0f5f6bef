#![no_main]
//! The JSON and JSON-lines task readers on any bytes.
include!("lsdb.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut checker = Checker::default();
    let _ = import::json::read_json(data, "fuzz.json", &mut checker);
    let _ = import::json::read_jsonl(data, "fuzz.jsonl", &mut checker);
});
