//! Which credentials a rotation run takes, why, and what each will involve: the plan shown
//! (and confirmed) before anything changes. [`Engine::plan`](super::Engine::plan) fills it
//! in, checking each provider's preconditions; [`select`] picks the credentials.

use chrono::{DateTime, Duration, Utc};

use super::Phase;
use crate::inventory::status::{assess, Reason};
use crate::inventory::{CredentialRef, Inventory, ProviderKind, RemoteStatus};
use crate::providers::RotationStyle;

/// Which credentials to rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These, by address.
    Refs(Vec<CredentialRef>),
    /// Those expiring within this many days (or already expired).
    Expiring(u32),
    /// Every credential of this client.
    Client(String),
    /// Those past their rotation date or expiry.
    Overdue,
}

/// Picks the credentials `selection` names, each with the reason it was picked. Revoked
/// credentials are left out of the filters (there is nothing to rotate) but not out of an
/// explicit list, where the plan says why it cannot go ahead.
pub fn select(
    inv: &Inventory,
    selection: &Selection,
    now: DateTime<Utc>,
) -> Result<Vec<(CredentialRef, String)>, String> {
    let live = |c: &crate::inventory::Credential| {
        c.remote.as_ref().map(|r| r.state) != Some(RemoteStatus::Revoked)
    };
    match selection {
        Selection::Refs(refs) => {
            let missing: Vec<String> = refs
                .iter()
                .filter(|r| inv.credential(r).is_none())
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(format!("no credential {}", missing.join(", ")));
            }
            Ok(refs
                .iter()
                .map(|r| (r.clone(), "asked for".to_string()))
                .collect())
        }
        Selection::Client(client) => {
            if inv.client(client).is_none() {
                return Err(format!("no client `{client}`"));
            }
            Ok(inv
                .credentials()
                .filter(|(at, _, c)| &at.client == client && live(c))
                .map(|(at, _, _)| (at, format!("client {client}")))
                .collect())
        }
        Selection::Expiring(days) => {
            // Saturates: a horizon past the calendar's end takes in every dated credential.
            let horizon = now
                .checked_add_signed(Duration::days(i64::from(*days)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            Ok(inv
                .credentials()
                .filter(|(_, _, c)| live(c))
                .filter_map(|(at, _, c)| {
                    let exp = c.expires_at.filter(|e| *e <= horizon)?;
                    let why = if exp <= now {
                        format!("expired {} days ago", (now - exp).num_days())
                    } else {
                        format!("expires in {} days", (exp - now).num_days())
                    };
                    Some((at, why))
                })
                .collect())
        }
        Selection::Overdue => Ok(inv
            .credentials()
            .filter(|(_, _, c)| live(c))
            .filter_map(|(at, _, c)| {
                let a = assess(c, &inv.policy, now);
                let why = a.reasons.iter().find(|r| {
                    matches!(r, Reason::RotationOverdue { .. } | Reason::Expired { .. })
                })?;
                Some((at, why.to_string()))
            })
            .collect()),
    }
}

/// One credential in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    /// The credential.
    pub at: CredentialRef,
    /// Why it is in the plan.
    pub why: String,
    /// Its provider.
    pub provider: ProviderKind,
    /// How its key is replaced, when a client for the provider exists.
    pub style: Option<RotationStyle>,
    /// The steps it will go through.
    pub steps: Vec<Phase>,
    /// What a person will have to do.
    pub needs_person: Vec<String>,
    /// What the person should know before it starts (e.g. a roll in place).
    pub warnings: Vec<String>,
    /// Why it cannot go ahead, if it cannot.
    pub blocked: Option<String>,
    /// Items sharing an owner at the provider (their key lists overlap) share a group and
    /// run one after another, so they neither race for the key limit nor mistake each
    /// other's new keys for their own.
    pub group: usize,
}

/// A rotation run's plan, in the order the credentials were selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The credentials.
    pub items: Vec<PlanItem>,
}

impl Plan {
    /// The items that can go ahead.
    pub fn ready(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.blocked.is_none())
    }

    /// Whether any item needs a person or warns before it starts.
    pub fn needs_attention(&self) -> bool {
        self.ready()
            .any(|i| !i.needs_person.is_empty() || !i.warnings.is_empty())
    }
}

/// Groups items whose key lists share a key id (same connection): union-find over ids.
pub(super) fn group_by_shared_keys(keys: &[(Option<String>, Vec<String>)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: std::collections::HashMap<(Option<String>, &str), usize> = Default::default();
    for (i, (conn, ids)) in keys.iter().enumerate() {
        for id in ids {
            match seen.get(&(conn.clone(), id.as_str())) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    seen.insert((conn.clone(), id.as_str()), i);
                }
            }
        }
    }
    (0..keys.len()).map(|i| find(&mut parent, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, RemoteState};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    fn inv() -> Inventory {
        let mut inv = Inventory::new(vec![]);
        let mut a = Credential::new("crm", ProviderKind::Sandbox);
        a.created_at = Some(now() - Duration::days(200));
        a.expires_at = Some(now() + Duration::days(5));
        let mut b = Credential::new("mail", ProviderKind::Sandbox);
        b.created_at = Some(now() - Duration::days(10));
        b.expires_at = Some(now() + Duration::days(60));
        let mut c = Credential::new("old", ProviderKind::Sandbox);
        c.created_at = Some(now() - Duration::days(400));
        c.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: now(),
        });
        inv.insert("acme", a);
        inv.insert("acme", b);
        inv.insert("beta", c);
        inv
    }

    fn ids(v: Vec<(CredentialRef, String)>) -> Vec<String> {
        v.into_iter().map(|(r, _)| r.to_string()).collect()
    }

    #[test]
    fn filters_pick_live_credentials_with_their_reasons() {
        let inv = inv();
        let exp = select(&inv, &Selection::Expiring(7), now()).unwrap();
        assert_eq!(exp[0].1, "expires in 5 days");
        assert_eq!(ids(exp), ["acme/crm"]);
        let overdue = select(&inv, &Selection::Overdue, now()).unwrap();
        assert_eq!(overdue[0].1, "rotation overdue by 110 days");
        assert_eq!(ids(overdue), ["acme/crm"]);
        assert_eq!(
            ids(select(&inv, &Selection::Client("acme".into()), now()).unwrap()),
            ["acme/crm", "acme/mail"]
        );
        assert!(select(&inv, &Selection::Client("beta".into()), now())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn expiring_overflow_panicked_on_a_huge_horizon() {
        let inv = inv();
        let all = select(
            &inv,
            &Selection::Expiring(u32::MAX),
            DateTime::<Utc>::MAX_UTC,
        )
        .unwrap();
        assert_eq!(ids(all), ["acme/crm", "acme/mail"]);
    }

    #[test]
    fn unknown_addresses_and_clients_are_errors() {
        let inv = inv();
        let e = select(
            &inv,
            &Selection::Refs(vec!["acme/nope".parse().unwrap()]),
            now(),
        )
        .unwrap_err();
        assert_eq!(e, "no credential acme/nope");
        assert!(select(&inv, &Selection::Client("zeta".into()), now()).is_err());
    }

    #[test]
    fn overlapping_key_lists_share_a_group() {
        let c = |s: &str| Some(s.to_string());
        let v = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let groups = group_by_shared_keys(&[
            (c("aws"), v(&["K1", "K2"])),
            (c("aws"), v(&["K3"])),
            (c("aws"), v(&["K2"])),
            (c("other"), v(&["K1"])),
            (c("aws"), v(&[])),
        ]);
        assert_eq!(groups[0], groups[2]);
        assert_ne!(groups[0], groups[1]);
        assert_ne!(groups[0], groups[3]);
        assert_ne!(groups[4], groups[0]);
    }
}
