//! Adoption: a key [`super::discover`] found untracked becomes a credential without a
//! secret (keyward never saw it), with the provider's dates, owner and parameters and a
//! history entry saying where it came from. Taking custody is then an ordinary rotation:
//! a new key is created, stored, deployed and verified, and the found one revoked.

use chrono::{DateTime, Utc};

use super::discover::{Discovery, Sighting};
use crate::inventory::{
    validate, Credential, CredentialRef, HistoryEntry, HistoryEvent, Inventory, RemoteState,
};

/// Why keys cannot be adopted; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptError {
    /// No connection asked sees an untracked key with this id.
    #[error("no untracked key `{0}` was found: `keyward discover` lists the untracked keys")]
    NotFound(String),
    /// The credential's address is taken.
    #[error("`{0}` already exists: choose another with --name")]
    Taken(CredentialRef),
    /// `--name` given for more than one key.
    #[error("--name names one credential: adopt one key at a time with it")]
    NameForMany,
    /// The client or the name breaks the id rule.
    #[error("{0}")]
    BadAddress(String),
}

/// One key adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The new credential's address.
    pub at: CredentialRef,
    /// The provider's id for the key.
    pub remote_id: String,
    /// What the history and the audit log say about it.
    pub reason: String,
}

/// Why an adopted credential exists, as its history and notes say it.
pub fn reason(now: DateTime<Utc>) -> String {
    format!(
        "found at the provider on {}, not created by keyward",
        now.format("%Y-%m-%d")
    )
}

/// The credential id a found key gets when no name is given: the provider and the key's
/// id, lower-cased, anything but letters, digits and `-` turned into `-`.
pub fn default_name(s: &Sighting) -> String {
    let id: String = s
        .remote_id()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    format!("{}-{id}", s.provider.as_str())
}

/// The credential recording `s`, found at `now`: no secret, the provider's dates, owner,
/// scopes and parameters, and an `adopted` history entry.
pub fn credential_for(s: &Sighting, id: &str, now: DateTime<Utc>) -> Credential {
    let key = &s.found.key;
    let mut c = Credential::new(id, s.provider);
    c.name = key.name.clone().unwrap_or_default();
    c.connection = Some(s.connection.clone());
    c.remote_id = Some(key.remote_id.clone());
    c.params = s.found.params.clone();
    c.scopes = key.scopes.clone();
    c.owner = s.found.owner.clone();
    c.created_at = key.created_at;
    c.expires_at = key.expires_at;
    c.last_used_at = key.last_used_at;
    c.risks = key.risks.clone();
    c.remote = Some(RemoteState {
        state: key.state,
        checked_at: now,
    });
    let why = reason(now);
    c.notes = Some(format!("{why}; rotate it to take custody"));
    c.history.push(HistoryEntry {
        at: now,
        event: HistoryEvent::Adopted,
        detail: format!("{why} (connection {})", s.connection),
    });
    c
}

/// Records the untracked keys `ids` of `discovery` under `client` (the one key as `name`,
/// if given). All or nothing: if one cannot be adopted, nothing changes.
pub fn adopt(
    inv: &mut Inventory,
    discovery: &Discovery,
    ids: &[String],
    client: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Adopted>, AdoptError> {
    if name.is_some() && ids.len() > 1 {
        return Err(AdoptError::NameForMany);
    }
    validate::check_id(client).map_err(|why| AdoptError::BadAddress(format!("client {why}")))?;
    let mut planned: Vec<(CredentialRef, &Sighting)> = Vec::new();
    for id in ids {
        let s = discovery
            .find_untracked(id)
            .ok_or_else(|| AdoptError::NotFound(crate::text::terminal_safe(id).into_owned()))?;
        let integration = name.map(str::to_string).unwrap_or_else(|| default_name(s));
        let at = CredentialRef::new(client, &integration).map_err(AdoptError::BadAddress)?;
        if inv.credential(&at).is_some() || planned.iter().any(|(p, _)| *p == at) {
            return Err(AdoptError::Taken(at));
        }
        if planned.iter().any(|(_, p)| p.remote_id() == s.remote_id()) {
            continue;
        }
        planned.push((at, s));
    }
    let why = reason(now);
    Ok(planned
        .into_iter()
        .map(|(at, s)| {
            inv.insert(&at.client, credential_for(s, &at.integration, now));
            Adopted {
                remote_id: s.remote_id().to_string(),
                reason: format!("{}: {why}", s.remote_id()),
                at,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ProviderKind, RemoteStatus};
    use crate::ops::discover::{Answer, ConnectionAnswer, Tracking};
    use crate::providers::{FoundKey, RemoteKey};

    fn discovery() -> Discovery {
        let sighting = |id: &str, tracking| Sighting {
            connection: "aws".into(),
            provider: ProviderKind::AwsIam,
            found: FoundKey::new(RemoteKey::new(id, RemoteStatus::Active))
                .owned_by("IAM user ci")
                .with_param("user", "ci"),
            tracking,
            suggested_clients: vec!["acme".into()],
        };
        Discovery {
            connections: vec![ConnectionAnswer {
                connection: "aws".into(),
                provider: ProviderKind::AwsIam,
                answer: Answer::Listed(vec![
                    sighting("AKIAFOUND", Tracking::Untracked),
                    sighting("AKIAKNOWN", Tracking::Tracked),
                ]),
            }],
        }
    }

    #[test]
    fn an_adopted_key_has_no_secret_and_says_where_it_came_from() {
        let mut inv = Inventory::new(vec![]);
        let now = Utc::now();
        let done = adopt(
            &mut inv,
            &discovery(),
            &["AKIAFOUND".into()],
            "acme",
            None,
            now,
        )
        .unwrap();
        assert_eq!(done[0].at.to_string(), "acme/aws-iam-akiafound");
        let c = inv.credential(&done[0].at).unwrap();
        assert!(c.secret.is_none());
        assert_eq!(c.remote_id.as_deref(), Some("AKIAFOUND"));
        assert_eq!(c.params.get("user").map(String::as_str), Some("ci"));
        assert_eq!(c.connection.as_deref(), Some("aws"));
        assert_eq!(c.history[0].event, HistoryEvent::Adopted);
        assert!(c.history[0].detail.contains("not created by keyward"));
    }

    #[test]
    fn a_tracked_or_unknown_key_is_refused_and_nothing_changes() {
        let mut inv = Inventory::new(vec![]);
        let ids = ["AKIAFOUND".to_string(), "AKIAKNOWN".to_string()];
        let e = adopt(&mut inv, &discovery(), &ids, "acme", None, Utc::now()).unwrap_err();
        assert_eq!(e, AdoptError::NotFound("AKIAKNOWN".into()));
        assert_eq!(inv.credentials().count(), 0);
        let e = adopt(&mut inv, &discovery(), &ids, "acme", Some("x"), Utc::now()).unwrap_err();
        assert_eq!(e, AdoptError::NameForMany);
    }

    #[test]
    fn a_taken_address_is_refused() {
        let mut inv = Inventory::new(vec![]);
        inv.insert("acme", Credential::new("ci", ProviderKind::Manual));
        let e = adopt(
            &mut inv,
            &discovery(),
            &["AKIAFOUND".into()],
            "acme",
            Some("ci"),
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(e, AdoptError::Taken(_)));
    }
}
