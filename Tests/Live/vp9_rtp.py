"""VP9 for aiortc 1.16 (which only knows VP8 and H.264).

register() adds video/VP9 (profile-id=0) + its RTX to aiortc's codec table and
patches the encoder/decoder/depayloader look-ups that aiortc's sender and
receiver modules imported by name. Encoding uses PyAV's libvpx-vp9; packets
use the RFC 9628 payload descriptor in non-flexible mode, single layer:

    I=1 (15-bit picture ID), P = not a keyframe, B/E = first/last packet of
    the frame, V=1 on the first packet of a keyframe with a scalability
    structure (N_S=0, Y=1 with the resolution, G=1 with one T0 entry, P_DIFF 1).
"""

import fractions
import multiprocessing
import random
import struct

import av
from av.frame import Frame
from av.packet import Packet
from av.video.frame import VideoFrame

PACKET_MAX = 1200
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
DEFAULT_BITRATE = 600_000
MIN_BITRATE = 250_000
MAX_BITRATE = 2_000_000


def vp9_descriptor_size(payload: bytes) -> int:
    """Length of the RFC 9628 payload descriptor at the start of payload."""
    if not payload:
        raise ValueError("empty VP9 payload")
    b0 = payload[0]
    i = 1
    if b0 & 0x80:  # I: picture ID
        if i >= len(payload):
            raise ValueError("truncated picture ID")
        i += 2 if payload[i] & 0x80 else 1
    flexible = bool(b0 & 0x10)
    if b0 & 0x20:  # L: layer indices (+ TL0PICIDX in non-flexible mode)
        i += 1 if flexible else 2
    if flexible and b0 & 0x40:  # P_DIFF list
        for _ in range(3):
            if i >= len(payload):
                raise ValueError("truncated P_DIFF")
            more = payload[i] & 0x01
            i += 1
            if not more:
                break
    if b0 & 0x02:  # V: scalability structure
        if i >= len(payload):
            raise ValueError("truncated SS")
        s = payload[i]
        i += 1
        layers = (s >> 5) + 1
        if s & 0x10:
            i += 4 * layers
        if s & 0x08:
            if i >= len(payload):
                raise ValueError("truncated SS N_G")
            n_g = payload[i]
            i += 1
            for _ in range(n_g):
                if i >= len(payload):
                    raise ValueError("truncated SS group")
                r = (payload[i] >> 2) & 0x03
                i += 1 + r
    if i > len(payload):
        raise ValueError("truncated VP9 descriptor")
    return i


def vp9_depayload(payload: bytes) -> bytes:
    return payload[vp9_descriptor_size(payload):]


def vp9_packetize(frame: bytes, picture_id: int, keyframe: bool,
                  width: int, height: int) -> list[bytes]:
    payloads = []
    pos = 0
    first = True
    while pos < len(frame) or first:
        b0 = 0x80  # I
        if not keyframe:
            b0 |= 0x40  # P
        if first:
            b0 |= 0x08  # B
        header = bytearray([b0]) + struct.pack("!H", 0x8000 | (picture_id & 0x7FFF))
        if first and keyframe:
            header[0] |= 0x02  # V
            # N_S=0, Y=1, G=1 | width, height | N_G=1 | T=0 U=0 R=1 | P_DIFF=1
            header += bytes([0x18]) + struct.pack("!HH", width, height) + bytes([1, 0x04, 1])
        size = min(len(frame) - pos, PACKET_MAX - len(header))
        if pos + size >= len(frame):
            header[0] |= 0x04  # E
        payloads.append(bytes(header) + frame[pos:pos + size])
        pos += size
        first = False
    return payloads


def _aiortc_bases():
    from aiortc.codecs.base import Decoder, Encoder
    return Decoder, Encoder


_Decoder, _Encoder = _aiortc_bases()


class Vp9Encoder(_Encoder):
    def __init__(self) -> None:
        self.codec = None
        self.picture_id = random.randint(0, (1 << 15) - 1)
        self.target_bitrate = DEFAULT_BITRATE
        self._bitrate_in_use = None

    @property
    def target_bitrate(self) -> int:
        return self._target_bitrate

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._target_bitrate = max(MIN_BITRATE, min(int(bitrate), MAX_BITRATE))

    def _open(self, width: int, height: int) -> None:
        c = av.CodecContext.create("libvpx-vp9", "w")
        c.width = width
        c.height = height
        c.pix_fmt = "yuv420p"
        c.bit_rate = self.target_bitrate
        c.time_base = VIDEO_TIME_BASE
        c.gop_size = 3000
        c.qmin = 2
        c.qmax = 56
        c.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "row-mt": "1",
            "minrate": str(self.target_bitrate),
            "maxrate": str(self.target_bitrate),
            "bufsize": str(self.target_bitrate),
            "undershoot-pct": "100",
            "overshoot-pct": "15",
        }
        c.thread_count = min(2, multiprocessing.cpu_count())
        self.codec = c
        self._bitrate_in_use = self.target_bitrate

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        assert isinstance(frame, VideoFrame)
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if self.codec is not None and (
            frame.width != self.codec.width or frame.height != self.codec.height
            or abs(self.target_bitrate - self._bitrate_in_use) / self._bitrate_in_use > 0.1
        ):
            self.codec = None
        if self.codec is None:
            self._open(frame.width, frame.height)
            force_keyframe = True
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        timestamp = int(frame.pts * frame.time_base / VIDEO_TIME_BASE)
        frame.pts = timestamp
        frame.time_base = VIDEO_TIME_BASE
        payloads = []
        for pkt in self.codec.encode(frame):
            payloads += vp9_packetize(bytes(pkt), self.picture_id, pkt.is_keyframe,
                                      frame.width, frame.height)
            self.picture_id = (self.picture_id + 1) & 0x7FFF
        return payloads, timestamp

    def pack(self, packet: Packet) -> tuple[list[bytes], int]:
        raise NotImplementedError("pre-encoded VP9 is not supported")


class Vp9Decoder(_Decoder):
    def __init__(self) -> None:
        self.codec = av.CodecContext.create("vp9", "r")

    def decode(self, encoded_frame):
        packet = Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.time_base = VIDEO_TIME_BASE
        try:
            return list(self.codec.decode(packet))
        except av.error.FFmpegError:
            return []


def register() -> None:
    """Teach this process's aiortc about VP9 (idempotent)."""
    from aiortc import codecs as C
    from aiortc import rtcrtpreceiver, rtcrtpsender
    from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters

    if any(c.mimeType.lower() == "video/vp9" for c in C.CODECS["video"]):
        return
    used = {c.payloadType for kind in C.CODECS for c in C.CODECS[kind]}
    pt = next(p for p in range(96, 127) if p not in used and p + 1 not in used)
    C.CODECS["video"] += [
        RTCRtpCodecParameters(
            mimeType="video/VP9", clockRate=90000, payloadType=pt,
            rtcpFeedback=[RTCRtcpFeedback(type="nack"),
                          RTCRtcpFeedback(type="nack", parameter="pli"),
                          RTCRtcpFeedback(type="goog-remb")],
            parameters={"profile-id": 0},
        ),
        RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000,
                              payloadType=pt + 1, parameters={"apt": pt}),
    ]

    orig_encoder, orig_decoder, orig_depayload = C.get_encoder, C.get_decoder, C.depayload

    def get_encoder(codec):
        if codec.mimeType.lower() == "video/vp9":
            return Vp9Encoder()
        return orig_encoder(codec)

    def get_decoder(codec):
        if codec.mimeType.lower() == "video/vp9":
            return Vp9Decoder()
        return orig_decoder(codec)

    def depayload(codec, payload):
        if codec.name.lower() == "vp9":
            return vp9_depayload(payload)
        return orig_depayload(codec, payload)

    C.get_encoder = rtcrtpsender.get_encoder = get_encoder
    C.get_decoder = rtcrtpreceiver.get_decoder = get_decoder
    C.depayload = rtcrtpreceiver.depayload = depayload
