"""A participant of a room, and the Connection port it speaks through.

docs/architecture.md "Objects and ownership": a ``Participant`` is who someone
is on this node: its id, display name, identity, role and permissions, mute
state, its knock while it waits, its resume token. It holds a ``Connection``
(send, close; the peer's address and codec), never a socket: the websocket
actor (``transport/websocket.py``) is one implementation, the unit tests' fake
another, a relay to another node the next. A resume hands the new connection
to the participant that held the token (``attach``) instead of copying fields.

docs/architecture.md "Life cycles" (the participant)::

    connected --join: enters--> joined
    connected --join: knocks--> knocking --admitted--> joined
    knocking --rejected / cancelled--> connected       (may join again)
    joined --sent to the waiting room--> knocking
    any --left, kicked, ended, gone, grace expired--> closed   (final)

While joined or knocking the connection may be *away*: it dropped without
``leave`` and the place (or the knock) is kept for the reconnect grace
(``connection`` is None, ``away`` is true) until a resume attaches a new one.
"""

from __future__ import annotations

import secrets
from types import MappingProxyType
from typing import Any, Mapping, Protocol

import structlog

from ..ports import Identity
from ..rules.waiting_room import Knock
from ..wire.registry import CONNECTED, JOINED, KNOCKING
from ..wire.text import name_skeleton

log = structlog.get_logger("antechamber.signaling")

CLOSED = "closed"
STATES = (CONNECTED, KNOCKING, JOINED, CLOSED)
_NEXT = {
    CONNECTED: frozenset({KNOCKING, JOINED, CLOSED}),
    KNOCKING: frozenset({JOINED, CONNECTED, CLOSED}),
    JOINED: frozenset({KNOCKING, CLOSED}),
    CLOSED: frozenset(),
}


class Encoder(Protocol):
    """What a connection encodes frames with (``wire.codec.Codec``); rooms encode a broadcast once per name."""

    @property
    def name(self) -> str: ...

    def encode(self, message: dict[str, Any]) -> str | bytes: ...

    def encode_with_list(self, message: dict[str, Any], key: str, parts: list[Any]) -> str | bytes: ...


class Connection(Protocol):
    """The port a participant speaks through. Never blocks; never raises for a gone peer."""

    remote: str            # the peer's address (rate limits and cooldowns), "" if unknown
    codec: Encoder

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        """Queue a message, or a frame already encoded with ``codec``."""

    def close(self, message: dict[str, Any] | None = None) -> None:
        """Send ``message`` (if any) and end the connection."""

    def bind(self, participant: "Participant | None") -> None:
        """The participant this connection now speaks for (None: nobody; it is being replaced)."""


class RoomRef(Protocol):
    """The room a participant is in or knocking at (a ``live.room.LiveRoom``)."""

    @property
    def room_id(self) -> str: ...


# What ``public()`` is made of: setting any of these drops the cached one (``__setattr__``).
_PUBLIC_FIELDS = frozenset({"participant_id", "display_name", "role", "muted", "joined_at_ms", "connection",
                            "state"})


class Participant:
    __slots__ = ("participant_id", "connection", "ip", "state", "room", "display_name", "external_id", "metadata",
                 "subscribes", "identity", "permissions", "role", "knock", "muted", "joined_at_ms",
                 "resume_token", "_public", "_public_frames", "__weakref__")

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _PUBLIC_FIELDS:
            object.__setattr__(self, "_public", None)
            object.__setattr__(self, "_public_frames", None)

    def __init__(self, connection: Connection | None) -> None:
        """``connection`` None: an away participant (rebuilt from a snapshot: live/snapshot.py)."""
        self.participant_id = "p_" + secrets.token_urlsafe(9)
        self.connection: Connection | None = None
        self.ip = ""
        self.state = CONNECTED
        self.room: RoomRef | None = None
        self.display_name = ""
        self.external_id: str | None = None   # join's externalId / metadata (URL parameters, docs/embed.md)
        self.metadata: str | None = None
        self.subscribes = True   # join's `subscribe`: False for a publish-only connection (no media offered)
        self.identity: Identity | None = None
        self.permissions: dict[str, bool] = {}
        self.role = ""
        self.knock: Knock | None = None   # while knocking (and, decided while away, until it resumes)
        # read-only: a change is a new mapping (``set_muted``), so that the cached public() is dropped
        self.muted: Mapping[str, bool] = MappingProxyType({"audio": False, "video": False, "screen": False})
        self.joined_at_ms = 0
        self.resume_token: str | None = None   # secret; only ever sent to this participant (live/resume.py)
        if connection is not None:
            self.attach(connection)

    def __repr__(self) -> str:
        return f"<Participant {self.participant_id} {self.state}{' away' if self.away else ''}>"

    # --- state ---------------------------------------------------------------------------

    @property
    def room_id(self) -> str:
        """The id of the room this participant is in or knocking at ("" before a join)."""
        return self.room.room_id if self.room is not None else ""

    @property
    def away(self) -> bool:
        """Its connection dropped; its place or knock is kept for the reconnect grace."""
        return self.connection is None and self.state in (JOINED, KNOCKING)

    def set_state(self, new: str) -> None:
        if new == self.state:
            return
        if new not in _NEXT[self.state]:
            raise ValueError(f"participant state {self.state} -> {new}")
        log.debug("participant state", participant_id=self.participant_id, change=f"{self.state} -> {new}")
        self.state = new

    def identify(self, identity: Identity, permissions: dict[str, bool], role: str | None = None) -> None:
        """Who a key (or a host's promote / demote, or a member update) says this participant is."""
        self.identity, self.permissions, self.role = identity, permissions, role or identity.role

    def can(self, permission: str) -> bool:
        return bool(self.permissions.get(permission))

    def set_muted(self, **muted: bool) -> None:
        """Change the mute state of some kinds (``audio``, ``video``, ``screen``)."""
        self.muted = MappingProxyType({**self.muted, **muted})

    def public(self) -> dict[str, Any]:
        """What everyone in the room sees of this participant. Shared, not a copy: do not change it. Kept
        until one of ``_PUBLIC_FIELDS`` is set: a join into a room of N sends the N entries of its roster,
        and building (two dicts each) and encoding them anew was most of a join's CPU (N = 300: 1.6-1.8
        ms, 0.44-0.47 with the entries kept, ``public_frame``; at N = 500 the 50 joins of a burst caused
        50 collections, now 1: bench/join_cost.py; docs/architecture.md "The event loop, shared")."""
        info = self._public
        if info is None:
            info = {"participantId": self.participant_id, "displayName": self.display_name, "role": self.role,
                    "muted": dict(self.muted), "joinedAt": self.joined_at_ms}
            if self.away:
                info["connection"] = "reconnecting"
            self._public = info
        return info

    def public_frame(self, codec: Encoder) -> str | bytes:
        """``public()`` encoded with ``codec``, kept as long as ``public()`` is (a ``joined``'s roster is
        joined from these: signaling/wire/codec.py ``encode_with_list``); raises EncodeError."""
        frames = self._public_frames
        if frames is None:
            frames = self._public_frames = {}
        frame = frames.get(codec.name)
        if frame is None:
            frame = frames[codec.name] = codec.encode(self.public())
        return frame

    def cooldown_keys(self, room_id: str) -> tuple[Any, ...]:
        """What a rejection is remembered by: this participant, and (address, name skeleton): "Rex",
        "rex", "R\u200bex", "Ｒｅｘ" and "Rex." share one cooldown (docs/protocol.md "Rate limits and
        cooldowns")."""
        return (("participant", room_id, self.participant_id),
                ("name", room_id, self.ip, name_skeleton(self.display_name)))

    # --- the connection ------------------------------------------------------------------

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if self.connection is not None:
            self.connection.send(message)

    def close(self, message: dict[str, Any] | None = None) -> None:
        if self.connection is not None:
            self.connection.close(message)

    def end(self, reason: str, message: str | None = None) -> None:
        """Tell it ``ended`` and close its connection; closed is final."""
        msg: dict[str, Any] = {"type": "ended", "reason": reason}
        if message:
            msg["message"] = message
        self.close(msg)
        self.set_state(CLOSED)

    def attach(self, connection: Connection) -> Connection | None:
        """Speak through ``connection`` from now on; returns the one it replaces (still open, or None)."""
        stale, self.connection = self.connection, connection
        connection.bind(self)
        self.ip = connection.remote
        if stale is None or stale is connection:
            return None
        stale.bind(None)
        return stale

    def take_connection_of(self, fresh: "Participant") -> None:
        """A resume: ``fresh`` (a new connection that has not joined) hands its connection to this
        participant, which held the token, and is closed; a connection this one still had (half-open)
        is told ``ended {reason: resumed_elsewhere}``: the token's new connection wins."""
        connection = fresh.detach()
        assert connection is not None
        fresh.set_state(CLOSED)
        stale = self.attach(connection)
        if stale is not None:
            stale.close({"type": "ended", "reason": "resumed_elsewhere"})

    def detach(self) -> Connection | None:
        """The connection is gone (or handed to another participant): nothing is sent any more."""
        connection, self.connection = self.connection, None
        return connection
