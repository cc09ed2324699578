//! Revocations (planned or emergency) and the deletion of old keys whose grace period is
//! over.

use super::*;

impl Job {
    pub(super) async fn begin_revoke(&mut self, emergency: bool) -> Flow {
        self.enter(Phase::Plan).await;
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        let c = &r.target.credential;
        if let Some(j) = &c.rotation {
            return Flow::Failed(format!(
                "already in flight ({}): finish it with `keyward resume`, or undo it with \
                 `keyward resume --rollback`, first",
                j.summary()
            ));
        }
        let style = style_of(r.caps.rotation);
        if c.remote_id.is_none() && style != Style::Manual {
            return Flow::Failed("has no `remote_id`: nothing to revoke at the provider".into());
        }
        if c.remote.as_ref().map(|s| s.state) == Some(RemoteStatus::Revoked) {
            return Flow::Done("already revoked".into());
        }
        let now = self.ctx.now();
        let action = if emergency {
            Action::EmergencyRevoke
        } else {
            Action::Revoke
        };
        let mut journal = Rotation::new(
            format!("rev-{}-{}", now.format("%Y%m%dT%H%M%SZ"), short_id()),
            action,
            style,
            Step::Revoke,
            now,
            c.remote_id.clone(),
        );
        journal.started_by = Some(crate::audit::actor());
        match self.save(move |c| c.rotation = Some(journal)).await {
            Ok(()) => Flow::Next,
            Err(e) => Flow::Failed(format!(
                "could not record the revocation before starting, so nothing was done: {e}"
            )),
        }
    }

    pub(super) async fn revoke(&mut self) -> Flow {
        let (r, journal) = match self.resolve_in_flight().await {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        self.enter(Phase::Revoke).await;
        let emergency = journal.action == Action::EmergencyRevoke;
        let old = journal.old_remote_id.clone().unwrap_or_default();
        if journal.style == Style::Manual {
            let q = Question::RevokedByHand {
                old_remote_id: journal.old_remote_id.clone(),
                instructions: r.target.credential.params.get("rotate_at").cloned(),
            };
            if !self.ctx.interact.confirm(&self.at, &q).await {
                return self.wait(q.waiting_for()).await;
            }
        }
        let grace = self.ctx.options.grace;
        let deactivate_only = !emergency
            && r.caps.can_deactivate
            && grace > chrono::Duration::zero()
            && journal.style != Style::Manual;
        let mut deleted = true;
        let mut verdict = Revocation::Revoked;
        if deactivate_only {
            match self
                .call(Phase::Revoke, || r.provider.deactivate(&r.target, &old))
                .await
            {
                Ok(()) => deleted = false,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    verdict = self.confirm_not_found(&r, &old, &e).await;
                }
                Err(e) => {
                    return self
                        .fail_keep(format!("could not deactivate {old}: {e}"))
                        .await
                }
            }
        } else {
            match self.revoke_key(Phase::Revoke, &r, &old).await {
                Ok(v) => verdict = v,
                Err(e) => return self.fail_keep(format!("could not delete {old}: {e}")).await,
            }
        }
        if let Revocation::Unconfirmed { reason } = &verdict {
            if let Some(flow) = self.unconfirmed_revocation(&old, reason).await {
                return flow;
            }
            verdict = confirmed_by_person();
        }
        self.enter(Phase::Commit).await;
        let now = self.ctx.now();
        let (event, message) = if deleted {
            (
                if emergency {
                    HistoryEvent::EmergencyRevoked
                } else {
                    HistoryEvent::Revoked
                },
                verdict.describe(&old),
            )
        } else {
            (
                HistoryEvent::Deactivated,
                format!(
                    "{old} deactivated, to be deleted after {}",
                    delete_after(now, grace).format("%Y-%m-%d")
                ),
            )
        };
        let (detail, id) = (message.clone(), journal.id.clone());
        let saved = self
            .save(move |c| {
                c.rotation = None;
                if deleted {
                    c.secret = None;
                    c.remote = Some(RemoteState {
                        state: RemoteStatus::Revoked,
                        checked_at: now,
                    });
                } else {
                    c.remote = Some(RemoteState {
                        state: RemoteStatus::Inactive,
                        checked_at: now,
                    });
                    // Revoking an inactive credential again restarts its grace period.
                    c.pending_revocations.retain(|p| p.remote_id != old);
                    c.pending_revocations.push(PendingRevocation {
                        remote_id: old,
                        deactivated_at: now,
                        delete_after: delete_after(now, grace),
                        last_error: None,
                    });
                }
                c.history.push(HistoryEntry {
                    at: now,
                    event,
                    detail: format!("{detail} ({id})"),
                });
            })
            .await;
        match saved {
            Ok(()) => Flow::Done(message),
            Err(e) => Flow::Failed(format!(
                "{message} at the provider, but that could not be recorded ({e}): run `keyward \
                 resume` to record it"
            )),
        }
    }

    /// Deletes this credential's old keys whose grace period is over.
    pub(super) async fn delete_due(&mut self) -> Flow {
        let r = match self.resolve() {
            Ok(r) => r,
            Err(e) => return Flow::Failed(e),
        };
        self.enter(Phase::DeleteOld).await;
        let now = self.ctx.now();
        let due: Vec<String> = r
            .target
            .credential
            .pending_revocations
            .iter()
            .filter(|p| p.delete_after <= now)
            .map(|p| p.remote_id.clone())
            .collect();
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        let mut unconfirmed = Vec::new();
        for id in due {
            let result = match self.revoke_key(Phase::DeleteOld, &r, &id).await {
                Ok(Revocation::Unconfirmed { reason }) => {
                    let note = format!("the deletion is unconfirmed: {reason}");
                    let gone = id.clone();
                    let recorded = self
                        .save(move |c| {
                            for p in &mut c.pending_revocations {
                                if p.remote_id == gone {
                                    p.last_error = Some(note.clone());
                                }
                            }
                        })
                        .await;
                    let tail = match recorded {
                        Ok(()) => String::new(),
                        Err(e) => format!(" (not recorded: {e})"),
                    };
                    unconfirmed.push(format!("{id}: {reason}{tail}"));
                    continue;
                }
                other => other,
            };
            let gone = id.clone();
            let saved = match &result {
                Ok(verdict) => {
                    let how = verdict.describe(&gone);
                    self.save(move |c| {
                        c.pending_revocations.retain(|p| p.remote_id != gone);
                        if c.remote_id.as_deref() == Some(gone.as_str()) {
                            // A revoked credential's own key: now gone for good.
                            c.secret = None;
                            c.remote = Some(RemoteState {
                                state: RemoteStatus::Revoked,
                                checked_at: now,
                            });
                        }
                        c.history.push(HistoryEntry {
                            at: now,
                            event: HistoryEvent::DeletedOldKey,
                            detail: format!("{how}, its grace period over"),
                        });
                    })
                    .await
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.save(move |c| {
                        for p in &mut c.pending_revocations {
                            if p.remote_id == gone {
                                p.last_error = Some(msg.clone());
                            }
                        }
                    })
                    .await
                }
            };
            match (result, saved) {
                (Ok(_), Ok(())) => deleted.push(id),
                (Ok(_), Err(e)) => failed.push(format!("{id} deleted but not recorded ({e})")),
                (Err(e), _) => failed.push(format!("{id}: {e}")),
            }
        }
        if !failed.is_empty() {
            Flow::Failed(format!("could not delete old key {}", failed.join("; ")))
        } else if !unconfirmed.is_empty() {
            Flow::Unconfirmed(format!(
                "the deletion of old key {} is unconfirmed; it may still work: the next run \
                 tries again",
                unconfirmed.join("; ")
            ))
        } else {
            Flow::Done(format!("deleted old key {}", deleted.join(", ")))
        }
    }
}

/// The verdict once a person confirmed at the provider what the provider itself could not.
pub(super) fn confirmed_by_person() -> Revocation {
    Revocation::ConfirmedGone {
        how: "a person confirmed it at the provider, which could not confirm it itself".into(),
    }
}
