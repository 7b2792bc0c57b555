#!/usr/bin/env bash
# Installs the Debian packages flowrec builds against and tests with, if any are missing.
# Idempotent and quiet when everything is already there. Run as root on Debian 12.
set -euo pipefail
packages=(
  pkg-config bc time libopus-dev libvpx-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libsrtp2-dev libssl-dev libyuv-dev ffmpeg janus-tools
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null; then
  if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else echo "swift toolchain not found (expected /opt/swift)" >&2; exit 1; fi
fi
