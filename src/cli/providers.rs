//! `keyward providers`: what every provider this build speaks can do, from the providers
//! themselves ([`crate::providers::catalog`]); `--markdown` prints the README's table.

use anyhow::Result;
use serde::Serialize;

use super::json::Schema;
use super::Context;
use crate::providers::catalog::{self, ProviderEntry};

/// Arguments of `keyward providers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the table as Markdown, as the README carries it.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
}

/// `keyward providers --json`.
#[derive(Serialize)]
struct ProvidersJson {
    providers: Vec<ProviderEntry>,
}

/// Runs `keyward providers`; needs no inventory.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let entries = catalog::catalog();
    if ctx.json() {
        super::json::print(Schema::Providers, &ProvidersJson { providers: entries })?;
    } else if args.markdown {
        print!("{}", catalog::markdown(&entries));
    } else {
        print!("{}", catalog::plain(&entries));
    }
    Ok(0)
}
