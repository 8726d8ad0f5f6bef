//! Reading the objects a bucket listing chose: a media object is one task whose data is the
//! object's URI (`s3://bucket/key`, as Label Studio keeps it); a task file is streamed
//! through the reader of its format. Every task's `source` names the object and its ETag.

use std::io::BufReader;
use std::sync::Arc;

use anyhow::{Context, Result};
use duckdb::{Connection, params};

use super::context::ReadContext;
use super::task::{Receiver, Record, Task};
use super::{BucketInput, Input};
use crate::bucket::Bucket;
use crate::bucket::listing::{Listing, ObjectKind};
use crate::error::InputError;
use crate::formats::{Format, MediaKind};

/// Read every object of `listing`, in key order.
pub fn read_objects(
    bucket: &Bucket,
    listing: &Listing,
    ctx: &mut ReadContext<'_>,
    sink: &mut dyn Receiver,
) -> Result<()> {
    sink.skip(listing.skipped)?;
    let is_series =
        ctx.config.and_then(crate::labelconfig::LabelConfig::single_time_series).is_some();
    for object in &listing.objects {
        crate::cancel::check()?;
        let uri = bucket.url.uri(&object.info.key);
        let suffix: Arc<str> = match &object.info.etag {
            Some(etag) => Arc::from(format!(" etag={etag}")),
            None => Arc::from(""),
        };
        let kind = match object.kind {
            // A CSV under a config with one time series is a series, as local files are.
            ObjectKind::File(Format::Csv | Format::Tsv) if is_series => {
                ObjectKind::Media(MediaKind::TimeSeries)
            }
            kind => kind,
        };
        match kind {
            ObjectKind::Media(kind) => {
                let key = ctx.key_for(kind)?;
                sink.push(Task::single_value(&key, &uri, format!("{uri}{suffix}")))?;
            }
            ObjectKind::File(format) => {
                let reader = BufReader::with_capacity(1 << 18, bucket.reader(&object.info.key)?);
                let mut tagged = Tagged { inner: &mut *sink, suffix };
                super::read_stream(Box::new(reader), &uri, format, ctx, &mut tagged)?;
            }
        }
    }
    Ok(())
}

/// Adds the object's ETag to the source of each task read from it.
struct Tagged<'a> {
    inner: &'a mut dyn Receiver,
    suffix: Arc<str>,
}

impl Receiver for Tagged<'_> {
    fn push(&mut self, mut task: Task) -> Result<()> {
        task.source.push_str(&self.suffix);
        self.inner.push(task)
    }

    fn push_record(&mut self, mut record: Record) -> Result<()> {
        record.source_suffix = Some(self.suffix.clone());
        self.inner.push_record(record)
    }

    fn reject(&mut self, err: InputError) -> Result<()> {
        self.inner.reject(err)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.inner.skip(n)
    }
}

/// Record the bucket objects an import read (inside its transaction): their ETag and size
/// replace what an earlier import recorded.
pub fn record_objects(conn: &Connection, import_id: i64, inputs: &[Input]) -> Result<()> {
    let buckets: Vec<&BucketInput> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Bucket(b) if !b.listing.objects.is_empty() => Some(&**b),
            _ => None,
        })
        .collect();
    if buckets.is_empty() {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE read_objects (uri VARCHAR, etag VARCHAR, size BIGINT, \
         last_modified TIMESTAMP, import_id BIGINT)",
    )?;
    {
        let mut app = conn.appender("read_objects")?;
        for b in buckets {
            for o in &b.listing.objects {
                app.append_row(params![
                    b.bucket.url.uri(&o.info.key),
                    o.info.etag,
                    o.info.size as i64,
                    duckdb::types::Value::Timestamp(
                        duckdb::types::TimeUnit::Second,
                        o.info.last_modified
                    ),
                    import_id
                ])?;
            }
        }
        app.flush()?;
    }
    conn.execute_batch(
        "DELETE FROM storage_objects WHERE uri IN (SELECT uri FROM read_objects);
         INSERT INTO storage_objects SELECT * FROM read_objects;
         DROP TABLE read_objects;",
    )
    .context("recording the bucket objects read")?;
    Ok(())
}
