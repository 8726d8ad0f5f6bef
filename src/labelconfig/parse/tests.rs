//! Label config parsing over realistic configs written for these tests.

use super::parse_label_config;
use crate::labelconfig::LabelConfig;

fn parse(xml: &str) -> LabelConfig {
    parse_label_config(xml, "config.xml").expect("config parses")
}

fn keys(config: &LabelConfig) -> Vec<(&str, &str)> {
    config.objects.iter().map(|o| (o.tag.as_str(), o.key.as_str())).collect()
}

#[test]
fn image_bounding_boxes() {
    let c = parse(
        r#"<View>
  <Image name="image" value="$image_url" zoom="true"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Airplane" background="green"/>
    <Label value="Car" background="blue"/>
  </RectangleLabels>
</View>"#,
    );
    assert_eq!(keys(&c), [("Image", "image_url")]);
    assert_eq!(c.objects[0].name.as_deref(), Some("image"));
    assert_eq!(c.objects[0].line, 2);
    assert_eq!(c.controls.len(), 1);
    assert_eq!(c.controls[0].tag, "RectangleLabels");
    assert_eq!(c.controls[0].to_name, ["image"]);
    assert_eq!(c.controls[0].labels, ["Airplane", "Car"]);
    assert!(!c.controls[0].is_dynamic);
}

#[test]
fn text_classification() {
    let c = parse(
        r#"<View>
  <Text name="message" value="$my_text"/>
  <Choices name="sentiment_class" toName="message" choice="single">
    <Choice value="Positive"/><Choice value="Neutral"/><Choice value="Negative"/>
  </Choices>
</View>"#,
    );
    assert_eq!(keys(&c), [("Text", "my_text")]);
    assert_eq!(c.controls[0].labels, ["Positive", "Neutral", "Negative"]);
}

#[test]
fn named_entities_with_aliases() {
    let c = parse(
        r#"<View>
  <Labels name="ner" toName="text">
    <Label value="Person" alias="PER"/>
    <Label value="Organization"/>
  </Labels>
  <Text name="text" value="$text" granularity="word"/>
</View>"#,
    );
    assert_eq!(c.controls[0].labels, ["Person", "PER", "Organization"]);
    assert_eq!(keys(&c), [("Text", "text")]);
}

#[test]
fn audio_transcription() {
    let c = parse(
        r#"<View>
  <AudioPlus name="audio" value="$audio"/>
  <TextArea name="transcription" toName="audio" rows="4" editable="true"/>
</View>"#,
    );
    assert_eq!(keys(&c), [("AudioPlus", "audio")]);
    assert_eq!(c.controls[0].tag, "TextArea");
    assert!(c.controls[0].labels.is_empty());
}

#[test]
fn time_series_with_channels() {
    let c = parse(
        r##"<View>
  <TimeSeriesLabels name="label" toName="ts"><Label value="Run"/><Label value="Walk"/></TimeSeriesLabels>
  <TimeSeries name="ts" value="$csv" valueType="url" timeColumn="time" sep=",">
    <Channel column="x" strokeColor="#1f77b4"/>
    <Channel column="y"/>
  </TimeSeries>
</View>"##,
    );
    let ts = c.single_time_series().expect("one time series");
    assert_eq!(ts.key, "csv");
    assert_eq!(ts.value_type.as_deref(), Some("url"));
    assert_eq!(ts.time_column.as_deref(), Some("time"));
    assert_eq!(ts.channels, ["x", "y"]);
}

#[test]
fn multi_object_pairwise() {
    let c = parse(
        r#"<View>
  <Header value="$title"/>
  <Text name="left" value="$text1"/>
  <Text name="right" value="$text2"/>
  <Pairwise name="pw" toName="left,right"/>
</View>"#,
    );
    assert_eq!(keys(&c), [("Header", "title"), ("Text", "text1"), ("Text", "text2")]);
    assert_eq!(c.controls[0].to_name, ["left", "right"]);
}

#[test]
fn hypertext_encoding_and_paragraphs() {
    let c = parse(
        r#"<View>
  <HyperText name="html" value="$page" encoding="base64"/>
  <Paragraphs name="dialog" value="$dialog" layout="dialogue"/>
  <Table name="meta" value="$meta"/>
</View>"#,
    );
    assert_eq!(c.objects[0].encoding.as_deref(), Some("base64"));
    assert_eq!(keys(&c), [("HyperText", "page"), ("Paragraphs", "dialog"), ("Table", "meta")]);
}

#[test]
fn dynamic_choices_and_value_list() {
    let c = parse(
        r#"<View>
  <List name="items" valueList="$items"/>
  <Text name="t" value="$text"/>
  <Choices name="opts" toName="t" value="$options"/>
</View>"#,
    );
    assert_eq!(keys(&c), [("List", "items"), ("Text", "text"), ("Choices", "options")]);
    assert_eq!(c.objects[0].attr, "valueList");
    assert!(c.controls[0].is_dynamic);
}

#[test]
fn nested_views_and_taxonomy() {
    let c = parse(
        r#"<View>
  <View style="display: flex">
    <Image name="img" value="$image"/>
  </View>
  <Taxonomy name="tax" toName="img">
    <Choice value="Animal"><Choice value="Cat"/><Choice value="Dog"/></Choice>
  </Taxonomy>
</View>"#,
    );
    assert_eq!(c.controls[0].labels, ["Animal", "Cat", "Dog"]);
}

#[test]
fn constant_values_are_not_keys() {
    let c = parse(
        r#"<View><Header value="Pick one"/><Text name="t" value="$text"/>
  <!-- <Image value="$commented_out"/> --></View>"#,
    );
    assert_eq!(keys(&c), [("Text", "text")]);
}

#[test]
fn escaped_and_non_ascii_attributes() {
    let c = parse(
        r#"<View><Text name="t" value="$a&apos;b"/><Choices name="c" toName="t">
  <Choice value="café &amp; bar"/></Choices></View>"#,
    );
    assert_eq!(keys(&c), [("Text", "a'b")]);
    assert_eq!(c.controls[0].labels, ["café & bar"]);
}

#[test]
fn video_classification() {
    let c = parse(
        r#"<View><Video name="video" value="$video_url"/>
  <Choices name="type" toName="video"><Choice value="Motion"/></Choices></View>"#,
    );
    assert_eq!(keys(&c), [("Video", "video_url")]);
}

#[test]
fn malformed_xml_has_line_and_column() {
    let err = parse_label_config("<View>\n  <Image name=\"i\" value=\"$x\">\n</View>", "c.xml")
        .expect_err("mismatched tags");
    assert_eq!(err.path, "c.xml");
    assert_eq!(err.line, Some(3));
    assert!(err.msg.starts_with("invalid label config:"), "{}", err.msg);

    let err = parse_label_config("<View>\n<Text name=\"t\" value=\"$t\"/>", "c.xml")
        .expect_err("unclosed root");
    assert_eq!(
        err.to_string(),
        "c.xml:1: invalid label config: <View> is never closed; add </View>"
    );

    let err = parse_label_config("   ", "c.xml").expect_err("empty");
    assert!(err.to_string().contains("no tags found"));

    let err = parse_label_config("<View a=\"1></View>", "c.xml").expect_err("bad attribute");
    assert_eq!(err.line, Some(1));
}

#[test]
fn every_truncation_and_byte_flip_is_an_error_or_a_config_never_a_panic() {
    let xml = r#"<View><Image name="i" value="$img"/><Choices name="c" toName="i"><Choice value="A&amp;B"/></Choices><!-- x --></View>"#;
    for end in 0..=xml.len() {
        if let Some(prefix) = xml.get(..end) {
            let _ = parse_label_config(prefix, "t.xml");
        }
    }
    let bytes = xml.as_bytes();
    for i in 0..bytes.len() {
        for b in [b'<', b'>', b'"', b'&', b'/', b'$', b' '] {
            let mut mutated = bytes.to_vec();
            mutated[i] = b;
            if let Ok(text) = String::from_utf8(mutated) {
                let _ = parse_label_config(&text, "t.xml");
            }
        }
    }
}
