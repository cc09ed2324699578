//! OpenAI project API keys, service-account keys and admin keys through the Administration
//! API (`/organization/…`), as documented in openai/openai-openapi `openapi.yaml`.
//!
//! Connection: `auth.admin_key` (an organization admin key, sent as Bearer) and optional
//! `endpoint` (default `https://api.openai.com/v1`). The credential's `remote_id` is the key
//! id (`key_…`); `params.kind` says what the key is:
//!
//! * `service-account` (needs `params.project_id`; `params.service_account_id` is recorded):
//!   rotation creates a new service account with the old one's name plus a rotation mark
//!   (`POST …/service_accounts` answers its key once); the new service account's id comes
//!   back in [`IssuedKey::params`]; revoking the old key deletes the old service account.
//!   The newer `POST …/service_accounts/{id}/api_keys` would add a second key to the same
//!   service account, but the API offers no way to delete one service-account key
//!   (`DELETE …/api_keys/{id}` refuses keys owned by service accounts), so the old key could
//!   only be revoked by deleting the service account and every key on it, the new one
//!   included. A new service account per rotation keeps revocation possible.
//!   The new service account gets the old one's role (`owner` or `member`). Before deleting
//!   a service account, its project's keys are listed with `owner_project_access=any`, so a
//!   key the default visibility rules hide still stops the deletion.
//! * `project-key` (needs `params.project_id`): a key a person created for themselves. The
//!   API cannot create those, so `create` is unsupported and rotation falls back to manual;
//!   inspect, list and delete work.
//! * `admin-key`: an organization admin key (`/organization/admin_api_keys`), with expiry;
//!   a replacement keeps the old key's lifetime.
//!
//! Without `params.kind`, a credential with `params.service_account_id` is a service-account
//! key and any other a project key. Project keys report when they were last used; only
//! admin keys expire. Verify lists models (`GET /models`) with the key, or lists admin keys
//! with an admin key; a restricted key refused with 401 "Missing scopes" is recognised, so
//! it is reported as cannot-check, not invalid.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::connection_check::{connection_target, ConnectionReport};
use super::error::{ErrorKind, ProviderError};
use super::http::{Api, Call, Http, Repeat, Reply};
use super::saas::{
    after_create, base_url, display_name, guarded, id_in, replacement_name, seg, unix_time,
    verification, MAX_PAGES,
};
use super::Deletion;
use super::{
    Capabilities, FoundKey, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// The public API.
const DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1";
/// Names are cut to this many characters.
const NAME_MAX: usize = 100;
/// The longest admin-key lifetime the API accepts (`expires_in_seconds` maximum).
const MAX_ADMIN_KEY_LIFETIME: i64 = 31_536_000;

/// OpenAI's Administration API.
pub struct OpenAi {
    api: Api,
}

/// A project of the organization, as `GET /organization/projects` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    /// `proj_…`.
    pub id: String,
    /// Its display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `active` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
}

impl OpenAi {
    /// A client on the shared `http`.
    pub fn new(http: &Http) -> Self {
        OpenAi {
            api: http.api(ProviderKind::Openai),
        }
    }

    /// Every project of the organization `target`'s connection administers, archived ones
    /// included: where a credential's `params.project_id` comes from.
    pub async fn projects(&self, target: &Target) -> Result<Vec<Project>, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            let mut all: Vec<Project> = c
                .pages("/organization/projects", "include_archived=true&")
                .await?;
            dedup_by(&mut all, |p| p.id.clone());
            Ok(all)
        })
        .await
    }
}

/// What kind of key a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ServiceAccount,
    ProjectKey,
    AdminKey,
}

fn kind_of(target: &Target) -> Result<Kind, ProviderError> {
    match target.param("kind").ok() {
        Some("service-account") => Ok(Kind::ServiceAccount),
        Some("project-key") => Ok(Kind::ProjectKey),
        Some("admin-key") => Ok(Kind::AdminKey),
        Some(other) => Err(ProviderError::config(
            ProviderKind::Openai,
            Some(&target.at),
            format!(
                "`params.kind` is `{other}`; expected `service-account`, `project-key` or `admin-key`"
            ),
        )),
        None if target.param("service_account_id").is_ok() => Ok(Kind::ServiceAccount),
        None => Ok(Kind::ProjectKey),
    }
}

/// One call's context.
struct Conn<'a> {
    api: &'a Api,
    target: &'a Target,
    base: String,
    admin_key: &'a Secret,
}

impl<'a> Conn<'a> {
    fn new(p: &'a OpenAi, target: &'a Target) -> Result<Self, ProviderError> {
        Ok(Conn {
            api: &p.api,
            target,
            base: base_url(target, DEFAULT_ENDPOINT)?,
            admin_key: target.auth("admin_key")?,
        })
    }

    fn project(&self) -> Result<String, ProviderError> {
        self.target.param("project_id").map(seg)
    }

    /// Sends `METHOD path` (query allowed) with the admin key, and `body` as JSON if given.
    async fn send(
        &self,
        method: reqwest::Method,
        repeat: Repeat,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, ProviderError> {
        let shown = path.split('?').next().unwrap_or(path);
        let call = Call::new(Some(&self.target.at), method.as_str(), shown, repeat);
        let url = format!("{}{path}", self.base);
        let build = |c: &reqwest::Client| {
            let r = c
                .request(method.clone(), &url)
                .bearer_auth(self.admin_key.expose_secret());
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        };
        self.api.send(&call, build).await
    }

    /// `GET path` as JSON; `None` on 404.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ProviderError> {
        let reply = self
            .send(reqwest::Method::GET, Repeat::Safe, path, None)
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        reply.ok()?.json().map(Some)
    }

    /// Every page of the list at `path`, following `after` cursors. `query` is put before
    /// the paging parameters (ending in `&` when not empty). Stops when the cursor stops
    /// moving, and after [`MAX_PAGES`] pages at most.
    async fn pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let cursor = after
                .as_deref()
                .map(|a| format!("&after={}", seg(a)))
                .unwrap_or_default();
            let page: Page<T> = self
                .send(
                    reqwest::Method::GET,
                    Repeat::Safe,
                    &format!("{path}?{query}limit=100{cursor}"),
                    None,
                )
                .await?
                .ok()?
                .json()?;
            all.extend(page.data);
            match page.last_id {
                Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => {
                    after = Some(last)
                }
                _ => return Ok(all),
            }
        }
        Err(self.api.error(
            &Call::new(Some(&self.target.at), "GET", path, Repeat::Safe),
            ErrorKind::BadResponse,
            format!("the list did not end after {MAX_PAGES} pages"),
        ))
    }

    fn key_path(&self, id: &str) -> Result<String, ProviderError> {
        Ok(format!(
            "/organization/projects/{}/api_keys/{}",
            self.project()?,
            seg(id)
        ))
    }

    async fn project_key(&self, id: &str) -> Result<Option<ProjectKey>, ProviderError> {
        self.get(&self.key_path(id)?).await
    }

    /// Every enabled key of the project. `owner_project_access=any`: without it "the
    /// endpoint applies its existing membership-based visibility rules, which may exclude
    /// some enabled keys" (the spec's `list-project-api-keys`), and a key left out could be
    /// revoked unseen with its service account.
    async fn project_keys(&self) -> Result<Vec<ProjectKey>, ProviderError> {
        let path = format!("/organization/projects/{}/api_keys", self.project()?);
        let mut keys: Vec<ProjectKey> = self.pages(&path, "owner_project_access=any&").await?;
        dedup_by(&mut keys, |k| k.id.clone());
        Ok(keys)
    }

    /// `DELETE path`; a 404 means it is gone already.
    async fn delete(&self, path: &str) -> Result<Deletion, ProviderError> {
        let reply = self
            .send(reqwest::Method::DELETE, Repeat::Safe, path, None)
            .await?;
        reply.deletion()
    }
}

/// Whether an error answer says the key lacks scopes (`error.message` containing "Missing
/// scopes"), which OpenAI answers with 401 like a refused key.
fn missing_scopes(reply: &Reply) -> bool {
    serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .is_some_and(|m| m.contains("Missing scopes"))
}

/// Keeps the first item of each id: a cursor that stalls repeats a page.
fn dedup_by<T>(items: &mut Vec<T>, id: impl Fn(&T) -> String) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|i| seen.insert(id(i)));
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Deserialize)]
struct ProjectKey {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    last_used_at: Option<i64>,
    #[serde(default)]
    owner_project_access: Option<String>,
    #[serde(default)]
    owner: Option<KeyOwner>,
}

#[derive(Deserialize)]
struct KeyOwner {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    service_account: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

impl ProjectKey {
    /// The service account owning the key, if a service account does.
    fn service_account(&self) -> Option<&Named> {
        let owner = self.owner.as_ref()?;
        if owner.kind.as_deref() == Some("service_account") {
            owner.service_account.as_ref()
        } else {
            None
        }
    }

    fn into_remote(self) -> RemoteKey {
        let state = match self.owner_project_access.as_deref() {
            Some("inactive") => RemoteStatus::Inactive,
            _ => RemoteStatus::Active,
        };
        let mut key = RemoteKey::new(self.id, state);
        key.name = self.name;
        key.created_at = unix_time(self.created_at);
        key.last_used_at = unix_time(self.last_used_at);
        key
    }
}

#[derive(Deserialize)]
struct AdminKey {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    last_used_at: Option<i64>,
}

impl AdminKey {
    fn into_remote(self) -> RemoteKey {
        let mut key = RemoteKey::new(self.id, RemoteStatus::Active);
        key.name = self.name;
        key.created_at = unix_time(self.created_at);
        key.expires_at = unix_time(self.expires_at);
        key.last_used_at = unix_time(self.last_used_at);
        key.risks = vec!["organization admin key: controls every project, key and member".into()];
        key
    }
}

#[derive(Deserialize)]
struct AdminKeyCreated {
    id: String,
    value: Secret,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct ServiceAccountCreated {
    id: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    api_key: Option<ServiceAccountKey>,
}

/// A service account as `GET …/service_accounts/{id}` describes it.
#[derive(Deserialize)]
struct ServiceAccount {
    #[serde(default)]
    name: Option<String>,
    /// `owner` or `member`.
    #[serde(default)]
    role: Option<String>,
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    id: String,
    value: Secret,
    #[serde(default)]
    created_at: Option<i64>,
}

impl OpenAi {
    async fn create_service_account(&self, c: &Conn<'_>) -> Result<IssuedKey, ProviderError> {
        let project = c.project()?;
        // The old service account, for the new one's name and role.
        let old_key = match c.target.credential.remote_id.as_deref() {
            Some(id) => c.project_key(id).await?,
            None => None,
        };
        let old_sa_id = old_key
            .as_ref()
            .and_then(|k| k.service_account().map(|s| s.id.clone()))
            .or_else(|| {
                c.target
                    .param("service_account_id")
                    .ok()
                    .map(str::to_string)
            });
        let old_sa = match old_sa_id.as_deref() {
            Some(sa) => {
                let path = format!(
                    "/organization/projects/{project}/service_accounts/{}",
                    seg(sa)
                );
                c.get::<ServiceAccount>(&path).await?
            }
            None => None,
        };
        let old_name = old_key
            .and_then(|k| k.service_account().and_then(|s| s.name.clone()).or(k.name))
            .or_else(|| old_sa.as_ref().and_then(|s| s.name.clone()));
        let base = old_name.unwrap_or_else(|| display_name(c.target));
        let path = format!("/organization/projects/{project}/service_accounts");
        let body = json!({ "name": replacement_name(&base, Utc::now(), NAME_MAX) });
        let reply = c
            .send(reqwest::Method::POST, Repeat::Never, &path, Some(&body))
            .await
            .and_then(Reply::ok)
            .map_err(|e| after_create(e, "a service account", None))?;
        // A service account whose key cannot be read is of no use: delete it again.
        let parsed = reply
            .json::<ServiceAccountCreated>()
            .and_then(|sa| match sa.api_key {
                Some(key) => Ok((sa.id, key, sa.role)),
                None => Err(reply.bad_response("the answer holds no API key")),
            });
        let (sa_id, key, role) = match parsed {
            Ok(created) => created,
            Err(e) => {
                let cleanup = match id_in(&reply, "id") {
                    Some(id) => Some(c.delete(&format!("{path}/{}", seg(&id))).await),
                    None => None,
                };
                return Err(after_create(e, "a service account", cleanup));
            }
        };
        // A new service account gets `member`; the old one may have been `owner`, and its
        // consumers would lose what that allowed. Copied with "Update project service
        // account" (`POST …/service_accounts/{id}`, body `role`); if that fails, the new
        // account is deleted again rather than handed out with less than the old one had.
        let wanted = old_sa
            .and_then(|s| s.role)
            .filter(|r| Some(r) != role.as_ref());
        if let Some(wanted) = wanted {
            let sa_path = format!("{path}/{}", seg(&sa_id));
            let body = json!({ "role": wanted });
            let updated = c
                .send(reqwest::Method::POST, Repeat::Safe, &sa_path, Some(&body))
                .await
                .and_then(Reply::ok);
            if let Err(e) = updated {
                let cleanup = Some(c.delete(&sa_path).await);
                let e = ProviderError {
                    message: format!(
                        "could not give the new service account the old one's role `{wanted}`: {}",
                        e.message
                    ),
                    ..e
                };
                return Err(after_create(e, "a service account", cleanup));
            }
        }
        let mut params = BTreeMap::new();
        params.insert("service_account_id".to_string(), sa_id);
        params.insert("kind".to_string(), "service-account".to_string());
        Ok(IssuedKey {
            remote_id: key.id,
            secret: key.value,
            created_at: unix_time(key.created_at).or_else(|| Some(Utc::now())),
            expires_at: None,
            scopes: Vec::new(),
            params,
        })
    }

    async fn create_admin_key(&self, c: &Conn<'_>) -> Result<IssuedKey, ProviderError> {
        let old = match c.target.credential.remote_id.as_deref() {
            Some(id) => {
                c.get::<AdminKey>(&format!("/organization/admin_api_keys/{}", seg(id)))
                    .await?
            }
            None => None,
        };
        let base = old
            .as_ref()
            .and_then(|k| k.name.clone())
            .unwrap_or_else(|| display_name(c.target));
        let mut body = json!({ "name": replacement_name(&base, Utc::now(), NAME_MAX) });
        let lifetime = old
            .as_ref()
            .and_then(|k| Some(k.expires_at? - k.created_at?))
            .filter(|s| *s > 0)
            .map(|s| s.min(MAX_ADMIN_KEY_LIFETIME));
        if let Some(secs) = lifetime {
            body["expires_in_seconds"] = json!(secs);
        }
        let reply = c
            .send(
                reqwest::Method::POST,
                Repeat::Never,
                "/organization/admin_api_keys",
                Some(&body),
            )
            .await
            .and_then(Reply::ok)
            .map_err(|e| after_create(e, "a key", None))?;
        let created: AdminKeyCreated = match reply.json() {
            Ok(created) => created,
            Err(e) => {
                let cleanup = match id_in(&reply, "id") {
                    Some(id) => Some(
                        c.delete(&format!("/organization/admin_api_keys/{}", seg(&id)))
                            .await,
                    ),
                    None => None,
                };
                return Err(after_create(e, "a key", cleanup));
            }
        };
        let mut params = BTreeMap::new();
        params.insert("kind".to_string(), "admin-key".to_string());
        Ok(IssuedKey {
            remote_id: created.id,
            secret: created.value,
            created_at: unix_time(created.created_at).or_else(|| Some(Utc::now())),
            expires_at: unix_time(created.expires_at),
            scopes: Vec::new(),
            params,
        })
    }

    /// Deletes a project key: a user's key directly; a service account's key by deleting the
    /// service account, unless that account holds other keys too.
    async fn delete_project_key(
        &self,
        c: &Conn<'_>,
        remote_id: &str,
    ) -> Result<Deletion, ProviderError> {
        let Some(key) = c.project_key(remote_id).await? else {
            // Gone, or not visible to the admin key: the caller confirms with a listing.
            return Ok(Deletion::NotFound {
                said: "the project does not show the key".into(),
            });
        };
        let Some(sa) = key.service_account() else {
            return c.delete(&c.key_path(remote_id)?).await;
        };
        let sa_id = sa.id.clone();
        let others: Vec<String> = c
            .project_keys()
            .await?
            .into_iter()
            .filter(|k| k.id != remote_id && k.service_account().is_some_and(|s| s.id == sa_id))
            .map(|k| k.id)
            .collect();
        if !others.is_empty() {
            return Err(ProviderError::new(
                ProviderKind::Openai,
                Some(&c.target.at),
                ErrorKind::Unsupported,
                format!(
                    "key `{remote_id}` belongs to service account `{sa_id}`, which also holds {}: \
                     deleting the service account would revoke those too; revoke by hand",
                    others.join(", ")
                ),
            ));
        }
        let path = format!(
            "/organization/projects/{}/service_accounts/{}",
            c.project()?,
            seg(&sa_id)
        );
        c.delete(&path).await
    }
}

#[async_trait]
impl Provider for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: false,
            // Project and service-account keys never expire; only admin keys report expiry.
            reports_expiry: false,
            reports_last_used: true,
            max_live_keys: None,
            can_verify: true,
        }
    }

    fn manual_because(&self, target: &Target) -> Option<String> {
        (kind_of(target).ok()? == Kind::ProjectKey).then(|| {
            "OpenAI's API cannot create a project key owned by a user: rotate it in the \
             dashboard (or move the integration to a service account)"
                .to_string()
        })
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        guarded(target, async {
            let id = target.remote_id("the key id, key_…")?;
            let c = Conn::new(self, target)?;
            match kind_of(target)? {
                Kind::AdminKey => Ok(c
                    .get::<AdminKey>(&format!("/organization/admin_api_keys/{}", seg(id)))
                    .await?
                    .map(AdminKey::into_remote)),
                Kind::ServiceAccount | Kind::ProjectKey => {
                    Ok(c.project_key(id).await?.map(ProjectKey::into_remote))
                }
            }
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            match kind_of(target)? {
                Kind::AdminKey => {
                    let mut keys: Vec<AdminKey> =
                        c.pages("/organization/admin_api_keys", "").await?;
                    dedup_by(&mut keys, |k| k.id.clone());
                    Ok(keys.into_iter().map(AdminKey::into_remote).collect())
                }
                Kind::ServiceAccount | Kind::ProjectKey => Ok(c
                    .project_keys()
                    .await?
                    .into_iter()
                    .map(ProjectKey::into_remote)
                    .collect()),
            }
        })
        .await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        guarded(target, async {
            let kind = kind_of(target)?;
            if kind == Kind::ProjectKey {
                return Err(ProviderError::unsupported(
                    ProviderKind::Openai,
                    Some(&target.at),
                    "create a project key owned by a user (the API cannot; rotate it in the \
                     dashboard, or move the integration to a service account)",
                ));
            }
            let c = Conn::new(self, target)?;
            match kind {
                Kind::AdminKey => self.create_admin_key(&c).await,
                _ => self.create_service_account(&c).await,
            }
        })
        .await
    }

    async fn verify(
        &self,
        target: &Target,
        _remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let (base, kind) = match (base_url(target, DEFAULT_ENDPOINT), kind_of(target)) {
            (Ok(b), Ok(k)) => (b, k),
            (Err(e), _) | (_, Err(e)) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        // Admin keys work only on the Administration API, other keys only outside it.
        let (path, query, desc) = match kind {
            Kind::AdminKey => (
                "/organization/admin_api_keys",
                "?limit=1",
                "GET /organization/admin_api_keys with the key",
            ),
            _ => ("/models", "", "GET /models with the key"),
        };
        let call = Call::new(Some(&target.at), "GET", path, Repeat::Safe);
        let url = format!("{base}{path}{query}");
        let outcome = self
            .api
            .send(&call, |c| c.get(&url).bearer_auth(secret.expose_secret()))
            .await;
        // A restricted key without `api.model.read` answers 401 "… Missing scopes:
        // api.model.read …": OpenAI recognised the key, it only may not make this call.
        if let Ok(reply) = &outcome {
            if reply.status == 401 && missing_scopes(reply) {
                return Verification::CannotCheck {
                    reason: format!(
                        "{desc}: HTTP 401: the key is recognised but lacks the scopes for this \
                         call (a restricted key), so check it by hand"
                    ),
                };
            }
        }
        verification(target, outcome, secret, desc)
    }

    /// The API keys of the connection's project (`params.project_id`), else of every project
    /// of the organization, service accounts' keys and users' alike, every page.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        guarded(&target, async {
            let c = Conn::new(self, &target)?;
            let projects: Vec<String> = match target.param("project_id") {
                Ok(id) => vec![id.to_string()],
                Err(_) => {
                    let mut all: Vec<Named> = c.pages("/organization/projects", "").await?;
                    dedup_by(&mut all, |p| p.id.clone());
                    all.into_iter().map(|p| p.id).collect()
                }
            };
            let mut found = Vec::new();
            for project in projects {
                let path = format!("/organization/projects/{}/api_keys", seg(&project));
                let mut keys: Vec<ProjectKey> = c.pages(&path, "owner_project_access=any&").await?;
                dedup_by(&mut keys, |k| k.id.clone());
                for k in keys {
                    let account = k.service_account().map(|a| (a.id.clone(), a.name.clone()));
                    let key =
                        FoundKey::new(k.into_remote()).with_param("project_id", project.clone());
                    found.push(match account {
                        Some((id, name)) => key
                            .owned_by(format!(
                                "service account {} in project {project}",
                                name.unwrap_or_else(|| id.clone())
                            ))
                            .with_param("kind", "service-account")
                            .with_param("service_account_id", id),
                        None => key
                            .owned_by(format!("a user in project {project}"))
                            .with_param("kind", "project-key"),
                    });
                }
            }
            Ok(found)
        })
        .await
    }

    /// Reads one admin key and one project with the admin key, and one key of the
    /// connection's project (`params.project_id`) when it names one. Whether the admin key
    /// may also write (create and delete service accounts) read-only calls cannot tell.
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
        let mut paths = vec![
            ("/organization/admin_api_keys", "limit=1".to_string()),
            ("/organization/projects", "limit=1".to_string()),
        ];
        let project_keys = target
            .param("project_id")
            .ok()
            .map(|p| format!("/organization/projects/{}/api_keys", seg(p)));
        if let Some(path) = project_keys.as_deref() {
            paths.push((path, "limit=1&owner_project_access=any".to_string()));
        }
        for (path, query) in paths {
            let answer = guarded(&target, async {
                c.send(
                    reqwest::Method::GET,
                    Repeat::Safe,
                    &format!("{path}?{query}"),
                    None,
                )
                .await?
                .ok()
            })
            .await;
            report.answered(format!("GET {path}"), &answer);
        }
        report.fact("manages with", "an organization admin key");
        report
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            match kind_of(target)? {
                Kind::AdminKey => {
                    c.delete(&format!("/organization/admin_api_keys/{}", seg(remote_id)))
                        .await
                }
                Kind::ServiceAccount | Kind::ProjectKey => {
                    self.delete_project_key(&c, remote_id).await
                }
            }
        })
        .await
    }
}
