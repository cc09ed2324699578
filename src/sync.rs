//! Sync: ask each provider what it knows about the inventory's keys, then write what it
//! said into the inventory.
//!
//! [`sync`] only reads the inventory and talks to providers, concurrently and bounded;
//! [`apply`] is pure and writes the answers (dates, scopes, provider-flagged risks, the
//! remote state) with a history entry for each credential that changed. A key the
//! provider no longer knows is marked [`RemoteStatus::Missing`]: flagged, never deleted.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::{self, StreamExt};

use crate::inventory::{
    Credential, CredentialRef, HistoryEntry, HistoryEvent, Inventory, ProviderKind, RemoteState,
    RemoteStatus,
};
use crate::providers::http::Http;
use crate::providers::registry::{self, ProviderSet};
use crate::providers::{ProviderError, RemoteKey, SharedProvider, Target};

/// What one credential's sync found.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// Which credential.
    pub at: CredentialRef,
    /// The key the credential recorded when it was asked about; [`apply`] writes nothing
    /// if the credential holds another key by then (a rotation ran meanwhile).
    pub remote_id: Option<String>,
    /// What the provider said.
    pub result: SyncResult,
}

/// The provider's answer about one key.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncResult {
    /// The provider describes the key.
    Found(RemoteKey),
    /// The provider no longer knows the key.
    Missing,
    /// Asking failed; [`apply`] leaves the credential as it was.
    Failed(ProviderError),
    /// Not asked: no such credential, or no client for its provider in this build.
    Skipped {
        /// Why, in words.
        reason: String,
    },
}

impl SyncResult {
    /// The one-word label used in tables and JSON.
    pub fn label(&self) -> &'static str {
        match self {
            SyncResult::Found(_) => "found",
            SyncResult::Missing => "missing",
            SyncResult::Failed(_) => "failed",
            SyncResult::Skipped { .. } => "skipped",
        }
    }
}

/// Progress of a running sync, for a progress line.
#[derive(Debug, Clone)]
pub enum SyncEvent {
    /// The provider is being asked about `at`.
    Started {
        /// Which credential.
        at: CredentialRef,
    },
    /// The answer about `at` is in; `done` of `total` are finished.
    Finished {
        /// Which credential.
        at: CredentialRef,
        /// Its result's label.
        label: &'static str,
        /// How many are finished.
        done: usize,
        /// How many there are.
        total: usize,
    },
}

/// Gives the provider for a kind, or `None` where this build has no client for it.
pub type ProviderLookup<'a> = dyn Fn(ProviderKind) -> Option<SharedProvider> + 'a;

/// Inspects `refs` (empty: every credential whose provider has an API in this build) at
/// their providers, at most `concurrency` at a time, reporting progress. Outcomes come
/// back in the order of `refs` (or of the inventory). `inventory_path` locates what lives
/// beside the inventory (the sandbox's state); `manual` credentials have nothing remote
/// to ask and are skipped.
pub async fn sync(
    inv: &Inventory,
    inventory_path: &std::path::Path,
    refs: &[CredentialRef],
    http: &Http,
    concurrency: usize,
    progress: impl Fn(SyncEvent),
) -> Vec<SyncOutcome> {
    let lookup = |kind| match kind {
        crate::inventory::ProviderKind::Manual => None,
        kind => registry::provider_for_inventory(kind, http, inventory_path),
    };
    sync_with(inv, refs, &lookup, concurrency, progress).await
}

/// [`sync`] with the providers `lookup` gives.
pub async fn sync_with(
    inv: &Inventory,
    refs: &[CredentialRef],
    lookup: &ProviderLookup<'_>,
    concurrency: usize,
    progress: impl Fn(SyncEvent),
) -> Vec<SyncOutcome> {
    let providers = ProviderSet::from_lookup(lookup);
    let chosen: Vec<CredentialRef> = if refs.is_empty() {
        inv.credentials()
            .filter(|(_, _, c)| c.provider.has_api() && providers.get(c.provider).is_some())
            .map(|(at, _, _)| at)
            .collect()
    } else {
        refs.to_vec()
    };
    let total = chosen.len();
    let mut answers = stream::iter(chosen)
        .map(|at| {
            let job = resolve_remote(inv, &providers, &at);
            if job.is_ok() {
                progress(SyncEvent::Started { at: at.clone() });
            }
            let remote_id = inv.credential(&at).and_then(|c| c.remote_id.clone());
            async move {
                let result = match job {
                    Err(reason) => SyncResult::Skipped { reason },
                    Ok((provider, target)) => inspect_with(&provider, &target).await,
                };
                SyncOutcome {
                    at,
                    remote_id,
                    result,
                }
            }
        })
        .buffered(concurrency.max(1));
    let mut outcomes = Vec::with_capacity(total);
    while let Some(outcome) = answers.next().await {
        progress(SyncEvent::Finished {
            at: outcome.at.clone(),
            label: outcome.result.label(),
            done: outcomes.len() + 1,
            total,
        });
        outcomes.push(outcome);
    }
    outcomes
}

/// Asks the provider about one credential: what `sync` does for each, and what the
/// dashboard does for a row. A `manual` credential, or one whose provider this build has no
/// client for, is skipped with the reason; errors come back redacted.
pub async fn inspect_one(providers: &ProviderSet, target: &Target) -> SyncResult {
    let kind = target.credential.provider;
    if !kind.has_api() {
        return SyncResult::Skipped {
            reason: "a manual credential has no provider API".to_string(),
        };
    }
    match providers.get(kind) {
        Some(provider) => inspect_with(provider, target).await,
        None => SyncResult::Skipped {
            reason: format!("this build has no client for provider `{kind}`"),
        },
    }
}

async fn inspect_with(provider: &SharedProvider, target: &Target) -> SyncResult {
    let started = std::time::Instant::now();
    let result = match provider.inspect(target).await {
        Ok(Some(key)) => SyncResult::Found(key),
        Ok(None) => SyncResult::Missing,
        Err(mut e) => {
            e.message = target.redact(&e.message);
            SyncResult::Failed(e)
        }
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        // The error was redacted above, before anyone (the log included) sees it.
        SyncResult::Failed(e) => tracing::debug!(
            credential = %target.at,
            provider = %target.credential.provider,
            elapsed_ms,
            error = %e,
            "synced: failed"
        ),
        other => tracing::debug!(
            credential = %target.at,
            provider = %target.credential.provider,
            result = other.label(),
            elapsed_ms,
            "synced"
        ),
    }
    result
}

/// The provider and target for `at`, or why it has nothing remote to ask: a `manual`
/// credential is skipped by sync (and "cannot check" for verify), never "failed".
pub(crate) fn resolve_remote(
    inv: &Inventory,
    providers: &ProviderSet,
    at: &CredentialRef,
) -> Result<(SharedProvider, Target), String> {
    match inv.credential(at) {
        Some(c) if !c.provider.has_api() => {
            Err("a manual credential has no provider API".to_string())
        }
        _ => providers.resolve(inv, at),
    }
}

/// Writes what `outcomes` found into `inv` as of `now`; returns the credentials that
/// changed, each with what changed in words: what both front ends record in the audit log
/// once the inventory is saved. Each change is also recorded in the credential's history;
/// a check that found nothing new only refreshes `remote.checked_at`. Failed and skipped
/// outcomes change nothing.
pub fn apply(
    inv: &mut Inventory,
    outcomes: &[SyncOutcome],
    now: DateTime<Utc>,
) -> Vec<(CredentialRef, String)> {
    let mut changed = Vec::new();
    for outcome in outcomes {
        let Some(credential) = inv
            .credential_mut(&outcome.at)
            .filter(|c| c.remote_id == outcome.remote_id)
        else {
            continue;
        };
        let changes = match &outcome.result {
            SyncResult::Found(key) => apply_found(credential, key, now),
            SyncResult::Missing => apply_missing(credential, now),
            SyncResult::Failed(_) | SyncResult::Skipped { .. } => continue,
        };
        if !changes.is_empty() {
            let detail = changes.join("; ");
            credential.history.push(HistoryEntry {
                at: now,
                event: HistoryEvent::Synced,
                detail: detail.clone(),
            });
            changed.push((outcome.at.clone(), detail));
        }
    }
    changed
}

fn apply_found(c: &mut Credential, key: &RemoteKey, now: DateTime<Utc>) -> Vec<String> {
    let mut changes = Vec::new();
    let before = c.remote.as_ref().map(|r| r.state);
    if before != Some(key.state) {
        changes.push(match before {
            Some(b) => format!("{} -> {} at the provider", b.as_str(), key.state.as_str()),
            None => format!("{} at the provider", key.state.as_str()),
        });
    }
    c.remote = Some(RemoteState {
        state: key.state,
        checked_at: now,
    });
    set_date(&mut c.created_at, key.created_at, "created", &mut changes);
    set_date(&mut c.expires_at, key.expires_at, "expires", &mut changes);
    set_date(
        &mut c.last_used_at,
        key.last_used_at,
        "last used",
        &mut changes,
    );
    if !key.scopes.is_empty() && key.scopes != c.scopes {
        c.scopes = key.scopes.clone();
        changes.push(format!("scopes {}", key.scopes.join(", ")));
    }
    // Risks the provider flagged carry its name, so the next sync replaces exactly those
    // and leaves the ones a person wrote.
    let prefix = format!("{}: ", c.provider);
    let flagged: Vec<String> = key.risks.iter().map(|r| format!("{prefix}{r}")).collect();
    let held: Vec<&String> = c.risks.iter().filter(|r| r.starts_with(&prefix)).collect();
    if held.len() != flagged.len() || held.iter().zip(&flagged).any(|(a, b)| *a != b) {
        c.risks.retain(|r| !r.starts_with(&prefix));
        changes.push(if flagged.is_empty() {
            "the provider flags no risk any more".to_string()
        } else {
            format!("risk {}", key.risks.join("; "))
        });
        c.risks.extend(flagged);
    }
    changes
}

fn apply_missing(c: &mut Credential, now: DateTime<Utc>) -> Vec<String> {
    let before = c.remote.as_ref().map(|r| r.state);
    // A key keyward revoked is expected to be gone: that is no news.
    let state = match before {
        Some(RemoteStatus::Revoked) => RemoteStatus::Revoked,
        _ => RemoteStatus::Missing,
    };
    c.remote = Some(RemoteState {
        state,
        checked_at: now,
    });
    if before == Some(state) {
        Vec::new()
    } else {
        vec!["the provider no longer knows this key".to_string()]
    }
}

fn set_date(
    field: &mut Option<DateTime<Utc>>,
    reported: Option<DateTime<Utc>>,
    what: &str,
    changes: &mut Vec<String>,
) {
    if let Some(new) = reported.filter(|new| *field != Some(*new)) {
        *field = Some(new);
        changes.push(format!(
            "{what} {}",
            new.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::providers::{Capabilities, ErrorKind, Provider, RotationStyle, Verification};
    use crate::secret::Secret;
    use async_trait::async_trait;
    use chrono::TimeZone;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A provider that answers by the credential's id (`gone-*`: missing, `fail-*`: a
    /// transport error, else found) and counts how many calls overlap.
    #[derive(Default)]
    pub(crate) struct Fake {
        in_flight: AtomicUsize,
        pub(crate) peak: AtomicUsize,
    }

    impl Fake {
        async fn enter(&self) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            // Yield so the other buffered calls start before this one ends.
            tokio::task::yield_now().await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Provider for Fake {
        fn kind(&self) -> ProviderKind {
            ProviderKind::Sandbox
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                rotation: RotationStyle::CreateThenRevoke,
                can_deactivate: false,
                reports_expiry: false,
                reports_last_used: false,
                max_live_keys: None,
                can_verify: true,
            }
        }
        async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
            self.enter().await;
            let id = &target.credential.id;
            if id.starts_with("gone") {
                Ok(None)
            } else if id.starts_with("fail") {
                Err(ProviderError::new(
                    self.kind(),
                    Some(&target.at),
                    ErrorKind::Transport,
                    "timed out",
                ))
            } else {
                Ok(Some(RemoteKey::new(id.clone(), RemoteStatus::Active)))
            }
        }
        async fn list(&self, _: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
            Ok(Vec::new())
        }
        async fn verify(&self, _: &Target, _: Option<&str>, secret: &Secret) -> Verification {
            self.enter().await;
            if secret.expose_secret() == "good" {
                Verification::Valid
            } else {
                Verification::Invalid {
                    reason: "refused".into(),
                }
            }
        }
        async fn delete(
            &self,
            _: &Target,
            _: &str,
        ) -> Result<crate::providers::Deletion, ProviderError> {
            Ok(crate::providers::Deletion::Deleted)
        }
    }

    /// Sandbox credentials go to `fake`; no other kind has a client.
    pub(crate) fn only_sandbox(
        fake: &Arc<Fake>,
    ) -> impl Fn(ProviderKind) -> Option<SharedProvider> + '_ {
        move |kind| (kind == ProviderKind::Sandbox).then(|| fake.clone() as SharedProvider)
    }

    fn sandbox_inventory() -> Inventory {
        let mut inv = Inventory::new(vec![]);
        for id in ["a", "gone-b", "c", "fail-d", "e"] {
            inv.insert("acme", Credential::new(id, ProviderKind::Sandbox));
        }
        inv.insert("acme", Credential::new("by-hand", ProviderKind::Manual));
        inv.insert("acme", Credential::new("crm", ProviderKind::Sendgrid));
        inv
    }

    #[tokio::test]
    async fn sync_asks_every_credential_with_a_client_in_order_and_bounded() {
        let fake = Arc::new(Fake::default());
        let events = Mutex::new(Vec::new());
        let inv = sandbox_inventory();
        let out = sync_with(&inv, &[], &only_sandbox(&fake), 2, |e| {
            events.lock().unwrap().push(e)
        })
        .await;
        let labels: Vec<(String, &str)> = out
            .iter()
            .map(|o| (o.at.to_string(), o.result.label()))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("acme/a".to_string(), "found"),
                ("acme/gone-b".to_string(), "missing"),
                ("acme/c".to_string(), "found"),
                ("acme/fail-d".to_string(), "failed"),
                ("acme/e".to_string(), "found"),
            ]
        );
        assert_eq!(
            fake.peak.load(Ordering::SeqCst),
            2,
            "two at a time, no more"
        );
        let events = events.into_inner().unwrap();
        let started = events
            .iter()
            .filter(|e| matches!(e, SyncEvent::Started { .. }))
            .count();
        let done: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                SyncEvent::Finished { done, total: 5, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert_eq!(started, 5);
        assert_eq!(done, vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn named_credentials_without_a_client_or_an_address_are_skipped_with_a_reason() {
        let fake = Arc::new(Fake::default());
        let mut inv = sandbox_inventory();
        inv.credential_mut(&at("acme/e")).unwrap().connection = Some("nowhere".into());
        let refs = [
            at("acme/crm"),
            at("acme/by-hand"),
            at("acme/nope"),
            at("acme/e"),
            at("acme/a"),
        ];
        let out = sync_with(&inv, &refs, &only_sandbox(&fake), 4, |_| {}).await;
        let reasons: Vec<String> = out
            .iter()
            .map(|o| match &o.result {
                SyncResult::Skipped { reason } => reason.clone(),
                other => other.label().to_string(),
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                "this build has no client for provider `sendgrid`",
                "a manual credential has no provider API",
                "no credential at this address",
                "its connection `nowhere` is not in the inventory",
                "found",
            ]
        );
    }

    fn at(s: &str) -> CredentialRef {
        s.parse().unwrap()
    }

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
    }

    fn inventory() -> Inventory {
        let mut inv = Inventory::new(vec![]);
        let mut aws = Credential::new("bot", ProviderKind::AwsIam);
        aws.remote_id = Some("AKIAONE".into());
        aws.risks.push("shared with the intern".into());
        inv.insert("acme", aws);
        inv.insert("acme", Credential::new("old", ProviderKind::AwsIam));
        inv.insert("acme", Credential::new("gone", ProviderKind::AwsIam));
        inv
    }

    fn found(state: RemoteStatus) -> RemoteKey {
        let mut key = RemoteKey::new("AKIAONE", state);
        key.created_at = Some(day(1));
        key.last_used_at = Some(day(9));
        key.scopes = vec!["iam:ListUsers".into()];
        key.risks = vec!["the key belongs to IAM user `x`".into()];
        key
    }

    fn outcome(a: &str, result: SyncResult) -> SyncOutcome {
        let remote_id = inventory()
            .credential(&at(a))
            .and_then(|c| c.remote_id.clone());
        SyncOutcome {
            at: at(a),
            remote_id,
            result,
        }
    }

    #[test]
    fn an_answer_about_a_key_the_credential_no_longer_holds_is_not_applied() {
        let mut inv = inventory();
        let answer = outcome("acme/bot", SyncResult::Missing);
        inv.credential_mut(&at("acme/bot")).unwrap().remote_id = Some("AKIAROTATED".into());
        let before = inv.clone();
        assert_eq!(apply(&mut inv, &[answer], day(10)).len(), 0);
        assert_eq!(inv, before);
    }

    #[test]
    fn a_found_key_writes_dates_scopes_risks_state_and_history() {
        let mut inv = inventory();
        let n = apply(
            &mut inv,
            &[outcome(
                "acme/bot",
                SyncResult::Found(found(RemoteStatus::Active)),
            )],
            day(10),
        );
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, at("acme/bot"));
        let c = inv.credential(&at("acme/bot")).unwrap();
        assert_eq!(c.created_at, Some(day(1)));
        assert_eq!(c.last_used_at, Some(day(9)));
        assert_eq!(c.expires_at, None);
        assert_eq!(c.scopes, vec!["iam:ListUsers".to_string()]);
        assert_eq!(
            c.risks,
            vec![
                "shared with the intern".to_string(),
                "aws-iam: the key belongs to IAM user `x`".to_string()
            ]
        );
        assert_eq!(
            c.remote,
            Some(RemoteState {
                state: RemoteStatus::Active,
                checked_at: day(10)
            })
        );
        assert_eq!(c.history.len(), 1);
        assert_eq!(c.history[0].event, HistoryEvent::Synced);
        assert_eq!(c.history[0].at, day(10));
        assert_eq!(
            c.history[0].detail,
            "active at the provider; created 2026-03-01T12:00:00Z; last used 2026-03-09T12:00:00Z; \
             scopes iam:ListUsers; risk the key belongs to IAM user `x`"
        );
    }

    #[test]
    fn a_second_sync_with_nothing_new_only_refreshes_the_check_time() {
        let mut inv = inventory();
        let same = [outcome(
            "acme/bot",
            SyncResult::Found(found(RemoteStatus::Active)),
        )];
        apply(&mut inv, &same, day(10));
        assert_eq!(apply(&mut inv, &same, day(11)).len(), 0);
        let c = inv.credential(&at("acme/bot")).unwrap();
        assert_eq!(c.history.len(), 1);
        assert_eq!(c.remote.as_ref().unwrap().checked_at, day(11));
    }

    #[test]
    fn a_state_change_and_cleared_risks_are_recorded_and_a_persons_risks_kept() {
        let mut inv = inventory();
        apply(
            &mut inv,
            &[outcome(
                "acme/bot",
                SyncResult::Found(found(RemoteStatus::Active)),
            )],
            day(10),
        );
        let mut later = found(RemoteStatus::Inactive);
        later.risks.clear();
        later.last_used_at = None; // not reported this time: the known date stays
        apply(
            &mut inv,
            &[outcome("acme/bot", SyncResult::Found(later))],
            day(12),
        );
        let c = inv.credential(&at("acme/bot")).unwrap();
        assert_eq!(c.remote.as_ref().unwrap().state, RemoteStatus::Inactive);
        assert_eq!(c.risks, vec!["shared with the intern".to_string()]);
        assert_eq!(c.last_used_at, Some(day(9)));
        assert_eq!(
            c.history[1].detail,
            "active -> inactive at the provider; the provider flags no risk any more"
        );
    }

    #[test]
    fn a_missing_key_is_flagged_once_and_never_removed() {
        let mut inv = inventory();
        let missing = [outcome("acme/gone", SyncResult::Missing)];
        assert_eq!(apply(&mut inv, &missing, day(10)).len(), 1);
        assert_eq!(apply(&mut inv, &missing, day(11)).len(), 0);
        let c = inv
            .credential(&at("acme/gone"))
            .expect("still in the inventory");
        assert_eq!(
            c.remote,
            Some(RemoteState {
                state: RemoteStatus::Missing,
                checked_at: day(11)
            })
        );
        assert_eq!(c.history.len(), 1);
        assert_eq!(c.history[0].detail, "the provider no longer knows this key");
        assert_eq!(inv.credential_count(), 3);
    }

    #[test]
    fn a_revoked_key_that_is_gone_stays_revoked_quietly() {
        let mut inv = inventory();
        inv.credential_mut(&at("acme/old")).unwrap().remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: day(1),
        });
        assert_eq!(
            apply(
                &mut inv,
                &[outcome("acme/old", SyncResult::Missing)],
                day(10)
            )
            .len(),
            0
        );
        let c = inv.credential(&at("acme/old")).unwrap();
        assert_eq!(c.remote.as_ref().unwrap().state, RemoteStatus::Revoked);
        assert!(c.history.is_empty());
    }

    #[test]
    fn failures_skips_and_unknown_addresses_change_nothing() {
        let mut inv = inventory();
        let before = inv.clone();
        let err = ProviderError::new(
            ProviderKind::AwsIam,
            None,
            ErrorKind::Transport,
            "timed out",
        );
        let n = apply(
            &mut inv,
            &[
                outcome("acme/bot", SyncResult::Failed(err)),
                outcome(
                    "acme/old",
                    SyncResult::Skipped {
                        reason: "no client".into(),
                    },
                ),
                outcome("nobody/none", SyncResult::Missing),
            ],
            day(10),
        );
        assert_eq!(n.len(), 0);
        assert_eq!(inv, before);
    }
}
