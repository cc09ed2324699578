//! The leak scan at trace level (issue 9, item 8): the real binary runs the demo's whole
//! lifecycle with `KEYWARD_LOG=trace` (to stderr, and to `KEYWARD_LOG_FILE`); every secret
//! the inventory held at any point (old keys and new, read from the inventory and its
//! backups between steps) is then looked for, raw, base64, base64url and hex, in everything
//! printed and every file written, except the encrypted inventory and its backups.

use crate::support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keyward::store::{Keyring, Store};
use support::leak::{assert_no_secret, secret_forms};
use support::workspace::Workspace;

/// A kept demo, what every run printed, and every secret seen so far.
struct Demo {
    ws: Workspace,
    dir: PathBuf,
    log_file: PathBuf,
    secrets: BTreeSet<String>,
    printed: Vec<(String, Vec<u8>)>,
    trace_on_stderr: Vec<u8>,
}

impl Demo {
    fn new() -> Demo {
        let ws = Workspace::new();
        let dir = ws.path("demo");
        let log_file = dir.join("keyward-trace.log");
        let mut demo = Demo {
            ws,
            dir,
            log_file,
            secrets: BTreeSet::new(),
            printed: Vec::new(),
            trace_on_stderr: Vec::new(),
        };
        let kept = demo.dir.to_str().unwrap().to_string();
        let out = demo.run(&["demo", "--keep-in", &kept], Sink::Stderr);
        assert_eq!(out.status.code(), Some(0), "{}", lossy(&out.stderr));
        assert!(
            lossy(&out.stdout).contains("KEYWARD_INVENTORY="),
            "{}",
            lossy(&out.stdout)
        );
        demo.collect_secrets();
        demo
    }

    fn inventory(&self) -> PathBuf {
        self.dir.join("demo.yaml.age")
    }

    fn identity(&self) -> PathBuf {
        self.dir.join("demo-identity.txt")
    }

    fn command(&self, args: &[&str], sink: Sink) -> Command {
        let mut cmd = self.ws.keyward();
        cmd.env("KEYWARD_INVENTORY", self.inventory())
            .env("KEYWARD_IDENTITY", self.identity())
            .env("KEYWARD_LOG", "trace")
            .args(args);
        match sink {
            Sink::Stderr => cmd.env_remove("KEYWARD_LOG_FILE"),
            Sink::File => cmd.env("KEYWARD_LOG_FILE", &self.log_file),
        };
        cmd
    }

    /// Runs keyward, keeps what it printed, then reads the secrets the inventory holds now.
    fn run(&mut self, args: &[&str], sink: Sink) -> Output {
        let out = self
            .command(args, sink)
            .stdin(Stdio::null())
            .output()
            .expect("run keyward");
        let name = format!("`keyward {}`", args.join(" "));
        assert!(
            !lossy(&out.stderr).contains("panicked"),
            "{name}: {}",
            lossy(&out.stderr)
        );
        if sink == Sink::Stderr {
            self.trace_on_stderr.extend_from_slice(&out.stderr);
        }
        self.printed
            .push((format!("stdout of {name}"), out.stdout.clone()));
        self.printed
            .push((format!("stderr of {name}"), out.stderr.clone()));
        self.collect_secrets();
        out
    }

    fn run_ok(&mut self, args: &[&str], sink: Sink) -> Output {
        let out = self.run(args, sink);
        assert_eq!(
            out.status.code(),
            Some(0),
            "keyward {}: {}",
            args.join(" "),
            lossy(&out.stderr)
        );
        out
    }

    /// `keyward rotate AT --yes` stopped at `step` by the test hook and killed there, so
    /// that `resume` has something to finish.
    fn rotate_and_kill_at(&mut self, at: &str, step: &str) {
        let stderr_path = self.ws.path(&format!("killed-{step}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = self
            .command(&["rotate", at, "--yes"], Sink::Stderr)
            .env("KEYWARD_TEST_PAUSE_AT", step)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn keyward");
        let marker = format!("KEYWARD_TEST_PAUSED {step} {at}");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut stdout = Vec::new();
        let mut line = String::new();
        let mut paused = false;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            stdout.extend_from_slice(line.as_bytes());
            if line.trim_end() == marker {
                paused = true;
                break;
            }
            line.clear();
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        let _ = reader.read_to_end(&mut stdout);
        let stderr = std::fs::read(&stderr_path).unwrap();
        assert!(paused, "never paused at {step}: {}", lossy(&stderr));
        self.trace_on_stderr.extend_from_slice(&stderr);
        self.printed
            .push((format!("stdout of the rotation killed at {step}"), stdout));
        self.printed
            .push((format!("stderr of the rotation killed at {step}"), stderr));
        self.collect_secrets();
    }

    /// Every secret the inventory and each of its backups hold: credentials' secrets, the
    /// new secret of a rotation in flight, connections' credentials.
    fn collect_secrets(&mut self) {
        let keys = Keyring::load(&[self.identity()]).expect("demo identity");
        for file in self.encrypted_files() {
            let (_, inv) = Store::open(&file, &keys).expect("decrypt the demo inventory");
            for (_, _, c) in inv.credentials() {
                if let Some(s) = &c.secret {
                    self.secrets.insert(s.expose_secret().to_string());
                }
                let pending = c.rotation.as_ref().and_then(|r| r.new_secret.as_ref());
                if let Some(s) = pending {
                    self.secrets.insert(s.expose_secret().to_string());
                }
            }
            for conn in &inv.connections {
                for s in conn.auth.values() {
                    self.secrets.insert(s.expose_secret().to_string());
                }
            }
        }
    }

    /// The encrypted inventory and its numbered backups: the only files allowed to hold a
    /// secret (encrypted).
    fn encrypted_files(&self) -> Vec<PathBuf> {
        self.files()
            .into_iter()
            .filter(|p| is_encrypted_inventory(p))
            .collect()
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    }

    fn secrets(&self) -> Vec<String> {
        self.secrets.iter().cloned().collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    Stderr,
    File,
}

fn is_encrypted_inventory(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name == "demo.yaml.age"
        || name
            .strip_prefix("demo.yaml.age.")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_demo_lifecycle_at_trace_level_leaks_no_secret_anywhere() {
    let mut demo = Demo::new();
    let at_start = demo.secrets.len();
    assert!(at_start > 0, "the demo inventory holds secrets");

    for sink in [Sink::Stderr, Sink::File] {
        demo.run_ok(&["list"], sink);
        let json = demo.run_ok(&["list", "--json"], sink);
        // Traces never reach stdout: `--json` stays parseable.
        serde_json::from_slice::<serde_json::Value>(&json.stdout)
            .expect("list --json is JSON alone at trace level");
        demo.run_ok(&["show", "acme/crm-sync"], sink);
        demo.run_ok(&["show", "acme/crm-sync", "--json"], sink);
        // Exit codes say what the demo's keys are like; only a crash matters here.
        demo.run(&["sync"], sink);
        demo.run(&["sync", "--json"], sink);
        demo.run(&["verify", "acme/crm-sync", "acme/mail-send"], sink);
        demo.run(
            &[
                "verify",
                "--json",
                "acme/chatbot-llm",
                "acme/billing-webhook",
            ],
            sink,
        );
    }

    demo.run_ok(&["rotate", "acme/mail-send", "--yes"], Sink::Stderr);
    demo.run_ok(&["rotate", "acme/chatbot-llm", "--yes"], Sink::File);
    demo.rotate_and_kill_at("acme/crm-sync", "verify");
    demo.run_ok(&["resume", "--yes"], Sink::Stderr);
    demo.rotate_and_kill_at("acme/analytics-export", "deploy");
    demo.run_ok(&["resume", "--yes"], Sink::File);
    demo.run_ok(&["revoke", "acme/billing-webhook", "--yes"], Sink::Stderr);
    demo.run(&["verify", "acme/crm-sync", "acme/mail-send"], Sink::Stderr);
    assert!(
        demo.secrets.len() >= at_start + 4,
        "the rotations' new secrets were seen: {} then {}",
        at_start,
        demo.secrets.len()
    );

    for format in ["markdown", "csv", "json"] {
        demo.run_ok(&["report", "--format", format], Sink::Stderr);
        let out = demo.dir.join(format!("report.{format}"));
        demo.run_ok(
            &["report", "--format", format, "-o", out.to_str().unwrap()],
            Sink::File,
        );
        assert!(out.is_file(), "{}", out.display());
    }
    for sink in [Sink::Stderr, Sink::File] {
        demo.run_ok(&["audit"], sink);
        demo.run_ok(&["audit", "--json"], sink);
        demo.run_ok(&["audit", "--verify"], sink);
        demo.run(&["check"], sink);
        demo.run(&["check", "--json"], sink);
    }

    // The scan cannot pass by logging nothing: both sinks name requests and steps.
    let on_stderr = lossy(&demo.trace_on_stderr);
    let in_file = std::fs::read(&demo.log_file).expect("KEYWARD_LOG_FILE was written");
    for (what, trace) in [("stderr", on_stderr), ("the log file", lossy(&in_file))] {
        for event in [
            "inventory opened",
            "inventory saved",
            "sandbox request",
            "step entered",
            "provider call",
            "work settled",
            "synced",
            "verified",
        ] {
            assert!(trace.contains(event), "no `{event}` in the trace on {what}");
        }
        assert!(
            trace.contains(" TRACE ") || trace.contains(" DEBUG "),
            "{what}"
        );
    }

    let secrets = demo.secrets();
    for (what, bytes) in &demo.printed {
        assert_no_secret(bytes, what, &secrets);
    }
    let mut scanned = Vec::new();
    for file in demo.files() {
        if is_encrypted_inventory(&file) {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        assert_no_secret(&bytes, &file.display().to_string(), &secrets);
        scanned.push(file.file_name().unwrap().to_string_lossy().into_owned());
    }
    for expected in [
        "keyward-trace.log",
        "demo.yaml.age.audit.jsonl",
        "demo.yaml.age.sandbox.json",
        "report.markdown",
        "report.csv",
        "report.json",
    ] {
        assert!(
            scanned.iter().any(|s| s == expected),
            "{expected} scanned: {scanned:?}"
        );
    }
}

/// The scan itself can fail: each form of a secret is caught, also inside other text.
#[test]
fn the_leak_scan_catches_a_secret_in_every_form() {
    let secret = "sk-demo-Zq9+/x0_AbCdEf?>".to_string();
    for (form, encoded) in secret_forms(&secret) {
        let text = format!("before {encoded} after");
        let caught = std::panic::catch_unwind(|| {
            assert_no_secret(text.as_bytes(), "sample", std::slice::from_ref(&secret))
        });
        assert!(caught.is_err(), "{form} form not caught");
    }
    assert_no_secret(b"nothing here", "clean", &[secret]);
}
