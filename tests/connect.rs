//! `keyward connect`: the real binary runs the device flow against the real OpenID Connect
//! peer (approve, deny, Ctrl-C, reconnect) and against wiremock where the peer cannot do it
//! (a code that expires, a grant arriving after someone else changed the inventory). The
//! refresh token must land only in the encrypted file and work there.

use crate::support;

use std::io::{BufRead, BufReader, Lines, Read};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;

use keyward::inventory::{CredentialRef, ProviderKind};
use keyward::providers::http::{Http, HttpConfig};
use keyward::providers::oauth2::{fingerprint, OAuth2};
use keyward::providers::{Provider, Target, Verification};
use keyward::secret::Secret;
use keyward::store::{Keyring, Store};
use serde_json::{json, Value};
use support::peers::{form_encode, http_request, Peer, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET};
use support::workspace::{assert_one_line_error, hash, Workspace};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(Peer::oidc)
}

/// A workspace whose inventory has the oauth2 connection `idp` to `endpoint`.
fn workspace(endpoint: &str) -> Workspace {
    let ws = Workspace::new();
    ws.init();
    let yaml = format!(
        "connections:\n  - id: idp\n    provider: oauth2\n    endpoint: {endpoint}\n    auth:\n      \
         client_id: {OIDC_CLIENT_ID}\n      client_secret: {OIDC_CLIENT_SECRET}\n  - id: lab\n    \
         provider: gitlab\n    endpoint: https://gitlab.example.com\n"
    );
    ws.ok(&["import", "-", "--format", "yaml"], &yaml);
    ws
}

/// A running `keyward connect`, its stdout read line by line; killed if the test panics.
struct Connecting {
    child: Option<Child>,
    lines: Lines<BufReader<ChildStdout>>,
    stdout: String,
}

impl Connecting {
    fn start(ws: &Workspace, args: &[&str]) -> Connecting {
        let mut child = ws
            .keyward()
            .arg("connect")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn keyward connect");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Connecting {
            child: Some(child),
            lines,
            stdout: String::new(),
        }
    }

    fn next_line(&mut self) -> String {
        let Some(line) = self.lines.next() else {
            let mut stderr = String::new();
            if let Some(child) = self.child.as_mut() {
                let _ = child.wait();
                let _ = child
                    .stderr
                    .take()
                    .map(|mut e| e.read_to_string(&mut stderr));
            }
            panic!(
                "stdout ended early; so far: {}\nstderr: {stderr}",
                self.stdout
            );
        };
        let line = line.expect("read stdout");
        self.stdout.push_str(&line);
        self.stdout.push('\n');
        line
    }

    /// The user code from the text prompt: the line after "enter the code:".
    fn user_code(&mut self) -> String {
        while !self.next_line().contains("enter the code:") {}
        loop {
            let line = self.next_line();
            if !line.trim().is_empty() {
                return line.trim().to_string();
            }
        }
    }

    /// Reads the prompt's rest up to "Waiting for approval", so the flow is polling.
    fn until_waiting(&mut self) {
        while !self.next_line().starts_with("The code expires in") {}
    }

    /// The next stdout line as JSON.
    fn json_line(&mut self) -> Value {
        let line = self.next_line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits for the exit; the output's stdout is everything printed.
    fn finish(mut self) -> Output {
        for line in self.lines.by_ref() {
            self.stdout.push_str(&line.expect("read stdout"));
            self.stdout.push('\n');
        }
        let mut child = self.child.take().expect("running");
        let mut stderr = Vec::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_end(&mut stderr)
            .expect("read stderr");
        let status = child.wait().expect("wait");
        Output {
            status,
            stdout: std::mem::take(&mut self.stdout).into_bytes(),
            stderr,
        }
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn deny(user_code: &str) {
    let resp = http_request(
        "POST",
        &format!("{}/test/device/deny", peer().base_url),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form_encode(&[("user_code", user_code)]).as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
}

/// The stored refresh token, read through the library with the workspace's identity.
fn stored_token(ws: &Workspace, at: &str) -> (Secret, keyward::inventory::Inventory) {
    let keys = Keyring::load(&[ws.default_identity()]).expect("identity");
    let (_, inv) = Store::open(&ws.inventory(), &keys).expect("open inventory");
    let at: CredentialRef = at.parse().expect("address");
    let secret = inv
        .credential(&at)
        .and_then(|c| c.secret.clone())
        .expect("a stored secret");
    (secret, inv)
}

async fn verify(inv: &keyward::inventory::Inventory, at: &str, token: &Secret) -> Verification {
    let at: CredentialRef = at.parse().expect("address");
    let credential = inv.credential(&at).expect("credential").clone();
    let connection = inv.connection("idp").cloned();
    let target = Target {
        at,
        credential,
        connection,
    };
    OAuth2::new(&Http::new(HttpConfig::default()))
        .verify(&target, None, token)
        .await
}

fn show_json(ws: &Workspace, at: &str) -> Value {
    serde_json::from_str(&ws.ok(&["show", at, "--json"], "")).expect("show --json")
}

#[tokio::test]
async fn connect_stores_a_working_refresh_token_that_is_never_printed() {
    let ws = workspace(&peer().base_url);
    let mut run = Connecting::start(
        &ws,
        &[
            "acme/crm",
            "--connection",
            "idp",
            "--scope",
            "openid",
            "--scope",
            "offline_access",
        ],
    );
    let code = run.user_code();
    run.until_waiting();
    assert!(
        run.stdout.contains(&format!("{}/device", peer().base_url)),
        "the prompt names the verification page: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("user_code="),
        "and the link that carries the code: {}",
        run.stdout
    );
    peer().oidc_approve_device(&code);
    let out = run.finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {stderr}\nstdout: {stdout}"
    );
    assert!(stdout.contains("Connected acme/crm"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");

    let shown = show_json(&ws, "acme/crm");
    assert_eq!(shown["has_secret"], true, "{shown}");
    assert_eq!(shown["provider"], "oauth2");
    assert_eq!(shown["connection"], "idp");
    assert_eq!(shown["scopes"], json!(["openid", "offline_access"]));
    assert_eq!(shown["history"][0]["event"], "connected");
    // Regression: `connect` stored a refresh token without an audit entry.
    let log: serde_json::Value = serde_json::from_str(&ws.ok(&["audit", "--json"], "")).unwrap();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "connected" && e["credential"] == "acme/crm"),
        "{log}"
    );

    let (token, inv) = stored_token(&ws, "acme/crm");
    let cred = inv
        .credential(&"acme/crm".parse().unwrap())
        .expect("credential");
    assert_eq!(cred.provider, ProviderKind::Oauth2);
    assert_eq!(
        cred.remote_id.as_deref(),
        Some(fingerprint(&token).as_str())
    );
    assert!(stdout.contains(&fingerprint(&token)), "{stdout}");
    for printed in [&stdout, &stderr, &shown.to_string()] {
        assert!(
            !printed.contains(token.expose_secret()),
            "the token leaked: {printed}"
        );
    }
    assert_eq!(verify(&inv, "acme/crm", &token).await, Verification::Valid);
}

#[tokio::test]
async fn json_lines_and_a_reconnect_replaces_the_token() {
    let ws = workspace(&peer().base_url);
    let args = [
        "acme/bot",
        "--connection",
        "idp",
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--json",
    ];
    let mut connected = Vec::new();
    for round in 0..2 {
        let mut run = Connecting::start(&ws, &args);
        let prompt = run.json_line();
        assert_eq!(prompt["event"], "prompt", "{prompt}");
        assert_eq!(prompt["credential"], "acme/bot");
        assert!(
            prompt["expires_in"].as_u64().is_some_and(|s| s > 0),
            "{prompt}"
        );
        assert!(prompt["verification_uri_complete"].is_string(), "{prompt}");
        peer().oidc_approve_device(prompt["user_code"].as_str().expect("user_code"));
        let out = run.finish();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let result: Value = serde_json::from_str(stdout.lines().nth(1).expect("a result line"))
            .expect("JSON result");
        assert_eq!(stdout.lines().count(), 2, "{stdout}");
        assert_eq!(result["event"], "connected", "{result}");
        let (token, inv) = stored_token(&ws, "acme/bot");
        assert_eq!(result["remote_id"], fingerprint(&token));
        assert!(!stdout.contains(token.expose_secret()), "{stdout}");
        if round == 0 {
            assert_eq!(result["replaced"], Value::Null);
        } else {
            assert_eq!(result["replaced"], fingerprint(&connected[0]), "{result}");
            assert_eq!(verify(&inv, "acme/bot", &token).await, Verification::Valid);
        }
        connected.push(token);
    }
    assert_ne!(connected[0], connected[1]);
    let shown = show_json(&ws, "acme/bot");
    let events: Vec<&str> = shown["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(events, ["connected", "connected"], "{shown}");
    assert!(
        shown["history"][1]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&fingerprint(&connected[0]))),
        "{shown}"
    );
}

#[test]
fn a_declined_request_exits_7_and_stores_nothing() {
    let ws = workspace(&peer().base_url);
    let before = hash(&ws.inventory());
    let mut run = Connecting::start(&ws, &["acme/crm", "--connection", "idp"]);
    let code = run.user_code();
    deny(&code);
    let out = run.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("declined"), "{stderr}");
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn ctrl_c_while_waiting_cancels_cleanly() {
    let ws = workspace(&peer().base_url);
    let before = hash(&ws.inventory());
    let mut run = Connecting::start(&ws, &["acme/crm", "--connection", "idp"]);
    run.until_waiting();
    let sent = Command::new("kill")
        .args(["-INT", &run.pid().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = run.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cancelled; nothing was stored"), "{stderr}");
    assert_eq!(hash(&ws.inventory()), before);
}

#[test]
fn an_unknown_or_foreign_connection_is_refused_before_any_prompt() {
    let ws = workspace(&peer().base_url);
    let before = hash(&ws.inventory());
    let out = ws.run(&["connect", "acme/crm", "--connection", "nope"], "");
    let stderr = assert_one_line_error(&out, "no connection `nope`");
    assert!(stderr.contains("oauth2 connections: idp"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let out = ws.run(&["connect", "acme/crm", "--connection", "lab"], "");
    assert_one_line_error(&out, "connection `lab` is for gitlab, not oauth2");
    assert!(out.stdout.is_empty());
    // An address taken by another provider is refused up front too.
    ws.ok(
        &["add", "acme/mail", "--provider", "manual", "--no-secret"],
        "",
    );
    let before_add = hash(&ws.inventory());
    assert_ne!(before, before_add);
    let out = ws.run(&["connect", "acme/mail", "--connection", "idp"], "");
    assert_one_line_error(&out, "already exists as a manual credential");
    assert!(out.stdout.is_empty());
    assert_eq!(hash(&ws.inventory()), before_add);
}

#[test]
fn help_documents_the_exit_codes() {
    let ws = Workspace::new();
    let help = ws.ok(&["connect", "--help"], "");
    for code in [
        "0 connected",
        "1 error",
        "7 the request was declined",
        "8 the code expired",
    ] {
        assert!(help.contains(code), "{help}");
    }
}

// --- wiremock: what the real server cannot be made to do on demand ---

const DEVICE_CODE: &str = "dc-4f1a9e7c2b8d6a3e5f0c1b9d7e2a4c6f";
const REFRESH: &str = "rt-wiremock-8c3e1a5f7b9d2e4a6c8f0b1d3e5a7c9f";

/// A server with discovery and a device endpoint asking for polls every `interval` seconds.
async fn device_server(interval: u64) -> MockServer {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": base,
            "token_endpoint": format!("{base}/token"),
            "revocation_endpoint": format!("{base}/revoke"),
            "device_authorization_endpoint": format!("{base}/device"),
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": DEVICE_CODE,
            "user_code": "WDJB-MJHT",
            "verification_uri": format!("{base}/activate"),
            "expires_in": 600,
            "interval": interval,
        })))
        .mount(&server)
        .await;
    server
}

fn oauth_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({ "error": code }))
}

async fn requests_to(server: &MockServer, route: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn an_expired_code_exits_8_and_stores_nothing() {
    let server = device_server(0).await;
    Mock::given(path("/token"))
        .respond_with(oauth_error("expired_token"))
        .mount(&server)
        .await;
    let ws = workspace(&server.uri());
    let before = hash(&ws.inventory());
    let out = ws.run(
        &["connect", "acme/crm", "--connection", "idp", "--json"],
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");
    let stdout = text(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON");
    assert_eq!(last["event"], "expired", "{stdout}");
    assert_eq!(hash(&ws.inventory()), before);
    assert!(!stderr.contains(DEVICE_CODE) && !stdout.contains(DEVICE_CODE));
}

/// The lock is free while the person approves; if another writer took the address
/// meanwhile, the grant cannot be recorded, so keyward revokes it at the server.
#[tokio::test]
async fn a_grant_that_cannot_be_saved_is_revoked_at_the_server() {
    let server = device_server(1).await;
    Mock::given(path("/token"))
        .respond_with(oauth_error("authorization_pending"))
        .mount(&server)
        .await;
    Mock::given(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let ws = workspace(&server.uri());
    let mut run = Connecting::start(&ws, &["acme/crm", "--connection", "idp"]);
    run.until_waiting();
    // Another writer saves while connect waits: connect holds no lock.
    ws.ok(
        &["add", "acme/crm", "--provider", "manual", "--no-secret"],
        "",
    );
    let after_add = hash(&ws.inventory());
    // Now the person approves.
    Mock::given(path("/token"))
        .and(body_string_contains(DEVICE_CODE))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-wiremock-0123456789abcdef0123456789",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": REFRESH,
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let out = run.finish();
    let stderr = assert_one_line_error(&out, "already exists as a manual credential");
    assert!(
        stderr.contains("the new refresh token was revoked at the server"),
        "{stderr}"
    );
    // The stand-in has no introspection endpoint: RFC 7009's 200 is all there is.
    assert!(stderr.contains("as far as it says"), "{stderr}");
    let revoked = requests_to(&server, "/revoke").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert!(
        revoked[0].contains(&format!("token={REFRESH}")),
        "{revoked:?}"
    );
    assert_eq!(hash(&ws.inventory()), after_add);
    let everything = format!("{}{stderr}", text(&out.stdout));
    assert!(!everything.contains(REFRESH), "{everything}");
    assert_eq!(show_json(&ws, "acme/crm")["has_secret"], false);
}

#[tokio::test]
async fn an_approval_without_a_refresh_token_stores_nothing_and_says_why() {
    let server = device_server(0).await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-wiremock-fedcba9876543210fedcba98765",
            "token_type": "Bearer",
            "expires_in": 3600,
        })))
        .mount(&server)
        .await;
    let ws = workspace(&server.uri());
    let before = hash(&ws.inventory());
    let out = ws.run(&["connect", "acme/crm", "--connection", "idp"], "");
    assert_one_line_error(&out, "--scope offline_access");
    assert_eq!(hash(&ws.inventory()), before);
    assert!(!text(&out.stdout).contains("at-wiremock"));
}
