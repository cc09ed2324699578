//! The first steps of a rotation: record the intent, make room under the provider's key
//! limit, then create the new key (or roll it in place, or take a person's new secret) and
//! store it before anything else happens.

use super::*;

impl Job {
    pub(super) async fn begin_rotation(&mut self) -> Flow {
        self.enter(Phase::Plan).await;
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let c = &r.target.credential;
        if let Some(j) = &c.rotation {
            return Flow::Failed(format!(
                "already in flight ({}): run `keyward resume`, or `keyward resume --rollback`",
                j.summary()
            ));
        }
        let style = style_of(r.caps.rotation);
        let old = c.remote_id.clone();
        let mut known = Vec::new();
        match style {
            Style::RollInPlace if old.is_none() => {
                return Flow::Failed("has no `remote_id` to roll".into())
            }
            Style::CreateThenRevoke => {
                let keys = match self.call(Phase::Plan, || r.provider.list(&r.target)).await {
                    Ok(k) => k,
                    Err(e) => return Flow::Failed(format!("could not list the owner's keys: {e}")),
                };
                known = keys.into_iter().map(|k| k.remote_id).collect();
                if let Some(max) = r.caps.max_live_keys.map(|m| m as usize) {
                    if known.len() >= max {
                        if let Err(flow) = self.make_room(&r, &mut known, max).await {
                            return flow;
                        }
                    }
                }
            }
            _ => {}
        }
        let now = self.ctx.now();
        let mut journal = Rotation::new(
            format!("rot-{}-{}", now.format("%Y%m%dT%H%M%SZ"), short_id()),
            Action::Rotate,
            style,
            Step::Create,
            now,
            old,
        );
        journal.started_by = Some(crate::audit::actor());
        journal.known_keys = known;
        journal.create_sent_at = Some(Utc::now());
        journal.attempts = std::mem::take(&mut self.unsaved_attempts);
        match self.save(move |c| c.rotation = Some(journal)).await {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "could not record the rotation before starting, so nothing was done: {e}"
            )),
        }
    }

    /// At the key limit: deletes this credential's deactivated old keys waiting out their
    /// grace period, which keyward was going to delete anyway.
    pub(super) async fn make_room(
        &mut self,
        r: &Resolved,
        known: &mut Vec<String>,
        max: usize,
    ) -> Result<(), Flow> {
        let mut pending: Vec<String> = r
            .target
            .credential
            .pending_revocations
            .iter()
            .map(|p| p.remote_id.clone())
            .filter(|id| known.contains(id))
            .collect();
        // An older file may name a key twice.
        pending.sort_unstable();
        pending.dedup();
        if known.len().saturating_sub(pending.len()) >= max {
            return Err(Flow::Failed(format!(
                "the owner already holds {} keys, the provider's limit ({}); revoke one first",
                known.len(),
                known.join(", ")
            )));
        }
        for id in pending {
            if known.len() < max {
                break;
            }
            match self.revoke_key(Phase::Plan, r, &id).await {
                Ok(Revocation::Unconfirmed { reason }) => {
                    return Err(Flow::Failed(format!(
                        "at the key limit, and the deletion of the deactivated old key {id} is \
                         unconfirmed ({reason}): delete it at the provider first"
                    )));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Flow::Failed(format!(
                        "at the key limit, and deleting the deactivated old key {id} failed: {e}"
                    )));
                }
            }
            let now = self.ctx.now();
            let gone = id.clone();
            if let Err(e) = self
                .save(move |c| {
                    c.pending_revocations.retain(|p| p.remote_id != gone);
                    c.history.push(HistoryEntry {
                        at: now,
                        event: HistoryEvent::DeletedOldKey,
                        detail: format!("{gone}, early, to stay within the provider's key limit"),
                    });
                })
                .await
            {
                return Err(Flow::Failed(format!(
                    "deleted the deactivated old key {id} but could not record it: {e}"
                )));
            }
            self.warn(format!(
                "deleted the deactivated old key {id} before its grace period ended, to stay \
                 within the provider's key limit"
            ));
            known.retain(|k| k != &id);
        }
        Ok(())
    }

    /// Create-then-revoke: asks the provider for a new key and saves it before anything else.
    pub(super) async fn create(&mut self, resuming: bool) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        let Some(mut journal) = r.target.credential.rotation.clone() else {
            return Flow::Failed("the journal is gone".into());
        };
        if resuming || journal.create_sent_at.is_none() {
            if resuming {
                match self.sweep(&r, &journal).await {
                    Ok(swept) => self
                        .report_sweep(&swept, "made by the interrupted attempt but never recorded"),
                    Err(e) => {
                        return self
                            .fail_keep(format!(
                                "could not check for a key left by the interrupted attempt: {e}"
                            ))
                            .await
                    }
                }
            }
            // The window a later sweep looks in starts at this create, not the first one.
            let sent = Utc::now();
            journal.create_sent_at = Some(sent);
            if let Err(e) = self
                .save_journal(move |j| j.create_sent_at = Some(sent))
                .await
            {
                return self
                    .fail_keep(format!("could not record the new create: {e}"))
                    .await;
            }
        }
        self.enter(Phase::Create).await;
        let retry = self.ctx.options.retry;
        let mut attempt = 0;
        let issued = loop {
            attempt += 1;
            self.count_attempt();
            match r.provider.create(&r.target).await {
                Ok(k) => break k,
                Err(e) if e.is_transient() && attempt < retry.max_attempts => {
                    if ambiguous(&e) {
                        match self.sweep(&r, &journal).await {
                            Ok(swept) => self.report_sweep(&swept, "made by the failed create"),
                            Err(s) => {
                                return self
                                    .fail_keep(format!(
                                        "create failed ({e}) and checking for a half-made key \
                                         failed too ({s}): run `keyward resume`"
                                    ))
                                    .await;
                            }
                        }
                    }
                    self.retrying(Phase::Create, attempt, e.to_string());
                    self.slot
                        .idle(retry.wait_after(attempt, e.retry_after))
                        .await;
                }
                Err(e) => {
                    if !ambiguous(&e) {
                        return self.abandon(format!("create failed: {e}")).await;
                    }
                    let swept = match self.sweep(&r, &journal).await {
                        Ok(swept) => swept,
                        Err(s) => {
                            return self
                                .fail_keep(format!(
                                    "create failed ({e}) and checking for a half-made key failed \
                                     too ({s}): run `keyward resume`"
                                ))
                                .await;
                        }
                    };
                    self.report_sweep(&swept, "made by the failed create");
                    // An unreadable answer means the provider made a key; unless the sweep
                    // found and deleted it, the journal stays so that `resume` looks again.
                    let settled = swept.unsure.is_empty()
                        && (e.kind != ErrorKind::BadResponse || !swept.deleted.is_empty());
                    if settled {
                        return self.abandon(format!("create failed: {e}")).await;
                    }
                    return self
                        .fail_keep(format!(
                            "create failed: {e}; the provider may have made a key this rotation \
                             could not account for: `keyward resume` looks for it again, \
                             `keyward resume --rollback` gives up"
                        ))
                        .await;
                }
            }
        };
        self.enter(Phase::Store).await;
        let id = issued.remote_id.clone();
        let stored = self
            .save_journal(move |j| {
                j.new_remote_id = Some(issued.remote_id);
                j.new_secret = Some(issued.secret);
                j.new_created_at = issued.created_at;
                j.new_expires_at = issued.expires_at;
                j.new_scopes = issued.scopes;
                j.new_params = issued.params;
                j.step = Step::Deploy;
                j.last_error = None;
                j.waiting_for = None;
            })
            .await;
        match stored {
            Ok(()) => Flow::Next,
            Err(e) => {
                // Invariant 1: a key whose secret is not safely stored is taken back.
                match self.revoke_key(Phase::Store, &r, &id).await {
                    Ok(Revocation::Unconfirmed { reason }) => Flow::Failed(format!(
                        "{e}; the deletion of the new key {id} is unconfirmed ({reason}): check \
                         at the provider and delete it by hand"
                    )),
                    Ok(_) => {
                        self.abandon(format!("{e}; the new key {id} was revoked again"))
                            .await
                    }
                    Err(d) => Flow::Failed(format!(
                        "{e}; revoking the new key {id} again failed too ({d}): run `keyward \
                         resume` to remove it"
                    )),
                }
            }
        }
    }

    /// Roll-in-place: the provider replaces the value; the old one dies at once.
    pub(super) async fn roll(&mut self, resuming: bool) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        self.enter(Phase::Create).await;
        if resuming {
            if let Some(flow) = self.before_rolling_again(&r).await {
                return flow;
            }
        }
        // Tried once: a roll whose answer was lost may have gone through, and rolling the
        // now revoked value again is a replay (GitLab revokes the token family, an OAuth
        // server the grant). The provider retries only where it can tell it is safe.
        self.count_attempt();
        let issued = match r.provider.roll(&r.target).await {
            Ok(k) => k,
            Err(e) => {
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
                if old_works {
                    return self.abandon(format!("roll failed: {e}")).await;
                }
                return self
                    .fail_keep(format!(
                        "roll failed: {e}; the old value may no longer work: `keyward resume` \
                         reads it and rolls again only if the provider did not replace it"
                    ))
                    .await;
            }
        };
        self.enter(Phase::Store).await;
        // The old value is dead: there is nothing to fall back to, so the save is retried.
        let retry = self.ctx.options.retry;
        let mut last = None;
        for attempt in 1..=retry.max_attempts {
            let k = issued.clone();
            match self
                .save_journal(move |j| {
                    j.new_remote_id = Some(k.remote_id);
                    j.new_secret = Some(k.secret);
                    j.new_created_at = k.created_at;
                    j.new_expires_at = k.expires_at;
                    j.new_scopes = k.scopes;
                    j.new_params = k.params;
                    j.step = Step::Deploy;
                    j.last_error = None;
                })
                .await
            {
                Ok(()) => return Flow::Next,
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
            }
        }
        let e = last.map(|e| e.to_string()).unwrap_or_default();
        Flow::Failed(format!(
            "the key was rolled but its new value could not be saved ({e}); the old value no \
             longer works: run `keyward resume` to roll it again once the inventory can be saved"
        ))
    }

    /// A resumed roll reads the token first: rolling one the provider reports revoked is a
    /// replay, on which GitLab (reuse detection, 16.3+) revokes the whole token family and a
    /// reuse-detecting OAuth server the whole grant. `None` when rolling again is safe.
    async fn before_rolling_again(&mut self, r: &Resolved) -> Option<Flow> {
        let seen = self
            .call(Phase::Create, || r.provider.inspect(&r.target))
            .await;
        let state = match seen {
            Ok(Some(k)) if k.state == RemoteStatus::Revoked => "revoked",
            Ok(None) => "unknown to it (revoked, replaced or gone)",
            Ok(Some(_)) => return None,
            // Nothing to read it with (no introspection): rolling is the only way on.
            Err(e) if e.kind == ErrorKind::Unsupported => return None,
            Err(e) => {
                return Some(
                    self.fail_keep(format!(
                        "could not read the token before rolling it again ({e}); rolling a \
                         revoked token would make the provider revoke its successors too: run \
                         `keyward resume` again later"
                    ))
                    .await,
                )
            }
        };
        let newer = self.journal().filter(|j| j.new_secret.is_some());
        if newer.is_some() {
            // The roll went through and its new value is journaled: go on from it.
            let saved = self
                .save_journal(|j| {
                    j.step = Step::Deploy;
                    j.last_error = None;
                })
                .await;
            return Some(match saved {
                Ok(()) => Flow::Next,
                Err(e) => Flow::Failed(format!("could not record the journaled new value: {e}")),
            });
        }
        let old = r.target.credential.remote_id.clone().unwrap_or_default();
        Some(
            self.fail_keep(format!(
                "the provider reports the token {old} {state}: the interrupted roll went through \
                 and its new value was lost, and rolling it again would make the provider revoke \
                 the whole token family; issue a replacement by hand, then `keyward resume \
                 --rollback` and record it"
            ))
            .await,
        )
    }

    /// Manual: a person issues the key at the provider and enters it.
    pub(super) async fn manual_create(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return self.fail_keep(e).await,
        };
        self.enter(Phase::Create).await;
        let instructions = manual_instructions(&self.at, &r.target.credential);
        let Some(secret) = self
            .ctx
            .interact
            .enter_secret(&self.at, &instructions)
            .await
        else {
            return self
                .wait("a person to issue the new key at the provider and enter it")
                .await;
        };
        self.enter(Phase::Store).await;
        let now = self.ctx.now();
        match self
            .save_journal(move |j| {
                j.new_secret = Some(secret);
                j.new_created_at = Some(now);
                j.step = Step::Deploy;
                j.waiting_for = None;
            })
            .await
        {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "{e}; the secret you entered was not kept: revoke that key at the provider, or \
                 run `keyward resume` and enter it again"
            )),
        }
    }
}
