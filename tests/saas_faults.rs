//! How the OpenAI, Twilio and SendGrid providers behave when the provider misbehaves:
//! rate limits, server errors, timeouts, cut-off and non-JSON answers, answers missing a
//! field, links leading elsewhere. Every error names the provider, the credential, the
//! request and the status, never carries a secret, and nothing panics.

use crate::saas_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyward::providers::datadog::Datadog;
use keyward::providers::http::Http;
use keyward::providers::okta::Okta;
use keyward::providers::openai::OpenAi;
use keyward::providers::sendgrid::Sendgrid;
use keyward::providers::twilio::Twilio;
use keyward::providers::{
    ErrorKind, Provider, ProviderError, SharedProvider, Target, Verification,
};
use keyward::secret::Secret;
use saas_common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One provider's fault-test fixture.
struct Case {
    name: &'static str,
    provider: fn(&Http) -> SharedProvider,
    /// A target whose `list` is one GET of `list_path`.
    target: fn(&str) -> Target,
    /// A target whose `create` is one POST of `create_path` (no old key to read first).
    create_target: fn(&str) -> Target,
    list_path: String,
    list_ok: Value,
    create_path: String,
    create_status: u16,
    /// A create answer without the secret, naming `created_id`.
    create_without_secret: Value,
    /// Where the cleanup of `created_id` is sent.
    cleanup_path: String,
    /// The missing field, as serde names it.
    missing_field: &'static str,
    /// A create answer carrying [`NEW_SECRET`] in the wrong shape.
    create_misshapen: Value,
    verify_path: String,
    /// The method verify calls `verify_path` with.
    verify_method: &'static str,
    /// What verify says to a 403 from `verify_path`.
    verify_forbidden: &'static str,
    mgmt_secret: &'static str,
}

/// A new key's value, short enough that only keyward's own scrubbing could mask it.
const NEW_SECRET: &str = "new-key-short";

fn cases() -> Vec<Case> {
    let tw_keys = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys.json");
    let oa_keys = format!("/organization/projects/{OA_PROJECT}/api_keys");
    let oa_sas = format!("/organization/projects/{OA_PROJECT}/service_accounts");
    vec![
        Case {
            name: "sendgrid",
            provider: |h| Arc::new(Sendgrid::new(h)),
            target: |u| sendgrid(u, Some("k1")),
            create_target: |u| {
                let mut t = sendgrid(u, None);
                t.credential.scopes = vec!["mail.send".into()];
                t
            },
            list_path: "/v3/api_keys".into(),
            list_ok: json!({"result": [{"name": "a", "api_key_id": "k1"}]}),
            create_path: "/v3/api_keys".into(),
            create_status: 201,
            create_without_secret: json!({"api_key_id": "made1", "name": "x", "scopes": ["mail.send"]}),
            cleanup_path: "/v3/api_keys/made1".into(),
            missing_field: "api_key",
            create_misshapen: json!({"api_key": NEW_SECRET, "api_key_id": 5}),
            verify_path: "/v3/scopes".into(),
            verify_method: "GET",
            verify_forbidden: "cannot-check",
            mgmt_secret: SG_ADMIN,
        },
        Case {
            name: "twilio",
            provider: |h| Arc::new(Twilio::new(h)),
            target: |u| twilio(u, Some(&tw_sid("SK", 1))),
            create_target: |u| twilio(u, None),
            list_path: tw_keys.clone(),
            list_ok: json!({"keys": [{"sid": tw_sid("SK", 1), "friendly_name": "a"}], "next_page_uri": null}),
            create_path: tw_keys,
            create_status: 201,
            create_without_secret: json!({"sid": tw_sid("SK", 9), "friendly_name": "x"}),
            cleanup_path: format!(
                "/2010-04-01/Accounts/{TW_ACCOUNT}/Keys/{}.json",
                tw_sid("SK", 9)
            ),
            missing_field: "secret",
            create_misshapen: json!({"sid": 5, "secret": NEW_SECRET}),
            // A Standard key is checked with the message list (issue 15: it may not fetch
            // the account).
            verify_path: format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Messages.json"),
            verify_method: "GET",
            verify_forbidden: "cannot-check",
            mgmt_secret: TW_MAIN_SECRET,
        },
        Case {
            name: "openai",
            provider: |h| Arc::new(OpenAi::new(h)),
            target: |u| openai(u, "service-account", Some("key_1"), &[]),
            create_target: |u| openai(u, "service-account", None, &[]),
            list_path: oa_keys,
            list_ok: json!({"object": "list", "data": [{"id": "key_1", "name": "a"}], "has_more": false}),
            create_path: oa_sas.clone(),
            create_status: 200,
            create_without_secret: json!({
                "object": "organization.project.service_account", "id": "svc_acct_9", "name": "x",
                "role": "member", "created_at": 1,
                "api_key": {"object": "organization.project.service_account.api_key", "name": "x", "created_at": 1, "id": "key_9"}
            }),
            cleanup_path: format!("{oa_sas}/svc_acct_9"),
            missing_field: "value",
            create_misshapen: json!({"id": "svc_acct_9", "name": "x", "api_key": NEW_SECRET}),
            verify_path: "/models".into(),
            verify_method: "GET",
            verify_forbidden: "cannot-check",
            mgmt_secret: OA_ADMIN,
        },
        Case {
            name: "datadog",
            provider: |h| Arc::new(Datadog::new(h)),
            target: |u| datadog(u, "api", Some("k1"), &[]),
            create_target: |u| datadog(u, "api", None, &[]),
            list_path: "/api/v2/api_keys".into(),
            list_ok: json!({"data": [{"id": "k1", "type": "api_keys", "attributes": {"name": "a"}}]}),
            create_path: "/api/v2/api_keys".into(),
            create_status: 201,
            create_without_secret: json!({"data": {"id": "made1", "type": "api_keys", "attributes": {"name": "x", "last4": "abcd"}}}),
            cleanup_path: "/api/v2/api_keys/made1".into(),
            missing_field: "key",
            create_misshapen: json!({"data": {"id": 5, "type": "api_keys", "attributes": {"key": NEW_SECRET}}}),
            // An API key is checked alone; Datadog answers 403 for an invalid one
            // (docs.datadoghq.com/api/latest/authentication/).
            verify_path: "/api/v1/validate".into(),
            verify_method: "GET",
            verify_forbidden: "invalid",
            mgmt_secret: DD_APP_KEY,
        },
        Case {
            name: "okta",
            provider: |h| Arc::new(Okta::new(h)),
            target: |u| okta(u, Some("ocs1"), &[("authorization_server", "default")]),
            create_target: |u| okta(u, None, &[("authorization_server", "default")]),
            list_path: format!("/api/v1/apps/{OK_APP}/credentials/secrets"),
            list_ok: json!([{"id": "ocs1", "status": "ACTIVE", "created": "2026-01-05T10:00:00.000Z"}]),
            create_path: format!("/api/v1/apps/{OK_APP}/credentials/secrets"),
            create_status: 201,
            create_without_secret: json!({"id": "ocsmade", "status": "ACTIVE"}),
            cleanup_path: format!("/api/v1/apps/{OK_APP}/credentials/secrets/ocsmade"),
            missing_field: "client_secret",
            create_misshapen: json!({"id": 5, "status": "ACTIVE", "client_secret": NEW_SECRET}),
            // A client-credentials grant at the custom authorization server.
            verify_path: "/oauth2/default/v1/token".into(),
            verify_method: "POST",
            verify_forbidden: "cannot-check",
            mgmt_secret: OK_TOKEN,
        },
    ]
}

/// What every error must say, and must not.
fn assert_names_the_call(e: &ProviderError, case: &Case, request: &str, status: Option<u16>) {
    let text = e.to_string();
    assert!(text.starts_with(case.name), "{}: {text}", case.name);
    assert!(text.contains(AT), "{}: {text}", case.name);
    assert!(
        text.contains(request),
        "{}: wants `{request}` in: {text}",
        case.name
    );
    if let Some(s) = status {
        assert!(text.contains(&format!("HTTP {s}")), "{}: {text}", case.name);
        assert_eq!(e.status, Some(s), "{}", case.name);
    }
    assert_no_secret(&text, case);
}

fn assert_no_secret(text: &str, case: &Case) {
    for secret in [
        case.mgmt_secret,
        NEW_SECRET,
        TW_MAIN_SID,
        OA_ADMIN,
        SG_ADMIN,
        DD_API_KEY,
        DD_APP_KEY,
        OK_TOKEN,
    ] {
        assert!(
            !text.contains(secret),
            "{}: a secret leaked into: {text}",
            case.name
        );
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_the_answer_is_used() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(case.list_path.as_str()))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(case.list_path.as_str()))
            .respond_with(reply(200, case.list_ok.clone()))
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let keys = p.list(&(case.target)(&server.uri())).await.unwrap();
        assert_eq!(keys.len(), 1, "{}", case.name);
        assert_eq!(
            requests(&server).await.len(),
            3,
            "{}: two 429s, then the answer",
            case.name
        );
    }
}

#[tokio::test]
async fn server_errors_are_retried_until_the_attempts_run_out() {
    for case in cases() {
        let server = MockServer::start().await;
        let echo = json!({"errors": [{"message": format!("upstream broke for key {}", case.mgmt_secret)}],
                          "error": {"message": format!("upstream broke for key {}", case.mgmt_secret)},
                          "message": format!("upstream broke for key {}", case.mgmt_secret)});
        Mock::given(method("GET"))
            .and(path(case.list_path.as_str()))
            .respond_with(reply(503, echo))
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let e = p.list(&(case.target)(&server.uri())).await.unwrap_err();
        assert!(e.is_transient(), "{}: {e}", case.name);
        assert!(
            e.to_string().contains("after 3 attempts"),
            "{}: {e}",
            case.name
        );
        assert!(
            e.to_string().contains("upstream broke"),
            "{}: {e}",
            case.name
        );
        assert_names_the_call(&e, &case, &format!("GET {}", case.list_path), Some(503));
        assert_eq!(requests(&server).await.len(), 3, "{}", case.name);
    }
}

#[tokio::test]
async fn a_create_is_never_sent_twice_after_a_server_error() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(case.create_path.as_str()))
            .respond_with(reply(502, json!({"message": "bad gateway"})))
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let e = p
            .create(&(case.create_target)(&server.uri()))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("may have been created"),
            "{}: {e}",
            case.name
        );
        assert_names_the_call(&e, &case, &format!("POST {}", case.create_path), Some(502));
        assert_eq!(
            requests(&server).await.len(),
            1,
            "{}: one POST only",
            case.name
        );
    }
}

#[tokio::test]
async fn a_create_is_retried_after_a_rate_limit() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(case.create_path.as_str()))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let mut ok = case.create_without_secret.clone();
        match case.name {
            "openai" => ok["api_key"]["value"] = json!("sk-created-1"),
            "twilio" => ok["secret"] = json!("tw-created-1"),
            "datadog" => ok["data"]["attributes"]["key"] = json!("dd-created-1"),
            "okta" => ok["client_secret"] = json!("okta-created-1"),
            _ => ok["api_key"] = json!("SG.created-1"),
        }
        Mock::given(method("POST"))
            .and(path(case.create_path.as_str()))
            .respond_with(reply(case.create_status, ok))
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let issued = p
            .create(&(case.create_target)(&server.uri()))
            .await
            .unwrap();
        assert!(
            issued.secret.expose_secret().ends_with("created-1"),
            "{}",
            case.name
        );
        assert_eq!(requests(&server).await.len(), 2, "{}", case.name);
    }
}

#[tokio::test]
async fn a_timeout_is_a_transport_error_after_each_attempt() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(case.list_path.as_str()))
            .respond_with(reply(200, case.list_ok.clone()).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let p = (case.provider)(&http_with(Duration::from_millis(100), 2));
        let e = p.list(&(case.target)(&server.uri())).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport, "{}: {e}", case.name);
        assert!(
            e.to_string().contains("timed out (after 2 attempts)"),
            "{}: {e}",
            case.name
        );
        assert_names_the_call(&e, &case, &format!("GET {}", case.list_path), None);
        assert_eq!(requests(&server).await.len(), 2, "{}", case.name);
    }
}

#[tokio::test]
async fn cut_off_and_non_json_answers_are_bad_responses() {
    for case in cases() {
        // Cut off inside the shape the list answers with (an object, or Okta's bare array).
        let cut = if case.list_ok.is_array() {
            r#"[{"id": "a", "#
        } else {
            r#"{"result": [{"name": "a", "#
        };
        for (body, says) in [
            (cut, "the answer was cut off"),
            (
                "<html><body>Gateway says hi</body></html>",
                "the answer is not JSON",
            ),
            ("", "the answer was cut off"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path(case.list_path.as_str()))
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
                .mount(&server)
                .await;
            let p = (case.provider)(&fast_http());
            let e = p.list(&(case.target)(&server.uri())).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadResponse, "{}: {e}", case.name);
            assert!(e.to_string().contains(says), "{}: {e}", case.name);
            assert_names_the_call(&e, &case, &format!("GET {}", case.list_path), Some(200));
            assert_eq!(
                requests(&server).await.len(),
                1,
                "{}: not retried",
                case.name
            );
        }
    }
}

/// Answers a fixed head with a `Content-Length` longer than the body, then hangs up.
async fn short_body_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n";
            let _ = sock
                .write_all(format!("{head}{{\"result\": [").as_bytes())
                .await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn a_connection_closed_mid_answer_is_retried_then_reported() {
    for case in cases() {
        let (endpoint, hits) = short_body_server().await;
        let p = (case.provider)(&fast_http());
        let e = p.list(&(case.target)(&endpoint)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transport, "{}: {e}", case.name);
        assert!(e.to_string().contains("cut off"), "{}: {e}", case.name);
        assert_names_the_call(&e, &case, &format!("GET {}", case.list_path), None);
        assert_eq!(hits.load(Ordering::SeqCst), 3, "{}", case.name);
    }
}

#[tokio::test]
async fn a_create_answer_missing_the_secret_deletes_the_new_key_again() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(case.create_path.as_str()))
            .respond_with(reply(
                case.create_status,
                case.create_without_secret.clone(),
            ))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(case.cleanup_path.as_str()))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let e = p
            .create(&(case.create_target)(&server.uri()))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse, "{}: {e}", case.name);
        let text = e.to_string();
        assert!(
            text.contains(&format!("missing field `{}`", case.missing_field)),
            "{}: {text}",
            case.name
        );
        assert!(
            text.contains("created and deleted again"),
            "{}: {text}",
            case.name
        );
        assert_names_the_call(
            &e,
            &case,
            &format!("POST {}", case.create_path),
            Some(case.create_status),
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn a_misshapen_create_answer_does_not_leak_the_new_secret() {
    for case in cases() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(case.create_path.as_str()))
            .respond_with(reply(case.create_status, case.create_misshapen.clone()))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&server)
            .await;
        let p = (case.provider)(&fast_http());
        let e = p
            .create(&(case.create_target)(&server.uri()))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse, "{}: {e}", case.name);
        assert!(
            e.to_string().contains("does not match the API"),
            "{}: {e}",
            case.name
        );
        assert_names_the_call(
            &e,
            &case,
            &format!("POST {}", case.create_path),
            Some(case.create_status),
        );
    }
}

#[tokio::test]
async fn refusals_that_echo_the_management_key_do_not_leak_it() {
    for case in cases() {
        for status in [400, 401, 403, 404, 409] {
            let server = MockServer::start().await;
            let said = format!("key {} is not allowed here", case.mgmt_secret);
            Mock::given(method("GET"))
                .respond_with(reply(status, json!({"message": said, "error": {"message": said}, "errors": [{"message": said}]})))
                .mount(&server)
                .await;
            let p = (case.provider)(&fast_http());
            let e = p.list(&(case.target)(&server.uri())).await.unwrap_err();
            assert!(
                e.to_string().contains("is not allowed here"),
                "{}: {e}",
                case.name
            );
            let want = match status {
                401 | 403 => ErrorKind::Unauthorized,
                404 => ErrorKind::NotFound,
                _ => ErrorKind::Http,
            };
            assert_eq!(e.kind, want, "{}: {e}", case.name);
            assert_names_the_call(&e, &case, &format!("GET {}", case.list_path), Some(status));
            assert_eq!(
                requests(&server).await.len(),
                1,
                "{}: a 4xx is not retried",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn verify_gives_one_of_the_four_honest_answers() {
    for case in cases() {
        let secret = Secret::new(NEW_SECRET);
        // `access_token` for a token endpoint's 200 (Okta); the other providers ignore it.
        let echo = json!({"message": format!("bad key {NEW_SECRET}"), "errors": [{"message": format!("bad key {NEW_SECRET}")}], "access_token": "at-1"});
        for (status, want) in [
            (200, "valid"),
            (401, "invalid"),
            (403, case.verify_forbidden),
            (404, "could-not-check"),
            (500, "could-not-check"),
            (429, "could-not-check"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method(case.verify_method))
                .and(path(case.verify_path.as_str()))
                .respond_with(reply(status, echo.clone()))
                .mount(&server)
                .await;
            let p = (case.provider)(&fast_http());
            let t = (case.target)(&server.uri());
            let v = p.verify(&t, Some(&tw_sid("SK", 3)), &secret).await;
            assert_eq!(v.label(), want, "{} HTTP {status}: {v:?}", case.name);
            let reason = match &v {
                Verification::Valid => String::new(),
                Verification::Invalid { reason }
                | Verification::CouldNotCheck { reason }
                | Verification::CannotCheck { reason } => reason.clone(),
            };
            assert_no_secret(&reason, &case);
            let reqs = requests(&server).await;
            if case.name == "datadog" {
                let sent = |h: &str| {
                    reqs[0]
                        .headers
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                assert_eq!(sent("dd-api-key").as_deref(), Some(NEW_SECRET));
                assert_eq!(
                    sent("dd-application-key"),
                    None,
                    "an API key is checked alone"
                );
                continue;
            }
            if case.name == "okta" {
                assert_eq!(
                    basic(&reqs[0]),
                    Some((OK_CLIENT.to_string(), NEW_SECRET.to_string())),
                    "the app's client id and the secret being checked"
                );
                continue;
            }
            let auth = reqs[0]
                .headers
                .get("authorization")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            assert!(!auth.is_empty(), "{}: verify sends the key", case.name);
            if case.name != "twilio" {
                assert_eq!(auth, format!("Bearer {NEW_SECRET}"), "{}", case.name);
            } else {
                assert_eq!(
                    basic(&reqs[0]),
                    Some((tw_sid("SK", 3), NEW_SECRET.to_string()))
                );
            }
        }
    }
}

#[tokio::test]
async fn missing_configuration_is_a_config_error_without_a_request() {
    for case in cases() {
        let server = MockServer::start().await;
        let p = (case.provider)(&fast_http());
        let mut no_conn = (case.target)(&server.uri());
        no_conn.connection = None;
        let e = p.list(&no_conn).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{}: {e}", case.name);
        let mut plain = (case.target)("http://example.com");
        assert_eq!(
            p.list(&plain).await.unwrap_err().kind,
            ErrorKind::Config,
            "{}",
            case.name
        );
        plain.credential.remote_id = None;
        assert_eq!(
            p.inspect(&plain).await.unwrap_err().kind,
            ErrorKind::Config,
            "{}",
            case.name
        );
        assert!(requests(&server).await.is_empty(), "{}", case.name);
    }
    let server = MockServer::start().await;
    let mut t = twilio(&server.uri(), None);
    t.connection.as_mut().unwrap().params.clear();
    let e = Twilio::new(&fast_http()).list(&t).await.unwrap_err();
    assert!(e.to_string().contains("params.account_sid"), "{e}");
    let mut t = openai(&server.uri(), "service-account", None, &[]);
    t.credential.params.remove("project_id");
    let e = OpenAi::new(&fast_http()).list(&t).await.unwrap_err();
    assert!(e.to_string().contains("params.project_id"), "{e}");
    let t = openai(&server.uri(), "org-key", None, &[]);
    let e = OpenAi::new(&fast_http()).list(&t).await.unwrap_err();
    assert!(e.to_string().contains("`params.kind` is `org-key`"), "{e}");
}

#[tokio::test]
async fn a_next_page_link_to_another_origin_is_not_followed() {
    let server = MockServer::start().await;
    let keys = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys.json");
    Mock::given(method("GET"))
        .and(path(keys.as_str()))
        .respond_with(reply(
            200,
            json!({"keys": [], "next_page_uri": "https://collector.example/steal"}),
        ))
        .mount(&server)
        .await;
    let e = Twilio::new(&fast_http())
        .list(&twilio(&server.uri(), None))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.to_string().contains("leaves the API's origin"), "{e}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_cursor_that_stalls_ends_the_list_and_one_that_never_ends_is_an_error() {
    let keys = format!("/organization/projects/{OA_PROJECT}/api_keys");
    // Stalls: every page is the same, as Prism's generated answers are.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(keys.as_str()))
        .respond_with(reply(200, json!({"object": "list", "data": [{"id": "key_1"}], "last_id": "key_1", "has_more": true})))
        .mount(&server)
        .await;
    let p = OpenAi::new(&fast_http());
    let t = openai(&server.uri(), "project-key", None, &[]);
    assert_eq!(p.list(&t).await.unwrap().len(), 1);
    assert_eq!(requests(&server).await.len(), 2);

    // Never ends: a fresh cursor on every page.
    let server = MockServer::start().await;
    let n = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&n);
    Mock::given(method("GET"))
        .and(path(keys.as_str()))
        .respond_with(move |_: &Request| {
            let i = counter.fetch_add(1, Ordering::SeqCst);
            reply(200, json!({"object": "list", "data": [{"id": format!("key_{i}")}], "last_id": format!("key_{i}"), "has_more": true}))
        })
        .mount(&server)
        .await;
    let t = openai(&server.uri(), "project-key", None, &[]);
    let e = p.list(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(e.to_string().contains("did not end after 100 pages"), "{e}");
    assert_eq!(n.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn sendgrid_reads_the_bare_object_the_live_api_answers_and_refuses_an_empty_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/api_keys/live1"))
        .respond_with(reply(
            200,
            json!({"api_key_id": "live1", "name": "Live", "scopes": ["mail.send", "api_keys.delete"]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/api_keys/empty"))
        .respond_with(reply(200, json!({})))
        .mount(&server)
        .await;
    let p = Sendgrid::new(&fast_http());
    let key = p
        .inspect(&sendgrid(&server.uri(), Some("live1")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.name.as_deref(), Some("Live"));
    assert_eq!(key.scopes, ["mail.send", "api_keys.delete"]);
    assert_eq!(key.risks.len(), 1, "{:?}", key.risks);
    let e = p
        .inspect(&sendgrid(&server.uri(), Some("empty")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadResponse);
    assert!(
        e.to_string().contains("neither `result` nor `api_key_id`"),
        "{e}"
    );
}

#[tokio::test]
async fn list_entries_without_an_id_are_bad_responses() {
    let tw_keys = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys.json");
    for (name, list_path, body) in [
        (
            "sendgrid",
            "/v3/api_keys".to_string(),
            json!({"result": [{"name": "no id"}]}),
        ),
        (
            "twilio",
            tw_keys,
            json!({"keys": [{"sid": null, "friendly_name": "no id"}]}),
        ),
        (
            "openai",
            format!("/organization/projects/{OA_PROJECT}/api_keys"),
            json!({"object": "list", "data": [{"name": "no id"}], "has_more": false}),
        ),
        (
            "okta",
            format!("/api/v1/apps/{OK_APP}/credentials/secrets"),
            json!([{"status": "ACTIVE"}]),
        ),
        (
            "datadog",
            "/api/v2/api_keys".to_string(),
            json!({"data": [{"type": "api_keys", "attributes": {"name": "no id"}}]}),
        ),
    ] {
        let case = cases().into_iter().find(|c| c.name == name).expect("case");
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(list_path.as_str()))
            .respond_with(reply(200, body))
            .mount(&server)
            .await;
        let e = (case.provider)(&fast_http())
            .list(&(case.target)(&server.uri()))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadResponse, "{name}: {e}");
        assert!(
            e.to_string().contains("does not match the API"),
            "{name}: {e}"
        );
    }
}

#[tokio::test]
async fn datadog_429_with_x_ratelimit_reset_is_waited_out() {
    // Datadog's rate-limit answer: 429 with `X-RateLimit-Reset`, the seconds until the limit
    // resets (docs.datadoghq.com/api/latest/rate-limits/), and no `Retry-After`.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/api_keys"))
        .respond_with(
            reply(429, json!({"errors": ["Too many requests"]}))
                .insert_header("x-ratelimit-limit", "100")
                .insert_header("x-ratelimit-period", "60")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/api_keys"))
        .respond_with(reply(200, json!({"data": []})))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let keys = Datadog::new(&fast_http())
        .list(&datadog(&server.uri(), "api", None, &[]))
        .await
        .unwrap();
    assert!(keys.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the second X-RateLimit-Reset asked for, not the 5 ms backoff: {:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}
