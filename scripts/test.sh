#!/usr/bin/env bash
# The test command: installs what the tests need (a Python venv in .venv with the real
# scim2-server and aiosmtpd from PyPI; Debian's chromium for the status-page test and
# openssh-server for the file writer's SFTP tests), checks the floors of core/
# (scripts/check-floors.sh), formatting and lints, then runs every test of the workspace.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

# Debian's packages the tests start: headless Chromium renders the status page
# (tests/e2e/page.rs); OpenSSH's sshd (/usr/sbin/sshd, started by tests/e2e/sshd.rs on a
# loopback port with its own config) receives the file writer's SFTP uploads.
packages=()
if [ -z "${HRSYNC_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then packages+=(chromium); fi
if [ ! -x /usr/sbin/sshd ]; then packages+=(openssh-server); fi
if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${packages[@]}" >/dev/null
fi

scripts/check-floors.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
