//! Prints how long the inventory's hot paths take at scale: encrypting and saving, opening
//! and parsing, and judging every credential's status. Figures, not assertions.
//!
//! Run: `cargo run --release --example bench_inventory [-- COUNT]` (default 100000).

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use keyward::inventory::{status::assess, Client, Credential, Inventory, ProviderKind};
use keyward::secret::Secret;
use keyward::store::{Keyring, Store};

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let identity = age::x25519::Identity::generate();
    let mut inv = Inventory::new(vec![identity.to_public().to_string()]);
    let per_client = 50;
    let t = Instant::now();
    for c in 0..count.div_ceil(per_client) {
        let mut client = Client {
            id: format!("client-{c:05}"),
            name: format!("Client {c}"),
            integrations: vec![],
        };
        for i in 0..per_client.min(count - c * per_client) {
            let n = (c * per_client + i) as i64;
            let mut cred = Credential::new(format!("key-{i:03}"), ProviderKind::Sandbox);
            cred.name = format!("Integration {n}");
            cred.remote_id = Some(format!("sbx_{n:08}"));
            cred.scopes = vec!["read".into(), "write".into()];
            cred.created_at = Some(now - Duration::days(n % 400));
            cred.expires_at = (n % 3 == 0).then(|| now + Duration::days(n % 120 - 20));
            cred.last_used_at = Some(now - Duration::days(n % 150));
            cred.used_by = vec![format!("service {}", n % 17)];
            cred.secret = Some(Secret::new(format!(
                "sk_bench_{n:016}_abcdefghijklmnopqrstuvwxyz"
            )));
            client.integrations.push(cred);
        }
        inv.clients.push(client);
    }
    println!("credentials        {}", inv.credential_count());
    println!(
        "build in memory    {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.yaml.age");
    let t = Instant::now();
    let mut store = Store::create(&path, &inv)?;
    println!(
        "encrypt + save     {:>8.1} ms  ({} KiB on disk)",
        t.elapsed().as_secs_f64() * 1e3,
        std::fs::metadata(&path)?.len() / 1024
    );
    let t = Instant::now();
    store.save(&inv)?;
    println!(
        "save again         {:>8.1} ms  (with backup)",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(store);

    let mut keys = Keyring::new();
    keys.add_identity(Box::new(identity));
    let t = Instant::now();
    let (_, opened) = Store::open(&path, &keys)?;
    println!(
        "open + parse       {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(opened.credential_count(), inv.credential_count());

    let t = Instant::now();
    let mut worst = 0usize;
    for (_, _, c) in opened.credentials() {
        if assess(c, &opened.policy, now).status < keyward::inventory::Status::Stale {
            worst += 1;
        }
    }
    println!(
        "assess all         {:>8.1} ms  ({worst} need attention)",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
