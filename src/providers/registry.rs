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
        ProviderKind::Cloudflare
        | ProviderKind::Gitlab
        | ProviderKind::Openai
        | ProviderKind::Twilio
        | ProviderKind::Sendgrid
        | ProviderKind::Oauth2
        | ProviderKind::Manual
        | ProviderKind::Sandbox => None,
    }
}
