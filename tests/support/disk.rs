//! An in-memory inventory store for engine tests that need no encryption: keeps what was
//! last saved.

use std::sync::{Arc, Mutex};

use keyward::inventory::Inventory;
use keyward::rotation::{Persist, PersistError};

/// What the engine last saved, shared with the test.
#[derive(Clone, Default)]
pub struct MemoryDisk(Arc<Mutex<Option<Inventory>>>);

impl MemoryDisk {
    /// A store handle for [`keyward::rotation::Engine::new`].
    pub fn persist(&self) -> Box<dyn Persist> {
        Box::new(self.clone())
    }

    /// The inventory as last saved.
    pub fn last(&self) -> Inventory {
        self.0
            .lock()
            .unwrap()
            .clone()
            .expect("the engine saved something")
    }
}

impl Persist for MemoryDisk {
    fn persist(&mut self, inv: &Inventory) -> Result<Option<Inventory>, PersistError> {
        *self.0.lock().unwrap() = Some(inv.clone());
        Ok(None)
    }
}
