//! `keyward rotate`, `keyward resume` and `keyward revoke`: pick credentials (the shared
//! selection flags), show the plan, confirm, run them through [`crate::ops::Runner`] (which
//! writes the audit entries, as for the dashboard) with progress on stderr (indicatif bars on a
//! terminal, plain lines otherwise), and print a summary.
//!
//! Exit codes: 0 everything finished; 1 something failed; 4 something waits for a person
//! (finish it with `keyward resume`). On a terminal, steps needing a person are asked
//! there; without one they wait (or, with `--yes`, are confirmed up front).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{Duration, Utc};
use clap::ArgGroup;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::select::SelectArgs;
use super::{require, Context};
use crate::inventory::CredentialRef;
use crate::ops::{select, RunConfig, Runner};
use crate::rotation::{Interact, OutcomeKind, Plan, Question, RotationEvent, Summary};
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
#[command(group(ArgGroup::new("which").required(true).multiple(true).args(["refs", "due", "client", "overdue", "stale"])))]
pub struct RotateArgs {
    /// Credentials to rotate, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    #[command(flatten)]
    pub select: SelectArgs,
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
#[command(group(ArgGroup::new("which").required(true).multiple(true).args(["refs", "due", "client", "overdue", "stale"])))]
pub struct RevokeArgs {
    /// Credentials to revoke, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION")]
    pub refs: Vec<CredentialRef>,
    #[command(flatten)]
    pub select: SelectArgs,
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
    /// Held while prompting, so two questions never interleave.
    screen: tokio::sync::Mutex<()>,
    /// The progress bars, hidden while a question is asked.
    bars: MultiProgress,
}

fn read_answer(question: &str) -> bool {
    eprint!("{} [y/N] ", terminal_safe(question));
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
        let bars = self.bars.clone();
        tokio::task::spawn_blocking(move || bars.suspend(|| read_answer(&text)))
            .await
            .unwrap_or(false)
    }

    async fn enter_secret(&self, at: &CredentialRef, instructions: &str) -> Option<Secret> {
        if !self.interactive {
            return None;
        }
        let _screen = self.screen.lock().await;
        let prompt = format!(
            "{at}: {}.\nPaste the new secret (hidden): ",
            terminal_safe(instructions)
        );
        let bars = self.bars.clone();
        tokio::task::spawn_blocking(move || {
            bars.suspend(|| {
                let typed = zeroize::Zeroizing::new(rpassword::prompt_password(prompt).ok()?);
                let value = typed.trim();
                (!value.is_empty()).then(|| Secret::new(value))
            })
        })
        .await
        .ok()
        .flatten()
    }
}

/// The runner, its runtime and the terminal it asks on.
struct Session {
    runtime: tokio::runtime::Runtime,
    runner: Runner,
    terminal: Arc<Terminal>,
}

impl Session {
    fn open(ctx: &Context, args: &RunArgs) -> Result<Session> {
        let (store, inventory) = ctx.open_for_write_asking(!args.yes)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let _inside = runtime.enter();
        let fancy = std::io::stderr().is_terminal();
        let terminal = Arc::new(Terminal {
            yes: args.yes,
            interactive: std::io::stdin().is_terminal(),
            screen: tokio::sync::Mutex::new(()),
            bars: MultiProgress::with_draw_target(if fancy {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            }),
        });
        // Dates follow --now when given, moving with the real clock from there.
        let (base, started) = (ctx.now(), Utc::now());
        let config = RunConfig {
            concurrency: usize::from(args.concurrency),
            per_provider: usize::from(args.per_provider),
            grace: Duration::days(i64::from(args.grace_days)),
            clock: Arc::new(move || base + (Utc::now() - started)),
        };
        let runner = Runner::for_inventory(
            inventory,
            Box::new(store),
            &ctx.inventory,
            terminal.clone(),
            config,
        );
        Ok(Session {
            runtime,
            runner,
            terminal,
        })
    }

    /// Runs `work` with progress shown for `total` credentials: on a terminal a bar with a
    /// line per running credential, otherwise plain lines.
    fn run<F>(&self, total: usize, work: F) -> Summary
    where
        F: std::future::Future<Output = Summary>,
    {
        let events = self.runner.subscribe();
        let fancy = std::io::stderr().is_terminal();
        let drawer = self.runtime.spawn(show_progress(
            events,
            total,
            fancy.then(|| self.terminal.bars.clone()),
        ));
        let summary = self.runtime.block_on(work);
        self.runner.close_events();
        let _ = self.runtime.block_on(drawer);
        let _ = self.terminal.bars.clear();
        summary
    }
}

/// Draws a run's events: a bar over the whole run and a spinner line per running
/// credential (indicatif), or, with `bars` `None`, one plain line per settled credential.
async fn show_progress(
    mut events: mpsc::UnboundedReceiver<RotationEvent>,
    total: usize,
    bars: Option<MultiProgress>,
) {
    let overall = bars.as_ref().map(|m| {
        let bar = m.add(ProgressBar::new(total as u64));
        bar.set_style(
            ProgressStyle::with_template("[{bar:24}] {pos}/{len}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#>-"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let mut lines: std::collections::HashMap<String, ProgressBar> = Default::default();
    let line_style = ProgressStyle::with_template("  {spinner} {prefix}: {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    while let Some(event) = events.recv().await {
        let (at, settled_line, progress) = match &event {
            RotationEvent::Started { at, work } => {
                if let Some(m) = &bars {
                    let line = m.add(ProgressBar::new_spinner());
                    line.set_style(line_style.clone());
                    line.set_prefix(at.clone());
                    line.set_message(work.as_str());
                    line.enable_steady_tick(std::time::Duration::from_millis(120));
                    lines.insert(at.clone(), line);
                }
                continue;
            }
            RotationEvent::Step { at, phase } => {
                if let Some(line) = lines.get(at) {
                    line.set_message(phase.as_str());
                }
                continue;
            }
            RotationEvent::Retrying {
                at,
                phase,
                attempt,
                reason,
            } => {
                if let Some(line) = lines.get(at) {
                    line.set_message(format!(
                        "{phase}: waiting to retry (attempt {attempt}: {reason})"
                    ));
                }
                continue;
            }
            RotationEvent::Warning { at, message } => (at, format!("{at}: note: {message}"), None),
            RotationEvent::Finished {
                at,
                message,
                progress,
            } => (at, format!("{at}: done: {message}"), Some(*progress)),
            RotationEvent::Failed {
                at,
                reason,
                progress,
            } => (at, format!("{at}: FAILED: {reason}"), Some(*progress)),
            RotationEvent::Waiting {
                at,
                reason,
                progress,
            } => (at, format!("{at}: waiting for {reason}"), Some(*progress)),
        };
        match (&bars, &overall) {
            (Some(m), Some(bar)) => {
                let _ = m.println(terminal_safe(&settled_line));
                if let Some(p) = progress {
                    if let Some(line) = lines.remove(at) {
                        line.finish_and_clear();
                        m.remove(&line);
                    }
                    bar.set_position(p.settled() as u64);
                    bar.set_message(format!(
                        "done {}  failed {}  waiting {}",
                        p.done, p.failed, p.waiting
                    ));
                }
            }
            _ => eprintln!("{}", terminal_safe(&settled_line)),
        }
    }
    if let Some(bar) = overall {
        bar.finish_and_clear();
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
            .map(crate::providers::RotationStyle::as_str)
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
    let unconfirmed =
        summary.count(OutcomeKind::Unconfirmed) + cleanup.count(OutcomeKind::Unconfirmed);
    let waiting = summary.count(OutcomeKind::Waiting) + unconfirmed;
    println!(
        "{verb}: {} done, {} failed, {} waiting for a person.",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        summary.count(OutcomeKind::Waiting)
    );
    if unconfirmed > 0 {
        println!(
            "{unconfirmed} revocation(s) unconfirmed: the provider could not confirm the key is \
             gone, so it may still work."
        );
    }
    let few = summary.outcomes.len() <= 20;
    for o in summary.outcomes.iter().chain(&cleanup.outcomes) {
        if o.kind == OutcomeKind::Done && !few {
            continue;
        }
        say(format!("  {:<8}{}: {}", o.kind.as_str(), o.at, o.message));
    }
    let unlogged = session.runner.unlogged();
    for line in &unlogged {
        say(format!("  {line}"));
    }
    if failed + waiting > 0 {
        println!(
            "The inventory records where each stopped: `keyward resume` continues, `keyward \
             resume --rollback` undoes."
        );
    }
    if failed > 0 || !unlogged.is_empty() {
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
        match self.runner.due_for_deletion() {
            0 => Summary::default(),
            due => self.run(due, self.runner.delete_due()),
        }
    }
}

/// Runs `keyward rotate`.
pub fn run_rotate(ctx: &Context, args: RotateArgs) -> Result<i32> {
    let session = Session::open(ctx, &args.run)?;
    let inventory = session.runner.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let selection = args.select.selection(&args.refs);
    let chosen = select(&inventory, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
    if chosen.is_empty() {
        println!("Nothing to rotate. (Selected: {}.)", selection.describe());
        return Ok(0);
    }
    let mut plan = session.runtime.block_on(session.runner.plan(chosen));
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
        plan.block_roll_in_place(
            "rolls in place (the old value dies at once): confirm on a terminal or pass --yes",
        );
    }
    let summary = session.run(plan.items.len(), session.runner.rotate(&plan));
    let cleanup = session.delete_due();
    Ok(finish(&session, "Rotated", &summary, &cleanup))
}

/// Runs `keyward resume`.
pub fn run_resume(ctx: &Context, args: ResumeArgs) -> Result<i32> {
    let session = Session::open(ctx, &args.run)?;
    let inventory = session.runner.inventory();
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
        session.run(
            in_flight.len(),
            session.runner.resume(&args.refs, args.rollback),
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
    let inventory = session.runner.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let selection = args.select.selection(&args.refs);
    let chosen = select(&inventory, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
    if chosen.is_empty() {
        println!("Nothing to revoke. (Selected: {}.)", selection.describe());
        return Ok(0);
    }
    for p in &chosen {
        let Some(c) = inventory.credential(&p.at) else {
            continue;
        };
        let last_used = c
            .last_used_at
            .map(|t| format!(", last used {}", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        let used_by = if c.used_by.is_empty() {
            String::new()
        } else {
            format!(", used by {}", c.used_by.join(", "))
        };
        say(format!(
            "  {}  {}  key {}{last_used}{used_by}  ({})",
            p.at,
            c.provider,
            c.remote_id.as_deref().unwrap_or("(none recorded)"),
            p.why
        ));
    }
    if !args.run.yes {
        let what = if args.emergency {
            format!(
                "Delete these {} key(s) now? This cannot be undone.",
                chosen.len()
            )
        } else {
            format!(
                "Deactivate these {} key(s) now (deleted after the grace period)?",
                chosen.len()
            )
        };
        if !(session.terminal.interactive && read_answer(&what)) {
            bail!("revoking needs a confirmation: answer on a terminal or pass --yes");
        }
    }
    let refs: Vec<CredentialRef> = chosen.into_iter().map(|p| p.at).collect();
    let summary = session.run(refs.len(), session.runner.revoke(&refs, args.emergency));
    let cleanup = session.delete_due();
    Ok(finish(&session, "Revoked", &summary, &cleanup))
}
