#![no_main]
//! The label-config parser on any bytes: an error or a config, never a panic.
include!("lsdb.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(xml) = std::str::from_utf8(data) {
        if let Ok(config) = labelconfig::parse_label_config(xml, "fuzz.xml") {
            let _ = config.single_time_series();
        }
    }
});
