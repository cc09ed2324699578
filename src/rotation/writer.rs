//! The one writer of the inventory during rotations: concurrent rotations send it changes,
//! it applies a batch of them to the one [`Inventory`], saves once, and then acknowledges
//! every change in the batch (group commit). A caller goes on only after its ack, that is
//! after its change is durable.
//!
//! There is no clock: a change that finds the writer idle is saved at once, and changes
//! that arrive while a save runs wait in the queue and go together into the next one. A
//! lone rotation pays one small save per step; a bulk run's saves grow with the time a
//! save takes, not with the number of rotations (the group commit of databases).
//!
//! A failed save rolls the batch back in memory too, so what the engine reads is always
//! what the file holds, and a caller whose change failed knows it did not happen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
    /// Starts the writer on its own thread, owning `persist`. A change is saved as soon as
    /// no save is running; changes arriving during a save join the next one.
    pub fn start(inventory: Inventory, persist: Box<dyn Persist>) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let inventory = Arc::new(Mutex::new(inventory));
        let counters = Arc::new(Counters::default());
        let (inv, cnt) = (inventory.clone(), counters.clone());
        std::thread::Builder::new()
            .name("keyward-writer".into())
            .spawn(move || run(rx, inv, cnt, persist))
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
) {
    // Blocks only while idle: everything queued while the last save ran is taken at once.
    while let Some(first) = rx.blocking_recv() {
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
        /// The addresses the last successful save held.
        on_disk: Arc<Mutex<Vec<String>>>,
        fail_next: Arc<Mutex<bool>>,
        /// When set, the first save says it began and waits to be let go: a save that takes
        /// its time, without a clock.
        gate: Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>,
    }

    impl Persist for Recorder {
        fn persist(&mut self, inv: &Inventory) -> Result<Option<Inventory>, PersistError> {
            if let Some((began, go)) = self.gate.take() {
                began.send(()).unwrap();
                go.recv().unwrap();
            }
            if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
                return Err(PersistError("disk full".into()));
            }
            self.saved.lock().unwrap().push(inv.credential_count());
            *self.on_disk.lock().unwrap() =
                inv.credentials().map(|(at, _, _)| at.to_string()).collect();
            Ok(None)
        }
    }

    fn insert(i: usize) -> impl FnOnce(&mut Inventory) + Send + 'static {
        move |inv: &mut Inventory| {
            inv.insert("c", Credential::new(format!("k{i}"), ProviderKind::Sandbox));
        }
    }

    #[tokio::test]
    async fn a_change_finding_the_writer_idle_is_saved_at_once_and_those_arriving_during_a_save_go_into_the_next(
    ) {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let (began_tx, began) = std::sync::mpsc::channel();
        let (go, go_rx) = std::sync::mpsc::channel();
        let w = Writer::start(
            Inventory::new(vec![]),
            Box::new(Recorder {
                saved: saved.clone(),
                on_disk: Arc::default(),
                fail_next: Arc::default(),
                gate: Some((began_tx, go_rx)),
            }),
        );
        let mut first = Box::pin(w.commit(insert(0)));
        assert!(futures::poll!(&mut first).is_pending());
        // The lone change is being saved: nothing waited for a tick.
        began.recv().unwrap();
        let mut queued: Vec<_> = (1..=10).map(|i| Box::pin(w.commit(insert(i)))).collect();
        for c in &mut queued {
            // Each sits in the queue, unacknowledged, while the first save runs.
            assert!(futures::poll!(c).is_pending());
        }
        go.send(()).unwrap();
        first.await.unwrap();
        for c in queued {
            c.await.unwrap();
        }
        assert_eq!(*saved.lock().unwrap(), [1, 11]);
        assert_eq!(
            w.stats(),
            WriterStats {
                changes: 11,
                saves: 2,
                failed_saves: 0
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_changes_are_each_acked_after_a_save_that_holds_them() {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let on_disk = Arc::new(Mutex::new(Vec::new()));
        let w = Writer::start(
            Inventory::new(vec![]),
            Box::new(Recorder {
                saved: saved.clone(),
                on_disk: on_disk.clone(),
                fail_next: Arc::default(),
                gate: None,
            }),
        );
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (w, on_disk) = (w.clone(), on_disk.clone());
            tasks.push(tokio::spawn(async move {
                w.commit(insert(i)).await.unwrap();
                // Acknowledged: what is on "disk" already holds this change.
                on_disk.lock().unwrap().contains(&format!("c/k{i}"))
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap(), "acknowledged before it was saved");
        }
        let stats = w.stats();
        assert_eq!(stats.changes, 100);
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
                on_disk: Arc::default(),
                fail_next: fail_next.clone(),
                gate: None,
            }),
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
