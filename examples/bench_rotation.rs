//! Prints what a bulk rotation of sandbox credentials costs against its floor: COUNT
//! credentials rotated through the real encrypted store, the sandbox answering after
//! LATENCY ms, refusing RATE of its calls with 429 (each saying when its rate-limit window
//! of WINDOW ms resets), and refusing each new key for PROPAGATION ms after its creation.
//! Shows the wall and CPU time of the plan and the run, the floor (ceil(COUNT /
//! concurrency) x calls per rotation x latency, plus one propagation window) and their
//! ratio, provider calls and retries, and how the writer grouped the journal's changes into
//! saves; then one `RESULT|name|figure|floor|ratio|target` line (bench/rotation.sh).
//! Figures, not assertions.
//!
//! Each credential keeps its keys in a state file of its own, as each client's account at a
//! real provider is its own: one shared file would serialize every call of the run. The
//! state files live in memory (`/dev/shm` where there is one): they stand for the provider's
//! own database, and the disk's cost of creating thousands of files (ext4's inode search
//! took a third of the run's CPU in a profile) is the provider's, not keyward's. The
//! inventory itself is saved on the disk of the temporary directory, as a person's is.
//!
//! Run: `cargo run --release --example bench_rotation [-- COUNT [LATENCY_MS [RATE
//! [PROPAGATION_MS [WINDOW_MS]]]]]` (default 1000 50 0.1 0 1000).

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
    let window_ms: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.yaml.age");
    let shm = std::path::Path::new("/dev/shm");
    let provider_dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    };
    let sandbox = Arc::new(Sandbox::beside(&path));

    let identity = age::x25519::Identity::generate();
    let mut inv = Inventory::new(vec![identity.to_public().to_string()]);
    inv.connections.push(connection(&[]));
    for i in 0..count {
        let mut c = Credential::new(format!("k{i:05}"), ProviderKind::Sandbox);
        c.connection = Some("sbx".into());
        c.params.insert(
            "state_file".into(),
            provider_dir
                .path()
                .join(format!("k{i:05}.json"))
                .display()
                .to_string(),
        );
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
        ("rate_limit_window_ms", window_ms.to_string()),
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
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let plan = engine.plan(chosen).await;
    let (planned, plan_cpu) = (t.elapsed(), cpu_seconds() - cpu);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let summary = engine.rotate(&plan).await;
    let (took, took_cpu) = (t.elapsed(), cpu_seconds() - cpu);
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
        "sandbox rotations  {count} at {latency_ms} ms latency, {rate} of calls 429 \
         (windows of {window_ms} ms), new keys refused for {propagation_ms} ms; concurrency \
         {concurrency}"
    );
    println!(
        "outcome            {} done, {} failed, {} waiting for a person",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        summary.count(OutcomeKind::Waiting)
    );
    // What stopped the first few that did not finish.
    for o in summary
        .outcomes
        .iter()
        .filter(|o| o.kind != OutcomeKind::Done)
        .take(3)
    {
        println!("  {}: {}", o.at, o.message);
    }
    println!(
        "plan               {:.2} s wall, {plan_cpu:.2} s CPU",
        planned.as_secs_f64()
    );
    println!(
        "rotate             {:.2} s wall ({:.0} rotations/s), {took_cpu:.2} s CPU",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
    println!(
        "floor              {:.2} s = ceil({count}/{concurrency}) x {CALLS_PER_ROTATION} calls x \
         {latency_ms} ms + {propagation_ms} ms propagation",
        floor.as_secs_f64()
    );
    let ratio = took.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON);
    println!("ratio to floor     {ratio:.2}x");
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
    // The targets: within 1.3x of the floor; with propagation, under one window
    // plus 1.3x the calls' floor.
    let calls_floor = floor.as_secs_f64() - propagation_ms as f64 / 1000.0;
    let target = if propagation_ms == 0 {
        "<= 1.3x".to_string()
    } else {
        format!(
            "< {:.2} s ({} s + 1.3x {calls_floor:.2} s)",
            propagation_ms as f64 / 1000.0 + 1.3 * calls_floor,
            propagation_ms as f64 / 1000.0
        )
    };
    let name = if propagation_ms == 0 {
        format!("sandbox-{count}-{rate}-429-window-{window_ms}ms")
    } else {
        format!("sandbox-{count}-propagation-{propagation_ms}ms")
    };
    println!(
        "RESULT|{name}|{:.2} s|{:.2} s floor|{ratio:.2}x|{target}",
        took.as_secs_f64(),
        floor.as_secs_f64()
    );
    Ok(())
}

/// CPU seconds (user and system, every thread) this process has used so far, from
/// `/proc/self/stat` (Linux; clock ticks of 1/100 s, the kernel's USER_HZ).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
