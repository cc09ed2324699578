//! The `oauth2` provider against wiremock: discovery rules, client authentication, and
//! every fault a server can throw at it (429, 5xx, timeouts, cut-off and garbage answers,
//! OAuth error codes). Each test also checks that no token value reaches an error.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use keyward::inventory::{Connection, Credential, CredentialRef, ProviderKind, RemoteStatus};
use keyward::providers::http::Http;
use keyward::providers::oauth2::{self, fingerprint, DevicePoll, OAuth2};
use keyward::providers::{ErrorKind, Provider, ProviderError, RotationStyle, Target, Verification};
use keyward::secret::Secret;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OLD_RT: &str = "old-refresh-token-VALUE-0001";
const NEW_RT: &str = "new-refresh-token-VALUE-0002";
const ACCESS: &str = "access-token-VALUE-0003";
const CLIENT_SECRET: &str = "connection-client-SECRET-0004";
const DEVICE_CODE: &str = "device-code-VALUE-0005";
const CC_SECRET: &str = "app-client-SECRET-0006";

/// Every value that must never appear in an error or a verification reason.
const SECRETS: [&str; 6] = [
    OLD_RT,
    NEW_RT,
    ACCESS,
    CLIENT_SECRET,
    DEVICE_CODE,
    CC_SECRET,
];

fn assert_no_secret(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "a secret leaked into: {text}");
    }
}

fn http_with_timeout(request_timeout: Duration) -> Http {
    support::http::fast_http(request_timeout, 3)
}

fn http() -> Http {
    http_with_timeout(Duration::from_secs(10))
}

fn connection(issuer: &str) -> Connection {
    Connection {
        id: "idp".into(),
        provider: ProviderKind::Oauth2,
        endpoint: Some(issuer.to_string()),
        auth: BTreeMap::from([
            ("client_id".to_string(), Secret::new("keyward")),
            ("client_secret".to_string(), Secret::new(CLIENT_SECRET)),
        ]),
        params: BTreeMap::new(),
    }
}

fn target(conn: Connection, secret: &str) -> Target {
    let mut credential = Credential::new("crm", ProviderKind::Oauth2);
    credential.connection = Some(conn.id.clone());
    credential.secret = Some(Secret::new(secret));
    credential.scopes = vec!["offline_access".into()];
    Target {
        at: CredentialRef {
            client: "acme".into(),
            integration: "crm".into(),
        },
        credential,
        connection: Some(conn),
    }
}

fn cc_target(conn: Connection) -> Target {
    let mut t = target(conn, CC_SECRET);
    t.credential
        .params
        .insert("grant".into(), "client_credentials".into());
    t.credential.remote_id = Some("crm-app".into());
    t
}

/// Serves OpenID discovery naming the token endpoint and the optional ones asked for.
async fn serve_discovery(server: &MockServer, introspection: bool, revocation: bool, device: bool) {
    let base = server.uri();
    let mut doc = json!({ "issuer": base, "token_endpoint": format!("{base}/token") });
    if introspection {
        doc["introspection_endpoint"] = json!(format!("{base}/introspect"));
    }
    if revocation {
        doc["revocation_endpoint"] = json!(format!("{base}/revoke"));
    }
    if device {
        doc["device_authorization_endpoint"] = json!(format!("{base}/device"));
    }
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .mount(server)
        .await;
}

fn token_answer() -> serde_json::Value {
    json!({
        "access_token": ACCESS,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": NEW_RT,
        "scope": "openid offline_access",
    })
}

fn introspection(active: bool) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "active": active }))
}

async fn count(server: &MockServer, at: &str) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.url.path() == at).count()
}

fn roll_error(result: Result<keyward::providers::IssuedKey, ProviderError>) -> ProviderError {
    match result {
        Ok(_) => panic!("the roll should have failed"),
        Err(e) => {
            assert_no_secret(&e.to_string());
            e
        }
    }
}

#[tokio::test]
async fn discovery_prefers_rfc8414_and_is_cached_per_connection() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "introspection_endpoint": format!("{base}/introspect"),
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/introspect"))
        .respond_with(introspection(true))
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&base), OLD_RT);
    assert_eq!(
        provider.verify(&t, None, &Secret::new(OLD_RT)).await,
        Verification::Valid
    );
    assert_eq!(
        provider.verify(&t, None, &Secret::new(OLD_RT)).await,
        Verification::Valid
    );
    assert_eq!(count(&server, "/.well-known/openid-configuration").await, 0);
    server.verify().await;
}

#[tokio::test]
async fn discovery_falls_back_to_openid_configuration() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/introspect"))
        .respond_with(introspection(true))
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    assert_eq!(
        provider.verify(&t, None, &Secret::new(OLD_RT)).await,
        Verification::Valid
    );
    assert_eq!(
        count(&server, "/.well-known/oauth-authorization-server").await,
        1
    );
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": "https://evil.example.com",
            "token_endpoint": "https://evil.example.com/token",
        })))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("evil.example.com"), "{e}");
    assert_eq!(count(&server, "/token").await, 0);
}

#[tokio::test]
async fn explicit_token_endpoint_skips_discovery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .mount(&server)
        .await;
    let mut conn = connection("https://unreachable.invalid");
    conn.params.insert(
        "token_endpoint".into(),
        format!("{}/oauth/token", server.uri()),
    );
    let issued = OAuth2::new(&http())
        .roll(&target(conn, OLD_RT))
        .await
        .expect("roll");
    assert_eq!(issued.secret.expose_secret(), NEW_RT);
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "only the token request, no discovery");
}

#[tokio::test]
async fn a_server_without_discovery_asks_for_params_token_endpoint() {
    let server = MockServer::start().await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("params.token_endpoint"), "{e}");
}

#[tokio::test]
async fn discovery_answering_garbage_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>hello</html>"))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::BadResponse);
}

#[tokio::test]
async fn refresh_returns_the_rotated_token_with_basic_client_auth() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    // RFC 6749 §2.3.1: id and secret are form-encoded, then Basic-encoded.
    let basic = {
        use base64::Engine;
        let pair = format!("keyward:{}", CLIENT_SECRET);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("authorization", basic.as_str()))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("refresh_token={OLD_RT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    let issued = provider.roll(&t).await.expect("roll");
    assert_eq!(issued.secret.expose_secret(), NEW_RT);
    assert_eq!(issued.remote_id, fingerprint(&Secret::new(NEW_RT)));
    assert_ne!(issued.remote_id, fingerprint(&Secret::new(OLD_RT)));
    assert_eq!(issued.scopes, ["openid", "offline_access"]);
    assert!(issued.params.contains_key("access_token_expires_at"));
    for value in issued.params.values() {
        assert_no_secret(value);
    }
    assert_eq!(
        provider.capabilities_for(&t).rotation,
        RotationStyle::RollInPlace
    );
}

#[tokio::test]
async fn refresh_without_rotation_hands_back_the_old_token() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": ACCESS, "token_type": "Bearer"})),
        )
        .mount(&server)
        .await;
    let issued = OAuth2::new(&http())
        .roll(&target(connection(&server.uri()), OLD_RT))
        .await
        .expect("roll");
    assert_eq!(issued.secret.expose_secret(), OLD_RT);
    assert_eq!(issued.remote_id, fingerprint(&Secret::new(OLD_RT)));
}

#[tokio::test]
async fn client_secret_post_sends_the_client_in_the_body() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .and(body_string_contains("client_id=keyward"))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let mut conn = connection(&server.uri());
    conn.params.insert(
        "token_endpoint_auth_method".into(),
        "client_secret_post".into(),
    );
    let issued = OAuth2::new(&http())
        .roll(&target(conn, OLD_RT))
        .await
        .expect("roll");
    assert_eq!(issued.secret.expose_secret(), NEW_RT);
    let requests = server.received_requests().await.unwrap_or_default();
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/token")
        .expect("token request");
    assert!(!token.headers.contains_key("authorization"));
}

#[tokio::test]
async fn refresh_waits_out_a_429_with_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .with_priority(2)
        .mount(&server)
        .await;
    let issued = OAuth2::new(&http())
        .roll(&target(connection(&server.uri()), OLD_RT))
        .await
        .expect("roll after 429");
    assert_eq!(issued.secret.expose_secret(), NEW_RT);
    assert_eq!(count(&server, "/token").await, 2);
}

#[tokio::test]
async fn refresh_5xx_is_repeated_only_while_the_old_token_is_still_active() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(&server)
        .await;
    Mock::given(path("/introspect"))
        .respond_with(introspection(true))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.status, Some(503));
    assert!(e.is_transient());
    assert!(e.message.contains("still works"), "{e}");
    // Three attempts, each failure followed by a check that the old token survived.
    assert_eq!(count(&server, "/token").await, 3);
    assert_eq!(count(&server, "/introspect").await, 3);
}

#[tokio::test]
async fn refresh_5xx_after_the_server_consumed_the_token_says_reconnect() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/introspect"))
        .respond_with(introspection(false))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(
        e.message
            .contains("keyward connect acme/crm --connection idp"),
        "{e}"
    );
    assert_eq!(
        count(&server, "/token").await,
        1,
        "never repeated once the token is consumed"
    );
}

/// Regression: the shared client retried every timeout, so a refresh whose answer was lost
/// was sent again with the consumed token: a replay, after which the server revokes the grant.
#[tokio::test]
async fn refresh_timeout_is_not_retried_blindly_replaying_a_rotated_token() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_answer())
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http_with_timeout(Duration::from_millis(500)));
    let e = roll_error(
        provider
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("timed out"), "{e}");
    assert!(e.message.contains("keyward verify acme/crm"), "{e}");
    assert_eq!(count(&server, "/token").await, 1);
}

#[tokio::test]
async fn idempotent_calls_still_retry_5xx_until_the_retries_run_out() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/introspect"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let verdict = OAuth2::new(&http())
        .verify(
            &target(connection(&server.uri()), OLD_RT),
            None,
            &Secret::new(OLD_RT),
        )
        .await;
    match &verdict {
        Verification::CouldNotCheck { reason } => {
            assert!(reason.contains("HTTP 502"), "{reason}");
            assert_no_secret(reason);
        }
        other => panic!("expected could-not-check, got {other:?}"),
    }
    assert_eq!(count(&server, "/introspect").await, 3);
}

/// A server that answers a `Content-Length` it never delivers, then hangs up.
async fn cut_off_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n";
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(br#"{"access_token":"partial"#).await;
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}/token")
}

#[tokio::test]
async fn refresh_answer_cut_off_in_transit_is_not_repeated() {
    let mut conn = connection("https://unreachable.invalid");
    conn.params
        .insert("token_endpoint".into(), cut_off_server().await);
    let e = roll_error(OAuth2::new(&http()).roll(&target(conn, OLD_RT)).await);
    assert_eq!(e.kind, ErrorKind::Transport);
    assert!(e.message.contains("cut off"), "{e}");
    assert!(e.message.contains("after 1 attempts"), "{e}");
}

#[tokio::test]
async fn refresh_answers_that_are_truncated_or_not_json_are_bad_responses() {
    for (body, says) in [
        (
            r#"{"access_token": "abc", "refresh_token": "new-refresh-token-VALUE-0002"#,
            "cut off",
        ),
        ("<html>502 Bad Gateway</html>", "not JSON"),
        (r#"{"access_token": 42, "refresh_token": ["x"]}"#, "fields"),
    ] {
        let server = MockServer::start().await;
        serve_discovery(&server, false, false, false).await;
        Mock::given(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let e = roll_error(
            OAuth2::new(&http())
                .roll(&target(connection(&server.uri()), OLD_RT))
                .await,
        );
        assert_eq!(e.kind, ErrorKind::BadResponse, "{body}");
        assert!(e.message.contains(says), "{e}");
        assert_eq!(count(&server, "/token").await, 1, "{body}");
    }
}

#[tokio::test]
async fn a_token_answer_missing_access_token_is_an_error_unless_it_carries_a_refresh_token() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("`access_token`"), "{e}");

    // The server consumed the old token: its new one is kept even from a broken answer.
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"refresh_token": NEW_RT})))
        .mount(&server)
        .await;
    let issued = OAuth2::new(&http())
        .roll(&target(connection(&server.uri()), OLD_RT))
        .await
        .expect("new refresh token kept");
    assert_eq!(issued.secret.expose_secret(), NEW_RT);
}

#[tokio::test]
async fn invalid_grant_says_replay_and_reconnect_without_echoing_the_token() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": format!("refresh token {OLD_RT} already used"),
        })))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_eq!(e.status, Some(400));
    assert!(e.message.contains("invalid_grant"), "{e}");
    assert!(e.message.contains("replay"), "{e}");
    assert!(
        e.message
            .contains("keyward connect acme/crm --connection idp"),
        "{e}"
    );
}

#[tokio::test]
async fn invalid_client_blames_the_connection() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .mount(&server)
        .await;
    let e = roll_error(
        OAuth2::new(&http())
            .roll(&target(connection(&server.uri()), OLD_RT))
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("connection `idp`"), "{e}");
}

#[tokio::test]
async fn verify_maps_introspection_and_its_absence() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/introspect"))
        .and(body_string_contains(format!("token={NEW_RT}")))
        .and(body_string_contains("token_type_hint=refresh_token"))
        .respond_with(introspection(true))
        .mount(&server)
        .await;
    Mock::given(path("/introspect"))
        .and(body_string_contains(format!("token={OLD_RT}")))
        .respond_with(introspection(false))
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    assert_eq!(
        provider.verify(&t, None, &Secret::new(NEW_RT)).await,
        Verification::Valid
    );
    assert_eq!(
        provider
            .verify(&t, None, &Secret::new(OLD_RT))
            .await
            .label(),
        "invalid"
    );
    assert_eq!(count(&server, "/token").await, 0, "verify never refreshes");

    let bare = MockServer::start().await;
    serve_discovery(&bare, false, false, false).await;
    let verdict = provider
        .verify(
            &target(connection(&bare.uri()), OLD_RT),
            None,
            &Secret::new(OLD_RT),
        )
        .await;
    assert_eq!(verdict.label(), "cannot-check");
}

#[tokio::test]
async fn introspection_without_active_is_a_bad_response() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"scope": "x"})))
        .mount(&server)
        .await;
    let e = OAuth2::new(&http())
        .inspect(&target(connection(&server.uri()), OLD_RT))
        .await
        .expect_err("no `active`");
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.message.contains("`active`"), "{e}");
}

#[tokio::test]
async fn inspect_maps_exp_scope_and_client_and_reports_inactive_as_gone() {
    let server = MockServer::start().await;
    serve_discovery(&server, true, false, false).await;
    Mock::given(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "active": true, "exp": 1_900_000_000, "iat": 1_800_000_000,
            "scope": "openid offline_access", "client_id": "keyward",
        })))
        .mount(&server)
        .await;
    let key = OAuth2::new(&http())
        .inspect(&target(connection(&server.uri()), OLD_RT))
        .await
        .expect("inspect")
        .expect("active");
    assert_eq!(key.state, RemoteStatus::Active);
    assert_eq!(key.remote_id, fingerprint(&Secret::new(OLD_RT)));
    assert_eq!(key.expires_at.map(|d| d.timestamp()), Some(1_900_000_000));
    assert_eq!(key.created_at.map(|d| d.timestamp()), Some(1_800_000_000));
    assert_eq!(key.scopes, ["openid", "offline_access"]);
    assert_eq!(key.name.as_deref(), Some("keyward"));

    let gone = MockServer::start().await;
    serve_discovery(&gone, true, false, false).await;
    Mock::given(path("/introspect"))
        .respond_with(introspection(false))
        .mount(&gone)
        .await;
    let none = OAuth2::new(&http())
        .inspect(&target(connection(&gone.uri()), OLD_RT))
        .await
        .expect("inspect");
    assert_eq!(none, None);
}

#[tokio::test]
async fn delete_revokes_only_the_token_keyward_holds() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, true, false).await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string_contains(format!("token={OLD_RT}")))
        .and(body_string_contains("token_type_hint=refresh_token"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    provider
        .delete(&t, &fingerprint(&Secret::new(OLD_RT)))
        .await
        .expect("revoked");
    let e = provider
        .delete(&t, &fingerprint(&Secret::new(NEW_RT)))
        .await
        .expect_err("not held");
    assert_eq!(e.kind, ErrorKind::NotFound);
    server.verify().await;
}

#[tokio::test]
async fn client_credentials_verify_runs_the_grant_as_the_app_client() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    let basic = {
        use base64::Engine;
        let pair = format!("crm-app:{}", CC_SECRET);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    Mock::given(path("/token"))
        .and(header("authorization", basic.as_str()))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": ACCESS, "token_type": "Bearer"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .with_priority(10)
        .mount(&server)
        .await;
    let provider = OAuth2::new(&http());
    let mut conn = connection(&server.uri());
    // The connection's own client is not needed to check an app's secret.
    conn.auth.clear();
    let t = cc_target(conn);
    assert_eq!(
        provider.verify(&t, None, &Secret::new(CC_SECRET)).await,
        Verification::Valid
    );
    match provider
        .verify(&t, None, &Secret::new("wrong-secret"))
        .await
    {
        Verification::Invalid { reason } => assert!(reason.contains("invalid_client"), "{reason}"),
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(
        provider.capabilities_for(&t).rotation,
        RotationStyle::Manual
    );
    let e = roll_error(provider.roll(&t).await);
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("console"), "{e}");
}

fn device_answer(interval: u64) -> serde_json::Value {
    json!({
        "device_code": DEVICE_CODE,
        "user_code": "WDJB-MJHT",
        "verification_uri": "https://id.example.com/device",
        "verification_uri_complete": "https://id.example.com/device?user_code=WDJB-MJHT",
        "expires_in": 600,
        "interval": interval,
    })
}

fn oauth_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": code }))
}

async fn device_server(interval: u64) -> MockServer {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, true).await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .and(body_string_contains("scope=openid+offline_access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(device_answer(interval)))
        .mount(&server)
        .await;
    server
}

fn scopes() -> Vec<String> {
    vec!["openid".into(), "offline_access".into()]
}

#[tokio::test]
async fn device_connect_prompts_once_then_polls_until_approved() {
    let server = device_server(0).await;
    Mock::given(path("/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
        ))
        .and(body_string_contains(format!("device_code={DEVICE_CODE}")))
        .respond_with(oauth_error("authorization_pending"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer()))
        .with_priority(2)
        .mount(&server)
        .await;
    let prompts = std::sync::Mutex::new(Vec::new());
    let tokens = oauth2::device_connect(&connection(&server.uri()), &scopes(), &http(), |p| {
        prompts.lock().unwrap().push(p.clone())
    })
    .await
    .expect("approved");
    assert_eq!(
        tokens.refresh_token.as_ref().map(Secret::expose_secret),
        Some(NEW_RT)
    );
    assert_eq!(tokens.access_token.expose_secret(), ACCESS);
    let prompts = prompts.into_inner().unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].user_code, "WDJB-MJHT");
    assert_eq!(prompts[0].verification_uri, "https://id.example.com/device");
    assert_eq!(
        prompts[0].verification_uri_complete.as_deref(),
        Some("https://id.example.com/device?user_code=WDJB-MJHT")
    );
    assert_eq!(prompts[0].expires_in, Duration::from_secs(600));
    assert_eq!(count(&server, "/token").await, 3);
}

#[tokio::test]
async fn device_poll_slows_down_by_five_seconds_and_reports_expiry() {
    let server = device_server(2).await;
    Mock::given(path("/token"))
        .respond_with(oauth_error("slow_down"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .respond_with(oauth_error("expired_token"))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut flow = oauth2::device_start(&connection(&server.uri()), &scopes(), &http())
        .await
        .expect("started");
    assert_eq!(flow.interval(), Duration::from_secs(2));
    assert!(matches!(flow.poll().await, Ok(DevicePoll::SlowDown)));
    assert_eq!(flow.interval(), Duration::from_secs(7));
    assert!(matches!(flow.poll().await, Ok(DevicePoll::Expired)));
}

#[tokio::test]
async fn device_poll_reports_a_denial() {
    let server = device_server(0).await;
    Mock::given(path("/token"))
        .respond_with(oauth_error("access_denied"))
        .mount(&server)
        .await;
    let e = oauth2::device_connect(&connection(&server.uri()), &scopes(), &http(), |_| {})
        .await
        .expect_err("denied");
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("declined"), "{e}");
    assert_no_secret(&e.to_string());
}

#[tokio::test]
async fn device_flow_defaults_the_interval_and_refuses_a_server_without_the_endpoint() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, true).await;
    let mut answer = device_answer(0);
    answer.as_object_mut().unwrap().remove("interval");
    Mock::given(path("/device"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    let flow = oauth2::device_start(&connection(&server.uri()), &[], &http())
        .await
        .expect("started");
    assert_eq!(flow.interval(), Duration::from_secs(5));

    let bare = MockServer::start().await;
    serve_discovery(&bare, false, false, false).await;
    let e = oauth2::device_start(&connection(&bare.uri()), &[], &http())
        .await
        .err()
        .expect("no device endpoint");
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("device_authorization_endpoint"), "{e}");
}

#[tokio::test]
async fn device_answers_missing_fields_or_not_json_are_bad_responses() {
    for (body, says) in [
        (
            json!({"user_code": "X", "verification_uri": "https://x", "expires_in": 60})
                .to_string(),
            "`device_code`",
        ),
        (
            json!({"device_code": DEVICE_CODE, "verification_uri": "https://x", "expires_in": 60})
                .to_string(),
            "`user_code`",
        ),
        (
            format!(r#"{{"device_code": "{DEVICE_CODE}", "user_"#),
            "cut off",
        ),
        ("not json".to_string(), "not JSON"),
    ] {
        let server = MockServer::start().await;
        serve_discovery(&server, false, false, true).await;
        Mock::given(path("/device"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
            .mount(&server)
            .await;
        let e = oauth2::device_start(&connection(&server.uri()), &[], &http())
            .await
            .err()
            .expect("bad answer");
        assert_eq!(e.kind, ErrorKind::BadResponse, "{body}");
        assert!(e.message.contains(says), "{e}");
        assert_no_secret(&e.to_string());
    }
}

// ---------------------------------------------------------------------------------------
// What a refresh does to the old token, per issuer; RFC 7009's 200; Slack's `ok: false`.
// ---------------------------------------------------------------------------------------

/// A stateful issuer: which refresh tokens are alive, and whether a refresh ends the one it
/// used. With `kills_old: false` and no revocation or introspection endpoint it is Microsoft
/// Entra as documented (https://learn.microsoft.com/en-us/entra/identity-platform/
/// refresh-tokens: "doesn't revoke old refresh tokens when used to fetch new access tokens";
/// its discovery document names neither endpoint).
#[derive(Clone)]
struct Issuer {
    alive: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    kills_old: bool,
}

impl Issuer {
    fn new(first: &str, kills_old: bool) -> Issuer {
        Issuer {
            alive: std::sync::Arc::new(std::sync::Mutex::new(vec![first.to_string()])),
            kills_old,
        }
    }
    fn is_alive(&self, token: &str) -> bool {
        self.alive.lock().unwrap().iter().any(|t| t == token)
    }
}

impl wiremock::Respond for Issuer {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let token = |name: &str| form.get(name).cloned().unwrap_or_default();
        let mut alive = self.alive.lock().unwrap();
        match req.url.path() {
            "/token" => {
                let old = token("refresh_token");
                if !alive.contains(&old) {
                    return oauth_error("invalid_grant");
                }
                let new = format!("issued-refresh-token-{:04}", alive.len());
                if self.kills_old {
                    alive.retain(|t| *t != old);
                }
                alive.push(new.clone());
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": ACCESS, "token_type": "Bearer", "expires_in": 3600,
                    "refresh_token": new,
                }))
            }
            "/introspect" => introspection(alive.contains(&token("token"))),
            "/revoke" => {
                let gone = token("token");
                alive.retain(|t| *t != gone);
                ResponseTemplate::new(200)
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

async fn issuer_server(issuer: &Issuer, introspection: bool, revocation: bool) -> MockServer {
    let server = MockServer::start().await;
    serve_discovery(&server, introspection, revocation, false).await;
    Mock::given(method("POST"))
        .respond_with(issuer.clone())
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn entra_refresh_left_the_old_refresh_token_alive_and_the_rotation_said_it_died() {
    use keyward::inventory::Inventory;
    use keyward::rotation::{Engine, NonInteractive, Options, OutcomeKind, ProviderSet};

    let issuer = Issuer::new(OLD_RT, false);
    let server = issuer_server(&issuer, false, false).await;
    let mut conn = connection(&server.uri());
    // A stand-in on loopback: name the issuer it models.
    conn.params.insert("issuer_kind".into(), "entra".into());
    let t = target(conn.clone(), OLD_RT);
    let mut inv = Inventory::new(vec![]);
    inv.connections.push(conn);
    let mut c = t.credential.clone();
    c.remote_id = Some(fingerprint(&Secret::new(OLD_RT)));
    inv.insert("acme", c);
    let disk = support::disk::MemoryDisk::default();
    let provider: std::sync::Arc<dyn Provider> = std::sync::Arc::new(OAuth2::new(&http()));
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(provider),
        std::sync::Arc::new(NonInteractive { yes: true }),
        Options::default(),
    );
    let plan = engine.plan(vec![(t.at.clone(), "asked".into())]).await;
    let warning = plan.items[0].warnings.join(" | ");
    assert!(
        warning.contains("keeps working until it expires"),
        "{warning}"
    );
    assert!(warning.contains("no way to revoke it"), "{warning}");
    assert!(warning.contains("Microsoft Entra ID"), "{warning}");

    let summary = engine.rotate(&plan).await;
    assert_eq!(summary.count(OutcomeKind::Done), 1, "{summary:?}");
    assert!(
        issuer.is_alive(OLD_RT),
        "the stand-in keeps the old token, as Entra does"
    );
    let inv = disk.last();
    let rotated = inv
        .credential(&t.at)
        .unwrap()
        .history
        .last()
        .unwrap()
        .clone();
    assert_eq!(rotated.event.as_str(), "rotated");
    assert!(!rotated.detail.contains("died"), "{}", rotated.detail);
    assert!(
        rotated.detail.contains("keeps working until it expires"),
        "{}",
        rotated.detail
    );
    assert!(
        summary.outcomes[0]
            .warnings
            .iter()
            .any(|w| w.contains("keeps working until it expires")),
        "{summary:?}"
    );
    assert_no_secret(&format!("{summary:?}"));
}

#[tokio::test]
async fn an_unknown_issuer_that_keeps_the_old_token_gets_it_revoked_explicitly() {
    let issuer = Issuer::new(OLD_RT, false);
    let server = issuer_server(&issuer, true, true).await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    let after = provider.roll_aftermath(&t).await;
    assert_eq!(after.old.as_str(), "unknown");
    assert!(after.can_revoke && after.can_inspect);
    let issued = provider.roll(&t).await.unwrap();
    assert!(issuer.is_alive(OLD_RT));
    let verdict = provider
        .retire_rolled(&t, &fingerprint(&Secret::new(OLD_RT)), &issued.secret)
        .await
        .unwrap();
    assert_eq!(verdict, Some(keyward::providers::Revocation::Revoked));
    assert!(!issuer.is_alive(OLD_RT));
    assert!(issuer.is_alive(issued.secret.expose_secret()));
}

#[tokio::test]
async fn rfc7009_200_without_introspection_is_only_revoked_as_far_as_the_issuer_says() {
    use keyward::providers::revocation::{self, Revocation};

    let issuer = Issuer::new(OLD_RT, true);
    let server = issuer_server(&issuer, false, true).await;
    let provider = OAuth2::new(&http());
    let t = target(connection(&server.uri()), OLD_RT);
    let verdict = revocation::revoke(&provider, &t, &fingerprint(&Secret::new(OLD_RT)))
        .await
        .unwrap();
    assert!(
        matches!(verdict, Revocation::IssuerSays { .. }),
        "{verdict:?}"
    );
    assert!(verdict.describe("rt").contains("as far as the issuer says"));
}

#[tokio::test]
async fn slack_ok_false_on_a_200_was_taken_for_a_successful_revocation() {
    // Slack answers errors as HTTP 200 with `ok: false`
    // (https://docs.slack.dev/apis/web-api/#responses).
    let server = MockServer::start().await;
    serve_discovery(&server, false, true, false).await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "ok": false, "error": "invalid_auth" })),
        )
        .mount(&server)
        .await;
    let t = target(connection(&server.uri()), OLD_RT);
    let e = OAuth2::new(&http())
        .delete(&t, &fingerprint(&Secret::new(OLD_RT)))
        .await
        .expect_err("ok: false is a refusal");
    assert!(e.message.contains("invalid_auth"), "{e}");
    assert_no_secret(&e.to_string());
}

#[tokio::test]
async fn slack_ok_false_on_refresh_is_a_refusal_not_a_lost_answer() {
    let server = MockServer::start().await;
    serve_discovery(&server, false, false, false).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "ok": false, "error": "invalid_refresh_token" })),
        )
        .mount(&server)
        .await;
    let t = target(connection(&server.uri()), OLD_RT);
    let e = roll_error(OAuth2::new(&http()).roll(&t).await);
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(e.message.contains("reconnect"), "{e}");
    assert_eq!(count(&server, "/token").await, 1);
}
