//! `keyward edit`: the inventory decrypted into a private draft for `$VISUAL`/`$EDITOR`,
//! checked, then saved through the store like any other change (lock, backups, the
//! check that nobody else wrote meanwhile) and logged. Decrypting by hand with `age` and
//! encrypting back bypasses all of that.
//!
//! The draft lives in a new 0700 directory in memory-backed storage where there is one
//! (`$XDG_RUNTIME_DIR`, else `/dev/shm`), and is overwritten and removed, with whatever the
//! editor left beside it (swap and backup files), however the edit ends: saved, aborted,
//! refused, the editor crashing, or keyward getting SIGINT, SIGTERM or SIGHUP meanwhile.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use tokio::signal::unix::{signal, SignalKind};
use zeroize::Zeroizing;

use super::audit::record;
use super::Context;
use crate::audit::{AuditAction, Event};
use crate::inventory::Inventory;

/// Arguments of `keyward edit`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The private directory holding the draft; wiped when dropped.
struct Draft {
    dir: Option<tempfile::TempDir>,
    file: PathBuf,
}

impl Draft {
    /// Writes `text` to a new draft in [`draft_base`].
    fn create(text: &str) -> Result<Draft> {
        let (base, in_memory) = draft_base();
        if !in_memory {
            eprintln!(
                "keyward: warning: no memory-backed directory ($XDG_RUNTIME_DIR or /dev/shm): \
                 the draft goes to {}, on disk until it is wiped",
                base.display()
            );
        }
        let dir = crate::fsutil::create_private_temp_dir(&base, "keyward-edit-")
            .with_context(|| format!("{}: cannot create a private directory", base.display()))?;
        let file = dir.path().join("inventory.yaml");
        let draft = Draft {
            dir: Some(dir),
            file,
        };
        let mut f = crate::fsutil::create_new_private(&draft.file)
            .with_context(|| format!("{}: cannot create the draft", draft.file.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .with_context(|| format!("{}: cannot write the draft", draft.file.display()))?;
        Ok(draft)
    }

    /// The draft's text as the editor left it (possibly replaced by a rename).
    fn read(&self) -> Result<Zeroizing<String>> {
        let bytes = Zeroizing::new(
            std::fs::read(&self.file)
                .with_context(|| format!("{}: the draft is gone", self.file.display()))?,
        );
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Zeroizing::new(text.to_string())),
            Err(_) => bail!("the edited inventory is not UTF-8 text; nothing saved"),
        }
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            if let Err(e) = crate::fsutil::wipe_dir(dir.path()) {
                eprintln!(
                    "keyward: warning: {}: could not remove the draft ({}); delete it by hand",
                    dir.path().display(),
                    crate::store::keys::io_words(&e)
                );
            }
        }
    }
}

/// Where drafts go: `$XDG_RUNTIME_DIR` (a per-user tmpfs), else `/dev/shm`, else the temp
/// directory; and whether it is memory-backed.
fn draft_base() -> (PathBuf, bool) {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if dir.is_dir() {
            return (dir, true);
        }
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        return (shm.to_path_buf(), true);
    }
    (std::env::temp_dir(), false)
}

/// The editor to run: `$VISUAL`, then `$EDITOR`, then `vi`.
fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// Why an edit ended without a save.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    /// keyward itself got a signal.
    #[error("stopped by {0} while the editor was open; nothing saved, the draft was wiped")]
    Signal(&'static str),
    /// The editor failed.
    #[error("the editor `{editor}` {how}; nothing saved, the draft was wiped")]
    Editor { editor: String, how: String },
}

/// Runs `keyward edit`.
pub fn run(ctx: &Context, _args: Args) -> Result<i32> {
    // Read without the lock: a person may take minutes; the save re-checks the file.
    let (mut store, before) = ctx.open()?;
    let text = Zeroizing::new(
        crate::secret::with_secrets_exposed(|| serde_yaml::to_string(&before))
            .context("cannot encode the inventory")?,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let edited = runtime.block_on(edit_until_valid(&text));
    // A question left unanswered when a signal came still blocks a thread on stdin.
    runtime.shutdown_background();
    let edited = match edited? {
        Some(edited) if edited != before => edited,
        _ => {
            println!("No changes; nothing saved.");
            return Ok(0);
        }
    };
    let what = describe(&before, &edited);
    // The lock only for the save. Another writer's change since the draft was read is kept:
    // the edit is applied onto it, and a field both changed is refused, naming it.
    store.save_merging(&ctx.keyring()?, &before, &edited)?;
    record(ctx, Event::new(AuditAction::Edited, None, what.clone()))?;
    println!("Saved: {what}.");
    Ok(0)
}

/// Opens the editor on a draft until what it leaves parses as an inventory (or the person
/// gives up); `None` when nothing changed. Signals are watched from before the draft exists
/// to after it is wiped.
async fn edit_until_valid(text: &str) -> Result<Option<Inventory>> {
    let mut signals = Signals::watch()?;
    let draft = Draft::create(text)?;
    let editor = editor();
    loop {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            // exec: the editor's own exit status and signal reach keyward, not the shell's.
            .arg(format!("exec {editor} \"$@\""))
            .arg("keyward-edit")
            .arg(&draft.file)
            .spawn()
            .with_context(|| format!("cannot start the editor `{editor}`"))?;
        let stopped_by = tokio::select! {
            status = child.wait() => {
                let status = status.context("waiting for the editor")?;
                if !status.success() {
                    use std::os::unix::process::ExitStatusExt as _;
                    let how = match (status.code(), status.signal()) {
                        (Some(code), _) => format!("exited with status {code}"),
                        (None, Some(sig)) => format!("was killed by signal {sig}"),
                        _ => "failed".to_string(),
                    };
                    return Err(Stopped::Editor { editor, how }.into());
                }
                None
            }
            signal = signals.next() => Some(signal),
        };
        if let Some(signal) = stopped_by {
            let _ = child.kill().await;
            return Err(Stopped::Signal(signal).into());
        }
        let new_text = draft.read()?;
        if new_text.as_str() == text {
            return Ok(None);
        }
        match crate::inventory::validate::parse(&new_text) {
            Ok(mut inventory) => {
                // The store's bookkeeping is its own: a hand-edited one is not trusted.
                inventory.integrity = None;
                return Ok(Some(inventory));
            }
            Err(e) => {
                let line = format!("the edited inventory is not valid: {e}");
                let again = tokio::select! {
                    again = ask_edit_again(line.clone()) => again,
                    signal = signals.next() => return Err(Stopped::Signal(signal).into()),
                };
                if !again {
                    bail!("{line}; nothing saved, the draft was wiped");
                }
            }
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP, caught for as long as a draft may exist, so that the draft
/// is wiped before keyward exits instead of being left behind.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn watch() -> Result<Signals> {
        let watch = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot watch for {name}"))
        };
        Ok(Signals {
            interrupt: watch(SignalKind::interrupt(), "SIGINT")?,
            terminate: watch(SignalKind::terminate(), "SIGTERM")?,
            hangup: watch(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The name of the next signal that arrives.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// Shows `problem` and asks whether to edit again; false without a terminal.
async fn ask_edit_again(problem: String) -> bool {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    let asked = tokio::task::spawn_blocking(move || {
        eprintln!("keyward: {}", crate::text::terminal_safe(&problem));
        eprint!("Edit again (the draft keeps your changes)? [Y/n] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .ok()
            .filter(|read| *read > 0)
            .map(|_| !matches!(answer.trim().to_ascii_lowercase().as_str(), "n" | "no"))
    });
    matches!(asked.await, Ok(Some(true)))
}

/// What an edit changed, by address and section name only (never a value): the audit
/// entry's detail and the closing line.
fn describe(before: &Inventory, after: &Inventory) -> String {
    let addresses = |inv: &Inventory| -> Vec<(String, crate::inventory::Credential)> {
        inv.clients
            .iter()
            .flat_map(|c| {
                c.integrations
                    .iter()
                    .map(move |i| (format!("{}/{}", c.id, i.id), i.clone()))
            })
            .collect()
    };
    let (old, new) = (addresses(before), addresses(after));
    fn find(
        list: &[(String, crate::inventory::Credential)],
        at: &str,
    ) -> Option<crate::inventory::Credential> {
        list.iter().find(|(a, _)| a == at).map(|(_, c)| c.clone())
    }
    let mut parts = Vec::new();
    let changed: Vec<&str> = new
        .iter()
        .filter(|(at, c)| find(&old, at).is_some_and(|o| &o != c))
        .map(|(at, _)| at.as_str())
        .collect();
    let added: Vec<&str> = new
        .iter()
        .filter(|(at, _)| find(&old, at).is_none())
        .map(|(at, _)| at.as_str())
        .collect();
    let removed: Vec<&str> = old
        .iter()
        .filter(|(at, _)| find(&new, at).is_none())
        .map(|(at, _)| at.as_str())
        .collect();
    for (word, list) in [("changed", changed), ("added", added), ("removed", removed)] {
        if !list.is_empty() {
            parts.push(format!("{word} {}", list.join(", ")));
        }
    }
    if before.connections != after.connections {
        parts.push("connections changed".into());
    }
    if before.recipients != after.recipients {
        parts.push("recipients changed".into());
    }
    if before.policy != after.policy {
        parts.push("policy changed".into());
    }
    if parts.is_empty() {
        parts.push("client names or order".into());
    }
    format!("edited by hand: {}", parts.join("; "))
}
