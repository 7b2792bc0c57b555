#!/usr/bin/env python3
"""Minimal WHIP endpoint (answerer) built on aiortc: a reference peer for tests.

    aiortc_whip_answerer.py --listen IP:PORT --record-dir DIR --seconds S
        [--udp-port N] [--ice-host IP[,IP...]] [--token T] [--ext mkv] [--log FILE]

  POST   /whip/{room}        application/sdp offer -> 201 + answer, Location
                             /whip/{room}/{id}; records with aiortc's
                             MediaRecorder to DIR/{room}-{n}.{ext}
                             (mkv: H.264 ultrafast + AAC)
  DELETE /whip/{room}/{id}   stops the recording, closes the peer -> 200
  GET    /status             JSON: sessions, files, RTCP feedback it sent
  OPTIONS *                  204 with CORS headers (for Samples/whip-publisher.html)

--udp-port binds the ICE socket to a fixed port (so a relay can be pointed at
it before the session exists; falls back to an ephemeral port when busy).
aiortc answers a=setup:active to actpass, passive to an active offer, active
to a passive one. After S seconds (or SIGTERM/SIGINT) everything is stopped and one JSON line
describing the sessions is printed.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRecorder  # noqa: E402

import vp9_rtp  # noqa: E402
from whip_publish import log_to_file, restrict_host_candidates  # noqa: E402

log = logging.getLogger("answerer")
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           415: "Unsupported Media Type", 500: "Internal Server Error"}
CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
        "Access-Control-Expose-Headers": "Location, ETag, Link"}


class Session:
    def __init__(self, room: str, sid: str, path: str):
        self.room, self.id, self.path = room, sid, path
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.recorder = MediaRecorder(path)
        self.kinds = []
        self.state = "new"
        self.created = time.time()
        self.deleted = False
        self.offer_setup = self.answer_setup = None
        self.feedback = {"nack": 0, "nacked_packets": 0, "pli": 0}
        self._stopped = False

    async def stop(self):
        if self._stopped:
            return
        self._stopped = True
        try:
            await asyncio.wait_for(self.recorder.stop(), 10)
        except Exception as e:
            log.warning("recorder stop for %s: %r", self.id, e)
        try:
            await asyncio.wait_for(self.pc.close(), 5)
        except Exception as e:
            log.warning("pc close for %s: %r", self.id, e)

    def describe(self):
        return {"id": self.id, "room": self.room, "file": self.path, "kinds": self.kinds,
                "state": self.state, "deleted": self.deleted,
                "offer_setup": self.offer_setup, "answer_setup": self.answer_setup,
                "feedback_sent": self.feedback,
                "file_bytes": os.path.getsize(self.path) if os.path.exists(self.path) else 0}


def setup_of(sdp: str):
    for line in sdp.splitlines():
        if line.startswith("a=setup:"):
            return line[8:].strip()
    return None


def count_feedback(receiver, feedback):
    nack, pli = receiver._send_rtcp_nack, receiver._send_rtcp_pli

    async def send_nack(media_ssrc, lost):
        feedback["nack"] += 1
        feedback["nacked_packets"] += len(lost)
        await nack(media_ssrc, lost)

    async def send_pli(media_ssrc):
        feedback["pli"] += 1
        await pli(media_ssrc)

    receiver._send_rtcp_nack, receiver._send_rtcp_pli = send_nack, send_pli


def tune_recorder(recorder: MediaRecorder, track):
    """MediaRecorder uses libx264's default preset; far too slow next to a build."""
    ctx = recorder._MediaRecorder__tracks.get(track)
    if ctx is not None and ctx.stream.codec_context.name == "libx264":
        ctx.stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}


class Server:
    def __init__(self, args):
        self.args = args
        self.sessions = {}
        self.counter = 0

    async def answer(self, room: str, offer: str):
        self.counter += 1
        sid = uuid.uuid4().hex[:12]
        path = os.path.join(self.args.record_dir, f"{room}-{self.counter}.{self.args.ext}")
        s = Session(room, sid, path)
        self.sessions[sid] = s
        s.offer_setup = setup_of(offer)

        @s.pc.on("track")
        def on_track(track):
            s.kinds.append(track.kind)
            s.recorder.addTrack(track)
            tune_recorder(s.recorder, track)

        @s.pc.on("connectionstatechange")
        async def on_state():
            s.state = s.pc.connectionState
            log.info("session %s: %s", sid, s.state)
            if s.state in ("failed", "closed"):
                await s.stop()

        await s.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for t in s.pc.getTransceivers():
            count_feedback(t.receiver, s.feedback)
        await s.pc.setLocalDescription(await s.pc.createAnswer())
        await s.recorder.start()
        answer = s.pc.localDescription.sdp
        s.answer_setup = setup_of(answer)
        log.info("session %s offer:\n%s\nanswer:\n%s", sid, offer, answer)
        return s, answer

    async def route(self, method, path, headers, body):
        parts = [p for p in path.split("/") if p]
        if method == "OPTIONS":
            return 204, {}, b""
        if method == "GET" and parts == ["status"]:
            doc = {"sessions": [s.describe() for s in self.sessions.values()]}
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        if not parts or parts[0] != "whip" or len(parts) not in (2, 3):
            return 404, {}, b"not found\n"
        if self.args.token and headers.get("authorization") != f"Bearer {self.args.token}":
            return 401, {}, b"missing or wrong bearer token\n"
        if len(parts) == 2:
            if method != "POST":
                return 405, {"Allow": "POST, OPTIONS"}, b"POST an SDP offer here\n"
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/sdp":
                return 415, {}, b"Content-Type must be application/sdp\n"
            try:
                s, answer = await self.answer(parts[1], body.decode())
            except Exception as e:
                log.exception("offer rejected")
                return 400, {}, f"offer rejected: {e!r}\n".encode()
            return 201, {"Content-Type": "application/sdp",
                         "Location": f"/whip/{parts[1]}/{s.id}",
                         "ETag": f'"{s.id}"'}, answer.encode()
        s = self.sessions.get(parts[2])
        if s is None or s.room != parts[1]:
            return 404, {}, b"no such session\n"
        if method == "DELETE":
            s.deleted = True
            await s.stop()
            return 200, {}, b""
        if method == "PATCH":
            return 405, {"Allow": "DELETE, OPTIONS"}, b"trickle ICE not supported\n"
        return 405, {"Allow": "DELETE, OPTIONS"}, b""

    async def handle(self, reader, writer):
        status, headers, body = 500, {}, b""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            req_headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    req_headers[k.strip().lower()] = v.strip()
            n = int(req_headers.get("content-length", "0"))
            req_body = await asyncio.wait_for(reader.readexactly(n), 10) if n else b""
            path = urllib.parse.urlsplit(target).path
            log.info("%s %s", method, path)
            status, headers, body = await self.route(method, path, req_headers, req_body)
        except Exception as e:
            log.exception("request failed")
            status, body = 400, f"bad request: {e!r}\n".encode()
        out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        for k, v in {**CORS, **headers, "Content-Length": str(len(body)),
                     "Connection": "close"}.items():
            out.append(f"{k}: {v}")
        try:
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
            await asyncio.wait_for(writer.drain(), 5)
            writer.close()
        except Exception:
            pass


def fix_udp_port(loop, port: int):
    """Make aioice bind its host candidate sockets to `port` when free."""
    original = loop.create_datagram_endpoint

    async def create(factory, local_addr=None, **kw):
        if local_addr and local_addr[1] == 0:
            try:
                return await original(factory, local_addr=(local_addr[0], port), **kw)
            except OSError as e:
                log.warning("UDP port %d busy (%s); using an ephemeral port", port, e)
        return await original(factory, local_addr=local_addr, **kw)

    loop.create_datagram_endpoint = create


async def main_async(args):
    loop = asyncio.get_running_loop()
    if args.udp_port:
        fix_udp_port(loop, args.udp_port)
    server = Server(args)
    host, _, port = args.listen.rpartition(":")
    srv = await asyncio.start_server(server.handle, host.strip("[]"), int(port))
    print(f"answerer: listening on http://{args.listen}/whip/{{room}}", file=sys.stderr,
          flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.seconds)
    except asyncio.TimeoutError:
        pass
    finally:
        srv.close()
        for s in list(server.sessions.values()):
            await s.stop()
    return {"sessions": [s.describe() for s in server.sessions.values()]}


def main():
    p = argparse.ArgumentParser(description="aiortc WHIP answerer for tests")
    p.add_argument("--listen", required=True, metavar="IP:PORT")
    p.add_argument("--record-dir", required=True)
    p.add_argument("--seconds", type=float, required=True, help="exit after this long")
    p.add_argument("--udp-port", type=int, default=0)
    p.add_argument("--ice-host", metavar="IP[,IP...]",
                   help="gather host candidates only on these addresses")
    p.add_argument("--token")
    p.add_argument("--ext", default="mkv", help="recording container by extension")
    p.add_argument("--log", metavar="FILE")
    args = p.parse_args()
    if not 0 < args.seconds <= 3600:
        p.error("--seconds must be within (0, 3600]")
    if args.log:
        log_to_file(args.log)
    if args.ice_host:
        restrict_host_candidates(args.ice_host.split(","))
    vp9_rtp.register()
    os.makedirs(args.record_dir, exist_ok=True)
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
