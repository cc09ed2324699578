//! Prints how long the inventory's hot paths take at scale: encrypting and saving, opening
//! and parsing, and judging every credential's status. Figures, not assertions.
//!
//! Run: `cargo run --release --example bench_inventory [-- COUNT]` (default 100000).
//! `bench_inventory make DIR COUNT` instead writes `DIR/inventory.age` of COUNT credentials
//! and the age identity that opens it, `DIR/identity.txt`, for `bench/run` to time the
//! real `keyward check` against `age -d` on the same file.

use std::path::Path;
use std::time::Instant;

use age::secrecy::ExposeSecret;
use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward::inventory::{status::assess, Client, Credential, Inventory, ProviderKind};
use keyward::secret::Secret;
use keyward::store::{Keyring, Store};

/// `count` credentials, 50 to a client, with the fields a real inventory fills in.
fn inventory(count: usize, recipient: String, now: DateTime<Utc>) -> Inventory {
    let mut inv = Inventory::new(vec![recipient]);
    let per_client = 50;
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
    inv
}

/// Writes the inventory and the identity that opens it into `dir`, for timing the binary.
fn make(dir: &Path, count: usize, now: DateTime<Utc>) -> anyhow::Result<()> {
    let identity = age::x25519::Identity::generate();
    let inv = inventory(count, identity.to_public().to_string(), now);
    keyward::fsutil::create_private_dir_all(dir)?;
    let key = format!("{}\n", identity.to_string().expose_secret());
    keyward::fsutil::write_private(&dir.join("identity.txt"), key.as_bytes())?;
    Store::create(&dir.join("inventory.age"), &inv)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    if let [verb, dir, count] = args.as_slice() {
        if verb == "make" {
            return make(Path::new(dir), count.parse()?, now);
        }
    }
    let count: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let identity = age::x25519::Identity::generate();
    let t = Instant::now();
    let inv = inventory(count, identity.to_public().to_string(), now);
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
