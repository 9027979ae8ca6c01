"""The SFU: forwards encoded media between aiortc peer connections.

Entry points: `media.ports` (the contract signaling and the recorder use) and
`media.sfu.MediaService` (its implementation). Layout:

- ports.py        MediaConfig, MediaRoomPort / MediaServicePort, events, FrameSink
- sfu.py          MediaService: one MediaRoom per live meeting
- room.py         MediaRoom: participants, publications, recorder sinks, active speaker
- participant.py  a participant's publish and subscribe peer connections, renegotiation
- publication.py  one published track and its fan-out
- packets.py      packet-level forwarding (default): per-subscriber RTP rewrite + SRTP
- forwarding.py   aiortc hooks: receiver tap (frames, no decoder), packers, frame-level path
- keyframes.py    keyframe detection, throttled PLI requester
- speaker.py      active speaker detection (audio level extension)
- sources.py      publish offer validation (sources, permissions, codecs)
- ice.py          ICE servers, loopback host candidates, announced public IP
- recording/      the recorder (a FrameSink; owned separately)

Nothing here imports `signaling` or `server`; nothing is decoded or encoded.
"""
