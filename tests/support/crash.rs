//! Kills the real binary at a rotation step: `keyward rotate CRED --yes` runs with
//! `KEYWARD_TEST_PAUSE_AT` (binary built with `--features test-hooks`), the test waits for the
//! hook's marker line on stdout, then sends SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use super::workspace::Workspace;

/// Starts `keyward rotate <at> --yes` paused at `point`, waits for the marker line, and
/// kills the process with SIGKILL there.
pub fn rotate_and_kill_at(ws: &Workspace, at: &str, point: &str) {
    let mut child = ws
        .keyward()
        .args(["rotate", at, "--yes"])
        .env("KEYWARD_TEST_PAUSE_AT", point)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyward");
    let stdout = child.stdout.take().expect("stdout");
    let marker = format!("KEYWARD_TEST_PAUSED {point} {at}");
    let mut seen = Vec::new();
    let paused = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| {
            seen.push(line.clone());
            line == marker
        });
    if !paused {
        let out = child.wait_with_output().expect("wait");
        panic!(
            "keyward never paused at {point}; stdout: {}\nstderr: {}",
            seen.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.kill().expect("SIGKILL");
    assert!(!child.wait().expect("wait").success());
}

/// Starts `keyward rotate <at> --yes` and kills it with SIGKILL as soon as `started()` says
/// the deploy command is running (it leaves a mark the test looks for).
pub fn rotate_and_kill_once(ws: &Workspace, at: &str, started: impl Fn() -> bool) {
    let mut child = ws
        .keyward()
        .args(["rotate", at, "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyward");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !started() {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("wait");
            panic!(
                "keyward ended ({status}) before the deploy started: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    assert!(!child.wait().expect("wait").success());
}

/// Whether process `pid` is gone (or only a zombie waiting to be reaped).
pub fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses: `pid (comm) S …`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}
