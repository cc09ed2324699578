//! Cloudflare API tokens: list, inspect, create a twin, roll, verify, disable and delete,
//! through the API described by Cloudflare's OpenAPI schema.
//!
//! A token belongs to a user (`/user/tokens…`) or, when `params.account_id` is set on the
//! credential or its connection, to an account (`/accounts/{account_id}/tokens…`, with its own
//! `/verify`; developers.cloudflare.com/fundamentals/api/get-started/account-owned-tokens/).
//! The user paths do not know account-owned tokens: `/user/tokens/verify` answers 401 for one.
//!
//! A token restricted to client IP ranges answers 403 with error 9109 ("Cannot use the access
//! token from location: …", developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/)
//! when used from elsewhere: verify reads that as "cannot check from here", not as invalid.
//!
//! keyward manages them with a token allowed to manage tokens (`auth.api_token` on the
//! connection). Cloudflare allows many live tokens, so a rotation creates a twin of the old
//! token (same policies, condition and lifetime, the name marked as rotated) beside it and
//! revokes the old one later: consumers see no gap. `roll` (a new value for the same token,
//! the old value dead at once) is there for emergencies.
//!
//! Risk rule: a token is flagged when an `allow` policy grants a permission group whose name
//! contains `Write` on every account (`com.cloudflare.api.account.*`) or every zone
//! (`com.cloudflare.api.account.zone.*`, at the top level or inside one account): such a token
//! can change everything it can reach, so it deserves a narrower scope.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::connection_check::{connection_target, Ability, ConnectionReport, Probe, ProbeOutcome};
use super::http::{check_endpoint, redact_tokens, Api, Call, Http, Repeat, Reply};
use super::Deletion;
use super::{
    Capabilities, ErrorKind, FoundKey, IssuedKey, Provider, ProviderError, RemoteKey,
    RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, Policy as InventoryPolicy, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// Cloudflare's public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.cloudflare.com/client/v4";

/// The largest page `GET /user/tokens` serves.
const PAGE_SIZE: usize = 50;
/// A bound on pages read, so a provider that never says "last page" cannot loop us forever.
const MAX_PAGES: u32 = 200;
/// Cloudflare's limit on a token name.
const MAX_NAME_CHARS: usize = 120;
/// What a rotated twin's name ends with, so the next rotation replaces it instead of stacking.
const ROTATED_MARK: &str = " (rotated ";
/// The longest lifetime keyward gives a new token when it has to pick one.
const MAX_LIFETIME_DAYS: u32 = 365;

/// The Cloudflare user API token provider.
pub struct Cloudflare {
    api: Api,
}

impl Cloudflare {
    /// A provider sharing `http`'s pool and per-provider limits.
    pub fn new(http: &Http) -> Self {
        Cloudflare {
            api: http.api(ProviderKind::Cloudflare),
        }
    }
}

/// One `{code, message}` of the envelope's `errors`.
#[derive(Debug, Deserialize)]
struct ApiMessage {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

/// A token as `GET /user/tokens/{id}` describes it (`iam_token`). `last_used_on` is not in the
/// published schema but the live API sends it; it is read when present.
#[derive(Debug, Clone, Deserialize)]
struct Token {
    id: String,
    name: String,
    status: String,
    policies: Vec<TokenPolicy>,
    #[serde(default)]
    condition: Option<Value>,
    #[serde(default)]
    expires_on: Option<DateTime<Utc>>,
    #[serde(default)]
    not_before: Option<DateTime<Utc>>,
    #[serde(default)]
    issued_on: Option<DateTime<Utc>>,
    #[serde(default)]
    last_used_on: Option<DateTime<Utc>>,
}

/// One access policy; written back as read when a twin is created or the token disabled.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct TokenPolicy {
    // The schema requires a policy id in request bodies too, so the old one is sent back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    effect: String,
    permission_groups: Vec<PermissionGroup>,
    resources: Map<String, Value>,
}

/// A named group of permissions; only `id` and `meta` are writable.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PermissionGroup {
    id: String,
    #[serde(default, skip_serializing)]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<Value>,
}

/// The body of `POST /user/tokens` (`iam_create_payload`).
#[derive(Serialize)]
struct CreatePayload<'a> {
    name: String,
    policies: &'a [TokenPolicy],
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_on: Option<String>,
}

/// The body of `PUT /user/tokens/{id}` (`iam_schemas-token`).
#[derive(Serialize)]
struct UpdatePayload<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    policies: &'a [TokenPolicy],
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<String>,
}

/// What `GET /user/tokens/verify` answers about the token it was called with.
#[derive(Deserialize)]
struct Verified {
    id: String,
    status: String,
}

/// An answer (or data read from one) that is not what the API documents.
fn bad_response(target: &Target, message: impl Into<String>) -> ProviderError {
    ProviderError::new(
        ProviderKind::Cloudflare,
        Some(&target.at),
        ErrorKind::BadResponse,
        message,
    )
}

fn bad_create(target: &Target, url: &Url, message: String) -> ProviderError {
    bad_response(target, message).with_request(format!("POST {}", url.path()))
}

/// Who owns a Cloudflare token, which decides the paths that reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// The user the management token belongs to (`/user/tokens…`).
    User,
    /// An account (`/accounts/{account_id}/tokens…`), by its id.
    Account(String),
}

impl TokenOwner {
    /// The owner `target` names: the account of `params.account_id`, else the user.
    pub fn of(target: &Target) -> TokenOwner {
        match target.param("account_id") {
            Ok(id) if !id.trim().is_empty() => TokenOwner::Account(id.trim().to_string()),
            _ => TokenOwner::User,
        }
    }

    /// The kind of owner, as tables show it.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenOwner::User => "user",
            TokenOwner::Account(_) => "account",
        }
    }

    /// `base` + the owner's tokens collection + `rest`, each segment percent-encoded.
    fn url(&self, base: &Url, rest: &[&str]) -> Url {
        let mut segments: Vec<&str> = match self {
            TokenOwner::User => vec!["user", "tokens"],
            TokenOwner::Account(id) => vec!["accounts", id.as_str(), "tokens"],
        };
        segments.extend_from_slice(rest);
        join(base, &segments)
    }
}

/// Cloudflare's error code for a token used from an address its IP filter does not allow.
const IP_RESTRICTED: i64 = 9109;

/// Whether an error answer carries error code `code` in its envelope's `errors`.
fn has_error_code(reply: &Reply, code: i64) -> bool {
    serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v.get("errors").cloned())
        .and_then(|e| serde_json::from_value::<Vec<ApiMessage>>(e).ok())
        .is_some_and(|errors| errors.iter().any(|e| e.code == Some(code)))
}

/// What one call needs: where, as whom, about which credential, whose tokens.
struct Conn<'a> {
    base: Url,
    token: &'a Secret,
    target: &'a Target,
    owner: TokenOwner,
}

impl Conn<'_> {
    /// The URL of the owner's tokens collection, then `rest`.
    fn tokens(&self, rest: &[&str]) -> Url {
        self.owner.url(&self.base, rest)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `base` with `segments` appended as path segments, each percent-encoded.
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

fn state_of(status: &str) -> Option<RemoteStatus> {
    match status {
        "active" => Some(RemoteStatus::Active),
        "disabled" | "expired" => Some(RemoteStatus::Inactive),
        _ => None,
    }
}

/// Permission group names, as the token's scopes; a deny policy's groups say so.
fn scopes_of(policies: &[TokenPolicy]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for policy in policies {
        for group in &policy.permission_groups {
            let name = group.name.clone().unwrap_or_else(|| group.id.clone());
            let scope = if policy.effect == "deny" {
                format!("deny: {name}")
            } else {
                name
            };
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    scopes
}

/// Where `resources` reaches every account or every zone, in words; `None` when it does not.
fn broad_reach(resources: &Map<String, Value>) -> Option<String> {
    for (key, value) in resources {
        match key.as_str() {
            "com.cloudflare.api.account.*" => return Some("every account".to_string()),
            "com.cloudflare.api.account.zone.*" => return Some("every zone".to_string()),
            _ => {}
        }
        if let Value::Object(inner) = value {
            if inner.contains_key("com.cloudflare.api.account.zone.*") {
                return Some(format!("every zone of `{key}`"));
            }
        }
    }
    None
}

/// The risk rule of this module's header.
fn risks_of(policies: &[TokenPolicy]) -> Vec<String> {
    let mut risks: Vec<String> = Vec::new();
    for policy in policies.iter().filter(|p| p.effect == "allow") {
        let Some(reach) = broad_reach(&policy.resources) else {
            continue;
        };
        for group in &policy.permission_groups {
            let Some(name) = group.name.as_deref().filter(|n| n.contains("Write")) else {
                continue;
            };
            let risk = format!("grants `{name}` on {reach}");
            if !risks.contains(&risk) {
                risks.push(risk);
            }
        }
    }
    risks
}

fn remote_key(token: &Token) -> Result<RemoteKey, String> {
    let state = state_of(&token.status).ok_or_else(|| {
        format!(
            "the token's status `{}` is not one the API documents",
            token.status
        )
    })?;
    Ok(RemoteKey {
        remote_id: token.id.clone(),
        state,
        name: Some(token.name.clone()),
        created_at: token.issued_on,
        expires_at: token.expires_on,
        last_used_at: token.last_used_on,
        scopes: scopes_of(&token.policies),
        risks: risks_of(&token.policies),
    })
}

/// The twin's name: the old name without an earlier rotation mark, marked with `now`, cut to
/// Cloudflare's limit.
fn rotated_name(old: &str, now: DateTime<Utc>) -> String {
    let base = match old.rfind(ROTATED_MARK) {
        Some(i) if old.ends_with(')') => &old[..i],
        _ => old,
    };
    let suffix = format!("{ROTATED_MARK}{})", now.format("%Y-%m-%d %H:%M:%S UTC"));
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base: String = base.chars().take(room).collect();
    format!("{base}{suffix}")
}

/// The twin's expiry. Copying the old date would hand a token that is rotated because it
/// expires soon a twin expiring just as soon, so the twin gets the old token's lifetime,
/// counted from `now`; when the issue date is unknown, the credential's rotation period
/// (capped at a year). A token that never expires gets a twin that never expires.
fn twin_expiry(old: &Token, target: &Target, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expires = old.expires_on?;
    let lifetime = match old.issued_on {
        Some(issued) if expires > issued => expires - issued,
        _ => {
            let days = target
                .credential
                .rotate_every_days
                .unwrap_or(InventoryPolicy::default().rotate_every_days)
                .clamp(1, MAX_LIFETIME_DAYS);
            Duration::days(i64::from(days))
        }
    };
    Some(now + lifetime)
}

impl Cloudflare {
    fn conn<'a>(&self, target: &'a Target) -> Result<Conn<'a>, ProviderError> {
        let token = target.auth("api_token")?;
        let endpoint = target.endpoint_or(DEFAULT_ENDPOINT);
        let base = check_endpoint(ProviderKind::Cloudflare, Some(&target.at), &endpoint)?;
        Ok(Conn {
            base,
            token,
            target,
            owner: TokenOwner::of(target),
        })
    }

    /// Sends one request with the management token and returns the final reply.
    async fn call(
        &self,
        conn: &Conn<'_>,
        method: reqwest::Method,
        repeat: Repeat,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Reply, ProviderError> {
        let call = Call::new(Some(&conn.target.at), method.as_str(), url.path(), repeat);
        self.api
            .send(&call, |client| {
                let request = client
                    .request(method.clone(), url.clone())
                    .bearer_auth(conn.token.expose_secret());
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(|e| e.redacting(conn.token))
    }

    /// The envelope's `result` as `T`, for a 2xx with `success: true`; a clear error otherwise.
    fn result<T: DeserializeOwned>(
        &self,
        conn: &Conn<'_>,
        reply: Reply,
    ) -> Result<T, ProviderError> {
        let reply = reply.ok().map_err(|e| e.redacting(conn.token))?;
        let mut envelope: Map<String, Value> = reply.json()?;
        match envelope.get("success") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                let errors: Vec<ApiMessage> = envelope
                    .remove("errors")
                    .and_then(|e| serde_json::from_value(e).ok())
                    .unwrap_or_default();
                let said: Vec<String> = errors
                    .iter()
                    .map(|e| match e.code {
                        Some(code) => format!("{code}: {}", e.message),
                        None => e.message.clone(),
                    })
                    .collect();
                let said = if said.is_empty() {
                    "no errors listed".to_string()
                } else {
                    redact_tokens(&said.join("; "))
                };
                return Err(ProviderError {
                    kind: ErrorKind::Http,
                    ..reply.bad_response(format!("Cloudflare reported failure: {said}"))
                }
                .redacting(conn.token));
            }
            _ => return Err(reply.bad_response("the answer lacks the `success` flag")),
        }
        let result = envelope.remove("result").unwrap_or(Value::Null);
        serde_json::from_value(result).map_err(|e| {
            reply.bad_response(format!("the answer's `result` does not match the API: {e}"))
        })
    }

    async fn get_token(&self, conn: &Conn<'_>, id: &str) -> Result<Option<Token>, ProviderError> {
        let url = conn.tokens(&[id]);
        let reply = self
            .call(conn, reqwest::Method::GET, Repeat::Safe, &url, None)
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        self.result(conn, reply).map(Some)
    }

    async fn existing_token(&self, conn: &Conn<'_>, id: &str) -> Result<Token, ProviderError> {
        self.get_token(conn, id).await?.ok_or_else(|| {
            ProviderError::new(
                ProviderKind::Cloudflare,
                Some(&conn.target.at),
                ErrorKind::NotFound,
                format!("Cloudflare no longer knows token `{id}`"),
            )
        })
    }

    async fn list_tokens(&self, conn: &Conn<'_>) -> Result<Vec<Token>, ProviderError> {
        let url = conn.tokens(&[]);
        let mut tokens = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut page_url = url.clone();
            page_url
                .query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("per_page", &PAGE_SIZE.to_string());
            let reply = self
                .call(conn, reqwest::Method::GET, Repeat::Safe, &page_url, None)
                .await?;
            let batch: Vec<Token> = self.result(conn, reply)?;
            let last = batch.len() < PAGE_SIZE;
            tokens.extend(batch);
            if last {
                break;
            }
        }
        Ok(tokens)
    }

    /// Deletes every token named `name` except `keep`: the leftovers of a create whose
    /// answer keyward could not use, or of a POST the client retried. The name carries the
    /// rotation's timestamp, so it matches only tokens this rotation made. Says what it did.
    async fn sweep(&self, conn: &Conn<'_>, name: &str, keep: Option<&str>) -> String {
        let tokens = match self.list_tokens(conn).await {
            Ok(tokens) => tokens,
            Err(e) => {
                return format!(
                "could not check for a token named `{name}` ({}); delete it by hand if it exists",
                e.message
            )
            }
        };
        let strays: Vec<String> = tokens
            .into_iter()
            .filter(|t| t.name == name && Some(t.id.as_str()) != keep)
            .map(|t| t.id)
            .collect();
        if strays.is_empty() {
            return format!("no token named `{name}` was left behind");
        }
        let mut said = Vec::new();
        for id in strays {
            said.push(match self.delete_token(conn, &id).await {
                Ok(_) => format!("deleted the stray token `{id}`"),
                Err(e) => format!(
                    "could not delete the stray token `{id}` ({}): delete it by hand",
                    e.message
                ),
            });
        }
        said.join("; ")
    }

    async fn delete_token(&self, conn: &Conn<'_>, id: &str) -> Result<Deletion, ProviderError> {
        let url = conn.tokens(&[id]);
        // The schema makes a JSON body mandatory on this DELETE.
        let reply = self
            .call(
                conn,
                reqwest::Method::DELETE,
                Repeat::Safe,
                &url,
                Some(&Value::Object(Map::new())),
            )
            .await?;
        if reply.status == 404 {
            return reply.deletion();
        }
        self.result::<Value>(conn, reply).map(|_| Deletion::Deleted)
    }
}

#[async_trait]
impl Provider for Cloudflare {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cloudflare
    }

    /// 1,200 requests per five minutes per user (developers.cloudflare.com/fundamentals/
    /// api/reference/limits/): four a second.
    fn lane_size(&self) -> usize {
        super::pacing::lane_for_rate(1200.0 / 300.0)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: true,
            reports_expiry: true,
            reports_last_used: true,
            max_live_keys: None,
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        let conn = self.conn(target)?;
        let id = target.remote_id("the Cloudflare token id")?;
        let Some(token) = self.get_token(&conn, id).await? else {
            return Ok(None);
        };
        remote_key(&token)
            .map(Some)
            .map_err(|m| bad_response(target, m))
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        let conn = self.conn(target)?;
        self.list_tokens(&conn)
            .await?
            .iter()
            .map(|t| remote_key(t).map_err(|m| bad_response(target, m)))
            .collect()
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let conn = self.conn(target)?;
        let old = self
            .existing_token(&conn, target.remote_id("the Cloudflare token id")?)
            .await?;
        let now = Utc::now();
        let name = rotated_name(&old.name, now);
        let expires = twin_expiry(&old, target, now);
        let payload = CreatePayload {
            name: name.clone(),
            policies: &old.policies,
            condition: old.condition.as_ref(),
            expires_on: expires.map(rfc3339),
        };
        let body =
            serde_json::to_value(&payload).map_err(|e| bad_response(target, e.to_string()))?;
        let url = conn.tokens(&[]);
        let answer = match self
            .call(
                &conn,
                reqwest::Method::POST,
                Repeat::Never,
                &url,
                Some(&body),
            )
            .await
        {
            Ok(reply) => self.result::<Value>(&conn, reply),
            Err(e) => Err(e),
        };
        let created = match answer {
            Ok(created) => created,
            // A refusal (4xx) made nothing; anything else may have.
            Err(e) if !e.is_transient() && e.kind != ErrorKind::BadResponse => return Err(e),
            Err(e) => {
                // A timed-out or garbled create may still have made a token (and a retried
                // POST may have made two): remove whatever carries this attempt's name.
                let swept = self.sweep(&conn, &name, None).await;
                return Err(ProviderError {
                    message: format!("{}; {swept}", e.message),
                    ..e
                });
            }
        };
        let field = |key: &str| created.get(key).and_then(Value::as_str).map(str::to_string);
        let date = |key: &str| {
            created
                .get(key)
                .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
        };
        let secret = field("value").map(Secret::new);
        let Some(id) = field("id") else {
            // Without an id the token could never be revoked: do not keep it.
            let swept = self.sweep(&conn, &name, None).await;
            return Err(bad_create(
                target,
                &url,
                format!("the answer lacks the new token's id; {swept}"),
            ));
        };
        let Some(secret) = secret else {
            let swept = self.sweep(&conn, &name, None).await;
            return Err(bad_create(
                target,
                &url,
                format!("the answer lacks the new token's value; {swept}"),
            ));
        };
        let swept = self.sweep(&conn, &name, Some(&id)).await;
        tracing::debug!(provider = "cloudflare", outcome = %swept, "checked for duplicate tokens");
        Ok(IssuedKey {
            remote_id: id,
            secret,
            created_at: date("issued_on"),
            expires_at: date("expires_on").or(expires),
            // The twin carries the old policies; answers may omit the read-only group names.
            scopes: scopes_of(&old.policies),
            params: Default::default(),
        })
    }

    async fn roll(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let conn = self.conn(target)?;
        let id = target.remote_id("the Cloudflare token id")?;
        // Read first: the roll answer carries only the value, and a token that is gone
        // should fail here rather than after its value changed.
        let token = self.existing_token(&conn, id).await?;
        let url = conn.tokens(&[id, "value"]);
        let reply = self
            .call(
                &conn,
                reqwest::Method::PUT,
                Repeat::Never,
                &url,
                Some(&Value::Object(Map::new())),
            )
            .await?;
        let value: String = self.result(&conn, reply)?;
        Ok(IssuedKey {
            remote_id: token.id,
            secret: Secret::new(value),
            created_at: token.issued_on,
            expires_at: token.expires_on,
            scopes: scopes_of(&token.policies),
            params: Default::default(),
        })
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let endpoint = target.endpoint_or(DEFAULT_ENDPOINT);
        let base = match check_endpoint(ProviderKind::Cloudflare, Some(&target.at), &endpoint) {
            Ok(base) => base,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        // The verify call is made with the token being checked, so it stands in for the
        // management token in this connection.
        let conn = Conn {
            base,
            token: secret,
            target,
            owner: TokenOwner::of(target),
        };
        let url = conn.tokens(&["verify"]);
        let reply = match self
            .call(&conn, reqwest::Method::GET, Repeat::Safe, &url, None)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        if reply.status == 403 && has_error_code(&reply, IP_RESTRICTED) {
            let said = secret.redact(&reply.excerpt());
            return Verification::CannotCheck {
                reason: format!(
                    "Cloudflare refuses the token from this machine's address (error \
                     {IP_RESTRICTED}, client IP filtering): it cannot be checked from here; \
                     check it from an allowed address. Cloudflare said: {said}"
                ),
            };
        }
        if matches!(reply.status, 400 | 401 | 403) {
            let said = secret.redact(&reply.excerpt());
            return Verification::Invalid {
                reason: format!(
                    "Cloudflare refused the token (HTTP {}): {said}",
                    reply.status
                ),
            };
        }
        let verified: Verified = match self.result(&conn, reply) {
            Ok(v) => v,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        if let Some(expected) = remote_id.filter(|id| *id != verified.id) {
            return Verification::Invalid {
                reason: format!(
                    "the secret belongs to token `{}`, not `{expected}`",
                    verified.id
                ),
            };
        }
        match verified.status.as_str() {
            "active" => Verification::Valid,
            status => Verification::Invalid {
                reason: format!("Cloudflare says the token is {status}"),
            },
        }
    }

    async fn deactivate(&self, target: &Target, remote_id: &str) -> Result<(), ProviderError> {
        let conn = self.conn(target)?;
        let token = self.existing_token(&conn, remote_id).await?;
        let payload = UpdatePayload {
            id: &token.id,
            name: &token.name,
            status: "disabled",
            policies: &token.policies,
            condition: token.condition.as_ref(),
            expires_on: token.expires_on.map(rfc3339),
            not_before: token.not_before.map(rfc3339),
        };
        let body =
            serde_json::to_value(&payload).map_err(|e| bad_response(target, e.to_string()))?;
        let url = conn.tokens(&[remote_id]);
        let reply = self
            .call(&conn, reqwest::Method::PUT, Repeat::Safe, &url, Some(&body))
            .await?;
        self.result::<Value>(&conn, reply).map(drop)
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        let conn = self.conn(target)?;
        self.delete_token(&conn, remote_id).await
    }

    /// The tokens of the connection's owner (its `params.account_id`'s account, else the
    /// management token's user), every page.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        let owner = match TokenOwner::of(&target) {
            TokenOwner::User => "the connection's user".to_string(),
            TokenOwner::Account(id) => format!("account {id}"),
        };
        Ok(self
            .list(&target)
            .await?
            .into_iter()
            .map(|k| FoundKey::new(k).owned_by(owner.clone()))
            .collect())
    }

    /// Verifies the management token at its owner's `/verify`, reads its own policies (an
    /// `API Tokens Write` group lets it create and revoke tokens) and lists one page of
    /// tokens. A token refused from this address (error 9109) cannot be checked from here.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let conn = match self.conn(&target) {
            Ok(conn) => conn,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        report.fact(
            "token owner",
            match &conn.owner {
                TokenOwner::User => conn.owner.as_str().to_string(),
                TokenOwner::Account(id) => format!("{} {id}", conn.owner.as_str()),
            },
        );
        let verify = conn.tokens(&["verify"]);
        let call = format!("GET {}", verify.path());
        let reply = match self
            .call(&conn, reqwest::Method::GET, Repeat::Safe, &verify, None)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                report.failed(call, &e);
                return report;
            }
        };
        if reply.status == 403 && has_error_code(&reply, IP_RESTRICTED) {
            report.probes.push(Probe {
                call,
                outcome: ProbeOutcome::NotChecked,
                detail: format!(
                    "error {IP_RESTRICTED}: the token's IP filter excludes this address"
                ),
            });
            report.note = Some(
                "Cloudflare refuses this token from this machine's address: check it from an \
                 address its IP filter allows"
                    .into(),
            );
            return report;
        }
        let own: Verified = match self.result(&conn, reply) {
            Ok(v) => v,
            Err(e) => {
                report.failed(call, &e);
                return report;
            }
        };
        report.allowed(call);
        report.fact("token status", own.status.clone());
        let own_url = conn.tokens(&[&own.id]);
        let call = format!("GET {}", own_url.path());
        match self.get_token(&conn, &own.id).await {
            Ok(Some(token)) => {
                report.allowed(call);
                let groups: Vec<&str> = token
                    .policies
                    .iter()
                    .filter(|p| p.effect == "allow")
                    .flat_map(|p| p.permission_groups.iter())
                    .filter_map(|g| g.name.as_deref())
                    .collect();
                let write = groups.iter().any(|g| g.contains("API Tokens Write"));
                report.can_create = Ability::from_bool(write);
                report.can_revoke = Ability::from_bool(write);
            }
            Ok(None) => report.probes.push(Probe {
                call,
                outcome: ProbeOutcome::Failed,
                detail: "Cloudflare does not know the token it just verified".into(),
            }),
            Err(e) => report.failed(call, &e),
        }
        let mut list = conn.tokens(&[]);
        list.query_pairs_mut().append_pair("per_page", "5");
        let call = format!("GET {}", list.path());
        let listed = self
            .call(&conn, reqwest::Method::GET, Repeat::Safe, &list, None)
            .await
            .and_then(|reply| self.result::<Vec<Value>>(&conn, reply));
        report.answered(call, &listed);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(effect: &str, group: &str, resources: Value) -> TokenPolicy {
        serde_json::from_value(serde_json::json!({
            "id": "p1",
            "effect": effect,
            "permission_groups": [{ "id": "g1", "name": group }],
            "resources": resources,
        }))
        .unwrap()
    }

    #[test]
    fn write_on_every_account_or_zone_is_a_risk() {
        let all_accounts = policy(
            "allow",
            "Workers Scripts Write",
            serde_json::json!({"com.cloudflare.api.account.*": "*"}),
        );
        assert_eq!(
            risks_of(&[all_accounts]),
            ["grants `Workers Scripts Write` on every account"]
        );
        let all_zones = policy(
            "allow",
            "DNS Write",
            serde_json::json!({"com.cloudflare.api.account.zone.*": "*"}),
        );
        assert_eq!(risks_of(&[all_zones]), ["grants `DNS Write` on every zone"]);
        let zones_of_one = policy(
            "allow",
            "DNS Write",
            serde_json::json!({"com.cloudflare.api.account.abc": {"com.cloudflare.api.account.zone.*": "*"}}),
        );
        assert_eq!(
            risks_of(&[zones_of_one]),
            ["grants `DNS Write` on every zone of `com.cloudflare.api.account.abc`"]
        );
    }

    #[test]
    fn read_or_narrow_or_denied_grants_are_not_risks() {
        let read = policy(
            "allow",
            "Zone Read",
            serde_json::json!({"com.cloudflare.api.account.zone.*": "*"}),
        );
        let one_zone = policy(
            "allow",
            "DNS Write",
            serde_json::json!({"com.cloudflare.api.account.zone.eb78": "*"}),
        );
        let denied = policy(
            "deny",
            "DNS Write",
            serde_json::json!({"com.cloudflare.api.account.*": "*"}),
        );
        assert!(risks_of(&[read, one_zone, denied.clone()]).is_empty());
        assert_eq!(scopes_of(&[denied]), ["deny: DNS Write"]);
    }

    #[test]
    fn rotated_name_replaces_an_earlier_mark_and_fits_the_limit() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let once = rotated_name("ci deploy", now);
        assert_eq!(once, "ci deploy (rotated 2025-03-01 10:00:00 UTC)");
        assert_eq!(rotated_name(&once, now), once);
        let long = rotated_name(&"x".repeat(200), now);
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        assert!(long.ends_with("(rotated 2025-03-01 10:00:00 UTC)"));
    }

    #[test]
    fn twin_keeps_the_old_lifetime_from_now() {
        let token: Token = serde_json::from_value(serde_json::json!({
            "id": "t", "name": "n", "status": "active", "policies": [],
            "issued_on": "2025-01-01T00:00:00Z", "expires_on": "2025-01-31T00:00:00Z",
        }))
        .unwrap();
        let target = Target {
            at: "acme/cf".parse().unwrap(),
            credential: crate::inventory::Credential::new("cf", ProviderKind::Cloudflare),
            connection: None,
        };
        let now = DateTime::parse_from_rfc3339("2025-01-29T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            twin_expiry(&token, &target, now),
            Some(now + Duration::days(30))
        );
        let never = Token {
            expires_on: None,
            ..token.clone()
        };
        assert_eq!(twin_expiry(&never, &target, now), None);
        let undated = Token {
            issued_on: None,
            ..token
        };
        assert_eq!(
            twin_expiry(&undated, &target, now),
            Some(now + Duration::days(90))
        );
    }
}
