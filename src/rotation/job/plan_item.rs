//! Planning one credential: its provider's preconditions (key limits, a key to roll), what
//! will need a person, and what to know first. Changes nothing.

use super::*;

impl Job {
    pub(in crate::rotation) async fn plan_item(
        &mut self,
        why: String,
    ) -> (PlanItem, Option<String>, Vec<String>) {
        let provider = self
            .ctx
            .writer
            .read(|inv| inv.credential(&self.at).map(|c| c.provider))
            .unwrap_or(ProviderKind::Manual);
        let mut item = PlanItem {
            at: self.at.clone(),
            why,
            provider,
            style: None,
            manual_because: None,
            steps: Vec::new(),
            needs_person: Vec::new(),
            warnings: Vec::new(),
            blocked: None,
            deploys: Vec::new(),
            group: 0,
        };
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => {
                item.blocked = Some(e);
                return (item, None, Vec::new());
            }
        };
        let c = &r.target.credential;
        let conn = c.connection.clone();
        if let Some(j) = &c.rotation {
            item.blocked = Some(format!(
                "already in flight ({}): run `keyward resume`, or `keyward resume --rollback`",
                j.summary()
            ));
            return (item, conn, Vec::new());
        }
        if c.remote.as_ref().map(|s| s.state) == Some(RemoteStatus::Revoked) {
            item.blocked = Some("revoked: nothing to rotate".into());
            return (item, conn, Vec::new());
        }
        let style = r.caps.rotation;
        item.style = Some(style);
        item.manual_because = r.manual_because.clone();
        item.steps = match style {
            RotationStyle::RollInPlace => {
                vec![
                    Phase::Create,
                    Phase::Store,
                    Phase::Deploy,
                    Phase::Verify,
                    Phase::Commit,
                ]
            }
            _ => vec![
                Phase::Create,
                Phase::Store,
                Phase::Deploy,
                Phase::Verify,
                Phase::RevokeOld,
                Phase::Commit,
            ],
        };
        let mut listed = Vec::new();
        match style {
            RotationStyle::RollInPlace => {
                item.warnings
                    .push(r.provider.roll_aftermath(&r.target).await.describe());
                if c.remote_id.is_none() {
                    item.blocked = Some("has no `remote_id` to roll".into());
                }
            }
            RotationStyle::Manual => {
                let mut issue =
                    "a person to issue the new key at the provider and enter it".to_string();
                if let Some(url) = c.params.get("rotate_at") {
                    issue.push_str(&format!(" ({url})"));
                }
                item.needs_person.push(issue);
                item.needs_person
                    .push("a person to confirm the old key was revoked at the provider".into());
            }
            RotationStyle::CreateThenRevoke => {
                match self.call(Phase::Plan, || r.provider.list(&r.target)).await {
                    Ok(keys) => {
                        listed = keys.iter().map(|k| k.remote_id.clone()).collect();
                        if let Some(max) = r.caps.max_live_keys.map(|m| m as usize) {
                            let mut pending: Vec<&str> = c
                                .pending_revocations
                                .iter()
                                .map(|p| p.remote_id.as_str())
                                .filter(|id| listed.iter().any(|l| l == id))
                                .collect();
                            // An older file may name a key twice.
                            pending.sort_unstable();
                            pending.dedup();
                            if listed.len() >= max
                                && listed.len().saturating_sub(pending.len()) < max
                            {
                                item.warnings.push(format!(
                                    "the owner holds {} keys, the provider's limit: the \
                                     deactivated old key {} will be deleted early to make room",
                                    listed.len(),
                                    pending.join(", ")
                                ));
                            } else if listed.len() >= max {
                                item.blocked = Some(format!(
                                    "the owner already holds {} keys, the provider's limit ({}); \
                                     revoke one first",
                                    listed.len(),
                                    listed.join(", ")
                                ));
                            }
                        }
                    }
                    Err(e) => item.blocked = Some(format!("could not list the owner's keys: {e}")),
                }
            }
        }
        // An adopted key (found at the provider, `keyward adopt`): keyward never held its
        // secret, so this rotation is what takes custody of it.
        if c.secret.is_none() && style != RotationStyle::Manual {
            if let Some(id) = &c.remote_id {
                item.warnings.push(format!(
                    "takes custody: keyward holds no secret for key {id}; the new key goes to \
                     its consumers and {id} stops working, so whatever still uses it must get \
                     the new one"
                ));
            }
        }
        item.deploys = c.deploy.iter().map(Deploy::describe).collect();
        item.deploys
            .extend(c.deploy_check.as_ref().map(|k| k.describe()));
        for t in c.deploy.iter() {
            let found = self.ctx.writer.read(|inv| crate::deploy::access(inv, t));
            if let Err(e) = found {
                item.blocked.get_or_insert(format!("deploy target {e}"));
            }
        }
        match c.deploy.iter().all(Deploy::is_automatic) && !c.deploy.is_empty() {
            true => {}
            false => item.needs_person.push(
                Question::DeployedByHand {
                    used_by: c.used_by.clone(),
                    instructions: None,
                }
                .waiting_for()
                .to_string(),
            ),
        }
        if !r.caps.can_verify {
            item.needs_person.push(
                "a person to confirm the new secret works (the provider cannot check it)".into(),
            );
        }
        (item, conn, listed)
    }
}
