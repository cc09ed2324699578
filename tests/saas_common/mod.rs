//! Shared set-up for the OpenAI, Twilio and SendGrid provider tests: a fast HTTP client,
//! targets for each provider, and stateful wiremock fakes of the three key APIs built from
//! the shapes in their OpenAPI specs (tests/specs/ and /work/shared/provider-specs/).
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use keyward::inventory::{Connection, Credential, CredentialRef, ProviderKind};
use keyward::providers::http::Http;
use keyward::providers::Target;
use keyward::secret::Secret;
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The credential every test works on.
pub const AT: &str = "acme/mail";
/// SendGrid management key: short enough that only keyward's own scrubbing can mask it.
pub const SG_ADMIN: &str = "SG.mgmt.adminkey-7";
/// What the SendGrid management key holds: key management, and mail (what it was made for).
pub const SG_ADMIN_SCOPES: [&str; 5] = [
    "api_keys.create",
    "api_keys.delete",
    "api_keys.read",
    "api_keys.update",
    "mail.send",
];
/// Twilio Main key SID and secret keyward manages keys with.
pub const TW_MAIN_SID: &str = "SK0123456789abcdef0123456789abcdef";
/// The Main key's secret.
pub const TW_MAIN_SECRET: &str = "main-secret-7";
/// Twilio account.
pub const TW_ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// OpenAI admin key.
pub const OA_ADMIN: &str = "sk-admin-mgmt-7";
/// OpenAI project.
pub const OA_PROJECT: &str = "proj_abc";

/// A client with short timeouts and 5 ms backoff: three attempts in all.
pub fn fast_http() -> Http {
    http_with(Duration::from_secs(5), 3)
}

/// A client with this per-attempt timeout and attempt count.
pub use crate::support::http::fast_http as http_with;

fn connection(
    provider: ProviderKind,
    endpoint: &str,
    auth: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Connection {
    Connection {
        id: format!("{provider}-conn"),
        provider,
        endpoint: Some(endpoint.to_string()),
        auth: auth
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A target for `provider` at `AT`, managed through `conn`.
pub fn target(
    provider: ProviderKind,
    conn: Connection,
    remote_id: Option<&str>,
    params: &[(&str, &str)],
) -> Target {
    let at: CredentialRef = AT.parse().expect("valid address");
    let mut credential = Credential::new(at.integration.clone(), provider);
    credential.name = "Mail bot".to_string();
    credential.connection = Some(conn.id.clone());
    credential.remote_id = remote_id.map(str::to_string);
    credential.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>();
    Target {
        at,
        credential,
        connection: Some(conn),
    }
}

/// A SendGrid target on `endpoint` for the key `remote_id`.
pub fn sendgrid(endpoint: &str, remote_id: Option<&str>) -> Target {
    let conn = connection(
        ProviderKind::Sendgrid,
        endpoint,
        &[("api_key", SG_ADMIN)],
        &[],
    );
    target(ProviderKind::Sendgrid, conn, remote_id, &[])
}

/// A Twilio target (2010-04-01 API) on `endpoint` for the key `remote_id`.
pub fn twilio(endpoint: &str, remote_id: Option<&str>) -> Target {
    let conn = connection(
        ProviderKind::Twilio,
        endpoint,
        &[
            ("api_key_sid", TW_MAIN_SID),
            ("api_key_secret", TW_MAIN_SECRET),
        ],
        &[("account_sid", TW_ACCOUNT)],
    );
    target(ProviderKind::Twilio, conn, remote_id, &[])
}

/// A Twilio target using the IAM v1 API; `iam_endpoint` serves `/v1/Keys`, `endpoint` the
/// 2010-04-01 API (for verify).
pub fn twilio_iam(endpoint: &str, iam_endpoint: &str, remote_id: Option<&str>) -> Target {
    let conn = connection(
        ProviderKind::Twilio,
        endpoint,
        &[
            ("api_key_sid", TW_MAIN_SID),
            ("api_key_secret", TW_MAIN_SECRET),
        ],
        &[("account_sid", TW_ACCOUNT), ("iam_endpoint", iam_endpoint)],
    );
    target(ProviderKind::Twilio, conn, remote_id, &[("api", "iam")])
}

/// An OpenAI target of `kind` on `endpoint` for the key `remote_id`.
pub fn openai(
    endpoint: &str,
    kind: &str,
    remote_id: Option<&str>,
    extra: &[(&str, &str)],
) -> Target {
    let conn = connection(
        ProviderKind::Openai,
        endpoint,
        &[("admin_key", OA_ADMIN)],
        &[],
    );
    let mut params = vec![("kind", kind), ("project_id", OA_PROJECT)];
    params.extend_from_slice(extra);
    target(ProviderKind::Openai, conn, remote_id, &params)
}

/// Mounts `handler` for every request on a fresh server, over shared state `S`.
pub async fn fake<S: Send + 'static>(
    state: S,
    handler: fn(&mut S, &Request) -> ResponseTemplate,
) -> (MockServer, Arc<Mutex<S>>) {
    let server = MockServer::start().await;
    let state = Arc::new(Mutex::new(state));
    let shared = Arc::clone(&state);
    Mock::given(any())
        .respond_with(move |req: &Request| {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            handler(&mut s, req)
        })
        .mount(&server)
        .await;
    (server, state)
}

/// The bearer token of a request.
pub fn bearer(req: &Request) -> Option<String> {
    let v = req.headers.get("authorization")?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::to_string)
}

/// The basic-auth user and password of a request.
pub fn basic(req: &Request) -> Option<(String, String)> {
    let v = req.headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The form fields of a request body.
pub fn form(req: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}

/// A query parameter of a request.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A JSON answer.
pub fn reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// A secret-looking value unique to `n`, as long as real keys are.
pub fn long_secret(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:04}{}", "x".repeat(40))
}

// ---- SendGrid: /v3/api_keys, /v3/scopes -------------------------------------------------

/// A SendGrid key the fake holds.
#[derive(Clone)]
pub struct SgKey {
    /// `api_key_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// The key itself.
    pub secret: String,
}

/// The SendGrid fake's state.
#[derive(Default)]
pub struct SgState {
    /// Live keys, in creation order.
    pub keys: Vec<SgKey>,
    /// Keys issued so far, for ids.
    pub issued: u32,
    /// The subuser each key made `on-behalf-of` one belongs to, by key id.
    pub subuser_of: BTreeMap<String, String>,
}

fn sg_unauthorized() -> ResponseTemplate {
    reply(
        401,
        json!({"errors": [{"field": null, "message": "authorization required"}]}),
    )
}

/// The SendGrid fake: the management key is [`SG_ADMIN`]; `/v3/scopes` accepts any live key.
///
/// `on-behalf-of` is accepted with the parent's key only ("you must use the parent account's
/// API key credentials", twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/
/// on-behalf-of); the answer to any other key is not documented, and the fake refuses it as
/// not authorised. Keys created on behalf of a subuser are that subuser's.
pub fn sendgrid_handler(s: &mut SgState, req: &Request) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let token = bearer(req);
    let on_behalf_of = req
        .headers
        .get("on-behalf-of")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if on_behalf_of.is_some() && token.as_deref() != Some(SG_ADMIN) {
        return sg_unauthorized();
    }
    if path == "/v3/scopes" && req.method == "GET" {
        if token.as_deref() == Some(SG_ADMIN) {
            return reply(200, json!({ "scopes": SG_ADMIN_SCOPES }));
        }
        return match s.keys.iter().find(|k| Some(&k.secret) == token.as_ref()) {
            Some(k) => reply(200, json!({ "scopes": k.scopes })),
            None => sg_unauthorized(),
        };
    }
    if token.as_deref() != Some(SG_ADMIN) {
        return sg_unauthorized();
    }
    let not_found = || {
        reply(
            404,
            json!({"errors": [{"field": null, "message": "unable to find API Key"}]}),
        )
    };
    match (req.method.as_str(), path.strip_prefix("/v3/api_keys")) {
        ("GET", Some("")) => reply(
            200,
            json!({ "result": s.keys.iter().map(|k| json!({"name": k.name, "api_key_id": k.id})).collect::<Vec<_>>() }),
        ),
        ("POST", Some("")) => {
            let body: Value = match req.body_json() {
                Ok(b) => b,
                Err(_) => {
                    return reply(
                        400,
                        json!({"errors": [{"field": null, "message": "bad json"}]}),
                    )
                }
            };
            let Some(name) = body["name"].as_str() else {
                return reply(
                    400,
                    json!({"errors": [{"field": "name", "message": "missing"}]}),
                );
            };
            s.issued += 1;
            let key = SgKey {
                id: format!("sgkey{}", s.issued),
                name: name.to_string(),
                scopes: serde_json::from_value(body["scopes"].clone()).unwrap_or_default(),
                secret: long_secret("SG.new.", s.issued),
            };
            s.keys.push(key.clone());
            if let Some(sub) = on_behalf_of {
                s.subuser_of.insert(key.id.clone(), sub);
            }
            reply(
                201,
                json!({"api_key": key.secret, "api_key_id": key.id, "name": key.name, "scopes": key.scopes}),
            )
        }
        ("GET", Some(rest)) => match s.keys.iter().find(|k| rest == format!("/{}", k.id)) {
            // The shape the spec documents: one entry inside `result`.
            Some(k) => reply(
                200,
                json!({"result": [{"api_key_id": k.id, "name": k.name, "scopes": k.scopes}]}),
            ),
            None => not_found(),
        },
        ("DELETE", Some(rest)) => {
            let before = s.keys.len();
            s.keys.retain(|k| rest != format!("/{}", k.id));
            if s.keys.len() < before {
                ResponseTemplate::new(204)
            } else {
                not_found()
            }
        }
        _ => not_found(),
    }
}

// ---- Twilio: 2010-04-01 Keys, IAM v1 Keys, Accounts fetch -------------------------------

/// A Twilio key the fake holds.
#[derive(Clone)]
pub struct TwKey {
    /// `SK…`.
    pub sid: String,
    /// `friendly_name`.
    pub name: String,
    /// The secret.
    pub secret: String,
    /// IAM policy (`null` for standard keys).
    pub policy: Value,
}

/// The Twilio fake's state.
#[derive(Default)]
pub struct TwState {
    /// Live keys.
    pub keys: Vec<TwKey>,
    /// Keys issued so far.
    pub issued: u32,
    /// Keys per list page (Twilio's default is 50; small pages exercise paging).
    pub page_size: usize,
}

/// A Twilio SID: `prefix` and 32 hex digits ending in `n`.
pub fn tw_sid(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:032x}")
}

fn tw_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    reply(
        status,
        json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
    )
}

fn tw_key_json(k: &TwKey, iam: bool) -> Value {
    let mut v = json!({
        "sid": k.sid,
        "friendly_name": k.name,
        "date_created": "Mon, 13 Jun 2016 22:50:08 +0000",
        "date_updated": "Mon, 13 Jun 2016 22:50:08 +0000",
    });
    if iam {
        v["policy"] = k.policy.clone();
    }
    v
}

/// The Twilio fake: management with the Main key [`TW_MAIN_SID`]/[`TW_MAIN_SECRET`]. Serves
/// both the 2010-04-01 and the IAM v1 paths, and models the key types of Twilio's "Types of
/// keys" table (twilio.com/docs/iam/api-keys/keys-in-console): only the Main key may fetch
/// the account or touch Keys, a Standard key (`policy` null) gets 401 with error 20003 there
/// (as in twilio/twilio-python#259) but may list messages, a Restricted key only what its
/// `policy.allow` lists ("calls made to resources that are not part of the selected
/// permissions will be unauthorized", Twilio changelog 2025-12-10).
pub fn twilio_handler(s: &mut TwState, req: &Request) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let auth = basic(req);
    let main = auth == Some((TW_MAIN_SID.to_string(), TW_MAIN_SECRET.to_string()));
    let issued = auth
        .as_ref()
        .and_then(|(u, p)| s.keys.iter().find(|k| &k.sid == u && &k.secret == p));
    let account_path = format!("/2010-04-01/Accounts/{TW_ACCOUNT}.json");
    if path == account_path && req.method == "GET" {
        return if main {
            reply(
                200,
                json!({"sid": TW_ACCOUNT, "friendly_name": "ACME", "status": "active", "type": "Full"}),
            )
        } else {
            tw_error(401, 20003, "Authenticate")
        };
    }
    let messages_path = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Messages.json");
    if path == messages_path && req.method == "GET" {
        let allowed = main
            || issued.is_some_and(|k| {
                k.policy.is_null()
                    || k.policy["allow"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|p| p == "/twilio/messaging/messages/read"))
            });
        return if allowed {
            reply(
                200,
                json!({"messages": [], "page": 0, "page_size": 1, "next_page_uri": null, "uri": messages_path}),
            )
        } else {
            tw_error(401, 20003, "Authenticate")
        };
    }
    if !main {
        return tw_error(401, 20003, "Authenticate");
    }
    let prefix_2010 = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys");
    let (iam, rest) = if let Some(rest) = path.strip_prefix(&prefix_2010) {
        (
            false,
            rest.strip_suffix(".json").unwrap_or(rest).to_string(),
        )
    } else if let Some(rest) = path.strip_prefix("/v1/Keys") {
        (true, rest.to_string())
    } else {
        return tw_error(404, 20404, "The requested resource was not found");
    };
    match (req.method.as_str(), rest.as_str()) {
        ("GET", "") => {
            if iam && query(req, "AccountSid").as_deref() != Some(TW_ACCOUNT) {
                return tw_error(400, 21201, "AccountSid is required");
            }
            let size = s.page_size.max(1);
            let page: usize = query(req, "Page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let chunk: Vec<Value> = s
                .keys
                .iter()
                .skip(page * size)
                .take(size)
                .map(|k| tw_key_json(k, iam))
                .collect();
            let more = (page + 1) * size < s.keys.len();
            if iam {
                let next = more.then(|| {
                    format!(
                        "{}/v1/Keys?AccountSid={TW_ACCOUNT}&PageSize={size}&Page={}",
                        origin(req),
                        page + 1
                    )
                });
                reply(
                    200,
                    json!({"keys": chunk, "meta": {"page": page, "page_size": size, "next_page_url": next, "key": "keys"}}),
                )
            } else {
                let next = more.then(|| {
                    format!(
                        "{prefix_2010}.json?PageSize={size}&Page={}&PageToken=PT{}",
                        page + 1,
                        page + 1
                    )
                });
                reply(
                    200,
                    json!({"keys": chunk, "page": page, "page_size": size, "next_page_uri": next, "uri": format!("{prefix_2010}.json")}),
                )
            }
        }
        ("POST", "") => {
            let f = form(req);
            if iam && f.get("AccountSid").map(String::as_str) != Some(TW_ACCOUNT) {
                return tw_error(400, 21201, "AccountSid is required");
            }
            let policy = match (f.get("KeyType"), f.get("Policy")) {
                (Some(t), Some(p)) if t == "restricted" => {
                    serde_json::from_str(p).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            };
            s.issued += 1;
            let key = TwKey {
                sid: tw_sid("SK", 0x1000 + s.issued),
                name: f.get("FriendlyName").cloned().unwrap_or_default(),
                secret: long_secret("twsecret", s.issued),
                policy,
            };
            s.keys.push(key.clone());
            let mut v = tw_key_json(&key, iam);
            v["secret"] = json!(key.secret);
            reply(201, v)
        }
        ("GET", sid) => match s.keys.iter().find(|k| sid == format!("/{}", k.sid)) {
            Some(k) => reply(200, tw_key_json(k, iam)),
            None => tw_error(404, 20404, "The requested resource was not found"),
        },
        ("DELETE", sid) => {
            let before = s.keys.len();
            s.keys.retain(|k| sid != format!("/{}", k.sid));
            if s.keys.len() < before {
                ResponseTemplate::new(204)
            } else {
                tw_error(404, 20404, "The requested resource was not found")
            }
        }
        _ => tw_error(405, 20004, "Method not allowed"),
    }
}

/// `http://HOST` as the client addressed the fake, for absolute links.
fn origin(req: &Request) -> String {
    let host = req
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

// ---- OpenAI: projects, project API keys, service accounts, models -----------------------

/// An OpenAI project key the fake holds.
#[derive(Clone)]
pub struct OaKey {
    /// `key_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// The owning service account, or `None` for a user's key.
    pub service_account: Option<String>,
    /// The key.
    pub secret: String,
    /// Unix seconds.
    pub last_used_at: Option<i64>,
}

/// A service account the fake holds.
#[derive(Clone)]
pub struct OaServiceAccount {
    /// `svc_acct_…`.
    pub id: String,
    /// Name.
    pub name: String,
}

/// The OpenAI fake's state.
#[derive(Default)]
pub struct OaState {
    /// Keys of [`OA_PROJECT`].
    pub keys: Vec<OaKey>,
    /// Service accounts of [`OA_PROJECT`].
    pub service_accounts: Vec<OaServiceAccount>,
    /// Objects issued so far.
    pub issued: u32,
    /// Keys per list page.
    pub page_size: usize,
    /// Service-account roles other than the default `member`, by service account id.
    pub roles: BTreeMap<String, String>,
    /// Keys whose owner has no effective access to the project: `owner_project_access` is
    /// `inactive`, and the list leaves them out unless asked for `any` or `inactive` (the
    /// spec's `list-project-api-keys`: without the parameter "the endpoint applies its
    /// existing membership-based visibility rules, which may exclude some enabled keys").
    pub hidden: std::collections::BTreeSet<String>,
    /// Restricted keys lacking `api.model.read`: `/models` answers them 401 "Missing scopes"
    /// (help.openai.com, "API key permissions"; the error text the API returns).
    pub without_model_read: std::collections::BTreeSet<String>,
}

impl OaState {
    fn role(&self, sa: &str) -> String {
        self.roles
            .get(sa)
            .cloned()
            .unwrap_or_else(|| "member".into())
    }
}

fn oa_error(status: u16, message: &str) -> ResponseTemplate {
    reply(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

fn oa_key_json(s: &OaState, k: &OaKey) -> Value {
    let owner = match &k.service_account {
        Some(id) => {
            let name = s
                .service_accounts
                .iter()
                .find(|a| &a.id == id)
                .map(|a| a.name.clone());
            json!({"type": "service_account", "service_account": {"id": id, "name": name, "created_at": 1711471533, "role": s.role(id)}})
        }
        None => {
            json!({"type": "user", "user": {"id": "user_1", "email": "a@example.com", "name": "Alice", "created_at": 1711471533, "role": "owner"}})
        }
    };
    json!({
        "object": "organization.project.api_key",
        "redacted_value": "sk-abc...def",
        "name": k.name,
        "created_at": 1711471533,
        "last_used_at": k.last_used_at,
        "id": k.id,
        "owner_project_access": if s.hidden.contains(&k.id) { "inactive" } else { "active" },
        "owner": owner,
    })
}

/// The OpenAI fake: management with [`OA_ADMIN`], `/models` with any live key.
pub fn openai_handler(s: &mut OaState, req: &Request) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let token = bearer(req);
    if path == "/models" && req.method == "GET" {
        let key = s.keys.iter().find(|k| Some(&k.secret) == token.as_ref());
        if key.is_some_and(|k| s.without_model_read.contains(&k.id)) {
            return oa_error(
                401,
                "You have insufficient permissions for this operation. Missing scopes: \
                 api.model.read. Check that you have the correct role in your organization \
                 (Reader, Writer, Owner) and project (Member, Owner), and if you're using a \
                 restricted API key, that it has the necessary scopes.",
            );
        }
        return if key.is_some() {
            reply(
                200,
                json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"}]}),
            )
        } else {
            oa_error(401, "Incorrect API key provided")
        };
    }
    if token.as_deref() != Some(OA_ADMIN) {
        return oa_error(401, "Incorrect API key provided");
    }
    match (req.method.as_str(), path.as_str()) {
        ("GET", "/organization/admin_api_keys") => {
            return reply(
                200,
                json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false}),
            )
        }
        ("GET", "/organization/projects") => {
            return reply(
                200,
                json!({"object": "list", "data": [{"id": OA_PROJECT, "object": "organization.project", "name": "Mail", "created_at": 1711471533, "status": "active"}], "first_id": OA_PROJECT, "last_id": OA_PROJECT, "has_more": false}),
            )
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix(&format!("/organization/projects/{OA_PROJECT}")) else {
        return oa_error(404, "not found");
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["api_keys"]) => {
            let size = s.page_size.max(1);
            let visible: Vec<&OaKey> = match query(req, "owner_project_access").as_deref() {
                Some("any") => s.keys.iter().collect(),
                Some("inactive") => s.keys.iter().filter(|k| s.hidden.contains(&k.id)).collect(),
                _ => s
                    .keys
                    .iter()
                    .filter(|k| !s.hidden.contains(&k.id))
                    .collect(),
            };
            let start = match query(req, "after") {
                Some(after) => match visible.iter().position(|k| k.id == after) {
                    Some(i) => i + 1,
                    None => return oa_error(400, "unknown cursor"),
                },
                None => 0,
            };
            let chunk: Vec<&OaKey> = visible.iter().skip(start).take(size).copied().collect();
            let data: Vec<Value> = chunk.iter().map(|k| oa_key_json(s, k)).collect();
            reply(
                200,
                json!({
                    "object": "list",
                    "data": data,
                    "first_id": chunk.first().map(|k| k.id.clone()),
                    "last_id": chunk.last().map(|k| k.id.clone()),
                    "has_more": start + size < visible.len(),
                }),
            )
        }
        ("GET", ["api_keys", id]) => match s.keys.iter().find(|k| k.id == *id) {
            Some(k) => reply(200, oa_key_json(s, k)),
            None => oa_error(404, "No such API key"),
        },
        ("DELETE", ["api_keys", id]) => match s.keys.iter().position(|k| k.id == *id) {
            Some(i) if s.keys[i].service_account.is_some() => {
                oa_error(400, "API keys owned by service accounts cannot be deleted")
            }
            Some(i) => {
                s.keys.remove(i);
                reply(
                    200,
                    json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true}),
                )
            }
            None => oa_error(404, "No such API key"),
        },
        ("POST", ["service_accounts"]) => {
            let body: Value = req.body_json().unwrap_or(Value::Null);
            let Some(name) = body["name"].as_str() else {
                return oa_error(400, "name is required");
            };
            s.issued += 1;
            let sa = OaServiceAccount {
                id: format!("svc_acct_{}", s.issued),
                name: name.to_string(),
            };
            let key = OaKey {
                id: format!("key_new{}", s.issued),
                name: "Secret Key".to_string(),
                service_account: Some(sa.id.clone()),
                secret: long_secret("sk-svcacct-", s.issued),
                last_used_at: None,
            };
            s.service_accounts.push(sa.clone());
            s.keys.push(key.clone());
            reply(
                200,
                json!({
                    "object": "organization.project.service_account",
                    "id": sa.id, "name": sa.name, "role": "member", "created_at": 1711471533,
                    "api_key": {"object": "organization.project.service_account.api_key", "value": key.secret, "name": key.name, "created_at": 1711471533, "id": key.id},
                }),
            )
        }
        ("GET", ["service_accounts", id]) => {
            match s.service_accounts.iter().find(|a| a.id == *id) {
                Some(a) => reply(
                    200,
                    json!({"object": "organization.project.service_account", "id": a.id, "name": a.name, "role": s.role(&a.id), "created_at": 1711471533}),
                ),
                None => oa_error(404, "No such service account"),
            }
        }
        // "Update project service account": `name` and `role` (`member` or `owner`).
        ("POST", ["service_accounts", id]) => {
            let body: Value = req.body_json().unwrap_or(Value::Null);
            let Some(a) = s.service_accounts.iter().find(|a| a.id == *id).cloned() else {
                return oa_error(404, "No such service account");
            };
            match body["role"].as_str() {
                Some(role @ ("member" | "owner")) => {
                    s.roles.insert(a.id.clone(), role.to_string());
                }
                Some(_) => return oa_error(400, "role must be member or owner"),
                None => {}
            }
            reply(
                200,
                json!({"object": "organization.project.service_account", "id": a.id, "name": a.name, "role": s.role(&a.id), "created_at": 1711471533}),
            )
        }
        ("DELETE", ["service_accounts", id]) => {
            let before = s.service_accounts.len();
            s.service_accounts.retain(|a| a.id != *id);
            if s.service_accounts.len() == before {
                return oa_error(404, "No such service account");
            }
            s.keys.retain(|k| k.service_account.as_deref() != Some(*id));
            reply(
                200,
                json!({"object": "organization.project.service_account.deleted", "id": id, "deleted": true}),
            )
        }
        _ => oa_error(404, "not found"),
    }
}

// ---- Datadog: v2 key management, v1 validate, v2 validate_keys ---------------------------

/// Datadog management API key (`DD-API-KEY`).
pub const DD_API_KEY: &str = "dd-api-mgmt-7";
/// Datadog management application key (`DD-APPLICATION-KEY`).
pub const DD_APP_KEY: &str = "dd-app-mgmt-7";

/// A Datadog target for a key of `key_type` (`api`, `application`) on `endpoint`.
pub fn datadog(
    endpoint: &str,
    key_type: &str,
    remote_id: Option<&str>,
    extra: &[(&str, &str)],
) -> Target {
    let conn = connection(
        ProviderKind::Datadog,
        endpoint,
        &[("api_key", DD_API_KEY), ("application_key", DD_APP_KEY)],
        &[],
    );
    let mut params = vec![("key_type", key_type)];
    params.extend_from_slice(extra);
    target(ProviderKind::Datadog, conn, remote_id, &params)
}

/// Which collection a Datadog key lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DdOwner {
    /// An organisation API key.
    Org,
    /// An application key of the management key's user.
    CurrentUser,
    /// An application key of this service account.
    ServiceAccount(String),
}

/// A Datadog key the fake holds.
#[derive(Clone)]
pub struct DdKey {
    /// The key id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Where it lives.
    pub owner: DdOwner,
    /// Application keys: scopes, `None` for an unscoped key.
    pub scopes: Option<Vec<String>>,
    /// The key itself.
    pub secret: String,
    /// When it was last used (RFC 3339), if ever.
    pub last_used: Option<String>,
}

impl DdKey {
    /// A key of `owner` with this id and secret, never used, unscoped.
    pub fn new(id: &str, owner: DdOwner, secret: &str) -> Self {
        DdKey {
            id: id.into(),
            name: format!("key {id}"),
            owner,
            scopes: None,
            secret: secret.into(),
            last_used: None,
        }
    }
}

/// The Datadog fake's state.
#[derive(Default)]
pub struct DdState {
    /// Live keys of every kind, in creation order.
    pub keys: Vec<DdKey>,
    /// Keys issued so far.
    pub issued: u32,
}

fn dd_error(status: u16, message: &str) -> ResponseTemplate {
    reply(status, json!({ "errors": [message] }))
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The JSON:API object of `k`; `with_key` adds the value (a create; an API key's read).
fn dd_key_json(k: &DdKey, with_key: bool) -> Value {
    let api = k.owner == DdOwner::Org;
    let last4: String = k
        .secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut attributes = json!({
        "name": k.name,
        "created_at": "2026-01-05T10:00:00.000Z",
        "last4": last4,
    });
    if api {
        attributes["date_last_used"] = json!(k.last_used);
        attributes["modified_at"] = json!("2026-01-05T10:00:00.000Z");
    } else {
        attributes["last_used_at"] = json!(k.last_used);
        attributes["scopes"] = json!(k.scopes);
    }
    if with_key {
        attributes["key"] = json!(k.secret);
    }
    json!({
        "id": k.id,
        "type": if api { "api_keys" } else { "application_keys" },
        "attributes": attributes,
    })
}

/// The Datadog fake. Management needs a valid `DD-API-KEY` and [`DD_APP_KEY`].
///
/// `GET /api/v1/validate` answers 200 `{"valid": true}` for a live API key and 403
/// otherwise (docs.datadoghq.com/api/latest/authentication/, "Validate API key");
/// `GET /api/v2/validate_keys` answers 200 `{"status": "ok"}` when both keys are live and 403
/// otherwise (docs.datadoghq.com/api/latest/key-management/validate-api-and-application-keys/).
/// Application keys are in One-Time Read mode (docs.datadoghq.com/account_management/
/// api-app-keys/#one-time-read-mode): only the create answer carries `key`. Listings page
/// with `page[size]` (at most 100) and `page[number]`, as the spec's parameters say.
pub fn datadog_handler(s: &mut DdState, req: &Request) -> ResponseTemplate {
    let path = req.url.path().to_string();
    let api_key = header(req, "dd-api-key");
    let app_key = header(req, "dd-application-key");
    let live = |secret: &Option<String>, api: bool| {
        secret.as_deref().is_some_and(|v| {
            (api && v == DD_API_KEY)
                || (!api && v == DD_APP_KEY)
                || s.keys
                    .iter()
                    .any(|k| k.secret == v && (k.owner == DdOwner::Org) == api)
        })
    };
    let api_ok = live(&api_key, true);
    if path == "/api/v1/validate" && req.method == "GET" {
        return if api_ok {
            reply(200, json!({"valid": true}))
        } else {
            dd_error(403, "Forbidden")
        };
    }
    if path == "/api/v2/validate_keys" && req.method == "GET" {
        return if api_ok && live(&app_key, false) {
            reply(200, json!({"status": "ok"}))
        } else {
            dd_error(403, "Forbidden")
        };
    }
    if !api_ok || app_key.as_deref() != Some(DD_APP_KEY) {
        return dd_error(403, "Forbidden");
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (owner, id) = match parts.as_slice() {
        ["api", "v2", "api_keys", rest @ ..] => (DdOwner::Org, rest.first().copied()),
        ["api", "v2", "current_user", "application_keys", rest @ ..] => {
            (DdOwner::CurrentUser, rest.first().copied())
        }
        ["api", "v2", "service_accounts", sa, "application_keys", rest @ ..] => (
            DdOwner::ServiceAccount(sa.to_string()),
            rest.first().copied(),
        ),
        _ => return dd_error(404, "Not found"),
    };
    let api = owner == DdOwner::Org;
    let not_found = || {
        dd_error(
            404,
            if api {
                "API key not found"
            } else {
                "Application key not found"
            },
        )
    };
    match (req.method.as_str(), id) {
        ("GET", None) => {
            let size: usize = query(req, "page[size]")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10)
                .clamp(1, 100);
            let number: usize = query(req, "page[number]")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let owned: Vec<&DdKey> = s.keys.iter().filter(|k| k.owner == owner).collect();
            let data: Vec<Value> = owned
                .iter()
                .skip(number * size)
                .take(size)
                .map(|k| dd_key_json(k, false))
                .collect();
            reply(
                200,
                json!({"data": data, "meta": {"page": {"total_filtered_count": owned.len()}}}),
            )
        }
        ("POST", None) => {
            let body: Value = req.body_json().unwrap_or(Value::Null);
            let want = if api { "api_keys" } else { "application_keys" };
            let Some(name) = body["data"]["attributes"]["name"].as_str() else {
                return dd_error(400, "Invalid request: name is required");
            };
            if body["data"]["type"] != want {
                return dd_error(400, "Invalid request: wrong type");
            }
            s.issued += 1;
            let key = DdKey {
                id: format!("ddkey-{}", s.issued),
                name: name.to_string(),
                owner,
                scopes: serde_json::from_value(body["data"]["attributes"]["scopes"].clone())
                    .unwrap_or(None),
                secret: long_secret(if api { "ddapi" } else { "ddapp" }, s.issued),
                last_used: None,
            };
            s.keys.push(key.clone());
            reply(201, json!({ "data": dd_key_json(&key, true) }))
        }
        ("GET", Some(id)) => match s.keys.iter().find(|k| k.id == id && k.owner == owner) {
            Some(k) => reply(200, json!({ "data": dd_key_json(k, api) })),
            None => not_found(),
        },
        ("DELETE", Some(id)) => {
            let before = s.keys.len();
            s.keys.retain(|k| !(k.id == id && k.owner == owner));
            if s.keys.len() < before {
                ResponseTemplate::new(204)
            } else {
                not_found()
            }
        }
        _ => dd_error(405, "Method not allowed"),
    }
}

// ---- Okta: app client secrets, token endpoints ------------------------------------------

/// Okta management API token (`Authorization: SSWS …`).
pub const OK_TOKEN: &str = "okta-ssws-mgmt-7";
/// The app whose secrets the tests rotate.
pub const OK_APP: &str = "0oaapp1";
/// The app's OAuth client id.
pub const OK_CLIENT: &str = "0oaclient1";

/// An Okta target on `endpoint` for the secret `remote_id`; `extra` adds params
/// (`authorization_server`, `scope`).
pub fn okta(endpoint: &str, remote_id: Option<&str>, extra: &[(&str, &str)]) -> Target {
    let conn = connection(
        ProviderKind::Okta,
        endpoint,
        &[("api_token", OK_TOKEN)],
        &[],
    );
    let mut params = vec![("app_id", OK_APP), ("client_id", OK_CLIENT)];
    params.extend_from_slice(extra);
    target(ProviderKind::Okta, conn, remote_id, &params)
}

/// An Okta client secret the fake holds.
#[derive(Clone)]
pub struct OkSecret {
    /// `ocs…`.
    pub id: String,
    /// ACTIVE (true) or INACTIVE.
    pub active: bool,
    /// The secret itself.
    pub secret: String,
}

/// The Okta fake's state: the secrets of [`OK_APP`].
#[derive(Default)]
pub struct OkState {
    /// Secrets, in creation order.
    pub secrets: Vec<OkSecret>,
    /// Secrets issued so far.
    pub issued: u32,
}

fn ok_error(status: u16, code: &str, summary: &str, cause: Option<&str>) -> ResponseTemplate {
    let causes: Vec<Value> = cause.iter().map(|c| json!({"errorSummary": c})).collect();
    reply(
        status,
        json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oaeTest", "errorCauses": causes}),
    )
}

fn ok_secret_json(k: &OkSecret) -> Value {
    json!({
        "id": k.id,
        "status": if k.active { "ACTIVE" } else { "INACTIVE" },
        "client_secret": k.secret,
        "secret_hash": "yk4SVx4sUWVJVbHt6M-UPA",
        "created": "2026-01-05T10:00:00.000Z",
        "lastUpdated": "2026-01-05T10:00:00.000Z",
    })
}

/// The Okta fake, from the Management API's documentation of
/// `/api/v1/apps/{appId}/credentials/secrets` (`management-minimal.yaml`): at most two
/// secrets ("An error is returned if you attempt to create more than two secret objects"),
/// an active secret cannot be deleted (400, `ErrorDeleteActiveSecret`), the only secret
/// cannot be deactivated (400, `ErrorDeactivateTheOnlyClientSecret`); listings carry the
/// values. The custom authorization server `default` grants client credentials to
/// [`OK_CLIENT`] with any active secret and answers `invalid_client` otherwise (RFC 6749
/// §5.2); the org authorization server refuses client secrets for client credentials, which
/// it grants only to `private_key_jwt` clients (developer.okta.com/docs/guides/
/// implement-oauth-for-okta-serviceapp/main/).
pub fn okta_handler(s: &mut OkState, req: &Request) -> ResponseTemplate {
    let path = req.url.path().to_string();
    if req.method == "POST" && (path == "/oauth2/default/v1/token" || path == "/oauth2/v1/token") {
        let f = form(req);
        if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return reply(
                400,
                json!({"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported by the authorization server."}),
            );
        }
        if path == "/oauth2/v1/token" {
            return reply(
                401,
                json!({"error": "invalid_client", "error_description": "Client Credentials requests to the Org Authorization Server must use the private_key_jwt token_endpoint_auth_method."}),
            );
        }
        let ok = basic(req).is_some_and(|(id, secret)| {
            id == OK_CLIENT && s.secrets.iter().any(|k| k.active && k.secret == secret)
        });
        return if ok {
            reply(
                200,
                json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "eyJ.fake.token", "scope": "keyward.check"}),
            )
        } else {
            reply(
                401,
                json!({"error": "invalid_client", "error_description": "The client secret supplied for a confidential client is invalid."}),
            )
        };
    }
    let ssws = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SSWS "));
    if ssws != Some(OK_TOKEN) {
        return ok_error(401, "E0000011", "Invalid token provided", None);
    }
    let Some(rest) = path.strip_prefix(&format!("/api/v1/apps/{OK_APP}/credentials/secrets"))
    else {
        return ok_error(404, "E0000007", "Not found: Resource not found", None);
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let not_found = |id: &str| {
        ok_error(
            404,
            "E0000007",
            &format!("Not found: Resource not found: {id} (OAuth2ClientSecret)"),
            None,
        )
    };
    let at = |s: &OkState, id: &str| s.secrets.iter().position(|k| k.id == id);
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", []) => reply(200, json!(s.secrets.iter().map(ok_secret_json).collect::<Vec<_>>())),
        ("POST", []) => {
            if s.secrets.len() >= 2 {
                return ok_error(400, "E0000001", "Api validation failed: OAuth2ClientSecretMediated", Some("You've reached the maximum number of client secrets per client."));
            }
            s.issued += 1;
            let k = OkSecret {
                id: format!("ocsnew{}", s.issued),
                active: true,
                secret: long_secret("oktasecret", s.issued),
            };
            s.secrets.push(k.clone());
            reply(201, ok_secret_json(&k))
        }
        ("GET", [id]) => match at(s, id) {
            Some(i) => reply(200, ok_secret_json(&s.secrets[i])),
            None => not_found(id),
        },
        ("DELETE", [id]) => match at(s, id) {
            Some(i) if s.secrets[i].active => ok_error(400, "E0000001", "Api validation failed: OAuth2ClientSecretMediated", Some("You can't delete an active client secret. Deactivate the secret before deleting it.")),
            Some(i) => {
                s.secrets.remove(i);
                ResponseTemplate::new(204)
            }
            None => not_found(id),
        },
        ("POST", [id, "lifecycle", action]) => match (at(s, id), *action) {
            (None, _) => not_found(id),
            (Some(_), "deactivate") if s.secrets.len() == 1 => ok_error(400, "E0000001", "Api validation failed: OAuth2ClientSecretMediated", Some("You can't deactivate the only active client secret.")),
            (Some(i), "deactivate") => {
                s.secrets[i].active = false;
                reply(200, ok_secret_json(&s.secrets[i]))
            }
            (Some(i), "activate") => {
                s.secrets[i].active = true;
                reply(200, ok_secret_json(&s.secrets[i]))
            }
            _ => not_found(id),
        },
        _ => ok_error(405, "E0000022", "The endpoint does not support the provided HTTP method", None),
    }
}
