//! `keyward connections test` through the library: what each management credential can do,
//! found with read-only calls against the fakes.

use keyward::inventory::Connection;
use keyward::providers::connection_check::{Ability, ProbeOutcome};
use keyward::providers::openai::OpenAi;
use keyward::providers::sendgrid::Sendgrid;
use keyward::providers::twilio::Twilio;
use keyward::providers::Provider;
use keyward::secret::Secret;

use crate::saas_common::*;

fn connection_of(t: keyward::providers::Target) -> Connection {
    t.connection.expect("a connection")
}

/// Every probe's method: a check never writes.
async fn methods(server: &wiremock::MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.method.to_string())
        .collect()
}

#[tokio::test]
async fn twilio_connection_test_tells_a_main_key_from_a_standard_one() {
    let standard = TwKey {
        sid: tw_sid("SK", 5),
        name: "CRM".into(),
        secret: long_secret("twstd", 5),
        policy: serde_json::Value::Null,
    };
    let (server, _state) = fake(
        TwState {
            keys: vec![standard.clone()],
            ..Default::default()
        },
        twilio_handler,
    )
    .await;
    let p = Twilio::new(&fast_http());
    let main = connection_of(twilio(&server.uri(), None));
    let report = p.check_connection(&main).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.facts["key type"], "main");
    assert_eq!(report.facts["account status"], "active");
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::Yes, Ability::Yes)
    );

    let mut with_standard = main.clone();
    with_standard
        .auth
        .insert("api_key_sid".into(), Secret::new(standard.sid.clone()));
    with_standard.auth.insert(
        "api_key_secret".into(),
        Secret::new(standard.secret.clone()),
    );
    let report = p.check_connection(&with_standard).await;
    assert_eq!(
        report.facts["key type"],
        "standard or restricted (not main)"
    );
    assert_eq!(report.can_create, Ability::No);
    assert!(report
        .probes
        .iter()
        .all(|p| p.outcome == ProbeOutcome::Refused));
    let shown = format!("{report:?}");
    assert!(!shown.contains(&standard.secret) && !shown.contains(TW_MAIN_SECRET));
    assert!(methods(&server).await.iter().all(|m| m == "GET"));
}

#[tokio::test]
async fn sendgrid_connection_test_reads_the_management_keys_scopes() {
    let (server, _state) = fake(SgState::default(), sendgrid_handler).await;
    let p = Sendgrid::new(&fast_http());
    let report = p
        .check_connection(&connection_of(sendgrid(&server.uri(), None)))
        .await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(
        (report.can_create, report.can_revoke),
        (Ability::Yes, Ability::Yes)
    );
    assert_eq!(
        report.facts["key scopes"],
        SG_ADMIN_SCOPES.len().to_string()
    );

    let mut dead = connection_of(sendgrid(&server.uri(), None));
    dead.auth
        .insert("api_key".into(), Secret::new("SG.dead.key-0"));
    let report = p.check_connection(&dead).await;
    assert_eq!(
        report.probes[0].outcome,
        ProbeOutcome::Refused,
        "{report:?}"
    );
    assert_eq!(report.can_create, Ability::Unknown);
    assert!(!format!("{report:?}").contains("SG.dead.key-0"));
    assert!(methods(&server).await.iter().all(|m| m == "GET"));
}

#[tokio::test]
async fn openai_connection_test_reaches_the_administration_api_and_the_project() {
    let (server, _state) = fake(OaState::default(), openai_handler).await;
    let p = OpenAi::new(&fast_http());
    let mut conn = connection_of(openai(&server.uri(), "service-account", None, &[]));
    conn.params.insert("project_id".into(), OA_PROJECT.into());
    let report = p.check_connection(&conn).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.probes.len(), 3);
    assert!(server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| query(r, "owner_project_access").as_deref() == Some("any")));

    conn.auth
        .insert("admin_key".into(), Secret::new("sk-admin-wrong"));
    let report = p.check_connection(&conn).await;
    assert!(
        report
            .probes
            .iter()
            .all(|p| p.outcome == ProbeOutcome::Refused),
        "{report:?}"
    );
    assert!(methods(&server).await.iter().all(|m| m == "GET"));
}

#[tokio::test]
async fn datadog_connection_test_validates_both_keys_and_reads_what_they_may_list() {
    use keyward::providers::datadog::Datadog;
    let (server, _state) = fake(DdState::default(), datadog_handler).await;
    let p = Datadog::new(&fast_http());
    let conn = connection_of(datadog(&server.uri(), "api", None, &[]));
    let report = p.check_connection(&conn).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.probes.len(), 4, "{report:?}");
    assert_eq!(report.facts["api"], server.uri());
    assert!(
        report.facts["own application keys"].contains("create"),
        "{report:?}"
    );
    assert!(methods(&server).await.iter().all(|m| m == "GET"));

    let mut dead = conn.clone();
    dead.auth
        .insert("api_key".into(), Secret::new("dd-api-dead-key-0"));
    let report = p.check_connection(&dead).await;
    assert!(
        report
            .probes
            .iter()
            .all(|p| p.outcome == ProbeOutcome::Refused),
        "{report:?}"
    );
    assert_eq!(report.facts["API keys"], "refused");
    assert!(!format!("{report:?}").contains("dd-api-dead-key-0"));
}

#[tokio::test]
async fn okta_connection_test_reads_the_apps_secret_slots() {
    use keyward::providers::okta::Okta;
    let state = OkState {
        secrets: vec![OkSecret {
            id: "ocs1".into(),
            active: true,
            secret: long_secret("oktasecret", 9),
        }],
        issued: 0,
    };
    let (server, _state) = fake(state, okta_handler).await;
    let p = Okta::new(&fast_http());
    let mut conn = connection_of(okta(&server.uri(), None, &[]));
    let report = p.check_connection(&conn).await;
    assert!(report.probes.is_empty(), "{report:?}");
    assert!(report
        .note
        .as_deref()
        .unwrap_or("")
        .contains("params.app_id"));

    conn.params.insert("app_id".into(), OK_APP.into());
    let report = p.check_connection(&conn).await;
    assert!(report.all_allowed(), "{report:?}");
    assert_eq!(report.facts["client secrets"], "1 of 2 (1 active)");
    assert!(
        !format!("{report:?}").contains("oktasecret"),
        "no value in the report"
    );

    conn.auth
        .insert("api_token".into(), Secret::new("okta-dead-token-0"));
    let report = p.check_connection(&conn).await;
    assert_eq!(
        report.probes[0].outcome,
        ProbeOutcome::Refused,
        "{report:?}"
    );
    assert!(!format!("{report:?}").contains("okta-dead-token-0"));
    assert!(methods(&server).await.iter().all(|m| m == "GET"));
}
