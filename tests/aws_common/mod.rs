//! Shared by the AWS integration tests: signed raw IAM calls for setting users up against
//! moto (`support::peers::Peer::moto`), and targets built the way the inventory maps them.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use keyward::inventory::{Connection, Credential, ProviderKind};
use keyward::providers::aws::sigv4::{self, Credentials, Scope};
use keyward::providers::http::Http;
use keyward::providers::Target;
use keyward::secret::Secret;

/// The management key used while moto accepts any signature.
pub const MGMT_ID: &str = "AKIAMANAGEMENT000001";
/// Its secret; asserted absent from every error text.
pub const MGMT_SECRET: &str = "mgmtSECRETnotToBeSeen/0123456789abcdefXYZ";

/// A client with test-sized retries and timeouts.
pub fn http() -> Http {
    crate::support::http::fast_http(Duration::from_millis(800), 3)
}

/// The management key pair.
pub fn mgmt() -> Credentials {
    Credentials {
        access_key_id: MGMT_ID.to_string(),
        secret_access_key: Secret::new(MGMT_SECRET),
    }
}

/// A connection to `url` managed with `creds`.
pub fn connection(url: &str, creds: &Credentials) -> Connection {
    Connection {
        id: "aws".to_string(),
        provider: ProviderKind::AwsIam,
        endpoint: Some(url.to_string()),
        auth: BTreeMap::from([
            (
                "access_key_id".to_string(),
                Secret::new(creds.access_key_id.clone()),
            ),
            (
                "secret_access_key".to_string(),
                creds.secret_access_key.clone(),
            ),
        ]),
        params: BTreeMap::new(),
    }
}

/// A credential of IAM user `user`.
pub fn credential(id: &str, user: &str, remote_id: Option<&str>) -> Credential {
    let mut c = Credential::new(id, ProviderKind::AwsIam);
    c.connection = Some("aws".to_string());
    c.remote_id = remote_id.map(str::to_string);
    c.params.insert("user".to_string(), user.to_string());
    c
}

/// A target for IAM user `user`'s key `remote_id` at `url`.
pub fn target(url: &str, creds: &Credentials, user: &str, remote_id: Option<&str>) -> Target {
    Target {
        at: format!("acme/{user}").parse().unwrap(),
        credential: credential(user, user, remote_id),
        connection: Some(connection(url, creds)),
    }
}

/// A signed IAM (or STS) Query call made directly, for setting up users and policies.
pub async fn raw(
    http: &Http,
    url: &str,
    creds: &Credentials,
    service: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let url = url::Url::parse(url).unwrap();
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let ct = "application/x-www-form-urlencoded";
    let scope = Scope {
        region: "us-east-1",
        service,
    };
    let signed = sigv4::sign(
        creds,
        scope,
        "POST",
        &url,
        &[("content-type", ct)],
        body.as_bytes(),
        Utc::now(),
    );
    let response = http
        .api(ProviderKind::AwsIam)
        .client()
        .post(url)
        .header("content-type", ct)
        .header("x-amz-date", signed.amz_date)
        .header("authorization", signed.authorization)
        .body(body)
        .send()
        .await
        .expect("moto answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Creates IAM user `user` (signed with `creds`).
pub async fn create_user(http: &Http, url: &str, creds: &Credentials, user: &str) {
    let (status, body) = raw(
        http,
        url,
        creds,
        "iam",
        &[
            ("Action", "CreateUser"),
            ("UserName", user),
            ("Version", "2010-05-08"),
        ],
    )
    .await;
    assert_eq!(status, 200, "CreateUser {user}: {body}");
}

/// Makes IAM user `admin` with an allow-all policy and a real access key, using three calls
/// signed with the unchecked management key (start moto with `Peer::moto_with_auth(3)` or
/// more, so every later signature is checked). Returns the admin's credentials.
pub async fn make_admin(http: &Http, url: &str) -> Credentials {
    create_user(http, url, &mgmt(), "admin").await;
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let put = [
        ("Action", "PutUserPolicy"),
        ("UserName", "admin"),
        ("PolicyName", "all"),
        ("PolicyDocument", policy),
        ("Version", "2010-05-08"),
    ];
    let (status, body) = raw(http, url, &mgmt(), "iam", &put).await;
    assert_eq!(status, 200, "PutUserPolicy: {body}");
    let create = [
        ("Action", "CreateAccessKey"),
        ("UserName", "admin"),
        ("Version", "2010-05-08"),
    ];
    let (status, body) = raw(http, url, &mgmt(), "iam", &create).await;
    assert_eq!(status, 200, "CreateAccessKey: {body}");
    Credentials {
        access_key_id: between(&body, "AccessKeyId").to_string(),
        secret_access_key: Secret::new(between(&body, "SecretAccessKey")),
    }
}

/// The text between `<tag>` and `</tag>`.
pub fn between<'a>(text: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = text.find(&open).expect(tag) + open.len();
    let end = text[start..].find(&format!("</{tag}>")).expect(tag) + start;
    &text[start..end]
}
