//! The deploy step: deliver the new secret to each of the credential's deploy targets in
//! order ([`crate::deploy`]), then run its `deploy_check`, before anything touches the old
//! key. Each target's outcome is journaled as it ends, and the start of each automatic
//! delivery is journaled before it begins: a rotation resumed after a crash skips the
//! targets recorded done and, for the one cut short, runs it again only when that is
//! harmless (or a person says so). `keyward deploy` re-delivers the current secret through
//! the same per-target code, without a journal.

use super::*;
use crate::deploy::{self, Delivery, DeployCheck};
use crate::inventory::journal::CheckRecord;

/// The targets to run: a credential without any is updated by hand.
fn targets_of(c: &Credential) -> Vec<Deploy> {
    if c.deploy.is_empty() {
        vec![Deploy::Manual { instructions: None }]
    } else {
        c.deploy.0.clone()
    }
}

/// Journals one target's outcome: it replaces the target's earlier one, is the last deploy
/// record, and ends the delivery `deploy_started_at` announced.
fn keep_outcome(j: &mut Rotation, record: DeployRecord) {
    j.deployed.retain(|d| d.target != record.target);
    j.deploy = Some(record.clone());
    j.deployed.push(record);
    j.deploy_started_at = None;
    j.deploy_started_target = None;
    j.waiting_for = None;
}

impl Job {
    pub(super) async fn deploy(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        let c = &r.target.credential;
        let Some(journal) = c.rotation.clone() else {
            return Flow::Failed("the journal is gone".into());
        };
        let Some(secret) = journal.new_secret.clone() else {
            return self
                .fail_keep(
                    "the journal has no new secret to deploy: `keyward resume --rollback`".into(),
                )
                .await;
        };
        self.enter(Phase::Deploy).await;
        let targets = targets_of(c);
        // The last target's good outcome is saved with the next transition (the check's
        // record, or the step's end): one save fewer per rotation, and a crash before it
        // looks like a crash during that delivery, which `resume` handles.
        let mut last_ok: Option<DeployRecord> = None;
        for (index, target) in targets.iter().enumerate() {
            let Some(journal) = self.journal() else {
                return Flow::Failed("the journal is gone".into());
            };
            if journal
                .deployed
                .iter()
                .any(|d| d.target == Some(index) && d.ok)
            {
                continue;
            }
            let record = match target {
                Deploy::Manual { instructions } => {
                    let q = Question::DeployedByHand {
                        used_by: c.used_by.clone(),
                        instructions: instructions.clone(),
                    };
                    if !self.ctx.interact.confirm(&self.at, &q).await {
                        return self.wait(q.waiting_for()).await;
                    }
                    DeployRecord {
                        at: self.ctx.now(),
                        sink: target.kind().as_str().into(),
                        target: Some(index),
                        ok: true,
                        exit_code: None,
                        output: String::new(),
                        detail: "confirmed by a person".into(),
                    }
                }
                _ => {
                    if let Err(flow) = self.mark_deploy_started(&journal, index, target).await {
                        return flow;
                    }
                    let request_id = format!("{} {index}", journal.id);
                    self.deliver(target, index, &secret, c, &request_id).await
                }
            };
            let (ok, detail) = (record.ok, record.detail.clone());
            if ok && index + 1 == targets.len() {
                last_ok = Some(record);
                break;
            }
            let saved = self
                .save_journal(move |j| {
                    j.last_error = (!record.ok).then(|| record.detail.clone());
                    keep_outcome(j, record);
                })
                .await;
            match (ok, saved) {
                (true, Ok(())) => {}
                (true, Err(e)) => {
                    return Flow::Failed(format!(
                        "delivered to {}, but that could not be recorded ({e}): `keyward \
                         resume` delivers it again where that is harmless, else asks",
                        target.describe()
                    ))
                }
                (false, _) => {
                    return Flow::Failed(format!(
                        "deploy failed: {detail} (to {}); the new key is stored and the old \
                         one untouched: fix it and run `keyward resume` (targets already done \
                         are not redone), or undo with `keyward resume --rollback`",
                        target.describe()
                    ))
                }
            }
        }
        if let Some(check) = c.deploy_check.clone() {
            if let Err(flow) = self.run_check(&check, &secret, c, last_ok.take()).await {
                return flow;
            }
        }
        let summary = DeployRecord {
            at: self.ctx.now(),
            sink: targets
                .iter()
                .map(|t| t.kind().as_str())
                .collect::<Vec<_>>()
                .join(","),
            target: None,
            ok: true,
            exit_code: None,
            output: String::new(),
            detail: format!("{} target(s) delivered", targets.len()),
        };
        let saved = self
            .save_journal(move |j| {
                if let Some(record) = last_ok {
                    keep_outcome(j, record);
                }
                j.step = Step::Verify;
                j.last_error = None;
                j.deploy = Some(summary);
                j.deploy_started_at = None;
                j.deploy_started_target = None;
                j.waiting_for = None;
            })
            .await;
        match saved {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "deployed, but that could not be recorded ({e}): `keyward resume` delivers \
                 again where that is harmless, else asks"
            )),
        }
    }

    /// Runs the deploy check and journals how it went; `Err` is the flow to end with: a
    /// failed check stops the rotation before the old key is touched.
    async fn run_check(
        &mut self,
        check: &DeployCheck,
        secret: &Secret,
        c: &Credential,
        delivered: Option<DeployRecord>,
    ) -> Result<(), Flow> {
        let mut mask = vec![secret];
        mask.extend(c.secret.as_ref());
        let result = deploy::check::run(
            check,
            deploy::shared_http(),
            self.ctx.options.deploy_timeout,
            &mask,
        )
        .await;
        let record = CheckRecord {
            at: self.ctx.now(),
            ok: result.is_ok(),
            detail: match &result {
                Ok(s) | Err(s) => s.clone(),
            },
        };
        let failed = result.as_ref().err().map(|why| {
            format!(
                "the deploy check failed: {why}; the old key is untouched: fix the consumers \
                 and run `keyward resume` (checks again), or undo with `keyward resume \
                 --rollback`"
            )
        });
        let err = failed.clone();
        let saved = self
            .save_journal(move |j| {
                if let Some(d) = delivered {
                    keep_outcome(j, d);
                }
                j.deploy_check = Some(record);
                if err.is_some() {
                    j.last_error = err;
                }
            })
            .await;
        match (failed, saved) {
            (Some(f), _) => Err(Flow::Failed(f)),
            (None, Ok(())) => Ok(()),
            (None, Err(e)) => Err(Flow::Failed(format!(
                "the deploy check passed, but that could not be recorded ({e}): `keyward \
                 resume` checks again"
            ))),
        }
    }

    /// Delivers `secret` to one automatic target (a command through the sink, the others
    /// through [`crate::deploy::deliver`]), masking every secret of `c` in what is kept.
    pub(super) async fn deliver(
        &mut self,
        target: &Deploy,
        index: usize,
        secret: &Secret,
        c: &Credential,
        request_id: &str,
    ) -> DeployRecord {
        let mut record = DeployRecord {
            at: self.ctx.now(),
            sink: target.kind().as_str().into(),
            target: Some(index),
            ok: false,
            exit_code: None,
            output: String::new(),
            detail: String::new(),
        };
        if let Deploy::Command { run, .. } = target {
            let new_id = c.rotation.as_ref().and_then(|j| j.new_remote_id.clone());
            let out = self.run_sink(run, secret, new_id.as_deref(), c).await;
            record.at = self.ctx.now();
            record.ok = out.ok;
            record.exit_code = out.exit_code;
            record.output = out.output;
            record.detail = out.detail;
            return record;
        }
        let access = self.ctx.writer.read(|inv| deploy::access(inv, target));
        self.count_attempt();
        let result = match access {
            Ok(access) => {
                let d = Delivery {
                    secret,
                    access: &access,
                    http: deploy::shared_http(),
                    timeout: self.ctx.options.deploy_timeout,
                    request_id,
                };
                deploy::deliver(target, &d).await
            }
            Err(e) => Err(e),
        };
        record.at = self.ctx.now();
        match result {
            Ok(done) => {
                record.ok = true;
                record.detail = done;
            }
            Err(e) => {
                let mut masked = vec![secret];
                masked.extend(c.secret.as_ref());
                record.detail = e.redacting(&masked).to_string();
            }
        }
        record
    }

    /// `keyward deploy`: delivers the credential's current secret to every automatic target
    /// again, then runs its check; not journaled (nothing is rotated), and targets delivered
    /// by hand are only named.
    pub(super) async fn redeploy(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let c = &r.target.credential;
        if let Some(j) = &c.rotation {
            return Flow::Failed(format!(
                "{} is in flight: finish it with `keyward resume` (it delivers the new \
                 secret), or undo it with `keyward resume --rollback`",
                j.summary()
            ));
        }
        let Some(secret) = c.secret.clone() else {
            return Flow::Failed(
                "no secret stored to deliver: rotate it, or store one with `keyward edit`".into(),
            );
        };
        self.enter(Phase::Deploy).await;
        let request_id = format!("redeploy {}", short_id());
        let mut done = Vec::new();
        for (index, target) in targets_of(c).iter().enumerate() {
            if !target.is_automatic() {
                self.warn(format!(
                    "{}: update {} by hand",
                    target.describe(),
                    if c.used_by.is_empty() {
                        "its consumers".to_string()
                    } else {
                        c.used_by.join(", ")
                    }
                ));
                continue;
            }
            let record = self
                .deliver(target, index, &secret, c, &format!("{request_id} {index}"))
                .await;
            if !record.ok {
                let mut why = format!("deploy to {} failed: {}", target.describe(), record.detail);
                if !done.is_empty() {
                    why.push_str(&format!(" (already delivered: {})", done.join(", ")));
                }
                why.push_str("; fix it and run `keyward deploy` again");
                return Flow::Failed(why);
            }
            done.push(target.describe());
        }
        if let Some(check) = &c.deploy_check {
            let mut mask = vec![&secret];
            mask.extend(c.secret.as_ref());
            if let Err(why) = deploy::check::run(
                check,
                deploy::shared_http(),
                self.ctx.options.deploy_timeout,
                &mask,
            )
            .await
            {
                return Flow::Failed(format!(
                    "delivered, but the deploy check failed: {why}; fix the consumers and run \
                     `keyward deploy` again"
                ));
            }
        }
        if done.is_empty() {
            return Flow::Done("nothing keyward delivers itself: every target is by hand".into());
        }
        Flow::Done(format!("delivered to {}", done.join(", ")))
    }

    /// Before an automatic delivery to target `index`: if an earlier delivery to it was
    /// started and its end never recorded (keyward died while it ran), runs it again when
    /// that is harmless (a target that sets a value in place) and otherwise asks (`--yes`
    /// answers only for a command marked idempotent); then records durably that this
    /// delivery starts, so a crash from here on is noticed the same way. `Err` is the flow
    /// to return instead.
    pub(super) async fn mark_deploy_started(
        &mut self,
        journal: &Rotation,
        index: usize,
        target: &Deploy,
    ) -> Result<(), Flow> {
        let interrupted = journal
            .deploy_started_at
            .filter(|_| journal.deploy_started_target.unwrap_or(0) == index);
        let harmless = target.idempotent() && target.kind() != deploy::TargetKind::Command;
        if let Some(started_at) = interrupted.filter(|_| !harmless) {
            let q = Question::RerunInterruptedDeploy {
                started_at,
                idempotent: target.idempotent(),
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return Err(self.wait(q.waiting_for()).await);
            }
        }
        let now = self.ctx.now();
        match self
            .save_journal(move |j| {
                j.deploy_started_at = Some(now);
                j.deploy_started_target = Some(index);
            })
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail_keep(format!(
                    "could not record that the deploy starts ({e}); nothing was delivered"
                ))
                .await),
        }
    }

    /// Runs a command sink with `secret`, masking it and the credential's current secret.
    pub(super) async fn run_sink(
        &self,
        run: &str,
        secret: &Secret,
        new_remote_id: Option<&str>,
        c: &Credential,
    ) -> sink::CommandOutcome {
        let env = [
            ("KEYWARD_CREDENTIAL", self.at.to_string()),
            (
                "KEYWARD_REMOTE_ID",
                new_remote_id.unwrap_or_default().to_string(),
            ),
        ];
        let mut mask = vec![secret];
        mask.extend(c.secret.as_ref());
        if let Some(new) = c.rotation.as_ref().and_then(|j| j.new_secret.as_ref()) {
            mask.push(new);
        }
        sink::run_command(run, secret, &env, &mask, self.ctx.options.deploy_timeout).await
    }
}
