#!/usr/bin/env python3
"""Janus VideoRoom subscriber check (aiortc, Janus API over HTTP): the flow a
recorder implements.

    janus_subscribe_check.py URL --room 1234 --out-dir D [--seconds 3]
        [--wait-publishers N] [--follow] [--exercise] [--linger S] [--pin P]
        [--ice-host IP[,IP...]] [--events FILE] [--log FILE] [--debug]

 1. create session; "watcher" handle: join as ptype publisher and never
    publish, so the room's publishers / unpublished / leaving notifications
    arrive on it; {"request":"listparticipants"} until N publishers are there
    (<= 10 s).
 2. subscriber handle: {"request":"join","ptype":"subscriber","room":R,
    "private_id":<watcher's>,"streams":[{"feed":ID},...]} -> "attached" with a
    jsep offer and a "streams" array (mid <-> feed_id <-> feed_display).
 3. aiortc answers (recvonly), {"request":"start"} + jsep answer -> "started";
    every received track goes to its own MediaRecorder,
    D/sub-<display>-{audio,video}.mkv, for --seconds after "connected".
 4. --follow: a new publisher announced on the watcher handle is added with
    {"request":"subscribe","streams":[{"feed":ID}]} -> "updated" + new offer
    -> answer via "start". Janus-initiated offers ("updating", e.g. when a
    subscribed feed goes away) are answered the same way, at any time.
 5. --exercise (after the recording): {"request":"unsubscribe","streams":
    [{"feed":first}]} and, before answering its offer, {"request":"update",
    "subscribe":[{"feed":first}],"unsubscribe":[{"feed":second}]} (feeds
    still present only); both offers are then answered.
 6. --linger S: keep answering offers and collecting watcher events until no
    publisher is left (at most S s). Then leave both handles, detach, destroy.

Every offer Janus sends is saved as D/offer-<n>-<event>.sdp. Prints one JSON
line: feeds (id, display, mids, file, frames received), the "streams" arrays,
offer facts per m-line (setup, ice-lite, ssrc, msid), watcher and subscriber
event names. Exit 0 when connected and every subscribed feed delivered audio
and video frames; 2 Janus error; 3 not connected within 15 s; 1 otherwise.
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
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaRecorder  # noqa: E402

from janus_api import JanusError, JanusSession, plugin_data  # noqa: E402
from whip_publish import log_to_file, restrict_host_candidates, wait_connected  # noqa: E402

log = logging.getLogger("janus_subscribe_check")


def sdp_facts(sdp: str) -> dict:
    """Session- and m-line-level facts a recorder cares about."""
    sdp = sdp.replace("\r\n", "\n")
    session, media = sdp.split("\nm=", 1)[0], re.split(r"\n(?=m=)", sdp)[1:]
    facts = {"ice_lite": "a=ice-lite" in session,
             "group": (re.findall(r"^a=group:(.*)$", session, re.M) or [None])[0],
             "msid_semantic": (re.findall(r"^a=msid-semantic:(.*)$", session, re.M)
                               or [None])[0],
             "mlines": []}
    for m in media:
        first = m.split("\n", 1)[0]
        kind, port = first[2:].split()[:2]
        line = lambda name: (re.findall(rf"^a={name}:(.*)$", m, re.M) or [None])[0]  # noqa
        direction = next((d for d in ("sendrecv", "sendonly", "recvonly", "inactive")
                          if re.search(rf"^a={d}$", m, re.M)), None)
        facts["mlines"].append({
            "kind": kind, "port": int(port), "mid": line("mid"), "direction": direction,
            "setup": line("setup"), "msid": line("msid"),
            "ssrc": re.findall(r"^a=ssrc:(.*)$", m, re.M),
            "ssrc_group": re.findall(r"^a=ssrc-group:(.*)$", m, re.M),
            "rtpmap": re.findall(r"^a=rtpmap:(.*)$", m, re.M),
            "candidates": len(re.findall(r"^a=candidate:", m, re.M)),
            "end_of_candidates": "a=end-of-candidates" in m,
            "rtcp_mux": "a=rtcp-mux" in m})
    return facts


def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:40] or "feed"


class Checker:
    def __init__(self, args):
        self.a = args
        self.trace = open(args.events, "w") if args.events else None
        self.janus = JanusSession(args.url, trace=self.trace, log=log)
        self.pc = RTCPeerConnection(RTCConfiguration(
            iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.connected = asyncio.Event()
        self.lock = asyncio.Lock()
        self.watcher = self.sub = None
        self.publishers = {}        # feed id -> display (watcher's view of the room)
        self.subscribed = set()     # feed ids in our subscription
        self.requested = set()      # feed ids we sent "subscribe" for
        self.following = False
        self.mids = {}              # mid -> stream dict from Janus (feed_id, feed_display, ...)
        self.new_tracks = []
        self.feeds = {}             # feed id -> {"display", "mids", "file", "recorder", ...}
        self.recording = True
        self.res = {"connected": False, "room": args.room, "feeds": {}, "offers": [],
                    "streams": {}, "watcher_events": [], "subscriber_events": [],
                    "requests": [], "errors": []}
        self.n_offer = 0

        @self.pc.on("connectionstatechange")
        def on_state():
            log.info("connection state %s", self.pc.connectionState)
            if self.pc.connectionState == "connected":
                self.connected.set()

        @self.pc.on("track")
        def on_track(track):
            self.new_tracks.append(track)

    # -- watcher ------------------------------------------------------------
    def on_watcher_event(self, ev):
        data = plugin_data(ev)
        keys = [k for k in data if k not in ("videoroom", "room")]
        self.res["watcher_events"].append(ev.get("janus") if ev.get("janus") != "event"
                                          else f"{data.get('videoroom')}:{','.join(keys)}")
        for p in data.get("publishers", []):
            self.publishers[p["id"]] = p.get("display")
        for key in ("unpublished", "leaving"):
            gone = data.get(key)
            if isinstance(gone, int):
                self.publishers.pop(gone, None)
        self.follow()

    def follow(self):
        """--follow: subscribe to publishers we do not have yet (once attached)."""
        if not (self.a.follow and self.following and self.recording):
            return
        new = [f for f in self.publishers if f not in self.subscribed | self.requested]
        if new:
            self.requested.update(new)
            asyncio.ensure_future(self.guard(self.request(
                {"request": "subscribe", "streams": [{"feed": f} for f in new]},
                "subscribe")))

    async def watch(self):
        while True:
            self.on_watcher_event(await self.janus.wait_event(self.watcher, timeout=3600))

    # -- subscriber -----------------------------------------------------------
    async def guard(self, coro):
        try:
            await coro
        except Exception as e:  # keep the loop alive, report at the end
            log.exception("background step failed")
            self.res["errors"].append(repr(e))

    async def request(self, body: dict, label: str):
        """A subscriber request that makes Janus send a new offer ("updated")."""
        async with self.lock:
            ev = await self.janus.send(self.sub, body)
            self.res["requests"].append({"request": body,
                                         "reply": plugin_data(ev).get("videoroom")})
            await self.negotiate(ev, label)

    async def negotiate(self, ev: dict, label: str):
        """Answer the jsep offer in ev (attached / updated / updating) via "start"."""
        data = plugin_data(ev)
        jsep = ev.get("jsep")
        if "streams" in data:
            self.mids = {s["mid"]: s for s in data["streams"]}
            self.res["streams"][f"{self.n_offer}-{label}"] = data["streams"]
            for s in data["streams"]:
                if s.get("active", True) and s.get("feed_id") is not None:
                    self.subscribed.add(s["feed_id"])
        if not jsep:
            return
        if jsep.get("type") != "offer":
            raise JanusError(f"{label}: expected a jsep offer, got {jsep.get('type')}")
        path = os.path.join(self.a.out_dir, f"offer-{self.n_offer}-{label}.sdp")
        with open(path, "w") as f:
            f.write(jsep["sdp"])
        facts = sdp_facts(jsep["sdp"])
        facts["event"] = label
        facts["file"] = path
        self.res["offers"].append(facts)
        self.n_offer += 1
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="offer"))
        self.start_recorders()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        ans = self.pc.localDescription
        with open(path.replace("offer-", "answer-"), "w") as f:
            f.write(ans.sdp)
        ev2 = await self.janus.send(self.sub, {"request": "start"},
                                    jsep={"type": "answer", "sdp": ans.sdp})
        self.res["requests"].append({"request": {"request": "start"},
                                     "reply": plugin_data(ev2)})

    def start_recorders(self):
        tracks, self.new_tracks = self.new_tracks, []
        by_feed = {}
        for track in tracks:
            t = next((t for t in self.pc.getTransceivers() if t.receiver.track is track), None)
            stream = self.mids.get(t.mid if t else None)
            if not stream or stream.get("feed_id") is None:
                log.warning("track %s on mid %s: no feed", track.kind, t and t.mid)
                continue
            by_feed.setdefault(stream["feed_id"], []).append((t.mid, track, stream))
        for feed, items in by_feed.items():
            display = items[0][2].get("feed_display")
            info = self.feeds.setdefault(feed, {"display": display, "mids": {}, "files": []})
            if not self.recording:
                continue
            # One MediaRecorder per track: aiortc's MediaRecorder cannot size the
            # video stream once another stream has been muxed ("Cannot change
            # width after codec is open"), which races when audio comes first.
            n = len(info["files"]) // 2
            for mid, track, _ in items:
                info["mids"][mid] = track.kind
                path = os.path.join(self.a.out_dir, f"sub-{safe(display or feed)}"
                                    f"{'-%d' % n if n else ''}-{track.kind}.mkv")
                rec = MediaRecorder(path)
                rec.addTrack(self.count(track, info))
                info["files"].append(path)
                info.setdefault("recorders", []).append(rec)
                asyncio.ensure_future(self.guard(rec.start()))

    @staticmethod
    def count(track, info):
        """Wrap recv() to count decoded frames per kind."""
        key = f"{track.kind}_frames"
        info.setdefault(key, 0)
        original = track.recv

        async def recv():
            frame = await original()
            info[key] += 1
            return frame

        track.recv = recv
        return track

    async def sub_events(self):
        """Unsolicited subscriber events: Janus-initiated offers, media, hangup."""
        while True:
            ev = await self.janus.wait_event(self.sub, timeout=3600)
            data = plugin_data(ev)
            keys = [k for k in data if k not in ("videoroom", "room", "streams")]
            name = ev.get("janus") if ev.get("janus") != "event" else \
                f"{data.get('videoroom')}:{','.join(keys)}"
            if ev.get("janus") == "media":
                name += f":{ev.get('mid')}:{ev.get('receiving')}"
            self.res["subscriber_events"].append(name)
            if ev.get("jsep"):
                async with self.lock:
                    await self.guard(self.negotiate(ev, data.get("videoroom") or "event"))

    async def exercise(self, first, second):
        """unsubscribe, then (before answering its offer) an update request:
        shows how Janus queues a renegotiation while an offer is unanswered."""
        n = self.n_offer
        async with self.lock:
            body1 = {"request": "unsubscribe", "streams": [{"feed": first}]}
            ev1 = await self.janus.send(self.sub, body1)
            self.res["requests"].append({"request": body1, "reply": plugin_data(ev1),
                                         "jsep": (ev1.get("jsep") or {}).get("type")})
            body2 = {"request": "update", "subscribe": [{"feed": first}],
                     "unsubscribe": [{"feed": second}]}
            ev2 = await self.janus.send(self.sub, body2)
            self.res["requests"].append({"request": body2, "reply": plugin_data(ev2),
                                         "jsep": (ev2.get("jsep") or {}).get("type"),
                                         "sent_before_answering_previous_offer": True})
            await self.negotiate(ev1, "unsubscribe")
            if ev2.get("jsep"):
                await self.negotiate(ev2, "update")
        # a queued update arrives later as an event with a jsep offer (sub_events)
        deadline = time.monotonic() + 5
        while self.n_offer < n + 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.n_offer < n + 2:
            self.res["errors"].append("exercise: no offer for the second request")

    async def inbound_stats(self):
        """Per-mid inbound RTP counters (aiortc keys its stats by receiver)."""
        ssrc_mid = {}
        for t in self.pc.getTransceivers():
            for enc in getattr(t.receiver, "_RTCRtpReceiver__remote_streams", {}) or {}:
                ssrc_mid[enc] = t.mid
        report = await self.pc.getStats()
        out = {}
        for s in report.values():
            if s.type == "inbound-rtp":
                out[str(ssrc_mid.get(s.ssrc, s.ssrc))] = {
                    "kind": s.kind, "ssrc": s.ssrc, "packetsReceived": s.packetsReceived,
                    "packetsLost": s.packetsLost}
        self.res["inbound"] = out

    async def stop_recorders(self):
        self.recording = False
        for info in self.feeds.values():
            for rec in info.pop("recorders", []):
                try:
                    await asyncio.wait_for(rec.stop(), 10)
                except Exception as e:
                    self.res["errors"].append(f"recorder stop: {e!r}")

    # -- main -------------------------------------------------------------------
    async def run(self) -> int:
        a, janus = self.a, self.janus
        tasks = []
        try:
            await janus.create()
            self.watcher = await janus.attach()
            join = {"request": "join", "ptype": "publisher", "room": a.room,
                    "display": "flowrec-watcher"}
            if a.pin:
                join["pin"] = a.pin
            ev = await janus.send(self.watcher, join, expect=("joined",))
            joined = plugin_data(ev)
            self.res["watcher"] = {"id": joined["id"], "private_id": joined["private_id"],
                                   "publishers_at_join": joined.get("publishers")}
            for p in joined.get("publishers", []):
                self.publishers[p["id"]] = p.get("display")
            tasks.append(asyncio.ensure_future(self.watch()))

            deadline = time.monotonic() + 10
            while True:
                parts = await janus.request(self.watcher, {"request": "listparticipants",
                                                           "room": a.room})
                pubs = [p for p in parts.get("participants", []) if p.get("publisher")]
                if len(pubs) >= a.wait_publishers or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            self.res["participants"] = parts.get("participants")
            if len(pubs) < a.wait_publishers:
                raise JanusError(f"only {len(pubs)} publishers after 10 s")
            for p in pubs:
                self.publishers[p["id"]] = p.get("display")

            self.sub = await janus.attach()
            tasks.append(asyncio.ensure_future(self.sub_events()))
            join = {"request": "join", "ptype": "subscriber", "room": a.room,
                    "private_id": joined["private_id"],
                    "streams": [{"feed": p["id"]} for p in pubs]}
            if a.pin:
                join["pin"] = a.pin
            async with self.lock:
                ev = await janus.send(self.sub, join, expect=("attached",))
                self.res["requests"].append({"request": join, "reply": "attached"})
                await self.negotiate(ev, "attached")
            await janus.trickle_completed(self.sub)
            self.following = True
            self.follow()

            if not await wait_connected(self.pc, self.connected, "janus_subscribe_check"):
                return self.finish(3)
            self.res["connected"] = True
            await asyncio.sleep(a.seconds)
            async with self.lock:
                await self.stop_recorders()
                await self.inbound_stats()

            if a.exercise:
                present = [f for f in sorted(self.subscribed) if f in self.publishers]
                if len(present) >= 2:
                    await self.exercise(*present[:2])
                else:
                    self.res["errors"].append(f"exercise skipped: feeds {present} present")

            deadline = time.monotonic() + a.linger
            while self.publishers and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            self.res["publishers_left"] = sorted(self.publishers)
            for handle in (self.sub, self.watcher):
                ev = await janus.send(handle, {"request": "leave"})
                self.res["requests"].append({"request": {"request": "leave"},
                                             "reply": plugin_data(ev)})
            code = 0
            for feed in sorted(self.subscribed | set(self.feeds)):
                info = self.feeds.get(feed, {})
                if not info.get("audio_frames") or not info.get("video_frames"):
                    self.res["errors"].append(f"feed {feed}: no audio or video frames")
                    code = 1
            if self.res["errors"]:
                code = 1
            return self.finish(code)
        except JanusError as e:
            print(f"janus_subscribe_check: {e}", file=sys.stderr)
            self.res["errors"].append(str(e))
            return self.finish(2)
        finally:
            for t in tasks:
                t.cancel()
            await self.stop_recorders()
            try:
                await asyncio.wait_for(self.pc.close(), 5)
            except asyncio.TimeoutError:
                pass
            for handle in (self.sub, self.watcher):
                if handle is not None:
                    try:
                        await janus.detach(handle)
                    except JanusError as e:
                        log.warning("detach: %s", e)
            try:
                await janus.destroy()
            except JanusError as e:
                log.warning("destroy: %s", e)
            if self.trace:
                self.trace.close()

    def finish(self, code: int) -> int:
        self.res["feeds"] = {str(k): {kk: vv for kk, vv in v.items() if kk != "recorders"}
                             for k, v in self.feeds.items()}
        self.res["subscribed"] = sorted(self.subscribed)
        print(json.dumps(self.res), flush=True)
        return code


def main() -> int:
    p = argparse.ArgumentParser(description="Janus VideoRoom subscriber check (aiortc)")
    p.add_argument("url", help="Janus REST base, e.g. http://10.99.0.1:8088/janus")
    p.add_argument("--room", type=int, default=1234)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--seconds", type=float, default=3.0, help="record this long once connected")
    p.add_argument("--wait-publishers", type=int, default=1,
                   help="wait (<= 10 s) until this many publishers are in the room")
    p.add_argument("--follow", action="store_true",
                   help="subscribe to publishers that appear while recording")
    p.add_argument("--exercise", action="store_true",
                   help="after recording: unsubscribe + update requests (renegotiations)")
    p.add_argument("--linger", type=float, default=0.0,
                   help="then wait up to this long for all publishers to leave")
    p.add_argument("--pin", help="room PIN")
    p.add_argument("--ice-host", metavar="IP[,IP...]")
    p.add_argument("--events", metavar="FILE", help="write all Janus messages (JSON lines)")
    p.add_argument("--log", metavar="FILE")
    p.add_argument("--debug", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    if a.log:
        log_to_file(a.log, a.debug)
    if a.ice_host:
        restrict_host_candidates(a.ice_host.split(","))
    return asyncio.run(Checker(a).run())


if __name__ == "__main__":
    sys.exit(main())
