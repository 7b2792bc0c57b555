#!/usr/bin/env bash
# Whole-process comparison of the composite pipeline against ffmpeg on the same media:
# 4 participants × 640×360@30 VP8 + Opus, 60 s → 1280×720@30 VP8 1.5 Mbit/s (realtime, cpu-used 8,
# 2 threads) + Opus. flowrec transcodes the RTP dump; ffmpeg does the same from per-participant
# WebM files (xstack grid + amix, same libvpx settings). Prints CPU seconds, wall time, peak RSS,
# and flowrec's mixing/compositing share.
#   Benchmarks/composite-vs-ffmpeg.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
work=${BENCH_DIR:-/tmp/flowrec-bench}/composite-$seconds
bash scripts/install-deps.sh
swift build -c release --product flowrec 2>&1 | tail -n 1
flowrec=$(swift build -c release --show-bin-path)/flowrec
mkdir -p "$work"
if [ ! -f "$work/.done" ]; then
  "$flowrec" synth --participants 4 --seconds "${seconds}s" --size 640x360 --format pcap --out "$work/room.pcap" >/dev/null
  "$flowrec" transcode "$work/room.pcap" --tracks --out "$work/tracks" --force >/dev/null
  touch "$work/.done"
fi
measure() { /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt"; cat "$work/time.txt"; }
inputs=(); for f in "$work"/tracks/*.webm; do inputs+=(-i "$f"); done
graph="[0:v]scale=640:360[v0];[1:v]scale=640:360[v1];[2:v]scale=640:360[v2];[3:v]scale=640:360[v3];"
graph+="[v0][v1][v2][v3]xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0[v];[0:a][1:a][2:a][3:a]amix=inputs=4[a]"

for run in 1 2 3; do
  read -r f_wall f_user f_sys f_rss < <(measure "$flowrec" transcode "$work/room.pcap" --pipeline grid-720p --out "$work/flowrec.webm" --force)
  split=$(grep -o "mixing [0-9.]*s, composing [0-9.]*s" "$work/stderr.txt" || echo "")
  read -r g_wall g_user g_sys g_rss < <(measure ffmpeg -y -v error "${inputs[@]}" -filter_complex "$graph" -map "[v]" -map "[a]" \
      -c:v libvpx -deadline realtime -cpu-used 8 -threads 2 -b:v 1500k -g 150 -c:a libopus -b:a 48k "$work/ffmpeg.webm")
  f_cpu=$(echo "$f_user + $f_sys" | bc); g_cpu=$(echo "$g_user + $g_sys" | bc)
  echo "run $run: flowrec cpu ${f_cpu}s wall ${f_wall}s rss $((f_rss / 1024)) MB ($split) | ffmpeg cpu ${g_cpu}s wall ${g_wall}s rss $((g_rss / 1024)) MB | cpu ratio $(echo "scale=2; $f_cpu / $g_cpu" | bc)"
done
