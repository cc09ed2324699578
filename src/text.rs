//! Text that came from outside keyward (ids, names, notes, file names, a provider's or a
//! server's words) made safe to print. A terminal obeys the control characters it is sent:
//! an OSC sequence retitles it or writes the clipboard, `ESC[2J` clears it, a newline in a
//! name prints a fake row. [`terminal_safe`] is the one function every command's output,
//! table and error line passes user text through; [`json_safe`] does the same for JSON.

use std::borrow::Cow;

/// `text` with every control character shown escaped instead of obeyed: `\n`, `\r`, `\t`,
/// `\x1b` for the other C0 controls and DEL, `\u{9b}` for C1 controls, and the bidirectional
/// overrides that reorder what a reader sees (`\u{202e}`). Everything else is unchanged, so
/// ordinary text costs nothing.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text (as `serde_json` writes it) with DEL, the C1 controls and the bidirectional
/// overrides written as `\u` escapes too: `serde_json` escapes only C0, and a terminal that
/// shows the JSON would obey the rest. The value the JSON means is unchanged, since these
/// characters can only occur inside JSON strings.
pub fn json_safe(json: String) -> String {
    if !json.chars().any(needs_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs_escape(c) && !matches!(c, '\n' | '\r' | '\t') {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` drives a terminal or reorders text rather than being shown: never allowed
/// in an id, always escaped on output.
pub fn is_unsafe_char(c: char) -> bool {
    needs_escape(c)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_newlines_are_shown_not_obeyed() {
        assert_eq!(
            terminal_safe("acme\x1b]0;pwned\x07\x1b[2J\nfake row"),
            "acme\\x1b]0;pwned\\x07\\x1b[2J\\nfake row"
        );
        assert_eq!(
            terminal_safe("a\rb\tc\x7f\u{9b}d"),
            "a\\rb\\tc\\x7f\\u{9b}d"
        );
        assert_eq!(terminal_safe("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "ACME Ltd — CRM «sync» 東京 C:\\path";
        assert!(matches!(terminal_safe(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn json_safe_escapes_what_serde_json_leaves_raw() {
        let json = serde_json::to_string("a\u{9b}2J\u{7f}\u{202e}\x1b").unwrap();
        let safe = json_safe(json.clone());
        assert_eq!(safe, "\"a\\u009b2J\\u007f\\u202e\\u001b\"");
        let back: String = serde_json::from_str(&safe).unwrap();
        let orig: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, orig);
        assert!(!safe.chars().any(needs_escape));
    }
}
