//! Rolling back an interrupted rotation: the new key deleted, the old secret put back
//! where a deploy may have replaced it.

use super::*;

impl Job {
    pub(super) async fn rollback(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let Some(journal) = r.target.credential.rotation.clone() else {
            return Flow::Done("nothing in flight".into());
        };
        self.enter(Phase::Rollback).await;
        let refuse = |why: &str| Flow::Failed(format!("cannot roll back: {why}"));
        match (journal.action, journal.style, journal.step) {
            (Action::Revoke | Action::EmergencyRevoke, _, _) => {
                return refuse(
                    "the key may already be revoked, and revoking cannot be undone; `keyward \
                     resume` finishes the revocation",
                )
            }
            (_, _, Step::RevokeOld) => {
                return refuse(
                    "the new key is verified and the old one may already be revoked; `keyward \
                     resume` finishes the rotation",
                )
            }
            (_, Style::RollInPlace, Step::Create) => {
                let c = &r.target.credential;
                let old_works = match &c.secret {
                    Some(s) => {
                        r.provider
                            .verify(&r.target, c.remote_id.as_deref(), s)
                            .await
                            == Verification::Valid
                    }
                    None => false,
                };
                if !old_works {
                    return refuse(
                        "the key may have been rolled already and the old value no longer works; \
                         `keyward resume` rolls it again",
                    );
                }
            }
            (_, Style::RollInPlace, _) => {
                return refuse(
                    "the old value died with the roll; `keyward resume` finishes the rotation",
                )
            }
            (_, Style::Manual, step) => {
                // A deploy (finished, failed, or a command cut short) may have handed the
                // person's new secret to the consumers: they get the old one back.
                let command = r.target.credential.deploy.any_automatic();
                let deployed = step > Step::Deploy
                    || journal.deploy.is_some()
                    || (step == Step::Deploy && command);
                if deployed {
                    if let Err(flow) = self.revert_consumers(&r).await {
                        return flow;
                    }
                }
            }
            (_, Style::CreateThenRevoke, Step::Create) => match self.sweep(&r, &journal).await {
                Ok(swept) => self.report_sweep(&swept, "made by the interrupted attempt"),
                Err(e) => {
                    return self
                        .fail_keep(format!(
                            "could not check for a key left by the interrupted attempt: {e}"
                        ))
                        .await
                }
            },
            (_, Style::CreateThenRevoke, _) => {
                // A deploy cut short leaves no record but may have reached some consumers;
                // putting the old secret back is harmless where it never left.
                if let Err(flow) = self.revert_consumers(&r).await {
                    return flow;
                }
                if let Some(new) = journal.new_remote_id.clone() {
                    match self.revoke_key(Phase::Rollback, &r, &new).await {
                        Ok(Revocation::Unconfirmed { reason }) => {
                            return self
                                .fail_keep(format!(
                                    "rolling back: the deletion of the new key {new} is \
                                     unconfirmed ({reason}): check at the provider, then run \
                                     `keyward resume --rollback` again"
                                ))
                                .await;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            return self
                                .fail_keep(format!(
                                    "rolling back: could not delete the new key {new}: {e}"
                                ))
                                .await;
                        }
                    }
                }
            }
        }
        let note = match journal.style {
            Style::Manual => {
                "rolled back; if a new key was issued at the provider, revoke it there"
            }
            _ => "rolled back; the old key stays in use",
        };
        match self
            .clear_journal(
                HistoryEvent::RotationRolledBack,
                format!("{note} ({})", journal.id),
            )
            .await
        {
            Ok(()) => Flow::Done(note.to_string()),
            Err(e) => Flow::Failed(format!("{note}, but the journal could not be cleared: {e}")),
        }
    }

    /// Puts the old secret back where a deploy may have put the new one: every automatic
    /// target gets it again; a person confirms for those updated by hand.
    pub(super) async fn revert_consumers(&mut self, r: &Resolved) -> Result<(), Flow> {
        let c = &r.target.credential;
        let by_hand = c.deploy.is_empty() || c.deploy.iter().any(|t| !t.is_automatic());
        if c.deploy.any_automatic() {
            match c.secret.clone() {
                None => self.warn(
                    "the old secret is not in the inventory, so the deploy targets were not \
                     reverted"
                        .into(),
                ),
                Some(old) => {
                    let id = c.rotation.as_ref().map_or("rollback", |j| j.id.as_str());
                    let request_id = format!("{id} rollback");
                    for (index, target) in c.deploy.0.iter().enumerate() {
                        if !target.is_automatic() {
                            continue;
                        }
                        let record = self
                            .deliver(target, index, &old, c, &format!("{request_id} {index}"))
                            .await;
                        if !record.ok {
                            return Err(self
                                .fail_keep(format!(
                                    "rolling back: could not put the old secret back in {}: {}",
                                    target.describe(),
                                    record.detail
                                ))
                                .await);
                        }
                    }
                }
            }
        }
        if by_hand {
            let q = Question::RevertedByHand {
                used_by: c.used_by.clone(),
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return Err(self.wait(q.waiting_for()).await);
            }
        }
        Ok(())
    }
}
