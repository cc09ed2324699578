//! Shared helpers for keyward's integration tests; include with `mod support;`.

/// Real local peers (moto, OIDC provider, Prism) started per test; see `peers.rs`.
pub mod peers;
