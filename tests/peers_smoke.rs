//! Tests the test infrastructure itself: every peer starts, answers one real request, and
//! (for Prism) rejects a malformed one. If this file fails, fix the machine with
//! `scripts/test-setup.sh` before looking at any other test failure.

use crate::support;

use std::process::Command;

use support::peers::{
    http_request, shared_prism, HttpResponse, Peer, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
};

/// An `Authorization` header that is SigV4-shaped but unsigned: enough for moto without auth,
/// which only reads the credential scope to route the request to IAM.
const FAKE_SIGV4: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/iam/aws4_request, \
                          SignedHeaders=host, Signature=0";
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn get(peer: &Peer, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_request("GET", &format!("{}{path}", peer.base_url), headers, b"")
}

fn send(
    peer: &Peer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    http_request(
        method,
        &format!("{}{path}", peer.base_url),
        headers,
        body.as_bytes(),
    )
}

fn assert_status(
    resp: &HttpResponse,
    range: std::ops::RangeInclusive<u16>,
    what: &str,
    peer: &Peer,
) {
    assert!(
        range.contains(&resp.status),
        "{what}: expected status in {range:?}, got {} {}\nsl-violations: {:?}\n--- {} log ---\n{}",
        resp.status,
        resp.text(),
        resp.header("sl-violations"),
        peer.name,
        peer.log_tail()
    );
}

/// A Prism rejection must be a validation error, not a routing 404 or a crash. Prism puts the
/// reasons in an `sl-violations` header when it answers with the spec's own error response,
/// and in the body's `validation` array when it makes up a 422 problem+json itself.
fn assert_rejected(resp: &HttpResponse, what: &str, peer: &Peer) {
    assert_status(resp, 400..=422, what, peer); // 400/422 validation, 401 security
    let explained =
        resp.header("sl-violations").is_some() || resp.text().contains("\"validation\":[");
    assert!(
        explained,
        "{what}: {} without validation details: {}",
        resp.status,
        resp.text()
    );
}

#[test]
fn moto_answers_iam_list_users() {
    let moto = Peer::moto();
    let config = get(&moto, "/moto-api/config", &[]);
    assert_status(&config, 200..=299, "moto-api config", &moto); // moto answers it with 201
    let resp = send(
        &moto,
        "POST",
        "/",
        &[FORM, ("Authorization", FAKE_SIGV4)],
        "Action=ListUsers&Version=2010-05-08",
    );
    assert_status(&resp, 200..=200, "IAM ListUsers", &moto);
    assert!(
        resp.text().contains("<ListUsersResponse"),
        "{}",
        resp.text()
    );
}

/// Signs an IAM Query call with curl's built-in SigV4 (POST form: moto rejects SigV4-signed
/// GET query strings even when they are correct). Returns (HTTP status, body).
fn iam_call(moto: &Peer, key: &str, secret: &str, form: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "--aws-sigv4",
            "aws:amz:us-east-1:iam",
            "--user",
        ])
        .arg(format!("{key}:{secret}"))
        .args([
            "-d",
            &format!("{form}&Version=2010-05-08"),
            &format!("{}/", moto.base_url),
        ])
        .output()
        .expect("curl is needed for this test: run scripts/test-setup.sh");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text
        .rsplit_once('\n')
        .expect("curl output ends with the status");
    (
        status.trim().parse().expect("status code"),
        body.to_string(),
    )
}

fn xml_field<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    &xml[start..start + xml[start..].find('<').expect("closing tag")]
}

#[test]
fn moto_with_auth_checks_sigv4() {
    let moto = Peer::moto_with_auth(3);
    // The three unauthenticated calls: an admin user, an allow-all policy, its access key.
    let boot = |form: &str| {
        let (status, body) = iam_call(&moto, "AKIDBOOTSTRAP", "bootstrap", form);
        assert_eq!(status, 200, "bootstrap {form}: {body}\n{}", moto.log_tail());
        body
    };
    boot("Action=CreateUser&UserName=admin");
    boot(
        "Action=PutUserPolicy&UserName=admin&PolicyName=all&PolicyDocument=\
         %7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
         %22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D",
    );
    let created = boot("Action=CreateAccessKey&UserName=admin");
    let key = xml_field(&created, "AccessKeyId");
    let secret = xml_field(&created, "SecretAccessKey");

    let (status, body) = iam_call(&moto, key, secret, "Action=ListUsers");
    assert_eq!(status, 200, "good signature rejected: {body}");
    let (status, body) = iam_call(&moto, key, "wrong-secret", "Action=ListUsers");
    assert_eq!(status, 403, "bad signature accepted: {body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    let (status, body) = iam_call(&moto, "AKIDBOOTSTRAP", "bootstrap", "Action=ListUsers");
    assert_eq!(
        status, 403,
        "unknown key accepted after the bootstrap allowance: {body}"
    );
    assert!(body.contains("InvalidClientTokenId"), "{body}");
}

#[test]
fn oidc_discovery_grant_and_rotation() {
    let oidc = Peer::oidc();
    let disco = get(&oidc, "/.well-known/openid-configuration", &[]);
    assert_status(&disco, 200..=200, "discovery", &oidc);
    let disco = disco.json();
    assert_eq!(disco["issuer"], oidc.base_url.as_str());
    for endpoint in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
    ] {
        assert!(
            disco[endpoint].is_string(),
            "discovery lacks {endpoint}: {disco}"
        );
    }

    let grant = oidc.oidc_test_grant(&[]);
    let old = grant["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let refresh = |token: &str| {
        let body = support::peers::form_encode(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", OIDC_CLIENT_ID),
            ("client_secret", OIDC_CLIENT_SECRET),
        ]);
        send(&oidc, "POST", "/token", &[FORM], &body)
    };
    let rotated = refresh(&old);
    assert_status(&rotated, 200..=200, "refresh", &oidc);
    assert_ne!(
        rotated.json()["refresh_token"].as_str(),
        Some(old.as_str()),
        "refresh token not rotated"
    );
    let replay = refresh(&old);
    assert_eq!(
        replay.status,
        400,
        "replayed refresh token: {}",
        replay.text()
    );
    assert_eq!(replay.json()["error"], "invalid_grant");
}

/// One valid and one malformed request per spec; each spec's peer is shared by its checks.
fn prism_check(
    spec: &str,
    valid: (&str, &str, &[(&str, &str)], &str),
    malformed: (&str, &str, &[(&str, &str)], &str),
) {
    let prism = shared_prism(spec);
    let (method, path, headers, body) = valid;
    let resp = send(prism, method, path, headers, body);
    assert_status(
        &resp,
        200..=299,
        &format!("{spec}: valid {method} {path}"),
        prism,
    );
    let (method, path, headers, body) = malformed;
    let resp = send(prism, method, path, headers, body);
    assert_rejected(&resp, &format!("{spec}: malformed {method} {path}"), prism);
}

const CF_AUTH: (&str, &str) = ("Authorization", "Bearer cf-test-token");
const SG_AUTH: (&str, &str) = ("Authorization", "Bearer SG.test-key");
const OAI_AUTH: (&str, &str) = ("Authorization", "Bearer sk-admin-test");
/// HTTP Basic for AC0123456789abcdef0123456789abcdef:authtoken.
const TW_AUTH: (&str, &str) = (
    "Authorization",
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjphdXRodG9rZW4=",
);
const TW_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

#[test]
fn prism_cloudflare() {
    prism_check(
        "cloudflare/openapi.trimmed.json",
        (
            "PUT",
            "/user/tokens/ed17574386854bf78a67040be0a770b0/value",
            &[CF_AUTH, JSON],
            "{}",
        ),
        ("GET", "/user/tokens?per_page=500", &[CF_AUTH], ""),
    );
    // A missing Authorization is a security violation: 401, not 2xx.
    let prism = shared_prism("cloudflare/openapi.trimmed.json");
    let resp = send(prism, "GET", "/user/tokens/verify", &[], "");
    assert_eq!(resp.status, 401, "{}", resp.text());
}

#[test]
fn prism_sendgrid_api_keys() {
    prism_check(
        "sendgrid/tsg_api_keys_v3.json",
        (
            "POST",
            "/v3/api_keys",
            &[SG_AUTH, JSON],
            r#"{"name":"keyward","scopes":["mail.send"]}"#,
        ),
        (
            "POST",
            "/v3/api_keys",
            &[SG_AUTH, JSON],
            r#"{"scopes":["mail.send"]}"#,
        ),
    );
}

#[test]
fn prism_sendgrid_scopes() {
    prism_check(
        "sendgrid/tsg_scopes_v3.json",
        ("GET", "/v3/scopes", &[SG_AUTH], ""),
        // The only thing to get wrong here is authentication: 401 from the spec.
        (
            "GET",
            "/v3/scopes",
            &[("Authorization", "Token not-bearer")],
            "",
        ),
    );
}

#[test]
fn prism_twilio_2010_keys() {
    let keys = format!("/2010-04-01/Accounts/{TW_ACCOUNT}/Keys.json");
    prism_check(
        "twilio/twilio_api_v2010.trimmed.json",
        ("POST", &keys, &[TW_AUTH, FORM], "FriendlyName=keyward"),
        ("GET", &format!("{keys}?PageSize=5000"), &[TW_AUTH], ""),
    );
}

#[test]
fn prism_twilio_iam_keys() {
    prism_check(
        "twilio/twilio_iam_v1.json",
        (
            "POST",
            "/v1/Keys",
            &[TW_AUTH, FORM],
            &format!("AccountSid={TW_ACCOUNT}&FriendlyName=keyward"),
        ),
        (
            "POST",
            "/v1/Keys",
            &[TW_AUTH, FORM],
            "FriendlyName=no-account-sid",
        ),
    );
}

#[test]
fn prism_openai_admin() {
    prism_check(
        "openai/openapi.trimmed.yaml",
        ("GET", "/organization/projects?limit=20", &[OAI_AUTH], ""),
        (
            "POST",
            "/organization/projects/proj_abc/service_accounts",
            &[OAI_AUTH, JSON],
            "{}",
        ),
    );
}
