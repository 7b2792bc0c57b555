#!/usr/bin/env bash
# README command 2: run the whole test suite (installs missing Debian packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build 2>&1 | tail -n 1
swift build --build-tests 2>&1 | tail -n 1
# End-to-end tests run this binary as a user would.
export FLOWREC_BIN="$(swift build --show-bin-path)/flowrec"
# Every test runs in a private network namespace with only loopback up: the servers and clients
# the unit tests start on 127.0.0.1 never share the machine's network, and the live tests make
# their own namespaces (veth pairs, 10.99.0.x) inside it.
in_private_network() {
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
    unshare --net bash -c 'ip link set lo up && exec "$@"' private-network "$@"
  else
    echo "warning: not root (or no unshare/ip): tests run in this machine's network namespace" >&2
    "$@"
  fi
}
# Coverage-guided fuzzing of the parsers (scripts/fuzz.sh; FLOWREC_FUZZ_SECONDS a target, 10 by
# default: ~3 min with the build); a crash fails the run, a toolchain without libFuzzer (exit 3) only warns.
status=0
fuzz_status=0
bash scripts/fuzz.sh "${FLOWREC_FUZZ_SECONDS:-10}" 2>&1 || fuzz_status=$?
if [ "$fuzz_status" -eq 3 ]; then
  echo "warning: no libFuzzer in this toolchain: the fuzz targets did not run" >&2
elif [ "$fuzz_status" -ne 0 ]; then
  status=$fuzz_status
fi
# Three runs: the end-to-end tests block threads while their processes run, which would starve the
# async unit tests (servers, clients) of the cooperative pool if both ran side by side. The end-to-end
# tests run one at a time: side by side on 2 cores a test could wait minutes for a pool thread, which
# its time limit counts (WHIPRecordTests' first test, 31 s alone, ran past 3 min), and the load made
# live timings flaky (a Janus recording 0.54 s off Janus's own, bar 0.5 s). The browser
# tests (three Chromium/Firefox publishers at once) measure bitrates and frame rates, which the other
# end-to-end suites running beside them on 2 cores would disturb (and they them).
in_private_network swift test --skip-build --skip EndToEndTests 2>&1 || status=$?
in_private_network swift test --skip-build --no-parallel --filter EndToEndTests --skip BrowserWHIPTests 2>&1 || status=$?
in_private_network swift test --skip-build --filter BrowserWHIPTests 2>&1 || status=$?
exit $status
