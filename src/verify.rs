//! Verify: does each stored secret still work? Asks each credential's provider with a
//! read-only call made with the secret itself, and answers one of the four honest states
//! of [`Verification`]. Nothing is written; the caller decides what to record.

use futures::stream::{self, StreamExt};

use crate::inventory::{CredentialRef, Inventory};
use crate::providers::http::Http;
use crate::providers::registry::ProviderSet;
use crate::providers::{registry, SharedProvider, Target, Verification};
use crate::sync::ProviderLookup;

/// The audit entry recording that `at`'s stored secret was checked with its provider (the
/// secret was sent to it): the verdict and its reason, never the secret. The command line
/// and the dashboard record a check with this same entry.
pub fn audit_event(at: &CredentialRef, verdict: &Verification) -> crate::audit::Event {
    let detail = match verdict {
        Verification::Valid => verdict.label().to_string(),
        Verification::Invalid { reason }
        | Verification::CouldNotCheck { reason }
        | Verification::CannotCheck { reason } => format!("{}: {reason}", verdict.label()),
    };
    crate::audit::Event::new(crate::audit::AuditAction::Verified, Some(at), detail)
}

/// Checks the secrets of `refs` (empty: every credential), at most `concurrency` at a time;
/// answers in the order asked. `inventory_path` locates what lives beside the inventory
/// (the sandbox's state).
pub async fn verify(
    inv: &Inventory,
    inventory_path: &std::path::Path,
    refs: &[CredentialRef],
    http: &Http,
    concurrency: usize,
) -> Vec<(CredentialRef, Verification)> {
    let lookup = |kind| registry::provider_for_inventory(kind, http, inventory_path);
    verify_with(inv, refs, &lookup, concurrency).await
}

/// Checks one credential's stored secret: what `verify` does for each, and what the
/// dashboard does for a row. A `manual` credential (its provider says so), a missing client
/// or a missing secret is "cannot check", never a failure; reasons come back redacted.
pub async fn verify_one(providers: &ProviderSet, target: &Target) -> Verification {
    let kind = target.credential.provider;
    match providers.get(kind) {
        Some(provider) => verify_with_provider(provider, target).await,
        None => Verification::CannotCheck {
            reason: format!("this build has no client for provider `{kind}`"),
        },
    }
}

async fn verify_with_provider(provider: &SharedProvider, target: &Target) -> Verification {
    match &target.credential.secret {
        None => Verification::CannotCheck {
            reason: "no secret is stored for it".to_string(),
        },
        Some(secret) => {
            let remote_id = target.credential.remote_id.as_deref();
            let started = std::time::Instant::now();
            let verdict = provider
                .verify(target, remote_id, secret)
                .await
                .redacted(target);
            tracing::debug!(
                credential = %target.at,
                provider = %target.credential.provider,
                verdict = verdict.label(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "verified"
            );
            verdict
        }
    }
}

/// [`verify`] with the providers `lookup` gives.
pub async fn verify_with(
    inv: &Inventory,
    refs: &[CredentialRef],
    lookup: &ProviderLookup<'_>,
    concurrency: usize,
) -> Vec<(CredentialRef, Verification)> {
    let providers = ProviderSet::from_lookup(lookup);
    let chosen: Vec<CredentialRef> = if refs.is_empty() {
        inv.credentials().map(|(at, _, _)| at).collect()
    } else {
        refs.to_vec()
    };
    stream::iter(chosen)
        .map(|at| {
            let job = providers.resolve(inv, &at);
            async move {
                let verdict = match job {
                    Err(reason) => Verification::CannotCheck { reason },
                    Ok((provider, target)) => verify_with_provider(&provider, &target).await,
                };
                (at, verdict)
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::*;
    use crate::inventory::{Credential, ProviderKind};
    use crate::secret::Secret;
    use crate::sync::tests::{only_sandbox, Fake};

    #[tokio::test]
    async fn each_credential_gets_one_of_the_four_honest_answers() {
        let mut inv = Inventory::new(vec![]);
        let mut good = Credential::new("good", ProviderKind::Sandbox);
        good.secret = Some(Secret::new("good"));
        let mut bad = Credential::new("bad", ProviderKind::Sandbox);
        bad.secret = Some(Secret::new("stale"));
        let mut crm = Credential::new("crm", ProviderKind::Sendgrid);
        crm.secret = Some(Secret::new("SG.x"));
        inv.insert("acme", good);
        inv.insert("acme", bad);
        inv.insert("acme", Credential::new("empty", ProviderKind::Sandbox));
        inv.insert("acme", crm);
        let fake = Arc::new(Fake::default());
        let out = verify_with(&inv, &[], &only_sandbox(&fake), 8).await;
        let got: Vec<(String, Verification)> =
            out.into_iter().map(|(at, v)| (at.to_string(), v)).collect();
        assert_eq!(
            got,
            vec![
                ("acme/good".to_string(), Verification::Valid),
                (
                    "acme/bad".to_string(),
                    Verification::Invalid {
                        reason: "refused".into()
                    }
                ),
                (
                    "acme/empty".to_string(),
                    Verification::CannotCheck {
                        reason: "no secret is stored for it".into()
                    }
                ),
                (
                    "acme/crm".to_string(),
                    Verification::CannotCheck {
                        reason: "this build has no client for provider `sendgrid`".into()
                    }
                ),
            ]
        );
        assert_eq!(
            fake.peak.load(Ordering::SeqCst),
            2,
            "both sandbox checks overlapped"
        );
    }

    #[tokio::test]
    async fn an_unknown_address_cannot_be_checked() {
        let inv = Inventory::new(vec![]);
        let fake = Arc::new(Fake::default());
        let out = verify_with(&inv, &["acme/x".parse().unwrap()], &only_sandbox(&fake), 1).await;
        assert_eq!(
            out[0].1,
            Verification::CannotCheck {
                reason: "no credential at this address".into()
            }
        );
    }
}
