//! Which implementation serves each provider kind.

use std::sync::Arc;

use super::http::Http;
use super::SharedProvider;
use crate::inventory::ProviderKind;

/// The provider for `kind`, sharing `http`'s connection pool and limits; `None` for a kind
/// that lives beside an inventory rather than behind an API (see [`provider_for_inventory`]).
pub fn provider_for(kind: ProviderKind, http: &Http) -> Option<SharedProvider> {
    match kind {
        ProviderKind::AwsIam => Some(Arc::new(super::aws::AwsIam::new(http))),
        ProviderKind::Cloudflare => Some(Arc::new(super::cloudflare::Cloudflare::new(http))),
        ProviderKind::Gitlab => Some(Arc::new(super::gitlab::Gitlab::new(http))),
        ProviderKind::Oauth2 => Some(Arc::new(super::oauth2::OAuth2::new(http))),
        ProviderKind::Openai => Some(Arc::new(super::openai::OpenAi::new(http))),
        ProviderKind::Twilio => Some(Arc::new(super::twilio::Twilio::new(http))),
        ProviderKind::Sendgrid => Some(Arc::new(super::sendgrid::Sendgrid::new(http))),
        ProviderKind::Datadog => Some(Arc::new(super::datadog::Datadog::new(http))),
        ProviderKind::Okta => Some(Arc::new(super::okta::Okta::new(http))),
        ProviderKind::Manual | ProviderKind::Sandbox => None,
    }
}

/// [`provider_for`], plus the kinds that live beside an inventory rather than behind an
/// API: `manual` (answers from the inventory's own record) and `sandbox` (its state in
/// `<inventory>.sandbox.json`, see [`super::sandbox`]). Rotation uses these.
pub fn provider_for_inventory(
    kind: ProviderKind,
    http: &Http,
    inventory: &std::path::Path,
) -> Option<SharedProvider> {
    match kind {
        ProviderKind::Manual => Some(Arc::new(super::manual::Manual)),
        ProviderKind::Sandbox => Some(Arc::new(super::sandbox::Sandbox::beside(inventory))),
        _ => provider_for(kind, http),
    }
}

/// The provider clients one run or one front end uses, one per kind: how every part of
/// keyward (sync, verify, rotation, the dashboard) finds the client for a credential.
#[derive(Clone, Default)]
pub struct ProviderSet {
    map: std::collections::HashMap<ProviderKind, SharedProvider>,
}

impl ProviderSet {
    /// No providers.
    pub fn new() -> Self {
        ProviderSet::default()
    }

    /// Adds (or replaces) the client for `provider.kind()`.
    pub fn with(mut self, provider: SharedProvider) -> Self {
        self.map.insert(provider.kind(), provider);
        self
    }

    /// Every client this build has, sharing `http`; the sandbox keeps its state beside the
    /// inventory at `inventory`, and `manual` answers from the inventory's own record.
    pub fn for_inventory(http: &Http, inventory: &std::path::Path) -> Self {
        Self::from_lookup(&|kind| provider_for_inventory(kind, http, inventory))
    }

    /// The clients `lookup` gives, asked once per kind.
    pub fn from_lookup(lookup: &dyn Fn(ProviderKind) -> Option<SharedProvider>) -> Self {
        ProviderSet {
            map: ProviderKind::ALL
                .into_iter()
                .filter_map(|k| lookup(k).map(|p| (k, p)))
                .collect(),
        }
    }

    /// The client for `kind`.
    pub fn get(&self, kind: ProviderKind) -> Option<&SharedProvider> {
        self.map.get(&kind)
    }

    /// The client and target for the credential at `at`, or why there is none, in words
    /// that name no secret. The one place a credential's provider is resolved.
    pub fn resolve(
        &self,
        inv: &crate::inventory::Inventory,
        at: &crate::inventory::CredentialRef,
    ) -> Result<(SharedProvider, super::Target), String> {
        let target = super::Target::from_inventory(inv, at)
            .ok_or_else(|| "no credential at this address".to_string())?;
        let kind = target.credential.provider;
        let provider = self
            .get(kind)
            .cloned()
            .ok_or_else(|| format!("this build has no client for provider `{kind}`"))?;
        if let (Some(id), None) = (&target.credential.connection, &target.connection) {
            return Err(format!("its connection `{id}` is not in the inventory"));
        }
        Ok((provider, target))
    }
}
