//! The journal of a rotation or revocation in flight, kept on the credential itself, and
//! the old keys waiting out their grace period before deletion.
//!
//! Only data the inventory needs to show and resume the work lives here: no provider or
//! HTTP types. The rotation engine saves every change to these records before it takes
//! the next step, so after a crash the file says exactly how far a rotation got.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// What the journaled work is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Replace the credential with a new one.
    Rotate,
    /// Deactivate the key now and delete it after the grace period.
    Revoke,
    /// Delete the key now.
    EmergencyRevoke,
}

/// How the new secret comes about (the provider's rotation style, as recorded).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// A new key beside the old one; the old one is revoked after the new one works.
    CreateThenRevoke,
    /// The value is replaced in place; the old value died with the roll.
    RollInPlace,
    /// A person rotates it at the provider and enters the new secret.
    Manual,
}

/// The step a journal stands at: the work of this step has not been confirmed done.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The intent is recorded; the provider may or may not have issued the new key (or
    /// rolled it, or the person may be entering it).
    Create,
    /// The new secret is stored; consumers have not been confirmed updated.
    Deploy,
    /// Deployed; the new secret has not been confirmed working.
    Verify,
    /// Verified; the old key is not yet revoked.
    RevokeOld,
    /// (revocations) The key is being revoked.
    Revoke,
}

impl Step {
    /// The step's name, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Create => "create",
            Step::Deploy => "deploy",
            Step::Verify => "verify",
            Step::RevokeOld => "revoke-old",
            Step::Revoke => "revoke",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a deploy went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeployRecord {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// The target's kind (`command`, `manual`, `env-file`, `ssh`, …).
    pub sink: String,
    /// The target's place in the credential's `deploy:` list, from 0; none for the record
    /// of the whole deploy step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
    /// Whether the consumers now hold the new secret.
    pub ok: bool,
    /// The command's exit code, if it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The command's output (stdout then stderr), every secret masked, cut to a tail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// What went wrong, or who confirmed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// How a deploy check (`deploy_check`) went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CheckRecord {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Whether it passed.
    pub ok: bool,
    /// What it said, every secret masked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What the provider said about the new secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VerificationRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// `valid`, `invalid`, `could-not-check` or `cannot-check`.
    pub result: String,
    /// The provider's reason, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A person confirmed a secret the provider cannot check.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed_by_person: bool,
}

/// A rotation or revocation in flight.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Unique id, for the audit trail and messages.
    pub id: String,
    /// Rotation or revocation.
    pub action: Action,
    /// How the new secret comes about.
    pub style: Style,
    /// Where it stands.
    pub step: Step,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// Who began it (`user@host`): the journal is the claim on the credential, and a
    /// second writer refused by it is told whose it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// When the journal last changed.
    pub updated_at: DateTime<Utc>,
    /// The key being replaced or revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_remote_id: Option<String>,
    /// The owner's keys just before the new one was asked for: a key listed later that is
    /// not among these (nor recorded anywhere) is one this rotation made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_keys: Vec<String>,
    /// When keyward last asked the provider for a new key, by this machine's clock (never a
    /// `--now` override, so that it compares with the provider's dates): a stray key made
    /// well before or well after this is someone else's, not this rotation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_sent_at: Option<DateTime<Utc>>,
    /// The new key's id, once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_remote_id: Option<String>,
    /// The new secret, once issued: saved before anything else happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_secret: Option<Secret>,
    /// When the new key was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_created_at: Option<DateTime<Utc>>,
    /// When the new key expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_expires_at: Option<DateTime<Utc>>,
    /// The new key's scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_scopes: Vec<String>,
    /// Non-secret values the provider returned with the new key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub new_params: BTreeMap<String, String>,
    /// When a deploy command was started whose end is not recorded yet: set (and saved)
    /// before the command runs, cleared with the [`DeployRecord`] of how it ended. Found set
    /// after a crash, the command may have reached some consumers, so it is not simply run
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_started_at: Option<DateTime<Utc>>,
    /// Which target (its place in `deploy:`) the unfinished delivery of `deploy_started_at`
    /// was for; none in journals written before targets came in lists (the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_started_target: Option<usize>,
    /// How each target's delivery went, one record per target, the latest attempt's: a
    /// resumed deploy skips the targets recorded ok.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployed: Vec<DeployRecord>,
    /// How the deploy check last went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_check: Option<CheckRecord>,
    /// How the last deploy went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployRecord>,
    /// What the last verification said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationRecord>,
    /// Steps tried, retries included.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, never containing a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// What a person must do before it can go on, when it stopped for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The last revocation the provider could not confirm: the key may still work, so the
    /// journal stays at its revoke step until a retry or a person confirms it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_unconfirmed: Option<UnconfirmedRevocation>,
}

/// A revocation the provider could not confirm (a "not found" that no listing confirmed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UnconfirmedRevocation {
    /// The key's id.
    pub remote_id: String,
    /// When it was last tried.
    pub at: DateTime<Utc>,
    /// What was seen, and why it proves nothing (never a secret).
    pub reason: String,
}

impl Rotation {
    /// A journal at its first step.
    pub fn new(
        id: String,
        action: Action,
        style: Style,
        step: Step,
        now: DateTime<Utc>,
        old_remote_id: Option<String>,
    ) -> Self {
        Rotation {
            id,
            action,
            style,
            step,
            started_at: now,
            started_by: None,
            updated_at: now,
            old_remote_id,
            known_keys: Vec::new(),
            create_sent_at: None,
            new_remote_id: None,
            new_secret: None,
            new_created_at: None,
            new_expires_at: None,
            new_scopes: Vec::new(),
            new_params: BTreeMap::new(),
            deploy_started_at: None,
            deploy_started_target: None,
            deployed: Vec::new(),
            deploy_check: None,
            deploy: None,
            verification: None,
            attempts: 0,
            last_error: None,
            waiting_for: None,
            revocation_unconfirmed: None,
        }
    }

    /// Who claimed the credential with this journal and when, for a writer refused by it:
    /// `rot-… started 2026-01-02T03:04:05Z by alice@laptop`.
    pub fn claim(&self) -> String {
        let at = self
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match &self.started_by {
            Some(who) => format!("{} started {at} by {who}", self.id),
            None => format!("{} started {at}", self.id),
        }
    }

    /// One line for tables: action, step, and why it stopped if it did.
    pub fn summary(&self) -> String {
        let action = match self.action {
            Action::Rotate => "rotation",
            Action::Revoke => "revocation",
            Action::EmergencyRevoke => "emergency revocation",
        };
        let mut s = format!("{action} {} at {}", self.id, self.step);
        if let Some(u) = &self.revocation_unconfirmed {
            s.push_str(&format!(
                ", revocation of {} unconfirmed: {}",
                u.remote_id, u.reason
            ));
        } else if let Some(w) = &self.waiting_for {
            s.push_str(&format!(", waiting: {w}"));
        } else if let Some(e) = &self.last_error {
            s.push_str(&format!(", last error: {e}"));
        }
        s
    }
}

/// An old key deactivated by keyward and due for deletion after its grace period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PendingRevocation {
    /// The provider's id for the key.
    pub remote_id: String,
    /// When it was deactivated.
    pub deactivated_at: DateTime<Utc>,
    /// When keyward deletes it.
    pub delete_after: DateTime<Utc>,
    /// The last failed attempt to delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{with_secrets_exposed, MASK};
    use chrono::TimeZone;

    #[test]
    fn journal_round_trips_and_masks_its_secret_outside_storage() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
        let mut r = Rotation::new(
            "rot-1".into(),
            Action::Rotate,
            Style::CreateThenRevoke,
            Step::Deploy,
            now,
            Some("OLD".into()),
        );
        r.new_secret = Some(Secret::new("sk-new-secret-value-123"));
        r.new_remote_id = Some("NEW".into());

        let shown = serde_yaml::to_string(&r).unwrap();
        assert!(shown.contains(MASK) && !shown.contains("sk-new-secret-value-123"));
        assert!(shown.contains("step: deploy"), "{shown}");

        let stored = with_secrets_exposed(|| serde_yaml::to_string(&r).unwrap());
        let back: Rotation = serde_yaml::from_str(&stored).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.summary(), "rotation rot-1 at deploy".to_string());
    }

    #[test]
    fn unknown_journal_fields_are_refused() {
        let text = "id: r\naction: rotate\nstyle: manual\nstep: create\nstarted_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nsecret_copy: x\n";
        let e = serde_yaml::from_str::<Rotation>(text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret_copy"), "{e}");
    }
}
