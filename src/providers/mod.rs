//! One async trait for every provider's key lifecycle, and the types it speaks.
//!
//! A provider module turns [`Target`]s into calls on its management API and answers in
//! [`RemoteKey`], [`IssuedKey`] and [`Verification`]. It never touches the inventory file
//! or the terminal: callers (sync, verify, rotation) decide what to store and show.

pub mod aws;
pub mod catalog;
pub mod cloudflare;
pub mod connection_check;
pub mod datadog;
pub mod error;
pub mod found;
pub mod gitlab;
pub mod http;
pub mod manual;
pub mod oauth2;
pub mod okta;
pub mod openai;
pub mod pacing;
pub mod registry;
pub mod revocation;
mod saas;
pub mod sandbox;
pub mod sendgrid;
pub mod twilio;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::{
    Connection, Credential, CredentialRef, Inventory, ProviderKind, RemoteStatus,
};
use crate::secret::Secret;

pub use error::{ErrorKind, ProviderError};
pub use found::FoundKey;
pub use revocation::{Deletion, Revocation};

/// How a provider replaces a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationStyle {
    /// A new key is created beside the old one; the old one is revoked after the new one
    /// is deployed and verified. Consumers never see a gap.
    CreateThenRevoke,
    /// The provider replaces the value in place: the old value dies at once.
    RollInPlace,
    /// No API: a person rotates it where the provider lets them, keyward guides and records.
    Manual,
}

impl RotationStyle {
    /// The style's name, as plans show it.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStyle::CreateThenRevoke => "create-then-revoke",
            RotationStyle::RollInPlace => "roll-in-place",
            RotationStyle::Manual => "manual",
        }
    }
}

/// What a roll in place does to the value it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OldAfterRoll {
    /// It stops working at once.
    Invalidated,
    /// It keeps working for up to this many seconds, then stops.
    GracePeriod {
        /// The longest grace period the provider allows.
        seconds: u32,
    },
    /// It keeps working until it expires: only an explicit revocation ends it.
    Untouched,
    /// Nothing is replaced: the same value stays in use.
    NotRotated,
    /// The provider does not say: checked after the roll, and revoked if still alive.
    Unknown,
}

impl OldAfterRoll {
    /// The behaviour's name, as plans and JSON show it.
    pub fn as_str(self) -> &'static str {
        match self {
            OldAfterRoll::Invalidated => "invalidated",
            OldAfterRoll::GracePeriod { .. } => "grace-period",
            OldAfterRoll::Untouched => "untouched",
            OldAfterRoll::NotRotated => "not-rotated",
            OldAfterRoll::Unknown => "unknown",
        }
    }

    /// What it means for the old value, in words.
    pub fn describe(self) -> String {
        match self {
            OldAfterRoll::Invalidated => "the old value stops working at once".into(),
            OldAfterRoll::GracePeriod { seconds } => {
                format!("the old value keeps working for up to {seconds} seconds, then stops")
            }
            OldAfterRoll::Untouched => {
                "the old value keeps working until it expires, unless it is revoked".into()
            }
            OldAfterRoll::NotRotated => "the same value stays in use (nothing is replaced)".into(),
            OldAfterRoll::Unknown => {
                "the provider does not say whether the old value stops working: keyward checks \
                 after the roll and revokes it if it can"
                    .into()
            }
        }
    }
}

/// What a roll in place does to the old value, and who says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollAftermath {
    /// What becomes of the old value.
    pub old: OldAfterRoll,
    /// Where that is documented or learned (an issuer's documentation, discovery), if
    /// anywhere.
    pub source: Option<String>,
    /// Whether the provider can revoke the old value explicitly.
    pub can_revoke: bool,
    /// Whether the provider can tell whether a value is alive without using it.
    pub can_inspect: bool,
}

impl RollAftermath {
    /// The plan's sentence about it.
    pub fn describe(&self) -> String {
        let mut s = format!("rolls in place: {}", self.old.describe());
        if self.old == OldAfterRoll::Invalidated {
            s.push_str(", so its consumers fail until the new one is deployed");
        }
        if matches!(self.old, OldAfterRoll::Untouched | OldAfterRoll::Unknown) {
            s.push_str(if self.can_revoke {
                "; keyward revokes it explicitly after the new one is verified"
            } else {
                "; the provider offers no way to revoke it"
            });
        }
        if let Some(src) = &self.source {
            s.push_str(&format!(" (per {src})"));
        }
        s
    }
}

/// What a provider can do, so the planner can say what a rotation will involve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// How a key is replaced.
    pub rotation: RotationStyle,
    /// Whether a key can be deactivated (kept, but refused) before it is deleted.
    pub can_deactivate: bool,
    /// Whether the API reports an expiry date.
    pub reports_expiry: bool,
    /// Whether the API reports when a key was last used.
    pub reports_last_used: bool,
    /// How many live keys one owner may have at once, where the provider caps it.
    pub max_live_keys: Option<u32>,
    /// Whether a secret can be checked with a read-only call.
    pub can_verify: bool,
}

/// What a provider operates on: one credential with the connection that manages it.
/// Owned, so it can move into spawned tasks.
#[derive(Debug, Clone)]
pub struct Target {
    /// The credential's address, for error messages.
    pub at: CredentialRef,
    /// The credential as the inventory holds it (remote id, params, scopes, secret).
    pub credential: Credential,
    /// The connection named by the credential, if any.
    pub connection: Option<Connection>,
}

impl Target {
    /// `text` with every secret this target holds (the credential's and its connection's)
    /// masked, whatever a provider put in it: errors pass through here before anyone sees
    /// them.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(s) = &self.credential.secret {
            out = s.redact(&out);
        }
        if let Some(c) = &self.connection {
            for s in c.auth.values() {
                out = s.redact(&out);
            }
        }
        out
    }

    /// The target for the credential at `at`, with its connection looked up and the global
    /// policy resolved into the credential's own `rotate_every_days`, `warn_before_days` and
    /// `stale_after_days`, so a provider sees the period in force without the inventory.
    pub fn from_inventory(inv: &Inventory, at: &CredentialRef) -> Option<Target> {
        let mut credential = inv.credential(at)?.clone();
        let policy = credential.effective_policy(&inv.policy);
        credential.rotate_every_days = Some(policy.rotate_every_days);
        credential.warn_before_days = Some(policy.warn_before_days);
        credential.stale_after_days = Some(policy.stale_after_days);
        let connection = credential
            .connection
            .as_deref()
            .and_then(|id| inv.connection(id))
            .cloned();
        Some(Target {
            at: at.clone(),
            credential,
            connection,
        })
    }

    /// A required non-secret parameter, looked up on the credential, then the connection.
    pub fn param(&self, name: &str) -> Result<&str, ProviderError> {
        self.credential
            .params
            .get(name)
            .or_else(|| self.connection.as_ref().and_then(|c| c.params.get(name)))
            .map(String::as_str)
            .ok_or_else(|| {
                ProviderError::config(
                    self.credential.provider,
                    Some(&self.at),
                    format!("needs `params.{name}` on the credential or its connection"),
                )
            })
    }

    /// The provider's id for the key, which every call about an existing key needs;
    /// `what` says what that id is at this provider (e.g. "the GitLab token id").
    pub fn remote_id(&self, what: &str) -> Result<&str, ProviderError> {
        self.credential.remote_id.as_deref().ok_or_else(|| {
            ProviderError::config(
                self.credential.provider,
                Some(&self.at),
                format!("needs `remote_id`: {what}"),
            )
        })
    }

    /// A required management secret from the connection's `auth` map.
    pub fn auth(&self, name: &str) -> Result<&Secret, ProviderError> {
        let conn = self.connection.as_ref().ok_or_else(|| {
            ProviderError::config(
                self.credential.provider,
                Some(&self.at),
                "needs a `connection` to reach the provider's API",
            )
        })?;
        conn.auth.get(name).ok_or_else(|| {
            ProviderError::config(
                self.credential.provider,
                Some(&self.at),
                format!("connection `{}` needs `auth.{name}`", conn.id),
            )
        })
    }

    /// The connection's endpoint, or the provider's public default.
    pub fn endpoint_or(&self, default: &str) -> String {
        self.connection
            .as_ref()
            .and_then(|c| c.endpoint.clone())
            .unwrap_or_else(|| default.to_string())
    }
}

/// A key as the provider describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteKey {
    /// The provider's id for the key.
    pub remote_id: String,
    /// Active or inactive.
    pub state: RemoteStatus,
    /// A display name the provider holds, if any.
    pub name: Option<String>,
    /// When it was issued.
    pub created_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Its permissions, in the provider's words.
    pub scopes: Vec<String>,
    /// Risks the provider's answer shows (e.g. an admin scope).
    pub risks: Vec<String>,
}

impl RemoteKey {
    /// A key with only its id and state known.
    pub fn new(remote_id: impl Into<String>, state: RemoteStatus) -> Self {
        RemoteKey {
            remote_id: remote_id.into(),
            state,
            name: None,
            created_at: None,
            expires_at: None,
            last_used_at: None,
            scopes: Vec::new(),
            risks: Vec::new(),
        }
    }
}

/// A key the provider just issued. The secret is shown once; the caller stores it at once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The provider's id for the new key.
    pub remote_id: String,
    /// The new secret value.
    pub secret: Secret,
    /// When it was issued.
    pub created_at: Option<DateTime<Utc>>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its permissions.
    pub scopes: Vec<String>,
    /// Non-secret values to record on the credential (merged into its `params`).
    pub params: BTreeMap<String, String>,
}

/// The four honest answers to "does this secret work?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verification {
    /// The provider accepted it.
    Valid,
    /// The provider refused it.
    Invalid {
        /// What the provider said.
        reason: String,
    },
    /// Could not ask now (network, rate limit): try again later.
    CouldNotCheck {
        /// Why.
        reason: String,
    },
    /// The provider offers no way to check.
    CannotCheck {
        /// Why.
        reason: String,
    },
}

impl Verification {
    /// The same verdict with every secret `target` holds masked in its reason.
    pub fn redacted(self, target: &Target) -> Verification {
        match self {
            Verification::Valid => Verification::Valid,
            Verification::Invalid { reason } => Verification::Invalid {
                reason: target.redact(&reason),
            },
            Verification::CouldNotCheck { reason } => Verification::CouldNotCheck {
                reason: target.redact(&reason),
            },
            Verification::CannotCheck { reason } => Verification::CannotCheck {
                reason: target.redact(&reason),
            },
        }
    }

    /// The one-word label used in tables and JSON.
    pub fn label(&self) -> &'static str {
        match self {
            Verification::Valid => "valid",
            Verification::Invalid { .. } => "invalid",
            Verification::CouldNotCheck { .. } => "could-not-check",
            Verification::CannotCheck { .. } => "cannot-check",
        }
    }
}

/// A key the provider manages, seen from keyward: the whole lifecycle behind one trait.
///
/// Methods a provider does not support return [`ErrorKind::Unsupported`]; its
/// [`Capabilities`] say so up front, so callers plan around them.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// How a revocation ends a key: by default deactivation then deletion where the
    /// provider can deactivate, by a person for manual rotation, else deletion.
    fn revoke(&self) -> catalog::Revoke {
        let c = self.capabilities();
        if c.rotation == RotationStyle::Manual {
            catalog::Revoke::ByPerson
        } else if c.can_deactivate {
            catalog::Revoke::DeactivateThenDelete
        } else {
            catalog::Revoke::Delete
        }
    }

    /// What it can do for this credential, where that depends on the credential (an OAuth
    /// refresh token rolls in place, an OAuth client secret is rotated by hand). Planners
    /// call this one.
    fn capabilities_for(&self, target: &Target) -> Capabilities {
        let _ = target;
        self.capabilities()
    }

    /// Why `target`'s key cannot be rotated through the API although the provider has one
    /// (a key kind the API cannot issue): plans then show a manual rotation from the start
    /// with this reason, and the run goes the same way. `None`: [`Provider::capabilities_for`]
    /// decides.
    fn manual_because(&self, target: &Target) -> Option<String> {
        let _ = target;
        None
    }

    /// The key `target` points at, as the provider sees it now; `None` when the provider
    /// no longer knows it.
    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError>;

    /// Every key of the same owner (an IAM user's keys, a project's keys): used to check
    /// key limits before a rotation and to find keys keyward created but did not record.
    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError>;

    /// Issues a new key beside the old one (create-then-revoke providers).
    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        Err(ProviderError::unsupported(
            self.kind(),
            Some(&target.at),
            "create a key",
        ))
    }

    /// Replaces the key's value in place (roll-in-place providers): the old value dies.
    async fn roll(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        Err(ProviderError::unsupported(
            self.kind(),
            Some(&target.at),
            "roll a key",
        ))
    }

    /// How long a key this provider just issued may take to start working: within that
    /// window a refusal of the new key means "not yet" and the rotation checks again
    /// ([`pacing::propagation_window`] lets a connection override it). Zero, the default:
    /// a new key works as soon as the API returns it, as most SaaS APIs behave.
    fn propagation(&self, target: &Target) -> std::time::Duration {
        let _ = target;
        std::time::Duration::ZERO
    }

    /// How many rotations at once one connection of this provider takes when nobody says
    /// otherwise, sized from the provider's documented rate limit ([`pacing::lane_size`]
    /// lets a connection or the person override it). The default suits an API that
    /// documents no limit.
    fn lane_size(&self) -> usize {
        pacing::UNDOCUMENTED_LANE
    }

    /// Checks `secret` (the key `remote_id`) with a read-only call made with it.
    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification;

    /// Stops the key `remote_id` working without deleting it, where the provider allows.
    async fn deactivate(&self, target: &Target, remote_id: &str) -> Result<(), ProviderError> {
        let _ = remote_id;
        Err(ProviderError::unsupported(
            self.kind(),
            Some(&target.at),
            "deactivate a key",
        ))
    }

    /// What a roll in place does to the old value of this credential. The default: it stops
    /// working at once (GitLab, the sandbox).
    async fn roll_aftermath(&self, target: &Target) -> RollAftermath {
        let _ = target;
        RollAftermath {
            old: OldAfterRoll::Invalidated,
            source: None,
            can_revoke: false,
            can_inspect: false,
        }
    }

    /// Ends the value `old_remote_id` a roll replaced by `new_secret`, where it outlives the
    /// roll ([`OldAfterRoll::Untouched`] or [`OldAfterRoll::Unknown`]): `Ok(None)` when the
    /// provider offers no way, so the old value lives until it expires.
    async fn retire_rolled(
        &self,
        target: &Target,
        old_remote_id: &str,
        new_secret: &Secret,
    ) -> Result<Option<Revocation>, ProviderError> {
        let _ = (target, old_remote_id, new_secret);
        Ok(None)
    }

    /// Deletes (revokes) the key `remote_id`, saying what the provider answered. A provider
    /// that says it does not know the key answers [`Deletion::NotFound`], which proves
    /// nothing by itself (the management credentials may not see the key):
    /// [`revocation::revoke`] confirms it with [`Provider::find_key`].
    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError>;

    /// The key `remote_id` as a listing made with the management credentials shows it, or
    /// `None` when the listing does not: the evidence that confirms a revocation the delete
    /// could not prove. The default reads the owner's listing ([`Provider::list`]), for
    /// providers that delete keys outright, so that a key absent from a listing that
    /// succeeds is gone.
    async fn find_key(
        &self,
        target: &Target,
        remote_id: &str,
    ) -> Result<KeySighting, ProviderError> {
        let keys = self.list(target).await?;
        Ok(match keys.into_iter().find(|k| k.remote_id == remote_id) {
            Some(k) => KeySighting::Listed(k),
            None => KeySighting::Absent,
        })
    }

    /// Every key `connection`'s management credential can see at the provider, whoever
    /// made it (`keyward discover`): bounded paging, every call through the shared HTTP
    /// client (429 and 5xx retried there). The default: this provider cannot list them.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let at = connection_check::connection_target(connection).at;
        Err(ProviderError::unsupported(
            self.kind(),
            Some(&at),
            "list every key the connection can see",
        ))
    }

    /// What `connection`'s management credential can do at the live service, found with
    /// read-only calls only (`keyward connections test`). The default asks nothing and says
    /// so.
    async fn check_connection(
        &self,
        connection: &Connection,
    ) -> connection_check::ConnectionReport {
        connection_check::ConnectionReport::not_checked(
            connection,
            "keyward has no read-only check for this provider's connections yet",
        )
    }
}

/// What a read made to confirm a revocation saw of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySighting {
    /// Listed, in the state it has.
    Listed(RemoteKey),
    /// Not in a listing that would show it: gone.
    Absent,
    /// Not shown, but the read cannot tell gone from hidden (why, for the person).
    NotVisible(String),
}

/// A provider shared between tasks.
pub type SharedProvider = Arc<dyn Provider>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Connection, Policy};

    #[test]
    fn from_inventory_resolves_connection_and_policy() {
        let mut inv = Inventory::new(vec![]);
        inv.policy = Policy {
            rotate_every_days: 45,
            ..Policy::default()
        };
        inv.connections.push(Connection {
            id: "sbx".into(),
            provider: ProviderKind::Sandbox,
            endpoint: None,
            auth: Default::default(),
            params: Default::default(),
        });
        let mut c = Credential::new("k", ProviderKind::Sandbox);
        c.connection = Some("sbx".into());
        c.stale_after_days = Some(5);
        inv.insert("acme", c);
        let at: CredentialRef = "acme/k".parse().unwrap();
        let t = Target::from_inventory(&inv, &at).unwrap();
        assert_eq!(t.credential.rotate_every_days, Some(45));
        assert_eq!(t.credential.stale_after_days, Some(5));
        assert_eq!(t.connection.unwrap().id, "sbx");
        assert!(Target::from_inventory(&inv, &"acme/none".parse().unwrap()).is_none());
    }
}
