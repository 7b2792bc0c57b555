#!/usr/bin/env bash
# Installs the Debian packages flowrec builds against and tests with (the browsers the live tests
# publish with among them: chromium, firefox-esr), and the Python WebRTC peer (aiortc), if any are missing. Idempotent and quiet when everything
# is already there. Run as root on Debian 12.
set -euo pipefail
packages=(
  pkg-config bc time libopus-dev libvpx-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libsrtp2-dev libssl-dev libyuv-dev ffmpeg janus-tools janus coturn iproute2 util-linux procps python3-pip
  chromium firefox-esr
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
# aiortc publishes to `flowrec record` in the live tests (for the python3 on PATH).
if ! python3 -c 'import aiortc' 2>/dev/null; then
  echo "installing: aiortc (pip)" >&2
  python3 -m pip install -q aiortc==1.16.0 2>/dev/null || python3 -m pip install -q --break-system-packages aiortc==1.16.0
fi
if ! command -v swift >/dev/null; then
  if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else echo "swift toolchain not found (expected /opt/swift)" >&2; exit 1; fi
fi
