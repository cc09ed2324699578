//! Issue 13: discovering the keys the inventory does not track, adopting them and taking
//! custody by rotation. AWS against moto_server with signature checking on (keys made
//! behind keyward's back through keyward's own AWS client, as a script would); the SaaS
//! providers through the stateful fakes of tests/saas_common (paging, 429 and 5xx during
//! discovery, an account that lists nothing).

use crate::aws_common;
use crate::saas_common;
use crate::support;

use aws_common::{create_user, make_admin};
use keyward::inventory::{Connection, Credential, Inventory};
use keyward::ops::discover::{discover, Answer, Discovery, Scope, Tracking};
use keyward::providers::aws::AwsIam;
use keyward::providers::registry::ProviderSet;
use keyward::providers::{Provider, Target, Verification};
use keyward::store::keys::generate_identity_file;
use keyward::store::Store;
use saas_common::{
    fake, fast_http, openai_handler, reply, sendgrid_handler, tw_sid, twilio_handler, OaKey,
    OaServiceAccount, OaState, SgKey, SgState, TwKey, TwState, OA_ADMIN, OA_PROJECT, SG_ADMIN,
    TW_ACCOUNT, TW_MAIN_SECRET,
};
use serde_json::Value;
use support::leak::assert_no_secret;
use support::peers::Peer;
use support::sandbox_inventory::{at, block, load};
use support::workspace::Workspace;
use wiremock::{Request, ResponseTemplate};

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn all_output(out: &std::process::Output) -> Vec<u8> {
    [out.stdout.as_slice(), out.stderr.as_slice()].concat()
}

/// `discover` finds the key a script made for IAM user `ci` behind keyward's back, with its
/// last use; `adopt` records it without a secret; `rotate` leaves exactly one key at `ci`,
/// the one whose secret is in the inventory. No secret in any output.
#[test]
fn aws_discover_adopt_then_rotate_leaves_only_the_inventory_key() {
    let http = aws_common::http();
    let moto = Peer::moto_with_auth(3);
    let url = moto.base_url.clone();
    let admin = block(make_admin(&http, &url));
    block(create_user(&http, &url, &admin, "app"));
    block(create_user(&http, &url, &admin, "ci"));

    let ws = Workspace::new();
    let mut inv = Inventory::new(vec![]);
    inv.connections.push(aws_common::connection(&url, &admin));
    inv.insert("acme", aws_common::credential("app", "app", None));
    let tracked =
        block(AwsIam::new(&http).create(&Target::from_inventory(&inv, &at("acme/app")).unwrap()))
            .unwrap();
    {
        let c = inv.credential_mut(&at("acme/app")).unwrap();
        c.remote_id = Some(tracked.remote_id.clone());
        c.secret = Some(tracked.secret.clone());
    }
    save_new(&ws, &inv);

    // A key made outside keyward, then used once (an STS call signed with it).
    let ci = aws_common::target(&url, &admin, "ci", None);
    let stray = block(AwsIam::new(&http).create(&ci)).unwrap();
    assert_eq!(
        block(AwsIam::new(&http).verify(&ci, Some(&stray.remote_id), &stray.secret)),
        Verification::Valid
    );
    let secrets = vec![
        stray.secret.expose_secret().to_string(),
        tracked.secret.expose_secret().to_string(),
        admin.secret_access_key.expose_secret().to_string(),
    ];

    let out = ws.run(&["discover", "--json"], "");
    assert_no_secret(&all_output(&out), "discover --json", &secrets);
    assert_eq!(out.status.code(), Some(6), "untracked keys: attention");
    let v = json_of(&out);
    assert_eq!(v["schema"], "keyward.discover/1");
    assert_eq!(v["exit"], 6);
    assert_eq!(v["connections"][0]["result"], "listed");
    let untracked = v["untracked"].as_array().unwrap();
    let ids: Vec<&str> = untracked
        .iter()
        .map(|k| k["remote_id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&tracked.remote_id.as_str()),
        "the inventory's key is tracked: {ids:?}"
    );
    let found = untracked
        .iter()
        .find(|k| k["remote_id"] == stray.remote_id.as_str())
        .expect("the stray key is discovered");
    assert_eq!(found["owner"], "IAM user ci");
    assert_eq!(found["provider"], "aws-iam");
    assert_eq!(found["connection"], "aws");
    assert_eq!(found["suggested_clients"], serde_json::json!(["acme"]));
    assert!(found["created_at"].is_string(), "{found}");
    assert!(
        found["last_used_at"].is_string(),
        "its use is seen: {found}"
    );

    let out = ws.run(&["discover"], "");
    assert_no_secret(&all_output(&out), "discover", &secrets);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&stray.remote_id) && table.contains("IAM user ci"),
        "{table}"
    );

    let out = ws.run(
        &[
            "adopt",
            &stray.remote_id,
            "--client",
            "acme",
            "--name",
            "ci",
            "--json",
        ],
        "",
    );
    assert_no_secret(&all_output(&out), "adopt", &secrets);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["schema"], "keyward.adopt/1");
    assert_eq!(v["adopted"][0]["credential"], "acme/ci");
    let inv = load(&ws);
    let c = inv.credential(&at("acme/ci")).unwrap();
    assert!(c.secret.is_none(), "keyward never saw its secret");
    assert_eq!(c.remote_id.as_deref(), Some(stray.remote_id.as_str()));
    assert_eq!(c.params.get("user").map(String::as_str), Some("ci"));
    assert!(c.last_used_at.is_some());
    assert!(c.history[0].detail.contains("not created by keyward"));
    let adopted: Vec<Value> = ws
        .audit_entries()
        .into_iter()
        .filter(|e| e["action"] == "adopted")
        .collect();
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0]["credential"], "acme/ci");

    // The adopted key is tracked now: adopting it again is refused.
    let again = ws.run(&["adopt", &stray.remote_id, "--client", "acme"], "");
    assert_eq!(again.status.code(), Some(1));

    let plan = ws.run(&["rotate", "acme/ci", "--dry-run"], "");
    let said =
        String::from_utf8_lossy(&plan.stdout).to_string() + &String::from_utf8_lossy(&plan.stderr);
    assert!(said.contains("takes custody"), "the plan says so: {said}");
    let out = ws.run(&["rotate", "acme/ci", "--yes", "--grace-days", "0"], "");
    assert_no_secret(&all_output(&out), "rotate", &secrets);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = load(&ws);
    let c = inv.credential(&at("acme/ci")).unwrap();
    let new_id = c.remote_id.clone().unwrap();
    assert_ne!(new_id, stray.remote_id);
    let keys = block(AwsIam::new(&http).list(&ci)).unwrap();
    let live: Vec<&str> = keys.iter().map(|k| k.remote_id.as_str()).collect();
    assert_eq!(
        live,
        vec![new_id.as_str()],
        "only the inventory's key is left"
    );
    let secret = c
        .secret
        .clone()
        .expect("custody: the secret is in the inventory");
    assert_eq!(
        block(AwsIam::new(&http).verify(&ci, Some(&new_id), &secret)),
        Verification::Valid
    );

    // The report counts it: discovered, tracked, taken into custody.
    let out = ws.run(&["report", "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    let aws = v["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "aws-iam")
        .cloned()
        .expect("coverage per provider");
    assert_eq!(aws["discovered"], 1);
    assert_eq!(aws["in_custody"], 1);
    assert_eq!(aws["tracked"], 2);
}

/// Writes `inv` as the workspace's new inventory, encrypted to its default identity.
fn save_new(ws: &Workspace, inv: &Inventory) {
    let mut inv = inv.clone();
    inv.recipients = vec![generate_identity_file(&ws.default_identity()).unwrap()];
    Store::create(&ws.inventory(), &inv)
        .unwrap()
        .accept_recipients(ws.seen_record())
        .unwrap();
}

/// `keyward discover`'s exit code for cron: 0 when every key is tracked, 3 when a
/// connection could not be asked (and nothing untracked was seen), as src/cli/exit.rs says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_exits_0_when_all_is_tracked_and_3_when_a_provider_cannot_be_asked() {
    let (server, _) = fake(
        SgState {
            keys: vec![sg_key(1)],
            issued: 1,
            ..SgState::default()
        },
        sendgrid_handler,
    )
    .await;
    let ws = Workspace::new();
    save_new(
        &ws,
        &inventory_with(
            conn_of(saas_common::sendgrid(&server.uri(), None)),
            &["sgkey1"],
        ),
    );
    let out = tokio::task::block_in_place(|| ws.run(&["discover", "--json"], ""));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["untracked"], serde_json::json!([]));
    assert_eq!(v["connections"][0]["tracked"], 1);

    let down = Faulty {
        inner: SgState::default(),
        faults: vec![503; 50],
        handler: sendgrid_handler,
    };
    let (server, _) = fake(down, faulty).await;
    let ws = Workspace::new();
    save_new(
        &ws,
        &inventory_with(conn_of(saas_common::sendgrid(&server.uri(), None)), &[]),
    );
    let out = tokio::task::block_in_place(|| ws.run(&["discover"], ""));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_secret(
        &all_output(&out),
        "a failed discover",
        &[SG_ADMIN.to_string()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sendgrid-conn: failed"), "{stderr}");
}

fn inventory_with(conn: Connection, tracked: &[&str]) -> Inventory {
    let mut inv = Inventory::new(vec![]);
    for id in tracked {
        let mut c = Credential::new(format!("k-{id}"), conn.provider);
        c.connection = Some(conn.id.clone());
        c.remote_id = Some(id.to_string());
        inv.insert("acme", c);
    }
    inv.connections.push(conn);
    inv
}

fn providers() -> ProviderSet {
    ProviderSet::for_inventory(&fast_http(), std::path::Path::new("unused.yaml.age"))
}

async fn run(inv: &Inventory) -> Discovery {
    discover(inv, &providers(), &Scope::All, 2, |_| {})
        .await
        .unwrap()
}

fn conn_of(t: Target) -> Connection {
    t.connection.unwrap()
}

/// Twilio's key list in pages of two: every page is read, and the tracked key is told
/// apart from the others, which suggest the client using the connection.
#[tokio::test]
async fn twilio_discovery_reads_every_page() {
    let keys: Vec<TwKey> = (1..=5)
        .map(|n| TwKey {
            sid: tw_sid("SK", n),
            name: format!("key {n}"),
            secret: saas_common::long_secret("twsecret", n),
            policy: Value::Null,
        })
        .collect();
    let state = TwState {
        keys: keys.clone(),
        issued: 5,
        page_size: 2,
    };
    let (server, _) = fake(state, twilio_handler).await;
    let inv = inventory_with(
        conn_of(saas_common::twilio(&server.uri(), None)),
        &[&keys[0].sid],
    );
    let d = run(&inv).await;
    let all: Vec<_> = d.sightings().collect();
    assert_eq!(all.len(), 5, "five keys over three pages");
    let untracked = d.untracked();
    assert_eq!(untracked.len(), 4);
    assert!(untracked.iter().all(|s| s.remote_id() != keys[0].sid));
    assert_eq!(untracked[0].suggested_clients, vec!["acme".to_string()]);
    assert_eq!(
        untracked[0].found.owner.as_deref(),
        Some(format!("account {TW_ACCOUNT}").as_str())
    );
    let text = format!("{d:?}");
    let secrets: Vec<String> = keys
        .iter()
        .map(|k| k.secret.clone())
        .chain([TW_MAIN_SECRET.to_string()])
        .collect();
    assert_no_secret(text.as_bytes(), "twilio discovery", &secrets);
}

/// Faults the fakes answer before the real answer: a 429, then a 503.
struct Faulty<S> {
    inner: S,
    faults: Vec<u16>,
    handler: fn(&mut S, &Request) -> ResponseTemplate,
}

fn faulty<S>(s: &mut Faulty<S>, req: &Request) -> ResponseTemplate {
    if !s.faults.is_empty() {
        let status = s.faults.remove(0);
        return reply(
            status,
            serde_json::json!({"errors": [{"message": "slow down"}]}),
        )
        .insert_header("retry-after", "0");
    }
    (s.handler)(&mut s.inner, req)
}

fn sg_key(n: u32) -> SgKey {
    SgKey {
        id: format!("sgkey{n}"),
        name: format!("key {n}"),
        scopes: vec!["mail.send".into()],
        secret: saas_common::long_secret("SG.k.", n),
    }
}

/// A 429 and then a 503 during discovery are retried by the shared client and the listing
/// arrives; a provider that keeps failing is reported as failed, naming no secret.
#[tokio::test]
async fn sendgrid_discovery_rides_out_429_and_5xx() {
    let state = Faulty {
        inner: SgState {
            keys: vec![sg_key(1), sg_key(2)],
            issued: 2,
            ..SgState::default()
        },
        faults: vec![429, 503],
        handler: sendgrid_handler,
    };
    let (server, _) = fake(state, faulty).await;
    let inv = inventory_with(conn_of(saas_common::sendgrid(&server.uri(), None)), &[]);
    let d = run(&inv).await;
    let ids: Vec<&str> = d.sightings().map(|s| s.remote_id()).collect();
    assert_eq!(ids, vec!["sgkey1", "sgkey2"]);

    let down = Faulty {
        inner: SgState::default(),
        faults: vec![503; 20],
        handler: sendgrid_handler,
    };
    let (server, _) = fake(down, faulty).await;
    let inv = inventory_with(conn_of(saas_common::sendgrid(&server.uri(), None)), &[]);
    let d = run(&inv).await;
    let failures: Vec<_> = d.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].1.status, Some(503));
    assert!(d.untracked().is_empty());
    let text = format!("{:?}", failures[0].1);
    assert_no_secret(
        text.as_bytes(),
        "a failed discovery",
        &[SG_ADMIN.to_string(), sg_key(1).secret],
    );
}

/// An account with no keys lists nothing: nothing untracked, nothing failed.
#[tokio::test]
async fn a_provider_that_lists_nothing_finds_nothing() {
    let (server, _) = fake(SgState::default(), sendgrid_handler).await;
    let inv = inventory_with(conn_of(saas_common::sendgrid(&server.uri(), None)), &[]);
    let d = run(&inv).await;
    assert!(matches!(&d.connections[0].answer, Answer::Listed(k) if k.is_empty()));
    assert!(d.untracked().is_empty());
    assert_eq!(d.failures().count(), 0);
}

/// OpenAI: a service account's key and a user's key of the connection's project, over
/// pages of one; each carries what a credential needs to rotate it.
#[tokio::test]
async fn openai_discovery_tells_service_accounts_from_users() {
    let key = |n: u32, sa: Option<&str>| OaKey {
        id: format!("key_{n}"),
        name: format!("key {n}"),
        service_account: sa.map(str::to_string),
        secret: saas_common::long_secret("sk-proj-", n),
        last_used_at: Some(1_711_471_600),
    };
    let state = OaState {
        keys: vec![key(1, Some("svc_acct_1")), key(2, None)],
        service_accounts: vec![OaServiceAccount {
            id: "svc_acct_1".into(),
            name: "ci-bot".into(),
        }],
        issued: 2,
        page_size: 1,
        ..OaState::default()
    };
    let (server, _) = fake(state, openai_handler).await;
    let mut conn = conn_of(saas_common::openai(
        &server.uri(),
        "service-account",
        None,
        &[],
    ));
    conn.params.insert("project_id".into(), OA_PROJECT.into());
    let inv = inventory_with(conn, &[]);
    let d = run(&inv).await;
    let found: Vec<_> = d.untracked();
    assert_eq!(found.len(), 2, "{d:?}");
    let sa = found.iter().find(|s| s.remote_id() == "key_1").unwrap();
    assert_eq!(
        sa.found.params.get("kind").map(String::as_str),
        Some("service-account")
    );
    assert_eq!(
        sa.found
            .params
            .get("service_account_id")
            .map(String::as_str),
        Some("svc_acct_1")
    );
    assert!(sa.found.key.last_used_at.is_some());
    let user = found.iter().find(|s| s.remote_id() == "key_2").unwrap();
    assert_eq!(
        user.found.params.get("kind").map(String::as_str),
        Some("project-key")
    );
    assert_eq!(user.tracking, Tracking::Untracked);
    assert_no_secret(
        format!("{d:?}").as_bytes(),
        "openai discovery",
        &[
            OA_ADMIN.to_string(),
            key(1, None).secret,
            key(2, None).secret,
        ],
    );
}

/// The dashboard's `:discover`: asked in the background (the runtime's effect), the
/// answer shown with the untracked key marked, `a` adopts it into the client that uses the
/// connection, marks it in the table for `R`, saves, then logs `adopted`.
#[tokio::test]
async fn dashboard_discover_view_adopts_the_selected_untracked_key() {
    use keyward::tui::action::{Action, Effect};
    use keyward::tui::state::{Screen, Settings, State};
    use keyward::tui::theme::Theme;
    use keyward::tui::{keymap, update::update, view};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{backend::TestBackend, Terminal};

    let state = SgState {
        keys: vec![sg_key(1), sg_key(2)],
        issued: 2,
        ..SgState::default()
    };
    let (server, _) = fake(state, sendgrid_handler).await;
    let inv = inventory_with(
        conn_of(saas_common::sendgrid(&server.uri(), None)),
        &["sgkey1"],
    );
    let settings = Settings {
        title: "test".into(),
        read_only: false,
        now: chrono::Utc::now(),
        theme: Theme { color: false },
        can_save: true,
    };
    let mut st = State::new(inv.clone(), settings, (100, 24));
    let press = |st: &mut State, c: KeyCode| {
        let action = keymap::action_for(st.mode(), KeyEvent::new(c, KeyModifiers::NONE), false)
            .expect("bound");
        update(st, action)
    };
    press(&mut st, KeyCode::Char(':'));
    for c in "discover".chars() {
        press(&mut st, KeyCode::Char(c));
    }
    let effects = press(&mut st, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Discover(Scope::All)]),
        "{effects:?}"
    );
    assert_eq!(st.screen, Screen::Discover);

    let found = run(&inv).await;
    update(&mut st, Action::Discovered(Box::new(found)));
    let mut t = Terminal::new(TestBackend::new(100, 24)).unwrap();
    t.draw(|f| view::render(f, &st)).unwrap();
    let screen = t.backend().to_string();
    assert!(
        screen.contains("! untracked") && screen.contains("sgkey2"),
        "{screen}"
    );
    assert!(screen.contains("✓ tracked"), "{screen}");
    assert_no_secret(screen.as_bytes(), "the discover view", &[sg_key(2).secret]);

    // The untracked key is listed first: adopt it.
    let effects = press(&mut st, KeyCode::Char('a'));
    assert!(matches!(effects.as_slice(), [Effect::Save]), "{effects:?}");
    let c = st
        .inventory
        .credential(&at("acme/sendgrid-sgkey2"))
        .expect("adopted into the client using the connection");
    assert!(c.secret.is_none());
    assert_eq!(c.connection.as_deref(), Some("sendgrid-conn"));
    let row = st
        .rows
        .iter()
        .position(|r| r.at == at("acme/sendgrid-sgkey2"))
        .unwrap();
    assert!(st.marked[row], "marked in the table, ready for R");
    let effects = update(&mut st, Action::Saved(Ok(())));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Audit { event, .. }
            if event.action() == keyward::audit::AuditAction::Adopted)),
        "{effects:?}"
    );
    // Adopting it again finds nothing untracked there.
    press(&mut st, KeyCode::Char('k'));
    let effects = press(&mut st, KeyCode::Char('a'));
    assert!(effects.is_empty());
}
