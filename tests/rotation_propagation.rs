//! Issue 14: rotations against providers that accept a new key only after a while, and the
//! group-commit writer under kill -9.
//!
//! - An STS stand-in in front of moto_server (IAM authentication on) refuses every access
//!   key for its first seconds with AWS's `InvalidClientTokenId`, as real STS does while IAM
//!   propagates a fresh key (docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html,
//!   "Changes that I make are not always immediately visible"). It is a byte-for-byte proxy:
//!   every other request reaches moto as signed, and it records what passed in order, so the
//!   test can tell that the old key was deactivated only after STS accepted the new one.
//! - 200 sandbox rotations through the real binary, killed with SIGKILL at random points
//!   (after a random number of settled credentials) during the run and during the resume,
//!   then resumed: every secret works and the sandbox holds no key the inventory does not.

use crate::aws_common;
use crate::support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use aws_common::{create_user, make_admin};
use keyward::inventory::{Inventory, ProviderKind, RemoteStatus};
use keyward::ops::{Picked, RunConfig, Runner};
use keyward::providers::aws::AwsIam;
use keyward::providers::{Provider, SharedProvider, Target};
use keyward::rotation::{
    Engine, NonInteractive, Options, OutcomeKind, ProviderSet, RotationEvent, StepRetry,
};
use support::disk::MemoryDisk;
use support::peers::Peer;
use support::sandbox_inventory::{assert_no_secret, assert_settled, at, load, write};
use support::workspace::Workspace;

// ---------------------------------------------------------------------------------------
// The STS stand-in.

/// What passed through the stand-in, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// STS refused the key (not propagated yet).
    Refused { key: String },
    /// An STS call forwarded to moto, and moto's status.
    Sts { key: String, status: u16 },
    /// An IAM action forwarded to moto (e.g. `UpdateAccessKey`).
    Iam { action: String },
}

/// A proxy to moto that answers STS calls signed with an access key it first saw less than
/// `refuse_for` ago with 403 `InvalidClientTokenId`, as STS does for a key IAM has not
/// propagated yet.
struct StsStandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// One HTTP/1.1 message: its head and body, read whole (bodies carry Content-Length).
async fn read_message(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..head_end + length].to_vec()))
}

fn signing_key(head: &str) -> Option<(String, String)> {
    // `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...`
    let scope = head.split("Credential=").nth(1)?.split(',').next()?;
    let parts: Vec<&str> = scope.split('/').collect();
    Some((parts.first()?.to_string(), parts.get(3)?.to_string()))
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl StsStandIn {
    async fn start(moto: &str, refuse_for: Duration) -> StsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let moto = moto
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let first_seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (moto, log, first_seen) = (moto.clone(), log.clone(), first_seen.clone());
                tokio::spawn(async move {
                    Self::serve(client, &moto, refuse_for, &log, &first_seen).await;
                });
            }
        });
        StsStandIn { url, seen }
    }

    async fn serve(
        mut client: TcpStream,
        moto: &str,
        refuse_for: Duration,
        log: &Mutex<Vec<Seen>>,
        first_seen: &Mutex<HashMap<String, Instant>>,
    ) {
        while let Some((head, body)) = read_message(&mut client).await {
            let (key, service) = signing_key(&head).unwrap_or_default();
            if service == "sts" {
                let since = *first_seen
                    .lock()
                    .unwrap()
                    .entry(key.clone())
                    .or_insert_with(Instant::now);
                if since.elapsed() < refuse_for {
                    log.lock().unwrap().push(Seen::Refused { key });
                    // AWS's answer for a key STS does not know (yet).
                    let xml = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                               <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
                               <Message>The security token included in the request is \
                               invalid.</Message></Error><RequestId>00000000-0000-0000-0000-\
                               000000000000</RequestId></ErrorResponse>";
                    let reply = format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: \
                         {}\r\n\r\n{xml}",
                        xml.len()
                    );
                    if client.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                    continue;
                }
            }
            let Ok(mut upstream) = TcpStream::connect(moto).await else {
                return;
            };
            let mut request = head.clone().into_bytes();
            request.extend_from_slice(&body);
            if upstream.write_all(&request).await.is_err() {
                return;
            }
            let Some((reply_head, reply_body)) = read_message(&mut upstream).await else {
                return;
            };
            let status: u16 = reply_head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            log.lock().unwrap().push(match service.as_str() {
                "sts" => Seen::Sts { key, status },
                _ => Seen::Iam {
                    action: form_value(&body, "Action").unwrap_or_default(),
                },
            });
            // One request per upstream connection; the client's stays open.
            let mut reply = reply_head
                .lines()
                .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes();
            reply.extend_from_slice(b"\r\n\r\n");
            reply.extend_from_slice(&reply_body);
            if client.write_all(&reply).await.is_err() {
                return;
            }
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_aws_key_refused_by_sts_at_first_is_waited_for_then_verified_and_only_then_the_old_one_deactivated(
) {
    let moto = Peer::moto_with_auth(3);
    let http = aws_common::http();
    let admin = make_admin(&http, &moto.base_url).await;
    let sts = StsStandIn::start(&moto.base_url, Duration::from_secs(2)).await;
    create_user(&http, &moto.base_url, &admin, "app").await;

    let mut inv = Inventory::new(vec![]);
    inv.connections
        .push(aws_common::connection(&sts.url, &admin));
    inv.insert("acme", aws_common::credential("app", "app", None));
    let r = at("acme/app");
    let aws = Arc::new(AwsIam::new(&http));
    let first = aws
        .create(&Target::from_inventory(&inv, &r).unwrap())
        .await
        .expect("the first key");
    let c = inv.credential_mut(&r).unwrap();
    c.remote_id = Some(first.remote_id.clone());
    c.secret = Some(first.secret.clone());

    let disk = MemoryDisk::default();
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(aws.clone() as SharedProvider),
        Arc::new(NonInteractive { yes: true }),
        Options {
            retry: StepRetry {
                max_attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            grace: chrono::Duration::days(7),
            ..Options::default()
        },
    );
    let mut events = engine.subscribe();
    let plan = engine.plan(vec![(r.clone(), "test".into())]).await;
    let summary = engine.rotate(&plan).await;
    assert_eq!(summary.count(OutcomeKind::Done), 1, "{summary:?}");
    engine.close_events();

    let mut propagating = 0;
    while let Some(e) = events.recv().await {
        match e {
            RotationEvent::Propagating {
                window_secs,
                reason,
                ..
            } => {
                propagating += 1;
                assert_eq!(window_secs, 60, "AWS IAM's declared window");
                assert!(reason.contains("InvalidClientTokenId"), "{reason}");
            }
            RotationEvent::Failed { reason, .. } => panic!("a wait shown as a failure: {reason}"),
            _ => {}
        }
    }
    assert!(propagating >= 1, "the wait was shown as such");

    let saved = disk.last();
    let c = saved.credential(&r).unwrap();
    let new_id = c.remote_id.clone().unwrap();
    assert_ne!(new_id, first.remote_id);
    let seen = sts.seen();
    let refused = seen
        .iter()
        .filter(|s| matches!(s, Seen::Refused { key } if *key == new_id))
        .count();
    assert!(refused >= 1, "{seen:?}");
    let accepted = seen
        .iter()
        .position(|s| matches!(s, Seen::Sts { key, status: 200 } if *key == new_id))
        .unwrap_or_else(|| panic!("STS never accepted the new key: {seen:?}"));
    let deactivated = seen
        .iter()
        .position(|s| matches!(s, Seen::Iam { action } if action == "UpdateAccessKey"))
        .unwrap_or_else(|| panic!("the old key was never deactivated: {seen:?}"));
    assert!(
        accepted < deactivated,
        "the old key was deactivated before STS accepted the new one: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| matches!(s, Seen::Iam { action } if action == "DeleteAccessKey")),
        "{seen:?}"
    );
    // IAM agrees: the old key inactive (kept for the grace period), the new one active.
    let keys = aws
        .list(&Target::from_inventory(&saved, &r).unwrap())
        .await
        .unwrap();
    let state = |id: &str| keys.iter().find(|k| k.remote_id == id).map(|k| k.state);
    assert_eq!(state(&first.remote_id), Some(RemoteStatus::Inactive));
    assert_eq!(state(&new_id), Some(RemoteStatus::Active));
    assert_eq!(c.provider, ProviderKind::AwsIam);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_that_never_starts_working_fails_after_the_window_and_the_old_one_lives() {
    let moto = Peer::moto_with_auth(3);
    let http = aws_common::http();
    let admin = make_admin(&http, &moto.base_url).await;
    // Refused for an hour; the connection's window is one second.
    let sts = StsStandIn::start(&moto.base_url, Duration::from_secs(3600)).await;
    create_user(&http, &moto.base_url, &admin, "app").await;
    let mut conn = aws_common::connection(&sts.url, &admin);
    conn.params.insert("propagation_seconds".into(), "1".into());
    let mut inv = Inventory::new(vec![]);
    inv.connections.push(conn);
    inv.insert("acme", aws_common::credential("app", "app", None));
    let r = at("acme/app");
    let aws = Arc::new(AwsIam::new(&http));
    let first = aws
        .create(&Target::from_inventory(&inv, &r).unwrap())
        .await
        .expect("the first key");
    let c = inv.credential_mut(&r).unwrap();
    c.remote_id = Some(first.remote_id.clone());
    c.secret = Some(first.secret.clone());
    let disk = MemoryDisk::default();
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(aws.clone() as SharedProvider),
        Arc::new(NonInteractive { yes: true }),
        Options::default(),
    );
    let plan = engine.plan(vec![(r.clone(), "test".into())]).await;
    let summary = engine.rotate(&plan).await;
    let outcome = summary.outcome(&r).unwrap();
    assert_eq!(outcome.kind, OutcomeKind::Failed, "{outcome:?}");
    assert!(
        outcome.message.contains("the new key does not work"),
        "{}",
        outcome.message
    );
    let seen = sts.seen();
    assert!(
        !seen
            .iter()
            .any(|s| matches!(s, Seen::Iam { action } if action == "UpdateAccessKey")),
        "the old key was touched: {seen:?}"
    );
    // The journal keeps the new key for `resume` or `--rollback`; the old one still signs.
    let saved = disk.last();
    let j = saved.credential(&r).unwrap().rotation.clone().unwrap();
    assert!(j.new_remote_id.is_some());
    let keys = aws
        .list(&Target::from_inventory(&saved, &r).unwrap())
        .await
        .unwrap();
    assert!(keys
        .iter()
        .any(|k| k.remote_id == first.remote_id && k.state == RemoteStatus::Active));
}

/// Issue 14: the dashboard ran rotations through a gate of its own that kept a credential's
/// slot while its new key propagated, so with room for one rotation each credential cost a
/// whole propagation window in turn. Both front ends now run [`Runner::rotate`]: while one
/// credential waits for its key, the next one starts and reaches its own wait.
#[test]
fn a_run_from_either_front_end_holds_no_slot_while_a_new_key_propagates() {
    let ws = Workspace::new();
    let mut inv = write(&ws, 3, None);
    inv.connections[0]
        .params
        .insert("propagation_ms".into(), "3000".into());
    let refs: Vec<_> = (0..3).map(|i| at(&format!("acme/k{i}"))).collect();
    let disk = MemoryDisk::default();
    let runner = Runner::for_inventory(
        inv,
        disk.persist(),
        &keyward::store::Location::from(&ws.inventory()),
        Arc::new(NonInteractive { yes: true }),
        RunConfig {
            concurrency: 1,
            ..RunConfig::default()
        },
    );
    let mut events = runner.subscribe();
    let picked = refs
        .iter()
        .map(|at| Picked {
            at: at.clone(),
            why: "test".into(),
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let summary = runtime.block_on(async {
        let plan = runner.plan(picked).await;
        runner.rotate(&plan).await
    });
    runner.close_events();
    assert_eq!(summary.count(OutcomeKind::Done), 3, "{summary:?}");
    let mut waiting_before_first_done = std::collections::HashSet::new();
    while let Some(e) = events.blocking_recv() {
        match e {
            RotationEvent::Propagating { at, .. } => {
                waiting_before_first_done.insert(at);
            }
            RotationEvent::Finished { .. } => break,
            _ => {}
        }
    }
    assert_eq!(
        waiting_before_first_done.len(),
        3,
        "credentials waited for propagation one after another: {waiting_before_first_done:?}"
    );
    drop(runner);
    let saved = disk.last();
    for r in &refs {
        assert_settled(&ws, &saved, r);
    }
}

// ---------------------------------------------------------------------------------------
// 200 sandbox rotations, killed at random points, then resumed.

/// Runs keyward with `args` and kills it with SIGKILL once `kill_after` credentials have
/// settled (counted from its plain progress lines on stderr); returns whether it was killed
/// (false: it finished first).
fn run_and_kill_after(ws: &Workspace, args: &[&str], kill_after: usize) -> bool {
    let mut child = ws
        .keyward()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyward");
    let stderr = child.stderr.take().expect("stderr");
    let mut settled = 0;
    let mut lines = BufReader::new(stderr).lines();
    let mut killed = false;
    while let Some(Ok(line)) = lines.next() {
        assert_no_secret(&line);
        if line.contains(": done:") || line.contains(": FAILED:") || line.contains(": waiting") {
            settled += 1;
        }
        if settled >= kill_after {
            child.kill().expect("SIGKILL");
            killed = true;
            break;
        }
    }
    let status = child.wait().expect("wait");
    assert!(killed || status.code().is_some(), "{status:?}");
    killed
}

#[test]
fn two_hundred_rotations_killed_at_random_points_then_resumed_lose_no_secret_and_leave_no_orphan() {
    let ws = Workspace::new();
    let n = 200;
    let inv = write(&ws, n, None);
    let mut rng = rand::thread_rng();
    let mut kills = 0;
    // Killed during the rotation, then during two resumes, each after a random share of
    // credentials settled.
    let rotate_kill = rng.gen_range(1..n * 3 / 4);
    kills += usize::from(run_and_kill_after(
        &ws,
        &["rotate", "--client", "acme", "--yes", "--grace-days", "0"],
        rotate_kill,
    ));
    for _ in 0..2 {
        let in_flight = load(&ws)
            .credentials()
            .filter(|(_, _, c)| c.rotation.is_some())
            .count();
        if in_flight > 1 {
            kills += usize::from(run_and_kill_after(
                &ws,
                &["resume", "--yes", "--grace-days", "0"],
                rng.gen_range(1..in_flight),
            ));
        }
    }
    assert!(kills >= 1, "keyward was never killed mid-run");
    let out = ws.run(&["resume", "--yes", "--grace-days", "0"], "");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_no_secret(&stdout);
    assert_no_secret(&stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let after = load(&ws);
    assert_eq!(after.credential_count(), n);
    for (r, _, _) in inv.credentials() {
        // No journal left, every key the sandbox holds recorded, the secret works.
        assert_settled(&ws, &after, &r);
    }
}
