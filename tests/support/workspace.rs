//! A throwaway home for running the real `keyward` binary: its own HOME, inventory path and
//! fixed clock, and helpers for the age CLI and file hashes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

/// The moment every test judges dates at.
pub const NOW: &str = "2026-11-26T12:00:00Z";

/// A temporary directory that is HOME for the binary, with an inventory path inside.
pub struct Workspace {
    /// The directory; removed on drop.
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A new empty workspace.
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A path inside the workspace.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The default inventory path used by [`Workspace::keyward`].
    pub fn inventory(&self) -> PathBuf {
        self.path("inventory.yaml.age")
    }

    /// The identity `keyward init` creates when there is none.
    pub fn default_identity(&self) -> PathBuf {
        self.path(".config/keyward/identity.txt")
    }

    /// A `keyward` command with HOME, inventory and clock set, and no inherited identity.
    pub fn keyward(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
        cmd.env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("KEYWARD_IDENTITY")
            .env("KEYWARD_INVENTORY", self.inventory())
            .env("KEYWARD_NOW", NOW)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs keyward with `args`, feeding `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.keyward().args(args), stdin)
    }

    /// Runs keyward with `args` and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "keyward {args:?} failed: {}\nstdout: {}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// This workspace person's record of the recipients they last saw for the inventory.
    /// An inventory a test writes through the library is recorded here, as `init` records
    /// the one it creates.
    pub fn seen_record(&self) -> keyward::store::SeenRecord {
        keyward::store::SeenRecord::for_inventory(&self.path(".config/keyward"), &self.inventory())
    }

    /// The audit log's entries as `keyward audit --json` prints them: its entries are
    /// sealed, so the file itself is no place to look for words.
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        let text = self.ok(&["audit", "--json"], "");
        match serde_json::from_str(&text) {
            Ok(serde_json::Value::Array(entries)) => entries,
            _ => panic!("`keyward audit --json` printed no array: {text}"),
        }
    }

    /// `keyward init` with a generated identity.
    pub fn init(&self) {
        self.ok(&["init"], "");
    }
}

/// Runs `cmd` with `stdin` piped in; returns its output.
pub fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// SHA-256 of a file's bytes, to prove a failed command left it untouched.
pub fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read file")))
}

/// Runs the Debian `age` CLI; panics with a hint when it is missing.
pub fn age(args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new("age");
    cmd.args(args);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_with_stdin(&mut cmd, stdin)
    })) {
        Ok(out) => out,
        Err(_) => panic!("the `age` CLI is missing: run scripts/test-setup.sh"),
    }
}

/// Asserts a failed run printed exactly one line on stderr, naming `what`, without panic
/// or backtrace, and exited 1.
pub fn assert_one_line_error(out: &Output, what: &str) -> String {
    assert_one_line_exit(out, 1, what)
}

/// Asserts a run printed exactly one line on stderr, naming `what`, without panic or
/// backtrace, and exited `code`.
pub fn assert_one_line_exit(out: &Output, code: i32, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.contains(what), "stderr should name {what}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr
}
