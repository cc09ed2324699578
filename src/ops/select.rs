//! One selection vocabulary for `list`, `rotate`, `revoke`, `report`, `check` and the
//! dashboard's `:` commands: falls due within DAYS, overdue, stale, a client, explicit
//! addresses; combined, they intersect. Each pick says why it was picked.

use chrono::{DateTime, Duration, Utc};

use crate::inventory::status::{assess, Reason};
use crate::inventory::{Credential, CredentialRef, Inventory};

/// Which credentials an action is about. Every filter that is set must hold (intersection);
/// with none set, every credential (of the client, or the addresses given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these addresses (empty: any).
    pub refs: Vec<CredentialRef>,
    /// Only this client's credentials.
    pub client: Option<String>,
    /// Only those that fall due (the earlier of expiry and the rotation date) within this
    /// many days, past due included.
    pub due_within_days: Option<u32>,
    /// Only those past their expiry or rotation date.
    pub overdue: bool,
    /// Only those unused for longer than the policy allows, or gone at the provider.
    pub stale: bool,
    /// Also pick revoked and archived credentials where no work filter is set (for showing
    /// them, as `list` does); work never picks them unless addressed explicitly.
    pub include_retired: bool,
}

/// One credential a selection picked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    /// The credential.
    pub at: CredentialRef,
    /// Why it was picked, in words for the plan.
    pub why: String,
}

impl Selection {
    /// Whether any filter or address is set.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
            && self.client.is_none()
            && self.due_within_days.is_none()
            && !self.overdue
            && !self.stale
    }

    /// Whether every credential passes [`Selection::matches`]: no filter or address is
    /// set, and retired credentials are included.
    pub fn picks_everything(&self) -> bool {
        self.is_empty() && self.include_retired
    }

    /// Reads the dashboard's words, e.g. `due 30`, `overdue`, `stale`, `client acme`,
    /// `acme/crm`, in any combination (`expiring` is an alias of `due`).
    pub fn parse_words(words: &[&str]) -> Result<Selection, String> {
        let mut sel = Selection::default();
        let mut rest = words.iter().copied();
        while let Some(word) = rest.next() {
            match word {
                "due" | "expiring" => {
                    let days = rest
                        .next()
                        .ok_or_else(|| format!("`{word}` needs a number of days"))?;
                    sel.due_within_days = Some(parse_days(days)?);
                }
                "overdue" => sel.overdue = true,
                "stale" => sel.stale = true,
                "client" => {
                    let id = rest.next().ok_or("`client` needs a client id")?;
                    sel.client = Some(id.to_string());
                }
                other if other.contains('/') => sel.refs.push(other.parse()?),
                other => {
                    return Err(format!(
                        "`{}` is not a selection: use due DAYS, overdue, stale, client ID or \
                         CLIENT/INTEGRATION",
                        other.escape_debug()
                    ))
                }
            }
        }
        Ok(sel)
    }

    /// The selection in the words [`Selection::parse_words`] reads, for status lines.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(d) = self.due_within_days {
            parts.push(format!("due within {d} days"));
        }
        if self.overdue {
            parts.push("overdue".into());
        }
        if self.stale {
            parts.push("stale".into());
        }
        if let Some(c) = &self.client {
            parts.push(format!("client {c}"));
        }
        if !self.refs.is_empty() {
            let refs: Vec<String> = self.refs.iter().map(ToString::to_string).collect();
            parts.push(refs.join(", "));
        }
        if parts.is_empty() {
            "all".into()
        } else {
            parts.join(", ")
        }
    }

    /// Whether `c` at `at` passes every filter at `now`; the reasons it matched.
    pub fn matches(
        &self,
        inv: &Inventory,
        at: &CredentialRef,
        c: &Credential,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if self.client.as_ref().is_some_and(|id| *id != at.client) {
            return None;
        }
        let explicit = !self.refs.is_empty();
        if explicit && !self.refs.contains(at) {
            return None;
        }
        let work_filter = self.due_within_days.is_some() || self.overdue || self.stale;
        if !explicit && !self.include_retired && (c.archived || c.retirement().is_some()) {
            return None;
        }
        if !work_filter {
            return Some(if explicit {
                "asked for".to_string()
            } else if let Some(id) = &self.client {
                format!("client {id}")
            } else {
                "all".to_string()
            });
        }
        let a = assess(c, &inv.policy, now);
        let mut why: Vec<String> = Vec::new();
        if self.due_within_days.is_some() || self.overdue {
            let due = a.due_at?;
            if self.overdue && due > now {
                return None;
            }
            if let Some(days) = self.due_within_days {
                // Saturates: a horizon past the calendar's end takes in every dated one.
                let horizon = now
                    .checked_add_signed(Duration::days(i64::from(days)))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                if due > horizon {
                    return None;
                }
            }
            why.push(due_words(c, due, now));
        }
        if self.stale {
            let r = a.reasons.iter().find(|r| is_stale_reason(r))?;
            why.push(r.to_string());
        }
        Some(why.join("; "))
    }
}

/// Picks the credentials `sel` names at `now`, in file order, each with its reason.
/// Explicit addresses must exist (an unknown one is an error naming it), and so must the
/// client. Revoked credentials are never picked by a filter.
pub fn select(inv: &Inventory, sel: &Selection, now: DateTime<Utc>) -> Result<Vec<Picked>, String> {
    Ok(selected(inv, sel, now)?.map(|(picked, _)| picked).collect())
}

/// [`select`], each pick with its credential, one at a time: callers that go on to read the
/// credentials need not look each one up again by address (a search through every client),
/// nor hold every pick at once. The addresses and client are checked before the first.
pub fn selected<'a>(
    inv: &'a Inventory,
    sel: &'a Selection,
    now: DateTime<Utc>,
) -> Result<Box<dyn Iterator<Item = (Picked, &'a Credential)> + 'a>, String> {
    let missing: Vec<String> = sel
        .refs
        .iter()
        .filter(|r| inv.credential(r).is_none())
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(format!("no credential {}", missing.join(", ")));
    }
    if let Some(id) = &sel.client {
        if inv.client(id).is_none() {
            return Err(format!("no client `{id}`"));
        }
    }
    let picks = inv.credentials().filter_map(move |(at, _, c)| {
        sel.matches(inv, &at, c, now)
            .map(|why| (Picked { at, why }, c))
    });
    if sel.refs.is_empty() {
        return Ok(Box::new(picks));
    }
    // Explicit addresses keep the order they were given in.
    let mut picked: Vec<(Picked, &Credential)> = picks.collect();
    picked.sort_by_key(|(p, _)| sel.refs.iter().position(|r| *r == p.at));
    Ok(Box::new(picked.into_iter()))
}

fn parse_days(text: &str) -> Result<u32, String> {
    text.trim_end_matches('d')
        .parse::<u32>()
        .ok()
        .filter(|d| *d <= 36_500)
        .ok_or_else(|| "days must be a whole number from 0 to 36500".to_string())
}

/// Why a credential falls due at `due`: its expiry or its rotation date, in the words of
/// its status reasons.
fn due_words(c: &Credential, due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let past = due <= now;
    let days = if past { now - due } else { due - now }.num_days();
    let reason = match (c.expires_at == Some(due), past) {
        (true, true) => Reason::Expired { days },
        (true, false) => Reason::ExpiresSoon { days },
        (false, true) => Reason::RotationOverdue { days },
        (false, false) => Reason::RotationDueSoon { days },
    };
    reason.to_string()
}

fn is_stale_reason(r: &Reason) -> bool {
    matches!(
        r,
        Reason::Unused { .. }
            | Reason::NeverUsed { .. }
            | Reason::MissingAtProvider
            | Reason::InactiveAtProvider
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ProviderKind, RemoteState, RemoteStatus};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    fn days(d: i64) -> Option<DateTime<Utc>> {
        Some(now() + Duration::days(d))
    }

    /// acme/crm expires in 5 days; acme/mail rotates in 20 days (rotation date only);
    /// acme/idle is unused for 100 days; beta/old is revoked and overdue by its dates;
    /// beta/late is past its rotation date.
    fn inv() -> Inventory {
        let mut inv = Inventory::new(vec![]);
        let mut crm = Credential::new("crm", ProviderKind::Sandbox);
        crm.created_at = days(-10);
        crm.last_used_at = days(-1);
        crm.expires_at = days(5);
        let mut mail = Credential::new("mail", ProviderKind::Sandbox);
        mail.created_at = days(-70);
        mail.last_used_at = days(-1);
        let mut idle = Credential::new("idle", ProviderKind::Sandbox);
        idle.created_at = days(-10);
        idle.last_used_at = days(-100);
        let mut old = Credential::new("old", ProviderKind::Sandbox);
        old.created_at = days(-400);
        old.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: now(),
        });
        let mut late = Credential::new("late", ProviderKind::Sandbox);
        late.created_at = days(-100);
        late.last_used_at = days(-1);
        inv.insert("acme", crm);
        inv.insert("acme", mail);
        inv.insert("acme", idle);
        inv.insert("beta", old);
        inv.insert("beta", late);
        inv
    }

    fn ids(sel: &Selection) -> Vec<String> {
        select(&inv(), sel, now())
            .unwrap()
            .into_iter()
            .map(|p| p.at.to_string())
            .collect()
    }

    /// Regression: `list --expiring 30` picked 13 demo credentials while `rotate --expiring
    /// 30` picked 5, because rotate looked at expiry only and ignored rotation dates.
    #[test]
    fn due_counts_the_rotation_date_as_well_as_expiry() {
        let sel = Selection {
            due_within_days: Some(30),
            ..Selection::default()
        };
        assert_eq!(ids(&sel), ["acme/crm", "acme/mail", "beta/late"]);
        let picked = select(&inv(), &sel, now()).unwrap();
        assert_eq!(picked[0].why, "expires in 5 days");
        assert_eq!(picked[1].why, "rotation due in 20 days");
        assert_eq!(picked[2].why, "rotation overdue by 10 days");
    }

    /// Regression: `--overdue` could not be combined with `--expiring`; filters intersect.
    #[test]
    fn filters_combine_as_an_intersection() {
        let overdue = Selection {
            overdue: true,
            ..Selection::default()
        };
        assert_eq!(ids(&overdue), ["beta/late"]);
        let both = Selection {
            overdue: true,
            due_within_days: Some(30),
            client: Some("acme".into()),
            ..Selection::default()
        };
        assert!(ids(&both).is_empty());
        let stale_acme = Selection {
            stale: true,
            client: Some("acme".into()),
            ..Selection::default()
        };
        assert_eq!(ids(&stale_acme), ["acme/idle"]);
    }

    /// Regression: a revoked credential was still "overdue" and `rotate --overdue` planned
    /// a new key for it.
    #[test]
    fn revoked_credentials_are_never_picked_by_a_filter() {
        for sel in [
            Selection {
                overdue: true,
                ..Selection::default()
            },
            Selection {
                due_within_days: Some(36_500),
                ..Selection::default()
            },
            Selection {
                stale: true,
                ..Selection::default()
            },
            Selection {
                client: Some("beta".into()),
                ..Selection::default()
            },
            Selection::default(),
        ] {
            assert!(!ids(&sel).contains(&"beta/old".to_string()), "{sel:?}");
        }
        // Shown when asked to show everything, and picked when named.
        let all = Selection {
            include_retired: true,
            ..Selection::default()
        };
        assert!(ids(&all).contains(&"beta/old".to_string()));
        let named = Selection {
            refs: vec!["beta/old".parse().unwrap()],
            ..Selection::default()
        };
        assert_eq!(ids(&named), ["beta/old"]);
    }

    #[test]
    fn words_parse_into_the_same_selection_as_flags() {
        let sel = Selection::parse_words(&["due", "30", "client", "acme", "stale"]).unwrap();
        assert_eq!(
            sel,
            Selection {
                due_within_days: Some(30),
                client: Some("acme".into()),
                stale: true,
                ..Selection::default()
            }
        );
        assert_eq!(
            Selection::parse_words(&["expiring", "7d"])
                .unwrap()
                .due_within_days,
            Some(7)
        );
        assert!(Selection::parse_words(&["due"]).is_err());
        assert!(Selection::parse_words(&["sideways"]).is_err());
        assert_eq!(
            Selection::parse_words(&["acme/crm"]).unwrap().refs,
            vec!["acme/crm".parse::<CredentialRef>().unwrap()]
        );
    }

    #[test]
    fn unknown_addresses_and_clients_are_errors_that_name_them() {
        let e = select(
            &inv(),
            &Selection {
                refs: vec!["acme/nope".parse().unwrap()],
                ..Selection::default()
            },
            now(),
        )
        .unwrap_err();
        assert_eq!(e, "no credential acme/nope");
        let e = select(
            &inv(),
            &Selection {
                client: Some("zeta".into()),
                ..Selection::default()
            },
            now(),
        )
        .unwrap_err();
        assert_eq!(e, "no client `zeta`");
    }

    #[test]
    fn a_huge_horizon_saturates_instead_of_panicking() {
        let sel = Selection {
            due_within_days: Some(36_500),
            ..Selection::default()
        };
        let picked = select(&inv(), &sel, DateTime::<Utc>::MAX_UTC).unwrap();
        // Every dated credential but the revoked one.
        assert_eq!(picked.len(), 4);
    }
}
