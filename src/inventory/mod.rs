//! The inventory model: clients, their integrations and the one credential each holds,
//! the connections keyward uses to reach providers, and the policy that judges them.
//!
//! This module knows nothing of files, crypto, HTTP or terminals. Status is computed from a
//! `now` passed in (see [`status`]), so every judgement is reproducible.

pub mod bounds;
pub mod journal;
pub mod locate;
pub mod merge;
mod pieces;
pub mod status;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

pub use crate::deploy::{Deploy, DeployCheck, Deploys};
pub use status::{Assessment, Reason, Status};
pub use validate::SchemaError;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole inventory: what the encrypted file holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Schema version; a version this build does not know is refused.
    pub version: u32,
    /// Defaults every credential inherits unless it overrides them.
    #[serde(default)]
    pub policy: Policy,
    /// Whom every save encrypts to: `age1…` keys, `ssh-ed25519`/`ssh-rsa` public keys,
    /// `age1plugin…` recipients. Empty for a passphrase-encrypted inventory.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// How keyward itself talks to each provider's management API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<Connection>,
    /// The agency's clients and their integrations.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Where the audit log stood at the newest save, so that a rolled-back inventory, or a
    /// log cut, rewritten or deleted, is noticed. The store writes it on every save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Integrity>,
}

/// The inventory's place in its history, written by every save.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Integrity {
    /// Saves so far: each save writes one more.
    pub generation: u64,
    /// The sequence number of the newest audit entry when it was saved (0: none).
    pub audit_seq: u64,
    /// The SHA-256 of that entry's line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audit_head: String,
    /// A passphrase-encrypted inventory has no recipients to seal its audit entries to:
    /// they are sealed to this age key (`AGE-SECRET-KEY-…`), kept only in here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<crate::secret::Secret>,
}

/// Rotation and staleness rules.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A credential is due for rotation this many days after it was last rotated (or created).
    #[serde(default = "Policy::default_rotate_every_days")]
    pub rotate_every_days: u32,
    /// "Due soon" starts this many days before expiry or the rotation date.
    #[serde(default = "Policy::default_warn_before_days")]
    pub warn_before_days: u32,
    /// A credential unused for this many days is stale.
    #[serde(default = "Policy::default_stale_after_days")]
    pub stale_after_days: u32,
}

impl Policy {
    fn default_rotate_every_days() -> u32 {
        90
    }
    fn default_warn_before_days() -> u32 {
        14
    }
    fn default_stale_after_days() -> u32 {
        60
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rotate_every_days: Self::default_rotate_every_days(),
            warn_before_days: Self::default_warn_before_days(),
            stale_after_days: Self::default_stale_after_days(),
        }
    }
}

/// The provider behind a credential or a connection.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// AWS IAM access keys.
    AwsIam,
    /// Cloudflare user API tokens.
    Cloudflare,
    /// GitLab personal, project and group access tokens.
    Gitlab,
    /// OpenAI project and service-account keys.
    Openai,
    /// Twilio API keys.
    Twilio,
    /// SendGrid API keys.
    Sendgrid,
    /// Datadog API keys and application keys.
    Datadog,
    /// Okta OAuth 2.0 client secrets of an app.
    Okta,
    /// Any standard OAuth 2.0 authorization server.
    Oauth2,
    /// No usable API: keyward tracks it and guides a person through rotation.
    Manual,
    /// keyward's in-process provider, for the demo, tests and benchmarks.
    Sandbox,
}

impl ProviderKind {
    /// Every kind, in display order.
    pub const ALL: [ProviderKind; 11] = [
        ProviderKind::AwsIam,
        ProviderKind::Cloudflare,
        ProviderKind::Gitlab,
        ProviderKind::Openai,
        ProviderKind::Twilio,
        ProviderKind::Sendgrid,
        ProviderKind::Datadog,
        ProviderKind::Okta,
        ProviderKind::Oauth2,
        ProviderKind::Manual,
        ProviderKind::Sandbox,
    ];

    /// Whether the provider has an API keyward can ask about a key (sync, verify): every
    /// kind but `manual`, which a person rotates by hand.
    pub fn has_api(self) -> bool {
        self != ProviderKind::Manual
    }

    /// The name used in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::AwsIam => "aws-iam",
            ProviderKind::Cloudflare => "cloudflare",
            ProviderKind::Gitlab => "gitlab",
            ProviderKind::Openai => "openai",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Sendgrid => "sendgrid",
            ProviderKind::Datadog => "datadog",
            ProviderKind::Okta => "okta",
            ProviderKind::Oauth2 => "oauth2",
            ProviderKind::Manual => "manual",
            ProviderKind::Sandbox => "sandbox",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown provider `{s}`, expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// How keyward reaches one provider account's management API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// Referenced by credentials as `connection: ID`.
    pub id: String,
    /// Which provider this talks to.
    pub provider: ProviderKind,
    /// The API base URL; defaults to the provider's public one. Plain HTTP only on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The management credentials, all treated as secrets (e.g. `secret_access_key`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auth: BTreeMap<String, Secret>,
    /// Non-secret settings the provider needs (e.g. `region`, `account_sid`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// One of the agency's clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Short id used in addresses (`acme/crm-sync`).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The integrations wired for this client, one credential each.
    #[serde(default)]
    pub integrations: Vec<Credential>,
}

/// An integration and the one credential it holds. Listed under `integrations:` in the file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Short id, unique within the client.
    pub id: String,
    /// What this integration is, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Which provider issued the credential.
    pub provider: ProviderKind,
    /// The connection keyward uses to manage it; none for `manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The provider's id for the key (an AWS access key id, a token id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// Provider-specific parameters (e.g. the IAM `user`, a GitLab `project_id`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// What the credential may do, as the provider names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Who answers for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Where the secret is used: the consumers a rotation must update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
    /// When the provider issued it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "date_or_time"
    )]
    pub created_at: Option<DateTime<Utc>>,
    /// When the provider will stop accepting it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "date_or_time"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used, as the provider reports.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "date_or_time"
    )]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When keyward (or a person) last rotated it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "date_or_time"
    )]
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// Overrides `policy.rotate_every_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every_days: Option<u32>,
    /// Overrides `policy.warn_before_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_before_days: Option<u32>,
    /// Overrides `policy.stale_after_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after_days: Option<u32>,
    /// Where a rotated secret goes: one target or a list, delivered in order.
    #[serde(default, skip_serializing_if = "Deploys::is_empty")]
    pub deploy: Deploys,
    /// What must pass after the deploys before the old key is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_check: Option<DeployCheck>,
    /// The secret itself. Never printed, never exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// What the provider last said about the key, set by `sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteState>,
    /// Risks a provider or a person flagged (e.g. "scope `admin` broader than needed").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Present only while a rotation is in flight: its journal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<journal::Rotation>,
    /// Old keys deactivated by keyward, to delete once their grace period is over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_revocations: Vec<journal::PendingRevocation>,
    /// Rotations, revocations and other events, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Revoked and moved out of the active table (`keyward archive`); kept for its history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
}

impl Credential {
    /// A credential with only the required fields set.
    pub fn new(id: impl Into<String>, provider: ProviderKind) -> Self {
        Credential {
            id: id.into(),
            name: String::new(),
            provider,
            connection: None,
            remote_id: None,
            params: BTreeMap::new(),
            scopes: Vec::new(),
            owner: None,
            used_by: Vec::new(),
            created_at: None,
            expires_at: None,
            last_used_at: None,
            last_rotated_at: None,
            rotate_every_days: None,
            warn_before_days: None,
            stale_after_days: None,
            deploy: Deploys::default(),
            deploy_check: None,
            secret: None,
            remote: None,
            risks: Vec::new(),
            notes: None,
            rotation: None,
            pending_revocations: Vec::new(),
            history: Vec::new(),
            archived: false,
        }
    }

    /// Whether, and since when, this credential is out of service because keyward revoked
    /// it: its own key deleted at the provider, or deactivated with its deletion pending.
    /// A retired credential is never due, overdue or stale, and no filter picks it for work.
    pub fn retirement(&self) -> Option<Retirement> {
        if self.rotation.is_some() {
            // A revocation (or anything else) still in flight: not settled yet.
            return None;
        }
        let since = self
            .history
            .iter()
            .rev()
            .find(|h| h.event.is_revocation())
            .map(|h| h.at);
        if self.remote.as_ref().map(|r| r.state) == Some(RemoteStatus::Revoked) {
            return Some(Retirement {
                since,
                delete_after: None,
            });
        }
        let own = self.remote_id.as_deref()?;
        self.pending_revocations
            .iter()
            .find(|p| p.remote_id == own)
            .map(|p| Retirement {
                since: since.or(Some(p.deactivated_at)),
                delete_after: Some(p.delete_after),
            })
    }

    /// The policy in force for this credential: the global one with its overrides.
    pub fn effective_policy(&self, global: &Policy) -> Policy {
        Policy {
            rotate_every_days: self.rotate_every_days.unwrap_or(global.rotate_every_days),
            warn_before_days: self.warn_before_days.unwrap_or(global.warn_before_days),
            stale_after_days: self.stale_after_days.unwrap_or(global.stale_after_days),
        }
    }
}

/// A credential keyward revoked: see [`Credential::retirement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retirement {
    /// When it was revoked, where the history says.
    pub since: Option<DateTime<Utc>>,
    /// While a planned revocation waits out its grace period: when the deactivated key
    /// will be deleted.
    pub delete_after: Option<DateTime<Utc>>,
}

/// What the provider last reported about a credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RemoteState {
    /// Active, inactive, missing (the provider no longer knows it) or revoked.
    pub state: RemoteStatus,
    /// When keyward asked.
    pub checked_at: DateTime<Utc>,
}

/// A credential's state at the provider.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteStatus {
    /// The provider accepts it.
    Active,
    /// Deactivated but not deleted.
    Inactive,
    /// The provider no longer knows this key: flagged, never deleted from the inventory.
    Missing,
    /// Revoked by keyward.
    Revoked,
}

impl RemoteStatus {
    /// The word shown in tables, reports and history.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteStatus::Active => "active",
            RemoteStatus::Inactive => "inactive",
            RemoteStatus::Missing => "missing",
            RemoteStatus::Revoked => "revoked",
        }
    }
}

impl fmt::Display for RemoteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a credential: the vocabulary of its history. Reports count these, so
/// the engine, the importers and the reports share this one list.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryEvent {
    /// Recorded with `add`.
    Added,
    /// Recorded by `import`.
    Imported,
    /// Found at the provider by `discover` and recorded without its secret (`adopt`).
    Adopted,
    /// An OAuth grant was connected (`connect`).
    Connected,
    /// Sync found something new at the provider.
    Synced,
    /// A rotation finished: a new key replaced the old one.
    Rotated,
    /// A rotation failed and was abandoned; nothing changed.
    RotationFailed,
    /// An interrupted rotation was undone.
    RotationRolledBack,
    /// Revoked: the key was deleted at the provider (planned, or where it cannot be
    /// deactivated).
    Revoked,
    /// Revoked in an emergency: deleted at once.
    EmergencyRevoked,
    /// Revoked, planned: deactivated now, deleted after the grace period.
    Deactivated,
    /// An old key's grace period ended and it was deleted.
    DeletedOldKey,
    /// Moved out of the active table; its history is kept.
    Archived,
}

impl HistoryEvent {
    /// The word written in the file and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryEvent::Added => "added",
            HistoryEvent::Imported => "imported",
            HistoryEvent::Adopted => "adopted",
            HistoryEvent::Connected => "connected",
            HistoryEvent::Synced => "synced",
            HistoryEvent::Rotated => "rotated",
            HistoryEvent::RotationFailed => "rotation-failed",
            HistoryEvent::RotationRolledBack => "rotation-rolled-back",
            HistoryEvent::Revoked => "revoked",
            HistoryEvent::EmergencyRevoked => "emergency-revoked",
            HistoryEvent::Deactivated => "deactivated",
            HistoryEvent::DeletedOldKey => "deleted-old-key",
            HistoryEvent::Archived => "archived",
        }
    }

    /// Whether this event took the credential's own key out of service (a revocation,
    /// planned or not), as reports count them.
    pub fn is_revocation(self) -> bool {
        matches!(
            self,
            HistoryEvent::Revoked | HistoryEvent::EmergencyRevoked | HistoryEvent::Deactivated
        )
    }
}

impl fmt::Display for HistoryEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event in a credential's life.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub event: HistoryEvent,
    /// Details, never a secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Parses RFC 3339 or a plain `YYYY-MM-DD` (midnight UTC), as people write dates in files
/// and on the command line.
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| "not a date: use YYYY-MM-DD or RFC 3339".to_string())
}

/// Reads an optional date written as RFC 3339 or `YYYY-MM-DD`.
/// The error is raised inside the scalar's visitor, so the parser reports the field's own
/// key path and line.
fn date_or_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct Day;
    impl serde::de::Visitor<'_> for Day {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date (YYYY-MM-DD or RFC 3339)")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_date(v).map_err(E::custom)
        }
    }
    struct MaybeDay;
    impl<'de> serde::de::Visitor<'de> for MaybeDay {
        type Value = Option<DateTime<Utc>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date (YYYY-MM-DD or RFC 3339)")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(Day).map(Some)
        }
    }
    d.deserialize_option(MaybeDay)
}

/// A credential's address on the command line: `CLIENT/INTEGRATION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialRef {
    /// The client's id.
    pub client: String,
    /// The integration's id within that client.
    pub integration: String,
}

impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.client, self.integration)
    }
}

impl CredentialRef {
    /// The address of `integration` in `client`, both checked with the one id rule
    /// ([`validate::check_id`]); the error names which part is wrong, never its text.
    pub fn new(client: &str, integration: &str) -> Result<Self, String> {
        validate::check_id(client).map_err(|why| format!("client {why}"))?;
        validate::check_id(integration).map_err(|why| format!("integration {why}"))?;
        Ok(CredentialRef {
            client: client.to_string(),
            integration: integration.to_string(),
        })
    }
}

impl FromStr for CredentialRef {
    type Err = String;
    /// Parses `CLIENT/INTEGRATION`; both ids must pass the id rule, so an address cannot
    /// carry a control character or whitespace into a table, a file or the terminal.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown = crate::text::terminal_safe(s);
        match s.split_once('/') {
            Some((c, i)) if !c.is_empty() && !i.is_empty() && !i.contains('/') => {
                CredentialRef::new(c, i).map_err(|why| format!("`{shown}`: {why}"))
            }
            _ => Err(format!("`{shown}` is not CLIENT/INTEGRATION")),
        }
    }
}

impl Inventory {
    /// An empty inventory that encrypts to `recipients`.
    pub fn new(recipients: Vec<String>) -> Self {
        Inventory {
            version: SCHEMA_VERSION,
            policy: Policy::default(),
            recipients,
            connections: Vec::new(),
            clients: Vec::new(),
            integrity: None,
        }
    }

    /// Every credential with its address, in file order.
    pub fn credentials(&self) -> impl Iterator<Item = (CredentialRef, &Client, &Credential)> {
        self.clients.iter().flat_map(|c| {
            c.integrations.iter().map(move |i| {
                (
                    CredentialRef {
                        client: c.id.clone(),
                        integration: i.id.clone(),
                    },
                    c,
                    i,
                )
            })
        })
    }

    /// Number of credentials.
    pub fn credential_count(&self) -> usize {
        self.clients.iter().map(|c| c.integrations.len()).sum()
    }

    /// The client with this id.
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The credential at `at`.
    pub fn credential(&self, at: &CredentialRef) -> Option<&Credential> {
        self.client(&at.client)?
            .integrations
            .iter()
            .find(|i| i.id == at.integration)
    }

    /// The credential at `at`, for changing it.
    pub fn credential_mut(&mut self, at: &CredentialRef) -> Option<&mut Credential> {
        self.clients
            .iter_mut()
            .find(|c| c.id == at.client)?
            .integrations
            .iter_mut()
            .find(|i| i.id == at.integration)
    }

    /// The connection with this id.
    pub fn connection(&self, id: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.id == id)
    }

    /// Adds `credential` under client `client_id`, creating the client if needed.
    /// Returns false (and changes nothing) when that address is already taken.
    pub fn insert(&mut self, client_id: &str, credential: Credential) -> bool {
        let idx = match self.clients.iter().position(|c| c.id == client_id) {
            Some(i) => i,
            None => {
                self.clients.push(Client {
                    id: client_id.to_string(),
                    name: String::new(),
                    integrations: Vec::new(),
                });
                self.clients.len() - 1
            }
        };
        let client = &mut self.clients[idx];
        if client.integrations.iter().any(|i| i.id == credential.id) {
            return false;
        }
        client.integrations.push(credential);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ref_parses_client_slash_integration() {
        let r: CredentialRef = "acme/crm-sync".parse().unwrap();
        assert_eq!(r.client, "acme");
        assert_eq!(r.integration, "crm-sync");
        assert_eq!(r.to_string(), "acme/crm-sync");
        assert!("acme".parse::<CredentialRef>().is_err());
        assert!("acme/".parse::<CredentialRef>().is_err());
        assert!("a/b/c".parse::<CredentialRef>().is_err());
        assert!("a b/c".parse::<CredentialRef>().is_err());
        assert!("a/b\x1b[2J".parse::<CredentialRef>().is_err());
    }

    #[test]
    fn provider_kind_round_trips_its_name() {
        for k in ProviderKind::ALL {
            assert_eq!(k.as_str().parse::<ProviderKind>().unwrap(), k);
        }
        assert!("hubspot"
            .parse::<ProviderKind>()
            .unwrap_err()
            .contains("aws-iam"));
    }

    #[test]
    fn insert_refuses_a_taken_address() {
        let mut inv = Inventory::new(vec![]);
        assert!(inv.insert("acme", Credential::new("crm", ProviderKind::Manual)));
        assert!(!inv.insert("acme", Credential::new("crm", ProviderKind::Sandbox)));
        assert_eq!(inv.credential_count(), 1);
    }
}
