#!/usr/bin/env python3
"""Independent reader of transport-wide congestion control feedback (test tool).

    twcc_reader.py HEX [HEX...]     each HEX is one RTCP compound packet
    twcc_reader.py --file F         F has one hex compound per line ('-' = stdin;
                                    blank lines and lines starting with '#' skipped)
    twcc_reader.py --selftest       built-in checks, exit 0 when all pass

Prints one JSON line per transport-cc feedback found (other RTCP packets of a
compound are skipped), in input order. A parse error of any input is reported
as "twcc_reader: <input>: <reason>" on stderr; the other inputs are still
processed and the exit code is then 1 (0 = all inputs parsed).

Written from draft-holmer-rmcat-transport-wide-cc-extensions-01 (October 2015),
section 3.1, and nothing else: RTPFB (PT=205), FMT=15.

    |V=2|P|  FMT=15 |    PT=205     |           length              |
    |                     SSRC of packet sender                     |
    |                      SSRC of media source                     |
    |      base sequence number     |      packet status count      |
    |                 reference time                | fb pkt. count |
    |  packet chunk  |  packet chunk  | ... | recv delta | ... | zero padding |

Points where the draft contradicts itself and what this reader does:
  * 3.1 prose says "payload type 206"; the diagram and field list say
    PT = RTPFB = 205. 205 is used.
  * 3.1.1 lists symbol 11 as [Reserved]; the examples of 3.1.3/3.1.4 use it as
    "packet received, w/o recv delta". Symbol 3 is rejected as reserved (the
    examples that use it must fail).
  * 3.1.4 prose says a one-bit vector holds "packet received" (0) and
    "packet not received" (1); its Example 1 decodes the other way round.
    The example is followed: bit 1 = "packet received, small delta" (symbol 1,
    one 1-byte recv delta), bit 0 = "packet not received" (symbol 0).

Strictness (ValueError with the reason for each):
  * V must be 2, PT 205, FMT 15; the length field must describe exactly the
    bytes given to parse_feedback (parse_compound splits on it).
  * the P bit: the last octet counts padding octets (>= 1, not reaching into
    the 20-byte fixed part), they are stripped before the chunks are read.
  * packet status count must be >= 1.
  * chunks are read until they cover the packet status count, so only the
    last chunk can reach past it. Its symbols past the count (the padding of a
    status vector, or the excess of a run) must be 0 ("not received": no
    delta, so unambiguous); they are dropped. A run length of 0 is an error.
  * symbol 3 (reserved) anywhere in the covered statuses -> error.
  * one recv delta per received status (1 byte unsigned for symbol 1, 2 bytes
    signed for symbol 2); running past the end of the packet is an error.
  * after the deltas at most 3 bytes may remain and they must be zero.

Result of parse_feedback():
    {"sender_ssrc", "media_ssrc", "base_seq", "status_count",
     "reference_time_ms" (reference time * 64, signed), "fb_count",
     "packets": [{"seq": (base_seq + i) % 65536, "received": bool,
                  "arrival_us": reference*64000 + cumulative deltas*250 or None}]}
"""

import argparse
import json
import struct
import sys

RTCP_RTPFB = 205
TWCC_FMT = 15
FIXED_SIZE = 20  # 4 RTCP header + 8 SSRCs + 8 (base seq, count, ref time, fb count)

SYM_NOT_RECEIVED = 0
SYM_SMALL_DELTA = 1
SYM_LARGE_DELTA = 2
SYM_RESERVED = 3

__all__ = ["parse_feedback", "parse_compound", "main"]


def _fail(msg: str) -> None:
    raise ValueError(msg)


def parse_feedback(data: bytes) -> dict:
    """Parse exactly one RTCP transport-cc feedback packet (strict)."""
    data = bytes(data)
    n = len(data)
    if n < 4:
        _fail(f"truncated: {n} bytes, an RTCP header needs 4")
    b0, pt, length = struct.unpack_from("!BBH", data, 0)
    version, padding, fmt = b0 >> 6, (b0 >> 5) & 1, b0 & 0x1F
    if version != 2:
        _fail(f"RTCP version {version}, expected 2")
    if pt != RTCP_RTPFB:
        _fail(f"packet type {pt}, expected {RTCP_RTPFB} (RTPFB)")
    if fmt != TWCC_FMT:
        _fail(f"RTPFB FMT {fmt}, expected {TWCC_FMT} (transport-cc)")
    size = (length + 1) * 4
    if n < size:
        _fail(f"truncated: length field {length} means {size} bytes, only {n} given")
    if n > size:
        _fail(f"length mismatch: length field {length} means {size} bytes, {n} given")
    if size < FIXED_SIZE:
        _fail(f"too short: {size} bytes, transport-cc feedback needs at least {FIXED_SIZE}")
    end = size
    if padding:
        pad = data[-1]
        if pad == 0:
            _fail("P bit set but the padding count (last octet) is 0")
        if pad > size - FIXED_SIZE:
            _fail(f"P bit padding count {pad} reaches into the {FIXED_SIZE}-byte fixed part "
                  f"(packet is {size} bytes)")
        end = size - pad

    sender_ssrc, media_ssrc, base_seq, status_count = struct.unpack_from("!LLHH", data, 4)
    ref_raw = int.from_bytes(data[16:19], "big")
    reference = ref_raw - (1 << 24) if ref_raw & 0x800000 else ref_raw
    fb_count = data[19]
    if status_count == 0:
        _fail("packet status count is 0 (feedback reports no packets)")

    # --- packet status chunks ---
    symbols = []
    pos = FIXED_SIZE
    chunk_index = 0
    while len(symbols) < status_count:
        if pos + 2 > end:
            _fail(f"truncated: packet chunks cover only {len(symbols)} of {status_count} "
                  f"statuses (chunk {chunk_index} would start at byte {pos}, "
                  f"data ends at {end})")
        chunk = (data[pos] << 8) | data[pos + 1]
        remaining = status_count - len(symbols)
        if chunk & 0x8000 == 0:  # run length chunk: |0| S(2) | run length (13) |
            sym = (chunk >> 13) & 0x3
            run = chunk & 0x1FFF
            if sym == SYM_RESERVED:
                _fail(f"run-length chunk {chunk_index} (0x{chunk:04x}) at byte {pos} uses "
                      f"reserved symbol 3")
            if run == 0:
                _fail(f"run-length chunk {chunk_index} (0x{chunk:04x}) at byte {pos} has "
                      f"run length 0")
            if run > remaining and sym != SYM_NOT_RECEIVED:
                _fail(f"run-length chunk {chunk_index} (0x{chunk:04x}) at byte {pos} has run "
                      f"length {run} but only {remaining} of status count {status_count} remain "
                      f"(only symbol 0 'not received' may pad past the count)")
            symbols.extend([sym] * min(run, remaining))
        else:  # status vector chunk: |1|S| symbol list (14) |
            if chunk & 0x4000:  # 7 two-bit symbols
                vec = [(chunk >> (12 - 2 * k)) & 0x3 for k in range(7)]
                kind = "two-bit"
            else:  # 14 one-bit symbols: 1 = received (small delta), 0 = not received
                vec = [(chunk >> (13 - k)) & 0x1 for k in range(14)]
                kind = "one-bit"
            used, extra = vec[:remaining], vec[remaining:]
            if SYM_RESERVED in used:
                k = used.index(SYM_RESERVED)
                _fail(f"{kind} status vector chunk {chunk_index} (0x{chunk:04x}) at byte {pos} "
                      f"uses reserved symbol 3 (symbol {k}, packet seq "
                      f"{(base_seq + len(symbols) + k) & 0xFFFF})")
            if any(extra):
                _fail(f"{kind} status vector chunk {chunk_index} (0x{chunk:04x}) at byte {pos} "
                      f"extends {len(extra)} symbols past status count {status_count} and that "
                      f"padding is not all 0: {extra}")
            symbols.extend(used)
        pos += 2
        chunk_index += 1

    # --- receive deltas ---
    packets = []
    t_us = reference * 64000
    for i, sym in enumerate(symbols):
        seq = (base_seq + i) & 0xFFFF
        if sym == SYM_NOT_RECEIVED:
            packets.append({"seq": seq, "received": False, "arrival_us": None})
            continue
        need = 1 if sym == SYM_SMALL_DELTA else 2
        if pos + need > end:
            _fail(f"receive deltas run past the end: status {i} (seq {seq}) needs a "
                  f"{need}-byte delta at byte {pos}, data ends at {end}")
        if need == 1:
            delta = data[pos]
        else:
            delta = struct.unpack_from("!h", data, pos)[0]
        pos += need
        t_us += delta * 250
        packets.append({"seq": seq, "received": True, "arrival_us": t_us})

    rest = data[pos:end]
    if len(rest) >= 4:
        _fail(f"{len(rest)} unexpected bytes after the receive deltas (at byte {pos}); "
              f"only up to 3 bytes of zero padding may follow")
    if any(rest):
        _fail(f"non-zero padding after the receive deltas: {rest.hex()}")

    return {
        "sender_ssrc": sender_ssrc,
        "media_ssrc": media_ssrc,
        "base_seq": base_seq,
        "status_count": status_count,
        "reference_time_ms": reference * 64,
        "fb_count": fb_count,
        "packets": packets,
    }


def parse_compound(data: bytes) -> list:
    """Walk an RTCP compound packet; return the parsed transport-cc feedbacks in it.

    Other RTCP packets are skipped (only their common header is checked)."""
    data = bytes(data)
    n = len(data)
    if n == 0:
        _fail("empty RTCP compound")
    out = []
    pos = 0
    index = 0
    while pos < n:
        if n - pos < 4:
            _fail(f"truncated compound: {n - pos} trailing bytes at offset {pos}, "
                  f"an RTCP header needs 4")
        b0, pt, length = struct.unpack_from("!BBH", data, pos)
        if b0 >> 6 != 2:
            _fail(f"RTCP packet {index} at offset {pos}: version {b0 >> 6}, expected 2")
        size = (length + 1) * 4
        if pos + size > n:
            _fail(f"truncated: RTCP packet {index} at offset {pos} (PT {pt}): length field "
                  f"says {size} bytes, only {n - pos} left in the compound")
        if pt == RTCP_RTPFB and (b0 & 0x1F) == TWCC_FMT:
            try:
                out.append(parse_feedback(data[pos:pos + size]))
            except ValueError as exc:
                raise ValueError(f"RTCP packet {index} at offset {pos}: {exc}") from None
        pos += size
        index += 1
    return out


def _decode_hex(text: str) -> bytes:
    s = "".join(text.split()).replace(":", "")
    if s[:2].lower() == "0x":
        s = s[2:]
    try:
        return bytes.fromhex(s)
    except ValueError:
        raise ValueError("not a hex string") from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Parse RTCP transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-"
                    "extensions-01) from hex RTCP compounds; one JSON line per feedback.")
    p.add_argument("hex", nargs="*", help="one RTCP compound packet, hex")
    p.add_argument("--file", metavar="F", help="read one hex compound per line ('-' = stdin)")
    p.add_argument("--selftest", action="store_true", help="run the built-in checks")
    args = p.parse_args(argv)

    if args.selftest:
        return _selftest()
    inputs = [(f"argument {i + 1}", h) for i, h in enumerate(args.hex)]
    if args.file:
        f = sys.stdin if args.file == "-" else open(args.file, encoding="ascii", errors="replace")
        with f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    inputs.append((f"{args.file}:{lineno}", line))
    if not args.hex and not args.file:
        p.error("give HEX arguments, --file F or --selftest")

    status = 0
    for where, text in inputs:
        try:
            feedbacks = parse_compound(_decode_hex(text))
        except ValueError as exc:
            print(f"twcc_reader: {where}: {exc}", file=sys.stderr)
            status = 1
            continue
        for fb in feedbacks:
            print(json.dumps(fb, separators=(",", ":")))
    sys.stdout.flush()
    return status


# ---------------------------------------------------------------------------
# Self-test: a tiny encoder written from the draft, known vectors, error cases.
# ---------------------------------------------------------------------------

def _rle(sym: int, run: int) -> int:
    """Run length chunk: |T=0| S (2 bits) | run length (13 bits) |."""
    return ((sym & 0x3) << 13) | (run & 0x1FFF)


def _vec1(bits) -> int:
    """Status vector chunk, S=0: 14 one-bit symbols (1 = received)."""
    assert len(bits) == 14
    v = 0x8000
    for k, b in enumerate(bits):
        v |= (b & 1) << (13 - k)
    return v


def _vec2(syms) -> int:
    """Status vector chunk, S=1: 7 two-bit symbols."""
    assert len(syms) == 7
    v = 0xC000
    for k, s in enumerate(syms):
        v |= (s & 0x3) << (12 - 2 * k)
    return v


def _build(base_seq, status_count, reference, fb_count, chunks, delta_bytes,
           sender_ssrc=0x11223344, media_ssrc=0x55667788, pad="zero"):
    """Assemble one feedback packet from raw chunk words and delta bytes."""
    body = struct.pack("!LLHH", sender_ssrc, media_ssrc, base_seq & 0xFFFF, status_count)
    body += (reference & 0xFFFFFF).to_bytes(3, "big") + bytes([fb_count & 0xFF])
    body += b"".join(struct.pack("!H", c) for c in chunks)
    body += bytes(delta_bytes)
    need = (-(len(body) + 4)) % 4
    p_bit = 0
    if pad == "zero":
        body += bytes(need)
    elif pad == "pbit":  # RTCP padding (RFC 3550): last octet = count, P bit set
        k = need or 4
        body += bytes(k - 1) + bytes([k])
        p_bit = 1
    else:
        raise AssertionError(pad)
    total = len(body) + 4
    assert total % 4 == 0
    return struct.pack("!BBH", 0x80 | (p_bit << 5) | TWCC_FMT, RTCP_RTPFB, total // 4 - 1) + body


def _deltas(pairs) -> bytes:
    """pairs: (symbol, delta in 250 us units) for each received packet, in order."""
    out = b""
    for sym, units in pairs:
        if sym == SYM_SMALL_DELTA:
            assert 0 <= units <= 255
            out += bytes([units])
        elif sym == SYM_LARGE_DELTA:
            assert -32768 <= units <= 32767
            out += struct.pack("!h", units)
        else:
            raise AssertionError(sym)
    return out


def _symbols_for(reference, arrivals):
    """Symbols and delta units for arrivals (absolute us, or None = not received)."""
    syms, pairs = [], []
    prev = reference * 64000
    for a in arrivals:
        if a is None:
            syms.append(SYM_NOT_RECEIVED)
            continue
        d = a - prev
        assert d % 250 == 0
        u = d // 250
        sym = SYM_SMALL_DELTA if 0 <= u <= 255 else SYM_LARGE_DELTA
        syms.append(sym)
        pairs.append((sym, u))
        prev = a
    return syms, pairs


def _chunk(syms, rng=None):
    """Chunk a symbol list: greedy by default, random valid layout with rng."""
    chunks = []
    i, n = 0, len(syms)
    while i < n:
        run = 1
        while i + run < n and syms[i + run] == syms[i] and run < 8191:
            run += 1
        window14 = syms[i:i + 14]
        can_vec1 = all(s <= 1 for s in window14)
        options = ["rle", "vec2"] + (["vec1"] if can_vec1 else [])
        if rng is None:
            choice = "rle" if run >= 14 else ("vec1" if can_vec1 else "vec2")
            length = run
        else:
            choice = rng.choice(options)
            length = rng.randint(1, run)
        if choice == "rle":
            chunks.append(_rle(syms[i], length))
            i += length
        elif choice == "vec1":
            w = window14 + [0] * (14 - len(window14))
            chunks.append(_vec1(w))
            i += 14
        else:
            w = syms[i:i + 7]
            chunks.append(_vec2(w + [0] * (7 - len(w))))
            i += 7
    return chunks


def _encode(base_seq, reference, fb_count, arrivals, rng=None, pad="zero"):
    syms, pairs = _symbols_for(reference, arrivals)
    return _build(base_seq, len(arrivals), reference, fb_count, _chunk(syms, rng),
                  _deltas(pairs), pad=pad)


def _expect(base_seq, arrivals):
    return [{"seq": (base_seq + i) & 0xFFFF, "received": a is not None, "arrival_us": a}
            for i, a in enumerate(arrivals)]


def _selftest() -> int:
    import random
    import subprocess

    failures = []
    count = [0]

    def check(name, cond, detail=""):
        count[0] += 1
        if not cond:
            failures.append(f"{name}: {detail}")

    def expect_error(name, data, *fragments, compound=False):
        count[0] += 1
        try:
            (parse_compound if compound else parse_feedback)(data)
        except ValueError as exc:
            msg = str(exc)
            missing = [f for f in fragments if f.lower() not in msg.lower()]
            if missing:
                failures.append(f"{name}: error '{msg}' lacks {missing}")
            return
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{name}: raised {type(exc).__name__}: {exc}")
            return
        failures.append(f"{name}: no ValueError")

    try:
        # -- the draft's own examples (3.1.3 and 3.1.4) --------------------------------
        check("draft 3.1.3 ex1 encoding", _rle(0, 221) == 0x00DD, hex(_rle(0, 221)))
        fb = parse_feedback(_build(7, 221, 0, 0, [0x00DD], b""))
        check("draft 3.1.3 ex1 (221x not received)",
              fb["packets"] == _expect(7, [None] * 221) and fb["status_count"] == 221, fb)

        check("draft 3.1.3 ex2 encoding", _rle(3, 24) == 0x6018, hex(_rle(3, 24)))
        expect_error("draft 3.1.3 ex2 uses reserved symbol 3",
                     _build(7, 24, 0, 0, [0x6018], b""), "reserved")

        ex1_bits = [0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
        check("draft 3.1.4 ex1 encoding", _vec1(ex1_bits) == 0x9F1C, hex(_vec1(ex1_bits)))
        small = [4, 8, 0, 255, 1, 2, 3, 100]  # 8 received -> 8 one-byte deltas
        fb = parse_feedback(_build(100, 14, 10, 3, [0x9F1C], bytes(small)))
        # draft listing: 1x not received, 5x received, 3x not, 3x received, 2x not
        listing = [False] + [True] * 5 + [False] * 3 + [True] * 3 + [False] * 2
        check("draft 3.1.4 ex1 statuses", [p["received"] for p in fb["packets"]] == listing, fb)
        t, arr = 640000, []
        it = iter(small)
        for r in listing:
            if r:
                t += next(it) * 250
            arr.append(t if r else None)
        check("draft 3.1.4 ex1 arrivals", fb["packets"] == _expect(100, arr), fb)

        check("draft 3.1.4 ex2 encoding", _vec2([0, 3, 1, 1, 1, 0, 0]) == 0xCD50,
              hex(_vec2([0, 3, 1, 1, 1, 0, 0])))
        expect_error("draft 3.1.4 ex2 uses reserved symbol 3",
                     _build(7, 7, 0, 0, [0xCD50], bytes([1, 1, 1, 1])), "reserved")

        # -- a run-length chunk of 200 received small deltas -------------------------
        units = [(i * 37) % 256 for i in range(200)]
        pkt200 = _build(1000, 200, 12345, 9, [0x20C8], bytes(units))
        check("rle200 chunk word", _rle(1, 200) == 0x20C8)
        check("rle200 size", len(pkt200) == 224, len(pkt200))  # 20 + 2 + 200 -> pad to 224
        fb = parse_feedback(pkt200)
        t, arr = 12345 * 64000, []
        for u in units:
            t += u * 250
            arr.append(t)
        check("rle200 header", (fb["sender_ssrc"], fb["media_ssrc"], fb["base_seq"],
                                fb["status_count"], fb["reference_time_ms"], fb["fb_count"])
              == (0x11223344, 0x55667788, 1000, 200, 12345 * 64, 9), fb)
        check("rle200 packets", fb["packets"] == _expect(1000, arr), fb["packets"][:3])
        check("rle200 pbit", parse_feedback(_build(1000, 200, 12345, 9, [0x20C8], bytes(units),
                                                   pad="pbit")) == fb)

        # -- two-bit vector: not received, small and large (incl. negative) deltas ----
        vec = [0, 1, 2, 2, 0, 1, 2]
        deltas = _deltas([(1, 4), (2, -40), (2, 400), (1, 255), (2, -32768)])
        pktmix = _build(500, 7, 100, 1, [_vec2(vec)], deltas)
        fb = parse_feedback(pktmix)
        # reference 100 * 64 ms = 6 400 000 us; +1 ms, -10 ms, +100 ms, +63.75 ms, -8192 ms
        want = [None, 6_401_000, 6_391_000, 6_491_000, None, 6_554_750, -1_637_250]
        check("mixed vector", fb["packets"] == _expect(500, want), fb["packets"])
        check("mixed vector pbit", parse_feedback(_build(500, 7, 100, 1, [_vec2(vec)], deltas,
                                                         pad="pbit")) == fb)

        # -- sequence wrap 65535 -> 0, chunks of three kinds ---------------------------
        bits = [1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1]  # 12 statuses, vec1 padded with 2 zeros
        wrap = _build(65530, 12, 1, 200, [_vec1(bits + [0, 0])], bytes([1] * 10))
        fb = parse_feedback(wrap)
        check("wrap seqs", [p["seq"] for p in fb["packets"]] == [65530, 65531, 65532, 65533, 65534,
                                                                 65535, 0, 1, 2, 3, 4, 5], fb)
        check("wrap statuses", [p["received"] for p in fb["packets"]] == [bool(b) for b in bits])
        arr = [64000 + 250 * (sum(bits[:i + 1])) if b else None for i, b in enumerate(bits)]
        check("wrap arrivals", fb["packets"] == _expect(65530, arr), fb["packets"])
        multi = _build(65535, 4 + 14 + 3, 0, 0,
                       [_rle(1, 4), _vec1([1, 0] * 7), _vec2([2, 2, 1, 0, 0, 0, 0])],
                       bytes([10] * 4) + bytes([20] * 7) + _deltas([(2, -4), (2, 8), (1, 0)]))
        fb = parse_feedback(multi)
        check("multi seqs", fb["packets"][0]["seq"] == 65535 and fb["packets"][1]["seq"] == 0
              and fb["packets"][-1]["seq"] == 19, fb["packets"])
        arr = [2500, 5000, 7500, 10000]
        t = 10000
        for k in range(14):
            if k % 2 == 0:
                t += 5000
                arr.append(t)
            else:
                arr.append(None)
        arr += [t - 1000, t + 1000, t + 1000]
        check("multi arrivals", fb["packets"] == _expect(65535, arr), fb["packets"])

        # -- reference time: 24-bit signed, 64 ms units ---------------------------------
        for ref in (-1, -2, 0x7FFFFF, -0x800000):
            fb = parse_feedback(_build(0, 1, ref, 0, [_rle(1, 1)], bytes([4])))
            check(f"reference {ref}", fb["reference_time_ms"] == ref * 64
                  and fb["packets"][0]["arrival_us"] == ref * 64000 + 1000, fb)

        # -- randomized round trips through random chunk layouts -----------------------
        rng = random.Random(20151019)
        for case in range(400):
            base = rng.randrange(65536)
            ref = rng.randrange(-0x800000, 0x800000)
            n = rng.choice([1, 2, 7, 13, 14, 15, 50, rng.randint(1, 600)])
            t = ref * 64000
            arrivals, state = [], 1
            for _ in range(n):
                if rng.random() < 0.15:
                    state = rng.choice([0, 1, 1, 2])
                if state == 0:
                    arrivals.append(None)
                    continue
                u = rng.randint(0, 255) if state == 1 else rng.randint(-32768, 32767)
                t += u * 250
                arrivals.append(t)
            pad = rng.choice(["zero", "pbit"])
            data = _encode(base, ref, case & 0xFF, arrivals, rng=rng, pad=pad)
            try:
                fb = parse_feedback(data)
                ok = fb["packets"] == _expect(base, arrivals) and fb["fb_count"] == case & 0xFF
                check(f"random case {case}", ok, "mismatch")
            except ValueError as exc:
                check(f"random case {case}", False, str(exc))

        # -- cross-check: test vectors of another implementation (pion/rtcp,
        #    transport_layer_cc_test.go; libwebrtc style, P bit for the padding) ------------
        def pion(words):
            return bytes(words)
        v = pion([0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0,
                  0x0, 0x99, 0x0, 0x1, 0x3d, 0xe8, 0x2, 0x17, 0x20, 0x1, 0x94, 0x1])
        fb = parse_feedback(v)
        check("pion unmarshal example1", fb == {
            "sender_ssrc": 4195875351, "media_ssrc": 1124282272, "base_seq": 153,
            "status_count": 1, "reference_time_ms": 4057090 * 64, "fb_count": 23,
            "packets": [{"seq": 153, "received": True, "arrival_us": 4057090 * 64000 + 37000}]}, fb)
        v = pion([0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb,
                  0x0, 0x4, 0x0, 0x7, 0x10, 0x63, 0x6e, 0x1, 0x20, 0x7, 0x4c, 0x24,
                  0x24, 0x10, 0xc, 0xc, 0x10, 0x0, 0x0, 0x3])
        fb = parse_feedback(v)
        t, arr = 1074030 * 64000, []
        for d in (19000, 9000, 9000, 4000, 3000, 3000, 4000):
            t += d
            arr.append(t)
        check("pion unmarshal example4", fb["packets"] == _expect(4, arr)
              and (fb["media_ssrc"], fb["fb_count"]) == (423483579, 1), fb)
        v = pion([0xaf, 0xcd, 0x0, 0x7, 0x9b, 0x74, 0xf6, 0x1f, 0x93, 0x71, 0xdc, 0xbc,
                  0x85, 0x3c, 0x0, 0x9, 0x63, 0xf9, 0x16, 0xb3, 0xd5, 0x52, 0x0, 0x30,
                  0x9b, 0xaa, 0x6a, 0xaa, 0x7b, 0x1, 0x9, 0x1])  # last run of 48 'not received'
        fb = parse_feedback(v)
        t, arr = 6551830 * 64000, []
        for d in (38750, 42500, 26500, 42500, 30750, None, 66250, None, None):
            if d is None:
                arr.append(None)
            else:
                t += d
                arr.append(t)
        check("pion unmarshal example6", fb["packets"] == _expect(34108, arr)
              and (fb["sender_ssrc"], fb["fb_count"]) == (2608133663, 179), fb)
        v = pion([0xaf, 0xcd, 0x0, 0x6, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb,
                  0x0, 0x1, 0x0, 0xe, 0x10, 0x63, 0x6d, 0x0, 0xba, 0x0, 0x10, 0xc,
                  0xc, 0x10, 0x0, 0x2])  # pion marshal example5 (one-bit vector)
        fb = parse_feedback(v)
        t, arr = 1074029 * 64000, []
        for d in (4000, 3000, 3000, None, 4000) + (None,) * 9:
            if d is None:
                arr.append(None)
            else:
                t += d
                arr.append(t)
        check("pion marshal example5", fb["packets"] == _expect(1, arr), fb)
        v = pion([0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0,
                  0x9c, 0x14, 0x0, 0xc, 0x75, 0x84, 0x20, 0x0, 0xbe, 0xc0, 0xc1, 0x3f,
                  0x3b, 0x3f, 0x53, 0x90, 0x3b, 0x0, 0x0, 0x3])  # pion marshal example6
        fb = parse_feedback(v)
        t, arr = 7701536 * 64000, []
        for d in (48250, 15750, 14750, 15750, 20750, None, 36000, 14750, None, None, None, None):
            if d is None:
                arr.append(None)
            else:
                t += d
                arr.append(t)
        check("pion marshal example6", fb["packets"] == _expect(39956, arr), fb)
        # pion accepts these; the draft / RFC 3550 do not:
        expect_error("pion example2 (symbol 3)", pion([
            0xaf, 0xcd, 0x0, 0x6, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x1, 0x74, 0x0, 0xe,
            0x45, 0xb1, 0x5a, 0x40, 0xd8, 0x0, 0xf0, 0xff, 0xd0, 0x0, 0x0, 0x3]), "reserved")
        expect_error("pion example3 (P bit, padding count 0)", pion([
            0xaf, 0xcd, 0x0, 0x7, 0xfa, 0x17, 0xfa, 0x17, 0x19, 0x3d, 0xd8, 0xbb, 0x1, 0x74, 0x0, 0x6,
            0x45, 0xb1, 0x5a, 0x40, 0x40, 0x2, 0x20, 0x04, 0x1f, 0xfe, 0x1f, 0x9a, 0xd0, 0x0, 0xd0,
            0x0]), "padding count")
        expect_error("pion example7 (status count 0)", pion([
            0x8f, 0xcd, 0x0, 0x4, 0x9a, 0xcb, 0x4, 0x42] + [0] * 12), "status count is 0")
        expect_error("pion example8", pion([
            0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x0, 0x99, 0x0, 0x3,
            0x3d, 0xe8, 0x2, 0x17, 0x20, 0x3, 0x94, 0x1]), "receive deltas run past the end")
        expect_error("pion example9", pion([
            0xaf, 0xcd, 0x0, 0x5, 0xfa, 0x17, 0xfa, 0x17, 0x43, 0x3, 0x2f, 0xa0, 0x0, 0x99, 0x0, 0x2,
            0x3d, 0xe8, 0x2, 0x17, 0x40, 0x2, 0x94, 0x1]), "receive deltas run past the end")

        # -- compound walking ------------------------------------------------------------
        rr = struct.pack("!BBHL", 0x80, 201, 1, 0xAAAA)  # RR without report blocks
        sr = struct.pack("!BBHL", 0x81, 200, 12, 0xBBBB) + bytes(20) + bytes(24)  # SR + 1 block
        pli = struct.pack("!BBHLL", 0x81, 206, 2, 1, 2)
        nack = struct.pack("!BBHLLHH", 0x81, 205, 3, 1, 2, 77, 0)
        sdes = struct.pack("!BBHL", 0x81, 202, 2, 0xAAAA) + bytes([1, 2, ord("x"), 0])
        compound = sr + rr + pkt200 + pli + nack + pktmix + sdes
        fbs = parse_compound(compound)
        check("compound finds 2", len(fbs) == 2 and fbs[0] == parse_feedback(pkt200)
              and fbs[1] == parse_feedback(pktmix), len(fbs))
        check("compound without feedback", parse_compound(rr + pli) == [])
        check("compound single", parse_compound(pktmix) == [parse_feedback(pktmix)])
        expect_error("compound truncated", compound[:-3], "truncated", compound=True)
        expect_error("compound trailing bytes", compound + b"\x80\xc9", "truncated", compound=True)
        expect_error("compound bad version", rr + b"\x40" + pktmix[1:], "version", compound=True)
        expect_error("compound empty", b"", "empty", compound=True)
        bad = bytearray(pktmix)
        bad[21] = 0xF0  # vector with reserved symbols
        expect_error("compound bad feedback", rr + bytes(bad), "offset 8", "reserved", compound=True)

        # -- error cases -----------------------------------------------------------------
        for name, good in (("rle200", pkt200), ("mixed", pktmix), ("wrap", wrap), ("multi", multi)):
            for cut in range(len(good)):
                expect_error(f"{name} truncated to {cut}", good[:cut])
                if cut >= 4:  # prefix with the length field fixed up to match
                    fixed = bytearray(good[:cut - cut % 4])
                    if len(fixed) >= 4:
                        struct.pack_into("!H", fixed, 2, len(fixed) // 4 - 1)
                        try:
                            parse_feedback(bytes(fixed))
                            failures.append(f"{name} re-lengthed prefix {len(fixed)} parsed")
                        except ValueError:
                            pass
                        count[0] += 1
        expect_error("version 1", b"\x4f" + pktmix[1:], "version")
        expect_error("PT 206", pktmix[:1] + b"\xce" + pktmix[2:], "packet type")
        expect_error("FMT 1", b"\x81" + pktmix[1:], "FMT")
        longer = bytearray(pktmix)
        struct.pack_into("!H", longer, 2, len(pktmix) // 4)
        expect_error("length field too large", bytes(longer), "truncated")
        expect_error("length field too small (extra bytes)", pktmix + bytes(4), "length mismatch")
        expect_error("status count 0", _build(0, 0, 0, 0, [], b""), "status count is 0")
        expect_error("chunks missing", _build(0, 300, 0, 0, [], b""), "chunks cover only 0 of 300")
        expect_error("deltas past end", _build(0, 14, 0, 0, [0x9F1C], bytes(4)),
                     "receive deltas run past the end")
        expect_error("large delta past end", _build(0, 3, 0, 0, [_rle(2, 3)], b"\x01\x02"),
                     "receive deltas run past the end")
        expect_error("reserved in rle", _build(0, 5, 0, 0, [_rle(3, 5)], b""), "reserved")
        expect_error("reserved in vec2", _build(0, 7, 0, 0, [_vec2([1, 1, 3, 0, 0, 0, 0])],
                                               bytes(2)), "reserved")
        fb = parse_feedback(_build(0, 2, 0, 0, [_vec2([1, 1, 0, 0, 0, 0, 0])], bytes(2)))
        check("vec2 zero padding ok", len(fb["packets"]) == 2)
        expect_error("vec2 non-zero padding", _build(0, 3, 0, 0, [_vec2([1, 1, 1, 1, 0, 0, 0])],
                                                    bytes(4)), "padding is not all 0")
        expect_error("vec2 reserved padding", _build(0, 3, 0, 0, [_vec2([1, 1, 1, 0, 0, 0, 3])],
                                                    bytes(3)), "padding is not all 0")
        expect_error("vec1 non-zero padding", _build(0, 13, 0, 0, [_vec1([0] * 13 + [1])],
                                                    bytes(1)), "padding is not all 0")
        expect_error("rle overrun", _build(0, 5, 0, 0, [_rle(1, 6)], bytes(6)), "only 5")
        fb = parse_feedback(_build(0, 5, 0, 0, [_rle(1, 3), _rle(0, 40)], bytes(3)))
        check("rle overrun with symbol 0 is padding", len(fb["packets"]) == 5
              and [p["received"] for p in fb["packets"]] == [True] * 3 + [False] * 2, fb)
        expect_error("rle run 0", _build(0, 5, 0, 0, [_rle(0, 0), _rle(0, 5)], b""), "run length 0")
        expect_error("extra bytes after deltas", _build(0, 1, 0, 0, [_rle(1, 1)], bytes(5)),
                     "unexpected bytes")
        nz = bytearray(_build(0, 1, 0, 0, [_rle(1, 1)], bytes(1)))  # 23 bytes + 1 pad
        nz[-1] = 1
        expect_error("non-zero padding", bytes(nz), "non-zero padding")
        pz = bytearray(_build(0, 1, 0, 0, [_rle(1, 1)], bytes(1), pad="pbit"))
        pz[-1] = 0
        expect_error("P bit count 0", bytes(pz), "padding count")
        pz[-1] = 200
        expect_error("P bit count too big", bytes(pz), "padding count")
        pz[-1] = 4  # strips the chunk too: chunks then missing
        expect_error("P bit count strips chunk", bytes(pz), "chunks cover only")

        # -- fuzz: garbled input only ever raises ValueError -----------------------------
        samples = [pkt200, pktmix, wrap, multi, compound]
        odd = 0
        for k in range(6000):
            data = bytearray(rng.choice(samples))
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(data))
                data[i] = rng.randrange(256) if rng.random() < 0.7 else data[i] ^ (1 << rng.randrange(8))
            if rng.random() < 0.3:
                data = data[:rng.randrange(len(data) + 1)]
            try:
                if k % 2:
                    parse_compound(bytes(data))
                else:
                    parse_feedback(bytes(data))
            except ValueError:
                pass
            except Exception as exc:  # noqa: BLE001
                odd += 1
                if odd <= 3:
                    failures.append(f"fuzz {k}: {type(exc).__name__}: {exc} on {bytes(data).hex()}")
        count[0] += 1

        # -- CLI ---------------------------------------------------------------------------
        me = [sys.executable, __file__]
        r = subprocess.run(me + [compound.hex(), pktmix.hex()], capture_output=True, text=True,
                           timeout=60)
        lines = r.stdout.splitlines()
        check("cli ok exit", r.returncode == 0, r.stderr)
        check("cli ok lines", len(lines) == 3 and json.loads(lines[1]) == parse_feedback(pktmix)
              and json.loads(lines[0]) == parse_feedback(pkt200), r.stdout[:200])
        r = subprocess.run(me + [pktmix.hex(), pktmix[:-4].hex()], capture_output=True, text=True,
                           timeout=60)
        check("cli error exit", r.returncode == 1 and "argument 2" in r.stderr
              and "truncated" in r.stderr and len(r.stdout.splitlines()) == 1,
              (r.returncode, r.stderr))
        r = subprocess.run(me + ["zz"], capture_output=True, text=True, timeout=60)
        check("cli bad hex", r.returncode == 1 and "hex" in r.stderr, r.stderr)
        r = subprocess.run(me + ["--file", "-"], input=f"# comment\n{rr.hex()}\n\n{pktmix.hex()}\n",
                           capture_output=True, text=True, timeout=60)
        check("cli file", r.returncode == 0 and len(r.stdout.splitlines()) == 1
              and json.loads(r.stdout) == parse_feedback(pktmix), (r.returncode, r.stderr))
        r = subprocess.run(me + ["--file", "-"], input=f"{pktmix.hex()}\n{bytes(bad).hex()}\n",
                           capture_output=True, text=True, timeout=60)
        check("cli file error", r.returncode == 1 and "-:2" in r.stderr, (r.returncode, r.stderr))
    except Exception:  # noqa: BLE001
        import traceback
        failures.append("unexpected exception:\n" + traceback.format_exc())

    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print(f"twcc_reader selftest: {count[0] - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
