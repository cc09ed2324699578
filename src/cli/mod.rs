//! The command line: clap definitions, the shared [`Context`] every command opens the
//! inventory through, and the mapping from errors to one line on stderr and an exit code.
//! Commands live one per file; each maps its arguments onto the library.

mod add;
mod adopt;
mod archive;
mod audit;
mod check;
mod completions;
mod connect;
mod connections;
mod dashboard;
mod demo;
mod discover;
mod edit;
pub mod exit;
mod import;
mod import_json;
mod init;
pub mod json;
mod list;
mod migrate;
mod providers;
mod recipients;
mod remove;
mod report;
mod restore;
mod rotate;
mod run_json;
mod select;
mod show;
mod sync;
mod table;
mod verify;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use self::exit::Exit;
use self::json::{ErrorKind, Failure};
use crate::inventory::{CredentialRef, Inventory};
use crate::store::{Keyring, Location, RecipientChange, Seen, SeenRecord, Store, StoreError};

/// Keep every client API credential in one age-encrypted inventory; see what expires and
/// what has gone unused; rotate and revoke keys through the providers' APIs.
#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about,
    max_term_width = 100,
    after_help = "Exit codes, the same for every command: 0 done, 1 error, 2 expired or invalid \
(check, verify), 3 could not check, 4 a person is needed, 5 nothing to do, 6 needs attention \
soon (check), 7 declined, 8 timed out (connect), 64 usage error, 130 interrupted. \
README.md has the table; docs/json.md the --json schemas."
)]
pub struct Cli {
    /// The inventory: a file, or an object in an S3-compatible bucket
    /// (s3://BUCKET/PATH/inventory.yaml.age; endpoint and credentials from the standard AWS
    /// configuration: AWS_ENDPOINT_URL, AWS_PROFILE, ~/.aws/credentials).
    #[arg(
        long,
        global = true,
        env = "KEYWARD_INVENTORY",
        value_name = "FILE|s3://BUCKET/KEY"
    )]
    inventory: Option<PathBuf>,

    /// An identity file: age key, age plugin identity, or SSH private key. Repeatable.
    /// Default: ~/.config/keyward/identity.txt, then ~/.ssh/id_ed25519.
    #[arg(
        long = "identity",
        short = 'i',
        global = true,
        env = "KEYWARD_IDENTITY",
        value_name = "FILE",
        value_delimiter = ','
    )]
    identities: Vec<PathBuf>,

    /// For a passphrase-encrypted inventory: read its passphrase from the first line of FILE
    /// instead of asking (cron). FILE must be yours and mode 0600; anyone who can read it can
    /// open the inventory.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    passphrase_file: Option<PathBuf>,

    /// Judge dates as of this moment (RFC 3339) instead of now: for reports and tests.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_NOW",
        value_name = "TIME",
        hide = true
    )]
    now: Option<String>,

    /// With no command: open the dashboard with every key that changes the inventory off.
    #[arg(long)]
    read_only: bool,

    /// Trace what happens on stderr (requests, statuses, timings, retries, rotation steps),
    /// secrets never included: once for debug, twice for trace. `KEYWARD_LOG` (a filter
    /// directive such as `debug` or `keyward=trace`) overrides it; `KEYWARD_LOG_FILE` sends
    /// the lines to a file instead (the only place they go while the dashboard runs).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print JSON on stdout (schemas in docs/json.md), also when the command fails: an error
    /// object then, and the one-line error on stderr.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new inventory (and an identity, if there is none).
    Init(init::Args),
    /// List credentials with their status.
    List(list::Args),
    /// Show every field of one credential; the secret stays masked.
    Show(show::Args),
    /// Add a credential; the secret comes from stdin or a hidden prompt, never argv.
    Add(Box<add::Args>),
    /// Import credentials from CSV or YAML.
    Import(import::Args),
    /// List, add or remove the recipients saves encrypt to.
    #[command(subcommand)]
    Recipients(recipients::Command),
    /// List, add, remove or test the connections keyward uses to reach providers' APIs.
    #[command(subcommand)]
    Connections(connections::Command),
    /// For cron and monitoring: exit 0 all fine, 6 something due soon or stale,
    /// 2 something expired or overdue, 3 could not check.
    Check(check::Args),
    /// Open a throwaway copy of the demo inventory.
    Demo(demo::Args),
    /// List the keys the providers hold that the inventory does not track. Exit 0 none,
    /// 6 some untracked, 3 some connection could not be asked.
    Discover(discover::Args),
    /// Record keys `discover` found, without their secret; `rotate` then takes custody.
    Adopt(adopt::Args),
    /// Ask the providers about the keys and record what they say. Exit 0 all answered,
    /// 3 some could not be synced.
    Sync(sync::Args),
    /// Check that stored secrets still work. Exit 0 all valid, 2 some invalid,
    /// 3 some could not be checked.
    Verify(verify::Args),
    /// Connect an OAuth 2.0 account with the device flow (a URL and a code, fine over SSH);
    /// exit 0 connected, 1 error, 7 declined, 8 expired.
    Connect(connect::Args),
    /// Print the audit log of every action, or check its hash chain with --verify.
    Audit(audit::Args),
    /// A report for clients of what access exists: Markdown, CSV or JSON; never a secret.
    Report(report::Args),
    /// Rotate credentials: create, store, deploy, verify, then revoke the old key.
    Rotate(Box<rotate::RotateArgs>),
    /// Finish (or with --rollback, undo) interrupted rotations and revocations.
    Resume(rotate::ResumeArgs),
    /// Revoke credentials at their provider: deactivate now, delete after a grace period.
    Revoke(rotate::RevokeArgs),
    /// Deliver credentials' current secrets to their deploy targets again, rotating nothing.
    Deploy(rotate::DeployArgs),
    /// Move revoked credentials out of the active table; their history is kept.
    Archive(archive::Args),
    /// Restore a backup (`FILE.1`…) as the newest version, on purpose, and log it.
    Restore(restore::Args),
    /// Copy an inventory, its backups and its audit log to a new location (a file or
    /// s3://BUCKET/KEY, either way), refusing a target that holds anything.
    Migrate(migrate::Args),
    /// Remove credentials for good; a key still live is revoked first (deleted now).
    Remove(remove::Args),
    /// Edit the inventory in $VISUAL/$EDITOR from a private draft, then save it through the
    /// lock, backups and audit log.
    Edit(edit::Args),
    /// Print a shell completion script (bash, zsh, fish) that completes credential
    /// addresses from the inventory.
    Completions(completions::Args),
    /// Print the man page (roff), keyward(1) or a command's.
    Man(completions::ManArgs),
    /// List the providers this build speaks and what each can do (rotate, revoke, verify,
    /// expiry, last use).
    Providers(providers::Args),
    /// Credential addresses for the completion scripts, when no prompt is needed.
    #[command(name = "__complete-refs", hide = true)]
    CompleteRefs,
}

/// Where the inventory and identities are, and what time it is: what every command needs.
#[derive(Debug)]
pub struct Context {
    /// The inventory's local home: the file itself, or the mirror of an object in a bucket
    /// (see [`crate::store::location`]); the lock, audit log and journal are named after it.
    pub inventory: PathBuf,
    /// Where the inventory is kept.
    pub location: Location,
    identities: Vec<PathBuf>,
    explicit_identities: bool,
    passphrase_file: Option<PathBuf>,
    now: DateTime<Utc>,
    json: bool,
}

/// keyward's config directory: `$XDG_CONFIG_HOME/keyward` or `~/.config/keyward`.
pub fn config_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("keyward");
    }
    home().join(".config").join("keyward")
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The identity files tried when none is given.
pub fn default_identities() -> Vec<PathBuf> {
    vec![
        config_dir().join("identity.txt"),
        home().join(".ssh").join("id_ed25519"),
    ]
}

/// Reads a location given on the command line (`s3://BUCKET/KEY` or a file path).
pub fn parse_location(given: &Path) -> Result<Location> {
    Ok(Location::parse(given, &config_dir().join("remote"))?)
}

impl Context {
    fn new(cli: &Cli) -> Result<Context> {
        let now = match &cli.now {
            Some(t) => parse_time(t).with_context(|| format!("--now `{t}`"))?,
            None => Utc::now(),
        };
        let inventory = cli
            .inventory
            .clone()
            .unwrap_or_else(|| config_dir().join("inventory.yaml.age"));
        // What this person saw of each audit log is kept beside what they trust.
        crate::audit::mark::keep_marks_in(&config_dir());
        let location = match parse_location(&inventory)? {
            // A link is resolved once: the lock, log and backups belong to the real file.
            Location::File(path) => Location::File(crate::store::resolve_path(&path)),
            remote => remote,
        };
        Ok(Context {
            inventory: location.home().to_path_buf(),
            location,
            explicit_identities: !cli.identities.is_empty(),
            identities: cli.identities.clone(),
            passphrase_file: cli.passphrase_file.clone(),
            now,
            json: cli.json,
        })
    }

    /// Whether `--json` was given: output for scripts, no prompts on stdout.
    pub fn json(&self) -> bool {
        self.json
    }

    /// The moment statuses are judged at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The identity files to try: those given, or the defaults that exist.
    pub fn identity_paths(&self) -> Vec<PathBuf> {
        if self.explicit_identities {
            self.identities.clone()
        } else {
            default_identities()
                .into_iter()
                .filter(|p| p.is_file())
                .collect()
        }
    }

    /// keyward's own files, which no output path may replace: the inventory and its
    /// siblings, every identity file it may use, and its config directory.
    pub fn own_files(&self) -> crate::store::OwnFiles {
        let mut identities = self.identities.clone();
        identities.extend(default_identities());
        crate::store::OwnFiles::new(&self.inventory, &identities, &[config_dir()])
    }

    /// The identities, loaded.
    pub fn keyring(&self) -> Result<Keyring> {
        let mut keyring = Keyring::load(&self.identity_paths())?;
        if let Some(file) = &self.passphrase_file {
            keyring.set_passphrase(crate::store::keys::read_passphrase_file(file)?);
        }
        Ok(keyring)
    }

    /// Saves `inventory` through `store` (opened for writing). For an inventory in a
    /// bucket, a save refused because another teammate saved meanwhile (a 412) is merged onto
    /// their version and tried again, bounded: their change and this one are both kept, and
    /// a change both made to the same field is refused, naming it.
    pub fn save(&self, store: &mut Store, inventory: &Inventory) -> Result<()> {
        match store.save(inventory) {
            Err(StoreError::ChangedOnDisk { path }) => match store.merge_base().cloned() {
                Some(base) => {
                    store.save_merging(&self.keyring()?, &base, inventory)?;
                    Ok(())
                }
                None => Err(StoreError::ChangedOnDisk { path }.into()),
            },
            other => Ok(other?),
        }
    }

    /// The inventory as messages name it: the file, or the object's `s3://` URL (never
    /// the local home of an object), made terminal-safe.
    pub fn inventory_shown(&self) -> String {
        crate::text::terminal_safe(&self.location.to_string()).into_owned()
    }

    /// Opens the inventory for reading; says on stderr if it disagrees with its audit log
    /// or its recipients changed since this person last saw them (commands that write
    /// refuse it then). Reads never ask.
    pub fn open(&self) -> Result<(Store, Inventory)> {
        let (mut store, inventory) = Store::open(&self.location, &self.keyring()?)?;
        self.warn_if_offline(&store);
        if let Some(d) = store.disagreement() {
            eprintln!("keyward: warning: {}: {d}", self.location);
        }
        if let Some(change) = self.watch_recipients(&mut store)? {
            eprintln!(
                "keyward: warning: {}: {change}; saves are refused until you accept it with \
                 `keyward recipients accept`",
                self.inventory_shown()
            );
        }
        Ok((store, inventory))
    }

    /// Says on stderr when `store` was read from the offline copy of a bucket inventory,
    /// and how old that copy is: what is shown may be behind, and nothing can be saved.
    pub fn warn_if_offline(&self, store: &Store) {
        let Some(copied) = store.offline_since() else {
            return;
        };
        let copied = DateTime::<Utc>::from(copied);
        let age = self.now.signed_duration_since(copied);
        // A copy from after `now` (a --now in the past) has no age worth saying.
        let old = match (age.num_days(), age.num_hours(), age.num_minutes()) {
            (_, _, m) if m < 0 => String::new(),
            (d, _, _) if d >= 1 => format!(", {d} day(s) old"),
            (_, h, _) if h >= 1 => format!(", {h} hour(s) old"),
            (_, _, m) => format!(", {m} minute(s) old"),
        };
        eprintln!(
            "keyward: warning: {}: the storage cannot be reached; showing the offline copy of \
             {}{old}; nothing can be saved until it answers",
            self.location,
            copied.format("%Y-%m-%d %H:%M UTC"),
        );
    }

    /// Opens the inventory holding the write lock until the store is dropped. If its
    /// recipients changed since this person last saw them, shows the change and asks on the
    /// terminal before anything is saved; refuses without a terminal.
    pub fn open_for_write(&self) -> Result<(Store, Inventory)> {
        self.open_for_write_asking(true)
    }

    /// [`Context::open_for_write`], asking about changed recipients only if `may_ask`
    /// (false under `--yes`: a change nobody looked at is never accepted in advance).
    pub fn open_for_write_asking(&self, may_ask: bool) -> Result<(Store, Inventory)> {
        let (mut store, inventory) = Store::open_locked(&self.location, &self.keyring()?)?;
        if let Some(change) = self.watch_recipients(&mut store)? {
            self.confirm_recipient_change(&change, may_ask)?;
            store.accept_recipients(self.seen_record())?;
            audit::record(self, recipients::accepted_event(&change))?;
        }
        Ok((store, inventory))
    }

    /// This person's record of the recipients they last saw for the inventory.
    pub fn seen_record(&self) -> SeenRecord {
        SeenRecord::for_inventory(&config_dir(), &self.inventory)
    }

    /// Starts watching `store`'s recipients against [`Context::seen_record`]; says once on
    /// stderr when an inventory is seen for the first time. Returns a change nobody here
    /// made.
    pub fn watch_recipients(&self, store: &mut Store) -> Result<Option<RecipientChange>> {
        Ok(match store.watch_recipients(self.seen_record())? {
            Seen::FirstUse { count, record } => {
                eprintln!(
                    "keyward: {}: first time seen here: its {count} recipient(s) are trusted \
                     from now on (recorded in {})",
                    self.inventory_shown(),
                    record.display()
                );
                None
            }
            Seen::Unchanged => None,
            Seen::Changed(change) => Some(change),
        })
    }

    /// Shows `change` and asks whether to save to the new set; refuses (one line naming
    /// the change and how to accept it) without a terminal, when `may_ask` is false, or
    /// when the answer is not yes.
    pub fn confirm_recipient_change(&self, change: &RecipientChange, may_ask: bool) -> Result<()> {
        let refused = || StoreError::RecipientsChanged {
            path: self.inventory.clone(),
            change: change.clone(),
        };
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !may_ask || !interactive {
            return Err(refused().into());
        }
        eprintln!(
            "{}: the recipients changed since you last saw them, and not by you here.",
            self.inventory_shown()
        );
        for (sign, list) in [("+ added  ", &change.added), ("- removed", &change.removed)] {
            for r in list.iter() {
                eprintln!("  {sign} {}", crate::text::terminal_safe(r));
            }
        }
        eprint!("Save to this new set of recipients from now on? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let read = std::io::stdin().read_line(&mut line);
        if read.is_ok() && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(refused().into())
        }
    }
}

/// Parses RFC 3339 or a plain `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    crate::inventory::parse_date(text).map_err(anyhow::Error::msg)
}

/// Parses `CLIENT/INTEGRATION` arguments.
pub fn parse_ref(text: &str) -> std::result::Result<CredentialRef, String> {
    text.parse()
}

/// Finds `at` in `inv`, or says which addresses exist for that client.
pub fn require<'a>(
    inv: &'a Inventory,
    at: &CredentialRef,
    path: &Path,
) -> Result<&'a crate::inventory::Credential> {
    inv.credential(at).ok_or_else(|| {
        let near: Vec<String> = inv
            .client(&at.client)
            .map(|c| {
                c.integrations
                    .iter()
                    .map(|i| format!("{}/{}", c.id, i.id))
                    .collect()
            })
            .unwrap_or_default();
        let message = if near.is_empty() {
            format!(
                "{}: no credential `{at}` (no client `{}`)",
                path.display(),
                at.client
            )
        } else {
            format!(
                "{}: no credential `{at}`; client `{}` has {}",
                path.display(),
                at.client,
                near.join(", ")
            )
        };
        Failure::new(ErrorKind::NotFound, Exit::Failed, message).into()
    })
}

/// Whether stdout is a terminal (tables get colour and widths only then).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Runs keyward with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    no_core_dumps();
    quiet_on_broken_pipe();
    unset_empty_settings();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go out as clap writes them. A usage error is one line (clap's
        // usage and hint lines are left to --help), made terminal-safe since it quotes what
        // was typed, and exits 64: clap's own 2 would read as "expired".
        Err(e) if e.use_stderr() => {
            let line = usage_error_line(e);
            let _ = writeln!(std::io::stderr(), "keyward: {line}");
            if std::env::args_os().any(|a| a == "--json") {
                json::print_error(ErrorKind::Usage, Exit::Usage, &line);
            }
            return Exit::Usage.as_code();
        }
        Err(e) => {
            let _ = e.print();
            return Exit::Done.as_code();
        }
    };
    // A check that cannot run must say "could not check", not "expired" (both non-zero).
    let otherwise = if matches!(cli.command, Some(Command::Check(_))) {
        Exit::CouldNotCheck
    } else {
        Exit::Failed
    };
    let json = cli.json;
    let failed = |e: &anyhow::Error| {
        let (kind, exit) = json::classify(e, otherwise);
        let line = one_line(e);
        // Not eprintln!: it panics when stderr is gone (a hung-up terminal).
        let _ = writeln!(std::io::stderr(), "keyward: {line}");
        if json {
            json::print_error(kind, exit, &line);
        }
        exit.as_code()
    };
    if let Err(e) = start_logging(&cli) {
        return failed(&anyhow::Error::new(e));
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => failed(&e),
    }
}

/// A usage error as one line: clap's first line without its `error: ` prefix, with every
/// argument it quotes made terminal-safe, and where to read more.
fn usage_error_line(e: clap::Error) -> String {
    let rendered = terminal_safe_usage_error(e).render().to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!(
        "{} (see --help)",
        crate::text::terminal_safe(first).trim_end()
    )
}

/// Installs the tracing subscriber `--verbose` / `KEYWARD_LOG` ask for, if any.
fn start_logging(cli: &Cli) -> std::result::Result<(), crate::logging::LoggingError> {
    let env = std::env::var(crate::logging::LOG_ENV).ok();
    let Some(directive) = crate::logging::directive(cli.verbose, env.as_deref()) else {
        return Ok(());
    };
    let file = std::env::var_os(crate::logging::LOG_FILE_ENV)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    let sink = crate::logging::Sink::choose(file, opens_dashboard(cli));
    crate::logging::install(&directive, sink)
}

/// Whether this run hands the terminal to the dashboard (no log lines on it then).
fn opens_dashboard(cli: &Cli) -> bool {
    match &cli.command {
        None => stdout_is_terminal() && !cli.json,
        Some(Command::Demo(a)) => a.keep_in.is_none() && stdout_is_terminal() && !cli.json,
        Some(_) => false,
    }
}

/// `e` with every argument and value it quotes made terminal-safe: clap quotes what was
/// typed, and a newline in it would otherwise print a line of its own.
fn terminal_safe_usage_error(mut e: clap::Error) -> clap::Error {
    use clap::error::ContextValue;
    let safe = |s: &String| crate::text::terminal_safe(s).into_owned();
    let escaped: Vec<_> = e
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(s) => Some((kind, ContextValue::String(safe(s)))),
            ContextValue::Strings(v) => {
                Some((kind, ContextValue::Strings(v.iter().map(safe).collect())))
            }
            _ => None,
        })
        .collect();
    for (kind, value) in escaped {
        e.insert(kind, value);
    }
    e
}

/// `KEYWARD_IDENTITY=` (set but empty, as `export KEYWARD_IDENTITY=$MAYBE` leaves it) means
/// "not set", as for most Unix tools: clap would otherwise take it as an empty value and
/// refuse every command, `-i FILE` included. Runs before any other thread exists.
fn unset_empty_settings() {
    for name in [
        "KEYWARD_IDENTITY",
        "KEYWARD_INVENTORY",
        "KEYWARD_NOW",
        "KEYWARD_PASSPHRASE_FILE",
    ] {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(name);
        }
    }
}

/// A crash must not write the decrypted inventory to a core file, and other processes of
/// the same user must not read this one's memory: no core dumps, not dumpable (which also
/// refuses ptrace attach). Best effort: a system that refuses leaves things as they were.
fn no_core_dumps() {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

/// `keyward list | head` closes the pipe early; `println!` then panics. Like other Unix
/// tools (and ripgrep), stop quietly instead: the reader has all it wanted.
fn quiet_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        previous(info);
    }));
}

/// The error and its causes on one line, without a backtrace. Errors name what the user
/// typed (an id, a file name) and what a server said: made terminal-safe, so a newline or an
/// escape sequence in either is shown escaped, never obeyed.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    crate::text::terminal_safe(&parts.join(": ")).into_owned()
}

fn run(cli: Cli) -> Result<i32> {
    let ctx = Context::new(&cli)?;
    match cli.command {
        Some(Command::Init(a)) => init::run(&ctx, a),
        Some(Command::List(a)) => list::run(&ctx, a),
        Some(Command::Show(a)) => show::run(&ctx, a),
        Some(Command::Add(a)) => add::run(&ctx, *a),
        Some(Command::Import(a)) => import::run(&ctx, a),
        Some(Command::Recipients(c)) => recipients::run(&ctx, c),
        Some(Command::Connections(c)) => connections::run(&ctx, c),
        Some(Command::Check(a)) => check::run(&ctx, a),
        Some(Command::Demo(a)) => demo::run(&ctx, a),
        Some(Command::Discover(a)) => discover::run(&ctx, a),
        Some(Command::Adopt(a)) => adopt::run(&ctx, a),
        Some(Command::Sync(a)) => sync::run(&ctx, a),
        Some(Command::Verify(a)) => verify::run(&ctx, a),
        Some(Command::Connect(mut a)) => {
            a.json = ctx.json();
            connect::run(&ctx, a)
        }
        Some(Command::Audit(a)) => audit::run(&ctx, a),
        Some(Command::Report(a)) => report::run(&ctx, a),
        Some(Command::Rotate(a)) => rotate::run_rotate(&ctx, *a),
        Some(Command::Resume(a)) => rotate::run_resume(&ctx, a),
        Some(Command::Revoke(a)) => rotate::run_revoke(&ctx, a),
        Some(Command::Deploy(a)) => rotate::run_deploy(&ctx, a),
        Some(Command::Archive(a)) => archive::run(&ctx, a),
        Some(Command::Restore(a)) => restore::run(&ctx, a),
        Some(Command::Migrate(a)) => migrate::run(&ctx, a),
        Some(Command::Remove(a)) => remove::run(&ctx, a),
        Some(Command::Edit(a)) => edit::run(&ctx, a),
        Some(Command::Completions(a)) => completions::run(a),
        Some(Command::Man(a)) => completions::run_man(a),
        Some(Command::Providers(a)) => providers::run(&ctx, a),
        Some(Command::CompleteRefs) => completions::run_complete_refs(&ctx),
        None if stdout_is_terminal() && !ctx.json() => {
            dashboard::run(&ctx, ctx.inventory_shown(), cli.read_only)
        }
        None => list::run(&ctx, list::Args::default()),
    }
}
