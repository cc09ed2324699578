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
