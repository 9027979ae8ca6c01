"""The Store interface. Two implementations (sqlite, redis) pass tests/contract.

All methods are coroutines. Pagination is keyset-based: a page carries an
opaque ``next_token`` (None on the last page) that continues the same query.

Rooms are versioned (``Room.version``: 1 when created, +1 on every write) and written only
by compare-and-set: ``modify_room`` applies a change to the room as stored now (see
server/store/cas.py). There is no blind whole-room write, so no writer can put back a stale
room over another's change, in this process or another one sharing the store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Generic, Literal, Protocol, TypeVar

from .outbox_records import Delivery, DeliveryQuery
from .records import Meeting, Member, Participation, Recording, Room

RoomSort = Literal["creationDate", "roomName", "autoDeletionDate"]
RecordingSort = Literal["startDate", "duration", "size"]
NameMode = Literal["exact", "prefix", "partial", "regex"]


class StoreError(Exception):
    """Base of store errors."""


class AlreadyExists(StoreError):
    """An id (room id, member id...) is taken."""


class StoreConflict(StoreError):
    """A compare-and-set write of a room kept losing to other writers (bounded retries ran out)."""


class PatternTooSlow(ValueError):
    """A ``regex`` name filter ran past its time budget for the listing (the caller answers 422)."""


class InvalidToken(StoreError):
    """A pagination token that this store did not hand out (or for another query)."""


@dataclass(frozen=True)
class RoomQuery:
    room_name: str | None = None      # matched against the display name as room_name_mode says
    room_name_mode: NameMode = "exact"    # exact | prefix | partial | regex (OpenVidu Meet's roomNameMatchMode)
    room_name_case_insensitive: bool = False
    status: str | None = None
    sort_field: RoomSort = "creationDate"
    sort_order: Literal["asc", "desc"] = "desc"
    limit: int = 10
    token: str | None = None
    api: str | None = None            # only rooms created by this API surface


@dataclass(frozen=True)
class RecordingQuery:
    room_id: str | None = None
    status: str | None = None
    sort_field: RecordingSort = "startDate"
    sort_order: Literal["asc", "desc"] = "desc"
    limit: int = 10
    token: str | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


class Store(Protocol):
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...

    # rooms
    async def create_room(self, room: Room) -> None: ...          # AlreadyExists; stored (and room.version set) as version 1
    async def get_room(self, room_id: str) -> Room | None: ...

    async def modify_room(self, room_id: str, change: Callable[[Room], T]) -> tuple[Room, T] | None:
        """Apply ``change`` (mutating the Room it is given, returning anything) to a copy of the
        stored room and write it if the stored version is still the one read; on a conflict read
        again and re-apply. Returns (the room as stored after the write, change's result), or None
        if the room does not exist. A change that alters nothing writes nothing (same version).
        ``change`` must be pure: it may run more than once. Raises StoreConflict when retries run out."""

    async def update_room_if(self, room: Room, expected_version: int) -> bool:
        """Low level compare-and-set: store ``room`` as version ``expected_version + 1`` (and set
        room.version) only if the stored room is at ``expected_version``; False otherwise or if gone.
        Indexes (name, status, api, dates) change in the same atomic step."""
    async def delete_room(self, room_id: str) -> bool: ...        # also its members; True if it existed
    async def list_rooms(self, query: RoomQuery) -> Page[Room]: ...   # InvalidToken
    async def rooms_due_for_deletion(self, now_ms: int, limit: int = 100) -> list[Room]: ...

    # members
    async def create_member(self, member: Member) -> None: ...
    async def get_member(self, room_id: str, member_id: str) -> Member | None: ...
    async def list_members(self, room_id: str) -> list[Member]: ...
    async def update_member(self, member: Member) -> None: ...
    async def delete_member(self, room_id: str, member_id: str) -> bool: ...

    # meetings (room sessions)
    async def create_meeting(self, meeting: Meeting) -> None: ...
    async def update_meeting(self, meeting: Meeting) -> None: ...
    async def get_meeting(self, room_session_id: str) -> Meeting | None: ...
    async def list_meetings(self, room_id: str) -> list[Meeting]: ...   # newest first

    # participants of meetings (the join/leave log): one per (room_session_id, participant_id)
    async def put_participation(self, p: Participation) -> None: ...   # insert or replace
    async def list_participations(self, room_session_id: str) -> list[Participation]: ...  # by join time

    # recordings
    async def create_recording(self, rec: Recording) -> None: ...
    async def get_recording(self, recording_id: str) -> Recording | None: ...
    async def update_recording(self, rec: Recording) -> None: ...
    async def delete_recording(self, recording_id: str) -> bool: ...
    async def list_recordings(self, query: RecordingQuery) -> Page[Recording]: ...

    # the webhook outbox (server/store/sqlite_outbox.py, redis_outbox.py; docs/webhooks.md)
    async def get_webhook_config(self) -> dict | None: ...              # the endpoints set by the API
    async def put_webhook_config(self, doc: dict) -> None: ...
    async def append_webhook_deliveries(self, deliveries: list[Delivery]) -> None: ...  # numbers them (seq)
    async def add_webhook_delivery(self, d: Delivery) -> None: ...     # keeps d.seq (a replay)
    async def due_webhook_deliveries(self, now_ms: int, limit: int = 100) -> list[Delivery]: ...  # queue heads
    async def update_webhook_delivery(self, d: Delivery) -> None: ...
    async def get_webhook_delivery(self, delivery_id: str) -> Delivery | None: ...
    async def list_webhook_deliveries(self, q: DeliveryQuery) -> Page[Delivery]: ...   # newest first


async def every_recording(store: Store, query: RecordingQuery, page_size: int = 500) -> list[Recording]:
    """Every recording that ``query``'s own filters (room id, status) keep, oldest first, read
    ``page_size`` at a time: for listings the stores cannot sort or filter themselves (by room name)."""
    found: list[Recording] = []
    token: str | None = None
    while True:
        page = await store.list_recordings(dataclasses.replace(
            query, sort_field="startDate", sort_order="asc", limit=page_size, token=token))
        found.extend(page.items)
        token = page.next_token
        if token is None:
            return found
