//! The verify step: check the new secret with the provider before the old key is touched.
//!
//! A provider may take a while to accept a key it just issued (AWS IAM is eventually
//! consistent, see [`crate::providers::aws`]). Within the provider's propagation window
//! ([`crate::providers::pacing::propagation_window`]) a refusal means "not yet": the job
//! gives its concurrency slot back, waits (exponential backoff with jitter, capped so the
//! last check lands at the window's end) and checks again, reporting
//! [`RotationEvent::Propagating`]. After the window a refusal is final. The old key is
//! untouched throughout: it is revoked only after a check says the new one works.

use std::time::{Duration, Instant};

use rand::Rng;

use super::*;
use crate::providers::pacing;

/// The first wait after a refusal inside the propagation window.
const PROPAGATION_FIRST_WAIT: Duration = Duration::from_millis(250);

/// The wait before propagation check `n + 1` (`n` from 1): doubling from
/// [`PROPAGATION_FIRST_WAIT`] up to an eighth of the window (at least the first wait, at
/// most 5 s), with full jitter over its upper half so a bulk run's checks spread out, and
/// never past the window's end (`left`).
fn propagation_wait(n: u32, window: Duration, left: Duration) -> Duration {
    let cap = (window / 8).clamp(PROPAGATION_FIRST_WAIT, Duration::from_secs(5));
    let full = PROPAGATION_FIRST_WAIT
        .saturating_mul(1u32 << n.saturating_sub(1).min(16))
        .min(cap);
    let millis = full.as_millis().max(1) as u64;
    let jittered = Duration::from_millis(rand::thread_rng().gen_range(millis / 2..=millis));
    // The last check lands just after the window closes, so a key that starts working at
    // its very end is still seen.
    jittered.min(left + Duration::from_millis(10))
}

impl Job {
    pub(super) async fn verify(&mut self) -> Flow {
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
        let window = match pacing::propagation_window(r.provider.as_ref(), &r.target) {
            Ok(w) => w,
            Err(e) => return self.fail_keep(e).await,
        };
        self.enter(Phase::Verify).await;
        let retry = self.ctx.options.retry;
        let first_check = Instant::now();
        let (mut attempt, mut not_yet) = (0, 0);
        let verdict = loop {
            attempt += 1;
            self.count_attempt();
            let v = r
                .provider
                .verify(&r.target, journal.new_remote_id.as_deref(), &secret)
                .await;
            let waited = first_check.elapsed();
            match v {
                Verification::CouldNotCheck { reason } if attempt < retry.max_attempts => {
                    self.retrying(Phase::Verify, attempt, reason);
                    self.slot.idle(retry.wait_after(attempt, None)).await;
                }
                Verification::Invalid { reason } if waited < window => {
                    not_yet += 1;
                    // Refusals inside the window are the provider catching up, not failed
                    // attempts: they do not use up the retries of "could not check".
                    attempt = 0;
                    self.ctx.emit(RotationEvent::Propagating {
                        at: self.at.to_string(),
                        waited_secs: waited.as_secs(),
                        window_secs: window.as_secs(),
                        reason,
                    });
                    let wait = propagation_wait(not_yet, window, window - waited);
                    self.slot.idle(wait).await;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_waits_grow_jittered_and_never_pass_the_window() {
        let window = Duration::from_secs(60);
        for n in 1..40 {
            let full = PROPAGATION_FIRST_WAIT
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(Duration::from_millis(7500).min(Duration::from_secs(5)));
            let w = propagation_wait(n, window, window);
            assert!(w <= full && w >= full / 2, "check {n}: {w:?} of {full:?}");
        }
        // Near the end, the wait lands just past it.
        let w = propagation_wait(30, window, Duration::from_millis(100));
        assert!(w <= Duration::from_millis(110), "{w:?}");
        // A short window keeps the first wait.
        let w = propagation_wait(9, Duration::from_secs(1), Duration::from_secs(1));
        assert!(w <= PROPAGATION_FIRST_WAIT, "{w:?}");
    }
}
