//! The event loop: puts the terminal in raw mode on the alternate screen (no mouse
//! capture), restores it on every way out (quit, error, panic, signal, hang-up), reads keys
//! on a thread, turns them into actions, runs `update`, draws, and carries out effects:
//! provider calls on tokio tasks that report back on a channel, clipboard writes, saves,
//! reloads. It also supplies what moves outside the state: the clock (a minute's change is
//! an [`Action::Clock`]) and the inventory file (watched for other writers).
//!
//! Ending: `q`, SIGTERM, SIGHUP, SIGINT, and the terminal going away (see [`super::hangup`])
//! all end the loop at once. The terminal is restored, background work is told to stop
//! through the session's shutdown token and given [`SHUTDOWN_GRACE`] to reach a safe point
//! (see [`Background`]), then abandoned; nothing waits without bound on the key reader.

use std::future::Future;
use std::io::{self, IsTerminal, Stdout, Write};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::action::{Action, Effect, Job, JobKind, ReloadReason};
use super::backend::Ansi16Backend;
use super::clipboard;
use super::hangup::HangupWatch;
use super::keymap;
use super::runner::{OpenForRun, Runs};
use super::state::{Settings, State};
use super::update::update;
use super::view;
use super::watch::FileWatch;
use super::{AuditHook, DashboardOptions, ExportHook, ReloadHook, SaveError, SaveHook};
use crate::inventory::Inventory;
use crate::providers::http::{Http, HttpConfig};
use crate::providers::registry::{provider_for, ProviderSet};
use crate::providers::Target;

/// How often the spinner moves while work runs.
const BUSY_TICK: Duration = Duration::from_millis(100);
/// How long the loop sleeps when nothing runs: the clock and the file are looked at this
/// often, and nothing is drawn unless something changed.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// How often the key reader checks whether it should stop.
const INPUT_POLL: Duration = Duration::from_millis(100);
/// How long closing waits for the key reader to stop before leaving it behind.
const INPUT_STOP_WAIT: Duration = Duration::from_millis(250);
/// How long background work gets, once the dashboard closes, to finish its current safe
/// step before it is abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// What reaches the loop.
enum Msg {
    Term(Event),
    Action(Action),
    InputFailed(String),
    /// The terminal hung up: nobody is there any more.
    HungUp,
    /// SIGTERM, SIGHUP or SIGINT: end now, whatever screen is open.
    Signal,
}

/// The session's clock: the start moment (`--now`, or the real time) plus the real time
/// elapsed since, as `keyward rotate` keeps it.
struct Clock {
    base: DateTime<Utc>,
    started: DateTime<Utc>,
}

impl Clock {
    fn starting_at(base: Option<DateTime<Utc>>) -> Self {
        let started = Utc::now();
        Clock {
            base: base.unwrap_or(started),
            started,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.base + (Utc::now() - self.started)
    }

    /// The same clock for the rotation engine: what a run records is dated as the
    /// dashboard shows it.
    fn shared(&self) -> crate::rotation::Clock {
        let (base, started) = (self.base, self.started);
        Arc::new(move || base + (Utc::now() - started))
    }
}

/// The hooks through which the dashboard reaches the inventory file and the audit log.
struct Hooks {
    save: Option<SaveHook>,
    audit: Option<AuditHook>,
    reload: Option<ReloadHook>,
    inventory_path: Option<std::path::PathBuf>,
    open_for_run: Option<OpenForRun>,
    export: Option<ExportHook>,
}

/// Runs the dashboard until the person quits.
pub fn run(inventory: Inventory, options: DashboardOptions) -> anyhow::Result<()> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        bail!("the dashboard needs a terminal; use `keyward list` for plain output");
    }
    let DashboardOptions {
        title,
        read_only,
        now,
        no_color,
        save,
        audit,
        reload,
        inventory_path,
        open_for_run,
        export,
    } = options;
    let clock = Clock::starting_at(now);
    let settings = Settings {
        title,
        read_only,
        now: clock.now(),
        theme: super::theme::Theme { color: !no_color },
        can_save: save.is_some() && !read_only,
    };
    let hooks = Hooks {
        save,
        audit,
        reload,
        inventory_path,
        open_for_run,
        export,
    };

    // Background work runs on the caller's runtime if there is one, else on our own.
    let (owned, handle) = match tokio::runtime::Handle::try_current() {
        Ok(h) => (None, h),
        Err(_) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the background runtime")?;
            let h = rt.handle().clone();
            (Some(rt), h)
        }
    };
    let background = Background::new(handle);

    let result = TerminalGuard::enter()
        .and_then(|guard| event_loop(guard, inventory, settings, hooks, &background, &clock));
    // The terminal is the person's again by now; what still runs gets its grace.
    background.shut_down(SHUTDOWN_GRACE);
    if let Some(rt) = owned {
        rt.shutdown_background();
    }
    result
}

/// Where the dashboard's background work runs, and how it is told to stop.
///
/// Each task gets a child of the session's shutdown token. When the dashboard closes (`q`,
/// a signal, the terminal hanging up) the token is cancelled and the tasks get
/// [`SHUTDOWN_GRACE`] together to finish; whatever still runs then is abandoned. So work
/// made of steps — a rotation, whose engine journals every step and can be resumed —
/// checks `shutdown.is_cancelled()` (or awaits `shutdown.cancelled()`) before each next
/// step and before starting a queued credential, and returns at that safe point ("shutting
/// down: finish the current safe step"); one-shot reads (sync, verify) just stop.
pub(crate) struct Background {
    handle: tokio::runtime::Handle,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Background {
    fn new(handle: tokio::runtime::Handle) -> Self {
        Background {
            handle,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Runs `work(shutdown)` on a task; `shutdown` is cancelled when the dashboard closes.
    pub(crate) fn spawn<W, F>(&self, work: W)
    where
        W: FnOnce(CancellationToken) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.shutdown.child_token();
        self.tracker.spawn_on(work(token), &self.handle);
    }

    /// Tells every task to stop and waits up to `grace` for them; returns whether all
    /// finished. Never blocks longer than `grace`.
    fn shut_down(&self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        if self.tracker.is_empty() {
            return true;
        }
        let (tx, rx) = mpsc::channel();
        let tracker = self.tracker.clone();
        self.handle.spawn(async move {
            tracker.wait().await;
            let _ = tx.send(());
        });
        rx.recv_timeout(grace).is_ok()
    }
}

/// The panic hook that was installed before ours.
type PanicHook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Send + Sync + 'static>;

/// Restores the terminal when dropped, and while it lives, before a panic message prints.
struct TerminalGuard {
    terminal: Terminal<Ansi16Backend<Stdout>>,
    previous_hook: Arc<PanicHook>,
}

/// Whether the terminal is in the dashboard's modes. Restoring twice would be harmful:
/// leaving the alternate screen a second time moves the cursor back to where it was when
/// the dashboard opened, over whatever was printed since (a panic message).
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

fn restore_terminal() {
    if !TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        return;
    }
    // Each step is tried even if an earlier one fails: a half-restored terminal is worse.
    // On a hung-up terminal both fail at once; nothing is there to restore.
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<Self> {
        let previous_hook: Arc<PanicHook> = Arc::new(panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        panic::set_hook(Box::new(move |info| {
            restore_terminal();
            chained(info);
        }));
        let setup = || -> io::Result<Terminal<Ansi16Backend<Stdout>>> {
            TERMINAL_TAKEN.store(true, Ordering::SeqCst);
            enable_raw_mode()?;
            execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
            Terminal::new(Ansi16Backend::new(io::stdout()))
        };
        match setup() {
            Ok(terminal) => Ok(TerminalGuard {
                terminal,
                previous_hook,
            }),
            Err(e) => {
                restore_terminal();
                let _ = panic::take_hook();
                let previous = Arc::clone(&previous_hook);
                panic::set_hook(Box::new(move |info| previous(info)));
                Err(e).context("setting up the terminal")
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // A terminal that cannot show the cursor is gone (hung up): stop writing to it, or
        // ratatui's own drop would report the failure on that same dead terminal, and
        // `eprintln!` panics when it cannot write.
        if self.terminal.show_cursor().is_err() {
            self.terminal.backend_mut().detach();
        }
        restore_terminal();
        if !thread::panicking() {
            let _ = panic::take_hook();
            let previous = Arc::clone(&self.previous_hook);
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Reads terminal events on its own thread until told to stop. The receiver reports the
/// thread's end (it disconnects), so closing can wait for it with a bound: a reader stuck
/// inside crossterm on a dead terminal is left behind, never waited for.
fn spawn_input(tx: Sender<Msg>, stop: Arc<AtomicBool>) -> Receiver<()> {
    let (done, ended) = mpsc::channel::<()>();
    thread::spawn(move || {
        let _done = done;
        while !stop.load(Ordering::Relaxed) {
            let next = match event::poll(INPUT_POLL) {
                Ok(false) => continue,
                Ok(true) => event::read(),
                Err(e) => Err(e),
            };
            let msg = match next {
                Ok(ev) => Msg::Term(ev),
                Err(e) => Msg::InputFailed(e.to_string()),
            };
            let failed = matches!(msg, Msg::InputFailed(_));
            if tx.send(msg).is_err() || failed {
                break;
            }
        }
    });
    ended
}

/// Ends the loop on SIGTERM, SIGHUP (the session's terminal went away) and SIGINT, the way
/// `q` does but whatever screen is open. Installed before the first frame, so no signal
/// can arrive before the handlers exist.
fn watch_signals(handle: &tokio::runtime::Handle, tx: Sender<Msg>) -> io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let _runtime = handle.enter();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    // Not a tracked task: it never ends by itself, and closing must not wait for it.
    handle.spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(Msg::Signal);
    });
    Ok(())
}

/// The minute `t` falls in: the clock is handed to the state when it changes.
fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

fn event_loop(
    mut guard: TerminalGuard,
    inventory: Inventory,
    settings: Settings,
    mut hooks: Hooks,
    background: &Background,
    clock: &Clock,
) -> anyhow::Result<()> {
    let size = guard.terminal.size().context("reading the terminal size")?;
    let mut state = State::new(inventory, settings, (size.width, size.height));
    let (tx, rx) = mpsc::channel::<Msg>();
    let stop = Arc::new(AtomicBool::new(false));
    let input_ended = spawn_input(tx.clone(), Arc::clone(&stop));
    let hangup = {
        let tx = tx.clone();
        HangupWatch::spawn(move || {
            let _ = tx.send(Msg::HungUp);
        })
    };
    let hangup = match hangup {
        Ok(h) => Some(h),
        Err(e) => {
            update(
                &mut state,
                Action::Failed(format!("cannot watch the terminal for a hang-up: {e}")),
            );
            None
        }
    };
    if let Err(e) = watch_signals(&background.handle, tx.clone()) {
        update(
            &mut state,
            Action::Failed(format!("cannot watch for SIGTERM: {e}")),
        );
    }
    let http = Http::new(HttpConfig::default());
    let providers = Arc::new(match &hooks.inventory_path {
        Some(path) => ProviderSet::for_inventory(&http, path),
        None => ProviderSet::from_lookup(&|kind| provider_for(kind, &http)),
    });
    let mut watch = match (&hooks.reload, &hooks.inventory_path) {
        (Some(_), Some(path)) => Some(FileWatch::new(path)),
        _ => None,
    };
    let in_tmux = clipboard::in_tmux();
    let mut runs = {
        let tx = std::sync::Mutex::new(tx.clone());
        let send: super::runner::SendAction = Arc::new(move |a| {
            let _ = tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(Msg::Action(a));
        });
        Runs::new(
            hooks.open_for_run.take(),
            Arc::clone(&providers),
            hooks.inventory_path.clone(),
            clock.shared(),
            send,
        )
    };

    let mut outcome = Ok(());
    let mut redraw = true;
    let mut hung_up = false;
    let mut minute = minute_of(state.settings.now);
    // A reload asked for (by the file changing, Ctrl-R, a refused save), done once no job
    // is running: jobs report back by row, and a reload renumbers the rows.
    let mut reload_due: Option<ReloadReason> = None;
    while !state.quit {
        if redraw {
            if let Err(e) = guard.terminal.draw(|f| view::render(f, &state)) {
                outcome = Err(e).context("drawing the dashboard");
                break;
            }
            redraw = false;
            // Test builds only: lets the tmux tests check the terminal survives a panic.
            #[cfg(feature = "test-hooks")]
            if std::env::var_os("KEYWARD_TEST_PANIC_IN_DASHBOARD").is_some() {
                panic!("test hook: the dashboard panicked on purpose");
            }
        }
        let wait = if state.running > 0 || state.work.busy() {
            BUSY_TICK
        } else {
            IDLE_TICK
        };
        let received = rx.recv_timeout(wait);
        let mut pending = Vec::new();
        let action = match received {
            Ok(Msg::Term(Event::Key(key))) => {
                keymap::action_for(state.mode(), key, state.settings.read_only)
            }
            Ok(Msg::Term(Event::Resize(w, h))) => Some(Action::Resize(w, h)),
            Ok(Msg::Term(_)) => None,
            Ok(Msg::Action(a)) => Some(a),
            Ok(Msg::InputFailed(e)) => {
                outcome = Err(anyhow::anyhow!("reading the keyboard: {e}"));
                break;
            }
            Ok(Msg::HungUp) => {
                hung_up = true;
                break;
            }
            Ok(Msg::Signal) => break,
            Err(RecvTimeoutError::Timeout) => Some(Action::Tick),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Time moves on: the state hears of it when the minute changes, and just before a
        // background answer, so what the answer records (a sync's check time) is the real
        // moment it came.
        let now = clock.now();
        let answered = matches!(action, Some(ref a) if is_answer(a));
        if answered || minute_of(now) != minute {
            minute = minute_of(now);
            redraw = true;
            pending.push(Action::Clock(now));
        }
        // An action about to use a secret looks at the file now rather than within the
        // second, and reads it first if it changed: it then acts on the current secret.
        let uses_secret = action.as_ref().is_some_and(uses_a_secret);
        if let Some(w) = watch.as_mut() {
            let changed = if uses_secret {
                w.changed_now()
            } else {
                w.changed()
            };
            if changed {
                reload_due = reload_due.max(Some(ReloadReason::ChangedOnDisk));
            }
        }
        // A run renumbers nothing, but it owns the file while it goes: the dashboard takes
        // the run's final inventory when it ends, and reloads only after.
        let quiet = state.running == 0 && !state.work.busy();
        if uses_secret && quiet {
            if let Some(why) = reload_due.take() {
                pending.push(Action::Reloaded {
                    why,
                    result: reload(&mut hooks),
                });
            }
        }
        if let Some(action) = action {
            redraw |= !(action == Action::Tick && state.running == 0 && !state.work.busy());
            pending.push(action);
        }
        // `pending` is a stack: the clock goes first, then a reload, then the action.
        pending.reverse();
        loop {
            while let Some(action) = pending.pop() {
                for effect in update(&mut state, action) {
                    match effect {
                        Effect::Run(job) => spawn_job(background, &providers, *job, tx.clone()),
                        Effect::Discover(scope) => spawn_discovery(
                            background,
                            &providers,
                            state.inventory.clone(),
                            scope,
                            tx.clone(),
                        ),
                        Effect::Copy(secret) => {
                            let bytes = clipboard::osc52(&secret, in_tmux);
                            let backend = guard.terminal.backend_mut();
                            let written = backend.write_all(&bytes).and_then(|()| backend.flush());
                            pending.push(Action::Copied(written.map_err(|e| e.to_string())));
                        }
                        Effect::Audit { event, then } => {
                            let result = match hooks.audit.as_mut() {
                                Some(hook) => hook(event),
                                None => Ok(()),
                            };
                            pending.push(Action::Audited { result, then });
                        }
                        Effect::Save => {
                            pending.push(match hooks.save.as_mut() {
                                Some(hook) => match hook(&state.inventory) {
                                    Ok(()) => Action::Saved(Ok(())),
                                    Err(SaveError::ChangedOnDisk(e)) => Action::SaveConflict(e),
                                    Err(SaveError::Failed(e)) => Action::Saved(Err(e)),
                                },
                                None => Action::Saved(Err("no save hook".to_string())),
                            });
                        }
                        Effect::Reload(why) => reload_due = reload_due.max(Some(why)),
                        Effect::PlanRotation(picked) => runs.plan(background, picked),
                        Effect::StartRun { kind, plan, refs } => {
                            runs.start(background, kind, plan, refs)
                        }
                        Effect::DropEngine => runs.drop_plan(),
                        Effect::Answer { id, yes } => runs.answer(id, yes),
                        Effect::AnswerSecret { id, secret } => runs.answer_secret(id, secret),
                        Effect::CancelRun => runs.cancel(),
                        Effect::CopyNewSecret(at) => {
                            let written = match runs.new_secret(&at) {
                                Some(secret) => {
                                    let bytes = clipboard::osc52(&secret, in_tmux);
                                    let backend = guard.terminal.backend_mut();
                                    backend
                                        .write_all(&bytes)
                                        .and_then(|()| backend.flush())
                                        .map_err(|e| e.to_string())
                                }
                                None => Err(format!("{at}: the run holds no new secret now")),
                            };
                            if written.is_ok() {
                                state.notify(format!(
                                    "{at}: new secret sent to the clipboard (OSC 52)"
                                ));
                            }
                            pending.push(Action::Copied(written));
                        }
                        Effect::Export(request) => {
                            let result = match hooks.export.as_mut() {
                                Some(hook) => hook(&state.inventory, &request, state.settings.now),
                                None => Err("this dashboard cannot write reports".into()),
                            };
                            pending.push(Action::Exported(result));
                        }
                    }
                }
            }
            match reload_due {
                Some(why) if state.running == 0 && !state.work.busy() => {
                    reload_due = None;
                    redraw = true;
                    pending.push(Action::Reloaded {
                        why,
                        result: reload(&mut hooks),
                    });
                }
                _ => break,
            }
        }
    }
    // Stop reading keys before the terminal goes back to the shell, so nothing typed
    // after that point is swallowed by a reader that is still polling; but never wait
    // long, and not at all for a reader on a terminal that is gone.
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = hangup {
        h.stop();
    }
    if !hung_up {
        let _ = input_ended.recv_timeout(INPUT_STOP_WAIT);
    }
    drop(guard);
    outcome
}

/// Reads the inventory again through the reload hook.
fn reload(hooks: &mut Hooks) -> Result<Option<Box<Inventory>>, String> {
    match hooks.reload.as_mut() {
        Some(hook) => hook().map(|found| found.map(Box::new)),
        None => Err("this dashboard cannot read its inventory again".into()),
    }
}

/// Whether `action` uses a credential's secret or key (shows, copies or sends it), so must
/// see the inventory as it is on disk now.
fn uses_a_secret(action: &Action) -> bool {
    matches!(
        action,
        Action::Reveal | Action::Copy | Action::Sync | Action::Verify
    )
}

/// Whether `action` is a background task's answer.
fn is_answer(action: &Action) -> bool {
    matches!(
        action,
        Action::Inspected { .. } | Action::Verified { .. } | Action::Discovered(_)
    )
}

/// Runs one provider call on a task; its answer comes back on `tx`. The same calls as
/// `keyward sync` and `keyward verify` make for each credential ([`crate::sync::inspect_one`],
/// [`crate::verify::verify_one`]), so both faces give the same answer.
fn spawn_job(background: &Background, providers: &Arc<ProviderSet>, job: Job, tx: Sender<Msg>) {
    let Job { kind, row, target } = job;
    let providers = Arc::clone(providers);
    // A read: once the dashboard closes, its answer would reach nobody.
    background.spawn(|shutdown| async move {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => {}
            _ = run_job(kind, row, target, providers, tx) => {}
        }
    });
}

/// Asks the connections `scope` names for every key they see, as `keyward discover` does
/// ([`crate::ops::discover::discover`]); the answer comes back on `tx`.
fn spawn_discovery(
    background: &Background,
    providers: &Arc<ProviderSet>,
    inventory: crate::inventory::Inventory,
    scope: crate::ops::discover::Scope,
    tx: Sender<Msg>,
) {
    let providers = Arc::clone(providers);
    // A read, like a sync's question: abandoned when the dashboard closes.
    background.spawn(|shutdown| async move {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => {}
            found = crate::ops::discover::discover(&inventory, &providers, &scope, 4, |_| {}) => {
                let action = match found {
                    Ok(d) => Action::Discovered(Box::new(d)),
                    Err(e) => Action::Failed(e.to_string()),
                };
                let _ = tx.send(Msg::Action(action));
            }
        }
    });
}

async fn run_job(
    kind: JobKind,
    row: usize,
    target: Target,
    providers: Arc<ProviderSet>,
    tx: Sender<Msg>,
) {
    {
        let action = match kind {
            JobKind::Sync => Action::Inspected {
                row,
                remote_id: target.credential.remote_id.clone(),
                result: crate::sync::inspect_one(&providers, &target).await,
            },
            JobKind::Verify => Action::Verified {
                row,
                result: crate::verify::verify_one(&providers, &target).await,
            },
        };
        let _ = tx.send(Msg::Action(action));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn work_that_stops_at_its_safe_point_is_waited_for() {
        let rt = runtime();
        let background = Background::new(rt.handle().clone());
        let (tx, rx) = mpsc::channel();
        background.spawn(|shutdown| async move {
            // A step in progress, then the check before the next one.
            shutdown.cancelled().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send("finished the current step");
        });
        let start = Instant::now();
        assert!(background.shut_down(Duration::from_secs(5)));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(rx.try_recv(), Ok("finished the current step"));
    }

    #[test]
    fn work_that_ignores_the_shutdown_is_abandoned_after_the_grace() {
        let rt = runtime();
        let background = Background::new(rt.handle().clone());
        background.spawn(|_| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let start = Instant::now();
        assert!(!background.shut_down(Duration::from_millis(200)));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        rt.shutdown_background();
    }

    #[test]
    fn nothing_running_closes_at_once() {
        let rt = runtime();
        let background = Background::new(rt.handle().clone());
        let start = Instant::now();
        assert!(background.shut_down(SHUTDOWN_GRACE));
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
