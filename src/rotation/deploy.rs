//! Deploy sinks: how a new secret reaches the places that use it.
//!
//! A `command` sink runs `sh -c RUN` with the secret on standard input only: never in the
//! arguments or the environment, which other processes on the machine can read. Its exit
//! status decides; its output is kept with every secret masked. A `manual` sink is a person
//! confirming they updated the consumers; the engine asks through [`super::Interact`].

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
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(run)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
        if name.starts_with("KEYWARD_") {
            cmd.env_remove(name);
        }
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    let failed = |detail: String| CommandOutcome {
        ok: false,
        exit_code: None,
        output: String::new(),
        detail,
    };
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("could not start `sh`: {e}")),
    };
    let pid = child.id();
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
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
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
        Err(_) => {
            if let Some(pid) = pid {
                // The child itself dies with the dropped handle; this ends what it started.
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stderr(Stdio::null())
                    .status();
            }
            failed(format!(
                "the deploy command did not finish within {}s and was killed",
                timeout.as_secs()
            ))
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
