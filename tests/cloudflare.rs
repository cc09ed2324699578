//! The Cloudflare user API token provider: every request it makes checked by Prism against
//! Cloudflare's official OpenAPI schema (contract), a stateful wiremock fake built from the
//! same schema (lifecycle), and faults: rate limits, 5xx, timeouts, garbage.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use keyward::inventory::{Connection, Credential, ProviderKind, RemoteStatus};
use keyward::providers::cloudflare::Cloudflare;
use keyward::providers::connection_check::{Ability, ProbeOutcome};
use keyward::providers::{ErrorKind, Provider, ProviderError, RotationStyle, Target, Verification};
use keyward::secret::Secret;
use serde_json::{json, Value};
use support::http::fast_http as http_with;
use support::peers::{http_request, shared_prism, Peer};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The management token keyward holds; it must never appear in an error.
const MGMT: &str = "mgmt-token-0123456789abcdefghijklmnopqrs";
/// The management token's id.
const MGMT_ID: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// The management token as Cloudflare describes it: allowed to read and write API tokens.
fn mgmt_token() -> Value {
    json!({
        "id": MGMT_ID, "name": "keyward", "status": "active",
        "issued_on": "2025-01-01T00:00:00Z", "modified_on": "2025-01-01T00:00:00Z",
        "policies": [{
            "id": "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f", "effect": "allow",
            "resources": {"com.cloudflare.api.user.0123": "*"},
            "permission_groups": [
                {"id": "686d18d5ac6c441c867cbf6771e58a0a", "name": "API Tokens Write"},
                {"id": "0cc3a61731504c89b99ec1be78b77aa0", "name": "API Tokens Read"}
            ]
        }]
    })
}
/// The API prefix the fake serves under, as the public API does.
const PREFIX: &str = "/client/v4";
const MAX_ATTEMPTS: u32 = 3;

fn provider() -> Cloudflare {
    Cloudflare::new(&http_with(Duration::from_secs(5), MAX_ATTEMPTS))
}

fn target(server: &MockServer, remote_id: &str) -> Target {
    target_at(&format!("{}{PREFIX}", server.uri()), remote_id)
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for s in secrets.iter().chain([&MGMT]) {
        assert!(!text.contains(s), "a secret leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// A stateful fake of /user/tokens, answering with the envelope and token shapes of the
// official schema (iam_token, iam_create_payload, iam_response_*), and checking the
// request bodies against the same schema's required fields.
// ---------------------------------------------------------------------------------------

struct FakeToken {
    token: Value,
    value: String,
    /// The owning account for an account-owned token, `None` for a user's.
    account: Option<String>,
}

#[derive(Default)]
struct State {
    tokens: Vec<FakeToken>,
    serial: u32,
    /// Bodies of POST /user/tokens, for asserting what a twin copied.
    created: Vec<Value>,
    /// Answer the next create without `value` (a broken answer).
    drop_value_once: bool,
    /// The address the fake sees requests come from, when a test models client IP
    /// filtering; `None` lets every token through whatever its `condition`.
    caller_ip: Option<std::net::Ipv4Addr>,
    /// The management token's own `condition` (its IP filter), for `connections test`.
    mgmt_condition: Value,
}

impl State {
    fn fresh_value(&mut self) -> String {
        self.serial += 1;
        format!("cfv-{:036}", self.serial)
    }
    fn fresh_id(&mut self) -> String {
        self.serial += 1;
        format!("{:032x}", 0xc0ffee_u64 * 1000 + u64::from(self.serial))
    }
    fn find(&mut self, owner: &Option<String>, id: &str) -> Option<&mut FakeToken> {
        self.tokens
            .iter_mut()
            .find(|t| t.token["id"] == id && &t.account == owner)
    }
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

fn envelope(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": true, "errors": [], "messages": [], "result": result
    }))
}

fn failure(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null
    }))
}

/// The schema's `required` lists for a policy and its permission groups.
fn policies_ok(policies: &Value) -> bool {
    policies.as_array().is_some_and(|ps| {
        ps.iter().all(|p| {
            ["id", "effect", "permission_groups", "resources"]
                .iter()
                .all(|k| p.get(k).is_some())
                && p["resources"].is_object()
                && p["permission_groups"]
                    .as_array()
                    .is_some_and(|gs| gs.iter().all(|g| g["id"].is_string()))
        })
    })
}

/// Whether `ip` passes a token's `condition.request_ip` filter (`in` and `not_in` lists of
/// IPv4 CIDRs); a token without one allows every address.
fn ip_allowed(condition: &Value, ip: std::net::Ipv4Addr) -> bool {
    let within = |list: &Value| {
        list.as_array().is_some_and(|cidrs| {
            cidrs.iter().filter_map(Value::as_str).any(|cidr| {
                let (net, bits) = cidr.split_once('/').unwrap_or((cidr, "32"));
                let (Ok(net), Ok(bits)) = (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>())
                else {
                    return false;
                };
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            })
        })
    };
    let filter = &condition["request_ip"];
    let allowed = filter.get("in").is_none_or(&within);
    allowed && !within(&filter["not_in"])
}

impl Fake {
    fn seed(&self, token: Value, value: &str) {
        self.seed_owned(token, value, None);
    }
    /// Seeds a token owned by `account` (`None`: the user).
    fn seed_owned(&self, token: Value, value: &str, account: Option<&str>) {
        self.0.lock().unwrap().tokens.push(FakeToken {
            token,
            value: value.to_string(),
            account: account.map(str::to_string),
        });
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().tokens.len()
    }
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_string();
        let Some(rest) = req.url.path().strip_prefix(PREFIX) else {
            return failure(404, 7003, "No route for the URI");
        };
        let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
        // User tokens live under /user/tokens, account-owned ones under
        // /accounts/{account_id}/tokens, each collection knowing only its own tokens
        // (developers.cloudflare.com/fundamentals/api/get-started/account-owned-tokens/).
        let (owner, segs): (Option<String>, Vec<&str>) = match segs.as_slice() {
            ["user", "tokens", rest @ ..] => (None, rest.to_vec()),
            ["accounts", account, "tokens", rest @ ..] => {
                (Some(account.to_string()), rest.to_vec())
            }
            _ => return failure(404, 7003, "No route for the URI"),
        };
        let verb = req.method.as_str();
        let caller = st.caller_ip;
        if let Some(ip) = caller.filter(|ip| bearer == MGMT && !ip_allowed(&st.mgmt_condition, *ip))
        {
            return failure(
                403,
                9109,
                &format!("Cannot use the access token from location: {ip}"),
            );
        }
        if segs == ["verify"] && verb == "GET" && bearer == MGMT {
            return envelope(json!({"id": MGMT_ID, "status": "active"}));
        }
        if segs == [MGMT_ID] && verb == "GET" && bearer == MGMT {
            return envelope(mgmt_token());
        }
        if segs == ["verify"] && verb == "GET" {
            return match st
                .tokens
                .iter()
                .find(|t| t.value == bearer && t.account == owner)
            {
                // A token whose IP filter excludes the caller: 403, error 9109
                // (developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/).
                Some(t) if caller.is_some_and(|ip| !ip_allowed(&t.token["condition"], ip)) => {
                    let ip = caller.map(|ip| ip.to_string()).unwrap_or_default();
                    failure(
                        403,
                        9109,
                        &format!("Cannot use the access token from location: {ip}"),
                    )
                }
                Some(t) => envelope(json!({
                    "id": t.token["id"], "status": t.token["status"],
                    "expires_on": t.token["expires_on"],
                })),
                None => failure(401, 1000, "Invalid API Token"),
            };
        }
        if bearer != MGMT {
            return failure(401, 9109, "Invalid access token");
        }
        let body: Option<Value> = serde_json::from_slice(&req.body).ok();
        match (verb, segs.as_slice()) {
            ("GET", []) => {
                let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
                if !(5..=50).contains(&per) || page < 1 {
                    return failure(400, 6003, "Invalid pagination");
                }
                let all: Vec<Value> = st
                    .tokens
                    .iter()
                    .filter(|t| t.account == owner)
                    .map(|t| t.token.clone())
                    .collect();
                let slice: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per)
                    .take(per)
                    .cloned()
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "success": true, "errors": [], "messages": [], "result": slice,
                    "result_info": {"page": page, "per_page": per, "count": slice.len(), "total_count": all.len()}
                }))
            }
            ("POST", []) => {
                let Some(b) = body.filter(|b| b["name"].is_string() && policies_ok(&b["policies"]))
                else {
                    return failure(400, 1001, "Invalid create payload");
                };
                if b["name"].as_str().unwrap().chars().count() > 120 {
                    return failure(400, 1001, "name too long");
                }
                st.created.push(b.clone());
                let id = st.fresh_id();
                let value = st.fresh_value();
                let mut token = json!({
                    "id": id, "name": b["name"], "status": "active", "policies": b["policies"],
                    "issued_on": Utc::now().to_rfc3339(), "modified_on": Utc::now().to_rfc3339(),
                });
                for k in ["condition", "expires_on", "not_before"] {
                    if let Some(v) = b.get(k) {
                        token[k] = v.clone();
                    }
                }
                st.tokens.push(FakeToken {
                    token: token.clone(),
                    value: value.clone(),
                    account: owner.clone(),
                });
                if !std::mem::take(&mut st.drop_value_once) {
                    token["value"] = json!(value);
                }
                envelope(token)
            }
            ("GET", [id]) => match st.find(&owner, id) {
                Some(t) => envelope(t.token.clone()),
                None => failure(404, 1003, "Token not found"),
            },
            ("PUT", [id]) => {
                let ok = body.as_ref().is_some_and(|b| {
                    ["id", "name", "status", "policies"]
                        .iter()
                        .all(|k| b.get(k).is_some())
                        && policies_ok(&b["policies"])
                });
                let Some(b) = body.filter(|_| ok) else {
                    return failure(400, 1001, "Invalid token payload");
                };
                match st.find(&owner, id) {
                    Some(t) => {
                        t.token["status"] = b["status"].clone();
                        t.token["name"] = b["name"].clone();
                        envelope(t.token.clone())
                    }
                    None => failure(404, 1003, "Token not found"),
                }
            }
            ("PUT", [id, "value"]) => {
                if !body.is_some_and(|b| b.is_object()) {
                    return failure(400, 1001, "A JSON object body is required");
                }
                let value = st.fresh_value();
                match st.find(&owner, id) {
                    Some(t) => {
                        t.value = value.clone();
                        envelope(json!(value))
                    }
                    None => failure(404, 1003, "Token not found"),
                }
            }
            ("DELETE", [id]) => {
                if body.is_none() {
                    return failure(400, 1001, "Body parameter is required");
                }
                let before = st.tokens.len();
                st.tokens
                    .retain(|t| !(t.token["id"] == *id && t.account == owner));
                if st.tokens.len() == before {
                    failure(404, 1003, "Token not found")
                } else {
                    envelope(json!({"id": id}))
                }
            }
            _ => failure(404, 7003, "No route for the URI"),
        }
    }
}

fn old_token() -> Value {
    json!({
        "id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "name": "crm bot",
        "status": "active",
        "issued_on": "2025-01-01T00:00:00Z",
        "modified_on": "2025-01-01T00:00:00Z",
        "expires_on": "2025-04-01T00:00:00Z",
        "last_used_on": "2025-02-02T10:00:00Z",
        "condition": {"request_ip": {"in": ["199.27.128.0/21"]}},
        "policies": [{
            "id": "f267e341f3dd4697bd3b9f71dd96247f",
            "effect": "allow",
            "resources": {"com.cloudflare.api.account.zone.*": "*"},
            "permission_groups": [
                {"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"},
                {"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "DNS Write"}
            ]
        }]
    })
}
const OLD_ID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const OLD_VALUE: &str = "old-value-0123456789abcdefghijklmnopqrst";

async fn fake_server() -> (MockServer, Fake) {
    let server = MockServer::start().await;
    let fake = Fake::default();
    fake.seed(old_token(), OLD_VALUE);
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

#[tokio::test]
async fn twin_rotation_lifecycle_create_verify_delete_old() {
    let (server, fake) = fake_server().await;
    let cf = provider();
    let t = target(&server, OLD_ID);
    assert_eq!(cf.capabilities().rotation, RotationStyle::CreateThenRevoke);

    let old = cf.inspect(&t).await.unwrap().expect("the old token exists");
    assert_eq!(old.state, RemoteStatus::Active);
    assert_eq!(old.scopes, ["Zone Read", "DNS Write"]);
    assert_eq!(old.risks, ["grants `DNS Write` on every zone"]);
    assert_eq!(
        old.last_used_at.unwrap().to_rfc3339(),
        "2025-02-02T10:00:00+00:00"
    );
    assert_eq!(
        old.expires_at.unwrap().to_rfc3339(),
        "2025-04-01T00:00:00+00:00"
    );

    let issued = cf.create(&t).await.unwrap();
    assert_ne!(issued.remote_id, OLD_ID);
    assert_ne!(issued.secret.expose_secret(), OLD_VALUE);
    assert_eq!(issued.scopes, ["Zone Read", "DNS Write"]);
    // The twin keeps the old 90-day lifetime, counted from now.
    let lifetime = issued.expires_at.unwrap() - Utc::now();
    assert!(lifetime > chrono::Duration::days(89) && lifetime <= chrono::Duration::days(90));
    {
        let st = fake.0.lock().unwrap();
        let body = &st.created[0];
        assert_eq!(
            body["policies"],
            without_group_names(old_token()["policies"].clone())
        );
        assert_eq!(body["condition"], old_token()["condition"]);
        assert!(body["name"]
            .as_str()
            .unwrap()
            .starts_with("crm bot (rotated "));
    }

    let listed = cf.list(&t).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|k| k.remote_id == issued.remote_id));

    assert_eq!(
        cf.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    let wrong_id = cf.verify(&t, Some(OLD_ID), &issued.secret).await;
    assert_eq!(wrong_id.label(), "invalid", "{wrong_id:?}");

    cf.delete(&t, OLD_ID).await.unwrap();
    assert_eq!(cf.list(&t).await.unwrap().len(), 1);
    assert!(
        cf.inspect(&t).await.unwrap().is_none(),
        "the old token is gone"
    );
    let old_check = cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await;
    assert_eq!(old_check.label(), "invalid", "{old_check:?}");
    // Deleting a token Cloudflare no longer knows succeeds.
    cf.delete(&t, OLD_ID).await.unwrap();
}

/// Permission group names are read-only in the schema, so a twin's body carries only ids.
fn without_group_names(mut policies: Value) -> Value {
    for p in policies.as_array_mut().unwrap() {
        for g in p["permission_groups"].as_array_mut().unwrap() {
            g.as_object_mut().unwrap().remove("name");
        }
    }
    policies
}

#[tokio::test]
async fn roll_returns_a_new_value_and_the_old_one_then_fails_verify() {
    let (server, _fake) = fake_server().await;
    let cf = provider();
    let t = target(&server, OLD_ID);
    let issued = cf.roll(&t).await.unwrap();
    assert_eq!(issued.remote_id, OLD_ID, "a roll keeps the token id");
    assert_ne!(issued.secret.expose_secret(), OLD_VALUE);
    assert_eq!(
        cf.verify(&t, Some(OLD_ID), &issued.secret).await,
        Verification::Valid
    );
    let old = cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await;
    assert_eq!(old.label(), "invalid", "{old:?}");
    if let Verification::Invalid { reason } = old {
        assert_no_secret(&reason, &[OLD_VALUE, issued.secret.expose_secret()]);
    }
}

#[tokio::test]
async fn deactivate_disables_the_token_and_verify_says_so() {
    let (server, _fake) = fake_server().await;
    let cf = provider();
    let t = target(&server, OLD_ID);
    cf.deactivate(&t, OLD_ID).await.unwrap();
    assert_eq!(
        cf.inspect(&t).await.unwrap().unwrap().state,
        RemoteStatus::Inactive
    );
    let v = cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await;
    assert_eq!(
        v,
        Verification::Invalid {
            reason: "Cloudflare says the token is disabled".into()
        }
    );
}

#[tokio::test]
async fn create_whose_answer_lacks_the_value_deletes_the_new_token_again() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().drop_value_once = true;
    let cf = provider();
    let t = target(&server, OLD_ID);
    let err = cf.create(&t).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("lacks the new token's value"), "{err}");
    assert!(err.message.contains("deleted the stray token"), "{err}");
    assert_eq!(fake.count(), 1, "no orphan is left at Cloudflare");
    assert_no_secret(&err.to_string(), &[]);
}

#[tokio::test]
async fn missing_connection_auth_is_a_config_error() {
    let (server, _fake) = fake_server().await;
    let mut t = target(&server, OLD_ID);
    t.connection.as_mut().unwrap().auth.clear();
    let err = provider().inspect(&t).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.to_string().contains("auth.api_token"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

const TOKEN_PATH: &str = "/client/v4/user/tokens/0a1b2c3d4e5f60718293a4b5c6d7e8f9";

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

async fn inspect_with(answer: ResponseTemplate) -> (ProviderError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(answer)
        .mount(&server)
        .await;
    let err = provider()
        .inspect(&target(&server, OLD_ID))
        .await
        .unwrap_err();
    assert_no_secret(&err.to_string(), &[]);
    (err, requests(&server).await)
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(envelope(old_token()))
        .mount(&server)
        .await;
    let key = provider()
        .inspect(&target(&server, OLD_ID))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.remote_id, OLD_ID);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn server_errors_until_retries_run_out() {
    let (err, attempts) = inspect_with(failure(503, 10000, "service unavailable")).await;
    assert_eq!(attempts, MAX_ATTEMPTS as usize);
    assert_eq!(err.status, Some(503));
    assert!(err.is_transient());
    let text = err.to_string();
    for part in [
        "cloudflare",
        "acme/cf",
        &format!("GET {TOKEN_PATH}"),
        "HTTP 503",
        "after 3 attempts",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[tokio::test]
async fn a_timeout_is_a_transport_error_after_retries() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(envelope(old_token()).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let cf = Cloudflare::new(&http_with(Duration::from_millis(200), 2));
    let err = cf.inspect(&target(&server, OLD_ID)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(requests(&server).await, 2);
    assert_no_secret(&err.to_string(), &[]);
}

#[tokio::test]
async fn a_truncated_body_is_a_bad_response() {
    let (err, _) = inspect_with(ResponseTemplate::new(200).set_body_raw(
        r#"{"success":true,"errors":[],"result":{"id":"0a"#,
        "application/json",
    ))
    .await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("cut off"), "{err}");
}

#[tokio::test]
async fn a_non_json_body_is_a_bad_response() {
    let (err, _) =
        inspect_with(ResponseTemplate::new(200).set_body_raw("<html>cf</html>", "text/html")).await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("not JSON"), "{err}");
}

#[tokio::test]
async fn a_token_missing_a_required_field_is_a_bad_response() {
    let mut token = old_token();
    token.as_object_mut().unwrap().remove("status");
    let (err, _) = inspect_with(envelope(token)).await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("missing field `status`"), "{err}");
    assert!(
        err.to_string().contains(&format!("GET {TOKEN_PATH}")),
        "{err}"
    );
}

#[tokio::test]
async fn success_false_in_a_200_is_a_clear_error() {
    let (err, _) = inspect_with(
        ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "errors": [{"code": 9109, "message": "Unauthorized to access requested resource"}],
            "messages": [], "result": null
        })),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::Http);
    let text = err.to_string();
    for part in [
        "cloudflare",
        "acme/cf",
        &format!("GET {TOKEN_PATH}"),
        "HTTP 200",
        "9109: Unauthorized",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[tokio::test]
async fn an_error_echoing_the_management_token_does_not_leak_it() {
    let (err, _) = inspect_with(failure(
        403,
        9109,
        &format!("token {MGMT} may not read tokens"),
    ))
    .await;
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert_eq!(err.status, Some(403));
}

#[tokio::test]
async fn verify_separates_refused_from_could_not_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/client/v4/user/tokens/verify"))
        .respond_with(failure(503, 10000, "down"))
        .mount(&server)
        .await;
    let cf = provider();
    let secret = Secret::new(OLD_VALUE);
    let v = cf
        .verify(&target(&server, OLD_ID), Some(OLD_ID), &secret)
        .await;
    assert_eq!(v.label(), "could-not-check", "{v:?}");
    if let Verification::CouldNotCheck { reason } = v {
        assert_no_secret(&reason, &[OLD_VALUE]);
    }

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(failure(
            401,
            1000,
            &format!("Invalid API Token {OLD_VALUE}"),
        ))
        .mount(&server)
        .await;
    let v = cf
        .verify(&target(&server, OLD_ID), Some(OLD_ID), &secret)
        .await;
    assert_eq!(v.label(), "invalid", "{v:?}");
    if let Verification::Invalid { reason } = v {
        assert_no_secret(&reason, &[OLD_VALUE]);
    }
}

#[tokio::test]
async fn create_that_fails_with_5xx_reports_and_leaves_no_orphan() {
    let (server, fake) = fake_server().await;
    Mock::given(method("POST"))
        .and(path("/client/v4/user/tokens"))
        .respond_with(failure(502, 10000, "bad gateway"))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = provider()
        .create(&target(&server, OLD_ID))
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(502));
    assert!(err.message.contains("no token named"), "{err}");
    assert_eq!(fake.count(), 1);
    assert_no_secret(&err.to_string(), &[]);
}

// ---------------------------------------------------------------------------------------
// Contract: Prism serves the official schema and validates every request keyward makes
// (path, query, body, security); an invalid one gets the spec's 4XX answer, which the
// provider reports as an error, so each `Ok` below is a request Prism accepted.
// ---------------------------------------------------------------------------------------

/// The official spec (tests/specs/cloudflare/openapi.trimmed.json, cloudflare/api-schemas @
/// b9f057ec) with its answers typed. That version types the `result` of Token Details, List
/// Tokens, Create Token and Update Token as a bare `object`, so Prism would answer `{}` where
/// the live API sends a token. The patch types those four answers as `iam_token` (the
/// schema's own token) and adds the live API's `last_used_on` to it. Request schemas are
/// untouched, so what Prism validates keyward's requests against is Cloudflare's.
fn contract_spec() -> &'static PathBuf {
    static SPEC: OnceLock<PathBuf> = OnceLock::new();
    SPEC.get_or_init(|| {
        let official = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs/cloudflare/openapi.trimmed.json");
        let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(official).unwrap()).unwrap();
        let token = json!({"$ref": "#/components/schemas/iam_token"});
        let schemas = &mut spec["components"]["schemas"];
        for (schema, pointer) in [
            ("iam_response_single", "/allOf/1/properties/result"),
            ("iam_response_collection", "/allOf/1/properties/result/items"),
            ("iam_response_create", "/allOf/1/properties/result/allOf/0"),
        ] {
            let slot = schemas[schema].pointer_mut(pointer).unwrap();
            assert_eq!(slot["type"], "object", "{schema}{pointer} is no longer an untyped object");
            *slot = token.clone();
        }
        schemas["iam_token"]["properties"]["last_used_on"] = json!({
            "description": "Last time the token was used (live API; not in this schema version).",
            "example": "2020-01-02T12:34:00Z", "format": "date-time", "readOnly": true, "type": "string"
        });
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cloudflare-user-tokens.contract.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        path
    })
}

fn prism() -> &'static Peer {
    shared_prism(contract_spec().to_str().unwrap())
}

/// The token id of the schema's examples.
const EXAMPLE_ID: &str = "ed17574386854bf78a67040be0a770b0";
/// The token value of the schema's examples.
const EXAMPLE_VALUE: &str = "8M7wS6hCpXVc-DoRnPPY_UCWPgy8aea4Wy6kCe5T";

fn prism_target(peer: &Peer) -> Target {
    let mut t = target_at(&peer.base_url, EXAMPLE_ID);
    t.credential.rotate_every_days = Some(30);
    t
}

fn target_at(endpoint: &str, remote_id: &str) -> Target {
    let mut credential = Credential::new("cf", ProviderKind::Cloudflare);
    credential.connection = Some("acme-cf".into());
    credential.remote_id = Some(remote_id.into());
    Target {
        at: "acme/cf".parse().unwrap(),
        credential,
        connection: Some(Connection {
            id: "acme-cf".into(),
            provider: ProviderKind::Cloudflare,
            endpoint: Some(endpoint.to_string()),
            auth: BTreeMap::from([("api_token".to_string(), Secret::new(MGMT))]),
            params: BTreeMap::new(),
        }),
    }
}

fn with_log<T, E: std::fmt::Display>(peer: &Peer, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}\n--- prism log ---\n{}", peer.log_tail()))
}

#[tokio::test]
async fn contract_token_details_and_list() {
    let peer = prism();
    let cf = provider();
    let t = prism_target(peer);
    let key = with_log(peer, cf.inspect(&t).await).expect("the example token");
    assert_eq!(key.remote_id, EXAMPLE_ID);
    assert_eq!(key.name.as_deref(), Some("readonly token"));
    assert_eq!(key.state, RemoteStatus::Active);
    assert_eq!(key.scopes, ["Zone Read", "Magic Network Monitoring"]);
    assert!(
        key.risks.is_empty(),
        "the example grants no Write group: {:?}",
        key.risks
    );
    assert_eq!(
        key.expires_at.unwrap().to_rfc3339(),
        "2020-01-01T00:00:00+00:00"
    );
    assert_eq!(
        key.created_at.unwrap().to_rfc3339(),
        "2018-07-01T05:20:00+00:00"
    );
    assert_eq!(
        key.last_used_at.unwrap().to_rfc3339(),
        "2020-01-02T12:34:00+00:00"
    );

    let listed = with_log(peer, cf.list(&t).await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], key);
}

#[tokio::test]
async fn contract_create_twin() {
    let peer = prism();
    let issued = with_log(peer, provider().create(&prism_target(peer)).await);
    assert_eq!(issued.remote_id, EXAMPLE_ID);
    assert_eq!(issued.secret.expose_secret(), EXAMPLE_VALUE);
    assert_eq!(issued.scopes, ["Zone Read", "Magic Network Monitoring"]);
}

#[tokio::test]
async fn contract_roll_verify_disable_delete() {
    let peer = prism();
    let cf = provider();
    let t = prism_target(peer);
    let rolled = with_log(peer, cf.roll(&t).await);
    assert_eq!(rolled.remote_id, EXAMPLE_ID);
    assert_eq!(rolled.secret.expose_secret(), EXAMPLE_VALUE);
    assert_eq!(
        rolled.expires_at.unwrap().to_rfc3339(),
        "2020-01-01T00:00:00+00:00"
    );

    let secret = Secret::new("a-token-being-checked-0123456789abcdefgh");
    assert_eq!(
        cf.verify(&t, Some(EXAMPLE_ID), &secret).await,
        Verification::Valid
    );
    assert_eq!(cf.verify(&t, None, &secret).await, Verification::Valid);

    with_log(peer, cf.deactivate(&t, EXAMPLE_ID).await);
    with_log(peer, cf.delete(&t, EXAMPLE_ID).await);
}

/// The control for the tests above: Prism does reject malformed requests (a DELETE without
/// the JSON body the schema requires, a policy without its required `id`).
#[tokio::test]
async fn contract_prism_rejects_what_the_schema_forbids() {
    let peer = prism();
    let raw = http_request(
        "DELETE",
        &format!("{}/user/tokens/{EXAMPLE_ID}", peer.base_url),
        &[("Authorization", "Bearer x")],
        b"",
    );
    assert_eq!(raw.status, 422, "{}", raw.text());
    assert!(raw
        .header("sl-violations")
        .unwrap_or("")
        .contains("Body parameter is required"));

    // A policy without its `id` (required by the schema) is refused the same way.
    let raw = http_request(
        "POST",
        &format!("{}/user/tokens", peer.base_url),
        &[
            ("Authorization", "Bearer x"),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"n","policies":[{"effect":"allow","resources":{},"permission_groups":[]}]}"#,
    );
    assert_eq!(raw.status, 422, "{}", raw.text());
}

/// Regression: the token roll (`PUT /user/tokens/{id}/value`) and the token creation
/// (`POST /user/tokens`) were retried on a 5xx like any read. A roll whose answer is lost has
/// already replaced the value, so a second roll loses the first new value for good; a second
/// create leaves an orphan token. Each is now sent once, whatever the retry budget.
#[tokio::test]
async fn cloudflare_roll_and_create_were_retried_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(envelope(old_token()))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(failure(502, 10000, "bad gateway"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(failure(502, 10000, "bad gateway"))
        .mount(&server)
        .await;
    let cf = provider();
    let t = target(&server, OLD_ID);
    let count = |verb: &'static str| {
        let server = &server;
        async move {
            server
                .received_requests()
                .await
                .unwrap_or_default()
                .iter()
                .filter(|r| r.method.as_str() == verb)
                .count()
        }
    };
    let err = cf.roll(&t).await.unwrap_err();
    assert_eq!(err.status, Some(502), "{err}");
    assert_eq!(count("PUT").await, 1, "a roll is never sent twice");
    let err = cf.create(&t).await.unwrap_err();
    assert_eq!(err.status, Some(502), "{err}");
    assert_eq!(count("POST").await, 1, "a create is never sent twice");
    // Reads still are retried.
    assert!(count("GET").await >= 1);
}

// ---------------------------------------------------------------------------------------
// Issue 15: account-owned tokens and client IP filtering, as Cloudflare documents them.
// ---------------------------------------------------------------------------------------

const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// Before: every path was `/user/tokens…`, so an account-owned token showed as missing and a
/// valid one verified as invalid (`/user/tokens/verify` answers 401 for it).
#[tokio::test]
async fn cloudflare_account_owned_token_showed_as_missing_and_verified_invalid() {
    let server = MockServer::start().await;
    let fake = Fake::default();
    fake.seed_owned(old_token(), OLD_VALUE, Some(ACCOUNT));
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    let cf = provider();
    let mut t = target(&server, OLD_ID);
    t.connection
        .as_mut()
        .unwrap()
        .params
        .insert("account_id".into(), ACCOUNT.into());

    let seen = cf.inspect(&t).await.unwrap().expect("the account token");
    assert_eq!(seen.remote_id, OLD_ID);
    assert_eq!(cf.list(&t).await.unwrap().len(), 1);
    assert_eq!(
        cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await,
        Verification::Valid
    );

    let twin = cf.create(&t).await.unwrap();
    assert_eq!(
        cf.verify(&t, Some(&twin.remote_id), &twin.secret).await,
        Verification::Valid
    );
    let rolled = cf.roll(&t).await.unwrap();
    assert_eq!(
        cf.verify(&t, Some(OLD_ID), &rolled.secret).await,
        Verification::Valid
    );
    cf.delete(&t, OLD_ID).await.unwrap();
    assert!(cf.inspect(&t).await.unwrap().is_none());
    let left = cf.list(&t).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].remote_id, twin.remote_id);
    // Everything went to the account's paths: the twin is the account's, not the user's.
    let all_the_accounts = fake
        .0
        .lock()
        .unwrap()
        .tokens
        .iter()
        .all(|t| t.account.as_deref() == Some(ACCOUNT));
    assert!(all_the_accounts, "every token is the account's");

    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with(&format!("{PREFIX}/accounts/{ACCOUNT}/tokens"))),
        "{paths:?}"
    );
}

/// Before: a token whose IP filter excludes this machine answered 403 with error 9109, which
/// verify read as a dead token.
#[tokio::test]
async fn cloudflare_ip_restricted_token_was_read_as_invalid() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().caller_ip = Some(std::net::Ipv4Addr::new(203, 0, 113, 9));
    let cf = provider();
    let t = target(&server, OLD_ID);
    let v = cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await;
    let Verification::CannotCheck { reason } = &v else {
        panic!("expected cannot-check, got {v:?}");
    };
    assert!(reason.contains("9109"), "{reason}");
    assert_no_secret(reason, &[OLD_VALUE]);
    // From an allowed address the same token is valid, and a wrong value is still invalid.
    fake.0.lock().unwrap().caller_ip = Some(std::net::Ipv4Addr::new(199, 27, 129, 1));
    assert_eq!(
        cf.verify(&t, Some(OLD_ID), &Secret::new(OLD_VALUE)).await,
        Verification::Valid
    );
    let wrong = cf.verify(&t, Some(OLD_ID), &Secret::new("nope")).await;
    assert_eq!(wrong.label(), "invalid", "{wrong:?}");
}

/// `connections test`: the management token's owner, its permission to write tokens, and
/// error 9109 read as "cannot check from here".
#[tokio::test]
async fn cloudflare_connection_test_reports_the_owner_and_what_the_token_may_do() {
    let (server, fake) = fake_server().await;
    let cf = provider();
    let mut conn = target(&server, OLD_ID).connection.unwrap();
    let report = cf.check_connection(&conn).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.facts["token owner"], "user");
    assert_eq!(report.facts["token status"], "active");
    assert_eq!(report.can_create, Ability::Yes);

    conn.params.insert("account_id".into(), ACCOUNT.into());
    let report = cf.check_connection(&conn).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.facts["token owner"], format!("account {ACCOUNT}"));
    assert!(report.probes[0]
        .call
        .contains(&format!("/accounts/{ACCOUNT}/tokens/verify")));

    {
        let mut st = fake.0.lock().unwrap();
        st.caller_ip = Some(std::net::Ipv4Addr::new(203, 0, 113, 9));
        st.mgmt_condition = json!({"request_ip": {"in": ["199.27.128.0/21"]}});
    }
    let report = cf.check_connection(&conn).await;
    assert_eq!(report.probes.len(), 1, "{report:?}");
    assert_eq!(report.probes[0].outcome, ProbeOutcome::NotChecked);
    assert!(
        report
            .note
            .as_deref()
            .is_some_and(|n| n.contains("address")),
        "{report:?}"
    );
    assert_no_secret(&format!("{report:?}"), &[]);
    let writes = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .count();
    assert_eq!(writes, 0, "a check never writes");
}

/// Issue 13: discovery lists the tokens of the connection's owner, as the official schema
/// describes them (Prism), with their scopes and last use.
#[tokio::test]
async fn contract_discover_lists_the_owners_tokens() {
    let peer = prism();
    let conn = prism_target(peer).connection.expect("a connection");
    let found = with_log(peer, provider().discover(&conn).await);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key.remote_id, EXAMPLE_ID);
    assert_eq!(found[0].owner.as_deref(), Some("the connection's user"));
    assert_eq!(
        found[0].key.scopes,
        ["Zone Read", "Magic Network Monitoring"]
    );
    assert!(found[0].key.last_used_at.is_some());
    assert_no_secret(&format!("{found:?}"), &[MGMT]);
}
