//! `keyward audit`: prints the inventory's audit log, or checks its hash chain; and
//! [`record`], which the commands that change the inventory call once their save succeeded.

use anyhow::{anyhow, Result};

use super::{table, Context};
use crate::audit::{AuditLog, Checked, Event};
use crate::inventory::CredentialRef;
use crate::text::terminal_safe;

/// Arguments of `keyward audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this client's entries.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
    /// Only this credential's entries.
    #[arg(long, value_name = "CLIENT/INTEGRATION", value_parser = super::parse_ref)]
    pub credential: Option<CredentialRef>,
    /// Check the hash chain: exit 0 when intact, 1 naming the first bad line.
    #[arg(long, conflicts_with_all = ["client", "credential"])]
    pub verify: bool,
}

/// `audit --verify --json`: the chain is intact (a broken one is an error).
#[derive(serde::Serialize)]
struct AuditVerified {
    exists: bool,
    entries: usize,
    /// Entries sealed to recipients none of the caller's identities is (chain checked only).
    sealed_to_others: usize,
    /// Entries written in the clear by a keyward from before sealing.
    clear: usize,
    compared_with_inventory: bool,
}

/// Records `event` in the inventory's audit log. Call it only after the change was saved,
/// so a failed save records nothing.
pub fn record(ctx: &Context, event: Event) -> Result<()> {
    AuditLog::for_inventory(&ctx.location)
        .record(event)
        .map_err(|e| anyhow!("the change was saved, but not logged: {e}"))
}

/// Runs `keyward audit`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let log = AuditLog::for_inventory(&ctx.location);
    // Entries are sealed: they open with the identities that open the inventory (and, for
    // a passphrase-encrypted one, the log key inside it). Comparing the log with the
    // inventory (rolled back? lines dropped, the log rewritten or deleted?) needs the
    // inventory opened too; the chain alone needs neither.
    let keys = ctx.keyring().unwrap_or_default();
    let compared = crate::store::Store::open(&ctx.location, &keys)
        .ok()
        .map(|(store, _)| store);
    let identities = match &compared {
        Some(store) => store.audit_identities(&keys),
        None => keys.identities().collect(),
    };
    if args.verify {
        let disagreement = compared.as_ref().and_then(|s| s.disagreement());
        // A broken chain is named first, by its first bad line; then what the inventory
        // says the log should hold.
        let checked = log.verify(&identities)?;
        if let Some(d) = disagreement {
            anyhow::bail!("{}: {d}", terminal_safe(&log.location()));
        }
        if ctx.json() {
            let verified = AuditVerified {
                exists: log.path().exists(),
                entries: checked.entries,
                sealed_to_others: checked.sealed_to_others,
                clear: checked.clear,
                compared_with_inventory: compared.is_some(),
            };
            super::json::print(super::json::Schema::AuditVerify, &verified)?;
            return Ok(0);
        }
        if !log.path().exists() {
            println!("{}: no audit log yet", terminal_safe(&log.location()));
            return Ok(0);
        }
        println!("{}", verified_words(&checked, compared.is_some()));
        return Ok(0);
    }
    let listing = log.read(&identities)?;
    if compared.is_none() && !listing.sealed_to_others.is_empty() {
        eprintln!(
            "keyward: {}: the inventory could not be opened; entries sealed to it need the \
             identity that opens it (--identity)",
            ctx.inventory_shown()
        );
    }
    if let Some(d) = compared.as_ref().and_then(|s| s.disagreement()) {
        eprintln!("keyward: warning: {}: {d}", ctx.inventory_shown());
    }
    if !listing.sealed_to_others.is_empty() {
        eprintln!(
            "keyward: {} entr{} sealed to recipients none of your identities is (written \
             before you were one): not shown",
            listing.sealed_to_others.len(),
            if listing.sealed_to_others.len() == 1 {
                "y is"
            } else {
                "ies are"
            }
        );
    }
    let client_prefix = args.client.as_ref().map(|c| format!("{c}/"));
    let wanted = args.credential.as_ref().map(ToString::to_string);
    let entries: Vec<_> = listing
        .entries
        .into_iter()
        .filter(|e| {
            client_prefix.as_ref().is_none_or(|p| {
                e.credential
                    .as_ref()
                    .is_some_and(|c| c.starts_with(p.as_str()))
            })
        })
        .filter(|e| {
            wanted
                .as_ref()
                .is_none_or(|w| e.credential.as_ref() == Some(w))
        })
        .collect();
    if ctx.json() {
        super::json::print_value(&entries)?;
        return Ok(0);
    }
    if entries.is_empty() {
        println!("No audit entries match.");
        return Ok(0);
    }
    let body: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.actor.clone(),
                e.action.clone(),
                e.credential.clone().unwrap_or_else(|| "-".into()),
                e.detail.replace('\n', " "),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["TIME (UTC)", "ACTOR", "ACTION", "CREDENTIAL", "DETAIL"],
            &body
        )
    );
    Ok(0)
}

/// What `audit --verify` says of an intact log.
fn verified_words(checked: &Checked, compared: bool) -> String {
    let n = checked.entries;
    let mut words = format!(
        "{n} {}, chain intact",
        if n == 1 { "entry" } else { "entries" }
    );
    if checked.sealed_to_others > 0 {
        words.push_str(&format!(
            "; {} sealed to recipients none of your identities is (chained, content unchecked)",
            checked.sealed_to_others
        ));
    }
    if checked.clear > 0 {
        words.push_str(&format!(
            "; {} written unsealed by an earlier keyward",
            checked.clear
        ));
    }
    if !compared {
        words.push_str(" (the inventory could not be opened to compare it with the log)");
    }
    words
}
