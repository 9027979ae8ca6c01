"""The contract of the media layer: what signaling (and the recorder) may call.

`media` knows nothing of websockets, roles or JSON. Signaling owns one
`MediaService` (built from a `MediaConfig`), opens one `MediaRoom` per live
meeting and drives it with plain method calls; the room reports back through
listeners that receive the typed events defined here.

Per participant there are two peer connections (docs/architecture.md "Paths: a knock, an RTP packet"):

* publish: the client offers, the server answers  -> `MediaRoom.publish()`;
* subscribe: the server offers (`SubscribeOffer` event), the client answers
  -> `MediaRoom.subscribe_answer()`. The server re-offers whenever
  publications come and go; offers are serialized (one outstanding at a time).

Media is forwarded encoded (no decoder, no encoder on the server). Every
subscriber of a publication receives the publisher's codec.

Recording is "just another subscriber": `MediaRoom.attach_sink(sink)` hands a
`FrameSink` every encoded frame of every publication (including ones published
later) with its RTP timestamp, keyframe flag and codec, and a
`SinkHandle.request_keyframe()` to ask publishers for a keyframe.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Literal, Mapping, Optional, Protocol, Union

# --- sources and permissions -------------------------------------------------

Source = Literal["microphone", "camera", "screen"]
SOURCES: tuple[str, ...] = ("microphone", "camera", "screen")
SOURCE_KIND: Mapping[str, str] = MappingProxyType({"microphone": "audio", "camera": "video", "screen": "video"})
# permission name (as used by signaling: canPublishAudio/Video, canShareScreen)
SOURCE_PERMISSION: Mapping[str, str] = MappingProxyType({"microphone": "audio", "camera": "video", "screen": "screen"})
PERMISSIONS: frozenset[str] = frozenset({"audio", "video", "screen"})

ConnectionName = Literal["publish", "subscribe"]


# --- configuration -------------------------------------------------------------


@dataclass(frozen=True)
class MediaConfig:
    """How the SFU talks ICE and which codecs it accepts.

    ice_servers: STUN/TURN URLs, exactly as `Settings.ice_servers`
        ("stun:host:3478", "turn:user:pass@host:3478?transport=udp",
        "turns:..."). Empty by default: aiortc's default public STUN server is
        never used.
    public_ip: announced in ICE candidates next to each host candidate (hosts
        behind a 1:1 NAT).
    loopback_candidates: also gather 127.0.0.1 host candidates (aioice skips
        loopback). "auto" = only when the host has no other IPv4 address.
    udp_ports: (first, last): ICE host sockets bind on UDP ports in that range
        (each worker or node on one machine its own); None = ports the OS picks.
    video_codecs: accepted video codecs ("VP8", "H264"); among them the
        publisher's offer order decides.

    Each RTP packet is rewritten and forwarded to every subscriber as it
    arrives (media/forward/packet.py).
    """

    ice_servers: tuple[str, ...] = ()
    public_ip: str = ""
    loopback_candidates: Union[bool, Literal["auto"]] = "auto"
    udp_ports: Optional[tuple[int, int]] = None
    video_codecs: tuple[str, ...] = ("VP8", "H264")
    # keyframe requests (PLI) to a publisher: minimum gap, and retry period
    keyframe_min_interval: float = 0.25
    # ... and at least this many seconds per subscriber of the publication (docs/architecture.md "Keyframes":
    # each newcomer asks for a keyframe, and every keyframe goes to every subscriber)
    keyframe_interval_per_subscriber: float = 0.005
    keyframe_retry_interval: float = 0.5
    # active speaker events at most this often
    active_speaker_interval: float = 0.25


# --- errors -------------------------------------------------------------------


class MediaError(Exception):
    """A media request was refused; nothing changed. `code` is stable."""

    code = "media_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownParticipant(MediaError):
    code = "unknown_participant"


class NotAllowed(MediaError):
    code = "not_allowed"


class BadDescription(MediaError):
    """Malformed SDP, wrong type, unlabelled or duplicated sources, no common codec."""

    code = "bad_description"


class WrongState(MediaError):
    """E.g. a subscribe answer with no offer outstanding, or a closed room."""

    code = "wrong_state"


# --- what is published ----------------------------------------------------------


@dataclass(frozen=True)
class PublicationInfo:
    publication_id: str  # unique within the room; also the msid track id subscribers see
    participant_id: str
    source: str  # microphone | camera | screen
    kind: str  # audio | video
    codec: str  # mime type, e.g. "video/VP8", "video/H264", "audio/opus"
    clock_rate: int
    muted: bool = False


class EncodedFrame:
    """One complete encoded frame as received from a publisher.

    timestamp: the RTP timestamp, unwrapped to a monotonic int (not rebased).
    arrival: time.monotonic() when the frame was complete on the server.
    """

    __slots__ = ("data", "timestamp", "keyframe", "arrival")

    def __init__(self, data: bytes, timestamp: int, keyframe: bool, arrival: float) -> None:
        self.data = data
        self.timestamp = timestamp
        self.keyframe = keyframe
        self.arrival = arrival


# --- events to signaling ---------------------------------------------------------


@dataclass(frozen=True)
class SubscribeOffer:
    """Send this SDP offer to the participant; expect `subscribe_answer`.

    tracks: mid -> what it carries (publisher, source), for layout. Mids of
    ended publications are absent (their m-lines are inactive).
    """

    participant_id: str
    sdp: str
    tracks: Mapping[str, PublicationInfo]


@dataclass(frozen=True)
class IceFailed:
    """A peer connection of this participant failed (ICE/DTLS) or was closed by the
    peer; signaling should remove them."""

    participant_id: str
    connection: str  # publish | subscribe


@dataclass(frozen=True)
class ActiveSpeaker:
    """Room-wide: the loudest participant changed (at most 4 per second)."""

    participant_id: str


@dataclass(frozen=True)
class PublicationsChanged:
    """Room-wide: the set of publications or their muted flags changed."""

    publications: tuple[PublicationInfo, ...]


MediaEvent = Union[SubscribeOffer, IceFailed, ActiveSpeaker, PublicationsChanged]
Listener = Callable[[MediaEvent], None]
"""Listeners are called synchronously on the event loop; they must not block
(post to a queue). Exceptions raised by a listener are logged and ignored."""


# --- recorder interface ("just another subscriber") ------------------------------


class FrameSink(Protocol):
    """Receives every encoded frame of every publication of a room.

    Called synchronously on the event loop, in arrival order per publication.
    A muted publication delivers nothing. `on_publication_added` is called for
    every publication existing at attach time, then for each later one.

    Optional: a sink that defines `on_room_closed(reason: str)` is told when the
    media room closes (after it was detached), so a recorder can finalize its
    file when the meeting ends (media/recording/recorder.py).
    """

    def on_publication_added(self, publication: PublicationInfo) -> None: ...

    def on_frame(self, publication_id: str, frame: EncodedFrame) -> None: ...

    def on_publication_removed(self, publication_id: str) -> None: ...


class SinkHandle(Protocol):
    def request_keyframe(self, publication_id: Optional[str] = None) -> None:
        """Ask the publisher(s) of one (or every) video publication for a keyframe."""

    def detach(self) -> None:
        """Stop delivering frames; idempotent."""


# --- the service -------------------------------------------------------------------


class MediaRoomPort(Protocol):
    def add_participant(self, participant_id: str, allowed: frozenset[str], listener: Listener,
                        *, subscribe: bool = True) -> None:
        """Register a participant. `allowed` is a subset of PERMISSIONS (empty for viewers);
        `subscribe` False: publish-only, it is never offered anything (no subscribe connection)."""

    def has_participant(self, participant_id: str) -> bool: ...

    def set_allowed(self, participant_id: str, allowed: frozenset[str]) -> None:
        """Replace the publish permissions (a subset of PERMISSIONS); used by the next publish."""

    async def publish(self, participant_id: str, sdp_offer: str, sources: Mapping[str, str]) -> str:
        """Apply an offer on the publish connection and return the SDP answer.

        sources maps a mid or a msid track id to 'microphone' | 'camera' | 'screen'.
        Unlabelled audio defaults to microphone, a single unlabelled video to camera.
        Raises NotAllowed / BadDescription / UnknownParticipant; nothing changes then.
        """

    async def subscribe_answer(self, participant_id: str, sdp: str) -> None: ...

    async def add_ice_candidate(self, participant_id: str, connection: str, candidate: Mapping[str, object]) -> None:
        """candidate: {"candidate": "candidate:...", "sdpMid": ..., "sdpMLineIndex": ...};
        an empty/None candidate means end of candidates."""

    def set_muted(self, participant_id: str, source: str, muted: bool) -> bool:
        """Stop/resume forwarding a source. Returns True if something changed."""

    def publications(self) -> tuple[PublicationInfo, ...]: ...

    def attach_sink(self, sink: FrameSink, *, want_keyframes: bool = True) -> SinkHandle: ...

    async def remove_participant(self, participant_id: str, reason: str = "left") -> None:
        """Idempotent. Their publications vanish from every subscriber (re-offer)."""

    async def restart_subscriptions(self, participant_id: str) -> None:
        """After a websocket reconnect: re-send the current subscribe offer."""

    async def close(self, reason: str = "closed") -> None:
        """Idempotent; removes everyone."""


class MediaServicePort(Protocol):
    def open_room(self, room_id: str, listener: Optional[Listener] = None) -> MediaRoomPort:
        """Get or create the media room of a live meeting; `listener` gets room-wide events."""

    def get_room(self, room_id: str) -> Optional[MediaRoomPort]: ...

    def rtc_ice_servers(self) -> list[dict[str, object]]:
        """The configured ICE servers in the browser's RTCIceServer shape."""

    async def close(self) -> None: ...

