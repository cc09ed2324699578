//! The engine: owns the inventory (through the one [`Writer`]) during a run, plans, and
//! runs rotations, resumptions, rollbacks, revocations and grace-period deletions for many
//! credentials at once, with bounded concurrency overall and per provider, reporting
//! [`RotationEvent`]s. Each credential's journaled state machine is a [`Job`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::interact::Interact;
use super::job::Job;
use super::plan::{group_by_shared_keys, Plan, PlanItem};
pub use super::shared::SettledHook;
use super::shared::{Ctx, Slot, Work};
use super::writer::{Persist, Writer, WriterStats};
use super::{
    Options, Outcome, OutcomeKind, Progress, ProviderSet, RotationEvent, Summary, WorkKind,
};
use crate::inventory::{CredentialRef, Inventory, ProviderKind};
use crate::providers::pacing;

/// Runs rotations against one inventory. Owns the inventory (through its writer) while it
/// lives; dropping it ends the writer and drops the [`Persist`] (a store's lock with it).
pub struct Engine {
    ctx: Arc<Ctx>,
}

/// One credential planned: its plan line, its connection, and the key ids its owner holds
/// (to group credentials that share an owner).
type Planned = (PlanItem, Option<String>, Vec<String>);

struct Unit {
    index: usize,
    at: CredentialRef,
    provider: Option<ProviderKind>,
    group: usize,
    work: Work,
    blocked: Option<String>,
}

impl Engine {
    /// An engine over `inventory`, saving through `persist`, calling `providers`, asking a
    /// person through `interact`.
    pub fn new(
        inventory: Inventory,
        persist: Box<dyn Persist>,
        providers: ProviderSet,
        interact: Arc<dyn Interact>,
        options: Options,
    ) -> Engine {
        let writer = Writer::start(inventory, persist);
        Engine {
            ctx: Arc::new(Ctx {
                writer,
                providers,
                interact,
                options,
                subscribers: Mutex::default(),
                settled: Mutex::default(),
                stopped: Default::default(),
            }),
        }
    }

    /// A channel receiving every event from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<RotationEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.ctx
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// Calls `hook` with each outcome as it settles, before its event is sent.
    pub fn on_settled(&self, hook: SettledHook) {
        *self.ctx.settled.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Closes every event channel: receivers get what was already sent, then `None`.
    pub fn close_events(&self) {
        self.ctx
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Starts no more work, in this run or any later one of this engine: a credential
    /// still queued (for a slot, or behind another of its group) never starts and has no
    /// outcome; work already going finishes its credential, so every journal is left
    /// consistent. The dashboard's cancel and close come here.
    pub fn stop(&self) {
        self.ctx
            .stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine's clock, now.
    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// The inventory as the engine holds it: every change applied so far, including any
    /// whose save is still pending.
    pub fn inventory(&self) -> Inventory {
        self.ctx.writer.snapshot()
    }

    /// What the writer has done: changes and saves, to see the group commit at work.
    pub fn writer_stats(&self) -> WriterStats {
        self.ctx.writer.stats()
    }

    /// Plans the rotation of `selected` (address and reason, from
    /// [`super::plan::select`]): checks each provider's preconditions (key limits, a key
    /// to roll), says what needs a person and what to know first. Changes nothing.
    pub async fn plan(&self, selected: Vec<(CredentialRef, String)>) -> Plan {
        let ctx = self.ctx.clone();
        // Unordered, then put back in order: with `buffered`, one credential whose listing
        // waits out a 429 would hold up every finished one behind it, and so the rest.
        let mut planned: Vec<(usize, Planned)> =
            futures::stream::iter(selected.into_iter().enumerate().map(|(i, (at, why))| {
                let ctx = ctx.clone();
                async move { (i, Job::new(ctx, at).plan_item(why).await) }
            }))
            .buffer_unordered(self.ctx.options.concurrency.max(1))
            .collect()
            .await;
        planned.sort_unstable_by_key(|(i, _)| *i);
        let planned: Vec<Planned> = planned.into_iter().map(|(_, p)| p).collect();
        let keys: Vec<(Option<String>, Vec<String>)> = planned
            .iter()
            .map(|(_, conn, keys)| (conn.clone(), keys.clone()))
            .collect();
        let groups = group_by_shared_keys(&keys);
        Plan {
            items: planned
                .into_iter()
                .zip(groups)
                .map(|((mut item, _, _), group)| {
                    item.group = group;
                    item
                })
                .collect(),
        }
    }

    /// Rotates the plan's credentials; blocked items fail with their reason. One failure
    /// never stops the others.
    pub async fn rotate(&self, plan: &Plan) -> Summary {
        let units = plan
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| Unit {
                index,
                at: item.at.clone(),
                provider: Some(item.provider),
                group: item.group,
                work: Work::Rotate,
                blocked: item.blocked.clone(),
            })
            .collect();
        self.run(units).await
    }

    /// Finishes (or with `rollback`, undoes) the journaled work of `refs`, or of every
    /// credential with a journal when `refs` is empty. Credentials on one connection run
    /// one after another, so one's clean-up never takes another's fresh key for a stray.
    pub async fn resume(&self, refs: &[CredentialRef], rollback: bool) -> Summary {
        let targets: Vec<(CredentialRef, Option<ProviderKind>, Option<String>)> =
            self.ctx.writer.read(|inv| {
                inv.credentials()
                    .filter(|(at, _, c)| {
                        if refs.is_empty() {
                            c.rotation.is_some()
                        } else {
                            refs.contains(at)
                        }
                    })
                    .map(|(at, _, c)| (at, Some(c.provider), c.connection.clone()))
                    .collect()
            });
        let mut first_on: HashMap<String, usize> = HashMap::new();
        let units = targets
            .into_iter()
            .enumerate()
            .map(|(index, (at, provider, conn))| Unit {
                index,
                group: conn.map_or(index, |c| *first_on.entry(c).or_insert(index)),
                at,
                provider,
                work: if rollback {
                    Work::Rollback
                } else {
                    Work::Resume
                },
                blocked: None,
            })
            .collect();
        self.run(units).await
    }

    /// Revokes `refs`: with `emergency` the key is deleted now; otherwise deactivated now
    /// and deleted after the grace period (deleted now where it cannot be deactivated).
    pub async fn revoke(&self, refs: &[CredentialRef], emergency: bool) -> Summary {
        let units = refs
            .iter()
            .enumerate()
            .map(|(index, at)| Unit {
                index,
                at: at.clone(),
                provider: self
                    .ctx
                    .writer
                    .read(|inv| inv.credential(at).map(|c| c.provider)),
                group: index,
                work: Work::Revoke { emergency },
                blocked: None,
            })
            .collect();
        self.run(units).await
    }

    /// Delivers the current secret of `refs` to their deploy targets again, rotating
    /// nothing (`keyward deploy`).
    pub async fn deploy(&self, refs: &[CredentialRef]) -> Summary {
        let units = refs
            .iter()
            .enumerate()
            .map(|(index, at)| Unit {
                index,
                at: at.clone(),
                provider: self
                    .ctx
                    .writer
                    .read(|inv| inv.credential(at).map(|c| c.provider)),
                group: index,
                work: Work::Deploy,
                blocked: None,
            })
            .collect();
        self.run(units).await
    }

    /// Deletes the old keys whose grace period is over.
    pub async fn delete_due(&self) -> Summary {
        let now = self.ctx.now();
        let due: Vec<(CredentialRef, ProviderKind)> = self.ctx.writer.read(|inv| {
            inv.credentials()
                .filter(|(_, _, c)| c.pending_revocations.iter().any(|p| p.delete_after <= now))
                .map(|(at, _, c)| (at, c.provider))
                .collect()
        });
        let units = due
            .into_iter()
            .enumerate()
            .map(|(index, (at, provider))| Unit {
                index,
                at,
                provider: Some(provider),
                group: index,
                work: Work::DeleteDue,
                blocked: None,
            })
            .collect();
        self.run(units).await
    }

    async fn run(&self, units: Vec<Unit>) -> Summary {
        let total = units.len();
        let progress = Arc::new(Mutex::new(Progress {
            total,
            ..Progress::default()
        }));
        let global = Arc::new(Semaphore::new(self.ctx.options.concurrency.max(1)));
        let mut lanes: HashMap<LaneKey, Result<Arc<Semaphore>, String>> = HashMap::new();
        let mut groups: Vec<Vec<Unit>> = Vec::new();
        let mut group_at: HashMap<usize, usize> = HashMap::new();
        let mut ats: Vec<(CredentialRef, WorkKind)> = Vec::with_capacity(total);
        for unit in units {
            ats.push((unit.at.clone(), unit.work.kind()));
            let slot = *group_at.entry(unit.group).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[slot].push(unit);
        }
        let mut set = JoinSet::new();
        let mut task_units: HashMap<tokio::task::Id, Vec<usize>> = HashMap::new();
        for group in groups {
            let indices: Vec<usize> = group.iter().map(|u| u.index).collect();
            let slots: Vec<Result<Slot, String>> = group
                .iter()
                .map(|u| {
                    let key = self.lane_key(u);
                    let lane = lanes
                        .entry(key.clone())
                        .or_insert_with(|| self.open_lane(&key))
                        .clone()?;
                    Ok(Slot::new(global.clone(), lane))
                })
                .collect();
            let (ctx, progress) = (self.ctx.clone(), progress.clone());
            let handle = set.spawn(async move {
                let mut out = Vec::new();
                for (unit, slot) in group.into_iter().zip(slots) {
                    if ctx.stopped() {
                        break;
                    }
                    let started = std::time::Instant::now();
                    let blocked = unit.blocked.clone().map(Err).unwrap_or(Ok(()));
                    let outcome = match blocked.and(slot) {
                        Err(reason) => Outcome {
                            at: unit.at.clone(),
                            work: unit.work.kind(),
                            kind: OutcomeKind::Failed,
                            message: reason,
                            attempts: 0,
                            warnings: Vec::new(),
                        },
                        Ok(mut slot) => {
                            slot.take().await;
                            // Stopped while it queued for its slot: it never starts.
                            if ctx.stopped() {
                                break;
                            }
                            tracing::debug!(
                                credential = %unit.at,
                                work = unit.work.kind().as_str(),
                                "work started"
                            );
                            Job::new(ctx.clone(), unit.at.clone())
                                .in_slot(slot)
                                .run(unit.work)
                                .await
                        }
                    };
                    trace_settled(&outcome, started.elapsed());
                    report(&ctx, &progress, &outcome);
                    out.push((unit.index, outcome));
                }
                out
            });
            task_units.insert(handle.id(), indices);
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; total];
        while let Some(joined) = set.join_next_with_id().await {
            match joined {
                Ok((_, done)) => {
                    for (i, o) in done {
                        outcomes[i] = Some(o);
                    }
                }
                Err(e) => {
                    for &i in task_units.get(&e.id()).into_iter().flatten() {
                        outcomes[i].get_or_insert_with(|| Outcome {
                            at: ats[i].0.clone(),
                            work: ats[i].1,
                            kind: OutcomeKind::Failed,
                            message: "stopped by an internal error; the journal shows how far \
                                      it got: run `keyward resume`"
                                .into(),
                            attempts: 0,
                            warnings: Vec::new(),
                        });
                    }
                }
            }
        }
        Summary {
            outcomes: outcomes.into_iter().flatten().collect(),
        }
    }
}

/// Which lane a unit runs in: its provider and the connection that manages it (a provider's
/// rate limits apply per account, that is per connection).
type LaneKey = (Option<ProviderKind>, Option<String>);

impl Engine {
    fn lane_key(&self, unit: &Unit) -> LaneKey {
        let connection = self
            .ctx
            .writer
            .read(|inv| inv.credential(&unit.at).and_then(|c| c.connection.clone()));
        (unit.provider, connection)
    }

    /// The lane's semaphore, sized by [`pacing::lane_size`]; an unusable
    /// `params.concurrency` fails the lane's units with the reason.
    fn open_lane(&self, (provider, connection): &LaneKey) -> Result<Arc<Semaphore>, String> {
        let per_lane = self.ctx.options.per_provider;
        let size = match provider.and_then(|k| self.ctx.providers.get(k)) {
            Some(p) => self.ctx.writer.read(|inv| {
                let conn = connection.as_deref().and_then(|id| inv.connection(id));
                pacing::lane_size(p.as_ref(), conn, per_lane)
            })?,
            // No client: the job fails at once with the reason; any lane will do.
            None => per_lane.unwrap_or(pacing::UNDOCUMENTED_LANE),
        };
        Ok(Arc::new(Semaphore::new(size.max(1))))
    }
}

/// How a credential's work ended; its message passes through the token redaction (it may
/// quote a provider's error).
fn trace_settled(outcome: &Outcome, elapsed: std::time::Duration) {
    tracing::debug!(
        credential = %outcome.at,
        work = outcome.work.as_str(),
        outcome = outcome.kind.as_str(),
        attempts = outcome.attempts,
        elapsed_ms = elapsed.as_millis() as u64,
        message = %crate::secret::redact_tokens(&outcome.message),
        "work settled"
    );
}

fn report(ctx: &Ctx, progress: &Mutex<Progress>, outcome: &Outcome) {
    let hook = ctx
        .settled
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(hook) = hook {
        hook(outcome);
    }
    // Counted and sent under one lock, so the counts arrive in order.
    let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
    match outcome.kind {
        OutcomeKind::Done => p.done += 1,
        OutcomeKind::Failed => p.failed += 1,
        OutcomeKind::Waiting | OutcomeKind::Unconfirmed => p.waiting += 1,
    }
    let (at, message, progress) = (outcome.at.to_string(), outcome.message.clone(), *p);
    ctx.emit(match outcome.kind {
        OutcomeKind::Done => RotationEvent::Finished {
            at,
            message,
            progress,
        },
        OutcomeKind::Failed => RotationEvent::Failed {
            at,
            reason: message,
            progress,
        },
        OutcomeKind::Waiting | OutcomeKind::Unconfirmed => RotationEvent::Waiting {
            at,
            reason: message,
            progress,
        },
    });
}
