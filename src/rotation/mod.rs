//! Rotation and revocation: the journaled state machine, the bulk executor, deploy sinks,
//! and the one writer that saves the inventory while rotations run.
//!
//! The invariants this module keeps (DESIGN.md):
//! 1. A secret a provider returned is saved, encrypted, before any other step runs; if that
//!    save fails, the new key is revoked again at the provider and the person is told.
//! 2. The old key is revoked only after the new one was deployed and verified (valid, or
//!    "cannot check" explicitly confirmed by a person).
//! 3. Every transition is saved before the next begins: after a crash the inventory shows
//!    the interrupted rotation (its journal, [`crate::inventory::journal::Rotation`]) and
//!    [`Engine::resume`] finishes it or rolls it back.
//! 4. No key keyward created at a provider is left unrecorded: the intent (with the owner's
//!    keys as they were) is saved before the provider is asked, so after a crash the keys
//!    listed since are known to be keyward's and are deleted before trying again.
//!
//! Steps: plan, create (or roll, or a person enters the new secret), store, deploy, verify,
//! revoke the old key (deactivate and delete after a grace period where the provider
//! allows), commit. The engine never touches the terminal: it reports [`RotationEvent`]s on
//! channels and asks a person through [`Interact`].

mod engine;
mod hooks;
pub mod interact;
mod job;
pub mod plan;
mod shared;
pub mod sink;
pub mod writer;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::inventory::CredentialRef;
pub use crate::providers::registry::ProviderSet;

pub use engine::{Engine, SettledHook};
pub use interact::{Interact, NonInteractive, Question};
pub use plan::{Plan, PlanItem};
pub use writer::{Persist, PersistError, Writer, WriterStats};

/// Where the engine gets the time: the real clock in the program, a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How often a transient provider failure is tried again, on top of the HTTP client's own
/// retries (a sandbox fails without HTTP; a long outage outlasts the client's retries).
#[derive(Debug, Clone, Copy)]
pub struct StepRetry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first wait; each next one doubles, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl StepRetry {
    /// The wait before attempt `attempt + 1`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay)
    }

    /// The wait before attempt `attempt + 1` after a transient failure: what the provider
    /// asked for (`asked`, its `Retry-After` or rate-limit reset) when it said, stretched
    /// by up to a tenth so the calls one reset lets through do not all arrive at once;
    /// otherwise [`StepRetry::backoff`] with jitter over its upper half.
    pub fn wait_after(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        match asked {
            Some(asked) => {
                let spread = (asked.as_millis() / 10).min(1000) as u64;
                asked + Duration::from_millis(rng.gen_range(0..=spread))
            }
            None => {
                let full = self.backoff(attempt).as_millis().max(1) as u64;
                Duration::from_millis(rng.gen_range(full / 2..=full))
            }
        }
    }
}

impl Default for StepRetry {
    fn default() -> Self {
        StepRetry {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// Rotations at once overall when nobody says otherwise: enough to keep several providers'
/// lanes full; each lane stays within its provider's documented rate.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// How the engine runs.
#[derive(Clone)]
pub struct Options {
    /// Rotations at once, overall. A credential that only waits (for its new key to
    /// propagate, for a provider's rate limit to reset) holds no slot.
    pub concurrency: usize,
    /// Rotations at once in each lane (one connection of a provider) when the person says
    /// so; `None`: the connection's `params.concurrency`, else the provider's documented
    /// lane ([`crate::providers::pacing::lane_size`]).
    pub per_provider: Option<usize>,
    /// Retries of transient provider failures.
    pub retry: StepRetry,
    /// How long a deactivated old key is kept before deletion; zero deletes at once.
    pub grace: chrono::Duration,
    /// How long a deploy command may run.
    pub deploy_timeout: Duration,
    /// The time.
    pub clock: Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: DEFAULT_CONCURRENCY,
            per_provider: None,
            retry: StepRetry::default(),
            grace: chrono::Duration::days(7),
            deploy_timeout: Duration::from_secs(120),
            clock: Arc::new(Utc::now),
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("concurrency", &self.concurrency)
            .field("per_provider", &self.per_provider)
            .field("retry", &self.retry)
            .field("grace", &self.grace)
            .field("deploy_timeout", &self.deploy_timeout)
            .finish_non_exhaustive()
    }
}

/// A step as reported in events (some never rest in the journal, e.g. `store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Checking preconditions and recording the intent.
    Plan,
    /// Asking the provider for the new key (or rolling it, or a person entering it).
    Create,
    /// Saving the new secret.
    Store,
    /// Delivering the new secret to its consumers.
    Deploy,
    /// Checking the new secret with the provider.
    Verify,
    /// Deactivating or deleting the old key.
    RevokeOld,
    /// Recording the finished rotation.
    Commit,
    /// Revoking a key (revocations).
    Revoke,
    /// Undoing an interrupted rotation.
    Rollback,
    /// Deleting old keys whose grace period is over.
    DeleteOld,
}

impl Phase {
    /// The phase's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Create => "create",
            Phase::Store => "store",
            Phase::Deploy => "deploy",
            Phase::Verify => "verify",
            Phase::RevokeOld => "revoke-old",
            Phase::Commit => "commit",
            Phase::Revoke => "revoke",
            Phase::Rollback => "rollback",
            Phase::DeleteOld => "delete-old",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts so far in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Credentials in the run.
    pub total: usize,
    /// Finished.
    pub done: usize,
    /// Failed.
    pub failed: usize,
    /// Stopped, waiting for a person (an unconfirmed revocation included: a person or a
    /// later `resume` must confirm it).
    pub waiting: usize,
}

impl Progress {
    /// Credentials no longer running.
    pub fn settled(&self) -> usize {
        self.done + self.failed + self.waiting
    }
}

/// What a run reports while it goes, for the CLI's progress bar and the dashboard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RotationEvent {
    /// Work on a credential began.
    Started {
        /// The credential.
        at: String,
        /// What is being done.
        work: WorkKind,
    },
    /// A step began.
    Step {
        /// The credential.
        at: String,
        /// The step.
        phase: Phase,
    },
    /// A transient failure; trying again.
    Retrying {
        /// The credential.
        at: String,
        /// The step.
        phase: Phase,
        /// The attempt that failed.
        attempt: u32,
        /// What went wrong.
        reason: String,
    },
    /// The provider refused the new key, but it may not have propagated yet: checking again
    /// after a wait, holding no concurrency slot meanwhile. Not a failure.
    Propagating {
        /// The credential.
        at: String,
        /// Seconds since the first check.
        waited_secs: u64,
        /// The provider's propagation window in seconds: after it, a refusal is final.
        window_secs: u64,
        /// What the provider said.
        reason: String,
    },
    /// Something the person should know, which does not stop the work.
    Warning {
        /// The credential.
        at: String,
        /// What.
        message: String,
    },
    /// Finished.
    Finished {
        /// The credential.
        at: String,
        /// What was done.
        message: String,
        /// Counts so far.
        progress: Progress,
    },
    /// Stopped until a person acts; journaled.
    Waiting {
        /// The credential.
        at: String,
        /// What for.
        reason: String,
        /// Counts so far.
        progress: Progress,
    },
    /// Failed.
    Failed {
        /// The credential.
        at: String,
        /// Why, and what to do.
        reason: String,
        /// Counts so far.
        progress: Progress,
    },
}

/// What a run does for a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkKind {
    /// A rotation.
    Rotate,
    /// Finishing an interrupted rotation or revocation.
    Resume,
    /// Undoing an interrupted rotation.
    Rollback,
    /// A revocation.
    Revoke,
    /// Deleting old keys whose grace period is over.
    DeleteOld,
    /// Delivering the current secret to its deploy targets again (`keyward deploy`).
    Deploy,
}

impl WorkKind {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkKind::Rotate => "rotate",
            WorkKind::Resume => "resume",
            WorkKind::Rollback => "rollback",
            WorkKind::Revoke => "revoke",
            WorkKind::DeleteOld => "delete-old",
            WorkKind::Deploy => "deploy",
        }
    }
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one credential's work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Finished.
    Done,
    /// Stopped for a person; journaled.
    Waiting,
    /// Failed.
    Failed,
    /// A revocation the provider could not confirm: the key may still work. Journaled;
    /// `resume` tries again, and a person may confirm it.
    Unconfirmed,
}

impl OutcomeKind {
    /// The word shown: `done`, `failed`, `waiting` or `unconfirmed`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Done => "done",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Waiting => "waiting",
            OutcomeKind::Unconfirmed => "unconfirmed",
        }
    }
}

/// One credential's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The credential.
    pub at: CredentialRef,
    /// What was done for it.
    pub work: WorkKind,
    /// How it ended.
    pub kind: OutcomeKind,
    /// What was done, or why not.
    pub message: String,
    /// Provider calls made, retries included.
    pub attempts: u32,
    /// What the person should know.
    pub warnings: Vec<String>,
}

/// The end of a run: one outcome per credential, in the order asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// How many ended as `kind`.
    pub fn count(&self, kind: OutcomeKind) -> usize {
        self.outcomes.iter().filter(|o| o.kind == kind).count()
    }

    /// The outcome for `at`.
    pub fn outcome(&self, at: &CredentialRef) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| &o.at == at)
    }
}
