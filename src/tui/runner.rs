//! The dashboard's side of a run: opens an [`ops::Runner`](crate::ops::Runner) on the
//! inventory through the [`OpenForRun`] hook to plan and run rotations, resumptions,
//! rollbacks, revocations and grace-period deletions on tokio tasks, forwards the engine's
//! events to the UI loop as actions, and answers the engine's questions through the UI:
//! [`DashboardInteract`] sends the question to the loop and awaits the person's answer on a
//! oneshot channel. The runner writes every outcome's audit entry, the same ones
//! `keyward rotate` writes.
//!
//! Planning holds no lock: the engine plans on the file as it was read, and a plan may wait
//! on screen for a person as long as they like. The write lock is taken at the run's first
//! save (and the save refuses a file another writer changed meanwhile), then held until the
//! run's engine is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::action::Action;
use super::actions::{Pending, RunKind};
use crate::audit::AuditLog;
use crate::inventory::{CredentialRef, Inventory};
use crate::ops::{Picked, RunConfig, Runner};
use crate::providers::registry::ProviderSet;
use crate::rotation::{Clock, Interact, Persist, Plan, Question};
use crate::secret::Secret;
use crate::tui::runtime::Background;

/// Opens the inventory for a run: reads the file as it is now, unlocked, and returns where
/// the engine saves (its first save takes the write lock, released when that is dropped).
pub type OpenForRun =
    Box<dyn FnMut() -> Result<(Box<dyn Persist>, Inventory), String> + Send + 'static>;

/// Sends an action to the UI loop.
pub type SendAction = Arc<dyn Fn(Action) + Send + Sync>;

/// How often the panel's elapsed times move while a run goes.
const CLOCK_TICK: Duration = Duration::from_millis(500);

enum Waiting {
    Confirm(oneshot::Sender<bool>),
    Secret(oneshot::Sender<Option<Secret>>),
}

type Answers = Arc<Mutex<HashMap<u64, Waiting>>>;

/// The engine's way to the person at the dashboard.
pub struct DashboardInteract {
    send: SendAction,
    answers: Answers,
    next_id: AtomicU64,
}

impl DashboardInteract {
    fn ask(&self, waiting: Waiting, pending: impl FnOnce(u64) -> Pending) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, waiting);
        (self.send)(Action::Asked(pending(id)));
    }
}

#[async_trait]
impl Interact for DashboardInteract {
    async fn confirm(&self, at: &CredentialRef, question: &Question) -> bool {
        let (tx, rx) = oneshot::channel();
        self.ask(Waiting::Confirm(tx), |id| Pending::Confirm {
            id,
            at: at.clone(),
            question: question.clone(),
        });
        // A dashboard that closes drops the sender: no answer is a no, and the work waits.
        rx.await.unwrap_or(false)
    }

    async fn enter_secret(&self, at: &CredentialRef, instructions: &str) -> Option<Secret> {
        let (tx, rx) = oneshot::channel();
        self.ask(Waiting::Secret(tx), |id| Pending::Secret {
            id,
            at: at.clone(),
            instructions: instructions.to_string(),
        });
        rx.await.ok().flatten()
    }
}

/// The runs of one dashboard session: at most one engine at a time.
pub(crate) struct Runs {
    open: Option<OpenForRun>,
    providers: Arc<ProviderSet>,
    audit_log: Option<AuditLog>,
    clock: Clock,
    send: SendAction,
    answers: Answers,
    /// The engine of a plan waiting for its confirmation.
    planned: Option<Arc<Runner>>,
    /// The engine of the run going on (owned by its task).
    running: Weak<Runner>,
}

impl Runs {
    /// Runs for a dashboard: `open` gives the engine the inventory (none: read-only), the
    /// dashboard's `providers` do the work, `audit_log` records
    /// each outcome, `clock` dates every change, `send` reaches the UI loop.
    pub fn new(
        open: Option<OpenForRun>,
        providers: Arc<ProviderSet>,
        audit_log: Option<AuditLog>,
        clock: Clock,
        send: SendAction,
    ) -> Runs {
        Runs {
            open,
            providers,
            audit_log,
            clock,
            send,
            answers: Arc::default(),
            planned: None,
            running: Weak::new(),
        }
    }

    fn open_engine(&mut self) -> Result<Arc<Runner>, String> {
        if self.planned.is_some() || self.running.strong_count() > 0 {
            return Err("a run is going; one at a time".into());
        }
        let log = self
            .audit_log
            .clone()
            .ok_or("this dashboard has no inventory file to change")?;
        let open = self
            .open
            .as_mut()
            .ok_or("this dashboard cannot change the inventory (read-only)")?;
        let (persist, inventory) = open()?;
        let interact = Arc::new(DashboardInteract {
            send: self.send.clone(),
            answers: self.answers.clone(),
            next_id: AtomicU64::new(self.answers_base()),
        });
        let config = RunConfig {
            clock: self.clock.clone(),
            ..RunConfig::default()
        };
        Ok(Arc::new(Runner::new(
            inventory,
            persist,
            ProviderSet::clone(&self.providers),
            interact,
            config,
            log,
        )))
    }

    /// Question ids stay unique across engines of one session.
    fn answers_base(&self) -> u64 {
        static RUNS: AtomicU64 = AtomicU64::new(1);
        RUNS.fetch_add(1, Ordering::Relaxed) << 32
    }

    /// Plans the rotation of `picked` (no lock taken), keeping the engine for the run.
    pub(crate) fn plan(&mut self, background: &Background, picked: Vec<(CredentialRef, String)>) {
        let engine = match self.open_engine() {
            Ok(e) => e,
            Err(e) => return (self.send)(Action::Planned(Err(e))),
        };
        self.planned = Some(engine.clone());
        let send = self.send.clone();
        background.spawn(|shutdown| async move {
            let picked = picked
                .into_iter()
                .map(|(at, why)| Picked { at, why })
                .collect();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {}
                plan = engine.plan(picked) => send(Action::Planned(Ok(plan))),
            }
        });
    }

    /// Drops the engine of a plan that was not confirmed (it saved nothing, so held no lock).
    pub fn drop_plan(&mut self) {
        self.planned = None;
    }

    /// Runs `kind`: a rotation of `plan` on the engine that planned it, the rest on a new
    /// engine. Reports every event, then [`Action::RunFinished`] with the final inventory.
    pub(crate) fn start(
        &mut self,
        background: &Background,
        kind: RunKind,
        plan: Option<Plan>,
        refs: Vec<CredentialRef>,
    ) {
        let engine = match (kind, self.planned.take()) {
            (RunKind::Rotate, Some(engine)) => engine,
            (RunKind::Rotate, None) => {
                return (self.send)(Action::RunFailed(
                    "the plan's engine is gone: press R again".into(),
                ))
            }
            (_, planned) => {
                self.planned = planned;
                match self.open_engine() {
                    Ok(e) => e,
                    Err(e) => return (self.send)(Action::RunFailed(e)),
                }
            }
        };
        self.running = Arc::downgrade(&engine);
        let (send, clock) = (self.send.clone(), self.clock.clone());
        let mut events = engine.subscribe();
        let forward = {
            let (send, clock) = (send.clone(), clock.clone());
            let (tx, rx) = oneshot::channel::<()>();
            background.spawn(|_| async move {
                while let Some(event) = events.recv().await {
                    send(Action::RunEvent { event, at: clock() });
                }
                let _ = tx.send(());
            });
            rx
        };
        let done = Arc::new(AtomicBool::new(false));
        {
            let (send, clock, done) = (send.clone(), clock.clone(), done.clone());
            background.spawn(|shutdown| async move {
                while !done.load(Ordering::Relaxed) && !shutdown.is_cancelled() {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(CLOCK_TICK) => send(Action::RunClock(clock())),
                    }
                }
            });
        }
        // The same runs as the command line's, with the engine's own concurrency and lanes.
        // The dashboard closing (`q`, a signal, a hang-up) stops the run at its next safe
        // point, as cancelling does: no queued credential starts; the journal keeps the rest
        // resumable.
        background.spawn(|shutdown| async move {
            let plan = plan.unwrap_or_default();
            let summary = {
                let work = async {
                    match kind {
                        RunKind::Rotate => engine.rotate(&plan).await,
                        RunKind::Resume => engine.resume(&refs, false).await,
                        RunKind::Rollback => engine.resume(&refs, true).await,
                        RunKind::Revoke { emergency } => engine.revoke(&refs, emergency).await,
                        RunKind::DeleteOld => engine.delete_due().await,
                        RunKind::Deploy => engine.deploy(&refs).await,
                    }
                };
                tokio::pin!(work);
                tokio::select! {
                    summary = &mut work => summary,
                    _ = shutdown.cancelled() => {
                        engine.stop();
                        work.await
                    }
                }
            };
            engine.close_events();
            // Every event reaches the panel before the end does.
            let _ = forward.await;
            done.store(true, Ordering::Relaxed);
            let inventory = Box::new(engine.inventory());
            let unlogged = engine.unlogged();
            // The last handle: the writer stops and the lock is released.
            drop(engine);
            send(Action::RunFinished {
                summary,
                inventory,
                at: clock(),
            });
            if !unlogged.is_empty() {
                send(Action::Failed(unlogged.join("; ")));
            }
        });
    }

    /// Stops the run: nothing queued starts.
    pub fn cancel(&self) {
        if let Some(engine) = self.running.upgrade() {
            engine.stop();
        }
    }

    /// Hands the person's answer to the engine's question `id`.
    pub fn answer(&self, id: u64, yes: bool) {
        if let Some(Waiting::Confirm(tx)) = self.take(id) {
            let _ = tx.send(yes);
        }
    }

    /// Hands the typed secret to the engine's question `id`.
    pub fn answer_secret(&self, id: u64, secret: Option<Secret>) {
        if let Some(Waiting::Secret(tx)) = self.take(id) {
            let _ = tx.send(secret);
        }
    }

    fn take(&self, id: u64) -> Option<Waiting> {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    /// The new secret of `at`'s rotation as the running engine holds it (the journal's,
    /// before it is committed), to copy.
    pub fn new_secret(&self, at: &CredentialRef) -> Option<Secret> {
        let engine = self.running.upgrade()?;
        let inventory = engine.inventory();
        let c = inventory.credential(at)?;
        c.rotation
            .as_ref()
            .and_then(|j| j.new_secret.clone())
            .or_else(|| c.secret.clone())
    }
}
