//! The event loop: puts the terminal in raw mode on the alternate screen (no mouse
//! capture), restores it on every way out (quit, error, panic), reads keys on a thread,
//! turns them into actions, runs `update`, draws, and carries out effects: provider calls
//! on tokio tasks that report back on a channel, clipboard writes, saves.

use std::io::{self, IsTerminal, Stdout, Write};
use std::panic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use super::action::{Action, Effect, Job, JobKind};
use super::backend::Ansi16Backend;
use super::clipboard;
use super::keymap;
use super::state::{Settings, State};
use super::update::update;
use super::view;
use super::{AuditHook, DashboardOptions, SaveHook};
use crate::inventory::Inventory;
use crate::providers::http::{Http, HttpConfig};
use crate::providers::registry::{provider_for, ProviderSet};

/// How often the spinner moves while work runs.
const BUSY_TICK: Duration = Duration::from_millis(100);
/// How long the loop sleeps when nothing runs.
const IDLE_TICK: Duration = Duration::from_secs(1);
/// How often the key reader checks whether it should stop.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// What reaches the loop.
enum Msg {
    Term(Event),
    Action(Action),
    InputFailed(String),
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
        inventory_path,
        open_for_run,
    } = options;
    let settings = Settings {
        title,
        read_only,
        now: now.unwrap_or_else(chrono::Utc::now),
        theme: super::theme::Theme { color: !no_color },
        can_save: save.is_some() && !read_only,
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

    let result = TerminalGuard::enter().and_then(|guard| {
        event_loop(
            guard,
            inventory,
            settings,
            save,
            audit,
            inventory_path,
            open_for_run,
            &handle,
        )
    });
    if let Some(rt) = owned {
        // Calls still in flight are abandoned, not awaited: the person asked to leave.
        rt.shutdown_background();
    }
    result
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
        restore_terminal();
        if !thread::panicking() {
            let _ = panic::take_hook();
            let previous = Arc::clone(&self.previous_hook);
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Reads terminal events on its own thread until told to stop.
fn spawn_input(tx: Sender<Msg>, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
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
    })
}

// The session's hooks, each moved in from `DashboardOptions`.
#[allow(clippy::too_many_arguments)]
fn event_loop(
    mut guard: TerminalGuard,
    inventory: Inventory,
    settings: Settings,
    mut save: Option<SaveHook>,
    mut audit: Option<AuditHook>,
    inventory_path: Option<std::path::PathBuf>,
    open_for_run: Option<super::runner::OpenForRun>,
    handle: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let size = guard.terminal.size().context("reading the terminal size")?;
    let mut state = State::new(inventory, settings, (size.width, size.height));
    let (tx, rx) = mpsc::channel::<Msg>();
    let stop = Arc::new(AtomicBool::new(false));
    let input = spawn_input(tx.clone(), Arc::clone(&stop));
    // `kill` or a dropped SSH connection ends the session the way `q` does, so the
    // terminal is restored rather than left in raw mode. The handlers are installed here,
    // before the first frame, so no signal can arrive before they exist.
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let _runtime = handle.enter();
        signal(SignalKind::terminate()).and_then(|t| Ok((t, signal(SignalKind::hangup())?)))
    };
    match signals {
        Ok((mut term, mut hup)) => {
            let quit_tx = tx.clone();
            handle.spawn(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                let _ = quit_tx.send(Msg::Action(Action::Quit));
            });
        }
        Err(e) => {
            let message = format!("cannot watch for SIGTERM: {e}");
            update(&mut state, Action::Failed(message));
        }
    }
    let http = Http::new(HttpConfig::default());
    // Rotations date their changes from the session's `now`, moving with the real clock.
    let clock: crate::rotation::Clock = {
        let (base, started) = (state.settings.now, chrono::Utc::now());
        Arc::new(move || base + (chrono::Utc::now() - started))
    };
    let mut runs = {
        let tx = std::sync::Mutex::new(tx.clone());
        let send: super::runner::SendAction = Arc::new(move |a| {
            let _ = tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(Msg::Action(a));
        });
        super::runner::Runs::new(
            open_for_run,
            http.clone(),
            inventory_path.clone(),
            clock,
            send,
        )
    };
    let providers = Arc::new(match &inventory_path {
        Some(path) => ProviderSet::for_inventory(&http, path),
        None => ProviderSet::from_lookup(&|kind| provider_for(kind, &http)),
    });
    let in_tmux = clipboard::in_tmux();

    let mut outcome = Ok(());
    let mut redraw = true;
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
        let action = match rx.recv_timeout(wait) {
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
            Err(RecvTimeoutError::Timeout) => Some(Action::Tick),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let Some(action) = action else { continue };
        redraw |= !(action == Action::Tick && state.running == 0 && !state.work.busy());
        let mut pending = vec![action];
        while let Some(action) = pending.pop() {
            for effect in update(&mut state, action) {
                match effect {
                    Effect::Run(job) => spawn_job(handle, &providers, *job, tx.clone()),
                    Effect::Copy(secret) => {
                        let bytes = clipboard::osc52(&secret, in_tmux);
                        let backend = guard.terminal.backend_mut();
                        let written = backend.write_all(&bytes).and_then(|()| backend.flush());
                        pending.push(Action::Copied(written.map_err(|e| e.to_string())));
                    }
                    Effect::Audit { event, then } => {
                        let result = match audit.as_mut() {
                            Some(hook) => hook(event),
                            None => Ok(()),
                        };
                        pending.push(Action::Audited { result, then });
                    }
                    Effect::PlanRotation(picked) => runs.plan(handle, picked),
                    Effect::StartRun { kind, plan, refs } => runs.start(handle, kind, plan, refs),
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
                            state
                                .notify(format!("{at}: new secret sent to the clipboard (OSC 52)"));
                        }
                        pending.push(Action::Copied(written));
                    }
                    Effect::Export(request) => {
                        let result = match inventory_path.as_deref() {
                            Some(path) => crate::ops::export::export(
                                path,
                                &crate::audit::AuditLog::for_inventory(path),
                                &state.inventory,
                                &request,
                                state.settings.now,
                            )
                            .map(|(written, report)| (written, report.summary.to_string()))
                            .map_err(|e| e.to_string()),
                            None => Err("no inventory file: nothing to export from".into()),
                        };
                        pending.push(Action::Exported(result));
                    }
                    Effect::Save => {
                        let result = match save.as_mut() {
                            Some(hook) => hook(&state.inventory),
                            None => Err("no save hook".to_string()),
                        };
                        pending.push(Action::Saved(result));
                    }
                }
            }
        }
    }
    // Stop reading keys before the terminal goes back to the shell, so nothing typed
    // after that point is swallowed by a reader that is still polling.
    stop.store(true, Ordering::Relaxed);
    let _ = input.join();
    drop(guard);
    outcome
}

/// Runs one provider call on a task; its answer comes back on `tx`. The same calls as
/// `keyward sync` and `keyward verify` make for each credential ([`crate::sync::inspect_one`],
/// [`crate::verify::verify_one`]), so both faces give the same answer.
fn spawn_job(
    handle: &tokio::runtime::Handle,
    providers: &Arc<ProviderSet>,
    job: Job,
    tx: Sender<Msg>,
) {
    let Job { kind, row, target } = job;
    let providers = Arc::clone(providers);
    handle.spawn(async move {
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
    });
}
