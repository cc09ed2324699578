//! Datadog API keys and application keys through the v2 Key Management API
//! (`/api/v2/api_keys`, `/api/v2/current_user/application_keys`,
//! `/api/v2/service_accounts/{id}/application_keys`), as documented in the official OpenAPI
//! description (DataDog/datadog-api-client-rust `.generator/schemas/v2/openapi.yaml`).
//!
//! Connection: `auth.api_key` and `auth.application_key` (sent as `DD-API-KEY` and
//! `DD-APPLICATION-KEY`; the application key's user needs `api_keys_read`/`_write`/`_delete`
//! for API keys, `user_app_keys` for their own application keys, `service_account_write` for
//! a service account's). `endpoint` overrides the API base; otherwise `params.site` names the
//! Datadog site (`datadoghq.eu`, `us3.datadoghq.com`, …: the API is `https://api.<site>`),
//! default `datadoghq.com`. The credential's `remote_id` is the key's id.
//!
//! Credential `params.key_type` ([`KeyType`]): `api` (default) or `application`; an
//! application key belongs to the connection's user unless `params.service_account_id` names
//! the service account that owns it.
//!
//! Rotation is create-then-revoke: the new key gets the old key's name with a rotation mark,
//! and an application key the old one's scopes (an unscoped key, which acts with all its
//! owner's permissions, stays unscoped). The secret is `data.attributes.key` of the create
//! answer. Organisations in One-Time Read mode never show an application key again
//! (docs.datadoghq.com/account_management/api-app-keys/#one-time-read-mode), so keyward
//! never reads a key's value back: the create answer is the only copy, and the engine stores
//! it at once.
//!
//! Verify: an API key with `GET /api/v1/validate` (200 `{"valid": true}`, 403 when invalid:
//! docs.datadoghq.com/api/latest/authentication/); an application key with
//! `GET /api/v2/validate_keys`, made with the connection's API key and the application key
//! (200 `{"status": "ok"}`, 401 or 403 otherwise:
//! docs.datadoghq.com/api/latest/key-management/validate-api-and-application-keys/). A
//! refusal there is blamed on the application key only once `/api/v1/validate` shows the
//! connection's API key is good.
//!
//! Sync: `created_at`, the last use (`date_last_used` for API keys, `last_used_at` for
//! application keys) and `last4`: a stored value that does not end in the `last4` Datadog
//! shows is flagged, since the inventory then holds another key's value.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::connection_check::{connection_target, ConnectionReport};
use super::error::{ErrorKind, ProviderError};
use super::http::{check_endpoint, Api, Call, Http, Repeat, Reply};
use super::saas::{
    after_create, base_url, display_name, guarded, replacement_name, seg, verification, MAX_PAGES,
};
use super::Deletion;
use super::{Capabilities, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// The US1 site's API, Datadog's default.
const DEFAULT_ENDPOINT: &str = "https://api.datadoghq.com";
/// The largest page the key listings serve ("The maximum allowed value is 100").
const PAGE_SIZE: usize = 100;
/// Datadog documents no limit on key names; keyward keeps its names this short.
const NAME_MAX: usize = 100;
/// The call that checks an API key alone.
const VALIDATE_API_KEY: &str = "/api/v1/validate";
/// The call that checks an API key and an application key together.
const VALIDATE_KEYS: &str = "/api/v2/validate_keys";

/// Datadog's two kinds of key, which live under different paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// An organisation's API key (submits data; `DD-API-KEY`).
    Api,
    /// A user's or service account's application key (reads and manages; `DD-APPLICATION-KEY`).
    Application,
}

impl KeyType {
    /// The type's name, as `params.key_type` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Api => "api",
            KeyType::Application => "application",
        }
    }

    /// What Datadog calls the key, for messages.
    fn noun(self) -> &'static str {
        match self {
            KeyType::Api => "an API key",
            KeyType::Application => "an application key",
        }
    }

    /// The type `target`'s credential names in `params.key_type`, `api` when it names none.
    pub fn of(target: &Target) -> Result<KeyType, ProviderError> {
        match target.credential.params.get("key_type").map(String::as_str) {
            None => Ok(KeyType::Api),
            Some(text) => [KeyType::Api, KeyType::Application]
                .into_iter()
                .find(|t| t.as_str() == text)
                .ok_or_else(|| {
                    ProviderError::config(
                        ProviderKind::Datadog,
                        Some(&target.at),
                        format!("`params.key_type` is `{text}`; expected `api` or `application`"),
                    )
                }),
        }
    }
}

/// Datadog's API and application keys.
pub struct Datadog {
    api: Api,
}

impl Datadog {
    /// A client on the shared `http`.
    pub fn new(http: &Http) -> Self {
        Datadog {
            api: http.api(ProviderKind::Datadog),
        }
    }
}

/// The API base for `target`: the connection's `endpoint`, else `https://api.<params.site>`,
/// else the US1 site.
fn api_base(target: &Target) -> Result<String, ProviderError> {
    let has_endpoint = target
        .connection
        .as_ref()
        .is_some_and(|c| c.endpoint.is_some());
    match target.param("site").ok() {
        Some(site) if !has_endpoint => {
            let plain = !site.is_empty()
                && site
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !plain {
                return Err(ProviderError::config(
                    ProviderKind::Datadog,
                    Some(&target.at),
                    format!(
                        "`params.site` is `{site}`; expected a Datadog site such as \
                         `datadoghq.eu` or `us3.datadoghq.com`"
                    ),
                ));
            }
            let base = format!("https://api.{site}");
            check_endpoint(ProviderKind::Datadog, Some(&target.at), &base)?;
            Ok(base)
        }
        _ => base_url(target, DEFAULT_ENDPOINT),
    }
}

/// One call's context: where, with which management keys, about which kind of key.
struct Conn<'a> {
    api: &'a Api,
    target: &'a Target,
    base: String,
    api_key: &'a Secret,
    app_key: &'a Secret,
    kind: KeyType,
    /// The collection the keys live in (`/api/v2/api_keys`, …), without a trailing slash.
    collection: String,
}

impl<'a> Conn<'a> {
    fn new(p: &'a Datadog, target: &'a Target) -> Result<Self, ProviderError> {
        let kind = KeyType::of(target)?;
        let collection = match kind {
            KeyType::Api => "/api/v2/api_keys".to_string(),
            KeyType::Application => match target.credential.params.get("service_account_id") {
                Some(sa) => format!("/api/v2/service_accounts/{}/application_keys", seg(sa)),
                None => "/api/v2/current_user/application_keys".to_string(),
            },
        };
        Ok(Conn {
            api: &p.api,
            target,
            base: api_base(target)?,
            api_key: target.auth("api_key")?,
            app_key: target.auth("application_key")?,
            kind,
            collection,
        })
    }

    /// Sends `METHOD path` with both management keys; `query` and `body` as given.
    async fn send(
        &self,
        method: reqwest::Method,
        repeat: Repeat,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, ProviderError> {
        let call = Call::new(Some(&self.target.at), method.as_str(), path, repeat);
        let url = format!("{}{path}", self.base);
        let build = |c: &reqwest::Client| {
            let r = c
                .request(method.clone(), &url)
                .header("DD-API-KEY", self.api_key.expose_secret())
                .header("DD-APPLICATION-KEY", self.app_key.expose_secret())
                .query(query);
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        self.api.send(&call, build).await
    }

    fn key_path(&self, id: &str) -> String {
        format!("{}/{}", self.collection, seg(id))
    }

    /// The key `id`; `None` when Datadog does not know it.
    async fn fetch(&self, id: &str) -> Result<Option<RemoteKey>, ProviderError> {
        let reply = self
            .send(
                reqwest::Method::GET,
                Repeat::Safe,
                &self.key_path(id),
                &[],
                None,
            )
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let one: One = reply.ok()?.json()?;
        Ok(Some(one.data.into_remote(self.target)))
    }

    /// Every key of the collection, page by page.
    async fn list(&self) -> Result<Vec<RemoteKey>, ProviderError> {
        let mut keys = Vec::new();
        for page in 0..MAX_PAGES {
            let query = [
                ("page[size]", PAGE_SIZE.to_string()),
                ("page[number]", page.to_string()),
            ];
            let reply = self
                .send(
                    reqwest::Method::GET,
                    Repeat::Safe,
                    &self.collection,
                    &query,
                    None,
                )
                .await?
                .ok()?;
            let listed: Page = reply.json()?;
            let count = listed.data.len();
            keys.extend(listed.data.into_iter().map(|k| k.into_remote(self.target)));
            let total = listed
                .meta
                .and_then(|m| m.page)
                .and_then(|p| p.total_filtered_count)
                .and_then(|t| u64::try_from(t).ok());
            if count < PAGE_SIZE || total.is_some_and(|t| keys.len() as u64 >= t) {
                return Ok(keys);
            }
        }
        Err(self.api.error(
            &Call::new(Some(&self.target.at), "GET", &self.collection, Repeat::Safe),
            ErrorKind::BadResponse,
            format!("the key list did not end after {MAX_PAGES} pages"),
        ))
    }

    /// Deletes the key `id`; Datadog answers 404 for a key it does not know.
    async fn delete(&self, id: &str) -> Result<Deletion, ProviderError> {
        self.send(
            reqwest::Method::DELETE,
            Repeat::Safe,
            &self.key_path(id),
            &[],
            None,
        )
        .await?
        .deletion()
    }
}

/// A key as the API describes it (list entry or single answer); the value is never read.
#[derive(Deserialize)]
struct KeyData {
    id: String,
    #[serde(default)]
    attributes: KeyAttributes,
}

#[derive(Deserialize, Default)]
struct KeyAttributes {
    name: Option<String>,
    created_at: Option<String>,
    /// API keys.
    date_last_used: Option<String>,
    /// Application keys.
    last_used_at: Option<String>,
    last4: Option<String>,
    /// Application keys; `null` for a key with all its owner's permissions.
    scopes: Option<Vec<String>>,
}

impl KeyData {
    fn into_remote(self, target: &Target) -> RemoteKey {
        let a = self.attributes;
        let mut key = RemoteKey::new(self.id, RemoteStatus::Active);
        key.name = a.name;
        key.created_at = date(a.created_at.as_deref());
        key.last_used_at = date(a.date_last_used.as_deref().or(a.last_used_at.as_deref()));
        key.scopes = a.scopes.unwrap_or_default();
        let stored = target.credential.secret.as_ref();
        let held = key.remote_id.as_str() == target.credential.remote_id.as_deref().unwrap_or("");
        if let (Some(last4), Some(secret), true) = (a.last4, stored, held) {
            if !last4.is_empty() && !secret.expose_secret().ends_with(last4.as_str()) {
                key.risks.push(
                    "the stored value does not end in the last four characters Datadog shows \
                     for this key: the inventory may hold another key's value"
                        .into(),
                );
            }
        }
        key
    }
}

/// `{"data": {...}}`: one key.
#[derive(Deserialize)]
struct One {
    data: KeyData,
}

/// A listing page.
#[derive(Deserialize)]
struct Page {
    data: Vec<KeyData>,
    meta: Option<PageMeta>,
}

#[derive(Deserialize)]
struct PageMeta {
    page: Option<PageCount>,
}

#[derive(Deserialize)]
struct PageCount {
    /// `int64` in the spec; a negative count is read as unknown.
    total_filtered_count: Option<i64>,
}

/// The create answer: the only time the value is shown.
#[derive(Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Deserialize)]
struct CreatedData {
    id: String,
    attributes: CreatedAttributes,
}

#[derive(Deserialize)]
struct CreatedAttributes {
    key: Secret,
    created_at: Option<String>,
    scopes: Option<Vec<String>>,
}

/// Datadog's times (`2020-11-23T10:00:00.000Z`); an unreadable one is unknown rather than
/// an error, since no decision rests on it.
fn date(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `data.id` of a create answer that could not be read in full.
fn created_id(reply: &Reply) -> Option<String> {
    let v: Value = serde_json::from_slice(&reply.body).ok()?;
    v.pointer("/data/id")?.as_str().map(str::to_string)
}

impl Datadog {
    /// `GET /api/v1/validate` with `api_key` alone: `Ok(true)` valid, `Ok(false)` refused
    /// (403, or 200 saying `valid: false`), the reply otherwise.
    async fn validate_api_key(
        &self,
        target: &Target,
        base: &str,
        api_key: &Secret,
    ) -> Result<Result<bool, Reply>, ProviderError> {
        let call = Call::new(Some(&target.at), "GET", VALIDATE_API_KEY, Repeat::Safe);
        let url = format!("{base}{VALIDATE_API_KEY}");
        let reply = self
            .api
            .send(&call, |c| {
                c.get(&url).header("DD-API-KEY", api_key.expose_secret())
            })
            .await?;
        Ok(match reply.status {
            200 => {
                let said: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                Ok(said.get("valid") != Some(&Value::Bool(false)))
            }
            403 => Ok(false),
            _ => Err(reply),
        })
    }

    async fn verify_api_key(&self, target: &Target, base: &str, secret: &Secret) -> Verification {
        let desc = "GET /api/v1/validate with the API key";
        match self.validate_api_key(target, base, secret).await {
            Ok(Ok(true)) => Verification::Valid,
            Ok(Ok(false)) => Verification::Invalid {
                reason: format!("{desc}: Datadog does not accept the API key"),
            },
            Ok(Err(reply)) => verification(target, Ok(reply), secret, desc),
            Err(e) => verification(target, Err(e), secret, desc),
        }
    }

    async fn verify_application_key(
        &self,
        target: &Target,
        base: &str,
        secret: &Secret,
    ) -> Verification {
        let desc =
            "GET /api/v2/validate_keys with the connection's API key and the application key";
        let api_key = match target.auth("api_key") {
            Ok(k) => k,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        let call = Call::new(Some(&target.at), "GET", VALIDATE_KEYS, Repeat::Safe);
        let url = format!("{base}{VALIDATE_KEYS}");
        let outcome = self
            .api
            .send(&call, |c| {
                c.get(&url)
                    .header("DD-API-KEY", api_key.expose_secret())
                    .header("DD-APPLICATION-KEY", secret.expose_secret())
            })
            .await;
        let refused = matches!(&outcome, Ok(r) if matches!(r.status, 401 | 403));
        if !refused {
            return verification(target, outcome, secret, desc);
        }
        // Either key may be the one refused: blame the application key only when the API
        // key is known good.
        match self.validate_api_key(target, base, api_key).await {
            Ok(Ok(true)) => Verification::Invalid {
                reason: format!(
                    "{desc}: Datadog refuses the application key (the API key is valid)"
                ),
            },
            Ok(Ok(false)) => Verification::CouldNotCheck {
                reason: "Datadog refuses the connection's API key (GET /api/v1/validate), so \
                         the application key cannot be checked: fix `auth.api_key`"
                    .into(),
            },
            Ok(Err(reply)) => verification(
                target,
                Ok(reply),
                secret,
                "GET /api/v1/validate with the connection's API key",
            )
            .unless_valid_could_not_check(),
            Err(e) => Verification::CouldNotCheck {
                reason: target.redact(&e.to_string()),
            },
        }
    }
}

/// A verdict on a call that was only a precondition (the connection's API key): anything
/// but "valid" means the key being checked could not be checked.
trait Precondition {
    fn unless_valid_could_not_check(self) -> Verification;
}

impl Precondition for Verification {
    fn unless_valid_could_not_check(self) -> Verification {
        match self {
            Verification::Invalid { reason } | Verification::CannotCheck { reason } => {
                Verification::CouldNotCheck { reason }
            }
            other => other,
        }
    }
}

#[async_trait]
impl Provider for Datadog {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Datadog
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            // Keys cannot be disabled, only deleted.
            can_deactivate: false,
            // Keys do not expire.
            reports_expiry: false,
            reports_last_used: true,
            max_live_keys: None,
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        guarded(target, async {
            let id = target.remote_id("the Datadog key id")?;
            Conn::new(self, target)?.fetch(id).await
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        guarded(target, async { Conn::new(self, target)?.list().await }).await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            let old = match target.credential.remote_id.as_deref() {
                Some(id) => c.fetch(id).await?,
                None => None,
            };
            let base = old
                .as_ref()
                .and_then(|k| k.name.clone())
                .unwrap_or_else(|| display_name(target));
            let name = replacement_name(&base, Utc::now(), NAME_MAX);
            let body = match c.kind {
                KeyType::Api => {
                    json!({"data": {"type": "api_keys", "attributes": {"name": name}}})
                }
                KeyType::Application => {
                    // The old key's scopes; if it is gone, the ones recorded for it. None at
                    // all: the key acts with its owner's permissions, as the old one did.
                    let scopes = match &old {
                        Some(k) => k.scopes.clone(),
                        None => target.credential.scopes.clone(),
                    };
                    let mut attributes = json!({ "name": name });
                    if !scopes.is_empty() {
                        attributes["scopes"] = json!(scopes);
                    }
                    json!({"data": {"type": "application_keys", "attributes": attributes}})
                }
            };
            let what = c.kind.noun();
            let reply = c
                .send(
                    reqwest::Method::POST,
                    Repeat::Never,
                    &c.collection,
                    &[],
                    Some(&body),
                )
                .await
                .and_then(Reply::ok)
                .map_err(|e| after_create(e, what, None))?;
            let created: Created = match reply.json() {
                Ok(created) => created,
                Err(e) => {
                    let cleanup = match created_id(&reply) {
                        Some(id) => Some(c.delete(&id).await),
                        None => None,
                    };
                    return Err(after_create(e, what, cleanup));
                }
            };
            let a = created.data.attributes;
            Ok(IssuedKey {
                remote_id: created.data.id,
                secret: a.key,
                created_at: date(a.created_at.as_deref()).or_else(|| Some(Utc::now())),
                expires_at: None,
                scopes: a.scopes.unwrap_or_default(),
                params: Default::default(),
            })
        })
        .await
    }

    async fn verify(
        &self,
        target: &Target,
        _remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let (base, kind) = match (api_base(target), KeyType::of(target)) {
            (Ok(b), Ok(k)) => (b, k),
            (Err(e), _) | (_, Err(e)) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        let verdict = match kind {
            KeyType::Api => self.verify_api_key(target, &base, secret).await,
            KeyType::Application => self.verify_application_key(target, &base, secret).await,
        };
        verdict.redacted(target)
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        guarded(target, async {
            Conn::new(self, target)?.delete(remote_id).await
        })
        .await
    }

    /// Validates the connection's API key (`GET /api/v1/validate`), then both keys together
    /// (`GET /api/v2/validate_keys`), then lists one API key and one of the user's own
    /// application keys. Listing its own application keys needs `user_app_keys`, the same
    /// permission as creating and deleting them; for API keys reading (`api_keys_read`) says
    /// nothing about `api_keys_write` and `api_keys_delete`, so those stay unknown.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let c = match Conn::new(self, &target) {
            Ok(c) => c,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        report.fact("api", c.base.clone());
        let validated = guarded(&target, async {
            match self.validate_api_key(&target, &c.base, c.api_key).await? {
                Ok(true) => Ok(()),
                Ok(false) => Err(ProviderError::new(
                    ProviderKind::Datadog,
                    Some(&target.at),
                    ErrorKind::Unauthorized,
                    "Datadog does not accept the connection's API key",
                )
                .with_status(403)),
                Err(reply) => Err(reply.into_error()),
            }
        })
        .await;
        report.answered(format!("GET {VALIDATE_API_KEY}"), &validated);
        let both = guarded(&target, async {
            c.send(reqwest::Method::GET, Repeat::Safe, VALIDATE_KEYS, &[], None)
                .await?
                .ok()
        })
        .await;
        report.answered(format!("GET {VALIDATE_KEYS}"), &both);
        let one = [("page[size]", "1".to_string())];
        for (path, fact, yes) in [
            (
                "/api/v2/api_keys",
                "API keys",
                "may list (creating and deleting need api_keys_write and api_keys_delete)",
            ),
            (
                "/api/v2/current_user/application_keys",
                "own application keys",
                "may list, create and delete (user_app_keys)",
            ),
        ] {
            let listed = guarded(&target, async {
                c.send(reqwest::Method::GET, Repeat::Safe, path, &one, None)
                    .await?
                    .ok()
            })
            .await;
            match &listed {
                Ok(_) => report.fact(fact, yes),
                Err(e) if matches!(e.status, Some(401 | 403)) => report.fact(fact, "refused"),
                Err(_) => {}
            }
            report.answered(format!("GET {path}"), &listed);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, CredentialRef};

    fn target(endpoint: Option<&str>, site: Option<&str>) -> Target {
        let mut conn = Connection {
            id: "dd".into(),
            provider: ProviderKind::Datadog,
            endpoint: endpoint.map(str::to_string),
            auth: Default::default(),
            params: Default::default(),
        };
        if let Some(s) = site {
            conn.params.insert("site".into(), s.into());
        }
        Target {
            at: "acme/dd".parse::<CredentialRef>().unwrap(),
            credential: Credential::new("dd", ProviderKind::Datadog),
            connection: Some(conn),
        }
    }

    #[test]
    fn the_site_names_the_api_host_and_an_endpoint_wins() {
        assert_eq!(
            api_base(&target(None, None)).unwrap(),
            "https://api.datadoghq.com"
        );
        assert_eq!(
            api_base(&target(None, Some("datadoghq.eu"))).unwrap(),
            "https://api.datadoghq.eu"
        );
        assert_eq!(
            api_base(&target(None, Some("us3.datadoghq.com"))).unwrap(),
            "https://api.us3.datadoghq.com"
        );
        assert_eq!(
            api_base(&target(Some("http://127.0.0.1:9/"), Some("datadoghq.eu"))).unwrap(),
            "http://127.0.0.1:9"
        );
        for bad in ["evil.example/x", "a b", "", "x@y"] {
            let e = api_base(&target(None, Some(bad))).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{bad}: {e}");
        }
    }

    #[test]
    fn key_type_defaults_to_api_and_refuses_others() {
        let mut t = target(None, None);
        assert_eq!(KeyType::of(&t).unwrap(), KeyType::Api);
        t.credential
            .params
            .insert("key_type".into(), "application".into());
        assert_eq!(KeyType::of(&t).unwrap(), KeyType::Application);
        t.credential.params.insert("key_type".into(), "app".into());
        assert!(KeyType::of(&t)
            .unwrap_err()
            .to_string()
            .contains("expected `api` or `application`"));
    }
}
