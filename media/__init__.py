"""The SFU: forwards encoded media between aiortc peer connections.

Entry points: `media.ports` (the contract signaling and the recorder use) and
`media.sfu.MediaService` (its implementation). Layout, top to bottom:

- ports.py         MediaConfig, MediaRoomPort / MediaServicePort, events, FrameSink
- sfu.py           MediaService: one MediaRoom per live meeting; probes aiortc at start
- room.py          MediaRoom: participants, publications, recorder sinks, active speaker;
                   implements the listeners below
- participant.py   a participant's publish and subscribe peer connections, renegotiation;
                   defines ParticipantListener (what it tells its room)
- publication.py   one published track, its subscribers and sinks; defines
                   PublicationListener and Reception
- inbound.py       a publish m-line's tapped receiver (the publication's Reception),
                   RTP timestamp unwrapping
- forward/         to subscribers: packet.py (the forwarding path: per-subscriber RTP
                   rewrite + SRTP), keyframes.py (detection, throttled PLI requests)
- sources.py       publish offer validation (sources, permissions, codecs)
- ice.py           ICE servers, loopback host candidates, announced public IP
- speaker.py       active speaker detection (audio level extension)
- aiortc_compat/   every private aiortc/aioice access, by concern (receive, send,
                   negotiation, preencoded), and the start-up probe (probe.py)
- recording/       the recorder (a FrameSink; owned separately)

Objects talk upward only through listeners (room <- participant <- publication
<- inbound slot); nothing here imports `signaling` or `server`; nothing is
decoded or encoded.
"""
