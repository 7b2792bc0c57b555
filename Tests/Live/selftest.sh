#!/usr/bin/env bash
# Self-test of the live-test tools against an aiortc WHIP answerer; no flowrec.
# Runs inside a private network namespace (unshare --net, needs root):
#   lo + veth pair v0 10.99.0.1 <-> v1 10.99.0.2; answerer HTTP on
#   10.99.0.1:8080, its ICE on 10.99.0.1:40000; publisher ICE on 10.99.0.2;
#   relay on 10.99.0.1:41000.
# Usage: Tests/Live/selftest.sh [WORKDIR]    (WORKDIR keeps logs and recordings)
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"

if [ "${FLOWREC_LIVE_NETNS:-}" != 1 ]; then
    exec env FLOWREC_LIVE_NETNS=1 timeout 300 unshare --net bash "$0" "$@"
fi

WORK="${1:-$(mktemp -d /tmp/flowrec-live-selftest.XXXXXX)}"
mkdir -p "$WORK"
echo "selftest: work dir $WORK"

ip link set lo up
ip link add v0 type veth peer name v1
ip addr add 10.99.0.1/24 dev v0
ip addr add 10.99.0.2/24 dev v1
ip link set v0 up
ip link set v1 up

PASS=0
FAIL=0
ok()   { PASS=$((PASS + 1)); echo "PASS  $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL  $*"; }
expect() { # expect NAME JSONFILE JQ-EXPR
    if jq -e "$3" "$2" >/dev/null 2>&1; then ok "$1"; else bad "$1 ($3) in $(head -c 600 "$2")"; fi
}

TOKEN=selftest-token
URL=http://10.99.0.1:8080/whip
python3 "$HERE/aiortc_whip_answerer.py" --listen 10.99.0.1:8080 --udp-port 40000 \
    --ice-host 10.99.0.1 --record-dir "$WORK/rec" --token "$TOKEN" --seconds 240 \
    --log "$WORK/answerer.log" >"$WORK/answerer.json" 2>"$WORK/answerer.err" &
ANSWERER=$!

for _ in $(seq 100); do
    (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break
    sleep 0.1
done

publish() { # publish NAME ARGS... -> $WORK/NAME.json, returns the exit code
    local name=$1; shift
    timeout 60 python3 "$HERE/whip_publish.py" "$@" --ice-host 10.99.0.2 \
        --log "$WORK/$name.log" >"$WORK/$name.json" 2>"$WORK/$name.err"
}

check_recording() { # check_recording NAME ROOM CHECK-ARGS...
    local name=$1 room=$2; shift 2
    local file
    file=$(ls -t "$WORK"/rec/"$room"-*.mkv 2>/dev/null | head -1)
    if [ -z "$file" ]; then bad "$name: no recording for room $room"; return; fi
    if python3 "$HERE/check_media.py" "$file" "$@" >"$WORK/$name.check.json"; then
        ok "$name: recording $(jq -c '{duration, checks: (.checks | map_values(.detail))}' "$WORK/$name.check.json")"
    else
        bad "$name: recording $(cat "$WORK/$name.check.json")"
    fi
}

# 1. direct
publish direct "$URL/direct" --seconds 4 --tone 440 --colour 255,0,0 --token "$TOKEN"
rc=$?
[ $rc = 0 ] && ok "direct: exit 0" || bad "direct: exit $rc: $(cat "$WORK/direct.err")"
expect "direct: connected, frames sent, DELETE 200" "$WORK/direct.json" \
    '.connected and .audio_frames_sent > 150 and .video_frames_sent > 90 and .delete_status == 200'
expect "direct: outbound packets counted" "$WORK/direct.json" \
    '.stats.audio.packetsSent > 150 and .stats.video.packetsSent > 90'
check_recording direct direct --min-duration 3 --colour 255,0,0 --tone 440

# 2. through the lossy relay (10 % of RTP dropped); both SDPs point at the relay
# so the answerer's own (full ICE) checks cannot bypass it. --noise makes video
# frames span several packets.
python3 "$HERE/udp_impair.py" --listen 10.99.0.1:41000 --forward 10.99.0.1:40000 \
    --seconds 16 --loss 0.1 --media-only --seed 7 >"$WORK/relay.json" 2>"$WORK/relay.err" &
RELAY=$!
sleep 0.5
publish lossy "$URL/lossy" --seconds 4 --tone 440 --colour 255,0,0 --noise --token "$TOKEN" \
    --answer-candidate-rewrite 10.99.0.1:41000 --offer-candidate-rewrite 10.99.0.1:41000
rc=$?
[ $rc = 0 ] && ok "lossy: exit 0" || bad "lossy: exit $rc: $(cat "$WORK/lossy.err")"
expect "lossy: connected" "$WORK/lossy.json" '.connected'
expect "lossy: recorder NACKed video" "$WORK/lossy.json" '.stats.video.nackCount > 0'
check_recording lossy lossy --min-duration 3 --colour 255,0,0 --tone 440
wait $RELAY
expect "lossy: relay carried and dropped RTP, passed STUN/DTLS" "$WORK/relay.json" \
    '.client_to_forward.dropped > 10 and .client_to_forward.kinds.rtp > 200
     and .client_to_forward.kinds.stun > 0 and .client_to_forward.kinds.dtls > 0
     and .forward_to_client.forwarded > 0'

# 3. VP9
publish vp9 "$URL/vp9" --seconds 3 --tone 600 --colour 0,0,255 --video-codec vp9 --token "$TOKEN"
rc=$?
[ $rc = 0 ] && ok "vp9: exit 0" || bad "vp9: exit $rc: $(cat "$WORK/vp9.err")"
if grep -q "a=rtpmap:[0-9]* VP9/90000" "$WORK/vp9.log" && ! grep -q "VP8/90000" "$WORK/vp9.log"; then
    ok "vp9: offer lists VP9 and not VP8"; else bad "vp9: offer codecs"; fi
check_recording vp9 vp9 --min-duration 2 --colour 0,0,255 --tone 600

# 4. forced DTLS roles
for role in client server; do
    publish "dtls-$role" "$URL/dtls-$role" --seconds 1 --no-video --token "$TOKEN" --dtls-role $role
    rc=$?
    want=$([ $role = client ] && echo passive || echo active)
    [ $rc = 0 ] && ok "dtls-$role: exit 0" || bad "dtls-$role: exit $rc: $(cat "$WORK/dtls-$role.err")"
    expect "dtls-$role: answer setup $want, our role $role" "$WORK/dtls-$role.json" \
        ".answer_setup == \"$want\" and .dtls_role == \"$role\""
done

# 5. signalling errors are reported
publish badtoken "$URL/badtoken" --seconds 1 --token wrong
rc=$?
if [ $rc = 2 ] && grep -q "HTTP 401" "$WORK/badtoken.err"; then ok "bad token: exit 2, HTTP 401 shown"
else bad "bad token: exit $rc: $(cat "$WORK/badtoken.err")"; fi

# 6. the relay on plain UDP: loss, reorder, jitter; STUN/RTCP untouched; replies
python3 "$HERE/udp_impair.py" --listen 10.99.0.1:42000 --forward 10.99.0.2:42001 \
    --seconds 5 --loss 0.2 --reorder 0.1 --jitter-ms 5 --seed 3 --media-only \
    >"$WORK/relay2.json" 2>"$WORK/relay2.err" &
RELAY=$!
sleep 0.5
if timeout 20 python3 "$HERE/udp_impair_check.py" --relay 10.99.0.1:42000 \
        --sink 10.99.0.2:42001 >"$WORK/relay2-check.json"; then
    ok "relay on plain UDP: $(cat "$WORK/relay2-check.json")"
else
    bad "relay on plain UDP: $(cat "$WORK/relay2-check.json")"
fi
wait $RELAY
expect "relay on plain UDP: its counts add up" "$WORK/relay2.json" \
    '.client_to_forward | .received == 480 and .dropped > 40 and .reordered > 10
     and .forwarded == .received - .dropped and .kinds.stun == 40 and .kinds.rtcp == 40'

kill -TERM $ANSWERER 2>/dev/null
wait $ANSWERER
expect "answerer: every session deleted" "$WORK/answerer.json" \
    '[.sessions[] | .deleted] | all and length == 5'

echo "selftest: $PASS passed, $FAIL failed"
[ $FAIL = 0 ]
