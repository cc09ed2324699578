//! Twilio API keys, as documented in twilio/twilio-oai: the 2010-04-01 API on
//! `api.twilio.com` (`/2010-04-01/Accounts/{AccountSid}/Keys…`) by default, or the IAM v1
//! API on `iam.twilio.com` (`/v1/Keys…`, which also knows restricted keys) when the
//! credential or connection says `params.api: iam`.
//!
//! Connection: `params.account_sid` (the `AC…` account), and HTTP basic credentials in
//! `auth`: either `api_key_sid` + `api_key_secret` (a *Main* API key: Twilio lets only Main
//! keys and the Auth Token manage keys) or `auth_token` (used with the account SID).
//! `endpoint` overrides `https://api.twilio.com`; `params.iam_endpoint` overrides
//! `https://iam.twilio.com`, and defaults to `endpoint` when only that is set, so one local
//! stand-in can serve both. The credential's `remote_id` is the key's `SK…` SID; its secret
//! is the key's secret (consumers authenticate with SID and secret together).
//!
//! IAM subset: list, fetch (a restricted key's `policy.allow` becomes its scopes), create
//! (a restricted old key's policy is copied onto the new key; if the old key is gone, the
//! credential's recorded `scopes` become the new key's `allow` list) and delete. Updating a
//! policy is left to the console.
//!
//! Rotation is create-then-revoke. The API reports neither expiry nor last use.
//!
//! Key types ([`KeyType`], `params.key_type` on the credential, else inferred): Twilio's
//! "Types of keys" table (twilio.com/docs/iam/api-keys/keys-in-console) says a *Main* key
//! reaches everything, a *Standard* key everything except the Accounts (`/Accounts`) and
//! Keys (`/Accounts/{SID}/Keys`, `/v1/Keys`) resources, and a *Restricted* key only what
//! its policy allows; Main keys can be created only in the Console. So:
//!
//! * a Main key is rotated by hand ([`Provider::capabilities_for`] says manual, `create`
//!   refuses): an API-made replacement would be a Standard key that can no longer manage keys;
//! * verify makes a call the key may make: the account fetch for a Main key, the message list
//!   (`GET …/Messages.json?PageSize=1`) for a Standard key and for a Restricted key whose
//!   policy allows `/twilio/messaging/messages/read`; any other Restricted key cannot be
//!   checked. A Standard key fetching the account gets 401 (error 20003, see
//!   twilio/twilio-python#259), which would read as "invalid".

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use url::Url;

use super::connection_check::{connection_target, Ability, ConnectionReport, ProbeOutcome};
use super::error::{ErrorKind, ProviderError};
use super::http::{check_endpoint, Api, Call, Http, Repeat, Reply};
use super::saas::{
    after_create, base_url, display_name, guarded, id_in, replacement_name, seg, verification,
    MAX_PAGES,
};
use super::Deletion;
use super::{
    Capabilities, FoundKey, IssuedKey, Provider, RemoteKey, RotationStyle, Target, Verification,
};
use crate::inventory::{Connection, ProviderKind, RemoteStatus};
use crate::secret::Secret;

/// The REST API.
const DEFAULT_ENDPOINT: &str = "https://api.twilio.com";
/// The IAM API.
const DEFAULT_IAM_ENDPOINT: &str = "https://iam.twilio.com";
/// `FriendlyName` "can be up to 64 characters long".
const NAME_MAX: usize = 64;
/// The largest page Twilio serves.
const PAGE_SIZE: &str = "1000";

/// Twilio's API keys.
pub struct Twilio {
    api: Api,
}

impl Twilio {
    /// A client on the shared `http`.
    pub fn new(http: &Http) -> Self {
        Twilio {
            api: http.api(ProviderKind::Twilio),
        }
    }
}

/// The permission a Restricted key needs for the call verify makes with it.
const MESSAGES_READ: &str = "/twilio/messaging/messages/read";

/// Twilio's three kinds of API key, which decide what a key may call and how it is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Full access, like the account's Auth Token; created only in the Console.
    Main,
    /// Everything except the Accounts and Keys resources.
    Standard,
    /// Only what its policy allows (IAM v1 API).
    Restricted,
}

impl KeyType {
    /// The type's name, as Twilio's documentation and `params.key_type` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Main => "main",
            KeyType::Standard => "standard",
            KeyType::Restricted => "restricted",
        }
    }

    fn parse(text: &str) -> Option<KeyType> {
        [KeyType::Main, KeyType::Standard, KeyType::Restricted]
            .into_iter()
            .find(|t| t.as_str() == text)
    }

    /// The type of the key `target` is about: `params.key_type` when set; else Main when it
    /// is the connection's own management key (only a Main key may manage keys), Restricted
    /// when permissions are recorded for it, Standard otherwise.
    pub fn of(target: &Target) -> Result<KeyType, ProviderError> {
        if let Some(text) = target.credential.params.get("key_type") {
            return KeyType::parse(text).ok_or_else(|| {
                ProviderError::config(
                    ProviderKind::Twilio,
                    Some(&target.at),
                    format!("`params.key_type` is `{text}`; expected `main`, `standard` or `restricted`"),
                )
            });
        }
        let management = target
            .auth("api_key_sid")
            .ok()
            .map(|s| s.expose_secret().to_string());
        if management.is_some() && target.credential.remote_id == management {
            return Ok(KeyType::Main);
        }
        Ok(if target.credential.scopes.is_empty() {
            KeyType::Standard
        } else {
            KeyType::Restricted
        })
    }
}

/// Why a Main key is not rotated through the API, for plans ([`Provider::manual_because`]) and
/// the error `create` answers with. Per twilio.com/docs/iam/api-keys/keys-in-console ("Types
/// of keys"): Main keys can be created only in the Console.
const MAIN_KEY_MANUAL: &str = "a Main key is rotated by hand: Twilio creates Main keys only in \
     the Console (twilio.com/docs/iam/api-keys/keys-in-console), and a key made through the \
     API would be a Standard key, which cannot reach the Accounts and Keys resources the old \
     one could";

/// Which of Twilio's two key APIs a credential uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    V2010,
    Iam,
}

/// One call's context.
struct Conn<'a> {
    api: &'a Api,
    target: &'a Target,
    flavor: Flavor,
    /// The base of the API the key calls go to (REST or IAM).
    base: String,
    account: &'a str,
    user: &'a str,
    password: &'a Secret,
}

impl<'a> Conn<'a> {
    fn new(p: &'a Twilio, target: &'a Target) -> Result<Self, ProviderError> {
        let flavor = match target.param("api").ok() {
            None | Some("2010-04-01") | Some("2010") => Flavor::V2010,
            Some("iam") => Flavor::Iam,
            Some(other) => {
                return Err(ProviderError::config(
                    ProviderKind::Twilio,
                    Some(&target.at),
                    format!("`params.api` is `{other}`; expected `iam` or `2010-04-01`"),
                ))
            }
        };
        let account = target.param("account_sid")?;
        let (user, password) = match (target.auth("api_key_sid"), target.auth("api_key_secret")) {
            (Ok(sid), Ok(secret)) => (sid.expose_secret(), secret),
            _ => (
                account,
                target.auth("auth_token").map_err(|_| {
                    ProviderError::config(
                        ProviderKind::Twilio,
                        Some(&target.at),
                        "the connection needs `auth.api_key_sid` and `auth.api_key_secret` \
                         (a Main API key) or `auth.auth_token`",
                    )
                })?,
            ),
        };
        let base = match flavor {
            Flavor::V2010 => base_url(target, DEFAULT_ENDPOINT)?,
            Flavor::Iam => iam_base(target)?,
        };
        Ok(Conn {
            api: &p.api,
            target,
            flavor,
            base,
            account,
            user,
            password,
        })
    }

    /// The path of the key `sid`.
    fn key_path(&self, sid: &str) -> String {
        match self.flavor {
            Flavor::V2010 => format!(
                "/2010-04-01/Accounts/{}/Keys/{}.json",
                seg(self.account),
                seg(sid)
            ),
            Flavor::Iam => format!("/v1/Keys/{}", seg(sid)),
        }
    }

    /// Sends `METHOD path` (a path on `self.base`, query allowed) with the management
    /// credentials; `form` is the form body, if any.
    async fn send(
        &self,
        method: reqwest::Method,
        repeat: Repeat,
        path: &str,
        form: Option<&[(&str, String)]>,
    ) -> Result<Reply, ProviderError> {
        let shown = path.split('?').next().unwrap_or(path);
        let call = Call::new(Some(&self.target.at), method.as_str(), shown, repeat);
        let url = format!("{}{path}", self.base);
        let build = |c: &reqwest::Client| {
            let r = c
                .request(method.clone(), &url)
                .basic_auth(self.user, Some(self.password.expose_secret()));
            match form {
                Some(f) => r.form(f),
                None => r,
            }
        };
        self.api.send(&call, build).await
    }

    /// Deletes the key `sid`; a key Twilio does not know is deleted already.
    async fn delete(&self, sid: &str) -> Result<Deletion, ProviderError> {
        let reply = self
            .send(
                reqwest::Method::DELETE,
                Repeat::Safe,
                &self.key_path(sid),
                None,
            )
            .await?;
        reply.deletion()
    }

    async fn fetch(&self, sid: &str) -> Result<Option<KeyEntry>, ProviderError> {
        let reply = self
            .send(
                reqwest::Method::GET,
                Repeat::Safe,
                &self.key_path(sid),
                None,
            )
            .await?;
        if reply.status == 404 {
            return Ok(None);
        }
        reply.ok()?.json().map(Some)
    }

    /// Every page of the key list. Next-page links are followed only on the same origin, so
    /// a tampered answer cannot send the management credentials elsewhere.
    async fn list(&self) -> Result<Vec<KeyEntry>, ProviderError> {
        let mut path = match self.flavor {
            Flavor::V2010 => format!(
                "/2010-04-01/Accounts/{}/Keys.json?PageSize={PAGE_SIZE}",
                seg(self.account)
            ),
            Flavor::Iam => format!(
                "/v1/Keys?AccountSid={}&PageSize={PAGE_SIZE}",
                seg(self.account)
            ),
        };
        let first = path.split('?').next().unwrap_or_default().to_string();
        let mut keys = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self
                .send(reqwest::Method::GET, Repeat::Safe, &path, None)
                .await?
                .ok()?;
            let page: KeyPage = reply.json()?;
            keys.extend(page.keys);
            let next = page
                .next_page_uri
                .or_else(|| page.meta.and_then(|m| m.next_page_url));
            match next.filter(|n| !n.is_empty()) {
                None => return Ok(keys),
                Some(next) => {
                    let same = self.same_origin_path(&next).ok_or_else(|| {
                        reply.bad_response("the next-page link leaves the API's origin")
                    })?;
                    if same == path {
                        return Ok(keys); // a link to itself: the list ends here
                    }
                    path = same;
                }
            }
        }
        Err(self.api.error(
            &Call::new(Some(&self.target.at), "GET", &first, Repeat::Safe),
            ErrorKind::BadResponse,
            format!("the key list did not end after {MAX_PAGES} pages"),
        ))
    }

    /// `link` (relative or absolute) as a path and query on `self.base`'s origin; `None` if
    /// it points elsewhere.
    fn same_origin_path(&self, link: &str) -> Option<String> {
        let base = Url::parse(&self.base).ok()?;
        let url = base.join(link).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
        let prefix = base.path().trim_end_matches('/');
        let path = url.path().strip_prefix(prefix).unwrap_or(url.path());
        Some(match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        })
    }
}

/// The IAM API's base: `params.iam_endpoint`, else the connection's endpoint, else public.
fn iam_base(target: &Target) -> Result<String, ProviderError> {
    match target.param("iam_endpoint").ok() {
        Some(e) => {
            check_endpoint(ProviderKind::Twilio, Some(&target.at), e)?;
            Ok(e.trim_end_matches('/').to_string())
        }
        None => base_url(target, DEFAULT_IAM_ENDPOINT),
    }
}

#[derive(Deserialize)]
struct KeyEntry {
    sid: String,
    friendly_name: Option<String>,
    date_created: Option<String>,
    /// IAM only: a restricted key's policy, `null` for a standard key.
    #[serde(default)]
    policy: Option<serde_json::Value>,
}

impl KeyEntry {
    fn into_remote(self) -> RemoteKey {
        let mut key = RemoteKey::new(self.sid, RemoteStatus::Active);
        key.name = self.friendly_name;
        key.created_at = rfc2822(self.date_created.as_deref());
        key.scopes = policy_scopes(self.policy.as_ref());
        key
    }
}

#[derive(Deserialize)]
struct KeyPage {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    /// 2010-04-01: relative link to the next page.
    next_page_uri: Option<String>,
    /// IAM: `meta.next_page_url`, absolute.
    meta: Option<PageMeta>,
}

#[derive(Deserialize)]
struct PageMeta {
    next_page_url: Option<String>,
}

#[derive(Deserialize)]
struct NewKey {
    sid: String,
    secret: Secret,
    date_created: Option<String>,
    #[serde(default)]
    policy: Option<serde_json::Value>,
}

/// Twilio dates are RFC 2822 (`Mon, 13 Jun 2016 22:50:08 +0000`); an unreadable one is
/// unknown rather than an error, since no decision rests on it.
fn rfc2822(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A restricted key's permissions: `policy.allow`.
fn policy_scopes(policy: Option<&serde_json::Value>) -> Vec<String> {
    policy
        .and_then(|p| p.get("allow"))
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Provider for Twilio {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Twilio
    }

    /// Twilio limits concurrent REST API requests per account, not their rate, and does not
    /// publish the figure: a 429 (error 20429) means "too many concurrent requests", is never
    /// processed and is safe to retry with exponential backoff (twilio.com/docs/api/errors/20429,
    /// twilio.com/docs/usage/rest-api-best-practices). The 100 often quoted comes from no Twilio
    /// page, so the lane is the one of a provider that documents no limit; a connection whose
    /// account is known to allow more sets `params.concurrency`.
    fn lane_size(&self) -> usize {
        super::pacing::UNDOCUMENTED_LANE
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rotation: RotationStyle::CreateThenRevoke,
            can_deactivate: false,
            // Keys never expire, and the API does not say when one was last used.
            reports_expiry: false,
            reports_last_used: false,
            max_live_keys: None,
            can_verify: true,
        }
    }

    fn capabilities_for(&self, target: &Target) -> Capabilities {
        let mut caps = self.capabilities();
        if matches!(KeyType::of(target), Ok(KeyType::Main)) {
            caps.rotation = RotationStyle::Manual;
        }
        caps
    }

    /// A Main key: the API cannot issue one, so the plan says manual with the reason.
    fn manual_because(&self, target: &Target) -> Option<String> {
        matches!(KeyType::of(target), Ok(KeyType::Main)).then(|| MAIN_KEY_MANUAL.to_string())
    }

    async fn inspect(&self, target: &Target) -> Result<Option<RemoteKey>, ProviderError> {
        guarded(target, async {
            let sid = target.remote_id("the API key's SK… SID")?;
            let c = Conn::new(self, target)?;
            Ok(c.fetch(sid).await?.map(KeyEntry::into_remote))
        })
        .await
    }

    async fn list(&self, target: &Target) -> Result<Vec<RemoteKey>, ProviderError> {
        guarded(target, async {
            let c = Conn::new(self, target)?;
            Ok(c.list()
                .await?
                .into_iter()
                .map(KeyEntry::into_remote)
                .collect())
        })
        .await
    }

    async fn create(&self, target: &Target) -> Result<IssuedKey, ProviderError> {
        guarded(target, async {
            if KeyType::of(target)? == KeyType::Main {
                return Err(ProviderError::new(
                    ProviderKind::Twilio,
                    Some(&target.at),
                    ErrorKind::Unsupported,
                    format!("cannot create a replacement: {MAIN_KEY_MANUAL}"),
                ));
            }
            let c = Conn::new(self, target)?;
            let old = match target.credential.remote_id.as_deref() {
                Some(sid) => c.fetch(sid).await?,
                None => None,
            };
            let base = old
                .as_ref()
                .and_then(|k| k.friendly_name.clone())
                .unwrap_or_else(|| display_name(target));
            let mut form = vec![(
                "FriendlyName",
                replacement_name(&base, Utc::now(), NAME_MAX),
            )];
            let path = match c.flavor {
                Flavor::V2010 => format!("/2010-04-01/Accounts/{}/Keys.json", seg(c.account)),
                Flavor::Iam => {
                    form.push(("AccountSid", c.account.to_string()));
                    // The old key's policy; if it is gone, the permissions recorded for
                    // it, so a lost restricted key is never replaced by a standard one.
                    let recorded = &target.credential.scopes;
                    let policy =
                        old.and_then(|k| k.policy)
                            .filter(|p| !p.is_null())
                            .or_else(|| {
                                (!recorded.is_empty())
                                    .then(|| serde_json::json!({ "allow": recorded }))
                            });
                    if let Some(policy) = policy {
                        form.push(("KeyType", "restricted".to_string()));
                        form.push(("Policy", policy.to_string()));
                    }
                    "/v1/Keys".to_string()
                }
            };
            let reply = c
                .send(reqwest::Method::POST, Repeat::Never, &path, Some(&form))
                .await
                .and_then(Reply::ok)
                .map_err(|e| after_create(e, "a key", None))?;
            let created: NewKey = match reply.json() {
                Ok(created) => created,
                Err(e) => {
                    let cleanup = match id_in(&reply, "sid") {
                        Some(sid) => Some(c.delete(&sid).await),
                        None => None,
                    };
                    return Err(after_create(e, "a key", cleanup));
                }
            };
            Ok(IssuedKey {
                remote_id: created.sid,
                secret: created.secret,
                created_at: rfc2822(created.date_created.as_deref()).or_else(|| Some(Utc::now())),
                expires_at: None,
                scopes: policy_scopes(created.policy.as_ref()),
                params: Default::default(),
            })
        })
        .await
    }

    async fn verify(
        &self,
        target: &Target,
        remote_id: Option<&str>,
        secret: &Secret,
    ) -> Verification {
        let Some(sid) = remote_id.or(target.credential.remote_id.as_deref()) else {
            return Verification::CannotCheck {
                reason: "no key SID: Twilio checks a key by its SID and secret together".into(),
            };
        };
        let (base, account) = match (
            base_url(target, DEFAULT_ENDPOINT),
            target.param("account_sid"),
        ) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        let key_type = match KeyType::of(target) {
            Ok(t) => t,
            Err(e) => {
                return Verification::CouldNotCheck {
                    reason: e.to_string(),
                }
            }
        };
        // A call this type of key may make: a Standard key fetching the account gets 401
        // (error 20003), which would read as a dead key.
        let (path, query, desc) = match key_type {
            KeyType::Main => (
                format!("/2010-04-01/Accounts/{}.json", seg(account)),
                "",
                "GET the account with the Main key",
            ),
            KeyType::Restricted if !target.credential.scopes.iter().any(|s| s == MESSAGES_READ) => {
                return Verification::CannotCheck {
                    reason: format!(
                        "a Restricted key may call only what its policy allows, and it does not \
                         allow `{MESSAGES_READ}`, the read-only call keyward checks keys with: \
                         check it by hand"
                    ),
                }
            }
            KeyType::Standard | KeyType::Restricted => (
                format!("/2010-04-01/Accounts/{}/Messages.json", seg(account)),
                "?PageSize=1",
                "GET one message with the key",
            ),
        };
        let call = Call::new(Some(&target.at), "GET", &path, Repeat::Safe);
        let url = format!("{base}{path}{query}");
        let outcome = self
            .api
            .send(&call, |c| {
                c.get(&url).basic_auth(sid, Some(secret.expose_secret()))
            })
            .await;
        verification(target, outcome, secret, desc)
    }

    async fn delete(&self, target: &Target, remote_id: &str) -> Result<Deletion, ProviderError> {
        guarded(target, async {
            Conn::new(self, target)?.delete(remote_id).await
        })
        .await
    }

    /// The account's API keys, every page.
    async fn discover(&self, connection: &Connection) -> Result<Vec<FoundKey>, ProviderError> {
        let target = connection_target(connection);
        let owner = target
            .param("account_sid")
            .ok()
            .map(|s| format!("account {s}"));
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

    /// Lists one key and fetches the account with the management credential. Only a Main
    /// key (or the Auth Token) reaches the Keys resource, so the listing tells a Main key
    /// from a Standard or Restricted one, and whether it may create and revoke keys.
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
        let with_key = target.auth("api_key_sid").is_ok() && target.auth("api_key_secret").is_ok();
        report.fact(
            "manages with",
            if with_key {
                "an API key"
            } else {
                "the Auth Token"
            },
        );
        let list = match c.flavor {
            Flavor::V2010 => format!("/2010-04-01/Accounts/{}/Keys.json", seg(c.account)),
            Flavor::Iam => "/v1/Keys".to_string(),
        };
        let query = match c.flavor {
            Flavor::V2010 => "?PageSize=1".to_string(),
            Flavor::Iam => format!("?AccountSid={}&PageSize=1", seg(c.account)),
        };
        let listed = guarded(&target, async {
            c.send(
                reqwest::Method::GET,
                Repeat::Safe,
                &format!("{list}{query}"),
                None,
            )
            .await?
            .ok()
        })
        .await;
        match listed {
            Ok(_) => {
                report.allowed(format!("GET {list}"));
                if with_key {
                    report.fact("key type", KeyType::Main.as_str());
                }
                report.can_create = Ability::Yes;
                report.can_revoke = Ability::Yes;
            }
            Err(e) => {
                if with_key && e.status == Some(401) {
                    report.fact("key type", "standard or restricted (not main)");
                    report.note = Some(
                        "only a Main key (or the Auth Token) may manage keys: create one in the \
                         Console"
                            .into(),
                    );
                }
                let refused = ProbeOutcome::of_error(&e) == ProbeOutcome::Refused;
                report.failed(format!("GET {list}"), &e);
                if refused {
                    report.can_create = Ability::No;
                    report.can_revoke = Ability::No;
                }
            }
        }
        let account = format!("/2010-04-01/Accounts/{}.json", seg(c.account));
        let fetched = guarded(&target, async {
            let base = base_url(&target, DEFAULT_ENDPOINT)?;
            let call = Call::new(Some(&target.at), "GET", &account, Repeat::Safe);
            let url = format!("{base}{account}");
            let reply = self
                .api
                .send(&call, |h| {
                    h.get(&url)
                        .basic_auth(c.user, Some(c.password.expose_secret()))
                })
                .await?
                .ok()?;
            reply.json::<serde_json::Value>()
        })
        .await;
        match fetched {
            Ok(v) => {
                report.allowed(format!("GET {account}"));
                if let Some(status) = v["status"].as_str() {
                    report.fact("account status", status);
                }
            }
            Err(e) => report.failed(format!("GET {account}"), &e),
        }
        report
    }
}
