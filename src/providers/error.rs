//! The error every provider call returns: what failed, where, and whether trying again
//! may help. It names the provider, the credential, the request and the status, and is
//! built only from redacted text, so it never carries a secret or an Authorization header.

use std::fmt;
use std::time::Duration;

use crate::inventory::{CredentialRef, ProviderKind};
use crate::secret::Secret;

/// What kind of failure, deciding retries and what the person is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The provider answered with an error status.
    Http,
    /// Rate limited and the retries ran out.
    RateLimited,
    /// No answer: connection refused, reset, DNS, timeout.
    Transport,
    /// An answer that is not what the API documents: not JSON, a field missing, truncated.
    BadResponse,
    /// The provider refused the credentials keyward manages it with (401/403).
    Unauthorized,
    /// The key or resource does not exist.
    NotFound,
    /// A provider limit would be exceeded (e.g. AWS allows two keys per user).
    Limit,
    /// The inventory lacks something the provider needs (a connection, a parameter).
    Config,
    /// The provider cannot do this at all.
    Unsupported,
}

/// A failed provider operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderError {
    /// Which provider.
    pub provider: ProviderKind,
    /// Which credential, when the call was about one.
    pub credential: Option<String>,
    /// `METHOD /path` of the request, when one was made (no query values).
    pub request: Option<String>,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// The failure's kind.
    pub kind: ErrorKind,
    /// What happened, redacted.
    pub message: String,
    /// How long the provider asked to be left alone before the call is tried again
    /// (`Retry-After` or a rate-limit reset header), when it said: the rotation engine waits
    /// that long rather than guess with its own backoff.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A new error of `kind` with no request attached.
    pub fn new(
        provider: ProviderKind,
        at: Option<&CredentialRef>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ProviderError {
            provider,
            credential: at.map(ToString::to_string),
            request: None,
            status: None,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Something the inventory must supply is missing.
    pub fn config(
        provider: ProviderKind,
        at: Option<&CredentialRef>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(provider, at, ErrorKind::Config, message)
    }

    /// The provider cannot `operation`.
    pub fn unsupported(
        provider: ProviderKind,
        at: Option<&CredentialRef>,
        operation: &str,
    ) -> Self {
        Self::new(
            provider,
            at,
            ErrorKind::Unsupported,
            format!("cannot {operation}"),
        )
    }

    /// Attaches the request line.
    pub fn with_request(mut self, request: impl Into<String>) -> Self {
        self.request = Some(request.into());
        self
    }

    /// Attaches how long the provider asked to wait before trying again.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// Attaches the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Masks every occurrence of `secret` in the message: the last guard for secrets too
    /// short for the generic redaction of long token runs (a GitLab token has 26 characters).
    pub fn redacting(mut self, secret: &Secret) -> Self {
        self.message = secret.redact(&self.message);
        self
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Transport)
            || self.status.is_some_and(|s| s >= 500)
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.provider)?;
        if let Some(c) = &self.credential {
            write!(f, " {c}")?;
        }
        if let Some(r) = &self.request {
            write!(f, ": {r}")?;
        }
        if let Some(s) = self.status {
            write!(f, ": HTTP {s}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ProviderError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_credential_request_and_status() {
        let at: CredentialRef = "acme/crm".parse().unwrap();
        let e = ProviderError::new(
            ProviderKind::Sendgrid,
            Some(&at),
            ErrorKind::Http,
            "forbidden",
        )
        .with_request("DELETE /v3/api_keys/abc")
        .with_status(403);
        assert_eq!(
            e.to_string(),
            "sendgrid acme/crm: DELETE /v3/api_keys/abc: HTTP 403: forbidden"
        );
        assert!(!e.is_transient());
        assert!(e.with_status(503).is_transient());
    }
}
