//! One credential's work: the journaled state machine of a rotation (create or roll or a
//! person's new secret, store, deploy, verify, revoke the old key, commit), a revocation,
//! a rollback, and the deletion of old keys past their grace period. Every transition is
//! saved before the next step; every provider call retries transient failures.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::deploy;
use super::engine::{Ctx, Work};
use super::hooks::pause_at;
use super::interact::Question;
use super::plan::PlanItem;
use super::writer::PersistError;
use super::{Outcome, OutcomeKind, Phase, RotationEvent};
use crate::inventory::journal::{
    Action, DeployRecord, PendingRevocation, Rotation, Step, Style, VerificationRecord,
};
use crate::inventory::{
    Credential, CredentialRef, Deploy, HistoryEntry, HistoryEvent, Inventory, ProviderKind,
    RemoteState, RemoteStatus,
};
use crate::providers::{
    Capabilities, ErrorKind, ProviderError, RotationStyle, SharedProvider, Target, Verification,
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
}

/// What a credential's work needs from the inventory and the provider.
struct Resolved {
    target: Target,
    provider: SharedProvider,
    caps: Capabilities,
}

/// One credential's work.
pub(super) struct Job {
    ctx: Arc<Ctx>,
    at: CredentialRef,
    attempts: u32,
    unsaved_attempts: u32,
    warnings: Vec<String>,
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

/// What a sweep did: keys deleted, and keys that may be the rotation's but carry no date.
#[derive(Default)]
struct Swept {
    deleted: Vec<String>,
    unsure: Vec<String>,
}

impl Job {
    pub(super) fn new(ctx: Arc<Ctx>, at: CredentialRef) -> Job {
        Job {
            ctx,
            at,
            attempts: 0,
            unsaved_attempts: 0,
            warnings: Vec::new(),
        }
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
        };
        let (kind, message) = match flow {
            Flow::Done(m) => (OutcomeKind::Done, m),
            Flow::Waiting(m) => (OutcomeKind::Waiting, m),
            Flow::Failed(m) => (OutcomeKind::Failed, m),
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
        let caps = provider.capabilities_for(&target);
        Ok(Resolved {
            target,
            provider,
            caps,
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

    /// Calls the provider, trying transient failures again with backoff.
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
                    let wait = retry.backoff(attempt);
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
                    tokio::time::sleep(wait).await;
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
        for id in &swept.deleted {
            self.call(Phase::Create, || r.provider.delete(&r.target, id))
                .await?;
        }
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
                    Style::RollInPlace => self.roll().await,
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

    // ---- planning ----

    pub(super) async fn plan_item(
        &mut self,
        why: String,
    ) -> (PlanItem, Option<String>, Vec<String>) {
        let provider = self
            .ctx
            .writer
            .read(|inv| inv.credential(&self.at).map(|c| c.provider))
            .unwrap_or(ProviderKind::Manual);
        let mut item = PlanItem {
            at: self.at.clone(),
            why,
            provider,
            style: None,
            steps: Vec::new(),
            needs_person: Vec::new(),
            warnings: Vec::new(),
            blocked: None,
            group: 0,
        };
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => {
                item.blocked = Some(e);
                return (item, None, Vec::new());
            }
        };
        let c = &r.target.credential;
        let conn = c.connection.clone();
        if let Some(j) = &c.rotation {
            item.blocked = Some(format!(
                "already in flight ({}): run `keyward resume`, or `keyward resume --rollback`",
                j.summary()
            ));
            return (item, conn, Vec::new());
        }
        if c.remote.as_ref().map(|s| s.state) == Some(RemoteStatus::Revoked) {
            item.blocked = Some("revoked: nothing to rotate".into());
            return (item, conn, Vec::new());
        }
        let style = r.caps.rotation;
        item.style = Some(style);
        item.steps = match style {
            RotationStyle::RollInPlace => {
                vec![
                    Phase::Create,
                    Phase::Store,
                    Phase::Deploy,
                    Phase::Verify,
                    Phase::Commit,
                ]
            }
            _ => vec![
                Phase::Create,
                Phase::Store,
                Phase::Deploy,
                Phase::Verify,
                Phase::RevokeOld,
                Phase::Commit,
            ],
        };
        let mut listed = Vec::new();
        match style {
            RotationStyle::RollInPlace => {
                item.warnings.push(
                    "rolls in place: the old value stops working at once, so its consumers fail \
                     until the new one is deployed"
                        .into(),
                );
                if c.remote_id.is_none() {
                    item.blocked = Some("has no `remote_id` to roll".into());
                }
            }
            RotationStyle::Manual => {
                let mut issue =
                    "a person to issue the new key at the provider and enter it".to_string();
                if let Some(url) = c.params.get("rotate_at") {
                    issue.push_str(&format!(" ({url})"));
                }
                item.needs_person.push(issue);
                item.needs_person
                    .push("a person to confirm the old key was revoked at the provider".into());
            }
            RotationStyle::CreateThenRevoke => {
                match self.call(Phase::Plan, || r.provider.list(&r.target)).await {
                    Ok(keys) => {
                        listed = keys.iter().map(|k| k.remote_id.clone()).collect();
                        if let Some(max) = r.caps.max_live_keys.map(|m| m as usize) {
                            let mut pending: Vec<&str> = c
                                .pending_revocations
                                .iter()
                                .map(|p| p.remote_id.as_str())
                                .filter(|id| listed.iter().any(|l| l == id))
                                .collect();
                            // An older file may name a key twice.
                            pending.sort_unstable();
                            pending.dedup();
                            if listed.len() >= max
                                && listed.len().saturating_sub(pending.len()) < max
                            {
                                item.warnings.push(format!(
                                    "the owner holds {} keys, the provider's limit: the \
                                     deactivated old key {} will be deleted early to make room",
                                    listed.len(),
                                    pending.join(", ")
                                ));
                            } else if listed.len() >= max {
                                item.blocked = Some(format!(
                                    "the owner already holds {} keys, the provider's limit ({}); \
                                     revoke one first",
                                    listed.len(),
                                    listed.join(", ")
                                ));
                            }
                        }
                    }
                    Err(e) => item.blocked = Some(format!("could not list the owner's keys: {e}")),
                }
            }
        }
        match &c.deploy {
            Some(Deploy::Command { .. }) => {}
            _ => item.needs_person.push(
                Question::DeployedByHand {
                    used_by: c.used_by.clone(),
                    instructions: None,
                }
                .waiting_for()
                .to_string(),
            ),
        }
        if !r.caps.can_verify {
            item.needs_person.push(
                "a person to confirm the new secret works (the provider cannot check it)".into(),
            );
        }
        (item, conn, listed)
    }

    // ---- rotation ----

    async fn begin_rotation(&mut self) -> Flow {
        self.enter(Phase::Plan).await;
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let c = &r.target.credential;
        if let Some(j) = &c.rotation {
            return Flow::Failed(format!(
                "already in flight ({}): run `keyward resume`, or `keyward resume --rollback`",
                j.summary()
            ));
        }
        let style = style_of(r.caps.rotation);
        let old = c.remote_id.clone();
        let mut known = Vec::new();
        match style {
            Style::RollInPlace if old.is_none() => {
                return Flow::Failed("has no `remote_id` to roll".into())
            }
            Style::CreateThenRevoke => {
                let keys = match self.call(Phase::Plan, || r.provider.list(&r.target)).await {
                    Ok(k) => k,
                    Err(e) => return Flow::Failed(format!("could not list the owner's keys: {e}")),
                };
                known = keys.into_iter().map(|k| k.remote_id).collect();
                if let Some(max) = r.caps.max_live_keys.map(|m| m as usize) {
                    if known.len() >= max {
                        if let Err(flow) = self.make_room(&r, &mut known, max).await {
                            return flow;
                        }
                    }
                }
            }
            _ => {}
        }
        let now = self.ctx.now();
        let mut journal = Rotation::new(
            format!("rot-{}-{}", now.format("%Y%m%dT%H%M%SZ"), short_id()),
            Action::Rotate,
            style,
            Step::Create,
            now,
            old,
        );
        journal.known_keys = known;
        journal.create_sent_at = Some(Utc::now());
        journal.attempts = std::mem::take(&mut self.unsaved_attempts);
        match self.save(move |c| c.rotation = Some(journal)).await {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "could not record the rotation before starting, so nothing was done: {e}"
            )),
        }
    }

    /// At the key limit: deletes this credential's deactivated old keys waiting out their
    /// grace period, which keyward was going to delete anyway.
    async fn make_room(
        &mut self,
        r: &Resolved,
        known: &mut Vec<String>,
        max: usize,
    ) -> Result<(), Flow> {
        let mut pending: Vec<String> = r
            .target
            .credential
            .pending_revocations
            .iter()
            .map(|p| p.remote_id.clone())
            .filter(|id| known.contains(id))
            .collect();
        // An older file may name a key twice.
        pending.sort_unstable();
        pending.dedup();
        if known.len().saturating_sub(pending.len()) >= max {
            return Err(Flow::Failed(format!(
                "the owner already holds {} keys, the provider's limit ({}); revoke one first",
                known.len(),
                known.join(", ")
            )));
        }
        for id in pending {
            if known.len() < max {
                break;
            }
            if let Err(e) = self
                .call(Phase::Plan, || r.provider.delete(&r.target, &id))
                .await
            {
                return Err(Flow::Failed(format!(
                    "at the key limit, and deleting the deactivated old key {id} failed: {e}"
                )));
            }
            let now = self.ctx.now();
            let gone = id.clone();
            if let Err(e) = self
                .save(move |c| {
                    c.pending_revocations.retain(|p| p.remote_id != gone);
                    c.history.push(HistoryEntry {
                        at: now,
                        event: HistoryEvent::DeletedOldKey,
                        detail: format!("{gone}, early, to stay within the provider's key limit"),
                    });
                })
                .await
            {
                return Err(Flow::Failed(format!(
                    "deleted the deactivated old key {id} but could not record it: {e}"
                )));
            }
            self.warn(format!(
                "deleted the deactivated old key {id} before its grace period ended, to stay \
                 within the provider's key limit"
            ));
            known.retain(|k| k != &id);
        }
        Ok(())
    }

    /// Create-then-revoke: asks the provider for a new key and saves it before anything else.
    async fn create(&mut self, resuming: bool) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        let Some(mut journal) = r.target.credential.rotation.clone() else {
            return Flow::Failed("the journal is gone".into());
        };
        if resuming || journal.create_sent_at.is_none() {
            if resuming {
                match self.sweep(&r, &journal).await {
                    Ok(swept) => self
                        .report_sweep(&swept, "made by the interrupted attempt but never recorded"),
                    Err(e) => {
                        return self
                            .fail_keep(format!(
                                "could not check for a key left by the interrupted attempt: {e}"
                            ))
                            .await
                    }
                }
            }
            // The window a later sweep looks in starts at this create, not the first one.
            let sent = Utc::now();
            journal.create_sent_at = Some(sent);
            if let Err(e) = self
                .save_journal(move |j| j.create_sent_at = Some(sent))
                .await
            {
                return self
                    .fail_keep(format!("could not record the new create: {e}"))
                    .await;
            }
        }
        self.enter(Phase::Create).await;
        let retry = self.ctx.options.retry;
        let mut attempt = 0;
        let issued = loop {
            attempt += 1;
            self.count_attempt();
            match r.provider.create(&r.target).await {
                Ok(k) => break k,
                Err(e) if e.is_transient() && attempt < retry.max_attempts => {
                    if ambiguous(&e) {
                        match self.sweep(&r, &journal).await {
                            Ok(swept) => self.report_sweep(&swept, "made by the failed create"),
                            Err(s) => {
                                return self
                                    .fail_keep(format!(
                                        "create failed ({e}) and checking for a half-made key \
                                         failed too ({s}): run `keyward resume`"
                                    ))
                                    .await;
                            }
                        }
                    }
                    self.retrying(Phase::Create, attempt, e.to_string());
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
                Err(e) => {
                    if !ambiguous(&e) {
                        return self.abandon(format!("create failed: {e}")).await;
                    }
                    let swept = match self.sweep(&r, &journal).await {
                        Ok(swept) => swept,
                        Err(s) => {
                            return self
                                .fail_keep(format!(
                                    "create failed ({e}) and checking for a half-made key failed \
                                     too ({s}): run `keyward resume`"
                                ))
                                .await;
                        }
                    };
                    self.report_sweep(&swept, "made by the failed create");
                    // An unreadable answer means the provider made a key; unless the sweep
                    // found and deleted it, the journal stays so that `resume` looks again.
                    let settled = swept.unsure.is_empty()
                        && (e.kind != ErrorKind::BadResponse || !swept.deleted.is_empty());
                    if settled {
                        return self.abandon(format!("create failed: {e}")).await;
                    }
                    return self
                        .fail_keep(format!(
                            "create failed: {e}; the provider may have made a key this rotation \
                             could not account for: `keyward resume` looks for it again, \
                             `keyward resume --rollback` gives up"
                        ))
                        .await;
                }
            }
        };
        self.enter(Phase::Store).await;
        let id = issued.remote_id.clone();
        let stored = self
            .save_journal(move |j| {
                j.new_remote_id = Some(issued.remote_id);
                j.new_secret = Some(issued.secret);
                j.new_created_at = issued.created_at;
                j.new_expires_at = issued.expires_at;
                j.new_scopes = issued.scopes;
                j.new_params = issued.params;
                j.step = Step::Deploy;
                j.last_error = None;
                j.waiting_for = None;
            })
            .await;
        match stored {
            Ok(()) => Flow::Next,
            Err(e) => {
                // Invariant 1: a key whose secret is not safely stored is taken back.
                match self
                    .call(Phase::Store, || r.provider.delete(&r.target, &id))
                    .await
                {
                    Ok(()) => {
                        self.abandon(format!("{e}; the new key {id} was revoked again"))
                            .await
                    }
                    Err(d) => Flow::Failed(format!(
                        "{e}; revoking the new key {id} again failed too ({d}): run `keyward \
                         resume` to remove it"
                    )),
                }
            }
        }
    }

    /// Roll-in-place: the provider replaces the value; the old one dies at once.
    async fn roll(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        self.enter(Phase::Create).await;
        let issued = match self
            .call(Phase::Create, || r.provider.roll(&r.target))
            .await
        {
            Ok(k) => k,
            Err(e) => {
                let c = &r.target.credential;
                let old_works = match &c.secret {
                    Some(s) => {
                        r.provider
                            .verify(&r.target, c.remote_id.as_deref(), s)
                            .await
                            == Verification::Valid
                    }
                    None => false,
                };
                if old_works {
                    return self.abandon(format!("roll failed: {e}")).await;
                }
                return self
                    .fail_keep(format!(
                        "roll failed: {e}; the old value may no longer work: run `keyward resume` \
                         to roll again"
                    ))
                    .await;
            }
        };
        self.enter(Phase::Store).await;
        // The old value is dead: there is nothing to fall back to, so the save is retried.
        let retry = self.ctx.options.retry;
        let mut last = None;
        for attempt in 1..=retry.max_attempts {
            let k = issued.clone();
            match self
                .save_journal(move |j| {
                    j.new_remote_id = Some(k.remote_id);
                    j.new_secret = Some(k.secret);
                    j.new_created_at = k.created_at;
                    j.new_expires_at = k.expires_at;
                    j.new_scopes = k.scopes;
                    j.new_params = k.params;
                    j.step = Step::Deploy;
                    j.last_error = None;
                })
                .await
            {
                Ok(()) => return Flow::Next,
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
            }
        }
        let e = last.map(|e| e.to_string()).unwrap_or_default();
        Flow::Failed(format!(
            "the key was rolled but its new value could not be saved ({e}); the old value no \
             longer works: run `keyward resume` to roll it again once the inventory can be saved"
        ))
    }

    /// Manual: a person issues the key at the provider and enters it.
    async fn manual_create(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        self.enter(Phase::Create).await;
        let instructions = manual_instructions(&self.at, &r.target.credential);
        let Some(secret) = self
            .ctx
            .interact
            .enter_secret(&self.at, &instructions)
            .await
        else {
            return self
                .wait("a person to issue the new key at the provider and enter it")
                .await;
        };
        self.enter(Phase::Store).await;
        let now = self.ctx.now();
        match self
            .save_journal(move |j| {
                j.new_secret = Some(secret);
                j.new_created_at = Some(now);
                j.step = Step::Deploy;
                j.waiting_for = None;
            })
            .await
        {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "{e}; the secret you entered was not kept: revoke that key at the provider, or \
                 run `keyward resume` and enter it again"
            )),
        }
    }

    async fn deploy(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        let c = &r.target.credential;
        let Some(journal) = c.rotation.clone() else {
            return Flow::Failed("the journal is gone".into());
        };
        let Some(secret) = journal.new_secret.clone() else {
            return self
                .fail_keep(
                    "the journal has no new secret to deploy: `keyward resume --rollback`".into(),
                )
                .await;
        };
        self.enter(Phase::Deploy).await;
        let record = match c.deploy.clone() {
            Some(Deploy::Command { run, idempotent }) => {
                if let Err(flow) = self.mark_deploy_started(&journal, idempotent).await {
                    return flow;
                }
                let out = self
                    .run_sink(&run, &secret, journal.new_remote_id.as_deref(), c)
                    .await;
                DeployRecord {
                    at: self.ctx.now(),
                    sink: "command".into(),
                    ok: out.ok,
                    exit_code: out.exit_code,
                    output: out.output,
                    detail: out.detail,
                }
            }
            manual => {
                let instructions = match manual {
                    Some(Deploy::Manual { instructions }) => instructions,
                    _ => None,
                };
                let q = Question::DeployedByHand {
                    used_by: c.used_by.clone(),
                    instructions,
                };
                if !self.ctx.interact.confirm(&self.at, &q).await {
                    return self.wait(q.waiting_for()).await;
                }
                DeployRecord {
                    at: self.ctx.now(),
                    sink: "manual".into(),
                    ok: true,
                    exit_code: None,
                    output: String::new(),
                    detail: "confirmed by a person".into(),
                }
            }
        };
        let ok = record.ok;
        let detail = record.detail.clone();
        let saved = self
            .save_journal(move |j| {
                if ok {
                    j.step = Step::Verify;
                    j.last_error = None;
                } else {
                    j.last_error = Some(record.detail.clone());
                }
                j.deploy = Some(record);
                j.deploy_started_at = None;
                j.waiting_for = None;
            })
            .await;
        match (ok, saved) {
            (true, Ok(())) => Flow::Next,
            (true, Err(e)) => Flow::Failed(format!(
                "deployed, but that could not be recorded ({e}): `keyward resume` asks before \
                 deploying again"
            )),
            (false, _) => Flow::Failed(format!(
                "deploy failed: {detail}; the new key is stored: fix the command and run \
                 `keyward resume`, or undo with `keyward resume --rollback`"
            )),
        }
    }

    /// Before a deploy command runs: if an earlier run was started and its end never
    /// recorded (keyward died while it ran), asks whether to run it again (`--yes` answers
    /// only for a deploy marked idempotent); then records durably that this run starts, so
    /// a crash from here on is noticed the same way. `Err` is the flow to return instead.
    async fn mark_deploy_started(
        &mut self,
        journal: &Rotation,
        idempotent: bool,
    ) -> Result<(), Flow> {
        if let Some(started_at) = journal.deploy_started_at {
            let q = Question::RerunInterruptedDeploy {
                started_at,
                idempotent,
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return Err(self.wait(q.waiting_for()).await);
            }
        }
        let now = self.ctx.now();
        match self
            .save_journal(move |j| j.deploy_started_at = Some(now))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail_keep(format!(
                    "could not record that the deploy starts ({e}); the command was not run"
                ))
                .await),
        }
    }

    /// Runs a command sink with `secret`, masking it and the credential's current secret.
    async fn run_sink(
        &self,
        run: &str,
        secret: &Secret,
        new_remote_id: Option<&str>,
        c: &Credential,
    ) -> deploy::CommandOutcome {
        let env = [
            ("KEYWARD_CREDENTIAL", self.at.to_string()),
            (
                "KEYWARD_REMOTE_ID",
                new_remote_id.unwrap_or_default().to_string(),
            ),
        ];
        let mut mask = vec![secret];
        mask.extend(c.secret.as_ref());
        if let Some(new) = c.rotation.as_ref().and_then(|j| j.new_secret.as_ref()) {
            mask.push(new);
        }
        deploy::run_command(run, secret, &env, &mask, self.ctx.options.deploy_timeout).await
    }

    async fn verify(&mut self) -> Flow {
        let (r, journal) = match self.resolve_in_flight().await {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        let Some(secret) = journal.new_secret.clone() else {
            return self
                .fail_keep(
                    "the journal has no new secret to verify: `keyward resume --rollback`".into(),
                )
                .await;
        };
        self.enter(Phase::Verify).await;
        let retry = self.ctx.options.retry;
        let mut attempt = 0;
        let verdict = loop {
            attempt += 1;
            self.count_attempt();
            let v = r
                .provider
                .verify(&r.target, journal.new_remote_id.as_deref(), &secret)
                .await;
            match v {
                Verification::CouldNotCheck { reason } if attempt < retry.max_attempts => {
                    self.retrying(Phase::Verify, attempt, reason);
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
                v => break v,
            }
        };
        let now = self.ctx.now();
        let record = |confirmed: bool, reason: &str| VerificationRecord {
            at: now,
            result: verdict.label().to_string(),
            reason: reason.to_string(),
            confirmed_by_person: confirmed,
        };
        let (rec, next, failure) = match &verdict {
            Verification::Valid => (record(false, ""), true, None),
            Verification::CannotCheck { reason } => {
                let q = Question::AcceptUnverified {
                    reason: reason.clone(),
                };
                if self.ctx.interact.confirm(&self.at, &q).await {
                    (record(true, reason), true, None)
                } else {
                    let rec = record(false, reason);
                    let _ = self.save_journal(move |j| j.verification = Some(rec)).await;
                    return self.wait(q.waiting_for()).await;
                }
            }
            Verification::Invalid { reason } => (
                record(false, reason),
                false,
                Some(format!(
                    "the new key does not work: {reason}; run `keyward resume` to check again, \
                     or undo with `keyward resume --rollback`"
                )),
            ),
            Verification::CouldNotCheck { reason } => (
                record(false, reason),
                false,
                Some(format!(
                    "could not check the new key: {reason}; run `keyward resume` later"
                )),
            ),
        };
        let err = failure.clone();
        let saved = self
            .save_journal(move |j| {
                j.verification = Some(rec);
                j.waiting_for = None;
                j.last_error = err;
                if next {
                    j.step = Step::RevokeOld;
                }
            })
            .await;
        match (failure, saved) {
            (Some(f), _) => Flow::Failed(f),
            (None, Ok(())) => Flow::Next,
            (None, Err(e)) => Flow::Failed(format!(
                "verified, but that could not be recorded ({e}): `keyward resume` checks again"
            )),
        }
    }

    async fn revoke_old(&mut self) -> Flow {
        let (r, journal) = match self.resolve_in_flight().await {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        // Invariant 2, checked again from the record rather than trusted from the step.
        let verified = journal.verification.as_ref().is_some_and(|v| {
            v.result == "valid" || (v.result == "cannot-check" && v.confirmed_by_person)
        });
        if !verified {
            return self
                .fail_keep(
                    "the journal stands at revoke-old without a verified new key; refusing to \
                     revoke the old one"
                        .into(),
                )
                .await;
        }
        self.enter(Phase::RevokeOld).await;
        let now = self.ctx.now();
        let mut pending = None;
        let note: String;
        match journal.style {
            Style::RollInPlace => note = "the old value died with the roll".into(),
            Style::Manual => {
                let q = Question::RevokedByHand {
                    old_remote_id: journal.old_remote_id.clone(),
                    instructions: r.target.credential.params.get("rotate_at").cloned(),
                };
                if !self.ctx.interact.confirm(&self.at, &q).await {
                    return self.wait(q.waiting_for()).await;
                }
                let old = journal.old_remote_id.clone().unwrap_or_default();
                if let Err(e) = self
                    .call(Phase::RevokeOld, || r.provider.delete(&r.target, &old))
                    .await
                {
                    return self
                        .fail_keep(format!("could not record the revocation: {e}"))
                        .await;
                }
                note = "the old key was revoked by a person".into();
            }
            Style::CreateThenRevoke => match journal.old_remote_id.clone() {
                None => note = "no old key was recorded".into(),
                Some(old) => {
                    if r.caps.reports_last_used {
                        self.report_old_use(&r, &journal, now).await;
                    }
                    let grace = self.ctx.options.grace;
                    if r.caps.can_deactivate && grace > chrono::Duration::zero() {
                        match self
                            .call(Phase::RevokeOld, || r.provider.deactivate(&r.target, &old))
                            .await
                        {
                            Ok(()) => {
                                pending = Some(PendingRevocation {
                                    remote_id: old.clone(),
                                    deactivated_at: now,
                                    delete_after: delete_after(now, grace),
                                    last_error: None,
                                });
                                note = format!(
                                    "old key {old} deactivated, to be deleted after {}",
                                    delete_after(now, grace).format("%Y-%m-%d")
                                );
                            }
                            Err(e) if e.kind == ErrorKind::NotFound => {
                                note = format!("old key {old} was already gone");
                            }
                            Err(e) => {
                                return self
                                    .fail_keep(format!(
                                        "could not deactivate the old key {old}: {e}; the new key \
                                         is in place: run `keyward resume`"
                                    ))
                                    .await
                            }
                        }
                    } else {
                        if let Err(e) = self
                            .call(Phase::RevokeOld, || r.provider.delete(&r.target, &old))
                            .await
                        {
                            return self
                                .fail_keep(format!(
                                    "could not delete the old key {old}: {e}; the new key is in \
                                     place: run `keyward resume`"
                                ))
                                .await;
                        }
                        note = format!("old key {old} deleted");
                    }
                }
            },
        }
        self.commit_rotation(pending, note).await
    }

    /// Says how recently the old key was used, and warns when that was after the new key
    /// was deployed: some consumer still holds the old one.
    async fn report_old_use(&mut self, r: &Resolved, journal: &Rotation, now: DateTime<Utc>) {
        match self
            .call(Phase::RevokeOld, || r.provider.inspect(&r.target))
            .await
        {
            Ok(Some(k)) => match k.last_used_at {
                Some(used) => {
                    let deployed = journal.deploy.as_ref().map(|d| d.at);
                    if deployed.is_some_and(|d| used > d) {
                        self.warn(format!(
                            "the old key was used {}, after the new one was deployed: a \
                             consumer may still hold it",
                            ago(now, used)
                        ));
                    } else {
                        self.warn(format!("the old key was last used {}", ago(now, used)));
                    }
                }
                None => self.warn("the old key was never used".into()),
            },
            Ok(None) => {}
            Err(e) => self.warn(format!("could not see when the old key was last used: {e}")),
        }
    }

    /// Makes the new key the credential's and removes the journal, in one save.
    async fn commit_rotation(&mut self, pending: Option<PendingRevocation>, note: String) -> Flow {
        self.enter(Phase::Commit).await;
        let now = self.ctx.now();
        let detail = note.clone();
        let saved = self
            .save(move |c| {
                let Some(j) = c.rotation.take() else { return };
                let new_id = j.new_remote_id.clone();
                if j.new_secret.is_some() {
                    c.secret = j.new_secret;
                }
                if new_id.is_some() {
                    c.remote_id = new_id.clone();
                }
                c.created_at = j.new_created_at.or(Some(now));
                c.expires_at = j.new_expires_at;
                if !j.new_scopes.is_empty() {
                    c.scopes = j.new_scopes;
                }
                c.params.extend(j.new_params);
                c.last_rotated_at = Some(now);
                c.last_used_at = None;
                c.remote = Some(RemoteState {
                    state: RemoteStatus::Active,
                    checked_at: now,
                });
                if let Some(p) = pending {
                    c.pending_revocations.retain(|q| q.remote_id != p.remote_id);
                    c.pending_revocations.push(p);
                }
                let from_to = match (j.old_remote_id, new_id) {
                    (Some(o), Some(n)) if o != n => format!("{o} -> {n}; "),
                    (None, Some(n)) => format!("new key {n}; "),
                    _ => String::new(),
                };
                c.history.push(HistoryEntry {
                    at: now,
                    event: HistoryEvent::Rotated,
                    detail: format!("{from_to}{detail} ({})", j.id),
                });
            })
            .await;
        match saved {
            Ok(()) => Flow::Done(format!("rotated; {note}")),
            Err(e) => Flow::Failed(format!(
                "rotated at the provider, but the result could not be recorded ({e}): run \
                 `keyward resume` to record it"
            )),
        }
    }

    // ---- revocation ----

    async fn begin_revoke(&mut self, emergency: bool) -> Flow {
        self.enter(Phase::Plan).await;
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let c = &r.target.credential;
        if let Some(j) = &c.rotation {
            return Flow::Failed(format!(
                "already in flight ({}): finish it with `keyward resume`, or undo it with \
                 `keyward resume --rollback`, first",
                j.summary()
            ));
        }
        let style = style_of(r.caps.rotation);
        if c.remote_id.is_none() && style != Style::Manual {
            return Flow::Failed("has no `remote_id`: nothing to revoke at the provider".into());
        }
        if c.remote.as_ref().map(|s| s.state) == Some(RemoteStatus::Revoked) {
            return Flow::Done("already revoked".into());
        }
        let now = self.ctx.now();
        let action = if emergency {
            Action::EmergencyRevoke
        } else {
            Action::Revoke
        };
        let journal = Rotation::new(
            format!("rev-{}-{}", now.format("%Y%m%dT%H%M%SZ"), short_id()),
            action,
            style,
            Step::Revoke,
            now,
            c.remote_id.clone(),
        );
        match self.save(move |c| c.rotation = Some(journal)).await {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "could not record the revocation before starting, so nothing was done: {e}"
            )),
        }
    }

    async fn revoke(&mut self) -> Flow {
        let (r, journal) = match self.resolve_in_flight().await {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        self.enter(Phase::Revoke).await;
        let emergency = journal.action == Action::EmergencyRevoke;
        let old = journal.old_remote_id.clone().unwrap_or_default();
        if journal.style == Style::Manual {
            let q = Question::RevokedByHand {
                old_remote_id: journal.old_remote_id.clone(),
                instructions: r.target.credential.params.get("rotate_at").cloned(),
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return self.wait(q.waiting_for()).await;
            }
        }
        let grace = self.ctx.options.grace;
        let deactivate_only = !emergency
            && r.caps.can_deactivate
            && grace > chrono::Duration::zero()
            && journal.style != Style::Manual;
        let mut deleted = true;
        if deactivate_only {
            match self
                .call(Phase::Revoke, || r.provider.deactivate(&r.target, &old))
                .await
            {
                Ok(()) => deleted = false,
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => {
                    return self
                        .fail_keep(format!("could not deactivate {old}: {e}"))
                        .await
                }
            }
        } else if let Err(e) = self
            .call(Phase::Revoke, || r.provider.delete(&r.target, &old))
            .await
        {
            return self.fail_keep(format!("could not delete {old}: {e}")).await;
        }
        self.enter(Phase::Commit).await;
        let now = self.ctx.now();
        let (event, message) = if deleted {
            (
                if emergency {
                    HistoryEvent::EmergencyRevoked
                } else {
                    HistoryEvent::Revoked
                },
                if old.is_empty() {
                    "revoked".to_string()
                } else {
                    format!("{old} revoked")
                },
            )
        } else {
            (
                HistoryEvent::Deactivated,
                format!(
                    "{old} deactivated, to be deleted after {}",
                    delete_after(now, grace).format("%Y-%m-%d")
                ),
            )
        };
        let (detail, id) = (message.clone(), journal.id.clone());
        let saved = self
            .save(move |c| {
                c.rotation = None;
                if deleted {
                    c.secret = None;
                    c.remote = Some(RemoteState {
                        state: RemoteStatus::Revoked,
                        checked_at: now,
                    });
                } else {
                    c.remote = Some(RemoteState {
                        state: RemoteStatus::Inactive,
                        checked_at: now,
                    });
                    // Revoking an inactive credential again restarts its grace period.
                    c.pending_revocations.retain(|p| p.remote_id != old);
                    c.pending_revocations.push(PendingRevocation {
                        remote_id: old,
                        deactivated_at: now,
                        delete_after: delete_after(now, grace),
                        last_error: None,
                    });
                }
                c.history.push(HistoryEntry {
                    at: now,
                    event,
                    detail: format!("{detail} ({id})"),
                });
            })
            .await;
        match saved {
            Ok(()) => Flow::Done(message),
            Err(e) => Flow::Failed(format!(
                "{message} at the provider, but that could not be recorded ({e}): run `keyward \
                 resume` to record it"
            )),
        }
    }

    /// Deletes this credential's old keys whose grace period is over.
    async fn delete_due(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        self.enter(Phase::DeleteOld).await;
        let now = self.ctx.now();
        let due: Vec<String> = r
            .target
            .credential
            .pending_revocations
            .iter()
            .filter(|p| p.delete_after <= now)
            .map(|p| p.remote_id.clone())
            .collect();
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for id in due {
            let result = self
                .call(Phase::DeleteOld, || r.provider.delete(&r.target, &id))
                .await;
            let gone = id.clone();
            let saved = match &result {
                Ok(()) => {
                    self.save(move |c| {
                        c.pending_revocations.retain(|p| p.remote_id != gone);
                        if c.remote_id.as_deref() == Some(gone.as_str()) {
                            // A revoked credential's own key: now gone for good.
                            c.secret = None;
                            c.remote = Some(RemoteState {
                                state: RemoteStatus::Revoked,
                                checked_at: now,
                            });
                        }
                        c.history.push(HistoryEntry {
                            at: now,
                            event: HistoryEvent::DeletedOldKey,
                            detail: format!("{gone}, its grace period over"),
                        });
                    })
                    .await
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.save(move |c| {
                        for p in &mut c.pending_revocations {
                            if p.remote_id == gone {
                                p.last_error = Some(msg.clone());
                            }
                        }
                    })
                    .await
                }
            };
            match (result, saved) {
                (Ok(()), Ok(())) => deleted.push(id),
                (Ok(()), Err(e)) => failed.push(format!("{id} deleted but not recorded ({e})")),
                (Err(e), _) => failed.push(format!("{id}: {e}")),
            }
        }
        if failed.is_empty() {
            Flow::Done(format!("deleted old key {}", deleted.join(", ")))
        } else {
            Flow::Failed(format!("could not delete old key {}", failed.join("; ")))
        }
    }

    // ---- rollback ----

    async fn rollback(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let Some(journal) = r.target.credential.rotation.clone() else {
            return Flow::Done("nothing in flight".into());
        };
        self.enter(Phase::Rollback).await;
        let refuse = |why: &str| Flow::Failed(format!("cannot roll back: {why}"));
        match (journal.action, journal.style, journal.step) {
            (Action::Revoke | Action::EmergencyRevoke, _, _) => {
                return refuse(
                    "the key may already be revoked, and revoking cannot be undone; `keyward \
                     resume` finishes the revocation",
                )
            }
            (_, _, Step::RevokeOld) => {
                return refuse(
                    "the new key is verified and the old one may already be revoked; `keyward \
                     resume` finishes the rotation",
                )
            }
            (_, Style::RollInPlace, Step::Create) => {
                let c = &r.target.credential;
                let old_works = match &c.secret {
                    Some(s) => {
                        r.provider
                            .verify(&r.target, c.remote_id.as_deref(), s)
                            .await
                            == Verification::Valid
                    }
                    None => false,
                };
                if !old_works {
                    return refuse(
                        "the key may have been rolled already and the old value no longer works; \
                         `keyward resume` rolls it again",
                    );
                }
            }
            (_, Style::RollInPlace, _) => {
                return refuse(
                    "the old value died with the roll; `keyward resume` finishes the rotation",
                )
            }
            (_, Style::Manual, step) => {
                // A deploy (finished, failed, or a command cut short) may have handed the
                // person's new secret to the consumers: they get the old one back.
                let command = matches!(r.target.credential.deploy, Some(Deploy::Command { .. }));
                let deployed = step > Step::Deploy
                    || journal.deploy.is_some()
                    || (step == Step::Deploy && command);
                if deployed {
                    if let Err(flow) = self.revert_consumers(&r).await {
                        return flow;
                    }
                }
            }
            (_, Style::CreateThenRevoke, Step::Create) => match self.sweep(&r, &journal).await {
                Ok(swept) => self.report_sweep(&swept, "made by the interrupted attempt"),
                Err(e) => {
                    return self
                        .fail_keep(format!(
                            "could not check for a key left by the interrupted attempt: {e}"
                        ))
                        .await
                }
            },
            (_, Style::CreateThenRevoke, _) => {
                // A deploy cut short leaves no record but may have reached some consumers;
                // putting the old secret back is harmless where it never left.
                if let Err(flow) = self.revert_consumers(&r).await {
                    return flow;
                }
                if let Some(new) = journal.new_remote_id.clone() {
                    if let Err(e) = self
                        .call(Phase::Rollback, || r.provider.delete(&r.target, &new))
                        .await
                    {
                        return self
                            .fail_keep(format!(
                                "rolling back: could not delete the new key {new}: {e}"
                            ))
                            .await;
                    }
                }
            }
        }
        let note = match journal.style {
            Style::Manual => {
                "rolled back; if a new key was issued at the provider, revoke it there"
            }
            _ => "rolled back; the old key stays in use",
        };
        match self
            .clear_journal(
                HistoryEvent::RotationRolledBack,
                format!("{note} ({})", journal.id),
            )
            .await
        {
            Ok(()) => Flow::Done(note.to_string()),
            Err(e) => Flow::Failed(format!("{note}, but the journal could not be cleared: {e}")),
        }
    }

    /// Puts the old secret back where a deploy may have put the new one.
    async fn revert_consumers(&mut self, r: &Resolved) -> Result<(), Flow> {
        let c = &r.target.credential;
        match c.deploy.clone() {
            Some(Deploy::Command { run, .. }) => {
                let Some(old) = c.secret.clone() else {
                    self.warn(
                        "the old secret is not in the inventory, so the consumers were not \
                         reverted by the deploy command"
                            .into(),
                    );
                    return Ok(());
                };
                let out = self.run_sink(&run, &old, c.remote_id.as_deref(), c).await;
                if out.ok {
                    Ok(())
                } else {
                    Err(self
                        .fail_keep(format!(
                            "rolling back: the deploy command could not put the old secret back: \
                             {}",
                            out.detail
                        ))
                        .await)
                }
            }
            _ => {
                let q = Question::RevertedByHand {
                    used_by: c.used_by.clone(),
                };
                if self.ctx.interact.confirm(&self.at, &q).await {
                    Ok(())
                } else {
                    Err(self.wait(q.waiting_for()).await)
                }
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
