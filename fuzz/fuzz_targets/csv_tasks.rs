#![no_main]
//! The CSV and TSV task readers on any bytes.
include!("lsdb.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut checker = Checker::default();
    let _ = import::csv::read_csv(data, "fuzz.csv", None, &mut checker);
    let _ = import::csv::read_csv(data, "fuzz.tsv", Some(b'\t'), &mut checker);
});
