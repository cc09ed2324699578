//! Prepares the AWS half of `bench/rotation.sh`: for COUNT IAM users `bench-user-N` already
//! made on moto_server at URL, creates each one's first access key and writes an encrypted
//! inventory `bench/key-N` of them under HOME (identity at `HOME/.config/keyward/
//! identity.txt`, the recipients recorded as seen), so `keyward rotate --client bench --yes`
//! rotates them all. Prints nothing secret.
//!
//! Run: `cargo run --release --example bench_moto -- URL COUNT HOME`.

use std::path::PathBuf;

use keyward::inventory::{Connection, Credential, Inventory, ProviderKind};
use keyward::providers::aws::AwsIam;
use keyward::providers::http::{Http, HttpConfig};
use keyward::providers::{Provider, Target};
use keyward::secret::Secret;
use keyward::store::keys::generate_identity_file;
use keyward::store::{SeenRecord, Store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count), Some(home)) = (args.next(), args.next(), args.next()) else {
        anyhow::bail!("usage: bench_moto URL COUNT HOME");
    };
    let count: usize = count.parse()?;
    let home = PathBuf::from(home);
    let config = home.join(".config/keyward");
    let inventory = home.join("inventory.yaml.age");
    let recipient = generate_identity_file(&config.join("identity.txt"))?;
    let mut inv = Inventory::new(vec![recipient]);
    // moto_server without authentication accepts any management key.
    inv.connections.push(Connection {
        id: "aws".into(),
        provider: ProviderKind::AwsIam,
        endpoint: Some(url.clone()),
        auth: [
            (
                "access_key_id".to_string(),
                Secret::new("AKIABENCHMANAGEMENT0"),
            ),
            (
                "secret_access_key".to_string(),
                Secret::new("bench-management-secret-not-checked-by-moto"),
            ),
        ]
        .into(),
        params: [("region".to_string(), "us-east-1".to_string())].into(),
    });
    let aws = AwsIam::new(&Http::new(HttpConfig::default()));
    for i in 0..count {
        let mut c = Credential::new(format!("key-{i}"), ProviderKind::AwsIam);
        c.connection = Some("aws".into());
        c.params.insert("user".into(), format!("bench-user-{i}"));
        inv.insert("bench", c);
        let at = format!("bench/key-{i}")
            .parse()
            .map_err(anyhow::Error::msg)?;
        let first = aws
            .create(&Target::from_inventory(&inv, &at).expect("target"))
            .await?;
        let c = inv.credential_mut(&at).expect("credential");
        c.remote_id = Some(first.remote_id);
        c.secret = Some(first.secret);
    }
    Store::create(&inventory, &inv)?
        .accept_recipients(SeenRecord::for_inventory(&config, &inventory))?;
    println!("{}", inventory.display());
    Ok(())
}
