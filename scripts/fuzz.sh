#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of the parsers: builds the package in
# Fuzz/ with the sanitizer and runs each target for SECONDS_PER_TARGET (default 20) from its seeds in
# Fuzz/Corpus/<target>/. New inputs and any crash go to $FLOWREC_FUZZ_OUT (default
# Fuzz/.build/fuzz, untracked): <target>/corpus and <target>/crashes. Exits non-zero when a target
# crashed, trapped, hung (-timeout) or ran out of memory; exits 3 when the toolchain has no libFuzzer.
# FLOWREC_FUZZ_TARGETS="rtp stun" runs only those. Reproduce a crash:
#   FLOWREC_FUZZ_TARGET=rtp Fuzz/.build/debug/FlowrecFuzz Fuzz/.build/fuzz/rtp/crashes/crash-…
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
out="${FLOWREC_FUZZ_OUT:-$PWD/Fuzz/.build/fuzz}"
targets="${FLOWREC_FUZZ_TARGETS:-mjr pcap pcapng rtpdump rtp rtcp depacketizer sdp offer stun}"

build_log=$(cd Fuzz && swift build -Xswiftc -sanitize=fuzzer,address 2>&1)
built=$?
echo "$build_log" | tail -n 1
bin="$PWD/Fuzz/.build/debug/FlowrecFuzz"
if [ "$built" -ne 0 ] || [ ! -x "$bin" ]; then
  echo "$build_log" | grep -E 'error' | head -n 5 >&2
  # Exit 3 (a warning in test.sh) only when the toolchain lacks the fuzzer; a compile error fails.
  if echo "$build_log" | grep -qiE "unsupported option.*sanitize|sanitize.*not supported|clang_rt\.fuzzer|libfuzzer"; then
    echo "fuzz: this toolchain has no libFuzzer (-sanitize=fuzzer)" >&2
    exit 3
  fi
  echo "fuzz: the fuzz package did not build" >&2
  exit 2
fi

# The Swift runtime's backtracer would trip AddressSanitizer; libFuzzer prints its own stack.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0"
status=0
for target in $targets; do
  case "$target" in
    mjr|pcap|pcapng|rtpdump) max_len=16384 ;;
    sdp|offer) max_len=8192 ;;
    *) max_len=4096 ;;
  esac
  mkdir -p "$out/$target/corpus" "$out/$target/crashes"
  log="$out/$target/fuzz.log"
  FLOWREC_FUZZ_TARGET="$target" "$bin" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=1024 \
    -timeout=5 -print_final_stats=1 -artifact_prefix="$out/$target/crashes/" \
    "$out/$target/corpus" "Fuzz/Corpus/$target" >"$log" 2>&1
  rc=$?
  last=$(grep -aE '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
  execs=$(grep -a 'stat::number_of_executed_units' "$log" | grep -oE '[0-9]+$' || true)
  rate=$(grep -a 'stat::average_exec_per_sec' "$log" | grep -oE '[0-9]+$' || true)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz %-13s ok     %9s execs %6s/s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "$last"
  else
    status=1
    printf 'fuzz %-13s FAILED (exit %d) %s; log %s\n' "$target" "$rc" "$(ls "$out/$target/crashes" | head -n 1)" "$log"
    grep -aE 'Fatal error|Precondition failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY' "$log" | head -n 5
  fi
done
exit $status
