//! The last steps of a rotation: revoke the old key (deactivate, delete after the grace
//! period) and commit the rotation to the history.

use super::*;

impl Job {
    pub(super) async fn revoke_old(&mut self) -> Flow {
        let (r, journal) = match self.resolve_in_flight().await {
            Ok(found) => found,
            Err(flow) => return flow,
        };
        // Invariant 2, checked again from the record rather than trusted from the step.
        let verified = journal.verification.as_ref().is_some_and(|v| {
            v.result == "valid" || (v.result == "cannot-check" && v.confirmed_by_person)
        });
        if !verified {
            return self
                .fail_keep(
                    "the journal stands at revoke-old without a verified new key; refusing to \
                     revoke the old one"
                        .into(),
                )
                .await;
        }
        self.enter(Phase::RevokeOld).await;
        let now = self.ctx.now();
        let mut pending = None;
        let note: String;
        match journal.style {
            Style::RollInPlace => note = "the old value died with the roll".into(),
            Style::Manual => {
                let q = Question::RevokedByHand {
                    old_remote_id: journal.old_remote_id.clone(),
                    instructions: r.target.credential.params.get("rotate_at").cloned(),
                };
                if !self.ctx.interact.confirm(&self.at, &q).await {
                    return self.wait(q.waiting_for()).await;
                }
                let old = journal.old_remote_id.clone().unwrap_or_default();
                if let Err(e) = self
                    .call(Phase::RevokeOld, || r.provider.delete(&r.target, &old))
                    .await
                {
                    return self
                        .fail_keep(format!("could not record the revocation: {e}"))
                        .await;
                }
                note = "the old key was revoked by a person".into();
            }
            Style::CreateThenRevoke => match journal.old_remote_id.clone() {
                None => note = "no old key was recorded".into(),
                Some(old) => {
                    if r.caps.reports_last_used {
                        self.report_old_use(&r, &journal, now).await;
                    }
                    let grace = self.ctx.options.grace;
                    if r.caps.can_deactivate && grace > chrono::Duration::zero() {
                        match self
                            .call(Phase::RevokeOld, || r.provider.deactivate(&r.target, &old))
                            .await
                        {
                            Ok(()) => {
                                pending = Some(PendingRevocation {
                                    remote_id: old.clone(),
                                    deactivated_at: now,
                                    delete_after: delete_after(now, grace),
                                    last_error: None,
                                });
                                note = format!(
                                    "old key {old} deactivated, to be deleted after {}",
                                    delete_after(now, grace).format("%Y-%m-%d")
                                );
                            }
                            Err(e) if e.kind == ErrorKind::NotFound => {
                                note = format!("old key {old} was already gone");
                            }
                            Err(e) => {
                                return self
                                    .fail_keep(format!(
                                        "could not deactivate the old key {old}: {e}; the new key \
                                         is in place: run `keyward resume`"
                                    ))
                                    .await
                            }
                        }
                    } else {
                        if let Err(e) = self
                            .call(Phase::RevokeOld, || r.provider.delete(&r.target, &old))
                            .await
                        {
                            return self
                                .fail_keep(format!(
                                    "could not delete the old key {old}: {e}; the new key is in \
                                     place: run `keyward resume`"
                                ))
                                .await;
                        }
                        note = format!("old key {old} deleted");
                    }
                }
            },
        }
        self.commit_rotation(pending, note).await
    }

    /// Says how recently the old key was used, and warns when that was after the new key
    /// was deployed: some consumer still holds the old one.
    pub(super) async fn report_old_use(
        &mut self,
        r: &Resolved,
        journal: &Rotation,
        now: DateTime<Utc>,
    ) {
        match self
            .call(Phase::RevokeOld, || r.provider.inspect(&r.target))
            .await
        {
            Ok(Some(k)) => match k.last_used_at {
                Some(used) => {
                    let deployed = journal.deploy.as_ref().map(|d| d.at);
                    if deployed.is_some_and(|d| used > d) {
                        self.warn(format!(
                            "the old key was used {}, after the new one was deployed: a \
                             consumer may still hold it",
                            ago(now, used)
                        ));
                    } else {
                        self.warn(format!("the old key was last used {}", ago(now, used)));
                    }
                }
                None => self.warn("the old key was never used".into()),
            },
            Ok(None) => {}
            Err(e) => self.warn(format!("could not see when the old key was last used: {e}")),
        }
    }

    /// Makes the new key the credential's and removes the journal, in one save.
    pub(super) async fn commit_rotation(
        &mut self,
        pending: Option<PendingRevocation>,
        note: String,
    ) -> Flow {
        self.enter(Phase::Commit).await;
        let now = self.ctx.now();
        let detail = note.clone();
        let saved = self
            .save(move |c| {
                let Some(j) = c.rotation.take() else { return };
                let new_id = j.new_remote_id.clone();
                if j.new_secret.is_some() {
                    c.secret = j.new_secret;
                }
                if new_id.is_some() {
                    c.remote_id = new_id.clone();
                }
                c.created_at = j.new_created_at.or(Some(now));
                c.expires_at = j.new_expires_at;
                if !j.new_scopes.is_empty() {
                    c.scopes = j.new_scopes;
                }
                c.params.extend(j.new_params);
                c.last_rotated_at = Some(now);
                c.last_used_at = None;
                c.remote = Some(RemoteState {
                    state: RemoteStatus::Active,
                    checked_at: now,
                });
                if let Some(p) = pending {
                    c.pending_revocations.retain(|q| q.remote_id != p.remote_id);
                    c.pending_revocations.push(p);
                }
                let from_to = match (j.old_remote_id, new_id) {
                    (Some(o), Some(n)) if o != n => format!("{o} -> {n}; "),
                    (None, Some(n)) => format!("new key {n}; "),
                    _ => String::new(),
                };
                c.history.push(HistoryEntry {
                    at: now,
                    event: HistoryEvent::Rotated,
                    detail: format!("{from_to}{detail} ({})", j.id),
                });
            })
            .await;
        match saved {
            Ok(()) => Flow::Done(format!("rotated; {note}")),
            Err(e) => Flow::Failed(format!(
                "rotated at the provider, but the result could not be recorded ({e}): run \
                 `keyward resume` to record it"
            )),
        }
    }
}
