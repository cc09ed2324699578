//! What every job of a run shares ([`Ctx`]) and what a job does for its credential
//! ([`Work`]): the engine hands both to each [`super::job`], so neither module needs the
//! other's internals.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

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
}

impl Ctx {
    pub(super) fn emit(&self, event: RotationEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        (self.options.clock)()
    }
}

/// What a job does for its credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Work {
    Rotate,
    Resume,
    Rollback,
    Revoke { emergency: bool },
    DeleteDue,
}

impl Work {
    pub(super) fn kind(self) -> WorkKind {
        match self {
            Work::Rotate => WorkKind::Rotate,
            Work::Resume => WorkKind::Resume,
            Work::Rollback => WorkKind::Rollback,
            Work::Revoke { .. } => WorkKind::Revoke,
            Work::DeleteDue => WorkKind::DeleteOld,
        }
    }
}

/// Called with each credential's outcome as it settles (after its last save), before the
/// event goes out: where the operations layer writes its audit entry.
pub type SettledHook = Arc<dyn Fn(&Outcome) + Send + Sync>;
