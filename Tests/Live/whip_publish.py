#!/usr/bin/env python3
"""WHIP publisher (RFC 9725) built on aiortc, for flowrec's end-to-end tests.

    whip_publish.py URL --seconds S [--tone HZ] [--colour R,G,B] [--size WxH]
        [--fps N] [--noise] [--token T] [--video-codec vp8|vp9] [--no-audio] [--no-video]
        [--answer-candidate-rewrite IP:PORT] [--offer-candidate-rewrite IP:PORT]
        [--ice-host IP[,IP...]] [--start-delay S] [--dtls-role auto|client|server]
        [--log FILE] [--debug] [--twcc-log FILE] [--forge-dtls-at S] [--post-without-candidates]

Sends a sine tone (opus) and a solid-colour picture with a moving white square
(VP8, or VP9 via vp9_rtp.py), stays up S seconds after the connection state
becomes "connected", DELETEs the resource and prints one JSON line.

Exit codes: 0 ok, 2 signalling failed (HTTP error, bad answer), 3 not
connected within 15 s, 4 the connection failed/closed before S seconds ran.

Notes on aiortc 1.16 behaviour that matter here:
  * No STUN: RTCConfiguration(iceServers=[]) (aiortc would otherwise use Google's).
  * aioice never gathers 127.0.0.1 as a host candidate. Against a recorder on
    loopback pass --ice-host 127.0.0.1 (this script then gathers only there).
  * DTLS: aiortc always offers a=setup:actpass and takes the role the answer
    implies. --dtls-role client|server rewrites the offer's setup line to
    active|passive so the recorder is forced into the other role.
  * --answer-candidate-rewrite points our ICE checks at a relay. If the
    recorder does full ICE (sends its own checks) also pass
    --offer-candidate-rewrite with the same relay address, or its checks reach
    us directly and the media can bypass the relay.
"""

import argparse
import asyncio
import fractions
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import av
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiortc import (  # noqa: E402
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from aiortc.rtp import (  # noqa: E402
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
)

CONNECT_TIMEOUT = 15.0
HTTP_TIMEOUT = 10.0
log = logging.getLogger("whip_publish")


class ToneTrack(MediaStreamTrack):
    """48 kHz mono s16 sine, 20 ms frames, paced by the wall clock."""

    kind = "audio"

    def __init__(self, hz: float, amplitude: float = 0.3) -> None:
        super().__init__()
        self.rate = 48000
        self.samples = 960
        self.step = 2 * np.pi * hz / self.rate
        self.amplitude = amplitude * 32767
        self.phase = 0.0
        self.sent = 0
        self.start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        pts = self.sent * self.samples
        if self.start is None:
            self.start = time.monotonic()
        else:
            delay = self.start + pts / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        phases = self.phase + self.step * np.arange(self.samples)
        self.phase = float((self.phase + self.step * self.samples) % (2 * np.pi))
        data = (self.amplitude * np.sin(phases)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self.sent += 1
        return frame


class ColourTrack(MediaStreamTrack):
    """Solid colour with a white square sliding across, 90 kHz pts."""

    kind = "video"

    def __init__(self, colour, width: int, height: int, fps: float,
                 noise: bool = False) -> None:
        super().__init__()
        self.fps = fps
        self.noise = noise
        self.rng = np.random.default_rng(1)
        self.base = np.empty((height, width, 3), dtype=np.uint8)
        self.base[:, :] = colour
        self.square = max(8, min(width, height) // 9)
        self.sent = 0
        self.start = None

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            delay = self.start + self.sent / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        h, w, _ = self.base.shape
        s = self.square
        img = self.base.copy()
        x = (self.sent * 4) % max(1, w - s)
        y = (h - s) // 2
        img[y:y + s, x:x + s] = 255
        if self.noise:  # bottom eighth: random pixels, so frames span several packets
            band = img[h - h // 8:]
            band[:] = self.rng.integers(0, 256, band.shape, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = int(round(self.sent * 90000 / self.fps))
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


async def wait_connected(pc, connected, name: str) -> bool:
    """Waits up to CONNECT_TIMEOUT for `connected`; says why on stderr when it does not come."""
    try:
        await asyncio.wait_for(connected.wait(), CONNECT_TIMEOUT)
        return True
    except asyncio.TimeoutError:
        print(f"{name}: not connected within {CONNECT_TIMEOUT:.0f} s "
              f"(state {pc.connectionState}, ice {pc.iceConnectionState})",
              file=sys.stderr)
        return False


def count_rtcp(sender, counters: dict) -> None:
    """Count the RTCP feedback aiortc routes to this sender (its stats lack it)."""
    original = sender._handle_rtcp_packet

    async def handle(packet):
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            counters["nackCount"] += 1
            counters["nackedPackets"] += len(packet.lost)
        elif isinstance(packet, RtcpPsfbPacket):
            key = {RTCP_PSFB_PLI: "pliCount", RTCP_PSFB_FIR: "firCount",
                   RTCP_PSFB_APP: "rembCount"}.get(packet.fmt)
            if key:
                counters[key] += 1
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            counters["receiverReports"] += 1
        await original(packet)

    sender._handle_rtcp_packet = handle


def rewrite_candidates(sdp: str, ip: str, port: int) -> str:
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) >= 6:
                parts[4], parts[5] = ip, str(port)
                line = " ".join(parts)
        out.append(line)
    return "\r\n".join(out) + "\r\n"


def http(method: str, url: str, body: bytes = None, token: str = None,
         content_type: str = None):
    """Blocking HTTP request; returns (status, headers, body text). Never raises HTTPError."""
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def parse_addr(text: str):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected IP:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def parse_colour(text: str):
    parts = [int(x) for x in text.split(",")]
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise argparse.ArgumentTypeError("expected R,G,B with 0..255 components")
    return parts


def parse_size(text: str):
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or int(m[1]) % 2 or int(m[2]) % 2:
        raise argparse.ArgumentTypeError("expected WxH with even numbers, e.g. 640x360")
    return int(m[1]), int(m[2])


def restrict_host_candidates(ips) -> None:
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(ips)


def log_to_file(path, debug=False) -> None:
    """aiortc/aioice logs (and the tool's own) into `path`; DEBUG is per packet."""
    logging.basicConfig(filename=path, filemode="w", level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


async def run(args) -> int:
    loop = asyncio.get_running_loop()
    result = {"connected": False, "seconds": 0.0, "audio_frames_sent": 0,
              "video_frames_sent": 0, "location": None, "stats": {}}
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    counters = {}
    connected = asyncio.Event()
    ended = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state():
        log.info("connection state %s", pc.connectionState)
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("failed", "closed"):
            ended.set()

    audio = video = None
    if not args.no_audio:
        audio = ToneTrack(args.tone)
        t = pc.addTransceiver(audio, direction="sendonly")
        caps = RTCRtpSender.getCapabilities("audio").codecs
        t.setCodecPreferences([c for c in caps if c.mimeType.lower() == "audio/opus"])
        counters["audio"] = dict.fromkeys(
            ("nackCount", "nackedPackets", "pliCount", "firCount", "rembCount",
             "receiverReports"), 0)
        count_rtcp(t.sender, counters["audio"])
    if not args.no_video:
        video = ColourTrack(args.colour, *args.size, args.fps, args.noise)
        t = pc.addTransceiver(video, direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video").codecs
        want = f"video/{args.video_codec}"
        prefs = [c for c in caps if c.mimeType.lower() == want]
        prefs += [c for c in caps if c.mimeType.lower() == "video/rtx"]
        t.setCodecPreferences(prefs)
        counters["video"] = dict.fromkeys(
            ("nackCount", "nackedPackets", "pliCount", "firCount", "rembCount",
             "receiverReports"), 0)
        count_rtcp(t.sender, counters["video"])

    location = None

    async def delete_resource():
        if location:
            status, _, body = await loop.run_in_executor(
                None, http, "DELETE", location, None, args.token)
            result["delete_status"] = status
            log.info("DELETE %s -> %s %s", location, status, body[:200])

    def finish(code: int) -> int:
        result["audio_frames_sent"] = audio.sent if audio else 0
        result["video_frames_sent"] = video.sent if video else 0
        print(json.dumps(result), flush=True)
        return code

    try:
        if args.start_delay > 0:
            await asyncio.sleep(args.start_delay)
        # aiortc gathers all host candidates inside setLocalDescription.
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        if args.dtls_role != "auto":
            setup = {"client": "active", "server": "passive"}[args.dtls_role]
            offer = offer.replace("a=setup:actpass", f"a=setup:{setup}")
        if args.offer_candidate_rewrite:
            offer = rewrite_candidates(offer, *args.offer_candidate_rewrite)
        if args.post_without_candidates:
            offer = "".join(line for line in offer.splitlines(True) if not line.startswith("a=candidate:"))
        log.info("offer:\n%s", offer)

        status, headers, body = await loop.run_in_executor(
            None, http, "POST", args.url, offer.encode(), args.token, "application/sdp")
        result["post_status"] = status
        if headers is not None and headers.get("Location"):
            location = urllib.parse.urljoin(args.url, headers["Location"])
            result["location"] = location
        if status != 201:
            print(f"whip_publish: POST {args.url} -> HTTP {status}: {body.strip()[:500]}",
                  file=sys.stderr)
            await delete_resource()
            return finish(2)
        if not location:
            print("whip_publish: 201 without a Location header", file=sys.stderr)
        result["etag"] = headers.get("ETag")
        if args.post_without_candidates:  # an offer that can never connect: leave it there and go
            return finish(0)
        answer = body
        log.info("answer:\n%s", answer)
        m = re.search(r"^a=setup:(\S+)", answer, re.M)
        result["answer_setup"] = m[1] if m else None
        result["answer_ice_lite"] = bool(re.search(r"^a=ice-lite", answer, re.M))
        if args.answer_candidate_rewrite:
            answer = rewrite_candidates(answer, *args.answer_candidate_rewrite)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as e:  # aiortc raises ValueError & co. on bad SDP
            print(f"whip_publish: answer rejected by aiortc: {e!r}", file=sys.stderr)
            await delete_resource()
            return finish(2)

        if not await wait_connected(pc, connected, "whip_publish"):
            await delete_resource()
            return finish(3)
        result["connected"] = True
        for t in pc.getTransceivers():
            result["dtls_role"] = t.sender.transport._role
            break

        started = time.monotonic()
        if args.forge_dtls_at is not None:
            asyncio.ensure_future(forge_dtls_records(pc, args.forge_dtls_at, result))
        try:
            await asyncio.wait_for(ended.wait(), args.seconds)
        except asyncio.TimeoutError:
            pass
        result["seconds"] = round(time.monotonic() - started, 3)
        code = 0
        if ended.is_set():
            print(f"whip_publish: connection {pc.connectionState} after "
                  f"{result['seconds']} s", file=sys.stderr)
            code = 4

        stats = {}
        for kind_counters_kind, c in counters.items():
            stats[kind_counters_kind] = dict(c)
        report = await pc.getStats()
        for s in report.values():
            kind = getattr(s, "kind", None)
            if s.type == "outbound-rtp":
                stats.setdefault(kind, {}).update(
                    packetsSent=s.packetsSent, bytesSent=s.bytesSent, ssrc=s.ssrc)
            elif s.type == "remote-inbound-rtp":
                stats.setdefault(kind, {}).update(
                    remotePacketsLost=s.packetsLost, remoteFractionLost=s.fractionLost,
                    remoteJitter=s.jitter, roundTripTime=s.roundTripTime)
            elif s.type == "transport":
                stats["transport"] = {"packetsSent": s.packetsSent,
                                      "packetsReceived": s.packetsReceived,
                                      "bytesSent": s.bytesSent,
                                      "bytesReceived": s.bytesReceived}
        result["stats"] = stats
        await delete_resource()
        return finish(code)
    finally:
        try:
            await asyncio.wait_for(pc.close(), 5)
        except asyncio.TimeoutError:
            log.warning("pc.close() timed out")


def forged_dtls_records():
    """DTLS 1.2 record headers with bodies that cannot authenticate: every content type in 20..25
    and 63, epochs 0, 1, 2 and 65535, bodies of 0 to 40 bytes (the issue's 15-byte datagram is
    type 21..23, epoch 1, a 2-byte body)."""
    for ctype in (20, 21, 22, 23, 24, 25, 63):
        for epoch in (0, 1, 2, 0xFFFF):
            for length in (0, 1, 2, 3, 8, 16, 24, 40):
                body = bytes([2, 40] + [0x5A] * (length - 2)) if length >= 2 else bytes([2] * length)
                yield (bytes([ctype, 0xFE, 0xFD, epoch >> 8, epoch & 0xFF, 0, 0, 0, 0, 0, 9,
                              length >> 8, length & 0xFF]) + body)


async def forge_dtls_records(pc, at, result):
    """At `at` seconds, sends the forged records over the selected ICE pair: the recorder sees them
    from the publisher's own address and port, as an attacker spoofing it would make them arrive."""
    await asyncio.sleep(at)
    sent = 0
    for t in pc.getTransceivers():
        connection = t.sender.transport.transport._connection  # aioice.Connection
        for record in forged_dtls_records():
            await connection.send(record)
            sent += 1
        break
    result["forged_dtls_records"] = sent


def main() -> int:
    p = argparse.ArgumentParser(description="WHIP publisher (aiortc) for flowrec tests")
    p.add_argument("url")
    p.add_argument("--seconds", type=float, required=True,
                   help="how long to publish once connected")
    p.add_argument("--tone", type=float, default=440.0, help="sine frequency in Hz")
    p.add_argument("--colour", "--color", type=parse_colour, default=[255, 0, 0])
    p.add_argument("--size", type=parse_size, default=(640, 360))
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--noise", action="store_true",
                   help="random pixels in the bottom eighth (multi-packet video frames)")
    p.add_argument("--token", help="bearer token for the Authorization header")
    p.add_argument("--video-codec", choices=("vp8", "vp9"), default="vp8")
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--no-video", action="store_true")
    p.add_argument("--answer-candidate-rewrite", type=parse_addr, metavar="IP:PORT",
                   help="replace every answer a=candidate address (e.g. with a relay)")
    p.add_argument("--offer-candidate-rewrite", type=parse_addr, metavar="IP:PORT",
                   help="replace every a=candidate address in the offer we POST")
    p.add_argument("--ice-host", metavar="IP[,IP...]",
                   help="gather host candidates only on these addresses")
    p.add_argument("--start-delay", type=float, default=0.0,
                   help="sleep this long before creating the offer")
    p.add_argument("--dtls-role", choices=("auto", "client", "server"), default="auto",
                   help="auto: offer actpass and let the recorder choose; client/server: "
                        "offer active/passive")
    p.add_argument("--log", metavar="FILE", help="write aiortc/aioice logs here")
    p.add_argument("--twcc-log", metavar="FILE",
                   help="offer transport-cc, number every packet, and log the recorder's RTCP (hex) to FILE "
                        "and each packet's transport-wide sequence number and send time to FILE.sent (twcc_capture.py)")
    p.add_argument("--debug", action="store_true", help="DEBUG level logs (per packet)")
    p.add_argument("--post-without-candidates", action="store_true",
                   help="POST the offer without its candidates, print the status and exit (no DELETE)")
    p.add_argument("--forge-dtls-at", type=float, metavar="S",
                   help="S s after connecting, send forged DTLS records from our own address and port")
    args = p.parse_args()
    if args.no_audio and args.no_video:
        p.error("nothing to send: --no-audio and --no-video together")
    if args.seconds < 0 or args.seconds > 3600:
        p.error("--seconds must be within 0..3600")
    if args.log:
        log_to_file(args.log, args.debug)
    if args.ice_host:
        restrict_host_candidates(args.ice_host.split(","))
    if args.video_codec == "vp9":
        import vp9_rtp
        vp9_rtp.register()
    if args.twcc_log:
        import twcc_capture
        twcc_capture.install(args.twcc_log)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
