//! Shared helpers for keyward's integration tests; include with `mod support;`. Each test
//! binary uses some of them, so unused ones are expected.
#![allow(dead_code)]

/// A bucket on moto_server's S3 for inventories at s3:// locations.
pub mod bucket;
/// Killing the real binary at a rotation step (needs the `test-hooks` feature).
pub mod crash;
/// An in-memory inventory store for engine tests.
pub mod disk;
/// The fast-retrying HTTP client provider tests share.
pub mod http;
/// The leak scan: a secret in raw, base64 or hex form in some output.
pub mod leak;
/// Real local peers (moto, OIDC provider, Prism) started per test; see `peers.rs`.
pub mod peers;
/// An encrypted inventory of sandbox credentials with live keys, for rotation tests.
pub mod sandbox_inventory;
/// A real terminal through tmux, for prompts and the dashboard.
pub mod tmux;
/// A throwaway HOME and inventory for running the real binary.
pub mod workspace;
