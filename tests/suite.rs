//! keyward's integration tests, linked into one binary: each `tests/*.rs` is a module here,
//! so the library and its dependencies link once instead of once per file.
//!
//! A file under `tests/` that is not declared below would never run: `every_test_file_is_a_module`
//! fails when one is missing.

mod aws_common;
mod saas_common;
// Issue 15: the providers as the real services behave (a directory of modules).
mod saas_real;
mod support;

mod audit;
mod aws_iam;
mod aws_iam_faults;
mod cli;
mod cli_sync_verify;
mod cloudflare;
mod connect;
// Issue 12: rotated secrets delivered to their deploy targets.
mod deploy_targets;
// Issue 13: discover untracked keys, adopt them, take custody.
mod discover;
mod gitlab;
mod hostile_input;
mod leak_scan;
mod oauth2_faults;
mod oauth2_oidc;
mod parser_props;
mod peers_smoke;
mod prompts;
mod report;
mod rotation;
mod rotation_bulk_http;
mod rotation_cli;
// Issue 14: keys that propagate slowly (an STS stand-in), and kill -9 at random points.
mod rotation_propagation;
// Kills the real binary at each rotation step: needs the pause hook compiled in.
#[cfg(feature = "test-hooks")]
mod rotation_crash;
// Kills the real binary at each rotation step: needs the pause hook compiled in.
#[cfg(feature = "test-hooks")]
mod rotation_crash_aws;
mod rotation_terminal;
mod saas_contract;
mod saas_faults;
mod saas_lifecycle;
mod security;
mod sync_verify_aws;
// Issue 10: the inventory in an S3-compatible bucket (moto_server's S3).
mod team_s3;
mod tui_actions;
mod tui_actions_tmux;
mod tui_aws;
mod tui_live;
mod tui_screens;
mod tui_tmux;

/// Cargo no longer discovers `tests/*.rs` on its own (`autotests = false`): a file added there
/// but not declared above would be silently skipped, so this test lists the directory.
#[test]
fn every_test_file_is_a_module() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let declared = include_str!("suite.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&here).expect("read tests/") {
        let path = entry.expect("entry of tests/").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs")
            && stem != "suite"
            && !declared.contains(&format!("\nmod {stem};"))
        {
            missing.push(stem.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/*.rs not declared in tests/suite.rs: {missing:?}"
    );
}
