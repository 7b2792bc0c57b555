"""Capture transport-cc traffic of an aiortc 1.16 sender (test tool, monkeypatch).

    import twcc_capture
    twcc_capture.install("/tmp/run/rtcp.hex")        # before createOffer()
    ... run the aiortc peer ...
    twcc_reader.py --file /tmp/run/rtcp.hex          # flowrec's feedback, parsed

install(path, enable_twcc=True, ext_id=5):
  * every incoming RTCP compound, after SRTCP decryption and before aiortc parses
    it, is appended to PATH as one hex line. Hook: RTCDtlsTransport._handle_rtcp_data
    (aiortc/rtcdtlstransport.py), called from RTCDtlsTransport._recv_next right after
    self._rx_srtp.unprotect_rtcp(data). Captured even when aiortc's own parser
    rejects the compound (it drops the whole compound on any error).
  * every RTP packet aiortc sends is logged to PATH + ".sent" as one line
    "TWSEQ SEND_US": its transport-wide sequence number (0..65535) and
    time.monotonic_ns() // 1000 taken immediately before SRTP protection and the
    ICE send. Hook: RTCDtlsTransport._send_rtp. Packets without the extension
    (transport-cc not negotiated) are not logged. RTX retransmissions are stamped
    and logged like any other packet.

aiortc 1.16 on its own neither offers transport-cc nor writes the extension:
aiortc.codecs.HEADER_EXTENSIONS has only sdes:mid, ssrc-audio-level and
abs-send-time, no codec carries rtcp-fb transport-cc, and RTCRtpSender._run_rtp
never sets packet.extensions.transport_sequence_number (HeaderExtensionsMap in
aiortc/rtp.py can read and write it, nothing fills it). So with enable_twcc=True
(the default) install() also
  * adds a=extmap:EXT_ID http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
    to HEADER_EXTENSIONS["audio"] and ["video"] (same id in both, BUNDLE shares
    the id space; the id must not be used by another extension),
  * adds a=rtcp-fb:PT transport-cc to every non-RTX codec in aiortc.codecs.CODECS,
    again at each createOffer()/setRemoteDescription() so codecs registered later
    (vp9_rtp.register()) get it too,
  * stamps the extension in RTCDtlsTransport._send_rtp: the packet is re-parsed
    with the transport's header extension map, given the next number of a
    counter kept per RTCDtlsTransport (one counter for all streams bundled on it,
    starting at 0, +1 per packet, wrapping at 65536), and re-serialised. Only
    when the extension was negotiated (the map knows its id) and the packet does
    not carry one already.

The files are opened in append mode, line-buffered; install() creates both.
Calling install() again re-points the capture to the new path (hooks are
installed once). uninstall() restores aiortc's functions (the codec/extension
table additions stay).
"""

import os
import time

TWCC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

_state = {
    "installed": False,
    "rtcp": None,        # file object for incoming RTCP hex lines
    "sent": None,        # file object for "twseq send_us" lines
    "enable": False,
    "ext_id": None,
    "orig": {},
}


def _open(path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    return open(path, "a", buffering=1, encoding="ascii")


def _add_feedback_to_codecs():
    from aiortc.codecs import CODECS, is_rtx
    from aiortc.rtcrtpparameters import RTCRtcpFeedback

    fb = RTCRtcpFeedback(type="transport-cc")
    for kind in CODECS:
        for codec in CODECS[kind]:
            if not is_rtx(codec) and fb not in codec.rtcpFeedback:
                codec.rtcpFeedback.append(fb)


def _add_header_extension(ext_id):
    from aiortc.codecs import HEADER_EXTENSIONS
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

    for kind, exts in HEADER_EXTENSIONS.items():
        for e in exts:
            if e.id == ext_id and e.uri != TWCC_URI:
                raise ValueError(f"header extension id {ext_id} already used by {e.uri}")
    for kind in ("audio", "video"):
        exts = HEADER_EXTENSIONS[kind]
        if not any(e.uri == TWCC_URI for e in exts):
            exts.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=TWCC_URI))


def _twcc_id(ext_map):
    # HeaderExtensionsMap keeps its ids in a name-mangled HeaderExtensions instance
    ids = getattr(ext_map, "_HeaderExtensionsMap__ids", None)
    return getattr(ids, "transport_sequence_number", None) if ids is not None else None


def install(path, enable_twcc=True, ext_id=5):
    """Start capturing (see module docstring). Call before createOffer()."""
    from aiortc import rtcdtlstransport
    from aiortc.rtcpeerconnection import RTCPeerConnection
    from aiortc.rtp import RtpPacket, is_rtcp

    for key in ("rtcp", "sent"):
        if _state[key] is not None:
            _state[key].close()
    _state["rtcp"] = _open(path)
    _state["sent"] = _open(path + ".sent")
    _state["enable"] = enable_twcc
    _state["ext_id"] = ext_id
    if enable_twcc:
        _add_header_extension(ext_id)
        _add_feedback_to_codecs()
    if _state["installed"]:
        return

    T = rtcdtlstransport.RTCDtlsTransport
    orig = _state["orig"]
    orig["handle_rtcp"] = T._handle_rtcp_data
    orig["send_rtp"] = T._send_rtp
    orig["create_offer"] = RTCPeerConnection.createOffer
    orig["set_remote"] = RTCPeerConnection.setRemoteDescription

    async def _handle_rtcp_data(self, data):
        f = _state["rtcp"]
        if f is not None:
            f.write(bytes(data).hex() + "\n")
        await orig["handle_rtcp"](self, data)

    async def _send_rtp(self, data):
        f = _state["sent"]
        if not is_rtcp(data) and self._state == rtcdtlstransport.State.CONNECTED:
            ext_map = self._rtp_header_extensions_map
            if _twcc_id(ext_map):
                packet = RtpPacket.parse(data, ext_map)
                seq = packet.extensions.transport_sequence_number
                if seq is None and _state["enable"]:
                    seq = getattr(self, "_twcc_capture_next", 0)
                    self._twcc_capture_next = (seq + 1) & 0xFFFF
                    packet.extensions.transport_sequence_number = seq
                    data = packet.serialize(ext_map)
                if seq is not None and f is not None:
                    f.write(f"{seq} {time.monotonic_ns() // 1000}\n")
        await orig["send_rtp"](self, data)

    async def createOffer(self, *args, **kwargs):
        if _state["enable"]:
            _add_feedback_to_codecs()
        return await orig["create_offer"](self, *args, **kwargs)

    async def setRemoteDescription(self, *args, **kwargs):
        if _state["enable"]:
            _add_feedback_to_codecs()
        return await orig["set_remote"](self, *args, **kwargs)

    T._handle_rtcp_data = _handle_rtcp_data
    T._send_rtp = _send_rtp
    RTCPeerConnection.createOffer = createOffer
    RTCPeerConnection.setRemoteDescription = setRemoteDescription
    _state["installed"] = True


def uninstall():
    """Restore aiortc's functions and close the files."""
    if not _state["installed"]:
        return
    from aiortc import rtcdtlstransport
    from aiortc.rtcpeerconnection import RTCPeerConnection

    orig = _state["orig"]
    T = rtcdtlstransport.RTCDtlsTransport
    T._handle_rtcp_data = orig["handle_rtcp"]
    T._send_rtp = orig["send_rtp"]
    RTCPeerConnection.createOffer = orig["create_offer"]
    RTCPeerConnection.setRemoteDescription = orig["set_remote"]
    for key in ("rtcp", "sent"):
        if _state[key] is not None:
            _state[key].close()
            _state[key] = None
    _state["installed"] = False
