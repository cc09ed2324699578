//! Deploy sinks: how a new secret reaches the places that use it.
//!
//! A `command` sink runs `sh -c RUN` with the secret on standard input only: never in the
//! arguments or the environment, which other processes on the machine can read. Its exit
//! status decides; its output is kept with every secret masked. A `manual` sink is a person
//! confirming they updated the consumers; the engine asks through [`super::Interact`].
//!
//! A deploy command never outlives keyward. It runs in a process group of its own, so a
//! timeout can end everything it started; a kill -9 of keyward would leave that group
//! running, and `resume` would start a second copy. `PR_SET_PDEATHSIG` needs `unsafe`
//! (`pre_exec`), which this crate forbids, and only reaches the direct child. Instead a
//! watchdog (`sh` waiting on a pipe only keyward holds the writing end of) leads the group
//! and the command joins it: when keyward dies, however it dies, the kernel closes the
//! pipe, the watchdog's `read` returns, and it kills the whole group, itself included. A
//! command that leaves the group on purpose (`setsid`, a daemon) is not followed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::secret::Secret;

/// How much of a command's output is kept (its tail).
const KEEP_OUTPUT: usize = 4000;

/// What running a deploy command came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// Exit status 0 within the time allowed.
    pub ok: bool,
    /// The exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Standard output then standard error, every secret masked, cut to its tail.
    pub output: String,
    /// Why it failed, in words (empty on success).
    pub detail: String,
}

/// Runs `run` with `sh -c`, writing `secret` and a newline to its standard input.
///
/// `env` adds non-secret variables (the credential's address, the new key's id); every
/// `KEYWARD_*` variable of this process is removed first so none leaks into the command.
/// `mask` lists every secret to mask in the kept output (the one sent included). After
/// `timeout` the command's whole process group is killed.
pub async fn run_command(
    run: &str,
    secret: &Secret,
    env: &[(&str, String)],
    mask: &[&Secret],
    timeout: Duration,
) -> CommandOutcome {
    let failed = |detail: String| CommandOutcome {
        ok: false,
        exit_code: None,
        output: String::new(),
        detail,
    };
    let mut group = match Group::start() {
        Ok(g) => g,
        Err(e) => return failed(format!("could not start the deploy's watchdog `sh`: {e}")),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(run)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(group.pgid.as_raw_nonzero().get());
    for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if name.starts_with("KEYWARD_") {
            cmd.env_remove(name);
        }
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("could not start `sh`: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let mut input = zeroize::Zeroizing::new(secret.expose_secret().as_bytes().to_vec());
        input.push(b'\n');
        // A command that never reads its input closes the pipe early: not an error here,
        // its exit status decides.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let result = tokio::time::timeout(timeout, child.wait_with_output()).await;
    match &result {
        // It exited: what it left running in the background may go on, as a command run
        // by hand would. Only the watchdog is stopped.
        Ok(_) => group.release().await,
        // Everything it started ends with it (the watchdog too).
        Err(_) => group.kill(),
    }
    match result {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let output = tail(&mask_all(&text, mask), KEEP_OUTPUT);
            let ok = out.status.success();
            CommandOutcome {
                ok,
                exit_code: out.status.code(),
                output,
                detail: if ok {
                    String::new()
                } else {
                    match out.status.code() {
                        Some(code) => format!("the deploy command exited with status {code}"),
                        None => "the deploy command was killed by a signal".to_string(),
                    }
                },
            }
        }
        Ok(Err(e)) => failed(format!("could not run the deploy command: {e}")),
        Err(_) => failed(format!(
            "the deploy command did not finish within {}s and was killed",
            timeout.as_secs()
        )),
    }
}

/// The process group a deploy command runs in, led by a watchdog that kills the group when
/// keyward dies (see the module docs). Dropped without [`Group::release`], it kills the
/// group: a deploy abandoned half-way does not go on alone.
struct Group {
    watchdog: tokio::process::Child,
    /// Never written: its closing, by keyward's death, is the watchdog's signal.
    _alive: tokio::process::ChildStdin,
    pgid: rustix::process::Pid,
    armed: bool,
}

impl Group {
    /// Starts the watchdog as the leader of a new process group.
    fn start() -> std::io::Result<Group> {
        let mut watchdog = Command::new("sh")
            .args(["-c", "read _; kill -9 0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()?;
        let alive = watchdog
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe to the watchdog"))?;
        let pgid = watchdog
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
            .ok_or_else(|| std::io::Error::other("the watchdog exited at once"))?;
        Ok(Group {
            watchdog,
            _alive: alive,
            pgid,
            armed: true,
        })
    }

    /// Stops the watchdog alone, leaving the rest of the group be.
    async fn release(&mut self) {
        self.armed = false;
        let _ = self.watchdog.start_kill();
        let _ = self.watchdog.wait().await;
    }

    /// Kills every process in the group.
    fn kill(&mut self) {
        self.armed = false;
        let _ = rustix::process::kill_process_group(self.pgid, rustix::process::Signal::KILL);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
    }
}

fn mask_all(text: &str, secrets: &[&Secret]) -> String {
    secrets.iter().fold(text.to_string(), |t, s| s.redact(&t))
}

fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MASK;

    const SECRET: &str = "sbxsk_deploy-test-secret-0123456789";

    async fn run(cmd: &str) -> CommandOutcome {
        let s = Secret::new(SECRET);
        let env = [("KEYWARD_CREDENTIAL", "acme/crm".to_string())];
        run_command(cmd, &s, &env, &[&s], Duration::from_secs(10)).await
    }

    #[tokio::test]
    async fn the_secret_arrives_on_stdin_only_and_is_masked_in_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("got");
        let cmd = format!(
            "cat > '{}'; echo \"args: $0 $*\"; env; cat '{}'; echo \"for $KEYWARD_CREDENTIAL\" >&2",
            file.display(),
            file.display()
        );
        let out = run(&cmd).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("{SECRET}\n")
        );
        // `env` printed the environment and `cat` echoed the secret: only the latter shows,
        // masked.
        assert!(!out.output.contains(SECRET), "{}", out.output);
        assert_eq!(out.output.matches(MASK).count(), 1, "{}", out.output);
        assert!(out.output.contains("for acme/crm"));
    }

    #[tokio::test]
    async fn exit_status_decides() {
        let out = run("echo nope >&2; exit 3").await;
        assert!(!out.ok);
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.detail, "the deploy command exited with status 3");
        assert!(out.output.contains("nope"));
        // A command that ignores its input still succeeds.
        assert!(run("true").await.ok);
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed() {
        let s = Secret::new(SECRET);
        let out = run_command("sleep 30", &s, &[], &[&s], Duration::from_millis(200)).await;
        assert!(!out.ok);
        assert!(out.detail.contains("did not finish"), "{}", out.detail);
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("abc", 5), "abc");
        assert_eq!(tail("ééé", 3), "…é");
    }
}
