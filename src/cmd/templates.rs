//! `lsdb templates [NAME]`: list the built-in label configs, or print one.

use std::io::Write;

use anyhow::Result;

use crate::cli::TemplatesArgs;
use crate::templates::{TEMPLATES, template};

pub fn run(args: TemplatesArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match args.name {
        Some(name) => out.write_all(template(&name)?.as_bytes())?,
        None => {
            for t in TEMPLATES {
                writeln!(out, "{:<22} {}", t.name, t.about)?;
            }
        }
    }
    Ok(())
}
