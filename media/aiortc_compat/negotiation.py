"""Negotiation and ICE: a transceiver's negotiated codecs, a sender's msid stream
id, a track's id, whether a peer connection is closed, SDP and candidate
parsing, and the aioice connections of a peer connection (media/ice.py adds
candidates there) with host candidates made as aioice makes them. Probed by
`probe.check_aiortc`.
"""

from __future__ import annotations

import aioice
import aioice.candidate
import aioice.ice
import aiortc
import aiortc.sdp
from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpSender, RTCRtpTransceiver

_PC = "_RTCPeerConnection__"  # name-mangled private attributes of RTCPeerConnection

SessionDescription = aiortc.sdp.SessionDescription  # parsed SDP (media/sources.py)
Candidate = aioice.Candidate


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs (payload types) of the transceiver's m-line in the answer being made."""
    return transceiver._codecs


def set_negotiated_codecs(transceiver: RTCRtpTransceiver, codecs: list[RTCRtpCodecParameters]) -> None:
    """Narrow what the next answer accepts on this m-line (after setRemoteDescription)."""
    transceiver._codecs = codecs


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id the subscriber sees (subscribe offers use the publisher's id)."""
    sender._stream_id = stream_id


def set_track_id(track: aiortc.MediaStreamTrack, track_id: str) -> None:
    """The msid track id; set before the track is given to a sender."""
    track._id = track_id  # type: ignore[attr-defined]


def is_closed(pc: RTCPeerConnection) -> bool:
    return bool(getattr(pc, _PC + "isClosed", None))


def parse_sdp(text: str) -> SessionDescription:
    return aiortc.sdp.SessionDescription.parse(text)


def parse_candidate(text: str) -> aiortc.RTCIceCandidate:
    """'candidate:...' SDP attribute value (without the prefix) -> RTCIceCandidate."""
    return aiortc.sdp.candidate_from_sdp(text)


# --- ICE ------------------------------------------------------------------------------


def ice_connections(pc: RTCPeerConnection) -> list[aioice.Connection]:
    """The aioice connections behind the peer connection's ICE transports."""
    return [t.iceGatherer._connection for t in list(getattr(pc, _PC + "iceTransports"))]


def host_addresses() -> list[str]:
    """The IPv4 addresses aioice gathers host candidates on (it skips loopback)."""
    return aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def host_candidate(component: int, host: str, port: int, priority_offset: int = 0) -> Candidate:
    """A UDP host candidate as aioice makes them (`priority_offset` lowers its priority)."""
    return Candidate(
        foundation=aioice.candidate.candidate_foundation("host", "udp", host),
        component=component,
        transport="udp",
        priority=aioice.candidate.candidate_priority(component, "host") - priority_offset,
        host=host,
        port=port,
        type="host",
    )
