//! One credential's work: the journaled state machine of a rotation (create or roll or a
//! person's new secret, store, deploy, verify, revoke the old key, commit), a revocation,
//! a rollback, and the deletion of old keys past their grace period. Every transition is
//! saved before the next step; every provider call retries transient failures.

mod create;
mod deploy;
mod plan_item;
mod revoke;
mod revoke_old;
mod rollback;
mod verify;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::hooks::pause_at;
use super::interact::Question;
use super::plan::PlanItem;
use super::shared::{Ctx, Slot, Work};
use super::sink;
use super::writer::PersistError;
use super::{Outcome, OutcomeKind, Phase, RotationEvent};
use crate::inventory::journal::{
    Action, DeployRecord, PendingRevocation, Rotation, Step, Style, UnconfirmedRevocation,
    VerificationRecord,
};
use crate::inventory::{
    Credential, CredentialRef, Deploy, HistoryEntry, HistoryEvent, Inventory, ProviderKind,
    RemoteState, RemoteStatus,
};
use crate::providers::revocation::{self, Deletion, Revocation};
use crate::providers::{
    Capabilities, ErrorKind, OldAfterRoll, ProviderError, RotationStyle, SharedProvider, Target,
    Verification,
};
use crate::secret::Secret;

/// Where a step leaves the work.
enum Flow {
    /// Saved; go on to the journal's next step.
    Next,
    /// Finished.
    Done(String),
    /// Stopped for a person; journaled.
    Waiting(String),
    /// Failed; the inventory says what state it is in.
    Failed(String),
    /// A revocation the provider could not confirm; journaled for `resume` and a person.
    Unconfirmed(String),
}

/// What a credential's work needs from the inventory and the provider.
struct Resolved {
    target: Target,
    provider: SharedProvider,
    caps: Capabilities,
    /// Why the provider cannot rotate this key itself, when it cannot: the plan and the
    /// run then both go the manual way.
    manual_because: Option<String>,
}

/// One credential's work.
pub(super) struct Job {
    ctx: Arc<Ctx>,
    at: CredentialRef,
    attempts: u32,
    unsaved_attempts: u32,
    warnings: Vec<String>,
    /// Its place in the run's concurrency, given back while it only waits.
    slot: Slot,
}

fn style_of(r: RotationStyle) -> Style {
    match r {
        RotationStyle::CreateThenRevoke => Style::CreateThenRevoke,
        RotationStyle::RollInPlace => Style::RollInPlace,
        RotationStyle::Manual => Style::Manual,
    }
}

/// Whether the provider may have acted although the call failed (a 5xx, no answer, or an
/// answer keyward could not read, a 2xx included), as opposed to refusing before acting
/// (429, 4xx).
fn ambiguous(e: &ProviderError) -> bool {
    matches!(e.kind, ErrorKind::Transport | ErrorKind::BadResponse)
        || e.status.is_some_and(|s| s >= 500)
}

fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let d = now - then;
    let unit = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one} ago")
        } else {
            format!("{n} {one}s ago")
        }
    };
    if d.num_days() >= 1 {
        unit(d.num_days(), "day")
    } else if d.num_hours() >= 1 {
        unit(d.num_hours(), "hour")
    } else if d.num_minutes() >= 1 {
        unit(d.num_minutes(), "minute")
    } else {
        "just now".to_string()
    }
}

fn manual_instructions(at: &CredentialRef, c: &Credential) -> String {
    let mut s = format!("Issue a new key for {at}");
    if !c.name.is_empty() {
        s.push_str(&format!(" ({})", c.name));
    }
    s.push_str(" at the provider");
    if let Some(url) = c.params.get("rotate_at") {
        s.push_str(&format!(": {url}"));
    }
    if let Some(notes) = &c.notes {
        s.push_str(&format!(". Notes: {notes}"));
    }
    s
}

/// Every key id the inventory knows about, on any credential: never a stray.
fn recorded_ids(inv: &Inventory) -> HashSet<String> {
    let mut ids = HashSet::new();
    for (_, _, c) in inv.credentials() {
        ids.extend(c.remote_id.clone());
        ids.extend(c.pending_revocations.iter().map(|p| p.remote_id.clone()));
        if let Some(r) = &c.rotation {
            ids.extend(r.old_remote_id.clone());
            ids.extend(r.new_remote_id.clone());
        }
    }
    ids
}

/// When an old key deactivated at `now` is deleted: `grace` later, or the calendar's end for
/// a grace period too long to add.
fn delete_after(now: DateTime<Utc>, grace: chrono::Duration) -> DateTime<Utc> {
    now.checked_add_signed(grace)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How far the provider's clock may be from this machine's.
const CLOCK_SKEW_MINUTES: i64 = 5;

/// How long after `create_sent_at` a create (its retries included) may still have made a key.
const CREATE_WINDOW_MINUTES: i64 = 30;

/// Whether a key made at `made` (provider's clock) can come from a create sent at `sent`.
fn within_create_window(made: DateTime<Utc>, sent: DateTime<Utc>) -> bool {
    let skew = chrono::Duration::minutes(CLOCK_SKEW_MINUTES);
    made >= sent - skew && made <= sent + skew + chrono::Duration::minutes(CREATE_WINDOW_MINUTES)
}

/// The time in the ` (rotated …)` mark keyward puts in a replacement key's name, for
/// providers that list names but no dates.
fn rotation_mark_time(name: &str) -> Option<DateTime<Utc>> {
    let rest = &name[name.rfind(" (rotated ")? + " (rotated ".len()..];
    let stamp = rest.strip_suffix(')')?.trim_end_matches(" UTC");
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(stamp, f).ok())
        .map(|t| t.and_utc())
}

/// What a sweep did: keys deleted, keys that may be the rotation's but carry no date, and
/// deletions the provider could not confirm.
#[derive(Default)]
struct Swept {
    deleted: Vec<String>,
    unsure: Vec<String>,
    unconfirmed: Vec<String>,
}

impl Job {
    pub(super) fn new(ctx: Arc<Ctx>, at: CredentialRef) -> Job {
        Job {
            ctx,
            at,
            attempts: 0,
            unsaved_attempts: 0,
            warnings: Vec::new(),
            slot: Slot::unlimited(),
        }
    }

    /// The job, running in `slot` (already taken).
    pub(super) fn in_slot(mut self, slot: Slot) -> Job {
        self.slot = slot;
        self
    }

    pub(super) async fn run(mut self, work: Work) -> Outcome {
        self.ctx.emit(RotationEvent::Started {
            at: self.at.to_string(),
            work: work.kind(),
        });
        let flow = match work {
            Work::Rotate => match self.begin_rotation().await {
                Flow::Next => self.advance(false).await,
                other => other,
            },
            Work::Resume => match self.journal() {
                Some(_) => self.advance(true).await,
                None => Flow::Done("nothing in flight".into()),
            },
            Work::Rollback => match self.journal() {
                Some(_) => self.rollback().await,
                None => Flow::Done("nothing in flight".into()),
            },
            Work::Revoke { emergency } => match self.begin_revoke(emergency).await {
                Flow::Next => self.advance(false).await,
                other => other,
            },
            Work::DeleteDue => self.delete_due().await,
            Work::Deploy => self.redeploy().await,
        };
        let (kind, message) = match flow {
            Flow::Done(m) => (OutcomeKind::Done, m),
            Flow::Waiting(m) => (OutcomeKind::Waiting, m),
            Flow::Failed(m) => (OutcomeKind::Failed, m),
            Flow::Unconfirmed(m) => (OutcomeKind::Unconfirmed, m),
            Flow::Next => (OutcomeKind::Done, String::new()),
        };
        Outcome {
            at: self.at,
            work: work.kind(),
            kind,
            message,
            attempts: self.attempts,
            warnings: self.warnings,
        }
    }

    // ---- plumbing ----

    fn journal(&self) -> Option<Rotation> {
        self.ctx
            .writer
            .read(|inv| inv.credential(&self.at).and_then(|c| c.rotation.clone()))
    }

    /// The target and its in-flight journal, for a step that continues a rotation: a
    /// credential that cannot be resolved keeps its journal for `resume`; a missing journal
    /// fails the step.
    async fn resolve_in_flight(&mut self) -> Result<(Resolved, Rotation), Flow> {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Err(self.fail_keep(e).await),
        };
        match r.target.credential.rotation.clone() {
            Some(journal) => Ok((r, journal)),
            None => Err(Flow::Failed("the journal is gone".into())),
        }
    }

    fn resolve(&self) -> Result<Resolved, String> {
        let (provider, target) = self
            .ctx
            .writer
            .read(|inv| self.ctx.providers.resolve(inv, &self.at))?;
        let mut caps = provider.capabilities_for(&target);
        let manual_because = provider.manual_because(&target);
        if manual_because.is_some() {
            caps.rotation = crate::providers::RotationStyle::Manual;
        }
        Ok(Resolved {
            target,
            provider,
            caps,
            manual_because,
        })
    }

    fn warn(&mut self, message: String) {
        self.ctx.emit(RotationEvent::Warning {
            at: self.at.to_string(),
            message: message.clone(),
        });
        self.warnings.push(message);
    }

    async fn enter(&self, phase: Phase) {
        tracing::debug!(credential = %self.at, step = phase.as_str(), "step entered");
        self.ctx.emit(RotationEvent::Step {
            at: self.at.to_string(),
            phase,
        });
        pause_at(phase, &self.at).await;
    }

    fn count_attempt(&mut self) {
        self.attempts += 1;
        self.unsaved_attempts += 1;
    }

    fn retrying(&self, phase: Phase, attempt: u32, reason: String) {
        self.ctx.emit(RotationEvent::Retrying {
            at: self.at.to_string(),
            phase,
            attempt,
            reason,
        });
    }

    /// Calls the provider, trying transient failures again after the wait the provider
    /// asked for, else with jittered backoff ([`super::StepRetry::wait_after`]); the job
    /// holds no concurrency slot while it waits, so a rate-limited credential leaves room
    /// for others and its lane never has more calls going than its size.
    async fn call<T, F, Fut>(&mut self, phase: Phase, mut f: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let retry = self.ctx.options.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.count_attempt();
            let started = std::time::Instant::now();
            let result = f().await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let (step, at) = (phase.as_str(), &self.at);
            match result {
                Ok(v) => {
                    tracing::debug!(credential = %at, step, attempt, elapsed_ms, "provider call");
                    return Ok(v);
                }
                Err(e) if e.is_transient() && attempt < retry.max_attempts => {
                    let wait = retry.wait_after(attempt, e.retry_after);
                    // Provider errors are redacted where they are made; long token runs are
                    // masked once more before an error text enters an event.
                    tracing::debug!(
                        credential = %at,
                        step,
                        attempt,
                        elapsed_ms,
                        wait_ms = wait.as_millis() as u64,
                        error = %crate::secret::redact_tokens(&e.to_string()),
                        "provider call failed; retrying"
                    );
                    self.retrying(phase, attempt, e.to_string());
                    self.slot.idle(wait).await;
                }
                Err(e) => {
                    tracing::debug!(
                        credential = %at,
                        step,
                        attempt,
                        elapsed_ms,
                        error = %crate::secret::redact_tokens(&e.to_string()),
                        "provider call failed"
                    );
                    return Err(e);
                }
            }
        }
    }

    /// Revokes the key `id` and confirms the provider's answer
    /// ([`revocation::revoke`]), trying transient failures again.
    async fn revoke_key(
        &mut self,
        phase: Phase,
        r: &Resolved,
        id: &str,
    ) -> Result<Revocation, ProviderError> {
        self.call(phase, || {
            revocation::revoke(r.provider.as_ref(), &r.target, id)
        })
        .await
    }

    /// The verdict on a deactivation the provider answered with "not found": confirmed
    /// like a deletion's, since the management credentials may simply not see the key.
    async fn confirm_not_found(&self, r: &Resolved, id: &str, e: &ProviderError) -> Revocation {
        let said = match e.status {
            Some(s) => format!("HTTP {s}: {}", e.message),
            None => e.message.clone(),
        };
        revocation::confirm(
            r.provider.as_ref(),
            &r.target,
            id,
            Deletion::NotFound { said },
        )
        .await
    }

    /// After a revocation of `id` the provider could not confirm: journals it (the journal
    /// stays at its revoke step), then asks a person. `None` when the person confirms the
    /// key is revoked; otherwise the flow to end with, for `resume` to try again.
    async fn unconfirmed_revocation(&mut self, id: &str, reason: &str) -> Option<Flow> {
        let q = Question::ConfirmRevocation {
            remote_id: id.to_string(),
            reason: reason.to_string(),
        };
        let record = UnconfirmedRevocation {
            remote_id: id.to_string(),
            at: self.ctx.now(),
            reason: reason.to_string(),
        };
        let waiting = q.waiting_for().to_string();
        let saved = self
            .save_journal(move |j| {
                j.revocation_unconfirmed = Some(record);
                j.waiting_for = Some(waiting);
                j.last_error = None;
            })
            .await;
        if saved.is_ok() && self.ctx.interact.confirm(&self.at, &q).await {
            return None;
        }
        let message = format!(
            "the revocation of {id} is unconfirmed: {reason}; the key may still work: `keyward \
             resume` tries again and asks a person to check"
        );
        Some(match saved {
            Ok(()) => Flow::Unconfirmed(message),
            Err(e) => Flow::Unconfirmed(format!("{message} (and it could not be recorded: {e})")),
        })
    }

    async fn save<F>(&self, f: F) -> Result<(), PersistError>
    where
        F: FnOnce(&mut Credential) + Send + 'static,
    {
        let at = self.at.clone();
        self.ctx
            .writer
            .commit(move |inv| {
                if let Some(c) = inv.credential_mut(&at) {
                    f(c);
                }
            })
            .await
    }

    async fn save_journal<F>(&mut self, f: F) -> Result<(), PersistError>
    where
        F: FnOnce(&mut Rotation) + Send + 'static,
    {
        let now = self.ctx.now();
        let add = std::mem::take(&mut self.unsaved_attempts);
        let result = self
            .save(move |c| {
                if let Some(r) = c.rotation.as_mut() {
                    f(r);
                    r.updated_at = now;
                    r.attempts += add;
                }
            })
            .await;
        if result.is_err() {
            self.unsaved_attempts += add;
        }
        result
    }

    /// Records that the work stopped for a person.
    async fn wait(&mut self, reason: &str) -> Flow {
        let r = reason.to_string();
        if let Err(e) = self
            .save_journal(move |j| {
                j.waiting_for = Some(r);
            })
            .await
        {
            self.warn(format!("could not record the wait: {e}"));
        }
        Flow::Waiting(reason.to_string())
    }

    /// Fails, leaving the journal in place with the error, for `resume` or `--rollback`.
    async fn fail_keep(&mut self, message: String) -> Flow {
        let m = message.clone();
        if let Err(e) = self
            .save_journal(move |j| {
                j.last_error = Some(m);
                j.waiting_for = None;
            })
            .await
        {
            return Flow::Failed(format!(
                "{message} (and the error could not be recorded: {e})"
            ));
        }
        Flow::Failed(message)
    }

    /// Removes the journal and records `event` in the history.
    async fn clear_journal(
        &mut self,
        event: HistoryEvent,
        detail: String,
    ) -> Result<(), PersistError> {
        let now = self.ctx.now();
        self.save(move |c| {
            c.rotation = None;
            c.history.push(HistoryEntry {
                at: now,
                event,
                detail,
            });
        })
        .await
    }

    /// Gives the rotation up with nothing left at the provider: the journal goes, the
    /// failure stays in the history.
    async fn abandon(&mut self, message: String) -> Flow {
        match self
            .clear_journal(HistoryEvent::RotationFailed, message.clone())
            .await
        {
            Ok(()) => Flow::Failed(message),
            Err(e) => Flow::Failed(format!(
                "{message}; the journal could not be cleared ({e}): `keyward resume --rollback` \
                 clears it"
            )),
        }
    }

    /// Deletes keys of the owner that this rotation made but never recorded: listed now, not
    /// in the snapshot taken before the provider was asked, not recorded anywhere, and made
    /// (by the provider's date, or the date in the name keyward gave it) within the window
    /// around `create_sent_at`. The provider may list every key on the account, so a key
    /// someone else made meanwhile must survive; a candidate with no date to tell by is
    /// returned as unsure, for a person to check, and left alone.
    async fn sweep(&mut self, r: &Resolved, journal: &Rotation) -> Result<Swept, ProviderError> {
        let keys = self
            .call(Phase::Create, || r.provider.list(&r.target))
            .await?;
        let recorded = self.ctx.writer.read(recorded_ids);
        let mut swept = Swept::default();
        for k in keys {
            if journal.known_keys.contains(&k.remote_id) || recorded.contains(&k.remote_id) {
                continue;
            }
            let made = k
                .created_at
                .or_else(|| k.name.as_deref().and_then(rotation_mark_time));
            match (made, journal.create_sent_at) {
                (Some(t), Some(sent)) if within_create_window(t, sent) => {
                    swept.deleted.push(k.remote_id)
                }
                (Some(_), Some(_)) => {}
                _ => swept.unsure.push(k.remote_id),
            }
        }
        let mut deleted = Vec::new();
        for id in std::mem::take(&mut swept.deleted) {
            match self.revoke_key(Phase::Create, r, &id).await? {
                Revocation::Unconfirmed { reason } => {
                    swept.unconfirmed.push(format!("{id} ({reason})"))
                }
                _ => deleted.push(id),
            }
        }
        swept.deleted = deleted;
        Ok(swept)
    }

    /// Warns about what a sweep found; `deleted_note` ends the sentence about deleted keys.
    fn report_sweep(&mut self, swept: &Swept, deleted_note: &str) {
        if !swept.deleted.is_empty() {
            self.warn(format!(
                "deleted {} {deleted_note}",
                swept.deleted.join(", ")
            ));
        }
        if !swept.unconfirmed.is_empty() {
            self.warn(format!(
                "the deletion of {} is unconfirmed: check at the provider and delete by hand",
                swept.unconfirmed.join(", ")
            ));
        }
        if !swept.unsure.is_empty() {
            self.warn(format!(
                "{} possibly created by the interrupted rotation (the provider gives no date to \
                 tell by): check and delete by hand",
                swept.unsure.join(", ")
            ));
        }
    }

    async fn advance(&mut self, resuming: bool) -> Flow {
        let mut resuming = resuming;
        loop {
            let Some(j) = self.journal() else {
                return Flow::Failed("the journal is gone; nothing to continue".into());
            };
            let flow = match (j.action, j.step) {
                (Action::Rotate, Step::Create) => match j.style {
                    Style::CreateThenRevoke => self.create(resuming).await,
                    Style::RollInPlace => self.roll(resuming).await,
                    Style::Manual => self.manual_create().await,
                },
                (Action::Rotate, Step::Deploy) => self.deploy().await,
                (Action::Rotate, Step::Verify) => self.verify().await,
                (Action::Rotate, Step::RevokeOld) => self.revoke_old().await,
                (Action::Revoke | Action::EmergencyRevoke, Step::Revoke) => self.revoke().await,
                (_, step) => Flow::Failed(format!(
                    "the journal ({}) stands at `{step}`, which its action has no such step; \
                     `keyward resume --rollback` clears it",
                    j.summary()
                )),
            };
            resuming = false;
            match flow {
                Flow::Next => continue,
                other => return other,
            }
        }
    }
}

fn short_id() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(6)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_deleted_keys_others_made_meanwhile_reads_only_keywards_mark_and_window() {
        let t = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
        };
        assert_eq!(
            rotation_mark_time("CRM bot (rotated 2026-01-02 03:04)"),
            Some(t("2026-01-02 03:04:00"))
        );
        assert_eq!(
            rotation_mark_time("ci (rotated 2026-01-02 03:04:05 UTC)"),
            Some(t("2026-01-02 03:04:05"))
        );
        assert_eq!(rotation_mark_time("someone's key"), None);
        assert_eq!(rotation_mark_time("x (rotated soon)"), None);
        let sent = t("2026-01-02 03:00:00");
        assert!(within_create_window(t("2026-01-02 02:56:00"), sent));
        assert!(within_create_window(t("2026-01-02 03:20:00"), sent));
        assert!(!within_create_window(t("2026-01-02 02:50:00"), sent));
        assert!(!within_create_window(t("2026-01-04 03:00:00"), sent));
    }

    #[test]
    fn grace_days_overflow_panicked_after_deactivation() {
        let now = Utc::now();
        let huge = chrono::Duration::days(i64::from(u32::MAX));
        assert_eq!(delete_after(now, huge), DateTime::<Utc>::MAX_UTC);
        let week = chrono::Duration::days(7);
        assert_eq!(delete_after(now, week), now + week);
    }
}
