//! What every provider this build speaks can do, from the providers themselves: the table
//! `keyward providers` prints and the README carries (a test checks the two agree), so
//! the documentation cannot promise what the code does not do.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::http::{Http, HttpConfig};
use super::registry::ProviderSet;
use super::{Capabilities, RotationStyle};
use crate::inventory::ProviderKind;

/// How a provider ends a key's life when keyward revokes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revoke {
    /// Deactivated at once (refused, but kept), deleted after the grace period: a mistake
    /// can be undone meanwhile.
    DeactivateThenDelete,
    /// Deleted through the API.
    Delete,
    /// Revoked at the issuer's revocation endpoint (RFC 7009) where it offers one.
    RevocationEndpoint,
    /// A person revokes it where the provider lets them, and confirms.
    ByPerson,
}

impl Revoke {
    /// The words the table shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Revoke::DeactivateThenDelete => "deactivate, then delete",
            Revoke::Delete => "delete",
            Revoke::RevocationEndpoint => "RFC 7009 endpoint",
            Revoke::ByPerson => "by a person",
        }
    }
}

/// One provider's row.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderEntry {
    /// The provider, as `provider:` names it in the inventory.
    pub provider: ProviderKind,
    /// What it can do.
    pub capabilities: Capabilities,
    /// How a revocation ends a key.
    pub revoke: Revoke,
}

/// Every provider this build has, in [`ProviderKind::ALL`]'s order.
pub fn catalog() -> Vec<ProviderEntry> {
    // No call is made: the clients are asked only what they can do. The sandbox's state
    // path is never touched for that.
    let http = Http::new(HttpConfig::default());
    let set = ProviderSet::for_inventory(&http, Path::new("keyward-providers-catalog"));
    ProviderKind::ALL
        .into_iter()
        .filter_map(|kind| set.get(kind))
        .map(|p| ProviderEntry {
            provider: p.kind(),
            capabilities: p.capabilities(),
            revoke: p.revoke(),
        })
        .collect()
}

/// "yes" or "no".
fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The rotation column: how a new key comes about.
fn rotation(style: RotationStyle) -> &'static str {
    match style {
        RotationStyle::CreateThenRevoke => "create a new key, then revoke the old",
        RotationStyle::RollInPlace => "roll in place",
        RotationStyle::Manual => "by a person, guided",
    }
}

/// The table's header cells.
const HEADER: [&str; 7] = [
    "provider",
    "rotation",
    "revoke",
    "verify",
    "expiry",
    "last used",
    "keys per owner",
];

fn cells(e: &ProviderEntry) -> [String; 7] {
    let c = &e.capabilities;
    [
        format!("`{}`", e.provider.as_str()),
        rotation(c.rotation).to_string(),
        e.revoke.as_str().to_string(),
        yes(c.can_verify).to_string(),
        yes(c.reports_expiry).to_string(),
        yes(c.reports_last_used).to_string(),
        c.max_live_keys
            .map_or_else(|| "no limit".to_string(), |n| n.to_string()),
    ]
}

/// The catalog as a Markdown table, as the README carries it.
pub fn markdown(entries: &[ProviderEntry]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for e in entries {
        let _ = writeln!(out, "| {} |", cells(e).join(" | "));
    }
    out
}

/// The catalog as aligned columns for a terminal.
pub fn plain(entries: &[ProviderEntry]) -> String {
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| cells(e).map(|c| c.trim_matches('`').to_string()))
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(&HEADER.map(|h| h.to_uppercase()));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_kind_has_a_row() {
        let entries = catalog();
        let kinds: Vec<ProviderKind> = entries.iter().map(|e| e.provider).collect();
        assert_eq!(kinds, ProviderKind::ALL.to_vec());
    }

    #[test]
    fn the_rows_say_what_the_providers_say() {
        let entries = catalog();
        let row = |k: ProviderKind| entries.iter().find(|e| e.provider == k).unwrap();
        assert_eq!(
            row(ProviderKind::AwsIam).revoke,
            Revoke::DeactivateThenDelete
        );
        assert_eq!(row(ProviderKind::Sendgrid).revoke, Revoke::Delete);
        assert_eq!(row(ProviderKind::Manual).revoke, Revoke::ByPerson);
        assert_eq!(row(ProviderKind::Oauth2).revoke, Revoke::RevocationEndpoint);
        let md = markdown(&entries);
        assert!(md.contains("| `aws-iam` | create a new key, then revoke the old | deactivate, then delete | yes | no | yes | 2 |"), "{md}");
        assert!(plain(&entries).starts_with("PROVIDER"));
    }
}
