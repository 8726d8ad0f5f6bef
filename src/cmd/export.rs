//! `lsdb export`: write tasks (all, `--where`, or a sample) to a file or standard output.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::ExportArgs;
use crate::export::{
    ExportFormat, Selection, select_tasks, write_export, write_file, write_parquet,
};
use crate::sample::SampleRequest;
use crate::store::Store;
use crate::urls::UrlRewrite;

pub fn run(project: &Path, args: ExportArgs) -> Result<()> {
    let format = ExportFormat::parse(&args.format)?;
    let urls = UrlRewrite {
        host: args.host_url,
        style: args.url_style,
        document_root: args.document_root,
    };
    let store = Store::open(project)?;
    let selection = Selection {
        sample: args.sample.map(|strategy| SampleRequest {
            strategy,
            limit: args.limit,
            seed: args.seed,
            model_version: args.model_version,
        }),
        limit: args.limit,
        condition: args.condition,
    };
    let total = select_tasks(store.conn(), &selection)?;
    let to_stdout = args.output.as_os_str() == "-";
    if format == ExportFormat::Parquet {
        if to_stdout {
            bail!("parquet export writes a folder of files; give one with -o DIR");
        }
        write_parquet(store.conn(), &args.output)?;
        eprintln!("exported {total} tasks to {}", args.output.display());
        return Ok(());
    }
    if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write_export(store.conn(), format, args.dialect, &urls, total, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    write_file(&args.output, |out| {
        write_export(store.conn(), format, args.dialect, &urls, total, out)
    })?;
    eprintln!("exported {total} tasks to {}", args.output.display());
    Ok(())
}
