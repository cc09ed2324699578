//! Finds the line and column of a key path (`clients[1].integrations[0].connection`) in
//! block-style YAML text, so checks made after parsing can point at the place to fix.
//!
//! The YAML parser reports positions only for its own errors; checks such as duplicate ids
//! run on the parsed model, which has none. This scanner covers block mappings and
//! sequences, the style keyward writes and people hand-edit; inside flow style it falls back
//! to the nearest enclosing key it found.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Renders a path as `clients[1].integrations[0].id`.
pub fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn content_col(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches(' ');
    if trimmed.is_empty() || trimmed.starts_with('#') {
        None
    } else {
        Some(line.len() - trimmed.len())
    }
}

fn key_matches(rest: &str, key: &str) -> bool {
    for quoted in [key.to_string(), format!("\"{key}\""), format!("'{key}'")] {
        if let Some(after) = rest.strip_prefix(quoted.as_str()) {
            if after.trim_start_matches(' ').starts_with(':') {
                return true;
            }
        }
    }
    false
}

/// The 1-based line and column where `path` is written in `text`, or of the deepest part
/// of it that could be found. `None` when not even the first step is found.
pub fn locate(text: &str, path: &[Segment]) -> Option<(usize, usize)> {
    // Lines are copied so that entering a sequence item can blank its dash: the item's
    // mapping then reads like any other block mapping.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (mut start, mut end) = (0usize, lines.len());
    let mut found = None;

    for seg in path {
        let region_col = (start..end).filter_map(|i| content_col(&lines[i])).min()?;
        match seg {
            Segment::Key(key) => {
                let hit = (start..end).find(|&i| {
                    content_col(&lines[i]) == Some(region_col)
                        && key_matches(&lines[i][region_col..], key)
                });
                let Some(i) = hit else { return found };
                found = Some((i + 1, region_col + 1));
                let value_end = (i + 1..end)
                    .find(|&j| match content_col(&lines[j]) {
                        None => false,
                        Some(c) if c > region_col => false,
                        Some(c) => !(c == region_col && lines[j][c..].starts_with('-')),
                    })
                    .unwrap_or(end);
                start = i + 1;
                end = value_end;
                // A scalar or flow value on the key's own line: nothing deeper to scan.
                if start == end {
                    return found;
                }
            }
            Segment::Index(n) => {
                let dashes: Vec<usize> = (start..end)
                    .filter(|&i| {
                        content_col(&lines[i]) == Some(region_col)
                            && lines[i][region_col..].starts_with('-')
                    })
                    .collect();
                let Some(&i) = dashes.get(*n) else {
                    return found;
                };
                found = Some((i + 1, region_col + 1));
                let item_end = dashes.get(n + 1).copied().unwrap_or(end);
                lines[i].replace_range(region_col..region_col + 1, " ");
                start = i;
                end = item_end;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<Segment> {
        s.split('.')
            .flat_map(|part| {
                let mut segs = Vec::new();
                let (key, rest) = part.split_once('[').unwrap_or((part, ""));
                segs.push(Segment::Key(key.to_string()));
                for idx in rest.split('[').filter(|s| !s.is_empty()) {
                    segs.push(Segment::Index(idx.trim_end_matches(']').parse().unwrap()));
                }
                segs
            })
            .collect()
    }

    const DOC: &str = "version: 1
clients:
  - id: acme
    integrations:
      - id: crm
        provider: sandbox
      - id: mail
        # a comment
        connection: nowhere
  - id: beta
    name: Beta
    integrations:
    - id: bot
      provider: manual
";

    #[test]
    fn finds_keys_inside_nested_sequences() {
        assert_eq!(locate(DOC, &p("version")), Some((1, 1)));
        assert_eq!(locate(DOC, &p("clients[0].id")), Some((3, 5)));
        assert_eq!(
            locate(DOC, &p("clients[0].integrations[1].connection")),
            Some((9, 9))
        );
        assert_eq!(locate(DOC, &p("clients[1].name")), Some((11, 5)));
    }

    #[test]
    fn handles_sequences_at_the_same_indent_as_their_key() {
        assert_eq!(
            locate(DOC, &p("clients[1].integrations[0].provider")),
            Some((14, 7))
        );
    }

    #[test]
    fn falls_back_to_the_deepest_step_found() {
        assert_eq!(
            locate(DOC, &p("clients[0].integrations[1].owner")),
            Some((7, 7))
        );
        assert_eq!(locate(DOC, &p("nothing")), None);
    }

    #[test]
    fn renders_paths_like_the_yaml_parser() {
        assert_eq!(
            render(&p("clients[0].integrations[1].id")),
            "clients[0].integrations[1].id"
        );
    }
}
