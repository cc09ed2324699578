//! SendGrid API keys through the v3 API (`/v3/api_keys`, `/v3/scopes`), as documented in
//! twilio/sendgrid-oai `tsg_api_keys_v3.json` and `tsg_scopes_v3.json`.
//!
//! Connection: `auth.api_key` (a key holding the `api_keys.*` scopes), optional `endpoint`
//! (default `https://api.sendgrid.com`; `https://api.eu.sendgrid.com` for EU subusers) and
//! optional `params.on_behalf_of` (a subuser name, sent as the `on-behalf-of` header with
//! the management key, never with the key being verified).
//! The credential's `remote_id` is the `api_key_id`.
//!
//! Rotation is create-then-revoke: the new key gets the old key's scopes (read from the API,
//! else the credential's `scopes`). SendGrid grants Full Access to a key created without
//! scopes, so keyward refuses to create one when it knows none. The API reports neither
//! expiry nor last use.
//!
//! Risk rule (on `inspect`): a key that may create, change or delete API keys
//! (`api_keys.create`, `api_keys.update`, `api_keys.delete`) can mint itself any other
//! permission, so it is as strong as Full Access; and a key with more than
//! [`BROAD_SCOPE_COUNT`] scopes is flagged as Full Access or close to it.

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::connection_check::{connection_target, Ability, ConnectionReport};
use super::error::ProviderError;
use super::http::{Api, Call, Http, Repeat, Reply};
use super::saas::{
    after_create, base_url, display_name, guarded, id_in, replacement_name, seg, verification,
};
use super::Deletion;
use super::{
    Capabilities, FoundKey, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// The public API.
const DEFAULT_ENDPOINT: &str = "https://api.sendgrid.com";

/// Keys per account; the API answers 403 beyond it ("If the number of maximum keys, 100, is
/// reached, a `403` status will be returned").
const MAX_KEYS: u32 = 100;

/// More scopes than this reads as Full Access: a Full Access key holds a few hundred, while
/// a key restricted to a job (mail send, stats, one feature area) holds a few dozen at most.
pub const BROAD_SCOPE_COUNT: usize = 100;

/// Scopes that let a key manage keys, and so grant itself anything.
const KEY_ADMIN_SCOPES: [&str; 3] = ["api_keys.create", "api_keys.update", "api_keys.delete"];

/// Scopes SendGrid adds to keys by itself; they come back from `GET /v3/api_keys/{id}` but
/// are not requested when creating a key (cf. the Terraform provider, which treats them as
/// unmanaged).
const AUTO_SCOPES: [&str; 4] = [
    "2fa_required",
    "sender_verification_eligible",
    "sender_verification_exempt",
    "sender_verification_legacy",
];

/// SendGrid's API keys.
pub struct Sendgrid {
    api: Api,
}

impl Sendgrid {
    /// A client on the shared `http`.
    pub fn new(http: &Http) -> Self {
        Sendgrid {
            api: http.api(ProviderKind::Sendgrid),
        }
    }

    /// Renames the key `remote_id` (`PATCH /v3/api_keys/{id}`); answers its id and new name.
    pub async fn rename(
        &self,
        target: &Target,
        remote_id: &str,
        name: &str,
    ) -> Result<RemoteKey, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            let path = format!("/v3/api_keys/{}", seg(remote_id));
            let body = json!({ "name": name });
            let reply = c
                .send("PATCH", Repeat::Safe, &path, |r| r.json(&body))
                .await?
                .ok()?;
            Ok(reply.json::<KeyEntry>()?.into_remote())
        })
        .await
    }

    /// Sets the name and scopes of the key `remote_id` (`PUT /v3/api_keys/{id}`); answers
    /// what SendGrid now holds.
    pub async fn set_scopes(
        &self,
        target: &Target,
        remote_id: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<RemoteKey, ProviderError> {
        guarded(target, async {
            if scopes.is_empty() {
                return Err(ProviderError::config(
                    ProviderKind::Sendgrid,
                    Some(&target.at),
                    "refusing to set an empty scope list: SendGrid needs at least one scope",
                ));
            }
            let c = Conn::new(self, target)?;
            let path = format!("/v3/api_keys/{}", seg(remote_id));
            let body = json!({ "name": name, "scopes": scopes });
            let reply = c
                .send("PUT", Repeat::Safe, &path, |r| r.json(&body))
                .await?
                .ok()?;
            let mut key = reply.json::<KeyEntry>()?.into_remote();
            // The documented answer schema has no scopes (its example does): what was set.
            if key.scopes.is_empty() {
                key.scopes = scopes.to_vec();
            }
            Ok(key)
        })
        .await
    }
}

/// One call's context: where, with which key, on whose behalf.
struct Conn<'a> {
    api: &'a Api,
    target: &'a Target,
    base: String,
    key: &'a Secret,
    on_behalf_of: Option<&'a str>,
}

impl<'a> Conn<'a> {
    fn new(p: &'a Sendgrid, target: &'a Target) -> Result<Self, ProviderError> {
        Ok(Conn {
            api: &p.api,
            target,
            base: base_url(target, DEFAULT_ENDPOINT)?,
            key: target.auth("api_key")?,
            on_behalf_of: target.param("on_behalf_of").ok(),
        })
    }

    /// Sends `METHOD path` with the management key; `body` adds the payload.
    async fn send(
        &self,
        method: &str,
        repeat: Repeat,
        path: &str,
        body: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Reply, ProviderError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let call = Call::new(Some(&self.target.at), method, path, repeat);
        let url = format!("{}{path}", self.base);
        let build = |c: &reqwest::Client| {
            let mut r = c
                .request(m.clone(), &url)
                .bearer_auth(self.key.expose_secret());
            if let Some(sub) = self.on_behalf_of {
                r = r.header("on-behalf-of", sub);
            }
            body(r)
        };
        self.api.send(&call, build).await
    }

    /// Deletes the key `remote_id`; a key SendGrid does not know is deleted already.
    async fn delete(&self, remote_id: &str) -> Result<Deletion, ProviderError> {
        let path = format!("/v3/api_keys/{}", seg(remote_id));
        let reply = self.send("DELETE", Repeat::Safe, &path, |r| r).await?;
        reply.deletion()
    }

    /// The key `remote_id` with its scopes; `None` when SendGrid does not know it.
    async fn fetch(&self, remote_id: &str) -> Result<Option<RemoteKey>, ProviderError> {
        let path = format!("/v3/api_keys/{}", seg(remote_id));
        let reply = self.send("GET", Repeat::Safe, &path, |r| r).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let reply = reply.ok()?;
        let answer: KeyAnswer = reply.json()?;
        let mut key = match answer.result {
            Some(result) => result
                .into_iter()
                .find(|k| k.api_key_id == remote_id)
                .ok_or_else(|| {
                    reply.bad_response(format!("the answer does not describe key `{remote_id}`"))
                })?
                .into_remote(),
            None if answer.api_key_id.is_some() => {
                let mut key = RemoteKey::new(remote_id, RemoteStatus::Active);
                key.name = answer.name;
                key.scopes = answer.scopes;
                key
            }
            None => {
                return Err(reply.bad_response("the answer has neither `result` nor `api_key_id`"))
            }
        };
        key.risks = risks(&key.scopes);
        Ok(Some(key))
    }
}

/// `GET /v3/api_keys/{id}`: the spec documents `{result: [..]}`; the live API answers with
/// the bare object. Both are read.
#[derive(Deserialize)]
struct KeyAnswer {
    result: Option<Vec<KeyEntry>>,
    api_key_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// A key in a list, or a rename's answer.
#[derive(Deserialize)]
struct KeyEntry {
    api_key_id: String,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl KeyEntry {
    fn into_remote(self) -> RemoteKey {
        let mut key = RemoteKey::new(self.api_key_id, RemoteStatus::Active);
        key.name = self.name;
        key.scopes = self.scopes;
        key
    }
}

#[derive(Deserialize)]
struct KeyList {
    result: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct Created {
    api_key: Secret,
    api_key_id: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// What a key's scopes say about its power; see the module docs for the rule.
pub fn risks(scopes: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let admin: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| KEY_ADMIN_SCOPES.contains(s))
        .collect();
    if !admin.is_empty() {
        out.push(format!(
            "can manage API keys ({}), so it can grant itself any permission: as strong as Full Access",
            admin.join(", ")
        ));
    }
    if scopes.len() > BROAD_SCOPE_COUNT {
        out.push(format!(
            "{} scopes: Full Access or close to it (more than {BROAD_SCOPE_COUNT})",
            scopes.len()
        ));
    }
    out
}

#[async_trait]
impl Provider for Sendgrid {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Sendgrid
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: false,
            // The API has no expiry and no last-used time for keys.
            reports_expiry: false,
            reports_last_used: false,
            max_live_keys: Some(MAX_KEYS),
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        guarded(target, async {
            let id = target.remote_id("the SendGrid api_key_id")?;
            Conn::new(self, target)?.fetch(id).await
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            // One page: an account holds at most MAX_KEYS keys.
            let list: KeyList = c
                .send("GET", Repeat::Safe, "/v3/api_keys", |r| {
                    r.query(&[("limit", MAX_KEYS)])
                })
                .await?
                .ok()?
                .json()?;
            Ok(list.result.into_iter().map(KeyEntry::into_remote).collect())
        })
        .await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            let old = match target.credential.remote_id.as_deref() {
                Some(id) => c.fetch(id).await?,
                None => None,
            };
            let mut scopes: Vec<String> = old
                .as_ref()
                .map(|k| k.scopes.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| target.credential.scopes.clone());
            scopes.retain(|s| !AUTO_SCOPES.contains(&s.as_str()));
            if scopes.is_empty() {
                return Err(ProviderError::config(
                    ProviderKind::Sendgrid,
                    Some(&target.at),
                    "no scopes known for the new key (none on the old key, none in `scopes`): \
                     SendGrid would create a Full Access key, so keyward will not",
                ));
            }
            let base = old
                .and_then(|k| k.name)
                .unwrap_or_else(|| display_name(target));
            let body = json!({ "name": replacement_name(&base, Utc::now(), 100), "scopes": scopes });
            let reply = c
                .send("POST", Repeat::Never, "/v3/api_keys", |r| r.json(&body))
                .await
                .map_err(|e| after_create(e, "a key", None))?;
            if reply.status == 403 {
                let e = reply.into_error();
                return Err(ProviderError {
                    message: format!(
                        "{} (SendGrid answers 403 when the connection's key lacks `api_keys.create` \
                         and when the account already holds {MAX_KEYS} keys)",
                        e.message
                    ),
                    ..e
                });
            }
            let reply = reply.ok().map_err(|e| after_create(e, "a key", None))?;
            let created: Created = match reply.json() {
                Ok(created) => created,
                Err(e) => {
                    let cleanup = match id_in(&reply, "api_key_id") {
                        Some(id) => Some(c.delete(&id).await),
                        None => None,
                    };
                    return Err(after_create(e, "a key", cleanup));
                }
            };
            let scopes = if created.scopes.is_empty() {
                scopes
            } else {
                created.scopes
            };
            Ok(IssuedKey {
                remote_id: created.api_key_id,
                secret: created.api_key,
                created_at: Some(Utc::now()),
                expires_at: None,
                scopes,
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
        let base = match base_url(target, DEFAULT_ENDPOINT) {
            Ok(b) => b,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        let call = Call::new(Some(&target.at), "GET", "/v3/scopes", Repeat::Safe);
        let url = format!("{base}/v3/scopes");
        // Never `on-behalf-of` here: the header is for the parent account's key only ("you
        // must use the parent account's API key credentials", twilio.com/docs/sendgrid/
        // api-reference/how-to-use-the-sendgrid-v3-api/on-behalf-of). A key made on behalf of
        // a subuser belongs to that subuser and speaks for it by itself.
        let outcome = self
            .api
            .send(&call, |c| c.get(&url).bearer_auth(secret.expose_secret()))
            .await;
        verification(target, outcome, secret, "GET /v3/scopes with the key")
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        guarded(target, async {
            Conn::new(self, target)?.delete(remote_id).await
        })
        .await
    }

    /// The account's (or the subuser's, with `on_behalf_of`) API keys: one page, as an
    /// account holds at most a hundred.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        let owner = target
            .param("on_behalf_of")
            .ok()
            .map(|s| format!("subuser {s}"));
        Ok(self
            .list(&target)
            .await?
            .into_iter()
            .map(|k| FoundKey {
                owner: owner.clone(),
                ..FoundKey::new(k)
            })
            .collect())
    }

    /// `GET /v3/scopes` with the management key (on behalf of the subuser when the
    /// connection names one) says what it holds: `api_keys.create` and `api_keys.delete`
    /// decide whether it may create and revoke keys.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let call = "GET /v3/scopes";
        let scopes = guarded(&target, async {
            let c = Conn::new(self, &target)?;
            let reply = c
                .send("GET", Repeat::Safe, "/v3/scopes", |r| r)
                .await?
                .ok()?;
            reply.json::<ScopeList>()
        })
        .await;
        match scopes {
            Ok(list) => {
                report.allowed(call);
                let holds = |s: &str| list.scopes.iter().any(|h| h == s);
                report.can_create = Ability::from_bool(holds("api_keys.create"));
                report.can_revoke = Ability::from_bool(holds("api_keys.delete"));
                report.fact("key scopes", list.scopes.len().to_string());
                report.fact(
                    "may list keys",
                    Ability::from_bool(holds("api_keys.read")).as_str(),
                );
            }
            Err(e) => report.failed(call, &e),
        }
        if let Ok(sub) = target.param("on_behalf_of") {
            report.fact("on behalf of", sub);
        }
        report
    }
}

/// The answer of `GET /v3/scopes`.
#[derive(Deserialize)]
struct ScopeList {
    #[serde(default)]
    scopes: Vec<String>,
}
