//! What a connection's management credential can do at the live service, found with
//! read-only calls only (`keyward connections test`): which endpoints it reaches, whether it
//! may create and revoke keys, and what the service says about it (a Twilio key's type, a
//! Cloudflare token's owner, an AWS partition). Meant to be read before a rotation relies on
//! the connection; nothing here creates, changes or deletes anything.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::registry::ProviderSet;
use super::{ProviderError, Target};
use crate::inventory::{Connection, Credential, CredentialRef, Inventory, ProviderKind};

/// What became of one read-only call made with the management credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// The service answered it.
    Allowed,
    /// The service refused the credential for it (401, 403).
    Refused,
    /// No usable answer (network, 5xx, an answer keyward could not read): try again later.
    Failed,
    /// The call was not made (the service cannot be asked this from here).
    NotChecked,
}

impl ProbeOutcome {
    /// The outcome's name, as tables and JSON show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeOutcome::Allowed => "allowed",
            ProbeOutcome::Refused => "refused",
            ProbeOutcome::Failed => "failed",
            ProbeOutcome::NotChecked => "not-checked",
        }
    }

    /// The outcome of a call that ended in `error`.
    pub fn of_error(error: &ProviderError) -> ProbeOutcome {
        match error.status {
            Some(401 | 403) => ProbeOutcome::Refused,
            _ if error.kind == super::ErrorKind::Unauthorized => ProbeOutcome::Refused,
            _ => ProbeOutcome::Failed,
        }
    }
}

/// Whether the credential may do something, as far as read-only calls can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ability {
    /// The service says it may.
    Yes,
    /// The service says it may not.
    No,
    /// Read-only calls cannot tell (or were not made).
    Unknown,
}

impl Ability {
    /// The answer's name, as tables and JSON show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Ability::Yes => "yes",
            Ability::No => "no",
            Ability::Unknown => "unknown",
        }
    }

    /// Yes when `held`, no otherwise.
    pub fn from_bool(held: bool) -> Ability {
        if held {
            Ability::Yes
        } else {
            Ability::No
        }
    }
}

/// One read-only call and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// The call, as `METHOD /path` (no query values, no secret).
    pub call: String,
    /// What became of it.
    pub outcome: ProbeOutcome,
    /// What the service said, briefly and redacted; empty when it simply answered.
    pub detail: String,
}

/// What one connection's management credential can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionReport {
    /// The connection's id.
    pub connection: String,
    /// Its provider.
    pub provider: ProviderKind,
    /// Whether the connection was checked at all (false: this provider has no check yet).
    pub checked: bool,
    /// Every call made, in order.
    pub probes: Vec<Probe>,
    /// Whether it may create keys.
    pub can_create: Ability,
    /// Whether it may revoke (delete) keys.
    pub can_revoke: Ability,
    /// What the service says about the credential (`key type`, `token owner`, `partition`…).
    pub facts: BTreeMap<String, String>,
    /// A note for the reader, e.g. why something could not be checked.
    pub note: Option<String>,
}

impl ConnectionReport {
    /// An empty report for `connection`, to be filled by a provider's check.
    pub fn new(connection: &Connection) -> Self {
        ConnectionReport {
            connection: connection.id.clone(),
            provider: connection.provider,
            checked: true,
            probes: Vec::new(),
            can_create: Ability::Unknown,
            can_revoke: Ability::Unknown,
            facts: BTreeMap::new(),
            note: None,
        }
    }

    /// The honest answer of a provider without a check: nothing was asked.
    pub fn not_checked(connection: &Connection, why: &str) -> Self {
        ConnectionReport {
            checked: false,
            note: Some(why.to_string()),
            ..ConnectionReport::new(connection)
        }
    }

    /// Records a probe that was answered.
    pub fn allowed(&mut self, call: impl Into<String>) {
        self.probes.push(Probe {
            call: call.into(),
            outcome: ProbeOutcome::Allowed,
            detail: String::new(),
        });
    }

    /// Records a probe that ended in `error` (already redacted by the provider).
    pub fn failed(&mut self, call: impl Into<String>, error: &ProviderError) {
        self.probes.push(Probe {
            call: call.into(),
            outcome: ProbeOutcome::of_error(error),
            detail: error.message.clone(),
        });
    }

    /// Records a probe whose only finding is whether the service answered: allowed on
    /// `Ok`, failed with the (already redacted) error otherwise.
    pub fn answered<T>(&mut self, call: impl Into<String>, answer: &Result<T, ProviderError>) {
        match answer {
            Ok(_) => self.allowed(call),
            Err(e) => self.failed(call, e),
        }
    }

    /// Records a fact the service reported.
    pub fn fact(&mut self, name: &str, value: impl Into<String>) {
        self.facts.insert(name.to_string(), value.into());
    }

    /// Whether every probe made was answered.
    pub fn all_allowed(&self) -> bool {
        self.checked
            && self
                .probes
                .iter()
                .all(|p| p.outcome == ProbeOutcome::Allowed)
    }
}

/// A target that stands for the connection itself (no credential), so a provider's usual
/// request code can make the connection's calls; errors name it as `connection/ID`.
pub fn connection_target(connection: &Connection) -> Target {
    let at = CredentialRef {
        client: "connection".to_string(),
        integration: connection.id.clone(),
    };
    let mut credential = Credential::new(connection.id.clone(), connection.provider);
    credential.connection = Some(connection.id.clone());
    Target {
        at,
        credential,
        connection: Some(connection.clone()),
    }
}

/// Checks the connections of `inventory` (only `only` when given), at most `concurrency` at
/// once, with the clients of `providers`; reports in the inventory's order. `None` when
/// `only` names no connection.
pub async fn check_connections(
    inventory: &Inventory,
    providers: &ProviderSet,
    only: Option<&str>,
    concurrency: usize,
) -> Option<Vec<ConnectionReport>> {
    let chosen: Vec<&Connection> = inventory
        .connections
        .iter()
        .filter(|c| only.is_none_or(|id| c.id == id))
        .collect();
    if only.is_some() && chosen.is_empty() {
        return None;
    }
    let reports = stream::iter(chosen.into_iter().map(|c| async move {
        match providers.get(c.provider) {
            Some(p) => p.check_connection(c).await,
            None => ConnectionReport::not_checked(c, "this build has no client for the provider"),
        }
    }))
    .buffered(concurrency.max(1))
    .collect()
    .await;
    Some(reports)
}
