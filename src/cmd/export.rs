//! `lsdb export`: write tasks (all, `--where`, or a sample) to a file or standard output.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cli::ExportArgs;
use crate::export::{ExportFormat, Selection, select_tasks, write_export, write_parquet};
use crate::sample::SampleRequest;
use crate::store::Store;

pub fn run(project: &Path, args: ExportArgs) -> Result<()> {
    let format = ExportFormat::parse(&args.format)?;
    let store = Store::open(project, false)?;
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
        write_export(store.conn(), format, total, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    write_file(&args.output, |out| write_export(store.conn(), format, total, out))?;
    eprintln!("exported {total} tasks to {}", args.output.display());
    Ok(())
}

/// Write through a temporary file renamed into place, so a failed export leaves no half file.
fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<u64>) -> Result<()> {
    let tmp = path.with_extension("lsdb-partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let written = write(&mut out).and_then(|_| Ok(out.flush()?));
    match written {
        Ok(()) => {
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
        }
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err)
        }
    }
}
