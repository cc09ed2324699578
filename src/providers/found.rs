//! What discovery finds: every key a connection can see at its provider, whoever made it,
//! with what a credential would need for keyward to manage it. `keyward discover`
//! ([`crate::ops::discover`]) compares these with the inventory.

use std::collections::BTreeMap;

use serde::Serialize;

use super::RemoteKey;

/// At most this many pages of owners (IAM users, projects) one discovery reads, so an
/// answer that keeps paging cannot run forever; past it discovery fails and says so.
pub const MAX_OWNER_PAGES: usize = 50;

/// One key a connection can see at its provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundKey {
    /// The key as the provider describes it: id, state, name, dates, scopes.
    pub key: RemoteKey,
    /// Who holds it at the provider, in the provider's words (an IAM user, a GitLab user or
    /// project, an OpenAI project's service account), if the provider says.
    pub owner: Option<String>,
    /// The non-secret parameters a credential needs for keyward to manage this key
    /// (`user` for AWS, `token_type` and `project_id` for GitLab...): adoption records them.
    pub params: BTreeMap<String, String>,
}

impl FoundKey {
    /// A key found with no owner and no parameters.
    pub fn new(key: RemoteKey) -> Self {
        FoundKey {
            key,
            owner: None,
            params: BTreeMap::new(),
        }
    }

    /// The same key held by `owner`.
    pub fn owned_by(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// The same key with parameter `name` set to `value`.
    pub fn with_param(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self
    }
}
