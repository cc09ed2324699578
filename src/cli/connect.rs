//! `keyward connect CLIENT/INTEGRATION --connection ID`: connects an OAuth 2.0 account with
//! the device authorization grant (RFC 8628), made for SSH sessions: keyward prints a URL and
//! a code, the person approves in any browser, and the refresh token the server issues goes
//! straight into the encrypted inventory as the credential's secret, never to the screen.
//!
//! The write lock is taken only once the grant has arrived (approval can take minutes and
//! must not hold off other writers); a read-only look first makes sure the grant can be
//! recorded, so nobody approves for nothing. Once the token exists, saving it comes before
//! anything else, and if it cannot be saved it is revoked at the server again.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::exit::Exit;
use super::Context;
use crate::inventory::{
    locate, validate, Connection, Credential, CredentialRef, HistoryEntry, Inventory, ProviderKind,
};
use crate::providers::http::{Http, HttpConfig};
use crate::providers::oauth2::{
    device_start, fingerprint, DevicePoll, DevicePrompt, OAuth2, Tokens,
};
use crate::providers::revocation::{self, Revocation};
use crate::providers::Target;
use crate::secret::Secret;
use crate::store::StoreError;

/// Exit code: the person declined the request.
const EXIT_DENIED: i32 = Exit::Declined.as_code();
/// Exit code: the code expired before anyone approved it.
const EXIT_EXPIRED: i32 = Exit::TimedOut.as_code();
/// Exit code: interrupted with Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_CANCELLED: i32 = Exit::Interrupted.as_code();
/// How long to wait for another writer to release the lock once the grant has arrived.
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How often to try the lock meanwhile.
const LOCK_RETRY: Duration = Duration::from_millis(200);

/// Arguments of `keyward connect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The refresh token is stored as the credential's secret (provider oauth2, remote id = its \
fingerprint) and never printed. Connecting an existing oauth2 credential of the same \
connection replaces its token, e.g. after a replay revoked the old grant.

Many servers issue a refresh token only for `--scope offline_access`.

Exit codes: 0 connected, 1 error, 7 the request was declined, 8 the code expired before it \
was approved, 130 cancelled with Ctrl-C. Nothing is stored unless the exit code is 0.")]
pub struct Args {
    /// Where to record it, as CLIENT/INTEGRATION (the client is created if new).
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub credential: CredentialRef,
    /// The oauth2 connection naming the server and keyward's client there.
    #[arg(long, value_name = "ID")]
    pub connection: String,
    /// A scope to ask for. Repeatable. Default: the server's default scopes.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Print the prompt and the result as JSON lines (the token never): set from the
    /// global `--json`.
    #[arg(skip)]
    pub json: bool,
}

/// What the grant gave, as the inventory keeps it.
struct Granted {
    refresh_token: Secret,
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
    access_expires_at: Option<DateTime<Utc>>,
}

/// Why the grant could not be recorded after it arrived.
enum Unsaved {
    /// Ctrl-C while waiting for the lock.
    Cancelled,
    /// Anything else.
    Failed(anyhow::Error),
}

/// Runs `keyward connect`.
pub fn run(ctx: &Context, args: Args) -> Result<i32> {
    let connection = {
        let (_, inv) = ctx.open()?;
        recordable(&inv, &args, ctx)?
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(connect(ctx, &args, connection))
}

/// Checks that `args` can be recorded in `inv` and returns the connection to use.
fn recordable(inv: &Inventory, args: &Args, ctx: &Context) -> Result<Connection> {
    let path = ctx.inventory_shown();
    let at = &args.credential;
    let id = &args.connection;
    let Some(conn) = inv.connection(id) else {
        let known: Vec<&str> = inv
            .connections
            .iter()
            .filter(|c| c.provider == ProviderKind::Oauth2)
            .map(|c| c.id.as_str())
            .collect();
        if known.is_empty() {
            bail!("{path}: no connection `{id}`, and no oauth2 connection at all; add one with `keyward import`");
        }
        bail!(
            "{path}: no connection `{id}`; oauth2 connections: {}",
            known.join(", ")
        );
    };
    if conn.provider != ProviderKind::Oauth2 {
        bail!(
            "{path}: connection `{id}` is for {}, not oauth2",
            conn.provider
        );
    }
    match inv.credential(at) {
        Some(cred) if cred.provider != ProviderKind::Oauth2 => bail!(
            "{path}: `{at}` already exists as a {} credential; connect stores OAuth 2.0 refresh \
             tokens only, so pick another INTEGRATION",
            cred.provider
        ),
        Some(cred) if cred.connection.as_deref() != Some(id.as_str()) => bail!(
            "{path}: `{at}` belongs to connection `{}`, not `{id}`",
            cred.connection.as_deref().unwrap_or("(none)")
        ),
        Some(cred)
            if cred.params.get("grant").map(String::as_str) == Some("client_credentials") =>
        {
            bail!("{path}: `{at}` holds a client secret (`params.grant: client_credentials`), not a refresh token")
        }
        Some(cred) if cred.rotation.is_some() => {
            bail!("{path}: `{at}` has a rotation in flight; resume it or roll it back first")
        }
        Some(_) => {}
        None => {
            // A new address must pass the checks every save runs (ids, references).
            let mut trial = inv.clone();
            let mut cred = Credential::new(&at.integration, ProviderKind::Oauth2);
            cred.connection = Some(id.clone());
            trial.insert(&at.client, cred);
            if let Some((key, why)) = validate::check(&trial).first() {
                bail!(
                    "{path}: cannot record `{at}`: {}: {why}",
                    locate::render(key)
                );
            }
        }
    }
    Ok(conn.clone())
}

/// The device flow, then the save.
async fn connect(ctx: &Context, args: &Args, conn: Connection) -> Result<i32> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let http = Http::new(HttpConfig::default());
    let at = &args.credential;
    let started = tokio::select! {
        started = device_start(&conn, &args.scopes, &http) => started,
        _ = interrupt.recv() => return Ok(cancelled(args, "nothing was stored")),
    };
    let mut flow = started.with_context(|| format!("{at}: cannot start the device flow"))?;
    show_prompt(args, flow.prompt())?;
    let tokens = loop {
        tokio::select! {
            () = tokio::time::sleep(flow.interval()) => {}
            _ = interrupt.recv() => return Ok(cancelled(args, "nothing was stored")),
        }
        // A poll is not interrupted: its answer may be the grant, which must not be lost.
        match flow
            .poll()
            .await
            .with_context(|| format!("{at}: waiting for approval"))?
        {
            DevicePoll::Pending | DevicePoll::SlowDown => {}
            DevicePoll::Done(tokens) => break tokens,
            DevicePoll::Denied => {
                return Ok(ended(
                    args,
                    "denied",
                    EXIT_DENIED,
                    "the authorization request was declined; nothing was stored",
                ))
            }
            DevicePoll::Expired => {
                return Ok(ended(
                    args,
                    "expired",
                    EXIT_EXPIRED,
                    "the code expired before it was approved; nothing was stored: run connect again for a new code",
                ))
            }
        }
    };
    let Tokens {
        access_token,
        refresh_token,
        expires_at: access_expires_at,
        refresh_expires_at,
        scopes,
        ..
    } = tokens;
    // The access token is not kept (see the oauth2 provider): dropping it zeroizes it.
    drop(access_token);
    let Some(refresh_token) = refresh_token else {
        bail!(
            "{at}: the server approved but issued no refresh token, so there is nothing to keep; \
             connect again with `--scope offline_access` (most servers issue refresh tokens only for it)"
        );
    };
    let granted = Granted {
        refresh_token,
        // RFC 6749 §5.1: an answer without `scope` granted what was asked for.
        scopes: if scopes.is_empty() {
            args.scopes.clone()
        } else {
            scopes
        },
        expires_at: refresh_expires_at,
        access_expires_at,
    };
    let replaced = match save(ctx, args, &conn, &granted, &mut interrupt).await {
        Ok(replaced) => replaced,
        Err(unsaved) => return revoke_unsaved(args, &conn, &http, &granted, unsaved).await,
    };
    show_result(args, &conn, &granted, replaced.as_deref())?;
    Ok(0)
}

/// Takes the lock (waiting a while for another writer), checks again, records the grant and
/// saves. Returns the replaced token's fingerprint, if there was one.
async fn save(
    ctx: &Context,
    args: &Args,
    conn: &Connection,
    granted: &Granted,
    interrupt: &mut Signal,
) -> std::result::Result<Option<String>, Unsaved> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    let mut told = false;
    let (mut store, mut inv) = loop {
        match ctx.open_for_write() {
            Ok(opened) => break opened,
            Err(e) => {
                let Some(StoreError::Locked { pid, .. }) = e.downcast_ref::<StoreError>() else {
                    return Err(Unsaved::Failed(e));
                };
                if tokio::time::Instant::now() >= deadline {
                    return Err(Unsaved::Failed(e));
                }
                if !told && !args.json {
                    println!("Approved. Waiting for process {pid} to release the inventory…");
                    told = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(LOCK_RETRY) => {}
            _ = interrupt.recv() => return Err(Unsaved::Cancelled),
        }
    };
    // The inventory may have changed while the person was approving.
    let fresh = recordable(&inv, args, ctx).map_err(Unsaved::Failed)?;
    if &fresh != conn {
        return Err(Unsaved::Failed(anyhow!(
            "{}: connection `{}` changed while waiting for approval",
            ctx.inventory_shown(),
            conn.id
        )));
    }
    let replaced = record(&mut inv, args, granted, ctx.now()).map_err(Unsaved::Failed)?;
    ctx.save(&mut store, &inv).map_err(Unsaved::Failed)?;
    let detail = match &replaced {
        Some(_) => format!("refresh token replaced (connection `{}`)", conn.id),
        None => format!("refresh token stored (connection `{}`)", conn.id),
    };
    super::audit::record(
        ctx,
        crate::audit::Event::new(
            crate::audit::AuditAction::Connected,
            Some(&args.credential),
            detail,
        ),
    )
    .map_err(Unsaved::Failed)?;
    Ok(replaced)
}

/// Writes the grant into the credential at `args.credential`, creating it if new. Returns
/// the replaced token's fingerprint, if there was one.
fn record(
    inv: &mut Inventory,
    args: &Args,
    granted: &Granted,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let at = &args.credential;
    let existed = inv.credential(at).is_some();
    if !existed {
        inv.insert(
            &at.client,
            Credential::new(&at.integration, ProviderKind::Oauth2),
        );
    }
    let cred = inv
        .credential_mut(at)
        .ok_or_else(|| anyhow!("`{at}` vanished from the inventory while recording it"))?;
    let remote_id = fingerprint(&granted.refresh_token);
    let replaced = cred
        .secret
        .as_ref()
        .map(|old| cred.remote_id.clone().unwrap_or_else(|| fingerprint(old)));
    cred.connection = Some(args.connection.clone());
    cred.remote_id = Some(remote_id);
    cred.secret = Some(granted.refresh_token.clone());
    cred.scopes = granted.scopes.clone();
    cred.created_at = Some(now);
    cred.expires_at = granted.expires_at;
    match granted.access_expires_at {
        Some(t) => cred
            .params
            .insert("access_token_expires_at".into(), t.to_rfc3339()),
        None => cred.params.remove("access_token_expires_at"),
    };
    if replaced.is_some() {
        // A new secret: the old one's rotation date and remote state no longer apply.
        cred.last_rotated_at = Some(now);
        cred.remote = None;
    }
    cred.history.push(HistoryEntry {
        at: now,
        event: crate::inventory::HistoryEvent::Connected,
        detail: match &replaced {
            Some(old) => format!(
                "device flow on connection `{}`; replaced {old}",
                args.connection
            ),
            None => format!("device flow on connection `{}`", args.connection),
        },
    });
    Ok(replaced)
}

/// The grant could not be saved: revokes the token so no live grant is left unrecorded,
/// and says what happened.
async fn revoke_unsaved(
    args: &Args,
    conn: &Connection,
    http: &Http,
    granted: &Granted,
    unsaved: Unsaved,
) -> Result<i32> {
    let at = &args.credential;
    let remote_id = fingerprint(&granted.refresh_token);
    let mut credential = Credential::new(&at.integration, ProviderKind::Oauth2);
    credential.connection = Some(conn.id.clone());
    credential.remote_id = Some(remote_id.clone());
    credential.secret = Some(granted.refresh_token.clone());
    let target = Target {
        at: at.clone(),
        credential,
        connection: Some(conn.clone()),
    };
    let revoked = revocation::revoke(&OAuth2::new(http), &target, &remote_id).await;
    let fate = match &revoked {
        Ok(Revocation::Revoked) => {
            "the new refresh token was revoked at the server; nothing was stored".to_string()
        }
        Ok(Revocation::IssuerSays { note }) => format!(
            "the new refresh token was revoked at the server as far as it says ({note}); \
             nothing was stored"
        ),
        Ok(v) if v.is_confirmed() => format!(
            "{}; nothing was stored",
            v.describe("the new refresh token")
        ),
        Ok(v) => format!(
            "{}: revoke the grant in the server's console; nothing was stored",
            v.describe("the new refresh token")
        ),
        Err(e) => format!(
            "revoking the new refresh token failed too ({e}): the grant stays live at the server \
             until it expires; revoke it in the server's console"
        ),
    };
    match unsaved {
        Unsaved::Cancelled => Ok(cancelled(args, &fate)),
        Unsaved::Failed(e) => Err(e.context(format!("{at}: approved, but not saved; {fate}"))),
    }
}

/// Prints what the person must do. Server-supplied text has its control characters escaped
/// in text mode: a hostile server must not drive the terminal.
fn show_prompt(args: &Args, prompt: &DevicePrompt) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let line = json!({
            "event": "prompt",
            "credential": args.credential.to_string(),
            "verification_uri": prompt.verification_uri,
            "verification_uri_complete": prompt.verification_uri_complete,
            "user_code": prompt.user_code,
            "expires_in": prompt.expires_in.as_secs(),
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "To connect {}, open this page in a browser on any device:\n\n    {}\n\n\
             and enter the code:\n\n    {}\n",
            args.credential,
            printable(&prompt.verification_uri),
            printable(&prompt.user_code),
        )?;
        if let Some(complete) = &prompt.verification_uri_complete {
            writeln!(
                out,
                "Or open this link, which carries the code:\n\n    {}\n",
                printable(complete)
            )?;
        }
        writeln!(
            out,
            "The code expires in {}. Waiting for approval (Ctrl-C cancels)…",
            span(prompt.expires_in)
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Prints the outcome of a successful connect.
fn show_result(
    args: &Args,
    conn: &Connection,
    granted: &Granted,
    replaced: Option<&str>,
) -> Result<()> {
    let remote_id = fingerprint(&granted.refresh_token);
    let mut out = std::io::stdout().lock();
    if args.json {
        let line = json!({
            "event": "connected",
            "credential": args.credential.to_string(),
            "connection": conn.id,
            "remote_id": remote_id,
            "scopes": granted.scopes,
            "expires_at": granted.expires_at.map(|t| t.to_rfc3339()),
            "replaced": replaced,
        });
        writeln!(out, "{line}")?;
    } else {
        let scopes = if granted.scopes.is_empty() {
            "the server's defaults".to_string()
        } else {
            granted.scopes.join(" ")
        };
        let verb = if replaced.is_some() {
            "Reconnected"
        } else {
            "Connected"
        };
        writeln!(
            out,
            "{verb} {} through connection `{}` (scopes: {}); refresh token {remote_id} stored{}.",
            args.credential,
            conn.id,
            printable(&scopes),
            match granted.expires_at {
                Some(t) => format!(", expires {}", t.format("%Y-%m-%d %H:%M UTC")),
                None => String::new(),
            }
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Reports a flow that ended without a grant: a JSON line in `--json` mode, and one line on
/// stderr either way. Returns the exit code.
fn ended(args: &Args, event: &str, code: i32, message: &str) -> i32 {
    if args.json {
        println!(
            "{}",
            json!({"event": event, "credential": args.credential.to_string(), "message": message})
        );
    }
    eprintln!("keyward: {}: {message}", args.credential);
    code
}

fn cancelled(args: &Args, fate: &str) -> i32 {
    ended(
        args,
        "cancelled",
        EXIT_CANCELLED,
        &format!("cancelled; {fate}"),
    )
}

/// `text` with control characters (escape sequences, newlines) shown escaped: the one rule
/// every command prints outside text by.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::terminal_safe(text)
}

/// "10 minutes", "45 seconds".
fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 120 {
        format!("{} minutes", s / 60)
    } else {
        format!("{s} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_escape_sequences_and_newlines() {
        assert_eq!(printable("ABCD\x1b[2J-EFGH\n"), "ABCD\\x1b[2J-EFGH\\n");
    }

    #[test]
    fn span_reads_minutes_from_two_on() {
        assert_eq!(span(Duration::from_secs(600)), "10 minutes");
        assert_eq!(span(Duration::from_secs(90)), "90 seconds");
    }
}
