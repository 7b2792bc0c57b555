#!/usr/bin/env bash
# Self-test of the Janus tools: a private Janus 1.1.x VideoRoom, three aiortc
# publishers and an aiortc subscriber speaking the Janus API; no flowrec.
# Runs inside a private network namespace (unshare --net, needs root):
#   lo + veth pair v0 10.99.0.1 <-> v1 10.99.0.2; Janus HTTP 10.99.0.1:8088,
#   WS 10.99.0.1:8188, ICE on 10.99.0.1 (ports 20000-20999); peers on 10.99.0.2.
# Usage: Tests/Live/janus_selftest.sh [WORKDIR]    (WORKDIR keeps logs, SDPs, recordings)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${FLOWREC_LIVE_NETNS:-}" != 1 ]; then
    exec env FLOWREC_LIVE_NETNS=1 timeout 300 unshare --net bash "$0" "$@"
fi

WORK="${1:-$(mktemp -d /tmp/flowrec-janus-selftest.XXXXXX)}"
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
echo "janus-selftest: work dir $WORK"

ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0
ip addr add 10.99.0.2/24 dev v1
ip link set v0 up
ip link set v1 up
# libnice sends from its 10.99.0.1 socket out of v0 (not via lo); v1 then sees a
# packet whose source is a local address and drops it unless accept_local=1.
sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.v0.accept_local=1 \
    net.ipv4.conf.v1.accept_local=1

PASS=0
FAIL=0
ok()   { PASS=$((PASS + 1)); echo "PASS  $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL  $*"; }
expect() { # expect NAME JSONFILE JQ-EXPR
    if jq -e "$3" "$2" >/dev/null 2>&1; then ok "$1"; else bad "$1 ($3) in $(head -c 600 "$2")"; fi
}

JDIR="$WORK/janus"
MJR="$WORK/mjr"
URL=http://10.99.0.1:8088/janus
stop_janus() { python3 "$HERE/janus_env.py" stop --dir "$JDIR" >/dev/null 2>&1; }
trap stop_janus EXIT

# 1. Janus up with only the videoroom plugin and the HTTP + WebSocket transports
if PID=$(python3 "$HERE/janus_env.py" start --dir "$JDIR" --ip 10.99.0.1 --room 1234 \
        --record-dir "$MJR" 2>"$WORK/janus_env.err"); then
    ok "janus started, pid $PID"
else
    bad "janus_env.py start: $(tail -5 "$WORK/janus_env.err")"
    echo "janus-selftest: $PASS passed, $FAIL failed"
    exit 1
fi
if grep -q "Loading plugin 'libjanus_videoroom.so'" "$JDIR/janus.log" &&
   grep -q "JANUS VideoRoom plugin initialized!" "$JDIR/janus.log" &&
   [ "$(grep -c "Loading plugin '" "$JDIR/janus.log")" = 1 ]; then
    ok "janus.log: only libjanus_videoroom.so loaded, initialised"
else bad "janus.log: plugin loading $(grep "plugin" "$JDIR/janus.log" | head -5)"; fi
LISTEN=$(ss -ltnp 2>/dev/null | grep '"janus"')
if echo "$LISTEN" | grep -q '10.99.0.1:8188' && echo "$LISTEN" | grep -q '10.99.0.1:8088' &&
   [ "$(echo "$LISTEN" | wc -l)" = 2 ]; then
    ok "janus listens on exactly 10.99.0.1:8188 (ws) and 10.99.0.1:8088 (http)"
else bad "janus listening sockets: $LISTEN"; fi
curl -s --max-time 5 "$URL/info" >"$WORK/info.json"
expect "GET /janus/info: videoroom only, http + websockets, full ICE, local-ip 10.99.0.1" \
    "$WORK/info.json" '(.plugins | keys) == ["janus.plugin.videoroom"]
     and (.transports | keys) == ["janus.transport.http", "janus.transport.websockets"]
     and ."ice-lite" == false and ."local-ip" == "10.99.0.1" and ."session-timeout" == 60'

# 2. publishers red + blue (5 s), late (2 s later, 3 s) and the subscriber check
PUBARGS=(--room 1234 --ice-host 10.99.0.2 --size 320x240 --fps 15)
publish() { # publish NAME ARGS...
    local name=$1; shift
    timeout 60 python3 "$HERE/janus_publish.py" "$URL" --display "$name" "${PUBARGS[@]}" "$@" \
        --events "$WORK/$name.jsonl" --answer-file "$WORK/$name.answer.sdp" \
        --log "$WORK/$name.log" >"$WORK/$name.json" 2>"$WORK/$name.err"
    echo $? >"$WORK/$name.rc"
}
publish red --seconds 5 --tone 440 --colour 255,0,0 &
publish blue --seconds 5 --tone 660 --colour 0,0,255 &
publish late --seconds 3 --tone 880 --colour 0,255,0 --start-delay 2 &
timeout 90 python3 "$HERE/janus_subscribe_check.py" "$URL" --room 1234 --out-dir "$WORK/sub" \
    --wait-publishers 2 --seconds 3 --follow --exercise --linger 10 --ice-host 10.99.0.2 \
    --events "$WORK/sub.jsonl" --log "$WORK/sub.log" >"$WORK/sub.json" 2>"$WORK/sub.err"
SUBRC=$?
wait

for name in red blue late; do
    rc=$(cat "$WORK/$name.rc")
    [ "$rc" = 0 ] && ok "$name: exit 0" || bad "$name: exit $rc: $(cat "$WORK/$name.err")"
done
expect "red: connected 5 s, frames sent, unpublished + left ok" "$WORK/red.json" \
    '.connected and .seconds >= 4.9 and .audio_frames_sent > 200 and .video_frames_sent > 60
     and .unpublished == "ok" and .left == "ok" and (.id | type) == "number"'
expect "blue: connected 5 s, frames sent, unpublished + left ok" "$WORK/blue.json" \
    '.connected and .seconds >= 4.9 and .audio_frames_sent > 200 and .video_frames_sent > 60
     and .unpublished == "ok" and .left == "ok"'
expect "late: connected 3 s, frames sent" "$WORK/late.json" \
    '.connected and .seconds >= 2.9 and .audio_frames_sent > 120 and .video_frames_sent > 35'
expect "publishers: Janus answers setup active, full ICE, webrtcup event" "$WORK/red.json" \
    '.answer_setup == "active" and .answer_ice_lite == false and (.events | index("webrtcup"))'
expect "publishers: Janus sent a PLI for the new subscriber" "$WORK/red.json" \
    '.stats.video.pliCount >= 1'
expect "publishers: configured streams mid 0 opus, mid 1 vp8" "$WORK/blue.json" \
    '[.configured_streams[] | [.mid, .codec]] == [["0", "opus"], ["1", "vp8"]]'

timeout 30 python3 "$HERE/janus_publish.py" "$URL" --room 9999 --display nobody --seconds 1 \
    --ice-host 10.99.0.2 >"$WORK/noroom.json" 2>"$WORK/noroom.err"
rc=$?
if [ $rc = 2 ] && grep -q "videoroom error 426: No such room" "$WORK/noroom.err"; then
    ok "publisher to a missing room: exit 2, error 426 shown"
else bad "publisher to a missing room: exit $rc: $(cat "$WORK/noroom.err")"; fi

[ $SUBRC = 0 ] && ok "subscriber: exit 0" || bad "subscriber: exit $SUBRC: $(cat "$WORK/sub.err") $(jq -c .errors "$WORK/sub.json")"
expect "subscriber: connected, no errors" "$WORK/sub.json" '.connected and .errors == []'
expect "subscriber: attached streams map mids 0-3 to red + blue (feed_id, feed_display, feed_mid)" \
    "$WORK/sub.json" '.streams["0-attached"] | map(select(.active)) | length == 4
     and (map(.feed_display) | sort) == ["blue", "blue", "red", "red"]
     and (map(.mid) == ["0", "1", "2", "3"]) and (map(.feed_mid) == ["0", "1", "0", "1"])'
expect "subscriber: late publisher followed via subscribe -> updated + offer" "$WORK/sub.json" \
    '[.requests[] | select(.request.request == "subscribe") | .reply] == ["updated"]
     and (.feeds[] | select(.display == "late") | .mids | length) == 2'
expect "subscriber: update sent while an offer is unanswered -> \"updating\" (no jsep)" \
    "$WORK/sub.json" '[.requests[] | select(.request.request == "update")][0]
     | .reply.videoroom == "updating" and .jsep == null'
expect "subscriber: Janus-initiated offers (unsolicited updated) after unpublish" "$WORK/sub.json" \
    '[.subscriber_events[] | select(startswith("updated"))] | length >= 2'
expect "watcher: publishers, unpublished and leaving events" "$WORK/sub.json" \
    '.watcher_events as $e | ($e | index("event:publishers")) and ($e | index("event:unpublished"))
     and ($e | index("event:leaving")) and .publishers_left == []'
expect "offers: full ICE, BUNDLE, setup actpass, port 9, 1 host candidate, sendonly or inactive (no ssrc)" \
    "$WORK/sub.json" '.offers | all(.ice_lite == false and (.group | startswith("BUNDLE"))
     and (.mlines | all(.setup == "actpass" and .candidates == 1 and .rtcp_mux and .port == 9
     and (.direction == "sendonly" or (.direction == "inactive" and .ssrc == [] and .msid == null)))))'
expect "offers: one a=ssrc per audio m-line, ssrc-group FID (2 ssrc) per video, msid janus janusN" \
    "$WORK/sub.json" '.offers[0].mlines | all(.msid == "janus janus\(.mid)"
     and (if .kind == "audio" then (.ssrc | length) == 1
          else (.ssrc | length) == 2 and (.ssrc_group | length) == 1 end))'

check() { # check NAME FILE CHECK-ARGS...
    local name=$1 file=$2; shift 2
    if [ ! -s "$file" ]; then bad "$name: $file missing"; return; fi
    if python3 "$HERE/check_media.py" "$file" "$@" >"$WORK/${name// /_}.check.json"; then
        ok "$name: $(jq -c '{duration, checks: (.checks | map_values(.detail))}' "$WORK/${name// /_}.check.json")"
    else
        bad "$name: $(cat "$WORK/${name// /_}.check.json")"
    fi
}
check "subscriber red video" "$WORK/sub/sub-red-video.mkv" --no-audio --min-duration 2.5 --colour 255,0,0
check "subscriber red audio" "$WORK/sub/sub-red-audio.mkv" --no-video --min-duration 2.5 --tone 440
check "subscriber blue video" "$WORK/sub/sub-blue-video.mkv" --no-audio --min-duration 2.5 --colour 0,0,255
check "subscriber blue audio" "$WORK/sub/sub-blue-audio.mkv" --no-video --min-duration 2.5 --tone 660
check "subscriber late video" "$WORK/sub/sub-late-video.mkv" --no-audio --colour 0,255,0
check "subscriber late audio" "$WORK/sub/sub-late-audio.mkv" --no-video --tone 880

# 3. Janus's own recordings: videoroom-1234-user-<id>-<usec>-{audio-0,video-1}.mjr
stop_janus
sleep 0.2
if [ -d "/proc/$PID" ] && grep -q janus "/proc/$PID/cmdline" 2>/dev/null; then
    bad "janus pid $PID still running after stop"; else ok "janus stopped"; fi
for name in red blue late; do
    id=$(jq -r .id "$WORK/$name.json")
    secs=$(jq -r .seconds "$WORK/$name.json")
    tone=$(case $name in red) echo 440;; blue) echo 660;; late) echo 880;; esac)
    colour=$(case $name in red) echo 255,0,0;; blue) echo 0,0,255;; late) echo 0,255,0;; esac)
    a=$(ls "$MJR"/videoroom-1234-user-"$id"-*-audio-0.mjr 2>/dev/null | head -1)
    v=$(ls "$MJR"/videoroom-1234-user-"$id"-*-video-1.mjr 2>/dev/null | head -1)
    if [ -n "$a" ] && [ -n "$v" ] && [ "$(ls "$MJR" | grep -c -- "-user-$id-")" = 2 ]; then
        ok "$name: Janus wrote $(basename "$a") + $(basename "$v")"
    else
        bad "$name: .mjr files for publisher $id: $(ls "$MJR")"; continue
    fi
    if timeout 60 janus-pp-rec -o "$v" "$WORK/$name.mjr.webm" >"$WORK/$name.pp.log" 2>&1; then
        dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$WORK/$name.mjr.webm")
        if python3 -c "import sys; sys.exit(abs(float('$dur') - float('$secs')) > 0.5)" 2>/dev/null; then
            ok "$name: janus-pp-rec video .mjr -> .webm, $dur s (published $secs s)"
        else bad "$name: .webm duration '$dur' vs published $secs s"; fi
        check "$name .mjr video" "$WORK/$name.mjr.webm" --no-audio --colour "$colour"
    else bad "$name: janus-pp-rec $v failed: $(tail -3 "$WORK/$name.pp.log")"; fi
    if timeout 60 janus-pp-rec -o "$a" "$WORK/$name.mjr.opus" >>"$WORK/$name.pp.log" 2>&1; then
        check "$name .mjr audio" "$WORK/$name.mjr.opus" --no-video --tone "$tone"
    else bad "$name: janus-pp-rec $a failed"; fi
done

echo "janus-selftest: $PASS passed, $FAIL failed"
[ $FAIL = 0 ]
