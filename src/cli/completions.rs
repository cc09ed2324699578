//! `keyward completions SHELL` and `keyward man`: shell completion scripts and a man page,
//! generated from the clap definitions (`clap_complete`, `clap_mangen`) so they never drift
//! from the commands. Credential addresses complete from the inventory through the hidden
//! `keyward __complete-refs`, which opens it only when no prompt is needed.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use clap::builder::PossibleValuesParser;
use clap::CommandFactory as _;

use super::Context;

/// The value name of every argument that takes a credential address.
pub const REF_VALUE_NAME: &str = "CLIENT/INTEGRATION";

/// The hidden command the completion scripts call for credential addresses.
pub const COMPLETE_REFS: &str = "__complete-refs";

/// Stands in for an address argument's candidates in a generated script, then is replaced
/// by the shell's call of [`COMPLETE_REFS`]: clap_complete's static scripts have no hook of
/// their own for values known only at completion time.
const REFS_PLACEHOLDER: &str = "__KEYWARD_REFS__";

/// Arguments of `keyward completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish (also elvish, powershell, without address completion).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `keyward man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A command's own page (e.g. `rotate` for keyward-rotate(1)); none: keyward(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Runs `keyward completions SHELL`: the script on stdout.
pub fn run(args: Args) -> Result<i32> {
    let script = script(args.shell);
    std::io::stdout()
        .write_all(script.as_bytes())
        .context("stdout")?;
    Ok(0)
}

/// The completion script for `shell`, addresses completed from the inventory where the
/// shell supports it.
pub fn script(shell: clap_complete::Shell) -> String {
    use clap_complete::Shell;
    let mut cmd = with_ref_placeholders(super::Cli::command());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keyward", &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    match shell {
        // Inside the double-quoted word list of `compgen -W`, run when completing.
        Shell::Bash => text.replace(
            REFS_PLACEHOLDER,
            &format!("$(\"${{COMP_WORDS[0]}}\" {COMPLETE_REFS} 2>/dev/null)"),
        ),
        // An `_arguments` action: the function below, defined before the generated one.
        Shell::Zsh => {
            let helper = format!(
                "_keyward_refs() {{\n    local -a refs\n    refs=(${{(f)\"$(${{words[1]}} {COMPLETE_REFS} 2>/dev/null)\"}})\n    compadd -a refs\n}}\n\n"
            );
            let text = text.replace(&format!("({REFS_PLACEHOLDER})"), "_keyward_refs");
            match text.split_once('\n') {
                // The first line is `#compdef keyward`, which must stay first.
                Some((first, rest)) => format!("{first}\n{helper}{rest}"),
                None => text,
            }
        }
        Shell::Fish => {
            // fish allows no command substitution as a command name: `keyward` on the PATH.
            let call = format!("\"(keyward {COMPLETE_REFS} 2>/dev/null)\"");
            // Options taking an address carry the placeholder as their value list.
            let mut text = text.replace(&format!("\"{REFS_PLACEHOLDER}\\t''\""), &call);
            // clap_complete's fish script has no positional arguments: one line per command
            // whose operands are addresses, with the helper the script defines.
            for name in commands_taking_refs(&super::Cli::command()) {
                text.push_str(&format!(
                    "complete -c keyward -n \"__fish_keyward_using_subcommand {name}\" -f -a {call}\n"
                ));
            }
            strip_placeholders(&text)
        }
        _ => strip_placeholders(&text),
    }
}

/// The top-level commands whose operands are credential addresses.
fn commands_taking_refs(cli: &clap::Command) -> Vec<String> {
    cli.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_positionals().any(takes_refs))
        .map(|c| c.get_name().to_string())
        .collect()
}

/// Drops the placeholder where a shell gets no address completion.
fn strip_placeholders(text: &str) -> String {
    text.replace(REFS_PLACEHOLDER, "")
}

/// `cmd` with every address argument offering [`REFS_PLACEHOLDER`] as its only value, for
/// generating scripts only: the real parser never sees it.
fn with_ref_placeholders(mut cmd: clap::Command) -> clap::Command {
    let ids: Vec<String> = cmd
        .get_arguments()
        .filter(|a| takes_refs(a))
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| {
            a.value_parser(PossibleValuesParser::new([REFS_PLACEHOLDER]))
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, with_ref_placeholders);
    }
    cmd
}

/// Whether `arg` takes credential addresses.
pub fn takes_refs(arg: &clap::Arg) -> bool {
    arg.get_value_names()
        .is_some_and(|names| names.iter().any(|n| n.as_str() == REF_VALUE_NAME))
}

/// Runs `keyward man [COMMAND]`: the roff page on stdout.
pub fn run_man(args: ManArgs) -> Result<i32> {
    let mut cmd = super::Cli::command();
    cmd.build();
    let (page, title) = match &args.command {
        None => (cmd, "keyward".to_string()),
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).filter(|s| !s.is_hide_set()) else {
                let known: Vec<&str> = cmd
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| s.get_name())
                    .collect();
                anyhow::bail!(
                    "no command `{}`; man pages exist for {}",
                    crate::text::terminal_safe(name),
                    known.join(", ")
                );
            };
            let title = format!("keyward-{}", sub.get_name());
            (sub.clone(), title)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .title(title)
        .render(&mut out)
        .context("rendering the man page")?;
    std::io::stdout().write_all(&out).context("stdout")?;
    Ok(0)
}

/// Runs the hidden `keyward __complete-refs`: every credential address, one a line, when the
/// inventory opens without asking anything; nothing otherwise (a completion must never
/// block on a prompt or print an error into the command line being typed).
pub fn run_complete_refs(ctx: &Context) -> Result<i32> {
    crate::store::keys::never_ask();
    let Ok(keyring) = ctx.keyring() else {
        return Ok(1);
    };
    // Store::open, not Context::open: no warning, and no first-use record written.
    let Ok((_, inventory)) = crate::store::Store::open(&ctx.location, &keyring) else {
        return Ok(1);
    };
    let mut out = String::new();
    for client in &inventory.clients {
        for cred in client.integrations.iter().filter(|c| !c.archived) {
            // Ids are checked at every load to hold no whitespace or control characters.
            out.push_str(&format!("{}/{}\n", client.id, cred.id));
        }
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(0)
}
