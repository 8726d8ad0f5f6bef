//! `lsdb config show|set|template`: read or replace the label config.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::{ConfigChoice, ConfigCommand};
use crate::project::{chosen_config, set_config};
use crate::store::Store;
use crate::store::config::load_config;

pub fn run(project: &Path, command: ConfigCommand) -> Result<()> {
    let store = Store::open(project, false)?;
    let choice = match command {
        ConfigCommand::Show => {
            match load_config(store.conn())? {
                Some(config) => std::io::stdout().lock().write_all(config.xml.as_bytes())?,
                None => {
                    bail!("the project has no label config; set one with `lsdb config set FILE`")
                }
            }
            return Ok(());
        }
        ConfigCommand::Set { file } => ConfigChoice { label_config: Some(file), template: None },
        ConfigCommand::Template { name } => {
            ConfigChoice { label_config: None, template: Some(name) }
        }
    };
    let (config, source) = chosen_config(&choice)?.expect("a file or template was given");
    let rows = set_config(store.conn(), &config, &source)?;
    println!(
        "label config set from {source}: {} object tag{}, {} control tag{}; validation_errors now has {rows} row{}",
        config.objects.len(),
        if config.objects.len() == 1 { "" } else { "s" },
        config.controls.len(),
        if config.controls.len() == 1 { "" } else { "s" },
        if rows == 1 { "" } else { "s" },
    );
    Ok(())
}
