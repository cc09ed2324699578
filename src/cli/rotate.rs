//! `keyward rotate`, `keyward resume` and `keyward revoke`: pick credentials, show the plan,
//! confirm, run the rotation engine with a progress bar on stderr (plain lines when stderr
//! is not a terminal), and print a summary.
//!
//! Exit codes: 0 everything finished; 1 something failed; 4 something waits for a person
//! (finish it with `keyward resume`). On a terminal, steps needing a person are asked
//! there; without one they wait (or, with `--yes`, are confirmed up front).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{Duration, Utc};
use clap::ArgGroup;
use tokio::sync::mpsc;

use super::{require, Context};
use crate::audit::{AuditLog, Event};
use crate::inventory::CredentialRef;
use crate::providers::http::Http;
use crate::rotation::plan::select;
use crate::rotation::{
    Engine, Interact, Options, OutcomeKind, Plan, Providers, Question, RotationEvent, Selection,
    Summary,
};
use crate::secret::Secret;
use crate::text::terminal_safe;

/// Exit code when nothing failed but something waits for a person.
const EXIT_WAITING: i32 = 4;

/// How the engine runs: shared by the three commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Confirm up front: the plan, manual deploys, keys the provider cannot check (a key
    /// revoked by hand is still asked about, on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Credentials worked on at once.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    /// Credentials worked on at once against one provider.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub per_provider: u16,
    /// Days a deactivated old key is kept before it is deleted (0: delete at once).
    #[arg(long, default_value_t = 7, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub grace_days: u32,
}

/// Arguments of `keyward rotate`.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("which").required(true).args(["refs", "expiring", "client", "overdue"])))]
pub struct RotateArgs {
    /// Credentials to rotate, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    /// Every credential expiring within DAYS days, or already expired.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["refs", "client", "overdue"], value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub expiring: Option<u32>,
    /// Every credential of this client.
    #[arg(long, value_name = "CLIENT", conflicts_with_all = ["refs", "overdue"])]
    pub client: Option<String>,
    /// Every credential past its rotation date or its expiry.
    #[arg(long, conflicts_with = "refs")]
    pub overdue: bool,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `keyward resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Only these credentials (default: every interrupted rotation).
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    /// Undo instead of finishing: delete the new key and put the old secret back.
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `keyward revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// Credentials to revoke, as CLIENT/INTEGRATION.
    #[arg(required = true, value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    /// Delete the key now instead of deactivating it and deleting it after the grace period.
    #[arg(long)]
    pub emergency: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

/// A person at the terminal, or nobody; `--yes` answers every confirmation in advance.
struct Terminal {
    yes: bool,
    interactive: bool,
    /// Held while prompting or drawing, so the progress bar never writes over a question.
    screen: tokio::sync::Mutex<()>,
}

fn read_answer(question: &str) -> bool {
    eprint!("\r\x1b[2K{} [y/N] ", terminal_safe(question));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = match std::fs::File::open("/dev/tty") {
        Ok(tty) => std::io::BufReader::new(tty).read_line(&mut line),
        Err(_) => std::io::stdin().lock().read_line(&mut line),
    };
    read.is_ok() && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[async_trait]
impl Interact for Terminal {
    async fn confirm(&self, at: &CredentialRef, question: &Question) -> bool {
        if self.yes && question.answerable_in_advance() {
            return true;
        }
        if !self.interactive {
            return false;
        }
        let _screen = self.screen.lock().await;
        let text = format!("{at}: {}", question.text());
        tokio::task::spawn_blocking(move || read_answer(&text))
            .await
            .unwrap_or(false)
    }

    async fn enter_secret(&self, at: &CredentialRef, instructions: &str) -> Option<Secret> {
        if !self.interactive {
            return None;
        }
        let _screen = self.screen.lock().await;
        let prompt = format!(
            "\r\x1b[2K{at}: {}.\nPaste the new secret (hidden): ",
            terminal_safe(instructions)
        );
        tokio::task::spawn_blocking(move || {
            let typed = zeroize::Zeroizing::new(rpassword::prompt_password(prompt).ok()?);
            let value = typed.trim();
            (!value.is_empty()).then(|| Secret::new(value))
        })
        .await
        .ok()
        .flatten()
    }
}

/// The audit actions a command's outcomes are logged as.
#[derive(Clone, Copy)]
struct Verbs {
    done: &'static str,
    failed: &'static str,
    waiting: &'static str,
}

const ROTATE: Verbs = Verbs {
    done: "rotated",
    failed: "rotation-failed",
    waiting: "rotation-waiting",
};
const RESUME: Verbs = Verbs {
    done: "resumed",
    failed: "resume-failed",
    waiting: "rotation-waiting",
};
const ROLLBACK: Verbs = Verbs {
    done: "rolled-back",
    failed: "rollback-failed",
    waiting: "rotation-waiting",
};
const REVOKE: Verbs = Verbs {
    done: "revoked",
    failed: "revocation-failed",
    waiting: "revocation-waiting",
};
const DELETE_OLD: Verbs = Verbs {
    done: "deleted-old-key",
    failed: "delete-old-key-failed",
    waiting: "delete-old-key-waiting",
};

/// The engine, its runtime, the terminal it asks on and the log it reports to.
struct Session {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    terminal: Arc<Terminal>,
    audit: Arc<AuditLog>,
    /// Set when an outcome could not be logged: the run then exits non-zero.
    unlogged: Arc<AtomicBool>,
}

impl Session {
    fn open(ctx: &Context, args: &RunArgs) -> Result<Session> {
        let (store, inventory) = ctx.open_for_write()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let _inside = runtime.enter();
        let terminal = Arc::new(Terminal {
            yes: args.yes,
            interactive: std::io::stdin().is_terminal(),
            screen: tokio::sync::Mutex::new(()),
        });
        // Dates follow --now when given, moving with the real clock from there.
        let (base, started) = (ctx.now(), Utc::now());
        let options = Options {
            concurrency: usize::from(args.concurrency),
            per_provider: usize::from(args.per_provider),
            grace: Duration::days(i64::from(args.grace_days)),
            clock: Arc::new(move || base + (Utc::now() - started)),
            ..Options::default()
        };
        let engine = Engine::new(
            inventory,
            Box::new(store),
            Providers::for_inventory(&Http::default(), &ctx.inventory),
            terminal.clone(),
            options,
        );
        Ok(Session {
            runtime,
            engine,
            terminal,
            audit: Arc::new(AuditLog::for_inventory(&ctx.inventory)),
            unlogged: Arc::default(),
        })
    }

    /// Runs `work` with progress shown for `total` credentials, logging each outcome in
    /// the audit log as it settles (after its last save).
    fn run<F>(&self, total: usize, verbs: Verbs, work: F) -> Summary
    where
        F: std::future::Future<Output = Summary>,
    {
        let events = self.engine.subscribe();
        let fancy = std::io::stderr().is_terminal();
        let report = Report {
            total,
            fancy,
            terminal: self.terminal.clone(),
            audit: self.audit.clone(),
            verbs,
            unlogged: self.unlogged.clone(),
        };
        let drawer = self.runtime.spawn(show_progress(events, report));
        let summary = self.runtime.block_on(work);
        self.engine.close_events();
        let _ = self.runtime.block_on(drawer);
        if fancy {
            eprint!("\r\x1b[2K");
        }
        summary
    }
}

fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 24;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

/// Where a run's events go.
struct Report {
    total: usize,
    fancy: bool,
    terminal: Arc<Terminal>,
    audit: Arc<AuditLog>,
    verbs: Verbs,
    unlogged: Arc<AtomicBool>,
}

impl Report {
    fn log(&self, action: &'static str, at: &str, detail: &str) -> Option<String> {
        let at: CredentialRef = at.parse().ok()?;
        let e = self
            .audit
            .record(Event::new(action, Some(&at), detail))
            .err()?;
        self.unlogged.store(true, Ordering::Relaxed);
        Some(format!("{at}: done, but not logged: {e}"))
    }
}

async fn show_progress(mut events: mpsc::UnboundedReceiver<RotationEvent>, report: Report) {
    let Report {
        total,
        fancy,
        ref terminal,
        verbs,
        ..
    } = report;
    let (mut done, mut failed, mut waiting) = (0, 0, 0);
    let mut current = String::new();
    while let Some(event) = events.recv().await {
        let unlogged = match &event {
            RotationEvent::Finished { at, message, .. } => report.log(verbs.done, at, message),
            RotationEvent::Failed { at, reason, .. } => report.log(verbs.failed, at, reason),
            RotationEvent::Waiting { at, reason, .. } => report.log(verbs.waiting, at, reason),
            _ => None,
        };
        let line = match &event {
            RotationEvent::Step { at, phase } => {
                current = format!("{at}: {phase}");
                None
            }
            RotationEvent::Warning { at, message } => Some(format!("{at}: note: {message}")),
            RotationEvent::Finished {
                at,
                message,
                progress,
            } => {
                (done, failed, waiting) = (progress.done, progress.failed, progress.waiting);
                Some(format!("{at}: done: {message}"))
            }
            RotationEvent::Failed {
                at,
                reason,
                progress,
            } => {
                (done, failed, waiting) = (progress.done, progress.failed, progress.waiting);
                Some(format!("{at}: FAILED: {reason}"))
            }
            RotationEvent::Waiting {
                at,
                reason,
                progress,
            } => {
                (done, failed, waiting) = (progress.done, progress.failed, progress.waiting);
                Some(format!("{at}: waiting for {reason}"))
            }
            RotationEvent::Started { .. } | RotationEvent::Retrying { .. } => None,
        };
        let _screen = terminal.screen.lock().await;
        let mut err = std::io::stderr().lock();
        let lines = line.into_iter().chain(unlogged);
        if fancy {
            for l in lines {
                let _ = writeln!(err, "\r\x1b[2K{}", terminal_safe(&l));
            }
            let settled = done + failed + waiting;
            let _ = write!(
                err,
                "\r\x1b[2K{} {settled}/{total}  done {done}  failed {failed}  waiting {waiting}  {current}",
                bar(settled, total),
                current = terminal_safe(&current)
            );
        } else {
            for l in lines {
                let _ = writeln!(err, "{}", terminal_safe(&l));
            }
        }
        let _ = err.flush();
    }
}

/// Prints one line that holds user or provider text: escaped, never obeyed.
fn say(line: String) {
    println!("{}", terminal_safe(&line));
}

fn print_plan(plan: &Plan) {
    println!("Plan: {} credential(s)", plan.items.len());
    for item in &plan.items {
        let style = item
            .style
            .map(|s| match s {
                crate::providers::RotationStyle::CreateThenRevoke => "create-then-revoke",
                crate::providers::RotationStyle::RollInPlace => "roll-in-place",
                crate::providers::RotationStyle::Manual => "manual",
            })
            .unwrap_or("-");
        say(format!(
            "  {}  {}  {}  ({})",
            item.at, item.provider, style, item.why
        ));
        if let Some(b) = &item.blocked {
            say(format!("      cannot go ahead: {b}"));
            continue;
        }
        let steps: Vec<&str> = item.steps.iter().map(|s| s.as_str()).collect();
        println!("      steps: {}", steps.join(" > "));
        for p in &item.needs_person {
            say(format!("      needs {p}"));
        }
        for w in &item.warnings {
            say(format!("      WARNING: {w}"));
        }
    }
}

/// Prints the outcomes and returns the exit code.
fn finish(session: &Session, verb: &str, summary: &Summary, cleanup: &Summary) -> i32 {
    let failed = summary.count(OutcomeKind::Failed) + cleanup.count(OutcomeKind::Failed);
    let waiting = summary.count(OutcomeKind::Waiting);
    println!(
        "{verb}: {} done, {} failed, {} waiting for a person.",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        waiting
    );
    let few = summary.outcomes.len() <= 20;
    for o in summary.outcomes.iter().chain(&cleanup.outcomes) {
        let label = match o.kind {
            OutcomeKind::Done if !few => continue,
            OutcomeKind::Done => "done",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Waiting => "waiting",
        };
        say(format!("  {label:<8}{}: {}", o.at, o.message));
    }
    if failed + waiting > 0 {
        println!(
            "The inventory records where each stopped: `keyward resume` continues, `keyward \
             resume --rollback` undoes."
        );
    }
    if failed > 0 || session.unlogged.load(Ordering::Relaxed) {
        1
    } else if waiting > 0 {
        EXIT_WAITING
    } else {
        0
    }
}

impl Session {
    /// Deletes the old keys whose grace period is over.
    fn delete_due(&self) -> Summary {
        let now = self.engine.now();
        let due = self
            .engine
            .inventory()
            .credentials()
            .filter(|(_, _, c)| c.pending_revocations.iter().any(|p| p.delete_after <= now))
            .count();
        if due == 0 {
            return Summary::default();
        }
        self.run(due, DELETE_OLD, self.engine.delete_due())
    }
}

/// Runs `keyward rotate`.
pub fn run_rotate(ctx: &Context, args: RotateArgs) -> Result<i32> {
    let session = Session::open(ctx, &args.run)?;
    let inventory = session.engine.inventory();
    let selection = if let Some(days) = args.expiring {
        Selection::Expiring(days)
    } else if let Some(client) = &args.client {
        Selection::Client(client.clone())
    } else if args.overdue {
        Selection::Overdue
    } else {
        for at in &args.refs {
            require(&inventory, at, &ctx.inventory)?;
        }
        Selection::Refs(args.refs.clone())
    };
    let chosen = select(&inventory, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
    if chosen.is_empty() {
        println!("Nothing to rotate.");
        return Ok(0);
    }
    let mut plan = session.runtime.block_on(session.engine.plan(chosen));
    print_plan(&plan);
    if args.dry_run {
        println!("Dry run: nothing was changed.");
        return Ok(0);
    }
    let ready = plan.ready().count();
    if !args.run.yes && session.terminal.interactive && ready > 0 {
        if !read_answer(&format!("Rotate {ready} credential(s)?")) {
            println!("Nothing was changed.");
            return Ok(0);
        }
    } else if !args.run.yes {
        // Nobody confirmed the plan: what kills the old value at once is left alone.
        for item in plan.items.iter_mut().filter(|i| i.blocked.is_none()) {
            if item.style == Some(crate::providers::RotationStyle::RollInPlace) {
                item.blocked = Some(
                    "rolls in place (the old value dies at once): confirm on a terminal or pass \
                     --yes"
                        .into(),
                );
            }
        }
    }
    let summary = session.run(plan.items.len(), ROTATE, session.engine.rotate(&plan));
    let cleanup = session.delete_due();
    Ok(finish(&session, "Rotated", &summary, &cleanup))
}

/// Runs `keyward resume`.
pub fn run_resume(ctx: &Context, args: ResumeArgs) -> Result<i32> {
    let session = Session::open(ctx, &args.run)?;
    let inventory = session.engine.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let in_flight: Vec<String> = inventory
        .credentials()
        .filter(|(at, _, c)| {
            c.rotation.is_some() && (args.refs.is_empty() || args.refs.contains(at))
        })
        .map(|(at, _, c)| {
            let j = c.rotation.as_ref().map(|j| j.summary()).unwrap_or_default();
            format!("{at}: {j}")
        })
        .collect();
    if in_flight.is_empty() {
        println!("Nothing in flight.");
    } else {
        for line in &in_flight {
            say(format!("  {line}"));
        }
        if args.rollback && !args.run.yes {
            let asked = session.terminal.interactive
                && read_answer(&format!("Roll back {} rotation(s)?", in_flight.len()));
            if !asked {
                bail!("rolling back needs a confirmation: answer on a terminal or pass --yes");
            }
        }
    }
    let summary = if in_flight.is_empty() {
        Summary::default()
    } else {
        let verbs = if args.rollback { ROLLBACK } else { RESUME };
        session.run(
            in_flight.len(),
            verbs,
            session.engine.resume(&args.refs, args.rollback),
        )
    };
    let cleanup = session.delete_due();
    let verb = if args.rollback {
        "Rolled back"
    } else {
        "Resumed"
    };
    Ok(finish(&session, verb, &summary, &cleanup))
}

/// Runs `keyward revoke`.
pub fn run_revoke(ctx: &Context, args: RevokeArgs) -> Result<i32> {
    let session = Session::open(ctx, &args.run)?;
    let inventory = session.engine.inventory();
    for at in &args.refs {
        let c = require(&inventory, at, &ctx.inventory)?;
        let last_used = c
            .last_used_at
            .map(|t| format!(", last used {}", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        say(format!(
            "  {at}  {}  key {}{last_used}",
            c.provider,
            c.remote_id.as_deref().unwrap_or("(none recorded)")
        ));
    }
    if !args.run.yes {
        let what = if args.emergency {
            "Delete these keys now? This cannot be undone."
        } else {
            "Deactivate these keys now (deleted after the grace period)?"
        };
        if !(session.terminal.interactive && read_answer(what)) {
            bail!("revoking needs a confirmation: answer on a terminal or pass --yes");
        }
    }
    let summary = session.run(
        args.refs.len(),
        REVOKE,
        session.engine.revoke(&args.refs, args.emergency),
    );
    let cleanup = session.delete_due();
    Ok(finish(&session, "Revoked", &summary, &cleanup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_progress() {
        assert_eq!(bar(0, 4), format!("[{}]", "-".repeat(24)));
        assert_eq!(bar(2, 4), format!("[{}{}]", "#".repeat(12), "-".repeat(12)));
        assert_eq!(bar(0, 0), format!("[{}]", "#".repeat(24)));
    }
}
