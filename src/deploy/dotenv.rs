//! Setting one variable in dotenv text: `NAME=value`, the value quoted the way dotenv
//! readers (docker compose, python-dotenv, Node's dotenv, systemd's `EnvironmentFile`)
//! agree on, every other line kept as it was.

/// Whether `name` can be a variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value` on one line: bare when the value has only characters no reader treats
/// specially, in single quotes (taken literally) when it has no quote or line break, else
/// in double quotes with `\\`, `\"`, `\$`, `` \` `` and `\n` escaped.
pub fn line(name: &str, value: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-.,/:@+%^~".contains(c);
    if !value.is_empty() && value.chars().all(bare) {
        format!("{name}={value}")
    } else if !value.contains(['\'', '\n', '\r']) {
        format!("{name}='{value}'")
    } else {
        let mut q = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            match c {
                '\\' | '"' | '$' | '`' => {
                    q.push('\\');
                    q.push(c);
                }
                '\n' => q.push_str("\\n"),
                '\r' => q.push_str("\\r"),
                c => q.push(c),
            }
        }
        format!("{name}=\"{q}\"")
    }
}

/// `text` with `NAME` set to the pre-formatted `new_line` ([`line`]): the first assignment
/// of `NAME` (with or without `export `) replaced in place, later ones dropped, the lines of
/// a quoted value spanning several lines dropped with it, every other line kept; appended
/// when absent. The result ends with a newline.
pub fn set(text: &str, name: &str, new_line: &str) -> String {
    let mut out = String::with_capacity(text.len() + new_line.len() + 1);
    let mut done = false;
    let mut open_quote: Option<char> = None;
    for l in text.lines() {
        if let Some(q) = open_quote {
            if closes(l, q) {
                open_quote = None;
            }
            continue;
        }
        match assigned_value(l, name) {
            Some((export, value)) => {
                open_quote = unclosed_quote(value);
                if !done {
                    if export {
                        out.push_str("export ");
                    }
                    out.push_str(new_line);
                    out.push('\n');
                    done = true;
                }
            }
            None => {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    if !done {
        out.push_str(new_line);
        out.push('\n');
    }
    out
}

/// If `l` assigns `name`: whether it has `export ` and the text after `=`.
fn assigned_value<'a>(l: &'a str, name: &str) -> Option<(bool, &'a str)> {
    let s = l.trim_start();
    let (export, s) = match s.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => (true, rest.trim_start()),
        _ => (false, s),
    };
    let rest = s.strip_prefix(name)?.trim_start();
    rest.strip_prefix('=').map(|v| (export, v.trim_start()))
}

/// The quote a value opens and does not close on its line, if any.
fn unclosed_quote(value: &str) -> Option<char> {
    let q = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    (!closes(&value[1..], q)).then_some(q)
}

/// Whether `s` holds the closing `q` (a double quote not escaped by a backslash).
fn closes(s: &str, q: char) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return true;
        }
        escaped = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_dotenv_readers_agree() {
        assert_eq!(line("K", "abc-123_/x"), "K=abc-123_/x");
        assert_eq!(line("K", "a b$c"), "K='a b$c'");
        assert_eq!(line("K", ""), "K=''");
        assert_eq!(line("K", "it's\n\"$x\""), "K=\"it's\\n\\\"\\$x\\\"\"");
        assert!(valid_name("_A1") && !valid_name("1A") && !valid_name("A-B") && !valid_name(""));
    }

    #[test]
    fn set_replaces_in_place_and_keeps_every_other_line() {
        let before = "# app\nA=1\nexport KEY=old\nB='x y'\nKEY=dup\n";
        assert_eq!(
            set(before, "KEY", "KEY=new"),
            "# app\nA=1\nexport KEY=new\nB='x y'\n"
        );
        assert_eq!(set("A=1", "KEY", "KEY=new"), "A=1\nKEY=new\n");
        assert_eq!(set("", "KEY", "KEY=new"), "KEY=new\n");
        // A prefix of another name is another variable.
        assert_eq!(set("KEY_2=x\n", "KEY", "KEY=n"), "KEY_2=x\nKEY=n\n");
    }

    #[test]
    fn a_multi_line_old_value_goes_with_its_assignment() {
        let before = "KEY=\"line one\nline \\\" two\"\nAFTER=1\n";
        assert_eq!(set(before, "KEY", "KEY=n"), "KEY=n\nAFTER=1\n");
        let single = "KEY='a\nb'\nAFTER=1\n";
        assert_eq!(set(single, "KEY", "KEY=n"), "KEY=n\nAFTER=1\n");
    }
}
