#!/usr/bin/env bash
# The test command: installs what the tests need (a Python venv in .venv with the real
# scim2-server and aiosmtpd from PyPI), checks formatting and lints, then runs every test
# of the workspace. Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
