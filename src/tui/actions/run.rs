//! The run panel's state: one row per credential with its steps (each pending, running,
//! done or failed, with its duration), rate-limit waits, the questions queued for the
//! person, and the summary once the run is over. One credential is shown as a wizard
//! (its steps one per line), many as a progress panel (a row each).

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

use super::{Pending, RowMark};
use crate::inventory::CredentialRef;
use crate::rotation::{OutcomeKind, Phase, RotationEvent, Summary};

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Rotate the planned credentials.
    Rotate,
    /// Finish interrupted work.
    Resume,
    /// Undo interrupted rotations.
    Rollback,
    /// Revoke keys (planned: deactivate now, delete after the grace period).
    Revoke {
        /// Delete now.
        emergency: bool,
    },
    /// Delete old keys whose grace period is over.
    DeleteOld,
    /// Deliver current secrets to their deploy targets again.
    Deploy,
}

impl RunKind {
    /// The run in a word or two, for titles and the status line.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Rotate => "rotate",
            RunKind::Resume => "resume",
            RunKind::Rollback => "roll back",
            RunKind::Revoke { emergency: false } => "revoke",
            RunKind::Revoke { emergency: true } => "emergency revoke",
            RunKind::DeleteOld => "delete old keys",
            RunKind::Deploy => "deploy",
        }
    }
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Not reached yet.
    Pending,
    /// Going on.
    Running,
    /// Done.
    Done,
    /// Where the credential failed or stopped.
    Failed,
}

impl StepState {
    /// The state in a word.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }
}

/// One step of one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    /// The step.
    pub phase: Phase,
    /// Where it is.
    pub state: StepState,
    /// When it began.
    pub started: Option<DateTime<Utc>>,
    /// How long it took, once over.
    pub took: Option<Duration>,
}

/// Where a credential's work is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Not started yet.
    Queued,
    /// Going on.
    Running,
    /// A transient failure (a rate limit): waiting before trying again.
    Retrying {
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// The provider does not accept the new key yet: waiting for it to propagate, within
    /// the provider's window. Not a failure.
    Propagating {
        /// Seconds waited so far.
        waited_secs: u64,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// Finished.
    Done(String),
    /// Failed, with the reason.
    Failed(String),
    /// Stopped for a person; journaled.
    Waiting(String),
    /// Never started: the run was cancelled.
    NotStarted,
}

/// One credential in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// The credential.
    pub at: CredentialRef,
    /// Its table row, for the per-row mark.
    pub row: Option<usize>,
    /// Its steps: those planned, or those seen so far.
    pub steps: Vec<StepRow>,
    /// Where it is.
    pub state: RowState,
    /// When work on it began.
    pub started: Option<DateTime<Utc>>,
    /// When it settled.
    pub ended: Option<DateTime<Utc>>,
    /// Things the person should know.
    pub warnings: Vec<String>,
}

impl RunRow {
    /// The step going on (or where it stopped).
    pub fn current(&self) -> Option<&StepRow> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.state != StepState::Pending)
    }

    /// Whether it is over.
    pub fn settled(&self) -> bool {
        matches!(
            self.state,
            RowState::Done(_) | RowState::Failed(_) | RowState::Waiting(_) | RowState::NotStarted
        )
    }

    /// Time spent on it so far (or in all, once settled).
    pub fn elapsed(&self, now: DateTime<Utc>) -> Option<Duration> {
        Some(self.ended.unwrap_or(now) - self.started?)
    }
}

/// A run shown in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPanel {
    /// What it does.
    pub kind: RunKind,
    /// One row per credential.
    pub rows: Vec<RunRow>,
    /// The latest time the runtime reported, for elapsed times.
    pub clock: DateTime<Utc>,
    /// Questions waiting for the person, in the order asked.
    pub questions: VecDeque<Pending>,
    /// Set by the person: running work finishes, nothing queued starts.
    pub cancelled: bool,
    /// Set when the engine reported the end.
    pub finished: bool,
    /// The panel's cursor (a row).
    pub cursor: usize,
}

/// Counts over a run's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Credentials in the run.
    pub total: usize,
    /// Finished.
    pub done: usize,
    /// Failed (or never started after a cancel).
    pub failed: usize,
    /// Waiting for a person.
    pub waiting: usize,
}

impl Counts {
    /// Not yet settled.
    pub fn left(&self) -> usize {
        self.total - self.done - self.failed - self.waiting
    }
}

impl RunPanel {
    /// A panel for `kind` over `items` (address, table row, planned steps), at `now`.
    pub fn new(
        kind: RunKind,
        items: Vec<(CredentialRef, Option<usize>, Vec<Phase>)>,
        now: DateTime<Utc>,
    ) -> RunPanel {
        RunPanel {
            kind,
            rows: items
                .into_iter()
                .map(|(at, row, steps)| RunRow {
                    at,
                    row,
                    steps: steps
                        .into_iter()
                        .map(|phase| StepRow {
                            phase,
                            state: StepState::Pending,
                            started: None,
                            took: None,
                        })
                        .collect(),
                    state: RowState::Queued,
                    started: None,
                    ended: None,
                    warnings: Vec::new(),
                })
                .collect(),
            clock: now,
            questions: VecDeque::new(),
            cancelled: false,
            finished: false,
            cursor: 0,
        }
    }

    /// Whether it is shown as a wizard: one credential.
    pub fn is_wizard(&self) -> bool {
        self.rows.len() == 1
    }

    /// The counts for the gauge.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.rows.len(),
            ..Counts::default()
        };
        for r in &self.rows {
            match r.state {
                RowState::Done(_) => c.done += 1,
                RowState::Failed(_) | RowState::NotStarted => c.failed += 1,
                RowState::Waiting(_) => c.waiting += 1,
                _ => {}
            }
        }
        c
    }

    fn row_mut(&mut self, at: &str) -> Option<&mut RunRow> {
        self.rows.iter_mut().find(|r| r.at.to_string() == at)
    }

    /// Applies an engine event that happened at `when`.
    pub fn apply(&mut self, event: &RotationEvent, when: DateTime<Utc>) {
        self.clock = self.clock.max(when);
        match event {
            RotationEvent::Started { at, .. } => {
                if let Some(r) = self.row_mut(at) {
                    r.state = RowState::Running;
                    r.started.get_or_insert(when);
                }
            }
            RotationEvent::Step { at, phase } => {
                if let Some(r) = self.row_mut(at) {
                    r.state = RowState::Running;
                    r.started.get_or_insert(when);
                    close_running(r, StepState::Done, when);
                    match r.steps.iter_mut().find(|s| s.phase == *phase) {
                        Some(s) => {
                            s.state = StepState::Running;
                            s.started = Some(when);
                            s.took = None;
                        }
                        // A step the plan did not list (the engine's own `plan` step, a
                        // resumed run's first) goes where the work is, not at the end.
                        None => {
                            let at = r
                                .steps
                                .iter()
                                .rposition(|s| s.state != StepState::Pending)
                                .map_or(0, |i| i + 1);
                            r.steps.insert(
                                at,
                                StepRow {
                                    phase: *phase,
                                    state: StepState::Running,
                                    started: Some(when),
                                    took: None,
                                },
                            );
                        }
                    }
                }
            }
            RotationEvent::Retrying {
                at,
                attempt,
                reason,
                ..
            } => {
                if let Some(r) = self.row_mut(at) {
                    r.state = RowState::Retrying {
                        attempt: *attempt,
                        reason: reason.clone(),
                    };
                }
            }
            RotationEvent::Propagating {
                at,
                waited_secs,
                window_secs,
                ..
            } => {
                if let Some(r) = self.row_mut(at) {
                    r.state = RowState::Propagating {
                        waited_secs: *waited_secs,
                        window_secs: *window_secs,
                    };
                }
            }
            RotationEvent::Warning { at, message } => {
                if let Some(r) = self.row_mut(at) {
                    r.warnings.push(message.clone());
                }
            }
            RotationEvent::Finished { at, message, .. } => {
                if let Some(r) = self.row_mut(at) {
                    close_running(r, StepState::Done, when);
                    // Steps a resumed or short run skipped are not left looking pending.
                    for s in r.steps.iter_mut().filter(|s| s.state == StepState::Pending) {
                        s.state = StepState::Done;
                    }
                    r.state = RowState::Done(message.clone());
                    r.ended = Some(when);
                }
            }
            RotationEvent::Failed { at, reason, .. } => {
                if let Some(r) = self.row_mut(at) {
                    close_running(r, StepState::Failed, when);
                    r.state = RowState::Failed(reason.clone());
                    r.ended = Some(when);
                }
            }
            RotationEvent::Waiting { at, reason, .. } => {
                if let Some(r) = self.row_mut(at) {
                    close_running(r, StepState::Failed, when);
                    r.state = RowState::Waiting(reason.clone());
                    r.ended = Some(when);
                }
            }
        }
    }

    /// Applies the engine's summary at the end: rows the engine never reported (cancelled
    /// before they started) say so.
    pub fn finish(&mut self, summary: &Summary, when: DateTime<Utc>) {
        self.clock = self.clock.max(when);
        for o in &summary.outcomes {
            if let Some(r) = self.rows.iter_mut().find(|r| r.at == o.at) {
                if r.settled() {
                    continue;
                }
                r.state = match o.kind {
                    OutcomeKind::Done => RowState::Done(o.message.clone()),
                    OutcomeKind::Failed => RowState::Failed(o.message.clone()),
                    OutcomeKind::Waiting | OutcomeKind::Unconfirmed => {
                        RowState::Waiting(o.message.clone())
                    }
                };
                r.ended = Some(when);
            }
        }
        for r in self.rows.iter_mut().filter(|r| !r.settled()) {
            r.state = RowState::NotStarted;
        }
        self.finished = true;
        self.questions.clear();
    }

    /// The marks the table shows after the run.
    pub fn marks(&self) -> Vec<(usize, RowMark)> {
        self.rows
            .iter()
            .filter_map(|r| {
                let mark = match r.state {
                    RowState::Done(_) => RowMark::Done,
                    RowState::Failed(_) | RowState::NotStarted => RowMark::Failed,
                    RowState::Waiting(_) => RowMark::Waiting,
                    _ => return None,
                };
                Some((r.row?, mark))
            })
            .collect()
    }

    /// The summary line: what was done, failed, waits.
    pub fn summary_line(&self) -> String {
        let c = self.counts();
        let mut s = format!(
            "{}: {} done, {} failed, {} waiting for you",
            self.kind.as_str(),
            c.done,
            c.failed,
            c.waiting
        );
        if self.cancelled {
            s.push_str(" (cancelled)");
        }
        s
    }
}

/// Ends the running step of `r` as `state`.
fn close_running(r: &mut RunRow, state: StepState, when: DateTime<Utc>) {
    for s in r.steps.iter_mut().filter(|s| s.state == StepState::Running) {
        s.state = state;
        s.took = s.started.map(|t| when - t);
    }
}

/// A duration as the panel shows it: `0.4s`, `12s`, `3m05s`.
pub fn short_duration(d: Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 10_000 {
        format!("{}.{}s", ms / 1000, (ms % 1000) / 100)
    } else if ms < 60_000 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}
