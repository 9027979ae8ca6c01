"""Every private aiortc / aioice access of the SFU, behind small named functions.

aiortc has no API for forwarding encoded media, so the SFU reaches into its
internals (and aioice's): this package is the only place that does. Outside it,
media/ uses only names exported by the `aiortc` and `aioice` packages
themselves (tests/unit/test_media_aiortc_compat.py checks that).
`check_aiortc()` probes every internal used here and is called once at
`MediaService` start; it fails with the list of what is missing and the
supported range, `SUPPORTED` (pinned in pyproject.toml).

By concern (each module's docstring says how it hooks in):

- receive.py      publish side: the receiver tap (frames to a callback, no decoder
                  thread), jitter buffer reset, PLI, RTX unwrapping
- send.py         subscribe side: sender start, NACK answers, RTCP sender reports,
                  keyframe requests, `send_rtp_now` on the nominated ICE pair, `rtp_route`
- srtp_c.py       the C module (_srtpsend.c, _route.c, _fanout.c): `Target`, `Unprotect`, and `CCopy` /
                  `c_fan`, media/forward/copy.py's copies in C (None where it was not built)
- negotiation.py  negotiated codecs, msid stream and track ids, closed state, SDP and
                  candidate parsing, a peer connection's aioice connections, host
                  candidates
- gathering.py    host candidates bound on a UDP port range (`gather_in_range`, `bind_udp`), and
                  `guard_datagrams`: only the ICE peer's datagrams reach DTLS/SRTP
- direct.py       `receive_directly`: the peer's SRTP/SRTCP unprotected and handled as it
                  arrives, not through aioice's queue and the DTLS transport's task
- certificates.py `new_peer_connection`: one DTLS certificate (and SSL context) per process,
                  renewed daily, instead of one per peer connection
- idle.py         `add_send_only_transceiver`: subscribe transceivers whose never-started
                  receiver holds no bitrate estimator, NACK generator or video jitter buffer
- addresses.py    `remember_host_addresses`: aioice's interface walk once per 10 s, not
                  once per gathering
- closing.py      `close_peer_connection`: a close during connect leaves no failed
                  connect task unretrieved and no aioice consent task running
- consent.py      `install_lag_tolerant_consent`: aioice's ICE consent check does not expire a
                  healthy peer because our own event loop was late
- remb.py         `on_remb` / `off_remb` (a subscriber's REMB on a sender), `override_remb` / `send_remb`
                  (the REMB a publish-side receiver sends); aiortc has no transport-cc
- preencoded.py   `send_preencoded` for aiortc peers of tests and benchmarks
- probe.py        `check_aiortc`, `AiortcIncompatible`, `SUPPORTED`

Import from the package (`from media import aiortc_compat as compat`), not
from its modules.
"""

from __future__ import annotations

from .certificates import SharedCertificate, new_peer_connection, peer_certificate, shared_certificate
from .closing import close_peer_connection
from .direct import direct_receiver, receive_directly
from .consent import install_lag_tolerant_consent
from .addresses import fresh_host_addresses, remember_host_addresses
from .idle import SendOnlyReceiver, add_send_only_transceiver
from .gathering import bind_udp, gather_in_range, guard_datagrams
from .negotiation import (
    Candidate,
    SessionDescription,
    host_addresses,
    host_candidate,
    ice_connections,
    is_closed,
    negotiated_codecs,
    parse_candidate,
    parse_sdp,
    set_negotiated_codecs,
    set_stream_id,
    set_track_id,
)
from .preencoded import h264_payloads, send_preencoded, vp8_payloads
from .probe import SUPPORTED, AiortcIncompatible, check_aiortc
from .remb import off_remb, on_remb, override_remb, send_remb
from .receive import TimestampMapper, declared_ssrcs, reset_jitter_buffer, rtp_only, send_pli, tap_receiver, unwrap_rtx
from .srtp_c import Copy as CCopy, fan as c_fan
from .send import (
    RtpSend,
    answer_nacks,
    on_keyframe_request,
    on_send_started,
    report_sent,
    report_slots,
    rtp_route,
    rtp_send_function,
    send_rtp_now,
    sender_rtt,
    sender_ssrc,
)

__all__ = [
    "SUPPORTED",
    "AiortcIncompatible",
    "RtpSend",
    "Candidate",
    "SendOnlyReceiver",
    "SessionDescription",
    "SharedCertificate",
    "TimestampMapper",
    "add_send_only_transceiver",
    "answer_nacks",
    "bind_udp",
    "check_aiortc",
    "close_peer_connection",
    "declared_ssrcs",
    "direct_receiver",
    "fresh_host_addresses",
    "install_lag_tolerant_consent",
    "gather_in_range",
    "guard_datagrams",
    "h264_payloads",
    "host_addresses",
    "host_candidate",
    "ice_connections",
    "is_closed",
    "negotiated_codecs",
    "new_peer_connection",
    "on_keyframe_request",
    "off_remb",
    "on_remb",
    "on_send_started",
    "override_remb",
    "parse_candidate",
    "parse_sdp",
    "peer_certificate",
    "remember_host_addresses",
    "report_sent",
    "report_slots",
    "rtp_route",
    "CCopy",
    "c_fan",
    "reset_jitter_buffer",
    "receive_directly",
    "rtp_only",
    "send_pli",
    "send_preencoded",
    "send_remb",
    "rtp_send_function",
    "send_rtp_now",
    "sender_rtt",
    "sender_ssrc",
    "set_negotiated_codecs",
    "set_stream_id",
    "set_track_id",
    "shared_certificate",
    "tap_receiver",
    "unwrap_rtx",
    "vp8_payloads",
]
