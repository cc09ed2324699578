//! Which implementation serves each provider kind.

use std::sync::Arc;

use super::http::Http;
use super::SharedProvider;
use crate::inventory::ProviderKind;

/// The provider for `kind`, sharing `http`'s connection pool and limits; `None` for a kind
/// this build has no client for yet.
pub fn provider_for(kind: ProviderKind, http: &Http) -> Option<SharedProvider> {
    let _ = (http, Arc::new(()));
    match kind {
        ProviderKind::Cloudflare => Some(Arc::new(super::cloudflare::Cloudflare::new(http))),
        ProviderKind::Gitlab => Some(Arc::new(super::gitlab::Gitlab::new(http))),
        ProviderKind::Oauth2 => Some(Arc::new(super::oauth2::OAuth2::new(http))),
        ProviderKind::AwsIam
        | ProviderKind::Openai
        | ProviderKind::Twilio
        | ProviderKind::Sendgrid => None,
        ProviderKind::Manual => Some(Arc::new(super::manual::Manual)),
        // Without an inventory path the sandbox needs an absolute `params.state_file`;
        // callers that know the inventory use `Sandbox::beside`.
        ProviderKind::Sandbox => Some(Arc::new(super::sandbox::Sandbox::new())),
    }
}
