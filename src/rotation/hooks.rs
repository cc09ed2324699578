//! The crash-test hook: built only with the `test-hooks` feature, it stops a rotation at a
//! named step (`KEYWARD_TEST_PAUSE_AT=create|store|deploy|verify|revoke`), prints a marker
//! line and waits forever, so a test can kill -9 the process at exactly that boundary.
//! Without the feature it compiles to nothing.

use super::Phase;
use crate::inventory::CredentialRef;

/// The hook's name for `phase`, if it has one.
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
fn hook_name(phase: Phase) -> Option<&'static str> {
    match phase {
        Phase::Create => Some("create"),
        Phase::Store => Some("store"),
        Phase::Deploy => Some("deploy"),
        Phase::Verify => Some("verify"),
        Phase::RevokeOld | Phase::Revoke => Some("revoke"),
        _ => None,
    }
}

/// Stops here for ever when the environment asks for a pause at `phase`.
#[cfg(feature = "test-hooks")]
pub(super) async fn pause_at(phase: Phase, at: &CredentialRef) {
    use std::io::Write;
    let wanted = std::env::var("KEYWARD_TEST_PAUSE_AT").ok();
    if let Some(name) = hook_name(phase).filter(|n| wanted.as_deref() == Some(*n)) {
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "KEYWARD_TEST_PAUSED {name} {at}");
            let _ = out.flush();
        }
        std::future::pending::<()>().await;
    }
}

/// Without the `test-hooks` feature: nothing.
#[cfg(not(feature = "test-hooks"))]
pub(super) async fn pause_at(_: Phase, _: &CredentialRef) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_pause_point_has_a_phase() {
        let named: Vec<&str> = [
            Phase::Create,
            Phase::Store,
            Phase::Deploy,
            Phase::Verify,
            Phase::RevokeOld,
        ]
        .into_iter()
        .filter_map(hook_name)
        .collect();
        assert_eq!(named, ["create", "store", "deploy", "verify", "revoke"]);
        assert_eq!(hook_name(Phase::Commit), None);
    }
}
