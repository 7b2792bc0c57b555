#!/usr/bin/env bash
# Whole-process comparison: `flowrec transcode --tracks` against janus-pp-rec (run once per .mjr)
# on the same synthetic two-track recording. Prints wall time and peak RSS of both, and the ratios.
#   Benchmarks/tracks-vs-janus-pp-rec.sh [SECONDS]   (default 3600: a one-hour recording)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3600}
work=${BENCH_DIR:-/tmp/flowrec-bench}/tracks-$seconds
bash scripts/install-deps.sh
swift build -c release --product flowrec 2>&1 | tail -n 1
flowrec=$(swift build -c release --show-bin-path)/flowrec
mkdir -p "$work"
if [ ! -f "$work/room/.done" ]; then
  rm -rf "$work/room"
  "$flowrec" synth --participants 1 --seconds "${seconds}s" --format mjr --out "$work/room" --reorder 0.01 >/dev/null
  touch "$work/room/.done"
fi
audio=$(ls "$work"/room/*-audio-*.mjr)
video=$(ls "$work"/room/*-video-*.mjr)
measure() { /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" >/dev/null 2>&1; cat "$work/time.txt"; }

best_f=""; best_j=""
for run in 1 2 3; do
  rm -rf "$work/out"; rm -f "$work"/pp.*
  read -r f_wall f_rss f_user f_sys < <(measure "$flowrec" transcode "$work/room" --tracks --out "$work/out")
  read -r a_wall a_rss a_user a_sys < <(measure janus-pp-rec "$audio" "$work/pp.opus")
  read -r v_wall v_rss v_user v_sys < <(measure janus-pp-rec "$video" "$work/pp.webm")
  f_cpu=$(echo "$f_user + $f_sys" | bc)
  j_wall=$(echo "$a_wall + $v_wall" | bc)
  j_cpu=$(echo "$a_user + $a_sys + $v_user + $v_sys" | bc)
  j_rss=$(( a_rss > v_rss ? a_rss : v_rss ))
  echo "run $run: flowrec ${f_wall}s wall ${f_cpu}s cpu ${f_rss}KB | janus-pp-rec ${j_wall}s wall ${j_cpu}s cpu (audio ${a_wall}s, video ${v_wall}s) ${j_rss}KB"
  if [ -z "$best_f" ] || (( $(echo "$f_wall < $best_f" | bc) )); then best_f=$f_wall; best_frss=$f_rss; best_fcpu=$f_cpu; fi
  if [ -z "$best_j" ] || (( $(echo "$j_wall < $best_j" | bc) )); then best_j=$j_wall; best_jrss=$j_rss; best_jcpu=$j_cpu; fi
done
echo "recording: ${seconds}s, $(du -sh "$work/room" | cut -f1) of .mjr"
echo "best of 3: flowrec ${best_f}s wall, ${best_fcpu}s cpu, peak RSS $((best_frss / 1024)) MB; janus-pp-rec ${best_j}s wall, ${best_jcpu}s cpu, peak RSS $((best_jrss / 1024)) MB"
echo "ratio flowrec/janus-pp-rec: wall $(echo "scale=2; $best_f / $best_j" | bc), cpu $(echo "scale=2; $best_fcpu / $best_jcpu" | bc)"
