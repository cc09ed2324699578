//! Which credentials a rotation run takes, why, and what each will involve: the plan shown
//! (and confirmed) before anything changes. [`Engine::plan`](super::Engine::plan) fills it
//! in, checking each provider's preconditions; [`crate::ops::select`] picks the credentials.

use super::Phase;
use crate::inventory::{CredentialRef, ProviderKind};
use crate::providers::RotationStyle;

/// One credential in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    /// The credential.
    pub at: CredentialRef,
    /// Why it is in the plan.
    pub why: String,
    /// Its provider.
    pub provider: ProviderKind,
    /// How its key is replaced, when a client for the provider exists.
    pub style: Option<RotationStyle>,
    /// Why it is rotated by hand although its provider has an API (the API cannot issue
    /// this kind of key).
    pub manual_because: Option<String>,
    /// The steps it will go through.
    pub steps: Vec<Phase>,
    /// What a person will have to do.
    pub needs_person: Vec<String>,
    /// What the person should know before it starts (e.g. a roll in place).
    pub warnings: Vec<String>,
    /// Why it cannot go ahead, if it cannot.
    pub blocked: Option<String>,
    /// The deploy targets the new secret will be delivered to, in order, then the deploy
    /// check, each in one line.
    pub deploys: Vec<String>,
    /// Items sharing an owner at the provider (their key lists overlap) share a group and
    /// run one after another, so they neither race for the key limit nor mistake each
    /// other's new keys for their own.
    pub group: usize,
}

/// A rotation run's plan, in the order the credentials were selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The credentials.
    pub items: Vec<PlanItem>,
}

impl Plan {
    /// The items that can go ahead.
    pub fn ready(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.blocked.is_none())
    }

    /// Whether any item needs a person or warns before it starts.
    pub fn needs_attention(&self) -> bool {
        self.ready()
            .any(|i| !i.needs_person.is_empty() || !i.warnings.is_empty())
    }
}

/// Groups items whose key lists share a key id (same connection): union-find over ids.
pub(super) fn group_by_shared_keys(keys: &[(Option<String>, Vec<String>)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut seen: std::collections::HashMap<(Option<String>, &str), usize> = Default::default();
    for (i, (conn, ids)) in keys.iter().enumerate() {
        for id in ids {
            match seen.get(&(conn.clone(), id.as_str())) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    seen.insert((conn.clone(), id.as_str()), i);
                }
            }
        }
    }
    (0..keys.len()).map(|i| find(&mut parent, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_key_lists_share_a_group() {
        let c = |s: &str| Some(s.to_string());
        let v = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let groups = group_by_shared_keys(&[
            (c("aws"), v(&["K1", "K2"])),
            (c("aws"), v(&["K3"])),
            (c("aws"), v(&["K2"])),
            (c("other"), v(&["K1"])),
            (c("aws"), v(&[])),
        ]);
        assert_eq!(groups[0], groups[2]);
        assert_ne!(groups[0], groups[1]);
        assert_ne!(groups[0], groups[3]);
        assert_ne!(groups[4], groups[0]);
    }
}
