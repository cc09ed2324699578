//! The GitLab access token provider against a stateful wiremock fake built from the fields
//! GitLab documents for its token APIs (lifecycle: rotate in place with a new id, verify,
//! revoke), and against faults: rate limits, 5xx, timeouts, garbage.
//!
//! The fake also models what GitLab's answers mean (docs.gitlab.com/ee/api/
//! personal_access_tokens.html): a 404 for a token the management token may not see, a 401
//! for a revoked or expired token (non-administrators), revoked tokens kept and listed, and
//! automatic reuse detection (16.3+): rotating a revoked token revokes its whole family
//! (gitlab-org/gitlab#524639 shows it with the token that replaced it).

use crate::support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use keyward::inventory::{Connection, Credential, ProviderKind, RemoteStatus};
use keyward::providers::gitlab::Gitlab;
use keyward::providers::revocation::{self, Deletion, Revocation};
use keyward::providers::{ErrorKind, Provider, ProviderError, RotationStyle, Target, Verification};
use keyward::secret::Secret;
use serde_json::{json, Value};
use support::http::fast_http as http_with;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The management token keyward holds: as short as a real one, too short for the generic
/// redaction of long runs, so it tests the provider's own masking.
const MGMT: &str = "glpat-MgmtToken0123456789";
const MAX_ATTEMPTS: u32 = 3;

fn provider() -> Gitlab {
    Gitlab::new(&http_with(Duration::from_secs(5), MAX_ATTEMPTS))
}

fn target(server: &MockServer, remote_id: &str, params: &[(&str, &str)]) -> Target {
    let mut credential = Credential::new("gl", ProviderKind::Gitlab);
    credential.connection = Some("acme-gl".into());
    credential.remote_id = Some(remote_id.into());
    credential.rotate_every_days = Some(30);
    credential.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Target {
        at: "acme/gl".parse().unwrap(),
        credential,
        connection: Some(Connection {
            id: "acme-gl".into(),
            provider: ProviderKind::Gitlab,
            // A self-hosted instance under a sub-path: the API lives at /gitlab/api/v4.
            endpoint: Some(format!("{}/gitlab", server.uri())),
            auth: BTreeMap::from([("token".to_string(), Secret::new(MGMT))]),
            params: BTreeMap::new(),
        }),
    }
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for s in secrets.iter().chain([&MGMT]) {
        assert!(!text.contains(s), "a secret leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------
// A stateful fake of GitLab's personal, project and group access token APIs.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Owner {
    User(u64),
    Project(String),
    Group(String),
}

struct FakeToken {
    owner: Owner,
    token: Value,
    value: String,
    /// The id of the token this one descends from by rotation (its own for an original).
    family: u64,
}

#[derive(Default)]
struct State {
    tokens: Vec<FakeToken>,
    serial: u64,
    /// Bodies of rotate calls.
    rotations: Vec<Value>,
    /// Answer the next rotate without the new id (a broken answer).
    drop_id_once: bool,
    /// Answer the next rotate without the new value (a broken answer).
    drop_token_once: bool,
    /// Rotate, but answer the next rotate too late for the client (the answer is lost).
    stall_once: bool,
    /// Rotate, but answer the next rotate with a 502 (a proxy lost GitLab's answer).
    lose_rotate_answer_once: bool,
    /// Token ids the management token may not see: GitLab answers 404 and leaves them out
    /// of listings.
    hidden: Vec<String>,
    /// Answer a revoke of a revoked or expired token with 401, as GitLab does for
    /// non-administrators.
    non_admin: bool,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

/// The largest page the fake serves, smaller than keyward asks for, to exercise paging.
const FAKE_PAGE: usize = 2;

fn message(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "message": text }))
}

impl Fake {
    fn seed(&self, owner: Owner, id: u64, scopes: &[&str], value: &str) {
        let user_id = match owner {
            Owner::User(u) => u,
            _ => 900 + id,
        };
        self.0.lock().unwrap().tokens.push(FakeToken {
            owner,
            family: id,
            token: json!({
                "id": id, "name": format!("token-{id}"), "revoked": false, "active": true,
                "scopes": scopes, "user_id": user_id, "created_at": "2025-01-20T22:11:48.151Z",
                "expires_at": "2025-06-30", "last_used_at": "2025-02-13T10:34:57.178Z",
                "access_level": 40
            }),
            value: value.into(),
        });
        let mut st = self.0.lock().unwrap();
        st.serial = st.serial.max(id);
    }
}

fn has_id(t: &FakeToken, id: &str) -> bool {
    t.token["id"].as_u64().is_some_and(|n| id.parse() == Ok(n))
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = self.0.lock().unwrap();
        let presented = req
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let Some(rest) = req.url.path().strip_prefix("/gitlab/api/v4/") else {
            return message(404, "404 Not Found");
        };
        let segs: Vec<String> = rest.split('/').map(|s| s.replace("%2F", "/")).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let verb = req.method.as_str();
        if verb == "GET" && segs == ["personal_access_tokens", "self"] {
            if presented == MGMT {
                // The management token describes itself like any other token.
                return ResponseTemplate::new(200).set_body_json(json!({
                    "id": 1, "name": "keyward", "revoked": false, "active": true,
                    "scopes": ["api"], "user_id": 1, "created_at": "2025-01-01T00:00:00Z",
                    "expires_at": "2026-12-31", "last_used_at": null
                }));
            }
            return match st.tokens.iter().find(|t| t.value == presented) {
                Some(t) if t.token["active"] == true => {
                    ResponseTemplate::new(200).set_body_json(&t.token)
                }
                _ => message(401, "401 Unauthorized"),
            };
        }
        if presented != MGMT {
            return message(401, "401 Unauthorized");
        }
        let (owner, tail): (Option<Owner>, &[&str]) = match segs.as_slice() {
            ["personal_access_tokens", tail @ ..] => (None, tail),
            ["projects", p, "access_tokens", tail @ ..] => {
                (Some(Owner::Project(p.to_string())), tail)
            }
            ["groups", g, "access_tokens", tail @ ..] => (Some(Owner::Group(g.to_string())), tail),
            _ => return message(404, "404 Not Found"),
        };
        let hidden = st.hidden.clone();
        let non_admin = st.non_admin;
        let belongs = |t: &FakeToken| {
            let seen = !hidden.iter().any(|h| has_id(t, h));
            seen && match &owner {
                None => matches!(t.owner, Owner::User(_)),
                Some(o) => &t.owner == o,
            }
        };
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        match (verb, tail) {
            ("GET", []) => {
                let user: Option<u64> = q.get("user_id").and_then(|u| u.parse().ok());
                let all: Vec<Value> = st
                    .tokens
                    .iter()
                    .filter(|t| belongs(t))
                    .filter(|t| user.is_none_or(|u| t.owner == Owner::User(u)))
                    .map(|t| t.token.clone())
                    .collect();
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let per: usize = q
                    .get("per_page")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(20)
                    .min(FAKE_PAGE);
                let slice: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per)
                    .take(per)
                    .cloned()
                    .collect();
                let next = if page * per < all.len() {
                    (page + 1).to_string()
                } else {
                    String::new()
                };
                ResponseTemplate::new(200)
                    .insert_header("x-next-page", next.as_str())
                    .set_body_json(slice)
            }
            ("GET", [id]) => match st.tokens.iter().find(|t| belongs(t) && has_id(t, id)) {
                Some(t) => ResponseTemplate::new(200).set_body_json(&t.token),
                None => message(404, "404 Not Found"),
            },
            ("POST", [id, "rotate"]) => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let Some(expires) = body["expires_at"]
                    .as_str()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                else {
                    return message(400, "expires_at is invalid");
                };
                st.rotations.push(body.clone());
                st.serial += 1;
                let new_id = st.serial;
                let value = format!("glpat-new{new_id:016}");
                // Reuse detection: rotating a revoked token revokes its whole family.
                if let Some(family) = st
                    .tokens
                    .iter()
                    .find(|t| belongs(t) && has_id(t, id) && t.token["revoked"] == true)
                    .map(|t| t.family)
                {
                    for t in st.tokens.iter_mut().filter(|t| t.family == family) {
                        t.token["revoked"] = json!(true);
                        t.token["active"] = json!(false);
                    }
                    return message(401, "401 Unauthorized");
                }
                let Some(old) = st
                    .tokens
                    .iter_mut()
                    .find(|t| belongs(t) && has_id(t, id) && t.token["active"] == true)
                else {
                    return message(404, "404 Not Found");
                };
                let family = old.family;
                old.token["revoked"] = json!(true);
                old.token["active"] = json!(false);
                let mut token = old.token.clone();
                let owner = old.owner.clone();
                token["id"] = json!(new_id);
                token["revoked"] = json!(false);
                token["active"] = json!(true);
                token["expires_at"] = json!(expires.format("%Y-%m-%d").to_string());
                token["created_at"] = json!(Utc::now().to_rfc3339());
                token["last_used_at"] = Value::Null;
                st.tokens.push(FakeToken {
                    owner,
                    token: token.clone(),
                    value: value.clone(),
                    family,
                });
                if std::mem::take(&mut st.lose_rotate_answer_once) {
                    return message(502, "502 Bad Gateway");
                }
                token["token"] = json!(value);
                if std::mem::take(&mut st.drop_id_once) {
                    token.as_object_mut().unwrap().remove("id");
                }
                if std::mem::take(&mut st.drop_token_once) {
                    token.as_object_mut().unwrap().remove("token");
                }
                let answer = ResponseTemplate::new(200).set_body_json(token);
                if std::mem::take(&mut st.stall_once) {
                    answer.set_delay(Duration::from_secs(2))
                } else {
                    answer
                }
            }
            ("DELETE", [id]) => match st.tokens.iter_mut().find(|t| belongs(t) && has_id(t, id)) {
                // To a non-administrator, a revoked or expired token is "unauthorized".
                Some(t) if t.token["active"] == false && non_admin => {
                    message(401, "401 Unauthorized")
                }
                // Revoking a revoked token is refused, as a guard the provider must handle.
                Some(t) if t.token["revoked"] == true => {
                    message(400, "400 Bad request - Token already revoked")
                }
                Some(t) => {
                    t.token["revoked"] = json!(true);
                    t.token["active"] = json!(false);
                    ResponseTemplate::new(204)
                }
                None => message(404, "404 Not Found"),
            },
            _ => message(404, "404 Not Found"),
        }
    }
}

const OLD_VALUE: &str = "glpat-OldValue0123456789";

async fn fake_server() -> (MockServer, Fake) {
    let server = MockServer::start().await;
    let fake = Fake::default();
    fake.seed(Owner::User(141), 7, &["api", "read_repository"], OLD_VALUE);
    fake.seed(
        Owner::User(141),
        8,
        &["read_api"],
        "glpat-Sibling00000000001",
    );
    fake.seed(
        Owner::User(141),
        9,
        &["read_user"],
        "glpat-Sibling00000000002",
    );
    fake.seed(Owner::User(999), 10, &["sudo"], "glpat-OtherUser000000003");
    fake.seed(
        Owner::Project("acme/bot".into()),
        20,
        &["read_api"],
        "glpat-Project0000000004",
    );
    fake.seed(
        Owner::Group("42".into()),
        30,
        &["api"],
        "glpat-Group000000000005",
    );
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    (server, fake)
}

fn expiry_within(today_before: NaiveDate, today_after: NaiveDate, days: u64, got: &str) -> bool {
    let got = NaiveDate::parse_from_str(got, "%Y-%m-%d").unwrap();
    got >= today_before.checked_add_days(Days::new(days)).unwrap()
        && got <= today_after.checked_add_days(Days::new(days)).unwrap()
}

#[tokio::test]
async fn personal_token_rotates_in_place_with_a_new_id_and_the_old_one_dies() {
    let (server, fake) = fake_server().await;
    let gl = provider();
    let t = target(&server, "7", &[]);
    assert_eq!(gl.capabilities().rotation, RotationStyle::RollInPlace);

    let old = gl.inspect(&t).await.unwrap().expect("token 7 exists");
    assert_eq!(old.state, RemoteStatus::Active);
    assert_eq!(old.scopes, ["api", "read_repository"]);
    assert_eq!(old.risks.len(), 1);
    assert!(old.risks[0].contains("`api`"));
    assert_eq!(
        old.expires_at.unwrap().to_rfc3339(),
        "2025-06-30T00:00:00+00:00"
    );
    assert!(old.last_used_at.is_some());

    // Siblings are the same user's tokens only, across pages.
    let listed = gl.list(&t).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|k| k.remote_id.as_str()).collect();
    assert_eq!(ids, ["7", "8", "9"]);

    let before = Utc::now().date_naive();
    let issued = gl.roll(&t).await.unwrap();
    let after = Utc::now().date_naive();
    assert_ne!(
        issued.remote_id, "7",
        "GitLab gives the rotated token a new id"
    );
    assert_ne!(issued.secret.expose_secret(), OLD_VALUE);
    assert_eq!(issued.scopes, ["api", "read_repository"]);
    {
        let st = fake.0.lock().unwrap();
        let asked = st.rotations[0]["expires_at"].as_str().unwrap();
        assert!(
            expiry_within(before, after, 30, asked),
            "expires_at {asked}"
        );
    }

    assert_eq!(
        gl.inspect(&t).await.unwrap().unwrap().state,
        RemoteStatus::Revoked
    );
    let old_check = gl.verify(&t, Some("7"), &Secret::new(OLD_VALUE)).await;
    assert_eq!(old_check.label(), "invalid", "{old_check:?}");
    assert_eq!(
        gl.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    let mixed = gl.verify(&t, Some("7"), &issued.secret).await;
    assert_eq!(
        mixed.label(),
        "invalid",
        "the new secret is not token 7: {mixed:?}"
    );

    let listed = gl
        .list(&target(&server, &issued.remote_id, &[]))
        .await
        .unwrap();
    let states: Vec<(&str, RemoteStatus)> = listed
        .iter()
        .map(|k| (k.remote_id.as_str(), k.state))
        .collect();
    assert_eq!(
        states,
        [
            ("7", RemoteStatus::Revoked),
            ("8", RemoteStatus::Active),
            ("9", RemoteStatus::Active),
            (issued.remote_id.as_str(), RemoteStatus::Active)
        ]
    );

    assert_eq!(
        gl.delete(&t, &issued.remote_id).await.unwrap(),
        Deletion::Deleted
    );
    let gone = gl.verify(&t, Some(&issued.remote_id), &issued.secret).await;
    assert_eq!(gone.label(), "invalid", "{gone:?}");
    // Revoking again: GitLab refuses, and shows the token revoked.
    assert_eq!(
        gl.delete(&t, &issued.remote_id).await.unwrap(),
        Deletion::AlreadyRevoked
    );
    // An id GitLab does not show is not proof of anything.
    let unknown = revocation::revoke(&gl, &t, "4040").await.unwrap();
    assert!(!unknown.is_confirmed(), "{unknown:?}");
}

#[tokio::test]
async fn project_token_by_path_rotates_and_lists() {
    let (server, _fake) = fake_server().await;
    let gl = provider();
    let t = target(
        &server,
        "20",
        &[("token_type", "project"), ("project_id", "acme/bot")],
    );
    let issued = gl.roll(&t).await.unwrap();
    assert_ne!(issued.remote_id, "20");
    let listed = gl.list(&t).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        gl.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    assert_eq!(
        gl.inspect(&t).await.unwrap().unwrap().state,
        RemoteStatus::Revoked
    );
}

#[tokio::test]
async fn group_token_rotates_and_is_flagged_broad() {
    let (server, _fake) = fake_server().await;
    let gl = provider();
    let t = target(
        &server,
        "30",
        &[("token_type", "group"), ("group_id", "42")],
    );
    assert_eq!(gl.inspect(&t).await.unwrap().unwrap().risks.len(), 1);
    let issued = gl.roll(&t).await.unwrap();
    assert_eq!(
        gl.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    gl.delete(&t, &issued.remote_id).await.unwrap();
    let listed = gl.list(&t).await.unwrap();
    assert!(listed.iter().all(|k| k.state == RemoteStatus::Revoked));
}

#[tokio::test]
async fn rotate_answer_without_the_new_id_is_completed_by_asking_with_the_new_token() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().drop_id_once = true;
    let gl = provider();
    let t = target(&server, "7", &[]);
    let issued = gl.roll(&t).await.unwrap();
    assert_eq!(
        issued.remote_id, "31",
        "the id GitLab gave the new token (after the seeded 30)"
    );
    assert_eq!(
        gl.verify(&t, Some("31"), &issued.secret).await,
        Verification::Valid
    );
}

#[tokio::test]
async fn rotate_answer_without_the_new_value_says_the_old_token_is_revoked() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().drop_token_once = true;
    let err = provider()
        .roll(&target(&server, "7", &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("old token is revoked"), "{err}");
    assert!(
        err.to_string()
            .contains("POST /gitlab/api/v4/personal_access_tokens/7/rotate"),
        "{err}"
    );
    assert_no_secret(&err.to_string(), &[OLD_VALUE]);
}

#[tokio::test]
async fn rotate_whose_answer_is_lost_says_the_old_token_is_revoked_and_the_value_unknown() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().stall_once = true;
    // The POST rotates but times out; a look at token 7 finds it revoked.
    let gl = Gitlab::new(&http_with(Duration::from_millis(300), 2));
    let err = gl.roll(&target(&server, "7", &[])).await.unwrap_err();
    assert!(
        err.message.contains("GitLab has revoked token `7`"),
        "{err}"
    );
    assert!(err.message.contains("the new value is unknown"), "{err}");
    assert_no_secret(&err.to_string(), &[OLD_VALUE]);
}

#[tokio::test]
async fn gitlab_rotate_post_was_not_marked_not_idempotent() {
    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().stall_once = true;
    let gl = Gitlab::new(&http_with(Duration::from_millis(300), 4));
    let err = gl.roll(&target(&server, "7", &[])).await.unwrap_err();
    assert!(err.message.contains("the new value is unknown"), "{err}");
    // The lost answer is not followed by a second rotate, whatever the retry budget.
    assert_eq!(fake.0.lock().unwrap().rotations.len(), 1);
    let posts = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn bad_token_type_and_missing_project_are_config_errors() {
    let (server, _fake) = fake_server().await;
    let gl = provider();
    let err = gl
        .inspect(&target(&server, "7", &[("token_type", "deploy")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("personal, project or group"), "{err}");
    let err = gl
        .inspect(&target(&server, "7", &[("token_type", "project")]))
        .await
        .unwrap_err();
    assert!(err.message.contains("params.project_id"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

const TOKEN_PATH: &str = "/gitlab/api/v4/personal_access_tokens/7";

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

fn documented_token() -> Value {
    json!({
        "id": 7, "name": "token", "revoked": false, "active": true, "scopes": ["read_api"],
        "user_id": 141, "created_at": "2025-01-20T22:11:48.151Z", "expires_at": "2025-06-30",
        "last_used_at": null
    })
}

async fn inspect_with(answer: ResponseTemplate) -> (ProviderError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TOKEN_PATH))
        .respond_with(answer)
        .mount(&server)
        .await;
    let err = provider()
        .inspect(&target(&server, "7", &[]))
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
        .respond_with(ResponseTemplate::new(200).set_body_json(documented_token()))
        .mount(&server)
        .await;
    let key = provider()
        .inspect(&target(&server, "7", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.remote_id, "7");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn server_errors_until_retries_run_out() {
    let (err, attempts) = inspect_with(message(500, "500 Internal Server Error")).await;
    assert_eq!(attempts, MAX_ATTEMPTS as usize);
    assert_eq!(err.status, Some(500));
    let text = err.to_string();
    for part in [
        "gitlab",
        "acme/gl",
        &format!("GET {TOKEN_PATH}"),
        "HTTP 500",
        "after 3 attempts",
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[tokio::test]
async fn a_timeout_is_a_transport_error_after_retries() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(documented_token())
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let gl = Gitlab::new(&http_with(Duration::from_millis(200), 2));
    let err = gl.inspect(&target(&server, "7", &[])).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(requests(&server).await, 2);
    assert_no_secret(&err.to_string(), &[]);
}

#[tokio::test]
async fn a_truncated_body_is_a_bad_response() {
    let (err, _) = inspect_with(
        ResponseTemplate::new(200).set_body_raw(r#"{"id":7,"name":"tok"#, "application/json"),
    )
    .await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("cut off"), "{err}");
}

#[tokio::test]
async fn a_non_json_body_is_a_bad_response() {
    let (err, _) =
        inspect_with(ResponseTemplate::new(200).set_body_raw("<html>sign in</html>", "text/html"))
            .await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("not JSON"), "{err}");
}

#[tokio::test]
async fn a_token_missing_a_documented_field_is_a_bad_response() {
    let mut token = documented_token();
    token.as_object_mut().unwrap().remove("revoked");
    let (err, _) = inspect_with(ResponseTemplate::new(200).set_body_json(token)).await;
    assert_eq!(err.kind, ErrorKind::BadResponse);
    assert!(err.message.contains("missing field `revoked`"), "{err}");
}

#[tokio::test]
async fn an_error_echoing_the_management_token_does_not_leak_it() {
    let (err, _) = inspect_with(message(
        401,
        &format!("401 Unauthorized: token {MGMT} is revoked"),
    ))
    .await;
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(err.message.contains("401 Unauthorized"), "{err}");
}

#[tokio::test]
async fn verify_separates_refused_from_could_not_check() {
    let gl = provider();
    let secret = Secret::new(OLD_VALUE);
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(message(503, "busy"))
        .mount(&server)
        .await;
    let v = gl
        .verify(&target(&server, "7", &[]), Some("7"), &secret)
        .await;
    assert_eq!(v.label(), "could-not-check", "{v:?}");

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(message(401, &format!("invalid token {OLD_VALUE}")))
        .mount(&server)
        .await;
    let v = gl
        .verify(&target(&server, "7", &[]), Some("7"), &secret)
        .await;
    assert_eq!(v.label(), "invalid", "{v:?}");
    if let Verification::Invalid { reason } = v {
        assert_no_secret(&reason, &[OLD_VALUE]);
    }

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"id\":", "application/json"))
        .mount(&server)
        .await;
    let v = gl
        .verify(&target(&server, "7", &[]), Some("7"), &secret)
        .await;
    assert_eq!(v.label(), "could-not-check", "{v:?}");
}

// ---------------------------------------------------------------------------------------
// What GitLab's 404 and 401 mean, and reuse detection
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn gitlab_404_for_a_token_hidden_from_the_management_token_was_recorded_as_revoked() {
    let (server, fake) = fake_server().await;
    // The management token may not see token 8: GitLab answers 404 and leaves it out.
    fake.0.lock().unwrap().hidden.push("8".into());
    let gl = provider();
    let t = target(&server, "8", &[]);
    let verdict = revocation::revoke(&gl, &t, "8").await.unwrap();
    let Revocation::Unconfirmed { reason } = &verdict else {
        panic!("a 404 was taken for proof: {verdict:?}");
    };
    assert!(reason.contains("HTTP 404"), "{reason}");
    assert!(reason.contains("may not be allowed to see it"), "{reason}");
    assert_no_secret(reason, &["glpat-Sibling00000000001"]);
    let st = fake.0.lock().unwrap();
    let token8 = st.tokens.iter().find(|t| has_id(t, "8")).unwrap();
    assert_eq!(token8.token["active"], true, "the token still works");
}

#[tokio::test]
async fn gitlab_401_on_a_revoked_token_is_confirmed_by_reading_it_revoked() {
    let (server, fake) = fake_server().await;
    {
        let mut st = fake.0.lock().unwrap();
        st.non_admin = true;
        let t9 = st.tokens.iter_mut().find(|t| has_id(t, "9")).unwrap();
        t9.token["revoked"] = json!(true);
        t9.token["active"] = json!(false);
    }
    let gl = provider();
    let t = target(&server, "9", &[]);
    let verdict = revocation::revoke(&gl, &t, "9").await.unwrap();
    assert_eq!(
        verdict,
        Revocation::ConfirmedGone {
            how: "the provider lists it as revoked".into()
        }
    );
}

#[tokio::test]
async fn gitlab_401_from_a_refused_management_token_is_not_taken_for_a_gone_token() {
    let (server, _fake) = fake_server().await;
    let gl = provider();
    let mut t = target(&server, "8", &[]);
    t.connection
        .as_mut()
        .unwrap()
        .auth
        .insert("token".into(), Secret::new("glpat-Expired0000000000000"));
    let err = revocation::revoke(&gl, &t, "8").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(
        err.message.contains("refuses the management token"),
        "{err}"
    );
    assert_no_secret(&err.to_string(), &["glpat-Expired0000000000000"]);
}

/// A roll whose answer was lost, then `resume`: rotating the revoked token again would trip
/// GitLab's reuse detection and revoke the token that replaced it.
#[tokio::test]
async fn gitlab_resume_re_rotated_a_revoked_token_and_reuse_detection_revoked_its_successor() {
    use keyward::inventory::Inventory;
    use keyward::rotation::{Engine, NonInteractive, Options, OutcomeKind, ProviderSet, StepRetry};

    let (server, fake) = fake_server().await;
    fake.0.lock().unwrap().lose_rotate_answer_once = true;
    let mut inv = Inventory::new(vec![]);
    let t = target(&server, "7", &[]);
    inv.connections.push(t.connection.clone().unwrap());
    let mut c = t.credential.clone();
    c.secret = Some(Secret::new(OLD_VALUE));
    inv.insert("acme", c);
    let disk = support::disk::MemoryDisk::default();
    let options = Options {
        retry: StepRetry {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        },
        ..Options::default()
    };
    let gl: Arc<dyn Provider> = Arc::new(provider());
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(gl),
        Arc::new(NonInteractive { yes: true }),
        options,
    );
    let at: keyward::inventory::CredentialRef = "acme/gl".parse().unwrap();
    let plan = engine.plan(vec![(at.clone(), "asked".into())]).await;
    let first = engine.rotate(&plan).await;
    assert_eq!(first.count(OutcomeKind::Failed), 1, "{first:?}");
    let successor = {
        let st = fake.0.lock().unwrap();
        assert_eq!(st.rotations.len(), 1);
        st.tokens.last().unwrap().token["id"].clone()
    };

    let resumed = engine.resume(&[], false).await;
    assert_eq!(resumed.count(OutcomeKind::Failed), 1, "{resumed:?}");
    let message = &resumed.outcomes[0].message;
    assert!(
        message.contains("revoke the whole token family"),
        "{message}"
    );
    let st = fake.0.lock().unwrap();
    assert_eq!(st.rotations.len(), 1, "the revoked token was rotated again");
    let new = st
        .tokens
        .iter()
        .find(|t| t.token["id"] == successor)
        .unwrap();
    assert_eq!(
        new.token["active"], true,
        "reuse detection revoked the successor"
    );
    let journal = disk.last().credential(&at).unwrap().rotation.clone();
    assert!(journal.is_some(), "the journal is kept for a person");
}

/// Before: `keyward connections test` answered "not checked" for GitLab. It now asks GitLab
/// about the management token itself (`GET /personal_access_tokens/self`, as documented in
/// "Personal access tokens API"), and only reads.
#[tokio::test]
async fn gitlab_connection_test_answered_not_checked() {
    use keyward::providers::connection_check::{Ability, ProbeOutcome};
    let (server, _fake) = fake_server().await;
    let p = provider();
    let connection = target(&server, "7", &[]).connection.expect("a connection");

    let report = p.check_connection(&connection).await;
    assert!(report.checked && report.all_allowed(), "{report:?}");
    assert_eq!(report.probes[0].call, "GET /personal_access_tokens/self");
    assert_eq!(report.facts["scopes"], "api");
    assert_eq!(report.facts["active"], "yes");
    assert_eq!(report.facts["expires at"], "2026-12-31");
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::Yes, Ability::Yes)
    );

    // A token without `api` reaches GitLab but may not rotate or revoke.
    let mut read_only = connection.clone();
    read_only
        .auth
        .insert("token".into(), Secret::new("glpat-Sibling00000000001"));
    let report = p.check_connection(&read_only).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.facts["scopes"], "read_api");
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::No, Ability::No)
    );
    assert!(
        report
            .note
            .as_deref()
            .is_some_and(|n| n.contains("`api` scope")),
        "{report:?}"
    );

    // A token GitLab refuses: refused, no ability, and its value never shows.
    let mut refused = connection.clone();
    refused
        .auth
        .insert("token".into(), Secret::new("glpat-Refused0123456789"));
    let report = p.check_connection(&refused).await;
    assert_eq!(
        report.probes[0].outcome,
        ProbeOutcome::Refused,
        "{report:?}"
    );
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::No, Ability::No)
    );
    assert_no_secret(&format!("{report:?}"), &["glpat-Refused0123456789"]);

    let methods: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
}

/// Issue 13: discovery lists every personal token the management token sees (pages of
/// two), then the tokens of the project and the group the connection names, each with what
/// a credential needs to rotate it.
#[tokio::test]
async fn discover_lists_personal_project_and_group_tokens_over_pages() {
    let (server, _fake) = fake_server().await;
    let mut conn = target(&server, "7", &[]).connection.expect("a connection");
    conn.params.insert("project_id".into(), "acme/bot".into());
    conn.params.insert("group_id".into(), "42".into());
    let found = provider().discover(&conn).await.expect("listed");
    let seen: Vec<(&str, Option<&str>, Option<&str>)> = found
        .iter()
        .map(|f| {
            (
                f.key.remote_id.as_str(),
                f.owner.as_deref(),
                f.params.get("token_type").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("7", Some("user 141"), Some("personal")),
            ("8", Some("user 141"), Some("personal")),
            ("9", Some("user 141"), Some("personal")),
            ("10", Some("user 999"), Some("personal")),
            ("20", Some("project acme/bot"), Some("project")),
            ("30", Some("group 42"), Some("group")),
        ]
    );
    assert_eq!(
        found[4].params.get("project_id").map(String::as_str),
        Some("acme/bot")
    );
    assert!(found[0].key.last_used_at.is_some());
    assert_no_secret(&format!("{found:?}"), &[MGMT, OLD_VALUE]);
}
