//! SendGrid's `on-behalf-of` header: for the parent account's key only.

use keyward::providers::sendgrid::Sendgrid;
use keyward::providers::{Provider, Verification};

use crate::saas_common::*;

/// Before: verify sent `on-behalf-of` with the new subuser key, which SendGrid accepts only
/// with the parent account's key, so a working subuser key could not verify.
#[tokio::test]
async fn sendgrid_verify_sent_on_behalf_of_with_the_subuser_key() {
    let old = SgKey {
        id: "oldkey".into(),
        name: "Mail bot".into(),
        scopes: vec!["mail.send".into()],
        secret: long_secret("SG.old.", 0),
    };
    let (server, state) = fake(
        SgState {
            keys: vec![old],
            ..Default::default()
        },
        sendgrid_handler,
    )
    .await;
    let p = Sendgrid::new(&fast_http());
    let mut t = sendgrid(&server.uri(), Some("oldkey"));
    t.credential
        .params
        .insert("on_behalf_of".into(), "subuser1".into());
    let new = p.create(&t).await.unwrap();
    assert_eq!(
        state
            .lock()
            .unwrap()
            .subuser_of
            .get(&new.remote_id)
            .map(String::as_str),
        Some("subuser1"),
        "the key was made on behalf of the subuser, with the parent's key"
    );
    assert_eq!(
        p.verify(&t, Some(&new.remote_id), &new.secret).await,
        Verification::Valid
    );
    let requests = server.received_requests().await.unwrap();
    let verify = requests
        .iter()
        .find(|r| r.url.path() == "/v3/scopes")
        .expect("verify called /v3/scopes");
    assert!(verify.headers.get("on-behalf-of").is_none());
    assert!(requests
        .iter()
        .filter(|r| r.url.path().starts_with("/v3/api_keys"))
        .all(|r| r
            .headers
            .get("on-behalf-of")
            .is_some_and(|v| v == "subuser1")));
}
