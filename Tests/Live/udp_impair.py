#!/usr/bin/env python3
"""Lossy UDP relay between a WebRTC publisher and the recorder (no tc netem here).

    udp_impair.py --listen IP:PORT --forward IP:PORT --seconds S
        [--loss P] [--reorder P] [--jitter-ms MS] [--seed N] [--media-only]

One socket bound to --listen carries both directions, so the recorder sees the
relay as the publisher's address. The first datagram that does not come from
--forward fixes the client; later datagrams from other sources are ignored.
Client -> forward datagrams are impaired (all impairments default to off):
  --loss P       drop with probability P
  --reorder P    hold a datagram back and send it right after the next one
                 (or after 50 ms if nothing follows)
  --jitter-ms MS delay each datagram uniformly in [0, MS] ms, keeping order
With --media-only only RTP is impaired (first byte 128..191 and second byte
not an RTCP packet type 192..223); STUN (0..3), DTLS (20..63) and RTCP pass.
Forward -> client datagrams are relayed untouched. After S seconds prints one
JSON line of counts. Only loopback and 10.99.0.0/16 addresses are accepted.
"""

import argparse
import asyncio
import ipaddress
import json
import random
import struct
import sys
import time
from collections import Counter

REORDER_HOLD = 0.050


def addr(text: str):
    host, _, port = text.rpartition(":")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected IP:PORT, got {text!r}")
    if not (ip.is_loopback or ip in ipaddress.ip_network("10.99.0.0/16")):
        raise argparse.ArgumentTypeError(f"{ip} is not loopback or 10.99.x.x")
    return str(ip), port


def classify(data: bytes) -> str:
    if not data:
        return "other"
    b = data[0]
    if b <= 3:
        return "stun"
    if 20 <= b <= 63:
        return "dtls"
    if 128 <= b <= 191:
        if len(data) >= 2 and 192 <= data[1] <= 223:
            return "rtcp"
        return "rtp"
    return "other"


class Relay(asyncio.DatagramProtocol):
    def __init__(self, args):
        self.args = args
        self.forward = args.forward
        self.rng = random.Random(args.seed)
        self.client = None
        self.transport = None
        self.loop = asyncio.get_running_loop()
        self.up = Counter()      # client -> forward
        self.down = Counter()    # forward -> client
        self.up_kinds = Counter()
        self.dropped_by_ssrc = Counter()
        self.ignored = 0
        self.held = None         # (data, timer) held back for reordering
        self.last_due = 0.0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, source):
        if source == self.forward:
            self.down["received"] += 1
            if self.client is None:
                self.down["no_client"] += 1
                return
            self.transport.sendto(data, self.client)
            self.down["forwarded"] += 1
            return
        if self.client is None:
            self.client = source
        elif source != self.client:
            self.ignored += 1
            return
        self.up["received"] += 1
        kind = classify(data)
        self.up_kinds[kind] += 1
        impair = kind == "rtp" if self.args.media_only else True
        if not impair:
            self.send_up(data, 0.0)
            return
        if self.args.loss and self.rng.random() < self.args.loss:
            self.up["dropped"] += 1
            if kind == "rtp" and len(data) >= 12:
                self.dropped_by_ssrc[str(struct.unpack_from("!I", data, 8)[0])] += 1
            return
        delay = self.rng.uniform(0, self.args.jitter_ms / 1000) if self.args.jitter_ms else 0.0
        if self.held is None and self.args.reorder and self.rng.random() < self.args.reorder:
            timer = self.loop.call_later(REORDER_HOLD, self.release_held)
            self.held = (data, timer)
            self.up["reordered"] += 1
            return
        self.send_up(data, delay)
        if self.held is not None:
            held, timer = self.held
            timer.cancel()
            self.held = None
            self.send_up(held, delay)

    def release_held(self):
        if self.held is not None:
            data, _ = self.held
            self.held = None
            self.send_up(data, 0.0)

    def send_up(self, data, delay):
        now = self.loop.time()
        if delay <= 0 and self.last_due <= now:
            self._send(data)
            return
        # keep order: strictly after any datagram already scheduled
        # (asyncio's timer heap does not keep equal deadlines in FIFO order)
        due = max(now + delay, self.last_due + 1e-6)
        self.last_due = due
        self.up["delayed"] += 1
        self.loop.call_at(due, self._send, data)

    def _send(self, data):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, self.forward)
            self.up["forwarded"] += 1

    def error_received(self, exc):
        self.up["errors"] += 1


async def main_async(args):
    loop = asyncio.get_running_loop()
    transport, relay = await loop.create_datagram_endpoint(
        lambda: Relay(args), local_addr=args.listen)
    started = time.monotonic()
    try:
        await asyncio.sleep(args.seconds)
    finally:
        relay.release_held()
        await asyncio.sleep(min(0.2, args.jitter_ms / 1000 + 0.05))
        transport.close()
    return {
        "listen": "%s:%d" % args.listen,
        "forward": "%s:%d" % args.forward,
        "client": "%s:%d" % relay.client if relay.client else None,
        "seconds": round(time.monotonic() - started, 3),
        "settings": {"loss": args.loss, "reorder": args.reorder,
                     "jitter_ms": args.jitter_ms, "seed": args.seed,
                     "media_only": args.media_only},
        "client_to_forward": {
            **{k: relay.up[k] for k in ("received", "forwarded", "dropped", "reordered",
                                        "delayed", "errors")},
            "kinds": dict(relay.up_kinds),
            "dropped_by_ssrc": dict(relay.dropped_by_ssrc),
        },
        "forward_to_client": {k: relay.down[k] for k in ("received", "forwarded",
                                                         "no_client")},
        "ignored": relay.ignored,
    }


def main():
    p = argparse.ArgumentParser(description="lossy UDP relay for WebRTC tests")
    p.add_argument("--listen", type=addr, required=True, metavar="IP:PORT")
    p.add_argument("--forward", type=addr, required=True, metavar="IP:PORT")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--reorder", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--media-only", action="store_true",
                   help="impair only RTP, never STUN, DTLS or RTCP")
    args = p.parse_args()
    for name in ("loss", "reorder"):
        if not 0 <= getattr(args, name) <= 1:
            p.error(f"--{name} must be within 0..1")
    if not 0 < args.seconds <= 3600:
        p.error("--seconds must be within (0, 3600]")
    print(json.dumps(asyncio.run(main_async(args))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
