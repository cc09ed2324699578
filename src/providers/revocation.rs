//! A revocation is recorded only when the provider confirms it.
//!
//! A provider's answer to a delete ([`Deletion`]) is not always proof: a 404 may mean the key
//! is gone, or that the management credentials may not see it (GitLab answers 404 then, and a
//! proxy that decodes `%2F` in a project path produces 404s too); an RFC 7009 revocation
//! endpoint answers 200 for tokens it never knew. [`revoke`] turns the answer into a
//! [`Revocation`]: a "not found" is confirmed by a listing or read made with the management
//! credentials ([`Provider::find_key`]), and whatever cannot be confirmed is
//! [`Revocation::Unconfirmed`], which callers journal and hand to a person.

use super::{KeySighting, Provider, ProviderError, Target};
use crate::inventory::RemoteStatus;

/// What a provider answered to a delete, before anything confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The provider answered that it deleted or revoked the key.
    Deleted,
    /// The provider's own read, with credentials that see the key, shows it revoked already.
    AlreadyRevoked,
    /// The provider said it does not know the key (HTTP 404, or GitLab's 401 on a token
    /// while the management token works): to be confirmed.
    NotFound {
        /// What the provider said, redacted.
        said: String,
    },
    /// The provider accepted the revocation but answers the same for keys it never knew
    /// (RFC 7009 §2.2), and had no way to confirm it (no introspection endpoint).
    Accepted {
        /// Why this is all that can be said.
        note: String,
    },
}

/// The verdict on a revocation: what the history may say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The provider deleted or revoked the key.
    Revoked,
    /// The provider did not know the key, and a read that would show it confirms it is gone
    /// (or revoked).
    ConfirmedGone {
        /// What confirmed it.
        how: String,
    },
    /// The issuer accepted the revocation, and nothing can tell more: "revoked as far as the
    /// issuer says".
    IssuerSays {
        /// Why nothing more can be said.
        note: String,
    },
    /// Not confirmed: the key may still work. Journaled, retried on `resume`, or confirmed
    /// by a person.
    Unconfirmed {
        /// What was seen, and why it proves nothing.
        reason: String,
    },
}

impl Revocation {
    /// Whether the history may record the key as revoked.
    pub fn is_confirmed(&self) -> bool {
        !matches!(self, Revocation::Unconfirmed { .. })
    }

    /// The verdict's name, as journals and JSON show it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Revocation::Revoked => "revoked",
            Revocation::ConfirmedGone { .. } => "confirmed-gone",
            Revocation::IssuerSays { .. } => "revoked-as-far-as-the-issuer-says",
            Revocation::Unconfirmed { .. } => "unconfirmed",
        }
    }

    /// One sentence about key `id`, for the history and the outcome.
    pub fn describe(&self, id: &str) -> String {
        let key = if id.is_empty() {
            "the key".to_string()
        } else {
            id.to_string()
        };
        match self {
            Revocation::Revoked => format!("{key} revoked"),
            Revocation::ConfirmedGone { how } => format!("{key} was already gone ({how})"),
            Revocation::IssuerSays { note } => {
                format!("{key} revoked as far as the issuer says ({note})")
            }
            Revocation::Unconfirmed { reason } => {
                format!("the revocation of {key} is unconfirmed: {reason}")
            }
        }
    }
}

/// Deletes the key `remote_id` and confirms what the provider answered: a "not found" is
/// checked with [`Provider::find_key`]. Errors are the delete's own; a confirmation that
/// fails makes the revocation [`Revocation::Unconfirmed`], never an error and never a
/// success.
pub async fn revoke(
    provider: &dyn Provider,
    target: &Target,
    remote_id: &str,
) -> Result<Revocation, ProviderError> {
    let deletion = provider.delete(target, remote_id).await?;
    Ok(confirm(provider, target, remote_id, deletion).await)
}

/// The verdict on `deletion`, the provider's answer to deleting `remote_id`.
pub async fn confirm(
    provider: &dyn Provider,
    target: &Target,
    remote_id: &str,
    deletion: Deletion,
) -> Revocation {
    let said = match deletion {
        Deletion::Deleted => return Revocation::Revoked,
        Deletion::AlreadyRevoked => {
            return Revocation::ConfirmedGone {
                how: "the provider reports it revoked".into(),
            }
        }
        Deletion::Accepted { note } => return Revocation::IssuerSays { note },
        Deletion::NotFound { said } => said,
    };
    let not_found = format!("the provider said it does not know it ({said})");
    match provider.find_key(target, remote_id).await {
        Ok(KeySighting::Absent) => Revocation::ConfirmedGone {
            how: "the owner's key listing no longer shows it".into(),
        },
        Ok(KeySighting::Listed(k)) if k.state == RemoteStatus::Revoked => {
            Revocation::ConfirmedGone {
                how: "the provider lists it as revoked".into(),
            }
        }
        Ok(KeySighting::Listed(k)) => Revocation::Unconfirmed {
            reason: format!(
                "{not_found}, yet it still lists it as {}: check it at the provider",
                k.state.as_str()
            ),
        },
        Ok(KeySighting::NotVisible(why)) => Revocation::Unconfirmed {
            reason: format!("{not_found}, and {why}"),
        },
        Err(e) => Revocation::Unconfirmed {
            reason: format!(
                "{not_found}, and listing the owner's keys to confirm it failed ({})",
                target.redact(&e.to_string())
            ),
        },
    }
}
