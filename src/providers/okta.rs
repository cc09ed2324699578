//! Okta OAuth 2.0 client secrets of an app, through the Management API's
//! `/api/v1/apps/{appId}/credentials/secrets` (okta/okta-management-openapi-spec
//! `management-minimal.yaml`), checked at the token endpoint (`oauth-minimal.yaml`).
//!
//! Connection: `endpoint` = the org URL (`https://acme.okta.com`), `auth.api_token` (sent as
//! `Authorization: SSWS <token>`; its admin needs to manage the app). Credential:
//! `params.app_id` (the app whose secrets these are), `params.client_id` (its OAuth client
//! id, for verify), optional `params.authorization_server` (a custom authorization server's
//! id, e.g. `default`: verify then uses `/oauth2/{id}/v1/token` instead of the org's
//! `/oauth2/v1/token`) and `params.scope` (sent with the grant, for servers without default
//! scopes). The credential's `remote_id` is the secret's id (`ocs…`).
//!
//! Rotation is create-then-revoke: Okta lets an app hold two secrets ("You can create up to
//! two secret objects"), so a second one is created beside the old one (system-generated, the
//! value read from the create answer), verified with a client-credentials grant, and the old
//! one is deactivated, then deleted: Okta refuses to delete an active secret ("You can only
//! delete an inactive secret"), so a delete refused for that deactivates and deletes again. Listings and reads carry the
//! secrets' values too; keyward never reads them from there.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::connection_check::{connection_target, ConnectionReport};
use super::error::ProviderError;
use super::http::{Api, Call, Http, Repeat, Reply};
use super::oauth2::token::OAuthError;
use super::saas::{after_create, base_url, guarded, seg, verification};
use super::Deletion;
use super::{Capabilities, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// Secrets one app may hold ("You can create up to two secret objects").
const MAX_SECRETS: u32 = 2;

/// Okta's OAuth client secrets.
pub struct Okta {
    api: Api,
}

impl Okta {
    /// A client on the shared `http`.
    pub fn new(http: &Http) -> Self {
        Okta {
            api: http.api(ProviderKind::Okta),
        }
    }
}

/// The org URL: Okta has no public default, every org has its own.
fn org_url(target: &Target) -> Result<String, ProviderError> {
    let set = target
        .connection
        .as_ref()
        .is_some_and(|c| c.endpoint.is_some());
    if !set {
        return Err(ProviderError::config(
            ProviderKind::Okta,
            Some(&target.at),
            "the connection needs `endpoint`: the Okta org URL, e.g. https://acme.okta.com",
        ));
    }
    base_url(target, "")
}

/// A secret's state, as Okta spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum SecretStatus {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "INACTIVE")]
    Inactive,
}

impl SecretStatus {
    fn remote(self) -> RemoteStatus {
        match self {
            SecretStatus::Active => RemoteStatus::Active,
            SecretStatus::Inactive => RemoteStatus::Inactive,
        }
    }
}

/// A secret as listed or read: its value (`client_secret`) is left unread.
#[derive(Deserialize)]
struct SecretEntry {
    id: String,
    status: SecretStatus,
    created: Option<String>,
}

impl SecretEntry {
    fn into_remote(self) -> RemoteKey {
        let mut key = RemoteKey::new(self.id, self.status.remote());
        key.created_at = date(self.created.as_deref());
        key
    }
}

/// The create answer, the one read of a value keyward makes.
#[derive(Deserialize)]
struct Created {
    id: String,
    client_secret: Secret,
    created: Option<String>,
}

/// Okta's times (`2023-02-21T20:08:24.000Z`); an unreadable one is unknown.
fn date(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// One call's context: the org, the management token, the app.
struct Conn<'a> {
    api: &'a Api,
    target: &'a Target,
    base: String,
    token: &'a Secret,
    /// `/api/v1/apps/{appId}/credentials/secrets`.
    secrets: String,
}

impl<'a> Conn<'a> {
    fn new(p: &'a Okta, target: &'a Target) -> Result<Self, ProviderError> {
        Ok(Conn {
            api: &p.api,
            target,
            base: org_url(target)?,
            token: target.auth("api_token")?,
            secrets: format!(
                "/api/v1/apps/{}/credentials/secrets",
                seg(target.param("app_id")?)
            ),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        repeat: Repeat,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, ProviderError> {
        let call = Call::new(Some(&self.target.at), method.as_str(), path, repeat);
        let url = format!("{}{path}", self.base);
        let build = |c: &reqwest::Client| {
            let r = c
                .request(method.clone(), &url)
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("SSWS {}", self.token.expose_secret()),
                )
                .header(reqwest::header::ACCEPT, "application/json");
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        self.api.send(&call, build).await
    }

    fn secret_path(&self, id: &str) -> String {
        format!("{}/{}", self.secrets, seg(id))
    }

    async fn fetch(&self, id: &str) -> Result<Option<SecretEntry>, ProviderError> {
        let reply = self
            .send(
                reqwest::Method::GET,
                Repeat::Safe,
                &self.secret_path(id),
                None,
            )
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        reply.ok()?.json().map(Some)
    }

    async fn list(&self) -> Result<Vec<SecretEntry>, ProviderError> {
        self.send(reqwest::Method::GET, Repeat::Safe, &self.secrets, None)
            .await?
            .ok()?
            .json()
    }

    /// Deactivates the secret `id` (deactivating an inactive one changes nothing, so the
    /// call is safe to repeat).
    async fn deactivate(&self, id: &str) -> Result<(), ProviderError> {
        let path = format!("{}/lifecycle/deactivate", self.secret_path(id));
        self.send(reqwest::Method::POST, Repeat::Safe, &path, None)
            .await?
            .ok()
            .map(|_| ())
    }

    /// Deletes the secret `id`. Okta refuses to delete an active secret (400, "You can't
    /// delete an active client secret. Deactivate the secret before deleting it."), so a 400
    /// is answered by deactivating it and deleting again; a secret Okta does not know
    /// answers "not found".
    async fn delete(&self, id: &str) -> Result<Deletion, ProviderError> {
        let path = self.secret_path(id);
        let reply = self
            .send(reqwest::Method::DELETE, Repeat::Safe, &path, None)
            .await?;
        if reply.status != 400 {
            return reply.deletion();
        }
        self.deactivate(id).await?;
        self.send(reqwest::Method::DELETE, Repeat::Safe, &path, None)
            .await?
            .deletion()
    }
}

impl Okta {
    /// The token endpoint verify asks: the custom authorization server's when the credential
    /// names one, else the org's.
    fn token_path(target: &Target) -> String {
        match target.param("authorization_server").ok() {
            Some(id) => format!("/oauth2/{}/v1/token", seg(id)),
            None => "/oauth2/v1/token".to_string(),
        }
    }
}

#[async_trait]
impl Provider for Okta {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Okta
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: true,
            // Client secrets do not expire, and Okta does not say when one was last used.
            reports_expiry: false,
            reports_last_used: false,
            max_live_keys: Some(MAX_SECRETS),
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        guarded(target, async {
            let id = target.remote_id("the Okta client secret id (`ocs…`)")?;
            let c = Conn::new(self, target)?;
            Ok(c.fetch(id).await?.map(SecretEntry::into_remote))
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            Ok(c.list()
                .await?
                .into_iter()
                .map(SecretEntry::into_remote)
                .collect())
        })
        .await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            // An empty body: Okta generates the secret ("If no secret is specified in the
            // request, Okta adds a new system-generated secret").
            let body = json!({});
            let reply = c
                .send(
                    reqwest::Method::POST,
                    Repeat::Never,
                    &c.secrets,
                    Some(&body),
                )
                .await
                .map_err(|e| after_create(e, "a client secret", None))?;
            if reply.status == 400 {
                let e = reply.into_error();
                return Err(ProviderError {
                    message: format!(
                        "{} (Okta answers 400 when the app already holds {MAX_SECRETS} secrets: \
                         delete the inactive one first)",
                        e.message
                    ),
                    ..e
                });
            }
            let reply = reply
                .ok()
                .map_err(|e| after_create(e, "a client secret", None))?;
            let created: Created = match reply.json() {
                Ok(created) => created,
                Err(e) => {
                    let id: Option<String> =
                        serde_json::from_slice::<serde_json::Value>(&reply.body)
                            .ok()
                            .and_then(|v| v.get("id")?.as_str().map(str::to_string));
                    let cleanup = match id {
                        Some(id) => Some(c.delete(&id).await),
                        None => None,
                    };
                    return Err(after_create(e, "a client secret", cleanup));
                }
            };
            Ok(IssuedKey {
                remote_id: created.id,
                secret: created.client_secret,
                created_at: date(created.created.as_deref()).or_else(|| Some(Utc::now())),
                expires_at: None,
                scopes: Vec::new(),
                params: Default::default(),
            })
        })
        .await
    }

    /// A client-credentials grant with the app's client id and `secret` (HTTP basic): a token
    /// proves the secret works; `invalid_client` says it does not (RFC 6749 §5.2). The org
    /// authorization server grants client credentials only to clients using
    /// `private_key_jwt`, so a refusal naming it is "cannot check", not "invalid".
    async fn verify(
        &self,
        target: &Target,
        _remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let (base, client_id) = match (org_url(target), target.param("client_id")) {
            (Ok(b), Ok(id)) => (b, id),
            (Err(e), _) | (_, Err(e)) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        let path = Self::token_path(target);
        let desc = format!("POST {path} (client credentials) with the secret");
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if let Ok(scope) = target.param("scope") {
            form.push(("scope", scope.to_string()));
        }
        let call = Call::new(Some(&target.at), "POST", &path, Repeat::Safe);
        let url = format!("{base}{path}");
        let outcome = self
            .api
            .send(&call, |c| {
                c.post(&url)
                    .basic_auth(client_id, Some(secret.expose_secret()))
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&form)
            })
            .await;
        let reply = match outcome {
            Ok(r) => r,
            Err(e) => return verification(target, Err(e), secret, &desc),
        };
        if (200..300).contains(&reply.status) {
            let token = serde_json::from_slice::<serde_json::Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("access_token").map(|t| t.is_string()));
            // The access token is dropped unused.
            return if token == Some(true) {
                Verification::Valid
            } else {
                Verification::CouldNotCheck {
                    reason: format!("{desc}: the answer has no access token"),
                }
            };
        }
        // The server's words may echo what it was sent: the secret is masked in them.
        let refusal = OAuthError::of(&reply).map(|e| (e.code.clone(), secret.redact(&e.said())));
        let verdict = match refusal {
            Some((code, said)) if code == "invalid_client" && said.contains("private_key_jwt") => {
                Verification::CannotCheck {
                    reason: format!(
                        "{desc}: {said}; the org authorization server grants client credentials \
                         only to private_key_jwt clients: name a custom one in \
                         `params.authorization_server` (e.g. `default`)"
                    ),
                }
            }
            Some((code, said)) if code == "invalid_client" => Verification::Invalid {
                reason: format!("{desc}: Okta refused the client secret ({said})"),
            },
            Some((_, said)) => Verification::CannotCheck {
                reason: format!(
                    "{desc}: {said}; the token endpoint refused the grant, not the secret: set \
                     `params.scope` or allow the client credentials grant for the app"
                ),
            },
            None => verification(target, Ok(reply), secret, &desc),
        };
        verdict.redacted(target)
    }

    async fn deactivate(&self, target: &Target, remote_id: &str) -> Result<(), ProviderError> {
        guarded(target, async {
            Conn::new(self, target)?.deactivate(remote_id).await
        })
        .await
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        guarded(target, async {
            Conn::new(self, target)?.delete(remote_id).await
        })
        .await
    }

    /// Lists the secrets of the connection's `params.app_id`, when it names one: the
    /// management token reaches the app, and how many of its two secret slots are taken.
    /// Read access (`okta.apps.read`) says nothing of `okta.apps.manage`, so creating and
    /// revoking stay unknown.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        if !connection.params.contains_key("app_id") {
            report.note = Some(
                "set `params.app_id` on the connection to check its access to an app's \
                 client secrets; keyward makes no other read-only call with an Okta API token"
                    .into(),
            );
            return report;
        }
        let listed = guarded(&target, async {
            let c = Conn::new(self, &target)?;
            let call = c.secrets.clone();
            Ok((call, c.list().await))
        })
        .await;
        match listed {
            Err(e) => report.note = Some(e.to_string()),
            Ok((call, Ok(secrets))) => {
                report.allowed(format!("GET {call}"));
                let active = secrets
                    .iter()
                    .filter(|s| s.status == SecretStatus::Active)
                    .count();
                report.fact(
                    "client secrets",
                    format!("{} of {MAX_SECRETS} ({active} active)", secrets.len()),
                );
            }
            Ok((call, Err(e))) => report.failed(format!("GET {call}"), &e),
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, CredentialRef};
    use crate::providers::ErrorKind;

    fn target(endpoint: Option<&str>) -> Target {
        Target {
            at: "acme/okta".parse::<CredentialRef>().unwrap(),
            credential: Credential::new("okta", ProviderKind::Okta),
            connection: Some(Connection {
                id: "okta".into(),
                provider: ProviderKind::Okta,
                endpoint: endpoint.map(str::to_string),
                auth: Default::default(),
                params: Default::default(),
            }),
        }
    }

    #[test]
    fn the_org_url_is_required_and_checked() {
        let e = org_url(&target(None)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.to_string().contains("Okta org URL"), "{e}");
        assert!(org_url(&target(Some("http://acme.okta.com"))).is_err());
        assert_eq!(
            org_url(&target(Some("https://acme.okta.com/"))).unwrap(),
            "https://acme.okta.com"
        );
    }

    #[test]
    fn verify_asks_the_custom_authorization_server_when_named() {
        let mut t = target(Some("https://acme.okta.com"));
        assert_eq!(Okta::token_path(&t), "/oauth2/v1/token");
        t.credential
            .params
            .insert("authorization_server".into(), "default".into());
        assert_eq!(Okta::token_path(&t), "/oauth2/default/v1/token");
    }
}
