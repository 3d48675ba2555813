#!/usr/bin/env bash
# The test command: installs what the tests need (a Python venv in .venv with the real
# scim2-server and aiosmtpd from PyPI; Debian's chromium for the status-page test), checks
# formatting and lints, then runs every test of the workspace. Extra arguments go to
# `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

# Headless Chromium renders the status page in tests/e2e/page.rs (Debian's package).
if [ -z "${HRSYNC_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq chromium >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
