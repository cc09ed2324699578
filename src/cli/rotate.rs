//! `keyward rotate`, `keyward resume` and `keyward revoke`: pick credentials (the shared
//! selection flags), show the plan, confirm, run them through [`crate::ops::Runner`] (which
//! writes the audit entries, as for the dashboard) with progress on stderr (indicatif bars on a
//! terminal, plain lines otherwise), and print a summary.
//!
//! No lock is held while a person thinks: plans and confirmations work on a snapshot read
//! without it, what was shown is checked again against the file before the run, and the
//! run's saves take the lock only for each save, applying its changes onto whatever other
//! writers saved meanwhile ([`RunStore`]); so a question asked during the run (a manual
//! deploy to confirm, a new secret to enter) does not hold off a cron job either.
//!
//! Exit codes ([`Exit`]): 0 everything finished; 1 something failed (or, for `--dry-run`,
//! cannot go ahead); 4 something waits for a person (finish it with `keyward resume`), or
//! the run needs one and there is no terminal (refused before anything changes, unless
//! `--yes` confirms up front); 5 nothing selected; 7 the person answered no.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use async_trait::async_trait;
use chrono::{Duration, Utc};
use clap::ArgGroup;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use serde::Serialize;

use super::exit::Exit;
use super::json::{ErrorKind, Failure, Schema};
use super::run_json::{PlannedJson, RunJson};
use super::select::SelectArgs;
use super::{require, Context};
use crate::inventory::{CredentialRef, Inventory};
use crate::ops::{select, RunConfig, Runner};
use crate::rotation::{
    Interact, OutcomeKind, Persist, PersistError, Plan, Question, RotationEvent, Summary,
};
use crate::secret::Secret;
use crate::store::merging::RunStore;
use crate::store::{Keyring, Store, StoreError};
use crate::text::terminal_safe;

/// How the engine runs: shared by the three commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Confirm up front: the plan, manual deploys, keys the provider cannot check (a key
    /// revoked by hand is still asked about, on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Credentials worked on at once (one that only waits, for its new key to propagate or a
    /// rate limit to reset, counts not).
    #[arg(long, default_value_t = crate::rotation::DEFAULT_CONCURRENCY as u16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
    /// Credentials worked on at once against one provider's connection [default: sized from
    /// the provider's documented rate limit, or the connection's `params.concurrency`].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub per_provider: Option<u16>,
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
    /// Where text for a person goes: stdout, or stderr under `--json`.
    out: Out,
    /// The store the snapshot was read through, until [`Session::refresh`] hands it to the
    /// run; and the identities it was opened with, to read it again (never asking twice for
    /// a passphrase).
    store: Option<Store>,
    keys: Arc<Keyring>,
}

/// Where the text meant for a person goes: stdout; under `--json` (stdout carries the JSON)
/// stderr when a person is at the terminal to read the plan they are asked about, and
/// nowhere for a script, whose stderr then holds only progress and the one-line error.
#[derive(Debug, Clone, Copy)]
struct Out {
    json: bool,
    person: bool,
}

impl Out {
    /// Prints one line that may hold user or provider text: escaped, never obeyed.
    fn say(self, line: impl AsRef<str>) {
        let line = terminal_safe(line.as_ref());
        match (self.json, self.person) {
            (false, _) => println!("{line}"),
            (true, true) => eprintln!("{line}"),
            (true, false) => {}
        }
    }
}

/// Planning saves nothing: the snapshot a plan is made on is never written.
struct PlanOnly;

impl Persist for PlanOnly {
    fn persist(&mut self, _: &Inventory) -> Result<Option<Inventory>, PersistError> {
        Err(PersistError(
            "planning saves nothing; the lock is taken to save".into(),
        ))
    }
}

impl Session {
    /// A session over the inventory as it is now, read without the lock: plans and prompts
    /// work on it, so no other writer waits while a person thinks. A recipient change
    /// nobody here made is asked about now (or refused under `--yes`), not while locked.
    fn snapshot(ctx: &Context, args: &RunArgs) -> Result<Session> {
        let keys = ctx.keyring()?;
        let (mut store, inventory) = Store::open(&ctx.location, &keys)?;
        // Writing is refused at once, as when the file is opened locked.
        refuse_to_write(ctx, &store)?;
        if let Some(change) = ctx.watch_recipients(&mut store)? {
            ctx.confirm_recipient_change(&change, !args.yes)?;
            store.accept_recipients(ctx.seen_record())?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
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
        let runner = new_runner(
            ctx,
            args,
            &runtime,
            inventory,
            Box::new(PlanOnly),
            &terminal,
        );
        let out = Out {
            json: ctx.json(),
            person: terminal.interactive,
        };
        Ok(Session {
            runtime,
            runner,
            terminal,
            out,
            store: Some(store),
            keys: Arc::new(keys),
        })
    }

    /// Reads the file again if its content changed since the snapshot (compared by hash):
    /// the session then runs on what is on disk now. No lock is held for the run: each of
    /// its saves takes it for the save alone ([`RunStore`]), applying the run's changes
    /// onto whatever another writer saved meanwhile, so a question the run asks a person
    /// never holds off a cron job. Returns whether another writer changed the file since
    /// the plan (the caller re-checks what it showed the person).
    fn refresh(&mut self, ctx: &Context, args: &RunArgs) -> Result<bool> {
        let Some(mut store) = self.store.take() else {
            anyhow::bail!("{}: already running", ctx.inventory_shown());
        };
        let fresh = store.reread(&self.keys)?;
        refuse_to_write(ctx, &store)?;
        let changed = fresh.is_some();
        let inventory = match fresh {
            Some(fresh) => {
                eprintln!(
                    "keyward: {}: changed by another writer since the plan was made; checking \
                     the plan again",
                    ctx.inventory_shown()
                );
                fresh
            }
            None => self.runner.inventory(),
        };
        let persist = RunStore::new(
            Arc::new(Mutex::new(store)),
            Arc::clone(&self.keys),
            inventory.clone(),
        );
        self.runner = new_runner(
            ctx,
            args,
            &self.runtime,
            inventory,
            Box::new(persist),
            &self.terminal,
        );
        Ok(changed)
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

/// Refuses, before anything is planned or run, an inventory saves would be refused for:
/// one that disagrees with its audit log, or whose recipients changed unaccepted.
fn refuse_to_write(ctx: &Context, store: &Store) -> Result<()> {
    if let Some(disagreement) = store.disagreement() {
        return Err(StoreError::Disagrees {
            path: ctx.inventory.clone(),
            disagreement: disagreement.clone(),
        }
        .into());
    }
    if let Some(change) = store.recipient_change() {
        return Err(StoreError::RecipientsChanged {
            path: ctx.inventory.clone(),
            change: change.clone(),
        }
        .into());
    }
    Ok(())
}

/// A runner over `inventory` saving through `persist`, dated by `--now` when given (moving
/// with the real clock from there).
fn new_runner(
    ctx: &Context,
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    inventory: Inventory,
    persist: Box<dyn Persist>,
    terminal: &Arc<Terminal>,
) -> Runner {
    let _inside = runtime.enter();
    let (base, started) = (ctx.now(), Utc::now());
    let config = RunConfig {
        concurrency: usize::from(args.concurrency),
        per_provider: args.per_provider.map(usize::from),
        grace: Duration::days(i64::from(args.grace_days)),
        clock: Arc::new(move || base + (Utc::now() - started)),
    };
    Runner::for_inventory(inventory, persist, &ctx.location, terminal.clone(), config)
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
    let mut propagating: std::collections::HashSet<String> = Default::default();
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
            RotationEvent::Propagating {
                at,
                waited_secs,
                window_secs,
                ..
            } => {
                let text = format!(
                    "verify: waiting for the new key to propagate ({waited_secs}s of up to \
                     {window_secs}s)"
                );
                match lines.get(at) {
                    Some(line) => {
                        line.set_message(text);
                        continue;
                    }
                    // Plain lines: said once per credential, not at every check.
                    None if bars.is_none() && propagating.insert(at.clone()) => {
                        (at, format!("{at}: {text}"), None)
                    }
                    None => continue,
                }
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

fn print_plan(out: Out, plan: &Plan) {
    out.say(format!("Plan: {} credential(s)", plan.items.len()));
    for item in &plan.items {
        let style = item
            .style
            .map(crate::providers::RotationStyle::as_str)
            .unwrap_or("-");
        out.say(format!(
            "  {}  {}  {}  ({})",
            item.at, item.provider, style, item.why
        ));
        if let Some(b) = &item.blocked {
            out.say(format!("      cannot go ahead: {b}"));
            continue;
        }
        if let Some(why) = &item.manual_because {
            out.say(format!("      by hand: {why}"));
        }
        let steps: Vec<&str> = item.steps.iter().map(|s| s.as_str()).collect();
        out.say(format!("      steps: {}", steps.join(" > ")));
        for d in &item.deploys {
            out.say(format!("      deploys to {}", terminal_safe(d)));
        }
        for p in &item.needs_person {
            out.say(format!("      needs {p}"));
        }
        for w in &item.warnings {
            out.say(format!("      WARNING: {w}"));
        }
    }
}

/// The ready items a person must confirm or act on, each with what for: without a terminal
/// (and without `--yes`) the run refuses up front rather than stop half-way.
fn needing_a_person(plan: &Plan) -> Vec<String> {
    plan.ready()
        .filter_map(|item| {
            let mut what = item.needs_person.clone();
            if item.style == Some(crate::providers::RotationStyle::RollInPlace) {
                what.push("a confirmation: it rolls in place, the old value dies at once".into());
            }
            (!what.is_empty()).then(|| format!("{} ({})", item.at, what.join("; ")))
        })
        .collect()
}

/// The refusal of a run that would need a person when there is none to ask.
fn refuse_without_person(ctx: &Context, needing: &[String]) -> anyhow::Error {
    Failure::new(
        ErrorKind::NeedsPerson,
        Exit::NeedsPerson,
        format!(
            "{}: {} need(s) a person and there is no terminal to ask on; nothing was changed: \
             run it on a terminal, or pass --yes to confirm up front",
            ctx.inventory_shown(),
            needing.join(", ")
        ),
    )
    .into()
}

/// The refusal when another writer changed what the person confirmed.
fn changed_meanwhile(ctx: &Context, what: &str) -> anyhow::Error {
    Failure::new(
        ErrorKind::ChangedMeanwhile,
        Exit::Failed,
        format!(
            "{}: changed by another writer while you were deciding, and {what}; nothing was \
             changed: run the command again",
            ctx.inventory_shown()
        ),
    )
    .into()
}

/// Prints the outcomes and returns how the run ended.
fn finish(session: &Session, verb: &str, summary: &Summary, cleanup: &Summary) -> Exit {
    let out = session.out;
    let failed = summary.count(OutcomeKind::Failed) + cleanup.count(OutcomeKind::Failed);
    let unconfirmed =
        summary.count(OutcomeKind::Unconfirmed) + cleanup.count(OutcomeKind::Unconfirmed);
    let waiting = summary.count(OutcomeKind::Waiting) + unconfirmed;
    out.say(format!(
        "{verb}: {} done, {} failed, {} waiting for a person.",
        summary.count(OutcomeKind::Done),
        summary.count(OutcomeKind::Failed),
        summary.count(OutcomeKind::Waiting)
    ));
    if unconfirmed > 0 {
        out.say(format!(
            "{unconfirmed} revocation(s) unconfirmed: the provider could not confirm the key is \
             gone, so it may still work."
        ));
    }
    let few = summary.outcomes.len() <= 20;
    for o in summary.outcomes.iter().chain(&cleanup.outcomes) {
        if o.kind == OutcomeKind::Done && !few {
            continue;
        }
        out.say(format!("  {:<8}{}: {}", o.kind.as_str(), o.at, o.message));
    }
    let unlogged = session.runner.unlogged();
    for line in &unlogged {
        out.say(format!("  {line}"));
    }
    if failed + waiting > 0 {
        out.say(
            "The inventory records where each stopped: `keyward resume` continues, `keyward \
             resume --rollback` undoes.",
        );
    }
    if failed > 0 || !unlogged.is_empty() {
        Exit::Failed
    } else if waiting > 0 {
        Exit::NeedsPerson
    } else {
        Exit::Done
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

    /// What the run did, for `--json`.
    fn run_json(&self, summary: &Summary, cleanup: &Summary) -> RunJson {
        RunJson::new(summary, cleanup, self.runner.unlogged())
    }
}

/// `rotate --json`.
#[derive(Serialize)]
struct RotateJson {
    dry_run: bool,
    plan: Vec<PlannedJson>,
    #[serde(flatten)]
    run: RunJson,
    exit: i32,
}

/// Prints `report` under `--json`; returns its exit code.
fn emit(ctx: &Context, schema: Schema, report: &impl Serialize, exit: Exit) -> Result<i32> {
    if ctx.json() {
        super::json::print(schema, report)?;
    }
    Ok(exit.as_code())
}

/// Runs `keyward rotate`: plans and asks on a snapshot, then runs, planning again if
/// another writer changed the inventory meanwhile.
pub fn run_rotate(ctx: &Context, args: RotateArgs) -> Result<i32> {
    let mut session = Session::snapshot(ctx, &args.run)?;
    let out = session.out;
    let inventory = session.runner.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let selection = args.select.selection(&args.refs);
    let chosen = select(&inventory, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
    let mut report = RotateJson {
        dry_run: args.dry_run,
        plan: Vec::new(),
        run: RunJson::default(),
        exit: 0,
    };
    if chosen.is_empty() {
        out.say(format!(
            "Nothing to rotate. (Selected: {}.)",
            selection.describe()
        ));
        report.exit = Exit::NothingToDo.as_code();
        return emit(ctx, Schema::Rotate, &report, Exit::NothingToDo);
    }
    let plan = session.runtime.block_on(session.runner.plan(chosen));
    print_plan(out, &plan);
    report.plan = PlannedJson::all(&plan);
    let needing = if args.run.yes || session.terminal.interactive {
        Vec::new()
    } else {
        needing_a_person(&plan)
    };
    if args.dry_run {
        out.say("Dry run: nothing was changed.");
        // The exit says what the real run would do up front.
        let exit = if plan.items.iter().any(|i| i.blocked.is_some()) {
            out.say("Some credentials cannot go ahead (see above).");
            Exit::Failed
        } else if !needing.is_empty() {
            out.say(format!(
                "Without a terminal or --yes this would stop: {} need(s) a person.",
                needing.join(", ")
            ));
            Exit::NeedsPerson
        } else {
            Exit::Done
        };
        report.exit = exit.as_code();
        return emit(ctx, Schema::Rotate, &report, exit);
    }
    if !needing.is_empty() {
        return Err(refuse_without_person(ctx, &needing));
    }
    let ready = plan.ready().count();
    if !args.run.yes
        && session.terminal.interactive
        && ready > 0
        && !read_answer(&format!("Rotate {ready} credential(s)?"))
    {
        out.say("Nothing was changed.");
        report.exit = Exit::Declined.as_code();
        return emit(ctx, Schema::Rotate, &report, Exit::Declined);
    }
    if session.refresh(ctx, &args.run)? {
        let fresh = session.runner.inventory();
        let chosen = select(&fresh, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
        let replanned = session.runtime.block_on(session.runner.plan(chosen));
        if replanned != plan {
            print_plan(out, &replanned);
            // Another run's journal is its claim: say whose run it is.
            let claims = crate::inventory::merge::claimed_meanwhile(&inventory, &fresh);
            if let Some(claim) = claims.first() {
                return Err(Failure::new(
                    ErrorKind::ChangedMeanwhile,
                    Exit::Failed,
                    format!("{}: {claim}", ctx.inventory_shown()),
                )
                .into());
            }
            return Err(changed_meanwhile(ctx, "the plan is now different (above)"));
        }
        eprintln!("keyward: the plan is the same; going ahead");
    }
    let summary = session.run(plan.items.len(), session.runner.rotate(&plan));
    let cleanup = session.delete_due();
    let exit = finish(&session, "Rotated", &summary, &cleanup);
    report.run = session.run_json(&summary, &cleanup);
    report.exit = exit.as_code();
    emit(ctx, Schema::Rotate, &report, exit)
}

/// One interrupted or waiting piece of work, as `resume` shows it.
#[derive(Debug, PartialEq, Serialize)]
struct InFlight {
    credential: String,
    journal: String,
    waiting_for: Option<String>,
}

/// The journaled work of `refs` (every credential when empty).
fn in_flight(inventory: &Inventory, refs: &[CredentialRef]) -> Vec<InFlight> {
    inventory
        .credentials()
        .filter(|(at, _, _)| refs.is_empty() || refs.contains(at))
        .filter_map(|(at, _, c)| {
            let j = c.rotation.as_ref()?;
            Some(InFlight {
                credential: at.to_string(),
                journal: j.summary(),
                waiting_for: j.waiting_for.clone(),
            })
        })
        .collect()
}

/// `resume --json`.
#[derive(Serialize)]
struct ResumeJson<'a> {
    rollback: bool,
    in_flight: &'a [InFlight],
    #[serde(flatten)]
    run: RunJson,
    exit: i32,
}

/// Runs `keyward resume`: shows and asks on a snapshot, then runs on the file as it is.
pub fn run_resume(ctx: &Context, args: ResumeArgs) -> Result<i32> {
    let mut session = Session::snapshot(ctx, &args.run)?;
    let out = session.out;
    let inventory = session.runner.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let work = in_flight(&inventory, &args.refs);
    let mut report = ResumeJson {
        rollback: args.rollback,
        in_flight: &work,
        run: RunJson::default(),
        exit: 0,
    };
    if work.is_empty() {
        out.say("Nothing in flight.");
        if session.runner.due_for_deletion() == 0 {
            report.exit = Exit::NothingToDo.as_code();
            return emit(ctx, Schema::Resume, &report, Exit::NothingToDo);
        }
    }
    for w in &work {
        out.say(format!("  {}: {}", w.credential, w.journal));
    }
    if !args.run.yes && !session.terminal.interactive {
        let needing: Vec<String> = work
            .iter()
            .filter_map(|w| {
                let why = if args.rollback {
                    "a confirmation to roll back"
                } else {
                    w.waiting_for.as_deref()?
                };
                Some(format!("{} ({why})", w.credential))
            })
            .collect();
        if !needing.is_empty() {
            return Err(refuse_without_person(ctx, &needing));
        }
    }
    if args.rollback
        && !args.run.yes
        && !work.is_empty()
        && !read_answer(&format!("Roll back {} rotation(s)?", work.len()))
    {
        out.say("Nothing was changed.");
        report.exit = Exit::Declined.as_code();
        return emit(ctx, Schema::Resume, &report, Exit::Declined);
    }
    if session.refresh(ctx, &args.run)?
        && in_flight(&session.runner.inventory(), &args.refs) != work
    {
        return Err(changed_meanwhile(ctx, "what is in flight is now different"));
    }
    let summary = if work.is_empty() {
        Summary::default()
    } else {
        session.run(work.len(), session.runner.resume(&args.refs, args.rollback))
    };
    let cleanup = session.delete_due();
    let verb = if args.rollback {
        "Rolled back"
    } else {
        "Resumed"
    };
    let exit = finish(&session, verb, &summary, &cleanup);
    report.run = session.run_json(&summary, &cleanup);
    report.exit = exit.as_code();
    emit(ctx, Schema::Resume, &report, exit)
}

/// One key `revoke` is about to revoke, as shown before it asks.
#[derive(Debug, PartialEq, Serialize)]
struct Revocable {
    credential: String,
    provider: &'static str,
    remote_id: Option<String>,
    last_used_at: Option<chrono::DateTime<Utc>>,
    used_by: Vec<String>,
    why: String,
}

/// The keys `chosen` names in `inventory`.
fn revocable(inventory: &Inventory, chosen: &[crate::ops::Picked]) -> Vec<Revocable> {
    chosen
        .iter()
        .filter_map(|p| {
            let c = inventory.credential(&p.at)?;
            Some(Revocable {
                credential: p.at.to_string(),
                provider: c.provider.as_str(),
                remote_id: c.remote_id.clone(),
                last_used_at: c.last_used_at,
                used_by: c.used_by.clone(),
                why: p.why.clone(),
            })
        })
        .collect()
}

/// `revoke --json`.
#[derive(Serialize)]
struct RevokeJson<'a> {
    emergency: bool,
    keys: &'a [Revocable],
    #[serde(flatten)]
    run: RunJson,
    exit: i32,
}

/// Runs `keyward revoke`: shows and asks on a snapshot, then runs on the file as it is.
pub fn run_revoke(ctx: &Context, args: RevokeArgs) -> Result<i32> {
    revoke(ctx, args, true)
}

/// Runs a revocation on behalf of `keyward remove`: the same as [`run_revoke`] but prints no
/// `keyward.revoke/1` object, since `remove --json` prints one object for the whole removal.
pub fn run_revoke_for_remove(ctx: &Context, args: RevokeArgs) -> Result<i32> {
    revoke(ctx, args, false)
}

/// [`run_revoke`]'s body; `own_json`: whether, under `--json`, it prints its own object.
fn revoke(ctx: &Context, args: RevokeArgs, own_json: bool) -> Result<i32> {
    let end_with = |report: &RevokeJson, exit: Exit| {
        if own_json {
            emit(ctx, Schema::Revoke, report, exit)
        } else {
            Ok(exit.as_code())
        }
    };
    let mut session = Session::snapshot(ctx, &args.run)?;
    let out = session.out;
    let inventory = session.runner.inventory();
    for at in &args.refs {
        require(&inventory, at, &ctx.inventory)?;
    }
    let selection = args.select.selection(&args.refs);
    let chosen = select(&inventory, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
    let keys = revocable(&inventory, &chosen);
    let mut report = RevokeJson {
        emergency: args.emergency,
        keys: &keys,
        run: RunJson::default(),
        exit: 0,
    };
    if chosen.is_empty() {
        out.say(format!(
            "Nothing to revoke. (Selected: {}.)",
            selection.describe()
        ));
        report.exit = Exit::NothingToDo.as_code();
        return end_with(&report, Exit::NothingToDo);
    }
    for k in &keys {
        let last_used = k
            .last_used_at
            .map(|t| format!(", last used {}", t.format("%Y-%m-%d")))
            .unwrap_or_default();
        let used_by = if k.used_by.is_empty() {
            String::new()
        } else {
            format!(", used by {}", k.used_by.join(", "))
        };
        out.say(format!(
            "  {}  {}  key {}{last_used}{used_by}  ({})",
            k.credential,
            k.provider,
            k.remote_id.as_deref().unwrap_or("(none recorded)"),
            k.why
        ));
    }
    if !args.run.yes {
        if !session.terminal.interactive {
            let needing: Vec<String> = keys
                .iter()
                .map(|k| format!("{} (a confirmation to revoke)", k.credential))
                .collect();
            return Err(refuse_without_person(ctx, &needing));
        }
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
        if !read_answer(&what) {
            out.say("Nothing was changed.");
            report.exit = Exit::Declined.as_code();
            return end_with(&report, Exit::Declined);
        }
    }
    if session.refresh(ctx, &args.run)? {
        let fresh = session.runner.inventory();
        let again = select(&fresh, &selection, ctx.now()).map_err(anyhow::Error::msg)?;
        if revocable(&fresh, &again) != keys {
            return Err(changed_meanwhile(
                ctx,
                "the keys to revoke are now different",
            ));
        }
        eprintln!("keyward: the keys to revoke are the same; going ahead");
    }
    let refs: Vec<CredentialRef> = chosen.into_iter().map(|p| p.at).collect();
    let summary = session.run(refs.len(), session.runner.revoke(&refs, args.emergency));
    let cleanup = session.delete_due();
    let exit = finish(&session, "Revoked", &summary, &cleanup);
    report.run = session.run_json(&summary, &cleanup);
    report.exit = exit.as_code();
    end_with(&report, exit)
}

/// Arguments of `keyward deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Credentials whose current secret to deliver again, as CLIENT/INTEGRATION.
    #[arg(value_parser = super::parse_ref, value_name = "CLIENT/INTEGRATION", required = true)]
    pub refs: Vec<CredentialRef>,
    /// Credentials delivered at once.
    #[arg(long, default_value_t = crate::rotation::DEFAULT_CONCURRENCY as u16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub concurrency: u16,
}

/// One credential `deploy` delivers, as shown before it runs.
#[derive(Debug, PartialEq, Serialize)]
struct Deliverable {
    credential: String,
    targets: Vec<String>,
}

/// `deploy --json`.
#[derive(Serialize)]
struct DeployJson<'a> {
    credentials: &'a [Deliverable],
    #[serde(flatten)]
    run: RunJson,
    exit: i32,
}

/// Runs `keyward deploy`: delivers each credential's current secret to its deploy targets
/// again (then its deploy check), rotating nothing, through the engine's deploy code.
pub fn run_deploy(ctx: &Context, args: DeployArgs) -> Result<i32> {
    // Nothing is asked: a target delivered by hand is only named.
    let run = RunArgs {
        yes: false,
        concurrency: args.concurrency,
        per_provider: None,
        grace_days: 0,
    };
    let session = Session::snapshot(ctx, &run)?;
    let out = session.out;
    let inventory = session.runner.inventory();
    let mut shown = Vec::new();
    for at in &args.refs {
        let c = require(&inventory, at, &ctx.inventory)?;
        let mut targets: Vec<String> = c.deploy.iter().map(|t| t.describe()).collect();
        targets.extend(c.deploy_check.as_ref().map(|k| k.describe()));
        out.say(format!(
            "  {at}  {}",
            terminal_safe(&if targets.is_empty() {
                c.deploy.describe()
            } else {
                targets.join(", then ")
            })
        ));
        shown.push(Deliverable {
            credential: at.to_string(),
            targets,
        });
    }
    let summary = session.run(args.refs.len(), session.runner.deploy(&args.refs));
    let none = Summary::default();
    let exit = finish(&session, "Deployed", &summary, &none);
    let report = DeployJson {
        credentials: &shown,
        run: session.run_json(&summary, &none),
        exit: exit.as_code(),
    };
    emit(ctx, Schema::Deploy, &report, exit)
}
