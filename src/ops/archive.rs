//! Archiving: a revoked credential leaves the active table (list, dashboard, reports) but
//! keeps its history in the inventory.

use chrono::{DateTime, Utc};

use crate::inventory::{CredentialRef, HistoryEntry, HistoryEvent, Inventory};

/// Why a credential cannot be archived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// No credential at that address.
    #[error("no credential {0}")]
    Missing(CredentialRef),
    /// Still in service: revoke it first.
    #[error("{0}: not revoked; revoke it first (`keyward revoke {0}`)")]
    NotRevoked(CredentialRef),
}

/// Marks `refs` archived at `now`, each with a history entry. All or nothing: if one cannot
/// be archived, nothing changes. Already archived ones are left as they are. Returns those
/// archived now.
pub fn archive(
    inv: &mut Inventory,
    refs: &[CredentialRef],
    now: DateTime<Utc>,
) -> Result<Vec<CredentialRef>, ArchiveError> {
    for at in refs {
        let c = inv
            .credential(at)
            .ok_or_else(|| ArchiveError::Missing(at.clone()))?;
        if c.retirement().is_none() {
            return Err(ArchiveError::NotRevoked(at.clone()));
        }
    }
    let mut done = Vec::new();
    for at in refs {
        if let Some(c) = inv.credential_mut(at).filter(|c| !c.archived) {
            c.archived = true;
            c.history.push(HistoryEntry {
                at: now,
                event: HistoryEvent::Archived,
                detail: "moved out of the active table".into(),
            });
            done.push(at.clone());
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, ProviderKind, RemoteState, RemoteStatus};

    #[test]
    fn only_revoked_credentials_are_archived_and_keep_their_history() {
        let now = Utc::now();
        let mut inv = Inventory::new(vec![]);
        let mut old = Credential::new("old", ProviderKind::Sandbox);
        old.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: now,
        });
        inv.insert("acme", old);
        inv.insert("acme", Credential::new("live", ProviderKind::Sandbox));
        let live: CredentialRef = "acme/live".parse().unwrap();
        let gone: CredentialRef = "acme/old".parse().unwrap();
        let e = archive(&mut inv, &[gone.clone(), live.clone()], now).unwrap_err();
        assert_eq!(e, ArchiveError::NotRevoked(live));
        assert!(!inv.credential(&gone).unwrap().archived, "all or nothing");
        let one = std::slice::from_ref(&gone);
        assert_eq!(archive(&mut inv, one, now).unwrap(), one);
        let c = inv.credential(&gone).unwrap();
        assert!(c.archived);
        assert_eq!(c.history.last().unwrap().event, HistoryEvent::Archived);
        assert!(archive(&mut inv, &[gone], now).unwrap().is_empty());
    }
}
