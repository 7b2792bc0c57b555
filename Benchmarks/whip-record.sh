#!/usr/bin/env bash
# Live WHIP recording cost: PUBLISHERS aiortc publishers (Tests/Live/whip_publish.py, each
# 640×360@30 VP8 + Opus, its own colour and tone) publish to `flowrec record --whip` for SECONDS;
# flowrec records the grid-720p composite plus per-participant tracks (--tracks) and stops on its own
# (--stop-when-empty 6s: aiortc takes seconds to start on a loaded machine). Everything runs in a private network namespace (unshare --net: loopback
# plus a veth pair, recorder 10.99.0.1, publishers 10.99.0.2) and under `timeout`.
#
# Measures, for the flowrec process only: CPU seconds (user+sys, /proc/PID/stat sampled every
# 0.5 s; the total from /usr/bin/time) and average cores for the live phase (start → the last
# publisher has stopped; the outputs are made meanwhile), the wind-down (→ flowrec logs "stopping (",
# the 6 s --stop-when-empty wait) and the finalisation (→ exit: the last second of the outputs and
# their trailers; with --outputs-after-stop in FLOWREC_ARGS, the whole outputs from the captures);
# peak RSS (VmHWM).
# Frames: the composite's video frames (ffprobe -count_frames) against 30 fps over the time every
# publisher was present, each participant's track against the frames its publisher says it sent,
# and the manifest's packet counters and warnings. Also the publishers' CPU and achieved frame rate
# (aiortc encodes VP8 in Python-driven libvpx: expect it to be heavy) and the machine's load from
# everything else (other builds) while it ran. Ends with a table and one `RESULT {json}` line.
#
#   Benchmarks/whip-record.sh [SECONDS=60] [PUBLISHERS=4]
#   FLOWREC_BIN=/path/to/flowrec   use this binary instead of building .build-bench (release)
#   BENCH_DIR=/tmp/flowrec-bench    where the run folder goes (whip-record-<S>s-<P>p, replaced)
#   FLOWREC_ARGS="--outputs-after-stop"  extra `flowrec record` options
#   PUBLISH_ARGS="--noise"          extra whip_publish.py options (the default picture, a solid colour
#                                   and a moving square, encodes to ~30 kbit/s, one packet a frame;
#                                   --noise makes frames span several packets)
#   PUBLISHER=chromium              publish with headless Chromium instead (Tests/Live/browser_publish.py
#                                   through Samples/whip-publisher.html, one busy 640×360@30 y4m camera made
#                                   once with ffmpeg): Chrome's congestion control runs on the recorder's
#                                   transport-cc feedback, so the bitrate each publisher held is measured
#                                   (its own getStats and the file), beside the frames dropped.
# Needs root (unshare --net, ip), python3 with aiortc, ffprobe, /usr/bin/time (and chromium for PUBLISHER=chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-60}
publishers=${2:-4}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 3 ]] || { echo "SECONDS must be an integer >= 3" >&2; exit 64; }
[[ $publishers =~ ^[0-9]+$ && $publishers -ge 1 && $publishers -le 16 ]] || { echo "PUBLISHERS must be 1...16" >&2; exit 64; }

if [ -n "${FLOWREC_BIN:-}" ]; then
  flowrec=$FLOWREC_BIN
else
  [ -d /opt/swift/usr/bin ] && export PATH=/opt/swift/usr/bin:$PATH
  swift build -c release --product flowrec --scratch-path .build-bench 2>&1 | tail -n 1
  flowrec=$root/.build-bench/release/flowrec
fi
[ -x "$flowrec" ] || { echo "no flowrec binary at $flowrec" >&2; exit 1; }
python=$(command -v "${PYTHON:-python3}")
publisher=${PUBLISHER:-aiortc}
case $publisher in
  aiortc) "$python" -c "import aiortc" || { echo "$python has no aiortc" >&2; exit 1; } ;;
  chromium) command -v chromium >/dev/null || { echo "no chromium" >&2; exit 1; } ;;
  *) echo "PUBLISHER must be aiortc or chromium" >&2; exit 64 ;;
esac

suffix=""
if [ "$publisher" = chromium ]; then suffix=-chromium; fi
work=${BENCH_DIR:-/tmp/flowrec-bench}/whip-record-${seconds}s-${publishers}p$suffix
rm -rf "$work"
mkdir -p "$work"
echo "whip-record: $publishers publisher(s) × ${seconds}s, flowrec $flowrec, work folder $work"

# ---- the run, inside a private network namespace -------------------------------------------------
cat > "$work/netns.sh" <<'EOF'
set -u
ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.0.2/24 dev v1
ip link set v0 up && ip link set v1 up
colours=(255,0,0 0,0,255 0,160,0 255,200,0 200,0,200 0,200,200 255,128,0 128,128,128)
tones=(440 660 550 770 330 880 495 605)

# /proc/stat "cpu" line and the load average, before and after: the whole machine's load.
head -n 1 /proc/stat > "$W/machine.before"; cat /proc/loadavg >> "$W/machine.before"
echo "$EPOCHREALTIME" > "$W/t.start"
timeout $((S + 150)) /usr/bin/time -f "%e %U %S %M" -o "$W/flowrec.time" \
  "$FLOWREC" record --whip 10.99.0.1:8080 --room bench --out "$W/out" --name room --tracks \
  --ice-host 10.99.0.1 --udp-ports 20000-20099 --stop-when-empty 6s --duration $((S + 30))s $FLOWREC_ARGS \
  > "$W/record.out" 2> >(while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done > "$W/record.err") &
rec=$!
# flowrec is timeout's grandchild (timeout → time → flowrec).
fpid=""
for _ in $(seq 100); do
  for c in $(cat /proc/$rec/task/$rec/children 2>/dev/null); do
    fpid=$(cat /proc/$c/task/$c/children 2>/dev/null | awk '{print $1}')
  done
  [ -n "$fpid" ] && break
  sleep 0.02
done
[ -n "$fpid" ] || { echo "flowrec did not start"; exit 1; }
echo "$fpid" > "$W/flowrec.pid"
# Sampler: time, utime, stime (clock ticks), VmHWM (kB), every 0.5 s while the process lives.
(
  while [ -r /proc/$fpid/stat ]; do
    read -r stat < /proc/$fpid/stat 2>/dev/null || break
    now=$EPOCHREALTIME
    fields=(${stat##*) })
    hwm=0
    while read -r key value _; do [ "$key" = "VmHWM:" ] && hwm=$value; done < /proc/$fpid/status 2>/dev/null
    [ "${fields[0]}" = Z ] && break
    echo "$now ${fields[11]} ${fields[12]} $hwm"
    sleep 0.5
  done > "$W/samples.txt"
) &
sampler=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break; sleep 0.1; done

pids=""
for i in $(seq 0 $((P - 1))); do
  (
    if [ "$PUBLISHER" = chromium ]; then
      timeout $((S + 90)) /usr/bin/time -f "%e %U %S %M" -o "$W/pub$i.time" \
        "$PY" "$ROOT/Tests/Live/browser_publish.py" --browser chromium --url http://10.99.0.1:8080/whip/bench \
        --seconds "$S" --page-host 10.99.0.2 --y4m "$W/camera.y4m" --summary-from 10 --log "$W/pub$i.log" $PUBARGS \
        > "$W/pub$i.json" 2> "$W/pub$i.err"
    else
      timeout $((S + 60)) /usr/bin/time -f "%e %U %S %M" -o "$W/pub$i.time" \
        "$PY" "$ROOT/Tests/Live/whip_publish.py" http://10.99.0.1:8080/whip/bench --seconds "$S" \
        --size 640x360 --fps 30 --tone "${tones[i % 8]}" --colour "${colours[i % 8]}" --ice-host 10.99.0.2 $PUBARGS \
        > "$W/pub$i.json" 2> "$W/pub$i.err"
    fi
    echo "$? $EPOCHREALTIME" > "$W/pub$i.end"
  ) &
  pids="$pids $!"
done
status=0
for p in $pids; do wait $p || status=$?; done
echo "$EPOCHREALTIME" > "$W/t.publishers"
wait $rec; rc=$?
echo "$rc $EPOCHREALTIME" > "$W/flowrec.exit"
head -n 1 /proc/stat > "$W/machine.after"; cat /proc/loadavg >> "$W/machine.after"
wait $sampler
sleep 0.2  # the stderr timestamper drains
echo "flowrec exit $rc"
EOF
if [ "$publisher" = chromium ]; then
  # One camera for every browser (made before the clock starts): testsrc2 under per-frame noise, as browser_publish.py makes it.
  ffmpeg -v error -nostdin -y -f lavfi -i testsrc2=size=640x360:rate=30 -vf "noise=alls=16:allf=t+u,format=yuv420p" -t 10 \
    "$work/camera.y4m" || { echo "ffmpeg could not make the camera" >&2; exit 1; }
fi
W=$work S=$seconds P=$publishers FLOWREC=$flowrec PY=$python ROOT=$root PUBARGS=${PUBLISH_ARGS:-} FLOWREC_ARGS=${FLOWREC_ARGS:-} PUBLISHER=$publisher \
  timeout $((seconds + 240)) unshare --net /bin/bash "$work/netns.sh" || echo "netns run failed: $?"

# ---- outputs: ffprobe ------------------------------------------------------------------------------
probe() {  # file, stream → json with nb_read_frames and packet pts
  ffprobe -v error -select_streams "$2" -count_frames -show_entries stream=nb_read_frames,width,height,codec_name \
    -show_entries format=duration -of json "$1" > "$3.json" 2> "$3.err" || true
  ffprobe -v error -select_streams "$2" -show_entries packet=pts_time -of csv=p=0 "$1" > "$3.pts" 2>> "$3.err" || true
}
mkdir -p "$work/probe"
[ -f "$work/out/room.webm" ] && probe "$work/out/room.webm" v:0 "$work/probe/composite"
for f in "$work"/out/room.p*.webm; do
  [ -f "$f" ] || continue
  n=$(basename "$f" .webm); n=${n#room.}
  probe "$f" v:0 "$work/probe/$n.video"
  probe "$f" a:0 "$work/probe/$n.audio"
done

# ---- analysis --------------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK) NPROC=$(nproc) W=$work S=$seconds P=$publishers ROOT=$root "$python" - <<'EOF'
import json, os, struct, glob, sys

W, S, P = os.environ["W"], int(os.environ["S"]), int(os.environ["P"])
tck, ncpu = int(os.environ["CLK_TCK"]), int(os.environ["NPROC"])
FPS = 30


def read(name, default=None):
    try:
        with open(os.path.join(W, name)) as f:
            return f.read()
    except OSError:
        return default


def jread(name):
    try:
        return json.loads(read(name, "null") or "null")
    except ValueError:
        return None


# flowrec CPU over time: samples (t, cpu seconds, VmHWM kB)
samples = []
for line in (read("samples.txt", "") or "").splitlines():
    t, u, s, hwm = line.split()
    samples.append((float(t), (int(u) + int(s)) / tck, int(hwm)))
ftime = (read("flowrec.time", "") or "").split()
exit_line = (read("flowrec.exit", "") or "").split()
t_start = float(read("t.start"))
t_end = float(exit_line[1]) if len(exit_line) > 1 else (samples[-1][0] if samples else t_start)
flowrec_rc = int(exit_line[0]) if exit_line else None
total_cpu = float(ftime[1]) + float(ftime[2]) if len(ftime) >= 4 else (samples[-1][1] if samples else 0)
peak_rss_mb = (int(ftime[3]) if len(ftime) >= 4 else max([x[2] for x in samples] or [0])) / 1024
if samples and samples[-1][0] < t_end:
    samples.append((t_end, max(total_cpu, samples[-1][1]), samples[-1][2]))


def cpu_at(t):
    """CPU seconds used by time t, interpolated between the 0.5 s samples."""
    if not samples or t <= t_start:
        return 0.0
    prev = (t_start, 0.0)
    for ts, c, _ in samples:
        if ts >= t:
            return prev[1] + (c - prev[1]) * (t - prev[0]) / max(ts - prev[0], 1e-9)
        prev = (ts, c)
    return samples[-1][1]


# phase boundaries: the last publisher stopped; flowrec logged "stopping ("
pub_ends = []
for i in range(P):
    e = (read(f"pub{i}.end", "") or "").split()
    if len(e) == 2:
        pub_ends.append(float(e[1]))
t_pubs = max(pub_ends) if pub_ends else float(read("t.publishers", str(t_end)))
t_write = None
err_lines = []
for line in (read("record.err", "") or "").splitlines():
    ts, _, text = line.partition(" ")
    err_lines.append(text)
    if t_write is None and "stopping (" in text:
        t_write = float(ts)
if t_write is None:
    t_write = t_end


def phase(a, b):
    cpu = cpu_at(b) - cpu_at(a) if b < t_end else total_cpu - cpu_at(a)
    wall = max(b - a, 1e-9)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "cores": round(cpu / wall, 3)}


phases = {
    "live": phase(t_start, t_pubs),
    "wind_down": phase(t_pubs, t_write),
    "finalise": phase(t_write, t_end),
    "overall": phase(t_start, t_end),
}

# machine load: busy cores over the run from /proc/stat, minus ours
def stat_cpu(name):
    text = read(name, "") or ""
    lines = text.splitlines()
    if len(lines) < 2:
        return None, None
    v = [int(x) for x in lines[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]), idle), " ".join(lines[1].split()[:3])

before, load_before = stat_cpu("machine.before")
after, load_after = stat_cpu("machine.after")
machine = {"cpus": ncpu, "loadavg_before": load_before, "loadavg_after": load_after}

# publishers
pubs = []
pub_cpu = 0.0
for i in range(P):
    j = jread(f"pub{i}.json") or {}
    tm = (read(f"pub{i}.time", "") or "").split()
    e = (read(f"pub{i}.end", "") or "").split()
    cpu = float(tm[1]) + float(tm[2]) if len(tm) >= 4 else None
    wall = float(tm[0]) if len(tm) >= 4 else None
    pub_cpu += cpu or 0
    if j.get("browser"):
        # browser_publish.py: the page's getStats samples; the last one holds the totals.
        samples = j.get("samples") or [{}]
        last = samples[-1]
        video = (last.get("video") or [{}])[0]
        secs = last.get("t") or 0
        bwe = (j.get("summary") or {}).get("availableOutgoingBitrate") or {}
        j = {"connected": j.get("connected"), "seconds": secs, "video_frames_sent": video.get("framesSent") or 0,
             "audio_frames_sent": 0, "available_outgoing_bitrate": bwe,
             "stats": {"video": {"packetsSent": video.get("packetsSent"), "bytesSent": video.get("bytesSent") or 0,
                                 "nackCount": video.get("nackCount"), "pliCount": video.get("pliCount")},
                       "audio": {"packetsSent": (last.get("audio") or {}).get("packetsSent")}}}
    secs = j.get("seconds") or 0
    vs = j.get("video_frames_sent", 0)
    st = j.get("stats", {})
    pubs.append({
        "index": i, "exit": int(e[0]) if e else None, "connected": j.get("connected"), "seconds": secs,
        "location": j.get("location"),
        "video_frames_sent": vs, "audio_frames_sent": j.get("audio_frames_sent", 0),
        "fps_sent": round(vs / secs, 2) if secs else 0,
        "cpu_s": cpu, "wall_s": wall, "cores": round(cpu / wall, 3) if cpu and wall else None,
        "rss_mb": round(int(tm[3]) / 1024, 1) if len(tm) >= 4 else None,
        "video_packets_sent": st.get("video", {}).get("packetsSent"),
        "audio_packets_sent": st.get("audio", {}).get("packetsSent"),
        "video_kbps": round(st.get("video", {}).get("bytesSent", 0) * 8 / 1000 / secs, 1) if secs else None,
        "nacks_received": st.get("video", {}).get("nackCount"), "plis_received": st.get("video", {}).get("pliCount"),
        "remote_lost": (st.get("video", {}).get("remotePacketsLost"), st.get("audio", {}).get("remotePacketsLost")),
        "available_outgoing_bitrate": j.get("available_outgoing_bitrate"),
    })

if before and after:
    dt, didle = after[0] - before[0], after[1] - before[1]
    busy = (dt - didle) / dt * ncpu if dt else 0
    wall = t_end - t_start
    machine["busy_cores"] = round(busy, 2)
    machine["others_cores"] = round(max(0.0, busy - (total_cpu + pub_cpu) / wall), 2)

# manifest
manifest = jread("out/room.json") or {}
participants = manifest.get("connections", [])  # one per publisher: session, packet counters


def pcap_span(path):
    """First and last packet times (s since the epoch) and the video SSRC packets of a classic pcap."""
    try:
        data = open(path, "rb").read()
    except OSError:
        return None
    if len(data) < 24:
        return None
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    off, first, last = 24, None, None
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        t = sec + frac / (1e9 if nano else 1e6)
        first = t if first is None else first
        last = t
        off += 16 + incl
    return first, last


spans = {}
for p in participants:
    sp = pcap_span(p.get("capturePath", ""))
    if sp and sp[0] is not None:
        spans[p["participant"]] = sp
origin = min(s[0] for s in spans.values()) if spans else None
window = None
if spans:
    window = (max(s[0] for s in spans.values()) - origin, min(s[1] for s in spans.values()) - origin)


def probe(name):
    j = jread(f"probe/{name}.json") or {}
    st = (j.get("streams") or [{}])[0]
    pts = []
    for line in (read(f"probe/{name}.pts", "") or "").splitlines():
        try:
            pts.append(float(line.strip().strip(",")))
        except ValueError:
            pass
    pts.sort()
    gaps = [b - a for a, b in zip(pts, pts[1:])]
    return {"frames": int(st.get("nb_read_frames") or 0), "packets": len(pts), "pts": pts,
            "duration": float((j.get("format") or {}).get("duration") or 0),
            "size": f'{st.get("width")}x{st.get("height")}' if st.get("width") else None,
            "max_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
            "gaps_over_100ms": sum(1 for g in gaps if g > 0.1),
            "errors": (read(f"probe/{name}.err", "") or "").strip().splitlines()[:3]}


comp = probe("composite")
composite = {"size": comp["size"], "duration_s": comp["duration"], "video_frames": comp["frames"],
             "max_gap_ms": comp["max_gap_ms"], "decode_errors": comp["errors"],
             "expected_seconds_x30": S * FPS, "vs_seconds_x30": comp["frames"] - S * FPS,
             "expected_duration_x30": round(comp["duration"] * FPS)}
if window and window[1] > window[0]:
    lo, hi = window
    inside = sum(1 for t in comp["pts"] if lo <= t < hi)
    # canvas frame k is at k/30 s (WebM keeps milliseconds): the slots inside the window
    expected = sum(1 for k in range(int(hi * FPS) + 2) if lo <= int(k * 1000 / FPS) / 1000 < hi)
    composite.update(all_present_s=[round(lo, 2), round(hi, 2)], all_present_expected=expected,
                     all_present_written=inside, frames_dropped=expected - inside)

# participants ↔ publishers: the WHIP resource URL ends with the session id
by_session = {}
for pb in pubs:
    if pb["location"]:
        by_session[pb["location"].rstrip("/").rsplit("/", 1)[-1]] = pb
tracks = []
for p in participants:
    name = p["participant"]
    v, a = probe(f"{name}.video"), probe(f"{name}.audio")
    pb = by_session.get(p.get("session"))
    out = next((o for o in manifest.get("outputs", []) if o.get("name") == name), {})
    tracks.append({
        "participant": name, "publisher": pb["index"] if pb else None,
        "rtp": p.get("rtpPackets"), "lost": p.get("lostPackets"), "nacked": p.get("nackedPackets"),
        "repaired": p.get("repairedPackets"), "pli": p.get("pliSent"), "srtp_fail": p.get("srtpAuthFailures"),
        "failure": p.get("failure"),
        "video_frames": v["frames"], "video_packets": v["packets"], "video_max_gap_ms": v["max_gap_ms"],
        "video_gaps_over_100ms": v["gaps_over_100ms"], "audio_frames": a["packets"],
        "manifest_frames": out.get("frames"), "duration_s": out.get("durationSeconds"),
        "video_sent": pb["video_frames_sent"] if pb else None, "audio_sent": pb["audio_frames_sent"] if pb else None,
        "rtp_sent": ((pb["video_packets_sent"] or 0) + (pb["audio_packets_sent"] or 0)) if pb else None,
        "video_missing": (pb["video_frames_sent"] - v["frames"]) if pb else None,
        "audio_missing": (pb["audio_frames_sent"] - a["packets"]) if pb else None,
        "decode_errors": v["errors"],
    })

errors = [l for l in err_lines if any(w in l.lower() for w in ("error", "warning", "fail"))]
result = {
    "seconds": S, "publishers": P, "flowrec_exit": flowrec_rc, "stop_reason": manifest.get("stopReason"),
    "flowrec": {**{k: v for k, v in phases.items()}, "peak_rss_mb": round(peak_rss_mb, 1)},
    "composite": composite,
    "tracks": tracks,
    "publishers_cpu": {"cpu_s": round(pub_cpu, 2),
                       "cores": round(pub_cpu / max(t_pubs - t_start, 1e-9), 2),
                       "fps_sent": [p["fps_sent"] for p in pubs],
                       "video_kbps": [p["video_kbps"] for p in pubs],
                       "exits": [p["exit"] for p in pubs]},
    "machine": machine,
    "manifest_warnings": manifest.get("warnings", []),
    "stderr_problems": errors[:10],
}
with open(os.path.join(W, "result.json"), "w") as f:
    json.dump(result, f, indent=1)

print()
print(f"flowrec ({P} publishers × {S} s, exit {flowrec_rc}, stop {manifest.get('stopReason')}), peak RSS {peak_rss_mb:.0f} MB")
print(f"  {'phase':<10} {'wall s':>8} {'CPU s':>8} {'cores':>7}")
for k, v in phases.items():
    print(f"  {k:<10} {v['wall_s']:>8.2f} {v['cpu_s']:>8.2f} {v['cores']:>7.3f}")
c = composite
print(f"composite {c['size']} {c['duration_s']:.2f} s: {c['video_frames']} video frames "
      f"({c['vs_seconds_x30']:+d} vs {S}×30), max gap {c['max_gap_ms']} ms")
if "all_present_s" in c:
    print(f"  all {P} present {c['all_present_s'][0]:.2f}–{c['all_present_s'][1]:.2f} s: "
          f"{c['all_present_written']} of {c['all_present_expected']} frames → dropped {c['frames_dropped']}")
print(f"  {'track':<6}{'pub':>4}{'sent v':>8}{'rec v':>7}{'miss':>6}{'gap ms':>8}{'sent a':>8}{'rec a':>7}"
      f"{'rtp tx':>7}{'rtp rx':>7}{'lost':>5}{'nack':>5}{'rep':>4}{'pli':>4}")
for t in tracks:
    print(f"  {t['participant']:<6}{str(t['publisher']):>4}{str(t['video_sent']):>8}{t['video_frames']:>7}"
          f"{str(t['video_missing']):>6}{str(t['video_max_gap_ms']):>8}{str(t['audio_sent']):>8}{t['audio_frames']:>7}"
          f"{str(t['rtp_sent']):>7}{str(t['rtp']):>7}{str(t['lost']):>5}{str(t['nacked']):>5}{str(t['repaired']):>4}{str(t['pli']):>4}")
print("  (sent v/a: frames the publisher's tracks produced; rtp tx: its packetsSent when it stopped, read just"
      " before its DELETE, so a few more may follow; lost: flowrec's count of sequence gaps)")
# The bitrate each publisher held: its file's video from 10 s on (media_quality.py), and for a
# browser its congestion controller's estimate (availableOutgoingBitrate, median from 10 s on).
import subprocess
held = []
for t in tracks:
    path = os.path.join(W, "out", f"room.{t['participant']}.webm")
    try:
        q = json.loads(subprocess.run([sys.executable, os.path.join(os.environ["ROOT"], "Tests/Live/media_quality.py"), path,
                                       "--from", "10"], capture_output=True, text=True, timeout=120).stdout)
        v = q.get("video") or {}
        held.append({"participant": t["participant"], "kbps": v.get("kbps"), "fps": v.get("fps"), "longest_gap_s": v.get("longest_gap"),
                     "widths": v.get("widths")})
    except (ValueError, OSError, subprocess.SubprocessError):
        held.append({"participant": t["participant"]})
estimates = [(p.get("available_outgoing_bitrate") or {}).get("median") for p in pubs]
print("held from 10 s: " + "; ".join(f"{h['participant']} {h.get('kbps')} kbit/s at {h.get('fps')} fps, widths {h.get('widths')}, "
                                      f"longest gap {h.get('longest_gap_s')} s" for h in held))
if any(estimates):
    print(f"browsers' availableOutgoingBitrate (median from 10 s): {estimates}")
print(f"publishers ({'Chromium' if any(p.get('available_outgoing_bitrate') for p in pubs) else 'aiortc/Python'}): {pub_cpu:.1f} CPU s = {result['publishers_cpu']['cores']:.2f} cores; "
      f"fps sent {result['publishers_cpu']['fps_sent']} (target 30), video kbit/s {result['publishers_cpu']['video_kbps']}; "
      f"exits {result['publishers_cpu']['exits']}")
print(f"machine: {ncpu} CPUs, busy {machine.get('busy_cores')} cores, of which others {machine.get('others_cores')}; "
      f"loadavg before {load_before} / after {load_after}")
for w in manifest.get("warnings", []):
    print(f"manifest warning: {w}")
for l in errors[:10]:
    print(f"flowrec stderr: {l}")
print("RESULT " + json.dumps({
    "seconds": S, "publishers": P, "exit": flowrec_rc,
    "live_cpu_s": phases["live"]["cpu_s"], "live_cores": phases["live"]["cores"],
    "finalise_cpu_s": phases["finalise"]["cpu_s"], "finalise_wall_s": phases["finalise"]["wall_s"],
    "finalise_cores": phases["finalise"]["cores"],
    "total_cpu_s": phases["overall"]["cpu_s"], "total_wall_s": phases["overall"]["wall_s"],
    "total_cores": phases["overall"]["cores"], "peak_rss_mb": round(peak_rss_mb, 1),
    "composite_frames": c["video_frames"], "composite_expected": S * FPS,
    "frames_dropped": c.get("frames_dropped"),
    "track_video_frames": [t["video_frames"] for t in tracks],
    "sent_video_frames": [t["video_sent"] for t in tracks],
    "lost_packets": [t["lost"] for t in tracks],
    "rtp_sent": [t["rtp_sent"] for t in tracks], "rtp_received": [t["rtp"] for t in tracks],
    "publisher_fps": result["publishers_cpu"]["fps_sent"], "publisher_cores": result["publishers_cpu"]["cores"],
    "machine_others_cores": machine.get("others_cores"), "warnings": len(manifest.get("warnings", [])),
    "held_kbps": [h.get("kbps") for h in held], "held_fps": [h.get("fps") for h in held],
    "available_outgoing_bitrate": estimates,
}, separators=(",", ":")))
EOF
