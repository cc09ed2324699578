//! The token endpoint's answers and the calls keyward makes around a token: reading a
//! token answer (RFC 6749 §5.1) and an error answer (§5.2), introspection (RFC 7662) and
//! revocation (RFC 7009).
//!
//! Answers are decoded into [`Secret`]s directly, and decode errors never quote the body:
//! a token value cannot reach an error message this way.

use chrono::{DateTime, Duration as Span, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::server::ClientAuth;
use crate::inventory::CredentialRef;
use crate::providers::error::{ErrorKind, ProviderError};
use crate::providers::http::{redact_tokens, Api, Call, Repeat, Reply};
use crate::secret::Secret;

/// What a token endpoint issued.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access_token: Secret,
    /// Its type, usually `Bearer`.
    pub token_type: String,
    /// When the access token expires, if the server said.
    pub expires_at: Option<DateTime<Utc>>,
    /// The refresh token, if one was issued (often only with scope `offline_access`).
    pub refresh_token: Option<Secret>,
    /// When the refresh token expires, where the server says (`refresh_expires_in` or
    /// `refresh_token_expires_in`, both non-standard).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// The granted scopes, if the server listed them.
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<Secret>,
    token_type: Option<String>,
    expires_in: Option<Value>,
    refresh_token: Option<Secret>,
    refresh_expires_in: Option<Value>,
    refresh_token_expires_in: Option<Value>,
    scope: Option<String>,
}

/// Decodes `reply` as `T`, naming only `what` on failure: never a value from the body.
pub(crate) fn decode<T: DeserializeOwned>(reply: &Reply, what: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        let why = if e.is_eof() {
            "was cut off"
        } else if e.is_syntax() {
            "is not JSON"
        } else {
            "does not have the fields the standard requires"
        };
        reply.bad_response(format!("the {what} {why}"))
    })
}

/// Seconds from a JSON number or numeric string (some servers quote them).
pub(crate) fn seconds(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn after(now: DateTime<Utc>, v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v
        .and_then(seconds)
        .filter(|s| *s > 0 && *s < 100 * 365 * 86_400)?;
    Some(now + Span::seconds(s))
}

/// Splits an OAuth `scope` string.
pub(crate) fn split_scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// What a refresh returned, as keyward keeps it: the access token itself is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Refreshed {
    /// The new refresh token, `None` when the server does not rotate.
    pub refresh_token: Option<Secret>,
    /// When the (dropped) access token expires.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires, where the server says.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// The granted scopes, if listed.
    pub scopes: Vec<String>,
}

/// Reads a successful token answer; `access_token` is required (RFC 6749 §5.1).
pub(crate) fn parse_tokens(reply: &Reply, now: DateTime<Utc>) -> Result<Tokens, ProviderError> {
    let (access_token, refreshed, token_type) = read(reply, now)?;
    let access_token =
        access_token.ok_or_else(|| reply.bad_response("the token answer has no `access_token`"))?;
    Ok(Tokens {
        access_token,
        token_type,
        expires_at: refreshed.access_expires_at,
        refresh_token: refreshed.refresh_token,
        refresh_expires_at: refreshed.refresh_expires_at,
        scopes: refreshed.scopes,
    })
}

/// Reads a successful refresh answer. A new refresh token is kept even from an answer that
/// lacks the required `access_token`: the server consumed the old token, so refusing the
/// answer would lose the grant. An answer with neither token is an error.
pub(crate) fn parse_refresh(reply: &Reply, now: DateTime<Utc>) -> Result<Refreshed, ProviderError> {
    match read(reply, now)? {
        (None, r, _) if r.refresh_token.is_none() => {
            Err(reply.bad_response("the token answer has no `access_token`"))
        }
        (_, r, _) => Ok(r),
    }
}

fn read(
    reply: &Reply,
    now: DateTime<Utc>,
) -> Result<(Option<Secret>, Refreshed, String), ProviderError> {
    let answer: TokenAnswer = decode(reply, "token answer")?;
    let present = |t: Option<Secret>| t.filter(|t| !t.expose_secret().is_empty());
    let refreshed = Refreshed {
        refresh_token: present(answer.refresh_token),
        access_expires_at: after(now, answer.expires_in.as_ref()),
        refresh_expires_at: after(
            now,
            answer
                .refresh_expires_in
                .as_ref()
                .or(answer.refresh_token_expires_in.as_ref()),
        ),
        scopes: split_scopes(answer.scope.as_deref()),
    };
    let token_type = answer.token_type.unwrap_or_else(|| "Bearer".to_string());
    Ok((present(answer.access_token), refreshed, token_type))
}

/// An RFC 6749 §5.2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    /// The `error` code, e.g. `invalid_grant`.
    pub code: String,
    /// `error_description`, redacted and shortened.
    pub description: Option<String>,
}

impl OAuthError {
    /// The error in `reply`, if it is a 4xx with an `error` code, or a 2xx saying
    /// `ok: false` (Slack's way, see [`ok_false`]).
    pub(crate) fn of(reply: &Reply) -> Option<OAuthError> {
        if !(400..500).contains(&reply.status) && !ok_false(reply) {
            return None;
        }
        let v: Value = serde_json::from_slice(&reply.body).ok()?;
        let code = v.get("error")?.as_str()?;
        // Codes are ASCII words by RFC 6749 §5.2; anything else is not one to act on.
        if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let description = v
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| redact_tokens(&d.chars().take(200).collect::<String>()))
            .filter(|d| !d.trim().is_empty());
        Some(OAuthError {
            code: code.to_string(),
            description,
        })
    }

    /// `code: description` for messages.
    pub(crate) fn said(&self) -> String {
        match &self.description {
            Some(d) => format!("{}: {d}", self.code),
            None => self.code.clone(),
        }
    }
}

/// A token-endpoint refusal that needs no special reading: `invalid_client` says keyward's
/// client credentials were refused, anything else is passed on with the server's words.
/// Whether a 2xx answer is an error in disguise: Slack answers every Web API call, its OAuth
/// methods included, with HTTP 200 and `{"ok": false, "error": "..."}` on failure
/// (https://docs.slack.dev/apis/web-api/#responses), so a 200 is a success only when `ok`
/// is not `false`.
pub(crate) fn ok_false(reply: &Reply) -> bool {
    (200..300).contains(&reply.status)
        && serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("ok").and_then(Value::as_bool))
            == Some(false)
}

pub(crate) fn refusal(reply: Reply, client_of: &str) -> ProviderError {
    match OAuthError::of(&reply) {
        Some(e) if e.code == "invalid_client" => refused(
            &reply,
            ErrorKind::Unauthorized,
            format!(
                "the server refused the client credentials of {client_of} ({})",
                e.said()
            ),
        ),
        Some(e) => refused(
            &reply,
            ErrorKind::Http,
            format!("the server refused the request ({})", e.said()),
        ),
        None if ok_false(&reply) => refused(
            &reply,
            ErrorKind::Http,
            "the server refused the request (`ok: false` without an error code)".into(),
        ),
        None => reply.into_error(),
    }
}

/// An error of `kind` about `reply`, with its request and status.
pub(crate) fn refused(reply: &Reply, kind: ErrorKind, message: String) -> ProviderError {
    ProviderError {
        kind,
        ..reply.bad_response(message)
    }
}

/// What introspection says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Introspection {
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
struct IntrospectionAnswer {
    active: Option<bool>,
    exp: Option<Value>,
    iat: Option<Value>,
    scope: Option<String>,
    client_id: Option<String>,
}

/// RFC 7662: asks the server about `token`, a refresh token.
pub(crate) async fn introspect(
    api: &Api,
    url: &Url,
    client: &ClientAuth,
    token: &Secret,
    at: Option<&CredentialRef>,
    client_of: &str,
) -> Result<Introspection, ProviderError> {
    let call = Call::new(at, "POST", url.path(), Repeat::Safe);
    let reply = api
        .send(&call, |c| {
            client.post(
                c,
                url,
                &[
                    ("token", token.expose_secret()),
                    ("token_type_hint", "refresh_token"),
                ],
            )
        })
        .await?;
    if !(200..300).contains(&reply.status) {
        return Err(refusal(reply, client_of));
    }
    let answer: IntrospectionAnswer = decode(&reply, "introspection answer")?;
    let active = answer
        .active
        .ok_or_else(|| reply.bad_response("the introspection answer has no `active`"))?;
    let date = |v: Option<&Value>| {
        v.and_then(seconds)
            .and_then(|s| DateTime::from_timestamp(s, 0))
    };
    Ok(Introspection {
        active,
        expires_at: date(answer.exp.as_ref()),
        issued_at: date(answer.iat.as_ref()),
        scopes: split_scopes(answer.scope.as_deref()),
        client_id: answer.client_id,
    })
}

/// RFC 7009: revokes `token`, a refresh token. The server answers 200 for a token it does
/// not know, so revoking twice succeeds.
pub(crate) async fn revoke(
    api: &Api,
    url: &Url,
    client: &ClientAuth,
    token: &Secret,
    at: Option<&CredentialRef>,
    client_of: &str,
) -> Result<(), ProviderError> {
    let call = Call::new(at, "POST", url.path(), Repeat::Safe);
    let reply = api
        .send(&call, |c| {
            client.post(
                c,
                url,
                &[
                    ("token", token.expose_secret()),
                    ("token_type_hint", "refresh_token"),
                ],
            )
        })
        .await?;
    if (200..300).contains(&reply.status) && !ok_false(&reply) {
        Ok(())
    } else {
        Err(refusal(reply, client_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_reads_numbers_and_numeric_strings_only() {
        assert_eq!(seconds(&serde_json::json!(3600)), Some(3600));
        assert_eq!(seconds(&serde_json::json!(3600.7)), Some(3600));
        assert_eq!(seconds(&serde_json::json!("120")), Some(120));
        assert_eq!(seconds(&serde_json::json!("soon")), None);
        assert_eq!(seconds(&serde_json::json!(null)), None);
    }

    #[test]
    fn split_scopes_splits_on_any_whitespace() {
        assert_eq!(
            split_scopes(Some("openid  offline_access\tapi:read")),
            ["openid", "offline_access", "api:read"]
        );
        assert!(split_scopes(None).is_empty());
    }
}
