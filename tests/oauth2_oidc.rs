//! The `oauth2` provider against a real OpenID Connect server (oidc-provider 8.x, see
//! tests/peers/README.md): discovery, refresh-token rotation and replay detection,
//! revocation, introspection, client credentials and the device flow, end to end.
//! One server serves the whole file; every test works on its own grant.

use crate::support;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use keyward::inventory::{Connection, Credential, CredentialRef, ProviderKind, RemoteStatus};
use keyward::providers::http::Http;
use keyward::providers::oauth2::{self, fingerprint, DevicePoll, OAuth2};
use keyward::providers::{ErrorKind, Provider, ProviderError, Target, Verification};
use keyward::secret::Secret;
use support::peers::{form_encode, http_request, Peer, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET};

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(Peer::oidc)
}

fn http() -> Http {
    support::http::fast_http(std::time::Duration::from_secs(30), 3)
}

fn connection() -> Connection {
    Connection {
        id: "idp".into(),
        provider: ProviderKind::Oauth2,
        endpoint: Some(peer().base_url.clone()),
        auth: BTreeMap::from([
            ("client_id".to_string(), Secret::new(OIDC_CLIENT_ID)),
            ("client_secret".to_string(), Secret::new(OIDC_CLIENT_SECRET)),
        ]),
        params: BTreeMap::new(),
    }
}

fn target(secret: &Secret) -> Target {
    let mut credential = Credential::new("crm", ProviderKind::Oauth2);
    credential.connection = Some("idp".into());
    credential.secret = Some(secret.clone());
    Target {
        at: CredentialRef {
            client: "acme".into(),
            integration: "crm".into(),
        },
        credential,
        connection: Some(connection()),
    }
}

/// A fresh grant's refresh token, as if an authorization-code flow had just finished.
fn refresh_token(form: &[(&str, &str)]) -> Secret {
    let answer = peer().oidc_test_grant(form);
    let token = answer["refresh_token"].as_str().expect("a refresh token");
    Secret::new(token)
}

/// Asserts that `text` contains none of `secrets`.
fn assert_no_secret(text: &str, secrets: &[&Secret]) {
    for s in secrets {
        assert!(
            !text.contains(s.expose_secret()),
            "a token leaked into: {text}"
        );
    }
    assert!(
        !text.contains(OIDC_CLIENT_SECRET),
        "the client secret leaked into: {text}"
    );
}

fn roll_error(result: Result<keyward::providers::IssuedKey, ProviderError>) -> ProviderError {
    match result {
        Ok(_) => panic!("the roll should have been refused"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_revokes_the_whole_grant() {
    let provider = OAuth2::new(&http());
    let rt1 = refresh_token(&[]);
    let issued = provider.roll(&target(&rt1)).await.expect("refresh");
    let rt2 = issued.secret.clone();
    assert_ne!(rt1, rt2, "oidc-server.mjs rotates on every refresh");
    assert_eq!(issued.remote_id, fingerprint(&rt2));
    assert_eq!(issued.scopes, ["openid", "offline_access"]);
    let access_expiry = issued.params["access_token_expires_at"].clone();
    assert!(
        access_expiry
            .parse::<chrono::DateTime<Utc>>()
            .expect("RFC 3339")
            > Utc::now()
    );

    // The consumed token is dead, the new one alive.
    let t = target(&rt1);
    assert_eq!(provider.verify(&t, None, &rt1).await.label(), "invalid");
    assert_eq!(provider.verify(&t, None, &rt2).await, Verification::Valid);

    // Presenting the consumed token again is a replay...
    let e = roll_error(provider.roll(&target(&rt1)).await);
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_eq!(e.status, Some(400));
    assert!(e.message.contains("invalid_grant"), "{e}");
    assert!(
        e.message
            .contains("keyward connect acme/crm --connection idp"),
        "{e}"
    );
    assert_no_secret(&e.to_string(), &[&rt1, &rt2]);

    // ...after which oidc-provider revokes the grant: the rotated token is dead too.
    assert_eq!(provider.verify(&t, None, &rt2).await.label(), "invalid");
    let e = roll_error(provider.roll(&target(&rt2)).await);
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_no_secret(&e.to_string(), &[&rt1, &rt2]);
}

#[tokio::test]
async fn refresh_with_client_secret_post_works_too() {
    let provider = OAuth2::new(&http());
    let rt = refresh_token(&[]);
    let mut t = target(&rt);
    if let Some(conn) = t.connection.as_mut() {
        conn.params.insert(
            "token_endpoint_auth_method".into(),
            "client_secret_post".into(),
        );
    }
    let issued = provider.roll(&t).await.expect("refresh");
    assert_ne!(issued.secret, rt);
}

#[tokio::test]
async fn wrong_client_secret_is_refused_as_the_connections_fault() {
    let provider = OAuth2::new(&http());
    let rt = refresh_token(&[]);
    let mut t = target(&rt);
    if let Some(conn) = t.connection.as_mut() {
        conn.auth
            .insert("client_secret".into(), Secret::new("not-the-secret"));
    }
    let e = roll_error(provider.roll(&t).await);
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("connection `idp`"), "{e}");
    assert!(e.message.contains("invalid_client"), "{e}");
    // The refused refresh did not consume the token.
    assert_eq!(
        provider.verify(&target(&rt), None, &rt).await,
        Verification::Valid
    );
}

#[tokio::test]
async fn inspect_maps_introspection_and_revocation_makes_it_inactive() {
    let provider = OAuth2::new(&http());
    let rt = refresh_token(&[
        ("scope", "openid offline_access api:read"),
        ("refresh_expires_in", "7200"),
    ]);
    let t = target(&rt);
    let key = provider
        .inspect(&t)
        .await
        .expect("inspect")
        .expect("active");
    assert_eq!(key.state, RemoteStatus::Active);
    assert_eq!(key.remote_id, fingerprint(&rt));
    assert_eq!(key.name.as_deref(), Some(OIDC_CLIENT_ID));
    assert_eq!(key.scopes, ["openid", "offline_access", "api:read"]);
    let expires = key.expires_at.expect("exp").timestamp() - Utc::now().timestamp();
    assert!((7000..=7200).contains(&expires), "exp is {expires}s away");
    assert!(key.created_at.is_some());

    provider
        .delete(&t, &fingerprint(&rt))
        .await
        .expect("revoked");
    assert_eq!(provider.inspect(&t).await.expect("inspect"), None);
    assert_eq!(provider.verify(&t, None, &rt).await.label(), "invalid");
    // RFC 7009: revoking a token the server no longer knows succeeds.
    provider
        .delete(&t, &fingerprint(&rt))
        .await
        .expect("revoked twice");
}

#[tokio::test]
async fn client_credentials_verify_runs_the_grant() {
    let provider = OAuth2::new(&http());
    let secret = Secret::new(OIDC_CLIENT_SECRET);
    let mut t = target(&secret);
    t.credential
        .params
        .insert("grant".into(), "client_credentials".into());
    t.credential.remote_id = Some(OIDC_CLIENT_ID.into());
    if let Some(conn) = t.connection.as_mut() {
        conn.auth.clear(); // the app's own id and secret are all it takes
    }
    assert_eq!(
        provider.verify(&t, None, &secret).await,
        Verification::Valid
    );
    let wrong = Secret::new("keyward-test-wrong");
    match provider.verify(&t, None, &wrong).await {
        Verification::Invalid { reason } => {
            assert!(reason.contains("invalid_client"), "{reason}");
            assert_no_secret(&reason, &[&wrong]);
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn device_flow_end_to_end_then_the_refresh_token_rolls() {
    let scopes = vec!["openid".to_string(), "offline_access".to_string()];
    let mut flow = oauth2::device_start(&connection(), &scopes, &http())
        .await
        .expect("device authorization");
    let prompt = flow.prompt().clone();
    assert!(
        prompt.verification_uri.starts_with(&peer().base_url),
        "{prompt:?}"
    );
    let complete = prompt
        .verification_uri_complete
        .clone()
        .expect("complete URI");
    assert!(complete.contains("user_code="), "{complete}");
    assert_eq!(flow.interval(), Duration::from_secs(1));

    assert!(matches!(flow.poll().await, Ok(DevicePoll::Pending)));
    peer().oidc_approve_device(&prompt.user_code);
    let tokens = match flow.poll().await {
        Ok(DevicePoll::Done(tokens)) => tokens,
        other => panic!("expected tokens, got {other:?}"),
    };
    let rt = tokens
        .refresh_token
        .clone()
        .expect("offline_access gives a refresh token");
    assert!(tokens.expires_at.is_some());
    assert!(tokens.scopes.contains(&"offline_access".to_string()));

    // What the device flow stores is a working, rotating credential.
    let provider = OAuth2::new(&http());
    let issued = provider.roll(&target(&rt)).await.expect("refresh");
    assert_ne!(issued.secret, rt);

    // The device code is spent: polling again is refused, without echoing it, and
    // oidc-provider treats it as a replay: it revokes the grant, rotated token included.
    let e = flow.poll().await.expect_err("consumed");
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("invalid_grant"), "{e}");
    assert_no_secret(&e.to_string(), &[&rt, &tokens.access_token, &issued.secret]);
    let t = target(&issued.secret);
    assert_eq!(
        provider.verify(&t, None, &issued.secret).await.label(),
        "invalid"
    );
}

#[tokio::test]
async fn device_connect_waits_for_approval_given_at_the_prompt() {
    let scopes = vec!["openid".to_string(), "offline_access".to_string()];
    let prompts = std::sync::Mutex::new(0);
    let tokens = oauth2::device_connect(&connection(), &scopes, &http(), |p| {
        *prompts.lock().unwrap() += 1;
        peer().oidc_approve_device(&p.user_code);
    })
    .await
    .expect("approved");
    assert_eq!(*prompts.lock().unwrap(), 1);
    assert!(tokens.refresh_token.is_some());
}

#[tokio::test]
async fn device_connect_reports_a_denial() {
    let scopes = vec!["openid".to_string()];
    let e = oauth2::device_connect(&connection(), &scopes, &http(), |p| {
        let resp = http_request(
            "POST",
            &format!("{}/test/device/deny", peer().base_url),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form_encode(&[("user_code", &p.user_code)]).as_bytes(),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
    })
    .await
    .expect_err("denied");
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("declined"), "{e}");
}

/// Regression: without scopes, a Basic-authenticated device authorization request had an
/// empty body, which oidc-provider refuses ("only application/x-www-form-urlencoded
/// content-type bodies are supported").
#[tokio::test]
async fn device_start_without_scopes_sends_a_form_the_server_accepts() {
    let flow = oauth2::device_start(&connection(), &[], &http())
        .await
        .expect("device authorization without scopes");
    assert!(!flow.prompt().user_code.is_empty());
}

/// Before: `keyward connections test` answered "not checked" for OAuth 2.0. It now reads the
/// discovery document, checks keyward's client at the token and introspection endpoints with
/// a token no server issued, and says what a refresh does to the old token, changing nothing.
#[tokio::test]
async fn oauth2_connection_test_answered_not_checked() {
    use keyward::providers::connection_check::{Ability, ProbeOutcome};
    let provider = OAuth2::new(&http());
    let rt = refresh_token(&[]);

    let report = provider.check_connection(&connection()).await;
    assert!(report.checked && report.all_allowed(), "{report:?}");
    let calls: Vec<&str> = report.probes.iter().map(|p| p.call.as_str()).collect();
    assert!(calls[0].starts_with("GET /.well-known/"), "{calls:?}");
    assert!(
        calls.iter().filter(|c| c.starts_with("POST ")).count() == 2,
        "token and introspection endpoints: {calls:?}"
    );
    assert!(
        report.facts["token endpoint"].starts_with(&peer().base_url),
        "{report:?}"
    );
    assert_ne!(report.facts["revocation endpoint"], "none", "{report:?}");
    assert_ne!(report.facts["introspection endpoint"], "none", "{report:?}");
    // A local issuer is in no table: the check says the provider does not say.
    assert!(
        report.facts["old refresh token after a refresh"].contains("does not say"),
        "{report:?}"
    );
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::Yes, Ability::Yes)
    );
    // Read-only: the grant's token still works.
    assert_eq!(
        provider.verify(&target(&rt), None, &rt).await,
        Verification::Valid
    );

    // The connection's own word on its issuer shows up as the source.
    let mut configured = connection();
    configured
        .params
        .insert("refresh_rotation".into(), "invalidated".into());
    let report = provider.check_connection(&configured).await;
    let after = &report.facts["old refresh token after a refresh"];
    assert!(after.contains("stops working at once"), "{after}");
    assert!(after.contains("params.refresh_rotation"), "{after}");

    // A refused client: no ability, and the secret never shows.
    let mut wrong = connection();
    wrong
        .auth
        .insert("client_secret".into(), Secret::new("not-the-secret-x"));
    let report = provider.check_connection(&wrong).await;
    let token = report
        .probes
        .iter()
        .find(|p| p.call.starts_with("POST "))
        .expect("the token endpoint probe");
    assert_eq!(token.outcome, ProbeOutcome::Refused, "{report:?}");
    assert!(token.detail.contains("invalid_client"), "{report:?}");
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::No, Ability::No)
    );
    let shown = format!("{report:?}");
    assert!(!shown.contains("not-the-secret-x"), "{shown}");
    assert_no_secret(&shown, &[&rt]);
}
