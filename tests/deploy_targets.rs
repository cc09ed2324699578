//! Issue 12, item 1: deploy targets. A rotation (through the real binary) delivers the new
//! secret to each target in order and runs the deploy check before the old key is revoked;
//! `keyward deploy` delivers the current one again. Against real peers where they exist: a
//! real `sshd` started here on 127.0.0.1 with throwaway keys, moto_server for SSM and
//! Secrets Manager; wiremock fakes, built from the platforms' documented fields, for the
//! GitHub, GitLab, Vercel and Netlify REST APIs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use keyward::inventory::{
    Connection, Credential, Deploy, DeployCheck, Deploys, Inventory, ProviderKind,
};
use keyward::secret::Secret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support;
use support::leak::assert_no_secret;
use support::sandbox_inventory::{at, load, works, write_edited};
use support::workspace::Workspace;

const CRED: &str = "acme/k0";

/// The credential's secret as the file now holds it.
fn current_secret(ws: &Workspace) -> String {
    let inv = load(ws);
    let c = inv.credential(&at(CRED)).expect("credential");
    c.secret
        .as_ref()
        .expect("a secret")
        .expose_secret()
        .to_string()
}

/// Runs keyward and returns (status code, stdout + stderr), asserting no secret of the
/// inventory (old or new, the API tokens included) is in its output.
fn run(ws: &Workspace, args: &[&str], secrets: &[String]) -> (Option<i32>, String) {
    let out = ws.run(args, "");
    let mut all = out.stdout.clone();
    all.extend_from_slice(&out.stderr);
    let mut scan: Vec<String> = secrets.to_vec();
    scan.push(current_secret(ws));
    if let Some(new) = load(ws)
        .credential(&at(CRED))
        .and_then(|c| c.rotation.as_ref())
        .and_then(|j| j.new_secret.as_ref())
    {
        scan.push(new.expose_secret().to_string());
    }
    assert_no_secret(&all, &format!("keyward {args:?}"), &scan);
    (
        out.status.code(),
        String::from_utf8_lossy(&all).into_owned(),
    )
}

/// A credential holding an API token for a REST target (a platform token is a credential
/// like any other: keyward tracks it too).
fn token_credential(inv: &mut Inventory, id: &str, value: &str) {
    let mut c = Credential::new(id, ProviderKind::Manual);
    c.secret = Some(Secret::new(value));
    inv.insert("agency", c);
}

fn set_deploy(inv: &mut Inventory, targets: Vec<Deploy>, check: Option<DeployCheck>) {
    let c = inv.credential_mut(&at(CRED)).expect("credential");
    c.deploy = Deploys(targets);
    c.deploy_check = check;
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

// ---- env-file and the check ----

#[test]
fn env_file_gets_the_new_secret_atomically_keeping_every_other_line() {
    let ws = Workspace::new();
    let env = ws.path("app.env");
    std::fs::write(
        &env,
        "# the CRM bot\nexport CRM_URL=https://crm.example\nCRM_KEY=old\nDEBUG=0\n",
    )
    .unwrap();
    write_edited(&ws, 1, |inv| {
        set_deploy(
            inv,
            vec![Deploy::EnvFile {
                path: env.display().to_string(),
                name: "CRM_KEY".into(),
            }],
            None,
        )
    });
    let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &[]);
    assert_eq!(code, Some(0), "{said}");
    let new = current_secret(&ws);
    let text = std::fs::read_to_string(&env).unwrap();
    assert_eq!(
        text,
        format!("# the CRM bot\nexport CRM_URL=https://crm.example\nCRM_KEY={new}\nDEBUG=0\n")
    );
    assert_eq!(mode(&env), 0o600);
    // No temporary file left beside it.
    let left: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("app.env."))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // `keyward deploy` delivers the current secret again, audited as `deployed`.
    std::fs::write(&env, "CRM_KEY=tampered\nOTHER=1\n").unwrap();
    let (code, said) = run(&ws, &["deploy", CRED, "--json"], &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("keyward.deploy/1"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("CRM_KEY={new}\nOTHER=1\n")
    );
    assert!(
        ws.audit_entries()
            .iter()
            .any(|e| e["action"] == "deployed" && e["credential"] == CRED),
        "{:?}",
        ws.audit_entries()
    );
}

#[test]
fn a_failing_check_stops_before_revocation_and_resume_after_the_fix_completes() {
    let ws = Workspace::new();
    let env = ws.path("app.env");
    let healthy = ws.path("healthy");
    let inv = write_edited(&ws, 1, |inv| {
        set_deploy(
            inv,
            vec![Deploy::EnvFile {
                path: env.display().to_string(),
                name: "CRM_KEY".into(),
            }],
            Some(DeployCheck::Run(format!("test -f '{}'", healthy.display()))),
        )
    });
    let old_id = inv
        .credential(&at(CRED))
        .unwrap()
        .remote_id
        .clone()
        .unwrap();
    let old_secret = inv.credential(&at(CRED)).unwrap().secret.clone().unwrap();
    let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("deploy check failed"), "{said}");
    let now = load(&ws);
    let j = now
        .credential(&at(CRED))
        .unwrap()
        .rotation
        .clone()
        .expect("journaled");
    assert_eq!(j.step.as_str(), "deploy");
    assert!(j.deploy_check.as_ref().is_some_and(|c| !c.ok), "{j:?}");
    assert!(
        j.deployed.iter().all(|d| d.ok) && j.deployed.len() == 1,
        "{j:?}"
    );
    // The old key was not touched.
    assert!(works(&ws, &now, &at(CRED), &old_id, &old_secret));

    std::fs::write(&healthy, "").unwrap();
    let (code, said) = run(&ws, &["resume", CRED, "--yes"], &[]);
    assert_eq!(code, Some(0), "{said}");
    let done = load(&ws);
    let c = done.credential(&at(CRED)).unwrap();
    assert!(c.rotation.is_none());
    assert_ne!(c.remote_id.as_deref(), Some(old_id.as_str()));
    let new = c.secret.as_ref().unwrap().expose_secret().to_string();
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("CRM_KEY={new}\n")
    );
}

#[test]
fn the_plan_lists_every_target_and_the_check() {
    let ws = Workspace::new();
    write_edited(&ws, 1, |inv| {
        set_deploy(
            inv,
            vec![
                Deploy::EnvFile {
                    path: "/srv/app/.env".into(),
                    name: "CRM_KEY".into(),
                },
                Deploy::Ssh {
                    host: "deploy@app1".into(),
                    path: "/srv/app/.env".into(),
                    name: "CRM_KEY".into(),
                    port: None,
                    ssh_config: None,
                    reload: Some("systemctl reload app".into()),
                },
            ],
            Some(DeployCheck::Url("https://app1.example/health".into())),
        )
    });
    let (code, said) = run(&ws, &["rotate", CRED, "--dry-run", "--json"], &[]);
    assert_eq!(code, Some(0), "{said}");
    let json_start = said.find('{').unwrap();
    let v: serde_json::Value = serde_json::Deserializer::from_str(&said[json_start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let deploys = &v["plan"][0]["deploys"];
    assert_eq!(
        deploys,
        &serde_json::json!([
            "env-file: CRM_KEY in /srv/app/.env",
            "ssh: CRM_KEY in deploy@app1:/srv/app/.env",
            "check: GET https://app1.example/health answers 2xx"
        ]),
        "{v}"
    );
    let (_, text) = run(&ws, &["rotate", CRED, "--dry-run"], &[]);
    assert!(
        text.contains("deploys to ssh: CRM_KEY in deploy@app1:/srv/app/.env"),
        "{text}"
    );
}

// ---- ssh against a real sshd ----

/// An `sshd` on 127.0.0.1 with a throwaway host key, accepting one throwaway user key for
/// the current user; killed on drop.
struct Sshd {
    child: Child,
    /// An `ssh -F` file reaching it as host `target`.
    config: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client; scripts/test-setup.sh installs it)");
    assert!(ok.success());
}

fn start_sshd(dir: &Path) -> Sshd {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd missing: run `bash scripts/test-setup.sh` (installs openssh-server)");
    let dir = dir.join("sshd");
    std::fs::create_dir_all(&dir).unwrap();
    keygen(&dir.join("host"));
    keygen(&dir.join("user"));
    std::fs::copy(dir.join("user.pub"), dir.join("authorized_keys")).unwrap();
    // sshd refuses to start as root without its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let conf = dir.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let host_pub = std::fs::read_to_string(dir.join("host.pub")).unwrap();
    std::fs::write(
        dir.join("known_hosts"),
        format!("[127.0.0.1]:{port} {}", host_pub.trim()),
    )
    .unwrap();
    let config = dir.join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host target\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/user\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Sshd { child, config }
}

/// Samples every process's arguments until stopped; the texts seen containing any needle.
fn watch_argv(needles: Vec<String>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                if let Ok(argv) = std::fs::read(entry.path().join("cmdline")) {
                    let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
                    if needles.iter().any(|n| argv.contains(n.as_str())) {
                        seen.push(argv);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        seen
    })
}

#[test]
fn ssh_sets_the_remote_env_file_atomically_runs_the_reload_and_never_puts_the_secret_in_argv() {
    let ws = Workspace::new();
    let sshd = start_sshd(ws.dir.path());
    let remote = ws.path("remote.env");
    let reloaded = ws.path("reloaded");
    std::fs::write(&remote, "A=1\nCRM_KEY=old\n# keep me\n").unwrap();
    write_edited(&ws, 1, |inv| {
        set_deploy(
            inv,
            vec![Deploy::Ssh {
                host: "target".into(),
                path: remote.display().to_string(),
                name: "CRM_KEY".into(),
                port: None,
                ssh_config: Some(sshd.config.display().to_string()),
                // Slow enough for the argv sampler to see every process of the delivery.
                reload: Some(format!(
                    "sleep 0.3; echo reloaded > '{}'",
                    reloaded.display()
                )),
            }],
            None,
        )
    });
    // The sandbox's secrets all start so; any argv holding one is a leak.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = watch_argv(vec!["sbxsk_".into()], Arc::clone(&stop));
    let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &[]);
    stop.store(true, Ordering::Relaxed);
    let leaks = sampler.join().unwrap();
    assert_eq!(code, Some(0), "{said}");
    assert!(
        leaks.is_empty(),
        "a secret in some process's arguments: {leaks:?}"
    );
    let new = current_secret(&ws);
    assert_eq!(
        std::fs::read_to_string(&remote).unwrap(),
        format!("A=1\nCRM_KEY={new}\n# keep me\n")
    );
    assert_eq!(mode(&remote), 0o600);
    assert_eq!(std::fs::read_to_string(&reloaded).unwrap(), "reloaded\n");
    let left: Vec<_> = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".keyward-deploy")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

// ---- AWS against moto ----

/// Signs and sends one JSON 1.1 call to moto; the decoded answer.
fn moto_call(
    moto: &support::peers::Peer,
    service: &str,
    target: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    use keyward::providers::aws::sigv4::{sign, Credentials, Scope};
    let url = url::Url::parse(&format!("{}/", moto.base_url)).unwrap();
    let bytes = serde_json::to_vec(&body).unwrap();
    let creds = Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    };
    let ct = "application/x-amz-json-1.1";
    let signed = sign(
        &creds,
        Scope {
            region: "us-east-1",
            service,
        },
        "POST",
        &url,
        &[("content-type", ct), ("x-amz-target", target)],
        &bytes,
        chrono::Utc::now(),
    );
    keyward::providers::http::install_crypto_provider();
    support::sandbox_inventory::block(async {
        let r = reqwest::Client::new()
            .post(url.clone())
            .header("content-type", ct)
            .header("x-amz-target", target)
            .header("x-amz-date", signed.amz_date)
            .header("authorization", signed.authorization)
            .body(bytes)
            .send()
            .await
            .expect("moto answers");
        assert!(r.status().is_success(), "{target}: {}", r.status());
        r.json::<serde_json::Value>().await.expect("json")
    })
}

#[test]
fn aws_ssm_and_secrets_manager_hold_the_inventorys_value_after_deploy_and_rotation() {
    let moto = support::peers::Peer::moto();
    let ws = Workspace::new();
    write_edited(&ws, 1, |inv| {
        inv.connections.push(Connection {
            id: "aws".into(),
            provider: ProviderKind::AwsIam,
            endpoint: Some(moto.base_url.clone()),
            auth: [
                (
                    "access_key_id".to_string(),
                    Secret::new("AKIAIOSFODNN7EXAMPLE"),
                ),
                (
                    "secret_access_key".to_string(),
                    Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                ),
            ]
            .into_iter()
            .collect(),
            params: [("region".to_string(), "us-east-1".to_string())]
                .into_iter()
                .collect(),
        });
        set_deploy(
            inv,
            vec![
                Deploy::AwsSsm {
                    connection: "aws".into(),
                    parameter: "/acme/prod/CRM_KEY".into(),
                    region: None,
                    kms_key_id: None,
                },
                Deploy::AwsSecretsManager {
                    connection: "aws".into(),
                    secret_id: "acme/crm-key".into(),
                    region: None,
                },
            ],
            None,
        )
    });
    let read_back = || {
        let p = moto_call(
            &moto,
            "ssm",
            "AmazonSSM.GetParameter",
            serde_json::json!({"Name": "/acme/prod/CRM_KEY", "WithDecryption": true}),
        );
        let s = moto_call(
            &moto,
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            serde_json::json!({"SecretId": "acme/crm-key"}),
        );
        assert_eq!(p["Parameter"]["Type"], "SecureString");
        (
            p["Parameter"]["Value"].as_str().unwrap().to_string(),
            s["SecretString"].as_str().unwrap().to_string(),
        )
    };
    // First delivery: the parameter and the secret do not exist yet.
    let (code, said) = run(&ws, &["deploy", CRED], &[]);
    assert_eq!(code, Some(0), "{said}");
    let first = current_secret(&ws);
    assert_eq!(read_back(), (first.clone(), first.clone()));
    // A rotation overwrites the parameter and makes a new secret version.
    let (code, said) = run(
        &ws,
        &["rotate", CRED, "--yes"],
        std::slice::from_ref(&first),
    );
    assert_eq!(code, Some(0), "{said}");
    let new = current_secret(&ws);
    assert_ne!(new, first);
    assert_eq!(read_back(), (new.clone(), new));
}

// ---- REST platforms against wiremock fakes ----

/// A runtime that keeps wiremock servers serving while the binary runs.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

const GH_TOKEN: &str = "ghp_fakeTokenForDeployTests0123456789";

fn github_target(api: &str) -> Deploy {
    Deploy::GithubActions {
        token: "agency/github".into(),
        repository: Some("acme/bot".into()),
        environment: None,
        organization: None,
        name: "CRM_KEY".into(),
        visibility: None,
        api: Some(api.into()),
    }
}

/// The GitHub REST endpoints for a repository secret
/// (docs.github.com/en/rest/actions/secrets#get-a-repository-public-key and
/// #create-or-update-a-repository-secret): GET answers `{key_id, key}` with the base64
/// public key; PUT takes `{encrypted_value, key_id}` and answers 201 (created).
async fn github_fake(
    server: &MockServer,
    public: &crypto_box::PublicKey,
    put_status: ResponseTemplate,
) {
    let b64 = base64::engine::general_purpose::STANDARD;
    Mock::given(method("GET"))
        .and(path("/repos/acme/bot/actions/secrets/public-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "key_id": "012345678912345678",
            "key": b64.encode(public.as_bytes()),
        })))
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/repos/acme/bot/actions/secrets/CRM_KEY"))
        .respond_with(put_status)
        .mount(server)
        .await;
}

/// The value GitHub received: the sealed box of the last PUT, opened with the private key.
async fn github_received(server: &MockServer, secret: &crypto_box::SecretKey) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let put = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|r| r.method.as_str() == "PUT")?;
    assert_eq!(
        put.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Bearer {GH_TOKEN}")
    );
    let body: serde_json::Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(body["key_id"], "012345678912345678");
    let sealed = b64
        .decode(body["encrypted_value"].as_str().unwrap())
        .unwrap();
    let open = secret
        .unseal(&sealed)
        .expect("a sealed box to the key handed out");
    Some(String::from_utf8(open).unwrap())
}

#[test]
fn github_actions_gets_a_sealed_box_the_repository_key_opens() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    let sk = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    rt.block_on(github_fake(
        &server,
        &sk.public_key(),
        ResponseTemplate::new(201),
    ));
    let ws = Workspace::new();
    write_edited(&ws, 1, |inv| {
        token_credential(inv, "github", GH_TOKEN);
        set_deploy(inv, vec![github_target(&server.uri())], None);
    });
    let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &[GH_TOKEN.into()]);
    assert_eq!(code, Some(0), "{said}");
    let got = rt.block_on(github_received(&server, &sk));
    assert_eq!(got.as_deref(), Some(current_secret(&ws).as_str()));
}

#[test]
fn github_faults_each_end_journaled_resumable_and_without_a_secret() {
    let sk = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    let faults = [
        (
            "401",
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        ),
        (
            "404",
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        ),
        (
            "429",
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(serde_json::json!({"message": "API rate limit exceeded"})),
        ),
        ("500", ResponseTemplate::new(500).set_body_string("oops")),
    ];
    for (name, fault) in faults {
        let rt = runtime();
        let server = rt.block_on(MockServer::start());
        rt.block_on(github_fake(&server, &sk.public_key(), fault));
        let ws = Workspace::new();
        write_edited(&ws, 1, |inv| {
            token_credential(inv, "github", GH_TOKEN);
            set_deploy(inv, vec![github_target(&server.uri())], None);
        });
        let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &[GH_TOKEN.into()]);
        assert_eq!(code, Some(1), "{name}: {said}");
        assert!(said.contains("github-actions"), "{name}: {said}");
        let inv = load(&ws);
        let j = inv
            .credential(&at(CRED))
            .unwrap()
            .rotation
            .clone()
            .expect("journaled");
        assert_eq!(j.step.as_str(), "deploy", "{name}");
        let rec = j
            .deployed
            .first()
            .expect("the target's outcome is journaled");
        assert!(!rec.ok, "{name}");
        let new = j.new_secret.as_ref().unwrap().expose_secret().to_string();
        let journal_text = format!("{:?} {:?} {}", j.last_error, rec, said);
        assert_no_secret(
            journal_text.as_bytes(),
            name,
            &[new.clone(), GH_TOKEN.into()],
        );

        // Fixed: the resumed rotation delivers and finishes.
        rt.block_on(server.reset());
        rt.block_on(github_fake(
            &server,
            &sk.public_key(),
            ResponseTemplate::new(204),
        ));
        let (code, said) = run(&ws, &["resume", CRED, "--yes"], &[GH_TOKEN.into()]);
        assert_eq!(code, Some(0), "{name}: {said}");
        assert!(load(&ws).credential(&at(CRED)).unwrap().rotation.is_none());
        let got = rt.block_on(github_received(&server, &sk));
        assert_eq!(got.as_deref(), Some(new.as_str()), "{name}");
    }
}

#[test]
fn gitlab_vercel_and_netlify_get_the_value_in_their_documented_fields() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        // docs.gitlab.com/ee/api/project_level_variables.html: PUT updates a variable (404
        // when it does not exist), POST /projects/:id/variables creates it.
        Mock::given(method("PUT"))
            .and(path("/gitlab/projects/acme%2Fbot/variables/CRM_KEY"))
            .respond_with(
                ResponseTemplate::new(404)
                    .set_body_json(serde_json::json!({"message": "404 Variable Not Found"})),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/gitlab/projects/acme%2Fbot/variables"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"key": "CRM_KEY"})),
            )
            .mount(&server)
            .await;
        // vercel.com/docs/rest-api: POST /v10/projects/{idOrName}/env?upsert=true.
        Mock::given(method("POST"))
            .and(path("/vercel/v10/projects/acme-web/env"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"created": {}})),
            )
            .mount(&server)
            .await;
        // open-api.netlify.com: PATCH /accounts/{account_id}/env/{key} (setEnvVarValue).
        Mock::given(method("PATCH"))
            .and(path("/netlify/accounts/acme-team/env/CRM_KEY"))
            .respond_with(
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"context": "all"})),
            )
            .mount(&server)
            .await;
    });
    let ws = Workspace::new();
    let api = |p: &str| Some(format!("{}/{p}", server.uri()));
    write_edited(&ws, 1, |inv| {
        token_credential(inv, "gitlab", "glpat-fakeTokenForTests01");
        token_credential(inv, "vercel", "vercelFakeTokenForTests0123");
        token_credential(inv, "netlify", "nfpFakeTokenForTests012345");
        set_deploy(
            inv,
            vec![
                Deploy::GitlabCi {
                    token: "agency/gitlab".into(),
                    project: Some("acme/bot".into()),
                    group: None,
                    key: "CRM_KEY".into(),
                    masked: true,
                    protected: true,
                    environment_scope: None,
                    api: api("gitlab"),
                },
                Deploy::VercelEnv {
                    token: "agency/vercel".into(),
                    project: "acme-web".into(),
                    key: "CRM_KEY".into(),
                    targets: vec!["production".into()],
                    team_id: Some("team_1".into()),
                    api: api("vercel"),
                },
                Deploy::NetlifyEnv {
                    token: "agency/netlify".into(),
                    account: "acme-team".into(),
                    site: "site-1".into(),
                    key: "CRM_KEY".into(),
                    context: None,
                    api: api("netlify"),
                },
            ],
            None,
        );
    });
    let tokens = vec![
        "glpat-fakeTokenForTests01".to_string(),
        "vercelFakeTokenForTests0123".into(),
        "nfpFakeTokenForTests012345".into(),
    ];
    let (code, said) = run(&ws, &["rotate", CRED, "--yes"], &tokens);
    assert_eq!(code, Some(0), "{said}");
    let new = current_secret(&ws);
    let got = rt.block_on(server.received_requests()).unwrap();
    let body = |m: &str, p: &str| -> (serde_json::Value, wiremock::Request) {
        let r = got
            .iter()
            .find(|r| r.method.as_str() == m && r.url.path() == p)
            .unwrap_or_else(|| panic!("no {m} {p}"))
            .clone();
        (serde_json::from_slice(&r.body).unwrap(), r)
    };
    let (gl, r) = body("POST", "/gitlab/projects/acme%2Fbot/variables");
    assert_eq!(
        r.headers.get("private-token").unwrap(),
        "glpat-fakeTokenForTests01"
    );
    assert_eq!(gl["key"], "CRM_KEY");
    assert_eq!(gl["value"], new.as_str());
    assert_eq!(
        (gl["masked"].clone(), gl["protected"].clone()),
        (true.into(), true.into())
    );
    let (vc, r) = body("POST", "/vercel/v10/projects/acme-web/env");
    assert_eq!(r.url.query(), Some("upsert=true&teamId=team_1"));
    assert_eq!(vc["value"], new.as_str());
    assert_eq!(vc["target"], serde_json::json!(["production"]));
    assert_eq!(vc["type"], "encrypted");
    let (nf, r) = body("PATCH", "/netlify/accounts/acme-team/env/CRM_KEY");
    assert_eq!(r.url.query(), Some("site_id=site-1"));
    assert_eq!(nf, serde_json::json!({"context": "all", "value": new}));
}

// ---- a crash in the middle of the list ----

#[test]
fn killed_during_the_second_target_resume_skips_the_first_and_reruns_the_second_only_if_a_person_says(
) {
    let ws = Workspace::new();
    let env = ws.path("app.env");
    let runs = ws.path("runs");
    let started = ws.path("started");
    let gate = ws.path("gate");
    write_edited(&ws, 1, |inv| {
        set_deploy(
            inv,
            vec![
                Deploy::EnvFile {
                    path: env.display().to_string(),
                    name: "CRM_KEY".into(),
                },
                // Not idempotent: counts its runs; the first one hangs until killed.
                Deploy::Command {
                    run: format!(
                        "cat > /dev/null; echo run >> '{r}'; touch '{s}'; while [ ! -e '{g}' ]; do sleep 0.05; done",
                        r = runs.display(),
                        s = started.display(),
                        g = gate.display()
                    ),
                    idempotent: false,
                },
            ],
            None,
        )
    });
    support::crash::rotate_and_kill_once(&ws, CRED, || started.exists());
    let inv = load(&ws);
    let j = inv
        .credential(&at(CRED))
        .unwrap()
        .rotation
        .clone()
        .expect("journaled");
    assert_eq!(j.deploy_started_target, Some(1), "{j:?}");
    assert!(
        j.deployed.iter().any(|d| d.target == Some(0) && d.ok),
        "{j:?}"
    );
    // A rewrite renames a new file over it: a new inode.
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let env_before = inode(&env);

    // `--yes` does not answer for a command not marked idempotent: it waits for a person,
    // and the env file is not written again.
    std::fs::write(&gate, "").unwrap();
    let (code, said) = run(&ws, &["resume", CRED, "--yes"], &[]);
    assert_eq!(code, Some(4), "{said}");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n");
    assert_eq!(inode(&env), env_before, "the env file was written again");
    assert!(load(&ws).credential(&at(CRED)).unwrap().rotation.is_some());
}

// ---- the demo ----

#[test]
fn the_demo_rotation_of_sms_alerts_delivers_to_an_env_file_beside_the_demo() {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    let demo = |args: &[&str]| {
        ws.keyward()
            .env("KEYWARD_INVENTORY", kept.join("demo.yaml.age"))
            .env("KEYWARD_IDENTITY", kept.join("demo-identity.txt"))
            .args(args)
            .output()
            .unwrap()
    };
    let plan = demo(&["rotate", "acme/sms-alerts", "--dry-run"]);
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.contains("deploys to env-file: SMS_ALERTS_KEY in"),
        "{plan}"
    );
    let out = demo(&["rotate", "acme/sms-alerts", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = keyward::store::Keyring::load(&[kept.join("demo-identity.txt")]).unwrap();
    let (_, inv) = keyward::store::Store::open(&kept.join("demo.yaml.age"), &keys).unwrap();
    let secret = inv
        .credential(&at("acme/sms-alerts"))
        .and_then(|c| c.secret.as_ref())
        .unwrap()
        .expose_secret()
        .to_string();
    let env = kept.canonicalize().unwrap().join("acme-app.env");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("SMS_ALERTS_KEY={secret}\n")
    );
    assert_eq!(mode(&env), 0o600);
    let mut printed = out.stdout.clone();
    printed.extend_from_slice(&out.stderr);
    assert_no_secret(&printed, "the demo rotation", &[secret]);
}
