//! Discovery: every key the inventory's connections can see at their providers, compared
//! with what the inventory tracks, so the keys nobody wrote down show up (`keyward discover`,
//! the dashboard's `:discover`). Asking changes nothing; [`super::adopt`] records what the
//! person picks.

use std::collections::{BTreeSet, HashSet};

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::inventory::{Connection, Inventory, ProviderKind};
use crate::providers::registry::ProviderSet;
use crate::providers::{ErrorKind, FoundKey, ProviderError};

/// Which connections to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every connection in the inventory.
    All,
    /// The connection with this id.
    Connection(String),
    /// The connections this client's credentials use.
    Client(String),
}

/// Why a scope names no connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// `--connection` names none in the inventory.
    #[error("no connection `{0}`; `keyward connections list` shows them")]
    NoConnection(String),
    /// `--client` names none in the inventory.
    #[error("no client `{0}`")]
    NoClient(String),
    /// The client's credentials use no connection.
    #[error("client `{0}`'s credentials use no connection: name one with --connection")]
    ClientWithoutConnection(String),
}

/// Whether the inventory tracks a key found at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tracking {
    /// A credential holds it (as its key, a rotation's new key or an old key it still
    /// has to delete).
    Tracked,
    /// No credential knows it.
    Untracked,
}

impl Tracking {
    /// The word tables and JSON show.
    pub fn as_str(self) -> &'static str {
        match self {
            Tracking::Tracked => "tracked",
            Tracking::Untracked => "untracked",
        }
    }
}

/// One key found through one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    /// The connection that sees it.
    pub connection: String,
    /// Its provider.
    pub provider: ProviderKind,
    /// The key, its owner and the parameters a credential would need.
    pub found: FoundKey,
    /// Whether the inventory tracks it.
    pub tracking: Tracking,
    /// The clients whose credentials use this connection: where it most likely belongs.
    pub suggested_clients: Vec<String>,
}

impl Sighting {
    /// The provider's id for the key.
    pub fn remote_id(&self) -> &str {
        &self.found.key.remote_id
    }
}

/// What one connection answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The keys it sees.
    Listed(Vec<Sighting>),
    /// Its provider cannot list keys (or this build has no client for it).
    Unsupported(String),
    /// Asking failed.
    Failed(ProviderError),
}

/// One connection asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionAnswer {
    /// The connection's id.
    pub connection: String,
    /// Its provider.
    pub provider: ProviderKind,
    /// What it answered.
    pub answer: Answer,
}

/// A whole discovery, in the inventory's order of connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovery {
    /// Each connection asked.
    pub connections: Vec<ConnectionAnswer>,
}

impl Discovery {
    /// Every key found, tracked or not.
    pub fn sightings(&self) -> impl Iterator<Item = &Sighting> {
        self.connections.iter().flat_map(|c| match &c.answer {
            Answer::Listed(s) => s.as_slice(),
            _ => &[],
        })
    }

    /// The keys the inventory does not track, each once (two connections to one account
    /// see the same key).
    pub fn untracked(&self) -> Vec<&Sighting> {
        let mut seen = HashSet::new();
        self.sightings()
            .filter(|s| s.tracking == Tracking::Untracked)
            .filter(|s| seen.insert((s.provider, s.remote_id().to_string())))
            .collect()
    }

    /// The connections that could not be asked, with why.
    pub fn failures(&self) -> impl Iterator<Item = (&ConnectionAnswer, &ProviderError)> {
        self.connections.iter().filter_map(|c| match &c.answer {
            Answer::Failed(e) => Some((c, e)),
            _ => None,
        })
    }

    /// The untracked key with provider id `remote_id`, if any connection saw one.
    pub fn find_untracked(&self, remote_id: &str) -> Option<&Sighting> {
        self.untracked()
            .into_iter()
            .find(|s| s.remote_id() == remote_id)
    }
}

/// The connections `scope` names, in the inventory's order.
pub fn connections<'a>(
    inv: &'a Inventory,
    scope: &Scope,
) -> Result<Vec<&'a Connection>, ScopeError> {
    match scope {
        Scope::All => Ok(inv.connections.iter().collect()),
        Scope::Connection(id) => inv
            .connection(id)
            .map(|c| vec![c])
            .ok_or_else(|| ScopeError::NoConnection(id.clone())),
        Scope::Client(client) => {
            let c = inv
                .client(client)
                .ok_or_else(|| ScopeError::NoClient(client.clone()))?;
            let used: BTreeSet<&str> = c
                .integrations
                .iter()
                .filter_map(|i| i.connection.as_deref())
                .collect();
            let chosen: Vec<&Connection> = inv
                .connections
                .iter()
                .filter(|conn| used.contains(conn.id.as_str()))
                .collect();
            if chosen.is_empty() {
                return Err(ScopeError::ClientWithoutConnection(client.clone()));
            }
            Ok(chosen)
        }
    }
}

/// The keys the inventory knows, by provider: every credential's key (archived ones too: a
/// revoked key that is still listed is not a stranger), a rotation's old and new key, and
/// the old keys waiting for deletion.
pub fn tracked_ids(inv: &Inventory) -> HashSet<(ProviderKind, String)> {
    let mut ids = HashSet::new();
    for (_, _, c) in inv.credentials() {
        let mut add = |id: &str| {
            ids.insert((c.provider, id.to_string()));
        };
        if let Some(id) = &c.remote_id {
            add(id);
        }
        if let Some(j) = &c.rotation {
            for id in j.old_remote_id.iter().chain(j.new_remote_id.iter()) {
                add(id);
            }
        }
        for p in &c.pending_revocations {
            add(&p.remote_id);
        }
    }
    ids
}

/// The clients whose credentials use connection `id`.
pub fn clients_using(inv: &Inventory, id: &str) -> Vec<String> {
    let mut clients: Vec<String> = inv
        .credentials()
        .filter(|(_, _, c)| c.connection.as_deref() == Some(id))
        .map(|(at, _, _)| at.client)
        .collect();
    clients.dedup();
    clients
}

/// Asks each connection `scope` names for every key it sees, `concurrency` connections at
/// once, and marks each key tracked or untracked. `on_answer` hears each connection as it
/// answers (progress); the result keeps the inventory's order.
pub async fn discover(
    inv: &Inventory,
    providers: &ProviderSet,
    scope: &Scope,
    concurrency: usize,
    on_answer: impl Fn(&ConnectionAnswer),
) -> Result<Discovery, ScopeError> {
    let chosen: Vec<Connection> = connections(inv, scope)?.into_iter().cloned().collect();
    let tracked = tracked_ids(inv);
    // Each question owns what it needs, so the futures stay `Send` for the dashboard's
    // background tasks; the answers are classified as they arrive.
    let asks = chosen.into_iter().enumerate().map(|(i, conn)| {
        let provider = providers.get(conn.provider).cloned();
        async move {
            let listed = match provider {
                None => Err(format!(
                    "this build has no client for provider `{}`",
                    conn.provider
                )),
                Some(p) => Ok(p.discover(&conn).await),
            };
            (i, conn, listed)
        }
    });
    let mut answers: Vec<(usize, ConnectionAnswer)> = stream::iter(asks)
        .buffer_unordered(concurrency.max(1))
        .map(|(i, conn, listed)| {
            let answer = match listed {
                Err(why) => Answer::Unsupported(why),
                Ok(Err(e)) if e.kind == ErrorKind::Unsupported => Answer::Unsupported(e.message),
                Ok(Err(e)) => Answer::Failed(e),
                Ok(Ok(keys)) => {
                    let suggested = clients_using(inv, &conn.id);
                    Answer::Listed(
                        keys.into_iter()
                            .map(|found| Sighting {
                                connection: conn.id.clone(),
                                provider: conn.provider,
                                tracking: if tracked
                                    .contains(&(conn.provider, found.key.remote_id.clone()))
                                {
                                    Tracking::Tracked
                                } else {
                                    Tracking::Untracked
                                },
                                found,
                                suggested_clients: suggested.clone(),
                            })
                            .collect(),
                    )
                }
            };
            let a = ConnectionAnswer {
                connection: conn.id,
                provider: conn.provider,
                answer,
            };
            on_answer(&a);
            (i, a)
        })
        .collect()
        .await;
    answers.sort_by_key(|(i, _)| *i);
    Ok(Discovery {
        connections: answers.into_iter().map(|(_, a)| a).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::journal::PendingRevocation;
    use crate::inventory::Credential;
    use chrono::Utc;

    fn conn(id: &str) -> Connection {
        Connection {
            id: id.into(),
            provider: ProviderKind::Sendgrid,
            endpoint: None,
            auth: Default::default(),
            params: Default::default(),
        }
    }

    #[test]
    fn keys_waiting_for_deletion_and_archived_keys_count_as_tracked() {
        let mut inv = Inventory::new(vec![]);
        let mut c = Credential::new("mail", ProviderKind::Sendgrid);
        c.remote_id = Some("k1".into());
        c.pending_revocations.push(PendingRevocation {
            remote_id: "k0".into(),
            deactivated_at: Utc::now(),
            delete_after: Utc::now(),
            last_error: None,
        });
        inv.insert("acme", c);
        let mut gone = Credential::new("old", ProviderKind::Sendgrid);
        gone.remote_id = Some("k9".into());
        gone.archived = true;
        inv.insert("acme", gone);
        let ids = tracked_ids(&inv);
        for id in ["k0", "k1", "k9"] {
            assert!(
                ids.contains(&(ProviderKind::Sendgrid, id.to_string())),
                "{id}"
            );
        }
        assert!(!ids.contains(&(ProviderKind::Cloudflare, "k1".to_string())));
    }

    #[test]
    fn a_client_scope_is_the_connections_its_credentials_use() {
        let mut inv = Inventory::new(vec![]);
        inv.connections.push(conn("a"));
        inv.connections.push(conn("b"));
        let mut c = Credential::new("mail", ProviderKind::Sendgrid);
        c.connection = Some("b".into());
        inv.insert("acme", c);
        inv.insert("bare", Credential::new("x", ProviderKind::Manual));
        let ids = |s: &Scope| {
            connections(&inv, s).map(|v| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>())
        };
        assert_eq!(
            ids(&Scope::Client("acme".into())),
            Ok(vec!["b".to_string()])
        );
        assert_eq!(ids(&Scope::All), Ok(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(
            ids(&Scope::Client("bare".into())),
            Err(ScopeError::ClientWithoutConnection("bare".into()))
        );
        assert_eq!(
            ids(&Scope::Connection("z".into())),
            Err(ScopeError::NoConnection("z".into()))
        );
        assert_eq!(clients_using(&inv, "b"), vec!["acme".to_string()]);
    }
}
