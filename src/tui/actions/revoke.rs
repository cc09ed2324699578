//! The revoke dialog: planned (deactivate now, delete after the grace period) or emergency
//! (delete now), each key with when it was last used and by whom. For more than one
//! credential the person types the count before the Revoke button does anything.

use chrono::{DateTime, Utc};

use super::Focus;
use crate::inventory::{CredentialRef, ProviderKind};

/// One credential to revoke, as the dialog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeItem {
    /// The credential.
    pub at: CredentialRef,
    /// Its table row.
    pub row: usize,
    /// Its provider.
    pub provider: ProviderKind,
    /// The key's id at the provider.
    pub remote_id: Option<String>,
    /// When the provider last saw it used.
    pub last_used: Option<DateTime<Utc>>,
    /// Who uses it.
    pub used_by: Vec<String>,
}

/// The revocation, to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeDialog {
    /// What is revoked.
    pub items: Vec<RevokeItem>,
    /// Delete now instead of deactivating.
    pub emergency: bool,
    /// The count typed to confirm (more than one credential).
    pub typed: String,
    /// The focused button.
    pub focus: Focus,
}

impl RevokeDialog {
    /// The dialog over `items`: planned, focus on Cancel.
    pub fn new(items: Vec<RevokeItem>) -> RevokeDialog {
        RevokeDialog {
            items,
            emergency: false,
            typed: String::new(),
            focus: Focus::Cancel,
        }
    }

    /// Whether the count must be typed first.
    pub fn needs_count(&self) -> bool {
        self.items.len() > 1
    }

    /// Whether Revoke may go ahead: one credential, or the right count typed.
    pub fn confirmed(&self) -> bool {
        !self.needs_count() || self.typed.trim() == self.items.len().to_string()
    }
}
