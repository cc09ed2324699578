//! What filtering reads of each row, packed: the `/` filter's text, every row's in one
//! buffer, so that a term is searched for once through the whole buffer rather than once in
//! each of 100,000 small strings spread over the heap; and each row's status and whether it
//! is archived, so that a refilter does not visit every row's full data in sort order.

use super::rows::RowData;

/// Every row's lowercase searched text ([`RowData::haystack`]), in row order, each ended by
/// a newline (which no term contains, so no match spans two rows), with the row facts a
/// filter counts.
#[derive(Debug, Clone)]
pub struct SearchText {
    text: String,
    /// Where each row's text ends in `text` (its newline's offset).
    ends: Vec<usize>,
    /// Each row's [`RowData::archived`].
    pub archived: Vec<bool>,
    /// Each row's status, as its position in `Status::ALL`.
    pub status: Vec<u8>,
}

impl SearchText {
    /// The text of `rows`.
    pub fn new(rows: &[RowData]) -> Self {
        let mut text = String::with_capacity(rows.iter().map(|r| r.haystack.len() + 1).sum());
        let mut ends = Vec::with_capacity(rows.len());
        for row in rows {
            text.push_str(&row.haystack);
            ends.push(text.len());
            text.push('\n');
        }
        SearchText {
            text,
            ends,
            archived: rows.iter().map(|r| r.archived).collect(),
            status: rows
                .iter()
                .map(|r| super::state::status_index(r.assessment.status) as u8)
                .collect(),
        }
    }

    /// Whether these were built from as many rows as `rows` has.
    pub fn covers(&self, rows: &[RowData]) -> bool {
        self.ends.len() == rows.len()
    }

    /// For each row, whether every one of `terms` (lowercase, without whitespace) occurs
    /// in its text.
    pub fn matching_all(&self, terms: &[&str]) -> Vec<bool> {
        let mut all = vec![true; self.ends.len()];
        for term in terms {
            let mut hit = vec![false; self.ends.len()];
            let mut row = 0;
            for (at, _) in self.text.match_indices(term) {
                // Hits come in order: the row only moves forward.
                while self.ends[row] < at {
                    row += 1;
                }
                hit[row] = true;
            }
            for (a, h) in all.iter_mut().zip(hit) {
                *a &= h;
            }
        }
        all
    }

    /// Whether every one of `terms` occurs in row `row`'s text.
    pub fn row_matches(&self, row: usize, terms: &[&str]) -> bool {
        let start = match row {
            0 => 0,
            r => self.ends[r - 1] + 1,
        };
        let text = &self.text[start..self.ends[row]];
        terms.iter().all(|term| text.contains(term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Client, Credential, Inventory, ProviderKind};
    use crate::tui::state::build_rows;
    use chrono::Utc;

    #[test]
    fn the_whole_buffer_search_agrees_with_each_row() {
        let mut inv = Inventory::new(vec![]);
        for c in 0..30 {
            let mut client = Client {
                id: format!("acme-{c}"),
                name: format!("Acme {}", c % 4),
                integrations: vec![],
            };
            for i in 0..5 {
                let mut cred = Credential::new(format!("k{i}"), ProviderKind::ALL[(c + i) % 9]);
                cred.scopes = vec![format!("s{}", (c * i) % 7)];
                client.integrations.push(cred);
            }
            inv.clients.push(client);
        }
        let rows = build_rows(&inv, Utc::now());
        let search = SearchText::new(&rows);
        for query in [
            vec!["acme"],
            vec!["acme-1", "k3"],
            vec!["gitlab", "s2"],
            vec!["nothing"],
            vec!["2\nk"],
        ] {
            let all = search.matching_all(&query);
            for (r, row) in rows.iter().enumerate() {
                assert_eq!(all[r], row.matches(&query), "{query:?} row {r}");
                assert_eq!(search.row_matches(r, &query), row.matches(&query));
            }
        }
    }
}
