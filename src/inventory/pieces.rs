//! Reads a well-formed inventory in one pass, in pieces of bounded size, as its text
//! arrives (from the age stream, or a string): [`super::validate::parse`]'s fast path.
//!
//! The YAML parser turns a whole document into a list of events before deserializing it:
//! about ten times the text in memory, which at 100,000 credentials is more than the
//! inventory itself. The `clients:` sequence is nearly all of an inventory, and each of its
//! items is a complete YAML node on lines of its own: parsed as a document of its own, a run
//! of items reads exactly as it does inside the whole file. So the items are parsed a run
//! at a time as the text arrives, and the rest of the file (with `clients: []` in their
//! place) as one small document at the end. Only one run of text is held at a time.
//!
//! Anything this does not recognise, and every error, yields `None`: the caller then parses
//! the whole text the careful way, which finds the error and its line. A split can only
//! change the meaning of text that does not parse (a quoted scalar cut in two, an alias to
//! an anchor in another run), and then a piece fails and the careful way decides.

use std::io::Read;

use zeroize::Zeroizing;

use super::bounds::{MAX_DOCUMENT_BYTES, MAX_FLOW_DEPTH};
use super::{Client, Inventory};

/// About how much text one run of clients holds: large enough that parsing one has no
/// measurable overhead, small enough that its events stay in the CPU's cache.
const RUN_BYTES: usize = 128 * 1024;

/// How much is read from the source at a time.
const READ_BYTES: usize = 64 * 1024;

/// The inventory `text` holds, read piece by piece; `None` when the text is laid out in a
/// way this does not split, or when any piece is not valid.
pub(crate) fn parse(text: &str) -> Option<Inventory> {
    parse_stream(text.as_bytes())
}

/// [`parse`] for text read from `source` as it arrives (the age stream), so that the whole
/// plaintext is never held at once: only the lines outside `clients:` and one run of items.
/// `None` also when the source fails, or holds more than [`MAX_DOCUMENT_BYTES`] or more
/// `[` and `{` than [`MAX_FLOW_DEPTH`]: the careful parse then reads it whole and applies
/// the bounds itself.
pub(crate) fn parse_stream(mut source: impl Read) -> Option<Inventory> {
    let mut pieces = Pieces::default();
    let mut block = Zeroizing::new(vec![0u8; READ_BYTES]);
    let mut partial = Zeroizing::new(Vec::with_capacity(2 * READ_BYTES));
    let mut total = 0usize;
    loop {
        let n = match source.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        total += n;
        if total > MAX_DOCUMENT_BYTES {
            return None;
        }
        append(&mut partial, &block[..n]);
        if let Some(last) = partial.iter().rposition(|b| *b == b'\n') {
            for line in partial[..=last].split_inclusive(|b| *b == b'\n') {
                pieces.line(line)?;
            }
            partial.drain(..=last);
        }
    }
    if !partial.is_empty() {
        pieces.line(&partial)?;
    }
    pieces.finish()
}

/// Appends `bytes` to `buffer`, growing it by moving to a new buffer and wiping the old:
/// a plain reallocation would leave a copy of the plaintext in freed memory.
fn append(buffer: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    if buffer.capacity() - buffer.len() < bytes.len() {
        let mut larger = Zeroizing::new(Vec::with_capacity(
            (buffer.len() + bytes.len()).max(2 * buffer.capacity()),
        ));
        larger.extend_from_slice(buffer);
        *buffer = larger;
    }
    buffer.extend_from_slice(bytes);
}

/// Where the reading is in the document.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the `clients:` line.
    #[default]
    Head,
    /// After it, before its first item.
    FirstItem,
    /// Among its items, whose dashes are at this column.
    Items(usize),
    /// After its items.
    Tail,
    /// In a document whose clients are not a block sequence: it is parsed whole.
    Whole,
}

/// The document so far: the lines outside `clients:`, the run of items being gathered and
/// the clients parsed from earlier runs.
#[derive(Default)]
struct Pieces {
    phase: Phase,
    rest: Zeroizing<Vec<u8>>,
    run: Zeroizing<Vec<u8>>,
    run_has_item: bool,
    clients: Vec<Client>,
    openings: usize,
    lines: usize,
}

impl Pieces {
    /// Takes one line (with its line break); `None` when the document cannot be split.
    fn line(&mut self, mut line: &[u8]) -> Option<()> {
        if self.lines == 0 {
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        self.lines += 1;
        // Directives and document markers: more than one plain document.
        if line.starts_with(b"%") || line.starts_with(b"---") || line.starts_with(b"...") {
            return None;
        }
        self.openings += line.iter().filter(|b| matches!(b, b'[' | b'{')).count();
        if self.openings > MAX_FLOW_DEPTH {
            return None;
        }
        let content = line.trim_ascii_start();
        let blank = content.is_empty() || content.starts_with(b"#");
        let column = line.iter().take_while(|b| **b == b' ').count();
        let dash = line[column..].starts_with(b"- ") || line[column..].trim_ascii() == b"-";
        match self.phase {
            Phase::Head => match line.strip_prefix(b"clients:") {
                // Anything after the colon (a flow sequence, an anchor, a tag): read whole.
                Some(after) if !after.trim_ascii().is_empty() => {
                    self.phase = Phase::Whole;
                    append(&mut self.rest, line);
                }
                Some(_) => self.phase = Phase::FirstItem,
                None => append(&mut self.rest, line),
            },
            Phase::FirstItem if blank => append(&mut self.run, line),
            Phase::FirstItem if dash => {
                self.phase = Phase::Items(column);
                self.run_has_item = true;
                append(&mut self.run, line);
            }
            Phase::FirstItem => return None,
            Phase::Items(_) if blank => append(&mut self.run, line),
            Phase::Items(indent) if column > indent => append(&mut self.run, line),
            Phase::Items(indent) if column == indent && dash => {
                if self.run.len() >= RUN_BYTES {
                    self.end_run()?;
                }
                self.run_has_item = true;
                append(&mut self.run, line);
            }
            Phase::Items(indent) if column < indent || column == 0 => {
                self.end_items()?;
                append(&mut self.rest, line);
            }
            Phase::Items(_) => return None,
            Phase::Tail | Phase::Whole => append(&mut self.rest, line),
        }
        Some(())
    }

    /// Parses the run of items gathered so far.
    fn end_run(&mut self) -> Option<()> {
        if self.run_has_item {
            let text = std::str::from_utf8(&self.run).ok()?;
            let clients: Vec<Client> = serde_yaml::from_str(text).ok()?;
            self.clients.extend(clients);
        }
        self.run.clear();
        self.run_has_item = false;
        Some(())
    }

    /// Parses the last run; `clients: []` stands in the rest of the document for them.
    fn end_items(&mut self) -> Option<()> {
        self.end_run()?;
        append(&mut self.rest, b"clients: []\n");
        self.phase = Phase::Tail;
        Some(())
    }

    /// The inventory, once every line is in.
    fn finish(mut self) -> Option<Inventory> {
        match self.phase {
            Phase::FirstItem => return None,
            Phase::Items(_) => self.end_items()?,
            Phase::Head | Phase::Tail | Phase::Whole => {}
        }
        let text = std::str::from_utf8(&self.rest).ok()?;
        let mut inventory: Inventory = serde_yaml::from_str(text).ok()?;
        if self.phase == Phase::Tail {
            if !inventory.clients.is_empty() {
                return None;
            }
            inventory.clients = self.clients;
        }
        Some(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version: 1
policy:
  rotate_every_days: 30
recipients: []
clients:
- id: acme
  integrations:
  - id: crm
    provider: manual
    notes: |
      - not an item
      more
# a comment at the margin
- id: beta
  name: Beta
integrity:
  generation: 3
  audit_seq: 0
";

    #[test]
    fn pieces_read_as_the_whole_document_does() {
        let whole: Inventory = serde_yaml::from_str(DOC).unwrap();
        assert_eq!(parse(DOC), Some(whole.clone()));
        assert_eq!(whole.clients.len(), 2);
        let indented = DOC
            .replace("\n- id: acme", "\n  - id: acme")
            .replace("\n  integrations:", "\n    integrations:")
            .replace("\n  - id: crm", "\n    - id: crm")
            .replace("\n    provider", "\n      provider")
            .replace(
                "\n    notes: |\n      - not an item\n      more",
                "\n      notes: |\n        - not an item\n        more",
            )
            .replace("\n- id: beta\n  name", "\n  - id: beta\n    name");
        assert_eq!(parse(&indented), Some(whole));
    }

    #[test]
    fn many_runs_make_one_list_in_file_order() {
        let mut doc = String::from("version: 1\nclients:\n");
        for c in 0..6000 {
            doc.push_str(&format!(
                "- id: c{c}\n  integrations:\n  - id: k\n    provider: sandbox\n    scopes:\n    - a\n    - b\n"
            ));
        }
        assert!(doc.len() > 2 * RUN_BYTES);
        let whole: Inventory = serde_yaml::from_str(&doc).unwrap();
        // Compared without `assert_eq!`: the debug print of 6,000 clients is no help.
        assert!(parse(&doc) == Some(whole.clone()));
        // Read a few bytes at a time, lines arrive cut anywhere.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert!(parse_stream(Dribble(doc.as_bytes())) == Some(whole));
    }

    #[test]
    fn a_split_never_reads_differently_from_the_whole() {
        for doc in [
            "version: 1\nclients: &x\n- id: a\n",
            "version: 1\nclients: [{id: a}]\n",
            "version: 1\n",
            "\u{feff}version: 1\nclients:\n- id: a\n",
            "version: 1\r\nclients:\r\n  - id: a\r\n    name: A\r\nintegrity:\r\n  generation: 1\r\n  audit_seq: 0\r\n",
        ] {
            let whole: Option<Inventory> =
                serde_yaml::from_str(doc.trim_start_matches('\u{feff}')).ok();
            assert!(whole.is_some(), "{doc}");
            assert_eq!(parse(doc), whole, "{doc}");
        }
        // Left to the careful parse, which names what is wrong.
        for doc in [
            "%YAML 1.1\n---\nversion: 1\nclients:\n- id: a\n",
            "version: 1\nclients:\n  id: a\n",
            "version: 1\nclients:\n",
            "version: 1\nclients:\n- id: a\nclients:\n- id: b\n",
            "version: 1\nclients:\n- id: a\n  name: \"open\n",
            "version: 1\nclients:\n- id: a\n  name: *nowhere\n",
        ] {
            assert_eq!(parse(doc), None, "{doc}");
        }
    }

    proptest::proptest! {
        /// Whatever lines arrive, a split reading is either refused or the whole reading.
        #[test]
        fn any_split_reading_is_the_whole_reading(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "version: 1", "clients:", "- id: a", "- id: b", "  - id: c", "-",
                "  name: x", "  name: \"open", "  close\"", "  name: &n x", "  name: *n",
                "  integrations:", "  - id: k", "    provider: manual", "    notes: |",
                "      - not an item", "- not: [1", "  ]", "# note", "", "  ",
                "integrity:", "  generation: 1", "  audit_seq: 0", "policy: {}",
                "recipients: []", "clients: []", "---", "\t- id: t",
            ]), 0..24),
            crlf in proptest::bool::ANY,
        ) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            if let Some(split) = parse(&text) {
                let whole: Inventory = serde_yaml::from_str(&text)
                    .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {text:?}")))?;
                proptest::prop_assert!(split == whole, "{text:?}");
            }
        }
    }
}
