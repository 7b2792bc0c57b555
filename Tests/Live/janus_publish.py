#!/usr/bin/env python3
"""Janus VideoRoom publisher built on aiortc, speaking the Janus API over HTTP.

    janus_publish.py URL --room 1234 --display NAME --seconds S [--tone HZ]
        [--colour R,G,B] [--size WxH] [--fps N] [--start-delay S] [--pin P]
        [--ice-host IP[,IP...]] [--events FILE] [--answer-file FILE]
        [--log FILE] [--debug]

URL is the REST base, e.g. http://10.99.0.1:8088/janus. Flow: create session ->
attach janus.plugin.videoroom -> {"request":"join","ptype":"publisher",...} ->
"joined" -> offer (sendonly opus + VP8: sine tone, solid colour with a moving
white square, the tracks of whip_publish.py; all host candidates inline) ->
{"request":"configure","audio":true,"video":true} + jsep offer -> jsep answer
in the "configured" event -> trickle {"completed":true} -> stay S seconds after
"connected" -> {"request":"unpublish"} -> {"request":"leave"} -> detach ->
destroy. Events are long-polled (GET URL/{session}?maxev=1) in a thread, a
keepalive goes out every 20 s (janus_api.py). --events writes every Janus
message in/out as JSON lines.

Prints one JSON line: connected, id (publisher id from "joined"), private_id,
seconds, audio/video_frames_sent, answer facts, Janus events seen.
Exit codes: 0 ok, 2 Janus error / bad answer, 3 not connected within 15 s,
4 connection failed or Janus hung up before S seconds ran.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiortc import (  # noqa: E402
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from janus_api import JanusError, JanusSession, plugin_data  # noqa: E402
from whip_publish import (  # noqa: E402
    ColourTrack,
    ToneTrack,
    count_rtcp,
    log_to_file,
    parse_colour,
    parse_size,
    restrict_host_candidates,
    wait_connected,
)

log = logging.getLogger("janus_publish")


async def run(args) -> int:
    result = {"connected": False, "room": args.room, "display": args.display, "id": None,
              "private_id": None, "seconds": 0.0, "audio_frames_sent": 0,
              "video_frames_sent": 0, "events": []}
    trace = open(args.events, "w") if args.events else None
    janus = JanusSession(args.url, trace=trace, log=log)
    pc = RTCPeerConnection(RTCConfiguration(
        iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    connected, ended = asyncio.Event(), asyncio.Event()
    audio = ToneTrack(args.tone)
    video = ColourTrack(args.colour, *args.size, args.fps)
    handle = None

    @pc.on("connectionstatechange")
    def on_state():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("failed", "closed"):
            ended.set()

    def on_other(ev):
        """Unsolicited events on our handle: webrtcup, media, hangup, room events."""
        kind = ev.get("janus")
        data = plugin_data(ev)
        tag = kind if kind != "event" else "event:" + ",".join(
            k for k in data if k not in ("videoroom", "room"))
        result["events"].append(tag)
        if kind == "hangup":
            log.warning("Janus hung up: %s", ev.get("reason"))
            result["hangup"] = ev.get("reason")
            ended.set()

    async def drain_events():
        # unsolicited events of our handle (replies to requests go to send())
        while True:
            on_other(await janus.wait_event(handle, timeout=3600))

    def finish(code: int) -> int:
        result["audio_frames_sent"] = audio.sent
        result["video_frames_sent"] = video.sent
        print(json.dumps(result), flush=True)
        return code

    feedback = {}
    for track, codecs in ((audio, ("audio/opus",)), (video, ("video/vp8", "video/rtx"))):
        t = pc.addTransceiver(track, direction="sendonly")
        t.setCodecPreferences([c for c in RTCRtpSender.getCapabilities(track.kind).codecs
                               if c.mimeType.lower() in codecs])
        feedback[track.kind] = dict.fromkeys(("nackCount", "nackedPackets", "pliCount",
                                              "firCount", "rembCount", "receiverReports"), 0)
        count_rtcp(t.sender, feedback[track.kind])

    drainer = None
    code = 0
    try:
        if args.start_delay > 0:
            await asyncio.sleep(args.start_delay)
        try:
            result["session"] = await janus.create()
            handle = result["handle"] = await janus.attach("janus.plugin.videoroom")
            drainer = asyncio.ensure_future(drain_events())
            join = {"request": "join", "ptype": "publisher", "room": args.room,
                    "display": args.display}
            if args.pin:
                join["pin"] = args.pin
            ev = await janus.send(handle, join, expect=("joined",))
            data = plugin_data(ev)
            result["id"], result["private_id"] = data.get("id"), data.get("private_id")
            result["publishers_at_join"] = [p.get("id") for p in data.get("publishers", [])]

            # aiortc gathers every host candidate inside setLocalDescription
            await pc.setLocalDescription(await pc.createOffer())
            offer = pc.localDescription
            log.info("offer:\n%s", offer.sdp)
            ev = await janus.send(handle, {"request": "configure", "audio": True, "video": True},
                                  jsep={"type": offer.type, "sdp": offer.sdp},
                                  expect=("configured",))
            jsep = ev.get("jsep")
            if not jsep or jsep.get("type") != "answer":
                raise JanusError(f"configure: no jsep answer in {ev}")
            answer = jsep["sdp"]
            log.info("answer:\n%s", answer)
            if args.answer_file:
                with open(args.answer_file, "w") as f:
                    f.write(answer)
            m = re.search(r"^a=setup:(\S+)", answer, re.M)
            result["answer_setup"] = m[1] if m else None
            result["answer_ice_lite"] = bool(re.search(r"^a=ice-lite", answer, re.M))
            result["answer_candidates"] = len(re.findall(r"^a=candidate:", answer, re.M))
            result["configured_streams"] = plugin_data(ev).get("streams")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            except Exception as e:
                raise JanusError(f"answer rejected by aiortc: {e!r}") from None
            await janus.trickle_completed(handle)
        except JanusError as e:
            print(f"janus_publish: {e}", file=sys.stderr)
            return finish(2)

        if not await wait_connected(pc, connected, "janus_publish"):
            return finish(3)
        result["connected"] = True
        started = time.monotonic()
        try:
            await asyncio.wait_for(ended.wait(), args.seconds)
        except asyncio.TimeoutError:
            pass
        result["seconds"] = round(time.monotonic() - started, 3)
        if ended.is_set():
            print(f"janus_publish: connection {pc.connectionState} / hangup "
                  f"{result.get('hangup')} after {result['seconds']} s", file=sys.stderr)
            code = 4
        result["stats"] = feedback      # RTCP feedback Janus sent us (PLI on new subscribers)
        report = await pc.getStats()
        for s in report.values():
            if s.type == "outbound-rtp":
                feedback[s.kind].update(packetsSent=s.packetsSent, bytesSent=s.bytesSent,
                                        ssrc=s.ssrc)
        try:
            ev = await janus.send(handle, {"request": "unpublish"}, expect=("unpublished",))
            result["unpublished"] = plugin_data(ev).get("unpublished")
            ev = await janus.send(handle, {"request": "leave"}, expect=("leaving",))
            result["left"] = plugin_data(ev).get("leaving")
        except JanusError as e:
            print(f"janus_publish: {e}", file=sys.stderr)
            code = code or 2
        return finish(code)
    finally:
        if drainer:
            drainer.cancel()
        try:
            await asyncio.wait_for(pc.close(), 5)
        except asyncio.TimeoutError:
            log.warning("pc.close() timed out")
        try:
            if handle is not None:
                await janus.detach(handle)
            await janus.destroy()
        except JanusError as e:
            log.warning("teardown: %s", e)
        if trace:
            trace.close()


def main() -> int:
    p = argparse.ArgumentParser(description="Janus VideoRoom publisher (aiortc, HTTP API)")
    p.add_argument("url", help="Janus REST base, e.g. http://10.99.0.1:8088/janus")
    p.add_argument("--room", type=int, default=1234)
    p.add_argument("--display", default="aiortc")
    p.add_argument("--seconds", type=float, required=True,
                   help="how long to publish once connected")
    p.add_argument("--tone", type=float, default=440.0, help="sine frequency in Hz")
    p.add_argument("--colour", "--color", type=parse_colour, default=[255, 0, 0])
    p.add_argument("--size", type=parse_size, default=(640, 360))
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--start-delay", type=float, default=0.0,
                   help="sleep this long before creating the session")
    p.add_argument("--pin", help="room PIN")
    p.add_argument("--ice-host", metavar="IP[,IP...]",
                   help="gather host candidates only on these addresses")
    p.add_argument("--events", metavar="FILE", help="write all Janus messages (JSON lines)")
    p.add_argument("--answer-file", metavar="FILE", help="save Janus's SDP answer here")
    p.add_argument("--log", metavar="FILE", help="write aiortc/aioice logs here")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args()
    if args.seconds < 0 or args.seconds > 3600:
        p.error("--seconds must be within 0..3600")
    if args.log:
        log_to_file(args.log, args.debug)
    if args.ice_host:
        restrict_host_candidates(args.ice_host.split(","))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
