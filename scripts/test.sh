#!/usr/bin/env bash
# README command 2: run the whole test suite (installs missing Debian packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build 2>&1 | tail -n 1
# End-to-end tests run this binary as a user would.
export FLOWREC_BIN="$(swift build --show-bin-path)/flowrec"
swift test 2>&1
