"""What signaling needs from outside, and the hooks it offers to media.

The server implements ``RoomDirectory`` on top of its Store, keys and Settings
(server/live/); signaling never imports server. ``MediaHooks`` is called by the
live rooms when participants come, go or are muted, and by the media messages'
handlers; the SFU plugs in here (``media_bridge.SfuBridge``; the default does
nothing and answers media messages with an error). docs/architecture.md
"Seams for the cluster".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from .errors import NoMedia


@dataclass(frozen=True)
class RoomInfo:
    """A snapshot of what the live room needs to know about a stored room."""

    room_id: str
    display_name: str = "Room"
    status: str = "open"            # open | active_meeting | closed
    is_locked: bool = False
    mode: str = "normal"            # normal | group
    max_participants: int = 4       # non-viewers
    max_viewers: int = 1000
    config: Mapping[str, Any] = field(default_factory=dict)
    roles: Mapping[str, Any] = field(default_factory=dict)   # per-role permission overrides
    source: Any = field(default=None, compare=False, repr=False)  # the directory's own record (opaque here)
    # the stored room's version (+1 per write): a live room ignores news older than what it has
    version: int = 0
    # meetings that end on time (live/meeting_clock.py): epoch ms / minutes, None = no such rule
    meeting_ends_at: int | None = None      # the end date, when the room's meeting ends at it
    max_duration_minutes: int | None = None
    solo_timeout_minutes: int | None = None
    expires_at: int | None = None           # a Whereby room: end date + 1 h (host powers stop, no new joiner)

    def expired(self, now_ms: int) -> bool:
        return self.expires_at is not None and now_ms >= self.expires_at

    @property
    def chat_enabled(self) -> bool:
        chat = self.config.get("chat") if isinstance(self.config, Mapping) else None
        if isinstance(chat, Mapping) and "enabled" in chat:
            return bool(chat["enabled"])
        return True

    def public(self) -> dict[str, Any]:
        return {"roomId": self.room_id, "roomName": self.display_name, "isLocked": self.is_locked,
                "mode": self.mode, "status": self.status, "config": dict(self.config)}


@dataclass(frozen=True)
class Identity:
    """Who a key says the joiner is. ``role``: host | guest | viewer."""

    role: str
    base_role: str                      # moderator | speaker | viewer
    member_id: str | None = None
    custom_permissions: Mapping[str, bool] = field(default_factory=dict)

    @property
    def is_member(self) -> bool:
        return self.member_id is not None


class RoomDirectory(Protocol):
    async def resolve(self, room_name: str) -> RoomInfo | None:
        """The room with this slug, or None if unknown."""

    async def identify(self, room: RoomInfo, key: str | None) -> Identity | None:
        """The identity a key grants in this room; guest for no key; None if the key matches nothing."""

    async def set_locked(self, room_id: str, locked: bool) -> RoomInfo | None:
        """Persist the lock state; returns the updated room."""

    async def meeting_started(self, room_id: str, room_session_id: str, start_ms: int) -> None: ...

    async def meeting_ended(self, room_id: str, room_session_id: str, start_ms: int, end_ms: int,
                            peak: int, reason: str) -> None: ...


class MediaHooks:
    """Callbacks for the SFU. Every method is optional; these defaults do nothing (the media
    messages are refused: this server has no media). ``participant`` is a live.participant.Participant."""

    async def participant_admitted(self, room_id: str, participant_id: str, participant: Any) -> None:
        return None

    def busy(self) -> bool:
        """True while the SFU is past its forwarding budget (media/load.py): new joins are refused
        with ``server_busy``; participants already in (and resumes) keep going."""
        return False

    async def participant_left(self, room_id: str, participant_id: str, reason: str) -> None:
        return None

    async def participant_muted(self, room_id: str, participant_id: str, kind: str, muted: bool) -> None:
        return None

    async def meeting_ended(self, room_id: str, reason: str) -> None:
        return None

    def ice_servers(self, participant_id: str) -> list[dict[str, Any]]:
        """RTCIceServer dicts handed to this participant in ``joined.iceServers`` (synchronous):
        the SFU's STUN servers and, with TURN configured, short-lived credentials of its own."""
        return []

    def ice_transport_policy(self) -> str:
        """``joined.iceTransportPolicy``: "all" (the default, left out of ``joined``) or "relay"."""
        return "all"

    # --- the media messages (docs/protocol.md "Media (SFU)") ---

    async def publish(self, participant: Any, sdp: str, sources: Mapping[str, Any]) -> str:
        """The SDP answer to the participant's publish offer."""
        raise NoMedia()

    async def subscribe_answer(self, participant: Any, sdp: str) -> None:
        raise NoMedia()

    async def ice(self, participant: Any, pc: str, candidate: Mapping[str, Any] | None) -> None:
        raise NoMedia()
