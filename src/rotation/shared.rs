//! What every job of a run shares ([`Ctx`]) and what a job does for its credential
//! ([`Work`]): the engine hands both to each [`super::job`], so neither module needs the
//! other's internals.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::interact::Interact;
use super::writer::Writer;
use super::{Options, Outcome, ProviderSet, RotationEvent, WorkKind};

/// What every job of a run shares.
pub(super) struct Ctx {
    pub(super) writer: Writer,
    pub(super) providers: ProviderSet,
    pub(super) interact: Arc<dyn Interact>,
    pub(super) options: Options,
    pub(super) subscribers: Mutex<Vec<mpsc::UnboundedSender<RotationEvent>>>,
    pub(super) settled: Mutex<Option<SettledHook>>,
    /// Set by [`super::Engine::stop`]: no credential starts from then on.
    pub(super) stopped: AtomicBool,
}

impl Ctx {
    pub(super) fn emit(&self, event: RotationEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        (self.options.clock)()
    }

    pub(super) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

/// What a job does for its credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Work {
    Rotate,
    Resume,
    Rollback,
    Revoke {
        emergency: bool,
    },
    DeleteDue,
    /// Deliver the current secret again, rotating nothing.
    Deploy,
}

impl Work {
    pub(super) fn kind(self) -> WorkKind {
        match self {
            Work::Rotate => WorkKind::Rotate,
            Work::Resume => WorkKind::Resume,
            Work::Rollback => WorkKind::Rollback,
            Work::Revoke { .. } => WorkKind::Revoke,
            Work::DeleteDue => WorkKind::DeleteOld,
            Work::Deploy => WorkKind::Deploy,
        }
    }
}

/// Called with each credential's outcome as it settles (after its last save), before the
/// event goes out: where the operations layer writes its audit entry.
pub type SettledHook = Arc<dyn Fn(&Outcome) + Send + Sync>;

/// A job's place in the run's concurrency: one permit overall and one in its lane, taken
/// before the work starts and given back while the job only waits (a new key propagating,
/// a provider's rate limit resetting, a backoff), so waiting credentials leave room for
/// others.
pub(super) struct Slot {
    gates: Option<(Arc<Semaphore>, Arc<Semaphore>)>,
    held: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl Slot {
    /// No limits: planning and single checks.
    pub(super) fn unlimited() -> Slot {
        Slot {
            gates: None,
            held: None,
        }
    }

    /// A slot in `global` and `lane`, not yet taken.
    pub(super) fn new(global: Arc<Semaphore>, lane: Arc<Semaphore>) -> Slot {
        Slot {
            gates: Some((global, lane)),
            held: None,
        }
    }

    /// Waits for a permit in the lane, then one overall: a job queued behind a slow or
    /// rate-limited lane holds no overall permit, so other providers' lanes keep going.
    /// Whoever holds an overall permit holds its lane's too, so no two jobs wait on each
    /// other.
    pub(super) async fn take(&mut self) {
        if let (Some((global, lane)), None) = (&self.gates, &self.held) {
            // The engine never closes its semaphores, so acquiring cannot fail; should it,
            // the job runs unthrottled rather than not at all.
            if let Ok(one) = lane.clone().acquire_owned().await {
                if let Ok(all) = global.clone().acquire_owned().await {
                    self.held = Some((all, one));
                }
            }
        }
    }

    /// Sleeps `wait` without holding the slot, then takes it again.
    pub(super) async fn idle(&mut self, wait: std::time::Duration) {
        self.held = None;
        tokio::time::sleep(wait).await;
        self.take().await;
    }
}
