//! The interrupted-work banner: rotations and revocations the inventory's journals show as
//! unfinished (a crash, a kill, a step waiting for a person), each to resume or roll back,
//! and old keys whose grace period is over, to delete.

use chrono::{DateTime, Utc};

use crate::inventory::{CredentialRef, Inventory};

/// One interrupted piece of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The credential.
    pub at: CredentialRef,
    /// Where it stopped, in words (the journal's summary).
    pub summary: String,
}

/// What the banner offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// Journaled work, to resume or roll back.
    pub interrupted: Vec<Interrupted>,
    /// Credentials holding old keys past their grace period.
    pub deletable: Vec<CredentialRef>,
    /// The selected line of `interrupted`.
    pub cursor: usize,
}

impl Banner {
    /// The banner for `inventory` at `now`, or `None` when nothing waits.
    pub fn find(inventory: &Inventory, now: DateTime<Utc>) -> Option<Banner> {
        let mut interrupted = Vec::new();
        let mut deletable = Vec::new();
        for (at, _, c) in inventory.credentials() {
            if let Some(j) = &c.rotation {
                interrupted.push(Interrupted {
                    at: at.clone(),
                    summary: j.summary(),
                });
            }
            if c.pending_revocations.iter().any(|p| p.delete_after <= now) {
                deletable.push(at);
            }
        }
        (!interrupted.is_empty() || !deletable.is_empty()).then_some(Banner {
            interrupted,
            deletable,
            cursor: 0,
        })
    }

    /// The selected interrupted credential.
    pub fn selected(&self) -> Option<&Interrupted> {
        self.interrupted.get(self.cursor)
    }
}
