//! The one HTTP client every provider shares: TLS through rustls with ring, connect and
//! request timeouts, retries with exponential backoff and full jitter on 429, 5xx and
//! connection failures (honouring `Retry-After` and rate-limit reset headers), a concurrency
//! limit per provider, and plain HTTP only to loopback addresses.
//!
//! Errors it builds name the provider, the credential, the request line and the status, and
//! carry only a redacted excerpt of the provider's answer: never a header, never a secret.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use super::error::{ErrorKind, ProviderError};
use super::revocation::Deletion;
use crate::inventory::{CredentialRef, ProviderKind};

/// When and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; each next one doubles, up to `max_delay`.
    pub base_delay: Duration,
    /// The longest computed backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a provider asking for more fails the call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Settings for the shared client.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, body included.
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Requests in flight at once to one provider.
    pub per_provider_concurrency: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            per_provider_concurrency: 8,
        }
    }
}

/// The process's HTTP client: one connection pool, one limiter per provider.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
    limiters: Arc<Mutex<HashMap<ProviderKind, Arc<Semaphore>>>>,
}

/// Installs rustls's ring provider for the process, once: every TLS client keyward makes uses it.
pub fn install_crypto_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Http {
    /// A client with `config`.
    pub fn new(config: HttpConfig) -> Self {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .https_only(false) // checked per endpoint: HTTPS, or HTTP to loopback only
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's static configuration is valid");
        Http {
            client,
            config,
            limiters: Arc::default(),
        }
    }

    /// The handle one provider uses.
    pub fn api(&self, provider: ProviderKind) -> Api {
        let limiter = self
            .limiters
            .lock()
            .expect("limiter map lock")
            .entry(provider)
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_provider_concurrency)))
            .clone();
        Api {
            client: self.client.clone(),
            provider,
            retry: self.config.retry,
            limiter,
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new(HttpConfig::default())
    }
}

/// Checks that `endpoint` is HTTPS, or plain HTTP to a loopback address.
pub fn check_endpoint(
    provider: ProviderKind,
    at: Option<&CredentialRef>,
    endpoint: &str,
) -> Result<Url, ProviderError> {
    let url = Url::parse(endpoint).map_err(|e| {
        ProviderError::config(
            provider,
            at,
            format!("endpoint `{endpoint}` is not a URL: {e}"),
        )
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ProviderError::config(
            provider,
            at,
            format!("endpoint `{endpoint}` is plain HTTP; only loopback addresses may skip TLS"),
        )),
        other => Err(ProviderError::config(
            provider,
            at,
            format!("endpoint `{endpoint}` has scheme `{other}`; use https"),
        )),
    }
}

/// Whether `url` names this machine (localhost or a loopback address): the only place plain
/// HTTP may go.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Whether a request may be sent again once the provider may have received it. Every call
/// says which, by a required argument: forgetting to opt out of retries is how an orphan
/// key or a revoked OAuth grant happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reading, or a change that lands the same however often it is sent (a delete, a
    /// full update): retried on 429, 5xx and transport failures.
    Safe,
    /// Creates, rolls or consumes something: a key creation (a repeat leaves an orphan
    /// key), a roll (a repeat rolls again and the first new value is lost), a rotating OAuth
    /// refresh (a repeat replays the consumed token and the server revokes the grant).
    /// [`Api::send`] retries only a 429 and a failure to connect, and hands every other
    /// failure back for the caller to resolve.
    Never,
}

/// What a request is, for error messages: the credential and `METHOD /path`.
#[derive(Debug, Clone)]
pub struct Call {
    /// The credential the call is about.
    pub at: Option<CredentialRef>,
    /// `METHOD /path`, without query values.
    pub request: String,
    /// Whether sending it twice is harmless.
    pub repeat: Repeat,
}

impl Call {
    /// Describes a call about `at`, saying whether it may be sent twice.
    pub fn new(at: Option<&CredentialRef>, method: &str, path: &str, repeat: Repeat) -> Self {
        Call {
            at: at.cloned(),
            request: format!("{method} {path}"),
            repeat,
        }
    }

    fn idempotent(&self) -> bool {
        self.repeat == Repeat::Safe
    }
}

/// A provider's handle on the shared client.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    provider: ProviderKind,
    retry: RetryPolicy,
    limiter: Arc<Semaphore>,
}

/// A final answer: any status that retrying would not change.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    provider: ProviderKind,
    call: Call,
}

impl Api {
    /// The underlying client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Which provider this handle is for.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// An error about `call` of `kind`.
    pub fn error(&self, call: &Call, kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError::new(self.provider, call.at.as_ref(), kind, message)
            .with_request(call.request.clone())
    }

    /// Sends the request `build` makes, again for each attempt (so signatures and
    /// timestamps are fresh), retrying 429, 5xx and transport failures. Returns the first
    /// answer retrying would not change; error statuses are left to [`Reply::ok`].
    pub async fn send<F>(&self, call: &Call, build: F) -> Result<Reply, ProviderError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                let _permit = self.limiter.acquire().await.expect("limiter never closes");
                let started = std::time::Instant::now();
                let outcome = self.attempt(call, &build).await;
                self.trace_attempt(call, attempt, started.elapsed(), &outcome);
                outcome
            };
            let last = attempt >= self.retry.max_attempts;
            let wait = match outcome {
                Ok(reply) if !is_retryable_status(reply.status) => return Ok(reply),
                // A 5xx may come after the provider acted: the caller decides.
                Ok(reply) if !call.idempotent() && reply.status != 429 => return Ok(reply),
                Ok(reply) => {
                    let asked = retry_after(&reply.headers);
                    if let Some(asked) = asked.filter(|d| *d > self.retry.max_retry_after) {
                        return Err(self
                            .error(
                                call,
                                kind_for_status(reply.status),
                                format!(
                                    "asked to wait {}s before retrying, longer than keyward waits",
                                    asked.as_secs()
                                ),
                            )
                            .with_status(reply.status));
                    }
                    if last {
                        let kind = kind_for_status(reply.status);
                        let msg = match kind {
                            ErrorKind::RateLimited => {
                                format!("rate limited; gave up after {attempt} attempts")
                            }
                            _ => format!("{} (after {attempt} attempts)", reply.excerpt()),
                        };
                        return Err(self
                            .error(call, kind, msg)
                            .with_status(reply.status)
                            .with_retry_after(asked));
                    }
                    asked.unwrap_or_else(|| self.backoff(attempt))
                }
                Err(Failed { error: e, unsent })
                    if last || e.kind != ErrorKind::Transport || !(call.idempotent() || unsent) =>
                {
                    return Err(ProviderError {
                        message: format!("{} (after {attempt} attempts)", e.message),
                        ..e
                    })
                }
                Err(_) => self.backoff(attempt),
            };
            tracing::debug!(
                provider = %self.provider,
                request = %call.request,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends and decodes a JSON answer in one go, mapping error statuses to errors.
    pub async fn json<T, F>(&self, call: &Call, build: F) -> Result<T, ProviderError>
    where
        T: DeserializeOwned,
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        self.send(call, build).await?.ok()?.json()
    }

    /// One event per attempt: the request line (`METHOD /path`, no query, no header), the
    /// status or the kind of failure, and how long it took; never a body or a header value.
    fn trace_attempt(
        &self,
        call: &Call,
        attempt: u32,
        elapsed: Duration,
        outcome: &Result<Reply, Failed>,
    ) {
        let elapsed_ms = elapsed.as_millis() as u64;
        let credential = call
            .at
            .as_ref()
            .map(|at| at.to_string())
            .unwrap_or_default();
        match outcome {
            Ok(reply) => tracing::debug!(
                provider = %self.provider,
                credential = %credential,
                request = %call.request,
                status = reply.status,
                attempt,
                elapsed_ms,
                "http request"
            ),
            Err(failed) => tracing::debug!(
                provider = %self.provider,
                credential = %credential,
                request = %call.request,
                failure = %failed.error.message,
                attempt,
                elapsed_ms,
                "http request failed"
            ),
        }
    }

    async fn attempt<F>(&self, call: &Call, build: &F) -> Result<Reply, Failed>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let transport = |e: reqwest::Error| {
            // A connection that never opened carried no request.
            let unsent = e.is_connect();
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else if e.is_body() || e.is_decode() {
                "the answer was cut off"
            } else {
                "request failed"
            };
            // reqwest's own message can include the URL with its query; keep only the kind.
            Failed {
                error: self.error(call, ErrorKind::Transport, what),
                unsent,
            }
        };
        let response = build(&self.client).send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok(Reply {
            status,
            headers,
            body,
            provider: self.provider,
            call: call.clone(),
        })
    }

    /// How long to wait before attempt `attempt + 1`: exponential with full jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.retry.max_delay);
        // Full jitter: spreads a burst of clients hit by the same 429 over the window.
        let millis = exp.as_millis().max(1) as u64;
        Duration::from_millis(rand::thread_rng().gen_range(millis / 2..=millis))
    }
}

/// A failed attempt, and whether the request certainly never reached the provider.
struct Failed {
    error: ProviderError,
    unsent: bool,
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        _ => ErrorKind::Http,
    }
}

/// How long the provider asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// a rate-limit reset header in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = get("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(when) = httpdate::parse_http_date(v) {
            return Some(
                when.duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    // Datadog's `X-RateLimit-Reset` counts seconds (docs.datadoghq.com/api/latest/
    // rate-limits/); where it is a Unix time instead (GitHub) it is far above the bound below
    // and ignored, as is GitLab's `RateLimit-Reset`.
    [
        "ratelimit-reset",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-rate-limit-reset-after",
    ]
    .iter()
    .find_map(|h| get(h)?.parse::<f64>().ok())
    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
    .map(Duration::from_secs_f64)
}

/// Only the status and size: the body and headers may carry a key just created.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// The body if the status is 2xx; otherwise an error naming the status and what the
    /// provider said.
    pub fn ok(self) -> Result<Reply, ProviderError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(self.into_error())
        }
    }

    /// The answer to a delete: 2xx deleted, 404 "not found" (which only a read can
    /// confirm, see [`super::revocation`]), anything else an error.
    pub fn deletion(self) -> Result<Deletion, ProviderError> {
        match self.status {
            200..=299 => Ok(Deletion::Deleted),
            404 => Ok(Deletion::NotFound {
                said: format!("HTTP 404: {}", self.excerpt()),
            }),
            _ => Err(self.into_error()),
        }
    }

    /// This reply as an error.
    pub fn into_error(self) -> ProviderError {
        ProviderError::new(
            self.provider,
            self.call.at.as_ref(),
            kind_for_status(self.status),
            self.excerpt(),
        )
        .with_request(self.call.request.clone())
        .with_status(self.status)
    }

    /// Decodes the body as JSON, or says which part of it is missing or wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let what = if e.is_eof() {
                "the answer was cut off".to_string()
            } else if e.is_syntax() {
                "the answer is not JSON".to_string()
            } else {
                format!(
                    "the answer does not match the API: {}",
                    describe_mismatch(&e)
                )
            };
            self.bad_response(what)
        })
    }

    /// An error saying the answer was not what the API documents.
    pub fn bad_response(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::new(
            self.provider,
            self.call.at.as_ref(),
            ErrorKind::BadResponse,
            message,
        )
        .with_request(self.call.request.clone())
        .with_status(self.status)
    }

    /// A short, redacted excerpt of what the provider said.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let said = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| provider_message(&v))
            .or_else(|| xml_message(&text))
            .unwrap_or_else(|| text.chars().take(160).collect());
        let said = redact_tokens(said.trim());
        if said.is_empty() {
            "no details in the answer".to_string()
        } else {
            said
        }
    }
}

/// serde quotes the offending value in `invalid type`, `invalid value` and `unknown variant`
/// messages, and that value may be a secret the provider sent in an unexpected shape: keep
/// only what was expected and where.
fn describe_mismatch(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match crate::secret::expected_part(&text) {
        Some(expected) => format!("a value is not {expected}"),
        None => redact_tokens(&text),
    }
}

fn provider_message(v: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    v.get("error_description")
        .and_then(s)
        .or_else(|| v.get("message").and_then(s))
        .or_else(|| v.pointer("/error/message").and_then(s))
        .or_else(|| v.pointer("/errors/0/message").and_then(s))
        .or_else(|| v.pointer("/errors/0/field").and_then(s))
        // Datadog: `{"errors": ["Forbidden"]}`.
        .or_else(|| v.pointer("/errors/0").and_then(s))
        // Okta: `{"errorCode": "E0000011", "errorSummary": "Invalid token provided", …}`.
        .or_else(|| v.get("errorSummary").and_then(s))
        .or_else(|| v.get("error").and_then(s))
        .or_else(|| v.get("detail").and_then(s))
}

fn xml_message(text: &str) -> Option<String> {
    let code = between(text, "<Code>", "</Code>");
    let message = between(text, "<Message>", "</Message>");
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (c, m) => m.or(c),
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_string())
}

pub use crate::secret::redact_tokens;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        let p = ProviderKind::Sendgrid;
        assert!(check_endpoint(p, None, "https://api.sendgrid.com").is_ok());
        assert!(check_endpoint(p, None, "http://127.0.0.1:4010").is_ok());
        assert!(check_endpoint(p, None, "http://localhost:4010").is_ok());
        assert!(check_endpoint(p, None, "http://[::1]:4010").is_ok());
        let e = check_endpoint(p, None, "http://api.sendgrid.com").unwrap_err();
        assert!(e.to_string().contains("only loopback"), "{e}");
        assert!(check_endpoint(p, None, "ftp://x").is_err());
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_reset_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)), "Datadog");
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "1767225600".parse().unwrap());
        assert_eq!(retry_after(&h), None, "a Unix time is not a wait");
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn datadog_and_okta_error_bodies_are_read() {
        let said = |v: serde_json::Value| provider_message(&v);
        assert_eq!(
            said(serde_json::json!({"errors": ["Forbidden"]})).as_deref(),
            Some("Forbidden")
        );
        assert_eq!(
            said(serde_json::json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorCauses": []}))
                .as_deref(),
            Some("Invalid token provided")
        );
    }

    #[test]
    fn mismatch_errors_do_not_quote_the_value() {
        #[derive(Debug, serde::Deserialize)]
        struct Created {
            #[allow(dead_code)]
            key: std::collections::BTreeMap<String, String>,
        }
        let e = serde_json::from_str::<Created>(r#"{"key": "sk-short-secret"}"#).unwrap_err();
        let text = describe_mismatch(&e);
        assert!(!text.contains("sk-short-secret"), "{text}");
        assert!(text.starts_with("a value is not a map"), "{text}");
        let e = serde_json::from_str::<Created>("{}").unwrap_err();
        assert!(describe_mismatch(&e).contains("missing field `key`"));
    }

    #[test]
    fn long_tokens_are_masked_in_error_text() {
        let t = redact_tokens("bad key SG.abcdefghijklmnopqrstuvwxyz0123456789ABCD here");
        assert_eq!(t, format!("bad key {} here", crate::secret::MASK));
        assert_eq!(
            redact_tokens("user AKIAIOSFODNN7EXAMPLE"),
            "user AKIAIOSFODNN7EXAMPLE"
        );
    }
}
