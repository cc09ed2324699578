//! Prints what a bulk rotation of sandbox credentials costs against its floor: COUNT
//! credentials rotated through the real encrypted store, the sandbox answering after
//! LATENCY ms, refusing RATE of its calls with 429, and refusing each new key for
//! PROPAGATION ms after its creation. Shows the wall time, the floor (ceil(COUNT /
//! concurrency) x calls per rotation x latency, plus one propagation window) and their
//! ratio, provider calls and retries, and how the writer grouped the journal's changes into
//! saves. Figures, not assertions.
//!
//! Each credential keeps its keys in a state file of its own, as each client's account at a
//! real provider is its own: one shared file would serialize every call of the run.
//!
//! Run: `cargo run --release --example bench_rotation [-- COUNT [LATENCY_MS [RATE
//! [PROPAGATION_MS]]]]` (default 1000 50 0.1 0).

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward::inventory::{Connection, Credential, Inventory, ProviderKind};
use keyward::providers::sandbox::Sandbox;
use keyward::providers::{Provider, SharedProvider, Target};
use keyward::rotation::{
    Engine, NonInteractive, Options, OutcomeKind, ProviderSet, RotationEvent, DEFAULT_CONCURRENCY,
};
use keyward::store::Store;

/// Calls one rotation makes when nothing is refused: list the owner's keys, create, verify,
/// inspect the old key, deactivate it (the plan's own calls are timed apart).
const CALLS_PER_ROTATION: u32 = 5;

fn connection(params: &[(&str, String)]) -> Connection {
    Connection {
        id: "sbx".into(),
        provider: ProviderKind::Sandbox,
        endpoint: None,
        auth: Default::default(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let latency_ms: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(50);
    let rate = args.next().unwrap_or_else(|| "0.1".to_string());
    let propagation_ms: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.yaml.age");
    std::fs::create_dir(dir.path().join("keys"))?;
    let sandbox = Arc::new(Sandbox::beside(&path));

    let identity = age::x25519::Identity::generate();
    let mut inv = Inventory::new(vec![identity.to_public().to_string()]);
    inv.connections.push(connection(&[]));
    for i in 0..count {
        let mut c = Credential::new(format!("k{i:05}"), ProviderKind::Sandbox);
        c.connection = Some("sbx".into());
        c.params
            .insert("state_file".into(), format!("keys/k{i:05}.json"));
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
    inv.connections[0] = connection(&[
        ("latency_ms", latency_ms.to_string()),
        ("rate_limit_rate", rate.clone()),
        ("propagation_ms", propagation_ms.to_string()),
    ]);
    let store = Store::create(&path, &inv)?;

    let engine = Engine::new(
        inv,
        Box::new(store),
        ProviderSet::new().with(sandbox.clone() as SharedProvider),
        Arc::new(NonInteractive { yes: true }),
        Options::default(),
    );
    let mut events = engine.subscribe();
    let chosen = engine
        .inventory()
        .credentials()
        .map(|(at, _, _)| (at, "bench".to_string()))
        .collect();
    let t = Instant::now();
    let plan = engine.plan(chosen).await;
    let planned = t.elapsed();
    let t = Instant::now();
    let summary = engine.rotate(&plan).await;
    let took = t.elapsed();
    engine.close_events();
    let (mut retries, mut propagating) = (0, 0);
    while let Some(e) = events.recv().await {
        match e {
            RotationEvent::Retrying { .. } => retries += 1,
            RotationEvent::Propagating { .. } => propagating += 1,
            _ => {}
        }
    }
    let stats = engine.writer_stats();
    let calls: u32 = summary.outcomes.iter().map(|o| o.attempts).sum();
    let concurrency = DEFAULT_CONCURRENCY.min(sandbox.lane_size());
    let floor = Duration::from_millis(
        count.div_ceil(concurrency) as u64 * u64::from(CALLS_PER_ROTATION) * latency_ms
            + propagation_ms,
    );

    println!(
        "sandbox rotations  {count} at {latency_ms} ms latency, {rate} of calls 429, new keys \
         refused for {propagation_ms} ms; concurrency {concurrency}"
    );
    println!(
        "outcome            {} done, {} failed, {} waiting for a person",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        summary.count(OutcomeKind::Waiting)
    );
    println!("plan               {:.2} s", planned.as_secs_f64());
    println!(
        "rotate (wall)      {:.2} s ({:.0} rotations/s)",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    println!(
        "floor              {:.2} s = ceil({count}/{concurrency}) x {CALLS_PER_ROTATION} calls x \
         {latency_ms} ms + {propagation_ms} ms propagation",
        floor.as_secs_f64()
    );
    println!(
        "ratio to floor     {:.2}x",
        took.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON)
    );
    println!(
        "provider calls     {calls} ({:.2} per rotation; {retries} retries after 429, \
         {propagating} checks of keys not yet propagated)",
        f64::from(calls) / count as f64
    );
    println!(
        "saves              {} for {} journal changes ({:.1} changes per save)",
        stats.saves,
        stats.changes,
        stats.changes as f64 / stats.saves.max(1) as f64
    );
    Ok(())
}
