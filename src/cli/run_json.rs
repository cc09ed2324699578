//! The JSON shapes of `rotate`, `resume` and `revoke` (docs/json.md): the plan as it was
//! shown, each credential's outcome, and the counts, built from the engine's own types so
//! they say exactly what the text says. Never a secret: outcomes carry the engine's messages,
//! which are written without one.

use serde::Serialize;

use crate::rotation::{Outcome, OutcomeKind, Plan, PlanItem, Summary};

/// One plan line.
#[derive(Debug, Serialize)]
pub struct PlannedJson {
    credential: String,
    provider: &'static str,
    style: Option<&'static str>,
    manual_because: Option<String>,
    why: String,
    steps: Vec<&'static str>,
    needs_person: Vec<String>,
    warnings: Vec<String>,
    blocked: Option<String>,
    deploys: Vec<String>,
}

impl PlannedJson {
    fn new(item: &PlanItem) -> PlannedJson {
        PlannedJson {
            credential: item.at.to_string(),
            provider: item.provider.as_str(),
            style: item.style.map(crate::providers::RotationStyle::as_str),
            manual_because: item.manual_because.clone(),
            why: item.why.clone(),
            steps: item.steps.iter().map(|s| s.as_str()).collect(),
            needs_person: item.needs_person.clone(),
            warnings: item.warnings.clone(),
            blocked: item.blocked.clone(),
            deploys: item.deploys.clone(),
        }
    }

    /// Every line of `plan`.
    pub fn all(plan: &Plan) -> Vec<PlannedJson> {
        plan.items.iter().map(PlannedJson::new).collect()
    }
}

/// How one credential's work ended.
#[derive(Debug, Serialize)]
pub struct OutcomeJson {
    credential: String,
    work: &'static str,
    outcome: &'static str,
    message: String,
    warnings: Vec<String>,
}

impl OutcomeJson {
    fn new(o: &Outcome) -> OutcomeJson {
        OutcomeJson {
            credential: o.at.to_string(),
            work: o.work.as_str(),
            outcome: o.kind.as_str(),
            message: o.message.clone(),
            warnings: o.warnings.clone(),
        }
    }
}

/// The counts a run ends with, clean-up (deleting old keys past their grace) included.
#[derive(Debug, Default, Serialize)]
pub struct CountsJson {
    done: usize,
    failed: usize,
    waiting: usize,
}

/// What a run did: every outcome, the counts, and outcomes whose audit entry could not be
/// written.
#[derive(Debug, Default, Serialize)]
pub struct RunJson {
    outcomes: Vec<OutcomeJson>,
    counts: CountsJson,
    unlogged: Vec<String>,
}

impl RunJson {
    /// The run's `summary`, then the clean-up's.
    pub fn new(summary: &Summary, cleanup: &Summary, unlogged: Vec<String>) -> RunJson {
        let count = |k: OutcomeKind| summary.count(k) + cleanup.count(k);
        RunJson {
            outcomes: summary
                .outcomes
                .iter()
                .chain(&cleanup.outcomes)
                .map(OutcomeJson::new)
                .collect(),
            counts: CountsJson {
                done: count(OutcomeKind::Done),
                failed: count(OutcomeKind::Failed),
                waiting: count(OutcomeKind::Waiting),
            },
            unlogged,
        }
    }
}
