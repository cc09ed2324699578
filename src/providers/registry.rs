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
