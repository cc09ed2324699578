//! The one writer of the inventory during rotations: concurrent rotations send it changes,
//! it applies a batch of them to the one [`Inventory`], saves once, and then acknowledges
//! every change in the batch (group commit). A caller goes on only after its ack, that is
//! after its change is durable, and the file is written a few times a second however many
//! rotations run.
//!
//! A failed save rolls the batch back in memory too, so what the engine reads is always
//! what the file holds, and a caller whose change failed knows it did not happen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::inventory::Inventory;

/// Where the inventory is saved: the encrypted store in the program, a failing or
/// counting stand-in in tests.
pub trait Persist: Send {
    /// Saves `inventory` durably (atomically: all of it or nothing). When another writer
    /// saved meanwhile and `inventory`'s changes were applied onto their version, returns
    /// that merged inventory: it is what was saved, and what the run goes on with.
    fn persist(&mut self, inventory: &Inventory) -> Result<Option<Inventory>, PersistError>;
}

/// A save that failed. Its text never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not save the inventory: {0}")]
pub struct PersistError(pub String);

type Change = Box<dyn FnOnce(&mut Inventory) + Send>;

struct Request {
    change: Change,
    ack: oneshot::Sender<Result<(), PersistError>>,
}

/// Counts of the writer's work, for tests and benchmarks.
#[derive(Debug, Default)]
struct Counters {
    changes: AtomicU64,
    saves: AtomicU64,
    failed_saves: AtomicU64,
}

/// What the writer has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Changes applied (acknowledged as saved or failed).
    pub changes: u64,
    /// Saves attempted.
    pub saves: u64,
    /// Saves that failed.
    pub failed_saves: u64,
}

/// A handle on the writer; clones share it. The writer thread ends when the last handle
/// is dropped, dropping its [`Persist`] (and so releasing a store's lock).
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Request>,
    inventory: Arc<Mutex<Inventory>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer on its own thread, owning `persist`. Saves start at most once per
    /// `interval`; changes arriving meanwhile join the next batch.
    pub fn start(inventory: Inventory, persist: Box<dyn Persist>, interval: Duration) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let inventory = Arc::new(Mutex::new(inventory));
        let counters = Arc::new(Counters::default());
        let (inv, cnt) = (inventory.clone(), counters.clone());
        std::thread::Builder::new()
            .name("keyward-writer".into())
            .spawn(move || run(rx, inv, cnt, persist, interval))
            .expect("spawning the writer thread");
        Writer {
            tx,
            inventory,
            counters,
        }
    }

    /// Applies `change` and returns once it is saved, or with the save's error (then the
    /// change is undone).
    pub async fn commit<F>(&self, change: F) -> Result<(), PersistError>
    where
        F: FnOnce(&mut Inventory) + Send + 'static,
    {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Request {
                change: Box::new(change),
                ack,
            })
            .map_err(|_| PersistError("the writer has stopped".into()))?;
        done.await
            .unwrap_or_else(|_| Err(PersistError("the writer has stopped".into())))
    }

    /// Reads the inventory as the writer holds it: every change applied so far, including
    /// those whose save is still pending (a change whose save fails is undone).
    pub fn read<R>(&self, f: impl FnOnce(&Inventory) -> R) -> R {
        f(&lock(&self.inventory))
    }

    /// A copy of the inventory as [`Writer::read`] sees it.
    pub fn snapshot(&self) -> Inventory {
        self.read(Inventory::clone)
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            changes: self.counters.changes.load(Ordering::Relaxed),
            saves: self.counters.saves.load(Ordering::Relaxed),
            failed_saves: self.counters.failed_saves.load(Ordering::Relaxed),
        }
    }
}

fn lock(m: &Mutex<Inventory>) -> MutexGuard<'_, Inventory> {
    // Changes are plain field updates; should one panic, the writer thread ends and every
    // later commit fails, so a half-applied change is read but never saved.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(
    mut rx: mpsc::UnboundedReceiver<Request>,
    inventory: Arc<Mutex<Inventory>>,
    counters: Arc<Counters>,
    mut persist: Box<dyn Persist>,
    interval: Duration,
) {
    let mut last_save: Option<Instant> = None;
    while let Some(first) = rx.blocking_recv() {
        if let Some(wait) = last_save.map(|t| interval.saturating_sub(t.elapsed())) {
            std::thread::sleep(wait);
        }
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut acks = Vec::with_capacity(batch.len());
        let (before, after) = {
            let mut inv = lock(&inventory);
            let before = inv.clone();
            for req in batch {
                (req.change)(&mut inv);
                acks.push(req.ack);
            }
            (before, inv.clone())
        };
        last_save = Some(Instant::now());
        // Saved outside the lock: readers never wait for encryption.
        let result = persist.persist(&after);
        counters.saves.fetch_add(1, Ordering::Relaxed);
        counters
            .changes
            .fetch_add(acks.len() as u64, Ordering::Relaxed);
        let result = match result {
            Ok(Some(merged)) => {
                // Only this thread changes the inventory, so nothing was applied meanwhile.
                *lock(&inventory) = merged;
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                counters.failed_saves.fetch_add(1, Ordering::Relaxed);
                *lock(&inventory) = before;
                Err(e)
            }
        };
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}

impl Persist for crate::store::Store {
    fn persist(&mut self, inventory: &Inventory) -> Result<Option<Inventory>, PersistError> {
        self.save(inventory)
            .map(|()| None)
            .map_err(|e| PersistError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, ProviderKind};

    struct Recorder {
        saved: Arc<Mutex<Vec<usize>>>,
        fail_next: Arc<Mutex<bool>>,
    }

    impl Persist for Recorder {
        fn persist(&mut self, inv: &Inventory) -> Result<Option<Inventory>, PersistError> {
            if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
                return Err(PersistError("disk full".into()));
            }
            self.saved.lock().unwrap().push(inv.credential_count());
            Ok(None)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_changes_are_coalesced_and_each_acked_after_its_save() {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let w = Writer::start(
            Inventory::new(vec![]),
            Box::new(Recorder {
                saved: saved.clone(),
                fail_next: Arc::default(),
            }),
            Duration::from_millis(20),
        );
        let mut tasks = Vec::new();
        for i in 0..100 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                w.commit(move |inv| {
                    inv.insert("c", Credential::new(format!("k{i}"), ProviderKind::Sandbox));
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stats = w.stats();
        assert_eq!(stats.changes, 100);
        assert!(stats.saves < 50, "{stats:?}");
        let saved = saved.lock().unwrap();
        assert_eq!(saved.len() as u64, stats.saves);
        assert_eq!(*saved.last().unwrap(), 100);
        assert_eq!(w.snapshot().credential_count(), 100);
    }

    #[tokio::test]
    async fn a_failed_save_undoes_its_batch_and_reports_to_the_caller() {
        let fail_next = Arc::new(Mutex::new(true));
        let w = Writer::start(
            Inventory::new(vec![]),
            Box::new(Recorder {
                saved: Arc::default(),
                fail_next: fail_next.clone(),
            }),
            Duration::ZERO,
        );
        let e = w
            .commit(|inv| {
                inv.insert("c", Credential::new("a", ProviderKind::Sandbox));
            })
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "could not save the inventory: disk full");
        assert_eq!(w.snapshot().credential_count(), 0);
        w.commit(|inv| {
            inv.insert("c", Credential::new("b", ProviderKind::Sandbox));
        })
        .await
        .unwrap();
        assert_eq!(w.snapshot().credential_count(), 1);
        assert_eq!(w.stats().failed_saves, 1);
    }
}
