//! GitLab personal, project and group access tokens, on gitlab.com or a self-hosted
//! instance (`/api/v4` under the connection's endpoint): list, inspect, rotate, verify and
//! revoke, with the fields GitLab's API documentation describes.
//!
//! keyward manages them with `auth.token` on the connection (sent as `PRIVATE-TOKEN`). The
//! credential says which kind of token it is (`params.token_type`: `personal`, the default,
//! `project` with `params.project_id`, or `group` with `params.group_id`); its `remote_id` is
//! the token's id. GitLab rotates in place: the old token is revoked at once and the new one
//! has a new id, which the caller must record.
//!
//! What GitLab's answers mean (GitLab REST API docs, "Personal access tokens API", "Project
//! access tokens API", "Group access tokens API", and "Troubleshooting: 404 errors"):
//! * 404 on a token is also GitLab's answer when the management token may not see it, and a
//!   reverse proxy that decodes `%2F` in a project path (`acme%2Fbot`) produces 404s too, so
//!   a 404 never proves a token gone. GitLab keeps revoked and expired tokens (the lists
//!   filter them by `revoked` and `state`), so a revocation is confirmed only by GitLab
//!   showing the token revoked ([`Provider::find_key`]).
//! * 401 on a token means, for non-administrators, that it is revoked, expired or gone, as
//!   much as that the management token is bad: keyward asks
//!   `GET /personal_access_tokens/self` with the management token to tell them apart.
//! * Rotating a revoked token trips reuse detection (GitLab 16.3+): GitLab then revokes the
//!   whole token family, the token that replaced it included. The rotation engine reads the
//!   token before a resumed roll and never rolls one GitLab reports revoked.
//!
//! Risk rule: the scopes `api` (full read and write access to the API, as the token's user)
//! and `sudo` (act as any user, given an administrator's token) are flagged as broad.

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use url::Url;

use super::connection_check::{connection_target, Ability, ConnectionReport};
use super::http::{check_endpoint, Api, Call, Http, Repeat, Reply};
use super::{
    Capabilities, Deletion, ErrorKind, FoundKey, IssuedKey, KeySighting, Provider, ProviderError,
    RemoteKey, RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, Policy, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// gitlab.com; a self-hosted instance sets its base URL as the connection's endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://gitlab.com";

/// GitLab refuses an expiry more than a year ahead (by default).
const MAX_EXPIRY_DAYS: u32 = 365;
/// The largest page GitLab serves.
const PAGE_SIZE: u32 = 100;
/// A bound on pages read, so a server that always names a next page cannot loop us forever.
const MAX_PAGES: u32 = 100;

/// The GitLab access token provider.
pub struct Gitlab {
    api: Api,
}

impl Gitlab {
    /// A provider sharing `http`'s pool and per-provider limits.
    pub fn new(http: &Http) -> Self {
        Gitlab {
            api: http.api(ProviderKind::Gitlab),
        }
    }
}

/// Whose token it is, which decides the API paths.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    /// A user's personal access token.
    Personal,
    /// A project access token of this project (id or full path).
    Project(String),
    /// A group access token of this group (id or full path).
    Group(String),
}

impl Owner {
    /// The path segments of the owner's token collection, under `/api/v4`.
    fn collection(&self) -> Vec<&str> {
        match self {
            Owner::Personal => vec!["personal_access_tokens"],
            Owner::Project(id) => vec!["projects", id, "access_tokens"],
            Owner::Group(id) => vec!["groups", id, "access_tokens"],
        }
    }
}

/// A token as GitLab's token APIs describe it. `token` is present only in a rotate answer.
#[derive(Debug, Deserialize)]
struct GlToken {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    revoked: bool,
    active: bool,
    scopes: Vec<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expires_at: Option<NaiveDate>,
    #[serde(default)]
    last_used_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "optional_id_text")]
    user_id: Option<String>,
}

/// GitLab ids are numbers; accept them as numbers or strings and keep them as text.
fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) if !s.is_empty() => Ok(s),
        other => Err(serde::de::Error::custom(format!(
            "expected an id, found {other}"
        ))),
    }
}

fn optional_id_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) => Ok(Some(s)),
        other => Err(serde::de::Error::custom(format!(
            "expected an id, found {other}"
        ))),
    }
}

/// GitLab's expiry is a date; the token stops working as that day begins (UTC).
fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The new token's expiry: `today` plus the credential's rotation period, capped at a year.
fn rotation_expiry(today: NaiveDate, period_days: u32) -> NaiveDate {
    let days = period_days.clamp(1, MAX_EXPIRY_DAYS);
    today
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

fn risks_of(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .filter_map(|s| match s.as_str() {
            "api" => Some("scope `api` grants full read and write access to the API".to_string()),
            "sudo" => Some("scope `sudo` lets the token act as any user".to_string()),
            _ => None,
        })
        .collect()
}

fn remote_key(token: &GlToken) -> RemoteKey {
    let state = if token.revoked {
        RemoteStatus::Revoked
    } else if token.active {
        RemoteStatus::Active
    } else {
        RemoteStatus::Inactive
    };
    RemoteKey {
        remote_id: token.id.clone(),
        state,
        name: token.name.clone(),
        created_at: token.created_at,
        expires_at: token.expires_at.map(day_start),
        last_used_at: token.last_used_at,
        scopes: token.scopes.clone(),
        risks: risks_of(&token.scopes),
    }
}

/// `base` with `segments` appended as path segments, each percent-encoded (a project path
/// `acme/bot` becomes `acme%2Fbot`, as GitLab wants).
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A non-secret parameter from the credential, then its connection; absent is fine.
fn param<'a>(target: &'a Target, name: &str) -> Option<&'a str> {
    target
        .credential
        .params
        .get(name)
        .or_else(|| target.connection.as_ref().and_then(|c| c.params.get(name)))
        .map(String::as_str)
}

/// What one call needs: the API base, the token sent, the credential it is about.
struct Conn<'a> {
    api: Url,
    token: &'a Secret,
    target: &'a Target,
}

impl Gitlab {
    fn api_base(&self, target: &Target) -> Result<Url, ProviderError> {
        let endpoint = target.endpoint_or(DEFAULT_ENDPOINT);
        let url = check_endpoint(ProviderKind::Gitlab, Some(&target.at), &endpoint)?;
        if url.path().trim_end_matches('/').ends_with("/api/v4") {
            Ok(url)
        } else {
            Ok(join(&url, &["api", "v4"]))
        }
    }

    fn conn<'a>(&self, target: &'a Target) -> Result<Conn<'a>, ProviderError> {
        Ok(Conn {
            api: self.api_base(target)?,
            token: target.auth("token")?,
            target,
        })
    }

    fn owner(&self, target: &Target) -> Result<Owner, ProviderError> {
        let needs = |what: &str| {
            ProviderError::config(ProviderKind::Gitlab, Some(&target.at), what.to_string())
        };
        match param(target, "token_type").unwrap_or("personal") {
            "personal" => Ok(Owner::Personal),
            "project" => param(target, "project_id")
                .map(|id| Owner::Project(id.to_string()))
                .ok_or_else(|| needs("a project token needs `params.project_id`")),
            "group" => param(target, "group_id")
                .map(|id| Owner::Group(id.to_string()))
                .ok_or_else(|| needs("a group token needs `params.group_id`")),
            other => Err(needs(&format!(
                "`params.token_type` is `{other}`; expected personal, project or group"
            ))),
        }
    }

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
                    .header("PRIVATE-TOKEN", conn.token.expose_secret());
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
            .map_err(|e| e.redacting(conn.token))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        conn: &Conn<'_>,
        reply: Reply,
    ) -> Result<T, ProviderError> {
        reply.ok().map_err(|e| e.redacting(conn.token))?.json()
    }

    async fn get_token(
        &self,
        conn: &Conn<'_>,
        owner: &Owner,
        id: &str,
    ) -> Result<Option<GlToken>, ProviderError> {
        let mut segments = owner.collection();
        segments.push(id);
        let url = join(&conn.api, &segments);
        let reply = self
            .call(conn, reqwest::Method::GET, Repeat::Safe, &url, None)
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        self.decode(conn, reply).map(Some)
    }

    /// Every token of `owner`, following GitLab's `x-next-page` header.
    async fn list_tokens(
        &self,
        conn: &Conn<'_>,
        owner: &Owner,
        user_id: Option<&str>,
    ) -> Result<Vec<GlToken>, ProviderError> {
        let base = join(&conn.api, &owner.collection());
        let mut tokens = Vec::new();
        let mut page = 1u32;
        for _ in 0..MAX_PAGES {
            let mut url = base.clone();
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("per_page", &PAGE_SIZE.to_string())
                    .append_pair("page", &page.to_string());
                if let Some(user) = user_id {
                    query.append_pair("user_id", user);
                }
            }
            let reply = self
                .call(conn, reqwest::Method::GET, Repeat::Safe, &url, None)
                .await?;
            let next = reply
                .headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|n| *n > page);
            let batch: Vec<GlToken> = self.decode(conn, reply)?;
            tokens.extend(batch);
            match next {
                Some(n) => page = n,
                None => break,
            }
        }
        Ok(tokens)
    }

    /// Completes the error of a rotate call that failed: a rotation whose answer was lost
    /// (a timeout, a garbled body, a retried POST refused because the first one went through)
    /// has still revoked the old token, and the person must know the new value is gone.
    async fn after_failed_rotate(
        &self,
        conn: &Conn<'_>,
        owner: &Owner,
        id: &str,
        error: ProviderError,
    ) -> ProviderError {
        if error.status == Some(401) {
            return self.explain_401(conn, id, error).await;
        }
        if matches!(error.kind, ErrorKind::Config | ErrorKind::Unauthorized) {
            return error;
        }
        let note = match self.get_token(conn, owner, id).await {
            Ok(Some(t)) if t.revoked => format!(
                "GitLab has revoked token `{id}`, so the rotation went through but its answer \
                 was lost: the new value is unknown; create a replacement token in GitLab"
            ),
            Ok(Some(_)) => format!("token `{id}` is still active: nothing was rotated"),
            Ok(None) => format!("GitLab no longer knows token `{id}`"),
            Err(e) => format!(
                "could not check whether token `{id}` was rotated ({})",
                e.message
            ),
        };
        ProviderError {
            message: format!("{}; {note}", error.message),
            ..error
        }
    }

    /// Whether GitLab accepts the management token (`GET /personal_access_tokens/self`):
    /// tells a 401 about the token acted on from a 401 about the management token.
    async fn management_token_works(&self, conn: &Conn<'_>) -> Result<bool, ProviderError> {
        let reply = self.whoami(conn.target, conn.token).await?;
        match reply.status {
            200..=299 => Ok(true),
            401 => Ok(false),
            _ => Err(reply.into_error().redacting(conn.token)),
        }
    }

    /// The error for a 401 on token `id`: about the management token when GitLab refuses
    /// it, otherwise about the token itself (revoked, expired or gone, as GitLab answers
    /// non-administrators).
    async fn explain_401(&self, conn: &Conn<'_>, id: &str, error: ProviderError) -> ProviderError {
        match self.management_token_works(conn).await {
            Ok(false) => ProviderError {
                message: format!(
                    "{}; GitLab refuses the management token: renew `auth.token` on the connection",
                    error.message
                ),
                ..error
            },
            Ok(true) => ProviderError {
                kind: ErrorKind::NotFound,
                message: format!(
                    "{}; the management token works, so GitLab says token `{id}` is revoked, \
                     expired or gone (GitLab answers 401 for those): check it in GitLab",
                    error.message
                ),
                ..error
            },
            Err(e) => ProviderError {
                message: format!(
                    "{}; could not tell whether the management token or token `{id}` was \
                     refused ({})",
                    error.message, e.message
                ),
                ..error
            },
        }
    }

    /// `GET /personal_access_tokens/self` with `secret`: the token that secret is.
    async fn whoami(&self, target: &Target, secret: &Secret) -> Result<Reply, ProviderError> {
        let conn = Conn {
            api: self.api_base(target)?,
            token: secret,
            target,
        };
        let url = join(&conn.api, &["personal_access_tokens", "self"]);
        self.call(&conn, reqwest::Method::GET, Repeat::Safe, &url, None)
            .await
    }
}

#[async_trait]
impl Provider for Gitlab {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gitlab
    }

    /// GitLab.com allows 2,000 authenticated API requests a minute per user ("Current rate
    /// limits", docs.gitlab.com/user/gitlab_com/rate_limits/; announced at
    /// about.gitlab.com/blog/2020/12/17/automation-check-in-and-rate-limit-changes-on-gitlab-dot-com/,
    /// which adds that a 429 carries `Retry-After`, honoured by [`super::http`]).
    /// Self-managed instances have these per-user limits off unless an administrator turns
    /// them on (docs.gitlab.com/administration/settings/user_and_ip_rate_limits), so GitLab.com's
    /// figure is the tighter one; a connection with a lower limit sets `params.concurrency`.
    fn lane_size(&self) -> usize {
        super::pacing::lane_for_rate(2000.0 / 60.0)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::RollInPlace,
            can_deactivate: false,
            reports_expiry: true,
            reports_last_used: true,
            max_live_keys: None,
            can_verify: true,
        }
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        let conn = self.conn(target)?;
        let owner = self.owner(target)?;
        let token = self
            .get_token(&conn, &owner, target.remote_id("the GitLab token id")?)
            .await?;
        Ok(token.as_ref().map(remote_key))
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        let conn = self.conn(target)?;
        let owner = self.owner(target)?;
        // A personal token's siblings are its user's tokens: from `params.user_id`, else
        // from the token itself (an administrator's list would otherwise span every user).
        let user_id = match (
            &owner,
            param(target, "user_id"),
            target.credential.remote_id.as_deref(),
        ) {
            (Owner::Personal, Some(user), _) => Some(user.to_string()),
            (Owner::Personal, None, Some(id)) => self
                .get_token(&conn, &owner, id)
                .await?
                .and_then(|t| t.user_id),
            _ => None,
        };
        let tokens = self.list_tokens(&conn, &owner, user_id.as_deref()).await?;
        Ok(tokens.iter().map(remote_key).collect())
    }

    async fn roll(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        let conn = self.conn(target)?;
        let owner = self.owner(target)?;
        let id = target.remote_id("the GitLab token id")?;
        let period = target
            .credential
            .rotate_every_days
            .unwrap_or(Policy::default().rotate_every_days);
        let expires = rotation_expiry(Utc::now().date_naive(), period);
        let mut segments = owner.collection();
        segments.extend([id, "rotate"]);
        let url = join(&conn.api, &segments);
        let body = serde_json::json!({ "expires_at": expires.format("%Y-%m-%d").to_string() });
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
            Ok(reply) => self.decode::<Value>(&conn, reply),
            Err(e) => Err(e),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => return Err(self.after_failed_rotate(&conn, &owner, id, e).await),
        };
        let bad = |message: String| {
            ProviderError::new(
                ProviderKind::Gitlab,
                Some(&target.at),
                ErrorKind::BadResponse,
                message,
            )
            .with_request(format!("POST {}", url.path()))
        };
        // GitLab revoked the old token already: whatever of the answer is usable is kept.
        let Some(secret) = answer.get("token").and_then(Value::as_str).map(Secret::new) else {
            return Err(bad(format!(
                "GitLab rotated token `{id}` but its answer lacks the new value; the old token is \
                 revoked: rotate the new one in GitLab's settings"
            )));
        };
        let token = match serde_json::from_value::<GlToken>(answer) {
            Ok(token) => token,
            // The answer lacks the new id or a documented field: ask GitLab with the new token.
            Err(_) => {
                let looked_up = match self.whoami(target, &secret).await {
                    Ok(reply) => reply.ok().and_then(|r| r.json::<GlToken>()),
                    Err(e) => Err(e),
                };
                looked_up.map_err(|e| {
                    bad(format!(
                        "GitLab rotated token `{id}` but its answer does not describe the new \
                         token, and asking with the new token failed ({}); the old token is revoked",
                        e.message
                    ))
                    .redacting(&secret)
                })?
            }
        };
        Ok(IssuedKey {
            remote_id: token.id,
            secret,
            created_at: token.created_at,
            expires_at: token.expires_at.map(day_start).or(Some(day_start(expires))),
            scopes: token.scopes,
            params: Default::default(),
        })
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let reply = match self.whoami(target, secret).await {
            Ok(reply) => reply,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        match reply.status {
            401 => {
                return Verification::Invalid {
                    reason: format!(
                        "GitLab refused the token: {}",
                        secret.redact(&reply.excerpt())
                    ),
                }
            }
            403 => {
                return Verification::CannotCheck {
                    reason: "GitLab refused to describe the token (HTTP 403): its scopes do not \
                             allow reading itself"
                        .to_string(),
                }
            }
            _ => {}
        }
        let token: GlToken = match reply.ok().and_then(|r| r.json()) {
            Ok(token) => token,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.redacting(secret).to_string(),
                }
            }
        };
        if let Some(expected) = remote_id.filter(|id| *id != token.id) {
            return Verification::Invalid {
                reason: format!(
                    "the secret belongs to token `{}`, not `{expected}`",
                    token.id
                ),
            };
        }
        if token.revoked {
            Verification::Invalid {
                reason: "GitLab says the token is revoked".to_string(),
            }
        } else if !token.active {
            Verification::Invalid {
                reason: "GitLab says the token is inactive (expired)".to_string(),
            }
        } else {
            Verification::Valid
        }
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        let conn = self.conn(target)?;
        let owner = self.owner(target)?;
        let mut segments = owner.collection();
        segments.push(remote_id);
        let url = join(&conn.api, &segments);
        let reply = self
            .call(&conn, reqwest::Method::DELETE, Repeat::Safe, &url, None)
            .await?;
        match reply.status {
            200..=299 => Ok(Deletion::Deleted),
            // Gone, or hidden from the management token: `find_key` tells.
            404 => Ok(Deletion::NotFound {
                said: format!("HTTP 404: {}", conn.token.redact(&reply.excerpt())),
            }),
            401 => {
                let error = reply.into_error().redacting(conn.token);
                match self.explain_401(&conn, remote_id, error).await {
                    e if e.kind == ErrorKind::NotFound => Ok(Deletion::NotFound {
                        said: format!("HTTP 401 while the management token works: {}", e.message),
                    }),
                    e => Err(e),
                }
            }
            // GitLab may refuse to revoke a token that is revoked already: that is success
            // when GitLab shows it revoked.
            400 | 409 | 422 => match self.get_token(&conn, &owner, remote_id).await {
                Ok(Some(t)) if t.revoked => Ok(Deletion::AlreadyRevoked),
                _ => Err(reply.into_error().redacting(conn.token)),
            },
            _ => Err(reply.into_error().redacting(conn.token)),
        }
    }

    /// GitLab keeps revoked and expired tokens, readable by id and listed: a token it shows
    /// neither way is not proof of anything (the management token may not see it).
    async fn find_key(
        &self,
        target: &Target,
        remote_id: &str,
    ) -> Result<KeySighting, ProviderError> {
        let conn = self.conn(target)?;
        let owner = self.owner(target)?;
        if let Some(t) = self.get_token(&conn, &owner, remote_id).await? {
            return Ok(KeySighting::Listed(remote_key(&t)));
        }
        let user_id = match owner {
            Owner::Personal => param(target, "user_id"),
            _ => None,
        };
        let listed = self.list_tokens(&conn, &owner, user_id).await?;
        Ok(match listed.iter().find(|t| t.id == remote_id) {
            Some(t) => KeySighting::Listed(remote_key(t)),
            None => KeySighting::NotVisible(format!(
                "GitLab shows token `{remote_id}` neither by id nor in the listing, though it \
                 keeps revoked tokens: the management token may not be allowed to see it, or a \
                 proxy that decodes `%2F` misrouted the request; check in GitLab"
            )),
        })
    }

    /// The personal access tokens the management token can see (its own user's; every
    /// user's for an administrator), then the access tokens of the project and the group the
    /// connection names (`params.project_id`, `params.group_id`), every page of each.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        let conn = self.conn(&target)?;
        let mut found: Vec<FoundKey> = self
            .list_tokens(&conn, &Owner::Personal, None)
            .await?
            .iter()
            .map(|t| {
                let key = FoundKey::new(remote_key(t)).with_param("token_type", "personal");
                match &t.user_id {
                    Some(user) => key
                        .owned_by(format!("user {user}"))
                        .with_param("user_id", user.clone()),
                    None => key,
                }
            })
            .collect();
        for (owner, kind, param_name) in [
            (
                param(&target, "project_id").map(|p| Owner::Project(p.to_string())),
                "project",
                "project_id",
            ),
            (
                param(&target, "group_id").map(|g| Owner::Group(g.to_string())),
                "group",
                "group_id",
            ),
        ] {
            let Some(owner) = owner else { continue };
            let id = match &owner {
                Owner::Project(id) | Owner::Group(id) => id.clone(),
                Owner::Personal => continue,
            };
            for t in self.list_tokens(&conn, &owner, None).await? {
                found.push(
                    FoundKey::new(remote_key(&t))
                        .owned_by(format!("{kind} {id}"))
                        .with_param("token_type", kind)
                        .with_param(param_name, id.clone()),
                );
            }
        }
        Ok(found)
    }

    /// Asks GitLab about the management token itself (`GET /personal_access_tokens/self`,
    /// documented in "Personal access tokens API"): its scopes, whether it is active, when it
    /// expires. Rotating and revoking tokens needs the `api` scope; for project and group
    /// tokens the token's user also needs the Maintainer (or Owner) role, which this call
    /// cannot show.
    async fn check_connection(&self, connection: &Connection) -> ConnectionReport {
        let mut report = ConnectionReport::new(connection);
        let target = connection_target(connection);
        let call = "GET /personal_access_tokens/self";
        let token = match target.auth("token") {
            Ok(t) => t,
            Err(e) => {
                report.note = Some(e.to_string());
                return report;
            }
        };
        let answer = match self.whoami(&target, token).await {
            Ok(reply) => reply
                .ok()
                .and_then(|r| r.json::<GlToken>())
                .map_err(|e| e.redacting(token)),
            Err(e) => Err(e),
        };
        let me = match answer {
            Ok(me) => me,
            Err(e) => {
                if super::connection_check::ProbeOutcome::of_error(&e)
                    == super::connection_check::ProbeOutcome::Refused
                {
                    report.can_create = Ability::No;
                    report.can_revoke = Ability::No;
                    report.note = Some(
                        "GitLab refuses the management token (revoked, expired or wrong): \
                         renew `auth.token` on the connection"
                            .into(),
                    );
                }
                report.failed(call, &e);
                return report;
            }
        };
        report.allowed(call);
        report.fact("token id", me.id.clone());
        if let Some(name) = &me.name {
            report.fact("token name", crate::text::terminal_safe(name));
        }
        report.fact("scopes", crate::text::terminal_safe(&me.scopes.join(" ")));
        report.fact("active", if me.active { "yes" } else { "no" });
        report.fact(
            "expires at",
            me.expires_at
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "never".into()),
        );
        let able = me.active && !me.revoked && me.scopes.iter().any(|s| s == "api");
        report.can_create = Ability::from_bool(able);
        report.can_revoke = Ability::from_bool(able);
        report.note = Some(if !me.active || me.revoked {
            "the management token is not active: create a new one with the `api` scope".into()
        } else if able {
            "project and group tokens also need the Maintainer (or Owner) role on them, \
             which this check cannot see"
                .into()
        } else {
            "the management token lacks the `api` scope, which rotating and revoking tokens \
             need: create one with it"
                .into()
        });
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_expiry_adds_the_period_capped_at_a_year() {
        let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(
            rotation_expiry(today, 30),
            NaiveDate::from_ymd_opt(2025, 1, 31).unwrap()
        );
        assert_eq!(
            rotation_expiry(today, 1000),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
        assert_eq!(
            rotation_expiry(today, 0),
            NaiveDate::from_ymd_opt(2025, 1, 2).unwrap()
        );
    }

    #[test]
    fn api_and_sudo_scopes_are_broad() {
        let scopes = ["read_api", "api", "sudo", "read_repository"].map(String::from);
        let risks = risks_of(&scopes);
        assert_eq!(risks.len(), 2);
        assert!(risks[0].contains("`api`") && risks[1].contains("`sudo`"));
        assert!(risks_of(&["read_api".to_string()]).is_empty());
    }

    #[test]
    fn documented_token_parses_with_date_expiry_and_states() {
        let t: GlToken = serde_json::from_value(serde_json::json!({
            "user_id": 141, "scopes": ["api"], "name": "token", "expires_at": "2021-01-31",
            "id": 42, "active": false, "created_at": "2021-01-20T22:11:48.151Z",
            "revoked": true, "access_level": 40, "last_used_at": null
        }))
        .unwrap();
        let key = remote_key(&t);
        assert_eq!(key.remote_id, "42");
        assert_eq!(key.state, RemoteStatus::Revoked);
        assert_eq!(
            key.expires_at.unwrap().to_rfc3339(),
            "2021-01-31T00:00:00+00:00"
        );
        assert_eq!(t.user_id.as_deref(), Some("141"));
    }
}
