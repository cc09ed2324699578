//! The `oauth2` provider: credentials issued by any standard OAuth 2.0 / OpenID Connect
//! authorization server, managed through its standard endpoints (discovery RFC 8414,
//! token RFC 6749, revocation RFC 7009, introspection RFC 7662, device flow RFC 8628).
//!
//! A credential is one of two things, chosen by its `params.grant`:
//!
//! * `refresh_token` (the default): the secret is a refresh token, connected with
//!   [`device_connect`] (or pasted). It **rolls in place**: `roll` runs the refresh grant,
//!   and a server that rotates refresh tokens (OAuth 2.1 requires it for public clients)
//!   answers with a new one. What becomes of the old one depends on the issuer (killed at
//!   once, after a grace period, never, or not rotated at all: [`issuer`]); after the new
//!   one is verified the rotation revokes an old one that outlives it, where it can. `verify` and `inspect` use
//!   introspection, which never consumes the token; `delete` revokes it. Its `remote_id` is
//!   [`fingerprint`] of the token, since refresh tokens have no public id.
//! * `client_credentials`: the secret is a client secret of the client `remote_id` (or
//!   `params.client_id`). `verify` runs the client-credentials grant with it. There is no
//!   standard API to rotate or revoke a client secret, so it rotates **manually** in the
//!   server's console; [`Provider::capabilities_for`] says so.
//!
//! The connection names the server (`endpoint` = the issuer) and keyward's own client
//! (`auth.client_id`, `auth.client_secret`, `params.token_endpoint_auth_method`), used for
//! the refresh grant, introspection and revocation.
//!
//! The access token a refresh returns is not stored: it is short-lived (minutes to an
//! hour), the consumers mint their own from the refresh token, and a stored copy would be a
//! second live secret that is stale within the hour. It is dropped (and zeroized) as soon as
//! the answer is read; only its expiry goes into `params.access_token_expires_at`. keyward
//! does not revoke it either: RFC 7009 lets a server revoke the refresh token along with an
//! access token, which would kill the refresh token just issued.
//!
//! An introspection answer `active: false` covers revoked, expired, replaced and unknown
//! tokens alike (RFC 7662 §2.2 forbids saying which), and such a token can never become
//! active again: `inspect` answers `None` (the inventory flags it missing), not `Inactive`,
//! which means "deactivated, could be re-enabled".

mod check;
mod device;
pub mod issuer;
mod server;
// The Okta provider reads token-endpoint refusals the same way.
pub(crate) mod token;

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest, Sha256};

use self::server::{AuthMethod, ClientAuth, DiscoveryCache, Endpoints};
use self::token::{
    introspect, ok_false, parse_refresh, parse_tokens, refusal, refused, revoke, Introspection,
    OAuthError, Refreshed,
};
use super::error::{ErrorKind, ProviderError};
use super::http::{Api, Call, Http, Repeat};
use super::{
    Capabilities, Deletion, IssuedKey, OldAfterRoll, Provider, RemoteKey, Revocation,
    RollAftermath, RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

pub use device::{device_connect, device_start, DeviceAuthorization, DevicePoll, DevicePrompt};
pub use token::Tokens;

const KIND: ProviderKind = ProviderKind::Oauth2;

/// Refresh attempts when the answer is lost or a 5xx: each repeat comes only after
/// introspection showed the old token still active (so the server did not rotate it).
const REFRESH_ATTEMPTS: u32 = 3;

/// The `remote_id` of a refresh-token credential: `rt:` and the first 16 hex digits of the
/// token's SHA-256. It tells two tokens apart without revealing either.
pub fn fingerprint(token: &Secret) -> String {
    let digest = Sha256::digest(token.expose_secret().as_bytes());
    format!("rt:{}", &hex::encode(digest)[..16])
}

/// What a credential holds, from its `params.grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    RefreshToken,
    ClientCredentials,
}

fn grant_of(target: &Target) -> Result<Grant, ProviderError> {
    match target.credential.params.get("grant").map(String::as_str) {
        None | Some("refresh_token") => Ok(Grant::RefreshToken),
        Some("client_credentials") => Ok(Grant::ClientCredentials),
        Some(other) => Err(ProviderError::config(
            KIND,
            Some(&target.at),
            format!("`params.grant` is `{other}`; expected refresh_token or client_credentials"),
        )),
    }
}

/// A credential's view of its server: endpoints, client authentication, whose client.
struct Server {
    endpoints: std::sync::Arc<Endpoints>,
    method: AuthMethod,
    client_of: String,
}

/// The `oauth2` provider. Discovered endpoints are cached per connection for its lifetime.
pub struct OAuth2 {
    api: Api,
    discovery: DiscoveryCache,
}

impl OAuth2 {
    /// The provider, sharing `http`'s pool and limits.
    pub fn new(http: &Http) -> Self {
        OAuth2 {
            api: http.api(KIND),
            discovery: DiscoveryCache::default(),
        }
    }

    fn connection<'t>(&self, target: &'t Target) -> Result<&'t Connection, ProviderError> {
        target.connection.as_ref().ok_or_else(|| {
            ProviderError::config(
                KIND,
                Some(&target.at),
                "needs a `connection` naming the OAuth server",
            )
        })
    }

    /// The server's endpoints and how to authenticate; no client credentials needed yet.
    async fn server(&self, target: &Target) -> Result<Server, ProviderError> {
        let conn = self.connection(target)?;
        let at = Some(&target.at);
        let method = AuthMethod::parse(
            target
                .credential
                .params
                .get("token_endpoint_auth_method")
                .or_else(|| conn.params.get("token_endpoint_auth_method"))
                .map(String::as_str),
            at,
        )?;
        let endpoints = server::endpoints(&self.api, &self.discovery, conn, at).await?;
        Ok(Server {
            endpoints,
            method,
            client_of: format!("connection `{}`", conn.id),
        })
    }

    /// The connection's own client, which refreshes, introspects and revokes.
    fn client(&self, target: &Target, server: &Server) -> Result<ClientAuth, ProviderError> {
        ClientAuth::of_connection(self.connection(target)?, server.method, Some(&target.at))
    }

    fn refresh_token<'t>(&self, target: &'t Target) -> Result<&'t Secret, ProviderError> {
        target.credential.secret.as_ref().ok_or_else(|| {
            ProviderError::config(
                KIND,
                Some(&target.at),
                "holds no refresh token; connect it with the device flow (`keyward connect`)",
            )
        })
    }

    /// Introspects `token`; `Ok(None)` when the server has no introspection endpoint.
    async fn introspect(
        &self,
        target: &Target,
        server: &Server,
        token: &Secret,
    ) -> Result<Option<Introspection>, ProviderError> {
        let Some(url) = &server.endpoints.introspection else {
            return Ok(None);
        };
        let client = self.client(target, server)?;
        introspect(
            &self.api,
            url,
            &client,
            token,
            Some(&target.at),
            &server.client_of,
        )
        .await
        .map(Some)
    }

    /// The refresh grant with rotation.
    ///
    /// Invariant 1 of the rotation engine is what makes this safe: the new refresh token in
    /// the returned [`IssuedKey`] is the only live one once this returns (the server
    /// consumed the old one), so the engine must write it to the encrypted file before any
    /// other step, deploy included. A crash between this call and that save loses the grant:
    /// the old token is dead and presenting it again is a *replay*, on which a
    /// reuse-detecting server (oidc-provider, Auth0, Okta) revokes the whole grant, the new
    /// token included. The engine journals the roll before calling `roll`, and on resume
    /// with no saved new token it first inspects the old token (introspection): one the
    /// server no longer shows active is never presented again, and the person is told to
    /// reconnect. Without introspection it calls `roll` again; if the server had rotated,
    /// that is the replay: it shows up as `invalid_grant`, mapped to
    /// [`ErrorKind::Unauthorized`] with a message saying to reconnect with the device flow,
    /// and the engine keeps the journal; if it had not, rolling again is safe.
    ///
    /// For the same reason the request is never repeated blindly: a lost or unreadable
    /// answer or a 5xx may have followed a rotation, so before each repeat introspection
    /// must show the old token still active.
    async fn refresh(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let old = self.refresh_token(target)?;
        let server = self.server(target).await?;
        let client = self.client(target, &server)?;
        let url = &server.endpoints.token;
        let call = Call::new(Some(&target.at), "POST", url.path(), Repeat::Never);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .api
                .send(&call, |c| {
                    client.post(
                        c,
                        url,
                        &[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", old.expose_secret()),
                        ],
                    )
                })
                .await;
            let unsure = match outcome {
                // Slack's refusals come as 200 with `ok: false`: the old token stands.
                Ok(reply) if ok_false(&reply) => {
                    return Err(refresh_refused(reply, target, &server.client_of))
                }
                Ok(reply) if (200..300).contains(&reply.status) => {
                    let now = Utc::now();
                    match parse_refresh(&reply, now) {
                        Ok(refreshed) => return Ok(issued(refreshed, old, target, now)),
                        // Processed, but what did it say? The probe below tells.
                        Err(e) => e,
                    }
                }
                Ok(reply) if reply.status >= 500 => reply.into_error(),
                Ok(reply) => return Err(refresh_refused(reply, target, &server.client_of)),
                Err(e) if e.kind == ErrorKind::Transport => e,
                // Rate limited or refused before the server acted: the old token stands.
                Err(e) => return Err(e),
            };
            let probe = self.introspect(target, &server, old).await;
            match probe {
                Ok(Some(i)) if i.active && attempt < REFRESH_ATTEMPTS => {
                    tokio::time::sleep(self.api.backoff(attempt)).await;
                }
                Ok(Some(i)) if i.active => {
                    return Err(ProviderError {
                        message: format!(
                            "{}; the refresh token was not rotated and still works, try again later",
                            unsure.message
                        ),
                        ..unsure
                    })
                }
                Ok(Some(_)) => {
                    return Err(ProviderError {
                        kind: ErrorKind::Unauthorized,
                        message: format!(
                            "{}; the server consumed the refresh token but keyward did not get the \
                             new one, so the grant is gone: reconnect with `keyward connect {} --connection {}`",
                            unsure.message,
                            target.at,
                            target.credential.connection.as_deref().unwrap_or("ID"),
                        ),
                        ..unsure
                    })
                }
                Ok(None) | Err(_) => {
                    return Err(ProviderError {
                        message: format!(
                            "{}; the server may have rotated the refresh token without keyward \
                             seeing the new one: run `keyward verify {}` before trying again",
                            unsure.message, target.at
                        ),
                        ..unsure
                    })
                }
            }
        }
    }

    /// The client-credentials grant with the credential's client secret `secret`.
    async fn client_credentials(&self, target: &Target, secret: &Secret) -> Verification {
        let attempt = async {
            let id = target
                .credential
                .remote_id
                .as_deref()
                .or_else(|| target.credential.params.get("client_id").map(String::as_str))
                .ok_or_else(|| {
                    ProviderError::config(
                        KIND,
                        Some(&target.at),
                        "a client_credentials credential needs `remote_id` (or `params.client_id`): the client id",
                    )
                })?;
            let server = self.server(target).await?;
            let client = ClientAuth {
                id: id.to_string(),
                secret: Some(secret.clone()),
                // A client with a secret is confidential, whatever the connection's is.
                method: match server.method {
                    AuthMethod::None => AuthMethod::Basic,
                    m => m,
                },
            };
            let url = &server.endpoints.token;
            let call = Call::new(Some(&target.at), "POST", url.path(), Repeat::Safe);
            let reply = self
                .api
                .send(&call, |c| {
                    client.post(c, url, &[("grant_type", "client_credentials")])
                })
                .await?;
            Ok::<_, ProviderError>(reply)
        };
        let reply = match attempt.await {
            Ok(reply) => reply,
            Err(e) => return could_not_check(e),
        };
        if (200..300).contains(&reply.status) {
            // The access token proves the secret works; it is dropped (zeroized) unused.
            return match parse_tokens(&reply, Utc::now()) {
                Ok(_) => Verification::Valid,
                Err(e) => could_not_check(e),
            };
        }
        match OAuthError::of(&reply) {
            Some(e) if e.code == "invalid_client" => Verification::Invalid {
                reason: format!("the server refused the client secret ({})", e.said()),
            },
            _ => could_not_check(refusal(reply, "the credential's client")),
        }
    }
}

/// An unanswered verification: try again later, or fix what the error names.
fn could_not_check(e: ProviderError) -> Verification {
    Verification::CouldNotCheck {
        reason: e.to_string(),
    }
}

/// The rotated key: the new refresh token (the old one when the server does not rotate).
fn issued(
    refreshed: Refreshed,
    old: &Secret,
    target: &Target,
    now: chrono::DateTime<Utc>,
) -> IssuedKey {
    let Refreshed {
        refresh_token,
        access_expires_at: expires_at,
        refresh_expires_at,
        scopes,
    } = refreshed;
    let rotated = refresh_token.as_ref().is_some_and(|new| new != old);
    let secret = refresh_token.unwrap_or_else(|| old.clone());
    let mut params = std::collections::BTreeMap::new();
    if let Some(at) = expires_at {
        params.insert("access_token_expires_at".to_string(), at.to_rfc3339());
    }
    IssuedKey {
        remote_id: fingerprint(&secret),
        secret,
        created_at: if rotated {
            Some(now)
        } else {
            target.credential.created_at
        },
        expires_at: refresh_expires_at.or(if rotated {
            None
        } else {
            target.credential.expires_at
        }),
        scopes: if scopes.is_empty() {
            target.credential.scopes.clone()
        } else {
            scopes
        },
        params,
    }
}

/// A refresh the server answered with a 4xx.
fn refresh_refused(reply: super::http::Reply, target: &Target, client_of: &str) -> ProviderError {
    match OAuthError::of(&reply) {
        // Slack names a dead refresh token `invalid_refresh_token`.
        Some(e) if e.code == "invalid_grant" || e.code == "invalid_refresh_token" => refused(
            &reply,
            ErrorKind::Unauthorized,
            format!(
                "the server refused the refresh token ({}): it expired, was revoked, or an \
                 already used token was presented again (a replay, after which the server \
                 revokes the whole grant); reconnect with `keyward connect {} --connection {}`",
                e.said(),
                target.at,
                target.credential.connection.as_deref().unwrap_or("ID"),
            ),
        ),
        _ => refusal(reply, client_of),
    }
}

/// The provider's operations; the trait methods below wrap them with [`scrub`].
impl OAuth2 {
    /// `inspect`, before scrubbing.
    async fn inspect_token(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        if grant_of(target)? == Grant::ClientCredentials {
            return Err(ProviderError::unsupported(
                KIND,
                Some(&target.at),
                "inspect a client secret (no standard API; `verify` checks it)",
            ));
        }
        let token = self.refresh_token(target)?;
        let server = self.server(target).await?;
        let found = self
            .introspect(target, &server, token)
            .await?
            .ok_or_else(|| {
                ProviderError::unsupported(
                    KIND,
                    Some(&target.at),
                    "inspect a token: the server has no introspection endpoint",
                )
            })?;
        if !found.active {
            return Ok(None);
        }
        Ok(Some(RemoteKey {
            name: found.client_id,
            created_at: found.issued_at,
            expires_at: found.expires_at,
            scopes: found.scopes,
            ..RemoteKey::new(fingerprint(token), RemoteStatus::Active)
        }))
    }

    /// `roll`, before scrubbing.
    async fn roll_token(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        match grant_of(target)? {
            Grant::RefreshToken => self.refresh(target).await,
            Grant::ClientCredentials => Err(ProviderError::unsupported(
                KIND,
                Some(&target.at),
                "roll a client secret: rotate it in the server's console, then record it",
            )),
        }
    }

    /// `verify`, before scrubbing.
    async fn verify_secret(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let _ = remote_id;
        match grant_of(target) {
            Err(e) => return could_not_check(e),
            Ok(Grant::ClientCredentials) => return self.client_credentials(target, secret).await,
            Ok(Grant::RefreshToken) => {}
        }
        // Introspection, never a refresh: a refresh would rotate the token being checked.
        let server = match self.server(target).await {
            Ok(s) => s,
            Err(e) => return could_not_check(e),
        };
        match self.introspect(target, &server, secret).await {
            Ok(Some(i)) if i.active => Verification::Valid,
            Ok(Some(_)) => Verification::Invalid {
                reason:
                    "the server says the refresh token is not active (revoked, expired or replaced)"
                        .to_string(),
            },
            Ok(None) => Verification::CannotCheck {
                reason:
                    "the server has no introspection endpoint, and a refresh would rotate the token"
                        .to_string(),
            },
            Err(e) => could_not_check(e),
        }
    }

    /// What a refresh does to the old refresh token at this credential's issuer: the
    /// connection's `params.refresh_rotation`, else the known issuer (`params.issuer_kind`,
    /// else by host), else unknown; revocation and introspection from discovery.
    fn aftermath(&self, target: &Target, server: Option<&Server>) -> RollAftermath {
        let conn = target.connection.as_ref();
        let param = |name: &str| conn.and_then(|c| c.params.get(name)).map(String::as_str);
        let hosts = conn
            .and_then(|c| c.endpoint.as_deref())
            .and_then(|e| url::Url::parse(e).ok())
            .into_iter()
            .chain(server.map(|s| s.endpoints.token.clone()));
        let known = param("issuer_kind")
            .and_then(issuer::issuer_named)
            .or_else(|| hosts.into_iter().find_map(|u| issuer::known_issuer(&u)));
        let (old, source) = match (
            param("refresh_rotation").and_then(issuer::configured),
            known,
        ) {
            (Some(old), _) => (
                old,
                Some("the connection's `params.refresh_rotation`".into()),
            ),
            (None, Some(k)) => (
                k.old_after_refresh,
                Some(format!("{}: {}", k.name, k.source)),
            ),
            (None, None) => (OldAfterRoll::Unknown, None),
        };
        RollAftermath {
            old,
            source,
            can_revoke: server.is_some_and(|s| s.endpoints.revocation.is_some()),
            can_inspect: server.is_some_and(|s| s.endpoints.introspection.is_some()),
        }
    }

    /// `retire_rolled`, before scrubbing: the old refresh token (still the credential's
    /// secret until the rotation commits) is revoked when it is alive and the server can,
    /// and the new one must survive it (a server may revoke the whole grant).
    async fn retire_old(
        &self,
        target: &Target,
        old_remote_id: &str,
        new_secret: &Secret,
    ) -> Result<Option<Revocation>, ProviderError> {
        if grant_of(target)? == Grant::ClientCredentials {
            return Ok(None);
        }
        let old = self.refresh_token(target)?;
        if fingerprint(old) != old_remote_id {
            return Err(ProviderError::new(
                KIND,
                Some(&target.at),
                ErrorKind::NotFound,
                format!("keyward does not hold the refresh token `{old_remote_id}` any more"),
            ));
        }
        let server = self.server(target).await?;
        if let Some(i) = self.introspect(target, &server, old).await? {
            if !i.active {
                return Ok(Some(Revocation::ConfirmedGone {
                    how: "introspection shows it inactive".into(),
                }));
            }
        }
        if server.endpoints.revocation.is_none() {
            return Ok(None);
        }
        let deletion = self.delete_token(target, old_remote_id).await?;
        let verdict = super::revocation::confirm(self, target, old_remote_id, deletion).await;
        if let Some(i) = self.introspect(target, &server, new_secret).await? {
            if !i.active {
                return Err(ProviderError::new(
                    KIND,
                    Some(&target.at),
                    ErrorKind::Unauthorized,
                    format!(
                        "revoking the old refresh token also ended the new one (the server \
                         revokes the whole grant): reconnect with `keyward connect {} \
                         --connection {}`",
                        target.at,
                        target.credential.connection.as_deref().unwrap_or("ID"),
                    ),
                ));
            }
        }
        Ok(Some(verdict))
    }

    /// `delete`, before scrubbing. RFC 7009 §2.2 has the server answer 200 for a token it
    /// does not know, so a 200 proves nothing by itself: introspection confirms it where
    /// the server has it, otherwise it is "revoked as far as the issuer says".
    async fn delete_token(
        &self,
        target: &Target,
        remote_id: &str,
    ) -> Result<Deletion, ProviderError> {
        if grant_of(target)? == Grant::ClientCredentials {
            return Err(ProviderError::unsupported(
                KIND,
                Some(&target.at),
                "revoke a client secret: delete it in the server's console",
            ));
        }
        let token = self.refresh_token(target)?;
        // Only the token keyward holds can be revoked: the request carries its value.
        let known = remote_id == fingerprint(token)
            || target.credential.remote_id.as_deref() == Some(remote_id);
        if !known {
            return Err(ProviderError::new(
                KIND,
                Some(&target.at),
                ErrorKind::NotFound,
                format!(
                    "keyward does not hold the refresh token `{remote_id}`, so it cannot revoke it"
                ),
            ));
        }
        let server = self.server(target).await?;
        let url = server.endpoints.revocation.as_ref().ok_or_else(|| {
            ProviderError::unsupported(
                KIND,
                Some(&target.at),
                "revoke a token: the server has no revocation endpoint",
            )
        })?;
        let client = self.client(target, &server)?;
        revoke(
            &self.api,
            url,
            &client,
            token,
            Some(&target.at),
            &server.client_of,
        )
        .await?;
        match self.introspect(target, &server, token).await {
            Ok(Some(i)) if !i.active => Ok(Deletion::Deleted),
            Ok(Some(_)) => Err(ProviderError::new(
                KIND,
                Some(&target.at),
                ErrorKind::Http,
                "the server accepted the revocation, yet introspection still shows the refresh \
                 token active: revoke the grant in the server's console",
            )),
            Ok(None) => Ok(Deletion::Accepted {
                note: "RFC 7009 servers answer the same for tokens they never knew, and this \
                       one has no introspection endpoint to confirm it"
                    .into(),
            }),
            Err(e) => Ok(Deletion::Accepted {
                note: format!(
                    "RFC 7009 servers answer the same for tokens they never knew, and \
                     introspection to confirm it failed ({})",
                    e.message
                ),
            }),
        }
    }
}

/// Masks every secret keyward sent in the call (the credential's token, the secret under
/// test, the connection's client secret) wherever a server echoed it into `text`: short
/// values escape the generic redaction of long token-like runs.
fn scrub(text: &str, target: &Target, tested: Option<&Secret>) -> String {
    let sent = [
        target.credential.secret.as_ref(),
        tested,
        target
            .connection
            .as_ref()
            .and_then(|c| c.auth.get("client_secret")),
    ];
    sent.into_iter()
        .flatten()
        .fold(text.to_string(), |text, secret| secret.redact(&text))
}

fn scrubbed(e: ProviderError, target: &Target) -> ProviderError {
    ProviderError {
        message: scrub(&e.message, target, None),
        ..e
    }
}

#[async_trait]
impl Provider for OAuth2 {
    fn kind(&self) -> ProviderKind {
        KIND
    }

    /// For refresh-token credentials, the default kind.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::RollInPlace,
            can_deactivate: false,
            reports_expiry: true,
            reports_last_used: false,
            max_live_keys: None,
            can_verify: true,
        }
    }

    /// Tokens end at the issuer's revocation endpoint (RFC 7009), where it has one.
    fn revoke(&self) -> crate::providers::catalog::Revoke {
        crate::providers::catalog::Revoke::RevocationEndpoint
    }

    fn capabilities_for(&self, target: &Target) -> Capabilities {
        match grant_of(target) {
            Ok(Grant::ClientCredentials) => Capabilities {
                rotation: RotationStyle::Manual,
                reports_expiry: false,
                ..self.capabilities()
            },
            _ => self.capabilities(),
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        self.inspect_token(target)
            .await
            .map_err(|e| scrubbed(e, target))
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        Err(ProviderError::unsupported(
            KIND,
            Some(&target.at),
            "list a grant's tokens (no standard API)",
        ))
    }

    async fn roll(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        self.roll_token(target)
            .await
            .map_err(|e| scrubbed(e, target))
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        match self.verify_secret(target, remote_id, secret).await {
            Verification::Valid => Verification::Valid,
            Verification::Invalid { reason } => Verification::Invalid {
                reason: scrub(&reason, target, Some(secret)),
            },
            Verification::CouldNotCheck { reason } => Verification::CouldNotCheck {
                reason: scrub(&reason, target, Some(secret)),
            },
            Verification::CannotCheck { reason } => Verification::CannotCheck {
                reason: scrub(&reason, target, Some(secret)),
            },
        }
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        self.delete_token(target, remote_id)
            .await
            .map_err(|e| scrubbed(e, target))
    }

    async fn roll_aftermath(&self, target: &Target) -> RollAftermath {
        let server = self.server(target).await.ok();
        self.aftermath(target, server.as_ref())
    }

    async fn retire_rolled(
        &self,
        target: &Target,
        old_remote_id: &str,
        new_secret: &Secret,
    ) -> Result<Option<Revocation>, ProviderError> {
        self.retire_old(target, old_remote_id, new_secret)
            .await
            .map_err(|e| scrubbed(e, target))
    }

    async fn check_connection(
        &self,
        connection: &Connection,
    ) -> super::connection_check::ConnectionReport {
        self.check(connection).await
    }
}
