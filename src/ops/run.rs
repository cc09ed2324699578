//! Rotation and revocation runs as both front ends start them: the rotation engine over one
//! inventory, with the audit entry of every outcome written as it settles. The command line
//! draws the run's events as a progress bar, the dashboard as a panel; the entries are the
//! same because they are written here.

use crate::store::Location;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::select::Picked;
use crate::audit::{AuditAction, AuditLog, Event};
use crate::inventory::{CredentialRef, Inventory};
use crate::providers::http::Http;
use crate::providers::registry::ProviderSet;
use crate::rotation::{
    Clock, Engine, Interact, Options, Outcome, OutcomeKind, Persist, Plan, RotationEvent, Summary,
    WorkKind,
};

/// How a run goes: the knobs both front ends offer.
#[derive(Clone)]
pub struct RunConfig {
    /// Credentials worked on at once.
    pub concurrency: usize,
    /// Credentials worked on at once in each provider's lane (one connection), when the
    /// person says; `None`: each provider's documented lane or its connection's setting.
    pub per_provider: Option<usize>,
    /// How long a deactivated old key is kept before it is deleted; zero deletes at once.
    pub grace: chrono::Duration,
    /// The time, read at each step.
    pub clock: Clock,
}

impl Default for RunConfig {
    fn default() -> Self {
        let o = Options::default();
        RunConfig {
            concurrency: o.concurrency,
            per_provider: o.per_provider,
            grace: o.grace,
            clock: o.clock,
        }
    }
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("concurrency", &self.concurrency)
            .field("per_provider", &self.per_provider)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

/// The audit action an outcome is recorded as.
pub fn audit_action(work: WorkKind, kind: OutcomeKind) -> AuditAction {
    use AuditAction as A;
    match (work, kind) {
        (WorkKind::Rotate, OutcomeKind::Done) => A::Rotated,
        (WorkKind::Rotate, OutcomeKind::Failed) => A::RotationFailed,
        (WorkKind::Resume, OutcomeKind::Done) => A::Resumed,
        (WorkKind::Resume, OutcomeKind::Failed) => A::ResumeFailed,
        (WorkKind::Rollback, OutcomeKind::Done) => A::RolledBack,
        (WorkKind::Rollback, OutcomeKind::Failed) => A::RollbackFailed,
        (WorkKind::Rotate | WorkKind::Resume | WorkKind::Rollback, OutcomeKind::Waiting) => {
            A::RotationWaiting
        }
        (WorkKind::Revoke, OutcomeKind::Done) => A::Revoked,
        (WorkKind::Revoke, OutcomeKind::Failed) => A::RevocationFailed,
        (WorkKind::Revoke, OutcomeKind::Waiting) => A::RevocationWaiting,
        (WorkKind::DeleteOld, OutcomeKind::Done) => A::DeletedOldKey,
        (WorkKind::DeleteOld, OutcomeKind::Failed) => A::DeleteOldKeyFailed,
        (WorkKind::DeleteOld, OutcomeKind::Waiting) => A::DeleteOldKeyWaiting,
        (WorkKind::Deploy, OutcomeKind::Done) => A::Deployed,
        (WorkKind::Deploy, OutcomeKind::Failed | OutcomeKind::Waiting) => A::DeployFailed,
        (_, OutcomeKind::Unconfirmed) => A::RevocationUnconfirmed,
    }
}

/// A rotation engine over one inventory, recording each outcome in the audit log.
pub struct Runner {
    engine: Engine,
    unlogged: Arc<Mutex<Vec<String>>>,
}

impl Runner {
    /// A runner over `inventory`, saving through `persist`, calling `providers`, asking a
    /// person through `interact`, recording outcomes in `audit`.
    pub fn new(
        inventory: Inventory,
        persist: Box<dyn Persist>,
        providers: ProviderSet,
        interact: Arc<dyn Interact>,
        config: RunConfig,
        audit: AuditLog,
    ) -> Runner {
        let options = Options {
            concurrency: config.concurrency.max(1),
            per_provider: config.per_provider.map(|n| n.max(1)),
            grace: config.grace,
            clock: config.clock,
            ..Options::default()
        };
        let engine = Engine::new(inventory, persist, providers, interact, options);
        let unlogged: Arc<Mutex<Vec<String>>> = Arc::default();
        let failures = Arc::clone(&unlogged);
        engine.on_settled(Arc::new(move |o: &Outcome| {
            let event = Event::new(audit_action(o.work, o.kind), Some(&o.at), &o.message);
            if let Err(e) = audit.record(event) {
                failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!(
                        "{}: {}, but not logged: {e}",
                        o.at,
                        o.kind.as_str()
                    ));
            }
        }));
        Runner { engine, unlogged }
    }

    /// A runner over the inventory at `location` with every provider this build has and
    /// the inventory's audit log.
    pub fn for_inventory(
        inventory: Inventory,
        persist: Box<dyn Persist>,
        location: &Location,
        interact: Arc<dyn Interact>,
        config: RunConfig,
    ) -> Runner {
        Runner::new(
            inventory,
            persist,
            ProviderSet::for_inventory(&Http::default(), location.home()),
            interact,
            config,
            AuditLog::for_inventory(location),
        )
    }

    /// A channel receiving every event from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<RotationEvent> {
        self.engine.subscribe()
    }

    /// Closes every event channel: receivers get what was sent, then `None`.
    pub fn close_events(&self) {
        self.engine.close_events();
    }

    /// Starts no more work: queued credentials never start, those going finish
    /// ([`Engine::stop`]).
    pub fn stop(&self) {
        self.engine.stop();
    }

    /// The run's clock, now.
    pub fn now(&self) -> DateTime<Utc> {
        self.engine.now()
    }

    /// The inventory with every change applied so far.
    pub fn inventory(&self) -> Inventory {
        self.engine.inventory()
    }

    /// The engine underneath, for what only it offers (writer statistics).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Outcomes whose audit entry could not be written, in words; a front end reports them
    /// and fails the run.
    pub fn unlogged(&self) -> Vec<String> {
        self.unlogged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The plan for `picked`: preconditions checked, nothing changed.
    pub async fn plan(&self, picked: Vec<Picked>) -> Plan {
        self.engine
            .plan(picked.into_iter().map(|p| (p.at, p.why)).collect())
            .await
    }

    /// Rotates the plan's credentials.
    pub async fn rotate(&self, plan: &Plan) -> Summary {
        self.engine.rotate(plan).await
    }

    /// Finishes (or with `rollback`, undoes) interrupted work; `refs` empty: all of it.
    pub async fn resume(&self, refs: &[CredentialRef], rollback: bool) -> Summary {
        self.engine.resume(refs, rollback).await
    }

    /// Revokes `refs`: planned (deactivate now, delete after the grace period) or, with
    /// `emergency`, deleted now.
    pub async fn revoke(&self, refs: &[CredentialRef], emergency: bool) -> Summary {
        self.engine.revoke(refs, emergency).await
    }

    /// Delivers the current secret of `refs` to their deploy targets again, rotating
    /// nothing; each outcome is audited as `deployed` or `deploy-failed`.
    pub async fn deploy(&self, refs: &[CredentialRef]) -> Summary {
        self.engine.deploy(refs).await
    }

    /// Deletes the old keys whose grace period is over.
    pub async fn delete_due(&self) -> Summary {
        self.engine.delete_due().await
    }

    /// How many credentials have old keys whose grace period is over.
    pub fn due_for_deletion(&self) -> usize {
        let now = self.now();
        self.inventory()
            .credentials()
            .filter(|(_, _, c)| c.pending_revocations.iter().any(|p| p.delete_after <= now))
            .count()
    }
}
