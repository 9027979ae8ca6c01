"""Fakes for unit tests of the live rooms (tests/unit/test_room_flows*.py): no socket, no store.

``FakeConnection`` is the Connection port (signaling/live/participant.py) in memory: it keeps what the
participant was sent, decoded, and sends requests the way the websocket actor does (parse against the
hub's registry, ``hub.handle``, an ``error`` message for a SignalingError). ``MemoryDirectory`` is a
RoomDirectory over dicts. ``Clock`` is a settable clock for cooldowns.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

from signaling.errors import SignalingError
from signaling.live.hub import Hub
from signaling.live.participant import Participant
from signaling.ports import Identity, RoomInfo
from signaling.wire.codec import Codec, EncodeError
from signaling.wire.protocol import parse, request_id

HOST = Identity(role="host", base_role="moderator")
GUEST = Identity(role="guest", base_role="speaker")
VIEWER = Identity(role="viewer", base_role="viewer")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemoryDirectory:
    """Rooms by name; keys "host" and "viewer" (and "member:<id>") identify; no key is a guest."""

    def __init__(self, *rooms: RoomInfo) -> None:
        self.rooms = {r.room_id: r for r in rooms}
        self.members: dict[str, Identity] = {}
        self.started: list[tuple[str, str]] = []
        self.ended: list[tuple[str, str, str]] = []

    async def resolve(self, room_name: str) -> RoomInfo | None:
        return self.rooms.get(room_name)

    async def identify(self, room: RoomInfo, key: str | None) -> Identity | None:
        if not key:
            return GUEST
        return {"host": HOST, "viewer": VIEWER}.get(key) or self.members.get(key)

    async def set_locked(self, room_id: str, locked: bool) -> RoomInfo | None:
        info = self.rooms.get(room_id)
        if info is None:
            return None
        info = self.rooms[room_id] = dataclasses.replace(info, is_locked=locked, version=info.version + 1)
        return info

    async def meeting_started(self, room_id: str, room_session_id: str, start_ms: int) -> None:
        self.started.append((room_id, room_session_id))

    async def meeting_ended(self, room_id: str, room_session_id: str, start_ms: int, end_ms: int,
                            peak: int, reason: str) -> None:
        self.ended.append((room_id, room_session_id, reason))


class FakeConnection:
    """One client's connection to the hub, in memory."""

    _ids = itertools.count(1)

    def __init__(self, hub: Hub, remote: str = "10.0.0.1", binary: bool = False) -> None:
        self.hub = hub
        self.remote = remote
        self.codec = Codec(binary, 64 * 1024)
        self.participant: Participant | None = None
        self.inbox: list[dict[str, Any]] = []
        self.dropped: list[str] = []        # types of messages the codec could not encode (not sent)
        self.closed = False
        hub.connect(self)

    # --- the Connection port ---

    def bind(self, participant: Participant | None) -> None:
        self.participant = participant

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if self.closed:
            return
        if isinstance(message, dict):
            try:        # as the websocket writer: a message that cannot be encoded is dropped
                message = self.codec.encode(message)
            except EncodeError:
                self.dropped.append(str(message.get("type")))
                return
        if isinstance(message, str):
            self.inbox.append(json.loads(message))
        else:
            self.inbox.append(self.codec.decode_binary(message))

    def close(self, message: dict[str, Any] | None = None) -> None:
        if message is not None:
            self.send(message)
        self.closed = True

    # --- what a client does ---

    async def request(self, msg_type: str, **fields: Any) -> dict[str, Any]:
        """Send a message with an id; the reply that echoes it (``ok``, ``error``, ``joined``...)."""
        rid = f"r{next(self._ids)}"
        await self.frame({"type": msg_type, "id": rid, **fields})
        replies = [m for m in self.inbox if m.get("id") == rid]
        assert replies, f"no reply to {msg_type}: {self.types()}"
        return replies[-1]

    async def frame(self, obj: Any) -> None:
        """One decoded frame, handled as the websocket actor handles it."""
        assert not self.closed, "this connection is closed"
        try:
            req = parse(obj, self.hub.messages.spec)
            if self.participant is not None:
                await self.hub.handle(self.participant, req)
        except SignalingError as err:
            self.send(err.to_message(request_id(obj)))

    def drop(self, reason: str = "disconnected") -> None:
        """The network drops the connection (no ``leave``): the hub is told, as the actor tells it."""
        participant, self.participant = self.participant, None
        self.closed = True
        if participant is not None:
            self.hub.disconnected(participant, reason)

    # --- reading what arrived ---

    def types(self) -> list[str]:
        return [m["type"] for m in self.inbox]

    def last(self, msg_type: str) -> dict[str, Any]:
        found = [m for m in self.inbox if m["type"] == msg_type]
        assert found, f"no {msg_type} among {self.types()}"
        return found[-1]

    def take(self) -> list[dict[str, Any]]:
        taken, self.inbox = self.inbox, []
        return taken
