//! Real local peers for integration tests: moto (AWS IAM/STS), an OpenID Connect provider
//! (`tests/peers/oidc-server.mjs`) and Prism mock servers for the provider OpenAPI specs in
//! `tests/specs/`. Every peer listens on 127.0.0.1 only.
//!
//! A peer that cannot start makes the test PANIC (never skip) with a message naming the peer,
//! pointing at `scripts/test-setup.sh` and quoting the tail of the peer's log.
//!
//! Process hygiene: each peer runs in its own process group behind a tiny `sh` watchdog that
//! holds the read end of a pipe whose write end only this test process has. When the [`Peer`]
//! is dropped, or the test binary exits in any way (even SIGKILL, or a `static` peer whose
//! `Drop` never runs), the kernel closes the write end, the watchdog reads EOF and kills the
//! whole group. No polling, no `prctl`.
//!
//! See `tests/peers/README.md` for what each peer accepts (credentials, example requests).
#![allow(dead_code)] // every test binary uses a different subset of this module

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `client_id` of the confidential client that `tests/peers/oidc-server.mjs` registers.
pub const OIDC_CLIENT_ID: &str = "keyward-test";
/// `client_secret` of [`OIDC_CLIENT_ID`] (basic or post client authentication both work).
pub const OIDC_CLIENT_SECRET: &str = "keyward-test-secret";

/// How long Prism may take to load a spec and listen (it needs ~1-2 s alone, far more on a
/// busy 2-core CI machine while cargo is still linking other test binaries).
const PRISM_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long moto and the OIDC provider may take to listen (~0.5 s each when idle).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts when the chosen free port was taken by someone else before the peer bound it.
const PORT_ATTEMPTS: usize = 3;
/// Lines of the peer log quoted in a panic message.
const LOG_TAIL_LINES: usize = 40;

/// Runs the peer (`"$@"`) in place of this shell, with a background watchdog that kills the
/// whole process group (the peer, its children, the watchdog) once stdin reaches EOF, i.e.
/// once the test process closes or loses the pipe. fd 3 is needed because a background job in
/// a non-interactive sh gets /dev/null as stdin unless it redirects explicitly.
const WATCHDOG: &str = "exec 3<&0 </dev/null\n\
                        (read -r _ <&3; kill -TERM 0) &\n\
                        exec 3<&- \"$@\"";

/// A running peer process, killed (with its whole process group) when dropped.
pub struct Peer {
    /// `http://127.0.0.1:PORT`, no trailing slash. For Prism this is the base URL of the
    /// spec's paths: Prism ignores the spec's server path prefix (`/client/v4`, `/v1`).
    pub base_url: String,
    /// The TCP port the peer listens on.
    pub port: u16,
    /// Short human name used in messages, e.g. `prism tests/specs/openai/openapi.trimmed.yaml`.
    pub name: String,
    /// Where the peer's stdout and stderr go; quoted in panics. Deleted on drop unless a test
    /// is panicking or the peer failed to start.
    pub log_path: PathBuf,
    child: Child,
    /// Set when startup failed, so the log named in the panic message survives Drop.
    keep_log: bool,
}

/// How to start one kind of peer and decide that it is ready.
struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// GET this path once the port accepts connections...
    ready_path: &'static str,
    /// ...and call the peer ready when the answer's status line + body contains this. It must
    /// be specific to the peer so that a stranger on a recycled port is not mistaken for it.
    ready_marker: String,
    timeout: Duration,
}

impl Peer {
    /// moto_server (AWS mock) with authentication OFF: any credentials are accepted. Requests
    /// still need a SigV4-shaped `Authorization` header (any signature): moto picks the AWS
    /// service from its credential scope (an unsigned IAM query answers 500).
    pub fn moto() -> Peer {
        Self::start_moto(None)
    }

    /// moto_server with IAM authentication ON after the first `n` requests: those `n` are let
    /// through unchecked so a test can bootstrap (e.g. n = 3: CreateUser, PutUserPolicy with
    /// `Action: "*"`, CreateAccessKey), after which every request needs a valid SigV4
    /// signature from an existing, not deleted access key and an allowing IAM policy.
    /// Sets `INITIAL_NO_AUTH_ACTION_COUNT=n` for the server; readiness probes are not counted.
    /// Sign POST form bodies: moto rejects correctly signed GET query strings.
    pub fn moto_with_auth(n: u32) -> Peer {
        Self::start_moto(Some(n))
    }

    fn start_moto(auth_after: Option<u32>) -> Peer {
        // Always set: an inherited value must not switch authentication on for `moto()`.
        let count = auth_after.map_or("inf".to_string(), |n| n.to_string());
        let envs = vec![("INITIAL_NO_AUTH_ACTION_COUNT".to_string(), count)];
        Self::start(Spec {
            name: "moto_server".to_string(),
            program: PathBuf::from("moto_server"),
            args: vec![
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                "{port}".into(),
            ],
            envs,
            ready_path: "/moto-api/config",
            ready_marker: "\"use_docker\"".to_string(),
            timeout: START_TIMEOUT,
        })
    }

    /// The OpenID Connect provider of `tests/peers/oidc-server.mjs` (oidc-provider 8.x):
    /// discovery, rotating refresh tokens with replay detection, revocation, introspection,
    /// client credentials, device flow, plus test-only `POST /test/grant` and
    /// `POST /test/device/approve`. Client: [`OIDC_CLIENT_ID`] / [`OIDC_CLIENT_SECRET`].
    pub fn oidc() -> Peer {
        let root = repo_root();
        require_node_modules(&root, "oidc-provider");
        Self::start(Spec {
            name: "oidc-provider (tests/peers/oidc-server.mjs)".to_string(),
            program: PathBuf::from("node"),
            args: vec![
                root.join("tests/peers/oidc-server.mjs")
                    .display()
                    .to_string(),
                "{port}".into(),
            ],
            envs: vec![],
            ready_path: "/.well-known/openid-configuration",
            ready_marker: "\"issuer\":\"http://127.0.0.1:{port}\"".to_string(),
            timeout: START_TIMEOUT,
        })
    }

    /// A Prism mock server for `tests/specs/<spec>` (e.g. `"sendgrid/tsg_scopes_v3.json"`), with
    /// request validation on (Prism's default in mock mode): an invalid request gets 422 (or
    /// the spec's own 400/422 response), a missing or wrong-scheme `Authorization` gets 401.
    /// The reason is in the `sl-violations` response header. Prefer [`shared_prism`] when
    /// several tests in one binary use the same spec: each start costs 1-3 s of CPU.
    pub fn prism(spec: &str) -> Peer {
        Self::prism_with(spec, &[])
    }

    /// Like [`Peer::prism`] with extra `prism mock` flags, e.g. `&["--dynamic"]` for
    /// schema-generated responses or `&["--errors"]` to turn responses that violate the spec
    /// into 500s. Per-request overrides need no restart: `Prefer: code=404`,
    /// `Prefer: example=<name>`, `Prefer: dynamic=true`.
    pub fn prism_with(spec: &str, extra_args: &[&str]) -> Peer {
        let root = repo_root();
        require_node_modules(&root, ".bin/prism");
        let spec_path = root.join("tests/specs").join(spec);
        assert!(
            spec_path.is_file(),
            "prism: spec file {} does not exist (specs live in tests/specs/)",
            spec_path.display()
        );
        let mut args: Vec<String> = ["mock", "-h", "127.0.0.1", "-p", "{port}"]
            .map(String::from)
            .to_vec();
        args.extend(extra_args.iter().map(|a| a.to_string()));
        args.push(spec_path.display().to_string());
        Self::start(Spec {
            name: format!("prism tests/specs/{spec}"),
            program: root.join("tests/peers/node_modules/.bin/prism"),
            args,
            envs: vec![],
            // Not a route of any spec: Prism answers its own 404 problem+json, which is cheap
            // and proves that Prism (not some other server) holds the port.
            ready_path: "/__keyward_ready__",
            ready_marker: "stoplight.io/prism".to_string(),
            timeout: PRISM_START_TIMEOUT,
        })
    }

    /// POSTs to the OIDC peer's test-only `/test/grant` and returns its JSON:
    /// `{access_token, refresh_token, token_type, expires_in, scope}` for scope
    /// `openid offline_access`. `form` may add `scope`, `expires_in` (access token TTL, s) or
    /// `refresh_expires_in`. Panics unless the answer is 200.
    pub fn oidc_test_grant(&self, form: &[(&str, &str)]) -> serde_json::Value {
        let body = form_encode(form);
        let resp = http_request(
            "POST",
            &format!("{}/test/grant", self.base_url),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "{}: /test/grant failed: {}",
            self.name,
            resp.text()
        );
        resp.json()
    }

    /// Approves a pending device code on the OIDC peer by its `user_code`, as a user typing it
    /// into the verification page and consenting would. Panics unless the answer is 200.
    pub fn oidc_approve_device(&self, user_code: &str) {
        let body = form_encode(&[("user_code", user_code)]);
        let resp = http_request(
            "POST",
            &format!("{}/test/device/approve", self.base_url),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        );
        assert_eq!(
            resp.status,
            200,
            "{}: /test/device/approve failed: {}",
            self.name,
            resp.text()
        );
    }

    /// The last lines of this peer's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log_path, LOG_TAIL_LINES)
    }

    /// Starts `spec`, retrying with a new port if another process grabbed the port between
    /// our probe and the peer's bind (possible when tests start peers in parallel).
    fn start(spec: Spec) -> Peer {
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::try_start(&spec) {
                Ok(peer) => return peer,
                Err(Failure::PortTaken(msg)) => last_failure = msg,
                Err(Failure::Fatal(msg)) => panic!("{msg}"),
            }
        }
        panic!("{last_failure}")
    }

    fn try_start(spec: &Spec) -> Result<Peer, Failure> {
        let port = free_port();
        let subst = |s: &str| s.replace("{port}", &port.to_string());
        let log_path = std::env::temp_dir().join(format!(
            "keyward-peer-{}-{}-{port}.log",
            sanitize(&spec.name),
            std::process::id()
        ));
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create peer log {}: {e}", log_path.display()));
        let log_err = log.try_clone().expect("clone peer log handle");

        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG)
            .arg("keyward-peer") // $0 of the watchdog shell
            .arg(&spec.program)
            .args(spec.args.iter().map(|a| subst(a)))
            .envs(spec.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(repo_root())
            .stdin(Stdio::piped()) // the watchdog's lifeline; we never write to it
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0); // so that Drop (and the watchdog) can kill every descendant
        let child = cmd
            .spawn()
            .map_err(|e| Failure::Fatal(format!("{}: cannot spawn sh: {e}", spec.name)))?;

        let mut peer = Peer {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            name: spec.name.clone(),
            log_path,
            child,
            keep_log: false,
        };
        let marker = subst(&spec.ready_marker);
        let deadline = Instant::now() + spec.timeout;
        loop {
            if let Some(status) = peer.child.try_wait().ok().flatten() {
                let log = peer.log_tail();
                let msg = peer.missing_message(&format!("exited during startup ({status})"), &log);
                peer.keep_log = true;
                drop(peer); // kills the now orphaned watchdog too
                let port_taken = ["EADDRINUSE", "already in use", "is in use"]
                    .iter()
                    .any(|m| log.contains(m));
                return Err(if port_taken {
                    Failure::PortTaken(msg)
                } else {
                    Failure::Fatal(msg)
                });
            }
            if probe(port, spec.ready_path, &marker) {
                return Ok(peer);
            }
            if Instant::now() >= deadline {
                let msg = peer.missing_message(
                    &format!(
                        "did not answer GET {} within {:?}",
                        spec.ready_path, spec.timeout
                    ),
                    &peer.log_tail(),
                );
                peer.keep_log = true;
                return Err(Failure::Fatal(msg));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn missing_message(&self, what: &str, log: &str) -> String {
        format!(
            "test peer `{}` is missing or broken: it {what}.\n\
             Run `scripts/test-setup.sh` to install the test peers (tests never skip a missing peer).\n\
             --- last lines of {} ---\n{log}",
            self.name,
            self.log_path.display()
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The child is the group leader (process_group(0)), so its pid is the group id.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut exited = false;
        while !exited && Instant::now() < deadline {
            exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if !exited {
                sleep(Duration::from_millis(20));
            }
        }
        if !exited {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status();
            let _ = self.child.wait();
        }
        // Keep the log only when it may explain a failure.
        if !self.keep_log && !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log_path);
        }
    }
}

enum Failure {
    /// The peer could not bind its port: worth another attempt on a fresh port.
    PortTaken(String),
    /// Anything else: report at once.
    Fatal(String),
}

/// One Prism per spec per test binary, started on first use and shared by all tests in it.
/// Never dropped: the watchdog (see module docs) kills it when the test binary exits.
/// Tests must not depend on state in it (Prism is stateless anyway).
pub fn shared_prism(spec: &str) -> &'static Peer {
    /// One start-once cell per spec path.
    type Cells = HashMap<String, Arc<OnceLock<&'static Peer>>>;
    static PEERS: OnceLock<Mutex<Cells>> = OnceLock::new();
    let cell = {
        let mut map = PEERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(spec.to_string()).or_default())
    };
    // Outside the map lock, so different specs start in parallel; same-spec callers wait.
    cell.get_or_init(|| Box::leak(Box::new(Peer::prism(spec))))
}

/// A minimal HTTP response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Header (lower-cased name, value) pairs in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }
}

/// Sends one HTTP/1.1 request to a plain-`http://` URL on this machine and reads the whole
/// response (`Connection: close`). Dependency-free on purpose, for peer checks and test
/// set-up calls; the code under test uses its own client. Panics on I/O errors.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set read timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .and_then(|_| stream.write_all(body))
        .expect("send request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("read response from {url}: {e}"));
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "malformed HTTP response from {url}: {}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_field = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_field.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// True once `GET path` on the port answers with `marker` somewhere in the response.
fn probe(port: u16, path: &str, marker: &str) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(250)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
        .is_some_and(|r| r.status < 500 && String::from_utf8_lossy(&raw).contains(marker))
}

/// A port that was free a moment ago: bind port 0, read it, release it.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// The crate root: peers start there so relative paths in specs and scripts resolve.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails fast (instead of after a timeout) when `npm ci` has not been run.
fn require_node_modules(root: &Path, entry: &str) {
    let path = root.join("tests/peers/node_modules").join(entry);
    assert!(
        path.exists(),
        "test peer dependency {} is missing.\n\
         Run `scripts/test-setup.sh` to install the test peers (tests never skip a missing peer).",
        path.display()
    );
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read log: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .chars()
        .take(60)
        .collect()
}
