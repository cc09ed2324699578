//! Removing a credential that is gone for good: it leaves the inventory, history and all
//! (the audit log keeps the record). A key still live at the provider is revoked first by
//! the caller, through the same runner as `revoke`; removing one without that is a choice
//! the person states (`keep_remote`), since nothing would remind anyone of the key again.

use chrono::{DateTime, Utc};

use crate::inventory::{Credential, CredentialRef, Inventory};

/// Why a credential cannot be removed (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoveError {
    /// No credential at that address.
    #[error("no credential {0}")]
    Missing(CredentialRef),
    /// A rotation or revocation is journaled in it: its new or old key may exist.
    #[error("{0}: a rotation or revocation is in flight; finish it or roll it back with `keyward resume {0}` first")]
    InFlight(CredentialRef),
    /// Its key is still live at the provider.
    #[error("{0}: its key is live at the provider; revoke it first (`keyward remove` does unless --keep-remote), or pass --keep-remote to leave it there")]
    Live(CredentialRef),
    /// Its key is deactivated, and its planned deletion would be forgotten.
    #[error("{at}: its key is deactivated and deleted after {}; removing it now would leave it at the provider: run `keyward resume` after that date, or pass --keep-remote", .delete_after.format("%Y-%m-%d"))]
    DeletionPending {
        /// The credential.
        at: CredentialRef,
        /// When its deletion is due.
        delete_after: DateTime<Utc>,
    },
}

/// What became of a removed credential's key at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFate {
    /// It was live, and was revoked (deleted) just before the removal.
    RevokedFirst,
    /// keyward had already revoked it.
    AlreadyRevoked,
    /// It was left live at the provider, as the person asked (`--keep-remote`).
    KeptRemote,
}

impl KeyFate {
    /// What became of the key of `c`, removed with `keep_remote`; `revoked_first`: whether
    /// the caller revoked it just before.
    pub fn of(c: &Credential, keep_remote: bool, revoked_first: bool) -> KeyFate {
        if keep_remote && is_live(c) {
            KeyFate::KeptRemote
        } else if revoked_first {
            KeyFate::RevokedFirst
        } else {
            KeyFate::AlreadyRevoked
        }
    }

    /// The word scripts read (`remove --json`'s `key`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFate::RevokedFirst => "revoked-first",
            KeyFate::AlreadyRevoked => "already-revoked",
            KeyFate::KeptRemote => "kept-remote",
        }
    }

    /// The same for a person, as the audit log and the CLI say it.
    pub fn describe(self) -> &'static str {
        match self {
            KeyFate::RevokedFirst => "its key revoked first",
            KeyFate::AlreadyRevoked => "its key already revoked",
            KeyFate::KeptRemote => "its key left live at the provider (--keep-remote)",
        }
    }
}

impl serde::Serialize for KeyFate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_str().serialize(s)
    }
}

/// Whether `c` still has a key at its provider that keyward did not revoke.
pub fn is_live(c: &Credential) -> bool {
    c.retirement().is_none()
}

/// Checks that `at` may leave the inventory now: nothing in flight, and (unless
/// `keep_remote`) no key left live or waiting for its planned deletion.
pub fn check(inv: &Inventory, at: &CredentialRef, keep_remote: bool) -> Result<(), RemoveError> {
    let c = inv
        .credential(at)
        .ok_or_else(|| RemoveError::Missing(at.clone()))?;
    if c.rotation.is_some() {
        return Err(RemoveError::InFlight(at.clone()));
    }
    if keep_remote {
        return Ok(());
    }
    match c.retirement() {
        None => Err(RemoveError::Live(at.clone())),
        Some(r) => match r.delete_after {
            Some(delete_after) => Err(RemoveError::DeletionPending {
                at: at.clone(),
                delete_after,
            }),
            None => Ok(()),
        },
    }
}

/// Removes `refs` from `inv`, all or nothing, after [`check`]ing each; a client left with
/// no credential goes too. Returns the credentials removed.
pub fn remove(
    inv: &mut Inventory,
    refs: &[CredentialRef],
    keep_remote: bool,
) -> Result<Vec<Credential>, RemoveError> {
    for at in refs {
        check(inv, at, keep_remote)?;
    }
    let mut removed = Vec::new();
    for at in refs {
        if let Some(client) = inv.clients.iter_mut().find(|c| c.id == at.client) {
            if let Some(i) = client
                .integrations
                .iter()
                .position(|c| c.id == at.integration)
            {
                removed.push(client.integrations.remove(i));
            }
        }
    }
    inv.clients.retain(|c| !c.integrations.is_empty());
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ProviderKind, RemoteState, RemoteStatus};

    fn at(s: &str) -> CredentialRef {
        s.parse().unwrap()
    }

    #[test]
    fn a_live_key_is_removed_only_when_the_person_says_to_keep_it_remote() {
        let mut inv = Inventory::new(vec![]);
        inv.insert("acme", Credential::new("live", ProviderKind::Sandbox));
        let mut gone = Credential::new("gone", ProviderKind::Sandbox);
        gone.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: Utc::now(),
        });
        inv.insert("acme", gone);
        let e = remove(&mut inv, &[at("acme/gone"), at("acme/live")], false).unwrap_err();
        assert_eq!(e, RemoveError::Live(at("acme/live")));
        assert!(inv.credential(&at("acme/gone")).is_some(), "all or nothing");
        let removed = remove(&mut inv, &[at("acme/gone")], false).unwrap();
        assert_eq!(removed[0].id, "gone");
        assert!(inv.credential(&at("acme/gone")).is_none());
        remove(&mut inv, &[at("acme/live")], true).unwrap();
        assert!(inv.clients.is_empty(), "a client left empty goes too");
        assert_eq!(
            remove(&mut inv, &[at("acme/live")], true).unwrap_err(),
            RemoveError::Missing(at("acme/live"))
        );
    }
}
