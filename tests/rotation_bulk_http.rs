//! A bulk rotation of 200 SendGrid credentials through real HTTP, against the stateful
//! SendGrid fake behind a server that refuses a deterministic 30% of all requests with 429
//! and `Retry-After: 0`: every rotation finishes, attempts stay bounded, progress and
//! summary add up, saves are grouped, and the fake ends holding exactly the keys the
//! inventory records.

use crate::saas_common;
use crate::support;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use keyward::inventory::{Connection, Credential, Deploy, Inventory, ProviderKind};
use keyward::ops::{select, Selection};
use keyward::providers::http::{Http, HttpConfig, RetryPolicy};
use keyward::providers::sendgrid::Sendgrid;
use keyward::providers::SharedProvider;
use keyward::rotation::{
    Engine, NonInteractive, Options, OutcomeKind, ProviderSet, RotationEvent, StepRetry,
};
use keyward::secret::Secret;
use saas_common::{long_secret, sendgrid_handler, SgKey, SgState, SG_ADMIN};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CREDENTIALS: usize = 200;
/// SendGrid subusers the credentials are spread over: an account holds at most 100 keys.
const SUBUSERS: usize = 4;
/// Requests one rotation makes when nothing is refused: list (plan), list (before the
/// create), the old key (its name and scopes), create, verify, delete the old key.
const REQUESTS_PER_ROTATION: usize = 6;

/// Counts of what the server saw.
#[derive(Default)]
struct Seen {
    all: AtomicUsize,
    refused: AtomicUsize,
}

/// One SendGrid fake per subuser (the `on-behalf-of` header), behind a server that answers
/// every request whose sequence number ends in 0, 1 or 2 with 429 and `Retry-After: 0`.
async fn rate_limited_sendgrid(
    accounts: Arc<Mutex<HashMap<String, SgState>>>,
    seen: Arc<Seen>,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(move |req: &Request| {
            let n = seen.all.fetch_add(1, Ordering::SeqCst);
            if n % 10 < 3 {
                seen.refused.fetch_add(1, Ordering::SeqCst);
                return ResponseTemplate::new(429)
                    .insert_header("retry-after", "0")
                    .set_body_json(serde_json::json!({
                        "errors": [{"field": null, "message": "too many requests"}]
                    }));
            }
            let mut accounts = accounts.lock().unwrap_or_else(|p| p.into_inner());
            // The parent's key names the subuser in `on-behalf-of`; a subuser's own key
            // (verify) speaks for its subuser without the header.
            let sub = match req.headers.get("on-behalf-of") {
                Some(v) => v.to_str().unwrap_or_default().to_string(),
                None => {
                    let token = saas_common::bearer(req).unwrap_or_default();
                    accounts
                        .iter()
                        .find(|(_, s)| s.keys.iter().any(|k| k.secret == token))
                        .map(|(sub, _)| sub.clone())
                        .unwrap_or_default()
                }
            };
            match accounts.get_mut(&sub) {
                Some(state) => sendgrid_handler(state, req),
                None => ResponseTemplate::new(400),
            }
        })
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_of_200_through_http_429_with_retry_after_all_finish_with_bounded_attempts() {
    // 200 credentials, 50 per subuser, each holding one live key.
    let mut accounts: HashMap<String, SgState> = HashMap::new();
    let mut inv = Inventory::new(vec![]);
    for i in 0..CREDENTIALS {
        let sub = format!("sub{}", i % SUBUSERS);
        let account = accounts.entry(sub.clone()).or_insert_with(|| SgState {
            // Ids stay unique across subusers.
            issued: 10_000 * (i % SUBUSERS) as u32 + 1_000,
            ..SgState::default()
        });
        let id = format!("old{i}");
        let secret = long_secret("SG.old.", i as u32);
        account.keys.push(SgKey {
            id: id.clone(),
            name: format!("mailer {i}"),
            scopes: vec!["mail.send".into()],
            secret: secret.clone(),
        });
        let mut c = Credential::new(format!("k{i}"), ProviderKind::Sendgrid);
        c.connection = Some("sg".into());
        c.remote_id = Some(id);
        c.secret = Some(Secret::new(secret));
        c.params.insert("on_behalf_of".into(), sub);
        c.deploy = keyward::inventory::Deploys::from(Deploy::Command {
            idempotent: false,
            run: "cat > /dev/null".into(),
        });
        inv.insert("acme", c);
    }
    let accounts = Arc::new(Mutex::new(accounts));
    let seen = Arc::new(Seen::default());
    let server = rate_limited_sendgrid(accounts.clone(), seen.clone()).await;
    inv.connections.push(Connection {
        id: "sg".into(),
        provider: ProviderKind::Sendgrid,
        endpoint: Some(server.uri()),
        auth: [("api_key".to_string(), Secret::new(SG_ADMIN))].into(),
        params: Default::default(),
    });

    let disk = support::disk::MemoryDisk::default();
    // Three attempts per request; a 429 waits what `Retry-After` says (0 s).
    let http = Http::new(HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            max_retry_after: Duration::from_secs(1),
        },
        per_provider_concurrency: 32,
    });
    let engine = Engine::new(
        inv,
        disk.persist(),
        ProviderSet::new().with(Arc::new(Sendgrid::new(&http)) as SharedProvider),
        Arc::new(NonInteractive { yes: true }),
        Options {
            concurrency: 32,
            per_provider: Some(32),
            retry: StepRetry {
                max_attempts: 8,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(4),
            },
            deploy_timeout: Duration::from_secs(20),
            ..Options::default()
        },
    );
    let mut events = engine.subscribe();
    let sel = Selection {
        client: Some("acme".into()),
        ..Selection::default()
    };
    let chosen = select(&engine.inventory(), &sel, Utc::now()).unwrap();
    let plan = engine
        .plan(chosen.into_iter().map(|p| (p.at, p.why)).collect())
        .await;
    assert_eq!(
        plan.ready().count(),
        CREDENTIALS,
        "{:?}",
        plan.items.iter().find(|i| i.blocked.is_some())
    );
    let summary = engine.rotate(&plan).await;

    // The summary: 200 done, none failed.
    assert_eq!(summary.outcomes.len(), CREDENTIALS);
    assert_eq!(
        summary.count(OutcomeKind::Done),
        CREDENTIALS,
        "{:?}",
        summary
            .outcomes
            .iter()
            .find(|o| o.kind != OutcomeKind::Done)
    );
    assert_eq!(summary.count(OutcomeKind::Failed), 0);
    for o in &summary.outcomes {
        assert!(!o.message.contains("SG."), "a secret leaked: {}", o.message);
    }

    // Requests: the fake served at least the no-fault count (more only where a create the
    // HTTP layer gave up on was tried again, reading the old key again); 30% of all were
    // refused; the total stays within twice the no-fault count.
    let all = seen.all.load(Ordering::SeqCst);
    let refused = seen.refused.load(Ordering::SeqCst);
    let served = all - refused;
    let no_fault = CREDENTIALS * REQUESTS_PER_ROTATION;
    assert!(served >= no_fault, "served {served} < {no_fault}");
    assert_eq!(refused, (0..all).filter(|n| n % 10 < 3).count());
    assert!(refused > 0, "the 429s happened");
    assert!(all <= 2 * no_fault, "{all} requests for {no_fault} steps");
    // Engine-level attempts stay bounded too: the HTTP layer absorbs most refusals.
    assert!(
        summary
            .outcomes
            .iter()
            .all(|o| (4..=4 * 8).contains(&o.attempts)),
        "{:?}",
        summary.outcomes.iter().map(|o| o.attempts).max()
    );

    // Progress ends at 200 done, 0 failed.
    let mut last_progress = None;
    let mut finished = 0;
    while let Ok(e) = events.try_recv() {
        if let RotationEvent::Finished { progress, .. } = e {
            finished += 1;
            last_progress = Some(progress);
        }
    }
    assert_eq!(finished, CREDENTIALS);
    let p = last_progress.expect("progress events");
    assert_eq!((p.total, p.done, p.failed), (CREDENTIALS, CREDENTIALS, 0));

    // Saves were grouped.
    let stats = engine.writer_stats();
    assert!(stats.saves < stats.changes, "{stats:?}");
    assert_eq!(stats.failed_saves, 0);
    drop(engine);

    // The fake holds exactly 200 live keys, each the one the inventory records, with the
    // secret the inventory holds; every old key is gone.
    let inv = disk.last();
    let accounts = accounts.lock().unwrap();
    let live: BTreeSet<(String, String)> = accounts
        .iter()
        .flat_map(|(sub, s)| s.keys.iter().map(move |k| (sub.clone(), k.id.clone())))
        .collect();
    assert_eq!(live.len(), CREDENTIALS);
    let mut recorded = BTreeSet::new();
    for (r, _, c) in inv.credentials() {
        assert!(c.rotation.is_none(), "{r}: still in flight");
        let sub = c.params["on_behalf_of"].clone();
        let id = c.remote_id.clone().expect("a key id");
        assert!(!id.starts_with("old"), "{r}: not rotated");
        let key = accounts[&sub]
            .keys
            .iter()
            .find(|k| k.id == id)
            .unwrap_or_else(|| panic!("{r}: {id} is not live"));
        assert_eq!(
            c.secret.as_ref().map(|s| s.expose_secret()),
            Some(key.secret.as_str()),
            "{r}: the inventory's secret is not the live key's"
        );
        assert!(c.pending_revocations.is_empty());
        recorded.insert((sub, id));
    }
    assert_eq!(live, recorded, "no orphan, no key left behind");
}
