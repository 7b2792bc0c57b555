#!/usr/bin/env python3
"""Checks a recorder's transport-cc feedback against what an aiortc sender sent (test tool).

    twcc_check.py RTCP_HEX_FILE [--sent SENT_FILE]

RTCP_HEX_FILE and SENT_FILE (default RTCP_HEX_FILE + ".sent") are what twcc_capture.py wrote:
every RTCP compound the sender received (hex, one a line) and each sent packet's
transport-wide sequence number and send time (µs). The feedback is parsed by twcc_reader.py
(written from the draft, not from flowrec's code). Prints one JSON object:

  feedback        feedback packets parsed
  malformed       RTCP compounds the reader refused (with the first reason)
  sent            packets the sender numbered
  reported        of those, how many some feedback reported as received
  lost_reported   sequence numbers reported as not received and never as received
  offset_spread_ms  p95 - p5 over packets of (reported arrival - send time): on a quiet
                  link a few ms; wrong deltas or reference times make it large
  offset_max_ms   max - min of the same (start-up stalls of either side show here)
  count_gaps      feedback packets missing in the fb pkt count sequence
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twcc_reader  # noqa: E402


def percentile_spread(values, low, high):
    if not values:
        return None
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return (pick(high) - pick(low)) / 1000


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("rtcp")
    p.add_argument("--sent")
    args = p.parse_args()
    sent_path = args.sent or args.rtcp + ".sent"

    sent = {}  # unwrapped seq -> send µs
    last, base = None, 0
    with open(sent_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 2:
                continue
            seq, at = int(parts[0]), int(parts[1])
            if last is not None and seq < last and last - seq > 32768:
                base += 65536
            last = seq
            sent[base + seq] = at

    feedback, malformed, first_error = [], 0, None
    with open(args.rtcp) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                feedback += twcc_reader.parse_compound(bytes.fromhex(line))
            except ValueError as e:
                malformed += 1
                first_error = first_error or str(e)

    # Unwrap reported sequence numbers next to the sent ones (same 16-bit space).
    def unwrap(seq16, near):
        cands = [seq16 + k * 65536 for k in range(-1, 3)]
        return min(cands, key=lambda c: abs(c - near))

    received, missing = {}, set()
    near = min(sent) if sent else 0
    for fb in feedback:
        for pkt in fb["packets"]:
            seq = unwrap(pkt["seq"], near)
            near = seq
            if pkt["received"]:
                received[seq] = pkt["arrival_us"]
            else:
                missing.add(seq)
    offsets = [received[s] - sent[s] for s in sent if s in received]
    counts = [fb["fb_count"] for fb in feedback]
    gaps = sum(((b - a) % 256) - 1 for a, b in zip(counts, counts[1:]) if (b - a) % 256 != 1)
    result = {
        "feedback": len(feedback),
        "malformed": malformed,
        "first_error": first_error,
        "sent": len(sent),
        "reported": sum(1 for s in sent if s in received),
        "lost_reported": len(missing - set(received)),
        # Reference times wrap (24 bits of 64 ms), far beyond a test's length: no unwrapping needed.
        "offset_spread_ms": percentile_spread(offsets, 0.05, 0.95),
        "offset_max_ms": (max(offsets) - min(offsets)) / 1000 if offsets else None,
        "count_gaps": gaps,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
