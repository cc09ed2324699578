//! The `ssh` target: `NAME=value` set in an env file on another host, through the system
//! `ssh` client, so `~/.ssh/config`, agents and jump hosts work as the person has them.
//!
//! The secret goes on `ssh`'s standard input, already formatted as the dotenv line, and
//! nowhere else: the remote command line (which `ps` shows, here and there) carries only
//! the small script below, the file's path, the variable's name and the reload command.
//! On the host, with `umask 077`, `awk` reads the line from its standard input and writes
//! the file with that variable replaced (every other line kept) to a temporary file made by
//! `mktemp` in the same directory, which is set to 0600 and renamed over the file: a reader
//! sees the old file or the new one. Then the optional reload command runs.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use zeroize::Zeroizing;

use super::{dotenv, DeployError, TargetKind};
use crate::secret::Secret;

/// Where on which host.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    /// As `ssh` takes it.
    pub host: &'a str,
    /// The env file on the host.
    pub path: &'a str,
    /// The variable.
    pub name: &'a str,
    /// `ssh -p`.
    pub port: Option<u16>,
    /// `ssh -F`.
    pub ssh_config: Option<&'a str>,
    /// Run on the host once the file is replaced.
    pub reload: Option<&'a str>,
}

/// Run on the host by `sh -c SCRIPT keyward-deploy PATH NAME RELOAD`. Exit 3: no line on
/// stdin; 4: the reload failed after the file was replaced. awk's `print` writes the line
/// from its own memory: no process ever has the secret in its arguments.
const SCRIPT: &str = r#"set -eu
umask 077
f=$1; name=$2; reload=$3
dir=$(dirname -- "$f")
tmp=$(mktemp "$dir/.keyward-deploy.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
src=/dev/null
if [ -e "$f" ]; then src=$f; fi
awk -v name="$name" '
function lstrip(s) { sub(/^[ \t]+/, "", s); return s }
BEGIN { if ((getline line < "/dev/stdin") <= 0) exit 3; done = 0; skip = "" }
skip != "" { if (index($0, skip) > 0) skip = ""; next }
{
  s = lstrip($0); ex = ""
  if (s ~ /^export[ \t]/) { ex = "export "; s = lstrip(substr(s, 7)) }
  if (index(s, name) == 1) {
    rest = lstrip(substr(s, length(name) + 1))
    if (substr(rest, 1, 1) == "=") {
      v = lstrip(substr(rest, 2)); q = substr(v, 1, 1)
      if ((q == "\"" || q == "'\''") && index(substr(v, 2), q) == 0) skip = q
      if (!done) { print ex line; done = 1 }
      next
    }
  }
  print
}
END { if (!done) print line }
' "$src" > "$tmp"
chmod 600 "$tmp"
mv -f -- "$tmp" "$f"
trap - EXIT
if [ -n "$reload" ]; then
  sh -c "$reload" >&2 || { echo "the file was replaced; the reload command failed" >&2; exit 4; }
fi
"#;

/// Quotes `s` for a POSIX shell: `ssh` joins its remote arguments into one command line.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `ssh` arguments for `to` (no secret among them).
pub fn argv(to: &Remote<'_>) -> Vec<String> {
    let mut args = vec![
        "-T".to_string(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "ConnectTimeout=15".into(),
    ];
    if let Some(f) = to.ssh_config {
        args.extend(["-F".to_string(), f.to_string()]);
    }
    if let Some(p) = to.port {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args.push("--".into());
    args.push(to.host.to_string());
    args.push(
        [
            "sh".to_string(),
            "-c".into(),
            sh_quote(SCRIPT),
            "keyward-deploy".into(),
            sh_quote(to.path),
            sh_quote(to.name),
            sh_quote(to.reload.unwrap_or_default()),
        ]
        .join(" "),
    );
    args
}

/// Sets `to.name` to `secret` in `to.path` on `to.host`, then runs the reload command.
pub async fn set(
    to: &Remote<'_>,
    secret: &Secret,
    timeout: Duration,
) -> Result<String, DeployError> {
    let request = format!("ssh {}", to.host);
    let fail = |m: String| DeployError {
        request: Some(request.clone()),
        ..DeployError::config(TargetKind::Ssh, m)
    };
    if !dotenv::valid_name(to.name) {
        return Err(fail(format!(
            "`{}` is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
            crate::text::terminal_safe(to.name)
        )));
    }
    if to.host.starts_with('-') {
        return Err(fail("the host may not start with `-`".into()));
    }
    let mut input = Zeroizing::new(dotenv::line(to.name, secret.expose_secret()));
    input.push('\n');
    let mut child = Command::new("ssh")
        .args(argv(to))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            fail(format!(
                "could not start `ssh`: {e}; install an OpenSSH client"
            ))
        })?;
    let mut stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let run = async {
        if let Some(s) = stdin.as_mut() {
            // A host that closes early is seen in the exit status below.
            let _ = s.write_all(input.as_bytes()).await;
            let _ = s.shutdown().await;
        }
        drop(stdin);
        let mut said = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_end(&mut said).await;
        }
        (child.wait().await, said)
    };
    let (status, said) = match tokio::time::timeout(timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            return Err(DeployError {
                transient: true,
                ..fail(format!(
                    "no answer within {}s; the file may or may not have been replaced",
                    timeout.as_secs()
                ))
            })
        }
    };
    let said = String::from_utf8_lossy(&said);
    let said = secret.redact(crate::text::terminal_safe(said.trim()).as_ref());
    let tail: String = said
        .chars()
        .rev()
        .take(400)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match status.map(|s| s.code()) {
        Ok(Some(0)) => Ok(match to.reload {
            Some(r) => format!("{} set in {}:{}, then `{r}` ran", to.name, to.host, to.path),
            None => format!("{} set in {}:{}", to.name, to.host, to.path),
        }),
        Ok(Some(4)) => Err(fail(format!(
            "{}:{} was updated but the reload command failed: {tail}",
            to.host, to.path
        ))),
        // 255: ssh itself failed (connection, authentication).
        Ok(Some(255)) => Err(DeployError {
            transient: true,
            ..fail(format!("ssh could not reach or log in to the host: {tail}"))
        }),
        Ok(code) => Err(fail(format!(
            "the remote update failed (exit {}): {tail}",
            code.map_or("by signal".to_string(), |c| c.to_string())
        ))),
        Err(e) => Err(fail(format!("could not wait for `ssh`: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_in_the_ssh_arguments() {
        let to = Remote {
            host: "deploy@app1",
            path: "/srv/app/.env",
            name: "CRM_KEY",
            port: Some(2222),
            ssh_config: None,
            reload: Some("systemctl reload app"),
        };
        let args = argv(&to).join(" ");
        assert!(
            args.contains("-p 2222") && args.contains("'/srv/app/.env'"),
            "{args}"
        );
        assert!(args.contains("BatchMode=yes"));
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
