#!/usr/bin/env python3
"""Plain-UDP check of udp_impair.py (used by selftest.sh).

    udp_impair_check.py --relay IP:PORT --sink IP:PORT

Sends 400 RTP-like datagrams (numbered), 40 STUN-like and 40 RTCP-like ones
from one socket to the relay, which must run with --forward SINK --media-only
and some --loss/--reorder/--jitter-ms. Checks that STUN/RTCP all arrive, RTP
partly does and partly out of order, and that the sink's replies come back.
Prints one JSON line; exit 0 when the checks hold.
"""

import argparse
import json
import socket
import struct
import sys
import threading
import time


def addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", type=addr, required=True)
    p.add_argument("--sink", type=addr, required=True)
    a = p.parse_args()

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(a.sink)
    sink.settimeout(0.5)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((a.relay[0], 0))
    client.settimeout(0.5)

    got = {"rtp": [], "stun": 0, "rtcp": 0}
    seen = []

    def receive():  # drain the sink while sending, or its socket buffer overflows
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                data, src = sink.recvfrom(2048)
            except socket.timeout:
                if seen:
                    return
                continue
            seen.append(src)
            if data[0] == 0:
                got["stun"] += 1
            elif data[1] == 201:
                got["rtcp"] += 1
            else:
                got["rtp"].append(struct.unpack_from("!H", data, 2)[0])

    receiver = threading.Thread(target=receive)
    receiver.start()
    sent = {"rtp": 0, "stun": 0, "rtcp": 0}
    for i in range(400):
        client.sendto(bytes([0x80, 96]) + struct.pack("!HII", i, i * 960, 1234) + b"x" * 100,
                      a.relay)
        sent["rtp"] += 1
        if i % 10 == 0:
            client.sendto(bytes([0x00, 0x01]) + struct.pack("!H", i) + b"s" * 16, a.relay)
            client.sendto(bytes([0x81, 201]) + struct.pack("!H", i) + b"r" * 28, a.relay)
            sent["stun"] += 1
            sent["rtcp"] += 1
        time.sleep(0.002)

    receiver.join()
    relay_addr = seen[-1] if seen else None

    replies = 0
    if relay_addr:
        for _ in range(5):
            sink.sendto(b"\x01\x01reply", relay_addr)
        deadline = time.monotonic() + 2
        while replies < 5 and time.monotonic() < deadline:
            try:
                client.recvfrom(2048)
                replies += 1
            except socket.timeout:
                break

    seqs = got["rtp"]
    inversions = sum(1 for x, y in zip(seqs, seqs[1:]) if y < x)
    res = {"sent": sent, "stun": got["stun"], "rtcp": got["rtcp"], "rtp": len(seqs),
           "rtp_inversions": inversions, "replies": replies,
           "relay_seen_as": "%s:%d" % relay_addr if relay_addr else None}
    res["ok"] = (got["stun"] == sent["stun"] and got["rtcp"] == sent["rtcp"]
                 and 0.5 * sent["rtp"] < len(seqs) < sent["rtp"] and inversions > 0
                 and replies == 5 and relay_addr == a.relay)
    print(json.dumps(res))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
