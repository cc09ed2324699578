//! The aws-iam provider against a real moto_server: the whole key lifecycle, the two-key
//! limit, last-used tracking, and signature checking once moto's authentication is on.

use crate::aws_common;
use crate::support;

use std::sync::OnceLock;

use aws_common::{create_user, make_admin, mgmt, target, MGMT_SECRET};
use keyward::inventory::RemoteStatus;
use keyward::providers::aws::sigv4::Credentials;
use keyward::providers::aws::AwsIam;
use keyward::providers::{ErrorKind, Provider, RotationStyle, Verification};
use keyward::secret::Secret;
use support::peers::Peer;

/// One moto for the tests that run with authentication off; each uses its own IAM user.
fn moto() -> &'static Peer {
    static MOTO: OnceLock<Peer> = OnceLock::new();
    MOTO.get_or_init(Peer::moto)
}

#[tokio::test]
async fn capabilities_describe_iam() {
    let p = AwsIam::new(&aws_common::http());
    let c = p.capabilities();
    assert_eq!(c.rotation, RotationStyle::CreateThenRevoke);
    assert!(c.can_deactivate && c.reports_last_used && c.can_verify);
    assert!(!c.reports_expiry);
    assert_eq!(c.max_live_keys, Some(2));
}

#[tokio::test]
async fn a_key_is_created_listed_used_deactivated_and_deleted() {
    let http = aws_common::http();
    let url = &moto().base_url;
    create_user(&http, url, &mgmt(), "life").await;
    let p = AwsIam::new(&http);
    let owner = target(url, &mgmt(), "life", None);
    assert!(p.list(&owner).await.unwrap().is_empty());

    let issued = p.create(&owner).await.unwrap();
    assert!(issued.remote_id.starts_with("AKIA"), "{}", issued.remote_id);
    assert_eq!(issued.secret.expose_secret().len(), 40);
    assert_eq!(issued.params.get("user").map(String::as_str), Some("life"));
    assert!(issued.created_at.is_some());

    let listed = p.list(&owner).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].remote_id, issued.remote_id);
    assert_eq!(listed[0].state, RemoteStatus::Active);

    let key = target(url, &mgmt(), "life", Some(&issued.remote_id));
    let seen = p.inspect(&key).await.unwrap().expect("the new key");
    assert_eq!(seen.state, RemoteStatus::Active);
    assert_eq!(seen.created_at, issued.created_at);
    assert_eq!(seen.last_used_at, None, "a new key was never used");
    assert!(seen.risks.is_empty(), "{:?}", seen.risks);

    // moto records every call signed with a key as a use of it (service and region too),
    // so the STS call verify makes shows up as the key's last use.
    assert_eq!(
        p.verify(&key, Some(&issued.remote_id), &issued.secret)
            .await,
        Verification::Valid
    );
    let used = p.inspect(&key).await.unwrap().expect("the key");
    let last = used.last_used_at.expect("moto tracks last use");
    assert!(last >= issued.created_at.unwrap());

    p.deactivate(&key, &issued.remote_id).await.unwrap();
    let off = p.inspect(&key).await.unwrap().expect("still there");
    assert_eq!(off.state, RemoteStatus::Inactive);

    p.delete(&key, &issued.remote_id).await.unwrap();
    assert_eq!(p.inspect(&key).await.unwrap(), None);
    assert!(p.list(&owner).await.unwrap().is_empty());
    // Deleting it again is not an error: the key is gone either way.
    p.delete(&key, &issued.remote_id).await.unwrap();
}

#[tokio::test]
async fn a_third_key_is_refused_naming_the_two_that_exist() {
    let http = aws_common::http();
    let url = &moto().base_url;
    create_user(&http, url, &mgmt(), "full").await;
    let p = AwsIam::new(&http);
    let owner = target(url, &mgmt(), "full", None);
    let first = p.create(&owner).await.unwrap();
    let second = p.create(&owner).await.unwrap();
    p.deactivate(&owner, &first.remote_id).await.unwrap();

    let err = p.create(&owner).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("{} (inactive)", first.remote_id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} (active)", second.remote_id)),
        "{text}"
    );
    assert!(text.contains("delete one"), "{text}");
    assert_eq!(
        p.list(&owner).await.unwrap().len(),
        2,
        "no third key was made"
    );

    // Once one is deleted there is room again.
    p.delete(&owner, &first.remote_id).await.unwrap();
    p.create(&owner).await.unwrap();
}

#[tokio::test]
async fn unknown_keys_and_users_are_missing_not_errors() {
    let http = aws_common::http();
    let url = &moto().base_url;
    create_user(&http, url, &mgmt(), "ghosts").await;
    let p = AwsIam::new(&http);
    let gone = target(url, &mgmt(), "ghosts", Some("AKIANOSUCHKEY0000000"));
    assert_eq!(p.inspect(&gone).await.unwrap(), None);
    p.delete(&gone, "AKIANOSUCHKEY0000000").await.unwrap();

    let no_user = target(url, &mgmt(), "nobody", None);
    let err = p.list(&no_user).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("nobody"), "{err}");
    let err = p.create(&no_user).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn a_key_recorded_under_the_wrong_user_is_found_and_flagged() {
    let http = aws_common::http();
    let url = &moto().base_url;
    create_user(&http, url, &mgmt(), "realowner").await;
    let p = AwsIam::new(&http);
    let issued = p
        .create(&target(url, &mgmt(), "realowner", None))
        .await
        .unwrap();
    let misfiled = target(url, &mgmt(), "someoneelse", Some(&issued.remote_id));
    let seen = p
        .inspect(&misfiled)
        .await
        .unwrap()
        .expect("found under its real owner");
    assert_eq!(seen.state, RemoteStatus::Active);
    assert_eq!(
        seen.risks,
        vec!["the key belongs to IAM user `realowner`, not `someoneelse` as recorded".to_string()]
    );
}

/// With `INITIAL_NO_AUTH_ACTION_COUNT`, moto checks every SigV4 signature (with botocore's
/// own signer) after the first N calls, and refuses a wrong secret with
/// `SignatureDoesNotMatch`.
#[tokio::test]
async fn with_signature_checking_on_a_wrong_secret_is_refused_and_verify_says_invalid() {
    let http = aws_common::http();
    // Four unchecked calls set up an admin with a real key, then the user under test.
    let moto = Peer::moto_with_auth(4);
    let url = &moto.base_url;
    let admin = make_admin(&http, url).await;
    create_user(&http, url, &mgmt(), "checked").await;

    // From here on every signature is checked: the provider's own must pass.
    let p = AwsIam::new(&http);
    let owner = target(url, &admin, "checked", None);
    let issued = p
        .create(&owner)
        .await
        .expect("a correctly signed CreateAccessKey");
    let key = target(url, &admin, "checked", Some(&issued.remote_id));
    assert_eq!(
        p.inspect(&key).await.unwrap().expect("listed").state,
        RemoteStatus::Active
    );
    assert_eq!(
        p.verify(&key, None, &issued.secret).await,
        Verification::Valid
    );

    let wrong = Secret::new("wrongSECRETwrongSECRETwrongSECRETwrong000");
    let v = p.verify(&key, Some(&issued.remote_id), &wrong).await;
    let Verification::Invalid { reason } = &v else {
        panic!("expected invalid, got {v:?}");
    };
    assert!(reason.contains("SignatureDoesNotMatch"), "{reason}");
    assert!(!reason.contains(wrong.expose_secret()));

    let v = p
        .verify(&key, Some("AKIAUNKNOWNKEY000000"), &issued.secret)
        .await;
    assert!(
        matches!(&v, Verification::Invalid { reason } if reason.contains("InvalidClientTokenId")),
        "{v:?}"
    );

    // The management key with a wrong secret: refused, and the error says so without it.
    let bad_mgmt = Credentials {
        access_key_id: admin.access_key_id.clone(),
        secret_access_key: Secret::new(MGMT_SECRET),
    };
    let err = p
        .list(&target(url, &bad_mgmt, "checked", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.status, Some(403));
    let text = err.to_string();
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(!text.contains(MGMT_SECRET) && !text.contains(admin.secret_access_key.expose_secret()));
}
