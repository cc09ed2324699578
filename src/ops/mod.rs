//! The operations layer: what an action means, once, for both front ends.
//!
//! The command line (`cli/`) and the dashboard (`tui/`) are thin: they parse keys or
//! arguments, call in here, and render what comes back. Selecting credentials
//! ([`select`]), finding a credential's provider ([`crate::providers::registry::ProviderSet`]),
//! running rotations and revocations with their audit entries ([`run`]), writing reports
//! ([`export`]), archiving ([`archive`]), removing ([`remove`]), finding the keys the
//! inventory does not track ([`discover`]) and recording them ([`adopt`]) live here, so the same
//! action selects the same credentials, ends the same way and leaves the same audit entry
//! whichever face started it.

pub mod adopt;
pub mod archive;
pub mod discover;
pub mod export;
pub mod remove;
pub mod run;
pub mod select;

pub use run::{RunConfig, Runner};
pub use select::{select, Picked, Selection};
