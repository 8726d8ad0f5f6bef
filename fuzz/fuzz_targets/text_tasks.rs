#![no_main]
//! The text and URL-list reader on any bytes, with and without a label config.
include!("lsdb.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let config = labelconfig::parse_label_config(
        "<View><Image name=\"i\" value=\"$image\"/><Text name=\"t\" value=\"$text\"/></View>",
        "fuzz.xml",
    )
    .expect("a valid config");
    for config in [None, Some(&config)] {
        let mut ctx = import::context::ReadContext {
            config,
            key: None,
            host_url: "http://localhost:8080".into(),
            notes: Vec::new(),
            chosen: Vec::new(),
        };
        let mut checker = Checker::default();
        let _ = import::text::read_text(data, "fuzz.txt", &mut ctx, &mut checker);
    }
});
