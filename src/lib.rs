//! keyward: keep every API credential held for clients in one age-encrypted inventory,
//! see what expires and what has gone unused, and rotate or revoke keys through the
//! providers' own APIs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod cli;
pub mod deploy;
pub mod export;
pub mod fsutil;
pub mod import;
pub mod inventory;
pub mod logging;
pub mod ops;
pub mod providers;
pub mod report;
pub mod rotation;
pub mod secret;
pub mod store;
pub mod sync;
pub mod text;
pub mod tui;
pub mod verify;
