//! A credential's status and the reasons for it, judged at a `now` the caller passes in.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Credential, Policy, RemoteStatus};

/// How urgently a credential needs attention. Ordered from worst to best, so sorting by
/// status puts what needs doing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Past its expiry date: the provider no longer accepts it.
    Expired,
    /// Past its rotation date.
    Overdue,
    /// A rotation or revocation was interrupted (or waits for a person): finish it with
    /// `keyward resume`, or undo it.
    Interrupted,
    /// Expiry or rotation falls within the warning window.
    DueSoon,
    /// Not used for longer than the policy allows: a candidate for revocation.
    Stale,
    /// Not enough dates to judge.
    Unknown,
    /// Nothing to do.
    Ok,
    /// Revoked by keyward: out of service, never due, left out of every selection of work.
    Revoked,
}

impl Status {
    /// Every status, worst first.
    pub const ALL: [Status; 8] = [
        Status::Expired,
        Status::Overdue,
        Status::Interrupted,
        Status::DueSoon,
        Status::Stale,
        Status::Unknown,
        Status::Ok,
        Status::Revoked,
    ];

    /// The word shown in tables, readable without colour.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Expired => "expired",
            Status::Overdue => "overdue",
            Status::Interrupted => "interrupted",
            Status::DueSoon => "due-soon",
            Status::Stale => "stale",
            Status::Unknown => "unknown",
            Status::Ok => "ok",
            Status::Revoked => "revoked",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason behind a status, in words a person acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Expired `days` days ago.
    Expired {
        /// Whole days.
        days: i64,
    },
    /// Expires in `days` days.
    ExpiresSoon {
        /// Whole days.
        days: i64,
    },
    /// Rotation was due `days` days ago.
    RotationOverdue {
        /// Whole days.
        days: i64,
    },
    /// Rotation falls due in `days` days.
    RotationDueSoon {
        /// Whole days.
        days: i64,
    },
    /// Not used for `days` days.
    Unused {
        /// Whole days.
        days: i64,
    },
    /// Never used, and issued `days` days ago.
    NeverUsed {
        /// Whole days.
        days: i64,
    },
    /// The provider no longer knows the key.
    MissingAtProvider,
    /// Deactivated at the provider.
    InactiveAtProvider,
    /// A risk someone flagged.
    Flagged {
        /// The risk, in words.
        text: String,
    },
    /// No expiry, creation or rotation date to judge from.
    NoDates,
    /// A rotation or revocation stopped part-way; the journal says where.
    Interrupted {
        /// The journal's summary: what, which step, what it waits for.
        summary: String,
    },
    /// Revoked by keyward.
    Revoked {
        /// While the deactivated key waits out its grace period: when it will be deleted.
        delete_after: Option<DateTime<Utc>>,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Expired { days } => write!(f, "expired {} ago", days_words(*days)),
            Reason::ExpiresSoon { days } => write!(f, "expires in {}", days_words(*days)),
            Reason::RotationOverdue { days } => {
                write!(f, "rotation overdue by {}", days_words(*days))
            }
            Reason::RotationDueSoon { days } => write!(f, "rotation due in {}", days_words(*days)),
            Reason::Unused { days } => write!(f, "not used for {}", days_words(*days)),
            Reason::NeverUsed { days } => {
                write!(f, "never used, issued {} ago", days_words(*days))
            }
            Reason::MissingAtProvider => f.write_str("the provider no longer knows this key"),
            Reason::InactiveAtProvider => f.write_str("deactivated at the provider"),
            Reason::Flagged { text } => f.write_str(text),
            Reason::NoDates => f.write_str("no expiry, creation or rotation date recorded"),
            Reason::Interrupted { summary } => {
                write!(f, "{summary}: finish it with `keyward resume`")
            }
            Reason::Revoked {
                delete_after: Some(at),
            } => write!(f, "revoked, deleted after {}", at.format("%Y-%m-%d")),
            Reason::Revoked { delete_after: None } => f.write_str("revoked"),
        }
    }
}

fn days_words(days: i64) -> String {
    if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

/// A credential's status at one moment, with its reasons and the next date that matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// The worst status any rule gives.
    pub status: Status,
    /// Every rule that fired, worst first.
    pub reasons: Vec<Reason>,
    /// The earlier of expiry and the rotation date: when something must happen.
    pub due_at: Option<DateTime<Utc>>,
}

/// Whole days from `a` to `b`, rounding towards the earlier date for past spans.
fn days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a).num_days()
}

/// Judges `credential` under `global` policy at `now`.
pub fn assess(credential: &Credential, global: &Policy, now: DateTime<Utc>) -> Assessment {
    if let Some(retired) = credential.retirement() {
        return Assessment {
            status: Status::Revoked,
            reasons: vec![Reason::Revoked {
                delete_after: retired.delete_after,
            }],
            due_at: None,
        };
    }
    let policy = credential.effective_policy(global);
    let warn = Duration::days(i64::from(policy.warn_before_days));
    let mut found: Vec<(Status, Reason)> = Vec::new();

    if let Some(exp) = credential.expires_at {
        if exp <= now {
            found.push((
                Status::Expired,
                Reason::Expired {
                    days: days_between(exp, now),
                },
            ));
        } else if exp - now <= warn {
            found.push((
                Status::DueSoon,
                Reason::ExpiresSoon {
                    days: days_between(now, exp),
                },
            ));
        }
    }

    let rotation_due = credential
        .last_rotated_at
        .or(credential.created_at)
        // Checked: a period too long for the calendar means never due, not a panic.
        .and_then(|from| {
            from.checked_add_signed(Duration::days(i64::from(policy.rotate_every_days)))
        });
    if let Some(due) = rotation_due {
        if due <= now {
            found.push((
                Status::Overdue,
                Reason::RotationOverdue {
                    days: days_between(due, now),
                },
            ));
        } else if due - now <= warn {
            found.push((
                Status::DueSoon,
                Reason::RotationDueSoon {
                    days: days_between(now, due),
                },
            ));
        }
    }

    let stale_after = Duration::days(i64::from(policy.stale_after_days));
    match (credential.last_used_at, credential.created_at) {
        (Some(used), _) if now - used > stale_after => {
            found.push((
                Status::Stale,
                Reason::Unused {
                    days: days_between(used, now),
                },
            ));
        }
        (None, Some(created)) if now - created > stale_after => {
            found.push((
                Status::Stale,
                Reason::NeverUsed {
                    days: days_between(created, now),
                },
            ));
        }
        _ => {}
    }

    match credential.remote.as_ref().map(|r| r.state) {
        Some(RemoteStatus::Missing) => found.push((Status::Stale, Reason::MissingAtProvider)),
        Some(RemoteStatus::Inactive) => found.push((Status::Stale, Reason::InactiveAtProvider)),
        _ => {}
    }

    if let Some(journal) = &credential.rotation {
        found.push((
            Status::Interrupted,
            Reason::Interrupted {
                summary: journal.summary(),
            },
        ));
    }

    let no_dates = credential.expires_at.is_none() && rotation_due.is_none();
    if no_dates {
        found.push((Status::Unknown, Reason::NoDates));
    }
    for risk in &credential.risks {
        found.push((Status::Ok, Reason::Flagged { text: risk.clone() }));
    }

    found.sort_by_key(|(s, _)| *s);
    let status = found.first().map(|(s, _)| *s).unwrap_or(Status::Ok);
    let due_at = match (credential.expires_at, rotation_due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Assessment {
        status,
        reasons: found.into_iter().map(|(_, r)| r).collect(),
        due_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ProviderKind, RemoteState};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
    }

    fn cred() -> Credential {
        Credential::new("k", ProviderKind::Sandbox)
    }

    fn days_ago(d: i64) -> Option<DateTime<Utc>> {
        Some(now() - Duration::days(d))
    }

    #[test]
    fn fresh_credential_is_ok() {
        let mut c = cred();
        c.created_at = days_ago(10);
        c.last_used_at = days_ago(1);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Ok);
        assert!(a.reasons.is_empty());
        assert_eq!(a.due_at, days_ago(10).map(|d| d + Duration::days(90)));
    }

    #[test]
    fn past_expiry_is_expired_even_if_recently_rotated() {
        let mut c = cred();
        c.created_at = days_ago(5);
        c.last_used_at = days_ago(1);
        c.expires_at = days_ago(3);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Expired);
        assert_eq!(a.reasons, vec![Reason::Expired { days: 3 }]);
    }

    #[test]
    fn expiry_inside_the_warning_window_is_due_soon() {
        let mut c = cred();
        c.created_at = days_ago(5);
        c.last_used_at = days_ago(1);
        c.expires_at = Some(now() + Duration::days(7));
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::DueSoon);
        assert_eq!(a.reasons, vec![Reason::ExpiresSoon { days: 7 }]);
    }

    #[test]
    fn rotation_past_policy_is_overdue_and_override_wins() {
        let mut c = cred();
        c.created_at = days_ago(200);
        c.last_rotated_at = days_ago(40);
        c.last_used_at = days_ago(1);
        assert_eq!(assess(&c, &Policy::default(), now()).status, Status::Ok);
        c.rotate_every_days = Some(30);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Overdue);
        assert_eq!(a.reasons, vec![Reason::RotationOverdue { days: 10 }]);
    }

    #[test]
    fn unused_beyond_policy_is_stale_with_days_in_the_reason() {
        let mut c = cred();
        c.created_at = days_ago(20);
        c.last_used_at = days_ago(143);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Stale);
        assert_eq!(a.reasons[0].to_string(), "not used for 143 days");
    }

    #[test]
    fn never_used_old_key_is_stale() {
        let mut c = cred();
        c.created_at = days_ago(70);
        c.rotate_every_days = Some(365);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Stale);
        assert_eq!(a.reasons, vec![Reason::NeverUsed { days: 70 }]);
    }

    #[test]
    fn no_dates_is_unknown() {
        let a = assess(&cred(), &Policy::default(), now());
        assert_eq!(a.status, Status::Unknown);
        assert_eq!(a.reasons, vec![Reason::NoDates]);
        assert_eq!(a.due_at, None);
    }

    #[test]
    fn worst_status_wins_and_all_reasons_are_kept() {
        let mut c = cred();
        c.created_at = days_ago(100);
        c.expires_at = days_ago(1);
        c.last_used_at = days_ago(90);
        c.risks.push("scope `admin` broader than needed".into());
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Expired);
        assert_eq!(a.reasons.len(), 4);
        assert_eq!(
            a.reasons[3].to_string(),
            "scope `admin` broader than needed"
        );
    }

    /// Regression: `rotate_every_days: 4000000000` overflowed the date and panicked every
    /// command that judges status.
    #[test]
    fn an_absurd_rotation_period_is_never_due_not_a_panic() {
        let mut c = cred();
        c.created_at = days_ago(1);
        c.last_used_at = days_ago(1);
        c.rotate_every_days = Some(u32::MAX);
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Unknown);
        assert_eq!(a.due_at, None);
    }

    /// Regression: after `keyward revoke` (planned: deactivated, deleted after the grace
    /// period) the credential stayed "overdue" everywhere and `check` stayed CRITICAL.
    #[test]
    fn a_revoked_credential_is_revoked_not_overdue() {
        let mut c = cred();
        c.created_at = days_ago(400);
        c.remote_id = Some("K1".into());
        c.remote = Some(RemoteState {
            state: RemoteStatus::Inactive,
            checked_at: now(),
        });
        c.pending_revocations
            .push(crate::inventory::journal::PendingRevocation {
                remote_id: "K1".into(),
                deactivated_at: days_ago(1).unwrap(),
                delete_after: now() + Duration::days(6),
                last_error: None,
            });
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Revoked);
        assert_eq!(a.due_at, None);
        assert_eq!(
            a.reasons[0].to_string(),
            "revoked, deleted after 2026-12-02"
        );
        // An emergency revocation (deleted at once) likewise.
        c.pending_revocations.clear();
        c.remote.as_mut().unwrap().state = RemoteStatus::Revoked;
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Revoked);
        assert_eq!(a.reasons[0].to_string(), "revoked");
    }

    /// Regression: `list` showed a credential with an interrupted rotation as `ok` with no
    /// reason.
    #[test]
    fn an_interrupted_rotation_is_a_status_with_its_reason() {
        use crate::inventory::journal::{Action, Rotation, Step, Style};
        let mut c = cred();
        c.created_at = days_ago(10);
        c.last_used_at = days_ago(1);
        c.rotation = Some(Rotation::new(
            "rot-1".into(),
            Action::Rotate,
            Style::CreateThenRevoke,
            Step::Deploy,
            now(),
            Some("K1".into()),
        ));
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Interrupted);
        assert!(
            a.reasons[0].to_string().contains("keyward resume"),
            "{}",
            a.reasons[0]
        );
    }

    #[test]
    fn missing_at_provider_is_flagged_stale() {
        let mut c = cred();
        c.created_at = days_ago(1);
        c.last_used_at = days_ago(1);
        c.remote = Some(RemoteState {
            state: RemoteStatus::Missing,
            checked_at: now(),
        });
        let a = assess(&c, &Policy::default(), now());
        assert_eq!(a.status, Status::Stale);
        assert_eq!(a.reasons, vec![Reason::MissingAtProvider]);
    }
}
