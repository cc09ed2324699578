//! The deploy step: deliver the new secret to its consumers, through the command sink (at
//! most once per attempt) or a person who confirms.

use super::*;

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
        let record = match c.deploy.clone() {
            Some(Deploy::Command { run, idempotent }) => {
                if let Err(flow) = self.mark_deploy_started(&journal, idempotent).await {
                    return flow;
                }
                let out = self
                    .run_sink(&run, &secret, journal.new_remote_id.as_deref(), c)
                    .await;
                DeployRecord {
                    at: self.ctx.now(),
                    sink: "command".into(),
                    ok: out.ok,
                    exit_code: out.exit_code,
                    output: out.output,
                    detail: out.detail,
                }
            }
            manual => {
                let instructions = match manual {
                    Some(Deploy::Manual { instructions }) => instructions,
                    _ => None,
                };
                let q = Question::DeployedByHand {
                    used_by: c.used_by.clone(),
                    instructions,
                };
                if !self.ctx.interact.confirm(&self.at, &q).await {
                    return self.wait(q.waiting_for()).await;
                }
                DeployRecord {
                    at: self.ctx.now(),
                    sink: "manual".into(),
                    ok: true,
                    exit_code: None,
                    output: String::new(),
                    detail: "confirmed by a person".into(),
                }
            }
        };
        let ok = record.ok;
        let detail = record.detail.clone();
        let saved = self
            .save_journal(move |j| {
                if ok {
                    j.step = Step::Verify;
                    j.last_error = None;
                } else {
                    j.last_error = Some(record.detail.clone());
                }
                j.deploy = Some(record);
                j.deploy_started_at = None;
                j.waiting_for = None;
            })
            .await;
        match (ok, saved) {
            (true, Ok(())) => Flow::Next,
            (true, Err(e)) => Flow::Failed(format!(
                "deployed, but that could not be recorded ({e}): `keyward resume` asks before \
                 deploying again"
            )),
            (false, _) => Flow::Failed(format!(
                "deploy failed: {detail}; the new key is stored: fix the command and run \
                 `keyward resume`, or undo with `keyward resume --rollback`"
            )),
        }
    }

    /// Before a deploy command runs: if an earlier run was started and its end never
    /// recorded (keyward died while it ran), asks whether to run it again (`--yes` answers
    /// only for a deploy marked idempotent); then records durably that this run starts, so
    /// a crash from here on is noticed the same way. `Err` is the flow to return instead.
    pub(super) async fn mark_deploy_started(
        &mut self,
        journal: &Rotation,
        idempotent: bool,
    ) -> Result<(), Flow> {
        if let Some(started_at) = journal.deploy_started_at {
            let q = Question::RerunInterruptedDeploy {
                started_at,
                idempotent,
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return Err(self.wait(q.waiting_for()).await);
            }
        }
        let now = self.ctx.now();
        match self
            .save_journal(move |j| j.deploy_started_at = Some(now))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(self
                .fail_keep(format!(
                    "could not record that the deploy starts ({e}); the command was not run"
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
