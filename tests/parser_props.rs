//! Property tests: whatever text or answer arrives, keyward's parsers return a value or an
//! error, never panic, and finish in bounded time. Covered: the inventory parser, the CSV
//! and YAML imports, and every provider's response parsing, driven through the providers'
//! own operations against a local server that answers with arbitrary bodies. Case counts
//! are modest so the suite stays fast on two cores.

use crate::saas_common;
use crate::support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyward::import::{parse as parse_import, Format};
use keyward::inventory::validate::parse as parse_inventory;
use keyward::inventory::{Connection, Credential, ProviderKind};
use keyward::providers::registry::provider_for;
use keyward::providers::{Provider, Target};
use keyward::secret::Secret;
use proptest::prelude::*;
use wiremock::matchers::any as any_request;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One parse of any input must finish within this.
const ONE_PARSE: Duration = Duration::from_secs(2);

/// Text made of YAML's structural characters and a few words, so cases reach past the
/// first syntax error into the schema.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("version: 1\n".to_string()),
        Just("clients:\n".to_string()),
        Just("  - id: acme\n".to_string()),
        Just("    integrations:\n".to_string()),
        Just("      - id: crm\n        provider: manual\n".to_string()),
        Just("connections: []\n".to_string()),
        Just("policy: {rotate_every_days: 30}\n".to_string()),
        Just("\u{feff}".to_string()),
        Just("&a [*a, *a]\n".to_string()),
        "[\\[\\]{}:,\\-'\"#&*!|> \n\ta-z0-9]{0,24}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

fn csvish() -> impl Strategy<Value = String> {
    let header = prop::sample::subsequence(
        vec![
            "client",
            "integration",
            "provider",
            "name",
            "expires_at",
            "rotate_every_days",
            "scopes",
            "secret",
            "used_by",
        ],
        0..9,
    )
    .prop_map(|h| h.join(","));
    let row = "[a-z0-9 ,;\"=\\-/\x1b\n]{0,60}";
    (header, prop::collection::vec(row, 0..6))
        .prop_map(|(h, rows)| format!("{h}\n{}", rows.join("\n")))
}

fn bounded<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    assert!(t.elapsed() < ONE_PARSE, "{what} took {:?}", t.elapsed());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn inventory_parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = bounded("inventory", || parse_inventory(&text));
    }

    #[test]
    fn inventory_parser_never_panics_on_yamlish_text(text in yamlish()) {
        let _ = bounded("inventory", || parse_inventory(&text));
    }

    #[test]
    fn yaml_import_never_panics(text in yamlish()) {
        let _ = bounded("yaml import", || parse_import("x.yaml", &text, Format::Yaml));
    }

    #[test]
    fn csv_import_never_panics(text in csvish()) {
        let _ = bounded("csv import", || parse_import("x.csv", &text, Format::Csv));
    }

    #[test]
    fn csv_import_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = bounded("csv import", || parse_import("x.csv", &text, Format::Csv));
    }
}

// ---------------------------------------------------------------------------------------
// Providers: a local server answers every request with the case's status and body.
// ---------------------------------------------------------------------------------------

/// JSON built from the field names the providers read, so cases reach their decoders.
fn json_answer() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec![
        "id",
        "name",
        "api_key",
        "api_key_id",
        "result",
        "success",
        "errors",
        "token",
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "scopes",
        "created_at",
        "expires_at",
        "sid",
        "secret",
        "data",
        "keys",
        "value",
        "active",
        "revoked",
        "status",
        "last_used_at",
        "has_more",
        "next_page_uri",
        "redacted_value",
        "api_key_value",
        "token_type",
        "error",
        "error_description",
        "object",
        "message",
        "policies",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        Just(serde_json::json!("2026-01-01T00:00:00Z")),
        Just(serde_json::json!("2026-01-01")),
        "[ -~]{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
    .prop_map(|v| serde_json::to_vec(&v).unwrap_or_default())
}

/// XML built from the element names of the IAM and STS answers.
fn xml_answer() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop::sample::select(vec![
        "CreateAccessKeyResponse",
        "CreateAccessKeyResult",
        "AccessKey",
        "AccessKeyId",
        "SecretAccessKey",
        "Status",
        "UserName",
        "CreateDate",
        "ListAccessKeysResponse",
        "ListAccessKeysResult",
        "AccessKeyMetadata",
        "member",
        "IsTruncated",
        "Marker",
        "ErrorResponse",
        "Error",
        "Code",
        "Message",
        "GetAccessKeyLastUsedResponse",
        "GetAccessKeyLastUsedResult",
        "AccessKeyLastUsed",
        "LastUsedDate",
        "GetCallerIdentityResponse",
        "GetCallerIdentityResult",
        "Arn",
        "Account",
        "UserId",
    ]);
    let text = prop_oneof![
        Just("AKIAABCDEFGHIJKLMNOP".to_string()),
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("Active".to_string()),
        Just("true".to_string()),
        "[ -~]{0,16}",
    ];
    text.prop_recursive(5, 40, 5, move |inner| {
        (tag.clone(), prop::collection::vec(inner, 0..4))
            .prop_map(|(t, kids)| format!("<{t}>{}</{t}>", kids.concat()))
    })
    .prop_map(String::into_bytes)
}

fn any_answer() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let status = prop::sample::select(vec![200u16, 200, 201, 204, 400, 404]);
    let body = prop_oneof![
        json_answer(),
        xml_answer(),
        prop::collection::vec(any::<u8>(), 0..200),
    ];
    (status, body)
}

type Answer = Arc<Mutex<(u16, Vec<u8>)>>;

async fn server(answer: Answer) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any_request())
        .respond_with(move |_: &Request| {
            let (status, body) = answer.lock().unwrap_or_else(|p| p.into_inner()).clone();
            ResponseTemplate::new(status)
                .set_body_raw(body, "application/json")
                .insert_header("content-type", "application/json")
        })
        .mount(&server)
        .await;
    server
}

fn conn(
    kind: ProviderKind,
    endpoint: &str,
    auth: &[(&str, &str)],
    params: &[(&str, &str)],
) -> Connection {
    Connection {
        id: format!("{kind}-conn"),
        provider: kind,
        endpoint: Some(endpoint.to_string()),
        auth: auth
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A target of each provider kind on `url`, holding a key with a secret.
fn targets(url: &str) -> Vec<Target> {
    let make = |kind: ProviderKind, c: Connection, params: &[(&str, &str)]| {
        let mut credential = Credential::new("k", kind);
        credential.connection = Some(c.id.clone());
        credential.remote_id = Some("key-1".into());
        credential.secret = Some(Secret::new("refresh-or-key-value-0123456789"));
        credential.params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        Target {
            at: "acme/k".parse().unwrap(),
            credential,
            connection: Some(c),
        }
    };
    vec![
        make(
            ProviderKind::AwsIam,
            conn(
                ProviderKind::AwsIam,
                url,
                &[
                    ("access_key_id", "AKIAMGMT"),
                    ("secret_access_key", "mgmt-secret"),
                ],
                &[],
            ),
            &[("user", "bot")],
        ),
        make(
            ProviderKind::Cloudflare,
            conn(
                ProviderKind::Cloudflare,
                url,
                &[("api_token", "cf-mgmt")],
                &[],
            ),
            &[],
        ),
        make(
            ProviderKind::Gitlab,
            conn(ProviderKind::Gitlab, url, &[("token", "gl-mgmt")], &[]),
            &[],
        ),
        make(
            ProviderKind::Oauth2,
            conn(
                ProviderKind::Oauth2,
                url,
                &[("client_id", "keyward"), ("client_secret", "cs")],
                &[],
            ),
            &[],
        ),
        saas_common::sendgrid(url, Some("key-1")),
        saas_common::twilio(url, Some("key-1")),
        saas_common::openai(url, "project-key", Some("key-1"), &[]),
        saas_common::openai(
            url,
            "service-account",
            Some("key-1"),
            &[("service_account_id", "sa-1")],
        ),
    ]
}

/// Runs one operation, failing the case if it does not finish in time.
async fn within<T>(what: &str, op: &str, f: impl std::future::Future<Output = T>) -> T {
    let limit = Duration::from_secs(10);
    match tokio::time::timeout(limit, f).await {
        Ok(out) => out,
        Err(_) => panic!("{what} {op} did not finish in {limit:?}"),
    }
}

/// Every operation that reads a provider's answer, each bounded in time. Whether each
/// returns a value or an error depends on the answer; only a panic or a hang fails.
async fn exercise(provider: &dyn Provider, target: &Target) {
    let secret = Secret::new("checked-key-value-0123456789");
    let what = target.credential.provider.to_string();
    let _ = within(&what, "inspect", provider.inspect(target)).await;
    let _ = within(&what, "list", provider.list(target)).await;
    let _ = within(&what, "create", provider.create(target)).await;
    let _ = within(&what, "roll", provider.roll(target)).await;
    let _ = within(
        &what,
        "verify",
        provider.verify(target, Some("key-1"), &secret),
    )
    .await;
    let _ = within(&what, "deactivate", provider.deactivate(target, "key-1")).await;
    let _ = within(&what, "delete", provider.delete(target, "key-1")).await;
}

#[test]
fn every_provider_survives_arbitrary_answers() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let answer: Answer = Arc::new(Mutex::new((200, Vec::new())));
    let server = runtime.block_on(server(answer.clone()));
    let http = support::http::fast_http(Duration::from_secs(5), 2);
    let targets = targets(&server.uri());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    runner
        .run(&any_answer(), |(status, body)| {
            *answer.lock().unwrap() = (status, body);
            for target in &targets {
                let provider =
                    provider_for(target.credential.provider, &http).expect("an API provider");
                runtime.block_on(exercise(provider.as_ref(), target));
            }
            Ok(())
        })
        .unwrap();
    // The answers reached the parsers: every target made requests in every case.
    let requests = runtime
        .block_on(server.received_requests())
        .unwrap_or_default();
    assert!(
        requests.len() >= 48 * targets.len() * 3,
        "only {} requests reached the server",
        requests.len()
    );
}
