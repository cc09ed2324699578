//! Three-way merge of inventories: what a writer changed since it read the file (`base` to
//! `ours`), applied onto what another writer saved meanwhile (`theirs`). Two writers that
//! touched different credentials, or different fields of one credential, both keep their
//! change; the same field changed two different ways is a [`MergeConflict`] naming it, and
//! nothing is guessed. This is what lets a save take the lock only for the save itself
//! (and a save to object storage retry after a failed conditional write) without ever
//! losing another writer's update.

use std::fmt;

use super::{Client, Connection, Credential, HistoryEntry, Inventory};

/// The same thing changed two different ways by two writers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeConflict {
    /// A field, a credential or a setting both changed.
    #[error("{what} was changed by another writer meanwhile, differently; nothing was saved: read the inventory again and redo the change")]
    Changed {
        /// What both changed, in words: `credential acme/crm-sync (field secret)`, `the
        /// policy`.
        what: String,
    },
    /// A rotation or revocation journal another run saved first: its claim on the
    /// credential.
    #[error("credential {credential} is claimed by another run ({claim}); nothing was saved: let that run finish (`keyward resume` if it was interrupted)")]
    Claimed {
        /// `CLIENT/INTEGRATION`.
        credential: String,
        /// The other journal's id, start time and who started it.
        claim: String,
    },
}

impl MergeConflict {
    fn new(what: impl fmt::Display) -> Self {
        MergeConflict::Changed {
            what: what.to_string(),
        }
    }
}

/// The credentials another run claimed between `before` and `after` (a rotation or
/// revocation journal that is new there), each as the [`MergeConflict::Claimed`] it would
/// make: for a front end that finds the inventory changed under a plan to say whose run it is.
pub fn claimed_meanwhile(before: &Inventory, after: &Inventory) -> Vec<MergeConflict> {
    after
        .credentials()
        .filter_map(|(at, _, c)| {
            let journal = c.rotation.as_ref()?;
            let earlier = before.credential(&at).and_then(|b| b.rotation.as_ref());
            (earlier.map(|e| &e.id) != Some(&journal.id)).then(|| MergeConflict::Claimed {
                credential: at.to_string(),
                claim: journal.claim(),
            })
        })
        .collect()
}

/// `ours`' changes since `base`, applied onto `theirs`. The result's `integrity` is
/// `theirs'`: the store writes the next one when it saves.
pub fn three_way(
    base: &Inventory,
    ours: &Inventory,
    theirs: &Inventory,
) -> Result<Inventory, MergeConflict> {
    // Destructured so that a field added to the inventory fails to compile here until
    // someone decides how it merges.
    let Inventory {
        version,
        policy,
        recipients,
        connections,
        clients,
        integrity: _,
    } = ours;
    Ok(Inventory {
        version: pick(&base.version, version, &theirs.version, || {
            "the schema version"
        })?,
        policy: pick(&base.policy, policy, &theirs.policy, || "the policy")?,
        recipients: pick(&base.recipients, recipients, &theirs.recipients, || {
            "the recipients"
        })?,
        connections: keyed(
            &base.connections,
            connections,
            &theirs.connections,
            |c: &Connection| c.id.as_str(),
            |b, o, t| pick(b, o, t, || format!("connection {}", o.id)),
            |_| None,
            |c| format!("connection {}", c.id),
        )?,
        clients: keyed(
            &base.clients,
            clients,
            &theirs.clients,
            |c: &Client| c.id.as_str(),
            merge_client,
            // Two writers each adding a credential to a new client both made it: their
            // credentials are merged as additions to an empty client.
            |c| {
                Some(Client {
                    id: c.id.clone(),
                    name: String::new(),
                    integrations: Vec::new(),
                })
            },
            |c| format!("client {}", c.id),
        )?,
        integrity: theirs.integrity.clone(),
    })
}

/// The value two writers agree on, or the one that changed it: conflict only when both
/// changed it, differently.
fn pick<T: PartialEq + Clone, W: fmt::Display>(
    base: &T,
    ours: &T,
    theirs: &T,
    what: impl FnOnce() -> W,
) -> Result<T, MergeConflict> {
    if ours == base || ours == theirs {
        Ok(theirs.clone())
    } else if theirs == base {
        Ok(ours.clone())
    } else {
        Err(MergeConflict::new(what()))
    }
}

/// Merges lists of items identified by `key`: items only one side added, removed or
/// changed follow that side; an item both changed is merged by `merge`; an item one side
/// removed and the other changed is a conflict. An item both added differently is merged
/// from the base `fresh` gives for it, if any (a conflict otherwise). The result keeps
/// `theirs`' order, with what only `ours` added after it.
fn keyed<T: PartialEq + Clone>(
    base: &[T],
    ours: &[T],
    theirs: &[T],
    key: impl Fn(&T) -> &str,
    merge: impl Fn(&T, &T, &T) -> Result<T, MergeConflict>,
    fresh: impl Fn(&T) -> Option<T>,
    name: impl Fn(&T) -> String,
) -> Result<Vec<T>, MergeConflict> {
    let find = |list: &'_ [T], k: &str| list.iter().position(|x| key(x) == k);
    let mut merged = Vec::with_capacity(theirs.len().max(ours.len()));
    for t in theirs {
        let k = key(t);
        match (
            find(base, k).map(|i| &base[i]),
            find(ours, k).map(|i| &ours[i]),
        ) {
            (Some(b), Some(o)) => merged.push(merge(b, o, t)?),
            // We removed it: fine if they left it as it was.
            (Some(b), None) if b == t => {}
            (Some(_), None) => {
                return Err(MergeConflict::new(format!(
                    "{} (removed here, changed there)",
                    name(t)
                )))
            }
            // They added it.
            (None, None) => merged.push(t.clone()),
            // Both added one with this id.
            (None, Some(o)) if o == t => merged.push(t.clone()),
            (None, Some(o)) => match fresh(t) {
                Some(b) => merged.push(merge(&b, o, t)?),
                None => return Err(MergeConflict::new(format!("{} (added by both)", name(t)))),
            },
        }
    }
    for o in ours {
        let k = key(o);
        if find(theirs, k).is_some() {
            continue;
        }
        match find(base, k).map(|i| &base[i]) {
            // We added it.
            None => merged.push(o.clone()),
            // They removed it: fine if we left it as it was.
            Some(b) if b == o => {}
            Some(_) => {
                return Err(MergeConflict::new(format!(
                    "{} (changed here, removed there)",
                    name(o)
                )))
            }
        }
    }
    Ok(merged)
}

fn merge_client(base: &Client, ours: &Client, theirs: &Client) -> Result<Client, MergeConflict> {
    let Client {
        id,
        name,
        integrations,
    } = ours;
    let client_id = id.clone();
    Ok(Client {
        id: id.clone(),
        name: pick(&base.name, name, &theirs.name, || {
            format!("the name of client {id}")
        })?,
        integrations: keyed(
            &base.integrations,
            integrations,
            &theirs.integrations,
            |c: &Credential| c.id.as_str(),
            |b, o, t| merge_credential(&client_id, b, o, t),
            |_| None,
            |c| format!("credential {client_id}/{}", c.id),
        )?,
    })
}

/// Field by field, so that a note edited elsewhere while a rotation saves its journal is
/// kept; history is append-only, so both sides' new entries are kept.
fn merge_credential(
    client: &str,
    base: &Credential,
    ours: &Credential,
    theirs: &Credential,
) -> Result<Credential, MergeConflict> {
    let Credential {
        id,
        name,
        provider,
        connection,
        remote_id,
        params,
        scopes,
        owner,
        used_by,
        created_at,
        expires_at,
        last_used_at,
        last_rotated_at,
        rotate_every_days,
        warn_before_days,
        stale_after_days,
        deploy,
        deploy_check,
        secret,
        remote,
        risks,
        notes,
        rotation,
        pending_revocations,
        history,
        archived,
    } = ours;
    macro_rules! field {
        ($f:ident) => {
            pick(&base.$f, $f, &theirs.$f, || {
                format!("credential {client}/{id} (field {})", stringify!($f))
            })?
        };
    }
    Ok(Credential {
        id: id.clone(),
        name: field!(name),
        provider: field!(provider),
        connection: field!(connection),
        remote_id: field!(remote_id),
        params: field!(params),
        scopes: field!(scopes),
        owner: field!(owner),
        used_by: field!(used_by),
        created_at: field!(created_at),
        expires_at: field!(expires_at),
        last_used_at: field!(last_used_at),
        last_rotated_at: field!(last_rotated_at),
        rotate_every_days: field!(rotate_every_days),
        warn_before_days: field!(warn_before_days),
        stale_after_days: field!(stale_after_days),
        deploy: field!(deploy),
        deploy_check: field!(deploy_check),
        secret: field!(secret),
        remote: field!(remote),
        risks: field!(risks),
        notes: field!(notes),
        // The journal is the claim on the credential: a second run is told whose it is.
        rotation: match (
            &theirs.rotation,
            pick(&base.rotation, rotation, &theirs.rotation, || ""),
        ) {
            (_, Ok(merged)) => merged,
            (Some(claim), Err(_)) => {
                return Err(MergeConflict::Claimed {
                    credential: format!("{client}/{id}"),
                    claim: claim.claim(),
                })
            }
            (None, Err(_)) => field!(rotation),
        },
        pending_revocations: field!(pending_revocations),
        history: match appended(&base.history, history, &theirs.history) {
            Some(both) => both,
            None => field!(history),
        },
        archived: field!(archived),
    })
}

/// Both sides' history when each only appended to `base`: theirs first, then ours.
fn appended(
    base: &[HistoryEntry],
    ours: &[HistoryEntry],
    theirs: &[HistoryEntry],
) -> Option<Vec<HistoryEntry>> {
    if !ours.starts_with(base) || !theirs.starts_with(base) {
        return None;
    }
    let mut both = theirs.to_vec();
    both.extend_from_slice(&ours[base.len()..]);
    Some(both)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{HistoryEvent, ProviderKind};
    use crate::secret::Secret;
    use chrono::{TimeZone, Utc};

    fn inventory() -> Inventory {
        let mut inv = Inventory::new(vec!["age1base".into()]);
        inv.insert("acme", Credential::new("crm", ProviderKind::Sandbox));
        inv.insert("acme", Credential::new("mail", ProviderKind::Sandbox));
        inv
    }

    fn cred<'a>(inv: &'a mut Inventory, id: &str) -> &'a mut Credential {
        inv.clients[0]
            .integrations
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap()
    }

    fn entry(detail: &str) -> HistoryEntry {
        HistoryEntry {
            at: Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap(),
            event: HistoryEvent::Rotated,
            detail: detail.into(),
        }
    }

    #[test]
    fn different_credentials_changed_by_two_writers_are_both_kept() {
        let base = inventory();
        let mut ours = base.clone();
        cred(&mut ours, "crm").secret = Some(Secret::new("new-crm"));
        let mut theirs = base.clone();
        cred(&mut theirs, "mail").notes = Some("rotated by hand".into());
        let mut merged = three_way(&base, &ours, &theirs).unwrap();
        assert_eq!(
            cred(&mut merged, "crm")
                .secret
                .as_ref()
                .map(|s| s.expose_secret().to_string()),
            Some("new-crm".into())
        );
        assert_eq!(
            cred(&mut merged, "mail").notes.as_deref(),
            Some("rotated by hand")
        );
    }

    #[test]
    fn different_fields_of_one_credential_are_both_kept_and_history_keeps_both_appends() {
        let base = inventory();
        let mut ours = base.clone();
        cred(&mut ours, "crm").secret = Some(Secret::new("new"));
        cred(&mut ours, "crm").history.push(entry("ours"));
        let mut theirs = base.clone();
        cred(&mut theirs, "crm").notes = Some("note".into());
        cred(&mut theirs, "crm").history.push(entry("theirs"));
        let mut merged = three_way(&base, &ours, &theirs).unwrap();
        let c = cred(&mut merged, "crm");
        assert!(c.secret.is_some());
        assert_eq!(c.notes.as_deref(), Some("note"));
        let details: Vec<_> = c.history.iter().map(|h| h.detail.as_str()).collect();
        assert_eq!(details, ["theirs", "ours"]);
    }

    #[test]
    fn the_same_field_changed_two_ways_is_a_conflict_naming_it() {
        let base = inventory();
        let mut ours = base.clone();
        cred(&mut ours, "crm").notes = Some("a".into());
        let mut theirs = base.clone();
        cred(&mut theirs, "crm").notes = Some("b".into());
        let e = three_way(&base, &ours, &theirs).unwrap_err();
        assert!(
            matches!(&e, MergeConflict::Changed { what } if what == "credential acme/crm (field notes)"),
            "{e}"
        );
        assert!(!e.to_string().contains("\"a\""));
    }

    #[test]
    fn a_second_rotation_journal_on_the_same_credential_is_refused() {
        use crate::inventory::journal::{Action, Rotation, Step, Style};
        let base = inventory();
        let mut ours = base.clone();
        let mut theirs = base.clone();
        let now = Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
        let journal = |id: &str| {
            Some(Rotation::new(
                id.into(),
                Action::Rotate,
                Style::CreateThenRevoke,
                Step::Create,
                now,
                None,
            ))
        };
        cred(&mut ours, "crm").rotation = journal("ours");
        cred(&mut theirs, "crm").rotation = journal("theirs");
        if let Some(r) = cred(&mut theirs, "crm").rotation.as_mut() {
            r.started_by = Some("alice@laptop".into());
        }
        let e = three_way(&base, &ours, &theirs).unwrap_err();
        assert_eq!(
            e.to_string(),
            "credential acme/crm is claimed by another run (theirs started \
             2026-12-08T00:00:00Z by alice@laptop); nothing was saved: let that run finish \
             (`keyward resume` if it was interrupted)"
        );
    }

    /// Regression: two writers each adding a credential to a client neither had saw the
    /// client "added by both" and the second save refused.
    #[test]
    fn a_new_client_both_added_keeps_both_credentials() {
        let base = Inventory::new(vec![]);
        let mut ours = base.clone();
        ours.insert("newco", Credential::new("a", ProviderKind::Manual));
        let mut theirs = base.clone();
        theirs.insert("newco", Credential::new("b", ProviderKind::Manual));
        let merged = three_way(&base, &ours, &theirs).unwrap();
        let ids: Vec<_> = merged.clients[0]
            .integrations
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["b", "a"]);
        // The same credential added by both, differently, is still a conflict.
        let mut other = base.clone();
        other.insert("newco", Credential::new("a", ProviderKind::Sandbox));
        assert!(three_way(&base, &ours, &other).is_err());
    }

    #[test]
    fn additions_and_removals_on_either_side_are_kept() {
        let base = inventory();
        let mut ours = base.clone();
        ours.insert("beta", Credential::new("ai", ProviderKind::Sandbox));
        ours.clients[0].integrations.retain(|c| c.id != "mail");
        let mut theirs = base.clone();
        theirs.insert("acme", Credential::new("sms", ProviderKind::Sandbox));
        let merged = three_way(&base, &ours, &theirs).unwrap();
        let ids: Vec<String> = merged
            .clients
            .iter()
            .flat_map(|c| {
                c.integrations
                    .iter()
                    .map(move |i| format!("{}/{}", c.id, i.id))
            })
            .collect();
        assert_eq!(ids, ["acme/crm", "acme/sms", "beta/ai"]);
    }

    #[test]
    fn a_credential_removed_on_one_side_and_changed_on_the_other_is_a_conflict() {
        let base = inventory();
        let mut ours = base.clone();
        ours.clients[0].integrations.retain(|c| c.id != "mail");
        let mut theirs = base.clone();
        cred(&mut theirs, "mail").notes = Some("x".into());
        let e = three_way(&base, &ours, &theirs).unwrap_err();
        assert!(
            matches!(&e, MergeConflict::Changed { what } if what == "credential acme/mail (removed here, changed there)"),
            "{e}"
        );
    }

    #[test]
    fn recipients_changed_on_one_side_follow_that_side() {
        let base = inventory();
        let ours = base.clone();
        let mut theirs = base.clone();
        theirs.recipients.push("age1new".into());
        assert_eq!(
            three_way(&base, &ours, &theirs).unwrap().recipients,
            theirs.recipients
        );
        assert_eq!(
            three_way(&base, &theirs, &ours).unwrap().recipients,
            theirs.recipients
        );
    }
}
