//! `sync` and `verify` over a whole inventory against a real moto_server with signature
//! checking on: live, deleted, wrongly stored and unstored keys, and a manual credential.

use crate::aws_common;
use crate::support;

use std::collections::BTreeMap;

use aws_common::{connection, create_user, credential, make_admin, target};
use chrono::Utc;
use keyward::inventory::{Credential, Inventory, ProviderKind, RemoteStatus};
use keyward::providers::aws::AwsIam;
use keyward::providers::{Provider, Verification};
use keyward::secret::Secret;
use keyward::sync::{apply, sync, SyncEvent, SyncResult};
use keyward::verify::verify;
use support::peers::Peer;

#[tokio::test]
async fn sync_and_verify_a_whole_inventory() {
    let http = aws_common::http();
    let moto = Peer::moto_with_auth(3);
    let url = &moto.base_url;
    // Three unchecked calls make an admin with a real key; after that, signatures count.
    let admin = make_admin(&http, url).await;
    create_user(&http, url, &admin, "app").await;
    let p = AwsIam::new(&http);
    let live = p.create(&target(url, &admin, "app", None)).await.unwrap();
    let retired = p.create(&target(url, &admin, "app", None)).await.unwrap();
    p.delete(&target(url, &admin, "app", None), &retired.remote_id)
        .await
        .unwrap();

    let mut inv = Inventory::new(vec![]);
    inv.connections.push(connection(url, &admin));
    let aws = |id: &str, key: &str, secret: Option<&Secret>| {
        let mut c = credential(id, "app", Some(key));
        c.secret = secret.cloned();
        c
    };
    inv.insert("acme", aws("app", &live.remote_id, Some(&live.secret)));
    inv.insert(
        "acme",
        aws("retired", &retired.remote_id, Some(&retired.secret)),
    );
    let wrong = Secret::new("wrongSECRETwrongSECRETwrongSECRETwrong000");
    inv.insert("acme", aws("wrong", &live.remote_id, Some(&wrong)));
    inv.insert("acme", aws("unstored", &live.remote_id, None));
    let mut by_hand = Credential::new("by-hand", ProviderKind::Manual);
    by_hand.secret = Some(Secret::new("hunter2hunter2"));
    inv.insert("acme", by_hand);

    let verdicts: BTreeMap<String, Verification> =
        verify(&inv, std::path::Path::new("unused.yaml.age"), &[], &http, 3)
            .await
            .into_iter()
            .map(|(at, v)| (at.integration, v))
            .collect();
    assert_eq!(verdicts["app"], Verification::Valid);
    let invalid = |name: &str, code: &str| matches!(&verdicts[name], Verification::Invalid { reason } if reason.contains(code));
    assert!(
        invalid("retired", "InvalidClientTokenId"),
        "{:?}",
        verdicts["retired"]
    );
    assert!(
        invalid("wrong", "SignatureDoesNotMatch"),
        "{:?}",
        verdicts["wrong"]
    );
    assert_eq!(
        verdicts["unstored"],
        Verification::CannotCheck {
            reason: "no secret is stored for it".into()
        }
    );
    assert_eq!(
        verdicts["by-hand"],
        Verification::CannotCheck {
            reason: "no API: the provider offers no way to check a key".into()
        }
    );
    let all_text = format!("{verdicts:?}");
    assert!(
        !all_text.contains(wrong.expose_secret())
            && !all_text.contains(live.secret.expose_secret())
    );

    let events = std::sync::Mutex::new(Vec::new());
    let outcomes = sync(
        &inv,
        std::path::Path::new("unused.yaml.age"),
        &[],
        &http,
        3,
        |e| events.lock().unwrap().push(e),
    )
    .await;
    let labels: Vec<(String, &str)> = outcomes
        .iter()
        .map(|o| (o.at.integration.clone(), o.result.label()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("app".to_string(), "found"),
            ("retired".to_string(), "missing"),
            ("wrong".to_string(), "found"),
            ("unstored".to_string(), "found"),
        ],
        "the manual credential has no API and is left out"
    );
    let finished = events
        .into_inner()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, SyncEvent::Finished { total: 4, .. }))
        .count();
    assert_eq!(finished, 4);
    let SyncResult::Found(key) = &outcomes[0].result else {
        unreachable!()
    };
    assert!(
        key.last_used_at.is_some(),
        "verify's STS call is the key's last use"
    );

    let now = Utc::now();
    assert_eq!(apply(&mut inv, &outcomes, now).len(), 4);
    let app = inv.credential(&"acme/app".parse().unwrap()).unwrap();
    assert_eq!(
        app.remote.as_ref().map(|r| r.state),
        Some(RemoteStatus::Active)
    );
    assert_eq!(app.created_at, live.created_at);
    assert!(app.last_used_at.is_some());
    assert!(
        app.history[0]
            .detail
            .starts_with("active at the provider; created "),
        "{}",
        app.history[0].detail
    );
    let gone = inv
        .credential(&"acme/retired".parse().unwrap())
        .expect("flagged, never deleted");
    assert_eq!(
        gone.remote.as_ref().map(|r| r.state),
        Some(RemoteStatus::Missing)
    );
    assert_eq!(
        gone.history[0].detail,
        "the provider no longer knows this key"
    );
    assert_eq!(inv.credential_count(), 5);
}
