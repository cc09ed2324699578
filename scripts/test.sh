#!/usr/bin/env bash
# The one command that runs keyward's tests on a fresh machine: installs what the tests
# need when it is missing (scripts/test-setup.sh), then runs the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/test-setup.sh
cargo test --all-targets --features test-hooks "$@"
