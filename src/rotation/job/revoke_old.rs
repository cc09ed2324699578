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
            Style::RollInPlace => match self.retire_rolled_value(&r, &journal).await {
                Ok(said) => note = said,
                Err(flow) => return flow,
            },
            Style::Manual => {
                let q = Question::RevokedByHand {
                    old_remote_id: journal.old_remote_id.clone(),
                    instructions: r.target.credential.params.get("rotate_at").cloned(),
                };
                if !self.ctx.interact.confirm(&self.at, &q).await {
                    return self.wait(q.waiting_for()).await;
                }
                let old = journal.old_remote_id.clone().unwrap_or_default();
                if let Err(e) = self.revoke_key(Phase::RevokeOld, &r, &old).await {
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
                                let mut verdict = self.confirm_not_found(&r, &old, &e).await;
                                if let Revocation::Unconfirmed { reason } = &verdict {
                                    if let Some(flow) =
                                        self.unconfirmed_revocation(&old, reason).await
                                    {
                                        return flow;
                                    }
                                    verdict = super::revoke::confirmed_by_person();
                                }
                                note = format!("old key {}", verdict.describe(&old));
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
                        let mut verdict = match self.revoke_key(Phase::RevokeOld, &r, &old).await {
                            Ok(v) => v,
                            Err(e) => {
                                return self
                                    .fail_keep(format!(
                                        "could not delete the old key {old}: {e}; the new key \
                                         is in place: run `keyward resume`"
                                    ))
                                    .await;
                            }
                        };
                        if let Revocation::Unconfirmed { reason } = &verdict {
                            if let Some(flow) = self.unconfirmed_revocation(&old, reason).await {
                                return flow;
                            }
                            verdict = super::revoke::confirmed_by_person();
                        }
                        note = match verdict {
                            Revocation::Revoked => format!("old key {old} deleted"),
                            other => format!("old key {}", other.describe(&old)),
                        };
                    }
                }
            },
        }
        self.commit_rotation(pending, note).await
    }

    /// What became of the value a roll replaced, for the record: dead with the roll, alive
    /// for a grace period, or alive until revoked, in which case it is revoked here where
    /// the provider can. Never says it died when the provider does not kill it.
    async fn retire_rolled_value(
        &mut self,
        r: &Resolved,
        journal: &Rotation,
    ) -> Result<String, Flow> {
        let old = journal.old_remote_id.clone().unwrap_or_default();
        // The same value back (an issuer that does not rotate refresh tokens): nothing died.
        let same = journal.new_secret.is_some()
            && journal.new_secret.as_ref() == r.target.credential.secret.as_ref();
        if same {
            return Ok("the provider returned the same value: nothing was replaced".into());
        }
        let after = r.provider.roll_aftermath(&r.target).await;
        let source = after
            .source
            .as_ref()
            .map(|s| format!(" (per {s})"))
            .unwrap_or_default();
        match after.old {
            OldAfterRoll::Invalidated => {
                return Ok(format!("the old value died with the roll{source}"))
            }
            OldAfterRoll::NotRotated => {
                return Ok(format!("the provider does not replace the value{source}"))
            }
            OldAfterRoll::GracePeriod { seconds } => {
                return Ok(format!(
                    "the old value keeps working for up to {seconds} seconds after the roll, \
                     then stops{source}"
                ))
            }
            OldAfterRoll::Untouched | OldAfterRoll::Unknown => {}
        }
        let Some(new) = journal.new_secret.clone() else {
            return Ok(format!(
                "the old value {old} may still work: no new value is journaled"
            ));
        };
        let retired = self
            .call(Phase::RevokeOld, || {
                r.provider.retire_rolled(&r.target, &old, &new)
            })
            .await;
        let mut verdict = match retired {
            Ok(Some(v)) => v,
            Ok(None) => {
                let said = format!(
                    "the old value {old} keeps working until it expires: {}{source}, and it \
                     offers no way to revoke it",
                    if after.old == OldAfterRoll::Untouched {
                        "the provider does not end it on a roll"
                    } else {
                        "the provider does not say whether a roll ends it"
                    }
                );
                self.warn(said.clone());
                return Ok(said);
            }
            Err(e) => {
                return Err(self
                    .fail_keep(format!(
                        "could not revoke the old value {old}: {e}; the new one is in place: run \
                         `keyward resume`"
                    ))
                    .await)
            }
        };
        if let Revocation::Unconfirmed { reason } = &verdict {
            if let Some(flow) = self.unconfirmed_revocation(&old, reason).await {
                return Err(flow);
            }
            verdict = super::revoke::confirmed_by_person();
        }
        Ok(format!("old value {}", verdict.describe(&old)))
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
