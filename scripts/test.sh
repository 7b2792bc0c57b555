#!/usr/bin/env bash
# README command 2: run the whole test suite (installs missing Debian packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build 2>&1 | tail -n 1
swift build --build-tests 2>&1 | tail -n 1
# End-to-end tests run this binary as a user would.
export FLOWREC_BIN="$(swift build --show-bin-path)/flowrec"
# Two runs: the end-to-end tests block threads while their processes run, which would starve the
# async unit tests (servers, clients) of the cooperative pool if both ran side by side.
status=0
swift test --skip-build --skip EndToEndTests 2>&1 || status=$?
swift test --skip-build --filter EndToEndTests 2>&1 || status=$?
exit $status
