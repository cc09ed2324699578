//! The `deploy_check`: after every target is delivered and before the old key is revoked,
//! a command that must exit 0 or an HTTPS URL that must answer 2xx to a GET. It gets no
//! secret: it checks that the consumers work, as anyone from outside would.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::DeployCheck;
use crate::inventory::ProviderKind;
use crate::providers::http::{check_endpoint, Call, Http, Repeat};
use crate::secret::Secret;

/// How much of a check command's output is kept (its tail).
const KEEP_OUTPUT: usize = 400;

/// Runs `check`; `Ok` says what passed, `Err` why it did not. `mask` lists the secrets a
/// consumer might echo back, masked in what is kept.
pub async fn run(
    check: &DeployCheck,
    http: &Http,
    timeout: Duration,
    mask: &[&Secret],
) -> Result<String, String> {
    let masked = |text: &str| {
        let mut t = crate::secret::redact_tokens(&crate::text::terminal_safe(text));
        for s in mask {
            t = s.redact(&t);
        }
        let n = t.chars().count();
        t.chars()
            .skip(n.saturating_sub(KEEP_OUTPUT))
            .collect::<String>()
    };
    match check {
        DeployCheck::Run(run) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(run)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("KEYWARD_") {
                    cmd.env_remove(name);
                }
            }
            let out = match tokio::time::timeout(timeout, cmd.output()).await {
                Ok(Ok(out)) => out,
                Ok(Err(e)) => return Err(format!("could not start `sh`: {e}")),
                Err(_) => {
                    return Err(format!(
                        "`{run}` did not finish within {}s",
                        timeout.as_secs()
                    ))
                }
            };
            let mut said = String::from_utf8_lossy(&out.stdout).into_owned();
            said.push_str(&String::from_utf8_lossy(&out.stderr));
            if out.status.success() {
                Ok(format!("`{run}` passed"))
            } else {
                Err(format!(
                    "`{run}` failed ({}): {}",
                    out.status
                        .code()
                        .map_or("killed by a signal".to_string(), |c| format!("exit {c}")),
                    masked(said.trim())
                ))
            }
        }
        DeployCheck::Url(url) => {
            let parsed = check_endpoint(ProviderKind::Manual, None, url).map_err(|e| e.message)?;
            let call = Call::new(None, "GET", parsed.path(), Repeat::Safe);
            let reply = http
                .api(ProviderKind::Manual)
                .send(&call, |c| c.get(parsed.clone()))
                .await
                .map_err(|e| format!("GET {url}: {}", masked(&e.message)))?;
            if (200..300).contains(&reply.status) {
                Ok(format!("GET {url} answered {}", reply.status))
            } else {
                Err(format!(
                    "GET {url} answered {}: {}",
                    reply.status,
                    masked(&reply.excerpt())
                ))
            }
        }
    }
}
