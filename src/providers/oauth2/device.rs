//! The device authorization grant (RFC 8628): how a person connects keyward to an OAuth
//! server from a terminal, even over SSH. keyward shows a URL and a short code, the person
//! approves on any browser, and keyward polls the token endpoint until the server answers.
//!
//! [`device_connect`] runs the whole flow; [`device_start`] and [`DeviceAuthorization::poll`]
//! are its steps, for callers that drive the polling themselves.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::server::{self, AuthMethod, ClientAuth, DiscoveryCache, Endpoints};
use super::token::{decode, parse_tokens, refusal, refused, seconds, OAuthError, Tokens};
use crate::inventory::{Connection, ProviderKind};
use crate::providers::error::{ErrorKind, ProviderError};
use crate::providers::http::{Api, Call, Http, Repeat};
use crate::secret::Secret;

/// The grant type of the device flow's token requests.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the poll interval when the server names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: how much longer to wait after each `slow_down`.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest interval or lifetime keyward accepts from a server (sanity bound).
const LONGEST: u64 = 24 * 3600;

/// What the person must do to approve: open `verification_uri` and type `user_code`, or
/// open `verification_uri_complete`, which carries the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePrompt {
    /// Where to go.
    pub verification_uri: String,
    /// The same page with the code filled in, where the server offers one.
    pub verification_uri_complete: Option<String>,
    /// The code to enter there.
    pub user_code: String,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

/// What one poll of the token endpoint found.
#[derive(Debug)]
pub enum DevicePoll {
    /// Nobody has approved yet.
    Pending,
    /// The server asked keyward to poll less often; the interval grew by 5 seconds.
    SlowDown,
    /// Approved: the tokens.
    Done(Tokens),
    /// The person declined (`access_denied`). Final: start again for a new code.
    Denied,
    /// The code expired before anyone approved it (`expired_token`, or its lifetime ran
    /// out). Final: start again for a new code.
    Expired,
}

/// A started device authorization, polled until it is approved, denied or expires.
pub struct DeviceAuthorization {
    api: Api,
    token_endpoint: url::Url,
    client: ClientAuth,
    connection: String,
    prompt: DevicePrompt,
    device_code: Secret,
    interval: Duration,
    deadline: Instant,
}

#[derive(Deserialize)]
struct Answer {
    device_code: Option<Secret>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    // Google and some early drafts spell it this way.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<Value>,
    interval: Option<Value>,
}

/// Starts the device flow on `connection`'s server for `scopes` (ask for `offline_access`
/// where the server wants it, or no refresh token comes back).
pub async fn device_start(
    connection: &Connection,
    scopes: &[String],
    http: &Http,
) -> Result<DeviceAuthorization, ProviderError> {
    let api = http.api(ProviderKind::Oauth2);
    let endpoints: std::sync::Arc<Endpoints> =
        server::endpoints(&api, &DiscoveryCache::default(), connection, None).await?;
    let url = endpoints.device_authorization.clone().ok_or_else(|| {
        ProviderError::config(
            ProviderKind::Oauth2,
            None,
            format!(
                "the server of connection `{}` offers no device authorization endpoint; set \
                 `params.device_authorization_endpoint` if it has one",
                connection.id
            ),
        )
    })?;
    let method = AuthMethod::parse(
        connection
            .params
            .get("token_endpoint_auth_method")
            .map(String::as_str),
        None,
    )?;
    let client = ClientAuth::of_connection(connection, method, None)?;
    let client_of = format!("connection `{}`", connection.id);
    let scope = scopes.join(" ");
    let call = Call::new(None, "POST", url.path(), Repeat::Safe);
    let reply = api
        .send(&call, |c| {
            // Without scopes, a Basic-authenticated request would have an empty body, which
            // servers that read the form only when there is one refuse (oidc-provider does).
            // `client_id` is allowed here (RFC 8628 §3.1) and names the header's client.
            let params: &[(&str, &str)] = if !scope.is_empty() {
                &[("scope", &scope)]
            } else if client.method == AuthMethod::Basic {
                &[("client_id", &client.id)]
            } else {
                &[]
            };
            client.post(c, &url, params)
        })
        .await?;
    if !(200..300).contains(&reply.status) {
        return Err(refusal(reply, &client_of));
    }
    let answer: Answer = decode(&reply, "device authorization answer")?;
    let missing = |field: &str| {
        reply.bad_response(format!("the device authorization answer has no `{field}`"))
    };
    let device_code = answer
        .device_code
        .filter(|c| !c.expose_secret().is_empty())
        .ok_or_else(|| missing("device_code"))?;
    let user_code = answer
        .user_code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| missing("user_code"))?;
    let verification_uri = answer
        .verification_uri
        .or(answer.verification_url)
        .ok_or_else(|| missing("verification_uri"))?;
    let expires_in = answer
        .expires_in
        .as_ref()
        .and_then(seconds)
        .filter(|s| *s > 0)
        .ok_or_else(|| missing("expires_in"))?;
    let expires_in = Duration::from_secs((expires_in as u64).min(LONGEST));
    let interval = answer
        .interval
        .as_ref()
        .and_then(seconds)
        .filter(|s| *s >= 0)
        .map_or(DEFAULT_INTERVAL, |s| {
            Duration::from_secs((s as u64).min(LONGEST))
        });
    Ok(DeviceAuthorization {
        api,
        token_endpoint: endpoints.token.clone(),
        client,
        connection: connection.id.clone(),
        prompt: DevicePrompt {
            verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            user_code,
            expires_in,
        },
        device_code,
        interval,
        deadline: Instant::now() + expires_in,
    })
}

impl DeviceAuthorization {
    /// What to show the person.
    pub fn prompt(&self) -> &DevicePrompt {
        &self.prompt
    }

    /// How long to wait before the next poll.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Asks the token endpoint once whether the person approved. Stop after
    /// [`DevicePoll::Done`]: a server may treat another poll with the spent code as a
    /// replay and revoke the grant just issued (oidc-provider does). [`DevicePoll::Denied`]
    /// and [`DevicePoll::Expired`] are final too; errors are everything else (a refused
    /// client, a spent code, no answer).
    pub async fn poll(&mut self) -> Result<DevicePoll, ProviderError> {
        self.poll_once().await.map_err(|e| ProviderError {
            // A server may echo what it was sent; short values escape generic redaction.
            message: [Some(&self.device_code), self.client.secret.as_ref()]
                .into_iter()
                .flatten()
                .fold(e.message.clone(), |m, s| s.redact(&m)),
            ..e
        })
    }

    async fn poll_once(&mut self) -> Result<DevicePoll, ProviderError> {
        if Instant::now() >= self.deadline {
            return Ok(DevicePoll::Expired);
        }
        // An ordinary, retried call: a repeat after a lost success is refused as a replay,
        // and the server then revokes the grant nobody received rather than leave it live.
        let call = Call::new(None, "POST", self.token_endpoint.path(), Repeat::Safe);
        let (url, client, code) = (&self.token_endpoint, &self.client, &self.device_code);
        let reply = self
            .api
            .send(&call, |c| {
                client.post(
                    c,
                    url,
                    &[
                        ("grant_type", DEVICE_GRANT),
                        ("device_code", code.expose_secret()),
                    ],
                )
            })
            .await?;
        if (200..300).contains(&reply.status) {
            return parse_tokens(&reply, chrono::Utc::now()).map(DevicePoll::Done);
        }
        let refused_as = |message: String| refused(&reply, ErrorKind::Unauthorized, message);
        match OAuthError::of(&reply).map(|e| e.code) {
            Some(code) if code == "authorization_pending" => Ok(DevicePoll::Pending),
            Some(code) if code == "slow_down" => {
                self.interval = (self.interval + SLOW_DOWN_STEP).min(Duration::from_secs(LONGEST));
                Ok(DevicePoll::SlowDown)
            }
            Some(code) if code == "expired_token" => Ok(DevicePoll::Expired),
            Some(code) if code == "access_denied" => Ok(DevicePoll::Denied),
            Some(code) if code == "invalid_grant" => Err(refused_as(
                "the server refused the device code (invalid_grant): it was already used or \
                 revoked; start again to get a new code"
                    .into(),
            )),
            _ => Err(refusal(reply, &format!("connection `{}`", self.connection))),
        }
    }
}

/// Runs the device flow on `connection`'s server: starts it, hands the prompt to
/// `on_prompt` once, then polls at the server's interval (growing on `slow_down`) until the
/// person approves (the tokens), declines or lets the code expire (errors of kind
/// [`ErrorKind::Unauthorized`]; drive [`device_start`] yourself to tell them apart).
///
/// The result holds the refresh token the inventory should keep as the credential's secret
/// (see [`super::fingerprint`] for its `remote_id`); it is `None` when the server issued
/// none (ask for `offline_access`). The credential then rolls in place: each refresh
/// returns a new refresh token and the old one dies.
pub async fn device_connect(
    connection: &Connection,
    scopes: &[String],
    http: &Http,
    on_prompt: impl Fn(&DevicePrompt),
) -> Result<Tokens, ProviderError> {
    let mut flow = device_start(connection, scopes, http).await?;
    on_prompt(flow.prompt());
    loop {
        tokio::time::sleep(flow.interval()).await;
        match flow.poll().await? {
            DevicePoll::Pending | DevicePoll::SlowDown => continue,
            DevicePoll::Done(tokens) => return Ok(tokens),
            DevicePoll::Denied => {
                return Err(ended("the person declined the authorization request"))
            }
            DevicePoll::Expired => {
                return Err(ended(
                    "the code expired before it was approved; start again to get a new code",
                ))
            }
        }
    }
}

/// A device flow that ended without tokens.
fn ended(message: &str) -> ProviderError {
    ProviderError::new(ProviderKind::Oauth2, None, ErrorKind::Unauthorized, message)
}
