//! Driving a real terminal: a detached tmux session per test, keys sent with send-keys and
//! the screen read with capture-pane. Used where keyward must talk to a person (passphrase
//! prompts, the dashboard).

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session on its own socket, killed on drop.
pub struct Tmux {
    socket: String,
    /// The session's name.
    pub session: String,
}

impl Tmux {
    /// Starts `command` (run by `sh -c`) in a new session of `width`x`height`, with `env` set.
    pub fn start(command: &str, width: u16, height: u16, env: &[(&str, &str)]) -> Tmux {
        let socket = format!("keyward-test-{}-{}", std::process::id(), unique());
        let session = "t".to_string();
        let mut cmd = Command::new("tmux");
        cmd.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            &session,
        ])
        .args(["-x", &width.to_string(), "-y", &height.to_string()]);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.arg(command);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("tmux is missing ({e}): run scripts/test-setup.sh"));
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let t = Tmux { socket, session };
        // Keep the pane after the command exits so its last screen can be read.
        t.tmux(&["set-option", "-t", &t.session, "remain-on-exit", "on"]);
        t
    }

    /// Runs a tmux command on this session's server; returns its stdout.
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Types `keys` (tmux key names, e.g. "Enter", "Escape", "C-c", or literal text).
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally (no key-name lookup).
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
    }

    /// Waits up to 20 s for `needle` on the screen; panics with the screen otherwise.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("`{needle}` never appeared; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to 20 s for a screen showing every one of `needles` at once (a dialog drawn
    /// while tmux captures can show only its first lines); panics with the screen otherwise.
    pub fn wait_for_all(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("{needles:?} never all appeared; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the pane's program has exited.
    pub fn exited(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", &self.session, "#{pane_dead}"])
            .trim()
            == "1"
    }

    /// Waits for the program to exit and returns its exit status.
    pub fn wait_exit(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.tmux(&[
                "display-message",
                "-p",
                "-t",
                &self.session,
                "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}:#{pid}",
            ]);
            let parts: Vec<&str> = status.trim().split(':').collect();
            if let [dead, code, signal, server] = parts.as_slice() {
                if *dead == "1" {
                    if !code.is_empty() {
                        return code.parse().unwrap_or(-1);
                    }
                    if !signal.is_empty() {
                        return -1;
                    }
                    // Dead but not reaped: tmux built with libutempter can miss the
                    // SIGCHLD while utempter's own handler is in (tmux/tmux#311); a
                    // SIGCHLD to this test's server makes it look again.
                    let _ = Command::new("kill").args(["-CHLD", server]).output();
                }
            }
            assert!(
                Instant::now() < deadline,
                "the program did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
