//! What the REST targets share: the HTTP client's handle, the base URL (HTTPS, or plain
//! HTTP to loopback only) and URLs built from encoded path segments.

use reqwest::header::HeaderValue;
use url::Url;

use super::{Delivery, DeployError, TargetKind};
use crate::inventory::ProviderKind;
use crate::providers::error::ProviderError;
use crate::providers::http::{check_endpoint, Api, Http};
use crate::secret::Secret;

/// The shared client's handle for `kind`. Its concurrency limit is per provider kind: the
/// AWS targets queue with AWS IAM, `gitlab-ci` with GitLab, and the other platforms, which
/// keyward has no provider for, with `manual`, which never makes a request of its own.
pub(super) fn api(http: &Http, kind: TargetKind) -> Api {
    http.api(match kind {
        TargetKind::AwsSsm | TargetKind::AwsSecretsManager => ProviderKind::AwsIam,
        TargetKind::GitlabCi => ProviderKind::Gitlab,
        _ => ProviderKind::Manual,
    })
}

/// `configured`, else `default`, checked: HTTPS, or plain HTTP to this machine.
pub(super) fn base(
    kind: TargetKind,
    configured: Option<&str>,
    default: &str,
) -> Result<Url, DeployError> {
    let raw = configured.unwrap_or(default);
    check_endpoint(ProviderKind::Manual, None, raw)
        .map_err(|e| DeployError::config(kind, e.message))
}

/// `base` with `segments` appended, each percent-encoded (a `group/project` path is one
/// segment).
pub(super) fn url(base: &Url, segments: &[&str]) -> Url {
    let mut u = base.clone();
    if let Ok(mut path) = u.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    u
}

/// `e` relabelled for `kind`.
pub(super) fn error(kind: TargetKind) -> impl Fn(ProviderError) -> DeployError {
    move |e| DeployError::from_provider(kind, e)
}

/// The request line for errors: `METHOD /path` without the query.
pub(super) fn request(method: &str, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// The platform token the target names (`token: CLIENT/INTEGRATION`), or why there is none.
pub(super) fn token<'a>(kind: TargetKind, d: &Delivery<'a>) -> Result<&'a Secret, DeployError> {
    d.access
        .token
        .as_ref()
        .ok_or_else(|| DeployError::config(kind, "needs `token`"))
}

/// `value` (a credential) as a header marked sensitive, so the HTTP stack never logs it; a
/// value no header can carry becomes an empty one, which the platform refuses as
/// unauthorised rather than keyward echoing it in an error.
pub(super) fn secret_header(value: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// `Authorization: Bearer TOKEN`, marked sensitive.
pub(super) fn bearer(token: &Secret) -> HeaderValue {
    secret_header(&format!("Bearer {}", token.expose_secret()))
}
