//! Prints what a bulk rotation costs: COUNT sandbox credentials rotated through the real
//! encrypted store, with the sandbox answering RATE of its calls 429. Shows rotations per
//! second, provider calls and retries, and how the single writer coalesced the journal's
//! changes into saves. Figures, not assertions.
//!
//! Run: `cargo run --release --example bench_rotation [-- COUNT [RATE]]` (default 500, 0.1).

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::inventory::{Connection, Credential, Inventory, ProviderKind};
use keyward::providers::sandbox::Sandbox;
use keyward::providers::{Provider, SharedProvider, Target};
use keyward::rotation::{Engine, NonInteractive, Options, OutcomeKind, ProviderSet, StepRetry};
use keyward::store::Store;

fn connection(rate: &str) -> Connection {
    Connection {
        id: "sbx".into(),
        provider: ProviderKind::Sandbox,
        endpoint: None,
        auth: Default::default(),
        params: [("rate_limit_rate".to_string(), rate.to_string())].into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let rate = args.next().unwrap_or_else(|| "0.1".to_string());
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.yaml.age");
    let sandbox = Arc::new(Sandbox::beside(&path));

    let identity = age::x25519::Identity::generate();
    let mut inv = Inventory::new(vec![identity.to_public().to_string()]);
    inv.connections.push(connection("0"));
    for i in 0..count {
        let mut c = Credential::new(format!("k{i:05}"), ProviderKind::Sandbox);
        c.connection = Some("sbx".into());
        inv.insert(&format!("client-{:03}", i / 50), c);
        let at = format!("client-{:03}/k{i:05}", i / 50)
            .parse()
            .map_err(anyhow::Error::msg)?;
        let key = sandbox
            .create(&Target::from_inventory(&inv, &at).expect("target"))
            .await?;
        let c = inv.credential_mut(&at).expect("credential");
        c.remote_id = Some(key.remote_id);
        c.secret = Some(key.secret);
    }
    inv.connections[0] = connection(&rate);
    let store = Store::create(&path, &inv)?;

    let engine = Engine::new(
        inv,
        Box::new(store),
        ProviderSet::new().with(sandbox as SharedProvider),
        Arc::new(NonInteractive { yes: true }),
        Options {
            concurrency: 32,
            per_provider: Some(32),
            retry: StepRetry {
                max_attempts: 16,
                base_delay: Duration::from_millis(2),
                max_delay: Duration::from_millis(50),
            },
            ..Options::default()
        },
    );
    let t = Instant::now();
    let chosen = engine
        .inventory()
        .credentials()
        .map(|(at, _, _)| (at, "bench".to_string()))
        .collect();
    let plan = engine.plan(chosen).await;
    let planned = t.elapsed();
    let summary = engine.rotate(&plan).await;
    let took = t.elapsed();
    let stats = engine.writer_stats();
    let calls: u32 = summary.outcomes.iter().map(|o| o.attempts).sum();
    let bytes = std::fs::metadata(&path)?.len();

    println!("credentials        {count} (sandbox answering {rate} of calls 429)");
    println!(
        "rotated            {} done, {} failed, {} waiting",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        summary.count(OutcomeKind::Waiting)
    );
    println!("plan               {:.2?}", planned);
    println!(
        "plan + rotate      {:.2?} ({:.0} rotations/s)",
        took,
        count as f64 / took.as_secs_f64()
    );
    println!(
        "provider calls     {calls} ({:.2} per rotation)",
        f64::from(calls) / count as f64
    );
    println!(
        "journal changes    {} saved in {} saves ({:.1} changes per save, {:.1} saves/s)",
        stats.changes,
        stats.saves,
        stats.changes as f64 / stats.saves.max(1) as f64,
        stats.saves as f64 / took.as_secs_f64()
    );
    println!("inventory file     {} KiB", bytes / 1024);
    Ok(())
}
