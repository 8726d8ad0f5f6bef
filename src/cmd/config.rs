//! `lsdb config show|set|template`: read or replace the label config.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::ConfigCommand;
use crate::output::print_lines;
use crate::project::{chosen_config, set_config};
use crate::store::Store;
use crate::store::config::load_config;

pub fn run(project: &Path, command: ConfigCommand) -> Result<()> {
    let store = Store::open(project)?;
    let (file, template) = match command {
        ConfigCommand::Show => {
            match load_config(store.conn())? {
                Some(config) => std::io::stdout().lock().write_all(config.xml.as_bytes())?,
                None => {
                    bail!("the project has no label config; set one with `lsdb config set FILE`")
                }
            }
            return Ok(());
        }
        ConfigCommand::Set { file } => (Some(file), None),
        ConfigCommand::Template { name } => (None, Some(name)),
    };
    let (config, source) =
        chosen_config(file.as_deref(), template.as_deref())?.expect("a file or template was given");
    store.check_writable()?;
    let rows = set_config(store.conn(), &config, &source)?;
    print_lines([format!(
        "label config set from {source}: {} object tag{}, {} control tag{}; validation_errors now has {rows} row{}",
        config.objects.len(),
        if config.objects.len() == 1 { "" } else { "s" },
        config.controls.len(),
        if config.controls.len() == 1 { "" } else { "s" },
        if rows == 1 { "" } else { "s" },
    )])
}
