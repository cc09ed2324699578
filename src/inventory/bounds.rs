//! Bounds checked before a YAML document reaches the parser: its size, and how deeply its
//! flow collections (`[`, `{`) nest. The parser's work grows with the square of the nesting
//! depth: 200 KB of `[` took it over a minute to refuse. This scan is linear and refuses such
//! a file in milliseconds. It also strips a UTF-8 byte order mark, which editors on Windows
//! write and the parser would take for content.

/// The largest YAML document keyward parses: room for a few hundred thousand credentials
/// (100,000 take about 40 MB), and small enough to parse in a few seconds.
pub const MAX_DOCUMENT_BYTES: usize = 128 * 1024 * 1024;

/// The deepest nesting of flow collections accepted. keyward writes none deeper than one
/// (`scopes: [a, b]`); the schema has nothing deeper than a few levels.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Why a document was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    /// More bytes than [`MAX_DOCUMENT_BYTES`].
    #[error("the document is {0} bytes; the most keyward reads is {MAX_DOCUMENT_BYTES}")]
    TooLarge(usize),
    /// Flow collections nested deeper than [`MAX_FLOW_DEPTH`].
    #[error(
        "`[` and `{{` nest more than {MAX_FLOW_DEPTH} deep (line {line}); \
         no inventory or import needs that"
    )]
    TooDeep {
        /// The 1-based line where the limit was passed.
        line: usize,
    },
}

/// `text` without a leading byte order mark, once its size and nesting are within bounds.
pub fn preflight(text: &str) -> Result<&str, BoundsError> {
    let text = sized(text)?;
    // Each level of nesting opens at a `[` or `{` of its own: with no more of them than
    // the limit, no scan is needed (the block style keyward writes has next to none).
    let openings = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if openings <= MAX_FLOW_DEPTH {
        return Ok(text);
    }
    match deepest_flow_offset(text.as_bytes()) {
        Some(at) => Err(BoundsError::TooDeep {
            line: 1 + text.as_bytes()[..at]
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
        }),
        None => Ok(text),
    }
}

/// `text` without a leading byte order mark, once its size is within bounds: for formats
/// that do not nest (CSV).
pub fn sized(text: &str) -> Result<&str, BoundsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(BoundsError::TooLarge(text.len()));
    }
    Ok(text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Where the next token starts.
    Token,
    /// Inside a plain (unquoted) scalar.
    Plain,
    /// From `#` to the end of the line.
    Comment,
}

/// The byte offset where flow collections first nest deeper than [`MAX_FLOW_DEPTH`], if
/// they do. A lexer that follows the YAML scanner where it matters for depth: brackets
/// count only where a token starts, not inside plain or quoted scalars or comments. Where
/// it cannot be sure (a quoted scalar spanning lines, block scalar content), it errs
/// towards counting: a false refusal needs pathological text, a miss would be slow.
fn deepest_flow_offset(b: &[u8]) -> Option<usize> {
    let blank = |i: usize| {
        b.get(i)
            .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    };
    let flow_indicator = |c: u8| matches!(c, b',' | b'[' | b']' | b'{' | b'}');
    let mut depth = 0usize;
    let mut mode = Mode::Token;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match mode {
            Mode::Comment => {
                if c == b'\n' || c == b'\r' {
                    mode = Mode::Token;
                }
                i += 1;
            }
            Mode::Plain => {
                if matches!(c, b' ' | b'\t' | b'\n' | b'\r') && b.get(i + 1) == Some(&b'#') {
                    mode = Mode::Comment;
                    i += 2;
                } else if ((c == b'\n' || c == b'\r') && depth == 0) || (c == b':' && blank(i + 1))
                {
                    // A line ends a plain scalar in block context (the next line is read as
                    // tokens, which can only overcount); `: ` ends a key.
                    mode = Mode::Token;
                    i += 1;
                } else if depth > 0 && flow_indicator(c) {
                    mode = Mode::Token;
                } else {
                    i += 1;
                }
            }
            Mode::Token => match c {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
                b'#' => {
                    mode = Mode::Comment;
                    i += 1;
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(i);
                    }
                    i += 1;
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
                b'\'' | b'"' => match skip_quoted(b, i, depth) {
                    Ok(next) => i = next,
                    Err(at) => return Some(at),
                },
                b':' if depth > 0 || blank(i + 1) => i += 1,
                b'-' | b'?' if blank(i + 1) => i += 1,
                b'&' | b'*' | b'!' => {
                    i += 1;
                    while i < b.len() && !blank(i) && !flow_indicator(b[i]) {
                        i += 1;
                    }
                }
                // A block scalar's header; its content lines are then read as tokens, which
                // can only overcount.
                b'|' | b'>' if depth == 0 => {
                    mode = Mode::Comment;
                    i += 1;
                }
                _ => {
                    mode = Mode::Plain;
                    i += 1;
                }
            },
        }
    }
    None
}

/// The offset after the quoted scalar opening at `start`. One closed on its own line is
/// skipped whole. One that spans lines may not be what the parser sees as quoted, so every
/// `[` and `{` in it counts as an opening (and no closing counts): `Err` with the offset
/// where that passes the limit.
fn skip_quoted(b: &[u8], start: usize, depth: usize) -> Result<usize, usize> {
    let quote = b[start];
    let mut i = start + 1;
    let mut spans_lines = false;
    let mut opens = 0usize;
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 1,
            q if q == quote => {
                if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 1;
                } else {
                    return Ok(i + 1);
                }
            }
            b'\n' | b'\r' => spans_lines = true,
            b'[' | b'{' if spans_lines => {
                opens += 1;
                if depth + opens > MAX_FLOW_DEPTH {
                    return Err(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn refused_fast(text: &str) {
        let t = Instant::now();
        let e = preflight(text).unwrap_err();
        assert!(matches!(e, BoundsError::TooDeep { .. }), "{e}");
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn nesting_bomb_is_refused_in_milliseconds() {
        for open in ["[", "{", "[ ", "{a: "] {
            refused_fast(&format!("version: 1\nclients: {}", open.repeat(200_000)));
            refused_fast(&open.repeat(200_000));
        }
        // Hidden behind a quote the parser closes on another line.
        refused_fast(&format!("a: [ 'x\n' {}", "[".repeat(200_000)));
        refused_fast(&format!("a: \"x\n{}", "[".repeat(200_000)));
    }

    #[test]
    fn brackets_in_scalars_and_comments_do_not_count() {
        let deep = "[".repeat(100);
        for text in [
            format!("notes: see {deep}\n"),
            format!("notes: '{deep}'\n"),
            format!("notes: \"{deep}\"\n"),
            format!("notes: x # {deep}\n"),
            format!("notes: [a, 'b{deep}', \"c{deep}\", d]\n"),
            "notes: |\n  text\n".to_string(),
            format!("{}{}\n", "[".repeat(64), "]".repeat(64)),
        ] {
            assert!(preflight(&text).is_ok(), "{text}");
        }
        assert!(preflight(&format!("{}{}\n", "[".repeat(65), "]".repeat(65))).is_err());
    }

    #[test]
    fn a_byte_order_mark_is_stripped() {
        assert_eq!(preflight("\u{feff}version: 1\n"), Ok("version: 1\n"));
    }

    #[test]
    fn an_oversized_document_is_refused() {
        let big = " ".repeat(MAX_DOCUMENT_BYTES + 1);
        assert_eq!(
            preflight(&big),
            Err(BoundsError::TooLarge(MAX_DOCUMENT_BYTES + 1))
        );
    }
}
