//! Contract tests: every request the OpenAI, Twilio, SendGrid, Datadog and Okta providers make goes to
//! Prism serving the provider's official OpenAPI description (tests/specs/), which validates
//! it (path, query, body, content type, security) and answers with the spec's examples. An
//! invalid request gets a 4xx, which the provider reports as an error, so every `Ok` below
//! is a request Prism accepted, and every assertion on the result shows the example answer
//! was read. Deletes treat 404 as "gone already", so for them the Prism log is checked too:
//! the route must have matched.
//!
//! Where an operation's answer depends on an earlier answer (a restricted Twilio key, an
//! OpenAI key owned by a service account), a copy of the spec with only the wanted example
//! or enum order is served; request schemas are never touched.

use crate::saas_common;
use crate::support;

use std::path::PathBuf;
use std::sync::OnceLock;

use keyward::providers::datadog::Datadog;
use keyward::providers::okta::Okta;
use keyward::providers::openai::OpenAi;
use keyward::providers::sendgrid::Sendgrid;
use keyward::providers::twilio::Twilio;
use keyward::providers::{ErrorKind, Provider, Verification};
use keyward::secret::Secret;
use saas_common::*;
use serde_json::Value;
use support::peers::{shared_prism, Peer};

fn spec(rel: &str) -> String {
    format!("{}/tests/specs/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Writes `doc` as JSON under the test target dir and returns its path.
fn write_patched(name: &str, doc: &Value) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(doc).expect("serializable"))
        .expect("write spec copy");
    path.display().to_string()
}

fn with_log<T, E: std::fmt::Display>(peer: &Peer, r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}\n--- {} log ---\n{}", peer.name, peer.log_tail()))
}

/// Checks that Prism routed `method path` to an operation of the spec (a request that
/// matched no path would look like a 404, which a delete takes for "gone already").
fn assert_routed(peer: &Peer, method: &str, path: &str) {
    let received = format!("[HTTP SERVER] {} {path} ", method.to_lowercase());
    // Prism logs asynchronously: wait for the line, a bounded number of times.
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&peer.log_path).unwrap_or_default();
        if log.contains(&format!("{received}ℹ")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        log.contains(&format!("{received}ℹ")),
        "{method} {path} never reached {}:\n{}",
        peer.name,
        peer.log_tail()
    );
    assert!(
        !log.contains(&format!("{received}✖")),
        "{method} {path} was refused by {}:\n{}",
        peer.name,
        peer.log_tail()
    );
}

// ---- SendGrid ---------------------------------------------------------------------------

fn sg_keys() -> &'static Peer {
    shared_prism("sendgrid/tsg_api_keys_v3.json")
}

fn sg_scopes() -> &'static Peer {
    shared_prism("sendgrid/tsg_scopes_v3.json")
}

#[tokio::test]
async fn sendgrid_inspect_list_and_rename_read_the_examples() {
    let peer = sg_keys();
    let p = Sendgrid::new(&fast_http());
    let mut t = sendgrid(&peer.base_url, Some("some-apikey-id"));
    t.credential
        .params
        .insert("on_behalf_of".into(), "subuser1".into());
    let key = with_log(peer, p.inspect(&t).await).expect("the example key");
    assert_eq!(key.remote_id, "some-apikey-id");
    assert_eq!(key.name.as_deref(), Some("API Key Name"));

    let all = with_log(peer, p.list(&t).await);
    let ids: Vec<&str> = all.iter().map(|k| k.remote_id.as_str()).collect();
    assert_eq!(ids, ["some-apikey-id", "another-apikey-id"]);

    // Prism answers PATCH and PUT with the `ApiKeyResponse` schema's own example.
    let renamed = with_log(
        peer,
        p.rename(&t, "qfTQ6KG0QBiwWdJ0-pCLCA", "A New Hope").await,
    );
    assert_eq!(renamed.remote_id, "qfTQ6KG0QBiwWdJ0-pCLCA");
    assert_eq!(renamed.name.as_deref(), Some("Mail Send"));
    let scopes = vec![
        "user.profile.read".to_string(),
        "user.profile.update".to_string(),
    ];
    let updated = with_log(
        peer,
        p.set_scopes(&t, "qfTQ6KG0QBiwWdJ0-pCLCA", "Profiles Key", &scopes)
            .await,
    );
    assert_eq!(updated.remote_id, "qfTQ6KG0QBiwWdJ0-pCLCA");
    assert_eq!(
        updated.scopes, scopes,
        "the answer has none: the scopes set"
    );
}

#[tokio::test]
async fn sendgrid_create_verify_and_delete_pass_validation() {
    let peer = sg_keys();
    let p = Sendgrid::new(&fast_http());
    let mut t = sendgrid(&peer.base_url, Some("some-apikey-id"));
    // The example key has no scopes, so the credential's are used.
    t.credential.scopes = vec!["mail.send".into(), "alerts.read".into()];
    let issued = with_log(peer, p.create(&t).await);
    assert_eq!(issued.remote_id, "xxxxxxxx");
    assert_eq!(issued.secret.expose_secret(), "SG.xxxxxxxx.yyyyyyyy");
    assert_eq!(issued.scopes, ["mail.send", "alerts.create", "alerts.read"]);

    let scopes_peer = sg_scopes();
    let vt = sendgrid(&scopes_peer.base_url, Some("xxxxxxxx"));
    assert_eq!(
        p.verify(&vt, Some("xxxxxxxx"), &issued.secret).await,
        Verification::Valid
    );

    with_log(peer, p.delete(&t, "sg-contract-delete").await);
    assert_routed(peer, "DELETE", "/v3/api_keys/sg-contract-delete");
}

// ---- Twilio -----------------------------------------------------------------------------

const TW_EXAMPLE_SID: &str = "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn tw_rest() -> &'static Peer {
    shared_prism("twilio/twilio_api_v2010.keys-account.trimmed.json")
}

/// The IAM spec with one example per answer: the full list, the restricted key (so a
/// rotation copies its policy), the restricted create.
fn tw_iam() -> &'static Peer {
    static SPEC: OnceLock<String> = OnceLock::new();
    let path = SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(spec("twilio/twilio_iam_v1.json")).expect("iam spec");
        let mut doc: Value = serde_json::from_str(&text).expect("iam spec is JSON");
        for (path, method, code, drop) in [
            ("/v1/Keys", "get", "200", "readEmpty"),
            ("/v1/Keys", "post", "201", "createStandardKey"),
            ("/v1/Keys/{Sid}", "get", "200", "fetchStandardKey"),
        ] {
            let examples = doc["paths"][path][method]["responses"][code]["content"]
                ["application/json"]["examples"]
                .as_object_mut()
                .unwrap_or_else(|| panic!("{method} {path} has no examples"));
            assert!(
                examples.remove(drop).is_some(),
                "{method} {path}: no example {drop}"
            );
            assert_eq!(examples.len(), 1, "{method} {path}");
        }
        write_patched("twilio_iam_v1.restricted-examples.json", &doc)
    });
    shared_prism(path)
}

#[tokio::test]
async fn twilio_2010_lifecycle_passes_validation() {
    let peer = tw_rest();
    let p = Twilio::new(&fast_http());
    let t = twilio(&peer.base_url, Some(TW_EXAMPLE_SID));
    let key = with_log(peer, p.inspect(&t).await).expect("the example key");
    assert_eq!(key.remote_id, TW_EXAMPLE_SID);
    assert_eq!(key.name.as_deref(), Some("foo"));
    assert_eq!(
        key.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2016-06-13T22:50:08+00:00")
    );

    let all = with_log(peer, p.list(&t).await);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0], key);

    let issued = with_log(peer, p.create(&t).await);
    assert_eq!(issued.remote_id, TW_EXAMPLE_SID);
    assert_eq!(issued.secret.expose_secret(), "foobar");

    assert_eq!(
        p.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    let other = tw_sid("SK", 0xc0ffee);
    with_log(peer, p.delete(&t, &other).await);
    assert_routed(
        peer,
        "DELETE",
        &format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys/{other}.json"),
    );
}

#[tokio::test]
async fn twilio_with_the_auth_token_passes_validation() {
    let peer = tw_rest();
    let p = Twilio::new(&fast_http());
    let mut t = twilio(&peer.base_url, Some(TW_EXAMPLE_SID));
    let conn = t.connection.as_mut().expect("connection");
    conn.auth.clear();
    conn.auth
        .insert("auth_token".into(), Secret::new("auth-token-1"));
    assert_eq!(with_log(peer, p.list(&t).await).len(), 1);
}

#[tokio::test]
async fn twilio_iam_copies_a_restricted_policy_and_passes_validation() {
    let (rest, iam) = (tw_rest(), tw_iam());
    let p = Twilio::new(&fast_http());
    let t = twilio_iam(&rest.base_url, &iam.base_url, Some(TW_EXAMPLE_SID));
    let key = with_log(iam, p.inspect(&t).await).expect("the example key");
    assert_eq!(key.scopes, ["/twilio/messaging/messages/read"]);
    assert_eq!(with_log(iam, p.list(&t).await).len(), 2);

    // The old key is restricted: the create sends KeyType and Policy, which Prism checks.
    let issued = with_log(iam, p.create(&t).await);
    assert_eq!(issued.secret.expose_secret(), "foobar");
    assert_eq!(issued.scopes, ["/twilio/messaging/messages/read"]);
    // Without an old key the create is a standard key's.
    let fresh = twilio_iam(&rest.base_url, &iam.base_url, None);
    assert_eq!(
        with_log(iam, p.create(&fresh).await).remote_id,
        TW_EXAMPLE_SID
    );

    assert_eq!(
        p.verify(&t, Some(&issued.remote_id), &issued.secret).await,
        Verification::Valid
    );
    let other = tw_sid("SK", 0xbeef);
    with_log(iam, p.delete(&t, &other).await);
    assert_routed(iam, "DELETE", &format!("/v1/Keys/{other}"));
}

/// The control: Prism does refuse what the spec forbids (a key SID that is not `SK` + 32 hex
/// digits), and the provider reports it as an error naming the request.
#[tokio::test]
async fn twilio_prism_refuses_a_malformed_sid() {
    let peer = tw_rest();
    let p = Twilio::new(&fast_http());
    let e = p
        .inspect(&twilio(&peer.base_url, Some("SKnope")))
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(422), "{e}");
    assert!(e.to_string().contains("GET /2010-04-01/Accounts/"), "{e}");
}

// ---- OpenAI -----------------------------------------------------------------------------

fn oa() -> &'static Peer {
    shared_prism("openai/openapi.keys-models.trimmed.yaml")
}

/// The spec with project keys owned by a service account (the `owner.type` enum reordered,
/// so Prism's generated answer names `service_account` first).
fn oa_service_owned() -> &'static Peer {
    static SPEC: OnceLock<String> = OnceLock::new();
    let path = SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(spec("openai/openapi.keys-models.trimmed.yaml"))
            .expect("openai spec");
        let mut doc: Value = serde_yaml::from_str(&text).expect("openai spec is YAML");
        let kind = doc
            .pointer_mut("/components/schemas/ProjectApiKey/properties/owner/properties/type/enum")
            .expect("owner type enum");
        assert_eq!(*kind, serde_json::json!(["user", "service_account"]));
        *kind = serde_json::json!(["service_account", "user"]);
        write_patched("openai.service-owned.json", &doc)
    });
    shared_prism(path)
}

#[tokio::test]
async fn openai_project_keys_and_projects_pass_validation() {
    let peer = oa();
    let p = OpenAi::new(&fast_http());
    let t = openai(&peer.base_url, "project-key", Some("key_abc"), &[]);
    let key = with_log(peer, p.inspect(&t).await).expect("a key");
    // Prism generates the answer from the schema: placeholders, but every field parsed.
    assert_eq!(key.remote_id, "string");
    assert_eq!(key.name.as_deref(), Some("string"));
    assert_eq!(key.last_used_at.map(|d| d.timestamp()), Some(0));
    // The cursor never moves (every page ends at "string"): two requests, one key.
    assert_eq!(with_log(peer, p.list(&t).await).len(), 1);
    let projects = with_log(peer, p.projects(&t).await);
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].id, "string");

    let e = p.create(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert_eq!(
        p.verify(&t, Some("key_abc"), &Secret::new("sk-proj-1"))
            .await,
        Verification::Valid
    );
    // A user's key is deleted directly.
    with_log(peer, p.delete(&t, "key_user_delete").await);
    assert_routed(
        peer,
        "DELETE",
        &format!("/organization/projects/{OA_PROJECT}/api_keys/key_user_delete"),
    );
}

#[tokio::test]
async fn openai_service_account_rotation_passes_validation() {
    let peer = oa();
    let p = OpenAi::new(&fast_http());
    let t = openai(
        &peer.base_url,
        "service-account",
        Some("key_abc"),
        &[("service_account_id", "svc_acct_abc")],
    );
    let issued = with_log(peer, p.create(&t).await);
    assert_eq!(issued.remote_id, "string");
    assert_eq!(issued.secret.expose_secret(), "string");
    assert_eq!(
        issued.params.get("service_account_id").map(String::as_str),
        Some("string")
    );

    // A key owned by a service account is revoked by deleting the service account.
    let owned = oa_service_owned();
    let t = openai(&owned.base_url, "service-account", Some("string"), &[]);
    with_log(owned, p.delete(&t, "string").await);
    assert_routed(
        owned,
        "DELETE",
        &format!("/organization/projects/{OA_PROJECT}/service_accounts/string"),
    );
}

#[tokio::test]
async fn openai_admin_keys_pass_validation() {
    let peer = oa();
    let p = OpenAi::new(&fast_http());
    let t = openai(&peer.base_url, "admin-key", Some("key_abc"), &[]);
    let key = with_log(peer, p.inspect(&t).await).expect("the example admin key");
    assert_eq!(key.remote_id, "key_abc");
    assert_eq!(key.expires_at.map(|d| d.timestamp()), Some(1_714_063_533));
    assert_eq!(key.last_used_at.map(|d| d.timestamp()), Some(1_711_471_534));
    assert_eq!(key.risks.len(), 1);
    assert_eq!(with_log(peer, p.list(&t).await).len(), 1);

    // The replacement keeps the old key's lifetime (expires_in_seconds, validated).
    let issued = with_log(peer, p.create(&t).await);
    assert_eq!(issued.remote_id, "key_abc");
    assert_eq!(issued.secret.expose_secret(), "sk-admin-1234abcd");
    assert_eq!(
        p.verify(&t, Some("key_abc"), &issued.secret).await,
        Verification::Valid
    );
    with_log(peer, p.delete(&t, "key_admin_delete").await);
    assert_routed(
        peer,
        "DELETE",
        "/organization/admin_api_keys/key_admin_delete",
    );
}

// ---- Datadog ----------------------------------------------------------------------------

fn dd() -> &'static Peer {
    shared_prism("datadog/openapi.trimmed.yaml")
}

#[tokio::test]
async fn datadog_api_keys_pass_validation() {
    let peer = dd();
    let p = Datadog::new(&fast_http());
    let t = datadog(&peer.base_url, "api", Some("dd-contract-key"), &[]);
    // Prism answers with the schema's examples: every field keyward reads was parsed.
    let key = with_log(peer, p.inspect(&t).await).expect("a key");
    assert_eq!(key.name.as_deref(), Some("API Key for submitting metrics"));
    assert_eq!(
        key.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2020-11-23T10:00:00+00:00")
    );
    assert_eq!(
        key.last_used_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2020-11-27T10:00:00+00:00"),
        "date_last_used"
    );
    let all = with_log(peer, p.list(&t).await);
    assert_eq!(all.len(), 1, "one page: fewer keys than the page size");
    assert_eq!(
        all[0].name.as_deref(),
        Some("API Key for submitting metrics")
    );

    // The create body (`data.type`, `data.attributes.name`) is validated by Prism.
    let issued = with_log(peer, p.create(&t).await);
    assert!(!issued.secret.expose_secret().is_empty());
    assert_eq!(
        issued.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2020-11-23T10:00:00+00:00")
    );
    with_log(peer, p.delete(&t, "dd-contract-delete").await);
    assert_routed(peer, "DELETE", "/api/v2/api_keys/dd-contract-delete");
}

#[tokio::test]
async fn datadog_current_user_application_keys_pass_validation() {
    let peer = dd();
    let p = Datadog::new(&fast_http());
    let t = datadog(&peer.base_url, "application", Some("dd-app-key"), &[]);
    let key = with_log(peer, p.inspect(&t).await).expect("a key");
    assert_eq!(
        key.scopes,
        [
            "dashboards_read",
            "dashboards_write",
            "dashboards_public_share"
        ]
    );
    assert_eq!(
        key.last_used_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2020-12-20T10:00:00+00:00"),
        "last_used_at"
    );
    assert_eq!(with_log(peer, p.list(&t).await).len(), 1);
    // The old key's scopes go into the create body, which Prism validates.
    let issued = with_log(peer, p.create(&t).await);
    assert!(!issued.secret.expose_secret().is_empty());
    assert_eq!(issued.scopes.len(), 3);
    with_log(peer, p.delete(&t, "dd-app-delete").await);
    assert_routed(
        peer,
        "DELETE",
        "/api/v2/current_user/application_keys/dd-app-delete",
    );
}

#[tokio::test]
async fn datadog_service_account_application_keys_pass_validation() {
    let peer = dd();
    let p = Datadog::new(&fast_http());
    let sa = "00000000-0000-1234-0000-000000000000";
    let t = datadog(
        &peer.base_url,
        "application",
        Some("dd-sa-key"),
        &[("service_account_id", sa)],
    );
    // The service account's read answers a partial key (no value), as documented.
    let key = with_log(peer, p.inspect(&t).await).expect("a key");
    assert_eq!(
        key.name.as_deref(),
        Some("Application Key for managing dashboards")
    );
    assert_eq!(with_log(peer, p.list(&t).await).len(), 1);
    let issued = with_log(peer, p.create(&t).await);
    assert!(!issued.secret.expose_secret().is_empty());
    with_log(peer, p.delete(&t, "dd-sa-delete").await);
    assert_routed(
        peer,
        "DELETE",
        &format!("/api/v2/service_accounts/{sa}/application_keys/dd-sa-delete"),
    );
}

/// The control: Prism refuses a request without the application key the spec's security
/// requires, and the provider reports it as an error naming the request.
#[tokio::test]
async fn datadog_prism_refuses_a_request_without_the_application_key() {
    let peer = dd();
    let p = Datadog::new(&fast_http());
    let mut t = datadog(&peer.base_url, "api", Some("k"), &[]);
    t.connection
        .as_mut()
        .unwrap()
        .auth
        .insert("application_key".into(), Secret::new(""));
    let e = p.list(&t).await.unwrap_err();
    assert_eq!(e.status, Some(401), "{e}");
    assert!(e.to_string().contains("GET /api/v2/api_keys"), "{e}");
}

// ---- Okta -------------------------------------------------------------------------------

fn okta_management() -> &'static Peer {
    shared_prism("okta/management-minimal.trimmed.yaml")
}

fn okta_oauth() -> &'static Peer {
    shared_prism("okta/oauth-minimal.trimmed.yaml")
}

#[tokio::test]
async fn okta_client_secret_lifecycle_passes_validation() {
    let peer = okta_management();
    let p = Okta::new(&fast_http());
    let t = okta(&peer.base_url, Some("ocs2f50kZB0cITmYU0g4"), &[]);
    let key = with_log(peer, p.inspect(&t).await).expect("the example secret");
    assert_eq!(key.remote_id, "ocs2f50kZB0cITmYU0g4");
    assert_eq!(key.state, keyward::inventory::RemoteStatus::Active);
    assert_eq!(
        key.created_at.map(|d| d.to_rfc3339()).as_deref(),
        Some("2023-04-06T21:32:33+00:00")
    );
    let all = with_log(peer, p.list(&t).await);
    let states: Vec<&str> = all.iter().map(|k| k.state.as_str()).collect();
    assert_eq!(states, ["inactive", "active"]);

    // The create (an empty body: a system-generated secret) is validated by Prism.
    let issued = with_log(peer, p.create(&t).await);
    assert_eq!(issued.remote_id, "ocs2f50kZB0cITmYU0g4");
    assert_eq!(
        issued.secret.expose_secret(),
        "DRUFXGF9XbLn......a3x3POBiIxDreBCdZuFs5B"
    );
    with_log(peer, p.deactivate(&t, "ocs-contract-off").await);
    assert_routed(
        peer,
        "POST",
        &format!("/api/v1/apps/{OK_APP}/credentials/secrets/ocs-contract-off/lifecycle/deactivate"),
    );
    with_log(peer, p.delete(&t, "ocs-contract-del").await);
    assert_routed(
        peer,
        "DELETE",
        &format!("/api/v1/apps/{OK_APP}/credentials/secrets/ocs-contract-del"),
    );
}

#[tokio::test]
async fn okta_client_credentials_grant_passes_validation() {
    let peer = okta_oauth();
    let p = Okta::new(&fast_http());
    let secret = Secret::new("okta-contract-secret-1");
    for server in [None, Some("default")] {
        let mut extra = vec![("scope", "keyward.check")];
        if let Some(id) = server {
            extra.push(("authorization_server", id));
        }
        let t = okta(&peer.base_url, Some("ocs1"), &extra);
        assert_eq!(
            p.verify(&t, Some("ocs1"), &secret).await,
            Verification::Valid,
            "{server:?}\n{}",
            peer.log_tail()
        );
    }
    assert_routed(peer, "POST", "/oauth2/v1/token");
    assert_routed(peer, "POST", "/oauth2/default/v1/token");
}

/// The control: Prism refuses a management call without the SSWS token's header.
#[tokio::test]
async fn okta_prism_refuses_a_call_without_the_api_token() {
    let peer = okta_management();
    let p = Okta::new(&fast_http());
    let mut t = okta(&peer.base_url, Some("ocs1"), &[]);
    t.connection.as_mut().unwrap().auth.clear();
    let e = p.list(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("auth.api_token"), "{e}");
}
