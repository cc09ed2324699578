//! The manual provider: credentials with no usable management API. keyward tracks them and
//! a person rotates or revokes them where the provider lets them.
//!
//! Everything it answers comes from the inventory's own record of the credential; it makes
//! no call anywhere. The guided flow (where to rotate, a hidden prompt for the new secret, a
//! confirmation that the old one is gone) belongs to the rotation engine and the CLI:
//! `delete` succeeds here because the person revokes the key and the engine records it.

use async_trait::async_trait;

use super::Deletion;
use super::{
    Capabilities, Provider, ProviderError, RemoteKey, RotationStyle, Target, Verification,
};
use crate::inventory::{ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// A provider that knows only what the inventory records.
#[derive(Debug, Default, Clone, Copy)]
pub struct Manual;

impl Manual {
    fn recorded(target: &Target) -> RemoteKey {
        let c = &target.credential;
        RemoteKey {
            // The address stands in for a remote id the person never recorded.
            remote_id: c.remote_id.clone().unwrap_or_else(|| target.at.to_string()),
            state: c.remote.as_ref().map_or(RemoteStatus::Active, |r| r.state),
            name: (!c.name.is_empty()).then(|| c.name.clone()),
            created_at: c.created_at,
            expires_at: c.expires_at,
            last_used_at: c.last_used_at,
            scopes: c.scopes.clone(),
            risks: c.risks.clone(),
        }
    }
}

#[async_trait]
impl Provider for Manual {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Manual
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::Manual,
            can_deactivate: false,
            reports_expiry: false,
            reports_last_used: false,
            max_live_keys: None,
            can_verify: false,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        Ok(Some(Self::recorded(target)))
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        Ok(vec![Self::recorded(target)])
    }

    async fn verify(&self, _: &Target, _: Option<&str>, _: &Secret) -> Verification {
        Verification::CannotCheck {
            reason: "no API: the provider offers no way to check a key".into(),
        }
    }

    async fn delete(&self, _: &Target, _: &str) -> Result<Deletion, ProviderError> {
        // A person revoked it by hand and said so; there is no provider to ask.
        Ok(Deletion::Deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, RemoteState};
    use chrono::{TimeZone, Utc};

    fn target() -> Target {
        let mut c = Credential::new("portal", ProviderKind::Manual);
        c.name = "Partner portal".into();
        c.created_at = Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        c.scopes = vec!["orders".into()];
        Target {
            at: "acme/portal".parse().unwrap(),
            credential: c,
            connection: None,
        }
    }

    #[tokio::test]
    async fn answers_from_the_inventory_record() {
        let mut t = target();
        let seen = Manual.inspect(&t).await.unwrap().unwrap();
        assert_eq!(seen.remote_id, "acme/portal");
        assert_eq!(seen.state, RemoteStatus::Active);
        assert_eq!(seen.name.as_deref(), Some("Partner portal"));
        assert_eq!(seen.created_at, t.credential.created_at);
        assert_eq!(seen.scopes, vec!["orders".to_string()]);

        t.credential.remote_id = Some("portal-key-7".into());
        t.credential.remote = Some(RemoteState {
            state: RemoteStatus::Revoked,
            checked_at: Utc::now(),
        });
        let listed = Manual.list(&t).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].remote_id, "portal-key-7");
        assert_eq!(listed[0].state, RemoteStatus::Revoked);
    }

    #[tokio::test]
    async fn cannot_check_create_or_roll_but_delete_is_recorded() {
        let t = target();
        let v = Manual
            .verify(&t, None, &Secret::new("anything-at-all"))
            .await;
        assert_eq!(v.label(), "cannot-check");
        assert!(Manual.delete(&t, "acme/portal").await.is_ok());
        assert_eq!(Manual.capabilities().rotation, RotationStyle::Manual);
        assert_eq!(
            Manual.create(&t).await.unwrap_err().kind,
            crate::providers::ErrorKind::Unsupported
        );
        assert_eq!(
            Manual.roll(&t).await.unwrap_err().kind,
            crate::providers::ErrorKind::Unsupported
        );
    }
}
