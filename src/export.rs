//! Summaries of the inventory for people and scripts: JSON rows, CSV and Markdown
//! reports. A [`Row`] has no field that could hold a secret, so nothing built from it can
//! leak one.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::status::assess;
use crate::inventory::{Credential, CredentialRef, Inventory, Status};

/// One credential as reports show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// `CLIENT/INTEGRATION`.
    pub address: String,
    /// The client's id.
    pub client: String,
    /// The integration's id.
    pub integration: String,
    /// The integration's name.
    pub name: String,
    /// The provider kind.
    pub provider: String,
    /// The worst status.
    pub status: Status,
    /// Every reason, in words.
    pub reasons: Vec<String>,
    /// Whether a secret is stored (never the secret).
    pub has_secret: bool,
    /// The provider's id for the key.
    pub remote_id: Option<String>,
    /// Permissions.
    pub scopes: Vec<String>,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Where it is used.
    pub used_by: Vec<String>,
    /// Issued.
    pub created_at: Option<DateTime<Utc>>,
    /// Stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Last rotated.
    pub last_rotated_at: Option<DateTime<Utc>>,
    /// The next date something must happen.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether a rotation is in flight.
    pub rotation_in_flight: bool,
}

impl Row {
    /// The row for one credential at `now`.
    pub fn new(at: &CredentialRef, cred: &Credential, inv: &Inventory, now: DateTime<Utc>) -> Row {
        let a = assess(cred, &inv.policy, now);
        Row {
            address: at.to_string(),
            client: at.client.clone(),
            integration: at.integration.clone(),
            name: cred.name.clone(),
            provider: cred.provider.to_string(),
            status: a.status,
            reasons: a.reasons.iter().map(ToString::to_string).collect(),
            has_secret: cred.secret.is_some(),
            remote_id: cred.remote_id.clone(),
            scopes: cred.scopes.clone(),
            owner: cred.owner.clone(),
            used_by: cred.used_by.clone(),
            created_at: cred.created_at,
            expires_at: cred.expires_at,
            last_used_at: cred.last_used_at,
            last_rotated_at: cred.last_rotated_at,
            due_at: a.due_at,
            rotation_in_flight: cred.rotation.is_some(),
        }
    }
}

/// Every credential's row, in file order.
pub fn rows(inv: &Inventory, now: DateTime<Utc>) -> Vec<Row> {
    inv.credentials()
        .map(|(at, _, c)| Row::new(&at, c, inv, now))
        .collect()
}

/// How many credentials have each status, worst first, zero counts included.
pub fn status_counts<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<(Status, usize)> {
    let mut counts: Vec<(Status, usize)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for row in rows {
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == row.status) {
            slot.1 += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ProviderKind;
    use crate::secret::Secret;

    #[test]
    fn rows_never_carry_the_secret() {
        let mut inv = Inventory::new(vec![]);
        let mut c = Credential::new("crm", ProviderKind::Manual);
        c.secret = Some(Secret::new("sk-live-super-secret-value-123"));
        inv.insert("acme", c);
        let rows = rows(&inv, Utc::now());
        let json = serde_json::to_string(&rows).unwrap();
        assert!(!json.contains("super-secret"), "{json}");
        assert!(rows[0].has_secret);
        assert_eq!(rows[0].address, "acme/crm");
        let counts = status_counts(&rows);
        assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), 1);
    }
}
