//! The table's sort as integer keys: each row's text columns are ranked once, so a sort
//! compares three integers per pair of rows instead of strings and dates scattered over
//! every row. At 100,000 rows that is what makes a sort fit in a frame.
//!
//! [`compare`](super::rows::compare) remains the definition of the order; the keys
//! reproduce it exactly (a test checks the two agree).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::rows::{Column, RowData};

/// Each row's rank in the columns sorted as text, computed from one set of rows: stale
/// once any row changes (see [`super::state::State::replace_rows`]).
#[derive(Debug, Clone)]
pub struct SortKeys {
    client: Vec<u32>,
    integration: Vec<u32>,
    scopes: Vec<u32>,
    why: Vec<u32>,
    /// Each column's order once computed, ascending, by position in `Column::ALL`.
    orders: Vec<Option<Vec<u32>>>,
}

impl SortKeys {
    /// Ranks every text column of `rows`.
    pub fn new(rows: &[RowData]) -> Self {
        SortKeys {
            client: ranks(rows.iter().map(|r| r.at.client.as_str())),
            integration: ranks(rows.iter().map(|r| r.at.integration.as_str())),
            scopes: ranks(rows.iter().map(|r| r.scopes.as_str())),
            why: ranks(rows.iter().map(|r| r.why.as_str())),
            orders: vec![None; Column::ALL.len()],
        }
    }

    /// Whether these keys were computed for as many rows as `rows` has.
    pub fn covers(&self, rows: &[RowData]) -> bool {
        self.client.len() == rows.len()
    }

    /// Every row index of `rows`, in `column`'s order (reversed if asked). Each column is
    /// sorted once; asking again costs a copy.
    pub fn order(&mut self, rows: &[RowData], column: Column, reversed: bool) -> Vec<usize> {
        let slot = Column::ALL.iter().position(|&c| c == column).unwrap_or(0);
        let ascending = match &self.orders[slot] {
            Some(order) => order,
            None => {
                let mut keyed: Vec<([u64; 3], u32)> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| (self.key(i, row, column), i as u32))
                    .collect();
                keyed.sort_unstable();
                self.orders[slot].insert(keyed.into_iter().map(|(_, i)| i).collect())
            }
        };
        let order = ascending.iter().map(|&i| i as usize);
        if reversed {
            order.rev().collect()
        } else {
            order.collect()
        }
    }

    /// Row `i`'s key for `column`: the column's own value, then status, then address,
    /// as [`compare`](super::rows::compare) breaks ties. Addresses are unique, so no two
    /// rows share a key.
    fn key(&self, i: usize, row: &RowData, column: Column) -> [u64; 3] {
        let status = row.assessment.status as u64;
        let rank = |ranks: &[u32]| [u64::from(ranks[i]), 0];
        let primary = match column {
            Column::Client => rank(&self.client),
            Column::Integration => rank(&self.integration),
            Column::Provider => [provider_rank(row), 0],
            Column::Scopes => rank(&self.scopes),
            Column::Why => rank(&self.why),
            Column::Due => time_none_last(row.assessment.due_at),
            Column::LastUsed => time_none_first(row.last_used_at),
            Column::LastRotated => time_none_first(row.last_rotated_at),
            Column::Status => {
                let [seconds, nanos] = time_none_last(row.assessment.due_at);
                [status << 56 | seconds, nanos]
            }
        };
        let address = u64::from(self.client[i]) << ADDRESS_BITS | u64::from(self.integration[i]);
        [primary[0], primary[1], status << 56 | address]
    }
}

/// Bits of a client's or an integration's rank in a key: far more rows than any
/// inventory the parser accepts.
const ADDRESS_BITS: u32 = 27;

/// Seconds since the epoch, shifted to be positive: chrono's range (±262,000 years) fits
/// in 44 bits.
const EPOCH_BIAS: i64 = 1 << 43;

fn seconds(at: DateTime<Utc>) -> u64 {
    (at.timestamp() + EPOCH_BIAS) as u64
}

/// `None` after every time, as due dates sort.
fn time_none_last(at: Option<DateTime<Utc>>) -> [u64; 2] {
    match at {
        Some(at) => [seconds(at), u64::from(at.timestamp_subsec_nanos())],
        None => [1 << 45, 0],
    }
}

/// `None` before every time, as `Option`'s own order has it (never used: longest unused).
fn time_none_first(at: Option<DateTime<Utc>>) -> [u64; 2] {
    match at {
        Some(at) => [seconds(at) + 1, u64::from(at.timestamp_subsec_nanos())],
        None => [0, 0],
    }
}

/// The provider's place when providers are sorted by name.
fn provider_rank(row: &RowData) -> u64 {
    let name = row.provider.as_str();
    crate::inventory::ProviderKind::ALL
        .iter()
        .filter(|k| k.as_str() < name)
        .count() as u64
}

/// Each string's place among the distinct strings, sorted: equal strings share a rank.
fn ranks<'a>(values: impl Iterator<Item = &'a str> + Clone) -> Vec<u32> {
    let mut distinct: HashMap<&str, u32> = HashMap::new();
    for v in values.clone() {
        distinct.entry(v).or_insert(0);
    }
    let mut sorted: Vec<&str> = distinct.keys().copied().collect();
    sorted.sort_unstable();
    for (rank, v) in sorted.into_iter().enumerate() {
        distinct.insert(v, rank as u32);
    }
    values.map(|v| distinct[v]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Client, Credential, Inventory, ProviderKind};
    use crate::tui::rows::compare;
    use crate::tui::state::build_rows;
    use chrono::{Duration, TimeZone};

    /// Rows with ties in every column, missing dates, and times a nanosecond apart.
    fn rows() -> Vec<RowData> {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let mut inv = Inventory::new(vec![]);
        for c in 0..7 {
            let mut client = Client {
                id: format!("client-{}", (c * 5) % 7),
                name: String::new(),
                integrations: vec![],
            };
            for i in 0..40i64 {
                let k = i + c * 40;
                let mut cred =
                    Credential::new(format!("k{}", i % 13), ProviderKind::ALL[(k % 9) as usize]);
                if i >= 13 {
                    cred.id = format!("{}-{i}", cred.id);
                }
                cred.scopes = (0..(k % 3)).map(|s| format!("s{}", (k + s) % 4)).collect();
                cred.created_at = (k % 5 != 0).then(|| now - Duration::days(k % 200));
                cred.last_used_at = (k % 4 != 0)
                    .then(|| now - Duration::days(k % 90) + Duration::nanoseconds(k % 2));
                cred.last_rotated_at = (k % 6 == 0).then(|| now - Duration::days(k % 30));
                cred.expires_at = (k % 3 == 0).then(|| now + Duration::days(k % 50 - 20));
                cred.archived = k % 17 == 0;
                client.integrations.push(cred);
            }
            inv.clients.push(client);
        }
        build_rows(&inv, now)
    }

    #[test]
    fn keys_sort_exactly_as_compare_does() {
        let rows = rows();
        let mut keys = SortKeys::new(&rows);
        for column in Column::ALL {
            for reversed in [false, true] {
                let mut expected: Vec<usize> = (0..rows.len()).collect();
                expected.sort_by(|&a, &b| {
                    let o = compare(&rows[a], &rows[b], column);
                    if reversed {
                        o.reverse()
                    } else {
                        o
                    }
                });
                // Twice: sorted, then from the column's cached order.
                for _ in 0..2 {
                    assert_eq!(
                        keys.order(&rows, column, reversed),
                        expected,
                        "{column:?} reversed={reversed}"
                    );
                }
            }
        }
    }
}
