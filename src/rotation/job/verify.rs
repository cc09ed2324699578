//! The verify step: check the new secret with the provider before the old key is touched.

use super::*;

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
}
