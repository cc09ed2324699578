//! Saves that hold the write lock only for the save itself and never overwrite another
//! writer's change: if the file changed since this store read or wrote it, it is read
//! again and this writer's change is applied onto it ([`crate::inventory::merge`]). Long
//! work (a rotation run waiting on a person, the dashboard) saves this way, so cron jobs
//! and other commands are never held off while a person thinks.

use std::sync::{Arc, Mutex};

use super::{Keyring, Store, StoreError};
use crate::inventory::{merge, Inventory};
use crate::rotation::{Persist, PersistError};

/// How many times a save is merged onto another writer's newer version before giving up:
/// each refused attempt means someone else saved meanwhile, so this bounds a storm.
pub const SAVE_ATTEMPTS: u32 = 8;

impl Store {
    /// Saves `ours`, a change made on `base` (the inventory as this store last read or
    /// saved it), holding the lock only meanwhile. When another writer saved since, their
    /// version is read and `ours`' changes are applied onto it; the merged inventory, which
    /// is what was saved, is returned. A change both made differently saves nothing
    /// ([`StoreError::Conflict`]).
    pub fn save_merging(
        &mut self,
        keys: &Keyring,
        base: &Inventory,
        ours: &Inventory,
    ) -> Result<Option<Inventory>, StoreError> {
        let held = self.lock.is_some();
        if !held {
            self.lock = Some(super::lockfile::Lock::acquire_patiently(&self.path)?);
        }
        let result = self.merge_and_save(keys, base, ours);
        if !held {
            self.lock = None;
        }
        result
    }

    /// Merges and saves; a write refused because another writer saved in between (a 412
    /// from a bucket, which no local lock covers) is merged again onto their version, up to
    /// [`SAVE_ATTEMPTS`] times.
    fn merge_and_save(
        &mut self,
        keys: &Keyring,
        base: &Inventory,
        ours: &Inventory,
    ) -> Result<Option<Inventory>, StoreError> {
        let mut attempt = 1;
        loop {
            match self.merge_and_save_once(keys, base, ours) {
                Err(StoreError::ChangedOnDisk { .. }) if attempt < SAVE_ATTEMPTS => attempt += 1,
                Err(StoreError::ChangedOnDisk { .. }) => {
                    return Err(StoreError::Contended {
                        path: self.shown_path(),
                        attempts: attempt,
                    })
                }
                done => return done,
            }
        }
    }

    fn merge_and_save_once(
        &mut self,
        keys: &Keyring,
        base: &Inventory,
        ours: &Inventory,
    ) -> Result<Option<Inventory>, StoreError> {
        match self.reread(keys)? {
            None => self.save(ours).map(|()| None),
            Some(theirs) => {
                let merged = merge::three_way(base, ours, &theirs).map_err(|conflict| {
                    StoreError::Conflict {
                        path: self.shown_path(),
                        conflict,
                    }
                })?;
                self.save(&merged)?;
                tracing::debug!("saved onto another writer's version");
                Ok(Some(merged))
            }
        }
    }
}

/// The store as a rotation run saves through it, from the CLI and the dashboard alike: each
/// save is a [`Store::save_merging`] against what the run last saved, so the lock is held
/// for milliseconds at a time, never while a plan or a question waits for a person, and
/// other writers' changes meanwhile are kept.
pub struct RunStore {
    store: Arc<Mutex<Store>>,
    keys: Arc<Keyring>,
    /// The inventory as the run last read or saved it.
    base: Inventory,
}

impl RunStore {
    /// Saves through `store` (shared with the front end, which reads its version after the
    /// run) for a run that starts from `base`, the inventory `store` last read.
    pub fn new(store: Arc<Mutex<Store>>, keys: Arc<Keyring>, base: Inventory) -> RunStore {
        RunStore { store, keys, base }
    }
}

impl Persist for RunStore {
    fn persist(&mut self, inventory: &Inventory) -> Result<Option<Inventory>, PersistError> {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let merged = store
            .save_merging(&self.keys, &self.base, inventory)
            .map_err(|e| PersistError(e.to_string()))?;
        self.base = merged.clone().unwrap_or_else(|| inventory.clone());
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Credential, CredentialRef, ProviderKind};

    /// Two stores opened on one file, as two keyward processes have it.
    fn two_writers() -> (
        tempfile::TempDir,
        Keyring,
        (Store, Inventory),
        (Store, Inventory),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = Keyring::new();
        let identity = age::x25519::Identity::generate();
        let mut inv = Inventory::new(vec![identity.to_public().to_string()]);
        keys.add_identity(Box::new(identity));
        inv.insert("acme", Credential::new("crm", ProviderKind::Sandbox));
        inv.insert("acme", Credential::new("mail", ProviderKind::Sandbox));
        let path = dir.path().join("inventory.yaml.age");
        drop(Store::create(&path, &inv).unwrap());
        let a = Store::open(&path, &keys).unwrap();
        let b = Store::open(&path, &keys).unwrap();
        (dir, keys, a, b)
    }

    fn notes(inv: &Inventory, at: &str) -> Option<String> {
        let at: CredentialRef = at.parse().unwrap();
        inv.credential(&at).unwrap().notes.clone()
    }

    fn noted(inv: &Inventory, at: &str, text: &str) -> Inventory {
        let mut changed = inv.clone();
        let at: CredentialRef = at.parse().unwrap();
        changed.credential_mut(&at).unwrap().notes = Some(text.into());
        changed
    }

    #[test]
    fn a_save_after_another_writers_keeps_both_changes() {
        let (_dir, keys, (mut a, base_a), (mut b, base_b)) = two_writers();
        let ours_a = noted(&base_a, "acme/crm", "from a");
        assert_eq!(a.save_merging(&keys, &base_a, &ours_a).unwrap(), None);
        let ours_b = noted(&base_b, "acme/mail", "from b");
        let merged = b.save_merging(&keys, &base_b, &ours_b).unwrap().unwrap();
        assert_eq!(notes(&merged, "acme/crm").as_deref(), Some("from a"));
        assert_eq!(notes(&merged, "acme/mail").as_deref(), Some("from b"));
        let (_, on_disk) = Store::open(b.path(), &keys).unwrap();
        assert_eq!(on_disk, merged);
        assert_eq!(b.generation(), 3, "one save each after the creation");
    }

    #[test]
    fn the_same_field_saved_two_ways_is_refused_and_the_file_keeps_the_first() {
        let (_dir, keys, (mut a, base_a), (mut b, base_b)) = two_writers();
        a.save_merging(&keys, &base_a, &noted(&base_a, "acme/crm", "from a"))
            .unwrap();
        let e = b
            .save_merging(&keys, &base_b, &noted(&base_b, "acme/crm", "from b"))
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("credential acme/crm (field notes) was changed by another writer"),
            "{e}"
        );
        let (_, on_disk) = Store::open(b.path(), &keys).unwrap();
        assert_eq!(notes(&on_disk, "acme/crm").as_deref(), Some("from a"));
    }

    /// Storage where another writer always saved just before: every read is a new
    /// version, every conditional write a 412.
    #[derive(Debug)]
    struct AlwaysNewer {
        bytes: Vec<u8>,
        reads: std::sync::atomic::AtomicU64,
    }

    impl crate::store::backend::Backend for AlwaysNewer {
        fn read(&self) -> Result<(Vec<u8>, crate::store::backend::Version), StoreError> {
            let n = self
                .reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok((
                self.bytes.clone(),
                crate::store::backend::Version::new(format!("v{n}")),
            ))
        }

        fn write_if(
            &self,
            _: &[u8],
            _: Option<&crate::store::backend::Version>,
        ) -> Result<crate::store::backend::Version, StoreError> {
            Err(StoreError::ChangedOnDisk {
                path: "s3://b/k".into(),
            })
        }
    }

    #[test]
    fn a_save_outrun_by_other_writers_every_time_stops_after_its_attempts_saying_so() {
        let (_dir, keys, (mut a, base), _) = two_writers();
        let bytes = std::fs::read(a.path()).unwrap();
        a.backend = Box::new(AlwaysNewer {
            bytes,
            reads: Default::default(),
        });
        let e = a
            .save_merging(&keys, &base, &noted(&base, "acme/crm", "x"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Contended {
                    attempts: SAVE_ATTEMPTS,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("nothing was saved: try again"),
            "{e}"
        );
    }

    #[test]
    fn a_brief_save_releases_the_lock_it_took() {
        let (_dir, keys, (mut a, base), _) = two_writers();
        a.save_merging(&keys, &base, &noted(&base, "acme/crm", "x"))
            .unwrap();
        // Another writer can lock at once: nothing is held between saves.
        let other = super::super::lockfile::Lock::acquire(a.path());
        assert!(other.is_ok(), "{other:?}");
    }
}
