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

/// The region and service a SigV4 `Authorization` header's credential scope names
/// (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
pub fn signed_scope(req: &wiremock::Request) -> Option<(String, String)> {
    let auth = req.headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, "aws4_request"] => Some((region.to_string(), service.to_string())),
        _ => None,
    }
}

/// A stand-in for one AWS endpoint that checks what moto does not: the region a request is
/// signed for. moto recomputes a signature with whatever region the request's credential
/// scope names (moto/iam/access_control.py), so a request to the global IAM endpoint signed
/// for eu-west-1 passes there; AWS answers it with 403 `SignatureDoesNotMatch`
/// ("Credential should be scoped to a valid region", docs.aws.amazon.com/IAM/latest/
/// UserGuide/reference_sigv.html; IAM's endpoints and signing regions per partition:
/// docs.aws.amazon.com/general/latest/gr/iam-service.html). This models that check for an
/// endpoint that accepts `region` and `service` only, and otherwise answers `ok` with `body`.
pub struct RegionCheckedEndpoint {
    /// The only region this endpoint accepts signatures for.
    pub region: &'static str,
    /// The signing name of the service it serves (`iam`, `sts`).
    pub service: &'static str,
    /// The XML answer for a correctly signed request.
    pub body: String,
}

impl wiremock::Respond for RegionCheckedEndpoint {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        match signed_scope(req) {
            Some((region, service)) if region == self.region && service == self.service => {
                wiremock::ResponseTemplate::new(200)
                    .set_body_raw(self.body.as_bytes().to_vec(), "text/xml")
            }
            Some((region, _)) => aws_error(
                403,
                "SignatureDoesNotMatch",
                &format!("Credential should be scoped to a valid region, not '{region}'. "),
            ),
            None => aws_error(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ),
        }
    }
}

/// An AWS Query API error answer.
pub fn aws_error(status: u16, code: &str, message: &str) -> wiremock::ResponseTemplate {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
         </Error><RequestId>4b5c6d7e-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    wiremock::ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "text/xml")
}
