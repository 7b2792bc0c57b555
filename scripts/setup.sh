#!/usr/bin/env bash
# README command 1: install what is missing, build release, run the main job on the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release 2>&1 | tail -n 3
bin=$(swift build -c release --show-bin-path)/flowrec
out=out/sample
"$bin" transcode Samples/room --pipeline grid-720p-tracks --out "$out/room.webm" --force
echo "the composite is $(pwd)/$out/room.webm; per-participant files are beside it"
