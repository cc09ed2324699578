//! The aws-iam provider against a misbehaving endpoint (wiremock): rate limits, server
//! errors, timeouts and garbage answers become clear, typed errors that never carry a
//! secret; the two-key limit is checked before any key is created.

use crate::aws_common;

use aws_common::{mgmt, target, MGMT_ID, MGMT_SECRET};
use std::time::Duration;

use keyward::providers::aws::AwsIam;
use keyward::providers::http::{Http, HttpConfig, RetryPolicy};
use keyward::providers::{ErrorKind, Provider, ProviderError, Verification};
use keyward::secret::Secret;
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const NEW_SECRET: &str = "sHW3x6qmqVFQS9Z4Viej+nPg0Dh8mkURV/sMSYUP";

fn xml(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/xml")
}

fn list_of(ids: &[&str]) -> ResponseTemplate {
    xml(&list_xml(ids))
}

fn list_xml(ids: &[&str]) -> String {
    let members: String = ids
        .iter()
        .map(|id| {
            format!(
                "<member><UserName>bob</UserName><AccessKeyId>{id}</AccessKeyId>\
                 <Status>Active</Status><CreateDate>2026-01-02T03:04:05Z</CreateDate></member>"
            )
        })
        .collect();
    format!(
        "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata>{members}\
         </AccessKeyMetadata><IsTruncated>false</IsTruncated></ListAccessKeysResult>\
         </ListAccessKeysResponse>"
    )
}

fn created() -> String {
    format!(
        "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>bob</UserName>\
         <AccessKeyId>AKIANEWKEY0000000001</AccessKeyId><Status>Active</Status>\
         <SecretAccessKey>{NEW_SECRET}</SecretAccessKey>\
         <CreateDate>2026-11-26T06:29:45.713529Z</CreateDate></AccessKey>\
         </CreateAccessKeyResult></CreateAccessKeyResponse>"
    )
}

fn action(name: &str) -> wiremock::matchers::BodyContainsMatcher {
    body_string_contains(format!("Action={name}&"))
}

/// No secret, neither the management one nor a new key's, in the error or its parts.
fn assert_clean(err: &ProviderError) {
    let text = format!("{err} {err:?}");
    for secret in [MGMT_SECRET, NEW_SECRET] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

async fn count(server: &MockServer, name: &str) -> usize {
    let needle = format!("Action={name}&");
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r: &&Request| String::from_utf8_lossy(&r.body).contains(&needle))
        .count()
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(action("ListAccessKeys"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(action("ListAccessKeys"))
        .respond_with(list_of(&["AKIAONE0000000000001"]))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let keys = p
        .list(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(count(&server, "ListAccessKeys").await, 2);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_attempts_run_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string(
            "<ErrorResponse><Error><Code>ServiceFailure</Code><Message>try later</Message></Error></ErrorResponse>",
        ))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .list(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Http);
    assert_eq!(err.status, Some(500));
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("ServiceFailure: try later (after 3 attempts)"),
        "{text}"
    );
    assert!(text.contains("POST / ListAccessKeys"), "{text}");
    assert_eq!(
        count(&server, "ListAccessKeys").await,
        3,
        "max_attempts is 3"
    );
    assert_clean(&err);
}

#[tokio::test]
async fn a_silent_endpoint_times_out_and_verify_could_not_check() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(list_of(&[]).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let http = Http::new(HttpConfig {
        request_timeout: Duration::from_millis(150),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        ..HttpConfig::default()
    });
    let p = AwsIam::new(&http);
    let t = target(&server.uri(), &mgmt(), "bob", Some("AKIAONE0000000000001"));
    let err = p.list(&t).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transport, "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_clean(&err);
    let v = p.verify(&t, None, &Secret::new(NEW_SECRET)).await;
    assert!(
        matches!(&v, Verification::CouldNotCheck { reason } if reason.contains("timed out")),
        "{v:?}"
    );
    assert_eq!(
        count(&server, "ListAccessKeys").await,
        2,
        "a timeout is retried"
    );
}

#[tokio::test]
async fn garbage_answers_are_bad_responses() {
    let cases: [(&str, &str, &str); 4] = [
        ("truncated", "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata><member><AccessKeyId>AKIA", "cut off"),
        ("not xml", "Service Unavailable, please hold", "not XML"),
        ("html", "<html><body>proxy error</body></html>", "does not match the API"),
        (
            "missing status",
            "<ListAccessKeysResponse><ListAccessKeysResult><AccessKeyMetadata><member><AccessKeyId>AKIAONE</AccessKeyId></member></AccessKeyMetadata></ListAccessKeysResult></ListAccessKeysResponse>",
            "missing field `Status`",
        ),
    ];
    for (name, body, says) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(xml(body))
            .mount(&server)
            .await;
        let p = AwsIam::new(&aws_common::http());
        let err = p
            .list(&target(&server.uri(), &mgmt(), "bob", None))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadResponse, "{name}: {err}");
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert_eq!(
            count(&server, "ListAccessKeys").await,
            1,
            "{name}: a 200 is not retried"
        );
    }
}

#[tokio::test]
async fn a_create_answer_missing_or_cutting_the_secret_is_a_clear_error_without_it() {
    let missing = created().replace(
        &format!("<SecretAccessKey>{NEW_SECRET}</SecretAccessKey>"),
        "",
    );
    let cut_after_secret = created()[..created().find("<CreateDate>").unwrap() + 20].to_string();
    let cut_in_secret = created()[..created().find(NEW_SECRET).unwrap() + 30].to_string();
    for (name, body, says) in [
        ("missing", missing, "missing field `SecretAccessKey`"),
        ("cut after", cut_after_secret, "cut off"),
        ("cut inside", cut_in_secret, "cut off"),
    ] {
        let server = MockServer::start().await;
        Mock::given(action("ListAccessKeys"))
            .respond_with(list_of(&[]))
            .mount(&server)
            .await;
        Mock::given(action("CreateAccessKey"))
            .respond_with(xml(&body))
            .mount(&server)
            .await;
        let p = AwsIam::new(&aws_common::http());
        let err = p
            .create(&target(&server.uri(), &mgmt(), "bob", None))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadResponse, "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(says), "{name}: {text}");
        assert!(
            text.contains("AWS may have created a key for IAM user `bob`"),
            "{name}: {text}"
        );
        assert_clean(&err);
    }
}

#[tokio::test]
async fn a_failed_create_is_not_repeated_and_warns_of_a_possible_orphan() {
    let server = MockServer::start().await;
    Mock::given(action("ListAccessKeys"))
        .respond_with(list_of(&[]))
        .mount(&server)
        .await;
    Mock::given(action("CreateAccessKey"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .create(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.status, Some(503), "{err}");
    assert!(
        err.to_string()
            .contains("AWS may have created a key for IAM user `bob`"),
        "{err}"
    );
    assert_eq!(
        count(&server, "CreateAccessKey").await,
        1,
        "a repeat could make a second key"
    );
    assert_clean(&err);
}

#[tokio::test]
async fn an_error_answer_that_echoes_a_secret_is_masked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!(
            "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>secret {MGMT_SECRET} is wrong</Message></Error></ErrorResponse>"
        )))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .list(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn the_two_key_limit_is_checked_before_create_is_called() {
    let server = MockServer::start().await;
    Mock::given(action("ListAccessKeys"))
        .respond_with(list_of(&["AKIAONE0000000000001", "AKIATWO0000000000002"]))
        .mount(&server)
        .await;
    Mock::given(action("CreateAccessKey"))
        .respond_with(xml(&created()))
        .expect(0)
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .create(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(
        err.to_string()
            .contains("AKIAONE0000000000001 (active), AKIATWO0000000000002 (active)"),
        "{err}"
    );
}

#[tokio::test]
async fn aws_limit_exceeded_maps_to_limit() {
    let server = MockServer::start().await;
    Mock::given(action("ListAccessKeys"))
        .respond_with(list_of(&["AKIAONE0000000000001"]))
        .mount(&server)
        .await;
    Mock::given(action("CreateAccessKey"))
        .respond_with(ResponseTemplate::new(409).set_body_string(
            "<ErrorResponse><Error><Type>Sender</Type><Code>LimitExceeded</Code><Message>Cannot exceed quota for AccessKeysPerUser: 2</Message></Error></ErrorResponse>",
        ))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .create(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit, "{err}");
    assert!(err.to_string().contains("AccessKeysPerUser"), "{err}");
}

#[tokio::test]
async fn requests_are_signed_for_iam_with_the_management_key_and_for_sts_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(action("GetCallerIdentity"))
        .respond_with(xml("<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::1:user/bob</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>"))
        .mount(&server)
        .await;
    Mock::given(action("ListAccessKeys"))
        .respond_with(list_of(&[]))
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let mut t = target(&server.uri(), &mgmt(), "bob", Some("AKIATHEKEY0000000001"));
    t.connection
        .as_mut()
        .unwrap()
        .params
        .insert("region".into(), "eu-west-1".into());
    p.list(&t).await.unwrap();
    assert_eq!(
        p.verify(&t, None, &Secret::new(NEW_SECRET)).await,
        Verification::Valid
    );

    let requests = server.received_requests().await.unwrap();
    let auth = |r: &Request| {
        r.headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let iam = auth(&requests[0]);
    assert!(
        iam.starts_with(&format!("AWS4-HMAC-SHA256 Credential={MGMT_ID}/")),
        "{iam}"
    );
    // IAM is global: signed for us-east-1 whatever `params.region` says (issue 15).
    assert!(
        iam.contains(
            "/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
        ),
        "{iam}"
    );
    let body = String::from_utf8_lossy(&requests[0].body).to_string();
    assert_eq!(
        body,
        "Action=ListAccessKeys&UserName=bob&Version=2010-05-08"
    );
    let sts = auth(&requests[1]);
    assert!(
        sts.starts_with("AWS4-HMAC-SHA256 Credential=AKIATHEKEY0000000001/"),
        "{sts}"
    );
    assert!(sts.contains("/eu-west-1/sts/aws4_request"), "{sts}");
    assert_eq!(
        String::from_utf8_lossy(&requests[1].body),
        "Action=GetCallerIdentity&Version=2011-06-15"
    );
    for r in &requests {
        let all = format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body));
        assert!(
            !all.contains(MGMT_SECRET) && !all.contains(NEW_SECRET),
            "a secret went on the wire"
        );
    }
}

#[tokio::test]
async fn missing_inventory_fields_are_config_errors() {
    let p = AwsIam::new(&aws_common::http());
    let mut t = target("http://127.0.0.1:9", &mgmt(), "bob", None);
    let err = p.inspect(&t).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.to_string().contains("remote_id"), "{err}");
    t.credential.params.clear();
    let err = p.create(&t).await.unwrap_err();
    assert!(
        err.kind == ErrorKind::Config && err.to_string().contains("params.user"),
        "{err}"
    );
    let v = p.verify(&t, None, &Secret::new(NEW_SECRET)).await;
    assert!(matches!(v, Verification::CannotCheck { .. }), "{v:?}");
    let mut plain = target("http://iam.example.com", &mgmt(), "bob", None);
    let err = p.list(&plain).await.unwrap_err();
    assert!(
        err.kind == ErrorKind::Config && err.to_string().contains("only loopback"),
        "{err}"
    );
    plain
        .connection
        .as_mut()
        .unwrap()
        .auth
        .remove("secret_access_key");
    plain.connection.as_mut().unwrap().endpoint = None;
    let err = p.list(&plain).await.unwrap_err();
    assert!(err.to_string().contains("auth.secret_access_key"), "{err}");
}

#[tokio::test]
async fn aws_create_answer_naming_a_key_but_unreadable_left_the_key_behind() {
    let server = MockServer::start().await;
    Mock::given(action("ListAccessKeys"))
        .respond_with(list_of(&[]))
        .mount(&server)
        .await;
    let bad_date = created().replace("2026-11-26T06:29:45.713529Z", "yesterday");
    Mock::given(action("CreateAccessKey"))
        .respond_with(xml(&bad_date))
        .mount(&server)
        .await;
    Mock::given(action("DeleteAccessKey"))
        .and(body_string_contains("AccessKeyId=AKIANEWKEY0000000001"))
        .respond_with(xml("<DeleteAccessKeyResponse></DeleteAccessKeyResponse>"))
        .expect(1)
        .mount(&server)
        .await;
    let p = AwsIam::new(&aws_common::http());
    let err = p
        .create(&target(&server.uri(), &mgmt(), "bob", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResponse, "{err}");
    assert!(
        err.to_string()
            .contains("named the new key AKIANEWKEY0000000001, now deleted again"),
        "{err}"
    );
    assert_eq!(count(&server, "DeleteAccessKey").await, 1);
    assert_clean(&err);
}

// ---- Issue 15: signing regions and partitions --------------------------------------------

const CALLER: &str = "<GetCallerIdentityResponse><GetCallerIdentityResult>\
    <Arn>arn:aws:iam::123456789012:user/bob</Arn><UserId>AIDA1</UserId>\
    <Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";

/// An IAM stand-in accepting signatures for `iam_region` and an STS stand-in accepting
/// them for `sts_region`, with a target for user bob whose connection points at both.
async fn region_checked(
    iam_region: &'static str,
    sts_region: &'static str,
    params: &[(&str, &str)],
) -> (MockServer, MockServer, keyward::providers::Target) {
    let iam = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(aws_common::RegionCheckedEndpoint {
            region: iam_region,
            service: "iam",
            body: list_xml(&[]),
        })
        .mount(&iam)
        .await;
    let sts = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(aws_common::RegionCheckedEndpoint {
            region: sts_region,
            service: "sts",
            body: CALLER.to_string(),
        })
        .mount(&sts)
        .await;
    let mut t = target(&iam.uri(), &mgmt(), "bob", Some("AKIATHEKEY0000000001"));
    let conn = t.connection.as_mut().unwrap();
    conn.params.insert("sts_endpoint".into(), sts.uri());
    for (k, v) in params {
        conn.params.insert(k.to_string(), v.to_string());
    }
    (iam, sts, t)
}

/// Before: with `params.region` set to a home region, IAM calls were signed for it and the
/// global IAM endpoint refused them (`SignatureDoesNotMatch`): "management credentials
/// refused" on every call.
#[tokio::test]
async fn aws_iam_signed_with_the_home_region_was_refused_by_the_global_endpoint() {
    let (_iam, sts, t) = region_checked("us-east-1", "eu-west-1", &[("region", "eu-west-1")]).await;
    let p = AwsIam::new(&aws_common::http());
    let listed = p.list(&t).await;
    assert!(listed.is_ok(), "{:?}", listed.err());
    assert_eq!(
        p.verify(&t, None, &Secret::new(NEW_SECRET)).await,
        Verification::Valid
    );
    assert_eq!(
        sts.received_requests().await.unwrap().len(),
        1,
        "STS at its own endpoint"
    );
}

#[tokio::test]
async fn aws_china_and_govcloud_sign_iam_for_their_partition_region() {
    let p = AwsIam::new(&aws_common::http());
    for (params, iam_region, sts_region) in [
        (
            vec![("region", "cn-northwest-1")],
            "cn-north-1",
            "cn-northwest-1",
        ),
        (vec![("partition", "aws-cn")], "cn-north-1", "cn-north-1"),
        (
            vec![("region", "us-gov-east-1")],
            "us-gov-west-1",
            "us-gov-east-1",
        ),
        (
            vec![("partition", "aws-us-gov")],
            "us-gov-west-1",
            "us-gov-west-1",
        ),
    ] {
        let (_iam, _sts, t) = region_checked(iam_region, sts_region, &params).await;
        let listed = p.list(&t).await;
        assert!(listed.is_ok(), "{params:?}: {:?}", listed.err());
        assert_eq!(
            p.verify(&t, None, &Secret::new(NEW_SECRET)).await,
            Verification::Valid,
            "{params:?}"
        );
    }
    // The stand-in does refuse a wrong region: the check above can fail.
    let (_iam, _sts, t) = region_checked("cn-north-1", "cn-north-1", &[]).await;
    let e = p.list(&t).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(
        e.to_string().contains("SignatureDoesNotMatch") || e.to_string().contains("scoped"),
        "{e}"
    );
    assert_clean(&e);
}

#[tokio::test]
async fn aws_partition_and_endpoints_follow_the_documented_table() {
    use keyward::providers::aws::Partition;
    assert_eq!(Partition::Aws.iam_endpoint(), "https://iam.amazonaws.com");
    assert_eq!(
        Partition::AwsCn.iam_endpoint(),
        "https://iam.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        Partition::AwsUsGov.iam_endpoint(),
        "https://iam.us-gov.amazonaws.com"
    );
    assert_eq!(
        Partition::AwsCn.sts_endpoint("cn-northwest-1"),
        "https://sts.cn-northwest-1.amazonaws.com.cn"
    );
    assert_eq!(
        Partition::Aws.sts_endpoint("eu-west-1"),
        "https://sts.eu-west-1.amazonaws.com"
    );
    let mut t = target("http://127.0.0.1:9", &mgmt(), "bob", None);
    let conn = t.connection.as_mut().unwrap();
    conn.params.insert("partition".into(), "aws-cn".into());
    conn.params.insert("region".into(), "eu-west-1".into());
    let e = Partition::of(&t).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    t.connection
        .as_mut()
        .unwrap()
        .params
        .insert("partition".into(), "aws-mars".into());
    assert_eq!(Partition::of(&t).unwrap_err().kind, ErrorKind::Config);
}
